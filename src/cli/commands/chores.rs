//! The `db` subcommands that replace the runbooks' remaining chores: moving data between this
//! machine and an app (`pull`, `push`), the local `psql` (`psql`), and live activity (`ps`,
//! `locks`, `blocking`, `outliers`, `kill`). They join `herokuops db` through one flattened
//! variant; the shared way of naming the database is here.

use clap::{Args, Subcommand};

use crate::cli::{Ctx, Done, app_and_args};
use crate::error::{Error, Result};
use crate::pg::Target;
use crate::steps::{Event, pushpull};

use super::{activity, psql, transfer};

#[derive(Debug, Clone, Subcommand)]
pub enum DbChores {
    /// Copy the app's database into a local one (created if absent), streamed pg_dump | pg_restore
    Pull(transfer::PullArgs),
    /// Replace the app's database with a local one: plan, confirm, safety backup, restore, verify (destructive)
    Push(transfer::PushArgs),
    /// The local psql, connected to the app's database (interactive, or -c SQL / -f FILE)
    Psql(psql::PsqlArgs),
    /// Sessions running a query now: pid, state, how long, waiting, the query
    Ps(activity::PsArgs),
    /// Locks held by other sessions, and those waited for
    Locks(activity::ActivityArgs),
    /// Queries waiting for a lock, and the sessions that hold it
    Blocking(activity::ActivityArgs),
    /// The statements that took the most time in all (from pg_stat_statements)
    Outliers(activity::OutliersArgs),
    /// Cancel a session's query, or end the session with --force (needs --confirm APP)
    Kill(activity::KillArgs),
}

impl DbChores {
    /// Whether the command reacts to Ctrl-C itself: a push is a playbook (it cleans up and
    /// journals), psql passes Ctrl-C to its own query.
    pub fn handles_interrupt(&self) -> bool {
        matches!(self, DbChores::Push(_) | DbChores::Psql(_))
    }
}

pub async fn run(ctx: &Ctx, cmd: DbChores) -> Result<Done> {
    match cmd {
        DbChores::Pull(args) => transfer::pull(ctx, args).await,
        DbChores::Push(args) => transfer::push(ctx, args).await,
        DbChores::Psql(args) => psql::run(ctx, args).await,
        DbChores::Ps(args) => activity::ps(ctx, args).await,
        DbChores::Locks(args) => activity::locks(ctx, args).await,
        DbChores::Blocking(args) => activity::blocking(ctx, args).await,
        DbChores::Outliers(args) => activity::outliers(ctx, args).await,
        DbChores::Kill(args) => activity::kill(ctx, args).await,
    }
}

/// Which database: the app's `DATABASE_URL`, another of its attachments, or any URL.
#[derive(Debug, Clone, Default, Args)]
pub struct WhichDb {
    /// Another of the app's databases than DATABASE_URL, e.g. HEROKU_POSTGRESQL_AMBER
    #[arg(long, value_name = "ATTACHMENT")]
    pub database: Option<String>,
    /// Any database instead of an app's (e.g. a local one); sslmode as libpq reads it
    #[arg(long, value_name = "URL", conflicts_with = "database")]
    pub database_url: Option<String>,
}

/// A database a command works on, resolved.
pub struct Resolved {
    pub url: String,
    /// The app, or the masked URL.
    pub label: String,
    /// What a destructive action is confirmed with: the app, or the database's name.
    pub confirm_name: String,
    pub app: Option<String>,
}

/// Splits the positionals into the app (none with `--database-url`) and exactly `own` words
/// of the command's own.
pub fn split_args(
    ctx: &Ctx,
    which: &WhichDb,
    args: &[String],
    own: usize,
    usage: &str,
) -> Result<(Option<String>, Vec<String>)> {
    let (app, rest) = match &which.database_url {
        Some(_) if ctx.global.app.is_some() => {
            return Err(Error::usage(format!(
                "give either an app or --database-url, not both: {usage}"
            )));
        }
        Some(_) => (None, args.to_vec()),
        None => {
            let (app, rest) = app_and_args(&ctx.global, args, own, usage)?;
            (Some(app), rest)
        }
    };
    if rest.len() != own {
        return Err(Error::usage(format!(
            "{} argument(s) where {own} belong: {usage}",
            rest.len()
        )));
    }
    Ok((app, rest))
}

/// The URL of the database, masked (in GitHub Actions) before anything could print it.
pub async fn resolve(ctx: &Ctx, app: Option<&str>, which: &WhichDb) -> Result<Resolved> {
    if let Some(given) = &which.database_url {
        ctx.io.mask(given);
        let url = &super::transfer::with_local_user(given);
        let target = Target::parse(url)?;
        return Ok(Resolved {
            url: url.to_string(),
            label: target.display().to_string(),
            confirm_name: target.database().to_string(),
            app: None,
        });
    }
    let app = app.ok_or_else(|| Error::usage("no app given, and no --database-url"))?;
    let io = ctx.io.clone();
    let mut mask = move |event: Event| {
        if let Event::Secret(secret) = event {
            io.mask(&secret);
        }
    };
    let attachment = which.database.as_deref();
    let url = pushpull::database_url(ctx.api()?, app, attachment, &mut mask).await?;
    let label = match attachment {
        Some(name) => format!("{name} of {app}"),
        None => app.to_string(),
    };
    Ok(Resolved {
        url,
        label,
        confirm_name: app.to_string(),
        app: Some(app.to_string()),
    })
}
