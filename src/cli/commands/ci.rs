//! `ci init` writes a GitHub Actions workflow that runs a playbook on a schedule; `ci matrix`
//! prints the apps as the JSON a workflow's `strategy.matrix` takes.
//!
//! A destructive playbook (one that drops, restores or promotes) gets a workflow only with
//! `--confirm-destructive`: a scheduled run has nobody to type the app name, so the workflow
//! has to carry `--confirm APP` itself, and that decision is the operator's to make explicitly.
//! Without the flag `ci init` refuses (exit 2) instead of writing a workflow whose every run
//! would stop with exit 2: a refusal now is seen by the person deciding, a nightly failure is
//! seen late by someone else.
//!
//! The workflow installs herokuops one of three ways (`--install`): from a git repository (the
//! default: `--git URL`, or this repository's `origin`), from the checked-out repository
//! (`path`), or from crates.io (`crates`, this version). Each way caches the binary under a key
//! that changes with what would be installed: the commit the repository's HEAD is at, the hash
//! of the checked-out sources, or the version.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use serde::Serialize;

use crate::cli::{Ctx, Done, apps};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::{Io, Look, Outcome, Tone};
use crate::playbooks::{Playbook, StepKind};

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write a GitHub Actions workflow that runs a playbook on a schedule (apps: --app, repeatable, or --apps-from FILE)
    #[command(
        after_help = "Examples:\n  herokuops ci init backup-capture --app tmi-server --cron '0 3 * * *'\n  herokuops ci init reset --apps-from staging-apps.txt \\\n      --cron '0 4 * * SUN' --confirm-destructive -j 2\n  herokuops ci init backup-capture --app tmi-server --cron '30 3 * * *' \\\n      --install path -o -"
    )]
    Init(InitArgs),
    /// Print the apps (--app, repeatable, or --apps-from FILE) as the JSON of a workflow's strategy.matrix
    #[command(
        after_help = "Examples:\n  herokuops ci matrix --apps-from production-apps.txt\n  herokuops ci matrix -a shop-eu -a shop-us"
    )]
    Matrix,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The playbook the workflow runs (built-in, or from herokuops.toml), or backup-archive:
    /// capture a backup and keep its dump as an artifact
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
    /// How the workflow installs herokuops: git (a repository's newest commit: --git URL, or
    /// this repository's `origin`), path (the checked-out repository), crates (crates.io, this
    /// version)
    #[arg(long, value_enum, default_value_t = InstallFrom::Git, value_name = "FROM")]
    pub install: InstallFrom,
    /// The git repository to install herokuops from (with --install git; default: `git remote
    /// get-url origin` of this repository, as an https URL)
    #[arg(long, value_name = "URL")]
    pub git: Option<String>,
    /// The job's time limit in minutes
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=4320))]
    pub timeout_minutes: u32,
    /// With backup-archive: how many days GitHub keeps each run's dump
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=90))]
    pub retention_days: Option<u32>,
}

/// The workflow that keeps backups as artifacts: no playbook, a recipe of two commands.
pub const ARCHIVE_RECIPE: &str = "backup-archive";

/// What `retention-days` an archive's artifact gets without `--retention-days`: the week the
/// ops guide's cron script kept.
pub const ARCHIVE_DAYS: u32 = 7;

/// Where the workflow's `cargo install` takes herokuops from (`--install`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstallFrom {
    /// crates.io, the version of this herokuops
    Crates,
    /// A git repository: --git URL, or this repository's `origin`
    Git,
    /// The repository the workflow checks out
    Path,
}

/// How the workflow installs herokuops, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// `cargo install herokuops --version V` from crates.io.
    Crates,
    /// `cargo install --git URL --rev REV herokuops`, REV the commit HEAD is at when the job runs.
    Git { url: String },
    /// `cargo install --path DIR`, DIR relative to the repository root ("." for the root).
    Path { dir: String },
}

pub fn run(ctx: &Ctx, cmd: CiCommand) -> Result<Done> {
    match cmd {
        CiCommand::Init(args) => init(ctx, args),
        CiCommand::Matrix => Done::ok(Matrix {
            app: apps::fleet_apps(&ctx.global)?,
        }),
    }
}

/// `ci matrix`: the apps as a job matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub app: Vec<String>,
}

impl Outcome for Matrix {
    /// One line: it is meant for `matrix=$(herokuops ci matrix ...)`.
    fn human(&self, _look: &Look) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn summary(&self) -> String {
        format!("{} apps", self.app.len())
    }

    fn github(&self, io: &Io) {
        io.gha_outputs(&[("matrix", self.human(&Look::PLAIN))]);
    }
}

/// `ci init`: the workflow, written to a file or shown.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Workflow {
    /// `-o -`: the text itself.
    Text {
        workflow: String,
    },
    /// `--dry-run`: what would be written where.
    Would {
        dry_run: bool,
        path: PathBuf,
        workflow: String,
    },
    Written(Written),
}

/// A workflow written to its file.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: PathBuf,
    pub playbook: String,
    pub apps: Vec<String>,
    pub cron: String,
    pub confirms: bool,
    pub install: serde_json::Value,
    #[serde(skip)]
    install_text: String,
}

impl Outcome for Workflow {
    fn human(&self, look: &Look) -> String {
        let w = match self {
            Workflow::Text { workflow } => return workflow.clone(),
            Workflow::Would { path, workflow, .. } => {
                return format!("would write {}:\n\n{workflow}", path.display());
            }
            Workflow::Written(w) => w,
        };
        let mut text = format!(
            "wrote {}: playbook {} on {} at \"{}\" (UTC)",
            w.path.display(),
            look.paint(Tone::Strong, &w.playbook),
            look.paint(Tone::Name, &w.apps.join(", ")),
            w.cron
        );
        if w.confirms {
            text.push_str(&format!(
                "\nevery run confirms the destructive playbook {} with --confirm APP",
                w.playbook
            ));
        }
        text.push_str(&format!("\n{}", w.install_text));
        let secret = "add the repository secret HEROKU_API_KEY (e.g. from `heroku authorizations:create`) before it first runs";
        text.push_str(&format!("\n{}", look.paint(Tone::Hint, secret)));
        text
    }

    fn summary(&self) -> String {
        match self {
            Workflow::Written(w) => format!("wrote {}", w.path.display()),
            _ => "workflow shown".into(),
        }
    }

    fn is_data(&self) -> bool {
        matches!(self, Workflow::Text { .. })
    }
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
    pub install: Install,
    pub timeout_minutes: u32,
    pub max_parallel: usize,
    /// The backup-archive recipe, with the days its dumps are kept.
    pub archive_days: Option<u32>,
}

fn init(ctx: &Ctx, args: InitArgs) -> Result<Done> {
    if ctx.global.confirm.is_some() {
        return Err(Error::usage(
            "ci init takes --confirm-destructive, not --confirm APP: the workflow confirms each app it runs on",
        ));
    }
    let apps = apps::fleet_apps(&ctx.global)?;
    validate_cron(&args.cron)?;
    validate_playbook_name(&args.playbook)?;
    let archive = args.playbook == ARCHIVE_RECIPE;
    check_archive_flags(&args, archive)?;
    let playbook = scheduled_playbook(&args, archive)?;
    check_destructive(&playbook, &apps, args.confirm_destructive)?;
    if args.confirm_destructive && !playbook.is_destructive() {
        ctx.io.warn(&format!(
            "playbook {} destroys nothing, so its workflow confirms nothing; --confirm-destructive is ignored",
            playbook.name
        ));
    }
    let command = run_step_command(args.command.as_deref(), &playbook)?;
    let config_path = workflow_config_path(args.config.as_deref())?;
    let install = install_source(args.install, args.git.as_deref(), Path::new("."))?;
    let spec = WorkflowSpec {
        playbook: playbook.name.clone(),
        apps: apps.clone(),
        cron: args.cron.split_whitespace().collect::<Vec<_>>().join(" "),
        confirm: args.confirm_destructive && playbook.is_destructive(),
        config: config_path,
        command,
        install,
        timeout_minutes: args.timeout_minutes,
        max_parallel: ctx.global.jobs,
        archive_days: archive.then(|| args.retention_days.unwrap_or(ARCHIVE_DAYS)),
    };
    let target = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(".github/workflows/herokuops-{}.yml", playbook.name))
    });
    deliver_workflow(ctx, spec, target, args.force)
}

/// Refuses the flags the backup-archive recipe has no use for, and the one only it uses.
fn check_archive_flags(args: &InitArgs, archive: bool) -> Result<()> {
    if args.retention_days.is_some() && !archive {
        return Err(Error::usage(format!(
            "--retention-days is for the {ARCHIVE_RECIPE} workflow, which keeps dumps as artifacts"
        )));
    }
    if archive && args.config.is_some() {
        return Err(Error::usage(format!(
            "{ARCHIVE_RECIPE} runs no playbook, so --config would do nothing"
        )));
    }
    Ok(())
}

/// The playbook the workflow runs: one from the configuration, or the backup-archive recipe
/// described as a playbook so the destructive check and the summary treat it like one.
fn scheduled_playbook(args: &InitArgs, archive: bool) -> Result<Playbook> {
    let config = Config::load(args.config.as_deref())?;
    Ok(match archive {
        true => Playbook {
            name: ARCHIVE_RECIPE.into(),
            description: "Capture a backup and keep its dump as an artifact".into(),
            steps: vec![StepKind::BackupCapture],
        },
        false => config.playbook(&args.playbook)?,
    })
}

/// `--command`, checked against the playbook: required by a `run` step, refused without one.
fn run_step_command(command: Option<&str>, playbook: &Playbook) -> Result<Option<String>> {
    match (command, playbook.steps.contains(&StepKind::Run)) {
        (Some(cmd), true) => Ok(Some(workflow_safe("--command", cmd)?)),
        (None, true) => Err(Error::usage(format!(
            "playbook {} has a `run` step: pass --command CMD",
            playbook.name
        ))),
        (Some(_), false) => Err(Error::usage(format!(
            "playbook {} has no `run` step, so --command would do nothing",
            playbook.name
        ))),
        (None, false) => Ok(None),
    }
}

/// `--config` as the workflow passes it: relative, since the job reads it from its checkout.
fn workflow_config_path(config: Option<&Path>) -> Result<Option<String>> {
    let Some(path) = config else {
        return Ok(None);
    };
    let text = path.to_string_lossy().into_owned();
    if path.is_absolute() {
        return Err(Error::usage(format!(
            "--config {text}: give the path relative to the repository root, where the workflow finds it"
        )));
    }
    Ok(Some(workflow_safe("--config", &text)?))
}

/// The workflow shown (`-o -`), described (`--dry-run`), or written to `target`.
fn deliver_workflow(ctx: &Ctx, spec: WorkflowSpec, target: PathBuf, force: bool) -> Result<Done> {
    let yaml = workflow(&spec);
    if target == Path::new("-") {
        return Done::ok(Workflow::Text { workflow: yaml });
    }
    if ctx.global.dry_run {
        return Done::ok(Workflow::Would {
            dry_run: true,
            path: target,
            workflow: yaml,
        });
    }
    write_new(&target, &yaml, force)?;
    Done::ok(Workflow::Written(Written {
        path: target,
        playbook: spec.playbook,
        apps: spec.apps,
        cron: spec.cron,
        confirms: spec.confirm,
        install: install_json(&spec.install),
        install_text: install_text(&spec.install),
    }))
}

/// Resolves `--install` and `--git` in the repository at `dir` (the current directory).
fn install_source(from: InstallFrom, git: Option<&str>, dir: &Path) -> Result<Install> {
    if let (Some(_), InstallFrom::Crates | InstallFrom::Path) = (git, from) {
        return Err(Error::usage(format!(
            "--git URL is where --install git installs from; it does nothing with --install {}",
            if from == InstallFrom::Crates {
                "crates"
            } else {
                "path"
            }
        )));
    }
    match from {
        InstallFrom::Crates => Ok(Install::Crates),
        InstallFrom::Git => {
            let url = match git {
                Some(url) => given_git_url(url)?,
                None => detected_git_url(dir)?,
            };
            Ok(Install::Git {
                url: workflow_safe("--git", &url)?,
            })
        }
        InstallFrom::Path => {
            if !is_herokuops_package(dir) {
                return Err(Error::usage(
                    "--install path builds herokuops from the checked-out repository, and this directory has no Cargo.toml of the herokuops package: run ci init where herokuops's Cargo.toml is, or use --install git --git URL",
                ));
            }
            let prefix = git_output(dir, &["rev-parse", "--show-prefix"]).ok_or_else(|| {
                Error::usage(
                    "--install path needs this directory to be in a git repository (the one the workflow checks out)",
                )
            })?;
            let prefix = prefix.trim_end_matches('/');
            let dir = if prefix.is_empty() { "." } else { prefix };
            if !dir
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
            {
                return Err(Error::usage(format!(
                    "--install path: the directory {dir:?} cannot go into a workflow: use one named with letters, digits, '-', '_', '.' and '/'"
                )));
            }
            Ok(Install::Path {
                dir: dir.to_string(),
            })
        }
    }
}

/// A `--git URL` as given: an https, ssh or git URL without a password.
fn given_git_url(url: &str) -> Result<String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::usage(format!(
            "--git {url:?} is not a URL ({e}): give it as https://HOST/OWNER/REPO (or ssh://git@HOST/OWNER/REPO)"
        ))
    })?;
    if !matches!(parsed.scheme(), "https" | "ssh" | "git") {
        return Err(Error::usage(format!(
            "--git {url:?}: use an https:// (or ssh://, git://) repository URL"
        )));
    }
    if parsed.password().is_some() {
        return Err(Error::usage(
            "--git: the URL has a password in it, which the workflow file would show to anyone who can read the repository: give the URL without it",
        ));
    }
    Ok(url.to_string())
}

/// The https URL of `git remote get-url origin` in `dir`, when that is herokuops's repository.
fn detected_git_url(dir: &Path) -> Result<String> {
    let origin = git_output(dir, &["remote", "get-url", "origin"]).ok_or_else(|| {
        Error::usage(
            "--install git (the default) installs herokuops from its git repository, and this directory has no `origin` remote to take it from: pass --git URL (e.g. --git https://github.com/OWNER/herokuops), or --install path or --install crates",
        )
    })?;
    let url = https_url(&origin).ok_or_else(|| {
        Error::usage(format!(
            "the `origin` remote here is {}, which a GitHub runner cannot clone: pass --git URL (an https:// URL of herokuops's repository)",
            redacted(&origin)
        ))
    })?;
    let top = git_output(dir, &["rev-parse", "--show-toplevel"]).map(PathBuf::from);
    if !is_herokuops_package(dir) && !top.is_some_and(|top| is_herokuops_package(&top)) {
        return Err(Error::usage(format!(
            "--install git (the default) takes the repository from `origin`, and {url} is not herokuops's (no Cargo.toml of the herokuops package here): pass --git URL of herokuops's repository, or --install crates"
        )));
    }
    Ok(url)
}

/// A clone URL as a runner can fetch it without keys: `git@host:o/r.git` and `ssh://` become
/// `https://host/o/r.git`, an https URL loses any user and password, a git:// URL is kept.
/// None for anything else (a local path, `file://`, plain http).
fn https_url(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let scp = !remote.contains("://")
        && remote
            .split_once(':')
            .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'));
    let url = if scp {
        let (host, path) = remote.split_once(':')?;
        let host = host.rsplit('@').next()?;
        url::Url::parse(&format!("https://{host}/{}", path.trim_start_matches('/'))).ok()?
    } else {
        url::Url::parse(remote).ok()?
    };
    let host = url.host_str()?;
    match url.scheme() {
        "https" | "ssh" | "git+ssh" | "ssh+git" => Some(format!("https://{host}{}", url.path())),
        "git" => Some(format!("git://{host}{}", url.path())),
        _ => None,
    }
}

/// A remote URL fit for an error message: without its password.
fn redacted(remote: &str) -> String {
    match url::Url::parse(remote.trim()) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => remote.trim().to_string(),
    }
}

/// `git ARGS` in `dir`: its stdout, trimmed, when it succeeds.
fn git_output(dir: &Path, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Whether `dir/Cargo.toml` is the manifest of the herokuops package.
fn is_herokuops_package(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|manifest| {
            let name = manifest.get("package")?.get("name")?.as_str()?.to_string();
            Some(name == "herokuops")
        })
        .unwrap_or(false)
}

fn install_json(install: &Install) -> serde_json::Value {
    match install {
        Install::Crates => json!({ "from": "crates", "version": env!("CARGO_PKG_VERSION") }),
        Install::Git { url } => json!({ "from": "git", "url": url }),
        Install::Path { dir } => json!({ "from": "path", "path": dir }),
    }
}

fn install_text(install: &Install) -> String {
    match install {
        Install::Crates => format!(
            "installs herokuops {} from crates.io",
            env!("CARGO_PKG_VERSION")
        ),
        Install::Git { url } => format!(
            "installs herokuops from {url}, the commit its HEAD is at when the job runs (--install git)"
        ),
        Install::Path { dir } => format!(
            "installs herokuops from the checked-out repository, `cargo install --path {dir}` (--install path)"
        ),
    }
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

/// One shell word. Workflow values are checked for NUL bytes and newlines before they get here.
fn shell_word(text: &str) -> String {
    shlex::try_quote(text)
        .map(|quoted| quoted.into_owned())
        .unwrap_or_default()
}

/// The workflow's YAML.
pub fn workflow(spec: &WorkflowSpec) -> String {
    let matrix = spec.apps.len() > 1;
    let app_expr = if matrix {
        "${{ matrix.app }}".to_string()
    } else {
        spec.apps[0].clone()
    };
    let mut y = String::new();
    header_comments(&mut y, spec);
    triggers(&mut y, spec);
    job_settings(&mut y, spec, &app_expr);
    if matrix {
        matrix_strategy(&mut y, spec);
    }
    concurrency_and_checkout(&mut y, &app_expr);
    install_steps(&mut y, &spec.install);
    if let Some(days) = spec.archive_days {
        archive_steps(&mut y, &app_expr, days);
        return y;
    }
    playbook_step(&mut y, spec, &app_expr);
    journal_upload_step(&mut y, &app_expr);
    y
}

/// Appends one line of YAML.
fn push_line(y: &mut String, text: &str) {
    y.push_str(text);
    y.push('\n');
}

/// The comments at the top: what the workflow does, when, and what it needs.
fn header_comments(y: &mut String, spec: &WorkflowSpec) {
    let what = match spec.archive_days {
        Some(days) => format!(
            "Backs up {} and keeps the dump for {days} days,",
            spec.apps.join(", ")
        ),
        None => format!(
            "Runs the herokuops playbook {} on {}",
            spec.playbook,
            spec.apps.join(", ")
        ),
    };
    push_line(
        y,
        &format!("# {what} at \"{}\" (UTC), and on demand.", spec.cron),
    );
    push_line(
        y,
        "# Written by `herokuops ci init`. Needs the repository secret HEROKU_API_KEY.",
    );
    if spec.confirm {
        push_line(
            y,
            "# The playbook destroys data; each run confirms it with --confirm APP, as asked with --confirm-destructive.",
        );
    }
    push_line(y, &format!("# It {}.", install_text(&spec.install)));
}

/// The workflow's name, its triggers (the schedule and by hand), and its token's permissions.
fn triggers(y: &mut String, spec: &WorkflowSpec) {
    push_line(
        y,
        &format!("name: {}", quoted(&format!("herokuops {}", spec.playbook))),
    );
    push_line(y, "");
    push_line(y, "on:");
    push_line(y, "  schedule:");
    push_line(y, &format!("    - cron: {}", quoted(&spec.cron)));
    push_line(y, "  workflow_dispatch:");
    push_line(y, "");
    push_line(y, "permissions:");
    push_line(y, "  contents: read");
    push_line(y, "");
}

/// The job's name, runner and time limit.
fn job_settings(y: &mut String, spec: &WorkflowSpec, app_expr: &str) {
    push_line(y, "jobs:");
    push_line(y, "  herokuops:");
    push_line(
        y,
        &format!(
            "    name: {}",
            quoted(&format!("{} on {app_expr}", spec.playbook))
        ),
    );
    push_line(y, "    runs-on: ubuntu-latest");
    push_line(y, &format!("    timeout-minutes: {}", spec.timeout_minutes));
}

/// With several apps: one job per app, `-j` of them at once.
fn matrix_strategy(y: &mut String, spec: &WorkflowSpec) {
    push_line(y, "    strategy:");
    push_line(y, "      # One app's failure does not cancel the others.");
    push_line(y, "      fail-fast: false");
    push_line(
        y,
        "      # The apps share one token and its rate limit: at most this many at once (-j).",
    );
    push_line(
        y,
        &format!(
            "      max-parallel: {}",
            spec.max_parallel.min(spec.apps.len())
        ),
    );
    push_line(y, "      matrix:");
    push_line(y, "        app:");
    for app in &spec.apps {
        push_line(y, &format!("          - {}", quoted(app)));
    }
}

/// The job's concurrency group (one run per app) and its first step, the checkout.
fn concurrency_and_checkout(y: &mut String, app_expr: &str) {
    push_line(
        y,
        "    # One run per app at a time, across every herokuops workflow: a run waits for the last.",
    );
    push_line(y, "    concurrency:");
    push_line(
        y,
        &format!("      group: {}", quoted(&format!("herokuops-{app_expr}"))),
    );
    push_line(y, "      cancel-in-progress: false");
    push_line(y, "    steps:");
    push_line(y, "      - uses: actions/checkout@v5");
    push_line(y, "        with:");
    push_line(y, "          persist-credentials: false");
}

/// The step that runs the playbook, with the token in its environment only.
fn playbook_step(y: &mut String, spec: &WorkflowSpec, app_expr: &str) {
    push_line(
        y,
        &format!(
            "      - name: {}",
            quoted(&format!("herokuops {}", spec.playbook))
        ),
    );
    push_line(y, "        env:");
    push_line(
        y,
        "          # Only this step sees the token; GitHub masks it in the log.",
    );
    push_line(y, "          HEROKU_API_KEY: ${{ secrets.HEROKU_API_KEY }}");
    push_line(y, &format!("          APP: {}", quoted(app_expr)));
    push_line(
        y,
        "          XDG_STATE_HOME: ${{ runner.temp }}/herokuops-state",
    );
    if let Some(command) = &spec.command {
        push_line(y, &format!("          RUN_COMMAND: {}", quoted(command)));
    }
    push_line(y, &format!("        run: {}", playbook_command(spec)));
}

/// The `herokuops playbook run` command line; values come in through the step's environment.
fn playbook_command(spec: &WorkflowSpec) -> String {
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
    run
}

/// The step that keeps the run's journal as an artifact, whatever the outcome, for `resume`.
fn journal_upload_step(y: &mut String, app_expr: &str) {
    push_line(
        y,
        "      - name: Upload the run journal (what was done, for `herokuops resume`)",
    );
    push_line(y, "        if: always()");
    push_line(y, "        uses: actions/upload-artifact@v6");
    push_line(y, "        with:");
    push_line(
        y,
        &format!(
            "          name: {}",
            quoted(&format!(
                "herokuops-journal-{app_expr}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"
            ))
        ),
    );
    push_line(
        y,
        "          path: ${{ runner.temp }}/herokuops-state/herokuops/runs/",
    );
    push_line(y, "          if-no-files-found: ignore");
    push_line(y, "          retention-days: 30");
}

/// The steps of the backup-archive recipe: a backup captured, its dump downloaded under the
/// archive's name, and the dump uploaded as an artifact GitHub keeps for `days`.
fn archive_steps(y: &mut String, app_expr: &str, days: u32) {
    let mut line = |text: &str| {
        y.push_str(text);
        y.push('\n');
    };
    line("      - name: \"herokuops backup capture and download\"");
    line("        env:");
    line("          # Only this step sees the token; GitHub masks it in the log.");
    line("          HEROKU_API_KEY: ${{ secrets.HEROKU_API_KEY }}");
    line(&format!("          APP: {}", quoted(app_expr)));
    line("        run: |");
    line("          herokuops backup capture \"$APP\"");
    line(
        "          herokuops backup download \"$APP\" --dir \"$RUNNER_TEMP/herokuops-backups\" --keep 1",
    );
    line("      - name: Upload the dump");
    line("        uses: actions/upload-artifact@v6");
    line("        with:");
    line(&format!(
        "          name: {}",
        quoted(&format!(
            "herokuops-backup-{app_expr}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"
        ))
    ));
    line("          path: ${{ runner.temp }}/herokuops-backups/");
    line("          if-no-files-found: error");
    line("          # The dump is the backup: it already holds its compression.");
    line("          compression-level: 0");
    line(&format!("          retention-days: {days}"));
}

/// The steps that restore herokuops from the cache or install it, keyed on what would be
/// installed: the version from crates.io, the commit of the repository's HEAD (found first with
/// `git ls-remote`, then installed with `--rev`, so key and binary agree), or a hash of the
/// checked-out sources.
fn install_steps(y: &mut String, install: &Install) {
    let version = env!("CARGO_PKG_VERSION");
    let mut line = |text: &str| {
        y.push_str(text);
        y.push('\n');
    };
    let (key, run, env): (String, String, Vec<(&str, String)>) = match install {
        Install::Crates => (
            format!("herokuops-{version}-crates"),
            format!("cargo install --locked herokuops --version {version}"),
            vec![],
        ),
        Install::Git { url } => {
            line("      - name: Find the herokuops commit to install");
            line("        id: herokuops-source");
            line("        env:");
            line(&format!("          HEROKUOPS_GIT: {}", quoted(url)));
            line("        run: |");
            line("          rev=\"$(git ls-remote \"$HEROKUOPS_GIT\" HEAD | cut -f1)\"");
            line("          if [ -z \"$rev\" ]; then");
            line("            echo \"::error::no HEAD commit found at $HEROKUOPS_GIT\"");
            line("            exit 1");
            line("          fi");
            line("          echo \"rev=$rev\" >> \"$GITHUB_OUTPUT\"");
            (
                "herokuops-git-${{ steps.herokuops-source.outputs.rev }}".to_string(),
                "cargo install --locked --git \"$HEROKUOPS_GIT\" --rev \"$HEROKUOPS_REV\" herokuops"
                    .to_string(),
                vec![
                    ("HEROKUOPS_GIT", quoted(url)),
                    (
                        "HEROKUOPS_REV",
                        "${{ steps.herokuops-source.outputs.rev }}".to_string(),
                    ),
                ],
            )
        }
        Install::Path { dir } => {
            let prefix = if dir == "." {
                String::new()
            } else {
                format!("{dir}/")
            };
            let files = ["Cargo.lock", "**/Cargo.toml", "**/*.rs"]
                .map(|pattern| format!("'{prefix}{pattern}'"))
                .join(", ");
            (
                format!("herokuops-path-${{{{ hashFiles({files}) }}}}"),
                format!("cargo install --locked --path {}", shell_word(dir)),
                vec![],
            )
        }
    };
    line("      - name: Restore the herokuops binary");
    line("        id: herokuops-cache");
    line("        uses: actions/cache@v5");
    line("        with:");
    line("          path: ~/.cargo/bin/herokuops");
    line(&format!(
        "          key: {key}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}"
    ));
    line("      - name: Install herokuops");
    line("        if: steps.herokuops-cache.outputs.cache-hit != 'true'");
    if !env.is_empty() {
        line("        env:");
        for (name, value) in env {
            line(&format!("          {name}: {value}"));
        }
    }
    line(&format!("        run: {run}"));
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
            install: Install::Crates,
            timeout_minutes: 60,
            max_parallel: 4,
            archive_days: None,
        }
    }

    #[test]
    fn the_archive_recipe_captures_downloads_and_uploads_with_a_retention() {
        let archive = workflow(&WorkflowSpec {
            playbook: ARCHIVE_RECIPE.into(),
            confirm: false,
            archive_days: Some(14),
            ..spec(&["tmi-server"])
        });
        assert!(
            archive.contains("herokuops backup capture \"$APP\""),
            "{archive}"
        );
        assert!(archive.contains("--dir \"$RUNNER_TEMP/herokuops-backups\" --keep 1"));
        assert!(archive.contains("retention-days: 14\n"), "{archive}");
        assert!(archive.contains("if-no-files-found: error"), "{archive}");
        assert!(!archive.contains("playbook run"), "{archive}");
        assert!(!archive.contains("journal"), "{archive}");
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
    fn remotes_become_urls_a_runner_can_clone_without_keys() {
        for (remote, url) in [
            (
                "git@github.com:o/herokuops.git",
                Some("https://github.com/o/herokuops.git"),
            ),
            (
                "ssh://git@github.com:22/o/herokuops",
                Some("https://github.com/o/herokuops"),
            ),
            (
                "https://ops:secret@gitlab.example.com/o/herokuops.git\n",
                Some("https://gitlab.example.com/o/herokuops.git"),
            ),
            (
                "git://example.com/herokuops.git",
                Some("git://example.com/herokuops.git"),
            ),
            ("/srv/git/herokuops", None),
            ("../herokuops", None),
            ("file:///srv/git/herokuops", None),
            ("http://example.com/herokuops.git", None),
        ] {
            assert_eq!(https_url(remote).as_deref(), url, "{remote}");
        }
        assert_eq!(
            redacted("https://ops:secret@example.com/x"),
            "https://ops:***@example.com/x"
        );
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
        for word in ["it's", "a b", "$HOME", "say \"hi\""] {
            assert_eq!(shlex::split(&shell_word(word)).unwrap(), [word], "{word}");
        }
        assert_eq!(shell_word("db/herokuops.toml"), "db/herokuops.toml");
    }
}
