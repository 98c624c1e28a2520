//! An agent's session carried between machines: read from where its CLI keeps it after a run
//! and kept on the trak's log ref (`sync::transcript`), put back before a run that resumes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Engine;
use crate::agent::SessionHome;
use crate::config::workflow::Agent;
use crate::engine::process::{Keep, TrakCommand, run_streaming};

/// The largest session export ork keeps.
const SESSION_LIMIT: usize = 64 << 20;
use crate::engine::process::runner::{resolve_program, session_home};
use crate::store::{LOGS_PREFIX, Trak};
use crate::sync::transcript;

/// How long exporting or importing a session may take (OpenCode needs a few seconds).
const SESSION_CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// The name an exported session is kept under.
const EXPORT_FILE: &str = "export.json";

impl Engine<'_> {
    /// Keeps `session` of `agent`, run in `worktree`, on the trak's log ref. A session that
    /// could not be kept is a warning: the run's result matters more.
    pub(super) fn keep_session(
        &mut self,
        trak: &Trak,
        agent: &Agent,
        worktree: &Path,
        session: &str,
    ) {
        let Some(home) = session_home(agent, worktree, session).filter(|_| is_plain(session))
        else {
            return;
        };
        let kept = self.session_files(&home, worktree).and_then(|files| {
            if files.is_empty() {
                return Ok(());
            }
            transcript::keep(
                self.store.git(),
                &format!("{LOGS_PREFIX}{}", trak.id),
                session,
                self.store.machine(),
                &files,
            )
        });
        if let Err(err) = kept {
            self.reporter
                .warning(&format!("could not keep the session's transcript: {err:#}"));
        }
    }

    /// Puts the newest kept copy of `session` back where `agent`'s CLI looks for it from
    /// `worktree`, unless this machine kept that copy and the CLI still has the session.
    pub(super) fn restore_session(
        &mut self,
        trak: &Trak,
        agent: &Agent,
        worktree: &Path,
        session: &str,
    ) -> Result<()> {
        // The session id comes from a fetched record: it names files only if it is plain.
        let Some(home) = session_home(agent, worktree, session).filter(|_| is_plain(session))
        else {
            return Ok(());
        };
        let git = self.store.git();
        let mut refs = vec![format!("{LOGS_PREFIX}{}", trak.id)];
        refs.extend(
            git.remote_names()
                .iter()
                .map(|r| format!("refs/ork/remotes/{r}/logs/{}", trak.id)),
        );
        let Some(copy) = transcript::newest(git, &refs, session)? else {
            return Ok(());
        };
        let ours = copy.machine == self.store.machine();
        match home {
            SessionHome::File(path) => {
                let Some((_, bytes)) = copy.files.first() else {
                    return Ok(());
                };
                if !(ours && path.exists()) {
                    write_file(&path, bytes)?;
                }
            }
            SessionHome::Under { root, suffix } => {
                let Some((rel, bytes)) = copy
                    .files
                    .iter()
                    .find(|(p, _)| p.ends_with(&suffix) && stays_inside(p))
                else {
                    return Ok(());
                };
                let existing = find_under(&root, &suffix);
                if !(ours && existing.is_some()) {
                    write_file(&existing.unwrap_or_else(|| root.join(rel)), bytes)?;
                }
            }
            // Whether the CLI's database still holds the session cannot be told without
            // asking it: a copy this machine kept is taken to be there still.
            SessionHome::Exported {
                import, retarget, ..
            } if !ours => {
                let Some((_, bytes)) = copy.files.iter().find(|(p, _)| p == EXPORT_FILE) else {
                    return Ok(());
                };
                let file = git
                    .runtime_dir()
                    .join("sessions")
                    .join(format!("{session}.json"));
                write_file(&file, &retarget(bytes, worktree))?;
                let mut argv = import;
                argv.push(file.display().to_string());
                let result = self.session_cli(&argv, worktree);
                let _ = std::fs::remove_file(&file);
                result?;
            }
            SessionHome::Exported { .. } => {}
        }
        Ok(())
    }

    /// The files of a session where its CLI keeps them, as (path to keep it under, contents).
    fn session_files(&self, home: &SessionHome, worktree: &Path) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(match home {
            SessionHome::File(path) => match std::fs::read(path) {
                Ok(bytes) => {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    vec![(name.into_owned(), bytes)]
                }
                Err(_) => Vec::new(),
            },
            SessionHome::Under { root, suffix } => match find_under(root, suffix) {
                Some(path) => {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let rel = path.strip_prefix(root).unwrap_or(&path);
                    vec![(rel.to_string_lossy().into_owned(), bytes)]
                }
                None => Vec::new(),
            },
            SessionHome::Exported { export, .. } => {
                let exported = self.session_cli(export, worktree)?;
                vec![(EXPORT_FILE.to_string(), exported.into_bytes())]
            }
        })
    }

    /// Runs the agent's CLI (`argv`) in `worktree` to export or import a session; its stdout.
    fn session_cli(&self, argv: &[String], worktree: &Path) -> Result<String> {
        let program = resolve_program(&argv[0], self.store.git().main_workdir());
        let mut command = TrakCommand::new(&program, worktree);
        command.args(&argv[1..]);
        // A session is kept whole or not at all: up to 64 MiB of it.
        let keep = Keep {
            head: SESSION_LIMIT,
            tail: 0,
            combined: 64 << 10,
        };
        let finished = run_streaming(
            &mut command,
            None,
            SESSION_CLI_TIMEOUT,
            keep,
            &mut |_, _| {},
        )
        .with_context(|| format!("running `{}`", argv.join(" ")))?;
        if finished.stdout_cut.is_some() {
            bail!(
                "`{}` printed more than {}; the session is not kept",
                argv.join(" "),
                crate::config::size::format(SESSION_LIMIT as u64)
            );
        }
        if !finished.success() {
            bail!(
                "`{}` {}: {}",
                argv.join(" "),
                finished.describe(),
                crate::store::secrets::redact(finished.stderr.trim())
            );
        }
        Ok(finished.stdout)
    }
}

/// Whether a session id is letters, digits, `-` and `_` only (every CLI's ids are).
fn is_plain(session: &str) -> bool {
    !session.is_empty()
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether the relative path `rel` stays inside the folder it is joined to.
fn stays_inside(rel: &str) -> bool {
    Path::new(rel)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The first file under `root`, at any depth, whose name ends with `suffix`.
/// The file `home` keeps its session in, if it is one file and it is there.
pub fn session_file(home: &SessionHome) -> Option<PathBuf> {
    match home {
        SessionHome::File(path) => path.is_file().then(|| path.clone()),
        SessionHome::Under { root, suffix } => find_under(root, suffix),
        SessionHome::Exported { .. } => None,
    }
}

fn find_under(root: &Path, suffix: &str) -> Option<PathBuf> {
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .build()
        .filter_map(Result::ok)
        .find(|entry| {
            entry.file_type().is_some_and(|t| t.is_file())
                && entry.file_name().to_string_lossy().ends_with(suffix)
        })
        .map(|entry| entry.into_path())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
