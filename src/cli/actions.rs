//! What the commands leave behind in a GitHub Actions run: a Markdown summary appended to
//! `$GITHUB_STEP_SUMMARY`, results in `$GITHUB_OUTPUT` for later steps, and an `::error::`
//! annotation for a failure. Everything here is a no-op outside GitHub Actions.

use crate::error::Error;
use crate::output::Io;
use crate::output::gha::{md_cell, md_table};
use crate::pg::Drift;
use crate::playbooks::journal::{RunStatus, StepStatus};
use crate::playbooks::runner::Report;

/// Drift rows shown in the summary; the rest are counted. GitHub's 1 MiB cap is enforced
/// separately when the summary is written.
const MAX_DRIFT_ROWS: usize = 500;

pub fn run_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Running => "running",
    }
}

fn step_status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Done => "✅ done",
        StepStatus::Failed => "❌ failed",
        StepStatus::Running => "running",
        StepStatus::Pending => "not run",
    }
}

fn seconds(ms: Option<u64>) -> String {
    ms.map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
        .unwrap_or_default()
}

/// The error annotation's text: the one-line cause first, then what the operator needs next.
pub fn error_message(error: &Error) -> String {
    let mut lines = vec![error.to_string()];
    lines.extend(
        error
            .causes()
            .into_iter()
            .map(|c| format!("caused by: {c}")),
    );
    if let Some(hint) = error.hint() {
        lines.push(format!("hint: {hint}"));
    }
    lines.join("\n")
}

/// The values of config vars that are secrets by name (a key, secret, token, password or URL)
/// or by form (a URL carrying a password); plain settings such as `GO_ENV=production` are left
/// visible, since a mask blanks that text everywhere in the log.
pub fn secret_config_values(vars: &std::collections::BTreeMap<String, String>) -> Vec<&str> {
    const SECRET_NAMES: [&str; 7] = [
        "KEY",
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASS",
        "URL",
        "CREDENTIALS",
    ];
    vars.iter()
        .filter(|(name, value)| {
            let upper = name.to_ascii_uppercase();
            let by_name = upper
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| SECRET_NAMES.contains(&word));
            let by_form = url::Url::parse(value).is_ok_and(|u| u.password().is_some());
            by_name || by_form
        })
        .map(|(_, value)| value.as_str())
        .collect()
}

/// A playbook's report: summary, outputs, and on failure an annotation naming the failed step.
/// `failure` is the error's annotation text ([`error_message`]) when the run failed.
pub fn playbook_report(io: &Io, report: &Report, failure: Option<&str>) {
    if io.gha.is_none() {
        return;
    }
    let failed_step = report
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Failed)
        .map(|s| s.step.to_string());
    if let Some(error_text) = failure {
        annotate_failure(io, report, failed_step.as_deref(), error_text);
    }
    io.gha_summary(&playbook_summary(report, failure));
    io.gha_outputs(&playbook_outputs(report, failed_step));
}

/// The error annotation of a failed run, titled with the step it stopped at, with the app's
/// state and how to continue after the cause.
fn annotate_failure(io: &Io, report: &Report, failed_step: Option<&str>, error_text: &str) {
    let title = match failed_step {
        Some(step) if report.status == RunStatus::Interrupted => {
            format!(
                "{} on {} interrupted at {step}",
                report.playbook, report.app
            )
        }
        Some(step) => format!("{} on {} failed at {step}", report.playbook, report.app),
        None => format!(
            "{} on {} {}",
            report.playbook,
            report.app,
            run_status(report.status)
        ),
    };
    let mut message = error_text.to_string();
    if let Some(state) = &report.app_state {
        message.push_str(&format!("\nstate of {}: {state}", report.app));
    }
    if let Some(resume) = &report.resume_command {
        message.push_str(&format!("\nto continue: {resume}"));
    }
    io.annotate_error(Some(&title), &message);
}

/// The run's Markdown summary: a heading with its status, a table of its steps, and on
/// failure the cause, the app's state and how to continue.
fn playbook_summary(report: &Report, failure: Option<&str>) -> String {
    let mut md = format!(
        "### herokuops {} on `{}`: {}\n\nRun `{}`",
        md_cell(&report.playbook),
        md_cell(&report.app),
        run_status(report.status),
        md_cell(&report.run_id)
    );
    if let Some(backup) = &report.state.safety_backup {
        md.push_str(&format!(", safety backup `{}`", md_cell(backup)));
    }
    md.push_str(".\n\n");
    let rows: Vec<[String; 4]> = report
        .steps
        .iter()
        .map(|s| {
            [
                format!("`{}`", s.step),
                step_status(s.status).to_string(),
                seconds(s.duration_ms),
                s.error.clone().or(s.detail.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    md.push_str(&md_table(
        ["step", "status", "time", "detail"],
        &rows,
        rows.len(),
    ));
    if let Some(error) = failure {
        md.push_str(&format!("\n**Failed:** {}\n", md_cell(error)));
    }
    if let Some(state) = &report.app_state {
        md.push_str(&format!("\n**State of the app:** {}\n", md_cell(state)));
    }
    if let Some(resume) = &report.resume_command {
        md.push_str(&format!(
            "\nTo continue from the failed step: `{}` (the journal is in the run's artifact)\n",
            md_cell(resume)
        ));
    }
    md.push('\n');
    md
}

/// The run's step outputs, for later steps of the job: its id and status, and the backups it
/// made and the step it failed at when there are any.
fn playbook_outputs(report: &Report, failed_step: Option<String>) -> Vec<(&'static str, String)> {
    let mut outputs = vec![
        ("run_id", report.run_id.clone()),
        ("status", run_status(report.status).to_string()),
        ("playbook", report.playbook.clone()),
        ("app", report.app.clone()),
    ];
    if let Some(backup) = &report.state.backup {
        outputs.push(("backup_id", backup.clone()));
    }
    if let Some(backup) = &report.state.safety_backup {
        outputs.push(("safety_backup_id", backup.clone()));
    }
    if let Some(step) = failed_step {
        outputs.push(("failed_step", step));
    }
    outputs
}

/// `verify`: the drift count and list as outputs, the drift table in the summary, and an
/// annotation when the schema drifted.
pub fn verify_result(io: &Io, label: &str, file: &str, drifts: &[Drift]) {
    if io.gha.is_none() {
        return;
    }
    let mut md = format!("### herokuops verify `{}`\n\n", md_cell(label));
    if drifts.is_empty() {
        md.push_str(&format!("✅ The schema matches `{}`.\n\n", md_cell(file)));
    } else {
        io.annotate_error(
            Some(&format!("schema drift on {label}")),
            &format!(
                "{label} differs from {file} in {} place(s); first: {}",
                drifts.len(),
                drifts[0]
            ),
        );
        md.push_str(&format!(
            "❌ {} difference(s) from `{}`:\n\n",
            drifts.len(),
            md_cell(file)
        ));
        let rows: Vec<[String; 4]> = drifts
            .iter()
            .map(|d| {
                [
                    d.kind.to_string(),
                    format!("`{}`", d.object),
                    d.expected.clone(),
                    d.found.clone(),
                ]
            })
            .collect();
        md.push_str(&md_table(
            ["drift", "object", "expected", "found"],
            &rows,
            MAX_DRIFT_ROWS,
        ));
        md.push('\n');
    }
    io.gha_summary(&md);
    let list: Vec<String> = drifts.iter().map(|d| d.to_string()).collect();
    io.gha_outputs(&[
        (
            "status",
            if drifts.is_empty() { "clean" } else { "drift" }.to_string(),
        ),
        ("drift_count", drifts.len().to_string()),
        ("drift", list.join("\n")),
    ]);
}

/// `backup capture`: the backup's name as `backup_id`, and a summary line.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::gha::Actions;
    use crate::output::{Io, Mode};
    use crate::pg::verify::DriftKind;
    use crate::playbooks::StepKind;
    use crate::playbooks::journal::{RunState, StepRecord};

    fn io_in_actions(dir: &std::path::Path) -> (Io, crate::output::CapturedStreams) {
        let (mut io, streams) = Io::captured(Mode::Human);
        io.gha = Some(Actions::new(
            Some(dir.join("output")),
            Some(dir.join("summary.md")),
        ));
        (io, streams)
    }

    fn record(step: StepKind, status: StepStatus, detail: &str) -> StepRecord {
        StepRecord {
            step,
            status,
            started_at: None,
            duration_ms: Some(1500),
            detail: (status == StepStatus::Done).then(|| detail.to_string()),
            error: (status == StepStatus::Failed).then(|| detail.to_string()),
        }
    }

    #[test]
    fn a_failed_report_annotates_the_step_and_writes_summary_and_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let (io, streams) = io_in_actions(dir.path());
        let report = Report {
            run_id: "r-1".into(),
            playbook: "reset".into(),
            app: "tmi-server".into(),
            status: RunStatus::Failed,
            abandoned: false,
            steps: vec![
                record(
                    StepKind::PgDropSchema,
                    StepStatus::Done,
                    "dropped | recreated",
                ),
                record(StepKind::Migrate, StepStatus::Failed, "restart: 500"),
                record(StepKind::PgVerify, StepStatus::Pending, ""),
            ],
            state: RunState {
                safety_backup: Some("b001".into()),
                ..Default::default()
            },
            journal: Some("/tmp/r-1.json".into()),
            error: Some("restart: 500".into()),
            app_state: Some("the data from before the run is in backup b001".into()),
            resume_command: Some("herokuops resume r-1".into()),
        };
        playbook_report(&io, &report, Some("restart: 500"));
        let out = streams.out.contents();
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [
                "::error title=reset on tmi-server failed at migrate::restart: 500%0Astate of tmi-server: the data from before the run is in backup b001%0Ato continue: herokuops resume r-1"
            ]
        );
        let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert!(
            summary.contains("### herokuops reset on `tmi-server`: failed"),
            "{summary}"
        );
        assert!(
            summary.contains("| `pg.drop-schema` | ✅ done | 1.5s | dropped \\| recreated |"),
            "{summary}"
        );
        assert!(
            summary.contains("| `migrate` | ❌ failed | 1.5s | restart: 500 |"),
            "{summary}"
        );
        assert!(summary.contains("`herokuops resume r-1`"), "{summary}");
        let outputs = std::fs::read_to_string(dir.path().join("output")).unwrap();
        assert_eq!(
            outputs,
            "run_id=r-1\nstatus=failed\nplaybook=reset\napp=tmi-server\nsafety_backup_id=b001\nfailed_step=migrate\n"
        );
    }

    #[test]
    fn verify_writes_the_drift_table_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let (io, streams) = io_in_actions(dir.path());
        let drifts = vec![Drift::new(DriftKind::MissingTable, "notes", "table", "nothing"); 3];
        verify_result(&io, "tmi-server", "expected.toml", &drifts);
        assert!(
            streams
                .out
                .contents()
                .starts_with("::error title=schema drift on tmi-server::")
        );
        let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert_eq!(summary.matches("| `notes` |").count(), 3, "{summary}");
        let outputs = std::fs::read_to_string(dir.path().join("output")).unwrap();
        assert!(
            outputs.starts_with("status=drift\ndrift_count=3\ndrift<<ghadelimiter_"),
            "{outputs}"
        );
    }

    #[test]
    fn errors_are_annotated_once_where_they_are_rendered() {
        let dir = tempfile::tempdir().unwrap();
        let (io, streams) = io_in_actions(dir.path());
        let code = crate::cli::report(
            &io,
            Err(Error::Step(crate::steps::StepError::NoBackup {
                app: "tmi-server".into(),
            })),
        );
        assert_eq!(code, 1);
        assert_eq!(
            streams.out.contents(),
            "::error::app tmi-server has no successful backup%0Ahint: capture one with `herokuops backup capture tmi-server`\n"
        );
        // Drift and a playbook's failure were annotated with their report already.
        let (io, streams) = io_in_actions(dir.path());
        crate::cli::report(&io, Err(Error::Drift { count: 2 }));
        crate::cli::report(&io, Err(Error::Reported(Box::new(Error::usage("x")))));
        assert_eq!(streams.out.contents(), "");
        assert!(streams.err.contents().contains("error: x"));
    }

    #[test]
    fn secret_config_vars_by_name_or_form() {
        let vars: std::collections::BTreeMap<String, String> = [
            ("DATABASE_URL", "postgres://u:p@h/d"),
            ("STRIPE_API_KEY", "sk_live_1"),
            ("SESSION_SECRET", "s3"),
            ("CACHE", "redis://:hunter2@cache:6379"),
            ("GO_ENV", "production"),
            ("KEYBOARD_LAYOUT", "us"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            secret_config_values(&vars),
            [
                "redis://:hunter2@cache:6379",
                "postgres://u:p@h/d",
                "s3",
                "sk_live_1"
            ]
        );
    }

    #[test]
    fn nothing_outside_actions() {
        let (io, streams) = Io::captured(Mode::Human);
        verify_result(&io, "a", "f", &[]);
        assert_eq!(streams.out.contents(), "");
    }
}
