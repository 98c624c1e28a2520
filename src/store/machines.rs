//! A trak's copies on several machines: adopting a fetched copy that is ahead, joining two
//! that diverged (a merge commit whose record is the union of both), moving to or resetting to
//! the remote's copy, and bringing the worktree along.

use super::*;

impl Store {
    /// Whether `remote`'s copy of the trak, as last fetched, is at its local tip.
    pub fn remote_is_at(&self, trak: &Trak, remote: &str) -> Result<bool> {
        let tracking = format!("{REMOTES_PREFIX}{remote}/ork/{}", trak.id);
        Ok(self.git.ref_tip(&tracking)? == Some(trak.tip))
    }

    /// Resets a local trak to `remote`'s copy, as last fetched, dropping what was recorded here
    /// since (compare-and-swap against `trak.tip`; the worktree follows). For a machine that
    /// recorded a run's start but lost the trak to another machine: the remote's copy is the
    /// trak's, and this one's start must not join it later. Returns the trak as reset.
    pub fn reset_to_remote(&self, trak: &Trak, remote: &str) -> Result<Trak> {
        let tracking = format!("{REMOTES_PREFIX}{remote}/ork/{}", trak.id);
        let Some(theirs) = self.git.ref_tip(&tracking)? else {
            return Ok(trak.clone());
        };
        if theirs != trak.tip {
            // The worktree follows only once its files are kept (they may be the only copy).
            let kept = self.keep_before_reset(trak, theirs);
            self.git.update_ref(
                &trak.branch,
                theirs,
                trak.tip,
                &format!("ork: reset to {remote}'s copy"),
            )?;
            match kept {
                Ok(checkpoint) => {
                    if let Some(checkpoint) = checkpoint {
                        self.warnings.push(format!(
                            "this machine's files of trak {} ({}) are kept in its checkpoint: git show --stat {}",
                            trak.id,
                            checkpoint.files.join(", "),
                            checkpoint.commit
                        ));
                    }
                    self.refresh_worktree(trak, trak.tip, theirs)?;
                }
                Err(err) => self.warnings.push(format!(
                    "trak {} is reset to {remote}'s copy, but its worktree stays as it was: its files could not be kept in a checkpoint first: {err:#}",
                    trak.id
                )),
            }
        }
        self.load(&trak.id)
    }

    /// Makes a trak known only from a remote-tracking branch a local one, at the same commit,
    /// so that it can be recorded on.
    pub fn adopt(&self, trak: &Trak) -> Result<Trak> {
        if trak.location == Location::Local {
            return Ok(trak.clone());
        }
        let branch = format!("{BRANCH_PREFIX}{}", trak.id);
        match self.git.ref_tip(&branch)? {
            // The local branch is behind the fetched copy: fast-forward it (and its worktree).
            Some(local) => {
                let behind = Trak {
                    tip: local,
                    branch: branch.clone(),
                    location: Location::Local,
                    ..trak.clone()
                };
                self.move_to(&behind, trak.tip)?;
            }
            None => self.git.create_ref(
                &branch,
                trak.tip,
                &format!("ork: adopt trak {} from {}", trak.id, trak.branch),
            )?,
        }
        Ok(Trak {
            location: Location::Local,
            branch,
            ..trak.clone()
        })
    }

    /// Joins a local trak with `theirs`, the tip of its copy from another machine, when both
    /// moved on: events as a union of files, state folded again from them, code merged as git
    /// merges it. Fails, changing nothing, if the code conflicts.
    pub fn join(&self, trak: &Trak, theirs: Oid, from: &str) -> Result<Trak> {
        // Event files are copied byte for byte (a newer ork's events keep every field); they
        // are parsed only to fold the state.
        let mut event_files: BTreeMap<String, Vec<u8>> =
            self.event_files_at(&trak.id, theirs)?.into_iter().collect();
        event_files.extend(self.event_files_at(&trak.id, trak.tip)?);
        let events = event_files
            .iter()
            .map(|(name, bytes)| Event::from_json(name, bytes))
            .collect::<Result<Vec<_>>>()?;
        let state = TrakState::fold(&trak.id, &events)?;
        let their_trak = self.read(&trak.id, from, theirs, Location::Remote(from.to_string()))?;
        // The newer side's artifacts win where both have one; each side's own are kept.
        let (newer, older) = if their_trak.state.updated_at > trak.state.updated_at {
            (&their_trak, trak)
        } else {
            (trak, &their_trak)
        };
        let mut artifacts: std::collections::BTreeMap<String, String> =
            self.artifacts(older)?.into_iter().collect();
        artifacts.extend(self.artifacts(newer)?);
        let files = self.merged_record(trak, event_files, artifacts, &state)?;
        let mut message = format!("ork: Join the work of {from}\n\n");
        message.push_str(&trailers(
            &trak.id,
            ("joined", &state.head_event),
            &state.stage,
            None,
            &self.machine,
            &state,
        ));
        self.commit_merge(trak, theirs, &files, &message, state, |paths| {
            anyhow::anyhow!(
                "trak {} moved on here and on {from}, and their code conflicts in {}.\n  \
                 Merge it by hand in the trak's worktree (git merge {from}), commit, then run ork sync again.",
                trak.id,
                paths.join(", ")
            )
        })
    }

    /// Records `kind` as the merge of `theirs` (the tip of `branch`) into a local trak: one
    /// commit with both parents whose code is both sides' merged and whose record folder is the
    /// trak's own plus the event. Fails, changing nothing, if the code conflicts.
    pub fn record_merge(
        &self,
        trak: &Trak,
        theirs: Oid,
        branch: &str,
        kind: EventKind,
    ) -> Result<Trak> {
        let event = Event::new(kind, &self.machine, Some(trak.state.head_event.clone()));
        let state = trak.state.advance(&event);
        let mut event_files: BTreeMap<String, Vec<u8>> = self
            .event_files_at(&trak.id, trak.tip)?
            .into_iter()
            .collect();
        event_files.insert(event.file_name(), event.to_json().into_bytes());
        let artifacts = self.artifacts(trak)?.into_iter().collect();
        let files = self.merged_record(trak, event_files, artifacts, &state)?;
        let message = commit_message(&trak.id, &event, &trak.state.questions, &state);
        self.commit_merge(trak, theirs, &files, &message, state, |paths| {
            anyhow::anyhow!(
                "bringing {branch} into trak {} conflicts in {}",
                trak.id,
                paths.join(", ")
            )
        })
    }

    /// Moves a local trak's branch to `commit` (a descendant of its tip) by compare-and-swap,
    /// bringing its worktree along if it has one.
    pub fn move_to(&self, trak: &Trak, commit: Oid) -> Result<()> {
        self.git
            .update_ref(&trak.branch, commit, trak.tip, "ork: sync")?;
        self.refresh_worktree(trak, trak.tip, commit)
    }

    /// After the trak's branch moved from `old` to `new` without its worktree, brings the
    /// worktree along. The move stands whatever happens here, so a failure is a warning with
    /// the way out, not an error.
    pub(super) fn refresh_worktree(&self, trak: &Trak, old: Oid, new: Oid) -> Result<()> {
        let Some(worktree) = self.git.worktree_of_branch(&trak.branch)? else {
            return Ok(());
        };
        if let Err(err) = self.git.fast_forward_worktree(&worktree, old, new) {
            self.warnings.push(format!(
                "trak {} moved on, but its worktree {} could not follow: {err:#}\n  \
                 Check its changes, then run `git -C {} reset --keep HEAD`.",
                trak.id,
                worktree.display(),
                worktree.display()
            ));
        }
        Ok(())
    }
}
