//! App fixtures: one TOML file per app in the fixtures directory (`fixtures/sandbox/*.toml`).
//!
//! ```toml
//! name = "tmi-server"
//! stack = "heroku-24"
//! [config_vars]
//! NODE_ENV = "production"
//! [[formation]]
//! type = "web"
//! command = "bin/tmi-server"
//! [[addons]]
//! plan = "heroku-postgresql:essential-0"
//! attachments = ["DATABASE", "HEROKU_POSTGRESQL_COBALT"]
//! [boot]
//! sql_file = "../schema/tmi/schema.sql"   # relative to this file
//! unless_table = "threat_models"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::SandboxError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppFixture {
    pub name: String,
    #[serde(default = "default_stack")]
    pub stack: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub maintenance: bool,
    #[serde(default)]
    pub config_vars: BTreeMap<String, String>,
    #[serde(default)]
    pub formation: Vec<ProcessFixture>,
    #[serde(default)]
    pub addons: Vec<AddonFixture>,
    #[serde(default)]
    pub boot: Option<BootFixture>,
}

fn default_stack() -> String {
    "heroku-24".into()
}

fn default_region() -> String {
    "us".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessFixture {
    #[serde(rename = "type")]
    pub process_type: String,
    pub command: String,
    #[serde(default = "one")]
    pub quantity: u32,
    #[serde(default = "default_size")]
    pub size: String,
}

fn one() -> u32 {
    1
}

fn default_size() -> String {
    "Basic".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonFixture {
    /// `service:plan`; only `heroku-postgresql:*` add-ons exist in the sandbox.
    pub plan: String,
    /// The add-on's name; generated Heroku-style when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Attachment names in order; each gives a `NAME_URL` config var.
    pub attachments: Vec<String>,
    /// SQL run once when the database is created (seed data).
    #[serde(default)]
    pub seed_sql: Option<String>,
}

/// What the app does when a dyno starts: an app that migrates at boot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootFixture {
    /// SQL to run, inline.
    #[serde(default)]
    pub sql: Option<String>,
    /// SQL to run, from a file relative to the fixture file.
    #[serde(default)]
    pub sql_file: Option<PathBuf>,
    /// Skip the SQL when this table already exists (the schema is in place).
    #[serde(default)]
    pub unless_table: Option<String>,
    /// How long a dyno stays `starting` after the migration, e.g. `"300ms"`.
    #[serde(default, with = "humantime_opt")]
    pub boot_time: Option<Duration>,
}

mod humantime_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The boot migration with its SQL loaded.
#[derive(Debug, Clone)]
pub struct BootMigration {
    pub sql: String,
    pub unless_table: Option<String>,
    pub boot_time: Duration,
}

/// One app as loaded: the fixture plus its boot migration's SQL.
#[derive(Debug, Clone)]
pub struct LoadedApp {
    pub fixture: AppFixture,
    pub boot: Option<BootMigration>,
}

const DEFAULT_BOOT_TIME: Duration = Duration::from_millis(300);

/// Loads every `*.toml` in `dir`, sorted by file name. An empty directory is an error: a sandbox
/// without apps serves nothing useful.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedApp>, SandboxError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SandboxError::Fixture {
        path: dir.to_path_buf(),
        message: format!("cannot read the fixtures directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SandboxError::Fixture {
            path: dir.to_path_buf(),
            message: "no *.toml app fixtures in this directory".into(),
        });
    }
    let mut apps: Vec<LoadedApp> = Vec::new();
    for file in files {
        let app = load_file(&file)?;
        if apps.iter().any(|a| a.fixture.name == app.fixture.name) {
            return Err(SandboxError::Fixture {
                path: file,
                message: format!("app {} is defined twice", app.fixture.name),
            });
        }
        apps.push(app);
    }
    Ok(apps)
}

/// Every app as `n` copies named `NAME-01` to `NAME-N` (wider numbers past 99), in that order.
pub fn copies(apps: &[LoadedApp], n: usize) -> Result<Vec<LoadedApp>, String> {
    if n == 0 {
        return Err("the number of app copies must be at least 1".into());
    }
    let width = n.to_string().len().max(2);
    let mut out = Vec::with_capacity(apps.len() * n);
    for app in apps {
        for i in 1..=n {
            let mut copy = app.clone();
            copy.fixture.name = format!("{}-{i:0width$}", app.fixture.name);
            // Named add-ons are unique on Heroku; the copies get generated names.
            for addon in &mut copy.fixture.addons {
                addon.name = None;
            }
            validate(&copy.fixture)?;
            out.push(copy);
        }
    }
    Ok(out)
}

pub fn load_file(path: &Path) -> Result<LoadedApp, SandboxError> {
    let fail = |message: String| SandboxError::Fixture {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let fixture: AppFixture = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    validate(&fixture).map_err(fail)?;
    let boot = match &fixture.boot {
        None => None,
        Some(boot) => {
            let sql = match (&boot.sql, &boot.sql_file) {
                (Some(sql), None) => sql.clone(),
                (None, Some(file)) => {
                    let full = path.parent().unwrap_or(Path::new(".")).join(file);
                    std::fs::read_to_string(&full)
                        .map_err(|e| fail(format!("boot.sql_file {}: {e}", full.display())))?
                }
                _ => return Err(fail("[boot] needs exactly one of sql or sql_file".into())),
            };
            Some(BootMigration {
                sql,
                unless_table: boot.unless_table.clone(),
                boot_time: boot.boot_time.unwrap_or(DEFAULT_BOOT_TIME),
            })
        }
    };
    Ok(LoadedApp { fixture, boot })
}

fn validate(app: &AppFixture) -> Result<(), String> {
    let name_ok = app.name.len() >= 2
        && app.name.starts_with(|c: char| c.is_ascii_lowercase())
        && app
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(format!("{:?} is not a Heroku app name", app.name));
    }
    for addon in &app.addons {
        if !addon.plan.starts_with("heroku-postgresql:") {
            return Err(format!(
                "add-on plan {:?}: only heroku-postgresql plans exist in the sandbox",
                addon.plan
            ));
        }
        if addon.attachments.is_empty() {
            return Err(format!("add-on {:?} has no attachments", addon.plan));
        }
        for name in &addon.attachments {
            if !is_attachment_name(name) {
                return Err(format!(
                    "attachment name {name:?} must be upper-case letters, digits and underscores"
                ));
            }
        }
    }
    Ok(())
}

/// Attachment names as Heroku allows them (they become `NAME_URL`).
pub fn is_attachment_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_fixture_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sandbox");
        let apps = load_dir(&dir).unwrap();
        let tmi = apps
            .iter()
            .find(|a| a.fixture.name == "tmi-server")
            .unwrap();
        assert_eq!(tmi.fixture.addons[0].attachments[0], "DATABASE");
        let boot = tmi.boot.as_ref().unwrap();
        assert!(boot.sql.to_lowercase().contains("create table"));
        let types: Vec<&str> = tmi
            .fixture
            .formation
            .iter()
            .map(|p| p.process_type.as_str())
            .collect();
        assert_eq!(types, ["web", "worker"]);
    }

    #[test]
    fn copies_are_numbered_and_keep_the_fixture() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sandbox");
        let apps = load_dir(&dir).unwrap();
        let tmi: Vec<LoadedApp> = apps
            .into_iter()
            .filter(|a| a.fixture.name == "tmi-server")
            .collect();
        let many = copies(&tmi, 50).unwrap();
        assert_eq!(many.len(), 50);
        assert_eq!(many[0].fixture.name, "tmi-server-01");
        assert_eq!(many[49].fixture.name, "tmi-server-50");
        assert!(many.iter().all(|a| a.boot.is_some()));
        assert_eq!(copies(&tmi, 100).unwrap()[0].fixture.name, "tmi-server-001");
        assert!(copies(&tmi, 0).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_names_are_refused() {
        assert!(toml::from_str::<AppFixture>("name = \"a\"\nbogus = 1").is_err());
        let bad = AppFixture {
            name: "Bad_Name".into(),
            stack: default_stack(),
            region: default_region(),
            maintenance: false,
            config_vars: Default::default(),
            formation: vec![],
            addons: vec![],
            boot: None,
        };
        assert!(validate(&bad).is_err());
        assert!(is_attachment_name("HEROKU_POSTGRESQL_AMBER"));
        assert!(!is_attachment_name("database"));
    }
}
