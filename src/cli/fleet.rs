//! The commands that take several apps, run as a fleet: each app gets the single-app command
//! with its own context (its output captured, no prompts) and the one shared API client, so
//! every app draws on one rate-limit budget. The report has a row per app.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::{Error, Result, exit};
use crate::fleet::{self, AppOutcome, AppRow, AppStatus, FleetOptions, FleetReport};
use crate::output::outcome::ToJson;
use crate::output::prompt::ScriptedPrompter;
use crate::output::table::{Cell, Table};
use crate::output::{Io, Look, Mode, Outcome, Tone};

use super::commands::backup::BackupCommand;
use super::commands::db::{DbCommand, VerifyArgs};
use super::commands::maintenance::MaintenanceCommand;
use super::commands::playbook::PlaybookCommand;
use super::{Command, Ctx, Done, Global, apps};

pub use apps::is_fleet;

/// What fleets can run.
const FLEET_COMMANDS: &str =
    "backup capture, verify, db check, db diagnose, maintenance on|off|status and playbook run";

/// One app's share of the work: the single-app command, cloned for each app.
#[derive(Clone)]
enum Operation {
    Backup(BackupCommand),
    Verify(VerifyArgs),
    Db(DbCommand),
    Maintenance(MaintenanceCommand),
    Playbook(PlaybookCommand),
}

impl Operation {
    fn from_command(command: Command) -> Result<Operation> {
        let op = match command {
            Command::Backup(cmd @ BackupCommand::Capture { .. }) => {
                if let BackupCommand::Capture {
                    download: Some(_), ..
                } = &cmd
                {
                    return Err(Error::usage(
                        "--download takes one app: every app would write the same file",
                    ));
                }
                Operation::Backup(cmd)
            }
            Command::Verify(args) => Operation::Verify(args),
            Command::Db(cmd @ (DbCommand::Check { .. } | DbCommand::Diagnose { .. })) => {
                Operation::Db(cmd)
            }
            Command::Maintenance(cmd) => Operation::Maintenance(cmd),
            Command::Playbook(cmd @ PlaybookCommand::Run { .. }) => Operation::Playbook(cmd),
            _ => {
                return Err(Error::usage(format!(
                    "this command takes one app; several apps (--app repeated, --apps-from FILE) work with {FLEET_COMMANDS}"
                )));
            }
        };
        let database_url = match &op {
            Operation::Verify(args) => args.source.database_url.is_some(),
            Operation::Db(DbCommand::Check { source, .. } | DbCommand::Diagnose { source, .. }) => {
                source.database_url.is_some()
            }
            _ => false,
        };
        if database_url {
            return Err(Error::usage(
                "--database-url names one database: give it without --app or --apps-from",
            ));
        }
        Ok(op)
    }

    /// Playbook runs clean up after an interrupt themselves; the rest are simply stopped.
    fn handles_interrupt(&self) -> bool {
        matches!(self, Operation::Playbook(_))
    }

    async fn run(self, ctx: &Ctx) -> Result<super::Done> {
        use super::commands;
        match self {
            Operation::Backup(cmd) => commands::backup::run(ctx, cmd).await,
            Operation::Verify(args) => commands::db::verify_command(ctx, args).await,
            Operation::Db(cmd) => commands::db::db(ctx, cmd).await,
            Operation::Maintenance(cmd) => commands::maintenance::run(ctx, cmd).await,
            Operation::Playbook(cmd) => commands::playbook::playbook(ctx, cmd).await,
        }
    }
}

/// A destructive playbook needs `--confirm APP` naming the one app it destroys data of; a
/// fleet has no such single name, so those playbooks run one app at a time.
fn refuse_destructive(op: &Operation) -> Result<()> {
    let Operation::Playbook(PlaybookCommand::Run { name, flags, .. }) = op else {
        return Ok(());
    };
    let config = flags.common.config.as_deref();
    let playbook = crate::config::Config::load(config)?.playbook(name)?;
    if playbook.is_destructive() {
        return Err(Error::usage(format!(
            "playbook {name} destroys data, so it runs on one app at a time with --confirm APP; fleets run only playbooks that destroy nothing"
        )));
    }
    Ok(())
}

/// Runs `command` on every app of the fleet and renders the report.
pub async fn run(command: Command, ctx: &Ctx) -> Result<Done> {
    let apps = apps::fleet_apps(&ctx.global)?;
    let op = Operation::from_command(command)?;
    refuse_destructive(&op)?;
    // The token is resolved once, before any app starts: without one every app would fail
    // alike. A dry run needs none, as with one app.
    let api = match ctx.api() {
        Ok(api) => Some(api.clone()),
        Err(_) if ctx.global.dry_run => None,
        Err(e) => return Err(e),
    };
    let options = FleetOptions {
        jobs: ctx.global.jobs.max(1),
        let_running_finish: op.handles_interrupt(),
    };
    let interrupt = crate::signals::Interrupt::listen();
    let shared = Arc::new(Shared {
        io: ctx.io.clone(),
        global: ctx.global.clone(),
        api,
        op,
    });
    let io = ctx.io.clone();
    let report = fleet::run(
        apps,
        &options,
        interrupt.receiver(),
        |app| run_one(shared.clone(), app),
        |row, done, total| io.info(&progress_line(row, done, total)),
    )
    .await;
    drop(interrupt);
    let code = report.exit_code();
    let failed = report.failures();
    let total = report.rows.len();
    let playbook = matches!(shared.op, Operation::Playbook(_));
    let outcome = FleetOutcome { report, playbook };
    if code == exit::OK {
        return Done::ok(outcome);
    }
    Done::failed(
        outcome,
        Error::Fleet {
            failed,
            total,
            code,
        },
    )
}

/// What every app's task needs from the parent command.
struct Shared {
    io: Io,
    global: Global,
    api: Option<crate::api::ApiClient>,
    op: Operation,
}

/// One app: the single-app command in a context of its own, its JSON result kept for the row.
async fn run_one(shared: Arc<Shared>, app: String) -> AppOutcome {
    let (mut io, captured) = Io::captured(Mode::Json);
    io.quiet = shared.io.quiet;
    // In GitHub Actions each app still masks its secrets (the workflow commands reach the log
    // through the forwarded stderr); the step's outputs and summary are the fleet's, written
    // once below: one app's outputs would overwrite another's.
    io.gha = shared.io.gha.clone().map(|mut actions| {
        actions.output = None;
        actions.summary = None;
        actions
    });
    let mut global = shared.global.clone();
    global.app = Some(app.clone());
    global.apps = vec![app.clone()];
    global.apps_from = None;
    global.json = true;
    let prompter = Box::new(ScriptedPrompter(None));
    let ctx = match &shared.api {
        Some(api) => Ctx::with_api(io, global, prompter, api.clone()),
        None => Ctx::new(io, global, prompter),
    };
    let result = shared.op.clone().run(&ctx).await;
    forward_stderr(&shared.io, &app, &captured.err.contents());
    match result {
        Ok(done) => AppOutcome {
            exit_code: done.failure.as_ref().map_or(exit::OK, Error::exit_code),
            detail: match &done.failure {
                Some(failure) => detail_of(failure),
                None => done.outcome.summary(),
            },
            result: Some(done.outcome.to_json()),
        },
        Err(error) => AppOutcome {
            exit_code: error.exit_code(),
            detail: detail_of(&error),
            result: None,
        },
    }
}

/// A failed app's row: the error, and its hint.
fn detail_of(error: &Error) -> String {
    match error.hint() {
        Some(hint) => format!("{error} (hint: {hint})"),
        None => error.to_string(),
    }
}

/// The app's warnings, prefixed with its name, as one block so apps do not interleave.
/// Workflow commands (`::...`) pass unchanged: the runner must see them as they are.
fn forward_stderr(parent: &Io, app: &str, text: &str) {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.starts_with("::") {
                l.to_string()
            } else {
                format!("{app}: {l}")
            }
        })
        .collect();
    if !lines.is_empty() {
        parent.err_line(&lines.join("\n"));
    }
}

fn progress_line(row: &AppRow, done: usize, total: usize) -> String {
    format!(
        "{} [{done}/{total}] {} {} in {:.1}s: {}",
        crate::output::progress::timestamp(),
        row.app,
        row.status.as_str(),
        row.duration_ms as f64 / 1000.0,
        row.detail
    )
}

/// A fleet's report: a row per app; its JSON is the array of rows.
#[derive(Debug, Clone)]
pub struct FleetOutcome {
    pub report: FleetReport,
    /// The apps ran a playbook, which annotates its own failure.
    pub playbook: bool,
}

impl ToJson for FleetOutcome {
    fn to_json(&self) -> Value {
        json!(self.report.rows)
    }
}

impl Outcome for FleetOutcome {
    fn human(&self, look: &Look) -> String {
        let report = &self.report;
        let mut table = Table::new(["app", "status", "time", "detail"]);
        for r in &report.rows {
            table.row([
                Cell::new(Tone::Name, r.app.clone()),
                Cell::new(status_tone(r.status), r.status.as_str()),
                Cell::new(Tone::Dim, format!("{:.1}s", r.duration_ms as f64 / 1000.0)),
                Cell::from(r.detail.clone()),
            ]);
        }
        let counts: Vec<String> = report
            .counts()
            .iter()
            .map(|(status, n)| format!("{n} {}", status.as_str()))
            .collect();
        format!(
            "{}\n{} apps in {:.1}s: {}",
            table.render(look).trim_end(),
            report.rows.len(),
            report.elapsed.as_secs_f64(),
            counts.join(", ")
        )
    }

    fn summary(&self) -> String {
        format!(
            "{} apps, {} did not succeed",
            self.report.rows.len(),
            self.report.failures()
        )
    }

    /// The fleet's step outputs (`status`, `apps`, `failed_apps`) and a summary table.
    fn github(&self, io: &Io) {
        if io.gha.is_none() {
            return;
        }
        let report = &self.report;
        // A playbook run annotates its own failure, and verify its drift; the rest are annotated here.
        for r in &report.rows {
            let annotated = self.playbook || r.status == AppStatus::Drift;
            if r.exit_code != exit::OK && !annotated {
                io.annotate_error(Some(&format!("{} {}", r.app, r.status.as_str())), &r.detail);
            }
        }
        let failed: Vec<&str> = report
            .rows
            .iter()
            .filter(|r| r.exit_code != exit::OK)
            .map(|r| r.app.as_str())
            .collect();
        let status = if failed.is_empty() { "ok" } else { "failed" };
        io.gha_outputs(&[
            ("status", status.to_string()),
            ("apps", report.rows.len().to_string()),
            ("failed_apps", failed.join(" ")),
        ]);
        let mut markdown = format!(
            "### herokuops fleet: {} apps, {} did not succeed\n\n| app | status | time | detail |\n| --- | --- | --- | --- |\n",
            report.rows.len(),
            failed.len()
        );
        for r in &report.rows {
            markdown.push_str(&format!(
                "| {} | {} | {:.1}s | {} |\n",
                r.app,
                r.status.as_str(),
                r.duration_ms as f64 / 1000.0,
                r.detail.replace('|', "\\|").replace('\n', " ")
            ));
        }
        io.gha_summary(&markdown);
    }
}

fn status_tone(status: AppStatus) -> Tone {
    match status {
        AppStatus::Ok => Tone::Good,
        AppStatus::Drift | AppStatus::Interrupted | AppStatus::NotRun => Tone::Warn,
        _ => Tone::Bad,
    }
}
