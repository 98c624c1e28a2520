//! `ork sync`: traks, gate notes and agent logs between this repository and a remote, through
//! plain git fetch and push — no server, no database.
//!
//! Fetch brings the remote's `ork/*` branches to `refs/remotes/<remote>/ork/*` (git's default
//! refspec), its notes to `refs/notes/remotes/<remote>/orkestra` and its logs to
//! `refs/ork/remotes/<remote>/logs/*`: remote-tracking names only, so a fetch never overwrites
//! anything local. Then each trak is brought together: fast-forwarded when only the remote
//! moved, joined (events as a union, state folded again, code merged) when both did. Notes
//! merge with `cat_sort_uniq`. Last, what is new here is pushed, never forced, atomically; a
//! push the remote refuses because it moved on starts the round again.

pub mod hooks;
pub mod transcript;

use std::collections::{BTreeSet, HashSet};

use anyhow::{Result, bail};

use crate::store::claim::CLAIMS_PREFIX;
use crate::store::git::Git;
use crate::store::{
    BRANCH_PREFIX, LOGS_PREFIX, Location, NOTES_REF, RACE_PREFIX, Store, tracking_race_prefix,
};

/// How many fetch-integrate-push rounds to try before giving up on a remote that keeps moving.
const ROUNDS: usize = 3;

/// What a sync did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Traks that only moved on the remote, brought here.
    pub fast_forwarded: Vec<String>,
    /// Traks that moved on both sides, joined.
    pub joined: Vec<String>,
    /// Traks that could not be joined, with why.
    pub not_joined: Vec<(String, String)>,
    /// Whether the remote's gate notes were merged into ours.
    pub notes_merged: bool,
    /// Refs pushed to the remote.
    pub pushed: Vec<String>,
    /// Traks only on the remote (shown by `ork status`; adopted when acted on).
    pub remote_only: Vec<String>,
}

/// The fetch refspecs ork needs beyond git's default, for `remote`. Both are patterns: a
/// pattern that matches nothing is fine, while a plain refspec for a ref the remote lacks would
/// make every `git fetch` fail.
/// Claims are moved in place (never fast-forwarded), so their refspec is forced: the
/// remote-tracking copy follows whatever the remote holds.
/// Schedules' records are moved in place too.
/// Race attempts are reset when a stage races again, so theirs is forced too.
pub fn refspecs(remote: &str) -> [String; 6] {
    [
        format!("+{NOTES_REF}*:refs/notes/remotes/{remote}/orkestra*"),
        format!("+{LOGS_PREFIX}*:refs/ork/remotes/{remote}/logs/*"),
        format!("+{CLAIMS_PREFIX}*:refs/ork/remotes/{remote}/claims/*"),
        format!(
            "+{}*:refs/ork/remotes/{remote}/wip/*",
            crate::store::checkpoint::WIP_PREFIX
        ),
        format!(
            "+{}*:refs/ork/remotes/{remote}/schedules/*",
            crate::store::schedule::SCHEDULES_PREFIX
        ),
        format!("+{RACE_PREFIX}*:{}*", tracking_race_prefix(remote)),
    ]
}

/// Makes a plain `git fetch` of `remote` bring ork's notes and logs too, into remote-tracking
/// names. Returns whether anything was added.
pub fn configure_remote(git: &Git, remote: &str) -> Result<bool> {
    let mut added = false;
    for spec in refspecs(remote) {
        added |= git.ensure_fetch_refspec(remote, &spec)?;
    }
    Ok(added)
}

/// Whether every fetch refspec ork needs for `remote` is set.
pub fn remote_configured(git: &Git, remote: &str) -> Result<bool> {
    let set = git.fetch_refspecs(remote)?;
    Ok(refspecs(remote).iter().all(|spec| set.contains(spec)))
}

/// The remote to sync with: the one named, else `origin`, else the only one.
pub fn pick_remote(git: &Git, named: Option<&str>) -> Result<String> {
    let remotes = git.remote_names();
    match named {
        Some(name) if remotes.iter().any(|r| r == name) => Ok(name.to_string()),
        Some(name) => bail!(
            "there is no remote \"{name}\"; remotes: {}",
            if remotes.is_empty() {
                "none".to_string()
            } else {
                remotes.join(", ")
            }
        ),
        None if remotes.is_empty() => bail!(
            "this repository has no remote to sync with; add one: git remote add origin <url>"
        ),
        None => match default_of(&remotes) {
            Some(remote) => Ok(remote.to_string()),
            None => bail!(
                "which remote? ork sync <remote>, one of: {}",
                remotes.join(", ")
            ),
        },
    }
}

/// The remote ork uses when none is named: `origin`, or the only one; `None` when there is
/// none or the choice is not clear. For listings, which ask once per trak and need no error.
pub fn default_remote(git: &Git) -> Option<String> {
    default_of(&git.remote_names()).map(str::to_string)
}

fn default_of(remotes: &[String]) -> Option<&str> {
    if remotes.iter().any(|r| r == "origin") {
        Some("origin")
    } else if let [only] = remotes {
        Some(only)
    } else {
        None
    }
}

/// Fetches, integrates and pushes until the remote and this repository agree.
pub fn sync(store: &Store, remote: &str) -> Result<SyncReport> {
    let git = store.git();
    configure_remote(git, remote)?;
    let mut report = SyncReport::default();
    for _ in 0..ROUNDS {
        git.fetch(remote)?;
        integrate_traks(store, remote, &mut report)?;
        integrate_logs(git, remote)?;
        report.notes_merged |= integrate_notes(git, remote)?;
        let finished = finished_with_races(store, remote)?;
        forget_races_of(store, &finished)?;
        let (specs, leases) = to_push(store, remote, &finished)?;
        if specs.is_empty() || git.push_with_leases(remote, &specs, &leases)? {
            report.pushed.extend(specs);
            report.remote_only = store
                .list()?
                .into_iter()
                .filter(|t| t.location == Location::Remote(remote.to_string()))
                .map(|t| t.id)
                .collect();
            return Ok(report);
        }
    }
    bail!("{remote} kept moving while ork pushed; run ork sync again")
}

/// Brings every local trak that also exists on the remote up to date with it.
fn integrate_traks(store: &Store, remote: &str, report: &mut SyncReport) -> Result<()> {
    let git = store.git();
    for trak in store.list_local()? {
        let remote_ref = format!("refs/remotes/{remote}/ork/{}", trak.id);
        let Some(theirs) = git.ref_tip(&remote_ref)? else {
            continue;
        };
        if theirs == trak.tip || git.is_ancestor(theirs, trak.tip)? {
            continue;
        }
        if git.is_ancestor(trak.tip, theirs)? {
            store.move_to(&trak, theirs)?;
            report.fast_forwarded.push(trak.id);
            continue;
        }
        match store.join(&trak, theirs, &format!("{remote}/ork/{}", trak.id)) {
            Ok(_) => report.joined.push(trak.id),
            Err(err) => report.not_joined.push((trak.id, format!("{err:#}"))),
        }
    }
    Ok(())
}

/// Brings the remote's agent logs here: files are never rewritten, so two machines' logs of one
/// trak join as a union.
fn integrate_logs(git: &Git, remote: &str) -> Result<()> {
    let prefix = format!("refs/ork/remotes/{remote}/logs/");
    for theirs in git.refs_with_prefix(&prefix)? {
        let local = format!("{LOGS_PREFIX}{}", &theirs.name[prefix.len()..]);
        match git.ref_tip(&local)? {
            None => git.create_ref(&local, theirs.tip, "ork: logs from sync")?,
            Some(ours) if ours == theirs.tip || git.is_ancestor(theirs.tip, ours)? => {}
            Some(ours) if git.is_ancestor(ours, theirs.tip)? => {
                git.update_ref(&local, theirs.tip, ours, "ork: logs from sync")?
            }
            Some(ours) => {
                let joined = git.union(ours, theirs.tip, "ork: join agent logs")?;
                git.update_ref(&local, joined, ours, "ork: logs from sync")?;
            }
        }
    }
    Ok(())
}

/// Merges the remote's gate notes into ours. Returns whether anything changed.
fn integrate_notes(git: &Git, remote: &str) -> Result<bool> {
    let theirs_ref = format!("refs/notes/remotes/{remote}/orkestra");
    let Some(theirs) = git.ref_tip(&theirs_ref)? else {
        return Ok(false);
    };
    match git.ref_tip(NOTES_REF)? {
        None => git.create_ref(NOTES_REF, theirs, "ork: notes from sync")?,
        Some(ours) if ours == theirs || git.is_ancestor(theirs, ours)? => return Ok(false),
        Some(ours) if git.is_ancestor(ours, theirs)? => {
            git.update_ref(NOTES_REF, theirs, ours, "ork: notes from sync")?
        }
        Some(_) => git.merge_notes(NOTES_REF, &theirs_ref)?,
    }
    Ok(true)
}

/// Refspecs to push.
type Specs = Vec<String>;
/// Remote refs a push may move in place (or delete) only from the value last fetched.
type Leases = Vec<(String, Option<crate::store::git::Oid>)>;

/// Refspecs for a race's attempts, so that another machine can look at them and pick: a local
/// ref that differs from the remote's replaces it (it was reset when its stage raced again),
/// unless the remote's is ahead of it (another machine ran that attempt on). Once a trak is
/// done or dropped, its races go from the remote too (refs and attempt claims): they only
/// served the pick. Each under a lease on what was last fetched: an attempt another machine
/// shared meanwhile is never overwritten; the push is refused and the sync looks again.
fn race_specs(store: &Store, remote: &str, finished: &HashSet<String>) -> Result<(Specs, Leases)> {
    let git = store.git();
    let (mut specs, mut leases) = (Vec::new(), Vec::new());
    let tracking_races = tracking_race_prefix(remote);
    for race in git.refs_with_prefix(RACE_PREFIX)? {
        let rest = &race.name[RACE_PREFIX.len()..];
        if finished.contains(race_trak(rest)) {
            continue;
        }
        let theirs = git.ref_tip(&format!("{tracking_races}{rest}"))?;
        match theirs {
            Some(theirs) if theirs == race.tip || git.is_ancestor(race.tip, theirs)? => {}
            _ => {
                specs.push(format!("{0}:{0}", race.name));
                leases.push((race.name.clone(), theirs));
            }
        }
    }
    for theirs in git.refs_with_prefix(&tracking_races)? {
        let rest = &theirs.name[tracking_races.len()..];
        if finished.contains(race_trak(rest)) {
            specs.push(format!(":{RACE_PREFIX}{rest}"));
            leases.push((format!("{RACE_PREFIX}{rest}"), Some(theirs.tip)));
        }
    }
    let tracking_claims = format!("refs/ork/remotes/{remote}/claims/");
    for theirs in git.refs_with_prefix(&tracking_claims)? {
        let key = &theirs.name[tracking_claims.len()..];
        if let Some((id, _)) = key.split_once("@race/")
            && finished.contains(id)
        {
            specs.push(format!(":{CLAIMS_PREFIX}{key}"));
            leases.push((format!("{CLAIMS_PREFIX}{key}"), Some(theirs.tip)));
        }
    }
    Ok((specs, leases))
}

/// The races of finished traks (this machine drove, helped, or only looked at them) go here.
fn forget_races_of(store: &Store, finished: &HashSet<String>) -> Result<()> {
    for id in finished {
        store.forget_races(id)?;
    }
    Ok(())
}

/// The traks that have a race here or on `remote` (attempt refs, attempt claims) and are done
/// or dropped: their races only served the pick. One trak read per trak that raced, none
/// where nothing races.
fn finished_with_races(store: &Store, remote: &str) -> Result<HashSet<String>> {
    let git = store.git();
    let mut raced = BTreeSet::new();
    for prefix in [RACE_PREFIX.to_string(), tracking_race_prefix(remote)] {
        for r in git.refs_with_prefix(&prefix)? {
            raced.insert(race_trak(&r.name[prefix.len()..]).to_string());
        }
    }
    let claims = format!("refs/ork/remotes/{remote}/claims/");
    for r in git.refs_with_prefix(&claims)? {
        if let Some((id, _)) = r.name[claims.len()..].split_once("@race/") {
            raced.insert(id.to_string());
        }
    }
    let mut finished = HashSet::new();
    for id in raced {
        if store
            .find(&id)?
            .is_some_and(|t| t.state.status.is_finished())
        {
            finished.insert(id);
        }
    }
    Ok(finished)
}

/// The trak a race ref's `<id>/<stage>/<no>` is of.
fn race_trak(rest: &str) -> &str {
    rest.rsplitn(3, '/').nth(2).unwrap_or(rest)
}

/// Refspecs for every local ork ref the remote lacks or is behind on, and the leases some of
/// them are pushed under (see [`race_specs`]). Refs that diverged (not joined) are left out:
/// pushing them would be refused.
fn to_push(store: &Store, remote: &str, finished: &HashSet<String>) -> Result<(Specs, Leases)> {
    let git = store.git();
    let mut pairs: Vec<(String, String)> = git
        .refs_with_prefix(BRANCH_PREFIX)?
        .into_iter()
        .map(|r| {
            let id = r.name[BRANCH_PREFIX.len()..].to_string();
            (r.name, format!("refs/remotes/{remote}/ork/{id}"))
        })
        .collect();
    pairs.extend(git.refs_with_prefix(LOGS_PREFIX)?.into_iter().map(|r| {
        let id = r.name[LOGS_PREFIX.len()..].to_string();
        (r.name, format!("refs/ork/remotes/{remote}/logs/{id}"))
    }));
    pairs.push((
        NOTES_REF.to_string(),
        format!("refs/notes/remotes/{remote}/orkestra"),
    ));
    let mut specs = Vec::new();
    for (local, tracking) in pairs {
        let Some(ours) = git.ref_tip(&local)? else {
            continue;
        };
        let ahead = match git.ref_tip(&tracking)? {
            None => true,
            Some(theirs) => theirs != ours && git.is_ancestor(theirs, ours)?,
        };
        if ahead {
            specs.push(format!("{local}:{local}"));
        }
    }
    let (races, leases) = race_specs(store, remote, finished)?;
    specs.extend(races);
    Ok((specs, leases))
}
