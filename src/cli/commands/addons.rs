//! `addons list|create|destroy APP`.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use crate::api::AddonCreate;
use crate::cli::{Ctx, app_and_args};
use crate::error::{Error, Result};
use crate::output::table::Table;
use crate::steps::{self, Wait};

use super::parse_duration;

#[derive(Debug, Subcommand)]
pub enum AddonsCommand {
    /// List the app's add-ons
    List {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Create an add-on, e.g. heroku-postgresql:essential-0
    Create {
        #[arg(value_name = "[APP] PLAN")]
        args: Vec<String>,
        /// Name of the add-on's first attachment (e.g. NEWDB gives NEWDB_URL)
        #[arg(long = "as", value_name = "ATTACHMENT")]
        attachment: Option<String>,
        /// A globally unique name for the add-on
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Provider option KEY=VALUE (repeatable), e.g. --config version=16
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Wait until the add-on is provisioned
        #[arg(long)]
        wait: bool,
        /// How long --wait may take
        #[arg(long, default_value = "20m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Destroy an add-on (destructive: needs --confirm APP or typing the app name)
    Destroy {
        #[arg(value_name = "[APP] ADDON")]
        args: Vec<String>,
    },
}

pub async fn run(ctx: &Ctx, cmd: AddonsCommand) -> Result<()> {
    match cmd {
        AddonsCommand::List { args } => {
            let (app, _) = app_and_args(&ctx.global, &args, 0, "herokuops addons list APP")?;
            let addons = ctx.api()?.addons(&app).await?;
            ctx.io.render(&json!(addons), || {
                let mut table = Table::new(["add-on", "plan", "state", "config vars"]);
                for a in &addons {
                    table.row([
                        a.name.clone(),
                        a.plan.name.clone(),
                        a.state.clone(),
                        a.config_vars.join(", "),
                    ]);
                }
                if table.is_empty() {
                    format!("{app} has no add-ons")
                } else {
                    table.render()
                }
            });
            Ok(())
        }
        AddonsCommand::Create {
            args,
            attachment,
            name,
            config,
            wait,
            timeout,
        } => {
            let usage = "herokuops addons create APP SERVICE:PLAN [--as NAME] [--config KEY=VALUE]";
            let (app, rest) = app_and_args(&ctx.global, &args, 1, usage)?;
            let plan = rest
                .first()
                .ok_or_else(|| Error::usage(format!("no plan given: {usage}")))?;
            if !plan.contains(':') {
                return Err(Error::usage(format!(
                    "{plan:?} is not SERVICE:PLAN (e.g. heroku-postgresql:essential-0)"
                )));
            }
            let mut options = BTreeMap::new();
            for pair in &config {
                let (k, v) = pair.split_once('=').ok_or_else(|| {
                    Error::usage(format!("--config {pair:?}: expected KEY=VALUE"))
                })?;
                options.insert(k.to_string(), v.to_string());
            }
            let spec = AddonCreate {
                plan: plan.clone(),
                attachment_name: attachment,
                config: options,
                name,
                confirm: ctx.global.confirm.clone(),
            };
            if ctx.global.dry_run {
                ctx.io
                    .render(&json!({ "dry_run": true, "create": spec.plan }), || {
                        format!(
                            "would create {} on {app}: POST /apps/{app}/addons",
                            spec.plan
                        )
                    });
                return Ok(());
            }
            let mut observer = ctx.spinner(&format!("Creating {} on {app}", spec.plan));
            let wait = wait.then(|| Wait::new(Duration::from_secs(5), timeout));
            let addon = steps::addons::create(ctx.api()?, &app, &spec, wait, &mut observer).await?;
            observer.finish("done");
            ctx.io.render(&json!(addon), || {
                let vars = if addon.config_vars.is_empty() { String::new() } else { format!(" as {}", addon.config_vars.join(", ")) };
                if addon.state == "provisioning" {
                    format!("{} is being created in the background{vars}; wait for it with `herokuops pg wait {app}`", addon.name)
                } else {
                    format!("Created {}{vars}", addon.name)
                }
            });
            Ok(())
        }
        AddonsCommand::Destroy { args } => {
            let usage = "herokuops addons destroy APP ADDON --confirm APP";
            let (app, rest) = app_and_args(&ctx.global, &args, 1, usage)?;
            let addon = rest
                .first()
                .ok_or_else(|| Error::usage(format!("no add-on given: {usage}")))?;
            if ctx.global.dry_run {
                ctx.io
                    .render(&json!({ "dry_run": true, "destroy": addon }), || {
                        format!("would destroy {addon} on {app}")
                    });
                return Ok(());
            }
            ctx.confirm(&app, &format!("Destroying {addon}"))?;
            let destroyed = steps::addons::destroy(ctx.api()?, &app, addon).await?;
            ctx.io.render(&json!(destroyed), || {
                format!("Destroyed {} ({})", destroyed.name, destroyed.state)
            });
            Ok(())
        }
    }
}
