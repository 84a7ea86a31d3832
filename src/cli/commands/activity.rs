//! Live activity of the app's database, as the runbooks' `pg:ps`, `pg:locks`, `pg:blocking`,
//! `pg:outliers` and `pg:kill` show it, without a one-off dyno: `db ps`, `db locks`,
//! `db blocking`, `db outliers` and `db kill`.

use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use crate::cli::{Ctx, Done};
use crate::error::{Error, Result};
use crate::output::table::{Cell, Table};
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::pg::activity::{self, Blocked, Lock, Outlier, Session, StatementsUnavailable};
use crate::pg::{Db, Target};
use crate::steps::StepError;

use super::which_db::{Resolved, WhichDb, resolve, split_args};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops db ps tmi-server\n  herokuops db ps tmi-server --all --json\n  herokuops db ps --database-url postgres://localhost/tmi_dev"
)]
pub struct PsArgs {
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub which: WhichDb,
    /// Idle sessions too
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops db locks tmi-server\n  herokuops db blocking tmi-server --json"
)]
pub struct ActivityArgs {
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub which: WhichDb,
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops db outliers tmi-server\n  herokuops db outliers tmi-server -n 20 --json"
)]
pub struct OutliersArgs {
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub which: WhichDb,
    /// How many statements
    #[arg(short = 'n', long = "num", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub num: i64,
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops db kill tmi-server 4711 --confirm tmi-server\n  herokuops db kill tmi-server 4711 --force --confirm tmi-server"
)]
pub struct KillArgs {
    #[arg(value_name = "[APP] PID")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub which: WhichDb,
    /// End the session (pg_terminate_backend) instead of cancelling its query
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// `1.2s`, `3m 4s`, `2h 5m`: how long, to the tenth of a second below a minute.
pub fn age(ms: Option<i64>) -> String {
    let Some(ms) = ms.filter(|ms| *ms >= 0) else {
        return String::new();
    };
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let secs = (ms / 1000) as u64;
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// The database of an activity command, connected.
async fn open(ctx: &Ctx, args: &[String], which: &WhichDb, usage: &str) -> Result<(Resolved, Db)> {
    let (app, _) = split_args(ctx, which, args, 0, usage)?;
    let resolved = resolve(ctx, app.as_deref(), which).await?;
    let db = Target::parse(&resolved.url)?.connect().await?;
    Ok((resolved, db))
}

/// The sessions of `db ps`.
#[derive(Debug, Clone, Serialize)]
pub struct Sessions {
    pub database: String,
    pub sessions: Vec<Session>,
}

impl Outcome for Sessions {
    fn human(&self, look: &Look) -> String {
        if self.sessions.is_empty() {
            return format!(
                "no query is running on {}",
                look.paint(Tone::Name, &self.database)
            );
        }
        let mut table = Table::new([
            "pid", "state", "source", "user", "running", "waiting", "query",
        ]);
        for s in &self.sessions {
            let waiting = match s.waiting {
                true => Cell::new(Tone::Warn, "lock"),
                false => Cell::from(""),
            };
            table.row([
                Cell::new(Tone::Strong, s.pid.to_string()),
                Cell::from(s.state.as_str()),
                Cell::new(Tone::Dim, s.source.as_str()),
                Cell::new(Tone::Dim, s.user.as_str()),
                Cell::from(age(s.running_ms)),
                waiting,
                Cell::from(s.query.as_str()),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} sessions", self.sessions.len())
    }
}

pub async fn ps(ctx: &Ctx, args: PsArgs) -> Result<Done> {
    let usage = "herokuops db ps APP [--all] (or --database-url URL)";
    let (resolved, db) = open(ctx, &args.args, &args.which, usage).await?;
    let sessions = activity::sessions(&db, args.all).await?;
    Done::ok(Sessions {
        database: resolved.label,
        sessions,
    })
}

/// The locks of `db locks`.
#[derive(Debug, Clone, Serialize)]
pub struct Locks {
    pub database: String,
    pub locks: Vec<Lock>,
}

impl Outcome for Locks {
    fn human(&self, look: &Look) -> String {
        if self.locks.is_empty() {
            return format!(
                "no session holds or waits for a lock on {}",
                look.paint(Tone::Name, &self.database)
            );
        }
        let mut table = Table::new(["pid", "relation", "type", "mode", "granted", "age", "query"]);
        for l in &self.locks {
            let granted = match l.granted {
                true => Cell::from("yes"),
                false => Cell::new(Tone::Warn, "WAITING"),
            };
            table.row([
                Cell::new(Tone::Strong, l.pid.to_string()),
                Cell::new(Tone::Name, l.relation.as_str()),
                Cell::new(Tone::Dim, l.locktype.as_str()),
                Cell::from(l.mode.as_str()),
                granted,
                Cell::from(age(l.age_ms)),
                Cell::from(l.query.as_str()),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} locks", self.locks.len())
    }
}

pub async fn locks(ctx: &Ctx, args: ActivityArgs) -> Result<Done> {
    let usage = "herokuops db locks APP (or --database-url URL)";
    let (resolved, db) = open(ctx, &args.args, &args.which, usage).await?;
    Done::ok(Locks {
        database: resolved.label,
        locks: activity::locks(&db).await?,
    })
}

/// The blocked queries of `db blocking`.
#[derive(Debug, Clone, Serialize)]
pub struct Blocking {
    pub database: String,
    pub blocked: Vec<Blocked>,
}

impl Outcome for Blocking {
    fn human(&self, look: &Look) -> String {
        if self.blocked.is_empty() {
            return format!(
                "no query is waiting for a lock on {}",
                look.paint(Tone::Name, &self.database)
            );
        }
        let mut table = Table::new([
            "blocked pid",
            "waiting",
            "blocked query",
            "blocking pid",
            "state",
            "blocking query",
        ]);
        for b in &self.blocked {
            table.row([
                Cell::new(Tone::Warn, b.blocked_pid.to_string()),
                Cell::from(age(b.blocked_ms)),
                Cell::from(b.blocked_query.as_str()),
                Cell::new(Tone::Strong, b.blocking_pid.to_string()),
                Cell::new(Tone::Dim, b.blocking_state.as_str()),
                Cell::from(b.blocking_query.as_str()),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} blocked", self.blocked.len())
    }
}

pub async fn blocking(ctx: &Ctx, args: ActivityArgs) -> Result<Done> {
    let usage = "herokuops db blocking APP (or --database-url URL)";
    let (resolved, db) = open(ctx, &args.args, &args.which, usage).await?;
    Done::ok(Blocking {
        database: resolved.label,
        blocked: activity::blocking(&db).await?,
    })
}

/// The statements of `db outliers`.
#[derive(Debug, Clone, Serialize)]
pub struct Outliers {
    pub database: String,
    pub statements: Vec<Outlier>,
}

impl Outcome for Outliers {
    fn human(&self, look: &Look) -> String {
        if self.statements.is_empty() {
            return format!(
                "pg_stat_statements has recorded no statement on {} yet",
                look.paint(Tone::Name, &self.database)
            );
        }
        let mut table = Table::new(["total", "share", "calls", "mean", "i/o", "query"]);
        for s in &self.statements {
            table.row([
                Cell::new(Tone::Strong, age(Some(s.total_ms as i64))),
                Cell::from(format!("{:.1}%", s.percent)),
                Cell::from(s.calls.to_string()),
                Cell::from(format!("{:.1} ms", s.mean_ms)),
                Cell::new(Tone::Dim, format!("{:.1} ms", s.io_ms)),
                Cell::from(s.query.as_str()),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} statements", self.statements.len())
    }
}

pub async fn outliers(ctx: &Ctx, args: OutliersArgs) -> Result<Done> {
    let usage = "herokuops db outliers APP [-n N] (or --database-url URL)";
    let (resolved, db) = open(ctx, &args.args, &args.which, usage).await?;
    let database = resolved.label;
    let statements = match activity::outliers(&db, args.num).await? {
        Ok(statements) => statements,
        Err(StatementsUnavailable::NotInstalled) => {
            return Err(StepError::StatementsMissing { database }.into());
        }
        Err(StatementsUnavailable::NotLoaded) => {
            return Err(StepError::StatementsNotLoaded { database }.into());
        }
    };
    Done::ok(Outliers {
        database,
        statements,
    })
}

/// What `db kill` did.
#[derive(Debug, Clone, Serialize)]
pub struct Killed {
    pub database: String,
    pub pid: i32,
    /// `cancelled` (its query) or `terminated` (its session).
    pub action: &'static str,
    /// With `--force`: the session was gone when last looked at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone: Option<bool>,
}

impl Outcome for Killed {
    fn human(&self, look: &Look) -> String {
        let what = match self.action {
            "terminated" => "ended session",
            _ => "cancelled the query of session",
        };
        let mut text = format!(
            "{what} {} on {}",
            look.paint(Tone::Strong, &self.pid.to_string()),
            look.paint(Tone::Name, &self.database)
        );
        if self.gone == Some(false) {
            text.push_str(&format!(
                "\n{}",
                look.paint(Tone::Warn, "it was still there 5 seconds later")
            ));
        }
        text
    }

    fn summary(&self) -> String {
        format!("{} {}", self.action, self.pid)
    }
}

pub async fn kill(ctx: &Ctx, args: KillArgs) -> Result<Done> {
    let usage = "herokuops db kill APP PID [--force] --confirm APP (or --database-url URL PID)";
    let (app, rest) = split_args(ctx, &args.which, &args.args, 1, usage)?;
    let pid: i32 = rest[0]
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::usage(format!("{:?} is not a process id: {usage}", rest[0])))?;
    let (verb, action) = match args.force {
        true => ("end session", "terminated"),
        false => ("cancel the query of session", "cancelled"),
    };
    let resolved = resolve(ctx, app.as_deref(), &args.which).await?;
    if ctx.global.dry_run {
        let sql = activity::kill_sql(args.force).replace("$1", &pid.to_string());
        return Done::ok(DryRun::new(
            format!("{verb} {pid} on {}", resolved.label),
            vec![sql],
        ));
    }
    let db = Target::parse(&resolved.url)?.connect().await?;
    if !activity::session_exists(&db, pid).await? {
        return Err(StepError::NoSuchSession {
            database: resolved.label,
            pid,
        }
        .into());
    }
    let sentence = format!(
        "{}{} {pid} of {}",
        verb[..1].to_uppercase(),
        &verb[1..],
        resolved.label
    );
    ctx.confirm(&resolved.confirm_name, &sentence)?;
    if !activity::kill(&db, pid, args.force).await? {
        return Err(StepError::NoSuchSession {
            database: resolved.label,
            pid,
        }
        .into());
    }
    let gone = match args.force {
        true => Some(until_gone(&db, pid).await?),
        false => None,
    };
    Done::ok(Killed {
        database: resolved.label,
        pid,
        action,
        gone,
    })
}

/// Looks until the session has left, for up to 5 seconds; whether it did.
async fn until_gone(db: &Db, pid: i32) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if !activity::session_exists(db, pid).await? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(Some(1234)), "1.2s");
        assert_eq!(age(Some(185_000)), "3m 5s");
        assert_eq!(age(None), "");
        assert_eq!(age(Some(-5)), "");
    }
}
