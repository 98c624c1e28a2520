//! Joining two machines' histories of one trak, through the library: the union of event files,
//! byte for byte, and a state folded from them.

use crate::common;

use ork::store::event::{Actor, EventKind};
use ork::store::git::{FileWrite, Git};
use ork::store::state::Status;
use ork::store::{NewTrak, Store, record_dir};

use common::Repo;

#[test]
fn a_join_keeps_every_event_file_as_it_was_and_shows_the_conflict() {
    let repo = Repo::new();
    let store = Store::new(Git::discover(&repo.root).unwrap());
    let created = store
        .create(&NewTrak {
            title: "Shared",
            description: "",
            flow: "feature",
            stages: vec!["planning".into(), "work".into()],
            base: "main",
            id: None,
            parent: None,
            after: &[],
            priority: None,
            source: None,
            agent: None,
            spawned_by: None,
        })
        .unwrap();
    let review = store
        .record(
            &created,
            EventKind::ReviewRequested {
                stage: "planning".into(),
            },
        )
        .unwrap();

    // Here: approved. Elsewhere, from the same state: rejected, plus an event of a newer ork.
    let ours = store
        .record(
            &review,
            EventKind::Approved {
                stage: "planning".into(),
                by: Actor::Human,
            },
        )
        .unwrap();
    store
        .git()
        .update_ref(&ours.branch, review.tip, ours.tip, "test")
        .unwrap();
    let theirs = store
        .record(
            &review,
            EventKind::Rejected {
                stage: "planning".into(),
                feedback: "redo".into(),
                route_to: "planning".into(),
                by: Actor::Human,
            },
        )
        .unwrap();
    let future = br#"{"v":9,"id":"29990101T000000.000000Z-future-aaaaaa","at":"2999-01-01T00:00:00Z","machine":"future","type":"teleported","where":"mars"}"#;
    let future_path = format!(
        "{}/events/29990101T000000.000000Z-future-aaaaaa.json",
        record_dir(&theirs.id)
    );
    let their_tip = store
        .git()
        .write_commit(
            theirs.tip,
            &[FileWrite {
                path: future_path.clone(),
                contents: future.to_vec(),
            }],
            "a newer ork's event",
            None,
        )
        .unwrap();
    store
        .git()
        .update_ref(&ours.branch, ours.tip, theirs.tip, "test")
        .unwrap();

    let joined = store
        .join(&ours, their_tip, "elsewhere/ork/shared")
        .unwrap();
    assert_eq!(joined.state.status, Status::Conflict);
    assert_eq!(joined.state.conflicting_events.len(), 2);
    // Every event of both sides is there, the unknown one byte for byte.
    assert_eq!(
        store
            .git()
            .read_file(joined.tip, &future_path)
            .unwrap()
            .unwrap(),
        future.to_vec()
    );
    let events = store.events(&joined).unwrap();
    assert_eq!(
        events.len(),
        5,
        "created, review requested, approved, rejected, future"
    );
    // What is read back from the branch is the joined state.
    let reread = store.load(&joined.id).unwrap();
    assert_eq!(reread.state, joined.state);
    assert_eq!(reread.tip, joined.tip);
}
