//! Restarting dynos and waiting until they are up again.

use crate::api::{ApiClient, RestartTarget};
use crate::output::sanitize::one_line;

use super::{Event, Observer, StepError, Wait};

/// Restarts all dynos, one process type or one dyno.
pub async fn restart(api: &ApiClient, app: &str, target: &RestartTarget) -> Result<(), StepError> {
    api.restart_dynos(app, target).await?;
    Ok(())
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
        let deadline = wait.deadline();
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
