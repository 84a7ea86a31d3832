//! Dynos: list, restart, one-off runs, and their logs.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use super::models::{Dyno, LogSession};
use super::{ApiClient, ApiError, Host, Request, seg};

/// What to restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartTarget {
    All,
    /// One process type, e.g. `web`.
    ProcessType(String),
    /// One dyno, e.g. `web.1`.
    Dyno(String),
}

/// A detached one-off dyno.
#[derive(Debug, Clone, Default)]
pub struct DynoCreate {
    pub command: String,
    pub env: BTreeMap<String, String>,
    pub size: Option<String>,
    pub time_to_live: Option<u64>,
}

/// Which log lines a session streams.
#[derive(Debug, Clone, Default)]
pub struct LogSessionCreate {
    pub dyno_name: Option<String>,
    pub lines: Option<u32>,
    pub source: Option<String>,
    pub tail: bool,
}

impl ApiClient {
    /// `GET /apps/{app}/dynos`.
    pub async fn dynos(&self, app: &str) -> Result<Vec<Dyno>, ApiError> {
        self.send_list(
            Request::new(
                Method::GET,
                Host::Platform,
                format!("/apps/{}/dynos", seg(app)),
            )
            .subject(format!("app {app}")),
        )
        .await
    }

    /// `GET /apps/{app}/dynos/{dyno}`.
    pub async fn dyno(&self, app: &str, dyno: &str) -> Result<Dyno, ApiError> {
        self.send(
            Request::new(
                Method::GET,
                Host::Platform,
                format!("/apps/{}/dynos/{}", seg(app), seg(dyno)),
            )
            .subject(format!("dyno {dyno} of app {app}")),
        )
        .await
    }

    /// `DELETE /apps/{app}/dynos`, `/dynos/{dyno}` or `/formations/{type}`.
    pub async fn restart_dynos(&self, app: &str, target: &RestartTarget) -> Result<(), ApiError> {
        let path = match target {
            RestartTarget::All => format!("/apps/{}/dynos", seg(app)),
            RestartTarget::ProcessType(t) => format!("/apps/{}/formations/{}", seg(app), seg(t)),
            RestartTarget::Dyno(d) => format!("/apps/{}/dynos/{}", seg(app), seg(d)),
        };
        self.send_empty(
            Request::new(Method::DELETE, Host::Platform, path).subject(format!("app {app}")),
        )
        .await
    }

    /// `POST /apps/{app}/dynos/{dyno}/actions/stop`: stops one dyno (a one-off one is not
    /// started again).
    pub async fn stop_dyno(&self, app: &str, dyno: &str) -> Result<(), ApiError> {
        self.send_empty(
            Request::new(
                Method::POST,
                Host::Platform,
                format!("/apps/{}/dynos/{}/actions/stop", seg(app), seg(dyno)),
            )
            .idempotent()
            .subject(format!("dyno {dyno} of app {app}")),
        )
        .await
    }

    /// `POST /apps/{app}/dynos` with `attach: false`: starts a detached one-off dyno.
    pub async fn create_dyno(&self, app: &str, spec: &DynoCreate) -> Result<Dyno, ApiError> {
        let mut body = json!({ "attach": false, "command": spec.command });
        if !spec.env.is_empty() {
            body["env"] = json!(spec.env);
        }
        if let Some(size) = &spec.size {
            body["size"] = Value::String(size.clone());
        }
        if let Some(ttl) = spec.time_to_live {
            body["time_to_live"] = json!(ttl);
        }
        self.send(
            Request::new(
                Method::POST,
                Host::Platform,
                format!("/apps/{}/dynos", seg(app)),
            )
            .json(body)
            .subject(format!("app {app}")),
        )
        .await
    }

    /// `POST /apps/{app}/log-sessions`. The body uses the schema's field names.
    pub async fn create_log_session(
        &self,
        app: &str,
        spec: &LogSessionCreate,
    ) -> Result<LogSession, ApiError> {
        let mut body = json!({ "tail": spec.tail });
        if let Some(dyno) = &spec.dyno_name {
            body["dyno_name"] = Value::String(dyno.clone());
        }
        if let Some(lines) = spec.lines {
            body["lines"] = json!(lines);
        }
        if let Some(source) = &spec.source {
            body["source"] = Value::String(source.clone());
        }
        self.send(
            Request::new(
                Method::POST,
                Host::Platform,
                format!("/apps/{}/log-sessions", seg(app)),
            )
            .json(body)
            .idempotent()
            .subject(format!("app {app}")),
        )
        .await
    }

    /// Reads a log session's stream, calling `on_line` for each log line until the stream
    /// ends or `on_line` returns `false`. Accepts Server-Sent Events (`data:` lines) and plain
    /// text. The URL carries its own credentials: the API token is not sent.
    pub async fn read_log_stream(
        &self,
        logplex_url: &str,
        mut on_line: impl FnMut(&str) -> bool,
    ) -> Result<(), ApiError> {
        let transport = |source: reqwest::Error| ApiError::Transport {
            method: "GET".into(),
            host: "log stream".into(),
            path: "(log session)".into(),
            source: source.without_url(),
        };
        let response = self
            .http
            .get(logplex_url)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(ApiError::step(
                format!(
                    "the log stream answered HTTP {}",
                    response.status().as_u16()
                ),
                Some("the log session may have expired; run the command again".into()),
            ));
        }
        let mut stream = response.bytes_stream();
        let mut pending: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            pending.extend_from_slice(&chunk.map_err(transport)?);
            while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = pending.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&raw);
                if let Some(line) = log_line(text.trim_end_matches(['\n', '\r']))
                    && !on_line(line)
                {
                    return Ok(());
                }
            }
        }
        if !pending.is_empty() {
            let text = String::from_utf8_lossy(&pending).into_owned();
            if let Some(line) = log_line(text.trim_end()) {
                on_line(line);
            }
        }
        Ok(())
    }
}

/// The log text of one stream line: SSE `data:` payloads, or the line itself; SSE framing
/// (`id:`, `event:`, comments, blank separators) is skipped.
fn log_line(raw: &str) -> Option<&str> {
    if raw.is_empty()
        || raw.starts_with(':')
        || raw.starts_with("id:")
        || raw.starts_with("event:")
        || raw.starts_with("retry:")
    {
        return None;
    }
    let line = raw
        .strip_prefix("data:")
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .unwrap_or(raw);
    (!line.is_empty()).then_some(line)
}

/// The exit status in a platform line such as
/// `2026-01-01T00:00:00+00:00 heroku[run.1234]: Process exited with status 3`.
pub fn exit_status(line: &str, dyno: &str) -> Option<i32> {
    let marker = format!("heroku[{dyno}]: Process exited with status ");
    let at = line.find(&marker)?;
    line[at + marker.len()..].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_framing_is_skipped() {
        assert_eq!(log_line("data: hello"), Some("hello"));
        assert_eq!(log_line("id: 5"), None);
        assert_eq!(log_line(""), None);
        assert_eq!(log_line("plain text"), Some("plain text"));
    }

    #[test]
    fn exit_status_is_read_for_the_right_dyno() {
        let line = "2026-01-01T00:00:00Z heroku[run.42]: Process exited with status 3";
        assert_eq!(exit_status(line, "run.42"), Some(3));
        assert_eq!(exit_status(line, "run.4"), None);
        assert_eq!(
            exit_status("app[run.42]: Process exited with status 3", "run.42"),
            None
        );
    }
}
