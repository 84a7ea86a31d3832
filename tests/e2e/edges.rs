//! The edges of issue 11 end to end: herokuops, the binary, against a sandbox whose databases
//! are real. Each test is named after the item it covers.

use std::time::Duration;

use serde_json::json;

use super::harness::{E2e, Run, expected_file, fault, glob, has_seed, tables_and_rows};
use crate::support::binary::Herokuops;
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

/// Runs herokuops to the end without the harness's secret check.
async fn unchecked(command: Herokuops) -> Run {
    let output = command.output().await;
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
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
    let run = unchecked(e2e.command(&[
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
    ]))
    .await;
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
    let command = e2e.command(&[
        "--json",
        "reset",
        APP,
        "--confirm",
        APP,
        "--no-backup",
        "--migrate-local",
        &migrate,
    ]);
    let command = command
        .env("PGHOST", "elsewhere.invalid")
        .env("PGUSER", "someone-else")
        .env("PGPASSWORD", "not-the-apps")
        .env("PGDATABASE", "other")
        .env("PGAPPNAME", "kept-by-libpq-rules");
    let run = e2e.finish(command.spawn()).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn item_16_a_restore_from_a_backup_that_is_not_there_takes_nothing() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    for source in ["b999", "https://"] {
        let run = e2e
            .run(&["backup", "restore", APP, source, "--confirm", APP])
            .await;
        assert_eq!(run.code, Some(2), "{source}: {}", run.show());
        let expected = if source == "b999" {
            "no backup named b999"
        } else {
            "the restore URL is not a URL"
        };
        assert!(run.stderr.contains(expected), "{}", run.show());
    }
    assert!(
        e2e.mutating_requests().await.is_empty(),
        "{:?}",
        e2e.mutating_requests().await
    );
    e2e.shutdown().await;
}

/// A signed URL of the app's backup b001, as storage hands them out: the secret in its query.
async fn signed_url_of_b001(e2e: &E2e) -> String {
    let run = e2e.run(&["backup", "capture", APP]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let run = e2e.run(&["backup", "url", APP, "b001"]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    format!(
        "{}?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=s3cr3tsignature0123",
        run.stdout.trim()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn item_20_a_signed_restore_url_is_masked_and_never_journaled() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let url = signed_url_of_b001(&e2e).await;
    const SIGNATURE: &str = "s3cr3tsignature0123";

    // In GitHub Actions the URL and its signature are masked before anything prints them, and
    // the plan shows the URL without its query.
    // Not through `E2e::finish`: the masks themselves hold the secrets, by design.
    let dry = e2e
        .command(&["--dry-run", "backup", "restore", APP, &url])
        .env("GITHUB_ACTIONS", "true");
    let dry = unchecked(dry).await;
    assert_eq!(dry.code, Some(0), "{}", dry.show());
    assert!(
        dry.stdout.contains(&format!("::add-mask::{SIGNATURE}")),
        "{}",
        dry.show()
    );
    let unmasked: Vec<&str> = dry
        .stdout
        .lines()
        .chain(dry.stderr.lines())
        .filter(|l| l.contains(SIGNATURE) && !l.starts_with("::add-mask::"))
        .collect();
    assert!(unmasked.is_empty(), "{unmasked:?}");

    // The restore fails once it has been planned; its journal has the URL without the query.
    e2e.fault(fault(
        "POST",
        "/client/v11/databases/*/restores",
        json!({ "status": 500 }),
    ))
    .await;
    let run = e2e
        .run(&[
            "--json",
            "backup",
            "restore",
            APP,
            &url,
            "--confirm",
            APP,
            "--no-backup",
            "--interval",
            "200ms",
        ])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.show());
    assert!(!run.stdout.contains(SIGNATURE) && !run.stderr.contains(SIGNATURE));
    let run_id = run.json()["run_id"].as_str().unwrap().to_string();
    let journal = std::fs::read_to_string(e2e.runs_dir().join(format!("{run_id}.json"))).unwrap();
    assert!(!journal.contains(SIGNATURE), "{journal}");
    assert!(!journal.contains("X-Amz-Credential"), "{journal}");
    assert_eq!(
        e2e.journal(&run_id)["options"]["restore_url_withheld"],
        true
    );

    // Resuming needs the URL again, and only that URL.
    e2e.clear_faults().await;
    let resumed = e2e.run(&["resume", &run_id, "--confirm", APP]).await;
    assert_eq!(resumed.code, Some(2), "{}", resumed.show());
    assert!(
        resumed.stderr.contains("--restore-url"),
        "{}",
        resumed.show()
    );
    let other = "https://elsewhere.example/b001.dump?X-Amz-Signature=abcdef";
    let wrong = e2e
        .run(&["resume", &run_id, "--confirm", APP, "--restore-url", other])
        .await;
    assert_eq!(wrong.code, Some(2), "{}", wrong.show());
    let resumed = e2e
        .run(&[
            "--json",
            "resume",
            &run_id,
            "--confirm",
            APP,
            "--restore-url",
            &url,
        ])
        .await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.show());
    let journal = std::fs::read_to_string(e2e.runs_dir().join(format!("{run_id}.json"))).unwrap();
    assert!(!journal.contains(SIGNATURE), "{journal}");
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn item_01_reset_refuses_while_other_schemas_depend_on_public_unless_told_they_may_go() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    let db = herokuops::pg::Target::parse(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    db.batch(
        "a reporting schema",
        "CREATE SCHEMA reporting; CREATE VIEW reporting.user_emails AS SELECT email FROM public.users;",
    )
    .await
    .unwrap();

    let refused = e2e.run(&["reset", APP, "--confirm", APP]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    assert!(
        refused.stderr.contains("view reporting.user_emails"),
        "{}",
        refused.show()
    );
    assert!(
        e2e.mutating_requests().await.is_empty(),
        "no safety backup, nothing: {:?}",
        e2e.mutating_requests().await
    );
    assert!(has_seed(&tables_and_rows(&url).await.unwrap()));

    let plan = e2e
        .run(&["--dry-run", "reset", APP, "--drop-dependents"])
        .await;
    assert_eq!(plan.code, Some(0), "{}", plan.show());
    assert!(
        plan.stdout.contains(
            "ALSO DROPS 1 object(s) in other schemas, with their data: view reporting.user_emails"
        ),
        "{}",
        plan.show()
    );

    let expect = expected_file();
    let run = e2e
        .run(&[
            "reset",
            APP,
            "--confirm",
            APP,
            "--drop-dependents",
            "--expect",
            &expect,
            "--interval",
            "200ms",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let views = db
        .query(
            "views",
            "SELECT count(*) FROM pg_views WHERE schemaname = 'reporting'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(views[0].get::<_, i64>(0), 0);
    e2e.shutdown().await;
}

const BACKUPS: &str = "/client/v11/databases/*/backups";

#[tokio::test(flavor = "multi_thread")]
async fn item_11_two_runs_on_one_machine_the_second_is_refused_naming_the_first() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    // The first run is held in its safety backup.
    e2e.fault(fault(
        "POST",
        BACKUPS,
        json!({ "delay_ms": 4000, "times": 1 }),
    ))
    .await;
    let first = e2e.spawn(&["--json", "reset", APP, "--confirm", APP, "--no-progress"]);
    assert!(
        e2e.until_request("POST", BACKUPS, Duration::from_secs(20))
            .await,
        "the first run never started its backup"
    );
    let first_id = e2e.latest_journal().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = e2e.mutating_requests().await;

    for args in [
        &["reset", APP, "--confirm", APP][..],
        &["swap-db", APP, "--confirm", APP],
    ] {
        let second = e2e.run(args).await;
        assert_eq!(second.code, Some(2), "{}", second.show());
        let holder = format!("run {first_id} (reset) on ");
        assert!(second.stderr.contains(&holder), "{}", second.show());
        assert!(second.stderr.contains("started at"), "{}", second.show());
        assert!(
            second.stderr.contains("locked on this machine"),
            "{}",
            second.show()
        );
    }
    assert_eq!(
        e2e.mutating_requests().await,
        before,
        "the second run did something"
    );

    let first = e2e.finish(first).await;
    assert_eq!(first.code, Some(0), "{}", first.show());
    // Once it has ended, the app is free.
    let after = e2e.run(&["--dry-run", "reset", APP]).await;
    assert_eq!(after.code, Some(0), "{}", after.show());
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn item_11_a_run_on_another_machine_holding_the_database_lock_refuses_this_one() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    // Another machine's run: its session holds the app's advisory lock.
    let other = herokuops::pg::Target::parse(&url)
        .unwrap()
        .with_application_name("herokuops 20261122T030000Z-beef@ci-runner-7")
        .connect()
        .await
        .unwrap();
    let (k1, k2) = herokuops::pg::lock::key(APP);
    other
        .query(
            "hold the lock",
            "SELECT pg_advisory_lock($1::int4, $2::int4)",
            &[&k1, &k2],
        )
        .await
        .unwrap();

    let refused = e2e.run(&["reset", APP, "--confirm", APP]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    assert!(
        refused
            .stderr
            .contains("\"herokuops 20261122T030000Z-beef@ci-runner-7\""),
        "{}",
        refused.show()
    );
    assert!(
        refused.stderr.contains("locked on its database"),
        "{}",
        refused.show()
    );
    assert!(e2e.mutating_requests().await.is_empty());
    assert!(has_seed(&tables_and_rows(&url).await.unwrap()));

    // Released (that run ended), the run goes ahead.
    drop(other);
    let expect = expected_file();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let run = e2e
            .run(&[
                "reset",
                APP,
                "--confirm",
                APP,
                "--expect",
                &expect,
                "--interval",
                "200ms",
            ])
            .await;
        if run.code == Some(0) {
            break;
        }
        // The server ends the holder's session a moment after its client goes.
        assert!(
            run.code == Some(2) && std::time::Instant::now() < deadline,
            "{}",
            run.show()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    e2e.shutdown().await;
}
