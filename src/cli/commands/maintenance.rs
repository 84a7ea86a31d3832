//! `maintenance on|off|status APP`.

use clap::Subcommand;
use serde_json::json;

use crate::cli::{Ctx, app_and_args};
use crate::error::Result;

#[derive(Debug, Clone, Subcommand)]
pub enum MaintenanceCommand {
    /// Put the app in maintenance mode
    On {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Take the app out of maintenance mode
    Off {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Show whether maintenance mode is on
    Status {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
}

pub async fn run(ctx: &Ctx, cmd: MaintenanceCommand) -> Result<()> {
    let (args, target) = match &cmd {
        MaintenanceCommand::On { args } => (args, Some(true)),
        MaintenanceCommand::Off { args } => (args, Some(false)),
        MaintenanceCommand::Status { args } => (args, None),
    };
    let (app, _) = app_and_args(
        &ctx.global,
        args,
        0,
        "herokuops maintenance on|off|status APP",
    )?;
    let Some(on) = target else {
        let details = ctx.api()?.app(&app).await?;
        ctx.io.render(
            &json!({ "app": app, "maintenance": details.maintenance }),
            || {
                format!(
                    "maintenance is {} on {app}",
                    if details.maintenance { "on" } else { "off" }
                )
            },
        );
        return Ok(());
    };
    let word = if on { "on" } else { "off" };
    if ctx.global.dry_run {
        ctx.io.render(
            &json!({ "dry_run": true, "requests": [{ "method": "PATCH", "path": format!("/apps/{app}"), "body": { "maintenance": on } }] }),
            || format!("would turn maintenance {word} for {app}: PATCH /apps/{app} {{\"maintenance\":{on}}}"),
        );
        return Ok(());
    }
    let details = ctx.api()?.set_maintenance(&app, on).await?;
    ctx.io.render(
        &json!({ "app": app, "maintenance": details.maintenance }),
        || format!("maintenance is {word} for {app}"),
    );
    Ok(())
}
