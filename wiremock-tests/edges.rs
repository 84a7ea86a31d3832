//! The edges of issue 11 that the library meets against a server: which backup is the newest,
//! partial downloads that belong to another backup, deadlines against servers that never
//! answer or trickle, and server text that would reach the terminal raw. Each test is named
//! after the item it covers.

use serde_json::{Value, json};
use wiremock::MockServer;

use herokuops::steps::backup;

use crate::contract::{APP, call};
use crate::support::{client, fixture, json as answer, server};

/// Two backups taken in the same second, listed oldest first as the data API lists them;
/// the later one (b003) finished first.
fn same_second_backups() -> Value {
    let all = fixture("transfers.json");
    let mut older = all[1].clone();
    let mut newer = all[1].clone();
    older["created_at"] = json!("2026-11-22T10:00:00Z");
    older["finished_at"] = json!("2026-11-22T10:00:30Z");
    newer["num"] = json!(3);
    newer["uuid"] = json!("0d0d0d0d-0000-4000-8000-000000000033");
    newer["created_at"] = json!("2026-11-22T10:00:00Z");
    newer["finished_at"] = json!("2026-11-22T10:00:09Z");
    newer["to_url"] = json!("https://storage.example/backups/b003.dump");
    json!([older, newer])
}

async fn mount_transfers(server: &MockServer, transfers: Value, times: u64) {
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .respond_with(answer(200, transfers))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn item_21_the_newest_backup_of_one_second_is_the_higher_number() {
    let server = server().await;
    mount_transfers(&server, same_second_backups(), 4).await;
    let api = client(&server);

    let listed = backup::list(&api, APP).await.unwrap();
    let order: Vec<u64> = listed.iter().map(|t| t.num).collect();
    assert_eq!(order, [3, 2], "newest first");

    assert_eq!(backup::latest_backup(&api, APP).await.unwrap().num, 3);
    assert_eq!(backup::backup_number(&api, APP, None).await.unwrap(), 3);
    let url = backup::backup_url(&api, APP, None).await.unwrap();
    assert!(url.ends_with("/b003.dump"), "{url}");
}
