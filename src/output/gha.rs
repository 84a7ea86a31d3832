//! GitHub Actions workflow commands and environment files, used when `GITHUB_ACTIONS=true`.
//!
//! Escaping follows the runner's rules: message data escapes `%`, `\r` and `\n`; property
//! values also `:` and `,`. Multi-line outputs use a random delimiter that cannot occur in the
//! value.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// GitHub caps the step summary at 1 MiB; we stay under it with room for the truncation note.
pub const SUMMARY_LIMIT: usize = 1024 * 1024 - 4096;

pub fn is_active() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::name key=value,...::message`
pub fn command(name: &str, properties: &[(&str, &str)], message: &str) -> String {
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    if props.is_empty() {
        format!("::{name}::{}", escape_data(message))
    } else {
        format!("::{name} {}::{}", props.join(","), escape_data(message))
    }
}

/// Masks a secret in all later log output; must be printed before the value could appear.
pub fn add_mask(secret: &str) -> String {
    command("add-mask", &[], secret)
}

pub fn group(title: &str) -> String {
    command("group", &[], title)
}

pub fn endgroup() -> String {
    "::endgroup::".to_string()
}

pub fn error(title: Option<&str>, message: &str) -> String {
    match title {
        Some(t) => command("error", &[("title", t)], message),
        None => command("error", &[], message),
    }
}

/// One `name=value` entry for `$GITHUB_OUTPUT` (or `$GITHUB_ENV`); multi-line values use the
/// heredoc form with a random delimiter.
pub fn output_entry(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut delimiter = format!("ghadelimiter_{}", uuid::Uuid::new_v4().simple());
    while value.contains(&delimiter) {
        delimiter = format!("ghadelimiter_{}", uuid::Uuid::new_v4().simple());
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Appends outputs to the file named by `$GITHUB_OUTPUT`.
pub fn append_outputs(path: &Path, outputs: &[(&str, String)]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for (name, value) in outputs {
        file.write_all(output_entry(name, value).as_bytes())?;
    }
    Ok(())
}

/// Appends Markdown to `$GITHUB_STEP_SUMMARY`, cut to stay within GitHub's limit.
pub fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    let existing = std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let room = SUMMARY_LIMIT.saturating_sub(existing);
    let text = if markdown.len() <= room {
        markdown.to_string()
    } else {
        let mut cut = room.saturating_sub(200);
        while cut > 0 && !markdown.is_char_boundary(cut) {
            cut -= 1;
        }
        format!(
            "{}\n\n_(summary cut to stay within GitHub's 1 MiB limit)_\n",
            &markdown[..cut]
        )
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// The workflow's environment files and the secrets already masked in this process.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    /// `$GITHUB_OUTPUT`
    pub output: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`
    pub summary: Option<PathBuf>,
    masked: Arc<Mutex<HashSet<String>>>,
}

impl Actions {
    /// `Some` only when `GITHUB_ACTIONS=true`; the file variables may still be missing (a
    /// composite action, a local runner), and then nothing is written there.
    pub fn from_env() -> Option<Self> {
        if !is_active() {
            return None;
        }
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Some(Actions::new(
            path("GITHUB_OUTPUT"),
            path("GITHUB_STEP_SUMMARY"),
        ))
    }

    pub fn new(output: Option<PathBuf>, summary: Option<PathBuf>) -> Self {
        Actions {
            output,
            summary,
            masked: Arc::default(),
        }
    }

    /// The `::add-mask::` lines still needed for `secret` and the parts of it that could be
    /// printed on their own; each value is masked once per process.
    pub fn masks_for(&self, secret: &str) -> Vec<String> {
        let mut masked = self.masked.lock().unwrap_or_else(|e| e.into_inner());
        secret_parts(secret)
            .into_iter()
            .filter(|part| masked.insert(part.clone()))
            .map(|part| add_mask(&part))
            .collect()
    }
}

/// A secret and what could leak of it separately: for a URL with a password, the password as
/// written and percent-decoded (a log line may show either). Values too short to be a secret
/// are left out, because masking them would blank unrelated text all over the log.
pub fn secret_parts(secret: &str) -> Vec<String> {
    let mut parts = vec![secret.trim().to_string()];
    if let Ok(url) = url::Url::parse(secret.trim()) {
        if let Some(password) = url.password() {
            parts.push(password.to_string());
            if let Some(decoded) = decode_percent(password) {
                parts.push(decoded);
            }
        }
        // A signed URL (`X-Amz-Signature=...`) carries its secret in the query: the query,
        // and each value of a parameter that signs or authorizes, as written and decoded.
        if matches!(url.scheme(), "http" | "https")
            && let Some(query) = url.query()
        {
            parts.push(query.to_string());
            for piece in query.split('&') {
                let Some((name, value)) = piece.split_once('=') else {
                    continue;
                };
                let name = name.to_ascii_lowercase();
                let signing = ["signature", "sig", "credential", "token", "key", "secret"]
                    .iter()
                    .any(|n| name.contains(n));
                if signing {
                    parts.push(value.to_string());
                    if let Some(decoded) = decode_percent(value) {
                        parts.push(decoded);
                    }
                }
            }
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for part in parts {
        if part.chars().count() >= 4 && !unique.contains(&part) {
            unique.push(part);
        }
    }
    unique
}

/// A Markdown table cell: pipes escaped, line breaks as `<br>`, so one value is one cell.
pub fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

/// A GitHub-flavoured Markdown table; rows past `max_rows` are left out with a note saying how
/// many, so a huge drift list cannot crowd out the rest of the summary.
pub fn md_table<const N: usize>(
    header: [&str; N],
    rows: &[[String; N]],
    max_rows: usize,
) -> String {
    let mut text = format!("| {} |\n", header.map(md_cell).join(" | "));
    text.push_str(&format!("|{}\n", " --- |".repeat(N)));
    for row in rows.iter().take(max_rows) {
        let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
        text.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if rows.len() > max_rows {
        text.push_str(&format!(
            "\n_{} more row(s) not shown; the full list is in the job log._\n",
            rows.len() - max_rows
        ));
    }
    text
}

/// Percent-decoded as UTF-8, when it is.
fn decode_percent(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|d| d.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_of_data_and_properties() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(
            command(
                "error",
                &[("title", "pg.promote: failed")],
                "line 1\nline 2"
            ),
            "::error title=pg.promote%3A failed::line 1%0Aline 2"
        );
        assert_eq!(add_mask("s3cr%t"), "::add-mask::s3cr%25t");
        assert_eq!(group("reset"), "::group::reset");
    }

    #[test]
    fn multi_line_outputs_use_a_fresh_delimiter() {
        assert_eq!(output_entry("backup_id", "b004"), "backup_id=b004\n");
        let entry = output_entry("drift", "a\nb");
        let mut lines = entry.lines();
        let header = lines.next().unwrap();
        let delimiter = header.strip_prefix("drift<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_") && delimiter.len() > 20);
        assert_eq!(lines.collect::<Vec<_>>(), vec!["a", "b", delimiter]);
        assert_ne!(output_entry("x", "1\n2"), output_entry("x", "1\n2"));
    }

    #[test]
    fn summary_is_cut_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        append_summary(&path, "# first\n").unwrap();
        append_summary(&path, &"x".repeat(2 * 1024 * 1024)).unwrap();
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(len <= SUMMARY_LIMIT, "{len}");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("summary cut")
        );
    }

    #[test]
    fn urls_are_masked_whole_and_by_password_once() {
        let actions = Actions::new(None, None);
        let url = "postgres://u:p%40ss-w0rd@db.example.com:5432/d";
        assert_eq!(
            actions.masks_for(url),
            vec![
                format!("::add-mask::{}", url.replace('%', "%25")),
                "::add-mask::p%2540ss-w0rd".to_string(),
                "::add-mask::p@ss-w0rd".to_string(),
            ]
        );
        assert!(actions.masks_for(url).is_empty(), "masked once per process");
        assert_eq!(actions.masks_for("token-1234").len(), 1);
        assert!(secret_parts("ab").is_empty());
    }

    #[test]
    fn item_20_a_signed_url_is_masked_with_its_signature() {
        let url = "https://bucket.s3.amazonaws.com/b001.dump?X-Amz-Credential=AKIA%2F20261122&X-Amz-Signature=0123abcd&X-Amz-Expires=600";
        let parts = secret_parts(url);
        assert!(parts.contains(&url.to_string()));
        assert!(parts.contains(&"0123abcd".to_string()));
        assert!(parts.contains(&"AKIA/20261122".to_string()));
        assert!(!parts.contains(&"600".to_string()), "{parts:?}");
        // A database URL's parameters are no secret.
        assert_eq!(
            secret_parts("postgres://u@h/d?sslmode=require"),
            ["postgres://u@h/d?sslmode=require"]
        );
    }

    #[test]
    fn markdown_tables_escape_cells_and_cut_rows() {
        let rows = vec![
            ["a|b".to_string(), "line 1\nline 2".to_string()],
            ["c".to_string(), "d".to_string()],
            ["e".to_string(), "f".to_string()],
        ];
        let table = md_table(["x", "y"], &rows, 2);
        assert_eq!(
            table,
            "| x | y |\n| --- | --- |\n| a\\|b | line 1<br>line 2 |\n| c | d |\n\n_1 more row(s) not shown; the full list is in the job log._\n"
        );
    }
}
