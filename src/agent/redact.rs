//! Redacting secrets from agent output before it is kept in git.

/// Prefixes of well-known token formats; the token runs on while it looks like one.
const TOKEN_PREFIXES: &[&str] = &[
    "sk-ant-",
    "sk-proj-",
    "sk-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "AIza",
];
/// Environment variables whose names contain one of these hold secrets.
const SECRET_NAMES: &[&str] = &["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"];
const MASK: &str = "[REDACTED]";

/// `text` with the values of secret-looking environment variables and well-known token
/// formats replaced by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        if value.len() >= 8 && SECRET_NAMES.iter().any(|s| upper.contains(s)) {
            out = out.replace(&value, MASK);
        }
    }
    redact_tokens(&out)
}

fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for prefix in TOKEN_PREFIXES {
            if rest.starts_with(prefix) && starts_word(text, rest) {
                let len = rest
                    .char_indices()
                    .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .map_or(rest.len(), |(i, _)| i);
                if len >= prefix.len() + 16 {
                    out.push_str(MASK);
                    rest = &rest[len..];
                    continue 'scan;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether `rest` (a suffix of `text`) starts a word: tokens inside longer words are not tokens.
fn starts_word(text: &str, rest: &str) -> bool {
    let at = text.len() - rest.len();
    text[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_known_token_formats() {
        let text = "key sk-ant-api03-abcdefghijklmnopqrstuv and ghp_0123456789abcdefghijABCD done";
        let clean = redact_tokens(text);
        assert_eq!(clean, "key [REDACTED] and [REDACTED] done");
    }

    #[test]
    fn leaves_ordinary_words_alone() {
        let text = "ask-me about sk-short and task-list";
        assert_eq!(redact_tokens(text), text);
    }
}
