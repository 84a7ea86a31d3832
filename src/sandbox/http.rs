//! The HTTP side: listeners, one request's way through the sandbox (recording, the token,
//! injected faults, the rate limit, routing), Heroku-shaped errors and `Range` pagination.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::{Inner, control, data, platform};

pub(crate) type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;
pub(crate) type Response = hyper::Response<Body>;

/// The largest request body accepted.
const MAX_BODY: usize = 16 << 20;

/// Which address a request came in on: the official CLI sends data-API calls to a second
/// loopback address on the same port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Listener {
    Api,
    Data,
}

/// One request, read in full.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub listener: Listener,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body; an absent body is an empty object, as Heroku treats it.
    pub fn json(&self) -> Result<Value, Failure> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| Failure::bad_request(format!("Request body is not valid JSON: {e}")))
    }

    fn header_list_has(&self, name: &str, item: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|part| part.trim() == item))
    }

    /// `Accept-Inclusion: addon:plan,config_vars`.
    pub fn includes(&self, item: &str) -> bool {
        self.header_list_has("accept-inclusion", item)
    }

    /// `Accept-Expansion: addon_service,plan`.
    pub fn expands(&self, item: &str) -> bool {
        self.header_list_has("accept-expansion", item)
    }
}

/// An error answer in Heroku's shape: `{"id": ..., "message": ...}`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub id: String,
    pub message: String,
}

impl Failure {
    pub fn new(status: StatusCode, id: &str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            id: id.to_string(),
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message)
    }

    pub fn internal(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    pub fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({ "id": self.id, "message": self.message }),
        )
    }
}

pub(crate) type Outcome = Result<Response, Failure>;

/// The id Heroku uses for an error status.
pub(crate) fn error_id(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        402 => "delinquent",
        403 => "forbidden",
        404 => "not_found",
        406 => "not_acceptable",
        409 => "conflict",
        410 => "gone",
        416 => "requested_range_not_satisfiable",
        422 => "invalid_params",
        423 => "locked",
        429 => "rate_limit",
        500..=599 => "service_unavailable",
        _ => "error",
    }
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = hyper::Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

pub(crate) fn ok(value: &Value) -> Outcome {
    Ok(json_response(StatusCode::OK, value))
}

pub(crate) fn created(value: &Value) -> Outcome {
    Ok(json_response(StatusCode::CREATED, value))
}

/// A streamed body fed through a channel; `Sender::closed()` tells when the client has gone.
pub(crate) struct ChannelBody(pub mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

pub(crate) fn channel_body(buffer: usize) -> (mpsc::Sender<Result<Bytes, std::io::Error>>, Body) {
    let (tx, rx) = mpsc::channel(buffer);
    (tx, ChannelBody(rx).boxed())
}

/// Returned to hyper to close the connection without an answer (the `drop` fault).
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

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
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// A parsed `Range` header: `<field> [\]]<first>..<last>[; max=<n>[, order=desc]]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    pub field: String,
    pub first: Option<String>,
    pub exclusive: bool,
    pub last: Option<String>,
    pub max: usize,
    pub desc: bool,
}

/// Heroku's default and largest page sizes.
pub(crate) const PAGE_SIZE: usize = 200;
const MAX_PAGE_SIZE: usize = 1000;

pub(crate) fn parse_range(header: &str, default_field: &str) -> Result<Range, Failure> {
    let bad = || Failure::bad_request(format!("Invalid Range header {header:?}"));
    let header = header.trim();
    let (spec, options) = match header.split_once(';') {
        Some((s, o)) => (s.trim(), o.trim()),
        None => (header, ""),
    };
    let (field, bounds) = match spec.split_once(char::is_whitespace) {
        Some((f, b)) => (f.trim(), b.trim()),
        None if spec.contains("..") => (default_field, spec),
        None => (spec, ".."),
    };
    let (first, last) = bounds.split_once("..").ok_or_else(bad)?;
    let (exclusive, first) = match first.trim().strip_prefix(']') {
        Some(rest) => (true, rest.trim()),
        None => (false, first.trim()),
    };
    let mut range = Range {
        field: field.to_string(),
        first: (!first.is_empty()).then(|| first.to_string()),
        exclusive,
        last: (!last.trim().is_empty()).then(|| last.trim().to_string()),
        max: PAGE_SIZE,
        desc: false,
    };
    for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("max", n)) => {
                range.max = n
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| bad())?
                    .clamp(1, MAX_PAGE_SIZE)
            }
            Some(("order", "desc")) => range.desc = true,
            Some(("order", "asc")) => range.desc = false,
            _ => return Err(bad()),
        }
    }
    Ok(range)
}

fn field_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => value_text(a).cmp(&value_text(b)),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn bound_value(sample: &Value, text: &str) -> Value {
    if sample.is_number() {
        text.parse::<f64>().map(|n| json!(n)).unwrap_or(json!(text))
    } else {
        json!(text)
    }
}

/// Answers a list the way the Platform API pages it: sorted by the `Range` field, at most
/// `max` items, `206` and `Next-Range` when more remain.
pub(crate) fn paginate(req: &Req, mut items: Vec<Value>, default_field: &str) -> Outcome {
    let range = match req.header("range") {
        Some(h) => parse_range(h, default_field)?,
        None => Range {
            field: default_field.to_string(),
            first: None,
            exclusive: false,
            last: None,
            max: PAGE_SIZE,
            desc: false,
        },
    };
    if items.first().is_some_and(|i| i.get(&range.field).is_none()) {
        return Err(Failure::bad_request(format!(
            "Range by {} is not supported here",
            range.field
        )));
    }
    let key = |v: &Value| v.get(&range.field).cloned().unwrap_or(Value::Null);
    items.sort_by(|a, b| field_cmp(&key(a), &key(b)));
    if range.desc {
        items.reverse();
    }
    let sample = items.first().map(key).unwrap_or(Value::Null);
    let before = |v: &Value, bound: &Value| {
        let ord = field_cmp(v, bound);
        if range.desc { ord.is_gt() } else { ord.is_lt() }
    };
    if let Some(first) = &range.first {
        let bound = bound_value(&sample, first);
        items.retain(|i| {
            let v = key(i);
            !(before(&v, &bound) || (range.exclusive && field_cmp(&v, &bound).is_eq()))
        });
    }
    if let Some(last) = &range.last {
        let bound = bound_value(&sample, last);
        items.retain(|i| {
            let v = key(i);
            before(&v, &bound) || field_cmp(&v, &bound).is_eq()
        });
    }
    let more = items.len() > range.max;
    items.truncate(range.max);
    let order = if range.desc { ", order=desc" } else { "" };
    let mut response = json_response(
        if more {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        },
        &Value::Array(items.clone()),
    );
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let content = format!(
            "{} {}..{}; max={}{order}",
            range.field,
            value_text(&key(first)),
            value_text(&key(last)),
            range.max
        );
        if let Ok(v) = HeaderValue::from_str(&content) {
            response.headers_mut().insert("content-range", v);
        }
        if more {
            let next = format!(
                "{} ]{}..; max={}{order}",
                range.field,
                value_text(&key(last)),
                range.max
            );
            if let Ok(v) = HeaderValue::from_str(&next) {
                response.headers_mut().insert("next-range", v);
            }
        }
    }
    Ok(response)
}

/// The address a client should use for URLs the sandbox hands out (public backup URLs, log
/// streams): the platform listener.
pub(crate) fn public_base(inner: &Inner) -> String {
    format!("http://127.0.0.1:{}", inner.port)
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
    fn ranges_parse() {
        let r = parse_range("version ..; max=5, order=desc", "id").unwrap();
        assert_eq!(
            (r.field.as_str(), r.max, r.desc, r.first, r.last),
            ("version", 5, true, None, None)
        );
        let r = parse_range("id ]abc..; max=200", "id").unwrap();
        assert!(r.exclusive);
        assert_eq!(r.first.as_deref(), Some("abc"));
        assert!(parse_range("id ..; max=x", "id").is_err());
        assert_eq!(parse_range("name ..; max=5000", "id").unwrap().max, 1000);
    }

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
