//! An app's logs through a log session, as `heroku logs` reads them: the recent lines, or
//! (following) the recent lines and then every new one, with a new session whenever the
//! stream ends, without showing twice the lines the new session replays.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use crate::api::{ApiClient, LogSessionCreate};

use super::StepError;
use super::logs::read_log_stream;

/// One log line, split as logplex writes it: `TIME SOURCE[DYNO]: TEXT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub time: String,
    pub source: String,
    pub dyno: String,
    pub text: String,
}

impl LogLine {
    /// Splits a line; a line of another shape is all text.
    pub fn parse(line: &str) -> LogLine {
        let split = line.split_once(' ').and_then(|(time, rest)| {
            let (head, text) = rest.split_once("]: ")?;
            let (source, dyno) = head.split_once('[')?;
            let plain = |s: &str| s.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
            (plain(source) && plain(dyno)).then(|| LogLine {
                time: time.to_string(),
                source: source.to_string(),
                dyno: dyno.to_string(),
                text: text.to_string(),
            })
        });
        split.unwrap_or_else(|| LogLine {
            time: String::new(),
            source: String::new(),
            dyno: String::new(),
            text: line.to_string(),
        })
    }
}

/// Which lines a session streams.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub lines: u32,
    /// A dyno (`web.1`) or a process type (`web`).
    pub dyno: Option<String>,
    /// `app` or `heroku`.
    pub source: Option<String>,
}

impl Filter {
    fn session(&self, lines: u32, tail: bool) -> LogSessionCreate {
        LogSessionCreate {
            dyno_name: self.dyno.clone(),
            lines: Some(lines),
            source: self.source.clone(),
            tail,
        }
    }
}

/// The recent lines, up to `filter.lines`, in order.
pub async fn recent(api: &ApiClient, app: &str, filter: &Filter) -> Result<Vec<String>, StepError> {
    let session = api
        .create_log_session(app, &filter.session(filter.lines, false))
        .await?;
    let mut lines = Vec::new();
    read_log_stream(api, &session.logplex_url, |line| {
        lines.push(line.to_string());
        true
    })
    .await?;
    Ok(lines)
}

/// Lines a reconnected session replays, to be recognised as seen.
const REPLAYED: u32 = 20;

/// The recent lines and then every new one, each passed to `on_line`, for as long as the
/// caller polls it (a tail ends when its future is dropped, on Ctrl-C). A stream that ends is
/// opened again; a line shown before the break is not shown again.
pub async fn follow(
    api: &ApiClient,
    app: &str,
    filter: &Filter,
    mut on_line: impl FnMut(&str) + Send,
) -> Result<(), StepError> {
    let mut seen: VecDeque<String> = VecDeque::new();
    let mut lines = filter.lines;
    loop {
        let session = api
            .create_log_session(app, &filter.session(lines, true))
            .await?;
        let replaying = lines == REPLAYED;
        let mut fresh = !replaying;
        let ended = read_log_stream(api, &session.logplex_url, |line| {
            // The replay is the lines before the break, in order: the first unseen one ends it.
            fresh = fresh || !seen.iter().any(|s| s == line);
            if fresh {
                on_line(line);
                seen.push_back(line.to_string());
                if seen.len() > REPLAYED as usize {
                    seen.pop_front();
                }
            }
            true
        })
        .await;
        // An expired session answers 403 or 404; a new one is what the official CLI makes too.
        match ended {
            Ok(()) | Err(StepError::LogStreamRefused { status: 403 | 404 }) => {}
            Err(StepError::Api(e)) if e.status().is_none() => {}
            Err(e) => return Err(e),
        }
        lines = REPLAYED;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_logplex_writes_them() {
        let line = LogLine::parse("2026-01-05T10:00:00.1+00:00 app[web.1]: GET / 200: ok");
        assert_eq!(line.source, "app");
        assert_eq!(line.dyno, "web.1");
        assert_eq!(line.text, "GET / 200: ok");
        assert_eq!(line.time, "2026-01-05T10:00:00.1+00:00");
        let odd = LogLine::parse("just text");
        assert_eq!((odd.text.as_str(), odd.source.as_str()), ("just text", ""));
    }
}
