//! The server loop: listeners, and one request's way through the sandbox (recording, the token,
//! injected faults, the rate limit, routing to the handlers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

use crate::wire::{DropConnection, Failure, Listener, Outcome, Req, Response, ok};
use crate::{Inner, control, copies, data, platform};

/// The largest request body accepted.
const MAX_BODY: usize = 16 << 20;

/// Accepts connections on one listener until the task is aborted.
pub(crate) async fn serve(inner: Arc<Inner>, listener: TcpListener, kind: Listener) {
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let inner = inner.clone();
        let task = tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let inner = inner.clone();
                async move { handle(inner, kind, req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        drop(task);
    }
}

/// Paths that carry their own secret instead of the API token: backup downloads and log
/// streams, which clients fetch without Heroku credentials.
const STORAGE_PREFIX: &str = "/__sandbox/storage/";
const LOGS_PREFIX: &str = "/__sandbox/logs/";
const CONTROL_PREFIX: &str = "/__sandbox/";

async fn handle(
    inner: Arc<Inner>,
    listener: Listener,
    request: hyper::Request<Incoming>,
) -> Result<Response, DropConnection> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(finish(
                &inner,
                Failure::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "bad_request",
                    "Request body too large or unreadable",
                )
                .into_response(),
            ));
        }
    };
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body,
        listener,
    };
    let shown_path = shown_path(&req.path);

    // Capability URLs: the secret in the path is the authorization.
    if req.path.starts_with(STORAGE_PREFIX) || req.path.starts_with(LOGS_PREFIX) {
        let seq = control::record(&inner, &req, &shown_path);
        let response = match control::fault_response(&inner, &req, seq).await? {
            Some(r) => r,
            None => {
                let outcome = if req.path.starts_with(STORAGE_PREFIX) {
                    data::storage_get(&inner, &req).await
                } else {
                    super::dynos::log_stream(&inner, &req).await
                };
                outcome.unwrap_or_else(Failure::into_response)
            }
        };
        control::record_status(&inner, seq, response.status().as_u16());
        log_line(&req, &shown_path, response.status(), started);
        return Ok(finish(&inner, response));
    }

    if req.path.starts_with(CONTROL_PREFIX) {
        let response = if authorized(&inner, &req) {
            control::route(&inner, &req)
                .await
                .unwrap_or_else(Failure::into_response)
        } else {
            unauthorized()
        };
        log_line(&req, &shown_path, response.status(), started);
        return Ok(finish(&inner, response));
    }

    let seq = control::record(&inner, &req, &shown_path);
    let response = if !authorized(&inner, &req) {
        unauthorized()
    } else if let Some(faulted) = control::fault_response(&inner, &req, seq).await? {
        faulted
    } else if let Some(limited) = control::take_rate_token(&inner, &req) {
        limited
    } else if let Some(refused) = check_accept(&req) {
        refused
    } else {
        let response = route(&inner, &req)
            .await
            .unwrap_or_else(Failure::into_response);
        control::answer_after_handling(&inner, &req, seq, response).await?
    };
    control::record_status(&inner, seq, response.status().as_u16());
    log_line(&req, &shown_path, response.status(), started);
    Ok(finish(&inner, response))
}

/// Headers every answer carries.
fn finish(inner: &Inner, mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("request-id", id);
    }
    if let Ok(left) = HeaderValue::from_str(&control::rate_remaining(inner).to_string()) {
        headers.insert("ratelimit-remaining", left);
    }
    response
}

fn log_line(req: &Req, shown_path: &str, status: StatusCode, started: Instant) {
    // The query is left out: it never matters for reading the log and may hold anything.
    tracing::info!(
        "{:<4} {} {:<6} {} in {:?}",
        match req.listener {
            Listener::Api => "api",
            Listener::Data => "data",
        },
        status.as_u16(),
        req.method.as_str(),
        shown_path,
        started.elapsed()
    );
}

/// The path as logged and recorded: secrets in capability paths are masked.
fn shown_path(path: &str) -> String {
    for prefix in [STORAGE_PREFIX, LOGS_PREFIX] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let masked: Vec<&str> = rest
                .split('/')
                .enumerate()
                .map(|(i, part)| {
                    if prefix == LOGS_PREFIX || (rest.starts_with("public/") && i == 1) {
                        "********"
                    } else {
                        part
                    }
                })
                .collect();
            return format!("{prefix}{}", masked.join("/"));
        }
    }
    path.to_string()
}

/// The bearer token (or HTTP Basic with the token as password, as heroku-go can send).
fn authorized(inner: &Inner, req: &Req) -> bool {
    let Some(value) = req.header("authorization") else {
        return false;
    };
    let expected = inner.options.token.as_str();
    if let Some(token) = value.strip_prefix("Bearer ") {
        return constant_time_eq(token.trim().as_bytes(), expected.as_bytes());
    }
    if let Some(encoded) = value.strip_prefix("Basic ")
        && let Some(decoded) = base64_decode(encoded.trim())
        && let Some((_, password)) = String::from_utf8_lossy(&decoded).split_once(':')
    {
        return constant_time_eq(password.as_bytes(), expected.as_bytes());
    }
    false
}

fn unauthorized() -> Response {
    Failure::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Invalid credentials provided.",
    )
    .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn base64_decode(input: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in input.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET.iter().position(|a| *a == c)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Platform API media types are `application/vnd.heroku+json; version=3` and its variants
/// (`3.sdk`, `3.run-inside`, ...). Another version is refused as Heroku refuses it.
fn check_accept(req: &Req) -> Option<Response> {
    let accept = req.header("accept")?;
    if !accept.contains("application/vnd.heroku+json") {
        return None;
    }
    let version = accept
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("version="))
        .next()
        .unwrap_or("3");
    if version == "3" || version.starts_with("3.") {
        None
    } else {
        Some(
            Failure::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_acceptable",
                format!("Version {version} of the API is not available; use version=3"),
            )
            .into_response(),
        )
    }
}

/// Path segments, percent-decoded.
fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect()
}

/// Decodes `%XX` escapes; anything malformed is kept as it is.
fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

async fn route(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let segs = segments(&req.path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = &req.method;
    let get = m == Method::GET;
    let post = m == Method::POST;
    let patch = m == Method::PATCH;
    let delete = m == Method::DELETE;
    let put = m == Method::PUT;
    match segs.as_slice() {
        // --- Platform API
        ["account"] if get => platform::account(),
        ["account", "rate-limits"] if get => {
            ok(&json!({ "remaining": control::rate_remaining(inner) }))
        }
        ["apps"] if get => platform::apps_list(inner, req),
        ["apps", app] if get => platform::app_get(inner, app),
        ["apps", app] if patch => platform::app_patch(inner, req, app),
        ["apps", app, "dynos"] if get => platform::dynos_list(inner, req, app),
        ["apps", app, "dynos"] if post => super::dynos::run_one_off(inner, req, app).await,
        ["apps", app, "dynos"] if delete => {
            super::dynos::restart(inner, app, super::dynos::Which::All)
        }
        ["apps", app, "dynos", dyno] if get => platform::dyno_get(inner, app, dyno),
        ["apps", app, "dynos", dyno, "actions", "stop"] if post => {
            super::dynos::stop(inner, app, dyno)
        }
        ["apps", app, "dynos", dyno] if delete => {
            super::dynos::restart(inner, app, super::dynos::Which::Dyno(dyno.to_string()))
        }
        ["apps", app, "formations", kind] | ["apps", app, "formation", kind] if delete => {
            super::dynos::restart(inner, app, super::dynos::Which::Type(kind.to_string()))
        }
        ["apps", app, "formation"] if get => platform::formation_list(inner, req, app),
        ["apps", app, "formation", kind] if get => platform::formation_get(inner, app, kind),
        ["apps", app, "log-sessions"] if post => super::dynos::create_log_session(inner, req, app),
        ["apps", app, "config-vars"] if get => platform::config_get(inner, app),
        ["apps", app, "config-vars"] if patch => platform::config_patch(inner, req, app),
        ["apps", app, "releases"] if get => platform::releases_list(inner, req, app),
        ["apps", app, "releases", id] if get => platform::release_get(inner, app, id),
        ["apps", app, "releases", id, "config-vars"] if get => {
            platform::release_config(inner, app, id)
        }
        ["apps", app, "addons"] if get => platform::addons_list(inner, req, Some(app)),
        ["addons"] if get => platform::addons_list(inner, req, None),
        ["apps", app, "addons"] if post => platform::addon_create(inner, req, app).await,
        ["apps", app, "addons", addon] if get => platform::addon_get(inner, req, Some(app), addon),
        ["addons", addon] if get => platform::addon_get(inner, req, None, addon),
        ["apps", app, "addons", addon] if delete => {
            platform::addon_destroy(inner, req, Some(app), addon).await
        }
        ["addons", addon] if delete => platform::addon_destroy(inner, req, None, addon).await,
        ["apps", app, "addon-attachments"] if get => platform::attachments_list(inner, req, app),
        ["apps", app, "addon-attachments", att] if get => {
            platform::attachment_get(inner, req, Some(app), att)
        }
        ["addon-attachments", att] if get => platform::attachment_get(inner, req, None, att),
        ["addons", addon, "addon-attachments"] if get => {
            platform::addon_attachments(inner, req, addon)
        }
        ["addon-attachments"] if get => platform::all_attachments(inner, req),
        ["addon-attachments"] if post => platform::attachment_create(inner, req),
        ["addon-attachments", att] if delete => platform::attachment_delete(inner, att),
        ["actions", "addon-attachments", "resolve"] if post => {
            platform::resolve_attachment(inner, req)
        }
        ["actions", "addons", "resolve"] if post => platform::resolve_addon(inner, req),

        // --- Postgres data API
        ["client", "v11", "databases", db] if get => data::database_info(inner, db).await,
        ["client", "v11", "databases", db, "wait_status"] if get => data::wait_status(inner, db),
        ["client", "v11", "databases", db, "backups"] if post => data::capture(inner, db).await,
        ["client", "v11", "databases", db, "restores"] if post => {
            data::restore(inner, req, db).await
        }
        ["client", "v11", "databases", db, "reset"] if put => data::reset(inner, req, db).await,
        ["client", "v11", "databases", db, "transfers"] if post => {
            copies::copy(inner, req, db).await
        }
        ["postgres", "v0", "databases", addon, "credentials"] if get => {
            copies::credentials(inner, addon)
        }
        ["client", "v11", "databases", db, "transfer-schedules"] if get => {
            data::schedules_list(inner, db)
        }
        ["client", "v11", "databases", db, "transfer-schedules"] if post => {
            data::schedule_create(inner, req, db)
        }
        ["client", "v11", "databases", db, "transfer-schedules", id] if delete => {
            data::schedule_delete(inner, db, id)
        }
        ["client", "v11", "apps", app, "transfers"] if get => data::transfers_list(inner, app),
        ["client", "v11", "apps", app, "transfers", id] if get => {
            data::transfer_get(inner, req, app, id).await
        }
        ["client", "v11", "apps", app, "transfers", id] if delete => {
            data::transfer_delete(inner, app, id)
        }
        [
            "client",
            "v11",
            "apps",
            app,
            "transfers",
            id,
            "actions",
            "public-url",
        ] if post => data::public_url(inner, app, id),
        [
            "client",
            "v11",
            "apps",
            app,
            "transfers",
            id,
            "actions",
            "cancel",
        ] if post => data::cancel(inner, app, id),
        _ => Err(Failure::not_found(format!(
            "The sandbox has no route for {} {}",
            req.method, req.path
        ))),
    }
}

pub(crate) fn local_addrs(port: u16) -> [SocketAddr; 2] {
    [
        SocketAddr::from(([127, 0, 0, 1], port)),
        SocketAddr::from(([127, 0, 0, 2], port)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_paths_are_masked() {
        assert_eq!(
            shown_path("/__sandbox/storage/public/s3cr3t/b001.dump"),
            "/__sandbox/storage/public/********/b001.dump"
        );
        assert_eq!(
            shown_path("/__sandbox/logs/abc"),
            "/__sandbox/logs/********"
        );
        assert_eq!(shown_path("/apps/x"), "/apps/x");
    }

    #[test]
    fn basic_auth_decodes() {
        assert_eq!(base64_decode("OnRva2Vu").unwrap(), b":token");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }

    #[test]
    fn segments_are_decoded() {
        assert_eq!(
            segments("/apps/tmi-server/dynos/web.1"),
            ["apps", "tmi-server", "dynos", "web.1"]
        );
        assert_eq!(segments("/apps/a%20b"), ["apps", "a b"]);
        assert_eq!(segments("/x/a%2Fb/100%"), ["x", "a/b", "100%"]);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
