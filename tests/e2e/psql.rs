//! `db psql` against the sandbox: `-c` and `-f` run in the app's database with psql's output
//! and exit status; the password reaches psql through its environment, never its arguments.

use std::os::unix::fs::PermissionsExt;

use super::harness::{E2e, tables_and_rows};
use crate::support::sandbox::APP;

#[tokio::test(flavor = "multi_thread")]
async fn psql_runs_a_command_and_a_file_in_the_apps_database_with_their_exit_status() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let url = e2e.database_url().await;

    let run = e2e
        .run(&[
            "db",
            "psql",
            APP,
            "-c",
            "SELECT count(*) AS seeded FROM users",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(
        run.stdout.contains("seeded") && run.stdout.contains(" 40\n"),
        "{}",
        run.show()
    );

    let file = e2e.home().join("more-groups.sql");
    std::fs::write(
        &file,
        "INSERT INTO groups (provider, group_name) VALUES ('tmi', 'from-a-file');\nSELECT count(*) AS groups_now FROM groups;\n",
    )
    .unwrap();
    let run = e2e
        .run(&["db", "psql", APP, "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(run.stdout.contains(" 11\n"), "{}", run.show());
    assert_eq!(tables_and_rows(&url).await.unwrap()["groups"], 11);

    // psql's own failures: 1 for a command, 3 for a file stopped at its first error.
    let run = e2e
        .run(&["db", "psql", APP, "-c", "SELECT * FROM no_such_table"])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.show());
    assert!(run.stderr.contains("no_such_table"), "{}", run.show());
    std::fs::write(
        &file,
        "SELECT * FROM no_such_table;\nINSERT INTO groups (provider, group_name) VALUES ('tmi', 'never');\n",
    )
    .unwrap();
    let run = e2e
        .run(&["db", "psql", APP, "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(run.code, Some(3), "{}", run.show());
    assert_eq!(
        tables_and_rows(&url).await.unwrap()["groups"],
        11,
        "it stopped at the error"
    );
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_gets_the_password_in_its_environment_and_its_status_becomes_ours() {
    let e2e = E2e::start().await;
    let url = e2e.database_url().await;
    let password = url::Url::parse(&url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    // A psql that tells what it was given, and exits 7.
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("psql");
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = --version ] && {{ echo 'psql (PostgreSQL) 15.4'; exit 0; }}\n\
         echo \"args: $*\"\n\
         [ \"$PGPASSWORD\" = '{password}' ] && echo 'password: in the environment'\n\
         echo \"sslmode: $PGSSLMODE\"\n\
         exit 7\n"
    );
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = e2e
        .command(&["db", "psql", APP, "-c", "SELECT 1"])
        .env("HEROKUOPS_PG_BIN", bin.path())
        .env("PGPASSWORD", "from-the-callers-shell")
        .spawn();
    let run = e2e.finish(child).await;
    assert_eq!(run.code, Some(7), "{}", run.show());
    assert!(
        run.stdout
            .contains("args: --command SELECT 1 --set ON_ERROR_STOP=1"),
        "{}",
        run.show()
    );
    assert!(
        run.stdout.contains("password: in the environment"),
        "{}",
        run.show()
    );
    // A loopback host without sslmode: libpq's prefer, as herokuops connects itself.
    assert!(run.stdout.contains("sslmode: prefer"), "{}", run.show());
    e2e.shutdown().await;
}

/// `db psql` at a terminal (a PTY): psql's own prompt, Ctrl-C cancelling the query and not
/// herokuops, and `\q` ending it with exit 0.
#[tokio::test(flavor = "multi_thread")]
async fn psql_at_a_terminal_is_interactive_and_ctrl_c_cancels_only_the_query() {
    use rexpect::process::WaitStatus;
    use rexpect::session::spawn_command;

    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let url = e2e.database_url().await;
    let command = e2e
        .command(&["db", "psql", APP])
        .env("TERM", "dumb")
        .env("PAGER", "cat")
        .std_command();
    let runtime = tokio::runtime::Handle::current();
    let (seen, status) = tokio::task::spawn_blocking(move || {
        let mut session = spawn_command(command, Some(60_000)).expect("a PTY");
        let mut seen = session.exp_string("=> ").expect("psql's prompt");
        session.send_line("SELECT pg_sleep(30);").unwrap();
        runtime.block_on(until_sleeping(&url));
        session.send_control('c').unwrap();
        seen.push_str(
            &session
                .exp_string("canceling statement")
                .expect("the query cancelled"),
        );
        seen.push_str(&session.exp_string("=> ").expect("the prompt again"));
        session.send_line("SELECT 40 + 2 AS answer;").unwrap();
        seen.push_str(&session.exp_string("42").expect("psql still answers"));
        session.send_line("\\q").unwrap();
        seen.push_str(&session.exp_eof().unwrap_or_default());
        (seen, session.process().wait().expect("it ends"))
    })
    .await
    .unwrap();
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{status:?}\n{seen}"
    );
    e2e.assert_no_secret("the terminal", &seen);
    e2e.shutdown().await;
}

/// Waits until a session of the database runs `pg_sleep`.
async fn until_sleeping(url: &str) {
    let db = super::harness::connect_url(url).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let rows = db
            .query(
                "sleeping?",
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(30)%'",
                &[],
            )
            .await
            .unwrap();
        if rows[0].get::<_, i64>(0) == 1 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "psql never ran the query"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
