//! The database commands: `verify`, `schema snapshot`, `db check`, `db diagnose` and
//! `db drop-schema`. Each takes an app (its DATABASE_URL is read from the config vars) or
//! `--database-url URL` for any database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::cli::{Ctx, app_and_args};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::table::Table;
use crate::pg::check::check;
use crate::pg::diagnose::{DiagnoseOptions, Rating, diagnose};
use crate::pg::drop::{DropOptions, drop_schema, inspect, statements};
use crate::pg::expected::Expected;
use crate::pg::introspect::{MigrationProbe, introspect, read_migration_table};
use crate::pg::normalize::verify_read;
use crate::pg::snapshot::SnapshotOptions;
use crate::pg::{
    Db, Drift, DriftKind, Target, Verified, VerifyOptions, diff, snapshot, verify_live,
};

use super::parse_duration;

/// Which database: an app's DATABASE_URL, or a URL given directly.
#[derive(Debug, Clone, Args)]
pub struct Source {
    /// The app whose DATABASE_URL to use (or give it with -a APP)
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    /// Use this database instead of an app's DATABASE_URL (e.g. a local one). sslmode and
    /// sslrootcert are understood as libpq does; without sslmode a remote host gets require.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: Source,
    /// The expected-schema file (TOML); default: `expect` of the app in herokuops.toml
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// The herokuops.toml to read the app's default from (default: ./herokuops.toml)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Compare the file's grants and default privileges too (role names differ between
    /// databases, so they are left out unless asked for)
    #[arg(long)]
    pub with_grants: bool,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Write the live schema as an expected-schema file (verify against it is clean)
    Snapshot {
        #[command(flatten)]
        source: Source,
        /// Where to write it (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The schema to read
        #[arg(long, default_value = "public")]
        schema: String,
        /// Write grants and default privileges too
        #[arg(long)]
        with_grants: bool,
    },
    /// Compare two schemas, each a live app (APP or APP:ATTACHMENT), a database URL or an
    /// expected-schema file (exit 3 on a difference)
    Diff {
        /// The first side: APP, APP:ATTACHMENT, postgres://... or FILE.toml
        #[arg(value_name = "A")]
        a: String,
        /// The second side, of the same forms
        #[arg(value_name = "B")]
        b: String,
        /// The schema to compare (a file side uses its own `schema`)
        #[arg(long, default_value = "public")]
        schema: String,
        /// Compare grants and default privileges too
        #[arg(long)]
        with_grants: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum DbCommand {
    /// Connect, show the server and each table with its (estimated) row count
    Check {
        #[command(flatten)]
        source: Source,
        /// Count rows exactly (reads every table) instead of using estimates
        #[arg(long)]
        exact: bool,
    },
    /// Health report: cache hits, connections, long and blocked queries, unused indexes, sizes, bloat
    Diagnose {
        #[command(flatten)]
        source: Source,
    },
    /// Drop schema public with everything in it and recreate it empty, in one transaction (destructive)
    DropSchema {
        #[command(flatten)]
        source: Source,
        /// How long to wait for other sessions' locks before giving up with nothing changed
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        lock_timeout: Duration,
    },
}

/// The resolved database: how to reach it and how to name it to the operator.
struct Resolved {
    target: Target,
    /// The app, or the masked URL.
    label: String,
    /// What the operator types to confirm a destructive action: the app, or the database name.
    confirm_name: String,
}

async fn resolve(ctx: &Ctx, source: &Source, usage: &str) -> Result<Resolved> {
    match &source.database_url {
        Some(url) => {
            if ctx.global.app.is_some() || !source.args.is_empty() {
                return Err(Error::usage(format!(
                    "give either an app or --database-url, not both: {usage}"
                )));
            }
            ctx.io.mask(url);
            let target = Target::parse(url)?;
            Ok(Resolved {
                label: target.display().to_string(),
                confirm_name: target.database().to_string(),
                target,
            })
        }
        None => {
            let (app, _) = app_and_args(&ctx.global, &source.args, 0, usage)?;
            let url = ctx.database_url(Some(&app), None).await?;
            Ok(Resolved {
                target: Target::parse(&url)?,
                label: app.clone(),
                confirm_name: app,
            })
        }
    }
}

async fn connect(resolved: &Resolved) -> Result<Db> {
    tracing::debug!(
        "connecting to {} (sslmode {})",
        resolved.target.display(),
        resolved.target.ssl_mode()
    );
    Ok(resolved.target.connect().await?)
}

/// `--expect`, or the app's `expect` in herokuops.toml.
fn expected_file(ctx: &Ctx, args: &VerifyArgs, usage: &str) -> Result<PathBuf> {
    if let Some(path) = &args.expect {
        return Ok(path.clone());
    }
    let app = match (&ctx.global.app, args.source.args.first()) {
        (Some(app), _) | (None, Some(app)) if args.source.database_url.is_none() => app.clone(),
        _ => {
            return Err(Error::usage(format!(
                "no expected-schema file: pass --expect FILE: {usage}"
            )));
        }
    };
    Config::load(args.config.as_deref())?.app(&app).expect.ok_or_else(|| {
        Error::usage(format!(
            "no expected-schema file for {app}: pass --expect FILE, or set expect under [apps.{app}] in herokuops.toml"
        ))
    })
}

pub async fn verify_command(ctx: &Ctx, args: VerifyArgs) -> Result<()> {
    let usage = "herokuops verify APP [--expect FILE] (or --database-url URL --expect FILE)";
    let path = expected_file(ctx, &args, usage)?;
    let text = Expected::read(&path)?;
    let options = VerifyOptions {
        with_grants: args.with_grants,
    };
    let (resolved, Verified { schema, drifts }) = match Expected::declared_schema(&text) {
        Some(schema) => {
            read_while_parsing(ctx, &args.source, usage, text, &path, &schema, &options).await?
        }
        None => {
            // A bad file is reported before anything touches the network.
            let expected = Expected::parse(&text, &path)?;
            let resolved = resolve(ctx, &args.source, usage).await?;
            let db = connect(&resolved).await?;
            (resolved, verify_live(&db, &expected, &options).await?)
        }
    };
    let file = path.display().to_string();
    ctx.io.render(
        &json!({
            "ok": drifts.is_empty(),
            "database": resolved.label,
            "expect": file,
            "schema": schema.schema,
            "tables": schema.tables.len(),
            "drift": drifts,
        }),
        || {
            if drifts.is_empty() {
                return format!(
                    "{} matches {file}: schema {} with {} tables",
                    resolved.label,
                    schema.schema,
                    schema.tables.len()
                );
            }
            format!(
                "{} differs from {file} in {} place(s):\n\n{}",
                resolved.label,
                drifts.len(),
                drift_report(&drifts, "expected", "found")
            )
        },
    );
    crate::cli::actions::verify_result(&ctx.io, &resolved.label, &file, &drifts);
    if drifts.is_empty() {
        Ok(())
    } else {
        Err(Error::Drift {
            count: drifts.len(),
        })
    }
}

/// Parses the file while the schema it names is read: at 10,000 tables each takes a good part
/// of the time. A bad file is still the error reported, whatever the database said.
async fn read_while_parsing(
    ctx: &Ctx,
    source: &Source,
    usage: &str,
    text: String,
    path: &Path,
    schema: &str,
    options: &VerifyOptions,
) -> Result<(Resolved, Verified)> {
    let file = path.to_path_buf();
    let parsing = tokio::task::spawn_blocking(move || Expected::parse(&text, &file));
    let reading = async {
        let resolved = resolve(ctx, source, usage).await?;
        let db = connect(&resolved).await?;
        let live = introspect(&db, schema, &MigrationProbe::None).await?;
        Ok::<_, Error>((resolved, db, live))
    };
    let (parsed, read) = tokio::join!(parsing, reading);
    let expected =
        parsed.map_err(|e| Error::failed(format!("parsing {}: {e}", path.display())))??;
    let (resolved, db, mut live) = read?;
    if expected.schema != schema {
        let verified = verify_live(&db, &expected, options).await?;
        return Ok((resolved, verified));
    }
    read_migration_table(&db, &mut live, &expected.probe()).await?;
    let verified = verify_read(&db, &expected, live, options).await?;
    Ok((resolved, verified))
}

/// One row per difference; definitions too long for a cell follow the table as a short
/// unified diff of the two (normalized) texts.
pub fn drift_report(drifts: &[Drift], left: &str, right: &str) -> String {
    let mut table = Table::new(["difference", "kind", "object", "what", left, right]);
    let mut diffs = String::new();
    for d in drifts {
        let (shown_left, shown_right) = if diff::is_long(&d.expected, &d.found) {
            let body = diff::unified(&d.expected, &d.found, 1);
            diffs.push_str(&format!(
                "\n{} {} ({}):\n--- {left}\n+++ {right}\n{body}\n",
                d.object_kind, d.object, d.aspect
            ));
            let word = |text: &str| {
                if text.len() > diff::LONG || text.contains('\n') {
                    "see the diff below".to_string()
                } else {
                    text.to_string()
                }
            };
            (word(&d.expected), word(&d.found))
        } else {
            (d.expected.clone(), d.found.clone())
        };
        let difference = match d.kind {
            DriftKind::Missing | DriftKind::Extra | DriftKind::Changed => {
                d.kind.as_str().to_string()
            }
            other => other.to_string(),
        };
        table.row([
            difference,
            d.object_kind.to_string(),
            d.object.clone(),
            d.aspect.clone(),
            shown_left,
            shown_right,
        ]);
    }
    format!("{}{diffs}", table.render())
}

pub async fn schema(ctx: &Ctx, cmd: SchemaCommand) -> Result<()> {
    match cmd {
        SchemaCommand::Snapshot {
            source,
            output,
            schema,
            with_grants,
        } => snapshot_command(ctx, source, output, &schema, with_grants).await,
        SchemaCommand::Diff {
            a,
            b,
            schema,
            with_grants,
        } => diff_command(ctx, &a, &b, &schema, with_grants).await,
    }
}

async fn snapshot_command(
    ctx: &Ctx,
    source: Source,
    output: Option<PathBuf>,
    schema: &str,
    with_grants: bool,
) -> Result<()> {
    let usage = "herokuops schema snapshot APP [-o FILE] (or --database-url URL)";
    if output.is_none() {
        ctx.io.stdout_is_data();
    }
    let resolved = resolve(ctx, &source, usage).await?;
    let db = connect(&resolved).await?;
    let live = introspect(&db, schema, &MigrationProbe::Auto).await?;
    let text = snapshot::render_with(&live, &resolved.label, &SnapshotOptions { with_grants });
    let summary = json!({
        "database": resolved.label,
        "schema": live.schema,
        "tables": live.tables.len(),
        "migration": live.migration,
        "file": output.as_ref().map(|p| p.display().to_string()),
    });
    match &output {
        Some(path) => {
            write_atomically(path, &text)?;
            ctx.io.render(&summary, || {
                format!(
                    "Wrote {}: schema {} of {} with {} tables",
                    path.display(),
                    live.schema,
                    resolved.label,
                    live.tables.len()
                )
            });
        }
        None => {
            let mut doc = summary;
            doc["toml"] = json!(text);
            ctx.io.render(&doc, || text.clone());
        }
    }
    Ok(())
}

/// One side of `schema diff`.
enum Side {
    File(PathBuf),
    Live(Box<Resolved>),
}

impl Side {
    fn label(&self) -> String {
        match self {
            Side::File(path) => path.display().to_string(),
            Side::Live(resolved) => resolved.label.clone(),
        }
    }
}

/// A file when the argument names one (or ends in `.toml`), a URL when it has a scheme, else
/// `APP` or `APP:ATTACHMENT`.
async fn side(ctx: &Ctx, arg: &str) -> Result<Side> {
    if arg.ends_with(".toml") || Path::new(arg).is_file() {
        return Ok(Side::File(PathBuf::from(arg)));
    }
    if arg.contains("://") {
        ctx.io.mask(arg);
        let target = Target::parse(arg)?;
        return Ok(Side::Live(Box::new(Resolved {
            label: target.display().to_string(),
            confirm_name: target.database().to_string(),
            target,
        })));
    }
    let (app, attachment) = match arg.split_once(':') {
        Some((app, attachment)) => (app, Some(attachment)),
        None => (arg, None),
    };
    let var = match attachment {
        None => "DATABASE_URL".to_string(),
        Some(a) => {
            let a = a.to_ascii_uppercase().replace('-', "_");
            if a.ends_with("_URL") {
                a
            } else {
                format!("{a}_URL")
            }
        }
    };
    let vars = ctx.api()?.config_vars(app).await?;
    let url = vars.get(&var).ok_or_else(|| {
        Error::usage(format!(
            "app {app} has no {var}: name an attachment whose URL is in the app's config vars (APP:ATTACHMENT)"
        ))
    })?;
    ctx.io.mask(url);
    Ok(Side::Live(Box::new(Resolved {
        target: Target::parse(url)?,
        label: arg.to_string(),
        confirm_name: app.to_string(),
    })))
}

/// The expected form of a side: the file, or a strict snapshot of the live schema.
async fn as_expected(side: &Side, schema: &str, options: &SnapshotOptions) -> Result<Expected> {
    match side {
        Side::File(path) => Expected::load(path),
        Side::Live(resolved) => {
            let db = connect(resolved).await?;
            let live = introspect(&db, schema, &MigrationProbe::Auto).await?;
            let text = snapshot::render_with(&live, &resolved.label, options);
            Expected::parse(&text, Path::new("snapshot"))
        }
    }
}

/// A drift seen from the other side: expected and found swapped, missing and extra too.
fn flipped(mut d: Drift) -> Drift {
    use DriftKind::*;
    const PAIRS: [(DriftKind, DriftKind); 7] = [
        (MissingTable, ExtraTable),
        (MissingColumn, ExtraColumn),
        (MissingIndex, ExtraIndex),
        (MissingUnique, ExtraUnique),
        (MissingCheck, ExtraCheck),
        (MissingForeignKey, ExtraForeignKey),
        (Missing, Extra),
    ];
    for (a, b) in PAIRS {
        if d.kind == a {
            d.kind = b;
        } else if d.kind == b {
            d.kind = a;
        }
    }
    std::mem::swap(&mut d.expected, &mut d.found);
    d
}

async fn diff_command(ctx: &Ctx, a: &str, b: &str, schema: &str, with_grants: bool) -> Result<()> {
    let (a, b) = (side(ctx, a).await?, side(ctx, b).await?);
    let options = SnapshotOptions { with_grants };
    let verify_options = VerifyOptions { with_grants };
    // The live side's server renders both sides' definitions; with two live sides, B's.
    let drifts = match (&a, &b) {
        (_, Side::Live(live)) => {
            let expected = as_expected(&a, schema, &options).await?;
            verify_live(&connect(live).await?, &expected, &verify_options)
                .await?
                .drifts
        }
        (Side::Live(live), Side::File(_)) => {
            let expected = as_expected(&b, schema, &options).await?;
            let verified = verify_live(&connect(live).await?, &expected, &verify_options).await?;
            verified.drifts.into_iter().map(flipped).collect()
        }
        (Side::File(_), Side::File(_)) => {
            return Err(Error::usage(
                "schema diff needs at least one live database (APP, APP:ATTACHMENT or URL): definitions are compared as a server renders them",
            ));
        }
    };
    let (left, right) = (a.label(), b.label());
    ctx.io.render(
        &json!({ "ok": drifts.is_empty(), "a": left, "b": right, "drift": drifts }),
        || {
            if drifts.is_empty() {
                return format!("{left} and {right} have the same schema");
            }
            format!(
                "{left} and {right} differ in {} place(s) (missing: in A, not in B; extra: in B, not in A):\n\n{}",
                drifts.len(),
                drift_report(&drifts, "A", "B")
            )
        },
    );
    if drifts.is_empty() {
        Ok(())
    } else {
        Err(Error::Drift {
            count: drifts.len(),
        })
    }
}

/// Writes next to the target and renames, so an interrupted write never leaves half a file.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("snapshot"),
        std::process::id()
    ));
    std::fs::write(&tmp, text)
        .map_err(|e| Error::io(format!("could not write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("could not write {}", path.display()), e)
    })
}

pub async fn db(ctx: &Ctx, cmd: DbCommand) -> Result<()> {
    match cmd {
        DbCommand::Check { source, exact } => {
            let resolved = resolve(
                ctx,
                &source,
                "herokuops db check APP [--exact] (or --database-url URL)",
            )
            .await?;
            let db = connect(&resolved).await?;
            let report = check(&db, exact).await?;
            ctx.io.render(&json!({ "database": resolved.label, "check": report }), || {
                let name = if resolved.label == resolved.target.display() {
                    resolved.label.clone()
                } else {
                    format!("{} ({})", resolved.label, resolved.target.display())
                };
                let mut text = format!(
                    "Connected to {name}\nServer       PostgreSQL {}\nDatabase     {} as {}\nEncrypted    {}\nConnections  {} to this database, {} of {} on the server\n",
                    report.server_version,
                    report.database,
                    report.user,
                    if report.ssl { "yes (TLS)" } else { "no" },
                    report.connections,
                    report.connections_total,
                    report.max_connections,
                );
                let kind = if report.exact { "rows" } else { "rows (estimated)" };
                text.push_str(&format!("\n{} tables\n", report.tables.len()));
                if !report.tables.is_empty() {
                    let mut table = Table::new(["table", kind]);
                    for t in &report.tables {
                        table.row([t.display_name(), t.rows.to_string()]);
                    }
                    text.push_str(&table.render());
                }
                text
            });
            Ok(())
        }
        DbCommand::Diagnose { source } => {
            let resolved = resolve(
                ctx,
                &source,
                "herokuops db diagnose APP (or --database-url URL)",
            )
            .await?;
            let db = connect(&resolved).await?;
            let report = diagnose(&db, &DiagnoseOptions::default()).await?;
            ctx.io.render(
                &json!({ "database": resolved.label, "worst": report.worst(), "findings": report.findings }),
                || {
                    let mut summary = Table::new(["rating", "check", "value", "threshold"]);
                    for f in &report.findings {
                        summary.row([
                            f.rating.as_str().to_uppercase(),
                            f.title.to_string(),
                            f.value.clone(),
                            f.threshold.clone(),
                        ]);
                    }
                    let mut text = format!("Diagnosis of {}\n\n{}", resolved.label, summary.render());
                    // Details only where they explain a rating, plus the informational sizes.
                    let shown = report
                        .findings
                        .iter()
                        .filter(|f| !f.details.rows.is_empty() && (f.rating != Rating::Ok || f.id == "sizes"));
                    for f in shown {
                        let mut table = Table::new(f.details.columns.clone());
                        for row in &f.details.rows {
                            table.row(row.clone());
                        }
                        text.push_str(&format!("\n{} ({})\n{}", f.title, f.rating.as_str(), table.render()));
                    }
                    text
                },
            );
            Ok(())
        }
        DbCommand::DropSchema {
            source,
            lock_timeout,
        } => {
            let resolved = resolve(
                ctx,
                &source,
                "herokuops db drop-schema APP --confirm APP (or --database-url URL --confirm DATABASE)",
            )
            .await?;
            let db = connect(&resolved).await?;
            if ctx.global.dry_run {
                let state = inspect(&db, "public").await?;
                let sql = statements(&state);
                ctx.io.render(&json!({ "dry_run": true, "database": resolved.label, "before": state, "statements": sql }), || {
                    format!(
                        "Would drop schema public of {} ({} tables) and recreate it, in one transaction:\n  {}",
                        resolved.label,
                        state.tables,
                        sql.join(";\n  ")
                    )
                });
                return Ok(());
            }
            ctx.confirm(
                &resolved.confirm_name,
                &format!(
                    "Dropping schema public of {} with all its tables and data",
                    resolved.label
                ),
            )?;
            let report = drop_schema(
                &db,
                &DropOptions {
                    lock_timeout,
                    ..DropOptions::default()
                },
            )
            .await?;
            ctx.io.render(&json!({ "database": resolved.label, "drop": report }), || {
                format!(
                    "Dropped schema public of {} ({} tables) and recreated it empty, owned by {} with its previous privileges ({} ms)",
                    resolved.label, report.before.tables, report.before.owner, report.duration_ms
                )
            });
            Ok(())
        }
    }
}
