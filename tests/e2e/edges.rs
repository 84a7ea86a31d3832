//! The edges of issue 11 end to end: herokuops, the binary, against a sandbox whose databases
//! are real. Each test is named after the item it covers.

use serde_json::json;

use super::harness::{E2e, fault};
use crate::support::sandbox::APP;

#[tokio::test(flavor = "multi_thread")]
async fn item_09_pg_wait_timeout_bounds_the_whole_wait_including_a_held_request() {
    let e2e = E2e::start().await;
    // wait_status is held far longer than any deadline of ours.
    e2e.fault(fault(
        "GET",
        "/client/v11/databases/*/wait_status",
        json!({ "delay_ms": 300_000 }),
    ))
    .await;
    for args in [
        &["pg", "wait", APP, "--timeout", "2s", "--interval", "200ms"][..],
        &[
            "pg",
            "wait",
            APP,
            "DATABASE_URL",
            "--timeout",
            "2s",
            "--interval",
            "200ms",
        ],
    ] {
        let run = e2e.run(args).await;
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.show());
        assert!(
            run.stderr.contains("gave up waiting after 2s"),
            "{args:?}: {}",
            run.show()
        );
    }
    e2e.shutdown().await;
}
