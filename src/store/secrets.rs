//! Secrets: one list of known secret shapes, used both to redact what ork writes into git
//! (events, record files, notes, logs) and to find secrets an agent's change adds to the code.
//!
//! It lives in the store because the store is where text becomes commits: redaction happens at
//! its write boundary (`Store::record`, `Git::append_note`, `Git::commit_on_ref`), and the store
//! must not import `agent` (docs/design.md rule 10, the arrows of `docs/architecture.md`).

/// The shape of one kind of secret.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A token that starts with `prefix` and runs on over letters, digits, `-` and `_` for at
    /// least `min_body` more characters.
    Token {
        prefix: &'static str,
        min_body: usize,
    },
    /// A PEM private key block, from its `-----BEGIN … PRIVATE KEY…-----` line to its end line.
    PrivateKey,
}

/// A known secret: its name (as `.orkestra/secrets.allow` and messages name it) and its shape.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    pub name: &'static str,
    shape: Shape,
}

const fn token(name: &'static str, prefix: &'static str, min_body: usize) -> Pattern {
    Pattern {
        name,
        shape: Shape::Token { prefix, min_body },
    }
}

/// Every secret ork knows, longer prefixes before the shorter ones they start with.
pub const PATTERNS: &[Pattern] = &[
    token("anthropic-key", "sk-ant-", 16),
    token("openai-key", "sk-proj-", 16),
    token("openai-key", "sk-svcacct-", 16),
    token("openai-key", "sk-", 20),
    token("github-token", "github_pat_", 16),
    token("github-token", "ghp_", 16),
    token("github-token", "gho_", 16),
    token("github-token", "ghu_", 16),
    token("github-token", "ghs_", 16),
    token("github-token", "ghr_", 16),
    token("gitlab-token", "glpat-", 16),
    token("slack-token", "xoxb-", 16),
    token("slack-token", "xoxp-", 16),
    token("slack-token", "xoxa-", 16),
    token("slack-token", "xoxs-", 16),
    token("slack-token", "xapp-", 16),
    token("aws-access-key", "AKIA", 16),
    token("aws-access-key", "ASIA", 16),
    token("google-api-key", "AIza", 30),
    token("stripe-key", "sk_live_", 16),
    token("stripe-key", "sk_test_", 16),
    token("stripe-key", "rk_live_", 16),
    token("stripe-key", "rk_test_", 16),
    token("npm-token", "npm_", 30),
    token("huggingface-token", "hf_", 30),
    Pattern {
        name: "private-key",
        shape: Shape::PrivateKey,
    },
];

/// Environment variables whose names contain one of these hold secrets: their values are
/// redacted too, whatever their shape.
const SECRET_NAMES: &[&str] = &["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"];
const MASK: &str = "[REDACTED]";

/// `text` with every known secret, and the values of secret-looking environment variables,
/// replaced by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        if value.len() >= 8 && SECRET_NAMES.iter().any(|s| upper.contains(s)) {
            out = out.replace(&value, MASK);
        }
    }
    redact_known(&out)
}

/// `bytes` redacted if they are text; other bytes as they are.
pub fn redact_bytes(bytes: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(bytes) {
        Ok(text) => redact(text).into_bytes(),
        Err(_) => bytes.to_vec(),
    }
}

/// A JSON document with every string in it redacted (the text of a JSON document cannot be
/// redacted as text: `"\nghp_…"` hides the token behind an escape). Text that is not JSON is
/// redacted as text.
pub fn redact_json(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(mut value) => {
            redact_value(&mut value);
            value.to_string()
        }
        Err(_) => redact(json),
    }
}

/// Every string in `value`, redacted in place.
pub fn redact_value(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let clean = redact(s);
            if clean != *s {
                *s = clean;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_value),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_value),
        _ => {}
    }
}

fn redact_known(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some((_, len)) = secret_at(text, rest) {
            out.push_str(MASK);
            rest = &rest[len..];
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The pattern of the secret `rest` (a suffix of `text`) starts with, and its length in bytes.
fn secret_at(text: &str, rest: &str) -> Option<(&'static Pattern, usize)> {
    if !starts_word(text, rest) {
        return None;
    }
    PATTERNS.iter().find_map(|pattern| match pattern.shape {
        Shape::Token { prefix, min_body } => {
            let body = rest.strip_prefix(prefix)?;
            let len = body
                .char_indices()
                .find(|&(_, c)| !is_token_char(c))
                .map_or(body.len(), |(i, _)| i);
            (len >= min_body).then_some((pattern, prefix.len() + len))
        }
        Shape::PrivateKey => {
            let header = private_key_header(rest)?;
            // The block runs to its end line; an unended block runs to the end of the text.
            let len = rest[header..]
                .find("-----END ")
                .and_then(|end| {
                    let after = header + end + "-----END ".len();
                    rest[after..]
                        .find("-----")
                        .map(|i| after + i + "-----".len())
                })
                .unwrap_or(rest.len());
            Some((pattern, len))
        }
    })
}

/// The length of the `-----BEGIN … PRIVATE KEY…-----` line `rest` starts with, if it does.
fn private_key_header(rest: &str) -> Option<usize> {
    let label = rest.strip_prefix("-----BEGIN ")?;
    let end = label.find("-----")?;
    let name = &label[..end];
    (name.contains("PRIVATE KEY") && !name.contains('\n'))
        .then_some("-----BEGIN ".len() + end + "-----".len())
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `rest` (a suffix of `text`) starts a word: tokens inside longer words are not tokens.
fn starts_word(text: &str, rest: &str) -> bool {
    let at = text.len() - rest.len();
    text[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !is_token_char(c))
}

/// One secret found on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the worktree.
    pub path: String,
    /// The line, from 1.
    pub line: usize,
    /// The pattern's name (`github-token`, `private-key`, …).
    pub pattern: &'static str,
    /// The secret shown safely: its first characters and its length, never the whole of it.
    pub shown: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} {}",
            self.path, self.line, self.pattern, self.shown
        )
    }
}

/// The known secrets on `text`, line `line` of `path`.
pub fn find_on_line(path: &str, line: usize, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some((pattern, len)) = secret_at(text, rest) {
            let secret = &rest[..len.min(rest.len())];
            found.push(Finding {
                path: path.to_string(),
                line,
                pattern: pattern.name,
                shown: shown(pattern, secret),
            });
            rest = &rest[len..];
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        rest = &rest[c.len_utf8()..];
    }
    found
}

/// A secret as a message may show it: a private key by its header line (which is no secret),
/// a token by its first six characters and its length.
fn shown(pattern: &Pattern, secret: &str) -> String {
    match pattern.shape {
        Shape::PrivateKey => secret.lines().next().unwrap_or_default().to_string(),
        Shape::Token { .. } => {
            let start: String = secret.chars().take(6).collect();
            format!("{start}… ({} characters)", secret.chars().count())
        }
    }
}

/// What a human allowed in `.orkestra/secrets.allow`: one entry a line, `#` starts a comment.
/// An entry is a path (`config/test-key.pem`: any secret in that file), a path and a line
/// (`src/fixtures.rs:12`), or `pattern:<name>` (`pattern:stripe-key`: that kind anywhere).
#[derive(Debug, Default, Clone)]
pub struct Allowed {
    entries: Vec<String>,
}

/// The allow list's place in the main checkout (config is trusted only from there).
pub use crate::layout::SECRETS_ALLOW as ALLOW_FILE;

impl Allowed {
    /// The list in `text`.
    pub fn parse(text: &str) -> Allowed {
        Allowed {
            entries: text
                .lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// The list in the main checkout at `main_workdir`; empty if there is none.
    pub fn load(main_workdir: &std::path::Path) -> Allowed {
        std::fs::read_to_string(main_workdir.join(ALLOW_FILE))
            .map(|t| Allowed::parse(&t))
            .unwrap_or_default()
    }

    /// Whether `finding` is allowed.
    pub fn allows(&self, finding: &Finding) -> bool {
        let at_line = format!("{}:{}", finding.path, finding.line);
        let pattern = format!("pattern:{}", finding.pattern);
        self.entries
            .iter()
            .any(|e| *e == finding.path || *e == at_line || *e == pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_known_token_formats() {
        let text = "key sk-ant-api03-abcdefghijklmnopqrstuv and ghp_0123456789abcdefghijABCD done";
        assert_eq!(redact_known(text), "key [REDACTED] and [REDACTED] done");
    }

    #[test]
    fn leaves_ordinary_words_alone() {
        let text = "ask-me about sk-short and task-list, AKIA alone";
        assert_eq!(redact_known(text), text);
    }

    #[test]
    fn masks_a_private_key_block_whole() {
        let text = "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter";
        assert_eq!(redact_known(text), "before\n[REDACTED]\nafter");
    }

    #[test]
    fn json_strings_are_redacted_behind_escapes() {
        let json = r#"{"output":"line\nghp_0123456789abcdefghijABCD"}"#;
        assert_eq!(redact_json(json), r#"{"output":"line\n[REDACTED]"}"#);
    }

    #[test]
    fn findings_show_no_whole_secret() {
        let found = find_on_line("a.rs", 3, "let t = \"xoxb-1234567890-abcdefghijkl\";");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pattern, "slack-token");
        assert_eq!(
            found[0].to_string(),
            "a.rs:3: slack-token xoxb-1… (28 characters)"
        );
    }

    #[test]
    fn the_allow_list_matches_path_line_and_pattern() {
        let allowed = Allowed::parse(
            "# test keys\nkeys/test.pem\nsrc/a.rs:3  # fixture\npattern:stripe-key\n",
        );
        let at = |path: &str, line, pattern| Finding {
            path: path.into(),
            line,
            pattern,
            shown: String::new(),
        };
        assert!(allowed.allows(&at("keys/test.pem", 9, "private-key")));
        assert!(allowed.allows(&at("src/a.rs", 3, "github-token")));
        assert!(!allowed.allows(&at("src/a.rs", 4, "github-token")));
        assert!(allowed.allows(&at("b.rs", 1, "stripe-key")));
        assert!(!allowed.allows(&at("b.rs", 1, "aws-access-key")));
    }
}
