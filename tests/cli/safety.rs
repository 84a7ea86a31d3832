//! Destructive commands refuse to act without a confirmation naming the app, before any
//! request; `--dry-run` changes nothing.

use super::*;

const DESTRUCTIVE: &[&[&str]] = &[
    &["pg", "promote", "tmi-server", "HEROKU_POSTGRESQL_AMBER"],
    &[
        "pg",
        "promote",
        "-a",
        "tmi-server",
        "HEROKU_POSTGRESQL_AMBER",
    ],
    &[
        "addons",
        "destroy",
        "tmi-server",
        "postgresql-secondary-10002",
    ],
    &["backup", "restore", "tmi-server", "b001"],
    &["db", "push", "tmi-server", "postgres://localhost/tmi_dev"],
    &[
        "pg",
        "copy",
        "tmi-server",
        "DATABASE_URL",
        "HEROKU_POSTGRESQL_AMBER",
    ],
];

#[tokio::test]
async fn without_tty_or_confirm_nothing_is_sent_and_exit_is_2() {
    let server = heroku().await;
    mount_tmi_server(&server).await;
    let home = tempfile::tempdir().unwrap();
    for args in DESTRUCTIVE {
        let out = herokuops(&server, home.path(), args, &[("HEROKU_API_KEY", TOKEN)]).await;
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--confirm tmi-server"),
            "{args:?}: {stderr}"
        );
    }
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests.is_empty(),
        "requests were sent: {:?}",
        requests.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_confirm_naming_another_app_is_refused() {
    let server = heroku().await;
    mount_tmi_server(&server).await;
    let home = tempfile::tempdir().unwrap();
    for args in DESTRUCTIVE {
        let mut with_confirm = vec!["--confirm", "tmi-staging"];
        with_confirm.extend_from_slice(args);
        let out = herokuops(
            &server,
            home.path(),
            &with_confirm,
            &[("HEROKU_API_KEY", TOKEN)],
        )
        .await;
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("does not match"), "{stderr}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn dry_run_sends_nothing_that_changes_anything() {
    let server = heroku().await;
    mount_tmi_server(&server).await;
    let home = tempfile::tempdir().unwrap();
    let runs: &[&[&str]] = &[
        &["--dry-run", "maintenance", "on", "tmi-server"],
        &["--dry-run", "dynos", "restart", "tmi-server"],
        &[
            "--dry-run",
            "addons",
            "create",
            "tmi-server",
            "heroku-postgresql:essential-0",
        ],
        &["--dry-run", "addons", "destroy", "tmi-server", "x"],
        &[
            "--dry-run",
            "pg",
            "promote",
            "tmi-server",
            "HEROKU_POSTGRESQL_AMBER",
        ],
        &["--dry-run", "backup", "capture", "tmi-server"],
        // Into another database than DATABASE_URL: the single step (the playbook's dry run,
        // which reads the live schema, is tested against the sandbox).
        &[
            "--dry-run",
            "backup",
            "restore",
            "tmi-server",
            "--database",
            "HEROKU_POSTGRESQL_AMBER",
        ],
        &["--dry-run", "run", "tmi-server", "--", "bin/migrate"],
    ];
    for args in runs {
        let out = herokuops(&server, home.path(), args, &[("HEROKU_API_KEY", TOKEN)]).await;
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(stdout.starts_with("would "), "{args:?}: {stdout}");
    }
    assert_eq!(mutating_requests(&server).await, Vec::<String>::new());
}

#[tokio::test]
async fn confirmed_promote_runs_the_official_sequence() {
    let server = heroku().await;
    mount_tmi_server(&server).await;
    let home = tempfile::tempdir().unwrap();
    // The resolver answers with the secondary database for this call.
    use wiremock::matchers::{body_json, method, path};
    Mock::given(method("POST"))
        .and(path("/actions/addon-attachments/resolve"))
        .and(body_json(
            serde_json::json!({"addon_attachment": "HEROKU_POSTGRESQL_AMBER", "app": "tmi-server"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("resolve-secondary.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    let s = "fdf3a4eb-af7b-5ec5-96fd-717476dd02ca";
    for p in [
        format!("/client/v11/databases/{s}/wait_status"),
        format!("/client/v11/databases/{s}"),
    ] {
        let body = if p.ends_with("wait_status") {
            fixture("wait-status-available.json")
        } else {
            fixture("database-info.json")
        };
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let out = herokuops(
        &server,
        home.path(),
        &[
            "--confirm",
            "tmi-server",
            "pg",
            "promote",
            "tmi-server",
            "HEROKU_POSTGRESQL_AMBER",
        ],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("promoted postgresql-secondary-10002 to DATABASE_URL"),
        "{stdout}"
    );
    assert!(stdout.contains("HEROKU_POSTGRESQL_COBALT_URL"), "{stdout}");
    assert_eq!(
        mutating_requests(&server).await,
        vec!["POST /addon-attachments".to_string()]
    );
}
