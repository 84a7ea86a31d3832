//! Every Platform API operation of the client: method, path, query, headers and exact body of
//! the request, and the decoded answer.

use std::collections::BTreeMap;

use herokuops::api::{AddonCreate, AttachmentCreate, DynoCreate, LogSessionCreate, RestartTarget};
use herokuops::steps::logs::read_log_stream;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::contract::{
    APP, APP_ID, CREATED_ADDON, HeaderAbsent, PRIMARY, QueryIs, SECONDARY, call, call_json,
    header_is, with,
};
use crate::support::{client, fixture, json, server};

// ---------------------------------------------------------------------------------------------
// Apps, config vars, releases, formation, account.

#[tokio::test]
async fn app_get() {
    let server = server().await;
    call("GET", "/apps/tmi-server")
        .respond_with(json(200, fixture("app.json")))
        .expect(1)
        .mount(&server)
        .await;
    let app = client(&server).app(APP).await.unwrap();
    assert_eq!(app.id.as_str(), APP_ID);
    assert_eq!(app.name, APP);
    assert!(!app.maintenance);
    assert_eq!(app.stack.unwrap().name, "heroku-24");
    assert_eq!(
        app.web_url.as_deref(),
        Some("https://tmi-server.herokuapp.com/")
    );
}

#[tokio::test]
async fn app_name_is_encoded_as_one_segment() {
    let server = server().await;
    call("GET", "/apps/odd%20name%2Fx")
        .respond_with(json(200, fixture("app.json")))
        .expect(1)
        .mount(&server)
        .await;
    let app = client(&server).app("odd name/x").await.unwrap();
    assert_eq!(app.name, APP);
}

#[tokio::test]
async fn set_maintenance_on_and_off() {
    let server = server().await;
    let on = with(fixture("app.json"), "maintenance", json!(true));
    call_json("PATCH", "/apps/tmi-server", json!({ "maintenance": true }))
        .respond_with(json(200, on))
        .expect(1)
        .mount(&server)
        .await;
    call_json("PATCH", "/apps/tmi-server", json!({ "maintenance": false }))
        .respond_with(json(200, fixture("app.json")))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    assert!(api.set_maintenance(APP, true).await.unwrap().maintenance);
    assert!(!api.set_maintenance(APP, false).await.unwrap().maintenance);
}

#[tokio::test]
async fn config_vars_drop_unset_values() {
    let server = server().await;
    let vars = with(fixture("config-vars.json"), "REMOVED_VAR", json!(null));
    call("GET", "/apps/tmi-server/config-vars")
        .respond_with(json(200, vars))
        .expect(1)
        .mount(&server)
        .await;
    let vars = client(&server).config_vars(APP).await.unwrap();
    assert_eq!(vars.len(), 4, "{:?}", vars.keys());
    assert_eq!(vars["NODE_ENV"], "production");
    assert_eq!(vars["DATABASE_URL"], vars["HEROKU_POSTGRESQL_COBALT_URL"]);
    assert!(vars["HEROKU_POSTGRESQL_AMBER_URL"].contains("secondary-pass"));
    assert!(!vars.contains_key("REMOVED_VAR"));
}

#[tokio::test]
async fn releases_with_a_range_read_only_that_page() {
    let server = server().await;
    call("GET", "/apps/tmi-server/releases")
        .and(header_is("range", "version ..; max=5, order=desc"))
        .respond_with(
            json(206, fixture("releases.json"))
                .insert_header("Next-Range", "version ]12..; max=5, order=desc"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let releases = client(&server)
        .releases(APP, Some("version ..; max=5, order=desc"))
        .await
        .unwrap();
    let versions: Vec<u64> = releases.iter().map(|r| r.version).collect();
    assert_eq!(versions, [14, 13, 12]);
    assert_eq!(releases[0].status.as_deref(), Some("pending"));
    assert!(releases[0].current);
    assert!(releases[1].description.starts_with("Detach DATABASE"));
}

#[tokio::test]
async fn releases_without_a_range_follow_next_range() {
    let server = server().await;
    let all = fixture("releases.json");
    call("GET", "/apps/tmi-server/releases")
        .and(HeaderAbsent("range"))
        .respond_with(
            json(206, json!([all[0], all[1]])).insert_header("Next-Range", "version ]13..; max=2"),
        )
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server/releases")
        .and(header_is("range", "version ]13..; max=2"))
        .respond_with(json(200, json!([all[2]])))
        .expect(1)
        .mount(&server)
        .await;
    let releases = client(&server).releases(APP, None).await.unwrap();
    let versions: Vec<u64> = releases.iter().map(|r| r.version).collect();
    assert_eq!(versions, [14, 13, 12]);
}

#[tokio::test]
async fn release_by_id() {
    let server = server().await;
    call(
        "GET",
        "/apps/tmi-server/releases/a0000000-0000-4000-8000-000000000014",
    )
    .respond_with(json(200, fixture("release-attach-succeeded.json")))
    .expect(1)
    .mount(&server)
    .await;
    let release = client(&server)
        .release(APP, "a0000000-0000-4000-8000-000000000014")
        .await
        .unwrap();
    assert_eq!(release.version, 14);
    assert_eq!(release.status.as_deref(), Some("succeeded"));
    assert!(release.description.contains("Attach DATABASE"));
}

#[tokio::test]
async fn formation_list() {
    let server = server().await;
    call("GET", "/apps/tmi-server/formation")
        .respond_with(json(200, fixture("formation-with-release.json")))
        .expect(1)
        .mount(&server)
        .await;
    let formation = client(&server).formation(APP).await.unwrap();
    let types: Vec<(&str, i64)> = formation
        .iter()
        .map(|f| (f.process_type.as_str(), f.quantity))
        .collect();
    assert_eq!(types, [("web", 1), ("worker", 1), ("release", 0)]);
    assert_eq!(formation[2].command.as_deref(), Some("bin/release"));
}

#[tokio::test]
async fn account_and_rate_limits() {
    let server = server().await;
    call("GET", "/account")
        .respond_with(json(200, fixture("account.json")))
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/account/rate-limits")
        .respond_with(json(200, fixture("rate-limits.json")))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let account = api.account().await.unwrap();
    assert_eq!(account.email, "ops@example.com");
    assert_eq!(account.id, "01234567-89ab-cdef-0123-456789abcdef");
    assert!(account.two_factor_authentication);
    assert_eq!(api.rate_limits().await.unwrap().remaining, 4497);
}

// ---------------------------------------------------------------------------------------------
// Dynos, one-off dynos and log sessions.

#[tokio::test]
async fn dynos_list_and_one() {
    let server = server().await;
    let dynos = fixture("dynos.json");
    call("GET", "/apps/tmi-server/dynos")
        .respond_with(json(200, dynos.clone()))
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server/dynos/web.1")
        .respond_with(json(200, dynos[0].clone()))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let list = api.dynos(APP).await.unwrap();
    let seen: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|d| (d.name.as_str(), d.process_type.as_str(), d.state.as_str()))
        .collect();
    assert_eq!(seen, [("web.1", "web", "up"), ("worker.1", "worker", "up")]);
    let one = api.dyno(APP, "web.1").await.unwrap();
    assert_eq!(one.id.as_str(), "b7c3a1d2-0001-4e5f-8a9b-000000000001");
    assert_eq!(one.command.as_deref(), Some("bin/server"));
}

#[tokio::test]
async fn stop_one_dyno() {
    let server = server().await;
    call("POST", "/apps/tmi-server/dynos/run.4242/actions/stop")
        .respond_with(json(202, json!({})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).stop_dyno(APP, "run.4242").await.unwrap();
}

#[tokio::test]
async fn restart_all_one_type_and_one_dyno() {
    let server = server().await;
    for at in [
        "/apps/tmi-server/dynos",
        "/apps/tmi-server/formations/web",
        "/apps/tmi-server/dynos/web.1",
    ] {
        call("DELETE", at)
            .respond_with(json(202, json!({})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let api = client(&server);
    api.restart_dynos(APP, &RestartTarget::All).await.unwrap();
    api.restart_dynos(APP, &RestartTarget::ProcessType("web".into()))
        .await
        .unwrap();
    api.restart_dynos(APP, &RestartTarget::Dyno("web.1".into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn create_dyno_detached() {
    let server = server().await;
    call_json(
        "POST",
        "/apps/tmi-server/dynos",
        json!({ "attach": false, "command": "bin/migrate" }),
    )
    .respond_with(json(201, fixture("dyno-one-off.json")))
    .expect(1)
    .mount(&server)
    .await;
    let dyno = client(&server)
        .create_dyno(
            APP,
            &DynoCreate {
                command: "bin/migrate".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(dyno.name, "run.4242");
    assert_eq!(dyno.process_type, "run");
    assert_eq!(dyno.state, "starting");
    assert_eq!(dyno.attach_url, None);
}

#[tokio::test]
async fn create_dyno_with_every_option() {
    let server = server().await;
    call_json(
        "POST",
        "/apps/tmi-server/dynos",
        json!({
            "attach": false,
            "command": "bin/migrate --all",
            "env": { "LOG_LEVEL": "debug", "TERM": "dumb" },
            "size": "standard-1X",
            "time_to_live": 600,
        }),
    )
    .respond_with(json(201, fixture("dyno-one-off.json")))
    .expect(1)
    .mount(&server)
    .await;
    let dyno = client(&server)
        .create_dyno(
            APP,
            &DynoCreate {
                command: "bin/migrate --all".into(),
                env: BTreeMap::from([
                    ("TERM".to_string(), "dumb".to_string()),
                    ("LOG_LEVEL".to_string(), "debug".to_string()),
                ]),
                size: Some("standard-1X".into()),
                time_to_live: Some(600),
            },
        )
        .await
        .unwrap();
    assert_eq!(dyno.size.as_deref(), Some("Basic"));
}

#[tokio::test]
async fn create_log_session_bodies() {
    let server = server().await;
    let session = fixture("log-session.json");
    call_json(
        "POST",
        "/apps/tmi-server/log-sessions",
        json!({ "tail": false }),
    )
    .respond_with(json(201, session.clone()))
    .expect(1)
    .mount(&server)
    .await;
    call_json(
        "POST",
        "/apps/tmi-server/log-sessions",
        json!({ "dyno_name": "run.4242", "lines": 100, "source": "app", "tail": true }),
    )
    .respond_with(json(
        201,
        with(
            session,
            "logplex_url",
            json!("https://logs.example/stream?token=t"),
        ),
    ))
    .expect(1)
    .mount(&server)
    .await;
    let api = client(&server);
    let plain = api
        .create_log_session(APP, &LogSessionCreate::default())
        .await
        .unwrap();
    assert_eq!(plain.id, "5a1b2c3d-0000-4000-8000-0000000000aa");
    assert_eq!(plain.logplex_url, "LOGPLEX_URL");
    let tail = api
        .create_log_session(
            APP,
            &LogSessionCreate {
                dyno_name: Some("run.4242".into()),
                lines: Some(100),
                source: Some("app".into()),
                tail: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(tail.logplex_url, "https://logs.example/stream?token=t");
}

/// The log stream URL carries its own token: no Heroku credentials, `Accept: text/event-stream`.
fn log_stream(at: &str, query: &'static str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(at))
        .and(QueryIs(query))
        .and(HeaderAbsent("authorization"))
        .and(header("accept", "text/event-stream"))
}

#[tokio::test]
async fn read_log_stream_sse_without_the_token() {
    let server = server().await;
    let body = "id: 1\n\
                data: 2026-11-22T10:00:00+00:00 app[run.1]: hello\n\
                data: 2026-11-22T10:00:01+00:00 app[run.1]: world\n\
                \n\
                : keep-alive\n\
                event: message\n\
                retry: 1000\n\
                id: 2\r\n\
                data:no-space\r\n\
                \r\n";
    log_stream("/stream/abc", "token=logplex-secret")
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/event-stream"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut lines = Vec::new();
    read_log_stream(
        &client(&server),
        &format!("{}/stream/abc?token=logplex-secret", server.uri()),
        |line| {
            lines.push(line.to_string());
            true
        },
    )
    .await
    .unwrap();
    assert_eq!(
        lines,
        [
            "2026-11-22T10:00:00+00:00 app[run.1]: hello",
            "2026-11-22T10:00:01+00:00 app[run.1]: world",
            "no-space",
        ]
    );
}

#[tokio::test]
async fn read_log_stream_plain_text_and_early_stop() {
    let server = server().await;
    let body = "line one\nline two\nline three\nlast without newline";
    log_stream("/plain", "t=1")
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .expect(2)
        .mount(&server)
        .await;
    let api = client(&server);
    let url = format!("{}/plain?t=1", server.uri());
    let mut lines = Vec::new();
    read_log_stream(&api, &url, |line| {
        lines.push(line.to_string());
        true
    })
    .await
    .unwrap();
    assert_eq!(
        lines,
        ["line one", "line two", "line three", "last without newline"]
    );
    let mut seen = 0;
    read_log_stream(&api, &url, |line| {
        seen += 1;
        line != "line two"
    })
    .await
    .unwrap();
    assert_eq!(seen, 2, "reading stops when the callback says so");
}

#[tokio::test]
async fn read_log_stream_expired_session_is_an_error() {
    let server = server().await;
    log_stream("/gone", "t=1")
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let err = read_log_stream(
        &client(&server),
        &format!("{}/gone?t=1", server.uri()),
        |_| true,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert!(err.hint().unwrap().contains("expired"));
}

// ---------------------------------------------------------------------------------------------
// Add-ons and attachments.

#[tokio::test]
async fn addons_list_and_one() {
    let server = server().await;
    call("GET", "/apps/tmi-server/addons")
        .and(header_is("accept-expansion", "addon_service,plan"))
        .respond_with(json(200, fixture("addons.json")))
        .expect(1)
        .mount(&server)
        .await;
    call("GET", "/apps/tmi-server/addons/postgresql-created-10003")
        .and(header_is("accept-expansion", "addon_service,plan"))
        .respond_with(json(200, fixture("addon-provisioned.json")))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let addons = api.addons(APP).await.unwrap();
    assert_eq!(addons.len(), 2);
    assert_eq!(addons[0].id.as_str(), PRIMARY);
    assert_eq!(
        addons[0].config_vars,
        ["DATABASE_URL", "HEROKU_POSTGRESQL_COBALT_URL"]
    );
    assert_eq!(addons[1].id.as_str(), SECONDARY);
    assert_eq!(addons[1].plan.name, "heroku-postgresql:essential-0");
    assert_eq!(
        addons[1].addon_service.as_ref().unwrap().name,
        "heroku-postgresql"
    );
    let one = api.addon(APP, "postgresql-created-10003").await.unwrap();
    assert_eq!(one.state, "provisioned");
    assert_eq!(one.app.id.as_str(), APP_ID);
}

fn addon_create_headers(builder: wiremock::MockBuilder) -> wiremock::MockBuilder {
    builder
        .and(header_is("accept-expansion", "plan"))
        .and(header_is("x-heroku-legacy-provider-messages", "true"))
}

#[tokio::test]
async fn create_addon_with_the_plan_only() {
    let server = server().await;
    addon_create_headers(call_json(
        "POST",
        "/apps/tmi-server/addons",
        json!({ "attachment": {}, "config": {}, "plan": { "name": "heroku-postgresql:essential-0" } }),
    ))
    .respond_with(json(201, fixture("addon-created.json")))
    .expect(1)
    .mount(&server)
    .await;
    let addon = client(&server)
        .create_addon(
            APP,
            &AddonCreate {
                plan: "heroku-postgresql:essential-0".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(addon.id.as_str(), CREATED_ADDON);
    assert_eq!(addon.name, "postgresql-created-10003");
    assert_eq!(addon.state, "provisioning");
    assert_eq!(addon.config_vars, ["HEROKU_POSTGRESQL_GREEN_URL"]);
    assert_eq!(addon.provision_message, None);
}

#[tokio::test]
async fn create_addon_with_every_option() {
    let server = server().await;
    addon_create_headers(call_json(
        "POST",
        "/apps/tmi-server/addons",
        json!({
            "attachment": { "name": "NEWDB" },
            "config": { "version": "16", "fork": "x" },
            "confirm": "tmi-server",
            "name": "tmi-db-2",
            "plan": { "name": "heroku-postgresql:essential-0" },
        }),
    ))
    .respond_with(json(
        201,
        with(
            fixture("addon-created.json"),
            "provision_message",
            json!("Database has been created"),
        ),
    ))
    .expect(1)
    .mount(&server)
    .await;
    let addon = client(&server)
        .create_addon(
            APP,
            &AddonCreate {
                plan: "heroku-postgresql:essential-0".into(),
                attachment_name: Some("NEWDB".into()),
                config: BTreeMap::from([
                    ("version".to_string(), "16".to_string()),
                    ("fork".to_string(), "x".to_string()),
                ]),
                name: Some("tmi-db-2".into()),
                confirm: Some(APP.into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        addon.provision_message.as_deref(),
        Some("Database has been created")
    );
}

#[tokio::test]
async fn destroy_addon_sends_no_body() {
    let server = server().await;
    call("DELETE", &format!("/apps/{APP_ID}/addons/{CREATED_ADDON}"))
        .and(header_is("accept-expansion", "plan"))
        .respond_with(json(200, fixture("addon-deprovisioning.json")))
        .expect(1)
        .mount(&server)
        .await;
    let addon = client(&server)
        .destroy_addon(APP_ID, CREATED_ADDON)
        .await
        .unwrap();
    assert_eq!(addon.state, "deprovisioning");
}

#[tokio::test]
async fn resolve_addon_with_and_without_app() {
    let server = server().await;
    let found = json!([fixture("addon-provisioned.json")]);
    call_json(
        "POST",
        "/actions/addons/resolve",
        json!({ "addon": "postgresql-created-10003", "app": "tmi-server" }),
    )
    .and(header_is("accept-expansion", "addon_service,plan"))
    .respond_with(json(200, found.clone()))
    .expect(1)
    .mount(&server)
    .await;
    call_json(
        "POST",
        "/actions/addons/resolve",
        json!({ "addon": "postgresql-created-10003" }),
    )
    .and(header_is("accept-expansion", "addon_service,plan"))
    .respond_with(json(200, found))
    .expect(1)
    .mount(&server)
    .await;
    let api = client(&server);
    let within = api
        .resolve_addon(Some(APP), "postgresql-created-10003")
        .await
        .unwrap();
    assert_eq!(within.len(), 1);
    assert_eq!(within[0].id.as_str(), CREATED_ADDON);
    let anywhere = api
        .resolve_addon(None, "postgresql-created-10003")
        .await
        .unwrap();
    assert_eq!(anywhere[0].app.name, APP);
}

#[tokio::test]
async fn attachments_include_plan_and_config_vars() {
    let server = server().await;
    call("GET", "/apps/tmi-server/addon-attachments")
        .and(header_is("accept-inclusion", "addon:plan,config_vars"))
        .respond_with(json(200, fixture("attachments.json")))
        .expect(1)
        .mount(&server)
        .await;
    let attachments = client(&server).attachments(APP).await.unwrap();
    let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "DATABASE",
            "HEROKU_POSTGRESQL_COBALT",
            "HEROKU_POSTGRESQL_AMBER"
        ]
    );
    assert_eq!(attachments[0].addon.id.as_str(), PRIMARY);
    assert_eq!(
        attachments[2].plan_name(),
        Some("heroku-postgresql:essential-0")
    );
    assert_eq!(
        attachments[2].config_vars.as_deref(),
        Some(&["HEROKU_POSTGRESQL_AMBER_URL".to_string()][..])
    );
    assert_eq!(attachments[1].namespace, None);
}

#[tokio::test]
async fn create_attachment_bodies() {
    let server = server().await;
    let created = fixture("attachment-created.json");
    // The alias promote makes for the old database: no name, an explicit null namespace.
    call_json(
        "POST",
        "/addon-attachments",
        json!({
            "addon": { "name": "postgresql-primary-10001" },
            "app": { "name": "tmi-server" },
            "confirm": "tmi-server",
            "namespace": null,
        }),
    )
    .respond_with(json(201, created.clone()))
    .expect(1)
    .mount(&server)
    .await;
    // The pooler move: a name and a namespace.
    call_json(
        "POST",
        "/addon-attachments",
        json!({
            "addon": { "name": "postgresql-secondary-10002" },
            "app": { "name": "tmi-server" },
            "confirm": "tmi-server",
            "name": "DATABASE_CONNECTION_POOL",
            "namespace": "connection-pooling:default",
        }),
    )
    .respond_with(json(
        201,
        with(
            with(created, "name", json!("DATABASE_CONNECTION_POOL")),
            "namespace",
            json!("connection-pooling:default"),
        ),
    ))
    .expect(1)
    .mount(&server)
    .await;
    let api = client(&server);
    let alias = api
        .create_attachment(&AttachmentCreate {
            addon: "postgresql-primary-10001".into(),
            app: APP.into(),
            confirm: Some(APP.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alias.name, "HEROKU_POSTGRESQL_RED");
    assert_eq!(alias.config_var(), "HEROKU_POSTGRESQL_RED_URL");
    assert_eq!(alias.addon.id.as_str(), PRIMARY);
    let pooler = api
        .create_attachment(&AttachmentCreate {
            addon: "postgresql-secondary-10002".into(),
            app: APP.into(),
            name: Some("DATABASE_CONNECTION_POOL".into()),
            namespace: Some("connection-pooling:default".into()),
            confirm: Some(APP.into()),
        })
        .await
        .unwrap();
    assert_eq!(
        pooler.namespace.as_deref(),
        Some("connection-pooling:default")
    );
}

#[tokio::test]
async fn resolve_attachment() {
    let server = server().await;
    call_json(
        "POST",
        "/actions/addon-attachments/resolve",
        json!({ "addon_attachment": "DATABASE_URL", "app": "tmi-server" }),
    )
    .and(header_is("accept-inclusion", "addon:plan,config_vars"))
    .respond_with(json(200, fixture("resolve-database.json")))
    .expect(1)
    .mount(&server)
    .await;
    let found = client(&server)
        .resolve_attachment(APP, "DATABASE_URL")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "DATABASE");
    assert_eq!(found[0].addon.name, "postgresql-primary-10001");
    assert_eq!(found[0].addon.app.name, APP);
}
