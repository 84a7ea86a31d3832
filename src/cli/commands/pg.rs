//! `pg info|wait|promote APP [DATABASE]`.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;

use crate::api::models::Attachment;
use crate::api::{ApiClient, AttachmentCreate, Request};
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::{Error, Result};
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::pg::redact_url;
use crate::steps::promote::{PromoteOptions, PromoteOutcome};
use crate::steps::{self, StepError, Wait};

use super::parse_duration;

#[derive(Debug, Subcommand)]
pub enum PgCommand {
    /// Describe the app's Postgres databases (or one of them)
    #[command(
        after_help = "Examples:\n  herokuops pg info tmi-server\n  herokuops pg info tmi-server HEROKU_POSTGRESQL_AMBER --json"
    )]
    Info {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
    },
    /// Wait until the app's databases (or one of them) are available
    #[command(
        after_help = "Examples:\n  herokuops pg wait tmi-server\n  herokuops pg wait tmi-server HEROKU_POSTGRESQL_AMBER --timeout 30m"
    )]
    Wait {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
        /// The longest pause between looks
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        interval: Duration,
        /// Give up after this long
        #[arg(long, default_value = "20m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Make DATABASE the app's DATABASE_URL (destructive: needs --confirm APP)
    #[command(
        after_help = "Examples:\n  herokuops pg promote tmi-server HEROKU_POSTGRESQL_AMBER \\\n      --confirm tmi-server"
    )]
    Promote {
        #[arg(value_name = "[APP] DATABASE")]
        args: Vec<String>,
        /// Promote even if the database does not report itself available
        #[arg(long)]
        force: bool,
    },
    /// Copy all data of SOURCE into TARGET with Heroku's copy, after a backup of TARGET;
    /// then compare their rows (destructive: needs --confirm APP)
    Copy(super::transfer::PgCopyArgs),
}

/// One database as the data API describes it; URLs masked.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseReport {
    pub addon: String,
    /// The config vars that hold its URL.
    pub config_vars: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    pub provisioned: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<InfoRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InfoRow {
    pub name: String,
    pub value: String,
}

/// The app's databases.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct DatabaseInfo {
    #[serde(skip)]
    pub app: String,
    pub databases: Vec<DatabaseReport>,
}

impl Outcome for DatabaseInfo {
    fn human(&self, look: &Look) -> String {
        if self.databases.is_empty() {
            return format!(
                "{} has no Postgres databases",
                look.paint(Tone::Name, &self.app)
            );
        }
        let blocks: Vec<String> = self.databases.iter().map(|db| db_block(db, look)).collect();
        blocks.join("\n\n")
    }

    fn summary(&self) -> String {
        format!("{} databases", self.databases.len())
    }
}

fn db_block(db: &DatabaseReport, look: &Look) -> String {
    let mut text = look.paint(Tone::Strong, &format!("=== {}", db.config_vars.join(", ")));
    text.push_str(&format!(
        "\n{:<22} {}",
        "Add-on:",
        look.paint(Tone::Name, &db.addon)
    ));
    if !db.provisioned {
        text.push_str(&format!(
            "\n{:<22} {}",
            "Status:",
            look.paint(Tone::Warn, "not provisioned yet")
        ));
    }
    for row in &db.info {
        text.push_str(&format!("\n{:<22} {}", format!("{}:", row.name), row.value));
    }
    text
}

/// Databases that became available.
#[derive(Debug, Clone, Serialize)]
pub struct Available {
    pub addon: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct AvailableList(pub Vec<Available>);

impl Outcome for AvailableList {
    fn human(&self, look: &Look) -> String {
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|a| format!("{} is {}", look.paint(Tone::Name, &a.addon), a.message))
            .collect();
        lines.join("\n")
    }

    fn summary(&self) -> String {
        format!("{} databases available", self.0.len())
    }
}

/// A promotion, or the finding that there was nothing to promote.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Promoted {
    #[serde(skip)]
    pub app: String,
    pub outcome: PromoteOutcome,
}

impl Outcome for Promoted {
    fn human(&self, look: &Look) -> String {
        let app = look.paint(Tone::Name, &self.app);
        match &self.outcome {
            PromoteOutcome::Promoted {
                addon,
                previous_alias,
                previous_addon,
            } => {
                let mut text = format!(
                    "promoted {} to DATABASE_URL on {app}",
                    look.paint(Tone::Name, addon)
                );
                if let (Some(alias), Some(prev)) = (previous_alias, previous_addon) {
                    text.push_str(&format!(
                        "\nthe previous database {prev} stays reachable as {alias}_URL"
                    ));
                }
                text
            }
            PromoteOutcome::AlreadyPromoted { addon } => {
                format!("{addon} already is DATABASE_URL on {app}; nothing changed")
            }
        }
    }

    fn summary(&self) -> String {
        match &self.outcome {
            PromoteOutcome::Promoted { addon, .. } => format!("promoted {addon}"),
            PromoteOutcome::AlreadyPromoted { addon } => format!("{addon} already DATABASE_URL"),
        }
    }
}

pub async fn run(ctx: &Ctx, cmd: PgCommand) -> Result<Done> {
    match cmd {
        PgCommand::Info { args } => info(ctx, &args).await,
        PgCommand::Wait {
            args,
            interval,
            timeout,
        } => wait(ctx, &args, Wait::new(interval, timeout)).await,
        PgCommand::Promote { args, force } => promote(ctx, &args, force).await,
        PgCommand::Copy(args) => super::transfer::pg_copy(ctx, args).await,
    }
}

/// The database named, or all of the app's.
async fn databases(api: &ApiClient, app: &str, name: Option<&String>) -> Result<Vec<Attachment>> {
    Ok(match name {
        Some(name) => vec![steps::database::resolve(api, app, Some(name)).await?],
        None => steps::database::all_databases(api, app).await?,
    })
}

async fn wait(ctx: &Ctx, args: &[String], wait: Wait) -> Result<Done> {
    let (app, rest) = app_and_args(&ctx.global, args, 1, "herokuops pg wait APP [DATABASE]")?;
    let api = ctx.api()?;
    // --timeout bounds the whole command: finding the databases and every wait.
    let budget = wait.budget();
    let found = budget
        .bound("the app's databases", async {
            Ok(match rest.first() {
                Some(name) => vec![steps::database::resolve(api, &app, Some(name)).await?],
                None => steps::database::all_databases(api, &app).await?,
            })
        })
        .await?;
    let mut available = Vec::new();
    for db in found {
        let mut observer = ctx.spinner(&format!("waiting for {}", db.addon.name));
        let remaining = budget.remaining();
        let message =
            steps::database::wait_available(api, &db.addon.id, remaining, &mut observer).await?;
        observer.finish(&format!("{} is {message}", db.addon.name));
        available.push(Available {
            addon: db.addon.name.clone(),
            message,
        });
    }
    Done::ok(AvailableList(available))
}

async fn promote(ctx: &Ctx, args: &[String], force: bool) -> Result<Done> {
    let usage = "herokuops pg promote APP DATABASE --confirm APP";
    let (app, rest) = app_and_args(&ctx.global, args, 1, usage)?;
    let target = rest
        .first()
        .ok_or_else(|| Error::usage(format!("no database given: {usage}")))?;
    if ctx.global.dry_run {
        let attach = Request::create_attachment(&AttachmentCreate {
            addon: target.clone(),
            app: app.clone(),
            name: Some("DATABASE".into()),
            namespace: None,
            confirm: Some(app.clone()),
        });
        return Done::ok(DryRun::new(
            format!(
                "promote {target} to DATABASE_URL on {app}, keeping an alias for the current database"
            ),
            vec![attach.describe()],
        ));
    }
    ctx.confirm(&app, &format!("Promoting {target} to DATABASE_URL"))?;
    let mut observer = ctx.spinner(&format!("promoting {target} on {app}"));
    let options = PromoteOptions {
        force,
        release_wait: None,
    };
    let outcome =
        steps::promote::promote(ctx.api()?, &app, target, &options, &mut observer).await?;
    observer.finish("promoted");
    Done::ok(Promoted { app, outcome })
}

async fn info(ctx: &Ctx, args: &[String]) -> Result<Done> {
    let (app, rest) = app_and_args(&ctx.global, args, 1, "herokuops pg info APP [DATABASE]")?;
    let api = ctx.api()?;
    let vars = api.config_vars(&app).await?;
    let mut reports = Vec::new();
    for db in databases(api, &app, rest.first()).await? {
        reports.push(describe(api, &db, &vars).await?);
    }
    Done::ok(DatabaseInfo {
        app,
        databases: reports,
    })
}

/// One database: what the data API says of it, and which config vars hold its URL.
async fn describe(
    api: &ApiClient,
    db: &Attachment,
    vars: &BTreeMap<String, String>,
) -> Result<DatabaseReport> {
    let names = db
        .config_vars
        .clone()
        .unwrap_or_else(|| vec![db.config_var()]);
    let mut report = DatabaseReport {
        addon: db.addon.name.clone(),
        config_vars: names,
        plan: db.plan_name().map(str::to_string),
        provisioned: false,
        info: Vec::new(),
    };
    let info = match steps::database::info(api, &db.addon.id, &db.addon.name).await {
        Ok(info) => info,
        Err(StepError::NotProvisioned { .. }) => return Ok(report),
        Err(e) => return Err(e.into()),
    };
    report.provisioned = true;
    // The config vars holding this database's URL, found by value.
    if let Some(url) = &info.resource_url {
        let holders: Vec<String> = vars
            .iter()
            .filter(|(_, v)| *v == url)
            .map(|(k, _)| k.clone())
            .collect();
        if !holders.is_empty() {
            report.config_vars = holders;
        }
    }
    report.info = info
        .info
        .iter()
        .map(|e| {
            let value = info.info_value(&e.name).unwrap_or_default();
            let value = if value.contains("://") {
                redact_url(&value)
            } else {
                value
            };
            InfoRow {
                name: e.name.clone(),
                value,
            }
        })
        .collect();
    Ok(report)
}
