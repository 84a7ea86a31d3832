//! The PostgreSQL client tools on this machine (`pg_dump`, `pg_restore`, `psql`): found on
//! PATH or in the usual PostgreSQL directories, checked against the servers they will talk to,
//! and pointed at a database through libpq's environment, so that a password is never on a
//! command line where `ps` would show it.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::pg::{Db, Target, redact_url};

use super::StepError;

/// Where the tools are looked for first and only, when set (a PostgreSQL `bin` directory).
pub const BIN_VAR: &str = "HEROKUOPS_PG_BIN";

/// Directories where PostgreSQL installs its tools, one per version; `*` is the version.
const VERSIONED_DIRS: [&str; 5] = [
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
];

/// A client tool and its major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
    pub major: u32,
}

/// A password, kept out of `Debug` output and logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(********)")
    }
}

/// The directories to search, in order: `HEROKUOPS_PG_BIN` alone when given; else PATH, then
/// the versioned PostgreSQL directories that exist, newest version first.
pub fn search_dirs(bin: Option<OsString>, path: Option<OsString>) -> Vec<PathBuf> {
    if let Some(bin) = bin.filter(|b| !b.is_empty()) {
        return vec![PathBuf::from(bin)];
    }
    let mut dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for pattern in VERSIONED_DIRS {
        dirs.extend(versioned(pattern));
    }
    dirs
}

/// The existing directories matching `pattern` (one `*`), highest version first.
fn versioned(pattern: &str) -> Vec<PathBuf> {
    let Some((head, tail)) = pattern.split_once('*') else {
        return Vec::new();
    };
    let (parent, prefix) = match head.rsplit_once('/') {
        Some((parent, prefix)) => (parent, prefix),
        None => return Vec::new(),
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix(prefix)?;
            let numbers: Vec<u32> = version
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let dir = PathBuf::from(format!("{parent}/{name}{tail}"));
            dir.is_dir().then_some((numbers, dir))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// The major version in a tool's `--version` line: `pg_dump (PostgreSQL) 15.18 (Debian ...)`
/// is 15, `psql (PostgreSQL) 9.6.24` is 9.
pub fn parse_version(line: &str) -> Option<u32> {
    let after = line.split(')').nth(1).unwrap_or(line);
    after
        .split_whitespace()
        .next()?
        .split(['.', 'b', 'r', 'd'])
        .next()?
        .parse()
        .ok()
}

async fn version_of(path: &Path) -> Option<u32> {
    let output = tokio::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    parse_version(String::from_utf8_lossy(&output.stdout).lines().next()?)
}

/// Finds `name` in `dirs`: the first one at least `min_major`. `prefer` is searched first
/// (the directory of a tool already chosen, so that pg_dump and pg_restore come as a pair).
pub async fn find_in(
    name: &'static str,
    dirs: &[PathBuf],
    prefer: Option<&Path>,
    min_major: u32,
) -> Result<Tool, StepError> {
    let mut older: Option<Tool> = None;
    let ordered = prefer
        .map(Path::to_path_buf)
        .into_iter()
        .chain(dirs.iter().cloned());
    for dir in ordered {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let Some(major) = version_of(&path).await else {
            continue;
        };
        let tool = Tool { name, path, major };
        if major >= min_major {
            return Ok(tool);
        }
        older.get_or_insert(tool);
    }
    Err(match older {
        Some(tool) => StepError::ToolTooOld {
            tool: tool.name.to_string(),
            path: tool.path,
            found: tool.major,
            needed: min_major,
        },
        None => StepError::ToolMissing {
            tool: name.to_string(),
            searched: describe_search(),
        },
    })
}

/// [`find_in`] where this machine keeps its tools.
pub async fn find(
    name: &'static str,
    prefer: Option<&Path>,
    min_major: u32,
) -> Result<Tool, StepError> {
    let dirs = search_dirs(std::env::var_os(BIN_VAR), std::env::var_os("PATH"));
    find_in(name, &dirs, prefer, min_major).await
}

fn describe_search() -> String {
    match std::env::var_os(BIN_VAR).filter(|b| !b.is_empty()) {
        Some(bin) => format!("in {} ({BIN_VAR})", PathBuf::from(bin).display()),
        None => {
            "on PATH or under /usr/lib/postgresql/*/bin and the other usual PostgreSQL directories"
                .into()
        }
    }
}

/// `pg_dump` able to dump a server of `source_major`, and a `pg_restore` able to read what it
/// writes, preferably from the same directory.
pub async fn dump_and_restore(source_major: u32) -> Result<(Tool, Tool), StepError> {
    let dump = find("pg_dump", None, source_major).await?;
    let restore = find("pg_restore", dump.path.parent(), dump.major).await?;
    Ok((dump, restore))
}

/// The major version of the server behind a connection (`SHOW server_version_num`).
pub async fn server_major(db: &Db) -> Result<u32, StepError> {
    let rows = db
        .query("read the server version", "SHOW server_version_num", &[])
        .await?;
    let num: u32 = rows
        .first()
        .and_then(|r| r.get::<_, String>(0).trim().parse().ok())
        .unwrap_or_default();
    Ok(num / 10000)
}

/// How a client tool reaches one database: libpq's environment variables, the password among
/// them, and the URL with the password masked for messages.
#[derive(Clone)]
pub struct Connection {
    env: Vec<(&'static str, String)>,
    password: Option<Password>,
    pub label: String,
    pub database: String,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.label)
            .finish()
    }
}

impl Connection {
    /// From a `postgres://` URL, with the TLS mode herokuops would use (`require` for a remote
    /// host without `sslmode`, as Heroku needs). `password` wins over the URL's own.
    pub fn from_url(raw: &str, password: Option<Password>) -> Result<Connection, StepError> {
        let target = Target::parse(raw)?;
        let invalid = |reason: &str| crate::pg::PgError::InvalidUrl {
            url: redact_url(raw),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let query = |key: &str| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        };
        let mut env = vec![
            ("PGSSLMODE", target.ssl_mode().as_str().to_string()),
            ("PGUSER", decode(url.username())),
            ("PGDATABASE", target.database().to_string()),
            ("PGAPPNAME", "herokuops".to_string()),
        ];
        if let Some(host) = query("host").or_else(|| url.host_str().map(str::to_string)) {
            env.push((
                "PGHOST",
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            ));
        }
        if let Some(port) = query("port").or_else(|| url.port().map(|p| p.to_string())) {
            env.push(("PGPORT", port));
        }
        if let Some(cert) = query("sslrootcert").filter(|c| c != "system") {
            env.push(("PGSSLROOTCERT", cert));
        }
        env.push((
            "PGCONNECT_TIMEOUT",
            query("connect_timeout").unwrap_or_else(|| "15".into()),
        ));
        let password = password.or_else(|| url.password().map(|p| Password::new(decode(p))));
        Ok(Connection {
            env,
            password,
            label: target.display().to_string(),
            database: target.database().to_string(),
        })
    }

    /// Points `command` at the database: the caller's own `PG*` variables are removed first,
    /// since they would otherwise send the tool somewhere else.
    pub fn apply(&self, command: &mut tokio::process::Command) {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                command.env_remove(key);
            }
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password.expose());
        }
    }

    /// The variables set, without the password: for tests and `--verbose`.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        self.env.clone()
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_tools_banner() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_version("psql (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(parse_version("pg_restore (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 16.2 (Homebrew)"),
            Some(16)
        );
        assert_eq!(parse_version("nonsense"), None);
    }

    #[test]
    fn a_given_bin_directory_is_the_only_place_looked_in() {
        let dirs = search_dirs(Some("/opt/pg/bin".into()), Some("/usr/bin:/bin".into()));
        assert_eq!(dirs, [PathBuf::from("/opt/pg/bin")]);
        let dirs = search_dirs(None, Some("/a:/b".into()));
        assert_eq!(&dirs[..2], [PathBuf::from("/a"), PathBuf::from("/b")]);
    }

    fn fake_tool(dir: &Path, name: &str, banner: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{banner}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[tokio::test]
    async fn the_first_tool_new_enough_wins_and_an_old_one_is_named_in_the_error() {
        let old = tempfile::tempdir().unwrap();
        let new = tempfile::tempdir().unwrap();
        fake_tool(old.path(), "pg_dump", "pg_dump (PostgreSQL) 12.4");
        fake_tool(new.path(), "pg_dump", "pg_dump (PostgreSQL) 16.1");
        let dirs = [old.path().to_path_buf(), new.path().to_path_buf()];
        let found = find_in("pg_dump", &dirs, None, 15).await.unwrap();
        assert_eq!((found.major, found.path.parent()), (16, Some(new.path())));
        let found = find_in("pg_dump", &dirs, None, 12).await.unwrap();
        assert_eq!(found.major, 12, "PATH order first when it is new enough");
        let err = find_in("pg_dump", &dirs[..1], None, 15).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("12") && text.contains("15"), "{text}");
        assert!(matches!(err, StepError::ToolTooOld { .. }));
        let err = find_in("pg_restore", &dirs, None, 15).await.unwrap_err();
        assert!(matches!(err, StepError::ToolMissing { .. }), "{err}");
    }

    #[test]
    fn a_connection_goes_through_the_environment_and_never_shows_its_password() {
        let conn = Connection::from_url(
            "postgres://u%40x:s3cr%2Ft@db.example.com:5433/d1?sslrootcert=/ca.pem",
            None,
        )
        .unwrap();
        let vars = conn.variables();
        let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PGHOST"), Some("db.example.com"));
        assert_eq!(get("PGPORT"), Some("5433"));
        assert_eq!(get("PGUSER"), Some("u@x"));
        assert_eq!(get("PGDATABASE"), Some("d1"));
        assert_eq!(get("PGSSLMODE"), Some("verify-ca"));
        assert_eq!(get("PGSSLROOTCERT"), Some("/ca.pem"));
        assert!(conn.has_password());
        assert_eq!(conn.password.as_ref().unwrap().expose(), "s3cr/t");
        let shown = format!("{conn:?} {}", conn.label);
        assert!(!shown.contains("s3cr"), "{shown}");
        let local = Connection::from_url("postgres://me@localhost/dev", None).unwrap();
        assert!(!local.has_password());
        assert!(local.variables().contains(&("PGSSLMODE", "prefer".into())));
    }
}
