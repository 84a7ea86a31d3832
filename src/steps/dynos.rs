//! Restarting dynos and waiting until they are up again.

use crate::api::{ApiClient, RestartTarget};
use crate::output::sanitize::one_line;

use super::{Event, Observer, StepError, Wait};

/// Restarts all dynos, one process type or one dyno. A process type or dyno the app does not
/// have is named as such, with the ones it has.
pub async fn restart(api: &ApiClient, app: &str, target: &RestartTarget) -> Result<(), StepError> {
    let Err(e) = api.restart_dynos(app, target).await else {
        return Ok(());
    };
    let (kind, name, mut known): (&'static str, &str, Vec<String>) = match target {
        RestartTarget::ProcessType(t) if e.is_not_found() => {
            let formation = api.formation(app).await?;
            let types = formation.into_iter().map(|f| f.process_type).collect();
            ("process type", t, types)
        }
        RestartTarget::Dyno(d) if e.is_not_found() => {
            let names = api.dynos(app).await?.into_iter().map(|d| d.name).collect();
            ("dyno", d, names)
        }
        _ => return Err(e.into()),
    };
    known.sort();
    Err(StepError::NoSuchProcess {
        app: app.to_string(),
        kind,
        name: name.to_string(),
        known,
    })
}

/// Polls the app's long-running dynos (one-off `run` dynos aside) until every one is `up`; a
/// crashed dyno fails the wait at once. Returns how many are up.
pub async fn wait_up(
    api: &ApiClient,
    app: &str,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<usize, StepError> {
    wait.bound("the dynos to be up", async {
        let mut deadline = wait.deadline();
        loop {
            let dynos = api.dynos(app).await?;
            let long_running: Vec<_> = dynos.iter().filter(|d| d.process_type != "run").collect();
            if let Some(crashed) = long_running.iter().find(|d| d.state == "crashed") {
                return Err(StepError::DynoCrashed {
                    app: app.to_string(),
                    dyno: crashed.name.clone(),
                });
            }
            if long_running.iter().all(|d| d.state == "up") {
                return Ok(long_running.len());
            }
            let states: Vec<String> = long_running
                .iter()
                .map(|d| one_line(&format!("{} {}", d.name, d.state)).into_owned())
                .collect();
            observer.event(Event::Status(states.join(", ")));
            deadline.tick("the dynos to be up").await?;
        }
    })
    .await
}
