//! Schema conformance: every Platform API request the client can make, and every field our
//! models read, against `fixtures/heroku/platform-endpoints.json`, the endpoint table
//! `scripts/derive-endpoint-table.py` derives from Heroku's official Platform API schema.
//!
//! A request conforms when its method and path match exactly one link of the table, and its
//! JSON body has the link's required properties, no property the link does not declare, and
//! values of the declared types. Data API requests (`/client/v11/...`) are not in Heroku's
//! schema and are not checked here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use herokuops::api::models::{
    Account, Addon, App, Attachment, Dyno, Formation, LogSession, RateLimit, Release,
};
use herokuops::api::{
    AddonCreate, ApiClient, AttachmentCreate, DynoCreate, LogSessionCreate, RestartTarget,
};
use herokuops::steps::promote::{PromoteOptions, PromoteOutcome};
use herokuops::steps::{self, Wait};
use serde::Serialize;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::heroku_fixture::{self, APP, CREATED_ADDON, Variant};
use crate::support::{client, fixture};

// ---------------------------------------------------------------------------------------------
// The endpoint table and the checker.

/// One link of the table: a method, a path template and what its body may hold.
#[derive(Debug)]
pub struct Link {
    pub resource: String,
    pub title: String,
    pub method: String,
    pub path: String,
    /// Path segments; `None` for a `{placeholder}`, which matches any one non-empty segment.
    segments: Vec<Option<String>>,
    body: Option<Value>,
}

impl Link {
    fn label(&self) -> String {
        format!(
            "{} {:?} ({} {})",
            self.resource, self.title, self.method, self.path
        )
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.method == method
            && parts.len() == self.segments.len()
            && parts
                .iter()
                .zip(&self.segments)
                .all(|(part, seg)| match seg {
                    Some(literal) => part == literal,
                    None => !part.is_empty(),
                })
    }
}

pub struct Table {
    pub links: Vec<Link>,
    /// Per resource, the response fields as dotted paths (`addon.app.name`).
    pub response_fields: BTreeMap<String, BTreeSet<String>>,
}

impl Table {
    pub fn load() -> Table {
        let file = format!(
            "{}/fixtures/heroku/platform-endpoints.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut links = Vec::new();
        let mut response_fields = BTreeMap::new();
        for (name, resource) in doc["resources"].as_object().expect("resources") {
            for link in resource["links"].as_array().expect("links") {
                let path = link["path"].as_str().expect("path").to_string();
                let segments = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                    .collect();
                links.push(Link {
                    resource: name.clone(),
                    title: link["title"].as_str().expect("title").to_string(),
                    method: link["method"].as_str().expect("method").to_string(),
                    path,
                    segments,
                    body: Some(link["body"].clone()).filter(|b| !b.is_null()),
                });
            }
            let fields = resource["response_fields"]
                .as_array()
                .expect("response_fields")
                .iter()
                .map(|f| f.as_str().expect("a field").to_string())
                .collect();
            response_fields.insert(name.clone(), fields);
        }
        assert!(links.len() > 40, "{file} lists only {} links", links.len());
        Table {
            links,
            response_fields,
        }
    }

    /// Checks one request; returns the link it conforms to, or why it does not.
    pub fn check(&self, method: &str, path: &str, body: &[u8]) -> Result<&Link, String> {
        let found: Vec<&Link> = self
            .links
            .iter()
            .filter(|l| l.matches(method, path))
            .collect();
        let templates: BTreeSet<&str> = found.iter().map(|l| l.path.as_str()).collect();
        match templates.len() {
            0 => {
                let same_path: Vec<String> = self
                    .links
                    .iter()
                    .filter(|l| l.matches(&l.method, path))
                    .map(|l| l.label())
                    .collect();
                return Err(if same_path.is_empty() {
                    "no link of the schema has this path".to_string()
                } else {
                    format!(
                        "the schema has this path only for other methods: {}",
                        same_path.join("; ")
                    )
                });
            }
            1 => {}
            _ => {
                let labels: Vec<String> = found.iter().map(|l| l.label()).collect();
                return Err(format!(
                    "the path matches several link templates: {}",
                    labels.join("; ")
                ));
            }
        }
        let body: Option<Value> = if body.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?)
        };
        // Links that share one template (release Create and Rollback) accept what either does.
        let mut problems = Vec::new();
        for link in &found {
            let mut errors = Vec::new();
            match (&link.body, &body) {
                (None, None) => {}
                (None, Some(_)) => errors.push("the link takes no body, but one was sent".into()),
                (Some(schema), None) => check_value(&json!({}), schema, "body", &mut errors),
                (Some(schema), Some(value)) => check_value(value, schema, "body", &mut errors),
            }
            if errors.is_empty() {
                return Ok(link);
            }
            problems.push(format!("{}: {}", link.label(), errors.join("; ")));
        }
        Err(problems.join(" | "))
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    let actual = type_name(value);
    actual == wanted || (wanted == "number" && actual == "integer")
}

/// The key patterns the schema uses for free-form maps (config, env, config vars).
fn key_matches(pattern: &str, key: &str) -> bool {
    match pattern {
        r"^\w+$" => !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_'),
        other => panic!("the checker does not know the key pattern {other:?}; teach it"),
    }
}

/// Checks `value` against a table descriptor (see scripts/derive-endpoint-table.py).
fn check_value(value: &Value, desc: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(keys) = desc.get("identity").and_then(Value::as_array) {
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        let ok = match value {
            Value::String(s) => !s.is_empty(),
            Value::Object(map) => {
                !map.is_empty()
                    && map
                        .iter()
                        .all(|(k, v)| keys.contains(&k.as_str()) && v.is_string())
            }
            _ => false,
        };
        if !ok {
            errors.push(format!(
                "{at}: expected an identity (a string, or an object with only {keys:?} string keys), got {value}"
            ));
        }
        return;
    }
    if let Some(alternatives) = desc.get("any_of").and_then(Value::as_array) {
        let fits = alternatives.iter().any(|alt| {
            let mut sub = Vec::new();
            check_value(value, alt, at, &mut sub);
            sub.is_empty()
        });
        if !fits {
            errors.push(format!(
                "{at}: {value} fits none of the schema's alternatives"
            ));
        }
        return;
    }
    if let Some(types) = desc.get("type").and_then(Value::as_array) {
        let types: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        if !types.iter().any(|t| has_type(value, t)) {
            errors.push(format!(
                "{at}: expected {}, got {} {value}",
                types.join(" or "),
                type_name(value)
            ));
            return;
        }
    }
    if let Some(allowed) = desc.get("enum").and_then(Value::as_array)
        && !value.is_null()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            let properties = desc.get("properties").and_then(Value::as_object);
            let patterns = desc.get("pattern_properties").and_then(Value::as_object);
            let additional = desc.get("additional_properties");
            for required in desc
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(required) {
                    errors.push(format!(
                        "{at}: the required property {required:?} is missing"
                    ));
                }
            }
            for (key, item) in map {
                let here = format!("{at}.{key}");
                if let Some(sub) = properties.and_then(|p| p.get(key)) {
                    check_value(item, sub, &here, errors);
                } else if let Some((_, sub)) = patterns
                    .into_iter()
                    .flatten()
                    .find(|(pattern, _)| key_matches(pattern, key))
                {
                    check_value(item, sub, &here, errors);
                } else if let Some(sub) = additional {
                    check_value(item, sub, &here, errors);
                } else if properties.is_some() || patterns.is_some() {
                    errors.push(format!(
                        "{at}: the property {key:?} is not in the schema (known: {})",
                        properties
                            .map(|p| p.keys().cloned().collect::<Vec<_>>().join(", "))
                            .unwrap_or_default()
                    ));
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = desc.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_value(item, sub, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Collecting what the client sends.

/// One request the server received, labelled with the operation that sent it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub operation: String,
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

impl Sent {
    fn is_platform(&self) -> bool {
        !self.path.starts_with("/client/")
    }

    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        format!(
            "[{}] {} {}{}",
            self.operation,
            self.method,
            self.path,
            if body.is_empty() {
                String::new()
            } else {
                format!(" {body}")
            }
        )
    }
}

/// A fixture server and the requests it has received so far, by operation.
struct Scenario {
    server: MockServer,
    api: ApiClient,
    seen: usize,
}

impl Scenario {
    async fn start(variant: Variant) -> Scenario {
        let server = heroku_fixture::start(variant).await;
        let api = client(&server);
        Scenario {
            server,
            api,
            seen: 0,
        }
    }

    /// Files the requests received since the last call under `operation`.
    async fn record(&mut self, operation: &str, out: &mut Vec<Sent>) {
        let received = self.server.received_requests().await.unwrap_or_default();
        let new = &received[self.seen..];
        assert!(!new.is_empty(), "{operation} sent no request");
        for r in new {
            out.push(Sent {
                operation: operation.to_string(),
                method: r.method.to_string(),
                path: r.url.path().to_string(),
                body: r.body.clone(),
            });
        }
        self.seen = received.len();
    }
}

/// Runs one client call, fails on an error, and files the requests it sent.
macro_rules! op {
    ($scenario:expr, $out:expr, $label:expr, $call:expr) => {{
        let label: &str = $label;
        let result = $call.await;
        let value = result.unwrap_or_else(|e| panic!("{label} failed: {e}"));
        $scenario.record(label, &mut $out).await;
        value
    }};
}

/// Checks every Platform API request; returns the links used, or one message per failure.
fn check_all(table: &Table, sent: &[Sent]) -> Result<BTreeMap<String, usize>, Vec<String>> {
    let mut used = BTreeMap::new();
    let mut failures = Vec::new();
    for request in sent.iter().filter(|r| r.is_platform()) {
        match table.check(&request.method, &request.path, &request.body) {
            Ok(link) => *used.entry(link.label()).or_insert(0) += 1,
            Err(why) => failures.push(format!("{}\n    -> {why}", request.describe())),
        }
    }
    if failures.is_empty() {
        Ok(used)
    } else {
        Err(failures)
    }
}

fn fast_wait() -> Wait {
    Wait::new(Duration::from_millis(10), Duration::from_secs(5))
}

/// A log stream for one-off dynos: the command's output, then its exit status.
async fn log_stream() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stream/run.4242"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "2026-11-22T10:00:00Z app[run.4242]: migrated\n\
             2026-11-22T10:00:01Z heroku[run.4242]: Process exited with status 0\n",
        ))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// Every Platform API operation of the client (each variant), and every step that uses one.
async fn run_every_operation() -> Vec<Sent> {
    let mut sent = Vec::new();
    let logs = log_stream().await;
    let mut s = Scenario::start(Variant {
        logplex_url: Some(format!("{}/stream/run.4242", logs.uri())),
        ..Variant::default()
    })
    .await;
    let api = s.api.clone();

    // src/api/account.rs
    op!(s, sent, "account", api.account());
    op!(s, sent, "rate_limits", api.rate_limits());

    // src/api/apps.rs
    op!(s, sent, "app", api.app(APP));
    op!(
        s,
        sent,
        "set_maintenance on",
        api.set_maintenance(APP, true)
    );
    op!(
        s,
        sent,
        "set_maintenance off",
        api.set_maintenance(APP, false)
    );
    op!(s, sent, "config_vars", api.config_vars(APP));
    op!(s, sent, "releases (all)", api.releases(APP, None));
    op!(
        s,
        sent,
        "releases (range)",
        api.releases(APP, Some("version ..; max=5, order=desc"))
    );
    op!(
        s,
        sent,
        "release by id",
        api.release(APP, "a0000000-0000-4000-8000-000000000014")
    );
    op!(s, sent, "release by version", api.release(APP, "14"));
    op!(s, sent, "formation", api.formation(APP));

    // src/api/dynos.rs
    op!(s, sent, "dynos", api.dynos(APP));
    op!(s, sent, "dyno", api.dyno(APP, "web.1"));
    op!(
        s,
        sent,
        "restart all",
        api.restart_dynos(APP, &RestartTarget::All)
    );
    op!(
        s,
        sent,
        "restart type",
        api.restart_dynos(APP, &RestartTarget::ProcessType("web".into()))
    );
    op!(
        s,
        sent,
        "restart dyno",
        api.restart_dynos(APP, &RestartTarget::Dyno("web.1".into()))
    );
    op!(s, sent, "stop dyno", api.stop_dyno(APP, "run.4242"));
    op!(
        s,
        sent,
        "create_dyno (command only)",
        api.create_dyno(
            APP,
            &DynoCreate {
                command: "bin/migrate".into(),
                ..Default::default()
            }
        )
    );
    op!(
        s,
        sent,
        "create_dyno (env, size, time_to_live)",
        api.create_dyno(
            APP,
            &DynoCreate {
                command: "bin/migrate --verbose".into(),
                env: [("COLUMNS".to_string(), "80".to_string())].into(),
                size: Some("standard-1X".into()),
                time_to_live: Some(1800),
            }
        )
    );
    op!(
        s,
        sent,
        "create_log_session (defaults)",
        api.create_log_session(APP, &LogSessionCreate::default())
    );
    op!(
        s,
        sent,
        "create_log_session (every option)",
        api.create_log_session(
            APP,
            &LogSessionCreate {
                dyno_name: Some("web.1".into()),
                lines: Some(100),
                source: Some("app".into()),
                tail: true,
            }
        )
    );

    // src/api/addons.rs
    op!(s, sent, "addons", api.addons(APP));
    op!(s, sent, "addon", api.addon(APP, "postgresql-created-10003"));
    op!(
        s,
        sent,
        "create_addon (plan only)",
        api.create_addon(
            APP,
            &AddonCreate {
                plan: "heroku-postgresql:essential-0".into(),
                ..Default::default()
            }
        )
    );
    op!(
        s,
        sent,
        "create_addon (attachment, config, name, confirm)",
        api.create_addon(
            APP,
            &AddonCreate {
                plan: "heroku-postgresql:essential-0".into(),
                attachment_name: Some("NEWDB".into()),
                config: [("version".to_string(), "16".to_string())].into(),
                name: Some("tmi-db-2".into()),
                confirm: Some(APP.into()),
            }
        )
    );
    op!(
        s,
        sent,
        "destroy_addon",
        api.destroy_addon(APP, CREATED_ADDON)
    );
    op!(
        s,
        sent,
        "resolve_addon (in app)",
        api.resolve_addon(Some(APP), "postgresql-created-10003")
    );
    op!(
        s,
        sent,
        "resolve_addon (any app)",
        api.resolve_addon(None, "postgresql-created-10003")
    );
    op!(s, sent, "attachments", api.attachments(APP));
    op!(
        s,
        sent,
        "create_attachment (no name, no confirm)",
        api.create_attachment(&AttachmentCreate {
            addon: "postgresql-primary-10001".into(),
            app: APP.into(),
            ..Default::default()
        })
    );
    op!(
        s,
        sent,
        "create_attachment (name, namespace, confirm)",
        api.create_attachment(&AttachmentCreate {
            addon: "postgresql-secondary-10002".into(),
            app: APP.into(),
            name: Some("DATABASE_CONNECTION_POOL".into()),
            namespace: Some("connection-pooling:default".into()),
            confirm: Some(APP.into()),
        })
    );
    op!(
        s,
        sent,
        "resolve_attachment",
        api.resolve_attachment(APP, "DATABASE_URL")
    );

    // src/steps: the multi-step flows.
    let spec = AddonCreate {
        plan: "heroku-postgresql:essential-0".into(),
        ..Default::default()
    };
    op!(
        s,
        sent,
        "steps::addons::create --wait",
        steps::addons::create(&api, APP, &spec, Some(fast_wait()), &mut ())
    );
    op!(
        s,
        sent,
        "steps::addons::destroy",
        steps::addons::destroy(&api, APP, "postgresql-created-10003")
    );
    let promoted = op!(
        s,
        sent,
        "steps::promote (alias exists)",
        steps::promote::promote(
            &api,
            APP,
            "postgresql-secondary-10002",
            &PromoteOptions::default(),
            &mut ()
        )
    );
    assert!(matches!(promoted, PromoteOutcome::Promoted { .. }));
    let already = op!(
        s,
        sent,
        "steps::promote (already DATABASE)",
        steps::promote::promote(
            &api,
            APP,
            "postgresql-primary-10001",
            &PromoteOptions::default(),
            &mut ()
        )
    );
    assert!(matches!(already, PromoteOutcome::AlreadyPromoted { .. }));
    op!(
        s,
        sent,
        "steps::database::resolve (default)",
        steps::database::resolve(&api, APP, None)
    );
    op!(
        s,
        sent,
        "steps::database::resolve (other-app syntax)",
        steps::database::resolve(&api, APP, Some("tmi-server::HEROKU_POSTGRESQL_AMBER"))
    );
    op!(
        s,
        sent,
        "steps::database::all_databases",
        steps::database::all_databases(&api, APP)
    );
    op!(
        s,
        sent,
        "steps::backup::capture",
        steps::backup::capture(&api, APP, None, fast_wait(), &mut ())
    );
    op!(
        s,
        sent,
        "steps::backup::schedule",
        steps::backup::schedule(&api, APP, None, 2, "UTC")
    );
    op!(
        s,
        sent,
        "steps::backup::unschedule",
        steps::backup::unschedule(&api, APP, Some("DATABASE_URL"))
    );
    let outcome = op!(
        s,
        sent,
        "steps::run::run",
        steps::run::run(
            &api,
            APP,
            "bin/migrate",
            [("RAILS_ENV".to_string(), "production".to_string())].into(),
            Duration::from_secs(10),
            |_| {}
        )
    );
    assert_eq!(outcome.exit_status, 0);

    // The other states of the app the flows branch on.
    let mut single = Scenario::start(Variant {
        primary_single: true,
        ..Variant::default()
    })
    .await;
    let api = single.api.clone();
    op!(
        single,
        sent,
        "steps::promote (no alias yet)",
        steps::promote::promote(
            &api,
            APP,
            "postgresql-secondary-10002",
            &PromoteOptions::default(),
            &mut ()
        )
    );

    let mut release = Scenario::start(Variant {
        release_phase: true,
        pooler: true,
        ..Variant::default()
    })
    .await;
    let api = release.api.clone();
    op!(
        release,
        sent,
        "steps::promote (pooler, release phase)",
        steps::promote::promote(
            &api,
            APP,
            "postgresql-secondary-10002",
            &PromoteOptions {
                force: true,
                release_wait: Some(fast_wait()),
            },
            &mut ()
        )
    );

    let mut strict = Scenario::start(Variant {
        resolve_not_found: true,
        ..Variant::default()
    })
    .await;
    let api = strict.api.clone();
    op!(
        strict,
        sent,
        "steps::database::resolve (resolver 404, config var fallback)",
        steps::database::resolve(&api, APP, Some("DATABASE_URL"))
    );
    sent
}

/// The links the run above must use: if an operation stops being exercised, this says so.
const EXPECTED_LINKS: &[(&str, &str)] = &[
    ("account", "Info"),
    ("add-on", "Create"),
    ("add-on", "Delete"),
    ("add-on", "Info By App"),
    ("add-on", "List By App"),
    ("add-on", "Resolution"),
    ("add-on-attachment", "Create"),
    ("add-on-attachment", "List by App"),
    ("add-on-attachment", "Resolution"),
    ("app", "Info"),
    ("app", "Update"),
    ("config-var", "Info for App"),
    ("dyno", "Create"),
    ("dyno", "Info"),
    ("dyno", "List"),
    ("dyno", "Restart"),
    ("dyno", "Restart all"),
    ("dyno", "Restart formation"),
    ("dyno", "Stop"),
    ("formation", "List"),
    ("log-session", "Create"),
    ("rate-limit", "Info"),
    ("release", "Info"),
    ("release", "List"),
];

/// Set `SHOW_REQUESTS=1` to print every request the run sent.
#[tokio::test]
async fn every_platform_request_conforms_to_the_schema() {
    let table = Table::load();
    let sent = run_every_operation().await;
    let platform = sent.iter().filter(|r| r.is_platform()).count();
    if std::env::var_os("SHOW_REQUESTS").is_some() {
        for r in &sent {
            println!("{}", r.describe());
        }
    }
    let used = match check_all(&table, &sent) {
        Ok(used) => used,
        Err(failures) => panic!(
            "{} of {platform} Platform API requests do not conform to Heroku's schema \
             (fixtures/heroku/platform-endpoints.json):\n{}",
            failures.len(),
            failures.join("\n")
        ),
    };
    let expected: BTreeSet<String> = EXPECTED_LINKS
        .iter()
        .map(|(resource, title)| {
            table
                .links
                .iter()
                .find(|l| l.resource == *resource && l.title == *title)
                .unwrap_or_else(|| panic!("no link {resource} {title:?} in the table"))
                .label()
        })
        .collect();
    let got: BTreeSet<String> = used.keys().cloned().collect();
    assert_eq!(
        got, expected,
        "the links the client's operations used changed; keep EXPECTED_LINKS in step"
    );
    // Each variant of a call is its own operation, and each one reached the server.
    let operations: BTreeSet<&str> = sent.iter().map(|r| r.operation.as_str()).collect();
    assert!(
        operations.len() >= 45,
        "only {} operations ran",
        operations.len()
    );
    assert!(
        platform >= 65,
        "only {platform} Platform API requests were checked"
    );
    println!(
        "checked {platform} Platform API requests from {} operations against {} links",
        operations.len(),
        used.len()
    );
}

/// The Platform API methods of the client that `run_every_operation` calls.
const EXERCISED_METHODS: &[&str] = &[
    "account",
    "addon",
    "addons",
    "app",
    "attachments",
    "config_vars",
    "create_addon",
    "create_attachment",
    "create_dyno",
    "create_log_session",
    "destroy_addon",
    "dyno",
    "dynos",
    "formation",
    "rate_limits",
    "release",
    "releases",
    "resolve_addon",
    "resolve_attachment",
    "restart_dynos",
    "set_maintenance",
    "stop_dyno",
];

/// A new Platform API method must join the conformance run: this lists the public async
/// methods of the Platform API modules and compares them with what the run calls.
#[test]
fn every_platform_method_of_the_client_is_exercised() {
    let mut methods = BTreeSet::new();
    for module in ["account", "addons", "apps", "dynos"] {
        let file = format!("{}/src/api/{module}.rs", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                methods.insert(name);
            }
        }
    }
    let exercised: BTreeSet<String> = EXERCISED_METHODS.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        methods, exercised,
        "the Platform API methods in src/api/{{account,addons,apps,dynos}}.rs changed: \
         call the new ones in run_every_operation and list them in EXERCISED_METHODS"
    );
}

// ---------------------------------------------------------------------------------------------
// The checker itself must catch what it is there to catch.

fn rejects(table: &Table, method: &str, path: &str, body: Value, expect: &str) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    match table.check(method, path, &bytes) {
        Ok(link) => panic!(
            "{method} {path} {body} was accepted as {}, but it should fail with {expect:?}",
            link.label()
        ),
        Err(why) => assert!(
            why.contains(expect),
            "{method} {path} {body}: expected a failure mentioning {expect:?}, got: {why}"
        ),
    }
}

#[test]
fn the_checker_rejects_bad_requests() {
    let table = Table::load();
    let attach = json!({
        "addon": {"name": "postgresql-secondary-10002"},
        "app": {"name": "tmi-server"},
        "confirm": "tmi-server",
        "name": "DATABASE",
        "namespace": null,
    });
    // The official CLI's body passes...
    table
        .check("POST", "/addon-attachments", attach.to_string().as_bytes())
        .unwrap();
    // ...and each kind of mistake fails.
    let mut unknown = attach.clone();
    unknown["force"] = json!(true);
    rejects(
        &table,
        "POST",
        "/addon-attachments",
        unknown,
        "\"force\" is not in the schema",
    );
    let mut missing = attach.clone();
    missing.as_object_mut().unwrap().remove("app");
    rejects(
        &table,
        "POST",
        "/addon-attachments",
        missing,
        "\"app\" is missing",
    );
    let mut bad_identity = attach.clone();
    bad_identity["addon"] = json!({"name": "x", "plan": "y"});
    rejects(
        &table,
        "POST",
        "/addon-attachments",
        bad_identity,
        "expected an identity",
    );
    let mut wrong_type = attach.clone();
    wrong_type["namespace"] = json!(7);
    rejects(
        &table,
        "POST",
        "/addon-attachments",
        wrong_type,
        "body.namespace: expected null or string",
    );
    rejects(
        &table,
        "PATCH",
        "/apps/tmi-server",
        json!({"maintenance": "on"}),
        "expected boolean",
    );
    rejects(
        &table,
        "POST",
        "/apps/tmi-server/addons",
        json!({"attachment": {"name": "NEWDB", "as": "x"}, "plan": {"name": "p:q"}}),
        "\"as\" is not in the schema",
    );
    rejects(
        &table,
        "POST",
        "/apps/tmi-server/addons",
        json!({"config": {"version": 16}, "plan": "p:q"}),
        "body.config.version: expected string",
    );
    rejects(
        &table,
        "POST",
        "/apps/tmi-server/addons",
        json!({"config": {"db-version": "16"}, "plan": "p:q"}),
        "\"db-version\" is not in the schema",
    );
    rejects(
        &table,
        "POST",
        "/apps/tmi-server/addons",
        Value::Null,
        "\"plan\" is missing",
    );
    rejects(
        &table,
        "DELETE",
        "/apps/tmi-server/dynos",
        json!({"all": true}),
        "takes no body",
    );
    rejects(
        &table,
        "GET",
        "/apps/tmi-server/nonsense",
        Value::Null,
        "no link",
    );
    rejects(
        &table,
        "PUT",
        "/apps/tmi-server",
        Value::Null,
        "only for other methods",
    );
    rejects(&table, "GET", "/apps//dynos", Value::Null, "no link");
    assert!(
        table
            .check("POST", "/addon-attachments", b"not json")
            .is_err()
    );
}

/// The whole pipeline (server, recording, checking) fails on a request with an unknown key.
#[tokio::test]
async fn a_bad_request_on_the_wire_fails_the_check() {
    let table = Table::load();
    let mut s = Scenario::start(Variant::default()).await;
    let mut sent = Vec::new();
    let http = reqwest::Client::new();
    let response = http
        .patch(format!("{}/apps/tmi-server", s.server.uri()))
        .json(&json!({"maintenance": true, "maintenance_message": "back soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    s.record("hand-made PATCH", &mut sent).await;
    let failures = check_all(&table, &sent).expect_err("an unknown key must fail the check");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("[hand-made PATCH] PATCH /apps/tmi-server")
            && failures[0].contains("\"maintenance_message\" is not in the schema"),
        "the failure must name the request and the key: {}",
        failures[0]
    );
}

// ---------------------------------------------------------------------------------------------
// The fields our models read are response fields of their resource.

/// Fields that are not in the plain schema but come with `Accept-Inclusion:
/// addon:plan,config_vars`, which the client sends on attachment lists and resolves
/// (Heroku's `Accept-Inclusion` header). A path covers its sub-fields.
const INCLUSION_ONLY: &[(&str, &str)] = &[
    ("add-on-attachment", "config_vars"),
    ("add-on-attachment", "addon.plan"),
];

/// Dotted paths of every key of a JSON value (`addon.app.name`; array elements as `field[]`).
fn field_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let path = format!("{prefix}{key}");
                field_paths(item, &format!("{path}."), out);
                out.insert(path);
            }
        }
        Value::Array(items) => {
            let element = format!("{}[].", prefix.trim_end_matches('.'));
            for item in items.iter().filter(|i| i.is_object()) {
                field_paths(item, &element, out);
            }
        }
        _ => {}
    }
}

fn model_fields<T: Serialize>(model: &T) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    field_paths(&serde_json::to_value(model).unwrap(), "", &mut out);
    out
}

/// Fields of `fields` that the resource does not answer with (exceptions aside).
fn unknown_fields(table: &Table, resource: &str, fields: &BTreeSet<String>) -> Vec<String> {
    let known = table
        .response_fields
        .get(resource)
        .unwrap_or_else(|| panic!("no resource {resource} in the table"));
    fields
        .iter()
        .filter(|f| !known.contains(*f))
        .filter(|f| {
            !INCLUSION_ONLY.iter().any(|(r, exception)| {
                *r == resource
                    && (f.as_str() == *exception || f.starts_with(&format!("{exception}.")))
            })
        })
        .cloned()
        .collect()
}

fn first(value: Value) -> Value {
    match value {
        Value::Array(mut items) => items.remove(0),
        other => other,
    }
}

fn both<T: Serialize + Default + serde::de::DeserializeOwned>(file: &str) -> BTreeSet<String> {
    let mut fields = model_fields(&T::default());
    let parsed: T = serde_json::from_value(first(fixture(file)))
        .unwrap_or_else(|e| panic!("fixtures/api/{file}: {e}"));
    fields.extend(model_fields(&parsed));
    fields
}

#[test]
fn model_fields_are_response_fields_of_their_resource() {
    let table = Table::load();
    // Default instances, and instances read from the fixtures (which fill the optional
    // nested objects, such as an app's stack or an attachment's add-on plan).
    let models: Vec<(&str, &str, BTreeSet<String>)> = vec![
        ("App", "app", both::<App>("app.json")),
        ("Dyno", "dyno", both::<Dyno>("dynos.json")),
        ("Addon", "add-on", both::<Addon>("addon-created.json")),
        (
            "Attachment",
            "add-on-attachment",
            both::<Attachment>("attachments.json"),
        ),
        ("Account", "account", both::<Account>("account.json")),
        (
            "RateLimit",
            "rate-limit",
            both::<RateLimit>("rate-limits.json"),
        ),
        ("Release", "release", both::<Release>("releases.json")),
        (
            "Formation",
            "formation",
            both::<Formation>("formation.json"),
        ),
        (
            "LogSession",
            "log-session",
            both::<LogSession>("log-session.json"),
        ),
    ];
    let mut problems = Vec::new();
    for (model, resource, fields) in &models {
        assert!(
            fields.len() >= 2 || *model == "RateLimit",
            "{model}: {fields:?}"
        );
        for field in unknown_fields(&table, resource, fields) {
            problems.push(format!(
                "{model}.{field} is not a response field of the schema's {resource}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The nested reads are covered too, and the Accept-Inclusion exceptions are used.
    let attachment = &models[3].2;
    for path in ["addon.app.name", "addon.plan.name", "config_vars"] {
        assert!(attachment.contains(path), "Attachment does not read {path}");
    }
    // An exception must still be needed: once the schema lists the field, drop it here.
    for (resource, exception) in INCLUSION_ONLY {
        assert!(
            !table.response_fields[*resource].contains(*exception),
            "{resource}.{exception} is in the schema now; remove it from INCLUSION_ONLY"
        );
    }
    // And the check catches a field the schema does not have.
    let mut bogus = model_fields(&App::default());
    bogus.insert("stack.region".into());
    bogus.insert("maintenance_mode".into());
    assert_eq!(
        unknown_fields(&table, "app", &bogus),
        vec!["maintenance_mode".to_string(), "stack.region".to_string()]
    );
}
