//! Completion while typing (`COMPLETE=bash ork`, clap_complete's dynamic completion): the
//! shell asks `ork` itself at each TAB, so trak ids and flow names come from this repository.
//! Every candidate is read, never written; a repository that does not open offers none.

use std::path::PathBuf;

use clap_complete::engine::CompletionCandidate;

use ork::config::workflow::Workflow;
use ork::store::Store;
use ork::store::git::Git;

/// The folder the command line being completed works in: its `-C DIR` if it has one (the
/// shell passes the words after `--`), else the current directory.
fn directory() -> Option<PathBuf> {
    let words: Vec<String> = std::env::args_os()
        .skip_while(|w| w != "--")
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let named = words
        .iter()
        .enumerate()
        .find_map(|(i, w)| match w.as_str() {
            "-C" => words.get(i + 1).cloned(),
            w => w.strip_prefix("-C").map(str::to_string),
        });
    match named {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => std::env::current_dir().ok(),
    }
}

/// Every trak's id (local and remote-tracking, finished too), with its title as the help.
pub fn trak_ids() -> Vec<CompletionCandidate> {
    let Some(git) = directory().and_then(|dir| Git::discover(&dir).ok()) else {
        return Vec::new();
    };
    let Ok(traks) = Store::new(git).list() else {
        return Vec::new();
    };
    traks
        .into_iter()
        .map(|t| {
            let title = ork::store::text::one_line(&t.state.title);
            CompletionCandidate::new(t.id).help(Some(title.into()))
        })
        .collect()
}

/// The workflow's flows, with their descriptions as the help.
pub fn flow_names() -> Vec<CompletionCandidate> {
    let Some(git) = directory().and_then(|dir| Git::discover(&dir).ok()) else {
        return Vec::new();
    };
    let Ok(workflow) = Workflow::load(git.main_workdir()) else {
        return Vec::new();
    };
    workflow
        .flows
        .iter()
        .map(|(name, flow)| {
            let candidate = CompletionCandidate::new(name.clone());
            match ork::store::text::one_line(&flow.description) {
                d if d.is_empty() => candidate,
                d => candidate.help(Some(d.into())),
            }
        })
        .collect()
}
