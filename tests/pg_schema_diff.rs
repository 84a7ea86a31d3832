//! `herokuops schema diff A B` on the sandbox: two apps, an app and a file, an app's
//! attachment and a URL; the same schema is exit 0, a difference exit 3 with the object named.

use serde_json::Value;

use crate::support::sandbox::{Client, herokuops, sandbox_with, show};

const FIRST: &str = "tmi-server-01";
const SECOND: &str = "tmi-server-02";

fn code_and_json(out: &std::process::Output) -> (i32, Value) {
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_diff_between_apps_and_files_with_and_without_differences() {
    let sb = sandbox_with(|o| o.copies = Some(2)).await;
    let client = Client::new(&sb);
    let (_, vars) = client.get(&format!("/apps/{SECOND}/config-vars")).await;
    let second_url = vars["DATABASE_URL"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("first.toml");
    let file = file.to_str().unwrap();
    let out = herokuops(&sb, &["schema", "snapshot", FIRST, "-o", file]).await;
    assert!(out.status.success(), "{}", show(&out));

    // The same migrations made both apps' databases: no difference, whichever the forms.
    for (a, b) in [
        (FIRST, SECOND),
        (FIRST, file),
        (file, SECOND),
        (
            "tmi-server-01:HEROKU_POSTGRESQL_COBALT",
            second_url.as_str(),
        ),
    ] {
        let out = herokuops(&sb, &["--json", "schema", "diff", a, b]).await;
        let (code, json) = code_and_json(&out);
        assert_eq!(
            (code, &json["ok"]),
            (0, &Value::Bool(true)),
            "{a} vs {b}: {}",
            show(&out)
        );
    }

    // A migration ran on the second app only.
    let db = herokuops::pg::Target::parse(&second_url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    db.batch(
        "drift",
        "ALTER TABLE threat_models ADD COLUMN archived_at timestamptz; DROP INDEX idx_users_email",
    )
    .await
    .unwrap();
    for (a, b) in [(FIRST, SECOND), (file, SECOND), (SECOND, file)] {
        let out = herokuops(&sb, &["--json", "schema", "diff", a, b]).await;
        let (code, json) = code_and_json(&out);
        assert_eq!(code, 3, "{a} vs {b}: {}", show(&out));
        let drifts: Vec<(String, String)> = json["drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().to_string(),
                    d["object"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // Seen from the second app, the column is only in A and the index only in B.
        let (column, index) = if a == SECOND {
            ("missing_column", "extra_index")
        } else {
            ("extra_column", "missing_index")
        };
        assert!(
            drifts.contains(&(column.into(), "threat_models.archived_at".into()))
                && drifts.contains(&(index.into(), "users.idx_users_email".into())),
            "{a} vs {b}: {drifts:?}"
        );
    }

    // The text report: one row per difference, both sides named.
    let out = herokuops(&sb, &["schema", "diff", FIRST, SECOND]).await;
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("threat_models.archived_at"), "{text}");
    assert!(
        text.contains(&format!("{FIRST} and {SECOND} differ in 2 place(s)")),
        "{text}"
    );

    // Two files: no server to render definitions with.
    let out = herokuops(&sb, &["schema", "diff", file, file]).await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    sb.shutdown().await.unwrap();
}
