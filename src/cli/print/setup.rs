//! What `ork init`, `ork doctor` and `ork hooks install` print.

use super::*;

pub fn init_report(report: &[(&str, FileAction)]) -> Result<()> {
    let changed = report
        .iter()
        .filter(|(_, a)| matches!(a, FileAction::Created | FileAction::Rewritten))
        .count();
    for (path, action) in report {
        let what = match action {
            FileAction::Created => "created  ",
            FileAction::Rewritten => "rewrote  ",
            FileAction::Unchanged => "unchanged",
            FileAction::Kept => "kept     ",
        };
        let note = if *action == FileAction::Kept {
            "  (differs from the default; --force rewrites it)"
        } else {
            ""
        };
        outln!("{what} {path}{note}");
    }
    if changed == 0 {
        outln!("Nothing to do: .orkestra/ is already set up.");
    } else {
        outln!(
            "\nWrote {changed} file(s). Review .orkestra/workflow.toml, commit .orkestra/, then:\n  ork trak new \"What to do\""
        );
    }
    Ok(())
}

/// `ork doctor`: one line per fact, then the problems and warnings.
pub fn doctor(
    report: &ork::engine::views::doctor::Report,
    mcp: &[crate::cli::mcp::Place],
    json: bool,
) -> Result<()> {
    if json {
        let mut value = serde_json::to_value(report)?;
        value["mcp"] = serde_json::to_value(mcp)?;
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let found = |ok: bool| if ok { "ok     " } else { "missing" };
    let git = &report.git;
    outln!(
        "{} git       {}",
        found(git.version.is_some()),
        git.version.as_deref().unwrap_or("not found")
    );
    let identity = match (&git.user_name, &git.user_email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        _ => "not set (ork signs as ork <ork@localhost>)".to_string(),
    };
    outln!(
        "{} identity  {identity}",
        found(git.user_name.is_some() && git.user_email.is_some())
    );
    for agent in &report.agents {
        let place = match (&agent.path, &agent.version) {
            (Some(path), Some(version)) => format!("{} ({version})", path.display()),
            (Some(path), None) => path.display().to_string(),
            (None, _) => format!("{} not found", agent.program),
        };
        outln!(
            "{} agent     {} ({}): {place}; used by {}",
            found(agent.path.is_some()),
            agent.name,
            agent.kind,
            agent.stages.join(", ")
        );
        if let Some(login) = &agent.login {
            let (mark, what) = match (login.state, &login.fix) {
                ("found", _) => ("ok     ", format!("{} ({})", login.detail, login.by)),
                ("missing", Some(fix)) => ("missing", format!("{}; {fix}", login.detail)),
                _ => ("-      ", format!("not checked: {}", login.detail)),
            };
            outln!("{mark} login     {}: {what}", agent.name);
        }
    }
    let sandbox = &report.sandbox;
    outln!(
        "{} sandbox   {}: {}",
        if sandbox.enforced {
            "ok     "
        } else {
            "-      "
        },
        sandbox.mode,
        sandbox.support
    );
    if report.remotes.is_empty() {
        outln!("-       remotes   none (ork works alone; `ork sync` needs one)");
    }
    for remote in &report.remotes {
        let what = if remote.refspecs {
            "fetches ork's notes and logs"
        } else {
            "lacks ork's fetch refspecs"
        };
        outln!(
            "{} remote    {}: {what}",
            found(remote.refspecs),
            remote.name
        );
    }
    for hook in &report.hooks {
        let foreign = report.foreign_hooks.contains(&hook.name);
        let (mark, what) = match (hook.installed, report.remotes.is_empty()) {
            (true, _) => ("ok     ", "installed".to_string()),
            (false, _) if foreign => (
                "-      ",
                "not ork's (another hook of that name is there)".to_string(),
            ),
            (false, true) => ("-      ", "not installed (only needed to push)".to_string()),
            (false, false) => ("missing", "not installed".to_string()),
        };
        outln!("{mark} hook      {}: {what}", hook.name);
    }
    doctor_mcp(mcp)?;
    for warning in &report.warnings {
        outln!("\nwarning: {warning}");
    }
    for problem in &report.problems {
        outln!("\nproblem: {problem}");
    }
    if report.ok() {
        outln!("\nReady: this machine has what the workflow needs.");
    }
    Ok(())
}

/// Where ork is an MCP server: each client's file, and the command its entry runs.
fn doctor_mcp(places: &[crate::cli::mcp::Place]) -> Result<()> {
    for place in places {
        let path = place.path.display();
        let (mark, what) = match (&place.command, &place.error) {
            (_, Some(error)) => ("-      ", format!("{path}: {error}")),
            (Some(argv), None) => {
                let whose = if place.this_ork {
                    ""
                } else {
                    " (not this ork)"
                };
                ("ok     ", format!("{path} runs {}{whose}", argv.join(" ")))
            }
            (None, None) => (
                "-      ",
                format!(
                    "not in {path} (`ork mcp install {}` adds it)",
                    place.install
                ),
            ),
        };
        outln!("{mark} mcp       {}: {}", place.client, printable(&what));
    }
    Ok(())
}

/// Which agent CLI `ork init`'s stages use, and how to install Claude Code when none was found.
/// Which agent the written workflow's stages use: `chosen` with `--agent`, else the CLI
/// `found` on PATH, else the default.
pub fn init_agent(
    chosen: Option<&str>,
    found: Option<&(AgentKind, std::path::PathBuf)>,
) -> Result<()> {
    if let Some(agent) = chosen {
        outln!("The stages use agent \"{agent}\" (default_agent in .orkestra/workflow.toml).");
        return Ok(());
    }
    match found {
        Some((kind, path)) => {
            let cli = ork::engine::process::runner::cli(*kind).expect("a CLI kind");
            outln!(
                "The stages use agent \"{}\": {} found at {}.",
                kind_name(*kind),
                cli.name,
                path.display()
            );
        }
        None => {
            let cli = ork::agent::claude::CLI;
            outln!(
                "No agent CLI found on PATH (claude, codex, opencode): the stages use agent \"{}\".\n  Install {}: {}",
                init::DEFAULT_AGENT,
                cli.name,
                cli.install
            );
        }
    }
    Ok(())
}

pub fn hooks_installed(done: &[ork::sync::hooks::Installed]) -> Result<()> {
    use ork::sync::hooks::Installed;
    for outcome in done {
        match outcome {
            Installed::Created(path) => outln!("installed {}", path.display()),
            Installed::Replaced(path) => outln!("replaced  {}", path.display()),
            Installed::Unchanged(path) => outln!("unchanged {} (already ork's)", path.display()),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Colour: on a terminal only, and never with NO_COLOR set (https://no-color.org)
// ---------------------------------------------------------------------------------------------

/// `ork mcp install`: what changed in the client's file.
pub fn mcp_installed(done: &crate::cli::mcp::Installed) -> Result<()> {
    use crate::cli::mcp::Change;
    let path = done.path.display();
    let client = done.client.name();
    match done.change {
        Change::Created => outln!("created   {path}: {client} runs ork as an MCP server"),
        Change::Added => outln!("added     ork to {path}: {client} runs it as an MCP server"),
        Change::Replaced => outln!("replaced  ork's entry in {path} (it ran another command)"),
        Change::Unchanged => outln!("unchanged {path}: ork is already there"),
    }
    outln!("  {}", done.entry.replace('\n', "\n  "));
    if let Some(note) = &done.note {
        outln!("  note: {note}");
    }
    if done.change != Change::Unchanged {
        outln!("{client} starts `ork mcp` when it next starts (docs/mcp.md says what it offers).");
    }
    Ok(())
}
