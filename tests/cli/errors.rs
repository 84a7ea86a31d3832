//! Exit codes and messages for the failures an operator meets.

use super::*;
use wiremock::matchers::{method, path};

#[tokio::test]
async fn rejected_token_exits_4_and_says_how_to_log_in() {
    let server = heroku().await;
    Mock::given(method("GET"))
        .and(path("/account"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"id": "unauthorized", "message": "Invalid credentials provided."}),
        ))
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["whoami"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("Invalid credentials provided"), "{stderr}");
    assert!(stderr.contains("herokuops login"), "{stderr}");
}

#[tokio::test]
async fn no_token_anywhere_exits_4() {
    let server = heroku().await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["maintenance", "status", "tmi-server"],
        &[("CI", "true")],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("HEROKU_API_KEY"), "{stderr}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_app_is_named() {
    let server = heroku().await;
    Mock::given(method("GET"))
        .and(path("/apps/tmi-sever"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            serde_json::json!({"id": "not_found", "message": "Couldn't find that app."}),
        ))
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["maintenance", "status", "tmi-sever"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let first = stderr.lines().next().unwrap();
    assert!(
        first.contains("app tmi-sever")
            && first.contains("Couldn't find that app")
            && first.contains("404"),
        "{stderr}"
    );
}

#[tokio::test]
async fn non_json_502_keeps_its_status_and_json_mode_reports_it() {
    let server = heroku().await;
    Mock::given(method("GET"))
        .and(path("/apps/tmi-server/dynos"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["--json", "dynos", "list", "tmi-server"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 502"), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bad Gateway"),
        "{doc}"
    );
    assert_eq!(doc["error"]["exit_code"], 1);
    // GETs are retried on 5xx, boundedly.
    let tries = server.received_requests().await.unwrap().len();
    assert_eq!(tries, 5, "one try plus four retries");
}

#[tokio::test]
async fn bad_input_exits_2() {
    let server = heroku().await;
    let home = tempfile::tempdir().unwrap();
    let runs: &[&[&str]] = &[
        &["maintenance", "status", "Not_An_App"],
        &["maintenance", "status"],
        &["addons", "create", "tmi-server", "no-plan-given"],
        &["backup", "schedule", "tmi-server", "--at", "25:00"],
        &["pg", "wait", "tmi-server", "--timeout", "soon"],
        &["no-such-command"],
        &["dynos", "list", "tmi-server", "extra"],
    ];
    for args in runs {
        let out = herokuops(&server, home.path(), args, &[("HEROKU_API_KEY", TOKEN)]).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out).1);
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn two_factor_is_explained() {
    let server = heroku().await;
    Mock::given(method("PATCH"))
        .and(path("/apps/tmi-server"))
        .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!({"id": "two_factor", "message": "A second authentication factor is required."})))
        .expect(1)
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["maintenance", "on", "tmi-server"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("two-factor"), "{stderr}");
}

#[tokio::test]
async fn json_mode_prints_one_document() {
    let server = heroku().await;
    mount_tmi_server(&server).await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["--json", "backup", "list", "tmi-server"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (stdout, _) = text(&out);
    let doc: Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
    let names: Vec<u64> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["num"].as_u64().unwrap())
        .collect();
    assert_eq!(names, vec![3, 2, 1], "newest first");
    assert!(
        !stdout.contains("storage.example"),
        "signed storage URLs are not printed"
    );
}

#[tokio::test]
async fn completions_name_the_commands() {
    let server = heroku().await;
    let home = tempfile::tempdir().unwrap();
    let out = herokuops(&server, home.path(), &["completions", "bash"], &[]).await;
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(
        stdout.contains("herokuops")
            && stdout.contains("promote")
            && stdout.contains("maintenance")
    );
}
