//! Apps, config vars, releases and formation.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;

use super::models::{App, Formation, Release};
use super::{ApiClient, ApiError, Host, Request, seg};

fn app_subject(app: &str) -> String {
    format!("app {app}")
}

impl Request {
    /// `GET /apps/{app}`.
    pub fn app(app: &str) -> Request {
        Request::new(Method::GET, Host::Platform, format!("/apps/{}", seg(app)))
            .subject(app_subject(app))
    }

    /// `PATCH /apps/{app}` with `{"maintenance": on}`.
    pub fn set_maintenance(app: &str, on: bool) -> Request {
        Request::new(Method::PATCH, Host::Platform, format!("/apps/{}", seg(app)))
            .json(json!({ "maintenance": on }))
            .subject(app_subject(app))
    }

    /// `GET /apps/{app}/config-vars`.
    pub fn config_vars(app: &str) -> Request {
        Request::new(
            Method::GET,
            Host::Platform,
            format!("/apps/{}/config-vars", seg(app)),
        )
        .subject(app_subject(app))
    }
}

impl ApiClient {
    /// `GET /apps/{app}`.
    pub async fn app(&self, app: &str) -> Result<App, ApiError> {
        self.send(Request::app(app)).await
    }

    /// `PATCH /apps/{app}` with `{"maintenance": on}`; returns the updated app.
    pub async fn set_maintenance(&self, app: &str, on: bool) -> Result<App, ApiError> {
        self.send(Request::set_maintenance(app, on)).await
    }

    /// `GET /apps/{app}/config-vars`: values include secrets; callers must not print them.
    pub async fn config_vars(&self, app: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let vars: BTreeMap<String, Option<String>> = self.send(Request::config_vars(app)).await?;
        Ok(vars
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// `GET /apps/{app}/releases`, with an optional `Range` (e.g. `version ..; max=5, order=desc`).
    ///
    /// With a range only that page is read, as the official CLI does when it looks for the
    /// newest releases; without one the whole list is followed.
    pub async fn releases(&self, app: &str, range: Option<&str>) -> Result<Vec<Release>, ApiError> {
        let req = Request::new(
            Method::GET,
            Host::Platform,
            format!("/apps/{}/releases", seg(app)),
        )
        .subject(app_subject(app));
        match range {
            Some(range) => self.send(req.range(range)).await,
            None => self.send_list(req).await,
        }
    }

    /// `GET /apps/{app}/releases/{id_or_version}`.
    pub async fn release(&self, app: &str, id_or_version: &str) -> Result<Release, ApiError> {
        self.send(
            Request::new(
                Method::GET,
                Host::Platform,
                format!("/apps/{}/releases/{}", seg(app), seg(id_or_version)),
            )
            .subject(app_subject(app)),
        )
        .await
    }

    /// `GET /apps/{app}/formation`.
    pub async fn formation(&self, app: &str) -> Result<Vec<Formation>, ApiError> {
        self.send_list(
            Request::new(
                Method::GET,
                Host::Platform,
                format!("/apps/{}/formation", seg(app)),
            )
            .subject(app_subject(app)),
        )
        .await
    }
}
