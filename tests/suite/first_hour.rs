//! End to end: what a newcomer meets in the first hour. A title pasted whole (100 KB, or with
//! escape sequences) is cut and cleaned at the door, nothing typed lost; messages say what
//! happened in a person's words; shells complete commands, ids and flows; man pages install.

use crate::common;

use serde_json::json;

use common::sandbox::fake_agent;
use common::{RunsOrk, Sandbox, artifact};

/// Every commit subject on the branch `ork/<id>` since main.
fn subjects(sandbox: &Sandbox, id: &str) -> Vec<String> {
    common::lines(&sandbox.git(&["log", "--format=%s", &format!("main..ork/{id}")]))
}

#[test]
fn a_100_kb_title_is_cut_and_the_rest_starts_the_description() {
    let flow = Sandbox::review_flow("", json!({}));
    let title = (0..20_000)
        .map(|n| format!("w{n:03}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(title.len() > 100_000);
    let out = flow.ork(&["trak", "new", &title, "-d", "What I meant."]);
    let stdout = common::success(&out, "ork trak new <100 KB title>");
    let id = common::created_id(&stdout);
    let stderr = common::stderr(&out);
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("title")).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(
        notes[0].contains("longer than 200 characters") && notes[0].contains(&id),
        "{stderr}"
    );
    assert!(id.len() < 80, "{id}");

    // The stage ran and waits: every subject on the branch is short.
    flow.assert_status(&id, "awaiting_review");
    let subjects = subjects(&flow, &id);
    assert!(subjects.len() >= 3, "{subjects:?}");
    for subject in &subjects {
        assert!(subject.len() < 300, "a long subject: {}", &subject[..300]);
    }
    let kept = flow.trak(&id)["title"].as_str().unwrap().to_string();
    assert!(
        kept.starts_with("w000 w001") && kept.chars().count() <= 200,
        "{kept}"
    );

    // Nothing typed is lost: the title and the description hold every word, in order.
    let show = common::json(&flow.ork_ok(&["show", &id, "--json"]));
    let description = show["description"].as_str().unwrap();
    let rest = description
        .strip_prefix('…')
        .unwrap_or_else(|| panic!("{}", &description[..100]));
    let (rest, after) = rest.split_once("\n\n").unwrap();
    assert_eq!(format!("{kept} {rest}"), title);
    assert_eq!(after.trim_end(), "What I meant.");

    // Merged, its merge commit's subject is short too.
    flow.ork_ok(&["approve", &id]);
    flow.ork_ok(&["approve", &id]);
    flow.assert_status(&id, "done");
    let merge = flow.git(&["log", "-1", "--format=%s", "main"]);
    assert!(merge.len() < 300, "{}", &merge[..300]);
    assert!(merge.starts_with("w000 w001"), "{merge}");
}

#[test]
fn escape_sequences_in_a_title_reach_no_commit_and_no_terminal() {
    let flow = Sandbox::review_flow("", json!({}));
    let (id, _) = flow.new_trak("\x1b[31mred\x1b[0m\talert\r\x07 \u{9b}done", &[]);
    let title = flow.trak(&id)["title"].as_str().unwrap().to_string();
    assert_eq!(title, "red alert done");
    for subject in subjects(&flow, &id) {
        assert!(!subject.contains(|c: char| c.is_control()), "{subject:?}");
    }
    for args in [vec!["status"], vec!["show", &id], vec!["log", &id]] {
        let out = flow.ork_ok(&args);
        assert!(!out.contains('\x1b'), "ork {args:?}:\n{out:?}");
        assert!(out.contains("red alert"), "ork {args:?}:\n{out}");
    }
}

#[test]
fn a_breakdown_agent_s_titles_are_cleaned_too() {
    let workflow = format!(
        "default_flow = \"feature\"\n\n{}\n\
         [flows.feature]\n\n\
         [[flows.feature.stages]]\nname = \"breakdown\"\nagent = \"fake\"\nprompt = \"breakdown.md\"\nartifact = \"breakdown\"\nreview = \"auto\"\n\
         subtraks = {{ flow = \"part\" }}\n\n\
         [[flows.feature.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"human\"\n\n\
         [flows.part]\n\n\
         [[flows.part.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n",
        fake_agent("30s")
    );
    let long = "x".repeat(120);
    let flow = Sandbox::new(
        &workflow,
        json!({
            "breakdown": [{"result": {"type": "breakdown", "content": "Split.", "subtraks": [
                {"key": "db", "title": "\x1b[1mStore\x1b[0m\ttokens\u{85}now", "description": "d", "depends_on": []},
                {"key": "ui", "title": format!("{long} {long}"), "description": "the page", "depends_on": []},
            ]}}],
            "work": [artifact("done")],
        }),
    );
    let (id, _) = flow.new_trak("Add login", &[]);
    flow.assert_status(&id, "awaiting_review");
    let db = flow.trak(&format!("{id}.db"));
    assert_eq!(db["title"], "Store tokens now", "{db:#}");
    let ui = format!("{id}.ui");
    assert_eq!(flow.trak(&ui)["title"].as_str(), Some(long.as_str()));
    let show = common::json(&flow.ork_ok(&["show", &ui, "--json"]));
    let description = show["description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("…{long}\n\n")),
        "{description}"
    );
    let all = flow.git(&["log", "--all", "--format=%s"]);
    assert!(
        !all.contains(|c: char| c.is_control() && c != '\n'),
        "{all:?}"
    );
}

/// The last failed run's error of `id`'s stage `stage`.
fn last_error(sandbox: &Sandbox, id: &str) -> String {
    let finished = sandbox.events_of(id, "stage_finished");
    let last = finished.last().expect("a finished run");
    last["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not a failure: {last:#}"))
        .to_string()
}

#[test]
fn an_output_file_just_past_what_ork_reads_says_so_in_bytes() {
    let flow = Sandbox::review_flow("", json!({}));
    // Writes a valid artifact result of exactly argv[1] bytes to $ORK_OUTPUT.
    let emit = flow.base.join("emit.py");
    std::fs::write(
        &emit,
        "import os, sys\nn = int(sys.argv[1])\npre, post = '{\"type\": \"artifact\", \"content\": \"', '\"}'\n\
         open(os.environ['ORK_OUTPUT'], 'w').write(pre + 'x' * (n - len(pre) - len(post)) + post)\n",
    )
    .unwrap();
    let run = |bytes: u64| json!({"run": format!("python3 {} {bytes}", emit.display())});
    flow.set_plan(json!({"planning": [run(5 << 20), run((5 << 20) + 1)]}));

    // Exactly what ork reads (4 × the 1 MiB artifact cap, plus 1 MiB) is read.
    let (exact, _) = flow.new_trak("Exactly the bound", &[]);
    flow.assert_at(&exact, "awaiting_review", "planning");

    // One byte more is refused, and the message does not say "5 MiB, more than the 5 MiB".
    let (past, _) = flow.new_trak("One byte past", &[]);
    flow.assert_status(&past, "failed");
    let error = last_error(&flow, &past);
    assert!(
        error.contains(
            "the agent wrote 5242881 bytes to $ORK_OUTPUT, more than the 5242880 bytes (5 MiB) ork reads"
        ),
        "{error}"
    );
}

#[test]
fn an_unreadable_result_says_what_was_expected_and_where_it_came_from() {
    let flow = Sandbox::review_flow(
        "",
        json!({"planning": [{"result": "just text"}, {"result": {"content": "# Plan"}}]}),
    );
    let (id, _) = flow.new_trak("Add login", &["--no-run"]);
    let out = flow.ork(&["resume", &id]);
    let all = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(!all.contains("struct"), "{all}");
    let finished = flow.events_of(&id, "stage_finished");
    let errors: Vec<&str> = finished
        .iter()
        .filter_map(|e| e["error"].as_str())
        .collect();
    assert!(errors.len() >= 2, "{finished:#?}");
    let output = format!(".git/ork/runs/{id}/planning-1/output.json");
    for (error, says) in errors.iter().zip([
        "it holds a string, not a JSON object",
        "the object has no \"type\"",
    ]) {
        assert!(
            error.starts_with("the agent's $ORK_OUTPUT (") && error.contains("output.json)"),
            "{error}"
        );
        assert!(
            error.contains(&format!("is not a result ork can read: {says}")),
            "{error}"
        );
        assert!(
            error.contains("one JSON object with a \"type\" (artifact, verdict, questions, breakdown or failed)"),
            "{error}"
        );
        assert!(!error.contains("struct"), "{error}");
    }
    assert!(errors[0].contains(&output), "{}\n{output}", errors[0]);
}

#[test]
fn diff_of_a_stage_names_each_version_by_its_run_and_attempt() {
    let flow = Sandbox::review_flow(
        "",
        json!({"planning": [artifact("# Plan\n\nv1\n"), artifact("# Plan\n\nv2\n")]}),
    );
    let (id, _) = flow.new_trak("Add login", &[]);
    let one = flow.ork_ok(&["diff", &id, "--stage", "planning"]);
    assert!(
        one.starts_with("Stage planning has one version so far, from run 1 (attempt 1):"),
        "{one}"
    );
    // A rejection starts the stage over: its next run is attempt 1 again.
    flow.ork_ok(&["reject", &id, "-m", "more"]);
    let diff = flow.ork_ok(&["diff", &id, "--stage", "planning"]);
    let lines: Vec<&str> = diff.lines().take(3).collect();
    assert_eq!(
        lines,
        [
            "=== planning: run 1 (attempt 1) → run 2 (attempt 1) ===",
            "--- planning, run 1 (attempt 1)",
            "+++ planning, run 2 (attempt 1)",
        ],
        "{diff}"
    );
    assert!(diff.contains("-v1") && diff.contains("+v2"), "{diff}");
    let json = common::json(&flow.ork_ok(&["diff", &id, "--stage", "planning", "--json"]));
    let versions: Vec<(u64, u64)> = json["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["run"].as_u64().unwrap(), v["attempt"].as_u64().unwrap()))
        .collect();
    assert_eq!(versions, [(1, 1), (2, 1)], "{json:#}");
}
