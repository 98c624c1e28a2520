//! `.orkestra/workflow.toml`: agents, flows and their stages, parsed and validated.
//!
//! Every error names the file, line and column, and says how to fix it. The file is read from
//! the main worktree only, never from a trak branch (docs/design.md rule 8).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::config::sandbox::SandboxSettings;
use crate::config::{duration, size};

/// The workflow file, relative to the repository root.
pub const WORKFLOW_PATH: &str = crate::layout::WORKFLOW;
/// The folder of prompt templates, relative to the repository root.
pub const PROMPTS_DIR: &str = crate::layout::PROMPTS;

const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// How many times a reviewer's verdict may send the work back before a person decides.
const DEFAULT_MAX_ROUNDS: u32 = 3;
const DEFAULT_GATE_TIMEOUT: Duration = Duration::from_secs(600);
const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(1800);
const DEFAULT_SETUP_TIMEOUT: Duration = Duration::from_secs(600);
const DEFAULT_LEASE: Duration = Duration::from_secs(2 * 3600);

/// Which CLI an agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Claude,
    Codex,
    Opencode,
    Command,
}

/// What happens when a stage's agent is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    /// Wait for `ork approve` or `ork reject`.
    #[default]
    Human,
    /// Go straight on once the gate (if any) passes.
    Auto,
}

/// How a finished trak's branch joins its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// A merge commit whose second parent is the trak's branch: the whole record in the
    /// base's history.
    Merge,
    /// One commit of the trak's code on the base, the record left on `ork/<id>`: the default,
    /// so that the base's history reads like a person's.
    #[default]
    Squash,
    /// Push a branch holding only the code and open a pull request (through `gh`).
    Pr,
}

/// How ork merges an approved, green pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrMerge {
    #[default]
    Merge,
    Squash,
    Rebase,
    /// A human merges it; ork waits and then sees it merged.
    None,
}

impl PrMerge {
    /// The `gh pr merge` flag for this method, if ork merges.
    pub fn gh_flag(self) -> Option<&'static str> {
        match self {
            PrMerge::Merge => Some("--merge"),
            PrMerge::Squash => Some("--squash"),
            PrMerge::Rebase => Some("--rebase"),
            PrMerge::None => None,
        }
    }
}

/// How often a running agent's worktree is checkpointed when `checkpoint` is not set: the most
/// work a crash loses.
pub const DEFAULT_CHECKPOINT: Duration = Duration::from_secs(60);

/// How many pull-request rounds (changes requested, fixed, pushed) before a person decides.
const DEFAULT_PR_ROUNDS: u32 = 5;

/// A configured agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: String,
    pub kind: AgentKind,
    pub model: Option<String>,
    pub timeout: Duration,
    /// argv: required for `command` agents; for the others, overrides the CLI's executable.
    pub command: Vec<String>,
    /// What the CLI may do unattended: Claude's `--permission-mode`, Codex's `--sandbox`, or
    /// OpenCode's permission config as JSON (`OPENCODE_PERMISSION`). None: the adapter's default.
    pub permission_mode: Option<String>,
    /// Claude's `--allowedTools` and `--disallowedTools`.
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    /// Appended to the CLI's argv: the escape hatch for flags ork does not know.
    pub args: Vec<String>,
}

/// Claude Code's `--permission-mode` choices (`claude --help`, 2.1.x).
pub const CLAUDE_PERMISSION_MODES: &[&str] = &[
    "acceptEdits",
    "auto",
    "bypassPermissions",
    "default",
    "dontAsk",
    "plan",
];
/// Codex's `exec --sandbox` choices (`codex exec --help`, 0.17x).
pub const CODEX_SANDBOX_MODES: &[&str] = &["read-only", "workspace-write", "danger-full-access"];
/// The actions of an OpenCode permission rule.
const OPENCODE_ACTIONS: &[&str] = &["allow", "ask", "deny"];

/// A stage's gate script.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub command: String,
    pub timeout: Duration,
}

/// What makes a stage a breakdown stage: its agent splits the trak into parts, each run as a
/// subtrak in `flow`.
#[derive(Debug, Clone, PartialEq)]
pub struct Subtraks {
    /// The flow every part runs.
    pub flow: String,
    /// The most parts a breakdown may have.
    pub max_parts: usize,
    /// How many subtraks run at once.
    pub parallel: usize,
}

/// What a stage's agent may do with ork itself, through the `ork mcp` server its run is given
/// (docs/mcp.md, agents inside traks). Decisions are never among it (docs/design.md rule 12).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrkAccess {
    /// `mcp = "read"`: look at the other traks (list, show, logs, diff).
    pub read: bool,
    /// `spawn = { max = N }`: create follow-up traks, at most N over the trak's life.
    pub spawn: Option<u32>,
}

impl OrkAccess {
    /// Whether the stage's agent gets ork's MCP server at all.
    pub fn any(self) -> bool {
        self.read || self.spawn.is_some()
    }
}

/// `mcp = "read"`, the one access a stage may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawMcp {
    Read,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpawn {
    max: Spanned<u32>,
}

const DEFAULT_MAX_PARTS: usize = 8;
const DEFAULT_PARALLEL: usize = 3;

/// One stage of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub agent: String,
    pub prompt: String,
    pub artifact: String,
    pub review: Review,
    pub gate: Option<Gate>,
    pub max_attempts: u32,
    pub verdict: bool,
    pub on_reject: Option<String>,
    /// How many times this stage's reviewer may reject (each a round back to `on_reject`)
    /// before the trak waits for a person (docs/design.md rule 13). Always at least 1: a
    /// route back, to its own stage too, never runs unbounded.
    pub max_rounds: u32,
    /// What this stage may spend over the trak's life (every attempt and round).
    pub budget: super::budget::Budget,
    /// For a breakdown stage: the flow its parts run and how many.
    pub subtraks: Option<Subtraks>,
    /// Overrides the agent's `model` for this stage.
    pub model: Option<String>,
    /// Overrides the agent's `timeout` for this stage.
    pub timeout: Option<Duration>,
    /// How long the agent may print nothing and change nothing in its worktree before its
    /// run ends as stalled (and runs again within `max_attempts`).
    pub stall: Option<Duration>,
    /// What its agent may do with ork (`mcp`, `spawn`): nothing by default.
    pub ork: OrkAccess,
    /// Several attempts side by side, one of those that pass carrying on.
    pub race: Option<super::race::Race>,
}

impl Stage {
    /// The agent as this stage runs it: the stage's `model` and `timeout` win over the agent's.
    pub fn agent_for(&self, agent: &Agent) -> Agent {
        Agent {
            model: self.model.clone().or_else(|| agent.model.clone()),
            timeout: self.timeout.unwrap_or(agent.timeout),
            ..agent.clone()
        }
    }
}

/// A named pipeline of stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub name: String,
    pub description: String,
    pub stages: Vec<Stage>,
    pub strategy: Strategy,
    pub on_conflict: String,
    /// Where a pull request's review comments and failing checks send the work.
    pub on_changes: String,
    /// How ork merges an approved, green pull request.
    pub merge: PrMerge,
    /// How many rounds of changes a pull request may ask for before a human takes over.
    pub max_rounds: u32,
    /// Run the gate once more on the trak merged with the base's tip before the base moves.
    pub landing_gate: bool,
    /// What a trak of this flow may spend in all, unless the trak has its own budget.
    pub budget: super::budget::Budget,
}

impl Flow {
    /// The stage named `name`, or an error saying it was taken out of the workflow.
    pub fn stage(&self, name: &str) -> Result<&Stage> {
        self.stages.iter().find(|s| s.name == name).ok_or_else(|| {
            anyhow::anyhow!(
                "flow \"{}\" has no stage \"{name}\" any more; add it back to {WORKFLOW_PATH} to go on (its stages: {})",
                self.name,
                self.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The gate the landing check runs: the last stage's that has one, with that stage.
    pub fn landing_gate(&self) -> Option<(&Stage, &Gate)> {
        if !self.landing_gate {
            return None;
        }
        self.stages
            .iter()
            .rev()
            .find_map(|s| s.gate.as_ref().map(|g| (s, g)))
    }
}

/// What prepares a new trak's worktree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorktreeSetup {
    /// A command run in the new worktree (through `sh -c`); failure fails `ork trak new`.
    pub setup: Option<String>,
    pub timeout: Duration,
}

/// Working with other machines.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSettings {
    /// How long a stage started on another machine stays theirs: after that, this machine may
    /// run it without `--take-over`.
    pub lease: Duration,
    /// Run `ork sync` after every command that records something.
    pub auto: bool,
    /// Work through one backlog with the other machines: claim each trak on the remote
    /// before working on it, take traks known only from the remote, land integrations on the
    /// remote's base. Defaults to `auto`.
    pub queue: bool,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            lease: DEFAULT_LEASE,
            auto: false,
            queue: false,
        }
    }
}

/// Telling the user that a trak needs them: `[notify]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifySettings {
    /// The argv run when a trak starts waiting for a human or is done; empty for none.
    pub command: Vec<String>,
    /// How long the command may run before it is killed.
    pub timeout: Duration,
}

/// How long a notify command may run, unless `[notify] timeout` says otherwise.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            command: Vec::new(),
            timeout: DEFAULT_NOTIFY_TIMEOUT,
        }
    }
}

/// How much of what an agent or a gate produces ork keeps (docs/design.md rule 11: output read
/// with a bound). Past a cap the text is cut with a line saying so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// An artifact, as committed on the trak branch (its head is kept).
    pub artifact: usize,
    /// A feedback text: gate output, a rejection's feedback, a failed run's error (its tail
    /// is kept).
    pub feedback: usize,
    /// The gate output kept in a gate note (its tail).
    pub note: usize,
    /// One run's agent log, on the log ref and live under `.git/ork/runs/` (its tail).
    pub log: usize,
}

/// 1 MiB: the default of every cap.
const DEFAULT_LIMIT: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            artifact: DEFAULT_LIMIT,
            feedback: DEFAULT_LIMIT,
            note: DEFAULT_LIMIT,
            log: DEFAULT_LIMIT,
        }
    }
}

/// The validated workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub agents: BTreeMap<String, Agent>,
    pub flows: BTreeMap<String, Flow>,
    pub default_flow: Option<String>,
    pub worktree: WorktreeSetup,
    pub sync: SyncSettings,
    pub notify: NotifySettings,
    pub limits: Limits,
    pub sandbox: SandboxSettings,
    /// Signed human decisions (`[trust]`).
    pub trust: super::trust::TrustSettings,
    /// What the whole repository may spend (`[budget]`).
    pub budget: super::budget::RepositoryBudget,
    /// How tokens are priced where a CLI reports no cost (`[prices]` over the defaults).
    pub prices: crate::agent::prices::Prices,
    /// How often a running agent's worktree is checkpointed (`checkpoint`, default a minute);
    /// `None` with `checkpoint = "off"`.
    pub checkpoint: Option<Duration>,
    /// Where work comes in from (`[intake]`): GitHub Issues, another tracker's programs.
    pub intake: super::intake::IntakeSettings,
    /// The traks made by the clock (`[[schedule]]`), in the order written.
    pub schedules: Vec<super::schedule::Schedule>,
}

impl Workflow {
    /// Loads `.orkestra/workflow.toml` under `root`, checking prompt files under `root` too.
    pub fn load(root: &Path) -> Result<Workflow> {
        let path = root.join(WORKFLOW_PATH);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "{} does not exist.\n  Run `ork init` to write a default workflow.",
                path.display()
            ),
            Err(e) => bail!("cannot read {}: {e}", path.display()),
        };
        Workflow::parse(&text, &path, &root.join(PROMPTS_DIR))
    }

    /// Parses and validates workflow `text` read from `path`; prompt names resolve in `prompts`.
    pub fn parse(text: &str, path: &Path, prompts: &Path) -> Result<Workflow> {
        let source = Source { text, path };
        let raw: RawWorkflow = toml::from_str(text).map_err(|e| {
            let hint = hint_for(e.message());
            source.error(e.span(), e.message().trim(), &hint)
        })?;
        let mut errors = Vec::new();
        let workflow = raw.validate(&source, prompts, &mut errors);
        if errors.is_empty() {
            Ok(workflow)
        } else {
            bail!("{}", errors.join("\n"))
        }
    }

    /// The flow named `name`, or an error listing the flows there are.
    pub fn flow(&self, name: Option<&str>) -> Result<&Flow> {
        let name = match name.or(self.default_flow.as_deref()) {
            Some(name) => name,
            None if self.flows.len() == 1 => self.flows.keys().next().expect("one flow"),
            None => bail!(
                "which flow? {} has no `default_flow`; pass --flow with one of: {}",
                WORKFLOW_PATH,
                self.flow_names()
            ),
        };
        self.flows.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "there is no flow named \"{name}\" in {WORKFLOW_PATH}.\n  Flows: {}",
                self.flow_names()
            )
        })
    }

    /// The flow a trak runs, by the name its record holds: the one lookup every room uses, so
    /// a flow removed from the workflow reads the same everywhere.
    pub fn recorded_flow(&self, flow: &str) -> Result<&Flow> {
        self.flows.get(flow).ok_or_else(|| {
            anyhow::anyhow!(
                "flow \"{flow}\" is no longer defined in {WORKFLOW_PATH}; add it back to go on"
            )
        })
    }

    /// Stage `stage` of the recorded flow `flow`.
    pub fn recorded_stage(&self, flow: &str, stage: &str) -> Result<&Stage> {
        self.recorded_flow(flow)?.stage(stage)
    }

    fn flow_names(&self) -> String {
        self.flows.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Extra advice for toml's own errors.
fn hint_for(message: &str) -> String {
    if message.contains("unknown field") {
        "remove or rename the key; docs/workflow.md lists every key".into()
    } else if message.contains("unknown variant") {
        "use one of the values listed above".into()
    } else if message.contains("missing field") {
        "add the key; docs/workflow.md says what it means".into()
    } else {
        "fix the TOML syntax at that place".into()
    }
}

/// The workflow text, for turning byte spans into `file:line:column`.
pub(super) struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    fn location(&self, span: Option<std::ops::Range<usize>>) -> String {
        let Some(span) = span else {
            return self.path.display().to_string();
        };
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.path.display())
    }

    fn error(&self, span: Option<std::ops::Range<usize>>, what: &str, fix: &str) -> anyhow::Error {
        anyhow::anyhow!("{}: {what}\n  fix: {fix}", self.location(span))
    }

    pub(super) fn message(&self, span: std::ops::Range<usize>, what: &str, fix: &str) -> String {
        self.error(Some(span), what, fix).to_string()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    #[serde(default)]
    default_flow: Option<Spanned<String>>,
    /// The agent of every stage that names none: one line to switch the whole workflow to
    /// another CLI.
    #[serde(default)]
    default_agent: Option<Spanned<String>>,
    #[serde(default)]
    checkpoint: Option<Spanned<String>>,
    #[serde(default)]
    agents: BTreeMap<String, Spanned<RawAgent>>,
    #[serde(default)]
    flows: BTreeMap<String, Spanned<RawFlow>>,
    #[serde(default)]
    worktree: Option<RawWorktree>,
    #[serde(default)]
    sync: Option<RawSync>,
    #[serde(default)]
    notify: Option<RawNotify>,
    limits: Option<RawLimits>,
    #[serde(default)]
    sandbox: Option<super::sandbox::RawSandbox>,
    #[serde(default)]
    trust: super::trust::TrustSettings,
    #[serde(default)]
    budget: Option<super::budget::RawRepositoryBudget>,
    #[serde(default)]
    prices: BTreeMap<String, Spanned<crate::agent::prices::Price>>,
    #[serde(default)]
    intake: Option<super::intake::RawIntake>,
    #[serde(default)]
    schedule: Vec<super::schedule::RawSchedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default)]
    command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    artifact: Option<Spanned<String>>,
    #[serde(default)]
    feedback: Option<Spanned<String>>,
    #[serde(default)]
    note: Option<Spanned<String>>,
    #[serde(default)]
    log: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    #[serde(default)]
    lease: Option<Spanned<String>>,
    #[serde(default)]
    auto: bool,
    #[serde(default)]
    queue: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    kind: AgentKind,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    permission_mode: Option<Spanned<toml::Value>>,
    #[serde(default)]
    allowed_tools: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    disallowed_tools: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    #[serde(default)]
    description: String,
    #[serde(default)]
    stages: Vec<RawStage>,
    #[serde(default)]
    integration: Option<RawIntegration>,
    #[serde(default)]
    budget: Option<super::budget::RawBudget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Spanned<String>,
    #[serde(default)]
    agent: Option<Spanned<String>>,
    prompt: Spanned<String>,
    artifact: Spanned<String>,
    #[serde(default)]
    review: Review,
    #[serde(default)]
    gate: Option<RawGate>,
    #[serde(default)]
    max_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    verdict: bool,
    #[serde(default)]
    on_reject: Option<Spanned<String>>,
    #[serde(default)]
    max_rounds: Option<Spanned<u32>>,
    #[serde(default)]
    budget: Option<super::budget::RawBudget>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    stall: Option<Spanned<String>>,
    #[serde(default)]
    subtraks: Option<Spanned<RawSubtraks>>,
    #[serde(default)]
    mcp: Option<RawMcp>,
    #[serde(default)]
    spawn: Option<RawSpawn>,
    race: Option<Spanned<super::race::RawRace>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubtraks {
    flow: Spanned<String>,
    #[serde(default)]
    max_parts: Option<Spanned<usize>>,
    #[serde(default)]
    parallel: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    command: Spanned<String>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntegration {
    #[serde(default)]
    strategy: Strategy,
    #[serde(default)]
    on_conflict: Option<Spanned<String>>,
    #[serde(default)]
    on_changes: Option<Spanned<String>>,
    #[serde(default)]
    merge: Option<Spanned<PrMerge>>,
    #[serde(default)]
    max_rounds: Option<Spanned<u32>>,
    #[serde(default)]
    gate: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorktree {
    #[serde(default)]
    setup: Option<String>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
}

impl RawWorkflow {
    fn validate(self, src: &Source, prompts: &Path, errors: &mut Vec<String>) -> Workflow {
        let agents: BTreeMap<String, Agent> = self
            .agents
            .into_iter()
            .map(|(name, raw)| {
                let agent = validate_agent(&name, raw, src, errors);
                (name, agent)
            })
            .collect();
        let flow_names: Vec<String> = self.flows.keys().cloned().collect();
        let flows: BTreeMap<String, Flow> = self
            .flows
            .into_iter()
            .map(|(name, raw)| {
                let known = Known {
                    agents: &agents,
                    flows: &flow_names,
                    default_agent: self.default_agent.as_ref(),
                };
                let flow = validate_flow(&name, raw, &known, src, prompts, errors);
                (name, flow)
            })
            .collect();
        if let Some(default) = &self.default_agent
            && !agents.contains_key(default.get_ref())
        {
            errors.push(src.message(
                default.span(),
                &format!(
                    "default_agent names an agent \"{}\" that is not defined",
                    default.get_ref()
                ),
                &agent_fix(&agents, default.get_ref()),
            ));
        }
        if flows.is_empty() {
            errors.push(format!(
                "{}: no flows are defined\n  fix: add a [flows.<name>] table with [[flows.<name>.stages]] (or run `ork init --force` for the defaults)",
                src.path.display()
            ));
        }
        let default_flow = self.default_flow.map(|spanned| {
            if !flows.contains_key(spanned.get_ref()) {
                errors.push(src.message(
                    spanned.span(),
                    &format!(
                        "default_flow names a flow \"{}\" that does not exist",
                        spanned.get_ref()
                    ),
                    &format!(
                        "use one of: {}",
                        flows.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            spanned.into_inner()
        });
        let schedules = super::schedule::validate(
            self.schedule,
            &super::schedule::KnownFlows {
                names: &flow_names,
                has_default: default_flow.is_some() || flows.len() == 1,
            },
            src,
            errors,
        );
        let worktree = self.worktree.map_or(
            WorktreeSetup {
                setup: None,
                timeout: DEFAULT_SETUP_TIMEOUT,
            },
            |raw| WorktreeSetup {
                setup: raw.setup.filter(|s| !s.trim().is_empty()),
                timeout: parse_timeout(raw.timeout, DEFAULT_SETUP_TIMEOUT, src, errors),
            },
        );
        let sync = self
            .sync
            .map_or_else(SyncSettings::default, |raw| SyncSettings {
                lease: parse_timeout(raw.lease, DEFAULT_LEASE, src, errors),
                auto: raw.auto,
                queue: raw.queue.unwrap_or(raw.auto),
            });
        let notify = self.notify.map_or_else(NotifySettings::default, |raw| {
            validate_notify(raw, src, errors)
        });
        let limits = self.limits.map_or_else(Limits::default, |raw| Limits {
            artifact: parse_size(raw.artifact, src, errors),
            feedback: parse_size(raw.feedback, src, errors),
            note: parse_size(raw.note, src, errors),
            log: parse_size(raw.log, src, errors),
        });
        let sandbox = self.sandbox.map_or_else(SandboxSettings::default, |raw| {
            super::sandbox::validate(raw, src, errors)
        });
        let intake = super::intake::validate(self.intake, &flow_names, src, errors);
        Workflow {
            intake,
            agents,
            flows,
            default_flow,
            worktree,
            sync,
            notify,
            limits,
            sandbox,
            trust: self.trust,
            budget: super::budget::validate_repository(self.budget, src, errors),
            prices: super::budget::validate_prices(self.prices, src, errors),
            checkpoint: match self.checkpoint {
                Some(raw) if raw.get_ref() == "off" => None,
                raw => Some(parse_timeout(raw, DEFAULT_CHECKPOINT, src, errors)),
            },
            schedules,
        }
    }
}

fn validate_notify(raw: RawNotify, src: &Source, errors: &mut Vec<String>) -> NotifySettings {
    let command = match raw.command {
        Some(command)
            if command
                .get_ref()
                .first()
                .is_none_or(|p| p.trim().is_empty()) =>
        {
            errors.push(src.message(
                command.span(),
                "[notify] command is empty",
                "name a program and its arguments, like `command = [\"notify-send\", \"ork\"]`, or remove the key",
            ));
            Vec::new()
        }
        Some(command) => command.into_inner(),
        None => Vec::new(),
    };
    NotifySettings {
        command,
        timeout: parse_timeout(raw.timeout, DEFAULT_NOTIFY_TIMEOUT, src, errors),
    }
}

fn parse_size(raw: Option<Spanned<String>>, src: &Source, errors: &mut Vec<String>) -> usize {
    let Some(raw) = raw else {
        return DEFAULT_LIMIT;
    };
    size::parse(raw.get_ref()).unwrap_or_else(|e| {
        errors.push(src.message(
            raw.span(),
            &format!("bad size: {e}"),
            "write a size like \"1MiB\" or \"256KiB\"",
        ));
        DEFAULT_LIMIT
    })
}

pub(super) fn parse_timeout(
    raw: Option<Spanned<String>>,
    default: Duration,
    src: &Source,
    errors: &mut Vec<String>,
) -> Duration {
    let Some(raw) = raw else { return default };
    duration::parse(raw.get_ref()).unwrap_or_else(|e| {
        errors.push(src.message(
            raw.span(),
            &format!("bad duration: {e}"),
            "write a duration like \"30m\"",
        ));
        default
    })
}

fn validate_agent(
    name: &str,
    raw: Spanned<RawAgent>,
    src: &Source,
    errors: &mut Vec<String>,
) -> Agent {
    let span = raw.span();
    let raw = raw.into_inner();
    let command = raw.command.map(|c| (c.span(), c.into_inner()));
    if raw.kind == AgentKind::Command && command.as_ref().is_none_or(|(_, argv)| argv.is_empty()) {
        let at = command.as_ref().map_or(span, |(s, _)| s.clone());
        errors.push(src.message(
            at,
            &format!("agent \"{name}\" is a command agent without a command"),
            "add `command = [\"path/to/program\", \"--flag\"]` (relative paths start at the repository root)",
        ));
    }
    let permission_mode = raw
        .permission_mode
        .and_then(|mode| permission_mode(name, raw.kind, mode, src, errors));
    let tools = |list: Option<Spanned<Vec<String>>>, key: &str, errors: &mut Vec<String>| {
        let list = list?;
        if raw.kind != AgentKind::Claude {
            errors.push(src.message(
                list.span(),
                &format!("agent \"{name}\" is not a Claude Code agent, which alone takes `{key}`"),
                &format!("remove `{key}`; {}", permission_fix(raw.kind)),
            ));
        }
        Some(list.into_inner())
    };
    let allowed_tools = tools(raw.allowed_tools, "allowed_tools", errors).unwrap_or_default();
    let disallowed_tools =
        tools(raw.disallowed_tools, "disallowed_tools", errors).unwrap_or_default();
    Agent {
        name: name.to_string(),
        kind: raw.kind,
        model: raw.model,
        timeout: parse_timeout(raw.timeout, DEFAULT_AGENT_TIMEOUT, src, errors),
        command: command.map(|(_, argv)| argv).unwrap_or_default(),
        permission_mode,
        allowed_tools,
        disallowed_tools,
        args: raw.args,
    }
}

/// How to say what an agent of `kind` may do, for an error's fix.
fn permission_fix(kind: AgentKind) -> String {
    match kind {
        AgentKind::Claude => format!(
            "set permission_mode to one of: {}",
            CLAUDE_PERMISSION_MODES.join(", ")
        ),
        AgentKind::Codex => format!(
            "set permission_mode to Codex's sandbox, one of: {}; other Codex settings go in `args` (e.g. [\"-c\", \"approval_policy=\\\"never\\\"\"])",
            CODEX_SANDBOX_MODES.join(", ")
        ),
        AgentKind::Opencode => "set permission_mode to OpenCode's permission config, a table like { edit = \"allow\", bash = { \"*\" = \"deny\", \".orkestra/scripts/checks.sh\" = \"allow\" } }".into(),
        AgentKind::Command => "remove the key: a command agent decides for itself what it may do".into(),
    }
}

/// `permission_mode` checked against what the agent's CLI accepts: a mode name for Claude Code
/// and Codex, a permission config table for OpenCode (kept as the JSON OpenCode reads).
fn permission_mode(
    name: &str,
    kind: AgentKind,
    raw: Spanned<toml::Value>,
    src: &Source,
    errors: &mut Vec<String>,
) -> Option<String> {
    let span = raw.span();
    let value = raw.into_inner();
    let accepted = match (kind, &value) {
        (AgentKind::Claude, toml::Value::String(mode)) => {
            CLAUDE_PERMISSION_MODES.contains(&mode.as_str())
        }
        (AgentKind::Codex, toml::Value::String(mode)) => {
            CODEX_SANDBOX_MODES.contains(&mode.as_str())
        }
        (AgentKind::Opencode, toml::Value::Table(rules)) => opencode_rules_valid(rules),
        _ => false,
    };
    if !accepted {
        errors.push(src.message(
            span,
            &format!(
                "agent \"{name}\" ({}) does not accept permission_mode = {value}",
                kind_name(kind)
            ),
            &permission_fix(kind),
        ));
        return None;
    }
    match value {
        toml::Value::String(mode) => Some(mode),
        table => Some(serde_json::to_string(&table).expect("a TOML table is JSON")),
    }
}

/// OpenCode rules: a tool (`edit`, `bash`, …) maps to an action, or to patterns mapping to actions.
fn opencode_rules_valid(rules: &toml::Table) -> bool {
    let action = |v: &toml::Value| v.as_str().is_some_and(|a| OPENCODE_ACTIONS.contains(&a));
    rules.values().all(|rule| match rule {
        toml::Value::Table(patterns) => patterns.values().all(action),
        other => action(other),
    })
}

/// The workflow's name of an agent kind.
pub fn kind_name(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::Claude => "claude",
        AgentKind::Codex => "codex",
        AgentKind::Opencode => "opencode",
        AgentKind::Command => "command",
    }
}

/// Stage and artifact names end up in file names, trailers and branch paths.
fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What a flow's stages may refer to.
struct Known<'a> {
    agents: &'a BTreeMap<String, Agent>,
    flows: &'a [String],
    /// `default_agent`, where it is set.
    default_agent: Option<&'a Spanned<String>>,
}

/// The agent a stage runs: its own `agent`, else the workflow's `default_agent`; either must
/// name an `[agents.*]` table (an unknown `default_agent` is reported once, where it is set).
fn stage_agent(
    stage: &RawStage,
    name: &str,
    known: &Known<'_>,
    src: &Source,
    errors: &mut Vec<String>,
) -> String {
    let Some(agent) = &stage.agent else {
        return match known.default_agent {
            Some(default) => default.get_ref().clone(),
            None => {
                errors.push(src.message(
                    stage.name.span(),
                    &format!("stage \"{name}\" names no agent, and the workflow sets no default_agent"),
                    "add agent = \"…\" to the stage, or default_agent = \"…\" at the top of workflow.toml",
                ));
                String::new()
            }
        };
    };
    if !known.agents.contains_key(agent.get_ref()) {
        errors.push(src.message(
            agent.span(),
            &format!(
                "stage \"{name}\" uses agent \"{}\", which is not defined",
                agent.get_ref()
            ),
            &agent_fix(known.agents, agent.get_ref()),
        ));
    }
    agent.get_ref().clone()
}

/// How to fix a reference to agent `missing`, which `agents` does not define.
fn agent_fix(agents: &BTreeMap<String, Agent>, missing: &str) -> String {
    if agents.is_empty() {
        return format!("add an [agents.{missing}] table");
    }
    let known: Vec<_> = agents.keys().cloned().collect();
    format!(
        "use one of: {}, or add an [agents.{missing}] table",
        known.join(", ")
    )
}

/// A count that must be 1 or more: `default` when unset; `(problem, fix)` said at its line
/// when 0.
fn at_least_one(
    value: Option<Spanned<u32>>,
    default: u32,
    (problem, fix): (&str, &str),
    src: &Source,
    errors: &mut Vec<String>,
) -> u32 {
    value.map_or(default, |m| {
        if *m.get_ref() == 0 {
            errors.push(src.message(m.span(), problem, fix));
        }
        *m.get_ref()
    })
}

fn validate_flow(
    flow_name: &str,
    raw: Spanned<RawFlow>,
    known: &Known<'_>,
    src: &Source,
    prompts: &Path,
    errors: &mut Vec<String>,
) -> Flow {
    let span = raw.span();
    let raw = raw.into_inner();
    if raw.stages.is_empty() {
        errors.push(src.message(
            span.clone(),
            &format!("flow \"{flow_name}\" has no stages"),
            &format!("add at least one [[flows.{flow_name}.stages]] table"),
        ));
    }
    let stage_names: Vec<String> = raw
        .stages
        .iter()
        .map(|s| s.name.get_ref().clone())
        .collect();
    let mut seen_stages = BTreeSet::new();
    let mut seen_artifacts = BTreeSet::new();
    let mut stages = Vec::new();
    for (index, stage) in raw.stages.into_iter().enumerate() {
        let name = stage.name.get_ref();
        if !is_simple_name(name) {
            errors.push(src.message(
                stage.name.span(),
                &format!("stage name \"{name}\" may only use letters, digits, '-' and '_'"),
                "rename the stage",
            ));
        }
        if !seen_stages.insert(name.clone()) {
            errors.push(src.message(
                stage.name.span(),
                &format!("flow \"{flow_name}\" has two stages named \"{name}\""),
                "give each stage of a flow its own name",
            ));
        }
        let artifact = stage.artifact.get_ref();
        if !is_simple_name(artifact) {
            errors.push(src.message(
                stage.artifact.span(),
                &format!("artifact name \"{artifact}\" may only use letters, digits, '-' and '_'"),
                "rename the artifact",
            ));
        }
        if !seen_artifacts.insert(artifact.clone()) {
            errors.push(src.message(
                stage.artifact.span(),
                &format!(
                    "flow \"{flow_name}\" has two stages producing the artifact \"{artifact}\""
                ),
                "give each stage's artifact its own name, so later stages can tell them apart",
            ));
        }
        let agent = stage_agent(&stage, name, known, src, errors);
        let prompt_path = prompts.join(stage.prompt.get_ref());
        if !prompt_path.is_file() {
            errors.push(src.message(
                stage.prompt.span(),
                &format!("prompt template {} does not exist", prompt_path.display()),
                &format!("create it, or name a file that exists in {PROMPTS_DIR}/"),
            ));
        }
        let on_reject = stage.on_reject.map(|target| {
            check_stage_ref(&target, "on_reject", &stage_names, src, errors);
            target.into_inner()
        });
        let max_attempts = at_least_one(
            stage.max_attempts,
            DEFAULT_MAX_ATTEMPTS,
            (
                "max_attempts must be at least 1",
                "set max_attempts = 1 or more",
            ),
            src,
            errors,
        );
        let max_rounds = at_least_one(
            stage.max_rounds,
            DEFAULT_MAX_ROUNDS,
            (
                "max_rounds must be at least 1: a route back without a cap can run without end",
                "set max_rounds = 1 or more (the default is 3)",
            ),
            src,
            errors,
        );
        let gate = stage.gate.map(|g| Gate {
            command: g.command.into_inner(),
            timeout: parse_timeout(g.timeout, DEFAULT_GATE_TIMEOUT, src, errors),
        });
        // A verdict stage that names no target sends the work back one stage.
        let on_reject = on_reject.or_else(|| {
            stage
                .verdict
                .then(|| stage_names[index.saturating_sub(1)].clone())
        });
        let subtraks = stage
            .subtraks
            .map(|raw| validate_subtraks(flow_name, name, raw, stage.verdict, known, src, errors));
        let race = stage.race.map(|raw| {
            let on = super::race::RaceStage {
                name,
                agent: &agent,
                review: stage.review,
                verdict: stage.verdict,
                breakdown: subtraks.is_some(),
            };
            super::race::validate(raw, &on, known.agents, src, prompts, errors)
        });
        let timeout = stage
            .timeout
            .map(|t| parse_timeout(Some(t), DEFAULT_AGENT_TIMEOUT, src, errors));
        let stall = stage
            .stall
            .map(|t| parse_timeout(Some(t), DEFAULT_AGENT_TIMEOUT, src, errors));
        let budget = super::budget::validate(
            stage.budget,
            &format!("stage {name} of flow \"{flow_name}\""),
            src,
            errors,
        );
        let ork = OrkAccess {
            read: stage.mcp == Some(RawMcp::Read),
            spawn: stage.spawn.map(|spawn| {
                if *spawn.max.get_ref() == 0 {
                    errors.push(src.message(
                        spawn.max.span(),
                        "spawn's max must be at least 1",
                        "set spawn = { max = 1 } or more, or remove `spawn` to let the agent create no traks",
                    ));
                }
                *spawn.max.get_ref()
            }),
        };
        stages.push(Stage {
            ork,
            model: stage.model,
            timeout,
            stall,
            name: stage.name.into_inner(),
            agent,
            prompt: stage.prompt.into_inner(),
            artifact: stage.artifact.into_inner(),
            review: stage.review,
            gate,
            max_attempts,
            verdict: stage.verdict,
            on_reject,
            max_rounds,
            budget,
            subtraks,
            race,
        });
    }
    let integration = raw.integration.unwrap_or(RawIntegration {
        strategy: Strategy::Merge,
        on_conflict: None,
        on_changes: None,
        merge: None,
        max_rounds: None,
        gate: None,
    });
    let stage_ref = |target: Option<Spanned<String>>, key: &str, errors: &mut Vec<String>| {
        target.map(|target| {
            check_stage_ref(&target, key, &stage_names, src, errors);
            target.into_inner()
        })
    };
    let on_conflict = stage_ref(integration.on_conflict, "on_conflict", errors);
    let on_changes = stage_ref(integration.on_changes, "on_changes", errors);
    if integration.strategy != Strategy::Pr
        && let Some(merge) = &integration.merge
    {
        errors.push(src.message(
            merge.span(),
            &format!(
                "`merge` only applies to pull requests, but flow \"{flow_name}\" integrates with strategy = \"{}\"",
                if integration.strategy == Strategy::Squash { "squash" } else { "merge" }
            ),
            "set strategy = \"pr\", or remove `merge`",
        ));
    }
    let max_rounds = integration.max_rounds.map_or(DEFAULT_PR_ROUNDS, |m| {
        if *m.get_ref() == 0 {
            errors.push(src.message(
                m.span(),
                "max_rounds must be at least 1",
                "set max_rounds = 1 or more",
            ));
        }
        *m.get_ref()
    });
    // A conflict goes back to the last stage that is not a verdict by default: the one that writes code.
    let code_stage = stages
        .iter()
        .rev()
        .find(|s| !s.verdict)
        .or(stages.last())
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let on_conflict = on_conflict.unwrap_or_else(|| code_stage.clone());
    Flow {
        name: flow_name.to_string(),
        description: raw.description,
        stages,
        strategy: integration.strategy,
        on_changes: on_changes.unwrap_or_else(|| on_conflict.clone()),
        on_conflict,
        merge: integration
            .merge
            .map(Spanned::into_inner)
            .unwrap_or_default(),
        max_rounds,
        landing_gate: integration.gate.unwrap_or(true),
        budget: super::budget::validate(raw.budget, &format!("flow \"{flow_name}\""), src, errors),
    }
}

/// `subtraks = { flow = "NAME", max_parts = N, parallel = N }` on stage `stage` of `flow_name`.
fn validate_subtraks(
    flow_name: &str,
    stage: &str,
    raw: Spanned<RawSubtraks>,
    verdict: bool,
    known: &Known<'_>,
    src: &Source,
    errors: &mut Vec<String>,
) -> Subtraks {
    let span = raw.span();
    let raw = raw.into_inner();
    if verdict {
        errors.push(src.message(
            span,
            &format!("stage \"{stage}\" is a verdict stage and a breakdown stage at once"),
            "a breakdown's agent answers with parts, a reviewer with a decision: keep one of `verdict` and `subtraks`",
        ));
    }
    let flow = raw.flow.get_ref();
    if !known.flows.contains(flow) {
        errors.push(src.message(
            raw.flow.span(),
            &format!("subtraks names a flow \"{flow}\" that does not exist"),
            &format!(
                "use one of: {}, or add a [flows.{flow}] table",
                known.flows.join(", ")
            ),
        ));
    } else if flow == flow_name {
        errors.push(src.message(
            raw.flow.span(),
            &format!("flow \"{flow_name}\" would break its parts down with itself"),
            "name a flow for the parts that has no breakdown stage, like the default `subtrak` flow",
        ));
    }
    let mut at_least_one = |value: Option<Spanned<usize>>, key: &str, default: usize| {
        value.map_or(default, |v| {
            if *v.get_ref() == 0 {
                errors.push(src.message(
                    v.span(),
                    &format!("{key} must be at least 1"),
                    &format!("set {key} = 1 or more"),
                ));
            }
            *v.get_ref()
        })
    };
    let max_parts = at_least_one(raw.max_parts, "max_parts", DEFAULT_MAX_PARTS);
    let parallel = at_least_one(raw.parallel, "parallel", DEFAULT_PARALLEL);
    Subtraks {
        flow: raw.flow.into_inner(),
        max_parts,
        parallel,
    }
}

fn check_stage_ref(
    target: &Spanned<String>,
    key: &str,
    stage_names: &[String],
    src: &Source,
    errors: &mut Vec<String>,
) {
    if !stage_names.contains(target.get_ref()) {
        errors.push(src.message(
            target.span(),
            &format!(
                "{key} names a stage \"{}\" that is not in this flow",
                target.get_ref()
            ),
            &format!("use one of: {}", stage_names.join(", ")),
        ));
    }
}

/// The prompt template of `stage`, read from the main worktree.
pub fn prompt_path(root: &Path, stage: &Stage) -> PathBuf {
    root.join(PROMPTS_DIR).join(&stage.prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompts_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "planner.md",
            "breakdown.md",
            "worker.md",
            "reviewer.md",
            "compound.md",
            "judge.md",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        dir
    }

    fn parse(text: &str) -> Result<Workflow> {
        let prompts = prompts_dir();
        Workflow::parse(text, Path::new("wf.toml"), prompts.path())
    }

    const AGENT: &str = "[agents.a]\nkind = \"command\"\ncommand = [\"x\"]\n";

    #[test]
    fn the_default_workflow_parses() {
        let wf = parse(crate::config::init::DEFAULT_WORKFLOW).unwrap();
        let names: Vec<_> = wf.flows.keys().cloned().collect();
        assert_eq!(names, ["feature", "fix", "quick", "subtrak"]);
        let feature = wf.flow(Some("feature")).unwrap();
        let stages: Vec<_> = feature.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            stages,
            ["planning", "breakdown", "work", "review", "compound"]
        );
        let breakdown = feature.stages[1].subtraks.as_ref().unwrap();
        assert_eq!(breakdown.flow, "subtrak");
        assert_eq!(
            feature.stages[2].gate.as_ref().unwrap().timeout,
            Duration::from_secs(600)
        );
        assert_eq!(feature.stages[3].on_reject.as_deref(), Some("work"));
        assert_eq!(wf.flow(None).unwrap().name, "feature");
    }

    #[test]
    fn a_breakdown_stage_names_a_flow_that_exists() {
        let text = format!(
            "{AGENT}[flows.f]\n[[flows.f.stages]]\nname = \"split\"\nagent = \"a\"\nprompt = \"breakdown.md\"\nartifact = \"parts\"\nsubtraks = {{ flow = \"nope\", parallel = 0 }}\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("wf.toml:10:21: subtraks names a flow \"nope\" that does not exist"),
            "{err}"
        );
        assert!(
            err.contains("fix: use one of: f, or add a [flows.nope] table"),
            "{err}"
        );
        assert!(err.contains("parallel must be at least 1"), "{err}");
        let itself = text.replace("\"nope\", parallel = 0", "\"f\"");
        let err = parse(&itself).unwrap_err().to_string();
        assert!(
            err.contains("would break its parts down with itself"),
            "{err}"
        );
    }

    #[test]
    fn a_schedule_without_a_flow_needs_a_default_one() {
        let flow = |name: &str| {
            format!(
                "[flows.{name}]\n[[flows.{name}.stages]]\nname = \"w\"\nagent = \"a\"\nprompt = \"worker.md\"\nartifact = \"s\"\n"
            )
        };
        let schedule = "[[schedule]]\nname = \"nightly\"\ncron = \"0 4 * * *\"\ntitle = \"T\"\n";
        let two = format!("{AGENT}{}{}{schedule}", flow("f"), flow("g"));
        let err = parse(&two).unwrap_err().to_string();
        assert!(
            err.contains("wf.toml:17:8: schedule \"nightly\" names no flow, and the workflow has no default_flow"),
            "{err}"
        );
        let one = format!("{AGENT}{}{schedule}timezone = \"Asia/Tokyo\"\n", flow("f"));
        let wf = parse(&one).unwrap();
        assert_eq!(wf.schedules[0].timezone, chrono_tz::Asia::Tokyo);
        let defaulted = format!("default_flow = \"g\"\n{two}");
        assert_eq!(parse(&defaulted).unwrap().schedules[0].flow, None);
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = parse("[agents.a]\nkind = = \"command\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("wf.toml:2:"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_where_they_are() {
        let text = format!("{AGENT}colour = \"red\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("wf.toml:4:1"), "{err}");
        assert!(err.contains("unknown field `colour`"), "{err}");
        assert!(err.contains("fix:"), "{err}");
    }

    #[test]
    fn semantic_errors_are_all_reported_with_places() {
        let text = format!(
            "{AGENT}[flows.f]\n\
             [[flows.f.stages]]\nname = \"s\"\nagent = \"ghost\"\nprompt = \"missing.md\"\nartifact = \"a\"\non_reject = \"nowhere\"\n\
             [[flows.f.stages]]\nname = \"s\"\nagent = \"a\"\nprompt = \"worker.md\"\nartifact = \"a\"\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("wf.toml:7:9: stage \"s\" uses agent \"ghost\""),
            "{err}"
        );
        assert!(err.contains("use one of: a"), "{err}");
        assert!(err.contains("missing.md does not exist"), "{err}");
        assert!(err.contains("on_reject names a stage \"nowhere\""), "{err}");
        assert!(err.contains("two stages named \"s\""), "{err}");
        assert!(err.contains("producing the artifact \"a\""), "{err}");
    }

    #[test]
    fn bad_durations_and_empty_commands_are_errors() {
        let text = "[agents.a]\nkind = \"command\"\ntimeout = \"ten minutes\"\n[flows.f]\n[[flows.f.stages]]\nname = \"s\"\nagent = \"a\"\nprompt = \"worker.md\"\nartifact = \"x\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("wf.toml:3:11: bad duration"), "{err}");
        assert!(err.contains("without a command"), "{err}");
    }

    fn one_stage(agent: &str, stage_extra: &str) -> String {
        format!(
            "{agent}[flows.f]\n[[flows.f.stages]]\nname = \"s\"\nagent = \"a\"\nprompt = \"worker.md\"\nartifact = \"x\"\n{stage_extra}"
        )
    }

    #[test]
    fn permissions_are_checked_against_the_agents_kind() {
        let claude = "[agents.a]\nkind = \"claude\"\npermission_mode = \"plan\"\nallowed_tools = [\"Bash(.orkestra/scripts/checks.sh)\"]\nargs = [\"--effort\", \"high\"]\n";
        let wf = parse(&one_stage(claude, "")).unwrap();
        let agent = &wf.agents["a"];
        assert_eq!(agent.permission_mode.as_deref(), Some("plan"));
        assert_eq!(agent.allowed_tools, ["Bash(.orkestra/scripts/checks.sh)"]);
        assert_eq!(agent.args, ["--effort", "high"]);

        let opencode = "[agents.a]\nkind = \"opencode\"\npermission_mode = { edit = \"allow\", bash = { \"*\" = \"deny\" } }\n";
        let wf = parse(&one_stage(opencode, "")).unwrap();
        assert_eq!(
            wf.agents["a"].permission_mode.as_deref(),
            Some(r#"{"bash":{"*":"deny"},"edit":"allow"}"#)
        );

        let codex = "[agents.a]\nkind = \"codex\"\npermission_mode = \"acceptEdits\"\nallowed_tools = [\"Bash\"]\n";
        let err = parse(&one_stage(codex, "")).unwrap_err().to_string();
        assert!(
            err.contains("wf.toml:3:19: agent \"a\" (codex) does not accept permission_mode = \"acceptEdits\""),
            "{err}"
        );
        assert!(
            err.contains("read-only, workspace-write, danger-full-access"),
            "{err}"
        );
        assert!(
            err.contains("wf.toml:4:17: agent \"a\" is not a Claude Code agent"),
            "{err}"
        );

        let bad_claude = "[agents.a]\nkind = \"claude\"\npermission_mode = \"yolo\"\n";
        let err = parse(&one_stage(bad_claude, "")).unwrap_err().to_string();
        assert!(err.contains("wf.toml:3:19"), "{err}");
        assert!(
            err.contains("acceptEdits, auto, bypassPermissions"),
            "{err}"
        );

        let bad_opencode =
            "[agents.a]\nkind = \"opencode\"\npermission_mode = { bash = \"maybe\" }\n";
        let err = parse(&one_stage(bad_opencode, "")).unwrap_err().to_string();
        assert!(err.contains("OpenCode's permission config"), "{err}");
    }

    #[test]
    fn a_stage_overrides_its_agents_model_and_timeout() {
        let agent = "[agents.a]\nkind = \"claude\"\nmodel = \"sonnet\"\ntimeout = \"30m\"\n";
        let wf = parse(&one_stage(agent, "model = \"opus\"\ntimeout = \"2h\"\n")).unwrap();
        let stage = &wf.flow(None).unwrap().stages[0];
        let effective = stage.agent_for(&wf.agents["a"]);
        assert_eq!(effective.model.as_deref(), Some("opus"));
        assert_eq!(effective.timeout, Duration::from_secs(7200));

        let wf = parse(&one_stage(agent, "")).unwrap();
        let stage = &wf.flow(None).unwrap().stages[0];
        assert_eq!(stage.agent_for(&wf.agents["a"]), wf.agents["a"]);

        let err = parse(&one_stage(agent, "timeout = \"soon\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("wf.toml:11:11: bad duration"), "{err}");
    }

    #[test]
    fn limits_default_to_1mib_and_read_sizes() {
        let flow = "[flows.f]\n[[flows.f.stages]]\nname = \"s\"\nagent = \"a\"\nprompt = \"worker.md\"\nartifact = \"x\"\n";
        let wf = parse(&format!("{AGENT}{flow}")).unwrap();
        assert_eq!(wf.limits, Limits::default());
        assert_eq!(wf.limits.artifact, 1 << 20);
        let wf = parse(&format!(
            "{AGENT}{flow}[limits]\nartifact = \"64KiB\"\nlog = \"2MiB\"\n"
        ))
        .unwrap();
        assert_eq!(wf.limits.artifact, 64 << 10);
        assert_eq!(wf.limits.log, 2 << 20);
        assert_eq!(wf.limits.feedback, 1 << 20);

        let err = parse(&format!(
            "{AGENT}{flow}[limits]\nnote = \"lots\"\nfeedback = \"12\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("wf.toml:11:8: bad size"), "{err}");
        assert!(err.contains("wf.toml:12:12: bad size"), "{err}");
        assert!(err.contains("less than 1KiB"), "{err}");
        assert!(err.contains("fix: write a size like"), "{err}");
        let err = parse(&format!("{AGENT}{flow}[limits]\nstdout = \"1MiB\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `stdout`"), "{err}");
    }

    #[test]
    fn unknown_flows_list_the_known_ones() {
        let wf = parse(crate::config::init::DEFAULT_WORKFLOW).unwrap();
        let err = wf.flow(Some("nope")).unwrap_err().to_string();
        assert!(err.contains("no flow named \"nope\""), "{err}");
        assert!(err.contains("feature, fix, quick"), "{err}");
    }

    #[test]
    fn verdict_stages_default_to_sending_work_back_one_stage() {
        let text = format!(
            "{AGENT}[flows.f]\n\
             [[flows.f.stages]]\nname = \"w\"\nagent = \"a\"\nprompt = \"worker.md\"\nartifact = \"x\"\n\
             [[flows.f.stages]]\nname = \"r\"\nagent = \"a\"\nprompt = \"reviewer.md\"\nartifact = \"y\"\nverdict = true\n"
        );
        let wf = parse(&text).unwrap();
        let flow = wf.flow(None).unwrap();
        assert_eq!(flow.stages[1].on_reject.as_deref(), Some("w"));
        assert_eq!(flow.on_conflict, "w");
        assert_eq!(flow.stages[0].max_attempts, DEFAULT_MAX_ATTEMPTS);
    }

    #[test]
    fn pull_request_keys_have_defaults_and_are_checked_where_they_are() {
        let flow = |integration: &str| {
            format!(
                "{AGENT}[flows.f]\n\
                 [[flows.f.stages]]\nname = \"w\"\nagent = \"a\"\nprompt = \"worker.md\"\nartifact = \"x\"\ngate = {{ command = \"true\" }}\n\
                 [flows.f.integration]\n{integration}"
            )
        };
        let wf = parse(&flow("strategy = \"pr\"\n")).unwrap();
        let f = wf.flow(None).unwrap();
        assert_eq!(f.strategy, Strategy::Pr);
        assert_eq!(
            (f.on_changes.as_str(), f.merge, f.max_rounds),
            ("w", PrMerge::Merge, DEFAULT_PR_ROUNDS)
        );
        assert_eq!(f.landing_gate().map(|(s, _)| s.name.as_str()), Some("w"));
        let wf = parse(&flow("strategy = \"pr\"\nmerge = \"none\"\ngate = false\n")).unwrap();
        let f = wf.flow(None).unwrap();
        assert_eq!(f.merge.gh_flag(), None);
        assert!(f.landing_gate().is_none());

        let err = parse(&flow(
            "strategy = \"squash\"\nmerge = \"rebase\"\nmax_rounds = 0\non_changes = \"nope\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("wf.toml:13:9: `merge` only applies to pull requests"),
            "{err}"
        );
        assert!(err.contains("set strategy = \"pr\""), "{err}");
        assert!(
            err.contains("wf.toml:14:14: max_rounds must be at least 1"),
            "{err}"
        );
        assert!(err.contains("on_changes names a stage \"nope\""), "{err}");
    }
}
