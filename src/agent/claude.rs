//! Claude Code, run as `claude -p` with a stream of JSON events.
//!
//! Checked against: the "CLI reference" page of the Claude Code docs (`-p`/`--print`,
//! `--output-format stream-json`, `--model`, `--resume`/`-r`, `--permission-mode` with
//! `acceptEdits`, and `cat file | claude -p` reading the prompt from stdin), the Agent SDK page
//! "Structured outputs" (the result's `structured_output`), and the output of Claude Code 2.1.329
//! recorded in `fixtures/claude-code` (which also shows that `-p` with stream-json needs
//! `--verbose`, and that root may not use `--dangerously-skip-permissions`).
//! Not verified: `--json-schema` appears in the recording and third-party references, but not in
//! the copy of the CLI reference we could read; and the prompt on stdin was not recorded (the
//! recordings pass it as an argument) — it relies on the documented `cat file | claude -p`.

use serde_json::Value;

use super::{
    AgentOutput, AgentResult, Launch, Request, Usage, first_line, json_lines, no_result,
    output_from_answer, output_from_text, schema_of, shorten,
};

pub const PROGRAM: &str = "claude";
/// The CLI, for `ork doctor`, `ork init` and a missing program's message.
pub const CLI: super::Cli = super::Cli {
    name: "Claude Code",
    program: PROGRAM,
    install: "npm install -g @anthropic-ai/claude-code",
    login: LOGIN,
};

/// Claude Code's login, for `ork doctor`: a key or token in the environment, or a claude.ai
/// login in its credentials file, seen without running anything; else `claude auth status`,
/// which exits 1 with `"loggedIn": false` when it has none (recorded of 2.1.329 in
/// `fixtures/agent-clis/README.md`). With a stored claude.ai login that command asks Anthropic's
/// servers about the account, so such a login is taken from the file; with none, and
/// `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC` set, it made no connection at all.
pub const LOGIN: super::LoginProbe = super::LoginProbe {
    local: login_seen,
    args: &["auth", "status", "--json"],
    env: &[("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")],
    read: read_login,
};

/// The variables that give Claude Code a key, a token or another provider (Bedrock, Vertex,
/// Foundry): `claude auth status` counts each as logged in.
const LOGIN_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
];

const LOGIN_FIX: &str =
    "run `claude auth login` (or `claude` once and log in), or set ANTHROPIC_API_KEY";

fn login_seen(env: super::Env<'_>) -> Option<String> {
    let set =
        |var: &str| env(var).is_some_and(|v| !v.as_os_str().is_empty() && v.as_os_str() != "0");
    if let Some(var) = LOGIN_VARS.iter().find(|var| set(var)) {
        return Some(format!("{var} is set"));
    }
    let dir = env("CLAUDE_CONFIG_DIR").or_else(|| env("HOME").map(|h| h.join(".claude")))?;
    let file = dir.join(".credentials.json");
    // A credentials file is a few hundred bytes; a larger one is not read.
    if file.metadata().ok()?.len() > 1 << 20 {
        return None;
    }
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
    json["claudeAiOauth"]["accessToken"]
        .as_str()
        .filter(|token| !token.is_empty())
        .map(|_| format!("a claude.ai login in {}", file.display()))
}

fn read_login(reply: &super::LoginReply<'_>) -> super::Login {
    use super::Login;
    let json: Option<Value> = serde_json::from_str(reply.stdout.trim()).ok();
    let logged_in = json.as_ref().and_then(|j| j["loggedIn"].as_bool());
    let method = json
        .as_ref()
        .and_then(|j| j["authMethod"].as_str())
        .map(str::to_string);
    match (logged_in, reply.code) {
        (Some(true), _) | (None, Some(0)) => Login::Found(match method {
            Some(method) => format!("logged in ({method})"),
            None => "logged in".into(),
        }),
        (Some(false), _) | (None, Some(1)) => Login::Missing {
            what: "no API key or login found".into(),
            fix: LOGIN_FIX.into(),
        },
        _ => Login::NotChecked(format!(
            "`claude auth status` answered neither yes nor no: {}",
            super::plain_lines(&format!("{}\n{}", reply.stdout, reply.stderr))
                .first()
                .map_or("nothing", String::as_str)
        )),
    }
}
/// Edits without asking; shell commands only as `allowed_tools` lets them.
const DEFAULT_PERMISSION_MODE: &str = "acceptEdits";

/// What Claude Code says when `--resume` names a session it does not have.
const UNKNOWN_SESSION: &str = "No conversation found with session ID";

/// The folders Claude Code keeps its state in: `~/.claude` (or `$CLAUDE_CONFIG_DIR`) and its
/// settings file `~/.claude.json` beside it, which it rewrites in place. Under ork's sandbox
/// they are writable (docs/security.md).
pub fn state_folders(env: super::Env<'_>) -> Vec<std::path::PathBuf> {
    let home = env("HOME");
    [
        env("CLAUDE_CONFIG_DIR").or_else(|| home.as_ref().map(|h| h.join(".claude"))),
        home.map(|h| h.join(".claude.json")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Claude Code keeps a session in `~/.claude/projects/<slug of the cwd>/<session>.jsonl`
/// (every character of the cwd that is not a letter or a digit becomes `-`), and `--resume`
/// finds it only there.
pub fn session_home(query: &super::SessionQuery<'_>) -> Option<super::SessionHome> {
    let slug: String = query
        .worktree
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = (query.env)("HOME")?.join(".claude/projects").join(slug);
    Some(super::SessionHome::File(
        dir.join(format!("{}.jsonl", query.session)),
    ))
}

/// `claude -p --output-format stream-json --verbose --permission-mode MODE [--allowedTools T…]
/// [--disallowedTools T…] [--model M] [--resume ID] --json-schema SCHEMA [ARGS…]`, the prompt
/// on stdin. MODE is the workflow's `permission_mode`, `acceptEdits` by default.
///
/// - The prompt goes on stdin, not after `-p`: a prompt embeds earlier artifacts and can outgrow
///   Linux's limit on one argument (128 KiB), and one starting with `-` (markdown front matter)
///   would be read as an option.
/// - `acceptEdits` lets the agent edit files unattended; `bypassPermissions` would also allow
///   commands, but Claude Code refuses it when run as root (unless `IS_SANDBOX=1`).
/// - The schema is always given, so that any stage may answer with questions instead.
pub fn launch(request: &Request<'_>) -> Launch {
    let mut argv: Vec<String> = [
        request.executable.unwrap_or(PROGRAM),
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        request.permission.unwrap_or(DEFAULT_PERMISSION_MODE),
    ]
    .map(String::from)
    .into();
    // ork's server is one `--mcp-config` JSON string, and its tools are allowed without a
    // prompt nobody would answer (`mcp__ork` is the whole server): the server itself lists and
    // allows only what the stage gives (docs/mcp.md).
    let mut allowed = request.allowed_tools.to_vec();
    if let Some(server) = request.ork_mcp {
        let config = serde_json::json!({ "mcpServers": { super::ORK_MCP_NAME: {
            "command": server[0], "args": &server[1..] } } });
        argv.extend(["--mcp-config".into(), config.to_string()]);
        allowed.push(format!("mcp__{}", super::ORK_MCP_NAME));
    }
    // Each list is one flag followed by its tools, one argument each: a pattern such as
    // `Bash(git diff *)` holds spaces, and the next `--` option ends the list.
    for (flag, tools) in [
        ("--allowedTools", allowed.as_slice()),
        ("--disallowedTools", request.disallowed_tools),
    ] {
        if !tools.is_empty() {
            argv.push(flag.into());
            argv.extend(tools.iter().cloned());
        }
    }
    if let Some(model) = request.model {
        argv.extend(["--model".into(), model.into()]);
    }
    if let Some(session) = request.resume {
        argv.extend(["--resume".into(), session.into()]);
    }
    argv.extend([
        "--json-schema".into(),
        schema_of(request.verdict, request.breakdown, request.pick).to_string(),
    ]);
    argv.extend(request.args.iter().cloned());
    Launch {
        argv,
        prompt_on_stdin: true,
        env: Vec::new(),
    }
}

/// Reads the run from its `result` event (the last one, if several): its structured output, else
/// its text, unless it is an error or some tool use was denied. Without a result event the run
/// never finished: it failed, and the failure says how it ended.
pub fn parse(stdout: &str, stderr: &str, exit_code: Option<i32>) -> AgentResult {
    let events: Vec<Value> = json_lines(stdout).collect();
    let started = events.iter().find_map(init_session);
    let Some(result) = events.iter().rev().find(|event| event["type"] == "result") else {
        let retrying = events
            .iter()
            .rev()
            .find(|event| is_system(event, "api_retry"));
        let detail = retrying.map(|event| format!("it was retrying the API ({})", retry(event)));
        return AgentResult {
            output: AgentOutput::Failed {
                error: no_result(PROGRAM, exit_code, detail.as_deref(), stderr),
            },
            session_id: started,
            usage: Usage::default(),
        };
    };
    let output = outcome(result);
    // A session Claude does not know must not be resumed again by the next attempt.
    let session_id = match &output {
        AgentOutput::Failed { error } if error.contains(UNKNOWN_SESSION) => None,
        _ => text(result, "session_id").map(str::to_string).or(started),
    };
    AgentResult {
        output,
        session_id,
        usage: usage(result),
    }
}

/// One line for an event of the stream: the session start, an assistant message (its text's first
/// line, its tool calls), an API retry, a denied permission, the end.
pub fn progress(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line.trim()).ok()?;
    match (text(&event, "type")?, text(&event, "subtype")) {
        ("system", Some("init")) => Some(format!(
            "Claude session {} ({})",
            text(&event, "session_id")?,
            text(&event, "model").unwrap_or("default model")
        )),
        ("system", Some("api_retry")) => Some(format!("API retry {}", retry(&event))),
        ("system", Some("permission_denied")) => Some(format!(
            "Permission denied: {}",
            text(&event, "tool_name").unwrap_or("a tool")
        )),
        ("assistant", _) => assistant_line(&event),
        ("result", _) => Some(result_line(&event)),
        _ => None,
    }
}

fn outcome(result: &Value) -> AgentOutput {
    if result["is_error"] == true || text(result, "subtype").is_some_and(|s| s.starts_with("error"))
    {
        return AgentOutput::Failed {
            error: error_message(result),
        };
    }
    // A denied edit leaves the result a "success", yet the change it wanted was never made. A
    // denied command (say, running the tests) does not: the stage's gate checks the work.
    let denied = denials(result, EDIT_TOOLS);
    if !denied.is_empty() {
        return AgentOutput::Failed {
            error: format!(
                "claude was denied permission for {}, so those changes were never made",
                denied.join(", ")
            ),
        };
    }
    if let Some(output) = result.get("structured_output").and_then(output_from_answer) {
        return output;
    }
    output_from_text(text(result, "result").unwrap_or_default())
}

fn error_message(result: &Value) -> String {
    let errors: Vec<&str> = result["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let message = match (errors.is_empty(), text(result, "result")) {
        (false, _) => errors.join("; "),
        (true, Some(result)) if !result.trim().is_empty() => result.trim().to_string(),
        _ => text(result, "subtype")
            .unwrap_or("unknown error")
            .to_string(),
    };
    if message.contains(UNKNOWN_SESSION) {
        format!("the session could not be resumed: {message}")
    } else {
        format!("claude failed: {message}")
    }
}

/// Claude Code's tools that change files.
const EDIT_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];

/// The denied uses of `tools`, as "Write /path/file".
fn denials(result: &Value, tools: &[&str]) -> Vec<String> {
    let Some(denials) = result["permission_denials"].as_array() else {
        return Vec::new();
    };
    denials
        .iter()
        .filter(|denial| text(denial, "tool_name").is_some_and(|tool| tools.contains(&tool)))
        .map(|denial| {
            let tool = text(denial, "tool_name").unwrap_or("a tool");
            match tool_target(&denial["tool_input"]) {
                Some(target) => format!("{tool} {target}"),
                None => tool.to_string(),
            }
        })
        .collect()
}

/// Tokens are the run's (`usage`): input counts cache reads and writes, which are input the model
/// read too. Cost is the run's: on a resumed session `total_cost_usd` adds up the whole session so
/// far (recorded: 0.00042 after a 0.00028 run and a 0.00014 one), so the per-model costs since the
/// last result come first.
fn usage(result: &Value) -> Usage {
    let tokens = |key: &str| result["usage"][key].as_u64().unwrap_or(0);
    let cost = match result["model_usage_since_last_result"].as_object() {
        Some(models) => models
            .values()
            .filter_map(|model| model["costUSD"].as_f64())
            .sum(),
        None => result["total_cost_usd"].as_f64().unwrap_or(0.0),
    };
    Usage {
        input_tokens: tokens("input_tokens")
            + tokens("cache_creation_input_tokens")
            + tokens("cache_read_input_tokens"),
        output_tokens: tokens("output_tokens"),
        cost_usd: cost,
    }
}

/// Adds what one stream line spent: an assistant message's tokens (once per message, priced
/// by [`super::prices`]), or the result's own totals, which replace the estimate.
pub fn live_usage(line: &str, live: &mut super::LiveUsage, _model: Option<&str>) {
    if !line.contains("\"usage\"") {
        return;
    }
    let Ok(event) = serde_json::from_str::<Value>(line) else {
        return;
    };
    match text(&event, "type") {
        Some("assistant") => {
            let message = &event["message"];
            let mut spent = usage(message);
            spent.cost_usd = live.prices.estimate(text(message, "model"), &spent);
            live.add_message(text(message, "id"), &spent);
        }
        Some("result") => live.spent = usage(&event),
        _ => {}
    }
}

fn init_session(event: &Value) -> Option<String> {
    is_system(event, "init").then(|| text(event, "session_id").map(str::to_string))?
}

fn is_system(event: &Value, subtype: &str) -> bool {
    event["type"] == "system" && event["subtype"] == subtype
}

/// "3/10 in 2.3s (rate_limit)".
fn retry(event: &Value) -> String {
    let number = |key: &str| {
        event[key]
            .as_u64()
            .map_or("?".to_string(), |n| n.to_string())
    };
    let delay = event["retry_delay_ms"].as_f64().unwrap_or(0.0) / 1000.0;
    let error = text(event, "error").unwrap_or("unknown");
    format!(
        "{}/{} in {delay:.1}s ({error})",
        number("attempt"),
        number("max_retries")
    )
}

/// The message's text (first line) and tool calls, in order. The `StructuredOutput` call is how
/// the answer is handed over, not work worth showing.
fn assistant_line(event: &Value) -> Option<String> {
    let parts: Vec<String> = event["message"]["content"]
        .as_array()?
        .iter()
        .filter_map(|block| match text(block, "type")? {
            "text" => first_line(text(block, "text")?),
            "tool_use" => tool_line(block),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| shorten(&parts.join(" · ")))
}

fn tool_line(block: &Value) -> Option<String> {
    let name = text(block, "name")?;
    if name == "StructuredOutput" {
        return None;
    }
    Some(match tool_target(&block["input"]) {
        Some(target) => format!("{name} {target}"),
        None => name.to_string(),
    })
}

/// What a tool call works on: its file, command, pattern, address or description.
fn tool_target(input: &Value) -> Option<String> {
    [
        "file_path",
        "notebook_path",
        "path",
        "command",
        "pattern",
        "url",
        "query",
        "description",
    ]
    .iter()
    .find_map(|key| text(input, key))
    .and_then(first_line)
}

fn result_line(event: &Value) -> String {
    match outcome(event) {
        AgentOutput::Failed { error } => shorten(&format!("Failed: {error}")),
        _ => format!(
            "Finished after {} turns (${:.4})",
            event["num_turns"].as_u64().unwrap_or(0),
            usage(event).cost_usd
        ),
    }
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::agent::{Decision, SessionHome, SessionQuery, answer_schema};

    #[test]
    fn a_session_lives_in_the_project_folder_named_after_the_worktree() {
        let env = |name: &str| (name == "HOME").then(|| "/home/dev".into());
        let query = SessionQuery {
            env: &env,
            worktree: Path::new("/home/dev/project/.orkestra/worktrees/a-1"),
            session: "s-1",
            executable: None,
        };
        let Some(SessionHome::File(path)) = session_home(&query) else {
            panic!("not a file")
        };
        assert_eq!(
            path,
            Path::new(
                "/home/dev/.claude/projects/-home-dev-project--orkestra-worktrees-a-1/s-1.jsonl"
            )
        );
    }

    const STRUCTURED: &str =
        include_str!("../../fixtures/claude-code/stream-json-structured-output.jsonl");
    const RESUMED: &str =
        include_str!("../../fixtures/claude-code/stream-json-resumed-session.jsonl");
    const JSON_RESULT: &str = include_str!("../../fixtures/claude-code/json-result.json");
    const DENIED: &str =
        include_str!("../../fixtures/claude-code/stream-json-permission-denied.jsonl");
    const UNKNOWN: &str =
        include_str!("../../fixtures/claude-code/stream-json-unknown-session.jsonl");
    const UNKNOWN_STDERR: &str =
        include_str!("../../fixtures/claude-code/stream-json-unknown-session.stderr.txt");
    const UNREACHABLE: &str =
        include_str!("../../fixtures/claude-code/stream-json-api-unreachable.jsonl");
    const ROOT_SKIP: &str = include_str!("../../fixtures/claude-code/root-skip-permissions.txt");

    fn request(prompt: &str) -> Request<'_> {
        Request {
            prompt,
            ..Request::default()
        }
    }

    fn failure(result: &AgentResult) -> &str {
        match &result.output {
            AgentOutput::Failed { error } => error,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn orks_mcp_server_is_one_config_string_and_its_tools_are_allowed() {
        let server: Vec<String> = ["/opt/ork", "-C", "/repo \"x\"", "mcp"]
            .map(String::from)
            .into();
        let allowed = vec!["Edit".to_string()];
        let launch = launch(&Request {
            ork_mcp: Some(&server),
            allowed_tools: &allowed,
            ..request("Plan it")
        });
        let at = launch
            .argv
            .iter()
            .position(|a| a == "--mcp-config")
            .unwrap();
        let config: Value = serde_json::from_str(&launch.argv[at + 1]).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"mcpServers": {"ork": {"command": "/opt/ork", "args": ["-C", "/repo \"x\"", "mcp"]}}})
        );
        assert_eq!(
            launch.argv[at + 2..at + 5],
            ["--allowedTools", "Edit", "mcp__ork"]
        );
        // Without it, no server and nothing more allowed.
        let plain = launch_without_server();
        assert!(!plain.iter().any(|a| a == "--mcp-config" || a == "mcp__ork"));
    }

    fn launch_without_server() -> Vec<String> {
        launch(&request("Plan it")).argv
    }

    #[test]
    fn a_fresh_run_streams_json_accepts_edits_and_reads_the_prompt_from_stdin() {
        let launch = launch(&request("Plan it"));
        assert_eq!(
            launch.argv[..7],
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits"
            ]
        );
        assert_eq!(launch.argv[7], "--json-schema");
        assert_eq!(
            serde_json::from_str::<Value>(&launch.argv[8]).unwrap(),
            answer_schema(false)
        );
        assert_eq!(launch.argv.len(), 9);
        assert!(launch.prompt_on_stdin);
        assert!(!launch.argv.iter().any(|arg| arg.contains("Plan it")));
    }

    #[test]
    fn permissions_tools_and_args_come_from_the_workflow() {
        let allowed = vec![
            "Bash(.orkestra/scripts/checks.sh)".to_string(),
            "Edit".into(),
        ];
        let denied = vec!["Bash(git push *)".to_string()];
        let args = vec!["--max-budget-usd".to_string(), "2".into()];
        let launch = launch(&Request {
            permission: Some("plan"),
            allowed_tools: &allowed,
            disallowed_tools: &denied,
            args: &args,
            ..request("Plan it")
        });
        assert_eq!(
            launch.argv[5..12],
            [
                "--permission-mode",
                "plan",
                "--allowedTools",
                "Bash(.orkestra/scripts/checks.sh)",
                "Edit",
                "--disallowedTools",
                "Bash(git push *)"
            ]
        );
        assert_eq!(launch.argv[12], "--json-schema");
        assert_eq!(launch.argv[14..], ["--max-budget-usd", "2"]);
    }

    #[test]
    fn model_resume_verdict_and_executable_show_in_argv() {
        let launch = launch(&Request {
            model: Some("opus"),
            resume: Some("9cf1c1ca"),
            verdict: true,
            executable: Some("/opt/claude"),
            ..request("Review it")
        });
        assert_eq!(launch.argv[0], "/opt/claude");
        assert_eq!(
            launch.argv[7..11],
            ["--model", "opus", "--resume", "9cf1c1ca"]
        );
        assert_eq!(launch.argv[11], "--json-schema");
        let schema: Value = serde_json::from_str(&launch.argv[12]).unwrap();
        assert_eq!(schema, answer_schema(true));
        assert_eq!(
            schema["properties"]["kind"]["enum"],
            serde_json::json!(["verdict", "questions"])
        );
    }

    #[test]
    fn structured_output_is_the_answer() {
        let result = parse(STRUCTURED, "", Some(0));
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "The plan: add notes.txt".into()
            }
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("9cf1c1ca-6bd5-4da0-a6ed-9f5b66680a10")
        );
        assert_eq!(result.usage.input_tokens, 20);
        assert_eq!(result.usage.output_tokens, 10);
        assert!((result.usage.cost_usd - 0.00028).abs() < 1e-12);
    }

    #[test]
    fn a_resumed_session_keeps_its_id_and_counts_only_this_runs_cost() {
        let result = parse(RESUMED, "", Some(0));
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "The plan: add notes.txt".into()
            }
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("9cf1c1ca-6bd5-4da0-a6ed-9f5b66680a10")
        );
        assert_eq!(
            (result.usage.input_tokens, result.usage.output_tokens),
            (10, 5)
        );
        // total_cost_usd says 0.00042: the session's cost including the first run.
        assert!((result.usage.cost_usd - 0.00014).abs() < 1e-12);
    }

    #[test]
    fn a_single_json_result_reads_the_same() {
        let result = parse(JSON_RESULT, "", Some(0));
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "The plan: add notes.txt".into()
            }
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("2bb4a0e0-d5c5-4bb9-a516-97379b18a7ba")
        );
        assert_eq!(
            (result.usage.input_tokens, result.usage.output_tokens),
            (20, 10)
        );
        assert!((result.usage.cost_usd - 0.00028).abs() < 1e-12);
    }

    #[test]
    fn a_denied_write_fails_the_run_though_the_result_says_success() {
        let result = parse(DENIED, "", Some(0));
        assert_eq!(
            failure(&result),
            "claude was denied permission for Write /home/dev/project/notes.txt, \
             so those changes were never made"
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("f891730b-674c-4fa4-94bd-c46eb5cbc767")
        );
        assert_eq!(
            (result.usage.input_tokens, result.usage.output_tokens),
            (20, 10)
        );
    }

    #[test]
    fn an_unknown_session_fails_and_is_not_resumed_again() {
        let result = parse(UNKNOWN, UNKNOWN_STDERR, Some(1));
        assert_eq!(
            failure(&result),
            "the session could not be resumed: \
             No conversation found with session ID: 00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(result.session_id, None);
        assert_eq!(result.usage, Usage::default());
    }

    #[test]
    fn an_unreachable_api_killed_by_the_timeout_fails_with_the_last_retry() {
        let result = parse(UNREACHABLE, "", None);
        assert_eq!(
            failure(&result),
            "claude was stopped (killed or timed out) before it gave a result; \
             it was retrying the API (8/10 in 33.3s (unknown))"
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("b350fcde-8a17-459a-88ae-cc4f167bb200")
        );
    }

    #[test]
    fn root_refusing_skip_permissions_fails_with_its_stderr() {
        let result = parse("", ROOT_SKIP, Some(1));
        assert_eq!(
            failure(&result),
            "claude exited with code 1 without a result: \
             --dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
        );
        assert_eq!(result.session_id, None);
    }

    #[test]
    fn errors_text_and_garbage() {
        let error = r#"{"type":"result","subtype":"success","is_error":true,"result":"Invalid API key","session_id":"s1"}"#;
        let result = parse(error, "", Some(1));
        assert_eq!(failure(&result), "claude failed: Invalid API key");
        assert_eq!(result.session_id.as_deref(), Some("s1"));

        let max_turns = r#"{"type":"result","subtype":"error_max_turns","is_error":false}"#;
        assert_eq!(
            failure(&parse(max_turns, "", Some(1))),
            "claude failed: error_max_turns"
        );

        let verdict = "not json\n{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"APPROVE\\nfine\"}\n{trunc";
        let result = parse(verdict, "", Some(0)).for_stage(true);
        assert_eq!(
            result.output,
            AgentOutput::Verdict {
                decision: Decision::Approve,
                content: "APPROVE\nfine".into(),
                route_to: None
            }
        );

        let garbage = parse("\u{0}\n[1,2]\n\"x\"\n{", "", Some(0));
        assert_eq!(
            failure(&garbage),
            "claude exited with code 0 without a result"
        );
    }

    #[test]
    fn progress_shows_the_session_tool_calls_text_retries_denials_and_the_end() {
        let lines: Vec<String> = STRUCTURED.lines().filter_map(progress).collect();
        assert_eq!(
            lines,
            [
                "Claude session 9cf1c1ca-6bd5-4da0-a6ed-9f5b66680a10 (claude-opus-5-5)",
                "Write /home/dev/project/notes.txt",
                "Finished after 3 turns ($0.0003)",
            ]
        );
        let denied: Vec<String> = DENIED.lines().skip(1).filter_map(progress).collect();
        assert_eq!(
            denied[..3],
            [
                "Write /home/dev/project/notes.txt",
                "Permission denied: Write",
                "The plan: add notes.txt"
            ]
        );
        assert!(denied[3].starts_with("Failed: claude was denied permission for Write"));
        let retries: Vec<String> = UNREACHABLE.lines().skip(1).filter_map(progress).collect();
        assert_eq!(retries.len(), 8);
        assert_eq!(retries[0], "API retry 1/10 in 0.5s (unknown)");
        assert_eq!(progress("garbage"), None);
        assert_eq!(progress(r#"{"type":"user","message":{}}"#), None);
    }

    #[test]
    fn a_denied_command_is_not_a_failure_but_a_denied_edit_is() {
        // Claude answered, but was not allowed to run the tests: the gate runs them anyway.
        let result_line = |tool: &str, input: &str| {
            format!(
                r#"{{"type":"result","subtype":"success","is_error":false,"result":"Done.","session_id":"s","permission_denials":[{{"tool_name":"{tool}","tool_input":{input}}}]}}"#
            )
        };
        let bash = parse(
            &result_line("Bash", r#"{"command":"cargo test"}"#),
            "",
            Some(0),
        );
        assert_eq!(
            bash.output,
            AgentOutput::Artifact {
                content: "Done.".into()
            }
        );
        let edit = parse(
            &result_line("Edit", r#"{"file_path":"/p/a.rs"}"#),
            "",
            Some(0),
        );
        assert!(
            failure(&edit).contains("Edit /p/a.rs"),
            "{}",
            failure(&edit)
        );
    }
}
