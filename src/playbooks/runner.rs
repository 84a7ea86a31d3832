//! Runs a plan, in three phases: the safety backup before anything destructive, the steps with
//! the journal written before and after each, and on a failure or an interrupt the clean-up of
//! what must not stay. It returns a report of what was done either way.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use super::StepKind;
use super::journal::{self, Journal, JournalError, RunState, RunStatus, StepRecord, StepStatus};
use super::plan::{Preflight, StepPlan};
use crate::api::ApiError;
use crate::error::Error;
use crate::steps::StepError;

/// Saves the run's state in its journal in the middle of a step (see [`crate::steps::Checkpoint`]).
pub type StateCheckpoint<'a> = crate::steps::Checkpoint<'a, RunState>;

/// Does the work of each step; the runner decides when.
pub trait Executor: Send {
    /// Read-only checks; any failure stops the run before anything changes.
    fn preflight(&mut self) -> impl Future<Output = Result<Preflight, Error>> + Send;
    fn describe(&self, step: StepKind) -> StepPlan;
    /// Takes the backup that precedes the first data-destroying step; returns its name.
    fn safety_backup(&mut self) -> impl Future<Output = Result<String, Error>> + Send;
    /// Runs one step, idempotently; returns a one-line account of what it did. `checkpoint`
    /// saves `state` in the journal before a request whose lost answer must not make the step
    /// do its work twice.
    fn execute(
        &mut self,
        step: StepKind,
        state: &mut RunState,
        checkpoint: StateCheckpoint<'_>,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// Turns maintenance mode off again after a failure.
    fn maintenance_off(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
    /// Stops a one-off dyno the run started and left running when it stopped.
    fn stop_dyno(&mut self, dyno: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// The app's state in a sentence, for the failure report.
    fn describe_state(&self, state: &RunState) -> String;
    /// Whether running `step` (`None`: the safety backup) twice is harmless, so that a request
    /// Heroku may or may not have acted on can be answered by running it again. A step that
    /// runs the operator's own command is not: that command may not be.
    fn may_repeat(&self, step: Option<StepKind>) -> bool {
        step != Some(StepKind::Run)
    }
}

/// Progress of a run, for the command layer to render.
pub trait RunObserver: Send {
    fn step_started(&mut self, index: usize, total: usize, step: StepKind, description: &str);
    fn step_finished(&mut self, step: StepKind, outcome: Result<&str, &str>, elapsed_ms: u64);
}

impl RunObserver for () {
    fn step_started(&mut self, _: usize, _: usize, _: StepKind, _: &str) {}
    fn step_finished(&mut self, _: StepKind, _: Result<&str, &str>, _: u64) {}
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub no_backup: bool,
    pub keep_maintenance: bool,
    pub journal_dir: PathBuf,
    /// Further attempts at a step whose write Heroku answered with a server error or never
    /// answered. The API client does not repeat such a POST (Heroku may have acted on it), but
    /// every step is idempotent, so running the whole step again is safe.
    pub step_retries: u32,
    /// The pause before such an attempt.
    pub retry_delay: Duration,
}

/// The outcome of a run, rendered by the command layer (human or `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_id: String,
    pub playbook: String,
    pub app: String,
    pub status: RunStatus,
    /// The run says `running` but its process is gone (killed): resumable, as `runs list` says.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub abandoned: bool,
    pub steps: Vec<StepRecord>,
    pub state: RunState,
    /// The journal on disk; `None` when it could not be written.
    pub journal: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The app's state after a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_state: Option<String>,
    /// Given only when the journal it resumes from is on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_command: Option<String>,
}

impl Report {
    /// A journal as `runs show` reports it.
    pub fn of_journal(journal: &Journal, path: Option<PathBuf>) -> Report {
        Report {
            run_id: journal.id.clone(),
            playbook: journal.playbook.clone(),
            app: journal.app.clone(),
            status: journal.status,
            abandoned: journal.is_abandoned(),
            steps: journal.steps.clone(),
            state: journal.state.clone(),
            journal: path,
            error: journal.error.clone(),
            app_state: None,
            resume_command: None,
        }
    }
}

/// A run that did not finish: the report of what was done, and why it stopped.
#[derive(Debug)]
pub struct RunFailure {
    pub report: Box<Report>,
    pub cause: Error,
}

/// Why the run stopped early: the error, and whether it failed or was interrupted.
type Stop = (Error, RunStatus);

/// A run in progress: its journal, and where it was last saved.
struct Run {
    journal: Journal,
    dir: PathBuf,
    /// The journal file, once a save has succeeded.
    saved: Option<PathBuf>,
}

impl Run {
    fn save(&mut self) -> Result<(), Error> {
        let path = journal::save(&self.dir, &self.journal).map_err(journal_error)?;
        self.saved = Some(path);
        Ok(())
    }

    /// A checkpoint that writes the journal as it is now with the state it is given.
    fn checkpoint(&self) -> impl FnMut(&RunState) -> Result<(), StepError> + Send + use<> {
        let mut snapshot = self.journal.clone();
        let dir = self.dir.clone();
        move |state: &RunState| {
            snapshot.state = state.clone();
            journal::save(&dir, &snapshot)
                .map(|_| ())
                .map_err(|e| match e {
                    JournalError::Write { path, source } => {
                        StepError::file("write the run journal", path, source)
                    }
                    other => StepError::file(
                        "write the run journal",
                        &dir,
                        std::io::Error::other(other.to_string()),
                    ),
                })
        }
    }

    fn report(&self) -> Report {
        Report::of_journal(&self.journal, self.saved.clone())
    }
}

fn journal_error(e: JournalError) -> Error {
    match e {
        JournalError::Write { path, source } => {
            StepError::file("write the run journal", path, source).into()
        }
        other => Error::usage(other.to_string()),
    }
}

/// Runs (or resumes) the journal's steps from the first one not done.
///
/// The caller has already planned and confirmed. `interrupt` turns true on Ctrl-C: the current
/// step is abandoned, clean-up runs, and the run ends as interrupted.
pub async fn run<E: Executor>(
    executor: &mut E,
    mut journal: Journal,
    options: &RunOptions,
    observer: &mut dyn RunObserver,
    interrupt: watch::Receiver<bool>,
) -> Result<Report, RunFailure> {
    journal.status = RunStatus::Running;
    journal.error = None;
    journal.pid = Some(std::process::id());
    let mut run = Run {
        journal,
        dir: options.journal_dir.clone(),
        saved: None,
    };
    let mut phases = Phases {
        executor,
        options,
        observer,
        interrupt,
    };
    // Nothing starts without a journal: a run that cannot be resumed must not begin. Each
    // step's start is saved before it acts; only the safety backup needs a save of its own.
    if phases.needs_safety_backup(&run.journal)
        && let Err(cause) = run.save()
    {
        return Err(RunFailure {
            report: Box::new(run.report()),
            cause,
        });
    }
    let mut stop = phases.take_safety_backup(&mut run).await;
    if stop.is_none() {
        stop = phases.run_steps(&mut run).await;
    }
    match stop {
        None => {
            run.journal.status = RunStatus::Succeeded;
            run.journal.finished_at = Some(journal::now_rfc3339());
            // This save also records the last step's end: a journal that cannot hold it would
            // have a resume repeat that step, so the run fails as when any step's save fails.
            match run.save() {
                Ok(()) => Ok(run.report()),
                Err(cause) => Err(phases.clean_up(run, (cause, RunStatus::Failed)).await),
            }
        }
        Some(stop) => Err(phases.clean_up(run, stop).await),
    }
}

/// What every phase of a run works with.
struct Phases<'a, E: Executor> {
    executor: &'a mut E,
    options: &'a RunOptions,
    observer: &'a mut dyn RunObserver,
    interrupt: watch::Receiver<bool>,
}

impl<E: Executor> Phases<'_, E> {
    /// The backup before the first step that destroys data, unless there is none or it was waived.
    fn needs_safety_backup(&self, journal: &Journal) -> bool {
        let destroys_data = journal
            .steps
            .iter()
            .any(|s| s.step.is_destructive() && s.status != StepStatus::Done);
        destroys_data && !self.options.no_backup && journal.state.safety_backup.is_none()
    }

    async fn take_safety_backup(&mut self, run: &mut Run) -> Option<Stop> {
        if !self.needs_safety_backup(&run.journal) {
            return None;
        }
        let journal = &run.journal;
        let (total, started, started_at) =
            (journal.steps.len(), Instant::now(), journal::now_rfc3339());
        let description = "safety backup before the destructive steps";
        self.observer
            .step_started(0, total, StepKind::BackupCapture, description);
        let mut checkpoint = run.checkpoint();
        let state = &mut run.journal.state;
        let outcome = self.attempt(None, state, &mut checkpoint).await;
        let elapsed = started.elapsed().as_millis() as u64;
        let mut record = StepRecord {
            step: StepKind::BackupCapture,
            status: StepStatus::Done,
            started_at: Some(started_at),
            duration_ms: Some(elapsed),
            detail: None,
            error: None,
        };
        let stop = match outcome {
            Ok(name) => {
                self.observer
                    .step_finished(StepKind::BackupCapture, Ok(&name), elapsed);
                record.detail = Some(format!("backup {name}"));
                run.journal.state.safety_backup = Some(name);
                None
            }
            Err((e, status)) => {
                self.observer
                    .step_finished(StepKind::BackupCapture, Err(&e.to_string()), elapsed);
                record.status = StepStatus::Failed;
                record.error = Some(e.to_string());
                Some((safety_backup_failure(e, status), status))
            }
        };
        run.journal.state.safety_backup_step = Some(record);
        match run.save() {
            Err(e) if stop.is_none() => Some((e, RunStatus::Failed)),
            _ => stop,
        }
    }

    /// The steps not done yet, in order, until one fails or the run is interrupted. A step's
    /// end is saved with the next step's start (or the run's end): one write where two
    /// followed each other with nothing done between them.
    async fn run_steps(&mut self, run: &mut Run) -> Option<Stop> {
        let total = run.journal.steps.len();
        let start = run.journal.resume_index().unwrap_or(total);
        for index in start..total {
            if run.journal.steps[index].status == StepStatus::Done {
                continue;
            }
            let step = run.journal.steps[index].step;
            let plan = self.executor.describe(step);
            run.journal.steps[index].status = StepStatus::Running;
            run.journal.steps[index].started_at = Some(journal::now_rfc3339());
            if let Err(e) = run.save() {
                return Some((e, RunStatus::Failed));
            }
            self.observer
                .step_started(index + 1, total, step, &plan.description);
            let started = Instant::now();
            let mut checkpoint = run.checkpoint();
            let state = &mut run.journal.state;
            let outcome = self.attempt(Some(step), state, &mut checkpoint).await;
            let elapsed = started.elapsed().as_millis() as u64;
            let record = &mut run.journal.steps[index];
            record.duration_ms = Some(elapsed);
            match outcome {
                Ok(detail) => {
                    self.observer.step_finished(step, Ok(&detail), elapsed);
                    record.status = StepStatus::Done;
                    record.detail = Some(detail);
                    record.error = None;
                }
                Err((e, status)) => {
                    self.observer
                        .step_finished(step, Err(&e.to_string()), elapsed);
                    record.status = StepStatus::Failed;
                    record.error = Some(e.to_string());
                    return Some((e, status));
                }
            }
        }
        None
    }

    /// Undoes what must not stay after a run stopped early (a one-off command still running,
    /// and maintenance this run turned on), records how the run ended, and reports it.
    async fn clean_up(&mut self, mut run: Run, (cause, status): Stop) -> RunFailure {
        let mut notes = Vec::new();
        if let Some(dyno) = run.journal.state.one_off_dyno.clone() {
            match self.executor.stop_dyno(&dyno).await {
                Ok(()) => {
                    run.journal.state.one_off_dyno = None;
                    notes.push(format!("the one-off dyno {dyno} was stopped"));
                }
                Err(e) => notes.push(format!(
                    "the one-off dyno {dyno} may STILL BE RUNNING: stopping it failed ({e})"
                )),
            }
        }
        if run.journal.state.maintenance_on_by_run && !self.options.keep_maintenance {
            notes.push(turn_maintenance_off(self.executor, &mut run.journal).await);
        }
        run.journal.status = status;
        run.journal.error = Some(cause.to_string());
        run.journal.finished_at = Some(journal::now_rfc3339());
        if let Err(e) = run.save() {
            notes.push(format!("the journal could not be updated ({e})"));
        }
        let mut report = run.report();
        let mut app_state = self.executor.describe_state(&run.journal.state);
        for note in notes {
            app_state = format!("{app_state}; {note}");
        }
        report.app_state = Some(app_state);
        if run.saved.is_some() {
            report.resume_command = Some(format!("herokuops resume {}", run.journal.id));
        }
        RunFailure {
            report: Box::new(report),
            cause,
        }
    }

    /// Runs a step (`None`: the safety backup), again after a transient failure of a write,
    /// unless Ctrl-C comes first.
    async fn attempt(
        &mut self,
        step: Option<StepKind>,
        state: &mut RunState,
        checkpoint: StateCheckpoint<'_>,
    ) -> Result<String, Stop> {
        let Phases {
            executor,
            options,
            interrupt,
            ..
        } = self;
        let mut retries = 0;
        loop {
            let work = async {
                match step {
                    None => executor.safety_backup().await,
                    Some(step) => executor.execute(step, state, &mut *checkpoint).await,
                }
            };
            match interruptible(work, &mut *interrupt).await {
                Err((e, RunStatus::Failed))
                    if retries < options.step_retries
                        && is_transient_write_failure(&e)
                        && executor.may_repeat(step) =>
                {
                    retries += 1;
                    tracing::debug!("step failed transiently ({e}); attempt {}", retries + 1);
                    let pause = async {
                        tokio::time::sleep(options.retry_delay).await;
                        Ok(())
                    };
                    interruptible(pause, &mut *interrupt).await?;
                }
                outcome => return outcome,
            }
        }
    }
}

/// Ctrl-C stays Ctrl-C (exit 130); any other failure says that nothing destructive ran.
fn safety_backup_failure(e: Error, status: RunStatus) -> Error {
    if status == RunStatus::Interrupted {
        return e;
    }
    Error::SafetyBackupFailed(Box::new(e))
}

/// Turns maintenance off after a failure; returns what to tell the operator.
async fn turn_maintenance_off<E: Executor>(executor: &mut E, journal: &mut Journal) -> String {
    if let Err(e) = executor.maintenance_off().await {
        return format!("maintenance mode is STILL ON: turning it off failed ({e})");
    }
    journal.state.maintenance_on_by_run = false;
    // The steps after maintenance.on count on it (a promotion must not run with the app
    // serving): a resumed run turns it on again first.
    let on = journal
        .steps
        .iter()
        .rposition(|s| s.step == StepKind::MaintenanceOn && s.status == StepStatus::Done);
    if let Some(on) = on {
        journal.steps[on].status = StepStatus::Pending;
        journal.steps[on].detail = Some("undone by the clean-up; turned on again on resume".into());
    }
    "maintenance mode, turned on by this run, was turned off again".to_string()
}

/// A POST that Heroku answered with a server error, or whose answer never came (or came only
/// in part): the API client retries every other request itself.
fn is_transient_write_failure(e: &Error) -> bool {
    let api = match e {
        Error::Api(api) | Error::Step(StepError::Api(api)) => api,
        _ => return false,
    };
    match api {
        ApiError::Http(f) => f.method == "POST" && f.status >= 500,
        ApiError::Transport { method, .. }
        | ApiError::Body { method, .. }
        | ApiError::Timeout { method, .. } => method == "POST",
        ApiError::Decode { .. } | ApiError::TrustRoots { .. } => false,
    }
}

/// Runs a step unless Ctrl-C comes first.
async fn interruptible<T>(
    work: impl Future<Output = Result<T, Error>>,
    interrupt: &mut watch::Receiver<bool>,
) -> Result<T, Stop> {
    if *interrupt.borrow() {
        return Err((Error::Interrupted, RunStatus::Interrupted));
    }
    tokio::select! {
        outcome = work => outcome.map_err(|e| (e, RunStatus::Failed)),
        _ = crate::signals::interrupted(interrupt) => Err((Error::Interrupted, RunStatus::Interrupted)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Records what ran; fails the steps it is told to, a given number of times.
    #[derive(Default)]
    struct Scripted {
        ran: Vec<String>,
        fail: HashMap<StepKind, u32>,
        maintenance_on: bool,
        backup_fails: bool,
        hang_on: Option<StepKind>,
        /// Steps whose POST answers 503, and how many times.
        post_503: HashMap<StepKind, u32>,
        /// A step that, once done, leaves the journal's folder unwritable (a file in its place).
        breaks_journal: Option<(StepKind, std::path::PathBuf)>,
    }

    fn http_failure(method: &str, status: u16) -> Error {
        Error::Api(ApiError::Http(Box::new(crate::api::HttpFailure {
            method: method.into(),
            path: "/apps/app/addons".into(),
            status,
            id: None,
            message: None,
            url: None,
            request_id: None,
            raw_body: None,
            subject: None,
        })))
    }

    /// A failure that is not a server error (not retried).
    fn broke(what: &str) -> Error {
        Error::Step(StepError::CommandFailed {
            what: what.to_string(),
            status: 1,
        })
    }

    impl Executor for Scripted {
        async fn preflight(&mut self) -> Result<Preflight, Error> {
            Ok(Preflight::default())
        }
        fn describe(&self, step: StepKind) -> StepPlan {
            StepPlan {
                step,
                description: step.name().into(),
                requests: vec![],
                sql: vec![],
                destructive: step.is_destructive(),
            }
        }
        async fn safety_backup(&mut self) -> Result<String, Error> {
            self.ran.push("safety".into());
            if self.backup_fails {
                Err(broke("capture"))
            } else {
                Ok("b007".into())
            }
        }
        async fn execute(
            &mut self,
            step: StepKind,
            state: &mut RunState,
            _checkpoint: StateCheckpoint<'_>,
        ) -> Result<String, Error> {
            if self.hang_on == Some(step) {
                if matches!(step, StepKind::Migrate | StepKind::Run) {
                    state.one_off_dyno = Some("run.1".into());
                }
                std::future::pending::<()>().await;
            }
            if let Some(n) = self.fail.get_mut(&step)
                && *n > 0
            {
                *n -= 1;
                return Err(broke(step.name()));
            }
            if let Some(n) = self.post_503.get_mut(&step)
                && *n > 0
            {
                *n -= 1;
                self.ran.push(format!("{step} (503)"));
                return Err(http_failure("POST", 503));
            }
            self.ran.push(step.name().into());
            if let Some((_, dir)) = self.breaks_journal.as_ref().filter(|(s, _)| *s == step) {
                std::fs::remove_dir_all(dir).unwrap();
                std::fs::write(dir, "not a folder").unwrap();
            }
            if step == StepKind::MaintenanceOn {
                self.maintenance_on = true;
                state.maintenance_on_by_run = true;
            }
            if step == StepKind::MaintenanceOff {
                self.maintenance_on = false;
                state.maintenance_on_by_run = false;
            }
            Ok(format!("{step} ok"))
        }
        async fn maintenance_off(&mut self) -> Result<(), Error> {
            self.ran.push("cleanup: maintenance off".into());
            self.maintenance_on = false;
            Ok(())
        }
        async fn stop_dyno(&mut self, dyno: &str) -> Result<(), Error> {
            self.ran.push(format!("cleanup: stop {dyno}"));
            Ok(())
        }
        fn describe_state(&self, _state: &RunState) -> String {
            "scripted".into()
        }
    }

    const SWAP: [StepKind; 5] = [
        StepKind::AddonsCreate,
        StepKind::MaintenanceOn,
        StepKind::PgPromote,
        StepKind::MaintenanceOff,
        StepKind::DynosRestart,
    ];

    fn options(dir: &std::path::Path) -> RunOptions {
        RunOptions {
            no_backup: false,
            keep_maintenance: false,
            journal_dir: dir.to_path_buf(),
            step_retries: 2,
            retry_delay: std::time::Duration::from_millis(1),
        }
    }

    fn no_interrupt() -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        rx
    }

    /// Ctrl-C 50 ms from now, while a step hangs.
    fn interrupt_soon() -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let _ = tx.send(true);
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        });
        rx
    }

    /// The swap-db steps, run to the end or the first failure, without Ctrl-C.
    async fn run_swap(ex: &mut Scripted, dir: &std::path::Path) -> Result<Report, RunFailure> {
        let journal = Journal::new("swap-db", "app", &SWAP, serde_json::json!({}));
        run(ex, journal, &options(dir), &mut (), no_interrupt()).await
    }

    #[tokio::test]
    async fn success_takes_a_safety_backup_first_and_journals_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted::default();
        let report = run_swap(&mut ex, dir.path()).await.unwrap();
        assert_eq!(
            ex.ran,
            [
                "safety",
                "addons.create",
                "maintenance.on",
                "pg.promote",
                "maintenance.off",
                "dynos.restart"
            ]
        );
        assert_eq!(report.status, RunStatus::Succeeded);
        assert_eq!(report.state.safety_backup.as_deref(), Some("b007"));
        let safety = report.state.safety_backup_step.as_ref().unwrap();
        assert_eq!(
            (safety.status, safety.detail.as_deref()),
            (StepStatus::Done, Some("backup b007"))
        );
        assert!(safety.duration_ms.is_some() && safety.started_at.is_some());
        let saved = journal::load(dir.path(), &report.run_id).unwrap();
        assert!(
            saved
                .steps
                .iter()
                .all(|s| s.status == StepStatus::Done && s.duration_ms.is_some())
        );
    }

    /// A step's end is saved only with the next step's start: when that save fails, the next
    /// step must not run, and a run whose last save fails has not succeeded.
    #[tokio::test]
    async fn a_journal_that_cannot_be_saved_stops_the_run_before_the_next_step() {
        for (breaker, ran) in [(StepKind::PgPromote, 3), (StepKind::DynosRestart, 5)] {
            let top = tempfile::tempdir().unwrap();
            let dir = top.path().join("runs");
            let mut ex = Scripted {
                breaks_journal: Some((breaker, dir.clone())),
                ..Scripted::default()
            };
            let failed = run_swap(&mut ex, &dir).await.unwrap_err();
            assert_eq!(failed.report.status, RunStatus::Failed, "{breaker}");
            assert!(
                failed.cause.to_string().contains("run journal"),
                "{breaker}: {}",
                failed.cause
            );
            let steps: Vec<&String> = ex
                .ran
                .iter()
                .filter(|r| *r != "safety" && !r.starts_with("cleanup:"))
                .collect();
            assert_eq!(steps.len(), ran, "{breaker}: {:?}", ex.ran);
            assert_eq!(steps.last().map(|s| s.as_str()), Some(breaker.name()));
            // Clean-up still ran: maintenance, turned on by this run, is off again.
            assert!(!ex.maintenance_on, "{breaker}: maintenance left on");
        }
    }

    #[tokio::test]
    async fn failure_turns_maintenance_off_and_resume_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted {
            fail: HashMap::from([(StepKind::PgPromote, 1)]),
            ..Default::default()
        };
        let failed = run_swap(&mut ex, dir.path()).await.unwrap_err();
        assert!(!ex.maintenance_on, "clean-up must turn maintenance off");
        assert_eq!(failed.report.status, RunStatus::Failed);
        assert!(
            failed
                .report
                .resume_command
                .as_deref()
                .unwrap()
                .starts_with("herokuops resume ")
        );
        assert!(
            failed
                .report
                .app_state
                .as_deref()
                .unwrap()
                .contains("turned off again")
        );
        assert_eq!(failed.cause.exit_code(), 1);

        let saved = journal::load(dir.path(), &failed.report.run_id).unwrap();
        // Maintenance, turned off by the clean-up, is turned on again before the promotion.
        assert_eq!(saved.resume_index(), Some(1));
        assert_eq!(saved.steps[1].status, StepStatus::Pending);
        ex.ran.clear();
        let report = run(
            &mut ex,
            saved,
            &options(dir.path()),
            &mut (),
            no_interrupt(),
        )
        .await
        .unwrap();
        // The safety backup and the steps still in effect are not repeated.
        assert_eq!(
            ex.ran,
            [
                "maintenance.on",
                "pg.promote",
                "maintenance.off",
                "dynos.restart"
            ]
        );
        assert_eq!(report.status, RunStatus::Succeeded);
    }

    #[tokio::test]
    async fn failed_safety_backup_means_nothing_destructive_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted {
            backup_fails: true,
            ..Default::default()
        };
        let journal = Journal::new(
            "reset",
            "app",
            &[StepKind::PgDropSchema, StepKind::Migrate],
            serde_json::json!({}),
        );
        let failed = run(
            &mut ex,
            journal,
            &options(dir.path()),
            &mut (),
            no_interrupt(),
        )
        .await
        .unwrap_err();
        assert_eq!(ex.ran, ["safety"]);
        assert!(failed.cause.to_string().contains("nothing destructive ran"));
    }

    #[tokio::test]
    async fn no_backup_skips_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted::default();
        let journal = Journal::new(
            "reset",
            "app",
            &[StepKind::PgDropSchema],
            serde_json::json!({}),
        );
        let opts = RunOptions {
            no_backup: true,
            ..options(dir.path())
        };
        run(&mut ex, journal, &opts, &mut (), no_interrupt())
            .await
            .unwrap();
        assert_eq!(ex.ran, ["pg.drop-schema"]);
    }

    #[tokio::test]
    async fn interrupt_during_a_wait_cleans_up_and_exits_130() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted {
            hang_on: Some(StepKind::PgPromote),
            ..Default::default()
        };
        let rx = interrupt_soon();
        let journal = Journal::new("swap-db", "app", &SWAP, serde_json::json!({}));
        let failed = run(&mut ex, journal, &options(dir.path()), &mut (), rx)
            .await
            .unwrap_err();
        assert_eq!(failed.cause.exit_code(), 130);
        assert_eq!(failed.report.status, RunStatus::Interrupted);
        assert!(!ex.maintenance_on);
        assert!(ex.ran.contains(&"cleanup: maintenance off".to_string()));
    }

    #[tokio::test]
    async fn interrupt_during_a_one_off_migration_stops_its_dyno() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted {
            hang_on: Some(StepKind::Migrate),
            ..Default::default()
        };
        let rx = interrupt_soon();
        let steps = [
            StepKind::PgDropSchema,
            StepKind::Migrate,
            StepKind::PgVerify,
        ];
        let journal = Journal::new("reset", "app", &steps, serde_json::json!({}));
        let failed = run(&mut ex, journal, &options(dir.path()), &mut (), rx)
            .await
            .unwrap_err();
        assert_eq!(failed.cause.exit_code(), 130);
        assert_eq!(ex.ran.last().unwrap(), "cleanup: stop run.1");
        let app_state = failed.report.app_state.as_deref().unwrap();
        assert!(app_state.contains("run.1 was stopped"), "{app_state}");
        let saved = journal::load(dir.path(), &failed.report.run_id).unwrap();
        assert_eq!(saved.state.one_off_dyno, None);
    }

    #[tokio::test]
    async fn a_post_answered_503_is_tried_again_but_not_forever() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted {
            post_503: HashMap::from([(StepKind::AddonsCreate, 1)]),
            ..Default::default()
        };
        run_swap(&mut ex, dir.path()).await.unwrap();
        assert_eq!(
            ex.ran[..3],
            ["safety", "addons.create (503)", "addons.create"]
        );

        let mut ex = Scripted {
            post_503: HashMap::from([(StepKind::AddonsCreate, 10)]),
            ..Default::default()
        };
        let failed = run_swap(&mut ex, dir.path()).await.unwrap_err();
        assert_eq!(
            ex.ran.len(),
            1 + 3,
            "the first attempt and two more: {:?}",
            ex.ran
        );
        assert_eq!(failed.report.status, RunStatus::Failed);

        // The operator's own command is not run twice on a doubt.
        let mut ex = Scripted {
            post_503: HashMap::from([(StepKind::Run, 1)]),
            ..Default::default()
        };
        let journal = Journal::new("custom", "app", &[StepKind::Run], serde_json::json!({}));
        run(
            &mut ex,
            journal,
            &options(dir.path()),
            &mut (),
            no_interrupt(),
        )
        .await
        .unwrap_err();
        assert_eq!(ex.ran, ["run (503)"]);

        // A failure that is not a server error is not retried.
        let mut ex = Scripted {
            fail: HashMap::from([(StepKind::AddonsCreate, 1)]),
            ..Default::default()
        };
        run_swap(&mut ex, dir.path()).await.unwrap_err();
        assert_eq!(ex.ran, ["safety"]);
    }

    #[tokio::test]
    async fn interrupt_during_the_safety_backup_is_an_interrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted::default();
        let (tx, rx) = watch::channel(false);
        tx.send(true).unwrap();
        let journal = Journal::new(
            "reset",
            "app",
            &[StepKind::PgDropSchema],
            serde_json::json!({}),
        );
        let failed = run(&mut ex, journal, &options(dir.path()), &mut (), rx)
            .await
            .unwrap_err();
        assert_eq!(failed.cause.exit_code(), 130);
        assert_eq!(failed.report.status, RunStatus::Interrupted);
        assert!(ex.ran.is_empty(), "{:?}", ex.ran);
    }

    #[tokio::test]
    async fn keep_maintenance_leaves_it_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Scripted {
            fail: HashMap::from([(StepKind::PgPromote, 1)]),
            ..Default::default()
        };
        let journal = Journal::new("swap-db", "app", &SWAP, serde_json::json!({}));
        let opts = RunOptions {
            keep_maintenance: true,
            ..options(dir.path())
        };
        let failed = run(&mut ex, journal, &opts, &mut (), no_interrupt())
            .await
            .unwrap_err();
        assert!(ex.maintenance_on);
        assert!(failed.report.state.maintenance_on_by_run);
    }
}
