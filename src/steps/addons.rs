//! Creating (and waiting for) and destroying add-ons.

use crate::api::models::Addon;
use crate::api::{AddonCreate, ApiClient, ApiError};

use super::{Event, Observer, Wait};

/// Creates an add-on; with `wait`, polls it until it leaves `provisioning`.
pub async fn create(
    api: &ApiClient,
    app: &str,
    spec: &AddonCreate,
    wait: Option<Wait>,
    observer: &mut dyn Observer,
) -> Result<Addon, ApiError> {
    let addon = api.create_addon(app, spec).await?;
    if let Some(message) = addon.provision_message.as_deref().filter(|m| !m.is_empty()) {
        observer.event(Event::Status(message.to_string()));
    }
    if addon.state == "deprovisioned" {
        return Err(ApiError::step(
            format!("{} was deprovisioned right after creation", addon.name),
            None,
        ));
    }
    match wait {
        Some(wait) if addon.state == "provisioning" => {
            wait_provisioned(api, app, &addon.name, wait, observer).await
        }
        _ => Ok(addon),
    }
}

/// Polls an add-on while it is `provisioning`.
pub async fn wait_provisioned(
    api: &ApiClient,
    app: &str,
    name: &str,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<Addon, ApiError> {
    let deadline = wait.deadline();
    loop {
        let addon = api.addon(app, name).await?;
        match addon.state.as_str() {
            "provisioning" => observer.event(Event::Status(format!("{name} is provisioning"))),
            "deprovisioned" => {
                return Err(ApiError::step(format!("{name} failed to provision"), None));
            }
            _ => return Ok(addon),
        }
        deadline
            .tick(&format!("add-on {name} to provision"))
            .await?;
    }
}

/// Destroys an add-on of `app`, refusing one that belongs to another app.
pub async fn destroy(api: &ApiClient, app: &str, name: &str) -> Result<Addon, ApiError> {
    let found = api.resolve_addon(Some(app), name).await?;
    let addon = match found.as_slice() {
        [one] => one.clone(),
        [] => return Err(ApiError::step(format!("no add-on {name} on {app}"), None)),
        _ => {
            return Err(ApiError::step(
                format!("{name} matches several add-ons; name one exactly"),
                None,
            ));
        }
    };
    if !addon.app.name.is_empty() && addon.app.name != app {
        return Err(ApiError::step(
            format!(
                "{} belongs to app {}, not {app}; nothing was destroyed",
                addon.name, addon.app.name
            ),
            None,
        ));
    }
    let owner = if addon.app.id.as_str().is_empty() {
        app.to_string()
    } else {
        addon.app.id.to_string()
    };
    let destroyed = api.destroy_addon(&owner, addon.id.as_str()).await?;
    match destroyed.state.as_str() {
        "deprovisioning" | "deprovisioned" | "" => Ok(destroyed),
        other => Err(ApiError::step(
            format!("{} is {other} after the destroy request", addon.name),
            None,
        )),
    }
}
