//! A stand-in for both Heroku APIs that answers every route herokuops uses from
//! `fixtures/api/`, with the app the official CLI was traced against
//! (see `fixtures/peer/`): app `tmi-server`; `postgresql-primary-10001` attached as
//! `DATABASE` and `HEROKU_POSTGRESQL_COBALT`, `postgresql-secondary-10002` as
//! `HEROKU_POSTGRESQL_AMBER`; one finished backup `b001`.
//!
//! One responder routes by method and path (and, for the resolve action, by body), so a test
//! can run whole command flows; a request no route knows gets a 599 naming it.

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::fixture;

pub const APP: &str = "tmi-server";
pub const APP_ID: &str = "6a8cd9a2-4b0e-4bd1-9a1f-2d1b0e3c1f10";
pub const PRIMARY: &str = "178769e6-6033-582d-965a-ce9e90e85633";
pub const SECONDARY: &str = "fdf3a4eb-af7b-5ec5-96fd-717476dd02ca";
/// The uuid of the transfer a backup capture starts (`fixtures/api/transfer-started.json`).
pub const TRANSFER: &str = "f1cac94e-f282-5626-b5ef-bbb46801a5d4";
pub const CREATED_ADDON: &str = "0c2b1f3e-1111-4a2b-9c3d-4e5f60718293";

/// Knobs for the app's state, like the `FAKE_*` switches of the traced fake.
#[derive(Debug, Clone, Default)]
pub struct Variant {
    /// The DATABASE add-on has no second attachment (`FAKE_PRIMARY_SINGLE=1`, trace 06b).
    pub primary_single: bool,
    /// The formation has a `release` process (`FAKE_RELEASE_PHASE=1`, trace 06c).
    pub release_phase: bool,
    /// A connection pooler (`DATABASE_CONNECTION_POOL`) is attached to the DATABASE add-on.
    pub pooler: bool,
    /// The resolve action answers 404 `not_found` (`FAKE_RESOLVE_STRICT=1`, trace 07c).
    pub resolve_not_found: bool,
    /// What log sessions hand out as `logplex_url`.
    pub logplex_url: Option<String>,
    /// What the public-url action hands out as `url`.
    pub public_url: Option<String>,
}

/// Starts a server that answers from the fixtures. The one mock must be used at least once.
pub async fn start(variant: Variant) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(HerokuFixture { variant })
        .named("Heroku fixture")
        .expect(1..)
        .mount(&server)
        .await;
    server
}

pub struct HerokuFixture {
    pub variant: Variant,
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn created(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(body)
}

fn not_found(what: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "id": "not_found",
        "message": format!("Couldn't find that {what}."),
    }))
}

fn is_app(segment: &str) -> bool {
    segment == APP || segment == APP_ID
}

fn is_db(segment: &str) -> bool {
    segment == PRIMARY || segment == SECONDARY
}

impl HerokuFixture {
    fn attachments(&self) -> Value {
        let mut list = if self.variant.primary_single {
            fixture("attachments-primary-single.json")
        } else {
            fixture("attachments.json")
        };
        if self.variant.pooler {
            let mut pooler = list[0].clone();
            pooler["id"] = json!("11111111-0000-4000-8000-0000000000a1");
            pooler["name"] = json!("DATABASE_CONNECTION_POOL");
            pooler["namespace"] = json!("connection-pooling:default");
            pooler["config_vars"] = json!(["DATABASE_CONNECTION_POOL_URL"]);
            list.as_array_mut().expect("a list").push(pooler);
        }
        list
    }

    fn resolve(&self, name: &str) -> ResponseTemplate {
        if self.variant.resolve_not_found {
            return not_found("add-on attachment");
        }
        let wanted = name.trim_end_matches("_URL");
        let found: Vec<Value> = self
            .attachments()
            .as_array()
            .expect("a list")
            .iter()
            .filter(|a| a["name"] == wanted || a["addon"]["name"] == name)
            .cloned()
            .collect();
        // Resolving DATABASE_URL gives the DATABASE attachment alone, as the traced fake does.
        let found: Vec<Value> = if wanted == "DATABASE" {
            found
                .into_iter()
                .filter(|a| a["name"] == "DATABASE")
                .collect()
        } else {
            found
        };
        if found.is_empty() {
            not_found("add-on attachment")
        } else {
            ok(Value::Array(found))
        }
    }

    fn route(&self, method: &str, segments: &[&str], body: &Value) -> Option<ResponseTemplate> {
        let response = match (method, segments) {
            // Platform API.
            ("GET", ["account"]) => ok(fixture("account.json")),
            ("GET", ["account", "rate-limits"]) => ok(fixture("rate-limits.json")),
            ("GET" | "PATCH", ["apps", app]) if is_app(app) => {
                let mut app = fixture("app.json");
                if let Some(on) = body.get("maintenance") {
                    app["maintenance"] = on.clone();
                }
                ok(app)
            }
            ("GET", ["apps", app, "config-vars"]) if is_app(app) => ok(fixture("config-vars.json")),
            ("GET", ["apps", app, "releases"]) if is_app(app) => ok(fixture("releases.json")),
            ("GET", ["apps", app, "releases", id]) if is_app(app) => {
                let mut release = fixture("release-attach-succeeded.json");
                release["id"] = json!(id);
                ok(release)
            }
            ("GET", ["apps", app, "formation"]) if is_app(app) => {
                if self.variant.release_phase {
                    ok(fixture("formation-with-release.json"))
                } else {
                    ok(fixture("formation.json"))
                }
            }
            ("GET", ["apps", app, "dynos"]) if is_app(app) => ok(fixture("dynos.json")),
            ("GET", ["apps", app, "dynos", name]) if is_app(app) => {
                let dynos = fixture("dynos.json");
                let found = dynos.as_array()?.iter().find(|d| d["name"] == *name)?;
                ok(found.clone())
            }
            ("DELETE", ["apps", app, "dynos"]) if is_app(app) => {
                ResponseTemplate::new(202).set_body_json(json!({}))
            }
            ("DELETE", ["apps", app, "dynos" | "formations", _]) if is_app(app) => {
                ResponseTemplate::new(202).set_body_json(json!({}))
            }
            ("POST", ["apps", app, "dynos"]) if is_app(app) => {
                created(fixture("dyno-one-off.json"))
            }
            ("POST", ["apps", app, "dynos", _, "actions", "stop"]) if is_app(app) => {
                ResponseTemplate::new(202).set_body_json(json!({}))
            }
            ("POST", ["apps", app, "log-sessions"]) if is_app(app) => {
                let mut session = fixture("log-session.json");
                session["logplex_url"] = json!(
                    self.variant
                        .logplex_url
                        .clone()
                        .unwrap_or_else(|| "http://127.0.0.1:9/no-log-stream".into())
                );
                created(session)
            }
            ("GET", ["apps", app, "addons"]) if is_app(app) => ok(fixture("addons.json")),
            ("GET", ["apps", app, "addons", _]) if is_app(app) => {
                ok(fixture("addon-provisioned.json"))
            }
            ("POST", ["apps", app, "addons"]) if is_app(app) => {
                let mut addon = fixture("addon-created.json");
                if let Some(name) = body.get("name").and_then(Value::as_str) {
                    addon["name"] = json!(name);
                }
                created(addon)
            }
            ("DELETE", ["apps", app, "addons", _]) if is_app(app) => {
                ok(fixture("addon-deprovisioning.json"))
            }
            ("POST", ["actions", "addons", "resolve"]) => {
                ok(json!([fixture("addon-provisioned.json")]))
            }
            ("GET", ["apps", app, "addon-attachments"]) if is_app(app) => ok(self.attachments()),
            ("POST", ["addon-attachments"]) => {
                let mut attachment = fixture("attachment-created.json");
                if let Some(name) = body.get("name").and_then(Value::as_str) {
                    attachment["name"] = json!(name);
                    attachment["config_vars"] = json!([format!("{name}_URL")]);
                }
                created(attachment)
            }
            ("POST", ["actions", "addon-attachments", "resolve"]) => {
                self.resolve(body.get("addon_attachment")?.as_str()?)
            }
            // Postgres data API.
            ("GET", ["client", "v11", "databases", db]) if is_db(db) => {
                let mut info = fixture("database-info.json");
                info["addon_id"] = json!(db);
                ok(info)
            }
            ("GET", ["client", "v11", "databases", db, "wait_status"]) if is_db(db) => {
                ok(fixture("wait-status-available.json"))
            }
            ("POST", ["client", "v11", "databases", db, "backups" | "restores"]) if is_db(db) => {
                created(fixture("transfer-started.json"))
            }
            ("PUT", ["client", "v11", "databases", db, "reset"]) if is_db(db) => ok(json!({})),
            ("GET", ["client", "v11", "databases", db, "transfer-schedules"]) if is_db(db) => {
                ok(fixture("schedules.json"))
            }
            ("POST", ["client", "v11", "databases", db, "transfer-schedules"]) if is_db(db) => {
                created(fixture("schedules.json")[0].clone())
            }
            ("DELETE", ["client", "v11", "databases", db, "transfer-schedules", _])
                if is_db(db) =>
            {
                ok(json!({}))
            }
            ("GET", ["client", "v11", "apps", app, "transfers"]) if is_app(app) => {
                ok(fixture("transfers.json"))
            }
            ("GET", ["client", "v11", "apps", app, "transfers", id])
                if is_app(app) && *id == TRANSFER =>
            {
                ok(fixture("transfer-finished.json"))
            }
            (
                "POST",
                [
                    "client",
                    "v11",
                    "apps",
                    app,
                    "transfers",
                    _,
                    "actions",
                    "public-url",
                ],
            ) if is_app(app) => {
                let mut public = fixture("public-url.json");
                public["url"] = json!(
                    self.variant
                        .public_url
                        .clone()
                        .unwrap_or_else(|| "http://127.0.0.1:9/no-storage".into())
                );
                ok(public)
            }
            _ => return None,
        };
        Some(response)
    }
}

impl Respond for HerokuFixture {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        self.route(request.method.as_str(), &segments, &body)
            .unwrap_or_else(|| {
                ResponseTemplate::new(599).set_body_json(json!({
                    "id": "no_fixture",
                    "message": format!("the fixture server has no route for {} {path}", request.method),
                }))
            })
    }
}
