//! One file per noun. Each command parses its arguments, calls the library, and renders.

pub mod activity;
pub mod addons;
pub mod archive;
pub mod auth;
pub mod backup;
pub mod ci;
pub mod db;
pub mod dynos;
pub mod logs;
pub mod maintenance;
pub mod migrate;
pub mod pg;
pub mod playbook;
pub mod psql;
pub mod run;
pub mod transfer;
pub mod which_db;

use std::time::Duration;

/// Parses durations such as `90s`, `15m`, `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration such as 30s or 15m: {e}"))
}
