//! Text from a server made safe for a terminal. A Heroku error message, a transfer's log line, an
//! add-on's provision message or a dyno's name is data we did not write: an escape sequence in
//! it could clear the screen or retitle the window, and a line break could forge an `error:`
//! line of our own. Server text is cleaned where it enters our messages ([`one_line`]); what is
//! printed on the terminal is cleaned once more ([`block`]), which keeps our own line breaks.
//!
//! Not cleaned: what a command prints as data (`herokuops run` passes a one-off dyno's output
//! through as `heroku run` does), and JSON, whose strings escape every control character.

use std::borrow::Cow;

/// Server text as one line: escape sequences and control characters removed, line breaks and
/// tabs turned into spaces.
pub fn one_line(text: &str) -> Cow<'_, str> {
    clean(text, false)
}

/// Text for the terminal that may span lines: as [`one_line`], but `\n` and `\t` are kept (a
/// carriage return, which would let the rest overwrite the line, is not).
pub fn block(text: &str) -> Cow<'_, str> {
    clean(text, true)
}

/// Our own text on its way to the terminal, server text in it cleaned already where it entered:
/// as [`block`], but the colour sequences (SGR, `ESC [ ... m`) that the renderer painted stay.
/// A colour cannot move the cursor, clear the screen or make a line of its own.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return block(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        let (before, from) = rest.split_at(at);
        out.push_str(&block(before));
        let end = from[2..]
            .find(|c: char| ('\u{40}'..='\u{7e}').contains(&c))
            .map(|i| i + 3);
        match end {
            Some(end) if from[..end].ends_with('m') && is_sgr(&from[2..end - 1]) => {
                out.push_str(&from[..end]);
            }
            Some(_) | None => {}
        }
        rest = end.map_or("", |end| &from[end..]);
    }
    out.push_str(&block(rest));
    Cow::Owned(out)
}

/// Parameters of a colour sequence: digits and `;` only.
fn is_sgr(parameters: &str) -> bool {
    parameters.chars().all(|c| c.is_ascii_digit() || c == ';')
}

fn needs_cleaning(c: char, keep_lines: bool) -> bool {
    (c.is_control() && !(keep_lines && (c == '\n' || c == '\t'))) || is_bidi_control(c)
}

/// Characters that reorder what follows them on screen, so that text reads other than it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn clean(text: &str, keep_lines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| needs_cleaning(c, keep_lines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => skip_csi(&mut chars),
                // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \).
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // A two-character sequence (or a lone ESC at the end).
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\n' | '\t' if keep_lines => out.push(c),
            '\n' | '\t' => out.push(' '),
            '\r' if !keep_lines => {
                // A CR LF pair is one break.
                if chars.peek() != Some(&'\n') {
                    out.push(' ');
                }
            }
            c if needs_cleaning(c, keep_lines) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            return;
        }
    }
}

fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_13_escape_sequences_and_line_breaks_do_not_reach_the_terminal() {
        let hostile = "Couldn't find that app.\u{1b}[2J\u{1b}]0;owned\u{7}\r\nerror: forged";
        let line = one_line(hostile);
        assert_eq!(line, "Couldn't find that app. error: forged");
        assert!(!line.contains('\u{1b}') && !line.contains('\n'));
        assert_eq!(one_line("a\tb\u{0}c\u{7f}d\u{9b}31me"), "a bcde");
        assert_eq!(one_line("x\u{202E}gnp.exe"), "xgnp.exe");
        assert_eq!(one_line("\u{1b}Pq#0;2;0;0;0\u{1b}\\ok"), "ok");
        assert_eq!(one_line("trailing\u{1b}"), "trailing");
    }

    #[test]
    fn block_keeps_line_breaks_and_tabs_but_not_carriage_returns() {
        assert_eq!(block("one\n\ttwo\r\n\u{1b}[1mthree"), "one\n\ttwo\nthree");
        assert_eq!(block("safe\r"), "safe");
    }

    #[test]
    fn terminal_keeps_colours_but_nothing_else_that_moves_or_clears() {
        let painted = "\u{1b}[32m✓\u{1b}[0m pg.drop-schema\n\u{1b}[1mplan\u{1b}[0m";
        assert_eq!(terminal(painted), painted);
        assert_eq!(
            terminal("a\u{1b}[2Jb\u{1b}[1;31mred\u{1b}[0m\u{1b}]0;title\u{7}c\r"),
            "ab\u{1b}[1;31mred\u{1b}[0mc"
        );
        assert_eq!(terminal("cut\u{1b}[3"), "cut");
    }

    #[test]
    fn clean_text_is_not_copied() {
        assert!(matches!(one_line("plain text: ok"), Cow::Borrowed(_)));
        assert!(matches!(block("two\nlines"), Cow::Borrowed(_)));
    }
}
