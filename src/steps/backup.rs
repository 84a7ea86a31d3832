//! Backups: capture and follow, find, download (streamed, resumable), restore, schedules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::api::models::{Attachment, Transfer, backup_num};
use crate::api::{ApiClient, ApiError, BackupSchedule};

use super::{Event, Observer, StepError, Wait, database};
use crate::files;
use crate::output::sanitize::one_line;

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
    let what = format!("transfer {id} to finish");
    wait.bound(&what, async {
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
                            .map(|l| one_line(&l.message).into_owned())
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
                Err(e)
                    if failures < MAX_POLL_FAILURES && !matches!(e.status(), Some(400..=499)) =>
                {
                    failures += 1;
                    observer.event(Event::Warning(format!(
                        "polling the backup failed ({e}); retrying"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            deadline.tick(&what).await?;
        }
    })
    .await
}

/// Backups of an app, newest first.
pub async fn list(api: &ApiClient, app: &str) -> Result<Vec<Transfer>, StepError> {
    let mut transfers = api.transfers(app).await?;
    newest_first(&mut transfers);
    Ok(transfers)
}

/// Orders transfers newest first: by `created_at`, then by number. `created_at` has one-second
/// precision, so two backups of the same second are told apart by their number, which Heroku
/// hands out in order.
pub fn newest_first(transfers: &mut [Transfer]) {
    transfers.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.num.cmp(&a.num))
    });
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
    /// Where it went (`-` for stdout).
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

/// The record beside a partial file of which backup it holds the start of.
pub fn partial_identity_path(path: &Path) -> PathBuf {
    let mut name = partial_path(path).into_os_string();
    name.push(".json");
    PathBuf::from(name)
}

/// Which backup a download is of, as far as resuming it goes: a partial file is resumed only
/// when the record beside it names the same transfer, the same size and the same storage
/// object (its `ETag` or `Last-Modified`, sent back as `If-Range`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartialIdentity {
    /// The transfer's uuid (or, without one, its URL's path).
    pub transfer: String,
    /// The backup's size in bytes, when known.
    pub size: Option<u64>,
    /// What the storage said the object was: its ETag, or else its Last-Modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<String>,
}

impl PartialIdentity {
    /// The identity of a backup as the data API describes it; `size` is its `processed_bytes`.
    pub fn of_transfer(transfer: &Transfer) -> Self {
        PartialIdentity {
            transfer: transfer.uuid.to_string(),
            size: (transfer.succeeded && transfer.processed_bytes > 0)
                .then_some(transfer.processed_bytes),
            validator: None,
        }
    }

    fn same_object(&self, other: &PartialIdentity) -> bool {
        self.transfer == other.transfer && self.size == other.size
    }
}

/// A partial file that provably belongs to this download: its length, and what to send back.
struct Resumable {
    have: u64,
    validator: Option<String>,
}

/// Looks at `PATH.partial` and its record. Anything that does not provably belong to this
/// download (no record, another transfer or size, more bytes than the backup, a symlink) is
/// removed, so the download starts over.
async fn resumable(path: &Path, wanted: &PartialIdentity) -> Result<Option<Resumable>, StepError> {
    let partial = partial_path(path);
    let record = partial_identity_path(path);
    let found = match tokio::fs::symlink_metadata(&partial).await {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(StepError::file("inspect", &partial, e)),
    };
    let recorded: Option<PartialIdentity> = match files::open_read_no_follow(&record) {
        Ok(file) => files::read_capped(file, 64 * 1024)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()),
        Err(_) => None,
    };
    let resumable = match (&found, recorded) {
        (Some(meta), Some(recorded))
            if meta.file_type().is_file()
                && meta.len() > 0
                && recorded.same_object(wanted)
                && wanted.size.is_none_or(|size| meta.len() <= size) =>
        {
            Some(Resumable {
                have: meta.len(),
                validator: recorded.validator,
            })
        }
        _ => None,
    };
    if resumable.is_none() {
        start_over(path).await?;
    }
    Ok(resumable)
}

/// Removes a partial file and its record (a symlink is removed itself, never followed).
async fn start_over(path: &Path) -> Result<(), StepError> {
    for stale in [partial_path(path), partial_identity_path(path)] {
        match tokio::fs::remove_file(&stale).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StepError::file("remove the stale", &stale, e)),
        }
    }
    Ok(())
}

fn transport(source: reqwest::Error) -> ApiError {
    ApiError::Transport {
        method: "GET".into(),
        host: "backup storage".into(),
        path: "(signed URL)".into(),
        source: source.without_url(),
    }
}

/// A GET of backup storage, within the time-to-headers deadline.
async fn get(
    api: &ApiClient,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, ApiError> {
    crate::api::send_plain(request, api.timeouts(), "backup storage", "(signed URL)").await
}

/// The storage object's validator, for `If-Range`: a strong ETag, or else Last-Modified.
fn validator(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("etag")
        .filter(|e| !e.starts_with("W/"))
        .or_else(|| header("last-modified"))
        .map(str::to_string)
}

/// Streams a URL to `path` in constant memory. No Heroku credentials are sent: the URL
/// carries its own signature.
///
/// A regular (or absent) `path` is written as `PATH.partial`, with a record of which backup it
/// is beside it, and renamed into place once complete and of the backup's size. An existing
/// partial file is resumed with `Range` (and `If-Range`) only when its record shows it is of
/// the same backup; otherwise it starts over. A device, a FIFO or `-` (stdout) is written in
/// place, from the start.
pub async fn download_url(
    api: &ApiClient,
    url: &str,
    path: &Path,
    identity: &PartialIdentity,
    observer: &mut dyn Observer,
) -> Result<Download, StepError> {
    match files::output_kind(path) {
        files::OutputKind::Replace => download_to_file(api, url, path, identity, observer).await,
        kind => download_in_place(api, url, path, kind, identity, observer).await,
    }
}

async fn download_to_file(
    api: &ApiClient,
    url: &str,
    path: &Path,
    identity: &PartialIdentity,
    observer: &mut dyn Observer,
) -> Result<Download, StepError> {
    let partial = partial_path(path);
    let io_err = |action: &'static str, e: std::io::Error| StepError::file(action, &partial, e);
    let mut resume = resumable(path, identity).await?;
    if let Some(r) = &resume
        && identity.size == Some(r.have)
    {
        // Everything is there already, and it is of this backup.
        return finish_file(path, r.have, r.have, identity).await;
    }
    let response = request_download(api, url, path, identity, &mut resume).await?;
    let status = response.status().as_u16();
    if !matches!(status, 200 | 206) {
        return Err(StepError::DownloadRefused { status });
    }
    let resumed_from = resume.as_ref().map_or(0, |r| r.have);
    let total = identity
        .size
        .or_else(|| content_range(response.headers()).and_then(|(_, t)| t))
        .or_else(|| (status == 200).then(|| response.content_length()).flatten());
    let file = open_partial(path, &partial, resume.is_some(), identity, &response)?;
    let done = stream_into(
        response,
        tokio::fs::File::from_std(file),
        resumed_from,
        total,
        observer,
    )
    .await
    .map_err(|e| match e {
        Streamed::Io(e) => io_err("write", e),
        Streamed::Step(e) => e,
    })?;
    if let Some(total) = total
        && done != total
    {
        return Err(StepError::DownloadIncomplete { done, total });
    }
    finish_file(path, done, resumed_from, identity).await
}

/// The GET to stream from: the rest of the partial file's object when `resume` has one and
/// the server sends exactly that rest; otherwise the whole object, with the partial file
/// discarded and `resume` cleared.
async fn request_download(
    api: &ApiClient,
    url: &str,
    path: &Path,
    identity: &PartialIdentity,
    resume: &mut Option<Resumable>,
) -> Result<reqwest::Response, StepError> {
    if let Some(r) = resume.as_ref() {
        let mut request = api
            .plain_http(url)?
            .get(url)
            .header("Range", format!("bytes={}-", r.have));
        if let Some(v) = &r.validator {
            request = request.header("If-Range", v);
        }
        let answer = get(api, request).await?;
        let start = content_range(answer.headers());
        let total = identity.size.or(start.and_then(|(_, t)| t));
        match answer.status().as_u16() {
            206 if start.is_some_and(|(s, t)| s == r.have && t == total) => return Ok(answer),
            // Not the rest of this object (it changed, or the server ignores ranges): the
            // partial file is of no use.
            200 => {
                start_over(path).await?;
                *resume = None;
                return Ok(answer);
            }
            206 | 416 => {
                start_over(path).await?;
                *resume = None;
            }
            other => return Err(StepError::DownloadRefused { status: other }),
        }
    }
    Ok(get(api, api.plain_http(url)?.get(url)).await?)
}

/// `PATH.partial`, opened to append to when resuming; otherwise created, with the record of
/// which backup it holds (the object's validator, so a later run can resume it) beside it.
fn open_partial(
    path: &Path,
    partial: &Path,
    resuming: bool,
    identity: &PartialIdentity,
    response: &reqwest::Response,
) -> Result<std::fs::File, StepError> {
    if resuming {
        return files::open_append_no_follow(partial)
            .map_err(|e| StepError::file("open", partial, e));
    }
    let record = PartialIdentity {
        validator: validator(response.headers()),
        ..identity.clone()
    };
    let file =
        files::create_new_private(partial).map_err(|e| StepError::file("create", partial, e))?;
    write_record(path, &record)?;
    Ok(file)
}

/// Writes the record of which backup `PATH.partial` holds.
fn write_record(path: &Path, record: &PartialIdentity) -> Result<(), StepError> {
    let at = partial_identity_path(path);
    let text = serde_json::to_vec(record).unwrap_or_default();
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = files::create_new_private(&at)?;
        file.write_all(&text)?;
        file.sync_all()
    };
    write().map_err(|e| StepError::file("write", &at, e))
}

/// Checks the partial file holds the whole backup, then renames it into place.
async fn finish_file(
    path: &Path,
    bytes: u64,
    resumed_from: u64,
    identity: &PartialIdentity,
) -> Result<Download, StepError> {
    let partial = partial_path(path);
    let on_disk = tokio::fs::symlink_metadata(&partial)
        .await
        .map_err(|e| StepError::file("inspect", &partial, e))?
        .len();
    let expected = identity.size.unwrap_or(bytes);
    if on_disk != expected {
        // Not this backup, whatever it is: the next attempt starts over.
        start_over(path).await?;
        return Err(StepError::DownloadIncomplete {
            done: on_disk,
            total: expected,
        });
    }
    tokio::fs::rename(&partial, path)
        .await
        .map_err(|e| StepError::file("rename", &partial, e))?;
    let _ = tokio::fs::remove_file(partial_identity_path(path)).await;
    Ok(Download {
        path: path.to_path_buf(),
        bytes: on_disk,
        resumed_from,
    })
}

async fn download_in_place(
    api: &ApiClient,
    url: &str,
    path: &Path,
    kind: files::OutputKind,
    identity: &PartialIdentity,
    observer: &mut dyn Observer,
) -> Result<Download, StepError> {
    let response = get(api, api.plain_http(url)?.get(url)).await?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(StepError::DownloadRefused { status });
    }
    let total = identity.size.or(response.content_length());
    let outcome = if kind == files::OutputKind::Stdout {
        stream_into(response, tokio::io::stdout(), 0, total, observer).await
    } else {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .await
            .map_err(|e| StepError::file("open", path, e))?;
        stream_into(response, file, 0, total, observer).await
    };
    let done = outcome.map_err(|e| match e {
        Streamed::Io(e) => StepError::file("write", path, e),
        Streamed::Step(e) => e,
    })?;
    if let Some(total) = total
        && done != total
    {
        return Err(StepError::DownloadIncomplete { done, total });
    }
    Ok(Download {
        path: path.to_path_buf(),
        bytes: done,
        resumed_from: 0,
    })
}

enum Streamed {
    Io(std::io::Error),
    Step(StepError),
}

/// Copies the body to `sink` in constant memory, reporting progress; returns the bytes the
/// destination holds (`done` at the start plus what was written).
async fn stream_into(
    response: reqwest::Response,
    sink: impl tokio::io::AsyncWrite + Unpin,
    mut done: u64,
    total: Option<u64>,
    observer: &mut dyn Observer,
) -> Result<u64, Streamed> {
    let mut writer = tokio::io::BufWriter::with_capacity(256 * 1024, sink);
    let mut stream = response.bytes_stream();
    observer.event(Event::Bytes { done, total });
    let mut last_report = done;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Streamed::Step(transport(e).into()))?;
        if total.is_some_and(|t| done + chunk.len() as u64 > t) {
            // More than the backup holds: whatever this is, it is not the backup.
            return Err(Streamed::Step(StepError::DownloadIncomplete {
                done: done + chunk.len() as u64,
                total: total.unwrap_or_default(),
            }));
        }
        writer.write_all(&chunk).await.map_err(Streamed::Io)?;
        done += chunk.len() as u64;
        if done - last_report >= 1 << 20 {
            last_report = done;
            observer.event(Event::Bytes { done, total });
        }
    }
    writer.flush().await.map_err(Streamed::Io)?;
    observer.event(Event::Bytes { done, total });
    Ok(done)
}

/// `Content-Range: bytes START-END/TOTAL` as (START, TOTAL), TOTAL `None` for `*`; for a 416,
/// `bytes */TOTAL` gives (0, TOTAL).
fn content_range(headers: &reqwest::header::HeaderMap) -> Option<(u64, Option<u64>)> {
    let value = headers.get("content-range")?.to_str().ok()?.trim();
    let spec = value.strip_prefix("bytes ")?;
    let (range, total) = spec.split_once('/')?;
    let total = total.trim().parse().ok();
    let start = match range.split_once('-') {
        Some((start, _)) => start.trim().parse().ok()?,
        None => 0,
    };
    Some((start, total))
}

/// The backup a download is of: the one named (`b005`, or its number), or the newest.
pub async fn find_backup(
    api: &ApiClient,
    app: &str,
    name: Option<&str>,
) -> Result<Transfer, StepError> {
    let Some(name) = name else {
        return latest_backup(api, app).await;
    };
    let found = list(api, app)
        .await?
        .into_iter()
        .filter(Transfer::is_backup)
        .find(|t| t.display_name() == name || backup_num(name) == Some(t.num))
        .ok_or_else(|| StepError::NoSuchBackup {
            app: app.to_string(),
            name: name.to_string(),
        })?;
    if !found.succeeded {
        return Err(StepError::BackupDidNotSucceed {
            app: app.to_string(),
            name: name.to_string(),
        });
    }
    Ok(found)
}

/// Downloads a backup (the newest when `name` is `None`) to `path`; the file is checked to be
/// of the backup's size.
pub async fn download(
    api: &ApiClient,
    app: &str,
    name: Option<&str>,
    path: &Path,
    observer: &mut dyn Observer,
) -> Result<Download, StepError> {
    let transfer = find_backup(api, app, name).await?;
    let public = api.public_url(app, transfer.num).await?;
    observer.event(Event::Secret(public.url.clone()));
    let identity = PartialIdentity::of_transfer(&transfer);
    download_url(api, &public.url, path, &identity, observer).await
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
        // `list` has put the newest first.
        None => backups
            .into_iter()
            .find(|t| t.succeeded)
            .ok_or_else(|| StepError::NoBackup {
                app: backup_app.to_string(),
            })?,
    };
    let name = chosen.display_name();
    chosen
        .to_url
        .ok_or_else(|| StepError::BackupWithoutUrl { name })
}

/// Checks, before anything is done, that a restore's source can be restored from: a URL is
/// well formed, a backup exists and succeeded (the newest when `source` is `None`).
pub async fn check_restore_source(
    api: &ApiClient,
    app: &str,
    source: Option<&str>,
) -> Result<(), StepError> {
    if let Some(url) = source.filter(|s| s.starts_with("https://") || s.starts_with("http://")) {
        return match url::Url::parse(url) {
            Ok(parsed) if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            Ok(_) => Err(StepError::BadRestoreUrl {
                reason: "it has no host".into(),
            }),
            Err(e) => Err(StepError::BadRestoreUrl {
                reason: e.to_string(),
            }),
        };
    }
    backup_url(api, app, source).await.map(|_| ())
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
    let started = start_restore(api, db, url, extensions).await?;
    follow_restore(api, db, &started, wait, observer).await
}

/// Starts a restore: from here on the database is being overwritten.
pub async fn start_restore(
    api: &ApiClient,
    db: &Attachment,
    url: &str,
    extensions: &[String],
) -> Result<Transfer, StepError> {
    Ok(api.restore(&db.addon.id, url, extensions).await?)
}

/// Follows a restore that [`start_restore`] started to its end.
pub async fn follow_restore(
    api: &ApiClient,
    db: &Attachment,
    started: &Transfer,
    wait: Wait,
    observer: &mut dyn Observer,
) -> Result<Transfer, StepError> {
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
