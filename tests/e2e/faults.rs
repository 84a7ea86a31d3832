//! The fault matrix: every request by which `reset` and `swap-db` change something answered
//! 503 once (the run gets through), 500 until cleared (exit 1, clean-up, a journal that
//! `resume` completes), and Ctrl-C during each wait (exit 130, the same clean-up, resumable).
//! The POSTs, which the API client does not repeat by itself, also lose their connection once,
//! and are carried out but answered 500 (the run must not do twice what Heroku did once). The
//! drop, which is SQL, has its database session terminated in the middle of its transaction.
//! The creation of the add-on and the promotion are carried out and then SIGKILLed before
//! their answer (resume recognises the work from what the journal held before the request:
//! no second add-on); and a second run starts while the first is at work, on this machine or
//! (through the database lock) on another.
//!
//! Each cell runs on a sandbox of its own; cells run a few at a time. Every cell's outcome is
//! printed as a table row (see it with `--nocapture`, or in
//! `target/tmp/fault-matrix-PLAYBOOK.txt`), and the test fails if any cell did.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::harness::{
    E2e, Options, Run, expected_file, fault, fresh_and_empty, glob, has_seed, signal,
    tables_and_rows,
};
use super::kill::{connect, drop_waiting_on_lock};
use crate::support::sandbox::APP;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Playbook {
    Reset,
    SwapDb,
}

impl Playbook {
    fn name(self) -> &'static str {
        match self {
            Playbook::Reset => "reset",
            Playbook::SwapDb => "swap-db",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// One 503, then the request goes through.
    Once503,
    /// The connection closed once without an answer, then the request goes through.
    CutOnce,
    /// Carried out, but answered 500 once: the platform acted and the client cannot know.
    LostAnswer,
    /// 500 on every attempt until the faults are cleared.
    Persistent500,
    /// SIGINT while the request is held by a delay fault.
    InterruptHeld,
    /// SIGTERM (a cancelled CI job, a stopped container) while the request is held.
    TerminateHeld,
    /// SIGINT while the new add-on is provisioning (a long sandbox provision delay).
    InterruptProvisioning,
    /// SIGINT between polls of a schema that is not there yet: the run migrates with a local
    /// command that does nothing; the app's restart before the resume migrates it.
    InterruptPolling,
    /// SIGINT while the migration runs as a local command (with DATABASE_URL): it must not go
    /// on after the run says it stopped.
    InterruptLocalMigration,
    /// SIGINT while the migration runs on a one-off dyno: the run stops the dyno, or a resume
    /// would start the command a second time beside the first.
    InterruptOneOffMigration,
    /// The drop's database session terminated by the server while the drop waits for a lock
    /// the test holds: a database failure in the middle of the transaction.
    SessionTerminated,
    /// SIGKILL while the request, already carried out by the platform, waits for its answer:
    /// nothing of ours runs after it but what the journal held before the request.
    KillHeld,
    /// A second run of the playbook on this machine while the first one's request is held.
    SecondRunHere,
    /// A run of another machine holds the app's lock on its database (a test session named as
    /// herokuops names its sessions) when this one starts.
    SecondMachine,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Once503 => "503 once",
            Kind::CutOnce => "connection cut once",
            Kind::LostAnswer => "done, answered 500",
            Kind::Persistent500 => "500 until cleared",
            Kind::InterruptHeld => "Ctrl-C (request held)",
            Kind::TerminateHeld => "SIGTERM (request held)",
            Kind::InterruptProvisioning => "Ctrl-C (provisioning)",
            Kind::InterruptPolling => "Ctrl-C (polling)",
            Kind::InterruptLocalMigration => "Ctrl-C (local command)",
            Kind::InterruptOneOffMigration => "Ctrl-C (one-off dyno)",
            Kind::SessionTerminated => "session terminated",
            Kind::KillHeld => "SIGKILL (request carried out, answer held)",
            Kind::SecondRunHere => "a second run on this machine",
            Kind::SecondMachine => "a run on another machine (database lock)",
        })
    }
}

/// Where a fault lands: the step (as the journal names it; `safety backup` is the capture the
/// runner makes before the first destructive step), and the request, as a sandbox fault
/// matches it. `after` lets that many matching requests through first.
#[derive(Debug, Clone, Copy)]
struct Cell {
    playbook: Playbook,
    step: &'static str,
    method: &'static str,
    path: &'static str,
    after: u32,
    kind: Kind,
}

const BACKUPS: &str = "/client/v11/databases/*/backups";

/// The matrix. The drop is SQL in one transaction, so what can fail over HTTP in that step is
/// reading DATABASE_URL: the second GET of the config vars (the preflight's is the first); a
/// kill during the SQL itself is the subject of the `kill` tests.
fn cells() -> Vec<Cell> {
    use Kind::*;
    use Playbook::*;
    let mut cells = Vec::new();
    let mut add = |playbook, step, method, path, after, kinds: &[Kind]| {
        for kind in kinds {
            cells.push(Cell {
                playbook,
                step,
                method,
                path,
                after,
                kind: *kind,
            });
        }
    };
    let both = &[Once503, Persistent500];
    add(
        Reset,
        "safety backup",
        "POST",
        BACKUPS,
        0,
        &[Once503, CutOnce, LostAnswer, Persistent500, InterruptHeld],
    );
    add(
        Reset,
        "pg.drop-schema",
        "GET",
        "/apps/*/config-vars",
        1,
        both,
    );
    add(
        Reset,
        "pg.drop-schema",
        "SQL",
        "DROP SCHEMA public CASCADE",
        0,
        &[SessionTerminated],
    );
    add(Reset, "migrate", "DELETE", "/apps/*/dynos", 0, both);
    add(
        Reset,
        "pg.verify",
        "GET",
        "/apps/*/dynos",
        0,
        &[InterruptHeld],
    );
    add(
        Reset,
        "migrate",
        "LOCAL",
        "sh -c 'echo $$ > migrate.pid; (wait for go, 30 s at most); touch migrated'",
        0,
        &[InterruptLocalMigration],
    );
    add(
        Reset,
        "migrate",
        "POST",
        "/apps/*/dynos",
        0,
        &[InterruptOneOffMigration],
    );
    add(
        Reset,
        "pg.verify",
        "GET",
        "/apps/*/config-vars",
        2,
        &[InterruptHeld],
    );
    add(
        Reset,
        "pg.verify",
        "GET",
        "/apps/*/config-vars",
        0,
        &[InterruptPolling],
    );
    add(Reset, "safety backup", "POST", BACKUPS, 0, &[SecondRunHere]);
    add(
        Reset,
        "preflight",
        "SQL",
        "pg_try_advisory_lock",
        0,
        &[SecondMachine],
    );

    add(SwapDb, "safety backup", "POST", BACKUPS, 0, both);
    add(
        SwapDb,
        "addons.create",
        "POST",
        "/apps/*/addons",
        0,
        &[
            Once503,
            CutOnce,
            LostAnswer,
            Persistent500,
            InterruptHeld,
            KillHeld,
            SecondRunHere,
        ],
    );
    add(
        SwapDb,
        "preflight",
        "SQL",
        "pg_try_advisory_lock",
        0,
        &[SecondMachine],
    );
    add(
        SwapDb,
        "pg.wait",
        "GET",
        "/client/v11/databases/*/wait_status",
        0,
        &[InterruptProvisioning],
    );
    add(SwapDb, "maintenance.on", "PATCH", "/apps/*", 0, both);
    add(
        SwapDb,
        "pg.promote",
        "POST",
        "/addon-attachments",
        0,
        &[
            Once503,
            CutOnce,
            LostAnswer,
            Persistent500,
            InterruptHeld,
            TerminateHeld,
            KillHeld,
        ],
    );
    add(SwapDb, "maintenance.off", "PATCH", "/apps/*", 1, both);
    add(SwapDb, "dynos.restart", "DELETE", "/apps/*/dynos", 0, both);
    add(
        SwapDb,
        "pg.verify",
        "GET",
        "/apps/*/dynos",
        0,
        &[InterruptHeld],
    );
    add(
        SwapDb,
        "pg.verify",
        "GET",
        "/apps/*/config-vars",
        1,
        &[InterruptHeld],
    );
    cells
}

/// What the app looked like before the run.
struct Before {
    database_url: String,
}

type Outcome = Result<String, String>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// An expected schema with one table more than the app's boot migration makes: an app still
/// migrating, as `pg.verify` sees it after a restart, so that it polls.
fn not_yet_migrated(e2e: &E2e) -> String {
    let path = e2e.home().join("not-yet-migrated.toml");
    let mut text = std::fs::read_to_string(expected_file()).unwrap();
    text.push_str("\n[tables.made_by_a_later_migration]\n");
    std::fs::create_dir_all(e2e.home()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Whether a process with this id is still there (a zombie counts as gone).
fn process_exists(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// A command that goes on once the file `go` exists (30 s at most, so none is left behind a
/// test that failed early): a test slow to send its signal still lands it mid-migration, and
/// the resume, told at once, need not wait.
fn until_told(go: &str) -> String {
    format!("i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done")
}

fn playbook_args(cell: &Cell, expect: &str, home: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--json".into(),
        cell.playbook.name().into(),
        APP.into(),
        "--confirm".into(),
        APP.into(),
        "--expect".into(),
        expect.into(),
        "--timeout".into(),
        "30s".into(),
        "--interval".into(),
        "200ms".into(),
    ];
    match cell.kind {
        Kind::InterruptLocalMigration => args.extend([
            "--migrate-local".into(),
            format!(
                "echo $$ > migrate.pid; {}; touch migrated",
                until_told("go")
            ),
        ]),
        Kind::InterruptOneOffMigration => {
            let go = format!("'{}'", home.join("go").display());
            args.extend(["--migrate-command".into(), until_told(&go)])
        }
        _ => {}
    }
    args
}

async fn run_cell(cell: Cell) -> Outcome {
    let provision_delay = match cell.kind {
        Kind::InterruptProvisioning => Duration::from_secs(5),
        _ => Duration::from_millis(300),
    };
    let e2e = E2e::start_with(Options {
        provision_delay,
        ..Options::default()
    })
    .await;
    let outcome = cell_on(&e2e, cell).await;
    let journals = e2e.assert_journals_clean();
    e2e.shutdown().await;
    outcome.map(|o| format!("{o}; {journals} journal(s) without secrets"))
}

async fn cell_on(e2e: &E2e, cell: Cell) -> Outcome {
    e2e.seed().await;
    let before = Before {
        database_url: e2e.database_url().await,
    };
    let expect = match cell.kind {
        Kind::InterruptPolling => not_yet_migrated(e2e),
        _ => expected_file(),
    };
    let args = playbook_args(&cell, &expect, &e2e.home());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match cell.kind {
        Kind::Once503 | Kind::CutOnce | Kind::LostAnswer => {
            let once = match cell.kind {
                Kind::Once503 => json!({ "status": 503, "times": 1, "after": cell.after }),
                Kind::CutOnce => json!({ "drop": true, "times": 1, "after": cell.after }),
                _ => json!({ "status": 500, "times": 1, "after_handling": true }),
            };
            e2e.fault(fault(cell.method, cell.path, once)).await;
            let run = e2e.run(&args).await;
            check!(run.code == Some(0), "exit {:?}: {}", run.code, tail(&run));
            let hit = e2e.requests().await.iter().any(|r| {
                r["method"] == cell.method
                    && glob(cell.path, r["path"].as_str().unwrap())
                    && (r["status"] == 503 || r["status"] == 500 || r["dropped"] == true)
            });
            check!(hit, "the fault never applied");
            let detail = run.json()["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["step"] == cell.step)
                .map(|s| format!(" ({}: {})", cell.step, s["detail"].as_str().unwrap_or("")))
                .unwrap_or_default();
            let final_state = final_state(e2e, &cell, &before).await?;
            Ok(format!("survived, exit 0{detail}; {final_state}"))
        }
        Kind::SessionTerminated => {
            let holder = connect(&before.database_url).await;
            holder
                .batch(
                    "holding a lock",
                    "BEGIN; LOCK TABLE users IN ACCESS SHARE MODE;",
                )
                .await
                .unwrap();
            let watcher = connect(&before.database_url).await;
            let child = e2e.spawn(&args);
            let deadline = Instant::now() + Duration::from_secs(20);
            while !drop_waiting_on_lock(&watcher).await {
                if Instant::now() > deadline {
                    let run = e2e.finish(child).await;
                    return Err(format!("the drop never waited: {}", tail(&run)));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            watcher
                .query(
                    "terminating the drop",
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock' \
                     AND query ILIKE '%DROP SCHEMA%'",
                    &[],
                )
                .await
                .unwrap();
            holder.batch("release", "COMMIT").await.unwrap();
            let run = e2e.finish(child).await;
            check!(
                run.code == Some(1),
                "exit {:?}, not 1: {}",
                run.code,
                tail(&run)
            );
            let stopped = after_stop(e2e, &cell, &before, &run, "failed").await?;
            let resumed = clear_and_resume(e2e, &run).await?;
            let final_state = final_state(e2e, &cell, &before).await?;
            Ok(format!("exit 1; {stopped}; {resumed}; {final_state}"))
        }
        Kind::KillHeld => {
            // Carried out, then its answer held: the kill lands while the platform has acted.
            let held = json!({ "delay_ms": 8000, "times": 1, "after_handling": true });
            e2e.fault(fault(cell.method, cell.path, held)).await;
            let child = e2e.spawn(&args);
            if let Err(e) = e2e
                .until_step_running(cell.step, Duration::from_secs(30))
                .await
            {
                let run = e2e.finish(child).await;
                return Err(format!("{e}; {}", tail(&run)));
            }
            let carried_out = until_answered_late(e2e, cell).await;
            check!(
                carried_out,
                "{} {} was never carried out",
                cell.method,
                cell.path
            );
            signal(&child, "KILL");
            let run = e2e.finish(child).await;
            check!(run.code.is_none(), "not killed: {}", tail(&run));
            let journal = e2e.latest_journal().unwrap_or_default();
            let run_id = journal["id"].as_str().unwrap_or_default().to_string();
            check!(
                journal["status"] == "running",
                "journal status {}",
                journal["status"]
            );
            // What the step saved before its request is what resume recognises the work by.
            let saved = match cell.step {
                "addons.create" => "addons_before_create",
                _ => "promoting_from",
            };
            check!(
                !journal["state"][saved].is_null(),
                "the journal has no {saved}: {}",
                journal["state"]
            );
            let shown = e2e.run(&["--json", "runs", "show", &run_id]).await;
            check!(
                shown.json()["abandoned"] == true,
                "runs show: {}",
                shown.show()
            );
            e2e.clear_faults().await;
            let resumed = e2e
                .run(&["--json", "resume", &run_id, "--confirm", APP])
                .await;
            check!(
                resumed.code == Some(0),
                "resume exit {:?}: {}",
                resumed.code,
                tail(&resumed)
            );
            let detail = resumed.json()["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["step"] == cell.step)
                .and_then(|s| s["detail"].as_str())
                .unwrap_or_default()
                .to_string();
            let recognised = match cell.step {
                "addons.create" => detail.starts_with("adopted "),
                _ => detail.ends_with("already was DATABASE_URL"),
            };
            check!(recognised, "{}: {detail}", cell.step);
            let final_state = final_state(e2e, &cell, &before).await?;
            Ok(format!(
                "killed, journal running with {saved}, runs show abandoned; resume: {detail}; {final_state}"
            ))
        }
        Kind::SecondRunHere => {
            let held = json!({ "delay_ms": 4000, "times": 1 });
            e2e.fault(fault(cell.method, cell.path, held)).await;
            let child = e2e.spawn(&args);
            let in_flight = e2e
                .until_request(cell.method, cell.path, Duration::from_secs(30))
                .await;
            check!(in_flight, "{} {} never came", cell.method, cell.path);
            let first_id = e2e.latest_journal().unwrap_or_default()["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mutating = e2e.mutating_requests().await;
            let second = e2e.run(&args).await;
            check!(
                second.code == Some(2),
                "second run exit {:?}: {}",
                second.code,
                tail(&second)
            );
            check!(
                second.stderr.contains(&format!("run {first_id} (")),
                "the holder is not named: {}",
                tail(&second)
            );
            check!(
                e2e.mutating_requests().await == mutating,
                "the second run changed something"
            );
            let first = e2e.finish(child).await;
            check!(
                first.code == Some(0),
                "first run exit {:?}: {}",
                first.code,
                tail(&first)
            );
            let final_state = final_state(e2e, &cell, &before).await?;
            Ok(format!(
                "second run exit 2 naming run {first_id}, nothing sent; first run exit 0; {final_state}"
            ))
        }
        Kind::SecondMachine => {
            let other = connect_as(
                &before.database_url,
                "herokuops 20261122T030000Z-beef@other-machine",
            )
            .await;
            let (k1, k2) = herokuops::pg::lock::key(APP);
            other
                .query(
                    "another machine's lock",
                    "SELECT pg_advisory_lock($1::int4, $2::int4)",
                    &[&k1, &k2],
                )
                .await
                .unwrap();
            let refused = e2e.run(&args).await;
            check!(
                refused.code == Some(2),
                "exit {:?}: {}",
                refused.code,
                tail(&refused)
            );
            check!(
                refused.stderr.contains("@other-machine"),
                "the holder is not named: {}",
                tail(&refused)
            );
            check!(
                e2e.mutating_requests().await.is_empty(),
                "the refused run changed something"
            );
            let tables = tables_and_rows(&before.database_url).await;
            check!(tables.as_ref().is_some_and(has_seed), "data: {tables:?}");
            drop(other);
            // The server ends that session as soon as it sees it gone; then this run goes on.
            let deadline = Instant::now() + Duration::from_secs(20);
            let run = loop {
                let run = e2e.run(&args).await;
                if run.code != Some(2) || Instant::now() > deadline {
                    break run;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            check!(run.code == Some(0), "exit {:?}: {}", run.code, tail(&run));
            let final_state = final_state(e2e, &cell, &before).await?;
            Ok(format!(
                "exit 2 naming the other machine's session, nothing sent, data intact; released: exit 0; {final_state}"
            ))
        }
        Kind::Persistent500 => {
            e2e.fault(fault(
                cell.method,
                cell.path,
                json!({ "status": 500, "after": cell.after }),
            ))
            .await;
            let run = e2e.run(&args).await;
            check!(
                run.code == Some(1),
                "exit {:?}, not 1: {}",
                run.code,
                tail(&run)
            );
            let stopped = after_stop(e2e, &cell, &before, &run, "failed").await?;
            let resumed = clear_and_resume(e2e, &run).await?;
            let final_state = final_state(e2e, &cell, &before).await?;
            Ok(format!("exit 1; {stopped}; {resumed}; {final_state}"))
        }
        Kind::InterruptHeld
        | Kind::TerminateHeld
        | Kind::InterruptProvisioning
        | Kind::InterruptPolling
        | Kind::InterruptLocalMigration
        | Kind::InterruptOneOffMigration => {
            if matches!(cell.kind, Kind::InterruptHeld | Kind::TerminateHeld) {
                let held = json!({ "delay_ms": 6000, "times": 1, "after": cell.after });
                e2e.fault(fault(cell.method, cell.path, held)).await;
            }
            let child = e2e.spawn(&args);
            // The safety backup is not a step of the journal: its request is the sign.
            if cell.step != "safety backup"
                && let Err(e) = e2e
                    .until_step_running(cell.step, Duration::from_secs(30))
                    .await
            {
                let run = e2e.finish(child).await;
                return Err(format!("{e}; {}", tail(&run)));
            }
            if cell.method != "LOCAL" {
                // The faulted request itself, the ones let through before it aside.
                let nth = cell.after as usize + 1;
                let in_flight = e2e
                    .until_nth_request(cell.method, cell.path, nth, Duration::from_secs(10))
                    .await;
                check!(in_flight, "{} {} never came", cell.method, cell.path);
            }
            if cell.kind == Kind::InterruptLocalMigration {
                let pid_file = e2e.home().join("migrate.pid");
                let deadline = Instant::now() + Duration::from_secs(10);
                // Whole, not just there: the shell creates the file before it writes to it.
                let written =
                    || std::fs::read_to_string(&pid_file).is_ok_and(|pid| pid.ends_with('\n'));
                while !written() {
                    check!(Instant::now() < deadline, "the local command never started");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            // The run listens for signals from before its first step: no pause is needed.
            let started = Instant::now();
            let name = if cell.kind == Kind::TerminateHeld {
                "TERM"
            } else {
                "INT"
            };
            signal(&child, name);
            let run = e2e.finish(child).await;
            let took = started.elapsed();
            check!(
                run.code == Some(130),
                "exit {:?}, not 130: {}",
                run.code,
                tail(&run)
            );
            check!(
                took < Duration::from_secs(4),
                "took {took:?} to stop after the signal"
            );
            let mut stopped = after_stop(e2e, &cell, &before, &run, "interrupted").await?;
            if cell.kind == Kind::InterruptLocalMigration {
                // Told to go on now, a command still alive would finish at once (and none is
                // left waiting behind the test).
                std::fs::write(e2e.home().join("go"), "").unwrap();
                let shell = std::fs::read_to_string(e2e.home().join("migrate.pid"))
                    .map_err(|e| format!("the command never started: {e}"))?;
                check!(
                    shell.trim().parse::<u32>().is_ok(),
                    "no process id in migrate.pid: {shell:?}"
                );
                let deadline = Instant::now() + Duration::from_secs(3);
                while process_exists(shell.trim()) {
                    check!(
                        Instant::now() < deadline,
                        "the migration's shell (pid {}) still ran 3 s after the run stopped",
                        shell.trim()
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                check!(
                    !e2e.home().join("migrated").exists(),
                    "the migration went on after the run stopped"
                );
                stopped.push_str(", the command stopped with it");
            }
            if cell.kind == Kind::InterruptOneOffMigration {
                let stop = e2e.requests().await.into_iter().find(|r| {
                    r["method"] == "POST"
                        && glob("/apps/*/dynos/*/actions/stop", r["path"].as_str().unwrap())
                });
                check!(
                    stop.as_ref().is_some_and(|r| r["status"] == 202),
                    "the one-off dyno was not stopped: {stop:?}"
                );
                let report: Value = serde_json::from_str(&run.stdout).unwrap_or_default();
                let app_state = report["app_state"].as_str().unwrap_or_default();
                check!(app_state.contains("was stopped"), "report: {app_state}");
                let deadline = Instant::now() + Duration::from_secs(3);
                while e2e.dyno_names().await.iter().any(|d| d.starts_with("run.")) {
                    check!(Instant::now() < deadline, "the one-off dyno is still there");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                stopped.push_str(", its one-off dyno stopped");
                // The resumed migration need not wait.
                std::fs::write(e2e.home().join("go"), "").unwrap();
            }
            if cell.kind == Kind::InterruptPolling {
                // Meanwhile the app has finished migrating: the table it lacked is expected no more.
                std::fs::copy(expected_file(), &expect).unwrap();
            }
            if matches!(
                cell.kind,
                Kind::InterruptPolling
                    | Kind::InterruptLocalMigration
                    | Kind::InterruptOneOffMigration
            ) {
                let restart = e2e.run(&["dynos", "restart", APP]).await;
                check!(restart.code == Some(0), "restart: {}", tail(&restart));
                e2e.until_dynos_up().await;
            }
            let resumed = clear_and_resume(e2e, &run).await?;
            let final_state = final_state(e2e, &cell, &before).await?;
            Ok(format!(
                "exit 130 {:.1}s after SIG{name}; {stopped}; {resumed}; {final_state}",
                took.as_secs_f64()
            ))
        }
    }
}

/// Waits until the faulted request has been carried out (the sandbox records it as soon as it
/// arrives; its answer comes only after the held delay).
async fn until_answered_late(e2e: &E2e, cell: Cell) -> bool {
    if !e2e
        .until_request(cell.method, cell.path, Duration::from_secs(20))
        .await
    {
        return false;
    }
    // The handler runs before the held answer: what it made is visible by now or very soon.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let done = match cell.step {
            "addons.create" => {
                let (_, addons) = e2e.client.get(&format!("/apps/{APP}/addons")).await;
                addons.as_array().is_some_and(|a| a.len() == 2)
            }
            _ => {
                let (_, vars) = e2e.client.get(&format!("/apps/{APP}/config-vars")).await;
                vars["DATABASE_URL"] != vars["HEROKU_POSTGRESQL_COBALT_URL"]
            }
        };
        if done {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A session of our own on the app's database, named like another herokuops run's.
async fn connect_as(url: &str, application_name: &str) -> herokuops::pg::Db {
    herokuops::pg::Target::parse(url)
        .unwrap()
        .with_application_name(application_name)
        .connect()
        .await
        .unwrap()
}

fn tail(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    let from = lines.len().saturating_sub(6);
    format!("stderr: {}", lines[from..].join(" | "))
}

/// The state right after a failed or interrupted run: its report, its journal on disk, `runs
/// show`, maintenance, and for `reset` whether the data survived a stop before the drop.
async fn after_stop(e2e: &E2e, cell: &Cell, before: &Before, run: &Run, status: &str) -> Outcome {
    let Ok(report) = serde_json::from_str::<Value>(&run.stdout) else {
        return Err(format!("no JSON report: {}", tail(run)));
    };
    check!(
        report["status"] == status,
        "report status {}",
        report["status"]
    );
    let run_id = report["run_id"].as_str().unwrap_or_default().to_string();
    check!(
        report["resume_command"] == format!("herokuops resume {run_id}"),
        "no resume command in the report"
    );
    let journal = e2e.journal(&run_id);
    check!(
        journal["status"] == status,
        "journal status {}",
        journal["status"]
    );
    let steps = journal["steps"].as_array().unwrap();
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    if cell.step == "safety backup" {
        check!(
            failed.is_empty() && steps.iter().all(|s| s["status"] == "pending"),
            "steps ran after a failed safety backup: {steps:?}"
        );
        check!(
            journal["state"]["safety_backup_step"]["status"] == "failed",
            "the safety backup's record: {}",
            journal["state"]
        );
        let error = journal["error"].as_str().unwrap_or_default();
        check!(
            error.contains(if status == "failed" {
                "safety backup"
            } else {
                "interrupted"
            }),
            "journal error {}",
            journal["error"]
        );
    } else {
        check!(
            failed == [cell.step],
            "journal failed at {failed:?}, not {}",
            cell.step
        );
    }

    let shown = e2e.run(&["--json", "runs", "show", &run_id]).await;
    check!(
        shown.code == Some(0) && shown.json()["status"] == status,
        "runs show: {}",
        shown.show()
    );

    // Clean-up turns maintenance off, unless the fault also stops the request that would.
    let maintenance = e2e.maintenance().await;
    let mut note = String::new();
    if cell.step == "maintenance.off" && cell.kind == Kind::Persistent500 {
        check!(maintenance, "maintenance off while every PATCH fails?");
        let state = report["app_state"].as_str().unwrap_or_default();
        check!(state.contains("STILL ON"), "the report hides it: {state}");
        note.push_str("maintenance STILL ON, reported (its PATCH is the faulted request)");
    } else {
        check!(!maintenance, "maintenance left on");
        let by_run = cell.playbook == Playbook::SwapDb
            && matches!(cell.step, "pg.promote" | "maintenance.off");
        note.push_str(if by_run {
            "maintenance turned off by clean-up"
        } else {
            "maintenance off"
        });
    }

    if cell.playbook == Playbook::Reset && matches!(cell.step, "safety backup" | "pg.drop-schema") {
        // Read directly: the config vars may still be the faulted request.
        let tables = tables_and_rows(&before.database_url).await;
        check!(
            tables.as_ref().is_some_and(has_seed),
            "data lost by a run that stopped before the drop: {tables:?}"
        );
        note.push_str(", data intact");
    }
    Ok(format!("journal {status} at {}, {note}", cell.step))
}

async fn clear_and_resume(e2e: &E2e, run: &Run) -> Outcome {
    e2e.clear_faults().await;
    let run_id = run.json()["run_id"].as_str().unwrap().to_string();
    let resumed = e2e
        .run(&["--json", "resume", &run_id, "--confirm", APP])
        .await;
    check!(
        resumed.code == Some(0),
        "resume exit {:?}: {}",
        resumed.code,
        tail(&resumed)
    );
    let report = resumed.json();
    check!(
        report["status"] == "succeeded",
        "resumed run {}",
        report["status"]
    );
    check!(report["run_id"] == run_id.as_str(), "resume made a new run");
    let journal = e2e.journal(&run_id);
    check!(
        journal["status"] == "succeeded"
            && journal["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["status"] == "done"),
        "journal after resume: {journal}"
    );
    Ok("resume exit 0".to_string())
}

/// The app as a finished run leaves it.
async fn final_state(e2e: &E2e, cell: &Cell, before: &Before) -> Outcome {
    check!(!e2e.maintenance().await, "maintenance on at the end");
    check!(
        e2e.dynos_come_up().await,
        "dynos {:?}",
        e2e.dyno_states().await
    );
    if let Err(e) = e2e.verify_passes().await {
        return Err(format!("verify: {e}"));
    }
    let url = e2e.database_url().await;
    match cell.playbook {
        Playbook::Reset => {
            let tables = tables_and_rows(&url).await;
            check!(
                tables.as_ref().is_some_and(fresh_and_empty),
                "schema after reset: {tables:?}"
            );
            Ok("25 empty tables, verified".into())
        }
        Playbook::SwapDb => {
            check!(url != before.database_url, "DATABASE_URL did not move");
            check!(
                e2e.config_var("HEROKU_POSTGRESQL_COBALT_URL")
                    .await
                    .as_ref()
                    == Some(&before.database_url),
                "the old database lost its alias"
            );
            // Every promotion request, first attempt or resumed, went out in maintenance mode.
            let mut maintenance = false;
            for r in e2e.requests().await {
                let path = r["path"].as_str().unwrap_or_default();
                if r["method"] == "PATCH"
                    && path == format!("/apps/{APP}")
                    && r["status"].as_u64().is_some_and(|s| s < 300)
                    && let Some(on) = r["body"]["maintenance"].as_bool()
                {
                    maintenance = on;
                }
                if r["method"] == "POST"
                    && path == "/addon-attachments"
                    && r["body"]["name"] == "DATABASE"
                {
                    check!(
                        maintenance,
                        "a promotion request (#{}) went out with maintenance off",
                        r["seq"]
                    );
                }
            }
            // The report says where the old database went, however the run got there.
            let journal = e2e.latest_journal().unwrap_or_default();
            check!(
                journal["state"]["previous_alias"] == "HEROKU_POSTGRESQL_COBALT"
                    && journal["state"]["previous_addon"].is_string(),
                "the journal lost the previous database: {}",
                journal["state"]
            );
            let (_, addons) = e2e.client.get(&format!("/apps/{APP}/addons")).await;
            let n = addons.as_array().map(Vec::len).unwrap_or_default();
            check!(n == 2, "{n} add-ons: one new one was expected");
            Ok("new DATABASE_URL, old one kept as COBALT, 2 add-ons, verified".into())
        }
    }
}

async fn matrix(playbook: Playbook) {
    // Shared by both matrices: a few sandboxes at a time on a small machine.
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let slots = SLOTS
        .get_or_init(|| Arc::new(tokio::sync::Semaphore::new(4)))
        .clone();
    let chosen: Vec<Cell> = cells()
        .into_iter()
        .filter(|c| c.playbook == playbook)
        .collect();
    let results: Vec<(Cell, Outcome, Duration)> = futures_util::stream::iter(chosen)
        .map(|cell| {
            let slots = slots.clone();
            async move {
                let _slot = slots.acquire_owned().await.unwrap();
                let started = Instant::now();
                let outcome = match tokio::spawn(run_cell(cell)).await {
                    Ok(outcome) => outcome,
                    Err(e) => Err(format!("panicked: {e}")),
                };
                (cell, outcome, started.elapsed())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let mut results = results;
    results.sort_by_key(|(c, _, _)| {
        cells().iter().position(|x| {
            x.step == c.step && x.kind == c.kind && x.method == c.method && x.playbook == c.playbook
        })
    });
    let mut table = format!("fault matrix of {}:\n", playbook.name());
    for (cell, outcome, took) in &results {
        let (mark, text) = match outcome {
            Ok(t) => ("ok  ", t.as_str()),
            Err(t) => ("FAIL", t.as_str()),
        };
        let after = if cell.after > 0 {
            format!(" (after {})", cell.after)
        } else {
            String::new()
        };
        table.push_str(&format!(
            "{mark} | {:<15} | {} {}{after} | {} | {:.1}s | {text}\n",
            cell.step,
            cell.method,
            cell.path,
            cell.kind,
            took.as_secs_f64()
        ));
    }
    println!("{table}");
    // Kept for CI to publish next to the test log.
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fault-matrix-{}.txt", playbook.name()));
    std::fs::write(&file, &table).unwrap();
    // Only the failed cells in the message: a shortened CI log keeps its last lines.
    let failed: Vec<&str> = table.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        failed.is_empty(),
        "{} cell(s) of {} failed:\n{}",
        failed.len(),
        playbook.name(),
        failed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_matrix_of_reset() {
    matrix(Playbook::Reset).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_matrix_of_swap_db() {
    matrix(Playbook::SwapDb).await;
}
