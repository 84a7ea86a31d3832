//! The official Heroku CLI as the reference: the `herokuops` binary, run against a server
//! serving the fixture the official CLI was traced against, sends the same mutating requests
//! (POST, PUT, PATCH, DELETE: method, path and JSON body, in order) as the CLI did in
//! the traces recorded of it. The expected sequences are our transcriptions in
//! `fixtures/peer/`; one more test checks them against the recorded traces, which are not in
//! this repository: `HEROKU_CLI_TRACES=DIR` names their folder, and without it that check is
//! skipped loudly (`SKIPPED: ...` on stderr and a line in `$HEROKUOPS_SKIP_LOG`, which
//! `scripts/test` lists in its summary).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use wiremock::MockServer;

use crate::heroku_fixture::{self, Variant};
use crate::skip::skip;
use crate::support::TOKEN;

/// One mutating request: what is compared with the official CLI.
#[derive(Debug, Clone, PartialEq)]
struct Mutation {
    method: String,
    path: String,
    body: Option<Value>,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(body) = &self.body {
            write!(f, " {body}")?;
        }
        Ok(())
    }
}

fn is_mutating(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

fn listing(mutations: &[Mutation]) -> String {
    if mutations.is_empty() {
        return "    (none)".into();
    }
    mutations
        .iter()
        .map(|m| format!("    {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `fixtures/peer/<name>.txt`: header comments (`# trace: FILE`, `# official: COMMAND`), then
/// one `METHOD PATH [JSON body]` per line.
struct Expected {
    file: PathBuf,
    trace: String,
    official: String,
    requests: Vec<Mutation>,
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/peer")
}

fn load_expected(file: &Path) -> Expected {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (mut trace, mut official) = (None, None);
    let mut requests = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", file.display(), n + 1);
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(v) = comment.strip_prefix("trace:") {
                trace = Some(v.trim().to_string());
            } else if let Some(v) = comment.strip_prefix("official:") {
                official = Some(v.trim().to_string());
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            panic!("{}: expected METHOD PATH [BODY]", at());
        };
        assert!(is_mutating(method), "{}: {method} is not mutating", at());
        let body = parts
            .next()
            .map(|b| serde_json::from_str(b).unwrap_or_else(|e| panic!("{}: {e}", at())));
        requests.push(Mutation {
            method: method.into(),
            path: path.into(),
            body,
        });
    }
    Expected {
        file: file.to_path_buf(),
        trace: trace.unwrap_or_else(|| panic!("{}: no `# trace:` line", file.display())),
        official: official.unwrap_or_else(|| panic!("{}: no `# official:` line", file.display())),
        requests,
    }
}

/// Runs the real binary against `server`, as a CI job would.
async fn herokuops(server: &MockServer, args: &[&str]) -> Output {
    crate::binary::herokuops(args)
        .heroku(&server.uri(), TOKEN)
        .env("CI", "true")
        .limit(std::time::Duration::from_secs(60))
        .output()
        .await
}

/// The mutating requests a server received, in order.
async fn mutations(server: &MockServer) -> Vec<Mutation> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .filter(|r| is_mutating(r.method.as_str()))
        .map(|r| Mutation {
            method: r.method.to_string(),
            path: r.url.path().to_string(),
            body: (!r.body.is_empty()).then(|| {
                serde_json::from_slice(&r.body).unwrap_or_else(|e| {
                    panic!("{} {}: body is not JSON: {e}", r.method, r.url.path())
                })
            }),
        })
        .collect()
}

/// Runs `herokuops ARGS` and compares its mutating requests with `fixtures/peer/<name>.txt`.
async fn same_requests_as_official_cli(name: &str, variant: Variant, args: &[&str]) {
    let expected = load_expected(&peer_dir().join(format!("{name}.txt")));
    assert!(
        !expected.requests.is_empty(),
        "{}: no requests",
        expected.file.display()
    );
    let server = heroku_fixture::start(variant).await;
    let output = herokuops(&server, args).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "herokuops {} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        args.join(" "),
        output.status
    );
    let ours = mutations(&server).await;
    assert_eq!(
        ours,
        expected.requests,
        "\n`herokuops {}` sent these mutating requests:\n{}\nbut `{}` sent ({}, from trace {}):\n{}\n",
        args.join(" "),
        listing(&ours),
        expected.official,
        expected.file.display(),
        expected.trace,
        listing(&expected.requests),
    );
}

#[tokio::test]
async fn pg_promote_with_an_alias_matches_the_official_cli() {
    same_requests_as_official_cli(
        "pg-promote",
        Variant::default(),
        &[
            "pg",
            "promote",
            "-a",
            "tmi-server",
            "postgresql-secondary-10002",
            "--confirm",
            "tmi-server",
        ],
    )
    .await;
}

#[tokio::test]
async fn pg_promote_without_an_alias_matches_the_official_cli() {
    same_requests_as_official_cli(
        "pg-promote-single",
        Variant {
            primary_single: true,
            ..Variant::default()
        },
        &[
            "pg",
            "promote",
            "tmi-server",
            "postgresql-secondary-10002",
            "--confirm",
            "tmi-server",
        ],
    )
    .await;
}

#[tokio::test]
async fn addons_create_matches_the_official_cli() {
    same_requests_as_official_cli(
        "addons-create",
        Variant::default(),
        &[
            "addons",
            "create",
            "-a",
            "tmi-server",
            "heroku-postgresql:essential-0",
        ],
    )
    .await;
}

#[tokio::test]
async fn addons_create_with_options_matches_the_official_cli() {
    same_requests_as_official_cli(
        "addons-create-opts",
        Variant::default(),
        &[
            "addons",
            "create",
            "-a",
            "tmi-server",
            "heroku-postgresql:essential-0",
            "--as",
            "NEWDB",
            "--name",
            "tmi-db-2",
            "--config",
            "version=16",
        ],
    )
    .await;
}

#[tokio::test]
async fn maintenance_on_matches_the_official_cli() {
    same_requests_as_official_cli(
        "maintenance-on",
        Variant::default(),
        &["maintenance", "on", "-a", "tmi-server"],
    )
    .await;
}

#[tokio::test]
async fn dynos_restart_matches_the_official_cli() {
    same_requests_as_official_cli(
        "dynos-restart",
        Variant::default(),
        &["dynos", "restart", "-a", "tmi-server"],
    )
    .await;
}

#[tokio::test]
async fn dynos_restart_type_matches_the_official_cli() {
    same_requests_as_official_cli(
        "dynos-restart-type",
        Variant::default(),
        &["dynos", "restart", "-a", "tmi-server", "--type", "web"],
    )
    .await;
}

#[tokio::test]
async fn dynos_restart_dyno_matches_the_official_cli() {
    same_requests_as_official_cli(
        "dynos-restart-dyno",
        Variant::default(),
        &["dynos", "restart", "-a", "tmi-server", "--dyno", "web.1"],
    )
    .await;
}

#[tokio::test]
async fn backup_capture_matches_the_official_cli() {
    same_requests_as_official_cli(
        "backup-capture",
        Variant::default(),
        &["backup", "capture", "-a", "tmi-server"],
    )
    .await;
}

/// A recorded trace of the official CLI: the command line and its requests.
struct Trace {
    command: String,
    mutations: Vec<Mutation>,
}

/// Reads lines such as
/// `#4 +0.06s api POST /addon-attachments -> 201  {"addon":...}`; header lines
/// (`      accept: ...`) and GETs are skipped.
fn parse_trace(file: &Path) -> Trace {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let command = text
        .lines()
        .find_map(|l| l.strip_prefix("$ "))
        .unwrap_or_else(|| panic!("{}: no `$ command` line", file.display()))
        .trim()
        .to_string();
    let mut listed = None;
    let mut mutations = Vec::new();
    let mut requests = 0;
    for line in text.lines() {
        if let Some(n) = line
            .strip_prefix("--- requests (")
            .and_then(|r| r.strip_suffix(')'))
        {
            listed = Some(n.parse::<usize>().expect("a request count"));
            continue;
        }
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        requests += 1;
        let (head, body) = match line.split_once(" -> ") {
            Some((head, tail)) => {
                let body = tail.trim().split_once(' ').map(|(_status, b)| b.trim());
                (head, body.filter(|b| !b.is_empty()))
            }
            None => panic!("{}: unreadable request line {line:?}", file.display()),
        };
        let words: Vec<&str> = head.split_whitespace().collect();
        let [_num, _time, _api, method, path] = words[..] else {
            panic!("{}: unreadable request line {line:?}", file.display());
        };
        if is_mutating(method) {
            mutations.push(Mutation {
                method: method.into(),
                path: path.into(),
                body: body.map(|b| {
                    serde_json::from_str(b)
                        .unwrap_or_else(|e| panic!("{}: body {b:?}: {e}", file.display()))
                }),
            });
        }
    }
    assert_eq!(
        Some(requests),
        listed,
        "{}: the request lines read differ from the count the trace states",
        file.display()
    );
    Trace { command, mutations }
}

#[test]
fn expected_sequences_equal_the_recorded_traces() {
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(peer_dir())
        .expect("fixtures/peer")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    fixtures.sort();
    assert_eq!(
        fixtures.len(),
        9,
        "fixtures/peer should hold the 9 transcribed sequences: {fixtures:?}"
    );
    let expected: Vec<Expected> = fixtures.iter().map(|f| load_expected(f)).collect();
    let Some(traces) = std::env::var_os("HEROKU_CLI_TRACES").filter(|v| !v.is_empty()) else {
        skip(
            "peer::expected_sequences_equal_the_recorded_traces",
            "the official CLI's recorded traces not given, so the transcriptions in fixtures/peer \
             were not re-checked against them: set HEROKU_CLI_TRACES=DIR",
        );
        return;
    };
    let traces = PathBuf::from(traces);
    assert!(
        traces.is_dir(),
        "HEROKU_CLI_TRACES={} names no folder: give the folder of the recorded traces, or unset it to skip this check",
        traces.display()
    );
    for exp in &expected {
        let trace = parse_trace(&traces.join(&exp.trace));
        assert_eq!(
            trace.command,
            exp.official,
            "{}: the `# official:` command differs from the trace's",
            exp.file.display()
        );
        assert_eq!(
            exp.requests,
            trace.mutations,
            "\n{} no longer equals the mutating requests of {}:\nfixture:\n{}\ntrace:\n{}\n",
            exp.file.display(),
            exp.trace,
            listing(&exp.requests),
            listing(&trace.mutations),
        );
    }
}

#[test]
fn trace_parser_reads_requests_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.txt");
    std::fs::write(
        &file,
        "# knobs: (none)\n$ heroku pg:promote X -a app\n--- stdout\n--- requests (3)\n\
         #1 +0.00s api POST /actions/addon-attachments/resolve -> 200  {\"addon_attachment\":\"X\",\"app\":\"app\"}\n\
         \x20     accept: application/vnd.heroku+json; version=3.sdk\n\
         #2 +0.01s api GET /apps/app/addon-attachments -> 200\n\
         #3 +0.02s data POST /client/v11/databases/abc/backups -> 201\n",
    )
    .unwrap();
    let trace = parse_trace(&file);
    assert_eq!(trace.command, "heroku pg:promote X -a app");
    assert_eq!(
        trace.mutations,
        vec![
            Mutation {
                method: "POST".into(),
                path: "/actions/addon-attachments/resolve".into(),
                body: Some(serde_json::json!({"addon_attachment": "X", "app": "app"})),
            },
            Mutation {
                method: "POST".into(),
                path: "/client/v11/databases/abc/backups".into(),
                body: None,
            },
        ]
    );
}
