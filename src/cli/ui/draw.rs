//! Drawing the view: a header, the trak list beside the selected trak's detail, a line of
//! feedback, and the keys (or the line being typed) in the footer.

use chrono::Utc;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use ork::engine::budget::SpendView;
use ork::store::Trak;
use ork::store::event::{Budget, Usage};
use ork::store::state::Status;

use super::app::{ACTION_KEYS, App, Listed, Mode, Overlay, Purpose};
use super::detail::{Detail, EXCERPT_LINES, clean};
use crate::cli::view::{self, Tone};

/// The keys the footer lists: the decisions only where the selected trak allows them (the
/// engine's action table says so), the rest always.
fn keys(app: &App) -> String {
    let mut keys = vec!["↑/↓ j/k select".to_string()];
    if let Some(trak) = app.selected_trak() {
        let allowed = ork::engine::actions::allowed(trak);
        keys.extend(
            ACTION_KEYS
                .iter()
                .filter(|(_, action)| allowed.contains(action))
                .map(|(key, action)| format!("{key} {action}")),
        );
        if ork::engine::waits_for_pick(trak) {
            keys.push("1-9 pick".to_string());
        }
    }
    keys.extend(["d diff", "l log", "/ filter", "q quit"].map(String::from));
    keys.join(" · ")
}

pub fn frame(frame: &mut Frame, app: &App) {
    let [header, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(header_line(app)), header);
    let [list, detail] = Layout::horizontal([
        Constraint::Max(list_width(app)),
        Constraint::Min(MIN_DETAIL_WIDTH),
    ])
    .areas(body);
    trak_list(frame, app, list);
    detail_pane(frame, app, detail);
    if let Some(text) = &app.message {
        frame.render_widget(
            Paragraph::new(text.as_str()).style(Style::new().fg(Color::Yellow)),
            message,
        );
    }
    footer_line(frame, app, footer);
    if let Some(overlay) = &app.overlay {
        overlay_pane(frame, overlay, body);
    }
}

fn header_line(app: &App) -> Line<'static> {
    let waiting = app
        .traks
        .iter()
        .filter(|l| ork::engine::waits_for_human(l.trak.state.status))
        .count();
    let mut spans = vec![
        Span::styled(" ork ui ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            " {} trak(s), {waiting} waiting for you",
            app.traks.len()
        )),
    ];
    if !app.filter.is_empty() {
        spans.push(Span::raw(format!("  ·  filter: {}", app.filter)));
    }
    Line::from(spans)
}

/// The detail pane is never narrower than this: the list's ids are cut first.
const MIN_DETAIL_WIDTH: u16 = 40;
/// The widths of the STAGE (at least), STATUS, AGE and COST columns.
const STAGE_WIDTH: usize = 10;
const STATUS_WIDTH: u16 = 15;
const AGE_WIDTH: u16 = 4;
const COST_WIDTH: usize = 6;

/// A trak's COST cell: what it spent with its subtraks, against its budget where it has one.
fn cost_cell(app: &App, trak: &Trak) -> String {
    let cell = app
        .spend
        .get(&trak.id)
        .map(|v| v.cell())
        .unwrap_or_default();
    if cell.is_empty() {
        "-".to_string()
    } else {
        cell
    }
}

/// The COST column is as wide as its widest cell ("$1.20 / $5.00" under a budget).
fn cost_width(app: &App) -> u16 {
    app.traks
        .iter()
        .map(|l| cost_cell(app, &l.trak).chars().count())
        .max()
        .unwrap_or(0)
        .max(COST_WIDTH) as u16
}

/// The widest id (indented) and stage of the list.
fn column_widths(app: &App) -> (usize, usize) {
    let id = app
        .traks
        .iter()
        .map(|l| l.trak.id.chars().count() + 2 * l.depth)
        .max()
        .unwrap_or(0)
        .max(4);
    let stage = app
        .traks
        .iter()
        .map(|l| l.trak.state.stage.chars().count())
        .max()
        .unwrap_or(0)
        .max(STAGE_WIDTH);
    (id, stage)
}

/// What the list needs to show every column whole: borders, the selection mark, the columns
/// and the gaps between them.
fn list_width(app: &App) -> u16 {
    let (id, stage) = column_widths(app);
    let fixed = STATUS_WIDTH + AGE_WIDTH + cost_width(app);
    (2 + 2 + id + stage + 4) as u16 + fixed
}

fn trak_list(frame: &mut Frame, app: &App, area: Rect) {
    let visible = app.visible();
    let now = Utc::now();
    let rows: Vec<Row> = visible
        .iter()
        .map(|l| {
            let interrupted = app.interrupted.contains(&l.trak.id);
            trak_row(l, interrupted, cost_cell(app, &l.trak), now)
        })
        .collect();
    let empty = app.traks.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Min(column_widths(app).0 as u16),
            Constraint::Length(column_widths(app).1 as u16),
            Constraint::Length(STATUS_WIDTH),
            Constraint::Length(AGE_WIDTH),
            Constraint::Length(cost_width(app)),
        ],
    )
    .header(
        Row::new(["TRAK", "STAGE", "STATUS", "AGE", "COST"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .highlight_symbol("▶ ")
    .block(Block::bordered().title(if empty {
        " traks: none yet (ork trak new \"…\") "
    } else {
        " traks "
    }));
    let mut state = TableState::default().with_selected(app.selected_index());
    frame.render_stateful_widget(table, area, &mut state);
}

fn trak_row(
    listed: &Listed,
    interrupted: bool,
    cost: String,
    now: chrono::DateTime<Utc>,
) -> Row<'static> {
    let s = &listed.trak.state;
    let id = format!("{}{}", "  ".repeat(listed.depth), listed.trak.id);
    let mut title = id;
    if let Some(pr) = pull_request(&listed.trak) {
        title.push_str(&format!(" {pr}"));
    }
    Row::new([
        Cell::from(title),
        Cell::from(s.stage.clone()),
        Cell::from(view::status_word(&listed.trak, interrupted, None))
            .style(tone_style(view::tone(s.status, interrupted))),
        Cell::from(crate::cli::print::age(s.created_at, now)),
        Cell::from(cost),
    ])
}

/// The trak's pull request, shown beside its id: "#12".
fn pull_request(trak: &Trak) -> Option<String> {
    trak.state
        .pull_request
        .as_ref()
        .map(|pr| format!("#{}", pr.number))
}

/// A tone's colour on the screen, as `ork status` paints it on a terminal.
fn tone_style(tone: Tone) -> Style {
    match tone {
        Tone::Waiting => Style::new().fg(Color::Yellow),
        Tone::Bad => Style::new().fg(Color::Red),
        Tone::Good => Style::new().fg(Color::Green),
        Tone::Busy => Style::new().fg(Color::Cyan),
        Tone::Plain => Style::new(),
    }
}

fn detail_pane(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(" detail ");
    let (Some(trak), Some(detail)) = (app.selected_trak(), app.detail.as_ref()) else {
        frame.render_widget(Paragraph::new("No trak selected.").block(block), area);
        return;
    };
    let spend = app.spend.get(&trak.id);
    let lines = detail_lines(trak, detail, spend, area.height.saturating_sub(2) as usize);
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The detail pane's lines: who the trak is, what to do next, then its live output (the end of
/// it, sized to what is left of `height`), its latest artifacts and its last gate failure.
fn detail_lines(
    trak: &Trak,
    detail: &Detail,
    spend: Option<&SpendView>,
    height: usize,
) -> Vec<Line<'static>> {
    let s = &trak.state;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::styled(format!("{}  {}", trak.id, s.title), bold),
        Line::from(format!(
            "{}: {}",
            s.flow,
            s.stages
                .iter()
                .map(|n| if *n == s.stage {
                    format!("[{n}]")
                } else {
                    n.clone()
                })
                .collect::<Vec<_>>()
                .join(" → ")
        )),
        Line::from(vec![
            Span::styled(s.status.as_str(), tone_style(view::tone(s.status, false))),
            Span::raw(format!(" at {}, attempt {}", s.stage, s.attempt)),
        ]),
    ];
    lines.extend(spend.and_then(spend_line).map(Line::from));
    lines.extend(rounds_lines(trak).into_iter().map(Line::from));
    lines.push(Line::from(vec![
        Span::styled("next: ", bold),
        Span::raw(next_here(trak, &detail.next)),
    ]));
    if let Some(note) = &s.note {
        lines.extend(excerpt(note, 3).into_iter().map(Line::from));
    }
    for q in &s.questions {
        lines.push(Line::from(format!("? {}", clean(&q.question))));
    }
    let mut after = Vec::new();
    // A failed trak's note already quotes its gate's output.
    let gate = detail.gate.as_ref().filter(|(_, _, output)| {
        let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        s.note.as_ref().is_none_or(|note| !note.contains(first))
    });
    if let Some((stage, attempt, output)) = gate {
        after.push(Line::styled(
            format!("── last gate failure: {stage}, attempt {attempt} ──"),
            bold,
        ));
        after.extend(excerpt(output, EXCERPT_LINES).into_iter().map(Line::from));
    }
    let mut raced = None;
    for race in &detail.races {
        if raced != Some(&race.stage) {
            after.push(Line::styled(format!("── race: {} ──", race.stage), bold));
            raced = Some(&race.stage);
        }
        let a = &race.attempt;
        let gate = match a.gate {
            Some(ork::store::event::RaceGate::Passed) => "passed",
            Some(ork::store::event::RaceGate::Failed) => "failed",
            None => "running",
        };
        after.push(Line::from(format!(
            "{}. {}: {gate}, {} run(s), ${:.4}{}",
            a.no,
            clean(&a.agent),
            a.runs,
            a.usage.cost_usd,
            if race.winner { "  ← winner" } else { "" }
        )));
        after.extend(
            race.stat
                .iter()
                .take(5)
                .map(|l| Line::from(format!("     {l}"))),
        );
    }
    for (name, content) in &detail.artifacts {
        after.push(Line::styled(format!("── artifact: {name} ──"), bold));
        after.extend(excerpt(content, EXCERPT_LINES).into_iter().map(Line::from));
    }
    if let Some((name, tail)) = &detail.live {
        lines.push(Line::styled(format!("── live output: {name} ──"), bold));
        // The live output gets what the rest leaves, at least a few lines: its newest end.
        let room = height
            .saturating_sub(lines.len() + after.len())
            .max(4)
            .min(tail.len());
        lines.extend(
            tail[tail.len() - room..]
                .iter()
                .map(|l| Line::from(l.clone())),
        );
    }
    lines.extend(after);
    lines
}

/// What to do next, in this view's keys where a key does it.
/// "spent $1.2000 (… tokens) of $5.00 with its subtraks": the trak's spend against its budget.
fn spend_line(view: &SpendView) -> Option<String> {
    let spent = &view.spent;
    if *spent == Usage::default() && view.budget == Budget::default() {
        return None;
    }
    let mut line = format!(
        "spent ${:.4} ({} in / {} out tokens)",
        spent.cost_usd, spent.input_tokens, spent.output_tokens
    );
    if view.budget != Budget::default() {
        line.push_str(&format!(" of {}", view.budget.describe()));
    }
    Some(line)
}

/// How many times each route back has sent the trak back so far (docs/design.md rule 13).
fn rounds_lines(trak: &Trak) -> Vec<String> {
    let s = &trak.state;
    let mut lines: Vec<String> = s
        .rounds
        .iter()
        .map(|(stage, n)| format!("rounds: {stage}'s reviewer sent the work back {n} time(s)"))
        .collect();
    if s.integration_rounds > 0 {
        lines.push(format!(
            "rounds: the merge into {} sent it back {} time(s)",
            s.base, s.integration_rounds
        ));
    }
    lines
}

fn next_here(trak: &Trak, next: &str) -> String {
    match trak.state.status {
        Status::AwaitingReview if ork::engine::waits_for_pick(trak) => {
            "1-9 pick that attempt of the race · r reject with feedback".to_string()
        }
        Status::AwaitingReview => "a approve · r reject with feedback".to_string(),
        Status::AwaitingAnswer => "n answer its questions · r reject".to_string(),
        Status::Failed => "t retry · a approve anyway · r reject with feedback".to_string(),
        _ => next.to_string(),
    }
}

/// The first `n` lines of `text`, made safe to draw, with a mark when there is more.
fn excerpt(text: &str, n: usize) -> Vec<String> {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let mut lines: Vec<String> = all.iter().take(n).map(|l| clean(l)).collect();
    if all.len() > n {
        lines.push(format!("… ({} more lines)", all.len() - n));
    }
    lines
}

fn footer_line(frame: &mut Frame, app: &App, area: Rect) {
    if let Mode::Confirm { question, .. } = &app.mode {
        let line = Span::styled(question.clone(), Style::new().add_modifier(Modifier::BOLD));
        frame.render_widget(Paragraph::new(Line::from(line)), area);
        return;
    }
    let Mode::Edit { purpose, text } = &app.mode else {
        let keys = if app.overlay.is_some() {
            "↑/↓ j/k scroll · PgUp/PgDn · g/G top/end · Esc close".to_string()
        } else {
            keys(app)
        };
        frame.render_widget(
            Paragraph::new(keys).style(Style::new().add_modifier(Modifier::DIM)),
            area,
        );
        return;
    };
    let id = app.selected.as_deref().unwrap_or("");
    let prompt = match purpose {
        Purpose::Reject => format!("Reject {id}, feedback: "),
        Purpose::Answer => format!("Answer {id}: "),
        Purpose::Filter => "Filter: ".to_string(),
    };
    let line = Line::from(vec![
        Span::styled(prompt.clone(), Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(text.clone()),
        Span::styled(
            "   (Enter sends · Esc cancels)",
            Style::new().add_modifier(Modifier::DIM),
        ),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let typed = (prompt.chars().count() + text.chars().count()) as u16;
    frame.set_cursor_position((area.x + typed.min(area.width.saturating_sub(1)), area.y));
}

fn overlay_pane(frame: &mut Frame, overlay: &Overlay, area: Rect) {
    let lines: Vec<Line> = overlay
        .lines
        .iter()
        .skip(overlay.scroll)
        .map(|l| Line::from(l.as_str()))
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).block(Block::bordered().title(format!(
            " {} — line {}/{} ",
            overlay.title,
            (overlay.scroll + 1).min(overlay.lines.len()),
            overlay.lines.len()
        ))),
        area,
    );
}
