//! The single Heroku steps that commands and playbooks are made of, each following the
//! request sequence of the official CLI. Steps report progress through an [`Observer`] and
//! never print.

pub mod addons;
pub mod app_logs;
pub mod archive;
pub mod backup;
pub mod copy;
pub mod database;
pub mod dynos;
mod error;
pub mod local_tools;
pub mod logs;
pub mod maintenance;
pub mod migrate;
pub mod promote;
pub mod pushpull;
pub mod run;
pub mod schema;
pub mod schema_wait;

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
    /// A line a command wrote on its stderr (a local migration's), to pass on as it is.
    Output(String),
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

/// How a wait polls: soon at first, then less often up to `interval`, and never past
/// `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// The longest pause between two looks.
    pub interval: Duration,
    pub timeout: Duration,
    /// The timeout the operator gave, when this wait has only what is left of it (a
    /// [`Budget`]): the one an error names.
    given: Option<Duration>,
}

/// The pause before the second look. Most waits end within a second or two on a quiet
/// platform, and a look that comes a whole interval late is time the operator waits for nothing.
pub const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// How much longer each pause is than the one before, up to the interval. What ends between
/// two looks is seen at most a quarter of the time waited (plus the first pause) late; at 1.5
/// the sandbox's half-second restart was seen a third of a second late. Reaching a 5 s interval
/// takes 18 looks over 22 s instead of 10 over 11 s: a handful of requests more per wait.
const BACKOFF: f64 = 1.25;

impl Wait {
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Wait {
            interval,
            timeout,
            given: None,
        }
    }

    /// The timeout as the operator gave it.
    fn announced(&self) -> Duration {
        self.given.unwrap_or(self.timeout)
    }

    pub(crate) fn deadline(&self) -> Deadline {
        Deadline {
            started: Instant::now(),
            wait: *self,
            pause: FIRST_PAUSE.min(self.interval),
        }
    }

    /// The pauses of a wait, in order, until the deadline: how many looks it takes at most.
    pub fn pauses(&self) -> impl Iterator<Item = Duration> + '_ {
        let mut elapsed = Duration::ZERO;
        let mut pause = FIRST_PAUSE.min(self.interval);
        std::iter::from_fn(move || {
            if elapsed + pause > self.timeout {
                return None;
            }
            let this = pause;
            elapsed += this;
            pause = pause.mul_f64(BACKOFF).min(self.interval);
            Some(this)
        })
    }

    /// Runs a whole wait within `timeout`, the requests in flight included: a server that
    /// holds a poll cannot keep the wait past its deadline (the deadline between polls alone
    /// would only be looked at once that poll is answered).
    pub(crate) async fn bound<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, StepError>>,
    ) -> Result<T, StepError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(StepError::Timeout {
                    what: what.to_string(),
                    after: self.announced(),
                })
            })
    }

    /// One deadline for several waits in a row (every database of an app): each takes what
    /// is left of it.
    pub fn budget(&self) -> Budget {
        Budget {
            wait: *self,
            until: Instant::now() + self.timeout,
        }
    }
}

/// What is left of a wait's time, for several waits in a row.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    wait: Wait,
    until: Instant,
}

impl Budget {
    /// The rest of the time, as a wait of its own; the error still names the whole timeout.
    pub fn remaining(&self) -> Wait {
        Wait {
            timeout: self.until.saturating_duration_since(Instant::now()),
            given: Some(self.wait.announced()),
            ..self.wait
        }
    }

    /// Runs `work` within what is left of the time.
    pub async fn bound<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, StepError>>,
    ) -> Result<T, StepError> {
        let left = self.until.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, work).await.unwrap_or_else(|_| {
            Err(StepError::Timeout {
                what: what.to_string(),
                after: self.wait.announced(),
            })
        })
    }
}

pub(crate) struct Deadline {
    started: Instant,
    wait: Wait,
    /// The next pause: it grows from [`FIRST_PAUSE`] up to the interval.
    pause: Duration,
}

impl Deadline {
    /// Sleeps the next pause, or fails when the deadline would pass.
    pub(crate) async fn tick(&mut self, what: &str) -> Result<(), StepError> {
        self.tick_or(what, std::future::pending()).await
    }

    /// Sleeps the next pause, or less if `sooner` ends first (a sign, seen without asking the
    /// platform, that the next look will find what the wait is for); fails when the deadline
    /// would pass. The pauses grow as they would have.
    pub(crate) async fn tick_or(
        &mut self,
        what: &str,
        sooner: impl Future<Output = ()>,
    ) -> Result<(), StepError> {
        if self.started.elapsed() + self.pause > self.wait.timeout {
            return Err(StepError::Timeout {
                what: what.to_string(),
                after: self.wait.announced(),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(self.pause) => {}
            _ = sooner => {}
        }
        self.pause = self.pause.mul_f64(BACKOFF).min(self.wait.interval);
        Ok(())
    }
}

/// Saves what a step has learned before it sends a request that Heroku may act on although its
/// answer never arrives (a kill, a cut connection): a repeated step then recognises what the
/// lost request made instead of making it twice. A playbook writes it to the run's journal.
pub type Checkpoint<'a, T> = &'a mut (dyn FnMut(&T) -> Result<(), StepError> + Send);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_looks_soon_then_backs_off_to_its_interval() {
        let wait = Wait::new(Duration::from_secs(5), Duration::from_secs(60));
        let pauses: Vec<u64> = wait
            .pauses()
            .take(12)
            .map(|p| p.as_millis() as u64)
            .collect();
        assert_eq!(
            pauses,
            [100, 125, 156, 195, 244, 305, 381, 476, 596, 745, 931, 1164]
        );
        // A minute of waiting makes 25 looks, not 12 at a flat 5 s nor 600 at a flat 100 ms.
        assert_eq!(wait.pauses().count(), 25);
        let short = Wait::new(Duration::from_millis(50), Duration::from_secs(1));
        assert!(short.pauses().all(|p| p <= Duration::from_millis(50)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sign_ends_a_pause_early_and_the_pauses_still_grow() {
        let wait = Wait::new(Duration::from_secs(5), Duration::from_secs(60));
        let mut deadline = wait.deadline();
        let started = tokio::time::Instant::now();
        let sign = tokio::time::sleep(Duration::from_millis(30));
        deadline.tick_or("x", sign).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(30));
        let started = tokio::time::Instant::now();
        deadline.tick_or("x", std::future::pending()).await.unwrap();
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(125),
            "the second pause"
        );
    }

    /// The README promises a number of requests; it must be the code's.
    #[test]
    fn the_readme_gives_the_requests_a_long_wait_makes() {
        let wait = Wait::new(Duration::from_secs(5), Duration::from_secs(20 * 60));
        // The first look is at once, then one after each pause.
        let looks = 1 + wait.pauses().count();
        let claim = format!("a 20-minute wait with `--interval 5s` makes at most {looks} requests");
        let readme = include_str!("../../README.md").replace('\n', " ");
        assert!(readme.contains(&claim), "README.md should say: {claim}");
    }
}
