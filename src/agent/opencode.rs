//! OpenCode, run as `opencode run --format json`.
//!
//! Checked against: the OpenCode docs page "Commands" (`run`, `--model provider/model`,
//! `--format json`, `--continue`), the source of `packages/opencode/src/cli/cmd/run.ts`
//! (`--session`/`-s` to continue a session, "Session not found" when it does not exist, a piped
//! stdin read as the message, `--format json` emitting each part with its `sessionID`, `error`
//! events for session errors, and in newer versions a final `done` event listing the permissions
//! it auto-rejected), and the output of OpenCode 1.18.33 recorded in `fixtures/opencode`.
//! Not verified: the prompt on stdin (the recordings pass it as an argument); the `done` event
//! (not in 1.18.33's recordings); `--auto` (auto-approve permissions), which recent versions
//! document but 1.18.33 may lack — OpenCode rejects unknown options, so it is not passed, and
//! edits work without it under OpenCode's default permissions (recorded).

use std::path::Path;

use serde_json::Value;

use super::{
    AgentOutput, AgentResult, Launch, Request, Usage, first_line, json_lines, no_result,
    output_from_text, shorten,
};

pub const PROGRAM: &str = "opencode";
/// The CLI, for `ork doctor`, `ork init` and a missing program's message.
pub const CLI: super::Cli = super::Cli {
    name: "OpenCode",
    program: PROGRAM,
    install: "npm install -g opencode-ai",
    login: LOGIN,
};

/// OpenCode's login, for `ork doctor`: `opencode auth list`, which reads its `auth.json` and
/// the environment and answers without a request, always exit 0, with "└  N credentials" and,
/// when a provider's variable is set, "└  N environment variable(s)" (recorded of 1.18.33 in
/// `fixtures/agent-clis/README.md`). None at all is not sure to fail: OpenCode's free models
/// and providers with their key in `opencode.json` need no login, so it is "not checked".
pub const LOGIN: super::LoginProbe = super::LoginProbe {
    local: |_| None,
    args: &["auth", "list"],
    env: &[
        ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
    ],
    read: read_login,
};

fn read_login(reply: &super::LoginReply<'_>) -> super::Login {
    use super::Login;
    let lines = super::plain_lines(reply.stdout);
    // "└  2 credentials", "└  1 environment variable".
    let count = |noun: &str| {
        lines.iter().find_map(|line| {
            let line = line.strip_prefix('└')?.trim_start();
            let (n, rest) = line.split_once(' ')?;
            rest.trim()
                .starts_with(noun)
                .then(|| n.parse::<u32>().ok())?
        })
    };
    match (reply.code, count("credential"), count("environment variable")) {
        (Some(0), Some(credentials), variables) if credentials + variables.unwrap_or(0) > 0 => {
            Login::Found(format!(
                "{credentials} credential(s), {} provider variable(s)",
                variables.unwrap_or(0)
            ))
        }
        (Some(0), Some(_), _) => Login::NotChecked(
            "no provider credentials (only its free models, and providers with their key in opencode.json, answer); `opencode auth login` adds one".into(),
        ),
        _ => Login::NotChecked(format!(
            "`opencode auth list` answered {}",
            lines.first().map_or("nothing", String::as_str)
        )),
    }
}

/// What OpenCode says when `--session` names a session it does not have.
const UNKNOWN_SESSION: &str = "Session not found";

/// The folders OpenCode keeps its state in: an `opencode` folder in each XDG base (data,
/// config, cache, state; under `~/.local/share`, `~/.config`, `~/.cache`, `~/.local/state` by
/// default). Under ork's sandbox they are writable (docs/security.md).
pub fn state_folders(env: super::Env<'_>) -> Vec<std::path::PathBuf> {
    let home = env("HOME");
    [
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ]
    .into_iter()
    .filter_map(|(var, default)| env(var).or_else(|| home.as_ref().map(|h| h.join(default))))
    .map(|base| base.join("opencode"))
    .collect()
}

/// OpenCode keeps its sessions in one SQLite database,
/// `$XDG_DATA_HOME/opencode/opencode.db` (`~/.local/share` by default), which only the CLI
/// reads: a session travels as `opencode export <id>` (JSON) and comes back with
/// `opencode import <file>`. A session belongs to the directory it was started in (resumed
/// elsewhere, OpenCode does nothing and exits 0), so an export is fitted to the worktree it is
/// imported for.
pub fn session_home(query: &super::SessionQuery<'_>) -> Option<super::SessionHome> {
    let program = query.executable.unwrap_or(PROGRAM).to_string();
    Some(super::SessionHome::Exported {
        export: vec![program.clone(), "export".into(), query.session.into()],
        import: vec![program, "import".into()],
        retarget: retarget_export,
    })
}

/// An export with its session's `info.directory` set to `worktree`; other bytes as they are.
fn retarget_export(export: &[u8], worktree: &Path) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(export) else {
        return export.to_vec();
    };
    if let Some(info) = value.get_mut("info").and_then(Value::as_object_mut) {
        info.insert(
            "directory".into(),
            Value::String(worktree.display().to_string()),
        );
    }
    value.to_string().into_bytes()
}

/// `opencode run --format json [--model provider/model] [--session ID]`, the prompt on stdin.
///
/// The prompt goes on stdin, which `opencode run` reads as the message when it is piped: as
/// arguments, OpenCode re-joins the message's words and wraps any with a space in quotes, and a
/// prompt can outgrow the 128 KiB Linux allows one argument.
pub fn launch(request: &Request<'_>) -> Launch {
    let mut argv: Vec<String> = [
        request.executable.unwrap_or(PROGRAM),
        "run",
        "--format",
        "json",
    ]
    .map(String::from)
    .into();
    if let Some(model) = request.model {
        argv.extend(["--model".into(), model.into()]);
    }
    if let Some(session) = request.resume {
        argv.extend(["--session".into(), session.into()]);
    }
    argv.extend(request.args.iter().cloned());
    // OpenCode merges this JSON over its configured `permission`.
    let mut env: Vec<(String, String)> = request
        .permission
        .map(|config| vec![("OPENCODE_PERMISSION".to_string(), config.to_string())])
        .unwrap_or_default();
    // ork's server in the config OpenCode merges over its own files.
    if let Some(server) = request.ork_mcp {
        let config = serde_json::json!({ "mcp": { super::ORK_MCP_NAME: {
            "type": "local", "command": server, "enabled": true } } });
        env.push(("OPENCODE_CONFIG_CONTENT".into(), config.to_string()));
    }
    Launch {
        argv,
        prompt_on_stdin: true,
        env,
    }
}

/// Reads the run from its events: the text of its last message is the answer, every step's
/// tokens and cost add up. There is no final result event: the run succeeded if the process
/// exited with 0, reported no error and had no permission rejected (which would leave the work
/// undone).
pub fn parse(stdout: &str, stderr: &str, exit_code: Option<i32>) -> AgentResult {
    let run = json_lines(stdout).fold(Run::default(), Run::read);
    let output = run.outcome(stderr, exit_code);
    AgentResult {
        output,
        session_id: run.session,
        usage: run.usage,
    }
}

/// One line for an event: a tool call ("Write hello.txt", or its failure), a text's first line,
/// an error.
pub fn progress(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line.trim()).ok()?;
    let part = &event["part"];
    match text(&event, "type")? {
        "tool_use" => tool_line(part),
        "text" => first_line(text(part, "text")?),
        "error" => first_line(&format!("Error: {}", error_message(&event["error"]))),
        _ => None,
    }
}

/// A finished step's tokens and cost. Input counts cache reads and writes (OpenCode keeps them
/// apart from `input`), output counts reasoning (billed as output, kept apart from `output`).
fn step_usage(part: &Value) -> Usage {
    let tokens = &part["tokens"];
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    Usage {
        input_tokens: count(&tokens["input"])
            + count(&tokens["cache"]["read"])
            + count(&tokens["cache"]["write"]),
        output_tokens: count(&tokens["output"]) + count(&tokens["reasoning"]),
        cost_usd: part["cost"].as_f64().unwrap_or(0.0),
    }
}

/// Adds what one stream line spent: a finished step's tokens and OpenCode's own cost of it.
pub fn live_usage(line: &str, live: &mut super::LiveUsage, _model: Option<&str>) {
    if let Some(event) = super::event_of_type(line, "step_finish") {
        live.spent.add(&step_usage(&event["part"]));
    }
}

/// What the events of one run add up to.
#[derive(Default)]
struct Run {
    session: Option<String>,
    /// The text parts, with the message each belongs to.
    texts: Vec<(String, String)>,
    usage: Usage,
    errors: Vec<String>,
    rejected: Vec<String>,
}

impl Run {
    fn read(mut self, event: Value) -> Self {
        if self.session.is_none() {
            self.session = text(&event, "sessionID").map(str::to_string);
        }
        let part = &event["part"];
        match text(&event, "type").unwrap_or_default() {
            "text" => {
                let message = text(part, "messageID").unwrap_or_default().to_string();
                self.texts
                    .push((message, text(part, "text").unwrap_or_default().to_string()));
            }
            "step_finish" => self.add_step(part),
            "error" => self.errors.push(error_message(&event["error"])),
            "done" => {
                let rejected = event["rejected"].as_array().into_iter().flatten();
                self.rejected
                    .extend(rejected.filter_map(Value::as_str).map(str::to_string));
            }
            _ => {}
        }
        self
    }

    fn add_step(&mut self, part: &Value) {
        self.usage.add(&step_usage(part));
    }

    fn outcome(&self, stderr: &str, exit_code: Option<i32>) -> AgentOutput {
        if !self.errors.is_empty() {
            return AgentOutput::Failed {
                error: format!("opencode failed: {}", self.errors.join("; ")),
            };
        }
        if !self.rejected.is_empty() {
            return AgentOutput::Failed {
                error: format!(
                    "opencode was refused permission for {}, so that work was never done",
                    self.rejected.join(", ")
                ),
            };
        }
        match exit_code {
            Some(0) => output_from_text(&self.answer()),
            _ if stderr.contains(UNKNOWN_SESSION) => AgentOutput::Failed {
                error: format!("the opencode session could not be resumed: {UNKNOWN_SESSION}"),
            },
            _ => AgentOutput::Failed {
                error: no_result(PROGRAM, exit_code, None, stderr),
            },
        }
    }

    /// The text of the last message that has any: earlier messages are the steps on the way
    /// (each tool call ends one).
    fn answer(&self) -> String {
        let Some((last, _)) = self.texts.last() else {
            return String::new();
        };
        let texts: Vec<&str> = self
            .texts
            .iter()
            .filter(|(message, _)| message == last)
            .map(|(_, text)| text.as_str())
            .collect();
        texts.join("\n")
    }
}

/// `APIError: Cannot connect to API: …`: the error's name and its message.
fn error_message(error: &Value) -> String {
    let message = error["data"]["message"]
        .as_str()
        .or_else(|| text(error, "message"));
    match (text(error, "name"), message) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => "unknown error".to_string(),
    }
}

/// "Write hello.txt", or "Bash cargo test failed: …" for a tool that failed.
fn tool_line(part: &Value) -> Option<String> {
    let state = &part["state"];
    let tool = capitalized(text(part, "tool")?);
    let target = ["title", "filePath", "command", "pattern", "url"]
        .iter()
        .find_map(|key| text(state, key).or_else(|| text(&state["input"], key)))
        .and_then(first_line);
    let line = match target {
        Some(target) => format!("{tool} {target}"),
        None => tool,
    };
    Some(shorten(&match text(state, "status") {
        Some("error") => format!(
            "{line} failed: {}",
            text(state, "error").unwrap_or("unknown error")
        ),
        _ => line,
    }))
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{Decision, SessionHome, SessionQuery};

    #[test]
    fn a_session_is_exported_and_imported_by_the_cli_into_this_worktree() {
        let env = |_: &str| None;
        let query = SessionQuery {
            env: &env,
            worktree: Path::new("/w"),
            session: "ses_1",
            executable: Some("/opt/opencode"),
        };
        let Some(SessionHome::Exported {
            export,
            import,
            retarget,
        }) = session_home(&query)
        else {
            panic!("not exported")
        };
        assert_eq!(export, ["/opt/opencode", "export", "ses_1"]);
        assert_eq!(import, ["/opt/opencode", "import"]);
        let moved = retarget(
            br#"{"info":{"id":"ses_1","directory":"/a/wt"},"messages":[]}"#,
            Path::new("/b/wt"),
        );
        let moved: Value = serde_json::from_slice(&moved).unwrap();
        assert_eq!(moved["info"]["directory"], "/b/wt");
        assert_eq!(moved["info"]["id"], "ses_1");
    }

    const WRITE_AND_TEXT: &str =
        include_str!("../../fixtures/opencode/run-json-write-and-text.jsonl");
    const RESUMED: &str = include_str!("../../fixtures/opencode/run-json-resumed-session.jsonl");
    const UNREACHABLE: &str =
        include_str!("../../fixtures/opencode/run-json-api-unreachable.jsonl");
    const UNKNOWN_STDERR: &str =
        include_str!("../../fixtures/opencode/run-unknown-session.stderr.txt");

    fn request(prompt: &str) -> Request<'_> {
        Request {
            prompt,
            ..Request::default()
        }
    }

    #[test]
    fn orks_mcp_server_is_merged_through_opencode_config_content() {
        let server: Vec<String> = ["/opt/ork", "-C", "/repo \"x\"", "mcp"]
            .map(String::from)
            .into();
        let launch = launch(&Request {
            ork_mcp: Some(&server),
            ..request("Do it")
        });
        let (_, config) = launch
            .env
            .iter()
            .find(|(k, _)| k == "OPENCODE_CONFIG_CONTENT")
            .unwrap();
        let config: serde_json::Value = serde_json::from_str(config).unwrap();
        assert_eq!(
            config["mcp"]["ork"],
            serde_json::json!({"type": "local", "command": server, "enabled": true})
        );
        assert!(launch_env_without_server().is_empty());
    }

    fn launch_env_without_server() -> Vec<(String, String)> {
        launch(&request("Do it")).env
    }

    fn failure(result: &AgentResult) -> &str {
        match &result.output {
            AgentOutput::Failed { error } => error,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn the_permission_config_travels_in_the_environment_and_args_are_appended() {
        let args = vec!["--agent".to_string(), "build".into()];
        let rules = r#"{"bash":{"*":"deny"}}"#;
        let launch = launch(&Request {
            permission: Some(rules),
            args: &args,
            ..request("Do it")
        });
        assert_eq!(launch.argv[4..], ["--agent", "build"]);
        assert_eq!(
            launch.env,
            [("OPENCODE_PERMISSION".to_string(), rules.to_string())]
        );
        assert!(super::launch(&request("Do it")).env.is_empty());
    }

    #[test]
    fn a_fresh_run_emits_json_and_reads_the_prompt_from_stdin() {
        let launch = launch(&request("Do it"));
        assert_eq!(launch.argv, ["opencode", "run", "--format", "json"]);
        assert!(launch.prompt_on_stdin);
    }

    #[test]
    fn model_session_and_executable_show_in_argv() {
        let launch = launch(&Request {
            model: Some("anthropic/claude-sonnet-5-5"),
            resume: Some("ses_e02c59894ffeG416qCaATVBfal"),
            verdict: true,
            executable: Some("/opt/opencode"),
            ..request("Review it")
        });
        assert_eq!(
            launch.argv,
            [
                "/opt/opencode",
                "run",
                "--format",
                "json",
                "--model",
                "anthropic/claude-sonnet-5-5",
                "--session",
                "ses_e02c59894ffeG416qCaATVBfal",
            ]
        );
    }

    #[test]
    fn the_last_text_is_the_artifact_and_steps_add_up() {
        let result = parse(WRITE_AND_TEXT, "", Some(0));
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "OPENCODE-ARTIFACT".into()
            }
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("ses_e02c59894ffeG416qCaATVBfal")
        );
        assert_eq!(
            result.usage,
            Usage {
                input_tokens: 20,
                output_tokens: 10,
                cost_usd: 0.0
            }
        );
    }

    #[test]
    fn a_resumed_session_keeps_its_id() {
        let result = parse(RESUMED, "", Some(0));
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "OPENCODE-ARTIFACT".into()
            }
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("ses_e02c59894ffeG416qCaATVBfal")
        );
        assert_eq!(
            result.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 5,
                cost_usd: 0.0
            }
        );
    }

    #[test]
    fn an_unreachable_api_fails_with_the_error() {
        let result = parse(UNREACHABLE, "", Some(1));
        assert_eq!(
            failure(&result),
            "opencode failed: APIError: Cannot connect to API: Unable to connect. \
             Is the computer able to access the url?"
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("ses_e02c568c2ffeDLSamY67Mjm0K2")
        );
    }

    #[test]
    fn an_unknown_session_fails_and_has_no_session() {
        let result = parse("", UNKNOWN_STDERR, Some(1));
        assert_eq!(
            failure(&result),
            "the opencode session could not be resumed: Session not found"
        );
        assert_eq!(result.session_id, None);
    }

    #[test]
    fn a_killed_run_a_rejected_permission_or_no_text_fails() {
        let killed = parse(WRITE_AND_TEXT, "", None);
        assert_eq!(
            failure(&killed),
            "opencode was stopped (killed or timed out) before it gave a result"
        );
        assert_eq!(
            killed.session_id.as_deref(),
            Some("ses_e02c59894ffeG416qCaATVBfal")
        );

        let rejected = format!(
            "{WRITE_AND_TEXT}{}\n",
            r#"{"type":"done","sessionID":"s","reason":"idle","rejected":["external_directory"]}"#
        );
        assert_eq!(
            failure(&parse(&rejected, "", Some(0))),
            "opencode was refused permission for external_directory, so that work was never done"
        );

        let no_text = WRITE_AND_TEXT
            .lines()
            .filter(|line| !line.contains("\"type\":\"text\""))
            .collect::<Vec<_>>();
        assert_eq!(
            failure(&parse(&no_text.join("\n"), "", Some(0))),
            "the agent finished without an answer"
        );
        assert_eq!(
            failure(&parse("garbage\n{", "", Some(0))),
            "the agent finished without an answer"
        );
    }

    #[test]
    fn a_text_verdict_is_decided_by_the_stage() {
        let verdict = r#"{"type":"text","sessionID":"s","part":{"messageID":"m1","type":"text","text":"Thinking about it"}}
{"type":"text","sessionID":"s","part":{"messageID":"m2","type":"text","text":"REJECT"}}
{"type":"text","sessionID":"s","part":{"messageID":"m2","type":"text","text":"Missing tests."}}"#;
        let result = parse(verdict, "", Some(0)).for_stage(true);
        assert_eq!(
            result.output,
            AgentOutput::Verdict {
                decision: Decision::Reject,
                content: "REJECT\nMissing tests.".into(),
                route_to: None
            }
        );
    }

    #[test]
    fn progress_shows_tool_calls_text_and_errors() {
        let lines: Vec<String> = WRITE_AND_TEXT.lines().filter_map(progress).collect();
        assert_eq!(lines, ["Write hello.txt", "OPENCODE-ARTIFACT"]);
        assert_eq!(
            progress(UNREACHABLE.trim()).as_deref(),
            Some(
                "Error: APIError: Cannot connect to API: Unable to connect. Is the computer able to access the url?"
            )
        );
        let failed = r#"{"type":"tool_use","part":{"tool":"bash","state":{"status":"error","input":{"command":"cargo test"},"error":"exit 101"}}}"#;
        assert_eq!(
            progress(failed).as_deref(),
            Some("Bash cargo test failed: exit 101")
        );
        assert_eq!(progress(r#"{"type":"step_start"}"#), None);
        assert_eq!(progress("]["), None);
    }
}
