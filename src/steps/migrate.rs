//! Letting the app build its schema again after a drop: by restarting it (an app that migrates
//! at boot), by a command on a one-off dyno, or by a command here with `DATABASE_URL` set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use tokio::io::AsyncBufReadExt;

use super::{Event, Observer, StepError};

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

impl Migrate {
    /// Whether running the migration twice is harmless. A command on a one-off dyno that lost
    /// its answer may still be running there, and a second one beside it is not.
    pub fn may_repeat(&self) -> bool {
        !matches!(self, Migrate::OneOffDyno(_))
    }
}

/// The environment of a local migration: ours, less the Heroku token (the command has no use
/// for it) and less libpq's `PG*` connection variables, which point wherever the operator's
/// shell points and would win over `DATABASE_URL` in some tools; plus `DATABASE_URL`.
pub fn local_environment(
    ours: impl IntoIterator<Item = (String, String)>,
    database_url: &str,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = ours
        .into_iter()
        .filter(|(name, _)| !is_withheld(name))
        .collect();
    env.insert("DATABASE_URL".into(), database_url.to_string());
    env
}

fn is_withheld(name: &str) -> bool {
    const LIBPQ: [&str; 12] = [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGSSLMODE",
        "PGOPTIONS",
        "PGSSLROOTCERT",
    ];
    name == "HEROKU_API_KEY" || LIBPQ.contains(&name)
}

/// What SQLAlchemy says when given Heroku's `postgres://` URL (it wants `postgresql://`).
const SQLALCHEMY_REFUSES_SCHEME: &str = "Can't load plugin: sqlalchemy.dialects:postgres";

/// Runs `command` through `sh -c` here, with [`local_environment`]. Its stdout is dropped (it
/// would mix with our report); each line of its stderr goes to the observer. Dropping the
/// future kills the command with everything it started: the migration must not go on writing
/// to the database behind a run that says it stopped (a migration in a transaction is rolled
/// back; resume runs it again).
pub async fn run_local(
    command: &str,
    database_url: &str,
    observer: &mut dyn Observer,
) -> Result<(), StepError> {
    let what = format!("`{command}`");
    let mut sh = tokio::process::Command::new("sh");
    sh.arg("-c")
        .arg(command)
        .env_clear()
        .envs(local_environment(std::env::vars(), database_url))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let could_not = |source| StepError::CommandNotStarted {
        what: what.clone(),
        source,
    };
    let mut child = crate::process::GroupChild::spawn(sh).map_err(could_not)?;
    let mut scheme_refused = false;
    if let Some(stderr) = child.child_mut().stderr.take() {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            scheme_refused |= line.contains(SQLALCHEMY_REFUSES_SCHEME);
            observer.event(Event::Output(line));
        }
    }
    let status = child.wait().await.map_err(could_not)?;
    match status.code() {
        Some(0) => Ok(()),
        Some(status) if scheme_refused => Err(StepError::PostgresSchemeRefused { what, status }),
        Some(status) => Err(StepError::CommandFailed { what, status }),
        None => Err(StepError::CommandKilled { what }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlalchemy_refusing_the_postgres_scheme_gets_its_own_hint() {
        let command = "echo \"sqlalchemy.exc.NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres\" >&2; exit 1";
        let mut lines = Vec::new();
        let mut observer = |event| {
            if let Event::Output(line) = event {
                lines.push(line);
            }
        };
        let err = run_local(command, "postgres://u:p@h/d", &mut observer)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StepError::PostgresSchemeRefused { status: 1, .. }),
            "{err:?}"
        );
        assert!(err.hint().unwrap().contains("postgresql://"));
        assert_eq!(
            lines.len(),
            1,
            "the command's stderr is passed on: {lines:?}"
        );

        let err = run_local("echo nope >&2; exit 3", "postgres://u:p@h/d", &mut |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(err, StepError::CommandFailed { status: 3, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_local_migration_gets_the_database_url_and_neither_the_token_nor_libpq_variables() {
        let ours = [
            ("PATH", "/usr/bin"),
            ("HEROKU_API_KEY", "secret-token"),
            ("PGHOST", "elsewhere.example.com"),
            ("PGPASSWORD", "other"),
            ("DATABASE_URL", "postgres://stale"),
            ("PGAPPNAME_NOT_LIBPQ", "kept"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let env = local_environment(ours, "postgres://u:p@h/d");
        assert_eq!(env["DATABASE_URL"], "postgres://u:p@h/d");
        assert_eq!(env["PATH"], "/usr/bin");
        assert_eq!(env["PGAPPNAME_NOT_LIBPQ"], "kept");
        for gone in ["HEROKU_API_KEY", "PGHOST", "PGPASSWORD"] {
            assert!(!env.contains_key(gone), "{gone} reached the command");
        }
    }
}
