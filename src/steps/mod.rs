//! The single Heroku steps that commands and playbooks are made of, each following the
//! request sequence of the official CLI. Steps report progress through an [`Observer`] and
//! never print.

pub mod addons;
pub mod backup;
pub mod database;
pub mod dynos;
mod error;
pub mod logs;
pub mod maintenance;
pub mod migrate;
pub mod promote;
pub mod run;
pub mod schema;

use std::time::{Duration, Instant};

pub use error::StepError;

/// Something a step wants the operator to know while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A new state of the thing being waited on.
    Status(String),
    /// Bytes processed so far, out of a total when known.
    Bytes { done: u64, total: Option<u64> },
    /// Worth a warning line, not a failure.
    Warning(String),
    /// A secret the step has just learned (a database URL from the config vars). Sent before
    /// the value is used, so the command layer can mask it where logs are public (GitHub
    /// Actions) before anything could print it; never to be shown.
    Secret(String),
}

/// Receives a step's events; `()` ignores them.
pub trait Observer: Send {
    fn event(&mut self, event: Event);
}

impl Observer for () {
    fn event(&mut self, _event: Event) {}
}

impl<F: FnMut(Event) + Send> Observer for F {
    fn event(&mut self, event: Event) {
        self(event)
    }
}

/// How a wait polls: an interval and a deadline, never forever.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Wait {
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Wait { interval, timeout }
    }

    pub(crate) fn deadline(&self) -> Deadline {
        Deadline {
            started: Instant::now(),
            wait: *self,
        }
    }
}

pub(crate) struct Deadline {
    started: Instant,
    wait: Wait,
}

impl Deadline {
    /// Sleeps one interval, or fails when the deadline would pass.
    pub(crate) async fn tick(&self, what: &str) -> Result<(), StepError> {
        if self.started.elapsed() + self.wait.interval > self.wait.timeout {
            return Err(StepError::Timeout {
                what: what.to_string(),
                after: self.wait.timeout,
            });
        }
        tokio::time::sleep(self.wait.interval).await;
        Ok(())
    }
}

/// Saves what a step has learned before it sends a request that Heroku may act on although its
/// answer never arrives (a kill, a cut connection): a repeated step then recognises what the
/// lost request made instead of making it twice. A playbook writes it to the run's journal.
pub type Checkpoint<'a, T> = &'a mut (dyn FnMut(&T) -> Result<(), StepError> + Send);
