//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory, `pg_ctl start` on a free
//! loopback port, stopped and deleted on drop.
//!
//! `initdb` refuses to run as root, so when the process is root every server command runs as an
//! unprivileged user (`postgres` by default) through `runuser`. A small watchdog process stops
//! the cluster and removes its directory if this process dies without dropping it (a killed
//! sandbox, or a test binary whose shared cluster lives in a `static`).
//!
//! Everything here is blocking (it runs a few short commands); call it from `spawn_blocking` in
//! async code.

use std::fmt;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use rand::Rng;
use rand::distr::Alphanumeric;

/// Why a cluster could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under /usr/lib/postgresql/*/bin"
    )]
    BinariesNotFound,

    #[error(
        "running as root, but the user {user:?} to run PostgreSQL as does not exist (initdb refuses to run as root)"
    )]
    NoUnprivilegedUser { user: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{command} failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// How to start a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Where the server binaries are; found automatically when `None`.
    pub bin_dir: Option<PathBuf>,
    /// The user to run the server as when this process is root (default `postgres`).
    pub run_as: Option<String>,
    /// The parent of the temporary directory (default: the system temp dir).
    pub parent_dir: Option<PathBuf>,
    /// Run initdb every time instead of copying the cached template data directory.
    pub no_template: bool,
}

/// A running temporary cluster listening on 127.0.0.1. Dropping it stops the server and removes
/// its files.
pub struct TempCluster {
    dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    password: String,
    run_as: Option<String>,
    watchdog: Option<Child>,
    stopped: bool,
}

// The superuser password stays out of Debug output.
impl fmt::Debug for TempCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempCluster")
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("run_as", &self.run_as)
            .finish_non_exhaustive()
    }
}

/// The superuser `initdb` creates; the sandbox connects as it to create databases and roles.
pub const SUPERUSER: &str = "postgres";

impl TempCluster {
    /// Starts a cluster with the default options.
    pub fn start() -> Result<TempCluster, ClusterError> {
        TempCluster::start_with(&ClusterOptions::default())
    }

    pub fn start_with(options: &ClusterOptions) -> Result<TempCluster, ClusterError> {
        let bin_dir = match &options.bin_dir {
            Some(dir) => dir.clone(),
            None => find_server_bin_dir().ok_or(ClusterError::BinariesNotFound)?,
        };
        let run_as = if is_root() {
            let user = options.run_as.clone().unwrap_or_else(|| "postgres".into());
            if user_ids(&user).is_none() {
                return Err(ClusterError::NoUnprivilegedUser { user });
            }
            Some(user)
        } else {
            None
        };
        let parent = options
            .parent_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let dir = parent.join(format!(
            "herokuops-pg-{}-{}",
            std::process::id(),
            random_word(8)
        ));
        std::fs::create_dir(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let mut cluster = TempCluster {
            dir,
            bin_dir,
            port: 0,
            password: random_word(32),
            run_as,
            watchdog: None,
            stopped: false,
        };
        // From here on, a failure drops `cluster`, which removes the directory.
        cluster.prepare_dir()?;
        cluster.watchdog = cluster.spawn_watchdog().ok();
        let templated = !options.no_template && cluster.copy_template(&parent).is_ok();
        if templated && cluster.start_server().is_ok() {
            return Ok(cluster);
        }
        // No template, or a copy that does not start: a fresh initdb.
        let _ = std::fs::remove_dir_all(cluster.data_dir());
        cluster.password = random_word(32);
        cluster.initdb(&cluster.data_dir(), &cluster.password)?;
        cluster.own_socket_dir()?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The directory of the server binaries (pg_dump and pg_restore of the same version live
    /// there too).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The superuser connection URL. It contains the password: never log it.
    pub fn admin_url(&self) -> String {
        self.url(SUPERUSER, &self.password, "postgres")
    }

    /// A connection URL for a role and database on this server.
    pub fn url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@{}:{}/{database}",
            self.host(),
            self.port
        )
    }

    /// Stops the server and removes its files. Called by `Drop`; calling it twice is harmless.
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let data = self.data_dir();
        let result = if data.join("postmaster.pid").exists() {
            let pg_ctl = self.bin_dir.join("pg_ctl");
            let mut cmd = self.server_command(&pg_ctl);
            cmd.arg("stop")
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w"]);
            run(cmd, "pg_ctl stop").map(|_| ())
        } else {
            Ok(())
        };
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        result
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command run as the server's user.
    fn server_command(&self, program: &Path) -> Command {
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        // Locale variables of the caller may name locales the server does not have.
        cmd.env("LC_ALL", "C").env_remove("PGDATA");
        cmd
    }

    fn prepare_dir(&self) -> Result<(), ClusterError> {
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err("setting permissions of the cluster directory"))?;
        if let Some(user) = &self.run_as {
            let (uid, gid) = user_ids(user)
                .ok_or_else(|| ClusterError::NoUnprivilegedUser { user: user.clone() })?;
            std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid))
                .map_err(io_err("handing the cluster directory to the server user"))?;
        }
        Ok(())
    }

    /// `initdb` into `data` with `password` for the superuser, and the settings of a
    /// throwaway cluster.
    fn initdb(&self, data: &Path, password: &str) -> Result<(), ClusterError> {
        let scratch = data.parent().unwrap_or(&self.dir);
        let pwfile = scratch.join("pwfile");
        {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode_600()
                .open(&pwfile)
                .map_err(io_err("writing the password file"))?;
            writeln!(file, "{password}").map_err(io_err("writing the password file"))?;
        }
        self.give_to_server_user(&pwfile)?;
        let mut cmd = self.server_command(&self.bin_dir.join("initdb"));
        cmd.arg("-D")
            .arg(data)
            .args(["-U", SUPERUSER, "-A", "scram-sha-256", "-E", "UTF8"])
            // 1 MB WAL segments instead of 16: a smaller directory to create and copy.
            .args([
                "--locale=C",
                "--no-sync",
                "--no-instructions",
                "--wal-segsize=1",
            ])
            .arg(format!("--pwfile={}", pwfile.display()));
        let result = run(cmd, "initdb");
        let _ = std::fs::remove_file(&pwfile);
        result?;
        // A throwaway cluster needs no durability; these make it start and work faster.
        let mut conf = "\n# herokuops sandbox\nlisten_addresses = '127.0.0.1'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n".to_string();
        // pg_stat_statements loaded, as on Heroku, so that a database may install it; only
        // where the server has it (a server without its contrib modules would not start).
        let lib = self.bin_dir.join("../lib/pg_stat_statements.so");
        if lib.is_file() {
            conf.push_str("shared_preload_libraries = 'pg_stat_statements'\n");
        }
        append_conf(data, &conf)
    }

    fn give_to_server_user(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(user) = &self.run_as
            && let Some((uid, gid)) = user_ids(user)
        {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(io_err("handing a file to the server user"))?;
        }
        Ok(())
    }

    /// The server's Unix socket goes into this cluster's private directory.
    fn own_socket_dir(&self) -> Result<(), ClusterError> {
        append_conf(
            &self.data_dir(),
            &format!(
                "unix_socket_directories = '{}'\n",
                self.dir.display().to_string().replace('\'', "''")
            ),
        )
    }

    /// Where the initialised data directory that new clusters copy lives: one per server
    /// binaries and user. A copy takes tens of milliseconds where initdb takes most of a second.
    fn template_dir(&self, parent: &Path) -> PathBuf {
        // The layout version changes whenever the initdb options or settings do.
        let key = format!(
            "3|{}|{}",
            self.bin_dir.display(),
            self.run_as.as_deref().unwrap_or("")
        );
        let mut hash: u64 = 0xcbf29ce484222325;
        for b in key.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x100000001b3);
        }
        parent.join(format!("herokuops-pg-template-{hash:016x}"))
    }

    /// Makes the template if there is none (initdb into a scratch directory, renamed into place
    /// so concurrent starts never see half of one), then copies it as this cluster's data.
    fn copy_template(&mut self, parent: &Path) -> Result<(), ClusterError> {
        let template = self.template_dir(parent);
        if !template.join("ready").is_file() {
            let scratch = parent.join(format!(
                "herokuops-pg-template-new-{}-{}",
                std::process::id(),
                random_word(8)
            ));
            std::fs::create_dir(&scratch).map_err(io_err("creating the template directory"))?;
            let made = self.make_template(&scratch);
            let renamed = made.and_then(|()| {
                std::fs::rename(&scratch, &template).map_err(io_err("publishing the template"))
            });
            if renamed.is_err() {
                let _ = std::fs::remove_dir_all(&scratch);
            }
            // Another process may have published one first; that one is as good.
            if !template.join("ready").is_file() {
                return renamed;
            }
        }
        let password = std::fs::read_to_string(template.join("password"))
            .map_err(io_err("reading the template's password"))?;
        // cp -a keeps the owner and the 0700 mode the server insists on.
        let mut cmd = Command::new("cp");
        cmd.arg("-a")
            .arg(template.join("data"))
            .arg(self.data_dir());
        run(cmd, "copying the cluster template")?;
        self.password = password.trim().to_string();
        self.own_socket_dir()
    }

    fn make_template(&self, scratch: &Path) -> Result<(), ClusterError> {
        std::fs::set_permissions(scratch, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err("setting permissions of the template directory"))?;
        self.give_to_server_user(scratch)?;
        let password = random_word(32);
        self.initdb(&scratch.join("data"), &password)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_600()
            .open(scratch.join("password"))
            .map_err(io_err("writing the template's password"))?;
        file.write_all(password.as_bytes())
            .map_err(io_err("writing the template's password"))?;
        std::fs::write(scratch.join("ready"), b"").map_err(io_err("marking the template ready"))
    }

    fn start_server(&mut self) -> Result<(), ClusterError> {
        let mut last = None;
        // The free port may be taken between choosing and binding it; try a few.
        for _ in 0..3 {
            let port = free_port().map_err(io_err("finding a free port"))?;
            let mut cmd = self.server_command(&self.bin_dir.join("pg_ctl"));
            cmd.arg("start")
                .arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!("-p {port}"));
            // Its own process group: a Ctrl-C at the terminal goes to us, and we stop the
            // server in order instead of it shutting down underneath us.
            cmd.process_group(0);
            match run(cmd, "pg_ctl start") {
                Ok(_) => {
                    self.port = port;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        match last {
            Some(ClusterError::Command {
                command, status, ..
            }) => Err(ClusterError::Command {
                command,
                status,
                stderr: log.lines().rev().take(5).collect::<Vec<_>>().join(" | "),
            }),
            Some(other) => Err(other),
            None => unreachable!("the loop runs at least once"),
        }
    }

    /// A shell loop that outlives us: once our pid is gone it stops the server and removes the
    /// directory. Killed by `stop()` when we clean up ourselves.
    fn spawn_watchdog(&self) -> std::io::Result<Child> {
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let prefix = match &self.run_as {
            Some(user) => format!("runuser -u {} -- ", shell_quote(user)),
            None => String::new(),
        };
        let script = format!(
            "trap '' INT HUP TERM; while kill -0 {pid} 2>/dev/null; do sleep 1; done; {prefix}{pg_ctl} stop -D {data} -m immediate >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = shell_quote(&pg_ctl.display().to_string()),
            data = shell_quote(&self.data_dir().display().to_string()),
            dir = shell_quote(&self.dir.display().to_string()),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

trait Mode600 {
    fn mode_600(&mut self) -> &mut Self;
}

impl Mode600 for std::fs::OpenOptions {
    fn mode_600(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

fn append_conf(data: &Path, settings: &str) -> Result<(), ClusterError> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .and_then(|mut f| f.write_all(settings.as_bytes()))
        .map_err(io_err("writing postgresql.conf"))
}

fn run(mut cmd: Command, what: &str) -> Result<Output, ClusterError> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(format!("running {what}")))?;
    if output.status.success() {
        Ok(output)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(ClusterError::Command {
            command: what.to_string(),
            status: output.status.to_string(),
            stderr: stderr
                .trim()
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | "),
        })
    }
}

fn shell_quote(s: &str) -> String {
    // A NUL byte cannot be in a path or an argument to begin with.
    shlex::try_quote(s)
        .map(|quoted| quoted.into_owned())
        .unwrap_or_default()
}

pub(crate) fn random_word(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(|b| (b as char).to_ascii_lowercase())
        .collect()
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether the effective user is root, read from `/proc/self/status` (Linux).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// A user's uid and gid from `/etc/passwd`.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == user)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// Where `initdb` and `pg_ctl` live: a directory on PATH that has both (resolved through
/// symlinks, so `postgres` and `pg_dump` of the same version are next to them), else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_server_bin_dir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_server(&dir) {
                let real = std::fs::canonicalize(dir.join("initdb"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .filter(|d| has_server(d))
                    .unwrap_or(dir);
                return Some(real);
            }
        }
    }
    newest_versioned_bin_dir(|dir| has_server(dir))
}

/// The newest `/usr/lib/postgresql/<version>/bin` that passes `accept`.
pub(crate) fn newest_versioned_bin_dir(accept: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            accept(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// Where a client tool (`pg_dump`, `pg_restore`) is: next to the server binaries we use if
/// given, else the newest `/usr/lib/postgresql/*/bin` (newer clients read older servers), else
/// PATH.
pub fn find_client_tool(name: &str, near: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = near {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    if let Some(dir) = newest_versioned_bin_dir(|dir| dir.join(name).is_file()) {
        return Some(dir.join(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        for word in ["a'b", "/tmp/dir with space", "$HOME"] {
            assert_eq!(shlex::split(&shell_quote(word)).unwrap(), [word], "{word}");
        }
    }

    #[test]
    fn root_user_ids_are_read() {
        assert_eq!(user_ids("root"), Some((0, 0)));
        assert_eq!(user_ids("no-such-user-here"), None);
    }

    #[test]
    fn random_words_are_lower_alphanumeric() {
        let w = random_word(20);
        assert_eq!(w.len(), 20);
        assert!(
            w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
