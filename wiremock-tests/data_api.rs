//! Every Postgres data API operation of the client (`/client/v11/...`): method, path, query,
//! headers and exact body of the request, and the decoded answer.

use herokuops::api::BackupSchedule;
use herokuops::api::models::AddonId;
use serde_json::json;

use crate::contract::{
    APP, APP_ID, PRIMARY, TRANSFER, call, call_json, call_with_query, transfers_listed_once, with,
};
use crate::support::{client, fixture, json, server};

fn primary() -> AddonId {
    AddonId::from(PRIMARY)
}

#[tokio::test]
async fn database_info() {
    let server = server().await;
    call("GET", &format!("/client/v11/databases/{PRIMARY}"))
        .respond_with(json(200, fixture("database-info.json")))
        .expect(1)
        .mount(&server)
        .await;
    let info = client(&server).database_info(&primary()).await.unwrap();
    assert_eq!(info.addon_id, Some(primary()));
    assert_eq!(info.plan.as_deref(), Some("essential-0"));
    assert_eq!(info.info_value("Plan").as_deref(), Some("Essential 0"));
    assert_eq!(info.info_value("Tables").as_deref(), Some("25"));
    assert_eq!(
        info.info_value("Continuous Protection").as_deref(),
        Some("Off")
    );
    assert_eq!(info.num_bytes, Some(9017344));
    assert_eq!(info.waiting, Some(false));
    assert_eq!(info.following, None);
    assert!(info.resource_url.unwrap().starts_with("postgres://u1:"));
}

#[tokio::test]
async fn wait_status() {
    let server = server().await;
    call(
        "GET",
        &format!("/client/v11/databases/{PRIMARY}/wait_status"),
    )
    .respond_with(json(200, fixture("wait-status-pending.json")))
    .expect(1)
    .mount(&server)
    .await;
    let status = client(&server).wait_status(&primary()).await.unwrap();
    assert!(status.waiting);
    assert!(!status.error);
    assert_eq!(status.message, "pending");
}

#[tokio::test]
async fn capture_backup_sends_no_body_and_no_content_type() {
    let server = server().await;
    // `call` includes `NoBody`: an empty body and no Content-Type header.
    call("POST", &format!("/client/v11/databases/{PRIMARY}/backups"))
        .respond_with(json(201, fixture("transfer-started.json")))
        .expect(1)
        .mount(&server)
        .await;
    let transfer = client(&server).capture_backup(&primary()).await.unwrap();
    assert_eq!(transfer.uuid.as_str(), TRANSFER);
    assert_eq!(transfer.num, 2);
    assert_eq!(transfer.display_name(), "b002");
    assert_eq!(transfer.status_text(), "Pending");
    assert_eq!(transfer.from_name.as_deref(), Some("DATABASE"));
}

#[tokio::test]
async fn transfers_list() {
    let server = server().await;
    transfers_listed_once(&server).await;
    let transfers = client(&server).transfers(APP).await.unwrap();
    let names: Vec<String> = transfers.iter().map(|t| t.display_name()).collect();
    assert_eq!(names, ["b001", "b002", "r003"]);
    assert!(transfers[0].is_backup() && transfers[0].succeeded);
    assert!(transfers[2].is_restore());
    assert_eq!(
        transfers[1].to_url.as_deref(),
        Some("https://storage.example/backups/b002.dump")
    );
}

#[tokio::test]
async fn transfer_plain_and_verbose() {
    let server = server().await;
    let at = format!("/client/v11/apps/tmi-server/transfers/{TRANSFER}");
    call("GET", &at)
        .respond_with(json(200, fixture("transfer-running.json")))
        .expect(1)
        .mount(&server)
        .await;
    call_with_query("GET", &at, "verbose=true")
        .respond_with(json(200, fixture("transfer-failed-verbose.json")))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let running = api.transfer(APP, TRANSFER, false).await.unwrap();
    assert_eq!(running.status_text(), "Running");
    assert_eq!(running.processed_bytes, 4096);
    assert_eq!(running.source_bytes, Some(9017344));
    assert!(running.logs.is_none());
    let verbose = api.transfer(APP, TRANSFER, true).await.unwrap();
    assert_eq!(verbose.status_text(), "Failed");
    let logs = verbose.logs.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].message, "pg_dump: error: connection to server lost");
    assert_eq!(logs[0].level.as_deref(), Some("info"));
}

#[tokio::test]
async fn transfer_by_number() {
    let server = server().await;
    call("GET", "/client/v11/apps/tmi-server/transfers/2")
        .respond_with(json(200, fixture("transfer-finished.json")))
        .expect(1)
        .mount(&server)
        .await;
    let transfer = client(&server).transfer(APP, "2", false).await.unwrap();
    assert_eq!(transfer.status_text(), "Completed");
}

#[tokio::test]
async fn public_url_sends_no_body() {
    let server = server().await;
    call(
        "POST",
        "/client/v11/apps/tmi-server/transfers/2/actions/public-url",
    )
    .respond_with(json(
        200,
        with(
            fixture("public-url.json"),
            "url",
            json!("https://storage.example/b002.dump?X-Amz-Signature=s"),
        ),
    ))
    .expect(1)
    .mount(&server)
    .await;
    let public = client(&server).public_url(APP, 2).await.unwrap();
    assert_eq!(
        public.url,
        "https://storage.example/b002.dump?X-Amz-Signature=s"
    );
    assert_eq!(public.expires_at.as_deref(), Some("2026-11-22T11:00:00Z"));
}

fn restore_started() -> serde_json::Value {
    let mut restore = fixture("transfers.json")[2].clone();
    restore["finished_at"] = json!(null);
    restore
}

#[tokio::test]
async fn restore_with_extensions() {
    let server = server().await;
    call_json(
        "POST",
        &format!("/client/v11/databases/{PRIMARY}/restores"),
        json!({
            "backup_url": "https://storage.example/backups/b002.dump",
            "extensions": ["hstore", "myschema.citext", "postgis"],
        }),
    )
    .respond_with(json(201, restore_started()))
    .expect(1)
    .mount(&server)
    .await;
    let transfer = client(&server)
        .restore(
            &primary(),
            "https://storage.example/backups/b002.dump",
            &[" PostGIS,hstore".into(), "MySchema.citext".into()],
        )
        .await
        .unwrap();
    assert_eq!(transfer.display_name(), "r003");
    assert_eq!(transfer.status_text(), "Running");
}

#[tokio::test]
async fn restore_without_extensions_omits_the_key() {
    let server = server().await;
    call_json(
        "POST",
        &format!("/client/v11/databases/{PRIMARY}/restores"),
        json!({ "backup_url": "https://storage.example/backups/b002.dump" }),
    )
    .respond_with(json(201, restore_started()))
    .expect(1)
    .mount(&server)
    .await;
    let transfer = client(&server)
        .restore(&primary(), "https://storage.example/backups/b002.dump", &[])
        .await
        .unwrap();
    assert!(transfer.is_restore());
}

#[tokio::test]
async fn reset_database_with_and_without_extensions() {
    let server = server().await;
    let at = format!("/client/v11/databases/{PRIMARY}/reset");
    call_json(
        "PUT",
        &at,
        json!({ "extensions": ["postgis", "uuid-ossp"] }),
    )
    .respond_with(json(200, json!({ "message": "Database reset" })))
    .expect(1)
    .mount(&server)
    .await;
    // As the official CLI: without extensions the body is an empty object.
    call_json("PUT", &at, json!({}))
        .respond_with(json(200, json!({ "message": "Database reset" })))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    api.reset_database(&primary(), &["uuid-ossp, PostGIS".into()])
        .await
        .unwrap();
    api.reset_database(&primary(), &[]).await.unwrap();
}

#[tokio::test]
async fn schedules_list() {
    let server = server().await;
    call(
        "GET",
        &format!("/client/v11/databases/{PRIMARY}/transfer-schedules"),
    )
    .respond_with(json(200, fixture("schedules.json")))
    .expect(1)
    .mount(&server)
    .await;
    let schedules = client(&server).schedules(&primary()).await.unwrap();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0].uuid, "5c4e0000-0000-4000-8000-000000000001");
    assert_eq!(schedules[0].name, "DATABASE_URL");
    assert_eq!(schedules[0].hour, json!(2));
    assert_eq!(schedules[0].timezone, "UTC");
}

#[tokio::test]
async fn create_schedule_sends_the_hour_as_a_string() {
    let server = server().await;
    call_json(
        "POST",
        &format!("/client/v11/databases/{PRIMARY}/transfer-schedules"),
        json!({ "hour": "02", "timezone": "America/Los_Angeles", "schedule_name": "DATABASE_URL" }),
    )
    .respond_with(json(
        201,
        json!({ "uuid": "5c4e0000-0000-4000-8000-000000000002" }),
    ))
    .expect(1)
    .mount(&server)
    .await;
    client(&server)
        .create_schedule(
            &primary(),
            &BackupSchedule {
                hour: 2,
                timezone: "America/Los_Angeles".into(),
                schedule_name: "DATABASE_URL".into(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_schedule() {
    let server = server().await;
    call(
        "DELETE",
        &format!(
            "/client/v11/databases/{PRIMARY}/transfer-schedules/5c4e0000-0000-4000-8000-000000000001"
        ),
    )
    .respond_with(json(200, json!({})))
    .expect(1)
    .mount(&server)
    .await;
    client(&server)
        .delete_schedule(&primary(), "5c4e0000-0000-4000-8000-000000000001")
        .await
        .unwrap();
}

#[tokio::test]
async fn transfers_of_an_app_by_id() {
    // Restores are followed under the billing app's id, which must pass as one segment.
    let server = server().await;
    call(
        "GET",
        &format!("/client/v11/apps/{APP_ID}/transfers/0d0d0d0d-0000-4000-8000-000000000003"),
    )
    .respond_with(json(200, fixture("transfers.json")[2].clone()))
    .expect(1)
    .mount(&server)
    .await;
    let transfer = client(&server)
        .transfer(APP_ID, "0d0d0d0d-0000-4000-8000-000000000003", false)
        .await
        .unwrap();
    assert_eq!(transfer.num, 3);
}
