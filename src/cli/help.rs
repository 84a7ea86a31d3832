//! The command tree as the parser and `--help` see it: each command offers only the global
//! options that apply to it. Options left out are still accepted (a script that passes `--json`
//! everywhere keeps working) and refused where they make no sense, with a message of their own.

use clap::CommandFactory;

use super::Cli;

/// Commands that work on several apps (`--apps-from`, `-j`).
const FLEET: &[&str] = &[
    "backup capture",
    "verify",
    "db check",
    "db diagnose",
    "maintenance on",
    "maintenance off",
    "maintenance status",
    "playbook run",
    "ci init",
    "ci matrix",
];

/// Commands that destroy something, so take `--confirm APP`.
const DESTRUCTIVE: &[&str] = &[
    "reset",
    "swap-db",
    "resume",
    "playbook run",
    "backup restore",
    "addons destroy",
    "pg promote",
    "pg copy",
    "db drop-schema",
    "db push",
    "db kill",
];

/// Commands that name no app: the account's, a journal's or a file's.
const NO_APP: &[&str] = &[
    "whoami",
    "login",
    "logout",
    "completions",
    "resume",
    "runs",
    "runs list",
    "runs show",
    "playbook list",
    "playbook show",
    "schema diff",
];

/// The parser's command tree, help tailored to each command.
pub fn command_tree() -> clap::Command {
    build(&|_: &str| true)
}

/// The command tree for parsing `args`: only the commands `args` names are tailored. A parse
/// descends one path of the tree and `--help` shows one command, so tailoring the other hundred
/// would only cost start-up time (the copies are most of what building the tree allocates).
pub fn command_tree_for(args: &[std::ffi::OsString]) -> clap::Command {
    let words: std::collections::HashSet<&str> =
        args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    build(&|name: &str| words.contains(name))
}

fn build(named: &dyn Fn(&str) -> bool) -> clap::Command {
    let top = Cli::command();
    let globals: Vec<clap::Arg> = top
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    tailor(top, "", &globals, named)
}

/// Gives each subcommand, before the tree is built, a hidden copy of the global options that do
/// not apply to it: the build then propagates a global only where the command has no copy of
/// its own, and a hidden copy still parses into the same value.
fn tailor(
    cmd: clap::Command,
    path: &str,
    globals: &[clap::Arg],
    named: &dyn Fn(&str) -> bool,
) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|name| named(name))
        .collect();
    names.into_iter().fold(cmd, |cmd, name| {
        let path = format!("{path} {name}").trim_start().to_string();
        cmd.mut_subcommand(name, |sub| {
            let sub = hide_inapplicable(sub, &path, globals);
            tailor(sub, &path, globals, named)
        })
    })
}

fn hide_inapplicable(cmd: clap::Command, path: &str, globals: &[clap::Arg]) -> clap::Command {
    let leaf = cmd.get_subcommands().next().is_none();
    let hidden = [
        // No prompt asks a question that destroys nothing, so far.
        ("yes", true),
        ("apps_from", leaf && !FLEET.contains(&path)),
        ("jobs", leaf && !FLEET.contains(&path)),
        ("confirm", leaf && !DESTRUCTIVE.contains(&path)),
        ("apps", NO_APP.contains(&path)),
    ];
    let hide: Vec<&str> = hidden
        .into_iter()
        .filter(|(_, hide)| *hide)
        .map(|(id, _)| id)
        .collect();
    globals
        .iter()
        .filter(|a| hide.contains(&a.get_id().as_str()))
        .fold(cmd, |cmd, a| cmd.arg(a.clone().hide(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help_of(path: &[&str]) -> String {
        help_in(command_tree(), path)
    }

    fn help_in(mut cmd: clap::Command, path: &[&str]) -> String {
        cmd.build();
        for name in path {
            cmd = cmd.find_subcommand(name).unwrap().clone();
        }
        cmd.render_long_help().to_string()
    }

    fn tree_for(args: &[&str]) -> clap::Command {
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        command_tree_for(&args)
    }

    #[test]
    fn a_command_offers_only_the_global_options_that_apply() {
        let whoami = help_of(&["whoami"]);
        for absent in ["--apps-from", "--jobs", "--confirm", "--app", "--yes"] {
            assert!(
                !whoami.contains(absent),
                "whoami offers {absent}:\n{whoami}"
            );
        }
        assert!(whoami.contains("--json"), "{whoami}");
        let check = help_of(&["db", "check"]);
        assert!(
            check.contains("--apps-from") && check.contains("--jobs"),
            "{check}"
        );
        assert!(!check.contains("--confirm"), "{check}");
        let drop = help_of(&["db", "drop-schema"]);
        assert!(
            drop.contains("--confirm") && !drop.contains("--apps-from"),
            "{drop}"
        );
    }

    #[test]
    fn every_listed_command_exists() {
        let top = command_tree();
        for path in FLEET.iter().chain(DESTRUCTIVE).chain(NO_APP) {
            let mut cmd = &top;
            for name in path.split(' ') {
                cmd = cmd
                    .find_subcommand(name)
                    .unwrap_or_else(|| panic!("no command `{path}`"));
            }
        }
    }

    #[test]
    fn hidden_options_are_still_accepted() {
        let matches =
            command_tree().try_get_matches_from(["herokuops", "whoami", "--json", "--yes"]);
        assert!(matches.is_ok(), "{matches:?}");
    }

    #[test]
    fn the_tree_for_a_command_line_tailors_the_commands_it_names() {
        let db_check = ["herokuops", "db", "check", "tmi-server", "--help"];
        let check = help_in(tree_for(&db_check), &["db", "check"]);
        assert!(
            check.contains("--apps-from") && !check.contains("--confirm"),
            "{check}"
        );
        // A command the line does not name is left as the derive built it: no work spent on it.
        let whoami = help_in(tree_for(&db_check), &["whoami"]);
        assert!(whoami.contains("--confirm"), "{whoami}");
        let whoami = help_in(tree_for(&["herokuops", "whoami"]), &["whoami"]);
        assert!(!whoami.contains("--confirm"), "{whoami}");
        // The hidden copy in the tree built for the line still parses.
        let args = ["herokuops", "whoami", "--confirm", "x"];
        let parsed = tree_for(&args).try_get_matches_from(args);
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
