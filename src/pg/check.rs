//! `db check`: can we connect, what is the server, and what tables hold how many rows.

use serde::Serialize;

use super::PgError;
use super::connect::Db;

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub database: String,
    pub user: String,
    pub server_version: String,
    pub server_version_num: i32,
    /// Whether this connection is encrypted.
    pub ssl: bool,
    /// Client connections to this database, including ours.
    pub connections: i64,
    /// Client connections to the whole server, for comparison with `max_connections`.
    pub connections_total: i64,
    pub max_connections: i64,
    /// Whether `rows` are exact counts or the planner's estimates.
    pub exact: bool,
    pub tables: Vec<TableRows>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRows {
    pub schema: String,
    pub table: String,
    pub rows: i64,
}

impl TableRows {
    /// `table` in the public schema, `schema.table` elsewhere.
    pub fn display_name(&self) -> String {
        if self.schema == "public" {
            self.table.clone()
        } else {
            format!("{}.{}", self.schema, self.table)
        }
    }
}

const SERVER: &str = "SELECT current_database()::text, current_user::text,
        current_setting('server_version'), current_setting('server_version_num')::int4,
        COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
        (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'),
        (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
        current_setting('max_connections')::int8";

// reltuples is -1 until a table is first vacuumed or analyzed; the statistics system's live
// row count is the better estimate then.
const TABLES: &str = "SELECT n.nspname::text, c.relname::text,
        CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 ELSE COALESCE(s.n_live_tup, 0) END
   FROM pg_class c
   JOIN pg_namespace n ON n.oid = c.relnamespace
   LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
  WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  ORDER BY 1, 2";

/// Tables counted per statement with `--exact`; one statement per table would be thousands
/// of round trips on a large schema.
const COUNT_BATCH: usize = 100;

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub async fn check(db: &Db, exact: bool) -> Result<CheckReport, PgError> {
    let context = "check the database";
    let (server, tables) = tokio::try_join!(
        db.query(context, SERVER, &[]),
        db.query(context, TABLES, &[])
    )?;
    let s = &server[0];
    let mut tables: Vec<TableRows> = tables
        .iter()
        .map(|r| TableRows {
            schema: r.get(0),
            table: r.get(1),
            rows: r.get(2),
        })
        .collect();
    if exact {
        let statements: Vec<String> = tables
            .chunks(COUNT_BATCH)
            .enumerate()
            .map(|(chunk_index, chunk)| {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        format!(
                            "SELECT {}::int4, count(*) FROM {}.{}",
                            chunk_index * COUNT_BATCH + i,
                            quote_ident(&t.schema),
                            quote_ident(&t.table)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ")
            })
            .collect();
        for sql in statements {
            for row in db.query("count rows", &sql, &[]).await? {
                let index: i32 = row.get(0);
                if let Some(slot) = usize::try_from(index).ok().and_then(|i| tables.get_mut(i)) {
                    slot.rows = row.get(1);
                }
            }
        }
    }
    Ok(CheckReport {
        database: s.get(0),
        user: s.get(1),
        server_version: s.get(2),
        server_version_num: s.get(3),
        ssl: s.get(4),
        connections: s.get(5),
        connections_total: s.get(6),
        max_connections: s.get(7),
        exact,
        tables,
    })
}
