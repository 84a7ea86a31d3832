//! `migrate APP`: the `migrate` step on its own: restart the dynos and wait (an app that
//! migrates at boot), run a command on a one-off dyno, or run one here with `DATABASE_URL` set.

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::api::{DynoCreate, Request, RestartTarget};
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::Result;
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::steps::migrate::{self, Migrate};
use crate::steps::{self, StepError, Wait, schema};

use super::parse_duration;
use super::playbook::MigrateFlags;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  herokuops migrate tmi-server\n  herokuops migrate tmi-server --migrate-command 'bin/rails db:migrate'\n  herokuops migrate tmi-server --migrate-local 'alembic upgrade head'"
)]
pub struct MigrateArgs {
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub how: MigrateFlags,
    /// How long the migration (or the dynos' start) may take
    #[arg(long, default_value = "20m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// A migration that finished.
#[derive(Debug, Clone, Serialize)]
pub struct Migrated {
    pub app: String,
    pub migrate: Migrate,
    pub detail: String,
}

impl Outcome for Migrated {
    fn human(&self, look: &Look) -> String {
        format!(
            "migrated {}: {}",
            look.paint(Tone::Name, &self.app),
            self.detail
        )
    }

    fn summary(&self) -> String {
        self.detail.clone()
    }
}

pub async fn run(ctx: &Ctx, args: MigrateArgs) -> Result<Done> {
    let (app, _) = app_and_args(&ctx.global, &args.args, 0, "herokuops migrate APP")?;
    let how = match (args.how.migrate_command, args.how.migrate_local) {
        (Some(command), _) => Migrate::OneOffDyno(command),
        (_, Some(command)) => Migrate::Local(command),
        _ => Migrate::Restart,
    };
    if ctx.global.dry_run {
        return Done::ok(dry_run(&app, &how));
    }
    let api = ctx.api()?;
    let detail = match &how {
        Migrate::Restart => {
            steps::dynos::restart(api, &app, &RestartTarget::All).await?;
            let mut observer = ctx.spinner(&format!("waiting for the dynos of {app}"));
            let wait = Wait::new(Duration::from_secs(5), args.timeout);
            let up = steps::dynos::wait_up(api, &app, wait, &mut observer).await?;
            observer.finish(&format!("{up} dynos up"));
            format!("restarted all dynos; {up} dynos up")
        }
        Migrate::OneOffDyno(command) => {
            let dyno = steps::run::start(api, &app, command, Default::default()).await?;
            let io = ctx.io.clone();
            let exited = steps::run::follow(api, &app, &dyno, args.timeout, move |line| {
                io.err_line(line);
            })
            .await?;
            if exited.exit_status != 0 {
                return Err(StepError::CommandFailed {
                    what: format!("`{command}` on {dyno}"),
                    status: exited.exit_status,
                }
                .into());
            }
            format!("`{command}` exited 0 on {dyno}")
        }
        Migrate::Local(command) => {
            let mut observer = ctx.spinner(&format!("running `{command}`"));
            let url = schema::database_url(api, &app, &mut observer).await?;
            migrate::run_local(command, &url, &mut observer).await?;
            observer.finish(&format!("`{command}` exited 0"));
            format!("`{command}` exited 0")
        }
    };
    Done::ok(Migrated {
        app,
        migrate: how,
        detail,
    })
}

fn dry_run(app: &str, how: &Migrate) -> DryRun {
    match how {
        Migrate::Restart => DryRun::new(
            format!("restart the dynos of {app} and wait until they are up"),
            vec![Request::restart_dynos(app, &RestartTarget::All).describe()],
        ),
        Migrate::OneOffDyno(command) => {
            let spec = DynoCreate {
                command: command.clone(),
                ..Default::default()
            };
            DryRun::new(
                format!("run `{command}` on a one-off dyno of {app}"),
                vec![Request::create_dyno(app, &spec).describe()],
            )
        }
        Migrate::Local(command) => DryRun::new(
            format!("run `{command}` here with the DATABASE_URL of {app}"),
            vec![Request::config_vars(app).describe()],
        ),
    }
}
