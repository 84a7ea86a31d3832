//! Postgres data API handlers (`/client/v11/...`): database info and wait status, backups
//! (`pg_dump -Fc` into the sandbox's storage, progress in `processed_bytes`), transfers, public
//! URLs served by the sandbox itself, restores (`pg_restore` from a URL), reset and schedules.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};

use super::Inner;
use super::cluster::random_word;
use super::postgres::DbCredentials;
use super::state::{
    self, PublicGrant, ScheduleState, TransferKind, TransferState, World, data_time, plan_info,
};
use crate::wire::{Failure, Outcome, Req, channel_body, created, full, ok};
use herokuops::api::models::WaitStatus;

pub(crate) fn no_database() -> Failure {
    Failure::not_found("Couldn't find that database.")
}

fn no_app(app: &str) -> Failure {
    Failure::not_found(format!("Couldn't find that app ({app})."))
}

fn no_transfer() -> Failure {
    Failure::not_found("Couldn't find that transfer.")
}

/// `1.2 MB`, as the data API writes sizes.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The name a database is known by in transfers: its DATABASE attachment if it has one, else
/// its first attachment on its own app.
pub(crate) fn attachment_name(world: &World, addon_id: &str, app_id: &str) -> String {
    let mut names: Vec<&str> = world
        .attachments
        .iter()
        .filter(|a| a.addon_id == addon_id && a.app_id == app_id)
        .map(|a| a.name.as_str())
        .collect();
    names.sort_by_key(|n| (*n != "DATABASE", n.to_string()));
    names
        .first()
        .map(|n| n.to_string())
        .or_else(|| world.addon_by_id(addon_id).map(|a| a.name.clone()))
        .unwrap_or_default()
}

/// `GET /client/v11/databases/{id}`: the add-on's figures, read from its real database. A
/// database still provisioning is not found yet, as the official CLI expects.
pub(crate) async fn database_info(inner: &Arc<Inner>, db: &str) -> Outcome {
    let (addon_id, name, plan, created, creds, url, app) = {
        let world = inner.world();
        let addon = world.addon(db).ok_or_else(no_database)?;
        if addon.provisioning() {
            return Err(Failure::not_found(format!(
                "{} is still provisioning.",
                addon.name
            )));
        }
        let app = world
            .app_by_id(&addon.app_id)
            .map(|a| a.app_ref())
            .unwrap_or_default();
        (
            addon.id.clone(),
            addon.name.clone(),
            addon.plan.clone(),
            addon.created,
            addon.creds.clone(),
            addon.url.clone(),
            app,
        )
    };
    let stats = inner
        .pg
        .stats(&creds)
        .await
        .map_err(|e| Failure::internal(format!("could not read the database: {e}")))?;
    let info = plan_info(&plan);
    let bytes = stats.bytes.max(0) as u64;
    let pct = bytes as f64 * 100.0 / info.max_bytes as f64;
    let tier = plan.split(':').nth(1).unwrap_or(&plan).to_string();
    let created = data_time(created);
    ok(&json!({
        "addon_id": addon_id,
        "app": app,
        "available_for_ingress": true,
        "created_at": created,
        "database_name": creds.database,
        "database_user": creds.role,
        "following": null,
        "heroku_resource_id": addon_id,
        "hobby?": false,
        "info": [
            { "name": "Plan", "values": [info.human] },
            { "name": "Status", "values": ["Available"] },
            { "name": "Connections", "values": [format!("{}/{}", stats.connections, info.max_connections)] },
            { "name": "PG Version", "values": [stats.version] },
            { "name": "Created", "values": [created] },
            { "name": "Data Size", "values": [format!("{} / {} ({pct:.2}%) (In compliance)", human_size(bytes), human_size(info.max_bytes))] },
            { "name": "Tables", "values": [format!("{}/4000 (In compliance)", stats.tables)] },
            { "name": "Fork/Follow", "values": ["Unsupported"] },
            { "name": "Rollback", "values": ["Unsupported"] },
            { "name": "Continuous Protection", "values": ["Off"] },
            { "name": "Data Encryption", "values": ["In Use"] },
        ],
        "leader": null,
        "name": name,
        "num_bytes": bytes,
        "num_connections": stats.connections,
        "num_tables": stats.tables,
        "plan": tier,
        "postgres_version": stats.version,
        "resource_url": url,
        "service_port": 5432,
        "waiting?": false,
    }))
}

/// `GET /client/v11/databases/{id}/wait_status`: waiting while the add-on provisions.
pub(crate) fn wait_status(inner: &Arc<Inner>, db: &str) -> Outcome {
    let world = inner.world();
    let addon = world.addon(db).ok_or_else(no_database)?;
    let status = if addon.provisioning() {
        WaitStatus {
            waiting: true,
            error: false,
            message: "Provisioning".into(),
            step: None,
        }
    } else {
        WaitStatus {
            waiting: false,
            error: false,
            message: "Available".into(),
            step: None,
        }
    };
    let mut view = serde_json::to_value(&status).unwrap_or(Value::Null);
    if let Some(o) = view.as_object_mut() {
        o.remove("step");
    }
    ok(&view)
}

pub(crate) fn next_num(world: &mut World, app_id: &str) -> u64 {
    match world.apps.iter_mut().find(|a| a.id == app_id) {
        Some(app) => {
            let n = app.next_transfer_num;
            app.next_transfer_num += 1;
            n
        }
        None => 1,
    }
}

pub(crate) fn ready_addon(
    world: &World,
    db: &str,
) -> Result<(String, String, DbCredentials), Failure> {
    let addon = world.addon(db).ok_or_else(no_database)?;
    if addon.provisioning() {
        return Err(Failure::invalid(format!(
            "{} is not available yet: it is still provisioning.",
            addon.name
        )));
    }
    Ok((addon.id.clone(), addon.app_id.clone(), addon.creds.clone()))
}

/// `POST /client/v11/databases/{id}/backups`: starts a `pg_dump -Fc` into storage.
pub(crate) async fn capture(inner: &Arc<Inner>, db: &str) -> Outcome {
    let (uuid, creds, file, view) = {
        let mut world = inner.world();
        let (addon_id, app_id, creds) = ready_addon(&world, db)?;
        let from_name = attachment_name(&world, &addon_id, &app_id);
        let num = next_num(&mut world, &app_id);
        let ends = state::Ends {
            from_name,
            from_type: "pg_dump".into(),
            to_name: "BACKUP".into(),
            to_type: "gof3r".into(),
        };
        let mut transfer = TransferState::started(num, app_id, TransferKind::Backup, ends);
        let uuid = transfer.uuid.clone();
        let file = inner.storage.join(format!("{uuid}.dump"));
        transfer.file = Some(file.clone());
        transfer.log("info", "Starting the backup with pg_dump --format=custom");
        let view = world.transfer_view(&transfer, false, &inner.public_base());
        world.transfers.push(transfer);
        (uuid, creds, file, view)
    };
    inner.spawn(run_backup(inner.clone(), uuid, creds, file));
    created(&view)
}

pub(crate) fn with_transfer(inner: &Inner, uuid: &str, change: impl FnOnce(&mut TransferState)) {
    if let Some(t) = inner.world().transfer_mut(uuid) {
        change(t);
    }
}

pub(crate) fn finish_transfer(inner: &Inner, uuid: &str, succeeded: bool, message: &str) {
    with_transfer(inner, uuid, |t| {
        t.log(if succeeded { "info" } else { "error" }, message);
        t.finish(succeeded);
    });
    inner.transfers_changed.notify_waiters();
}

async fn run_backup(inner: Arc<Inner>, uuid: String, creds: DbCredentials, file: PathBuf) {
    let done_at = tokio::time::Instant::now() + inner.options.backup_time;
    if let Ok(stats) = inner.pg.stats(&creds).await {
        with_transfer(&inner, &uuid, |t| {
            t.source_bytes = Some(stats.bytes.max(0) as u64)
        });
    }
    let cancel = match inner.world().transfer_mut(&uuid) {
        Some(t) => t.cancel.clone(),
        None => return,
    };
    let mut cmd = inner.pg.dump_command(&creds);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return finish_transfer(&inner, &uuid, false, &format!("pg_dump: {e}")),
    };
    let logs = child
        .stderr
        .take()
        .map(|s| collect_logs(inner.clone(), uuid.clone(), s));
    let Some(mut stdout) = child.stdout.take() else {
        return finish_transfer(&inner, &uuid, false, "pg_dump: no output");
    };
    let copy = async {
        let mut out = tokio::fs::File::create(&file).await?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = stdout.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).await?;
            total += n as u64;
            with_transfer(&inner, &uuid, |t| t.processed_bytes = total);
        }
        out.flush().await?;
        out.sync_all().await?;
        Ok::<u64, std::io::Error>(total)
    };
    let outcome = tokio::select! {
        copied = copy => Some(copied),
        _ = cancel.notified() => None,
    };
    let Some(copied) = outcome else {
        let _ = child.kill().await;
        let _ = tokio::fs::remove_file(&file).await;
        return;
    };
    let status = child.wait().await;
    if let Some(logs) = logs {
        let _ = logs.await;
    }
    // On Heroku the dump runs on Heroku's side while the client waits; a backup may be made
    // to take that long here too.
    tokio::time::sleep_until(done_at).await;
    match (copied, status) {
        (Ok(bytes), Ok(status)) if status.success() => finish_transfer(
            &inner,
            &uuid,
            true,
            &format!("Backup completed: {bytes} bytes"),
        ),
        (Err(e), _) => finish_transfer(&inner, &uuid, false, &format!("writing the backup: {e}")),
        (_, Ok(status)) => finish_transfer(
            &inner,
            &uuid,
            false,
            &format!("pg_dump exited with {status}"),
        ),
        (_, Err(e)) => finish_transfer(&inner, &uuid, false, &format!("pg_dump: {e}")),
    }
}

/// Copies a tool's stderr lines into the transfer's logs; returns the number of lines that
/// report an ignored error (pg_restore's "errors ignored on restore: N" gives the count).
pub(crate) fn collect_logs(
    inner: Arc<Inner>,
    uuid: String,
    stream: tokio::process::ChildStderr,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut ignored = 0;
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(n) = line
                .split("errors ignored on restore: ")
                .nth(1)
                .and_then(|n| n.trim().parse().ok())
            {
                ignored = n;
            }
            let level = if line.contains("error") || line.contains("warning") {
                "warning"
            } else {
                "info"
            };
            with_transfer(&inner, &uuid, |t| t.log(level, line.clone()));
        }
        ignored
    })
}

fn app_id_of(world: &World, app: &str) -> Result<String, Failure> {
    Ok(world.app(app).ok_or_else(|| no_app(app))?.id.clone())
}

/// `GET /client/v11/apps/{app}/transfers` (name or id).
pub(crate) fn transfers_list(inner: &Arc<Inner>, app: &str) -> Outcome {
    let world = inner.world();
    let app_id = app_id_of(&world, app)?;
    let base = inner.public_base();
    let mut list: Vec<&TransferState> = world
        .transfers
        .iter()
        .filter(|t| t.app_id == app_id)
        .collect();
    list.sort_by_key(|t| t.num);
    ok(&Value::Array(
        list.into_iter()
            .map(|t| world.transfer_view(t, false, &base))
            .collect(),
    ))
}

/// `GET /client/v11/apps/{app}/transfers/{uuid_or_num}[?verbose=true]`. An unfinished transfer
/// is answered when it finishes or after the settle time, whichever is first.
pub(crate) async fn transfer_get(inner: &Arc<Inner>, req: &Req, app: &str, id: &str) -> Outcome {
    let verbose = req.query("verbose") == Some("true");
    let deadline = Instant::now() + inner.options.transfer_settle;
    loop {
        let notified = inner.transfers_changed.notified();
        {
            let world = inner.world();
            let app_id = app_id_of(&world, app)?;
            let t = world.transfer(&app_id, id).ok_or_else(no_transfer)?;
            if t.finished_at.is_some() || Instant::now() >= deadline {
                return ok(&world.transfer_view(t, verbose, &inner.public_base()));
            }
        }
        let _ = tokio::time::timeout_at(deadline.into(), notified).await;
    }
}

/// `DELETE /client/v11/apps/{app}/transfers/{id}`: deletes a backup and its file.
pub(crate) fn transfer_delete(inner: &Arc<Inner>, app: &str, id: &str) -> Outcome {
    let mut world = inner.world();
    let app_id = app_id_of(&world, app)?;
    let at = world
        .transfers
        .iter()
        .position(|t| t.app_id == app_id && (t.uuid == id || t.num.to_string() == id))
        .ok_or_else(no_transfer)?;
    if world.transfers[at].finished_at.is_none() {
        return Err(Failure::invalid(
            "The transfer is still running; cancel it first.",
        ));
    }
    let t = world.transfers.remove(at);
    if let Some(file) = &t.file {
        let _ = std::fs::remove_file(file);
    }
    let mut view = world.transfer_view(&t, false, &inner.public_base());
    view["deleted_at"] = json!(state::now_data());
    ok(&view)
}

/// `POST .../transfers/{id}/actions/cancel`.
pub(crate) fn cancel(inner: &Arc<Inner>, app: &str, id: &str) -> Outcome {
    let mut world = inner.world();
    let app_id = app_id_of(&world, app)?;
    let uuid = world
        .transfer(&app_id, id)
        .ok_or_else(no_transfer)?
        .uuid
        .clone();
    let base = inner.public_base();
    let t = world.transfer_mut(&uuid).ok_or_else(no_transfer)?;
    if t.finished_at.is_some() {
        return Err(Failure::invalid("The transfer has already finished."));
    }
    t.cancel.notify_one();
    t.canceled_at = Some(state::now_data());
    t.log("info", "Canceled by request");
    t.finish(false);
    let t = world.transfer(&app_id, &uuid).ok_or_else(no_transfer)?;
    let view = world.transfer_view(t, false, &base);
    drop(world);
    inner.transfers_changed.notify_waiters();
    ok(&view)
}

/// `POST .../transfers/{num}/actions/public-url`: a URL of the sandbox's own storage with an
/// expiring secret in its path.
pub(crate) fn public_url(inner: &Arc<Inner>, app: &str, id: &str) -> Outcome {
    let mut world = inner.world();
    let app_id = app_id_of(&world, app)?;
    let t = world.transfer(&app_id, id).ok_or_else(no_transfer)?;
    if t.kind != TransferKind::Backup || t.file.is_none() {
        return Err(Failure::invalid("Only backups can be downloaded."));
    }
    if t.succeeded != Some(true) {
        return Err(Failure::invalid(
            "The backup has not finished successfully; there is nothing to download.",
        ));
    }
    let uuid = t.uuid.clone();
    let num = t.num;
    let secret = random_word(40);
    let expires = SystemTime::now() + inner.options.public_url_ttl;
    let now = SystemTime::now();
    world.public_urls.retain(|_, g| g.expires > now);
    world.public_urls.insert(
        secret.clone(),
        PublicGrant {
            transfer: uuid,
            expires,
        },
    );
    ok(&json!({
        "url": format!("{}/__sandbox/storage/public/{secret}/b{num:03}.dump", inner.public_base()),
        "expires_at": data_time(expires),
    }))
}

fn access_denied(message: &str) -> Failure {
    Failure::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// The dump file a storage path grants, checking the secret and its expiry.
fn granted_file(world: &World, path: &str) -> Result<PathBuf, Failure> {
    let rest = path
        .strip_prefix("/__sandbox/storage/public/")
        .ok_or_else(|| access_denied("Access denied: storage paths need a signed public URL."))?;
    let secret = rest.split('/').next().unwrap_or_default();
    let grant = world
        .public_urls
        .get(secret)
        .ok_or_else(|| access_denied("Access denied."))?;
    if grant.expires <= SystemTime::now() {
        return Err(access_denied("Request has expired."));
    }
    world
        .transfers
        .iter()
        .find(|t| t.uuid == grant.transfer)
        .and_then(|t| t.file.clone())
        .ok_or_else(|| Failure::not_found("The backup no longer exists."))
}

/// `GET` of a public URL: the dump, with `Range` support for resumed downloads.
pub(crate) async fn storage_get(inner: &Arc<Inner>, req: &Req) -> Outcome {
    if req.method != hyper::Method::GET && req.method != hyper::Method::HEAD {
        return Err(Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Only GET",
        ));
    }
    let file = granted_file(&inner.world(), &req.path)?;
    let mut handle = tokio::fs::File::open(&file)
        .await
        .map_err(|_| Failure::not_found("The backup no longer exists."))?;
    let size = handle
        .metadata()
        .await
        .map_err(|e| Failure::internal(e.to_string()))?
        .len();
    // A strong validator, as S3 sends: the dump's name and size. A range whose `If-Range`
    // names another object is answered with the whole object.
    let etag = format!(
        "\"{}-{size}\"",
        file.file_stem().and_then(|s| s.to_str()).unwrap_or("dump")
    );
    let range = req
        .header("range")
        .filter(|_| req.header("if-range").is_none_or(|v| v == etag));
    let (start, end) = match range.map(|r| parse_byte_range(r, size)) {
        None => (0, size.saturating_sub(1)),
        Some(Some(range)) => range,
        Some(None) => {
            let mut r = hyper::Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert("content-range", v);
            }
            return Ok(r);
        }
    };
    let partial = range.is_some();
    let length = if size == 0 { 0 } else { end - start + 1 };
    handle
        .seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| Failure::internal(e.to_string()))?;
    let (tx, body) = channel_body(8);
    if req.method == hyper::Method::GET {
        inner.spawn(async move {
            let mut left = length;
            let mut buf = vec![0u8; 64 * 1024];
            while left > 0 {
                let want = buf.len().min(left as usize);
                match handle.read(&mut buf[..want]).await {
                    Ok(0) => break,
                    Ok(n) => {
                        left -= n as u64;
                        if tx
                            .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        break;
                    }
                }
            }
        });
    }
    let mut response = hyper::Response::new(body);
    *response.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&length.to_string()) {
        headers.insert("content-length", v);
    }
    headers.insert("accept-ranges", HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert("etag", v);
    }
    if partial && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
        headers.insert("content-range", v);
    }
    Ok(response)
}

/// `bytes=N-`, `bytes=N-M` or `bytes=-K` within `size`; `None` when not satisfiable.
fn parse_byte_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    let (start, end) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let k: u64 = suffix.parse().ok()?;
            (size.saturating_sub(k), size.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && start < size).then_some((start, end))
}

/// Where a restore reads from.
enum Source {
    /// A dump in the sandbox's own storage.
    Stored { file: PathBuf, name: String },
    /// Anything else, fetched over HTTP(S).
    Remote(String),
}

/// Recognises the sandbox's own storage URLs (a backup's `to_url`, or a public URL).
fn own_source(inner: &Inner, world: &World, url: &str) -> Result<Option<Source>, Failure> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Err(Failure::invalid(format!(
            "backup_url is not a URL: {url:?}"
        )));
    };
    let own_host = matches!(
        parsed.host_str(),
        Some("127.0.0.1") | Some("127.0.0.2") | Some("localhost")
    ) && parsed.port() == Some(inner.port);
    if !own_host || !parsed.path().starts_with("/__sandbox/storage/") {
        return Ok(None);
    }
    let path = parsed.path();
    let file = if path.starts_with("/__sandbox/storage/public/") {
        granted_file(world, path)?
    } else {
        let uuid = path.rsplit('/').next().unwrap_or_default();
        world
            .transfers
            .iter()
            .find(|t| t.uuid == uuid)
            .and_then(|t| t.file.clone())
            .ok_or_else(|| Failure::invalid("backup_url names no stored backup"))?
    };
    let name = world
        .transfers
        .iter()
        .find(|t| t.file.as_deref() == Some(file.as_path()))
        .map(|t| format!("b{:03}", t.num))
        .unwrap_or_else(|| "BACKUP".into());
    Ok(Some(Source::Stored { file, name }))
}

/// `POST /client/v11/databases/{id}/restores` `{"backup_url": ..., "extensions": [...]}`.
pub(crate) async fn restore(inner: &Arc<Inner>, req: &Req, db: &str) -> Outcome {
    let body = req.json()?;
    let url = body
        .get("backup_url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Failure::invalid("backup_url is required"))?
        .to_string();
    let extensions: Vec<String> = match body.get("extensions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Failure::invalid("extensions must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Failure::invalid("extensions must be a list")),
    };
    let (uuid, creds, source, view) = {
        let mut world = inner.world();
        let (addon_id, app_id, creds) = ready_addon(&world, db)?;
        let source = match own_source(inner, &world, &url)? {
            Some(s) => s,
            None if url.starts_with("http://") || url.starts_with("https://") => {
                Source::Remote(url.clone())
            }
            None => return Err(Failure::invalid("backup_url must be an http(s) URL")),
        };
        let (from_type, from_name) = match &source {
            Source::Stored { name, .. } => ("gof3r", name.clone()),
            Source::Remote(_) => ("htcat", "BACKUP_URL".to_string()),
        };
        let to_name = attachment_name(&world, &addon_id, &app_id);
        let num = next_num(&mut world, &app_id);
        let ends = state::Ends {
            from_name,
            from_type: from_type.into(),
            to_name,
            to_type: "pg_restore".into(),
        };
        let mut transfer = TransferState::started(num, app_id, TransferKind::Restore, ends);
        let uuid = transfer.uuid.clone();
        transfer.log(
            "info",
            "Starting the restore with pg_restore --clean --if-exists --no-owner",
        );
        let view = world.transfer_view(&transfer, false, &inner.public_base());
        world.transfers.push(transfer);
        (uuid, creds, source, view)
    };
    inner.spawn(run_restore(inner.clone(), uuid, creds, source, extensions));
    created(&view)
}

async fn fetch(url: &str, to: &Path) -> Result<u64, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("fetching the backup: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!(
            "fetching the backup: HTTP {}",
            response.status().as_u16()
        ));
    }
    let mut out = tokio::fs::File::create(to)
        .await
        .map_err(|e| format!("storing the backup: {e}"))?;
    let mut total = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("fetching the backup: {}", e.without_url()))?
    {
        total += chunk.len() as u64;
        out.write_all(&chunk)
            .await
            .map_err(|e| format!("storing the backup: {e}"))?;
    }
    out.flush().await.map_err(|e| e.to_string())?;
    Ok(total)
}

async fn run_restore(
    inner: Arc<Inner>,
    uuid: String,
    creds: DbCredentials,
    source: Source,
    extensions: Vec<String>,
) {
    let (file, temporary) = match source {
        Source::Stored { file, .. } => (file, false),
        Source::Remote(url) => {
            let file = inner.storage.join(format!("{uuid}.download"));
            match fetch(&url, &file).await {
                Ok(_) => (file, true),
                Err(e) => return finish_transfer(&inner, &uuid, false, &e),
            }
        }
    };
    let size = tokio::fs::metadata(&file)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    with_transfer(&inner, &uuid, |t| t.source_bytes = Some(size));
    if let Err(e) = inner.pg.create_extensions(&creds, &extensions).await {
        return finish_transfer(&inner, &uuid, false, &format!("creating extensions: {e}"));
    }
    let mut cmd = inner.pg.restore_command(&creds, &file);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let outcome = match cmd.spawn() {
        Err(e) => Err(format!("pg_restore: {e}")),
        Ok(mut child) => {
            let logs = child
                .stderr
                .take()
                .map(|s| collect_logs(inner.clone(), uuid.clone(), s));
            let status = child.wait().await;
            let ignored = match logs {
                Some(l) => l.await.unwrap_or(0),
                None => 0,
            };
            match status {
                Ok(s) if s.success() => Ok(0),
                // pg_restore exits 1 when it skipped over errors; Heroku reports those as
                // warnings of a finished restore.
                Ok(_) if ignored > 0 => Ok(ignored),
                Ok(s) => Err(format!("pg_restore exited with {s}")),
                Err(e) => Err(format!("pg_restore: {e}")),
            }
        }
    };
    if temporary {
        let _ = tokio::fs::remove_file(&file).await;
    }
    match outcome {
        Ok(warnings) => {
            with_transfer(&inner, &uuid, |t| {
                t.processed_bytes = size;
                t.warnings = warnings;
            });
            finish_transfer(&inner, &uuid, true, "Restore completed");
        }
        Err(e) => finish_transfer(&inner, &uuid, false, &e),
    }
}

/// `PUT /client/v11/databases/{id}/reset`: the database emptied (dropped and created again).
pub(crate) async fn reset(inner: &Arc<Inner>, req: &Req, db: &str) -> Outcome {
    let body = req.json()?;
    let extensions: Vec<String> = body
        .get("extensions")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let creds = {
        let world = inner.world();
        ready_addon(&world, db)?.2
    };
    inner
        .pg
        .reset_database(&creds, &extensions)
        .await
        .map_err(|e| Failure::internal(format!("reset failed: {e}")))?;
    ok(&json!({ "message": "Database reset" }))
}

fn addon_app(world: &World, db: &str) -> Result<(String, String), Failure> {
    let addon = world.addon(db).ok_or_else(no_database)?;
    Ok((addon.id.clone(), addon.app_id.clone()))
}

/// `GET .../transfer-schedules`: every schedule of the database's app.
pub(crate) fn schedules_list(inner: &Arc<Inner>, db: &str) -> Outcome {
    let world = inner.world();
    let (_, app_id) = addon_app(&world, db)?;
    ok(&Value::Array(
        world
            .schedules
            .iter()
            .filter(|s| s.app_id == app_id)
            .map(|s| world.schedule_view(s))
            .collect(),
    ))
}

/// `POST .../transfer-schedules` `{"hour": "02", "timezone": "UTC", "schedule_name":
/// "DATABASE_URL"}`; one schedule per database, a new one replaces it.
pub(crate) fn schedule_create(inner: &Arc<Inner>, req: &Req, db: &str) -> Outcome {
    let body = req.json()?;
    let hour = match body.get("hour") {
        Some(Value::String(s)) => s.trim().parse::<u8>().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        _ => None,
    }
    .filter(|h| *h < 24)
    .ok_or_else(|| Failure::invalid("hour must be 0-23"))?;
    let timezone = body
        .get("timezone")
        .and_then(Value::as_str)
        .unwrap_or("UTC")
        .to_string();
    let mut world = inner.world();
    let (addon_id, app_id) = addon_app(&world, db)?;
    let name = body
        .get("schedule_name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}_URL", attachment_name(&world, &addon_id, &app_id)));
    world.schedules.retain(|s| s.addon_id != addon_id);
    let schedule = ScheduleState {
        uuid: state::new_id(),
        app_id,
        addon_id,
        name,
        hour,
        timezone,
        created_at: state::now_data(),
    };
    let view = world.schedule_view(&schedule);
    world.schedules.push(schedule);
    created(&view)
}

pub(crate) fn schedule_delete(inner: &Arc<Inner>, db: &str, id: &str) -> Outcome {
    let mut world = inner.world();
    let (addon_id, app_id) = addon_app(&world, db)?;
    let at = world
        .schedules
        .iter()
        .position(|s| s.uuid == id && (s.addon_id == addon_id || s.app_id == app_id))
        .ok_or_else(|| Failure::not_found("Couldn't find that schedule."))?;
    let schedule = world.schedules.remove(at);
    ok(&world.schedule_view(&schedule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_herokus() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1 << 30), "1 GB");
        assert_eq!(human_size(7_969_000), "7.6 MB");
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_byte_range("bytes=0-", 10), Some((0, 9)));
        assert_eq!(parse_byte_range("bytes=4-", 10), Some((4, 9)));
        assert_eq!(parse_byte_range("bytes=2-5", 10), Some((2, 5)));
        assert_eq!(parse_byte_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_byte_range("bytes=10-", 10), None);
        assert_eq!(parse_byte_range("items=0-", 10), None);
    }
}
