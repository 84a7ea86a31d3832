//! The edges of issue 11 end to end: herokuops, the binary, against a sandbox whose databases
//! are real. Each test is named after the item it covers.

use serde_json::json;

use super::harness::{E2e, Run, expected_file, fault, glob};
use crate::support::sandbox::APP;

#[tokio::test(flavor = "multi_thread")]
async fn item_09_pg_wait_timeout_bounds_the_whole_wait_including_a_held_request() {
    let e2e = E2e::start().await;
    // wait_status is held far longer than any deadline of ours.
    e2e.fault(fault(
        "GET",
        "/client/v11/databases/*/wait_status",
        json!({ "delay_ms": 300_000 }),
    ))
    .await;
    for args in [
        &["pg", "wait", APP, "--timeout", "2s", "--interval", "200ms"][..],
        &[
            "pg",
            "wait",
            APP,
            "DATABASE_URL",
            "--timeout",
            "2s",
            "--interval",
            "200ms",
        ],
    ] {
        let run = e2e.run(args).await;
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.show());
        assert!(
            run.stderr.contains("gave up waiting after 2s"),
            "{args:?}: {}",
            run.show()
        );
    }
    e2e.shutdown().await;
}

/// An expected schema with a table the app's migration does not make.
fn expected_with_an_extra_table(e2e: &E2e) -> String {
    let path = e2e.home().join("expected-more.toml");
    let mut text = std::fs::read_to_string(expected_file()).unwrap();
    text.push_str("\n[tables.made_by_a_later_migration]\n");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

async fn config_var_reads(e2e: &E2e) -> usize {
    e2e.requests()
        .await
        .iter()
        .filter(|r| {
            r["method"] == "GET" && glob("/apps/*/config-vars", r["path"].as_str().unwrap())
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn item_10_drift_after_a_local_migration_is_checked_once_and_exits_3() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let expect = expected_with_an_extra_table(&e2e);
    let (status, _) = e2e.client.delete("/__sandbox/requests").await;
    assert_eq!(status, 200);
    // Not through `E2e::run`, which reads the config vars itself afterwards.
    let output = e2e
        .command(&[
            "--json",
            "reset",
            APP,
            "--confirm",
            APP,
            "--expect",
            &expect,
            "--migrate-local",
            "true",
            "--timeout",
            "60s",
            "--interval",
            "100ms",
        ])
        .output()
        .await
        .unwrap();
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    e2e.assert_no_secret("stdout", &run.stdout);
    e2e.assert_no_secret("stderr", &run.stderr);
    assert_eq!(run.code, Some(3), "{}", run.show());
    let report = run.json();
    let verify = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "pg.verify")
        .unwrap()
        .clone();
    assert_eq!(verify["status"], "failed", "{report:#}");
    let error = verify["error"].as_str().unwrap();
    assert!(
        error.starts_with("the schema differs from the expected one"),
        "{error}"
    );
    // DATABASE_URL is read by the preflight, the drop, the migration and one check: no polls.
    assert_eq!(config_var_reads(&e2e).await, 4);
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn item_19_a_local_migration_gets_database_url_but_not_the_token_or_our_pg_variables() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let env_file = e2e.home().join("migration.env");
    let migrate = format!("env > {}", env_file.display());
    let mut command = e2e.command(&[
        "--json",
        "reset",
        APP,
        "--confirm",
        APP,
        "--no-backup",
        "--migrate-local",
        &migrate,
    ]);
    command
        .env("PGHOST", "elsewhere.invalid")
        .env("PGUSER", "someone-else")
        .env("PGPASSWORD", "not-the-apps")
        .env("PGDATABASE", "other")
        .env("PGAPPNAME", "kept-by-libpq-rules");
    let run = e2e.finish(command.spawn().unwrap()).await;
    // The command made no tables, so the check finds none: drift, not a failure.
    assert_eq!(run.code, Some(3), "{}", run.show());
    let env = std::fs::read_to_string(&env_file).unwrap();
    let vars: std::collections::BTreeMap<&str, &str> =
        env.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(
        vars.get("DATABASE_URL").copied(),
        Some(e2e.database_url().await.as_str())
    );
    for gone in [
        "HEROKU_API_KEY",
        "PGHOST",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
    ] {
        assert!(!vars.contains_key(gone), "{gone} reached the migration");
    }
    assert_eq!(e2e.leaks(&env.replace(&e2e.database_url().await, "")), 0);
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn item_04_a_failed_reset_says_what_it_destroyed_and_how_to_get_it_back() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let run = e2e
        .run(&[
            "--json",
            "reset",
            APP,
            "--confirm",
            APP,
            "--migrate-local",
            "false",
        ])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.show());
    let report = run.json();
    let backup = report["state"]["safety_backup"]
        .as_str()
        .unwrap()
        .to_string();
    let state = report["app_state"].as_str().unwrap();
    assert!(!state.contains("nothing was changed"), "{state}");
    assert!(state.contains("schema public of "), "{state}");
    assert!(state.contains("was dropped with its 25 tables"), "{state}");
    assert!(
        state.contains(&format!(
            "herokuops backup restore {APP} {backup} --confirm {APP}"
        )),
        "{state}"
    );
    let journal = e2e.journal(report["run_id"].as_str().unwrap());
    assert_eq!(journal["state"]["destroyed"].as_array().unwrap().len(), 1);
    // The text report says it too.
    let shown = e2e
        .run(&["runs", "show", report["run_id"].as_str().unwrap()])
        .await;
    assert!(shown.stdout.contains("safety backup: "), "{}", shown.show());

    // Without a safety backup, it says there is none (the schema is empty by now).
    let run = e2e
        .run(&[
            "reset",
            APP,
            "--confirm",
            APP,
            "--no-backup",
            "--migrate-local",
            "false",
        ])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.show());
    assert!(
        run.stdout.contains("no safety backup was taken"),
        "{}",
        run.show()
    );
    assert!(
        run.stdout.contains("was dropped with its"),
        "{}",
        run.show()
    );
    e2e.shutdown().await;
}
