//! Reading a log session's stream: the lines of a one-off dyno or of the whole app.

use futures_util::StreamExt;

use super::StepError;
use crate::api::{ApiClient, ApiError, send_plain};

/// The longest log line held before it is passed on in pieces.
const MAX_LINE: usize = 1024 * 1024;

/// Reads a log session's stream, calling `on_line` for each log line until the stream
/// ends or `on_line` returns `false`. Accepts Server-Sent Events (`data:` lines) and plain
/// text. The URL carries its own credentials: the API token is not sent.
pub async fn read_log_stream(
    api: &ApiClient,
    logplex_url: &str,
    mut on_line: impl FnMut(&str) -> bool,
) -> Result<(), StepError> {
    let transport = |source: reqwest::Error| ApiError::Transport {
        method: "GET".into(),
        host: "log stream".into(),
        path: "(log session)".into(),
        source: source.without_url(),
    };
    let request = api
        .plain_http(logplex_url)?
        .get(logplex_url)
        .header("Accept", "text/event-stream");
    let response = send_plain(request, api.timeouts(), "log stream", "(log session)").await?;
    if !response.status().is_success() {
        return Err(StepError::LogStreamRefused {
            status: response.status().as_u16(),
        });
    }
    let mut stream = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        pending.extend_from_slice(&chunk.map_err(transport)?);
        if pending.len() > MAX_LINE && !pending.contains(&b'\n') {
            // A line that never ends is cut, not held: what came so far is passed on.
            pending.push(b'\n');
        }
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = pending.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&raw);
            if let Some(line) = log_line(text.trim_end_matches(['\n', '\r']))
                && !on_line(line)
            {
                return Ok(());
            }
        }
    }
    if !pending.is_empty() {
        let text = String::from_utf8_lossy(&pending).into_owned();
        if let Some(line) = log_line(text.trim_end()) {
            on_line(line);
        }
    }
    Ok(())
}

/// The log text of one stream line: SSE `data:` payloads, or the line itself; SSE framing
/// (`id:`, `event:`, comments, blank separators) is skipped.
fn log_line(raw: &str) -> Option<&str> {
    if raw.is_empty()
        || raw.starts_with(':')
        || raw.starts_with("id:")
        || raw.starts_with("event:")
        || raw.starts_with("retry:")
    {
        return None;
    }
    let line = raw
        .strip_prefix("data:")
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .unwrap_or(raw);
    (!line.is_empty()).then_some(line)
}

/// The exit status in a platform line such as
/// `2026-01-01T00:00:00+00:00 heroku[run.1234]: Process exited with status 3`.
pub fn exit_status(line: &str, dyno: &str) -> Option<i32> {
    let marker = format!("heroku[{dyno}]: Process exited with status ");
    let at = line.find(&marker)?;
    line[at + marker.len()..].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_framing_is_skipped() {
        assert_eq!(log_line("data: hello"), Some("hello"));
        assert_eq!(log_line("id: 5"), None);
        assert_eq!(log_line(""), None);
        assert_eq!(log_line("plain text"), Some("plain text"));
    }

    #[test]
    fn exit_status_is_read_for_the_right_dyno() {
        let line = "2026-01-01T00:00:00Z heroku[run.42]: Process exited with status 3";
        assert_eq!(exit_status(line, "run.42"), Some(3));
        assert_eq!(exit_status(line, "run.4"), None);
        assert_eq!(
            exit_status("app[run.42]: Process exited with status 3", "run.42"),
            None
        );
    }
}
