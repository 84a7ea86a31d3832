//! What a database is doing now: its sessions and their queries (`pg_stat_activity`), the
//! locks they hold and wait for (`pg_locks`, `pg_blocking_pids`), the statements that took the
//! most time (`pg_stat_statements`), and ending a query or a session. Only the current
//! database, and never this connection itself. Query texts are shown with password literals
//! hidden.

use serde::Serialize;

use super::diagnose::redact_sql;
use super::{Db, PgError};

/// Milliseconds since a timestamp column, as SQL.
fn ms_since(column: &str) -> String {
    format!("(extract(epoch FROM now() - {column}) * 1000)::bigint")
}

/// A session of the current database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub pid: i32,
    pub state: String,
    /// `application_name`.
    pub source: String,
    pub user: String,
    /// Since its current (or last) query started.
    pub running_ms: Option<i64>,
    /// Waiting for a lock.
    pub waiting: bool,
    pub query: String,
}

/// The sessions running a query (`all`: the idle ones too), oldest query first.
pub async fn sessions(db: &Db, all: bool) -> Result<Vec<Session>, PgError> {
    let sql = format!(
        "SELECT pid, coalesce(state, ''), coalesce(application_name, ''), \
                coalesce(usename::text, ''), {}, coalesce(wait_event_type = 'Lock', false), \
                coalesce(query, '') \
         FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
           AND backend_type = 'client backend' AND ($1 OR coalesce(state, '') <> 'idle') \
         ORDER BY query_start NULLS LAST, pid",
        ms_since("query_start")
    );
    let rows = db.query("list the sessions", &sql, &[&all]).await?;
    Ok(rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            state: r.get(1),
            source: r.get(2),
            user: r.get(3),
            running_ms: r.get(4),
            waiting: r.get(5),
            query: redact_sql(r.get(6)),
        })
        .collect())
}

/// A lock another session holds or waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lock {
    pub pid: i32,
    /// The table (or other relation) locked; empty for a transaction id.
    pub relation: String,
    pub locktype: String,
    pub mode: String,
    pub granted: bool,
    pub age_ms: Option<i64>,
    pub query: String,
}

/// The locks that matter: every one waited for, and every one held beyond the share lock a
/// plain read takes; a session's lock on its own virtual transaction is left out.
pub async fn locks(db: &Db) -> Result<Vec<Lock>, PgError> {
    let sql = format!(
        "SELECT l.pid, coalesce(c.relname::text, ''), l.locktype, l.mode, l.granted, {}, \
                coalesce(a.query, '') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         LEFT JOIN pg_class c ON c.oid = l.relation \
         WHERE a.datname = current_database() AND l.pid <> pg_backend_pid() \
           AND l.locktype <> 'virtualxid' \
           AND (NOT l.granted OR l.mode <> 'AccessShareLock') \
           AND (c.oid IS NULL OR c.relnamespace <> 'pg_catalog'::regnamespace) \
         ORDER BY a.query_start NULLS LAST, l.pid, l.granted DESC",
        ms_since("a.query_start")
    );
    let rows = db.query("list the locks", &sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| Lock {
            pid: r.get(0),
            relation: r.get(1),
            locktype: r.get(2),
            mode: r.get(3),
            granted: r.get(4),
            age_ms: r.get(5),
            query: redact_sql(r.get(6)),
        })
        .collect())
}

/// A query waiting for a lock, and one session that holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    pub blocked_pid: i32,
    pub blocked_query: String,
    pub blocked_ms: Option<i64>,
    pub blocking_pid: i32,
    pub blocking_query: String,
    pub blocking_ms: Option<i64>,
    pub blocking_state: String,
}

/// Every waiting session with each session it waits for (`pg_blocking_pids`).
pub async fn blocking(db: &Db) -> Result<Vec<Blocked>, PgError> {
    let sql = format!(
        "SELECT a.pid, coalesce(a.query, ''), {}, b.pid, coalesce(b.query, ''), {}, \
                coalesce(b.state, '') \
         FROM pg_stat_activity a \
         CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS blocker(pid) \
         JOIN pg_stat_activity b ON b.pid = blocker.pid \
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
         ORDER BY a.query_start NULLS LAST, a.pid, b.pid",
        ms_since("a.query_start"),
        ms_since("b.query_start")
    );
    let rows = db.query("list the blocked queries", &sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| Blocked {
            blocked_pid: r.get(0),
            blocked_query: redact_sql(r.get(1)),
            blocked_ms: r.get(2),
            blocking_pid: r.get(3),
            blocking_query: redact_sql(r.get(4)),
            blocking_ms: r.get(5),
            blocking_state: r.get(6),
        })
        .collect())
}

/// A statement with its time in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlier {
    pub total_ms: f64,
    /// Its share of the time of every statement listed for this database and role.
    pub percent: f64,
    pub calls: i64,
    pub mean_ms: f64,
    /// Time spent reading and writing blocks (with track_io_timing).
    pub io_ms: f64,
    pub query: String,
}

/// Why `pg_stat_statements` cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementsUnavailable {
    NotInstalled,
    NotLoaded,
}

/// The statements of this database and role that took the most time in all, `limit` of them.
pub async fn outliers(
    db: &Db,
    limit: i64,
) -> Result<Result<Vec<Outlier>, StatementsUnavailable>, PgError> {
    let found = db
        .query(
            "find pg_stat_statements",
            "SELECT n.nspname::text, current_setting('server_version_num')::int \
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = 'pg_stat_statements'",
            &[],
        )
        .await?;
    let Some(row) = found.first() else {
        return Ok(Err(StatementsUnavailable::NotInstalled));
    };
    let (schema, version): (String, i32) = (row.get(0), row.get(1));
    let sql = outliers_sql(&schema, version);
    match db.query("read pg_stat_statements", &sql, &[&limit]).await {
        Ok(rows) => Ok(Ok(rows
            .iter()
            .map(|r| Outlier {
                total_ms: r.get(0),
                percent: r.get(1),
                calls: r.get(2),
                mean_ms: r.get(3),
                io_ms: r.get(4),
                query: redact_sql(r.get(5)),
            })
            .collect())),
        // 55000: installed, but the server does not load the library.
        Err(PgError::Query {
            code: Some(code), ..
        }) if code == "55000" => Ok(Err(StatementsUnavailable::NotLoaded)),
        Err(e) => Err(e),
    }
}

/// The query of [`outliers`] for the columns of a server version (renamed in 13 and 17).
fn outliers_sql(schema: &str, version: i32) -> String {
    let (total, mean) = if version >= 130000 {
        ("total_exec_time", "mean_exec_time")
    } else {
        ("total_time", "mean_time")
    };
    let (read, write) = if version >= 170000 {
        ("shared_blk_read_time", "shared_blk_write_time")
    } else {
        ("blk_read_time", "blk_write_time")
    };
    format!(
        "SELECT {total}::float8, \
                coalesce({total} / nullif(sum({total}) OVER (), 0) * 100, 0)::float8, \
                calls::bigint, {mean}::float8, ({read} + {write})::float8, query \
         FROM \"{}\".pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND userid = (SELECT oid FROM pg_roles WHERE rolname = current_user) \
           AND query NOT LIKE '%pg_stat_statements%' \
         ORDER BY {total} DESC LIMIT $1",
        schema.replace('"', "\"\"")
    )
}

/// Whether a session with `pid` is connected to the current database.
pub async fn session_exists(db: &Db, pid: i32) -> Result<bool, PgError> {
    let rows = db
        .query(
            "look for the session",
            "SELECT count(*) FROM pg_stat_activity \
             WHERE pid = $1 AND datname = current_database() AND pid <> pg_backend_pid()",
            &[&pid],
        )
        .await?;
    Ok(rows[0].get::<_, i64>(0) > 0)
}

/// The statement that cancels the query of `pid`, or with `terminate` ends its session.
pub fn kill_sql(terminate: bool) -> &'static str {
    if terminate {
        "SELECT pg_terminate_backend($1)"
    } else {
        "SELECT pg_cancel_backend($1)"
    }
}

/// Cancels the query of `pid` (or ends its session); false when the server did not signal it.
pub async fn kill(db: &Db, pid: i32, terminate: bool) -> Result<bool, PgError> {
    let rows = db
        .query("signal the session", kill_sql(terminate), &[&pid])
        .await?;
    Ok(rows[0].get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outliers_read_the_columns_of_the_servers_version() {
        let v12 = outliers_sql("public", 120005);
        assert!(
            v12.contains("total_time") && v12.contains("blk_read_time"),
            "{v12}"
        );
        let v15 = outliers_sql("heroku_ext", 150004);
        assert!(v15.contains("total_exec_time") && v15.contains("\"heroku_ext\"."));
        assert!(!v15.contains("shared_blk_read_time"));
        let v17 = outliers_sql("public", 170000);
        assert!(v17.contains("shared_blk_read_time"), "{v17}");
        assert!(outliers_sql("a\"b", 150000).contains("\"a\"\"b\"."));
    }

    #[test]
    fn kill_cancels_unless_told_to_terminate() {
        assert!(kill_sql(false).contains("pg_cancel_backend"));
        assert!(kill_sql(true).contains("pg_terminate_backend"));
    }
}
