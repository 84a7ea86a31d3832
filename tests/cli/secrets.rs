//! No command prints the API token or a database password, in any mode.

use super::*;

#[tokio::test]
async fn token_and_passwords_never_appear_in_any_output() {
    let server = heroku().await;
    mount_tmi_server(&server).await;
    let home = tempfile::tempdir().unwrap();
    let runs: &[&[&str]] = &[
        &["whoami"],
        &["-v", "whoami"],
        &["maintenance", "status", "tmi-server"],
        &["-v", "maintenance", "on", "tmi-server"],
        &["-v", "--json", "maintenance", "on", "tmi-server"],
        &["-v", "dynos", "list", "tmi-server"],
        &["-v", "dynos", "restart", "-a", "tmi-server"],
        &["-v", "addons", "list", "tmi-server"],
        &["-v", "--json", "addons", "list", "tmi-server"],
        &[
            "-v",
            "addons",
            "create",
            "tmi-server",
            "heroku-postgresql:essential-0",
        ],
        &["-v", "pg", "info", "tmi-server"],
        &["-v", "--json", "pg", "info", "tmi-server"],
        &["-v", "pg", "wait", "tmi-server", "--interval", "1s"],
        &["-v", "backup", "list", "tmi-server"],
        &["-v", "--json", "backup", "list", "tmi-server"],
        &["-v", "backup", "capture", "tmi-server"],
        &[
            "-v",
            "--confirm",
            "tmi-server",
            "pg",
            "promote",
            "tmi-server",
            "HEROKU_POSTGRESQL_AMBER",
        ],
        &["-v", "maintenance", "status", "no-such-app"],
    ];
    let mut scanned = 0;
    for args in runs {
        let out = herokuops(
            &server,
            home.path(),
            args,
            &[("HEROKU_API_KEY", TOKEN), ("CI", "true")],
        )
        .await;
        let (stdout, stderr) = text(&out);
        for secret in [TOKEN, "primary-pass", "secondary-pass"] {
            assert!(
                !stdout.contains(secret),
                "{args:?} printed {secret} on stdout:\n{stdout}"
            );
            assert!(
                !stderr.contains(secret),
                "{args:?} printed {secret} on stderr:\n{stderr}"
            );
        }
        scanned += stdout.len() + stderr.len();
    }
    // The scan must have had something to scan: verbose runs log every request.
    assert!(scanned > 2000, "only {scanned} bytes of output");
    let requests = server.received_requests().await.unwrap();
    assert!(requests.len() >= runs.len());
    // ...and the token was really sent, so its absence from the output means something.
    assert!(requests.iter().all(
        |r| r.headers.get("authorization").unwrap().to_str().unwrap() == format!("Bearer {TOKEN}")
    ));
}

#[tokio::test]
async fn verbose_logs_each_request_without_headers() {
    let server = heroku().await;
    mount_tmi_server(&server).await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["-v", "maintenance", "status", "tmi-server"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "maintenance is off for tmi-server");
    assert!(stderr.contains("→ GET /apps/tmi-server"), "{stderr}");
    assert!(stderr.contains("← 200 /apps/tmi-server"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("authorization"), "{stderr}");
}
