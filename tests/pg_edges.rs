//! The edges of issue 11 met on a real database: each test is named after the item it covers.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::pg::{TestDb, fresh_db};

fn herokuops(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_herokuops"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn tmi() -> TestDb {
    let db = fresh_db().await;
    db.load_fixture("tmi").await;
    db
}

/// A null device of the test's own where one can be made (as root), so that a mistake could
/// not replace the machine's `/dev/null`; else the machine's, which only root could.
fn private_null(dir: &Path) -> PathBuf {
    let node = dir.join("null");
    let made = std::process::Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        node
    } else {
        PathBuf::from("/dev/null")
    }
}

#[tokio::test]
async fn item_06_schema_snapshot_to_a_device_writes_to_it_and_leaves_it_a_device() {
    let db = tmi().await;
    let dir = tempfile::tempdir().unwrap();
    let null = private_null(dir.path());
    let out = herokuops(&[
        "schema",
        "snapshot",
        "--database-url",
        &db.url,
        "-o",
        null.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let meta = std::fs::metadata(&null).unwrap();
    assert!(meta.file_type().is_char_device(), "the device was replaced");

    // A regular file is still replaced whole; `-o -` is stdout.
    let file = dir.path().join("expected.toml");
    let out = herokuops(&[
        "schema",
        "snapshot",
        "--database-url",
        &db.url,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("[tables.users]")
    );
    let out = herokuops(&["schema", "snapshot", "--database-url", &db.url, "-o", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[tables.users]"));
    assert!(!Path::new("-").exists());
}
