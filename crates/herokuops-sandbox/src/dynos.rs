//! Dynos in motion: restarts (states `starting` then `up`, with the app's boot migration run
//! against the current `DATABASE_URL`), one-off dynos that run their command locally with the
//! app's config vars, and log sessions that stream an app's log lines.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use rand::Rng;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::Inner;
use super::cluster::random_word;
use super::postgres::{Migrated, run_boot_migration};
use super::state::{self, DynoState, LogBuffer, LogLine, LogSessionState};
use crate::wire::{Failure, Outcome, Req, channel_body, created, json_response};
use herokuops::api::models::LogSession;

/// Which dynos a restart is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Which {
    All,
    Type(String),
    Dyno(String),
}

/// How long a log session's URL works.
const LOG_SESSION_TTL: Duration = Duration::from_secs(60 * 60);
/// One-off dynos without a `time_to_live` are stopped after this, as Heroku does.
const MAX_ONE_OFF: Duration = Duration::from_secs(24 * 60 * 60);

fn no_app(app: &str) -> Failure {
    Failure::not_found(format!("Couldn't find that app ({app})."))
}

/// Puts the chosen dynos in `starting` and boots them in the background: the app's boot
/// migration against `DATABASE_URL`, the boot time, then `up` (or `crashed` if the migration
/// fails). Answers 202 at once, as Heroku does.
pub(crate) fn restart(inner: &Arc<Inner>, app: &str, which: Which) -> Outcome {
    let (app_id, seq, epoch, names) = {
        let mut world = inner.world();
        let epoch = world.epoch;
        let found = world.app_mut(app).ok_or_else(|| no_app(app))?;
        // `DELETE /dynos/web` restarts every web dyno, as the CLI's `ps:restart web` expects.
        let which = match which {
            Which::Dyno(n)
                if found.dyno(&n).is_none()
                    && found.formation.iter().any(|f| f.process_type == n) =>
            {
                Which::Type(n)
            }
            other => other,
        };
        let targets: Vec<usize> = found
            .dynos
            .iter()
            .enumerate()
            .filter(|(_, d)| d.process_type != "run")
            .filter(|(_, d)| match &which {
                Which::All => true,
                Which::Type(t) => &d.process_type == t,
                Which::Dyno(n) => &d.name == n || &d.id == n,
            })
            .map(|(i, _)| i)
            .collect();
        match &which {
            Which::Type(t) if !found.formation.iter().any(|f| &f.process_type == t) => {
                return Err(Failure::not_found("Couldn't find that formation."));
            }
            Which::Dyno(_) if targets.is_empty() => {
                return Err(Failure::not_found("Couldn't find that dyno."));
            }
            _ => {}
        }
        found.restart_seq += 1;
        let seq = found.restart_seq;
        let now = state::now_platform();
        let version = found.current_release();
        let mut names = Vec::new();
        for i in targets {
            let dyno = &mut found.dynos[i];
            let previous = std::mem::replace(&mut dyno.state, "starting".into());
            dyno.updated_at = now.clone();
            dyno.restart_seq = seq;
            dyno.release_version = version;
            found.logs.push("heroku", &dyno.name, "Restarting");
            found.logs.push(
                "heroku",
                &dyno.name,
                &format!("State changed from {previous} to starting"),
            );
            names.push(dyno.name.clone());
        }
        (found.id.clone(), seq, epoch, names)
    };
    if !names.is_empty() {
        inner.spawn(boot(inner.clone(), app_id, seq, epoch, names));
    }
    Ok(json_response(StatusCode::ACCEPTED, &json!({})))
}

async fn boot(inner: Arc<Inner>, app_id: String, seq: u64, epoch: u64, names: Vec<String>) {
    let (url, migration, lock, logs) = {
        let world = inner.world();
        let Some(app) = world.app_by_id(&app_id).filter(|_| world.epoch == epoch) else {
            return;
        };
        (
            app.config_vars.get("DATABASE_URL").cloned(),
            app.boot.clone(),
            app.migrate_lock.clone(),
            app.logs.clone(),
        )
    };
    let first = names.first().cloned().unwrap_or_default();
    let outcome = match (&migration, &url) {
        (None, _) => Ok(()),
        (Some(_), None) => Err("DATABASE_URL is not set; the app cannot boot".to_string()),
        (Some(migration), Some(url)) => {
            let _one_at_a_time = lock.lock().await;
            logs.push("app", &first, "Running the boot migration");
            match run_boot_migration(url, migration).await {
                Ok(Migrated::Ran) => {
                    logs.push("app", &first, "Boot migration applied");
                    Ok(())
                }
                Ok(Migrated::AlreadyInPlace) => {
                    logs.push("app", &first, "Schema up to date; nothing to migrate");
                    Ok(())
                }
                Err(e) => Err(format!("boot migration failed: {e}")),
            }
        }
    };
    if let Err(e) = &outcome {
        logs.push("app", &first, e);
    }
    let boot_time = migration.map(|m| m.boot_time).unwrap_or_default();
    tokio::time::sleep(boot_time).await;
    let mut world = inner.world();
    if world.epoch != epoch {
        return;
    }
    let Some(app) = world.apps.iter_mut().find(|a| a.id == app_id) else {
        return;
    };
    let now = state::now_platform();
    let new_state = if outcome.is_ok() { "up" } else { "crashed" };
    for dyno in app
        .dynos
        .iter_mut()
        .filter(|d| d.restart_seq == seq && names.contains(&d.name))
    {
        dyno.state = new_state.into();
        dyno.updated_at = now.clone();
        if outcome.is_err() {
            logs.push("heroku", &dyno.name, "Process exited with status 1");
        }
        logs.push(
            "heroku",
            &dyno.name,
            &format!("State changed from starting to {new_state}"),
        );
    }
}

/// The environment a one-off dyno's command gets: a few basics of ours, then the app's config
/// vars, then the request's `env`.
fn base_env() -> Vec<(String, String)> {
    ["PATH", "HOME", "LANG", "TMPDIR", "TERM", "USER"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// `POST /apps/{app}/dynos`: a detached one-off dyno; the command runs here under `sh -c`.
pub(crate) async fn run_one_off(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let body = req.json()?;
    let command = body
        .get("command")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| Failure::invalid("command is required"))?
        .to_string();
    if body.get("attach").and_then(Value::as_bool) == Some(true) {
        return Err(Failure::invalid(
            "Attached one-off dynos are not supported by the sandbox; use attach: false and a log session.",
        ));
    }
    let mut extra = Vec::new();
    if let Some(env) = body.get("env") {
        let env = env
            .as_object()
            .ok_or_else(|| Failure::invalid("env must be an object"))?;
        for (k, v) in env {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            extra.push((k.clone(), v));
        }
    }
    let ttl = body
        .get("time_to_live")
        .and_then(Value::as_u64)
        .map(Duration::from_secs)
        .unwrap_or(MAX_ONE_OFF)
        .min(MAX_ONE_OFF);
    let size = body
        .get("size")
        .and_then(Value::as_str)
        .unwrap_or("Basic")
        .to_string();
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("run")
        .to_string();
    let stop = Arc::new(tokio::sync::Notify::new());
    let (app_id, name, vars, logs, view, epoch) = {
        let mut world = inner.world();
        let epoch = world.epoch;
        let found = world.app_mut(app).ok_or_else(|| no_app(app))?;
        let mut rng = rand::rng();
        let name = loop {
            let candidate = format!("{kind}.{}", rng.random_range(1000..10000));
            // A name whose log stream has ended is not reused: its streams end with it.
            if !found.dynos.iter().any(|d| d.name == candidate) && !found.logs.has_ended(&candidate)
            {
                break candidate;
            }
        };
        let now = state::now_platform();
        let dyno = DynoState {
            id: state::new_id(),
            name: name.clone(),
            process_type: "run".into(),
            command: command.clone(),
            size,
            state: "starting".into(),
            created_at: now.clone(),
            updated_at: now,
            release_version: found.current_release(),
            restart_seq: 0,
            stop: Some(stop.clone()),
        };
        let view = found.dyno_view(&dyno);
        found.dynos.push(dyno);
        found.logs.push(
            "heroku",
            &name,
            &format!("Starting process with command `{command}`"),
        );
        let mut vars = base_env();
        vars.extend(
            found
                .config_vars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        vars.extend(extra);
        vars.push(("DYNO".into(), name.clone()));
        (
            found.id.clone(),
            name,
            vars,
            found.logs.clone(),
            view,
            epoch,
        )
    };
    inner.spawn(one_off(
        inner.clone(),
        OneOff {
            app_id,
            name,
            command,
            vars,
            logs,
            ttl,
            epoch,
            stop,
        },
    ));
    created(&view)
}

struct OneOff {
    app_id: String,
    name: String,
    command: String,
    vars: Vec<(String, String)>,
    logs: Arc<LogBuffer>,
    ttl: Duration,
    epoch: u64,
    stop: Arc<tokio::sync::Notify>,
}

fn set_dyno_state(inner: &Inner, run: &OneOff, new_state: &str) {
    let mut world = inner.world();
    if world.epoch != run.epoch {
        return;
    }
    if let Some(app) = world.apps.iter_mut().find(|a| a.id == run.app_id)
        && let Some(d) = app.dynos.iter_mut().find(|d| d.name == run.name)
    {
        d.state = new_state.into();
        d.updated_at = state::now_platform();
    }
}

async fn one_off(inner: Arc<Inner>, run: OneOff) {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(&run.command)
        .env_clear()
        .envs(run.vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a stop or the time to live ends everything the command started,
    // which also closes the output pipes the log pumps read to their end.
    let status = match herokuops::process::GroupChild::spawn(cmd) {
        Err(e) => {
            run.logs.push(
                "heroku",
                &run.name,
                &format!("Error starting the process: {e}"),
            );
            127
        }
        Ok(mut child) => {
            set_dyno_state(&inner, &run, "up");
            run.logs
                .push("heroku", &run.name, "State changed from starting to up");
            let out = child
                .child_mut()
                .stdout
                .take()
                .map(|s| pump(s, run.logs.clone(), run.name.clone()));
            let err = child
                .child_mut()
                .stderr
                .take()
                .map(|s| pump(s, run.logs.clone(), run.name.clone()));
            let waited = tokio::select! {
                waited = tokio::time::timeout(run.ttl, child.wait()) => Some(waited),
                _ = run.stop.notified() => None,
            };
            let status = match waited {
                Some(Ok(Ok(status))) => status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
                Some(Ok(Err(_))) => 1,
                Some(Err(_)) => {
                    run.logs.push(
                        "heroku",
                        &run.name,
                        "Stopping process: time to live reached",
                    );
                    let _ = child.kill().await;
                    137
                }
                None => {
                    run.logs
                        .push("heroku", &run.name, "Stopping all processes with SIGTERM");
                    let _ = child.kill().await;
                    143
                }
            };
            // Output read to its end before the exit line, so readers see it in order.
            if let Some(out) = out {
                let _ = out.await;
            }
            if let Some(err) = err {
                let _ = err.await;
            }
            status
        }
    };
    run.logs.push(
        "heroku",
        &run.name,
        &format!("Process exited with status {status}"),
    );
    run.logs
        .push("heroku", &run.name, "State changed from up to complete");
    run.logs.mark_ended(&run.name);
    let mut world = inner.world();
    if world.epoch == run.epoch
        && let Some(app) = world.apps.iter_mut().find(|a| a.id == run.app_id)
    {
        app.dynos.retain(|d| d.name != run.name);
    }
}

/// `POST /apps/{app}/dynos/{dyno}/actions/stop`: a one-off dyno's process ends (status 143, as
/// on Heroku); a formation dyno is replaced by a new one, as the formation keeps its count.
pub(crate) fn stop(inner: &Arc<Inner>, app: &str, dyno: &str) -> Outcome {
    let handle = {
        let world = inner.world();
        let found = world.app(app).ok_or_else(|| no_app(app))?;
        let target = found
            .dyno(dyno)
            .ok_or_else(|| Failure::not_found("Couldn't find that dyno."))?;
        target.stop.clone()
    };
    match handle {
        Some(stop) => {
            // A permit is kept if the process has not started waiting yet.
            stop.notify_one();
            Ok(json_response(StatusCode::ACCEPTED, &json!({})))
        }
        None => restart(inner, app, Which::Dyno(dyno.to_string())),
    }
}

/// Copies a stream's lines into the app's log as `app[run.N]` lines.
fn pump<R: AsyncRead + Unpin + Send + 'static>(
    stream: R,
    logs: Arc<LogBuffer>,
    dyno: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            logs.push("app", &dyno, &line);
        }
    })
}

/// `POST /apps/{app}/log-sessions`; the body may name the dyno as `dyno` (what the official CLI
/// sends) or `dyno_name` (the schema's name).
pub(crate) fn create_log_session(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let body = req.json()?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let dyno = text("dyno").or_else(|| text("dyno_name"));
    let source = text("source");
    let lines = body
        .get("lines")
        .and_then(Value::as_u64)
        .map(|n| n.clamp(1, 1500) as usize);
    let tail = body.get("tail").and_then(Value::as_bool).unwrap_or(false);
    let secret = random_word(40);
    {
        let mut world = inner.world();
        let app_id = world.app(app).ok_or_else(|| no_app(app))?.id.clone();
        let now = SystemTime::now();
        world.log_sessions.retain(|_, s| s.expires > now);
        world.log_sessions.insert(
            secret.clone(),
            LogSessionState {
                app_id,
                dyno,
                source,
                lines,
                tail,
                expires: now + LOG_SESSION_TTL,
            },
        );
    }
    let now = state::now_platform();
    let session = LogSession {
        id: state::new_id(),
        logplex_url: format!("{}/__sandbox/logs/{secret}", inner.public_base()),
        created_at: Some(now.clone()),
    };
    let mut view = serde_json::to_value(&session).unwrap_or(Value::Null);
    view["updated_at"] = json!(now);
    created(&view)
}

/// `GET` of a `logplex_url`: the backlog, then (with `tail`) new lines as they come. A stream of
/// one one-off dyno ends after its process has exited. Server-Sent Events when asked for
/// `text/event-stream`, plain lines otherwise.
pub(crate) async fn log_stream(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let secret = req
        .path
        .trim_start_matches("/__sandbox/logs/")
        .trim_end_matches('/');
    let (session, logs, one_off) = {
        let world = inner.world();
        let session = world
            .log_sessions
            .get(secret)
            .ok_or_else(|| Failure::not_found("Unknown or expired log session."))?;
        if session.expires <= SystemTime::now() {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Log session expired.",
            ));
        }
        let app = world
            .app_by_id(&session.app_id)
            .ok_or_else(|| Failure::not_found("Unknown or expired log session."))?;
        // A stream of a single one-off dyno shows all of it and ends with it.
        let one_off = session.dyno.clone().filter(|d| {
            app.logs.has_ended(d)
                || app
                    .dynos
                    .iter()
                    .any(|x| &x.name == d && x.process_type == "run")
        });
        (
            LogSessionState {
                app_id: session.app_id.clone(),
                dyno: session.dyno.clone(),
                source: session.source.clone(),
                lines: session.lines,
                tail: session.tail,
                expires: session.expires,
            },
            app.logs.clone(),
            one_off,
        )
    };
    let sse = req
        .header("accept")
        .is_some_and(|a| a.contains("text/event-stream"));
    let keep = {
        let dyno = session.dyno.clone();
        let source = session.source.clone();
        move |l: &LogLine| {
            let dyno_ok = dyno.as_deref().is_none_or(|d| {
                if d.contains('.') {
                    l.dyno == d
                } else {
                    l.dyno.split('.').next() == Some(d)
                }
            });
            dyno_ok && source.as_deref().is_none_or(|s| l.source == s)
        }
    };
    let (tx, body) = channel_body(64);
    inner.spawn(async move {
        let format = |l: &LogLine| {
            if sse {
                Bytes::from(format!("id: {}\ndata: {}\n\n", l.seq, l.render()))
            } else {
                Bytes::from(format!("{}\n", l.render()))
            }
        };
        let mut cursor = 0;
        let mut first = true;
        let deadline = tokio::time::Instant::now()
            + session
                .expires
                .duration_since(SystemTime::now())
                .unwrap_or_default();
        loop {
            let notified = logs.notify.notified();
            let ended = one_off.as_deref().is_some_and(|d| logs.has_ended(d));
            let (mut lines, next) = logs.snapshot(cursor, &keep);
            cursor = next;
            if first {
                first = false;
                let limit = match (session.lines, &one_off) {
                    (Some(n), _) => n,
                    (None, Some(_)) => usize::MAX,
                    (None, None) => 100,
                };
                if lines.len() > limit {
                    lines.drain(..lines.len() - limit);
                }
            }
            for line in &lines {
                if tx.send(Ok(format(line))).await.is_err() {
                    return;
                }
            }
            if !session.tail || ended {
                return;
            }
            tokio::select! {
                _ = notified => {}
                _ = tx.closed() => return,
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tokio::time::sleep(Duration::from_secs(15)) => {
                    // Keeps proxies from closing an idle stream, and tells us when the client
                    // has gone.
                    if sse && tx.send(Ok(Bytes::from_static(b": keep-alive\n\n"))).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut response = hyper::Response::new(body);
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static(if sse {
            "text/event-stream; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        }),
    );
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    Ok(response)
}
