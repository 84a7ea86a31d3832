//! The integration test binary: the CLI run as a user runs it, and the Postgres side against a
//! real PostgreSQL server.

mod ci;
mod cli;
mod e2e;
mod endpoint_table;
mod fleet;
mod gha;
mod pg_commands;
mod pg_depth;
mod pg_diagnose;
mod pg_live;
mod pg_schema_diff;
mod pg_tls;
mod pg_verify;
mod sandbox;
mod support;
