//! Runs a plan: preflight, one confirmation, safety backup, the steps with the journal written
//! after each, clean-up on failure or interrupt, and a report of what was done.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use super::StepKind;
use super::journal::{self, Journal, RunState, RunStatus, StepStatus};
use crate::api::ApiError;
use crate::error::Error;

/// What a step will do, for the plan and `--dry-run`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepPlan {
    pub step: StepKind,
    pub description: String,
    /// The API calls it makes, e.g. `PATCH /apps/tmi-server {"maintenance":true}`.
    pub requests: Vec<String>,
    /// The SQL it runs.
    pub sql: Vec<String>,
    pub destructive: bool,
}

/// Does the work of each step; the runner decides when.
pub trait Executor: Send {
    /// Read-only checks; any failure stops the run before anything changes. Returns facts
    /// worth showing (the current database, the tables that will be dropped...).
    fn preflight(&mut self) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    fn describe(&self, step: StepKind) -> StepPlan;
    /// Takes the backup that precedes the first data-destroying step; returns its name.
    fn safety_backup(
        &mut self,
        state: &mut RunState,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// Runs one step, idempotently; returns a one-line account of what it did.
    fn execute(
        &mut self,
        step: StepKind,
        state: &mut RunState,
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
    pub steps: Vec<journal::StepRecord>,
    pub state: RunState,
    pub journal: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The app's state after a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_command: Option<String>,
}

/// A run that did not finish: the report of what was done, and why it stopped.
#[derive(Debug)]
pub struct RunFailure {
    pub report: Box<Report>,
    pub cause: Error,
}

fn report_of(journal: &Journal, path: PathBuf) -> Report {
    Report {
        run_id: journal.id.clone(),
        playbook: journal.playbook.clone(),
        app: journal.app.clone(),
        status: journal.status,
        steps: journal.steps.clone(),
        state: journal.state.clone(),
        journal: path,
        error: journal.error.clone(),
        app_state: None,
        resume_command: None,
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
    mut interrupt: watch::Receiver<bool>,
) -> Result<Report, RunFailure> {
    let save = |j: &Journal| journal::save(&options.journal_dir, j);
    let mut path = options.journal_dir.join(format!("{}.json", journal.id));
    journal.status = RunStatus::Running;
    journal.error = None;
    journal.pid = Some(std::process::id());
    if let Err(e) = save(&journal) {
        return Err(RunFailure {
            report: Box::new(report_of(&journal, path)),
            cause: Error::failed(e.to_string()),
        });
    }

    let destroys_data = journal
        .steps
        .iter()
        .any(|s| s.step.is_destructive() && s.status != StepStatus::Done);
    let mut failure: Option<(Error, RunStatus)> = None;

    if destroys_data && !options.no_backup && journal.state.safety_backup.is_none() {
        let started = Instant::now();
        let started_at = journal::now_rfc3339();
        observer.step_started(
            0,
            journal.steps.len(),
            StepKind::BackupCapture,
            "safety backup before the destructive steps",
        );
        let outcome = attempt(executor, None, &mut journal.state, options, &mut interrupt).await;
        let elapsed = started.elapsed().as_millis() as u64;
        let mut record = journal::StepRecord {
            step: StepKind::BackupCapture,
            status: StepStatus::Done,
            started_at: Some(started_at),
            duration_ms: Some(elapsed),
            detail: None,
            error: None,
        };
        match outcome {
            Ok(name) => {
                observer.step_finished(StepKind::BackupCapture, Ok(&name), elapsed);
                record.detail = Some(format!("backup {name}"));
                journal.state.safety_backup = Some(name);
            }
            Err((e, status)) => {
                observer.step_finished(StepKind::BackupCapture, Err(&e.to_string()), elapsed);
                record.status = StepStatus::Failed;
                record.error = Some(e.to_string());
                // Ctrl-C stays Ctrl-C (exit 130), not a failure of the backup.
                let cause = if status == RunStatus::Interrupted {
                    e
                } else {
                    Error::failed_with_hint(
                        format!("the safety backup failed, so nothing destructive ran: {e}"),
                        "fix the cause, or pass --no-backup if you accept losing the data"
                            .to_string(),
                    )
                };
                failure = Some((cause, status));
            }
        }
        journal.state.safety_backup_step = Some(record);
        if let Ok(p) = save(&journal) {
            path = p;
        }
    }

    let total = journal.steps.len();
    let start = journal.resume_index().unwrap_or(total);
    if failure.is_none() {
        for index in start..total {
            if journal.steps[index].status == StepStatus::Done {
                continue;
            }
            let step = journal.steps[index].step;
            let plan = executor.describe(step);
            journal.steps[index].status = StepStatus::Running;
            journal.steps[index].started_at = Some(journal::now_rfc3339());
            let _ = save(&journal);
            observer.step_started(index + 1, total, step, &plan.description);
            let started = Instant::now();
            let outcome = attempt(
                executor,
                Some(step),
                &mut journal.state,
                options,
                &mut interrupt,
            )
            .await;
            let elapsed = started.elapsed().as_millis() as u64;
            journal.steps[index].duration_ms = Some(elapsed);
            match outcome {
                Ok(detail) => {
                    observer.step_finished(step, Ok(&detail), elapsed);
                    journal.steps[index].status = StepStatus::Done;
                    journal.steps[index].detail = Some(detail);
                    journal.steps[index].error = None;
                    match save(&journal) {
                        Ok(p) => path = p,
                        Err(e) => {
                            failure = Some((Error::failed(e.to_string()), RunStatus::Failed));
                            break;
                        }
                    }
                }
                Err((e, status)) => {
                    observer.step_finished(step, Err(&e.to_string()), elapsed);
                    journal.steps[index].status = StepStatus::Failed;
                    journal.steps[index].error = Some(e.to_string());
                    failure = Some((e, status));
                    break;
                }
            }
        }
    }

    let Some((cause, status)) = failure else {
        journal.status = RunStatus::Succeeded;
        journal.finished_at = Some(journal::now_rfc3339());
        let path = save(&journal).unwrap_or(path);
        return Ok(report_of(&journal, path));
    };

    // Undo what must not stay: a one-off command still running for a run that has stopped,
    // and maintenance this run turned on.
    let mut cleanup_notes = Vec::new();
    if let Some(dyno) = journal.state.one_off_dyno.clone() {
        match executor.stop_dyno(&dyno).await {
            Ok(()) => {
                journal.state.one_off_dyno = None;
                cleanup_notes.push(format!("the one-off dyno {dyno} was stopped"));
            }
            Err(e) => cleanup_notes.push(format!(
                "the one-off dyno {dyno} may STILL BE RUNNING: stopping it failed ({e})"
            )),
        }
    }
    if journal.state.maintenance_on_by_run && !options.keep_maintenance {
        match executor.maintenance_off().await {
            Ok(()) => {
                journal.state.maintenance_on_by_run = false;
                // The steps after maintenance.on count on it (a promotion must not run with the
                // app serving): a resumed run turns it on again first.
                if let Some(on) = journal.steps.iter().rposition(|s| {
                    s.step == StepKind::MaintenanceOn && s.status == StepStatus::Done
                }) {
                    journal.steps[on].status = StepStatus::Pending;
                    journal.steps[on].detail =
                        Some("undone by the clean-up; turned on again on resume".into());
                }
                cleanup_notes.push(
                    "maintenance mode, turned on by this run, was turned off again".to_string(),
                );
            }
            Err(e) => cleanup_notes.push(format!(
                "maintenance mode is STILL ON: turning it off failed ({e})"
            )),
        }
    }
    journal.status = status;
    journal.error = Some(cause.to_string());
    journal.finished_at = Some(journal::now_rfc3339());
    let path = save(&journal).unwrap_or(path);
    let mut report = report_of(&journal, path);
    let mut app_state = executor.describe_state(&journal.state);
    for note in cleanup_notes {
        app_state = format!("{app_state}; {note}");
    }
    report.app_state = Some(app_state);
    report.resume_command = Some(format!("herokuops resume {}", journal.id));
    Err(RunFailure {
        report: Box::new(report),
        cause,
    })
}

/// Runs a step (`None`: the safety backup), again after a transient failure of a write, unless
/// Ctrl-C comes first.
async fn attempt<E: Executor>(
    executor: &mut E,
    step: Option<StepKind>,
    state: &mut RunState,
    options: &RunOptions,
    interrupt: &mut watch::Receiver<bool>,
) -> Result<String, (Error, RunStatus)> {
    let mut retries = 0;
    loop {
        let work = async {
            match step {
                None => executor.safety_backup(state).await,
                Some(step) => executor.execute(step, state).await,
            }
        };
        match interruptible(work, interrupt).await {
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
                interruptible(pause, interrupt).await?;
            }
            outcome => return outcome,
        }
    }
}

/// A POST that Heroku answered with a server error, or whose answer never came: the API client
/// retries every other request itself.
fn is_transient_write_failure(e: &Error) -> bool {
    match e {
        Error::Api(ApiError::Http(f)) => f.method == "POST" && f.status >= 500,
        Error::Api(ApiError::Transport { method, .. }) => method == "POST",
        _ => false,
    }
}

/// Runs a step unless Ctrl-C comes first.
async fn interruptible<T>(
    work: impl Future<Output = Result<T, Error>>,
    interrupt: &mut watch::Receiver<bool>,
) -> Result<T, (Error, RunStatus)> {
    if *interrupt.borrow() {
        return Err((Error::Interrupted, RunStatus::Interrupted));
    }
    tokio::select! {
        outcome = work => outcome.map_err(|e| (e, RunStatus::Failed)),
        _ = async {
            while interrupt.changed().await.is_ok() {
                if *interrupt.borrow() {
                    return;
                }
            }
            std::future::pending::<()>().await
        } => Err((Error::Interrupted, RunStatus::Interrupted)),
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

    impl Executor for Scripted {
        async fn preflight(&mut self) -> Result<Vec<String>, Error> {
            Ok(vec![])
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
        async fn safety_backup(&mut self, _state: &mut RunState) -> Result<String, Error> {
            self.ran.push("safety".into());
            if self.backup_fails {
                Err(Error::failed("capture failed"))
            } else {
                Ok("b007".into())
            }
        }
        async fn execute(&mut self, step: StepKind, state: &mut RunState) -> Result<String, Error> {
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
                return Err(Error::failed(format!("{step} broke")));
            }
            if let Some(n) = self.post_503.get_mut(&step)
                && *n > 0
            {
                *n -= 1;
                self.ran.push(format!("{step} (503)"));
                return Err(http_failure("POST", 503));
            }
            self.ran.push(step.name().into());
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
