//! The edges of issue 11 that the binary meets against a mock of Heroku, or with no server at
//! all: each test is named after the item it covers.

use super::*;

use herokuops::playbooks::StepKind;
use herokuops::playbooks::journal::{self, Journal};

/// A journal that says `running` for a process that no longer exists.
fn killed_run(dir: &Path) -> String {
    let mut journal = Journal::new(
        "reset",
        "tmi-server",
        &[StepKind::PgDropSchema, StepKind::Migrate],
        serde_json::json!({}),
    );
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    journal.pid = Some(gone.id());
    gone.wait().unwrap();
    journal::save(dir, &journal).unwrap();
    journal.id
}

#[tokio::test]
async fn item_12_runs_show_says_a_killed_run_is_abandoned() {
    let server = heroku().await;
    let home = tempfile::tempdir().unwrap();
    let runs = home.path().join("runs");
    let id = killed_run(&runs);
    let dir = runs.to_str().unwrap();

    let out = herokuops(
        &server,
        home.path(),
        &["runs", "show", &id, "--journal-dir", dir],
        &[],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("ABANDONED"), "{stdout}");
    assert!(!stdout.contains("is running"), "{stdout}");
    assert!(
        stdout.contains(&format!("herokuops resume {id}")),
        "{stdout}"
    );

    let out = herokuops(
        &server,
        home.path(),
        &["--json", "runs", "show", &id, "--journal-dir", dir],
        &[],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["abandoned"], true, "{shown:#}");
    assert_eq!(shown["resume_command"], format!("herokuops resume {id}"));
}

#[tokio::test]
async fn item_17_a_token_with_a_newline_is_refused_with_its_own_message() {
    let server = heroku().await;
    let home = tempfile::tempdir().unwrap();
    let token = format!("{TOKEN}\nX-Injected: 1");
    let out = herokuops(
        &server,
        home.path(),
        &["whoami"],
        &[("HEROKU_API_KEY", &token)],
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("the API token from HEROKU_API_KEY contains a line break"),
        "{stderr}"
    );
    assert!(!stderr.contains("could not reach"), "{stderr}");
    assert!(!stderr.contains("network"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "the token was printed: {stderr}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// The binary with a clean environment, its stdout given.
fn herokuops_to(stdout: std::process::Stdio, home: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_herokuops"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn item_07_a_failed_write_to_stdout_is_an_error_of_one_line() {
    let home = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let dir = home.path().join("runs");
    let out = herokuops_to(
        full.into(),
        home.path(),
        &["runs", "list", "--journal-dir", dir.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().collect::<Vec<_>>(),
        ["error: could not write to stdout: No space left on device (os error 28)"],
    );
}

#[test]
fn item_07_a_closed_pipe_ends_quietly_without_a_panic() {
    let home = tempfile::tempdir().unwrap();
    // The reader is gone before the first write, as `| head -c 10` is gone after ten bytes.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = herokuops_to(writer.into(), home.path(), &["completions", "bash"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let dir = home.path().join("runs");
    let out = herokuops_to(
        writer.into(),
        home.path(),
        &["runs", "list", "--journal-dir", dir.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// What a hostile server puts in its text: a screen clear, a window title, a forged line.
const HOSTILE: &str = "Couldn't find that app.\u{1b}[2J\u{1b}]0;owned\u{7}\r\nerror: forged line";

fn terminal_safe(what: &str, text: &str) {
    for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        assert!(!text.contains(bad), "{what} has {bad:?}: {text:?}");
    }
    assert!(
        !text.lines().any(|l| l.starts_with("error: forged")),
        "{what} has a forged line: {text:?}"
    );
}

#[tokio::test]
async fn item_13_server_text_reaches_the_terminal_without_control_characters() {
    use wiremock::matchers::{method, path};
    let server = heroku().await;
    Mock::given(method("GET"))
        .and(path("/apps/tmi-server"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                serde_json::json!({"id": "not_found\u{1b}[31m", "message": HOSTILE}),
            ),
        )
        .mount(&server)
        .await;
    let mut dynos = fixture("dynos.json");
    dynos[0]["command"] = serde_json::json!(format!("bin/server {HOSTILE}"));
    dynos[1]["name"] = serde_json::json!("worker.1\u{1b}[8m\nerror: forged line");
    Mock::given(method("GET"))
        .and(path("/apps/tmi-server/dynos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dynos))
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();

    let out = herokuops(
        &server,
        home.path(),
        &["maintenance", "status", "tmi-server"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Couldn't find that app."), "{stderr}");
    let error_lines = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(error_lines, 1, "{stderr:?}");
    terminal_safe("stderr", &stderr);
    terminal_safe("stdout", &stdout);

    let out = herokuops(
        &server,
        home.path(),
        &["dynos", "list", "tmi-server"],
        &[("HEROKU_API_KEY", TOKEN)],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("bin/server Couldn't find that app."),
        "{stdout}"
    );
    terminal_safe("the table", &stdout);
    assert_eq!(
        stdout.lines().count(),
        4,
        "a header, a rule, two dynos: {stdout}"
    );
}

#[tokio::test]
async fn item_14_endless_input_files_are_refused_with_a_clear_error() {
    let server = heroku().await;
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["playbook", "list", "--config", "/dev/zero"][..],
        &[
            "verify",
            "--database-url",
            "postgres://u@127.0.0.1:1/d",
            "--expect",
            "/dev/zero",
        ],
        &["maintenance", "status", "--apps-from", "/dev/zero"],
    ] {
        let out = herokuops(&server, home.path(), args, &[("HEROKU_API_KEY", TOKEN)]).await;
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("/dev/zero is larger than 16.00 MiB"),
            "{args:?}: {stderr}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
