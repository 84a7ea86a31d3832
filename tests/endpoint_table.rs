//! The endpoint table the conformance tests check against
//! (`fixtures/heroku/platform-endpoints.json`) still agrees with Heroku's official Platform
//! API schema. The schema is Heroku's and is not in this repository: it is read from
//! `../shared/heroku/` when that is present; without it there is nothing to compare with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Heroku's schema, if `../shared` is present.
fn official_schema() -> Option<PathBuf> {
    let schema = root().join("../shared/heroku/platform-api-schema.json");
    if schema.is_file() {
        Some(schema)
    } else {
        println!(
            "note: {} is absent; fixtures/heroku/platform-endpoints.json was not compared \
             with Heroku's schema (the conformance tests still use the committed table)",
            schema.display()
        );
        None
    }
}

/// `python3 scripts/derive-endpoint-table.py ARGS`; fails the test if python3 is missing.
fn derive(args: &[&std::ffi::OsStr]) -> Output {
    match Command::new("python3")
        .arg(root().join("scripts/derive-endpoint-table.py"))
        .args(args)
        .current_dir(root())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "python3 is not installed, so the endpoint table cannot be checked against \
             Heroku's schema: install python3 (e.g. `apt-get install python3`)"
        ),
        Err(e) => panic!("could not run python3: {e}"),
    }
}

#[test]
fn endpoint_table_agrees_with_the_official_schema() {
    let Some(schema) = official_schema() else {
        return;
    };
    let output = derive(&["--check".as_ref(), "--schema".as_ref(), schema.as_os_str()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "fixtures/heroku/platform-endpoints.json disagrees with {}:\n{stderr}{stdout}",
        schema.display()
    );
    assert!(stdout.contains("agrees with"), "{stdout}");
}

#[test]
fn check_mode_reports_a_stale_table() {
    let Some(schema) = official_schema() else {
        return;
    };
    let committed =
        std::fs::read_to_string(root().join("fixtures/heroku/platform-endpoints.json")).unwrap();
    let stale = committed.replacen(
        r#""path": "/addon-attachments", "resource": "add-on-attachment", "title": "Create""#,
        r#""path": "/addon-attachments/{x}", "resource": "add-on-attachment", "title": "Create""#,
        1,
    );
    assert_ne!(
        stale, committed,
        "the table no longer has the line this test edits"
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("platform-endpoints.json");
    std::fs::write(&copy, stale).unwrap();
    let output = derive(&[
        "--check".as_ref(),
        "--schema".as_ref(),
        schema.as_os_str(),
        "--out".as_ref(),
        copy.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "link added in the schema: add-on-attachment 'Create' POST /addon-attachments"
        ) && stderr.contains("link gone from the schema"),
        "the summary should name the changed link:\n{stderr}"
    );
}
