//! The `herokuops-sandbox` binary as a user starts it, and the throwaway clusters it runs on.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use herokuops::pg::Target;
use herokuops_sandbox::{ClusterOptions, TempCluster};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

const TOKEN: &str = "sandbox-binary-test-token-9e2a";
const APP: &str = "tmi-server";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sandbox")
}

/// A plain HTTP client of the sandbox with its token.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(base: String) -> Client {
        Client {
            http: reqwest::Client::new(),
            base,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("Accept", "application/vnd.heroku+json; version=3");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn config_var(&self, name: &str) -> Option<String> {
        let (status, vars) = self.get(&format!("/apps/{APP}/config-vars")).await;
        assert_eq!(status, 200);
        vars[name].as_str().map(str::to_string)
    }
}

async fn public_table_count(url: &str) -> i64 {
    let db = Target::parse(url).unwrap().connect().await.unwrap();
    let rows = db
        .query(
            "count tables",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap();
    rows[0].get(0)
}

/// Reads the binary's stdout until its three ready lines are there.
async fn ready_lines(child: &mut tokio::process::Child) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut ready = Vec::new();
    while ready.len() < 3 {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("ready within a minute")
            .unwrap()
            .expect("the ready lines");
        ready.push(line);
    }
    ready
}

fn terminate(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_prints_ready_lines_and_keeps_secrets_out_of_its_log() {
    let cluster = tokio::task::spawn_blocking(TempCluster::start)
        .await
        .unwrap()
        .expect("a throwaway PostgreSQL cluster (install postgresql)");
    let pg_url = cluster.admin_url();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herokuops-sandbox"))
        .args([
            "--pg-url",
            &pg_url,
            "--token",
            TOKEN,
            "--provision-delay",
            "0s",
        ])
        .arg("--fixtures")
        .arg(fixtures())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ready = ready_lines(&mut child).await;
    assert!(
        ready[0].starts_with("export HEROKU_HOST=http://127.0.0.1:"),
        "{ready:?}"
    );
    assert_eq!(ready[1], "export HEROKU_DATA_HOST=127.0.0.2");
    assert_eq!(ready[2], format!("export HEROKU_API_KEY={TOKEN}"));
    let base = ready[0]
        .trim_start_matches("export HEROKU_HOST=")
        .to_string();
    let client = Client::new(base);
    let (status, account) = client.get("/account").await;
    assert_eq!((status, account["email"].is_string()), (200, true));
    let url = client.config_var("DATABASE_URL").await.unwrap();
    let password = url::Url::parse(&url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    let (_, atts) = client.get(&format!("/apps/{APP}/addon-attachments")).await;
    let addon_id = atts[0]["addon"]["id"].as_str().unwrap().to_string();
    client
        .post(
            &format!("/client/v11/databases/{addon_id}/backups"),
            json!(null),
        )
        .await;
    client
        .get(&format!("/client/v11/apps/{APP}/transfers/1"))
        .await;
    let (_, public) = client
        .post(
            &format!("/client/v11/apps/{APP}/transfers/1/actions/public-url"),
            json!(null),
        )
        .await;
    let public_url = public["url"].as_str().unwrap().to_string();
    let secret = public_url.split('/').rev().nth(1).unwrap().to_string();
    reqwest::get(&public_url).await.unwrap();

    terminate(&child);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "a clean stop");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("GET    /account"),
        "requests are logged: {log}"
    );
    for (what, secret) in [
        ("token", TOKEN),
        ("password", password.as_str()),
        ("URL secret", secret.as_str()),
    ] {
        assert!(!log.contains(secret), "the log shows the {what}");
    }
    assert!(
        Target::parse(&url).unwrap().connect().await.is_err(),
        "its databases are dropped on the way out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_runs_its_own_cluster_and_stops_it() {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herokuops-sandbox"))
        .args(["--token", TOKEN, "--quiet"])
        .arg("--fixtures")
        .arg(fixtures())
        .env_remove("HEROKUOPS_SANDBOX_PG_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ready = ready_lines(&mut child).await;
    let took = started.elapsed();
    let base = ready[0]
        .trim_start_matches("export HEROKU_HOST=")
        .to_string();
    let client = Client::new(base);
    let url = client.config_var("DATABASE_URL").await.unwrap();
    assert_eq!(public_table_count(&url).await, 25, "ready in {took:?}");
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert!(
        Target::parse(&url).unwrap().connect().await.is_err(),
        "the cluster is stopped"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn temp_clusters_start_from_initdb_or_the_template_and_clean_up() {
    let (fresh, copied) = tokio::task::spawn_blocking(|| {
        let fresh = TempCluster::start_with(&ClusterOptions {
            no_template: true,
            ..Default::default()
        })
        .expect("a cluster from initdb");
        let copied = TempCluster::start().expect("a cluster from the template");
        (fresh, copied)
    })
    .await
    .unwrap();
    assert_ne!(fresh.port(), copied.port());
    let mut urls = Vec::new();
    for cluster in [&fresh, &copied] {
        let db = Target::parse(&cluster.admin_url())
            .unwrap()
            .connect()
            .await
            .expect("the superuser URL works");
        let rows = db
            .query("version", "SELECT current_setting('fsync')", &[])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<_, String>(0), "off", "throwaway settings");
        urls.push(cluster.admin_url());
    }
    tokio::task::spawn_blocking(move || {
        drop(fresh);
        drop(copied);
    })
    .await
    .unwrap();
    for url in urls {
        assert!(
            Target::parse(&url).unwrap().connect().await.is_err(),
            "stopped on drop"
        );
    }
}
