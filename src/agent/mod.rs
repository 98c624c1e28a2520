//! Agents: how a stage's agent is launched, and how its run becomes one [`AgentResult`].
//!
//! Every adapter maps its CLI's output onto the same result: an artifact, a verdict, questions
//! for the human, or a failure, with the session id (to resume) and the usage (to add up cost).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod breakdown;
pub mod claude;
pub mod codex;
pub mod opencode;
pub mod prices;

pub use crate::store::event::{Decision, Part, Question, Usage};

/// An agent CLI as a user installs it.
#[derive(Debug, Clone, Copy)]
pub struct Cli {
    /// Its product name ("Claude Code").
    pub name: &'static str,
    /// The executable it installs, looked up on `PATH`.
    pub program: &'static str,
    /// The command that installs it.
    pub install: &'static str,
    /// How `ork doctor` tells whether it can answer: its login or API key.
    pub login: LoginProbe,
}

/// How to tell, cheaply and without a model (nor any request ork knows of), whether a CLI has
/// a login or an API key. `ork doctor` runs it: first [`local`](Self::local), which runs
/// nothing; when that finds nothing, the CLI's own status command (`args`, with `env` added),
/// whose answer [`read`](Self::read) reads.
#[derive(Debug, Clone, Copy)]
pub struct LoginProbe {
    /// A credential found in the environment or the CLI's files, said as what was found
    /// ("ANTHROPIC_API_KEY is set"); none when there is none to see this way.
    pub local: fn(Env<'_>) -> Option<String>,
    /// The CLI's status command, without the program (`["login", "status"]`).
    pub args: &'static [&'static str],
    /// Variables set for it (to keep it off the network).
    pub env: &'static [(&'static str, &'static str)],
    /// Its answer, read.
    pub read: fn(&LoginReply<'_>) -> Login,
}

/// What a CLI's status command answered, and the environment it ran in.
pub struct LoginReply<'a> {
    /// Its exit code; none when it was killed or ended by a signal.
    pub code: Option<i32>,
    pub stdout: &'a str,
    pub stderr: &'a str,
    pub env: Env<'a>,
    /// The workflow's `args` for the agent (a CLI may choose its provider there).
    pub agent_args: &'a [String],
}

/// Whether a CLI can answer, as its probe tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// It has a login or a key: what, as the CLI said it.
    Found(String),
    /// It has none: what was seen, and how to get one.
    Missing { what: String, fix: String },
    /// The probe cannot tell: why.
    NotChecked(String),
}

/// The text of a CLI's answer without its terminal colour codes, its lines trimmed, empty
/// ones left out.
pub(crate) fn plain_lines(text: &str) -> Vec<String> {
    strip_ansi(text)
        .lines()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

/// What an agent produced. Also the JSON a `command` agent writes to `$ORK_OUTPUT`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentOutput {
    /// The stage's artifact (markdown).
    Artifact { content: String },
    /// A reviewer's decision; `route_to` names the stage a rejection sends the work back to.
    Verdict {
        decision: Decision,
        #[serde(default)]
        content: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route_to: Option<String>,
    },
    /// A breakdown stage's answer: the trak split into parts, each to run as a subtrak.
    Breakdown {
        #[serde(default)]
        content: String,
        subtraks: Vec<Part>,
    },
    /// Questions that wait for `ork answer`.
    Questions { questions: Vec<Question> },
    /// A race's judge picks attempt `winner` (its number) of those shown, `content` saying why.
    Pick {
        winner: u32,
        #[serde(default)]
        content: String,
    },
    /// The agent could not do the work.
    Failed { error: String },
}

/// One agent run, mapped onto ork's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentResult {
    pub output: AgentOutput,
    /// The session to resume on the next attempt of the same stage, if the agent has one.
    pub session_id: Option<String>,
    pub usage: Usage,
}

/// What a run has spent so far, read line by line as the agent streams it, so a budget can
/// stop it mid-run (docs/design.md rule 13). Each adapter's `live_usage` adds a line's share.
#[derive(Debug, Default)]
pub struct LiveUsage {
    pub spent: Usage,
    /// How tokens a CLI reports without a cost are priced.
    pub prices: prices::Prices,
    /// The message whose usage was counted last: Claude Code repeats it on every content block.
    last_message: Option<String>,
}

impl LiveUsage {
    /// Nothing spent yet; tokens without a cost priced by `prices`.
    pub fn priced_by(prices: prices::Prices) -> LiveUsage {
        LiveUsage {
            prices,
            ..LiveUsage::default()
        }
    }

    /// Counts `usage` of message `id` once, however many lines repeat it.
    pub(crate) fn add_message(&mut self, id: Option<&str>, usage: &Usage) {
        if id.is_some() && id == self.last_message.as_deref() {
            return;
        }
        self.last_message = id.map(str::to_string);
        self.spent.add(usage);
    }
}

/// How a CLI's line adds what it spent to its run's [`LiveUsage`], given the stage's model.
pub type LiveRead = fn(&str, &mut LiveUsage, Option<&str>);

/// A file a CLI records its usage in as it runs, for a CLI whose stdout tells it too late to
/// stop the run at a budget (Codex: only when its turn ends). ork follows the file while the CLI
/// runs: once it is found, what its lines add up to is what the run spent, against the budget
/// and in the run's record, and stdout's usage is not read.
#[derive(Debug, Clone, Copy)]
pub struct UsageFile {
    /// The session a stdout line starts, if it does: the file is that session's.
    pub session_of: fn(&str) -> Option<String>,
    /// What one line of the file spent.
    pub read: LiveRead,
}

/// The event on stream line `line` if its `type` is `kind`. The text is looked at first: most
/// lines of a stream are other events, and are not parsed.
pub(crate) fn event_of_type(line: &str, kind: &str) -> Option<Value> {
    if !line.contains(kind) {
        return None;
    }
    let event: Value = serde_json::from_str(line).ok()?;
    (event["type"] == kind).then_some(event)
}

/// A `command` agent's usage line on stdout: `{"ork_usage": {"input_tokens": N,
/// "output_tokens": N, "cost_usd": N}}`, what it spent since its last such line
/// (docs/workflow.md, the command contract).
pub fn command_live_usage(line: &str, live: &mut LiveUsage, _model: Option<&str>) {
    if !line.contains("\"ork_usage\"") {
        return;
    }
    #[derive(serde::Deserialize)]
    struct Line {
        ork_usage: Usage,
    }
    if let Ok(parsed) = serde_json::from_str::<Line>(line) {
        live.spent.add(&parsed.ork_usage);
    }
}

/// Where an agent CLI keeps one session on disk: what ork copies to the trak's log ref after a
/// run, and puts back before a run that resumes the session on another machine.
#[derive(Debug, Clone)]
pub enum SessionHome {
    /// One file at a path known from the session id and the working directory (Claude Code).
    File(PathBuf),
    /// One file somewhere under `root` whose name ends with `suffix` (Codex's rollouts, filed
    /// by date); put back at the path it had under `root`, relative to it.
    Under { root: PathBuf, suffix: String },
    /// Inside the CLI's own database (OpenCode): `export` prints the session as JSON; `import`,
    /// with the path of such a file appended, loads it. `retarget` fits an export made in
    /// another worktree to this one.
    Exported {
        export: Vec<String>,
        import: Vec<String>,
        retarget: fn(&[u8], &Path) -> Vec<u8>,
    },
}

/// What an adapter needs to say where one of its sessions lives.
pub struct SessionQuery<'a> {
    /// The environment a CLI finds its folders in (`HOME`, `CODEX_HOME`).
    pub env: &'a dyn Fn(&str) -> Option<PathBuf>,
    /// The worktree the CLI runs in.
    pub worktree: &'a Path,
    pub session: &'a str,
    /// The CLI's executable, if the workflow's `command` overrides it.
    pub executable: Option<&'a str>,
}

/// Reads one variable of an agent's environment as a path (`HOME`, `CODEX_HOME`, the XDG
/// folders).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<PathBuf>;

/// How ork should launch an agent CLI for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Whether the prompt goes to the program's standard input (else it is in `argv`).
    pub prompt_on_stdin: bool,
    /// Variables the program gets on top of ork's (OpenCode's permission config).
    pub env: Vec<(String, String)>,
}

/// What a run is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub prompt: &'a str,
    /// The model, if the workflow names one.
    pub model: Option<&'a str>,
    /// The session to resume, from an earlier attempt of this stage.
    pub resume: Option<&'a str>,
    /// A verdict stage: the answer must be an approve/reject decision.
    pub verdict: bool,
    /// A breakdown stage: the answer is a list of parts.
    pub breakdown: bool,
    /// A race's judge: the answer is a pick ([`pick_schema`]).
    pub pick: bool,
    /// Overrides the CLI's executable (the workflow's `command`), if set.
    pub executable: Option<&'a str>,
    /// A file holding [`strict_answer_schema`]`(verdict)`, for CLIs that read the answer's schema
    /// from a file (codex `--output-schema`): `launch` cannot write files, so the caller writes it.
    /// Without it such a CLI answers in free text, which [`output_from_text`] reads.
    pub schema_file: Option<&'a Path>,
    /// The workflow's `permission_mode`: Claude's mode, Codex's sandbox, OpenCode's config (JSON).
    pub permission: Option<&'a str>,
    /// Whether ork confines the run itself (its Landlock sandbox, docs/security.md): a CLI
    /// whose own sandbox cannot run inside it leaves its own off.
    pub confined: bool,
    /// Claude's `--allowedTools` / `--disallowedTools`.
    pub allowed_tools: &'a [String],
    pub disallowed_tools: &'a [String],
    /// The workflow's `args`, appended where the CLI takes its options.
    pub args: &'a [String],
    /// ork's MCP server for this run (program and arguments), where the stage gives the agent
    /// one (`mcp`, `spawn`); the CLI is configured with it as the server `ork`.
    pub ork_mcp: Option<&'a [String]>,
}

/// The name ork's MCP server has in a CLI's configuration (Claude Code's tools are then
/// `mcp__ork__<tool>`).
pub const ORK_MCP_NAME: &str = "ork";

/// The JSON schema of a structured answer, for CLIs that accept one: `kind` is "artifact",
/// "questions" or (for verdict stages) "verdict".
pub fn answer_schema(verdict: bool) -> serde_json::Value {
    answer_schema_for(verdict, false)
}

/// [`answer_schema`] for a stage that may be a breakdown stage: there `kind` is "breakdown" or
/// "questions", and `subtraks` lists the parts.
pub fn answer_schema_for(verdict: bool, breakdown: bool) -> serde_json::Value {
    let kinds: Vec<&str> = if breakdown {
        vec!["breakdown", "questions"]
    } else if verdict {
        vec!["verdict", "questions"]
    } else {
        vec!["artifact", "questions"]
    };
    let mut schema = serde_json::json!({
        "type": "object",
        "properties": {
            "kind": { "type": "string", "enum": kinds },
            "content": { "type": "string", "description": "The artifact or review, in markdown." },
            "decision": { "type": "string", "enum": ["approve", "reject"] },
            "route_to": { "type": "string", "description": "For a rejection: the stage to send the work back to." },
            "questions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "question": { "type": "string" },
                        "options": { "type": "array", "items": { "type": "string" } }
                    },
                    "required": ["question"]
                }
            }
        },
        "required": ["kind", "content"]
    });
    if breakdown {
        schema["properties"]["subtraks"] = breakdown::parts_schema();
    }
    schema
}

/// The JSON schema of a race judge's answer: `kind` "pick", the `winner`'s number, and why.
pub fn pick_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "kind": { "type": "string", "enum": ["pick"] },
            "winner": { "type": "integer", "description": "The number of the attempt that should carry on." },
            "content": { "type": "string", "description": "Why, in markdown." }
        },
        "required": ["kind", "winner", "content"],
        "additionalProperties": false
    })
}

/// The schema a run's answer is asked in: a judge's pick, or a stage's answer.
pub fn schema_of(verdict: bool, breakdown: bool, pick: bool) -> Value {
    if pick {
        pick_schema()
    } else {
        answer_schema_for(verdict, breakdown)
    }
}

/// [`schema_of`] in the strict form (see [`strict_answer_schema`]); the pick schema is strict
/// already.
pub fn strict_schema_of(verdict: bool, breakdown: bool, pick: bool) -> Value {
    if pick {
        pick_schema()
    } else {
        strict_answer_schema_for(verdict, breakdown)
    }
}

/// Turns a structured answer that follows [`answer_schema`] into an [`AgentOutput`].
pub fn output_from_structured(value: &serde_json::Value) -> Option<AgentOutput> {
    let content = value
        .get("content")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_string();
    match value.get("kind").and_then(|k| k.as_str())? {
        "artifact" => Some(AgentOutput::Artifact { content }),
        "verdict" => {
            let decision = match value.get("decision").and_then(|d| d.as_str())? {
                "approve" => Decision::Approve,
                "reject" => Decision::Reject,
                _ => return None,
            };
            let route_to = value
                .get("route_to")
                .and_then(|r| r.as_str())
                .map(str::to_string);
            Some(AgentOutput::Verdict {
                decision,
                content,
                route_to,
            })
        }
        "questions" => {
            let questions = serde_json::from_value(value.get("questions")?.clone()).ok()?;
            Some(AgentOutput::Questions { questions })
        }
        "breakdown" => {
            let subtraks = serde_json::from_value(value.get("subtraks")?.clone()).ok()?;
            Some(AgentOutput::Breakdown { content, subtraks })
        }
        "pick" => {
            let winner = value.get("winner").and_then(|w| w.as_u64())?;
            Some(AgentOutput::Pick {
                winner: u32::try_from(winner).ok()?,
                content,
            })
        }
        _ => None,
    }
}

/// [`answer_schema`] in the form OpenAI's strict structured outputs accept (codex
/// `--output-schema` is sent with `strict: true`): every object closed, every property required,
/// the optional ones nullable. [`output_from_structured`] reads both forms.
pub fn strict_answer_schema(verdict: bool) -> Value {
    strict_answer_schema_for(verdict, false)
}

/// [`strict_answer_schema`] for a stage that may be a breakdown stage.
pub fn strict_answer_schema_for(verdict: bool, breakdown: bool) -> Value {
    let mut schema = answer_schema_for(verdict, breakdown);
    let nullable = |property: &mut Value| {
        let kind = property["type"].take();
        property["type"] = serde_json::json!([kind, "null"]);
    };
    let properties = &mut schema["properties"];
    nullable(&mut properties["route_to"]);
    nullable(&mut properties["questions"]);
    nullable(&mut properties["decision"]);
    properties["decision"]["enum"] = serde_json::json!(["approve", "reject", null]);
    let question = &mut properties["questions"]["items"];
    question["additionalProperties"] = false.into();
    question["required"] = serde_json::json!(["question", "options"]);
    schema["additionalProperties"] = false.into();
    schema["required"] =
        serde_json::json!(["kind", "content", "decision", "route_to", "questions"]);
    if breakdown {
        let properties = &mut schema["properties"];
        nullable(&mut properties["subtraks"]);
        let part = &mut properties["subtraks"]["items"];
        part["additionalProperties"] = false.into();
        part["required"] = serde_json::json!(["key", "title", "description", "depends_on"]);
        schema["required"]
            .as_array_mut()
            .expect("built above")
            .push("subtraks".into());
    }
    schema
}

/// A JSON answer: the [`answer_schema`] form, or an [`AgentOutput`] itself (tagged by `type`, the
/// form a `command` agent writes to `$ORK_OUTPUT`, which agents sometimes copy).
pub fn output_from_answer(value: &Value) -> Option<AgentOutput> {
    output_from_structured(value).or_else(|| serde_json::from_value(value.clone()).ok())
}

/// An agent's final text as an output: the answer it holds when it is a JSON answer (bare or in one
/// fenced code block), else the text itself as the artifact. No text at all is a failure: a stage
/// that produced nothing has nothing to review.
pub fn output_from_text(text: &str) -> AgentOutput {
    let text = text.trim();
    if text.is_empty() {
        return AgentOutput::Failed {
            error: "the agent finished without an answer".into(),
        };
    }
    serde_json::from_str::<Value>(unfenced(text))
        .ok()
        .and_then(|value| output_from_answer(&value))
        .unwrap_or_else(|| AgentOutput::Artifact {
            content: text.to_string(),
        })
}

/// The inside of a text that is exactly one fenced code block (```` ```json … ``` ````), else the text.
fn unfenced(text: &str) -> &str {
    let Some(inner) = text.strip_prefix("```").and_then(|t| t.strip_suffix("```")) else {
        return text;
    };
    // The opening fence's line may name a language.
    inner
        .split_once('\n')
        .map_or(inner, |(_, body)| body)
        .trim()
}

/// The decision a reviewer's text states, only when it is unambiguous: the first non-empty line,
/// once markdown and an optional `Verdict:`/`Decision:` label are left aside, must start with
/// APPROVE(D) or REJECT(ED) (any case), and must not name the other decision too. "**APPROVE** —
/// looks good" and "Verdict: rejected" decide; "Not approved", "LGTM" or "Approve? No, reject" do not.
pub fn verdict_from_text(text: &str) -> Option<Decision> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let words: Vec<String> = line
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut leading = words.iter().map(String::as_str);
    let first = match leading.next()? {
        "verdict" | "decision" => leading.next()?,
        word => word,
    };
    let decision = decision_word(first)?;
    let ambiguous = words
        .iter()
        .filter_map(|word| decision_word(word))
        .any(|d| d != decision);
    (!ambiguous).then_some(decision)
}

fn decision_word(word: &str) -> Option<Decision> {
    match word {
        "approve" | "approved" => Some(Decision::Approve),
        "reject" | "rejected" => Some(Decision::Reject),
        _ => None,
    }
}

impl AgentResult {
    /// Fits a parsed run to what its stage asked for. An adapter's `parse` cannot know whether the
    /// stage wants a verdict, so the caller applies this to every result:
    ///
    /// - a verdict stage answered with text (no structured verdict) gets the decision that text
    ///   states unambiguously ([`verdict_from_text`]), else fails with "the reviewer gave no
    ///   decision" — guessing a decision from prose could merge unreviewed work;
    /// - an artifact stage answered with a verdict keeps its content as the artifact.
    pub fn for_stage(self, verdict: bool) -> Self {
        let output = match self.output {
            AgentOutput::Artifact { content } if verdict => match verdict_from_text(&content) {
                Some(decision) => AgentOutput::Verdict {
                    decision,
                    content,
                    route_to: None,
                },
                None => AgentOutput::Failed {
                    error: "the reviewer gave no decision".into(),
                },
            },
            AgentOutput::Verdict { content, .. } if !verdict => AgentOutput::Artifact { content },
            output => output,
        };
        Self { output, ..self }
    }

    /// Fits a parsed run to whether its stage is a breakdown stage: there, an answer without
    /// parts fails (with the form to use, which goes back to the agent); elsewhere a breakdown's
    /// text is just the artifact.
    pub fn for_breakdown(self, breakdown: bool) -> Self {
        let output = match self.output {
            AgentOutput::Artifact { .. } | AgentOutput::Verdict { .. } if breakdown => {
                AgentOutput::Failed {
                    error: breakdown::MISSING.to_string(),
                }
            }
            AgentOutput::Breakdown { content, .. } if !breakdown => {
                AgentOutput::Artifact { content }
            }
            output => output,
        };
        Self { output, ..self }
    }
}

/// The JSON objects among a CLI's output lines; anything else (blank lines, garbage, a truncated
/// last line of a killed run) is skipped.
pub(crate) fn json_lines(stdout: &str) -> impl Iterator<Item = Value> + '_ {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter(Value::is_object)
}

/// How wide a progress line may get: about one terminal line.
const PROGRESS_WIDTH: usize = 120;
/// How many of stderr's last lines a failure quotes.
const STDERR_LINES: usize = 5;

/// The first non-empty line of `text`, shortened to one progress line.
pub(crate) fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    Some(shorten(line))
}

/// `text` cut to one progress line, on a character boundary.
pub(crate) fn shorten(text: &str) -> String {
    if text.chars().count() <= PROGRESS_WIDTH {
        return text.to_string();
    }
    let mut short: String = text.chars().take(PROGRESS_WIDTH - 1).collect();
    short.push('…');
    short
}

/// Why a CLI produced no result, for a failure message: how it ended, what it was doing (`detail`),
/// and the last lines of its stderr.
pub(crate) fn no_result(
    cli: &str,
    exit_code: Option<i32>,
    detail: Option<&str>,
    stderr: &str,
) -> String {
    let mut reason = match exit_code {
        None => format!("{cli} was stopped (killed or timed out) before it gave a result"),
        Some(code) => format!("{cli} exited with code {code} without a result"),
    };
    if let Some(detail) = detail {
        reason.push_str(&format!("; {detail}"));
    }
    let tail = stderr_tail(stderr);
    if !tail.is_empty() {
        reason.push_str(&format!(": {tail}"));
    }
    reason
}

/// The last non-empty lines of a CLI's stderr, without terminal colour codes.
pub(crate) fn stderr_tail(stderr: &str) -> String {
    let clean = strip_ansi(stderr);
    let lines: Vec<&str> = clean
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n")
}

/// `text` without ANSI escape sequences (`ESC [ … letter`), which CLIs print even into pipes.
fn strip_ansi(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            clean.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            // Parameters and intermediates, up to the final byte (@ to ~).
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A race's judge is offered the pick schema, and its pick is read structured or as text.
    #[test]
    fn a_judge_is_asked_for_a_pick_and_its_answer_read_in_either_form() {
        let schema = strict_schema_of(false, false, true);
        assert_eq!(
            schema["properties"]["kind"]["enum"],
            serde_json::json!(["pick"])
        );
        assert_eq!(
            schema["required"],
            serde_json::json!(["kind", "winner", "content"])
        );
        assert_eq!(schema_of(false, false, false), answer_schema(false));
        let structured = serde_json::json!({"kind": "pick", "winner": 2, "content": "tidier"});
        assert_eq!(
            output_from_answer(&structured),
            Some(AgentOutput::Pick {
                winner: 2,
                content: "tidier".into()
            })
        );
        assert_eq!(
            output_from_text("```json\n{\"type\": \"pick\", \"winner\": 3}\n```"),
            AgentOutput::Pick {
                winner: 3,
                content: String::new()
            }
        );
        // A winner that is no attempt's number is no pick.
        assert_eq!(
            output_from_structured(
                &serde_json::json!({"kind": "pick", "winner": -1, "content": ""})
            ),
            None
        );
    }

    /// Each CLI's live reading of its real stream adds up to what its whole run reports.
    #[test]
    fn live_usage_of_real_streams_adds_up_to_the_runs_usage() {
        type Live = fn(&str, &mut LiveUsage, Option<&str>);
        type Parse = fn(&str, &str, Option<i32>) -> AgentResult;
        let cases: [(&str, Live, Parse); 3] = [
            (
                "claude-code/stream-json-permission-denied.jsonl",
                claude::live_usage,
                claude::parse,
            ),
            (
                "codex/exec-json-command-and-message.jsonl",
                codex::live_usage,
                codex::parse,
            ),
            (
                "opencode/run-json-write-and-text.jsonl",
                opencode::live_usage,
                opencode::parse,
            ),
        ];
        for (fixture, live, parse) in cases {
            let path = format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
            let stream = std::fs::read_to_string(&path).unwrap();
            let mut usage = LiveUsage::default();
            for line in stream.lines() {
                live(line, &mut usage, Some("gpt-5"));
            }
            let whole = parse(&stream, "", Some(0)).usage;
            assert!(whole.input_tokens > 0, "{fixture}");
            assert_eq!(
                (usage.spent.input_tokens, usage.spent.output_tokens),
                (whole.input_tokens, whole.output_tokens),
                "{fixture}"
            );
        }
    }

    #[test]
    fn a_message_repeated_on_every_content_block_counts_once() {
        let mut live = LiveUsage::default();
        let line = r#"{"type":"assistant","message":{"id":"m1","model":"claude-sonnet-4","usage":{"input_tokens":1000000,"output_tokens":0}}}"#;
        claude::live_usage(line, &mut live, None);
        claude::live_usage(line, &mut live, None);
        assert_eq!(live.spent.input_tokens, 1_000_000);
        assert_eq!(live.spent.cost_usd, 3.0);
    }

    fn artifact(content: &str) -> AgentResult {
        AgentResult {
            output: AgentOutput::Artifact {
                content: content.into(),
            },
            session_id: Some("s".into()),
            usage: Usage::default(),
        }
    }

    #[test]
    fn breakdown_stages_offer_and_read_a_breakdown() {
        let schema = strict_answer_schema_for(false, true);
        assert_eq!(
            schema["properties"]["kind"]["enum"],
            serde_json::json!(["breakdown", "questions"])
        );
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .contains(&"subtraks".into())
        );
        assert_eq!(
            schema["properties"]["subtraks"]["items"]["additionalProperties"],
            false
        );
        assert!(answer_schema(false)["properties"].get("subtraks").is_none());
        // The structured form (Claude, Codex) and the contract's form (text, command agents).
        let structured = serde_json::json!({"kind": "breakdown", "content": "Two", "decision": null,
            "route_to": null, "questions": null,
            "subtraks": [{"key": "db", "title": "DB", "description": "d", "depends_on": []}]});
        let Some(AgentOutput::Breakdown { content, subtraks }) = output_from_answer(&structured)
        else {
            panic!("not a breakdown")
        };
        assert_eq!((content.as_str(), subtraks[0].key.as_str()), ("Two", "db"));
        let text = "```json\n{\"type\": \"breakdown\", \"subtraks\": [{\"key\": \"ui\", \"title\": \"UI\"}]}\n```";
        assert!(matches!(
            output_from_text(text),
            AgentOutput::Breakdown { subtraks, .. } if subtraks[0].key == "ui" && subtraks[0].depends_on.is_empty()
        ));
    }

    #[test]
    fn a_breakdown_stage_wants_parts_and_other_stages_keep_the_text() {
        let failed = artifact("just prose").for_breakdown(true);
        assert!(
            matches!(&failed.output, AgentOutput::Failed { error } if error.contains("\"type\": \"breakdown\"")),
            "{failed:?}"
        );
        let breakdown = AgentResult {
            output: AgentOutput::Breakdown {
                content: "split".into(),
                subtraks: Vec::new(),
            },
            ..artifact("")
        };
        assert_eq!(
            breakdown.clone().for_breakdown(false).output,
            AgentOutput::Artifact {
                content: "split".into()
            }
        );
        assert_eq!(breakdown.clone().for_breakdown(true), breakdown);
    }

    #[test]
    fn strict_schema_closes_objects_and_requires_every_property() {
        let schema = strict_answer_schema(true);
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["required"],
            serde_json::json!(["kind", "content", "decision", "route_to", "questions"])
        );
        assert_eq!(
            schema["properties"]["kind"]["enum"],
            serde_json::json!(["verdict", "questions"])
        );
        assert_eq!(
            schema["properties"]["route_to"]["type"],
            serde_json::json!(["string", "null"])
        );
        assert_eq!(
            schema["properties"]["decision"]["enum"],
            serde_json::json!(["approve", "reject", null])
        );
        let question = &schema["properties"]["questions"]["items"];
        assert_eq!(question["additionalProperties"], false);
        assert_eq!(
            question["required"],
            serde_json::json!(["question", "options"])
        );
    }

    #[test]
    fn a_strict_answer_with_nulls_reads_like_a_lax_one() {
        let answer = serde_json::json!({
            "kind": "verdict", "content": "ok", "decision": "reject", "route_to": null, "questions": null
        });
        assert_eq!(
            output_from_answer(&answer),
            Some(AgentOutput::Verdict {
                decision: Decision::Reject,
                content: "ok".into(),
                route_to: None
            })
        );
    }

    #[test]
    fn text_that_is_a_json_answer_is_read_as_one() {
        let fenced = "```json\n{\"kind\":\"questions\",\"content\":\"\",\"questions\":[{\"question\":\"Which DB?\",\"options\":[\"pg\",\"sqlite\"]}]}\n```";
        assert_eq!(
            output_from_text(fenced),
            AgentOutput::Questions {
                questions: vec![Question {
                    question: "Which DB?".into(),
                    options: vec!["pg".into(), "sqlite".into()]
                }]
            }
        );
        assert_eq!(
            output_from_text(r##"{"type":"artifact","content":"# Plan"}"##),
            AgentOutput::Artifact {
                content: "# Plan".into()
            }
        );
    }

    #[test]
    fn other_text_is_the_artifact_and_no_text_is_a_failure() {
        assert_eq!(
            output_from_text("  {\"name\": \"not an answer\"}\n"),
            AgentOutput::Artifact {
                content: "{\"name\": \"not an answer\"}".into()
            }
        );
        assert_eq!(
            output_from_text(" \n"),
            AgentOutput::Failed {
                error: "the agent finished without an answer".into()
            }
        );
    }

    #[test]
    fn only_an_unambiguous_first_line_decides() {
        assert_eq!(
            verdict_from_text("\n**APPROVE** — looks good\nbut see nits"),
            Some(Decision::Approve)
        );
        assert_eq!(
            verdict_from_text("Verdict: rejected. Tests fail."),
            Some(Decision::Reject)
        );
        assert_eq!(
            verdict_from_text("## Decision: Approved"),
            Some(Decision::Approve)
        );
        assert_eq!(
            verdict_from_text("## Review\nAPPROVE"),
            None,
            "only the first line counts"
        );
        assert_eq!(verdict_from_text("Not approved"), None);
        assert_eq!(verdict_from_text("Approve? No, reject."), None);
        assert_eq!(verdict_from_text("LGTM\nAPPROVE"), None);
        assert_eq!(verdict_from_text(""), None);
    }

    #[test]
    fn a_verdict_stage_needs_a_decision() {
        let decided = artifact("REJECT\nThe tests fail.").for_stage(true);
        assert_eq!(
            decided.output,
            AgentOutput::Verdict {
                decision: Decision::Reject,
                content: "REJECT\nThe tests fail.".into(),
                route_to: None
            }
        );
        assert_eq!(decided.session_id.as_deref(), Some("s"));
        assert_eq!(
            artifact("Looks fine to me.").for_stage(true).output,
            AgentOutput::Failed {
                error: "the reviewer gave no decision".into()
            }
        );
        assert_eq!(
            artifact("plan").for_stage(false).output,
            AgentOutput::Artifact {
                content: "plan".into()
            }
        );
    }

    #[test]
    fn an_artifact_stage_keeps_a_verdicts_content() {
        let result = AgentResult {
            output: AgentOutput::Verdict {
                decision: Decision::Approve,
                content: "fine".into(),
                route_to: None,
            },
            ..artifact("")
        };
        assert_eq!(
            result.for_stage(false).output,
            AgentOutput::Artifact {
                content: "fine".into()
            }
        );
    }

    #[test]
    fn failure_reasons_quote_the_end_of_stderr_without_colours() {
        let stderr = "\u{1b}[91m\u{1b}[1mError: \u{1b}[0mSession not found\n\n";
        assert_eq!(stderr_tail(stderr), "Error: Session not found");
        let long: String = (1..=8).map(|n| format!("line {n}\n")).collect();
        assert_eq!(stderr_tail(&long), "line 4\nline 5\nline 6\nline 7\nline 8");
        assert_eq!(
            no_result("x", Some(2), Some("it was busy"), "boom"),
            "x exited with code 2 without a result; it was busy: boom"
        );
        assert_eq!(
            no_result("x", None, None, ""),
            "x was stopped (killed or timed out) before it gave a result"
        );
    }

    #[test]
    fn progress_lines_are_cut_on_character_boundaries() {
        let long = "é".repeat(300);
        let line = first_line(&format!("\n  {long}\nsecond")).unwrap();
        assert_eq!(line.chars().count(), PROGRESS_WIDTH);
        assert!(line.ends_with('…'));
        assert_eq!(first_line(" \n "), None);
    }
}
