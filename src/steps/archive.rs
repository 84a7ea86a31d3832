//! A local archive of an app's backups, as the ops guide's cron script kept one: each backup
//! downloaded once into a directory as `APP-bNNN-YYYYMMDDTHHMMSSZ.dump` (the backup's name and
//! the time it was taken), and the oldest of those files removed beyond a number to keep. A
//! file the archive did not name is never touched.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::api::ApiClient;
use crate::api::models::{Transfer, backup_num};

use super::backup::{self, Download};
use super::{Observer, StepError};

/// What one archive run did.
#[derive(Debug, Clone, Serialize)]
pub struct Archived {
    pub dir: PathBuf,
    pub backup: String,
    pub file: String,
    /// `None` when the file was in the archive already.
    pub download: Option<Download>,
    /// The archive's own files removed, oldest first.
    pub removed: Vec<String>,
    /// The archive's own files left, newest first.
    pub kept: Vec<String>,
}

/// `2026-01-05T10:00:00Z` (fractions of a second dropped) as `20260105T100000Z`.
fn stamp(rfc3339: &str) -> Option<String> {
    let whole = match rfc3339.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => rfc3339.to_string(),
    };
    let compact: String = whole.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    is_stamp(&compact).then_some(compact)
}

fn is_stamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
}

/// The archive's name of a backup: `APP-b005-20260105T100000Z.dump`.
pub fn file_name(app: &str, backup: &Transfer) -> Option<String> {
    let taken = stamp(backup.created_at.as_deref()?)?;
    Some(format!("{app}-{}-{taken}.dump", backup.display_name()))
}

/// The time and number in a name the archive gave for `app`, or `None` for any other file
/// (another app's, a `.partial` download, anything a person put there).
pub fn own_file(app: &str, name: &str) -> Option<(String, u64)> {
    let rest = name
        .strip_prefix(app)?
        .strip_prefix('-')?
        .strip_suffix(".dump")?;
    let (backup, taken) = rest.split_once('-')?;
    let num = backup_num(backup).filter(|_| backup.starts_with(['a', 'b']))?;
    is_stamp(taken).then(|| (taken.to_string(), num))
}

/// The backup to archive: the one named, or the newest that succeeded.
async fn choose(api: &ApiClient, app: &str, name: Option<&str>) -> Result<Transfer, StepError> {
    let Some(name) = name else {
        return backup::latest_backup(api, app).await;
    };
    let found = backup::list(api, app)
        .await?
        .into_iter()
        .find(|t| t.is_backup() && (t.display_name() == name || backup_num(name) == Some(t.num)));
    match found {
        Some(t) if t.succeeded => Ok(t),
        Some(_) => Err(StepError::BackupDidNotSucceed {
            app: app.to_string(),
            name: name.to_string(),
        }),
        None => Err(StepError::NoSuchBackup {
            app: app.to_string(),
            name: name.to_string(),
        }),
    }
}

/// Downloads a backup (the newest by default) into `dir` unless the archive has it, then keeps
/// the newest `keep` of the archive's files (the one just archived always stays).
pub async fn archive(
    api: &ApiClient,
    app: &str,
    name: Option<&str>,
    dir: &Path,
    keep: Option<u32>,
    observer: &mut dyn Observer,
) -> Result<Archived, StepError> {
    let chosen = choose(api, app, name).await?;
    let file = file_name(app, &chosen).ok_or_else(|| StepError::BackupWithoutUrl {
        name: chosen.display_name(),
    })?;
    std::fs::create_dir_all(dir).map_err(|e| StepError::file("create", dir, e))?;
    let path = dir.join(&file);
    let download = match path.exists() {
        true => None,
        false => {
            let public = api.public_url(app, chosen.num).await?;
            observer.event(super::Event::Secret(public.url.clone()));
            let identity = backup::PartialIdentity::of_transfer(&chosen);
            Some(backup::download_url(api, &public.url, &path, &identity, observer).await?)
        }
    };
    let (kept, removed) = prune(app, dir, keep, &file)?;
    Ok(Archived {
        dir: dir.to_path_buf(),
        backup: chosen.display_name(),
        file,
        download,
        removed,
        kept,
    })
}

/// Removes the archive's own files beyond the newest `keep` (all stay without `keep`), never
/// `current`; returns the files kept (newest first) and those removed (oldest first).
pub fn prune(
    app: &str,
    dir: &Path,
    keep: Option<u32>,
    current: &str,
) -> Result<(Vec<String>, Vec<String>), StepError> {
    let entries = std::fs::read_dir(dir).map_err(|e| StepError::file("read", dir, e))?;
    let mut own: Vec<(String, u64, String)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|name| own_file(app, &name).map(|(taken, num)| (taken, num, name)))
        .collect();
    own.sort_by(|a, b| (&b.0, b.1).cmp(&(&a.0, a.1)));
    let limit = keep.map_or(usize::MAX, |k| k as usize);
    let (mut kept, mut removed) = (Vec::new(), Vec::new());
    for (_, _, name) in own {
        if kept.len() < limit || name == current {
            kept.push(name);
            continue;
        }
        let path = dir.join(&name);
        std::fs::remove_file(&path).map_err(|e| StepError::file("remove", &path, e))?;
        removed.push(name);
    }
    removed.reverse();
    Ok((kept, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_backup_and_the_time_it_was_taken() {
        assert_eq!(
            stamp("2026-01-05T10:00:00Z").as_deref(),
            Some("20260105T100000Z")
        );
        assert_eq!(
            stamp("2026-01-05T10:00:00.123Z").as_deref(),
            Some("20260105T100000Z")
        );
        assert_eq!(stamp("2026-01-05 10:00:00 +0000"), None);
        assert_eq!(
            own_file("tmi-server", "tmi-server-b007-20260105T100000Z.dump"),
            Some(("20260105T100000Z".to_string(), 7))
        );
        assert_eq!(
            own_file("tmi-server", "tmi-server-a012-20260105T100000Z.dump").map(|o| o.1),
            Some(12)
        );
        for other in [
            "tmi-server-b007-20260105T100000Z.dump.partial",
            "tmi-server-c007-20260105T100000Z.dump",
            "tmi-b007-20260105T100000Z.dump",
            "tmi-server-b007-latest.dump",
            "notes.txt",
        ] {
            assert_eq!(own_file("tmi-server", other), None, "{other}");
        }
        // Another app whose name starts like this one's is not this app's.
        assert_eq!(
            own_file("tmi", "tmi-server-b007-20260105T100000Z.dump"),
            None
        );
    }

    #[test]
    fn pruning_keeps_the_newest_and_touches_nothing_it_did_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "app-b001-20260101T030000Z.dump",
            "app-b002-20260102T030000Z.dump",
            "app-b003-20260103T030000Z.dump",
            "app-b004-20260104T030000Z.dump",
            "other-b001-20250101T030000Z.dump",
            "app-b000-20250101T030000Z.dump.partial",
            "README",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let (kept, removed) = prune("app", dir.path(), Some(2), names[3]).unwrap();
        assert_eq!(kept, [names[3], names[2]]);
        assert_eq!(removed, [names[0], names[1]]);
        let left: std::collections::BTreeSet<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        for name in [names[2], names[3], names[4], names[5], names[6]] {
            assert!(left.contains(name), "{name} was removed");
        }
        // The file just archived stays even when it is the oldest.
        let (kept, _) = prune("app", dir.path(), Some(1), names[2]).unwrap();
        assert_eq!(kept, [names[3], names[2]]);
    }
}
