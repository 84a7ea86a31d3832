//! `db pull` and `db push` against the sandbox, with a "local" database on the sandboxes' own
//! PostgreSQL server: the rows and the schema arrive whole, a non-empty local database is
//! refused, a push is confirmed or nothing changes, and tools older than the server are
//! refused before anything changes.

use std::path::Path;

use super::harness::{
    E2e, connect_url, expected_file, has_seed, local_name, local_url, tables_and_rows,
};
use crate::support::sandbox::APP;

/// Whether a database of that name exists on the sandboxes' server.
async fn exists(e2e: &E2e, name: &str) -> bool {
    let admin = connect_url(&local_url(e2e, "postgres")).await;
    let rows = admin
        .query(
            "look for the database",
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    rows[0].get::<_, i64>(0) == 1
}

/// The columns, indexes and constraints of schema public, one line each. (Constraint names,
/// not texts: a dump and restore writes some CHECK expressions differently.)
async fn structure(url: &str) -> Vec<String> {
    let db = connect_url(url).await;
    let sql = "SELECT table_name::text || '.' || column_name::text || ' ' || data_type || ' ' || is_nullable \
                      || ' ' || coalesce(column_default, '') \
               FROM information_schema.columns WHERE table_schema = 'public' \
               UNION ALL SELECT indexdef::text FROM pg_indexes WHERE schemaname = 'public' \
               UNION ALL SELECT conrelid::regclass::text || ' ' || conname || ' ' || contype::text \
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
               ORDER BY 1";
    let rows = db.query("structure", sql, &[]).await.unwrap();
    let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(lines.len() > 100, "{lines:?}");
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_makes_a_local_copy_with_the_same_rows_and_schema_and_refuses_a_full_one() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let app_url = e2e.database_url().await;
    let name = local_name("pulled");
    let local = local_url(&e2e, &name);
    assert!(!exists(&e2e, &name).await);

    let run = e2e.run(&["db", "pull", APP, &local]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(run.stdout.contains("(created)"), "{}", run.show());
    let pulled = tables_and_rows(&local).await.unwrap();
    assert!(has_seed(&pulled), "{pulled:?}");
    assert_eq!(pulled, tables_and_rows(&app_url).await.unwrap());
    // The schema too: the same columns, indexes and constraints, and the app's expected file
    // holds of the copy.
    assert_eq!(structure(&local).await, structure(&app_url).await);
    let expect = expected_file();
    let run = e2e
        .run(&["verify", "--database-url", &local, "--expect", &expect])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());

    // Full now: refused, and what it holds is left as it was.
    connect_url(&app_url)
        .await
        .batch(
            "more rows",
            "INSERT INTO groups (provider, group_name) VALUES ('tmi', 'late')",
        )
        .await
        .unwrap();
    let refused = e2e.run(&["db", "pull", APP, &local]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    assert!(refused.stderr.contains("not empty"), "{}", refused.show());
    assert!(refused.stderr.contains("--force"), "{}", refused.show());
    assert_eq!(tables_and_rows(&local).await.unwrap(), pulled);

    let forced = e2e
        .run(&["--json", "db", "pull", APP, &local, "--force"])
        .await;
    assert_eq!(forced.code, Some(0), "{}", forced.show());
    assert_eq!(forced.json()["local_was"], "replaced");
    assert_eq!(forced.json()["tables"], 25);
    let again = tables_and_rows(&local).await.unwrap();
    assert_eq!(again["groups"], 11);
    assert_eq!(again, tables_and_rows(&app_url).await.unwrap());
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn push_changes_nothing_unconfirmed_then_replaces_the_apps_data_after_a_safety_backup() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let app_url = e2e.database_url().await;
    let local = local_url(&e2e, &local_name("pushed"));
    let run = e2e.run(&["db", "pull", APP, &local]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    // What the push is to bring: fewer users, more groups.
    connect_url(&local)
        .await
        .batch(
            "local changes",
            "DELETE FROM group_members; DELETE FROM users WHERE provider_user_id <> 'u1'; \
             INSERT INTO groups (provider, group_name) SELECT 'tmi', 'local-' || i FROM generate_series(1, 5) i",
        )
        .await
        .unwrap();
    let before = tables_and_rows(&app_url).await.unwrap();
    let mutating = e2e.mutating_requests().await;

    let refused = e2e.run(&["db", "push", APP, &local]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    assert!(
        refused.stderr.contains("--confirm tmi-server"),
        "{}",
        refused.show()
    );
    assert_eq!(tables_and_rows(&app_url).await.unwrap(), before);
    assert_eq!(e2e.mutating_requests().await, mutating, "nothing was sent");

    let expect = expected_file();
    let args = [
        "--json",
        "db",
        "push",
        APP,
        &local,
        "--confirm",
        APP,
        "--expect",
        &expect,
    ];
    let run = e2e.run(&args).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    assert_eq!(report["playbook"], "push", "{report:#}");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["pg.drop-schema", "pg.push", "pg.verify"]);
    assert_eq!(report["state"]["safety_backup"], "b001", "{report:#}");
    let pushed = tables_and_rows(&app_url).await.unwrap();
    assert_eq!(pushed, tables_and_rows(&local).await.unwrap());
    assert_eq!((pushed["users"], pushed["groups"]), (1, 15));
    // The journal keeps the local URL without its password.
    let journal = e2e.journal(report["run_id"].as_str().unwrap());
    assert!(
        journal["options"]["push_from"]
            .as_str()
            .unwrap()
            .contains("/pushed_")
    );
    assert!(e2e.assert_journals_clean() >= 1);
    e2e.shutdown().await;
}

/// Client tools that say they are PostgreSQL 9.6.
fn old_tools(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for tool in ["pg_dump", "pg_restore"] {
        let path = dir.join(tool);
        let script = format!("#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_missing_or_older_than_the_server_are_refused_before_anything_changes() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let app_url = e2e.database_url().await;
    let old = tempfile::tempdir().unwrap();
    old_tools(old.path());
    let empty = tempfile::tempdir().unwrap();
    let name = local_name("never");
    let local = local_url(&e2e, &name);
    let existing = local_url(&e2e, "postgres");
    let before = tables_and_rows(&app_url).await.unwrap();
    let mutating = e2e.mutating_requests().await;

    for (bin, says) in [
        (old.path(), "older than PostgreSQL 15"),
        (empty.path(), "was not found"),
    ] {
        let pull = e2e
            .finish(
                e2e.command(&["db", "pull", APP, &local])
                    .env("HEROKUOPS_PG_BIN", bin)
                    .spawn(),
            )
            .await;
        assert_eq!(pull.code, Some(1), "{}", pull.show());
        assert!(pull.stderr.contains(says), "{}", pull.show());
        assert!(
            pull.stderr.contains("HEROKUOPS_PG_BIN"),
            "the hint names the way out: {}",
            pull.show()
        );
        // An existing local database: the push reads its server's version first.
        let args = ["db", "push", APP, &existing, "--confirm", APP];
        let push = e2e
            .finish(e2e.command(&args).env("HEROKUOPS_PG_BIN", bin).spawn())
            .await;
        assert_eq!(push.code, Some(1), "{}", push.show());
        assert!(push.stderr.contains(says), "{}", push.show());
    }
    assert!(
        !exists(&e2e, &name).await,
        "the local database was not created"
    );
    assert_eq!(tables_and_rows(&app_url).await.unwrap(), before);
    assert_eq!(
        e2e.mutating_requests().await,
        mutating,
        "no backup, no change"
    );
    e2e.shutdown().await;
}
