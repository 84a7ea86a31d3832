//! Creating (and waiting for) and destroying add-ons.

use serde::{Deserialize, Serialize};

use crate::api::models::Addon;
use crate::api::{AddonCreate, ApiClient};
use crate::output::sanitize::one_line;

use super::{Checkpoint, Event, Observer, StepError, Wait, database};

/// Creates an add-on; with `wait`, polls it until it leaves `provisioning`.
pub async fn create(
    api: &ApiClient,
    app: &str,
    spec: &AddonCreate,
    wait: Option<Wait>,
    observer: &mut dyn Observer,
) -> Result<Addon, StepError> {
    let addon = api.create_addon(app, spec).await?;
    if let Some(message) = addon.provision_message.as_deref().filter(|m| !m.is_empty()) {
        observer.event(Event::Status(one_line(message).into_owned()));
    }
    if addon.state == "deprovisioned" {
        return Err(StepError::AddonNotProvisioned {
            addon: addon.name,
            state: "deprovisioned right after creation".into(),
        });
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
) -> Result<Addon, StepError> {
    let what = format!("add-on {name} to provision");
    wait.bound(&what, async {
        let mut deadline = wait.deadline();
        loop {
            let addon = api.addon(app, name).await?;
            match addon.state.as_str() {
                "provisioning" => observer.event(Event::Status(format!("{name} is provisioning"))),
                "deprovisioned" => {
                    return Err(StepError::AddonNotProvisioned {
                        addon: name.to_string(),
                        state: "deprovisioned: it failed to provision".into(),
                    });
                }
                _ => return Ok(addon),
            }
            deadline.tick(&what).await?;
        }
    })
    .await
}

/// Destroys an add-on of `app`, refusing one that belongs to another app.
pub async fn destroy(api: &ApiClient, app: &str, name: &str) -> Result<Addon, StepError> {
    let found = api.resolve_addon(Some(app), name).await?;
    let addon = match found.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(StepError::NoSuchAddon {
                app: app.to_string(),
                name: name.to_string(),
            });
        }
        _ => {
            return Err(StepError::AmbiguousAddon {
                name: name.to_string(),
            });
        }
    };
    if !addon.app.name.is_empty() && addon.app.name != app {
        return Err(StepError::AddonOfAnotherApp {
            app: app.to_string(),
            addon: addon.name,
            owner: addon.app.name,
        });
    }
    let owner = if addon.app.id.as_str().is_empty() {
        app.to_string()
    } else {
        addon.app.id.to_string()
    };
    let destroyed = api.destroy_addon(&owner, addon.id.as_str()).await?;
    match destroyed.state.as_str() {
        "deprovisioning" | "deprovisioned" | "" => Ok(destroyed),
        other => Err(StepError::AddonNotDestroyed {
            addon: addon.name,
            state: other.to_string(),
        }),
    }
}

/// What a run remembers of the add-on it creates (kept in its journal under these names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Creation {
    /// The add-on this run created.
    #[serde(
        rename = "created_addon",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<String>,
    /// The app's add-ons before the create request was sent: when its answer is lost, an
    /// add-on of the plan that is not in this list was made by it.
    #[serde(
        rename = "addons_before_create",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub before: Option<Vec<String>>,
}

/// How [`create_once`] came by its add-on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Made by an earlier attempt of this run, and still there.
    Reused(String),
    /// Made by an earlier request whose answer was lost.
    Adopted(String),
    Created(String),
}

impl Created {
    pub fn name(&self) -> &str {
        match self {
            Created::Reused(n) | Created::Adopted(n) | Created::Created(n) => n,
        }
    }
}

/// The plan of the app's current database, for an add-on that should match it.
pub async fn current_database_plan(api: &ApiClient, app: &str) -> Result<String, StepError> {
    database::resolve(api, app, Some("DATABASE_URL"))
        .await?
        .plan_name()
        .map(str::to_string)
        .ok_or(StepError::PlanUnknown)
}

/// Creates an add-on of `plan` at most once for one run, however often it is called: it reuses
/// the add-on the run made, adopts one a lost request made, and saves the add-ons that exist
/// before it sends the create request, so that even a kill during the request leaves enough to
/// recognise its add-on.
pub async fn create_once(
    api: &ApiClient,
    app: &str,
    plan: &str,
    memory: &mut Creation,
    checkpoint: Checkpoint<'_, Creation>,
    observer: &mut dyn Observer,
) -> Result<Created, StepError> {
    if let Some(name) = &memory.created {
        match api.addon(app, name).await {
            Ok(addon) => return Ok(Created::Reused(addon.name)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let addons = api.addons(app).await?;
    if let Some(before) = &memory.before {
        let made = addons
            .iter()
            .find(|a| !before.contains(&a.name) && a.plan.name == plan);
        if let Some(addon) = made {
            memory.created = Some(addon.name.clone());
            memory.before = None;
            return Ok(Created::Adopted(addon.name.clone()));
        }
    } else {
        memory.before = Some(addons.into_iter().map(|a| a.name).collect());
        checkpoint(memory)?;
    }
    let spec = AddonCreate {
        plan: plan.to_string(),
        ..Default::default()
    };
    let addon = create(api, app, &spec, None, observer).await?;
    memory.created = Some(addon.name.clone());
    memory.before = None;
    Ok(Created::Created(addon.name))
}
