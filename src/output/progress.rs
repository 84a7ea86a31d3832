//! Progress of long operations. On a terminal: a spinner or a byte bar, drawn only once there is
//! something to show, that ends as one line (`✓ backup b004  3.2s`) or vanishes; every bar
//! belongs to one [`Board`], so lines printed meanwhile go above the bars, not through them. In
//! a pipe or a log: timestamped lines. With `--json` or `--quiet`: nothing.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Io;
use super::style::Tone;

/// The one owner of every bar on stderr.
#[derive(Clone)]
pub struct Board(MultiProgress);

impl Board {
    pub fn stderr() -> Board {
        Board(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
    }

    /// Runs `print` with the bars taken off the screen, then draws them again below.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.0.suspend(print)
    }

    fn add(&self, bar: ProgressBar) -> ProgressBar {
        self.0.add(bar)
    }
}

/// What a progress shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A spinner with the time taken, for waits.
    Spinner,
    /// A bar of bytes done out of a total learned on the way.
    Bytes,
}

/// One operation's progress.
pub struct Progress {
    io: Io,
    label: String,
    kind: Kind,
    started: Instant,
    bar: Option<ProgressBar>,
    /// When the last timestamped line was written (pipes and logs).
    last_line: Option<Instant>,
}

/// Timestamped lines come at most this often, whatever the updates.
const LINE_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    /// Progress labelled `label`; nothing is drawn until there is something to show.
    pub fn new(io: &Io, label: &str, kind: Kind) -> Progress {
        let progress = Progress::unstarted(io, label, kind);
        if progress.lines() {
            progress.io.info(&format!("{} {label}", timestamp()));
        }
        progress
    }

    /// Progress under a heading already shown (a playbook's step): no opening line in a log,
    /// and on a terminal a spinner at once, since the step is under way.
    pub fn under_heading(io: &Io, label: &str, kind: Kind) -> Progress {
        let mut progress = Progress::unstarted(io, label, kind);
        progress.bar();
        progress
    }

    fn unstarted(io: &Io, label: &str, kind: Kind) -> Progress {
        Progress {
            io: io.clone(),
            label: label.to_string(),
            kind,
            started: Instant::now(),
            bar: None,
            last_line: None,
        }
    }

    /// Whether this progress writes timestamped lines rather than a bar.
    fn lines(&self) -> bool {
        !self.io.progress && !self.io.quiet && !self.io.json()
    }

    /// The bar, created on first use.
    fn bar(&mut self) -> Option<&ProgressBar> {
        let board = self.io.board.as_ref()?;
        if self.bar.is_none() {
            // Added to the board before it draws anything: a bar that drew on its own first
            // would leave that frame behind on the screen.
            let bar = board.add(match self.kind {
                Kind::Spinner => ProgressBar::new_spinner(),
                Kind::Bytes => ProgressBar::new(0),
            });
            match self.kind {
                Kind::Spinner => {
                    bar.set_style(style("{spinner} {msg} ({elapsed})"));
                    bar.set_message(self.label.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                Kind::Bytes => {
                    bar.set_style(
                        style("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                            .progress_chars("=> "),
                    );
                    bar.set_message(self.label.clone());
                }
            }
            self.bar = Some(bar);
        }
        self.bar.as_ref()
    }

    /// A new state of what is being waited on.
    pub fn status(&mut self, text: &str) {
        let text = &*super::sanitize::one_line(text);
        // A message wider than the terminal would wrap, and the bar would redraw below itself.
        let room = self
            .io
            .look_err
            .width
            .unwrap_or(100)
            .saturating_sub(16)
            .max(20);
        let message = super::style::cut(&format!("{}: {text}", self.label), room);
        if let Some(bar) = self.bar() {
            bar.set_message(message);
        } else if self.lines() {
            self.line(text, false);
        }
    }

    /// Bytes done out of an optional total.
    pub fn set_bytes(&mut self, done: u64, total: Option<u64>) {
        if let Some(bar) = self.bar() {
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.set_position(done);
        } else if self.lines() {
            let text = match total {
                Some(t) if t > 0 => format!(
                    "{} of {} ({}%)",
                    human_bytes(done),
                    human_bytes(t),
                    done * 100 / t
                ),
                _ => human_bytes(done),
            };
            self.line(&text, false);
        }
    }

    fn line(&mut self, text: &str, force: bool) {
        let now = Instant::now();
        if force
            || self
                .last_line
                .is_none_or(|l| now.duration_since(l) >= LINE_EVERY)
        {
            self.last_line = Some(now);
            self.io.info(&format!(
                "{} {}: {text} ({}s)",
                timestamp(),
                self.label,
                self.started.elapsed().as_secs()
            ));
        }
    }

    /// Ends it as done: one line saying what was done and how long it took.
    pub fn finish(self, text: &str) {
        self.end(true, text);
    }

    /// Ends it as failed.
    pub fn fail(self, text: &str) {
        self.end(false, text);
    }

    fn end(mut self, done: bool, text: &str) {
        let elapsed = self.started.elapsed();
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.lines() {
            self.line(text, true);
        } else if self.io.progress {
            self.io.info(&final_line(&self.io, done, text, elapsed, ""));
        }
    }
}

impl Drop for Progress {
    /// An abandoned progress vanishes: nothing half-drawn stays on the screen.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `✓ pg.drop-schema  0.4s  dropped 25 tables`: what, how long, and (maybe) what came of it,
/// coloured where stderr is.
pub fn final_line(io: &Io, done: bool, what: &str, elapsed: Duration, detail: &str) -> String {
    let look = io.look_err;
    let mark = if done {
        look.paint(Tone::Good, "✓")
    } else {
        look.paint(Tone::Bad, "✗")
    };
    let time = look.paint(Tone::Dim, &format!("{:.1}s", elapsed.as_secs_f64()));
    let line = format!("{mark} {what}  {time}  {detail}");
    line.trim_end().to_string()
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `[10:30:00Z]`, for the lines of a log.
pub(crate) fn timestamp() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    format!("[{}]", &now["2026-11-22T".len()..])
}

/// Bytes in binary units (`1.50 KiB`, `200.00 MiB`): the one unit system of every output.
pub fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Mode;

    #[test]
    fn bytes_are_humane() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_bytes(200 * 1024 * 1024), "200.00 MiB");
    }

    #[test]
    fn a_log_gets_timestamped_lines_and_json_gets_nothing() {
        let (io, streams) = Io::captured(Mode::Human);
        let mut progress = Progress::new(&io, "backing up tmi-server", Kind::Bytes);
        progress.set_bytes(512, Some(1024));
        progress.finish("backup b004");
        let err = streams.err.contents();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        assert!(
            lines[0].starts_with('[') && lines[0].ends_with("Z] backing up tmi-server"),
            "{err}"
        );
        assert!(lines[1].contains("512 B of 1.00 KiB (50%)"), "{err}");
        assert!(
            lines[2].contains("backing up tmi-server: backup b004"),
            "{err}"
        );

        let (io, streams) = Io::captured(Mode::Json);
        let mut progress = Progress::new(&io, "x", Kind::Spinner);
        progress.status("waiting");
        progress.finish("done");
        assert_eq!(streams.err.contents(), "");
    }

    #[test]
    fn the_final_line_says_what_and_how_long() {
        let (io, _) = Io::captured(Mode::Human);
        let line = final_line(
            &io,
            true,
            "pg.drop-schema",
            Duration::from_millis(400),
            "dropped 25 tables",
        );
        assert_eq!(line, "✓ pg.drop-schema  0.4s  dropped 25 tables");
    }
}
