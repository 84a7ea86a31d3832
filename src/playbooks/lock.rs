//! One run per app at a time. A playbook run holds, for its whole life, a lock of its app on
//! this machine: `flock(2)` on `$XDG_STATE_HOME/herokuops/locks/APP.lock`, which the kernel
//! releases when the process ends however it ends (a kill included), so a lock is never left
//! behind. The file names the holder (run, playbook, host, process, start), for the run that
//! is refused. Two machines are kept apart by a Postgres advisory lock on the app's database
//! (see [`crate::pg::lock`]), which the run takes while planning.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};

use crate::files;

/// Who holds a lock: enough to find the run and its process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub run_id: String,
    pub playbook: String,
    pub host: String,
    pub pid: u32,
    pub started_at: String,
}

impl Holder {
    /// This process, running `run_id`.
    pub fn this_process(run_id: &str, playbook: &str) -> Holder {
        Holder {
            run_id: run_id.to_string(),
            playbook: playbook.to_string(),
            host: host_name(),
            pid: std::process::id(),
            started_at: super::journal::now_rfc3339(),
        }
    }

    /// How the run names itself to Postgres (`application_name`, at most 63 bytes), so that a
    /// run refused by the database lock can say who holds it.
    pub fn application_name(&self) -> String {
        let mut name = format!("herokuops {}@{}", self.run_id, self.host);
        while name.len() > 63 {
            name.pop();
        }
        name
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} ({}) on {}, process {}, started at {}",
            self.run_id, self.playbook, self.host, self.pid, self.started_at
        )
    }
}

/// This machine's name.
pub fn host_name() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    if name.is_empty() {
        "unknown-host".into()
    } else {
        name
    }
}

/// Where app locks live: beside the run journals' directory.
pub fn default_dir() -> PathBuf {
    let runs = super::journal::default_dir();
    runs.parent()
        .map(|p| p.join("locks"))
        .unwrap_or_else(|| runs.join("locks"))
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the app; `holder` is what its lock file says (if readable).
    #[error("another herokuops run is working on {app}: {}", .holder.as_ref().map(ToString::to_string).unwrap_or_else(|| "its lock file does not say which".into()))]
    Held {
        app: String,
        holder: Option<Box<Holder>>,
    },
    #[error("could not take the lock of {app} ({})", .path.display())]
    Io {
        app: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The lock of one app on this machine, held until dropped.
#[derive(Debug)]
pub struct AppLock {
    _file: File,
    path: PathBuf,
}

impl AppLock {
    /// Takes the app's lock without waiting, and writes the holder into it; fails naming the
    /// holder when another process has it.
    pub fn acquire(dir: &Path, app: &str, holder: &Holder) -> Result<AppLock, LockError> {
        let name: String = app
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.lock"));
        let io = |source| LockError::Io {
            app: app.to_string(),
            path: path.clone(),
            source,
        };
        files::create_private_dir_all(dir).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(files::PRIVATE)
            .custom_flags(crate::files::NO_FOLLOW)
            .open(&path)
            .map_err(io)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut text = String::new();
                let _ = (&file).take(64 * 1024).read_to_string(&mut text);
                return Err(LockError::Held {
                    app: app.to_string(),
                    holder: serde_json::from_str(&text).ok().map(Box::new),
                });
            }
            Err(e) => return Err(io(e.into())),
        }
        // Ours now: say who we are, for whoever is refused.
        let text = serde_json::to_vec(holder).unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(&text).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(AppLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_11_a_second_lock_of_one_app_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = Holder::this_process("20261122T103000Z-aaaa", "reset");
        let held = AppLock::acquire(dir.path(), "tmi-server", &first).unwrap();
        let second = Holder::this_process("20261122T103001Z-bbbb", "swap-db");
        // flock is per open file: a second open in this process contends like another process.
        match AppLock::acquire(dir.path(), "tmi-server", &second) {
            Err(LockError::Held { holder, .. }) => assert_eq!(holder.as_deref(), Some(&first)),
            other => panic!("not refused: {other:?}"),
        }
        // Another app is free.
        AppLock::acquire(dir.path(), "other-app", &second).unwrap();
        drop(held);
        let taken = AppLock::acquire(dir.path(), "tmi-server", &second).unwrap();
        let text = std::fs::read_to_string(taken.path()).unwrap();
        assert_eq!(serde_json::from_str::<Holder>(&text).unwrap(), second);
    }

    #[test]
    fn an_application_name_fits_postgres() {
        let mut holder = Holder::this_process("20261122T103000Z-aaaa", "reset");
        holder.host = "h".repeat(100);
        assert!(holder.application_name().len() <= 63);
        assert!(
            holder
                .application_name()
                .starts_with("herokuops 20261122T103000Z-aaaa@h")
        );
    }
}
