//! What a command may use: the streams, the global options, the prompter, and (on first use) an
//! API client with the token resolved. Commands take a `&Ctx` and touch nothing ambient.

use std::sync::OnceLock;

use crate::api::{ApiClient, Endpoints};
use crate::credentials::{self, Credential, CredentialEnv, FileStore, KeyringStore, SecretStore};
use crate::error::{Error, Result};
use crate::output::Io;
use crate::output::progress::{Kind, Progress};
use crate::output::prompt::{Prompter, confirm_destructive};
use crate::steps::{Event, Observer};

use super::Global;

pub struct Ctx {
    pub io: Io,
    pub global: Global,
    pub prompter: Box<dyn Prompter>,
    endpoints: OnceLock<Endpoints>,
    api: OnceLock<ApiClient>,
    credential: OnceLock<Option<Credential>>,
}

impl Ctx {
    pub fn new(io: Io, global: Global, prompter: Box<dyn Prompter>) -> Self {
        Ctx {
            io,
            global,
            prompter,
            endpoints: OnceLock::new(),
            api: OnceLock::new(),
            credential: OnceLock::new(),
        }
    }

    /// A context whose API client is given, not resolved: the apps of a fleet share one
    /// client, and with it one rate-limit budget.
    pub fn with_api(io: Io, global: Global, prompter: Box<dyn Prompter>, api: ApiClient) -> Self {
        let ctx = Ctx::new(io, global, prompter);
        let _ = ctx.endpoints.set(api.endpoints().clone());
        let _ = ctx.api.set(api);
        ctx
    }

    /// Where the APIs are, from `HEROKU_HOST` / `HEROKU_DATA_HOST`.
    pub fn endpoints(&self) -> Result<Endpoints> {
        if let Some(e) = self.endpoints.get() {
            return Ok(e.clone());
        }
        let var = |n: &str| std::env::var(n).ok();
        let data_host = var("HEROKU_DATA_HOST").or_else(|| var("HEROKU_POSTGRESQL_HOST"));
        let endpoints = Endpoints::from_vars(var("HEROKU_HOST").as_deref(), data_host.as_deref())
            .map_err(Error::Usage)?;
        Ok(self.endpoints.get_or_init(|| endpoints).clone())
    }

    /// The keyring (or the token file named by `HEROKUOPS_KEYRING_FILE`).
    pub fn secret_store(&self) -> Option<Box<dyn SecretStore>> {
        if let Some(path) = std::env::var_os("HEROKUOPS_KEYRING_FILE").filter(|p| !p.is_empty()) {
            return Some(Box::new(FileStore { path: path.into() }));
        }
        KeyringStore::platform().map(|s| Box::new(s) as Box<dyn SecretStore>)
    }

    /// The token and where it came from, if any source has one.
    pub fn credential(&self) -> Result<Option<Credential>> {
        if let Some(c) = self.credential.get() {
            return Ok(c.clone());
        }
        let endpoints = self.endpoints()?;
        let env = CredentialEnv::from_process(endpoints.platform.host_str().map(|h| {
            match endpoints.platform.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            }
        }));
        let store = if env.api_key.is_some() || env.ci {
            None
        } else {
            self.secret_store()
        };
        let found = credentials::resolve(&env, store.as_deref(), |w| tracing::debug!("{w}"))?;
        if let Some(credential) = &found {
            self.io.mask(credential.token.expose());
        }
        Ok(self.credential.get_or_init(|| found).clone())
    }

    /// The API client, authenticated; fails with exit 4 when no token is found.
    pub fn api(&self) -> Result<&ApiClient> {
        if let Some(api) = self.api.get() {
            return Ok(api);
        }
        let credential = self.credential()?.ok_or(Error::NoToken)?;
        let client = ApiClient::new(self.endpoints()?, Some(credential.token))?;
        Ok(self.api.get_or_init(|| client))
    }

    /// Confirms a destructive action on `app` (exit 2 without a TTY or `--confirm APP`).
    pub fn confirm(&self, app: &str, action: &str) -> Result<()> {
        let question = format!("{action} on {app} cannot be undone.");
        self.confirm_with(app, action, &question)
    }

    /// Confirms after `question`, which says what will happen and what will be lost.
    pub fn confirm_with(&self, app: &str, action: &str, question: &str) -> Result<()> {
        confirm_destructive(
            self.prompter.as_ref(),
            app,
            action,
            question,
            self.global.confirm.as_deref(),
        )
    }

    /// Refuses now a destructive action that `confirm` would refuse later without asking.
    pub fn confirmation_possible(&self, app: &str, action: &str) -> Result<()> {
        crate::output::prompt::confirmation_possible(
            self.prompter.as_ref(),
            app,
            action,
            self.global.confirm.as_deref(),
        )
    }

    /// An observer that shows a step's events as a spinner (or lines) labelled `label`.
    pub fn spinner(&self, label: &str) -> ProgressObserver {
        ProgressObserver {
            progress: Some(Progress::new(&self.io, label, Kind::Spinner)),
            io: self.io.clone(),
        }
    }

    /// An observer with a byte-counting bar.
    pub fn bytes_bar(&self, label: &str) -> ProgressObserver {
        ProgressObserver {
            progress: Some(Progress::new(&self.io, label, Kind::Bytes)),
            io: self.io.clone(),
        }
    }

    /// The database URL of an app's DATABASE_URL (or of `--database-url`). Never shown unmasked.
    pub async fn database_url(
        &self,
        app: Option<&str>,
        database_url: Option<&str>,
    ) -> Result<String> {
        if let Some(url) = database_url {
            self.io.mask(url);
            return Ok(url.to_string());
        }
        let app = app.ok_or_else(|| {
            Error::usage("no database given: pass APP, -a APP, or --database-url URL")
        })?;
        let io = self.io.clone();
        let mut mask = move |event: Event| {
            if let Event::Secret(secret) = event {
                io.mask(&secret);
            }
        };
        Ok(crate::steps::schema::database_url(self.api()?, app, &mut mask).await?)
    }
}

/// Turns step events into progress output.
pub struct ProgressObserver {
    progress: Option<Progress>,
    io: Io,
}

impl Observer for ProgressObserver {
    fn event(&mut self, event: Event) {
        match event {
            Event::Status(text) => {
                if let Some(p) = self.progress.as_mut() {
                    p.status(&text)
                }
            }
            Event::Bytes { done, total } => {
                if let Some(p) = self.progress.as_mut() {
                    p.set_bytes(done, total)
                }
            }
            Event::Warning(text) => self.io.warn(&text),
            Event::Output(line) => self.io.err_line(&line),
            Event::Secret(secret) => self.io.mask(&secret),
        }
    }
}

impl ProgressObserver {
    /// Ends the progress as done, with one line saying what came of it.
    pub fn finish(mut self, text: &str) {
        if let Some(p) = self.progress.take() {
            p.finish(text);
        }
    }
}
