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
mod transport;

pub use error::{ApiError, HttpFailure};
pub use transport::{Body, Host, Request, RetryPolicy};

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

pub use addons::{AddonCreate, AttachmentCreate};
pub use data::{BackupSchedule, normalize_extensions};
pub use dynos::{DynoCreate, LogSessionCreate, RestartTarget, exit_status};

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
/// before Heroku starts answering 429. Pacing is a queue of send slots, not a pause each caller
/// takes on its own: eight tasks that each paused 800 ms would still send eight requests per
/// 800 ms, while slots spread them out.
#[derive(Debug)]
pub struct RateBudget {
    remaining: AtomicI64,
    /// The earliest moment the next request may go out.
    next_slot: Mutex<Option<Instant>>,
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
            next_slot: Mutex::new(None),
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
    }

    /// The spacing between requests, given what Heroku last told us.
    pub fn pause(&self) -> Duration {
        match self.remaining() {
            Some(r) if r < self.low_water => {
                let short = (self.low_water - r) as f64 / self.low_water.max(1) as f64;
                self.max_pause.mul_f64(short)
            }
            _ => Duration::ZERO,
        }
    }

    /// Takes the next send slot and returns how long to wait for it.
    ///
    /// The estimate of what remains drops by one at once: requests in flight have spent their
    /// token before any answer says so, and concurrent callers must see that.
    pub fn reserve(&self) -> Duration {
        let spacing = self.pause();
        let now = Instant::now();
        let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + spacing);
        drop(next);
        let _ = self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                (r > 0).then_some(r - 1)
            });
        slot - now
    }

    /// Holds every client of this budget back for `wait` (a 429's `Retry-After`): the limit is
    /// the token's, so one task being told to wait means all of them are.
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        *next = Some(next.map_or(until, |n| n.max(until)));
    }
}

/// The Heroku API client. Cheap to clone; clones share the connection pool and rate budget.
#[derive(Clone)]
pub struct ApiClient {
    pub(crate) http: reqwest::Client,
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

pub fn user_agent() -> String {
    format!("herokuops/{}", env!("CARGO_PKG_VERSION"))
}

impl ApiClient {
    pub fn new(endpoints: Endpoints, token: Option<Token>) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .user_agent(user_agent())
            .build()
            .map_err(|source| ApiError::Transport {
                method: "-".into(),
                host: "-".into(),
                path: "-".into(),
                source,
            })?;
        Ok(ApiClient {
            http,
            endpoints,
            token,
            user_agent: user_agent(),
            retry: RetryPolicy::default(),
            budget: Arc::new(RateBudget::default()),
        })
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

    /// The underlying HTTP client without Heroku credentials, for URLs Heroku hands out
    /// (backup downloads, log streams), which carry their own authorization.
    pub fn plain_http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Percent-encodes one path segment (app names, dyno names, ids).
pub(crate) fn seg(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
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
    fn slots_are_shared_between_callers() {
        let budget = RateBudget::new(10, Duration::from_millis(100));
        assert_eq!(budget.reserve(), Duration::ZERO, "unknown budget: no wait");
        budget.observe(0);
        // Three callers at zero remaining queue up one spacing apart, whoever they are.
        let waits: Vec<Duration> = (0..3).map(|_| budget.reserve()).collect();
        assert!(waits[0] <= Duration::from_millis(5), "{waits:?}");
        assert!(waits[1] >= Duration::from_millis(90), "{waits:?}");
        assert!(waits[2] >= Duration::from_millis(190), "{waits:?}");
    }

    #[test]
    fn reserving_spends_the_estimate_and_a_hold_delays_everyone() {
        let budget = RateBudget::new(10, Duration::from_millis(100));
        budget.observe(100);
        budget.reserve();
        budget.reserve();
        assert_eq!(budget.remaining(), Some(98));
        budget.hold(Duration::from_millis(400));
        let wait = budget.reserve();
        assert!(wait >= Duration::from_millis(350), "{wait:?}");
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
