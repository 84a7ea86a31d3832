//! Everything the command layer shows: streams and their TTY state, tables, progress, prompts.
//!
//! Data goes to stdout, talk (progress, prompts, warnings) to stderr. With `--json` stdout
//! carries exactly one JSON document and nothing animates.

pub mod gha;
pub mod outcome;
pub mod progress;
pub mod prompt;
pub mod sanitize;
pub mod style;
pub mod table;

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use outcome::{DryRun, Outcome};
pub use style::{ColorChoice, Look, Tone};

/// What the command line says about output, beside `--json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub quiet: bool,
    pub no_progress: bool,
    pub verbose: bool,
    pub color: ColorChoice,
}

/// How the command's result is rendered on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Human,
    Json,
}

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// The process's streams with what we know about them.
#[derive(Clone)]
pub struct Io {
    out: Sink,
    err: Sink,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
    pub mode: Mode,
    pub quiet: bool,
    pub progress: bool,
    /// How stdout and stderr look: colour, width.
    pub look_out: Look,
    pub look_err: Look,
    /// Set inside GitHub Actions: workflow commands, masks, outputs and the step summary.
    pub gha: Option<gha::Actions>,
    /// Every progress bar on stderr, when there are bars at all.
    pub board: Option<progress::Board>,
    /// Stdout carries data meant to be captured or redirected (see [`Io::stdout_is_data`]).
    stdout_data: Arc<AtomicBool>,
    /// The first write to stdout that failed; nothing more is written there after it.
    out_failure: Arc<Mutex<Option<std::io::Error>>>,
}

impl Io {
    /// The real terminal. `HEROKUOPS_FORCE_TTY=1` makes the TTY branches testable from outside.
    pub fn real(mode: Mode, settings: &Settings) -> Self {
        let forced = std::env::var("HEROKUOPS_FORCE_TTY").is_ok_and(|v| v == "1");
        let stderr_tty = forced || std::io::stderr().is_terminal();
        let stdout_tty = forced || std::io::stdout().is_terminal();
        let env = |name: &str| std::env::var(name).ok();
        let look = |tty: bool, term: console::Term| Look {
            color: settings.color.decide(tty, env),
            width: style::width(
                env("COLUMNS"),
                tty.then(|| term.size_checked().map(|(_, w)| w as usize))
                    .flatten(),
            ),
            verbose: settings.verbose,
        };
        let (quiet, no_progress) = (settings.quiet, settings.no_progress);
        Io {
            look_out: look(stdout_tty, console::Term::stdout()),
            look_err: look(stderr_tty, console::Term::stderr()),
            out: Arc::new(Mutex::new(Box::new(std::io::stdout()))),
            err: Arc::new(Mutex::new(Box::new(std::io::stderr()))),
            stdin_tty: forced || std::io::stdin().is_terminal(),
            stderr_tty,
            mode,
            quiet,
            progress: stderr_tty && !no_progress && mode == Mode::Human && !quiet,
            board: (stderr_tty && !no_progress && mode == Mode::Human && !quiet)
                .then(progress::Board::stderr),
            gha: gha::Actions::from_env(),
            stdout_data: Arc::default(),
            out_failure: Arc::default(),
        }
    }

    /// Streams captured in memory, for in-process tests.
    pub fn captured(mode: Mode) -> (Self, CapturedStreams) {
        Io::captured_with(mode, Look::PLAIN)
    }

    /// Streams captured in memory that look like a terminal's of that colour and width.
    pub fn captured_with(mode: Mode, look: Look) -> (Self, CapturedStreams) {
        let out = SharedBuf::default();
        let err = SharedBuf::default();
        let io = Io {
            out: Arc::new(Mutex::new(Box::new(out.clone()))),
            err: Arc::new(Mutex::new(Box::new(err.clone()))),
            stdin_tty: false,
            stderr_tty: false,
            mode,
            quiet: false,
            progress: false,
            look_out: look,
            look_err: look,
            gha: None,
            board: None,
            stdout_data: Arc::default(),
            out_failure: Arc::default(),
        };
        (io, CapturedStreams { out, err })
    }

    pub fn json(&self) -> bool {
        self.mode == Mode::Json
    }

    /// Writes data to stdout. A failed write is remembered (see [`Io::finish`]) and ends
    /// all writing to stdout: what follows would only be a fragment.
    pub fn out(&self, text: &str) {
        let mut failure = self.out_failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_some() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let mut written = out.write_all(text.as_bytes());
        if written.is_ok() && !text.ends_with('\n') {
            written = out.write_all(b"\n");
        }
        if let Err(e) = written.and_then(|()| out.flush()) {
            *failure = Some(e);
        }
    }

    /// The command's result, once stdout has had its say: a write that failed (a full disk,
    /// `> /dev/full`) fails a command that had succeeded; a reader that went away (`| head`)
    /// ends it quietly with the result it had.
    pub fn finish(&self, result: crate::Result<()>) -> crate::Result<()> {
        let failure = self
            .out_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match failure {
            Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe && result.is_ok() => {
                Err(crate::Error::Stdout(e))
            }
            _ => result,
        }
    }

    /// Writes status to stderr, unless `--quiet` or `--json`; server text in it was made one
    /// line where it entered (see [`sanitize`]).
    pub fn info(&self, text: &str) {
        if self.quiet || self.json() {
            return;
        }
        self.err_raw(&sanitize::terminal(text));
    }

    /// Warnings go to stderr even with `--json`, which keeps stdout a single document.
    pub fn warn(&self, text: &str) {
        if self.quiet {
            return;
        }
        self.err_raw(&sanitize::one_line(&format!("warning: {text}")));
    }

    /// A line on stderr, cleaned of escape sequences but colours, and of carriage returns (see
    /// [`sanitize`]).
    pub fn err_line(&self, text: &str) {
        self.err_raw(&sanitize::terminal(text));
    }

    /// A line on stderr as it is; above the progress bars, when there are some.
    fn err_raw(&self, text: &str) {
        let write = || {
            let mut err = self.err.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(err, "{text}");
            let _ = err.flush();
        };
        match &self.board {
            Some(board) => board.suspend(write),
            None => write(),
        }
    }

    /// A workflow command. The runner reads them from stdout, where GitHub documents them;
    /// with `--json`, or when stdout is data, they go to stderr (the runner reads those too) so
    /// what is captured or redirected stays exactly the data.
    fn workflow_command(&self, line: &str) {
        // Written as they are: a mask must match the secret byte for byte, and the runner's
        // escaping already keeps each command on its line.
        if self.json() || self.stdout_data.load(Ordering::Relaxed) {
            self.err_raw(line);
        } else {
            self.out(line);
        }
    }

    /// Says that stdout is data to capture or redirect (a URL, a file's text, a dyno's output):
    /// from now on workflow commands go to stderr, so `$(herokuops ...)` and `> FILE` get only
    /// the data. Call it before anything could emit a mask.
    pub fn stdout_is_data(&self) {
        self.stdout_data.store(true, Ordering::Relaxed);
    }

    /// Inside GitHub Actions, masks `secret` (and its password, if it is a URL) in the log from
    /// here on. Call it as soon as a secret is known, before anything could print it.
    pub fn mask(&self, secret: &str) {
        if let Some(actions) = &self.gha {
            for line in actions.masks_for(secret) {
                self.workflow_command(&line);
            }
        }
    }

    /// Opens a foldable section of the Actions log; a no-op elsewhere.
    pub fn group(&self, title: &str) {
        if self.gha.is_some() {
            self.workflow_command(&gha::group(title));
        }
    }

    pub fn endgroup(&self) {
        if self.gha.is_some() {
            self.workflow_command(&gha::endgroup());
        }
    }

    /// An error annotation on the workflow run; `message` may have several lines.
    pub fn annotate_error(&self, title: Option<&str>, message: &str) {
        if self.gha.is_some() {
            self.workflow_command(&gha::error(title, message));
        }
    }

    /// Appends step outputs to `$GITHUB_OUTPUT`. A failure to write is a warning: the work
    /// itself is done and its result already shown.
    pub fn gha_outputs(&self, outputs: &[(&str, String)]) {
        if let Some(path) = self.gha.as_ref().and_then(|a| a.output.as_ref())
            && let Err(e) = gha::append_outputs(path, outputs)
        {
            self.warn(&format!(
                "could not write $GITHUB_OUTPUT ({}): {e}",
                path.display()
            ));
        }
    }

    /// Appends Markdown to `$GITHUB_STEP_SUMMARY`, within GitHub's size limit.
    pub fn gha_summary(&self, markdown: &str) {
        if let Some(path) = self.gha.as_ref().and_then(|a| a.summary.as_ref())
            && let Err(e) = gha::append_summary(path, markdown)
        {
            self.warn(&format!(
                "could not write $GITHUB_STEP_SUMMARY ({}): {e}",
                path.display()
            ));
        }
    }

    /// Renders a result: the JSON document with `--json`, the human text otherwise.
    pub fn render(&self, json: &serde_json::Value, human: impl FnOnce() -> String) {
        match self.mode {
            Mode::Json => self.out(&serde_json::to_string_pretty(json).unwrap_or_default()),
            Mode::Human => {
                let text = human();
                if !text.is_empty() {
                    self.out(&sanitize::block(&text));
                }
            }
        }
    }
}

/// A clonable in-memory writer.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct CapturedStreams {
    pub out: SharedBuf,
    pub err: SharedBuf,
}
