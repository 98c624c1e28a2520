//! Gate notes: one line appended to a commit's note, and another machine's notes joined in.

use anyhow::{Context, Result};

use super::{Git, Oid};

impl Git {
    /// Appends `line` (one JSON object) to the note on `commit` in `notes_ref`, so that
    /// `git notes merge -s cat_sort_uniq` can join two machines' notes line by line.
    pub fn append_note(&self, notes_ref: &str, commit: Oid, line: &str) -> Result<()> {
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
