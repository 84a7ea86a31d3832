//! The one place where failures become an exit code and a message for the operator.
//!
//! Every variant renders as one actionable line (`Display`), and may add a hint naming the next
//! command to run. The cause chain (`source()`) is printed below it by the CLI.

use std::path::PathBuf;

use crate::api::ApiError;
use crate::pg::PgError;
use crate::steps::StepError;

/// Exit codes, as documented in the README and DESIGN.md section 8.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const DRIFT: u8 = 3;
    pub const NOT_AUTHENTICATED: u8 = 4;
    /// `db diagnose --fail-on`: a check reached the rating given.
    pub const UNHEALTHY: u8 = 5;
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the command line or the environment.
    #[error("{0}")]
    Usage(String),

    /// A file the user gave us does not parse; carries file, line and column.
    #[error("{path}:{line}:{column}: {message}")]
    InputFile {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A destructive command ran without a confirmation naming the app.
    #[error(
        "{action} on {app} needs confirmation: pass --confirm {app}, or run it at a terminal and type the app name"
    )]
    ConfirmationMissing { app: String, action: String },

    #[error("confirmation {given:?} does not match the app {app:?}; nothing was changed")]
    ConfirmationMismatch { app: String, given: String },

    #[error(
        "no Heroku API token found: set HEROKU_API_KEY, run `herokuops login`, or add api.heroku.com to ~/.netrc"
    )]
    NoToken,

    /// A token was found but cannot be one (a line break in it, ...).
    #[error(transparent)]
    BadToken(#[from] crate::credentials::TokenError),

    #[error("no keyring is available on this machine to keep the token")]
    NoKeyring,

    #[error("could not {operation} the token in the {store}: {reason}")]
    Keyring {
        operation: &'static str,
        store: String,
        reason: String,
    },

    #[error(transparent)]
    Api(#[from] ApiError),

    #[error(transparent)]
    Pg(#[from] PgError),

    #[error(transparent)]
    Step(#[from] StepError),

    /// Verification found differences; the report has already been rendered.
    #[error("verification found {count} difference(s) from the expected schema")]
    Drift { count: usize },

    /// `db diagnose --fail-on`: a check is rated at or above the level given.
    #[error("{} check(s) rated {level} or worse: {}", .findings.len(), .findings.join(", "))]
    Unhealthy {
        level: &'static str,
        findings: Vec<String>,
    },

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// Stdout could not be written (a full disk, `> /dev/full`): what was meant to be captured
    /// is incomplete. One line, the cause in it.
    #[error("could not write to stdout: {0}")]
    Stdout(std::io::Error),

    /// Another run holds the app (on this machine, or on its database): nothing was done.
    #[error("another herokuops run is working on {app} ({place}): {holder}; nothing was done")]
    Locked {
        app: String,
        /// `locked on this machine` or `locked on its database`.
        place: &'static str,
        holder: String,
    },

    /// A command we ran (`herokuops run` on a one-off dyno) exited non-zero; we exit with its
    /// status.
    #[error("{what} exited with status {status}")]
    Exited { what: String, status: i32 },

    #[error("interrupted")]
    Interrupted,

    /// The backup before a playbook's destructive steps failed, so none of them ran.
    #[error("the safety backup failed, so nothing destructive ran: {0}")]
    SafetyBackupFailed(Box<Error>),

    /// Some apps of a fleet did not succeed; `code` is the worst of their exit codes.
    #[error("{failed} of {total} apps did not succeed; their rows above say why")]
    Fleet {
        failed: usize,
        total: usize,
        code: u8,
    },

    /// A failure whose report has already been rendered (a playbook run); only the summary line
    /// remains to be printed.
    #[error("{0}")]
    Reported(Box<Error>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::playbooks::lock::LockError> for Error {
    fn from(e: crate::playbooks::lock::LockError) -> Self {
        use crate::playbooks::lock::LockError;
        match e {
            LockError::Held { app, holder } => Error::Locked {
                app,
                place: "locked on this machine",
                holder: holder
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "its lock file does not say which".into()),
            },
            LockError::Io { app, path, source } => Error::io(
                format!("could not take the lock of {app} ({})", path.display()),
                source,
            ),
        }
    }
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// A file given as input that could not be read: too large or not text is bad input (exit
    /// 2), a failed read a failure (exit 1).
    pub fn input(e: crate::files::InputError) -> Self {
        match e {
            crate::files::InputError::Read { path, source } => {
                Error::io(format!("could not read {}", path.display()), source)
            }
            other => Error::Usage(other.to_string()),
        }
    }

    /// The reason a file is unusable, with what lies under it, as one line.
    fn unusable(e: &dyn std::error::Error) -> Self {
        let mut text = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        Error::Usage(text)
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::InputFile { .. }
            | Error::ConfirmationMissing { .. }
            | Error::ConfirmationMismatch { .. }
            | Error::Locked { .. } => exit::USAGE,
            Error::NoToken | Error::BadToken(_) => exit::NOT_AUTHENTICATED,
            Error::Api(e) if e.is_unauthorized() => exit::NOT_AUTHENTICATED,
            Error::Pg(e) if e.is_bad_input() => exit::USAGE,
            Error::Step(e) if e.api().is_some_and(ApiError::is_unauthorized) => {
                exit::NOT_AUTHENTICATED
            }
            Error::Step(e) if e.is_bad_input() => exit::USAGE,
            Error::Step(StepError::Drift { .. }) => exit::DRIFT,
            Error::Drift { .. } => exit::DRIFT,
            Error::Unhealthy { .. } => exit::UNHEALTHY,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Fleet { code, .. } => *code,
            Error::Reported(inner) => inner.exit_code(),
            Error::SafetyBackupFailed(cause) => match cause.exit_code() {
                exit::NOT_AUTHENTICATED => exit::NOT_AUTHENTICATED,
                _ => exit::FAILED,
            },
            Error::Exited { status, .. } => u8::try_from(*status)
                .ok()
                .filter(|s| *s != 0)
                .unwrap_or(exit::FAILED),
            Error::Api(_)
            | Error::Pg(_)
            | Error::Step(_)
            | Error::Io { .. }
            | Error::Stdout(_)
            | Error::NoKeyring
            | Error::Keyring { .. } => exit::FAILED,
        }
    }

    /// The causes below the message, outermost first, each once and none repeating the
    /// message: the one rendering of an error's chain, for the terminal, JSON and annotations.
    pub fn causes(&self) -> Vec<String> {
        let message = self.to_string();
        let mut causes: Vec<String> = Vec::new();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            if text != message && !causes.contains(&text) {
                causes.push(text);
            }
            source = cause.source();
        }
        causes
    }

    /// A sentence naming what to do next, kept apart from the error itself.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Api(e) => e.hint(),
            Error::Pg(e) => e.hint(),
            Error::Step(e) => e.hint(),
            Error::NoKeyring | Error::Keyring { .. } => Some(
                "keep the token elsewhere: set HEROKU_API_KEY, set HEROKUOPS_KEYRING_FILE to a file herokuops may write (mode 0600), or add `machine api.heroku.com login EMAIL password TOKEN` to ~/.netrc".into(),
            ),
            Error::BadToken(e) => Some(format!(
                "set the token in {} again without the extra characters (`heroku authorizations:create` prints a new one)",
                e.origin
            )),
            Error::Reported(inner) => inner.hint(),
            Error::Locked { .. } => Some(
                "wait for that run to end (`herokuops runs list` on its machine); a run whose process is gone no longer holds anything".into(),
            ),
            Error::SafetyBackupFailed(_) => {
                Some("fix the cause, or pass --no-backup if you accept losing the data".into())
            }
            _ => None,
        }
    }
}

impl From<crate::pg::expected::FileError> for Error {
    fn from(e: crate::pg::expected::FileError) -> Self {
        use crate::pg::expected::FileError;
        match e {
            FileError::Malformed {
                path,
                line,
                column,
                message,
            } => Error::InputFile {
                path,
                line,
                column,
                message,
            },
            unreadable => Error::unusable(&unreadable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_failures_are_bad_input_only_when_the_input_is_bad() {
        let bad_url = PgError::InvalidUrl {
            url: "postgres://h".into(),
            reason: "no database".into(),
        };
        assert_eq!(Error::from(bad_url).exit_code(), exit::USAGE);
        let lost = PgError::ConnectionLost {
            target: "h/d".into(),
            context: "drop".into(),
            cause: "terminated".into(),
        };
        assert_eq!(Error::from(lost).exit_code(), exit::FAILED);
    }
}
