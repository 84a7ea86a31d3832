//! The slow tests: the CLI end to end against the sandbox (playbooks, the fault matrix, kills,
//! fleets, GitHub Actions mode), and the Postgres side against real PostgreSQL servers. Not
//! part of a plain `cargo test`: `cargo test --test integration` (and `scripts/test`) runs them.

mod e2e;
mod fleet;
mod gha;
mod pg_commands;
mod pg_depth;
mod pg_diagnose;
mod pg_edges;
mod pg_live;
mod pg_schema_diff;
mod pg_tls;
mod pg_verify;
mod sandbox;
mod support;
