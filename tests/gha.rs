//! GitHub Actions mode of the real binary against a sandbox: the workflow commands on stdout
//! (groups, errors, masks), the step summary and the outputs file, for a failing and a passing
//! playbook, `verify` with drift and `backup capture`; and that no secret reaches the log
//! before its mask.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use herokuops_sandbox::Sandbox;
use serde_json::json;

use crate::support::sandbox::*;

/// The files a GitHub Actions step would have, in a temporary directory.
struct StepFiles {
    dir: tempfile::TempDir,
}

impl StepFiles {
    fn new() -> Self {
        StepFiles {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_OUTPUT", self.path("output").display().to_string()),
            (
                "GITHUB_STEP_SUMMARY",
                self.path("summary.md").display().to_string(),
            ),
            ("XDG_STATE_HOME", self.path("state").display().to_string()),
        ]
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.path("summary.md")).unwrap_or_default()
    }

    fn outputs_text(&self) -> String {
        std::fs::read_to_string(self.path("output")).unwrap_or_default()
    }

    /// `$GITHUB_OUTPUT` read the way the runner reads it: `name=value`, or
    /// `name<<DELIMITER` ... `DELIMITER` for multi-line values.
    fn outputs(&self) -> BTreeMap<String, String> {
        let text = self.outputs_text();
        let mut lines = text.lines();
        let mut map = BTreeMap::new();
        while let Some(line) = lines.next() {
            if let Some((name, delimiter)) = line.split_once("<<") {
                let mut value = Vec::new();
                loop {
                    let next = lines
                        .next()
                        .unwrap_or_else(|| panic!("no closing {delimiter} in {text}"));
                    if next == delimiter {
                        break;
                    }
                    value.push(next);
                }
                map.insert(name.to_string(), value.join("\n"));
            } else {
                let (name, value) = line
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad output line {line:?}"));
                map.insert(name.to_string(), value.to_string());
            }
        }
        map
    }
}

async fn run_in_actions(sb: &Sandbox, files: &StepFiles, args: &[&str]) -> Output {
    let env = files.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    herokuops_with_env(sb, TOKEN, &env, args).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The workflow commands of a stream, in order.
fn commands(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("::")).collect()
}

/// Group titles, checking that every `::group::` is closed before the next one opens and at
/// the end (GitHub does not nest groups).
fn balanced_groups(text: &str) -> Vec<String> {
    let mut open: Option<String> = None;
    let mut titles = Vec::new();
    for line in commands(text) {
        if let Some(title) = line.strip_prefix("::group::") {
            assert!(
                open.is_none(),
                "group {title:?} opened inside {open:?}:\n{text}"
            );
            open = Some(title.to_string());
            titles.push(title.to_string());
        } else if line == "::endgroup::" {
            assert!(
                open.take().is_some(),
                "::endgroup:: without a group:\n{text}"
            );
        }
    }
    assert!(open.is_none(), "group {open:?} never closed:\n{text}");
    titles
}

/// The secrets a run can learn: the API token, the app's DATABASE_URL and its password.
async fn secrets(client: &Client) -> Vec<String> {
    let url = client.config_var("DATABASE_URL").await.unwrap();
    let password = url::Url::parse(&url)
        .unwrap()
        .password()
        .expect("the sandbox's DATABASE_URL has a password")
        .to_string();
    vec![TOKEN.to_string(), url, password]
}

/// No secret in stdout or stderr unless its `::add-mask::` came earlier in stdout (mask lines
/// themselves are never shown by the runner, so a URL's mask may contain its password); and every
/// secret this command learned is masked (the token always, database URLs once fetched).
fn assert_secrets_masked_first(output: &Output, secrets: &[String]) {
    let out = stdout(output);
    let err = stderr(output);
    let lines: Vec<&str> = out.lines().collect();
    for secret in secrets {
        let mask = format!("::add-mask::{}", secret.replace('%', "%25"));
        let masked_at = lines
            .iter()
            .position(|l| *l == mask)
            .unwrap_or_else(|| panic!("no {mask:?} on stdout:\n{}", show(output)));
        if let Some(leak) = lines
            .iter()
            .position(|l| !l.starts_with("::add-mask::") && l.contains(secret.as_str()))
        {
            assert!(
                leak > masked_at,
                "a secret is on stdout line {leak} before its mask on line {masked_at}"
            );
        }
        // stderr has no order relative to stdout; a secret there needs the mask at least.
        assert!(
            !err.contains(secret.as_str()) || lines.contains(&mask.as_str()),
            "a secret is on stderr without a mask"
        );
    }
    assert!(
        lines.first().is_some_and(|l| l.starts_with("::add-mask::")),
        "the token is masked before anything else is printed:\n{}",
        show(output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_playbook_in_actions_groups_steps_annotates_and_reports() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let secrets = secrets(&client).await;
    let (status, _) = client
        .post(
            "/__sandbox/faults",
            json!({"method": "DELETE", "path": "/apps/*/dynos", "status": 500, "times": 100}),
        )
        .await;
    assert_eq!(status, 201, "the fault is registered");
    let files = StepFiles::new();
    let output = run_in_actions(
        &sb,
        &files,
        &[
            "reset",
            APP,
            "--confirm",
            APP,
            "--timeout",
            "60s",
            "--interval",
            "1s",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let out = stdout(&output);

    let titles = balanced_groups(&out);
    assert_eq!(titles.len(), 3, "safety backup, drop, migrate: {titles:?}");
    assert!(
        titles[0].starts_with("backup.capture: safety backup"),
        "{titles:?}"
    );
    assert!(
        titles[1].starts_with("[1/3] pg.drop-schema: "),
        "{titles:?}"
    );
    assert!(titles[2].starts_with("[2/3] migrate: "), "{titles:?}");

    let errors: Vec<&str> = commands(&out)
        .into_iter()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one annotation for the failure: {errors:?}"
    );
    let error = errors[0];
    assert!(
        error.starts_with("::error title=reset on tmi-server failed at migrate::"),
        "{error}"
    );
    let message = error
        .split_once("::")
        .unwrap()
        .1
        .split_once("::")
        .unwrap()
        .1;
    assert!(
        message.contains("%0A") && !message.contains('\n'),
        "several lines, escaped: {message}"
    );
    let first_line = message.split("%0A").next().unwrap();
    assert!(
        first_line.contains("500"),
        "the one-line cause: {first_line}"
    );
    assert!(
        message.contains("%0Ato continue: herokuops resume "),
        "{message}"
    );
    // The annotation comes after the last group, visible without unfolding anything.
    let last_end = out.rfind("::endgroup::").unwrap();
    assert!(out.find("::error").unwrap() > last_end);

    let outputs = files.outputs();
    assert_eq!(outputs["status"], "failed", "{outputs:?}");
    assert_eq!(outputs["playbook"], "reset");
    assert_eq!(outputs["app"], APP);
    assert_eq!(outputs["failed_step"], "migrate");
    assert!(outputs["safety_backup_id"].starts_with('b'), "{outputs:?}");
    let journal = files
        .path("state")
        .join("herokuops/runs")
        .join(format!("{}.json", outputs["run_id"]));
    assert!(
        journal.exists(),
        "run_id names the journal {}",
        journal.display()
    );

    let summary = files.summary();
    assert!(
        summary.contains("### herokuops reset on `tmi-server`: failed"),
        "{summary}"
    );
    assert!(
        summary.contains("| `pg.drop-schema` | ✅ done |"),
        "{summary}"
    );
    assert!(summary.contains("| `migrate` | ❌ failed |"), "{summary}");
    assert!(summary.contains("| `pg.verify` | not run |"), "{summary}");
    assert!(summary.contains("**Failed:**"), "{summary}");

    assert_secrets_masked_first(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn passing_playbook_and_backup_capture_write_outputs_and_summary() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let secrets = secrets(&client).await;
    let files = StepFiles::new();
    let output = run_in_actions(&sb, &files, &["playbook", "run", "backup-capture", APP]).await;
    assert!(output.status.success(), "{}", show(&output));
    let out = stdout(&output);
    let titles = balanced_groups(&out);
    assert_eq!(titles.len(), 1, "{titles:?}");
    assert!(
        titles[0].starts_with("[1/1] backup.capture: capture a backup of "),
        "{titles:?}"
    );
    assert!(!out.contains("::error"), "{}", show(&output));
    let outputs = files.outputs();
    assert_eq!(outputs["status"], "succeeded", "{outputs:?}");
    assert_eq!(outputs["playbook"], "backup-capture");
    let backup = outputs["backup_id"].clone();
    assert!(backup.starts_with('b'), "{outputs:?}");
    assert!(!outputs.contains_key("failed_step"));
    let summary = files.summary();
    assert!(
        summary.contains("### herokuops backup-capture on `tmi-server`: succeeded"),
        "{summary}"
    );
    assert!(
        summary.contains("| `backup.capture` | ✅ done |"),
        "{summary}"
    );
    assert!(summary.contains(&format!("backup {backup}")), "{summary}");
    assert_secrets_masked_first(&output, &secrets);

    // The single command: a new backup, appended to the same step's files.
    let output = run_in_actions(&sb, &files, &["backup", "capture", APP]).await;
    assert!(output.status.success(), "{}", show(&output));
    let outputs = files.outputs();
    assert!(
        outputs["backup_id"].starts_with('b') && outputs["backup_id"] != backup,
        "the later value wins: {outputs:?}"
    );
    assert!(
        files.summary().contains(&format!(
            "### herokuops backup capture `tmi-server`\n\n✅ Backup `{}`",
            outputs["backup_id"]
        )),
        "{}",
        files.summary()
    );

    // Outside GitHub Actions nothing of this happens, even with the file variables set.
    let quiet = StepFiles::new();
    let env = quiet.env();
    let env: Vec<(&str, &str)> = env
        .iter()
        .filter(|(k, _)| *k != "GITHUB_ACTIONS")
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let output = herokuops_with_env(&sb, TOKEN, &env, &["backup", "capture", APP]).await;
    assert!(output.status.success(), "{}", show(&output));
    assert!(commands(&stdout(&output)).is_empty(), "{}", show(&output));
    assert!(!quiet.path("output").exists() && !quiet.path("summary.md").exists());
}

fn drifting_expectation(dir: &Path) -> PathBuf {
    let path = dir.join("expected.toml");
    std::fs::write(
        &path,
        "schema = \"public\"\n[tables.no_such_table]\n[tables.also_missing]\n[tables.users]\ncolumns = [\"no_such_column\"]\n",
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_in_actions_reports_drift_count_and_table() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let secrets = secrets(&client).await;
    let files = StepFiles::new();
    let expect = drifting_expectation(files.dir.path());
    let expect = expect.to_str().unwrap();
    let output = run_in_actions(&sb, &files, &["verify", APP, "--expect", expect]).await;
    assert_eq!(output.status.code(), Some(3), "{}", show(&output));
    let out = stdout(&output);
    let errors: Vec<&str> = commands(&out)
        .into_iter()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", show(&output));
    assert!(
        errors[0].starts_with("::error title=schema drift on tmi-server::tmi-server differs from ")
    );

    let outputs = files.outputs();
    assert_eq!(outputs["status"], "drift");
    assert_eq!(outputs["drift_count"], "3", "{outputs:?}");
    assert_eq!(outputs["drift"].lines().count(), 3, "{outputs:?}");
    assert!(outputs["drift"].contains("no_such_table"));
    let raw = files.outputs_text();
    assert!(
        raw.contains("drift<<ghadelimiter_"),
        "multi-line value with a delimiter: {raw}"
    );
    let summary = files.summary();
    assert!(
        summary.contains("| drift | object | expected | found |"),
        "{summary}"
    );
    assert!(summary.contains("`no_such_table`"), "{summary}");
    assert!(summary.contains("`users.no_such_column`"), "{summary}");
    assert_secrets_masked_first(&output, &secrets);

    // With --json, stdout stays one JSON document; the workflow commands go to stderr.
    let files = StepFiles::new();
    let output = run_in_actions(&sb, &files, &["--json", "verify", APP, "--expect", expect]).await;
    assert_eq!(output.status.code(), Some(3), "{}", show(&output));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&output)));
    assert_eq!(document["drift"].as_array().map(Vec::len), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("::add-mask::{}", secrets[1])),
        "{err}"
    );
    assert!(
        err.contains("::error title=schema drift on tmi-server::"),
        "{err}"
    );
    assert_eq!(files.outputs()["drift_count"], "3");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_on_stdout_stays_clean_in_actions() {
    let sb = sandbox().await;
    let client = Client::new(&sb);
    let secrets = secrets(&client).await;
    let files = StepFiles::new();

    // `schema snapshot > FILE` must give a TOML file, not one that starts with masks.
    let output = run_in_actions(&sb, &files, &["schema", "snapshot", APP]).await;
    assert!(output.status.success(), "{}", show(&output));
    let out = stdout(&output);
    assert!(commands(&out).is_empty(), "{out}");
    let parsed: toml::Table = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(parsed["schema"].as_str(), Some("public"));
    let err = stderr(&output);
    for secret in &secrets {
        assert!(
            err.contains(&format!("::add-mask::{secret}")),
            "masked on stderr: {err}"
        );
        assert!(!out.contains(secret.as_str()));
    }

    // A one-off dyno may print its environment: the app's secrets are masked before it starts.
    let output = run_in_actions(&sb, &files, &["run", APP, "--", "env"]).await;
    assert!(output.status.success(), "{}", show(&output));
    let out = stdout(&output);
    assert!(commands(&out).is_empty(), "{out}");
    assert!(
        out.contains(&secrets[1]),
        "the dyno printed DATABASE_URL: {out}"
    );
    assert!(
        stderr(&output).contains(&format!("::add-mask::{}", secrets[1])),
        "{}",
        show(&output)
    );
    assert!(!stderr(&output).contains("::add-mask::production"));

    // `URL=$(herokuops backup url APP)` must capture the URL alone; the URL itself is masked.
    let output = run_in_actions(&sb, &files, &["backup", "capture", APP]).await;
    assert!(output.status.success(), "{}", show(&output));
    let output = run_in_actions(&sb, &files, &["backup", "url", APP]).await;
    assert!(output.status.success(), "{}", show(&output));
    let out = stdout(&output);
    let url = out.trim_end();
    assert!(url.starts_with("http") && !url.contains('\n'), "{out}");
    assert!(
        stderr(&output).contains(&format!("::add-mask::{}", url.replace('%', "%25"))),
        "{}",
        show(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fleet_in_actions_masks_every_app_and_keeps_single_app_outputs_out() {
    let sb = sandbox_with(|o| o.copies = Some(2)).await;
    let apps = sb.apps();
    assert_eq!(apps.len(), 2, "{apps:?}");
    let client = Client::new(&sb);
    let mut urls = Vec::new();
    for app in &apps {
        let (status, vars) = client.get(&format!("/apps/{app}/config-vars")).await;
        assert_eq!(status, 200);
        urls.push(vars["DATABASE_URL"].as_str().unwrap().to_string());
    }
    let files = StepFiles::new();
    let expect = drifting_expectation(files.dir.path());
    let output = run_in_actions(
        &sb,
        &files,
        &[
            "verify",
            "--app",
            &apps[0],
            "--app",
            &apps[1],
            "--expect",
            expect.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(3), "{}", show(&output));
    let all = format!("{}{}", stdout(&output), stderr(&output));
    for url in &urls {
        assert!(all.contains(&format!("::add-mask::{url}")), "{all}");
    }
    let summary = files.summary();
    for app in &apps {
        assert!(summary.contains(app.as_str()), "{summary}");
    }
    // One app's outputs would overwrite another's: no app writes its single-command outputs.
    let outputs = files.outputs();
    for single in ["drift_count", "drift", "run_id"] {
        assert!(!outputs.contains_key(single), "{outputs:?}");
    }
}
