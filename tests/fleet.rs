//! Fleets: several apps in one command against a sandbox holding many apps, sharing one
//! rate-limit budget; bad apps files; one app's failure among others; the per-app report.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use herokuops::sandbox::RateLimit;
use serde_json::{Value, json};

use crate::support::sandbox::{Client, herokuops, sandbox_with, show};

fn write_apps(dir: &Path, apps: &[String]) -> String {
    let path = dir.join("apps.txt");
    let mut text = String::from("# every copy of the fixture\n\n");
    for app in apps {
        text.push_str(app);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn fleet_rows(output: &std::process::Output) -> Vec<Value> {
    let doc: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(output)));
    doc.as_array()
        .unwrap_or_else(|| panic!("not an array: {}", show(output)))
        .clone()
}

fn row<'a>(rows: &'a [Value], app: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["app"] == app)
        .unwrap_or_else(|| panic!("no row for {app}: {rows:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_apps_back_up_under_a_low_rate_limit_with_few_429s() {
    let limit = RateLimit::parse("20/1s").unwrap();
    let sb = sandbox_with(|o| {
        o.copies = Some(50);
        o.rate_limit = limit;
    })
    .await;
    let apps = sb.apps();
    assert_eq!(apps.len(), 50);
    let dir = tempfile::tempdir().unwrap();
    let file = write_apps(dir.path(), &apps);
    let client = Client::new(&sb);
    let (status, _) = client.delete("/__sandbox/requests").await;
    assert_eq!(status, 200);

    let out = herokuops(
        &sb,
        &[
            "--json",
            "backup",
            "capture",
            "--apps-from",
            &file,
            "-j",
            "8",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let rows = fleet_rows(&out);
    assert_eq!(rows.len(), 50);
    for (row, app) in rows.iter().zip(&apps) {
        assert_eq!(row["app"], json!(app), "rows keep the order of the file");
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["exit_code"], 0);
        assert!(
            row["detail"].as_str().unwrap().starts_with("backup b001"),
            "{row}"
        );
        assert!(row["duration_ms"].is_u64());
        assert_eq!(row["result"]["backup"], "b001");
    }

    let requests = client.requests().await;
    let limited = requests.iter().filter(|r| r["status"] == 429).count();
    // The bucket holds 20 and refills 20 a second; 50 backups take four times that many
    // requests, so without pacing the run would have emptied it many times over.
    assert!(
        requests.len() as f64 > 4.0 * limit.capacity,
        "{} requests",
        requests.len()
    );
    assert!(limited <= 5, "{limited} requests were answered 429");
    // Every app's backup exists on the sandbox, captured once.
    for app in apps.iter().step_by(7) {
        let (status, transfers) = client
            .get(&format!("/client/v11/apps/{app}/transfers"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(transfers.as_array().unwrap().len(), 1, "{app}: {transfers}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_app_does_not_stop_the_others_and_the_worst_code_wins() {
    let sb = sandbox_with(|o| o.copies = Some(3)).await;
    let client = Client::new(&sb);
    for (app, status) in [("tmi-server-02", 404), ("tmi-server-03", 401)] {
        let (code, _) = client
            .post(
                "/__sandbox/faults",
                json!({ "method": "GET", "path": format!("/apps/{app}"), "status": status }),
            )
            .await;
        assert_eq!(code, 201);
    }
    let args = [
        "--json",
        "maintenance",
        "status",
        "-a",
        "tmi-server-01",
        "-a",
        "tmi-server-02",
        "-a",
        "tmi-server-03",
    ];
    let out = herokuops(&sb, &args).await;
    // Not authenticated (4) outranks a failure (1).
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let rows = fleet_rows(&out);
    assert_eq!(rows.len(), 3);
    let ok = row(&rows, "tmi-server-01");
    assert_eq!(
        (ok["status"].as_str(), ok["exit_code"].as_u64()),
        (Some("ok"), Some(0))
    );
    assert_eq!(ok["detail"], "maintenance off");
    assert_eq!(ok["result"]["maintenance"], false);
    let failed = row(&rows, "tmi-server-02");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["exit_code"], 1);
    assert!(
        failed["detail"].as_str().unwrap().contains("tmi-server-02"),
        "{failed}"
    );
    assert_eq!(row(&rows, "tmi-server-03")["status"], "unauthenticated");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 of 3 apps did not succeed"), "{stderr}");

    // Without the token problem, the failure is the worst.
    client.delete("/__sandbox/faults").await;
    let (code, _) = client
        .post(
            "/__sandbox/faults",
            json!({ "method": "GET", "path": "/apps/tmi-server-02", "status": 404 }),
        )
        .await;
    assert_eq!(code, 201);
    let out = herokuops(&sb, &args).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(row(&fleet_rows(&out), "tmi-server-03")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_outranked_by_a_failure_and_rows_are_a_table_without_json() {
    let sb = sandbox_with(|o| o.copies = Some(2)).await;
    let client = Client::new(&sb);
    let dir = tempfile::tempdir().unwrap();
    let expect = dir.path().join("expect.toml");
    std::fs::write(&expect, "schema = \"public\"\n[tables.no_such_table]\n").unwrap();
    let expect = expect.display().to_string();
    let args = [
        "verify",
        "--expect",
        expect.as_str(),
        "-a",
        "tmi-server-01",
        "-a",
        "tmi-server-02",
    ];
    let out = herokuops(&sb, &args).await;
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("app "), "a table: {stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("tmi-server-01") && l.contains("drift")),
        "{stdout}"
    );
    assert!(stdout.contains("2 apps in "), "{stdout}");

    let (code, _) = client
        .post(
            "/__sandbox/faults",
            json!({ "path": "/apps/tmi-server-01/config-vars", "status": 404 }),
        )
        .await;
    assert_eq!(code, 201);
    let out = herokuops(&sb, &args).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failure outranks drift: {}",
        show(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("tmi-server-02") && l.contains("drift")),
        "the other app still ran: {stdout}"
    );
}

/// The binary without a sandbox: input errors are found before anything is sent.
async fn offline(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herokuops"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("CI", "1")
        .env("HEROKU_HOST", "http://127.0.0.1:9")
        .env("HEROKU_API_KEY", "offline-token")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("herokuops finishes")
        .expect("herokuops runs")
}

#[tokio::test]
async fn bad_apps_files_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apps.txt");
    let file = path.display().to_string();
    let cases = [
        (
            "good-app\n# fine\n\n  Bad_App  # comment\n",
            ":4:3: ",
            "Bad_App",
        ),
        ("one-app\ntwo-app three-app\n", ":2:1: ", "one app per line"),
        ("one-app\ntwo-app\none-app\n", ":3:1: ", "first on line 1"),
    ];
    for (text, place, message) in cases {
        std::fs::write(&path, text).unwrap();
        let out = offline(dir.path(), &["backup", "capture", "--apps-from", &file]).await;
        assert_eq!(out.status.code(), Some(2), "{text:?}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{file}{place}")),
            "{text:?}: {stderr}"
        );
        assert!(stderr.contains(message), "{text:?}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing ran: {}", show(&out));
    }

    std::fs::write(&path, "# nobody\n\n").unwrap();
    let out = offline(dir.path(), &["verify", "--apps-from", &file]).await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lists no apps"));

    let missing = dir.path().join("missing.txt").display().to_string();
    let out = offline(dir.path(), &["db", "check", "--apps-from", &missing]).await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.txt"));
}

#[tokio::test]
async fn commands_without_fleet_support_refuse_several_apps() {
    let dir = tempfile::tempdir().unwrap();
    let out = offline(
        dir.path(),
        &["dynos", "restart", "-a", "one-app", "-a", "two-app"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("takes one app"));

    let out = offline(
        dir.path(),
        &["-a", "one-app", "maintenance", "on", "-a", "two-app"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("after the subcommand"));

    let out = offline(
        dir.path(),
        &["playbook", "run", "reset", "-a", "one-app", "-a", "two-app"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("destroys data"));
}
