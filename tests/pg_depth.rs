//! Verification at full depth against real servers: a schema with an object of every kind
//! (`fixtures/schema/every-kind`) and one built at test time by Django's own migrations.
//! Snapshot then verify is clean, and stays clean after `pg_dump | pg_restore` and on every
//! PostgreSQL major Heroku offers; every kind of realistic drift is reported with exit 3.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use futures_util::StreamExt;
use herokuops::pg::expected::Expected;
use herokuops::pg::introspect::{self, MigrationProbe};
use herokuops::pg::snapshot::{self, SnapshotOptions};
use herokuops::pg::{Drift, ObjectKind, PgError, VerifyOptions, normalize, verify_live};
use serde_json::Value;

use crate::support::pg::{
    MAJORS, Server, TestDb, client_tool, fixture_sql, fresh_db_on, server_of_major, shared,
};

const WITH_GRANTS: VerifyOptions = VerifyOptions { with_grants: true };
const NO_GRANTS: VerifyOptions = VerifyOptions { with_grants: false };

async fn every_kind_on(server: &Server) -> TestDb {
    let db = fresh_db_on(server).await;
    db.exec(&fixture_sql("every-kind", "schema.sql")).await;
    db
}

/// A strict snapshot of `db`'s schema public, as `schema snapshot` writes it.
async fn snapshot_of(db: &TestDb, with_grants: bool) -> (String, Expected) {
    let conn = db.connect().await;
    let schema = introspect::introspect(&conn, "public", &MigrationProbe::Auto)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = snapshot::render_with(&schema, "a test database", &SnapshotOptions { with_grants });
    let expected = Expected::parse(&text, Path::new("snapshot.toml"))
        .unwrap_or_else(|e| panic!("snapshot does not parse: {e}\n{text}"));
    (text, expected)
}

async fn drifts(db: &TestDb, expected: &Expected, options: &VerifyOptions) -> Vec<Drift> {
    verify_live(&db.connect().await, expected, options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .drifts
}

fn run_tool(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pg_dump -Fc` of `from`, restored with `pg_restore` into a new database on `into`.
async fn dump_and_restore(from: &TestDb, into: &Server) -> TestDb {
    let dump = tempfile::NamedTempFile::new().unwrap();
    let target = fresh_db_on(into).await;
    let (from_url, into_url) = (from.url.clone(), target.url.clone());
    let path = dump.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        run_tool(
            Command::new(client_tool("pg_dump"))
                .args(["--format=custom", "--file"])
                .arg(&path)
                .arg(format!("--dbname={from_url}")),
        );
        run_tool(
            Command::new(client_tool("pg_restore"))
                .args(["--no-owner", "--exit-on-error"])
                .arg(format!("--dbname={into_url}"))
                .arg(&path),
        );
    })
    .await
    .unwrap();
    target
}

fn show(drifts: &[Drift]) -> String {
    drifts.iter().map(|d| format!("{d}\n")).collect::<String>()
}

#[tokio::test]
async fn every_kind_is_captured_and_snapshot_then_verify_is_clean() {
    let db = every_kind_on(shared()).await;
    let (text, expected) = snapshot_of(&db, true).await;
    for needle in [
        "[enums.order_status]",
        "labels = \"'new', 'paid', 'shipped', 'cancelled'\"",
        "[domains.positive_int]",
        "\"check positive_int_check\" = \"CHECK ((VALUE > 0))\"",
        "[composite_types.money_amount]",
        "[views.active_customers]",
        "[materialized_views.product_stock]",
        "\"index product_stock_sku\"",
        "[functions.\"add_tax(numeric,numeric)\"]",
        "[functions.\"archive_orders(timestamp with time zone)\"]",
        "kind = \"aggregate\"",
        "security = \"definer\"",
        "config = \"search_path=public\"",
        "[triggers.\"products.products_audit\"]",
        "enabled = \"disabled\"",
        "[policies.\"customers.customers_no_school\"]",
        "mode = \"restrictive\"",
        "row_security = \"forced\"",
        "persistence = \"unlogged\"",
        "partition_key = \"RANGE (placed_at)\"",
        "partition_of = \"orders\"",
        "partition_bound = \"DEFAULT\"",
        "[sequences.invoice_numbers]",
        "owned_by = \"products.invoice_no\"",
        "increment = \"5\"",
        "[collations.bytewise]",
        "collate bytewise not null",
        "generated always as ((price * 1.2)) stored",
        "[comments.\"table column customers.handle\"]",
        "[grants.\"table products\"]",
        "[default_privileges.\"owner on tables\"]",
        "DEFERRABLE INITIALLY DEFERRED",
        "NOT VALID",
        "EXCLUDE USING gist",
        "INCLUDE (email)",
    ] {
        assert!(
            text.contains(needle),
            "the snapshot lacks {needle}:\n{text}"
        );
    }
    let found = drifts(&db, &expected, &WITH_GRANTS).await;
    assert!(found.is_empty(), "{}", show(&found));
}

#[tokio::test]
async fn every_kind_is_clean_after_pg_dump_and_pg_restore() {
    let db = every_kind_on(shared()).await;
    let (before, expected) = snapshot_of(&db, true).await;
    let restored = dump_and_restore(&db, shared()).await;
    // The restored server prints the IN-list CHECK otherwise: as text, it differs.
    let (after, _) = snapshot_of(&restored, true).await;
    assert_ne!(before.lines().count(), 0);
    let changed: Vec<&str> = after
        .lines()
        .filter(|l| l.starts_with("customers_kind_check"))
        .collect();
    assert!(
        !before.contains(changed[0]),
        "the restore no longer changes the CHECK's text; the test proves nothing: {changed:?}"
    );
    let found = drifts(&restored, &expected, &WITH_GRANTS).await;
    assert!(found.is_empty(), "{}", show(&found));
}

#[tokio::test]
async fn every_kind_restored_into_every_other_major_is_clean() {
    let db = every_kind_on(shared()).await;
    let (_, expected) = snapshot_of(&db, false).await;
    for major in MAJORS {
        let restored = dump_and_restore(&db, server_of_major(major)).await;
        let found = drifts(&restored, &expected, &NO_GRANTS).await;
        assert!(found.is_empty(), "restored into {major}:\n{}", show(&found));
    }
}

#[tokio::test]
async fn the_same_schema_built_on_each_major_compares_clean_both_ways() {
    let mut built = Vec::new();
    for major in MAJORS {
        built.push((major, every_kind_on(server_of_major(major)).await));
    }
    let (_, reference) = &built[1];
    let (_, reference_expected) = snapshot_of(reference, false).await;
    for (major, db) in &built {
        // The other side's definitions, rendered by this server, and the other way round.
        let found = drifts(db, &reference_expected, &NO_GRANTS).await;
        assert!(found.is_empty(), "15 as seen by {major}:\n{}", show(&found));
        let (_, expected) = snapshot_of(db, false).await;
        let found = drifts(reference, &expected, &NO_GRANTS).await;
        assert!(found.is_empty(), "{major} as seen by 15:\n{}", show(&found));
    }
}

#[tokio::test]
async fn normalizing_takes_the_same_statements_for_one_difference_or_many() {
    let mut counts = Vec::new();
    for checks in [1, 40] {
        let db = fresh_db_on(shared()).await;
        let mut sql = String::from("CREATE TABLE t (k varchar(10));\n");
        for i in 0..checks {
            sql.push_str(&format!(
                "ALTER TABLE t ADD CONSTRAINT c{i} CHECK (k IN ('a', 'b{i}'));\n"
            ));
        }
        db.exec(&sql).await;
        let (_, expected) = snapshot_of(&db, false).await;
        // After the restore every CHECK reads back as other text: each one is normalized.
        let restored = dump_and_restore(&db, shared()).await;
        let conn = restored.connect().await;
        let before = conn.queries();
        let verified = verify_live(&conn, &expected, &NO_GRANTS).await.unwrap();
        assert!(verified.drifts.is_empty(), "{}", show(&verified.drifts));
        counts.push(conn.queries() - before);
    }
    assert_eq!(
        counts,
        [introspect::STATEMENTS_ONE_CONNECTION + normalize::STATEMENTS; 2],
        "statements for 1 and for 40 differing definitions"
    );
}

#[tokio::test]
async fn a_schema_that_does_not_exist_is_an_error() {
    let db = every_kind_on(shared()).await;
    let conn = db.connect().await;
    let err = introspect::introspect(&conn, "nope", &MigrationProbe::None)
        .await
        .unwrap_err();
    assert!(matches!(err, PgError::NoSuchSchema { .. }), "{err:?}");
    assert!(err.is_bad_input(), "{err:?}");

    let run = cli(&[
        "schema",
        "snapshot",
        "--database-url",
        &db.url,
        "--schema",
        "nope",
    ])
    .await;
    assert_eq!(run.0, 2, "{}", run.2);
    assert!(run.2.contains("schema nope does not exist"), "{}", run.2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nope.toml");
    std::fs::write(&file, "schema = \"nope\"\n").unwrap();
    let run = cli(&[
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.0, 2, "{}", run.2);
}

/// Runs the binary: exit code, stdout, stderr.
async fn cli(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_herokuops"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("NO_COLOR", "1")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// A realistic change, and the drift verify must report for it: `changed`, `missing` or
/// `extra` (or a specific kind such as `check_definition`), the object's kind, its name.
struct Case {
    change: &'static str,
    kind: &'static str,
    object_kind: ObjectKind,
    object: &'static str,
}

const fn case(
    change: &'static str,
    kind: &'static str,
    object_kind: ObjectKind,
    object: &'static str,
) -> Case {
    Case {
        change,
        kind,
        object_kind,
        object,
    }
}

/// At least one addition, removal or change for each kind of object.
const CASES: &[Case] = &[
    case(
        "CREATE TABLE coupons (code text PRIMARY KEY)",
        "extra_table",
        ObjectKind::Table,
        "coupons",
    ),
    case(
        "DROP TABLE bookings",
        "missing_table",
        ObjectKind::Table,
        "bookings",
    ),
    case(
        "ALTER TABLE sessions SET LOGGED",
        "changed",
        ObjectKind::Table,
        "sessions",
    ),
    case(
        "ALTER TABLE orders DETACH PARTITION orders_2025",
        "changed",
        ObjectKind::Table,
        "orders_2025",
    ),
    case(
        "ALTER TABLE notes DETACH PARTITION notes_a; ALTER TABLE notes ATTACH PARTITION notes_a FOR VALUES IN ('a')",
        "changed",
        ObjectKind::Table,
        "notes_a",
    ),
    case(
        "ALTER TABLE customers ADD COLUMN nickname text",
        "extra_column",
        ObjectKind::Column,
        "customers.nickname",
    ),
    case(
        "ALTER TABLE products DROP COLUMN invoice_no",
        "missing_column",
        ObjectKind::Column,
        "products.invoice_no",
    ),
    case(
        "ALTER TABLE products ALTER COLUMN name TYPE varchar(200)",
        "column_type",
        ObjectKind::Column,
        "products.name",
    ),
    case(
        "ALTER TABLE customers ALTER COLUMN handle TYPE text COLLATE \"POSIX\"",
        "column_collation",
        ObjectKind::Column,
        "customers.handle",
    ),
    case(
        "ALTER TABLE customers ALTER COLUMN kind SET DEFAULT 'company'",
        "column_default",
        ObjectKind::Column,
        "customers.kind",
    ),
    case(
        "ALTER TABLE products DROP COLUMN price_with_tax; ALTER TABLE products ADD COLUMN price_with_tax numeric(12,2) GENERATED ALWAYS AS (price * 1.25) STORED",
        "column_default",
        ObjectKind::Column,
        "products.price_with_tax",
    ),
    case(
        "ALTER TABLE customers ALTER COLUMN id DROP IDENTITY",
        "column_default",
        ObjectKind::Column,
        "customers.id",
    ),
    case(
        "ALTER TABLE customers DROP CONSTRAINT customers_kind_check; ALTER TABLE customers ADD CONSTRAINT customers_kind_check CHECK (kind IN ('person', 'company'))",
        "check_definition",
        ObjectKind::Check,
        "customers.customers_kind_check",
    ),
    case(
        "ALTER TABLE customers VALIDATE CONSTRAINT customers_tier_check",
        "check_definition",
        ObjectKind::Check,
        "customers.customers_tier_check",
    ),
    case(
        "ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap",
        "missing_check",
        ObjectKind::Check,
        "bookings.bookings_no_overlap",
    ),
    case(
        "ALTER TABLE orders DROP CONSTRAINT orders_customer_fk; ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT",
        "foreign_key_definition",
        ObjectKind::ForeignKey,
        "orders.orders_customer_fk",
    ),
    case(
        "ALTER TABLE order_lines VALIDATE CONSTRAINT order_lines_order_id_placed_at_fkey",
        "foreign_key_definition",
        ObjectKind::ForeignKey,
        "order_lines.order_lines_order_id_placed_at_fkey",
    ),
    case(
        "ALTER TABLE customers DROP CONSTRAINT customers_email_key",
        "missing_unique",
        ObjectKind::Unique,
        "customers.customers_email_key",
    ),
    case(
        "ALTER TABLE sessions DROP CONSTRAINT sessions_pkey",
        "primary_key",
        ObjectKind::PrimaryKey,
        "sessions",
    ),
    case(
        "DROP INDEX customers_tenant_incl",
        "missing_index",
        ObjectKind::Index,
        "customers.customers_tenant_incl",
    ),
    case(
        "DROP INDEX customers_handle_lower; CREATE INDEX customers_handle_lower ON customers (lower(handle)) WHERE kind::text IN ('person')",
        "index_definition",
        ObjectKind::Index,
        "customers.customers_handle_lower",
    ),
    case(
        "CREATE INDEX orders_placed_idx ON orders (placed_at)",
        "extra_index",
        ObjectKind::Index,
        "orders.orders_placed_idx",
    ),
    case(
        "CREATE OR REPLACE VIEW active_customers AS SELECT c.id, c.email, count(o.id) AS orders FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.status IN ('paid') WHERE c.kind::text IN ('person', 'company') GROUP BY c.id, c.email",
        "changed",
        ObjectKind::View,
        "active_customers",
    ),
    case(
        "CREATE VIEW big_orders AS SELECT id FROM orders WHERE (total).amount > 100",
        "extra",
        ObjectKind::View,
        "big_orders",
    ),
    case(
        "DROP MATERIALIZED VIEW product_stock; CREATE MATERIALIZED VIEW product_stock AS SELECT sku, stock FROM products WITH NO DATA; CREATE UNIQUE INDEX product_stock_sku ON product_stock (sku)",
        "changed",
        ObjectKind::MaterializedView,
        "product_stock",
    ),
    case(
        "CREATE INDEX product_stock_stock ON product_stock (stock)",
        "changed",
        ObjectKind::MaterializedView,
        "product_stock",
    ),
    case(
        "ALTER SEQUENCE invoice_numbers INCREMENT BY 1",
        "changed",
        ObjectKind::Sequence,
        "invoice_numbers",
    ),
    case(
        "ALTER SEQUENCE invoice_numbers NO CYCLE",
        "changed",
        ObjectKind::Sequence,
        "invoice_numbers",
    ),
    case(
        "ALTER SEQUENCE invoice_numbers OWNED BY NONE",
        "changed",
        ObjectKind::Sequence,
        "invoice_numbers",
    ),
    case(
        "ALTER TYPE order_status ADD VALUE 'refunded' AFTER 'paid'",
        "changed",
        ObjectKind::Enum,
        "order_status",
    ),
    case(
        "CREATE TYPE priority AS ENUM ('low', 'high')",
        "extra",
        ObjectKind::Enum,
        "priority",
    ),
    case(
        "ALTER DOMAIN positive_int DROP CONSTRAINT positive_int_check; ALTER DOMAIN positive_int ADD CONSTRAINT positive_int_check CHECK (VALUE >= 0)",
        "changed",
        ObjectKind::Domain,
        "positive_int",
    ),
    case(
        "ALTER DOMAIN positive_int SET DEFAULT 2",
        "changed",
        ObjectKind::Domain,
        "positive_int",
    ),
    case(
        "ALTER DOMAIN email DROP CONSTRAINT email_has_at",
        "changed",
        ObjectKind::Domain,
        "email",
    ),
    case(
        "ALTER TYPE money_amount ADD ATTRIBUTE note text",
        "changed",
        ObjectKind::CompositeType,
        "money_amount",
    ),
    case(
        "ALTER FUNCTION add_tax(numeric, numeric) VOLATILE",
        "changed",
        ObjectKind::Function,
        "add_tax(numeric,numeric)",
    ),
    case(
        "CREATE OR REPLACE FUNCTION order_total(o orders) RETURNS numeric LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$ SELECT (o.total).amount * 2 $$",
        "changed",
        ObjectKind::Function,
        "order_total(orders)",
    ),
    case(
        "ALTER FUNCTION touch_seen() SECURITY INVOKER",
        "changed",
        ObjectKind::Function,
        "touch_seen()",
    ),
    case(
        "ALTER FUNCTION touch_seen() RESET search_path",
        "changed",
        ObjectKind::Function,
        "touch_seen()",
    ),
    case(
        "ALTER FUNCTION add_tax(numeric, numeric) STRICT",
        "changed",
        ObjectKind::Function,
        "add_tax(numeric,numeric)",
    ),
    case(
        "DROP PROCEDURE archive_orders(timestamptz)",
        "missing",
        ObjectKind::Function,
        "archive_orders(timestamp with time zone)",
    ),
    case(
        "DROP AGGREGATE product_of(numeric)",
        "missing",
        ObjectKind::Function,
        "product_of(numeric)",
    ),
    case(
        "CREATE FUNCTION double(integer) RETURNS integer LANGUAGE sql IMMUTABLE RETURN $1 * 2",
        "extra",
        ObjectKind::Function,
        "double(integer)",
    ),
    case(
        "ALTER TABLE products ENABLE TRIGGER products_audit",
        "changed",
        ObjectKind::Trigger,
        "products.products_audit",
    ),
    case(
        "DROP TRIGGER sessions_touch ON sessions",
        "missing",
        ObjectKind::Trigger,
        "sessions.sessions_touch",
    ),
    case(
        "DROP TRIGGER products_audit ON products; CREATE TRIGGER products_audit AFTER UPDATE OF price ON products FOR EACH ROW WHEN (OLD.price < NEW.price) EXECUTE FUNCTION log_change(); ALTER TABLE products DISABLE TRIGGER products_audit",
        "changed",
        ObjectKind::Trigger,
        "products.products_audit",
    ),
    case(
        "ALTER TABLE customers NO FORCE ROW LEVEL SECURITY",
        "changed",
        ObjectKind::Table,
        "customers",
    ),
    case(
        "ALTER TABLE products ENABLE ROW LEVEL SECURITY",
        "changed",
        ObjectKind::Table,
        "products",
    ),
    case(
        "ALTER POLICY customers_tenant ON customers USING (tenant = session_user)",
        "changed",
        ObjectKind::Policy,
        "customers.customers_tenant",
    ),
    case(
        "DROP POLICY customers_no_school ON customers",
        "missing",
        ObjectKind::Policy,
        "customers.customers_no_school",
    ),
    case(
        "CREATE EXTENSION pgcrypto",
        "extra_extension",
        ObjectKind::Extension,
        "pgcrypto",
    ),
    case(
        "CREATE COLLATION numeric_order (provider = libc, locale = 'POSIX')",
        "extra",
        ObjectKind::Collation,
        "numeric_order",
    ),
    case(
        "COMMENT ON TABLE customers IS 'Who buys'",
        "changed",
        ObjectKind::Comment,
        "table customers",
    ),
    case(
        "COMMENT ON COLUMN customers.handle IS NULL",
        "missing",
        ObjectKind::Comment,
        "table column customers.handle",
    ),
    case(
        "COMMENT ON TABLE orders IS 'Orders'",
        "extra",
        ObjectKind::Comment,
        "table orders",
    ),
    case(
        "REVOKE SELECT ON products FROM PUBLIC",
        "missing",
        ObjectKind::Grant,
        "table products",
    ),
    case(
        "GRANT SELECT ON customers TO PUBLIC",
        "extra",
        ObjectKind::Grant,
        "table customers",
    ),
    case(
        "GRANT EXECUTE ON FUNCTION add_tax(numeric, numeric) TO PUBLIC",
        "extra",
        ObjectKind::Grant,
        "function add_tax(numeric,numeric)",
    ),
    case(
        "REVOKE EXECUTE ON FUNCTION log_change() FROM PUBLIC",
        "missing",
        ObjectKind::Grant,
        "function log_change()",
    ),
    case(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM PUBLIC",
        "missing",
        ObjectKind::DefaultPrivilege,
        "owner on tables",
    ),
];

/// Applies one case to a fresh copy of the schema and runs `herokuops verify --json`.
async fn run_case(snapshot: &Path, case: &Case) -> Result<(), String> {
    let db = every_kind_on(shared()).await;
    db.exec(case.change).await;
    let file = snapshot.to_str().unwrap();
    let (code, stdout, stderr) = cli(&[
        "--json",
        "verify",
        "--database-url",
        &db.url,
        "--expect",
        file,
        "--with-grants",
    ])
    .await;
    let report: Value =
        serde_json::from_str(&stdout).map_err(|e| format!("{e}: {stdout}{stderr}"))?;
    let drifts = report["drift"].as_array().cloned().unwrap_or_default();
    let named = drifts.iter().any(|d| {
        d["kind"] == case.kind
            && d["object_kind"] == case.object_kind.as_str()
            && d["object"] == case.object
    });
    if code == 3 && named {
        Ok(())
    } else {
        Err(format!(
            "`{}`: exit {code}, wanted {} {} {}, got {:#}",
            case.change, case.kind, case.object_kind, case.object, report["drift"]
        ))
    }
}

#[tokio::test]
async fn each_kind_of_drift_is_reported_with_exit_3_and_the_object_named() {
    let db = every_kind_on(shared()).await;
    let (text, _) = snapshot_of(&db, true).await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.toml");
    std::fs::write(&snapshot, text).unwrap();
    let kinds: std::collections::BTreeSet<ObjectKind> =
        CASES.iter().map(|c| c.object_kind).collect();
    for kind in ObjectKind::CATALOG {
        assert!(kinds.contains(&kind), "no drift case for {kind}");
    }
    let failures: Vec<String> = futures_util::stream::iter(CASES)
        .map(|case| run_case(&snapshot, case))
        .buffer_unordered(4)
        .filter_map(|r| async { r.err() })
        .collect()
        .await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Django's own migrations (auth, contenttypes, admin, sessions) applied to `db`, with a
/// settings module written for it.
async fn django_migrate(db: &TestDb) {
    let python = std::env::var("HEROKUOPS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let url = url::Url::parse(&db.url).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "SECRET_KEY = 'test'\nUSE_TZ = True\nDEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'\n\
         INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes', 'django.contrib.admin', 'django.contrib.sessions']\n\
         DATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', 'NAME': '{}', 'USER': '{}', 'PASSWORD': '{}', 'HOST': '{}', 'PORT': '{}'}}}}\n",
        url.path().trim_start_matches('/'),
        url.username(),
        url.password().unwrap_or_default(),
        url.host_str().unwrap_or_default(),
        url.port().unwrap_or(5432),
    );
    std::fs::write(dir.path().join("depth_settings.py"), settings).unwrap();
    let path: PathBuf = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&python)
            .args(["-m", "django", "migrate", "--noinput", "--skip-checks"])
            .env("DJANGO_SETTINGS_MODULE", "depth_settings")
            .env("PYTHONPATH", &path)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}; `source scripts/lib/test-tools.sh` installs Django"));
        assert!(
            out.status.success(),
            "django migrate failed (scripts/lib/test-tools.sh installs Django and psycopg into its virtualenv and exports HEROKUOPS_TEST_PYTHON): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_schema_made_by_django_migrations_verifies_clean_after_restore_and_across_majors() {
    let db = fresh_db_on(shared()).await;
    django_migrate(&db).await;
    let (text, expected) = snapshot_of(&db, true).await;
    assert!(text.contains("[tables.auth_user]"), "{text}");
    assert!(
        text.contains("[migration]\ntable = \"django_migrations\""),
        "{text}"
    );
    assert!(text.contains("DEFERRABLE INITIALLY DEFERRED"), "{text}");
    assert!(text.contains("varchar_pattern_ops"), "{text}");
    let found = drifts(&db, &expected, &WITH_GRANTS).await;
    assert!(found.is_empty(), "snapshot then verify:\n{}", show(&found));

    let restored = dump_and_restore(&db, shared()).await;
    let found = drifts(&restored, &expected, &WITH_GRANTS).await;
    assert!(
        found.is_empty(),
        "after pg_dump | pg_restore:\n{}",
        show(&found)
    );

    // The same migrations run on the oldest and the newest major compare clean with 15.
    for major in [14, 17] {
        let other = fresh_db_on(server_of_major(major)).await;
        django_migrate(&other).await;
        let found = drifts(&other, &expected, &NO_GRANTS).await;
        assert!(found.is_empty(), "migrated on {major}:\n{}", show(&found));
        let (_, theirs) = snapshot_of(&other, false).await;
        let found = drifts(&db, &theirs, &NO_GRANTS).await;
        assert!(found.is_empty(), "{major} as seen by 15:\n{}", show(&found));
    }

    // And a drift in the migrated schema is found.
    db.exec("ALTER TABLE auth_user ALTER COLUMN username TYPE varchar(100)")
        .await;
    let found = drifts(&db, &expected, &NO_GRANTS).await;
    assert!(
        found.iter().any(|d| d.object == "auth_user.username"),
        "{}",
        show(&found)
    );
}
