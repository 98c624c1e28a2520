//! `.git/ork/`, the runtime folder, and the locks taken on files in it.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Git;

impl Git {
    /// `.git/ork/`: runtime files (locks, live logs of running agents). Nothing in it is state
    /// (docs/design.md rule 4); deleting it loses nothing.
    pub fn runtime_dir(&self) -> PathBuf {
        self.repo.common_dir().join("ork")
    }

    fn lock_file(&self, name: &str) -> Result<std::fs::File> {
        let path = self.runtime_dir().join(name);
        let dir = path.parent().expect("lock files live in a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// An exclusive lock on `.git/ork/<name>`, waited for and held until the returned file is
    /// dropped. The OS releases it when the process dies, so a crash never leaves it stuck.
    pub(super) fn runtime_lock(&self, name: &str) -> Result<std::fs::File> {
        let file = self.lock_file(name)?;
        file.lock()
            .with_context(|| format!("locking .git/ork/{name}"))?;
        Ok(file)
    }

    /// Like [`Git::runtime_lock`], but `None` at once if another process holds it.
    pub fn try_runtime_lock(&self, name: &str) -> Result<Option<std::fs::File>> {
        let file = self.lock_file(name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking .git/ork/{name}"))
            }
        }
    }
}
