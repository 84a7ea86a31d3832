//! The `db` subcommands that replace the runbooks' remaining chores: moving data between this
//! machine and an app (`pull`, `push`), the local `psql` (`psql`), and live activity (`ps`,
//! `locks`, `blocking`, `outliers`, `kill`). They join `herokuops db` through one flattened
//! variant.

use clap::Subcommand;

use crate::cli::{Ctx, Done};
use crate::error::Result;

use super::super::{activity, psql, transfer};

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
