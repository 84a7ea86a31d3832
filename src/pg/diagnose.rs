//! `db diagnose`: a health report in the spirit of `heroku pg:diagnose`. Each finding is rated
//! ok / warn / fail against a threshold that is part of the finding, so the operator sees why.

use std::time::Duration;

use serde::Serialize;

use super::PgError;
use super::connect::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Ok,
    Warn,
    Fail,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Ok => "ok",
            Rating::Warn => "warn",
            Rating::Fail => "fail",
        }
    }
}

/// Rows behind a finding (the queries, indexes or tables it is about).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Details {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable identifier for scripts: `table_cache_hit`, `connections`, ...
    pub id: &'static str,
    pub title: &'static str,
    pub rating: Rating,
    pub value: String,
    /// The rule the rating came from, e.g. `ok >= 99%, warn >= 95%, fail below`.
    pub threshold: String,
    pub details: Details,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiagnoseReport {
    pub database: String,
    pub findings: Vec<Finding>,
}

impl DiagnoseReport {
    pub fn worst(&self) -> Rating {
        self.findings
            .iter()
            .map(|f| f.rating)
            .max()
            .unwrap_or(Rating::Ok)
    }

    /// The findings rated `level` or worse, for `--fail-on LEVEL`.
    pub fn at_or_above(&self, level: Rating) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.rating >= level).collect()
    }
}

/// Thresholds that tests (and impatient operators) may want to lower.
#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// A query running longer than this is reported (warn); twelve times longer fails.
    pub long_query: Duration,
    /// A session blocked longer than this fails; any blocked session warns.
    pub blocked_fail: Duration,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions {
            long_query: Duration::from_secs(5 * 60),
            blocked_fail: Duration::from_secs(5 * 60),
        }
    }
}

const CACHE_OK: f64 = 0.99;
const CACHE_WARN: f64 = 0.95;
const CONNECTIONS_WARN: f64 = 0.70;
const CONNECTIONS_FAIL: f64 = 0.90;
const UNUSED_INDEX_WARN_BYTES: i64 = 1024 * 1024;
const UNUSED_INDEX_FAIL_BYTES: i64 = 100 * 1024 * 1024;
const DEAD_ROWS_MIN: i64 = 1000;
const DEAD_RATIO_WARN: f64 = 0.20;
const DEAD_RATIO_FAIL: f64 = 0.50;
const SLOW_MEAN_WARN_MS: f64 = 100.0;
const SLOW_MEAN_FAIL_MS: f64 = 1000.0;
const DETAIL_ROWS: usize = 10;
const QUERY_CHARS: usize = 100;

const SERVER: &str = "SELECT current_database()::text, current_setting('server_version_num')::int4,
        current_setting('max_connections')::int8,
        (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
        (SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'pg_stat_statements'),
        pg_database_size(current_database())";

const CACHE: &str =
    "SELECT (SELECT COALESCE(sum(heap_blks_hit), 0)::int8 FROM pg_statio_user_tables),
        (SELECT COALESCE(sum(heap_blks_read), 0)::int8 FROM pg_statio_user_tables),
        (SELECT COALESCE(sum(idx_blks_hit), 0)::int8 FROM pg_statio_user_indexes),
        (SELECT COALESCE(sum(idx_blks_read), 0)::int8 FROM pg_statio_user_indexes)";

const LONG: &str = "SELECT pid, extract(epoch FROM now() - query_start)::float8, COALESCE(state, ''), COALESCE(query, '')
   FROM pg_stat_activity
  WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'
    AND query_start < now() - make_interval(secs => $1)
  ORDER BY 2 DESC";

const BLOCKED: &str = "SELECT a.pid, extract(epoch FROM now() - a.query_start)::float8,
        array_to_string(pg_blocking_pids(a.pid), ', '), COALESCE(a.query, ''),
        COALESCE((SELECT string_agg(b.query, ' | ') FROM pg_stat_activity b
                   WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '')
   FROM pg_stat_activity a
  WHERE a.pid <> pg_backend_pid() AND cardinality(pg_blocking_pids(a.pid)) > 0
  ORDER BY 2 DESC";

// The size functions open the relation and so wait behind an exclusive lock (a migration, a
// DROP, a VACUUM FULL), which is when a diagnosis is most wanted. A relation with an exclusive
// lock held or queued is sized from pg_class instead: the size as of its last vacuum.
// An uncorrelated ARRAY() is an init plan: pg_locks is read once per query, not once per row.
const LOCKED: &str = "{oid} = ANY (ARRAY(SELECT l.relation FROM pg_locks l
                 WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))";

fn size_sql(function: &str, oid: &str, relpages: &str) -> String {
    let mut locked = LOCKED.replace("{oid}", oid);
    if function == "pg_indexes_size" {
        // Also opens every index of the table, any of which may be locked on its own (REINDEX).
        locked = format!(
            "({locked} OR EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = {oid} AND {}))",
            LOCKED.replace("{oid}", "x.indexrelid")
        );
    }
    format!(
        "CASE WHEN {locked} THEN {relpages}::int8 * current_setting('block_size')::int8 ELSE {function}({oid}) END"
    )
}

fn unused_sql() -> String {
    format!(
        "SELECT s.schemaname::text, s.relname::text, s.indexrelname::text, {}
   FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
   JOIN pg_class ic ON ic.oid = s.indexrelid
  WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
  ORDER BY 4 DESC, 3",
        size_sql("pg_relation_size", "s.indexrelid", "ic.relpages")
    )
}

/// The ten largest tables. A partition's size is added to its partitioned root's, and the
/// partitions are not listed on their own: the root holds nothing itself.
fn sizes_sql() -> String {
    let index_pages = "(SELECT COALESCE(sum(ic.relpages), 0) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid WHERE x.indrelid = c.oid)";
    format!(
        "SELECT n.nspname::text, r.relname::text, s.table_size, s.index_size, s.table_size + s.index_size
           FROM (SELECT COALESCE(pg_partition_root(c.oid), c.oid) AS root,
                        sum({})::int8 AS table_size, sum({})::int8 AS index_size
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                    AND n.nspname NOT LIKE 'pg\\_toast%'
                  GROUP BY 1) s
           JOIN pg_class r ON r.oid = s.root JOIN pg_namespace n ON n.oid = r.relnamespace
          ORDER BY 5 DESC, 2 LIMIT 10",
        size_sql("pg_table_size", "c.oid", "c.relpages"),
        size_sql("pg_indexes_size", "c.oid", index_pages)
    )
}

fn dead_sql() -> String {
    format!(
        "SELECT s.schemaname::text, s.relname::text, s.n_live_tup, s.n_dead_tup, {}
   FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.n_dead_tup >= $1
  ORDER BY s.n_dead_tup DESC, s.relname",
        size_sql("pg_table_size", "s.relid", "c.relpages")
    )
}

pub async fn diagnose(db: &Db, options: &DiagnoseOptions) -> Result<DiagnoseReport, PgError> {
    let context = "diagnose the database";
    let long_secs = options.long_query.as_secs_f64();
    let (unused, sizes, dead) = (unused_sql(), sizes_sql(), dead_sql());
    let long_params: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&long_secs];
    let dead_params: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&DEAD_ROWS_MIN];
    let (server, cache, long, blocked, unused, sizes, dead) = tokio::try_join!(
        db.query(context, SERVER, &[]),
        db.query(context, CACHE, &[]),
        db.query(context, LONG, long_params),
        db.query(context, BLOCKED, &[]),
        db.query(context, &unused, &[]),
        db.query(context, &sizes, &[]),
        db.query(context, &dead, dead_params),
    )?;
    let s = &server[0];
    let database: String = s.get(0);
    let version_num: i32 = s.get(1);
    let max_connections: i64 = s.get(2);
    let connections: i64 = s.get(3);
    let statements_schema: Option<String> = s.get(4);
    let database_size: i64 = s.get(5);

    let c = &cache[0];
    let mut findings = vec![
        cache_finding(
            "table_cache_hit",
            "Table cache hit ratio",
            c.get(0),
            c.get(1),
        ),
        cache_finding(
            "index_cache_hit",
            "Index cache hit ratio",
            c.get(2),
            c.get(3),
        ),
        connections_finding(connections, max_connections),
        long_running_finding(&long, options),
        blocked_finding(&blocked, options),
        unused_indexes_finding(&unused),
        sizes_finding(&sizes, database_size),
        bloat_finding(&dead),
    ];
    findings.push(slow_statements_finding(db, statements_schema.as_deref(), version_num).await?);
    Ok(DiagnoseReport { database, findings })
}

fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// Bytes in binary units, as every output shows sizes; a negative size (none) as 0.
pub fn human_bytes(bytes: i64) -> String {
    indicatif::HumanBytes(u64::try_from(bytes).unwrap_or(0)).to_string()
}

fn duration_text(secs: f64) -> String {
    let secs = secs.max(0.0) as u64;
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// One line of SQL, shortened, with password literals hidden: pg_stat_activity and
/// pg_stat_statements show statements as sent, `ALTER ROLE ... PASSWORD '...'` included.
pub fn redact_sql(sql: &str) -> String {
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(flat.len());
    let lower = flat.to_ascii_lowercase();
    let mut i = 0;
    while i < flat.len() {
        if lower[i..].starts_with("password") {
            out.push_str(&flat[i..i + "password".len()]);
            i += "password".len();
            let rest = &flat[i..];
            let skip_ws = rest.len() - rest.trim_start().len();
            if rest.trim_start().starts_with('\'') {
                out.push_str(&rest[..skip_ws]);
                i += skip_ws + 1;
                // Skip to the closing quote; '' is an escaped quote inside the literal.
                let bytes = flat.as_bytes();
                while i < flat.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                out.push_str("'********'");
            }
            continue;
        }
        let ch = flat[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    if out.chars().count() > QUERY_CHARS {
        let cut: String = out.chars().take(QUERY_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        out
    }
}

fn cache_finding(id: &'static str, title: &'static str, hit: i64, read: i64) -> Finding {
    let threshold = format!(
        "ok >= {}, warn >= {}, fail below",
        percent(CACHE_OK),
        percent(CACHE_WARN)
    );
    let total = hit + read;
    if total == 0 {
        return Finding {
            id,
            title,
            rating: Rating::Ok,
            value: "no blocks read yet".into(),
            threshold,
            details: Details::default(),
        };
    }
    let ratio = hit as f64 / total as f64;
    let rating = if ratio >= CACHE_OK {
        Rating::Ok
    } else if ratio >= CACHE_WARN {
        Rating::Warn
    } else {
        Rating::Fail
    };
    Finding {
        id,
        title,
        rating,
        value: format!("{} ({hit} hits, {read} reads)", percent(ratio)),
        threshold,
        details: Details::default(),
    }
}

fn connections_finding(connections: i64, max: i64) -> Finding {
    let ratio = connections as f64 / max.max(1) as f64;
    let rating = if ratio >= CONNECTIONS_FAIL {
        Rating::Fail
    } else if ratio >= CONNECTIONS_WARN {
        Rating::Warn
    } else {
        Rating::Ok
    };
    Finding {
        id: "connections",
        title: "Connections",
        rating,
        value: format!("{connections} of {max} ({})", percent(ratio)),
        threshold: format!(
            "ok < {}, warn < {}, fail >= {} of max_connections",
            percent(CONNECTIONS_WARN),
            percent(CONNECTIONS_FAIL),
            percent(CONNECTIONS_FAIL)
        ),
        details: Details::default(),
    }
}

fn long_running_finding(rows: &[tokio_postgres::Row], options: &DiagnoseOptions) -> Finding {
    let warn = options.long_query;
    let fail = warn * 12;
    let longest = rows.iter().map(|r| r.get::<_, f64>(1)).fold(0.0, f64::max);
    let rating = if rows.is_empty() {
        Rating::Ok
    } else if longest >= fail.as_secs_f64() {
        Rating::Fail
    } else {
        Rating::Warn
    };
    Finding {
        id: "long_running_queries",
        title: "Long-running queries",
        rating,
        value: if rows.is_empty() {
            format!("none over {}", duration_text(warn.as_secs_f64()))
        } else {
            format!("{} (longest {})", rows.len(), duration_text(longest))
        },
        threshold: format!(
            "ok: none over {}, warn: any, fail: any over {}",
            duration_text(warn.as_secs_f64()),
            duration_text(fail.as_secs_f64())
        ),
        details: Details {
            columns: vec![
                "pid".into(),
                "running for".into(),
                "state".into(),
                "query".into(),
            ],
            rows: rows
                .iter()
                .take(DETAIL_ROWS)
                .map(|r| {
                    vec![
                        r.get::<_, i32>(0).to_string(),
                        duration_text(r.get(1)),
                        r.get(2),
                        redact_sql(r.get(3)),
                    ]
                })
                .collect(),
        },
    }
}

fn blocked_finding(rows: &[tokio_postgres::Row], options: &DiagnoseOptions) -> Finding {
    let longest = rows.iter().map(|r| r.get::<_, f64>(1)).fold(0.0, f64::max);
    let rating = if rows.is_empty() {
        Rating::Ok
    } else if longest >= options.blocked_fail.as_secs_f64() {
        Rating::Fail
    } else {
        Rating::Warn
    };
    Finding {
        id: "blocked_queries",
        title: "Blocked queries",
        rating,
        value: if rows.is_empty() {
            "none".into()
        } else {
            format!(
                "{} blocked (longest {})",
                rows.len(),
                duration_text(longest)
            )
        },
        threshold: format!(
            "ok: none, warn: any blocked, fail: blocked over {}",
            duration_text(options.blocked_fail.as_secs_f64())
        ),
        details: Details {
            columns: vec![
                "blocked pid".into(),
                "waiting".into(),
                "blocked query".into(),
                "blocking pids".into(),
                "blocking query".into(),
            ],
            rows: rows
                .iter()
                .take(DETAIL_ROWS)
                .map(|r| {
                    vec![
                        r.get::<_, i32>(0).to_string(),
                        duration_text(r.get(1)),
                        redact_sql(r.get(3)),
                        r.get(2),
                        redact_sql(r.get(4)),
                    ]
                })
                .collect(),
        },
    }
}

fn unused_indexes_finding(rows: &[tokio_postgres::Row]) -> Finding {
    let sizes: Vec<i64> = rows.iter().map(|r| r.get(3)).collect();
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let wasted: i64 = sizes
        .iter()
        .filter(|s| **s >= UNUSED_INDEX_WARN_BYTES)
        .sum();
    let rating = if largest >= UNUSED_INDEX_FAIL_BYTES {
        Rating::Fail
    } else if largest >= UNUSED_INDEX_WARN_BYTES {
        Rating::Warn
    } else {
        Rating::Ok
    };
    let big = sizes
        .iter()
        .filter(|s| **s >= UNUSED_INDEX_WARN_BYTES)
        .count();
    Finding {
        id: "unused_indexes",
        title: "Unused indexes",
        rating,
        value: if rows.is_empty() {
            "none".into()
        } else {
            format!(
                "{} never scanned, {big} of them >= {} ({} in those)",
                rows.len(),
                human_bytes(UNUSED_INDEX_WARN_BYTES),
                human_bytes(wasted)
            )
        },
        threshold: format!(
            "never-scanned non-unique indexes: ok below {}, warn >= {}, fail >= {} (since statistics were last reset)",
            human_bytes(UNUSED_INDEX_WARN_BYTES),
            human_bytes(UNUSED_INDEX_WARN_BYTES),
            human_bytes(UNUSED_INDEX_FAIL_BYTES)
        ),
        details: Details {
            columns: vec!["index".into(), "table".into(), "size".into()],
            rows: rows
                .iter()
                .take(DETAIL_ROWS)
                .map(|r| {
                    let schema: String = r.get(0);
                    let table: String = r.get(1);
                    let table = if schema == "public" {
                        table
                    } else {
                        format!("{schema}.{table}")
                    };
                    vec![r.get(2), table, human_bytes(r.get(3))]
                })
                .collect(),
        },
    }
}

fn sizes_finding(rows: &[tokio_postgres::Row], database_size: i64) -> Finding {
    Finding {
        id: "sizes",
        title: "Table and index sizes",
        rating: Rating::Ok,
        value: format!("database {}", human_bytes(database_size)),
        threshold: "informational: the 10 largest relations".into(),
        details: Details {
            columns: vec![
                "table".into(),
                "table size".into(),
                "index size".into(),
                "total".into(),
            ],
            rows: rows
                .iter()
                .map(|r| {
                    let schema: String = r.get(0);
                    let table: String = r.get(1);
                    let table = if schema == "public" {
                        table
                    } else {
                        format!("{schema}.{table}")
                    };
                    vec![
                        table,
                        human_bytes(r.get(2)),
                        human_bytes(r.get(3)),
                        human_bytes(r.get(4)),
                    ]
                })
                .collect(),
        },
    }
}

fn bloat_finding(rows: &[tokio_postgres::Row]) -> Finding {
    let entries: Vec<(String, i64, i64, i64, f64)> = rows
        .iter()
        .map(|r| {
            let schema: String = r.get(0);
            let table: String = r.get(1);
            let live: i64 = r.get(2);
            let dead: i64 = r.get(3);
            let size: i64 = r.get(4);
            let ratio = dead as f64 / (live + dead).max(1) as f64;
            let name = if schema == "public" {
                table
            } else {
                format!("{schema}.{table}")
            };
            (name, live, dead, size, ratio)
        })
        .collect();
    let worst = entries.iter().map(|e| e.4).fold(0.0, f64::max);
    let rating = if worst >= DEAD_RATIO_FAIL {
        Rating::Fail
    } else if worst >= DEAD_RATIO_WARN {
        Rating::Warn
    } else {
        Rating::Ok
    };
    let flagged = entries.iter().filter(|e| e.4 >= DEAD_RATIO_WARN).count();
    Finding {
        id: "bloat",
        title: "Bloat (dead rows)",
        rating,
        value: if flagged == 0 {
            "no table with much dead space".into()
        } else {
            format!("{flagged} table(s), worst {} dead", percent(worst))
        },
        threshold: format!(
            "tables with >= {DEAD_ROWS_MIN} dead rows: ok < {}, warn >= {}, fail >= {} dead",
            percent(DEAD_RATIO_WARN),
            percent(DEAD_RATIO_WARN),
            percent(DEAD_RATIO_FAIL)
        ),
        details: Details {
            columns: vec![
                "table".into(),
                "live rows".into(),
                "dead rows".into(),
                "dead".into(),
                "estimated waste".into(),
            ],
            rows: entries
                .iter()
                .take(DETAIL_ROWS)
                .map(|(name, live, dead, size, ratio)| {
                    vec![
                        name.clone(),
                        live.to_string(),
                        dead.to_string(),
                        percent(*ratio),
                        human_bytes((*size as f64 * ratio) as i64),
                    ]
                })
                .collect(),
        },
    }
}

async fn slow_statements_finding(
    db: &Db,
    schema: Option<&str>,
    version_num: i32,
) -> Result<Finding, PgError> {
    let threshold = format!(
        "slowest mean time: ok < {SLOW_MEAN_WARN_MS} ms, warn < {SLOW_MEAN_FAIL_MS} ms, fail >= {SLOW_MEAN_FAIL_MS} ms"
    );
    let mut finding = Finding {
        id: "slow_statements",
        title: "Slowest statements",
        rating: Rating::Ok,
        value: String::new(),
        threshold,
        details: Details::default(),
    };
    let Some(schema) = schema else {
        finding.value =
            "pg_stat_statements is not installed (CREATE EXTENSION pg_stat_statements)".into();
        return Ok(finding);
    };
    let sql = slowest_statements_sql(schema, version_num);
    let rows = match db.query("read pg_stat_statements", &sql, &[]).await {
        Ok(rows) => rows,
        // 55000: installed, but the library is not in shared_preload_libraries.
        Err(PgError::Query {
            code: Some(code),
            cause,
            ..
        }) if code == "55000" => {
            finding.rating = Rating::Warn;
            finding.value = format!("pg_stat_statements is installed but not loaded: {cause}");
            return Ok(finding);
        }
        Err(e) => return Err(e),
    };
    let slowest = rows.first().map(|r| r.get::<_, f64>(2)).unwrap_or(0.0);
    finding.rating = if slowest >= SLOW_MEAN_FAIL_MS {
        Rating::Fail
    } else if slowest >= SLOW_MEAN_WARN_MS {
        Rating::Warn
    } else {
        Rating::Ok
    };
    finding.value = if rows.is_empty() {
        "no statements recorded yet".into()
    } else {
        format!("slowest mean {slowest:.1} ms")
    };
    finding.details = slow_statement_details(&rows);
    Ok(finding)
}

/// The slowest statements of this database by mean time, from the pg_stat_statements
/// installed in `schema`, under the column names of `version_num`'s server.
fn slowest_statements_sql(schema: &str, version_num: i32) -> String {
    // Renamed in PostgreSQL 13.
    let (mean, total) = if version_num >= 130000 {
        ("mean_exec_time", "total_exec_time")
    } else {
        ("mean_time", "total_time")
    };
    format!(
        "SELECT query, calls, {mean}, {total} FROM \"{}\".pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT LIKE '%pg_stat_statements%'
          ORDER BY {mean} DESC LIMIT {DETAIL_ROWS}",
        schema.replace('"', "\"\"")
    )
}

/// One row per statement: its mean time, calls, total time, and its text on one line with
/// password literals hidden.
fn slow_statement_details(rows: &[tokio_postgres::Row]) -> Details {
    Details {
        columns: vec![
            "mean".into(),
            "calls".into(),
            "total".into(),
            "query".into(),
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    format!("{:.1} ms", r.get::<_, f64>(2)),
                    r.get::<_, i64>(1).to_string(),
                    format!("{:.1} ms", r.get::<_, f64>(3)),
                    redact_sql(r.get(0)),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_statements_are_hidden() {
        let s = redact_sql("ALTER ROLE app WITH\n  PASSWORD 'it''s secret' VALID UNTIL 'infinity'");
        assert_eq!(
            s,
            "ALTER ROLE app WITH PASSWORD '********' VALID UNTIL 'infinity'"
        );
        assert!(!redact_sql("create user x password 'hunter2'").contains("hunter2"));
        let long = "select ".to_string() + &"x, ".repeat(100);
        assert_eq!(redact_sql(&long).chars().count(), QUERY_CHARS);
    }

    #[test]
    fn ratings_follow_thresholds() {
        assert_eq!(cache_finding("t", "t", 995, 5).rating, Rating::Ok);
        assert_eq!(cache_finding("t", "t", 970, 30).rating, Rating::Warn);
        assert_eq!(cache_finding("t", "t", 500, 500).rating, Rating::Fail);
        assert_eq!(cache_finding("t", "t", 0, 0).rating, Rating::Ok);
        assert_eq!(connections_finding(10, 100).rating, Rating::Ok);
        assert_eq!(connections_finding(75, 100).rating, Rating::Warn);
        assert_eq!(connections_finding(95, 100).rating, Rating::Fail);
        assert!(connections_finding(95, 100).threshold.contains("90.0%"));
    }

    #[test]
    fn sizes_read_like_pg_size_pretty() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2 * 1024 * 1024 + 1024 * 512), "2.50 MiB");
    }
}
