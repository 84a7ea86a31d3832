//! Backups: capture and follow, find, download (streamed, resumable), restore, schedules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::api::models::{Attachment, Transfer, backup_num};
use crate::api::{ApiClient, ApiError, BackupSchedule};

use super::{Event, Observer, StepError, Wait, database};

/// Transient poll failures tolerated while following a transfer, before it is an error.
const MAX_POLL_FAILURES: u32 = 5;

/// Starts a backup of a database and follows it to the end.
pub async fn capture(
    api: &ApiClient,
    app: &str,
    database_name: Option<&str>,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<Transfer, StepError> {
    let db = database::resolve(api, app, database_name).await?;
    let info = database::info(api, &db.addon.id, &db.addon.name).await?;
    if info
        .info_value("Continuous Protection")
        .is_some_and(|v| v.contains("On"))
    {
        observer.event(Event::Warning(
            "Continuous Protection is on: logical backups of large databases may fail; Heroku's point-in-time recovery does not need them".into(),
        ));
    }
    let started = api.capture_backup(&db.addon.id).await?;
    observer.event(Event::Status(format!(
        "Backing up {} to {}",
        db.name,
        started.display_name()
    )));
    let billing_app = billing_app(&db, app);
    follow(api, &billing_app, started.uuid.as_str(), wait, observer).await
}

/// The app that owns the add-on: its transfers live there.
fn billing_app(db: &Attachment, app: &str) -> String {
    if db.addon.app.name.is_empty() {
        app.to_string()
    } else {
        db.addon.app.name.clone()
    }
}

/// Polls a transfer until `finished_at`; a failed transfer is an error carrying its last log
/// lines. A few failed polls are tolerated; the deadline bounds the whole wait.
pub async fn follow(
    api: &ApiClient,
    app: &str,
    id: &str,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<Transfer, StepError> {
    let mut deadline = wait.deadline();
    let mut failures = 0;
    loop {
        match api.transfer(app, id, false).await {
            Ok(transfer) => {
                failures = 0;
                if transfer.finished_at.is_some() {
                    if transfer.succeeded {
                        return Ok(transfer);
                    }
                    let verbose = api
                        .transfer(app, id, true)
                        .await
                        .unwrap_or(transfer.clone());
                    let logs: Vec<String> = verbose
                        .logs
                        .unwrap_or_default()
                        .iter()
                        .rev()
                        .take(5)
                        .rev()
                        .map(|l| l.message.clone())
                        .collect();
                    return Err(StepError::TransferFailed {
                        app: app.to_string(),
                        transfer: transfer.display_name(),
                        logs,
                    });
                }
                if transfer.started_at.is_some() {
                    observer.event(Event::Bytes {
                        done: transfer.processed_bytes,
                        total: transfer.source_bytes,
                    });
                } else {
                    observer.event(Event::Status("Pending".into()));
                }
            }
            Err(e) if failures < MAX_POLL_FAILURES && !matches!(e.status(), Some(400..=499)) => {
                failures += 1;
                observer.event(Event::Warning(format!(
                    "polling the backup failed ({e}); retrying"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        deadline.tick(&format!("transfer {id} to finish")).await?;
    }
}

/// Backups of an app, newest first.
pub async fn list(api: &ApiClient, app: &str) -> Result<Vec<Transfer>, StepError> {
    let mut transfers = api.transfers(app).await?;
    // Times are to the second: of two made within one, the later number is the newer.
    transfers.sort_by(|a, b| (&b.created_at, b.num).cmp(&(&a.created_at, a.num)));
    Ok(transfers)
}

/// The newest successful backup (not restore or copy).
pub async fn latest_backup(api: &ApiClient, app: &str) -> Result<Transfer, StepError> {
    list(api, app)
        .await?
        .into_iter()
        .find(|t| t.is_backup() && t.succeeded)
        .ok_or_else(|| StepError::NoBackup {
            app: app.to_string(),
        })
}

/// The transfer number of a named backup, or of the newest one.
pub async fn backup_number(
    api: &ApiClient,
    app: &str,
    name: Option<&str>,
) -> Result<u64, StepError> {
    match name {
        Some(name) => match backup_num(name) {
            Some(num) => Ok(num),
            None => {
                let all = list(api, app).await?;
                all.iter()
                    .find(|t| t.display_name() == name)
                    .map(|t| t.num)
                    .ok_or_else(|| StepError::NoSuchBackup {
                        app: app.to_string(),
                        name: name.to_string(),
                    })
            }
        },
        None => Ok(latest_backup(api, app).await?.num),
    }
}

/// What a download did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Download {
    pub path: PathBuf,
    pub bytes: u64,
    /// Bytes that were already on disk from an interrupted download.
    pub resumed_from: u64,
}

/// The file a download writes to until it is complete.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Streams a URL to `path` in constant memory. The bytes go to `PATH.partial` first; an existing
/// partial file is resumed with a `Range` request, and renamed into place when complete. No
/// Heroku credentials are sent: the URL carries its own signature.
pub async fn download_url(
    http: &reqwest::Client,
    url: &str,
    path: &Path,
    observer: &mut dyn Observer,
) -> Result<Download, StepError> {
    let partial = partial_path(path);
    let io_err = |action: &'static str, e: std::io::Error| StepError::file(action, &partial, e);
    let have = match tokio::fs::metadata(&partial).await {
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    let transport = |source: reqwest::Error| ApiError::Transport {
        method: "GET".into(),
        host: "backup storage".into(),
        path: "(signed URL)".into(),
        source: source.without_url(),
    };
    let mut request = http.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let (mut done, total, append) = match status {
        206 => {
            let total = content_range_total(response.headers())
                .or(response.content_length().map(|l| l + have));
            (have, total, true)
        }
        200 => (0, response.content_length(), false),
        416 if have > 0 => {
            // The partial file already holds everything the server has.
            tokio::fs::rename(&partial, path)
                .await
                .map_err(|e| io_err("rename", e))?;
            return Ok(Download {
                path: path.to_path_buf(),
                bytes: have,
                resumed_from: have,
            });
        }
        other => {
            return Err(StepError::DownloadRefused { status: other });
        }
    };
    let resumed_from = done;
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&partial)
        .await
        .map_err(|e| io_err("open", e))?;
    let mut writer = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut stream = response.bytes_stream();
    observer.event(Event::Bytes { done, total });
    let mut last_report = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(transport)?;
        writer
            .write_all(&chunk)
            .await
            .map_err(|e| io_err("write", e))?;
        done += chunk.len() as u64;
        if done - last_report >= 1 << 20 {
            last_report = done;
            observer.event(Event::Bytes { done, total });
        }
    }
    writer.flush().await.map_err(|e| io_err("write", e))?;
    drop(writer);
    observer.event(Event::Bytes { done, total });
    if let Some(total) = total
        && done != total
    {
        return Err(StepError::DownloadIncomplete { done, total });
    }
    tokio::fs::rename(&partial, path)
        .await
        .map_err(|e| io_err("rename", e))?;
    Ok(Download {
        path: path.to_path_buf(),
        bytes: done,
        resumed_from,
    })
}

fn content_range_total(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get("content-range")?
        .to_str()
        .ok()?
        .rsplit('/')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Downloads a backup (the newest when `name` is `None`) to `path`.
pub async fn download(
    api: &ApiClient,
    app: &str,
    name: Option<&str>,
    path: &Path,
    observer: &mut dyn Observer,
) -> Result<Download, StepError> {
    let num = backup_number(api, app, name).await?;
    let public = api.public_url(app, num).await?;
    download_url(api.plain_http(), &public.url, path, observer).await
}

/// Where a restore reads from: a URL, or a backup of this or another app (`otherapp::b005`).
pub async fn backup_url(
    api: &ApiClient,
    app: &str,
    source: Option<&str>,
) -> Result<String, StepError> {
    if let Some(url) = source.filter(|s| s.starts_with("https://") || s.starts_with("http://")) {
        return Ok(url.to_string());
    }
    let (backup_app, name) = match source {
        Some(s) => {
            let (a, n) = database::split_app_ref(app, s);
            (a, Some(n))
        }
        None => (app, None),
    };
    let backups: Vec<Transfer> = list(api, backup_app)
        .await?
        .into_iter()
        .filter(Transfer::is_backup)
        .collect();
    let chosen = match name {
        Some(name) => {
            let found = backups
                .into_iter()
                .find(|t| t.display_name() == name || backup_num(name) == Some(t.num));
            let t = found.ok_or_else(|| StepError::NoSuchBackup {
                app: backup_app.to_string(),
                name: name.to_string(),
            })?;
            if !t.succeeded {
                return Err(StepError::BackupDidNotSucceed {
                    app: backup_app.to_string(),
                    name: name.to_string(),
                });
            }
            t
        }
        None => backups
            .into_iter()
            .filter(|t| t.succeeded)
            .max_by(|a, b| a.finished_at.cmp(&b.finished_at))
            .ok_or_else(|| StepError::NoBackup {
                app: backup_app.to_string(),
            })?,
    };
    let name = chosen.display_name();
    chosen
        .to_url
        .ok_or_else(|| StepError::BackupWithoutUrl { name })
}

/// Restores a database from a backup URL and follows the restore to the end.
pub async fn restore(
    api: &ApiClient,
    db: &Attachment,
    url: &str,
    extensions: &[String],
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<Transfer, StepError> {
    let started = api.restore(&db.addon.id, url, extensions).await?;
    observer.event(Event::Status(format!(
        "Restoring {} ({})",
        db.name,
        started.display_name()
    )));
    // The official CLI polls restores under the app id of the database's billing app.
    let poll_app = if db.addon.app.id.as_str().is_empty() {
        db.app.name.clone()
    } else {
        db.addon.app.id.to_string()
    };
    follow(api, &poll_app, started.uuid.as_str(), wait, observer).await
}

/// Parses `--at 'HH:00 [TZ]'` as the official CLI does.
pub fn parse_schedule_time(at: &str) -> Result<(u8, String), String> {
    let mut parts = at.split_whitespace();
    let time = parts
        .next()
        .ok_or("--at needs a time such as '02:00 UTC'")?;
    let tz = parts.next().unwrap_or("UTC");
    if parts.next().is_some() {
        return Err(format!("--at {at:?}: expected 'HH:00 [TIMEZONE]'"));
    }
    let (hour, minutes) = time
        .split_once(':')
        .ok_or(format!("--at {at:?}: expected 'HH:00'"))?;
    if minutes != "00" {
        return Err(format!(
            "--at {at:?}: backups are scheduled on the hour (HH:00)"
        ));
    }
    let hour: u8 = hour
        .parse()
        .map_err(|_| format!("--at {at:?}: hour is not a number"))?;
    if hour > 23 {
        return Err(format!("--at {at:?}: hour must be 0-23"));
    }
    let tz = match tz.to_uppercase().as_str() {
        "PST" | "PDT" => "America/Los_Angeles",
        "MST" | "MDT" => "America/Boise",
        "CST" | "CDT" => "America/Chicago",
        "EST" | "EDT" => "America/New_York",
        "GMT" | "BST" => "Europe/London",
        "CET" | "CEST" => "Europe/Paris",
        "Z" | "UTC" => "UTC",
        _ => tz,
    };
    Ok((hour, tz.to_string()))
}

/// Schedules daily backups of a database.
pub async fn schedule(
    api: &ApiClient,
    app: &str,
    database_name: Option<&str>,
    hour: u8,
    timezone: &str,
) -> Result<String, StepError> {
    let db = database::resolve(api, app, database_name).await?;
    database::info(api, &db.addon.id, &db.addon.name).await?;
    let schedule_name = db.config_var();
    api.create_schedule(
        &db.addon.id,
        &BackupSchedule {
            hour,
            timezone: timezone.to_string(),
            schedule_name: schedule_name.clone(),
        },
    )
    .await?;
    Ok(schedule_name)
}

/// Removes a database's backup schedule; `Ok(false)` when it had none.
pub async fn unschedule(
    api: &ApiClient,
    app: &str,
    database_name: Option<&str>,
) -> Result<bool, StepError> {
    let db = database::resolve(api, app, database_name).await?;
    let schedules = api.schedules(&db.addon.id).await?;
    let name = db.config_var();
    let Some(found) = schedules
        .iter()
        .find(|s| s.name == name || s.name == db.name)
    else {
        return Ok(false);
    };
    api.delete_schedule(&db.addon.id, &found.uuid).await?;
    Ok(true)
}

/// A default wait for transfers: poll every 3 s (the official minimum) for up to `timeout`.
pub fn transfer_wait(timeout: Duration) -> Wait {
    Wait::new(Duration::from_secs(3), timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_times() {
        assert_eq!(parse_schedule_time("02:00").unwrap(), (2, "UTC".into()));
        assert_eq!(
            parse_schedule_time("2:00 PST").unwrap(),
            (2, "America/Los_Angeles".into())
        );
        assert_eq!(
            parse_schedule_time("23:00 Europe/Berlin").unwrap(),
            (23, "Europe/Berlin".into())
        );
        assert!(parse_schedule_time("24:00").is_err());
        assert!(parse_schedule_time("02:30").is_err());
        assert!(parse_schedule_time("").is_err());
    }

    #[test]
    fn partial_name() {
        assert_eq!(
            partial_path(Path::new("/x/latest.dump")),
            PathBuf::from("/x/latest.dump.partial")
        );
    }
}
