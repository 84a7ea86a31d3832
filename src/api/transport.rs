//! Sending one logical request: headers, the rate-limit pause, bounded retries with backoff,
//! `Retry-After`, error decoding and `Next-Range` pagination.

use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use reqwest::header::HeaderMap;
#[cfg(test)]
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::{ApiClient, ApiError, HttpFailure};
use crate::output::sanitize::one_line;

const ACCEPT_V3: &str = "application/vnd.heroku+json; version=3";
/// A page-following loop stops here even if the server keeps sending `Next-Range`.
const MAX_PAGES: usize = 1000;
/// The largest answer read: Heroku's pages are 1,000 items of a few KiB at most.
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// The most a list may add up to over all its pages before it is refused rather than held.
pub const MAX_LIST_BYTES: usize = 64 * 1024 * 1024;

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Platform,
    Data,
}

/// How often and how long to retry. Every loop is bounded by `max_retries`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` we honour; longer ones are cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The pauses before each retry of one request: doubling from `base_delay` up to
    /// `max_delay`, `max_retries` of them. Each is drawn from the upper half of its step (backon
    /// adds up to one step to half of it), which keeps concurrent clients from retrying in step.
    fn delays(&self) -> backon::ExponentialBackoff {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.base_delay / 2)
            .with_max_delay(self.max_delay / 2)
            .with_factor(2.0)
            .with_max_times(self.max_retries as usize)
            .with_jitter()
            .build()
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    None,
    Json(serde_json::Value),
}

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Safe to repeat: reads, and writes whose repetition changes nothing more.
    Idempotent,
    /// Creates something: repeated only when Heroku certainly did not act (429).
    RateLimitOnly,
}

/// One request under construction.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    host: Host,
    path: String,
    body: Body,
    headers: Vec<(&'static str, String)>,
    retry: Retry,
    subject: Option<String>,
    range: Option<String>,
    query: Vec<(&'static str, String)>,
}

impl Request {
    pub fn new(method: Method, host: Host, path: impl Into<String>) -> Self {
        let retry = if method == Method::POST {
            Retry::RateLimitOnly
        } else {
            Retry::Idempotent
        };
        Request {
            method,
            host,
            path: path.into(),
            body: Body::None,
            headers: Vec::new(),
            retry,
            subject: None,
            range: None,
            query: Vec::new(),
        }
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// Marks a POST that only reads (e.g. the resolve actions) as safe to retry.
    pub fn idempotent(mut self) -> Self {
        self.retry = Retry::Idempotent;
        self
    }

    /// Names what the request is about, for error messages (`app tmi-server`).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn range(mut self, range: impl Into<String>) -> Self {
        self.range = Some(range.into());
        self
    }

    /// The request as a plan shows it: `PATCH /apps/tmi-server {"maintenance":true}`. Built
    /// from the very value that would be sent, so a plan cannot drift from what the client
    /// does; the query of a URL in the body (a signature) is left out.
    pub fn describe(&self) -> String {
        let path = percent_encoding::percent_decode_str(&self.path).decode_utf8_lossy();
        let mut text = format!("{} {path}", self.method);
        for (i, (name, value)) in self.query.iter().enumerate() {
            text.push(if i == 0 { '?' } else { '&' });
            text.push_str(&format!("{name}={value}"));
        }
        if let Body::Json(body) = &self.body {
            text.push(' ');
            text.push_str(&without_url_queries(body).to_string());
        }
        text
    }
}

/// A JSON value with every URL's query string cut off (signed URLs carry their secret there).
fn without_url_queries(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => match url::Url::parse(text) {
            Ok(mut url) if url.query().is_some() => {
                url.set_query(None);
                Value::String(format!("{url}?…"))
            }
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(without_url_queries).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), without_url_queries(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A successful answer.
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl ApiClient {
    fn url_for(&self, req: &Request) -> Result<url::Url, ApiError> {
        let base = match req.host {
            Host::Platform => &self.endpoints.platform,
            Host::Data => &self.endpoints.data,
        };
        let mut url =
            base.join(req.path.trim_start_matches('/'))
                .map_err(|e| ApiError::Decode {
                    method: req.method.to_string(),
                    path: req.path.clone(),
                    detail: format!("bad path: {e}"),
                })?;
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    fn host_label(&self, req: &Request) -> String {
        let base = match req.host {
            Host::Platform => &self.endpoints.platform,
            Host::Data => &self.endpoints.data,
        };
        base.host_str().unwrap_or("?").to_string()
    }

    /// Sends the request, retrying as its kind allows; returns the first 2xx answer.
    pub(crate) async fn execute(
        &self,
        req: &Request,
        range: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let url = self.url_for(req)?;
        let mut delays = self.retry.delays();
        // Whether a deadline has passed once already: a second time is the answer.
        let mut timed_out = false;
        loop {
            let failure = match self.attempt(req, &url, range).await {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            let Some(pause) = self.pause_before_retry(req, &failure, &mut delays, &mut timed_out)
            else {
                return Err(failure.into_error());
            };
            tracing::debug!("  {}, retrying in {pause:?}", failure.reason());
            match failure {
                // The next reservation waits out the hold, with every other user of the budget.
                Failure::Status { status: 429, .. } => self.budget.hold(pause),
                _ => tokio::time::sleep(pause).await,
            }
        }
    }

    /// How long to wait before the request is tried again, or `None` when the failure is the
    /// answer: a read may be repeated; a write may have been acted on, so only a refused
    /// connection or a rate limit sends it again, and otherwise its step decides.
    fn pause_before_retry(
        &self,
        req: &Request,
        failure: &Failure,
        delays: &mut impl Iterator<Item = Duration>,
        timed_out: &mut bool,
    ) -> Option<Duration> {
        let idempotent = req.retry == Retry::Idempotent;
        let retryable = match failure {
            // A server that hangs once may answer the next time; not twice.
            Failure::TimedOut(_) => idempotent && !*timed_out,
            Failure::Unsent { connect, .. } => {
                idempotent || *connect && req.retry == Retry::RateLimitOnly
            }
            Failure::BodyBroke(_) => idempotent,
            Failure::Status { status, .. } => {
                *status == 429 || (500..=599).contains(status) && idempotent
            }
            Failure::Final(_) => false,
        };
        let backoff = delays.next().filter(|_| retryable)?;
        if let Failure::TimedOut(_) = failure {
            *timed_out = true;
        }
        Some(match failure {
            Failure::Status { headers, .. } => retry_after(headers)
                .map(|d| d.min(self.retry.max_retry_after))
                .unwrap_or(backoff),
            _ => backoff,
        })
    }

    /// One try: the rate budget, the request, its headers within their deadline, its body.
    async fn attempt(
        &self,
        req: &Request,
        url: &url::Url,
        range: Option<&str>,
    ) -> Result<Answer, Failure> {
        let waiting = Instant::now();
        let sending = self.budget.acquire().await;
        if waiting.elapsed() >= Duration::from_millis(5) {
            tracing::debug!(
                "rate limit low ({:?} left): waited {:?}",
                self.budget.remaining(),
                waiting.elapsed()
            );
        }
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let builder = self
            .request_builder(req, url, range, &request_id)
            .map_err(Failure::Final)?;
        tracing::debug!("→ {} {} [{}]", req.method, req.path, request_id);
        let response = self.headers_of(req, builder).await?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(remaining) =
            header_str(&headers, "ratelimit-remaining").and_then(|v| v.trim().parse::<i64>().ok())
        {
            self.budget.observe(remaining);
        }
        drop(sending);
        tracing::debug!(
            "← {} {} in {:?} [{}]",
            status.as_u16(),
            req.path,
            started.elapsed(),
            header_str(&headers, "request-id").unwrap_or("-")
        );
        let body = self.body_of(req, response, status).await?;
        if status.is_success() {
            return Ok(Answer { headers, body });
        }
        let error = ApiError::Http(Box::new(decode_failure(req, status, &headers, &body)));
        Err(Failure::Status {
            status: status.as_u16(),
            headers,
            error,
        })
    }

    fn request_builder(
        &self,
        req: &Request,
        url: &url::Url,
        range: Option<&str>,
        request_id: &str,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let mut builder = self
            .http
            .for_url(url)?
            .request(req.method.clone(), url.clone())
            .header("Accept", ACCEPT_V3)
            .header("User-Agent", &self.user_agent)
            .header("Request-Id", request_id);
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token.expose());
        }
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if let Some(range) = range.or(req.range.as_deref()) {
            builder = builder.header("Range", range);
        }
        if let Body::Json(body) = &req.body {
            builder = builder
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        Ok(builder)
    }

    fn timed_out(&self, req: &Request, phase: &'static str, after: Duration) -> Failure {
        Failure::TimedOut(ApiError::Timeout {
            method: req.method.to_string(),
            host: self.host_label(req),
            path: req.path.clone(),
            phase,
            after,
        })
    }

    /// Sends the request and waits for the answer's headers within their deadline; the
    /// client's idle deadline (`read_timeout`) may be what ends the wait.
    async fn headers_of(
        &self,
        req: &Request,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Failure> {
        let waited = tokio::time::timeout(self.timeouts.headers, builder.send()).await;
        match waited {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) if !err.is_timeout() => Err(Failure::Unsent {
                connect: err.is_connect(),
                error: ApiError::Transport {
                    method: req.method.to_string(),
                    host: self.host_label(req),
                    path: req.path.clone(),
                    source: err.without_url(),
                },
            }),
            Ok(Err(_)) | Err(_) => {
                let after = self.timeouts.headers.min(self.timeouts.idle);
                Err(self.timed_out(req, "waiting for the answer's headers", after))
            }
        }
    }

    /// The whole body within its deadline and size limit.
    async fn body_of(
        &self,
        req: &Request,
        response: reqwest::Response,
        status: StatusCode,
    ) -> Result<bytes::Bytes, Failure> {
        let read = tokio::time::timeout(self.timeouts.body, read_body(response, MAX_BODY)).await;
        match read {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(BodyRead::Broken(err))) if !err.is_timeout() => {
                Err(Failure::BodyBroke(ApiError::Body {
                    method: req.method.to_string(),
                    path: req.path.clone(),
                    status: status.as_u16(),
                    source: err.without_url(),
                }))
            }
            Ok(Err(BodyRead::TooLarge)) => Err(Failure::Final(ApiError::Decode {
                method: req.method.to_string(),
                path: req.path.clone(),
                detail: format!(
                    "the answer is larger than {}; stopped reading it",
                    crate::output::progress::human_bytes(MAX_BODY as u64)
                ),
            })),
            Ok(Err(BodyRead::Broken(_))) | Err(_) => {
                Err(self.timed_out(req, "reading the answer", self.timeouts.body))
            }
        }
    }

    /// Sends a request and decodes a JSON answer.
    pub async fn send<T: DeserializeOwned>(&self, req: Request) -> Result<T, ApiError> {
        let answer = self.execute(&req, None).await?;
        decode(&req, &answer.body)
    }

    /// Sends a request whose answer body is not needed.
    pub async fn send_empty(&self, req: Request) -> Result<(), ApiError> {
        self.execute(&req, None).await.map(|_| ())
    }

    /// Sends a list request and follows `Next-Range` until the list is complete.
    pub async fn send_list<T: DeserializeOwned>(&self, req: Request) -> Result<Vec<T>, ApiError> {
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        let mut read = 0usize;
        for _ in 0..MAX_PAGES {
            let answer = self.execute(&req, next.as_deref()).await?;
            read += answer.body.len();
            if read > MAX_LIST_BYTES {
                return Err(ApiError::Decode {
                    method: req.method.to_string(),
                    path: req.path.clone(),
                    detail: format!(
                        "the list is larger than {} over its pages; stopped",
                        crate::output::progress::human_bytes(MAX_LIST_BYTES as u64)
                    ),
                });
            }
            let mut page: Vec<T> = decode(&req, &answer.body)?;
            items.append(&mut page);
            // Heroku marks a truncated list with 206 and Next-Range; the header alone decides.
            let follow = header_str(&answer.headers, "next-range").map(str::to_string);
            match follow {
                Some(range) if !range.trim().is_empty() => next = Some(range),
                _ => return Ok(items),
            }
        }
        Err(ApiError::Decode {
            method: req.method.to_string(),
            path: req.path.clone(),
            detail: format!("more than {MAX_PAGES} pages of Next-Range; stopped"),
        })
    }
}

/// How reading an answer's body ended short.
/// Why one try of a request did not bring a 2xx answer.
enum Failure {
    /// A deadline passed, waiting for the headers or reading the body.
    TimedOut(ApiError),
    /// The request did not go out or got no answer (`connect`: no connection was made).
    Unsent { connect: bool, error: ApiError },
    /// The body broke off after the status arrived.
    BodyBroke(ApiError),
    /// An answer other than 2xx, with its headers (for `Retry-After`).
    Status {
        status: u16,
        headers: HeaderMap,
        error: ApiError,
    },
    /// Nothing a retry could change.
    Final(ApiError),
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::TimedOut(e) => e.to_string(),
            Failure::Unsent { .. } => "connection error".into(),
            Failure::BodyBroke(_) => "the body broke off".into(),
            Failure::Status { status, .. } => format!("HTTP {status}"),
            Failure::Final(e) => e.to_string(),
        }
    }

    fn into_error(self) -> ApiError {
        match self {
            Failure::TimedOut(e)
            | Failure::Unsent { error: e, .. }
            | Failure::BodyBroke(e)
            | Failure::Status { error: e, .. }
            | Failure::Final(e) => e,
        }
    }
}

enum BodyRead {
    Broken(reqwest::Error),
    TooLarge,
}

/// Reads a body of at most `limit` bytes, refusing a larger one as soon as it shows.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyRead> {
    if response.content_length().is_some_and(|l| l > limit as u64) {
        return Err(BodyRead::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyRead::Broken)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyRead::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn decode<T: DeserializeOwned>(req: &Request, body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() {
        b"null".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiError::Decode {
        method: req.method.to_string(),
        path: req.path.clone(),
        detail: e.to_string(),
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After` in seconds (HTTP dates are rare from Heroku and fall back to backoff).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, "retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn decode_failure(
    req: &Request,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> HttpFailure {
    #[derive(serde::Deserialize)]
    struct HerokuError {
        id: Option<String>,
        message: Option<String>,
        url: Option<String>,
    }
    // Everything here is the server's text and ends up on the operator's terminal: one line
    // each, without escape sequences.
    let clean = |text: String| one_line(&text).into_owned();
    let parsed = serde_json::from_slice::<HerokuError>(body)
        .ok()
        .filter(|e| e.id.is_some() || e.message.is_some());
    let (id, message, url, raw_body) = match parsed {
        Some(e) => (
            e.id.map(clean),
            e.message.map(clean),
            e.url.map(clean),
            None,
        ),
        None => {
            let text = one_line(&String::from_utf8_lossy(body)).into_owned();
            let mut raw: String = text.chars().take(300).collect();
            if text.chars().count() > 300 {
                raw.push('…');
            }
            let reason = status.canonical_reason().map(str::to_string);
            (None, reason, None, Some(raw))
        }
    };
    HttpFailure {
        method: req.method.to_string(),
        path: req.path.clone(),
        status: status.as_u16(),
        id,
        message,
        url,
        request_id: header_str(headers, "request-id").map(|r| one_line(r).into_owned()),
        raw_body,
        subject: req.subject.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_in_number_and_length() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            let delays: Vec<Duration> = p.delays().collect();
            assert_eq!(delays.len(), p.max_retries as usize);
            assert!(delays[0] >= p.base_delay / 2 && delays[0] <= p.base_delay);
            assert!(delays.iter().all(|d| *d <= p.max_delay), "{delays:?}");
        }
        // Doubling: the fourth pause is at least four times the base delay.
        let delays: Vec<Duration> = p.delays().collect();
        assert!(delays[3] >= p.base_delay * 4, "{delays:?}");
    }

    #[test]
    fn a_request_describes_itself_without_url_secrets() {
        let req = Request::set_maintenance("tmi-server", true);
        assert_eq!(
            req.describe(),
            r#"PATCH /apps/tmi-server {"maintenance":true}"#
        );
        let restore = Request::restore(
            &"{id}".into(),
            "https://bucket.example.com/b001?X-Amz-Signature=s3cr3t",
            &[],
        );
        let text = restore.describe();
        assert!(
            text.starts_with("POST /client/v11/databases/{id}/restores "),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            Request::transfer("a", "b1", true)
                .describe()
                .ends_with("?verbose=true")
        );
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("1"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(1)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn non_json_error_keeps_status_and_body() {
        let req = Request::new(Method::GET, Host::Platform, "/apps/x");
        let f = decode_failure(
            &req,
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html>bad gateway</html>",
        );
        assert_eq!(f.status, 502);
        assert!(f.raw_body.as_deref().unwrap().contains("bad gateway"));
        assert!(f.to_string().contains("HTTP 502"), "{f}");
    }
}
