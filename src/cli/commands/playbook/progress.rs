//! A run's progress: one line per step as it ends (`✓ pg.drop-schema  0.4s  dropped 25 tables`),
//! with a spinner for the step under way on a terminal, or timestamped lines in a log; a
//! folded section per step in GitHub Actions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::output::Io;
use crate::output::progress::{Kind, Progress, final_line};
use crate::playbooks::StepKind;
use crate::playbooks::runner::RunObserver;
use crate::steps::{Event, Observer};

/// Shared by the runner, which says when steps start and end, and the executor, whose steps
/// report what they are waiting on.
#[derive(Clone)]
pub struct RunProgress {
    io: Io,
    current: Arc<Mutex<Option<Progress>>>,
}

impl RunProgress {
    pub fn new(io: &Io) -> RunProgress {
        RunProgress {
            io: io.clone(),
            current: Arc::default(),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<Progress>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RunObserver for RunProgress {
    fn step_started(&mut self, index: usize, total: usize, step: StepKind, description: &str) {
        let title = if index == 0 {
            format!("{step}: {description}")
        } else {
            format!("[{index}/{total}] {step}: {description}")
        };
        // Each step folds into its own section of a GitHub Actions log.
        self.io.group(&title);
        if !self.io.progress {
            self.io.info(&format!("==> {title}"));
        }
        let label = format!("[{index}/{total}] {step}");
        *self.current() = Some(Progress::under_heading(&self.io, &label, Kind::Spinner));
    }

    fn step_finished(&mut self, step: StepKind, outcome: Result<&str, &str>, elapsed_ms: u64) {
        // The spinner goes; the step's one line stays.
        drop(self.current().take());
        let elapsed = Duration::from_millis(elapsed_ms);
        let (done, detail) = match outcome {
            Ok(detail) => (true, detail),
            Err(error) => (false, error),
        };
        if self.io.progress {
            self.io
                .info(&final_line(&self.io, done, step.name(), elapsed, detail));
        } else {
            let secs = elapsed.as_secs_f64();
            let verdict = if done { "done" } else { "FAILED" };
            self.io
                .info(&format!("    {step} {verdict} in {secs:.1}s: {detail}"));
        }
        self.io.endgroup();
    }
}

impl Observer for RunProgress {
    fn event(&mut self, event: Event) {
        match event {
            Event::Status(text) => {
                if let Some(p) = self.current().as_mut() {
                    p.status(&text);
                }
            }
            Event::Bytes { done, total } => {
                if let Some(p) = self.current().as_mut() {
                    p.set_bytes(done, total);
                }
            }
            Event::Warning(text) => self.io.warn(&text),
            Event::Output(line) => self.io.err_line(&line),
            Event::Secret(secret) => self.io.mask(&secret),
        }
    }
}
