//! `run APP -- COMMAND...`: a one-off dyno whose exit status becomes ours.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use crate::cli::{Ctx, app_and_args};
use crate::error::{Error, Result};
use crate::steps;

use super::parse_duration;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    /// Environment for the dyno, KEY=VALUE (repeatable)
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// How long the command may run
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The command, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: RunArgs) -> Result<()> {
    let (app, _) = app_and_args(
        &ctx.global,
        &args.args,
        0,
        "herokuops run APP -- COMMAND...",
    )?;
    let mut env = BTreeMap::new();
    for pair in &args.env {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--env {pair:?}: expected KEY=VALUE")))?;
        env.insert(k.to_string(), v.to_string());
    }
    let command = steps::run::command_line(&args.command);
    if ctx.global.dry_run {
        ctx.io
            .render(&json!({ "dry_run": true, "command": command }), || {
                format!("would run `{command}` on a one-off dyno of {app}")
            });
        return Ok(());
    }
    ctx.io.stdout_is_data();
    if ctx.io.gha.is_some() {
        // The dyno's output may show its environment: mask the app's secrets first, and the
        // secret-looking values given with --env.
        let vars = ctx.api()?.config_vars(&app).await?;
        for value in crate::cli::actions::secret_config_values(&vars)
            .into_iter()
            .chain(crate::cli::actions::secret_config_values(&env))
        {
            ctx.io.mask(value);
        }
    }
    let api = ctx.api()?;
    let dyno = steps::run::start(api, &app, &command, env).await?;
    let io = ctx.io.clone();
    let json = ctx.io.json();
    let follow = steps::run::follow(api, &app, &dyno, args.timeout, move |line| {
        if !json {
            io.out(line);
        }
    });
    // Ctrl-C stops the dyno too, as it does for an attached `heroku run`: a command left
    // running where nobody follows it is what the operator meant to stop.
    let interrupt = crate::signals::Interrupt::listen();
    let mut interrupted = interrupt.receiver();
    let outcome = tokio::select! {
        outcome = follow => outcome?,
        _ = crate::signals::interrupted(&mut interrupted) => {
            let stopped = api.stop_dyno(&app, &dyno).await;
            ctx.io.warn(&match stopped {
                Ok(()) => format!("stopped {dyno}"),
                Err(e) => format!("{dyno} may still be running: stopping it failed ({e})"),
            });
            return Err(Error::Interrupted);
        }
    };
    if ctx.io.json() {
        ctx.io
            .out(&serde_json::to_string_pretty(&json!(outcome)).unwrap_or_default());
    }
    if outcome.exit_status != 0 {
        return Err(Error::Exited {
            what: format!("`{command}` on {}", outcome.dyno),
            status: outcome.exit_status,
        });
    }
    Ok(())
}
