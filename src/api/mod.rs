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

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

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
/// before Heroku starts answering 429.
#[derive(Debug)]
pub struct RateBudget {
    remaining: AtomicI64,
    /// Below this many remaining tokens, requests are spaced out.
    pub low_water: i64,
    /// The spacing at zero remaining; it shrinks linearly up to `low_water`.
    pub max_pause: Duration,
}

impl Default for RateBudget {
    fn default() -> Self {
        RateBudget {
            remaining: AtomicI64::new(-1),
            low_water: 50,
            max_pause: Duration::from_millis(800),
        }
    }
}

impl RateBudget {
    pub fn remaining(&self) -> Option<i64> {
        let value = self.remaining.load(Ordering::Relaxed);
        (value >= 0).then_some(value)
    }

    pub fn observe(&self, remaining: i64) {
        self.remaining.store(remaining.max(0), Ordering::Relaxed);
    }

    /// How long to wait before the next request, given what Heroku last told us.
    pub fn pause(&self) -> Duration {
        match self.remaining() {
            Some(r) if r < self.low_water => {
                let short = (self.low_water - r) as f64 / self.low_water as f64;
                self.max_pause.mul_f64(short)
            }
            _ => Duration::ZERO,
        }
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
