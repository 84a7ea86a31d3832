//! `addons list|create|destroy APP`.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;

use crate::api::models::Addon;
use crate::api::{AddonCreate, Request};
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::{Error, Result};
use crate::output::table::{Cell, Table};
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::steps::{self, Wait};

use super::parse_duration;

#[derive(Debug, Subcommand)]
pub enum AddonsCommand {
    /// List the app's add-ons
    #[command(after_help = "Examples:\n  herokuops addons list tmi-server")]
    List {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Create an add-on, e.g. heroku-postgresql:essential-0
    #[command(
        after_help = "Examples:\n  herokuops addons create tmi-server heroku-postgresql:essential-0 --wait\n  herokuops addons create tmi-server heroku-postgresql:standard-0 \\\n      --as NEWDB --config version=16"
    )]
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
    #[command(
        after_help = "Examples:\n  herokuops addons destroy tmi-server postgresql-curved-12345 \\\n      --confirm tmi-server"
    )]
    Destroy {
        #[arg(value_name = "[APP] ADDON")]
        args: Vec<String>,
    },
}

/// The app's add-ons.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct AddonList {
    #[serde(skip)]
    pub app: String,
    pub addons: Vec<Addon>,
}

impl Outcome for AddonList {
    fn human(&self, look: &Look) -> String {
        if self.addons.is_empty() {
            return format!("{} has no add-ons", look.paint(Tone::Name, &self.app));
        }
        let mut table = Table::new(["add-on", "plan", "state", "config vars"]);
        for a in &self.addons {
            let tone = if a.state == "provisioned" {
                Tone::Good
            } else {
                Tone::Warn
            };
            table.row([
                Cell::new(Tone::Name, a.name.clone()),
                Cell::from(a.plan.name.clone()),
                Cell::new(tone, a.state.clone()),
                Cell::from(a.config_vars.join(", ")),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} add-ons", self.addons.len())
    }
}

/// An add-on created, or destroyed.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct AddonChanged {
    #[serde(skip)]
    pub app: String,
    #[serde(skip)]
    pub created: bool,
    pub addon: Addon,
}

impl Outcome for AddonChanged {
    fn human(&self, look: &Look) -> String {
        let name = look.paint(Tone::Name, &self.addon.name);
        if !self.created {
            return format!("destroyed {name} ({})", self.addon.state);
        }
        let vars = match self.addon.config_vars.as_slice() {
            [] => String::new(),
            vars => format!(" as {}", vars.join(", ")),
        };
        if self.addon.state == "provisioning" {
            let hint = format!("herokuops pg wait {}", self.app);
            format!(
                "{name} is being created in the background{vars}; wait for it with `{}`",
                look.paint(Tone::Hint, &hint)
            )
        } else {
            format!("created {name}{vars}")
        }
    }

    fn summary(&self) -> String {
        let verb = if self.created { "created" } else { "destroyed" };
        format!("{verb} {}", self.addon.name)
    }
}

pub async fn run(ctx: &Ctx, cmd: AddonsCommand) -> Result<Done> {
    match cmd {
        AddonsCommand::List { args } => {
            let (app, _) = app_and_args(&ctx.global, &args, 0, "herokuops addons list APP")?;
            let addons = ctx.api()?.addons(&app).await?;
            Done::ok(AddonList { app, addons })
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
            let spec = AddonCreate {
                plan: plan_of(plan)?,
                attachment_name: attachment,
                config: key_values("--config", &config)?,
                name,
                confirm: ctx.global.confirm.clone(),
            };
            let wait = wait.then(|| Wait::new(Duration::from_secs(5), timeout));
            create(ctx, app, spec, wait).await
        }
        AddonsCommand::Destroy { args } => destroy(ctx, &args).await,
    }
}

fn plan_of(plan: &str) -> Result<String> {
    if plan.contains(':') {
        Ok(plan.to_string())
    } else {
        Err(Error::usage(format!(
            "{plan:?} is not SERVICE:PLAN (e.g. heroku-postgresql:essential-0)"
        )))
    }
}

/// `KEY=VALUE` words of a repeatable flag.
pub fn key_values(flag: &str, pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Error::usage(format!("{flag} {pair:?}: expected KEY=VALUE")))
        })
        .collect()
}

async fn create(ctx: &Ctx, app: String, spec: AddonCreate, wait: Option<Wait>) -> Result<Done> {
    if ctx.global.dry_run {
        let request = Request::create_addon(&app, &spec).describe();
        return Done::ok(DryRun::new(
            format!("create {} on {app}", spec.plan),
            vec![request],
        ));
    }
    let mut observer = ctx.spinner(&format!("creating {} on {app}", spec.plan));
    let addon = steps::addons::create(ctx.api()?, &app, &spec, wait, &mut observer).await?;
    observer.finish(&format!("{} is {}", addon.name, addon.state));
    Done::ok(AddonChanged {
        app,
        created: true,
        addon,
    })
}

async fn destroy(ctx: &Ctx, args: &[String]) -> Result<Done> {
    let usage = "herokuops addons destroy APP ADDON --confirm APP";
    let (app, rest) = app_and_args(&ctx.global, args, 1, usage)?;
    let addon = rest
        .first()
        .ok_or_else(|| Error::usage(format!("no add-on given: {usage}")))?;
    if ctx.global.dry_run {
        return Done::ok(DryRun::new(format!("destroy {addon} on {app}"), vec![]));
    }
    ctx.confirm(&app, &format!("Destroying {addon}"))?;
    let destroyed = steps::addons::destroy(ctx.api()?, &app, addon).await?;
    Done::ok(AddonChanged {
        app,
        created: false,
        addon: destroyed,
    })
}
