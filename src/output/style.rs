//! How text looks where it is shown: colour (on a terminal that wants it) and width (the
//! terminal's, or `COLUMNS`). Colours carry meaning, not hues: a status, the app's name, a hint.

use console::Style;

/// What a piece of text is, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// Done, succeeded, clean, ok.
    Good,
    /// Needs a look: warn, drift, interrupted.
    Warn,
    /// Failed, destructive, error.
    Bad,
    /// An app, add-on or database name.
    Name,
    /// A hint or a command to run next.
    Hint,
    /// Secondary detail: times, ids, paths.
    Dim,
    /// A heading or the subject of a line.
    Strong,
}

/// Whether to colour: `--color`, then `NO_COLOR`, then `CLICOLOR_FORCE`, then the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Decides for one stream. `NO_COLOR` (any non-empty value) turns colour off and
    /// `CLICOLOR_FORCE` (non-zero) on, unless the flag said otherwise.
    pub fn decide(self, is_terminal: bool, env: impl Fn(&str) -> Option<String>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
                if set("NO_COLOR") {
                    false
                } else if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
                    true
                } else {
                    is_terminal && env("TERM").as_deref() != Some("dumb")
                }
            }
        }
    }
}

/// The look of one stream: colour on or off, and the width to fit (none for a pipe or a file,
/// unless `COLUMNS` says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub color: bool,
    pub width: Option<usize>,
    /// Show whole lists instead of counts (`--verbose`).
    pub verbose: bool,
}

impl Look {
    pub const PLAIN: Look = Look {
        color: false,
        width: None,
        verbose: false,
    };

    pub fn paint(&self, tone: Tone, text: &str) -> String {
        if !self.color || tone == Tone::Plain || text.is_empty() {
            return text.to_string();
        }
        let style = match tone {
            Tone::Plain => Style::new(),
            Tone::Good => Style::new().green(),
            Tone::Warn => Style::new().yellow(),
            Tone::Bad => Style::new().red().bold(),
            Tone::Name => Style::new().magenta(),
            Tone::Hint => Style::new().cyan(),
            Tone::Dim => Style::new().dim(),
            Tone::Strong => Style::new().bold(),
        };
        style.force_styling(true).apply_to(text).to_string()
    }
}

/// The width to fit: `COLUMNS` when set to a number, else the terminal's when there is one.
pub fn width(columns: Option<String>, terminal: Option<usize>) -> Option<usize> {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= 20)
        .or(terminal)
}

/// The number of columns `text` takes on screen (escape sequences take none).
pub fn visible_width(text: &str) -> usize {
    console::measure_text_width(text)
}

/// `text` cut to `width` columns, ending in `…` when cut.
pub fn cut(text: &str, width: usize) -> String {
    if visible_width(text) <= width {
        return text.to_string();
    }
    console::truncate_str(text, width, "…").into_owned()
}

/// `text` wrapped at spaces into lines of at most `width` columns, each keeping the text's
/// indentation; a word longer than a line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let body = text.trim_start_matches(' ');
    let indent = &text[..text.len() - body.len()];
    let room = width.saturating_sub(indent.len()).max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in body.split(' ') {
        let needed = visible_width(&line) + usize::from(!line.is_empty()) + visible_width(word);
        if !line.is_empty() && needed > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
        .into_iter()
        .map(|l| format!("{indent}{}", cut(&l, room)))
        .collect()
}

/// `text` wrapped at `width` with every line after the first indented by `indent` spaces
/// (a label's value that goes on under itself).
pub fn wrap_hanging(text: &str, width: usize, indent: usize) -> Vec<String> {
    let first = wrap(text, width);
    let Some((head, _)) = first.split_first() else {
        return first;
    };
    let rest = text.get(head.len()..).unwrap_or("").trim_start();
    let mut lines = vec![head.clone()];
    if !rest.is_empty() {
        let pad = " ".repeat(indent);
        let inner = width.saturating_sub(indent).max(10);
        lines.extend(wrap(rest, inner).into_iter().map(|l| format!("{pad}{l}")));
    }
    lines
}

/// A shell command to copy, within `width`: broken at spaces with `\` at the end of each line
/// but the last, the rest indented, so that pasted as it is it still runs.
pub fn wrap_command(command: &str, width: usize) -> Vec<String> {
    let indent = command.len() - command.trim_start().len();
    let cont = " ".repeat(indent + 4);
    let mut lines: Vec<String> = Vec::new();
    let mut line = " ".repeat(indent);
    for word in command.split_whitespace() {
        let fresh = line.trim().is_empty();
        if !fresh && visible_width(&line) + 1 + visible_width(word) + 2 > width {
            lines.push(format!("{line} \\"));
            line = cont.clone();
        } else if !fresh {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn colour_follows_the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
        assert!(ColorChoice::Auto.decide(true, env(&[])));
        assert!(!ColorChoice::Auto.decide(false, env(&[])));
        assert!(!ColorChoice::Auto.decide(true, env(&[("NO_COLOR", "1")])));
        assert!(ColorChoice::Auto.decide(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!ColorChoice::Auto.decide(false, env(&[("CLICOLOR_FORCE", "0")])));
        assert!(!ColorChoice::Auto.decide(true, env(&[("TERM", "dumb")])));
        assert!(ColorChoice::Always.decide(false, env(&[("NO_COLOR", "1")])));
        assert!(!ColorChoice::Never.decide(true, env(&[("CLICOLOR_FORCE", "1")])));
    }

    #[test]
    fn paint_only_when_colour_is_on() {
        let plain = Look::PLAIN;
        assert_eq!(plain.paint(Tone::Bad, "FAILED"), "FAILED");
        let color = Look {
            color: true,
            ..Look::PLAIN
        };
        let painted = color.paint(Tone::Bad, "FAILED");
        assert!(painted.contains("\u{1b}["), "{painted:?}");
        assert_eq!(visible_width(&painted), 6);
    }

    #[test]
    fn a_command_wraps_with_continuations_that_still_run() {
        let lines = wrap_command(
            "  herokuops addons destroy tmi-server postgresql-1 --confirm tmi-server",
            50,
        );
        assert!(lines.iter().all(|l| visible_width(l) <= 50), "{lines:?}");
        assert!(lines[0].ends_with(" \\"), "{lines:?}");
        let joined = lines.join("\n").replace(" \\\n", " ");
        let words: Vec<&str> = joined.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "herokuops addons destroy tmi-server postgresql-1 --confirm tmi-server"
        );
        assert_eq!(
            wrap_hanging("account: one two three", 12, 2),
            ["account: one", "  two three"]
        );
    }

    #[test]
    fn text_is_cut_and_wrapped_to_a_width() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(wrap("abcdefghijkl", 5), ["abcd…"]);
        assert_eq!(wrap("  one two three", 9), ["  one two", "  three"]);
        assert_eq!(width(Some("100".into()), Some(80)), Some(100));
        assert_eq!(width(None, Some(80)), Some(80));
        assert_eq!(width(Some("x".into()), None), None);
    }
}
