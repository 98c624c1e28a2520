//! A race's attempts in git: each one a plain ref `refs/ork/race/<id>/<stage>/<no>` started at
//! the trak's tip, holding the trak's record as that attempt sees it (its own runs and gates),
//! with a worktree of its own whose HEAD is that ref. The winner's files become one commit on
//! the trak's branch; the refs stay for `ork diff --race` until the trak goes.

use super::*;

/// Where the attempts of every race live.
pub const RACE_PREFIX: &str = "refs/ork/race/";

/// The ref of attempt `no` of `stage`'s race in trak `id`.
pub fn race_ref(id: &str, stage: &str, no: u32) -> String {
    format!("{RACE_PREFIX}{id}/{stage}/{no}")
}

/// Where a fetch from `remote` keeps the race refs (`refs/ork/remotes/<remote>/race/`).
pub fn tracking_race_prefix(remote: &str) -> String {
    format!("refs/ork/remotes/{remote}/race/")
}

/// Where a fetch from `remote` keeps the race ref `name` (`refs/ork/race/…`).
pub fn tracking_race_ref(remote: &str, name: &str) -> String {
    let rest = name.strip_prefix(RACE_PREFIX).unwrap_or(name);
    format!("{}{rest}", tracking_race_prefix(remote))
}

/// The stage and number of the race attempt `trak` is, when it is one (read from its ref).
pub fn attempt_of(trak: &Trak) -> Option<(String, u32)> {
    let rest = trak
        .branch
        .strip_prefix(RACE_PREFIX)?
        .strip_prefix(&trak.id)?
        .strip_prefix('/')?;
    let (stage, no) = rest.rsplit_once('/')?;
    Some((stage.to_string(), no.parse().ok()?))
}

impl Store {
    /// Attempt `no` of `stage`'s race as a trak of its own ref: made at `from` when missing,
    /// or when it is left from an earlier race (it does not descend from `from`).
    pub fn race_attempt(&self, id: &str, stage: &str, no: u32, from: Oid) -> Result<Trak> {
        let name = race_ref(id, stage, no);
        let tip = match self.git.ref_tip(&name)? {
            Some(tip) if self.git.is_ancestor(from, tip)? => tip,
            Some(old) => {
                // Its worktree holds the old race's files: it is made afresh.
                self.remove_race_worktree(id, stage, no)?;
                self.git
                    .update_ref(&name, from, old, "ork: race starts again")?;
                from
            }
            None => {
                self.git.create_ref(&name, from, "ork: race attempt")?;
                from
            }
        };
        self.read(id, &name, tip, Location::Local)
    }

    /// Attempt `no` of `stage`'s race as this machine has it, where its ref here is of the race
    /// that started at `from`; nothing is made (an attempt another machine runs has no ref
    /// here, or an older one).
    pub fn race_attempt_here(
        &self,
        id: &str,
        stage: &str,
        no: u32,
        from: Oid,
    ) -> Result<Option<Trak>> {
        let name = race_ref(id, stage, no);
        match self.git.ref_tip(&name)? {
            Some(tip) if self.git.is_ancestor(from, tip)? => {
                Ok(Some(self.read(id, &name, tip, Location::Local)?))
            }
            _ => Ok(None),
        }
    }

    /// Attempt `no` of `stage`'s race as it was at `tip` (a commit its ref had, here or on
    /// another machine: fetched as `refs/ork/remotes/<remote>/race/…`).
    pub fn race_attempt_at(&self, id: &str, stage: &str, no: u32, tip: Oid) -> Result<Trak> {
        self.read(id, &race_ref(id, stage, no), tip, Location::Local)
    }

    /// Brings attempt `no`'s ref as `remote` has it here (as last fetched), where it is of
    /// this race (descends from `from`) and this machine's is not ahead of it: the machine that
    /// held the attempt's claim last shared it. The attempt's worktree here, of older files, goes.
    /// Whether the ref moved.
    pub fn take_remote_attempt(
        &self,
        id: &str,
        stage: &str,
        no: u32,
        from: Oid,
        remote: &str,
    ) -> Result<bool> {
        let name = race_ref(id, stage, no);
        let Some(theirs) = self.git.ref_tip(&tracking_race_ref(remote, &name))? else {
            return Ok(false);
        };
        if !self.git.is_ancestor(from, theirs)? {
            return Ok(false);
        }
        match self.git.ref_tip(&name)? {
            Some(ours) if ours == theirs || self.git.is_ancestor(theirs, ours)? => Ok(false),
            Some(ours) => {
                self.remove_race_worktree(id, stage, no)?;
                self.git
                    .update_ref(&name, theirs, ours, "ork: race attempt from the remote")?;
                Ok(true)
            }
            None => {
                self.remove_race_worktree(id, stage, no)?;
                self.git
                    .create_ref(&name, theirs, "ork: race attempt from the remote")?;
                Ok(true)
            }
        }
    }

    /// Where attempt `trak` of a race is worked on (`trak` being one, see [`attempt_of`]):
    /// `.orkestra/worktrees/.race/<id>/<stage>-<no>`, beside the traks' own worktrees (the
    /// leading dot keeps it from ever being a trak's id).
    pub fn race_worktree_path(&self, id: &str, stage: &str, no: u32) -> PathBuf {
        self.git
            .main_workdir()
            .join(crate::layout::WORKTREES)
            .join(".race")
            .join(id)
            .join(format!("{stage}-{no}"))
    }

    /// The worktree folder of `trak`: its own, or its race attempt's.
    pub fn worktree_path_of(&self, trak: &Trak) -> PathBuf {
        match attempt_of(trak) {
            Some((stage, no)) => self.race_worktree_path(&trak.id, &stage, no),
            None => self.worktree_path(&trak.id),
        }
    }

    /// Records `kind` (the race's pick) on `trak` as one commit whose files are those of the
    /// winning attempt at `winner_tip`, its record folder the trak's own with the event and
    /// the winner's `artifact` added. Compare-and-swap on the trak's branch, as every record.
    pub fn record_race_winner(
        &self,
        trak: &Trak,
        kind: EventKind,
        winner_tip: Oid,
        artifact: &str,
        signing_key: Option<&str>,
    ) -> Result<Trak> {
        let event = Event::new(
            redacted(kind)?,
            &self.machine,
            Some(trak.state.head_event.clone()),
        );
        let state = trak.state.advance(&event);
        let dir = record_dir(&trak.id);
        let mut event_files: BTreeMap<String, Vec<u8>> = self
            .event_files_at(&trak.id, trak.tip)?
            .into_iter()
            .collect();
        event_files.insert(event.file_name(), event.to_json().into_bytes());
        let mut artifacts: BTreeMap<String, String> = self.artifacts(trak)?.into_iter().collect();
        let winner_artifact = format!("{dir}/artifacts/{artifact}.md");
        if let Some(bytes) = self.git.read_file(winner_tip, &winner_artifact)? {
            artifacts.insert(
                artifact.to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
        let files = self.merged_record(trak, event_files, artifacts, &state)?;
        let message = commit_message(&trak.id, &event, &trak.state.questions, &state);
        let header = state.to_header();
        let commit = self.git.commit_with_code_of(
            trak.tip,
            winner_tip,
            &dir,
            &files,
            &message,
            Some((STATE_HEADER, &header)),
            signing_key,
        )?;
        self.advance_branch(trak, commit, state, &event.kind)
    }

    /// Every race ref of trak `id`, as (ref name, tip).
    pub fn race_refs(&self, id: &str) -> Result<Vec<(String, Oid)>> {
        Ok(self
            .git
            .refs_with_prefix(&format!("{RACE_PREFIX}{id}/"))?
            .into_iter()
            .map(|tip| (tip.name, tip.tip))
            .collect())
    }

    /// Removes the worktree of attempt `no` of `stage`'s race (its ref stays), if there is one.
    pub fn remove_race_worktree(&self, id: &str, stage: &str, no: u32) -> Result<()> {
        let path = self.race_worktree_path(id, stage, no);
        if path.exists() {
            self.git.remove_scratch_worktree(&path)?;
        }
        Ok(())
    }

    /// The trak is gone (merged or dropped): its races' worktrees and refs go with it.
    pub fn forget_races(&self, id: &str) -> Result<()> {
        let folder = self
            .git
            .main_workdir()
            .join(crate::layout::WORKTREES)
            .join(".race")
            .join(id);
        if folder.exists() {
            for entry in std::fs::read_dir(&folder)?.flatten() {
                self.git.remove_scratch_worktree(&entry.path())?;
            }
            let _ = std::fs::remove_dir_all(&folder);
        }
        for (name, tip) in self.race_refs(id)? {
            self.git.delete_ref(&name, tip)?;
        }
        Ok(())
    }
}
