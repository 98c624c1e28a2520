//! End to end: `ork doctor` on a machine without the agent CLIs and with them, `ork init`
//! picking the CLI that is installed, and the message a missing CLI gets at run time.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Repo, stderr, stdout};

const CLAUDE_INSTALL: &str = "npm install -g @anthropic-ai/claude-code";

/// A folder for `PATH` holding git (a link to the real one) and `tools`: (name, what its
/// `--version` prints) stand-ins for the agent CLIs.
fn path_with(repo: &Repo, tools: &[(&str, &str)]) -> PathBuf {
    let bin = repo.root.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let git = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("git"))
        .find(|path| path.is_file())
        .expect("git on PATH");
    std::os::unix::fs::symlink(git, bin.join("git")).unwrap();
    for (name, version) in tools {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// The variables that give an agent CLI a key or a login (Claude Code's, Codex's): kept from
/// the tests' `ork`, so the probes read only the stand-ins.
pub const LOGIN_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "CLAUDE_CONFIG_DIR",
    "CODEX_API_KEY",
    "CODEX_ACCESS_TOKEN",
    "OPENAI_API_KEY",
];

/// `ork args` in the repository with `PATH` set to `path` alone.
fn ork_on(repo: &Repo, path: &Path, args: &[&str]) -> Output {
    let mut command = repo.ork_command(&repo.root, args);
    for var in LOGIN_VARS {
        command.env_remove(var);
    }
    command.env("PATH", path).output().expect("running ork")
}

/// Stand-ins that answer `--version` and their login status command as the pinned CLIs do
/// (fixtures/agent-clis/README.md): logged in when `$HOME/logged-in` exists.
const CLAUDE_STAND_IN: &str = r#"#!/bin/sh
case "$*" in
--version) echo '2.1.329 (Claude Code)' ;;
'auth status --json')
  # ork keeps it off the network.
  [ "$CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" = 1 ] || { echo 'would connect' >&2; exit 3; }
  if [ -f "$HOME/logged-in" ]; then
    printf '{\n  "loggedIn": true,\n  "authMethod": "api_key_helper",\n  "apiProvider": "firstParty"\n}\n'
  else
    printf '{\n  "loggedIn": false,\n  "authMethod": "none",\n  "apiProvider": "firstParty"\n}\n'
    exit 1
  fi ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

const CODEX_STAND_IN: &str = r#"#!/bin/sh
case "$*" in
--version) echo 'codex-cli 0.169.0' ;;
'login status')
  if [ -f "$HOME/logged-in" ]; then
    echo 'API key configured - sk-proj-***67890' >&2
    echo 'Authentication is checked when you send a request.' >&2
  else
    echo 'Not logged in' >&2
    exit 1
  fi ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

const OPENCODE_STAND_IN: &str = r#"#!/bin/sh
case "$*" in
--version) echo '1.18.33' ;;
'auth list')
  n=0; [ -f "$HOME/logged-in" ] && n=1
  printf '┌  Credentials \033[90m~/.local/share/opencode/auth.json\n│\n└  %s credentials\n\n' "$n" ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

/// `path_with(repo, &[])` with `scripts`: (name, script) stand-ins.
fn path_with_scripts(repo: &Repo, scripts: &[(&str, &str)]) -> PathBuf {
    let bin = path_with(repo, &[]);
    for (name, script) in scripts {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// The default workflow with planning on Codex and review on OpenCode: all three CLIs used.
fn use_all_three(repo: &Repo) {
    let workflow = repo
        .read(".orkestra/workflow.toml")
        .replacen(
            "name = \"planning\"\n",
            "name = \"planning\"\nagent = \"codex\"\n",
            1,
        )
        .replacen(
            "name = \"review\"\n",
            "name = \"review\"\nagent = \"opencode\"\n",
            1,
        );
    repo.write(".orkestra/workflow.toml", &workflow);
}

#[test]
fn doctor_without_the_agent_clis_fails_and_says_how_to_install_them() {
    let repo = Repo::new();
    let path = path_with(&repo, &[]);
    let init = ork_on(&repo, &path, &["init"]);
    let out = stdout(&init);
    assert!(init.status.success(), "{out}{}", stderr(&init));
    assert!(
        out.contains("No agent CLI found on PATH") && out.contains(CLAUDE_INSTALL),
        "init falls back to Claude Code with the install hint:\n{out}"
    );
    assert!(
        repo.read(".orkestra/workflow.toml")
            .contains("agent = \"claude\"")
    );

    let doctor = ork_on(&repo, &path, &["doctor"]);
    let out = stdout(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{out}{}", stderr(&doctor));
    assert!(out.contains("git version"), "{out}");
    assert!(
        out.contains("missing agent     claude (claude): claude not found"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "problem: Claude Code (`claude`) is not on PATH; install it with `{CLAUDE_INSTALL}`"
        )),
        "{out}"
    );
    assert!(stderr(&doctor).contains("ork doctor found 1 problem(s)"));

    let json = ork_on(&repo, &path, &["doctor", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["agents"][0]["name"], "claude");
    assert_eq!(report["agents"][0]["path"], serde_json::Value::Null);
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains(CLAUDE_INSTALL)
    );
}

#[test]
fn doctor_with_the_clis_on_path_shows_their_versions() {
    let repo = Repo::initialized();
    // One stage per CLI, so the workflow uses all three.
    let workflow = repo
        .read(".orkestra/workflow.toml")
        .replacen(
            "name = \"planning\"\n",
            "name = \"planning\"\nagent = \"codex\"\n",
            1,
        )
        .replacen(
            "name = \"review\"\n",
            "name = \"review\"\nagent = \"opencode\"\n",
            1,
        );
    repo.write(".orkestra/workflow.toml", &workflow);
    let path = path_with(
        &repo,
        &[
            ("claude", "2.1.197 (Claude Code)"),
            ("codex", "codex-cli 0.171.0"),
            ("opencode", "1.18.33"),
        ],
    );
    let bare = repo.sibling("origin.git");
    bare.git(&["init", "-q", "--bare"]);
    repo.git(&["remote", "add", "origin", bare.root.to_str().unwrap()]);

    let doctor = ork_on(&repo, &path, &["doctor"]);
    let out = stdout(&doctor);
    assert!(doctor.status.success(), "{out}{}", stderr(&doctor));
    for line in [
        "(2.1.197 (Claude Code)); used by feature/breakdown, feature/work, feature/compound",
        "codex (codex): ",
        "(codex-cli 0.171.0); used by feature/planning",
        "(1.18.33); used by feature/review",
        "missing remote    origin: lacks ork's fetch refspecs",
        "missing hook      pre-push: not installed",
        "Ready",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }

    // ork init sets the refspecs, ork hooks install the hook.
    assert!(ork_on(&repo, &path, &["init"]).status.success());
    assert!(ork_on(&repo, &path, &["hooks", "install"]).status.success());
    let json = ork_on(&repo, &path, &["doctor", "--json"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let agents = report["agents"].as_array().unwrap();
    let versions: Vec<_> = agents
        .iter()
        .map(|a| a["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        versions,
        ["2.1.197 (Claude Code)", "codex-cli 0.171.0", "1.18.33"]
    );
    assert_eq!(
        agents[1]["path"].as_str().unwrap(),
        path.join("codex").to_str().unwrap()
    );
    assert_eq!(report["remotes"][0]["refspecs"], true);
    assert_eq!(report["hooks"][0]["installed"], true);
    assert_eq!(report["git"]["user_name"], common::AUTHOR);
    assert_eq!(report["git"]["user_email"], common::EMAIL);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn init_uses_codex_when_only_codex_is_installed() {
    let repo = Repo::new();
    let path = path_with(&repo, &[("codex", "codex-cli 0.171.0")]);
    let init = ork_on(&repo, &path, &["init"]);
    let out = stdout(&init);
    assert!(init.status.success(), "{out}{}", stderr(&init));
    assert!(
        out.contains(&format!(
            "The stages use agent \"codex\": Codex found at {}",
            path.join("codex").display()
        )),
        "{out}"
    );
    let workflow = repo.read(".orkestra/workflow.toml");
    assert!(
        workflow.contains("\ndefault_agent = \"codex\"\n"),
        "{workflow}"
    );
    assert!(!workflow.contains("agent = \"claude\""), "{workflow}");
    let doctor = ork_on(&repo, &path, &["doctor"]);
    let out = stdout(&doctor);
    assert!(doctor.status.success(), "{out}");
    assert!(
        out.contains("used by feature/planning, feature/breakdown"),
        "{out}"
    );
    assert!(
        !agent_lines(&out).contains("claude"),
        "every stage runs codex:\n{out}"
    );
}

#[test]
fn init_agent_makes_one_cli_every_stages_default_and_a_stage_may_still_name_its_own() {
    let repo = Repo::new();
    let path = path_with(
        &repo,
        &[("claude", "2.1.197 (Claude Code)"), ("opencode", "1.18.33")],
    );
    let init = ork_on(&repo, &path, &["init", "--agent", "opencode"]);
    let out = stdout(&init);
    assert!(init.status.success(), "{out}{}", stderr(&init));
    assert!(out.contains("The stages use agent \"opencode\""), "{out}");
    let workflow = repo.read(".orkestra/workflow.toml");
    assert!(
        workflow.contains("\ndefault_agent = \"opencode\"\n"),
        "{workflow}"
    );
    // One stage back on claude: its own `agent` wins over the default.
    repo.write(
        ".orkestra/workflow.toml",
        &workflow.replacen(
            "name = \"review\"\n",
            "name = \"review\"\nagent = \"claude\"\n",
            1,
        ),
    );
    let out = stdout(&ork_on(&repo, &path, &["doctor"]));
    assert!(
        out.contains(
            "(1.18.33); used by feature/planning, feature/breakdown, feature/work, feature/compound"
        ),
        "{out}"
    );
    assert!(
        out.contains("(2.1.197 (Claude Code)); used by feature/review"),
        "{out}"
    );

    // A default naming no agent table is refused at its line.
    repo.write(
        ".orkestra/workflow.toml",
        &workflow.replace("default_agent = \"opencode\"", "default_agent = \"gemini\""),
    );
    let doctor = ork_on(&repo, &path, &["doctor"]);
    let out = format!("{}{}", stdout(&doctor), stderr(&doctor));
    assert!(
        out.contains("default_agent names an agent \"gemini\" that is not defined"),
        "{out}"
    );
    assert!(out.contains("workflow.toml:"), "{out}");
}

#[test]
fn a_missing_cli_is_named_before_trak_new_creates_anything_and_at_run_time() {
    let repo = Repo::new();
    let path = path_with(&repo, &[]);
    assert!(ork_on(&repo, &path, &["init"]).status.success());
    repo.commit_all("Add .orkestra");
    let said = format!("Claude Code (`claude`) is not on PATH; install it with `{CLAUDE_INSTALL}`");

    // Checked first: no branch, no worktree, no commit.
    let refs_before = repo.git(&["for-each-ref", "--format=%(refname)"]);
    let new = ork_on(&repo, &path, &["trak", "new", "Add login"]);
    assert_eq!(new.status.code(), Some(1), "{}", stdout(&new));
    let err = stderr(&new);
    assert!(err.contains(&said), "{err}");
    assert!(err.contains("Nothing was created"), "{err}");
    assert_eq!(
        repo.git(&["for-each-ref", "--format=%(refname)"]),
        refs_before
    );
    assert!(repo.worktree_dirs().is_empty());

    // Recorded to run elsewhere, it meets the same words when run here.
    let new = ork_on(&repo, &path, &["trak", "new", "--no-run", "Add login"]);
    let id = common::created_id(&stdout(&new));
    let resumed = ork_on(&repo, &path, &["resume", &id]);
    let out = format!("{}{}", stdout(&resumed), stderr(&resumed));
    assert!(out.contains(&said), "{out}");
    assert!(!out.contains("check its `command`"), "{out}");
    let show = ork_on(&repo, &path, &["show", &id]);
    assert!(stdout(&show).contains(&said), "{}", stdout(&show));
}

#[test]
fn doctor_notices_a_codex_whose_bubblewrap_cannot_run_its_commands() {
    let repo = Repo::new();
    let path = path_with(
        &repo,
        &[
            ("codex", "codex-cli 0.171.0"),
            ("bwrap", "bubblewrap 0.11.0"),
        ],
    );
    assert!(ork_on(&repo, &path, &["init"]).status.success());
    // Unconfined by ork, Codex uses its own bubblewrap sandbox.
    let workflow = repo.read(".orkestra/workflow.toml");
    repo.write(
        ".orkestra/workflow.toml",
        &format!("{workflow}\n[sandbox]\nmode = \"report\"\n"),
    );
    let under_tmp = repo
        .ork_command(&repo.root, &["doctor"])
        .env("PATH", &path)
        .env("CODEX_HOME", "/tmp/codex-home")
        .output()
        .unwrap();
    let said = stdout(&under_tmp);
    assert!(!under_tmp.status.success(), "{said}");
    assert!(
        said.contains("refuses its home /tmp/codex-home under /tmp"),
        "{said}"
    );

    let elsewhere = repo
        .ork_command(&repo.root, &["doctor"])
        .env("PATH", &path)
        .env("CODEX_HOME", "/opt/codex-home")
        .output()
        .unwrap();
    assert!(
        !stdout(&elsewhere).contains("bubblewrap"),
        "{}",
        stdout(&elsewhere)
    );
}

#[test]
fn doctor_asks_each_cli_the_workflow_uses_whether_it_is_logged_in() {
    let repo = Repo::initialized();
    use_all_three(&repo);
    let path = path_with_scripts(
        &repo,
        &[
            ("claude", CLAUDE_STAND_IN),
            ("codex", CODEX_STAND_IN),
            ("opencode", OPENCODE_STAND_IN),
        ],
    );

    let doctor = ork_on(&repo, &path, &["doctor"]);
    let out = stdout(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{out}{}", stderr(&doctor));
    for line in [
        "missing login     claude: no API key or login found; run `claude auth login` (or `claude` once and log in), or set ANTHROPIC_API_KEY",
        "missing login     codex: not logged in; run `codex login`, or `printenv OPENAI_API_KEY | codex login --with-api-key`",
        // No credentials is not sure to fail: OpenCode has free models.
        "-       login     opencode: not checked: no provider credentials",
        "problem: Claude Code (agent \"claude\") cannot answer: no API key or login found",
        "problem: Codex (agent \"codex\") cannot answer: not logged in",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    assert!(!out.contains("Ready"), "{out}");
    assert!(stderr(&doctor).contains("ork doctor found 2 problem(s)"));

    std::fs::write(repo.home().join("logged-in"), "").unwrap();
    let doctor = ork_on(&repo, &path, &["doctor"]);
    let out = stdout(&doctor);
    assert!(doctor.status.success(), "{out}{}", stderr(&doctor));
    for line in [
        "ok      login     claude: logged in (api_key_helper) (claude auth status --json)",
        "ok      login     codex: API key configured - sk-proj-***67890 (codex login status)",
        "ok      login     opencode: 1 credential(s), 0 provider variable(s) (opencode auth list)",
        "Ready",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    let json = ork_on(&repo, &path, &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let login = &report["agents"][0]["login"];
    assert_eq!(login["state"], "found", "{report:#}");
    assert_eq!(login["by"], "claude auth status --json", "{report:#}");
}

#[test]
fn a_key_in_the_environment_or_a_stored_login_is_seen_without_running_the_cli() {
    let repo = Repo::initialized();
    // Both logged out by their status commands; only Claude Code is used.
    let path = path_with_scripts(
        &repo,
        &[("claude", CLAUDE_STAND_IN), ("codex", CODEX_STAND_IN)],
    );
    let with_key = repo
        .ork_command(&repo.root, &["doctor"])
        .env("PATH", &path)
        .env_remove("CLAUDE_CONFIG_DIR")
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .output()
        .unwrap();
    let out = stdout(&with_key);
    assert!(with_key.status.success(), "{out}{}", stderr(&with_key));
    assert!(
        out.contains(
            "ok      login     claude: ANTHROPIC_API_KEY is set (seen without running claude)"
        ),
        "{out}"
    );
    assert!(
        !agent_lines(&out).contains("codex"),
        "a CLI the workflow does not use is not asked:\n{out}"
    );

    let credentials = repo.home().join(".claude/.credentials.json");
    std::fs::create_dir_all(credentials.parent().unwrap()).unwrap();
    std::fs::write(
        &credentials,
        r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-test","refreshToken":"r","expiresAt":4102444800000}}"#,
    )
    .unwrap();
    let out = stdout(&ork_on(&repo, &path, &["doctor"]));
    assert!(
        out.contains(&format!(
            "ok      login     claude: a claude.ai login in {} (seen without running claude)",
            credentials.display()
        )),
        "{out}"
    );
}

#[test]
fn codex_with_a_model_provider_of_its_own_is_not_checked_and_does_not_fail() {
    let repo = Repo::new();
    let path = path_with_scripts(&repo, &[("codex", CODEX_STAND_IN)]);
    assert!(ork_on(&repo, &path, &["init"]).status.success());
    let codex_home = repo.home().join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        "model_provider = \"local\"\n\n[model_providers.local]\nbase_url = \"http://127.0.0.1:1/v1\"\nenv_key = \"LOCAL_KEY\"\n",
    )
    .unwrap();
    let doctor = ork_on(&repo, &path, &["doctor"]);
    let out = stdout(&doctor);
    assert!(doctor.status.success(), "{out}{}", stderr(&doctor));
    assert!(
        out.contains("-       login     codex: not checked: not logged in, but its model_provider is \"local\", whose key only a request checks"),
        "{out}"
    );
}

/// Doctor's lines but those about MCP clients (which name every client ork installs into,
/// whatever the workflow runs).
fn agent_lines(out: &str) -> String {
    out.lines()
        .filter(|line| !line.contains(" mcp       "))
        .collect::<Vec<_>>()
        .join("\n")
}
