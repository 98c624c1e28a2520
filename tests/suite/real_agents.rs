//! End to end with the real agent CLIs — Claude Code, Codex and OpenCode at the versions pinned in
//! `fixtures/agent-clis/package.json` — each driven by the built `ork` through whole flows against
//! a scripted local model API (`fixtures/scripted-api/server.py`, on 127.0.0.1): questions and
//! `ork answer`, a gate that fails once and a retry that resumes the same session, a reviewer that
//! rejects once, integration, an API that never answers, ended by ork's timeout, and a dollar
//! budget that stops an agent calling tools turn after turn, then lets it go on when raised; and
//! Claude Code and Codex racing one stage, each against its own API, a Claude Code judge picking.
//!
//! `.ci/run` installs the CLIs and names their folder in `ORK_AGENT_CLIS`. Without them these tests
//! skip with a line on stderr; under `CI=true` they fail instead. `.config/nextest.toml` runs them
//! in a group of their own, two at a time: each starts real node processes.

use crate::common;

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use common::{Repo, RunsOrk, Sandbox, created_id};

/// The scripted model API.
const SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/scripted-api/server.py"
);

/// Where the CLIs' versions are pinned.
const PINS: &str = "fixtures/agent-clis/package.json";

/// How long one `ork` command may take before the test fails (and kills it): a command can run
/// several stages, and OpenCode takes tens of seconds to start on a busy machine.
const ORK_LIMIT: Duration = Duration::from_secs(600);

/// The files the scripted worker writes: the first run, the retry after the gate, the run after
/// the reviewer's rejection.
const WORK_FILES: [&str; 3] = ["hello.txt", "gate-ok.txt", "review-fix.txt"];

/// The gate: it fails until the worker has written `gate-ok.txt`.
const GATE: &str = "test -f gate-ok.txt || { echo 'GATE-FAILED: gate-ok.txt is missing'; exit 1; }";

#[derive(Clone, Copy, Debug)]
enum Cli {
    Claude,
    Codex,
    OpenCode,
}

impl Cli {
    /// Its executable's name, which is also its agent `kind` in workflow.toml.
    fn program(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::OpenCode => "opencode",
        }
    }

    /// The API the CLI talks to (server.py's `--api`).
    fn api(self) -> &'static str {
        match self {
            Cli::Claude => "anthropic",
            Cli::Codex => "responses",
            Cli::OpenCode => "chat",
        }
    }

    /// The agent's `model` key: OpenCode needs `provider/model`; Codex's is in its config.
    fn model(self) -> Option<&'static str> {
        match self {
            Cli::OpenCode => Some("scripted/m"),
            _ => None,
        }
    }

    /// How long one run may take: long enough for the CLI to start and reach the API on a busy
    /// machine (OpenCode takes 10 s of CPU to, and was seen to take a minute under load), short
    /// enough that the test of a never-answering API, which always waits this long, stays short.
    fn timeout(self) -> &'static str {
        match self {
            Cli::OpenCode => "120s",
            _ => "40s",
        }
    }

    /// Points the CLI at the scripted API on `port`: its config files in `home`, and the
    /// variables ork passes on to it.
    fn configure(self, home: &Path, port: u16) -> Vec<(&'static str, String)> {
        let url = format!("http://127.0.0.1:{port}");
        match self {
            Cli::Claude => vec![
                ("ANTHROPIC_BASE_URL", url),
                ("ANTHROPIC_API_KEY", "scripted".into()),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            ],
            Cli::Codex => {
                // Not under /tmp, where the test's home is: Codex will not set up its command
                // sandbox (bubblewrap's helper) for a CODEX_HOME there. The build's own
                // temporary folder is kept (a few kilobytes a run) for a failure to be read.
                let codex_home = tempfile::Builder::new()
                    .prefix("codex-home-")
                    .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                    .expect("a folder for CODEX_HOME")
                    .keep();
                write_file(
                    &codex_home.join("config.toml"),
                    &format!(
                        "model = \"scripted\"\nmodel_provider = \"scripted\"\n\n\
                         [model_providers.scripted]\nname = \"scripted\"\n\
                         base_url = \"{url}/v1\"\nwire_api = \"responses\"\nenv_key = \"SCRIPTED_KEY\"\n"
                    ),
                );
                vec![
                    ("CODEX_HOME", codex_home.display().to_string()),
                    ("SCRIPTED_KEY", "scripted".into()),
                ]
            }
            Cli::OpenCode => {
                let config = serde_json::json!({
                    "provider": {"scripted": {
                        "npm": "@ai-sdk/openai-compatible",
                        "name": "Scripted",
                        "options": {"baseURL": format!("{url}/v1"), "apiKey": "scripted"},
                        "models": {"m": {"name": "m"}},
                    }},
                    "model": "scripted/m",
                    "autoupdate": false,
                    "share": "disabled",
                    // Its git snapshot of the worktree at every step costs seconds per run.
                    "snapshot": false,
                });
                write_file(
                    &home.join(".config/opencode/opencode.json"),
                    &config.to_string(),
                );
                // No fetch of the models.dev catalogue (offline, it waits for a timeout), no
                // updates, plugins or language servers.
                [
                    "OPENCODE_DISABLE_MODELS_FETCH",
                    "OPENCODE_DISABLE_AUTOUPDATE",
                    "OPENCODE_DISABLE_DEFAULT_PLUGINS",
                    "OPENCODE_DISABLE_LSP_DOWNLOAD",
                    "OPENCODE_DISABLE_CLAUDE_CODE",
                ]
                .map(|var| (var, "1".to_string()))
                .into()
            }
        }
    }
}

/// Variables that could point a CLI at a real model or account: never passed on.
const REAL_MODEL_VARS: &[&str] = &[
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CONFIG_DIR",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENCODE_CONFIG",
    "OPENCODE_CONFIG_DIR",
];

fn write_file(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// The CLI's executable from `$ORK_AGENT_CLIS`. Missing, it fails the test under `CI=true` and
/// skips it elsewhere, saying so on stderr.
fn installed(cli: Cli) -> Option<PathBuf> {
    let dir = std::env::var_os("ORK_AGENT_CLIS").map(PathBuf::from);
    if let Some(program) = dir.as_ref().map(|dir| dir.join(cli.program()))
        && program.is_file()
    {
        return Some(program);
    }
    let why = match &dir {
        Some(dir) => format!("{} has no {}", dir.display(), cli.program()),
        None => "ORK_AGENT_CLIS is not set".to_string(),
    };
    let how = format!(
        "run `bash .ci/run` (it installs the versions pinned in {PINS} and sets ORK_AGENT_CLIS), \
         or `npm install --prefix DIR` those versions and set ORK_AGENT_CLIS=DIR/node_modules/.bin"
    );
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "the real {} CLI is needed under CI=true: {why}; {how}",
            cli.program()
        );
    }
    eprintln!(
        "\n!!! SKIPPED: the real-CLI test of {} did not run: {why}.\n!!! To run it: {how}.\n",
        cli.program()
    );
    None
}

// ---------------------------------------------------------------------------------------------
// The scripted model API
// ---------------------------------------------------------------------------------------------

/// `fixtures/scripted-api/server.py`, stopped when dropped (and by itself after a while).
struct ScriptedApi {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ScriptedApi {
    fn start(api: &str, dir: &Path, hang: bool) -> ScriptedApi {
        let log = dir.join(format!("{api}-requests.jsonl"));
        let mut command = Command::new("python3");
        command
            .arg(SERVER)
            .args(["--api", api, "--lifetime", "900", "--log"])
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if hang {
            command.arg("--hang");
        }
        let mut child = command
            .spawn()
            .expect("starting python3 for the scripted API");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first
            .strip_prefix("PORT ")
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("the scripted API did not say its port: {first:?}"));
        ScriptedApi { child, port, log }
    }

    /// The model requests it got (side requests included), oldest first.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(common::json)
            .collect()
    }

    /// One line per request, for failure messages: the stage, the tool results since the
    /// prompt, what was answered, and the prompt's end.
    fn summary(&self) -> String {
        let lines: Vec<String> = self
            .requests()
            .iter()
            .map(|request| {
                let prompt = request["prompt"].as_str().unwrap_or_default();
                let start = prompt.len().saturating_sub(160);
                let tail = prompt.get(start..).unwrap_or(prompt);
                // What the last tool result said, for a tool that failed.
                let said = request["result_texts"]
                    .as_array()
                    .and_then(|texts| texts.last())
                    .and_then(|pair| pair[1].as_str())
                    .map(|text| format!(" last result={:?}", &text[..text.len().min(300)]))
                    .unwrap_or_default();
                format!(
                    "{} results={} answer={}{said} prompt=…{tail:?}",
                    request["stage"], request["results"], request["action"]
                )
            })
            .collect();
        lines.join("\n")
    }

    /// The requests of `stage`'s runs.
    fn stage_requests(&self, stage: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|request| request["stage"] == stage && request["tools"] != Value::Array(vec![]))
            .collect()
    }
}

impl Drop for ScriptedApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The sandbox: a repository whose workflow runs one real CLI
// ---------------------------------------------------------------------------------------------

/// The `[agents.NAME]` table of an agent run by `cli` at `program`, with more `keys` (TOML
/// lines).
fn agent_table(name: &str, cli: Cli, program: &Path, keys: &str) -> String {
    let model = cli
        .model()
        .map(|model| format!("model = \"{model}\"\n"))
        .unwrap_or_default();
    format!(
        "[agents.{name}]\nkind = \"{}\"\ncommand = [\"{}\"]\ntimeout = \"{}\"\n{model}{keys}",
        cli.program(),
        program.display(),
        cli.timeout(),
    )
}

/// A workflow of the `agents` (TOML tables) whose flow `feature` has `stages` and merges, with
/// more `tables` at its end.
fn workflow(agents: &str, stages: &str, tables: &str) -> String {
    format!(
        "default_flow = \"feature\"\n\n{agents}\n\
         [flows.feature]\ndescription = \"A flow run by a real CLI\"\n\n{stages}\n\
         [flows.feature.integration]\nstrategy = \"merge\"\n\n{tables}"
    )
}

/// A repository set up for ork with `workflow`, the stages' prompt templates (each with its
/// stage's marker for the scripted API) and more `prompts` (file name under
/// `.orkestra/agents/`, text).
fn set_up_repo(workflow: &str, prompts: &[(&str, &str)]) -> Repo {
    let stage_prompts: Vec<(String, String)> = [
        ("planner.md", "planning"),
        ("worker.md", "work"),
        ("reviewer.md", "review"),
    ]
    .iter()
    .map(|(file, stage)| {
        (
            file.to_string(),
            format!("[[stage:{stage}]] {{{{title}}}}\n\n{{{{artifacts}}}}\n\n{{{{feedback}}}}\n"),
        )
    })
    .chain(
        prompts
            .iter()
            .map(|(file, text)| (file.to_string(), text.to_string())),
    )
    .map(|(file, text)| (format!(".orkestra/agents/{file}"), text))
    .collect();
    let files: Vec<(&str, &str)> = stage_prompts
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect();
    Repo::set_up(workflow, &files)
}

/// A sandbox around `repo` whose `ork` runs in the main checkout, with `PWD` naming it as a
/// shell would, no real model's credentials, and `env` (what points the CLIs at their APIs).
fn real_sandbox(repo: Repo, label: &str, env: Vec<(&str, String)>) -> Sandbox {
    let root = repo.root.clone();
    let mut sandbox = Sandbox::in_repo(repo, "")
        .with_limit(ORK_LIMIT)
        .with_label(label)
        .with_env("PWD", root)
        .without_env("OLDPWD");
    for var in REAL_MODEL_VARS {
        sandbox = sandbox.without_env(var);
    }
    for (var, value) in env {
        sandbox = sandbox.with_env(var, value);
    }
    sandbox
}

/// A sandbox whose workflow runs the real `cli`, talking to a scripted API.
struct CliSandbox {
    cli: Cli,
    api: ScriptedApi,
    sandbox: Sandbox,
}

impl Deref for CliSandbox {
    type Target = Sandbox;

    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl CliSandbox {
    /// A repository set up for ork with `stages` run by `cli` (at `program`), talking to a
    /// scripted API that answers (or, with `hang`, never does). `ork` runs in the main checkout,
    /// with `PWD` naming it as a shell would, and no real model's credentials.
    fn new(cli: Cli, program: &Path, stages: &str, hang: bool) -> CliSandbox {
        CliSandbox::with_agent_keys(cli, program, stages, hang, "")
    }

    /// [`CliSandbox::new`], with more keys (TOML lines) for the agent.
    fn with_agent_keys(
        cli: Cli,
        program: &Path,
        stages: &str,
        hang: bool,
        agent_keys: &str,
    ) -> CliSandbox {
        CliSandbox::with_workflow(cli, program, stages, hang, agent_keys, "")
    }

    /// [`CliSandbox::with_agent_keys`], with more `tables` (TOML) at the workflow's end.
    fn with_workflow(
        cli: Cli,
        program: &Path,
        stages: &str,
        hang: bool,
        agent_keys: &str,
        tables: &str,
    ) -> CliSandbox {
        let agent = agent_table("real", cli, program, agent_keys);
        let repo = set_up_repo(&workflow(&agent, stages, tables), &[]);
        let api = ScriptedApi::start(cli.api(), repo.root.parent().unwrap(), hang);
        let env = cli.configure(repo.home(), api.port);
        let sandbox = real_sandbox(repo, &format!("{cli:?}"), env);
        CliSandbox { cli, api, sandbox }
    }

    /// Asserts the trak is `status` at `stage`; on failure shows its log and what the API saw.
    fn assert_at(&self, id: &str, status: &str, stage: &str) {
        let trak = self.trak(id);
        assert_eq!(
            (trak["status"].as_str(), trak["stage"].as_str()),
            (Some(status), Some(stage)),
            "{:?}: {trak:#}\n{}\n{}\nrequests:\n{}",
            self.cli,
            self.ork_ok(&["log", id]),
            self.ork_ok(&["logs", id]),
            self.api.summary()
        );
    }

    /// Where in the sandbox files named like the worker's are, relative to the sandbox.
    fn work_files_anywhere(&self) -> Vec<String> {
        let base = self.repo.root.parent().unwrap();
        common::all_files(base)
            .into_iter()
            .filter(|path| {
                let name = Path::new(path).file_name().unwrap().to_string_lossy();
                WORK_FILES.contains(&name.as_ref())
            })
            .collect()
    }

    /// Asserts the worker's `files` are in the trak's worktree — and nowhere else in the sandbox.
    fn assert_only_in_worktree(&self, id: &str, files: &[&str]) {
        let worktree = format!("repo/.orkestra/worktrees/{id}");
        let expected: Vec<String> = files.iter().map(|f| format!("{worktree}/{f}")).collect();
        let mut found = self.work_files_anywhere();
        found.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(
            found, expected_sorted,
            "{:?} wrote its files elsewhere",
            self.cli
        );
        let program = self.cli.program();
        for file in files {
            let contents = self.repo.read(&format!(".orkestra/worktrees/{id}/{file}"));
            assert_eq!(contents, format!("written by {program}\n"), "{file}");
        }
    }
}

fn feature_stages() -> String {
    format!(
        "[[flows.feature.stages]]\nname = \"planning\"\nagent = \"real\"\nprompt = \"planner.md\"\n\
         artifact = \"plan\"\nreview = \"auto\"\n\n\
         [[flows.feature.stages]]\nname = \"work\"\nagent = \"real\"\nprompt = \"worker.md\"\n\
         artifact = \"summary\"\ngate = {{ command = {GATE:?}, timeout = \"30s\" }}\nmax_attempts = 3\n\n\
         [[flows.feature.stages]]\nname = \"review\"\nagent = \"real\"\nprompt = \"reviewer.md\"\n\
         artifact = \"verdict\"\nverdict = true\non_reject = \"work\"\nreview = \"auto\"\n"
    )
}

// ---------------------------------------------------------------------------------------------
// The whole flow
// ---------------------------------------------------------------------------------------------

/// Plan (a question, answered), work that writes a file (its gate fails once; the retry resumes
/// the same session with the gate's output), a reviewer that rejects once, work again, approve,
/// integrated: the CLI's files land in the trak's worktree, then in main, and nowhere else.
fn whole_flow(cli: Cli) {
    let Some(program) = installed(cli) else {
        return;
    };
    let s = CliSandbox::new(cli, &program, &feature_stages(), false);

    // Planning asks a question.
    let out = s.ork_ok(&["trak", "new", "Greet the world"]);
    let id = created_id(&out);
    s.assert_at(&id, "awaiting_answer", "planning");
    assert!(out.contains("Which greeting?"), "{out}");

    // The answer reaches the planner; the plan goes to work, whose gate fails once.
    s.ork_ok(&["answer", &id, "-m", "ANSWER-hello"]);
    s.assert_at(&id, "awaiting_review", "work");
    let planning = s.api.stage_requests("planning");
    let last_plan = planning.last().unwrap();
    assert!(
        last_plan["prompt"]
            .as_str()
            .unwrap()
            .contains("ANSWER-hello"),
        "{}",
        s.api.summary()
    );
    s.assert_only_in_worktree(&id, &WORK_FILES[..2]);
    assert!(
        !s.repo.root.join("hello.txt").exists(),
        "not in the main checkout before integration"
    );

    let gate_failures = s.events_of(&id, "gate_failed");
    assert_eq!(gate_failures.len(), 1, "{gate_failures:#?}");
    let retry = s
        .api
        .stage_requests("work")
        .into_iter()
        .find(|request| request["prompt"].as_str().unwrap().contains("GATE-FAILED"))
        .expect("a work request with the gate's output in its prompt");
    let earlier = retry["earlier_prompts"].as_array().unwrap();
    assert!(
        earlier.iter().any(|prompt| {
            let prompt = prompt.as_str().unwrap();
            prompt.contains("[[stage:work]]") && !prompt.contains("GATE-FAILED")
        }),
        "the retry resumed the first run's session (its conversation):\n{}",
        s.api.summary()
    );
    let runs = s.events_of(&id, "stage_finished");
    let work_sessions: Vec<&Value> = runs
        .iter()
        .filter(|run| run["stage"] == "work")
        .map(|run| &run["session_id"])
        .collect();
    assert_eq!(work_sessions.len(), 2, "{runs:#?}");
    assert!(work_sessions[0].is_string(), "{runs:#?}");
    assert_eq!(
        work_sessions[0], work_sessions[1],
        "the same session: {runs:#?}"
    );

    // Approved, the work is reviewed: rejected once, back to work.
    s.ork_ok(&["approve", &id]);
    s.assert_at(&id, "awaiting_review", "work");
    let verdicts: Vec<Value> = s
        .events_of(&id, "stage_finished")
        .into_iter()
        .filter(|run| run["stage"] == "review")
        .collect();
    assert_eq!(verdicts.len(), 1, "{verdicts:#?}");
    assert_eq!(verdicts[0]["decision"], "reject", "{verdicts:#?}");
    s.assert_only_in_worktree(&id, &WORK_FILES);

    // Approved again, the reviewer approves and the trak is integrated.
    s.ork_ok(&["approve", &id]);
    s.assert_at(&id, "done", "review");
    let tree = s.repo.tree_files("main");
    for file in WORK_FILES {
        assert!(tree.contains(&file.to_string()), "{file} in main: {tree:?}");
        assert_eq!(s.repo.read(file), format!("written by {}\n", cli.program()));
    }
    let mut found = s.work_files_anywhere();
    found.sort();
    let mut in_main: Vec<String> = WORK_FILES.iter().map(|f| format!("repo/{f}")).collect();
    in_main.sort();
    assert_eq!(
        found, in_main,
        "after integration, only in the main checkout"
    );

    // Every run talked from the trak's worktree.
    let worktree = s.repo.worktree_path(&id).display().to_string();
    for request in s.api.requests() {
        if let Some(cwd) = request["cwd"].as_str() {
            assert_eq!(cwd, worktree, "{request:#}");
        }
    }
}

#[test]
fn claude_code_runs_a_whole_flow() {
    whole_flow(Cli::Claude);
}

#[test]
fn codex_runs_a_whole_flow() {
    whole_flow(Cli::Codex);
}

#[test]
fn opencode_runs_a_whole_flow() {
    whole_flow(Cli::OpenCode);
}

// ---------------------------------------------------------------------------------------------
// An API that never answers
// ---------------------------------------------------------------------------------------------

/// The CLI waits for an API that never answers; ork's timeout ends the run and kills the CLI's
/// whole process group: no process of the CLI is left.
fn never_answered(cli: Cli) {
    let Some(program) = installed(cli) else {
        return;
    };
    let stages = "[[flows.feature.stages]]\nname = \"work\"\nagent = \"real\"\n\
                  prompt = \"worker.md\"\nartifact = \"summary\"\nmax_attempts = 1\n";
    let s = CliSandbox::new(cli, &program, stages, true);
    let out = s.ork_ok(&["trak", "new", "Wait forever"]);
    let id = created_id(&out);
    assert!(out.contains("timed out"), "{out}");
    s.assert_at(&id, "failed", "work");
    assert!(
        !s.api.stage_requests("work").is_empty(),
        "{cli:?} was waiting for the API when it was stopped"
    );
    assert_no_process_left(&s);
}

/// Asserts no process of the sandbox's CLI runs (given 10 s: killed processes may take a moment
/// to be gone).
fn assert_no_process_left(s: &CliSandbox) {
    let home = s.repo.home();
    let mut left = processes_with_home(home);
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        left = processes_with_home(home);
    }
    let commands: Vec<String> = left
        .iter()
        .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .collect();
    assert!(
        left.is_empty(),
        "{:?} left processes running: {commands:?}",
        s.cli
    );
}

/// The processes whose `HOME` is `home`: the CLIs ork started in this test, and their children.
fn processes_with_home(home: &Path) -> Vec<u32> {
    let wanted = format!("HOME={}", home.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| common::alive(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|byte| *byte == 0)
                    .any(|var| var == wanted.as_bytes())
            })
        })
        .collect()
}

#[test]
fn claude_code_waiting_on_a_silent_api_is_killed_at_the_timeout() {
    never_answered(Cli::Claude);
}

#[test]
fn codex_waiting_on_a_silent_api_is_killed_at_the_timeout() {
    never_answered(Cli::Codex);
}

#[test]
fn opencode_waiting_on_a_silent_api_is_killed_at_the_timeout() {
    never_answered(Cli::OpenCode);
}

// ---------------------------------------------------------------------------------------------
// A budget
// ---------------------------------------------------------------------------------------------

/// The turns a KEEP-SPENDING work run writes a file in before its answer (server.py's
/// SPENDING_TURNS): `turn-1.txt` …
const SPENDING_TURNS: usize = 6;

/// The tokens server.py reports for each answer of a KEEP-SPENDING run (SPENDING_USAGE).
const TURN_TOKENS: (f64, f64) = (10_000.0, 1_000.0);

/// USD per million input and output tokens for the models the CLIs name: the workflow's
/// `[prices]` for ork, and Claude Code's own list price of claude-sonnet-4-5, with which it
/// prices its result.
const PRICE: (f64, f64) = (3.0, 15.0);

/// What one turn of a KEEP-SPENDING run costs.
fn turn_cost() -> f64 {
    (TURN_TOKENS.0 * PRICE.0 + TURN_TOKENS.1 * PRICE.1) / 1_000_000.0
}

/// The model each CLI is told to use, so that ork and Claude Code know its price: ork prices
/// tokens by the stage's `model`, and with none named (Codex's is in its own config) prices
/// them as a large model's; Claude Code's default is one ork's table prices unlike Claude Code.
fn budget_agent_keys(cli: Cli) -> &'static str {
    match cli {
        Cli::Claude => "model = \"claude-sonnet-4-5\"\n",
        _ => "model = \"scripted\"\n",
    }
}

/// What ork counts of one turn of a run it stopped. Claude Code's stream shows a message's
/// usage as the message starts, when the API has counted one output token; the final count
/// comes only in the run's result, which a stopped run never prints. Codex's rollout records a
/// response's usage whole.
fn stopped_turn_cost(cli: Cli) -> f64 {
    match cli {
        Cli::Claude => (TURN_TOKENS.0 * PRICE.0 + PRICE.1) / 1_000_000.0,
        _ => turn_cost(),
    }
}

fn price_table() -> String {
    let (input, output) = PRICE;
    format!(
        "[prices]\n\"claude-sonnet-4-5\" = {{ input = {input:?}, output = {output:?} }}\n\
         \"scripted\" = {{ input = {input:?}, output = {output:?} }}\n"
    )
}

/// The CLI calls a tool turn after turn, each turn's usage reported, under a budget worth two and
/// a half turns: ork stops it at most one turn past the one that crossed the budget, kills it,
/// and the trak waits. Raising the budget resumes the same session, which writes the files it
/// had left and finishes; what was spent is what the turns cost.
fn budget_stops_and_resumes(cli: Cli) {
    let Some(program) = installed(cli) else {
        return;
    };
    let stages = "[[flows.feature.stages]]\nname = \"work\"\nagent = \"real\"\n\
                  prompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n";
    let s = CliSandbox::with_workflow(
        cli,
        &program,
        stages,
        false,
        budget_agent_keys(cli),
        &price_table(),
    );
    let budget = 2.5 * turn_cost();
    let out = s.ork_ok(&[
        "trak",
        "new",
        "KEEP-SPENDING turn after turn",
        "--budget",
        &budget.to_string(),
    ]);
    let id = created_id(&out);

    // Stopped: the third turn crosses the budget, and no more than one turn more was asked for.
    s.assert_at(&id, "failed", "work");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("reached its budget: spent $"), "{show}");
    assert!(show.contains(&format!("of ${budget:.2}")), "{show}");
    let crossing_turn = (budget / turn_cost()).ceil() as usize;
    // The turn at which what ork counts crosses it, and ork stops the CLI.
    let stopping_turn = (budget / stopped_turn_cost(cli)).ceil() as usize;
    let stopped_requests = s.api.stage_requests("work").len();
    assert!(
        stopped_requests <= crossing_turn + 1
            && (stopping_turn..=stopping_turn + 1).contains(&stopped_requests),
        "{cli:?} was asked {stopped_requests} turns; the budget was crossed at turn \
         {crossing_turn}, and by what ork counts at turn {stopping_turn}:\n{}",
        s.api.summary()
    );
    assert_no_process_left(&s);
    let stopped = s.events_of(&id, "budget_reached");
    assert_eq!(stopped.len(), 1, "{stopped:#?}");
    let session = &stopped[0]["session_id"];
    assert!(session.is_string(), "{stopped:#?}");
    // ork counted the turns up to the one that crossed, and stopped there.
    let counted = stopped[0]["usage"]["input_tokens"].as_f64().unwrap_or(-1.0);
    assert_eq!(
        counted,
        stopping_turn as f64 * TURN_TOKENS.0,
        "{stopped:#?}"
    );

    // Raised, the same session goes on where it stopped and finishes.
    s.ork_ok(&["approve", &id, "--budget", "5"]);
    s.assert_at(&id, "done", "work");
    let requests = s.api.stage_requests("work");
    let resumed = &requests[stopped_requests];
    assert!(
        !resumed["all_results"].as_array().unwrap().is_empty(),
        "the resumed run's first request carries the stopped run's tool results:\n{}",
        s.api.summary()
    );
    let finished = s.events_of(&id, "stage_finished");
    assert_eq!(finished.len(), 1, "{finished:#?}");
    assert_eq!(&finished[0]["session_id"], session, "the same session");
    let tree = s.repo.tree_files("main");
    for turn in 1..=SPENDING_TURNS {
        let file = format!("turn-{turn}.txt");
        assert!(tree.contains(&file), "{file} in main: {tree:?}");
        assert_eq!(
            s.repo.read(&file),
            format!("written by {}\n", cli.program())
        );
    }

    // What was spent is the stopped run's turns as ork counted them and the resumed run's as
    // the CLI reported them, each once.
    let json = common::json(&s.ork_ok(&["show", &id, "--json"]));
    let cost = json["usage"]["cost_usd"].as_f64().unwrap_or(-1.0);
    let resumed_turns = requests.len() - stopped_requests;
    let expected =
        stopping_turn as f64 * stopped_turn_cost(cli) + resumed_turns as f64 * turn_cost();
    assert!(
        (cost - expected).abs() < 1e-6,
        "spent ${cost}; {stopping_turn} stopped and {resumed_turns} resumed turns cost \
         ${expected}: {json:#}\n{}",
        s.api.summary()
    );
}

#[test]
fn claude_code_under_a_budget_is_stopped_within_a_turn_and_resumes_its_session_when_raised() {
    budget_stops_and_resumes(Cli::Claude);
}

#[test]
fn codex_under_a_budget_is_stopped_within_a_turn_and_resumes_its_session_when_raised() {
    budget_stops_and_resumes(Cli::Codex);
}

// ---------------------------------------------------------------------------------------------
// An agent with a shell, under ork's sandbox
// ---------------------------------------------------------------------------------------------

/// Claude Code's Bash tool, confined by ork (docs/security.md): `git status` works, `git
/// commit`, a write above the worktree and one to `$HOME` are refused, and the trak finishes.
#[test]
fn claude_codes_shell_reads_the_repository_but_cannot_commit_or_write_outside() {
    let Some(program) = installed(Cli::Claude) else {
        return;
    };
    let stages = "[[flows.feature.stages]]\nname = \"work\"\nagent = \"real\"\nprompt = \"worker.md\"\n\
                  artifact = \"summary\"\nreview = \"auto\"\n";
    let s = CliSandbox::with_agent_keys(
        Cli::Claude,
        &program,
        stages,
        false,
        "allowed_tools = [\"Bash\", \"Write\"]\n",
    );
    let out = s.ork_ok(&["trak", "new", "TRY-ESCAPES from the sandbox"]);
    let id = created_id(&out);
    s.assert_at(&id, "done", "work");
    assert_eq!(
        s.repo.read("tries.txt"),
        "status ok\ncommit refused\nupdir refused\nhome refused\n",
        "{out}"
    );
    assert!(!s.repo.root.join(".orkestra/escape.txt").exists());
    assert!(!s.repo.home().join("escape.txt").exists());
}

/// `ork doctor` with the real CLIs in an empty home: each status command run as it is, nothing
/// sent anywhere (fixtures/agent-clis/README.md). Logged out, Claude Code and Codex are
/// problems and OpenCode is not checked; with a key each is found.
#[test]
fn doctor_tells_the_real_clis_logged_out_from_logged_in() {
    let (Some(claude), Some(_), Some(_)) = (
        installed(Cli::Claude),
        installed(Cli::Codex),
        installed(Cli::OpenCode),
    ) else {
        return;
    };
    let clis = claude.parent().unwrap().to_path_buf();
    let repo = Repo::new();
    repo.ork_ok(&["init", "--agent", "claude"]);
    let workflow = repo
        .read(".orkestra/workflow.toml")
        .replacen(
            "name = \"planning\"\n",
            "name = \"planning\"\nagent = \"codex\"\n",
            1,
        )
        .replacen(
            "name = \"review\"\n",
            "name = \"review\"\nagent = \"opencode\"\n",
            1,
        );
    repo.write(".orkestra/workflow.toml", &workflow);
    let path = std::env::join_paths(
        std::iter::once(clis.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let doctor = |extra: &[(&str, &str)]| {
        let mut command = repo.ork_command(&repo.root, &["doctor"]);
        for var in crate::doctor::LOGIN_VARS.iter().chain(REAL_MODEL_VARS) {
            command.env_remove(var);
        }
        command.env("PATH", &path).envs(extra.iter().copied());
        command.output().unwrap()
    };

    let out = doctor(&[]);
    let said = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{said}{}", common::stderr(&out));
    for line in [
        "missing login     claude: no API key or login found",
        "missing login     codex: not logged in",
        "-       login     opencode: not checked: no provider credentials",
    ] {
        assert!(said.contains(line), "{line:?} in:\n{said}");
    }

    // A key given to Codex's own store, and one in the environment that Claude Code and
    // OpenCode both take.
    let mut login = Command::new(clis.join("codex"));
    login
        .args(["login", "--with-api-key"])
        .env("HOME", repo.home())
        .env_remove("CODEX_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = login.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sk-proj-not-a-real-key-0000")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = doctor(&[("ANTHROPIC_API_KEY", "not-a-real-key")]);
    let said = common::stdout(&out);
    assert!(out.status.success(), "{said}{}", common::stderr(&out));
    for line in [
        "ok      login     claude: ANTHROPIC_API_KEY is set",
        "ok      login     codex: API key configured - sk-proj-***-0000 (codex login status)",
        "ok      login     opencode: 0 credential(s), 1 provider variable(s) (opencode auth list)",
    ] {
        assert!(said.contains(line), "{line:?} in:\n{said}");
    }
}

// ---------------------------------------------------------------------------------------------
// The real Claude Code CLI driving ork's MCP tools
// ---------------------------------------------------------------------------------------------

/// A person's `claude -p` in a repository where `ork mcp install claude` wrote `.mcp.json`: the
/// scripted model calls ork's `create_trak` twice, the second `after` the first, and the traks
/// are there, the second waiting for the first.
#[test]
fn claude_code_creates_two_traks_through_orks_mcp_server() {
    let Some(program) = installed(Cli::Claude) else {
        return;
    };
    let stages = "[[flows.feature.stages]]\nname = \"work\"\nagent = \"real\"\nprompt = \"worker.md\"\n\
                  artifact = \"summary\"\n";
    let s = CliSandbox::new(Cli::Claude, &program, stages, false);
    let installed = s.ork_ok(&["mcp", "install", "claude"]);
    assert!(installed.contains(".mcp.json"), "{installed}");
    // A project's servers wait for the person's yes; here it is the settings' yes, given once.
    write_file(
        &s.repo.root.join(".claude/settings.local.json"),
        r#"{"enableAllProjectMcpServers": true}"#,
    );
    let mut claude = s.command(&program.display().to_string());
    // Claude Code offers an MCP server's tools through its ToolSearch tool, for the model to look
    // up; the scripted model does not search, so they are offered whole.
    claude.env("ENABLE_TOOL_SEARCH", "false");
    claude.args([
        "-p",
        "[[stage:orkmcp]] Queue two traks in ork, the second after the first.",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "mcp__ork",
    ]);
    let out = common::output_within(&mut claude, ORK_LIMIT, "claude -p with ork's MCP server");
    let said = common::stdout(&out);
    let requests = s.api.summary();
    assert!(
        out.status.success() && said.contains("Created traks: "),
        "claude -p: {}\n{said}\n{}\nrequests:\n{requests}",
        out.status,
        common::stderr(&out)
    );

    let status = common::json(&s.ork_ok(&["status", "--json"]));
    let traks = status["traks"].as_array().unwrap();
    assert_eq!(traks.len(), 2, "{status:#}\n{said}\nrequests:\n{requests}");
    let titled = |title: &str| {
        traks
            .iter()
            .find(|t| t["title"] == title)
            .unwrap_or_else(|| panic!("no trak {title:?}: {status:#}"))
    };
    let (first, second) = (
        titled("First from the agent"),
        titled("Second from the agent"),
    );
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(first["status"], "queued", "{first:#}");
    assert_eq!(second["after"], serde_json::json!([first_id]), "{second:#}");
    // It listed them and read the second's status, through the tools, and said what it saw.
    let second_id = second["id"].as_str().unwrap();
    assert!(said.contains("listed 2 traks"), "{said}");
    assert!(
        said.contains(&format!("{second_id} is after {first_id}")),
        "{said}"
    );
    assert_eq!(
        second["waits_for"],
        serde_json::json!([first_id]),
        "{second:#}"
    );
    assert!(first.get("spawned_by").is_none(), "a person's: {first:#}");
    assert!(
        said.contains(&format!(
            "Created traks: {first_id}, {}",
            second["id"].as_str().unwrap()
        )),
        "{said}"
    );
}

/// ork's MCP tools, as the CLIs' names of them end.
const ORK_TOOLS: [&str; 10] = [
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

/// `cli` run by ork for a stage with `spawn = { max = 1 }`: the server ork configures for the
/// run lets it create one follow-up trak, recorded as spawned by the trak, and refuses the
/// second; nothing else of ork is offered.
fn spawns_inside_a_trak(cli: Cli) {
    let Some(program) = installed(cli) else {
        return;
    };
    let stages = "[[flows.feature.stages]]\nname = \"work\"\nagent = \"real\"\nprompt = \"spawner.md\"\n\
                  artifact = \"summary\"\nspawn = { max = 1 }\n";
    let s = CliSandbox::new(cli, &program, stages, false);
    s.repo.write(
        ".orkestra/agents/spawner.md",
        "[[stage:orkmcp]] {{title}}: queue the follow-up work in ork.\n",
    );
    s.repo.commit_all("A stage that spawns");
    // Claude Code: as above, the scripted model does not search for tools.
    let s = CliSandbox {
        sandbox: s.sandbox.with_env("ENABLE_TOOL_SEARCH", "false"),
        ..s
    };
    let (parent, _) = s.new_trak("Split the work", &[]);
    s.assert_at(&parent, "awaiting_review", "work");

    let status = common::json(&s.ork_ok(&["status", "--json"]));
    let traks = status["traks"].as_array().unwrap();
    assert_eq!(
        traks.len(),
        2,
        "{cli:?}: the parent and one follow-up: {status:#}\n{}",
        s.api.summary()
    );
    let made = traks.iter().find(|t| t["id"] != parent.as_str()).unwrap();
    assert_eq!(made["title"], "First from the agent", "{made:#}");
    assert_eq!(made["spawned_by"], parent.as_str(), "{made:#}");
    assert_eq!(made["status"], "queued", "{made:#}");

    let requests = s.api.stage_requests("orkmcp");
    let offered: Vec<String> = requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .filter(|t| t.contains("ork") && ORK_TOOLS.iter().any(|tool| t.ends_with(tool)))
        .map(String::from)
        .collect();
    assert_eq!(
        offered.len(),
        1,
        "{cli:?}: {offered:?}\n{}",
        s.api.summary()
    );
    assert!(offered[0].ends_with("create_trak"), "{offered:?}");
    let refused = requests
        .iter()
        .flat_map(|r| r["result_texts"].as_array().cloned().unwrap_or_default())
        .any(|pair| {
            pair[1]
                .as_str()
                .is_some_and(|t| t.contains("may create at most 1 trak(s)"))
        });
    assert!(
        refused,
        "{cli:?}: the second was refused in ork's words: {}",
        s.api.summary()
    );
}

#[test]
fn claude_code_inside_a_trak_spawns_only_as_many_traks_as_its_stage_allows() {
    spawns_inside_a_trak(Cli::Claude);
}

#[test]
fn codex_inside_a_trak_spawns_only_as_many_traks_as_its_stage_allows() {
    spawns_inside_a_trak(Cli::Codex);
}

#[test]
fn opencode_inside_a_trak_spawns_only_as_many_traks_as_its_stage_allows() {
    spawns_inside_a_trak(Cli::OpenCode);
}

// ---------------------------------------------------------------------------------------------
// Two CLIs racing one stage
// ---------------------------------------------------------------------------------------------

/// The judge's prompt template: the scripted judge picks the attempt whose diff adds the line
/// `written by codex` (server.py's `judge_pick`).
const JUDGE_PROMPT: &str = "[[stage:judge]] PREFER-codex: which attempt of {{title}} carries on?\n\n\
                            {{attempts}}\n";

/// The stage `work` raced by Claude Code (attempt 1) and Codex (attempt 2), each through the
/// gate that fails once, and judged by Claude Code.
fn race_stages() -> String {
    format!(
        "[[flows.feature.stages]]\nname = \"work\"\nagent = \"claude\"\nprompt = \"worker.md\"\n\
         artifact = \"summary\"\nreview = \"auto\"\n\
         gate = {{ command = {GATE:?}, timeout = \"30s\" }}\nmax_attempts = 3\n\
         race = {{ agents = [\"claude\", \"codex\"], judge = \"claude\" }}\n"
    )
}

/// The work requests `api` got from the worktree at `cwd`, and those from anywhere else.
fn work_requests_from(api: &ScriptedApi, cwd: &Path) -> (Vec<Value>, Vec<Value>) {
    let cwd = cwd.display().to_string();
    api.stage_requests("work")
        .into_iter()
        .partition(|request| request["cwd"] == cwd.as_str())
}

/// Asserts the retry after the gate's failure, among `requests`, resumed the first run's
/// session: its conversation holds the first run's prompt, and no other.
fn assert_retry_resumed(requests: &[Value], who: &str, summary: &str) {
    let retry = requests
        .iter()
        .find(|request| request["prompt"].as_str().unwrap().contains("GATE-FAILED"))
        .unwrap_or_else(|| panic!("{who}: no work request with the gate's output:\n{summary}"));
    let earlier = retry["earlier_prompts"].as_array().unwrap();
    assert!(
        matches!(earlier.as_slice(), [first] if first.as_str().unwrap().contains("[[stage:work]]")
            && !first.as_str().unwrap().contains("GATE-FAILED")),
        "{who}'s retry resumed its own first run's session:\n{summary}"
    );
}

/// Claude Code and Codex race the stage, each in its own worktree against its own API; each
/// attempt's gate fails once and its retry resumes its own session; the Claude Code judge reads
/// both diffs and picks Codex's, whose files alone reach main; every run's cost counts.
#[test]
fn claude_code_and_codex_race_one_stage_and_a_claude_judge_picks_codex() {
    let (Some(claude), Some(codex)) = (installed(Cli::Claude), installed(Cli::Codex)) else {
        return;
    };
    let agents = format!(
        "{}\n{}",
        agent_table("claude", Cli::Claude, &claude, ""),
        agent_table("codex", Cli::Codex, &codex, "")
    );
    let repo = set_up_repo(
        &workflow(&agents, &race_stages(), ""),
        &[("judge.md", JUDGE_PROMPT)],
    );
    let dir = repo.root.parent().unwrap().to_path_buf();
    let claude_api = ScriptedApi::start(Cli::Claude.api(), &dir, false);
    let codex_api = ScriptedApi::start(Cli::Codex.api(), &dir, false);
    let mut env = Cli::Claude.configure(repo.home(), claude_api.port);
    env.extend(Cli::Codex.configure(repo.home(), codex_api.port));
    let codex_home = env
        .iter()
        .find(|(var, _)| *var == "CODEX_HOME")
        .map(|(_, dir)| PathBuf::from(dir))
        .unwrap();
    let s = real_sandbox(repo, "race", env);
    let summary = || {
        format!(
            "claude's requests:\n{}\ncodex's requests:\n{}",
            claude_api.summary(),
            codex_api.summary()
        )
    };

    let (id, out) = s.new_trak("Greet the world", &[]);
    let trak = s.trak(&id);
    assert_eq!(
        (trak["status"].as_str(), trak["stage"].as_str()),
        (Some("done"), Some("work")),
        "{out}\n{trak:#}\n{}\n{}",
        s.ork_ok(&["log", &id]),
        summary()
    );

    // Each CLI worked in its own attempt's worktree only, and its retry resumed its own session.
    let attempt_dir = |no: u32| {
        s.repo
            .root
            .join(format!(".orkestra/worktrees/.race/{id}/work-{no}"))
    };
    let (claude_work, elsewhere) = work_requests_from(&claude_api, &attempt_dir(1));
    assert!(elsewhere.is_empty(), "{elsewhere:#?}\n{}", summary());
    let (codex_work, elsewhere) = work_requests_from(&codex_api, &attempt_dir(2));
    assert!(elsewhere.is_empty(), "{elsewhere:#?}\n{}", summary());
    assert_retry_resumed(&claude_work, "claude", &summary());
    assert_retry_resumed(&codex_work, "codex", &summary());
    assert!(
        codex_api.stage_requests("judge").is_empty(),
        "{}",
        summary()
    );

    // The judge saw both attempts' diffs, and picked the one Codex wrote.
    let judged = claude_api.stage_requests("judge");
    let prompt = judged[0]["prompt"].as_str().unwrap();
    for seen in [
        "## Attempt 1 (claude)",
        "## Attempt 2 (codex)",
        "+written by claude",
        "+written by codex",
    ] {
        assert!(
            prompt.contains(seen),
            "{seen:?} in the judge's prompt:\n{prompt}"
        );
    }

    // Only the winner's files reached main.
    let tree = s.repo.tree_files("main");
    for file in &WORK_FILES[..2] {
        assert!(tree.contains(&file.to_string()), "{file} in main: {tree:?}");
        assert_eq!(s.repo.read(file), "written by codex\n", "{file}");
    }

    // ork show lists both attempts: agent, gate, runs, what each spent; the judge's reason.
    let show = common::json(&s.ork_ok(&["show", &id, "--json"]));
    let race = &show["races"]["work"];
    assert_eq!(race["winner"], 2, "{race:#}");
    assert_eq!(race["picked_by"], "judge", "{race:#}");
    assert_eq!(
        race["reason"], "Attempt 2 (codex): its diff adds 'written by codex'",
        "{race:#}"
    );
    let attempts = race["attempts"].as_array().unwrap();
    let mut spent = race["judge_usage"]["cost_usd"].as_f64().unwrap_or(0.0);
    for (attempt, agent) in attempts.iter().zip(["claude", "codex"]) {
        assert_eq!(attempt["agent"], agent, "{race:#}");
        assert_eq!(attempt["gate"], "passed", "{race:#}");
        assert_eq!(attempt["runs"], 2, "a run and its retry: {race:#}");
        let cost = attempt["usage"]["cost_usd"].as_f64().unwrap_or(0.0);
        assert!(cost > 0.0, "{agent}'s attempt spent something: {race:#}");
        spent += cost;
    }
    assert_eq!(attempts.len(), 2, "{race:#}");
    // Both attempts' runs and the judge's count in the trak's total.
    let total = s.trak(&id)["usage"]["cost_usd"].as_f64().unwrap_or(-1.0);
    assert!(
        (total - spent).abs() < 1e-9,
        "the trak's total ${total} is the attempts' and the judge's ${spent}: {show:#}"
    );

    // The winner's session, Codex's thread, is the stage's now.
    let picked = s.events_of(&id, "race_picked");
    let session = picked[0]["session_id"].as_str().unwrap_or_default();
    let codex_sessions = common::all_files(&codex_home.join("sessions"));
    assert!(
        !session.is_empty() && codex_sessions.iter().any(|file| file.contains(session)),
        "the winner's session {session:?} is one of Codex's: {codex_sessions:?}\n{picked:#?}"
    );

    // The story names the winner.
    let log = s.repo.git(&["log", "--format=%s", &format!("ork/{id}")]);
    assert!(
        log.contains("Race work: attempt 2 (codex) wins, picked by the judge"),
        "{log}"
    );
}
