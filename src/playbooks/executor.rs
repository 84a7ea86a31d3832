//! The steps of a playbook done against Heroku and the app's database: each step name maps to
//! a step of `crate::steps`, with the run's journal state it reads and records.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StepKind;
use super::journal::RunState;
use super::lock::Holder;
use super::plan::{Preflight, StepPlan};
use super::runner::{Executor, StateCheckpoint};
use crate::api::models::{Account, App, Attachment};
use crate::api::{
    AddonCreate, ApiClient, AttachmentCreate, CopySpec, DynoCreate, Request, RestartTarget,
};
use crate::error::{Error, Result};
use crate::pg::{self, Expected};
use crate::steps::addons::Created;
use crate::steps::copy::Copied;
use crate::steps::local_tools::Password;
use crate::steps::maintenance::Switch;
use crate::steps::migrate::Migrate;
use crate::steps::promote::PromoteOutcome;
use crate::steps::schema::{KeptConnection, SchemaCheck, SchemaReading};
use crate::steps::schema_wait::{self, WatchDynos};
use crate::steps::{self, Observer, StepError, Wait, backup, database, pushpull, schema};

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
    #[serde(with = "seconds")]
    pub timeout: Duration,
    #[serde(with = "seconds")]
    pub interval: Duration,
    /// What `backup.restore` restores from (a backup name or URL; default: the newest backup).
    /// Set it with [`PlaybookOptions::set_restore_source`]. A URL's query (a signature: anyone
    /// holding it can read the backup) is never written to the journal, which CI uploads as
    /// an artifact; `resume` asks for the URL again (see [`PlaybookOptions::resupply_restore_url`]).
    #[serde(default, serialize_with = "url_without_query")]
    pub restore_from: Option<String>,
    /// The journal's `restore_from` lacks the query of the URL the run was given.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_url_withheld: bool,
    /// Extensions `backup.restore` installs before restoring.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore_extensions: Vec<String>,
    /// The command of a `run` step.
    #[serde(default)]
    pub run_command: Option<String>,
    /// `pg.drop-schema` may drop objects in other schemas that depend on `public`
    /// (`--drop-dependents`); without it the run refuses while planning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_dependents: bool,
    /// The app's database the run works on, by attachment (`db push --database`); default
    /// `DATABASE_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The local database `pg.push` copies from, as a URL without its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_from: Option<String>,
    /// Its password: never in the journal; a resumed push reads it from `PGPASSWORD`.
    #[serde(skip)]
    pub push_password: Option<Password>,
}

/// A restore URL as the journal keeps it: without its query.
fn url_without_query<S: serde::Serializer>(
    source: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match source.as_deref().map(split_query) {
        Some((kept, _)) => s.serialize_some(kept),
        None => s.serialize_none(),
    }
}

/// A URL's text before its query, and whether it had one; anything else as it is.
fn split_query(source: &str) -> (&str, bool) {
    let is_url = source.starts_with("https://") || source.starts_with("http://");
    match source.split_once('?') {
        Some((kept, _)) if is_url => (kept, true),
        _ => (source, false),
    }
}

impl PlaybookOptions {
    /// What `backup.restore` restores from: a backup (`b005`, `otherapp::b005`) or a URL.
    pub fn set_restore_source(&mut self, source: String) {
        self.restore_url_withheld = split_query(&source).1;
        self.restore_from = Some(source);
    }

    /// On resume: a run that restores from a URL with a query was journaled without it, so
    /// the URL must be given again (`--restore-url`) while `backup.restore` is still to run;
    /// a URL given must be the one the run restores from.
    pub fn resupply_restore_url(
        &mut self,
        restore_pending: bool,
        given: Option<&str>,
        run_id: &str,
    ) -> Result<()> {
        match given {
            Some(url) => {
                let journaled = self.restore_from.as_deref().map(split_query);
                if journaled.is_none_or(|(kept, _)| kept != split_query(url).0) {
                    return Err(Error::usage(format!(
                        "--restore-url is not the URL run {run_id} restores from ({})",
                        self.restore_from.as_deref().unwrap_or("no URL")
                    )));
                }
                self.set_restore_source(url.to_string());
                Ok(())
            }
            None if restore_pending && self.restore_url_withheld => Err(Error::usage(format!(
                "run {run_id} restores from a signed URL, which its journal keeps without the signature: pass it again with --restore-url URL"
            ))),
            None => Ok(()),
        }
    }
}

/// Durations in the journal as whole seconds.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// How a dry run's plan names the add-on a playbook creates: it has no name until it exists.
const NEW_ADDON: &str = "{new add-on}";

pub struct HerokuExecutor {
    api: ApiClient,
    options: PlaybookOptions,
    expected: Option<Expected>,
    /// Whether `pg.verify` waits for the app to migrate: only after dynos were restarted
    /// (an app migrates at boot in its own time); otherwise one look decides.
    verify_waits: bool,
    /// Whether `pg.verify` comes after `migrate`: the verify waits for the app then, so the
    /// migrate step only restarts.
    verify_follows: bool,
    /// Whether the playbook restores: its source is checked before anything is done.
    restores: bool,
    /// Whether the playbook drops schema `public`: what else that drops is checked first.
    drops: bool,
    observer: Box<dyn Observer + Sync>,
    preflight: Preflight,
    /// Who this run is, for the database lock; `None` takes no lock (a dry run).
    holder: Option<Holder>,
    /// The app's lock on its database, held from the preflight to the end of the run.
    db_lock: Option<pg::lock::DbLock>,
    /// The last step's connection to the database, for the next step on it.
    kept: Option<KeptConnection>,
    /// The preflight's reading of schema `public`, which a drop right after it reuses.
    schema_reading: Option<SchemaReading>,
}

impl HerokuExecutor {
    /// An executor for a playbook of `steps`.
    pub fn new(
        api: ApiClient,
        options: PlaybookOptions,
        steps: &[StepKind],
        observer: Box<dyn Observer + Sync>,
    ) -> Result<Self> {
        let expected = match &options.expect {
            Some(path) => Some(Expected::load(path)?),
            None => None,
        };
        if steps.contains(&StepKind::PgPush) && options.push_from.is_none() {
            return Err(Error::usage(
                "the pg.push step needs a local database: run it with `herokuops db push APP LOCAL_URL`",
            ));
        }
        let restarts = |s: &StepKind| match s {
            StepKind::DynosRestart => true,
            StepKind::Migrate => options.migrate == Migrate::Restart,
            _ => false,
        };
        let verify_waits = steps.iter().any(restarts);
        let verify_follows = steps
            .iter()
            .skip_while(|s| **s != StepKind::Migrate)
            .any(|s| *s == StepKind::PgVerify);
        Ok(HerokuExecutor {
            restores: steps.contains(&StepKind::BackupRestore),
            drops: steps.contains(&StepKind::PgDropSchema),
            api,
            options,
            expected,
            verify_waits,
            verify_follows,
            observer,
            preflight: Preflight::default(),
            holder: None,
            db_lock: None,
            kept: None,
            schema_reading: None,
        })
    }

    /// Makes the preflight take the app's lock on its database, in the name of `holder`, and
    /// keep it for as long as this executor lives: a second run (another machine, another
    /// scheduled job) is refused while planning.
    pub fn lock_database_as(mut self, holder: Holder) -> Self {
        self.holder = Some(holder);
        self
    }

    fn wait(&self) -> Wait {
        Wait::new(self.options.interval, self.options.timeout)
    }

    async fn capture(&mut self) -> Result<String, StepError> {
        let wait = backup::transfer_wait(self.options.timeout);
        let transfer = backup::capture(
            &self.api,
            &self.options.app,
            self.options.database.as_deref(),
            wait,
            self.observer.as_mut(),
        )
        .await?;
        Ok(transfer.display_name())
    }

    async fn restore(&mut self, state: &mut RunState) -> Result<String, StepError> {
        let db = database::resolve(&self.api, &self.options.app, None).await?;
        let source = self.options.restore_from.as_deref();
        let url = backup::backup_url(&self.api, &self.options.app, source).await?;
        let wait = backup::transfer_wait(self.options.timeout);
        let extensions = &self.options.restore_extensions;
        let started = backup::start_restore(&self.api, &db, &url, extensions).await?;
        // From here the database is being overwritten, whether or not the restore finishes.
        state.destroyed.push(format!(
            "{} was restored over from {} ({})",
            db.addon.name,
            self.restore_source(),
            started.display_name()
        ));
        let observer = self.observer.as_mut();
        let transfer = backup::follow_restore(&self.api, &db, &started, wait, observer).await?;
        Ok(format!(
            "restored {} ({})",
            db.addon.name,
            transfer.display_name()
        ))
    }

    /// The URL of the database the run works on (`DATABASE_URL` unless `database`), as it
    /// is now.
    async fn database_url(&mut self) -> Result<String, StepError> {
        pushpull::database_url(
            &self.api,
            &self.options.app,
            self.options.database.as_deref(),
            self.observer.as_mut(),
        )
        .await
    }

    /// A connection to the database the run works on, and its URL: the one the last step
    /// kept when it still serves, else a new one. [`Self::keep`] hands it to the next step.
    async fn database(&mut self) -> Result<(String, pg::Db), StepError> {
        let url = self.database_url().await?;
        let db = schema::connect_reusing(&mut self.kept, &url).await?;
        Ok((url, db))
    }

    fn keep(&mut self, url: String, db: pg::Db) {
        self.kept = Some(KeptConnection::new(url, db));
    }

    /// Takes the app's lock on its database for this run's holder, unless it has it or is a
    /// dry run.
    async fn lock_database(&mut self, target: &pg::Target) -> Result<()> {
        let Some(holder) = &self.holder else {
            return Ok(());
        };
        if self.db_lock.is_some() {
            return Ok(());
        }
        let name = holder.application_name();
        // The session of an earlier attempt of this very run (a resume after a kill) ends
        // once the server notices its client is gone: it is given a few seconds to.
        let patience = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match pg::lock::try_lock(target, &self.options.app, &name).await? {
                Ok(lock) => {
                    self.db_lock = Some(lock);
                    return Ok(());
                }
                Err(other)
                    if other.application_name.as_deref() == Some(name.as_str())
                        && std::time::Instant::now() < patience =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(other) => {
                    return Err(Error::Locked {
                        app: self.options.app.clone(),
                        place: "locked on its database",
                        holder: other.to_string(),
                    });
                }
            }
        }
    }

    /// The preflight's reads of the platform, which depend on none of each other, made
    /// together: the account, the app, its database add-on and the database's URL.
    async fn preflight_reads(
        &mut self,
    ) -> Result<(Account, App, Attachment, (String, pg::Target))> {
        let (api, options) = (&self.api, &self.options);
        let (app, which) = (options.app.as_str(), options.database.as_deref());
        let observer = self.observer.as_mut();
        let target = async {
            let url = pushpull::database_url(api, app, which, observer).await?;
            let target = pg::Target::parse(&url).map_err(StepError::from)?;
            Ok::<_, Error>((url, target))
        };
        let (account, found, db, target) = tokio::join!(
            api.account(),
            api.app(app),
            database::resolve(api, app, which),
            target,
        );
        // In this order, whichever answered first: a bad token, then an app that is not
        // there, are named as such rather than as the database they make unreachable.
        Ok((account?, found?, db?, target?))
    }

    async fn drop_schema(&mut self, state: &mut RunState) -> Result<String, StepError> {
        let (url, db) = self.database().await?;
        let read_before = self
            .schema_reading
            .take()
            .and_then(|reading| reading.fresh_for(&url));
        let report = schema::drop(&db, self.options.drop_dependents, read_before).await?;
        self.keep(url, db);
        state.destroyed.push(format!(
            "schema public of {} was dropped with its {} tables and their data",
            self.database_label(),
            report.before.tables
        ));
        Ok(format!(
            "dropped and recreated schema public ({} tables before)",
            report.before.tables
        ))
    }

    /// What the drop also destroys in other schemas, for its plan (`--drop-dependents`).
    fn lost_outside(&self) -> String {
        match &self.preflight.schema {
            Some(state) if !state.dependents.is_empty() => {
                let names: Vec<String> = state.dependents.iter().map(|d| d.to_string()).collect();
                format!(
                    "; ALSO DROPS {} object(s) in other schemas, with their data: {}",
                    names.len(),
                    names.join(", ")
                )
            }
            _ => String::new(),
        }
    }

    /// Where a restore reads from, as the plan and the report name it: a backup's name, or a
    /// URL without its query (a signature).
    fn restore_source(&self) -> String {
        match self.options.restore_from.as_deref() {
            None => "the newest backup".into(),
            Some(source) => without_query(source),
        }
    }

    /// After a migration that has finished (a command that exited), one look decides; an app
    /// that migrates at boot is given until the deadline.
    async fn verify(&mut self) -> Result<String, StepError> {
        if !self.verify_waits {
            let (url, db) = self.database().await?;
            let checked = schema::check(&db, self.expected.as_ref()).await?;
            self.keep(url, db);
            return match checked {
                SchemaCheck::Ready(line) => Ok(line),
                SchemaCheck::Pending { differences, first } => Err(StepError::Drift {
                    app: self.options.app.clone(),
                    differences,
                    first,
                }),
            };
        }
        let (api, app, wait) = (&self.api, self.options.app.as_str(), self.wait());
        let observer = self.observer.as_mut();
        match self.expected.as_ref() {
            // The schema matching is the sign the migration is over: the dynos are only
            // watched for a crash, not waited for.
            Some(expected) => {
                let expected = Some(expected);
                let (watch, kept) = (WatchDynos::Yes, self.kept.take());
                schema_wait::verify_until_ready(api, app, expected, watch, wait, kept, observer)
                    .await
            }
            // Without an expected schema, only the dynos being up say the migration is over:
            // tables appear one by one while it runs.
            None => {
                let up = steps::dynos::wait_up(api, app, wait, observer).await?;
                let (watch, kept) = (WatchDynos::No, self.kept.take());
                let line =
                    schema_wait::verify_until_ready(api, app, None, watch, wait, kept, observer)
                        .await?;
                Ok(format!("{up} dynos up; {line}"))
            }
        }
    }

    async fn wait_up(&mut self) -> Result<String, StepError> {
        let wait = self.wait();
        let up = steps::dynos::wait_up(&self.api, &self.options.app, wait, self.observer.as_mut())
            .await?;
        Ok(format!("{up} dynos up"))
    }

    /// Runs `command` on a one-off dyno and fails on a non-zero exit. The dyno is in the run
    /// state until it exits, so that a run stopped meanwhile stops it too: a resumed run would
    /// otherwise start the command a second time beside the first.
    async fn one_off(&mut self, command: &str, state: &mut RunState) -> Result<String, StepError> {
        let api = &self.api;
        let dyno = steps::run::start(api, &self.options.app, command, Default::default()).await?;
        state.one_off_dyno = Some(dyno.clone());
        let exited =
            steps::run::follow(api, &self.options.app, &dyno, self.options.timeout, |_| {}).await?;
        state.one_off_dyno = None;
        if exited.exit_status != 0 {
            return Err(StepError::CommandFailed {
                what: format!("`{command}` on {dyno}"),
                status: exited.exit_status,
            });
        }
        Ok(format!("`{command}` exited 0 on {dyno}"))
    }

    async fn migrate(&mut self, state: &mut RunState) -> Result<String, StepError> {
        match self.options.migrate.clone() {
            Migrate::Restart => {
                steps::dynos::restart(&self.api, &self.options.app, &RestartTarget::All).await?;
                if self.verify_follows {
                    return Ok("restarted all dynos; pg.verify waits for the migration".into());
                }
                let up = self.wait_up().await?;
                Ok(format!("restarted all dynos; {up}"))
            }
            Migrate::OneOffDyno(command) => self.one_off(&command, state).await,
            Migrate::Local(command) => {
                let url =
                    schema::database_url(&self.api, &self.options.app, self.observer.as_mut())
                        .await?;
                steps::migrate::run_local(&command, &url, self.observer.as_mut()).await?;
                Ok(format!("`{command}` exited 0"))
            }
        }
    }

    async fn create_addon(
        &mut self,
        state: &mut RunState,
        checkpoint: StateCheckpoint<'_>,
    ) -> Result<String, StepError> {
        let plan = match &self.options.plan {
            Some(plan) => plan.clone(),
            None => steps::addons::current_database_plan(&self.api, &self.options.app).await?,
        };
        let base = state.clone();
        let mut save = |creation: &steps::addons::Creation| {
            let mut state = base.clone();
            state.addon = creation.clone();
            checkpoint(&state)
        };
        let observer = self.observer.as_mut();
        let memory = &mut state.addon;
        let created = steps::addons::create_once(
            &self.api,
            &self.options.app,
            &plan,
            memory,
            &mut save,
            observer,
        )
        .await?;
        Ok(match created {
            Created::Reused(name) => format!("reusing {name} created by this run"),
            Created::Adopted(name) => {
                format!("adopted {name} ({plan}), made by an earlier attempt of this run")
            }
            Created::Created(name) => format!("created {name} ({plan})"),
        })
    }

    async fn promote(
        &mut self,
        state: &mut RunState,
        checkpoint: StateCheckpoint<'_>,
    ) -> Result<String, StepError> {
        let target = state
            .addon
            .created
            .clone()
            .ok_or(StepError::NothingToPromote)?;
        let base = state.clone();
        let mut save = |promotion: &steps::promote::Promotion| {
            let mut state = base.clone();
            state.promotion = promotion.clone();
            checkpoint(&state)
        };
        let observer = self.observer.as_mut();
        let memory = &mut state.promotion;
        let outcome = steps::promote::promote_once(
            &self.api,
            &self.options.app,
            &target,
            memory,
            &mut save,
            observer,
        )
        .await?;
        Ok(match outcome {
            PromoteOutcome::Promoted { addon, .. } => format!("{addon} is now DATABASE_URL"),
            PromoteOutcome::AlreadyPromoted { addon } => {
                format!("{addon} already was DATABASE_URL")
            }
        })
    }

    /// Copies the current database into the add-on this run created, then compares the rows
    /// of every table. The transfer is in the run state from the moment it is known.
    async fn copy(
        &mut self,
        state: &mut RunState,
        checkpoint: StateCheckpoint<'_>,
    ) -> Result<String, StepError> {
        let target = state.addon.created.clone().ok_or(StepError::StepNeeds {
            step: "pg.copy".into(),
            what: "the add-on of an addons.create step before it".into(),
        })?;
        let app = self.options.app.clone();
        let from =
            steps::copy::side(&self.api, &app, "DATABASE_URL", self.observer.as_mut()).await?;
        let to = steps::copy::side(&self.api, &app, &target, self.observer.as_mut()).await?;
        let base = state.clone();
        let mut save = |copying: &steps::copy::Copying| {
            let mut state = base.clone();
            state.copy = copying.clone();
            checkpoint(&state)
        };
        let wait = backup::transfer_wait(self.options.timeout);
        let observer = self.observer.as_mut();
        let memory = &mut state.copy;
        let (_, copied) = steps::copy::copy_once(
            &self.api,
            &app,
            (&from, &to),
            memory,
            &mut save,
            wait,
            observer,
        )
        .await?;
        let (tables, rows) = steps::copy::compare_rows(&app, &from, &to).await?;
        let how = match copied {
            Copied::Reused(name) => format!("{name}, finished earlier"),
            Copied::Followed(name) | Copied::Made(name) => name,
        };
        Ok(format!(
            "copied {} into {} ({how}); {tables} tables, {rows} rows on both",
            from.name(),
            to.name()
        ))
    }

    async fn push(&mut self) -> Result<String, StepError> {
        let from = self.options.push_from.clone().ok_or(StepError::StepNeeds {
            step: "pg.push".into(),
            what: "a local database (herokuops db push APP LOCAL_URL)".into(),
        })?;
        let password = self
            .options
            .push_password
            .clone()
            .or_else(|| std::env::var("PGPASSWORD").ok().map(Password::new));
        let app = self.options.app.clone();
        let database = self.options.database.clone();
        let local = (from.as_str(), password.as_ref());
        let bytes = pushpull::push(
            &self.api,
            &app,
            database.as_deref(),
            local,
            self.observer.as_mut(),
        )
        .await?;
        Ok(format!(
            "restored {} ({}) into {}",
            pg::redact_url(&from),
            crate::output::progress::human_bytes(bytes),
            self.database_label()
        ))
    }

    async fn wait_database(&mut self, state: &RunState) -> Result<String, StepError> {
        let name = state.addon.created.as_deref();
        let db = database::resolve(&self.api, &self.options.app, name).await?;
        let wait = self.wait();
        let observer = self.observer.as_mut();
        let message = database::wait_available(&self.api, &db.addon.id, wait, observer).await?;
        Ok(format!("{} is {message}", db.addon.name))
    }

    async fn maintenance_on(&mut self, state: &mut RunState) -> Result<String, StepError> {
        match steps::maintenance::turn_on_unless_on(&self.api, &self.options.app).await? {
            Switch::AlreadyOn => Ok("maintenance was already on".into()),
            Switch::TurnedOn => {
                state.maintenance_on_by_run = true;
                Ok("maintenance on".into())
            }
        }
    }

    /// The database the plan speaks of: the add-on's name once the preflight has found it.
    fn database_label(&self) -> String {
        if self.preflight.database_addon.is_empty() {
            "DATABASE".to_string()
        } else {
            self.preflight.database_addon.clone()
        }
    }

    /// The SQL of the drop, from schema `public` as the preflight found it.
    fn drop_sql(&self) -> Vec<String> {
        match &self.preflight.schema {
            Some(state) => {
                let mut sql = vec!["BEGIN".to_string()];
                sql.extend(pg::drop::statements(state));
                sql.push("COMMIT".into());
                sql
            }
            None => vec!["DROP SCHEMA public CASCADE; CREATE SCHEMA public (as it was)".into()],
        }
    }

    /// What `step` does, with the requests it sends, built as the client builds them.
    fn plan_of(&self, step: StepKind) -> (String, Vec<Request>, Vec<String>) {
        let app = self.options.app.as_str();
        let db = self.database_label();
        match step {
            StepKind::BackupCapture => (
                format!("capture a backup of {db}"),
                vec![
                    Request::capture_backup(&"{id}".into()),
                    Request::transfer(app, "{uuid}", false),
                ],
                vec![],
            ),
            StepKind::BackupRestore => self.restore_plan(),
            StepKind::PgDropSchema => self.drop_plan(),
            StepKind::PgVerify => self.verify_plan(),
            StepKind::PgWait => (
                "wait until the new database is available".into(),
                vec![Request::wait_status(&NEW_ADDON.into())],
                vec![],
            ),
            StepKind::PgPromote => self.promote_plan(),
            StepKind::PgCopy => self.copy_plan(),
            StepKind::PgPush => self.push_plan(),
            StepKind::AddonsCreate => self.addon_create_plan(),
            StepKind::MaintenanceOn => (
                "turn maintenance mode on".into(),
                vec![Request::set_maintenance(app, true)],
                vec![],
            ),
            StepKind::MaintenanceOff => (
                "turn maintenance mode off".into(),
                vec![Request::set_maintenance(app, false)],
                vec![],
            ),
            StepKind::DynosRestart => (
                "restart all dynos".into(),
                vec![Request::restart_dynos(app, &RestartTarget::All)],
                vec![],
            ),
            StepKind::DynosWaitUp => (
                "wait until every dyno is up".into(),
                vec![Request::dynos(app)],
                vec![],
            ),
            StepKind::Migrate => self.migrate_plan(),
            StepKind::Run => self.run_plan(),
        }
    }

    fn restore_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let url = self
            .options
            .restore_from
            .as_deref()
            .unwrap_or("{backup URL}");
        (
            format!(
                "restore {} from {}",
                self.database_label(),
                self.restore_source()
            ),
            vec![Request::restore(
                &"{id}".into(),
                url,
                &self.options.restore_extensions,
            )],
            vec![],
        )
    }

    fn drop_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        (
            format!(
                "drop schema public of {} ({} tables) and recreate it with its owner, grants and default privileges, in one transaction{}",
                self.database_label(),
                self.preflight.tables.len(),
                self.lost_outside()
            ),
            vec![Request::config_vars(&self.options.app)],
            self.drop_sql(),
        )
    }

    fn verify_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let description = match (&self.options.expect, self.verify_waits) {
            (Some(p), true) => format!(
                "poll until the schema matches {}; a crashed dyno fails it at once",
                p.display()
            ),
            (Some(p), false) => format!("check that the schema matches {}", p.display()),
            (None, true) => {
                "wait until every dyno is up, then until schema public has tables, and list them"
                    .into()
            }
            (None, false) => "check that schema public has tables, and list them".into(),
        };
        let app = self.options.app.as_str();
        let mut requests = vec![Request::config_vars(app)];
        if self.verify_waits {
            requests.push(Request::dynos(app));
        }
        (
            description,
            requests,
            vec!["catalog queries (a fixed number)".into()],
        )
    }

    fn promote_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let app = self.options.app.as_str();
        (
            "promote the new database to DATABASE_URL, keeping an alias for the old one".into(),
            vec![Request::create_attachment(&AttachmentCreate {
                addon: NEW_ADDON.into(),
                app: app.into(),
                name: Some("DATABASE".into()),
                namespace: None,
                confirm: Some(app.into()),
            })],
            vec![],
        )
    }

    /// The add-on is created on the plan asked for, else the current database's plan.
    fn addon_create_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let plan = self
            .options
            .plan
            .clone()
            .or(self.preflight.database_plan.clone())
            .unwrap_or_else(|| "heroku-postgresql".into());
        let spec = AddonCreate {
            plan: plan.clone(),
            ..Default::default()
        };
        (
            format!("create a {plan} add-on"),
            vec![Request::create_addon(&self.options.app, &spec)],
            vec![],
        )
    }

    fn run_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let app = self.options.app.as_str();
        let command = self.options.run_command.as_deref().unwrap_or("?");
        (
            format!("run `{command}` on a one-off dyno"),
            vec![Request::create_dyno(app, &one_off_spec(command))],
            vec![],
        )
    }

    fn copy_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let spec = CopySpec {
            from_name: "DATABASE".into(),
            from_url: "{DATABASE_URL}".into(),
            to_name: NEW_ADDON.into(),
            to_url: "{its URL}".into(),
        };
        (
            format!(
                "copy {} into the new database with Heroku's copy, then compare the row count of every table",
                self.database_label()
            ),
            vec![
                Request::copy(&NEW_ADDON.into(), &spec),
                Request::transfer(&self.options.app, "{uuid}", false),
            ],
            vec!["SELECT count(*) of every table, on both databases".into()],
        )
    }

    fn push_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let from = self
            .options
            .push_from
            .as_deref()
            .unwrap_or("the local database");
        (
            format!(
                "replace {} with {}: pg_dump | pg_restore --clean --single-transaction",
                self.database_label(),
                pg::redact_url(from)
            ),
            vec![Request::config_vars(&self.options.app)],
            vec!["pg_restore of the local dump, in one transaction".into()],
        )
    }

    fn migrate_plan(&self) -> (String, Vec<Request>, Vec<String>) {
        let app = self.options.app.as_str();
        match &self.options.migrate {
            Migrate::Restart if self.verify_follows => (
                "restart the dynos so the app migrates at boot (pg.verify waits for it)".into(),
                vec![Request::restart_dynos(app, &RestartTarget::All)],
                vec![],
            ),
            Migrate::Restart => (
                "restart the dynos so the app migrates at boot, and wait until they are up".into(),
                vec![
                    Request::restart_dynos(app, &RestartTarget::All),
                    Request::dynos(app),
                ],
                vec![],
            ),
            Migrate::OneOffDyno(command) => (
                format!("run `{command}` on a one-off dyno; fail on a non-zero exit"),
                vec![Request::create_dyno(app, &one_off_spec(command))],
                vec![],
            ),
            Migrate::Local(command) => (
                format!("run `{command}` here with DATABASE_URL set"),
                vec![Request::config_vars(app)],
                vec![],
            ),
        }
    }
}

/// The preflight's reads of schema `public` but the walk through what depends on it: its
/// tables, about how many rows they hold, and what a drop would put back.
async fn read_public(db: &pg::Db) -> Result<(Vec<String>, i64, pg::drop::SchemaState)> {
    Ok(tokio::try_join!(
        schema::table_names(db, "public"),
        schema::estimated_rows(db, "public"),
        async { Ok(pg::drop::inspect_apart(db, "public").await?) },
    )?)
}

fn one_off_spec(command: &str) -> DynoCreate {
    DynoCreate {
        command: command.to_string(),
        ..Default::default()
    }
}

impl Executor for HerokuExecutor {
    async fn preflight(&mut self) -> Result<Preflight> {
        if self.restores {
            // A backup that is not there must stop the run before the safety backup is taken.
            let source = self.options.restore_from.as_deref();
            if let Some(url) = source.filter(|s| split_query(s).1) {
                self.observer.event(steps::Event::Secret(url.to_string()));
            }
            backup::check_restore_source(&self.api, &self.options.app, source).await?;
        }
        let (account, app, db, (url, target)) = self.preflight_reads().await?;
        // The lock's session and the preflight's own, opened together, on two threads: most of
        // opening one is the client's share of the password exchange (SCRAM), work for a CPU.
        // The preflight's session starts at once on the walk through what depends on the
        // schema, most of the preflight's work; it only reads, and a refused lock discards it.
        let walking = tokio::spawn({
            let target = target.clone();
            async move {
                let connection = target.connect().await?;
                let dependents = pg::drop::dependents(&connection, "public").await;
                Ok::<_, pg::PgError>((connection, dependents))
            }
        });
        if let Err(e) = self.lock_database(&target).await {
            walking.abort();
            return Err(e);
        }
        let walked = |joined: std::result::Result<_, tokio::task::JoinError>| {
            joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        };
        // The rest on the lock's session, idle once the lock is held, beside the walk.
        let (connection, dependents, (tables, rows, schema)) = match &self.db_lock {
            Some(lock) => {
                let (walk, read) = tokio::join!(walking, read_public(lock.session()));
                let (connection, dependents) = walked(walk)?;
                (connection, dependents, read?)
            }
            None => {
                let (connection, dependents) = walked(walking.await)?;
                let read = read_public(&connection).await?;
                (connection, dependents, read)
            }
        };
        let schema = schema.with_dependents(dependents?);
        if self.drops && !schema.dependents.is_empty() && !self.options.drop_dependents {
            // Refused while planning: nothing is backed up, confirmed or dropped.
            return Err(pg::PgError::OtherSchemasDepend {
                target: db.addon.name.clone(),
                schema: "public".into(),
                dependents: schema.dependents.iter().map(|d| d.to_string()).collect(),
            }
            .into());
        }
        self.schema_reading = Some(SchemaReading::new(url.clone(), schema.clone()));
        self.keep(url, connection);
        self.preflight = Preflight {
            account: account.email,
            app: self.options.app.clone(),
            database_addon: db.addon.name.clone(),
            database_plan: db.plan_name().map(str::to_string),
            maintenance: app.maintenance,
            tables,
            rows,
            schema: Some(schema),
            expect: self.options.expect.clone(),
        };
        Ok(self.preflight.clone())
    }

    fn describe(&self, step: StepKind) -> StepPlan {
        let (description, requests, sql) = self.plan_of(step);
        StepPlan {
            step,
            description,
            requests: requests.iter().map(Request::describe).collect(),
            sql,
            destructive: step.is_destructive(),
        }
    }

    async fn safety_backup(&mut self) -> Result<String> {
        Ok(self.capture().await?)
    }

    async fn execute(
        &mut self,
        step: StepKind,
        state: &mut RunState,
        checkpoint: StateCheckpoint<'_>,
    ) -> Result<String> {
        let done = match step {
            StepKind::BackupCapture => {
                let name = self.capture().await?;
                state.backup = Some(name.clone());
                Ok(format!("backup {name}"))
            }
            StepKind::BackupRestore => self.restore(state).await,
            StepKind::PgDropSchema => self.drop_schema(state).await,
            StepKind::PgVerify => self.verify().await,
            StepKind::PgWait => self.wait_database(state).await,
            StepKind::PgPromote => self.promote(state, checkpoint).await,
            StepKind::PgCopy => self.copy(state, checkpoint).await,
            StepKind::PgPush => self.push().await,
            StepKind::AddonsCreate => self.create_addon(state, checkpoint).await,
            StepKind::MaintenanceOn => self.maintenance_on(state).await,
            StepKind::MaintenanceOff => {
                steps::maintenance::turn(&self.api, &self.options.app, false).await?;
                state.maintenance_on_by_run = false;
                Ok("maintenance off".into())
            }
            StepKind::DynosRestart => {
                steps::dynos::restart(&self.api, &self.options.app, &RestartTarget::All).await?;
                Ok("restarted all dynos".into())
            }
            StepKind::DynosWaitUp => self.wait_up().await,
            StepKind::Migrate => self.migrate(state).await,
            StepKind::Run => {
                let command = self.options.run_command.clone().ok_or_else(|| {
                    Error::usage("the playbook has a `run` step: pass --command CMD")
                })?;
                self.one_off(&command, state).await
            }
        };
        Ok(done?)
    }

    async fn maintenance_off(&mut self) -> Result<()> {
        steps::maintenance::turn(&self.api, &self.options.app, false).await?;
        Ok(())
    }

    async fn stop_dyno(&mut self, dyno: &str) -> Result<()> {
        self.api.stop_dyno(&self.options.app, dyno).await?;
        Ok(())
    }

    fn may_repeat(&self, step: Option<StepKind>) -> bool {
        match step {
            Some(StepKind::Run) => false,
            Some(StepKind::Migrate) => self.options.migrate.may_repeat(),
            _ => true,
        }
    }

    fn describe_state(&self, state: &RunState) -> String {
        let mut parts = Vec::new();
        let created = state.addon.created.as_deref();
        if let Some(prev) = &state.promotion.previous_addon {
            parts.push(format!(
                "DATABASE_URL is {}; the previous database {prev} is kept{}",
                created.unwrap_or("the new database"),
                state
                    .promotion
                    .previous_alias
                    .as_ref()
                    .map(|a| format!(" as {a}_URL"))
                    .unwrap_or_default()
            ));
        } else if let Some(created) = created {
            parts.push(format!(
                "the new add-on {created} exists but is not DATABASE_URL"
            ));
        }
        let app = &self.options.app;
        match (&state.safety_backup, state.destroyed.is_empty()) {
            (Some(backup), true) => parts.push(format!(
                "the data from before the run is in backup {backup}"
            )),
            (Some(backup), false) => parts.push(format!(
                "this run destroyed data: {}; the data from before the run is in backup {backup}, to get it back: herokuops backup restore {app} {backup} --confirm {app}",
                state.destroyed.join("; ")
            )),
            (None, false) => parts.push(format!(
                "this run destroyed data: {}; no safety backup was taken, so it is gone unless a backup of your own holds it (`herokuops backup list {app}`)",
                state.destroyed.join("; ")
            )),
            (None, true) => {}
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

/// A URL without its query string (where a signature lives); anything else as it is.
pub fn without_query(source: &str) -> String {
    match url::Url::parse(source) {
        Ok(mut url) if url.query().is_some() => {
            url.set_query(None);
            format!("{url}?…")
        }
        _ => source.to_string(),
    }
}
