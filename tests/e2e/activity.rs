//! Live activity against the sandbox's real database: `db ps` shows a running query and
//! `db kill` (confirmed) cancels it; `db blocking` and `db locks` show a query waiting for a
//! lock and who holds it, and `db kill --force` ends the holder; `db outliers` says how to get
//! pg_stat_statements, then lists the statements.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{E2e, Run, connect_url, local_url};
use crate::support::sandbox::APP;

/// Runs `args` (with --json) until `found` picks something out of its document.
async fn until<T>(e2e: &E2e, args: &[&str], found: impl Fn(&Value) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let run: Run = e2e.run(args).await;
        assert_eq!(run.code, Some(0), "{}", run.show());
        if let Some(value) = found(&run.json()) {
            return value;
        }
        assert!(Instant::now() < deadline, "never found in {}", run.stdout);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pid_of(session: &Value) -> i32 {
    session["pid"].as_i64().unwrap() as i32
}

#[tokio::test(flavor = "multi_thread")]
async fn ps_shows_a_running_query_and_a_confirmed_kill_cancels_it() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let url = e2e.database_url().await;
    let sleeper = tokio::spawn(async move {
        let db = connect_url(&url).await;
        db.batch("sleeping", "SELECT pg_sleep(60)").await
    });
    let pid = until(&e2e, &["--json", "db", "ps", APP], |doc| {
        doc["sessions"]
            .as_array()?
            .iter()
            .find(|s| {
                s["query"]
                    .as_str()
                    .is_some_and(|q| q.contains("pg_sleep(60)"))
                    && s["state"] == "active"
            })
            .map(pid_of)
    })
    .await;
    let text = e2e.run(&["db", "ps", APP]).await;
    assert!(text.stdout.contains(&pid.to_string()), "{}", text.show());

    let refused = e2e.run(&["db", "kill", APP, &pid.to_string()]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    assert!(
        !sleeper.is_finished(),
        "an unconfirmed kill stopped the query"
    );

    let killed = e2e
        .run(&[
            "--json",
            "db",
            "kill",
            APP,
            &pid.to_string(),
            "--confirm",
            APP,
        ])
        .await;
    assert_eq!(killed.code, Some(0), "{}", killed.show());
    assert_eq!(killed.json()["action"], "cancelled");
    let ended = tokio::time::timeout(Duration::from_secs(10), sleeper)
        .await
        .expect("the query ends once cancelled")
        .unwrap();
    let error = ended.unwrap_err().to_string();
    assert!(error.contains("canceling statement"), "{error}");

    let gone = e2e
        .run(&["db", "kill", APP, "999999", "--confirm", APP])
        .await;
    assert_eq!(gone.code, Some(2), "{}", gone.show());
    assert!(
        gone.stderr.contains("no session with pid 999999"),
        "{}",
        gone.show()
    );
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_and_locks_show_who_waits_for_whom_and_force_ends_the_holder() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    let holder = connect_url(&url).await;
    let rows = holder
        .query("pid", "SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    let holder_pid: i32 = rows[0].get(0);
    holder
        .batch("lock", "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiter_url = url.clone();
    let waiter = tokio::spawn(async move {
        let db = connect_url(&waiter_url).await;
        let rows = db.query("count", "SELECT count(*) FROM users", &[]).await?;
        Ok::<i64, herokuops::pg::PgError>(rows[0].get(0))
    });

    let (blocked, blocking) = until(&e2e, &["--json", "db", "blocking", APP], |doc| {
        let first = doc["blocked"].as_array()?.first()?.clone();
        Some((
            first["blocked_pid"].as_i64()?,
            first["blocking_pid"].as_i64()?,
        ))
    })
    .await;
    assert_eq!(blocking, i64::from(holder_pid));
    let locks = e2e.run(&["--json", "db", "locks", APP]).await;
    assert_eq!(locks.code, Some(0), "{}", locks.show());
    let locks = locks.json()["locks"].as_array().unwrap().clone();
    let on_users = |pid: i64, granted: bool| {
        locks
            .iter()
            .any(|l| l["pid"] == pid && l["relation"] == "users" && l["granted"] == granted)
    };
    assert!(on_users(i64::from(holder_pid), true), "{locks:?}");
    assert!(on_users(blocked, false), "{locks:?}");

    let args = [
        "--json",
        "db",
        "kill",
        APP,
        &holder_pid.to_string(),
        "--force",
        "--confirm",
        APP,
    ];
    let killed = e2e.run(&args).await;
    assert_eq!(killed.code, Some(0), "{}", killed.show());
    assert_eq!(killed.json()["action"], "terminated");
    assert_eq!(killed.json()["gone"], true);
    let counted = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiting query goes on once the holder is gone")
        .unwrap()
        .unwrap();
    assert_eq!(counted, 40);
    let none = e2e.run(&["db", "blocking", APP]).await;
    assert!(
        none.stdout.contains("no query is waiting"),
        "{}",
        none.show()
    );
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn outliers_say_how_to_install_pg_stat_statements_then_list_the_statements() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let missing = e2e.run(&["db", "outliers", APP]).await;
    assert_eq!(missing.code, Some(1), "{}", missing.show());
    assert!(
        missing
            .stderr
            .contains("pg_stat_statements is not installed"),
        "{}",
        missing.show()
    );
    assert!(
        missing
            .stderr
            .contains("CREATE EXTENSION pg_stat_statements"),
        "{}",
        missing.show()
    );

    // Installed as Heroku installs it, by a superuser.
    let url = e2e.database_url().await;
    let database = url::Url::parse(&url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let admin = connect_url(&local_url(&e2e, &database)).await;
    admin
        .batch("install", "CREATE EXTENSION pg_stat_statements")
        .await
        .unwrap();
    let rows = admin
        .query(
            "preload",
            "SELECT current_setting('shared_preload_libraries')",
            &[],
        )
        .await
        .unwrap();
    let loaded = rows[0].get::<_, String>(0).contains("pg_stat_statements");
    let app = connect_url(&url).await;
    app.batch("a slow one", "SELECT pg_sleep(0.2)")
        .await
        .unwrap();

    let run = e2e.run(&["--json", "db", "outliers", APP, "-n", "5"]).await;
    if !loaded {
        // A server given with HEROKUOPS_TEST_PG may not load it: that is said, with the fix.
        assert_eq!(run.code, Some(1), "{}", run.show());
        assert!(
            run.stderr.contains("shared_preload_libraries"),
            "{}",
            run.show()
        );
        return e2e.shutdown().await;
    }
    assert_eq!(run.code, Some(0), "{}", run.show());
    let statements = run.json()["statements"].as_array().unwrap().clone();
    assert!(statements.len() <= 5);
    let slow = statements
        .iter()
        .find(|s| s["query"].as_str().unwrap().contains("pg_sleep"))
        .unwrap_or_else(|| panic!("{statements:?}"));
    assert!(slow["total_ms"].as_f64().unwrap() >= 200.0, "{slow}");
    e2e.shutdown().await;
}
