//! The fast tests of the command line: the `herokuops` binary run as a user runs it, against a
//! local mock of Heroku's APIs (no database, no sandbox); the workflows `ci init` writes; the
//! endpoint table against Heroku's schema. `cargo test` runs these; the slow end-to-end tests
//! are the `integration` target.

mod auth;
#[path = "../support/binary.rs"]
mod binary;
mod ci;
mod edges;
mod endpoint_table;
mod errors;
#[path = "../support/mock.rs"]
mod mock;
mod render;
mod safety;
mod secrets;
#[path = "../support/skip.rs"]
mod skip;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A token that is easy to find in output if it ever leaks.
pub const TOKEN: &str = "hk-LEAKCHECK-7f3a9c1e5b2d";

/// A mock Heroku whose catch-all fails the test on a request nobody expected.
pub async fn heroku() -> MockServer {
    mock::server().await
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/api/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Runs the binary with a clean environment pointed at `server`.
pub async fn herokuops(
    server: &MockServer,
    home: &Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> Output {
    binary::herokuops(args)
        .home(home)
        .env("HEROKU_HOST", server.uri())
        .envs(extra_env)
        .limit(std::time::Duration::from_secs(60))
        .output()
        .await
}

pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Requests the server received other than GETs.
pub async fn mutating_requests(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() != "GET" && !r.url.path().contains("/actions/"))
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

/// Answers every route the commands use with the `tmi-server` fixtures.
pub async fn mount_tmi_server(server: &MockServer) {
    use wiremock::matchers::{method, path};
    let p = "178769e6-6033-582d-965a-ce9e90e85633";
    // The app's second database (HEROKU_POSTGRESQL_AMBER).
    let second = "fdf3a4eb-af7b-5ec5-96fd-717476dd02ca";
    let transfer = "f1cac94e-f282-5626-b5ef-bbb46801a5d4";
    let routes: Vec<(&str, String, u16, Value)> = vec![
        ("GET", "/account".into(), 200, fixture("account.json")),
        ("GET", "/apps/tmi-server".into(), 200, fixture("app.json")),
        ("PATCH", "/apps/tmi-server".into(), 200, fixture("app.json")),
        (
            "GET",
            "/apps/tmi-server/dynos".into(),
            200,
            fixture("dynos.json"),
        ),
        (
            "DELETE",
            "/apps/tmi-server/dynos".into(),
            202,
            serde_json::json!({}),
        ),
        (
            "GET",
            "/apps/tmi-server/addons".into(),
            200,
            fixture("addons.json"),
        ),
        (
            "POST",
            "/apps/tmi-server/addons".into(),
            201,
            fixture("addon-created.json"),
        ),
        (
            "GET",
            "/apps/tmi-server/addon-attachments".into(),
            200,
            fixture("attachments.json"),
        ),
        (
            "GET",
            "/apps/tmi-server/config-vars".into(),
            200,
            fixture("config-vars.json"),
        ),
        (
            "GET",
            "/apps/tmi-server/formation".into(),
            200,
            fixture("formation.json"),
        ),
        (
            "POST",
            "/addon-attachments".into(),
            201,
            fixture("attachment-created.json"),
        ),
        (
            "POST",
            "/actions/addon-attachments/resolve".into(),
            200,
            fixture("resolve-database.json"),
        ),
        (
            "GET",
            format!("/client/v11/databases/{p}"),
            200,
            fixture("database-info.json"),
        ),
        (
            "GET",
            format!("/client/v11/databases/{p}/wait_status"),
            200,
            fixture("wait-status-available.json"),
        ),
        (
            "GET",
            format!("/client/v11/databases/{second}"),
            200,
            fixture("database-info.json"),
        ),
        (
            "GET",
            format!("/client/v11/databases/{second}/wait_status"),
            200,
            fixture("wait-status-available.json"),
        ),
        (
            "GET",
            "/apps/no-such-app".into(),
            404,
            serde_json::json!({ "id": "not_found", "message": "Couldn't find that app." }),
        ),
        (
            "POST",
            format!("/client/v11/databases/{p}/backups"),
            201,
            fixture("transfer-started.json"),
        ),
        (
            "GET",
            format!("/client/v11/apps/tmi-server/transfers/{transfer}"),
            200,
            fixture("transfer-finished.json"),
        ),
        (
            "GET",
            "/client/v11/apps/tmi-server/transfers".into(),
            200,
            fixture("transfers.json"),
        ),
    ];
    for (m, p, status, body) in routes {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(server)
            .await;
    }
}
