//! The steps of a playbook done against Heroku and the app's database.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StepKind;
use super::journal::RunState;
use super::runner::{Executor, StepPlan};
use crate::api::models::Attachment;
use crate::api::{AddonCreate, ApiClient, ApiError, RestartTarget};
use crate::error::{Error, Result};
use crate::pg::{self, Expected, Target};
use crate::steps::promote::{PromoteOptions, PromoteOutcome};
use crate::steps::{self, Observer, Wait, backup, database};

/// How the app's schema is rebuilt after a drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", content = "command", rename_all = "snake_case")]
pub enum Migrate {
    /// Restart the dynos and let the app migrate at boot.
    Restart,
    /// Run a command on a one-off dyno; a non-zero exit fails the step.
    OneOffDyno(String),
    /// Run a command here with `DATABASE_URL` set (an Alembic project, for example).
    Local(String),
}

/// Everything a run needs to know, kept in the journal so `resume` runs the same way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlaybookOptions {
    pub app: String,
    /// The add-on plan for `addons.create` (default: the current database's plan).
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub expect: Option<PathBuf>,
    pub migrate: Migrate,
    /// The deadline of every wait.
    #[serde(with = "humantime_serde_secs")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde_secs")]
    pub interval: Duration,
    /// What `backup.restore` restores from (a backup name or URL; default: the newest backup).
    #[serde(default)]
    pub restore_from: Option<String>,
    /// Extensions `backup.restore` installs before restoring.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore_extensions: Vec<String>,
    /// The command of a `run` step.
    #[serde(default)]
    pub run_command: Option<String>,
}

mod humantime_serde_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// Facts gathered by the read-only preflight.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Preflight {
    pub account: String,
    pub database_addon: String,
    pub database_plan: Option<String>,
    pub tables: Vec<String>,
    pub maintenance: bool,
}

pub struct HerokuExecutor {
    api: ApiClient,
    options: PlaybookOptions,
    expected: Option<Expected>,
    observer: Box<dyn Observer + Sync>,
    preflight: Preflight,
    /// The database URL is read when needed and never kept in the journal.
    database_url: Option<String>,
}

impl HerokuExecutor {
    pub fn new(
        api: ApiClient,
        options: PlaybookOptions,
        observer: Box<dyn Observer + Sync>,
    ) -> Result<Self> {
        let expected = match &options.expect {
            Some(path) => Some(Expected::load(path)?),
            None => None,
        };
        Ok(HerokuExecutor {
            api,
            options,
            expected,
            observer,
            preflight: Preflight::default(),
            database_url: None,
        })
    }

    pub fn preflight_facts(&self) -> &Preflight {
        &self.preflight
    }

    fn app(&self) -> &str {
        &self.options.app
    }

    fn wait(&self) -> Wait {
        Wait::new(self.options.interval, self.options.timeout)
    }

    async fn current_database(&self) -> Result<Attachment> {
        Ok(database::resolve(&self.api, self.app(), Some("DATABASE_URL")).await?)
    }

    /// DATABASE_URL as it is now (it changes on promotion).
    async fn database_url(&mut self) -> Result<String> {
        let vars = self.api.config_vars(self.app()).await?;
        let url = vars.get("DATABASE_URL").cloned().ok_or_else(|| {
            Error::failed(format!("app {} has no DATABASE_URL", self.options.app))
        })?;
        self.observer.event(steps::Event::Secret(url.clone()));
        self.database_url = Some(url.clone());
        Ok(url)
    }

    async fn connect(&mut self) -> Result<pg::Db> {
        let url = self.database_url().await?;
        Ok(Target::parse(&url)?.connect().await?)
    }

    async fn table_names(&mut self) -> Result<Vec<String>> {
        let db = self.connect().await?;
        let rows = db
            .query(
                "list the tables of schema public",
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    async fn wait_dynos_up(&mut self) -> Result<String> {
        let deadline = self.wait().deadline();
        loop {
            let dynos = self.api.dynos(self.app()).await?;
            let long_running: Vec<_> = dynos.iter().filter(|d| d.process_type != "run").collect();
            if let Some(crashed) = long_running.iter().find(|d| d.state == "crashed") {
                return Err(Error::failed_with_hint(
                    format!("dyno {} crashed", crashed.name),
                    format!(
                        "see `heroku logs -a {} --dyno {}`",
                        self.options.app, crashed.name
                    ),
                ));
            }
            if long_running.iter().all(|d| d.state == "up") {
                return Ok(format!("{} dynos up", long_running.len()));
            }
            let states: Vec<String> = long_running
                .iter()
                .map(|d| format!("{} {}", d.name, d.state))
                .collect();
            self.observer.event(steps::Event::Status(states.join(", ")));
            deadline.tick("the dynos to be up").await?;
        }
    }

    async fn verify(&mut self) -> Result<String> {
        let deadline = self.wait().deadline();
        loop {
            let outcome = match &self.expected {
                Some(expected) => {
                    let expected = expected.clone();
                    let db = self.connect().await?;
                    let pg::Verified {
                        schema,
                        drifts: drift,
                    } = pg::verify_live(&db, &expected, &pg::VerifyOptions::default()).await?;
                    if drift.is_empty() {
                        return Ok(format!("schema matches ({} tables)", schema.tables.len()));
                    }
                    format!("{} difference(s), first: {}", drift.len(), drift[0])
                }
                None => {
                    let tables = self.table_names().await?;
                    if !tables.is_empty() {
                        return Ok(format!("{} tables: {}", tables.len(), tables.join(", ")));
                    }
                    "no tables yet".to_string()
                }
            };
            self.observer.event(steps::Event::Status(outcome.clone()));
            if let Err(ApiError::Timeout { after, .. }) = deadline.tick("the schema").await {
                return Err(match &self.expected {
                    Some(_) => Error::failed_with_hint(
                        format!(
                            "the schema did not reach the expected state within {}: {outcome}",
                            humantime::format_duration(after)
                        ),
                        format!(
                            "see `herokuops verify {} --expect FILE` for every difference",
                            self.options.app
                        ),
                    ),
                    None => Error::failed(format!(
                        "no table appeared in schema public within {}",
                        humantime::format_duration(after)
                    )),
                });
            }
        }
    }

    /// Runs `command` on a one-off dyno and fails on a non-zero exit. The dyno is in the run
    /// state until it exits, so that a run stopped meanwhile stops it too: a resumed run would
    /// otherwise start the command a second time beside the first.
    async fn one_off(&mut self, command: &str, state: &mut RunState) -> Result<String> {
        let dyno = steps::run::start(&self.api, self.app(), command, Default::default()).await?;
        state.one_off_dyno = Some(dyno.clone());
        let outcome =
            steps::run::follow(&self.api, self.app(), &dyno, self.options.timeout, |_| {}).await;
        if outcome.is_ok() {
            state.one_off_dyno = None;
        }
        let outcome = outcome?;
        if outcome.exit_status != 0 {
            return Err(Error::Exited {
                what: format!("`{command}` on {dyno}"),
                status: outcome.exit_status,
            });
        }
        Ok(format!("`{command}` exited 0 on {dyno}"))
    }

    async fn migrate(&mut self, state: &mut RunState) -> Result<String> {
        match self.options.migrate.clone() {
            Migrate::Restart => {
                self.api
                    .restart_dynos(self.app(), &RestartTarget::All)
                    .await?;
                let up = self.wait_dynos_up().await?;
                Ok(format!("restarted all dynos; {up}"))
            }
            Migrate::OneOffDyno(command) => self.one_off(&command, state).await,
            Migrate::Local(command) => {
                let url = self.database_url().await?;
                let mut sh = tokio::process::Command::new("sh");
                sh.arg("-c")
                    .arg(&command)
                    .env("DATABASE_URL", url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::inherit());
                let could_not = |e| Error::io(format!("could not run `{command}`"), e);
                // Ctrl-C abandons the step and drops the child, which kills its whole process
                // group: the migration must not go on writing to the database behind a run that
                // says it stopped (a migration in a transaction is rolled back; resume runs it
                // again).
                let mut child = crate::process::GroupChild::spawn(sh).map_err(could_not)?;
                let status = child.wait().await.map_err(could_not)?;
                match status.code() {
                    Some(0) => Ok(format!("`{command}` exited 0")),
                    Some(code) => Err(Error::Exited {
                        what: format!("`{command}`"),
                        status: code,
                    }),
                    None => Err(Error::failed(format!("`{command}` was killed by a signal"))),
                }
            }
        }
    }

    async fn create_addon(&mut self, state: &mut RunState) -> Result<String> {
        if let Some(name) = &state.created_addon {
            // Resumed: reuse what this run created, if it still exists.
            match self.api.addon(self.app(), name).await {
                Ok(addon) => return Ok(format!("reusing {} created by this run", addon.name)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let plan = match &self.options.plan {
            Some(plan) => plan.clone(),
            None => self
                .current_database()
                .await?
                .plan_name()
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::failed("the current database's plan is unknown; pass --plan")
                })?,
        };
        // Heroku may have made the add-on although the create request failed (a 5xx, a cut
        // connection): an attempt after such a failure adopts one that appeared since.
        let addons = self.api.addons(self.app()).await?;
        match &state.addons_before_create {
            Some(before) => {
                if let Some(addon) = addons
                    .iter()
                    .find(|a| !before.contains(&a.name) && a.plan.name == plan)
                {
                    state.created_addon = Some(addon.name.clone());
                    state.addons_before_create = None;
                    return Ok(format!(
                        "adopted {} ({plan}), made by an earlier attempt of this run",
                        addon.name
                    ));
                }
            }
            None => {
                state.addons_before_create = Some(addons.into_iter().map(|a| a.name).collect());
            }
        }
        let spec = AddonCreate {
            plan: plan.clone(),
            ..Default::default()
        };
        let addon = steps::addons::create(
            &self.api,
            &self.options.app,
            &spec,
            None,
            self.observer.as_mut(),
        )
        .await?;
        state.created_addon = Some(addon.name.clone());
        state.addons_before_create = None;
        Ok(format!("created {} ({plan})", addon.name))
    }

    async fn promote(&mut self, state: &mut RunState) -> Result<String> {
        let target = state
            .created_addon
            .clone()
            .ok_or_else(|| Error::failed("no add-on to promote: run addons.create first"))?;
        // Noted before the request: if its answer is lost, the attempt that finds the promotion
        // already made still knows which database the app was moved off.
        if state.promoting_from.is_none() {
            let current = self.current_database().await?;
            if current.addon.name != target {
                state.promoting_from = Some(current.addon.name);
            }
        }
        let outcome = steps::promote::promote(
            &self.api,
            &self.options.app,
            &target,
            &PromoteOptions::default(),
            self.observer.as_mut(),
        )
        .await?;
        match outcome {
            PromoteOutcome::Promoted {
                addon,
                previous_alias,
                previous_addon,
            } => {
                state.previous_addon = previous_addon;
                state.previous_alias = previous_alias;
                Ok(format!("{addon} is now DATABASE_URL"))
            }
            PromoteOutcome::AlreadyPromoted { addon } => {
                if state.previous_addon.is_none()
                    && let Some(previous) = state.promoting_from.clone()
                {
                    let attachments = self.api.attachments(self.app()).await?;
                    state.previous_alias = attachments
                        .iter()
                        .find(|a| a.addon.name == previous && a.name != "DATABASE")
                        .map(|a| a.name.clone());
                    state.previous_addon = Some(previous);
                }
                Ok(format!("{addon} already was DATABASE_URL"))
            }
        }
    }

    async fn wait_database(&mut self, state: &RunState) -> Result<String> {
        let db = match &state.created_addon {
            Some(name) => database::resolve(&self.api, self.app(), Some(name)).await?,
            None => self.current_database().await?,
        };
        let wait = self.wait();
        let message =
            database::wait_available(&self.api, &db.addon.id, wait, self.observer.as_mut()).await?;
        Ok(format!("{} is {message}", db.addon.name))
    }

    async fn restore(&mut self) -> Result<String> {
        let db = self.current_database().await?;
        let url =
            backup::backup_url(&self.api, self.app(), self.options.restore_from.as_deref()).await?;
        let wait = backup::transfer_wait(self.options.timeout);
        let transfer = backup::restore(
            &self.api,
            &db,
            &url,
            &self.options.restore_extensions,
            wait,
            self.observer.as_mut(),
        )
        .await?;
        Ok(format!(
            "restored {} ({})",
            db.addon.name,
            transfer.display_name()
        ))
    }

    async fn capture(&mut self) -> Result<String> {
        let wait = backup::transfer_wait(self.options.timeout);
        let transfer = backup::capture(
            &self.api,
            &self.options.app,
            None,
            wait,
            self.observer.as_mut(),
        )
        .await?;
        Ok(transfer.display_name())
    }
}

impl Executor for HerokuExecutor {
    async fn preflight(&mut self) -> Result<Vec<String>> {
        let account = self.api.account().await?;
        let app = self.api.app(self.app()).await?;
        let db = self.current_database().await?;
        let tables = self.table_names().await?;
        self.preflight = Preflight {
            account: account.email.clone(),
            database_addon: db.addon.name.clone(),
            database_plan: db.plan_name().map(str::to_string),
            tables: tables.clone(),
            maintenance: app.maintenance,
        };
        let mut facts = vec![
            format!("account: {}", account.email),
            format!(
                "DATABASE_URL: {} ({})",
                db.addon.name,
                db.plan_name().unwrap_or("plan unknown")
            ),
            format!(
                "maintenance: {}",
                if app.maintenance { "on" } else { "off" }
            ),
        ];
        if tables.is_empty() {
            facts.push("schema public has no tables".into());
        } else {
            facts.push(format!(
                "schema public has {} tables: {}",
                tables.len(),
                tables.join(", ")
            ));
        }
        if let Some(path) = &self.options.expect {
            facts.push(format!("expected schema: {}", path.display()));
        }
        Ok(facts)
    }

    fn describe(&self, step: StepKind) -> StepPlan {
        let app = &self.options.app;
        let db = if self.preflight.database_addon.is_empty() {
            "DATABASE".to_string()
        } else {
            self.preflight.database_addon.clone()
        };
        let (description, requests, sql): (String, Vec<String>, Vec<String>) = match step {
            StepKind::BackupCapture => (
                format!("capture a backup of {db}"),
                vec![
                    format!("POST /client/v11/databases/{{id}}/backups"),
                    format!("GET /client/v11/apps/{app}/transfers/{{uuid}} until finished"),
                ],
                vec![],
            ),
            StepKind::BackupRestore => (
                format!(
                    "restore {db} from {}",
                    self.options
                        .restore_from
                        .as_deref()
                        .unwrap_or("the newest backup")
                ),
                vec!["POST /client/v11/databases/{id}/restores".into()],
                vec![],
            ),
            StepKind::PgDropSchema => (
                format!(
                    "drop schema public of {db} ({} tables) and recreate it with its owner and grants, in one transaction",
                    self.preflight.tables.len()
                ),
                vec![format!("GET /apps/{app}/config-vars")],
                vec![
                    "BEGIN".into(),
                    "DROP SCHEMA public CASCADE".into(),
                    "CREATE SCHEMA public AUTHORIZATION <owner>".into(),
                    "GRANT/COMMENT as before".into(),
                    "COMMIT".into(),
                ],
            ),
            StepKind::PgVerify => (
                match &self.options.expect {
                    Some(p) => format!("poll until the schema matches {}", p.display()),
                    None => "poll until schema public has tables, and list them".into(),
                },
                vec![format!("GET /apps/{app}/config-vars")],
                vec!["catalog queries (a fixed number)".into()],
            ),
            StepKind::PgWait => (
                "wait until the new database is available".into(),
                vec!["GET /client/v11/databases/{id}/wait_status".into()],
                vec![],
            ),
            StepKind::PgPromote => (
                "promote the new database to DATABASE_URL, keeping an alias for the old one".into(),
                vec![
                    "POST /addon-attachments (alias for the old database, if it has none)".into(),
                    "POST /addon-attachments {\"name\":\"DATABASE\"}".into(),
                ],
                vec![],
            ),
            StepKind::AddonsCreate => (
                format!(
                    "create a {} add-on",
                    self.options
                        .plan
                        .clone()
                        .or(self.preflight.database_plan.clone())
                        .unwrap_or_else(|| "heroku-postgresql".into())
                ),
                vec![format!("POST /apps/{app}/addons")],
                vec![],
            ),
            StepKind::MaintenanceOn => (
                "turn maintenance mode on".into(),
                vec![format!("PATCH /apps/{app} {{\"maintenance\":true}}")],
                vec![],
            ),
            StepKind::MaintenanceOff => (
                "turn maintenance mode off".into(),
                vec![format!("PATCH /apps/{app} {{\"maintenance\":false}}")],
                vec![],
            ),
            StepKind::DynosRestart => (
                "restart all dynos".into(),
                vec![format!("DELETE /apps/{app}/dynos")],
                vec![],
            ),
            StepKind::DynosWaitUp => (
                "wait until every dyno is up".into(),
                vec![format!("GET /apps/{app}/dynos")],
                vec![],
            ),
            StepKind::Migrate => match &self.options.migrate {
                Migrate::Restart => (
                    "restart the dynos so the app migrates at boot, and wait until they are up"
                        .into(),
                    vec![
                        format!("DELETE /apps/{app}/dynos"),
                        format!("GET /apps/{app}/dynos"),
                    ],
                    vec![],
                ),
                Migrate::OneOffDyno(cmd) => (
                    format!("run `{cmd}` on a one-off dyno; fail on a non-zero exit"),
                    vec![
                        format!("POST /apps/{app}/dynos"),
                        format!("POST /apps/{app}/log-sessions"),
                    ],
                    vec![],
                ),
                Migrate::Local(cmd) => (
                    format!("run `{cmd}` here with DATABASE_URL set"),
                    vec![format!("GET /apps/{app}/config-vars")],
                    vec![],
                ),
            },
            StepKind::Run => (
                format!(
                    "run `{}` on a one-off dyno",
                    self.options.run_command.as_deref().unwrap_or("?")
                ),
                vec![format!("POST /apps/{app}/dynos")],
                vec![],
            ),
        };
        StepPlan {
            step,
            description,
            requests,
            sql,
            destructive: step.is_destructive(),
        }
    }

    async fn safety_backup(&mut self, _state: &mut RunState) -> Result<String> {
        self.capture().await
    }

    async fn execute(&mut self, step: StepKind, state: &mut RunState) -> Result<String> {
        match step {
            StepKind::BackupCapture => {
                let name = self.capture().await?;
                state.backup = Some(name.clone());
                Ok(format!("backup {name}"))
            }
            StepKind::BackupRestore => self.restore().await,
            StepKind::PgDropSchema => {
                let db = self.connect().await?;
                let report = pg::drop::drop_schema(&db, &pg::drop::DropOptions::default()).await?;
                Ok(format!(
                    "dropped and recreated schema public ({} tables before)",
                    report.before.tables
                ))
            }
            StepKind::PgVerify => self.verify().await,
            StepKind::PgWait => self.wait_database(state).await,
            StepKind::PgPromote => self.promote(state).await,
            StepKind::AddonsCreate => self.create_addon(state).await,
            StepKind::MaintenanceOn => {
                let app = self.api.app(self.app()).await?;
                if app.maintenance {
                    return Ok("maintenance was already on".into());
                }
                self.api.set_maintenance(self.app(), true).await?;
                state.maintenance_on_by_run = true;
                Ok("maintenance on".into())
            }
            StepKind::MaintenanceOff => {
                self.api.set_maintenance(self.app(), false).await?;
                state.maintenance_on_by_run = false;
                Ok("maintenance off".into())
            }
            StepKind::DynosRestart => {
                self.api
                    .restart_dynos(self.app(), &RestartTarget::All)
                    .await?;
                Ok("restarted all dynos".into())
            }
            StepKind::DynosWaitUp => self.wait_dynos_up().await,
            StepKind::Migrate => self.migrate(state).await,
            StepKind::Run => {
                let command = self.options.run_command.clone().ok_or_else(|| {
                    Error::usage("the playbook has a `run` step: pass --command CMD")
                })?;
                self.one_off(&command, state).await
            }
        }
    }

    async fn maintenance_off(&mut self) -> Result<()> {
        self.api.set_maintenance(self.app(), false).await?;
        Ok(())
    }

    async fn stop_dyno(&mut self, dyno: &str) -> Result<()> {
        self.api.stop_dyno(self.app(), dyno).await?;
        Ok(())
    }

    fn may_repeat(&self, step: Option<StepKind>) -> bool {
        match step {
            Some(StepKind::Run) => false,
            Some(StepKind::Migrate) => !matches!(self.options.migrate, Migrate::OneOffDyno(_)),
            _ => true,
        }
    }

    fn describe_state(&self, state: &RunState) -> String {
        let mut parts = Vec::new();
        if let Some(prev) = &state.previous_addon {
            parts.push(format!(
                "DATABASE_URL is {}; the previous database {prev} is kept{}",
                state.created_addon.as_deref().unwrap_or("the new database"),
                state
                    .previous_alias
                    .as_ref()
                    .map(|a| format!(" as {a}_URL"))
                    .unwrap_or_default()
            ));
        } else if let Some(created) = &state.created_addon {
            parts.push(format!(
                "the new add-on {created} exists but is not DATABASE_URL"
            ));
        }
        if let Some(backup) = &state.safety_backup {
            parts.push(format!(
                "the data from before the run is in backup {backup}"
            ));
        }
        if state.maintenance_on_by_run {
            parts.push("maintenance mode is on".into());
        }
        if parts.is_empty() {
            "nothing was changed that needs undoing".into()
        } else {
            parts.join("; ")
        }
    }
}
