//! The run journal: after every step the run's state is written atomically to
//! `$XDG_STATE_HOME/herokuops/runs/ID.json` (or `--journal-dir`), so a failed or interrupted run
//! can be shown and resumed. It holds names and ids, never a secret.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::StepKind;
use crate::files;
use crate::steps::addons::Creation;
use crate::steps::copy::Copying;
use crate::steps::promote::Promotion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub step: StepKind,
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// What the step did, in one line (`created postgresql-xyz`, `backup b004`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a run created or changed, so a resumed run reuses it instead of doing it again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunState {
    /// The add-on this run creates (swap-db).
    #[serde(flatten)]
    pub addon: Creation,
    /// Where its promotion moved the app from.
    #[serde(flatten)]
    pub promotion: Promotion,
    /// The copy into the new add-on (swap-db --copy).
    #[serde(flatten)]
    pub copy: Copying,
    /// The backup taken before the first destructive step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_backup: Option<String>,
    /// How taking it went (when, how long, the error), as for any step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_backup_step: Option<StepRecord>,
    /// The backup a `backup.capture` step took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Maintenance mode was turned on by this run (and so must be turned off by it).
    #[serde(default)]
    pub maintenance_on_by_run: bool,
    /// What this run destroyed, as it happened (`schema public of postgresql-x, 25 tables,
    /// was dropped`): a failed run's report says so, and how to get it back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destroyed: Vec<String>,
    /// A one-off dyno this run started (a migration, a `run` step) that had not exited when
    /// last seen; a stopped run stops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_off_dyno: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub id: String,
    pub playbook: String,
    pub app: String,
    pub status: RunStatus,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The options the run was started with, to resume it the same way (no secrets).
    pub options: serde_json::Value,
    pub steps: Vec<StepRecord>,
    #[serde(default)]
    pub state: RunState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The process that runs (or last ran) it, to tell a run in progress from one whose
    /// process was killed without a chance to record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl Journal {
    /// Says `running`, but its process is gone (killed, or the machine restarted): resumable.
    pub fn is_abandoned(&self) -> bool {
        self.status == RunStatus::Running && !self.pid.is_some_and(process_alive)
    }

    /// The status as `runs list` shows it.
    pub fn status_text(&self) -> &'static str {
        match self.status {
            _ if self.is_abandoned() => "abandoned",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn new(playbook: &str, app: &str, steps: &[StepKind], options: serde_json::Value) -> Self {
        Journal {
            id: new_run_id(),
            playbook: playbook.to_string(),
            app: app.to_string(),
            status: RunStatus::Running,
            started_at: now_rfc3339(),
            finished_at: None,
            options,
            steps: steps
                .iter()
                .map(|s| StepRecord {
                    step: *s,
                    status: StepStatus::Pending,
                    started_at: None,
                    duration_ms: None,
                    detail: None,
                    error: None,
                })
                .collect(),
            state: RunState::default(),
            error: None,
            pid: None,
        }
    }

    /// The first step not done yet: where a resumed run continues.
    pub fn resume_index(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.status != StepStatus::Done)
    }
}

/// Where journals live.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("herokuops").join("runs")
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("could not write the run journal {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no run {id} in {dir}")]
    NotFound { id: String, dir: PathBuf },
    #[error("the run journal {path} is unreadable: {message}")]
    Corrupt { path: PathBuf, message: String },
}

/// Writes the journal atomically: a temporary file of its own in the same directory (two
/// processes never share one), then a rename. Journals are private (0600) in directories
/// created private (0700): they name the app, its databases and its backups.
pub fn save(dir: &Path, journal: &Journal) -> Result<PathBuf, JournalError> {
    let path = dir.join(format!("{}.json", journal.id));
    let write = |source| JournalError::Write {
        path: path.clone(),
        source,
    };
    files::create_private_dir_all(dir).map_err(write)?;
    let text = serde_json::to_vec_pretty(journal).unwrap_or_default();
    files::replace_atomically(&path, &text, files::PRIVATE).map_err(write)?;
    Ok(path)
}

pub fn load(dir: &Path, id: &str) -> Result<Journal, JournalError> {
    let safe = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let path = dir.join(format!("{id}.json"));
    if !safe || !path.exists() {
        return Err(JournalError::NotFound {
            id: id.to_string(),
            dir: dir.to_path_buf(),
        });
    }
    let text =
        files::read_text_capped(&path, files::INPUT_LIMIT).map_err(|e| JournalError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
    serde_json::from_str(&text).map_err(|e| JournalError::Corrupt {
        path,
        message: e.to_string(),
    })
}

/// Whether a process with this id exists (signal 0 checks without sending anything). Pid 0
/// is no process: signalling it would reach our own process group.
fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // It exists, and belongs to someone else.
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// All journals in `dir`, newest first; unreadable files are skipped.
pub fn list(dir: &Path) -> Vec<Journal> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut runs: Vec<Journal> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_string_lossy().ends_with(".json")
                && !e.file_name().to_string_lossy().starts_with('.')
        })
        .filter_map(|e| files::read_text_capped(&e.path(), files::INPUT_LIMIT).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    runs.sort_by(|a: &Journal, b: &Journal| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
    runs
}

/// `20261122T103000Z-3f9a`: sortable by time, unique enough for one machine.
fn new_run_id() -> String {
    let stamp: String = now_rfc3339()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let suffix: u16 = rand::random();
    format!("{stamp}-{suffix:04x}")
}

/// The current UTC time as `2026-11-22T10:30:00Z`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_journal_whose_process_is_gone_is_abandoned() {
        let mut journal = Journal::new("reset", "app", &[StepKind::Migrate], serde_json::json!({}));
        journal.pid = Some(std::process::id());
        assert!(!journal.is_abandoned());
        assert_eq!(journal.status_text(), "running");
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        journal.pid = Some(gone.id());
        gone.wait().unwrap();
        assert!(journal.is_abandoned());
        assert_eq!(journal.status_text(), "abandoned");
        journal.status = RunStatus::Failed;
        assert!(!journal.is_abandoned(), "only a run that says running");
    }

    #[test]
    fn times_are_rfc3339_in_utc_to_the_second() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-11-22T10:30:00Z".len(), "{now}");
        assert!(now.ends_with('Z'), "{now}");
        assert!(humantime::parse_rfc3339(&now).is_ok(), "{now}");
        assert!(!process_alive(0), "pid 0 is no process");
    }

    #[test]
    fn save_load_list_and_resume_point() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::new(
            "reset",
            "tmi-server",
            &[StepKind::PgDropSchema, StepKind::Migrate],
            serde_json::json!({}),
        );
        j.steps[0].status = StepStatus::Done;
        j.state.safety_backup = Some("b004".into());
        let path = save(dir.path(), &j).unwrap();
        assert!(path.ends_with(format!("{}.json", j.id)));
        let back = load(dir.path(), &j.id).unwrap();
        assert_eq!(back.state, j.state);
        assert_eq!(back.resume_index(), Some(1));
        assert_eq!(list(dir.path()).len(), 1);
        assert!(matches!(
            load(dir.path(), "../etc/passwd"),
            Err(JournalError::NotFound { .. })
        ));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn item_08_journals_are_private_in_a_private_directory() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state/herokuops/runs");
        let j = Journal::new(
            "reset",
            "tmi-server",
            &[StepKind::PgDropSchema],
            serde_json::json!({}),
        );
        let path = save(&dir, &j).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("state/herokuops")), 0o700);
        save(&dir, &j).unwrap();
        assert_eq!(mode(&path), 0o600, "still private once replaced");
    }
}
