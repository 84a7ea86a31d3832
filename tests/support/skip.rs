//! A check that cannot be made for want of something outside the project (Heroku's schema,
//! the official CLI's traces) is skipped, never silently: `SKIPPED: NAME: REASON` on stderr,
//! written past the test harness's capture so a plain `cargo test` shows it, and `NAME<TAB>REASON`
//! appended to the file `HEROKUOPS_SKIP_LOG` names, which `scripts/test` lists in its summary.

#![allow(dead_code)]

use std::io::Write;

pub fn skip(test: &str, reason: &str) {
    // `eprintln!` would be captured for a passing test; a write to the stream itself is not.
    let _ = std::io::stderr().write_all(format!("SKIPPED: {test}: {reason}\n").as_bytes());
    if let Some(log) = std::env::var_os("HEROKUOPS_SKIP_LOG").filter(|v| !v.is_empty()) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut file| file.write_all(format!("{test}\t{reason}\n").as_bytes()))
            .unwrap_or_else(|e| panic!("cannot append to HEROKUOPS_SKIP_LOG {log:?}: {e}"));
    }
}
