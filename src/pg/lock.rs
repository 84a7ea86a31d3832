//! A Postgres advisory lock per app, so that two machines (two scheduled jobs) cannot run the
//! destructive steps of one app at once: a run holds it on a session of its own, opened while
//! planning and kept for the rest of the run; the server releases it when that session ends,
//! however the process ends. The session is named (`application_name`) after the run and its
//! host, which is how a refused run can say who holds the lock.

use super::PgError;
use super::connect::{Db, Target};

/// The first key of every herokuops lock (`hero`), so they stay apart from the app's own.
const NAMESPACE: i32 = 0x6865_726f;

/// The two keys of an app's lock: herokuops' namespace and a hash (FNV-1a) of the app name.
pub fn key(app: &str) -> (i32, i32) {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in app.as_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (NAMESPACE, (hash & 0x7fff_ffff) as i32)
}

/// The lock, held as long as this lives.
#[derive(Debug)]
pub struct DbLock {
    session: Db,
}

impl DbLock {
    /// The session holding the lock: idle once it is taken, so free for read-only work of the
    /// same run.
    pub fn session(&self) -> &Db {
        &self.session
    }
}

/// Who holds a lock that could not be taken, as the server shows its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbHolder {
    /// Its `application_name`: `herokuops RUN@HOST` for a herokuops run.
    pub application_name: Option<String>,
    pub since: Option<String>,
}

impl std::fmt::Display for DbHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.application_name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => write!(f, "the session {name:?}")?,
            None => write!(f, "a session that does not name itself")?,
        }
        if let Some(since) = &self.since {
            write!(f, " (connected since {since})")?;
        }
        Ok(())
    }
}

/// Takes the app's lock on a session of its own named `application_name`, without waiting;
/// `Ok(Err(holder))` when another session has it.
pub async fn try_lock(
    target: &Target,
    app: &str,
    application_name: &str,
) -> Result<Result<DbLock, DbHolder>, PgError> {
    let session = target
        .clone()
        .with_application_name(application_name)
        .connect()
        .await?;
    let (k1, k2) = key(app);
    let rows = session
        .query(
            "take the app's lock",
            "SELECT pg_try_advisory_lock($1::int4, $2::int4)",
            &[&k1, &k2],
        )
        .await?;
    if rows[0].get::<_, bool>(0) {
        return Ok(Ok(DbLock { session }));
    }
    let rows = session
        .query(
            "find who holds the app's lock",
            "SELECT a.application_name, date_trunc('second', a.backend_start)::text
               FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2
              LIMIT 1",
            &[&i64::from(k1), &i64::from(k2)],
        )
        .await?;
    Ok(Err(match rows.first() {
        Some(row) => DbHolder {
            application_name: row.get(0),
            since: row.get(1),
        },
        None => DbHolder {
            application_name: None,
            since: None,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_apart() {
        assert_eq!(key("tmi-server"), key("tmi-server"));
        assert_ne!(key("tmi-server"), key("tmi-server-2"));
        assert!(key("tmi-server").1 >= 0);
    }
}
