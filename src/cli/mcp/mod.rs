//! `ork mcp`: a Model Context Protocol server over stdio, a front end like the commands and
//! `ork ui` (docs/mcp.md). It speaks to the library as they do: the store to read, the engine's
//! action table and `engine::decide` to act, `engine::views::inspect` to look. The protocol
//! runs on a small tokio runtime (rmcp needs one); every tool body runs synchronously on a
//! blocking thread, opening the repository for that call, as one command would.
//!
//! Nothing here writes to stdout: it carries the protocol. Warnings go into the tool's result.

mod install;

pub use install::{Change, Client, Installed, install};

use std::path::PathBuf;

use anyhow::{Result, bail};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use ork::config::workflow::Workflow;
use ork::engine::actions::{self, Action};
use ork::engine::{self, HumanDecision, TrakRequest};
use ork::store::git::Git;
use ork::store::warnings::Warnings;
use ork::store::{Store, Trak};

/// How much of each artifact `show_trak` returns.
const ARTIFACT_CAP: usize = 20 * 1024;
/// `logs`' and `diff`'s default bounds, in KB.
const LOGS_KB: usize = 32;
const DIFF_KB: usize = 64;

/// Serves MCP on stdin and stdout until the client closes them, for the repository at `dir`.
pub fn serve(dir: PathBuf) -> Result<()> {
    // Open it once now: a wrong folder is an error before the client starts talking.
    Git::discover(&dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let service = OrkServer::new(dir)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| anyhow::anyhow!("starting the MCP session: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| anyhow::anyhow!("the MCP session ended: {e}"))?;
        Ok(())
    })
}

#[derive(Clone)]
struct OrkServer {
    /// Where `ork mcp` was started (or `-C`): the repository every call opens.
    dir: PathBuf,
    tool_router: ToolRouter<Self>,
}

/// What a tool found or did: a short text for the model and the person, and the whole as JSON.
struct Reply {
    text: String,
    value: Value,
}

// ---------------------------------------------------------------------------------------------
// The tools' arguments
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct ListArgs {
    /// Include finished traks (done, dropped). Default: false.
    #[serde(default)]
    all: Option<bool>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct IdArg {
    /// The trak's id, or a unique prefix of it (as list_traks gives it).
    id: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct CreateArgs {
    /// A short title, one line; the trak's id is made from it.
    title: String,
    /// What should be done, in as much detail as the agents need.
    #[serde(default)]
    description: Option<String>,
    /// The flow to run (see list_traks' `flow` or .orkestra/workflow.toml); default: the
    /// workflow's default_flow.
    #[serde(default)]
    flow: Option<String>,
    /// The branch to start from and merge into; default: the branch checked out in the main
    /// worktree.
    #[serde(default)]
    base: Option<String>,
    /// The most the trak may spend, in US dollars.
    #[serde(default)]
    budget_usd: Option<f64>,
    /// Ids of traks to be merged first: this one waits for them, then starts from the base
    /// that holds their code. Unknown or dropped ids are refused.
    #[serde(default)]
    after: Vec<String>,
    /// 1 (first) to 5 (last): the order due traks are run in, then age. Default 3.
    #[serde(default)]
    priority: Option<u8>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct RejectArgs {
    /// The trak's id, or a unique prefix of it.
    id: String,
    /// What must change: the agent gets it with the stage's next run. Required.
    feedback: String,
    /// Send the work back to this stage instead of the current one (or its on_reject).
    #[serde(default)]
    to: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct AnswerArgs {
    /// The trak's id, or a unique prefix of it.
    id: String,
    /// The answer to the agent's questions (show_trak lists them). Required.
    answer: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct LogsArgs {
    /// The trak's id, or a unique prefix of it.
    id: String,
    /// Only this stage's runs.
    #[serde(default)]
    stage: Option<String>,
    /// How much to return, in KB, from the end (default 32).
    #[serde(default)]
    max_kb: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct DiffArgs {
    /// The trak's id, or a unique prefix of it.
    id: String,
    /// How much to return, in KB, from the start (default 64).
    #[serde(default)]
    max_kb: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct NoArgs {}

// ---------------------------------------------------------------------------------------------
// The tools
// ---------------------------------------------------------------------------------------------

#[tool_router]
impl OrkServer {
    fn new(dir: PathBuf) -> OrkServer {
        OrkServer {
            dir,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "List the traks (units of work, each an ork/<id> branch with its own worktree) of this repository: id, title, flow, stage, status (queued, running, awaiting_review, awaiting_answer, failed, integrating, done, …), spend and conflicts. Use it first, to find a trak's id or what waits for a person. Returns the same JSON as `ork status --json`; finished traks only with all=true."
    )]
    async fn list_traks(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(move |store| list_traks(store, args.all.unwrap_or(false)))
            .await
    }

    #[tool(
        description = "Everything about one trak: status and stage, description, questions an agent asked, notes, budget and spend, the actions it allows now (`allowed`), the next step, and its artifacts (the stages' outputs, each cut at 20 KB). Returns the JSON of `ork show --json` plus `allowed`, `next` and `artifacts`."
    )]
    async fn show_trak(
        &self,
        Parameters(args): Parameters<IdArg>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(move |store| show_trak(store, &args.id)).await
    }

    #[tool(
        description = "Create a trak: a new branch ork/<id> and worktree for a piece of work, run through a flow of stages by coding agents. It is only queued, not started (like `ork trak new --no-run`): call run_due to run it, or a person runs `ork run`. Returns the new trak's id, flow, stages, branch and worktree."
    )]
    async fn create_trak(
        &self,
        Parameters(args): Parameters<CreateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(move |store| create_trak(store, args)).await
    }

    #[tool(
        description = "Approve the stage of a trak that waits for review (awaiting_review, or failed): the next stage is queued. A person's decision: refused to an agent running inside a trak. Records only; call run_due to run what comes next. Returns the trak's new status and the next step."
    )]
    async fn approve(
        &self,
        Parameters(args): Parameters<IdArg>,
    ) -> Result<CallToolResult, ErrorData> {
        self.decide(args.id, HumanDecision::Approve).await
    }

    #[tool(
        description = "Reject the stage of a trak that waits for review: it runs again with your feedback (required: say what must change). A person's decision: refused to an agent running inside a trak. Records only; call run_due to run it. Returns the trak's new status and the next step."
    )]
    async fn reject(
        &self,
        Parameters(args): Parameters<RejectArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.feedback.trim().is_empty() && engine::inside_a_trak(Action::Reject).is_none() {
            return Ok(tool_error(
                "the feedback is empty; say what must change: ork reject -m \"…\"",
            ));
        }
        let decision = HumanDecision::Reject {
            feedback: args.feedback,
            route_to: args.to,
        };
        self.decide(args.id, decision).await
    }

    #[tool(
        description = "Answer the questions an agent asked (a trak awaiting_answer; show_trak lists the questions): the stage runs again with the answer. A person's decision: refused to an agent running inside a trak. Records only; call run_due to run it. Returns the trak's new status and the next step."
    )]
    async fn answer(
        &self,
        Parameters(args): Parameters<AnswerArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.answer.trim().is_empty() && engine::inside_a_trak(Action::Answer).is_none() {
            return Ok(tool_error(
                "the answer is empty; say what the agent should do: ork answer -m \"…\"",
            ));
        }
        self.decide(args.id, HumanDecision::Answer(args.answer))
            .await
    }

    #[tool(
        description = "Run a failed stage of a trak again (status failed). A person's decision: refused to an agent running inside a trak. Records only; call run_due to run it. Returns the trak's new status and the next step."
    )]
    async fn retry(
        &self,
        Parameters(args): Parameters<IdArg>,
    ) -> Result<CallToolResult, ErrorData> {
        let decision = HumanDecision::Retry {
            allow_secrets: false,
        };
        self.decide(args.id, decision).await
    }

    #[tool(
        description = "Start `ork run` in the background: it runs every trak with work due (queued stages, gates, merges), two at a time, until each stops where a person is needed, then exits. Returns at once with the process id and its log file; follow progress with list_traks and logs."
    )]
    async fn run_due(
        &self,
        Parameters(_args): Parameters<NoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(run_due).await
    }

    #[tool(
        description = "The agents' output of a trak's finished runs, as ork keeps it in git (secrets redacted), oldest first, bounded to the last max_kb KB (default 32). Use it to see what an agent did or why a stage failed. Returns the runs (stage, run, output)."
    )]
    async fn logs(
        &self,
        Parameters(args): Parameters<LogsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(move |store| logs(store, args)).await
    }

    #[tool(
        description = "The code a trak changed against its base branch (`git diff --stat -p`, ork's record folder left out), bounded to the first max_kb KB (default 64). Use it to review the work. Returns the base, the branch and the diff."
    )]
    async fn diff(
        &self,
        Parameters(args): Parameters<DiffArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(move |store| diff(store, args)).await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for OrkServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("ork", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "ork runs coding agents through flows of stages, one trak (branch + worktree) per \
                 piece of work, with git as its only database. list_traks and show_trak look; \
                 create_trak queues work; run_due runs what is due in the background; approve, \
                 reject, answer and retry are a person's decisions and are refused to an agent \
                 running inside a trak.",
            )
    }
}

impl OrkServer {
    /// Runs `work` on a blocking thread with the repository opened for it; an error is the
    /// tool's (`isError`), in ork's words.
    async fn call<F>(&self, work: F) -> Result<CallToolResult, ErrorData>
    where
        F: FnOnce(&Store) -> Result<Reply> + Send + 'static,
    {
        let dir = self.dir.clone();
        let done = tokio::task::spawn_blocking(move || {
            let warnings = Warnings::default();
            let store = Store::with_warnings(Git::discover(&dir)?, warnings.clone());
            let reply = work(&store);
            reply.map(|reply| (reply, warnings.take()))
        })
        .await
        .map_err(|e| ErrorData::internal_error(format!("the tool's thread failed: {e}"), None))?;
        Ok(match done {
            Ok((reply, warnings)) => success(reply, warnings),
            Err(err) => tool_error(&message(&err)),
        })
    }

    /// A person's decision on trak `id`, refused inside a trak's run before anything is read.
    async fn decide(
        &self,
        id: String,
        decision: HumanDecision,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refused) = engine::inside_a_trak(Action::of(&decision)) {
            return Ok(tool_error(&refused));
        }
        self.call(move |store| decide(store, &id, decision)).await
    }
}

fn success(reply: Reply, warnings: Vec<String>) -> CallToolResult {
    let mut value = reply.value;
    let mut text = reply.text;
    if !warnings.is_empty() {
        for warning in &warnings {
            text.push_str(&format!("\nwarning: {warning}"));
        }
        value["warnings"] = json!(warnings);
    }
    let mut result = CallToolResult::structured(value);
    result.content.insert(0, ContentBlock::text(text));
    result
}

fn tool_error(text: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// An error as the CLI prints it, without the `error:` label.
fn message(err: &anyhow::Error) -> String {
    let printable = |text: String| ork::engine::process::output::printable(&text).into_owned();
    let mut text = printable(err.to_string());
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {}", printable(cause.to_string())));
    }
    text
}

// ---------------------------------------------------------------------------------------------
// The tools' bodies: synchronous, one opened store each
// ---------------------------------------------------------------------------------------------

fn list_traks(store: &Store, all: bool) -> Result<Reply> {
    let listing = super::listing(store, all)?;
    let text =
        super::print::status_json(store, &listing.traks, &listing.forecast, &listing.spending)?;
    let mut value: Value = serde_json::from_str(&text)?;
    value["finished_not_listed"] = json!(listing.hidden);
    let mut lines = vec![match listing.traks.len() {
        0 => "No traks.".to_string(),
        n => format!("{n} trak(s):"),
    }];
    for trak in listing.traks.iter().take(30) {
        lines.push(format!(
            "{}  {} at {}  {}",
            trak.id,
            trak.state.status.as_str(),
            trak.state.stage,
            trak.state.title
        ));
    }
    if listing.traks.len() > 30 {
        lines.push(format!(
            "… and {} more (see the JSON)",
            listing.traks.len() - 30
        ));
    }
    if listing.hidden > 0 {
        lines.push(format!(
            "{} finished trak(s) not listed (all=true lists them)",
            listing.hidden
        ));
    }
    Ok(Reply {
        text: lines.join("\n"),
        value,
    })
}

fn show_trak(store: &Store, id: &str) -> Result<Reply> {
    let trak = store.resolve(Some(id))?;
    let about = super::about(store, &trak)?;
    let description = store.description(&trak)?;
    let events = store.events(&trak)?;
    let mut value = super::print::show_json(
        store,
        &trak,
        &about.forecast,
        about.spend,
        &description,
        &events,
    )?;
    let next = engine::next_step_here(store, &trak);
    value["questions"] = json!(trak.state.questions);
    value["allowed"] = json!(
        actions::allowed(&trak)
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
    );
    value["next"] = json!(next);
    let whole = format!("The whole: ork diff {} --stage <stage>.", trak.id);
    let artifacts: serde_json::Map<String, Value> = store
        .artifacts(&trak)?
        .into_iter()
        .map(|(name, content)| {
            let kept = ork::engine::process::output::keep_head(&content, ARTIFACT_CAP, &whole);
            (name, json!(kept))
        })
        .collect();
    value["artifacts"] = Value::Object(artifacts);
    value["to_review"] = json!(about.artifact);
    let text = format!(
        "{}  {}\n{} at {}\nNext: {next}",
        trak.id,
        trak.state.title,
        trak.state.status.as_str(),
        trak.state.stage
    );
    Ok(Reply { text, value })
}

fn create_trak(store: &Store, args: CreateArgs) -> Result<Reply> {
    // Refuse a repository with no commit before complaining about a missing workflow.
    store.git().main_branch()?;
    let workflow = Workflow::load(store.git().main_workdir())?;
    let budget = match args.budget_usd {
        None => None,
        Some(usd) if usd > 0.0 && usd.is_finite() => Some(ork::store::event::Budget {
            usd: Some(usd),
            tokens: None,
        }),
        Some(usd) => bail!("budget_usd {usd} is not an amount of dollars above 0"),
    };
    let description = args.description.unwrap_or_default();
    let trak = engine::new_trak(
        store,
        &workflow,
        &TrakRequest {
            title: &args.title,
            description: &description,
            flow: args.flow.as_deref(),
            base: args.base.as_deref(),
            budget,
            after: &args.after,
            priority: args.priority,
            id: None,
        },
    )?;
    share(store, &workflow);
    let value = trak_summary(store, &trak);
    let text = format!(
        "Created trak {} ({}), queued at {} (stages: {}). It is not running: call run_due to run it.",
        trak.id,
        trak.state.flow,
        trak.state.stage,
        trak.state.stages.join(" → ")
    );
    Ok(Reply { text, value })
}

fn decide(store: &Store, id: &str, decision: HumanDecision) -> Result<Reply> {
    let workflow = Workflow::load(store.git().main_workdir())?;
    let trak = store.resolve(Some(id))?;
    let action = Action::of(&decision);
    // `engine::decide` asks the action table (after adopting a fetched copy that is ahead),
    // as it does for `ork approve`: a refusal is in the same words.
    let trak = engine::decide(store, &workflow, &trak, decision)?;
    share(store, &workflow);
    let mut value = trak_summary(store, &trak);
    value["recorded"] = json!(action.name());
    let runs_next = engine::RUNNABLE.contains(&trak.state.status);
    let text = format!(
        "Recorded on {}: {} is now {} at {}.{}",
        trak.branch.trim_start_matches("refs/heads/"),
        trak.id,
        trak.state.status.as_str(),
        trak.state.stage,
        if runs_next {
            " It is not running yet: call run_due to run it."
        } else {
            ""
        }
    );
    Ok(Reply { text, value })
}

fn run_due(store: &Store) -> Result<Reply> {
    let (pid, log) = super::background::spawn_run_all(store)?;
    Ok(Reply {
        text: format!(
            "ork run started in the background (pid {pid}): it runs every trak with work due, \
             two at a time, until each needs a person, then exits. Its output: {}. Follow with \
             list_traks and logs.",
            log.display()
        ),
        value: json!({ "pid": pid, "log": log }),
    })
}

fn logs(store: &Store, args: LogsArgs) -> Result<Reply> {
    let trak = store.resolve(Some(&args.id))?;
    let cap = args.max_kb.unwrap_or(LOGS_KB).max(1) * 1024;
    let kept = engine::views::inspect::kept_logs(store, &trak, args.stage.as_deref())?;
    let total = kept.len();
    // The newest runs first, until the bound is spent; the oldest one kept is cut at its head.
    let mut left = cap;
    let mut runs = Vec::new();
    for log in kept.into_iter().rev() {
        if left == 0 {
            break;
        }
        let output = ork::engine::process::output::keep_tail(
            &ork::store::secrets::redact(&log.output),
            left,
        );
        left = left.saturating_sub(output.len());
        runs.push(json!({ "stage": log.stage, "run": log.run, "output": output }));
    }
    runs.reverse();
    let text = match total {
        0 => format!(
            "No agent has run for {} yet (on this machine or synced).",
            trak.id
        ),
        n if runs.len() < n => format!(
            "{n} run(s) of {}; the last {} within {} KB.",
            trak.id,
            runs.len(),
            cap / 1024
        ),
        n => format!("{n} run(s) of {}.", trak.id),
    };
    Ok(Reply {
        text,
        value: json!({ "trak": trak.id, "runs_total": total, "logs": runs }),
    })
}

fn diff(store: &Store, args: DiffArgs) -> Result<Reply> {
    let trak = store.resolve(Some(&args.id))?;
    let cap = args.max_kb.unwrap_or(DIFF_KB).max(1) * 1024;
    let whole = engine::views::inspect::code_diff(store, &trak)?;
    let diff = ork::engine::process::output::keep_head(
        &ork::store::secrets::redact(&whole),
        cap,
        &format!("The whole: ork diff {}.", trak.id),
    );
    let text = if whole.is_empty() {
        format!(
            "Trak {} changes no code against {}.",
            trak.id, trak.state.base
        )
    } else {
        format!(
            "The code trak {} changes against {} ({} bytes).",
            trak.id,
            trak.state.base,
            whole.len()
        )
    };
    Ok(Reply {
        text,
        value: json!({
            "trak": trak.id,
            "base": trak.state.base,
            "branch": trak.branch.trim_start_matches("refs/heads/"),
            "diff": diff,
        }),
    })
}

/// A trak in a few fields, after an action.
fn trak_summary(store: &Store, trak: &Trak) -> Value {
    json!({
        "id": trak.id,
        "title": trak.state.title,
        "flow": trak.state.flow,
        "stages": trak.state.stages,
        "stage": trak.state.stage,
        "status": trak.state.status,
        "branch": trak.branch.trim_start_matches("refs/heads/"),
        "worktree": store.worktree_path(&trak.id),
        "next": engine::next_step(trak),
    })
}

/// With `[sync] auto = true`, what was recorded is shared, as the commands share what they
/// record without a drive; a failure is a warning in the result.
fn share(store: &Store, workflow: &Workflow) {
    if workflow.sync.auto
        && let Err(err) = actions::share_recorded(store)
    {
        store
            .warnings()
            .push(format!("auto-sync failed: {err:#}; run `ork sync` later"));
    }
}
