//! What a command did, as data. The command decides what happened; this layer decides how it
//! looks: text for a person, one JSON document with `--json`, and what GitHub Actions keeps
//! (outputs, the step summary, annotations). A fleet reads the same value for its rows.

use serde::Serialize;
use serde_json::Value;

use super::Io;
use super::style::Look;

/// A value as JSON; every serializable outcome has it.
pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl<T: Serialize> ToJson for T {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The typed result of a command.
pub trait Outcome: ToJson + Send + Sync {
    /// The text for a person, on stdout; empty for nothing.
    fn human(&self, look: &Look) -> String;

    /// One line saying what happened, for a fleet's row.
    fn summary(&self) -> String;

    /// What the outcome leaves in a GitHub Actions run; nothing by default.
    fn github(&self, _io: &Io) {}

    /// Whether the text is data to keep byte for byte (a file's content sent to stdout), which
    /// the terminal's cleaning must not touch.
    fn is_data(&self) -> bool {
        false
    }

    /// Whether the command's output was a stream it wrote as it came (see [`Streamed`]).
    fn streamed(&self) -> bool {
        false
    }
}

/// The outcome of a command whose output is a stream, written line by line as it came: a log
/// tail, an interactive psql. There is nothing left to show once it ends.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Streamed;

impl Outcome for Streamed {
    fn human(&self, _look: &Look) -> String {
        String::new()
    }

    fn summary(&self) -> String {
        "done".into()
    }

    fn streamed(&self) -> bool {
        true
    }
}

impl Io {
    /// Shows a command's outcome: its JSON document with `--json`, its text otherwise; then
    /// what GitHub Actions keeps of it.
    pub fn show(&self, outcome: &dyn Outcome) {
        if outcome.streamed() {
            return;
        }
        if self.json() {
            self.out(&serde_json::to_string_pretty(&outcome.to_json()).unwrap_or_default());
        } else {
            let text = outcome.human(&self.look_out);
            if !text.is_empty() {
                match outcome.is_data() {
                    true => self.out(&text),
                    false => self.out(&super::sanitize::terminal(&text)),
                }
            }
        }
        outcome.github(self);
    }
}

/// A dry run: what would be done, changing nothing.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub dry_run: bool,
    /// What would happen, in a sentence.
    pub would: String,
    /// The requests it would send, as the client would send them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
}

impl DryRun {
    pub fn new(would: impl Into<String>, requests: Vec<String>) -> DryRun {
        DryRun {
            dry_run: true,
            would: would.into(),
            requests,
        }
    }
}

impl Outcome for DryRun {
    fn human(&self, _look: &Look) -> String {
        let mut text = format!("would {}", self.would);
        for request in &self.requests {
            text.push_str(&format!("\n  {request}"));
        }
        text
    }

    fn summary(&self) -> String {
        "dry run: nothing changed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Mode;

    #[derive(Serialize)]
    struct Text {
        text: String,
        data: bool,
    }

    impl Outcome for Text {
        fn human(&self, _look: &Look) -> String {
            self.text.clone()
        }

        fn summary(&self) -> String {
            String::new()
        }

        fn is_data(&self) -> bool {
            self.data
        }
    }

    fn shown(text: &str, data: bool) -> String {
        let (io, captured) = Io::captured(Mode::Human);
        io.show(&Text {
            text: text.into(),
            data,
        });
        captured.out.contents()
    }

    #[test]
    fn text_for_a_person_is_cleaned_but_data_is_kept_byte_for_byte() {
        let hostile = "name = \"a\u{202E}b\"\n\u{1b}[2Jcleared";
        assert_eq!(shown(hostile, false), "name = \"ab\"\ncleared\n");
        assert_eq!(shown(hostile, true), format!("{hostile}\n"));
    }
}
