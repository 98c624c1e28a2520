//! `ork completions SHELL` and `ork man`: generated from the same clap definitions the parser
//! uses, so they cannot drift from the real flags.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::{Command, CommandFactory};
use clap_complete::Shell;

use super::Cli;

/// Writes the completion script for `shell` to standard output.
pub fn completions(shell: Shell) -> Result<()> {
    let mut command = without_hidden(&Cli::command());
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "ork", &mut out);
    out.flush().context("writing the completion script")
}

/// `command` without its hidden subcommands, at every level: clap_complete's scripts offer
/// them too (`demo-agent` is `ork demo`'s, not a person's). clap cannot remove a subcommand, so
/// a command that has hidden ones is built again from its parts.
fn without_hidden(command: &Command) -> Command {
    let has_hidden = |c: &Command| c.get_subcommands().any(Command::is_hide_set);
    if !has_hidden(command) && command.get_subcommands().all(|s| !has_hidden(s)) {
        return command.clone();
    }
    let mut clean = Command::new(command.get_name().to_string())
        .args(command.get_arguments().cloned())
        .groups(command.get_groups().cloned())
        .subcommand_required(command.is_subcommand_required_set())
        .subcommands(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(without_hidden),
        );
    if let Some(about) = command.get_about() {
        clean = clean.about(about.clone());
    }
    if let Some(version) = command.get_version() {
        clean = clean.version(version.to_string());
    }
    clean
}

/// Writes a man page (roff) to standard output: `ork`'s own (the synopsis, the global options,
/// every command with its summary), or with `command` the page `ork-<command>(1)` that the
/// first one refers to (`trak new` or `trak-new` for a command of a command).
pub fn man(command: Option<&str>) -> Result<()> {
    let pages = pages();
    let page = match command {
        None => &pages[0],
        Some(name) => {
            let wanted = format!(
                "ork-{}",
                name.split_whitespace().collect::<Vec<_>>().join("-")
            );
            pages
                .iter()
                .find(|p| p.name == wanted)
                .with_context(|| format!("ork has no command {name:?}; `ork --help` lists them"))?
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&page.render(&pages)?)?;
    out.flush().context("writing the man page")
}

/// `ork man --dir DIR`: every page, one per command (`ork.1`, `ork-approve.1`,
/// `ork-trak-new.1`, …), written into `dir` (made if missing). Returns how many.
pub fn man_pages(dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let pages = pages();
    for page in &pages {
        let path = dir.join(format!("{}.1", page.name));
        std::fs::write(&path, page.render(&pages)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(pages.len())
}

/// One man page: `ork-trak-new`, for the command invoked as `ork trak new`.
struct Page {
    name: String,
    command: Command,
}

/// `ork`'s page, then one for every command a person types, depth first (no hidden ones,
/// no `help`), each with the global options (`-C`) that clap carries down.
fn pages() -> Vec<Page> {
    fn walk(command: &Command, name: &str, invoked: &str, pages: &mut Vec<Page>) {
        for sub in command
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let name = format!("{name}-{}", sub.get_name());
            let invoked = format!("{invoked} {}", sub.get_name());
            // Named like git's pages (ork-approve), invoked as typed (ork approve).
            let page = sub
                .clone()
                .name(name.clone())
                .bin_name(invoked.clone())
                .version(env!("CARGO_PKG_VERSION"));
            pages.push(Page {
                name: name.clone(),
                command: page,
            });
            walk(sub, &name, &invoked, pages);
        }
    }
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    let mut pages = vec![Page {
        name: "ork".to_string(),
        command: top.clone(),
    }];
    walk(&top, "ork", "ork", &mut pages);
    pages
}

impl Page {
    /// The page in roff: clap_mangen's, its synopsis with the options' values (`-C DIR`,
    /// which clap_mangen leaves out), and a SEE ALSO naming the pages around it: from `ork`'s
    /// own every other page, from a command's `ork(1)` and its own commands' pages.
    fn render(&self, pages: &[Page]) -> Result<Vec<u8>> {
        let mut roff = Vec::new();
        clap_mangen::Man::new(self.command.clone())
            .render(&mut roff)
            .context("rendering the man page")?;
        let text = String::from_utf8_lossy(&title_first(&roff)).into_owned();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if let Some(at) = lines.iter().position(|l| l == ".SH SYNOPSIS") {
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.starts_with(".SH "))
                .map_or(lines.len(), |n| at + 1 + n);
            lines.splice(at + 1..end, [synopsis(&self.command)]);
        }
        let related: Vec<&str> = if self.name == "ork" {
            pages[1..].iter().map(|p| p.name.as_str()).collect()
        } else {
            let prefix = format!("{}-", self.name);
            std::iter::once("ork")
                .chain(
                    pages
                        .iter()
                        .map(|p| p.name.as_str())
                        .filter(|n| n.starts_with(&prefix)),
                )
                .collect()
        };
        lines.push(".SH \"SEE ALSO\"".to_string());
        lines.push(
            related
                .iter()
                .map(|n| format!("\\fB{}\\fR(1)", escape(n)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let mut out = lines.join("\n");
        out.push('\n');
        Ok(out.into_bytes())
    }
}

/// The SYNOPSIS line: the command as typed, then each option as `[-s|--long VALUE]` (no
/// brackets when it is required), the positionals (`<TITLE>`, `[ID]`), and `<COMMAND>` for a
/// command of commands.
fn synopsis(command: &Command) -> String {
    let name = command.get_bin_name().unwrap_or_else(|| command.get_name());
    let mut line = vec![format!("\\fB{}\\fR", escape(name))];
    let value = |arg: &clap::Arg| {
        let takes = arg.get_num_args().is_some_and(|n| n.takes_values());
        takes.then(|| match arg.get_value_names() {
            Some(names) => names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            None => arg.get_id().as_str().to_uppercase(),
        })
    };
    for arg in command
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
    {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(short), Some(long)) => {
                format!("\\fB\\-{short}\\fR|\\fB\\-\\-{}\\fR", escape(long))
            }
            (Some(short), None) => format!("\\fB\\-{short}\\fR"),
            (None, Some(long)) => format!("\\fB\\-\\-{}\\fR", escape(long)),
            (None, None) => continue,
        };
        let flag = match value(arg) {
            Some(value) => format!("{flag} \\fI{}\\fR", escape(&value)),
            None => flag,
        };
        line.push(if arg.is_required_set() {
            flag
        } else {
            format!("[{flag}]")
        });
    }
    for arg in command.get_positionals().filter(|a| !a.is_hide_set()) {
        let value = value(arg).unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        let value = format!("\\fI{}\\fR", escape(&value));
        line.push(if arg.is_required_set() {
            format!("<{value}>")
        } else {
            format!("[{value}]")
        });
    }
    if command.get_subcommands().any(|s| !s.is_hide_set()) {
        line.push("<\\fICOMMAND\\fR>".to_string());
    }
    line.join(" ")
}

/// Text for roff: its backslashes and dashes escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('-', "\\-")
}

/// The page with its `.TH` line first, as man pages begin (clap_mangen puts its
/// apostrophe-string preamble before it; that preamble only has to come before its first use).
fn title_first(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines.iter().position(|l| l.starts_with(".TH ")) else {
        return roff.to_vec();
    };
    let mut ordered = vec![lines[at]];
    ordered.extend(
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, l)| *l),
    );
    let mut out = ordered.join("\n");
    out.push('\n');
    out.into_bytes()
}
