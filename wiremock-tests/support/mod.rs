//! Shared setup: a mock server standing in for both Heroku APIs, a client pointed at it, and
//! matchers for the headers every request must carry.

#![allow(dead_code)]

use std::time::Duration;

use herokuops::api::{ApiClient, Endpoints, RetryPolicy, Token};
use serde_json::Value;
use wiremock::{Match, MockServer, Request, ResponseTemplate};

/// The token the tests send; recognisable so leaks can be searched for.
pub const TOKEN: &str = "hk-test-token-0a1b2c3d4e5f";

#[path = "../../tests/support/mock.rs"]
mod mock;

pub use mock::server;

/// A client for both APIs at the mock server, with fast retries.
pub fn client(server: &MockServer) -> ApiClient {
    ApiClient::new(
        Endpoints::single(&server.uri()).unwrap(),
        Some(Token::new(TOKEN)),
    )
    .unwrap()
    .with_retry(fast_retry())
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
    }
}

/// The headers Heroku expects on every API request.
pub struct HerokuHeaders;

impl Match for HerokuHeaders {
    fn matches(&self, request: &Request) -> bool {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        header("accept") == "application/vnd.heroku+json; version=3"
            && header("authorization") == format!("Bearer {TOKEN}")
            && header("user-agent") == format!("herokuops/{}", env!("CARGO_PKG_VERSION"))
            && uuid::Uuid::parse_str(header("request-id")).is_ok_and(|u| u.get_version_num() == 4)
    }
}

/// No body at all (and so no Content-Type), as for the backup capture POST.
pub struct NoBody;

impl Match for NoBody {
    fn matches(&self, request: &Request) -> bool {
        request.body.is_empty() && !request.headers.contains_key("content-type")
    }
}

/// The request has no query string.
pub struct NoQuery;

impl Match for NoQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query().is_none()
    }
}

/// A JSON fixture from `fixtures/api/`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/api/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn json(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}
