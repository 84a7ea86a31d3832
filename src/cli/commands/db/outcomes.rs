//! What the database commands found or did, and how it reads.

use serde::Serialize;

use crate::cli::actions;
use crate::output::style::{visible_width, wrap_hanging};
use crate::output::table::{Cell, Table};
use crate::output::{Io, Look, Outcome, Tone};
use crate::pg::check::CheckReport;
use crate::pg::diagnose::{Finding, Rating};
use crate::pg::drop::{DropReport, SchemaState};
use crate::pg::introspect::MigrationState;
use crate::pg::{Drift, DriftKind, diff};

/// `verify`: the live schema against a file.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub database: String,
    pub expect: String,
    pub schema: String,
    pub tables: usize,
    pub drift: Vec<Drift>,
}

impl Outcome for Verification {
    fn human(&self, look: &Look) -> String {
        let database = look.paint(Tone::Name, &self.database);
        if self.ok {
            return format!(
                "{database} {} {}: schema {} with {} tables",
                look.paint(Tone::Good, "matches"),
                self.expect,
                self.schema,
                self.tables
            );
        }
        format!(
            "{database} {} {} in {} place(s):\n\n{}",
            look.paint(Tone::Warn, "differs from"),
            self.expect,
            self.drift.len(),
            drift_report(&self.drift, "expected", "found", look)
        )
    }

    fn summary(&self) -> String {
        match self.ok {
            true => format!("matches ({} tables)", self.tables),
            false => format!("{} difference(s)", self.drift.len()),
        }
    }

    fn github(&self, io: &Io) {
        actions::verify_result(io, &self.database, &self.expect, &self.drift);
    }
}

/// `schema diff`: two schemas, each live or a file.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaDiff {
    pub ok: bool,
    pub a: String,
    pub b: String,
    pub drift: Vec<Drift>,
}

impl Outcome for SchemaDiff {
    fn human(&self, look: &Look) -> String {
        let (a, b) = (
            look.paint(Tone::Name, &self.a),
            look.paint(Tone::Name, &self.b),
        );
        if self.ok {
            return format!(
                "{a} and {b} {}",
                look.paint(Tone::Good, "have the same schema")
            );
        }
        format!(
            "{a} and {b} {} in {} place(s) (missing: in A, not in B; extra: in B, not in A):\n\n{}",
            look.paint(Tone::Warn, "differ"),
            self.drift.len(),
            drift_report(&self.drift, "A", "B", look)
        )
    }

    fn summary(&self) -> String {
        match self.ok {
            true => "same schema".into(),
            false => format!("{} difference(s)", self.drift.len()),
        }
    }
}

/// One row per difference, or, where that table would not fit the terminal, one block per
/// difference; definitions too long for a cell follow as a short unified diff of the two
/// (normalized) texts.
pub fn drift_report(drifts: &[Drift], left: &str, right: &str, look: &Look) -> String {
    let table = drift_table(drifts, left, right);
    let natural = table.render(&Look {
        width: None,
        ..*look
    });
    let fits = look
        .width
        .is_none_or(|w| natural.lines().all(|l| visible_width(l) <= w));
    let mut text = match fits {
        true => natural,
        false => drift_blocks(drifts, left, right, look),
    };
    for d in drifts
        .iter()
        .filter(|d| diff::is_long(&d.expected, &d.found))
    {
        let body = diff::unified(&d.expected, &d.found, 1);
        let title = format!("{} {} ({})", d.object_kind, d.object, d.aspect);
        text.push_str(&format!(
            "\n{}:\n--- {left}\n+++ {right}\n{body}\n",
            look.paint(Tone::Strong, &title)
        ));
    }
    text
}

/// What a drift's table row and block call it: `missing_column`, or `changed` for an object
/// of another kind whose attribute differs.
fn difference(d: &Drift) -> String {
    match d.kind {
        DriftKind::Missing | DriftKind::Extra | DriftKind::Changed => d.kind.as_str().into(),
        other => other.to_string(),
    }
}

/// A side as a cell shows it: a long definition is left to the diff below the table.
fn side_text(d: &Drift, text: &str) -> String {
    let long = diff::is_long(&d.expected, &d.found);
    match long && (text.len() > diff::LONG || text.contains('\n')) {
        true => "see the diff below".to_string(),
        false => text.to_string(),
    }
}

fn drift_table(drifts: &[Drift], left: &str, right: &str) -> Table {
    let mut table = Table::new(["difference", "kind", "object", "what", left, right]);
    for d in drifts {
        table.row([
            Cell::new(Tone::Warn, difference(d)),
            d.object_kind.to_string().into(),
            Cell::new(Tone::Strong, d.object.clone()),
            d.aspect.clone().into(),
            side_text(d, &d.expected).into(),
            side_text(d, &d.found).into(),
        ]);
    }
    table
}

/// Narrow terminals: the object's name whole on a line of its own, then each side.
fn drift_blocks(drifts: &[Drift], left: &str, right: &str, look: &Look) -> String {
    let width = look.width.unwrap_or(80);
    let mut text = String::new();
    for d in drifts {
        let head = format!("{} {}", d.object_kind, d.object);
        text.push_str(&format!(
            "{} {}\n",
            look.paint(Tone::Warn, &difference(d)),
            look.paint(Tone::Strong, &head)
        ));
        let label_width = left.len().max(right.len()).max(4);
        for (label, side) in [
            ("what", d.aspect.clone()),
            (left, side_text(d, &d.expected)),
            (right, side_text(d, &d.found)),
        ] {
            if side.is_empty() {
                continue;
            }
            let line = format!("  {label:<label_width$}  {side}");
            for l in wrap_hanging(&line, width, label_width + 4) {
                text.push_str(&format!("{l}\n"));
            }
        }
    }
    text
}

/// `schema snapshot`: written to a file, or the file's text itself.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub database: String,
    pub schema: String,
    pub tables: usize,
    pub migration: Option<MigrationState>,
    pub file: Option<String>,
    /// The text, when it goes to stdout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toml: Option<String>,
}

impl Outcome for Snapshot {
    fn human(&self, look: &Look) -> String {
        match (&self.file, &self.toml) {
            (_, Some(text)) => text.clone(),
            (Some(file), None) => format!(
                "wrote {file}: schema {} of {} with {} tables",
                self.schema,
                look.paint(Tone::Name, &self.database),
                self.tables
            ),
            (None, None) => String::new(),
        }
    }

    fn summary(&self) -> String {
        format!("{} tables", self.tables)
    }

    fn is_data(&self) -> bool {
        self.toml.is_some()
    }
}

/// `db check`: the connection, the server and each table's rows.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub database: String,
    /// The masked URL, when the database is named by its app.
    #[serde(skip)]
    pub address: Option<String>,
    pub check: CheckReport,
}

impl Outcome for Checked {
    fn human(&self, look: &Look) -> String {
        let r = &self.check;
        let name = match &self.address {
            Some(address) => format!("{} ({address})", look.paint(Tone::Name, &self.database)),
            None => look.paint(Tone::Name, &self.database),
        };
        let encrypted = match r.ssl {
            true => look.paint(Tone::Good, "yes (TLS)"),
            false => look.paint(Tone::Warn, "no"),
        };
        let mut text = format!(
            "connected to {name}\nserver       PostgreSQL {}\ndatabase     {} as {}\nencrypted    {encrypted}\nconnections  {} to this database, {} of {} on the server\n",
            r.server_version,
            r.database,
            r.user,
            r.connections,
            r.connections_total,
            r.max_connections,
        );
        let kind = if r.exact { "rows" } else { "rows (estimated)" };
        text.push_str(&format!("\n{} tables\n", r.tables.len()));
        if !r.tables.is_empty() {
            let mut table = Table::new(["table", kind]);
            for t in &r.tables {
                // A partition sits under its parent, one step in per level.
                let name = format!("{}{}", "  ".repeat(t.depth), t.display_name());
                table.row([name, t.rows.to_string()]);
            }
            text.push_str(&table.render(look));
        }
        text
    }

    fn summary(&self) -> String {
        format!(
            "PostgreSQL {}, {} tables",
            self.check.server_version,
            self.check.tables.len()
        )
    }
}

/// `db diagnose`: each check with its rating, and the details that explain a rating.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub database: String,
    pub worst: Rating,
    pub findings: Vec<Finding>,
    /// The rating that fails the command (`--fail-on`), when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<Rating>,
}

impl Diagnosis {
    /// The findings that reach `--fail-on`.
    pub fn failing(&self) -> Vec<&Finding> {
        match self.fail_on {
            Some(level) => self.findings.iter().filter(|f| f.rating >= level).collect(),
            None => Vec::new(),
        }
    }
}

fn rating_cell(rating: Rating) -> Cell {
    let tone = match rating {
        Rating::Ok => Tone::Good,
        Rating::Warn => Tone::Warn,
        Rating::Fail => Tone::Bad,
    };
    Cell::new(tone, rating.as_str().to_uppercase())
}

impl Outcome for Diagnosis {
    fn human(&self, look: &Look) -> String {
        let mut summary = Table::new(["rating", "check", "value", "threshold"]);
        for f in &self.findings {
            summary.row([
                rating_cell(f.rating),
                f.title.to_string().into(),
                f.value.clone().into(),
                f.threshold.clone().into(),
            ]);
        }
        let database = look.paint(Tone::Name, &self.database);
        let mut text = format!("diagnosis of {database}\n\n{}", summary.render(look));
        // Details only where they explain a rating, plus the informational sizes.
        let explained = self
            .findings
            .iter()
            .filter(|f| !f.details.rows.is_empty() && (f.rating != Rating::Ok || f.id == "sizes"));
        for f in explained {
            let mut table = Table::new(f.details.columns.clone());
            for row in &f.details.rows {
                table.row(row.clone());
            }
            let title = look.paint(Tone::Strong, f.title);
            text.push_str(&format!(
                "\n{title} ({})\n{}",
                f.rating.as_str(),
                table.render(look)
            ));
        }
        text
    }

    fn summary(&self) -> String {
        let at = |r: Rating| self.findings.iter().filter(|f| f.rating == r).count();
        format!(
            "worst rating {}: {} warn, {} fail",
            self.worst.as_str(),
            at(Rating::Warn),
            at(Rating::Fail)
        )
    }
}

/// `db drop-schema --dry-run`: the statements, and what else would go.
#[derive(Debug, Clone, Serialize)]
pub struct DropPlan {
    pub dry_run: bool,
    pub database: String,
    pub before: SchemaState,
    pub statements: Vec<String>,
    /// Whether `--drop-dependents` lets the objects of other schemas go too.
    #[serde(skip)]
    pub drop_dependents: bool,
}

impl Outcome for DropPlan {
    fn human(&self, look: &Look) -> String {
        let mut text = format!(
            "would drop schema public of {} ({} tables) and recreate it, in one transaction:\n  {}",
            look.paint(Tone::Name, &self.database),
            self.before.tables,
            self.statements.join(";\n  ")
        );
        let lost = &self.before.dependents;
        if !lost.is_empty() {
            let refused = match self.drop_dependents {
                true => "",
                false => " (refused without --drop-dependents)",
            };
            let names: Vec<String> = lost.iter().map(|d| d.to_string()).collect();
            text.push_str(&format!(
                "\n{} in other schemas depend on it and would be dropped too{refused}:\n  {}",
                look.paint(Tone::Bad, &format!("{} object(s)", lost.len())),
                names.join("\n  ")
            ));
        }
        text
    }

    fn summary(&self) -> String {
        "dry run: nothing changed".into()
    }
}

/// `db drop-schema`: done.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    pub database: String,
    pub drop: DropReport,
}

impl Outcome for Dropped {
    fn human(&self, look: &Look) -> String {
        let before = &self.drop.before;
        format!(
            "dropped schema public of {} ({} tables) and recreated it empty, owned by {} with its previous privileges ({} ms)",
            look.paint(Tone::Name, &self.database),
            before.tables,
            before.owner,
            self.drop.duration_ms
        )
    }

    fn summary(&self) -> String {
        format!("dropped {} tables", self.drop.before.tables)
    }
}
