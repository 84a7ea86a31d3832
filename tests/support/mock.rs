//! A mock Heroku for the tests that run without the sandbox: a local server with one catch-all
//! below every other mock, which answers 599 and fails the test when the server is dropped, so
//! a request nobody expected can never pass unnoticed.

#![allow(dead_code)]

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .named("unexpected request (no mock matched)")
        .expect(0)
        .mount(&server)
        .await;
    server
}
