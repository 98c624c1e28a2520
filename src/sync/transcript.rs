//! Agent sessions carried with the trak, so that a session can be resumed on another machine.
//!
//! An agent CLI keeps a session on the machine that ran it (Claude Code and Codex as a file,
//! OpenCode in its database; `crate::agent::SessionHome` says where), and resumes it only
//! where it is. ork keeps a redacted copy of a session's files on the trak's log ref after each
//! run, one folder per copy: `sessions/<session>/<time>-<machine>/<path>`, `<path>` being the
//! file's path where the CLI keeps it (relative to its folder). The newest copy is the one put
//! back before a run that resumes the session. This module is the git side; the engine reads
//! and writes the CLI's own files.

use anyhow::Result;

use crate::store::git::{FileWrite, Git};

/// The time format that starts every copy's name: sorts by time.
const TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

fn stored_dir(session: &str) -> String {
    format!("sessions/{session}")
}

/// One kept copy of a session: the machine that kept it, and its files as (path, contents).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCopy {
    pub machine: String,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Keeps `files` (path where the CLI keeps it, contents) of `session` on `log_ref`, redacted
/// as everything on a log ref is. Each copy gets a folder of its own (time first, then
/// machine): the log ref only ever gains files, so two machines' copies join as a union.
pub fn keep(
    git: &Git,
    log_ref: &str,
    session: &str,
    machine: &str,
    files: &[(String, Vec<u8>)],
) -> Result<()> {
    let copy = format!(
        "{}/{}-{machine}",
        stored_dir(session),
        chrono::Utc::now().format(TIME_FORMAT)
    );
    let writes: Vec<FileWrite> = files
        .iter()
        .map(|(path, contents)| FileWrite {
            path: format!("{copy}/{path}"),
            contents: contents.clone(),
        })
        .collect();
    git.commit_on_ref(
        log_ref,
        &writes,
        &format!("ork: transcript of session {session}"),
    )?;
    Ok(())
}

/// The newest copy of `session` on any of `log_refs` (this machine's and the remotes').
pub fn newest(git: &Git, log_refs: &[String], session: &str) -> Result<Option<SessionCopy>> {
    let mut newest: Option<(String, SessionCopy)> = None;
    for log_ref in log_refs {
        let Some(tip) = git.ref_tip(log_ref)? else {
            continue;
        };
        let Some(copies) = git.dir_at(tip, &stored_dir(session))? else {
            continue;
        };
        let Some(last) = copies.entry_names()?.into_iter().last() else {
            continue;
        };
        if newest.as_ref().is_some_and(|(name, _)| *name >= last) {
            continue;
        }
        let copy = match copies.dir(&last)? {
            Some(folder) => SessionCopy {
                machine: machine_of(&last).to_string(),
                files: folder.files_deep()?,
            },
            // Copies kept before sessions had folders: one Claude Code transcript,
            // `<time>-<machine>.jsonl`.
            None => SessionCopy {
                machine: machine_of(last.trim_end_matches(".jsonl")).to_string(),
                files: vec![(
                    format!("{session}.jsonl"),
                    copies.file(&last)?.unwrap_or_default(),
                )],
            },
        };
        newest = Some((last, copy));
    }
    Ok(newest.map(|(_, copy)| copy))
}

/// The machine part of a copy's name, `<time>-<machine>`.
fn machine_of(name: &str) -> &str {
    name.split_once('-').map_or("", |(_, machine)| machine)
}
