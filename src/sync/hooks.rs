//! Git hooks ork ships (`hooks/` in its source) and `ork hooks install`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::store::git::Git;

/// Every hook: its name and its script.
const HOOKS: &[(&str, &str)] = &[("pre-push", include_str!("../../hooks/pre-push"))];

/// What installing one hook did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    Created(PathBuf),
    Unchanged(PathBuf),
    Replaced(PathBuf),
}

/// Installs ork's hooks where git looks for them (honouring `core.hooksPath`). A different hook
/// of the same name is the user's: it is kept unless `force`.
pub fn install(git: &Git, force: bool) -> Result<Vec<Installed>> {
    let dir = git.hooks_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut done = Vec::new();
    for (name, script) in HOOKS {
        let path = dir.join(name);
        let outcome = match std::fs::read_to_string(&path) {
            Ok(existing) if existing == *script => Installed::Unchanged(path),
            Ok(_) if !force => bail!(
                "{} already exists and is not ork's.\n  Add ork's lines to it by hand (see hooks/{name} in ork's source), or replace it: ork hooks install --force",
                path.display()
            ),
            Ok(_) => {
                write_executable(&path, script)?;
                Installed::Replaced(path)
            }
            Err(_) => {
                write_executable(&path, script)?;
                Installed::Created(path)
            }
        };
        done.push(outcome);
    }
    Ok(done)
}

/// Each of ork's hooks and whether it is installed as ork ships it.
pub fn installed(git: &Git) -> Result<Vec<(&'static str, bool)>> {
    let dir = git.hooks_dir()?;
    Ok(HOOKS
        .iter()
        .map(|(name, script)| {
            let current = std::fs::read_to_string(dir.join(name)).ok();
            (*name, current.as_deref() == Some(*script))
        })
        .collect())
}

/// The hooks in git's hooks folder that are not ork's (git's `*.sample` files aside): they
/// run under the user's own git commands, never under ork's, whose git runs no hook. An
/// agent with a shell can plant one; `ork doctor` lists them.
pub fn foreign(git: &Git) -> Result<Vec<String>> {
    let dir = git.hooks_dir()?;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".sample"))
        .filter(|name| {
            let ours = HOOKS.iter().find(|(hook, _)| hook == name);
            ours.is_none_or(|(_, script)| {
                std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(*script)
            })
        })
        .collect();
    names.sort();
    Ok(names)
}

fn write_executable(path: &std::path::Path, script: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, script).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}
