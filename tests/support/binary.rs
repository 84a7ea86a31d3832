//! The one way the tests run the `herokuops` binary: as a user runs it, with a clean
//! environment (only `PATH`, a fresh `HOME` that is also the working directory, `NO_COLOR`),
//! stdin closed, killed if the test drops it, and a time limit. Shared by every test target.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// `herokuops ARGS...`, ready to be given more environment and run.
pub struct Herokuops {
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    home: PathBuf,
    stdin: Option<Vec<u8>>,
    limit: Duration,
    /// The default HOME, kept until the run ends.
    _home: Option<tempfile::TempDir>,
}

pub fn herokuops<I, S>(args: I) -> Herokuops
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let home = tempfile::tempdir().expect("a temporary HOME");
    Herokuops {
        args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
        env: vec![
            ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
            ("NO_COLOR".into(), "1".into()),
        ],
        home: home.path().to_path_buf(),
        stdin: None,
        limit: Duration::from_secs(120),
        _home: Some(home),
    }
}

impl Herokuops {
    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// HOME and the working directory.
    pub fn home(mut self, dir: &Path) -> Self {
        self.home = dir.to_path_buf();
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.as_ref().to_owned()));
        self
    }

    /// Removes a variable of the clean environment (e.g. `NO_COLOR`).
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self
    }

    pub fn envs<'a>(mut self, vars: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> Self {
        for (key, value) in vars {
            self = self.env(key, value);
        }
        self
    }

    /// Points it at a Heroku (a mock or the sandbox) with a token.
    pub fn heroku(self, base_url: &str, token: &str) -> Self {
        self.env("HEROKU_HOST", base_url)
            .env("HEROKU_API_KEY", token)
    }

    /// What it reads on stdin.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// The longest it may run before the test fails.
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// The command as the standard library runs it (for a PTY), streams left as they are.
    pub fn std_command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(path());
        command
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("HOME", &self.home)
            .current_dir(&self.home)
            .args(&self.args);
        command
    }

    /// Starts it; its stdout and stderr are piped. Give it a `home` of the test's own: the
    /// default one goes when this value does.
    pub fn spawn(mut self) -> tokio::process::Child {
        self.start()
    }

    fn start(&mut self) -> tokio::process::Child {
        let mut command = tokio::process::Command::from(self.std_command());
        let stdin = match self.stdin {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        };
        command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("herokuops starts");
        if let Some(bytes) = self.stdin.take() {
            let mut input = child.stdin.take().expect("stdin is piped");
            tokio::spawn(async move {
                let _ = input.write_all(&bytes).await;
            });
        }
        child
    }

    /// Runs it to the end.
    pub async fn output(mut self) -> Output {
        let limit = self.limit;
        let child = self.start();
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("herokuops did not finish within {limit:?}"))
            .expect("herokuops runs");
        // Its HOME lives as long as it ran.
        drop(self);
        output
    }

    /// Runs it to the end, from a test that is not async.
    pub fn output_blocking(self) -> Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(self.output())
    }
}

/// Sends `signal` to a child; false when it has exited already (its id is gone, and there is
/// no pid to guess: 0 would be our own process group).
pub fn signal(child: &tokio::process::Child, signal: rustix::process::Signal) -> bool {
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    pid.is_some_and(|pid| rustix::process::kill_process(pid, signal).is_ok())
}

/// The binary's path, for the few tests that need it as a file (a PTY, a shell pipeline).
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_herokuops"))
}

/// Exit code and both streams, for an assertion's message.
pub fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
