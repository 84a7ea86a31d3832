//! The steps playbooks are made of, each also a single command.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepKind {
    #[serde(rename = "backup.capture")]
    BackupCapture,
    #[serde(rename = "backup.restore")]
    BackupRestore,
    #[serde(rename = "pg.drop-schema")]
    PgDropSchema,
    #[serde(rename = "pg.verify")]
    PgVerify,
    #[serde(rename = "pg.wait")]
    PgWait,
    #[serde(rename = "pg.promote")]
    PgPromote,
    /// Heroku's copy of the current database into the add-on this run created, then a row
    /// count of every table on both sides.
    #[serde(rename = "pg.copy")]
    PgCopy,
    /// A local database restored into the app's (`herokuops db push`).
    #[serde(rename = "pg.push")]
    PgPush,
    #[serde(rename = "addons.create")]
    AddonsCreate,
    #[serde(rename = "maintenance.on")]
    MaintenanceOn,
    #[serde(rename = "maintenance.off")]
    MaintenanceOff,
    #[serde(rename = "dynos.restart")]
    DynosRestart,
    #[serde(rename = "dynos.wait-up")]
    DynosWaitUp,
    #[serde(rename = "migrate")]
    Migrate,
    #[serde(rename = "run")]
    Run,
}

impl StepKind {
    pub const ALL: [StepKind; 15] = [
        StepKind::BackupCapture,
        StepKind::BackupRestore,
        StepKind::PgDropSchema,
        StepKind::PgVerify,
        StepKind::PgWait,
        StepKind::PgPromote,
        StepKind::PgCopy,
        StepKind::PgPush,
        StepKind::AddonsCreate,
        StepKind::MaintenanceOn,
        StepKind::MaintenanceOff,
        StepKind::DynosRestart,
        StepKind::DynosWaitUp,
        StepKind::Migrate,
        StepKind::Run,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StepKind::BackupCapture => "backup.capture",
            StepKind::BackupRestore => "backup.restore",
            StepKind::PgDropSchema => "pg.drop-schema",
            StepKind::PgVerify => "pg.verify",
            StepKind::PgWait => "pg.wait",
            StepKind::PgPromote => "pg.promote",
            StepKind::PgCopy => "pg.copy",
            StepKind::PgPush => "pg.push",
            StepKind::AddonsCreate => "addons.create",
            StepKind::MaintenanceOn => "maintenance.on",
            StepKind::MaintenanceOff => "maintenance.off",
            StepKind::DynosRestart => "dynos.restart",
            StepKind::DynosWaitUp => "dynos.wait-up",
            StepKind::Migrate => "migrate",
            StepKind::Run => "run",
        }
    }

    /// Needs the operator's confirmation naming the app. `pg.copy` writes only into the
    /// add-on its run created, so it destroys nothing that was there before.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            StepKind::PgDropSchema
                | StepKind::BackupRestore
                | StepKind::PgPromote
                | StepKind::PgPush
        )
    }

    /// Only reads: safe to run in any order and again.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            StepKind::PgVerify | StepKind::PgWait | StepKind::DynosWaitUp
        )
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StepKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StepKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = StepKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown step {s:?}; steps are: {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in StepKind::ALL {
            assert_eq!(kind.name().parse::<StepKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        assert!(
            "pg.dropschema"
                .parse::<StepKind>()
                .unwrap_err()
                .contains("pg.drop-schema")
        );
    }
}
