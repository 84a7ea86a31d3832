//! The confirmation at a real terminal (a PTY): first the plan and a question that says what
//! will be lost, then the prompt on a line of its own with nothing drawing over it; the app name
//! typed goes on, a wrong name or Ctrl-C changes nothing.

use rexpect::process::{Signal, WaitStatus};
use rexpect::session::spawn_command;

use super::harness::tables_and_rows;
use super::harness::{E2e, expected_file, has_seed};
use crate::support::sandbox::APP;

/// What a terminal shows before the prompt, and how the run ended after `answer`.
struct AtThePrompt {
    before: String,
    after: String,
    status: WaitStatus,
}

enum Answer {
    Type(&'static str),
    CtrlC,
}

async fn reset_at_a_terminal(e2e: &E2e, answer: Answer) -> AtThePrompt {
    let expect = expected_file();
    let command = e2e
        .command(&["reset", APP, "--expect", &expect])
        .env("TERM", "xterm-256color")
        .std_command();
    tokio::task::spawn_blocking(move || {
        let mut session = spawn_command(command, Some(60_000)).expect("a PTY");
        let before = session.exp_string("> ").expect("the prompt");
        match answer {
            Answer::Type(name) => {
                session.send_line(name).unwrap();
            }
            Answer::CtrlC => session.send_control('c').unwrap(),
        }
        let after = session.exp_eof().unwrap_or_default();
        let status = session.process().wait().expect("it ends");
        AtThePrompt {
            before: utf8(&before),
            after: utf8(&after),
            status,
        }
    })
    .await
    .unwrap()
}

/// The PTY's text is read a byte a character: put the bytes together again.
fn utf8(bytes_as_chars: &str) -> String {
    let bytes: Vec<u8> = bytes_as_chars.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Braille dots are what a spinner draws.
fn spinner_frames(text: &str) -> usize {
    text.chars()
        .filter(|c| ('\u{2800}'..='\u{28FF}').contains(c))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_prompt_takes_the_app_name_and_refuses_another_name_or_ctrl_c() {
    let e2e = E2e::start().await;
    e2e.seed().await;

    let wrong = reset_at_a_terminal(&e2e, Answer::Type("tmi-servre")).await;
    assert!(
        wrong.before.contains("Data loss: schema public of"),
        "{}",
        wrong.before
    );
    assert!(
        wrong.before.contains("type the app name (tmi-server)"),
        "{}",
        wrong.before
    );
    // The plan keeps its layout: one fact or step per line, the table under its header.
    let lines: Vec<&str> = wrong.before.lines().map(str::trim_end).collect();
    for start in [
        "will run reset on tmi-server",
        "  account ",
        "#  step",
        "1  pg.drop-schema",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(start)),
            "no line starts with {start:?}: {}",
            wrong.before
        );
    }
    assert!(
        wrong.before.ends_with('\n'),
        "the prompt starts a line of its own: {:?}",
        wrong.before
    );
    assert_eq!(
        spinner_frames(&wrong.before),
        0,
        "nothing animates before the answer: {}",
        wrong.before
    );
    assert!(
        matches!(wrong.status, WaitStatus::Exited(_, 2)),
        "{:?}: {}",
        wrong.status,
        wrong.after
    );
    assert!(wrong.after.contains("does not match"), "{}", wrong.after);

    let interrupted = reset_at_a_terminal(&e2e, Answer::CtrlC).await;
    assert!(
        matches!(
            interrupted.status,
            WaitStatus::Signaled(_, Signal::SIGINT, _)
        ),
        "{:?}: {}",
        interrupted.status,
        interrupted.after
    );
    let url = e2e.database_url().await;
    assert!(
        has_seed(&tables_and_rows(&url).await.unwrap()),
        "a wrong name and Ctrl-C change nothing"
    );
    assert_eq!(e2e.assert_journals_clean(), 0, "nor start a run");

    let typed = reset_at_a_terminal(&e2e, Answer::Type(APP)).await;
    assert!(
        matches!(typed.status, WaitStatus::Exited(_, 0)),
        "{:?}: {}",
        typed.status,
        typed.after
    );
    assert!(
        typed.after.contains("✓ pg.drop-schema"),
        "each step ends as one line: {}",
        typed.after
    );
    assert!(typed.after.contains("succeeded"), "{}", typed.after);
    let tables = tables_and_rows(&e2e.database_url().await).await.unwrap();
    assert!(!has_seed(&tables), "the schema was reset");
    e2e.shutdown().await;
}
