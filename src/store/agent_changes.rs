//! The agent's changes in a trak's worktree, recorded with the stage's event in one commit;
//! the secrets they would add; commits the agent made itself, taken back into the worktree.

use super::*;

impl Store {
    /// Records `kind` in one commit together with everything the agent changed in the trak's
    /// `worktree` and `files` (name, contents) under the trak's record folder, such as the
    /// artifact. The worktree's branch must still be at the tip the trak was read at.
    pub fn record_with_worktree(
        &self,
        trak: &Trak,
        worktree: &std::path::Path,
        kind: EventKind,
        files: &[(String, Vec<u8>)],
    ) -> Result<Trak> {
        let current = self.git.ref_tip(&trak.branch)?;
        let mut taken = Vec::new();
        if let Some(moved) = current.filter(|c| *c != trak.tip) {
            if !self.only_agent_commits(trak, current)? {
                return Err(crate::store::git::RefMoved {
                    name: trak.branch.clone(),
                    expected: trak.tip,
                }
                .into());
            }
            taken = self.take_in_agent_commits(trak, worktree, moved)?;
        }
        let event = Event::new(
            redacted(kind)?,
            &self.machine,
            Some(trak.state.head_event.clone()),
        );
        let state = trak.state.advance(&event);
        // `.orkestra/traks/` in the worktree is put back as recorded first: whatever an agent
        // did there, or an index left stale by a crash, must not reach the commit.
        let traks_dir = worktree.join(TRAKS_DIR);
        match std::fs::remove_dir_all(&traks_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("resetting {}", traks_dir.display())),
        }
        self.git.restore_folder(worktree, trak.tip, TRAKS_DIR)?;
        let dir = worktree.join(record_dir(&trak.id));
        let mut writes = vec![
            (
                format!("events/{}", event.file_name()),
                event.to_json().into_bytes(),
            ),
            ("state.json".to_string(), state.to_json().into_bytes()),
        ];
        writes.extend(
            files
                .iter()
                .map(|(name, contents)| (name.clone(), secrets::redact_bytes(contents))),
        );
        for (name, contents) in &writes {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(&path, contents)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let message = with_agent_commits(
            commit_message(&trak.id, &event, &trak.state.questions, &state),
            &taken,
        );
        let local_files = local_files::included_files(self.git.main_workdir(), worktree)?;
        let commit = self.git.commit_worktree(worktree, &message, &local_files)?;
        Ok(Trak {
            state,
            tip: commit,
            ..trak.clone()
        })
    }

    /// Takes the commits the agent made on the trak's branch (only possible where the sandbox
    /// does not hold the git dir) back into the worktree, so that ork's commit of it is the
    /// only one (docs/design.md rule 12: the record is ork's alone): the branch returns to
    /// the trak's tip, the files stay, and a merge the agent committed stays a merge of ork's
    /// commit. Returns their subjects, oldest first, redacted and bounded, for its body.
    fn take_in_agent_commits(
        &self,
        trak: &Trak,
        worktree: &std::path::Path,
        moved: Oid,
    ) -> Result<Vec<String>> {
        const NAMED: usize = 20;
        let mut commits = Vec::new();
        let mut count = 0usize;
        self.git.walk_first_parents(moved, |id, message| {
            if id == trak.tip {
                return false;
            }
            count += 1;
            if commits.len() < NAMED {
                let subject = message.lines().next().unwrap_or_default();
                let subject: String = secrets::redact(subject).chars().take(200).collect();
                commits.push((id, subject));
            }
            true
        })?;
        let mut merged = None;
        for (id, _) in &commits {
            for parent in self.git.parents(*id)?.into_iter().skip(1) {
                if merged.is_none() && !self.git.is_ancestor(parent, trak.tip)? {
                    merged = Some(parent);
                }
            }
        }
        self.git.reset_branch_keeping_files(worktree, trak.tip)?;
        if let Some(parent) = merged {
            self.git.begin_merge_keeping_files(worktree, parent)?;
        }
        let mut subjects: Vec<String> = commits.into_iter().rev().map(|(_, s)| s).collect();
        if count > NAMED {
            subjects.insert(0, format!("… and {} earlier", count - NAMED));
        }
        Ok(subjects)
    }

    /// The known secrets among the lines the agent's change in `worktree` adds to the trak's
    /// tip (its record folder and the user's local files left out: those are never committed),
    /// that `allowed` does not allow.
    pub fn added_secrets(
        &self,
        trak: &Trak,
        worktree: &std::path::Path,
        allowed: &secrets::Allowed,
    ) -> Result<Vec<secrets::Finding>> {
        let mut keep_out = vec![TRAKS_DIR.to_string()];
        keep_out.extend(
            local_files::included_files(self.git.main_workdir(), worktree)?
                .iter()
                .map(|p| p.display().to_string()),
        );
        let lines = self.git.added_lines(worktree, trak.tip, &keep_out)?;
        Ok(lines
            .iter()
            .flat_map(|(path, line, text)| secrets::find_on_line(path, *line, text))
            .filter(|finding| !allowed.allows(finding))
            .collect())
    }

    /// Puts the trak's branch back where ork left it before the agent ran if the agent moved it
    /// where only ork may (docs/design.md rule 12: the record is ork's alone): a commit carrying
    /// ork's `Ork-Event` trailer (a forged record), a branch moved off the trak's history, or
    /// deleted. What it pointed to is kept under [`QUARANTINE_PREFIX`]`<id>` for a person to
    /// look at. Commits of the agent's own work (a merge of the base it resolved, say) are
    /// left for [`Store::record_with_worktree`], which takes them into ork's commit.
    pub fn take_back_branch(&self, trak: &Trak, worktree: &std::path::Path) -> Result<Branch> {
        let current = self.git.ref_tip(&trak.branch)?;
        if current == Some(trak.tip) {
            return Ok(Branch::Untouched);
        }
        if self.only_agent_commits(trak, current)? {
            return Ok(Branch::AgentCommits);
        }
        let quarantine = format!("{QUARANTINE_PREFIX}{}", trak.id);
        if let Some(moved) = current {
            match self.git.ref_tip(&quarantine)? {
                Some(old) => self
                    .git
                    .update_ref(&quarantine, moved, old, "ork: quarantine")?,
                None => self.git.create_ref(&quarantine, moved, "ork: quarantine")?,
            }
            // The worktree's HEAD is the branch: a reset there moves both, keeping the files.
            let _ = self.git.reset_branch_keeping_files(worktree, trak.tip);
        }
        match self.git.ref_tip(&trak.branch)? {
            Some(now) if now == trak.tip => {}
            Some(now) => self
                .git
                .update_ref(&trak.branch, trak.tip, now, "ork: put back")?,
            None => self
                .git
                .create_ref(&trak.branch, trak.tip, "ork: put back")?,
        }
        Ok(Branch::PutBack {
            moved_to: current,
            quarantine,
        })
    }

    /// Takes back the commits the agent made itself in `worktree` (the branch moved past the
    /// trak's tip without an ork event): the branch returns to the tip, their changes stay in
    /// the worktree's files, uncommitted. For a change that must not be on any ref.
    pub fn uncommit_agent_commits(&self, trak: &Trak, worktree: &std::path::Path) -> Result<()> {
        let current = self.git.ref_tip(&trak.branch)?;
        if current == Some(trak.tip) || !self.only_agent_commits(trak, current)? {
            return Ok(());
        }
        self.git.reset_branch_keeping_files(worktree, trak.tip)
    }
}

/// Where the commits an agent put on its trak's branch that ork did not make are kept:
/// `refs/ork/quarantine/<id>`.
pub const QUARANTINE_PREFIX: &str = "refs/ork/quarantine/";

/// What [`Store::take_back_branch`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Branch {
    /// The agent did not move it.
    Untouched,
    /// The agent committed its own work, on top of the trak's tip, carrying no record.
    AgentCommits,
    /// The agent moved it somewhere ork did not (forged records, another history, deleted):
    /// the branch is back at the trak's tip, what it pointed to is under `quarantine`.
    PutBack {
        moved_to: Option<Oid>,
        quarantine: String,
    },
}

impl Store {
    /// The files under `.orkestra/` (its records left out) that `trak` changes since it forked
    /// from `base_tip`, each as "path blob" (the blob id it has at the trak's tip, `deleted`
    /// when gone): ork's own configuration, which a person approves before it lands
    /// (docs/design.md rule 12). The blob ids make an approval hold only for those contents.
    pub fn config_changes(&self, trak: &Trak, base_tip: Oid) -> Result<Vec<String>> {
        let changed = self.git.dry_run(crate::layout::TRAKS, |dry| {
            let fork = dry.merge_base(trak.tip, base_tip)?;
            dry.changed_paths_since(fork, trak.tip)
        })?;
        let prefix = format!("{}/", crate::layout::ORKESTRA);
        let mut out = Vec::new();
        for path in changed.into_iter().filter(|p| p.starts_with(&prefix)) {
            let blob = match self.git.read_file(trak.tip, &path)? {
                Some(data) => {
                    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, &data)?
                        .to_string()
                }
                None => "deleted".to_string(),
            };
            out.push(format!("{path} {blob}"));
        }
        Ok(out)
    }
}

/// `message` with the subjects of the agent's own commits in its body, before the trailers
/// (which must stay the last paragraph).
fn with_agent_commits(message: String, subjects: &[String]) -> String {
    if subjects.is_empty() {
        return message;
    }
    let list: Vec<String> = subjects.iter().map(|s| format!("  {s}")).collect();
    let paragraph = format!(
        "The agent's own commits, taken into this one:\n{}\n\n",
        list.join("\n")
    );
    match message.rfind("\n\n") {
        Some(at) => format!("{}{paragraph}{}", &message[..at + 2], &message[at + 2..]),
        None => format!("{message}\n\n{paragraph}"),
    }
}
