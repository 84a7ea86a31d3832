//! `logs APP [-n N] [--tail] [--dyno NAME] [--source app|heroku]`: the app's logs through a
//! log session, as `heroku logs` shows them. A tail goes on until Ctrl-C, and ending it that
//! way is what the operator meant: exit 0.

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::api::{LogSessionCreate, Request};
use crate::cli::{Ctx, Done, app_and_args};
use crate::error::Result;
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::steps::app_logs::{self, Filter, LogLine};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  herokuops logs tmi-server\n  herokuops logs tmi-server -n 500 --source app\n  herokuops logs tmi-server --tail --dyno web"
)]
pub struct LogsArgs {
    #[arg(value_name = "APP")]
    pub args: Vec<String>,
    /// How many recent lines
    #[arg(short = 'n', long = "num", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1500))]
    pub num: u32,
    /// Go on showing new lines until Ctrl-C
    #[arg(short = 't', long)]
    pub tail: bool,
    /// Only this dyno (web.1) or process type (web)
    #[arg(short = 'd', long, value_name = "NAME")]
    pub dyno: Option<String>,
    /// Only the app's own lines, or only the platform's
    #[arg(short = 's', long, value_enum)]
    pub source: Option<LogSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogSource {
    App,
    Heroku,
}

impl LogSource {
    fn as_str(self) -> &'static str {
        match self {
            LogSource::App => "app",
            LogSource::Heroku => "heroku",
        }
    }
}

/// A line for a person: the time dimmed, where it came from as a name.
fn painted(line: &str, look: &Look) -> String {
    let parsed = LogLine::parse(line);
    if parsed.source.is_empty() {
        return line.to_string();
    }
    format!(
        "{} {} {}",
        look.paint(Tone::Dim, &parsed.time),
        look.paint(Tone::Name, &format!("{}[{}]:", parsed.source, parsed.dyno)),
        parsed.text
    )
}

/// The recent lines.
#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    pub app: String,
    pub lines: Vec<LogLine>,
    #[serde(skip)]
    raw: Vec<String>,
}

impl Outcome for Logs {
    fn human(&self, look: &Look) -> String {
        let shown: Vec<String> = self.raw.iter().map(|l| painted(l, look)).collect();
        shown.join("\n")
    }

    fn summary(&self) -> String {
        format!("{} log lines", self.lines.len())
    }
}

pub async fn run(ctx: &Ctx, args: LogsArgs) -> Result<Done> {
    let usage = "herokuops logs APP [-n N] [--tail] [--dyno NAME] [--source app|heroku]";
    let (app, _) = app_and_args(&ctx.global, &args.args, 0, usage)?;
    let filter = Filter {
        lines: args.num,
        dyno: args.dyno.clone(),
        source: args.source.map(|s| s.as_str().to_string()),
    };
    if ctx.global.dry_run {
        let spec = LogSessionCreate {
            dyno_name: filter.dyno.clone(),
            lines: Some(filter.lines),
            source: filter.source.clone(),
            tail: args.tail,
        };
        return Done::ok(DryRun::new(
            format!("read the logs of {app}"),
            vec![Request::log_session(&app, &spec).describe()],
        ));
    }
    ctx.io.stdout_is_data();
    let api = ctx.api()?;
    if !args.tail {
        let raw = app_logs::recent(api, &app, &filter).await?;
        let lines = raw.iter().map(|l| LogLine::parse(l)).collect();
        return Done::ok(Logs { app, lines, raw });
    }
    // One line at a time as it comes; with --json one JSON object per line.
    let io = ctx.io.clone();
    let show = move |line: &str| match io.json() {
        true => io.out(&serde_json::to_string(&LogLine::parse(line)).unwrap_or_default()),
        false => io.out(&painted(line, &io.look_out)),
    };
    let interrupt = crate::signals::Interrupt::listen();
    let mut stop = interrupt.receiver();
    tokio::select! {
        followed = app_logs::follow(api, &app, &filter, show) => followed?,
        _ = crate::signals::interrupted(&mut stop) => {}
    }
    Done::streamed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_look_shows_the_line_as_it_came() {
        let line = "2026-01-05T10:00:00Z heroku[web.1]: State changed from starting to up";
        assert_eq!(painted(line, &Look::PLAIN), line);
        assert_eq!(painted("no shape", &Look::PLAIN), "no shape");
    }
}
