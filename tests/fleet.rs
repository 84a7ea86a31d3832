//! Fleets: several apps in one command against a sandbox holding many apps, sharing one
//! rate-limit budget; bad apps files; one app's failure among others; the per-app report.

use std::path::Path;
use std::time::{Duration, Instant};

use herokuops_sandbox::RateLimit;
use serde_json::{Value, json};

use crate::support::binary;
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
    // Every app's backup exists on the sandbox, captured once. The bucket is filled first: the
    // run left it empty, and these checks are not what is measured.
    let (status, _) = client
        .post("/__sandbox/rate-limit", json!({ "remaining": 20 }))
        .await;
    assert_eq!(status, 200);
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
    binary::herokuops(args)
        .home(dir)
        .heroku("http://127.0.0.1:9", "offline-token")
        .env("CI", "1")
        .limit(Duration::from_secs(30))
        .output()
        .await
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

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_bucket_empties_into_heroku_shaped_429s() {
    let sb = sandbox_with(|o| o.rate_limit = RateLimit::parse("3/30s").unwrap()).await;
    let client = Client::new(&sb);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = client
            .request(reqwest::Method::GET, "/account")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        remaining.push(
            response.headers()["ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let response = client
        .request(reqwest::Method::GET, "/account")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One token comes back every ten seconds.
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], "rate_limit");
    let (status, bucket) = client.get("/__sandbox/rate-limit").await;
    assert_eq!(status, 200);
    assert_eq!(bucket["capacity"], 3.0);
    assert_eq!(bucket["limited"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_playbooks_and_database_commands_run_as_fleets() {
    let sb = sandbox_with(|o| o.copies = Some(2)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("herokuops.toml");
    std::fs::write(
        &config,
        "[playbooks.nightly]\ndescription = \"Back up, then flip maintenance\"\nsteps = [\"backup.capture\", \"maintenance.on\", \"maintenance.off\"]\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let journals = dir.path().join("runs").display().to_string();
    let apps = ["-a", "tmi-server-01", "-a", "tmi-server-02"];
    let mut args = vec!["--json", "playbook", "run", "nightly", "--config", &config];
    args.extend(["--journal-dir", &journals]);
    args.extend(apps);
    let out = herokuops(&sb, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let rows = fleet_rows(&out);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["detail"], "nightly succeeded: 3 steps", "{r}");
        assert_eq!(r["result"]["app"], r["app"], "each run is its own app's");
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("runs")).unwrap().count(),
        2,
        "a journal per app"
    );

    let mut args = vec!["--json", "db", "check"];
    args.extend(apps);
    let out = herokuops(&sb, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    for r in fleet_rows(&out) {
        assert!(
            r["detail"].as_str().unwrap().ends_with(", 25 tables"),
            "{r}"
        );
    }
    let mut args = vec!["--json", "db", "diagnose"];
    args.extend(apps);
    let out = herokuops(&sb, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    for r in fleet_rows(&out) {
        assert!(
            r["detail"].as_str().unwrap().starts_with("worst rating "),
            "{r}"
        );
        assert!(r["result"]["findings"].is_array(), "{r}");
    }
    let (_, vars) = Client::new(&sb)
        .get("/apps/tmi-server-01/config-vars")
        .await;
    let secret = vars["DATABASE_URL"].as_str().unwrap();
    let password = url::Url::parse(secret)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&password));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&password));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupt_reports_every_app_and_exits_130() {
    let sb = sandbox_with(|o| o.copies = Some(3)).await;
    let client = Client::new(&sb);
    let (code, _) = client
        .post(
            "/__sandbox/faults",
            json!({ "method": "GET", "path": "/apps/*", "delay_ms": 20000 }),
        )
        .await;
    assert_eq!(code, 201);
    let home = tempfile::tempdir().unwrap();
    let child = binary::herokuops(["--json", "-j", "1", "maintenance", "status"])
        .home(home.path())
        .args([
            "-a",
            "tmi-server-01",
            "-a",
            "tmi-server-02",
            "-a",
            "tmi-server-03",
        ])
        .heroku(&sb.base_url(), crate::support::sandbox::TOKEN)
        .env("CI", "1")
        .spawn();
    // The first app's request is held by the sandbox: once it is there, Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client
        .requests()
        .await
        .iter()
        .any(|r| r["path"] == "/apps/tmi-server-01")
    {
        assert!(
            Instant::now() < deadline,
            "the first app's request never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        binary::signal(&child, rustix::process::Signal::INT),
        "herokuops is running"
    );
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("herokuops stops soon after the interrupt")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    let rows = fleet_rows(&out);
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["interrupted", "not_run", "not_run"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn in_github_actions_each_app_masks_its_secrets_and_the_fleet_reports_once() {
    let sb = sandbox_with(|o| o.copies = Some(2)).await;
    let client = Client::new(&sb);
    let (code, _) = client
        .post(
            "/__sandbox/faults",
            json!({ "path": "/apps/tmi-server-02/config-vars", "status": 404 }),
        )
        .await;
    assert_eq!(code, 201);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let summary = dir.path().join("summary.md");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let args = ["db", "check", "-a", "tmi-server-01", "-a", "tmi-server-02"];
    let out = crate::support::sandbox::herokuops_with_env(
        &sb,
        crate::support::sandbox::TOKEN,
        &env,
        &args,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let (_, vars) = client.get("/apps/tmi-server-01/config-vars").await;
    let url = url::Url::parse(vars["DATABASE_URL"].as_str().unwrap()).unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains(&format!("::add-mask::{}", url.password().unwrap())),
        "the app's database password is masked: {all}"
    );
    assert!(
        all.contains("::error"),
        "the failing app is annotated: {all}"
    );
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("failed_apps"), "{outputs}");
    assert!(outputs.contains("tmi-server-02"), "{outputs}");
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        markdown.matches("| tmi-server-01 | ok |").count(),
        1,
        "{markdown}"
    );
    assert_eq!(
        markdown.matches("| tmi-server-02 | failed |").count(),
        1,
        "{markdown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_backup_can_be_made_to_take_as_long_as_on_heroku() {
    let sb = sandbox_with(|o| o.backup_time = Duration::from_millis(1500)).await;
    let started = std::time::Instant::now();
    let out = herokuops(&sb, &["--json", "backup", "capture", "tmi-server"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "done after {:?}",
        started.elapsed()
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["backup"], "b001", "one app alone keeps its own output");
}
