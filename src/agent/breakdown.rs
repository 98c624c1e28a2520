//! A breakdown stage's answer: the parts a trak splits into, and what makes a list of parts
//! one ork can run (unique keys, known dependencies, no cycle).
//!
//! A problem found here is a failed run whose message goes back to the agent as feedback, so
//! every message says what is wrong and names the keys involved.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::store::event::Part;

/// The feedback for a breakdown stage's run that answered without parts.
pub const MISSING: &str = "this is a breakdown stage: answer with the parts, as JSON \
{\"type\": \"breakdown\", \"content\": \"markdown\", \"subtraks\": [{\"key\": \"db\", \"title\": \"…\", \
\"description\": \"…\", \"depends_on\": []}]} (one part is fine when the work does not split)";

/// Longest key: it becomes part of a branch name.
const MAX_KEY: usize = 30;

/// The JSON schema of the `subtraks` list.
pub fn parts_schema() -> Value {
    serde_json::json!({
        "type": "array",
        "description": "The parts, each run as a subtrak; dependencies by key.",
        "items": {
            "type": "object",
            "properties": {
                "key": { "type": "string", "description": "Short unique name: lowercase letters, digits and '-'." },
                "title": { "type": "string" },
                "description": { "type": "string", "description": "What this part builds and how to test it." },
                "depends_on": { "type": "array", "items": { "type": "string" }, "description": "Keys of the parts that must be merged first." }
            },
            "required": ["key", "title", "description", "depends_on"]
        }
    })
}

/// Checks a breakdown; the error says what is wrong in words the agent can act on.
pub fn validate(parts: &[Part], max_parts: usize) -> Result<(), String> {
    if parts.is_empty() {
        return Err("the breakdown lists no parts; list at least one (one part when the work does not split)".into());
    }
    if parts.len() > max_parts {
        return Err(format!(
            "the breakdown has {} parts, more than the {max_parts} this stage allows; merge some of them",
            parts.len()
        ));
    }
    let mut keys = BTreeSet::new();
    for part in parts {
        let key = part.key.as_str();
        let valid = !key.is_empty()
            && key.len() <= MAX_KEY
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !key.starts_with('-');
        if !valid {
            return Err(format!(
                "part key \"{key}\" is not a short name: use 1 to {MAX_KEY} lowercase letters, digits and '-' (like \"db\" or \"ui-login\")"
            ));
        }
        if !keys.insert(key) {
            return Err(format!(
                "two parts have the key \"{key}\"; give each part its own key"
            ));
        }
        if part.title.trim().is_empty() {
            return Err(format!("part \"{key}\" has no title; give it one"));
        }
    }
    for part in parts {
        for dep in &part.depends_on {
            if dep == &part.key {
                return Err(format!(
                    "part \"{}\" depends on itself; remove that",
                    part.key
                ));
            }
            if !keys.contains(dep.as_str()) {
                return Err(format!(
                    "part \"{}\" depends on \"{dep}\", which is not a part of this breakdown (the keys are: {})",
                    part.key,
                    keys.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(parts) {
        return Err(format!(
            "the dependencies go in a circle: {}; no part on it could ever start, so break the circle",
            cycle.join(" → ")
        ));
    }
    Ok(())
}

/// A dependency cycle, as the keys on it with the first repeated at the end, if there is one.
fn find_cycle(parts: &[Part]) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, &[String]> = parts
        .iter()
        .map(|p| (p.key.as_str(), p.depends_on.as_slice()))
        .collect();
    // 0: not seen, 1: on the current path, 2: done.
    let mut mark: BTreeMap<&str, u8> = BTreeMap::new();
    let mut path: Vec<&str> = Vec::new();
    fn visit<'a>(
        key: &'a str,
        deps: &BTreeMap<&'a str, &'a [String]>,
        mark: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match mark.get(key) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|k| *k == key).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|k| k.to_string()).collect();
                cycle.push(key.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        mark.insert(key, 1);
        path.push(key);
        for dep in deps.get(key).copied().unwrap_or_default() {
            if let Some(cycle) = visit(dep, deps, mark, path) {
                return Some(cycle);
            }
        }
        path.pop();
        mark.insert(key, 2);
        None
    }
    parts
        .iter()
        .find_map(|p| visit(&p.key, &deps, &mut mark, &mut path))
}

/// The breakdown as the stage's artifact: the agent's text, then the parts as a list that
/// `ork show` prints and later stages read.
pub fn artifact(content: &str, parts: &[Part]) -> String {
    let mut text = content.trim_end().to_string();
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str("## Parts\n");
    for part in parts {
        text.push_str(&format!("\n- **{}**: {}", part.key, part.title));
        if !part.depends_on.is_empty() {
            text.push_str(&format!(" (after {})", part.depends_on.join(", ")));
        }
        let description = part.description.trim();
        if !description.is_empty() {
            for line in description.lines() {
                text.push_str(&format!("\n  {line}"));
            }
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(key: &str, deps: &[&str]) -> Part {
        Part {
            key: key.into(),
            title: format!("Part {key}"),
            description: String::new(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn a_dag_is_valid() {
        let parts = [part("db", &[]), part("api", &["db"]), part("ui", &[])];
        assert_eq!(validate(&parts, 8), Ok(()));
    }

    #[test]
    fn each_problem_is_named() {
        assert!(validate(&[], 8).unwrap_err().contains("no parts"));
        let dup = validate(&[part("db", &[]), part("db", &[])], 8).unwrap_err();
        assert!(dup.contains("two parts have the key \"db\""), "{dup}");
        let unknown = validate(&[part("db", &["nope"])], 8).unwrap_err();
        assert!(unknown.contains("depends on \"nope\""), "{unknown}");
        let cycle = validate(
            &[
                part("a", &["c"]),
                part("b", &["a"]),
                part("c", &["b"]),
                part("d", &[]),
            ],
            8,
        )
        .unwrap_err();
        assert!(cycle.contains("a → c → b → a"), "{cycle}");
        let bad = validate(&[part("Has Space", &[])], 8).unwrap_err();
        assert!(bad.contains("\"Has Space\""), "{bad}");
        let many = validate(&[part("a", &[]), part("b", &[])], 1).unwrap_err();
        assert!(many.contains("more than the 1"), "{many}");
        let own = validate(&[part("a", &["a"])], 8).unwrap_err();
        assert!(own.contains("depends on itself"), "{own}");
    }

    #[test]
    fn the_artifact_lists_parts_and_dependencies() {
        let text = artifact("Split in two.", &[part("db", &[]), part("api", &["db"])]);
        assert!(text.starts_with("Split in two.\n\n## Parts\n"), "{text}");
        assert!(text.contains("- **api**: Part api (after db)"), "{text}");
    }
}
