//! Sandboxes for integration tests: one PostgreSQL server per test process shared by every
//! sandbox, a plain HTTP client of the sandbox (control API included), and the herokuops binary
//! run against a sandbox with a clean environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use herokuops_sandbox::{PostgresSource, Sandbox, SandboxOptions, TempCluster};
use serde_json::Value;

pub const TOKEN: &str = "sandbox-test-token-4c1d";
pub const APP: &str = "tmi-server";

pub struct SharedPg {
    pub url: String,
    pub bin_dir: Option<PathBuf>,
    _cluster: Option<TempCluster>,
}

/// The PostgreSQL server all sandboxes of this process create their databases on.
pub fn shared_pg() -> &'static SharedPg {
    static PG: OnceLock<SharedPg> = OnceLock::new();
    PG.get_or_init(|| match std::env::var("HEROKUOPS_TEST_PG") {
        Ok(url) if !url.is_empty() => SharedPg {
            url,
            bin_dir: None,
            _cluster: None,
        },
        _ => {
            let cluster = TempCluster::start().unwrap_or_else(|e| {
                panic!(
                    "{e}; install PostgreSQL (apt-get install postgresql) or set HEROKUOPS_TEST_PG"
                )
            });
            SharedPg {
                url: cluster.admin_url(),
                bin_dir: Some(cluster.bin_dir().to_path_buf()),
                _cluster: Some(cluster),
            }
        }
    })
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sandbox")
}

pub async fn sandbox_with(configure: impl FnOnce(&mut SandboxOptions)) -> Sandbox {
    let pg = tokio::task::spawn_blocking(|| {
        let pg = shared_pg();
        (pg.url.clone(), pg.bin_dir.clone())
    })
    .await
    .unwrap();
    let mut options = SandboxOptions::new(PostgresSource::Url {
        url: pg.0,
        bin_dir: pg.1,
    });
    options.fixtures = fixtures();
    options.token = TOKEN.to_string();
    options.provision_delay = Duration::ZERO;
    configure(&mut options);
    Sandbox::start(options).await.expect("the sandbox starts")
}

pub async fn sandbox() -> Sandbox {
    sandbox_with(|_| {}).await
}

/// A plain HTTP client of the sandbox, with or without the right token.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Client {
    pub fn new(sb: &Sandbox) -> Client {
        Client::with_token(sb, TOKEN)
    }

    pub fn with_token(sb: &Sandbox, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: sb.base_url(),
            token: token.to_string(),
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Accept", "application/vnd.heroku+json; version=3")
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> (u16, Value) {
        let response = builder.send().await.expect("the sandbox answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.request(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    pub async fn config_var(&self, name: &str) -> Option<String> {
        let (status, vars) = self.get(&format!("/apps/{APP}/config-vars")).await;
        assert_eq!(status, 200);
        vars[name].as_str().map(str::to_string)
    }

    pub async fn requests(&self) -> Vec<Value> {
        let (status, list) = self.get("/__sandbox/requests").await;
        assert_eq!(status, 200);
        list.as_array().cloned().unwrap_or_default()
    }
}

/// Runs the herokuops binary against the sandbox with a clean environment.
pub async fn herokuops(sb: &Sandbox, args: &[&str]) -> Output {
    herokuops_with_token(sb, TOKEN, args).await
}

pub async fn herokuops_with_token(sb: &Sandbox, token: &str, args: &[&str]) -> Output {
    herokuops_with_env(sb, token, &[], args).await
}

/// Runs herokuops with extra environment variables on top of the clean one (its working
/// directory is a fresh temporary HOME).
pub async fn herokuops_with_env(
    sb: &Sandbox,
    token: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    super::binary::herokuops(args)
        .heroku(&sb.base_url(), token)
        .env("CI", "1")
        .envs(env)
        .output()
        .await
}

pub use super::binary::show;

/// Every table of schema public with its row count; `None` when the schema is missing.
pub async fn tables_and_rows(url: &str) -> Option<std::collections::BTreeMap<String, i64>> {
    let db = herokuops::pg::Target::parse(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let schema = db
        .query(
            "schema public",
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'",
            &[],
        )
        .await
        .unwrap();
    if schema[0].get::<_, i64>(0) == 0 {
        return None;
    }
    let tables = db
        .query(
            "listing tables",
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for row in tables {
        let table: String = row.get(0);
        let rows = db
            .query(
                "counting rows",
                &format!("SELECT count(*) FROM public.\"{table}\""),
                &[],
            )
            .await
            .unwrap();
        counts.insert(table, rows[0].get::<_, i64>(0));
    }
    Some(counts)
}
