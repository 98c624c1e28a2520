//! `ork init`: the default `.orkestra/` files.

use std::path::Path;

use anyhow::{Context, Result};

/// The default `.orkestra/workflow.toml`.
pub const DEFAULT_WORKFLOW: &str = include_str!("defaults/workflow.toml");

/// The agent the default workflow's stages use.
pub const DEFAULT_AGENT: &str = "claude";

/// The default workflow with its stages run by `agent` (one of its `[agents]`: `claude`,
/// `codex` or `opencode`).
pub fn default_workflow(agent: &str) -> String {
    DEFAULT_WORKFLOW.replace(
        &format!("default_agent = \"{DEFAULT_AGENT}\""),
        &format!("default_agent = \"{agent}\""),
    )
}

/// Every default file: path under the repository root, contents, executable.
const DEFAULT_FILES: &[(&str, &str, bool)] = &[
    (
        crate::config::workflow::WORKFLOW_PATH,
        DEFAULT_WORKFLOW,
        false,
    ),
    (
        ".orkestra/agents/planner.md",
        include_str!("defaults/planner.md"),
        false,
    ),
    (
        ".orkestra/agents/breakdown.md",
        include_str!("defaults/breakdown.md"),
        false,
    ),
    (
        ".orkestra/agents/worker.md",
        include_str!("defaults/worker.md"),
        false,
    ),
    (
        ".orkestra/agents/reviewer.md",
        include_str!("defaults/reviewer.md"),
        false,
    ),
    (
        ".orkestra/agents/compound.md",
        include_str!("defaults/compound.md"),
        false,
    ),
    (
        ".orkestra/agents/judge.md",
        include_str!("defaults/judge.md"),
        false,
    ),
    (
        ".orkestra/scripts/checks.sh",
        include_str!("defaults/checks.sh"),
        true,
    ),
    (
        crate::layout::WORKTREE_INCLUDE,
        include_str!("defaults/worktree.include"),
        false,
    ),
    (
        crate::layout::GITIGNORE,
        include_str!("defaults/gitignore"),
        false,
    ),
];

/// What `ork init` did to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    Created,
    Unchanged,
    /// The file exists with other contents (the user's edits), and was left alone.
    Kept,
    /// `--force` replaced the user's contents with the default.
    Rewritten,
}

/// Writes the default files under `root`, the workflow's stages run by `agent`; existing files
/// are kept unless `force`.
pub fn write_defaults(
    root: &Path,
    force: bool,
    agent: &str,
) -> Result<Vec<(&'static str, FileAction)>> {
    let workflow = default_workflow(agent);
    let mut report = Vec::new();
    for &(rel, contents, executable) in DEFAULT_FILES {
        let contents = if rel == crate::config::workflow::WORKFLOW_PATH {
            workflow.as_str()
        } else {
            contents
        };
        let path = root.join(rel);
        let action = match std::fs::read(&path) {
            Ok(existing) if existing == contents.as_bytes() => FileAction::Unchanged,
            Ok(_) if !force => FileAction::Kept,
            Ok(_) => {
                write_file(&path, contents, executable)?;
                FileAction::Rewritten
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_file(&path, contents, executable)?;
                FileAction::Created
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        report.push((rel, action));
    }
    Ok(report)
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
fn write_file(path: &Path, contents: &str, executable: bool) -> Result<()> {
    let dir = path.parent().expect("default files live in folders");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("ork-tmp");
    std::fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_changes_nothing_and_force_restores_edits() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_defaults(dir.path(), false, DEFAULT_AGENT).unwrap();
        assert!(first.iter().all(|(_, a)| *a == FileAction::Created));
        let second = write_defaults(dir.path(), false, DEFAULT_AGENT).unwrap();
        assert!(second.iter().all(|(_, a)| *a == FileAction::Unchanged));

        let workflow = dir.path().join(crate::config::workflow::WORKFLOW_PATH);
        std::fs::write(&workflow, "# mine\n").unwrap();
        let kept = write_defaults(dir.path(), false, DEFAULT_AGENT).unwrap();
        assert!(kept.contains(&(crate::config::workflow::WORKFLOW_PATH, FileAction::Kept)));
        assert_eq!(std::fs::read_to_string(&workflow).unwrap(), "# mine\n");

        let forced = write_defaults(dir.path(), true, DEFAULT_AGENT).unwrap();
        assert!(forced.contains(&(
            crate::config::workflow::WORKFLOW_PATH,
            FileAction::Rewritten
        )));
        assert_eq!(
            std::fs::read_to_string(&workflow).unwrap(),
            DEFAULT_WORKFLOW
        );
    }

    #[test]
    fn the_stages_use_the_agent_asked_for() {
        let workflow = default_workflow("codex");
        assert!(!workflow.contains("agent = \"claude\""), "{workflow}");
        // One line names the agent: the default every stage falls back to.
        assert_eq!(workflow.matches("agent = \"").count(), 1, "{workflow}");
        assert!(workflow.contains("\ndefault_agent = \"codex\"\n"));
        assert_eq!(default_workflow(DEFAULT_AGENT), DEFAULT_WORKFLOW);
    }

    #[test]
    fn the_checks_script_is_executable_and_passes() {
        let dir = tempfile::tempdir().unwrap();
        write_defaults(dir.path(), false, DEFAULT_AGENT).unwrap();
        let status = std::process::Command::new(dir.path().join(".orkestra/scripts/checks.sh"))
            .status()
            .unwrap();
        assert!(status.success());
    }
}
