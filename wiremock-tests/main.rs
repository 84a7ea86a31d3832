//! Contract tests of the Heroku API client against a local mock server: every request's
//! method, path, query, headers and exact body. Every mock carries `.expect(n)`, and a
//! catch-all mock fails any test that sends a request nobody expected.

mod conformance;
mod contract;
mod data_api;
mod edges;
mod heroku_fixture;
mod peer;
mod platform;
mod retries;
mod steps;
mod support;
