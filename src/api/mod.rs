//! One client for Heroku's two HTTP APIs: the Platform API and the Postgres data API.
//!
//! Every call goes through [`ApiClient`], which adds the headers Heroku expects, retries what is
//! safe to retry, follows `Next-Range`, reads `RateLimit-Remaining`, and turns failures into
//! [`ApiError`]. Tests point both base URLs at a mock server.

mod account;
mod addons;
mod apps;
mod data;
mod dynos;
mod error;
pub mod models;
mod tls;
mod transport;

pub use error::{ApiError, HttpFailure};
pub use tls::RootSource;
pub use transport::{Body, Host, MAX_BODY, MAX_LIST_BYTES, Request, RetryPolicy};

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

pub use addons::{AddonCreate, AttachmentCreate};
pub use data::{BackupSchedule, CopySpec, copy_name, normalize_extensions};
pub use dynos::{DynoCreate, LogSessionCreate, RestartTarget};

const DEFAULT_PLATFORM: &str = "https://api.heroku.com/";
const DEFAULT_DATA_HOST: &str = "api.data.heroku.com";

/// A Heroku API token. Never printed: `Debug` shows a placeholder.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(********)")
    }
}

/// Where the two APIs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub platform: Url,
    pub data: Url,
}

impl Endpoints {
    /// Heroku's production hosts.
    pub fn heroku() -> Self {
        Endpoints {
            platform: Url::parse(DEFAULT_PLATFORM).expect("static URL"),
            data: Url::parse(&format!("https://{DEFAULT_DATA_HOST}/")).expect("static URL"),
        }
    }

    /// Both APIs at one base URL, as a local server (the sandbox, a mock) serves them.
    pub fn single(base: &str) -> Result<Self, String> {
        let url = with_trailing_slash(base)?;
        Ok(Endpoints {
            platform: url.clone(),
            data: url,
        })
    }

    /// The Heroku CLI's variables: `HEROKU_HOST` (a host name gives `https://api.HOST`, a value
    /// starting with `http` is the whole base URL) and `HEROKU_DATA_HOST` (or
    /// `HEROKU_POSTGRESQL_HOST`), a host name that takes the platform URL's scheme and port
    /// when `HEROKU_HOST` is a URL. A loopback `HEROKU_HOST` with no data host serves both.
    pub fn from_vars(host: Option<&str>, data_host: Option<&str>) -> Result<Self, String> {
        let host = host.map(str::trim).filter(|h| !h.is_empty());
        let data_host = data_host.map(str::trim).filter(|h| !h.is_empty());
        let (platform, host_is_url) = match host {
            None => (Url::parse(DEFAULT_PLATFORM).expect("static URL"), false),
            Some(h) if h.starts_with("http") => (with_trailing_slash(h)?, true),
            Some(h) => (with_trailing_slash(&format!("https://api.{h}"))?, false),
        };
        let data = match data_host {
            Some(d) if d.starts_with("http") => with_trailing_slash(d)?,
            Some(d) => {
                let mut url = platform.clone();
                if !host_is_url {
                    url = Url::parse("https://placeholder/").expect("static URL");
                }
                url.set_host(Some(d))
                    .map_err(|e| format!("HEROKU_DATA_HOST {d:?} is not a host name: {e}"))?;
                url.set_path("/");
                url
            }
            None if host_is_url && is_loopback(&platform) => platform.clone(),
            None => Url::parse(&format!("https://{DEFAULT_DATA_HOST}/")).expect("static URL"),
        };
        Ok(Endpoints { platform, data })
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

fn with_trailing_slash(raw: &str) -> Result<Url, String> {
    let mut url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{raw:?} must be an http or https URL"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The shared view of Heroku's rate-limit budget, read from `RateLimit-Remaining`.
///
/// Clients that share one token (a fleet run) share one budget, so they slow down together
/// before Heroku starts answering 429. Pacing spaces the sends of all callers together, not a
/// pause each caller takes on its own: eight tasks that each paused 800 ms would still send
/// eight requests per 800 ms. Waiting callers look again as answers come in, so a budget that
/// recovers frees them at once.
#[derive(Debug)]
pub struct RateBudget {
    remaining: AtomicI64,
    /// The most ever seen remaining: the size of the bucket, near enough.
    largest: AtomicI64,
    /// Requests sent and not yet answered: they have spent their token before any answer
    /// can say so, and concurrent callers must count them.
    in_flight: AtomicI64,
    /// What the refill rate looks like from here.
    refill: Mutex<RefillEstimate>,
    /// When the last request went out, and until when a 429 holds everyone back.
    sends: Mutex<Sends>,
    /// Below this many remaining tokens, requests are spaced out.
    pub low_water: i64,
    /// The spacing at zero remaining; it shrinks linearly up to `low_water`. Heroku refills
    /// 75 tokens a minute, one per 800 ms, so at zero this spacing sends no faster than that.
    pub max_pause: Duration,
}

impl Default for RateBudget {
    fn default() -> Self {
        RateBudget::new(50, Duration::from_millis(800))
    }
}

impl RateBudget {
    pub fn new(low_water: i64, max_pause: Duration) -> Self {
        RateBudget {
            remaining: AtomicI64::new(-1),
            largest: AtomicI64::new(-1),
            in_flight: AtomicI64::new(0),
            refill: Mutex::new(RefillEstimate::default()),
            sends: Mutex::new(Sends::default()),
            low_water,
            max_pause,
        }
    }

    pub fn remaining(&self) -> Option<i64> {
        let value = self.remaining.load(Ordering::Relaxed);
        (value >= 0).then_some(value)
    }

    pub fn observe(&self, remaining: i64) {
        self.remaining.store(remaining.max(0), Ordering::Relaxed);
        let largest = self
            .largest
            .fetch_max(remaining, Ordering::Relaxed)
            .max(remaining);
        self.refill
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(remaining, largest, Instant::now());
    }

    /// Tokens per second the bucket seems to refill at, once it has been watched below full.
    pub fn refill_rate(&self) -> Option<f64> {
        self.refill.lock().unwrap_or_else(|e| e.into_inner()).rate
    }

    /// Where pacing starts: `low_water`, or half of a bucket too small for it.
    ///
    /// Spacing grows as the bucket empties, so the remaining count settles where the spacing
    /// matches the refill rate, whatever that rate is; only the start must lie inside the bucket.
    fn effective_low_water(&self) -> i64 {
        let largest = self.largest.load(Ordering::Relaxed);
        if largest < 0 || largest >= 2 * self.low_water {
            self.low_water
        } else {
            (largest / 2).max(1)
        }
    }

    /// The spacing between requests, given what Heroku last told us less what is in flight.
    pub fn pause(&self) -> Duration {
        let low_water = self.effective_low_water();
        let Some(remaining) = self.remaining() else {
            return Duration::ZERO;
        };
        let left = remaining - self.in_flight.load(Ordering::Relaxed);
        if left >= low_water {
            return Duration::ZERO;
        }
        let short = (low_water - left).min(low_water) as f64 / low_water as f64;
        // An empty bucket allows what it refills, no more and, with a known rate, no less.
        let empty = match self.refill_rate() {
            Some(rate) => Duration::from_secs_f64(1.1 / rate).min(self.max_pause),
            None => self.max_pause,
        };
        empty.mul_f64(short)
    }

    /// Waits for this caller's turn to send; the request counts as in flight until the
    /// returned guard is dropped.
    pub async fn acquire(&self) -> InFlight<'_> {
        // Short naps: a wait computed now may be too long once answers show the budget recovering.
        const NAP: Duration = Duration::from_millis(100);
        loop {
            match self.try_acquire() {
                Ok(sending) => return sending,
                Err(wait) => tokio::time::sleep(wait.min(NAP)).await,
            }
        }
    }

    /// Takes the turn to send if it is due, or says how long until it will be.
    pub fn try_acquire(&self) -> Result<InFlight<'_>, Duration> {
        let spacing = self.pause();
        let now = Instant::now();
        let mut sends = self.sends.lock().unwrap_or_else(|e| e.into_inner());
        let due = [sends.last.map(|t| t + spacing), sends.held_until]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        if due > now {
            return Err(due - now);
        }
        sends.last = Some(now);
        drop(sends);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(InFlight { budget: self })
    }

    /// Holds every client of this budget back for `wait` (a 429's `Retry-After`): the limit is
    /// the token's, so one task being told to wait means all of them are.
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut sends = self.sends.lock().unwrap_or_else(|e| e.into_inner());
        sends.held_until = Some(sends.held_until.map_or(until, |h| h.max(until)));
    }
}

#[derive(Debug, Default)]
struct Sends {
    last: Option<Instant>,
    held_until: Option<Instant>,
}

/// The refill rate, from how `RateLimit-Remaining` moves against the requests answered.
#[derive(Debug, Default)]
struct RefillEstimate {
    /// The start of the current sample: when, what remained, answers so far.
    since: Option<(Instant, i64, u64)>,
    answered: u64,
    rate: Option<f64>,
}

impl RefillEstimate {
    /// A sample spans at least this long, so a few answers' jitter does not dominate it.
    const SAMPLE: Duration = Duration::from_secs(1);

    fn observe(&mut self, remaining: i64, largest: i64, now: Instant) {
        self.answered += 1;
        let Some((start, start_remaining, start_answered)) = self.since else {
            self.since = Some((now, remaining, self.answered));
            return;
        };
        let elapsed = now.duration_since(start);
        if elapsed < Self::SAMPLE {
            return;
        }
        // A full bucket hides its refill: what it would have gained was thrown away.
        let below_full = |r: i64| r < largest - largest / 10;
        let gained = remaining - start_remaining + (self.answered - start_answered) as i64;
        if below_full(start_remaining) && below_full(remaining) && gained > 0 {
            let rate = gained as f64 / elapsed.as_secs_f64();
            self.rate = Some(self.rate.map_or(rate, |old| (old + rate) / 2.0));
        }
        self.since = Some((now, remaining, self.answered));
    }
}

/// A request sent and not yet answered (or abandoned half-way, when it is dropped).
#[derive(Debug)]
pub struct InFlight<'a> {
    budget: &'a RateBudget,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.budget.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The deadlines of every request, so that no server can hold herokuops: one that accepts a
/// connection and never answers, or answers a byte at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection (TCP and TLS).
    pub connect: Duration,
    /// From sending a request to its answer's status line and headers. Heroku's router ends a
    /// request after 30 s itself, so a longer silence is a server that is not there.
    pub headers: Duration,
    /// The longest silence while a body is read: API answers, backup downloads, log streams.
    pub idle: Duration,
    /// The whole body of an API answer (not of a download or a log stream, which may be long).
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(15),
            headers: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            body: Duration::from_secs(60),
        }
    }
}

/// The Heroku API client. Cheap to clone; clones share the connections and the rate budget.
#[derive(Clone)]
pub struct ApiClient {
    pub(crate) http: Arc<tls::Clients>,
    pub(crate) timeouts: Timeouts,
    pub(crate) endpoints: Endpoints,
    pub(crate) token: Option<Token>,
    pub(crate) user_agent: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) budget: Arc<RateBudget>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("endpoints", &self.endpoints)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Sends a request of the plain client (a signed URL) with the time-to-headers deadline.
pub async fn send_plain(
    request: reqwest::RequestBuilder,
    timeouts: &Timeouts,
    host: &str,
    path: &str,
) -> Result<reqwest::Response, ApiError> {
    match tokio::time::timeout(timeouts.headers, request.send()).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(source)) => Err(ApiError::Transport {
            method: "GET".into(),
            host: host.into(),
            path: path.into(),
            source: source.without_url(),
        }),
        Err(_) => Err(ApiError::Timeout {
            method: "GET".into(),
            host: host.into(),
            path: path.into(),
            phase: "waiting for the answer's headers",
            after: timeouts.headers,
        }),
    }
}

pub fn user_agent() -> String {
    format!("herokuops/{}", env!("CARGO_PKG_VERSION"))
}

impl ApiClient {
    pub fn new(endpoints: Endpoints, token: Option<Token>) -> Result<Self, ApiError> {
        let timeouts = Timeouts::default();
        Ok(ApiClient {
            http: tls::Clients::new(timeouts),
            timeouts,
            endpoints,
            token,
            user_agent: user_agent(),
            retry: RetryPolicy::default(),
            budget: Arc::new(RateBudget::default()),
        })
    }

    /// The same client with other deadlines (new connections).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Result<Self, ApiError> {
        self.http = tls::Clients::new(timeouts);
        self.timeouts = timeouts;
        Ok(self)
    }

    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = budget;
        self
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn budget(&self) -> &Arc<RateBudget> {
        &self.budget
    }

    /// An HTTP client without Heroku credentials for `url`, one Heroku handed out (a backup
    /// download, a log stream), which carries its own authorization.
    pub fn plain_http(&self, url: &str) -> Result<&reqwest::Client, ApiError> {
        let parsed = url::Url::parse(url).map_err(|e| ApiError::Decode {
            method: "GET".into(),
            path: "(signed URL)".into(),
            detail: format!("not a URL: {e}"),
        })?;
        self.http.for_url(&parsed)
    }
}

/// What a path segment keeps as it is: RFC 3986's unreserved characters.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment (app names, dyno names, ids).
pub(crate) fn seg(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hosts_are_herokus() {
        let e = Endpoints::from_vars(None, None).unwrap();
        assert_eq!(e.platform.as_str(), "https://api.heroku.com/");
        assert_eq!(e.data.as_str(), "https://api.data.heroku.com/");
    }

    #[test]
    fn host_name_gets_api_prefix() {
        let e = Endpoints::from_vars(Some("herokudev.com"), None).unwrap();
        assert_eq!(e.platform.as_str(), "https://api.herokudev.com/");
        assert_eq!(e.data.as_str(), "https://api.data.heroku.com/");
    }

    #[test]
    fn loopback_url_serves_both_apis() {
        let e = Endpoints::from_vars(Some("http://127.0.0.1:5555"), None).unwrap();
        assert_eq!(e.platform.as_str(), "http://127.0.0.1:5555/");
        assert_eq!(e.data, e.platform);
    }

    #[test]
    fn data_host_takes_scheme_and_port_of_url_host() {
        let e = Endpoints::from_vars(Some("http://127.0.0.1:5555"), Some("127.0.0.2")).unwrap();
        assert_eq!(e.data.as_str(), "http://127.0.0.2:5555/");
        let e = Endpoints::from_vars(None, Some("data.example.com")).unwrap();
        assert_eq!(e.data.as_str(), "https://data.example.com/");
    }

    #[test]
    fn non_loopback_url_keeps_default_data_host() {
        let e = Endpoints::from_vars(Some("https://api.example.com"), None).unwrap();
        assert_eq!(e.data.as_str(), "https://api.data.heroku.com/");
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(Endpoints::from_vars(Some("http://"), None).is_err());
        assert!(Endpoints::single("ftp://x").is_err());
    }

    #[test]
    fn budget_slows_down_only_when_low() {
        let budget = RateBudget::default();
        assert_eq!(budget.pause(), Duration::ZERO);
        budget.observe(4000);
        assert_eq!(budget.pause(), Duration::ZERO);
        budget.observe(0);
        assert_eq!(budget.pause(), budget.max_pause);
        budget.observe(25);
        assert!(budget.pause() > Duration::ZERO && budget.pause() < budget.max_pause);
    }

    #[test]
    fn sends_are_spaced_across_callers() {
        let budget = RateBudget::new(10, Duration::from_millis(100));
        let first = budget.try_acquire().expect("unknown budget: no wait");
        assert!(budget.try_acquire().is_ok(), "unknown budget: no spacing");
        drop(first);
        budget.observe(0);
        assert!(budget.try_acquire().is_err(), "sent just now");
        // Whoever asks next waits a spacing after the last send, however it is asked.
        std::thread::sleep(Duration::from_millis(110));
        let _one = budget.try_acquire().expect("a spacing has passed");
        let wait = budget.try_acquire().unwrap_err();
        assert!(wait >= Duration::from_millis(90), "{wait:?}");
    }

    #[test]
    fn requests_in_flight_count_against_the_budget_and_a_hold_delays_everyone() {
        let budget = RateBudget::new(10, Duration::from_millis(100));
        budget.observe(100);
        budget.observe(12);
        let sending: Vec<InFlight> = (0..3).map(|_| budget.try_acquire().unwrap()).collect();
        assert!(
            budget.pause() > Duration::ZERO,
            "12 left, 3 of them in flight"
        );
        drop(sending);
        assert_eq!(
            budget.pause(),
            Duration::ZERO,
            "answered: no longer in flight"
        );
        budget.hold(Duration::from_millis(400));
        let wait = budget.try_acquire().unwrap_err();
        assert!(wait >= Duration::from_millis(350), "{wait:?}");
    }

    #[test]
    fn a_small_bucket_is_paced_from_half_its_size() {
        let budget = RateBudget::default();
        budget.observe(40);
        assert_eq!(budget.pause(), Duration::ZERO);
        budget.observe(21);
        assert_eq!(budget.pause(), Duration::ZERO, "above half of 40");
        budget.observe(5);
        assert!(budget.pause() > Duration::ZERO && budget.pause() < budget.max_pause);
        budget.observe(0);
        assert_eq!(budget.pause(), budget.max_pause);
    }

    #[test]
    fn the_refill_rate_is_learnt_below_a_full_bucket() {
        let mut estimate = RefillEstimate::default();
        let start = Instant::now();
        // 20 answered in a second while the bucket went from 10 to 0: it refilled 10.
        estimate.observe(10, 40, start);
        for i in 1..=20 {
            let remaining = 10 - i / 2;
            estimate.observe(remaining, 40, start + Duration::from_millis(50 * i as u64));
        }
        let rate = estimate.rate.expect("a rate after a second");
        assert!((9.0..=11.5).contains(&rate), "{rate}");

        let mut full = RefillEstimate::default();
        full.observe(40, 40, start);
        full.observe(40, 40, start + Duration::from_secs(2));
        assert_eq!(
            full.rate, None,
            "a full bucket says nothing about its refill"
        );
    }

    #[test]
    fn token_debug_is_masked() {
        let t = Token::new("abc-secret");
        assert!(!format!("{t:?}").contains("abc-secret"));
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("web.1"), "web.1");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
