//! Decisions a person made, provably (`[trust] verify`; docs/security.md): before ork acts on
//! a trak, every human decision in its record must sit in a commit signed by a key listed in
//! the main checkout's `.orkestra/allowed_signers`, checked by git itself.

use anyhow::{Result, bail};

use crate::config::trust::ALLOWED_SIGNERS;
use crate::config::workflow::Workflow;
use crate::store::{Store, Trak};

/// Refuses to go on with `trak` when one of its human decisions is not signed by an allowed
/// key, naming the commit.
pub(super) fn check_decisions(store: &Store, workflow: &Workflow, trak: &Trak) -> Result<()> {
    if !workflow.trust.verify {
        return Ok(());
    }
    let allowed = store.git().main_workdir().join(ALLOWED_SIGNERS);
    if !allowed.is_file() {
        bail!(
            "[trust] verify is on, but {ALLOWED_SIGNERS} does not exist.\n  List the keys allowed to decide, one `<email> <key type> <key>` per line (as ssh-keygen's ALLOWED SIGNERS), and commit it"
        );
    }
    for event in store.events(trak)? {
        if !event.kind.is_human_decision() {
            continue;
        }
        let Some(commit) = store.commit_of_event(trak, &event)? else {
            continue;
        };
        if !store.git().signed_by_allowed(commit, &allowed)? {
            bail!(
                "the {} decision in commit {commit} on ork/{id} is not signed by a key in {ALLOWED_SIGNERS}; ork does not act on it ([trust] verify).\n  \
                 Look at it: git show {commit}. If it is not a person's, put the branch back before it \
                 (git update-ref refs/heads/ork/{id} {commit}^ {tip}); if it is, make it again with [trust] sign on.",
                event.kind.name(),
                id = trak.id,
                tip = trak.tip
            );
        }
    }
    Ok(())
}
