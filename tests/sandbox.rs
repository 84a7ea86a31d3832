//! herokuops-sandbox end to end: herokuops' own commands against a sandbox whose databases are
//! real, the control API's faults as a client sees them, the token check, and the binary.
//!
//! Each test starts its own sandbox on its own port (see `support::sandbox`).

use std::collections::BTreeMap;
use std::process::Output;
use std::time::{Duration, Instant};

use herokuops::pg::Target;
use serde_json::{Value, json};

use crate::support::sandbox::*;

fn json_out(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(output)))
}

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every table of schema public with its exact row count (none when the schema is missing).
async fn tables_and_rows(url: &str) -> BTreeMap<String, i64> {
    crate::support::sandbox::tables_and_rows(url)
        .await
        .unwrap_or_default()
}

async fn dyno_states(client: &Client) -> Vec<String> {
    let (status, dynos) = client.get(&format!("/apps/{APP}/dynos")).await;
    assert_eq!(status, 200);
    dynos
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn all_up(client: &Client) -> bool {
    let states = dyno_states(client).await;
    !states.is_empty() && states.iter().all(|s| s == "up")
}

#[tokio::test(flavor = "multi_thread")]
async fn maintenance_on_is_recorded_and_seen_by_status() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let out = herokuops(&sb, &["maintenance", "on", APP]).await;
    assert!(out.status.success(), "{}", show(&out));

    let (status, app) = client.get(&format!("/apps/{APP}")).await;
    assert_eq!((status, app["maintenance"].as_bool()), (200, Some(true)));
    let out = herokuops(&sb, &["--json", "maintenance", "status", APP]).await;
    assert_eq!(json_out(&out)["maintenance"], json!(true), "{}", show(&out));

    let patch = client
        .requests()
        .await
        .into_iter()
        .find(|r| r["method"] == "PATCH")
        .expect("the PATCH was recorded");
    assert_eq!(patch["path"], format!("/apps/{APP}"));
    assert_eq!(patch["body"], json!({ "maintenance": true }));
    assert_eq!(patch["status"], 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_has_a_request_id_and_a_falling_rate_limit() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let mut ids = Vec::new();
    let mut remaining = Vec::new();
    for path in ["/account", "/apps/tmi-server", "/apps/no-such-app"] {
        let response = client
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        let header = |n: &str| response.headers()[n].to_str().unwrap().to_string();
        ids.push(header("request-id"));
        remaining.push(header("ratelimit-remaining").parse::<u64>().unwrap());
        if path.ends_with("no-such-app") {
            assert_eq!(response.status().as_u16(), 404);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["id"], "not_found");
            assert!(body["message"].as_str().unwrap().contains("no-such-app"));
        }
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "a fresh Request-Id each time");
    assert!(
        remaining.windows(2).all(|w| w[1] < w[0]),
        "RateLimit-Remaining goes down: {remaining:?}"
    );

    // An exhausted budget is Heroku's 429.
    let (status, _) = client
        .post("/__sandbox/rate-limit", json!({ "remaining": 0 }))
        .await;
    assert_eq!(status, 200);
    let (status, body) = client.get("/account").await;
    assert_eq!((status, body["id"].as_str()), (429, Some("rate_limit")));
}

#[tokio::test(flavor = "multi_thread")]
async fn dyno_restart_cycles_states_and_migrates_the_current_database() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let url = client.config_var("DATABASE_URL").await.unwrap();
    assert_eq!(tables_and_rows(&url).await.len(), 25, "booted once already");

    // What a reset does: the schema is gone; the app's next boot creates it again.
    let db = Target::parse(&url).unwrap().connect().await.unwrap();
    db.batch(
        "dropping",
        "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
    )
    .await
    .unwrap();
    drop(db);
    assert!(tables_and_rows(&url).await.is_empty());

    let out = herokuops(&sb, &["dynos", "restart", APP]).await;
    assert!(out.status.success(), "{}", show(&out));
    let (status, _) = client.delete(&format!("/apps/{APP}/dynos")).await;
    assert_eq!(status, 202);
    let states = dyno_states(&client).await;
    assert_eq!(states, ["starting", "starting"], "web and worker restart");
    eventually("dynos up", Duration::from_secs(20), || all_up(&client)).await;
    assert_eq!(tables_and_rows(&url).await.len(), 25);
    let out = herokuops(&sb, &["--json", "dynos", "list", APP]).await;
    let names: Vec<String> = json_out(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["name"].as_str().unwrap(),
                d["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["web.1:up", "worker.1:up"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn addon_create_wait_and_promote_move_database_url() {
    let sb = sandbox_with(|o| o.provision_delay = Duration::from_millis(1500)).await;
    let client = Client::new(&sb);
    let old_url = client.config_var("DATABASE_URL").await.unwrap();

    let out = herokuops(
        &sb,
        &[
            "--json",
            "addons",
            "create",
            APP,
            "heroku-postgresql:essential-0",
            "--wait",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let addon = json_out(&out);
    assert_eq!(addon["state"], "provisioned");
    let name = addon["name"].as_str().unwrap().to_string();
    let var = addon["config_vars"][0].as_str().unwrap().to_string();
    assert!(
        var.starts_with("HEROKU_POSTGRESQL_") && var.ends_with("_URL"),
        "{var}"
    );
    let new_url = client.config_var(&var).await.unwrap();
    assert_ne!(new_url, old_url, "a database of its own");
    Target::parse(&new_url)
        .unwrap()
        .connect()
        .await
        .expect("the new database is real and accepts its own credentials");

    let out = herokuops(&sb, &["pg", "wait", APP, &name, "--interval", "1s"]).await;
    assert!(out.status.success(), "{}", show(&out));
    let out = herokuops(&sb, &["pg", "promote", APP, &name, "--confirm", APP]).await;
    assert!(out.status.success(), "{}", show(&out));

    assert_eq!(
        client.config_var("DATABASE_URL").await.as_deref(),
        Some(new_url.as_str())
    );
    assert_eq!(
        client
            .config_var("HEROKU_POSTGRESQL_COBALT_URL")
            .await
            .as_deref(),
        Some(old_url.as_str()),
        "the old database keeps its alias"
    );
    let (_, releases) = client.get(&format!("/apps/{APP}/releases")).await;
    let descriptions: Vec<&str> = releases
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["description"].as_str())
        .collect();
    assert!(descriptions.contains(&format!("Attach DATABASE (@ref:{name})").as_str()));
    assert!(
        descriptions
            .iter()
            .any(|d| d.starts_with("Detach DATABASE"))
    );

    // The promotion restarted the app, whose boot migration ran against the new DATABASE_URL.
    eventually("dynos up", Duration::from_secs(20), || all_up(&client)).await;
    assert_eq!(tables_and_rows(&new_url).await.len(), 25);

    // Promoting it again changes nothing.
    let out = herokuops(
        &sb,
        &["--json", "pg", "promote", APP, &name, "--confirm", APP],
    )
    .await;
    assert_eq!(
        json_out(&out)["outcome"],
        "already_promoted",
        "{}",
        show(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_captured_downloaded_and_restored_into_a_second_addon() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let url = client.config_var("DATABASE_URL").await.unwrap();
    let db = Target::parse(&url).unwrap().connect().await.unwrap();
    db.batch(
        "seeding",
        "CREATE TABLE sandbox_widgets (id serial PRIMARY KEY, label text NOT NULL);
         INSERT INTO sandbox_widgets (label) VALUES ('a'), ('b'), ('c');",
    )
    .await
    .unwrap();
    drop(db);
    let source = tables_and_rows(&url).await;
    assert_eq!(source.get("sandbox_widgets"), Some(&3));
    assert_eq!(source.len(), 26);

    let out = herokuops(&sb, &["--json", "backup", "capture", APP]).await;
    assert!(out.status.success(), "{}", show(&out));
    let capture = json_out(&out);
    assert_eq!(capture["backup"], "b001");
    assert!(capture["transfer"]["processed_bytes"].as_u64().unwrap() > 1000);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b001.dump");
    let out = herokuops(
        &sb,
        &[
            "backup",
            "download",
            APP,
            "b001",
            "-o",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..5], b"PGDMP", "a pg_dump custom-format archive");
    assert_eq!(
        bytes.len() as u64,
        capture["transfer"]["processed_bytes"].as_u64().unwrap()
    );
    let pg_restore = herokuops_sandbox::cluster::find_client_tool("pg_restore", None).unwrap();
    let listing = std::process::Command::new(pg_restore)
        .arg("--list")
        .arg(&file)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("TABLE public sandbox_widgets"),
        "{listing}"
    );
    assert!(listing.contains("TABLE public threat_models"), "{listing}");

    let out = herokuops(
        &sb,
        &[
            "--json",
            "addons",
            "create",
            APP,
            "heroku-postgresql:essential-0",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let target_var = json_out(&out)["config_vars"][0]
        .as_str()
        .unwrap()
        .to_string();
    let target_url = client.config_var(&target_var).await.unwrap();
    assert!(
        tables_and_rows(&target_url).await.is_empty(),
        "a new, empty database"
    );

    let target = target_var.trim_end_matches("_URL").to_string();
    let out = herokuops(
        &sb,
        &[
            "backup",
            "restore",
            APP,
            "b001",
            "--database",
            &target,
            "--confirm",
            APP,
        ],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(tables_and_rows(&target_url).await, source);

    // The restore and the safety backup of the target are in the list, with real sizes.
    let out = herokuops(&sb, &["--json", "backup", "list", APP]).await;
    let mut names: Vec<String> = json_out(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}:{}", t["num"], t["to_type"].as_str().unwrap()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["1:gof3r", "2:gof3r", "3:pg_restore"],
        "{}",
        show(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_off_dynos_run_locally_with_config_vars_and_exit_status() {
    let sb = sandbox().await;
    let out = herokuops(&sb, &["run", APP, "--", "sh", "-c", "exit 3"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));

    let out = herokuops(
        &sb,
        &[
            "run",
            APP,
            "--",
            "sh",
            "-c",
            "echo \"scheme=${DATABASE_URL%%:*} env=$GO_ENV dyno=${DYNO%%.*}\"",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "scheme=postgres env=production dyno=run"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_fault_is_answered_as_asked_and_retries_get_through() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let (status, fault) = client
        .post(
            "/__sandbox/faults",
            json!({ "method": "GET", "path": "/apps/*", "status": 503, "times": 2 }),
        )
        .await;
    assert_eq!(status, 201, "{fault}");
    for _ in 0..2 {
        let (status, body) = client.get(&format!("/apps/{APP}")).await;
        assert_eq!(status, 503);
        assert_eq!(body["id"], "service_unavailable");
    }
    let (status, _) = client.get(&format!("/apps/{APP}")).await;
    assert_eq!(status, 200, "only twice");

    // The example: herokuops retries the restart through two 503s.
    let (status, _) = client
        .post(
            "/__sandbox/faults",
            json!({ "method": "DELETE", "path": "/apps/*/dynos", "status": 503, "times": 2 }),
        )
        .await;
    assert_eq!(status, 201);
    let out = herokuops(&sb, &["dynos", "restart", APP]).await;
    assert!(out.status.success(), "{}", show(&out));
    let deletes: Vec<Value> = client
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "DELETE")
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(deletes, [json!(503), json!(503), json!(202)]);

    // And a GET of herokuops through the same kind of fault.
    client
        .post(
            "/__sandbox/faults",
            json!({ "method": "GET", "path": "/apps/tmi-server", "status": 500, "times": 1 }),
        )
        .await;
    let out = herokuops(&sb, &["--json", "maintenance", "status", APP]).await;
    assert_eq!(
        json_out(&out)["maintenance"],
        json!(false),
        "{}",
        show(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delay_fault_holds_the_answer() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    client
        .post(
            "/__sandbox/faults",
            json!({ "path": "/account", "delay_ms": 800, "times": 1 }),
        )
        .await;
    let started = Instant::now();
    let (status, _) = client.get("/account").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(800));
    let started = Instant::now();
    client.get("/account").await;
    assert!(started.elapsed() < Duration::from_millis(800), "once only");
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_fault_cuts_the_connection() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    client
        .post(
            "/__sandbox/faults",
            json!({ "method": "GET", "path": "/apps/*/config-vars", "drop": true }),
        )
        .await;
    for _ in 0..2 {
        let result = client
            .request(reqwest::Method::GET, &format!("/apps/{APP}/config-vars"))
            .send()
            .await;
        let err = result.expect_err("no answer at all");
        assert!(err.status().is_none(), "{err}");
    }
    let recorded: Vec<Value> = client
        .requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == format!("/apps/{APP}/config-vars"))
        .collect();
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded
            .iter()
            .all(|r| r["dropped"] == true && r["status"].is_null())
    );

    let (status, body) = client.delete("/__sandbox/faults").await;
    assert_eq!((status, body["removed"].as_u64()), (200, Some(1)));
    assert!(client.config_var("DATABASE_URL").await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_runs_without_the_token() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let command = format!("touch {}", marker.display());
    let intruder = Client::with_token(&sb, "not-the-token");

    let (status, body) = intruder
        .post(&format!("/apps/{APP}/dynos"), json!({ "command": command }))
        .await;
    assert_eq!((status, body["id"].as_str()), (401, Some("unauthorized")));
    let (status, _) = intruder
        .send(
            intruder
                .request(reqwest::Method::PATCH, &format!("/apps/{APP}"))
                .json(&json!({ "maintenance": true })),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = intruder.post("/__sandbox/reset", json!({})).await;
    assert_eq!(status, 401);
    let anonymous = reqwest::Client::new()
        .get(format!("{}/apps/{APP}", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let out = herokuops_with_token(&sb, "not-the-token", &["maintenance", "on", APP]).await;
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));

    // A refused request makes no dyno: none is there to run the command, now or later.
    let client = Client::new(&sb);
    let (_, dynos) = client.get(&format!("/apps/{APP}/dynos")).await;
    assert!(
        dynos.as_array().unwrap().iter().all(|d| d["type"] != "run"),
        "a one-off dyno was made: {dynos}"
    );
    assert!(!marker.exists(), "the command did not run");
    let (_, app) = client.get(&format!("/apps/{APP}")).await;
    assert_eq!(app["maintenance"], false);

    // The same request with the token does run.
    let (status, dyno) = client
        .post(
            &format!("/apps/{APP}/dynos"),
            json!({ "command": command, "attach": false }),
        )
        .await;
    assert_eq!(status, 201, "{dyno}");
    eventually("the command to run", Duration::from_secs(10), || async {
        marker.exists()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_only_and_the_data_api_on_the_second_address() {
    let sb = sandbox().await;
    assert!(sb.addresses().iter().all(|a| a.ip().is_loopback()));
    assert_eq!(
        sb.addresses()
            .iter()
            .map(|a| a.ip().to_string())
            .collect::<Vec<_>>(),
        ["127.0.0.1", "127.0.0.2"]
    );
    let client = Client::new(&sb);
    let (_, atts) = client.get(&format!("/apps/{APP}/addon-attachments")).await;
    let addon_id = atts[0]["addon"]["id"].as_str().unwrap().to_string();
    let data = Client {
        http: reqwest::Client::new(),
        base: sb.data_url(),
        token: TOKEN.into(),
    };
    let (status, wait) = data
        .get(&format!("/client/v11/databases/{addon_id}/wait_status"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(wait["waiting?"], false);
    let (status, info) = data.get(&format!("/client/v11/databases/{addon_id}")).await;
    assert_eq!(status, 200);
    let tables = info["info"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Tables")
        .unwrap();
    assert_eq!(tables["values"][0], "25/4000 (In compliance)");
    assert_eq!(
        info["resource_url"].as_str(),
        client.config_var("DATABASE_URL").await.as_deref()
    );
    let (status, _) = data
        .get("/client/v11/databases/no-such-db/wait_status")
        .await;
    assert_eq!(status, 404);
    let recorded = client.requests().await;
    assert!(recorded.iter().any(|r| r["listener"] == "data"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_page_lists_and_accept_variants_are_honoured() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let path = format!("/apps/{APP}/addon-attachments");
    let first = client
        .request(reqwest::Method::GET, &path)
        .header("Range", "id ..; max=1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 206);
    let next = first.headers()["next-range"].to_str().unwrap().to_string();
    assert!(next.starts_with("id ]"), "{next}");
    let page1: Value = first.json().await.unwrap();
    let second = client
        .request(reqwest::Method::GET, &path)
        .header("Range", &next)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 200);
    assert!(second.headers().get("next-range").is_none());
    let page2: Value = second.json().await.unwrap();
    let mut names: Vec<&str> = page1
        .as_array()
        .unwrap()
        .iter()
        .chain(page2.as_array().unwrap())
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["DATABASE", "HEROKU_POSTGRESQL_COBALT"]);

    // herokuops follows Next-Range by itself: a page size of 1 still lists both.
    let (_, releases) = client
        .send(
            client
                .request(reqwest::Method::GET, &format!("/apps/{APP}/releases"))
                .header("Range", "version ..; max=2, order=desc"),
        )
        .await;
    let versions: Vec<u64> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions.len(), 2);
    assert!(versions[0] > versions[1]);

    let sdk = client
        .http
        .get(format!("{}{path}", client.base))
        .bearer_auth(TOKEN)
        .header("Accept", "application/vnd.heroku+json; version=3.sdk")
        .header("Accept-Inclusion", "addon:plan,config_vars")
        .send()
        .await
        .unwrap();
    assert_eq!(sdk.status().as_u16(), 200);
    let included: Value = sdk.json().await.unwrap();
    assert_eq!(
        included[0]["addon"]["plan"]["name"],
        "heroku-postgresql:essential-0"
    );
    assert!(included[0]["config_vars"].is_array());
    assert!(
        page1[0]["addon"].get("plan").is_none(),
        "only when asked for"
    );
    let old = client
        .http
        .get(format!("{}{path}", client.base))
        .bearer_auth(TOKEN)
        .header("Accept", "application/vnd.heroku+json; version=2")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status().as_u16(), 406);

    // Identities as {"name": ...} objects or strings.
    let (status, att) = client
        .post(
            "/addon-attachments",
            json!({ "addon": atts_addon(&included), "app": APP, "name": "REPORTING" }),
        )
        .await;
    assert_eq!(status, 201, "{att}");
    assert_eq!(att["name"], "REPORTING");
    assert!(client.config_var("REPORTING_URL").await.is_some());
}

fn atts_addon(atts: &Value) -> Value {
    json!({ "name": atts[0]["addon"]["name"] })
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_brings_back_the_fixture_with_new_databases() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let old_url = client.config_var("DATABASE_URL").await.unwrap();
    herokuops(&sb, &["maintenance", "on", APP]).await;
    let out = herokuops(
        &sb,
        &["addons", "create", APP, "heroku-postgresql:essential-0"],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let (_, addons) = client.get(&format!("/apps/{APP}/addons")).await;
    assert_eq!(addons.as_array().unwrap().len(), 2);

    let (status, _) = client.post("/__sandbox/reset", json!({})).await;
    assert_eq!(status, 200);
    let (_, app) = client.get(&format!("/apps/{APP}")).await;
    assert_eq!(app["maintenance"], false);
    let (_, addons) = client.get(&format!("/apps/{APP}/addons")).await;
    assert_eq!(addons.as_array().unwrap().len(), 1);
    let new_url = client.config_var("DATABASE_URL").await.unwrap();
    assert_ne!(new_url, old_url);
    assert_eq!(tables_and_rows(&new_url).await.len(), 25);
    assert!(
        Target::parse(&old_url).unwrap().connect().await.is_err(),
        "the old database is gone"
    );
    assert_eq!(
        client.requests().await.len(),
        3,
        "only the requests since the reset"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn public_urls_serve_ranges_and_expire() {
    let sb = sandbox_with(|o| o.public_url_ttl = Duration::from_millis(1500)).await;
    let client = Client::new(&sb);
    let (_, atts) = client.get(&format!("/apps/{APP}/addon-attachments")).await;
    let addon_id = atts[0]["addon"]["id"].as_str().unwrap().to_string();
    let (status, transfer) = client
        .post(
            &format!("/client/v11/databases/{addon_id}/backups"),
            json!(null),
        )
        .await;
    assert_eq!(status, 201, "{transfer}");
    let uuid = transfer["uuid"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let finished = loop {
        let (_, t) = client
            .get(&format!(
                "/client/v11/apps/{APP}/transfers/{uuid}?verbose=true"
            ))
            .await;
        if !t["finished_at"].is_null() {
            break t;
        }
        assert!(Instant::now() < deadline, "the backup finishes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished["succeeded"], true);
    assert!(
        finished["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("pg_dump")),
        "{finished}"
    );
    let size = finished["processed_bytes"].as_u64().unwrap();

    let (status, public) = client
        .post(
            &format!("/client/v11/apps/{APP}/transfers/1/actions/public-url"),
            json!(null),
        )
        .await;
    assert_eq!(status, 200);
    let url = public["url"].as_str().unwrap().to_string();
    let plain = reqwest::Client::new();
    let whole = plain.get(&url).send().await.unwrap();
    assert_eq!(whole.status().as_u16(), 200);
    let body = whole.bytes().await.unwrap();
    assert_eq!((&body[..5], body.len() as u64), (&b"PGDMP"[..], size));
    let tail = plain
        .get(&url)
        .header("Range", "bytes=5-")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status().as_u16(), 206);
    assert_eq!(
        tail.headers()["content-range"].to_str().unwrap(),
        format!("bytes 5-{}/{size}", size - 1)
    );
    assert_eq!(tail.bytes().await.unwrap(), body.slice(5..));
    let storage = plain
        .get(finished["to_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        storage.status().as_u16(),
        403,
        "storage itself is not public"
    );
    // The URL lives 1.5 s (this sandbox's setting), then is refused.
    eventually("the public URL to expire", Duration::from_secs(10), || {
        let (plain, url) = (plain.clone(), url.clone());
        async move { plain.get(&url).send().await.unwrap().status().as_u16() == 403 }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_and_addon_destroy_through_herokuops() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let out = herokuops(
        &sb,
        &["backup", "schedule", APP, "--at", "02:00 Europe/Berlin"],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let (_, atts) = client.get(&format!("/apps/{APP}/addon-attachments")).await;
    let addon_id = atts[0]["addon"]["id"].as_str().unwrap().to_string();
    let (_, schedules) = client
        .get(&format!(
            "/client/v11/databases/{addon_id}/transfer-schedules"
        ))
        .await;
    assert_eq!(schedules[0]["name"], "DATABASE_URL");
    assert_eq!(
        (
            schedules[0]["hour"].as_u64(),
            schedules[0]["timezone"].as_str()
        ),
        (Some(2), Some("Europe/Berlin"))
    );
    let out = herokuops(&sb, &["backup", "unschedule", APP]).await;
    assert!(out.status.success(), "{}", show(&out));
    let (_, schedules) = client
        .get(&format!(
            "/client/v11/databases/{addon_id}/transfer-schedules"
        ))
        .await;
    assert_eq!(schedules, json!([]));

    let out = herokuops(
        &sb,
        &[
            "--json",
            "addons",
            "create",
            APP,
            "heroku-postgresql:essential-0",
        ],
    )
    .await;
    let created = json_out(&out);
    let name = created["name"].as_str().unwrap().to_string();
    let var = created["config_vars"][0].as_str().unwrap().to_string();
    let url = client.config_var(&var).await.unwrap();
    Target::parse(&url).unwrap().connect().await.unwrap();
    let out = herokuops(&sb, &["addons", "destroy", APP, &name, "--confirm", APP]).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(client.config_var(&var).await, None);
    assert!(
        Target::parse(&url).unwrap().connect().await.is_err(),
        "dropped"
    );
}
