//! End to end: `ork mcp`, the Model Context Protocol server, spoken to as a client does (one
//! JSON-RPC message a line on its stdin and stdout): the handshake, every tool, malformed calls;
//! a decision refused to an agent inside a trak; and `ork mcp install` for each client, seen by
//! the real CLIs where they are installed (`ORK_AGENT_CLIS`).

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

use common::{Repo, RunsOrk, Sandbox, artifact, stdout};

/// How long one answer may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(40);

/// A running `ork mcp` and the lines it writes.
struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl Session {
    /// `ork mcp` in the sandbox, with `env` set; not yet initialized.
    fn start(sandbox: &Sandbox, env: &[(&str, &str)]) -> Session {
        let mut command = sandbox.ork_command(&["mcp"]);
        command
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("starting ork mcp");
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            stdin,
            lines,
            next_id: 1,
        }
    }

    /// Started and through the handshake.
    fn initialized(sandbox: &Sandbox, env: &[(&str, &str)]) -> Session {
        let mut session = Session::start(sandbox, env);
        session.initialize();
        session
    }

    fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").expect("writing to ork mcp");
        self.stdin.flush().unwrap();
    }

    /// Sends a request and returns the whole response (`result` or `error`).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let line = self
                .lines
                .recv_timeout(ANSWER_WITHIN)
                .unwrap_or_else(|_| panic!("no answer to {method} within {ANSWER_WITHIN:?}"));
            let message = common::json(&line);
            assert_eq!(message["jsonrpc"], "2.0", "{line}");
            if message["id"] == json!(id) {
                return message;
            }
        }
    }

    fn initialize(&mut self) -> Value {
        let response = self.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "ork-tests", "version": "1.0"}
            }),
        );
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        response
    }

    /// `tools/call`'s result, which must be one (not a JSON-RPC error).
    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let response = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        response
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{tool} {arguments}: not a result: {response:#}"))
    }

    /// A successful call's structured content.
    fn ok(&mut self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments.clone());
        assert_eq!(
            result["isError"], false,
            "{tool} {arguments} failed: {result:#}"
        );
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        assert!(!text.is_empty(), "{tool}: a short text first: {result:#}");
        // The JSON is there as text too, for clients that read only text.
        let as_text = common::json(result["content"][1]["text"].as_str().unwrap());
        assert_eq!(as_text, result["structuredContent"], "{tool}");
        result["structuredContent"].clone()
    }

    /// A failed call's text: a tool error (`isError`), in ork's words.
    fn tool_error(&mut self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments.clone());
        assert_eq!(
            result["isError"], true,
            "{tool} {arguments} should fail: {result:#}"
        );
        result["content"][0]["text"].as_str().unwrap().to_string()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TOOLS: [&str; 10] = [
    "answer",
    "approve",
    "create_trak",
    "diff",
    "list_traks",
    "logs",
    "reject",
    "retry",
    "run_due",
    "show_trak",
];

/// The review flow (planning, then work, each reviewed by a person) where planning writes
/// `login.txt` and says so on its output.
fn review_sandbox() -> Sandbox {
    let mut planning = artifact("# Plan\nLog in with a form.");
    planning["write"] = json!({"login.txt": "log in\n"});
    planning["stdout"] = json!("planning the login form");
    Sandbox::review_flow(
        "",
        json!({"planning": [planning], "work": [artifact("Done: the form.")]}),
    )
}

#[test]
fn a_client_lists_creates_shows_and_decides_through_every_tool() {
    let s = review_sandbox();
    let mut mcp = Session::start(&s, &[]);

    let init = mcp.initialize();
    let result = &init["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18", "{init:#}");
    assert_eq!(result["serverInfo"]["name"], "ork", "{init:#}");
    assert!(result["capabilities"]["tools"].is_object(), "{init:#}");

    let listed = mcp.request("tools/list", json!({}));
    let tools = listed["result"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, TOOLS, "{listed:#}");
    for tool in tools {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool:#}");
        let description = tool["description"].as_str().unwrap();
        assert!(description.contains("Returns"), "{tool:#}");
    }

    // Two traks, queued and not run.
    let login = mcp.ok(
        "create_trak",
        json!({"title": "Add login", "description": "A form.", "budget_usd": 5}),
    );
    let id = login["id"].as_str().unwrap().to_string();
    assert_eq!(login["status"], "queued");
    assert_eq!(login["stage"], "planning");
    let logout = mcp.ok("create_trak", json!({"title": "Add logout"}));
    let other = logout["id"].as_str().unwrap().to_string();
    s.assert_at(&id, "queued", "planning");
    let created = mcp.call("create_trak", json!({"title": "x", "flow": "nope"}));
    assert_eq!(created["isError"], true, "{created:#}");

    let listing = mcp.ok("list_traks", json!({}));
    let ids: Vec<&str> = listing["traks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&other.as_str()),
        "{listing:#}"
    );

    // run_due returns at once; the background `ork run` brings both to their review.
    let started = mcp.ok("run_due", json!({}));
    assert!(started["pid"].as_u64().is_some(), "{started:#}");
    common::wait_until(
        Duration::from_secs(60),
        "both traks wait for review",
        || s.status(&id) == "awaiting_review" && s.status(&other) == "awaiting_review",
    );
    // Its `ork run` ends once nothing is due; until then it would take up what a decision
    // queues, and race the `ork resume`s below.
    let pid = started["pid"].as_u64().unwrap() as u32;
    common::wait_until(
        Duration::from_secs(30),
        "the background ork run to end",
        || !common::alive(pid),
    );

    let shown = mcp.ok("show_trak", json!({"id": id}));
    assert_eq!(shown["status"], "awaiting_review", "{shown:#}");
    assert_eq!(
        shown["description"].as_str().map(str::trim),
        Some("A form.")
    );
    assert!(
        shown["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("approve"))
    );
    assert!(
        shown["artifacts"]["plan"]
            .as_str()
            .unwrap()
            .contains("Log in with a form."),
        "{shown:#}"
    );

    let logs = mcp.ok("logs", json!({"id": id}));
    let output: String = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["output"].as_str().unwrap().to_string())
        .collect();
    assert!(output.contains("planning the login form"), "{logs:#}");

    let diff = mcp.ok("diff", json!({"id": id}));
    assert!(
        diff["diff"].as_str().unwrap().contains("login.txt"),
        "{diff:#}"
    );

    // A rejection must say what must change.
    let missing = mcp.request(
        "tools/call",
        json!({"name": "reject", "arguments": {"id": other}}),
    );
    let refused = missing.get("error").is_some() || missing["result"]["isError"] == true;
    assert!(refused, "a reject without feedback fails: {missing:#}");
    let empty = mcp.tool_error("reject", json!({"id": other, "feedback": "  "}));
    assert!(empty.contains("the feedback is empty"), "{empty}");
    s.assert_at(&other, "awaiting_review", "planning");

    // Approve, as `ork approve` does: recorded, the next stage queued.
    let approved = mcp.ok("approve", json!({"id": id}));
    assert_eq!(approved["recorded"], "approve");
    s.assert_at(&id, "queued", "work");
    assert_eq!(s.events_of(&id, "approved").len(), 1);
    s.ork_ok(&["resume", &id]);
    s.assert_at(&id, "awaiting_review", "work");
    mcp.ok("approve", json!({"id": id}));
    s.ork_ok(&["resume", &id]);
    s.assert_status(&id, "done");

    // A refusal reads as the CLI's.
    let refusal = mcp.tool_error("approve", json!({"id": id}));
    let cli = s.ork_err(&["approve", &id]);
    assert_eq!(
        refusal,
        cli.trim_end().strip_prefix("error: ").unwrap(),
        "the same words as `ork approve`"
    );
    assert!(refusal.starts_with(&format!("cannot approve trak {id}: it is already done")));

    // The other one is sent back with feedback.
    let rejected = mcp.ok("reject", json!({"id": other, "feedback": "Use a button."}));
    assert_eq!(rejected["status"], "queued");
    let unknown = mcp.tool_error("show_trak", json!({"id": "no-such-trak"}));
    assert!(unknown.contains("no-such-trak"), "{unknown}");
}

#[test]
fn malformed_calls_are_errors_and_the_server_goes_on() {
    let s = review_sandbox();
    let mut mcp = Session::initialized(&s, &[]);
    // An unknown tool: a JSON-RPC error (invalid params, as the specification's example).
    let unknown = mcp.request(
        "tools/call",
        json!({"name": "launch_rockets", "arguments": {}}),
    );
    assert_eq!(unknown["error"]["code"], -32602, "{unknown:#}");
    // Arguments of the wrong type.
    let bad = mcp.request(
        "tools/call",
        json!({"name": "show_trak", "arguments": {"id": 5}}),
    );
    let failed = bad.get("error").is_some() || bad["result"]["isError"] == true;
    assert!(failed, "{bad:#}");
    // An unknown method.
    let method = mcp.request("traks/explode", json!({}));
    assert_eq!(method["error"]["code"], -32601, "{method:#}");
    // Still serving.
    mcp.ok("list_traks", json!({"all": true}));
}

#[test]
fn an_agent_inside_a_trak_gets_no_server_unless_its_stage_says_and_cannot_decide_on_the_cli() {
    let s = review_sandbox();
    let (id, _) = s.new_trak("Add login", &[]);
    s.assert_at(&id, "awaiting_review", "planning");
    let inside = [("ORK_TRAK", id.as_str()), ("ORK_STAGE", "work")];
    let words = format!("decisions are a person's: an agent running inside trak {id} cannot");
    // An `ork mcp` started inside a trak serves only what the trak's running stage gives its
    // agent (tests/suite/spawn.rs); a trak that runs no stage gives nothing: no server.
    let mut mcp = s.ork_command(&["mcp"]);
    mcp.envs(inside);
    let out = common::output_within(&mut mcp, Duration::from_secs(40), "ork mcp inside");
    let err = common::ork_error(&out, "ork mcp inside a trak that runs no stage");
    assert!(
        err.contains(&format!(
            "an agent running inside trak {id} has no ork MCP server"
        )),
        "{err}"
    );

    // The command line refuses the same.
    let mut approve = s.ork_command(&["approve", &id]);
    approve.envs(inside);
    let out = common::output_within(&mut approve, Duration::from_secs(40), "ork approve inside");
    let err = common::ork_error(&out, "ork approve inside a trak");
    assert!(err.contains(&format!("{words} approve any trak")), "{err}");
    s.assert_at(&id, "awaiting_review", "planning");
}

// ---------------------------------------------------------------------------------------------
// ork mcp install
// ---------------------------------------------------------------------------------------------

/// The ork binary as the clients' files name it.
fn ork_exe() -> String {
    Path::new(env!("CARGO_BIN_EXE_ork"))
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn install(repo: &Repo, client: &str, codex_home: &Path) -> String {
    let mut command = repo.ork_command(&repo.root, &["mcp", "install", client]);
    command.env("CODEX_HOME", codex_home);
    let what = format!("ork mcp install {client}");
    common::success(
        &common::output_within(&mut command, Duration::from_secs(40), &what),
        &what,
    )
}

/// Installs twice: the second changes nothing; returns the file's text.
fn install_twice(repo: &Repo, client: &str, codex_home: &Path, file: &Path) -> String {
    let first = install(repo, client, codex_home);
    assert!(first.contains(&file.display().to_string()), "{first}");
    let text = std::fs::read_to_string(file).unwrap();
    let again = install(repo, client, codex_home);
    assert!(again.starts_with("unchanged"), "{again}");
    assert_eq!(std::fs::read_to_string(file).unwrap(), text, "idempotent");
    text
}

#[test]
fn mcp_install_adds_ork_to_each_client_and_keeps_what_is_there() {
    let repo = Repo::new();
    let codex_home = repo.home().join("codex-home");
    let exe = ork_exe();

    // Claude Code: the project's .mcp.json, another server kept.
    repo.write(
        ".mcp.json",
        r#"{"mcpServers": {"other": {"command": "other-server", "args": []}}}"#,
    );
    let claude = common::json(&install_twice(
        &repo,
        "claude",
        &codex_home,
        &repo.root.join(".mcp.json"),
    ));
    assert_eq!(
        claude["mcpServers"]["ork"],
        json!({"command": exe, "args": ["mcp"]})
    );
    assert_eq!(claude["mcpServers"]["other"]["command"], "other-server");

    // OpenCode: the project's opencode.json, made with its schema.
    let opencode = common::json(&install_twice(
        &repo,
        "opencode",
        &codex_home,
        &repo.root.join("opencode.json"),
    ));
    assert_eq!(
        opencode["mcp"]["ork"],
        json!({"type": "local", "command": [exe, "mcp"], "enabled": true})
    );
    assert_eq!(opencode["$schema"], "https://opencode.ai/config.json");

    // Codex: $CODEX_HOME/config.toml, its comments and other servers kept.
    std::fs::create_dir_all(&codex_home).unwrap();
    let config = codex_home.join("config.toml");
    std::fs::write(
        &config,
        "# my settings\nmodel = \"o3\"\n\n[mcp_servers.other]\ncommand = \"other-server\"\n",
    )
    .unwrap();
    let text = install_twice(&repo, "codex", &codex_home, &config);
    assert!(
        text.starts_with("# my settings\nmodel = \"o3\"\n"),
        "{text}"
    );
    let parsed: toml::Table = text.parse().unwrap();
    assert_eq!(
        parsed["mcp_servers"]["ork"]["command"].as_str(),
        Some(exe.as_str())
    );
    assert_eq!(
        parsed["mcp_servers"]["ork"]["args"].as_array().unwrap()[0].as_str(),
        Some("mcp")
    );
    assert_eq!(
        parsed["mcp_servers"]["other"]["command"].as_str(),
        Some("other-server")
    );

    // A broken file is left alone.
    repo.write(".mcp.json", "{ not json");
    let mut command = repo.ork_command(&repo.root, &["mcp", "install", "claude"]);
    let out = common::output_within(&mut command, Duration::from_secs(40), "install");
    let err = common::ork_error(&out, "ork mcp install claude over bad JSON");
    assert!(err.contains("not valid JSON"), "{err}");
    assert_eq!(repo.read(".mcp.json"), "{ not json");

    real_clients_see_ork(&repo, &codex_home);
}

/// `claude mcp list`, `codex mcp list` and `opencode mcp list` of the pinned CLIs name the
/// server ork installed (no model is started). Skipped, saying so, without `ORK_AGENT_CLIS`.
fn real_clients_see_ork(repo: &Repo, codex_home: &Path) {
    let Some(dir) = std::env::var_os("ORK_AGENT_CLIS").map(PathBuf::from) else {
        eprintln!(
            "\n!!! SKIPPED: the real CLIs' `mcp list` did not run: ORK_AGENT_CLIS is not set.\n"
        );
        return;
    };
    repo.write(
        ".mcp.json",
        r#"{"mcpServers": {"other": {"command": "other-server", "args": []}}}"#,
    );
    install(repo, "claude", codex_home);
    for cli in ["claude", "codex", "opencode"] {
        let program = dir.join(cli);
        if !program.is_file() {
            eprintln!("\n!!! SKIPPED: {} has no {cli}.\n", dir.display());
            continue;
        }
        let mut command = repo.command(&program, &repo.root);
        command.args(["mcp", "list"]).env("CODEX_HOME", codex_home);
        let out = common::output_within(&mut command, Duration::from_secs(90), cli);
        let said = format!("{}{}", stdout(&out), common::stderr(&out));
        let names_ork = said
            .lines()
            .any(|l| l.contains("ork") && l.contains(&ork_exe()) || l.contains("✓ ork"));
        assert!(names_ork, "`{cli} mcp list` names the ork server:\n{said}");
    }
}

/// `ork doctor` run in `repo` with Codex's home at `codex_home` (it fails for the missing agent
/// CLIs; its lines are what is looked at).
fn doctor(repo: &Repo, codex_home: &Path, args: &[&str]) -> String {
    let mut full = vec!["doctor"];
    full.extend_from_slice(args);
    let mut command = repo.ork_command(&repo.root, &full);
    command.env("CODEX_HOME", codex_home);
    let out = common::output_within(&mut command, Duration::from_secs(60), "ork doctor");
    common::assert_no_panic(&out, "ork doctor");
    stdout(&out)
}

#[test]
fn doctor_shows_where_ork_is_installed_as_an_mcp_server() {
    let repo = Repo::initialized();
    let codex_home = repo.home().join("codex-home");
    let exe = ork_exe();
    let (mcp_json, opencode_json) = (repo.root.join(".mcp.json"), repo.root.join("opencode.json"));
    let codex_toml = codex_home.join("config.toml");

    let before = doctor(&repo, &codex_home, &[]);
    for (client, file, arg) in [
        ("Claude Code", &mcp_json, "claude"),
        ("Codex", &codex_toml, "codex"),
        ("OpenCode", &opencode_json, "opencode"),
    ] {
        let line = format!(
            "-       mcp       {client}: not in {} (`ork mcp install {arg}` adds it)",
            file.display()
        );
        assert!(before.contains(&line), "{line}\n{before}");
    }

    install(&repo, "claude", &codex_home);
    install(&repo, "codex", &codex_home);
    // OpenCode's entry names another ork.
    repo.write(
        "opencode.json",
        r#"{"mcp": {"ork": {"type": "local", "command": ["/opt/old/ork", "mcp"], "enabled": true}}}"#,
    );
    let after = doctor(&repo, &codex_home, &[]);
    for line in [
        format!(
            "ok      mcp       Claude Code: {} runs {exe} mcp",
            mcp_json.display()
        ),
        format!(
            "ok      mcp       Codex: {} runs {exe} mcp",
            codex_toml.display()
        ),
        format!(
            "ok      mcp       OpenCode: {} runs /opt/old/ork mcp (not this ork)",
            opencode_json.display()
        ),
    ] {
        assert!(after.contains(&line), "{line}\n{after}");
    }
    let json = common::json(&doctor(&repo, &codex_home, &["--json"]));
    let places = json["mcp"].as_array().unwrap();
    assert_eq!(places.len(), 3, "{json:#}");
    assert_eq!(places[0]["client"], "Claude Code");
    assert_eq!(places[0]["command"], json!([exe, "mcp"]));
    assert_eq!(places[0]["this_ork"], true);
    assert_eq!(places[2]["this_ork"], false);

    // A file that does not parse is named, and left as it is.
    repo.write(".mcp.json", "{ not json");
    let broken = doctor(&repo, &codex_home, &[]);
    let line = format!(
        "-       mcp       Claude Code: {}: it is not valid JSON",
        mcp_json.display()
    );
    assert!(broken.contains(&line), "{line}\n{broken}");
    assert_eq!(repo.read(".mcp.json"), "{ not json");
}
