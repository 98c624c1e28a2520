//! What `ork ui` shows and what a key does to it. No terminal and no git here: the state is
//! filled by the caller ([`App::set_traks`], [`App::detail`]) and a key returns what to do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use std::collections::HashMap;

use ork::config::workflow::Workflow;
use ork::engine::HumanDecision;
use ork::engine::actions::{self, Action};
use ork::engine::budget::{SpendView, spend_views};
use ork::store::Trak;

use super::detail::Detail;
use crate::cli::view;

/// The whole view's state.
pub struct App {
    /// Every trak, in list order (subtraks after their parent).
    pub traks: Vec<Listed>,
    /// The traks that show `running` but whose run on this machine was killed.
    pub interrupted: std::collections::HashSet<String>,
    /// The selected trak's id, kept across refreshes.
    pub selected: Option<String>,
    /// Only traks whose id, title, stage or status contains this are listed.
    pub filter: String,
    pub mode: Mode,
    /// The selected trak's detail.
    pub detail: Option<Detail>,
    /// A line of feedback: what an action did, or why it could not.
    pub message: Option<String>,
    /// A full-screen text (the diff, the full log) over the view.
    pub overlay: Option<Overlay>,
    /// Each trak's spend (with its subtraks') against its budget, as `ork status` shows it.
    pub spend: HashMap<String, SpendView>,
    /// For each trak whose approval now would land it (no stage after this one waits for a
    /// person): where it lands, "merges into main". Such an approve is asked about first.
    pub lands_on_approve: HashMap<String, String>,
    /// The last line typed for a decision, kept until that decision is recorded: a decision
    /// that fails (the trak moved meanwhile) leaves it to be sent again, not typed again.
    pub typed: Option<(String, Purpose, String)>,
}

/// One row of the list.
pub struct Listed {
    pub trak: Trak,
    /// 0 for a trak, 1 for its subtraks, and so on.
    pub depth: usize,
}

/// What the keys do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Browse,
    /// A line being typed for `purpose`.
    Edit {
        purpose: Purpose,
        text: String,
    },
    /// An approve that lands the trak, waiting for `y`.
    Confirm {
        id: String,
        question: String,
    },
}

/// What a typed line is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Purpose {
    Reject,
    Answer,
    Filter,
}

/// A scrollable text over the whole view.
pub struct Overlay {
    pub title: String,
    pub lines: Vec<String>,
    pub scroll: usize,
}

/// What the caller must do after a key.
pub enum Request {
    Nothing,
    Quit,
    /// Record a decision on the selected trak, then run what comes next in the background.
    Decide(String, HumanDecision),
    ShowDiff(String),
    ShowLog(String),
}

impl App {
    pub fn new() -> App {
        App {
            traks: Vec::new(),
            interrupted: Default::default(),
            selected: None,
            filter: String::new(),
            mode: Mode::Browse,
            detail: None,
            message: None,
            overlay: None,
            spend: HashMap::new(),
            lands_on_approve: HashMap::new(),
            typed: None,
        }
    }

    /// Replaces the list; the first time, selects the first trak that waits for a human.
    /// `workflow` gives the flows' budgets.
    pub fn set_traks(&mut self, traks: Vec<Trak>, workflow: &Workflow) {
        self.spend = spend_views(Some(workflow), &traks);
        self.lands_on_approve = traks
            .iter()
            .filter_map(|t| lands_on_approve(workflow, t).map(|what| (t.id.clone(), what)))
            .collect();
        self.traks = in_list_order(traks);
        let still_there = self
            .selected
            .as_ref()
            .is_some_and(|id| self.traks.iter().any(|l| &l.trak.id == id));
        if !still_there {
            self.selected = self
                .traks
                .iter()
                .find(|l| ork::engine::waits_for_human(l.trak.state.status))
                .or(self.traks.first())
                .map(|l| l.trak.id.clone());
        }
    }

    /// The rows the filter lets through.
    pub fn visible(&self) -> Vec<&Listed> {
        let filter = self.filter.to_lowercase();
        self.traks
            .iter()
            .filter(|l| {
                let s = &l.trak.state;
                filter.is_empty()
                    || [
                        &l.trak.id,
                        &s.title,
                        &s.stage,
                        &s.status.as_str().to_string(),
                    ]
                    .iter()
                    .any(|field| field.to_lowercase().contains(&filter))
            })
            .collect()
    }

    /// The selected trak, if it is listed.
    pub fn selected_trak(&self) -> Option<&Trak> {
        let id = self.selected.as_ref()?;
        self.visible()
            .into_iter()
            .find(|l| &l.trak.id == id)
            .map(|l| &l.trak)
    }

    /// The selected row's index among the visible ones.
    pub fn selected_index(&self) -> Option<usize> {
        let id = self.selected.as_ref()?;
        self.visible().iter().position(|l| &l.trak.id == id)
    }

    /// Moves the selection `delta` rows, staying in the list.
    fn move_selection(&mut self, delta: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let current = self.selected_index().unwrap_or(0) as isize;
        let next = (current + delta).clamp(0, visible.len() as isize - 1) as usize;
        self.selected = Some(visible[next].trak.id.clone());
    }

    /// Handles one key press.
    pub fn on_key(&mut self, key: KeyEvent) -> Request {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Request::Quit;
        }
        if self.overlay.is_some() {
            self.on_overlay_key(key);
            return Request::Nothing;
        }
        match &self.mode {
            Mode::Browse => self.on_browse_key(key),
            Mode::Edit { .. } => self.on_edit_key(key),
            Mode::Confirm { .. } => self.on_confirm_key(key),
        }
    }

    fn on_browse_key(&mut self, key: KeyEvent) -> Request {
        self.message = None;
        match key.code {
            KeyCode::Char('q') => return Request::Quit,
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char('/') => self.edit(Purpose::Filter),
            KeyCode::Char(c @ ('a' | 'r' | 'n' | 't' | 'd' | 'l')) => {
                let Some(trak) = self.selected_trak().cloned() else {
                    self.message = Some("No trak selected.".into());
                    return Request::Nothing;
                };
                return self.act_on(c, &trak);
            }
            // A race's attempts side by side: a digit picks that attempt as the winner.
            KeyCode::Char(c @ '1'..='9') => {
                let Some(trak) = self.selected_trak().cloned() else {
                    self.message = Some("No trak selected.".into());
                    return Request::Nothing;
                };
                if !ork::engine::waits_for_pick(&trak) {
                    self.message = Some(format!(
                        "{} waits for no race's pick: a digit picks an attempt of a race",
                        trak.id
                    ));
                    return Request::Nothing;
                }
                let no = c.to_digit(10).unwrap_or_default();
                return Request::Decide(trak.id.clone(), HumanDecision::Pick(no));
            }
            _ => {}
        }
        Request::Nothing
    }

    /// The request key `c` makes for `trak`, or a line saying why not: the engine's action
    /// table decides, in the words the commands use.
    fn act_on(&mut self, c: char, trak: &Trak) -> Request {
        if let Some(action) = action_of_key(c)
            && let Err(refused) = actions::check(trak, action)
        {
            self.message = Some(refused.headline());
            return Request::Nothing;
        }
        let id = trak.id.clone();
        match c {
            // Landing is the one step no later key undoes: asked about first (as lazygit asks
            // before what cannot be taken back, and not before what can).
            'a' => match self.lands_on_approve.get(&id) {
                Some(what) => {
                    let question = format!(
                        "Approve {} of {id}: the trak then {what}. y approves · any other key cancels",
                        trak.state.stage
                    );
                    self.mode = Mode::Confirm { id, question };
                }
                None => return Request::Decide(id, HumanDecision::Approve),
            },
            'r' => self.edit(Purpose::Reject),
            'n' => self.edit(Purpose::Answer),
            // A change that adds a secret needs `ork retry --allow-secret`, after a look at it.
            't' => {
                return Request::Decide(
                    id,
                    HumanDecision::Retry {
                        allow_secrets: false,
                    },
                );
            }
            'd' => return Request::ShowDiff(id),
            'l' => return Request::ShowLog(id),
            _ => {}
        }
        Request::Nothing
    }

    fn edit(&mut self, purpose: Purpose) {
        let selected = self.selected.clone().unwrap_or_default();
        let text = match (&self.typed, purpose) {
            (_, Purpose::Filter) => self.filter.clone(),
            // What was typed for this trak and failed to be recorded comes back.
            (Some((id, kept, text)), _) if *id == selected && *kept == purpose => text.clone(),
            _ => String::new(),
        };
        self.mode = Mode::Edit { purpose, text };
    }

    fn on_confirm_key(&mut self, key: KeyEvent) -> Request {
        let Mode::Confirm { id, .. } = std::mem::replace(&mut self.mode, Mode::Browse) else {
            return Request::Nothing;
        };
        if key.code == KeyCode::Char('y') {
            return Request::Decide(id, HumanDecision::Approve);
        }
        self.message = Some(format!("Not approved: {id} still waits for you."));
        Request::Nothing
    }

    fn on_edit_key(&mut self, key: KeyEvent) -> Request {
        let Mode::Edit { purpose, text } = &mut self.mode else {
            return Request::Nothing;
        };
        let purpose = *purpose;
        match key.code {
            KeyCode::Esc => {
                if purpose == Purpose::Filter {
                    self.filter.clear();
                }
                self.mode = Mode::Browse;
                return Request::Nothing;
            }
            KeyCode::Enter => {
                let line = std::mem::take(text);
                self.mode = Mode::Browse;
                return self.send(purpose, line);
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
        // The filter applies as it is typed.
        if let Mode::Edit {
            purpose: Purpose::Filter,
            text,
        } = &self.mode
        {
            self.filter = text.clone();
        }
        Request::Nothing
    }

    /// What a finished line asks for.
    fn send(&mut self, purpose: Purpose, line: String) -> Request {
        if purpose == Purpose::Filter {
            self.filter = line;
            return Request::Nothing;
        }
        let Some(id) = self.selected_trak().map(|t| t.id.clone()) else {
            return Request::Nothing;
        };
        if line.trim().is_empty() {
            self.message = Some("Nothing sent: the line was empty.".into());
            return Request::Nothing;
        }
        self.typed = Some((id.clone(), purpose, line.clone()));
        let decision = match purpose {
            Purpose::Reject => HumanDecision::Reject {
                feedback: line,
                route_to: None,
            },
            Purpose::Answer | Purpose::Filter => HumanDecision::Answer(line),
        };
        Request::Decide(id, decision)
    }

    fn on_overlay_key(&mut self, key: KeyEvent) {
        let Some(overlay) = &mut self.overlay else {
            return;
        };
        let last = overlay.lines.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => self.overlay = None,
            KeyCode::Up | KeyCode::Char('k') => overlay.scroll = overlay.scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => overlay.scroll = (overlay.scroll + 1).min(last),
            KeyCode::PageUp => overlay.scroll = overlay.scroll.saturating_sub(20),
            KeyCode::PageDown | KeyCode::Char(' ') => {
                overlay.scroll = (overlay.scroll + 20).min(last)
            }
            KeyCode::Home | KeyCode::Char('g') => overlay.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => overlay.scroll = last,
            _ => {}
        }
    }
}

/// Where `trak` lands if approved now, when no stage after its current one waits for a person
/// (every later stage `review = "auto"`): "merges into main", "merges into its parent's branch
/// ork/<id>", "opens a pull request on main". `None` for a trak not awaiting review, or whose
/// approval leads to another stage a person reviews.
fn lands_on_approve(workflow: &Workflow, trak: &Trak) -> Option<String> {
    use ork::config::workflow::{Review, Strategy};
    let s = &trak.state;
    if s.status != ork::store::state::Status::AwaitingReview {
        return None;
    }
    let flow = workflow.flows.get(&s.flow)?;
    let at = flow.stages.iter().position(|stage| stage.name == s.stage)?;
    let person_later = flow.stages[at + 1..]
        .iter()
        .any(|stage| stage.review == Review::Human || stage.subtraks.is_some());
    if person_later {
        return None;
    }
    Some(match (&s.parent, flow.strategy) {
        (Some(parent), _) => format!("merges into its parent's branch ork/{parent}"),
        (None, Strategy::Pr) => format!("opens a pull request on {}", s.base),
        (None, _) => format!("merges into {}", s.base),
    })
}

/// The traks in the order of [`view::tree_order`], which `ork status` lists them in too.
fn in_list_order(traks: Vec<Trak>) -> Vec<Listed> {
    view::tree_order(&traks)
        .into_iter()
        .map(|(depth, trak)| Listed {
            trak: trak.clone(),
            depth,
        })
        .collect()
}

/// The keys that decide, each with the action it is.
pub const ACTION_KEYS: [(char, Action); 4] = [
    ('a', Action::Approve),
    ('r', Action::Reject),
    ('n', Action::Answer),
    ('t', Action::Retry),
];

fn action_of_key(c: char) -> Option<Action> {
    ACTION_KEYS.iter().find(|(k, _)| *k == c).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queued trak, a subtrak of `parent` if given.
    fn trak(id: &str, parent: Option<&str>) -> Trak {
        ork::store::testing::trak(id, parent, ork::store::state::Status::Queued, "work")
    }

    #[test]
    fn subtraks_list_indented_right_after_their_parent() {
        let listed = in_list_order(vec![
            trak("a-parent", None),
            trak("b-other", None),
            trak("c-child", Some("a-parent")),
            trak("d-grandchild", Some("c-child")),
            trak("e-orphan", Some("gone")),
        ]);
        let rows: Vec<(&str, usize)> = listed
            .iter()
            .map(|l| (l.trak.id.as_str(), l.depth))
            .collect();
        assert_eq!(
            rows,
            [
                ("a-parent", 0),
                ("c-child", 1),
                ("d-grandchild", 2),
                ("b-other", 0),
                ("e-orphan", 0),
            ]
        );
    }

    fn press(app: &mut App, code: KeyCode) -> Request {
        app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn feedback_typed_for_a_decision_that_failed_comes_back_with_the_key() {
        let waiting = ork::store::testing::trak(
            "a-trak",
            None,
            ork::store::state::Status::AwaitingReview,
            "work",
        );
        let mut app = App::new();
        app.traks = in_list_order(vec![waiting]);
        app.selected = Some("a-trak".into());
        press(&mut app, KeyCode::Char('r'));
        for c in "use PKCE".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        let sent = press(&mut app, KeyCode::Enter);
        assert!(matches!(sent, Request::Decide(ref id, _) if id == "a-trak"));
        // The caller could not record it (it keeps `typed`): `r` brings the line back.
        press(&mut app, KeyCode::Char('r'));
        assert_eq!(
            app.mode,
            Mode::Edit {
                purpose: Purpose::Reject,
                text: "use PKCE".into()
            }
        );
        // Recorded, it is gone: the next `r` starts empty.
        app.mode = Mode::Browse;
        app.typed = None;
        press(&mut app, KeyCode::Char('r'));
        assert_eq!(
            app.mode,
            Mode::Edit {
                purpose: Purpose::Reject,
                text: String::new()
            }
        );
    }
}
