//! References: what a ref points to, refs listed by prefix, created, moved (compare-and-swap)
//! and deleted; which branch HEAD names.

use anyhow::{Context, Result, anyhow, bail};
use gix::bstr::ByteSlice;
use gix::refs::transaction::PreviousValue;

use super::{Git, Oid};

/// A reference and the commit it points to.
#[derive(Debug, Clone)]
pub struct RefTip {
    /// Full name, like `refs/heads/ork/add-login-k3f9`.
    pub name: String,
    pub tip: Oid,
}

/// The outcome of a compare-and-swap ref update that lost the race.
#[derive(Debug)]
pub struct RefMoved {
    pub name: String,
    pub expected: Oid,
}

impl std::fmt::Display for RefMoved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} moved while ork was writing to it (expected it at {}); another ork process or machine \
             recorded something first. Run the command again to act on the new state.",
            self.name, self.expected
        )
    }
}

impl std::error::Error for RefMoved {}

impl Git {
    /// The branch checked out in the worktree the process runs in, as a full ref name.
    pub fn current_branch(&self) -> Option<String> {
        self.repo
            .head_name()
            .ok()
            .flatten()
            .map(|name| name.as_bstr().to_string())
    }

    /// The branch checked out in the main worktree, as a short name, or `None` when HEAD is detached.
    /// Fails when the repository has no commit yet.
    pub fn main_branch(&self) -> Result<Option<String>> {
        let main = self.repo.main_repo().unwrap_or_else(|_| self.repo.clone());
        let head = main.head().context("reading HEAD of the main worktree")?;
        if head.is_unborn() {
            bail!(
                "the repository at {} has no commit yet.\n  ork branches traks off a commit: make a \
                 first commit (`git commit --allow-empty -m init`), then try again.",
                self.main_workdir.display()
            );
        }
        Ok(head.referent_name().map(|name| name.shorten().to_string()))
    }

    /// The object a reference points to, or `None` when it does not exist.
    pub fn ref_tip(&self, full_name: &str) -> Result<Option<Oid>> {
        let Some(mut reference) = self
            .repo
            .try_find_reference(full_name)
            .with_context(|| format!("reading {full_name}"))?
        else {
            return Ok(None);
        };
        Ok(Some(target_of(&mut reference)?))
    }

    /// All references under `prefix` (for example `refs/heads/ork/`) and what they point to.
    pub fn refs_with_prefix(&self, prefix: &str) -> Result<Vec<RefTip>> {
        let platform = self
            .repo
            .references()
            .context("opening the reference store")?;
        let iter = platform
            .prefixed(prefix)
            .with_context(|| format!("listing {prefix}"))?;
        let mut out = Vec::new();
        for reference in iter {
            let mut reference = reference.map_err(|e| anyhow!("listing {prefix}: {e}"))?;
            let name = reference.name().as_bstr().to_string();
            let tip = target_of(&mut reference)?;
            out.push(RefTip { name, tip });
        }
        Ok(out)
    }

    /// Creates `full_name` at `target`; fails if it already exists.
    pub fn create_ref(&self, full_name: &str, target: Oid, log_message: &str) -> Result<()> {
        if self.ref_tip(full_name)?.is_some() {
            bail!("{full_name} already exists");
        }
        self.repo
            .reference(full_name, target, PreviousValue::MustNotExist, log_message)
            .with_context(|| format!("creating {full_name}"))?;
        Ok(())
    }

    /// Moves `full_name` from `expected` to `target`, or fails with [`RefMoved`] when it no longer
    /// points at `expected`: compare-and-swap, so no concurrent write is ever silently lost.
    pub fn update_ref(
        &self,
        full_name: &str,
        target: Oid,
        expected: Oid,
        log_message: &str,
    ) -> Result<()> {
        let previous = PreviousValue::MustExistAndMatch(gix::refs::Target::Object(expected));
        match self
            .repo
            .reference(full_name, target, previous, log_message)
        {
            Ok(_) => Ok(()),
            Err(err) if err.is_conflict() => Err(RefMoved {
                name: full_name.to_string(),
                expected,
            }
            .into()),
            Err(err) => Err(anyhow::Error::new(err).context(format!("updating {full_name}"))),
        }
    }

    /// Deletes `full_name` if it still points at `expected`.
    pub fn delete_ref(&self, full_name: &str, expected: Oid) -> Result<()> {
        use gix::refs::transaction::{Change, RefEdit, RefLog};
        let edit = RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(gix::refs::Target::Object(expected)),
                log: RefLog::AndReference,
            },
            name: full_name.try_into()?,
            deref: false,
        };
        self.repo
            .edit_reference(edit)
            .with_context(|| format!("deleting {full_name}"))?;
        Ok(())
    }
}

/// The object a reference points to. Branch refs point straight at commits, so the target is
/// taken as it is; peeling (which reads the object to see whether it is a tag) is only for
/// symbolic refs. Listing N traks then reads no object for the refs themselves.
fn target_of(reference: &mut gix::Reference<'_>) -> Result<Oid> {
    if let Some(id) = reference.target().try_id() {
        return Ok(id.to_owned());
    }
    let name = reference.name().as_bstr().to_string();
    Ok(reference
        .peel_to_id()
        .with_context(|| format!("resolving {name}"))?
        .detach())
}

/// Whether `name` is a valid branch name, as git would accept it after `refs/heads/`.
pub fn is_valid_branch_name(name: &str) -> bool {
    gix::validate::reference::name(format!("refs/heads/{name}").as_bytes().as_bstr()).is_ok()
}

impl Git {
    /// The emails of the identities that moved `full_name` since it pointed at `since`, newest
    /// first, as its reflog says (at most `limit` entries read; none when it keeps no log).
    pub fn reflog_movers(
        &self,
        full_name: &str,
        since: Option<Oid>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let Some(reference) = self
            .repo
            .try_find_reference(full_name)
            .with_context(|| format!("reading {full_name}"))?
        else {
            return Ok(Vec::new());
        };
        let mut platform = reference.log_iter();
        let Some(lines) = platform
            .rev()
            .with_context(|| format!("reading the reflog of {full_name}"))?
        else {
            return Ok(Vec::new());
        };
        let mut movers = Vec::new();
        for line in lines.take(limit) {
            let Ok(line) = line else { continue };
            if Some(line.new_oid) == since {
                break;
            }
            movers.push(line.signature.email.to_string());
            if Some(line.previous_oid) == since {
                break;
            }
        }
        Ok(movers)
    }
}
