//! `swap-db --copy` and `pg copy` against the sandbox: the old database's rows arrive in the new
//! one inside the maintenance window, before the promotion; a copy that fails leaves the app
//! on its old database with maintenance off, and `resume` completes; a resumed run follows the
//! copy it started instead of starting another, and adopts one whose answer was lost.

use serde_json::{Value, json};

use super::harness::{E2e, Run, fault, has_seed, tables_and_rows};
use crate::support::sandbox::APP;

const COPIES: &str = "/client/v11/databases/*/transfers";

/// The run's copy requests (`POST .../transfers`), in order.
async fn copy_requests(e2e: &E2e) -> Vec<Value> {
    e2e.requests()
        .await
        .into_iter()
        .filter(|r| {
            r["method"] == "POST" && super::harness::glob(COPIES, r["path"].as_str().unwrap())
        })
        .collect()
}

fn steps(report: &Value) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().into(),
                s["status"].as_str().unwrap().into(),
            )
        })
        .collect()
}

async fn swap_copy(e2e: &E2e, extra: &[&str]) -> Run {
    let mut args = vec![
        "--json",
        "swap-db",
        APP,
        "--copy",
        "--confirm",
        APP,
        "--interval",
        "200ms",
    ];
    args.extend(extra);
    e2e.run(&args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn swap_db_copy_brings_the_rows_into_the_new_database_inside_maintenance() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let old = e2e.database_url().await;
    let run = swap_copy(&e2e, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let report = run.json();
    let names: Vec<String> = steps(&report).into_iter().map(|(s, _)| s).collect();
    let at = |step: &str| names.iter().position(|s| s == step).unwrap();
    assert!(
        at("maintenance.on") < at("pg.copy") && at("pg.copy") < at("pg.promote"),
        "{names:?}"
    );
    let copied = &report["steps"][at("pg.copy")]["detail"];
    assert!(copied.as_str().unwrap().contains("25 tables"), "{copied}");

    let new = e2e.database_url().await;
    assert_ne!(new, old);
    assert!(
        has_seed(&tables_and_rows(&new).await.unwrap()),
        "the rows came along"
    );
    assert!(!e2e.maintenance().await);
    // One copy, sent while the app was in maintenance and before the promotion.
    let requests = e2e.requests().await;
    let seq = |matches: &dyn Fn(&Value) -> bool| {
        requests
            .iter()
            .find(|r| matches(r))
            .map(|r| r["seq"].as_u64().unwrap())
            .unwrap()
    };
    let on = seq(&|r| r["method"] == "PATCH" && r["body"] == json!({ "maintenance": true }));
    let copy =
        seq(&|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/transfers"));
    let promote = seq(&|r| r["method"] == "POST" && r["body"]["name"] == "DATABASE");
    assert!(
        on < copy && copy < promote,
        "maintenance {on}, copy {copy}, promotion {promote}"
    );
    assert_eq!(copy_requests(&e2e).await.len(), 1);
    e2e.assert_journals_clean();
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_copy_leaves_the_app_on_its_old_database_and_resume_completes() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let old = e2e.database_url().await;
    e2e.fault(fault(
        "POST",
        COPIES,
        json!({ "transfer_error": "the target ran out of disk", "times": 1 }),
    ))
    .await;
    let failed = swap_copy(&e2e, &[]).await;
    assert_eq!(failed.code, Some(1), "{}", failed.show());
    assert!(
        failed.stderr.contains("the target ran out of disk"),
        "{}",
        failed.show()
    );
    assert_eq!(e2e.database_url().await, old, "still on the old database");
    assert!(!e2e.maintenance().await, "maintenance off again");
    assert!(has_seed(&tables_and_rows(&old).await.unwrap()));
    let report = failed.json();
    assert!(
        steps(&report).contains(&("pg.copy".into(), "failed".into())),
        "{report:#}"
    );
    assert!(
        steps(&report).contains(&("pg.promote".into(), "pending".into())),
        "{report:#}"
    );

    let run_id = report["run_id"].as_str().unwrap();
    let resumed = e2e
        .run(&[
            "--json",
            "resume",
            run_id,
            "--confirm",
            APP,
            "--interval",
            "200ms",
        ])
        .await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.show());
    let new = e2e.database_url().await;
    assert_ne!(new, old);
    assert!(has_seed(&tables_and_rows(&new).await.unwrap()));
    assert!(!e2e.maintenance().await);
    assert_eq!(
        copy_requests(&e2e).await.len(),
        2,
        "the failed copy, then a new one"
    );
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_copy_follows_the_transfer_it_started() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    // Every look at the copy fails while the copy goes on at Heroku.
    let polls = "/client/v11/apps/*/transfers/*";
    e2e.fault(fault("GET", polls, json!({ "status": 404 })))
        .await;
    let failed = swap_copy(&e2e, &["--no-backup"]).await;
    assert_eq!(failed.code, Some(1), "{}", failed.show());
    let report = failed.json();
    let transfer = report["state"]["copy_transfer"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!e2e.maintenance().await);

    e2e.clear_faults().await;
    let resumed = e2e
        .run(&[
            "--json",
            "resume",
            report["run_id"].as_str().unwrap(),
            "--confirm",
            APP,
            "--interval",
            "200ms",
        ])
        .await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.show());
    let after = resumed.json();
    assert_eq!(after["state"]["copy_transfer"], transfer.as_str());
    assert_eq!(copy_requests(&e2e).await.len(), 1, "no second copy");
    assert!(has_seed(
        &tables_and_rows(&e2e.database_url().await).await.unwrap()
    ));
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_whose_answer_was_lost_is_adopted() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    e2e.fault(fault(
        "POST",
        COPIES,
        json!({ "status": 500, "after_handling": true, "times": 1 }),
    ))
    .await;
    let run = swap_copy(&e2e, &["--no-backup"]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(
        copy_requests(&e2e).await.len(),
        1,
        "the lost request's copy was adopted"
    );
    assert!(has_seed(
        &tables_and_rows(&e2e.database_url().await).await.unwrap()
    ));
    e2e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_copy_needs_confirmation_and_leaves_the_same_rows_on_both() {
    let e2e = E2e::start().await;
    e2e.seed().await;
    let run = e2e
        .run(&[
            "addons",
            "create",
            APP,
            "heroku-postgresql:essential-0",
            "--wait",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let amber = e2e.config_var("HEROKU_POSTGRESQL_AMBER_URL").await.unwrap();
    let args = ["pg", "copy", APP, "DATABASE_URL", "HEROKU_POSTGRESQL_AMBER"];
    let refused = e2e.run(&args).await;
    assert_eq!(refused.code, Some(2), "{}", refused.show());
    assert!(copy_requests(&e2e).await.is_empty());
    assert!(tables_and_rows(&amber).await.unwrap().is_empty());

    let mut confirmed = vec!["--json"];
    confirmed.extend(args);
    confirmed.extend(["--confirm", APP]);
    let run = e2e.run(&confirmed).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let done = run.json();
    assert_eq!(
        (done["from"].as_str(), done["to"].as_str()),
        (Some("DATABASE"), Some("AMBER"))
    );
    assert_eq!(done["tables"], 25);
    assert!(done["safety_backup"].as_str().unwrap().starts_with('b'));
    assert!(has_seed(&tables_and_rows(&amber).await.unwrap()));
    let request = &copy_requests(&e2e).await[0];
    assert_eq!(request["body"]["from_name"], "DATABASE");
    assert_eq!(request["body"]["to_name"], "AMBER");
    e2e.shutdown().await;
}
