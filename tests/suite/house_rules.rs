//! The rules of `docs/architecture.md` that grep can check, checked on every test run: the
//! library never writes to the terminal, and the arrows between the rooms point one way.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/<room>` (or all of `src/` for `""`), with its text.
fn sources(room: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(room);
    let mut found = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path, text));
            }
        }
    }
    assert!(!found.is_empty(), "no sources under src/{room}");
    found
}

/// `file:line: text` for every line of `files` that contains one of `needles`.
fn lines_with(files: &[(PathBuf, String)], needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for (path, text) in files {
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) {
                hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    hits
}

fn is_cli(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "cli") || path.ends_with("main.rs")
}

#[test]
fn the_library_never_writes_to_the_terminal() {
    let library: Vec<_> = sources("")
        .into_iter()
        .filter(|(path, _)| !is_cli(path))
        .collect();
    let printing = ["print!(", "println!(", "eprint!(", "eprintln!(", "dbg!("];
    let hits = lines_with(&library, &printing);
    assert!(
        hits.is_empty(),
        "the library prints (a warning is a value for the caller's reporter: \
         Store::warnings, Reporter::warning):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_store_imports_nothing_above_it() {
    let above = [
        "crate::cli",
        "crate::engine",
        "crate::agent",
        "crate::sync",
        "crate::config",
    ];
    let hits = lines_with(&sources("store"), &above);
    assert!(
        hits.is_empty(),
        "the store imports a room above it:\n{}",
        hits.join("\n")
    );
}

#[test]
fn only_the_store_uses_gix() {
    let outside: Vec<_> = sources("")
        .into_iter()
        .filter(|(path, _)| !path.components().any(|c| c.as_os_str() == "store"))
        .collect();
    let hits = lines_with(&outside, &["gix::"]);
    assert!(
        hits.is_empty(),
        "gix used outside src/store:\n{}",
        hits.join("\n")
    );
}

#[test]
fn nothing_in_the_library_imports_the_cli() {
    let library: Vec<_> = sources("")
        .into_iter()
        .filter(|(path, _)| !is_cli(path))
        .collect();
    let hits = lines_with(&library, &["crate::cli", "ork::cli"]);
    assert!(
        hits.is_empty(),
        "the library imports the CLI:\n{}",
        hits.join("\n")
    );
}

/// `docs/cli.md` carries the engine's action table as the engine prints it.
#[test]
fn the_action_table_in_the_docs_is_the_engines() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md")).unwrap();
    let start = "<!-- the action table: engine::actions::markdown_table() -->\n";
    let end = "<!-- end of the action table -->";
    let from = doc
        .find(start)
        .expect("docs/cli.md has the action table's start marker")
        + start.len();
    let to = doc[from..]
        .find(end)
        .expect("docs/cli.md has the action table's end marker")
        + from;
    assert_eq!(
        &doc[from..to],
        ork::engine::actions::markdown_table(),
        "docs/cli.md's action table differs from src/engine/actions.rs: copy markdown_table()'s output between the markers"
    );
}

/// Comments cite the design rules where they live, in this repository (`docs/design.md`), and
/// only rules that exist there.
#[test]
fn cited_design_rules_are_in_the_repository() {
    let design =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/design.md"))
            .unwrap();
    let files = sources("");
    let outside = lines_with(&files, &["DESIGN.md"]);
    assert!(
        outside.is_empty(),
        "cite docs/design.md, not a file outside the repository:\n{}",
        outside.join("\n")
    );
    for hit in lines_with(&files, &["design.md rule "]) {
        let after = hit.split("design.md rule ").nth(1).unwrap();
        let number: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
        assert!(
            design.contains(&format!("\n{number}. **")),
            "{hit}: docs/design.md has no rule {number}"
        );
    }
}

/// The CLI reads the store; every write to a trak goes through the engine or sync.
#[test]
fn the_cli_records_nothing_itself() {
    let writes = [
        ".record(",
        ".record_with_worktree(",
        ".create(&NewTrak",
        ".update_ref(",
        ".delete_ref(",
        ".write_commit(",
        ".move_to(",
        ".adopt(",
    ];
    let cli: Vec<_> = sources("cli");
    let hits = lines_with(&cli, &writes);
    assert!(
        hits.is_empty(),
        "the CLI writes to the store; go through the engine or sync:\n{}",
        hits.join("\n")
    );
}
