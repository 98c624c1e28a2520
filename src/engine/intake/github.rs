//! GitHub Issues as a tracker, through the GitHub CLI (`gh`, with the user's own login and
//! hosts), in pinned calls only: what each asks for is named here and in docs/intake.md.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{Comment, Task, TaskView, Tracker};
use crate::config::intake::GithubIntake;

/// What `gh issue list` is asked for.
const LIST_FIELDS: &str = "number,title,body,labels,author,url,updatedAt";
/// What `gh issue view` is asked for.
const VIEW_FIELDS: &str = "number,title,body,labels,author,url,updatedAt,state,comments";
/// The most issues one pass lists.
const LIST_LIMIT: &str = "200";

pub struct Github<'a> {
    settings: &'a GithubIntake,
    /// Where `gh` runs: the main checkout, whose remote names the repository.
    dir: &'a std::path::Path,
    /// Where bodies are written for `--body-file`.
    scratch: std::path::PathBuf,
}

impl<'a> Github<'a> {
    pub fn new(
        settings: &'a GithubIntake,
        dir: &'a std::path::Path,
        scratch: std::path::PathBuf,
    ) -> Self {
        Github {
            settings,
            dir,
            scratch,
        }
    }

    /// Runs `gh args`: its stdout when it succeeds, else an error with what it said.
    fn gh(&self, args: &[&str]) -> Result<String> {
        let done = crate::engine::pull_request::run_gh(self.dir, args)
            .context("is the GitHub CLI installed and on PATH?")?;
        if !done.success() {
            bail!(
                "gh {} failed ({}): {}",
                args.join(" "),
                done.describe(),
                done.stderr.trim()
            );
        }
        Ok(done.stdout)
    }

    /// A body written to a file for `--body-file` / `-F body=@file` (never on the command line,
    /// where other users of the machine could read it).
    fn body_file(&self, body: &str) -> Result<std::path::PathBuf> {
        crate::engine::process::create_private_dir(&self.scratch)?;
        let path = self.scratch.join("body.md");
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

#[derive(Deserialize)]
struct RawIssue {
    number: u64,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    labels: Vec<RawLabel>,
    url: String,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    comments: Vec<RawComment>,
}

#[derive(Deserialize)]
struct RawLabel {
    name: String,
}

#[derive(Deserialize)]
struct RawAuthor {
    #[serde(default)]
    login: String,
}

#[derive(Deserialize)]
struct RawComment {
    id: String,
    author: Option<RawAuthor>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    url: String,
    #[serde(rename = "viewerDidAuthor", default)]
    viewer_did_author: bool,
}

impl RawComment {
    fn comment(self) -> Comment {
        Comment {
            edit_id: self
                .url
                .rsplit_once("#issuecomment-")
                .map(|(_, id)| id.to_string()),
            id: self.id,
            author: self.author.map(|a| a.login).unwrap_or_default(),
            body: self.body,
            by_ork: self.viewer_did_author,
        }
    }
}

impl RawIssue {
    fn task(&self) -> Task {
        Task {
            key: self.number.to_string(),
            title: self.title.clone(),
            body: self.body.clone(),
            labels: self.labels.iter().map(|l| l.name.clone()).collect(),
            url: self.url.clone(),
            updated: self.updated_at.clone(),
        }
    }
}

impl Tracker for Github<'_> {
    fn name(&self) -> &'static str {
        "github"
    }

    fn id_for(&self, key: &str) -> String {
        format!("issue-{key}")
    }

    fn reference(&self, key: &str) -> String {
        format!("#{key}")
    }

    fn list(&mut self) -> Result<Vec<Task>> {
        let mut args = vec![
            "issue",
            "list",
            "--label",
            &self.settings.label,
            "--state",
            "open",
            "--json",
            LIST_FIELDS,
            "--limit",
            LIST_LIMIT,
        ];
        if let Some(assignee) = &self.settings.assignee {
            args.extend(["--assignee", assignee]);
        }
        if let Some(milestone) = &self.settings.milestone {
            args.extend(["--milestone", milestone]);
        }
        let out = self.gh(&args)?;
        let issues: Vec<RawIssue> =
            serde_json::from_str(&out).context("reading gh issue list's JSON")?;
        Ok(issues.iter().map(RawIssue::task).collect())
    }

    fn view(&mut self, key: &str) -> Result<TaskView> {
        let out = self.gh(&["issue", "view", key, "--json", VIEW_FIELDS])?;
        let issue: RawIssue = serde_json::from_str(&out).context("reading gh issue view's JSON")?;
        Ok(TaskView {
            task: issue.task(),
            open: issue.state.as_deref() != Some("CLOSED"),
            comments: issue
                .comments
                .into_iter()
                .map(|c| Comment {
                    id: c.id,
                    author: c.author.map(|a| a.login).unwrap_or_default(),
                    body: c.body,
                    edit_id: c
                        .url
                        .rsplit_once("#issuecomment-")
                        .map(|(_, id)| id.to_string()),
                    by_ork: c.viewer_did_author,
                })
                .collect(),
        })
    }

    fn may_decide(&mut self, author: &str) -> Result<bool> {
        let path = format!("repos/{{owner}}/{{repo}}/collaborators/{author}/permission");
        let out = match self.gh(&["api", &path]) {
            Ok(out) => out,
            // No such user, or not one GitHub lets this login ask about: no write access.
            Err(err) if format!("{err:#}").contains("HTTP 404") => return Ok(false),
            Err(err) => return Err(err),
        };
        #[derive(Deserialize)]
        struct Permission {
            permission: String,
        }
        let permission: Permission =
            serde_json::from_str(&out).context("reading the collaborator permission's JSON")?;
        Ok(matches!(
            permission.permission.as_str(),
            "admin" | "maintain" | "write"
        ))
    }

    fn comment(&mut self, key: &str, body: &str) -> Result<()> {
        let file = self.body_file(body)?;
        self.gh(&[
            "issue",
            "comment",
            key,
            "--body-file",
            &file.to_string_lossy(),
        ])?;
        Ok(())
    }

    fn edit_comment(&mut self, _key: &str, comment: &Comment, body: &str) -> Result<()> {
        let Some(id) = &comment.edit_id else {
            bail!("the comment {} has no id to edit it by", comment.id);
        };
        let file = self.body_file(body)?;
        let path = format!("repos/{{owner}}/{{repo}}/issues/comments/{id}");
        let field = format!("body=@{}", file.display());
        self.gh(&["api", "--method", "PATCH", &path, "-F", &field])?;
        Ok(())
    }

    fn pull_request_comments(&mut self, trak: &crate::store::Trak) -> Result<Vec<Comment>> {
        if trak.state.pull_request.is_none() {
            return Ok(Vec::new());
        }
        let branch = crate::engine::pull_request::pr_branch(&trak.id);
        let out = self.gh(&["pr", "view", &branch, "--json", "comments"])?;
        #[derive(Deserialize)]
        struct Comments {
            #[serde(default)]
            comments: Vec<RawComment>,
        }
        let pr: Comments = serde_json::from_str(&out).context("reading gh pr view's JSON")?;
        Ok(pr.comments.into_iter().map(RawComment::comment).collect())
    }

    fn close(&mut self, key: &str) -> Result<()> {
        self.gh(&["issue", "close", key])?;
        Ok(())
    }
}
