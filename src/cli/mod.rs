//! The command line: clap definitions, dispatch, and the one place errors are rendered.

pub mod actions;
pub mod apps;
pub mod commands;
pub mod context;
pub mod fleet;
mod help;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, FromArgMatches, Parser, Subcommand};

use crate::error::{Error, Result, exit};
use crate::output::prompt::TerminalPrompter;
use crate::output::{Io, Mode};

pub use context::Ctx;

#[derive(Debug, Parser)]
#[command(
    name = "herokuops",
    version,
    about = "Database chores for Heroku apps: reset, swap, back up, restore and verify, safely",
    long_about = None,
    propagate_version = true,
    after_help = "Examples:\n  herokuops reset tmi-server\n  herokuops swap-db tmi-server --confirm tmi-server\n  herokuops backup capture --apps-from production-apps.txt -j 8\n  herokuops pg info -a tmi-server       (the same as: pg info tmi-server)\n\nExit codes:\n  0 done, 1 failed, 2 bad input or confirmation missing, 3 schema drift,\n  4 not authenticated, 130 interrupted"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts, shown under their own heading after the command's own.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The Heroku app (or give it as the first argument); repeat it to work on several apps
    #[arg(short = 'a', long = "app", global = true, value_name = "APP")]
    pub apps: Vec<String>,
    /// The app when exactly one `--app` was given (see [`Global::settle`]).
    #[arg(skip)]
    pub app: Option<String>,
    /// Work on the apps listed in FILE, one per line (# comments and blank lines ignored)
    #[arg(long, global = true, value_name = "FILE")]
    pub apps_from: Option<PathBuf>,
    /// With several apps: how many to work on at once
    #[arg(short = 'j', long, global = true, value_name = "N", default_value_t = crate::fleet::DEFAULT_JOBS, value_parser = parse_jobs)]
    pub jobs: usize,
    /// Confirm a destructive action without a prompt; must equal the app name
    #[arg(long, global = true, value_name = "APP")]
    pub confirm: Option<String>,
    /// Answer yes to prompts that destroy nothing
    #[arg(long, global = true)]
    pub yes: bool,
    /// Show what would be done, change nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Print one JSON document on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or spinners
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Log each HTTP request (never its credentials) to stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Only errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: crate::output::ColorChoice,
}

impl Global {
    /// Fills `app` from a single `--app`; several make a fleet instead.
    pub fn settle(&mut self) {
        self.app = match self.apps.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
    }
}

fn parse_jobs(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number of jobs from 1 to 64")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the account behind the token and where the token came from
    #[command(
        after_help = "Examples:\n  herokuops whoami\n  HEROKU_API_KEY=... herokuops whoami --json"
    )]
    Whoami,
    /// Store a Heroku API token in the OS keyring
    Login(commands::auth::LoginArgs),
    /// Remove the stored token (nothing to do when none is stored)
    #[command(after_help = "Examples:\n  herokuops logout")]
    Logout,
    /// Maintenance mode: on, off, status
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops maintenance on tmi-server\n  herokuops maintenance status --apps-from apps.txt"
    )]
    Maintenance(commands::maintenance::MaintenanceCommand),
    /// Dynos: list, restart, wait
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops dynos list tmi-server\n  herokuops dynos restart tmi-server --type web"
    )]
    Dynos(commands::dynos::DynosCommand),
    /// Add-ons: list, create, destroy
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops addons list tmi-server\n  herokuops addons create tmi-server heroku-postgresql:essential-0 --wait"
    )]
    Addons(commands::addons::AddonsCommand),
    /// Postgres databases: info, wait, promote, copy
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops pg info tmi-server\n  herokuops pg promote tmi-server HEROKU_POSTGRESQL_AMBER \\\n      --confirm tmi-server"
    )]
    Pg(commands::pg::PgCommand),
    /// Backups: capture, list, url, download, restore, schedule, unschedule
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops backup capture tmi-server\n  herokuops backup list tmi-server\n  herokuops backup restore tmi-server b005 --confirm tmi-server"
    )]
    Backup(commands::backup::BackupCommand),
    /// Run a command on a one-off dyno and exit with its status
    Run(commands::run::RunArgs),
    /// The app's logs: the recent lines, or with --tail every new one until Ctrl-C
    Logs(commands::logs::LogsArgs),
    /// Let the app migrate: restart it and wait, or run a migration command there or here
    Migrate(commands::migrate::MigrateArgs),
    /// Compare the live schema with an expected-schema file (exit 3 on drift)
    Verify(commands::db::VerifyArgs),
    /// Expected-schema files: snapshot
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops schema snapshot tmi-server -o schema/tmi.toml"
    )]
    Schema(commands::db::SchemaCommand),
    /// The database itself: check, diagnose, drop-schema, pull, push, psql, live activity (ps, locks, blocking, outliers, kill)
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops db check tmi-server\n  herokuops db diagnose tmi-server\n  herokuops db pull tmi-server postgres://localhost/tmi_dev\n  herokuops db ps tmi-server"
    )]
    Db(commands::db::DbCommand),
    /// Playbook: drop and recreate schema public, let the app migrate, verify (destroys data)
    #[command(
        after_help = "Examples:\n  herokuops reset tmi-server\n  herokuops reset tmi-server --expect schema/tmi.toml --confirm tmi-server\n  herokuops reset tmi-server --migrate-local 'alembic upgrade head' --dry-run"
    )]
    Reset {
        #[arg(value_name = "APP")]
        args: Vec<String>,
        #[command(flatten)]
        flags: commands::playbook::RunFlags,
    },
    /// Playbook: move the app onto a new Postgres add-on (create, wait, maintenance, [copy,] promote, restart, verify)
    #[command(
        after_help = "Examples:\n  herokuops swap-db tmi-server\n  herokuops swap-db tmi-server --copy --confirm tmi-server\n  herokuops swap-db tmi-server --plan heroku-postgresql:standard-0 \\\n      --confirm tmi-server"
    )]
    SwapDb {
        #[arg(value_name = "APP")]
        args: Vec<String>,
        /// Plan of the new add-on (default: the current database's plan)
        #[arg(long, value_name = "SERVICE:PLAN")]
        plan: Option<String>,
        /// Copy the old database's data into the new one once in maintenance, and compare
        /// every table's rows, before the promotion
        #[arg(long)]
        copy: bool,
        #[command(flatten)]
        flags: commands::playbook::PlaybookFlags,
    },
    /// Playbooks: list, show, run
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops playbook list\n  herokuops playbook run nightly tmi-server"
    )]
    Playbook(commands::playbook::PlaybookCommand),
    /// Journaled playbook runs: list, show
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops runs list\n  herokuops runs show latest"
    )]
    Runs(commands::playbook::RunsCommand),
    /// Continue a failed or interrupted run from its failed step
    #[command(
        after_help = "Examples:\n  herokuops resume latest\n  herokuops resume 20261130T101500Z-3f9a --confirm tmi-server"
    )]
    Resume {
        /// The run: its id, a unique start of it, or `latest`
        id: String,
        /// The URL a restore run restores from, again: its journal keeps it without the
        /// signature
        #[arg(long, value_name = "URL")]
        restore_url: Option<String>,
        #[command(flatten)]
        flags: commands::playbook::PlaybookFlags,
    },
    /// GitHub Actions: write a scheduled workflow (init), print apps as a job matrix (matrix)
    #[command(
        subcommand,
        after_help = "Examples:\n  herokuops ci init backup-capture --app tmi-server --cron '0 3 * * *'\n  herokuops ci matrix --apps-from apps.txt"
    )]
    Ci(commands::ci::CiCommand),
    /// Write shell completions to stdout
    #[command(
        after_help = "Examples:\n  herokuops completions bash > /etc/bash_completion.d/herokuops\n  herokuops completions zsh > ~/.zfunc/_herokuops"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Splits the positional words of a command into the app and the command's own arguments.
///
/// With `-a APP` every positional is the command's; without it the first one is the app.
pub fn app_and_args(
    global: &Global,
    positionals: &[String],
    max_args: usize,
    usage: &str,
) -> Result<(String, Vec<String>)> {
    let (app, rest) = match &global.app {
        Some(app) => (app.clone(), positionals.to_vec()),
        None => match positionals.split_first() {
            Some((app, rest)) => (app.clone(), rest.to_vec()),
            None => return Err(Error::usage(format!("no app given: {usage}"))),
        },
    };
    validate_app_name(&app)?;
    if rest.len() > max_args {
        return Err(Error::usage(format!(
            "unexpected argument {:?}: {usage}",
            rest[max_args]
        )));
    }
    Ok((app, rest))
}

/// Heroku app names: lower-case letters, digits and dashes, starting with a letter (or a UUID).
pub fn validate_app_name(app: &str) -> Result<()> {
    let is_uuid = uuid::Uuid::parse_str(app).is_ok();
    let well_formed = app.len() >= 2
        && app.len() <= 100
        && app.starts_with(|c: char| c.is_ascii_lowercase())
        && app
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if is_uuid || well_formed {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{app:?} is not a Heroku app name (lower-case letters, digits and dashes, starting with a letter)"
        )))
    }
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed = help::command_tree_for(&args)
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let mut cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    cli.global.settle();
    if let Err(e) = apps::check_app_flags(std::env::args_os(), &cli.global) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    if cli.global.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .with_target(false)
            .without_time()
            .init();
    }
    let mode = if cli.global.json {
        Mode::Json
    } else {
        Mode::Human
    };
    let settings = crate::output::Settings {
        quiet: cli.global.quiet,
        no_progress: cli.global.no_progress,
        verbose: cli.global.verbose,
        color: cli.global.color,
    };
    let io = Io::real(mode, &settings);
    let prompter = Box::new(TerminalPrompter {
        stdin_tty: io.stdin_tty,
    });
    let ctx = Ctx::new(io, cli.global.clone(), prompter);
    let runtime = match cli.command.runtime(fleet::is_fleet(&cli.global)).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    // Playbooks (and `run`, which stops its dyno) handle Ctrl-C themselves, to clean up before
    // they stop; a fleet stops its apps itself, to still report every one.
    let handles_interrupt = cli.command.handles_interrupt() || fleet::is_fleet(&cli.global);
    let result = runtime.block_on(async {
        if handles_interrupt {
            return run(cli.command, &ctx).await;
        }
        let interrupt = crate::signals::Interrupt::listen();
        let mut interrupted = interrupt.receiver();
        tokio::select! {
            result = run(cli.command, &ctx) => result,
            _ = crate::signals::interrupted(&mut interrupted) => Err(Error::Interrupted),
        }
    });
    let result = ctx.io.finish(result.and_then(|done| done.show(&ctx.io)));
    ExitCode::from(report(&ctx.io, result))
}

impl Command {
    /// The runtime the command runs on. A command of one or two requests on one app runs on the
    /// calling thread: a pool of workers (sized after reading the CPU quota, then started and
    /// handed the work) would take about as long as the requests themselves. Everything else
    /// (playbooks, several connections, transfers, fleets) gets worker threads.
    fn runtime(&self, fleet: bool) -> tokio::runtime::Builder {
        let brief = !fleet && matches!(self, Command::Whoami | Command::Maintenance(_));
        let mut builder = if brief {
            tokio::runtime::Builder::new_current_thread()
        } else {
            tokio::runtime::Builder::new_multi_thread()
        };
        builder.enable_all();
        builder
    }

    /// Whether the command reacts to Ctrl-C itself rather than being dropped where it stands.
    fn handles_interrupt(&self) -> bool {
        match self {
            Command::Reset { .. }
            | Command::SwapDb { .. }
            | Command::Playbook(_)
            | Command::Resume { .. }
            | Command::Run(_) => true,
            Command::Backup(cmd) => cmd.runs_a_playbook(),
            Command::Db(commands::db::DbCommand::Chores(cmd)) => cmd.handles_interrupt(),
            Command::Logs(args) => args.tail,
            _ => false,
        }
    }
}

/// The completion script of `shell`, as stdout.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct Completions(String);

impl crate::output::Outcome for Completions {
    fn human(&self, _look: &crate::output::Look) -> String {
        self.0.clone()
    }

    fn summary(&self) -> String {
        "completions".into()
    }
}

fn completions(shell: clap_complete::Shell) -> Completions {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut help::command_tree(), "herokuops", &mut script);
    Completions(String::from_utf8_lossy(&script).into_owned())
}

/// What a command ended with: its outcome, shown once by the caller, and the failure that
/// still ends it once the outcome is shown (drift, a failed playbook).
pub struct Done {
    pub outcome: Box<dyn crate::output::Outcome>,
    pub failure: Option<Error>,
}

impl Done {
    pub fn ok(outcome: impl crate::output::Outcome + 'static) -> Result<Done> {
        Ok(Done {
            outcome: Box::new(outcome),
            failure: None,
        })
    }

    /// A command whose output was a stream it wrote as it came.
    pub fn streamed() -> Result<Done> {
        Done::ok(crate::output::outcome::Streamed)
    }

    /// An outcome that is also a failure: shown in full, then the error's one line.
    pub fn failed(outcome: impl crate::output::Outcome + 'static, failure: Error) -> Result<Done> {
        Ok(Done {
            outcome: Box::new(outcome),
            failure: Some(failure),
        })
    }

    /// Shows the outcome; returns what is left to report.
    pub fn show(self, io: &Io) -> Result<()> {
        io.show(self.outcome.as_ref());
        match self.failure {
            None => Ok(()),
            Some(failure) => Err(Error::Reported(Box::new(failure))),
        }
    }
}

/// Runs one parsed command.
pub async fn run(command: Command, ctx: &Ctx) -> Result<Done> {
    // `ci` takes several apps to write them into a workflow, not to run on them.
    if let Command::Ci(cmd) = command {
        return commands::ci::run(ctx, cmd);
    }
    if fleet::is_fleet(&ctx.global) {
        return fleet::run(command, ctx).await;
    }
    match command {
        Command::Whoami => commands::auth::whoami(ctx).await,
        Command::Login(args) => commands::auth::login(ctx, args).await,
        Command::Logout => commands::auth::logout(ctx),
        Command::Maintenance(cmd) => commands::maintenance::run(ctx, cmd).await,
        Command::Dynos(cmd) => commands::dynos::run(ctx, cmd).await,
        Command::Addons(cmd) => commands::addons::run(ctx, cmd).await,
        Command::Pg(cmd) => commands::pg::run(ctx, cmd).await,
        Command::Backup(cmd) => commands::backup::run(ctx, cmd).await,
        Command::Run(args) => commands::run::run(ctx, args).await,
        Command::Logs(args) => commands::logs::run(ctx, args).await,
        Command::Migrate(args) => commands::migrate::run(ctx, args).await,
        Command::Verify(args) => commands::db::verify_command(ctx, args).await,
        Command::Schema(cmd) => commands::db::schema(ctx, cmd).await,
        Command::Db(cmd) => commands::db::db(ctx, cmd).await,
        Command::Reset { args, flags } => {
            commands::playbook::run_named(ctx, "reset", &args, None, None, flags).await
        }
        Command::SwapDb {
            args,
            plan,
            copy,
            flags,
        } => commands::transfer::swap_db(ctx, &args, plan, copy, flags).await,
        Command::Playbook(cmd) => commands::playbook::playbook(ctx, cmd).await,
        Command::Runs(cmd) => commands::playbook::runs(ctx, cmd),
        Command::Resume {
            id,
            restore_url,
            flags,
        } => commands::playbook::resume(ctx, &id, restore_url.as_deref(), flags).await,
        Command::Ci(cmd) => commands::ci::run(ctx, cmd),
        Command::Completions { shell } => Done::ok(completions(shell)),
    }
}

/// Renders an error once: the message, its causes, a hint; JSON on stdout with `--json`.
pub fn report(io: &Io, result: Result<()>) -> u8 {
    let error = match result {
        Ok(()) => return exit::OK,
        Err(e) => e,
    };
    let code = error.exit_code();
    let causes = error.causes();
    let hint = error.hint();
    if io.json() && !matches!(error, Error::Drift { .. } | Error::Reported(_)) {
        io.out(
            &serde_json::to_string_pretty(&serde_json::json!({
                "ok": false,
                "error": {
                    "message": error.to_string(),
                    "causes": causes,
                    "hint": hint,
                    "exit_code": code,
                }
            }))
            .unwrap_or_default(),
        );
    }
    // A playbook failure and drift were annotated where they were rendered.
    if !matches!(error, Error::Drift { .. } | Error::Reported(_)) {
        io.annotate_error(None, &actions::error_message(&error));
    }
    // One line each, whatever server text they hold: nothing can forge a line of its own.
    let line = |text: String| io.err_line(&crate::output::sanitize::one_line(&text));
    line(format!("error: {error}"));
    for cause in &causes {
        line(format!("  caused by: {cause}"));
    }
    if let Some(hint) = hint {
        line(format!("hint: {hint}"));
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("herokuops").chain(args.iter().copied())).map(
            |mut cli| {
                cli.global.settle();
                cli
            },
        )
    }

    #[test]
    fn short_commands_run_on_the_calling_thread_and_the_rest_on_workers() {
        use tokio::runtime::RuntimeFlavor::{CurrentThread, MultiThread};
        for (args, flavor) in [
            (&["maintenance", "on", "tmi-server"][..], CurrentThread),
            (&["whoami"][..], CurrentThread),
            (
                &["maintenance", "on", "--apps-from", "apps.txt"][..],
                MultiThread,
            ),
            (&["reset", "tmi-server"][..], MultiThread),
            (&["verify", "tmi-server"][..], MultiThread),
        ] {
            let cli = parse(args).unwrap();
            let runtime = cli
                .command
                .runtime(fleet::is_fleet(&cli.global))
                .build()
                .unwrap();
            assert_eq!(runtime.handle().runtime_flavor(), flavor, "{args:?}");
        }
    }

    #[test]
    fn app_as_flag_or_first_positional() {
        let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let with_flag = Global {
            app: Some("tmi-server".into()),
            ..Default::default()
        };
        let (app, rest) =
            app_and_args(&with_flag, &words(&["HEROKU_POSTGRESQL_AMBER"]), 1, "u").unwrap();
        assert_eq!(
            (app.as_str(), rest),
            ("tmi-server", words(&["HEROKU_POSTGRESQL_AMBER"]))
        );
        let (app, rest) = app_and_args(
            &Global::default(),
            &words(&["tmi-server", "HEROKU_POSTGRESQL_AMBER"]),
            1,
            "u",
        )
        .unwrap();
        assert_eq!(
            (app.as_str(), rest),
            ("tmi-server", words(&["HEROKU_POSTGRESQL_AMBER"]))
        );
        let err = app_and_args(&Global::default(), &[], 1, "u").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = app_and_args(&with_flag, &words(&["a", "b"]), 1, "u").unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn app_names_are_validated() {
        assert!(validate_app_name("tmi-server").is_ok());
        assert!(validate_app_name("01234567-89ab-cdef-0123-456789abcdef").is_ok());
        for bad in ["Tmi", "-x", "a b", "x", "app_1", "../etc"] {
            assert_eq!(validate_app_name(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn global_flags_anywhere() {
        let cli = parse(&[
            "pg",
            "promote",
            "-a",
            "tmi-server",
            "--confirm",
            "tmi-server",
            "X",
        ])
        .unwrap();
        assert_eq!(cli.global.app.as_deref(), Some("tmi-server"));
        assert_eq!(cli.global.confirm.as_deref(), Some("tmi-server"));
        let cli = parse(&["--json", "maintenance", "status", "tmi-server"]).unwrap();
        assert!(cli.global.json);
    }

    #[test]
    fn clap_definition_is_consistent() {
        help::command_tree().debug_assert();
    }

    /// Every command, with its path of names from the top.
    fn every_command() -> Vec<(String, clap::Command)> {
        fn walk(prefix: &str, command: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            for sub in command.get_subcommands().filter(|c| c.get_name() != "help") {
                let path = format!("{prefix} {}", sub.get_name());
                out.push((path.clone(), sub.clone()));
                walk(&path, sub, out);
            }
        }
        let top = help::command_tree().term_width(80);
        let mut all = vec![("herokuops".to_string(), top.clone())];
        walk("herokuops", &top, &mut all);
        all
    }

    /// The `herokuops ...` commands under `Examples:` of a help text (a line ending in `\`
    /// goes on in the next), cut before a pipe, a redirection or a note in parentheses.
    fn examples(help: &str) -> Vec<String> {
        let Some((_, after)) = help.split_once("Examples:\n") else {
            return Vec::new();
        };
        let mut commands = Vec::new();
        let mut pending = String::new();
        for line in after.lines().take_while(|l| l.starts_with("  ")) {
            pending.push_str(line.trim());
            if let Some(open) = pending.strip_suffix('\\') {
                pending = format!("{} ", open.trim_end());
                continue;
            }
            if let Some(at) = pending.find("herokuops ") {
                let command = &pending[at..];
                let end = command
                    .find(['|', '>', '(', ')', '"'])
                    .unwrap_or(command.len());
                commands.push(command[..end].trim().to_string());
            }
            pending.clear();
        }
        commands
    }

    #[test]
    fn every_command_has_examples_that_parse_whole_on_their_line() {
        let commands = every_command();
        assert!(commands.len() > 40, "{} commands", commands.len());
        for (path, mut command) in commands {
            let help = command.render_long_help().to_string();
            let long = help
                .split_once("Examples:")
                .map_or("", |(_, e)| e)
                .lines()
                .find(|l| l.chars().count() > 80);
            assert_eq!(
                long, None,
                "`{path} --help`: an example wider than 80 columns"
            );
            let examples = examples(&help);
            assert!(
                !examples.is_empty(),
                "`{path} --help` has no examples:\n{help}"
            );
            for example in examples {
                let words = shlex::split(&example).unwrap_or_else(|| panic!("{example}"));
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!("`{path} --help`: the example `{example}` does not parse: {e}");
                }
            }
        }
    }

    #[test]
    fn a_command_offers_the_flags_of_its_own_before_the_global_ones() {
        let mut top = help::command_tree();
        top.build();
        let mut swap = top.find_subcommand("swap-db").unwrap().clone();
        let help = swap.render_long_help().to_string();
        assert!(!help.contains("--migrate-command"), "{help}");
        let own = help.find("--plan").unwrap();
        let global = help.find("Global options:").unwrap();
        assert!(own < global, "{help}");
    }
}
