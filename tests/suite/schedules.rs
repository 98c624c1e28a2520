//! End to end: scheduled traks (`[[schedule]]`). `ork run --watch` makes one trak per slot of
//! a schedule that fires every second, on one machine and on two clones of one bare remote
//! watching at once (each slot one trak in total, the loser left with nothing of its own);
//! slots missed while no one watched fire once; a new schedule starts from now; a trak made
//! for a slot whose record could not be written (as after a crash) is that slot's trak the
//! next time, never a second one, and with the shared queue no trak is made while the remote
//! cannot take the record; `ork schedule` lists the next slots in the schedule's zone; mistakes in a schedule are errors
//! naming the file and line.

use crate::common;

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::{Value, json};

use common::sandbox::{feature_workflow, stage};
use common::{Cleanup, Net, RunsOrk, Sandbox, artifact, lines, pids, wait_until};

/// One `work` stage that waits for a human (so a scheduled trak stops there), the fake agent
/// running it, `extra` top-level TOML (`[sync]`), and `schedules` after it.
fn workflow(extra: &str, schedules: &str) -> String {
    format!(
        "{}\n{schedules}",
        feature_workflow(
            "60s",
            extra,
            &[stage("work", "worker.md", "summary", "review = \"human\"")]
        )
    )
}

/// A `[[schedule]]` named `name` on `cron`, with `extra` keys.
fn schedule(name: &str, cron: &str, extra: &str) -> String {
    format!(
        "[[schedule]]\nname = \"{name}\"\ncron = \"{cron}\"\ntitle = \"Routine check\"\n{extra}\n"
    )
}

/// Every second: the seconds field first.
const EVERY_SECOND: &str = "* * * * * *";

/// Once a year, at midnight on January 1st (UTC): a slot that passed long ago, and none to
/// come while a test runs (unless it runs across New Year's midnight).
const YEARLY: &str = "0 0 1 1 *";

/// A sandbox whose scheduled traks stop at a human review after one run.
fn sandbox(workflow: &str) -> Sandbox {
    Sandbox::new(workflow, json!({"work": [artifact("checked")]}))
}

/// Starts `ork run --watch` on `machine` in the background, its output in `log`.
fn spawn_watch(machine: &Sandbox, log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    machine
        .ork_command(&["run", "--watch"])
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("starting ork run --watch")
}

/// The command line of the background `ork resume` that `ork run` starts for trak `id`.
fn resume_cmdline(machine: &Sandbox, id: &str) -> String {
    format!(
        "{} -C {} resume {id}",
        env!("CARGO_BIN_EXE_ork"),
        machine.repo.root.display()
    )
}

/// Stops the watchers, then waits for the runs they started on `machines` to end (each stops
/// at its human review), so nothing of the test runs on.
fn stop_watching(cleanup: &mut Cleanup, machines: &[&Sandbox], prefix: &str) {
    for child in &mut cleanup.children {
        let _ = child.kill();
        let _ = child.wait();
    }
    for machine in machines {
        for id in trak_ids(&machine.repo.trak_branches(), prefix) {
            cleanup.cmdlines.push(resume_cmdline(machine, &id));
        }
    }
    wait_until(Duration::from_secs(120), "the started runs to end", || {
        cleanup.cmdlines.iter().all(|cmd| pids(cmd).is_empty())
    });
}

/// The trak ids among `branches` (`ork/<id>`) that start with `prefix`.
fn trak_ids(branches: &[String], prefix: &str) -> Vec<String> {
    branches
        .iter()
        .filter_map(|b| b.strip_prefix("ork/"))
        .filter(|id| id.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// The trak ids on the bare `remote` that start with `prefix`.
fn remote_trak_ids(remote: &common::Repo, prefix: &str) -> Vec<String> {
    let branches = lines(&remote.git(&[
        "for-each-ref",
        "--format=%(refname:short)",
        "refs/heads/ork/",
    ]));
    trak_ids(&branches, prefix)
}

/// The `scheduled` lines of a watcher's log, each `(trak, slot)`.
fn scheduled_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(": scheduled by "))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

/// A schedule's record in `repo` at `reference`, as JSON.
fn record(repo: &common::Repo, reference: &str) -> Value {
    common::json(&repo.git(&["show", &format!("{reference}:schedule.json")]))
}

/// Sets schedule `name`'s local record to `slot` (as a machine that fired it then would
/// have), through git's plumbing.
fn set_record(machine: &Sandbox, name: &str, slot: &str) {
    let repo = &machine.repo;
    let file = machine.path("schedule.json");
    let body = json!({"v": 1, "schedule": name, "slot": slot, "trak": null,
                      "machine": "elsewhere", "fired_at": slot});
    std::fs::write(&file, body.to_string()).unwrap();
    let blob = repo.git(&["hash-object", "-w", file.to_str().unwrap()]);
    let index = machine.path("schedule.index");
    let with_index = |args: &[&str]| {
        let out = repo
            .command("git", &repo.root)
            .env("GIT_INDEX_FILE", &index)
            .args(args)
            .output()
            .unwrap();
        common::success(&out, &format!("git {args:?}"))
            .trim()
            .to_string()
    };
    with_index(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{blob},schedule.json"),
    ]);
    let tree = with_index(&["write-tree"]);
    let commit = repo.git(&["commit-tree", &tree, "-m", "an old slot"]);
    repo.git(&["update-ref", &format!("refs/ork/schedules/{name}"), &commit]);
}

/// Asserts that each trak among `made` was scheduled once in `printed` (the watchers' lines),
/// except perhaps the newest: a watcher stopped between making a trak and saying so (a kill is
/// a crash) leaves one trak unannounced, never an older one. Returns the announced ids.
fn announced_once(printed: &[String], made: &[String]) -> Vec<String> {
    let all = printed.join("\n---\n");
    let mut scheduled: Vec<String> = printed.iter().flat_map(|l| scheduled_lines(l)).collect();
    scheduled.sort();
    let mut distinct = scheduled.clone();
    distinct.dedup();
    assert_eq!(distinct, scheduled, "a slot was scheduled twice:\n{all}");
    assert!(made.len() >= scheduled.len(), "{made:?}\n{all}");
    assert_eq!(made[..scheduled.len()], scheduled[..], "{made:?}\n{all}");
    assert!(made.len() <= scheduled.len() + 1, "{made:?}\n{all}");
    scheduled
}

#[test]
fn a_watch_makes_one_trak_per_slot_of_a_schedule_firing_every_second() {
    let s = sandbox(&workflow("", &schedule("tick", EVERY_SECOND, "")));
    let log = s.path("watch.log");
    let mut cleanup = Cleanup {
        cmdlines: Vec::new(),
        children: vec![spawn_watch(&s, &log)],
    };
    wait_until(Duration::from_secs(120), "three scheduled traks", || {
        scheduled_lines(&std::fs::read_to_string(&log).unwrap_or_default()).len() >= 3
    });
    stop_watching(&mut cleanup, &[&s], "tick-");
    let printed = std::fs::read_to_string(&log).unwrap();

    // The first look started the schedule from then, without a trak for a slot that passed.
    let first = printed
        .lines()
        .find(|l| l.contains("schedule tick") || l.contains("scheduled by tick"))
        .unwrap();
    assert!(first.contains("starts from"), "{printed}");
    // Each trak was scheduled once, for a slot of its own, which its title says.
    let made = trak_ids(&s.repo.trak_branches(), "tick-");
    let scheduled = announced_once(std::slice::from_ref(&printed), &made);
    let mut titles: Vec<String> = made
        .iter()
        .map(|id| s.trak(id)["title"].as_str().unwrap().to_string())
        .collect();
    titles.dedup();
    assert_eq!(titles.len(), made.len(), "{titles:?}");
    assert!(
        titles.iter().all(|t| t.starts_with("Routine check (")),
        "{titles:?}"
    );
    // The record names the newest trak (ids sort by slot), as fired by this machine; or the
    // one before, if the watcher stopped between making the newest and recording it.
    let last = record(&s.repo, "refs/ork/schedules/tick");
    assert!(
        made.iter()
            .rev()
            .take(2)
            .any(|id| last["trak"] == id.as_str()),
        "{last}\n{made:?}"
    );
    assert_eq!(last["machine"], common::MACHINE);
    // Scheduled traks are due like any other: each started before the last ran its stage and
    // waits for its review.
    for id in &scheduled[..scheduled.len() - 1] {
        assert_eq!(s.status(id), "awaiting_review", "{id}\n{printed}");
    }
}

#[test]
fn two_machines_watching_one_remote_make_one_trak_per_slot_in_total() {
    let net = Net::new(&workflow(
        "[sync]\nqueue = true\n",
        &schedule("tick", EVERY_SECOND, ""),
    ));
    let machines = [&net.a, &net.b];
    for m in machines {
        m.set_plan(json!({"work": [artifact("checked")]}));
    }
    let logs: Vec<_> = machines
        .iter()
        .map(|m| m.plan.with_extension("watch.log"))
        .collect();
    let read_logs = || -> Vec<String> {
        logs.iter()
            .map(|log| std::fs::read_to_string(log).unwrap_or_default())
            .collect()
    };
    let mut cleanup = Cleanup {
        cmdlines: Vec::new(),
        children: machines
            .iter()
            .zip(&logs)
            .map(|(m, log)| spawn_watch(m, log))
            .collect(),
    };
    wait_until(Duration::from_secs(240), "four scheduled traks", || {
        read_logs()
            .iter()
            .map(|l| scheduled_lines(l).len())
            .sum::<usize>()
            >= 4
    });
    stop_watching(&mut cleanup, &machines, "tick-");
    let printed = read_logs();
    let all = printed.join("\n---\n");

    // Every slot the remote has a trak for was scheduled by exactly one of the machines.
    let remote_ids = remote_trak_ids(&net.remote, "tick-");
    announced_once(&printed, &remote_ids);
    // The remote's record names the newest of them: the record and the trak's branch went in
    // one push.
    let last = record(&net.remote, "refs/ork/schedules/tick");
    assert_eq!(
        last["trak"],
        remote_ids.last().unwrap().as_str(),
        "{last}\n{all}"
    );
    // Neither machine kept a trak of its own for a slot the other fired, not even one stopped
    // half-way through firing: every local trak is on the remote, and each local copy is the
    // remote's, or the remote's with runs recorded on top (never a history of its own).
    for m in machines {
        m.git(&["fetch", "-q", "origin"]);
        let local = trak_ids(&m.repo.trak_branches(), "tick-");
        // A trak given up leaves no worktree behind.
        let worktrees = trak_ids(
            &m.repo
                .worktree_dirs()
                .iter()
                .map(|dir| format!("ork/{dir}"))
                .collect::<Vec<_>>(),
            "tick-",
        );
        assert!(
            worktrees.iter().all(|dir| local.contains(dir)),
            "{}: worktrees {worktrees:?}, traks {local:?}",
            m.label()
        );
        let unshared: Vec<&String> = local.iter().filter(|id| !remote_ids.contains(id)).collect();
        assert!(
            unshared.is_empty(),
            "{}: {unshared:?} not on the remote\n{all}",
            m.label()
        );
        for id in local.iter().filter(|id| remote_ids.contains(id)) {
            let (local, remote) = (format!("ork/{id}"), format!("origin/ork/{id}"));
            let related = |a: &str, b: &str| {
                m.repo
                    .git_output(&["merge-base", "--is-ancestor", a, b])
                    .status
                    .success()
            };
            assert!(
                related(&remote, &local) || related(&local, &remote),
                "{}: {local} is not the remote's trak\n{all}",
                m.label()
            );
        }
    }
}

#[test]
fn slots_missed_while_no_one_watched_fire_once_and_a_new_schedule_starts_from_now() {
    let s = sandbox(&workflow("", &schedule("yearly", YEARLY, "")));
    let newest = chrono::Utc::now().format("%Y-01-01T00:00:00Z").to_string();

    // First sight: the newest past slot is recorded, no trak made for it.
    let out = s.ork_ok(&["run"]);
    assert!(out.contains("schedule yearly: starts from"), "{out}");
    assert_eq!(
        trak_ids(&s.repo.trak_branches(), "yearly-"),
        Vec::<String>::new()
    );
    let started = record(&s.repo, "refs/ork/schedules/yearly");
    assert_eq!(started["trak"], Value::Null);
    assert_eq!(
        started["slot"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        newest.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );

    // Six years of slots missed: one trak, for the newest.
    set_record(&s, "yearly", "2020-01-01T00:00:00Z");
    let out = s.ork_ok(&["run"]);
    let ids = trak_ids(&s.repo.trak_branches(), "yearly-");
    assert_eq!(ids.len(), 1, "{out}");
    let slot_id = chrono::Utc::now()
        .format("yearly-%Y0101-000000")
        .to_string();
    assert_eq!(ids, std::slice::from_ref(&slot_id));
    assert!(
        out.contains(&format!("{slot_id}: scheduled by yearly")),
        "{out}"
    );
    // Plain `ork run` ran it too, like any trak due.
    assert_eq!(s.status(&slot_id), "awaiting_review", "{out}");
    let fired = record(&s.repo, "refs/ork/schedules/yearly");
    assert_eq!(fired["trak"], slot_id.as_str());

    // Nothing more is due until the next slot.
    let out = s.ork_ok(&["run"]);
    assert!(!out.contains("scheduled"), "{out}");
    assert_eq!(trak_ids(&s.repo.trak_branches(), "yearly-").len(), 1);
}

#[test]
fn a_trak_made_for_a_slot_whose_record_was_not_written_is_the_slots_trak_next_time() {
    // Without the shared queue the trak is made first, then the record moved: a record that
    // cannot be written (its ref locked) is what a crash between the two leaves.
    let s = sandbox(&workflow("", &schedule("yearly", YEARLY, "")));
    s.ork_ok(&["run"]);
    set_record(&s, "yearly", "2020-01-01T00:00:00Z");
    let lock = s.repo.root.join(".git/refs/ork/schedules/yearly.lock");
    std::fs::write(&lock, "").unwrap();

    let out = s.ork(&["run"]);
    let printed = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(printed.contains("warning: schedule yearly:"), "{printed}");
    let made = trak_ids(&s.repo.trak_branches(), "yearly-");
    assert_eq!(made.len(), 1, "{printed}");
    let old = record(&s.repo, "refs/ork/schedules/yearly");
    assert_eq!(old["slot"], "2020-01-01T00:00:00Z");

    // With the ref free again, the next look fires that trak for the slot: no second one.
    std::fs::remove_file(&lock).unwrap();
    let out = s.ork_ok(&["run"]);
    assert!(
        out.contains(&format!("{}: scheduled by yearly", made[0])),
        "{out}"
    );
    assert_eq!(trak_ids(&s.repo.trak_branches(), "yearly-"), made, "{out}");
    let fired = record(&s.repo, "refs/ork/schedules/yearly");
    assert_eq!(fired["trak"], made[0].as_str(), "{fired}");
    let out = s.ork_ok(&["run"]);
    assert!(!out.contains("scheduled"), "{out}");
}

#[test]
fn a_slot_whose_record_cannot_reach_the_shared_queue_makes_no_trak_until_it_can() {
    // With the shared queue the remote decides: while it cannot be reached, no trak is made
    // for the slot, and the slot stays due.
    let s = sandbox(&workflow(
        "[sync]\nqueue = true\n",
        &schedule("yearly", YEARLY, ""),
    ))
    .with_remote();
    s.ork_ok(&["run"]);
    set_record(&s, "yearly", "2020-01-01T00:00:00Z");
    s.git(&[
        "push",
        "-q",
        "--force",
        "origin",
        "refs/ork/schedules/yearly:refs/ork/schedules/yearly",
    ]);
    s.git(&["fetch", "-q", "origin"]);
    let remote = s.remote().root.clone();
    let away = remote.with_extension("away");
    std::fs::rename(&remote, &away).unwrap();

    let out = s.ork(&["run"]);
    let printed = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(printed.contains("warning: schedule yearly:"), "{printed}");
    assert_eq!(
        trak_ids(&s.repo.trak_branches(), "yearly-"),
        Vec::<String>::new(),
        "{printed}"
    );

    std::fs::rename(&away, &remote).unwrap();
    let out = s.ork_ok(&["run"]);
    let made = trak_ids(&s.repo.trak_branches(), "yearly-");
    assert_eq!(made.len(), 1, "{out}");
    assert!(
        out.contains(&format!("{}: scheduled by yearly", made[0])),
        "{out}"
    );
    assert_eq!(remote_trak_ids(s.remote(), "yearly-"), made, "{out}");
    let fired = record(s.remote(), "refs/ork/schedules/yearly");
    assert_eq!(fired["trak"], made[0].as_str(), "{fired}");
    // It got its worktree here, and ran like any trak due.
    assert_eq!(s.status(&made[0]), "awaiting_review", "{out}");
    let out = s.ork_ok(&["run"]);
    assert!(!out.contains("scheduled"), "{out}");
}

#[test]
fn ork_schedule_lists_the_next_slots_in_the_schedules_time_zone() {
    let s = sandbox(&workflow(
        "",
        &schedule(
            "weekday-deps",
            "0 4 * * 1-5",
            "timezone = \"Europe/Berlin\"\nflow = \"feature\"",
        ),
    ));
    let listed = common::json(&s.ork_ok(&["schedule", "--json", "-n", "7"]));
    let entry = &listed["schedules"][0];
    assert_eq!(entry["name"], "weekday-deps");
    assert_eq!(entry["cron"], "0 4 * * 1-5");
    assert_eq!(entry["timezone"], "Europe/Berlin");
    assert_eq!(entry["last"], Value::Null);
    let next: Vec<chrono::DateTime<chrono::FixedOffset>> = entry["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(next.len(), 7, "{listed}");
    let now = chrono::Utc::now();
    for (index, slot) in next.iter().enumerate() {
        use chrono::{Datelike, Timelike};
        // 04:00 on a weekday, Berlin's time: its offset is Berlin's (+01:00 or, in summer,
        // +02:00), later than now and than the slot before.
        assert_eq!((slot.hour(), slot.minute()), (4, 0), "{slot}");
        assert!(slot.weekday().number_from_monday() <= 5, "{slot}");
        let offset = slot.offset().local_minus_utc();
        assert!(offset == 3600 || offset == 7200, "{slot}");
        assert!(*slot > now, "{slot}");
        assert!(index == 0 || *slot > next[index - 1], "{next:?}");
    }

    let text = s.ork_ok(&["schedule"]);
    assert!(
        text.contains("weekday-deps: \"Routine check\", flow feature"),
        "{text}"
    );
    assert!(text.contains("0 4 * * 1-5 (Europe/Berlin)"), "{text}");
    assert!(text.contains("last fired: never"), "{text}");
    let first = next[0].format("%a %Y-%m-%d 04:00 %:z").to_string();
    assert!(text.contains(&first), "{text}");
}

#[test]
fn mistakes_in_a_schedule_are_errors_naming_the_file_and_line() {
    let cases = [
        (
            schedule("nightly", "61 4 * * *", ""),
            "cron = \"61",
            "does not parse",
        ),
        (
            schedule("nightly", "0 4 * * *", "timezone = \"Mars/Olympus\""),
            "timezone =",
            "time zone \"Mars/Olympus\" that is not known",
        ),
        (
            schedule("nightly", "0 4 * * *", "flow = \"nightly\""),
            "flow = \"nightly\"",
            "flow \"nightly\" that does not exist",
        ),
        (
            schedule("Nightly Job", "0 4 * * *", ""),
            "name = \"Nightly Job\"",
            "cannot name a ref",
        ),
        (
            format!(
                "{}{}",
                schedule("nightly", "0 4 * * *", ""),
                schedule("nightly", "0 5 * * *", "")
            ),
            "name = \"nightly\"\ncron = \"0 5",
            "two schedules are named \"nightly\"",
        ),
    ];
    for (entry, at, problem) in cases {
        let text = workflow("", &entry);
        let s = sandbox(&text);
        let written = s.repo.read(".orkestra/workflow.toml");
        let line = written[..written.find(at).unwrap()].matches('\n').count() + 1;
        let err = s.ork_err(&["schedule"]);
        assert!(
            err.contains(&format!(".orkestra/workflow.toml:{line}:")),
            "expected line {line} for {problem:?}:\n{err}"
        );
        assert!(err.contains(problem), "{err}");
        assert!(err.contains("fix:"), "{err}");
    }
}
