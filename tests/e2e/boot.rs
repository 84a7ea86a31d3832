//! How `pg.verify` knows, after a restart, that an app which migrates at boot has done so:
//! with an expected schema, the schema matching says it (the dynos are watched for a crash,
//! not waited for); without one, only the dynos being up do.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::harness::{E2e, Options, expected_file, step_names, tables_and_rows};
use crate::support::sandbox::{APP, fixtures};

/// The project's app fixture with another boot: a boot time, and optionally SQL of its own in
/// place of the 25-table migration.
fn app_booting(dir: &Path, boot_time: &str, sql: Option<&str>) -> PathBuf {
    let text = std::fs::read_to_string(fixtures().join("tmi-server.toml")).unwrap();
    let schema_sql = fixtures().join("../schema/tmi/schema.sql");
    let migration = match sql {
        Some(sql) => format!("sql = {sql:?}"),
        None => format!("sql_file = {:?}", schema_sql.display().to_string()),
    };
    let text = text
        .replace("sql_file = \"../schema/tmi/schema.sql\"", &migration)
        .replace(
            "boot_time = \"300ms\"",
            &format!("boot_time = {boot_time:?}"),
        );
    assert!(
        text.contains(&migration) && text.contains(boot_time),
        "{text}"
    );
    std::fs::write(dir.join("tmi-server.toml"), text).unwrap();
    dir.to_path_buf()
}

async fn sandbox_booting(dir: &Path, boot_time: &str, sql: Option<&str>) -> E2e {
    E2e::start_with(Options {
        fixtures: Some(app_booting(dir, boot_time, sql)),
        ..Options::default()
    })
    .await
}

/// `reset` of the app, confirmed, with no safety backup, and `extra`.
fn reset_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--json", "reset", APP, "--confirm", APP, "--no-backup"];
    args.extend(["--timeout", "60s"]);
    args.extend(extra);
    args
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {report:#}"))
}

fn detail<'a>(report: &'a Value, name: &str) -> &'a str {
    step(report, name)["detail"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_expected_schema_reset_and_swap_db_end_when_the_schema_matches_while_dynos_boot() {
    let dir = tempfile::tempdir().unwrap();
    // A boot far longer than the migration: a run that waited for the dynos would find them up.
    let e2e = sandbox_booting(dir.path(), "20s", None).await;
    let expect = expected_file();
    let common = ["--no-backup", "--expect", &expect, "--timeout", "60s"];

    let mut args = vec!["--json", "reset", APP, "--confirm", APP];
    args.extend(common);
    let run = e2e.run(&args).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    assert!(
        detail(&report, "migrate").contains("pg.verify waits for the migration"),
        "{report:#}"
    );
    let verified = detail(&report, "pg.verify");
    assert!(
        verified.starts_with("schema matches (25 tables); ") && verified.contains("starting"),
        "{verified}"
    );
    let states = e2e.dyno_states().await;
    assert!(
        !states.is_empty() && states.iter().all(|s| s == "starting"),
        "the run ended before the dynos were up: {states:?}"
    );
    let tables = tables_and_rows(&e2e.database_url().await).await.unwrap();
    assert_eq!(tables.len(), 25, "{tables:?}");

    let old_url = e2e.database_url().await;
    let mut args = vec!["--json", "swap-db", APP, "--confirm", APP];
    args.extend(common);
    let run = e2e.run(&args).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    let steps = step_names(&report);
    assert_eq!(
        steps.last().map(String::as_str),
        Some("pg.verify"),
        "{steps:?}"
    );
    assert!(!steps.iter().any(|s| s == "dynos.wait-up"), "{steps:?}");
    let verified = detail(&report, "pg.verify");
    assert!(verified.contains("starting"), "{verified}");
    let new_url = e2e.database_url().await;
    assert_ne!(new_url, old_url);
    let tables = tables_and_rows(&new_url).await.unwrap();
    assert_eq!(
        tables.len(),
        25,
        "the app migrated the new database: {tables:?}"
    );
    // The dynos were looked at while the schema was polled.
    let dyno_looks = e2e
        .requests()
        .await
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"] == format!("/apps/{APP}/dynos"))
        .count();
    assert!(dyno_looks >= 2, "{dyno_looks} looks at the dynos");
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_expected_schema_verify_waits_until_the_dynos_are_up() {
    let dir = tempfile::tempdir().unwrap();
    let e2e = sandbox_booting(dir.path(), "1500ms", None).await;
    let run = e2e.run(&reset_args(&[])).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    let verified = detail(&report, "pg.verify");
    assert!(
        verified.starts_with("2 dynos up; 25 tables: "),
        "{verified}"
    );
    let states = e2e.dyno_states().await;
    assert!(states.iter().all(|s| s == "up"), "{states:?}");
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dyno_that_crashes_at_boot_fails_verify_without_waiting_out_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // The sandbox's own first boot succeeds; every later one fails, as an app whose migration
    // meets something it did not expect.
    let failing = "CREATE SCHEMA booted_once; CREATE TABLE users (id bigint PRIMARY KEY);";
    let e2e = sandbox_booting(dir.path(), "300ms", Some(failing)).await;
    let expect = expected_file();
    for with_expected in [true, false] {
        let extra: &[&str] = if with_expected {
            &["--expect", &expect]
        } else {
            &[]
        };
        let run = e2e.run(&reset_args(extra)).await;
        assert_eq!(run.code, Some(1), "{}", run.show());
        let report = run.json();
        let verify = step(&report, "pg.verify");
        assert_eq!(verify["status"], "failed", "{report:#}");
        let said = format!("{}{}", run.stderr, report);
        assert!(
            said.contains("crashed"),
            "with_expected={with_expected}: {said}"
        );
        assert!(
            said.contains(&format!("heroku logs -a {APP} --dyno")),
            "the hint says where to look: {said}"
        );
    }
    e2e.shutdown().await;
}
