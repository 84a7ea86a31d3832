//! The token and the databases' passwords never show: not on stdout or stderr (verbose
//! included), not in `--json` reports, not in journals, whether a run succeeds, fails,
//! is resumed or only planned.
//!
//! Every test of this module's siblings checks its own outputs and journals the same way (see
//! the harness); this one goes through every kind of output with a token that is easy to spot.

use serde_json::json;

use super::harness::{E2e, Options, expected_file};
use crate::support::sandbox::APP;

const TOKEN: &str = "hk-e2e-RECOGNISABLE-token-5f0c3a9e7d21";

#[tokio::test(flavor = "multi_thread")]
async fn no_token_or_database_password_in_any_output_or_journal() {
    let e2e = E2e::start_with(Options {
        token: TOKEN.into(),
        ..Options::default()
    })
    .await;
    e2e.seed().await;
    let expect = expected_file();
    let timing = ["--timeout", "30s", "--interval", "200ms"];
    let mut outputs = Vec::new();
    let mut run = async |args: Vec<&str>| {
        let run = e2e.run(&args).await;
        outputs.push(format!("{}\n{}", run.stdout, run.stderr));
        run
    };

    let whoami = run(vec!["-v", "whoami"]).await;
    assert_eq!(whoami.code, Some(0), "{}", whoami.show());
    assert!(
        whoami.stderr.contains("GET"),
        "verbose logs the requests: {}",
        whoami.show()
    );
    run(vec!["-v", "--json", "pg", "info", APP]).await;
    run(vec!["--dry-run", "-v", "reset", APP, "--expect", &expect]).await;

    let mut reset = vec![
        "-v",
        "--json",
        "reset",
        APP,
        "--confirm",
        APP,
        "--expect",
        &expect,
    ];
    reset.extend(timing);
    assert_eq!(run(reset).await.code, Some(0));

    // A failed run, its report and journal, and its resume.
    e2e.fault(json!({ "method": "DELETE", "path": "/apps/*/dynos", "status": 500 }))
        .await;
    let mut swap = vec![
        "-v",
        "--json",
        "swap-db",
        APP,
        "--confirm",
        APP,
        "--expect",
        &expect,
    ];
    swap.extend(timing);
    let failed = run(swap).await;
    assert_eq!(failed.code, Some(1), "{}", failed.show());
    let run_id = failed.json()["run_id"].as_str().unwrap().to_string();
    run(vec!["runs", "show", &run_id]).await;
    run(vec!["--json", "runs", "list"]).await;
    e2e.clear_faults().await;
    let resumed = run(vec!["-v", "resume", &run_id, "--confirm", APP]).await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.show());
    run(vec!["-v", "verify", APP, "--expect", &expect]).await;
    run(vec!["--json", "backup", "list", APP]).await;

    // What was looked for: the token, the first database's password and the new one's.
    let secrets = e2e.secrets();
    assert!(secrets.len() >= 3, "{} secrets known", secrets.len());
    assert!(secrets.iter().any(|s| s == TOKEN));
    // The scan itself finds a secret where there is one.
    let url = e2e.database_url().await;
    assert_eq!(e2e.leaks(&format!("token {TOKEN}")), 1);
    assert_eq!(e2e.leaks(&url), 1);

    for text in &outputs {
        e2e.assert_no_secret("an output", text);
    }
    assert_eq!(e2e.assert_journals_clean(), 2, "the reset and the swap");
    e2e.shutdown().await;
}
