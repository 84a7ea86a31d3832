//! The database commands: `verify`, `schema snapshot`, `db check`, `db diagnose` and
//! `db drop-schema`. Each takes an app (its DATABASE_URL is read from the config vars) or
//! `--database-url URL` for any database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::cli::{Ctx, Done, app_and_args};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::table::Table;
use crate::pg::check::check;
use crate::pg::diagnose::{DiagnoseOptions, Rating, diagnose};
use crate::pg::drop::{DropOptions, drop_schema, inspect, statements};
use crate::pg::expected::Expected;
use crate::pg::introspect::{MigrationProbe, introspect};
use crate::pg::{Db, Target, snapshot, verify};

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
#[command(
    after_help = "Examples:\n  herokuops verify tmi-server --expect schema/tmi.toml\n  herokuops verify --apps-from production-apps.txt \\\n      --expect schema/tmi.toml --json"
)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: Source,
    /// The expected-schema file (TOML); default: `expect` of the app in herokuops.toml
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// The herokuops.toml to read the app's default from (default: ./herokuops.toml)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Write the live schema as an expected-schema file (verify against it is clean)
    #[command(
        after_help = "Examples:\n  herokuops schema snapshot tmi-server -o schema/tmi.toml\n  herokuops schema snapshot --database-url postgres://localhost/tmi_dev"
    )]
    Snapshot {
        #[command(flatten)]
        source: Source,
        /// Where to write it (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The schema to read
        #[arg(long, default_value = "public")]
        schema: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum DbCommand {
    /// Connect, show the server and each table with its (estimated) row count
    #[command(
        after_help = "Examples:\n  herokuops db check tmi-server\n  herokuops db check tmi-server --exact --json"
    )]
    Check {
        #[command(flatten)]
        source: Source,
        /// Count rows exactly (reads every table) instead of using estimates
        #[arg(long)]
        exact: bool,
    },
    /// Health report: cache hits, connections, long and blocked queries, unused indexes, sizes, bloat
    #[command(
        after_help = "Examples:\n  herokuops db diagnose tmi-server\n  herokuops db diagnose --apps-from production-apps.txt --json"
    )]
    Diagnose {
        #[command(flatten)]
        source: Source,
    },
    /// Drop schema public with everything in it and recreate it empty, in one transaction (destructive)
    #[command(
        after_help = "Examples:\n  herokuops db drop-schema tmi-server --confirm tmi-server\n  herokuops db drop-schema --database-url postgres://localhost/tmi_dev \\\n      --confirm tmi_dev"
    )]
    DropSchema {
        #[command(flatten)]
        source: Source,
        /// How long to wait for other sessions' locks before giving up with nothing changed
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        lock_timeout: Duration,
    },
    #[command(flatten)]
    Chores(super::chores::DbChores),
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

pub async fn verify_command(ctx: &Ctx, args: VerifyArgs) -> Result<Done> {
    verify_and_show(ctx, args)
        .await
        .and_then(|()| Done::shown())
}

async fn verify_and_show(ctx: &Ctx, args: VerifyArgs) -> Result<()> {
    let usage = "herokuops verify APP [--expect FILE] (or --database-url URL --expect FILE)";
    // A bad file is reported before anything touches the network.
    let path = expected_file(ctx, &args, usage)?;
    let expected = Expected::load(&path)?;
    let resolved = resolve(ctx, &args.source, usage).await?;
    let db = connect(&resolved).await?;
    let schema = introspect(&db, &expected.schema, &expected.probe()).await?;
    let drifts = verify(&expected, &schema);
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
            let mut table = Table::new(["drift", "object", "expected", "found"]);
            for d in &drifts {
                table.row([
                    d.kind.to_string(),
                    d.object.clone(),
                    d.expected.clone(),
                    d.found.clone(),
                ]);
            }
            format!(
                "{} differs from {file} in {} place(s):\n\n{}",
                resolved.label,
                drifts.len(),
                table.render(&ctx.io.look_out)
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

pub async fn schema(ctx: &Ctx, cmd: SchemaCommand) -> Result<Done> {
    schema_and_show(ctx, cmd).await.and_then(|()| Done::shown())
}

async fn schema_and_show(ctx: &Ctx, cmd: SchemaCommand) -> Result<()> {
    let SchemaCommand::Snapshot {
        source,
        output,
        schema,
    } = cmd;
    let usage = "herokuops schema snapshot APP [-o FILE] (or --database-url URL)";
    if output.is_none() {
        ctx.io.stdout_is_data();
    }
    let resolved = resolve(ctx, &source, usage).await?;
    let db = connect(&resolved).await?;
    let live = introspect(&db, &schema, &MigrationProbe::Auto).await?;
    let text = snapshot::render(&live, &resolved.label);
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

pub async fn db(ctx: &Ctx, cmd: DbCommand) -> Result<Done> {
    match cmd {
        DbCommand::Chores(cmd) => super::chores::run(ctx, cmd).await,
        cmd => db_and_show(ctx, cmd).await.and_then(|()| Done::shown()),
    }
}

async fn db_and_show(ctx: &Ctx, cmd: DbCommand) -> Result<()> {
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
                    text.push_str(&table.render(&ctx.io.look_out));
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
                    let mut text = format!("Diagnosis of {}\n\n{}", resolved.label, summary.render(&ctx.io.look_out));
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
                        text.push_str(&format!("\n{} ({})\n{}", f.title, f.rating.as_str(), table.render(&ctx.io.look_out)));
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
        // Run by `db` itself.
        DbCommand::Chores(_) => Ok(()),
    }
}
