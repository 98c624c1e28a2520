//! Output within bounds, and safe on a terminal: however much an agent prints, ork keeps a
//! head and a tail of it, and whatever bytes it prints, only text reaches the user's terminal.

use std::borrow::Cow;

use crate::config::size;

/// Text kept within a bound while it arrives: its first `head` bytes and its last `tail`
/// bytes. What lies between is counted, not kept; memory stays under `head + 2 × tail`.
#[derive(Debug)]
pub struct Bounded {
    head: String,
    tail: String,
    head_cap: usize,
    tail_cap: usize,
    /// Bytes dropped between the head and the tail.
    cut: u64,
    /// Whether the tail starts at the start of a line.
    tail_at_line: bool,
}

impl Bounded {
    pub fn new(head: usize, tail: usize) -> Bounded {
        Bounded {
            head: String::new(),
            tail: String::new(),
            head_cap: head,
            tail_cap: tail,
            cut: 0,
            tail_at_line: true,
        }
    }

    pub fn push(&mut self, mut text: &str) {
        let room = self.head_cap - self.head.len();
        if room > 0 {
            let take = floor_boundary(text, room.min(text.len()));
            self.head.push_str(&text[..take]);
            text = &text[take..];
        }
        if text.is_empty() {
            return;
        }
        self.tail.push_str(text);
        // Trimmed only once it holds twice the cap: each byte is moved a bounded number of times.
        if self.tail.len() > self.tail_cap.saturating_mul(2).max(64 * 1024) {
            self.trim_tail();
        }
    }

    fn trim_tail(&mut self) {
        if self.tail.len() <= self.tail_cap {
            return;
        }
        let excess = ceil_boundary(&self.tail, self.tail.len() - self.tail_cap);
        self.tail_at_line = self.tail.as_bytes()[excess - 1] == b'\n';
        self.tail.drain(..excess);
        self.cut += excess as u64;
    }

    /// The first bytes, as kept.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// How many bytes were pushed in all.
    pub fn total(&self) -> u64 {
        (self.head.len() + self.tail.len()) as u64 + self.cut
    }

    /// Everything pushed, when nothing had to be dropped.
    pub fn is_whole(&self) -> bool {
        self.cut == 0 && self.tail.len() <= self.tail_cap
    }

    /// The text kept: the head, then (if something was dropped) a line saying how much, then
    /// the tail from its first whole line.
    pub fn finish(mut self) -> String {
        self.trim_tail();
        if self.cut == 0 {
            self.head.push_str(&self.tail);
            return self.head;
        }
        let (partial, rest) = match self.tail.find('\n') {
            Some(i) if !self.tail_at_line => self.tail.split_at(i + 1),
            _ => ("", self.tail.as_str()),
        };
        let cut = self.cut + partial.len() as u64;
        let mut out = self.head;
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "[ork: {} of output cut here]\n",
            size::format(cut)
        ));
        out.push_str(rest);
        out
    }
}

/// `text` cut to its first `cap` bytes (at a line end where one is near), with a last line
/// saying how much was cut and where the whole is (`whole_at`): for artifacts.
pub fn keep_head(text: &str, cap: usize, whole_at: &str) -> String {
    cut_head(text, cap, text.len() as u64, whole_at)
}

/// Like [`keep_head`], for a text of `total` bytes of which only the start, `text`, is at hand.
pub fn cut_head(text: &str, cap: usize, total: u64, whole_at: &str) -> String {
    if text.len() <= cap && text.len() as u64 == total {
        return text.to_string();
    }
    let end = floor_boundary(text, cap.min(text.len()));
    let end = match text[..end].rfind('\n') {
        Some(i) if end - i < 4096 => i + 1,
        _ => end,
    };
    let mut out = text[..end].to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "\n[ork: cut at {}: {} more were left out. {whole_at}]\n",
        size::format(end as u64),
        size::format(total.saturating_sub(end as u64))
    ));
    out
}

/// `text` cut to its last `cap` bytes (from a line start), after a first line saying how much
/// was cut: for feedback, notes and logs, whose end matters most.
pub fn keep_tail(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_string();
    }
    let start = ceil_boundary(text, text.len() - cap);
    let start = match text[start..].find('\n') {
        Some(i) if i < 4096 => start + i + 1,
        _ => start,
    };
    format!(
        "[ork: the first {} were cut]\n{}",
        size::format(start as u64),
        &text[start..]
    )
}

/// Live output shown up to a number of bytes, then one line saying the rest is not shown: a
/// flood of output must not flood the terminal.
pub struct LiveBudget {
    left: usize,
    cap: usize,
}

impl LiveBudget {
    pub fn new(cap: usize) -> LiveBudget {
        LiveBudget { left: cap, cap }
    }

    /// Hands `line` to `out` while the budget lasts; the line that would overrun it becomes
    /// the notice, and after that nothing is shown.
    pub fn spend(&mut self, line: &str, mut out: impl FnMut(&str)) {
        if self.left == 0 {
            return;
        }
        let cost = line.len() + 1;
        if cost <= self.left {
            self.left -= cost;
            out(line);
            return;
        }
        self.left = 0;
        out(&format!(
            "[ork: more than {} of output; the rest is not shown live (the kept log holds its last {})]",
            size::format(self.cap as u64),
            size::format(self.cap as u64)
        ));
    }
}

/// `text` with control characters removed, except newline and tab: escape sequences (the
/// whole sequence), NUL, bell, carriage returns and the C1 controls. Lossy UTF-8 has already
/// made invalid bytes into U+FFFD. The parser is the store's ([`crate::store::text`]), which
/// cleans titles with it too.
pub fn printable(text: &str) -> Cow<'_, str> {
    crate::store::text::without_controls(text, |c| c == '\n' || c == '\t', None)
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The smallest char boundary of `text` at or above `at`.
fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// The least room worth keeping a question, option or description in: below it, the rest is
/// left out whole.
const SMALLEST_KEPT: usize = 256;

/// An agent's questions within `cap` bytes in all, as events carry them: each text cut
/// ([`keep_head`]) to the room left, and what finds no room left out, said at the end of the
/// last question kept. Whatever an agent asks, the event stays small.
pub fn bound_questions(
    questions: Vec<crate::store::event::Question>,
    cap: usize,
    whole_at: &str,
) -> Vec<crate::store::event::Question> {
    let mut budget = Budget(cap);
    let mut kept: Vec<crate::store::event::Question> = Vec::new();
    let mut left_out = 0;
    for question in questions {
        let Some(text) = budget.take(&question.question, whole_at) else {
            left_out += 1;
            continue;
        };
        let options = question
            .options
            .iter()
            .map_while(|option| budget.take(option, whole_at))
            .collect();
        kept.push(crate::store::event::Question {
            question: text,
            options,
        });
    }
    if left_out > 0
        && let Some(last) = kept.last_mut()
    {
        last.question.push_str(&format!(
            "\n[ork: {left_out} more question(s) were left out: the questions are longer than \
             [limits] artifact allows. The whole run is in its log: {whole_at}]"
        ));
    }
    kept
}

/// A breakdown's parts within `cap` bytes in all: titles cut to their first line (of at most
/// [`SMALLEST_KEPT`] bytes), descriptions to the room left, repeated dependencies listed once.
/// Keys are checked apart (short names).
pub fn bound_parts(
    parts: Vec<crate::store::event::Part>,
    cap: usize,
    whole_at: &str,
) -> Vec<crate::store::event::Part> {
    let mut budget = Budget(cap);
    parts
        .into_iter()
        .map(|part| {
            // A set, not a scan of the list: an agent may list a dependency any number of times.
            let mut seen = std::collections::BTreeSet::new();
            let depends_on: Vec<String> = part
                .depends_on
                .into_iter()
                .filter(|dep| seen.insert(dep.clone()))
                .collect();
            let title = keep_head(&part.title, SMALLEST_KEPT, whole_at);
            crate::store::event::Part {
                description: budget.take(&part.description, whole_at).unwrap_or_default(),
                title: title
                    .lines()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or_default()
                    .to_string(),
                depends_on,
                ..part
            }
        })
        .collect()
}

/// Bytes left to keep, shared by several texts.
struct Budget(usize);

impl Budget {
    /// `text`, cut to the room left (and the room taken), or `None` when no room is left.
    /// Every text costs at least what it takes in an event's JSON, even an empty one, so no
    /// number of them fits in the budget for free.
    fn take(&mut self, text: &str, whole_at: &str) -> Option<String> {
        const JSON_STRING: usize = 8;
        if self.0 < SMALLEST_KEPT {
            return None;
        }
        let kept = keep_head(text, self.0.saturating_sub(SMALLEST_KEPT / 2), whole_at);
        self.0 = self.0.saturating_sub(kept.len().max(JSON_STRING));
        Some(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_keeps_head_and_tail_and_says_what_was_cut() {
        let mut kept = Bounded::new(10, 20);
        for i in 0..10_000 {
            kept.push(&format!("line {i}\n"));
        }
        let text = kept.finish();
        assert!(text.starts_with("line 0\nlin"), "{text}");
        assert!(text.ends_with("line 9998\nline 9999\n"), "{text}");
        assert!(text.contains("of output cut here]"), "{text}");
        assert!(text.len() < 100, "{text}");

        let mut small = Bounded::new(10, 20);
        small.push("short\n");
        assert!(small.is_whole());
        assert_eq!(small.finish(), "short\n");
    }

    #[test]
    fn bounded_memory_stays_bounded() {
        let mut kept = Bounded::new(1 << 10, 1 << 10);
        let chunk = "x".repeat(1 << 16);
        for _ in 0..1000 {
            kept.push(&chunk);
            assert!(kept.head.capacity() + kept.tail.len() < 4 << 20);
        }
        assert!(!kept.is_whole());
    }

    #[test]
    fn heads_and_tails_are_cut_with_a_marker() {
        let text = "é".repeat(5000);
        let head = keep_head(&text, 1001, "The whole is in the log.");
        assert!(head.starts_with("éé"));
        assert!(head.contains("[ork: cut at 1000 B:"), "{head}");
        assert!(head.contains("The whole is in the log."), "{head}");
        assert_eq!(keep_head("short", 1000, "x"), "short");

        let lines: String = (0..1000).map(|i| format!("{i}\n")).collect();
        let tail = keep_tail(&lines, 100);
        assert!(tail.starts_with("[ork: the first "), "{tail}");
        assert!(tail.ends_with("998\n999\n"), "{tail}");
        assert!(tail.len() < 150, "{tail}");
    }

    #[test]
    fn only_text_newlines_and_tabs_are_printable() {
        let raw = "red \u{1b}[31;1mtext\u{1b}[0m\tbell\u{7} nul\u{0} cr\r \u{1b}]0;title\u{7}end \u{9b}\u{fffd}\n";
        assert_eq!(printable(raw), "red text\tbell nul cr end \u{fffd}\n");
        assert!(matches!(printable("plain\ttext\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn questions_stay_within_their_cap_and_say_what_was_left_out() {
        use crate::store::event::Question;
        let huge = "why? ".repeat(100_000);
        let questions: Vec<Question> = (0..50)
            .map(|n| Question {
                question: format!("{n}: {huge}"),
                options: vec!["yes".into(), huge.clone()],
            })
            .collect();
        let kept = bound_questions(questions, 64 << 10, "ork logs x --stage s");
        let size: usize = kept
            .iter()
            .map(|q| q.question.len() + q.options.iter().map(String::len).sum::<usize>())
            .sum();
        assert!(size <= (64 << 10) + 1024, "{size} bytes kept");
        assert!(kept[0].question.starts_with("0: why? why?"));
        assert!(
            kept[0].question.contains("[ork: cut at"),
            "{}",
            &kept[0].question[..200]
        );
        let last = &kept.last().unwrap().question;
        assert!(last.contains("more question(s) were left out"), "{last}");
        // Small questions are kept as they are.
        let small = vec![Question {
            question: "Which database?".into(),
            options: vec!["Postgres".into(), "SQLite".into()],
        }];
        assert_eq!(bound_questions(small.clone(), 64 << 10, "x"), small);
        // Empty texts are not free: a million empty options do not all fit.
        let empty = vec![Question {
            question: "Pick".into(),
            options: vec![String::new(); 1_000_000],
        }];
        let kept = bound_questions(empty, 64 << 10, "x");
        assert!(kept[0].options.len() < 10_000, "{}", kept[0].options.len());
    }

    #[test]
    fn parts_stay_within_their_cap() {
        use crate::store::event::Part;
        let parts: Vec<Part> = (0..10)
            .map(|n| Part {
                key: format!("p{n}"),
                title: "T".repeat(1 << 20),
                description: "d".repeat(1 << 20),
                depends_on: vec!["p0".into(); 10_000],
            })
            .collect();
        let kept = bound_parts(parts, 64 << 10, "x");
        let size: usize = kept
            .iter()
            .map(|p| p.title.len() + p.description.len() + p.depends_on.len())
            .sum();
        assert!(size <= (64 << 10) + 10 * 1024, "{size} bytes kept");
        assert_eq!(kept[3].depends_on, ["p0"]);
        assert_eq!(kept.len(), 10);
    }
}
