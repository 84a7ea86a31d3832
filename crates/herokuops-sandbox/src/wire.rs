//! The wire types every handler shares with the server loop: one request read in full, an error
//! in Heroku's shape, the response helpers, and streamed bodies. The server (`http`) and the
//! handlers (`platform`, `data`, `dynos`, `control`) both build on this module and on nothing of
//! each other's but the router.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub(crate) type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;
pub(crate) type Response = hyper::Response<Body>;

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
