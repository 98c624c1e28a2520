//! End to end: what lands on main reads like a person's history (docs/data-model.md, "The
//! integration commit"). By default a trak lands as one commit of code whose message is its
//! title and its work's summary; its whole record stays on `ork/<id>`, linked by trailers.

use crate::common;

use serde_json::json;

use common::sandbox::{feature_workflow, stage};
use common::{Net, RunsOrk, Sandbox};

/// One work stage a person approves, integrated the default way (no `strategy` key).
fn default_landing() -> String {
    feature_workflow(
        "20s",
        "",
        &[stage("work", "worker.md", "summary", "review = \"human\"")],
    )
    .replace("strategy = \"merge\"\n", "")
}

fn writes(file: &str, content: &str, summary: &str) -> serde_json::Value {
    json!({"write": {file: content}, "result": {"type": "artifact", "content": summary}})
}

/// Subjects of `rev`'s first-parent history, newest first.
fn subjects(s: &Sandbox, rev: &str) -> Vec<String> {
    common::lines(&s.repo.git(&["log", "--first-parent", "--format=%s", rev]))
}

#[test]
fn git_log_main_holds_one_commit_per_trak_with_the_works_summary() {
    let s = Sandbox::new(
        &default_landing(),
        json!({"work": [
            writes("a.txt", "a\n", "Added a.txt.\n\nIt holds the letter a."),
            writes("b.txt", "b\n", "Added b.txt."),
            writes("a.txt", "A\n", "Made a.txt shout."),
        ]}),
    );
    let before = subjects(&s, "main");
    let (a, _) = s.new_trak("Add a", &[]);
    s.ork_ok(&["approve", &a]);
    let (b, _) = s.new_trak("Add b", &[]);
    s.ork_ok(&["approve", &b]);
    s.assert_status(&a, "done");
    s.assert_status(&b, "done");

    // Two entries, the traks' titles, and nothing of ork's bookkeeping.
    let after = subjects(&s, "main");
    assert_eq!(after.len(), before.len() + 2, "{after:#?}");
    assert_eq!(after[..2], ["Add b".to_string(), "Add a".to_string()]);
    assert!(
        s.repo
            .git(&["log", "--format=%s", "main"])
            .lines()
            .all(|l| !l.starts_with("ork:"))
    );
    let message = s.repo.git(&["log", "-1", "--format=%B", "main~1"]);
    assert!(
        message.contains("Added a.txt.\n\nIt holds the letter a."),
        "{message}"
    );
    assert_eq!(s.repo.trailer("main~1", "Ork-Trak"), a);
    assert_eq!(
        s.repo
            .git(&["log", "-1", "--format=%P", "main"])
            .split(' ')
            .count(),
        1
    );
    let files = s.repo.tree_files("main");
    assert!(files.contains(&"b.txt".to_string()), "{files:?}");
    assert!(
        !files.iter().any(|f| f.starts_with(".orkestra/traks/")),
        "{files:?}"
    );

    // The record is all on the trak's branch, its tip named by the commit that landed it.
    let story = s.repo.git(&["log", "--format=%s", &format!("ork/{a}")]);
    assert!(
        story.lines().filter(|l| l.starts_with("ork:")).count() >= 4,
        "{story}"
    );
    let landed = s.events_of(&a, "integrated");
    assert_eq!(landed.len(), 1);
    assert_eq!(
        landed[0]["commit"].as_str().unwrap(),
        s.repo.git(&["rev-parse", "main~1"])
    );
    let named = s.repo.trailer("main~1", "Ork-Trak-Tip");
    assert_eq!(named, s.repo.git(&["rev-parse", &format!("ork/{a}~1")]));

    // A trak landed as a squash is not seen as a change still to come: a new trak editing
    // the same file forecasts no conflict with it.
    let (c, _) = s.new_trak("Shout a", &[]);
    let json = common::json(&s.ork_ok(&["status", "--json", "--all"]));
    for trak in json["traks"].as_array().unwrap() {
        assert_eq!(trak["conflicts"], json!([]), "{}: {json:#}", trak["id"]);
    }
    s.ork_ok(&["approve", &c]);
    assert_eq!(s.repo.git(&["show", "main:a.txt"]), "A");
}

#[test]
fn a_squash_that_landed_before_a_crash_is_recorded_not_landed_twice() {
    let s = Sandbox::new(
        &default_landing(),
        json!({"work": [writes("a.txt", "a\n", "Added a.txt.")]}),
    );
    let (id, _) = s.new_trak("Add a", &[]);
    s.ork_ok(&["approve", &id]);
    let main = s.repo.git(&["rev-parse", "main"]);
    // As if ork died after moving main, before recording `integrated`.
    let branch = format!("refs/heads/ork/{id}");
    s.repo.git(&["update-ref", &branch, &format!("{branch}~1")]);
    assert_ne!(s.at(&id).0, "done");

    s.ork_ok(&["integrate", &id]);
    s.assert_status(&id, "done");
    assert_eq!(
        s.repo.git(&["rev-parse", "main"]),
        main,
        "nothing landed twice"
    );
    assert_eq!(
        s.events_of(&id, "integrated")[0]["commit"]
            .as_str()
            .unwrap(),
        main
    );
}

#[test]
fn a_squashed_trak_on_a_shared_base_is_seen_done_on_the_other_machine_which_lands_after_it() {
    let net = Net::new(&default_landing());
    net.a
        .set_plan(json!({"work": [writes("a.txt", "a\n", "Added a.")]}));
    net.b
        .set_plan(json!({"work": [writes("b.txt", "b\n", "Added b.")]}));
    let (first, _) = net.a.new_trak("First", &[]);
    net.a.ork_ok(&["approve", &first]);
    net.a.ork_ok(&["sync"]);
    net.b.ork_ok(&["sync"]);
    net.b.assert_status(&first, "done");
    let (second, _) = net.b.new_trak("Second", &[]);
    net.b.ork_ok(&["approve", &second]);
    net.b.assert_status(&second, "done");

    let remote_log = common::lines(&net.remote.git(&["log", "--format=%s", "main"]));
    assert_eq!(remote_log[..2], ["Second".to_string(), "First".to_string()]);
    assert!(
        remote_log.iter().all(|l| !l.starts_with("ork:")),
        "{remote_log:#?}"
    );
    // The first trak's whole story came to B with the sync.
    let story = net
        .b
        .repo
        .git(&["log", "--format=%s", &format!("origin/ork/{first}")]);
    assert!(story.contains("ork: "), "{story}");
}
