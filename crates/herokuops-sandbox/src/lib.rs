//! A local Heroku: the subset of the Platform API and the Postgres data API that herokuops (and
//! the official Heroku CLI, for the same commands) uses, served on loopback with real effects on
//! a real PostgreSQL server.
//!
//! Every Postgres add-on is a real database with its own role and password; backups are real
//! `pg_dump -Fc` files, restores real `pg_restore` runs and copies both piped; one-off dynos run their command
//! locally with the app's config vars in their environment; a dyno restart runs the app's boot
//! migration against the current `DATABASE_URL`. Apps come from `fixtures/sandbox/*.toml`.
//!
//! The server listens on 127.0.0.1 and 127.0.0.2 on one port (the official CLI reaches the data
//! API at a second loopback address), accepts only the configured token, and has a control API
//! for tests under `/__sandbox/` (see [`control`]).

pub mod cluster;
mod control;
mod copies;
mod data;
mod dynos;
pub mod fixture;
mod http;
mod paging;
mod platform;
mod postgres;
mod state;
mod wire;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};

pub use cluster::{ClusterError, ClusterOptions, TempCluster};
pub use control::RateLimit;

use control::ControlState;
use fixture::LoadedApp;
use herokuops::pg::PgError;
use postgres::PgServer;
use state::{AddonState, AppState, AttachmentState, DynoState, FormationState, World};

/// The token accepted when none is configured.
pub const DEFAULT_TOKEN: &str = "sandbox-token";

/// Why the sandbox could not start or do something. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("fixture {path}: {message}")]
    Fixture { path: PathBuf, message: String },

    #[error("could not start a temporary PostgreSQL cluster: {0}")]
    Cluster(#[from] ClusterError),

    #[error(transparent)]
    Pg(#[from] PgError),

    #[error("could not listen on {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Setup(String),
}

/// Where the sandbox's databases live.
#[derive(Debug, Clone)]
pub enum PostgresSource {
    /// Start a temporary cluster, stopped with the sandbox.
    OwnCluster(ClusterOptions),
    /// An existing server, reached with a role that may create roles and databases. The
    /// sandbox drops what it created on [`Sandbox::shutdown`].
    Url {
        url: String,
        /// Where that server's binaries are, to use a matching `pg_dump`.
        bin_dir: Option<PathBuf>,
    },
}

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// 0 picks a free port.
    pub port: u16,
    pub postgres: PostgresSource,
    /// The directory of `*.toml` app fixtures.
    pub fixtures: PathBuf,
    pub token: String,
    /// How long a new add-on stays `provisioning`.
    pub provision_delay: Duration,
    /// How long a public backup URL stays valid.
    pub public_url_ttl: Duration,
    /// How long a poll of an unfinished transfer may wait for it to finish before answering.
    /// Small dumps finish within it, so clients polling every few seconds are not slowed by a
    /// poll interval for a backup that took 100 ms.
    pub transfer_settle: Duration,
    /// The least time a backup takes (default none: as long as `pg_dump` does).
    pub backup_time: Duration,
    /// The token bucket behind `RateLimit-Remaining` and 429 (default: Heroku's).
    pub rate_limit: RateLimit,
    /// Serve every fixture app as this many copies, `NAME-01` to `NAME-N`, each with its own
    /// databases (for fleets); `None` serves the fixtures as they are.
    pub copies: Option<usize>,
}

impl SandboxOptions {
    pub fn new(postgres: PostgresSource) -> SandboxOptions {
        SandboxOptions {
            port: 0,
            postgres,
            fixtures: default_fixtures_dir(),
            token: DEFAULT_TOKEN.to_string(),
            provision_delay: Duration::from_secs(2),
            public_url_ttl: Duration::from_secs(10 * 60),
            transfer_settle: Duration::from_secs(1),
            backup_time: Duration::ZERO,
            rate_limit: RateLimit::default(),
            copies: None,
        }
    }
}

/// `./fixtures/sandbox` when it exists (a checkout), else the one of the source tree this was
/// built from.
pub fn default_fixtures_dir() -> PathBuf {
    let local = PathBuf::from("fixtures/sandbox");
    if local.is_dir() {
        local
    } else {
        // The fixtures are the workspace's, two levels above this crate.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sandbox")
    }
}

/// Shared by every request handler and background task.
pub(crate) struct Inner {
    pub options: SandboxOptions,
    pub pg: PgServer,
    pub apps: Vec<LoadedApp>,
    pub world: Mutex<World>,
    control: Mutex<ControlState>,
    pub storage: PathBuf,
    pub port: u16,
    /// Woken when a transfer finishes.
    pub transfers_changed: tokio::sync::Notify,
    tasks: Mutex<Vec<AbortHandle>>,
    /// One reset at a time.
    reset_lock: tokio::sync::Mutex<()>,
}

impl Inner {
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The address a client should use for URLs the sandbox hands out (public backup URLs,
    /// log streams): the platform listener.
    pub fn public_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn control(&self) -> MutexGuard<'_, ControlState> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs background work that the sandbox stops when it stops.
    pub fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(work);
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle.abort_handle());
    }
}

/// A running sandbox. Dropping it stops serving, ends its background work, and stops its own
/// cluster; [`Sandbox::shutdown`] also drops the databases it made on a given server.
pub struct Sandbox {
    inner: Arc<Inner>,
    listeners: Vec<JoinHandle<()>>,
    cluster: Option<TempCluster>,
    /// The databases on a given server have been dropped (or there is nothing to drop).
    cleaned: bool,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("port", &self.inner.port)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts the server: the cluster (if its own), the fixtures' apps with their databases and
    /// boot migrations, and the two listeners.
    pub async fn start(options: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let mut apps = fixture::load_dir(&options.fixtures)?;
        if let Some(n) = options.copies {
            apps = fixture::copies(&apps, n).map_err(|message| SandboxError::Fixture {
                path: options.fixtures.clone(),
                message,
            })?;
        }
        let (cluster, admin_url, bin_dir) = match &options.postgres {
            PostgresSource::OwnCluster(cluster_options) => {
                let cluster_options = cluster_options.clone();
                let cluster =
                    tokio::task::spawn_blocking(move || TempCluster::start_with(&cluster_options))
                        .await
                        .map_err(|e| SandboxError::Setup(format!("cluster start: {e}")))??;
                let url = cluster.admin_url();
                let bin = cluster.bin_dir().to_path_buf();
                (Some(cluster), url, Some(bin))
            }
            PostgresSource::Url { url, bin_dir } => (None, url.clone(), bin_dir.clone()),
        };
        let pg = PgServer::new(&admin_url, bin_dir.as_deref())?;
        pg.check().await?;

        let (api, data, port) = bind(options.port).await?;
        let storage = std::env::temp_dir().join(format!(
            "herokuops-sandbox-{}-{}",
            std::process::id(),
            cluster::random_word(8)
        ));
        std::fs::create_dir_all(&storage).map_err(|source| SandboxError::Io {
            context: format!("creating {}", storage.display()),
            source,
        })?;
        let rate_limit = options.rate_limit;
        let inner = Arc::new(Inner {
            options,
            pg,
            apps,
            world: Mutex::new(World::empty(0)),
            control: Mutex::new(ControlState::new(rate_limit)),
            storage,
            port,
            transfers_changed: tokio::sync::Notify::new(),
            tasks: Mutex::new(Vec::new()),
            reset_lock: tokio::sync::Mutex::new(()),
        });
        // Connections wait in the listeners' backlog until the world is in place.
        let world = build_world(&inner, 1).await?;
        *inner.world() = world;
        Ok(Sandbox {
            listeners: vec![
                tokio::spawn(http::serve(inner.clone(), api, wire::Listener::Api)),
                tokio::spawn(http::serve(inner.clone(), data, wire::Listener::Data)),
            ],
            inner,
            cluster,
            cleaned: false,
        })
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// The Platform API base URL, e.g. `http://127.0.0.1:5555` (`HEROKU_HOST`).
    pub fn base_url(&self) -> String {
        self.inner.public_base()
    }

    /// The data API's host name as the official CLI wants it (`HEROKU_DATA_HOST`).
    pub fn data_host(&self) -> &'static str {
        "127.0.0.2"
    }

    /// The data API base URL on the second loopback address.
    pub fn data_url(&self) -> String {
        format!("http://127.0.0.2:{}", self.inner.port)
    }

    /// The addresses listened on: loopback only.
    pub fn addresses(&self) -> Vec<std::net::SocketAddr> {
        http::local_addrs(self.inner.port).to_vec()
    }

    pub fn token(&self) -> &str {
        &self.inner.options.token
    }

    /// The names of the fixture apps.
    pub fn apps(&self) -> Vec<String> {
        self.inner
            .apps
            .iter()
            .map(|a| a.fixture.name.clone())
            .collect()
    }

    /// Stops serving and background work, drops every database this sandbox created, and stops
    /// its own cluster.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        self.stop_serving();
        let result = if self.cluster.is_none() {
            self.cleaned = true;
            drop_databases(&self.inner).await
        } else {
            Ok(())
        };
        if let Some(mut cluster) = self.cluster.take() {
            tokio::task::spawn_blocking(move || cluster.stop())
                .await
                .map_err(|e| SandboxError::Setup(format!("cluster stop: {e}")))??;
        }
        result
    }

    fn stop_serving(&mut self) {
        for l in self.listeners.drain(..) {
            l.abort();
        }
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            t.abort();
        }
        let _ = std::fs::remove_dir_all(&self.inner.storage);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_serving();
        // Databases on a server we were given outlive us unless dropped here. Drop cannot
        // await, so a thread of its own with its own runtime does it, and we wait for it.
        if self.cluster.is_none() && !self.cleaned {
            self.cleaned = true;
            let inner = self.inner.clone();
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = rt.block_on(drop_databases(&inner));
                }
            })
            .join();
        }
    }
}

/// Drops every add-on database of the world; the first failure is returned after trying all.
async fn drop_databases(inner: &Inner) -> Result<(), SandboxError> {
    let creds: Vec<_> = inner
        .world()
        .addons
        .iter()
        .map(|a| a.creds.clone())
        .collect();
    let mut first_error = None;
    for c in creds {
        if let Err(e) = inner.pg.drop_database(&c).await {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Binds 127.0.0.1 and 127.0.0.2 on one port; with port 0, a port free on both.
async fn bind(port: u16) -> Result<(TcpListener, TcpListener, u16), SandboxError> {
    let bind_err = |address: String| move |source| SandboxError::Bind { address, source };
    let attempts = if port == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let api = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(bind_err(format!("127.0.0.1:{port}")))?;
        let chosen = api
            .local_addr()
            .map_err(bind_err("127.0.0.1".into()))?
            .port();
        match TcpListener::bind(("127.0.0.2", chosen)).await {
            Ok(data) => return Ok((api, data, chosen)),
            Err(e) => last = Some(bind_err(format!("127.0.0.2:{chosen}"))(e)),
        }
    }
    Err(last.unwrap_or_else(|| SandboxError::Setup("no port".into())))
}

/// Creates the fixtures' apps: their databases, attachments, config vars, dynos and releases,
/// and runs each app's boot migration as its first boot would.
async fn build_world(inner: &Arc<Inner>, epoch: u64) -> Result<World, SandboxError> {
    let mut databases = create_databases(inner).await?.into_iter();
    let mut boots = Vec::new();
    let mut world = World::empty(epoch);
    for loaded in &inner.apps {
        let f = &loaded.fixture;
        let now = state::now_platform();
        let mut app = AppState {
            id: state::new_id(),
            name: f.name.clone(),
            stack: f.stack.clone(),
            stack_id: state::new_id(),
            region: f.region.clone(),
            maintenance: f.maintenance,
            created_at: now.clone(),
            updated_at: now.clone(),
            config_vars: f.config_vars.clone(),
            formation: Vec::new(),
            dynos: Vec::new(),
            releases: Vec::new(),
            boot: loaded.boot.clone(),
            logs: Arc::new(state::LogBuffer::new()),
            migrate_lock: Arc::new(tokio::sync::Mutex::new(())),
            restart_seq: 0,
            next_transfer_num: 1,
        };
        app.add_release("Initial release");
        for addon_fixture in &f.addons {
            let (creds, url) = databases
                .next()
                .ok_or_else(|| SandboxError::Setup("fewer databases than add-ons".into()))?;
            let addon = AddonState {
                id: state::new_id(),
                name: addon_fixture
                    .name
                    .clone()
                    .unwrap_or_else(|| platform::addon_name(&world)),
                app_id: app.id.clone(),
                plan: addon_fixture.plan.clone(),
                created_at: now.clone(),
                updated_at: now.clone(),
                created: SystemTime::now(),
                ready_at: Instant::now(),
                creds,
                url: url.clone(),
            };
            for name in &addon_fixture.attachments {
                world.attachments.push(AttachmentState {
                    id: state::new_id(),
                    name: name.clone(),
                    namespace: None,
                    addon_id: addon.id.clone(),
                    app_id: app.id.clone(),
                    created_at: now.clone(),
                });
                app.config_vars.insert(format!("{name}_URL"), url.clone());
                app.add_release(format!("Attach {name} (@ref:{})", addon.name));
            }
            world.addons.push(addon);
        }
        if !f.config_vars.is_empty() {
            let names: Vec<&str> = f.config_vars.keys().map(String::as_str).collect();
            app.add_release(format!("Set {} config vars", names.join(", ")));
        }
        app.add_release("Deploy 5e1d9ae");
        let version = app.current_release();
        for process in &f.formation {
            app.formation.push(FormationState {
                id: state::new_id(),
                process_type: process.process_type.clone(),
                command: process.command.clone(),
                quantity: process.quantity,
                size: process.size.clone(),
                created_at: now.clone(),
                updated_at: now.clone(),
            });
            for n in 1..=process.quantity {
                app.dynos.push(DynoState {
                    id: state::new_id(),
                    name: format!("{}.{n}", process.process_type),
                    process_type: process.process_type.clone(),
                    command: process.command.clone(),
                    size: process.size.clone(),
                    state: "up".into(),
                    created_at: now.clone(),
                    updated_at: now.clone(),
                    release_version: version,
                    restart_seq: 0,
                    stop: None,
                });
            }
        }
        // The app has booted once: its dynos started, and its schema is in place, as on a
        // deployed app; the log says so, from both sources.
        for dyno in &app.dynos {
            let started = format!("Starting process with command `{}`", dyno.command);
            app.logs.push("heroku", &dyno.name, &started);
        }
        if let (Some(boot), Some(url)) = (&app.boot, app.config_vars.get("DATABASE_URL")) {
            boots.push((url.clone(), boot.clone()));
            app.logs.push("app", "web.1", "Boot migration applied");
        }
        for dyno in &app.dynos {
            app.logs
                .push("heroku", &dyno.name, "State changed from starting to up");
        }
        world.apps.push(app);
    }
    let migrations = boots
        .into_iter()
        .map(|(url, boot)| async move {
            postgres::run_boot_migration(&url, &boot).await?;
            Ok(())
        })
        .collect();
    bounded(migrations).await?;
    Ok(world)
}

/// How many databases are created or migrated at once while the world is built: fifty apps
/// one after another would make most of the start time.
const SETUP_CONCURRENCY: usize = 8;

/// Every fixture add-on's database with its seed SQL run, in fixture order, with its URL.
async fn create_databases(
    inner: &Arc<Inner>,
) -> Result<Vec<(postgres::DbCredentials, String)>, SandboxError> {
    let seeds = inner
        .apps
        .iter()
        .flat_map(|a| a.fixture.addons.iter().map(|addon| addon.seed_sql.clone()));
    let creations = seeds
        .map(|seed| {
            let inner = inner.clone();
            async move {
                let creds = inner.pg.create_database().await?;
                let url = inner.pg.url(&creds);
                if let Some(seed) = seed {
                    herokuops::pg::Target::parse(&url)?
                        .connect()
                        .await?
                        .batch("the add-on's seed SQL", &seed)
                        .await?;
                }
                Ok((creds, url))
            }
        })
        .collect();
    bounded(creations).await
}

/// Runs the futures as tasks, at most [`SETUP_CONCURRENCY`] at once; results in input order.
async fn bounded<T, F>(work: Vec<F>) -> Result<Vec<T>, SandboxError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, SandboxError>> + Send + 'static,
{
    let limit = Arc::new(tokio::sync::Semaphore::new(SETUP_CONCURRENCY));
    let handles: Vec<_> = work
        .into_iter()
        .map(|f| {
            let limit = limit.clone();
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                f.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        let result = handle
            .await
            .map_err(|e| SandboxError::Setup(format!("setting up a database: {e}")))?;
        results.push(result?);
    }
    Ok(results)
}

/// Back to the fixtures: every database is dropped and created again, background work stops,
/// recorded requests and faults are forgotten.
pub(crate) async fn reset(inner: &Arc<Inner>) -> Result<(), SandboxError> {
    let _one = inner.reset_lock.lock().await;
    let (epoch, creds) = {
        let mut world = inner.world();
        world.epoch += 1;
        let creds: Vec<_> = world.addons.iter().map(|a| a.creds.clone()).collect();
        (world.epoch, creds)
    };
    let tasks = std::mem::take(&mut *inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
    for t in tasks {
        t.abort();
    }
    for c in &creds {
        inner.pg.drop_database(c).await?;
    }
    if let Ok(entries) = std::fs::read_dir(&inner.storage) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    inner.control().clear();
    let world = build_world(inner, epoch).await?;
    *inner.world() = world;
    Ok(())
}
