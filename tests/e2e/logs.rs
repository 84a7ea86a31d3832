//! `logs` against the sandbox: `-n` lines, `--source` and `--dyno` filters, and a tail that
//! shows new lines as they come and ends with exit 0 on Ctrl-C.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::harness::{E2e, signal};
use crate::support::sandbox::APP;

#[tokio::test(flavor = "multi_thread")]
async fn logs_show_the_last_n_lines_of_a_source_or_a_dyno() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let run = e2e.run(&["logs", APP, "-n", "3"]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.show());

    let run = e2e
        .run(&["logs", APP, "-n", "50", "--source", "heroku"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.len() >= 4,
        "two dynos started and came up: {}",
        run.show()
    );
    assert!(
        lines.iter().all(|l| l.contains(" heroku[")),
        "{}",
        run.show()
    );

    let run = e2e
        .run(&[
            "--json", "logs", APP, "-n", "50", "--source", "app", "--dyno", "web",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let lines = run.json()["lines"].as_array().unwrap().clone();
    assert!(!lines.is_empty(), "{}", run.show());
    assert!(
        lines
            .iter()
            .all(|l| l["source"] == "app" && l["dyno"].as_str().unwrap().starts_with("web.")),
        "{}",
        run.show()
    );
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tail_shows_new_lines_and_ends_with_exit_0_on_ctrl_c() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let mut child = e2e.spawn(&["logs", APP, "--tail", "-n", "1"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut shown = Vec::new();
    // The backlog's one line first: the session is open and followed.
    shown.push(
        next(&mut lines)
            .await
            .expect("a first line")
            .unwrap()
            .unwrap(),
    );
    let (status, _) = e2e.client.delete(&format!("/apps/{APP}/dynos")).await;
    assert_eq!(status, 202);
    loop {
        let line = next(&mut lines)
            .await
            .expect("the restart's lines come")
            .unwrap()
            .unwrap();
        let restarted = line.contains("heroku[web.1]: Restarting");
        shown.push(line);
        if restarted {
            break;
        }
    }
    signal(&child, "INT");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the tail ends on Ctrl-C")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "a tail ended on purpose is a success"
    );
    e2e.assert_no_secret("the tail", &shown.join("\n"));
    e2e.shutdown().await;
}

/// The next line of a tail's output, within a bound.
async fn next(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Result<std::io::Result<Option<String>>, tokio::time::error::Elapsed> {
    tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await
}
