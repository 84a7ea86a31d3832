//! Ctrl-C and SIGTERM, seen as one flag: a run that is interrupted cleans up the same way
//! whichever came. SIGTERM is how CI cancels a job and how a container is stopped.
//!
//! Playbooks, fleets and `run` watch the flag to stop at a safe point; every other command is
//! simply abandoned when it turns.

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Listens for Ctrl-C and SIGTERM for as long as it lives.
pub struct Interrupt {
    receiver: watch::Receiver<bool>,
    listener: JoinHandle<()>,
}

impl Interrupt {
    /// Starts listening; must be called inside the runtime.
    pub fn listen() -> Interrupt {
        let (sender, receiver) = watch::channel(false);
        let listener = tokio::spawn(async move {
            if signal().await {
                let _ = sender.send(true);
            }
        });
        Interrupt { receiver, listener }
    }

    /// A receiver of the flag, for work that stops when it turns true.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.receiver.clone()
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Waits for the first Ctrl-C or SIGTERM; false when no handler could be installed.
async fn signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            return tokio::signal::ctrl_c().await.is_ok();
        };
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.is_ok(),
            _ = terminate.recv() => true,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// Resolves once the flag is true (at once if it already is); never if its sender is gone
/// without setting it.
pub async fn interrupted(receiver: &mut watch::Receiver<bool>) {
    if receiver.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A receiver that never sees an interrupt (its sender lives as long as the process).
pub fn never() -> watch::Receiver<bool> {
    static SENDER: std::sync::OnceLock<watch::Sender<bool>> = std::sync::OnceLock::new();
    SENDER.get_or_init(|| watch::channel(false).0).subscribe()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn interrupted_resolves_when_the_flag_turns_and_not_before() {
        let (sender, mut receiver) = watch::channel(false);
        let waiting = tokio::time::timeout(Duration::from_millis(50), interrupted(&mut receiver));
        assert!(waiting.await.is_err(), "resolved without an interrupt");
        sender.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), interrupted(&mut receiver))
            .await
            .expect("resolves once set");
        let mut quiet = never();
        let waiting = tokio::time::timeout(Duration::from_millis(50), interrupted(&mut quiet));
        assert!(waiting.await.is_err());
    }
}
