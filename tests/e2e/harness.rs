//! One sandbox, one state directory and one token per test, the herokuops binary run (or
//! spawned, to be signalled) against them, and the checks every test shares: the app's state,
//! the journals, and that no secret ever shows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herokuops::pg::Target;
use herokuops_sandbox::Sandbox;
use serde_json::{Value, json};

use crate::support::binary::{Herokuops, herokuops};
pub use crate::support::sandbox::tables_and_rows;
use crate::support::sandbox::{APP, Client, sandbox_with};

/// Rows the tests put in before a destructive run, to tell the old schema from the new one.
pub const SEED_SQL: &str = "\
    INSERT INTO users (provider, provider_user_id, email, name) \
      SELECT 'tmi', 'u' || i, 'user' || i || '@example.test', 'User ' || i \
      FROM generate_series(1, 40) i; \
    INSERT INTO groups (provider, group_name) \
      SELECT 'tmi', 'group-' || i FROM generate_series(1, 10) i;";

pub const SEEDED: [(&str, i64); 2] = [("groups", 10), ("users", 40)];

pub fn expected_file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/schema/tmi/expected.toml")
        .display()
        .to_string()
}

/// What one herokuops process did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.show()))
    }
}

pub struct Options {
    pub provision_delay: Duration,
    pub token: String,
    /// The sandbox's app fixtures, when not the project's own.
    pub fixtures: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            provision_delay: Duration::from_millis(300),
            token: format!("e2e-token-{:016x}", rand::random::<u64>()),
            fixtures: None,
        }
    }
}

/// A sandbox with its own state directory; every output and journal it sees is checked for
/// the token and the databases' passwords.
pub struct E2e {
    pub sb: Sandbox,
    pub client: Client,
    dir: tempfile::TempDir,
    secrets: Mutex<BTreeSet<String>>,
}

impl E2e {
    pub async fn start() -> E2e {
        E2e::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> E2e {
        let token = options.token.clone();
        let sb = sandbox_with(|o| {
            o.token = options.token;
            o.provision_delay = options.provision_delay;
            if let Some(fixtures) = options.fixtures {
                o.fixtures = fixtures;
            }
        })
        .await;
        let client = Client::with_token(&sb, &token);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let e2e = E2e {
            sb,
            client,
            dir,
            secrets: Mutex::new(BTreeSet::from([token])),
        };
        e2e.learn_secrets().await;
        e2e
    }

    pub fn token(&self) -> String {
        self.client.token.clone()
    }

    /// The working directory (and HOME) of every herokuops run.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.dir.path().join("state/herokuops/runs")
    }

    pub fn command(&self, args: &[&str]) -> Herokuops {
        herokuops(args)
            .home(&self.home())
            .heroku(&self.sb.base_url(), &self.token())
            .env("CI", "1")
            .env("HEROKU_DATA_HOST", self.sb.data_host())
            .env("HEROKUOPS_KEYRING_FILE", self.dir.path().join("token"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
    }

    /// Runs herokuops to the end; its output is checked for secrets.
    pub async fn run(&self, args: &[&str]) -> Run {
        let child = self.command(args).spawn();
        self.finish(child).await
    }

    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        self.command(args).spawn()
    }

    /// Waits for a spawned herokuops; its output is checked for secrets.
    pub async fn finish(&self, child: tokio::process::Child) -> Run {
        let output = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
            .await
            .expect("herokuops finishes within 90 s")
            .expect("herokuops runs");
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.learn_secrets().await;
        self.assert_no_secret("stdout", &run.stdout);
        self.assert_no_secret("stderr", &run.stderr);
        run
    }

    /// Every password of every database URL the app has (promotions add new ones).
    async fn learn_secrets(&self) {
        let (status, vars) = self.client.get(&format!("/apps/{APP}/config-vars")).await;
        // An injected fault may be answering for now; what is known is kept.
        if status != 200 {
            return;
        }
        let mut secrets = self.secrets.lock().unwrap();
        for value in vars.as_object().unwrap().values() {
            let Some(url) = value.as_str() else { continue };
            if let Ok(parsed) = url::Url::parse(url)
                && let Some(password) = parsed.password()
            {
                secrets.insert(password.to_string());
            }
        }
    }

    /// Counts `secret` among the secrets no output may show (a local database's password).
    pub fn also_secret(&self, secret: &str) {
        self.secrets.lock().unwrap().insert(secret.to_string());
    }

    pub fn secrets(&self) -> Vec<String> {
        self.secrets.lock().unwrap().iter().cloned().collect()
    }

    /// How many of the known secrets `text` contains.
    pub fn leaks(&self, text: &str) -> usize {
        self.secrets
            .lock()
            .unwrap()
            .iter()
            .filter(|s| text.contains(s.as_str()))
            .count()
    }

    pub fn assert_no_secret(&self, what: &str, text: &str) {
        // The count only: the message must not carry the secret either.
        assert_eq!(self.leaks(text), 0, "a secret appears in {what}");
    }

    /// Checks every journal written so far.
    pub fn assert_journals_clean(&self) -> usize {
        let mut n = 0;
        for entry in std::fs::read_dir(self.runs_dir()).into_iter().flatten() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            self.assert_no_secret(&path.display().to_string(), &text);
            n += 1;
        }
        n
    }

    pub fn journal(&self, run_id: &str) -> Value {
        let path = self.runs_dir().join(format!("{run_id}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("journal {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// The newest journal (the run ids sort by time).
    pub fn latest_journal(&self) -> Option<Value> {
        let mut names: Vec<String> = std::fs::read_dir(self.runs_dir())
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        let text = std::fs::read_to_string(self.runs_dir().join(names.pop()?)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub async fn fault(&self, fault: Value) {
        let (status, body) = self.client.post("/__sandbox/faults", fault).await;
        assert_eq!(status, 201, "{body}");
    }

    pub async fn clear_faults(&self) {
        let (status, _) = self.client.delete("/__sandbox/faults").await;
        assert_eq!(status, 200);
    }

    pub async fn requests(&self) -> Vec<Value> {
        self.client.requests().await
    }

    /// Requests that change something. The resolve actions are POSTs that only read (Heroku
    /// made them POSTs for their request bodies); the control API is the test's own.
    pub async fn mutating_requests(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .filter(|r| r["method"] != "GET")
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .filter(|r| !r.ends_with("/resolve") && !r.contains("/__sandbox/"))
            .collect()
    }

    pub async fn config_var(&self, name: &str) -> Option<String> {
        self.client.config_var(name).await
    }

    pub async fn database_url(&self) -> String {
        self.config_var("DATABASE_URL")
            .await
            .expect("the app has a DATABASE_URL")
    }

    pub async fn maintenance(&self) -> bool {
        let (status, app) = self.client.get(&format!("/apps/{APP}")).await;
        assert_eq!(status, 200);
        app["maintenance"].as_bool().unwrap()
    }

    pub async fn dyno_states(&self) -> Vec<String> {
        let (status, dynos) = self.client.get(&format!("/apps/{APP}/dynos")).await;
        assert_eq!(status, 200);
        dynos
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["type"] != "run")
            .map(|d| d["state"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub async fn dyno_names(&self) -> Vec<String> {
        let (_, dynos) = self.client.get(&format!("/apps/{APP}/dynos")).await;
        dynos
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|d| d["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the dynos are up, or come up from the boot they are in (a run may end while
    /// they start); a crashed one never will.
    pub async fn dynos_come_up(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let states = self.dyno_states().await;
            if !states.is_empty() && states.iter().all(|s| s == "up") {
                return true;
            }
            if states.iter().any(|s| s == "crashed") || Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the fixture's boot migration has made the schema (dynos up).
    pub async fn until_dynos_up(&self) {
        assert!(self.dynos_come_up().await, "the dynos never came up");
    }

    pub async fn seed(&self) {
        self.until_dynos_up().await;
        let url = self.database_url().await;
        let db = Target::parse(&url).unwrap().connect().await.unwrap();
        db.batch("seeding", SEED_SQL).await.unwrap();
    }

    /// `herokuops verify` of the app against the expected file.
    pub async fn verify_passes(&self) -> Result<(), String> {
        let expect = expected_file();
        let run = self.run(&["verify", APP, "--expect", &expect]).await;
        if run.code == Some(0) {
            Ok(())
        } else {
            Err(run.show())
        }
    }

    /// Waits until a spawned run's journal shows `step` running.
    pub async fn until_step_running(&self, step: &str, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(j) = self.latest_journal()
                && j["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["step"] == step && s["status"] == "running")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{step} never ran; journal: {:?}",
                    self.latest_journal()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a request matching `method` and `path` (a sandbox glob) is in flight or done.
    pub async fn until_request(&self, method: &str, path_glob: &str, within: Duration) -> bool {
        self.until_nth_request(method, path_glob, 1, within).await
    }

    /// Waits until the sandbox has seen `n` matching requests (one in flight counts).
    pub async fn until_nth_request(
        &self,
        method: &str,
        path_glob: &str,
        n: usize,
        within: Duration,
    ) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let seen = self
                .requests()
                .await
                .iter()
                .filter(|r| r["method"] == method && glob(path_glob, r["path"].as_str().unwrap()))
                .count();
            if seen >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    pub async fn shutdown(self) {
        let _ = self.sb.shutdown().await;
    }
}

/// The steps of a run's JSON report, in order.
pub fn step_names(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect()
}

/// The seeded rows are all there.
pub fn has_seed(tables: &BTreeMap<String, i64>) -> bool {
    tables.len() == 25
        && SEEDED
            .iter()
            .all(|(t, n)| tables.get(*t).copied() == Some(*n))
}

/// 25 tables, every one empty.
pub fn fresh_and_empty(tables: &BTreeMap<String, i64>) -> bool {
    tables.len() == 25 && tables.values().all(|n| *n == 0)
}

/// The sandbox's glob: `*` within one path segment.
pub fn glob(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', rest @ ..] => {
                let limit = s.iter().position(|c| *c == b'/').unwrap_or(s.len());
                (0..=limit).any(|i| go(rest, &s[i..]))
            }
            [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// Sends a signal (`INT`, `TERM`, `KILL`) to a running child.
pub fn signal(child: &tokio::process::Child, name: &str) {
    use rustix::process::Signal;
    let which = match name {
        "INT" => Signal::INT,
        "TERM" => Signal::TERM,
        "KILL" => Signal::KILL,
        other => panic!("no signal {other} in the tests"),
    };
    assert!(
        crate::support::binary::signal(child, which),
        "kill -{name}: the child had exited already"
    );
}

/// A fault body for the control API.
pub fn fault(method: &str, path: &str, extra: Value) -> Value {
    let mut f = json!({ "method": method, "path": path });
    for (k, v) in extra.as_object().unwrap() {
        f[k] = v.clone();
    }
    f
}

/// A database on the sandboxes' own PostgreSQL server, reached as its superuser: a "local"
/// database for pull and push. It need not exist.
pub fn local_url(e2e: &E2e, database: &str) -> String {
    let admin = &crate::support::sandbox::shared_pg().url;
    let mut url = url::Url::parse(admin).unwrap();
    if let Some(password) = url.password() {
        e2e.also_secret(password);
    }
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// A fresh name for a local database.
pub fn local_name(what: &str) -> String {
    format!("{what}_{:08x}", rand::random::<u32>())
}

/// A connection to any database URL.
pub async fn connect_url(url: &str) -> herokuops::pg::Db {
    Target::parse(url).unwrap().connect().await.unwrap()
}
