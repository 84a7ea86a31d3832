//! The Postgres side: connecting, schema drop, introspection, verification, health checks.
//!
//! Everything here returns values and typed errors; nothing prints. A database URL only ever
//! leaves this module through [`redact_url`], so no message or report carries a password.

pub mod activity;
pub mod check;
pub mod connect;
pub mod diagnose;
pub mod diff;
pub mod drop;
pub mod expected;
pub mod introspect;
pub mod lock;
pub mod normalize;
pub mod objects;
pub mod snapshot;
pub mod verify;

pub use connect::{Db, SslMode, Target, literal, redact_url};
pub use expected::Expected;
pub use introspect::Schema;
pub use normalize::{Verified, prepare_verify, verify_live};
pub use objects::ObjectKind;
pub use verify::{Drift, DriftKind, VerifyOptions, missing_tables, verify, verify_with};

/// Why a connection attempt failed; decides the hint shown under the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing answered: refused, unroutable, or the name does not resolve.
    Unreachable,
    /// The host did not answer within the connect timeout.
    Timeout,
    /// The server rejected the user name or password.
    Authentication,
    /// The database named in the URL does not exist on the server.
    NoSuchDatabase,
    /// The server only accepts TLS and `sslmode=disable` was asked for.
    TlsRequiredByServer,
    /// TLS was required but the server does not offer it.
    TlsUnavailable,
    /// The server's certificate did not pass `verify-ca` / `verify-full`.
    Certificate,
    /// Any other refusal (pg_hba.conf, too many connections, ...).
    Rejected,
}

/// Failures talking to a database. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL cannot be used as given; bad input (exit 2).
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// `sslrootcert` names a file that cannot be read or holds no certificate (exit 2).
    #[error("cannot use sslrootcert {path}: {reason}")]
    RootCert { path: String, reason: String },

    #[error("cannot connect to {target}: {cause}")]
    Connect {
        target: String,
        failure: ConnectFailure,
        cause: String,
    },

    /// A statement failed; the transaction it was part of (if any) was rolled back.
    #[error("{context} failed on {target}: {cause}")]
    Query {
        target: String,
        context: String,
        code: Option<String>,
        cause: String,
    },

    /// The server went away mid-operation; an open transaction is rolled back by the server.
    #[error("lost the connection to {target} during {context}: {cause}")]
    ConnectionLost {
        target: String,
        context: String,
        cause: String,
    },

    /// Another session held a lock longer than the lock timeout; nothing was changed.
    #[error(
        "{context} on {target} waited more than {waited} for a lock held by other sessions; nothing was changed"
    )]
    LockTimeout {
        target: String,
        context: String,
        /// The bound that was hit, e.g. `30s`.
        waited: String,
    },

    /// Objects outside the schema depend on it, and `DROP SCHEMA ... CASCADE` would take them
    /// along (a column of one of its types, a view over one of its tables, a foreign key to
    /// one); bad input (exit 2) until the operator says they may go.
    #[error(
        "dropping schema {schema} of {target} would also drop {} object(s) outside it: {}; nothing was changed",
        .dependents.len(),
        .dependents.join(", ")
    )]
    OtherSchemasDepend {
        target: String,
        schema: String,
        dependents: Vec<String>,
    },

    /// The schema to read does not exist in the database; bad input (exit 2).
    #[error("schema {schema} does not exist in {target}")]
    NoSuchSchema { target: String, schema: String },

    /// The drop needs more lock slots than the server has for one transaction.
    #[error(
        "{context} on {target} needs more locks than the server allows in one transaction (max_locks_per_transaction = {max_locks}); nothing was changed"
    )]
    OutOfLocks {
        target: String,
        context: String,
        max_locks: String,
    },
}

impl PgError {
    /// Whether the failure lies in what the user gave (a URL, a certificate file) rather than
    /// in the server or the network.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PgError::InvalidUrl { .. }
                | PgError::RootCert { .. }
                | PgError::OtherSchemasDepend { .. }
                | PgError::NoSuchSchema { .. }
        )
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            PgError::InvalidUrl { .. } => Some(
                "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=disable|prefer|require|verify-ca|verify-full&sslrootcert=FILE]"
                    .into(),
            ),
            PgError::OtherSchemasDepend { .. } => Some(
                "move or drop them first, or pass --drop-dependents to let them go with the schema (the plan then lists them)".into(),
            ),
            PgError::RootCert { .. } => {
                Some("sslrootcert must name a PEM file with the CA certificate(s), or be `system`".into())
            }
            PgError::Connect { failure, .. } => Some(
                match failure {
                    ConnectFailure::Unreachable => {
                        "check the host and port in the URL and that the server is running and reachable from here"
                    }
                    ConnectFailure::Timeout => {
                        "the host did not answer: check the host, port and any firewall; raise ?connect_timeout=SECONDS if the network is slow"
                    }
                    ConnectFailure::Authentication => {
                        "the credentials may have been rotated: fetch the current DATABASE_URL (herokuops reads it from the app's config vars when given an app)"
                    }
                    ConnectFailure::NoSuchDatabase => {
                        "check the database name at the end of the URL; `heroku pg:info` lists the app's databases"
                    }
                    ConnectFailure::TlsRequiredByServer => {
                        "the server accepts only encrypted connections: use sslmode=require (or verify-full) instead of sslmode=disable"
                    }
                    ConnectFailure::TlsUnavailable => {
                        "the server does not offer TLS: use sslmode=prefer or sslmode=disable for a local server"
                    }
                    ConnectFailure::Certificate => {
                        "pass the CA that signed the server's certificate as ?sslrootcert=FILE, or use sslmode=require to encrypt without checking the certificate (what Heroku's self-signed certificates need)"
                    }
                    ConnectFailure::Rejected => "the server refused the connection; the message above is its reason",
                }
                .to_string(),
            ),
            PgError::Query { .. } => None,
            PgError::NoSuchSchema { .. } => Some(
                "check the schema's name (`--schema`, or `schema` in the expected-schema file); `\\dn` in psql lists them"
                    .into(),
            ),
            PgError::ConnectionLost { .. } => Some(
                "the server rolls back an unfinished transaction, so nothing it contained was applied; check the server and run the command again"
                    .into(),
            ),
            PgError::LockTimeout { .. } => Some(
                "another session holds locks on the tables (a migration or a long transaction; `herokuops db diagnose` shows who blocks whom): let it finish or stop it (`herokuops maintenance on APP`), then run again"
                    .into(),
            ),
            PgError::OutOfLocks { .. } => Some(
                "raise max_locks_per_transaction on the server, or drop the largest tables first in smaller transactions"
                    .into(),
            ),
        }
    }
}
