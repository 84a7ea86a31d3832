//! The integration test binary: the CLI run as a user runs it, and the Postgres side against a
//! real PostgreSQL server.

mod cli;
mod endpoint_table;
mod pg_verify;
mod sandbox;
mod support;
