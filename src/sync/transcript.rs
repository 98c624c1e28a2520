//! Claude Code session transcripts, carried with the trak so a session can be resumed on
//! another machine.
//!
//! Claude Code keeps a session under `~/.claude/projects/<slug of the cwd>/<session>.jsonl`
//! and `claude --resume` finds it only there. ork keeps a redacted copy on the trak's log ref
//! (`sessions/<session>/<time>-<machine>.jsonl`) after each run, and puts the newest copy back
//! where `claude` looks for the worktree's path before a run resumes that session.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::store::git::{FileWrite, Git};

/// Claude Code's folder for sessions started in `cwd`: every character that is not a letter or
/// a digit becomes `-`.
pub fn project_dir(home: &Path, cwd: &Path) -> PathBuf {
    let slug: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    home.join(".claude/projects").join(slug)
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Each copy gets a file of its own (time first, then machine): the log ref only ever gains
/// files, so two machines' copies join as a union; the newest copy is the one restored.
fn stored_path(session: &str, machine: &str) -> String {
    format!(
        "{}/{}-{machine}.jsonl",
        stored_dir(session),
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    )
}

fn stored_dir(session: &str) -> String {
    format!("sessions/{session}")
}

/// Keeps the transcript of `session` (run in `worktree`) on `log_ref`, redacted.
pub fn keep(
    git: &Git,
    log_ref: &str,
    worktree: &Path,
    session: &str,
    machine: &str,
) -> Result<bool> {
    let Some(home) = home() else { return Ok(false) };
    let file = project_dir(&home, worktree).join(format!("{session}.jsonl"));
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(false);
    };
    let write = FileWrite {
        path: stored_path(session, machine),
        contents: crate::store::secrets::redact(&text).into_bytes(),
    };
    git.commit_on_ref(
        log_ref,
        &[write],
        &format!("ork: transcript of session {session}"),
    )?;
    Ok(true)
}

/// Puts the transcript of `session` back where `claude --resume` looks for it from `worktree`,
/// from the first of `log_refs` that has it. Does nothing if it is already there.
pub fn restore(git: &Git, log_refs: &[String], worktree: &Path, session: &str) -> Result<bool> {
    let Some(home) = home() else { return Ok(false) };
    let dir = project_dir(&home, worktree);
    let file = dir.join(format!("{session}.jsonl"));
    if file.exists() {
        return Ok(false);
    }
    let mut newest: Option<(String, Vec<u8>)> = None;
    for log_ref in log_refs {
        let Some(tip) = git.ref_tip(log_ref)? else {
            continue;
        };
        let Some(copies) = git.dir_at(tip, &stored_dir(session))? else {
            continue;
        };
        if let Some(last) = copies.files()?.into_iter().last()
            && newest.as_ref().is_none_or(|(name, _)| last.0 > *name)
        {
            newest = Some(last);
        }
    }
    let Some((_, bytes)) = newest else {
        return Ok(false);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_folder_follows_claudes_naming() {
        let dir = project_dir(
            Path::new("/home/dev"),
            Path::new("/home/dev/project/.orkestra/worktrees/a-1"),
        );
        assert_eq!(
            dir,
            Path::new("/home/dev/.claude/projects/-home-dev-project--orkestra-worktrees-a-1")
        );
    }
}
