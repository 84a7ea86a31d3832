//! `backup capture|list|url|download|restore|schedule|unschedule APP`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;

use crate::api::models::Transfer;
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::{Error, Result};
use crate::output::gha::md_cell;
use crate::output::progress::human_bytes;
use crate::output::table::{Cell, Table};
use crate::output::{DryRun, Io, Look, Outcome, Tone};
use crate::steps::backup::{self, Download};
use crate::steps::{self, Wait};

use super::parse_duration;
use super::playbook::PlaybookFlags;

#[derive(Debug, Clone, Subcommand)]
pub enum BackupCommand {
    /// Capture a backup and follow it to completion
    #[command(
        after_help = "Examples:\n  herokuops backup capture tmi-server\n  herokuops backup capture tmi-server --download /tmp/tmi.dump\n  herokuops backup capture --apps-from production-apps.txt -j 8"
    )]
    Capture {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
        /// Also download the finished backup to FILE
        #[arg(long, value_name = "FILE")]
        download: Option<PathBuf>,
        /// Give up following after this long (the backup itself goes on)
        #[arg(long, default_value = "2h", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// List backups, newest first
    #[command(after_help = "Examples:\n  herokuops backup list tmi-server")]
    List {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Print a signed, expiring URL of a backup (the newest by default)
    #[command(
        after_help = "Examples:\n  herokuops backup url tmi-server\n  curl -o b005.dump \"$(herokuops backup url tmi-server b005)\""
    )]
    Url {
        #[arg(value_name = "[APP] [BACKUP]")]
        args: Vec<String>,
    },
    /// Download a backup (the newest by default); resumes a partial download
    #[command(
        after_help = "Examples:\n  herokuops backup download tmi-server\n  herokuops backup download tmi-server b005 -o /backups/tmi-b005.dump\n  herokuops backup download tmi-server --dir /backups/tmi --keep 7"
    )]
    Download {
        #[arg(value_name = "[APP] [BACKUP]")]
        args: Vec<String>,
        /// Where to write it
        #[arg(short, long, value_name = "FILE", default_value = "latest.dump")]
        output: PathBuf,
        /// Overwrite FILE if it exists
        #[arg(long)]
        force: bool,
        /// Keep an archive in DIR instead: APP-bNNN-YYYYMMDDTHHMMSSZ.dump, a backup already there skipped
        #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "force"])]
        dir: Option<PathBuf>,
        /// With --dir: keep the newest N of the archive's own files, remove the older ones
        #[arg(long, value_name = "N", requires = "dir", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
    },
    /// Restore a database from a backup or URL (destructive: needs --confirm APP). Into the
    /// app's DATABASE_URL this is the `restore` playbook: safety backup, restore, restart, verify
    #[command(
        after_help = "Examples:\n  herokuops backup restore tmi-server b005 --confirm tmi-server\n  herokuops backup restore tmi-server otherapp::b012 --confirm tmi-server \\\n      --expect schema/tmi.toml\n  herokuops backup restore tmi-server --database HEROKU_POSTGRESQL_AMBER \\\n      --confirm tmi-server"
    )]
    Restore {
        #[arg(value_name = "[APP] [BACKUP|URL]")]
        args: Vec<String>,
        /// The database to restore into; another one than DATABASE_URL is restored alone
        /// (the app does not use it, so nothing is restarted or verified)
        #[arg(long, value_name = "DATABASE", default_value = "DATABASE_URL")]
        database: String,
        /// Extensions to pre-install, comma-separated
        #[arg(long, value_name = "LIST")]
        extensions: Vec<String>,
        #[command(flatten)]
        flags: PlaybookFlags,
    },
    /// Schedule a daily backup at an hour, e.g. --at '02:00 UTC'
    #[command(
        after_help = "Examples:\n  herokuops backup schedule tmi-server --at '02:00 UTC'\n  herokuops backup schedule tmi-server HEROKU_POSTGRESQL_AMBER \\\n      --at '03:00 Europe/Berlin'"
    )]
    Schedule {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
        #[arg(long, value_name = "'HH:00 [TZ]'")]
        at: String,
    },
    /// Remove a database's backup schedule
    #[command(after_help = "Examples:\n  herokuops backup unschedule tmi-server")]
    Unschedule {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
    },
}

impl BackupCommand {
    /// A restore into the app's own database is the `restore` playbook.
    pub fn runs_a_playbook(&self) -> bool {
        matches!(self, BackupCommand::Restore { database, .. } if restores_app_database(database))
    }
}

fn restores_app_database(database: &str) -> bool {
    matches!(database, "DATABASE_URL" | "DATABASE")
}

/// A finished backup, and where it was downloaded to.
#[derive(Debug, Clone, Serialize)]
pub struct Captured {
    #[serde(skip)]
    pub app: String,
    pub backup: String,
    pub transfer: Transfer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<Download>,
}

impl Outcome for Captured {
    fn human(&self, look: &Look) -> String {
        let mut text = format!(
            "backup {} of {} completed ({})",
            look.paint(Tone::Good, &self.backup),
            look.paint(Tone::Name, &self.app),
            human_bytes(self.transfer.processed_bytes)
        );
        if let Some(download) = &self.download {
            text.push_str(&format!("\ndownloaded to {}", download.path.display()));
        }
        text
    }

    fn summary(&self) -> String {
        format!(
            "backup {} ({})",
            self.backup,
            human_bytes(self.transfer.processed_bytes)
        )
    }

    fn github(&self, io: &Io) {
        if io.gha.is_none() {
            return;
        }
        io.gha_summary(&format!(
            "### herokuops backup capture `{}`\n\n✅ Backup `{}` completed ({}).\n\n",
            md_cell(&self.app),
            md_cell(&self.backup),
            md_cell(&human_bytes(self.transfer.processed_bytes))
        ));
        io.gha_outputs(&[
            ("status", "succeeded".to_string()),
            ("backup_id", self.backup.clone()),
        ]);
    }
}

/// Backups, restores and copies, newest first.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct BackupList {
    #[serde(skip)]
    pub app: String,
    pub transfers: Vec<Transfer>,
}

impl Outcome for BackupList {
    fn human(&self, look: &Look) -> String {
        if self.transfers.is_empty() {
            return format!("{} has no backups", look.paint(Tone::Name, &self.app));
        }
        let mut table = Table::new(["id", "kind", "created", "status", "size", "database"]);
        for t in &self.transfers {
            let status = t.status_text();
            let tone = match (t.finished_at.is_some(), t.succeeded) {
                (true, true) => Tone::Good,
                (true, false) => Tone::Bad,
                _ => Tone::Warn,
            };
            table.row([
                Cell::new(Tone::Strong, t.display_name()),
                Cell::from(transfer_kind(t)),
                Cell::new(Tone::Dim, t.created_at.clone().unwrap_or_default()),
                Cell::new(tone, status),
                Cell::from(human_bytes(t.processed_bytes)),
                Cell::from(
                    t.from_name
                        .clone()
                        .or(t.to_name.clone())
                        .unwrap_or_default(),
                ),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} transfers", self.transfers.len())
    }
}

fn transfer_kind(t: &Transfer) -> &'static str {
    if t.is_backup() {
        "backup"
    } else if t.is_restore() {
        "restore"
    } else {
        "copy"
    }
}

/// A signed, expiring URL of a backup; stdout is the URL itself.
#[derive(Debug, Clone, Serialize)]
pub struct BackupUrl {
    pub num: u64,
    pub url: String,
    pub expires_at: Option<String>,
}

impl Outcome for BackupUrl {
    fn human(&self, _look: &Look) -> String {
        self.url.clone()
    }

    fn summary(&self) -> String {
        format!("b{:03} URL", self.num)
    }
}

/// A downloaded backup.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Downloaded(pub Download);

impl Outcome for Downloaded {
    fn human(&self, _look: &Look) -> String {
        let done = &self.0;
        let resumed = if done.resumed_from > 0 {
            format!(", resumed at {}", human_bytes(done.resumed_from))
        } else {
            String::new()
        };
        format!(
            "downloaded {} to {}{resumed}",
            human_bytes(done.bytes),
            done.path.display()
        )
    }

    fn summary(&self) -> String {
        format!("downloaded {}", human_bytes(self.0.bytes))
    }
}

/// A restore into a database the app does not use.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    #[serde(skip)]
    pub app: String,
    pub restore: String,
    pub database: String,
    pub safety_backup: Option<String>,
}

impl Outcome for Restored {
    fn human(&self, look: &Look) -> String {
        let mut text = format!(
            "restored {} of {} ({})",
            look.paint(Tone::Name, &self.database),
            look.paint(Tone::Name, &self.app),
            self.restore
        );
        if let Some(s) = &self.safety_backup {
            text.push_str(&format!("\nthe data it held before is in backup {s}"));
        }
        text
    }

    fn summary(&self) -> String {
        format!("restored {}", self.database)
    }
}

/// A backup schedule set, or removed.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hour: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
}

impl Outcome for Schedule {
    fn human(&self, _look: &Look) -> String {
        match (&self.schedule, self.hour, &self.timezone, self.removed) {
            (Some(name), Some(hour), Some(tz), _) => {
                format!("scheduled daily backups of {name} at {hour:02}:00 {tz}")
            }
            (_, _, _, Some(true)) => "removed the backup schedule".into(),
            _ => "no backup schedule to remove".into(),
        }
    }

    fn summary(&self) -> String {
        self.human(&Look::PLAIN)
    }
}

pub async fn run(ctx: &Ctx, cmd: BackupCommand) -> Result<Done> {
    match cmd {
        BackupCommand::Capture {
            args,
            download,
            timeout,
        } => capture(ctx, &args, download, timeout).await,
        BackupCommand::List { args } => {
            let (app, _) = app_and_args(&ctx.global, &args, 0, "herokuops backup list APP")?;
            let transfers = backup::list(ctx.api()?, &app).await?;
            Done::ok(BackupList { app, transfers })
        }
        BackupCommand::Url { args } => url(ctx, &args).await,
        BackupCommand::Download {
            args,
            output,
            force,
            dir,
            keep,
        } => match dir {
            Some(dir) => super::archive::download(ctx, &args, dir, keep).await,
            None => download(ctx, &args, output, force).await,
        },
        BackupCommand::Restore {
            args,
            database,
            extensions,
            flags,
        } => {
            let usage = "herokuops backup restore APP [BACKUP|URL] --confirm APP";
            let (app, rest) = app_and_args(&ctx.global, &args, 1, usage)?;
            let source = rest.first().map(String::as_str);
            if restores_app_database(&database) {
                return super::playbook::run_restore(ctx, &app, source, extensions, flags).await;
            }
            restore_other(ctx, &app, &database, source, &extensions, &flags).await
        }
        BackupCommand::Schedule { args, at } => schedule(ctx, &args, &at).await,
        BackupCommand::Unschedule { args } => {
            let usage = "herokuops backup unschedule APP [DATABASE]";
            let (app, rest) = app_and_args(&ctx.global, &args, 1, usage)?;
            if ctx.global.dry_run {
                return Done::ok(DryRun::new(
                    format!("remove the backup schedule of {app}"),
                    vec![],
                ));
            }
            let removed =
                backup::unschedule(ctx.api()?, &app, rest.first().map(String::as_str)).await?;
            Done::ok(Schedule {
                schedule: None,
                hour: None,
                timezone: None,
                removed: Some(removed),
            })
        }
    }
}

async fn capture(
    ctx: &Ctx,
    args: &[String],
    download: Option<PathBuf>,
    timeout: Duration,
) -> Result<Done> {
    let usage = "herokuops backup capture APP [DATABASE]";
    let (app, rest) = app_and_args(&ctx.global, args, 1, usage)?;
    if let Some(path) = download.as_ref().filter(|p| crate::files::would_replace(p)) {
        return Err(Error::usage(format!(
            "{} already exists; choose another --download FILE",
            path.display()
        )));
    }
    let database = rest.first().map(String::as_str);
    if ctx.global.dry_run {
        let which = database.unwrap_or("DATABASE_URL");
        return Done::ok(DryRun::new(
            format!("capture a backup of {which} of {app}"),
            vec![],
        ));
    }
    let api = ctx.api()?;
    let mut observer = ctx.bytes_bar(&format!("backing up {app}"));
    let wait = backup::transfer_wait(timeout);
    let transfer = backup::capture(api, &app, database, wait, &mut observer).await?;
    observer.finish(&format!("backup {}", transfer.display_name()));
    let backup = transfer.display_name();
    let download = match download {
        Some(path) => {
            let mut bar = ctx.bytes_bar(&format!("downloading {backup}"));
            let done = backup::download(api, &app, Some(&backup), &path, &mut bar).await?;
            bar.finish(&format!("downloaded {}", human_bytes(done.bytes)));
            Some(done)
        }
        None => None,
    };
    Done::ok(Captured {
        app,
        backup,
        transfer,
        download,
    })
}

async fn url(ctx: &Ctx, args: &[String]) -> Result<Done> {
    let (app, rest) = app_and_args(&ctx.global, args, 1, "herokuops backup url APP [BACKUP]")?;
    ctx.io.stdout_is_data();
    let api = ctx.api()?;
    let num = backup::backup_number(api, &app, rest.first().map(String::as_str)).await?;
    let public = api.public_url(&app, num).await?;
    // Anyone with the signed URL can download the backup until it expires.
    ctx.io.mask(&public.url);
    Done::ok(BackupUrl {
        num,
        url: public.url,
        expires_at: public.expires_at,
    })
}

async fn download(ctx: &Ctx, args: &[String], output: PathBuf, force: bool) -> Result<Done> {
    let usage = "herokuops backup download APP [BACKUP] [-o FILE]";
    let (app, rest) = app_and_args(&ctx.global, args, 1, usage)?;
    if output == std::path::Path::new("-") {
        ctx.io.stdout_is_data();
    }
    // A device or FIFO (`/dev/null`) is written to, not replaced.
    if crate::files::would_replace(&output) && !force {
        return Err(Error::usage(format!(
            "{} already exists; pass --force or -o OTHER_FILE",
            output.display()
        )));
    }
    let name = rest.first().map(String::as_str);
    let mut bar = ctx.bytes_bar(&format!(
        "downloading {}",
        name.unwrap_or("the latest backup")
    ));
    let done = backup::download(ctx.api()?, &app, name, &output, &mut bar).await?;
    bar.finish(&format!("downloaded {}", human_bytes(done.bytes)));
    Done::ok(Downloaded(done))
}

/// A restore into another database than DATABASE_URL: the app does not use it, so there is
/// nothing to restart or verify; a safety backup of it comes first all the same.
async fn restore_other(
    ctx: &Ctx,
    app: &str,
    database: &str,
    source: Option<&str>,
    extensions: &[String],
    flags: &PlaybookFlags,
) -> Result<Done> {
    let timeout = flags.timeout.unwrap_or(Duration::from_secs(2 * 60 * 60));
    // A signed URL is a secret: masked, and shown without its query.
    if let Some(url) = source {
        ctx.io.mask(url);
    }
    let from = source
        .map(crate::playbooks::executor::without_query)
        .unwrap_or_else(|| "the latest backup".into());
    if ctx.global.dry_run {
        let safety = if flags.no_backup {
            ""
        } else {
            " after a safety backup"
        };
        return Done::ok(DryRun::new(
            format!("restore {database} of {app} from {from}{safety}"),
            vec![],
        ));
    }
    ctx.confirm(app, &format!("Restoring {database} (overwriting its data)"))?;
    let api = ctx.api()?;
    let db = steps::database::resolve(api, app, Some(database)).await?;
    backup::check_restore_source(api, app, source).await?;
    let url = backup::backup_url(api, app, source).await?;
    let wait = backup::transfer_wait(timeout);
    let safety_backup = match flags.no_backup {
        true => None,
        false => Some(safety_backup(ctx, app, database, wait).await?),
    };
    let mut observer = ctx.bytes_bar(&format!("restoring {}", db.name));
    let transfer = backup::restore(api, &db, &url, extensions, wait, &mut observer).await?;
    observer.finish(&format!("restored {}", transfer.display_name()));
    Done::ok(Restored {
        app: app.to_string(),
        restore: transfer.display_name(),
        database: db.addon.name,
        safety_backup,
    })
}

async fn safety_backup(ctx: &Ctx, app: &str, database: &str, wait: Wait) -> Result<String> {
    let mut observer = ctx.bytes_bar(&format!("safety backup of {database}"));
    let t = backup::capture(ctx.api()?, app, Some(database), wait, &mut observer).await?;
    observer.finish(&format!("backup {}", t.display_name()));
    Ok(t.display_name())
}

async fn schedule(ctx: &Ctx, args: &[String], at: &str) -> Result<Done> {
    let usage = "herokuops backup schedule APP [DATABASE] --at 'HH:00 TZ'";
    let (app, rest) = app_and_args(&ctx.global, args, 1, usage)?;
    let (hour, tz) = backup::parse_schedule_time(at).map_err(Error::Usage)?;
    if ctx.global.dry_run {
        return Done::ok(DryRun::new(
            format!("schedule daily backups of {app} at {hour:02}:00 {tz}"),
            vec![],
        ));
    }
    let name = backup::schedule(
        ctx.api()?,
        &app,
        rest.first().map(String::as_str),
        hour,
        &tz,
    )
    .await?;
    Done::ok(Schedule {
        schedule: Some(name),
        hour: Some(hour),
        timezone: Some(tz),
        removed: None,
    })
}
