//! End to end: `ork ui` in a real terminal. Each test starts its own tmux server (its own
//! socket), runs a shell in a 120×40 pane, types `ork ui` into it and drives it with keys as a
//! person would, reading the screen with `capture-pane`. The server is killed when the test
//! ends, failed or not.

use crate::common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::json;

use common::success;
use common::{RunsOrk, Sandbox, artifact};

/// How long the screen may take to show what a test waits for.
const SCREEN_LIMIT: Duration = Duration::from_secs(30);

/// The shell's prompt in the pane: the test knows the UI is gone when it is back.
const PROMPT: &str = "ork-test$";

/// One tmux server on its own socket, killed when dropped.
struct Tmux {
    socket: String,
}

/// A tmux server of its own with a shell in the repository, `ork ui` typed into it.
fn open_ui(flow: &Sandbox) -> Tmux {
    let tmux = Tmux::start(flow);
    tmux.type_text(&format!("{} ui", env!("CARGO_BIN_EXE_ork")));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the UI to show its footer", |s| s.contains("q quit"));
    tmux
}

impl Tmux {
    fn start(sandbox: &Sandbox) -> Tmux {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "ork-ui-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        // The server (and the shell in its pane) inherits this command's environment.
        let out = sandbox
            .command("tmux")
            .env("PS1", format!("{PROMPT} "))
            .args(["-L", &tmux.socket, "-f", "/dev/null"])
            .args(["new-session", "-d", "-x", "120", "-y", "40"])
            .args(["bash", "--norc", "--noprofile"])
            .output()
            .expect("running tmux");
        success(&out, "tmux new-session");
        tmux.wait_for("the shell's prompt", |s| s.contains(PROMPT));
        tmux
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("running tmux")
    }

    /// Sends tmux key names (`Enter`, `Escape`, `C-c`, or a single character).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        success(&self.tmux(&args), "tmux send-keys");
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        success(
            &self.tmux(&["send-keys", "-t", "0", "-l", text]),
            "tmux send-keys -l",
        );
    }

    fn screen(&self) -> String {
        success(
            &self.tmux(&["capture-pane", "-p", "-t", "0"]),
            "capture-pane",
        )
    }

    /// The screen with its colours, as escape sequences.
    fn screen_with_escapes(&self) -> String {
        success(
            &self.tmux(&["capture-pane", "-p", "-e", "-t", "0"]),
            "capture-pane -e",
        )
    }

    /// Waits until the screen satisfies `ready`; fails with the last screen if it never does.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < SCREEN_LIMIT,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the UI to be gone and checks the terminal is a normal one again: the shell's
    /// prompt is back and `stty -a` reports canonical input and echo.
    fn assert_restored(&self) {
        self.wait_for("the shell's prompt after the UI", |s| {
            s.lines().any(|l| l.trim_end() == PROMPT)
        });
        self.type_text("stty -a");
        self.keys(&["Enter"]);
        let screen = self.wait_for("stty's report", |s| s.contains("icanon"));
        let words: Vec<&str> = screen.split_whitespace().collect();
        assert!(
            words.contains(&"icanon") && words.contains(&"echo"),
            "the terminal was left raw:\n{screen}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The row of the list (the left pane) that shows trak `id`.
fn row<'s>(screen: &'s str, id: &str) -> Option<&'s str> {
    screen
        .lines()
        .map(|l| l.split("││").next().unwrap_or(l))
        .find(|l| l.contains(id))
}

#[test]
fn the_waiting_trak_is_selected_and_a_approves_it_on_to_the_next_stage() {
    let s = Sandbox::review_flow(
        "",
        json!({
            "planning": [{"stdout": "thinking about the plan", "result": {"type": "artifact", "content": "# Plan\n1. a login page"}}],
            "work": [{"stdout": "writing the login page", "result": {"type": "artifact", "content": "login page written"}}],
        }),
    );
    // A queued trak lists first (ids sort by title); the waiting one must be selected anyway.
    let (queued, _) = s.new_trak("Another thing", &["--no-run"]);
    let (waiting, _) = s.new_trak("Write docs", &[]);
    assert_eq!(s.at(&waiting).0, "awaiting_review");
    let tmux = open_ui(&s);
    let screen = tmux.wait_for("the waiting trak", |s| row(s, &waiting).is_some());
    let selected = row(&screen, "▶").unwrap_or_else(|| panic!("no selection:\n{screen}"));
    assert!(selected.contains(&waiting), "{screen}");
    assert!(selected.contains("awaiting review") && selected.contains("planning"));
    assert!(
        row(&screen, &queued).unwrap().contains("queued"),
        "{screen}"
    );
    // The detail pane: the plan, the agent's output, and what to do.
    assert!(screen.contains("1. a login page"), "{screen}");
    assert!(screen.contains("thinking about the plan"), "{screen}");
    assert!(screen.contains("a approve"), "{screen}");

    tmux.keys(&["a"]);
    // The work stage runs in the background, and the view follows it without a key press.
    let screen = tmux.wait_for("work to wait for review", |screen| {
        row(screen, &waiting).is_some_and(|r| r.contains("work") && r.contains("awaiting review"))
    });
    assert!(screen.contains("writing the login page"), "{screen}");
    assert_eq!(
        s.at(&waiting),
        ("awaiting_review".to_string(), "work".to_string())
    );

    tmux.keys(&["q"]);
    tmux.assert_restored();
}

#[test]
fn r_sends_typed_feedback_to_the_agent() {
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [artifact("# Plan v1"), artifact("# Plan v2")]}),
    );
    let (id, _) = s.new_trak("Add login", &[]);
    let tmux = open_ui(&s);
    tmux.wait_for("the waiting trak", |screen| row(screen, &id).is_some());

    tmux.keys(&["r"]);
    tmux.wait_for("the feedback line", |screen| screen.contains("feedback:"));
    tmux.type_text("use PKCE");
    tmux.wait_for("the typed feedback", |screen| screen.contains("use PKCE"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the second plan, waiting for review", |screen| {
        screen.contains("# Plan v2")
            && row(screen, &id).is_some_and(|r| r.contains("awaiting review"))
    });

    let prompt = s.prompt("planning", 2);
    assert!(
        prompt.contains("use PKCE"),
        "the feedback must reach the agent:\n{prompt}"
    );
    assert_eq!(
        s.at(&id),
        ("awaiting_review".to_string(), "planning".to_string())
    );

    // Esc leaves the line editor without sending anything.
    tmux.keys(&["r"]);
    tmux.wait_for("the feedback line", |screen| screen.contains("feedback:"));
    tmux.type_text("never mind");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the footer's keys", |screen| screen.contains("q quit"));
    tmux.keys(&["q"]);
    tmux.assert_restored();
    assert_eq!(s.runs("planning"), 2);
}

#[test]
fn a_traks_spend_shows_against_its_budget_in_the_list_and_the_detail() {
    let usage = json!({"input_tokens": 1000, "output_tokens": 100, "cost_usd": 0.4});
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [{"result": {"type": "artifact", "content": "# Plan", "usage": usage}}]}),
    );
    let (capped, _) = s.new_trak("Capped", &["--budget", "5"]);
    let tmux = open_ui(&s);
    let screen = tmux.wait_for("the capped trak", |s| row(s, &capped).is_some());
    assert!(
        row(&screen, &capped).unwrap().contains("$0.40 / $5.00"),
        "{screen}"
    );
    assert!(
        screen.contains("spent $0.4000 (1000 in / 100 out tokens) of $5.00"),
        "{screen}"
    );
    tmux.keys(&["q"]);
    tmux.assert_restored();
}

#[test]
fn traks_moved_by_another_process_show_up_without_a_key() {
    let s = Sandbox::review_flow("", json!({"planning": [artifact("# Plan")]}));
    let (first, _) = s.new_trak("Add login", &[]);
    let tmux = open_ui(&s);
    tmux.wait_for("the first trak", |screen| row(screen, &first).is_some());

    // Another terminal creates a trak and approves the first one.
    let (second, _) = s.new_trak("Fix the logout", &["--no-run"]);
    tmux.wait_for("the new trak", |screen| {
        row(screen, &second).is_some_and(|r| r.contains("queued"))
    });
    s.ork_ok(&["approve", &first, "--no-run"]);
    tmux.wait_for("the approved trak at work", |screen| {
        row(screen, &first).is_some_and(|r| r.contains("work") && r.contains("queued"))
    });

    // Ctrl-C quits too, and restores the terminal.
    tmux.keys(&["C-c"]);
    tmux.assert_restored();
}

#[test]
fn the_filter_narrows_the_list_and_d_shows_the_diff() {
    let s = Sandbox::review_flow(
        "",
        json!({
            "planning": [{"write": {"login.rs": "fn login() {}\n"}, "result": {"type": "artifact", "content": "# Plan"}}],
        }),
    );
    let (login, _) = s.new_trak("Add login", &[]);
    let (logout, _) = s.new_trak("Fix logout", &["--no-run"]);
    let tmux = open_ui(&s);
    tmux.wait_for("both traks", |screen| {
        row(screen, &login).is_some() && row(screen, &logout).is_some()
    });

    tmux.keys(&["/"]);
    tmux.type_text("logout");
    tmux.wait_for("only the matching trak", |screen| {
        row(screen, &logout).is_some() && row(screen, &login).is_none()
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("both traks again", |screen| {
        row(screen, &login).is_some() && row(screen, &logout).is_some()
    });

    // The selection is still the waiting trak; d shows its code against main.
    tmux.keys(&["d"]);
    let screen = tmux.wait_for("the diff", |screen| screen.contains("diff of"));
    assert!(screen.contains("+fn login() {}"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the list again", |screen| screen.contains("q quit"));
    tmux.keys(&["q"]);
    tmux.assert_restored();
}

#[test]
fn status_is_coloured_on_a_terminal_unless_no_color_is_set() {
    let s = Sandbox::review_flow("", json!({"planning": [artifact("# Plan")]}));
    let (id, _) = s.new_trak("Add login", &[]);
    let tmux = Tmux::start(&s);
    let ork = env!("CARGO_BIN_EXE_ork");
    tmux.type_text(&format!("{ork} status; echo end-of-status"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the status table", |screen| {
        screen.contains("\nend-of-status")
    });
    let coloured = tmux.screen_with_escapes();
    let row = coloured
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no row for {id}:\n{coloured}"));
    // Yellow: waits for a human.
    assert!(row.contains("\x1b[33m"), "{row:?}");

    tmux.type_text(&format!(
        "clear; NO_COLOR=1 {ork} status; echo end-of-plain"
    ));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the plain table", |screen| {
        screen.contains("\nend-of-plain")
    });
    let plain = tmux.screen_with_escapes();
    let row = plain
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no row for {id}:\n{plain}"));
    assert!(!row.contains('\x1b'), "{row:?}");
}

#[test]
fn a_terminate_signal_from_elsewhere_restores_the_terminal_too() {
    let s = Sandbox::review_flow("", json!({"planning": [artifact("# Plan")]}));
    let (id, _) = s.new_trak("Add login", &[]);
    let tmux = open_ui(&s);
    tmux.wait_for("the trak", |screen| row(screen, &id).is_some());
    let shell = tmux.tmux(&["display-message", "-p", "-t", "0", "#{pane_pid}"]);
    let shell = success(&shell, "tmux display-message").trim().to_string();
    let ui = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
    let ui = success(&ui, "pgrep the UI").trim().to_string();
    assert!(
        !ui.is_empty() && !ui.contains('\n'),
        "one child of the shell: {ui:?}"
    );
    success(
        &Command::new("kill").args(["-TERM", &ui]).output().unwrap(),
        "kill -TERM",
    );
    tmux.assert_restored();
}

#[test]
fn n_answers_questions_and_t_retries_a_failed_stage() {
    let s = Sandbox::review_flow(
        "",
        json!({
            "planning": [
                {"result": {"type": "questions", "questions": [
                    {"question": "Which OAuth provider?", "options": ["GitHub", "Google"]}]}},
                artifact("# Plan"),
            ],
            "work": [
                {"exit": 1}, {"exit": 1}, {"exit": 1}, {"exit": 1}, {"exit": 1},
                artifact("work done"),
            ],
        }),
    );
    let (id, _) = s.new_trak("Add login", &[]);
    let tmux = open_ui(&s);
    tmux.wait_for("the question", |screen| {
        screen.contains("Which OAuth provider?")
    });

    tmux.keys(&["n"]);
    tmux.wait_for("the answer line", |screen| {
        screen.contains(&format!("Answer {id}:"))
    });
    tmux.type_text("GitHub");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the plan, waiting for review", |screen| {
        row(screen, &id).is_some_and(|r| r.contains("planning") && r.contains("awaiting review"))
    });
    let prompt = s.prompt("planning", 2);
    assert!(
        prompt.contains("GitHub"),
        "the answer must reach the agent:\n{prompt}"
    );

    // Work fails until its attempts run out; t runs it again.
    tmux.keys(&["a"]);
    tmux.wait_for("work to fail", |screen| {
        row(screen, &id).is_some_and(|r| r.contains("work") && r.contains("failed"))
    });
    let failed_runs = s.runs("work");
    tmux.keys(&["t"]);
    // The fake agent saves each run's prompt: the next one's file shows the run started.
    let next_prompt = s.agent_dir.join(format!("work-{}.prompt", failed_runs + 1));
    tmux.wait_for("work to run again", |_| next_prompt.exists());
    tmux.keys(&["q"]);
    tmux.assert_restored();
}

/// A refused key says what `ork approve` says, in the engine's words, and the footer offers
/// only the keys the selected trak allows.
#[test]
fn a_refused_key_reads_as_the_refused_command_does() {
    let s = Sandbox::review_flow("", json!({"planning": [artifact("# Plan")]}));
    let (id, _) = s.new_trak("Queued thing", &["--no-run"]);
    let refused = s.ork(&["approve", &id]);
    let cli_error = common::ork_error(&refused, "ork approve on a queued trak");
    let words = format!("cannot approve trak {id}: it is queued at planning");
    assert!(cli_error.contains(&format!("{words}.")), "{cli_error}");

    let tmux = open_ui(&s);
    let screen = tmux.wait_for("the queued trak", |screen| row(screen, &id).is_some());
    let footer = screen.lines().rev().find(|l| l.contains("q quit")).unwrap();
    assert!(
        !footer.contains("a approve") && !footer.contains("t retry"),
        "the footer offers what a queued trak refuses: {footer}"
    );
    tmux.keys(&["a"]);
    let screen = tmux.wait_for("the refusal", |screen| screen.contains(&words));
    assert_eq!(
        s.at(&id),
        ("queued".to_string(), "planning".to_string()),
        "{screen}"
    );
    tmux.keys(&["q"]);
    tmux.assert_restored();
}

#[test]
fn an_approve_that_lands_the_trak_asks_first_and_r_on_a_done_trak_is_refused_before_typing() {
    let s = Sandbox::review_flow(
        "",
        json!({
            "planning": [artifact("# Plan")],
            "work": [{"write": {"login.txt": "login\n"}, "result": {"type": "artifact", "content": "login written"}}],
        }),
    );
    let (id, _) = s.new_trak("Add login", &[]);
    s.ork_ok(&["approve", &id]);
    assert_eq!(
        s.at(&id),
        ("awaiting_review".to_string(), "work".to_string())
    );
    let main = s.repo.git(&["rev-parse", "main"]);
    let tmux = open_ui(&s);
    tmux.wait_for("the trak at work", |screen| row(screen, &id).is_some());

    // The last stage: `a` says where the trak goes, and any key but `y` leaves it waiting.
    tmux.keys(&["a"]);
    tmux.wait_for("the question", |screen| {
        screen.contains("the trak then merges into main") && screen.contains("y approves")
    });
    tmux.keys(&["n"]);
    tmux.wait_for("the cancel", |screen| screen.contains("Not approved"));
    assert_eq!(s.at(&id).0, "awaiting_review");
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main);

    tmux.keys(&["a"]);
    tmux.wait_for("the question again", |screen| screen.contains("y approves"));
    tmux.keys(&["y"]);
    tmux.wait_for("the trak merged", |screen| {
        row(screen, &id).is_some_and(|r| r.contains("done"))
    });
    assert_ne!(s.repo.git(&["rev-parse", "main"]), main);

    // A done trak cannot be rejected: said at once, before a line is typed.
    tmux.keys(&["r"]);
    let screen = tmux.wait_for("the refusal", |screen| {
        screen.contains(&format!("cannot reject trak {id}"))
    });
    assert!(
        !screen.contains("feedback: "),
        "no line to type into:\n{screen}"
    );
    tmux.keys(&["q"]);
    tmux.assert_restored();
}

#[test]
fn a_race_shows_its_attempts_side_by_side_and_a_digit_picks_one() {
    let s = Sandbox::new(&crate::races::workflow("human", false), json!({}));
    s.set_race_plan(crate::races::racers());
    let (id, _) = s.new_trak("Add a greeting", &[]);
    assert_eq!(s.at(&id).0, "awaiting_review");
    let tmux = open_ui(&s);
    let screen = tmux.wait_for("the race's attempts", |s| s.contains("race: work"));
    for attempt in ["1. fake: failed", "2. fake: passed", "3. fake: passed"] {
        assert!(screen.contains(attempt), "{attempt}:\n{screen}");
    }
    // Each attempt's files, under it.
    assert!(
        screen.contains("two.txt") && screen.contains("three.txt"),
        "{screen}"
    );
    assert!(screen.contains("1-9 pick"), "{screen}");

    tmux.keys(&["2"]);
    common::wait_until(SCREEN_LIMIT, "the picked trak to merge", || {
        s.at(&id).0 == "done"
    });
    let files = s.repo.tree_files("main");
    assert!(files.contains(&"two.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"three.txt".to_string()), "{files:?}");
    tmux.keys(&["q"]);
    tmux.assert_restored();
}
