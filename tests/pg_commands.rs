//! The database commands run as a user runs them, with `--database-url` to a real server:
//! exit codes, output on the right stream, and no password anywhere in it.

use std::process::Output;

use serde_json::Value;

use crate::support::pg::{TestDb, fixture_path, fresh_db, shared};

async fn herokuops(args: &[&str], env: &[(&str, &str)]) -> Output {
    crate::support::binary::herokuops(args)
        .envs(env)
        .output()
        .await
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary and checks that the server's password appears in neither stream.
async fn run(args: &[&str]) -> Run {
    run_with(args, &[]).await
}

async fn run_with(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = herokuops(args, env).await;
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let password = shared().password();
    if !password.is_empty() {
        assert!(
            !run.stdout.contains(&password),
            "password on stdout:\n{}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(&password),
            "password on stderr:\n{}",
            run.stderr
        );
    }
    run
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout))
}

async fn tmi() -> TestDb {
    let db = fresh_db().await;
    db.load_fixture("tmi").await;
    db
}

fn fixture(scenario: &str, file: &str) -> String {
    fixture_path(scenario, file).display().to_string()
}

async fn public_tables(db: &TestDb) -> i64 {
    db.connect()
        .await
        .query(
            "test",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()[0]
        .get(0)
}

#[tokio::test]
async fn verify_passes_on_a_matching_database() {
    let db = tmi().await;
    let r = run(&[
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        &fixture("tmi", "expected.toml"),
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("matches") && r.stdout.contains("25 tables"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("********"),
        "the database is named by its masked URL: {}",
        r.stdout
    );
}

#[tokio::test]
async fn verify_reports_drift_as_a_table_or_json_and_exits_3() {
    let db = tmi().await;
    db.exec("DROP TABLE notes CASCADE; ALTER TABLE threat_models DROP COLUMN issue_uri;")
        .await;
    let expect = fixture("tmi", "expected.toml");

    let r = run(&["verify", "--database-url", &db.url, "--expect", &expect]).await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    for needle in [
        "too_few_tables",
        "missing_table",
        "notes",
        "missing_column",
        "threat_models.issue_uri",
        "expected",
        "found",
    ] {
        assert!(r.stdout.contains(needle), "{needle} in\n{}", r.stdout);
    }
    assert!(r.stderr.contains("3 difference(s)"), "{}", r.stderr);

    let r = run(&[
        "--json",
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        &expect,
    ])
    .await;
    assert_eq!(r.code, 3);
    let doc = json(&r);
    assert_eq!(doc["ok"], false);
    let kinds: Vec<&str> = doc["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["too_few_tables", "missing_table", "missing_column"]);
    assert_eq!(doc["drift"][2]["object"], "threat_models.issue_uri");
    assert_eq!(doc["drift"][2]["expected"], "text");
}

#[tokio::test]
async fn malformed_or_unknown_keys_in_the_expected_file_are_exit_2_with_position() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        "min_tables = 25\n\n[tables.notes]\ncolums = [\"id\"]\n",
    )
    .unwrap();
    let r = run(&[
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        unknown.to_str().unwrap(),
    ])
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{}:4:1:", unknown.display())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("colums"), "{}", r.stderr);

    let malformed = dir.path().join("malformed.toml");
    std::fs::write(&malformed, "schema = \"public\"\nmin_tables = = 3\n").unwrap();
    let r = run(&[
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        malformed.to_str().unwrap(),
    ])
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{}:2:", malformed.display())),
        "{}",
        r.stderr
    );

    let r = run(&[
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        "/nonexistent/expected.toml",
    ])
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/expected.toml"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn snapshot_to_a_file_then_verify_is_clean() {
    let db = fresh_db().await;
    db.load_fixture("alembic").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expected.toml");
    let r = run(&[
        "schema",
        "snapshot",
        "--database-url",
        &db.url,
        "-o",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("6 tables"), "{}", r.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("equals = \"556b79de2825\""), "{text}");
    assert!(!text.contains(&shared().password()));

    let r = run(&[
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Without -o the file goes to stdout.
    let r = run(&["schema", "snapshot", "--database-url", &db.url]).await;
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.trim_end(), text.trim_end());
}

#[tokio::test]
async fn db_check_lists_tables_with_estimated_or_exact_rows() {
    let db = tmi().await;
    db.exec(
        "INSERT INTO webhook_url_deny_list (pattern, pattern_type)
              SELECT 'p' || g, 'glob' FROM generate_series(1, 7) g;",
    )
    .await;
    let r = run(&["db", "check", "--database-url", &db.url, "--exact"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("PostgreSQL"), "{}", r.stdout);
    assert!(r.stdout.contains("25 tables"), "{}", r.stdout);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("webhook_url_deny_list"))
        .unwrap();
    assert!(line.ends_with(" 7"), "{line}");

    let r = run(&["--json", "db", "check", "--database-url", &db.url]).await;
    let doc = json(&r);
    assert_eq!(doc["check"]["exact"], false);
    assert_eq!(doc["check"]["tables"].as_array().unwrap().len(), 25);
    assert!(doc["check"]["server_version_num"].as_i64().unwrap() >= 100000);
}

#[tokio::test]
async fn db_diagnose_rates_every_check_and_shows_its_threshold() {
    let db = tmi().await;
    let r = run(&["--json", "db", "diagnose", "--database-url", &db.url]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    let findings = doc["findings"].as_array().unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "table_cache_hit",
            "index_cache_hit",
            "connections",
            "long_running_queries",
            "blocked_queries",
            "unused_indexes",
            "sizes",
            "bloat",
            "slow_statements"
        ]
    );
    for f in findings {
        assert!(
            ["ok", "warn", "fail"].contains(&f["rating"].as_str().unwrap()),
            "{f}"
        );
        assert!(!f["threshold"].as_str().unwrap().is_empty(), "{f}");
    }
    let r = run(&["db", "diagnose", "--database-url", &db.url]).await;
    assert!(
        r.stdout.contains("Connections") && r.stdout.contains("max_connections"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn db_diagnose_fail_on_exits_5_when_a_check_reaches_the_rating() {
    let db = fresh_db().await;
    // An index of a few MiB that no query has used: rated warn, nothing rated fail.
    db.exec(
        "CREATE TABLE events (id int, kind int);
         INSERT INTO events SELECT g, g % 10 FROM generate_series(1, 100000) g;
         CREATE INDEX events_kind ON events (kind, id);",
    )
    .await;
    let url = db.url.clone();
    let diagnose = |rating| {
        let url = url.clone();
        async move {
            run(&[
                "db",
                "diagnose",
                "--database-url",
                &url,
                "--fail-on",
                rating,
            ])
            .await
        }
    };
    let r = diagnose("warn").await;
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    // The whole report first, then the one line saying why.
    assert!(r.stdout.contains("events_kind"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("rated warn or worse: Unused indexes (warn)"),
        "{}",
        r.stderr
    );
    let r = diagnose("fail").await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = diagnose("ok").await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test]
async fn drop_schema_needs_the_database_name_to_confirm() {
    let db = tmi().await;
    let r = run(&["db", "drop-schema", "--database-url", &db.url]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("--confirm {}", db.name)),
        "{}",
        r.stderr
    );
    let r = run(&[
        "db",
        "drop-schema",
        "--database-url",
        &db.url,
        "--confirm",
        "other",
    ])
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&["--dry-run", "db", "drop-schema", "--database-url", &db.url]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("DROP SCHEMA \"public\" CASCADE"),
        "{}",
        r.stdout
    );
    assert_eq!(public_tables(&db).await, 25, "nothing changed yet");

    let r = run(&[
        "db",
        "drop-schema",
        "--database-url",
        &db.url,
        "--confirm",
        &db.name,
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("25 tables"), "{}", r.stdout);
    assert_eq!(public_tables(&db).await, 0);
}

#[tokio::test]
async fn connection_failures_are_exit_1_with_one_masked_line() {
    let db = fresh_db().await;
    let good = url::Url::parse(&db.url).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut unreachable = good.clone();
    unreachable.set_port(Some(port)).unwrap();
    let mut wrong_password = good.clone();
    wrong_password
        .set_password(Some("wrong-LEAKCHECK-pw"))
        .unwrap();
    let mut missing = good.clone();
    missing.set_path("/no_such_db");

    for (url, cause) in [
        (unreachable, "refused"),
        (
            wrong_password,
            if shared().is_local() {
                "password authentication failed"
            } else {
                ""
            },
        ),
        (missing, "does not exist"),
    ] {
        let r = run(&["db", "check", "--database-url", url.as_str()]).await;
        assert_eq!(r.code, 1, "{}", r.stderr);
        let first = r.stderr.lines().next().unwrap();
        assert!(
            first.starts_with("error: cannot connect to postgres://postgres:********@"),
            "{first}"
        );
        assert!(first.to_lowercase().contains(cause), "{first}");
        assert!(!r.stderr.contains("wrong-LEAKCHECK-pw"), "{}", r.stderr);
        assert!(r.stderr.contains("hint: "), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

#[tokio::test]
async fn bad_urls_and_conflicting_sources_are_exit_2() {
    let r = run(&[
        "db",
        "check",
        "--database-url",
        "postgres://u:hunter2@h/d?sslmode=sometimes",
    ])
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("sslmode") && !r.stderr.contains("hunter2"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "db",
        "check",
        "tmi-server",
        "--database-url",
        "postgres://u:hunter2@h/d",
    ])
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not both"), "{}", r.stderr);
    let r = run(&["db", "check"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&["verify", "--database-url", "postgres://u:hunter2@h/d"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--expect"), "{}", r.stderr);
}

/// A local stand-in for the Platform API that serves `DATABASE_URL` for one app.
async fn heroku_with_database(app: &str, url: &str) -> wiremock::MockServer {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/apps/{app}/config-vars")))
        .and(header("Authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "DATABASE_URL": url,
            "SECRET_KEY_BASE": "not-for-output",
        })))
        .named("config vars")
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_app_is_resolved_to_its_database_url_through_the_api() {
    let db = tmi().await;
    let server = heroku_with_database("tmi-server", &db.url).await;
    let uri = server.uri();
    let env = [
        ("HEROKU_HOST", uri.as_str()),
        ("HEROKU_API_KEY", "test-token"),
    ];
    let expect = fixture("tmi", "expected.toml");

    let r = run_with(&["verify", "tmi-server", "--expect", &expect], &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("tmi-server matches"), "{}", r.stdout);

    // Without --expect, the app's file comes from herokuops.toml (relative to that file).
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&expect, dir.path().join("tmi.toml")).unwrap();
    let config = dir.path().join("herokuops.toml");
    std::fs::write(&config, "[apps.tmi-server]\nexpect = \"tmi.toml\"\n").unwrap();
    let r = run_with(
        &["verify", "tmi-server", "--config", config.to_str().unwrap()],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("tmi.toml"), "{}", r.stdout);
    let r = run_with(
        &["verify", "other-app", "--config", config.to_str().unwrap()],
        &env,
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("[apps.other-app]"), "{}", r.stderr);
    let r = run_with(&["db", "check", "-a", "tmi-server"], &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("tmi-server"), "{}", r.stdout);

    // Destructive: the app name confirms it, not the database name.
    let r = run_with(
        &["db", "drop-schema", "tmi-server", "--confirm", &db.name],
        &env,
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(public_tables(&db).await, 25);
    let r = run_with(
        &["db", "drop-schema", "tmi-server", "--confirm", "tmi-server"],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(public_tables(&db).await, 0);
    let r = run_with(&["verify", "tmi-server", "--expect", &expect], &env).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains("not-for-output"));
    }
}
