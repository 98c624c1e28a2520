//! Codex CLI, run as `codex exec --json`.
//!
//! Checked against: the Codex docs pages "Non-interactive mode" and "codex exec" (`--json`,
//! `--output-schema <FILE>`, `--sandbox workspace-write`, `-m/--model`, `codex exec resume
//! <SESSION_ID> [PROMPT]`, `-` for the prompt on stdin), the source of `codex-rs/exec` (`cli.rs`:
//! `--output-schema` and `--sandbox` belong to `exec`, so they go before `resume`, where
//! `--output-schema` is still honoured; `--full-auto` is now a deprecated alias of
//! `--sandbox workspace-write`; headless runs never ask for approval; `exec_events.rs`: the
//! events and items), the openai/codex issue "Add --output-schema support to codex exec resume"
//! (#14343: the flag is refused *after* `resume`), and the output of Codex CLI 0.169.0 recorded in
//! `fixtures/codex`. Strict structured outputs (hence [`strict_answer_schema`]) is from the source
//! (`strict: true`) and the `invalid_json_schema` errors users report.
//! Not verified by a recording: `--output-schema`, `--model`, and the prompt on stdin (`-`), which
//! the recordings pass as an argument.
//!
//! [`strict_answer_schema`]: super::strict_answer_schema

use serde_json::Value;

use super::{
    AgentOutput, AgentResult, Launch, Request, Usage, first_line, json_lines, no_result,
    output_from_text, shorten, stderr_tail,
};

pub const PROGRAM: &str = "codex";
/// The CLI, for `ork doctor`, `ork init` and a missing program's message.
pub const CLI: super::Cli = super::Cli {
    name: "Codex",
    program: PROGRAM,
    install: "npm install -g @openai/codex",
    login: LOGIN,
};

/// Codex's login, for `ork doctor`: `CODEX_API_KEY` or `CODEX_ACCESS_TOKEN` in the environment
/// (which `codex exec` reads), else `codex login status`, which reads `$CODEX_HOME/auth.json`
/// and answers without a request: exit 0 and "Logged in using ChatGPT" or "API key configured -
/// sk-…", exit 1 and "Not logged in" (recorded of 0.169.0 in `fixtures/agent-clis/README.md`).
/// A provider of the user's own (`model_provider`) brings its own key, which only a request
/// checks: then a missing login is not a problem.
pub const LOGIN: super::LoginProbe = super::LoginProbe {
    local: login_seen,
    args: &["login", "status"],
    env: &[],
    read: read_login,
};

fn login_seen(env: super::Env<'_>) -> Option<String> {
    ["CODEX_API_KEY", "CODEX_ACCESS_TOKEN"]
        .into_iter()
        .find(|var| env(var).is_some_and(|v| !v.as_os_str().is_empty()))
        .map(|var| format!("{var} is set"))
}

fn read_login(reply: &super::LoginReply<'_>) -> super::Login {
    use super::Login;
    // Its own warnings (a CODEX_HOME under /tmp) come first on stderr.
    let said: Vec<String> = super::plain_lines(&format!("{}\n{}", reply.stdout, reply.stderr))
        .into_iter()
        .filter(|line| !line.starts_with("WARNING:"))
        .collect();
    let first = said.first().map_or("nothing", String::as_str);
    match reply.code {
        Some(0) => Login::Found(first.to_string()),
        Some(_) if said.iter().any(|line| line.contains("Not logged in")) => {
            match own_provider(reply) {
                Some(provider) => Login::NotChecked(format!(
                    "not logged in, but its model_provider is \"{provider}\", whose key only a request checks"
                )),
                None => Login::Missing {
                    what: "not logged in".into(),
                    fix: "run `codex login`, or `printenv OPENAI_API_KEY | codex login --with-api-key`".into(),
                },
            }
        }
        _ => Login::NotChecked(format!("`codex login status` answered {first}")),
    }
}

/// The `model_provider` the agent's `-c` arguments or `$CODEX_HOME/config.toml` choose, when
/// it is not OpenAI's.
fn own_provider(reply: &super::LoginReply<'_>) -> Option<String> {
    let from_args = reply.agent_args.iter().find_map(|arg| {
        let value = arg.strip_prefix("--config=").unwrap_or(arg);
        value
            .strip_prefix("model_provider=")
            .map(|v| v.trim_matches(['"', '\'']).to_string())
    });
    let from_config = || {
        let home =
            (reply.env)("CODEX_HOME").or_else(|| (reply.env)("HOME").map(|h| h.join(".codex")))?;
        let text = std::fs::read_to_string(home.join("config.toml")).ok()?;
        let config: toml::Table = text.parse().ok()?;
        config.get("model_provider")?.as_str().map(str::to_string)
    };
    from_args
        .or_else(from_config)
        .filter(|provider| provider != "openai")
}
/// Writes in the working directory, commands in the sandbox (no network).
const DEFAULT_SANDBOX: &str = "workspace-write";

/// Codex's sandbox when ork confines the run: none of its own. Codex's Linux sandbox is
/// bubblewrap, which needs mount namespaces, and Landlock refuses every mount to a process it
/// confines ("Failed to make / slave: Operation not permitted"), so each command would fail.
/// ork's sandbox holds a stricter line (the worktree writable, the git dir not).
const CONFINED_SANDBOX: &str = "danger-full-access";

/// What Codex says when `resume` names a thread it does not have.
const UNKNOWN_THREAD: &str = "no rollout found for thread id";

/// The folder Codex keeps its state in: `$CODEX_HOME` (`~/.codex` by default). Under ork's
/// sandbox it is writable (docs/security.md).
pub fn state_folders(env: super::Env<'_>) -> Vec<std::path::PathBuf> {
    env("CODEX_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".codex")))
        .into_iter()
        .collect()
}

/// Codex keeps a session (a thread) as a rollout,
/// `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread>.jsonl` (`CODEX_HOME` is `~/.codex`
/// by default); `codex exec resume <thread>` finds it anywhere under `sessions/`.
pub fn session_home(query: &super::SessionQuery<'_>) -> Option<super::SessionHome> {
    let env = query.env;
    let codex_home = env("CODEX_HOME").or_else(|| env("HOME").map(|h| h.join(".codex")))?;
    Some(super::SessionHome::Under {
        root: codex_home.join("sessions"),
        suffix: format!("-{}.jsonl", query.session),
    })
}

/// `codex exec --json --skip-git-repo-check --sandbox workspace-write [--model M]
/// [--output-schema FILE] [resume ID] -`, the prompt on stdin.
///
/// - `-` reads the prompt from stdin: a prompt can outgrow the 128 KiB Linux allows one argument,
///   and a prompt argument with a piped stdin gets stdin appended to it.
/// - `workspace-write` lets the agent edit the worktree (without it, `exec` is read-only); it
///   still cannot write outside it.
/// - `--skip-git-repo-check`: ork's worktrees are git repositories, but the check is Codex's
///   "trusted directory" test, which a linked worktree need not pass.
/// - The schema file (see [`Request::schema_file`]) is passed before `resume`, the only place
///   Codex accepts it.
pub fn launch(request: &Request<'_>) -> Launch {
    let mut argv: Vec<String> = [
        request.executable.unwrap_or(PROGRAM),
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--sandbox",
        request.permission.unwrap_or(if request.confined {
            CONFINED_SANDBOX
        } else {
            DEFAULT_SANDBOX
        }),
    ]
    .map(String::from)
    .into();
    if let Some(model) = request.model {
        argv.extend(["--model".into(), model.into()]);
    }
    if let Some(schema) = request.schema_file {
        argv.extend(["--output-schema".into(), schema.display().to_string()]);
    }
    // ork's server as `-c` overrides of `mcp_servers.ork`, each value TOML (a string, a list).
    if let Some(server) = request.ork_mcp {
        let name = super::ORK_MCP_NAME;
        let args = toml_strings(&server[1..]);
        argv.extend([
            "-c".into(),
            format!(
                "mcp_servers.{name}.command={}",
                toml::Value::String(server[0].clone())
            ),
            "-c".into(),
            format!("mcp_servers.{name}.args={args}"),
        ]);
    }
    // Options of `exec` go before `resume`, as `--output-schema` does.
    argv.extend(request.args.iter().cloned());
    if let Some(thread) = request.resume {
        argv.extend(["resume".into(), thread.into()]);
    }
    argv.push("-".into());
    Launch {
        argv,
        prompt_on_stdin: true,
        env: Vec::new(),
    }
}

/// `items` as a TOML list of strings (`["a", "b"]`), each quoted as TOML quotes it.
fn toml_strings(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| toml::Value::String(item.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// Reads the run from its events: the thread id is the session, the last agent message is the
/// answer, `turn.completed` carries the usage. The run succeeded only if its turn completed and
/// the process did not exit with an error; `turn.failed` fails it. An `error` event alone does not:
/// Codex reports retries ("Reconnecting...") that way, so it only explains a run that never ended.
pub fn parse(stdout: &str, stderr: &str, exit_code: Option<i32>) -> AgentResult {
    let run = json_lines(stdout).fold(Run::default(), Run::read);
    let output = run.outcome(stderr, exit_code);
    AgentResult {
        output,
        session_id: run.thread,
        usage: run.usage,
    }
}

/// One line for an event: the thread start, a command as it starts (and if it fails), file
/// changes, an agent message's first line, warnings, retries and failures.
pub fn progress(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line.trim()).ok()?;
    let item = &event["item"];
    match text(&event, "type")? {
        "thread.started" => Some(format!("Codex thread {}", text(&event, "thread_id")?)),
        "item.started" if item["type"] == "command_execution" => Some(shorten(&format!(
            "$ {}",
            shell_command(text(item, "command")?)
        ))),
        "item.completed" => completed_item_line(item),
        "error" => first_line(text(&event, "message")?),
        "turn.failed" => first_line(&format!("Failed: {}", text(&event["error"], "message")?)),
        _ => None,
    }
}

/// The tokens of a `turn.completed` event, or of a rollout's `token_usage_record` (its
/// payload). `input_tokens` already counts the cached ones (`cached_input_tokens` is a part of
/// it).
fn turn_usage(event: &Value) -> Usage {
    let tokens = |key: &str| event["usage"][key].as_u64().unwrap_or(0);
    Usage {
        input_tokens: tokens("input_tokens"),
        output_tokens: tokens("output_tokens"),
        cost_usd: 0.0,
    }
}

/// Adds what one stream line spent: a completed turn's tokens, priced by [`super::prices`]
/// for the stage's `model` (Codex names none in its events). Read only where the rollout
/// ([`USAGE_FILE`]) is not found.
pub fn live_usage(line: &str, live: &mut super::LiveUsage, model: Option<&str>) {
    if let Some(event) = super::event_of_type(line, "turn.completed") {
        let spent = priced(turn_usage(&event), live, model);
        live.spent.add(&spent);
    }
}

/// The session's rollout (see [`session_home`]): Codex records each model response's tokens
/// there (`token_usage_record`) as the response ends, while stdout has them only when the whole
/// turn completes — too late to stop a run at a budget, and, for a resumed thread, added up over
/// the whole thread (Codex CLI 0.169.0: a resumed run's `turn.completed` counts the earlier
/// runs' tokens again). The records of this run's responses are what it spent.
pub const USAGE_FILE: super::UsageFile = super::UsageFile {
    session_of: started_thread,
    read: rollout_usage,
};

/// The thread a `thread.started` line starts.
fn started_thread(line: &str) -> Option<String> {
    let event = super::event_of_type(line, "thread.started")?;
    text(&event, "thread_id").map(str::to_string)
}

/// Adds one model response's tokens from a rollout line, priced as [`live_usage`] prices them.
pub fn rollout_usage(line: &str, live: &mut super::LiveUsage, model: Option<&str>) {
    if let Some(record) = super::event_of_type(line, "token_usage_record") {
        let spent = priced(turn_usage(&record["payload"]), live, model);
        live.spent.add(&spent);
    }
}

fn priced(mut tokens: Usage, live: &super::LiveUsage, model: Option<&str>) -> Usage {
    tokens.cost_usd = live.prices.estimate(model, &tokens);
    tokens
}

/// What the events of one run add up to.
#[derive(Default)]
struct Run {
    thread: Option<String>,
    /// The last agent message: Codex's final answer (earlier ones are commentary).
    message: Option<String>,
    usage: Usage,
    completed: bool,
    /// Why the turn failed, from `turn.failed`.
    failure: Option<String>,
    /// The last `error` event: a retry notice, or the reason a run that never ended gave.
    last_error: Option<String>,
}

impl Run {
    fn read(mut self, event: Value) -> Self {
        match text(&event, "type").unwrap_or_default() {
            "thread.started" => self.thread = text(&event, "thread_id").map(str::to_string),
            "item.completed" if event["item"]["type"] == "agent_message" => {
                self.message = text(&event["item"], "text").map(str::to_string);
            }
            "turn.completed" => {
                self.completed = true;
                self.usage.add(&turn_usage(&event));
            }
            "turn.failed" => {
                self.failure = Some(
                    text(&event["error"], "message")
                        .unwrap_or("unknown error")
                        .to_string(),
                );
            }
            "error" => self.last_error = text(&event, "message").map(str::to_string),
            _ => {}
        }
        self
    }

    fn outcome(&self, stderr: &str, exit_code: Option<i32>) -> AgentOutput {
        if let Some(failure) = &self.failure {
            return AgentOutput::Failed {
                error: format!("codex failed: {failure}"),
            };
        }
        // Killed (None) after its turn completed is a run that hung on the way out: it is done.
        if self.completed && exit_code.is_none_or(|code| code == 0) {
            return output_from_text(self.message.as_deref().unwrap_or_default());
        }
        let reason = stderr_error(stderr);
        if reason
            .as_deref()
            .is_some_and(|reason| reason.contains(UNKNOWN_THREAD))
        {
            return AgentOutput::Failed {
                error: format!(
                    "the codex thread could not be resumed: {}",
                    reason.unwrap_or_default()
                ),
            };
        }
        let detail = self
            .last_error
            .as_ref()
            .map(|error| format!("its last error: {error}"));
        AgentOutput::Failed {
            error: no_result(PROGRAM, exit_code, detail.as_deref(), stderr),
        }
    }
}

/// The reason Codex gives on stderr: its last `Error: …` line (warnings come first), without the
/// prefix.
fn stderr_error(stderr: &str) -> Option<String> {
    stderr_tail(stderr)
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("Error:"))
        .map(|reason| reason.trim().to_string())
}

fn completed_item_line(item: &Value) -> Option<String> {
    match text(item, "type")? {
        "agent_message" => first_line(text(item, "text")?),
        // Non-fatal: Codex reports warnings as error items.
        "error" => first_line(&format!("Warning: {}", text(item, "message")?)),
        "command_execution" => {
            let code = item["exit_code"].as_i64().filter(|code| *code != 0)?;
            let command = shell_command(text(item, "command")?);
            Some(shorten(&format!("Command failed (exit {code}): {command}")))
        }
        "file_change" => file_change_line(item),
        "mcp_tool_call" => Some(format!("{}.{}", text(item, "server")?, text(item, "tool")?)),
        "web_search" => first_line(&format!("Search {}", text(item, "query")?)),
        _ => None,
    }
}

/// "Add src/a.rs, Edit src/b.rs".
fn file_change_line(item: &Value) -> Option<String> {
    let changes: Vec<String> = item["changes"]
        .as_array()?
        .iter()
        .filter_map(|change| {
            let verb = match text(change, "kind")? {
                "add" => "Add",
                "delete" => "Delete",
                _ => "Edit",
            };
            Some(format!("{verb} {}", text(change, "path")?))
        })
        .collect();
    (!changes.is_empty()).then(|| shorten(&changes.join(", ")))
}

/// The command inside Codex's shell wrapper: `/bin/bash -lc "cargo test"` is `cargo test`.
fn shell_command(command: &str) -> &str {
    let inner = match command
        .split_once(" -lc ")
        .or_else(|| command.split_once(" -c "))
    {
        Some((shell, inner)) if !shell.contains(' ') && shell.ends_with("sh") => inner,
        _ => return command,
    };
    ['"', '\'']
        .iter()
        .find_map(|quote| inner.strip_prefix(*quote)?.strip_suffix(*quote))
        .unwrap_or(inner)
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::agent::{Decision, SessionHome, SessionQuery, Usage};

    #[test]
    fn a_thread_is_a_rollout_under_codex_home() {
        let query = |env: &dyn Fn(&str) -> Option<std::path::PathBuf>| {
            session_home(&SessionQuery {
                env,
                worktree: Path::new("/w"),
                session: "0199-abc",
                executable: None,
            })
        };
        let home_only = |name: &str| (name == "HOME").then(|| "/home/dev".into());
        let Some(SessionHome::Under { root, suffix }) = query(&home_only) else {
            panic!("not under a folder")
        };
        assert_eq!(root, Path::new("/home/dev/.codex/sessions"));
        assert_eq!(suffix, "-0199-abc.jsonl");
        let codex_home = |name: &str| (name == "CODEX_HOME").then(|| "/ch".into());
        let Some(SessionHome::Under { root, .. }) = query(&codex_home) else {
            panic!("not under a folder")
        };
        assert_eq!(root, Path::new("/ch/sessions"));
    }

    const COMMAND_AND_MESSAGE: &str =
        include_str!("../../fixtures/codex/exec-json-command-and-message.jsonl");
    const RESUMED: &str = include_str!("../../fixtures/codex/exec-json-resumed-thread.jsonl");
    const UNREACHABLE: &str = include_str!("../../fixtures/codex/exec-json-api-unreachable.jsonl");
    const UNKNOWN_STDERR: &str =
        include_str!("../../fixtures/codex/exec-resume-unknown-thread.stderr.txt");

    fn request(prompt: &str) -> Request<'_> {
        Request {
            prompt,
            ..Request::default()
        }
    }

    #[test]
    fn orks_mcp_server_is_given_as_config_overrides_before_resume() {
        let server: Vec<String> = ["/opt/ork", "-C", "/repo \"x\"", "mcp"]
            .map(String::from)
            .into();
        let launch = launch(&Request {
            ork_mcp: Some(&server),
            resume: Some("t1"),
            ..request("Do it")
        });
        let at = launch.argv.iter().position(|a| a == "-c").unwrap();
        assert_eq!(
            launch.argv[at..at + 3],
            ["-c", "mcp_servers.ork.command=\"/opt/ork\"", "-c"]
        );
        assert!(launch.argv[at + 3].starts_with("mcp_servers.ork.args=["));
        let resume = launch.argv.iter().position(|a| a == "resume").unwrap();
        assert!(at < resume);
        // Each value reads as the TOML it means.
        let args: toml::Table = format!(
            "v = {}",
            &launch.argv[at + 3]["mcp_servers.ork.args=".len()..]
        )
        .parse()
        .unwrap();
        assert_eq!(
            args["v"].as_array().unwrap()[1].as_str(),
            Some("/repo \"x\"")
        );
    }

    fn failure(result: &AgentResult) -> &str {
        match &result.output {
            AgentOutput::Failed { error } => error,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_fresh_run_writes_the_workspace_and_reads_the_prompt_from_stdin() {
        let launch = launch(&request("Do it"));
        assert_eq!(
            launch.argv,
            [
                "codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "--sandbox",
                "workspace-write",
                "-"
            ]
        );
        assert!(launch.prompt_on_stdin);
    }

    #[test]
    fn the_sandbox_and_args_come_from_the_workflow_before_resume() {
        let args = vec!["-c".to_string(), "approval_policy=\"never\"".into()];
        let launch = launch(&Request {
            permission: Some("read-only"),
            args: &args,
            resume: Some("t1"),
            ..request("Do it")
        });
        assert_eq!(
            launch.argv[3..],
            [
                "--skip-git-repo-check",
                "--sandbox",
                "read-only",
                "-c",
                "approval_policy=\"never\"",
                "resume",
                "t1",
                "-"
            ]
        );
    }

    #[test]
    fn model_and_schema_go_before_resume() {
        let launch = launch(&Request {
            model: Some("gpt-5.5"),
            resume: Some("01a1fd38-2db7-7ac2-8f4f-1d7e1cf5dade"),
            verdict: true,
            schema_file: Some(Path::new("/tmp/ork/schema.json")),
            executable: Some("/usr/local/bin/codex"),
            ..request("Review it")
        });
        assert_eq!(
            launch.argv,
            [
                "/usr/local/bin/codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "--sandbox",
                "workspace-write",
                "--model",
                "gpt-5.5",
                "--output-schema",
                "/tmp/ork/schema.json",
                "resume",
                "01a1fd38-2db7-7ac2-8f4f-1d7e1cf5dade",
                "-",
            ]
        );
    }

    #[test]
    fn the_agent_message_is_the_artifact_and_a_warning_item_is_not_an_error() {
        let result = parse(COMMAND_AND_MESSAGE, "", Some(0));
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "CODEX-ARTIFACT".into()
            }
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("01a1fd38-2db7-7ac2-8f4f-1d7e1cf5dade")
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
    fn a_resumed_thread_keeps_its_id() {
        let result = parse(RESUMED, "", Some(0));
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "CODEX-ARTIFACT".into()
            }
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("01a1fd38-2db7-7ac2-8f4f-1d7e1cf5dade")
        );
        assert_eq!(
            result.usage,
            Usage {
                input_tokens: 30,
                output_tokens: 15,
                cost_usd: 0.0
            }
        );
    }

    #[test]
    fn an_unknown_thread_fails_with_codexs_reason_and_no_session() {
        let result = parse("", UNKNOWN_STDERR, Some(1));
        assert_eq!(
            failure(&result),
            "the codex thread could not be resumed: thread/resume: thread/resume failed: \
             no rollout found for thread id 01a1fd38-0000-7000-8000-000000000000 (code -32600)"
        );
        assert_eq!(result.session_id, None);
    }

    #[test]
    fn an_unreachable_api_killed_by_the_timeout_fails_with_the_last_error() {
        let result = parse(UNREACHABLE, "", None);
        assert_eq!(
            failure(&result),
            "codex was stopped (killed or timed out) before it gave a result; its last error: \
             Reconnecting... waiting for network (Connection failed: error sending request)"
        );
        assert_eq!(
            result.session_id.as_deref(),
            Some("01a1fd38-43a3-71b2-a75a-1c09d06021f6")
        );
        assert_eq!(result.usage, Usage::default());
    }

    #[test]
    fn a_failed_turn_fails_and_a_structured_answer_is_read() {
        let failed = "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n\
                      {\"type\":\"turn.failed\",\"error\":{\"message\":\"stream disconnected\"}}";
        let result = parse(failed, "", Some(1));
        assert_eq!(failure(&result), "codex failed: stream disconnected");
        assert_eq!(result.session_id.as_deref(), Some("t"));

        let structured = r#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"{\"kind\":\"verdict\",\"content\":\"Tests fail\",\"decision\":\"reject\",\"route_to\":\"work\",\"questions\":null}"}}
{"type":"turn.completed","usage":{"input_tokens":5,"cached_input_tokens":3,"output_tokens":2}}"#;
        assert_eq!(
            parse(structured, "", Some(0)).output,
            AgentOutput::Verdict {
                decision: Decision::Reject,
                content: "Tests fail".into(),
                route_to: Some("work".into())
            }
        );
    }

    #[test]
    fn an_error_exit_after_the_turn_or_garbage_is_a_failure() {
        let exited = parse(RESUMED, "Error: something broke\n", Some(1));
        assert_eq!(
            failure(&exited),
            "codex exited with code 1 without a result: Error: something broke"
        );
        let garbage = parse("{\"type\":\n\u{7f}\n[]", "", Some(0));
        assert_eq!(
            failure(&garbage),
            "codex exited with code 0 without a result"
        );
    }

    #[test]
    fn the_rollout_counts_each_response_as_it_ends_and_stdout_names_its_thread() {
        let rollout = include_str!("../../fixtures/codex/rollout-token-usage.jsonl");
        let prices = super::super::prices::Prices::with([(
            "scripted".to_string(),
            super::super::prices::Price {
                input: 3.0,
                output: 15.0,
            },
        )]);
        let mut live = super::super::LiveUsage::priced_by(prices);
        let model = Some("scripted");
        for line in rollout.lines() {
            rollout_usage(line, &mut live, model);
        }
        // Two records of 10,000 + 1,000 tokens; the token_count between them is not a third.
        assert_eq!(
            (live.spent.input_tokens, live.spent.output_tokens),
            (20_000, 2_000)
        );
        assert!(
            (live.spent.cost_usd - 0.09).abs() < 1e-9,
            "{:?}",
            live.spent
        );
        let completed = r#"{"type":"turn.completed","usage":{"input_tokens":30000,"cached_input_tokens":0,"output_tokens":3000}}"#;
        assert_eq!(
            started_thread(COMMAND_AND_MESSAGE.lines().next().unwrap()).as_deref(),
            Some("01a1fd38-2db7-7ac2-8f4f-1d7e1cf5dade")
        );
        assert_eq!(started_thread(completed), None);
    }

    #[test]
    fn progress_shows_commands_messages_warnings_and_retries() {
        let lines: Vec<String> = COMMAND_AND_MESSAGE.lines().filter_map(progress).collect();
        assert_eq!(
            lines,
            [
                "Codex thread 01a1fd38-2db7-7ac2-8f4f-1d7e1cf5dade",
                "Warning: Model metadata for `scripted` not found. Defaulting to fallback metadata; \
                 this can degrade performance and cau…",
                "$ printf 'hello from codex\\\\n' > hello.txt",
                "CODEX-ARTIFACT",
            ]
        );
        let retries: Vec<String> = UNREACHABLE.lines().skip(3).filter_map(progress).collect();
        assert_eq!(retries.len(), 5);
        assert_eq!(
            retries[0],
            "Reconnecting... waiting for network (Connection failed: error sending request)"
        );
        let changes = r#"{"type":"item.completed","item":{"type":"file_change","changes":[{"path":"a.rs","kind":"add"},{"path":"b.rs","kind":"update"}],"status":"completed"}}"#;
        assert_eq!(progress(changes).as_deref(), Some("Add a.rs, Edit b.rs"));
        let failed = r#"{"type":"item.completed","item":{"type":"command_execution","command":"bash -lc 'cargo test'","exit_code":101}}"#;
        assert_eq!(
            progress(failed).as_deref(),
            Some("Command failed (exit 101): cargo test")
        );
        assert_eq!(progress("{}"), None);
        assert_eq!(progress("not json"), None);
    }
}
