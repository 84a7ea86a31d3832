//! `dynos list|restart|wait APP`.

use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;

use crate::api::models::Dyno;
use crate::api::{Request, RestartTarget};
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::Result;
use crate::output::table::{Cell, Table};
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::steps::{self, Wait};

use super::parse_duration;

#[derive(Debug, Subcommand)]
pub enum DynosCommand {
    /// List the app's dynos and their states
    #[command(
        after_help = "Examples:\n  herokuops dynos list tmi-server\n  herokuops dynos list tmi-server --json"
    )]
    List {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Restart all dynos, one process type, or one dyno
    #[command(
        after_help = "Examples:\n  herokuops dynos restart tmi-server\n  herokuops dynos restart tmi-server --type web\n  herokuops dynos restart tmi-server --dyno worker.1"
    )]
    Restart {
        #[arg(value_name = "APP")]
        args: Vec<String>,
        /// Restart only this process type (e.g. web)
        #[arg(long = "type", value_name = "TYPE", conflicts_with = "dyno")]
        process_type: Option<String>,
        /// Restart only this dyno (e.g. web.1)
        #[arg(long, value_name = "NAME")]
        dyno: Option<String>,
    },
    /// Wait until every dyno (one-off dynos aside) is up; a crashed dyno fails at once
    #[command(
        after_help = "Examples:\n  herokuops dynos wait tmi-server\n  herokuops dynos wait tmi-server --timeout 5m"
    )]
    Wait {
        #[arg(value_name = "APP")]
        args: Vec<String>,
        /// The longest pause between looks
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        interval: Duration,
        /// Give up after this long
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// The app's dynos.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct DynoList {
    #[serde(skip)]
    pub app: String,
    pub dynos: Vec<Dyno>,
}

impl Outcome for DynoList {
    fn human(&self, look: &Look) -> String {
        if self.dynos.is_empty() {
            return format!("{} has no dynos", look.paint(Tone::Name, &self.app));
        }
        let mut table = Table::new(["dyno", "state", "size", "updated", "command"]);
        for d in &self.dynos {
            let tone = match d.state.as_str() {
                "up" => Tone::Good,
                "crashed" => Tone::Bad,
                _ => Tone::Warn,
            };
            table.row([
                Cell::from(d.name.clone()),
                Cell::new(tone, d.state.clone()),
                Cell::from(d.size.clone().unwrap_or_default()),
                Cell::new(Tone::Dim, d.updated_at.clone().unwrap_or_default()),
                Cell::from(d.command.clone().unwrap_or_default()),
            ]);
        }
        table.render(look)
    }

    fn summary(&self) -> String {
        format!("{} dynos", self.dynos.len())
    }
}

/// What was restarted.
#[derive(Debug, Clone, Serialize)]
pub struct Restarted {
    pub app: String,
    pub restarted: String,
}

impl Outcome for Restarted {
    fn human(&self, look: &Look) -> String {
        format!(
            "restarted {} on {}",
            self.restarted,
            look.paint(Tone::Name, &self.app)
        )
    }

    fn summary(&self) -> String {
        format!("restarted {}", self.restarted)
    }
}

/// The dynos are up.
#[derive(Debug, Clone, Serialize)]
pub struct DynosUp {
    pub app: String,
    pub up: usize,
}

impl Outcome for DynosUp {
    fn human(&self, look: &Look) -> String {
        format!(
            "{} dynos up on {}",
            self.up,
            look.paint(Tone::Name, &self.app)
        )
    }

    fn summary(&self) -> String {
        format!("{} dynos up", self.up)
    }
}

pub async fn run(ctx: &Ctx, cmd: DynosCommand) -> Result<Done> {
    match cmd {
        DynosCommand::List { args } => {
            let (app, _) = app_and_args(&ctx.global, &args, 0, "herokuops dynos list APP")?;
            let mut dynos = ctx.api()?.dynos(&app).await?;
            dynos.sort_by(|a, b| a.name.cmp(&b.name));
            Done::ok(DynoList { app, dynos })
        }
        DynosCommand::Restart {
            args,
            process_type,
            dyno,
        } => restart(ctx, &args, process_type, dyno).await,
        DynosCommand::Wait {
            args,
            interval,
            timeout,
        } => {
            let (app, _) = app_and_args(&ctx.global, &args, 0, "herokuops dynos wait APP")?;
            let mut observer = ctx.spinner(&format!("waiting for the dynos of {app}"));
            let wait = Wait::new(interval, timeout);
            let up = steps::dynos::wait_up(ctx.api()?, &app, wait, &mut observer).await?;
            observer.finish(&format!("{up} dynos up"));
            Done::ok(DynosUp { app, up })
        }
    }
}

async fn restart(
    ctx: &Ctx,
    args: &[String],
    process_type: Option<String>,
    dyno: Option<String>,
) -> Result<Done> {
    let usage = "herokuops dynos restart APP [--type T | --dyno NAME]";
    let (app, _) = app_and_args(&ctx.global, args, 0, usage)?;
    let (target, what) = match (process_type, dyno) {
        (Some(t), _) => (RestartTarget::ProcessType(t.clone()), format!("{t} dynos")),
        (_, Some(d)) => (RestartTarget::Dyno(d.clone()), format!("dyno {d}")),
        _ => (RestartTarget::All, "all dynos".to_string()),
    };
    if ctx.global.dry_run {
        let request = Request::restart_dynos(&app, &target).describe();
        return Done::ok(DryRun::new(
            format!("restart {what} on {app}"),
            vec![request],
        ));
    }
    steps::dynos::restart(ctx.api()?, &app, &target).await?;
    Done::ok(Restarted {
        app,
        restarted: what,
    })
}
