//! Where ork is configured as an MCP server, for `ork doctor`: each client's file that
//! `ork mcp install` writes, read without changing it, and the command its `ork` entry runs.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use ork::store::git::Git;

use super::install::{Client, client_file};

/// One client's file, and what it says about ork.
#[derive(Debug, Serialize)]
pub struct Place {
    /// "Claude Code", "Codex", "OpenCode".
    pub client: &'static str,
    /// `ork mcp install`'s name for it.
    pub install: &'static str,
    pub path: PathBuf,
    /// The command its `ork` entry runs (program and arguments), if it has one.
    pub command: Option<Vec<String>>,
    /// Whether that program is this `ork` (the same file).
    pub this_ork: bool,
    /// Why the file could not be read (it exists and does not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every client's file, in `ork mcp install`'s order.
pub fn places(git: &Git) -> Vec<Place> {
    let this = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok());
    [Client::Claude, Client::Codex, Client::Opencode]
        .into_iter()
        .filter_map(|client| Some((client, client_file(git, client).ok()?)))
        .map(|(client, path)| {
            let (command, error) = match read_entry(client, &path) {
                Ok(command) => (command, None),
                Err(error) => (None, Some(error)),
            };
            let this_ork = command
                .as_ref()
                .and_then(|argv| argv.first())
                .and_then(|program| Path::new(program).canonicalize().ok())
                .is_some_and(|program| Some(program) == this);
            Place {
                client: client.name(),
                install: client.arg(),
                path,
                command,
                this_ork,
                error,
            }
        })
        .collect()
}

/// The command of the `ork` entry in `client`'s file at `path`; `None` when the file or the
/// entry is missing, an error when the file does not parse.
fn read_entry(client: Client, path: &Path) -> Result<Option<Vec<String>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read it: {err}")),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    match client {
        Client::Claude | Client::Opencode => {
            let config: Value =
                serde_json::from_str(&text).map_err(|e| format!("it is not valid JSON: {e}"))?;
            Ok(match client {
                Client::Claude => config["mcpServers"]["ork"]["command"]
                    .as_str()
                    .map(|program| {
                        let mut argv = vec![program.to_string()];
                        argv.extend(strings(&config["mcpServers"]["ork"]["args"]));
                        argv
                    }),
                _ => Some(strings(&config["mcp"]["ork"]["command"])).filter(|c| !c.is_empty()),
            })
        }
        Client::Codex => {
            let config: toml::Table = text
                .parse()
                .map_err(|e| format!("it is not valid TOML: {e}"))?;
            let entry = config.get("mcp_servers").and_then(|s| s.get("ork"));
            Ok(entry
                .and_then(|e| e.get("command")?.as_str())
                .map(|program| {
                    let mut argv = vec![program.to_string()];
                    let args = entry.and_then(|e| e.get("args")?.as_array().cloned());
                    argv.extend(
                        args.into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().map(str::to_string)),
                    );
                    argv
                }))
        }
    }
}
