//! The multi-step flows of `herokuops::steps`, request by request: promote, backup capture and
//! follow, download and resume, restore, schedules, database resolve and wait, one-off runs, and
//! add-on create and destroy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use herokuops::api::models::{AddonId, Attachment};
use herokuops::api::{AddonCreate, ApiError};
use herokuops::steps::promote::{PromoteOptions, PromoteOutcome, promote};
use herokuops::steps::{Event, StepError, Wait, addons, backup, database, run};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use crate::contract::{
    APP, APP_ID, CREATED_ADDON, HeaderAbsent, PRIMARY, QueryIs, SECONDARY, TRANSFER, call,
    call_json, call_with_query, header_is, received, transfers_listed_once, with,
};
use crate::support::{client, fixture, json, server};

/// A quick poll with a deadline far enough not to be reached.
fn quick() -> Wait {
    Wait::new(Duration::from_millis(10), Duration::from_secs(5))
}

/// Runs a wait whose own deadline must end it; fails the test instead of hanging if it does not.
async fn bounded<T>(wait: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(3), wait)
        .await
        .expect("the wait ignored its deadline")
}

/// `POST /actions/addon-attachments/resolve` for `name`, answered with `answer`.
async fn mount_resolve(server: &MockServer, name: &str, answer: ResponseTemplate) {
    call_json(
        "POST",
        "/actions/addon-attachments/resolve",
        json!({ "addon_attachment": name, "app": APP }),
    )
    .and(header_is("accept-inclusion", "addon:plan,config_vars"))
    .respond_with(answer)
    .expect(1)
    .mount(server)
    .await;
}

async fn mount_attachments(server: &MockServer, attachments: Value) {
    call("GET", "/apps/tmi-server/addon-attachments")
        .and(header_is("accept-inclusion", "addon:plan,config_vars"))
        .respond_with(json(200, attachments))
        .expect(1)
        .mount(server)
        .await;
}

fn wait_status_path(addon: &str) -> String {
    format!("/client/v11/databases/{addon}/wait_status")
}

fn promote_body(addon: &str) -> Value {
    json!({
        "addon": { "name": addon },
        "app": { "name": APP },
        "confirm": APP,
        "name": "DATABASE",
        "namespace": null,
    })
}

/// The attachment `POST /addon-attachments` answers when `addon` becomes `name`.
fn attached(addon: &str, addon_id: &str, name: &str) -> Value {
    let mut a = fixture("attachment-created.json");
    a["name"] = json!(name);
    a["addon"]["name"] = json!(addon);
    a["addon"]["id"] = json!(addon_id);
    a
}

fn database_info(addon: &str, following: Option<&str>) -> Value {
    let mut info = fixture("database-info.json");
    info["addon_id"] = json!(addon);
    info["following"] = json!(following);
    info
}

/// The requests promote makes after the alias: availability, the promotion, the follower check
/// and the formation.
async fn mount_promotion(server: &MockServer, formation: &str, following: Option<&str>) {
    call("GET", &wait_status_path(SECONDARY))
        .respond_with(json(200, fixture("wait-status-available.json")))
        .expect(1)
        .mount(server)
        .await;
    call_json(
        "POST",
        "/addon-attachments",
        promote_body("postgresql-secondary-10002"),
    )
    .respond_with(json(
        201,
        attached("postgresql-secondary-10002", SECONDARY, "DATABASE"),
    ))
    .expect(1)
    .mount(server)
    .await;
    call("GET", &format!("/client/v11/databases/{SECONDARY}"))
        .respond_with(json(200, database_info(SECONDARY, following)))
        .expect(1)
        .mount(server)
        .await;
    call("GET", "/apps/tmi-server/formation")
        .respond_with(json(200, fixture(formation)))
        .expect(1)
        .mount(server)
        .await;
}

// ---------------------------------------------------------------------------------------------
// Promote.

#[tokio::test]
async fn promote_creates_an_alias_for_a_lone_database_first() {
    let server = server().await;
    mount_resolve(
        &server,
        "postgresql-secondary-10002",
        json(200, fixture("resolve-secondary.json")),
    )
    .await;
    mount_attachments(&server, fixture("attachments-primary-single.json")).await;
    call_json(
        "POST",
        "/addon-attachments",
        json!({
            "addon": { "name": "postgresql-primary-10001" },
            "app": { "name": APP },
            "confirm": APP,
            "namespace": null,
        }),
    )
    .respond_with(json(201, fixture("attachment-created.json")))
    .expect(1)
    .mount(&server)
    .await;
    mount_promotion(&server, "formation.json", None).await;

    let mut events = Vec::new();
    let outcome = promote(
        &client(&server),
        APP,
        "postgresql-secondary-10002",
        &PromoteOptions::default(),
        &mut |e: Event| events.push(e),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        PromoteOutcome::Promoted {
            addon: "postgresql-secondary-10002".into(),
            previous_alias: Some("HEROKU_POSTGRESQL_RED".into()),
            previous_addon: Some("postgresql-primary-10001".into()),
        }
    );
    assert_eq!(
        received(&server).await,
        [
            "POST /actions/addon-attachments/resolve".to_string(),
            "GET /apps/tmi-server/addon-attachments".into(),
            "POST /addon-attachments".into(),
            format!("GET {}", wait_status_path(SECONDARY)),
            "POST /addon-attachments".into(),
            format!("GET /client/v11/databases/{SECONDARY}"),
            "GET /apps/tmi-server/formation".into(),
        ],
        "the official order: alias, availability, promotion, follower check, formation"
    );
    assert!(events.contains(&Event::Status(
        "Ensuring an alternate alias for existing DATABASE_URL: HEROKU_POSTGRESQL_RED_URL".into()
    )));
    assert!(!events.iter().any(|e| matches!(e, Event::Warning(_))));
}

#[tokio::test]
async fn promote_keeps_an_existing_alias_and_moves_the_pooler() {
    let server = server().await;
    mount_resolve(
        &server,
        "HEROKU_POSTGRESQL_AMBER",
        json(200, fixture("resolve-secondary.json")),
    )
    .await;
    let mut attachments = fixture("attachments.json");
    let mut pooler = attachments[0].clone();
    pooler["id"] = json!("11111111-0000-4000-8000-000000000004");
    pooler["name"] = json!("DATABASE_CONNECTION_POOL");
    pooler["namespace"] = json!("connection-pooling:default");
    attachments.as_array_mut().unwrap().push(pooler);
    mount_attachments(&server, attachments).await;
    call_json(
        "POST",
        "/addon-attachments",
        json!({
            "addon": { "name": "postgresql-secondary-10002" },
            "app": { "name": APP },
            "confirm": APP,
            "name": "DATABASE_CONNECTION_POOL",
            "namespace": "connection-pooling:default",
        }),
    )
    .respond_with(json(
        201,
        attached(
            "postgresql-secondary-10002",
            SECONDARY,
            "DATABASE_CONNECTION_POOL",
        ),
    ))
    .expect(1)
    .mount(&server)
    .await;
    mount_promotion(&server, "formation.json", Some("postgresql-primary-10001")).await;

    let mut events = Vec::new();
    let outcome = promote(
        &client(&server),
        APP,
        "HEROKU_POSTGRESQL_AMBER",
        &PromoteOptions::default(),
        &mut |e: Event| events.push(e),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        PromoteOutcome::Promoted {
            addon: "postgresql-secondary-10002".into(),
            previous_alias: Some("HEROKU_POSTGRESQL_COBALT".into()),
            previous_addon: Some("postgresql-primary-10001".into()),
        }
    );
    let posts: Vec<String> = received(&server)
        .await
        .into_iter()
        .filter(|r| r == "POST /addon-attachments")
        .collect();
    assert_eq!(posts.len(), 2, "promotion and pooler, no alias");
    assert!(events.iter().any(
        |e| matches!(e, Event::Warning(w) if w.contains("follower of postgresql-primary-10001"))
    ));
}

#[tokio::test]
async fn promote_refuses_a_database_that_is_still_waiting() {
    let server = server().await;
    mount_resolve(
        &server,
        "postgresql-secondary-10002",
        json(200, fixture("resolve-secondary.json")),
    )
    .await;
    mount_attachments(&server, fixture("attachments.json")).await;
    call("GET", &wait_status_path(SECONDARY))
        .respond_with(json(200, fixture("wait-status-pending.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/addon-attachments"))
        .respond_with(json(201, json!({})))
        .expect(0)
        .named("no promotion while the target is waiting")
        .mount(&server)
        .await;
    let err = promote(
        &client(&server),
        APP,
        "postgresql-secondary-10002",
        &PromoteOptions::default(),
        &mut (),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not available yet (pending)"), "{text}");
    assert!(text.contains("nothing was promoted"), "{text}");
    assert!(err.hint().unwrap().contains("herokuops pg wait"));
}

#[tokio::test]
async fn promoting_the_current_database_changes_nothing() {
    let server = server().await;
    // The add-on name resolves to both of its attachments (DATABASE and COBALT).
    let attachments = fixture("attachments.json");
    mount_resolve(
        &server,
        "postgresql-primary-10001",
        json(200, json!([attachments[0], attachments[1]])),
    )
    .await;
    mount_attachments(&server, attachments).await;
    let outcome = promote(
        &client(&server),
        APP,
        "postgresql-primary-10001",
        &PromoteOptions::default(),
        &mut (),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        PromoteOutcome::AlreadyPromoted {
            addon: "postgresql-primary-10001".into()
        }
    );
    let not_reads: Vec<String> = received(&server)
        .await
        .into_iter()
        .filter(|r| !r.starts_with("GET "))
        .collect();
    assert_eq!(
        not_reads,
        ["POST /actions/addon-attachments/resolve"],
        "only the (read-only) resolve action"
    );
}

/// The releases a promotion makes, and the attach release answered `pending` once, then
/// `final_status`.
async fn mount_release_phase(server: &MockServer, final_status: &str) {
    call("GET", "/apps/tmi-server/releases")
        .and(header_is("range", "version ..; max=5, order=desc"))
        .respond_with(json(200, fixture("releases.json")))
        .expect(1)
        .mount(server)
        .await;
    let attach = "/apps/tmi-server/releases/a0000000-0000-4000-8000-000000000014";
    let pending = with(
        fixture("release-attach-succeeded.json"),
        "status",
        json!("pending"),
    );
    call("GET", attach)
        .respond_with(json(200, pending))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    call("GET", attach)
        .respond_with(json(
            200,
            with(
                fixture("release-attach-succeeded.json"),
                "status",
                json!(final_status),
            ),
        ))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn promote_watches_the_release_phase() {
    let server = server().await;
    mount_resolve(
        &server,
        "postgresql-secondary-10002",
        json(200, fixture("resolve-secondary.json")),
    )
    .await;
    mount_attachments(&server, fixture("attachments.json")).await;
    mount_promotion(&server, "formation-with-release.json", None).await;
    mount_release_phase(&server, "succeeded").await;
    let options = PromoteOptions {
        force: false,
        release_wait: Some(quick()),
    };
    let mut events = Vec::new();
    let outcome = promote(
        &client(&server),
        APP,
        "postgresql-secondary-10002",
        &options,
        &mut |e: Event| events.push(e),
    )
    .await
    .unwrap();
    assert!(matches!(outcome, PromoteOutcome::Promoted { .. }));
    assert!(events.contains(&Event::Status("release v14 is pending".into())));
}

#[tokio::test]
async fn a_failed_release_phase_says_which_database_is_attached() {
    let server = server().await;
    mount_resolve(
        &server,
        "postgresql-secondary-10002",
        json(200, fixture("resolve-secondary.json")),
    )
    .await;
    mount_attachments(&server, fixture("attachments.json")).await;
    mount_promotion(&server, "formation-with-release.json", None).await;
    mount_release_phase(&server, "failed").await;
    call(
        "GET",
        "/apps/tmi-server/releases/a0000000-0000-4000-8000-000000000013",
    )
    .respond_with(json(200, fixture("releases.json")[1].clone()))
    .expect(1)
    .mount(&server)
    .await;
    let options = PromoteOptions {
        force: false,
        release_wait: Some(quick()),
    };
    let err = promote(
        &client(&server),
        APP,
        "postgresql-secondary-10002",
        &options,
        &mut (),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("release phase"), "{text}");
    assert!(text.contains("NO DATABASE_URL"), "{text}");
    assert!(err.hint().unwrap().contains("releases:output 14"));
}

// ---------------------------------------------------------------------------------------------
// Resolving databases and waiting for them.

#[tokio::test]
async fn resolve_falls_back_to_config_vars_on_not_found() {
    let server = server().await;
    mount_resolve(
        &server,
        "DATABASE_URL",
        json(
            404,
            json!({ "id": "not_found", "message": "Couldn't find that add on attachment." }),
        ),
    )
    .await;
    mount_attachments(&server, fixture("attachments.json")).await;
    call("GET", "/apps/tmi-server/config-vars")
        .respond_with(json(200, fixture("config-vars.json")))
        .expect(1)
        .mount(&server)
        .await;
    let db = database::resolve(&client(&server), APP, None)
        .await
        .unwrap();
    assert_eq!(db.name, "DATABASE");
    assert_eq!(db.addon.id.as_str(), PRIMARY);
}

#[tokio::test]
async fn resolve_fallback_matches_by_config_var_value() {
    let server = server().await;
    mount_resolve(
        &server,
        "MY_DB_URL",
        json(
            404,
            json!({ "id": "not_found", "message": "Couldn't find that add on attachment." }),
        ),
    )
    .await;
    mount_attachments(&server, fixture("attachments.json")).await;
    let vars = with(
        fixture("config-vars.json"),
        "MY_DB_URL",
        json!("postgres://u2:secondary-pass@ec2-5-6-7-8.compute-1.amazonaws.com:5432/d2"),
    );
    call("GET", "/apps/tmi-server/config-vars")
        .respond_with(json(200, vars))
        .expect(1)
        .mount(&server)
        .await;
    let db = database::resolve(&client(&server), APP, Some("MY_DB_URL"))
        .await
        .unwrap();
    assert_eq!(db.name, "HEROKU_POSTGRESQL_AMBER");
    assert_eq!(db.addon.id.as_str(), SECONDARY);
}

#[tokio::test]
async fn resolve_keeps_other_errors() {
    let server = server().await;
    mount_resolve(
        &server,
        "DATABASE_URL",
        json(
            403,
            json!({ "id": "forbidden", "message": "You do not have access." }),
        ),
    )
    .await;
    let err = database::resolve(&client(&server), APP, None)
        .await
        .unwrap_err();
    assert_eq!(err.api().and_then(ApiError::status), Some(403));
}

#[tokio::test]
async fn pg_wait_treats_404_as_waiting_to_provision() {
    let server = server().await;
    let at = wait_status_path(SECONDARY);
    call("GET", &at)
        .respond_with(json(
            404,
            json!({ "id": "not_found", "message": "not found" }),
        ))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    call("GET", &at)
        .respond_with(json(200, fixture("wait-status-pending.json")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    call("GET", &at)
        .respond_with(json(200, fixture("wait-status-available.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut events = Vec::new();
    let message = database::wait_available(
        &client(&server),
        &AddonId::from(SECONDARY),
        quick(),
        &mut |e: Event| events.push(e),
    )
    .await
    .unwrap();
    assert_eq!(message, "Available");
    assert_eq!(
        events,
        [
            Event::Status("Waiting to provision...".into()),
            Event::Status("pending".into()),
        ]
    );
}

#[tokio::test]
async fn pg_wait_fails_on_error() {
    let server = server().await;
    call("GET", &wait_status_path(SECONDARY))
        .respond_with(json(
            200,
            json!({ "waiting?": true, "error?": true, "message": "provisioning failed" }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = database::wait_available(
        &client(&server),
        &AddonId::from(SECONDARY),
        quick(),
        &mut (),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StepError::DatabaseFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("provisioning failed"), "{err}");
}

#[tokio::test]
async fn pg_wait_gives_up_at_the_deadline() {
    let server = server().await;
    call("GET", &wait_status_path(SECONDARY))
        .respond_with(json(200, fixture("wait-status-pending.json")))
        .expect(2..=6)
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = bounded(database::wait_available(
        &client(&server),
        &AddonId::from(SECONDARY),
        Wait::new(Duration::from_millis(50), Duration::from_millis(200)),
        &mut (),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StepError::Timeout { after, .. } if *after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.to_string().contains("gave up waiting"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------
// Backups.

fn transfer_path() -> String {
    format!("/client/v11/apps/tmi-server/transfers/{TRANSFER}")
}

#[tokio::test]
async fn capture_follows_the_transfer_to_its_end() {
    let server = server().await;
    mount_resolve(
        &server,
        "DATABASE_URL",
        json(200, fixture("resolve-database.json")),
    )
    .await;
    let mut info = fixture("database-info.json");
    info["info"][5]["values"] = json!(["On"]);
    call("GET", &format!("/client/v11/databases/{PRIMARY}"))
        .respond_with(json(200, info))
        .expect(1)
        .mount(&server)
        .await;
    call("POST", &format!("/client/v11/databases/{PRIMARY}/backups"))
        .respond_with(json(201, fixture("transfer-started.json")))
        .expect(1)
        .mount(&server)
        .await;
    for state in ["transfer-started.json", "transfer-running.json"] {
        call("GET", &transfer_path())
            .respond_with(json(200, fixture(state)))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
    }
    call("GET", &transfer_path())
        .respond_with(json(200, fixture("transfer-finished.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut events = Vec::new();
    let done = backup::capture(&client(&server), APP, None, quick(), &mut |e: Event| {
        events.push(e)
    })
    .await
    .unwrap();
    assert!(done.succeeded);
    assert_eq!(done.status_text(), "Completed");
    assert_eq!(done.processed_bytes, 2345678);
    assert!(matches!(&events[0], Event::Warning(w) if w.contains("Continuous Protection")));
    assert_eq!(
        events[1..],
        [
            Event::Status("Backing up DATABASE to b002".into()),
            Event::Status("Pending".into()),
            Event::Bytes {
                done: 4096,
                total: Some(9017344)
            },
        ]
    );
}

#[tokio::test]
async fn capture_of_an_unprovisioned_database_stops_before_the_backup() {
    let server = server().await;
    mount_resolve(
        &server,
        "DATABASE_URL",
        json(200, fixture("resolve-database.json")),
    )
    .await;
    call("GET", &format!("/client/v11/databases/{PRIMARY}"))
        .respond_with(json(
            404,
            json!({ "id": "not_found", "message": "not found" }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = backup::capture(&client(&server), APP, None, quick(), &mut ())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not provisioned yet"), "{err}");
}

#[tokio::test]
async fn a_failed_transfer_reports_its_log_lines() {
    let server = server().await;
    let mut failed = fixture("transfer-failed-verbose.json");
    failed.as_object_mut().unwrap().remove("logs");
    call("GET", &transfer_path())
        .respond_with(json(200, failed))
        .expect(1)
        .mount(&server)
        .await;
    call_with_query("GET", &transfer_path(), "verbose=true")
        .respond_with(json(200, fixture("transfer-failed-verbose.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = backup::follow(&client(&server), APP, TRANSFER, quick(), &mut ())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("b002 failed"), "{text}");
    assert!(
        text.contains("pg_dump: error: connection to server lost"),
        "{text}"
    );
}

#[tokio::test]
async fn following_a_transfer_gives_up_at_the_deadline() {
    let server = server().await;
    call("GET", &transfer_path())
        .respond_with(json(200, fixture("transfer-running.json")))
        .expect(2..=6)
        .mount(&server)
        .await;
    let err = bounded(backup::follow(
        &client(&server),
        APP,
        TRANSFER,
        Wait::new(Duration::from_millis(50), Duration::from_millis(200)),
        &mut (),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, StepError::Timeout { .. }), "{err:?}");
}

/// The storage GET: plain, without the Heroku token, at the signed URL.
fn storage_get() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/storage/b002.dump"))
        .and(QueryIs("X-Amz-Signature=abc123"))
        .and(HeaderAbsent("authorization"))
}

async fn mount_public_url(server: &MockServer) {
    call(
        "POST",
        "/client/v11/apps/tmi-server/transfers/2/actions/public-url",
    )
    .respond_with(json(
        200,
        with(
            fixture("public-url.json"),
            "url",
            json!(format!(
                "{}/storage/b002.dump?X-Amz-Signature=abc123",
                server.uri()
            )),
        ),
    ))
    .expect(1)
    .mount(server)
    .await;
}

/// The app's transfers, b002 (the newest backup) being `size` bytes.
async fn mount_transfers_of_size(server: &MockServer, size: usize) {
    let mut transfers = fixture("transfers.json");
    transfers[1]["processed_bytes"] = json!(size);
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .respond_with(json(200, transfers))
        .expect(1)
        .mount(server)
        .await;
}

/// A partial file of b002 as an interrupted download leaves it: the bytes and their record.
fn interrupted_download(target: &std::path::Path, bytes: &[u8], size: usize) {
    std::fs::write(backup::partial_path(target), bytes).unwrap();
    let record = backup::PartialIdentity {
        transfer: TRANSFER.into(),
        size: Some(size as u64),
        validator: None,
    };
    std::fs::write(
        backup::partial_identity_path(target),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
}

fn dump_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn download_gets_the_public_url_without_the_token() {
    let server = server().await;
    let dump = dump_bytes(3 * 1024 * 1024 + 17);
    mount_transfers_of_size(&server, dump.len()).await;
    mount_public_url(&server).await;
    storage_get()
        .and(HeaderAbsent("range"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(dump.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("latest.dump");
    let mut events = Vec::new();
    let done = backup::download(&client(&server), APP, None, &target, &mut |e: Event| {
        events.push(e)
    })
    .await
    .unwrap();
    assert_eq!(done.bytes, dump.len() as u64);
    assert_eq!(done.resumed_from, 0);
    assert!(std::fs::read(&target).unwrap() == dump, "the file differs");
    assert!(!backup::partial_path(&target).exists());
    assert!(!backup::partial_identity_path(&target).exists());
    assert_eq!(
        events.last(),
        Some(&Event::Bytes {
            done: dump.len() as u64,
            total: Some(dump.len() as u64)
        })
    );
}

#[tokio::test]
async fn an_interrupted_download_resumes_with_range() {
    let server = server().await;
    let dump = dump_bytes(1024 * 1024 + 5);
    mount_transfers_of_size(&server, dump.len()).await;
    mount_public_url(&server).await;
    let have = 300_001;
    storage_get()
        .and(header_is("range", format!("bytes={have}-")))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header(
                    "Content-Range",
                    format!("bytes {have}-{}/{}", dump.len() - 1, dump.len()),
                )
                .set_body_bytes(dump[have..].to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("b002.dump");
    interrupted_download(&target, &dump[..have], dump.len());
    let done = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(done.resumed_from, have as u64);
    assert_eq!(done.bytes, dump.len() as u64);
    assert!(std::fs::read(&target).unwrap() == dump, "the file differs");
    assert!(!backup::partial_path(&target).exists());
}

#[tokio::test]
async fn a_server_ignoring_range_restarts_the_download() {
    let server = server().await;
    let dump = dump_bytes(200_000);
    mount_transfers_of_size(&server, dump.len()).await;
    mount_public_url(&server).await;
    storage_get()
        .and(header_is("range", "bytes=1000-"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(dump.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("b002.dump");
    interrupted_download(&target, &[0xEE; 1000], dump.len());
    let done = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(done.resumed_from, 0);
    assert!(std::fs::read(&target).unwrap() == dump, "the file differs");
}

#[tokio::test]
async fn a_complete_partial_file_of_the_same_backup_is_kept_without_a_request() {
    let server = server().await;
    let dump = dump_bytes(4096);
    mount_transfers_of_size(&server, dump.len()).await;
    mount_public_url(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("b002.dump");
    interrupted_download(&target, &dump, dump.len());
    let done = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(done.bytes, 4096);
    assert!(std::fs::read(&target).unwrap() == dump, "the file differs");
}

#[tokio::test]
async fn restore_posts_the_latest_backup_url_and_follows_under_the_app_id() {
    let server = server().await;
    transfers_listed_once(&server).await;
    let restore = fixture("transfers.json")[2].clone();
    let uuid = restore["uuid"].as_str().unwrap().to_string();
    call_json(
        "POST",
        &format!("/client/v11/databases/{PRIMARY}/restores"),
        json!({
            "backup_url": "https://storage.example/backups/b002.dump",
            "extensions": ["postgis"],
        }),
    )
    .respond_with(json(201, with(restore.clone(), "finished_at", json!(null))))
    .expect(1)
    .mount(&server)
    .await;
    call(
        "GET",
        &format!("/client/v11/apps/{APP_ID}/transfers/{uuid}"),
    )
    .respond_with(json(200, restore))
    .expect(1)
    .mount(&server)
    .await;
    let api = client(&server);
    let url = backup::backup_url(&api, APP, None).await.unwrap();
    assert_eq!(url, "https://storage.example/backups/b002.dump");
    let db: Attachment =
        serde_json::from_value(fixture("resolve-database.json")[0].clone()).unwrap();
    let done = backup::restore(&api, &db, &url, &["PostGIS".into()], quick(), &mut ())
        .await
        .unwrap();
    assert_eq!(done.display_name(), "r003");
    assert!(done.succeeded);
}

#[tokio::test]
async fn schedule_and_unschedule() {
    let server = server().await;
    call_json(
        "POST",
        "/actions/addon-attachments/resolve",
        json!({ "addon_attachment": "DATABASE_URL", "app": APP }),
    )
    .and(header_is("accept-inclusion", "addon:plan,config_vars"))
    .respond_with(json(200, fixture("resolve-database.json")))
    .expect(2)
    .mount(&server)
    .await;
    call("GET", &format!("/client/v11/databases/{PRIMARY}"))
        .respond_with(json(200, fixture("database-info.json")))
        .expect(1)
        .mount(&server)
        .await;
    let schedules = format!("/client/v11/databases/{PRIMARY}/transfer-schedules");
    call_json(
        "POST",
        &schedules,
        json!({ "hour": "05", "timezone": "Europe/Paris", "schedule_name": "DATABASE_URL" }),
    )
    .respond_with(json(201, json!({})))
    .expect(1)
    .mount(&server)
    .await;
    call("GET", &schedules)
        .respond_with(json(200, fixture("schedules.json")))
        .expect(1)
        .mount(&server)
        .await;
    call(
        "DELETE",
        &format!("{schedules}/5c4e0000-0000-4000-8000-000000000001"),
    )
    .respond_with(json(200, json!({})))
    .expect(1)
    .mount(&server)
    .await;
    let api = client(&server);
    let (hour, tz) = backup::parse_schedule_time("05:00 CET").unwrap();
    let name = backup::schedule(&api, APP, None, hour, &tz).await.unwrap();
    assert_eq!(name, "DATABASE_URL");
    assert!(backup::unschedule(&api, APP, None).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// One-off runs.

/// `run::run` of `bin/migrate` (with `TERM=dumb`) against the mocks: its outcome and output.
async fn run_bin_migrate(server: &MockServer, timeout: Duration) -> (run::RunOutcome, Vec<String>) {
    let mut output = Vec::new();
    let outcome = run::run(
        &client(server),
        APP,
        "bin/migrate",
        BTreeMap::from([("TERM".to_string(), "dumb".to_string())]),
        timeout,
        |line| output.push(line.to_string()),
    )
    .await
    .unwrap();
    (outcome, output)
}

/// The app and the detached dyno that `run::run` starts for `bin/migrate`.
async fn mount_one_off_start(server: &MockServer) {
    call("GET", "/apps/tmi-server")
        .respond_with(json(200, fixture("app.json")))
        .expect(1)
        .mount(server)
        .await;
    call_json(
        "POST",
        "/apps/tmi-server/dynos",
        json!({ "attach": false, "command": "bin/migrate", "env": { "TERM": "dumb" } }),
    )
    .respond_with(json(201, fixture("dyno-one-off.json")))
    .expect(1)
    .mount(server)
    .await;
}

#[tokio::test]
async fn run_reads_the_exit_status_from_the_log_stream() {
    let server = server().await;
    mount_one_off_start(&server).await;
    call_json(
        "POST",
        "/apps/tmi-server/log-sessions",
        json!({ "dyno_name": "run.4242", "tail": true }),
    )
    .respond_with(json(
        201,
        with(
            fixture("log-session.json"),
            "logplex_url",
            json!(format!("{}/sessions/abc?srv=1", server.uri())),
        ),
    ))
    .expect(1)
    .mount(&server)
    .await;
    let log = "\
id: 1
data: 2026-11-22T10:00:00+00:00 heroku[run.4242]: Starting process with command `bin/migrate`
data: 2026-11-22T10:00:01+00:00 heroku[run.4242]: State changed from starting to up

id: 2
data: 2026-11-22T10:00:02+00:00 app[run.4242]: migrating 3 tables
data: 2026-11-22T10:00:02+00:00 app[web.1]: another dyno's line
data: 2026-11-22T10:00:03+00:00 app[run.4242]: error: table busy
data: 2026-11-22T10:00:04+00:00 heroku[run.4242]: Process exited with status 3
data: 2026-11-22T10:00:04+00:00 app[run.4242]: never read

";
    Mock::given(method("GET"))
        .and(path("/sessions/abc"))
        .and(QueryIs("srv=1"))
        .and(HeaderAbsent("authorization"))
        .and(header("accept", "text/event-stream"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(log.as_bytes().to_vec(), "text/event-stream"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (outcome, output) = run_bin_migrate(&server, Duration::from_secs(5)).await;
    assert_eq!(outcome.dyno, "run.4242");
    assert_eq!(outcome.exit_status, 3);
    assert_eq!(output, ["migrating 3 tables", "error: table busy"]);
    let err = herokuops::Error::Exited {
        what: outcome.dyno,
        status: outcome.exit_status,
    };
    assert_eq!(err.exit_code(), 3);
}

/// A log stream that ends before the exit line (a quiet command, an expired session) is
/// followed again while the dyno exists, replaying its last lines without showing them twice.
#[tokio::test]
async fn run_follows_a_new_log_session_when_the_stream_ends_early() {
    let server = server().await;
    mount_one_off_start(&server).await;
    for (body, session) in [
        (json!({ "dyno_name": "run.4242", "tail": true }), "first"),
        (
            json!({ "dyno_name": "run.4242", "lines": 10, "tail": true }),
            "second",
        ),
    ] {
        call_json("POST", "/apps/tmi-server/log-sessions", body)
            .respond_with(json(
                201,
                with(
                    fixture("log-session.json"),
                    "logplex_url",
                    json!(format!("{}/sessions/{session}", server.uri())),
                ),
            ))
            .expect(1)
            .mount(&server)
            .await;
    }
    call("GET", "/apps/tmi-server/dynos/run.4242")
        .respond_with(json(200, fixture("dyno-one-off.json")))
        .expect(1)
        .mount(&server)
        .await;
    let first = "\
data: 2026-11-22T10:00:02+00:00 app[run.4242]: building index
";
    let second = "\
data: 2026-11-22T10:00:02+00:00 app[run.4242]: building index
data: 2026-11-22T10:03:10+00:00 app[run.4242]: done
data: 2026-11-22T10:03:10+00:00 heroku[run.4242]: Process exited with status 0
";
    for (session, body) in [("first", first), ("second", second)] {
        Mock::given(method("GET"))
            .and(path(format!("/sessions/{session}")))
            .and(HeaderAbsent("authorization"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(body.as_bytes().to_vec(), "text/event-stream"),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let (outcome, output) = run_bin_migrate(&server, Duration::from_secs(10)).await;
    assert_eq!(outcome.exit_status, 0);
    assert_eq!(output, ["building index", "done"]);
}

// ---------------------------------------------------------------------------------------------
// Add-ons.

#[tokio::test]
async fn addon_create_waits_until_provisioned() {
    let server = server().await;
    call_json(
        "POST",
        "/apps/tmi-server/addons",
        json!({ "attachment": { "name": "NEWDB" }, "config": {}, "plan": { "name": "heroku-postgresql:essential-0" } }),
    )
    .and(header_is("accept-expansion", "plan"))
    .respond_with(json(201, fixture("addon-created.json")))
    .expect(1)
    .mount(&server)
    .await;
    let at = "/apps/tmi-server/addons/postgresql-created-10003";
    call("GET", at)
        .and(header_is("accept-expansion", "addon_service,plan"))
        .respond_with(json(200, fixture("addon-created.json")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    call("GET", at)
        .and(header_is("accept-expansion", "addon_service,plan"))
        .respond_with(json(200, fixture("addon-provisioned.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut events = Vec::new();
    let addon = addons::create(
        &client(&server),
        APP,
        &AddonCreate {
            plan: "heroku-postgresql:essential-0".into(),
            attachment_name: Some("NEWDB".into()),
            ..Default::default()
        },
        Some(quick()),
        &mut |e: Event| events.push(e),
    )
    .await
    .unwrap();
    assert_eq!(addon.state, "provisioned");
    assert_eq!(
        events,
        [Event::Status(
            "postgresql-created-10003 is provisioning".into()
        )]
    );
}

#[tokio::test]
async fn addon_destroy_resolves_then_deletes_by_ids() {
    let server = server().await;
    call_json(
        "POST",
        "/actions/addons/resolve",
        json!({ "addon": "postgresql-created-10003", "app": APP }),
    )
    .respond_with(json(200, json!([fixture("addon-provisioned.json")])))
    .expect(1)
    .mount(&server)
    .await;
    call("DELETE", &format!("/apps/{APP_ID}/addons/{CREATED_ADDON}"))
        .respond_with(json(200, fixture("addon-deprovisioning.json")))
        .expect(1)
        .mount(&server)
        .await;
    let addon = addons::destroy(&client(&server), APP, "postgresql-created-10003")
        .await
        .unwrap();
    assert_eq!(addon.state, "deprovisioning");
}

#[tokio::test]
async fn addon_destroy_refuses_another_apps_addon() {
    let server = server().await;
    let mut other = fixture("addon-provisioned.json");
    other["app"] = json!({ "id": "99999999-0000-4000-8000-000000000000", "name": "other-app" });
    call_json(
        "POST",
        "/actions/addons/resolve",
        json!({ "addon": "postgresql-created-10003", "app": APP }),
    )
    .respond_with(json(200, json!([other])))
    .expect(1)
    .mount(&server)
    .await;
    Mock::given(method("DELETE"))
        .respond_with(json(200, json!({})))
        .expect(0)
        .named("no destroy of another app's add-on")
        .mount(&server)
        .await;
    let err = addons::destroy(&client(&server), APP, "postgresql-created-10003")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("belongs to app other-app"),
        "{err}"
    );
}

#[tokio::test]
async fn restarting_a_process_type_the_app_lacks_names_the_ones_it_has() {
    let server = server().await;
    call("DELETE", "/apps/tmi-server/formations/wrk")
        .respond_with(json(
            404,
            json!({ "id": "not_found", "message": "Couldn't find that formation." }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server/formation")
        .respond_with(json(200, fixture("formation.json")))
        .expect(1)
        .mount(&server)
        .await;
    let target = herokuops::api::RestartTarget::ProcessType("wrk".into());
    let err = herokuops::steps::dynos::restart(&client(&server), APP, &target)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "tmi-server has no process type wrk");
    let hint = err.hint().unwrap();
    assert!(hint.contains("web") && hint.contains("worker"), "{hint}");
    assert!(!hint.contains("app name"), "{hint}");
    assert_eq!(herokuops::Error::from(err).exit_code(), 2);
}
