//! Sizes for config values: `"1MiB"`, `"512KiB"`, `"2MB"`, `"4096"` (bytes).

/// The smallest cap: room for the marker that says what was cut.
pub const MIN: usize = 1024;

/// Parses a size of at least [`MIN`] bytes: a number, optionally followed by a unit (`B`,
/// `KiB`, `MiB`, `GiB` of 1024, or `KB`, `MB`, `GB` of 1000), with or without a space.
pub fn parse(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let Ok(value) = number.parse::<u64>() else {
        return Err(format!(
            "\"{text}\" needs a number first, as in \"1MiB\" or \"512KiB\""
        ));
    };
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "\"{text}\" has an unknown unit \"{other}\"; use B, KiB, MiB, GiB (or KB, MB, GB)"
            ));
        }
    };
    let bytes = value.saturating_mul(scale);
    if bytes < MIN as u64 {
        return Err(format!(
            "\"{text}\" is less than 1KiB, which leaves no room for the note saying what was cut"
        ));
    }
    Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
}

/// A size as a person reads it: "980 B", "1 MiB", "198.5 MiB".
pub fn format(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    // 1023.97 KiB reads as 1 MiB.
    while (value * 10.0).round() / 10.0 >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || ((value * 10.0).round() / 10.0).fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units() {
        assert_eq!(parse("1MiB"), Ok(1 << 20));
        assert_eq!(parse("512 KiB"), Ok(512 << 10));
        assert_eq!(parse("2MB"), Ok(2_000_000));
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("1GiB"), Ok(1 << 30));
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(parse("MiB").unwrap_err().contains("needs a number"));
        assert!(parse("1 mebibyte").unwrap_err().contains("unknown unit"));
        assert!(parse("100").unwrap_err().contains("less than 1KiB"));
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format(980), "980 B");
        assert_eq!(format(1 << 20), "1 MiB");
        assert_eq!(format((198 << 20) + (1 << 19)), "198.5 MiB");
        assert_eq!(format((1 << 20) - 30), "1 MiB");
    }
}
