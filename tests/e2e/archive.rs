//! `backup download --dir DIR --keep N` against the sandbox: each new backup archived once
//! under its name and time, the archive kept to N of its own files, nothing else touched.

use super::harness::E2e;
use crate::support::sandbox::APP;

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn the_archive_keeps_the_newest_n_of_its_own_dumps_and_nothing_else_is_touched() {
    let e2e = E2e::start().await;
    e2e.until_dynos_up().await;
    let dir = e2e.home().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let strangers = ["notes.txt", "other-app-b001-20260101T000000Z.dump"];
    for name in strangers {
        std::fs::write(dir.join(name), "not the archive's").unwrap();
    }
    let dir_arg = dir.to_str().unwrap();
    for _ in 0..3 {
        let run = e2e.run(&["backup", "capture", APP]).await;
        assert_eq!(run.code, Some(0), "{}", run.show());
        let run = e2e
            .run(&["backup", "download", APP, "--dir", dir_arg, "--keep", "2"])
            .await;
        assert_eq!(run.code, Some(0), "{}", run.show());
    }
    let list = e2e.run(&["--json", "backup", "list", APP]).await;
    let created = |num: u64| {
        list.json()
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["num"] == num)
            .map(|t| t["created_at"].as_str().unwrap().replace(['-', ':'], ""))
            .unwrap()
    };
    let mut expected: Vec<String> = [2, 3]
        .map(|n| format!("{APP}-b00{n}-{}.dump", created(n)))
        .into_iter()
        .chain(strangers.map(String::from))
        .collect();
    expected.sort();
    assert_eq!(listing(&dir), expected);
    let dump = std::fs::read(dir.join(format!("{APP}-b003-{}.dump", created(3)))).unwrap();
    assert_eq!(&dump[..5], b"PGDMP", "a pg_dump archive");

    // The newest is there already: nothing is downloaded again.
    let urls = |requests: &[serde_json::Value]| {
        requests
            .iter()
            .filter(|r| r["path"].as_str().unwrap().ends_with("/actions/public-url"))
            .count()
    };
    let before = urls(&e2e.requests().await);
    let run = e2e
        .run(&["backup", "download", APP, "--dir", dir_arg, "--keep", "2"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(
        run.stdout.contains("b003 is in the archive already"),
        "{}",
        run.show()
    );
    assert_eq!(urls(&e2e.requests().await), before);
    assert_eq!(listing(&dir), expected);
    e2e.shutdown().await;
}
