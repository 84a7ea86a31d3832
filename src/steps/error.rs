//! Why a step failed when the failure is not simply a failed request or query: the domain's own
//! failures (a database that is not there, a transfer that failed, a wait that ran out), each a
//! variant with the facts its message and its hint need.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::ApiError;
use crate::pg::PgError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Api(#[from] ApiError),

    #[error(transparent)]
    Pg(#[from] PgError),

    #[error("gave up waiting after {}: {what}", humantime::format_duration(*.after))]
    Timeout { what: String, after: Duration },

    #[error("no Postgres database named {name} on app {app}")]
    NoSuchDatabase { app: String, name: String },

    #[error("{name} matches several databases on {app}: {}", .candidates.join(", "))]
    AmbiguousDatabase {
        app: String,
        name: String,
        candidates: Vec<String>,
    },

    #[error("{label} is not provisioned yet")]
    NotProvisioned { label: String },

    #[error("database {addon} reports an error: {message}")]
    DatabaseFailed { addon: String, message: String },

    #[error("app {app} has no DATABASE_URL")]
    NoDatabaseUrl { app: String },

    #[error("{addon} is not available yet ({status}); nothing was promoted")]
    NotAvailable {
        app: String,
        addon: String,
        status: String,
    },

    #[error("could not find the release of the promotion on {app}")]
    PromotionReleaseMissing { app: String },

    #[error("the release phase of the promotion failed (v{version}); {}", if *.database_url_lost {
        "the app now has NO DATABASE_URL"
    } else {
        "the previous database is still DATABASE_URL"
    })]
    ReleasePhaseFailed {
        app: String,
        version: u64,
        database_url_lost: bool,
    },

    #[error("{addon} is {state} instead of provisioned")]
    AddonNotProvisioned { addon: String, state: String },

    #[error("no add-on {name} on {app}")]
    NoSuchAddon { app: String, name: String },

    #[error("{name} matches several add-ons; name one exactly")]
    AmbiguousAddon { name: String },

    #[error("{addon} belongs to app {owner}, not {app}; nothing was destroyed")]
    AddonOfAnotherApp {
        app: String,
        addon: String,
        owner: String,
    },

    #[error("{addon} is {state} after the destroy request")]
    AddonNotDestroyed { addon: String, state: String },

    #[error("the current database's plan is unknown; pass --plan")]
    PlanUnknown,

    #[error("no add-on to promote: run addons.create first")]
    NothingToPromote,

    #[error("{transfer} failed{}", if .logs.is_empty() { String::new() } else { format!(": {}", .logs.join(" | ")) })]
    TransferFailed {
        app: String,
        transfer: String,
        /// The last lines of the transfer's log.
        logs: Vec<String>,
    },

    #[error("app {app} has no successful backup")]
    NoBackup { app: String },

    #[error("no backup named {name} on {app}")]
    NoSuchBackup { app: String, name: String },

    #[error("backup {name} on {app} did not succeed; pick another")]
    BackupDidNotSucceed { app: String, name: String },

    #[error("the restore URL is not a URL: {reason}")]
    BadRestoreUrl { reason: String },

    #[error("backup {name} has no storage URL")]
    BackupWithoutUrl { name: String },

    #[error("the backup download answered HTTP {status}")]
    DownloadRefused { status: u16 },

    #[error("the download stopped at {done} of {total} bytes")]
    DownloadIncomplete { done: u64, total: u64 },

    #[error("the log stream answered HTTP {status}")]
    LogStreamRefused { status: u16 },

    #[error("the log of {dyno} ended without an exit status")]
    NoExitStatus { app: String, dyno: String },

    #[error("{app} has no {kind} {name}")]
    NoSuchProcess {
        app: String,
        /// `process type` or `dyno`.
        kind: &'static str,
        name: String,
        /// The ones it has.
        known: Vec<String>,
    },

    #[error("dyno {dyno} crashed")]
    DynoCrashed { app: String, dyno: String },

    #[error("{what} exited with status {status}")]
    CommandFailed { what: String, status: i32 },

    /// A local migration that failed because SQLAlchemy does not take `postgres://` URLs.
    #[error(
        "{what} exited with status {status}: SQLAlchemy refuses the postgres:// URL Heroku gives"
    )]
    PostgresSchemeRefused { what: String, status: i32 },

    #[error("{what} was killed by a signal")]
    CommandKilled { what: String },

    #[error("could not run {what}")]
    CommandNotStarted {
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the schema did not reach the expected state within {}: {differences} difference(s), first: {first}", humantime::format_duration(*.after))]
    SchemaNotReached {
        app: String,
        after: Duration,
        differences: usize,
        first: String,
    },

    /// The schema differs from the expected one after a migration that has finished.
    #[error(
        "the schema differs from the expected one: {differences} difference(s), first: {first}"
    )]
    Drift {
        app: String,
        differences: usize,
        first: String,
    },

    #[error("no table appeared in schema {schema} within {}", humantime::format_duration(*.after))]
    NoTables { schema: String, after: Duration },

    #[error("could not {action} {}", .path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A copy that finished, but whose tables do not hold what the source's do.
    #[error("the copy differs from its source in {differences} table(s), first: {first}")]
    RowCountMismatch {
        app: String,
        differences: usize,
        first: String,
    },

    #[error("{tool} was not found {searched}")]
    ToolMissing { tool: String, searched: String },

    #[error("{tool} {found} ({}) is older than PostgreSQL {needed}, which it must work with", .path.display())]
    ToolTooOld {
        tool: String,
        path: PathBuf,
        found: u32,
        needed: u32,
    },

    #[error("{tool} exited with status {status}{}", if .last.is_empty() { String::new() } else { format!(": {}", .last) })]
    ToolFailed {
        tool: String,
        status: i32,
        /// Its last line on stderr.
        last: String,
    },

    #[error("{database} is not empty ({objects} tables, views or sequences); nothing was changed")]
    NotEmpty { database: String, objects: i64 },

    #[error("pg_stat_statements is not installed in {database}")]
    StatementsMissing { database: String },

    #[error("pg_stat_statements is installed in {database} but the server does not load it")]
    StatementsNotLoaded { database: String },

    #[error("no session with pid {pid} on {database}")]
    NoSuchSession { database: String, pid: i32 },

    #[error("the step {step} needs {what}")]
    StepNeeds { step: String, what: String },
}

impl StepError {
    pub fn file(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StepError::File {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether the failure lies in what the user gave rather than in Heroku or the database.
    pub fn is_bad_input(&self) -> bool {
        match self {
            StepError::Pg(e) => e.is_bad_input(),
            StepError::NoSuchDatabase { .. }
            | StepError::AmbiguousDatabase { .. }
            | StepError::NoSuchAddon { .. }
            | StepError::NoSuchProcess { .. }
            | StepError::AmbiguousAddon { .. }
            | StepError::AddonOfAnotherApp { .. }
            | StepError::NoSuchBackup { .. }
            | StepError::BackupDidNotSucceed { .. }
            | StepError::BadRestoreUrl { .. }
            | StepError::PlanUnknown
            | StepError::NotEmpty { .. }
            | StepError::NoSuchSession { .. }
            | StepError::StepNeeds { .. } => true,
            _ => false,
        }
    }

    /// The underlying API failure, when there is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            StepError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// A sentence naming what to do next.
    pub fn hint(&self) -> Option<String> {
        use StepError::*;
        let hint = match self {
            Api(e) => return e.hint(),
            Pg(e) => return e.hint(),
            Timeout { .. } => "raise --timeout if the operation is merely slow".to_string(),
            NoSuchDatabase { app, .. } => {
                format!("list the app's databases with `herokuops pg info {app}`")
            }
            AmbiguousDatabase { .. } => "name one of them exactly".to_string(),
            NotProvisioned { .. } => "wait for it with `herokuops pg wait APP`".to_string(),
            DatabaseFailed { .. } => {
                "see `herokuops pg info APP`, or Heroku's dashboard".to_string()
            }
            NoDatabaseUrl { app } => format!(
                "attach a database: `herokuops addons create {app} heroku-postgresql:essential-0`"
            ),
            NotAvailable { app, addon, .. } => {
                format!("wait with `herokuops pg wait {app} {addon}`, then promote again")
            }
            PromotionReleaseMissing { app } => {
                format!("check `heroku releases -a {app}`; the promotion itself was made")
            }
            ReleasePhaseFailed { app, version, .. } => {
                format!("see `heroku releases:output {version} -a {app}`")
            }
            AddonNotProvisioned { .. } => {
                "see the add-on in Heroku's dashboard; destroy it if it is of no use".to_string()
            }
            NoSuchAddon { app, .. } => format!("`herokuops addons list {app}` lists them"),
            NoSuchProcess { kind, known, .. } if known.is_empty() => {
                format!("the app has no {kind} at all")
            }
            NoSuchProcess { kind, known, .. } => {
                format!("its {kind}s: {}", known.join(", "))
            }
            TransferFailed { app, .. } => format!("details: `herokuops backup list {app}`"),
            NoBackup { app } => format!("capture one with `herokuops backup capture {app}`"),
            NoSuchBackup { app, .. } => format!("see `herokuops backup list {app}`"),
            DownloadRefused { .. } => {
                "the URL may have expired; run the download again for a fresh one".to_string()
            }
            DownloadIncomplete { .. } => {
                "run the same download again: it resumes where it stopped".to_string()
            }
            LogStreamRefused { .. } => {
                "the log session may have expired; run the command again".to_string()
            }
            NoExitStatus { app, dyno } | DynoCrashed { app, dyno } => {
                format!("see `heroku logs -a {app} --dyno {dyno}`")
            }
            PostgresSchemeRefused { .. } => "SQLAlchemy wants postgresql://: in Alembic's env.py, replace the scheme before the engine is made, e.g. `url = os.environ[\"DATABASE_URL\"].replace(\"postgres://\", \"postgresql://\", 1)` (see the README)".to_string(),
            SchemaNotReached { app, .. } | Drift { app, .. } => {
                format!("see `herokuops verify {app} --expect FILE` for every difference")
            }
            RowCountMismatch { app, .. } => format!(
                "the app is still on its old database; `herokuops resume` copies again, `herokuops backup list {app}` shows the copy"
            ),
            ToolMissing { tool, .. } => format!(
                "install the PostgreSQL client (`apt-get install postgresql-client`, `brew install libpq`), or name the directory holding {tool} in HEROKUOPS_PG_BIN"
            ),
            ToolTooOld { needed, .. } => format!(
                "install the PostgreSQL {needed} client (or newer), or name the directory of a newer one in HEROKUOPS_PG_BIN"
            ),
            NotEmpty { .. } => "pass --force to replace what it holds, or name an empty or new database".to_string(),
            StatementsMissing { .. } => "install it in the database: `CREATE EXTENSION pg_stat_statements` (on Heroku: `CREATE EXTENSION pg_stat_statements WITH SCHEMA heroku_ext`)".to_string(),
            StatementsNotLoaded { .. } => "add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server".to_string(),
            NoSuchSession { .. } => "`herokuops db ps APP` lists the sessions and their pids".to_string(),
            _ => return None,
        };
        Some(hint)
    }
}
