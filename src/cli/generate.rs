//! `ork completions SHELL` and `ork man`: generated from the same clap definitions the parser
//! uses, so they cannot drift from the real flags.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Writes the completion script for `shell` to standard output.
pub fn completions(shell: Shell) -> Result<()> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "ork", &mut out);
    out.flush().context("writing the completion script")
}

/// Writes a man page (roff) to standard output: `ork`'s own (the synopsis, the global options,
/// every command with its summary), or with `command` the page `ork-<command>(1)` that the
/// first one refers to.
pub fn man(command: Option<&str>) -> Result<()> {
    let top = Cli::command();
    let page = match command {
        None => top,
        Some(name) => {
            let sub = top
                .find_subcommand(name)
                .with_context(|| format!("ork has no command {name:?}; `ork --help` lists them"))?;
            // Named like git's pages (ork-approve), invoked as typed (ork approve).
            let invoked = format!("ork {}", sub.get_name());
            sub.clone()
                .name(format!("ork-{}", sub.get_name()))
                .bin_name(invoked)
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .context("rendering the man page")?;
    let mut out = std::io::stdout().lock();
    out.write_all(&title_first(&roff))?;
    out.flush().context("writing the man page")
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
