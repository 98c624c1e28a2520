//! Traks made in memory, for the unit tests of every room (the library's and the binary's): a
//! trak folded from its creation event, never written to a repository.

use crate::store::event::{Event, EventKind};
use crate::store::git::Oid;
use crate::store::state::{Status, TrakState};
use crate::store::{Location, Trak};

/// Trak `id` of flow `feature` at `stage` (its only stage), in `status`; a subtrak of `parent`
/// if given. Its tip is the null commit id.
pub fn trak(id: &str, parent: Option<&str>, status: Status, stage: &str) -> Trak {
    let created = Event::new(
        EventKind::Created {
            title: id.to_string(),
            flow: "feature".into(),
            base: "main".into(),
            stages: vec![stage.into()],
            parent: parent.map(str::to_string),
            key: parent.map(|_| "part".to_string()),
            after: Vec::new(),
            priority: None,
            source: None,
            agent: None,
            spawned_by: None,
        },
        "m",
        None,
    );
    let mut state = TrakState::fold(id, &[created]).expect("a creation event folds");
    state.status = status;
    state.stage = stage.to_string();
    Trak {
        id: id.to_string(),
        state,
        location: Location::Local,
        branch: format!("refs/heads/ork/{id}"),
        tip: Oid::from_hex(&[b'0'; 40]).expect("forty zeros are a commit id"),
    }
}
