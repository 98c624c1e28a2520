//! End to end: `strategy = "pr"` flows against a bare remote and a stand-in `gh`
//! (`fixtures/gh/gh`, which keeps pull requests in a JSON file the test controls and really
//! merges in the bare remote); the landing gate (a base that stays green); the conflict
//! forecast in `ork status`.

use crate::common;

use serde_json::{Value, json};

use common::sandbox::fake_agent;
use common::{RunsOrk, Sandbox, created_id};

/// A workflow with one `work` stage (the fake agent, `review = "auto"`, `extra` keys) and the
/// `[flows.feature.integration]` table `integration`.
fn workflow(extra: &str, integration: &str) -> String {
    format!(
        "default_flow = \"feature\"\n\n\
         {}\n\
         [flows.feature]\n\
         [[flows.feature.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n{extra}\n\n\
         [flows.feature.integration]\non_conflict = \"work\"\n{integration}\n",
        fake_agent("20s")
    )
}

/// A secret in the trak's description, which must not reach the pull request's body.
const TOKEN: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

const PR_FLOW: &str = "strategy = \"pr\"\non_changes = \"work\"\nmerge = \"squash\"\n";

/// A repository with ork set up and committed (with `files`), a bare remote `origin` holding
/// `main`, the fake agent following `stages`, and the stand-in gh on `PATH`.
fn pr_sandbox(workflow: &str, files: &[(&str, &str)], stages: Value) -> Sandbox {
    Sandbox::with_files(workflow, files, stages)
        .with_remote()
        .with_gh()
}

impl Sandbox {
    /// Changes the pull request of `branch` in the stand-in's state.
    fn edit_pr(&self, branch: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.gh();
        edit(&mut state["prs"][branch]);
        self.set_gh(state);
    }

    /// The `gh` calls made so far, each as its arguments joined by spaces.
    fn gh_calls(&self) -> Vec<String> {
        self.gh()["calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        c.as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap().to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The commit `branch` points at in the bare remote, if it exists there.
    fn remote_tip(&self, branch: &str) -> Option<String> {
        let out = self.git(&[
            "ls-remote",
            self.remote().root.to_str().unwrap(),
            &format!("refs/heads/{branch}"),
        ]);
        out.split_whitespace().next().map(str::to_string)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn failing_check(name: &str) -> Value {
    json!({"__typename": "CheckRun", "name": name, "status": "COMPLETED", "conclusion": "FAILURE"})
}

fn passing_check(name: &str) -> Value {
    json!({"__typename": "CheckRun", "name": name, "status": "COMPLETED", "conclusion": "SUCCESS"})
}

/// A trak whose work stage passed, with its pull request opened: (sandbox, id, PR branch).
fn opened(stages: Value) -> (Sandbox, String, String) {
    let s = pr_sandbox(&workflow("", PR_FLOW), &[], stages);
    let description = format!("Users sign in with GitHub. CI token: {TOKEN}");
    let (id, out) = s.new_trak("Add OAuth login", &["-d", &description]);
    s.assert_status(&id, "in_review");
    assert!(out.contains("opened pull request #1"), "{out}");
    let branch = format!("ork-pr/{id}");
    (s, id, branch)
}

// ---------------------------------------------------------------------------------------------
// Pull requests
// ---------------------------------------------------------------------------------------------

#[test]
fn a_pull_request_goes_from_opened_through_changes_to_merged() {
    let (s, id, branch) = opened(json!({"work": [
        {"write": {"login.rs": "fn login() {}\n"},
         "result": {"type": "artifact", "content": "Added a GitHub login page"}},
        {"write": {"login.rs": "fn login() { pkce() }\n", "login_test.rs": "#[test] fn t() {}\n"},
         "result": {"type": "artifact", "content": "Login uses PKCE, with a test"}},
    ]}));

    // Opened: the summary in the body, the trak id, the code and nothing of ork's record.
    let pr = &s.gh()["prs"][&branch];
    assert_eq!(pr["base"], "main");
    assert_eq!(pr["title"], "Add OAuth login");
    let body = pr["body"].as_str().unwrap();
    assert!(body.contains("Added a GitHub login page"), "{body}");
    assert!(body.contains(&id), "{body}");
    assert!(body.contains("Users sign in with GitHub"), "{body}");
    assert!(!body.contains(TOKEN), "no secret in the PR body: {body}");
    let first_head = s.remote_tip(&branch).expect("the PR branch is pushed");
    let files = s.repo.tree_files(&first_head);
    assert!(files.contains(&"login.rs".to_string()), "{files:?}");
    assert!(
        files.iter().all(|f| !f.starts_with(".orkestra/traks")),
        "no record folder in the PR branch: {files:?}"
    );
    let trak = s.trak(&id);
    assert_eq!(trak["pull_request"]["number"], 1);
    assert_eq!(
        trak["pull_request"]["url"],
        "https://github.com/acme/app/pull/1"
    );
    let table = s.ork_ok(&["status"]);
    assert!(table.contains("in review"), "{table}");
    let shown = s.ork_ok(&["show", &id]);
    assert!(
        shown.contains("#1 https://github.com/acme/app/pull/1"),
        "{shown}"
    );
    let calls = s.gh_calls();
    assert!(
        calls.contains(&format!(
            "pr create --base main --head {branch} --title Add OAuth login --body-file {}",
            s.repo
                .root
                .join(".git/ork/pr")
                .join(format!("{id}.md"))
                .display()
        )),
        "{calls:?}"
    );

    // Changes requested and a failing check: work runs again with both.
    s.edit_pr(&branch, |pr| {
        pr["reviewDecision"] = json!("CHANGES_REQUESTED");
        pr["reviews"] = json!([{"author": {"login": "alice"}, "state": "CHANGES_REQUESTED",
                                "body": "Please use PKCE for the OAuth flow", "submittedAt": now()}]);
        pr["checks"] = json!([failing_check("ci/unit-tests"), passing_check("ci/lint")]);
    });
    let out = s.ork_ok(&["resume", &id]);
    assert_eq!(s.runs("work"), 2, "{out}");
    let prompt = s.prompt("work", 2);
    assert!(prompt.contains("alice"), "{prompt}");
    assert!(
        prompt.contains("Please use PKCE for the OAuth flow"),
        "{prompt}"
    );
    assert!(prompt.contains("ci/unit-tests"), "{prompt}");
    assert!(!prompt.contains("ci/lint"), "only failing checks: {prompt}");
    assert_eq!(s.events_of(&id, "pr_changes_requested").len(), 1);

    // The same pull request's branch moved forward, without force; the review was answered once.
    s.assert_status(&id, "in_review");
    let second_head = s.remote_tip(&branch).unwrap();
    assert_ne!(second_head, first_head);
    let forward = s
        .repo
        .git_output(&["merge-base", "--is-ancestor", &first_head, &second_head]);
    assert!(forward.status.success(), "a fast-forward: {out}");
    assert!(
        s.repo
            .tree_files(&second_head)
            .iter()
            .all(|f| !f.starts_with(".orkestra/traks"))
    );
    let calls = s.gh_calls();
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("pr create")).count(),
        1,
        "{calls:?}"
    );
    assert_eq!(s.events_of(&id, "pr_pushed").len(), 1);
    let out = s.ork_ok(&["resume", &id]);
    assert_eq!(
        s.runs("work"),
        2,
        "the same review is not answered twice: {out}"
    );
    assert!(out.contains("waits for an approving review"), "{out}");

    // Approved and green: ork merges it (squash) in the remote; the trak is done.
    s.edit_pr(&branch, |pr| {
        pr["reviewDecision"] = json!("APPROVED");
        pr["checks"] = json!([passing_check("ci/unit-tests")]);
    });
    let out = s.ork_ok(&["resume", &id]);
    assert!(out.contains("merged by ork"), "{out}");
    s.assert_status(&id, "done");
    assert!(
        s.gh_calls()
            .contains(&format!("pr merge {branch} --squash"))
    );
    assert_eq!(s.gh()["prs"][&branch]["state"], "MERGED");
    assert_eq!(
        s.remote().git(&["show", "main:login.rs"]),
        "fn login() { pkce() }"
    );
    let main_files = lines_of(&s.remote().git(&["ls-tree", "-r", "--name-only", "main"]));
    assert!(
        main_files.iter().all(|f| !f.starts_with(".orkestra/traks")),
        "{main_files:?}"
    );
    assert!(!s.repo.worktree_path(&id).exists());
}

#[test]
fn a_pull_request_merged_outside_ork_finishes_the_trak() {
    let (s, id, branch) = opened(json!({}));
    s.edit_pr(&branch, |pr| pr["state"] = json!("MERGED"));
    // `ork sync` reads the pull requests of traks in review.
    let out = s.ork_ok(&["sync"]);
    assert!(out.contains("merged on GitHub"), "{out}");
    s.assert_status(&id, "done");
    assert!(
        !s.gh_calls().iter().any(|c| c.starts_with("pr merge")),
        "{:?}",
        s.gh_calls()
    );
}

#[test]
fn a_closed_pull_request_waits_and_says_so() {
    let (s, id, branch) = opened(json!({}));
    s.edit_pr(&branch, |pr| pr["state"] = json!("CLOSED"));
    let out = s.ork_ok(&["resume", &id]);
    assert!(out.contains("closed without merging"), "{out}");
    s.assert_status(&id, "in_review");
    let note = s.trak(&id)["note"].as_str().unwrap().to_string();
    assert!(note.contains("ork trak drop"), "{note}");
    // Asked again, it says so again but records nothing new.
    s.ork_ok(&["resume", &id]);
    assert_eq!(s.events_of(&id, "pr_waiting").len(), 1);
}

#[test]
fn merge_none_waits_for_a_human_to_merge() {
    let flow = "strategy = \"pr\"\nmerge = \"none\"\n";
    let s = pr_sandbox(&workflow("", flow), &[], json!({}));
    let (id, _) = s.new_trak("Add OAuth login", &[]);
    let branch = format!("ork-pr/{id}");
    s.edit_pr(&branch, |pr| pr["reviewDecision"] = json!("APPROVED"));
    let out = s.ork_ok(&["resume", &id]);
    assert!(out.contains("merge it on GitHub"), "{out}");
    s.assert_status(&id, "in_review");
    assert!(!s.gh_calls().iter().any(|c| c.starts_with("pr merge")));
}

#[test]
fn without_gh_nothing_is_pushed_and_the_trak_says_what_to_install() {
    let mut s = pr_sandbox(&workflow("", PR_FLOW), &[], json!({}));
    s.gh_on_path = false;
    let (id, out) = s.new_trak("Add OAuth login", &[]);
    s.assert_status(&id, "integrating");
    assert!(out.contains("not on PATH"), "{out}");
    assert!(out.contains("https://cli.github.com"), "{out}");
    assert_eq!(s.remote_tip(&format!("ork-pr/{id}")), None);

    // Installed but not logged in: the same, with `gh auth login`.
    s.gh_on_path = true;
    s.set_gh(json!({"logged_in": false, "prs": {}}));
    let out = s.ork_ok(&["integrate", &id]);
    assert!(out.contains("gh auth login"), "{out}");
    s.assert_status(&id, "integrating");
    assert_eq!(s.remote_tip(&format!("ork-pr/{id}")), None);
    assert_eq!(s.gh_calls(), ["auth status"]);

    // Logged in: the pull request opens.
    s.set_gh(json!({"logged_in": true, "prs": {}}));
    s.ork_ok(&["integrate", &id]);
    s.assert_status(&id, "in_review");
    assert!(s.remote_tip(&format!("ork-pr/{id}")).is_some());
}

// ---------------------------------------------------------------------------------------------
// A base that stays green
// ---------------------------------------------------------------------------------------------

/// The gate: `feature.txt` names a function that `lib.txt` must define.
const CALLS_EXIST: &str = "if [ -f feature.txt ]; then f=$(cat feature.txt); grep -q \"^fn $f\" lib.txt || { echo \"feature.txt calls $f, which lib.txt does not define\"; exit 1; }; fi";

#[test]
fn the_base_moved_on_breaking_the_trak_so_it_goes_back_to_work_and_the_base_stays() {
    let gate = format!("gate = {{ command = {CALLS_EXIST:?} }}");
    let s = pr_sandbox(
        &workflow(&gate, "strategy = \"merge\""),
        &[("lib.txt", "fn plus\n")],
        json!({"work": [
            {"write": {"feature.txt": "plus"}, "result": {"type": "artifact", "content": "uses plus"}},
            {"run": "git merge -q main", "write": {"feature.txt": "add"},
             "result": {"type": "artifact", "content": "uses add"}},
        ]}),
    );
    let out = s.ork_ok(&["trak", "new", "--no-run", "Use plus"]);
    let id = created_id(&out);
    // main renames the function: the merge is clean (other files), the result is broken.
    s.repo.write("lib.txt", "fn add\n");
    s.repo.commit_all("Rename plus to add");
    let main_before = s.repo.git(&["rev-parse", "main"]);

    let out = s.ork_ok(&["resume", &id]);
    let failed = s.events_of(&id, "landing_gate_failed");
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(failed[0]["route_to"], "work");
    let prompt = s.prompt("work", 2);
    assert!(
        prompt.contains("feature.txt calls plus, which lib.txt does not define"),
        "the gate's output in the feedback:\n{prompt}"
    );
    // The failing candidate never reached main; the one that passed did, on top of main.
    s.assert_status(&id, "done");
    let parents = s.repo.git(&["log", "-1", "--format=%P", "main"]);
    assert!(parents.starts_with(&main_before), "{parents}");
    assert_eq!(s.repo.git(&["show", "main:feature.txt"]), "add");
    // Every note, as "<commit> <line>" (the failed candidate is on no branch).
    let notes: Vec<String> = common::lines(&s.repo.git(&["notes", "--ref=orkestra", "list"]))
        .iter()
        .flat_map(|pair| {
            let (blob, commit) = pair.split_once(' ').unwrap();
            common::lines(&s.repo.git(&["cat-file", "-p", blob]))
                .into_iter()
                .map(move |line| format!("{commit} {line}"))
        })
        .collect();
    let landing: Vec<&String> = notes
        .iter()
        .filter(|l| l.contains("\"kind\":\"landing_gate\""))
        .collect();
    assert_eq!(
        landing.len(),
        2,
        "a failed and a passed landing gate note:\n{notes:#?}"
    );
    assert!(
        landing.iter().any(|l| l.contains("\"passed\":false")),
        "{notes:#?}"
    );
    let landed = s.repo.git(&["rev-parse", "main"]);
    assert!(
        landing
            .iter()
            .any(|l| l.starts_with(&landed) && l.contains("\"passed\":true")),
        "the passing note is on the merge that landed:\n{notes:#?}"
    );
    assert!(
        !s.repo.root.join(".git/ork/landing").join(&id).exists(),
        "the scratch worktree is gone"
    );
}

#[test]
fn a_merge_that_keeps_failing_its_gate_is_sent_back_max_rounds_times_then_the_trak_waits() {
    // Green in the trak's worktree, red on every merge with main: a loop without end but
    // for the cap.
    let gate = "gate = { command = \"case \\\"$PWD\\\" in */ork/landing/*) echo the merge is red; exit 1;; esac\" }";
    let s = pr_sandbox(
        &workflow(gate, "strategy = \"merge\"\nmax_rounds = 2"),
        &[],
        json!({"work": [{"write": {"feature.txt": "x"}, "result": {"type": "artifact", "content": "x"}}]}),
    );
    let main_before = s.repo.git(&["rev-parse", "main"]);
    let id = created_id(&s.ork_ok(&["trak", "new", "--no-run", "Never green"]));
    let out = s.ork_ok(&["resume", &id]);

    // Two rounds back to work, then the third failure waits for a person.
    assert_eq!(s.events_of(&id, "landing_gate_failed").len(), 2, "{out}");
    assert_eq!(s.runs("work"), 3, "{out}");
    s.assert_status(&id, "awaiting_review");
    assert!(out.contains("max_rounds"), "{out}");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("sent back 2 time(s)"), "{show}");
    let json = crate::common::json(&s.ork_ok(&["show", &id, "--json"]));
    assert_eq!(json["integration_rounds"], 2, "{json:#}");
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main_before);
    let story = s
        .repo
        .git(&["log", "-1", "--format=%s", &format!("ork/{id}")]);
    assert!(story.contains("Stop sending the merge back"), "{story}");

    // A person approving tries the merge again, with the rounds counted afresh.
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.events_of(&id, "landing_gate_failed").len(), 4);
    s.assert_status(&id, "awaiting_review");
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main_before);
}

#[test]
fn integration_gate_false_turns_the_landing_gate_off() {
    let gate = format!("gate = {{ command = {CALLS_EXIST:?} }}");
    let s = pr_sandbox(
        &workflow(&gate, "strategy = \"merge\"\ngate = false"),
        &[("lib.txt", "fn plus\n")],
        json!({"work": [{"write": {"feature.txt": "plus"}, "result": {"type": "artifact", "content": "x"}}]}),
    );
    let id = created_id(&s.ork_ok(&["trak", "new", "--no-run", "Use plus"]));
    s.repo.write("lib.txt", "fn add\n");
    s.repo.commit_all("Rename plus to add");
    s.ork_ok(&["resume", &id]);
    s.assert_status(&id, "done");
    assert!(s.events_of(&id, "landing_gate_failed").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Conflicts seen early
// ---------------------------------------------------------------------------------------------

#[test]
fn two_traks_editing_the_same_lines_are_marked_before_either_merges() {
    let flow =
        workflow("", "strategy = \"merge\"").replace("review = \"auto\"", "review = \"human\"");
    let s = pr_sandbox(
        &flow,
        &[
            ("config.txt", "name = app\ntimeout = 10\n"),
            ("other.txt", "a\n"),
        ],
        json!({"work": [
            {"write": {"config.txt": "name = app\ntimeout = 30\n"}, "result": {"type": "artifact", "content": "30"}},
            {"write": {"config.txt": "name = app\ntimeout = 60\n"}, "result": {"type": "artifact", "content": "60"}},
            {"write": {"other.txt": "b\n"}, "result": {"type": "artifact", "content": "other"}},
        ]}),
    );
    let (a, _) = s.new_trak("Timeout 30", &[]);
    let (b, _) = s.new_trak("Timeout 60", &[]);
    let (c, _) = s.new_trak("Other file", &[]);
    let table = s.ork_ok(&["status"]);
    assert!(table.contains("CONFLICTS"), "{table}");
    let line = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line(&a).contains(&format!("{b}: config.txt")), "{table}");
    assert!(line(&b).contains(&format!("{a}: config.txt")), "{table}");
    assert!(!line(&c).contains("config.txt"), "{table}");

    let json = common::json(&s.ork_ok(&["status", "--json"]));
    let conflicts = |id: &str| {
        json["traks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()["conflicts"]
            .clone()
    };
    assert_eq!(
        conflicts(&a),
        json!([{"with": {"kind": "trak", "name": b}, "files": ["config.txt"]}])
    );
    assert_eq!(conflicts(&c), json!([]));
    let shown = s.ork_ok(&["show", &a]);
    assert!(
        shown.contains(&format!("conflicts with trak {b} in: config.txt")),
        "{shown}"
    );

    // The cache is keyed by the tips: main moving on the same line is seen at once.
    assert!(s.repo.root.join(".git/ork/forecast.json").is_file());
    s.repo.write("config.txt", "name = app\ntimeout = 20\n");
    s.repo.commit_all("Timeout 20");
    let json = common::json(&s.ork_ok(&["status", "--json"]));
    let with: Vec<&Value> = json["traks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == a)
        .unwrap()["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["with"])
        .collect();
    assert!(
        with.contains(&&json!({"kind": "base", "name": "main"})),
        "{json:#}"
    );
    // Deleting the cache changes nothing but the time it takes.
    std::fs::remove_file(s.repo.root.join(".git/ork/forecast.json")).unwrap();
    let again = common::json(&s.ork_ok(&["status", "--json"]));
    assert_eq!(again["traks"], json["traks"]);
    // A worktree was never touched by the forecast: the traks' worktrees are clean.
    for id in [&a, &b, &c] {
        let status = s
            .repo
            .git_in(&s.repo.worktree_path(id), &["status", "--porcelain"]);
        assert_eq!(status, "", "{id}");
    }
}

fn lines_of(text: &str) -> Vec<String> {
    common::lines(text)
}
