//! Commands run in-process, through the seams a test can hold: the parsed command line, streams
//! captured in memory, a scripted answer at the prompt, and the API client pointed at a mock
//! Heroku. What they return is a typed outcome, rendered once.

use clap::Parser;
use herokuops::cli::{Cli, Ctx, Done};
use herokuops::output::prompt::ScriptedPrompter;
use herokuops::output::{CapturedStreams, Io, Mode};
use serde_json::json;

use crate::contract::{call, call_json};
use crate::support::{client, fixture, json, server};

/// Parses `args`, runs the command against `server` with `answer` at the prompt, and shows its
/// outcome as the binary would.
async fn run(
    server: &wiremock::MockServer,
    args: &[&str],
    answer: Option<&str>,
) -> (herokuops::Result<()>, CapturedStreams) {
    let mut cli = Cli::try_parse_from(std::iter::once("herokuops").chain(args.iter().copied()))
        .expect("the command line parses");
    cli.global.settle();
    let mode = if cli.global.json {
        Mode::Json
    } else {
        Mode::Human
    };
    let (io, streams) = Io::captured(mode);
    let prompter = Box::new(ScriptedPrompter(answer.map(str::to_string)));
    let ctx = Ctx::with_api(io, cli.global.clone(), prompter, client(server));
    let result = herokuops::cli::run(cli.command, &ctx)
        .await
        .and_then(|done: Done| done.show(&ctx.io));
    (result, streams)
}

#[tokio::test]
async fn maintenance_status_says_it_for_the_app() {
    let server = server().await;
    call("GET", "/apps/tmi-server")
        .respond_with(json(200, fixture("app.json")))
        .expect(1)
        .mount(&server)
        .await;
    let (result, streams) = run(&server, &["maintenance", "status", "tmi-server"], None).await;
    result.unwrap();
    assert_eq!(
        streams.out.contents(),
        "maintenance is off for tmi-server\n"
    );
}

#[tokio::test]
async fn a_dry_run_shows_the_request_it_would_send_and_sends_none() {
    let server = server().await;
    let (result, streams) = run(
        &server,
        &["--json", "--dry-run", "maintenance", "on", "tmi-server"],
        None,
    )
    .await;
    result.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&streams.out.contents()).unwrap();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(
        doc["requests"],
        json!([r#"PATCH /apps/tmi-server {"maintenance":true}"#])
    );
}

#[tokio::test]
async fn a_destructive_command_asks_and_a_wrong_name_changes_nothing() {
    let server = server().await;
    let args = [
        "addons",
        "destroy",
        "tmi-server",
        "postgresql-secondary-10002",
    ];
    let (result, _) = run(&server, &args, Some("tmi-srever")).await;
    let err = result.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("does not match"), "{err}");

    let (result, _) = run(&server, &args, None).await;
    let err = result.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("--confirm tmi-server"), "{err}");
    // The catch-all fails the test on any request: neither run sent one.
}

#[tokio::test]
async fn the_name_typed_at_the_prompt_lets_it_go_on() {
    let server = server().await;
    let addon = fixture("addons.json")[1].clone();
    call_json(
        "POST",
        "/actions/addons/resolve",
        json!({ "addon": "postgresql-secondary-10002", "app": "tmi-server" }),
    )
    .respond_with(json(200, json!([addon])))
    .expect(1)
    .mount(&server)
    .await;
    let mut destroyed = addon.clone();
    destroyed["state"] = json!("deprovisioned");
    call(
        "DELETE",
        "/apps/6a8cd9a2-4b0e-4bd1-9a1f-2d1b0e3c1f10/addons/fdf3a4eb-af7b-5ec5-96fd-717476dd02ca",
    )
    .respond_with(json(200, destroyed))
    .expect(1)
    .mount(&server)
    .await;
    let args = [
        "addons",
        "destroy",
        "tmi-server",
        "postgresql-secondary-10002",
    ];
    let (result, streams) = run(&server, &args, Some("tmi-server")).await;
    result.unwrap();
    assert_eq!(
        streams.out.contents(),
        "destroyed postgresql-secondary-10002 (deprovisioned)\n"
    );
}
