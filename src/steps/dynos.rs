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

/// The app's long-running dynos (one-off `run` dynos aside) at one look, none crashed.
#[derive(Debug, Clone, PartialEq)]
pub struct DynoStates(Vec<(String, String)>);

impl DynoStates {
    pub fn all_up(&self) -> bool {
        self.0.iter().all(|(_, state)| state == "up")
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `2 dynos up`, or each dyno that is not up with its state.
    pub fn summary(&self) -> String {
        if self.all_up() {
            return format!("{} dynos up", self.0.len());
        }
        let states: Vec<String> = self
            .0
            .iter()
            .map(|(name, state)| one_line(&format!("{name} {state}")).into_owned())
            .collect();
        states.join(", ")
    }
}

/// Looks at the app's long-running dynos once; a crashed one is an error (an app that
/// migrates at boot and crashed will not finish its migration).
pub async fn look(api: &ApiClient, app: &str) -> Result<DynoStates, StepError> {
    let dynos = api.dynos(app).await?;
    let long_running = dynos.into_iter().filter(|d| d.process_type != "run");
    let states: Vec<(String, String)> = long_running.map(|d| (d.name, d.state)).collect();
    if let Some((crashed, _)) = states.iter().find(|(_, state)| state == "crashed") {
        return Err(StepError::DynoCrashed {
            app: app.to_string(),
            dyno: crashed.clone(),
        });
    }
    Ok(DynoStates(states))
}

/// Polls the app's long-running dynos until every one is `up`; a crashed dyno fails the wait
/// at once. Returns how many are up.
pub async fn wait_up(
    api: &ApiClient,
    app: &str,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<usize, StepError> {
    wait.bound("the dynos to be up", async {
        let mut deadline = wait.deadline();
        loop {
            let states = look(api, app).await?;
            if states.all_up() {
                return Ok(states.len());
            }
            observer.event(Event::Status(states.summary()));
            deadline.tick("the dynos to be up").await?;
        }
    })
    .await
}
