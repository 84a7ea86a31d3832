//! The database commands: `verify`, `schema snapshot|diff`, `db check`, `db diagnose` and
//! `db drop-schema`. Each takes an app (its DATABASE_URL is read from the config vars) or
//! `--database-url URL` for any database.

mod chores;
mod outcomes;
mod sides;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::cli::{Ctx, Done, app_and_args};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::pg::check::check;
use crate::pg::diagnose::{DiagnoseOptions, Rating, diagnose};
use crate::pg::drop::{DropOptions, drop_schema, inspect, statements};
use crate::pg::expected::Expected;
use crate::pg::introspect::{MigrationProbe, introspect, read_migration_table};
use crate::pg::normalize::verify_read;
use crate::pg::snapshot::{self, SnapshotOptions};
use crate::pg::{Db, Target, Verified, VerifyOptions, verify_live};

use super::parse_duration;
pub use outcomes::{
    Checked, Diagnosis, DropPlan, Dropped, SchemaDiff, Snapshot, Verification, drift_report,
};

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
    /// Compare the file's grants and default privileges too (role names differ between
    /// databases, so they are left out unless asked for)
    #[arg(long)]
    pub with_grants: bool,
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
        /// Write grants and default privileges too
        #[arg(long)]
        with_grants: bool,
    },
    /// Compare two schemas, each a live app (APP or APP:ATTACHMENT), a database URL or an
    /// expected-schema file (exit 3 on a difference)
    #[command(
        after_help = "Examples:\n  herokuops schema diff tmi-server tmi-staging\n  herokuops schema diff schema/tmi.toml tmi-server:HEROKU_POSTGRESQL_AMBER"
    )]
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
        after_help = "Examples:\n  herokuops db diagnose tmi-server\n  herokuops db diagnose tmi-server --fail-on warn\n  herokuops db diagnose --apps-from production-apps.txt --json"
    )]
    Diagnose {
        #[command(flatten)]
        source: Source,
        /// Exit 5 when a check is rated this or worse (warn: warn or fail; fail: fail only)
        #[arg(long, value_name = "RATING", value_parser = parse_fail_on)]
        fail_on: Option<Rating>,
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
        /// Also drop what other schemas hold that depends on schema public (the plan lists it)
        #[arg(long)]
        drop_dependents: bool,
    },
    #[command(flatten)]
    Chores(chores::DbChores),
}

/// `--fail-on`: a rating that can fail a run (`ok` always would).
fn parse_fail_on(text: &str) -> std::result::Result<Rating, String> {
    match text {
        "warn" => Ok(Rating::Warn),
        "fail" => Ok(Rating::Fail),
        _ => Err(format!("expected warn or fail, got {text:?}")),
    }
}

/// The resolved database: how to reach it and how to name it to the operator.
struct Resolved {
    target: Target,
    /// The app, or the masked URL.
    label: String,
    /// What the operator types to confirm a destructive action: the app, or the database name.
    confirm_name: String,
}

impl Resolved {
    fn of_url(url: &str) -> Result<Resolved> {
        let target = Target::parse(url)?;
        Ok(Resolved {
            label: target.display().to_string(),
            confirm_name: target.database().to_string(),
            target,
        })
    }

    fn of_app(app: &str, label: &str, url: &str) -> Result<Resolved> {
        Ok(Resolved {
            target: Target::parse(url)?,
            label: label.to_string(),
            confirm_name: app.to_string(),
        })
    }
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
            Resolved::of_url(url)
        }
        None => {
            let (app, _) = app_and_args(&ctx.global, &source.args, 0, usage)?;
            let url = ctx.database_url(Some(&app), None).await?;
            Resolved::of_app(&app, &app, &url)
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
    let outcome = Verification {
        ok: drifts.is_empty(),
        database: resolved.label,
        expect: path.display().to_string(),
        schema: schema.schema,
        tables: schema.tables.len(),
        drift: drifts,
    };
    let differences = outcome.drift.len();
    compared(outcome, differences)
}

/// A comparison's outcome; differences fail the command (exit 3) after the report is shown.
fn compared(outcome: impl crate::output::Outcome + 'static, differences: usize) -> Result<Done> {
    match differences {
        0 => Done::ok(outcome),
        count => Done::failed(outcome, Error::Drift { count }),
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
    // The parse is never cancelled, so a failed task is a panic: passed on as it is.
    let expected = parsed.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    let (resolved, db, mut live) = read?;
    if expected.schema != schema {
        let verified = verify_live(&db, &expected, options).await?;
        return Ok((resolved, verified));
    }
    read_migration_table(&db, &mut live, &expected.probe()).await?;
    let verified = verify_read(&db, &expected, live, options).await?;
    Ok((resolved, verified))
}

pub async fn schema(ctx: &Ctx, cmd: SchemaCommand) -> Result<Done> {
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
        } => sides::diff(ctx, &a, &b, &schema, with_grants).await,
    }
}

async fn snapshot_command(
    ctx: &Ctx,
    source: Source,
    output: Option<PathBuf>,
    schema: &str,
    with_grants: bool,
) -> Result<Done> {
    let usage = "herokuops schema snapshot APP [-o FILE] (or --database-url URL)";
    let output = output.filter(|p| p != Path::new("-"));
    if output.is_none() {
        ctx.io.stdout_is_data();
    }
    let resolved = resolve(ctx, &source, usage).await?;
    let db = connect(&resolved).await?;
    let live = introspect(&db, schema, &MigrationProbe::Auto).await?;
    let text = snapshot::render_with(&live, &resolved.label, &SnapshotOptions { with_grants });
    if let Some(path) = &output {
        crate::files::write_output(path, text.as_bytes(), crate::files::SHARED)
            .map_err(|e| Error::io(format!("could not write {}", path.display()), e))?;
    }
    Done::ok(Snapshot {
        database: resolved.label,
        schema: live.schema,
        tables: live.tables.len(),
        migration: live.migration,
        file: output.as_ref().map(|p| p.display().to_string()),
        toml: output.is_none().then_some(text),
    })
}

pub async fn db(ctx: &Ctx, cmd: DbCommand) -> Result<Done> {
    match cmd {
        DbCommand::Check { source, exact } => {
            let usage = "herokuops db check APP [--exact] (or --database-url URL)";
            let resolved = resolve(ctx, &source, usage).await?;
            let report = check(&connect(&resolved).await?, exact).await?;
            let address = resolved.target.display().to_string();
            Done::ok(Checked {
                address: (resolved.label != address).then_some(address),
                database: resolved.label,
                check: report,
            })
        }
        DbCommand::Diagnose { source, fail_on } => diagnose_command(ctx, &source, fail_on).await,
        DbCommand::DropSchema {
            source,
            lock_timeout,
            drop_dependents,
        } => drop_command(ctx, &source, lock_timeout, drop_dependents).await,
        DbCommand::Chores(cmd) => chores::run(ctx, cmd).await,
    }
}

async fn diagnose_command(ctx: &Ctx, source: &Source, fail_on: Option<Rating>) -> Result<Done> {
    let usage = "herokuops db diagnose APP [--fail-on warn|fail] (or --database-url URL)";
    let resolved = resolve(ctx, source, usage).await?;
    let db = connect(&resolved).await?;
    let report = diagnose(&db, &DiagnoseOptions::default()).await?;
    let outcome = Diagnosis {
        database: resolved.label,
        worst: report.worst(),
        findings: report.findings,
        fail_on,
    };
    let failing: Vec<String> = outcome
        .failing()
        .iter()
        .map(|f| format!("{} ({})", f.title, f.rating.as_str()))
        .collect();
    match (fail_on, failing.is_empty()) {
        (Some(level), false) => {
            let failure = Error::Unhealthy {
                level: level.as_str(),
                findings: failing,
            };
            Done::failed(outcome, failure)
        }
        _ => Done::ok(outcome),
    }
}

async fn drop_command(
    ctx: &Ctx,
    source: &Source,
    lock_timeout: Duration,
    drop_dependents: bool,
) -> Result<Done> {
    let usage =
        "herokuops db drop-schema APP --confirm APP (or --database-url URL --confirm DATABASE)";
    let resolved = resolve(ctx, source, usage).await?;
    let db = connect(&resolved).await?;
    if ctx.global.dry_run {
        let before = inspect(&db, "public").await?;
        return Done::ok(DropPlan {
            dry_run: true,
            database: resolved.label,
            statements: statements(&before),
            before,
            drop_dependents,
        });
    }
    let action = format!(
        "Dropping schema public of {} with all its tables and data",
        resolved.label
    );
    ctx.confirm(&resolved.confirm_name, &action)?;
    let options = DropOptions {
        lock_timeout,
        allow_dependents: drop_dependents,
        ..DropOptions::default()
    };
    let report = drop_schema(&db, &options).await?;
    Done::ok(Dropped {
        database: resolved.label,
        drop: report,
    })
}
