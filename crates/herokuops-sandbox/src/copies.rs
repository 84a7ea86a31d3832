//! Copies between databases (`heroku pg:copy`, `herokuops swap-db --copy`):
//! `POST /client/v11/databases/{id}/transfers` with the source and target URLs. As on Heroku,
//! the target is emptied first; then `pg_dump` of the source is piped into `pg_restore` of the
//! target, the bytes through the pipe being the transfer's progress. Also the credentials list
//! the official CLI reads after starting a copy.

use std::process::Stdio;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Inner;
use super::control;
use super::data::{
    attachment_name, collect_logs, finish_transfer, next_num, no_database, ready_addon,
    with_transfer,
};
use super::postgres::DbCredentials;
use super::state::{self, TransferKind, TransferState};
use crate::wire::{Failure, Outcome, Req, created, ok};
use herokuops::pg::Target;

/// What a copy needs once it has been answered.
struct CopyJob {
    uuid: String,
    from_url: String,
    to_url: String,
    /// The credentials of the source and target when they are the sandbox's own add-ons.
    source: Option<DbCredentials>,
    target: Option<DbCredentials>,
    /// An injected failure (`transfer_error`).
    fails_with: Option<String>,
}

/// The body's fields, each a non-empty string.
fn copy_fields(req: &Req) -> Result<[String; 4], Failure> {
    let body = req.json()?;
    let field = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Failure::invalid(format!("{key} is required")))
    };
    let fields = [
        field("from_name")?,
        field("from_url")?,
        field("to_name")?,
        field("to_url")?,
    ];
    for url in [&fields[1], &fields[3]] {
        Target::parse(url).map_err(|e| Failure::invalid(e.to_string()))?;
    }
    if fields[1] == fields[3] {
        return Err(Failure::invalid("Cannot copy a database onto itself."));
    }
    Ok(fields)
}

/// `POST /client/v11/databases/{id}/transfers` `{"from_name", "from_url", "to_name",
/// "to_url"}`: starts a copy, listed under the app of the add-on in the path.
pub(crate) async fn copy(inner: &Arc<Inner>, req: &Req, db: &str) -> Outcome {
    let [from_name, from_url, to_name, to_url] = copy_fields(req)?;
    let fails_with = control::take_transfer_error(inner, req);
    let (job, view) = {
        let mut world = inner.world();
        let (_, app_id, _) = ready_addon(&world, db)?;
        let own = |url: &str| world.addons.iter().find(|a| a.url == url);
        if let Some(target) = own(&to_url).filter(|a| a.provisioning()) {
            return Err(Failure::invalid(format!(
                "{} is not available yet: it is still provisioning.",
                target.name
            )));
        }
        let source = own(&from_url).map(|a| a.creds.clone());
        let target = own(&to_url).map(|a| a.creds.clone());
        let num = next_num(&mut world, &app_id);
        let ends = state::Ends {
            from_name,
            from_type: "pg_dump".into(),
            to_name,
            to_type: "pg_restore".into(),
        };
        let mut transfer = TransferState::started(num, app_id, TransferKind::Copy, ends);
        let uuid = transfer.uuid.clone();
        transfer.log(
            "info",
            "Starting the copy: the target is emptied, then pg_dump | pg_restore",
        );
        let view = world.transfer_view(&transfer, false, &inner.public_base());
        world.transfers.push(transfer);
        let job = CopyJob {
            uuid,
            from_url,
            to_url,
            source,
            target,
            fails_with,
        };
        (job, view)
    };
    inner.spawn(run_copy(inner.clone(), job));
    created(&view)
}

async fn run_copy(inner: Arc<Inner>, job: CopyJob) {
    let done_at = tokio::time::Instant::now() + inner.options.backup_time;
    if let Some(creds) = &job.source
        && let Ok(stats) = inner.pg.stats(creds).await
    {
        with_transfer(&inner, &job.uuid, |t| {
            t.source_bytes = Some(stats.bytes.max(0) as u64)
        });
    }
    // Heroku removes all data from the target before it copies.
    if let Some(creds) = &job.target
        && let Err(e) = inner.pg.reset_database(creds, &[]).await
    {
        return finish_transfer(
            &inner,
            &job.uuid,
            false,
            &format!("emptying the target: {e}"),
        );
    }
    let cancel = match inner.world().transfer_mut(&job.uuid) {
        Some(t) => t.cancel.clone(),
        None => return,
    };
    let outcome = match &job.fails_with {
        Some(message) => Err(message.clone()),
        None => {
            tokio::select! {
                piped = pipe(&inner, &job) => piped,
                _ = cancel.notified() => return,
            }
        }
    };
    // On Heroku the copy runs on Heroku's side while the client waits; it may be made to take
    // that long here too.
    tokio::time::sleep_until(done_at).await;
    match outcome {
        Ok(warnings) => {
            with_transfer(&inner, &job.uuid, |t| t.warnings = warnings);
            finish_transfer(&inner, &job.uuid, true, "Copy completed");
        }
        Err(e) => finish_transfer(&inner, &job.uuid, false, &e),
    }
}

/// `pg_dump` of the source into `pg_restore` of the target; the warnings pg_restore skipped.
async fn pipe(inner: &Arc<Inner>, job: &CopyJob) -> Result<u64, String> {
    let mut dump = inner.pg.dump_url_command(&job.from_url)?;
    dump.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut restore = inner.pg.restore_url_command(&job.to_url)?;
    restore
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut dump = dump.spawn().map_err(|e| format!("pg_dump: {e}"))?;
    let mut restore = restore.spawn().map_err(|e| format!("pg_restore: {e}"))?;
    let logs = [dump.stderr.take(), restore.stderr.take()]
        .map(|s| s.map(|s| collect_logs(inner.clone(), job.uuid.clone(), s)));
    let (Some(mut from), Some(mut to)) = (dump.stdout.take(), restore.stdin.take()) else {
        return Err("pg_dump | pg_restore: no pipe".into());
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let copied: std::io::Result<()> = async {
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            to.write_all(&buf[..n]).await?;
            total += n as u64;
            with_transfer(inner, &job.uuid, |t| t.processed_bytes = total);
        }
        to.shutdown().await
    }
    .await;
    drop(to);
    let dumped = dump.wait().await.map_err(|e| format!("pg_dump: {e}"))?;
    let restored = restore
        .wait()
        .await
        .map_err(|e| format!("pg_restore: {e}"))?;
    let [_, restore_logs] = logs;
    let ignored = match restore_logs {
        Some(l) => l.await.unwrap_or(0),
        None => 0,
    };
    copied.map_err(|e| format!("piping the dump: {e}"))?;
    if !dumped.success() {
        return Err(format!("pg_dump exited with {dumped}"));
    }
    match restored.success() {
        true => Ok(0),
        // pg_restore exits 1 when it skipped over errors; Heroku reports those as warnings.
        false if ignored > 0 => Ok(ignored),
        false => Err(format!("pg_restore exited with {restored}")),
    }
}

/// `GET /postgres/v0/databases/{addon}/credentials`: the database's credentials, which the
/// official CLI counts after a copy (it warns when there are several). Only the default one
/// exists here; no password is shown.
pub(crate) fn credentials(inner: &Arc<Inner>, addon: &str) -> Outcome {
    let world = inner.world();
    let found = world.addon(addon).ok_or_else(no_database)?;
    let name = attachment_name(&world, &found.id, &found.app_id);
    ok(&json!([{
        "uuid": found.id,
        "name": "default",
        "state": "active",
        "database": found.creds.database,
        "host": "127.0.0.1",
        "credentials": [{ "user": found.creds.role, "state": "active", "connections": 0 }],
        "attachment": name,
    }]))
}
