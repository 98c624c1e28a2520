//! What went wrong without stopping the work (a worktree that could not follow its branch, a
//! claim that could not be renewed, a runs folder left behind), kept as values for the caller
//! to show: the library never writes to the terminal, because the terminal may be `ork ui`'s
//! screen.
//!
//! One [`Warnings`] is shared by a [`Store`](super::Store) and every thread working for the
//! same command (the claim's heartbeat), so nothing a thread notices is lost; the front end
//! takes them out and shows them its own way (`warning: …` on stderr, the UI's message line).

use std::sync::{Arc, Mutex};

/// A shared list of warnings, each one sentence or two with the way out, without a
/// `warning:` label (the front end adds its own).
#[derive(Clone, Default, Debug)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn push(&self, text: impl Into<String>) {
        self.lock().push(text.into());
    }

    /// The warnings not yet shown, oldest first; the list is empty after.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A thread that panicked holding the lock left a list of strings: still whole.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_shares_the_list_and_take_empties_it() {
        let warnings = Warnings::default();
        let thread_copy = warnings.clone();
        std::thread::spawn(move || thread_copy.push("from a thread"))
            .join()
            .unwrap();
        warnings.push("here");
        assert_eq!(warnings.take(), ["from a thread", "here"]);
        assert!(warnings.take().is_empty());
    }
}
