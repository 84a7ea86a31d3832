//! `run APP -- COMMAND...`: a one-off dyno whose exit status becomes ours.

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::api::{DynoCreate, Request};
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::{Error, Result};
use crate::output::{DryRun, Look, Outcome};
use crate::steps::{self, run::RunOutcome};

use super::addons::key_values;
use super::parse_duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  herokuops run tmi-server -- bin/migrate\n  herokuops run tmi-server -e LOG_LEVEL=debug --timeout 10m -- rake db:seed"
)]
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

/// How a one-off dyno ended. Its output went to stdout as it came; with `--json` this is the
/// document instead.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Ran(pub RunOutcome);

impl Outcome for Ran {
    fn human(&self, _look: &Look) -> String {
        String::new()
    }

    fn summary(&self) -> String {
        format!("{} exited {}", self.0.dyno, self.0.exit_status)
    }
}

pub async fn run(ctx: &Ctx, args: RunArgs) -> Result<Done> {
    let usage = "herokuops run APP -- COMMAND...";
    let (app, _) = app_and_args(&ctx.global, &args.args, 0, usage)?;
    let env = key_values("--env", &args.env)?;
    let command = steps::run::command_line(&args.command);
    if ctx.global.dry_run {
        let spec = DynoCreate {
            command: command.clone(),
            env,
            ..Default::default()
        };
        return Done::ok(DryRun::new(
            format!("run `{command}` on a one-off dyno of {app}"),
            vec![Request::create_dyno(&app, &spec).describe()],
        ));
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
    let outcome = follow_until_exit(ctx, &app, &command, env, args.timeout).await?;
    if outcome.exit_status == 0 {
        return Done::ok(Ran(outcome));
    }
    let failure = Error::Exited {
        what: format!("`{command}` on {}", outcome.dyno),
        status: outcome.exit_status,
    };
    Done::failed(Ran(outcome), failure)
}

/// Starts the dyno and passes its output on until it exits. Ctrl-C stops the dyno too, as it
/// does for an attached `heroku run`: a command left running where nobody follows it is what
/// the operator meant to stop.
async fn follow_until_exit(
    ctx: &Ctx,
    app: &str,
    command: &str,
    env: std::collections::BTreeMap<String, String>,
    timeout: Duration,
) -> Result<RunOutcome> {
    let api = ctx.api()?;
    let dyno = steps::run::start(api, app, command, env).await?;
    let io = ctx.io.clone();
    let json = ctx.io.json();
    let follow = steps::run::follow(api, app, &dyno, timeout, move |line| {
        if !json {
            io.out(line);
        }
    });
    let interrupt = crate::signals::Interrupt::listen();
    let mut interrupted = interrupt.receiver();
    tokio::select! {
        outcome = follow => Ok(outcome?),
        _ = crate::signals::interrupted(&mut interrupted) => {
            let stopped = api.stop_dyno(app, &dyno).await;
            ctx.io.warn(&match stopped {
                Ok(()) => format!("stopped {dyno}"),
                Err(e) => format!("{dyno} may still be running: stopping it failed ({e})"),
            });
            Err(Error::Interrupted)
        }
    }
}
