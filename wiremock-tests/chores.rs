//! The requests of the chores: Heroku's copy (the official CLI's `pg:copy` request, made once
//! per run: adopted after a lost answer, followed after a resume, made again after a failure),
//! the log sessions of `logs` (and a tail that reconnects without repeating lines), and the
//! backup archive's download.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herokuops::api::models::Attachment;
use herokuops::steps::app_logs::{self, Filter};
use herokuops::steps::copy::{Copied, Copying, Side, copy_once};
use herokuops::steps::{StepError, Wait};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::contract::{APP, SECONDARY, call, call_json, transfers_listed_once, with};
use crate::support::{client, fixture, json, server};

const COPY: &str = "c0b1e5d2-7a3f-4c2b-9d1e-0f6a5b4c3d21";
const PRIMARY_URL: &str = "postgres://u1:primary-pass@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1";
const SECONDARY_URL: &str =
    "postgres://u2:secondary-pass@ec2-5-6-7-8.compute-1.amazonaws.com:5432/d2";

/// The body the official CLI (heroku@11.10.0) sent for `heroku pg:copy DATABASE_URL
/// HEROKU_POSTGRESQL_AMBER -a tmi-server`, traced against the sandbox, to
/// `POST /client/v11/databases/{AMBER's add-on id}/transfers` on the data host; here with the
/// fixture's URLs.
fn official_copy_body() -> Value {
    json!({
        "from_name": "DATABASE",
        "from_url": PRIMARY_URL,
        "to_name": "AMBER",
        "to_url": SECONDARY_URL,
    })
}

fn attachment(file: &str) -> Attachment {
    let list: Vec<Attachment> = serde_json::from_value(fixture(file)).unwrap();
    list.into_iter().next().unwrap()
}

fn sides() -> (Side, Side) {
    let from = Side {
        attachment: attachment("resolve-database.json"),
        url: PRIMARY_URL.into(),
    };
    let to = Side {
        attachment: attachment("resolve-secondary.json"),
        url: SECONDARY_URL.into(),
    };
    (from, to)
}

/// A copy transfer into AMBER, finished (or not) and succeeded (or not).
fn copy_transfer(uuid: &str, num: u64, finished: bool, succeeded: bool) -> Value {
    let mut t = fixture("transfer-finished.json");
    t["uuid"] = json!(uuid);
    t["num"] = json!(num);
    t["to_name"] = json!("AMBER");
    t["to_type"] = json!("pg_restore");
    t["to_url"] = Value::Null;
    t["succeeded"] = json!(succeeded);
    if !finished {
        t["finished_at"] = Value::Null;
        t["succeeded"] = Value::Null;
    }
    t
}

fn wait() -> Wait {
    Wait::new(Duration::from_millis(10), Duration::from_secs(5))
}

type Saved = Arc<Mutex<Vec<Copying>>>;

/// What the checkpoint saw, in order.
fn recorder() -> (Saved, impl FnMut(&Copying) -> Result<(), StepError> + Send) {
    let saved: Saved = Arc::new(Mutex::new(Vec::new()));
    let sink = saved.clone();
    (saved, move |c: &Copying| {
        sink.lock().unwrap().push(c.clone());
        Ok(())
    })
}

/// `copy_once` from the primary to the secondary of the app, saving through `save`.
async fn copy_with(
    api: &herokuops::api::ApiClient,
    memory: &mut Copying,
    save: &mut (impl FnMut(&Copying) -> Result<(), StepError> + Send),
) -> (herokuops::api::models::Transfer, Copied) {
    let (from, to) = sides();
    copy_once(api, APP, (&from, &to), memory, save, wait(), &mut ())
        .await
        .unwrap()
}

/// Heroku answers the official copy request with transfer `id` (number `num`), which is then
/// seen finished and succeeded.
async fn copy_made_and_finished(server: &MockServer, id: &str, num: u64) {
    call_json(
        "POST",
        &format!("/client/v11/databases/{SECONDARY}/transfers"),
        official_copy_body(),
    )
    .respond_with(json(201, copy_transfer(id, num, false, false)))
    .expect(1)
    .mount(server)
    .await;
    call(
        "GET",
        &format!("/client/v11/apps/tmi-server/transfers/{id}"),
    )
    .respond_with(json(200, copy_transfer(id, num, true, true)))
    .expect(1..)
    .mount(server)
    .await;
}

#[tokio::test]
async fn a_copy_sends_the_official_clis_request_after_saving_what_came_before() {
    let server = server().await;
    transfers_listed_once(&server).await;
    copy_made_and_finished(&server, COPY, 4).await;
    let mut memory = Copying::default();
    let (saved, mut save) = recorder();
    let (done, how) = copy_with(&client(&server), &mut memory, &mut save).await;
    assert_eq!(how, Copied::Made("c004".into()));
    assert!(done.succeeded);
    let saved = saved.lock().unwrap();
    // Before the request: the three transfers there were; after it: the copy's id.
    assert_eq!(saved[0].before.as_ref().map(Vec::len), Some(3), "{saved:?}");
    assert_eq!(saved[0].transfer, None);
    assert_eq!(saved[1].transfer.as_deref(), Some(COPY));
    assert_eq!(memory.transfer.as_deref(), Some(COPY));
}

#[tokio::test]
async fn a_copy_a_lost_request_started_is_adopted_not_made_again() {
    let server = server().await;
    let mut listed = fixture("transfers.json");
    listed
        .as_array_mut()
        .unwrap()
        .push(copy_transfer(COPY, 4, false, false));
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .respond_with(json(200, listed))
        .expect(1)
        .mount(&server)
        .await;
    call(
        "GET",
        &format!("/client/v11/apps/tmi-server/transfers/{COPY}"),
    )
    .respond_with(json(200, copy_transfer(COPY, 4, true, true)))
    .expect(1..)
    .mount(&server)
    .await;
    let before: Vec<String> = fixture("transfers.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["uuid"].as_str().unwrap().to_string())
        .collect();
    let mut memory = Copying {
        transfer: None,
        before: Some(before),
    };
    let (saved, mut save) = recorder();
    let (_, how) = copy_with(&client(&server), &mut memory, &mut save).await;
    assert_eq!(how, Copied::Followed("c004".into()));
    assert_eq!(
        saved.lock().unwrap().last().unwrap().transfer.as_deref(),
        Some(COPY)
    );
}

#[tokio::test]
async fn a_resumed_copy_follows_its_transfer_and_a_failed_one_is_made_again() {
    let server = server().await;
    // The run's copy is still running at the first look, then finished.
    call(
        "GET",
        &format!("/client/v11/apps/tmi-server/transfers/{COPY}"),
    )
    .respond_with(json(200, copy_transfer(COPY, 4, false, false)))
    .up_to_n_times(1)
    .expect(1)
    .with_priority(1)
    .mount(&server)
    .await;
    call(
        "GET",
        &format!("/client/v11/apps/tmi-server/transfers/{COPY}"),
    )
    .respond_with(json(200, copy_transfer(COPY, 4, true, true)))
    .expect(1..)
    .mount(&server)
    .await;
    let mut memory = Copying {
        transfer: Some(COPY.into()),
        before: None,
    };
    let (_, mut save) = recorder();
    let api = client(&server);
    let (_, how) = copy_with(&api, &mut memory, &mut save).await;
    assert_eq!(how, Copied::Followed("c004".into()));
    // Finished: taken as it is, with no request but the one look.
    let (_, how) = copy_with(&api, &mut memory, &mut save).await;
    assert_eq!(how, Copied::Reused("c004".into()));

    let failed = server_with_a_failed_copy().await;
    let mut memory = Copying {
        transfer: Some(COPY.into()),
        before: None,
    };
    let (_, how) = copy_with(&client(&failed), &mut memory, &mut save).await;
    assert_eq!(how, Copied::Made("c005".into()));
    assert_eq!(
        memory.transfer.as_deref(),
        Some("d0b1e5d2-7a3f-4c2b-9d1e-0f6a5b4c3d21")
    );
}

/// A run whose copy failed: it is looked at, the transfers listed, and a new copy made.
async fn server_with_a_failed_copy() -> wiremock::MockServer {
    let server = server().await;
    let again = "d0b1e5d2-7a3f-4c2b-9d1e-0f6a5b4c3d21";
    call(
        "GET",
        &format!("/client/v11/apps/tmi-server/transfers/{COPY}"),
    )
    .respond_with(json(200, copy_transfer(COPY, 4, true, false)))
    .expect(1)
    .mount(&server)
    .await;
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .respond_with(json(200, json!([copy_transfer(COPY, 4, true, false)])))
        .expect(1)
        .mount(&server)
        .await;
    copy_made_and_finished(&server, again, 5).await;
    server
}

#[tokio::test]
async fn logs_ask_one_session_for_the_lines_dyno_and_source_and_read_it_to_its_end() {
    let server = server().await;
    let body = json!({ "tail": false, "lines": 5, "dyno_name": "web", "source": "app" });
    let session = with(
        fixture("log-session.json"),
        "logplex_url",
        json!(format!("{}/logs/s1", server.uri())),
    );
    call_json("POST", "/apps/tmi-server/log-sessions", body.clone())
        .respond_with(json(201, session))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/logs/s1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "2026-01-05T10:00:00Z app[web.1]: one\n2026-01-05T10:00:01Z app[web.1]: two\n",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let filter = Filter {
        lines: 5,
        dyno: Some("web".into()),
        source: Some("app".into()),
    };
    let lines = app_logs::recent(&client(&server), APP, &filter)
        .await
        .unwrap();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].ends_with("app[web.1]: two"));
    // The body is one Heroku's schema describes.
    let table = crate::conformance::Table::load();
    table
        .check(
            "POST",
            "/apps/tmi-server/log-sessions",
            body.to_string().as_bytes(),
        )
        .unwrap();
}

#[tokio::test]
async fn a_tail_opens_a_new_session_when_its_stream_ends_and_shows_no_line_twice() {
    let server = server().await;
    let session = |at: &str| {
        with(
            fixture("log-session.json"),
            "logplex_url",
            json!(format!("{}{at}", server.uri())),
        )
    };
    for (lines, at, stream) in [
        (
            3,
            "/logs/first",
            "2026-01-05T10:00:00Z app[web.1]: a\n2026-01-05T10:00:01Z app[web.1]: b\n",
        ),
        (
            20,
            "/logs/again",
            "2026-01-05T10:00:01Z app[web.1]: b\n2026-01-05T10:00:02Z app[web.1]: c\n",
        ),
    ] {
        Mock::given(method("POST"))
            .and(path("/apps/tmi-server/log-sessions"))
            .and(body_json(json!({ "tail": true, "lines": lines })))
            .respond_with(json(201, session(at)))
            .expect(1..)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_string(stream))
            .expect(1..)
            .mount(&server)
            .await;
    }
    let shown = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = shown.clone();
    let api = client(&server);
    let filter = Filter {
        lines: 3,
        ..Filter::default()
    };
    let tail = tokio::spawn(async move {
        app_logs::follow(&api, APP, &filter, move |l| {
            sink.lock().unwrap().push(l.to_string())
        })
        .await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while shown.lock().unwrap().len() < 3 && Instant::now() < deadline && !tail.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tail.abort();
    let texts: Vec<String> = shown
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.rsplit(": ").next().unwrap().to_string())
        .collect();
    assert_eq!(texts, ["a", "b", "c"]);
}

#[tokio::test]
async fn the_archive_downloads_the_newest_backup_through_a_signed_url_under_its_name() {
    let server = server().await;
    transfers_listed_once(&server).await;
    call(
        "POST",
        "/client/v11/apps/tmi-server/transfers/2/actions/public-url",
    )
    .respond_with(json(
        200,
        with(
            fixture("public-url.json"),
            "url",
            json!(format!("{}/storage/b002", server.uri())),
        ),
    ))
    .expect(1)
    .mount(&server)
    .await;
    // A download must come to the backup's size (its processed_bytes in the fixture).
    let size = fixture("transfers.json")
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["num"] == 2)
        .unwrap()["processed_bytes"]
        .as_u64()
        .unwrap();
    let mut dump = b"PGDMP-b002".to_vec();
    dump.resize(size as usize, b'.');
    Mock::given(method("GET"))
        .and(path("/storage/b002"))
        .and(crate::contract::HeaderAbsent("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(dump.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let api = client(&server);
    let done = herokuops::steps::archive::archive(&api, APP, None, dir.path(), Some(3), &mut ())
        .await
        .unwrap();
    assert_eq!(done.file, "tmi-server-b002-20261122T100000Z.dump");
    assert_eq!(std::fs::read(dir.path().join(&done.file)).unwrap(), dump);
    assert_eq!(done.kept, std::slice::from_ref(&done.file));
}
