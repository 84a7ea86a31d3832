//! One-off dynos: start detached, follow the log, return the exit status.

use std::time::Duration;

use crate::api::models::Dyno;
use crate::api::{ApiClient, ApiError, DynoCreate, LogSessionCreate};

use super::StepError;
use super::logs::{exit_status, read_log_stream};

/// Joins command words as the official CLI does: words with spaces or quotes are quoted.
pub fn command_line(words: &[String]) -> String {
    if words.len() == 1 {
        return words[0].clone();
    }
    words
        .iter()
        .map(|w| {
            if w.contains(' ') || w.contains('"') {
                format!("\"{}\"", w.replace('"', "\\\""))
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The outcome of a one-off run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub dyno: String,
    pub exit_status: i32,
}

/// How many lines a reconnected log session replays.
const REPLAYED_LINES: u32 = 10;

/// Starts `command` on a detached one-off dyno, passes each of its output lines to `on_output`,
/// and returns its exit status, read from the platform's `Process exited with status N`.
pub async fn run(
    api: &ApiClient,
    app: &str,
    command: &str,
    env: std::collections::BTreeMap<String, String>,
    timeout: Duration,
    on_output: impl FnMut(&str) + Send,
) -> Result<RunOutcome, StepError> {
    let dyno = start(api, app, command, env).await?;
    follow(api, app, &dyno, timeout, on_output).await
}

/// Starts `command` on a detached one-off dyno; returns its name.
pub async fn start(
    api: &ApiClient,
    app: &str,
    command: &str,
    env: std::collections::BTreeMap<String, String>,
) -> Result<String, StepError> {
    let details = api.app(app).await?;
    let command = if details.stack.as_ref().is_some_and(|s| s.name == "cnb") {
        format!("launcher {command}")
    } else {
        command.to_string()
    };
    let spec = DynoCreate {
        command,
        env,
        ..Default::default()
    };
    Ok(create_with_release_retry(api, app, &spec).await?.name)
}

/// Follows a one-off dyno's log until its exit line (see [`run`]).
pub async fn follow(
    api: &ApiClient,
    app: &str,
    dyno: &str,
    timeout: Duration,
    mut on_output: impl FnMut(&str) + Send,
) -> Result<RunOutcome, StepError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut session_spec = LogSessionCreate {
        dyno_name: Some(dyno.to_string()),
        tail: true,
        ..Default::default()
    };
    let mut status = None;
    let app_prefix = format!("app[{}]: ", dyno);
    // Lines already passed on, so that a reconnected session's replay is not shown twice.
    let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    loop {
        let session = api.create_log_session(app, &session_spec).await?;
        let replaying = session_spec.lines.is_some();
        let follow = read_log_stream(api, &session.logplex_url, |line| {
            if let Some(code) = exit_status(line, dyno) {
                status = Some(code);
                return false;
            }
            if let Some(at) = line.find(&app_prefix) {
                if replaying && recent.iter().any(|r| r == line) {
                    return true;
                }
                recent.push_back(line.to_string());
                if recent.len() > REPLAYED_LINES as usize {
                    recent.pop_front();
                }
                on_output(&line[at + app_prefix.len()..]);
            }
            true
        });
        let ended = match tokio::time::timeout_at(deadline, follow).await {
            Ok(result) => result,
            Err(_) => {
                return Err(StepError::Timeout {
                    what: format!("one-off dyno {} to exit", dyno),
                    after: timeout,
                });
            }
        };
        if status.is_some() {
            break;
        }
        // The stream ended or broke before the exit line: a command quiet for longer than the
        // stream's read timeout, or an expired session. While the dyno exists, follow it again,
        // with the last lines replayed in case the exit line fell between the two sessions.
        match api.dyno(app, dyno).await {
            Ok(_) => {}
            Err(e) if e.status() == Some(404) => match ended {
                Err(stream_error) => return Err(stream_error),
                Ok(()) => break,
            },
            Err(e) => return Err(e.into()),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StepError::Timeout {
                what: format!("one-off dyno {} to exit", dyno),
                after: timeout,
            });
        }
        session_spec.lines = Some(REPLAYED_LINES);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let exit_status = status.ok_or_else(|| StepError::NoExitStatus {
        app: app.to_string(),
        dyno: dyno.to_string(),
    })?;
    Ok(RunOutcome {
        dyno: dyno.to_string(),
        exit_status,
    })
}

/// A 409 right after a deploy means the release is not ready; the official CLI tries twice more.
async fn create_with_release_retry(
    api: &ApiClient,
    app: &str,
    spec: &DynoCreate,
) -> Result<Dyno, ApiError> {
    let mut attempt = 0;
    loop {
        match api.create_dyno(app, spec).await {
            Err(e) if e.status() == Some(409) && attempt < 2 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::command_line;

    #[test]
    fn words_are_quoted_like_the_cli() {
        assert_eq!(command_line(&["rake db:migrate".into()]), "rake db:migrate");
        assert_eq!(
            command_line(&["echo".into(), "a b".into(), "say \"hi\"".into()]),
            "echo \"a b\" \"say \\\"hi\\\"\""
        );
    }
}
