//! `herokuops.toml`: per-app defaults and user playbooks. Unknown keys are errors that name the
//! file, line and column.
//!
//! ```toml
//! [apps.tmi-server]
//! expect = "schema/tmi.toml"
//! migrate = { local = "alembic upgrade head" }   # or "restart", or { command = "bin/migrate" }
//! timeout = "15m"
//!
//! [playbooks.nightly]
//! description = "Back up, then check the schema"
//! steps = ["backup.capture", "pg.verify"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::playbooks::{Playbook, StepKind, builtin};

pub const DEFAULT_FILE: &str = "herokuops.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub apps: BTreeMap<String, AppDefaults>,
    #[serde(default)]
    pub playbooks: BTreeMap<String, UserPlaybook>,
    /// Where the file was read from; relative paths in it are relative to its directory.
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDefaults {
    /// The expected-schema file for `pg.verify`.
    pub expect: Option<PathBuf>,
    pub migrate: Option<MigrateSetting>,
    /// Deadline of waits, e.g. `15m`.
    pub timeout: Option<String>,
    /// `false` skips the safety backup before destructive steps.
    pub safety_backup: Option<bool>,
    /// Plan of the add-on `swap-db` creates.
    pub plan: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum MigrateSetting {
    /// `"restart"`.
    Named(String),
    Command {
        command: String,
    },
    Local {
        local: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPlaybook {
    #[serde(default)]
    pub description: String,
    pub steps: Vec<String>,
}

/// Parses TOML into `T`, reporting errors with the file's line and column.
pub fn parse_toml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|s| line_column(text, s.start))
            .unwrap_or((1, 1));
        Error::InputFile {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_string(),
        }
    })
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

impl Config {
    /// Reads `path`, or `herokuops.toml` in the working directory when it exists.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_FILE), false),
        };
        let text = match crate::files::read_text_capped(&path, crate::files::INPUT_LIMIT) {
            Ok(text) => text,
            Err(e) if e.is_not_found() && !required => return Ok(Config::default()),
            Err(e) => return Err(Error::input(e)),
        };
        let mut config: Config = parse_toml(&text, &path)?;
        config.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (name, playbook) in &config.playbooks {
            config.check_playbook(name, playbook, &path, &text)?;
        }
        for (app, defaults) in &config.apps {
            if let Some(t) = &defaults.timeout {
                humantime::parse_duration(t).map_err(|e| {
                    Error::usage(format!("{}: apps.{app}.timeout {t:?}: {e}", path.display()))
                })?;
            }
            if let Some(MigrateSetting::Named(n)) = &defaults.migrate
                && n != "restart"
            {
                return Err(Error::usage(format!(
                    "{}: apps.{app}.migrate must be \"restart\", {{ command = \"...\" }} or {{ local = \"...\" }}",
                    path.display()
                )));
            }
        }
        Ok(config)
    }

    fn check_playbook(
        &self,
        name: &str,
        playbook: &UserPlaybook,
        path: &Path,
        text: &str,
    ) -> Result<()> {
        if builtin(name).is_some() {
            return Err(Error::usage(format!(
                "{}: playbook {name:?} would shadow the built-in one; pick another name",
                path.display()
            )));
        }
        if playbook.steps.is_empty() {
            return Err(Error::usage(format!(
                "{}: playbook {name:?} has no steps",
                path.display()
            )));
        }
        for step in &playbook.steps {
            if let Err(message) = step.parse::<StepKind>() {
                let offset = text.find(&format!("\"{step}\"")).unwrap_or(0);
                let (line, column) = line_column(text, offset);
                return Err(Error::InputFile {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message,
                });
            }
        }
        Ok(())
    }

    /// A built-in or user playbook by name.
    pub fn playbook(&self, name: &str) -> Result<Playbook> {
        if let Some(p) = builtin(name) {
            return Ok(p);
        }
        let user = self.playbooks.get(name).ok_or_else(|| {
            let mut names: Vec<String> = crate::playbooks::builtins()
                .into_iter()
                .map(|p| p.name)
                .collect();
            names.extend(self.playbooks.keys().cloned());
            Error::usage(format!(
                "unknown playbook {name:?}; playbooks are: {}",
                names.join(", ")
            ))
        })?;
        let steps = user
            .steps
            .iter()
            .map(|s| s.parse::<StepKind>().map_err(Error::Usage))
            .collect::<Result<Vec<_>>>()?;
        Ok(Playbook {
            name: name.to_string(),
            description: user.description.clone(),
            steps,
        })
    }

    /// Every playbook: built-ins first, then the user's.
    pub fn all_playbooks(&self) -> Vec<Playbook> {
        let mut all = crate::playbooks::builtins();
        all.extend(self.playbooks.keys().filter_map(|n| self.playbook(n).ok()));
        all
    }

    pub fn app(&self, app: &str) -> AppDefaults {
        let mut defaults = self.apps.get(app).cloned().unwrap_or_default();
        if let Some(expect) = defaults.expect.as_ref().filter(|e| e.is_relative()) {
            defaults.expect = Some(self.dir.join(expect));
        }
        defaults
    }
}

impl AppDefaults {
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
            .as_deref()
            .and_then(|t| humantime::parse_duration(t).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herokuops.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path))
    }

    #[test]
    fn apps_and_playbooks() {
        let config = load(
            "[apps.tmi-server]\nexpect = \"s.toml\"\nmigrate = { local = \"alembic upgrade head\" }\ntimeout = \"15m\"\n\n[playbooks.nightly]\ndescription = \"d\"\nsteps = [\"backup.capture\", \"pg.verify\"]\n",
        )
        .unwrap();
        let app = config.app("tmi-server");
        assert_eq!(
            app.migrate,
            Some(MigrateSetting::Local {
                local: "alembic upgrade head".into()
            })
        );
        assert_eq!(app.timeout(), Some(Duration::from_secs(900)));
        assert!(app.expect.unwrap().ends_with("s.toml"));
        let nightly = config.playbook("nightly").unwrap();
        assert_eq!(
            nightly.steps,
            vec![StepKind::BackupCapture, StepKind::PgVerify]
        );
        assert_eq!(
            config.all_playbooks().len(),
            crate::playbooks::builtins().len() + 1
        );
        assert_eq!(config.playbook("nope").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn unknown_keys_and_steps_name_line_and_column() {
        let err = load("[apps.x]\nexpcet = \"a\"\n").unwrap_err();
        match err {
            Error::InputFile { line, column, .. } => assert_eq!((line, column), (2, 1)),
            other => panic!("{other:?}"),
        }
        let err = load("[playbooks.p]\nsteps = [\"backup.capture\", \"pg.nope\"]\n").unwrap_err();
        match &err {
            Error::InputFile {
                line,
                column,
                message,
                ..
            } => {
                assert_eq!((*line, *column), (2, 28));
                assert!(message.contains("pg.nope"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            load("[playbooks.reset]\nsteps = [\"pg.verify\"]\n")
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            load("[apps.x]\nmigrate = \"sometimes\"\n")
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn missing_default_file_is_empty_but_a_named_one_is_required() {
        assert!(Config::load(None).is_ok());
        assert!(Config::load(Some(Path::new("/nonexistent/herokuops.toml"))).is_err());
    }
}
