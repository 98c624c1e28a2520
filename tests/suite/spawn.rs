//! End to end: an agent inside a trak's run and ork's MCP server. The stage says what the agent
//! gets (`mcp = "read"`, `spawn = { max = N }`): the fake agent's run starts the server it was
//! given (`$ORK_MCP_COMMAND`) with a small MCP client (`fixtures/agents/mcp-client`), as an agent
//! CLI would, and tries what an agent might — more traks than allowed, a decision, the command
//! line, a request file written by hand. Only what the stage allows happens.

use crate::common;

use std::path::PathBuf;

use serde_json::{Value, json};

use common::sandbox::{feature_workflow, stage};
use common::{RunsOrk, Sandbox, artifact};

/// The MCP client the fake agent runs.
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/mcp-client");

/// The tools that only look.
const READ_TOOLS: [&str; 4] = ["diff", "list_traks", "logs", "show_trak"];

/// `text` quoted for the shell.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// One `work` stage, reviewed by a person, with `keys` (TOML) added.
fn sandbox_with(keys: &str, run: &str) -> Sandbox {
    let workflow = feature_workflow(
        "60s",
        "",
        &[stage(
            "work",
            "worker.md",
            "summary",
            &format!("review = \"human\"\n{keys}"),
        )],
    );
    let mut work = artifact("Done.");
    work["run"] = json!(run);
    Sandbox::new(&workflow, json!({ "work": [work] }))
}

/// Where the client's report of run `name` goes: the fake agent's own folder, which the
/// sandbox lets it write.
fn report_path(s: &Sandbox, name: &str) -> PathBuf {
    s.agent_dir.join(format!("{name}.json"))
}

/// The shell command that runs the client with `calls`, on the server given (`server`, else
/// `$ORK_MCP_COMMAND`), its report in `name`.
fn client(s: &Sandbox, name: &str, calls: Value, server: &[&str]) -> String {
    let mut line = format!(
        "mkdir -p {dir} && {CLIENT} {out} {calls}",
        dir = quoted(&s.agent_dir.display().to_string()),
        out = quoted(&report_path(s, name).display().to_string()),
        calls = quoted(&calls.to_string())
    );
    for arg in server {
        line.push(' ');
        line.push_str(&quoted(arg));
    }
    line
}

/// The shell command that runs `ork trak new TITLE --no-run` from the agent's shell, its
/// output and exit code in `name`.
fn cli_new(s: &Sandbox, name: &str, title: &str) -> String {
    let out = quoted(
        &s.agent_dir
            .join(format!("{name}.txt"))
            .display()
            .to_string(),
    );
    format!(
        "{} trak new {} --no-run > {out} 2>&1; echo \"exit $?\" >> {out}",
        env!("CARGO_BIN_EXE_ork"),
        quoted(title)
    )
}

fn read_report(s: &Sandbox, name: &str) -> Value {
    let path = report_path(s, name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the client wrote no report {}: {e}", path.display()));
    common::json(&text)
}

fn read_text(s: &Sandbox, name: &str) -> String {
    std::fs::read_to_string(s.agent_dir.join(format!("{name}.txt"))).unwrap()
}

/// The traks `ork status --all --json` lists.
fn traks(s: &Sandbox) -> Vec<Value> {
    let status = common::json(&s.ork_ok(&["status", "--all", "--json"]));
    status["traks"].as_array().unwrap().clone()
}

/// The `n`-th call's text, and whether it was a tool error; `None` for a JSON-RPC error (an
/// unknown tool), with its code.
fn outcome(report: &Value, n: usize) -> Result<(bool, String), i64> {
    let response = &report["calls"][n];
    if let Some(code) = response["error"]["code"].as_i64() {
        return Err(code);
    }
    let result = &response["result"];
    Ok((
        result["isError"] == true,
        result["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

#[test]
fn a_stage_with_spawn_creates_at_most_max_traks_recorded_as_its_own_and_decides_nothing() {
    let s = sandbox_with("mcp = \"read\"\nspawn = { max = 2 }", "true");
    let calls = json!([
        {"name": "create_trak", "arguments": {"title": "First follow-up", "description": "One."}},
        {"name": "create_trak", "arguments": {"title": "Second follow-up", "after": ["{created:0}"]}},
        {"name": "create_trak", "arguments": {"title": "Third follow-up"}},
        {"name": "approve", "arguments": {"id": "{created:0}"}},
        {"name": "run_due", "arguments": {}},
        {"name": "list_traks", "arguments": {}},
        {"name": "create_trak", "arguments": {"title": "With a budget", "budget_usd": 100}},
    ]);
    let run = format!(
        "{} ; {}",
        client(&s, "spawning", calls, &[]),
        cli_new(&s, "cli", "Fourth, from the shell")
    );
    let mut work = artifact("Done.");
    work["run"] = json!(run);
    s.set_plan(json!({ "work": [work] }));

    let (parent, _) = s.new_trak("Parent", &[]);
    s.assert_at(&parent, "awaiting_review", "work");

    let report = read_report(&s, "spawning");
    assert_eq!(report["started"], true, "{report:#}");
    let mut tools = vec!["create_trak"];
    tools.extend(READ_TOOLS);
    tools.sort();
    assert_eq!(
        report["tools"],
        json!(tools),
        "no decision, no run_due: {report:#}"
    );

    let (failed, text) = outcome(&report, 0).unwrap();
    assert!(!failed, "{text}");
    assert!(
        text.contains(&format!("Spawned by trak {parent}")),
        "{text}"
    );
    assert!(!outcome(&report, 1).unwrap().0, "{report:#}");
    let (failed, third) = outcome(&report, 2).unwrap();
    assert!(failed, "the third is refused: {third}");
    assert!(
        third.contains(&format!("trak {parent} may create at most 2 trak(s)")),
        "{third}"
    );
    // A decision and run_due are not this server's tools: unknown, nothing recorded.
    assert_eq!(outcome(&report, 3), Err(-32602), "{report:#}");
    assert_eq!(outcome(&report, 4), Err(-32602), "{report:#}");
    assert!(
        !outcome(&report, 5).unwrap().0,
        "reading is allowed: {report:#}"
    );
    let (failed, budget) = outcome(&report, 6).unwrap();
    assert!(
        failed && budget.contains("a budget is a person's"),
        "{budget}"
    );

    // The shell's `ork trak new` is counted against the same max.
    let cli = read_text(&s, "cli");
    assert!(cli.contains("may create at most 2 trak(s)"), "{cli}");
    assert!(cli.trim_end().ends_with("exit 1"), "{cli}");

    let all = traks(&s);
    assert_eq!(all.len(), 3, "the parent and two follow-ups: {all:#?}");
    let spawned: Vec<&Value> = all
        .iter()
        .filter(|t| t["spawned_by"] == json!(parent))
        .collect();
    let title = |t: &Value| t["title"].as_str().unwrap().to_string();
    let first = spawned
        .iter()
        .find(|t| title(t) == "First follow-up")
        .unwrap();
    let second = spawned
        .iter()
        .find(|t| title(t) == "Second follow-up")
        .unwrap();
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(first["status"], "queued", "queued, not run: {first:#}");
    assert_eq!(second["after"], json!([first_id]), "{second:#}");
    assert_eq!(second["waits_for"], json!([first_id]), "{second:#}");
    assert!(s.events_of(first_id, "approved").is_empty());
    assert!(s.events_of(&parent, "approved").is_empty());

    // `ork status` and `ork show` say who spawned them.
    let table = s.ork_ok(&["status"]);
    assert!(table.contains("SPAWNED BY"), "{table}");
    assert!(
        common::status_row(&table, first_id).contains(&parent),
        "{table}"
    );
    let shown = s.ork_ok(&["show", first_id]);
    assert!(
        shown.contains(&format!("spawned   by trak {parent}")),
        "{shown}"
    );
    let json = common::json(&s.ork_ok(&["show", first_id, "--json"]));
    assert_eq!(json["spawned_by"], json!(parent), "{json:#}");
}

#[test]
fn the_shell_of_a_stage_with_spawn_creates_traks_through_the_run_up_to_its_max() {
    let s = sandbox_with("spawn = { max = 1 }", "true");
    let run = format!(
        "{} ; {} ; {}",
        cli_new(&s, "one", "From the shell"),
        cli_new(&s, "two", "One too many"),
        client(
            &s,
            "tools",
            json!([{"name": "list_traks", "arguments": {}}]),
            &[]
        )
    );
    let mut work = artifact("Done.");
    work["run"] = json!(run);
    s.set_plan(json!({ "work": [work] }));

    let (parent, _) = s.new_trak("Parent", &[]);
    s.assert_at(&parent, "awaiting_review", "work");
    let one = read_text(&s, "one");
    assert!(one.trim_end().ends_with("exit 0"), "{one}");
    let two = read_text(&s, "two");
    assert!(two.contains("may create at most 1 trak(s)"), "{two}");
    // spawn alone gives create_trak only: not even a look at the other traks.
    let report = read_report(&s, "tools");
    assert_eq!(report["tools"], json!(["create_trak"]), "{report:#}");
    assert_eq!(outcome(&report, 0), Err(-32602), "{report:#}");

    let all = traks(&s);
    assert_eq!(all.len(), 2, "{all:#?}");
    let made = all.iter().find(|t| t["id"] != json!(parent)).unwrap();
    assert_eq!(made["title"], "From the shell");
    assert_eq!(made["spawned_by"], json!(parent));
    assert_eq!(
        made["status"], "queued",
        "not run from inside the run: {made:#}"
    );
}

#[test]
fn a_stage_with_mcp_read_only_looks_and_cannot_create() {
    let s = sandbox_with("mcp = \"read\"", "true");
    let calls = json!([
        {"name": "list_traks", "arguments": {}},
        {"name": "create_trak", "arguments": {"title": "Sneaky"}},
    ]);
    let run = format!(
        "{} ; {}",
        client(&s, "read", calls, &[]),
        cli_new(&s, "cli", "Sneaky from the shell")
    );
    let mut work = artifact("Done.");
    work["run"] = json!(run);
    s.set_plan(json!({ "work": [work] }));

    let (parent, _) = s.new_trak("Parent", &[]);
    s.assert_at(&parent, "awaiting_review", "work");
    let report = read_report(&s, "read");
    assert_eq!(report["tools"], json!(READ_TOOLS), "{report:#}");
    let (failed, listing) = outcome(&report, 0).unwrap();
    assert!(!failed && listing.contains(&parent), "{listing}");
    assert_eq!(outcome(&report, 1), Err(-32602), "{report:#}");
    let cli = read_text(&s, "cli");
    assert!(
        cli.contains(&format!(
            "an agent running inside trak {parent} cannot create traks: its stage work has no `spawn`"
        )),
        "{cli}"
    );
    assert_eq!(traks(&s).len(), 1, "nothing was created");
}

#[test]
fn a_stage_without_mcp_or_spawn_gives_no_server_and_a_forged_request_creates_nothing() {
    let s = sandbox_with("", "true");
    let ork = env!("CARGO_BIN_EXE_ork");
    // What an agent might try: the server ork did not give it, started by hand; the command
    // line; a request file written where a spawning run's would go.
    let forged = json!({"title": "Forged"}).to_string();
    // And all of it again without ORK_TRAK in the environment: the agent that ork started has it.
    let cleared = format!(
        "env -u ORK_TRAK -u ORK_STAGE {ork} trak new Cleared --no-run > {out} 2>&1; \
         env -u ORK_TRAK {ork} approve > {approve} 2>&1; {client}",
        out = quoted(&s.agent_dir.join("cleared.txt").display().to_string()),
        approve = quoted(&s.agent_dir.join("approve.txt").display().to_string()),
        client = client(
            &s,
            "cleared",
            json!([]),
            &["env", "-u", "ORK_TRAK", ork, "mcp"]
        ),
    );
    let run = format!(
        "{cleared} ; {} ; {} ; mkdir -p \"$(dirname \"$ORK_OUTPUT\")/spawn\" && echo {} > \"$(dirname \"$ORK_OUTPUT\")/spawn/x.request.json\"",
        client(
            &s,
            "own",
            json!([{"name": "create_trak", "arguments": {"title": "Own"}}]),
            &[ork, "mcp"]
        ),
        cli_new(&s, "cli", "Sneaky"),
        quoted(&forged)
    );
    let mut work = artifact("Done.");
    work["run"] = json!(run);
    s.set_plan(json!({ "work": [work] }));

    let (parent, _) = s.new_trak("Parent", &[]);
    s.assert_at(&parent, "awaiting_review", "work");
    let env = s.agent_env("work", 1);
    assert!(
        !env.contains_key("ORK_MCP_COMMAND"),
        "no server given: {env:?}"
    );
    let report = read_report(&s, "own");
    assert_eq!(report["started"], false, "{report:#}");
    let said = report["stderr"].as_str().unwrap();
    assert!(
        said.contains(&format!(
            "an agent running inside trak {parent} has no ork MCP server: its stage work gives it neither"
        )),
        "{said}"
    );
    let cli = read_text(&s, "cli");
    assert!(cli.contains("cannot create traks"), "{cli}");
    let cleared = read_text(&s, "cleared");
    assert!(
        cleared.contains(&format!(
            "an agent running inside trak {parent} cannot create traks"
        )),
        "{cleared}"
    );
    let approve = read_text(&s, "approve");
    assert!(
        approve.contains(&format!(
            "decisions are a person's: an agent running inside trak {parent} cannot approve"
        )),
        "{approve}"
    );
    let report = read_report(&s, "cleared");
    assert_eq!(report["started"], false, "{report:#}");
    assert!(
        report["stderr"]
            .as_str()
            .unwrap()
            .contains("has no ork MCP server"),
        "{report:#}"
    );
    assert_eq!(traks(&s).len(), 1, "nothing was created");
    assert!(s.events_of(&parent, "approved").is_empty());
}
