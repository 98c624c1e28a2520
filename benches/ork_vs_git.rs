//! ork's own cost against git's: `cargo bench --bench ork_vs_git`.
//!
//! Builds synthetic repositories through ork's store (N traks of E events each), times ork
//! commands and the least git must do for the same facts, in the same run, and prints every
//! figure as a ratio to its git baseline. With `--write` (or `ORK_BENCH_WRITE=1`) it rewrites
//! the results table in `docs/performance.md`. `ORK_BENCH_QUICK=1` runs the small sizes only.
//!
//! This is a benchmark, not a test: nothing here fails on a slow machine.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ork::store::event::{EventKind, Outcome, Usage};
use ork::store::git::Git;
use ork::store::{NewTrak, Store};

const ORK: &str = env!("CARGO_BIN_EXE_ork");
const RUNS: usize = 7;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `-- --make DIR N E`: build one synthetic repository and keep it, for profiling.
    if let Some(at) = args.iter().position(|a| a == "--make") {
        let dir = PathBuf::from(&args[at + 1]);
        let (n, e) = (args[at + 2].parse().unwrap(), args[at + 3].parse().unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        run(&dir, "git", &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("README"), "bench\n").unwrap();
        run(&dir, "git", &["add", "README"]);
        run(&dir, "git", &["commit", "-q", "-m", "init"]);
        synthesize(&dir, n, e);
        eprintln!("made {n} traks x {e} events in {}", dir.display());
        return;
    }
    // `-- --claim`: the claim row only (seconds, not minutes), printed and not written.
    if args.iter().any(|a| a == "--claim") {
        println!("{}", render(&[claim_row()]));
        return;
    }
    // `-- --trak`: the whole-trak row only, printed and not written.
    if args.iter().any(|a| a == "--trak") {
        println!("{}", render(&[whole_trak_row()]));
        return;
    }
    // `-- --race`: the raced whole-trak row only, printed and not written.
    if args.iter().any(|a| a == "--race") {
        println!("{}", render(&[race_trak_row()]));
        return;
    }
    // `-- --checkpoint`: the checkpoint row only, printed and not written.
    if args.iter().any(|a| a == "--checkpoint") {
        println!("{}", render(&[checkpoint_row()]));
        return;
    }
    // `-- --usage`: the streamed-usage row only, printed and not written.
    if args.iter().any(|a| a == "--usage") {
        println!("{}", render(&[streamed_usage_row()]));
        return;
    }
    let write =
        args.iter().any(|a| a == "--write") || std::env::var_os("ORK_BENCH_WRITE").is_some();
    let quick = std::env::var_os("ORK_BENCH_QUICK").is_some();
    let mut rows: Vec<Row> = Vec::new();
    // `ORK_BENCH_ONLY=forecast`: only the conflict forecast's rows.
    if std::env::var("ORK_BENCH_ONLY").as_deref() == Ok("forecast") {
        rows.extend(forecast_rows(if quick { 100 } else { 1_000 }));
        println!("{}", render(&rows));
        return;
    }

    let status_sizes: &[(usize, usize)] = if quick {
        &[(100, 5), (100, 100)]
    } else {
        &[(100, 5), (1_000, 5), (10_000, 5), (100, 100), (1_000, 100)]
    };
    let mut status_medians = Vec::new();
    for &(n, e) in status_sizes {
        let repo = Repo::new();
        let start = Instant::now();
        synthesize(&repo.path, n, e);
        eprintln!("built {n} traks x {e} events in {:.1?}", start.elapsed());
        for remote in [false, true] {
            if remote {
                repo.move_traks_to_remote_tracking();
            }
            let where_ = if remote { "remote-tracking" } else { "local" };
            assert_eq!(
                repo.listed_traks(),
                n,
                "ork status must list every trak ({where_})"
            );
            let ork = time(RUNS, || repo.run(ORK, &["status", "--json", "--all"]));
            let git = time(RUNS, || repo.git_read_baseline(remote));
            status_medians.push(((n, e, remote), ork.median));
            rows.push(Row::new(
                format!("status --json, N={n} E={e}, {where_}"),
                "for-each-ref + cat-file --batch",
                ork,
                git,
            ));
        }
    }
    for &(n, _, remote) in status_medians
        .iter()
        .map(|(k, _)| k)
        .filter(|(_, e, _)| *e == 100)
    {
        let at = |e| {
            status_medians
                .iter()
                .find(|((n2, e2, r2), _)| *n2 == n && *e2 == e && *r2 == remote)
                .map(|(_, m)| *m)
        };
        if let (Some(deep), Some(shallow)) = (at(100), at(5)) {
            let where_ = if remote { "remote-tracking" } else { "local" };
            rows.push(Row::history(
                format!("status, N={n}, {where_}: E=100 vs E=5"),
                deep,
                shallow,
            ));
        }
    }

    rows.extend(forecast_rows(if quick { 100 } else { 1_000 }));

    let ork = time(RUNS * 3, || run(Path::new("."), ORK, &["--version"]));
    let git = time(RUNS * 3, || run(Path::new("."), "git", &["--version"]));
    rows.push(transition_row(ork.median));
    rows.push(trak_new_row());
    rows.push(whole_trak_row());
    rows.push(race_trak_row());
    rows.push(streamed_usage_row());
    rows.push(checkpoint_row());
    rows.push(claim_row());
    rows.push(Row::new("ork --version".into(), "git --version", ork, git));

    let table = render(&rows);
    println!("{table}");
    if write {
        write_doc(&table);
    }
}

/// One measured figure and its baseline.
struct Row {
    what: String,
    baseline: String,
    ork: Stats,
    git: Stats,
}

impl Row {
    fn new(what: String, baseline: &str, ork: Stats, git: Stats) -> Row {
        Row {
            what,
            baseline: baseline.into(),
            ork,
            git,
        }
    }

    /// The same ork command at two history lengths: the baseline is the shorter history.
    fn history(what: String, deep: Duration, shallow: Duration) -> Row {
        let one = |d| Stats {
            median: d,
            min: d,
            max: d,
        };
        Row {
            what,
            baseline: "same, E=5".into(),
            ork: one(deep),
            git: one(shallow),
        }
    }

    fn ratio(&self) -> f64 {
        self.ork.median.as_secs_f64() / self.git.median.as_secs_f64()
    }
}

#[derive(Clone, Copy)]
struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Stats {
    fn show(&self) -> String {
        format!("{} ({}–{})", ms(self.median), ms(self.min), ms(self.max))
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Times `ork` and `git` in turn, `runs` times each after one warm-up run of each: for
/// figures whose cost swings with the machine's state in the seconds before (on this machine's
/// ext4, creating files costs more for seconds after many were deleted, as every trak's
/// worktree removal does), each run of one is next to a run of the other.
fn time_in_turn(runs: usize, mut ork: impl FnMut(), mut git: impl FnMut()) -> (Stats, Stats) {
    ork();
    git();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        ork();
        a.push(start.elapsed());
        let start = Instant::now();
        git();
        b.push(start.elapsed());
    }
    (stats(a), stats(b))
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    Stats {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    }
}

/// Runs `f` `runs` times after one warm-up run.
fn time(runs: usize, f: impl FnMut()) -> Stats {
    time_with_setup(runs, || {}, f)
}

/// Like [`time`], running the untimed `setup` before each run of `f`.
fn time_with_setup(runs: usize, mut setup: impl FnMut(), mut f: impl FnMut()) -> Stats {
    setup();
    f();
    let samples: Vec<Duration> = (0..runs)
        .map(|_| {
            setup();
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    stats(samples)
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A scratch repository with one commit on `main`, removed on drop.
struct Repo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        run(&path, "git", &["init", "-q", "-b", "main"]);
        std::fs::write(path.join("README"), "bench\n").unwrap();
        run(&path, "git", &["add", "README"]);
        run(&path, "git", &["commit", "-q", "-m", "init"]);
        ork::config::init::write_defaults(&path, false, ork::config::init::DEFAULT_AGENT).unwrap();
        Repo { _dir: dir, path }
    }

    fn run(&self, program: &str, args: &[&str]) {
        run(&self.path, program, args);
    }

    /// How many traks `ork status --json --all` lists as `done` (merged).
    fn traks_done(&self) -> usize {
        let out = Command::new(ORK)
            .args(["status", "--json", "--all"])
            .current_dir(&self.path)
            .output()
            .unwrap();
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        listed["traks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "done")
            .count()
    }

    /// The gate of each attempt of the `work` race of a trak in this repository, as `ork show
    /// --json` has them.
    fn race_gates(&self) -> Vec<String> {
        let json = |args: &[&str]| -> serde_json::Value {
            let out = Command::new(ORK)
                .args(args)
                .current_dir(&self.path)
                .output()
                .unwrap();
            serde_json::from_slice(&out.stdout).unwrap()
        };
        let listed = json(&["status", "--json", "--all"]);
        let id = listed["traks"][0]["id"]
            .as_str()
            .expect("a trak")
            .to_string();
        let shown = json(&["show", &id, "--json"]);
        shown["races"]["work"]["attempts"]
            .as_array()
            .expect("the trak raced its work stage")
            .iter()
            .map(|a| a["gate"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// How many traks `ork status --json --all` lists.
    fn listed_traks(&self) -> usize {
        let out = Command::new(ORK)
            .args(["status", "--json", "--all"])
            .current_dir(&self.path)
            .output()
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        value["traks"].as_array().map_or(0, Vec::len)
    }

    /// The least git must do to read what `ork status` shows: list the trak refs, then read
    /// each tip's state record, in two processes.
    fn git_read_baseline(&self, remote: bool) {
        let prefix = if remote {
            "refs/remotes/origin/ork/"
        } else {
            "refs/heads/ork/"
        };
        let refs = Command::new("git")
            .args(["for-each-ref", "--format=%(refname)", prefix])
            .current_dir(&self.path)
            .output()
            .unwrap();
        let mut input = String::new();
        for name in String::from_utf8_lossy(&refs.stdout).lines() {
            let id = &name[prefix.len()..];
            input.push_str(&format!("{name}:.orkestra/traks/{id}/state.json\n"));
        }
        let mut cat = Command::new("git")
            .args(["cat-file", "--batch"])
            .current_dir(&self.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        cat.stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        assert!(cat.wait().unwrap().success());
    }

    /// How many traks `ork status --json` marks as conflicting.
    fn traks_marked_conflicting(&self) -> usize {
        let out = Command::new(ORK)
            .args(["status", "--json"])
            .current_dir(&self.path)
            .output()
            .unwrap();
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        listed["traks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| !t["conflicts"].as_array().unwrap().is_empty())
            .count()
    }

    /// git computing what the conflict forecast computes, timed: the listing, each trak's
    /// changed files since its fork point, and the merges of each coding trak with main and
    /// of each pair sharing a file. Forks are found first, untimed (a process per trak).
    fn git_forecast_baseline(
        &self,
        alone: &[ork::store::Trak],
        sharing: &[ork::store::Trak],
    ) -> Stats {
        let main = self.git_output(&["rev-parse", "main"]);
        let tips = self.git_output(&["for-each-ref", "--format=%(objectname)", "refs/heads/ork/"]);
        let forks: String = tips
            .lines()
            .map(|tip| format!("{} {tip}\n", self.git_output(&["merge-base", &main, tip])))
            .collect();
        let mut merges: String = alone
            .iter()
            .chain(sharing)
            .map(|t| format!("{main} {}\n", t.tip))
            .collect();
        for (k, a) in sharing.iter().enumerate() {
            for b in &sharing[k + 1..] {
                merges.push_str(&format!("{} {}\n", a.tip, b.tip));
            }
        }
        // merge-tree writes the merged trees: into a scratch object folder, as ork's stay in
        // memory, so the repository does not grow run by run.
        let scratch = tempfile::tempdir().unwrap();
        let objects = self.path.join(".git/objects");
        time(RUNS, || {
            self.git_read_baseline(false);
            self.git_with_input(&["diff-tree", "--stdin", "-r", "--name-only"], &forks, &[]);
            let env = [
                ("GIT_OBJECT_DIRECTORY", scratch.path()),
                ("GIT_ALTERNATE_OBJECT_DIRECTORIES", objects.as_path()),
            ];
            self.git_with_input(&["merge-tree", "--stdin", "--name-only"], &merges, &env);
        })
    }

    /// Runs git with `input` on its standard input; what it printed, trimmed.
    fn git_stdout(&self, args: &[&str], input: &str) -> String {
        let out = self.git_piped(args, input, &[]);
        assert!(out.status.success(), "git {args:?} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn git_output(&self, args: &[&str]) -> String {
        self.git_stdout(args, "")
    }

    /// Runs git with `input` on its standard input, what it prints read and dropped; exit
    /// code 1 is fine (merge-tree says so when a merge conflicts), a crash is not.
    fn git_with_input(&self, args: &[&str], input: &str, env: &[(&str, &Path)]) {
        let out = self.git_piped(args, input, env);
        assert!(out.status.code().is_some(), "git {args:?} crashed");
    }

    fn git_piped(&self, args: &[&str], input: &str, env: &[(&str, &Path)]) -> std::process::Output {
        let mut child = Command::new("git")
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&self.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // A writer thread: git may print before it has read all its input.
        let input = input.to_string();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        // A git that exits before reading everything fails on its own; its status says so.
        let _ = writer.join();
        out
    }

    /// Turns every local trak branch into a remote-tracking one, as a fetch would bring it.
    fn move_traks_to_remote_tracking(&self) {
        let refs = Command::new("git")
            .args([
                "for-each-ref",
                "--format=%(refname) %(objectname)",
                "refs/heads/ork/",
            ])
            .current_dir(&self.path)
            .output()
            .unwrap();
        let mut script = String::new();
        for line in String::from_utf8_lossy(&refs.stdout).lines() {
            let (name, oid) = line.split_once(' ').unwrap();
            let id = &name["refs/heads/ork/".len()..];
            script.push_str(&format!(
                "create refs/remotes/origin/ork/{id} {oid}\ndelete {name} {oid}\n"
            ));
        }
        // ork reads remote-tracking traks of configured remotes only.
        run(
            &self.path,
            "git",
            &[
                "remote",
                "add",
                "origin",
                "https://example.invalid/repo.git",
            ],
        );
        let mut update = Command::new("git")
            .args(["update-ref", "--stdin"])
            .current_dir(&self.path)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        update
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(update.wait().unwrap().success());
    }
}

/// The events a synthetic trak goes through after its creation, cycling.
fn synthetic_event(i: usize) -> EventKind {
    let stage = "planning".to_string();
    let attempt = (i / 3 + 1) as u32;
    match i % 3 {
        0 => EventKind::StageStarted {
            stage,
            attempt,
            agent: "bench".into(),
        },
        1 => EventKind::StageFinished {
            stage,
            attempt,
            outcome: Outcome::Artifact,
            error: None,
            retry: false,
            decision: None,
            route_to: None,
            questions: Vec::new(),
            session_id: Some(format!("session-{attempt}")),
            usage: Usage {
                input_tokens: 1200,
                output_tokens: 300,
                cost_usd: 0.02,
            },
            subtraks: Vec::new(),
            outside_changes: Vec::new(),
        },
        _ => EventKind::GateFailed {
            stage,
            attempt,
            output: "synthetic gate failure\n".repeat(4),
            retry: true,
        },
    }
}

/// Creates `n` traks of `e` events each through ork's store, on two threads.
fn synthesize(path: &Path, n: usize, e: usize) {
    let threads = 2;
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                let store = Store::new(Git::discover(path).unwrap());
                for i in (t..n).step_by(threads) {
                    let title = format!("Synthetic trak {i}");
                    let mut trak = store
                        .create(&NewTrak {
                            title: &title,
                            description: "A trak made by the benchmark.",
                            flow: "feature",
                            stages: vec!["planning".into(), "work".into(), "review".into()],
                            base: "main",
                            id: None,
                            parent: None,
                            after: &[],
                            priority: None,
                            source: None,
                            agent: None,
                            spawned_by: None,
                        })
                        .unwrap();
                    for k in 0..e.saturating_sub(2) {
                        trak = store.record(&trak, synthetic_event(k)).unwrap();
                    }
                    // Most traks, most of the time, wait for a human.
                    if e >= 2 {
                        let stage = "planning".to_string();
                        trak = store
                            .record(&trak, EventKind::ReviewRequested { stage })
                            .unwrap();
                    }
                }
            });
        }
    });
}

/// `ork status` with the conflict forecast on `n` traks of which every tenth changes code:
/// half of those alone in their file, half editing one line of a shared file (traks editing
/// the same line conflict), with main moved on since they forked. Three figures:
///
/// - cold (the cache deleted before each run), against git computing the same answers in as
///   few processes as it can: the listing, then `git diff-tree --stdin` from each trak's fork
///   point (the forks found beforehand, untimed: git has no batch merge-base) and
///   `git merge-tree --stdin` over the merges ork makes (each coding trak with main, each pair
///   changing a file in common);
/// - warm (nothing moved since the last listing), against the listing alone;
/// - one trak moved (a new commit on a trak in the shared file before each run, so it is
///   merged again with main and with every trak sharing that file), against the listing alone.
fn forecast_rows(n: usize) -> Vec<Row> {
    let repo = Repo::new();
    // No `gc --auto` in the background while timing; one packing after the set-up instead,
    // as a repository that lives a while is mostly packed.
    repo.run("git", &["config", "gc.auto", "0"]);
    std::fs::write(repo.path.join("shared.txt"), "line\n".repeat(20)).unwrap();
    repo.run("git", &["add", "-A"]);
    repo.run("git", &["commit", "-q", "-m", "shared"]);
    synthesize(&repo.path, n, 5);
    let store = Store::new(Git::discover(&repo.path).unwrap());
    let traks = store.list().unwrap();
    let (mut alone, mut sharing) = (Vec::new(), Vec::new());
    for (i, trak) in traks.iter().enumerate().filter(|(i, _)| i % 10 == 0) {
        if (i / 10) % 2 == 0 {
            let file = format!("src/own_{i}.rs");
            alone.push(commit_code(&store, trak, &file, format!("// trak {i}\n")));
        } else {
            // Traks changing the same line differently conflict; others merge cleanly.
            let contents = shared_file_with((i / 20) % 20, &format!("changed by trak {i}"));
            sharing.push(commit_code(&store, trak, "shared.txt", contents));
        }
    }
    let coding = alone.len() + sharing.len();
    std::fs::write(repo.path.join("README"), "bench, moved on\n").unwrap();
    repo.run("git", &["commit", "-q", "-am", "main moves on"]);
    repo.run("git", &["gc", "-q"]);
    let marked = repo.traks_marked_conflicting();
    eprintln!("forecast: {n} traks, {coding} changing code, {marked} marked as conflicting");
    assert!(marked > 0, "the forecast must find the pairs' conflicts");

    let cache = repo.path.join(".git/ork/forecast.json");
    let status = || repo.run(ORK, &["status", "--json", "--all"]);
    let cold = time_with_setup(RUNS, || drop(std::fs::remove_file(&cache)), status);
    let warm = time(RUNS, status);
    let mut mover = sharing[0].clone();
    let mut moves = 0;
    let moved = time_with_setup(
        RUNS,
        || {
            moves += 1;
            let contents = shared_file_with(19, &format!("moved {moves}"));
            mover = commit_code(&store, &mover, "shared.txt", contents);
        },
        status,
    );
    let listing = time(RUNS, || repo.git_read_baseline(false));
    let git_same_answers = repo.git_forecast_baseline(&alone, &sharing);
    let what = format!("status --json with conflict forecast, N={n} ({coding} changing code)");
    let listing_name = "for-each-ref + cat-file --batch";
    vec![
        Row::new(
            format!("{what}, cache cold"),
            "listing + diff-tree --stdin + merge-tree --stdin, same merges",
            cold,
            git_same_answers,
        ),
        Row::new(format!("{what}, cache warm"), listing_name, warm, listing),
        Row::new(
            format!("{what}, one trak moved"),
            listing_name,
            moved,
            listing,
        ),
    ]
}

/// The 20-line shared file with line `line` replaced by `text`.
fn shared_file_with(line: usize, text: &str) -> String {
    let mut lines = vec!["line".to_string(); 20];
    lines[line] = text.to_string();
    lines.join("\n") + "\n"
}

/// Commits `contents` at `path` on `trak`'s branch and records an event on top, as a work
/// stage would: the trak as it is afterwards.
fn commit_code(
    store: &Store,
    trak: &ork::store::Trak,
    path: &str,
    contents: String,
) -> ork::store::Trak {
    use ork::store::git::FileWrite;
    let git = store.git();
    let files = [FileWrite {
        path: path.to_string(),
        contents: contents.into_bytes(),
    }];
    let code = git.write_commit(trak.tip, &files, "code", None).unwrap();
    git.update_ref(&trak.branch, code, trak.tip, "bench: code")
        .unwrap();
    let moved = ork::store::Trak {
        tip: code,
        ..trak.clone()
    };
    let stage = "planning".to_string();
    store
        .record(&moved, EventKind::ReviewRequested { stage })
        .unwrap()
}

/// One event commit through the store, plus ork's start-up, against `git commit` of one
/// changed, staged file. No ork command records a bare transition yet (`ork approve` will), so
/// the start-up is measured apart (`ork --version`) and added to the in-process median.
fn transition_row(startup: Duration) -> Row {
    let repo = Repo::new();
    let store = Store::new(Git::discover(&repo.path).unwrap());
    synthesize(&repo.path, 1, 5);
    let mut trak = store.list().unwrap().remove(0);
    let mut k = 0;
    let mut ork = time(RUNS * 3, || {
        trak = store.record(&trak, synthetic_event(k)).unwrap();
        k += 1;
    });
    ork.median += startup;
    ork.min += startup;
    ork.max += startup;
    let mut n = 0;
    let git = time_with_setup(
        RUNS * 3,
        || {
            n += 1;
            std::fs::write(repo.path.join("file"), format!("{n}\n")).unwrap();
            repo.run("git", &["add", "file"]);
        },
        || repo.run("git", &["commit", "-q", "-m", "one file"]),
    );
    Row::new(
        "one transition (store.record + ork start-up)".into(),
        "git commit of one staged file",
        ork,
        git,
    )
}

/// Writes 200 files in 10 folders and commits them: a checkout of some size, so both sides
/// pay for writing files.
fn commit_200_files(repo: &Repo) {
    for i in 0..200 {
        let dir = repo.path.join(format!("src/m{}", i % 10));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("f{i}.rs")),
            format!("// file {i}\n").repeat(50),
        )
        .unwrap();
    }
    repo.run("git", &["add", "-A"]);
    repo.run("git", &["commit", "-q", "-m", "files"]);
}

/// Writes `n` files in 20 folders under `root` and returns their paths.
fn write_files(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let dir = root.join(format!("src/m{}", i % 20));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("f{i}.rs"));
            std::fs::write(&path, format!("// file {i}\n").repeat(50)).unwrap();
            path
        })
        .collect()
}

/// A checkpoint of a running trak's 1,000-file worktree in which 10 files changed
/// (`store::checkpoint`: a scratch index from the worktree's own, `git add -A`, a secret scan of
/// the changed files, `write-tree`, `commit-tree`, `update-ref`) against `git add -A && git
/// commit` of the same change in a checkout of its own.
fn checkpoint_row() -> Row {
    use ork::store::checkpoint::Checkpointer;
    let repo = Repo::new();
    write_files(&repo.path, 1_000);
    repo.run("git", &["add", "-A"]);
    repo.run("git", &["commit", "-q", "-m", "files"]);
    repo.run(ORK, &["trak", "new", "--no-run", "Checkpointed"]);
    let store = Store::new(Git::discover(&repo.path).unwrap());
    let trak = store.list().unwrap().pop().expect("the trak");
    let worktree = store.worktree_path(&trak.id);
    let changed: Vec<PathBuf> = (0..10)
        .map(|i| worktree.join(format!("src/m{}/f{i}.rs", i % 20)))
        .collect();
    let mut checkpointer = Checkpointer::new(&store, &trak, &worktree, "bench");
    let mut round = 0;
    let mut change = |files: &[PathBuf]| {
        round += 1;
        for file in files {
            std::fs::write(file, format!("// changed in round {round}\n")).unwrap();
        }
    };
    let ork = time_with_setup(
        RUNS,
        || change(&changed),
        || {
            checkpointer
                .take()
                .unwrap()
                .expect("a change to checkpoint");
        },
    );
    let git_repo = Repo::new();
    let files = write_files(&git_repo.path, 1_000);
    git_repo.run("git", &["add", "-A"]);
    git_repo.run("git", &["commit", "-q", "-m", "files"]);
    let git = time_with_setup(
        RUNS,
        || change(&files[..10]),
        || {
            git_repo.run("git", &["add", "-A"]);
            git_repo.run("git", &["commit", "-q", "-m", "change"]);
        },
    );
    Row::new(
        "checkpoint of a running trak: 1,000-file worktree, 10 files changed".into(),
        "git add -A && git commit of the same change",
        ork,
        git,
    )
}

/// `ork trak new --no-run` against `git worktree add` of an existing branch.
fn trak_new_row() -> Row {
    let repo = Repo::new();
    commit_200_files(&repo);
    let mut i = 0;
    let ork = time(RUNS, || {
        i += 1;
        repo.run(
            ORK,
            &["trak", "new", "--no-run", &format!("Bench trak {i}")],
        );
    });
    let mut j = 0;
    let git = time(RUNS, || {
        j += 1;
        let branch = format!("bench-{j}");
        let dest = format!(".orkestra/worktrees/{branch}");
        repo.run("git", &["branch", &branch, "main"]);
        repo.run("git", &["worktree", "add", "-q", &dest, &branch]);
    });
    Row::new(
        "trak new --no-run (200-file checkout)".into(),
        "git branch + git worktree add",
        ork,
        git,
    )
}

/// The workflow of the whole-trak row: `work` by a command agent that writes one file, then
/// `review` by a command agent that approves (`echo APPROVE`: a verdict on its first line),
/// both acted on without a human, and a merge into the base.
const WHOLE_TRAK_WORKFLOW: &str = r#"default_flow = "bench"

[agents.writer]
kind = "command"
command = [".orkestra/scripts/bench-agent.sh"]

[agents.approver]
kind = "command"
command = ["echo", "APPROVE"]

[flows.bench]
[[flows.bench.stages]]
name = "work"
agent = "writer"
prompt = "worker.md"
artifact = "summary"
review = "auto"

[[flows.bench.stages]]
name = "review"
agent = "approver"
prompt = "reviewer.md"
artifact = "verdict"
verdict = true
review = "auto"

[flows.bench.integration]
strategy = "merge"
"#;

/// The work stage's agent: one new file in the worktree, and its result in `$ORK_OUTPUT`.
const WHOLE_TRAK_AGENT: &str = r#"#!/bin/sh
echo "work of $ORK_TRAK" > "work-$ORK_TRAK.txt"
echo '{"type": "artifact", "content": "Wrote one file."}' > "$ORK_OUTPUT"
"#;

/// A whole two-stage trak, `ork trak new` driving it to `done` (merged into main), against the
/// git work it stands for: `git worktree add -b`, a file written and committed, a second
/// commit, `git merge --no-ff` in the main checkout and `git worktree remove`. Timed in turn
/// (see [`time_in_turn`]): both remove a 200-file worktree every run.
fn whole_trak_row() -> Row {
    // Two repositories made alike, one for each side: what one side's worktree removals cost
    // the other's file creations (see [`time_in_turn`]) stays out of the figures.
    let repo = checkout_repo(WHOLE_TRAK_WORKFLOW, WHOLE_TRAK_AGENT);
    let git_repo = checkout_repo(WHOLE_TRAK_WORKFLOW, WHOLE_TRAK_AGENT);
    let mut i = 0;
    let mut j = 0;
    let (ork, git) = time_in_turn(
        RUNS,
        || {
            i += 1;
            repo.run(ORK, &["trak", "new", &format!("Bench trak {i}")]);
        },
        || {
            j += 1;
            let branch = format!("bench-{j}");
            let dir = format!(".orkestra/worktrees/{branch}");
            let file = format!("work-{branch}.txt");
            let git = |args: &[&str]| git_repo.run("git", args);
            git(&["worktree", "add", "-q", "-b", &branch, &dir, "main"]);
            std::fs::write(git_repo.path.join(&dir).join(&file), "work\n").unwrap();
            git(&["-C", &dir, "add", &file]);
            git(&["-C", &dir, "commit", "-q", "-m", "work"]);
            git(&["-C", &dir, "commit", "-q", "--allow-empty", "-m", "review"]);
            git(&["merge", "-q", "--no-ff", "-m", "merge", &branch]);
            git(&["worktree", "remove", &dir]);
        },
    );
    assert_eq!(repo.traks_done(), i, "every trak must be merged into main");
    Row::new(
        "whole trak: work by a command agent, automatic review, merge (200-file checkout)".into(),
        "git worktree add -b, add + commit, a second commit, merge --no-ff, worktree remove",
        ork,
        git,
    )
}

/// A repository for a whole-trak row: 200 files, and `workflow` and its `agent` committed.
fn checkout_repo(workflow: &str, agent: &str) -> Repo {
    let repo = Repo::new();
    commit_200_files(&repo);
    set_up_agent(repo, workflow, agent)
}

/// The workflow of the raced row: one stage, `work`, racing three attempts of a command agent
/// behind the gate `test -f ok-<trak>.txt`, one run each (`max_attempts = 1`: a failed attempt
/// is not run again), acted on without a human, and a merge into the base. The judge is there
/// because a race with `review = "auto"` needs one; with one attempt passing it never runs.
/// The landing gate is off: it is a checkout and a gate run of its own on the merge, which
/// the whole-trak row (no gate at all) does not pay either.
const RACE_WORKFLOW: &str = r#"default_flow = "bench"

[agents.writer]
kind = "command"
command = [".orkestra/scripts/bench-agent.sh"]

[agents.judge]
kind = "command"
command = ["echo", "{\"type\": \"pick\", \"winner\": 1, \"content\": \"never asked\"}"]

[flows.bench]
[[flows.bench.stages]]
name = "work"
agent = "writer"
prompt = "worker.md"
artifact = "summary"
review = "auto"
max_attempts = 1
gate = { command = 'test -f "ok-$ORK_TRAK.txt"' }
race = { agents = ["writer"], n = 3, judge = "judge" }

[flows.bench.integration]
strategy = "merge"
gate = false
"#;

/// The racing agent: one new file in its attempt's worktree — attempt 1's is the one the gate
/// looks for (named after the trak, so that what reaches main does not pass the next trak's
/// attempts), the others' a file the gate does not know — and its result in `$ORK_OUTPUT`.
const RACE_AGENT: &str = r#"#!/bin/sh
if [ "$ORK_RACE" = 1 ]; then file="ok-$ORK_TRAK.txt"; else file="work-$ORK_TRAK-$ORK_RACE.txt"; fi
echo "attempt $ORK_RACE of $ORK_TRAK" > "$file"
echo '{"type": "artifact", "content": "Wrote one file."}' > "$ORK_OUTPUT"
"#;

/// A whole trak whose one stage races three attempts (one passes the gate and wins alone, two
/// fail it), `ork trak new` driving it to `done` (merged into main), against the git work it
/// stands for: three times `git worktree add -b`, a file written, `git add` + `git commit`; a
/// commit of the winner's tree on the trak's branch (`git commit-tree` + `git branch`), `git
/// merge --no-ff` in the main checkout, the three worktrees removed and their branches deleted.
/// Timed in turn, in two repositories made alike, as [`whole_trak_row`] is.
fn race_trak_row() -> Row {
    let repo = checkout_repo(RACE_WORKFLOW, RACE_AGENT);
    let git_repo = checkout_repo(RACE_WORKFLOW, RACE_AGENT);
    let mut i = 0;
    let mut j = 0;
    let (ork, git) = time_in_turn(
        RUNS,
        || {
            i += 1;
            repo.run(ORK, &["trak", "new", &format!("Raced trak {i}")]);
        },
        || {
            j += 1;
            git_race(&git_repo, &format!("bench-{j}"));
        },
    );
    assert_eq!(
        repo.traks_done(),
        i,
        "every raced trak must be merged into main"
    );
    let main = repo.git_output(&["ls-tree", "--name-only", "main"]);
    let winners = main.lines().filter(|f| f.starts_with("ok-")).count();
    let losers = main.lines().filter(|f| f.starts_with("work-")).count();
    assert_eq!(
        (winners, losers),
        (i, 0),
        "only each race's winner must reach main"
    );
    assert_eq!(
        repo.race_gates(),
        ["passed", "failed", "failed"],
        "attempt 1 must pass the gate and the two others fail it"
    );
    Row::new(
        "whole trak whose work stage races 3 attempts of a command agent (one passes the gate, two fail it), merged (200-file checkout)".into(),
        "3× (git worktree add -b, a file written, add + commit), commit-tree of the winner's tree + git branch, merge --no-ff, 3× worktree remove, branch -D",
        ork,
        git,
    )
}

/// The git work of one raced trak `trak` in `repo`: see [`race_trak_row`].
fn git_race(repo: &Repo, trak: &str) {
    let git = |args: &[&str]| repo.run("git", args);
    let attempts: Vec<(String, String)> = (1..=3)
        .map(|no| {
            let branch = format!("{trak}-race-{no}");
            let dir = format!(".orkestra/worktrees/.race/{branch}");
            let file = format!("work-{branch}.txt");
            git(&["worktree", "add", "-q", "-b", &branch, &dir, "main"]);
            std::fs::write(repo.path.join(&dir).join(&file), "work\n").unwrap();
            git(&["-C", &dir, "add", &file]);
            git(&["-C", &dir, "commit", "-q", "-m", "attempt"]);
            (branch, dir)
        })
        .collect();
    let winner_tree = format!("{}^{{tree}}", attempts[0].0);
    let won = repo.git_output(&["commit-tree", "-p", "main", "-m", "winner", &winner_tree]);
    git(&["branch", trak, &won]);
    git(&["merge", "-q", "--no-ff", "-m", "merge", trak]);
    for (_, dir) in &attempts {
        git(&["worktree", "remove", dir]);
    }
    let mut delete = vec!["branch", "-q", "-D"];
    delete.extend(attempts.iter().map(|(branch, _)| branch.as_str()));
    git(&delete);
}

/// `repo` with `workflow` and the agent script `agent` (as `.orkestra/scripts/bench-agent.sh`)
/// committed.
fn set_up_agent(repo: Repo, workflow: &str, agent: &str) -> Repo {
    use std::os::unix::fs::PermissionsExt;
    let orkestra = repo.path.join(".orkestra");
    std::fs::write(orkestra.join("workflow.toml"), workflow).unwrap();
    let script = orkestra.join("scripts/bench-agent.sh");
    std::fs::write(&script, agent).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.run("git", &["add", "-A"]);
    repo.run("git", &["commit", "-q", "-m", "workflow"]);
    repo
}

/// How many usage lines the streaming agent prints: one per model turn, far more turns than a
/// run takes, so that reading them is what the row measures.
const USAGE_LINES: usize = 20_000;

/// A one-stage flow whose agent streams [`USAGE_LINES`] usage lines; `budget` is the flow's
/// budget line, or empty.
fn streaming_workflow(budget: &str) -> String {
    format!(
        "default_flow = \"bench\"\n\n[agents.streamer]\nkind = \"command\"\n\
         command = [\".orkestra/scripts/bench-agent.sh\"]\n\n[flows.bench]\n{budget}\n\
         [[flows.bench.stages]]\nname = \"work\"\nagent = \"streamer\"\nprompt = \"worker.md\"\n\
         artifact = \"summary\"\nreview = \"auto\"\n\n[flows.bench.integration]\nstrategy = \"merge\"\n"
    )
}

/// The streaming agent: [`USAGE_LINES`] usage lines on stdout (from `awk`, so that printing
/// costs the agent next to nothing), one file, its result.
const STREAMING_AGENT: &str = r#"#!/bin/sh
awk -v n=USAGE_LINES 'BEGIN { for (i = 0; i < n; i++) print "{\"ork_usage\": {\"input_tokens\": 1200, \"output_tokens\": 150, \"cost_usd\": 0.000001}}" }'
echo "work of $ORK_TRAK" > "work-$ORK_TRAK.txt"
echo '{"type": "artifact", "content": "Wrote one file."}' > "$ORK_OUTPUT"
"#;

/// A whole one-stage trak whose agent streams usage lines, under a budget (every line read for
/// what it spent, against the cap) and without one (no line read for usage): what holding a
/// budget while the agent runs costs.
fn streamed_usage_row() -> Row {
    let capped = streaming_repo(&streaming_workflow("budget = { usd = 1000000 }"));
    let uncapped = streaming_repo(&streaming_workflow(""));
    let (mut i, mut j) = (0, 0);
    let (ork, baseline) = time_in_turn(
        RUNS,
        || {
            i += 1;
            capped.run(ORK, &["trak", "new", &format!("Capped {i}")]);
        },
        || {
            j += 1;
            uncapped.run(ORK, &["trak", "new", &format!("Uncapped {j}")]);
        },
    );
    assert_eq!(capped.traks_done(), i, "every capped trak must be merged");
    assert_eq!(
        uncapped.traks_done(),
        j,
        "every uncapped trak must be merged"
    );
    Row::new(
        format!("whole trak whose agent streams {USAGE_LINES} usage lines, under a budget"),
        "the same trak without a budget (no line read for usage)",
        ork,
        baseline,
    )
}

/// A repository with `workflow` and the streaming agent committed.
fn streaming_repo(workflow: &str) -> Repo {
    let agent = STREAMING_AGENT.replace("USAGE_LINES", &USAGE_LINES.to_string());
    set_up_agent(Repo::new(), workflow, &agent)
}

/// A claim of a trak on a local bare remote (`Store::push_claim`: a claim commit, pushed with
/// `--force-with-lease` against the claim last seen — the push before every stage run with the
/// shared queue) against a plain `git push` of one new commit to one ref of the same remote.
fn claim_row() -> Row {
    use ork::store::claim::ClaimRecord;
    let repo = Repo::new();
    let remote = tempfile::tempdir().expect("temp dir");
    run(
        remote.path(),
        "git",
        &["init", "-q", "--bare", "-b", "main"],
    );
    let url = remote.path().display().to_string();
    repo.run("git", &["remote", "add", "origin", &url]);
    repo.run("git", &["push", "-q", "origin", "main"]);
    let store = Store::new(Git::discover(&repo.path).unwrap());
    ork::sync::configure_remote(store.git(), "origin").unwrap();
    let first = ClaimRecord::new("bench-trak-0000", "benchbox");
    let mut expected = None;
    let ork = time(RUNS * 3, || {
        // A new renewal time each push, as a heartbeat's: the same record twice makes the
        // same commit, and git pushes nothing (an earlier version of this row did that).
        let record = ClaimRecord {
            renewed_at: chrono::Utc::now(),
            ..first.clone()
        };
        let claim = store
            .push_claim("origin", &record, expected, false)
            .unwrap()
            .expect("nobody else claims");
        expected = Some(claim.oid);
    });
    // One new commit per push (and the warm-up), made beforehand so only the push is timed:
    // like a claim, a parentless commit of one new small file.
    let mut commits: Vec<String> = (0..=RUNS * 3)
        .map(|n| {
            let blob = repo.git_stdout(&["hash-object", "-w", "--stdin"], &format!("bench {n}\n"));
            let tree = repo.git_stdout(&["mktree"], &format!("100644 blob {blob}\tclaim.json\n"));
            repo.git_stdout(&["commit-tree", "-m", &format!("bench {n}"), &tree], "")
        })
        .collect();
    let git = time(RUNS * 3, || {
        let spec = format!("+{}:refs/bench/plain", commits.pop().unwrap());
        repo.run("git", &["push", "-q", "origin", &spec]);
    });
    Row::new(
        "claim: push_claim to a local bare remote".into(),
        "git push of one ref",
        ork,
        git,
    )
}

fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| measurement | ork median (min–max) | git baseline | baseline median (min–max) | ratio |\n");
    out.push_str("|---|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2}× |\n",
            row.what,
            row.ork.show(),
            row.baseline,
            row.git.show(),
            row.ratio()
        ));
    }
    out.push_str(&format!("\n{}\n", machine()));
    out
}

/// What the figures were measured on.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = Command::new("git")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "Measured {} on {cores} cores ({cpu}), {git}, {RUNS} runs per figure after one warm-up, release build.",
        chrono::Utc::now().format("%Y-%m-%d")
    )
}

const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// Replaces the table between the markers in docs/performance.md.
fn write_doc(table: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/performance.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        eprintln!(
            "{} has no {BEGIN} … {END} markers; not written",
            path.display()
        );
        return;
    };
    let updated = format!("{}{BEGIN}\n{table}{}", &doc[..begin], &doc[end..]);
    std::fs::write(&path, updated).unwrap();
    eprintln!("wrote {}", path.display());
}
