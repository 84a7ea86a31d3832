//! `db psql APP [-c SQL | -f FILE]`: the local `psql` connected to the app's database, in
//! place of `heroku pg:psql` and its one-off dyno. The connection goes through libpq's
//! environment, the password with it, never on the command line; psql's output is ours and its
//! exit status becomes ours.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use clap::Args;

use crate::cli::{Ctx, Done};
use crate::error::{Error, Result};
use crate::output::DryRun;
use crate::steps::StepError;
use crate::steps::local_tools::{self, Connection};

use super::which_db::{WhichDb, resolve, split_args};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops db psql tmi-server\n  herokuops db psql tmi-server -c 'TABLE schema_migrations'\n  herokuops db psql tmi-server -f fix-data.sql"
)]
pub struct PsqlArgs {
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub which: WhichDb,
    /// Run this SQL (or psql meta-command) and exit
    #[arg(short = 'c', long, value_name = "SQL", conflicts_with = "file")]
    pub command: Option<String>,
    /// Run the statements in FILE and exit; the first error stops it (exit 3)
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// psql's own arguments: what to run, and, when it runs something, to stop at an error.
pub fn psql_args(args: &PsqlArgs) -> Vec<String> {
    let mut words = Vec::new();
    if let Some(sql) = &args.command {
        words.extend(["--command".to_string(), sql.clone()]);
    }
    if let Some(file) = &args.file {
        words.extend(["--file".to_string(), file.display().to_string()]);
    }
    if !words.is_empty() {
        words.extend(["--set".to_string(), "ON_ERROR_STOP=1".to_string()]);
    }
    words
}

pub async fn run(ctx: &Ctx, args: PsqlArgs) -> Result<Done> {
    let usage = "herokuops db psql APP [-c SQL | -f FILE] (or --database-url URL)";
    let (app, _) = split_args(ctx, &args.which, &args.args, 0, usage)?;
    if let Some(file) = args.file.as_ref().filter(|f| !f.is_file()) {
        return Err(Error::usage(format!("-f {}: no such file", file.display())));
    }
    let resolved = resolve(ctx, app.as_deref(), &args.which).await?;
    if ctx.global.dry_run {
        return Done::ok(DryRun::new(
            format!("run the local psql on {}", resolved.label),
            vec![],
        ));
    }
    ctx.io.stdout_is_data();
    let psql = local_tools::find("psql", None, 0).await?;
    let conn = Connection::from_url(&resolved.url, None)?;
    let mut command = tokio::process::Command::new(&psql.path);
    conn.apply(&mut command);
    command.args(psql_args(&args));
    let mut child = command
        .spawn()
        .map_err(|source| StepError::CommandNotStarted {
            what: psql.path.display().to_string(),
            source,
        })?;
    let status = wait_passing_signals(&mut child).await?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    if code == 0 {
        return Done::streamed();
    }
    Err(Error::Exited {
        what: "psql".into(),
        status: code,
    })
}

/// Waits for psql. Ctrl-C at a terminal reaches psql itself, which cancels its query and goes
/// on; herokuops must not end under it. A Ctrl-C or SIGTERM sent to herokuops alone is passed
/// on to psql.
async fn wait_passing_signals(
    child: &mut tokio::process::Child,
) -> Result<std::process::ExitStatus> {
    use rustix::process::{Pid, Signal, kill_process};
    use tokio::signal::unix::{SignalKind, signal};
    let io = |e: std::io::Error| Error::io("could not watch for Ctrl-C", e);
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(io)?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    let pass = |signal: Signal| {
        if let Some(pid) = pid {
            let _ = kill_process(pid, signal);
        }
    };
    loop {
        tokio::select! {
            status = child.wait() => return status.map_err(|e| Error::io("psql", e)),
            _ = interrupt.recv() => pass(Signal::INT),
            _ = terminate.recv() => pass(Signal::TERM),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(command: Option<&str>, file: Option<&str>) -> PsqlArgs {
        PsqlArgs {
            args: vec![],
            which: WhichDb::default(),
            command: command.map(str::to_string),
            file: file.map(PathBuf::from),
        }
    }

    #[test]
    fn a_command_or_file_stops_at_the_first_error_and_interactive_takes_nothing() {
        assert!(psql_args(&args(None, None)).is_empty());
        assert_eq!(
            psql_args(&args(Some("select 1"), None)),
            ["--command", "select 1", "--set", "ON_ERROR_STOP=1"]
        );
        assert_eq!(
            psql_args(&args(None, Some("x.sql"))),
            ["--file", "x.sql", "--set", "ON_ERROR_STOP=1"]
        );
    }
}
