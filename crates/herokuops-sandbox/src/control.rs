//! The control API for tests (`/__sandbox/...`), and what it controls: the record of requests,
//! injected faults, and the rate-limit budget.
//!
//! - `GET /__sandbox/requests` (`DELETE` clears): every API request with method, path, query,
//!   body and the status answered.
//! - `POST /__sandbox/faults` `{"method": "DELETE", "path": "/apps/*/dynos", "status": 503,
//!   "times": 2}`; instead of (or with) `status`: `"delay_ms": 1500`, or `"drop": true` to close
//!   the connection without an answer. `*` matches within one path segment, `**` across
//!   segments; without `method` any method matches; without `times` the fault stays until
//!   `DELETE /__sandbox/faults`. `"after": N` lets the first N matching requests through
//!   untouched, to reach e.g. the second `PATCH /apps/*` of a run. `"after_handling": true`
//!   carries the request out first and then answers the error (or drops the connection): the
//!   platform acted, the client cannot know. Optional `id`, `message` and `retry_after` shape
//!   the error. `"transfer_error": "MESSAGE"` answers as usual, and the transfer the request
//!   starts (a copy) fails with MESSAGE.
//! - `POST /__sandbox/reset`: back to the fixtures, databases recreated.
//! - `POST /__sandbox/rate-limit` `{"remaining": N}`: set the budget `RateLimit-Remaining`
//!   reports; `GET` reads it with the bucket's shape and how many requests were answered 429.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Inner;
use crate::wire::{DropConnection, Failure, Listener, Outcome, Req, Response, error_id, ok};

const MAX_RECORDS: usize = 20_000;

/// The token bucket behind `RateLimit-Remaining`: `capacity` tokens, refilled continuously at
/// `refill_per_sec`; a request with none left is answered 429.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub capacity: f64,
    pub refill_per_sec: f64,
}

impl Default for RateLimit {
    /// Heroku's: 4500 per token, refilled at 75 a minute.
    fn default() -> Self {
        RateLimit {
            capacity: 4500.0,
            refill_per_sec: 75.0 / 60.0,
        }
    }
}

impl RateLimit {
    /// `N/PERIOD`: a bucket of N refilled N per PERIOD, e.g. `4500/1h` (Heroku's) or `60/10s`.
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        let shape = || format!("{text:?} is not a rate limit such as 60/10s or 4500/1h");
        let (count, period) = text.split_once('/').ok_or_else(shape)?;
        let capacity: u32 = count.trim().parse().map_err(|_| shape())?;
        let period = humantime::parse_duration(period.trim()).map_err(|_| shape())?;
        if capacity == 0 || period.is_zero() {
            return Err(format!(
                "{text:?}: the count and the period must be above zero"
            ));
        }
        Ok(RateLimit {
            capacity: f64::from(capacity),
            refill_per_sec: f64::from(capacity) / period.as_secs_f64(),
        })
    }
}

pub(crate) struct ControlState {
    requests: VecDeque<Record>,
    next_seq: u64,
    faults: Vec<Fault>,
    next_fault: u64,
    rate: RateLimit,
    rate_remaining: f64,
    rate_at: Instant,
    /// Requests answered 429 by the bucket (not by injected faults).
    rate_limited: u64,
}

impl ControlState {
    pub fn new(rate: RateLimit) -> ControlState {
        ControlState {
            requests: VecDeque::new(),
            next_seq: 1,
            faults: Vec::new(),
            next_fault: 1,
            rate,
            rate_remaining: rate.capacity,
            rate_at: Instant::now(),
            rate_limited: 0,
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let gained = now.duration_since(self.rate_at).as_secs_f64() * self.rate.refill_per_sec;
        self.rate_remaining = (self.rate_remaining + gained).min(self.rate.capacity);
        self.rate_at = now;
    }

    /// Forgets requests and faults (a reset).
    pub fn clear(&mut self) {
        self.requests.clear();
        self.faults.clear();
    }
}

/// One recorded request.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    pub seq: u64,
    pub listener: Listener,
    pub method: String,
    pub path: String,
    pub query: serde_json::Map<String, Value>,
    pub body: Value,
    /// The status answered; `null` while in flight or when the connection was dropped.
    pub status: Option<u16>,
    pub dropped: bool,
}

/// An injected fault, as posted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fault {
    #[serde(default, rename = "fault_id")]
    pub fault_id: u64,
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub drop: bool,
    /// How many more requests it applies to; `None` is every one.
    #[serde(default)]
    pub times: Option<u32>,
    /// How many more matching requests pass untouched before it applies.
    #[serde(default)]
    pub after: u32,
    /// The request is carried out, and only its answer replaced.
    #[serde(default)]
    pub after_handling: bool,
    /// The error `id` (default: Heroku's id for the status).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Seconds, sent as `Retry-After`.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// The request is carried out and answered as usual, but the transfer it starts (a copy)
    /// fails with this message: a fault on Heroku's side while the transfer runs.
    #[serde(default)]
    pub transfer_error: Option<String>,
    /// Requests it has applied to so far.
    #[serde(default)]
    pub hits: u32,
}

impl Fault {
    fn matches(&self, req: &Req) -> bool {
        self.times != Some(0)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m == "*" || m.eq_ignore_ascii_case(req.method.as_str()))
            && glob_match(&self.path, &req.path)
    }
}

/// `*` matches any run of characters within one path segment, `**` any run at all.
pub(crate) fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=s.len()).any(|i| go(rest, &s[i..])),
            [b'*', rest @ ..] => {
                let limit = s.iter().position(|c| *c == b'/').unwrap_or(s.len());
                (0..=limit).any(|i| go(rest, &s[i..]))
            }
            [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

pub(crate) fn record(inner: &Inner, req: &Req, shown_path: &str) -> u64 {
    let body = if req.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&req.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into_owned()))
    };
    let query = req
        .query
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut control = inner.control();
    let seq = control.next_seq;
    control.next_seq += 1;
    control.requests.push_back(Record {
        seq,
        listener: req.listener,
        method: req.method.to_string(),
        path: shown_path.to_string(),
        query,
        body,
        status: None,
        dropped: false,
    });
    while control.requests.len() > MAX_RECORDS {
        control.requests.pop_front();
    }
    seq
}

pub(crate) fn record_status(inner: &Inner, seq: u64, status: u16) {
    let mut control = inner.control();
    if let Some(r) = control.requests.iter_mut().rev().find(|r| r.seq == seq) {
        r.status = Some(status);
    }
}

/// Applies the first matching fault: waits its delay, then drops the connection, answers its
/// error, or lets the request through (`Ok(None)`).
pub(crate) async fn fault_response(
    inner: &Inner,
    req: &Req,
    seq: u64,
) -> Result<Option<Response>, DropConnection> {
    match take_fault(inner, req, false) {
        Some(fault) => apply_fault(inner, req, seq, fault).await,
        None => Ok(None),
    }
}

/// The answer of a request that was carried out, unless an `after_handling` fault replaces it.
pub(crate) async fn answer_after_handling(
    inner: &Inner,
    req: &Req,
    seq: u64,
    response: Response,
) -> Result<Response, DropConnection> {
    match take_fault(inner, req, true) {
        Some(fault) => Ok(apply_fault(inner, req, seq, fault)
            .await?
            .unwrap_or(response)),
        None => Ok(response),
    }
}

/// The first fault of the kind that applies to `req`, counted as applied.
fn take_fault(inner: &Inner, req: &Req, after_handling: bool) -> Option<Fault> {
    let mut control = inner.control();
    let fault = control.faults.iter_mut().find(|f| {
        f.after_handling == after_handling && f.transfer_error.is_none() && f.matches(req)
    })?;
    if fault.after > 0 {
        fault.after -= 1;
        return None;
    }
    fault.hits += 1;
    if let Some(times) = fault.times.as_mut() {
        *times -= 1;
    }
    Some(fault.clone())
}

/// The error a matching `transfer_error` fault gives the transfer `req` starts, counted as
/// applied.
pub(crate) fn take_transfer_error(inner: &Inner, req: &Req) -> Option<String> {
    let mut control = inner.control();
    let fault = control
        .faults
        .iter_mut()
        .find(|f| f.transfer_error.is_some() && f.matches(req))?;
    if fault.after > 0 {
        fault.after -= 1;
        return None;
    }
    fault.hits += 1;
    if let Some(times) = fault.times.as_mut() {
        *times -= 1;
    }
    fault.transfer_error.clone()
}

async fn apply_fault(
    inner: &Inner,
    req: &Req,
    seq: u64,
    fault: Fault,
) -> Result<Option<Response>, DropConnection> {
    if let Some(ms) = fault.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fault.drop {
        let mut control = inner.control();
        if let Some(r) = control.requests.iter_mut().rev().find(|r| r.seq == seq) {
            r.dropped = true;
        }
        return Err(DropConnection);
    }
    let Some(status) = fault.status else {
        return Ok(None);
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = Failure::new(
        status,
        fault.id.as_deref().unwrap_or(error_id(status.as_u16())),
        fault
            .message
            .clone()
            .unwrap_or_else(|| format!("Injected fault: {} {}", req.method, req.path)),
    )
    .into_response();
    if let Some(seconds) = fault.retry_after
        && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert("retry-after", v);
    }
    Ok(Some(response))
}

/// Spends one token of the budget, or answers 429 when none is left. Reading the rate limit is
/// free, as on Heroku.
pub(crate) fn take_rate_token(inner: &Inner, req: &Req) -> Option<Response> {
    if req.path == "/account/rate-limits" {
        return None;
    }
    let mut control = inner.control();
    control.refill();
    if control.rate_remaining >= 1.0 {
        control.rate_remaining -= 1.0;
        return None;
    }
    let wait = ((1.0 - control.rate_remaining) / control.rate.refill_per_sec).ceil() as u64;
    control.rate_limited += 1;
    drop(control);
    let mut response = Failure::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit",
        "Your account reached the API rate limit. Please wait a few minutes before making new requests.",
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&wait.max(1).to_string()) {
        response.headers_mut().insert("retry-after", v);
    }
    Some(response)
}

pub(crate) fn rate_remaining(inner: &Inner) -> u64 {
    let mut control = inner.control();
    control.refill();
    control.rate_remaining.floor().max(0.0) as u64
}

/// `/__sandbox/...` (the token was checked by the caller).
pub(crate) async fn route(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let path = req.path.trim_end_matches('/');
    match (&req.method, path) {
        (&Method::GET, "/__sandbox/requests") => {
            let control = inner.control();
            let since: u64 = req.query("since").and_then(|s| s.parse().ok()).unwrap_or(0);
            let list: Vec<&Record> = control.requests.iter().filter(|r| r.seq > since).collect();
            ok(&json!(list))
        }
        (&Method::DELETE, "/__sandbox/requests") => {
            inner.control().requests.clear();
            ok(&json!({}))
        }
        (&Method::GET, "/__sandbox/faults") => ok(&json!(inner.control().faults)),
        (&Method::POST, "/__sandbox/faults") => {
            let mut fault: Fault = serde_json::from_slice(&req.body)
                .map_err(|e| Failure::bad_request(format!("Invalid fault: {e}")))?;
            if !fault.path.starts_with('/') {
                return Err(Failure::invalid("path must start with /"));
            }
            let answers = fault.status.is_some() || fault.delay_ms.is_some() || fault.drop;
            if answers == fault.transfer_error.is_some() {
                return Err(Failure::invalid(
                    "a fault needs one of status, delay_ms or drop, or else transfer_error alone",
                ));
            }
            if fault.status.is_some_and(|s| !(400..=599).contains(&s)) {
                return Err(Failure::invalid("status must be 400-599"));
            }
            let mut control = inner.control();
            fault.fault_id = control.next_fault;
            fault.hits = 0;
            control.next_fault += 1;
            control.faults.push(fault.clone());
            crate::wire::created(&json!(fault))
        }
        (&Method::DELETE, "/__sandbox/faults") => {
            let mut control = inner.control();
            let removed = control.faults.len();
            control.faults.clear();
            ok(&json!({ "removed": removed }))
        }
        (&Method::POST, "/__sandbox/reset") => {
            super::reset(inner)
                .await
                .map_err(|e| Failure::internal(format!("reset failed: {e}")))?;
            ok(&json!({ "reset": true }))
        }
        (&Method::GET, "/__sandbox/rate-limit") => {
            let mut control = inner.control();
            control.refill();
            ok(&json!({
                "remaining": control.rate_remaining.floor().max(0.0) as u64,
                "capacity": control.rate.capacity,
                "refill_per_sec": control.rate.refill_per_sec,
                "limited": control.rate_limited,
            }))
        }
        (&Method::POST, "/__sandbox/rate-limit") => {
            let body = req.json()?;
            let remaining = body["remaining"]
                .as_u64()
                .ok_or_else(|| Failure::invalid("remaining must be a number"))?;
            let mut control = inner.control();
            control.rate_remaining = (remaining as f64).min(control.rate.capacity);
            control.rate_at = Instant::now();
            ok(&json!({ "remaining": remaining }))
        }
        _ => Err(Failure::not_found(format!(
            "No control route {} {}",
            req.method, req.path
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::{RateLimit, glob_match};

    #[test]
    fn rate_limits_parse_as_count_per_period() {
        assert_eq!(RateLimit::parse("4500/1h").unwrap(), RateLimit::default());
        let r = RateLimit::parse("60/10s").unwrap();
        assert_eq!((r.capacity, r.refill_per_sec), (60.0, 6.0));
        for bad in ["60", "0/1s", "60/0s", "x/1s", "60/soon"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("/apps/*/dynos", "/apps/tmi-server/dynos"));
        assert!(!glob_match("/apps/*/dynos", "/apps/tmi-server/dynos/web.1"));
        assert!(!glob_match("/apps/*/dynos", "/apps/a/b/dynos"));
        assert!(glob_match("/apps/**", "/apps/a/b/dynos"));
        assert!(glob_match(
            "/client/v11/databases/*/wait_status",
            "/client/v11/databases/x/wait_status"
        ));
        assert!(glob_match("/apps/tmi-server", "/apps/tmi-server"));
        assert!(!glob_match("/apps/tmi-server", "/apps/tmi-server/dynos"));
    }
}
