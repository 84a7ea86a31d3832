//! Local commands run through `sh -c` in a process group of their own, so that stopping one
//! stops everything it started: `kill_on_drop` alone reaches only the shell, and a command made
//! of several (`sleep 2; touch done`, a migration tool's workers) would go on without it.

use std::process::ExitStatus;

use tokio::process::{Child, Command};

/// A spawned command and its process group; dropping it kills the whole group.
pub struct GroupChild {
    child: Child,
    pgid: Option<i32>,
}

impl GroupChild {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(mut command: Command) -> std::io::Result<GroupChild> {
        command.process_group(0).kill_on_drop(true);
        let child = command.spawn()?;
        let pgid = child.id().and_then(|pid| i32::try_from(pid).ok());
        Ok(GroupChild { child, pgid })
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        // The leader is gone; what it left behind in the group goes with it.
        self.kill_group();
        status
    }

    /// Kills every process of the group, then reaps the leader.
    pub async fn kill(&mut self) {
        self.kill_group();
        let _ = self.child.wait().await;
    }

    fn kill_group(&mut self) {
        if let Some(pgid) = self.pgid.take().and_then(rustix::process::Pid::from_raw) {
            // Gone already is as good as killed.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.kill_group();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        command
    }

    /// Waits until no process of the group is left; false if some still is at the deadline.
    async fn group_gone(pgid: i32) -> bool {
        let pgid = rustix::process::Pid::from_raw(pgid).expect("a group id");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if rustix::process::test_kill_process_group(pgid).is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn killing_the_group_ends_the_commands_the_shell_started() {
        let mut child = GroupChild::spawn(sh("sleep 30 & sleep 30 & wait")).unwrap();
        let pgid = child.pgid.expect("a group");
        child.kill().await;
        assert!(group_gone(pgid).await, "a command of the group went on");
    }

    #[tokio::test]
    async fn dropping_it_kills_the_group() {
        let child = GroupChild::spawn(sh("sleep 30; touch never")).unwrap();
        let pgid = child.pgid.expect("a group");
        drop(child);
        assert!(group_gone(pgid).await, "the command went on after the drop");
    }
}
