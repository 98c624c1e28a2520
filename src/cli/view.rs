//! How a list of traks looks, wherever it is shown: the order of the tree (each parent followed
//! by its subtraks), the word for a trak's status, and the tone that colours it. `ork status`,
//! `ork show` and `ork ui` all take these from here, so they never disagree.

use std::collections::HashSet;

use ork::store::Trak;
use ork::store::state::Status;

/// What a status means to the person looking, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Waits on a person, here or on GitHub.
    Waiting,
    /// Something went wrong.
    Bad,
    /// Finished well.
    Good,
    /// Is at work.
    Busy,
    /// Nothing to say (queued, dropped).
    Plain,
}

/// The tone of `status`; a run killed on this machine (`interrupted`) is bad whatever it shows.
pub fn tone(status: Status, interrupted: bool) -> Tone {
    if interrupted {
        return Tone::Bad;
    }
    match status {
        Status::AwaitingReview
        | Status::AwaitingAnswer
        | Status::Integrating
        | Status::InReview => Tone::Waiting,
        Status::Failed | Status::Conflict => Tone::Bad,
        Status::Done => Tone::Good,
        Status::Running | Status::Checking | Status::Subtraks => Tone::Busy,
        Status::Queued | Status::Dropped => Tone::Plain,
    }
}

/// The status as a list shows it: `interrupted` for a run killed on this machine, the
/// progress of a trak waiting on its subtraks (`waiting on subtraks 2/3 done`).
pub fn status_word(trak: &Trak, interrupted: bool, progress: Option<(usize, usize)>) -> String {
    if interrupted {
        return "interrupted".to_string();
    }
    match (trak.state.status, progress) {
        (Status::Subtraks, Some((done, all))) => format!("waiting on subtraks {done}/{all} done"),
        (status, _) => status.as_str().to_string(),
    }
}

/// The traks as a tree, with each one's depth: unfinished roots first, then finished ones
/// (each group in the order given), each parent followed by its subtraks in breakdown order
/// (then any others, by id). A subtrak whose parent is not listed stands on its own.
pub fn tree_order(traks: &[Trak]) -> Vec<(usize, &Trak)> {
    let listed: HashSet<&str> = traks.iter().map(|t| t.id.as_str()).collect();
    let mut roots: Vec<&Trak> = traks
        .iter()
        .filter(|t| {
            t.state
                .parent
                .as_deref()
                .is_none_or(|p| !listed.contains(p))
        })
        .collect();
    // A stable sort keeps the given order within each group.
    roots.sort_by_key(|t| t.state.status.is_finished());
    let mut out = Vec::with_capacity(traks.len());
    for root in roots {
        visit(root, 0, traks, &mut out);
    }
    out
}

fn visit<'a>(trak: &'a Trak, depth: usize, traks: &'a [Trak], out: &mut Vec<(usize, &'a Trak)>) {
    out.push((depth, trak));
    // Depth is bounded by the number of traks: a cycle of parents cannot recur forever.
    if depth >= traks.len() {
        return;
    }
    let mut children: Vec<&Trak> = traks
        .iter()
        .filter(|t| t.state.parent.as_deref() == Some(trak.id.as_str()))
        .collect();
    let order = |t: &Trak| {
        trak.state
            .subtraks
            .iter()
            .position(|s| s.id == t.id)
            .unwrap_or(usize::MAX)
    };
    children.sort_by_key(|t| (order(t), t.id.clone()));
    for child in children {
        visit(child, depth + 1, traks, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ork::store::testing;

    fn trak(id: &str, parent: Option<&str>, status: Status) -> Trak {
        testing::trak(id, parent, status, "work")
    }

    #[test]
    fn subtraks_follow_their_parent_and_finished_roots_come_last() {
        let traks = vec![
            trak("a-done", None, Status::Done),
            trak("b-parent", None, Status::Subtraks),
            trak("c-other", None, Status::Queued),
            trak("b-parent.x", Some("b-parent"), Status::Running),
            trak("z-orphan.y", Some("gone"), Status::Queued),
        ];
        let order: Vec<(usize, &str)> = tree_order(&traks)
            .into_iter()
            .map(|(depth, t)| (depth, t.id.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (0, "b-parent"),
                (1, "b-parent.x"),
                (0, "c-other"),
                (0, "z-orphan.y"),
                (0, "a-done")
            ]
        );
    }

    #[test]
    fn in_review_waits_like_every_status_that_waits_on_a_person() {
        assert_eq!(tone(Status::InReview, false), Tone::Waiting);
        assert_eq!(tone(Status::AwaitingReview, false), Tone::Waiting);
        assert_eq!(tone(Status::Running, true), Tone::Bad);
        let parent = trak("p", None, Status::Subtraks);
        assert_eq!(
            status_word(&parent, false, Some((2, 3))),
            "waiting on subtraks 2/3 done"
        );
        assert_eq!(status_word(&parent, true, None), "interrupted");
    }
}
