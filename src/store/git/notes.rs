//! Gate notes: one line appended to a commit's note, and another machine's notes joined in.

use anyhow::{Context, Result};

use super::{Git, Oid};

impl Git {
    /// Appends `line` (one JSON object) to the note on `commit` in `notes_ref`, so that
    /// `git notes merge -s cat_sort_uniq` can join two machines' notes line by line.
    ///
    /// Subtraks running at once each note their gates, and a note is read, extended and
    /// written back: without the lock, two writers reading the same note lose one's line.
    pub fn append_note(&self, notes_ref: &str, commit: Oid, line: &str) -> Result<()> {
        let _lock = self.runtime_lock("notes.lock")?;
        self.append_note_once(notes_ref, commit, line)
    }

    fn append_note_once(&self, notes_ref: &str, commit: Oid, line: &str) -> Result<()> {
        let mut notes = self
            .repo
            .notes()?
            .with_refs([notes_ref])?
            .with_commit_message(format!("ork: note on {commit}"));
        let mut text = notes
            .get(commit)?
            .first()
            .map(|note| note.blob.data.clone())
            .unwrap_or_default();
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        // A note leaves the machine with `ork sync`: no secret in it (docs/design.md rule 10).
        text.extend_from_slice(crate::store::secrets::redact_json(line.trim_end()).as_bytes());
        text.push(b'\n');
        let name: gix::refs::FullName = notes_ref.try_into()?;
        notes
            .replace_at_ref(name.as_ref(), commit, text)
            .with_context(|| format!("writing a note on {commit}"))?;
        Ok(())
    }

    /// Joins another machine's gate notes into ours, line by line
    /// (`git notes merge -s cat_sort_uniq`).
    pub fn merge_notes(&self, notes_ref: &str, theirs: &str) -> Result<()> {
        let short = notes_ref.trim_start_matches("refs/notes/");
        self.run(
            &self.main_workdir,
            &[
                "notes",
                &format!("--ref={short}"),
                "merge",
                "-q",
                "-s",
                "cat_sort_uniq",
                theirs,
            ],
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four writers at once, as parallel subtraks' gates are: every line lands.
    #[test]
    fn notes_appended_at_once_from_several_threads_all_land() {
        let dir = tempfile::tempdir().unwrap();
        super::super::init_repository(dir.path()).unwrap();
        for (key, value) in [("user.name", "t"), ("user.email", "t@example.com")] {
            super::super::set_config(dir.path(), key, value).unwrap();
        }
        std::fs::write(dir.path().join("f"), "x").unwrap();
        super::super::commit_all(dir.path(), "first").unwrap();
        let commit = Git::discover(dir.path())
            .unwrap()
            .ref_tip("HEAD")
            .unwrap()
            .unwrap();
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let git = Git::discover(&path).unwrap();
                    for n in 0..10 {
                        let line = format!("{{\"writer\": {writer}, \"n\": {n}}}");
                        git.append_note("refs/notes/test", commit, &line).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let git = Git::discover(dir.path()).unwrap();
        let note = git
            .run(
                dir.path(),
                &["notes", "--ref=test", "show", &commit.to_string()],
            )
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&note.stdout).lines().count(), 40);
    }
}
