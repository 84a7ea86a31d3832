//! What a step run again recognises, step by step against a mock Heroku: the add-on a lost
//! create request made is adopted, not made twice; a promotion already made is recognised with
//! the database it moved the app off; and what a step must know before a request that may be
//! lost is saved before the request is sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herokuops::playbooks::StepKind;
use herokuops::playbooks::executor::{HerokuExecutor, PlaybookOptions};
use herokuops::playbooks::journal::RunState;
use herokuops::playbooks::runner::Executor;
use herokuops::steps::promote::{PromoteOutcome, Promotion, promote_once};
use herokuops::steps::{StepError, migrate::Migrate};
use serde_json::json;

use crate::contract::{call, call_json};
use crate::support::{client, fixture, json, server};

const APP: &str = "tmi-server";
const PLAN: &str = "heroku-postgresql:essential-0";

fn swap_options() -> PlaybookOptions {
    PlaybookOptions {
        app: APP.into(),
        plan: Some(PLAN.into()),
        expect: None,
        migrate: Migrate::Restart,
        timeout: Duration::from_secs(5),
        interval: Duration::from_millis(10),
        restore_from: None,
        restore_url_withheld: false,
        restore_extensions: Vec::new(),
        run_command: None,
        drop_dependents: false,
        database: None,
        push_from: None,
        push_password: None,
    }
}

fn executor(server: &wiremock::MockServer) -> HerokuExecutor {
    let steps = [StepKind::AddonsCreate, StepKind::PgPromote];
    HerokuExecutor::new(client(server), swap_options(), &steps, Box::new(())).unwrap()
}

#[tokio::test]
async fn an_addon_made_by_a_lost_create_request_is_adopted_not_made_again() {
    let server = server().await;
    // Before the lost request only the primary existed; now the secondary is there too.
    call("GET", "/apps/tmi-server/addons")
        .respond_with(json(200, fixture("addons.json")))
        .expect(1)
        .mount(&server)
        .await;
    call("POST", "/apps/tmi-server/addons")
        .respond_with(json(201, fixture("addon-created.json")))
        .expect(0)
        .mount(&server)
        .await;
    let mut state = RunState::default();
    state.addon.before = Some(vec!["postgresql-primary-10001".into()]);
    let detail = executor(&server)
        .execute(StepKind::AddonsCreate, &mut state, &mut |_| Ok(()))
        .await
        .unwrap();
    assert!(
        detail.starts_with("adopted postgresql-secondary-10002"),
        "{detail}"
    );
    assert_eq!(
        state.addon.created.as_deref(),
        Some("postgresql-secondary-10002")
    );
    assert_eq!(state.addon.before, None, "nothing is left to adopt");
}

#[tokio::test]
async fn the_addons_before_a_create_are_saved_before_the_request_goes() {
    let server = server().await;
    call("GET", "/apps/tmi-server/addons")
        .respond_with(json(200, fixture("addons.json")))
        .expect(2)
        .mount(&server)
        .await;
    call_json(
        "POST",
        "/apps/tmi-server/addons",
        json!({ "attachment": {}, "config": {}, "plan": { "name": PLAN } }),
    )
    .respond_with(json(201, fixture("addon-created.json")))
    .expect(1)
    .mount(&server)
    .await;

    // A journal that cannot be written stops the step before its request.
    let mut state = RunState::default();
    let err = executor(&server)
        .execute(StepKind::AddonsCreate, &mut state, &mut |_| {
            Err(StepError::file(
                "write the run journal",
                "/nowhere/run.json",
                std::io::Error::other("disk full"),
            ))
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("run journal"), "{err}");

    // Written, it holds the add-ons that were there before the create request.
    let saved: Arc<Mutex<Vec<RunState>>> = Arc::default();
    let mut state = RunState::default();
    let journal = saved.clone();
    let detail = executor(&server)
        .execute(StepKind::AddonsCreate, &mut state, &mut move |s| {
            journal.lock().unwrap().push(s.clone());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(detail, format!("created postgresql-created-10003 ({PLAN})"));
    let saved = saved.lock().unwrap();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(
        saved[0].addon.before.as_deref(),
        Some(
            &[
                "postgresql-primary-10001".to_string(),
                "postgresql-secondary-10002".to_string()
            ][..]
        )
    );
    assert_eq!(saved[0].addon.created, None, "saved before the answer came");
}

#[tokio::test]
async fn a_promotion_already_made_is_recognised_with_the_database_it_replaced() {
    let server = server().await;
    let attachments = fixture("attachments.json");
    call_json(
        "POST",
        "/actions/addon-attachments/resolve",
        json!({ "addon_attachment": "postgresql-primary-10001", "app": APP }),
    )
    .respond_with(json(200, json!([attachments[0], attachments[1]])))
    .expect(1)
    .mount(&server)
    .await;
    // Once to see who is DATABASE, once to find the alias of the database it replaced.
    call("GET", "/apps/tmi-server/addon-attachments")
        .respond_with(json(200, attachments))
        .expect(2)
        .mount(&server)
        .await;
    // The earlier attempt noted where the app was before its request's answer was lost.
    let mut memory = Promotion {
        promoting_from: Some("postgresql-secondary-10002".into()),
        ..Default::default()
    };
    let outcome = promote_once(
        &client(&server),
        APP,
        "postgresql-primary-10001",
        &mut memory,
        &mut |_| Ok(()),
        &mut (),
    )
    .await
    .unwrap();
    assert!(matches!(outcome, PromoteOutcome::AlreadyPromoted { .. }));
    assert_eq!(
        memory.previous_addon.as_deref(),
        Some("postgresql-secondary-10002")
    );
    assert_eq!(
        memory.previous_alias.as_deref(),
        Some("HEROKU_POSTGRESQL_AMBER")
    );
}
