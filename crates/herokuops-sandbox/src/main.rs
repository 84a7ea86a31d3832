//! `herokuops-sandbox`: a local Heroku for herokuops and the official Heroku CLI.
//!
//! Prints the variables that point clients at it on stdout once it is ready
//! (`eval "$(herokuops-sandbox &)"` style), logs requests on stderr, and runs until interrupted.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use herokuops_sandbox::{
    ClusterOptions, DEFAULT_TOKEN, PostgresSource, RateLimit, Sandbox, SandboxOptions,
    default_fixtures_dir,
};

#[derive(Debug, Parser)]
#[command(
    name = "herokuops-sandbox",
    version,
    about = "A local Heroku: the Platform API and Postgres data API on loopback, backed by real PostgreSQL",
    after_help = "Point clients at it with the lines it prints, e.g.\n  herokuops-sandbox > /tmp/sandbox.env &\n  sleep 3; . /tmp/sandbox.env; herokuops dynos list tmi-server"
)]
struct Args {
    /// Port on 127.0.0.1 and 127.0.0.2 (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// A PostgreSQL server to create the add-ons' databases on, as a role that may create roles
    /// and databases (default: a temporary cluster of our own)
    #[arg(long, value_name = "URL", env = "HEROKUOPS_SANDBOX_PG_URL")]
    pg_url: Option<String>,
    /// Directory of *.toml app fixtures
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// The only API token accepted
    #[arg(long, value_name = "T", default_value = DEFAULT_TOKEN)]
    token: String,
    /// How long a new add-on stays provisioning
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_duration)]
    provision_delay: Duration,
    /// The least time a backup takes, as on Heroku where the dump runs on Heroku's side
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration)]
    backup_time: Duration,
    /// Serve every fixture app as N copies, NAME-01 to NAME-N, each with its own database
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    apps: Option<u16>,
    /// The API rate limit as a token bucket: N requests, refilled N per PERIOD (Heroku's is
    /// 4500/1h); an empty bucket answers 429 with Retry-After
    #[arg(long, value_name = "N/PERIOD", default_value = "4500/1h", value_parser = RateLimit::parse)]
    rate_limit: RateLimit,
    /// Do not log each request on stderr
    #[arg(short, long)]
    quiet: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(if args.quiet {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        })
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("herokuops-sandbox: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    let postgres = match args.pg_url {
        Some(url) => PostgresSource::Url { url, bin_dir: None },
        None => PostgresSource::OwnCluster(ClusterOptions::default()),
    };
    let mut options = SandboxOptions::new(postgres);
    options.port = args.port;
    options.token = args.token;
    options.provision_delay = args.provision_delay;
    options.fixtures = args.fixtures.unwrap_or_else(default_fixtures_dir);
    options.rate_limit = args.rate_limit;
    options.backup_time = args.backup_time;
    options.copies = args.apps.map(usize::from);
    let started = std::time::Instant::now();
    let sandbox = match Sandbox::start(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("herokuops-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let printed = writeln!(out, "export HEROKU_HOST={}", sandbox.base_url())
        .and_then(|_| writeln!(out, "export HEROKU_DATA_HOST={}", sandbox.data_host()))
        .and_then(|_| writeln!(out, "export HEROKU_API_KEY={}", sandbox.token()))
        .and_then(|_| out.flush());
    drop(out);
    if let Err(e) = printed {
        eprintln!("herokuops-sandbox: could not write to stdout: {e}");
    }
    eprintln!(
        "herokuops-sandbox: serving {} on {} and {} (ready in {:.2?}); Ctrl-C stops it",
        sandbox.apps().join(", "),
        sandbox.base_url(),
        sandbox.data_url(),
        started.elapsed()
    );
    wait_for_signal().await;
    eprintln!("herokuops-sandbox: stopping");
    match sandbox.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herokuops-sandbox: clean-up: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
