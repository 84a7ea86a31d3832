//! `db check` and `db diagnose` against situations made on a real server: row counts, a
//! long-running query, a blocked session, an unused index, dead rows, slow statements.

use std::time::Duration;

use herokuops::pg::Db;
use herokuops::pg::check::check;
use herokuops::pg::diagnose::{DiagnoseOptions, DiagnoseReport, Finding, Rating, diagnose};

use crate::support::pg::{TestDb, eventually, fresh_db};

fn finding<'a>(report: &'a DiagnoseReport, id: &str) -> &'a Finding {
    report.findings.iter().find(|f| f.id == id).unwrap()
}

async fn pid(db: &Db) -> i32 {
    db.query("test", "SELECT pg_backend_pid()", &[])
        .await
        .unwrap()[0]
        .get(0)
}

async fn run_diagnose(db: &TestDb, options: &DiagnoseOptions) -> DiagnoseReport {
    diagnose(&db.connect().await, options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn check_counts_rows_exactly_or_estimates_them() {
    let db = fresh_db().await;
    db.exec(
        "CREATE TABLE items (id int);
         INSERT INTO items SELECT generate_series(1, 1234);
         CREATE SCHEMA audit; CREATE TABLE audit.log (id int); INSERT INTO audit.log VALUES (1), (2);
         ANALYZE;",
    )
    .await;
    let conn = db.connect().await;
    let exact = check(&conn, true).await.unwrap();
    let rows = |r: &herokuops::pg::check::CheckReport, name: &str| {
        r.tables
            .iter()
            .find(|t| t.display_name() == name)
            .unwrap()
            .rows
    };
    assert_eq!(rows(&exact, "items"), 1234);
    assert_eq!(rows(&exact, "audit.log"), 2);
    assert!(exact.exact);
    let estimated = check(&conn, false).await.unwrap();
    assert_eq!(
        rows(&estimated, "items"),
        1234,
        "ANALYZE made the estimate exact"
    );
    assert!(!estimated.exact);
    assert!(estimated.connections >= 1 && estimated.max_connections > 0);
}

#[tokio::test]
async fn exact_counts_cover_more_tables_than_one_batch() {
    let db = fresh_db().await;
    let mut sql = String::new();
    for i in 0..250 {
        sql.push_str(&format!(
            "CREATE TABLE t{i} (id int); INSERT INTO t{i} SELECT generate_series(1, {});\n",
            i % 7
        ));
    }
    db.exec(&sql).await;
    let report = check(&db.connect().await, true).await.unwrap();
    assert_eq!(report.tables.len(), 250);
    for t in &report.tables {
        let i: i64 = t.table[1..].parse().unwrap();
        assert_eq!(t.rows, i % 7, "{}", t.table);
    }
}

#[tokio::test]
async fn a_fresh_database_is_healthy() {
    let db = fresh_db().await;
    db.exec("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);")
        .await;
    let report = run_diagnose(&db, &DiagnoseOptions::default()).await;
    assert_eq!(report.findings.len(), 9);
    for id in ["unused_indexes", "bloat", "sizes", "connections"] {
        assert_eq!(
            finding(&report, id).rating,
            Rating::Ok,
            "{:?}",
            finding(&report, id)
        );
    }
    assert!(
        finding(&report, "sizes")
            .details
            .rows
            .iter()
            .any(|r| r[0] == "t")
    );
}

#[tokio::test]
async fn long_running_and_blocked_queries_are_reported_with_their_pids() {
    let db = fresh_db().await;
    db.exec("CREATE TABLE jobs (id int); INSERT INTO jobs VALUES (1);")
        .await;

    let blocker = db.connect().await;
    blocker
        .batch("test", "BEGIN; LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let blocker_pid = pid(&blocker).await;
    let waiter = db.connect().await;
    let waiter_pid = pid(&waiter).await;
    let waiting = tokio::spawn(async move {
        let _ = waiter.query("test", "SELECT count(*) FROM jobs", &[]).await;
        waiter
    });

    let options = DiagnoseOptions {
        long_query: Duration::from_millis(300),
        blocked_fail: Duration::from_secs(3600),
    };
    let report = eventually("the waiting query to count as long-running", || async {
        let report = run_diagnose(&db, &options).await;
        let long = finding(&report, "long_running_queries");
        long.details
            .rows
            .iter()
            .any(|r| r[0] == waiter_pid.to_string())
            .then_some(report)
    })
    .await;

    let long = finding(&report, "long_running_queries");
    assert!(long.rating >= Rating::Warn, "{long:?}");
    assert!(long.threshold.contains("warn"), "{long:?}");
    let blocked = finding(&report, "blocked_queries");
    assert!(blocked.rating >= Rating::Warn, "{blocked:?}");
    let row = blocked
        .details
        .rows
        .iter()
        .find(|r| r[0] == waiter_pid.to_string())
        .unwrap_or_else(|| panic!("{blocked:?}"));
    assert!(row[2].contains("SELECT count(*) FROM jobs"), "{row:?}");
    assert!(
        row[3].split(", ").any(|p| p == blocker_pid.to_string()),
        "{row:?}"
    );

    blocker.batch("test", "ROLLBACK").await.unwrap();
    waiting.await.unwrap();
}

#[tokio::test]
async fn an_unused_index_of_a_megabyte_warns() {
    let db = fresh_db().await;
    db.exec(
        "CREATE TABLE events (id int, kind int);
         INSERT INTO events SELECT g, g % 10 FROM generate_series(1, 100000) g;
         CREATE INDEX events_kind ON events (kind, id);",
    )
    .await;
    let report = run_diagnose(&db, &DiagnoseOptions::default()).await;
    let unused = finding(&report, "unused_indexes");
    assert_eq!(unused.rating, Rating::Warn, "{unused:?}");
    assert_eq!(unused.details.rows[0][0], "events_kind");
    assert_eq!(unused.details.rows[0][1], "events");
}

#[tokio::test]
async fn dead_rows_are_reported_as_bloat() {
    let db = fresh_db().await;
    {
        // Statistics reach the server's shared view when the session ends.
        let conn = db.connect().await;
        conn.batch(
            "test",
            "CREATE TABLE churn (id int, payload text) WITH (autovacuum_enabled = false);
             INSERT INTO churn SELECT g, repeat('x', 100) FROM generate_series(1, 10000) g;
             DELETE FROM churn WHERE id > 2000;",
        )
        .await
        .unwrap();
    }
    let report = eventually("the dead rows to show in the statistics", || async {
        let report = run_diagnose(&db, &DiagnoseOptions::default()).await;
        (finding(&report, "bloat").rating == Rating::Fail).then_some(report)
    })
    .await;
    let bloat = finding(&report, "bloat");
    let row = &bloat.details.rows[0];
    assert_eq!(row[0], "churn");
    assert_eq!(row[2], "8000");
    assert_eq!(row[3], "80.0%");
    assert!(bloat.threshold.contains("50.0%"), "{bloat:?}");
}

#[tokio::test]
async fn slow_statements_come_from_pg_stat_statements() {
    let db = fresh_db().await;
    let before = run_diagnose(&db, &DiagnoseOptions::default()).await;
    assert!(
        finding(&before, "slow_statements")
            .value
            .contains("not installed")
    );

    db.exec("CREATE EXTENSION pg_stat_statements;").await;
    let conn = db.connect().await;
    let preloaded: String = conn
        .query(
            "test",
            "SELECT current_setting('shared_preload_libraries')",
            &[],
        )
        .await
        .unwrap()[0]
        .get(0);
    conn.batch("test", "SELECT pg_sleep(0.15)").await.unwrap();
    let report = run_diagnose(&db, &DiagnoseOptions::default()).await;
    let slow = finding(&report, "slow_statements");
    if preloaded.contains("pg_stat_statements") {
        assert_eq!(slow.rating, Rating::Warn, "{slow:?}");
        assert!(slow.details.rows[0][3].contains("pg_sleep"), "{slow:?}");
    } else {
        assert_eq!(slow.rating, Rating::Warn, "{slow:?}");
        assert!(slow.value.contains("not loaded"), "{slow:?}");
    }
}

#[tokio::test]
async fn a_partitioned_table_is_the_sum_of_its_partitions_in_check_and_diagnose() {
    let db = fresh_db().await;
    db.exec(
        "CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
         CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
         CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         INSERT INTO events SELECT g, '2025-06-01' FROM generate_series(1, 300) g;
         INSERT INTO events SELECT g, '2026-06-01' FROM generate_series(1, 200) g;
         ANALYZE;",
    )
    .await;
    let conn = db.connect().await;
    for exact in [false, true] {
        let report = check(&conn, exact).await.unwrap();
        let rows: Vec<(String, i64, usize)> = report
            .tables
            .iter()
            .map(|t| (t.display_name(), t.rows, t.depth))
            .collect();
        assert_eq!(
            rows,
            [
                ("events".to_string(), 500, 0),
                ("events_2025".to_string(), 300, 1),
                ("events_2026".to_string(), 200, 1),
            ],
            "exact: {exact}"
        );
    }
    let report = run_diagnose(&db, &DiagnoseOptions::default()).await;
    let sizes = finding(&report, "sizes");
    let named: Vec<&str> = sizes.details.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        named,
        ["events"],
        "partitions count in their parent: {named:?}"
    );
    assert_ne!(
        sizes.details.rows[0][1], "0 B",
        "{:?}",
        sizes.details.rows[0]
    );
}
