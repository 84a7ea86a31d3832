//! `backup capture|list|url|download|restore|schedule|unschedule APP`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use crate::api::models::Transfer;
use crate::cli::{Ctx, app_and_args};
use crate::error::{Error, Result};
use crate::output::progress::human_bytes;
use crate::output::table::Table;
use crate::steps::{self, backup};

use super::parse_duration;
use super::playbook::RunFlags;

#[derive(Debug, Clone, Subcommand)]
pub enum BackupCommand {
    /// Capture a backup and follow it to completion
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
    List {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Print a signed, expiring URL of a backup (the newest by default)
    Url {
        #[arg(value_name = "[APP] [BACKUP]")]
        args: Vec<String>,
    },
    /// Download a backup (the newest by default); resumes a partial download
    Download {
        #[arg(value_name = "[APP] [BACKUP]")]
        args: Vec<String>,
        /// Where to write it
        #[arg(short, long, value_name = "FILE", default_value = "latest.dump")]
        output: PathBuf,
        /// Overwrite FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Restore a database from a backup or URL (destructive: needs --confirm APP). Into the
    /// app's DATABASE_URL this is the `restore` playbook: safety backup, restore, restart, verify
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
        flags: RunFlags,
    },
    /// Schedule a daily backup at an hour, e.g. --at '02:00 UTC'
    Schedule {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
        #[arg(long, value_name = "'HH:00 [TZ]'")]
        at: String,
    },
    /// Remove a database's backup schedule
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

pub async fn run(ctx: &Ctx, cmd: BackupCommand) -> Result<()> {
    match cmd {
        BackupCommand::Capture {
            args,
            download,
            timeout,
        } => {
            let (app, rest) = app_and_args(
                &ctx.global,
                &args,
                1,
                "herokuops backup capture APP [DATABASE]",
            )?;
            if let Some(path) = download.as_ref().filter(|p| crate::files::would_replace(p)) {
                return Err(Error::usage(format!(
                    "{} already exists; choose another --download FILE",
                    path.display()
                )));
            }
            if ctx.global.dry_run {
                ctx.io.render(&json!({ "dry_run": true, "capture": rest.first().map(String::as_str).unwrap_or("DATABASE_URL") }), || {
                    format!("would capture a backup of {app}'s database")
                });
                return Ok(());
            }
            let api = ctx.api()?;
            let mut observer = ctx.bytes_bar(&format!("Backing up {app}"));
            let transfer = backup::capture(
                api,
                &app,
                rest.first().map(String::as_str),
                backup::transfer_wait(timeout),
                &mut observer,
            )
            .await?;
            observer.finish("done");
            let mut result = json!({ "backup": transfer.display_name(), "transfer": transfer });
            if let Some(path) = download {
                let mut bar = ctx.bytes_bar(&format!("Downloading {}", transfer.display_name()));
                let done =
                    backup::download(api, &app, Some(&transfer.display_name()), &path, &mut bar)
                        .await?;
                bar.finish("done");
                result["download"] = json!(done);
            }
            ctx.io.render(&result, || {
                let mut text = format!(
                    "Backup {} of {app} completed ({})",
                    transfer.display_name(),
                    human_bytes(transfer.processed_bytes)
                );
                if let Some(path) = result.get("download").and_then(|d| d["path"].as_str()) {
                    text.push_str(&format!("\nDownloaded to {path}"));
                }
                text
            });
            crate::cli::actions::backup_captured(
                &ctx.io,
                &app,
                &transfer.display_name(),
                &human_bytes(transfer.processed_bytes),
            );
            Ok(())
        }
        BackupCommand::List { args } => {
            let (app, _) = app_and_args(&ctx.global, &args, 0, "herokuops backup list APP")?;
            let transfers = backup::list(ctx.api()?, &app).await?;
            ctx.io
                .render(&json!(transfers), || render_list(&app, &transfers));
            Ok(())
        }
        BackupCommand::Url { args } => {
            let (app, rest) =
                app_and_args(&ctx.global, &args, 1, "herokuops backup url APP [BACKUP]")?;
            ctx.io.stdout_is_data();
            let api = ctx.api()?;
            let num = backup::backup_number(api, &app, rest.first().map(String::as_str)).await?;
            let public = api.public_url(&app, num).await?;
            // Anyone with the signed URL can download the backup until it expires.
            ctx.io.mask(&public.url);
            ctx.io.render(
                &json!({ "num": num, "url": public.url, "expires_at": public.expires_at }),
                || public.url.clone(),
            );
            Ok(())
        }
        BackupCommand::Download {
            args,
            output,
            force,
        } => {
            let (app, rest) = app_and_args(
                &ctx.global,
                &args,
                1,
                "herokuops backup download APP [BACKUP] [-o FILE]",
            )?;
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
            let mut bar = ctx.bytes_bar(&format!(
                "Downloading {}",
                rest.first()
                    .map(String::as_str)
                    .unwrap_or("the latest backup")
            ));
            let done = backup::download(
                ctx.api()?,
                &app,
                rest.first().map(String::as_str),
                &output,
                &mut bar,
            )
            .await?;
            bar.finish("done");
            ctx.io.render(&json!(done), || {
                let resumed = if done.resumed_from > 0 {
                    format!(", resumed at {}", human_bytes(done.resumed_from))
                } else {
                    String::new()
                };
                format!(
                    "Downloaded {} to {}{resumed}",
                    human_bytes(done.bytes),
                    done.path.display()
                )
            });
            Ok(())
        }
        BackupCommand::Restore {
            args,
            database,
            extensions,
            flags,
        } => {
            let (app, rest) = app_and_args(
                &ctx.global,
                &args,
                1,
                "herokuops backup restore APP [BACKUP|URL] --confirm APP",
            )?;
            let source = rest.first().map(String::as_str);
            if restores_app_database(&database) {
                return super::playbook::run_restore(ctx, &app, source, extensions, flags).await;
            }
            let no_backup = flags.no_backup;
            let timeout = flags.timeout.unwrap_or(Duration::from_secs(2 * 60 * 60));
            // A signed URL is a secret: masked, and shown without its query.
            if let Some(url) = source {
                ctx.io.mask(url);
            }
            let shown = source
                .map(crate::playbooks::executor::without_query)
                .unwrap_or_else(|| "the latest backup".into());
            if ctx.global.dry_run {
                ctx.io.render(&json!({ "dry_run": true, "restore_into": database, "from": shown, "safety_backup": !no_backup }), || {
                    format!("would restore {database} of {app} from {shown}{}", if no_backup { "" } else { " after a safety backup" })
                });
                return Ok(());
            }
            ctx.confirm(
                &app,
                &format!("Restoring {database} (overwriting its data)"),
            )?;
            let api = ctx.api()?;
            let db = steps::database::resolve(api, &app, Some(&database)).await?;
            backup::check_restore_source(api, &app, source).await?;
            let url = backup::backup_url(api, &app, source).await?;
            let mut safety = None;
            if !no_backup {
                let mut observer = ctx.bytes_bar(&format!("Safety backup of {}", db.name));
                let t = backup::capture(
                    api,
                    &app,
                    Some(&database),
                    backup::transfer_wait(timeout),
                    &mut observer,
                )
                .await?;
                observer.finish("done");
                safety = Some(t.display_name());
            }
            let mut observer = ctx.bytes_bar(&format!("Restoring {}", db.name));
            let transfer = backup::restore(
                api,
                &db,
                &url,
                &extensions,
                backup::transfer_wait(timeout),
                &mut observer,
            )
            .await?;
            observer.finish("done");
            ctx.io.render(&json!({ "restore": transfer.display_name(), "database": db.addon.name, "safety_backup": safety }), || {
                let mut text = format!("Restored {} of {app} ({})", db.name, transfer.display_name());
                if let Some(s) = &safety {
                    text.push_str(&format!("\nThe data it held before is in backup {s}"));
                }
                text
            });
            Ok(())
        }
        BackupCommand::Schedule { args, at } => {
            let (app, rest) = app_and_args(
                &ctx.global,
                &args,
                1,
                "herokuops backup schedule APP [DATABASE] --at 'HH:00 TZ'",
            )?;
            let (hour, tz) = backup::parse_schedule_time(&at).map_err(Error::Usage)?;
            if ctx.global.dry_run {
                ctx.io.render(
                    &json!({ "dry_run": true, "hour": hour, "timezone": tz }),
                    || format!("would schedule daily backups of {app} at {hour:02}:00 {tz}"),
                );
                return Ok(());
            }
            let name = backup::schedule(
                ctx.api()?,
                &app,
                rest.first().map(String::as_str),
                hour,
                &tz,
            )
            .await?;
            ctx.io.render(
                &json!({ "schedule": name, "hour": hour, "timezone": tz }),
                || format!("Scheduled daily backups of {name} at {hour:02}:00 {tz}"),
            );
            Ok(())
        }
        BackupCommand::Unschedule { args } => {
            let (app, rest) = app_and_args(
                &ctx.global,
                &args,
                1,
                "herokuops backup unschedule APP [DATABASE]",
            )?;
            if ctx.global.dry_run {
                ctx.io.render(&json!({ "dry_run": true }), || {
                    format!("would remove the backup schedule of {app}")
                });
                return Ok(());
            }
            let removed =
                backup::unschedule(ctx.api()?, &app, rest.first().map(String::as_str)).await?;
            ctx.io.render(&json!({ "removed": removed }), || {
                if removed {
                    "Removed the backup schedule".to_string()
                } else {
                    "No backup schedule to remove".to_string()
                }
            });
            Ok(())
        }
    }
}

fn render_list(app: &str, transfers: &[Transfer]) -> String {
    let mut table = Table::new(["id", "kind", "created", "status", "size", "database"]);
    for t in transfers {
        let kind = if t.is_backup() {
            "backup"
        } else if t.is_restore() {
            "restore"
        } else {
            "copy"
        };
        table.row([
            t.display_name(),
            kind.to_string(),
            t.created_at.clone().unwrap_or_default(),
            t.status_text(),
            human_bytes(t.processed_bytes),
            t.from_name
                .clone()
                .or(t.to_name.clone())
                .unwrap_or_default(),
        ]);
    }
    if table.is_empty() {
        format!("{app} has no backups")
    } else {
        table.render()
    }
}
