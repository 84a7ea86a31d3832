//! Which apps a command works on: `-a/--app` (repeatable) and `--apps-from FILE`.
//!
//! An apps file has one app per line; `#` starts a comment, blank lines are ignored. Every name
//! is validated and a name listed twice is refused, each with the file and line, before
//! anything runs.

use std::path::Path;

use crate::error::{Error, Result};

use super::{Global, validate_app_name};

/// Several apps were asked for (`--app` more than once, or `--apps-from`).
pub fn is_fleet(global: &Global) -> bool {
    global.apps.len() > 1 || global.apps_from.is_some()
}

/// Refuses `--app` given on both sides of the subcommand (`-a one backup capture -a two`):
/// clap keeps only the last side's, and an app silently left out of a fleet is never worked on.
pub fn check_app_flags<I, S>(args: I, global: &Global) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let given = args
        .into_iter()
        .skip(1)
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .take_while(|a| a != "--")
        .filter(|a| {
            a == "-a"
                || a == "--app"
                || a.starts_with("--app=")
                || (a.starts_with("-a") && !a.starts_with("--"))
        })
        .count();
    if given > global.apps.len() {
        return Err(Error::usage(format!(
            "--app was given {given} times but {} would be used: give every --app after the subcommand",
            global.apps.len()
        )));
    }
    Ok(())
}

/// The apps of a fleet, in order: every `--app`, then the file's.
pub fn fleet_apps(global: &Global) -> Result<Vec<String>> {
    let mut apps: Vec<String> = Vec::new();
    for app in &global.apps {
        validate_app_name(app)?;
        if apps.contains(app) {
            return Err(Error::usage(format!("app {app} is given twice")));
        }
        apps.push(app.clone());
    }
    if let Some(path) = &global.apps_from {
        for (app, line) in read_apps_file(path)? {
            if apps.contains(&app) {
                return Err(Error::InputFile {
                    path: path.clone(),
                    line,
                    column: 1,
                    message: format!("app {app} is also given with --app"),
                });
            }
            apps.push(app);
        }
    }
    if apps.is_empty() {
        return Err(Error::usage(
            "no apps given: pass --app APP (repeatable) or --apps-from FILE",
        ));
    }
    Ok(apps)
}

/// Reads an apps file: each app with the line it is on.
pub fn read_apps_file(path: &Path) -> Result<Vec<(String, usize)>> {
    let text = crate::files::read_text_capped(path, crate::files::INPUT_LIMIT)
        .map_err(|e| Error::usage(format!("cannot read the apps file: {e}")))?;
    let apps = parse_apps(&text, path)?;
    if apps.is_empty() {
        return Err(Error::usage(format!(
            "{} lists no apps (one per line; # starts a comment)",
            path.display()
        )));
    }
    Ok(apps)
}

/// Parses the text of an apps file named `path` (for error messages).
pub fn parse_apps(text: &str, path: &Path) -> Result<Vec<(String, usize)>> {
    let mut apps: Vec<(String, usize)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default();
        let Some(start) = content.find(|c: char| !c.is_whitespace()) else {
            continue;
        };
        let column = content[..start].chars().count() + 1;
        let fail = |message: String| Error::InputFile {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let mut words = content.split_whitespace();
        let app = words.next().unwrap_or_default();
        if let Some(extra) = words.next() {
            return Err(fail(format!(
                "one app per line: {extra:?} follows {app:?} (start a comment with #)"
            )));
        }
        if let Err(Error::Usage(message)) = validate_app_name(app) {
            return Err(fail(message));
        }
        if let Some((_, first)) = apps.iter().find(|(a, _)| a == app) {
            return Err(fail(format!(
                "app {app} is listed twice (first on line {first})"
            )));
        }
        apps.push((app.to_string(), line));
    }
    Ok(apps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<String>> {
        parse_apps(text, Path::new("apps.txt")).map(|v| v.into_iter().map(|(a, _)| a).collect())
    }

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        let apps =
            parse("# production\n\ntmi-server-01\n  tmi-server-02   # the busy one\n\t\n").unwrap();
        assert_eq!(apps, ["tmi-server-01", "tmi-server-02"]);
        assert!(parse("# nothing\n\n").unwrap().is_empty());
    }

    #[test]
    fn bad_lines_name_file_line_and_column() {
        let err = parse("good-app\n\n  Bad_App\n").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.starts_with("apps.txt:3:3: "), "{text}");
        assert!(text.contains("Bad_App"), "{text}");

        let err = parse("a-app b-app\n").unwrap_err().to_string();
        assert!(err.starts_with("apps.txt:1:1: one app per line"), "{err}");

        let err = parse("one-app\ntwo-app\none-app\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("apps.txt:3:1: "), "{err}");
        assert!(err.contains("first on line 1"), "{err}");
    }

    fn cli(args: &[&str]) -> std::result::Result<super::super::Cli, clap::Error> {
        use clap::Parser;
        super::super::Cli::try_parse_from(std::iter::once("herokuops").chain(args.iter().copied()))
            .map(|mut c| {
                c.global.settle();
                c
            })
    }

    #[test]
    fn app_flag_repeats_and_jobs_are_bounded() {
        let one = cli(&["backup", "capture", "-a", "one-app"]).unwrap();
        assert_eq!(one.global.app.as_deref(), Some("one-app"));
        assert!(!is_fleet(&one.global));
        assert_eq!(one.global.jobs, crate::fleet::DEFAULT_JOBS);
        let argv = [
            "herokuops",
            "-a",
            "one-app",
            "backup",
            "capture",
            "--app",
            "two-app",
        ];
        let split = cli(&argv[1..]).unwrap();
        assert_eq!(
            check_app_flags(argv, &split.global)
                .unwrap_err()
                .exit_code(),
            2
        );
        let argv = ["herokuops", "run", "-a", "one-app", "--", "ls", "-a"];
        assert!(check_app_flags(argv, &cli(&argv[1..]).unwrap().global).is_ok());
        let argv = [
            "herokuops",
            "backup",
            "capture",
            "-a",
            "one-app",
            "--app=two-app",
            "-j",
            "8",
        ];
        let two = cli(&argv[1..]).unwrap();
        assert!(check_app_flags(argv, &two.global).is_ok());
        assert_eq!(two.global.app, None);
        assert_eq!(two.global.apps, ["one-app", "two-app"]);
        assert_eq!(two.global.jobs, 8);
        assert!(is_fleet(&two.global));
        let file = cli(&["verify", "--apps-from", "apps.txt"]).unwrap();
        assert!(is_fleet(&file.global));
        assert!(cli(&["backup", "capture", "-j", "0"]).is_err());
        assert!(cli(&["backup", "capture", "-j", "many"]).is_err());
    }

    #[test]
    fn several_apps_make_a_fleet() {
        let mut global = Global {
            apps: vec!["one-app".into()],
            ..Global::default()
        };
        assert!(!is_fleet(&global));
        global.apps.push("two-app".into());
        assert!(is_fleet(&global));
        assert_eq!(fleet_apps(&global).unwrap(), ["one-app", "two-app"]);
        global.apps.push("one-app".into());
        assert_eq!(fleet_apps(&global).unwrap_err().exit_code(), 2);
    }
}
