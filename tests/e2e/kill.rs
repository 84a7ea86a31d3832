//! A drop killed with SIGKILL at any moment leaves schema public either as it was (every table,
//! every row) or new and empty: never missing, never half dropped.
//!
//! The kill comes at varied moments: while the drop is blocked on a lock another session holds
//! (certainly mid-transaction), just after that lock is released (racing the commit), and at
//! varied delays after the process starts (before, during or after the drop). The drop, its
//! re-creation and COMMIT go to the server as one script, so once it is sent the server finishes
//! it whatever becomes of the client: a kill from then on ends with the new empty schema, and
//! only a kill before it ends with the old one. Both are whole.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use herokuops::pg::{Db, Target};

use super::harness::{
    E2e, SEED_SQL, expected_file, fresh_and_empty, has_seed, signal, tables_and_rows,
};
use crate::support::sandbox::APP;

const ITERATIONS: u64 = 18;
/// Kill delays after the start, in milliseconds: around the time the script is sent.
const SINCE_START_MS: [u64; 6] = [10, 50, 75, 90, 105, 130];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    /// While the drop waits for a lock the test holds.
    Blocked,
    /// Right after the test lets go of the lock.
    AfterRelease,
    /// At a delay after the process starts.
    SinceStart,
}

pub(super) async fn connect(url: &str) -> Db {
    Target::parse(url).unwrap().connect().await.unwrap()
}

/// How many sessions of this database other than ours run a DROP (a killed client's backend
/// rolls back when it notices the closed connection).
async fn drops_in_progress(db: &Db) -> i64 {
    let rows = db
        .query(
            "drops in progress",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND query ILIKE '%DROP SCHEMA%' AND state <> 'idle'",
            &[],
        )
        .await
        .unwrap();
    rows[0].get(0)
}

pub(super) async fn drop_waiting_on_lock(db: &Db) -> bool {
    let rows = db
        .query(
            "drop waiting",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND query ILIKE '%DROP SCHEMA%' AND wait_event_type = 'Lock'",
            &[],
        )
        .await
        .unwrap();
    rows[0].get::<_, i64>(0) > 0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_drop_leaves_the_old_schema_or_the_new_empty_one() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    let database = Target::parse(&url).unwrap().database().to_string();
    let schema_sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/schema/tmi/schema.sql"),
    )
    .unwrap();
    let watcher = connect(&url).await;
    let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();
    let mut killed = 0;

    for i in 0..ITERATIONS {
        let moment = match i % 3 {
            0 => Moment::Blocked,
            1 => Moment::AfterRelease,
            _ => Moment::SinceStart,
        };
        let holder = connect(&url).await;
        if moment != Moment::SinceStart {
            holder
                .batch(
                    "holding a lock",
                    "BEGIN; LOCK TABLE users IN ACCESS SHARE MODE;",
                )
                .await
                .unwrap();
        }
        let child = e2e.spawn(&[
            "db",
            "drop-schema",
            "--database-url",
            &url,
            "--confirm",
            &database,
            "--no-progress",
        ]);
        let started = Instant::now();
        match moment {
            Moment::Blocked | Moment::AfterRelease => {
                while !drop_waiting_on_lock(&watcher).await {
                    assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "the drop never reached the lock"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if moment == Moment::Blocked {
                    tokio::time::sleep(Duration::from_millis(10 * i)).await;
                    signal(&child, "KILL");
                    holder.batch("release", "COMMIT").await.unwrap();
                } else {
                    holder.batch("release", "COMMIT").await.unwrap();
                    tokio::time::sleep(Duration::from_millis(i % 4)).await;
                    signal(&child, "KILL");
                }
            }
            Moment::SinceStart => {
                let delay = SINCE_START_MS[(i / 3) as usize % SINCE_START_MS.len()];
                tokio::time::sleep(Duration::from_millis(delay)).await;
                // It may have finished already: then there is nobody to kill.
                crate::support::binary::signal(&child, rustix::process::Signal::KILL);
            }
        }
        let run = e2e.finish(child).await;
        let was_killed = run.code.is_none();
        killed += u32::from(was_killed);
        drop(holder);

        // The server rolls back the killed session once it notices; look after that.
        let deadline = Instant::now() + Duration::from_secs(10);
        while drops_in_progress(&watcher).await > 0 {
            assert!(Instant::now() < deadline, "the killed drop never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let tables = tables_and_rows(&url).await;
        let outcome = match &tables {
            None => "public MISSING",
            Some(t) if has_seed(t) => "old schema intact",
            Some(t) if t.is_empty() => "new empty schema",
            Some(_) => "HALF DROPPED",
        };
        let label = format!(
            "{outcome} ({})",
            if was_killed {
                format!("killed {moment:?}")
            } else {
                "finished before the kill".into()
            }
        );
        println!("drop kill {i:>2}: {label}");
        *outcomes.entry(label).or_default() += 1;
        assert!(
            matches!(outcome, "old schema intact" | "new empty schema"),
            "iteration {i} ({moment:?}): {outcome}: {tables:?}"
        );
        if outcome == "new empty schema" {
            // Back to the app's schema and rows for the next iteration.
            let db = connect(&url).await;
            db.batch("the app's schema", &schema_sql).await.unwrap();
            db.batch("seeding", SEED_SQL).await.unwrap();
        }
    }
    println!("drop kill outcomes over {ITERATIONS} runs: {outcomes:?}");
    assert!(
        killed >= 10,
        "only {killed} of {ITERATIONS} runs were killed: {outcomes:?}"
    );
    assert!(
        outcomes
            .keys()
            .any(|k| k.starts_with("old") && k.contains("killed")),
        "no kill left the old schema: {outcomes:?}"
    );
    e2e.assert_journals_clean();
    e2e.shutdown().await;
}

/// `reset` itself killed during its drop: the schema is whole, and the journal it leaves (still
/// saying running) is enough for `resume` to finish the job.
#[tokio::test(flavor = "multi_thread")]
async fn a_reset_killed_during_the_drop_resumes_from_its_journal() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    let expect = expected_file();
    let holder = connect(&url).await;
    holder
        .batch(
            "holding a lock",
            "BEGIN; LOCK TABLE users IN ACCESS SHARE MODE;",
        )
        .await
        .unwrap();
    let watcher = connect(&url).await;
    let child = e2e.spawn(&[
        "--json",
        "reset",
        APP,
        "--confirm",
        APP,
        "--expect",
        &expect,
        "--timeout",
        "30s",
        "--interval",
        "200ms",
    ]);
    let started = Instant::now();
    while !drop_waiting_on_lock(&watcher).await {
        assert!(started.elapsed() < Duration::from_secs(20), "no drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    signal(&child, "KILL");
    let run = e2e.finish(child).await;
    assert_eq!(run.code, None, "killed: {}", run.show());
    holder.batch("release", "COMMIT").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while drops_in_progress(&watcher).await > 0 {
        assert!(Instant::now() < deadline, "the killed drop never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tables = tables_and_rows(&url).await;
    assert!(
        tables.as_ref().is_some_and(|t| has_seed(t) || t.is_empty()),
        "{tables:?}"
    );

    let journal = e2e.latest_journal().expect("the journal is on disk");
    assert_eq!(
        journal["status"], "running",
        "nobody was left to say otherwise"
    );
    assert_eq!(journal["steps"][0]["status"], "running");
    let run_id = journal["id"].as_str().unwrap();
    // Its process is gone: `runs list` says the run is abandoned, not running.
    let listed = e2e.run(&["--json", "runs", "list"]).await.json();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run_id)
        .unwrap();
    assert_eq!(entry["abandoned"], true, "{entry:#}");
    let table = e2e.run(&["runs", "list"]).await;
    assert!(table.stdout.contains("abandoned"), "{}", table.show());
    let resumed = e2e
        .run(&["--json", "resume", run_id, "--confirm", APP])
        .await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.show());
    assert_eq!(e2e.journal(run_id)["status"], "succeeded");
    let after = tables_and_rows(&url).await.unwrap();
    assert!(fresh_and_empty(&after), "{after:?}");
    e2e.verify_passes().await.unwrap();
    e2e.assert_journals_clean();
    e2e.shutdown().await;
}
