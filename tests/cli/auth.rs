//! Credentials: environment, the stored login, ~/.netrc; `whoami` names the source.

use super::*;
use wiremock::matchers::{header, method, path};

async fn account_for(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(path("/account"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("account.json")))
        .mount(server)
        .await;
}

#[tokio::test]
async fn login_whoami_logout_with_the_token_store() {
    let server = heroku().await;
    account_for(&server, "stored-token-1").await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("store/token");
    let store_env = ("HEROKUOPS_KEYRING_FILE", store.to_str().unwrap());

    let login = crate::binary::herokuops(["login", "--token-stdin"])
        .home(home.path())
        .env("HEROKU_HOST", server.uri())
        .env("HEROKUOPS_KEYRING_FILE", &store)
        .stdin("stored-token-1\n")
        .output()
        .await;
    let (stdout, stderr) = text(&login);
    assert!(login.status.success(), "{stderr}");
    assert!(stdout.contains("logged in as ops@example.com"), "{stdout}");
    assert!(!stdout.contains("stored-token-1") && !stderr.contains("stored-token-1"));
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "stored-token-1");

    let out = herokuops(&server, home.path(), &["whoami"], &[store_env]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("ops@example.com")
            && stdout.contains(&format!("token from: token file {}", store.display())),
        "whoami names the store it really used: {stdout}"
    );

    // The environment wins over the stored token.
    account_for(&server, "env-token-2").await;
    let out = herokuops(
        &server,
        home.path(),
        &["--json", "whoami"],
        &[store_env, ("HEROKU_API_KEY", "env-token-2")],
    )
    .await;
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["token_source"], "HEROKU_API_KEY");

    let out = herokuops(&server, home.path(), &["logout"], &[store_env]).await;
    assert!(out.status.success());
    assert!(!store.exists());
    let out = herokuops(&server, home.path(), &["whoami"], &[store_env]).await;
    assert_eq!(out.status.code(), Some(4));
}

#[tokio::test]
async fn login_with_a_rejected_token_stores_nothing() {
    let server = heroku().await;
    Mock::given(method("GET"))
        .and(path("/account"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"id": "unauthorized", "message": "Invalid credentials provided."}),
        ))
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("token");
    let out = crate::binary::herokuops(["login", "--token-stdin"])
        .home(home.path())
        .env("HEROKU_HOST", server.uri())
        .env("HEROKUOPS_KEYRING_FILE", &store)
        .stdin("bad-token\n")
        .output()
        .await;
    assert_eq!(out.status.code(), Some(4));
    assert!(!store.exists());
}

#[tokio::test]
async fn netrc_is_read_and_named() {
    let server = heroku().await;
    account_for(&server, "netrc-token-3").await;
    let home = tempfile::tempdir().unwrap();
    let netrc = home.path().join("my-netrc");
    std::fs::write(
        &netrc,
        "machine api.heroku.com\n  login ops@example.com\n  password netrc-token-3\n",
    )
    .unwrap();
    let out = herokuops(
        &server,
        home.path(),
        &["whoami"],
        &[("NETRC", netrc.to_str().unwrap()), ("CI", "true")],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("token from: netrc"), "{stdout}");
    // ~/.netrc is the default location.
    std::fs::rename(&netrc, home.path().join(".netrc")).unwrap();
    let out = herokuops(&server, home.path(), &["whoami"], &[("CI", "true")]).await;
    assert!(out.status.success(), "{}", text(&out).1);
}
