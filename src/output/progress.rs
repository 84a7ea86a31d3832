//! Progress for long operations: a bar or spinner on a terminal, timestamped lines otherwise,
//! nothing with `--json` or `--quiet`. Library code reports through callbacks; this turns the
//! callbacks into output.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::Io;

pub enum Progress {
    Bar(ProgressBar),
    Lines {
        io: Io,
        label: String,
        started: Instant,
        last: Option<Instant>,
        every: Duration,
    },
    Silent,
}

impl Progress {
    /// A byte-counting bar (length may be learned later).
    pub fn bytes(io: &Io, label: &str) -> Self {
        Self::make(io, label, true)
    }

    /// A spinner with elapsed time, for waits.
    pub fn spinner(io: &Io, label: &str) -> Self {
        Self::make(io, label, false)
    }

    fn make(io: &Io, label: &str, bytes: bool) -> Self {
        if io.json() || io.quiet {
            return Progress::Silent;
        }
        if io.progress {
            let bar = if bytes {
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            } else {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            };
            bar.set_message(label.to_string());
            return Progress::Bar(bar);
        }
        io.info(&format!("{} {label}", timestamp()));
        Progress::Lines {
            io: io.clone(),
            label: label.to_string(),
            started: Instant::now(),
            last: None,
            every: Duration::from_secs(10),
        }
    }

    /// Bytes done out of an optional total.
    pub fn set_bytes(&mut self, done: u64, total: Option<u64>) {
        match self {
            Progress::Bar(bar) => {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
            Progress::Lines { .. } => {
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
            Progress::Silent => {}
        }
    }

    /// A status message (e.g. the current state of a wait).
    pub fn status(&mut self, text: &str) {
        let text = &*super::sanitize::one_line(text);
        match self {
            Progress::Bar(bar) => bar.set_message(text.to_string()),
            Progress::Lines { .. } => self.line(text, false),
            Progress::Silent => {}
        }
    }

    fn line(&mut self, text: &str, force: bool) {
        if let Progress::Lines {
            io,
            label,
            started,
            last,
            every,
        } = self
        {
            let now = Instant::now();
            if force || last.is_none_or(|l| now.duration_since(l) >= *every) {
                *last = Some(now);
                io.info(&format!(
                    "{} {label}: {text} ({}s)",
                    timestamp(),
                    started.elapsed().as_secs()
                ));
            }
        }
    }

    pub fn finish(self, text: &str) {
        match self {
            Progress::Bar(bar) => bar.finish_with_message(text.to_string()),
            mut lines @ Progress::Lines { .. } => lines.line(text, true),
            Progress::Silent => {}
        }
    }

    pub fn abandon(self) {
        if let Progress::Bar(bar) = self {
            bar.abandon();
        }
    }
}

pub(crate) fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (h, m, s) = ((now / 3600) % 24, (now / 60) % 60, now % 60);
    format!("[{h:02}:{m:02}:{s:02}Z]")
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_are_humane() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(200 * 1024 * 1024), "200.0 MiB");
    }
}
