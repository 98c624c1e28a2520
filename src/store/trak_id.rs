//! Trak ids: a readable slug of the title plus a short random suffix, always a valid ref name.

use std::hash::{BuildHasher, Hasher};

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const MAX_SLUG: usize = 40;

/// `len` random characters from `[0-9a-z]`.
///
/// The randomness comes from the standard library's per-process random hash keys, mixed with the
/// time and a counter; ids only need to be unlikely to collide, and every collision is still
/// caught by the compare-and-swap that creates the branch.
pub fn random_suffix(len: usize) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    let mut bits = hasher.finish();
    (0..len)
        .map(|_| {
            let c = ALPHABET[(bits % 36) as usize] as char;
            bits /= 36;
            c
        })
        .collect()
}

/// The id of the subtrak for part `key` of the `round`-th approved breakdown of trak `parent`:
/// `<parent>.<key>`, then `<parent>.<key>.2`, ... for later breakdowns. Derived, never random, so
/// creating a breakdown's subtraks again (after a crash) finds those already made. Keys are
/// validated to `[a-z0-9-]`, so the `.` parts can be told apart and the id is a valid ref name.
pub fn subtrak_id(parent: &str, round: u32, key: &str) -> String {
    if round <= 1 {
        format!("{parent}.{key}")
    } else {
        format!("{parent}.{key}.{round}")
    }
}

/// A lowercase ASCII slug of `title`: words joined by `-`, at most 40 characters, cut at a word
/// boundary. Titles with no ASCII letters or digits slug to `trak`.
pub fn slug(title: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if c == '\'' || c == '’' {
            // "don't" reads better as "dont" than "don-t".
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut slug = String::new();
    for word in words {
        let extra = if slug.is_empty() { 0 } else { 1 };
        if slug.len() + extra + word.len() > MAX_SLUG {
            if slug.is_empty() {
                slug = word[..MAX_SLUG].to_string();
            }
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word);
    }
    if slug.is_empty() {
        "trak".to_string()
    } else {
        slug
    }
}

/// A fresh id for a trak titled `title`: `<slug>-<4 random characters>`.
pub fn new_id(title: &str) -> String {
    format!("{}-{}", slug(title), random_suffix(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable() {
        assert_eq!(slug("Add OAuth login"), "add-oauth-login");
        assert_eq!(slug("  Fix: the  crash!! "), "fix-the-crash");
        assert_eq!(slug("Don't panic"), "dont-panic");
    }

    #[test]
    fn slugs_of_symbols_and_unicode_fall_back() {
        assert_eq!(slug("日本語のタイトル"), "trak");
        assert_eq!(slug("..//~^:?*[\\"), "trak");
        assert_eq!(slug("Ünïcödé ✓ title"), "n-c-d-title");
    }

    #[test]
    fn slugs_are_bounded() {
        let long = "word ".repeat(50);
        let s = slug(&long);
        assert!(s.len() <= MAX_SLUG);
        assert!(!s.ends_with('-'));
        let one_long_word = "x".repeat(100);
        assert_eq!(slug(&one_long_word).len(), MAX_SLUG);
    }

    #[test]
    fn ids_are_valid_ref_names_for_any_title() {
        for title in [
            "Add OAuth login",
            "日本語",
            "a..b",
            "end.lock",
            "@{",
            "-leading dash",
            "",
        ] {
            let id = new_id(title);
            assert!(
                crate::store::git::is_valid_branch_name(&format!("ork/{id}")),
                "{id} from {title:?}"
            );
        }
    }

    #[test]
    fn suffixes_differ() {
        let a: std::collections::HashSet<String> = (0..200).map(|_| random_suffix(4)).collect();
        assert!(a.len() > 190, "only {} distinct of 200", a.len());
    }
}
