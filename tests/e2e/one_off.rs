//! `herokuops run`: Ctrl-C stops the one-off dyno as well as the command that follows it.

use std::time::{Duration, Instant};

use super::harness::{E2e, glob, signal};
use crate::support::sandbox::APP;

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_the_one_off_dyno() {
    let e2e = E2e::start().await;
    let child = e2e.spawn(&["run", APP, "--", "sleep", "30"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !e2e.dyno_names().await.iter().any(|d| d.starts_with("run.")) {
        assert!(Instant::now() < deadline, "the one-off dyno never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Following its log (the session is open) means Ctrl-C is watched: it listens before it follows.
    assert!(
        e2e.until_request("POST", "/apps/*/log-sessions", Duration::from_secs(10))
            .await
    );
    signal(&child, "INT");
    let run = e2e.finish(child).await;
    assert_eq!(run.code, Some(130), "{}", run.show());
    assert!(run.stderr.contains("stopped run."), "{}", run.show());
    let stops: Vec<_> = e2e
        .requests()
        .await
        .into_iter()
        .filter(|r| {
            r["method"] == "POST"
                && glob("/apps/*/dynos/*/actions/stop", r["path"].as_str().unwrap())
        })
        .collect();
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(stops[0]["status"], 202);
    // The sleep ends with the stop, not 30 s later.
    let deadline = Instant::now() + Duration::from_secs(3);
    while e2e.dyno_names().await.iter().any(|d| d.starts_with("run.")) {
        assert!(
            Instant::now() < deadline,
            "the one-off dyno is still running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    e2e.shutdown().await;
}
