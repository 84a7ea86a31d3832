//! Promoting a database to `DATABASE_URL`, in the official CLI's order: keep an alternate alias
//! for the current database, check the target is available, attach the target as `DATABASE`
//! (the platform detaches the old one), move the connection pooler, then watch the release.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::models::Attachment;
use crate::api::{ApiClient, AttachmentCreate};
use crate::output::sanitize::one_line;

use super::{Checkpoint, Event, Observer, StepError, Wait, database};

const POOLER_NAMESPACE: &str = "connection-pooling:default";
const POOLER_NAME: &str = "DATABASE_CONNECTION_POOL";

#[derive(Debug, Clone, Default)]
pub struct PromoteOptions {
    /// Skip the availability check (`--force`).
    pub force: bool,
    /// How the release phase is watched when the app has one.
    pub release_wait: Option<Wait>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PromoteOutcome {
    Promoted {
        addon: String,
        /// The alias that keeps the previous database reachable, e.g. `HEROKU_POSTGRESQL_COBALT`.
        previous_alias: Option<String>,
        previous_addon: Option<String>,
    },
    /// The target already is DATABASE: nothing was changed (so a resumed run moves on).
    AlreadyPromoted { addon: String },
}

pub async fn promote(
    api: &ApiClient,
    app: &str,
    target_name: &str,
    options: &PromoteOptions,
    observer: &mut dyn Observer,
) -> Result<PromoteOutcome, StepError> {
    let target = database::resolve(api, app, Some(target_name)).await?;
    let attachments = api.attachments(app).await?;
    let current = attachments.iter().find(|a| a.name == "DATABASE").cloned();

    let mut previous_alias = None;
    if let Some(current) = &current {
        if current.addon.name == target.addon.name && current.namespace == target.namespace {
            return Ok(PromoteOutcome::AlreadyPromoted {
                addon: target.addon.name.clone(),
            });
        }
        previous_alias = Some(ensure_alias(api, app, current, &attachments, observer).await?);
    }
    if !options.force {
        check_available(api, app, &target).await?;
    }

    observer.event(Event::Status(format!(
        "Promoting {} to DATABASE_URL on {app}",
        target.addon.name
    )));
    api.create_attachment(&AttachmentCreate {
        addon: target.addon.name.clone(),
        app: app.to_string(),
        name: Some("DATABASE".into()),
        namespace: target.namespace.clone(),
        confirm: Some(app.to_string()),
    })
    .await?;
    if let Some(current) = &current {
        move_pooler(api, app, current, &target, &attachments, observer).await?;
    }
    warn_if_follower(api, &target, observer).await?;
    let formation = api.formation(app).await?;
    if formation.iter().any(|f| f.process_type == "release") {
        let wait = options.release_wait.unwrap_or(Wait::new(
            Duration::from_secs(5),
            Duration::from_secs(15 * 60),
        ));
        watch_release(api, app, wait, observer).await?;
    }

    Ok(PromoteOutcome::Promoted {
        addon: target.addon.name.clone(),
        previous_alias,
        previous_addon: current.map(|c| c.addon.name),
    })
}

/// Refuses a target that is still being provisioned (or is otherwise not available): the
/// app would point at a database that cannot take connections yet.
async fn check_available(api: &ApiClient, app: &str, target: &Attachment) -> Result<(), StepError> {
    let status = api.wait_status(&target.addon.id).await?;
    if status.waiting {
        return Err(StepError::NotAvailable {
            app: app.to_string(),
            addon: target.addon.name.clone(),
            status: one_line(&status.message).into_owned(),
        });
    }
    Ok(())
}

/// Attaches the connection pooler to the target when it was attached to the previous
/// DATABASE: the pooler would otherwise keep serving the old database.
async fn move_pooler(
    api: &ApiClient,
    app: &str,
    current: &Attachment,
    target: &Attachment,
    attachments: &[Attachment],
    observer: &mut dyn Observer,
) -> Result<(), StepError> {
    let pooler = attachments.iter().find(|a| {
        a.namespace.as_deref() == Some(POOLER_NAMESPACE)
            && a.name == POOLER_NAME
            && a.addon.id == current.addon.id
    });
    if pooler.is_some() {
        observer.event(Event::Status("Reattaching the connection pooler".into()));
        api.create_attachment(&AttachmentCreate {
            addon: target.addon.name.clone(),
            app: app.to_string(),
            name: Some(POOLER_NAME.into()),
            namespace: Some(POOLER_NAMESPACE.into()),
            confirm: Some(app.to_string()),
        })
        .await?;
    }
    Ok(())
}

/// A follower promoted is still read-only: the app's writes would fail until it is unfollowed.
async fn warn_if_follower(
    api: &ApiClient,
    target: &Attachment,
    observer: &mut dyn Observer,
) -> Result<(), StepError> {
    let info = api.database_info(&target.addon.id).await?;
    if let Some(leader) = info.following.as_deref().filter(|f| !f.is_empty()) {
        observer.event(Event::Warning(format!(
            "{} is a follower of {leader}: it stays read-only until unfollowed (`heroku pg:unfollow`)",
            target.addon.name
        )));
    }
    Ok(())
}

/// Makes sure the current DATABASE keeps a second name, creating one if it has none.
async fn ensure_alias(
    api: &ApiClient,
    app: &str,
    current: &Attachment,
    attachments: &[Attachment],
    observer: &mut dyn Observer,
) -> Result<String, StepError> {
    if let Some(alias) = attachments.iter().find(|a| {
        a.addon.id == current.addon.id && a.namespace == current.namespace && a.name != "DATABASE"
    }) {
        observer.event(Event::Status(format!(
            "Ensuring an alternate alias for existing DATABASE_URL: {}",
            alias.config_var()
        )));
        return Ok(alias.name.clone());
    }
    let created = api
        .create_attachment(&AttachmentCreate {
            addon: current.addon.name.clone(),
            app: app.to_string(),
            name: None,
            namespace: current.namespace.clone(),
            confirm: Some(app.to_string()),
        })
        .await?;
    observer.event(Event::Status(format!(
        "Ensuring an alternate alias for existing DATABASE_URL: {}",
        created.config_var()
    )));
    Ok(created.name)
}

/// Follows the "Attach DATABASE" release that a promotion starts on apps with a release phase.
async fn watch_release(
    api: &ApiClient,
    app: &str,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<(), StepError> {
    let releases = api
        .releases(app, Some("version ..; max=5, order=desc"))
        .await?;
    let attach = releases
        .iter()
        .find(|r| r.description.contains("Attach DATABASE"));
    let detach = releases
        .iter()
        .find(|r| r.description.contains("Detach DATABASE"));
    let (Some(attach), Some(detach)) = (attach, detach) else {
        return Err(StepError::PromotionReleaseMissing {
            app: app.to_string(),
        });
    };
    wait.bound("the promotion's release phase", async {
        let mut deadline = wait.deadline();
        loop {
            let release = api.release(app, attach.id.as_str()).await?;
            match release.status.as_deref() {
                Some("succeeded") => return Ok(()),
                Some("failed") => {
                    let detach_now = api.release(app, detach.id.as_str()).await?;
                    return Err(StepError::ReleasePhaseFailed {
                        app: app.to_string(),
                        version: release.version,
                        database_url_lost: detach_now.status.as_deref() == Some("succeeded"),
                    });
                }
                other => observer.event(Event::Status(format!(
                    "release v{} is {}",
                    release.version,
                    one_line(other.unwrap_or("pending"))
                ))),
            }
            deadline.tick("the promotion's release phase").await?;
        }
    })
    .await
}

/// What a run remembers of its promotion (kept in its journal under these names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    /// The add-on that was DATABASE when the promotion was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoting_from: Option<String>,
    /// The add-on that was DATABASE before the promotion.
    #[serde(
        rename = "previous_addon",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_addon: Option<String>,
    /// The alias that keeps it reachable, e.g. `HEROKU_POSTGRESQL_COBALT`.
    #[serde(
        rename = "previous_alias",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_alias: Option<String>,
}

/// Promotes `target` for a run that may be repeating the step: the database it moves the app
/// off is saved before the request, so that an attempt that finds the promotion already made
/// (its answer lost) still knows, and reports, where the previous database went.
pub async fn promote_once(
    api: &ApiClient,
    app: &str,
    target: &str,
    memory: &mut Promotion,
    checkpoint: Checkpoint<'_, Promotion>,
    observer: &mut dyn Observer,
) -> Result<PromoteOutcome, StepError> {
    if memory.promoting_from.is_none() {
        let current = database::resolve(api, app, Some("DATABASE_URL")).await?;
        if current.addon.name != target {
            memory.promoting_from = Some(current.addon.name);
            checkpoint(memory)?;
        }
    }
    let outcome = promote(api, app, target, &PromoteOptions::default(), observer).await?;
    match &outcome {
        PromoteOutcome::Promoted {
            previous_alias,
            previous_addon,
            ..
        } => {
            memory.previous_addon = previous_addon.clone();
            memory.previous_alias = previous_alias.clone();
        }
        PromoteOutcome::AlreadyPromoted { .. } if memory.previous_addon.is_none() => {
            if let Some(previous) = memory.promoting_from.clone() {
                let attachments = api.attachments(app).await?;
                memory.previous_alias = attachments
                    .iter()
                    .find(|a| a.addon.name == previous && a.name != "DATABASE")
                    .map(|a| a.name.clone());
                memory.previous_addon = Some(previous);
            }
        }
        PromoteOutcome::AlreadyPromoted { .. } => {}
    }
    Ok(outcome)
}
