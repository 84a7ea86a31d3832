//! `reset`, `swap-db`, `playbook list|show|run`, `runs list|show`, `resume`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::cli::{Ctx, app_and_args};
use crate::config::{Config, MigrateSetting};
use crate::error::{Error, Result};
use crate::output::table::Table;
use crate::playbooks::executor::{HerokuExecutor, PlaybookOptions, Preflight};
use crate::playbooks::journal::{self, Journal, RunStatus, StepStatus};
use crate::playbooks::lock::{self, AppLock, Holder};
use crate::playbooks::runner::{self, Executor, Report, RunObserver, RunOptions, StepPlan};
use crate::playbooks::{Playbook, StepKind};
use crate::signals::Interrupt;
use crate::steps::migrate::Migrate;

use super::parse_duration;

/// Flags shared by every playbook run.
#[derive(Debug, Clone, Args)]
pub struct RunFlags {
    /// Expected-schema file that `pg.verify` checks (default: from herokuops.toml)
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Migrate by running CMD on a one-off dyno (default: restart the dynos)
    #[arg(long, value_name = "CMD", conflicts_with = "migrate_local")]
    pub migrate_command: Option<String>,
    /// Migrate by running CMD here with DATABASE_URL set (e.g. `alembic upgrade head`)
    #[arg(long, value_name = "CMD")]
    pub migrate_local: Option<String>,
    /// Deadline of every wait
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Poll interval of waits
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

#[derive(Debug, Clone, Subcommand)]
pub enum PlaybookCommand {
    /// List built-in and user playbooks
    List {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Show a playbook's steps
    Show {
        name: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Run a playbook on an app
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
    List {
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
    },
    /// One run's steps and state
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
) -> Result<()> {
    let (app, _) = app_and_args(&ctx.global, args, 0, &format!("herokuops {name} APP"))?;
    let (playbook, mut options, no_backup) = prepare(name, &app, &flags)?;
    if playbook.steps.contains(&StepKind::Run) && command.is_none() {
        return Err(Error::usage(format!(
            "playbook {name} has a `run` step: pass --command CMD"
        )));
    }
    options.plan = plan.or(options.plan);
    options.run_command = command;
    execute(ctx, playbook, options, &flags, no_backup, None).await
}

/// `backup restore APP [BACKUP|URL]` into the app's own database: the `restore` playbook.
pub async fn run_restore(
    ctx: &Ctx,
    app: &str,
    source: Option<&str>,
    extensions: Vec<String>,
    flags: RunFlags,
) -> Result<()> {
    let (playbook, mut options, no_backup) = prepare("restore", app, &flags)?;
    // Pinned now: once the safety backup exists, "the newest backup" would be that one, and the
    // restore would bring back the data it was meant to replace.
    if !ctx.global.dry_run {
        ctx.confirmation_possible(app, "The restore playbook (it destroys data)")?;
    }
    let source = match source {
        Some(s) => s.to_string(),
        None => crate::steps::backup::latest_backup(ctx.api()?, app)
            .await?
            .display_name(),
    };
    options.set_restore_source(source);
    options.restore_extensions = extensions;
    if flags.timeout.is_none() {
        options.timeout = options.timeout.max(Duration::from_secs(2 * 60 * 60));
    }
    execute(ctx, playbook, options, &flags, no_backup, None).await
}

/// The playbook and the options of a run, from the flags and the app's herokuops.toml defaults.
fn prepare(name: &str, app: &str, flags: &RunFlags) -> Result<(Playbook, PlaybookOptions, bool)> {
    let config = Config::load(flags.config.as_deref())?;
    let playbook = config.playbook(name)?;
    let defaults = config.app(app);
    let migrate = match (
        &flags.migrate_command,
        &flags.migrate_local,
        &defaults.migrate,
    ) {
        (Some(cmd), _, _) => Migrate::OneOffDyno(cmd.clone()),
        (_, Some(cmd), _) => Migrate::Local(cmd.clone()),
        (_, _, Some(MigrateSetting::Command { command })) => Migrate::OneOffDyno(command.clone()),
        (_, _, Some(MigrateSetting::Local { local })) => Migrate::Local(local.clone()),
        _ => Migrate::Restart,
    };
    let options = PlaybookOptions {
        app: app.to_string(),
        plan: defaults.plan.clone(),
        expect: flags.expect.clone().or(defaults.expect.clone()),
        migrate,
        timeout: flags
            .timeout
            .or(defaults.timeout())
            .unwrap_or(Duration::from_secs(20 * 60)),
        interval: flags.interval,
        restore_from: None,
        restore_url_withheld: false,
        restore_extensions: Vec::new(),
        run_command: None,
        drop_dependents: flags.drop_dependents,
    };
    let no_backup = flags.no_backup || defaults.safety_backup == Some(false);
    Ok((playbook, options, no_backup))
}

/// Plans, confirms and runs (or resumes) a playbook; renders the report.
async fn execute(
    ctx: &Ctx,
    playbook: Playbook,
    options: PlaybookOptions,
    flags: &RunFlags,
    no_backup: bool,
    resumed: Option<Journal>,
) -> Result<()> {
    let app = options.app.clone();
    let remaining: Vec<StepKind> = match &resumed {
        Some(j) => j
            .steps
            .iter()
            .filter(|s| s.status != StepStatus::Done)
            .map(|s| s.step)
            .collect(),
        None => playbook.steps.clone(),
    };
    let destructive = remaining.iter().any(|s| s.is_destructive());
    let action = format!("The {} playbook (it destroys data)", playbook.name);
    if !ctx.global.dry_run && destructive {
        ctx.confirmation_possible(&app, &action)?;
    }
    let api = ctx.api()?.clone();
    let observer = ctx.spinner(&format!("{} {app}", playbook.name));
    let mut executor =
        HerokuExecutor::new(api, options.clone(), &playbook.steps, Box::new(observer))?;
    let journal = resumed.unwrap_or_else(|| {
        let options = serde_json::to_value(&options).unwrap_or_default();
        Journal::new(&playbook.name, &app, &playbook.steps, options)
    });
    // One run per app: held here on this machine, and by the preflight on the app's database,
    // until the run ends. A dry run changes nothing and takes neither.
    let mut _app_lock = None;
    if !ctx.global.dry_run {
        let holder = Holder::this_process(&journal.id, &playbook.name);
        _app_lock = Some(AppLock::acquire(&lock::default_dir(), &app, &holder)?);
        executor = executor.lock_database_as(holder);
    }
    let preflight = executor.preflight().await?;
    let plan: Vec<StepPlan> = remaining.iter().map(|s| executor.describe(*s)).collect();
    if ctx.global.dry_run {
        render_plan(ctx, &playbook, &preflight, &plan, destructive && !no_backup);
        return Ok(());
    }
    if !ctx.io.json() {
        ctx.io.info(&format!("{} on {app}:", playbook.name));
        for fact in preflight_lines(&preflight) {
            ctx.io.info(&format!("  {fact}"));
        }
    }
    if destructive {
        ctx.confirm(&app, &action)?;
    }
    let run_options = RunOptions {
        no_backup,
        keep_maintenance: flags.keep_maintenance,
        journal_dir: journal_dir(flags.journal_dir.as_ref()),
        step_retries: 2,
        retry_delay: options.interval.min(Duration::from_secs(5)),
    };
    let interrupt = Interrupt::listen();
    let mut progress = StepLines { io: ctx.io.clone() };
    let outcome = runner::run(
        &mut executor,
        journal,
        &run_options,
        &mut progress,
        interrupt.receiver(),
    )
    .await;
    match outcome {
        Ok(report) => {
            render_report(ctx, &report);
            crate::cli::actions::playbook_report(&ctx.io, &report, None);
            Ok(())
        }
        Err(failure) => {
            render_report(ctx, &failure.report);
            crate::cli::actions::playbook_report(&ctx.io, &failure.report, Some(&failure.cause));
            Err(Error::Reported(Box::new(failure.cause)))
        }
    }
}

/// What the preflight found, a fact a line.
fn preflight_lines(p: &Preflight) -> Vec<String> {
    let mut lines = vec![
        format!("account: {}", p.account),
        format!(
            "DATABASE_URL: {} ({})",
            p.database_addon,
            p.database_plan.as_deref().unwrap_or("plan unknown")
        ),
        format!("maintenance: {}", if p.maintenance { "on" } else { "off" }),
    ];
    lines.push(match p.tables.len() {
        0 => "schema public has no tables".to_string(),
        n => format!("schema public has {n} tables: {}", p.tables.join(", ")),
    });
    if let Some(path) = &p.expect {
        lines.push(format!("expected schema: {}", path.display()));
    }
    lines
}

/// One line per step on stderr as the run goes.
struct StepLines {
    io: crate::output::Io,
}

impl RunObserver for StepLines {
    fn step_started(&mut self, index: usize, total: usize, step: StepKind, description: &str) {
        let title = if index == 0 {
            format!("{step}: {description}")
        } else {
            format!("[{index}/{total}] {step}: {description}")
        };
        // Each step folds into its own section of a GitHub Actions log.
        self.io.group(&title);
        self.io.info(&format!("==> {title}"));
    }

    fn step_finished(
        &mut self,
        step: StepKind,
        outcome: std::result::Result<&str, &str>,
        elapsed_ms: u64,
    ) {
        let secs = elapsed_ms as f64 / 1000.0;
        match outcome {
            Ok(detail) => self
                .io
                .info(&format!("    {step} done in {secs:.1}s: {detail}")),
            Err(error) => self
                .io
                .info(&format!("    {step} FAILED after {secs:.1}s: {error}")),
        }
        self.io.endgroup();
    }
}

fn render_plan(
    ctx: &Ctx,
    playbook: &Playbook,
    preflight: &Preflight,
    plan: &[StepPlan],
    safety_backup: bool,
) {
    let app = &preflight.app;
    let facts = preflight_lines(preflight);
    ctx.io.render(
        &json!({ "dry_run": true, "playbook": playbook.name, "app": app, "preflight": facts, "safety_backup": safety_backup, "steps": plan }),
        || {
            let mut text = format!("would run playbook {} on {app}\n", playbook.name);
            for fact in &facts {
                text.push_str(&format!("  {fact}\n"));
            }
            if safety_backup {
                text.push_str("  0. backup.capture: safety backup before the destructive steps\n");
            }
            for (i, step) in plan.iter().enumerate() {
                let mark = if step.destructive { " [destructive]" } else { "" };
                text.push_str(&format!("  {}. {}{mark}: {}\n", i + 1, step.step, step.description));
                for r in &step.requests {
                    text.push_str(&format!("       {r}\n"));
                }
                for s in &step.sql {
                    text.push_str(&format!("       SQL: {s}\n"));
                }
            }
            text
        },
    );
}

fn render_report(ctx: &Ctx, report: &Report) {
    ctx.io.render(&json!(report), || {
        let mut text = String::new();
        let verdict = match report.status {
            RunStatus::Running if report.abandoned => "was ABANDONED (its process is gone)",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "FAILED",
            RunStatus::Interrupted => "was INTERRUPTED",
            RunStatus::Running => "is running",
        };
        text.push_str(&format!("Playbook {} on {} {verdict} (run {})\n", report.playbook, report.app, report.run_id));
        let mut table = Table::new(["step", "status", "time", "detail"]);
        for s in &report.steps {
            let status = match s.status {
                StepStatus::Done => "done",
                StepStatus::Failed => "failed",
                StepStatus::Running => "running",
                StepStatus::Pending => "not run",
            };
            let time = s.duration_ms.map(|ms| format!("{:.1}s", ms as f64 / 1000.0)).unwrap_or_default();
            let detail = s.error.clone().or(s.detail.clone()).unwrap_or_default();
            table.row([s.step.to_string(), status.to_string(), time, detail]);
        }
        text.push_str(&table.render());
        if let Some(b) = &report.state.safety_backup {
            text.push_str(&format!("safety backup: {b}\n"));
        }
        let promotion = &report.state.promotion;
        if let (Some(prev), Some(alias)) = (&promotion.previous_addon, &promotion.previous_alias) {
            text.push_str(&format!(
                "the previous database {prev} is kept as {alias}_URL; destroy it when you no longer need it:\n  herokuops addons destroy {} {prev} --confirm {}\n",
                report.app, report.app
            ));
        }
        if let Some(state) = &report.app_state {
            text.push_str(&format!("state of {}: {state}\n", report.app));
        }
        if let Some(cmd) = &report.resume_command {
            text.push_str(&format!("to continue from the failed step: {cmd}\n"));
        }
        match &report.journal {
            Some(path) => text.push_str(&format!("journal: {}", path.display())),
            None => text.push_str("journal: NOT WRITTEN (see the error above)"),
        }
        text
    });
}

pub async fn playbook(ctx: &Ctx, cmd: PlaybookCommand) -> Result<()> {
    match cmd {
        PlaybookCommand::List { config } => {
            let config = Config::load(config.as_deref())?;
            let all = config.all_playbooks();
            ctx.io.render(
                &json!(all.iter().map(|p| json!({"name": p.name, "description": p.description, "steps": p.steps, "destructive": p.is_destructive()})).collect::<Vec<_>>()),
                || {
                    let mut table = Table::new(["playbook", "steps", "description"]);
                    for p in &all {
                        table.row([p.name.clone(), p.steps.len().to_string(), p.description.clone()]);
                    }
                    table.render()
                },
            );
            Ok(())
        }
        PlaybookCommand::Show { name, config } => {
            let config = Config::load(config.as_deref())?;
            let p = config.playbook(&name)?;
            ctx.io.render(&json!({"name": p.name, "description": p.description, "steps": p.steps, "destructive": p.is_destructive()}), || {
                let mut text = format!("{}: {}\n", p.name, p.description);
                for (i, s) in p.steps.iter().enumerate() {
                    text.push_str(&format!("  {}. {s}{}\n", i + 1, if s.is_destructive() { " [destructive]" } else { "" }));
                }
                text
            });
            Ok(())
        }
        PlaybookCommand::Run {
            name,
            args,
            command,
            flags,
        } => run_named(ctx, &name, &args, None, command, flags).await,
    }
}

pub fn runs(ctx: &Ctx, cmd: RunsCommand) -> Result<()> {
    match cmd {
        RunsCommand::List { journal_dir: dir } => {
            let runs = journal::list(&journal_dir(dir.as_ref()));
            let listed: Vec<serde_json::Value> = runs
                .iter()
                .map(|r| {
                    let mut entry = json!(r);
                    entry["abandoned"] = json!(r.is_abandoned());
                    entry
                })
                .collect();
            ctx.io.render(&json!(listed), || {
                let mut table = Table::new(["run", "playbook", "app", "status", "started"]);
                for r in &runs {
                    table.row([
                        r.id.clone(),
                        r.playbook.clone(),
                        r.app.clone(),
                        r.status_text().to_string(),
                        r.started_at.clone(),
                    ]);
                }
                if table.is_empty() {
                    "no runs yet".to_string()
                } else {
                    table.render()
                }
            });
            Ok(())
        }
        RunsCommand::Show {
            id,
            journal_dir: dir,
        } => {
            let dir = journal_dir(dir.as_ref());
            let j = journal::load(&dir, &id).map_err(|e| Error::usage(e.to_string()))?;
            let mut report = Report::of_journal(&j, Some(dir.join(format!("{id}.json"))));
            if matches!(j.status, RunStatus::Failed | RunStatus::Interrupted) || j.is_abandoned() {
                report.resume_command = Some(format!("herokuops resume {}", j.id));
            }
            render_report(ctx, &report);
            Ok(())
        }
    }
}

/// Continues a failed or interrupted run from its failed step.
pub async fn resume(ctx: &Ctx, id: &str, restore_url: Option<&str>, flags: RunFlags) -> Result<()> {
    let dir = journal_dir(flags.journal_dir.as_ref());
    let journal = journal::load(&dir, id).map_err(|e| Error::usage(e.to_string()))?;
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
    options.resupply_restore_url(restore_pending, restore_url, id)?;
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
