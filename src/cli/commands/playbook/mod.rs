//! `reset`, `swap-db`, `playbook list|show|run`, `runs list|show`, `resume`.

mod confirm;
mod progress;
mod render;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::cli::{Ctx, Done, actions, app_and_args};
use crate::config::{Config, MigrateSetting};
use crate::error::{Error, Result};
use crate::playbooks::executor::{HerokuExecutor, PlaybookOptions};
use crate::playbooks::journal::{self, Journal, RunStatus, StepStatus};
use crate::playbooks::lock::{self, AppLock, Holder};
use crate::playbooks::plan::StepPlan;
use crate::playbooks::runner::{self, Executor, Report, RunOptions};
use crate::playbooks::{Playbook, StepKind};
use crate::signals::Interrupt;
use crate::steps::migrate::Migrate;

use super::parse_duration;
pub use confirm::question;
use progress::RunProgress;
pub use render::{Plan, PlaybookEntry, PlaybookList, RunEntry, RunList, RunReport};

/// Flags of every playbook run.
#[derive(Debug, Clone, Default, Args)]
pub struct PlaybookFlags {
    /// Expected-schema file that `pg.verify` checks (default: from herokuops.toml)
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Deadline of every wait
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The longest pause between looks while waiting
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Skip the safety backup before destructive steps
    #[arg(long)]
    pub no_backup: bool,
    /// On failure, leave maintenance mode on if this run turned it on
    #[arg(long)]
    pub keep_maintenance: bool,
    /// Let pg.drop-schema also drop what other schemas hold that depends on schema public
    /// (columns of its types, views over its tables, foreign keys to them); the plan lists them
    #[arg(long)]
    pub drop_dependents: bool,
    /// Where run journals are kept (default: $XDG_STATE_HOME/herokuops/runs)
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Settings file (default: ./herokuops.toml when present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How the app migrates after a drop (default: a restart, for an app that migrates at boot).
#[derive(Debug, Clone, Default, Args)]
pub struct MigrateFlags {
    /// Migrate by running CMD on a one-off dyno (default: restart the dynos)
    #[arg(long, value_name = "CMD", conflicts_with = "migrate_local")]
    pub migrate_command: Option<String>,
    /// Migrate by running CMD here with DATABASE_URL set (e.g. `alembic upgrade head`)
    #[arg(long, value_name = "CMD")]
    pub migrate_local: Option<String>,
}

/// The flags of a playbook that migrates.
#[derive(Debug, Clone, Default, Args)]
pub struct RunFlags {
    #[command(flatten)]
    pub migrate: MigrateFlags,
    #[command(flatten)]
    pub common: PlaybookFlags,
}

impl From<PlaybookFlags> for RunFlags {
    fn from(common: PlaybookFlags) -> Self {
        RunFlags {
            migrate: MigrateFlags::default(),
            common,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum PlaybookCommand {
    /// List built-in and user playbooks
    #[command(
        after_help = "Examples:\n  herokuops playbook list\n  herokuops playbook list --config ops/herokuops.toml"
    )]
    List {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Show a playbook's steps
    #[command(
        after_help = "Examples:\n  herokuops playbook show swap-db\n  herokuops playbook show nightly --json"
    )]
    Show {
        name: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Run a playbook on an app
    #[command(
        after_help = "Examples:\n  herokuops playbook run nightly tmi-server\n  herokuops playbook run nightly --apps-from staging-apps.txt -j 4\n  herokuops playbook run seed tmi-server --command bin/seed \\\n      --confirm tmi-server"
    )]
    Run {
        name: String,
        #[arg(value_name = "APP")]
        args: Vec<String>,
        /// The command of a `run` step
        #[arg(long, value_name = "CMD")]
        command: Option<String>,
        #[command(flatten)]
        flags: RunFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Journaled runs, newest first
    #[command(after_help = "Examples:\n  herokuops runs list\n  herokuops runs list --json")]
    List {
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
    /// One run's steps and state (ID, a unique start of one, or `latest`)
    #[command(
        after_help = "Examples:\n  herokuops runs show latest\n  herokuops runs show 20261130T101500Z-3f9a"
    )]
    Show {
        id: String,
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
}

fn journal_dir(flag: Option<&PathBuf>) -> PathBuf {
    flag.cloned().unwrap_or_else(journal::default_dir)
}

/// Runs a playbook by name with the given app arguments.
pub async fn run_named(
    ctx: &Ctx,
    name: &str,
    args: &[String],
    plan: Option<String>,
    command: Option<String>,
    flags: RunFlags,
) -> Result<Done> {
    let (app, _) = app_and_args(&ctx.global, args, 0, &format!("herokuops {name} APP"))?;
    let (playbook, mut options, no_backup) = prepare(name, &app, &flags)?;
    if playbook.steps.contains(&StepKind::Run) && command.is_none() {
        return Err(Error::usage(format!(
            "playbook {name} has a `run` step: pass --command CMD"
        )));
    }
    options.plan = plan.or(options.plan);
    options.run_command = command;
    execute(ctx, playbook, options, &flags.common, no_backup, None).await
}

/// `backup restore APP [BACKUP|URL]` into the app's own database: the `restore` playbook.
pub async fn run_restore(
    ctx: &Ctx,
    app: &str,
    source: Option<&str>,
    extensions: Vec<String>,
    flags: PlaybookFlags,
) -> Result<Done> {
    let flags = RunFlags::from(flags);
    let (playbook, mut options, no_backup) = prepare("restore", app, &flags)?;
    if !ctx.global.dry_run {
        ctx.confirmation_possible(app, "The restore playbook (it destroys data)")?;
    }
    // Pinned now: once the safety backup exists, "the newest backup" would be that one, and the
    // restore would bring back the data it was meant to replace.
    let source = match source {
        Some(s) => s.to_string(),
        None => crate::steps::backup::latest_backup(ctx.api()?, app)
            .await?
            .display_name(),
    };
    options.set_restore_source(source);
    options.restore_extensions = extensions;
    if flags.common.timeout.is_none() {
        options.timeout = options.timeout.max(Duration::from_secs(2 * 60 * 60));
    }
    execute(ctx, playbook, options, &flags.common, no_backup, None).await
}

/// The playbook and the options of a run, from the flags and the app's herokuops.toml defaults.
pub(crate) fn prepare(
    name: &str,
    app: &str,
    flags: &RunFlags,
) -> Result<(Playbook, PlaybookOptions, bool)> {
    let config = Config::load(flags.common.config.as_deref())?;
    let playbook = config.playbook(name)?;
    let (options, no_backup) = run_options(&config, app, flags);
    Ok((playbook, options, no_backup))
}

/// The options of a run on `app` from the flags and the app's defaults in herokuops.toml,
/// and whether it goes without a safety backup; for a playbook a command builds itself.
pub(crate) fn run_options(config: &Config, app: &str, flags: &RunFlags) -> (PlaybookOptions, bool) {
    let common = &flags.common;
    let defaults = config.app(app);
    let migrate = match (&flags.migrate, &defaults.migrate) {
        (
            MigrateFlags {
                migrate_command: Some(cmd),
                ..
            },
            _,
        ) => Migrate::OneOffDyno(cmd.clone()),
        (
            MigrateFlags {
                migrate_local: Some(cmd),
                ..
            },
            _,
        ) => Migrate::Local(cmd.clone()),
        (_, Some(MigrateSetting::Command { command })) => Migrate::OneOffDyno(command.clone()),
        (_, Some(MigrateSetting::Local { local })) => Migrate::Local(local.clone()),
        _ => Migrate::Restart,
    };
    let options = PlaybookOptions {
        app: app.to_string(),
        plan: defaults.plan.clone(),
        expect: common.expect.clone().or(defaults.expect.clone()),
        migrate,
        timeout: common
            .timeout
            .or(defaults.timeout())
            .unwrap_or(Duration::from_secs(20 * 60)),
        interval: common.interval,
        restore_from: None,
        restore_url_withheld: false,
        restore_extensions: Vec::new(),
        run_command: None,
        drop_dependents: common.drop_dependents,
        database: None,
        push_from: None,
        push_password: None,
    };
    let no_backup = common.no_backup || defaults.safety_backup == Some(false);
    (options, no_backup)
}

/// The steps a run has left: all of them, or those a resumed run has not done.
fn remaining(playbook: &Playbook, resumed: Option<&Journal>) -> Vec<StepKind> {
    match resumed {
        Some(j) => j
            .steps
            .iter()
            .filter(|s| s.status != StepStatus::Done)
            .map(|s| s.step)
            .collect(),
        None => playbook.steps.clone(),
    }
}

/// Plans, confirms and runs (or resumes) a playbook.
pub(crate) async fn execute(
    ctx: &Ctx,
    playbook: Playbook,
    options: PlaybookOptions,
    flags: &PlaybookFlags,
    no_backup: bool,
    resumed: Option<Journal>,
) -> Result<Done> {
    let app = options.app.clone();
    let steps = remaining(&playbook, resumed.as_ref());
    let destructive = steps.iter().any(|s| s.is_destructive());
    let action = format!("The {} playbook", playbook.name);
    if !ctx.global.dry_run && destructive {
        ctx.confirmation_possible(&app, &action)?;
    }
    let progress = RunProgress::new(&ctx.io);
    let api = ctx.api()?.clone();
    let observer = Box::new(progress.clone());
    let executor = HerokuExecutor::new(api, options.clone(), &playbook.steps, observer)?;
    let journal = resumed.unwrap_or_else(|| {
        let options = serde_json::to_value(&options).unwrap_or_default();
        Journal::new(&playbook.name, &app, &playbook.steps, options)
    });
    let (mut executor, _app_lock) = lock_app(ctx, executor, &app, &journal.id, &playbook.name)?;
    let plan = Plan {
        dry_run: ctx.global.dry_run,
        playbook: playbook.name.clone(),
        app: app.clone(),
        preflight: executor.preflight().await?,
        safety_backup: destructive && !no_backup,
        steps: steps
            .iter()
            .map(|s| executor.describe(*s))
            .collect::<Vec<StepPlan>>(),
    };
    if ctx.global.dry_run {
        return Done::ok(plan);
    }
    if !ctx.io.json() {
        ctx.io.info(&plan.text(&ctx.io.look_err, false));
    }
    if destructive {
        let question = confirm::question(&plan, &ctx.io.look_err);
        ctx.confirm_with(&app, &action, &question)?;
    }
    let run_options = RunOptions {
        no_backup,
        keep_maintenance: flags.keep_maintenance,
        journal_dir: journal_dir(flags.journal_dir.as_ref()),
        step_retries: 2,
        retry_delay: options.interval.min(Duration::from_secs(5)),
    };
    run_to_report(executor, journal, &run_options, progress).await
}

/// One run per app: held here on this machine, and by the preflight on the app's database,
/// until the run ends (the lock returned is kept as long as that). A dry run changes nothing
/// and takes neither.
fn lock_app(
    ctx: &Ctx,
    executor: HerokuExecutor,
    app: &str,
    run_id: &str,
    playbook: &str,
) -> Result<(HerokuExecutor, Option<AppLock>)> {
    if ctx.global.dry_run {
        return Ok((executor, None));
    }
    let holder = Holder::this_process(run_id, playbook);
    let held = AppLock::acquire(&lock::default_dir(), app, &holder)?;
    Ok((executor.lock_database_as(holder), Some(held)))
}

/// Runs the playbook until it ends or is interrupted; a failed run is reported with its
/// cause, as the annotation text GitHub shows.
async fn run_to_report(
    mut executor: HerokuExecutor,
    journal: Journal,
    run_options: &RunOptions,
    mut observer: RunProgress,
) -> Result<Done> {
    let interrupt = Interrupt::listen();
    let outcome = runner::run(
        &mut executor,
        journal,
        run_options,
        &mut observer,
        interrupt.receiver(),
    )
    .await;
    match outcome {
        Ok(report) => Done::ok(RunReport {
            report,
            failure: None,
        }),
        Err(failure) => {
            let message = actions::error_message(&failure.cause);
            let report = RunReport {
                report: *failure.report,
                failure: Some(message),
            };
            Done::failed(report, failure.cause)
        }
    }
}

pub async fn playbook(ctx: &Ctx, cmd: PlaybookCommand) -> Result<Done> {
    match cmd {
        PlaybookCommand::List { config } => {
            let config = Config::load(config.as_deref())?;
            let all = config.all_playbooks();
            Done::ok(PlaybookList(all.iter().map(PlaybookEntry::from).collect()))
        }
        PlaybookCommand::Show { name, config } => {
            let config = Config::load(config.as_deref())?;
            Done::ok(PlaybookEntry::from(&config.playbook(&name)?))
        }
        PlaybookCommand::Run {
            name,
            args,
            command,
            flags,
        } => run_named(ctx, &name, &args, None, command, flags).await,
    }
}

pub fn runs(_ctx: &Ctx, cmd: RunsCommand) -> Result<Done> {
    match cmd {
        RunsCommand::List { journal_dir: dir } => {
            let runs = journal::list(&journal_dir(dir.as_ref()));
            Done::ok(RunList(
                runs.into_iter()
                    .map(|journal| RunEntry {
                        abandoned: journal.is_abandoned(),
                        journal,
                    })
                    .collect(),
            ))
        }
        RunsCommand::Show {
            id,
            journal_dir: dir,
        } => {
            let dir = journal_dir(dir.as_ref());
            let j = find_run(&dir, &id)?;
            let mut report = Report::of_journal(&j, Some(dir.join(format!("{}.json", j.id))));
            if matches!(j.status, RunStatus::Failed | RunStatus::Interrupted) || j.is_abandoned() {
                report.resume_command = Some(format!("herokuops resume {}", j.id));
            }
            Done::ok(RunReport {
                report,
                failure: None,
            })
        }
    }
}

/// A run by its id, a unique start of one, or `latest`.
fn find_run(dir: &std::path::Path, id: &str) -> Result<Journal> {
    let runs = journal::list(dir);
    let mut matching: Vec<Journal> = match id {
        "latest" => runs.into_iter().take(1).collect(),
        _ => runs.into_iter().filter(|r| r.id.starts_with(id)).collect(),
    };
    if let Some(exact) = matching.iter().position(|r| r.id == id) {
        return Ok(matching.swap_remove(exact));
    }
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => Err(Error::usage(format!(
            "no run {id} in {}; `herokuops runs list` shows the runs there",
            dir.display()
        ))),
        n => Err(Error::usage(format!(
            "{id} is the start of {n} runs' ids; give more of it (`herokuops runs list`)"
        ))),
    }
}

/// Continues a failed or interrupted run from its failed step.
pub async fn resume(
    ctx: &Ctx,
    id: &str,
    restore_url: Option<&str>,
    flags: PlaybookFlags,
) -> Result<Done> {
    let dir = journal_dir(flags.journal_dir.as_ref());
    let journal = find_run(&dir, id)?;
    let id = journal.id.clone();
    if journal.status == RunStatus::Succeeded {
        return Err(Error::usage(format!(
            "run {id} already succeeded; nothing to resume"
        )));
    }
    if journal.status == RunStatus::Running && !journal.is_abandoned() {
        return Err(Error::usage(format!(
            "run {id} is still running (process {}); wait for it to end, or stop it, then resume",
            journal.pid.unwrap_or_default()
        )));
    }
    let mut options: PlaybookOptions =
        serde_json::from_value(journal.options.clone()).map_err(|e| {
            Error::usage(format!(
                "the journal of run {id} has unreadable options: {e}"
            ))
        })?;
    let restore_pending = journal
        .steps
        .iter()
        .any(|s| s.step == StepKind::BackupRestore && s.status != StepStatus::Done);
    options.resupply_restore_url(restore_pending, restore_url, &id)?;
    options.drop_dependents |= flags.drop_dependents;
    let config = Config::load(flags.config.as_deref())?;
    let playbook = config
        .playbook(&journal.playbook)
        .unwrap_or_else(|_| Playbook {
            name: journal.playbook.clone(),
            description: String::new(),
            steps: journal.steps.iter().map(|s| s.step).collect(),
        });
    let no_backup = flags.no_backup;
    execute(ctx, playbook, options, &flags, no_backup, Some(journal)).await
}
