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
    /// For a partitioned table, the sum of its partitions' rows.
    pub rows: i64,
    /// A partitioned table holds no rows of its own: its partitions do.
    pub partitioned: bool,
    /// The partitioned table this one is a partition of (`schema.table`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<String>,
    /// How deep under partitioned tables it is (0 for a table of its own).
    #[serde(skip)]
    pub depth: usize,
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

    fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

/// Puts every partition under its parent (depth first, each level by name) and gives each
/// partitioned table the sum of its partitions' rows: its own estimate is 0 or -1.
fn nest_partitions(flat: Vec<TableRows>) -> Vec<TableRows> {
    fn place(
        parent: Option<&str>,
        depth: usize,
        flat: &[TableRows],
        out: &mut Vec<TableRows>,
    ) -> i64 {
        let mut total = 0;
        for table in flat.iter().filter(|t| t.partition_of.as_deref() == parent) {
            let at = out.len();
            out.push(TableRows {
                depth,
                ..table.clone()
            });
            let rows = if table.partitioned {
                place(Some(&table.qualified()), depth + 1, flat, out)
            } else {
                table.rows
            };
            out[at].rows = rows;
            total += rows;
        }
        total
    }
    let mut out = Vec::with_capacity(flat.len());
    place(None, 0, &flat, &mut out);
    // A partition whose parent is not listed (another user's schema) still shows, on its own.
    if out.len() < flat.len() {
        let placed: std::collections::HashSet<String> = out.iter().map(|t| t.qualified()).collect();
        let orphans = flat
            .into_iter()
            .filter(|t| !placed.contains(&t.qualified()));
        out.extend(orphans);
    }
    out
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
        CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 ELSE COALESCE(s.n_live_tup, 0) END,
        c.relkind = 'p',
        (SELECT pn.nspname || '.' || p.relname FROM pg_inherits i
           JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
          WHERE i.inhrelid = c.oid AND c.relispartition)
   FROM pg_class c
   JOIN pg_namespace n ON n.oid = c.relnamespace
   LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
  WHERE c.relkind IN ('r', 'p')
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
            partitioned: r.get(3),
            partition_of: r.get(4),
            depth: 0,
        })
        .collect();
    if exact {
        count_exactly(db, &mut tables).await?;
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
        tables: nest_partitions(tables),
    })
}

/// Counts the rows of every table that holds rows of its own (a partitioned table's are its
/// partitions'), a batch of tables per statement.
async fn count_exactly(db: &Db, tables: &mut [TableRows]) -> Result<(), PgError> {
    let leaves: Vec<usize> = (0..tables.len())
        .filter(|i| !tables[*i].partitioned)
        .collect();
    for batch in leaves.chunks(COUNT_BATCH) {
        let sql = batch
            .iter()
            .map(|&i| {
                let t = &tables[i];
                format!(
                    "SELECT {i}::int4, count(*) FROM {}.{}",
                    quote_ident(&t.schema),
                    quote_ident(&t.table)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for row in db.query("count rows", &sql, &[]).await? {
            let index: i32 = row.get(0);
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| tables.get_mut(i)) {
                slot.rows = row.get(1);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, rows: i64, partitioned: bool, of: Option<&str>) -> TableRows {
        TableRows {
            schema: "public".into(),
            table: name.into(),
            rows,
            partitioned,
            partition_of: of.map(str::to_string),
            depth: 0,
        }
    }

    #[test]
    fn a_partitioned_table_counts_its_partitions_and_shows_them_under_it() {
        let flat = vec![
            table("events", -1, true, None),
            table("events_2025", 10, false, Some("public.events")),
            table("events_2026", 0, true, Some("public.events")),
            table("events_2026_q1", 7, false, Some("public.events_2026")),
            table("users", 3, false, None),
        ];
        let nested = nest_partitions(flat);
        let shown: Vec<(String, i64, usize)> = nested
            .iter()
            .map(|t| (t.table.clone(), t.rows, t.depth))
            .collect();
        assert_eq!(
            shown,
            [
                ("events".to_string(), 17, 0),
                ("events_2025".to_string(), 10, 1),
                ("events_2026".to_string(), 7, 1),
                ("events_2026_q1".to_string(), 7, 2),
                ("users".to_string(), 3, 0),
            ]
        );
    }
}
