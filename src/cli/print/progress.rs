//! A drive's progress on the terminal: each step with the time since the command started, agent
//! and gate output indented, warnings in their place, and a spinner line while an agent is silent.

use super::*;

/// Prints the engine's progress: steps with the time since the command started, agent and gate
/// output indented; on a terminal, a spinner line with the current step and its elapsed time
/// shows that work goes on while an agent is silent.
pub struct Terminal {
    start: std::time::Instant,
    spinner: Option<Spinner>,
}

impl Terminal {
    pub fn new() -> Terminal {
        use std::io::IsTerminal;
        Terminal {
            start: std::time::Instant::now(),
            spinner: std::io::stderr().is_terminal().then(Spinner::start),
        }
    }

    fn elapsed(&self) -> String {
        clock(self.start.elapsed())
    }

    /// Prints one line of progress, taking the spinner's line out of the way first. Steps
    /// quote what agents said: only text, newlines and tabs reach the terminal.
    fn print(&self, text: &str) {
        let _guard = self.spinner.as_ref().map(Spinner::pause);
        let text = ork::engine::process::output::printable(text);
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

impl ork::engine::Reporter for Terminal {
    fn step(&mut self, text: &str) {
        if let Some(spinner) = &self.spinner {
            spinner.set_label(text);
        }
        self.print(&format!("[{}] ▸ {text}", self.elapsed()));
    }

    fn line(&mut self, text: &str) {
        self.print(&format!("        │ {text}"));
    }

    /// A warning on the way is a step of the run's story, in its place among the others.
    fn warning(&mut self, text: &str) {
        self.print(&format!("[{}] ▸ warning: {text}", self.elapsed()));
    }

    /// Rings the terminal's bell when a trak starts waiting (on a terminal only).
    fn stopped(&mut self, trak: &Trak) {
        if ork::engine::waits_for_human(trak.state.status) && std::io::stderr().is_terminal() {
            let _ = write!(std::io::stderr().lock(), "\x07");
        }
    }
}

/// "01:05".
pub(super) fn clock(elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs();
    format!("{:02}:{:02}", secs / 60, secs % 60)
}

/// A line on stderr redrawn ten times a second: a frame, the current step, its elapsed time.
pub(super) struct Spinner {
    state: std::sync::Arc<std::sync::Mutex<SpinnerState>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(super) struct SpinnerState {
    label: String,
    since: std::time::Instant,
}

pub(super) const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub(super) const CLEAR_LINE: &str = "\r\x1b[2K";

impl Spinner {
    fn start() -> Spinner {
        use std::sync::atomic::Ordering;
        let state = std::sync::Arc::new(std::sync::Mutex::new(SpinnerState {
            label: String::new(),
            since: std::time::Instant::now(),
        }));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut frame = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(state) = state.lock()
                        && !state.label.is_empty()
                    {
                        let label: String = state.label.chars().take(60).collect();
                        let _ = write!(
                            std::io::stderr().lock(),
                            "{CLEAR_LINE}{} {label}  {}",
                            FRAMES[frame % FRAMES.len()],
                            clock(state.since.elapsed())
                        );
                    }
                    frame += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            })
        };
        Spinner {
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn set_label(&self, text: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.label = text.to_string();
            state.since = std::time::Instant::now();
        }
    }

    /// Clears the spinner's line and holds it off until the guard is dropped.
    fn pause(&self) -> Option<std::sync::MutexGuard<'_, SpinnerState>> {
        let guard = self.state.lock().ok();
        let _ = write!(std::io::stderr().lock(), "{CLEAR_LINE}");
        guard
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = write!(std::io::stderr().lock(), "{CLEAR_LINE}");
    }
}
