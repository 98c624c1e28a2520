//! Colour: on a terminal only, and never with NO_COLOR set (https://no-color.org). What a
//! status means is [`crate::cli::view::Tone`]; here is only how a terminal shows it.

use super::*;

/// What a piece of output is, which decides its colour.
#[derive(Clone, Copy)]
pub enum Paint {
    /// A section's heading (`=== work 1 ===`).
    Heading,
    /// Waits for a human.
    Waiting,
    /// Something went wrong.
    Bad,
    /// Went well, or is done.
    Good,
    /// Is at work.
    Busy,
    /// A diff's removed line.
    Removed,
    /// A diff's added line.
    Added,
}

/// Whether standard output gets colour.
pub(super) fn stdout_colour() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| colour_allowed(std::io::stdout().is_terminal()))
}

/// Whether standard error gets colour.
pub fn stderr_colour() -> bool {
    colour_allowed(std::io::stderr().is_terminal())
}

pub(super) fn colour_allowed(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text`, made printable, in the colour of `kind` if standard output gets colour.
pub fn paint(kind: Paint, text: &str) -> String {
    let text = printable(text);
    if stdout_colour() {
        ansi(kind, &text)
    } else {
        text
    }
}

/// `text` wrapped in the ANSI code of `kind`.
pub fn ansi(kind: Paint, text: &str) -> String {
    let code = match kind {
        Paint::Heading => "1",
        Paint::Waiting => "33",
        Paint::Bad | Paint::Removed => "31",
        Paint::Good | Paint::Added => "32",
        Paint::Busy => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The colour of a tone on the terminal.
pub(super) fn paint_of(tone: Tone) -> Option<Paint> {
    match tone {
        Tone::Waiting => Some(Paint::Waiting),
        Tone::Bad => Some(Paint::Bad),
        Tone::Good => Some(Paint::Good),
        Tone::Busy => Some(Paint::Busy),
        Tone::Plain => None,
    }
}
