//! Finding an app's Postgres databases, describing them, and waiting until they are available.

use crate::api::ApiClient;
use crate::api::models::{AddonId, Attachment, DatabaseInfo};
use crate::output::sanitize::one_line;

use super::{Event, Observer, StepError, Wait};

/// The service whose add-ons are Postgres databases (overridable as the Heroku CLI allows).
pub fn postgres_service() -> String {
    std::env::var("HEROKU_POSTGRESQL_ADDON_NAME")
        .or_else(|_| std::env::var("HEROKU_DATA_SERVICE"))
        .unwrap_or_else(|_| "heroku-postgresql".to_string())
}

fn is_postgres(attachment: &Attachment, service: &str) -> bool {
    attachment
        .plan_name()
        .is_some_and(|plan| plan.starts_with(&format!("{service}:")))
}

/// Plans the CLI treats as one database each (not the advanced/performance tiers' clusters).
fn is_legacy_plan(attachment: &Attachment) -> bool {
    attachment.plan_name().is_some_and(|plan| {
        let tier = plan.split(':').nth(1).unwrap_or("");
        !tier.starts_with("advanced") && !tier.starts_with("performance")
    })
}

/// Splits `otherapp::NAME` into its app and name.
pub fn split_app_ref<'a>(app: &'a str, name: &'a str) -> (&'a str, &'a str) {
    match name.split_once("::") {
        Some((other, rest)) if !other.is_empty() => (other, rest),
        _ => (app, name),
    }
}

/// Resolves a database name (`DATABASE_URL`, `HEROKU_POSTGRESQL_AMBER`, an add-on name,
/// `otherapp::NAME`) to its attachment, as the official CLI does: the resolve action, kept to
/// Postgres add-ons, preferring attachments without a namespace; on `not_found`, the app's
/// attachments matched by config var value.
pub async fn resolve(
    api: &ApiClient,
    app: &str,
    name: Option<&str>,
) -> Result<Attachment, StepError> {
    let (app, name) = split_app_ref(app, name.unwrap_or("DATABASE_URL"));
    let service = postgres_service();
    let found = match api.resolve_attachment(app, name).await {
        Ok(found) => found,
        Err(e) if e.heroku_id() == Some("not_found") || e.is_not_found() => {
            return resolve_by_config_var(api, app, name, &service).await;
        }
        Err(e) => return Err(e.into()),
    };
    let mut matches: Vec<Attachment> = found
        .into_iter()
        .filter(|a| is_postgres(a, &service))
        .collect();
    if matches.len() > 1 && matches.iter().any(|a| a.namespace.is_none()) {
        matches.retain(|a| a.namespace.is_none());
    }
    pick_one(matches, app, name)
}

fn pick_one(mut matches: Vec<Attachment>, app: &str, name: &str) -> Result<Attachment, StepError> {
    match matches.len() {
        0 => Err(StepError::NoSuchDatabase {
            app: app.to_string(),
            name: name.to_string(),
        }),
        1 => Ok(matches.remove(0)),
        _ => {
            let first = matches[0].addon.id.clone();
            if matches.iter().all(|a| a.addon.id == first) {
                // Several names of one database (DATABASE and its colour alias): the one asked
                // for by name if present, else the first.
                let wanted = name.trim_end_matches("_URL");
                let at = matches.iter().position(|a| a.name == wanted).unwrap_or(0);
                Ok(matches.remove(at))
            } else {
                Err(StepError::AmbiguousDatabase {
                    app: app.to_string(),
                    name: name.to_string(),
                    candidates: matches.iter().map(|a| a.config_var()).collect(),
                })
            }
        }
    }
}

async fn resolve_by_config_var(
    api: &ApiClient,
    app: &str,
    name: &str,
    service: &str,
) -> Result<Attachment, StepError> {
    let attachments = api.attachments(app).await?;
    let vars = api.config_vars(app).await?;
    let var = if name.ends_with("_URL") {
        name.to_string()
    } else {
        format!("{name}_URL")
    };
    let value = vars.get(&var);
    let matches: Vec<Attachment> = attachments
        .into_iter()
        .filter(|a| is_postgres(a, service))
        .filter(|a| {
            a.addon.name == name
                || a.name == name.trim_end_matches("_URL")
                || value.is_some_and(|v| vars.get(&a.config_var()) == Some(v))
        })
        .collect();
    pick_one(matches, app, name)
}

/// The app's Postgres databases, one attachment per add-on (DATABASE preferred as the name).
pub async fn all_databases(api: &ApiClient, app: &str) -> Result<Vec<Attachment>, StepError> {
    let service = postgres_service();
    let mut attachments: Vec<Attachment> = api
        .attachments(app)
        .await?
        .into_iter()
        .filter(|a| is_postgres(a, &service) && is_legacy_plan(a))
        .collect();
    attachments.sort_by_key(|a| a.name != "DATABASE");
    let mut seen = std::collections::HashSet::new();
    attachments.retain(|a| seen.insert(a.addon.id.clone()));
    Ok(attachments)
}

/// The data API's description of a database; a 404 becomes "not provisioned yet".
pub async fn info(
    api: &ApiClient,
    addon: &AddonId,
    label: &str,
) -> Result<DatabaseInfo, StepError> {
    api.database_info(addon).await.map_err(|e| {
        if e.is_not_found() {
            StepError::NotProvisioned {
                label: label.to_string(),
            }
        } else {
            e.into()
        }
    })
}

/// Polls `wait_status` until the database is available. A 404 counts as "waiting to
/// provision" up to 20 times; `error?` fails at once; the deadline bounds the whole wait.
pub async fn wait_available(
    api: &ApiClient,
    addon: &AddonId,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<String, StepError> {
    const MAX_NOT_FOUND: u32 = 20;
    let what = format!("database {addon} to become available");
    wait.bound(&what, async {
        let mut deadline = wait.deadline();
        let mut not_found = 0;
        let mut last = String::new();
        loop {
            let answer = api.wait_status(addon).await.map(|mut status| {
                status.message = one_line(&status.message).into_owned();
                status
            });
            match answer {
                Ok(status) if status.error => {
                    return Err(StepError::DatabaseFailed {
                        addon: addon.to_string(),
                        message: status.message,
                    });
                }
                Ok(status) if !status.waiting => return Ok(status.message),
                Ok(status) => {
                    if status.message != last {
                        observer.event(Event::Status(status.message.clone()));
                        last = status.message;
                    }
                }
                Err(e) if e.is_not_found() && not_found < MAX_NOT_FOUND => {
                    not_found += 1;
                    if last != "Waiting to provision..." {
                        last = "Waiting to provision...".to_string();
                        observer.event(Event::Status(last.clone()));
                    }
                }
                Err(e) => return Err(e.into()),
            }
            deadline.tick(&what).await?;
        }
    })
    .await
}
