//! Failures of Heroku API calls, keeping what the operator and Heroku support need: the HTTP
//! status, Heroku's error `id`, its `message` and docs `url`, the response `Request-Id`, and the
//! raw body when it was not JSON.

use std::fmt;

/// An HTTP answer outside 2xx.
#[derive(Debug, Clone)]
pub struct HttpFailure {
    pub method: String,
    /// Path of the request (never a full URL: download URLs carry signatures).
    pub path: String,
    pub status: u16,
    /// Heroku's machine-readable code, e.g. `not_found`, `two_factor`.
    pub id: Option<String>,
    pub message: Option<String>,
    pub url: Option<String>,
    pub request_id: Option<String>,
    /// The body as received when it was not a Heroku error document (truncated).
    pub raw_body: Option<String>,
    /// What the request was about, e.g. `app tmi-server`, to name it in the message.
    pub subject: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Http(Box<HttpFailure>),

    #[error("could not reach {host} for {method} {path}")]
    Transport {
        method: String,
        host: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },

    /// A deadline of one request passed: the server accepted the connection but its answer
    /// did not come (or came too slowly) in time.
    #[error("{host} did not answer {method} {path} within {} ({phase})", humantime::format_duration(*.after))]
    Timeout {
        method: String,
        host: String,
        path: String,
        phase: &'static str,
        after: std::time::Duration,
    },

    #[error("unexpected response to {method} {path}: {detail}")]
    Decode {
        method: String,
        path: String,
        detail: String,
    },

    /// An https request with no trusted root certificates to check the server with.
    #[error("no trusted certificates to check {host} with: {reason}")]
    TrustRoots { host: String, reason: String },

    /// The answer's status line came but its body could not be read to the end.
    #[error("the answer to {method} {path} (HTTP {status}) broke off")]
    Body {
        method: String,
        path: String,
        status: u16,
        #[source]
        source: reqwest::Error,
    },
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(subject) = &self.subject {
            write!(f, "{subject}: ")?;
        }
        match &self.message {
            Some(message) => write!(f, "{}", message.trim_end_matches('.'))?,
            None => write!(f, "{} {} failed", self.method, self.path)?,
        }
        write!(f, " (HTTP {}", self.status)?;
        if let Some(id) = &self.id {
            write!(f, ", {id}")?;
        }
        write!(f, ")")?;
        if let Some(raw) = &self.raw_body {
            let raw = raw.trim();
            if !raw.is_empty() {
                write!(f, "; body: {raw}")?;
            }
        }
        if let Some(request_id) = &self.request_id {
            write!(f, " [Request-Id {request_id}]")?;
        }
        Ok(())
    }
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http(f) => Some(f.status),
            _ => None,
        }
    }

    pub fn heroku_id(&self) -> Option<&str> {
        match self {
            ApiError::Http(f) => f.id.as_deref(),
            _ => None,
        }
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ApiError::Http(f) => {
                let mut hint = match (f.status, f.id.as_deref()) {
                    (401, _) => Some(
                        "the API token is missing, invalid or expired: run `herokuops login`, or set HEROKU_API_KEY to a valid token (`heroku authorizations:create` makes one)".to_string(),
                    ),
                    (403, Some("two_factor")) => Some(
                        "this account or app requires two-factor authentication for this call; herokuops does not prompt for codes: use a long-lived API token (`heroku authorizations:create`) from an account allowed to act on the app".to_string(),
                    ),
                    (_, Some("confirmation_required")) => Some(
                        "Heroku asks for confirmation of this change: re-run with --confirm APP".to_string(),
                    ),
                    (404, _) if f.subject.as_deref().is_some_and(|s| s.starts_with("app ")) => Some(
                        "check the app name (`heroku apps` lists yours) and that this token's account can see it".to_string(),
                    ),
                    (429, _) => Some(
                        "Heroku's rate limit was reached; wait a minute, or run fewer jobs at once (-j)".to_string(),
                    ),
                    (s, _) if s >= 500 => Some(
                        "Heroku answered with a server error; try again, and quote the Request-Id to Heroku support if it persists".to_string(),
                    ),
                    _ => None,
                };
                if let Some(url) = &f.url {
                    hint = Some(match hint {
                        Some(h) => format!("{h} (see {url})"),
                        None => format!("see {url}"),
                    });
                }
                hint
            }
            ApiError::Timeout { .. } => Some(
                "the server accepted the request but did not answer in time; check the network and HEROKU_HOST / HEROKU_DATA_HOST if you set them, or try again later".to_string(),
            ),
            ApiError::Transport { .. } | ApiError::Body { .. } => Some(
                "check the network and HEROKU_HOST / HEROKU_DATA_HOST if you set them".to_string(),
            ),
            ApiError::TrustRoots { .. } => Some(
                "install the system's CA certificates (`ca-certificates` on Debian), or point SSL_CERT_FILE at a PEM bundle".to_string(),
            ),
            ApiError::Decode { .. } => None,
        }
    }
}
