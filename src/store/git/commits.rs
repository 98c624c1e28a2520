//! Commits: written without touching any index, worktree or ref (with an optional extra
//! header), or moved onto a side ref of their own; read back (message, header); ancestry and
//! first-parent walks.

use anyhow::{Context, Result};
use gix::bstr::ByteSlice;

use super::{FileWrite, Git, Oid};

/// How many times a side record is written again on a ref another thread moved meanwhile.
const SIDE_REF_TRIES: usize = 5;

impl Git {
    /// Writes a commit whose tree is `parent`'s tree with `files` added or replaced, without
    /// touching any index, worktree or ref. Returns the new commit.
    pub fn write_commit(
        &self,
        parent: Oid,
        files: &[FileWrite],
        message: &str,
        header: Option<(&str, &str)>,
    ) -> Result<Oid> {
        let tree_id = self.commit_tree(parent)?.id;
        let tree = self.tree_with(tree_id, files)?;
        self.new_commit_with_header(message, tree, &[parent], header)
    }

    /// Writes a commit of `tree` with `parents`, moving no ref.
    pub fn new_commit(&self, message: &str, tree: Oid, parents: &[Oid]) -> Result<Oid> {
        self.new_commit_with_header(message, tree, parents, None)
    }

    /// Like [`Git::write_commit`], signed with the SSH key `signing_key` (git's
    /// `user.signingkey`) as `git commit -S` does with `gpg.format = ssh`: the commit's bytes
    /// signed by `ssh-keygen -Y sign -n git`, the signature in its `gpgsig` header, so that
    /// `git verify-commit` and `git log --show-signature` check it.
    pub fn write_signed_commit(
        &self,
        parent: Oid,
        files: &[FileWrite],
        message: &str,
        header: Option<(&str, &str)>,
        signing_key: &str,
    ) -> Result<Oid> {
        let tree_id = self.commit_tree(parent)?.id;
        let tree = self.tree_with(tree_id, files)?;
        let mut commit = self.commit_object(message, tree, &[parent], header)?;
        sign(&mut commit, signing_key)?;
        Ok(self
            .repo
            .write_object(commit)
            .context("writing a signed commit")?
            .detach())
    }

    /// A commit on `parent` whose tree is `code_from`'s, except the folder `dir`, which holds
    /// `dir_files` only: another line of work's files taken whole (a race's winner) with the
    /// record kept as the caller computed it. Signed with `signing_key` when there is one.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_with_code_of(
        &self,
        parent: Oid,
        code_from: Oid,
        dir: &str,
        dir_files: &[FileWrite],
        message: &str,
        header: Option<(&str, &str)>,
        signing_key: Option<&str>,
    ) -> Result<Oid> {
        let code = self.commit_tree(code_from)?.id;
        let mut editor = self.repo.edit_tree(code).context("editing a tree")?;
        editor
            .remove(dir)
            .context("taking a folder out of a tree")?;
        let without_dir = editor.write().context("writing a tree")?.detach();
        let tree = self.tree_with(without_dir, dir_files)?;
        let mut commit = self.commit_object(message, tree, &[parent], header)?;
        if let Some(key) = signing_key {
            sign(&mut commit, key)?;
        }
        Ok(self
            .repo
            .write_object(commit)
            .context("writing a commit")?
            .detach())
    }

    /// Like [`Git::new_commit`], with an extra commit header `(name, value)`: data that git
    /// keeps with the commit (through fetch and push) but `git log` does not show.
    pub fn new_commit_with_header(
        &self,
        message: &str,
        tree: Oid,
        parents: &[Oid],
        header: Option<(&str, &str)>,
    ) -> Result<Oid> {
        let commit = self.commit_object(message, tree, parents, header)?;
        Ok(self
            .repo
            .write_object(commit)
            .context("writing a commit")?
            .detach())
    }

    /// The commit object, by ork's identity, not yet written.
    fn commit_object(
        &self,
        message: &str,
        tree: Oid,
        parents: &[Oid],
        header: Option<(&str, &str)>,
    ) -> Result<gix::objs::Commit> {
        let committer = self
            .repo
            .committer()
            .context("no committer identity")?
            .context("reading the committer identity")?;
        let author = self
            .repo
            .author()
            .context("no author identity")?
            .context("reading the author identity")?;
        let commit = gix::objs::Commit {
            message: message.into(),
            tree,
            author: author.into(),
            committer: committer.into(),
            encoding: None,
            parents: parents.iter().copied().collect(),
            extra_headers: header
                .map(|(name, value)| (name.into(), value.into()))
                .into_iter()
                .collect(),
        };
        Ok(commit)
    }

    /// `commit`'s message and the value of its extra header `name`, if it has one.
    pub fn commit_header(&self, commit: Oid, name: &str) -> Result<(String, Option<String>)> {
        let object = self
            .repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?;
        let decoded = object
            .decode()
            .with_context(|| format!("decoding commit {commit}"))?;
        let message = decoded.message.to_str_lossy().into_owned();
        let header = decoded
            .extra_headers()
            .find(name)
            .map(|value| value.to_str_lossy().into_owned());
        Ok((message, header))
    }

    /// A commit with no parent whose tree holds one file, `name`: a record moved in place on a
    /// ref of its own (a claim), never a history.
    pub fn single_file_commit(&self, name: &str, contents: &[u8], message: &str) -> Result<Oid> {
        let empty = self.repo.empty_tree().id;
        let tree = self.tree_with(
            empty,
            &[FileWrite {
                path: name.to_string(),
                contents: contents.to_vec(),
            }],
        )?;
        self.new_commit(message, tree, &[])
    }

    /// Adds `files` to the tree at the tip of `full_name` (or to an empty tree when it does not
    /// exist yet) and moves it there by compare-and-swap: for side records such as agent logs.
    pub fn commit_on_ref(
        &self,
        full_name: &str,
        files: &[FileWrite],
        message: &str,
    ) -> Result<Oid> {
        // Side records (agent logs, session transcripts) are pushed like the rest: redacted.
        let redacted: Vec<FileWrite> = files
            .iter()
            .map(|f| FileWrite {
                path: f.path.clone(),
                contents: crate::store::secrets::redact_bytes(&f.contents),
            })
            .collect();
        let files = redacted.as_slice();
        // Side refs take every run's logs, and a race's attempts finish side by side: a ref
        // another thread moved in between is written on again, a few times.
        for _ in 0..SIDE_REF_TRIES {
            let Some(tip) = self.ref_tip(full_name)? else {
                break;
            };
            let commit = self.write_commit(tip, files, message, None)?;
            match self.update_ref(full_name, commit, tip, message) {
                Ok(()) => return Ok(commit),
                Err(err) if err.downcast_ref::<super::RefMoved>().is_some() => continue,
                Err(err) => return Err(err),
            }
        }
        match self.ref_tip(full_name)? {
            Some(tip) => {
                let commit = self.write_commit(tip, files, message, None)?;
                self.update_ref(full_name, commit, tip, message)?;
                Ok(commit)
            }
            None => {
                let empty = self.repo.empty_tree().id;
                let tree = self.tree_with(empty, files)?;
                let commit = self.new_commit(message, tree, &[])?;
                self.create_ref(full_name, commit, message)?;
                Ok(commit)
            }
        }
    }

    /// The newest commit both `a` and `b` descend from, if they share any history.
    pub fn merge_base(&self, a: Oid, b: Oid) -> Result<Option<Oid>> {
        let base = self
            .repo
            .merge_base(a, b)
            .with_context(|| format!("finding where {a} and {b} parted"))?;
        Ok(base.map(|id| id.detach()))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        match self.repo.merge_base(ancestor, descendant) {
            Ok(base) => Ok(base.is_some_and(|b| b.detach() == ancestor)),
            Err(_) => Ok(false),
        }
    }

    /// The parents of `commit`, first parent first.
    pub fn parents(&self, commit: Oid) -> Result<Vec<Oid>> {
        let commit = self
            .repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?;
        Ok(commit.parent_ids().map(|p| p.detach()).collect())
    }

    /// The newest commit on `tip`'s first-parent line since it forked from `other` whose
    /// message holds `needle`: what a base gained from a branch without merging it.
    pub fn first_parent_since(&self, tip: Oid, other: Oid, needle: &str) -> Result<Option<Oid>> {
        let fork = match self.repo.merge_base(tip, other) {
            Ok(base) => base.map(|b| b.detach()),
            Err(_) => None,
        };
        let mut found = None;
        self.walk_first_parents(tip, |id, message| {
            if Some(id) == fork {
                return false;
            }
            if message.contains(needle) {
                found = Some(id);
            }
            found.is_none()
        })?;
        Ok(found)
    }

    /// Walks first parents from `tip`, newest first, handing each commit's id and message to
    /// `visit` until it returns `false`.
    pub fn walk_first_parents(
        &self,
        tip: Oid,
        mut visit: impl FnMut(Oid, &str) -> bool,
    ) -> Result<()> {
        let mut next = Some(tip);
        while let Some(id) = next {
            let commit = self
                .repo
                .find_commit(id)
                .with_context(|| format!("reading commit {id}"))?;
            let message = commit.message_raw_sloppy().to_str_lossy().into_owned();
            if !visit(id, &message) {
                break;
            }
            next = commit.parent_ids().next().map(|p| p.detach());
        }
        Ok(())
    }
}

/// Signs `commit` with the SSH key `key`: its `gpgsig` header, over the commit as written
/// without it, as git's own signed commits hold it.
fn sign(commit: &mut gix::objs::Commit, key: &str) -> Result<()> {
    use gix::objs::WriteTo;
    let mut payload = Vec::new();
    commit.write_to(&mut payload)?;
    let signature = ssh_sign(&payload, key)?;
    commit
        .extra_headers
        .push(("gpgsig".into(), signature.trim_end().into()));
    Ok(())
}

/// `payload` signed with the SSH key `key` in git's namespace, as git signs commits with
/// `gpg.format = ssh` (`ssh-keygen -Y sign`, which uses the SSH agent for a public key file).
fn ssh_sign(payload: &[u8], key: &str) -> Result<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "git", "-f", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running ssh-keygen to sign the decision (is OpenSSH installed?)")?;
    child
        .stdin
        .take()
        .context("ssh-keygen's input")?
        .write_all(payload)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!(
            "ssh-keygen could not sign with {key}: {}\n  Set git's user.signingkey to your SSH key (git config user.signingkey ~/.ssh/id_ed25519.pub), or turn [trust] sign off",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
