//! Add-ons and add-on attachments.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::models::{Addon, Attachment};
use super::{ApiClient, ApiError, Host, Request, seg};

/// Makes each attachment carry its add-on's plan and its config var names.
const INCLUDE_PLAN_AND_VARS: &str = "addon:plan,config_vars";

/// What `POST /apps/{app}/addons` creates.
#[derive(Debug, Clone, Default)]
pub struct AddonCreate {
    /// `service:plan`, e.g. `heroku-postgresql:essential-0`.
    pub plan: String,
    /// Name of the first attachment (`--as`), or the platform's choice.
    pub attachment_name: Option<String>,
    /// Provider options, e.g. `{"version": "16"}`.
    pub config: BTreeMap<String, String>,
    /// A globally unique add-on name, or the platform's choice.
    pub name: Option<String>,
    pub confirm: Option<String>,
}

/// What `POST /addon-attachments` creates.
#[derive(Debug, Clone, Default)]
pub struct AttachmentCreate {
    pub addon: String,
    pub app: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub confirm: Option<String>,
}

impl Request {
    /// `GET /apps/{app}/addons`.
    pub fn addons(app: &str) -> Request {
        Request::new(
            Method::GET,
            Host::Platform,
            format!("/apps/{}/addons", seg(app)),
        )
        .header("Accept-Expansion", "addon_service,plan")
        .subject(format!("app {app}"))
    }

    /// `POST /apps/{app}/addons`, with the body the official CLI sends (empty `attachment` and
    /// `config` objects when unset).
    pub fn create_addon(app: &str, spec: &AddonCreate) -> Request {
        let mut attachment = Map::new();
        if let Some(name) = &spec.attachment_name {
            attachment.insert("name".into(), Value::String(name.clone()));
        }
        let mut body = json!({
            "attachment": attachment,
            "config": spec.config,
            "plan": { "name": spec.plan },
        });
        if let Some(name) = &spec.name {
            body["name"] = Value::String(name.clone());
        }
        if let Some(confirm) = &spec.confirm {
            body["confirm"] = Value::String(confirm.clone());
        }
        Request::new(
            Method::POST,
            Host::Platform,
            format!("/apps/{}/addons", seg(app)),
        )
        .json(body)
        .header("Accept-Expansion", "plan")
        .header("X-Heroku-Legacy-Provider-Messages", "true")
        .subject(format!("app {app}"))
    }

    /// `GET /apps/{app}/addon-attachments`, each with its add-on's plan and config var names.
    pub fn attachments(app: &str) -> Request {
        Request::new(
            Method::GET,
            Host::Platform,
            format!("/apps/{}/addon-attachments", seg(app)),
        )
        .header("Accept-Inclusion", INCLUDE_PLAN_AND_VARS)
        .subject(format!("app {app}"))
    }

    /// `POST /addon-attachments`. Objects `{"name": ...}` for add-on and app, and an explicit
    /// `namespace` (possibly null), as the official CLI's `pg:promote` sends them.
    pub fn create_attachment(spec: &AttachmentCreate) -> Request {
        let mut body = json!({
            "addon": { "name": spec.addon },
            "app": { "name": spec.app },
        });
        if let Some(confirm) = &spec.confirm {
            body["confirm"] = Value::String(confirm.clone());
        }
        if let Some(name) = &spec.name {
            body["name"] = Value::String(name.clone());
        }
        body["namespace"] = match &spec.namespace {
            Some(ns) => Value::String(ns.clone()),
            None => Value::Null,
        };
        Request::new(Method::POST, Host::Platform, "/addon-attachments")
            .json(body)
            .subject(format!("app {}", spec.app))
    }
}

impl ApiClient {
    /// `GET /apps/{app}/addons`.
    pub async fn addons(&self, app: &str) -> Result<Vec<Addon>, ApiError> {
        self.send_list(Request::addons(app)).await
    }

    /// `GET /apps/{app}/addons/{addon}` (id or name).
    pub async fn addon(&self, app: &str, addon: &str) -> Result<Addon, ApiError> {
        self.send(
            Request::new(
                Method::GET,
                Host::Platform,
                format!("/apps/{}/addons/{}", seg(app), seg(addon)),
            )
            .header("Accept-Expansion", "addon_service,plan")
            .subject(format!("add-on {addon} of app {app}")),
        )
        .await
    }

    /// `POST /apps/{app}/addons`, with the body the official CLI sends (empty `attachment` and
    /// `config` objects when unset). Not retried after a server error: it creates something.
    pub async fn create_addon(&self, app: &str, spec: &AddonCreate) -> Result<Addon, ApiError> {
        self.send(Request::create_addon(app, spec)).await
    }

    /// `DELETE /apps/{app}/addons/{addon}`.
    pub async fn destroy_addon(&self, app: &str, addon: &str) -> Result<Addon, ApiError> {
        self.send(
            Request::new(
                Method::DELETE,
                Host::Platform,
                format!("/apps/{}/addons/{}", seg(app), seg(addon)),
            )
            .header("Accept-Expansion", "plan")
            .subject(format!("add-on {addon} of app {app}")),
        )
        .await
    }

    /// `POST /actions/addons/resolve`: an add-on by name or id, optionally within an app.
    pub async fn resolve_addon(
        &self,
        app: Option<&str>,
        addon: &str,
    ) -> Result<Vec<Addon>, ApiError> {
        let mut body = json!({ "addon": addon });
        if let Some(app) = app {
            body["app"] = Value::String(app.to_string());
        }
        self.send(
            Request::new(Method::POST, Host::Platform, "/actions/addons/resolve")
                .json(body)
                .header("Accept-Expansion", "addon_service,plan")
                .idempotent()
                .subject(format!("add-on {addon}")),
        )
        .await
    }

    /// `GET /apps/{app}/addon-attachments`, each with its add-on's plan and config var names.
    pub async fn attachments(&self, app: &str) -> Result<Vec<Attachment>, ApiError> {
        self.send_list(Request::attachments(app)).await
    }

    /// `POST /addon-attachments`. Objects `{"name": ...}` for add-on and app, and an explicit
    /// `namespace` (possibly null), as the official CLI's `pg:promote` sends them.
    pub async fn create_attachment(&self, spec: &AttachmentCreate) -> Result<Attachment, ApiError> {
        self.send(Request::create_attachment(spec)).await
    }

    /// `POST /actions/addon-attachments/resolve`: attachments matching a name such as
    /// `DATABASE_URL`, `HEROKU_POSTGRESQL_AMBER` or an add-on name.
    pub async fn resolve_attachment(
        &self,
        app: &str,
        name: &str,
    ) -> Result<Vec<Attachment>, ApiError> {
        self.send(
            Request::new(
                Method::POST,
                Host::Platform,
                "/actions/addon-attachments/resolve",
            )
            .json(json!({ "addon_attachment": name, "app": app }))
            .header("Accept-Inclusion", INCLUDE_PLAN_AND_VARS)
            .idempotent()
            .subject(format!("database {name} of app {app}")),
        )
        .await
    }
}
