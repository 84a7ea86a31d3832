//! What playbook commands show: the plan, the report of a run, and the lists of playbooks and
//! runs.

use serde::Serialize;

use crate::cli::actions;
use crate::output::style::{wrap, wrap_command, wrap_hanging};
use crate::output::table::{Cell, Table};
use crate::output::{Io, Look, Outcome, Tone};
use crate::playbooks::journal::{Journal, RunStatus, StepStatus};
use crate::playbooks::plan::{Preflight, StepPlan};
use crate::playbooks::runner::Report;
use crate::playbooks::{Playbook, StepKind};

/// What a run would do: the preflight's facts and each step. With `--dry-run` it is the
/// outcome; before a confirmation it is shown on stderr.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub dry_run: bool,
    pub playbook: String,
    pub app: String,
    pub preflight: Preflight,
    pub safety_backup: bool,
    pub steps: Vec<StepPlan>,
}

impl Plan {
    /// The facts the preflight found, a line each.
    fn facts(&self, look: &Look) -> Vec<String> {
        let p = &self.preflight;
        let mut lines = vec![
            format!("account      {}", p.account),
            format!(
                "database     {} ({}), maintenance {}",
                look.paint(Tone::Name, &p.database_addon),
                p.database_plan.as_deref().unwrap_or("plan unknown"),
                if p.maintenance { "on" } else { "off" }
            ),
            format!("schema       public: {}", tables_and_rows(p, look.verbose)),
        ];
        if let Some(path) = &p.expect {
            lines.push(format!("expected     {}", path.display()));
        }
        lines
    }

    /// The steps as a table; with `requests`, each step's requests and SQL below it.
    fn steps_table(&self, look: &Look, requests: bool) -> String {
        let mut table = Table::new(["#", "step", "", "what it does"]);
        if self.safety_backup {
            table.row([
                Cell::from("0"),
                Cell::from(StepKind::BackupCapture.name()),
                Cell::from(""),
                Cell::from(format!(
                    "safety backup of {}",
                    self.preflight.database_addon
                )),
            ]);
        }
        for (i, step) in self.steps.iter().enumerate() {
            let mark = match step.destructive {
                true => Cell::new(Tone::Bad, "destroys"),
                false => Cell::from(""),
            };
            table.row([
                Cell::from((i + 1).to_string()),
                Cell::new(Tone::Strong, step.step.name()),
                mark,
                Cell::from(step.description.clone()),
            ]);
            if requests {
                for line in step.requests.iter().chain(&step.sql) {
                    table.row(["", "", "", line.as_str()].map(|c| Cell::new(Tone::Dim, c)));
                }
            }
        }
        table.render(look)
    }

    /// The plan as text: a title, the facts, the steps.
    pub fn text(&self, look: &Look, requests: bool) -> String {
        let verb = if self.dry_run {
            "would run"
        } else {
            "will run"
        };
        let mut text = format!(
            "{verb} {} on {}\n",
            look.paint(Tone::Strong, &self.playbook),
            look.paint(Tone::Name, &self.app)
        );
        let width = look.width.unwrap_or(usize::MAX);
        for fact in self.facts(look) {
            for line in wrap_hanging(&format!("  {fact}"), width, 15) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text.push('\n');
        text.push_str(&self.steps_table(look, requests));
        text.trim_end().to_string()
    }
}

/// `25 tables, about 1,234 rows` (and their names with `--verbose`).
fn tables_and_rows(p: &Preflight, verbose: bool) -> String {
    let mut text = match p.tables.len() {
        0 => "no tables".to_string(),
        1 => "1 table".to_string(),
        n => format!("{n} tables"),
    };
    if !p.tables.is_empty() {
        text.push_str(&format!(", about {} rows", thousands(p.rows)));
    }
    if verbose && !p.tables.is_empty() {
        text.push_str(&format!(" ({})", p.tables.join(", ")));
    }
    text
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

impl Outcome for Plan {
    fn human(&self, look: &Look) -> String {
        self.text(look, true)
    }

    fn summary(&self) -> String {
        "dry run: nothing changed".into()
    }
}

/// A finished (or stopped) run.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RunReport {
    pub report: Report,
    /// The error's annotation text, for GitHub Actions.
    #[serde(skip)]
    pub failure: Option<String>,
}

impl Outcome for RunReport {
    fn human(&self, look: &Look) -> String {
        report_text(&self.report, look)
    }

    fn summary(&self) -> String {
        let r = &self.report;
        let status = status_word(r.status);
        let done = r
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Done)
            .count();
        match r.steps.iter().find(|s| s.status == StepStatus::Failed) {
            Some(s) => format!(
                "{} {status} at {}: {done} of {} steps done",
                r.playbook,
                s.step,
                r.steps.len()
            ),
            None => format!("{} {status}: {} steps", r.playbook, r.steps.len()),
        }
    }

    fn github(&self, io: &Io) {
        actions::playbook_report(io, &self.report, self.failure.as_deref());
    }
}

fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Running => "running",
    }
}

/// The report: the verdict, a table of the steps, and what the operator needs next.
pub fn report_text(report: &Report, look: &Look) -> String {
    let (verdict, tone) = match report.status {
        RunStatus::Running if report.abandoned => {
            ("was ABANDONED (its process is gone)", Tone::Bad)
        }
        RunStatus::Succeeded => ("succeeded", Tone::Good),
        RunStatus::Failed => ("FAILED", Tone::Bad),
        RunStatus::Interrupted => ("was INTERRUPTED", Tone::Warn),
        RunStatus::Running => ("is running", Tone::Warn),
    };
    let mut text = format!(
        "playbook {} on {} {} {}\n",
        look.paint(Tone::Strong, &report.playbook),
        look.paint(Tone::Name, &report.app),
        look.paint(tone, verdict),
        look.paint(Tone::Dim, &format!("(run {})", report.run_id))
    );
    text.push_str(&steps_table(report, look));
    let width = look.width.unwrap_or(usize::MAX);
    for line in after_lines(report, look) {
        // Prose wraps at the width; a command to copy (indented) breaks only where the shell
        // can take it.
        let lines = match line.starts_with("  ") {
            true => wrap_command(&line, width),
            false => wrap(&line, width),
        };
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text.trim_end().to_string()
}

fn steps_table(report: &Report, look: &Look) -> String {
    let mut table = Table::new(["step", "status", "time", "detail"]);
    for s in &report.steps {
        let (status, tone) = match s.status {
            StepStatus::Done => ("done", Tone::Good),
            StepStatus::Failed => ("failed", Tone::Bad),
            StepStatus::Running => ("running", Tone::Warn),
            StepStatus::Pending => ("not run", Tone::Dim),
        };
        let time = s
            .duration_ms
            .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let detail = s.error.clone().or(s.detail.clone()).unwrap_or_default();
        table.row([
            Cell::new(Tone::Strong, s.step.name()),
            Cell::new(tone, status),
            Cell::new(Tone::Dim, time),
            Cell::from(detail),
        ]);
    }
    table.render(look)
}

/// The lines under the table: the safety backup, the old database, the state, what next.
fn after_lines(report: &Report, look: &Look) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(b) = &report.state.safety_backup {
        lines.push(format!("safety backup: {b}"));
    }
    let promotion = &report.state.promotion;
    if let (Some(prev), Some(alias)) = (&promotion.previous_addon, &promotion.previous_alias) {
        let destroy = format!(
            "herokuops addons destroy {} {prev} --confirm {}",
            report.app, report.app
        );
        lines.push(format!(
            "the previous database {prev} is kept as {alias}_URL; destroy it when you no longer need it:"
        ));
        lines.push(format!("  {}", look.paint(Tone::Hint, &destroy)));
    }
    if let Some(state) = &report.app_state {
        lines.push(format!("state of {}: {state}", report.app));
    }
    if let Some(cmd) = &report.resume_command {
        lines.push(format!(
            "to continue from the failed step: {}",
            look.paint(Tone::Hint, cmd)
        ));
    }
    lines.push(match &report.journal {
        Some(path) => look.paint(Tone::Dim, &format!("journal: {}", path.display())),
        None => look.paint(Tone::Bad, "journal: NOT WRITTEN (see the error above)"),
    });
    lines
}

/// One playbook: its steps, which destroy data.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookEntry {
    pub name: String,
    pub description: String,
    pub steps: Vec<StepKind>,
    pub destructive: bool,
}

impl From<&Playbook> for PlaybookEntry {
    fn from(p: &Playbook) -> Self {
        PlaybookEntry {
            name: p.name.clone(),
            description: p.description.clone(),
            steps: p.steps.clone(),
            destructive: p.is_destructive(),
        }
    }
}

impl Outcome for PlaybookEntry {
    fn human(&self, look: &Look) -> String {
        let mut text = format!(
            "{}: {}",
            look.paint(Tone::Strong, &self.name),
            self.description
        );
        for (i, s) in self.steps.iter().enumerate() {
            let mark = if s.is_destructive() {
                format!("  {}", look.paint(Tone::Bad, "destroys data"))
            } else {
                String::new()
            };
            text.push_str(&format!("\n  {}. {s}{mark}", i + 1));
        }
        text
    }

    fn summary(&self) -> String {
        self.name.clone()
    }
}

/// The built-in and user playbooks.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct PlaybookList(pub Vec<PlaybookEntry>);

impl Outcome for PlaybookList {
    fn human(&self, look: &Look) -> String {
        let mut table = Table::new(["playbook", "steps", "description"]);
        for p in &self.0 {
            table.row([
                Cell::new(Tone::Strong, p.name.clone()),
                Cell::from(p.steps.len().to_string()),
                Cell::from(p.description.clone()),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} playbooks", self.0.len())
    }
}

/// One journaled run, as `runs list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunEntry {
    #[serde(flatten)]
    pub journal: Journal,
    pub abandoned: bool,
}

/// Journaled runs, newest first.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RunList(pub Vec<RunEntry>);

impl Outcome for RunList {
    fn human(&self, look: &Look) -> String {
        if self.0.is_empty() {
            return "no runs yet".into();
        }
        let mut table = Table::new(["run", "playbook", "app", "status", "started"]);
        for r in &self.0 {
            let status = r.journal.status_text();
            let tone = match status {
                "succeeded" => Tone::Good,
                "failed" | "abandoned" => Tone::Bad,
                _ => Tone::Warn,
            };
            table.row([
                Cell::from(r.journal.id.clone()),
                Cell::from(r.journal.playbook.clone()),
                Cell::new(Tone::Name, r.journal.app.clone()),
                Cell::new(tone, status),
                Cell::new(Tone::Dim, r.journal.started_at.clone()),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} runs", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
    }
}
