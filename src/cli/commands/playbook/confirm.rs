//! The question before a run that changes data: what each destructive step does to the app's
//! data, in the playbook's own terms, and whether a safety backup comes first.

use crate::output::style::wrap;
use crate::output::{Look, Tone};
use crate::playbooks::StepKind;

use super::render::{Plan, thousands};

/// What the operator is asked to agree to, a sentence a line.
pub fn question(plan: &Plan, look: &Look) -> String {
    let p = &plan.preflight;
    let db = look.paint(Tone::Name, &p.database_addon);
    let app = look.paint(Tone::Name, &plan.app);
    let size = match p.tables.len() {
        0 => "no tables".to_string(),
        n => format!("{n} tables, about {} rows", thousands(p.rows)),
    };
    let mut lines = Vec::new();
    for step in &plan.steps {
        let line = match step.step {
            StepKind::PgDropSchema => format!(
                "{} schema public of {db} ({size}) is dropped and created again empty.",
                look.paint(Tone::Bad, "Data loss:")
            ),
            StepKind::BackupRestore => format!(
                "{} the data in {db} ({size}) is replaced by the backup.",
                look.paint(Tone::Bad, "Data loss:")
            ),
            StepKind::PgPromote => format!(
                "{app} moves onto a new database; {db} is kept, reachable under its alias, and nothing is deleted."
            ),
            _ => continue,
        };
        lines.push(line);
    }
    let loses_data = plan
        .steps
        .iter()
        .any(|s| matches!(s.step, StepKind::PgDropSchema | StepKind::BackupRestore));
    if plan.safety_backup {
        lines.push(format!(
            "A safety backup of {db} is taken first; the run says its name."
        ));
    } else if loses_data {
        lines.push(format!(
            "{} is taken (--no-backup): what is lost cannot be brought back by herokuops.",
            look.paint(Tone::Bad, "No safety backup")
        ));
    }
    let width = look.width.unwrap_or(usize::MAX).max(40);
    let wrapped: Vec<String> = lines.iter().flat_map(|l| wrap(l, width)).collect();
    format!("\n{}", wrapped.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbooks::plan::{Preflight, StepPlan};

    fn plan(steps: &[StepKind], safety_backup: bool) -> Plan {
        Plan {
            dry_run: false,
            playbook: "p".into(),
            app: "tmi-server".into(),
            preflight: Preflight {
                database_addon: "postgresql-cobalt-1".into(),
                tables: vec!["a".into(), "b".into()],
                rows: 12345,
                ..Default::default()
            },
            safety_backup,
            steps: steps
                .iter()
                .map(|s| StepPlan {
                    step: *s,
                    description: String::new(),
                    requests: vec![],
                    sql: vec![],
                    destructive: s.is_destructive(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_reset_says_what_is_lost_and_that_a_backup_comes_first() {
        let text = question(
            &plan(&[StepKind::PgDropSchema, StepKind::Migrate], true),
            &Look::PLAIN,
        );
        assert!(
            text.contains(
                "schema public of postgresql-cobalt-1 (2 tables, about 12,345 rows) is dropped"
            ),
            "{text}"
        );
        assert!(
            text.contains("A safety backup of postgresql-cobalt-1 is taken first"),
            "{text}"
        );
        assert!(!text.contains("cannot be undone"), "{text}");
    }

    #[test]
    fn a_swap_says_nothing_is_deleted() {
        let text = question(
            &plan(&[StepKind::AddonsCreate, StepKind::PgPromote], true),
            &Look::PLAIN,
        );
        assert!(text.contains("nothing is deleted"), "{text}");
        assert!(!text.contains("Data loss"), "{text}");
        assert!(text.contains("A safety backup"), "{text}");
        let text = question(&plan(&[StepKind::PgPromote], false), &Look::PLAIN);
        assert!(
            !text.contains("No safety backup"),
            "nothing is lost to warn of: {text}"
        );
    }

    #[test]
    fn no_backup_is_said_plainly() {
        let text = question(&plan(&[StepKind::BackupRestore], false), &Look::PLAIN);
        assert!(
            text.contains("No safety backup is taken (--no-backup)"),
            "{text}"
        );
    }
}
