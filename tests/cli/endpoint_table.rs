//! The endpoint table the conformance tests check against
//! (`fixtures/heroku/platform-endpoints.json`) still agrees with Heroku's official Platform
//! API schema, and `scripts/derive-endpoint-table.py --check` reports a stale table.
//!
//! The schema is Heroku's and is not in this repository: `HEROKU_PLATFORM_SCHEMA=FILE` names it
//! (Heroku serves it at <https://api.heroku.com/schema>). Without it the comparison is skipped,
//! loudly: `SKIPPED: ...` on stderr (written past the test harness's capture, so plain
//! `cargo test` shows it too) and a line in the file `HEROKUOPS_SKIP_LOG` names, which
//! `scripts/test` lists in its summary. A variable that names no file fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::skip::skip;

const SCHEMA_ENV: &str = "HEROKU_PLATFORM_SCHEMA";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Heroku's schema from `HEROKU_PLATFORM_SCHEMA`; None (the test skipped) when it is not set.
fn official_schema(test: &str) -> Option<PathBuf> {
    let Some(value) = std::env::var_os(SCHEMA_ENV).filter(|v| !v.is_empty()) else {
        skip(
            test,
            "Heroku's Platform API schema not given, so fixtures/heroku/platform-endpoints.json \
             was not compared with it: set HEROKU_PLATFORM_SCHEMA=FILE (e.g. saved from \
             https://api.heroku.com/schema)",
        );
        return None;
    };
    let schema = PathBuf::from(value);
    assert!(
        schema.is_file(),
        "{SCHEMA_ENV}={} names no file: give the path of Heroku's Platform API schema, or unset it to skip this check",
        schema.display()
    );
    Some(schema)
}

/// `python3 scripts/derive-endpoint-table.py ARGS`, without `HEROKU_PLATFORM_SCHEMA` (the tests
/// pass --schema); fails the test if python3 is missing.
fn derive(args: &[&std::ffi::OsStr]) -> Output {
    match Command::new("python3")
        .arg(root().join("scripts/derive-endpoint-table.py"))
        .args(args)
        .env_remove(SCHEMA_ENV)
        .current_dir(root())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "python3 is not installed, so the endpoint table cannot be derived: install python3 \
             (e.g. `apt-get install python3`)"
        ),
        Err(e) => panic!("could not run python3: {e}"),
    }
}

#[test]
fn endpoint_table_agrees_with_the_official_schema() {
    let Some(schema) =
        official_schema("endpoint_table::endpoint_table_agrees_with_the_official_schema")
    else {
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

/// A small schema in Heroku's hyper-schema form with every resource the script derives: one
/// `Info` link each, and for add-on attachments a `Create` link with a body.
fn small_schema() -> Value {
    let resources = [
        ("account", "/account"),
        (
            "add-on",
            "/addons/{(%23%2Fdefinitions%2Fadd-on%2Fdefinitions%2Fidentity)}",
        ),
        (
            "add-on-attachment",
            "/addon-attachments/{(%23%2Fdefinitions%2Fadd-on-attachment%2Fdefinitions%2Fidentity)}",
        ),
        (
            "app",
            "/apps/{(%23%2Fdefinitions%2Fapp%2Fdefinitions%2Fidentity)}",
        ),
        (
            "config-var",
            "/apps/{(%23%2Fdefinitions%2Fapp%2Fdefinitions%2Fidentity)}/config-vars",
        ),
        (
            "dyno",
            "/apps/{(%23%2Fdefinitions%2Fapp%2Fdefinitions%2Fidentity)}/dynos",
        ),
        (
            "formation",
            "/apps/{(%23%2Fdefinitions%2Fapp%2Fdefinitions%2Fidentity)}/formation",
        ),
        (
            "log-session",
            "/apps/{(%23%2Fdefinitions%2Fapp%2Fdefinitions%2Fidentity)}/log-sessions",
        ),
        ("rate-limit", "/account/rate-limits"),
        (
            "release",
            "/apps/{(%23%2Fdefinitions%2Fapp%2Fdefinitions%2Fidentity)}/releases",
        ),
    ];
    let mut definitions = serde_json::Map::new();
    for (name, href) in resources {
        let mut links = vec![json!({ "href": href, "method": "GET", "title": "Info" })];
        if name == "add-on-attachment" {
            links.push(json!({
                "href": "/addon-attachments",
                "method": "POST",
                "title": "Create",
                "schema": {
                    "properties": {
                        "addon": { "anyOf": [
                            { "$ref": "#/definitions/add-on/definitions/id" },
                            { "$ref": "#/definitions/add-on/definitions/name" }
                        ] },
                        "confirm": { "type": ["string"] }
                    },
                    "required": ["addon"],
                    "type": ["object"]
                }
            }));
        }
        definitions.insert(
            name.to_string(),
            json!({
                "definitions": {
                    "id": { "type": ["string"] },
                    "name": { "type": ["string"] }
                },
                "links": links,
                "properties": {
                    "id": { "$ref": format!("#/definitions/{name}/definitions/id") },
                    "app": { "properties": { "name": { "type": ["string"] } }, "type": ["object"] }
                }
            }),
        );
    }
    json!({ "id": "small-schema", "title": "A small Platform API", "definitions": definitions })
}

/// Needs nothing from outside: a table derived from a small schema, then edited, is reported
/// link by link by `--check`.
#[test]
fn check_mode_reports_a_stale_table() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, small_schema().to_string()).unwrap();
    let table = dir.path().join("platform-endpoints.json");
    let (schema_arg, table_arg) = (schema.as_os_str(), table.as_os_str());

    let written = derive(&["--schema".as_ref(), schema_arg, "--out".as_ref(), table_arg]);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let fresh = derive(&[
        "--check".as_ref(),
        "--schema".as_ref(),
        schema_arg,
        "--out".as_ref(),
        table_arg,
    ]);
    assert!(
        fresh.status.success() && String::from_utf8_lossy(&fresh.stdout).contains("agrees with"),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    let derived = std::fs::read_to_string(&table).unwrap();
    assert!(
        derived.contains(
            r#""body": {"properties": {"addon": {"identity": ["id", "name"]}, "confirm": {"type": ["string"]}}, "required": ["addon"], "type": ["object"]}"#
        ),
        "the Create link's body, its add-on reference as an identity:\n{derived}"
    );

    let stale = derived.replacen(
        r#""path": "/addon-attachments", "resource": "add-on-attachment", "title": "Create""#,
        r#""path": "/addon-attachments/{x}", "resource": "add-on-attachment", "title": "Create""#,
        1,
    );
    assert_ne!(
        stale, derived,
        "the derived table has no line this test edits"
    );
    std::fs::write(&table, stale).unwrap();
    let output = derive(&[
        "--check".as_ref(),
        "--schema".as_ref(),
        schema_arg,
        "--out".as_ref(),
        table_arg,
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

/// Without --schema or HEROKU_PLATFORM_SCHEMA the script refuses (exit 2) and says how to give
/// it; it has no default location.
#[test]
fn the_script_needs_the_schema_named() {
    let output = derive(&["--check".as_ref()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--schema FILE") && stderr.contains(SCHEMA_ENV),
        "{stderr}"
    );
}
