//! The edges of issue 11 that the library meets against a server: which backup is the newest,
//! partial downloads that belong to another backup, deadlines against servers that never
//! answer or trickle, and server text that would reach the terminal raw. Each test is named
//! after the item it covers.

use serde_json::{Value, json};
use wiremock::MockServer;

use herokuops::steps::StepError as backup_error;
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

// ---------------------------------------------------------------------------------------------
// Item 5: partial downloads; item 6: devices; item 8: private files.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use herokuops::steps::backup::PartialIdentity;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, ResponseTemplate};

use crate::contract::{HeaderAbsent, TRANSFER, header_is, with};

fn dump_bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i + seed) * 31 % 251) as u8).collect()
}

fn storage() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/storage/b002.dump"))
        .and(HeaderAbsent("authorization"))
}

/// The transfers (b002 of `size` bytes) and b002's public URL.
async fn backup_of_size(server: &MockServer, size: usize) {
    let mut transfers = fixture("transfers.json");
    transfers[1]["processed_bytes"] = json!(size);
    mount_transfers(server, transfers, 1).await;
    call(
        "POST",
        "/client/v11/apps/tmi-server/transfers/2/actions/public-url",
    )
    .respond_with(answer(
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

fn record(target: &Path, identity: &PartialIdentity) {
    std::fs::write(
        backup::partial_identity_path(target),
        serde_json::to_vec(identity).unwrap(),
    )
    .unwrap();
}

fn of_b002(size: usize) -> PartialIdentity {
    PartialIdentity {
        transfer: TRANSFER.into(),
        size: Some(size as u64),
        validator: Some("\"etag-of-b002\"".into()),
    }
}

/// Storage that serves `dump` whole, to exactly one request without a `Range`.
async fn serves_once_whole(server: &MockServer, dump: &[u8]) {
    storage()
        .and(HeaderAbsent("range"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(dump.to_vec()))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn item_05_a_stale_partial_from_another_backup_is_not_resumed() {
    let server = server().await;
    let dump = dump_bytes(300_000, 0);
    backup_of_size(&server, dump.len()).await;
    serves_once_whole(&server, &dump).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("latest.dump");
    // The start of another backup, as an older interrupted download left it.
    std::fs::write(backup::partial_path(&target), dump_bytes(100_000, 7)).unwrap();
    record(
        &target,
        &PartialIdentity {
            transfer: "0d0d0d0d-0000-4000-8000-000000000001".into(),
            ..of_b002(dump.len())
        },
    );
    let done = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(done.resumed_from, 0);
    assert!(std::fs::read(&target).unwrap() == dump, "a spliced file");

    // Without any record of what it holds, a partial file is not resumed either.
    let server = self::server().await;
    backup_of_size(&server, dump.len()).await;
    serves_once_whole(&server, &dump).await;
    let target = dir.path().join("second.dump");
    std::fs::write(backup::partial_path(&target), dump_bytes(100_000, 7)).unwrap();
    backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert!(std::fs::read(&target).unwrap() == dump, "a spliced file");
}

#[tokio::test]
async fn item_05_a_partial_larger_than_the_backup_is_never_renamed_into_place() {
    let server = server().await;
    let dump = dump_bytes(50_000, 0);
    backup_of_size(&server, dump.len()).await;
    serves_once_whole(&server, &dump).await;
    // A server that would call any range unsatisfiable, as storage does past the end.
    storage()
        .respond_with(ResponseTemplate::new(416).insert_header("Content-Range", "bytes */50000"))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("latest.dump");
    std::fs::write(backup::partial_path(&target), dump_bytes(80_000, 3)).unwrap();
    record(&target, &of_b002(dump.len()));
    let done = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(done.bytes, dump.len() as u64);
    assert!(std::fs::read(&target).unwrap() == dump);
}

#[tokio::test]
async fn item_05_a_partial_that_is_a_symlink_is_not_followed() {
    let server = server().await;
    let dump = dump_bytes(40_000, 0);
    backup_of_size(&server, dump.len()).await;
    serves_once_whole(&server, &dump).await;
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("precious");
    std::fs::write(&elsewhere, b"not a backup").unwrap();
    let target = dir.path().join("latest.dump");
    std::os::unix::fs::symlink(&elsewhere, backup::partial_path(&target)).unwrap();
    record(&target, &of_b002(dump.len()));
    backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&elsewhere).unwrap(), b"not a backup");
    assert!(std::fs::read(&target).unwrap() == dump);
    assert!(!std::fs::symlink_metadata(&target).unwrap().is_symlink());
}

#[tokio::test]
async fn item_05_a_resumed_download_sends_if_range_and_starts_over_when_the_object_changed() {
    let server = server().await;
    let dump = dump_bytes(120_000, 0);
    backup_of_size(&server, dump.len()).await;
    // The object is not the one the partial file came from: storage ignores the range.
    storage()
        .and(header_is("range", "bytes=1000-"))
        .and(header_is("if-range", "\"etag-of-b002\""))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"another\"")
                .set_body_bytes(dump.clone()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("latest.dump");
    std::fs::write(backup::partial_path(&target), dump_bytes(1000, 9)).unwrap();
    record(&target, &of_b002(dump.len()));
    let done = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(done.resumed_from, 0);
    assert!(std::fs::read(&target).unwrap() == dump);
}

#[tokio::test]
async fn item_05_the_downloaded_file_is_the_size_of_the_backup() {
    let server = server().await;
    let dump = dump_bytes(60_000, 0);
    // The data API says the backup is smaller than what storage sends.
    backup_of_size(&server, 50_000).await;
    storage()
        .respond_with(ResponseTemplate::new(200).set_body_bytes(dump.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("latest.dump");
    let err = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap_err();
    assert!(
        matches!(err, backup_error::DownloadIncomplete { total: 50_000, .. }),
        "{err}"
    );
    assert!(
        !target.exists(),
        "a file of the wrong size was put in place"
    );
}

#[tokio::test]
async fn item_05_an_interrupted_download_writes_its_record_and_resumes_with_the_etag() {
    let server = server().await;
    let dump = dump_bytes(200_000, 0);
    backup_of_size(&server, dump.len()).await;
    // The first answer breaks off after 64 KiB (its declared length is the whole backup).
    storage()
        .and(HeaderAbsent("range"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"v1\"")
                .set_body_bytes(dump[..65_536].to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("latest.dump");
    let err = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap_err();
    assert!(
        matches!(err, backup_error::DownloadIncomplete { .. }),
        "{err}"
    );
    let record: PartialIdentity =
        serde_json::from_slice(&std::fs::read(backup::partial_identity_path(&target)).unwrap())
            .unwrap();
    assert_eq!(record.validator.as_deref(), Some("\"v1\""));
    assert_eq!(record.transfer, TRANSFER);
    let mode = std::fs::metadata(backup::partial_path(&target))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "item 8: a backup is private");

    let server = self::server().await;
    backup_of_size(&server, dump.len()).await;
    storage()
        .and(header_is("range", "bytes=65536-"))
        .and(header_is("if-range", "\"v1\""))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("Content-Range", "bytes 65536-199999/200000")
                .set_body_bytes(dump[65_536..].to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let done = backup::download(&client(&server), APP, Some("b002"), &target, &mut ())
        .await
        .unwrap();
    assert_eq!(done.resumed_from, 65_536);
    assert!(std::fs::read(&target).unwrap() == dump);
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "item 8: a backup is private");
    assert!(!backup::partial_identity_path(&target).exists());
}

#[tokio::test]
async fn item_06_a_download_to_a_device_writes_to_it_in_place() {
    let server = server().await;
    let dump = dump_bytes(10_000, 0);
    backup_of_size(&server, dump.len()).await;
    serves_once_whole(&server, &dump).await;
    let devices = tempfile::tempdir().unwrap();
    let null = private_null(devices.path());
    let done = backup::download(&client(&server), APP, Some("b002"), &null, &mut ())
        .await
        .unwrap();
    assert_eq!(done.bytes, dump.len() as u64);
    let meta = std::fs::metadata(&null).unwrap();
    assert!(meta.file_type().is_char_device(), "the device was replaced");
    assert!(!backup::partial_path(&null).exists());
}

/// A null device of the test's own where one can be made (as root), so that a mistake could
/// not replace the machine's `/dev/null`; else the machine's, which only root could.
pub fn private_null(dir: &Path) -> std::path::PathBuf {
    let node = dir.join("null");
    let made = std::process::Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        node
    } else {
        std::path::PathBuf::from("/dev/null")
    }
}

// ---------------------------------------------------------------------------------------------
// Item 14: a list that never ends is refused, not held.

#[tokio::test]
async fn item_14_a_list_whose_pages_never_end_is_refused_not_held() {
    let server = server().await;
    let addon = fixture("addons.json")[0].clone();
    // About half a MiB a page, and always a next one.
    let page: Vec<Value> = (0..400)
        .map(|i| {
            let mut a = addon.clone();
            a["name"] = json!(format!("postgresql-{i}-{}", "x".repeat(1000)));
            a
        })
        .collect();
    call("GET", "/apps/tmi-server/addons")
        .respond_with(answer(206, json!(page)).insert_header("Next-Range", "id ]last..; max=400"))
        .mount(&server)
        .await;
    let err = client(&server).addons(APP).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the list is larger than 64.00 MiB"),
        "{err}"
    );
    let pages = server.received_requests().await.unwrap().len();
    assert!(pages < 200, "{pages} pages read");
}

// ---------------------------------------------------------------------------------------------
// Item 9: every request has deadlines, and a wait's timeout bounds the requests in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herokuops::api::{ApiClient, ApiError, Endpoints, Timeouts, Token};
use herokuops::steps::{Wait, database};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TOKEN, fast_retry};

/// How a hostile server treats each connection it accepts.
#[derive(Clone, Copy)]
enum Hostile {
    /// Reads the request and never answers.
    Silent,
    /// Starts the answer, then sends one byte of a header every 100 ms, forever.
    TrickleHeaders,
    /// Sends the headers, then one byte of the body every 100 ms, forever.
    TrickleBody,
}

/// A server on loopback that treats every connection as `how`; counts the connections.
async fn hostile(how: Hostile) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                // The request first, as any server reads it.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let trickle: &[u8] = match how {
                    Hostile::Silent => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    Hostile::TrickleHeaders => b"HTTP/1.1 200 OK\r\nX-Slow: ",
                    Hostile::TrickleBody => {
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"email\":\""
                    }
                };
                if stream.write_all(trickle).await.is_err() {
                    return;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if stream.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, connections)
}

fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        headers: Duration::from_millis(400),
        idle: Duration::from_millis(1000),
        body: Duration::from_millis(1500),
    }
}

fn client_of(base: &str) -> ApiClient {
    ApiClient::new(Endpoints::single(base).unwrap(), Some(Token::new(TOKEN)))
        .unwrap()
        .with_retry(fast_retry())
        .with_timeouts(short_timeouts())
        .unwrap()
}

/// Fails the test instead of hanging when a deadline is not kept.
async fn ends<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("the request outlived every deadline")
}

#[tokio::test]
async fn item_09_a_server_that_never_answers_is_given_up_on() {
    let (base, connections) = hostile(Hostile::Silent).await;
    let err = ends(client_of(&base).account()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Timeout {
                phase: "waiting for the answer's headers",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("did not answer GET /account"),
        "{err}"
    );
    // A read is tried once more after a deadline, not four times.
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn item_09_a_server_that_trickles_its_headers_is_given_up_on() {
    let (base, _) = hostile(Hostile::TrickleHeaders).await;
    let err = ends(client_of(&base).account()).await.unwrap_err();

    assert!(matches!(err, ApiError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn item_09_a_server_that_trickles_its_body_is_given_up_on() {
    let (base, _) = hostile(Hostile::TrickleBody).await;
    let err = ends(client_of(&base).account()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Timeout {
                phase: "reading the answer",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn item_09_the_defaults_are_deadlines() {
    let t = Timeouts::default();
    assert_eq!(t.connect, Duration::from_secs(15));
    assert_eq!(t.headers, Duration::from_secs(30));
    assert_eq!(t.idle, Duration::from_secs(60));
    assert_eq!(t.body, Duration::from_secs(60));
}

#[tokio::test]
async fn item_09_a_waits_timeout_bounds_the_request_in_flight() {
    let server = server().await;
    let addon = herokuops::api::models::AddonId::from(crate::contract::PRIMARY);
    call(
        "GET",
        &format!(
            "/client/v11/databases/{}/wait_status",
            crate::contract::PRIMARY
        ),
    )
    .respond_with(
        answer(200, fixture("wait-status-available.json")).set_delay(Duration::from_secs(20)),
    )
    .mount(&server)
    .await;
    let wait = Wait::new(Duration::from_millis(50), Duration::from_millis(500));
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        database::wait_available(&client(&server), &addon, wait, &mut ()),
    )
    .await
    .expect("the wait outlived its --timeout")
    .unwrap_err();
    assert!(
        err.to_string().contains("gave up waiting after 500ms"),
        "{err}"
    );
}
