//! What a run will do, as data: the facts the read-only preflight found, and each step with the
//! requests and SQL it makes. The confirmation, `--dry-run` and `--json` all show this one value.

use std::path::PathBuf;

use serde::Serialize;

use super::StepKind;
use crate::pg::drop::SchemaState;

/// What the read-only preflight found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Preflight {
    pub account: String,
    pub app: String,
    /// The add-on behind `DATABASE_URL`, and its plan.
    pub database_addon: String,
    pub database_plan: Option<String>,
    pub maintenance: bool,
    /// The tables of schema `public`.
    pub tables: Vec<String>,
    /// About how many rows they hold.
    pub rows: i64,
    /// Schema `public` as a drop will find it (owner, privileges, comment).
    #[serde(skip)]
    pub schema: Option<SchemaState>,
    pub expect: Option<PathBuf>,
}

/// What a step will do, for the plan and `--dry-run`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepPlan {
    pub step: StepKind,
    pub description: String,
    /// The API calls it makes, e.g. `PATCH /apps/tmi-server {"maintenance":true}`.
    pub requests: Vec<String>,
    /// The SQL it runs.
    pub sql: Vec<String>,
    pub destructive: bool,
}
