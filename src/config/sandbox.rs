//! The `[sandbox]` table: how far the processes ork starts for a trak (agents, gates, the
//! worktree setup) are confined (docs/security.md).
//!
//! ```toml
//! [sandbox]
//! mode = "enforce"                 # "enforce" (the default) | "report" | "off"
//! writable = ["~/.cargo/registry"] # folders agents and gates may write besides their own
//! setup_writable = ["~/.npm"]      # the same, for the [worktree] setup command only
//! pass_env = ["AWS_PROFILE"]       # credentials passed on although ork would drop them
//! ```

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::workflow::Source;

/// How a trak's processes are confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// The kernel refuses every write outside the allowed folders (Linux Landlock).
    #[default]
    Enforce,
    /// Nothing is refused; credentials are still dropped and a run gets its own `TMPDIR`.
    /// What ork checks after every run (the trak's branch, the checkouts around it) it checks
    /// as in every mode.
    Report,
    /// Unconfined, with the environment as ork has it; the checks after a run still run.
    Off,
}

impl SandboxMode {
    pub fn name(self) -> &'static str {
        match self {
            SandboxMode::Enforce => "enforce",
            SandboxMode::Report => "report",
            SandboxMode::Off => "off",
        }
    }
}

/// The validated `[sandbox]` table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SandboxSettings {
    pub mode: SandboxMode,
    /// Extra folders every confined process may write (absolute; `~/` already expanded).
    pub writable: Vec<PathBuf>,
    /// Extra folders the `[worktree] setup` command may write.
    pub setup_writable: Vec<PathBuf>,
    /// Environment variables ork would drop that are passed on all the same.
    pub pass_env: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSandbox {
    #[serde(default)]
    mode: Option<SandboxMode>,
    #[serde(default)]
    writable: Vec<Spanned<String>>,
    #[serde(default)]
    setup_writable: Vec<Spanned<String>>,
    #[serde(default)]
    pass_env: Vec<String>,
}

pub(super) fn validate(raw: RawSandbox, src: &Source, errors: &mut Vec<String>) -> SandboxSettings {
    let mut folders = |list: Vec<Spanned<String>>| -> Vec<PathBuf> {
        list.into_iter()
            .filter_map(|entry| match expand(entry.get_ref()) {
                Some(path) => Some(path),
                None => {
                    errors.push(src.message(
                        entry.span(),
                        &format!("[sandbox] folder \"{}\" is not absolute", entry.get_ref()),
                        "write an absolute path (\"/opt/cache\") or one under your home (\"~/.cache/pip\")",
                    ));
                    None
                }
            })
            .collect()
    };
    SandboxSettings {
        mode: raw.mode.unwrap_or_default(),
        writable: folders(raw.writable),
        setup_writable: folders(raw.setup_writable),
        pass_env: raw.pass_env,
    }
}

/// `path` made absolute: `~/x` is under `$HOME`; a relative path has no meaning here (relative
/// to which worktree?) and is refused.
fn expand(path: &str) -> Option<PathBuf> {
    if let Some(rest) = path.strip_prefix("~/") {
        return std::env::var_os("HOME").map(|home| PathBuf::from(home).join(rest));
    }
    let path = PathBuf::from(path);
    path.is_absolute().then_some(path)
}
