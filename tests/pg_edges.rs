//! The edges of issue 11 met on a real database: each test is named after the item it covers.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::pg::{TestDb, fresh_db};

fn herokuops(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_herokuops"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn tmi() -> TestDb {
    let db = fresh_db().await;
    db.load_fixture("tmi").await;
    db
}

/// A null device of the test's own where one can be made (as root), so that a mistake could
/// not replace the machine's `/dev/null`; else the machine's, which only root could.
fn private_null(dir: &Path) -> PathBuf {
    let node = dir.join("null");
    let made = std::process::Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        node
    } else {
        PathBuf::from("/dev/null")
    }
}

#[tokio::test]
async fn item_06_schema_snapshot_to_a_device_writes_to_it_and_leaves_it_a_device() {
    let db = tmi().await;
    let dir = tempfile::tempdir().unwrap();
    let null = private_null(dir.path());
    let out = herokuops(&[
        "schema",
        "snapshot",
        "--database-url",
        &db.url,
        "-o",
        null.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let meta = std::fs::metadata(&null).unwrap();
    assert!(meta.file_type().is_char_device(), "the device was replaced");

    // A regular file is still replaced whole; `-o -` is stdout.
    let file = dir.path().join("expected.toml");
    let out = herokuops(&[
        "schema",
        "snapshot",
        "--database-url",
        &db.url,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("[tables.users]")
    );
    let out = herokuops(&["schema", "snapshot", "--database-url", &db.url, "-o", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[tables.users]"));
    assert!(!Path::new("-").exists());
}

/// Objects in schema `audit` that depend on `public`: a column of a `public` enum, a view over
/// a `public` table, a view over that view, a foreign key to a `public` table, a default
/// calling a `public` function; and a table that depends on nothing.
const DEPENDENTS: &str = r#"
    CREATE TYPE public.kind AS ENUM ('a', 'b');
    CREATE FUNCTION public.one() RETURNS int LANGUAGE sql AS 'SELECT 1';
    CREATE SCHEMA audit;
    CREATE TABLE audit.events (
        id int PRIMARY KEY,
        kind public.kind,
        user_id uuid REFERENCES public.users (internal_uuid),
        note text,
        n int DEFAULT public.one()
    );
    INSERT INTO audit.events (id, kind, note) VALUES (1, 'a', 'kept?');
    CREATE VIEW audit.user_emails AS SELECT email FROM public.users;
    CREATE VIEW audit.on_a_view AS SELECT * FROM audit.user_emails;
    CREATE TABLE audit.independent (x int);
"#;

const LOST: [&str; 5] = [
    "default value for audit.events.n",
    "table column audit.events.kind",
    "table constraint events_user_id_fkey on audit.events",
    "view audit.on_a_view",
    "view audit.user_emails",
];

async fn count(db: &herokuops::pg::Db, sql: &str) -> i64 {
    db.query("count", sql, &[]).await.unwrap()[0].get(0)
}

#[tokio::test]
async fn item_01_a_drop_refuses_while_other_schemas_depend_on_public_and_names_each_object() {
    use herokuops::pg::PgError;
    use herokuops::pg::drop::{DropOptions, drop_schema, inspect};
    let db = tmi().await;
    db.exec(DEPENDENTS).await;
    let conn = db.connect().await;

    let state = inspect(&conn, "public").await.unwrap();
    let mut found: Vec<String> = state.dependents.iter().map(|d| d.to_string()).collect();
    found.sort();
    assert_eq!(found, LOST);

    let err = drop_schema(&conn, &DropOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_bad_input(), "{err}");
    assert!(matches!(err, PgError::OtherSchemasDepend { .. }), "{err}");
    for lost in LOST {
        assert!(err.to_string().contains(lost), "{err}");
    }
    // Nothing was dropped, here or there.
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(count(&conn, tables).await, 25);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM audit.on_a_view").await,
        0
    );
    let column = "SELECT count(*) FROM information_schema.columns \
                  WHERE table_schema = 'audit' AND table_name = 'events' AND column_name = 'kind'";
    assert_eq!(count(&conn, column).await, 1);

    // Allowed, they go with the schema, and nothing else does.
    let options = DropOptions {
        allow_dependents: true,
        ..DropOptions::default()
    };
    let report = drop_schema(&conn, &options).await.unwrap();
    assert_eq!(report.before.dependents.len(), LOST.len());
    assert_eq!(count(&conn, column).await, 0);
    let views = "SELECT count(*) FROM pg_views WHERE schemaname = 'audit'";
    assert_eq!(count(&conn, views).await, 0);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM audit.events").await,
        1,
        "the table itself stays"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM audit.independent").await,
        0
    );
}

/// The reading a run's plan took stands in for the drop's own only as it was: what it found
/// depending on the schema still makes the drop refuse, before any transaction begins.
#[tokio::test]
async fn item_01_a_drop_given_a_reading_with_dependents_refuses_and_begins_nothing() {
    use herokuops::pg::PgError;
    use herokuops::pg::drop::{DropOptions, drop_schema, inspect};
    let db = tmi().await;
    db.exec(DEPENDENTS).await;
    let conn = db.connect().await;
    let reading = inspect(&conn, "public").await.unwrap();
    assert_eq!(reading.dependents.len(), LOST.len());

    let sent = conn.queries();
    let options = DropOptions {
        read_before: Some(reading),
        ..DropOptions::default()
    };
    let err = drop_schema(&conn, &options).await.unwrap_err();
    assert!(matches!(err, PgError::OtherSchemasDepend { .. }), "{err}");
    assert_eq!(conn.queries(), sent, "nothing was sent");
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(count(&conn, tables).await, 25);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM audit.on_a_view").await,
        0
    );
}

#[tokio::test]
async fn item_01_db_drop_schema_exits_2_naming_the_dependents_unless_allowed() {
    let db = tmi().await;
    db.exec(DEPENDENTS).await;
    let dry = herokuops(&["--dry-run", "db", "drop-schema", "--database-url", &db.url]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(plan.contains("refused without --drop-dependents"), "{plan}");
    assert!(plan.contains("view audit.user_emails"), "{plan}");

    let refused = herokuops(&[
        "db",
        "drop-schema",
        "--database-url",
        &db.url,
        "--confirm",
        &db.name,
    ]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    for lost in LOST {
        assert!(err.contains(lost), "{err}");
    }
    assert!(err.contains("--drop-dependents"), "{err}");
    let conn = db.connect().await;
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(count(&conn, tables).await, 25, "nothing was dropped");

    let allowed = herokuops(&[
        "db",
        "drop-schema",
        "--database-url",
        &db.url,
        "--confirm",
        &db.name,
        "--drop-dependents",
    ]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    assert_eq!(count(&conn, tables).await, 0);
}

/// The schema's default privileges, as `pg_default_acl` holds them.
async fn default_acl(db: &herokuops::pg::Db) -> Vec<(String, String, String)> {
    db.query(
        "default privileges",
        "SELECT d.defaclrole::regrole::text, d.defaclobjtype::text, d.defaclacl::text \
           FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace \
          WHERE n.nspname = 'public' ORDER BY 1, 2",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test]
async fn item_02_default_privileges_survive_the_drop() {
    use herokuops::pg::drop::{DropOptions, drop_schema};
    let db = tmi().await;
    let reader = format!("{}_reader", db.name);
    let writer = format!("{} Writer", db.name);
    db.exec(&format!(
        r#"CREATE ROLE "{reader}"; CREATE ROLE "{writer}";
           ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{reader}";
           ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO "{writer}";
           ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO "{writer}" WITH GRANT OPTION;
           ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO PUBLIC;"#
    ))
    .await;
    let conn = db.connect().await;
    let before = default_acl(&conn).await;
    assert_eq!(before.len(), 3, "{before:?}");
    drop_schema(&conn, &DropOptions::default()).await.unwrap();
    assert_eq!(default_acl(&conn).await, before);
    // And they apply: a table made now is readable by the reader.
    conn.batch("a new table", "CREATE TABLE public.fresh (x int)")
        .await
        .unwrap();
    let readable = format!(
        "SELECT count(*) FROM pg_class WHERE relname = 'fresh' \
         AND has_table_privilege('{reader}', oid, 'SELECT')"
    );
    assert_eq!(count(&conn, &readable).await, 1);
}
