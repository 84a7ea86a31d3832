//! `ci init` writes a GitHub Actions workflow that runs a playbook on a schedule; `ci matrix`
//! prints the apps as the JSON a workflow's `strategy.matrix` takes.
//!
//! A destructive playbook (one that drops, restores or promotes) gets a workflow only with
//! `--confirm-destructive`: a scheduled run has nobody to type the app name, so the workflow
//! has to carry `--confirm APP` itself, and that decision is the operator's to make explicitly.
//! Without the flag `ci init` refuses (exit 2) instead of writing a workflow whose every run
//! would stop with exit 2: a refusal now is seen by the person deciding, a nightly failure is
//! seen late by someone else.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use crate::cli::{Ctx, apps};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::playbooks::{Playbook, StepKind};

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write a GitHub Actions workflow that runs a playbook on a schedule (apps: --app, repeatable, or --apps-from FILE)
    Init(InitArgs),
    /// Print the apps (--app, repeatable, or --apps-from FILE) as the JSON of a workflow's strategy.matrix
    Matrix,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The playbook the workflow runs (built-in, or from herokuops.toml)
    pub playbook: String,
    /// When it runs: a 5-field cron expression, in UTC (e.g. "0 3 * * *")
    #[arg(long, value_name = "CRON")]
    pub cron: String,
    /// Where to write the workflow (default: .github/workflows/herokuops-PLAYBOOK.yml; - for stdout)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// Let every scheduled run confirm a destructive playbook with --confirm APP
    #[arg(long)]
    pub confirm_destructive: bool,
    /// The herokuops.toml the playbook is in; the workflow passes it along (a path in the repository)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The command of a playbook's `run` step
    #[arg(long, value_name = "CMD")]
    pub command: Option<String>,
    /// Install herokuops from this git repository instead of crates.io
    #[arg(long, value_name = "URL")]
    pub git: Option<String>,
    /// The job's time limit in minutes
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=4320))]
    pub timeout_minutes: u32,
}

pub fn run(ctx: &Ctx, cmd: CiCommand) -> Result<()> {
    match cmd {
        CiCommand::Init(args) => init(ctx, args),
        CiCommand::Matrix => matrix(ctx),
    }
}

fn matrix(ctx: &Ctx) -> Result<()> {
    let apps = apps::fleet_apps(&ctx.global)?;
    let matrix = json!({ "app": apps }).to_string();
    // One line either way: it is meant for `matrix=$(herokuops ci matrix ...)`.
    ctx.io.out(&matrix);
    ctx.io.gha_outputs(&[("matrix", matrix.clone())]);
    Ok(())
}

/// What the workflow is made from, validated.
#[derive(Debug, Clone)]
pub struct WorkflowSpec {
    pub playbook: String,
    pub apps: Vec<String>,
    pub cron: String,
    pub confirm: bool,
    pub config: Option<String>,
    pub command: Option<String>,
    pub git: Option<String>,
    pub timeout_minutes: u32,
    pub max_parallel: usize,
}

fn init(ctx: &Ctx, args: InitArgs) -> Result<()> {
    if ctx.global.confirm.is_some() {
        return Err(Error::usage(
            "ci init takes --confirm-destructive, not --confirm APP: the workflow confirms each app it runs on",
        ));
    }
    let apps = apps::fleet_apps(&ctx.global)?;
    validate_cron(&args.cron)?;
    validate_playbook_name(&args.playbook)?;
    let config = Config::load(args.config.as_deref())?;
    let playbook = config.playbook(&args.playbook)?;
    check_destructive(&playbook, &apps, args.confirm_destructive)?;
    if args.confirm_destructive && !playbook.is_destructive() {
        ctx.io.warn(&format!(
            "playbook {} destroys nothing, so its workflow confirms nothing; --confirm-destructive is ignored",
            playbook.name
        ));
    }
    let command = match (&args.command, playbook.steps.contains(&StepKind::Run)) {
        (Some(cmd), true) => Some(workflow_safe("--command", cmd)?),
        (None, true) => {
            return Err(Error::usage(format!(
                "playbook {} has a `run` step: pass --command CMD",
                playbook.name
            )));
        }
        (Some(_), false) => {
            return Err(Error::usage(format!(
                "playbook {} has no `run` step, so --command would do nothing",
                playbook.name
            )));
        }
        (None, false) => None,
    };
    let config_path = match &args.config {
        Some(path) => {
            let text = path.to_string_lossy().into_owned();
            if path.is_absolute() {
                return Err(Error::usage(format!(
                    "--config {text}: give the path relative to the repository root, where the workflow finds it"
                )));
            }
            Some(workflow_safe("--config", &text)?)
        }
        None => None,
    };
    let git = match &args.git {
        Some(url) => {
            let parsed = url::Url::parse(url)
                .map_err(|e| Error::usage(format!("--git {url:?} is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "https" | "ssh" | "git") {
                return Err(Error::usage(format!(
                    "--git {url:?}: use an https:// (or ssh://, git://) repository URL"
                )));
            }
            Some(workflow_safe("--git", url)?)
        }
        None => None,
    };
    let spec = WorkflowSpec {
        playbook: playbook.name.clone(),
        apps: apps.clone(),
        cron: args.cron.split_whitespace().collect::<Vec<_>>().join(" "),
        confirm: args.confirm_destructive && playbook.is_destructive(),
        config: config_path,
        command,
        git,
        timeout_minutes: args.timeout_minutes,
        max_parallel: ctx.global.jobs,
    };
    let yaml = workflow(&spec);
    let target = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(".github/workflows/herokuops-{}.yml", playbook.name))
    });
    if target == Path::new("-") {
        ctx.io.out(&yaml);
        return Ok(());
    }
    if ctx.global.dry_run {
        ctx.io.render(
            &json!({ "dry_run": true, "path": target, "workflow": yaml }),
            || format!("would write {}:\n\n{yaml}", target.display()),
        );
        return Ok(());
    }
    write_new(&target, &yaml, args.force)?;
    ctx.io.render(
        &json!({
            "path": target,
            "playbook": spec.playbook,
            "apps": spec.apps,
            "cron": spec.cron,
            "confirms": spec.confirm,
        }),
        || {
            let mut text = format!(
                "wrote {}: playbook {} on {} at \"{}\" (UTC)",
                target.display(),
                spec.playbook,
                spec.apps.join(", "),
                spec.cron
            );
            if spec.confirm {
                text.push_str(&format!(
                    "\nevery run confirms the destructive playbook {} with --confirm APP",
                    spec.playbook
                ));
            }
            text.push_str("\nadd the repository secret HEROKU_API_KEY (e.g. from `heroku authorizations:create`) before it first runs");
            text
        },
    );
    Ok(())
}

fn check_destructive(playbook: &Playbook, apps: &[String], confirmed: bool) -> Result<()> {
    if !playbook.is_destructive() || confirmed {
        return Ok(());
    }
    let steps: Vec<&str> = playbook
        .steps
        .iter()
        .filter(|s| s.is_destructive())
        .map(|s| s.name())
        .collect();
    Err(Error::usage(format!(
        "playbook {} destroys data ({}) and a scheduled run has nobody to confirm it on {}: pass --confirm-destructive to have the workflow confirm each app with --confirm APP",
        playbook.name,
        steps.join(", "),
        apps.join(", ")
    )))
}

/// Playbook names become part of the workflow's name and file name.
fn validate_playbook_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "playbook name {name:?} cannot go into a workflow: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// Text copied into the workflow must not start a GitHub expression (it would be evaluated
/// before the shell sees it) and must stay on one line.
fn workflow_safe(flag: &str, text: &str) -> Result<String> {
    if text.contains("${{") || text.contains('\n') || text.contains('\r') {
        return Err(Error::usage(format!(
            "{flag} {text:?} cannot go into a workflow: it has a line break or `${{{{`"
        )));
    }
    Ok(text.to_string())
}

/// GitHub's schedule cron: five fields (minute, hour, day of month, month, day of week), each
/// `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those; months and days
/// may be named (JAN, MON). GitHub runs nothing more often than every 5 minutes.
pub fn validate_cron(cron: &str) -> Result<()> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("day of week", 0, 6),
    ];
    let fields: Vec<&str> = cron.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(Error::usage(format!(
            "--cron {cron:?} has {} field(s); it takes 5: minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\"",
            fields.len()
        )));
    }
    let mut minutes = Vec::new();
    for (index, (field, (name, min, max))) in fields.iter().zip(FIELDS).enumerate() {
        let values = cron_field(field, index, min, max).map_err(|why| {
            Error::usage(format!(
                "--cron {cron:?}: the {name} field {field:?} {why} (allowed: {min}-{max})"
            ))
        })?;
        if index == 0 {
            minutes = values;
        }
    }
    minutes.sort_unstable();
    minutes.dedup();
    let shortest = minutes
        .windows(2)
        .map(|w| w[1] - w[0])
        .chain((minutes.len() > 1).then(|| minutes[0] + 60 - minutes[minutes.len() - 1]))
        .min();
    if let Some(gap) = shortest.filter(|g| *g < 5) {
        return Err(Error::usage(format!(
            "--cron {cron:?} runs every {gap} minute(s); GitHub runs schedules at most every 5 minutes"
        )));
    }
    Ok(())
}

/// The values a cron field selects, or why it is malformed.
fn cron_field(
    field: &str,
    index: usize,
    min: u32,
    max: u32,
) -> std::result::Result<Vec<u32>, String> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let value = |text: &str| -> std::result::Result<u32, String> {
        let upper = text.to_ascii_uppercase();
        let named = match index {
            3 => MONTHS
                .iter()
                .position(|m| *m == upper)
                .map(|i| i as u32 + 1),
            4 => DAYS.iter().position(|d| *d == upper).map(|i| i as u32),
            _ => None,
        };
        let n = match named {
            Some(n) => n,
            None => text
                .parse::<u32>()
                .map_err(|_| format!("has {text:?}, which is not a number"))?,
        };
        if n < min || n > max {
            return Err(format!("has {n}, out of range"));
        }
        Ok(n)
    };
    let mut values = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step = step.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("has the step {step:?}, which is not a positive number")
                })?;
                (range, step)
            }
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("has the range {range:?}, which runs backwards"));
            }
            (a, b)
        } else if range.is_empty() {
            return Err("has an empty list item".to_string());
        } else {
            let a = value(range)?;
            // `5/15` means from 5 to the end in steps of 15, as in Vixie cron.
            (a, if part.contains('/') { max } else { a })
        };
        values.extend((low..=high).step_by(step as usize));
    }
    Ok(values)
}

/// YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One shell word.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The workflow's YAML.
pub fn workflow(spec: &WorkflowSpec) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let matrix = spec.apps.len() > 1;
    let app_expr = if matrix {
        "${{ matrix.app }}".to_string()
    } else {
        spec.apps[0].clone()
    };
    let mut y = String::new();
    let line = |y: &mut String, text: &str| {
        y.push_str(text);
        y.push('\n');
    };
    line(
        &mut y,
        &format!(
            "# Runs the herokuops playbook {} on {} at \"{}\" (UTC), and on demand.",
            spec.playbook,
            spec.apps.join(", "),
            spec.cron
        ),
    );
    line(
        &mut y,
        "# Written by `herokuops ci init`. Needs the repository secret HEROKU_API_KEY.",
    );
    if spec.confirm {
        line(
            &mut y,
            "# The playbook destroys data; each run confirms it with --confirm APP, as asked with --confirm-destructive.",
        );
    }
    line(
        &mut y,
        &format!("name: {}", quoted(&format!("herokuops {}", spec.playbook))),
    );
    line(&mut y, "");
    line(&mut y, "on:");
    line(&mut y, "  schedule:");
    line(&mut y, &format!("    - cron: {}", quoted(&spec.cron)));
    line(&mut y, "  workflow_dispatch:");
    line(&mut y, "");
    line(&mut y, "permissions:");
    line(&mut y, "  contents: read");
    line(&mut y, "");
    line(&mut y, "jobs:");
    line(&mut y, "  herokuops:");
    line(
        &mut y,
        &format!(
            "    name: {}",
            quoted(&format!("{} on {app_expr}", spec.playbook))
        ),
    );
    line(&mut y, "    runs-on: ubuntu-latest");
    line(
        &mut y,
        &format!("    timeout-minutes: {}", spec.timeout_minutes),
    );
    if matrix {
        line(&mut y, "    strategy:");
        line(
            &mut y,
            "      # One app's failure does not cancel the others.",
        );
        line(&mut y, "      fail-fast: false");
        line(
            &mut y,
            "      # The apps share one token and its rate limit: at most this many at once (-j).",
        );
        line(
            &mut y,
            &format!(
                "      max-parallel: {}",
                spec.max_parallel.min(spec.apps.len())
            ),
        );
        line(&mut y, "      matrix:");
        line(&mut y, "        app:");
        for app in &spec.apps {
            line(&mut y, &format!("          - {}", quoted(app)));
        }
    }
    line(
        &mut y,
        "    # One run per app at a time, across every herokuops workflow: a run waits for the last.",
    );
    line(&mut y, "    concurrency:");
    line(
        &mut y,
        &format!("      group: {}", quoted(&format!("herokuops-{app_expr}"))),
    );
    line(&mut y, "      cancel-in-progress: false");
    line(&mut y, "    steps:");
    line(&mut y, "      - uses: actions/checkout@v5");
    line(&mut y, "        with:");
    line(&mut y, "          persist-credentials: false");
    line(&mut y, "      - name: Restore the herokuops binary");
    line(&mut y, "        id: herokuops-cache");
    line(&mut y, "        uses: actions/cache@v5");
    line(&mut y, "        with:");
    line(&mut y, "          path: ~/.cargo/bin/herokuops");
    let source = if spec.git.is_some() { "git" } else { "crates" };
    line(
        &mut y,
        &format!(
            "          key: herokuops-{version}-{source}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}"
        ),
    );
    line(&mut y, "      - name: Install herokuops");
    line(
        &mut y,
        "        if: steps.herokuops-cache.outputs.cache-hit != 'true'",
    );
    match &spec.git {
        Some(url) => line(
            &mut y,
            &format!(
                "        run: cargo install --locked --git {} herokuops",
                shell_word(url)
            ),
        ),
        None => line(
            &mut y,
            &format!("        run: cargo install --locked herokuops --version {version}"),
        ),
    }
    line(
        &mut y,
        &format!(
            "      - name: {}",
            quoted(&format!("herokuops {}", spec.playbook))
        ),
    );
    line(&mut y, "        env:");
    line(
        &mut y,
        "          # Only this step sees the token; GitHub masks it in the log.",
    );
    line(
        &mut y,
        "          HEROKU_API_KEY: ${{ secrets.HEROKU_API_KEY }}",
    );
    line(&mut y, &format!("          APP: {}", quoted(&app_expr)));
    line(
        &mut y,
        "          XDG_STATE_HOME: ${{ runner.temp }}/herokuops-state",
    );
    if let Some(command) = &spec.command {
        line(
            &mut y,
            &format!("          RUN_COMMAND: {}", quoted(command)),
        );
    }
    let mut run = format!(
        "herokuops playbook run {} \"$APP\"",
        shell_word(&spec.playbook)
    );
    if spec.confirm {
        run.push_str(" --confirm \"$APP\"");
    }
    if let Some(config) = &spec.config {
        run.push_str(&format!(" --config {}", shell_word(config)));
    }
    if spec.command.is_some() {
        run.push_str(" --command \"$RUN_COMMAND\"");
    }
    line(&mut y, &format!("        run: {run}"));
    line(
        &mut y,
        "      - name: Upload the run journal (what was done, for `herokuops resume`)",
    );
    line(&mut y, "        if: always()");
    line(&mut y, "        uses: actions/upload-artifact@v6");
    line(&mut y, "        with:");
    line(
        &mut y,
        &format!(
            "          name: {}",
            quoted(&format!(
                "herokuops-journal-{app_expr}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"
            ))
        ),
    );
    line(
        &mut y,
        "          path: ${{ runner.temp }}/herokuops-state/herokuops/runs/",
    );
    line(&mut y, "          if-no-files-found: ignore");
    line(&mut y, "          retention-days: 30");
    y
}

/// Writes a new file (parents created); refuses to replace one unless `force`.
fn write_new(path: &Path, text: &str, force: bool) -> Result<()> {
    // A device or a FIFO is written to, never replaced; a regular file only with --force.
    if crate::files::would_replace(path) && !force {
        return Err(Error::usage(format!(
            "{} already exists; pass --force to replace it, or -o FILE",
            path.display()
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("could not create {}", parent.display()), e))?;
    }
    crate::files::write_output(path, text.as_bytes(), crate::files::SHARED)
        .map_err(|e| Error::io(format!("could not write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_takes_five_valid_fields() {
        for good in [
            "0 3 * * *",
            "*/15 * * * 1-5",
            "30 2 1,15 JAN-jun MON",
            "5/20 0-23/6 * * SUN",
            " 0  3 * * * ",
        ] {
            assert!(validate_cron(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("0 3 * *", "has 4 field(s)"),
            ("0 3 * * * *", "has 6 field(s)"),
            ("60 3 * * *", "minute field"),
            ("0 24 * * *", "hour field"),
            ("0 3 0 * *", "day of month"),
            ("0 3 * 13 *", "month field"),
            ("0 3 * * 7", "day of week"),
            ("0 3 * * FUNDAY", "not a number"),
            ("*/0 3 * * *", "step"),
            ("10-5 3 * * *", "backwards"),
            ("0,,5 3 * * *", "empty"),
            ("* * * * *", "every 1 minute"),
            ("0,58 * * * *", "every 2 minute"),
        ] {
            let err = validate_cron(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }

    fn spec(apps: &[&str]) -> WorkflowSpec {
        WorkflowSpec {
            playbook: "reset".into(),
            apps: apps.iter().map(|a| a.to_string()).collect(),
            cron: "0 3 * * *".into(),
            confirm: true,
            config: None,
            command: None,
            git: None,
            timeout_minutes: 60,
            max_parallel: 4,
        }
    }

    #[test]
    fn one_app_has_no_matrix_and_many_do() {
        let one = workflow(&spec(&["on"]));
        assert!(!one.contains("matrix"), "{one}");
        // `on` would be a YAML boolean unquoted.
        assert!(one.contains("APP: \"on\""), "{one}");
        assert!(one.contains("group: \"herokuops-on\""), "{one}");
        assert!(one.contains("run: herokuops playbook run reset \"$APP\" --confirm \"$APP\""));

        let many = workflow(&spec(&["app-one", "app-two"]));
        assert!(many.contains("      fail-fast: false\n"), "{many}");
        assert!(many.contains("      max-parallel: 2\n"), "{many}");
        assert!(many.contains("          - \"app-one\"\n          - \"app-two\"\n"));
        assert!(many.contains("group: \"herokuops-${{ matrix.app }}\""));
        assert!(many.contains("cancel-in-progress: false"));
        assert!(many.contains("        if: always()\n        uses: actions/upload-artifact@v6"));
    }

    #[test]
    fn destructive_playbooks_need_the_explicit_flag() {
        let reset = crate::playbooks::builtin("reset").unwrap();
        let apps = vec!["tmi-server".to_string()];
        let err = check_destructive(&reset, &apps, false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--confirm-destructive"), "{err}");
        assert!(err.to_string().contains("pg.drop-schema"), "{err}");
        assert!(check_destructive(&reset, &apps, true).is_ok());
        let capture = crate::playbooks::builtin("backup-capture").unwrap();
        assert!(check_destructive(&capture, &apps, false).is_ok());
    }

    #[test]
    fn text_that_github_would_evaluate_is_refused() {
        assert!(workflow_safe("--command", "rake db:seed").is_ok());
        assert_eq!(
            workflow_safe("--command", "echo ${{ secrets.X }}")
                .unwrap_err()
                .exit_code(),
            2
        );
        assert!(validate_playbook_name("nightly_2.x").is_ok());
        assert!(validate_playbook_name("a b").is_err());
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("db/herokuops.toml"), "db/herokuops.toml");
    }
}
