//! Follow-up traks an agent creates from inside its run, where its stage allows it
//! (`spawn = { max = N }`): at most N over the trak's life, each recorded as spawned by it.
//!
//! The agent's processes cannot write the repository (the sandbox holds the git dir, and
//! outside it a ref the run moves is put back: docs/security.md), so they do not create the
//! trak themselves. They ask: a request file in the run's `spawn/` folder
//! (`.git/ork/runs/<id>/<stage>-<attempt>/spawn/`, writable by the run, found from the trak's
//! record), which a thread of the ork that drives the run answers while the agent runs. That thread is the one judge: it counts what the trak spawned so far, refuses the one
//! past `max`, and creates the trak as `ork trak new --no-run` would, with `spawned_by` set. A
//! request the agent writes by hand meets the same checks; a stage without `spawn` has no
//! thread, and nothing answers.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{TrakRequest, decisions::running_inside};
use crate::config::workflow::{OrkAccess, Stage, Workflow};
use crate::store::git::Git;
use crate::store::state::Status;
use crate::store::{Store, Trak};

/// How often the run's ork looks for requests.
const POLL: Duration = Duration::from_millis(100);

/// How long a request waits for its answer: making a worktree (and its setup command) can
/// take a while.
const ANSWER_WAIT: Duration = Duration::from_secs(300);

/// What a process running inside a trak's run may do with ork, as the workflow on the main
/// checkout says for the stage the trak is recorded running (not what the process claims).
#[derive(Debug, Clone)]
pub struct Inside {
    pub trak: String,
    pub stage: String,
    /// The attempt the trak is recorded running.
    pub attempt: u32,
    pub access: OrkAccess,
}

/// Where this process runs inside a trak's run (`ORK_TRAK` set): that trak and what its stage
/// allows. `None` outside a run. A trak that is not running a stage allows nothing.
pub fn inside(store: &Store, workflow: &Workflow) -> Result<Option<Inside>> {
    let Some(id) = running_inside() else {
        return Ok(None);
    };
    let trak = store.resolve(Some(&id)).with_context(|| {
        format!("this process runs inside trak {id}'s run (ORK_TRAK), which ork cannot find")
    })?;
    let access = match trak.state.status {
        Status::Running => workflow
            .recorded_stage(&trak.state.flow, &trak.state.stage)
            .map(|stage| stage.ork)
            .unwrap_or_default(),
        _ => OrkAccess::default(),
    };
    Ok(Some(Inside {
        trak: trak.id,
        stage: trak.state.stage,
        attempt: trak.state.attempt,
        access,
    }))
}

/// A trak the agent asks for: what `ork trak new` takes, less the budget (a person's).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    flow: Option<String>,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    priority: Option<u8>,
}

/// The run's answer: the new trak's id, or why nothing was created.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Created(String),
    Refused(String),
}

/// From inside a trak's run: asks the run's ork for a new trak and waits for its answer;
/// refused before asking when the stage has no `spawn`.
pub(super) fn ask_the_run(
    store: &Store,
    workflow: &Workflow,
    request: &TrakRequest<'_>,
) -> Result<Trak> {
    let Some(inside) = inside(store, workflow)? else {
        bail!("not inside a trak's run");
    };
    let Some(max) = inside.access.spawn else {
        bail!(
            "an agent running inside trak {} cannot create traks: its stage {} has no `spawn`.\n  Nothing was created. A person creates traks (`ork trak new`), or gives the stage `spawn = {{ max = N }}` in .orkestra/workflow.toml.",
            inside.trak,
            inside.stage
        );
    };
    if request.budget.is_some() {
        bail!(
            "a trak an agent creates gets no budget of its own: a budget is a person's to set (`ork approve --budget`).\n  Nothing was created. Ask again without it (the flow's budget holds)."
        );
    }
    let dir = spawn_dir(store, &inside.trak, &inside.stage, inside.attempt);
    if !dir.is_dir() {
        bail!(
            "trak {}'s run takes no requests for traks here ({} is missing): is it still running on this machine? Nothing was created (it may create {max}).",
            inside.trak,
            dir.display()
        );
    }
    let asked = Request {
        title: request.title.to_string(),
        description: request.description.to_string(),
        flow: request.flow.map(str::to_string),
        base: request.base.map(str::to_string),
        after: request.after.to_vec(),
        priority: request.priority,
    };
    match wait_for_answer(&dir, &asked)? {
        Answer::Created(id) => store.resolve(Some(&id)),
        Answer::Refused(why) => bail!("{why}"),
    }
}

/// Where the requests of trak `id`'s run of `stage`, attempt `attempt`, go.
pub(super) fn spawn_dir(store: &Store, id: &str, stage: &str, attempt: u32) -> PathBuf {
    super::runs_dir(store, id)
        .join(format!("{stage}-{attempt}"))
        .join("spawn")
}

/// Writes `request` into `dir` (whole, by a rename) and waits for the answer file beside it.
fn wait_for_answer(dir: &Path, request: &Request) -> Result<Answer> {
    let name = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
        std::process::id()
    );
    let partial = dir.join(format!("{name}.partial"));
    let asked = dir.join(format!("{name}.request.json"));
    let answer = dir.join(format!("{name}.answer.json"));
    std::fs::write(&partial, serde_json::to_vec(request)?)
        .with_context(|| format!("writing the request {}", partial.display()))?;
    std::fs::rename(&partial, &asked)
        .with_context(|| format!("writing the request {}", asked.display()))?;
    let started = Instant::now();
    while started.elapsed() < ANSWER_WAIT {
        if let Ok(text) = std::fs::read_to_string(&answer) {
            let _ = std::fs::remove_file(&answer);
            return serde_json::from_str(&text)
                .with_context(|| format!("reading the run's answer {}", answer.display()));
        }
        std::thread::sleep(POLL / 2);
    }
    let _ = std::fs::remove_file(&asked);
    bail!(
        "the ork that runs this trak did not answer within {}s: is its run still going? Nothing was asked.",
        ANSWER_WAIT.as_secs()
    )
}

/// Runs `work` (the agent's run) while, for a stage with `spawn`, a thread beside it answers
/// the requests in `dir`. Without `spawn` there is no thread and `work` just runs.
pub(super) fn during<T>(
    store: &Store,
    workflow: &Workflow,
    trak: &Trak,
    stage: &Stage,
    dir: &Path,
    work: impl FnOnce() -> T,
) -> T {
    let Some(max) = stage.ork.spawn else {
        return work();
    };
    if let Err(err) = crate::engine::process::create_private_dir(dir) {
        store.warnings().push(format!(
            "the agent cannot create traks in this run: {err:#}"
        ));
        return work();
    }
    let (done, wait) = mpsc::channel::<()>();
    let (workdir, warnings) = (
        store.git().main_workdir().to_path_buf(),
        store.warnings().clone(),
    );
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // A repository handle of its own: the store's is not shared between threads.
            let store = match Git::discover(&workdir) {
                Ok(git) => Store::with_warnings(git, warnings),
                Err(err) => {
                    warnings.push(format!(
                        "the agent cannot create traks in this run: {err:#}"
                    ));
                    return;
                }
            };
            while let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(POLL) {
                answer_requests(&store, workflow, &trak.id, max, dir);
            }
        });
        let result = work();
        drop(done);
        result
    })
}

/// Answers every request waiting in `dir`, oldest first.
fn answer_requests(store: &Store, workflow: &Workflow, spawner: &str, max: u32, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut requests: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".request.json"))
        .collect();
    requests.sort();
    for path in requests {
        let answer = match read_request(&path) {
            Ok(request) => match spawn(store, workflow, spawner, max, &request) {
                Ok(trak) => Answer::Created(trak.id),
                Err(err) => Answer::Refused(format!("{err:#}")),
            },
            Err(err) => Answer::Refused(format!("{err:#}")),
        };
        let _ = std::fs::remove_file(&path);
        let name = path
            .to_string_lossy()
            .replace(".request.json", ".answer.json");
        let partial = format!("{name}.partial");
        let written = serde_json::to_vec(&answer)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(std::fs::write(&partial, bytes)?))
            .and_then(|()| Ok(std::fs::rename(&partial, &name)?));
        if let Err(err) = written {
            store.warnings().push(format!(
                "could not answer the agent's request {name}: {err:#}"
            ));
        }
    }
}

/// The most of a request ork reads: a title and a description, not a file of any size.
const REQUEST_BOUND: u64 = 1 << 20;

fn read_request(path: &Path) -> Result<Request> {
    let size = std::fs::metadata(path)?.len();
    if size > REQUEST_BOUND {
        bail!(
            "the request is {size} bytes, more than the {REQUEST_BOUND} ork reads; nothing was created"
        );
    }
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).context(
        "the request is not one ork reads (a JSON object with a \"title\"); nothing was created",
    )
}

/// Creates the trak `request` asks for, spawned by `spawner`, unless `spawner` has spawned
/// `max` already.
fn spawn(
    store: &Store,
    workflow: &Workflow,
    spawner: &str,
    max: u32,
    request: &Request,
) -> Result<Trak> {
    let spawned = spawned_by(store, spawner)?;
    if spawned.len() >= max as usize {
        bail!(
            "trak {spawner} may create at most {max} trak(s) (its stage's spawn max), and it has: {}.\n  Nothing was created. A person can create more (`ork trak new`).",
            spawned.join(", ")
        );
    }
    super::create_trak(
        store,
        workflow,
        &TrakRequest {
            title: &request.title,
            description: &request.description,
            flow: request.flow.as_deref(),
            base: request.base.as_deref(),
            budget: None,
            after: &request.after,
            priority: request.priority,
            ..TrakRequest::default()
        },
        Some(spawner),
    )
}

/// The traks `spawner`'s runs created, by id.
pub fn spawned_by(store: &Store, spawner: &str) -> Result<Vec<String>> {
    Ok(store
        .list()?
        .into_iter()
        .filter(|t| t.state.spawned_by.as_deref() == Some(spawner))
        .map(|t| t.id)
        .collect())
}
