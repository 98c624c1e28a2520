//! Humane durations for config values: `90s`, `10m`, `1h30m`, `2h`.

use std::time::Duration;

/// Parses a non-zero duration made of `<number><unit>` parts, with units `s`, `m`, `h` or `d`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty duration; write one like \"90s\", \"10m\" or \"1h30m\"".into());
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "\"{text}\" has an unknown unit '{c}'; use s, m, h or d, as in \"1h30m\""
                ));
            }
        };
        let value: u64 = number
            .parse()
            .map_err(|_| format!("\"{text}\" needs a number before '{c}', as in \"10m\""))?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!(
            "\"{text}\" needs a unit after {number}: \"{number}s\" or \"{number}m\""
        ));
    }
    if total == 0 {
        return Err(format!(
            "\"{text}\" is zero; a timeout must be at least one second"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration the way [`parse`] reads it, largest units first.
pub fn format(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let parts = [
        ("d", secs / 86_400),
        ("h", secs / 3600 % 24),
        ("m", secs / 60 % 60),
        ("s", secs % 60),
    ];
    for (unit, count) in parts {
        if count > 0 {
            out.push_str(&format!("{count}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("2d").unwrap(), Duration::from_secs(172_800));
    }

    #[test]
    fn rejects_bad_forms_with_a_hint() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("10").unwrap_err().contains("needs a unit"));
        assert!(parse("10x").unwrap_err().contains("unknown unit 'x'"));
        assert!(parse("m").unwrap_err().contains("needs a number"));
        assert!(parse("0s").unwrap_err().contains("zero"));
    }

    #[test]
    fn formats_round_trip() {
        for text in ["90s", "10m", "1h30m", "2d", "1d2h3m4s"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
    }
}
