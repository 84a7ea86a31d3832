//! A small reader for `.netrc`: `machine HOST login USER password SECRET`, tokens separated by
//! any white space, `default` entries and `macdef` blocks understood.

/// The password of the first entry for `host` (or of a `default` entry when none matches).
pub fn netrc_password(text: &str, host: &str) -> Option<String> {
    let mut tokens = Tokens::new(text);
    let mut current: Option<bool> = None; // Some(true) inside the wanted machine
    let mut default_password: Option<String> = None;
    let mut in_default = false;
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                let name = tokens.next()?;
                current = Some(name == host);
                in_default = false;
            }
            "default" => {
                current = Some(false);
                in_default = true;
            }
            "password" => {
                let value = tokens.next()?;
                if current == Some(true) {
                    return Some(value.to_string());
                }
                if in_default && default_password.is_none() {
                    default_password = Some(value.to_string());
                }
            }
            "login" | "account" => {
                tokens.next();
            }
            "macdef" => {
                tokens.next();
                tokens.skip_macro();
            }
            _ => {}
        }
    }
    default_password
}

struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens { rest: text }
    }

    /// A macro body runs to the next blank line.
    fn skip_macro(&mut self) {
        match self.rest.find("\n\n") {
            Some(at) => self.rest = &self.rest[at + 2..],
            None => self.rest = "",
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            self.rest = self.rest.trim_start();
            if self.rest.starts_with('#') {
                let end = self.rest.find('\n').unwrap_or(self.rest.len());
                self.rest = &self.rest[end..];
                continue;
            }
            break;
        }
        if self.rest.is_empty() {
            return None;
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::netrc_password;

    const HEROKU_STYLE: &str = "machine api.heroku.com\n  login me@example.com\n  password tok-1\nmachine git.heroku.com\n  login me@example.com\n  password tok-2\n";

    #[test]
    fn finds_the_machine() {
        assert_eq!(
            netrc_password(HEROKU_STYLE, "api.heroku.com").as_deref(),
            Some("tok-1")
        );
        assert_eq!(
            netrc_password(HEROKU_STYLE, "git.heroku.com").as_deref(),
            Some("tok-2")
        );
        assert_eq!(netrc_password(HEROKU_STYLE, "example.org"), None);
    }

    #[test]
    fn one_line_entries_comments_macros_and_default() {
        let text = "# comment\nmacdef init\ncd /\n\nmachine a login x password pa\ndefault login y password pd\n";
        assert_eq!(netrc_password(text, "a").as_deref(), Some("pa"));
        assert_eq!(netrc_password(text, "b").as_deref(), Some("pd"));
    }
}
