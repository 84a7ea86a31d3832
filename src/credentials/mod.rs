//! Where the Heroku API token comes from, first found wins:
//! `HEROKU_API_KEY`, then the OS keyring entry written by `herokuops login` (skipped in CI;
//! any keyring failure means "not there"), then `~/.netrc` (`$NETRC`), `machine api.heroku.com`
//! as the Heroku CLI writes it.

mod netrc;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::Token;

pub use netrc::netrc_password;

/// The keyring entry's service and user names.
pub const KEYRING_SERVICE: &str = "herokuops";
pub const KEYRING_USER: &str = "api-token";

/// Which source the token came from (shown by `whoami`, never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    /// The store `herokuops login` wrote to, as it describes itself (the OS keyring, or the
    /// token file of `HEROKUOPS_KEYRING_FILE`).
    Stored(String),
    Netrc(PathBuf),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Environment => f.write_str("HEROKU_API_KEY"),
            TokenSource::Stored(store) => f.write_str(store),
            TokenSource::Netrc(path) => write!(f, "netrc ({})", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub token: Token,
    pub source: TokenSource,
}

/// A token that cannot be one: Heroku tokens are printable ASCII without spaces, and anything
/// else (a newline pasted with it, a stray quote character's look-alike) would only fail later
/// as a confusing connection error, since HTTP refuses such header values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the API token from {origin} contains {problem} (character {position}); a Heroku token is printable ASCII without spaces"
)]
pub struct TokenError {
    /// Where the token came from, as `whoami` names it.
    pub origin: String,
    /// What is wrong, never the token itself: `a newline`, `a space`, ...
    pub problem: &'static str,
    /// 1-based position of the first bad character.
    pub position: usize,
}

/// Checks a token's characters once, where it is found; `source` names where that was.
pub fn check_token(token: &str, source: &str) -> Result<(), TokenError> {
    let bad = token.chars().enumerate().find_map(|(i, c)| {
        let problem = match c {
            '\n' | '\r' => "a line break",
            ' ' | '\t' => "a space",
            c if c.is_control() => "a control character",
            c if !c.is_ascii() => "a character that is not ASCII",
            _ => return None,
        };
        Some((i + 1, problem))
    });
    match bad {
        None => Ok(()),
        Some((position, problem)) => Err(TokenError {
            origin: source.to_string(),
            problem,
            position,
        }),
    }
}

/// A place to keep the token between runs. Errors are strings meant for a warning line.
pub trait SecretStore: Send + Sync {
    fn get(&self) -> Result<Option<String>, String>;
    fn set(&self, secret: &str) -> Result<(), String>;
    fn delete(&self) -> Result<bool, String>;
    fn describe(&self) -> String;
}

/// The OS keyring through keyring-core: any store it offers (kernel keyutils on Linux).
pub struct KeyringStore {
    store: Arc<keyring_core::CredentialStore>,
}

impl KeyringStore {
    /// The platform's store, or `None` when there is none to use.
    pub fn platform() -> Option<Self> {
        #[cfg(target_os = "linux")]
        {
            let store = linux_keyutils_keyring_store::Store::new().ok()?;
            Some(KeyringStore { store })
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    /// keyring-core's in-memory mock store: the real keyring API without touching the OS.
    pub fn mock() -> Option<Self> {
        let store = keyring_core::mock::Store::new().ok()?;
        Some(KeyringStore { store })
    }

    fn entry(&self) -> Result<keyring_core::Entry, String> {
        self.store
            .build(KEYRING_SERVICE, KEYRING_USER, None)
            .map_err(|e| e.to_string())
    }
}

impl SecretStore for KeyringStore {
    fn get(&self) -> Result<Option<String>, String> {
        match self.entry()?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, secret: &str) -> Result<(), String> {
        self.entry()?
            .set_password(secret)
            .map_err(|e| e.to_string())
    }

    fn delete(&self) -> Result<bool, String> {
        match self.entry()?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    fn describe(&self) -> String {
        format!("OS keyring ({})", self.store.vendor())
    }
}

/// A token kept in a file readable only by its owner, for machines without a usable keyring
/// (and for tests that log in and out across processes): `HEROKUOPS_KEYRING_FILE=PATH`.
pub struct FileStore {
    pub path: PathBuf,
}

impl SecretStore for FileStore {
    fn get(&self) -> Result<Option<String>, String> {
        match crate::files::read_text_capped(&self.path, TOKEN_FILE_LIMIT) {
            Ok(text) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, secret: &str) -> Result<(), String> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(parent) = self.path.parent() {
            crate::files::create_private_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        file.write_all(secret.as_bytes()).map_err(|e| e.to_string())
    }

    fn delete(&self) -> Result<bool, String> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    fn describe(&self) -> String {
        format!("token file {}", self.path.display())
    }
}

/// The environment as far as credentials are concerned, captured once so tests can set it.
#[derive(Debug, Clone, Default)]
pub struct CredentialEnv {
    pub api_key: Option<String>,
    pub ci: bool,
    pub netrc: Option<PathBuf>,
    pub home: Option<PathBuf>,
    /// The Platform API's host name, looked up in netrc before `api.heroku.com`.
    pub api_host: Option<String>,
}

impl CredentialEnv {
    pub fn from_process(api_host: Option<String>) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        CredentialEnv {
            api_key: var("HEROKU_API_KEY"),
            ci: var("CI").is_some_and(|v| v != "false" && v != "0")
                || var("GITHUB_ACTIONS").is_some(),
            netrc: var("NETRC").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            api_host,
        }
    }

    fn netrc_path(&self) -> Option<PathBuf> {
        self.netrc
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".netrc")))
    }
}

/// Finds the token and checks its characters. `store` is consulted only outside CI; its errors
/// are reported through `on_warning` and otherwise ignored. A token found but malformed is an
/// error naming its source: the next source is not tried, since the operator meant this one.
pub fn resolve(
    env: &CredentialEnv,
    store: Option<&dyn SecretStore>,
    on_warning: impl FnMut(String),
) -> Result<Option<Credential>, TokenError> {
    let found = find(env, store, on_warning);
    if let Some(credential) = &found {
        check_token(credential.token.expose(), &credential.source.to_string())?;
    }
    Ok(found)
}

fn find(
    env: &CredentialEnv,
    store: Option<&dyn SecretStore>,
    mut on_warning: impl FnMut(String),
) -> Option<Credential> {
    if let Some(key) = env
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        return Some(Credential {
            token: Token::new(key),
            source: TokenSource::Environment,
        });
    }
    if let Some(store) = store.filter(|_| !env.ci) {
        match store.get() {
            Ok(Some(secret)) => {
                return Some(Credential {
                    token: Token::new(secret),
                    source: TokenSource::Stored(store.describe()),
                });
            }
            Ok(None) => {}
            Err(e) => on_warning(format!("keyring unavailable ({e}); trying ~/.netrc")),
        }
    }
    let path = env.netrc_path()?;
    let text = read_netrc(&path)?;
    let hosts = env
        .api_host
        .iter()
        .map(String::as_str)
        .chain(std::iter::once("api.heroku.com"));
    for host in hosts {
        if let Some(password) = netrc_password(&text, host) {
            return Some(Credential {
                token: Token::new(password),
                source: TokenSource::Netrc(path),
            });
        }
    }
    None
}

/// A netrc or token file is a few lines; anything past this is not one.
const TOKEN_FILE_LIMIT: u64 = 1024 * 1024;

fn read_netrc(path: &Path) -> Option<String> {
    crate::files::read_text_capped(path, TOKEN_FILE_LIMIT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> CredentialEnv {
        CredentialEnv::default()
    }

    #[test]
    fn environment_wins() {
        let store = KeyringStore::mock().unwrap();
        store.set("from-keyring").unwrap();
        let e = CredentialEnv {
            api_key: Some("from-env".into()),
            ..env()
        };
        let c = resolve(&e, Some(&store), |_| {}).unwrap().unwrap();
        assert_eq!(c.token.expose(), "from-env");
        assert_eq!(c.source, TokenSource::Environment);
    }

    #[test]
    fn item_17_a_token_with_a_newline_is_refused_naming_its_source() {
        let e = CredentialEnv {
            api_key: Some("abc\ndef".into()),
            ..env()
        };
        let err = resolve(&e, None, |_| {}).unwrap_err();
        assert_eq!(err.origin, "HEROKU_API_KEY");
        assert_eq!((err.problem, err.position), ("a line break", 4));
        assert!(!err.to_string().contains("abc"), "{err}");
        assert!(check_token("HRKU-0123abcDEF_-.", "x").is_ok());
        assert!(check_token("tok\u{1b}[2J", "x").is_err());
        assert!(check_token("tök", "x").is_err());
    }

    #[test]
    fn keyring_then_netrc() {
        let dir = tempfile::tempdir().unwrap();
        let netrc = dir.path().join("netrc");
        std::fs::write(
            &netrc,
            "machine api.heroku.com\n  login a@b.c\n  password from-netrc\n",
        )
        .unwrap();
        let e = CredentialEnv {
            netrc: Some(netrc.clone()),
            ..env()
        };
        let store = KeyringStore::mock().unwrap();
        assert_eq!(
            resolve(&e, Some(&store), |_| {}).unwrap().unwrap().source,
            TokenSource::Netrc(netrc.clone())
        );
        store.set("from-keyring").unwrap();
        let c = resolve(&e, Some(&store), |_| {}).unwrap().unwrap();
        assert_eq!(
            (c.token.expose(), c.source),
            ("from-keyring", TokenSource::Stored(store.describe()))
        );
        assert!(store.delete().unwrap());
        assert!(!store.delete().unwrap());
    }

    #[test]
    fn keyring_is_skipped_in_ci_and_errors_are_not_fatal() {
        struct Broken;
        impl SecretStore for Broken {
            fn get(&self) -> Result<Option<String>, String> {
                Err("no session keyring".into())
            }
            fn set(&self, _: &str) -> Result<(), String> {
                Err("x".into())
            }
            fn delete(&self) -> Result<bool, String> {
                Err("x".into())
            }
            fn describe(&self) -> String {
                "broken".into()
            }
        }
        let mut warnings = Vec::new();
        assert!(
            resolve(&env(), Some(&Broken), |w| warnings.push(w))
                .unwrap()
                .is_none()
        );
        assert_eq!(warnings.len(), 1);
        let ci = CredentialEnv { ci: true, ..env() };
        let mut warnings = Vec::new();
        assert!(
            resolve(&ci, Some(&Broken), |w| warnings.push(w))
                .unwrap()
                .is_none()
        );
        assert!(warnings.is_empty(), "CI must not touch the keyring");
    }

    #[test]
    fn file_store_round_trip_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore {
            path: dir.path().join("sub/token"),
        };
        assert_eq!(store.get().unwrap(), None);
        store.set("t0k").unwrap();
        assert_eq!(store.get().unwrap().as_deref(), Some("t0k"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&store.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(store.delete().unwrap());
    }
}
