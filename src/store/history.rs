//! Reading a trak's past from its branch's history (for `ork diff`; never for listing).

use anyhow::Result;

use crate::store::{Store, Trak, record_dir};

/// One version of a stage's artifact.
pub struct Version {
    /// Which run of the stage made it, from 1: runs that left the artifact as it was count too.
    pub run: usize,
    /// That run's attempt number; attempts count from 1 again after a rejection. `None` for a
    /// commit without an `Ork-Attempt` trailer.
    pub attempt: Option<u32>,
    pub content: String,
}

impl Version {
    /// "run 3 (attempt 1)".
    pub fn label(&self) -> String {
        match self.attempt {
            Some(attempt) => format!("run {} (attempt {attempt})", self.run),
            None => format!("run {}", self.run),
        }
    }
}

/// Every version of `artifact` that `stage` produced, oldest first.
pub fn artifact_versions(
    store: &Store,
    trak: &Trak,
    stage: &str,
    artifact: &str,
) -> Result<Vec<Version>> {
    let git = store.git();
    let path = format!("{}/artifacts/{artifact}.md", record_dir(&trak.id));
    let mut commits = Vec::new();
    git.walk_first_parents(trak.tip, |id, message| {
        let trailer = |key: &str| {
            message
                .lines()
                .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        };
        if trailer("Ork-Event:").as_deref() == Some("stage_finished")
            && trailer("Ork-Stage:").as_deref() == Some(stage)
        {
            commits.push((id, trailer("Ork-Attempt:").unwrap_or_default()));
        }
        trailer("Ork-Event:").as_deref() != Some("created")
    })?;
    let mut versions = Vec::new();
    let mut previous: Option<String> = None;
    for (number, (id, attempt)) in commits.into_iter().rev().enumerate() {
        let Some(bytes) = git.read_file(id, &path)? else {
            continue;
        };
        let content = String::from_utf8_lossy(&bytes).into_owned();
        if previous.as_deref() == Some(content.as_str()) {
            continue;
        }
        // Attempts count from 1 again after a rejection: number the runs, name the attempt.
        previous = Some(content.clone());
        versions.push(Version {
            run: number + 1,
            attempt: attempt.parse().ok(),
            content,
        });
    }
    Ok(versions)
}
