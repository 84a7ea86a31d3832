//! Building blocks of the contract tests: a mock for one API call carrying everything Heroku
//! expects of it (method, exact path, exact query, the common headers, the exact body), header
//! matchers that compare raw values, and the ids of the fixtures in `fixtures/api/`.

use serde_json::Value;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Match, Mock, MockBuilder, Request};

use crate::support::{HerokuHeaders, NoBody, NoQuery};

pub const APP: &str = "tmi-server";
pub const APP_ID: &str = "6a8cd9a2-4b0e-4bd1-9a1f-2d1b0e3c1f10";
/// `postgresql-primary-10001`, attached as `DATABASE` and `HEROKU_POSTGRESQL_COBALT`.
pub const PRIMARY: &str = "178769e6-6033-582d-965a-ce9e90e85633";
/// `postgresql-secondary-10002`, attached as `HEROKU_POSTGRESQL_AMBER`.
pub const SECONDARY: &str = "fdf3a4eb-af7b-5ec5-96fd-717476dd02ca";
/// The add-on of `addon-created.json` (`postgresql-created-10003`).
pub const CREATED_ADDON: &str = "0c2b1f3e-1111-4a2b-9c3d-4e5f60718293";
/// The transfer of `transfer-*.json` (backup `b002`).
pub const TRANSFER: &str = "f1cac94e-f282-5626-b5ef-bbb46801a5d4";

/// A call without a body or a query string: GETs, DELETEs, the body-less POSTs.
pub fn call(verb: &str, at: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(at))
        .and(NoQuery)
        .and(HerokuHeaders)
        .and(NoBody)
}

/// The app's transfers, as `fixtures/api/transfers.json` lists them, read exactly once.
pub async fn transfers_listed_once(server: &wiremock::MockServer) {
    call("GET", "/client/v11/apps/tmi-server/transfers")
        .respond_with(crate::support::json(
            200,
            crate::support::fixture("transfers.json"),
        ))
        .expect(1)
        .mount(server)
        .await;
}

/// A call without a body whose query string is exactly `query`.
pub fn call_with_query(verb: &str, at: &str, query: &'static str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(at))
        .and(QueryIs(query))
        .and(HerokuHeaders)
        .and(NoBody)
}

/// A call whose body is exactly `body`, sent as `application/json`.
pub fn call_json(verb: &str, at: &str, body: Value) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(at))
        .and(NoQuery)
        .and(HerokuHeaders)
        .and(header_is("content-type", "application/json"))
        .and(body_json(body))
}

/// The header has exactly this value (wiremock's `header` splits values at commas, which
/// `Range` and `Accept-Inclusion` contain).
pub struct HeaderIs(&'static str, String);

pub fn header_is(name: &'static str, value: impl Into<String>) -> HeaderIs {
    HeaderIs(name, value.into())
}

impl Match for HeaderIs {
    fn matches(&self, request: &Request) -> bool {
        let mut values = request.headers.get_all(self.0).iter();
        matches!(
            (values.next(), values.next()),
            (Some(v), None) if v.as_bytes() == self.1.as_bytes()
        )
    }
}

/// The request does not carry this header at all.
pub struct HeaderAbsent(pub &'static str);

impl Match for HeaderAbsent {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key(self.0)
    }
}

/// The query string is exactly this (no other parameters).
pub struct QueryIs(pub &'static str);

impl Match for QueryIs {
    fn matches(&self, request: &Request) -> bool {
        request.url.query() == Some(self.0)
    }
}

/// A fixture with one top-level field replaced.
pub fn with(mut value: Value, field: &str, new: Value) -> Value {
    value[field] = new;
    value
}

/// Methods and paths of what the server received, in order.
pub async fn received(server: &wiremock::MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}
