//! Fleets: one operation on many apps at once.
//!
//! [`run`] starts the operation for each app as its own task, at most `jobs` at a time, and
//! collects one [`AppRow`] per app in the order the apps were given. One app's failure never
//! stops the others. The tasks are expected to share one [`crate::api::ApiClient`], so they
//! share its rate-limit budget. An interrupt stops new apps from starting; running ones are
//! aborted, or left to finish when they clean up after themselves (playbook runs).
//!
//! The exit code of a fleet is the worst of its apps' (see [`worst`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::error::exit;

/// The default number of apps worked on at once.
pub const DEFAULT_JOBS: usize = 4;

/// How a fleet runs.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Apps worked on at once (at least 1).
    pub jobs: usize,
    /// On an interrupt, let running apps finish (they handle the interrupt themselves, as
    /// playbook runs do) instead of aborting them.
    pub let_running_finish: bool,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            jobs: DEFAULT_JOBS,
            let_running_finish: false,
        }
    }
}

/// What one app's operation ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct AppOutcome {
    /// The exit code the operation would have had on its own.
    pub exit_code: u8,
    /// One line: what was done, or what failed.
    pub detail: String,
    /// The operation's own JSON result, when it produced one.
    pub result: Option<serde_json::Value>,
}

impl AppOutcome {
    pub fn ok(detail: impl Into<String>) -> Self {
        AppOutcome {
            exit_code: exit::OK,
            detail: detail.into(),
            result: None,
        }
    }

    pub fn failed(exit_code: u8, detail: impl Into<String>) -> Self {
        AppOutcome {
            exit_code,
            detail: detail.into(),
            result: None,
        }
    }
}

/// An app's row of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    Ok,
    Failed,
    /// Bad input or a confirmation missing (exit 2).
    Refused,
    /// Verification found drift (exit 3).
    Drift,
    /// The token was missing or rejected (exit 4).
    Unauthenticated,
    /// Stopped by an interrupt while it ran.
    Interrupted,
    /// Never started: the fleet was interrupted first.
    NotRun,
}

impl AppStatus {
    fn from_exit(code: u8) -> AppStatus {
        match code {
            exit::OK => AppStatus::Ok,
            exit::USAGE => AppStatus::Refused,
            exit::DRIFT => AppStatus::Drift,
            exit::NOT_AUTHENTICATED => AppStatus::Unauthenticated,
            exit::INTERRUPTED => AppStatus::Interrupted,
            _ => AppStatus::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Ok => "ok",
            AppStatus::Failed => "failed",
            AppStatus::Refused => "refused",
            AppStatus::Drift => "drift",
            AppStatus::Unauthenticated => "unauthenticated",
            AppStatus::Interrupted => "interrupted",
            AppStatus::NotRun => "not run",
        }
    }
}

/// One app's line in the fleet report.
#[derive(Debug, Clone, Serialize)]
pub struct AppRow {
    pub app: String,
    pub status: AppStatus,
    pub exit_code: u8,
    pub detail: String,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// Every app's row, in the order the apps were given.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub rows: Vec<AppRow>,
    pub interrupted: bool,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl FleetReport {
    /// The worst exit code of the apps (see [`worst`]).
    pub fn exit_code(&self) -> u8 {
        let codes = self.rows.iter().map(|r| r.exit_code);
        if self.interrupted {
            exit::INTERRUPTED
        } else {
            worst(codes)
        }
    }

    /// How many apps ended with each status, in a fixed order, leaving out zeros.
    pub fn counts(&self) -> Vec<(AppStatus, usize)> {
        [
            AppStatus::Ok,
            AppStatus::Drift,
            AppStatus::Failed,
            AppStatus::Refused,
            AppStatus::Unauthenticated,
            AppStatus::Interrupted,
            AppStatus::NotRun,
        ]
        .into_iter()
        .map(|s| (s, self.rows.iter().filter(|r| r.status == s).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| r.exit_code != exit::OK).count()
    }
}

/// How bad an exit code is, for [`worst`]: interrupted (130) > not authenticated (4) > refused
/// or bad input (2) > failed (1, and any other non-zero code) > drift (3) > done (0).
///
/// An interrupt outranks everything because the report is incomplete. A token problem is
/// next: it fails every app the same way and no retry helps until it is fixed. Bad input means
/// the operation never started. Drift is an answer, not a failure: the operation worked and
/// found a difference, so a real failure elsewhere must not be hidden behind it.
pub fn severity(code: u8) -> u8 {
    match code {
        exit::OK => 0,
        exit::DRIFT => 1,
        exit::USAGE => 3,
        exit::NOT_AUTHENTICATED => 4,
        exit::INTERRUPTED => 5,
        _ => 2,
    }
}

/// The worst of the exit codes by [`severity`]; 0 for none.
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    codes
        .into_iter()
        .max_by_key(|c| severity(*c))
        .unwrap_or(exit::OK)
}

/// Runs `operation` for every app, at most `options.jobs` at once, and reports each one.
///
/// `finished` is called as each app ends (for a progress line); `interrupt` turning `true`
/// stops the fleet as described in the module documentation.
pub async fn run<F, Fut>(
    apps: Vec<String>,
    options: &FleetOptions,
    mut interrupt: watch::Receiver<bool>,
    operation: F,
    finished: impl FnMut(&AppRow, usize, usize),
) -> FleetReport
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = AppOutcome> + Send + 'static,
{
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut tally = Tally::new(&apps, finished);
    let mut tasks: JoinSet<Ended> = JoinSet::new();
    let mut interrupted = *interrupt.borrow();
    let mut next = 0;

    while !interrupted && (next < apps.len() || !tasks.is_empty()) {
        // Start the next app when a slot is free; otherwise wait for one to end.
        let can_start = next < apps.len() && limit.available_permits() > 0;
        if can_start {
            let id = spawn_app(&mut tasks, &limit, &operation, &apps, next);
            tally.started(next, id);
            next += 1;
            continue;
        }
        tokio::select! {
            joined = tasks.join_next_with_id() => {
                if let Some(joined) = joined {
                    tally.joined(joined);
                }
            }
            changed = interrupt.changed() => match changed {
                Ok(()) if *interrupt.borrow() => interrupted = true,
                Ok(()) => {}
                // A dropped sender means nobody can interrupt any more, not an interrupt.
                Err(_) => interrupt = crate::signals::never(),
            }
        }
    }

    if interrupted {
        stop_running(&mut tasks, options.let_running_finish, &mut tally).await;
    }
    FleetReport {
        rows: tally.into_rows(),
        interrupted,
        elapsed: started.elapsed(),
    }
}

/// What an app's task ends with: the app's index, its outcome, and how long it ran.
type Ended = (usize, AppOutcome, Duration);

/// Starts the app at `index` in a task that holds one of `limit`'s permits (one is free) for
/// as long as it runs.
fn spawn_app<F, Fut>(
    tasks: &mut JoinSet<Ended>,
    limit: &Arc<Semaphore>,
    operation: &F,
    apps: &[String],
    index: usize,
) -> tokio::task::Id
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = AppOutcome> + Send + 'static,
{
    let permit = limit
        .clone()
        .try_acquire_owned()
        .expect("a permit was available");
    let work = operation(apps[index].clone());
    let handle = tasks.spawn(async move {
        let _permit = permit;
        let began = Instant::now();
        let outcome = work.await;
        (index, outcome, began.elapsed())
    });
    handle.id()
}

/// After an interrupt: waits for the running apps or aborts them, then reports every app that
/// was still running as interrupted.
async fn stop_running<P>(
    tasks: &mut JoinSet<Ended>,
    let_running_finish: bool,
    tally: &mut Tally<'_, P>,
) where
    P: FnMut(&AppRow, usize, usize),
{
    if let_running_finish {
        while let Some(joined) = tasks.join_next_with_id().await {
            if let Ok((_, (index, outcome, elapsed))) = joined {
                tally.ended(index, outcome, elapsed);
            }
        }
    } else {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    tally.interrupt_running();
}

/// The fleet's bookkeeping as it runs: each app's row once it has one, the task and start time
/// of each running app (to name a task that panicked, and time an interrupted one), and the
/// progress callback told of each row.
struct Tally<'a, P> {
    apps: &'a [String],
    rows: Vec<Option<AppRow>>,
    running: Vec<Option<(tokio::task::Id, Instant)>>,
    done: usize,
    finished: P,
}

impl<'a, P: FnMut(&AppRow, usize, usize)> Tally<'a, P> {
    fn new(apps: &'a [String], finished: P) -> Self {
        Tally {
            apps,
            rows: vec![None; apps.len()],
            running: vec![None; apps.len()],
            done: 0,
            finished,
        }
    }

    fn started(&mut self, index: usize, task: tokio::task::Id) {
        self.running[index] = Some((task, Instant::now()));
    }

    /// A task ended: its outcome, or a failure row when it panicked.
    fn joined(&mut self, joined: Result<(tokio::task::Id, Ended), tokio::task::JoinError>) {
        let (index, outcome, elapsed) = match joined {
            Ok((_, ended)) => ended,
            Err(e) => {
                let index = index_of(&self.running, e.id()).unwrap_or(0);
                let elapsed = self.running[index]
                    .map(|(_, t)| t.elapsed())
                    .unwrap_or_default();
                let outcome = AppOutcome::failed(exit::FAILED, format!("internal error: {e}"));
                (index, outcome, elapsed)
            }
        };
        self.ended(index, outcome, elapsed);
    }

    fn ended(&mut self, index: usize, outcome: AppOutcome, elapsed: Duration) {
        self.running[index] = None;
        let r = row(&self.apps[index], outcome, elapsed);
        self.record(index, r);
    }

    /// Every app still running without a row gets one saying it was interrupted.
    fn interrupt_running(&mut self) {
        let stopped: Vec<(usize, Instant)> = self
            .running
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| slot.map(|(_, began)| (index, began)))
            .filter(|(index, _)| self.rows[*index].is_none())
            .collect();
        for (index, began) in stopped {
            let r = AppRow {
                app: self.apps[index].clone(),
                status: AppStatus::Interrupted,
                exit_code: exit::INTERRUPTED,
                detail: "interrupted while running".into(),
                duration_ms: began.elapsed().as_millis() as u64,
                result: None,
            };
            self.record(index, r);
        }
    }

    fn record(&mut self, index: usize, row: AppRow) {
        self.done += 1;
        (self.finished)(&row, self.done, self.apps.len());
        self.rows[index] = Some(row);
    }

    /// Every app's row, in order; an app that never started is reported as not run.
    fn into_rows(self) -> Vec<AppRow> {
        let apps = self.apps;
        self.rows
            .into_iter()
            .enumerate()
            .map(|(index, r)| {
                r.unwrap_or_else(|| AppRow {
                    app: apps[index].clone(),
                    status: AppStatus::NotRun,
                    exit_code: exit::INTERRUPTED,
                    detail: "not started: interrupted".into(),
                    duration_ms: 0,
                    result: None,
                })
            })
            .collect()
    }
}

fn index_of(running: &[Option<(tokio::task::Id, Instant)>], id: tokio::task::Id) -> Option<usize> {
    running
        .iter()
        .position(|r| r.is_some_and(|(task, _)| task == id))
}

fn row(app: &str, outcome: AppOutcome, elapsed: Duration) -> AppRow {
    AppRow {
        app: app.to_string(),
        status: AppStatus::from_exit(outcome.exit_code),
        exit_code: outcome.exit_code,
        detail: outcome.detail,
        duration_ms: elapsed.as_millis() as u64,
        result: outcome.result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn apps(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("app-{i:02}")).collect()
    }

    #[test]
    fn worst_orders_interrupt_auth_usage_failure_drift_ok() {
        assert_eq!(worst([]), 0);
        assert_eq!(worst([0, 3, 0]), 3);
        assert_eq!(worst([3, 1, 0]), 1);
        assert_eq!(worst([1, 2, 3]), 2);
        assert_eq!(worst([2, 4, 1]), 4);
        assert_eq!(worst([4, 130]), 130);
        assert_eq!(worst([3, 7]), 7, "an unknown failure code outranks drift");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_every_app_with_bounded_concurrency_and_keeps_order() {
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let options = FleetOptions {
            jobs: 3,
            ..FleetOptions::default()
        };
        let mut seen = Vec::new();
        let report = run(
            apps(10),
            &options,
            crate::signals::never(),
            |app| {
                let (live, peak) = (live.clone(), peak.clone());
                async move {
                    let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    live.fetch_sub(1, Ordering::SeqCst);
                    if app == "app-04" {
                        AppOutcome::failed(1, "boom")
                    } else if app == "app-07" {
                        AppOutcome::failed(3, "drift")
                    } else {
                        AppOutcome::ok(format!("did {app}"))
                    }
                }
            },
            |row, done, total| seen.push((row.app.clone(), done, total)),
        )
        .await;
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        let names: Vec<&str> = report.rows.iter().map(|r| r.app.as_str()).collect();
        assert_eq!(names, apps(10));
        assert_eq!(report.rows[3].status, AppStatus::Failed);
        assert_eq!(report.rows[6].status, AppStatus::Drift);
        assert_eq!(report.rows[0].detail, "did app-01");
        assert_eq!(report.exit_code(), 1);
        assert_eq!(report.failures(), 2);
        assert_eq!(seen.len(), 10);
        assert_eq!(seen.last().unwrap().1, 10);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_app_is_a_failed_row() {
        let report = run(
            apps(3),
            &FleetOptions::default(),
            crate::signals::never(),
            |app| async move {
                if app == "app-02" {
                    panic!("bug");
                }
                AppOutcome::ok("fine")
            },
            |_, _, _| {},
        )
        .await;
        assert_eq!(report.rows[1].status, AppStatus::Failed);
        assert!(report.rows[1].detail.contains("internal error"));
        assert_eq!(report.rows[2].status, AppStatus::Ok);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupt_aborts_running_apps_and_starts_no_more() {
        let (tx, rx) = watch::channel(false);
        let options = FleetOptions {
            jobs: 2,
            let_running_finish: false,
        };
        let trigger = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(true).unwrap();
            tx
        });
        let report = run(
            apps(5),
            &options,
            rx,
            |app| async move {
                if app == "app-01" {
                    return AppOutcome::ok("quick");
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
                AppOutcome::ok("slow")
            },
            |_, _, _| {},
        )
        .await;
        drop(trigger.await);
        assert!(report.interrupted);
        assert_eq!(report.exit_code(), 130);
        let statuses: Vec<AppStatus> = report.rows.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                AppStatus::Ok,
                AppStatus::Interrupted,
                AppStatus::Interrupted,
                AppStatus::NotRun,
                AppStatus::NotRun
            ]
        );
        assert!(report.elapsed < Duration::from_secs(10));
    }
}
