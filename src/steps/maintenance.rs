//! Maintenance mode.

use crate::api::ApiClient;

use super::StepError;

/// What turning maintenance on changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    TurnedOn,
    /// It was on already: nothing was sent, and the clean-up of a failed run must leave it on.
    AlreadyOn,
}

/// Turns maintenance mode on or off (one request; setting the state it has is harmless).
pub async fn turn(api: &ApiClient, app: &str, on: bool) -> Result<bool, StepError> {
    Ok(api.set_maintenance(app, on).await?.maintenance)
}

/// Turns maintenance mode on unless it is on already, and says which it was: a playbook turns
/// off again only what it turned on.
pub async fn turn_on_unless_on(api: &ApiClient, app: &str) -> Result<Switch, StepError> {
    if api.app(app).await?.maintenance {
        return Ok(Switch::AlreadyOn);
    }
    turn(api, app, true).await?;
    Ok(Switch::TurnedOn)
}
