//! `ork mcp install <client>`: ork added to an MCP client's configuration as a stdio server
//! (`<ork> mcp`), merged with what the file holds, idempotent. Claude Code and OpenCode read a
//! file of the project (`.mcp.json`, `opencode.json`); Codex its own `config.toml`
//! (`$CODEX_HOME`, else `~/.codex`).
//!
//! JSON goes through serde_json: every other key is kept (their order may change). Codex's
//! TOML is appended to as text when ork is not there yet, so the user's comments and layout
//! stay; only an entry to replace, or a file where an appended table would not read
//! (`mcp_servers` written inline), is rewritten through the `toml` crate the crate already
//! uses, and the file's comments are then lost, which the command says (toml_edit would keep
//! them, for one more dependency and a case that is rare).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use ork::store::git::Git;

/// The MCP clients `ork mcp install` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    Claude,
    Codex,
    Opencode,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Claude => "Claude Code",
            Client::Codex => "Codex",
            Client::Opencode => "OpenCode",
        }
    }

    /// Its name on the command line (`ork mcp install codex`).
    pub fn arg(self) -> &'static str {
        match self {
            Client::Claude => "claude",
            Client::Codex => "codex",
            Client::Opencode => "opencode",
        }
    }
}

/// The file `ork mcp install client` writes.
pub fn client_file(git: &Git, client: Client) -> Result<PathBuf> {
    Ok(match client {
        Client::Claude => git.main_workdir().join(".mcp.json"),
        Client::Opencode => git.main_workdir().join("opencode.json"),
        Client::Codex => codex_home()?.join("config.toml"),
    })
}

/// What an install did to the client's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The file did not exist.
    Created,
    /// ork was added beside what the file held.
    Added,
    /// ork's entry was there and different: replaced.
    Replaced,
    /// ork's entry was already as it should be.
    Unchanged,
}

pub struct Installed {
    pub client: Client,
    pub path: PathBuf,
    pub change: Change,
    /// The entry for ork, as the file holds it.
    pub entry: String,
    /// Something the user should know (comments not kept).
    pub note: Option<String>,
}

/// Adds `<this ork> mcp` to `client`'s configuration.
pub fn install(git: &Git, client: Client) -> Result<Installed> {
    let exe = std::env::current_exe().context("finding the ork executable")?;
    let exe = exe.canonicalize().unwrap_or(exe).display().to_string();
    match client {
        Client::Claude => {
            let path = client_file(git, client)?;
            let entry = json!({ "command": exe, "args": ["mcp"] });
            json_install(client, path, "mcpServers", entry, json!({}))
        }
        Client::Opencode => {
            let path = client_file(git, client)?;
            if !path.exists() && git.main_workdir().join("opencode.jsonc").exists() {
                bail!(
                    "this project configures OpenCode in opencode.jsonc, which ork does not rewrite (its comments would be lost).\n  Add to its \"mcp\" object:\n  \"ork\": {{ \"type\": \"local\", \"command\": [\"{exe}\", \"mcp\"], \"enabled\": true }}"
                );
            }
            let entry = json!({ "type": "local", "command": [exe, "mcp"], "enabled": true });
            let empty = json!({ "$schema": "https://opencode.ai/config.json" });
            json_install(client, path, "mcp", entry, empty)
        }
        Client::Codex => codex_install(&client_file(git, client)?, &exe),
    }
}

/// Where Codex keeps its configuration: `$CODEX_HOME`, else `~/.codex`.
fn codex_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither CODEX_HOME nor HOME is set: where is Codex's config.toml?")?;
    Ok(Path::new(&home).join(".codex"))
}

/// `key.ork = entry` in the JSON object at `path` (made from `empty` if missing).
fn json_install(
    client: Client,
    path: PathBuf,
    key: &str,
    entry: Value,
    empty: Value,
) -> Result<Installed> {
    let existed = path.exists();
    let mut config: Value = if existed {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if text.trim().is_empty() {
            empty
        } else {
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not valid JSON; fix it first (nothing was changed)",
                    path.display()
                )
            })?
        }
    } else {
        empty
    };
    let Some(object) = config.as_object_mut() else {
        bail!(
            "{} does not hold a JSON object; nothing was changed",
            path.display()
        );
    };
    let servers = object.entry(key).or_insert_with(|| json!({}));
    let Some(servers) = servers.as_object_mut() else {
        bail!(
            "\"{key}\" in {} is not an object; nothing was changed",
            path.display()
        );
    };
    let shown = serde_json::to_string(&entry)?;
    let change = match servers.get("ork") {
        Some(old) if *old == entry => Change::Unchanged,
        Some(_) => Change::Replaced,
        None if existed => Change::Added,
        None => Change::Created,
    };
    if change != Change::Unchanged {
        servers.insert("ork".to_string(), entry);
        let text = serde_json::to_string_pretty(&config)? + "\n";
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(Installed {
        client,
        path,
        change,
        entry: format!("\"{key}\": {{ \"ork\": {shown} }}"),
        note: None,
    })
}

/// `[mcp_servers.ork]` in Codex's `config.toml`.
fn codex_install(path: &Path, exe: &str) -> Result<Installed> {
    let client = Client::Codex;
    let mut entry = toml::Table::new();
    entry.insert("command".into(), toml::Value::String(exe.to_string()));
    entry.insert(
        "args".into(),
        toml::Value::Array(vec![toml::Value::String("mcp".into())]),
    );
    let block = format!(
        "[mcp_servers.ork]\ncommand = {}\nargs = [\"mcp\"]\n",
        toml::Value::String(exe.to_string())
    );
    let done = |change, note| Installed {
        client,
        path: path.to_path_buf(),
        change,
        entry: block.trim_end().to_string(),
        note,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(path, &block).with_context(|| format!("writing {}", path.display()))?;
            return Ok(done(Change::Created, None));
        }
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let mut config: toml::Table = text.parse().with_context(|| {
        format!(
            "{} is not valid TOML; fix it first (nothing was changed)",
            path.display()
        )
    })?;
    let servers = config.get("mcp_servers");
    let old = servers.and_then(|s| s.get("ork"));
    if old.and_then(|o| o.as_table()) == Some(&entry) {
        return Ok(done(Change::Unchanged, None));
    }
    if old.is_none() {
        // Appended as text: the file stays as the user wrote it, if the result still reads.
        let mut appended = text.clone();
        if !appended.is_empty() && !appended.ends_with('\n') {
            appended.push('\n');
        }
        if !appended.trim().is_empty() {
            appended.push('\n');
        }
        appended.push_str(&block);
        let reads = appended
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("mcp_servers")?.get("ork")?.as_table().cloned())
            == Some(entry.clone());
        if reads {
            std::fs::write(path, appended)
                .with_context(|| format!("writing {}", path.display()))?;
            return Ok(done(Change::Added, None));
        }
    }
    let change = if old.is_some() {
        Change::Replaced
    } else {
        Change::Added
    };
    let servers = config
        .entry("mcp_servers")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(servers) = servers.as_table_mut() else {
        bail!(
            "mcp_servers in {} is not a table; nothing was changed",
            path.display()
        );
    };
    servers.insert("ork".into(), toml::Value::Table(entry));
    std::fs::write(path, toml::to_string(&config)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let comments = text.lines().any(|l| l.trim_start().starts_with('#'));
    let note = comments
        .then(|| "the file was rewritten to change it: its comments were not kept".to_string());
    Ok(done(change, note))
}
