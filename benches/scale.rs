//! The scale benchmark for the Postgres side (a benchmark, not a test):
//!
//!     cargo bench --bench scale [-- TABLES]
//!
//! On a throwaway cluster it builds a database of TABLES tables (10,000 by default; 6 columns,
//! a primary key, an index, a foreign key, an IN-list CHECK and a comment each; every tenth
//! table with a trigger, row-level security and a policy, every fiftieth partitioned in two;
//! every hundredth table brings an enum, a domain, a composite type, a view, a materialized
//! view with an index, a function, a procedure and a sequence) and a 100-table one of the same
//! shape, then measures with the release binary:
//! - `schema snapshot` and `verify` wall time (the target is under 2 s each);
//! - the statements each sends, counted by the server (pg_stat_statements) and by the client,
//!   for both sizes: they must be the same;
//! - `db drop-schema` against `psql -c 'DROP SCHEMA public CASCADE'` on identical copies (the
//!   target is within 1.2x).

#[path = "../tests/support/pg.rs"]
mod pg;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herokuops::pg::introspect::{MigrationProbe, STATEMENTS, introspect};
use herokuops::pg::{Db, Target};

const RUNS: usize = 5;
const DROP_RUNS: usize = 3;
const TABLES_PER_TRANSACTION: usize = 500;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

async fn connect(url: &str) -> Db {
    Target::parse(url)
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The objects of table i: see the module's documentation.
fn table_sql(i: usize) -> String {
    let fk = if i == 0 {
        String::new()
    } else {
        format!(" REFERENCES t{}(id)", i - 1)
    };
    let mut sql = format!(
        "CREATE TABLE t{i} (id bigint PRIMARY KEY, ref_id bigint{fk}, name text NOT NULL, \
         created_at timestamptz NOT NULL DEFAULT now(), score integer, \
         kind varchar(10) NOT NULL DEFAULT 'a' CHECK (kind IN ('a', 'b', 'c')));\n\
         CREATE INDEX t{i}_name_idx ON t{i} (name);\n\
         COMMENT ON TABLE t{i} IS 'table {i}';\n"
    );
    if i.is_multiple_of(10) {
        sql.push_str(&format!(
            "CREATE TRIGGER t{i}_touch BEFORE UPDATE ON t{i} FOR EACH ROW EXECUTE FUNCTION touch();\n\
             ALTER TABLE t{i} ENABLE ROW LEVEL SECURITY;\n\
             CREATE POLICY t{i}_own ON t{i} USING (name = current_user);\n"
        ));
    }
    if i.is_multiple_of(50) {
        sql.push_str(&format!(
            "CREATE TABLE p{i} (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);\n\
             CREATE TABLE p{i}_a PARTITION OF p{i} FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\n\
             CREATE TABLE p{i}_b PARTITION OF p{i} DEFAULT;\n"
        ));
    }
    if i.is_multiple_of(100) {
        sql.push_str(&format!(
            "CREATE TYPE e{i} AS ENUM ('x', 'y');\n\
             CREATE DOMAIN d{i} AS integer CHECK (VALUE > 0);\n\
             CREATE TYPE c{i} AS (a integer, b text);\n\
             CREATE VIEW v{i} AS SELECT id, name FROM t{i} WHERE kind IN ('a', 'b');\n\
             CREATE MATERIALIZED VIEW m{i} AS SELECT id FROM t{i} WITH NO DATA;\n\
             CREATE INDEX m{i}_id ON m{i} (id);\n\
             CREATE FUNCTION f{i}(x integer) RETURNS integer LANGUAGE sql IMMUTABLE RETURN x + {i};\n\
             CREATE PROCEDURE pr{i}() LANGUAGE sql AS 'SELECT 1';\n\
             CREATE SEQUENCE s{i} INCREMENT BY 2;\n"
        ));
    }
    sql
}

async fn build(db: &Db, tables: usize) {
    db.batch(
        "build",
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for start in (0..tables).step_by(TABLES_PER_TRANSACTION) {
        let mut sql = String::from("BEGIN;\n");
        for i in start..(start + TABLES_PER_TRANSACTION).min(tables) {
            sql.push_str(&table_sql(i));
        }
        sql.push_str("COMMIT;");
        db.batch("build", &sql)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn herokuops(args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_herokuops"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "herokuops {} failed: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// Statements the server recorded for `database` since the last reset.
async fn server_statements(admin: &Db, database: &str) -> i64 {
    admin
        .query(
            "count",
            "SELECT COALESCE(sum(calls), 0)::int8 FROM pg_stat_statements
              WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)",
            &[&database],
        )
        .await
        .unwrap()[0]
        .get(0)
}

async fn reset_statements(admin: &Db) {
    admin
        .batch("reset", "SELECT pg_stat_statements_reset()")
        .await
        .unwrap();
}

#[tokio::main]
async fn main() {
    let tables: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    println!(
        "scale benchmark: {tables} tables, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // A DROP SCHEMA of this many tables locks every relation in one transaction, which the
    // default lock table (64 x max_connections) cannot hold, for psql or for us.
    let cluster = pg::Cluster::start(pg::ClusterOptions {
        settings: vec![
            ("max_locks_per_transaction".into(), "1024".into()),
            ("pg_stat_statements.track_utility".into(), "on".into()),
        ],
        ..pg::ClusterOptions::default()
    });
    let admin = connect(&cluster.url("postgres")).await;
    for sql in [
        "CREATE EXTENSION pg_stat_statements",
        "CREATE DATABASE scale",
        "CREATE DATABASE small",
    ] {
        admin.batch("setup", sql).await.unwrap();
    }

    let started = Instant::now();
    build(&connect(&cluster.url("scale")).await, tables).await;
    build(&connect(&cluster.url("small")).await, 100).await;
    println!("built the databases in {}", ms(started.elapsed()));

    let dir = tempfile::tempdir().unwrap();
    let mut counts = Vec::new();
    for (name, n) in [("small", 100), ("scale", tables)] {
        let url = cluster.url(name);
        let file = dir.path().join(format!("{name}.toml"));
        let file = file.to_str().unwrap();

        // Client side: the library's own count of statements.
        let db = connect(&url).await;
        let before = db.queries();
        let schema = introspect(&db, "public", &MigrationProbe::Auto)
            .await
            .unwrap();
        // The partitioned tables and their partitions come on top.
        assert_eq!(schema.tables.len(), n + 3 * n.div_ceil(50));
        let client = db.queries() - before;
        drop(db);

        // Server side: what pg_stat_statements saw during one snapshot and one verify.
        reset_statements(&admin).await;
        herokuops(&["schema", "snapshot", "--database-url", &url, "-o", file]);
        let snapshot_statements = server_statements(&admin, name).await;
        reset_statements(&admin).await;
        herokuops(&["verify", "--database-url", &url, "--expect", file]);
        let verify_statements = server_statements(&admin, name).await;
        counts.push((name, n, client, snapshot_statements, verify_statements));

        if name == "scale" {
            let size = std::fs::metadata(file).unwrap().len();
            let snapshot: Vec<Duration> = (0..RUNS)
                .map(|_| herokuops(&["schema", "snapshot", "--database-url", &url, "-o", file]))
                .collect();
            let verify: Vec<Duration> = (0..RUNS)
                .map(|_| herokuops(&["verify", "--database-url", &url, "--expect", file]))
                .collect();
            println!(
                "schema snapshot ({n} tables, {:.1} MB file): median {} of {RUNS} runs (min {}, max {})",
                size as f64 / 1e6,
                ms(median(snapshot.clone())),
                ms(*snapshot.iter().min().unwrap()),
                ms(*snapshot.iter().max().unwrap()),
            );
            println!(
                "verify ({n} tables, clean): median {} of {RUNS} runs (min {}, max {})",
                ms(median(verify.clone())),
                ms(*verify.iter().min().unwrap()),
                ms(*verify.iter().max().unwrap()),
            );
        }
    }
    for (name, n, client, snap, ver) in &counts {
        println!(
            "statements for {name} ({n} tables): introspection {client} (library count; constant {STATEMENTS} + 1 migration probe when a version table exists), \
             server-side: snapshot {snap}, verify {ver}"
        );
    }
    assert!(
        counts
            .windows(2)
            .all(|w| (w[0].2, w[0].3, w[0].4) == (w[1].2, w[1].3, w[1].4)),
        "statement counts differ"
    );

    restored_verify(&cluster, &admin, dir.path(), tables).await;

    // Drop: identical copies, alternating tools so caches favour neither.
    let psql = pg::bindir().join("psql");
    let psql = if psql.exists() {
        psql
    } else {
        Path::new("psql").to_path_buf()
    };
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for run in 0..DROP_RUNS {
        for tool in ["psql", "herokuops"] {
            let copy = format!("drop_{tool}_{run}");
            admin
                .batch("copy", &format!("CREATE DATABASE {copy} TEMPLATE scale"))
                .await
                .unwrap();
            let url = cluster.url(&copy);
            if tool == "psql" {
                let started = Instant::now();
                let out = Command::new(&psql)
                    .args([
                        "-X",
                        "-q",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                        "DROP SCHEMA public CASCADE",
                        &url,
                    ])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                theirs.push(started.elapsed());
                assert!(
                    out.status.success(),
                    "psql: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            } else {
                ours.push(herokuops(&[
                    "db",
                    "drop-schema",
                    "--database-url",
                    &url,
                    "--confirm",
                    &copy,
                ]));
            }
            let left: i64 = connect(&url)
                .await
                .query("check", "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'", &[])
                .await
                .unwrap()
                .first()
                .map_or(0, |r| r.get(0));
            assert_eq!(left, 0, "{tool} left objects in public");
            admin
                .batch("cleanup", &format!("DROP DATABASE {copy}"))
                .await
                .unwrap();
        }
    }
    let (o, t) = (median(ours.clone()), median(theirs.clone()));
    println!(
        "drop schema public ({tables} tables): herokuops db drop-schema median {} ({}), psql -c 'DROP SCHEMA public CASCADE' median {} ({}), ratio {:.2}x",
        ms(o),
        ours.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", "),
        ms(t),
        theirs.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", "),
        o.as_secs_f64() / t.as_secs_f64()
    );
}

/// `pg_dump | pg_restore` of the large database, then verify against the snapshot of the
/// original: every IN-list CHECK reads back as other text, so each is rendered by the server
/// (the normalization path at its largest).
async fn restored_verify(cluster: &pg::Cluster, admin: &Db, dir: &Path, tables: usize) {
    admin
        .batch("setup", "CREATE DATABASE restored")
        .await
        .unwrap();
    let dump = dir.join("scale.dump");
    let started = Instant::now();
    for (tool, args) in [
        (
            "pg_dump",
            vec![
                "--format=custom".to_string(),
                format!("--file={}", dump.display()),
                format!("--dbname={}", cluster.url("scale")),
            ],
        ),
        (
            "pg_restore",
            vec![
                "--no-owner".to_string(),
                format!("--dbname={}", cluster.url("restored")),
                dump.display().to_string(),
            ],
        ),
    ] {
        let out = Command::new(pg::client_tool(tool))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!(
        "pg_dump | pg_restore of {tables} tables in {}",
        ms(started.elapsed())
    );
    let file = dir.join("scale.toml");
    let file = file.to_str().unwrap();
    let url = cluster.url("restored");
    reset_statements(admin).await;
    herokuops(&["verify", "--database-url", &url, "--expect", file]);
    let statements = server_statements(admin, "restored").await;
    let verify: Vec<Duration> = (0..RUNS)
        .map(|_| herokuops(&["verify", "--database-url", &url, "--expect", file]))
        .collect();
    println!(
        "verify ({tables} tables restored by pg_restore, every CHECK re-rendered by the server, clean): median {} of {RUNS} runs (min {}, max {}), {statements} statements server-side",
        ms(median(verify.clone())),
        ms(*verify.iter().min().unwrap()),
        ms(*verify.iter().max().unwrap()),
    );
}
