//! Connecting and dropping the schema against a real server: what happens on failure matters
//! most here, so the tests kill connections and stop servers mid-transaction.

use std::time::Duration;

use herokuops::pg::drop::{DropOptions, drop_schema};
use herokuops::pg::{ConnectFailure, Db, PgError, Target};

use crate::support::pg::{
    Cluster, ClusterOptions, Server, TestDb, eventually, fresh_db, fresh_db_on, shared,
};

async fn admin() -> Db {
    Target::parse(&shared().admin_url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn scalar_i64(db: &Db, sql: &str) -> i64 {
    db.query("test", sql, &[]).await.unwrap()[0].get(0)
}

async fn scalar_text(db: &Db, sql: &str) -> Option<String> {
    db.query("test", sql, &[]).await.unwrap()[0].get(0)
}

/// Owner, ACL and comment of schema public, as text.
async fn public_schema_state(db: &Db) -> (String, Option<String>, Option<String>) {
    let row = &db
        .query(
            "test",
            "SELECT nspowner::regrole::text, nspacl::text, obj_description(oid, 'pg_namespace')
               FROM pg_namespace WHERE nspname = 'public'",
            &[],
        )
        .await
        .unwrap()[0];
    (row.get(0), row.get(1), row.get(2))
}

async fn public_tables(db: &Db) -> i64 {
    scalar_i64(
        db,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
    )
    .await
}

const SEED_DATA: &str = "
    INSERT INTO users (provider, provider_user_id, email, name) VALUES ('tmi', 'u1', 'ada@example.com', 'Ada');
    INSERT INTO threat_models (owner_internal_uuid, created_by_internal_uuid, name, issue_uri)
         SELECT internal_uuid, internal_uuid, 'payments', 'https://issues.example.com/1' FROM users;
    INSERT INTO notes (threat_model_id, name, content) SELECT id, 'n1', 'remember me' FROM threat_models;";

async fn tmi_with_data() -> TestDb {
    let db = fresh_db().await;
    db.load_fixture("tmi").await;
    db.exec(SEED_DATA).await;
    db
}

async fn assert_tmi_intact(db: &Db) {
    assert_eq!(public_tables(db).await, 25, "all 25 tables are still there");
    assert_eq!(
        scalar_i64(db, "SELECT count(*) FROM threat_models").await,
        1
    );
    assert_eq!(
        scalar_text(db, "SELECT content FROM notes")
            .await
            .as_deref(),
        Some("remember me")
    );
    assert_eq!(
        scalar_text(db, "SELECT issue_uri FROM threat_models")
            .await
            .as_deref(),
        Some("https://issues.example.com/1")
    );
}

#[tokio::test]
async fn drop_schema_leaves_an_empty_public_with_the_same_owner_and_grants() {
    let db = tmi_with_data().await;
    let conn = db.connect().await;
    let before = public_schema_state(&conn).await;
    let report = drop_schema(&conn, &DropOptions::default()).await.unwrap();
    assert_eq!(report.before.tables, 25);
    assert_eq!(public_tables(&conn).await, 0);
    assert_eq!(public_schema_state(&conn).await, before);
    // uuid-ossp lived in public, so it went with it; the app's migration recreates it.
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp'"
        )
        .await,
        0
    );
}

/// A drop that follows its reading at once (a run with no prompt or backup between its plan
/// and its drop) is given that reading: it sends its transaction and nothing else, and puts
/// back the owner, grants and comment the reading found. Without one it reads them itself.
#[tokio::test]
async fn a_drop_given_the_reading_just_taken_reads_nothing_more_and_restores_the_same() {
    use herokuops::pg::drop::inspect;
    let db = tmi_with_data().await;
    let owner = format!("{}_owner", db.name);
    db.exec(&format!(
        r#"CREATE ROLE "{owner}";
           ALTER SCHEMA public OWNER TO "{owner}";
           REVOKE ALL ON SCHEMA public FROM PUBLIC;
           COMMENT ON SCHEMA public IS 'read once';"#
    ))
    .await;
    let conn = db.connect().await;
    let before = public_schema_state(&conn).await;

    let reading = inspect(&conn, "public").await.unwrap();
    let sent = conn.queries();
    let options = DropOptions {
        read_before: Some(reading),
        ..DropOptions::default()
    };
    let report = drop_schema(&conn, &options).await.unwrap();
    assert_eq!(
        conn.queries() - sent,
        1,
        "the drop, in one batch with its BEGIN"
    );
    assert_eq!(report.before.tables, 25);
    assert_eq!(public_tables(&conn).await, 0);
    assert_eq!(public_schema_state(&conn).await, before);

    // Without a reading, the drop reads the schema inside its transaction first.
    let sent = conn.queries();
    drop_schema(&conn, &DropOptions::default()).await.unwrap();
    assert!(
        conn.queries() - sent > 2,
        "{} statements",
        conn.queries() - sent
    );
    assert_eq!(public_schema_state(&conn).await, before);
}

#[tokio::test]
async fn drop_schema_keeps_a_custom_owner_explicit_grants_and_other_schemas() {
    let db = tmi_with_data().await;
    let owner = format!("{}_owner", db.name);
    let reader = format!("{} Reader", db.name);
    db.exec(&format!(
        r#"CREATE ROLE "{owner}"; CREATE ROLE "{reader}";
           ALTER SCHEMA public OWNER TO "{owner}";
           REVOKE ALL ON SCHEMA public FROM PUBLIC;
           GRANT USAGE ON SCHEMA public TO "{reader}";
           GRANT CREATE ON SCHEMA public TO "{reader}" WITH GRANT OPTION;
           COMMENT ON SCHEMA public IS 'app''s schema';
           CREATE SCHEMA extensions;
           CREATE EXTENSION pgcrypto SCHEMA extensions;
           CREATE SCHEMA keep;
           CREATE TABLE keep.audit (id int PRIMARY KEY, what text);
           INSERT INTO keep.audit VALUES (1, 'still here');"#
    ))
    .await;
    let conn = db.connect().await;
    let before = public_schema_state(&conn).await;
    assert!(
        before.1.as_deref().unwrap().contains("Reader"),
        "{before:?}"
    );

    drop_schema(&conn, &DropOptions::default()).await.unwrap();

    assert_eq!(public_schema_state(&conn).await, before);
    assert_eq!(public_tables(&conn).await, 0);
    assert_eq!(
        scalar_text(&conn, "SELECT what FROM keep.audit")
            .await
            .as_deref(),
        Some("still here")
    );
    assert_eq!(
        scalar_text(
            &conn,
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'"
        )
        .await
        .as_deref(),
        Some("extensions")
    );
    // Another session sees the committed result.
    let other = db.connect().await;
    assert_eq!(public_tables(&other).await, 0);
}

#[tokio::test]
async fn drop_schema_creates_a_missing_public_schema() {
    let db = fresh_db().await;
    db.exec("DROP SCHEMA public CASCADE;").await;
    let conn = db.connect().await;
    let report = drop_schema(&conn, &DropOptions::default()).await.unwrap();
    assert!(!report.before.exists);
    assert_eq!(report.statements.len(), 1, "{:?}", report.statements);
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"
        )
        .await,
        1
    );
}

/// Holds a lock on `notes` in an open transaction, so the drop queues behind it.
async fn hold_lock(db: &TestDb) -> Db {
    let blocker = db.connect().await;
    blocker
        .batch("test", "BEGIN; LOCK TABLE notes IN ACCESS SHARE MODE")
        .await
        .unwrap();
    blocker
}

/// The pid of the drop, once it is inside DROP SCHEMA and waiting for the lock.
async fn waiting_drop_pid(watcher: &Db, database: &str) -> i32 {
    eventually("the drop to wait for the lock", || async {
        let rows = watcher
            .query(
                "test",
                "SELECT pid FROM pg_stat_activity
                  WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE 'DROP SCHEMA%'",
                &[&database],
            )
            .await
            .unwrap();
        rows.first().map(|r| r.get::<_, i32>(0))
    })
    .await
}

#[tokio::test]
async fn a_drop_whose_connection_is_killed_mid_transaction_changes_nothing() {
    let db = tmi_with_data().await;
    let blocker = hold_lock(&db).await;
    let url = db.url.clone();
    let dropping = tokio::spawn(async move {
        let conn = Target::parse(&url).unwrap().connect().await.unwrap();
        drop_schema(&conn, &DropOptions::default()).await
    });
    let watcher = admin().await;
    let pid = waiting_drop_pid(&watcher, &db.name).await;
    watcher
        .query("test", "SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();

    let err = dropping.await.unwrap().unwrap_err();
    assert!(matches!(err, PgError::ConnectionLost { .. }), "{err:?}");
    assert!(!err.is_bad_input());
    assert!(
        err.hint().unwrap().contains("rolls back"),
        "{:?}",
        err.hint()
    );
    blocker.batch("test", "ROLLBACK").await.unwrap();

    assert_tmi_intact(&db.connect().await).await;
}

#[tokio::test]
async fn a_drop_interrupted_by_a_server_stop_changes_nothing() {
    // A server of its own: stopping the shared one would break the other tests.
    // Committed work must survive the immediate stop, so commits wait for their WAL here.
    let cluster = Cluster::start(ClusterOptions {
        settings: vec![("synchronous_commit".into(), "on".into())],
        ..ClusterOptions::default()
    });
    let server = Server::External(cluster.url("postgres"));
    let db = fresh_db_on(&server).await;
    db.load_fixture("tmi").await;
    db.exec(SEED_DATA).await;
    let blocker = hold_lock(&db).await;
    let url = db.url.clone();
    let dropping = tokio::spawn(async move {
        let conn = Target::parse(&url).unwrap().connect().await.unwrap();
        drop_schema(&conn, &DropOptions::default()).await
    });
    let watcher = Target::parse(&cluster.url("postgres"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    waiting_drop_pid(&watcher, &db.name).await;

    cluster.stop_immediate();
    let err = dropping.await.unwrap().unwrap_err();
    assert!(matches!(err, PgError::ConnectionLost { .. }), "{err:?}");
    drop(blocker);

    cluster.start_again();
    let conn = eventually("the server to accept connections again", || async {
        Target::parse(&db.url).unwrap().connect().await.ok()
    })
    .await;
    assert_tmi_intact(&conn).await;
}

#[tokio::test]
async fn a_drop_that_cannot_get_its_locks_gives_up_and_changes_nothing() {
    let db = tmi_with_data().await;
    let blocker = hold_lock(&db).await;
    let conn = db.connect().await;
    let options = DropOptions {
        lock_timeout: Duration::from_millis(300),
        ..DropOptions::default()
    };
    let err = drop_schema(&conn, &options).await.unwrap_err();
    assert!(matches!(err, PgError::LockTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert!(
        err.hint().unwrap().contains("maintenance on"),
        "{:?}",
        err.hint()
    );
    blocker.batch("test", "ROLLBACK").await.unwrap();
    // The same connection is usable again: the failed transaction was rolled back.
    assert_tmi_intact(&conn).await;
}

fn connect_failure(err: &PgError) -> ConnectFailure {
    match err {
        PgError::Connect { failure, .. } => *failure,
        other => panic!("not a connection error: {other:?}"),
    }
}

fn assert_one_masked_line(err: &PgError, password: &str) {
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(!text.contains(password), "{text}");
    assert!(text.contains("********"), "the URL is shown masked: {text}");
    assert!(!format!("{err:?}").contains(password));
    assert!(!err.is_bad_input());
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn unreachable_host_wrong_password_and_missing_database_are_one_masked_line() {
    let db = fresh_db().await;
    let password = shared().password();
    let mut good = url::Url::parse(&db.url).unwrap();

    // Nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut unreachable = good.clone();
    unreachable.set_host(Some("127.0.0.1")).unwrap();
    unreachable.set_port(Some(port)).unwrap();
    let err = Target::parse(unreachable.as_str())
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert_eq!(connect_failure(&err), ConnectFailure::Unreachable, "{err}");
    assert_one_masked_line(&err, &password);
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");

    let mut wrong = good.clone();
    wrong
        .set_password(Some("wrong-LEAKCHECK-password"))
        .unwrap();
    let err = Target::parse(wrong.as_str())
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    if shared().is_local() {
        assert_eq!(
            connect_failure(&err),
            ConnectFailure::Authentication,
            "{err}"
        );
        assert!(
            err.to_string().contains("password authentication failed"),
            "{err}"
        );
    }
    assert_one_masked_line(&err, "wrong-LEAKCHECK-password");

    good.set_path("/no_such_database_here");
    let err = Target::parse(good.as_str())
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert_eq!(
        connect_failure(&err),
        ConnectFailure::NoSuchDatabase,
        "{err}"
    );
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert_one_masked_line(&err, &password);
}

#[tokio::test]
async fn an_unanswering_host_times_out() {
    // A listener that never accepts: the TCP handshake completes in the kernel's backlog but
    // the startup message is never answered.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("postgres://u:LEAKCHECK-secret@127.0.0.1:{port}/d?connect_timeout=1");
    let started = std::time::Instant::now();
    let err = Target::parse(&url).unwrap().connect().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(connect_failure(&err), ConnectFailure::Timeout, "{err}");
    assert_one_masked_line(&err, "LEAKCHECK-secret");
    drop(listener);
}
