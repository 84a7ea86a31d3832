//! Data moved as a whole: `db pull` (the app's database into a local one), `db push` (a local
//! one into the app's, as the `push` playbook), `swap-db --copy` (the old database copied into
//! the new one inside the maintenance window) and `pg copy` (Heroku's copy, as one step).

use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use crate::api::{CopySpec, Request};
use crate::cli::{Ctx, Done, app_and_args};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::progress::human_bytes;
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::pg::{Target, redact_url};
use crate::playbooks::{Playbook, StepKind};
use crate::steps::local_tools::{self, Connection};
use crate::steps::pushpull::{self, LocalState};
use crate::steps::{backup, copy};

use super::playbook::{self, PlaybookFlags, RunFlags};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops db pull tmi-server postgres://localhost/tmi_dev\n  herokuops db pull tmi-server postgres://me@localhost/tmi_dev --force\n  herokuops db pull tmi-server postgres://localhost/tmi_amber \\\n      --database HEROKU_POSTGRESQL_AMBER"
)]
pub struct PullArgs {
    #[arg(value_name = "[APP] LOCAL_URL")]
    pub args: Vec<String>,
    /// Pull another of the app's databases than DATABASE_URL
    #[arg(long, value_name = "ATTACHMENT")]
    pub database: Option<String>,
    /// Replace what the local database holds (by default a non-empty one is refused)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops db push tmi-server postgres://localhost/tmi_dev --confirm tmi-server\n  herokuops db push tmi-server postgres://localhost/tmi_dev --dry-run\n  herokuops db push tmi-server postgres://localhost/tmi_dev \\\n      --expect schema/tmi.toml --confirm tmi-server"
)]
pub struct PushArgs {
    #[arg(value_name = "[APP] LOCAL_URL")]
    pub args: Vec<String>,
    /// Push into another of the app's databases than DATABASE_URL
    #[arg(long, value_name = "ATTACHMENT")]
    pub database: Option<String>,
    #[command(flatten)]
    pub flags: PlaybookFlags,
}

/// What a pull did.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    pub app: String,
    pub database: String,
    /// The local database, its password masked.
    pub local: String,
    pub local_was: LocalState,
    pub bytes: u64,
    /// Tables of the local database afterwards.
    pub tables: usize,
    pub duration_ms: u64,
}

impl Outcome for Pulled {
    fn human(&self, look: &Look) -> String {
        let was = match self.local_was {
            LocalState::Created => "created",
            LocalState::Empty => "empty before",
            LocalState::Replaced => "replaced",
        };
        format!(
            "pulled {} of {} into {} ({was}): {} tables, {} through the pipe in {:.1}s",
            look.paint(Tone::Name, &self.database),
            look.paint(Tone::Name, &self.app),
            look.paint(Tone::Name, &self.local),
            self.tables,
            human_bytes(self.bytes),
            self.duration_ms as f64 / 1000.0
        )
    }

    fn summary(&self) -> String {
        format!("pulled {} tables", self.tables)
    }
}

/// The app and the local URL of `pull` and `push`.
fn app_and_local(ctx: &Ctx, args: &[String], usage: &str) -> Result<(String, String)> {
    let (app, rest) = app_and_args(&ctx.global, args, 1, usage)?;
    let local = rest
        .first()
        .map(|url| super::which_db::with_local_user(url))
        .ok_or_else(|| Error::usage(format!("no local database URL: {usage}")))?;
    // A bad URL is bad input, said before anything is looked up.
    Target::parse(&local)?;
    Ok((app, local))
}

pub async fn pull(ctx: &Ctx, args: PullArgs) -> Result<Done> {
    let usage = "herokuops db pull APP LOCAL_URL [--database ATTACHMENT] [--force]";
    let (app, local) = app_and_local(ctx, &args.args, usage)?;
    ctx.io.mask(&local);
    let database = args.database.clone().unwrap_or("DATABASE_URL".into());
    if ctx.global.dry_run {
        return Done::ok(DryRun::new(
            format!(
                "pull {database} of {app} into {}: pg_dump | pg_restore, no file between",
                redact_url(&local)
            ),
            vec![Request::config_vars(&app).describe()],
        ));
    }
    let started = Instant::now();
    let source = super::which_db::resolve(
        ctx,
        Some(&app),
        &super::which_db::WhichDb {
            database: args.database.clone(),
            database_url: None,
        },
    )
    .await?;
    let major = local_tools::server_major(&Target::parse(&source.url)?.connect().await?).await?;
    let (dump, restore) = local_tools::dump_and_restore(major).await?;
    let (local_db, was) = pushpull::prepare_local(&local, args.force).await?;
    let mut bar = ctx.bytes_bar(&format!("pulling {database} of {app}"));
    let dump = pushpull::dump_of(dump, Connection::from_url(&source.url, None)?);
    let restore = pushpull::restore_into(
        restore,
        Connection::from_url(&local, None)?,
        was == LocalState::Replaced,
    );
    let bytes = pushpull::pipe(&dump, &restore, &mut bar).await?;
    bar.finish(&format!("pulled {}", human_bytes(bytes)));
    let tables = copy::row_counts(&local_db).await?.len();
    Done::ok(Pulled {
        app,
        database,
        local: redact_url(&local),
        local_was: was,
        bytes,
        tables,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// `db push`: the `push` playbook, built from the flags: drop schema public of the app's
/// database, restore the local one into it, and check the schema when an expected-schema file
/// is configured. The tools and the local database are checked before anything changes.
pub async fn push(ctx: &Ctx, args: PushArgs) -> Result<Done> {
    let usage = "herokuops db push APP LOCAL_URL --confirm APP [--database ATTACHMENT]";
    let (app, local) = app_and_local(ctx, &args.args, usage)?;
    ctx.io.mask(&local);
    if !ctx.global.dry_run {
        ctx.confirmation_possible(&app, "The push playbook (it replaces the app's data)")?;
    }
    let (kept, password) = pushpull::split_password(&local);
    if !ctx.global.dry_run {
        pushpull::push_source(&kept, password.as_ref()).await?;
    }
    let flags = RunFlags::from(args.flags);
    let config = Config::load(flags.common.config.as_deref())?;
    let (mut options, no_backup) = playbook::run_options(&config, &app, &flags);
    options.database = args.database;
    options.push_from = Some(kept);
    options.push_password = password;
    let mut steps = vec![StepKind::PgDropSchema, StepKind::PgPush];
    if options.expect.is_some() {
        steps.push(StepKind::PgVerify);
    }
    let built = Playbook {
        name: "push".into(),
        description: "Replace the app's database with a local one".into(),
        steps,
    };
    playbook::execute(ctx, built, options, &flags.common, no_backup, None).await
}

/// `swap-db`, with `--copy` the old database copied into the new one (`pg.copy`) once the
/// app is in maintenance, before the promotion.
pub async fn swap_db(
    ctx: &Ctx,
    args: &[String],
    plan: Option<String>,
    with_copy: bool,
    flags: PlaybookFlags,
) -> Result<Done> {
    if !with_copy {
        return playbook::run_named(ctx, "swap-db", args, plan, None, flags.into()).await;
    }
    let (app, _) = app_and_args(&ctx.global, args, 0, "herokuops swap-db APP --copy")?;
    let flags = RunFlags::from(flags);
    let (mut built, mut options, no_backup) = playbook::prepare("swap-db", &app, &flags)?;
    let on = built
        .steps
        .iter()
        .position(|s| *s == StepKind::MaintenanceOn)
        .map_or(built.steps.len(), |at| at + 1);
    built.steps.insert(on, StepKind::PgCopy);
    options.plan = plan.or(options.plan);
    // A copy of a real database takes longer than the provisioning the default allows for.
    if flags.common.timeout.is_none() {
        options.timeout = options.timeout.max(Duration::from_secs(2 * 60 * 60));
    }
    playbook::execute(ctx, built, options, &flags.common, no_backup, None).await
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops pg copy tmi-server DATABASE_URL HEROKU_POSTGRESQL_AMBER \\\n      --confirm tmi-server"
)]
pub struct PgCopyArgs {
    #[arg(value_name = "[APP] SOURCE TARGET")]
    pub args: Vec<String>,
    /// Skip the backup of TARGET taken before it is overwritten
    #[arg(long)]
    pub no_backup: bool,
    /// Give up following the copy after this long (the copy itself goes on)
    #[arg(long, default_value = "2h", value_parser = super::parse_duration)]
    pub timeout: Duration,
}

/// A copy made by `pg copy`, and what it was checked against.
#[derive(Debug, Clone, Serialize)]
pub struct PgCopied {
    pub app: String,
    pub from: String,
    pub to: String,
    pub copy: String,
    pub tables: usize,
    pub rows: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_backup: Option<String>,
}

impl Outcome for PgCopied {
    fn human(&self, look: &Look) -> String {
        let mut text = format!(
            "copied {} into {} of {} ({}): {} tables, {} rows, the same on both",
            look.paint(Tone::Name, &self.from),
            look.paint(Tone::Name, &self.to),
            look.paint(Tone::Name, &self.app),
            self.copy,
            self.tables,
            self.rows
        );
        if let Some(backup) = &self.safety_backup {
            text.push_str(&format!(
                "\nwhat {} held before is in backup {backup}",
                self.to
            ));
        }
        text
    }

    fn summary(&self) -> String {
        format!("copied {} into {}", self.from, self.to)
    }
}

/// `pg copy APP SOURCE TARGET`: Heroku's copy, as the official CLI's `pg:copy` asks for it,
/// after a backup of TARGET; then the rows of every table compared.
pub async fn pg_copy(ctx: &Ctx, args: PgCopyArgs) -> Result<Done> {
    let usage = "herokuops pg copy APP SOURCE TARGET --confirm APP";
    let (app, rest) = app_and_args(&ctx.global, &args.args, 2, usage)?;
    let [source, target] = rest.as_slice() else {
        return Err(Error::usage(format!("name SOURCE and TARGET: {usage}")));
    };
    if ctx.global.dry_run {
        let spec = CopySpec {
            from_name: crate::api::copy_name(source),
            from_url: format!("{{{source} URL}}"),
            to_name: crate::api::copy_name(target),
            to_url: format!("{{{target} URL}}"),
        };
        let request = Request::copy(&"{target add-on}".into(), &spec).describe();
        return Done::ok(DryRun::new(
            format!("copy {source} of {app} into {target}, replacing all its data"),
            vec![request],
        ));
    }
    let action = format!("Copying {source} into {target} (all data of {target} is replaced)");
    ctx.confirm(&app, &action)?;
    let api = ctx.api()?;
    let mut observer = ctx.spinner(&format!("copying {source} into {target}"));
    let from = copy::side(api, &app, source, &mut observer).await?;
    let to = copy::side(api, &app, target, &mut observer).await?;
    if from.url == to.url {
        return Err(Error::usage(format!(
            "{source} and {target} are one database"
        )));
    }
    let wait = backup::transfer_wait(args.timeout);
    let safety_backup = match args.no_backup {
        true => None,
        false => {
            let name = to.attachment.config_var();
            let taken = backup::capture(api, &app, Some(&name), wait, &mut observer).await?;
            Some(taken.display_name())
        }
    };
    let mut memory = copy::Copying::default();
    let mut nothing_to_save = |_: &copy::Copying| Ok(());
    let (transfer, _) = copy::copy_once(
        api,
        &app,
        (&from, &to),
        &mut memory,
        &mut nothing_to_save,
        wait,
        &mut observer,
    )
    .await?;
    let (tables, rows) = copy::compare_rows(&app, &from, &to).await?;
    observer.finish(&format!("copy {}", transfer.display_name()));
    Done::ok(PgCopied {
        app,
        from: from.name(),
        to: to.name(),
        copy: transfer.display_name(),
        tables,
        rows,
        safety_backup,
    })
}
