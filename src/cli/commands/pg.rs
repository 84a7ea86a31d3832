//! `pg info|wait|promote APP [DATABASE]`.

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use crate::cli::{Ctx, app_and_args};
use crate::error::{Error, Result};
use crate::pg::redact_url;
use crate::steps::promote::{PromoteOptions, PromoteOutcome};
use crate::steps::{self, Wait};

use super::parse_duration;

#[derive(Debug, Subcommand)]
pub enum PgCommand {
    /// Describe the app's Postgres databases (or one of them)
    Info {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
    },
    /// Wait until the app's databases (or one of them) are available
    Wait {
        #[arg(value_name = "[APP] [DATABASE]")]
        args: Vec<String>,
        /// Seconds between polls
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        interval: Duration,
        /// Give up after this long
        #[arg(long, default_value = "20m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Make DATABASE the app's DATABASE_URL (destructive: needs --confirm APP)
    Promote {
        #[arg(value_name = "[APP] DATABASE")]
        args: Vec<String>,
        /// Promote even if the database does not report itself available
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: PgCommand) -> Result<()> {
    match cmd {
        PgCommand::Info { args } => info(ctx, &args).await,
        PgCommand::Wait {
            args,
            interval,
            timeout,
        } => {
            let (app, rest) =
                app_and_args(&ctx.global, &args, 1, "herokuops pg wait APP [DATABASE]")?;
            let api = ctx.api()?;
            // --timeout bounds the whole command: finding the databases and every wait.
            let budget = Wait::new(interval, timeout).budget();
            let databases = budget
                .bound("the app's databases", async {
                    Ok(match rest.first() {
                        Some(name) => vec![steps::database::resolve(api, &app, Some(name)).await?],
                        None => steps::database::all_databases(api, &app).await?,
                    })
                })
                .await?;
            let mut results = Vec::new();
            for db in &databases {
                let mut observer = ctx.spinner(&format!("Waiting for {}", db.addon.name));
                let message = steps::database::wait_available(
                    api,
                    &db.addon.id,
                    budget.remaining(),
                    &mut observer,
                )
                .await?;
                observer.finish(&message);
                results.push(json!({ "addon": db.addon.name, "message": message }));
            }
            ctx.io.render(&json!(results), || {
                results
                    .iter()
                    .map(|r| {
                        format!(
                            "{} is {}",
                            r["addon"].as_str().unwrap_or(""),
                            r["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        PgCommand::Promote { args, force } => {
            let usage = "herokuops pg promote APP DATABASE --confirm APP";
            let (app, rest) = app_and_args(&ctx.global, &args, 1, usage)?;
            let target = rest
                .first()
                .ok_or_else(|| Error::usage(format!("no database given: {usage}")))?;
            if ctx.global.dry_run {
                ctx.io.render(&json!({ "dry_run": true, "promote": target }), || {
                    format!("would promote {target} to DATABASE_URL on {app}, keeping an alias for the current database")
                });
                return Ok(());
            }
            ctx.confirm(&app, &format!("Promoting {target} to DATABASE_URL"))?;
            let mut observer = ctx.spinner(&format!("Promoting {target} on {app}"));
            let outcome = steps::promote::promote(
                ctx.api()?,
                &app,
                target,
                &PromoteOptions {
                    force,
                    release_wait: None,
                },
                &mut observer,
            )
            .await?;
            observer.finish("done");
            ctx.io.render(&json!(outcome), || match &outcome {
                PromoteOutcome::Promoted {
                    addon,
                    previous_alias,
                    previous_addon,
                } => {
                    let mut text = format!("Promoted {addon} to DATABASE_URL on {app}");
                    if let (Some(alias), Some(prev)) = (previous_alias, previous_addon) {
                        text.push_str(&format!(
                            "\nThe previous database {prev} stays reachable as {alias}_URL"
                        ));
                    }
                    text
                }
                PromoteOutcome::AlreadyPromoted { addon } => {
                    format!("{addon} already is DATABASE_URL on {app}; nothing changed")
                }
            });
            Ok(())
        }
    }
}

async fn info(ctx: &Ctx, args: &[String]) -> Result<()> {
    let (app, rest) = app_and_args(&ctx.global, args, 1, "herokuops pg info APP [DATABASE]")?;
    let api = ctx.api()?;
    let vars = api.config_vars(&app).await?;
    let databases = match rest.first() {
        Some(name) => vec![steps::database::resolve(api, &app, Some(name)).await?],
        None => steps::database::all_databases(api, &app).await?,
    };
    let mut reports = Vec::new();
    for db in &databases {
        let names = db
            .config_vars
            .clone()
            .unwrap_or_else(|| vec![db.config_var()]);
        match api.database_info(&db.addon.id).await {
            Ok(info) => {
                // Names of config vars holding this database's URL, compared by value.
                let mut holders: Vec<String> = info
                    .resource_url
                    .as_ref()
                    .map(|url| {
                        vars.iter()
                            .filter(|(_, v)| *v == url)
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if holders.is_empty() {
                    holders = names.clone();
                }
                let rows: Vec<(String, String)> = info
                    .info
                    .iter()
                    .map(|e| {
                        let value = info.info_value(&e.name).unwrap_or_default();
                        let value = if value.contains("://") {
                            redact_url(&value)
                        } else {
                            value
                        };
                        (e.name.clone(), value)
                    })
                    .collect();
                reports.push(json!({
                    "addon": db.addon.name,
                    "config_vars": holders,
                    "plan": db.plan_name(),
                    "info": rows.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
                }));
            }
            Err(e) if e.is_not_found() => {
                ctx.io
                    .warn(&format!("{} is not provisioned yet", db.addon.name));
                reports.push(
                    json!({ "addon": db.addon.name, "config_vars": names, "provisioned": false }),
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    ctx.io.render(&json!(reports), || {
        let mut text = String::new();
        for r in &reports {
            let vars: Vec<&str> = r["config_vars"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            text.push_str(&format!("=== {}\n", vars.join(", ")));
            text.push_str(&format!(
                "{:<22} {}\n",
                "Add-on:",
                r["addon"].as_str().unwrap_or("")
            ));
            if let Some(rows) = r["info"].as_array() {
                for row in rows {
                    text.push_str(&format!(
                        "{:<22} {}\n",
                        format!("{}:", row["name"].as_str().unwrap_or("")),
                        row["value"].as_str().unwrap_or("")
                    ));
                }
            }
            text.push('\n');
        }
        if reports.is_empty() {
            format!("{app} has no Postgres databases")
        } else {
            text.trim_end().to_string()
        }
    });
    Ok(())
}
