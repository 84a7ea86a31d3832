//! Playbooks: named, planned, confirmed, journaled, resumable sequences of steps.

pub mod executor;
pub mod journal;
pub mod lock;
pub mod plan;
pub mod runner;
mod vocabulary;

pub use vocabulary::StepKind;

/// A playbook is data: a name, what it is for, and its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub name: String,
    pub description: String,
    pub steps: Vec<StepKind>,
}

impl Playbook {
    fn new(name: &str, description: &str, steps: &[StepKind]) -> Self {
        Playbook {
            name: name.into(),
            description: description.into(),
            steps: steps.to_vec(),
        }
    }

    pub fn is_destructive(&self) -> bool {
        self.steps.iter().any(|s| s.is_destructive())
    }
}

/// The playbooks herokuops ships with.
pub fn builtins() -> Vec<Playbook> {
    use StepKind::*;
    vec![
        Playbook::new(
            "reset",
            "Drop and recreate schema public, let the app migrate it again, verify",
            &[PgDropSchema, Migrate, PgVerify],
        ),
        Playbook::new(
            "swap-db",
            "Move the app onto a new Postgres add-on: create, wait, maintenance on, promote, maintenance off, restart, verify",
            &[
                AddonsCreate,
                PgWait,
                MaintenanceOn,
                PgPromote,
                MaintenanceOff,
                DynosRestart,
                PgVerify,
            ],
        ),
        Playbook::new(
            "backup-capture",
            "Capture a backup and follow it to completion",
            &[BackupCapture],
        ),
        Playbook::new(
            "restore",
            "Restore the database from a backup, restart the dynos, verify",
            &[BackupRestore, DynosRestart, PgVerify],
        ),
    ]
}

pub fn builtin(name: &str) -> Option<Playbook> {
    builtins().into_iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_named_and_destructive_where_they_destroy() {
        assert!(builtin("reset").unwrap().is_destructive());
        assert!(builtin("swap-db").unwrap().is_destructive());
        assert!(builtin("restore").unwrap().is_destructive());
        assert!(!builtin("backup-capture").unwrap().is_destructive());
        assert!(builtin("nope").is_none());
    }
}
