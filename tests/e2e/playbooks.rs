//! `reset` and `swap-db` as an operator runs them, and their refusal to act unconfirmed.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::harness::{E2e, expected_file, fresh_and_empty, has_seed, step_names, tables_and_rows};
use crate::support::sandbox::APP;

const TIMING: [&str; 4] = ["--timeout", "30s", "--interval", "200ms"];

fn pg_restore() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.ok()?.path().join("bin/pg_restore")))
        .filter(|p| p.is_file())
        .collect();
    dirs.sort();
    dirs.pop().unwrap_or_else(|| PathBuf::from("pg_restore"))
}

fn all_done_and_timed(report: &Value) -> bool {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "done" && s["duration_ms"].is_u64() && s["detail"].is_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_backs_up_first_then_leaves_the_migrated_schema_empty() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    assert!(has_seed(&tables_and_rows(&url).await.unwrap()));

    let expect = expected_file();
    let mut args = vec![
        "--json",
        "reset",
        APP,
        "--confirm",
        APP,
        "--expect",
        &expect,
    ];
    args.extend(TIMING);
    let run = e2e.run(&args).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(
        step_names(&report),
        ["pg.drop-schema", "migrate", "pg.verify"]
    );
    assert!(all_done_and_timed(&report), "{report:#}");
    assert_eq!(report["state"]["safety_backup"], "b001");
    let safety = &report["state"]["safety_backup_step"];
    assert_eq!(
        (&safety["step"], &safety["status"], &safety["detail"]),
        (
            &json!("backup.capture"),
            &json!("done"),
            &json!("backup b001")
        ),
        "the safety backup is reported as a step: {report:#}"
    );
    assert!(safety["duration_ms"].is_u64());
    let journal = e2e.journal(report["run_id"].as_str().unwrap());
    assert_eq!(journal["status"], "succeeded");

    // The schema is the app's again, made by its boot migration, without the data.
    let after = tables_and_rows(&e2e.database_url().await).await.unwrap();
    assert!(fresh_and_empty(&after), "{after:?}");
    e2e.verify_passes().await.unwrap();
    assert!(!e2e.maintenance().await);

    // The backup was taken, and finished, before anything was dropped: it holds the rows.
    let requests = e2e.requests().await;
    let seq = |method: &str, suffix: &str| {
        requests
            .iter()
            .find(|r| r["method"] == method && r["path"].as_str().unwrap().ends_with(suffix))
            .map(|r| r["seq"].as_u64().unwrap())
            .unwrap_or_else(|| panic!("no {method} …{suffix} recorded"))
    };
    assert!(seq("POST", "/backups") < seq("DELETE", "/dynos"));
    let dump = e2e.runs_dir().join("../safety.dump");
    let dump_arg = dump.display().to_string();
    let run = e2e
        .run(&["backup", "download", APP, "b001", "--output", &dump_arg])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let restored = std::process::Command::new(pg_restore())
        .args(["--data-only", "-f", "-"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(restored.status.success());
    let sql = String::from_utf8_lossy(&restored.stdout);
    assert!(
        sql.contains("user40@example.test") && sql.contains("group-10"),
        "the safety backup has the seeded rows"
    );
    assert_eq!(e2e.assert_journals_clean(), 1);
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unconfirmed_and_dry_runs_send_nothing_that_changes_anything() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let (status, _) = e2e.client.delete("/__sandbox/requests").await;
    assert_eq!(status, 200);

    let expect = expected_file();
    for playbook in ["reset", "swap-db"] {
        let seen = e2e.requests().await.len();
        // Run bare: the harness's own look at the config vars afterwards would count.
        let out = e2e
            .command(&[playbook, APP, "--expect", &expect])
            .output()
            .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        e2e.assert_no_secret("stderr", &stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("--confirm {APP}")), "{stderr}");
        // Refused before asking anything: not even a read.
        assert_eq!(e2e.requests().await.len(), seen, "{playbook} sent requests");

        let run = e2e
            .run(&["--dry-run", playbook, APP, "--expect", &expect])
            .await;
        assert_eq!(run.code, Some(0), "{}", run.show());
        assert!(run.stdout.contains("destroys"), "{}", run.show());

        let run = e2e
            .run(&["--json", "--dry-run", playbook, APP, "--confirm", APP])
            .await;
        assert_eq!(run.code, Some(0), "{}", run.show());
        assert_eq!(run.json()["dry_run"], true);
        assert_eq!(run.json()["safety_backup"], true);
    }

    assert!(
        e2e.requests().await.iter().any(|r| r["method"] == "GET"),
        "the preflight did read"
    );
    assert_eq!(e2e.mutating_requests().await, Vec::<String>::new());
    assert!(has_seed(
        &tables_and_rows(&e2e.database_url().await).await.unwrap()
    ));
    assert_eq!(e2e.assert_journals_clean(), 0, "no run was journaled");
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn swap_db_promotes_a_new_database_and_keeps_the_old_one_under_its_alias() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let old_url = e2e.database_url().await;
    assert_eq!(
        e2e.config_var("HEROKU_POSTGRESQL_COBALT_URL")
            .await
            .as_ref(),
        Some(&old_url)
    );

    let expect = expected_file();
    let mut args = vec![
        "--json",
        "swap-db",
        APP,
        "--confirm",
        APP,
        "--expect",
        &expect,
    ];
    args.extend(TIMING);
    let run = e2e.run(&args).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    assert_eq!(
        step_names(&report),
        [
            "addons.create",
            "pg.wait",
            "maintenance.on",
            "pg.promote",
            "maintenance.off",
            "dynos.restart",
            "pg.verify"
        ]
    );
    assert!(all_done_and_timed(&report), "{report:#}");
    let state = &report["state"];
    assert_eq!(state["safety_backup"], "b001");
    let created = state["created_addon"].as_str().unwrap();
    let previous = state["previous_addon"].as_str().unwrap();
    let alias = state["previous_alias"].as_str().unwrap();
    assert_eq!(alias, "HEROKU_POSTGRESQL_COBALT");

    let new_url = e2e.database_url().await;
    assert_ne!(new_url, old_url, "DATABASE_URL points at a new database");
    assert_eq!(
        e2e.config_var(&format!("{alias}_URL")).await.as_ref(),
        Some(&old_url),
        "the old database is still reachable under its alias"
    );
    let (status, addons) = e2e.client.get(&format!("/apps/{APP}/addons")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = addons
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&created) && names.contains(&previous),
        "{names:?}"
    );
    assert!(
        has_seed(&tables_and_rows(&old_url).await.unwrap()),
        "old data kept"
    );
    assert!(fresh_and_empty(&tables_and_rows(&new_url).await.unwrap()));

    assert!(!e2e.maintenance().await);
    assert!(e2e.dynos_come_up().await, "{:?}", e2e.dyno_states().await);
    e2e.verify_passes().await.unwrap();
    assert_eq!(e2e.assert_journals_clean(), 1);
    e2e.shutdown().await;
}
