//! The Postgres side: connecting, schema drop, introspection, verification.

/// Failures talking to a database. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("{0}")]
    Other(String),
}

impl PgError {
    pub fn exit_code(&self) -> u8 {
        crate::error::exit::FAILED
    }

    pub fn hint(&self) -> Option<String> {
        None
    }
}
