//! Text from outside (a person's title, an agent's answer, another machine's events) made fit
//! for where ork puts it: a commit subject, a column of `ork status`, a terminal. In the store
//! because that is where text becomes commits, and the store imports nothing above it; the
//! engine's `printable` is built on [`without_controls`].

use std::borrow::Cow;

/// The longest title, in characters. A title is a commit subject, a column of `ork status` and
/// a pull request's title: two lines of a terminal say what the work is, and what is longer is
/// a description. 200 leaves room for a long, precise sentence; past it, the rest starts the
/// description, so nothing typed is lost.
pub const MAX_TITLE: usize = 200;

/// A title made one clean line: at most [`MAX_TITLE`] characters, and what did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title {
    /// The title: no control characters, no escape sequences, single spaces.
    pub line: String,
    /// The words past the cap (cleaned the same way); empty when the whole title fits.
    pub rest: String,
}

impl Title {
    /// `description` with the rest of the title before it, marked as its continuation.
    pub fn description(&self, description: &str) -> String {
        match (self.rest.is_empty(), description.trim().is_empty()) {
            (true, _) => description.to_string(),
            (false, true) => format!("…{}", self.rest),
            (false, false) => format!("…{}\n\n{description}", self.rest),
        }
    }
}

/// `raw` as a title: [`one_line`], then cut at [`MAX_TITLE`] characters, at the last space
/// before the cap when there is one in its second half (else at the cap itself, a char
/// boundary).
pub fn title(raw: &str) -> Title {
    let line = one_line(raw);
    let Some((cap, _)) = line.char_indices().nth(MAX_TITLE) else {
        return Title {
            line,
            rest: String::new(),
        };
    };
    let half = line
        .char_indices()
        .nth(MAX_TITLE / 2)
        .map_or(0, |(at, _)| at);
    let cut = match line[..cap].rfind(' ') {
        _ if line[cap..].starts_with(' ') => cap,
        Some(space) if space >= half => space,
        _ => cap,
    };
    let (head, tail) = line.split_at(cut);
    Title {
        line: head.trim_end().to_string(),
        rest: tail.trim_start().to_string(),
    }
}

/// `text` on one line: escape sequences taken out whole, every other control character
/// (newlines, tabs, carriage returns, C1 controls) made a space, runs of spaces made one.
pub fn one_line(text: &str) -> String {
    without_controls(text, |_| false, Some(' '))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` with its escape sequences (the whole sequence: CSI, OSC, two-character ones) taken
/// out, and every other control character that `keep` does not keep replaced by `other` (or
/// dropped, with `None`). Lossy UTF-8 has already made invalid bytes into U+FFFD.
pub fn without_controls(
    text: &str,
    keep: impl Fn(char) -> bool,
    other: Option<char>,
) -> Cow<'_, str> {
    let clean = |c: char| !c.is_control() || keep(c);
    if text.chars().all(clean) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            if clean(c) {
                out.push(c);
            } else if let Some(other) = other {
                out.push(other);
            }
            continue;
        }
        match chars.peek() {
            // CSI: parameters and intermediates, up to a final byte in @..~.
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC (window titles, hyperlinks): up to BEL or ESC \.
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            // A two-character escape.
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_one_line_without_controls() {
        assert_eq!(
            one_line("  \u{1b}[31mred\u{1b}[0m\tand\r\nblue\u{7}\u{9b}x \u{1b}]0;t\u{7}end "),
            "red and blue x end"
        );
        assert_eq!(title("Add login").line, "Add login");
        assert_eq!(title("Add login").rest, "");
    }

    #[test]
    fn a_long_title_is_cut_at_a_word_and_keeps_the_rest() {
        let words = "word ".repeat(100);
        let cut = title(&words);
        assert!(cut.line.chars().count() <= MAX_TITLE, "{}", cut.line);
        assert!(cut.line.ends_with("word"), "{}", cut.line);
        assert_eq!(format!("{} {}", cut.line, cut.rest), words.trim_end());
        assert_eq!(cut.description("more"), format!("…{}\n\nmore", cut.rest));

        // No space to cut at: at the cap, on a char boundary.
        let wide = "é".repeat(MAX_TITLE * 3);
        let cut = title(&wide);
        assert_eq!(cut.line.chars().count(), MAX_TITLE);
        assert_eq!(cut.rest.chars().count(), MAX_TITLE * 2);

        let exact = "x".repeat(MAX_TITLE);
        assert_eq!(title(&exact).line, exact);
        assert_eq!(title(&exact).rest, "");
        assert_eq!(title(&exact).description("d"), "d");
    }
}
