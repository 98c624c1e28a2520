//! Running one agent: launch it in the trak's worktree under its timeout, stream its output,
//! keep the whole stream, and map its run onto one [`AgentResult`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::agent::{self, AgentOutput, AgentResult, Request, Usage};
use crate::config::size;
use crate::config::workflow::{Agent, AgentKind, Limits};
use crate::engine::process::output::LiveBudget;
use crate::engine::process::sandbox::Confinement;
use crate::engine::process::{Finished, Keep, Stream, TrakCommand, run_streaming};

/// Everything one run needs.
pub struct RunSpec<'a> {
    pub agent: &'a Agent,
    /// The main worktree: relative `command` paths start here.
    pub repo_root: &'a Path,
    pub worktree: &'a Path,
    pub prompt: &'a str,
    /// `ORK_*` variables for the agent.
    pub env: Vec<(String, String)>,
    /// The session of an earlier attempt of this stage, to resume.
    pub resume: Option<&'a str>,
    pub verdict: bool,
    /// A breakdown stage: the answer lists parts.
    pub breakdown: bool,
    /// A race's judge: the answer is a pick.
    pub pick: bool,
    /// Where this run's runtime files go (prompt, output, live log).
    pub run_dir: &'a Path,
    /// How much of the agent's output ork keeps.
    pub limits: &'a Limits,
    /// Where the whole output can be read, for the line that says something was cut.
    pub whole_at: &'a str,
    /// What the agent may write (docs/design.md rule 12); its CLI's state folders are added.
    pub confinement: &'a Confinement,
    /// What the run may spend: crossing it stops the agent (docs/design.md rule 13).
    pub spend: &'a crate::engine::budget::Spend,
    /// How long the agent may be quiet, its worktree unchanged, before it is ended as stalled.
    pub stall: Option<std::time::Duration>,
    /// ork's MCP server (program and arguments) where the stage gives its agent one: a CLI is
    /// configured with it, a `command` agent finds it in `$ORK_MCP_COMMAND` (a JSON list).
    pub ork_mcp: Option<Vec<String>>,
}

/// The variable a `command` agent finds ork's MCP server in, as a JSON list of strings.
pub const ORK_MCP_VAR: &str = "ORK_MCP_COMMAND";

/// A finished run: its result and its full output stream.
pub struct Run {
    pub result: AgentResult,
    pub log: String,
}

/// Runs the agent, calling `on_line` with each line worth showing live.
pub fn run(spec: &RunSpec<'_>, on_line: &mut dyn FnMut(&str)) -> Result<Run> {
    crate::engine::process::create_private_dir(spec.run_dir)?;
    match spec.agent.kind {
        AgentKind::Command => run_command(spec, on_line),
        kind => run_cli(spec, kind, on_line),
    }
}

/// The `command` contract: prompt on stdin and in `$ORK_PROMPT_FILE`, result JSON in
/// `$ORK_OUTPUT` (or stdout as the artifact), non-zero exit = failed attempt.
fn run_command(spec: &RunSpec<'_>, on_line: &mut dyn FnMut(&str)) -> Result<Run> {
    let prompt_file = spec.run_dir.join("prompt.md");
    let output_file = spec.run_dir.join("output.json");
    std::fs::write(&prompt_file, spec.prompt)
        .with_context(|| format!("writing {}", prompt_file.display()))?;
    let _ = std::fs::remove_file(&output_file);
    let argv = &spec.agent.command;
    let mut command = TrakCommand::new(resolve_program(&argv[0], spec.repo_root), spec.worktree);
    command
        .args(&argv[1..])
        .args(&spec.agent.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("ORK_PROMPT_FILE", &prompt_file)
        .env("ORK_OUTPUT", &output_file);
    if let Some(session) = spec.resume {
        command.env("ORK_SESSION", session);
    }
    if let Some(server) = &spec.ork_mcp {
        command.env(ORK_MCP_VAR, serde_json::to_string(server)?);
    }
    command.confine(spec.confinement)?;
    let finished = run_showing(
        &mut command,
        Some(spec.prompt),
        spec,
        on_line,
        |line| Some(line.to_string()),
        agent::command_live_usage,
        None,
    )?;
    let mut result = match read_output_file(&output_file, output_file_bound(spec.limits)) {
        Ok(written) => command_result(
            &finished,
            written.as_deref().map(|text| (output_file.as_path(), text)),
        ),
        Err(error) => AgentResult {
            output: AgentOutput::Failed { error },
            session_id: None,
            usage: Usage::default(),
        },
    };
    // Stdout as the artifact, too long to keep whole: its start, saying how much more it had.
    if let (AgentOutput::Artifact { content }, Some((head, total)), false) = (
        &mut result.output,
        &finished.stdout_cut,
        output_file.exists(),
    ) {
        let room = spec.limits.artifact.saturating_sub(512);
        *content = crate::engine::process::output::cut_head(head, room, *total, spec.whole_at);
    }
    let result = result.for_stage(spec.verdict).for_breakdown(spec.breakdown);
    Ok(Run {
        result,
        log: finished.output,
    })
}

/// How much of the end of an agent's stdout ork keeps: room for a result line holding an
/// artifact at its cap, escaped as JSON, and what a CLI prints around it.
fn kept_tail(limits: &Limits) -> usize {
    limits.artifact.saturating_mul(2) + (1 << 20)
}

/// The most of `$ORK_OUTPUT` ork reads: room for an artifact at its cap, escaped as JSON.
fn output_file_bound(limits: &Limits) -> u64 {
    (limits.artifact as u64).saturating_mul(4) + (1 << 20)
}

/// The command agent's `$ORK_OUTPUT`, if it wrote one; an error (the run's failure) when it
/// is larger than `bound`: ork does not read a file of any size into memory.
fn read_output_file(path: &Path, bound: u64) -> Result<Option<String>, String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if meta.len() > bound {
        // Rounded, a few bytes past the bound read as the bound itself ("5 MiB, more than
        // the 5 MiB"): then the bytes are counted.
        let (wrote, most) = if size::format(meta.len()) == size::format(bound) {
            (
                format!("{} bytes", meta.len()),
                format!("{bound} bytes ({})", size::format(bound)),
            )
        } else {
            (size::format(meta.len()), size::format(bound))
        };
        return Err(format!(
            "the agent wrote {wrote} to $ORK_OUTPUT, more than the {most} ork reads; keep the result small (an artifact is cut at the [limits] artifact size anyway)"
        ));
    }
    Ok(std::fs::read(path)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// The JSON a command agent writes: an [`AgentOutput`] plus optional session and usage.
#[derive(Deserialize)]
struct CommandOutput {
    #[serde(flatten)]
    output: AgentOutput,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    usage: Usage,
}

/// Maps a command agent's run onto a result; `written` is what it wrote to `$ORK_OUTPUT`, and
/// where that is.
pub fn command_result(finished: &Finished, written: Option<(&Path, &str)>) -> AgentResult {
    let failed = |error: String| AgentResult {
        output: AgentOutput::Failed { error },
        session_id: None,
        usage: Usage::default(),
    };
    if !finished.success() {
        let how = match finished.status {
            None => finished.describe(),
            Some(_) => format!("ended with {}", finished.describe()),
        };
        return failed(format!(
            "the agent {how}{}",
            last_lines(&finished.output, 20)
        ));
    }
    match written {
        Some((path, text)) => match read_command_output(text) {
            Ok(parsed) => AgentResult {
                output: parsed.output,
                session_id: parsed.session_id,
                usage: parsed.usage,
            },
            Err(what) => failed(format!(
                "the agent's $ORK_OUTPUT ({}) is not a result ork can read: {what}. Write one JSON object with a \"type\" (artifact, verdict, questions, breakdown or failed) and its fields, such as {{\"type\": \"artifact\", \"content\": \"…\"}} (docs/workflow.md, the command agent contract){}",
                path.display(),
                last_lines(text, 5)
            )),
        },
        None if finished.stdout.trim().is_empty() => {
            failed("the agent wrote no $ORK_OUTPUT file and printed nothing".to_string())
        }
        None => AgentResult {
            output: AgentOutput::Artifact {
                content: finished.stdout.clone(),
            },
            session_id: None,
            usage: Usage::default(),
        },
    }
}

/// A command agent's `$ORK_OUTPUT` read, or what is wrong with it in the contract's words
/// (serde's own speak of the Rust types: "expected struct CommandOutput").
fn read_command_output(text: &str) -> Result<CommandOutput, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        // "expected value at line 1 column 1" and its like: where the JSON breaks.
        format!("it is not valid JSON ({e})")
    })?;
    let Some(object) = value.as_object() else {
        let kind = match &value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "true or false",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Array(_) => "a list",
            serde_json::Value::Object(_) => unreachable!("an object was matched above"),
        };
        return Err(format!("it holds {kind}, not a JSON object"));
    };
    match object.get("type") {
        None => return Err("the object has no \"type\"".to_string()),
        Some(kind) if !kind.is_string() => {
            return Err(format!("its \"type\" is {kind}, not a name in quotes"));
        }
        _ => {}
    }
    // What is left is a field's: "unknown variant `artefact`, expected one of `artifact`, …",
    // "missing field `content`", "invalid type: integer `3`, expected a string".
    serde_json::from_value(value).map_err(|e| json_words(&e.to_string()))
}

/// serde's words for JSON's shapes made JSON's own: "struct Question" is "a JSON object", a
/// "sequence" a list, a "map" an object.
fn json_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "struct ".len()..];
        let name = after
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(after.len());
        out.push_str(if name == 0 {
            "struct "
        } else {
            "a JSON object"
        });
        rest = &after[name..];
    }
    out.push_str(rest);
    out.replace("a sequence", "a list")
        .replace("type: sequence", "type: list")
        .replace("type: map", "type: object")
}

/// Claude Code, Codex and OpenCode, through their adapters.
fn run_cli(spec: &RunSpec<'_>, kind: AgentKind, on_line: &mut dyn FnMut(&str)) -> Result<Run> {
    // Codex reads the answer's schema from a file.
    let schema_file = spec.run_dir.join("answer-schema.json");
    let schema = agent::strict_schema_of(spec.verdict, spec.breakdown, spec.pick).to_string();
    std::fs::write(&schema_file, schema)
        .with_context(|| format!("writing {}", schema_file.display()))?;
    let request = Request {
        prompt: spec.prompt,
        model: spec.agent.model.as_deref(),
        resume: spec.resume,
        verdict: spec.verdict,
        breakdown: spec.breakdown,
        pick: spec.pick,
        executable: spec.agent.command.first().map(String::as_str),
        schema_file: Some(&schema_file),
        permission: spec.agent.permission_mode.as_deref(),
        confined: spec.confinement.enforced(),
        allowed_tools: &spec.agent.allowed_tools,
        disallowed_tools: &spec.agent.disallowed_tools,
        args: &spec.agent.args,
        ork_mcp: spec.ork_mcp.as_deref(),
    };
    let adapter = Adapter::for_kind(kind);
    let launch = (adapter.launch)(&request);
    if locate(&launch.argv[0], spec.repo_root).is_none() {
        anyhow::bail!("{}", not_found(spec.agent, &launch.argv[0]));
    }
    let mut command = TrakCommand::new(
        resolve_program(&launch.argv[0], spec.repo_root),
        spec.worktree,
    );
    command
        .args(&launch.argv[1..])
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .envs(launch.env.iter().map(|(k, v)| (k, v)));
    let env = |name: &str| {
        launch
            .env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into())
            .or_else(|| std::env::var_os(name))
            .map(PathBuf::from)
    };
    command.confine(
        &spec
            .confinement
            .clone()
            .also_writing((adapter.state_folders)(&env)),
    )?;
    let input = launch.prompt_on_stdin.then_some(spec.prompt);
    let locate = |session: &str| {
        let home = (adapter.session)(&agent::SessionQuery {
            env: &env,
            worktree: spec.worktree,
            session,
            executable: spec.agent.command.first().map(String::as_str),
        })?;
        crate::engine::session::session_file(&home)
    };
    let mut follow = adapter
        .usage_file
        .map(|file| UsageTail::new(file, &locate, spec.resume));
    let finished = run_showing(
        &mut command,
        input,
        spec,
        on_line,
        adapter.progress,
        adapter.live_usage,
        follow.as_mut(),
    )?;
    let mut result = (adapter.parse)(&finished.stdout, &finished.stderr, finished.code())
        .for_stage(spec.verdict)
        .for_breakdown(spec.breakdown);
    if let Some(tail) = follow.as_mut().filter(|tail| tail.found()) {
        // The records written as the CLI exited, too.
        tail.added_lines("");
        result.usage = tail.recorded();
    }
    if finished.status.is_none() {
        result.output = AgentOutput::Failed {
            error: format!("the agent {}", finished.describe()),
        };
    }
    // A CLI's result is its last line: one longer than the tail ork keeps is lost, and the
    // user must learn that, not only that there was no result.
    if let (AgentOutput::Failed { error }, Some((_, total))) =
        (&mut result.output, &finished.stdout_cut)
    {
        error.push_str(&format!(
            "; it printed {} on stdout, and ork keeps its last {} (where the result line \
             is): a longer result line was cut. Raise `[limits] artifact` (what is kept is \
             twice it plus 1 MiB), or ask for a shorter answer",
            size::format(*total),
            size::format(kept_tail(spec.limits) as u64)
        ));
    }
    Ok(Run {
        result,
        log: finished.output,
    })
}

/// The CLI an agent of `kind` runs; none for `command` agents.
pub fn cli(kind: AgentKind) -> Option<agent::Cli> {
    match kind {
        AgentKind::Claude => Some(agent::claude::CLI),
        AgentKind::Codex => Some(agent::codex::CLI),
        AgentKind::Opencode => Some(agent::opencode::CLI),
        AgentKind::Command => None,
    }
}

/// The program an agent runs: its `command[0]`, else its CLI's executable.
pub fn program(agent: &Agent) -> Option<&str> {
    agent
        .command
        .first()
        .map(String::as_str)
        .or_else(|| cli(agent.kind).map(|cli| cli.program))
}

/// Where `program` is: a path with a `/` from the repository root, else the first executable of
/// that name on `PATH`.
pub fn locate(program: &str, root: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = resolve_program(program, root);
        return executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// What to do when an agent's program is not there: install the CLI, or fix the `command`.
pub fn not_found(agent: &Agent, program: &str) -> String {
    match cli(agent.kind) {
        Some(cli) if agent.command.is_empty() => format!(
            "{} (`{program}`) is not on PATH; install it with `{}`, or set `command = [\"/path/to/{program}\"]` in [agents.{}]",
            cli.name, cli.install, agent.name
        ),
        Some(cli) => format!(
            "{program}, the `command` of agent \"{}\", is not an executable; point it at {} (`{}` installs it)",
            agent.name, cli.name, cli.install
        ),
        None => format!(
            "{program}, the `command` of agent \"{}\", is not an executable (relative paths start at the repository root, bare names are looked up on PATH)",
            agent.name
        ),
    }
}

/// One agent CLI's adapter functions (see [`crate::agent`]).
struct Adapter {
    launch: fn(&Request<'_>) -> agent::Launch,
    parse: fn(&str, &str, Option<i32>) -> AgentResult,
    progress: fn(&str) -> Option<String>,
    /// What one stream line spent, for budgets held while the agent runs.
    live_usage: agent::LiveRead,
    /// Where the CLI records its usage sooner than on stdout, if it does.
    usage_file: Option<agent::UsageFile>,
    session: fn(&agent::SessionQuery<'_>) -> Option<agent::SessionHome>,
    /// Where the CLI keeps its own state: writable under the sandbox.
    state_folders: fn(agent::Env<'_>) -> Vec<PathBuf>,
}

impl Adapter {
    fn for_kind(kind: AgentKind) -> Adapter {
        match kind {
            AgentKind::Claude => Adapter {
                launch: agent::claude::launch,
                parse: agent::claude::parse,
                progress: agent::claude::progress,
                live_usage: agent::claude::live_usage,
                usage_file: None,
                session: agent::claude::session_home,
                state_folders: agent::claude::state_folders,
            },
            AgentKind::Codex => Adapter {
                launch: agent::codex::launch,
                parse: agent::codex::parse,
                progress: agent::codex::progress,
                live_usage: agent::codex::live_usage,
                usage_file: Some(agent::codex::USAGE_FILE),
                session: agent::codex::session_home,
                state_folders: agent::codex::state_folders,
            },
            AgentKind::Opencode => Adapter {
                launch: agent::opencode::launch,
                parse: agent::opencode::parse,
                progress: agent::opencode::progress,
                live_usage: agent::opencode::live_usage,
                usage_file: None,
                session: agent::opencode::session_home,
                state_folders: agent::opencode::state_folders,
            },
            AgentKind::Command => unreachable!("command agents run through run_command"),
        }
    }
}

/// The folders `agent`'s CLI keeps its own state in (none for a `command` agent), as the
/// sandbox lets it write them.
pub fn state_folders(agent: &Agent) -> Vec<PathBuf> {
    if agent.kind == AgentKind::Command {
        return Vec::new();
    }
    let env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    (Adapter::for_kind(agent.kind).state_folders)(&env)
}

/// Where `agent`'s CLI keeps `session`, run in `worktree`; `None` for a `command` agent (its
/// sessions are its own business) or when the CLI's home is unknown.
pub fn session_home(agent: &Agent, worktree: &Path, session: &str) -> Option<agent::SessionHome> {
    if agent.kind == AgentKind::Command {
        return None;
    }
    let env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    (Adapter::for_kind(agent.kind).session)(&agent::SessionQuery {
        env: &env,
        worktree,
        session,
        executable: agent.command.first().map(String::as_str),
    })
}

/// Runs `command` under the agent's timeout, showing `show(line)` for each stdout line and
/// every stderr line, on the terminal and in the live log, up to the log cap of each. Where
/// the run has a budget, each stdout line's usage (`read_usage`) counts against it, and so do
/// the lines `follow` finds added to the CLI's usage file by then; the line that crosses it
/// stops the agent's process group.
fn run_showing(
    command: &mut TrakCommand,
    input: Option<&str>,
    spec: &RunSpec<'_>,
    on_line: &mut dyn FnMut(&str),
    show: impl Fn(&str) -> Option<String>,
    read_usage: agent::LiveRead,
    mut follow: Option<&mut UsageTail<'_>>,
) -> Result<Finished> {
    // The live log, for `ork logs -f`: every line as it arrives, before any condensing.
    let log_path = spec.run_dir.join("log");
    let mut live = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let cap = spec.limits.log;
    let mut to_file = LiveBudget::new(cap);
    let mut to_terminal = LiveBudget::new(cap);
    let mut forward = |stream: Stream, line: &str| {
        use std::io::Write;
        to_file.spend(line, |text| {
            let _ = writeln!(live, "{text}");
        });
        if stream == Stream::Stdout {
            let model = spec.agent.model.as_deref();
            let capped = spec.spend.capped();
            // The file first: what it holds by now was spent before this line was printed.
            let mut crossed = false;
            let mut from_file = false;
            if let Some(tail) = follow.as_deref_mut() {
                for recorded in tail.added_lines(line) {
                    crossed |= capped && spec.spend.read_line(&recorded, tail.file.read, model);
                }
                from_file = tail.found();
            }
            crossed |= capped && !from_file && spec.spend.read_line(line, read_usage, model);
            if crossed {
                crate::engine::process::kill_children_in(spec.worktree);
            }
        }
        let text = match stream {
            Stream::Stdout => show(line),
            Stream::Stderr => Some(line.to_string()),
        };
        if let Some(text) = text {
            to_terminal.spend(&text, &mut *on_line);
        }
    };
    command.stall_after(spec.stall);
    let program = command.get_program().to_string_lossy().into_owned();
    let keep = Keep {
        // The session starts the stream; the result, which holds the artifact, ends it.
        head: 1 << 20,
        tail: kept_tail(spec.limits),
        combined: cap,
    };
    run_streaming(command, input, spec.agent.timeout, keep, &mut forward).with_context(|| {
        format!(
            "starting agent \"{}\" ({program}); check its `command` in .orkestra/workflow.toml",
            spec.agent.name
        )
    })
}

/// Follows a CLI's [`agent::UsageFile`] while it runs, handing out the lines added to it.
struct UsageTail<'a> {
    file: agent::UsageFile,
    /// The file a session is kept in, by the session's id.
    locate: &'a dyn Fn(&str) -> Option<PathBuf>,
    /// The session the run started, once a stdout line named it.
    session: Option<String>,
    /// The file once found, and how much of it was read.
    found: Option<(PathBuf, u64)>,
    /// The start of a line not ended yet.
    partial: Vec<u8>,
    /// What the lines handed out so far recorded.
    recorded: agent::LiveUsage,
}

impl<'a> UsageTail<'a> {
    /// A run that resumes a session reads its file from where it ends now: what it holds
    /// already was spent by earlier runs.
    fn new(
        file: agent::UsageFile,
        locate: &'a dyn Fn(&str) -> Option<PathBuf>,
        resume: Option<&str>,
    ) -> UsageTail<'a> {
        let found = resume.and_then(locate).map(|path| {
            let end = std::fs::metadata(&path).map_or(0, |meta| meta.len());
            (path, end)
        });
        UsageTail {
            file,
            locate,
            session: None,
            found,
            partial: Vec::new(),
            recorded: agent::LiveUsage::default(),
        }
    }

    /// Whether the file was found: its lines, not stdout's, say what the run spent.
    fn found(&self) -> bool {
        self.found.is_some()
    }

    /// The tokens the lines handed out so far recorded, without a cost (the run's price is the
    /// budget's to set, by the stage's model).
    fn recorded(&self) -> Usage {
        Usage {
            cost_usd: 0.0,
            ..self.recorded.spent
        }
    }

    /// The whole lines added to the file since the last look; `stdout_line`, the line the CLI
    /// just printed, may name the session whose file it is.
    fn added_lines(&mut self, stdout_line: &str) -> Vec<String> {
        if self.found.is_none() {
            if self.session.is_none() {
                self.session = (self.file.session_of)(stdout_line);
            }
            // A new session's file holds only this run's records.
            self.found = self
                .session
                .as_deref()
                .and_then(self.locate)
                .map(|p| (p, 0));
        }
        let Some((path, read)) = self.found.as_mut() else {
            return Vec::new();
        };
        let added = read_from(path, *read);
        *read += added.len() as u64;
        self.partial.extend(added);
        let Some(end) = self.partial.iter().rposition(|byte| *byte == b'\n') else {
            return Vec::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        let lines: Vec<String> = whole
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect();
        for line in &lines {
            (self.file.read)(line, &mut self.recorded, None);
        }
        lines
    }
}

/// The bytes of the file at `path` from `offset` on (none if it cannot be read).
fn read_from(path: &Path, offset: u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = file.read_to_end(&mut bytes);
    }
    bytes
}

/// A program path relative to the repository root when it names a file (`scripts/agent`),
/// else a name looked up on `PATH` (`claude`).
pub fn resolve_program(program: &str, root: &Path) -> PathBuf {
    let path = Path::new(program);
    if path.is_relative() && program.contains('/') {
        root.join(path)
    } else {
        path.to_path_buf()
    }
}

/// The last `n` lines of `text`, indented, after a colon; empty when there are none.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(n)..];
    format!(":\n    {}", tail.join("\n    "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Decision;

    /// A usage file whose sessions start on `START <id>` lines and whose lines are counted whole.
    const TEST_FILE: agent::UsageFile = agent::UsageFile {
        session_of: |line| line.strip_prefix("START ").map(str::to_string),
        read: agent::command_live_usage,
    };

    #[test]
    fn a_usage_tail_hands_out_each_whole_line_once_from_where_its_session_starts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("session-s1.jsonl");
        let locate = |session: &str| Some(dir.path().join(format!("session-{session}.jsonl")));
        let locate: &dyn Fn(&str) -> Option<PathBuf> = &locate;

        // A new session: nothing is read until a stdout line names it, then all of its file.
        std::fs::write(&file, "one\n").unwrap();
        let mut tail = UsageTail::new(TEST_FILE, locate, None);
        assert!(tail.added_lines("before").is_empty());
        std::fs::write(&file, "one\ntwo\nthr").unwrap();
        assert_eq!(tail.added_lines("START s1"), ["one", "two"]);
        // A line being written waits for its end; nothing is handed out twice.
        assert!(tail.added_lines("later").is_empty());
        std::fs::write(&file, "one\ntwo\nthree\n").unwrap();
        assert_eq!(tail.added_lines("later"), ["three"]);
        assert!(tail.added_lines("later").is_empty());

        // A resumed session: its file is read from where it ended when the run started.
        let mut resumed = UsageTail::new(TEST_FILE, locate, Some("s1"));
        std::fs::write(&file, "one\ntwo\nthree\nfour\n").unwrap();
        assert_eq!(resumed.added_lines("any"), ["four"]);
    }

    #[test]
    fn a_usage_tail_adds_up_what_its_lines_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s1");
        let locate = |session: &str| Some(dir.path().join(session));
        let locate: &dyn Fn(&str) -> Option<PathBuf> = &locate;
        let usage = |tokens| {
            format!(
                r#"{{"ork_usage": {{"input_tokens": {tokens}, "output_tokens": 1, "cost_usd": 0.5}}}}"#
            )
        };
        std::fs::write(&file, format!("{}\nother\n{}\n", usage(10), usage(20))).unwrap();
        let mut tail = UsageTail::new(TEST_FILE, locate, None);
        assert!(!tail.found());
        assert_eq!(tail.added_lines("START s1").len(), 3);
        assert!(tail.found());
        assert_eq!(
            tail.recorded(),
            Usage {
                input_tokens: 30,
                output_tokens: 2,
                cost_usd: 0.0
            }
        );
    }

    fn finished(code: i32, stdout: &str) -> Finished {
        use std::os::unix::process::ExitStatusExt;
        Finished {
            status: Some(std::process::ExitStatus::from_raw(code << 8)),
            stdout: stdout.to_string(),
            stderr: String::new(),
            output: stdout.to_string(),
            stdout_cut: None,
            printed: stdout.len() as u64,
            elapsed: std::time::Duration::ZERO,
            stalled: None,
        }
    }

    #[test]
    fn a_written_result_wins() {
        let json = r#"{"type":"verdict","decision":"reject","content":"no tests","route_to":"work","session_id":"s1","usage":{"input_tokens":3,"output_tokens":4,"cost_usd":0.5}}"#;
        let result = command_result(&finished(0, "chatter"), Some((Path::new("out.json"), json)));
        assert_eq!(
            result.output,
            AgentOutput::Verdict {
                decision: Decision::Reject,
                content: "no tests".into(),
                route_to: Some("work".into())
            }
        );
        assert_eq!(result.session_id.as_deref(), Some("s1"));
        assert_eq!(result.usage.output_tokens, 4);
    }

    #[test]
    fn stdout_is_the_artifact_without_a_file() {
        let result = command_result(&finished(0, "# Plan\n"), None);
        assert_eq!(
            result.output,
            AgentOutput::Artifact {
                content: "# Plan\n".into()
            }
        );
    }

    #[test]
    fn failures_say_why() {
        let nonzero = command_result(&finished(3, "boom\n"), None);
        let AgentOutput::Failed { error } = nonzero.output else {
            panic!("not a failure")
        };
        assert!(
            error.contains("exit code 3") && error.contains("boom"),
            "{error}"
        );

        let out = Path::new("/r/output.json");
        for (written, says) in [
            (
                "{not json",
                "it is not valid JSON (key must be a string at line 1 column 2)",
            ),
            ("\"just text\"", "it holds a string, not a JSON object"),
            ("[1]", "it holds a list, not a JSON object"),
            ("{\"content\": \"x\"}", "the object has no \"type\""),
            ("{\"type\": 3}", "its \"type\" is 3, not a name in quotes"),
            ("{\"type\": \"artifact\"}", "missing field `content`"),
            (
                "{\"type\": \"questions\", \"questions\": [3]}",
                "invalid type: integer `3`, expected a JSON object",
            ),
            (
                "{\"type\": \"artefact\", \"content\": \"x\"}",
                "unknown variant `artefact`, expected one of",
            ),
        ] {
            let garbage = command_result(&finished(0, ""), Some((out, written)));
            let AgentOutput::Failed { error } = garbage.output else {
                panic!("not a failure: {written}")
            };
            assert!(
                error.starts_with(&format!(
                    "the agent's $ORK_OUTPUT (/r/output.json) is not a result ork can read: {says}"
                )),
                "{written}: {error}"
            );
            assert!(!error.contains("struct"), "{error}");
            assert!(error.contains("\"type\" (artifact, verdict"), "{error}");
        }

        let silent = command_result(&finished(0, "  \n"), None);
        assert!(matches!(silent.output, AgentOutput::Failed { .. }));
    }

    #[test]
    fn an_output_file_past_its_bound_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output.json");
        assert_eq!(read_output_file(&path, 100), Ok(None));
        std::fs::write(&path, "x".repeat(101)).unwrap();
        let err = read_output_file(&path, 100).unwrap_err();
        assert!(
            err.contains("wrote 101 B to $ORK_OUTPUT, more than the 100 B ork reads"),
            "{err}"
        );
        // Past the bound by a few bytes, which rounded would read as the bound: bytes counted.
        std::fs::write(&path, "x".repeat((5 << 20) + 1)).unwrap();
        let err = read_output_file(&path, 5 << 20).unwrap_err();
        assert!(
            err.contains(
                "wrote 5242881 bytes to $ORK_OUTPUT, more than the 5242880 bytes (5 MiB) ork reads"
            ),
            "{err}"
        );
        std::fs::write(&path, "x".repeat(100)).unwrap();
        assert!(
            read_output_file(&path, 100).is_ok(),
            "exactly the bound is read"
        );
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(read_output_file(&path, 100), Ok(Some("{}".to_string())));
        assert_eq!(output_file_bound(&Limits::default()), 5 << 20);
    }

    #[test]
    fn relative_programs_start_at_the_repository_root() {
        let root = Path::new("/repo");
        assert_eq!(
            resolve_program("fixtures/agent", root),
            Path::new("/repo/fixtures/agent")
        );
        assert_eq!(resolve_program("claude", root), Path::new("claude"));
        assert_eq!(resolve_program("/bin/x", root), Path::new("/bin/x"));
    }
}
