//! Connecting with tokio-postgres from a libpq-style URL, with libpq's `sslmode` meanings on rustls.
//!
//! tokio-postgres understands only `sslmode=disable|prefer|require` and leaves certificate
//! checking to the TLS connector, so we take `sslmode` and `sslrootcert` out of the URL, decide
//! the mode ourselves and build the matching rustls verifier.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{ConnectFailure, PgError};
use crate::output::sanitize::one_line;

/// How much TLS to insist on, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, without checking the certificate; plain otherwise.
    Prefer,
    /// TLS without checking the certificate: encrypted, not authenticated (Heroku's default).
    Require,
    /// TLS with a certificate signed by a trusted CA, whatever name it carries.
    VerifyCa,
    /// TLS with a trusted certificate issued for the host we connect to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            // libpq's `allow` tries plain first; trying TLS first is never less safe.
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where trust anchors for `verify-ca` / `verify-full` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// The operating system's store plus the Mozilla roots compiled in, so a minimal container
    /// without ca-certificates still trusts the CAs Heroku's enhanced certificates chain to.
    System,
    File(PathBuf),
}

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A database to connect to: the parsed URL, the TLS policy, and a printable form of it.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    ssl: SslMode,
    roots: Roots,
    display: String,
    host: String,
}

// The config holds the password; only the redacted form is ever shown.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.display)
            .field("ssl", &self.ssl)
            .finish()
    }
}

/// Returns the URL with its password (in the user info or a `password=` parameter) replaced,
/// fit for messages and logs. An unparsable URL is never echoed, since it may hold a secret.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "<unparsable database URL>".to_string();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("********"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "********".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// A URL query parameter decoded as libpq decodes it: `%XX` escapes, nothing else.
fn libpq_decode(raw: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
}

fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }
}

fn invalid_url(display: &str, reason: String) -> PgError {
    PgError::InvalidUrl {
        url: display.to_string(),
        reason,
    }
}

/// The TLS parameters of a URL's query, which herokuops handles itself.
struct TlsParams {
    sslmode: Option<SslMode>,
    rootcert: Option<String>,
}

/// Takes the TLS parameters out of `url`'s query, leaving the others; refuses client
/// certificates. `display` is the URL as errors show it.
///
/// The query is read as libpq reads it: `&`-separated `key=value`, each percent-decoded, `+` a
/// literal plus (not a space, as in HTML forms). The parameters kept are passed on exactly as
/// written, and tokio-postgres decodes them the same way.
fn take_tls_params(url: &mut url::Url, display: &str) -> Result<TlsParams, PgError> {
    let mut tls = TlsParams {
        sslmode: None,
        rootcert: None,
    };
    let mut kept: Vec<String> = Vec::new();
    for piece in url.query().unwrap_or_default().split('&') {
        if piece.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let key = libpq_decode(raw_key);
        let value = libpq_decode(raw_value);
        match key.as_ref() {
            "sslmode" => {
                tls.sslmode = Some(SslMode::parse(&value).ok_or_else(|| {
                    invalid_url(display, format!(
                        "unknown sslmode `{value}` (use disable, prefer, require, verify-ca or verify-full)"
                    ))
                })?)
            }
            "sslrootcert" => tls.rootcert = Some(value.into_owned()),
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" => {
                return Err(invalid_url(
                    display,
                    format!("`{key}` (client certificates) is not supported"),
                ));
            }
            _ => kept.push(piece.to_string()),
        }
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.set_query(Some(&kept.join("&")));
    }
    Ok(tls)
}

/// The client's configuration from the URL (its TLS parameters taken out), and the first
/// host's name or socket directory; a URL without a host or a user name is refused.
/// `display` is the URL as errors show it.
fn client_config(
    url: &url::Url,
    display: &str,
) -> Result<(tokio_postgres::Config, String), PgError> {
    let config: tokio_postgres::Config =
        url.as_str().parse().map_err(|e: tokio_postgres::Error| {
            let detail = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.to_string());
            invalid_url(display, detail)
        })?;
    let Some(first) = config.get_hosts().first().cloned() else {
        return Err(invalid_url(display, "no host".into()));
    };
    if config.get_user().is_none_or(str::is_empty) {
        return Err(invalid_url(display, "no user name".into()));
    }
    let host = match &first {
        Host::Tcp(name) => name.clone(),
        Host::Unix(path) => path.display().to_string(),
    };
    Ok((config, host))
}

/// The sslmode the connection uses: the URL's, else `prefer` on loopback and `require`
/// elsewhere.
fn effective_ssl_mode(sslmode: Option<SslMode>, loopback: bool, roots: &Roots) -> SslMode {
    let ssl = match sslmode {
        Some(mode) => mode,
        None if loopback => SslMode::Prefer,
        None => SslMode::Require,
    };
    // libpq: with a root certificate given, `require` checks the chain like verify-ca.
    if ssl == SslMode::Require && matches!(roots, Roots::File(_)) {
        SslMode::VerifyCa
    } else {
        ssl
    }
}

impl Target {
    /// Parses a `postgres://` URL. Without `sslmode`, a loopback host gets `prefer` and any
    /// other host `require`, because Heroku's DATABASE_URL carries no sslmode yet needs TLS.
    pub fn parse(raw: &str) -> Result<Target, PgError> {
        let display = redact_url(raw);
        let invalid = |reason: String| invalid_url(&display, reason);
        let mut url = url::Url::parse(raw.trim()).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!(
                "the scheme must be postgres:// or postgresql://, not {}://",
                url.scheme()
            )));
        }
        let tls = take_tls_params(&mut url, &display)?;
        let (mut config, host) = client_config(&url, &display)?;

        let loopback = config.get_hosts().iter().all(is_loopback);
        let roots = match tls.rootcert.as_deref() {
            None | Some("system") => Roots::System,
            Some(path) => Roots::File(PathBuf::from(path)),
        };
        let ssl = effective_ssl_mode(tls.sslmode, loopback, &roots);
        config.ssl_mode(match ssl {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("herokuops");
        }
        Ok(Target {
            config,
            ssl,
            roots,
            display,
            host,
        })
    }

    /// The same database, the session named `name` (`application_name`, which other
    /// sessions see in `pg_stat_activity`).
    pub fn with_application_name(mut self, name: &str) -> Target {
        self.config.application_name(name);
        self
    }

    /// The URL with the password masked.
    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.ssl
    }

    pub fn database(&self) -> &str {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or_default()
    }

    pub async fn connect(&self) -> Result<Db, PgError> {
        let tls = self.tls_connector()?;
        // tokio-postgres bounds only the TCP connect; libpq's connect_timeout also covers the
        // TLS and startup exchange, which is where a half-dead server hangs.
        let limit = *self
            .config
            .get_connect_timeout()
            .unwrap_or(&DEFAULT_CONNECT_TIMEOUT);
        let hosts = u32::try_from(self.config.get_hosts().len().max(1)).unwrap_or(1);
        let (client, connection) = tokio::time::timeout(limit * hosts, self.config.connect(tls))
            .await
            .map_err(|_| PgError::Connect {
                target: self.display.clone(),
                failure: ConnectFailure::Timeout,
                cause: format!(
                    "no answer from the server within {}s",
                    (limit * hosts).as_secs()
                ),
            })?
            .map_err(|e| self.connect_error(&e))?;
        let conn = tokio::spawn(async move {
            // The error surfaces on the next query as "connection closed"; nothing to do here.
            let _ = connection.await;
        });
        Ok(Db {
            client,
            target: self.display.clone(),
            queries: Arc::new(AtomicU64::new(0)),
            conn,
            origin: Box::new(self.clone()),
            kept: Mutex::default(),
        })
    }

    fn tls_connector(&self) -> Result<MakeRustlsConnect, PgError> {
        // An explicit provider: the process may link more than one, and then rustls refuses to
        // guess a process-wide default.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError::Connect {
                target: self.display.clone(),
                failure: ConnectFailure::Rejected,
                cause: format!("TLS setup: {e}"),
            })?;
        let config = match self.ssl {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth(),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let roots = self.root_store()?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| self.root_error(e.to_string()))?;
                if self.ssl == SslMode::VerifyFull {
                    builder.with_webpki_verifier(webpki).with_no_client_auth()
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(IgnoreHostName(webpki)))
                        .with_no_client_auth()
                }
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_error(&self, reason: String) -> PgError {
        PgError::RootCert {
            path: match &self.roots {
                Roots::System => "system".into(),
                Roots::File(p) => p.display().to_string(),
            },
            reason,
        }
    }

    fn root_store(&self) -> Result<RootCertStore, PgError> {
        let mut store = RootCertStore::empty();
        match &self.roots {
            Roots::System => {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                let native = rustls_native_certs::load_native_certs();
                store.add_parsable_certificates(native.certs);
            }
            Roots::File(path) => {
                let pem = std::fs::read(path).map_err(|e| self.root_error(e.to_string()))?;
                let certs: Vec<CertificateDer<'static>> =
                    rustls_pemfile::certs(&mut pem.as_slice())
                        .collect::<Result<_, _>>()
                        .map_err(|e| self.root_error(e.to_string()))?;
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(self.root_error("no PEM certificate in the file".into()));
                }
            }
        }
        Ok(store)
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> PgError {
        let (failure, cause) = classify_connect_error(e, self.ssl, &self.host);
        PgError::Connect {
            target: self.display.clone(),
            failure,
            cause,
        }
    }
}

fn classify_connect_error(
    e: &tokio_postgres::Error,
    ssl: SslMode,
    host: &str,
) -> (ConnectFailure, String) {
    if let Some(db) = e.as_db_error() {
        let message = one_line(db.message()).into_owned();
        let failure = match db.code().code() {
            "28P01" => ConnectFailure::Authentication,
            "3D000" => ConnectFailure::NoSuchDatabase,
            "28000" if message.contains("no encryption") && ssl == SslMode::Disable => {
                ConnectFailure::TlsRequiredByServer
            }
            "28000" if message.contains("password") => ConnectFailure::Authentication,
            _ => ConnectFailure::Rejected,
        };
        let cause = if failure == ConnectFailure::TlsRequiredByServer {
            format!("the server refused an unencrypted connection (sslmode=disable): {message}")
        } else {
            message
        };
        return (failure, cause);
    }
    if let Some(tls) = find_rustls_error(e) {
        return (ConnectFailure::Certificate, describe_tls_error(tls, host));
    }
    let chain = error_chain(e);
    if chain.contains("does not support TLS") {
        return (
            ConnectFailure::TlsUnavailable,
            format!("the server does not offer TLS but sslmode={ssl} requires it"),
        );
    }
    let io_kind = find_io_kind(e);
    if chain.contains("timeout")
        || chain.contains("timed out")
        || io_kind == Some(std::io::ErrorKind::TimedOut)
    {
        return (ConnectFailure::Timeout, chain);
    }
    if chain.starts_with("authentication error") {
        return (ConnectFailure::Authentication, chain);
    }
    (ConnectFailure::Unreachable, chain)
}

fn describe_tls_error(e: &rustls::Error, host: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by a trusted CA (unknown issuer)".into()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!("the server's certificate is not valid for the host name {host}"),
        rustls::Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            "the server's certificate has expired".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.to_string().contains("CaUsedAsEndEntity") =>
        {
            "the server's certificate is self-signed (a CA certificate used as its own), which verify-full cannot check".into()
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

/// Walks the cause chain, looking inside `io::Error`s too: their `source()` skips the error
/// they wrap, which is exactly where rustls puts its verdict.
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(tls) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(tls);
        }
        current = err.source();
    }
    None
}

fn find_io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = err.source();
    }
    None
}

/// "outer: inner: innermost" on one line.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut current = e.source();
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

/// `require`: encrypt, but accept whatever certificate the server shows, as libpq does.
/// The handshake signature is still checked, so the server must hold the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full webpki check, except that a name mismatch is accepted. webpki checks
/// the chain before the name, so a name error means the chain was already found trusted.
#[derive(Debug)]
struct IgnoreHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// An open connection. Every statement goes through it, so the count of round trips an
/// operation makes can be read back (introspection promises a fixed number).
pub struct Db {
    client: Client,
    target: String,
    /// Shared with the connection's siblings, so that an operation's count covers them.
    queries: Arc<AtomicU64>,
    conn: tokio::task::JoinHandle<()>,
    origin: Box<Target>,
    /// The catalog statements this session has prepared, by their text.
    kept: Mutex<HashMap<String, Statement>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("target", &self.target).finish()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Dropping the client already ends the session; this only frees the task sooner when
        // the server has stopped answering.
        if self.client.is_closed() {
            self.conn.abort();
        }
    }
}

impl Db {
    /// The database URL with the password masked.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// How many statements this connection and its siblings have sent.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Whether the server has closed the connection (or it broke): a new one is needed.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// A second connection to the same database, counted with this one: for work that a
    /// second server process does at the same time.
    pub async fn sibling(&self) -> Result<Db, PgError> {
        let mut db = self.origin.connect().await?;
        db.queries = Arc::clone(&self.queries);
        Ok(db)
    }

    /// Runs one statement and returns its rows; `context` names the operation in errors.
    pub async fn query(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, PgError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.client
            .query(sql, params)
            .await
            .map_err(|e| self.error(context, &e))
    }

    /// Runs a catalog statement whose only parameter, `$1`, is a schema name. The name is
    /// written into the text as a literal, and the statement is prepared once per session and
    /// kept: a statement without parameters is planned once too (the server keeps its generic
    /// plan), so running it again on this connection costs only its execution. That is what
    /// lets a wait plan the verify's queries while an app still migrates.
    pub async fn query_catalog(
        &self,
        context: &str,
        sql: &str,
        schema: &str,
    ) -> Result<Vec<Row>, PgError> {
        self.query_kept(context, &with_schema_literal(sql, schema))
            .await
    }

    /// [`Db::query_catalog`] for a statement a session sends once: in one round trip (parse,
    /// plan and run together), and not kept.
    pub async fn query_catalog_once(
        &self,
        context: &str,
        sql: &str,
        schema: &str,
    ) -> Result<Vec<Row>, PgError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.client
            .query_typed(&with_schema_literal(sql, schema), &[])
            .await
            .map_err(|e| self.error(context, &e))
    }

    /// Runs a statement without parameters that this session prepares once and keeps, with
    /// its plan: for reads repeated on one connection (see [`Db::query_catalog`]).
    pub async fn query_kept(&self, context: &str, text: &str) -> Result<Vec<Row>, PgError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let known = self.kept_statement(text);
        let statement = match known {
            Some(statement) => statement,
            None => {
                let statement = self
                    .client
                    .prepare(text)
                    .await
                    .map_err(|e| self.error(context, &e))?;
                self.kept_statements()
                    .insert(text.to_string(), statement.clone());
                statement
            }
        };
        self.client
            .query(&statement, &[])
            .await
            .map_err(|e| self.error(context, &e))
    }

    fn kept_statement(&self, text: &str) -> Option<Statement> {
        self.kept_statements().get(text).cloned()
    }

    fn kept_statements(&self) -> std::sync::MutexGuard<'_, HashMap<String, Statement>> {
        // A panic while the map was held leaves it whole: entries are only ever inserted.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs statements with the simple protocol (no parameters, several statements allowed).
    pub async fn batch(&self, context: &str, sql: &str) -> Result<(), PgError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| self.error(context, &e))
    }

    pub(crate) fn error(&self, context: &str, e: &tokio_postgres::Error) -> PgError {
        query_error(&self.target, context, e)
    }
}

/// `sql` with each `$1` replaced by `schema` as a [`literal`].
fn with_schema_literal(sql: &str, schema: &str) -> String {
    debug_assert!(
        !sql.contains("$2")
            && !sql
                .match_indices("$1")
                .any(|(at, _)| sql[at + 2..].starts_with(|c: char| c.is_ascii_digit())),
        "a catalog statement takes the schema as its only parameter"
    );
    sql.replace("$1", &literal(schema))
}

/// `text` as an escape-string literal, which reads the same whatever
/// `standard_conforming_strings` says.
pub fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

pub(crate) fn query_error(target: &str, context: &str, e: &tokio_postgres::Error) -> PgError {
    if let Some(db) = e.as_db_error() {
        // 57P01..57P03: the server is shutting down or terminated this backend.
        if db.code().code().starts_with("57P") {
            return PgError::ConnectionLost {
                target: target.to_string(),
                context: context.to_string(),
                cause: db.message().to_string(),
            };
        }
        // The server's words, one line, as they reach the terminal.
        let mut cause = one_line(db.message()).into_owned();
        if let Some(detail) = db.detail() {
            let first = detail.lines().next().unwrap_or_default();
            cause.push_str(&format!(" ({})", one_line(first)));
        }
        return PgError::Query {
            target: target.to_string(),
            context: context.to_string(),
            code: Some(db.code().code().to_string()),
            cause,
        };
    }
    if e.is_closed() || find_io_kind(e).is_some() {
        return PgError::ConnectionLost {
            target: target.to_string(),
            context: context.to_string(),
            cause: error_chain(e),
        };
    }
    PgError::Query {
        target: target.to_string(),
        context: context.to_string(),
        code: None,
        cause: error_chain(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_passwords_everywhere() {
        let r =
            redact_url("postgres://u:s3cret@db.example.com:5432/d?sslmode=require&password=other");
        assert!(!r.contains("s3cret") && !r.contains("other"), "{r}");
        assert!(r.contains("u:********@db.example.com:5432/d"), "{r}");
        assert!(r.contains("sslmode=require"), "{r}");
        assert_eq!(
            redact_url("postgres://u:s3cret@[bad"),
            "<unparsable database URL>"
        );
    }

    #[test]
    fn remote_hosts_default_to_require_and_loopback_to_prefer() {
        let heroku =
            Target::parse("postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1").unwrap();
        assert_eq!(heroku.ssl_mode(), SslMode::Require);
        for local in [
            "postgres://u:p@localhost/d",
            "postgres://u:p@127.0.0.1:5433/d",
            "postgres://u:p@[::1]/d",
        ] {
            assert_eq!(
                Target::parse(local).unwrap().ssl_mode(),
                SslMode::Prefer,
                "{local}"
            );
        }
        let explicit = Target::parse("postgresql://u:p@db.example.com/d?sslmode=disable").unwrap();
        assert_eq!(explicit.ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn libpq_only_parameters_are_taken_out_of_the_url() {
        let t = Target::parse("postgres://u:p@db.example.com/d?sslmode=verify-full&sslrootcert=/tmp/ca.pem&connect_timeout=3")
            .unwrap();
        assert_eq!(t.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(t.roots, Roots::File(PathBuf::from("/tmp/ca.pem")));
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(t.database(), "d");
        // require with a root certificate checks the chain, as libpq does.
        let t = Target::parse("postgres://u:p@db.example.com/d?sslmode=require&sslrootcert=/x.pem")
            .unwrap();
        assert_eq!(t.ssl_mode(), SslMode::VerifyCa);
    }

    #[test]
    fn item_18_options_are_passed_through_as_libpq_reads_them() {
        let t = Target::parse(
            "postgres://u:p@db.example.com/d?options=-c%20statement_timeout%3D5&sslmode=require",
        )
        .unwrap();
        assert_eq!(t.config.get_options(), Some("-c statement_timeout=5"));
        assert_eq!(t.ssl_mode(), SslMode::Require);
        // `+` is a plus to libpq, not a space.
        let t = Target::parse("postgres://u:p@db.example.com/d?options=-c%20search_path%3Da+b")
            .unwrap();
        assert_eq!(t.config.get_options(), Some("-c search_path=a+b"));
        let t = Target::parse("postgres://u:p@db.example.com/d?application_name=my%20app").unwrap();
        assert_eq!(t.config.get_application_name(), Some("my app"));
    }

    #[test]
    fn bad_urls_are_usage_errors_without_the_password() {
        for (url, needle) in [
            ("mysql://u:hunter2@h/d", "scheme"),
            ("postgres://u:hunter2@h/d?sslmode=bogus", "sslmode"),
            (
                "postgres://u:hunter2@h/d?sslcert=/c.pem",
                "client certificates",
            ),
            ("postgres://u:hunter2@h/d?frobnicate=1", "frobnicate"),
            ("postgres://:hunter2@h/d", "user"),
        ] {
            let err = Target::parse(url).unwrap_err();
            let text = err.to_string();
            assert!(err.is_bad_input(), "{text}");
            assert!(text.contains(needle), "{url}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }

    #[test]
    fn debug_output_has_no_password() {
        let t = Target::parse("postgres://u:hunter2@db.example.com/d").unwrap();
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
