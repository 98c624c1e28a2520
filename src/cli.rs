//! Argument parsing and dispatch. Each command opens the repository once, calls the library,
//! and hands the result to [`crate::print`].

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use ork::engine::{self, TrakRequest};
use ork::git::Git;
use ork::init;
use ork::store::Store;
use ork::workflow::Workflow;

use crate::print;

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

#[derive(Subcommand)]
enum Command {
    /// Write the default .orkestra/ files (workflow, prompts, checks) into this repository.
    Init {
        /// Rewrite files that differ from the defaults.
        #[arg(long)]
        force: bool,
    },
    /// Create and manage traks.
    #[command(subcommand)]
    Trak(TrakCommand),
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
}

#[derive(Subcommand)]
enum TrakCommand {
    /// Create a trak: a branch ork/<id> and a worktree, queued at its flow's first stage.
    New {
        /// The trak's title; its id is made from it.
        title: String,
        /// The flow to run (see .orkestra/workflow.toml); default: the workflow's default_flow.
        #[arg(long)]
        flow: Option<String>,
        /// The branch to start from and merge into; default: the branch checked out in the
        /// main worktree.
        #[arg(long)]
        base: Option<String>,
        /// A longer description; `-` reads it from standard input.
        #[arg(short = 'd', long = "description", value_name = "TEXT")]
        description: Option<String>,
        /// Create the trak without running its first stage.
        #[arg(long)]
        no_run: bool,
    },
}

#[derive(Args)]
struct IdArgs {
    /// The trak's id or a unique prefix of it; default: the trak whose worktree you are in.
    id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run() -> Result<()> {
    let cli = Cli::parse();
    let cwd = match cli.directory {
        Some(dir) => dir,
        None => std::env::current_dir().context("reading the current directory")?,
    };
    let git = Git::discover(&cwd)?;
    match cli.command {
        Command::Init { force } => init(&git, force),
        Command::Trak(TrakCommand::New {
            title,
            flow,
            base,
            description,
            no_run: _,
        }) => {
            let description = read_description(description)?;
            // Refuse a repository with no commit before complaining about a missing workflow.
            git.main_branch()?;
            let workflow = Workflow::load(git.main_workdir())?;
            let store = Store::new(git);
            let trak = engine::new_trak(
                &store,
                &workflow,
                &TrakRequest {
                    title: &title,
                    description: &description,
                    flow: flow.as_deref(),
                    base: base.as_deref(),
                },
            )?;
            print::created(&store, &trak)
        }
        Command::Status { json, all } => {
            let store = Store::new(git);
            let traks: Vec<_> = store
                .list()?
                .into_iter()
                .filter(|t| all || !t.state.status.is_finished())
                .collect();
            print::status(&store, &traks, json)
        }
        Command::Show(args) => {
            let store = Store::new(git);
            let trak = store.resolve(args.id.as_deref())?;
            print::show(&store, &trak, args.json)
        }
        Command::Log(args) => {
            let store = Store::new(git);
            let trak = store.resolve(args.id.as_deref())?;
            let events = store.events(&trak)?;
            print::log(&events, args.json)
        }
    }
}

fn init(git: &Git, force: bool) -> Result<()> {
    // Refuse an unborn repository before writing anything.
    git.main_branch()?;
    let report = init::write_defaults(git.main_workdir(), force)?;
    print::init_report(&report)
}

/// The description from `-d TEXT`, or standard input for `-d -`.
fn read_description(arg: Option<String>) -> Result<String> {
    match arg.as_deref() {
        None => Ok(String::new()),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the description from standard input")?;
            Ok(text)
        }
        Some(text) => Ok(text.to_string()),
    }
}
