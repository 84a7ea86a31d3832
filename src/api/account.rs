//! The account behind the token, and its rate-limit budget.

use reqwest::Method;

use super::models::{Account, RateLimit};
use super::{ApiClient, ApiError, Host, Request};

impl ApiClient {
    /// `GET /account`: who the token belongs to.
    pub async fn account(&self) -> Result<Account, ApiError> {
        self.send(Request::new(Method::GET, Host::Platform, "/account"))
            .await
    }

    /// `GET /account/rate-limits`: free of charge against the limit itself.
    pub async fn rate_limits(&self) -> Result<RateLimit, ApiError> {
        self.send(Request::new(
            Method::GET,
            Host::Platform,
            "/account/rate-limits",
        ))
        .await
    }
}
