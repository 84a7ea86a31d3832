//! `backup restore` into the app's own database is the `restore` playbook: confirmation, a
//! safety backup, the restore, a restart and a verification.

use super::harness::{E2e, expected_file, has_seed, step_names, tables_and_rows};
use crate::support::sandbox::APP;

#[tokio::test(flavor = "multi_thread")]
async fn restore_brings_back_the_named_backup_after_a_safety_backup() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    let run = e2e.run(&["backup", "capture", APP]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());

    // What the restore must undo: the seeded users gone.
    let db = herokuops::pg::Target::parse(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    db.batch(
        "losing data",
        "DELETE FROM group_members; DELETE FROM users",
    )
    .await
    .unwrap();
    assert!(!has_seed(&tables_and_rows(&url).await.unwrap()));

    // Unconfirmed: refused before a single request, not only before a mutating one.
    let before = e2e.requests().await.len();
    let refused = e2e.run(&["backup", "restore", APP]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    // The one request after it is the harness reading the config vars to learn the passwords.
    let after = e2e.requests().await;
    assert_eq!(
        after.len(),
        before + 1,
        "a refused restore sent {:?}",
        &after[before..]
    );
    assert_eq!(after[before]["path"], format!("/apps/{APP}/config-vars"));

    // A dry run shows the plan and changes nothing.
    let mutating = e2e.mutating_requests().await;
    let dry = e2e.run(&["--dry-run", "backup", "restore", APP]).await;
    assert_eq!(dry.code, Some(0), "{}", dry.show());
    assert!(
        dry.stdout.contains("would run restore on tmi-server"),
        "{}",
        dry.show()
    );
    assert!(dry.stdout.contains("from b001"), "{}", dry.show());
    assert_eq!(e2e.mutating_requests().await, mutating);

    let expect = expected_file();
    let run = e2e
        .run(&[
            "--json",
            "backup",
            "restore",
            APP,
            "--confirm",
            APP,
            "--expect",
            &expect,
            "--interval",
            "200ms",
            "--timeout",
            "1m",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    assert_eq!(report["playbook"], "restore", "{report:#}");
    assert_eq!(
        step_names(&report),
        ["backup.restore", "dynos.restart", "pg.verify"]
    );
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done")
    );
    // The safety backup is b002; the restore still came from b001, the newest backup when the
    // run was planned, not from the safety backup taken since.
    assert_eq!(report["state"]["safety_backup"], "b002");
    let restore = &report["steps"][0]["detail"];
    assert!(restore.as_str().unwrap().contains("r003"), "{restore}");
    let journal = e2e.journal(report["run_id"].as_str().unwrap());
    assert_eq!(journal["options"]["restore_from"], "b001", "{journal:#}");

    assert!(
        has_seed(&tables_and_rows(&url).await.unwrap()),
        "the rows are back"
    );
    assert!(e2e.dynos_come_up().await, "{:?}", e2e.dyno_states().await);
    e2e.assert_journals_clean();
    e2e.shutdown().await;
}

/// The restore rebuilds the schema from a dump, after which PostgreSQL prints some
/// definitions otherwise (an IN-list CHECK): verify against a snapshot taken before the
/// backup must still find the schema the same, and the run end as succeeded.
#[tokio::test(flavor = "multi_thread")]
async fn restore_verifies_clean_against_a_snapshot_taken_before_the_backup() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("before.toml");
    let snapshot = snapshot.to_str().unwrap();
    let run = e2e.run(&["schema", "snapshot", APP, "-o", snapshot]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let check_text = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("chk_threat_models_framework"))
            .map(str::to_string)
            .unwrap()
    };
    let before = check_text(&std::fs::read_to_string(snapshot).unwrap());
    let run = e2e.run(&["backup", "capture", APP]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());

    let run = e2e
        .run(&[
            "--json",
            "backup",
            "restore",
            APP,
            "--confirm",
            APP,
            "--expect",
            snapshot,
            "--interval",
            "200ms",
            "--timeout",
            "1m",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    assert_eq!(report["status"], "succeeded", "{report:#}");
    let verify = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "pg.verify")
        .unwrap();
    assert_eq!(verify["status"], "done", "{report:#}");
    assert!(
        verify["detail"]
            .as_str()
            .unwrap()
            .contains("schema matches"),
        "{verify}"
    );

    // The restored database prints the CHECK otherwise: a text comparison would have failed.
    let after_file = dir.path().join("after.toml");
    let run = e2e
        .run(&[
            "schema",
            "snapshot",
            APP,
            "-o",
            after_file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let after = check_text(&std::fs::read_to_string(&after_file).unwrap());
    assert_ne!(before, after, "the restore no longer re-renders the CHECK");
    assert!(has_seed(&tables_and_rows(&url).await.unwrap()));
    e2e.assert_journals_clean();
    e2e.shutdown().await;
}
