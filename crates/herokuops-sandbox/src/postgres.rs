//! The real databases behind the sandbox's Postgres add-ons: one database and one login role
//! per add-on on a PostgreSQL server, created, reset and dropped as a superuser; plus the
//! `pg_dump` / `pg_restore` commands that backups and restores run.

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use super::SandboxError;
use super::cluster::{find_client_tool, random_word};
use super::fixture::BootMigration;
use herokuops::pg::{Db, PgError, Target, redact_url};

/// The server the sandbox creates its databases on, reached with a superuser (or a role that may
/// create roles and databases).
pub(crate) struct PgServer {
    admin_url: String,
    host: String,
    port: u16,
    /// Query parameters of the admin URL that every database URL keeps (e.g. `sslmode`).
    params: Vec<(String, String)>,
    pg_dump: PathBuf,
    pg_restore: PathBuf,
}

impl fmt::Debug for PgServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgServer")
            .field("admin", &redact_url(&self.admin_url))
            .finish_non_exhaustive()
    }
}

/// One add-on's database: its name, its owner role and that role's password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DbCredentials {
    pub database: String,
    pub role: String,
    pub password: String,
}

impl fmt::Debug for DbCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbCredentials")
            .field("database", &self.database)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Live figures about a database for the data API's `info`.
#[derive(Debug, Clone, Default)]
pub(crate) struct DbStats {
    pub bytes: i64,
    pub tables: i64,
    pub connections: i64,
    pub version: String,
}

/// What a boot migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Migrated {
    Ran,
    AlreadyInPlace,
}

impl PgServer {
    /// `bin_near`: the server binaries' directory, where the matching `pg_dump` lives.
    pub fn new(admin_url: &str, bin_near: Option<&Path>) -> Result<PgServer, SandboxError> {
        let shown = redact_url(admin_url);
        let url = Url::parse(admin_url)
            .map_err(|e| SandboxError::Setup(format!("--pg-url {shown}: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| SandboxError::Setup(format!("--pg-url {shown}: no host")))?
            .to_string();
        let port = url.port().unwrap_or(5432);
        let params = url
            .query_pairs()
            .filter(|(k, _)| k == "sslmode" || k == "sslrootcert")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let tool = |name: &str| {
            find_client_tool(name, bin_near).ok_or_else(|| {
                SandboxError::Setup(format!(
                    "{name} was not found on PATH or under /usr/lib/postgresql/*/bin; install the PostgreSQL client"
                ))
            })
        };
        Ok(PgServer {
            admin_url: admin_url.to_string(),
            host,
            port,
            params,
            pg_dump: tool("pg_dump")?,
            pg_restore: tool("pg_restore")?,
        })
    }

    /// A connection URL for an add-on's database. It holds the role's password.
    pub fn url(&self, creds: &DbCredentials) -> String {
        let mut url = format!(
            "postgres://{}:{}@{}:{}/{}",
            creds.role, creds.password, self.host, self.port, creds.database
        );
        if !self.params.is_empty() {
            let query: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }

    async fn admin(&self) -> Result<Db, PgError> {
        Target::parse(&self.admin_url)?.connect().await
    }

    /// Checks that the admin URL works.
    pub async fn check(&self) -> Result<(), PgError> {
        self.admin()
            .await?
            .batch("checking the sandbox's PostgreSQL server", "SELECT 1")
            .await
    }

    /// Creates a new role and a database it owns, closed to other roles (as on Heroku, where
    /// each database has its own credentials).
    pub async fn create_database(&self) -> Result<DbCredentials, PgError> {
        let word = random_word(13);
        let creds = DbCredentials {
            database: format!("d{word}"),
            role: format!("u{word}"),
            password: format!("p{}", random_word(40)),
        };
        self.create(&creds).await?;
        Ok(creds)
    }

    async fn create(&self, creds: &DbCredentials) -> Result<(), PgError> {
        let admin = self.admin().await?;
        // Names and password are generated from [a-z0-9], so they are safe to inline.
        admin
            .batch(
                "creating the add-on's role",
                &format!(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN PASSWORD '{pw}'; END IF; END $$",
                    role = creds.role,
                    pw = creds.password
                ),
            )
            .await?;
        // CREATE DATABASE cannot run inside a transaction block: its own statement.
        admin
            .batch(
                "creating the add-on's database",
                &format!("CREATE DATABASE {} OWNER {}", creds.database, creds.role),
            )
            .await?;
        admin
            .batch(
                "closing the database to other roles",
                &format!("REVOKE ALL ON DATABASE {} FROM PUBLIC", creds.database),
            )
            .await
    }

    /// Drops an add-on's database (ending its sessions) and its role.
    pub async fn drop_database(&self, creds: &DbCredentials) -> Result<(), PgError> {
        let admin = self.admin().await?;
        admin
            .batch(
                "dropping the add-on's database",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", creds.database),
            )
            .await?;
        admin
            .batch(
                "dropping the add-on's role",
                &format!("DROP ROLE IF EXISTS {}", creds.role),
            )
            .await
    }

    /// Empties a database the way Heroku's reset does: dropped and created again with the same
    /// credentials, then the requested extensions.
    pub async fn reset_database(
        &self,
        creds: &DbCredentials,
        extensions: &[String],
    ) -> Result<(), PgError> {
        self.admin()
            .await?
            .batch(
                "resetting the add-on's database",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", creds.database),
            )
            .await?;
        self.create(creds).await?;
        self.create_extensions(creds, extensions).await
    }

    /// Creates extensions in a database as the admin role (extensions usually need it).
    pub async fn create_extensions(
        &self,
        creds: &DbCredentials,
        extensions: &[String],
    ) -> Result<(), PgError> {
        if extensions.is_empty() {
            return Ok(());
        }
        let mut url = Url::parse(&self.admin_url).map_err(|e| PgError::InvalidUrl {
            url: redact_url(&self.admin_url),
            reason: e.to_string(),
        })?;
        url.set_path(&format!("/{}", creds.database));
        let db = Target::parse(url.as_str())?.connect().await?;
        for ext in extensions {
            let quoted = ext
                .split('.')
                .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
                .collect::<Vec<_>>();
            let sql = match quoted.as_slice() {
                [schema, name] => {
                    format!(
                        "CREATE SCHEMA IF NOT EXISTS {schema}; CREATE EXTENSION IF NOT EXISTS {name} SCHEMA {schema}"
                    )
                }
                _ => format!("CREATE EXTENSION IF NOT EXISTS {}", quoted.join(".")),
            };
            db.batch("creating an extension", &sql).await?;
        }
        Ok(())
    }

    /// Size, table count, sessions and version of a database.
    pub async fn stats(&self, creds: &DbCredentials) -> Result<DbStats, PgError> {
        let db = Target::parse(&self.url(creds))?.connect().await?;
        let rows = db
            .query(
                "reading the database's figures",
                "SELECT pg_database_size(current_database())::bigint, \
                 (SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))::bigint, \
                 (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())::bigint, \
                 current_setting('server_version')",
                &[],
            )
            .await?;
        let row = rows.first();
        Ok(DbStats {
            bytes: row.map(|r| r.get(0)).unwrap_or(0),
            tables: row.map(|r| r.get(1)).unwrap_or(0),
            // This session is ours, not the app's.
            connections: row.map(|r| r.get::<_, i64>(2) - 1).unwrap_or(0).max(0),
            version: row
                .map(|r| r.get::<_, String>(3))
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// `pg_dump -Fc` of a database to stdout, verbose (its log lines go to stderr).
    pub fn dump_command(&self, creds: &DbCredentials) -> tokio::process::Command {
        let mut cmd = self.client_command(&self.pg_dump, creds);
        cmd.args(["--format=custom", "--no-acl", "--no-owner", "--verbose"]);
        cmd
    }

    /// `pg_restore --clean --if-exists --no-owner` of a dump file into a database.
    pub fn restore_command(&self, creds: &DbCredentials, dump: &Path) -> tokio::process::Command {
        let mut cmd = self.client_command(&self.pg_restore, creds);
        cmd.args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--verbose",
        ]);
        cmd.arg(dump);
        cmd
    }

    /// `pg_dump -Fc` of any database URL to stdout (a copy's source).
    pub fn dump_url_command(&self, url: &str) -> Result<tokio::process::Command, String> {
        let mut cmd = url_command(&self.pg_dump, url)?;
        cmd.args(["--format=custom", "--no-acl", "--no-owner", "--verbose"]);
        Ok(cmd)
    }

    /// `pg_restore` from stdin into any database URL (a copy's target).
    pub fn restore_url_command(&self, url: &str) -> Result<tokio::process::Command, String> {
        let mut cmd = url_command(&self.pg_restore, url)?;
        // pg_restore connects only when given a database; its name is no secret.
        let database = Url::parse(url)
            .map(|u| u.path().trim_start_matches('/').to_string())
            .unwrap_or_default();
        cmd.arg("--dbname").arg(
            percent_encoding::percent_decode_str(&database)
                .decode_utf8_lossy()
                .into_owned(),
        );
        cmd.args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--verbose",
        ]);
        Ok(cmd)
    }

    /// A client tool connected as the add-on's role; the password goes through the
    /// environment, never the command line.
    fn client_command(&self, program: &Path, creds: &DbCredentials) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("--host")
            .arg(&self.host)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--username")
            .arg(&creds.role)
            .arg("--dbname")
            .arg(&creds.database)
            .env("PGPASSWORD", &creds.password)
            .env("PGCONNECT_TIMEOUT", "15")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS");
        for (k, v) in &self.params {
            match k.as_str() {
                "sslmode" => cmd.env("PGSSLMODE", v),
                "sslrootcert" => cmd.env("PGSSLROOTCERT", v),
                _ => &mut cmd,
            };
        }
        cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
        cmd
    }
}

/// A client tool connected to a database URL (a copy's source or target, which need not be
/// the sandbox's own): everything through the environment, the password included, so that
/// nothing secret is on a command line.
fn url_command(program: &Path, url: &str) -> Result<tokio::process::Command, String> {
    let target = Target::parse(url).map_err(|e| e.to_string())?;
    let parsed = Url::parse(url).map_err(|_| format!("{} is not a URL", redact_url(url)))?;
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut cmd = tokio::process::Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PGHOST", parsed.host_str().unwrap_or("localhost"))
        .env("PGPORT", parsed.port().unwrap_or(5432).to_string())
        .env("PGUSER", decode(parsed.username()))
        .env("PGDATABASE", decode(parsed.path().trim_start_matches('/')))
        .env("PGSSLMODE", target.ssl_mode().as_str())
        .env("PGCONNECT_TIMEOUT", "15");
    if let Some(password) = parsed.password() {
        cmd.env("PGPASSWORD", decode(password));
    }
    cmd.kill_on_drop(true);
    Ok(cmd)
}

/// Runs an app's boot migration against a database URL, unless its marker table is there.
pub(crate) async fn run_boot_migration(
    url: &str,
    migration: &BootMigration,
) -> Result<Migrated, PgError> {
    let db = Target::parse(url)?.connect().await?;
    if let Some(table) = &migration.unless_table {
        let qualified = if table.contains('.') {
            table.clone()
        } else {
            format!("public.{table}")
        };
        let rows = db
            .query(
                "checking for the app's schema",
                "SELECT to_regclass($1) IS NOT NULL",
                &[&qualified],
            )
            .await?;
        if rows.first().is_some_and(|r| r.get::<_, bool>(0)) {
            return Ok(Migrated::AlreadyInPlace);
        }
    }
    // One simple-protocol batch runs as one implicit transaction: all of it or none.
    db.batch("the app's boot migration", &migration.sql).await?;
    Ok(Migrated::Ran)
}
