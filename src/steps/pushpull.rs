//! Moving a database between this machine and an app: `pg_dump` of one side streamed into
//! `pg_restore` of the other, with no file in between, the bytes through the pipe reported as
//! progress. The local side is prepared first (created when absent, refused when it holds
//! something and `--force` was not given).

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::api::ApiClient;
use crate::pg::{ConnectFailure, Db, PgError, Target};

use super::local_tools::{self, Connection, Password, Tool};
use super::{Event, Observer, StepError, database, schema};

/// One end of the pipe: a tool, the database it works on, and its own arguments.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub tool: Tool,
    pub conn: Connection,
    pub args: Vec<String>,
}

impl Invocation {
    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.tool.path);
        self.conn.apply(&mut command);
        command.args(&self.args).kill_on_drop(true);
        command
    }
}

/// `pg_dump` of `conn` in the custom format, uncompressed (the pipe is local), without
/// Heroku's own `_heroku` schema.
pub fn dump_of(tool: Tool, conn: Connection) -> Invocation {
    let args = [
        "--format=custom",
        "--compress=0",
        "--exclude-schema=_heroku",
    ];
    Invocation {
        tool,
        conn,
        args: args.map(String::from).to_vec(),
    }
}

/// `pg_restore` from stdin into `conn`, in one transaction (all of it or nothing), without the
/// source's owners and grants, which belong to another server. With `clean`, what the dump
/// holds is dropped first where it exists.
pub fn restore_into(tool: Tool, conn: Connection, clean: bool) -> Invocation {
    let mut args: Vec<String> = [
        "--format=custom",
        "--no-owner",
        "--no-acl",
        "--single-transaction",
    ]
    .map(String::from)
    .to_vec();
    if clean {
        args.extend(["--clean".to_string(), "--if-exists".to_string()]);
    }
    args.extend(["--dbname".to_string(), conn.database.clone()]);
    Invocation { tool, conn, args }
}

/// The last line a stream of stderr wrote, read to its end.
fn last_line(stream: Option<tokio::process::ChildStderr>) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut last = String::new();
        if let Some(stream) = stream {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.trim().is_empty() {
                    last = line;
                }
            }
        }
        last
    })
}

fn failed(tool: &Tool, status: std::process::ExitStatus, last: String) -> StepError {
    StepError::ToolFailed {
        tool: tool.name.to_string(),
        status: status.code().unwrap_or(-1),
        last,
    }
}

/// Streams `dump` into `restore`; returns the bytes that went through. Dropping the future
/// (Ctrl-C) kills both, and the restore's transaction is rolled back with it.
pub async fn pipe(
    dump: &Invocation,
    restore: &Invocation,
    observer: &mut dyn Observer,
) -> Result<u64, StepError> {
    let start = |inv: &Invocation, stdin: Stdio, stdout: Stdio| {
        let mut command = inv.command();
        command.stdin(stdin).stdout(stdout).stderr(Stdio::piped());
        command
            .spawn()
            .map_err(|source| StepError::CommandNotStarted {
                what: inv.tool.path.display().to_string(),
                source,
            })
    };
    let mut dumping = start(dump, Stdio::null(), Stdio::piped())?;
    let mut restoring = start(restore, Stdio::piped(), Stdio::null())?;
    let dump_err = last_line(dumping.stderr.take());
    let restore_err = last_line(restoring.stderr.take());
    let (Some(mut from), Some(mut to)) = (dumping.stdout.take(), restoring.stdin.take()) else {
        return Err(StepError::ToolFailed {
            tool: dump.tool.name.to_string(),
            status: -1,
            last: "no pipe to pg_restore".into(),
        });
    };
    let mut buf = vec![0u8; 256 * 1024];
    let (mut done, mut shown) = (0u64, 0u64);
    observer.event(Event::Bytes { done, total: None });
    let copied: std::io::Result<()> = async {
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return to.shutdown().await;
            }
            to.write_all(&buf[..n]).await?;
            done += n as u64;
            if done - shown >= 1 << 20 {
                shown = done;
                observer.event(Event::Bytes { done, total: None });
            }
        }
    }
    .await;
    drop(to);
    let wait = |e: std::io::Error| StepError::CommandNotStarted {
        what: "pg_dump | pg_restore".into(),
        source: e,
    };
    let dumped = dumping.wait().await.map_err(wait)?;
    let restored = restoring.wait().await.map_err(wait)?;
    let (dump_last, restore_last) = (
        dump_err.await.unwrap_or_default(),
        restore_err.await.unwrap_or_default(),
    );
    observer.event(Event::Bytes { done, total: None });
    // The restore's own complaint says more than the broken pipe the dump then ran into.
    if !restored.success() {
        return Err(failed(&restore.tool, restored, restore_last));
    }
    if !dumped.success() {
        return Err(failed(&dump.tool, dumped, dump_last));
    }
    copied.map_err(wait)?;
    Ok(done)
}

/// The URL of one of the app's databases: `DATABASE_URL`, or the attachment named (which may
/// belong to another app: `otherapp::NAME`). The observer hears it as a secret first.
pub async fn database_url(
    api: &ApiClient,
    app: &str,
    attachment: Option<&str>,
    observer: &mut dyn Observer,
) -> Result<String, StepError> {
    let name = match attachment {
        None | Some("DATABASE_URL") | Some("DATABASE") => {
            return schema::database_url(api, app, observer).await;
        }
        Some(name) => name,
    };
    let found = database::resolve(api, app, Some(name)).await?;
    let owner = if found.app.name.is_empty() {
        app
    } else {
        found.app.name.as_str()
    };
    let vars = api.config_vars(owner).await?;
    let url = vars
        .get(&found.config_var())
        .cloned()
        .ok_or_else(|| StepError::NoSuchDatabase {
            app: app.to_string(),
            name: found.config_var(),
        })?;
    observer.event(Event::Secret(url.clone()));
    Ok(url)
}

/// How many tables, views, sequences and the like a database holds outside the catalogs.
pub async fn user_objects(db: &Db) -> Result<i64, StepError> {
    let rows = db
        .query(
            "count what the database holds",
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_heroku') \
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'",
            &[],
        )
        .await?;
    Ok(rows[0].get(0))
}

/// What the local side of a pull was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalState {
    /// Absent; created.
    Created,
    Empty,
    /// It held something, replaced with `--force`.
    Replaced,
}

/// Makes the local database ready to receive a pull: created when absent, refused when it
/// holds something unless `force`. Returns a connection to it (for its server's version).
pub async fn prepare_local(url: &str, force: bool) -> Result<(Db, LocalState), StepError> {
    let target = Target::parse(url)?;
    match target.connect().await {
        Ok(db) => {
            let objects = user_objects(&db).await?;
            match (objects, force) {
                (0, _) => Ok((db, LocalState::Empty)),
                (_, true) => Ok((db, LocalState::Replaced)),
                (objects, false) => Err(StepError::NotEmpty {
                    database: target.display().to_string(),
                    objects,
                }),
            }
        }
        Err(PgError::Connect {
            failure: ConnectFailure::NoSuchDatabase,
            ..
        }) => {
            create_database(url, target.database()).await?;
            Ok((target.connect().await?, LocalState::Created))
        }
        Err(e) => Err(e.into()),
    }
}

/// `CREATE DATABASE` through the server's `postgres` database (or `template1`).
async fn create_database(url: &str, name: &str) -> Result<(), StepError> {
    let mut last = None;
    for admin_db in ["postgres", "template1"] {
        let mut admin = url::Url::parse(url).map_err(|e| PgError::InvalidUrl {
            url: crate::pg::redact_url(url),
            reason: e.to_string(),
        })?;
        admin.set_path(&format!("/{admin_db}"));
        match Target::parse(admin.as_str())?.connect().await {
            Ok(db) => {
                let quoted = format!("\"{}\"", name.replace('"', "\"\""));
                db.batch(
                    "create the local database",
                    &format!("CREATE DATABASE {quoted}"),
                )
                .await?;
                return Ok(());
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .map(StepError::from)
        .unwrap_or(StepError::NoDatabaseUrl {
            app: name.to_string(),
        }))
}

/// The URL with `password` put in (a journal keeps URLs without theirs).
pub fn with_password(url: &str, password: Option<&Password>) -> String {
    match (password, url::Url::parse(url)) {
        (Some(password), Ok(mut parsed)) if parsed.password().is_none() => {
            let _ = parsed.set_password(Some(password.expose()));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The URL without its password, fit for a journal; and the password.
pub fn split_password(url: &str) -> (String, Option<Password>) {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let password = parsed.password().map(|p| {
                Password::new(
                    percent_encoding::percent_decode_str(p)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            });
            let _ = parsed.set_password(None);
            (parsed.to_string(), password)
        }
        _ => (url.to_string(), None),
    }
}

/// The local database of a push, reached, and the tools able to dump it; checked before
/// anything changes.
pub async fn push_source(
    url: &str,
    password: Option<&Password>,
) -> Result<(Connection, Tool, Tool), StepError> {
    let full = with_password(url, password);
    let db = Target::parse(&full)?.connect().await?;
    let major = local_tools::server_major(&db).await?;
    let (dump, restore) = local_tools::dump_and_restore(major).await?;
    Ok((Connection::from_url(&full, None)?, dump, restore))
}

/// Replaces what the app's database holds with the local database's: `pg_dump` of the local
/// one into `pg_restore --clean` of the app's, in one transaction. Returns the bytes moved.
pub async fn push(
    api: &ApiClient,
    app: &str,
    attachment: Option<&str>,
    (local_url, password): (&str, Option<&Password>),
    observer: &mut dyn Observer,
) -> Result<u64, StepError> {
    let (local, dump, restore) = push_source(local_url, password).await?;
    let app_url = database_url(api, app, attachment, observer).await?;
    let target = Connection::from_url(&app_url, None)?;
    pipe(
        &dump_of(dump, local),
        &restore_into(restore, target, true),
        observer,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::local_tools::Connection;
    use std::path::PathBuf;

    fn tool(name: &'static str) -> Tool {
        Tool {
            name,
            path: PathBuf::from(format!("/x/{name}")),
            major: 15,
        }
    }

    #[test]
    fn a_journal_keeps_the_url_without_its_password() {
        let (kept, password) = split_password("postgres://me:p%40ss@localhost:5432/dev");
        assert_eq!(kept, "postgres://me@localhost:5432/dev");
        assert_eq!(password.as_ref().unwrap().expose(), "p@ss");
        let back = with_password(&kept, password.as_ref());
        assert!(Connection::from_url(&back, None).unwrap().has_password());
        assert_eq!(split_password("postgres://me@h/d").1, None);
    }

    #[test]
    fn the_restore_is_one_transaction_and_names_its_database_but_no_password() {
        let conn =
            Connection::from_url("postgres://u:hunter2@db.example.com/app_db", None).unwrap();
        let restore = restore_into(tool("pg_restore"), conn.clone(), true);
        assert!(restore.args.contains(&"--single-transaction".to_string()));
        assert!(restore.args.contains(&"--clean".to_string()));
        assert_eq!(
            restore.args[restore.args.len() - 2..],
            ["--dbname", "app_db"]
        );
        let dump = dump_of(tool("pg_dump"), conn);
        let argv = format!("{:?} {:?}", dump.args, restore.args);
        assert!(!argv.contains("hunter2"), "{argv}");
        assert!(
            !restore_into(tool("pg_restore"), dump.conn, false)
                .args
                .contains(&"--clean".to_string())
        );
    }
}
