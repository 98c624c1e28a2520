//! Argument parsing and dispatch. Each command opens the repository once, calls the library,
//! and hands the result to [`crate::cli::print`].

mod background;
mod complete;
mod demo;
mod generate;
mod mcp;
mod print;
mod ui;
mod view;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::engine::ArgValueCandidates;

use ork::config::init;
use ork::config::workflow::{Workflow, kind_name};
use ork::engine::actions::{Action, Continuation};
use ork::engine::{self, Engine, HumanDecision, TrakRequest};
use ork::store::git::Git;
use ork::store::state::Status;
use ork::store::warnings::Warnings;
use ork::store::{Store, Trak};

use print::Terminal;

/// Drive coding agents through flows of stages, with git as the only database.
#[derive(Parser)]
#[command(name = "ork", version, about, long_about = None)]
struct Cli {
    /// Run as if ork was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    directory: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The agents `ork init --agent` can make the default: those its workflow defines.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum InitAgent {
    Claude,
    Codex,
    Opencode,
}

impl InitAgent {
    fn name(self) -> &'static str {
        match self {
            InitAgent::Claude => "claude",
            InitAgent::Codex => "codex",
            InitAgent::Opencode => "opencode",
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Write the default .orkestra/ files (workflow, prompts, checks) into this repository.
    Init {
        /// Rewrite files that differ from the defaults.
        #[arg(long)]
        force: bool,
        /// The agent CLI every stage uses (`default_agent`); without it, the first of claude,
        /// codex and opencode found on PATH.
        #[arg(long, value_enum)]
        agent: Option<InitAgent>,
    },
    /// Create and manage traks.
    #[command(subcommand)]
    Trak(TrakSubcommand),
    /// List traks: local ones and those that remote-tracking branches bring.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Include finished traks.
        #[arg(long)]
        all: bool,
    },
    /// Everything about one trak.
    Show(IdArgs),
    /// A trak's events, oldest first.
    Log(IdArgs),
    /// Leave a note for a trak's agents: it goes into the prompt of the trak's next run.
    Note {
        /// The trak's id or a unique prefix; default: the trak whose worktree you are in.
        #[arg(add = ArgValueCandidates::new(complete::trak_ids), conflicts_with = "all")]
        id: Option<String>,
        /// What the agents should know.
        #[arg(short = 'm', long = "message", value_name = "TEXT")]
        message: String,
        /// Leave it for every trak not finished yet.
        #[arg(long)]
        all: bool,
    },
    /// Approve the stage waiting for review; the next stage runs.
    Approve {
        #[command(flatten)]
        args: DecisionArgs,
        /// Approve the trak's change to ork's own configuration (.orkestra/) instead: a trak
        /// that changes it waits before it integrates until you do.
        #[arg(long, conflicts_with_all = ["usd", "tokens"])]
        config: bool,
        /// Set the budget the trak stopped at (else the trak's own) to a new total, and go on.
        #[command(flatten)]
        budget: BudgetArgs,
        /// Pick attempt K of a race as its winner (`ork show` lists them, `ork diff --race`
        /// shows them): its files become the stage's result, and the stage is approved.
        #[arg(long, value_name = "K", conflicts_with_all = ["config", "usd", "tokens"])]
        pick: Option<u32>,
    },
    /// Reject the stage waiting for review; it runs again with your feedback.
    Reject {
        #[command(flatten)]
        args: DecisionArgs,
        /// The feedback for the agent.
        #[arg(short = 'm', long = "message", conflicts_with = "file")]
        message: Option<String>,
        /// Read the feedback from a file (`-` for standard input).
        #[arg(short = 'F', long = "file")]
        file: Option<PathBuf>,
        /// Send the work back to this stage instead of the current one.
        #[arg(long = "to", value_name = "STAGE")]
        route_to: Option<String>,
    },
    /// Answer the questions an agent asked; the stage runs again with your answer.
    Answer {
        #[command(flatten)]
        args: DecisionArgs,
        /// The answer.
        #[arg(short = 'm', long = "message")]
        message: String,
    },
    /// Settle a conflict between two machines' decisions: keep one, set the other aside.
    Resolve {
        #[command(flatten)]
        args: DecisionArgs,
        /// The decision that stands: an event type (approved, rejected, …) or an event id.
        #[arg(long)]
        keep: String,
    },
    /// Run a failed stage again.
    Retry {
        #[command(flatten)]
        args: DecisionArgs,
        /// Commit the known secrets (tokens, private keys) the stage's change adds: you looked
        /// at them and mean them to be in the repository.
        #[arg(long)]
        allow_secret: bool,
    },
    /// Carry on with a trak: run what is due (after a crash, or on another machine).
    Resume(DecisionArgs),
    /// Merge a trak whose stages all passed into its base branch (again, after it waited).
    Integrate(DecisionArgs),
    /// Run every trak that has work due, in the background of this command, a few at a time.
    Run {
        /// How many traks run at once.
        #[arg(long, short = 'j', default_value_t = 2)]
        jobs: usize,
        /// Keep watching for new work until interrupted.
        #[arg(long)]
        watch: bool,
    },
    /// List the workflow's schedules: each one's last slot fired and its next slots.
    Schedule {
        /// How many of the next slots to list.
        #[arg(long, short = 'n', default_value_t = 5)]
        next: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the agents' output of a trak: kept logs, or follow the running one.
    Logs {
        /// The trak's id or a unique prefix of it.
        #[arg(add = ArgValueCandidates::new(complete::trak_ids))]
        id: Option<String>,
        /// Only this stage's runs.
        #[arg(long)]
        stage: Option<String>,
        /// Follow the running agent's output.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Print JSON (the kept logs; not with --follow).
        #[arg(long, conflicts_with = "follow")]
        json: bool,
    },
    /// Git hooks that make plain git commands carry ork's data too.
    #[command(subcommand)]
    Hooks(HooksCommand),
    /// Take in work from GitHub Issues or another tracker (`[intake]`), once
    ///
    /// One pass: open issues become traks, status comments are brought up to date, `/ork`
    /// commands from people with write access are carried out. `ork run --watch` makes one
    /// every `[intake] every`.
    Intake,
    /// Exchange traks, gate notes and agent logs with a remote: fetch, join, push.
    Sync {
        /// The remote; default: origin, or the only remote.
        remote: Option<String>,
        /// Name every trak moved, however many.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Check this machine: git, the workflow's agent CLIs, remotes and hooks.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Try ork in one command: a whole flow in a new temporary repository, no model needed.
    Demo,
    /// Print a shell completion script (see the README for where to put it).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), ork's or one command's; or write them all with --dir.
    Man {
        /// The command whose page to print (ork-<command>; `trak-new` for `ork trak new`);
        /// default: ork's own page.
        command: Option<String>,
        /// Write every page into DIR instead (ork.1, ork-approve.1, ork-trak-new.1, …), made if
        /// missing.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
    /// The demo's scripted agent (used by `ork demo`).
    #[command(hide = true)]
    DemoAgent,
    /// What changed: a stage's artifact across attempts, or the trak's code against its base.
    Diff {
        /// The trak's id or a unique prefix of it.
        #[arg(add = ArgValueCandidates::new(complete::trak_ids))]
        id: Option<String>,
        /// Show how this stage's artifact changed between attempts.
        #[arg(long, conflicts_with = "race")]
        stage: Option<String>,
        /// Show each attempt of the trak's races, its change against the race's start.
        #[arg(long)]
        race: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Watch and steer every trak in a full-screen terminal view.
    Ui,
    /// Serve ork's tools to an agent CLI over MCP (stdio); or add ork to a client's config.
    Mcp {
        #[command(subcommand)]
        command: Option<McpCommand>,
    },
}

#[derive(Subcommand)]
enum McpCommand {
    /// Add `ork mcp` to a client's MCP configuration (merged with what is there).
    Install {
        /// The client: claude (the project's .mcp.json), codex (~/.codex/config.toml, or
        /// $CODEX_HOME's), opencode (the project's opencode.json).
        #[arg(value_enum)]
        client: mcp::Client,
    },
}

#[derive(Subcommand)]
enum TrakSubcommand {
    /// Create a trak (a branch ork/<id> and a worktree) and run its first stage.
    New {
        /// The trak's title; its id is made from it.
        title: String,
        /// The flow to run (see .orkestra/workflow.toml); default: the workflow's default_flow.
        #[arg(long, add = ArgValueCandidates::new(complete::flow_names))]
        flow: Option<String>,
        /// The branch to start from and merge into; default: the branch checked out in the
        /// main worktree.
        #[arg(long)]
        base: Option<String>,
        /// A longer description; `-` reads it from standard input.
        #[arg(short = 'd', long = "description", value_name = "TEXT")]
        description: Option<String>,
        /// Traks to be merged first: this one waits for them, then starts from the base
        /// that holds their code (comma-separated ids; a prefix of an id is enough).
        #[arg(long, value_name = "ID,…", value_delimiter = ',', add = ArgValueCandidates::new(complete::trak_ids))]
        after: Vec<String>,
        /// 1 (first) to 5 (last): `ork run` takes due traks by priority, then age [default: 3].
        #[arg(long, value_name = "1..5", value_parser = clap::value_parser!(u8).range(1..=5))]
        priority: Option<u8>,
        #[command(flatten)]
        budget: BudgetArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Give a trak up: it will not be merged. Its branch keeps its history; its worktree goes.
    Drop {
        /// The trak's id or a unique prefix; default: the trak whose worktree you are in.
        #[arg(add = ArgValueCandidates::new(complete::trak_ids))]
        id: Option<String>,
        /// Why (kept with the trak).
        #[arg(short = 'm', long = "message", default_value = "")]
        message: String,
        /// Drop it even if its worktree has uncommitted changes (kept in its checkpoint,
        /// refs/ork/wip/<id>, for `ork trak restore`).
        #[arg(long)]
        force: bool,
    },
    /// Bring a dropped trak back where it stood, its worktree made again with the unsaved
    /// changes the drop kept; then carry on with it.
    Restore {
        /// The dropped trak's id or a unique prefix.
        #[arg(add = ArgValueCandidates::new(complete::trak_ids))]
        id: Option<String>,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Subcommand)]
enum HooksCommand {
    /// Install a pre-push hook: pushing ork branches pushes their notes and logs too.
    Install {
        /// Replace a hook of the same name that is not ork's.
        #[arg(long)]
        force: bool,
    },
}

/// What a trak may spend in all, over the flow's `budget` (docs/workflow.md, Budgets).
#[derive(Args)]
struct BudgetArgs {
    /// The most the trak may spend, in US dollars (its subtraks not included).
    #[arg(long = "budget", value_name = "USD", value_parser = positive_usd)]
    usd: Option<f64>,
    /// The most tokens (input and output) the trak may use.
    #[arg(long = "budget-tokens", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    tokens: Option<u64>,
}

impl BudgetArgs {
    fn budget(&self) -> Option<ork::store::event::Budget> {
        (self.usd.is_some() || self.tokens.is_some()).then_some(ork::store::event::Budget {
            usd: self.usd,
            tokens: self.tokens,
        })
    }
}

/// A dollar amount above zero.
fn positive_usd(text: &str) -> Result<f64, String> {
    match text.trim_start_matches('$').parse::<f64>() {
        Ok(usd) if usd > 0.0 && usd.is_finite() => Ok(usd),
        _ => Err(format!(
            "`{text}` is not an amount of dollars above 0 (for example 5 or 2.50)"
        )),
    }
}

#[derive(Args)]
struct IdArgs {
    /// The trak's id or a unique prefix of it; default: the trak whose worktree you are in.
    #[arg(add = ArgValueCandidates::new(complete::trak_ids))]
    id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DecisionArgs {
    /// The trak's id or a unique prefix; default: the trak whose worktree you are in, or the
    /// only one waiting for you.
    #[arg(add = ArgValueCandidates::new(complete::trak_ids))]
    id: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Clone, Copy)]
struct RunArgs {
    /// Record only; do not run what comes next.
    #[arg(long, conflicts_with = "detach")]
    no_run: bool,
    /// Run what comes next in the background (see `ork logs -f`).
    #[arg(long)]
    detach: bool,
    /// Run a stage another machine started, before its claim's lease runs out.
    #[arg(long)]
    take_over: bool,
}

/// The exit code of a run that left the trak to the machine that claimed it (`ork run`'s
/// background runs end so when another machine was first).
pub const CLAIM_LOST_EXIT: u8 = 3;

/// Runs the command line and turns an error into its message and exit code.
pub fn main() -> ExitCode {
    // `COMPLETE=bash ork` (and each TAB after `source <(COMPLETE=bash ork)`): the shell asks
    // for candidates, which are printed before anything else runs, then ork exits.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    ork::engine::process::kill_children_on_interrupt(|| {
        // Never `eprintln!`: with stderr a closed pipe (`ork … 2>&1 | head -1`) it panics,
        // and the interrupt would not end the process.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\ninterrupted: agents stopped; `ork resume` carries on from here"
        );
    });
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        // Another machine has the trak: not a failure, and `ork run` tells it by the code.
        Err(err) if err.downcast_ref::<ork::engine::ClaimLost>().is_some() => {
            eprintln!(
                "info: {}",
                ork::engine::process::output::printable(&err.to_string())
            );
            ExitCode::from(CLAIM_LOST_EXIT)
        }
        Err(err) => {
            // Errors quote agents and git: only text reaches the terminal.
            let printable =
                |text: String| ork::engine::process::output::printable(&text).into_owned();
            let label = if print::stderr_colour() {
                print::ansi(print::Paint::Bad, "error:")
            } else {
                "error:".to_string()
            };
            eprintln!("{label} {}", printable(err.to_string()));
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {}", printable(cause.to_string()));
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is stdout closing early (`ork log | head`): not worth a message.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn run() -> Result<()> {
    let cli = Cli::parse();
    let warnings = Warnings::default();
    let result = dispatch(cli, &warnings);
    // What a drive did not already show on its way (a drop, a sync, a decision).
    for warning in warnings.take() {
        print::warning(&warning);
    }
    result
}

fn dispatch(cli: Cli, warnings: &Warnings) -> Result<()> {
    let open = |git: Git| Store::with_warnings(git, warnings.clone());
    // The demo makes its own repository; its agent runs inside one.
    match cli.command {
        Command::Demo => return crate::cli::demo::run(),
        Command::DemoAgent => return crate::cli::demo::agent(),
        Command::Completions { shell } => return generate::completions(shell),
        Command::Man { command, dir } => {
            let Some(dir) = dir else {
                return generate::man(command.as_deref());
            };
            let written = generate::man_pages(&dir)?;
            return print::man_pages_written(written, &dir);
        }
        _ => {}
    }
    let cwd = match cli.directory {
        Some(dir) => dir,
        None => std::env::current_dir().context("reading the current directory")?,
    };
    let git = Git::discover(&cwd)?;
    match cli.command {
        Command::Init { force, agent } => {
            // Only files are written: a repository without a commit yet is fine.
            let chosen = agent.map(InitAgent::name);
            let found = match chosen {
                Some(_) => None,
                None => engine::views::doctor::installed_cli(git.main_workdir()),
            };
            let agent = chosen.unwrap_or_else(|| {
                found
                    .as_ref()
                    .map_or(init::DEFAULT_AGENT, |(kind, _)| kind_name(*kind))
            });
            let report = init::write_defaults(git.main_workdir(), force, agent)?;
            // A plain `git fetch` then brings other machines' notes and logs too.
            for remote in git.remote_names() {
                ork::sync::configure_remote(&git, &remote)?;
            }
            print::init_report(&report)?;
            let wrote_workflow = report.iter().any(|(path, action)| {
                *path == ork::config::workflow::WORKFLOW_PATH
                    && matches!(
                        action,
                        init::FileAction::Created | init::FileAction::Rewritten
                    )
            });
            if wrote_workflow {
                print::init_agent(chosen, found.as_ref())?;
            }
            Ok(())
        }
        Command::Doctor { json } => {
            let workflow = Workflow::load(git.main_workdir());
            let report = engine::views::doctor::examine(&git, workflow);
            print::doctor(&report, &mcp::places(&git), json)?;
            if !report.ok() {
                bail!(
                    "ork doctor found {} problem(s); each says above how to fix it",
                    report.problems.len()
                );
            }
            Ok(())
        }
        Command::Trak(TrakSubcommand::New {
            title,
            flow,
            base,
            description,
            budget,
            after,
            priority,
            run,
        }) => {
            let description = read_description(description)?;
            // Refuse a repository with no commit before complaining about a missing workflow.
            git.main_branch()?;
            let workflow = Workflow::load(git.main_workdir())?;
            let store = open(git);
            if !run.no_run
                && let Some(missing) =
                    engine::first_stage_cannot_start(&store, &workflow, flow.as_deref())?
            {
                bail!(
                    "{missing}.\n  Nothing was created. (`ork trak new --no-run` records the trak without running it, for another machine to run.)"
                );
            }
            let trak = engine::new_trak(
                &store,
                &workflow,
                &TrakRequest {
                    title: &title,
                    description: &description,
                    flow: flow.as_deref(),
                    base: base.as_deref(),
                    budget: budget.budget(),
                    after: &after,
                    priority,
                    ..TrakRequest::default()
                },
            )?;
            print::created(&store, &trak)?;
            if !ork::store::text::title(&title).rest.is_empty() {
                print::title_cut(&trak);
            }
            if trak.state.spawned_by.is_some() {
                // Asked for from inside another trak's run: the run's ork made it, queued; it
                // is not run from inside that run.
                return print::next(&trak);
            }
            carry_on(&store, &workflow, trak, run)
        }
        Command::Trak(TrakSubcommand::Drop { id, message, force }) => {
            let workflow = Workflow::load(git.main_workdir())?;
            let store = open(git);
            let trak = store.resolve(id.as_deref())?;
            let trak = engine::drop_trak(&store, &workflow, &trak, message, force)?;
            print::next(&trak)
        }
        Command::Trak(TrakSubcommand::Restore { id, run }) => {
            let workflow = Workflow::load(git.main_workdir())?;
            let store = open(git);
            let trak = pick(&store, id.as_deref(), Action::Restore).map_err(|err| {
                // A branch deleted by hand: say where its unsaved files still are.
                match id.as_deref().map(|id| (id, store.checkpoint_ref_of(id))) {
                    Some((id, Ok(Some(commit)))) => err.context(format!(
                        "trak {id} cannot be restored: its branch ork/{id} is gone. Its unsaved files are still in refs/ork/wip/{id} (git show --stat {commit})"
                    )),
                    _ => err,
                }
            })?;
            let restored = engine::restore_trak(&store, &workflow, &trak)?;
            print::restored(&restored)?;
            carry_on(&store, &workflow, restored.trak, run)
        }
        Command::Status { json, all } => {
            let store = open(git);
            let listing = listing(&store, all)?;
            print::status(
                &store,
                &listing.traks,
                &listing.forecast,
                &listing.spending,
                listing.hidden,
                json,
            )
        }
        Command::Show(args) => {
            let store = open(git);
            let trak = store.resolve(args.id.as_deref())?;
            let about = about(&store, &trak)?;
            print::show(
                &store,
                &trak,
                &about.forecast,
                about.artifact.as_deref(),
                about.spend,
                args.json,
            )
        }
        Command::Log(args) => {
            let store = open(git);
            let trak = store.resolve(args.id.as_deref())?;
            let events = store.events(&trak)?;
            print::log(&events, args.json)
        }
        Command::Note { id, message, all } => {
            let workflow = Workflow::load(git.main_workdir())?;
            let store = open(git);
            let traks = match all {
                true => store
                    .list()?
                    .into_iter()
                    .filter(|t| !t.state.status.is_finished())
                    .collect(),
                false => vec![store.resolve(id.as_deref())?],
            };
            if traks.is_empty() {
                bail!("no trak is unfinished: a note would reach no one");
            }
            for trak in traks {
                print::noted(&engine::note(&store, &workflow, &trak, &message)?)?;
            }
            Ok(())
        }
        Command::Approve {
            args,
            config,
            budget,
            pick,
        } => {
            let decision = match budget.budget() {
                Some(budget) => HumanDecision::RaiseBudget(budget),
                None if config => HumanDecision::ApproveConfig,
                None if pick.is_some() => HumanDecision::Pick(pick.unwrap_or_default()),
                None => HumanDecision::Approve,
            };
            decide(open(git), args, decision)
        }
        Command::Reject {
            args,
            message,
            file,
            route_to,
        } => {
            let feedback = read_feedback(message, file)?;
            let decision = HumanDecision::Reject { feedback, route_to };
            decide(open(git), args, decision)
        }
        Command::Answer { args, message } => {
            if message.trim().is_empty() {
                bail!("the answer is empty; say what the agent should do: ork answer -m \"…\"");
            }
            decide(open(git), args, HumanDecision::Answer(message))
        }
        Command::Retry { args, allow_secret } => decide(
            open(git),
            args,
            HumanDecision::Retry {
                allow_secrets: allow_secret,
            },
        ),
        Command::Resolve { args, keep } => decide(open(git), args, HumanDecision::Resolve { keep }),
        Command::Resume(args) => act(open(git), args, Action::Resume),
        Command::Integrate(args) => act(open(git), args, Action::Integrate),
        Command::Run { jobs, watch } => {
            let store = open(git);
            crate::cli::background::run_all(&store, jobs.max(1), watch)
        }
        Command::Schedule { next, json } => {
            let store = open(git);
            let workflow = Workflow::load(store.git().main_workdir())?;
            let views = engine::schedule::views(&store, &workflow, chrono::Utc::now(), next)?;
            print::schedules(&views, json)
        }
        Command::Logs {
            id,
            stage,
            follow,
            json,
        } => {
            let store = open(git);
            let trak = store.resolve(id.as_deref())?;
            print::logs(&store, &trak, stage.as_deref(), follow, json)
        }
        Command::Hooks(HooksCommand::Install { force }) => {
            let done = ork::sync::hooks::install(&git, force)?;
            print::hooks_installed(&done)
        }
        Command::Intake => {
            let store = open(git);
            let workflow = Workflow::load(store.git().main_workdir())?;
            if !workflow.intake.is_on() {
                bail!(
                    "no tracker is configured.\n  Add [intake.github] label = \"ork\" (or [intake.command]) to .orkestra/workflow.toml; see docs/workflow.md, Intake."
                );
            }
            print::intake(&engine::intake_pass(&store, &workflow)?)
        }
        Command::Sync { remote, verbose } => {
            let store = open(git);
            let remote = ork::sync::pick_remote(store.git(), remote.as_deref())?;
            let report = ork::sync::sync(&store, &remote)?;
            print::synced(&remote, &report, verbose)?;
            // A workflow that does not load has no notify command to run, nor pull requests.
            if let Ok(workflow) = Workflow::load(store.git().main_workdir()) {
                let moved = report.joined.iter().chain(&report.fast_forwarded);
                for warning in engine::notify::conflicts_brought(&store, &workflow.notify, moved) {
                    print::warning(&warning);
                }
                for trak in engine::actions::after_sync(&store, &workflow, &mut Terminal::new())? {
                    print::next(&trak)?;
                }
            }
            if !report.not_joined.is_empty() {
                bail!(
                    "{} trak(s) could not be joined; see above",
                    report.not_joined.len()
                );
            }
            Ok(())
        }
        Command::Demo | Command::DemoAgent | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("handled before opening a repository")
        }
        Command::Ui => {
            let workflow = Workflow::load(git.main_workdir())?;
            crate::cli::ui::run(open(git), workflow)
        }
        Command::Mcp { command: None } => mcp::serve(cwd),
        Command::Mcp {
            command: Some(McpCommand::Install { client }),
        } => {
            let done = mcp::install(&git, client)?;
            print::mcp_installed(&done)
        }
        Command::Diff {
            id,
            stage,
            race,
            json,
        } => {
            let workflow = Workflow::load(git.main_workdir())?;
            let store = open(git);
            let trak = store.resolve(id.as_deref())?;
            if race {
                return print::race_diff(&store, &trak, json);
            }
            let Some(stage) = stage else {
                return print::diff(&store, &trak, None, json);
            };
            let artifact = workflow
                .recorded_stage(&trak.state.flow, &stage)
                .map(|s| s.artifact.clone())
                .with_context(|| {
                    format!(
                        "trak {} has no stage \"{stage}\"; its stages are {}",
                        trak.id,
                        trak.state.stages.join(", ")
                    )
                })?;
            print::diff(&store, &trak, Some((&stage, &artifact)), json)
        }
    }
}

/// What `ork status` lists (and the MCP server's `list_traks`).
struct Listing {
    traks: Vec<Trak>,
    forecast: engine::views::conflict_forecast::Forecast,
    spending: print::Spending,
    /// Finished traks left out (without `all`).
    hidden: usize,
}

fn listing(store: &Store, all: bool) -> Result<Listing> {
    let listed = store.list()?;
    let spending = spending(store, &listed);
    let listed_count = listed.len();
    let traks: Vec<_> = listed
        .into_iter()
        .filter(|t| all || !t.state.status.is_finished())
        .collect();
    let forecast = conflict_forecast(store, &traks);
    Ok(Listing {
        hidden: listed_count - traks.len(),
        traks,
        forecast,
        spending,
    })
}

/// What `ork show` says about a trak beyond its record (and the MCP server's `show_trak`).
struct About {
    forecast: engine::views::conflict_forecast::Forecast,
    /// The current stage's artifact name, where the workflow still names it.
    artifact: Option<String>,
    spend: Option<ork::engine::budget::SpendView>,
}

fn about(store: &Store, trak: &Trak) -> Result<About> {
    let listed = store.list()?;
    let forecast = conflict_forecast(store, &listed);
    let workflow = Workflow::load(store.git().main_workdir()).ok();
    // What a person reviews, where the workflow still names the stage's artifact.
    let artifact = workflow.as_ref().and_then(|w| {
        w.recorded_stage(&trak.state.flow, &trak.state.stage)
            .ok()
            .map(|s| s.artifact.clone())
    });
    let spend = ork::engine::budget::spend_views(workflow.as_ref(), &listed).remove(&trak.id);
    Ok(About {
        forecast,
        artifact,
        spend,
    })
}

/// What each trak spent against its budget, and the repository's day against `[budget]
/// per_day` (when the workflow loads and sets one).
fn spending(store: &Store, listed: &[Trak]) -> print::Spending {
    use ork::engine::budget;
    let workflow = Workflow::load(store.git().main_workdir()).ok();
    let per_day = workflow
        .as_ref()
        .map(|w| w.budget.per_day)
        .filter(|b| *b != Default::default());
    let today = per_day.map(|limit| {
        let day = ork::store::state::day_of(chrono::Utc::now());
        let mut spent = ork::store::event::Usage::default();
        for trak in listed {
            spent.add(&trak.state.spent_on(&day));
        }
        budget::SpendView {
            spent,
            budget: limit,
        }
    });
    print::Spending {
        traks: budget::spend_views(workflow.as_ref(), listed),
        today,
    }
}

/// The conflict forecast over `traks`; a listing still works, with a warning, without it.
fn conflict_forecast(store: &Store, traks: &[Trak]) -> engine::views::conflict_forecast::Forecast {
    engine::views::conflict_forecast::forecast(store, traks).unwrap_or_else(|err| {
        print::warning(&format!("no conflict forecast: {err:#}"));
        Default::default()
    })
}

/// Records a human decision on the chosen trak, then carries on with it.
fn decide(store: Store, args: DecisionArgs, decision: HumanDecision) -> Result<()> {
    let workflow = Workflow::load(store.git().main_workdir())?;
    let trak = pick(&store, args.id.as_deref(), Action::of(&decision))?;
    let trak = engine::decide(&store, &workflow, &trak, decision)?;
    print::decided(&trak)?;
    carry_on(&store, &workflow, trak, args.run)
}

/// `ork resume`, `ork integrate`: the action checked on the chosen trak, which then runs.
fn act(store: Store, args: DecisionArgs, action: Action) -> Result<()> {
    let workflow = Workflow::load(store.git().main_workdir())?;
    let trak = pick(&store, args.id.as_deref(), action)?;
    engine::actions::check(&trak, action)?;
    carry_on(&store, &workflow, trak, args.run)
}

/// The trak a command is about: the one named, else the one whose worktree we are in, else the
/// only one that allows `action`.
fn pick(store: &Store, query: Option<&str>, action: Action) -> Result<Trak> {
    let waiting = action.allowed_in();
    if query.is_some() {
        return store.resolve(query);
    }
    if let Ok(trak) = store.resolve(None) {
        return Ok(trak);
    }
    let candidates: Vec<Trak> = store
        .list()?
        .into_iter()
        .filter(|t| {
            waiting.contains(&t.state.status)
                && (t.state.status != Status::Running || engine::is_interrupted(store, t))
        })
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no trak is waiting for that; see `ork status`"),
        many => bail!(
            "{} traks could be meant; name one:\n  {}",
            many.len(),
            many.iter()
                .map(|t| format!("{}  {} at {}", t.id, t.state.status.as_str(), t.state.stage))
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    }
}

/// Runs what is due next for `trak`: here, in the background, or not at all.
fn carry_on(store: &Store, workflow: &Workflow, trak: Trak, run: RunArgs) -> Result<()> {
    let result = drive_or_hand_off(store, workflow, trak, run);
    // A drive shares each transition itself; a decision recorded without one is shared here.
    if workflow.sync.auto && (run.no_run || run.detach) {
        auto_sync(store);
    }
    result
}

/// With `[sync] auto = true`: share what this command recorded. A failure is only a warning:
/// the work is recorded locally and the next sync carries it.
fn auto_sync(store: &Store) {
    match engine::actions::share_recorded(store) {
        Ok((remote, report)) => {
            let _ = print::synced(&remote, &report, false);
        }
        Err(err) => print::warning(&format!(
            "auto-sync failed: {err:#}\n  run `ork sync` later"
        )),
    }
}

fn drive_or_hand_off(store: &Store, workflow: &Workflow, trak: Trak, run: RunArgs) -> Result<()> {
    if run.no_run {
        return print::next(&trak);
    }
    if run.detach {
        let log = crate::cli::background::spawn_resume(store, &trak, run.take_over)?;
        return print::detached(&trak, &log);
    }
    let mut terminal = Terminal::new();
    let mut engine = Engine {
        store,
        workflow,
        reporter: &mut terminal,
        take_over: run.take_over,
        race_spend: None,
    };
    let trak = engine.drive(trak)?;
    print::next(&trak)?;
    match engine.continue_parent(&trak)? {
        Continuation::Nothing => Ok(()),
        Continuation::ParentWaits { parent, open } => print::parent_waits(&parent, open),
        Continuation::ParentDriven(parent) => print::next(&parent),
    }
}

/// The description from `-d TEXT`, or standard input for `-d -`.
fn read_description(arg: Option<String>) -> Result<String> {
    match arg.as_deref() {
        None => Ok(String::new()),
        Some("-") => read_stdin("the description"),
        Some(text) => Ok(text.to_string()),
    }
}

/// Rejection feedback from `-m` or `-F`; it must say something.
fn read_feedback(message: Option<String>, file: Option<PathBuf>) -> Result<String> {
    let text = match (message, file) {
        (Some(text), _) => text,
        (None, Some(path)) if path.as_os_str() == "-" => read_stdin("the feedback")?,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("reading the feedback from {}", path.display()))?,
        (None, None) => bail!("say what must change: ork reject -m \"…\" (or -F FILE)"),
    };
    if text.trim().is_empty() {
        bail!("the feedback is empty; say what must change: ork reject -m \"…\"");
    }
    Ok(text)
}

fn read_stdin(what: &str) -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading {what} from standard input"))?;
    Ok(text)
}
