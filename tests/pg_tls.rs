//! sslmode against TLS-only servers: one with a self-signed certificate as Heroku has, one with
//! a leaf for `localhost` signed by a test CA.

use herokuops::pg::{ConnectFailure, Db, PgError, SslMode, Target};

use crate::support::pg::{Cluster, ClusterOptions, Server, shared, tls_ca_signed, tls_self_signed};

fn url(cluster: &Cluster, host: &str, query: &str) -> String {
    format!(
        "postgres://postgres:{}@{host}:{}/postgres{query}",
        cluster.password, cluster.port
    )
}

async fn encrypted(db: &Db) -> bool {
    db.query(
        "test",
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()[0]
        .get(0)
}

async fn connect(url: &str) -> Result<Db, PgError> {
    Target::parse(url).unwrap().connect().await
}

fn certificate_error(err: &PgError) -> String {
    match err {
        PgError::Connect {
            failure: ConnectFailure::Certificate,
            cause,
            ..
        } => cause.clone(),
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn require_connects_to_a_tls_only_server_with_a_self_signed_certificate() {
    let server = tls_self_signed();
    let db = connect(&url(server, "127.0.0.1", "?sslmode=require"))
        .await
        .unwrap();
    assert!(encrypted(&db).await);
    // Without sslmode a loopback host gets `prefer`, which also takes TLS when offered.
    let target = Target::parse(&url(server, "127.0.0.1", "")).unwrap();
    assert_eq!(target.ssl_mode(), SslMode::Prefer);
    assert!(encrypted(&target.connect().await.unwrap()).await);
}

#[tokio::test]
async fn disable_is_refused_by_a_tls_only_server_and_says_so() {
    let server = tls_self_signed();
    let err = connect(&url(server, "127.0.0.1", "?sslmode=disable"))
        .await
        .unwrap_err();
    let PgError::Connect { failure, cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*failure, ConnectFailure::TlsRequiredByServer, "{err}");
    assert!(
        cause.contains("refused an unencrypted connection"),
        "{cause}"
    );
    assert!(err.hint().unwrap().contains("sslmode=require"));
    assert!(!err.to_string().contains(&server.password));
    assert_eq!(herokuops::Error::from(err).exit_code(), 1);
}

#[tokio::test]
async fn verify_full_fails_clearly_against_a_self_signed_certificate() {
    let server = tls_self_signed();
    let err = connect(&url(server, "127.0.0.1", "?sslmode=verify-full"))
        .await
        .unwrap_err();
    assert!(certificate_error(&err).contains("self-signed"), "{err}");
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("sslrootcert") && hint.contains("sslmode=require"),
        "{hint}"
    );
    assert!(!err.to_string().contains(&server.password));

    // Giving the certificate itself as the root does not help: a self-signed CA certificate
    // cannot also be checked as the server's own.
    let query = format!(
        "?sslmode=verify-full&sslrootcert={}",
        server.ca_file().display()
    );
    let err = connect(&url(server, "127.0.0.1", &query))
        .await
        .unwrap_err();
    assert!(certificate_error(&err).contains("self-signed"), "{err}");
}

#[tokio::test]
async fn verify_full_connects_when_given_the_ca() {
    let server = tls_ca_signed();
    let ca = server.ca_file();
    let query = format!("?sslmode=verify-full&sslrootcert={}", ca.display());
    let db = connect(&url(server, "localhost", &query)).await.unwrap();
    assert!(encrypted(&db).await);

    // Without the CA the system roots do not know it.
    let err = connect(&url(server, "localhost", "?sslmode=verify-full"))
        .await
        .unwrap_err();
    assert!(
        certificate_error(&err).contains("not signed by a trusted CA"),
        "{err}"
    );
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let server = tls_ca_signed();
    let ca = server.ca_file().display().to_string();
    // The certificate names `localhost`, not 127.0.0.1.
    let err = connect(&url(
        server,
        "127.0.0.1",
        &format!("?sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .unwrap_err();
    assert!(
        certificate_error(&err).contains("not valid for the host name 127.0.0.1"),
        "{err}"
    );
    let db = connect(&url(
        server,
        "127.0.0.1",
        &format!("?sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    assert!(encrypted(&db).await);
    // As in libpq, `require` with a root certificate checks the chain.
    let target = Target::parse(&url(
        server,
        "127.0.0.1",
        &format!("?sslmode=require&sslrootcert={ca}"),
    ))
    .unwrap();
    assert_eq!(target.ssl_mode(), SslMode::VerifyCa);
    target.connect().await.unwrap();
}

#[tokio::test]
async fn an_unreadable_sslrootcert_is_bad_input() {
    let server = tls_ca_signed();
    let err = connect(&url(
        server,
        "localhost",
        "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, PgError::RootCert { .. }), "{err:?}");
    assert!(err.is_bad_input());
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn require_against_a_server_without_tls_says_it_is_not_offered() {
    // The shared throwaway cluster runs without TLS; an external server may not, so start one.
    let own;
    let plain = match shared() {
        Server::Local(cluster) => cluster,
        Server::External(_) => {
            own = Cluster::start(ClusterOptions::default());
            &own
        }
    };
    let err = connect(&url(plain, "127.0.0.1", "?sslmode=require"))
        .await
        .unwrap_err();
    let PgError::Connect { failure, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*failure, ConnectFailure::TlsUnavailable, "{err}");
    assert!(err.to_string().contains("does not offer TLS"), "{err}");
}
