//! Retries, pagination, rate limits and how failures are reported.

use std::time::{Duration, Instant};

use herokuops::api::models::AddonId;
use herokuops::api::{AddonCreate, ApiError, DynoCreate};
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::contract::{APP, HeaderAbsent, PRIMARY, call, call_json, header_is};
use crate::support::{client, fast_retry, fixture, json, server};

#[tokio::test]
async fn get_answered_503_twice_then_200_succeeds() {
    let server = server().await;
    call("GET", "/apps/tmi-server")
        .respond_with(json(
            503,
            json!({ "id": "unavailable", "message": "try later" }),
        ))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server")
        .respond_with(json(200, fixture("app.json")))
        .expect(1)
        .mount(&server)
        .await;
    let app = client(&server).app(APP).await.unwrap();
    assert_eq!(app.name, APP);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn every_attempt_has_a_fresh_request_id() {
    let server = server().await;
    call("GET", "/account")
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/account")
        .respond_with(json(200, fixture("account.json")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).account().await.unwrap();
    let ids: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["request-id"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn rate_limited_429_waits_for_retry_after_then_succeeds() {
    let server = server().await;
    call("GET", "/apps/tmi-server/dynos")
        .respond_with(
            json(
                429,
                json!({ "id": "rate_limit", "message": "Your account reached the API rate limit" }),
            )
            .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server/dynos")
        .respond_with(json(200, fixture("dynos.json")))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let dynos = client(&server).dynos(APP).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(dynos.len(), 2);
    assert!(
        elapsed >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured ({elapsed:?})"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn a_create_is_retried_after_429_because_heroku_did_not_act() {
    let server = server().await;
    let body = json!({ "attachment": {}, "config": {}, "plan": { "name": "heroku-postgresql:essential-0" } });
    call_json("POST", "/apps/tmi-server/addons", body.clone())
        .respond_with(json(
            429,
            json!({ "id": "rate_limit", "message": "slow down" }),
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    call_json("POST", "/apps/tmi-server/addons", body)
        .respond_with(json(201, fixture("addon-created.json")))
        .expect(1)
        .mount(&server)
        .await;
    let addon = client(&server)
        .create_addon(
            APP,
            &AddonCreate {
                plan: "heroku-postgresql:essential-0".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(addon.state, "provisioning");
}

fn assert_server_error(err: &ApiError) {
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(err.heroku_id(), Some("internal_server_error"));
    assert!(err.hint().unwrap().contains("server error"));
}

fn server_error() -> ResponseTemplate {
    json(
        500,
        json!({ "id": "internal_server_error", "message": "Internal server error." }),
    )
}

#[tokio::test]
async fn create_addon_is_not_repeated_after_500() {
    let server = server().await;
    call_json(
        "POST",
        "/apps/tmi-server/addons",
        json!({ "attachment": {}, "config": {}, "plan": { "name": "heroku-postgresql:essential-0" } }),
    )
    .respond_with(server_error())
    .expect(1)
    .mount(&server)
    .await;
    let err = client(&server)
        .create_addon(
            APP,
            &AddonCreate {
                plan: "heroku-postgresql:essential-0".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_server_error(&err);
}

#[tokio::test]
async fn create_dyno_is_not_repeated_after_500() {
    let server = server().await;
    call_json(
        "POST",
        "/apps/tmi-server/dynos",
        json!({ "attach": false, "command": "bin/migrate" }),
    )
    .respond_with(server_error())
    .expect(1)
    .mount(&server)
    .await;
    let err = client(&server)
        .create_dyno(
            APP,
            &DynoCreate {
                command: "bin/migrate".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_server_error(&err);
}

#[tokio::test]
async fn capture_backup_is_not_repeated_after_500() {
    let server = server().await;
    call("POST", &format!("/client/v11/databases/{PRIMARY}/backups"))
        .respond_with(server_error())
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .capture_backup(&AddonId::from(PRIMARY))
        .await
        .unwrap_err();
    assert_server_error(&err);
}

#[tokio::test]
async fn a_get_that_always_fails_is_tried_a_bounded_number_of_times() {
    let server = server().await;
    let attempts = u64::from(fast_retry().max_retries) + 1;
    call("GET", "/apps/tmi-server/config-vars")
        .respond_with(json(
            503,
            json!({ "id": "unavailable", "message": "Service unavailable" }),
        ))
        .expect(attempts)
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = client(&server).config_vars(APP).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn repeated_429s_are_bounded_too() {
    let server = server().await;
    let attempts = u64::from(fast_retry().max_retries) + 1;
    call("GET", "/account")
        .respond_with(
            json(429, json!({ "id": "rate_limit", "message": "limit" }))
                .insert_header("Retry-After", "0"),
        )
        .expect(attempts)
        .mount(&server)
        .await;
    let err = client(&server).account().await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(err.hint().unwrap().contains("rate limit"));
}

#[tokio::test]
async fn pagination_follows_next_range_across_three_pages() {
    let server = server().await;
    let all = fixture("transfers.json");
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .and(HeaderAbsent("range"))
        .respond_with(json(206, json!([all[0]])).insert_header("Next-Range", "num ]1..; max=1"))
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .and(header_is("range", "num ]1..; max=1"))
        .respond_with(
            json(206, json!([all[1]])).insert_header("Next-Range", "num ]2..; max=1, order=asc"),
        )
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .and(header_is("range", "num ]2..; max=1, order=asc"))
        .respond_with(json(200, json!([all[2]])))
        .expect(1)
        .mount(&server)
        .await;
    let transfers = client(&server).transfers(APP).await.unwrap();
    let nums: Vec<u64> = transfers.iter().map(|t| t.num).collect();
    assert_eq!(nums, [1, 2, 3]);
}

#[tokio::test]
async fn unauthorized_exits_4_and_says_how_to_log_in() {
    let server = server().await;
    call("GET", "/account")
        .respond_with(json(
            401,
            json!({ "id": "unauthorized", "message": "Invalid credentials provided." }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).account().await.unwrap_err();
    assert!(err.is_unauthorized());
    assert_eq!(err.heroku_id(), Some("unauthorized"));
    let err = herokuops::Error::from(err);
    assert_eq!(err.exit_code(), 4);
    let hint = err.hint().expect("a hint");
    assert!(hint.contains("herokuops login"), "{hint}");
    assert!(!err.to_string().contains(crate::support::TOKEN));
}

#[tokio::test]
async fn app_not_found_names_the_app() {
    let server = server().await;
    call("GET", "/apps/no-such-app")
        .respond_with(
            json(404, json!({ "id": "not_found", "message": "Couldn't find that app.", "resource": "app" }))
                .insert_header("Request-Id", "0f5f0cc8-a1b2-4c3d-9e8f-123456789abc"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).app("no-such-app").await.unwrap_err();
    assert!(err.is_not_found());
    let text = err.to_string();
    assert!(text.contains("no-such-app"), "{text}");
    assert!(text.contains("Couldn't find that app"), "{text}");
    assert!(
        text.contains("0f5f0cc8-a1b2-4c3d-9e8f-123456789abc"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("app name"));
    assert_eq!(herokuops::Error::from(err).exit_code(), 1);
}

#[tokio::test]
async fn non_json_502_keeps_its_status_and_body() {
    let server = server().await;
    let attempts = u64::from(fast_retry().max_retries) + 1;
    call("GET", "/apps/tmi-server/formation")
        .respond_with(ResponseTemplate::new(502).set_body_raw(
            "<html><body>Bad Gateway from router</body></html>",
            "text/html",
        ))
        .expect(attempts)
        .mount(&server)
        .await;
    let err = client(&server).formation(APP).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    let ApiError::Http(failure) = &err else {
        panic!("not an HTTP failure: {err:?}");
    };
    assert_eq!(
        failure.raw_body.as_deref(),
        Some("<html><body>Bad Gateway from router</body></html>")
    );
    assert_eq!(failure.id, None);
    let text = err.to_string();
    assert!(text.contains("HTTP 502"), "{text}");
    assert!(text.contains("Bad Gateway from router"), "{text}");
}

#[tokio::test]
async fn two_factor_is_explained() {
    let server = server().await;
    call_json("PATCH", "/apps/tmi-server", json!({ "maintenance": true }))
        .respond_with(json(
            403,
            json!({ "id": "two_factor", "message": "A second authentication factor is required.", "app": { "id": "x", "name": "tmi-server" } }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .set_maintenance(APP, true)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.heroku_id(), Some("two_factor"));
    let hint = herokuops::Error::from(err).hint().expect("a hint");
    assert!(hint.contains("two-factor"), "{hint}");
    assert!(hint.contains("API token"), "{hint}");
}

#[tokio::test]
async fn rate_limit_remaining_is_read_into_the_budget() {
    let server = server().await;
    call("GET", "/account/rate-limits")
        .respond_with(
            json(200, fixture("rate-limits.json")).insert_header("RateLimit-Remaining", "4321"),
        )
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server")
        .respond_with(json(200, fixture("app.json")).insert_header("RateLimit-Remaining", "4320"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    assert_eq!(api.budget().remaining(), None);
    api.rate_limits().await.unwrap();
    assert_eq!(api.budget().remaining(), Some(4321));
    // Clones share the budget.
    api.clone().app(APP).await.unwrap();
    assert_eq!(api.budget().remaining(), Some(4320));
}

#[tokio::test]
async fn a_token_less_client_sends_no_authorization() {
    let server = server().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/account"))
        .and(HeaderAbsent("authorization"))
        .respond_with(json(
            401,
            json!({ "id": "unauthorized", "message": "Invalid credentials provided." }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let api = herokuops::api::ApiClient::new(
        herokuops::api::Endpoints::single(&server.uri()).unwrap(),
        None,
    )
    .unwrap()
    .with_retry(fast_retry());
    assert!(api.account().await.unwrap_err().is_unauthorized());
}

#[tokio::test]
async fn concurrent_clones_are_paced_as_one_when_the_budget_is_low() {
    let server = server().await;
    call("GET", "/apps/tmi-server")
        .respond_with(json(200, fixture("app.json")).insert_header("RateLimit-Remaining", "0"))
        .expect(6)
        .mount(&server)
        .await;
    let budget = std::sync::Arc::new(herokuops::api::RateBudget::new(
        10,
        Duration::from_millis(100),
    ));
    let api = client(&server).with_budget(budget);
    api.app(APP).await.unwrap();
    // Five tasks at once at zero remaining: one slot each, 100 ms apart, not five at once.
    let started = Instant::now();
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { api.app(APP).await.map(|_| Instant::now()) })
        })
        .collect();
    let mut finished = Vec::new();
    for t in tasks {
        finished.push(t.await.unwrap().unwrap());
    }
    let last = finished.iter().max().unwrap().duration_since(started);
    assert!(
        last >= Duration::from_millis(390),
        "five paced requests took only {last:?}"
    );
}

#[tokio::test]
async fn a_429_holds_back_every_clone_of_the_client() {
    let server = server().await;
    call("GET", "/apps/tmi-server/dynos")
        .respond_with(
            json(429, json!({ "id": "rate_limit", "message": "limit" }))
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server/dynos")
        .respond_with(json(200, fixture("dynos.json")))
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server")
        .respond_with(json(200, fixture("app.json")))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let started = Instant::now();
    let api2 = api.clone();
    let first = tokio::spawn(async move { api2.dynos(APP).await });
    // This request starts after the first one was answered 429: it waits out the same
    // Retry-After instead of spending more of the limit. (It starts once the client has taken
    // in the 429, which is later than the server receiving the request: on a busy machine,
    // long enough later for a request sent in between to go ahead.)
    let deadline = Instant::now() + Duration::from_secs(5);
    while api.budget().try_acquire().is_ok() {
        assert!(
            Instant::now() < deadline,
            "the 429 never held the budget back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    api.app(APP).await.unwrap();
    let elapsed = started.elapsed();
    assert!(first.await.unwrap().is_ok());
    assert!(
        elapsed >= Duration::from_millis(950),
        "another clone went ahead during Retry-After ({elapsed:?})"
    );
}
