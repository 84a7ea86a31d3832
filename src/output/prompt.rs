//! Confirmation of destructive steps: type the app name at a terminal, or `--confirm APP`.

use std::io::{BufRead, Write};

use crate::error::{Error, Result};

/// Asks the operator to type the app name. Behind a trait so tests can script the answer.
pub trait Prompter: Send + Sync {
    /// Returns what the operator typed (trimmed), or `None` when nobody can answer.
    fn ask(&self, question: &str) -> Option<String>;

    /// Whether `ask` could get an answer at all.
    fn can_ask(&self) -> bool {
        true
    }
}

/// Reads stdin when stdin is a terminal; never blocks otherwise.
pub struct TerminalPrompter {
    pub stdin_tty: bool,
}

impl Prompter for TerminalPrompter {
    fn can_ask(&self) -> bool {
        self.stdin_tty
    }

    fn ask(&self, question: &str) -> Option<String> {
        if !self.stdin_tty {
            return None;
        }
        let mut err = std::io::stderr();
        let _ = write!(err, "{question}");
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).ok()?;
        Some(line.trim().to_string())
    }
}

/// A prompter that answers with a fixed string, or cannot answer at all.
pub struct ScriptedPrompter(pub Option<String>);

impl Prompter for ScriptedPrompter {
    fn ask(&self, _question: &str) -> Option<String> {
        self.0.clone()
    }

    fn can_ask(&self) -> bool {
        self.0.is_some()
    }
}

/// Refuses early what `confirm_destructive` would refuse later without asking: a `--confirm`
/// naming another app, or no `--confirm` where nobody can answer a prompt. Playbooks call it
/// before their read-only preflight, so a refused run sends no request at all.
pub fn confirmation_possible(
    prompter: &dyn Prompter,
    app: &str,
    action: &str,
    confirm_flag: Option<&str>,
) -> Result<()> {
    match confirm_flag {
        Some(given) if given != app => Err(Error::ConfirmationMismatch {
            app: app.to_string(),
            given: given.to_string(),
        }),
        None if !prompter.can_ask() => Err(Error::ConfirmationMissing {
            app: app.to_string(),
            action: action.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Checks the confirmation for a destructive action on `app` before anything changes.
///
/// `--confirm` must equal the app; otherwise a terminal operator must type it after reading
/// `question` (what will happen and what will be lost); without either the action is refused
/// (exit 2) rather than waiting on a prompt nobody can answer. The prompt itself, `> `, is on a
/// line of its own under the question.
pub fn confirm_destructive(
    prompter: &dyn Prompter,
    app: &str,
    action: &str,
    question: &str,
    confirm_flag: Option<&str>,
) -> Result<()> {
    if let Some(given) = confirm_flag {
        return if given == app {
            Ok(())
        } else {
            Err(Error::ConfirmationMismatch {
                app: app.to_string(),
                given: given.to_string(),
            })
        };
    }
    let asked = format!(
        "{}\nTo go on, type the app name ({app}), or run again with --confirm {app}.\n> ",
        question.trim_end()
    );
    match prompter.ask(&asked) {
        None => Err(Error::ConfirmationMissing {
            app: app.to_string(),
            action: action.to_string(),
        }),
        Some(typed) if typed == app => Ok(()),
        Some(typed) => Err(Error::ConfirmationMismatch {
            app: app.to_string(),
            given: typed,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_must_match_app() {
        let nobody = ScriptedPrompter(None);
        assert!(confirm_destructive(&nobody, "tmi-server", "x", "q", Some("tmi-server")).is_ok());
        let err = confirm_destructive(&nobody, "tmi-server", "x", "q", Some("tmi")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn no_tty_and_no_flag_refuses_with_exit_2() {
        let err =
            confirm_destructive(&ScriptedPrompter(None), "a", "Destroy", "q", None).unwrap_err();
        assert!(matches!(err, Error::ConfirmationMissing { .. }));
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--confirm a"));
    }

    #[test]
    fn typed_name_confirms() {
        let typed = ScriptedPrompter(Some("app-1".into()));
        assert!(confirm_destructive(&typed, "app-1", "Destroy", "q", None).is_ok());
        let wrong = ScriptedPrompter(Some("app-2".into()));
        assert!(confirm_destructive(&wrong, "app-1", "Destroy", "q", None).is_err());
    }
}
