//! `dynos list|restart APP`.

use clap::Subcommand;
use serde_json::json;

use crate::api::RestartTarget;
use crate::cli::{Ctx, app_and_args};
use crate::error::Result;
use crate::output::table::Table;

#[derive(Debug, Subcommand)]
pub enum DynosCommand {
    /// List the app's dynos and their states
    List {
        #[arg(value_name = "APP")]
        args: Vec<String>,
    },
    /// Restart all dynos, one process type, or one dyno
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
}

pub async fn run(ctx: &Ctx, cmd: DynosCommand) -> Result<()> {
    match cmd {
        DynosCommand::List { args } => {
            let (app, _) = app_and_args(&ctx.global, &args, 0, "herokuops dynos list APP")?;
            let mut dynos = ctx.api()?.dynos(&app).await?;
            dynos.sort_by(|a, b| a.name.cmp(&b.name));
            ctx.io.render(&json!(dynos), || {
                let mut table = Table::new(["dyno", "state", "size", "updated", "command"]);
                for d in &dynos {
                    table.row([
                        d.name.clone(),
                        d.state.clone(),
                        d.size.clone().unwrap_or_default(),
                        d.updated_at.clone().unwrap_or_default(),
                        d.command.clone().unwrap_or_default(),
                    ]);
                }
                if table.is_empty() {
                    format!("{app} has no dynos")
                } else {
                    table.render()
                }
            });
            Ok(())
        }
        DynosCommand::Restart {
            args,
            process_type,
            dyno,
        } => {
            let (app, _) = app_and_args(
                &ctx.global,
                &args,
                0,
                "herokuops dynos restart APP [--type T | --dyno NAME]",
            )?;
            let target = match (process_type, dyno) {
                (Some(t), _) => RestartTarget::ProcessType(t),
                (_, Some(d)) => RestartTarget::Dyno(d),
                _ => RestartTarget::All,
            };
            let what = match &target {
                RestartTarget::All => "all dynos".to_string(),
                RestartTarget::ProcessType(t) => format!("{t} dynos"),
                RestartTarget::Dyno(d) => format!("dyno {d}"),
            };
            if ctx.global.dry_run {
                ctx.io
                    .render(&json!({ "dry_run": true, "restart": what }), || {
                        format!("would restart {what} on {app}")
                    });
                return Ok(());
            }
            ctx.api()?.restart_dynos(&app, &target).await?;
            ctx.io
                .render(&json!({ "app": app, "restarted": what }), || {
                    format!("Restarted {what} on {app}")
                });
            Ok(())
        }
    }
}
