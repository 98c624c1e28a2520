//! Remotes: their names, fetch refspecs and a branch's upstream; fetch (tried again when it
//! lost a lock race) and atomic push (never forced; leases for refs moved in place).

use anyhow::{Context, Result, bail};
use gix::bstr::ByteSlice;

use super::command::git_command;
use super::{Git, Oid};

impl Git {
    /// The names of the configured remotes.
    pub fn remote_names(&self) -> Vec<String> {
        self.repo
            .remote_names()
            .into_iter()
            .map(|name| name.to_string())
            .collect()
    }

    /// The remote that local branch `branch` tracks (`branch.<name>.remote`), if any.
    pub fn upstream_remote(&self, branch: &str) -> Option<String> {
        let config = self.repo.config_snapshot();
        let remote = config.string(format!("branch.{branch}.remote").as_str())?;
        let remote = remote.to_str_lossy().into_owned();
        // "." tracks a local branch: there is no remote to land on.
        (remote != ".").then_some(remote)
    }

    /// Adds `refspec` to `remote`'s fetch refspecs unless it is there already.
    pub fn ensure_fetch_refspec(&self, remote: &str, refspec: &str) -> Result<bool> {
        if self.fetch_refspecs(remote)?.iter().any(|l| l == refspec) {
            return Ok(false);
        }
        let key = format!("remote.{remote}.fetch");
        self.run(&self.main_workdir, &["config", "--add", &key, refspec])?;
        Ok(true)
    }

    /// `remote`'s configured fetch refspecs.
    pub fn fetch_refspecs(&self, remote: &str) -> Result<Vec<String>> {
        let key = format!("remote.{remote}.fetch");
        let current = git_command()
            .arg("-C")
            .arg(&self.main_workdir)
            .args(["config", "--get-all", &key])
            .output()
            .context("reading the remote's fetch refspecs")?;
        Ok(String::from_utf8_lossy(&current.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .collect())
    }

    /// `git fetch --prune <remote>` with its configured refspecs and the user's credentials:
    /// a ref the remote deleted (a claim given back, a finished trak's race) goes here too.
    pub fn fetch(&self, remote: &str) -> Result<()> {
        self.fetch_args(&["fetch", "--quiet", "--prune", remote])
            .with_context(|| format!("fetching from {remote} failed; nothing local was changed"))
    }

    /// Fetches only `remote`'s branch `branch` into its remote-tracking name.
    pub fn fetch_branch(&self, remote: &str, branch: &str) -> Result<()> {
        let spec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
        self.fetch_args(&["fetch", "--quiet", remote, &spec])
            .with_context(|| format!("fetching {branch} from {remote} failed"))
    }

    /// Runs a fetch, again when it lost a race for a ref's lock file to another ork process
    /// of this repository fetching at the same moment (bounded: a few tries).
    fn fetch_args(&self, args: &[&str]) -> Result<()> {
        let mut tries = 0;
        loop {
            match self.run(&self.main_workdir, args) {
                Ok(_) => return Ok(()),
                Err(err) if tries < 6 && lost_a_lock_race(&format!("{err:#}")) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50 * tries));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// `git push --atomic` of `refspecs` (never forced). `Ok(false)` when the remote refused
    /// because it moved on (fetch and integrate, then try again).
    pub fn push(&self, remote: &str, refspecs: &[String]) -> Result<bool> {
        self.push_with_leases(remote, refspecs, &[])
    }

    /// Like [`Git::push`], where each of `leases` — a remote ref and the value this
    /// repository last saw there (`None`: absent) — may be moved in place, but only from
    /// that value (`--force-with-lease=<ref>:<expected>`): a compare-and-swap on the remote.
    /// `Ok(false)` when the remote refused because a ref moved; then nothing was pushed.
    pub fn push_with_leases(
        &self,
        remote: &str,
        refspecs: &[String],
        leases: &[(String, Option<Oid>)],
    ) -> Result<bool> {
        // --no-verify: ork's own pre-push hook would push notes and logs ahead of this atomic
        // push and make the remote refuse it.
        let mut args: Vec<String> = ["push", "--porcelain", "--atomic", "--no-verify"]
            .map(String::from)
            .to_vec();
        args.extend(leases.iter().map(|(name, expected)| {
            let expected = expected.map(|oid| oid.to_string()).unwrap_or_default();
            format!("--force-with-lease={name}:{expected}")
        }));
        args.push(remote.to_string());
        args.extend(refspecs.iter().cloned());
        let output = git_command()
            .arg("-C")
            .arg(&self.main_workdir)
            .args(&args)
            .output()
            .context("running git push")?;
        if output.status.success() {
            return Ok(true);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let rejected = stdout.lines().any(|l| {
            l.starts_with('!')
                && (l.contains("non-fast-forward")
                    || l.contains("fetch first")
                    || l.contains("stale info")
                    || l.contains("atomic"))
        });
        if rejected {
            return Ok(false);
        }
        bail!(
            "pushing to {remote} failed: {}{}",
            String::from_utf8_lossy(&output.stderr).trim(),
            stdout.trim()
        )
    }
}

/// Whether a failed fetch lost a race for a ref to another process of this repository
/// (`cannot lock ref …: is at … but expected …`, or a `.lock` file that exists): worth a retry.
fn lost_a_lock_race(message: &str) -> bool {
    message.contains("cannot lock ref") || message.contains(".lock")
}
