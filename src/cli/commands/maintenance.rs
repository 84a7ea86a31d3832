//! `maintenance on|off|status APP`.

use clap::Subcommand;
use serde::Serialize;

use crate::api::Request;
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::Result;
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::steps;

#[derive(Debug, Clone, Subcommand)]
pub enum MaintenanceCommand {
    /// Put the app in maintenance mode
    #[command(
        after_help = "Examples:\n  herokuops maintenance on tmi-server\n  herokuops maintenance on --app shop-eu --app shop-us"
    )]
    On {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Take the app out of maintenance mode
    #[command(after_help = "Examples:\n  herokuops maintenance off tmi-server")]
    Off {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Show whether maintenance mode is on
    #[command(
        after_help = "Examples:\n  herokuops maintenance status tmi-server\n  herokuops maintenance status --apps-from apps.txt --json"
    )]
    Status {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
}

/// Whether maintenance mode is on for an app.
#[derive(Debug, Clone, Serialize)]
pub struct Maintenance {
    pub app: String,
    pub maintenance: bool,
}

impl Outcome for Maintenance {
    fn human(&self, look: &Look) -> String {
        let (word, tone) = if self.maintenance {
            ("on", Tone::Warn)
        } else {
            ("off", Tone::Good)
        };
        format!(
            "maintenance is {} for {}",
            look.paint(tone, word),
            look.paint(Tone::Name, &self.app)
        )
    }

    fn summary(&self) -> String {
        format!(
            "maintenance {}",
            if self.maintenance { "on" } else { "off" }
        )
    }
}

pub async fn run(ctx: &Ctx, cmd: MaintenanceCommand) -> Result<Done> {
    let (args, target) = match &cmd {
        MaintenanceCommand::On { args } => (args, Some(true)),
        MaintenanceCommand::Off { args } => (args, Some(false)),
        MaintenanceCommand::Status { args } => (args, None),
    };
    let usage = "herokuops maintenance on|off|status APP";
    let (app, _) = app_and_args(&ctx.global, args, 0, usage)?;
    let maintenance = match target {
        None => ctx.api()?.app(&app).await?.maintenance,
        Some(on) if ctx.global.dry_run => {
            let word = if on { "on" } else { "off" };
            let request = Request::set_maintenance(&app, on).describe();
            return Done::ok(DryRun::new(
                format!("turn maintenance {word} for {app}"),
                vec![request],
            ));
        }
        Some(on) => steps::maintenance::turn(ctx.api()?, &app, on).await?,
    };
    Done::ok(Maintenance { app, maintenance })
}
