//! Contract tests of the Heroku API client against a local mock server: every request's
//! method, path, query, headers and exact body. Every mock carries `.expect(n)`, and a
//! catch-all mock fails any test that sends a request nobody expected.

#[path = "../tests/support/binary.rs"]
mod binary;
mod chores;
mod commands;
mod conformance;
mod contract;
mod data_api;
mod edges;
mod heroku_fixture;
mod peer;
mod platform;
mod repeats;
mod retries;
#[path = "../tests/support/skip.rs"]
mod skip;
mod steps;
mod support;
