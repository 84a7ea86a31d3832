//! Dynos: list, restart, one-off runs, and their logs.

use std::collections::BTreeMap;

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

impl Request {
    /// `GET /apps/{app}/dynos`.
    pub fn dynos(app: &str) -> Request {
        Request::new(
            Method::GET,
            Host::Platform,
            format!("/apps/{}/dynos", seg(app)),
        )
        .subject(format!("app {app}"))
    }

    /// `DELETE /apps/{app}/dynos`, `/dynos/{dyno}` or `/formations/{type}`.
    pub fn restart_dynos(app: &str, target: &RestartTarget) -> Request {
        let path = match target {
            RestartTarget::All => format!("/apps/{}/dynos", seg(app)),
            RestartTarget::ProcessType(t) => format!("/apps/{}/formations/{}", seg(app), seg(t)),
            RestartTarget::Dyno(d) => format!("/apps/{}/dynos/{}", seg(app), seg(d)),
        };
        Request::new(Method::DELETE, Host::Platform, path).subject(format!("app {app}"))
    }

    /// `POST /apps/{app}/dynos/{dyno}/actions/stop`.
    pub fn stop_dyno(app: &str, dyno: &str) -> Request {
        Request::new(
            Method::POST,
            Host::Platform,
            format!("/apps/{}/dynos/{}/actions/stop", seg(app), seg(dyno)),
        )
        .idempotent()
        .subject(format!("dyno {dyno} of app {app}"))
    }

    /// `POST /apps/{app}/dynos` with `attach: false`.
    pub fn create_dyno(app: &str, spec: &DynoCreate) -> Request {
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
        Request::new(
            Method::POST,
            Host::Platform,
            format!("/apps/{}/dynos", seg(app)),
        )
        .json(body)
        .subject(format!("app {app}"))
    }

    /// `POST /apps/{app}/log-sessions`, with the schema's field names.
    pub fn log_session(app: &str, spec: &LogSessionCreate) -> Request {
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
        Request::new(
            Method::POST,
            Host::Platform,
            format!("/apps/{}/log-sessions", seg(app)),
        )
        .json(body)
        .idempotent()
        .subject(format!("app {app}"))
    }
}

impl ApiClient {
    /// `GET /apps/{app}/dynos`.
    pub async fn dynos(&self, app: &str) -> Result<Vec<Dyno>, ApiError> {
        self.send_list(Request::dynos(app)).await
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
        self.send_empty(Request::restart_dynos(app, target)).await
    }

    /// `POST /apps/{app}/dynos/{dyno}/actions/stop`: stops one dyno (a one-off one is not
    /// started again).
    pub async fn stop_dyno(&self, app: &str, dyno: &str) -> Result<(), ApiError> {
        self.send_empty(Request::stop_dyno(app, dyno)).await
    }

    /// `POST /apps/{app}/dynos` with `attach: false`: starts a detached one-off dyno.
    pub async fn create_dyno(&self, app: &str, spec: &DynoCreate) -> Result<Dyno, ApiError> {
        self.send(Request::create_dyno(app, spec)).await
    }

    /// `POST /apps/{app}/log-sessions`. The body uses the schema's field names.
    pub async fn create_log_session(
        &self,
        app: &str,
        spec: &LogSessionCreate,
    ) -> Result<LogSession, ApiError> {
        self.send(Request::log_session(app, spec)).await
    }
}
