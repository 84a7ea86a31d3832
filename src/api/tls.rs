//! The HTTP clients of one command and the roots they trust.
//!
//! A command against a local `http://` server (the sandbox, a mock) needs no trust roots, and
//! reading them (a bundle of ~150 certificates, or a directory of as many files) costs more
//! than the request itself. So the https client is made the first time an https URL is sent
//! to, and its roots are read then, once per process, from one place.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::{ApiError, Timeouts, user_agent};

/// One command's clients: each keeps its connections open for the command's next request.
#[derive(Debug)]
pub(crate) struct Clients {
    timeouts: Timeouts,
    plain: OnceLock<reqwest::Client>,
    tls: OnceLock<reqwest::Client>,
}

impl Clients {
    pub(crate) fn new(timeouts: Timeouts) -> Arc<Self> {
        Arc::new(Clients {
            timeouts,
            plain: OnceLock::new(),
            tls: OnceLock::new(),
        })
    }

    /// The client for `url`: the https one for https, else one that trusts nothing (and so
    /// never reads a root).
    pub(crate) fn for_url(&self, url: &url::Url) -> Result<&reqwest::Client, ApiError> {
        let host = url.host_str().unwrap_or("-");
        if url.scheme() == "https" {
            get_or_build(&self.tls, || {
                let roots = roots().map_err(|reason| ApiError::TrustRoots {
                    host: host.to_string(),
                    reason: reason.clone(),
                })?;
                build(&self.timeouts, roots.to_vec(), host)
            })
        } else {
            get_or_build(&self.plain, || build(&self.timeouts, Vec::new(), host))
        }
    }
}

fn get_or_build(
    cell: &OnceLock<reqwest::Client>,
    make: impl FnOnce() -> Result<reqwest::Client, ApiError>,
) -> Result<&reqwest::Client, ApiError> {
    if let Some(client) = cell.get() {
        return Ok(client);
    }
    let client = make()?;
    // Two tasks may race to make it; either client will do, and both share the roots.
    Ok(cell.get_or_init(|| client))
}

fn build(
    timeouts: &Timeouts,
    roots: Vec<reqwest::Certificate>,
    host: &str,
) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.idle)
        .user_agent(user_agent())
        .tls_certs_only(roots)
        .build()
        .map_err(|source| ApiError::Transport {
            method: "-".into(),
            host: host.into(),
            path: "-".into(),
            source,
        })
}

/// Where the roots come from, in order: the `SSL_CERT_FILE` / `SSL_CERT_DIR` the user set
/// (those only, as OpenSSL reads them), else the platform's bundle file, else its
/// certificate directory or store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    Environment,
    Bundle(PathBuf),
    Platform,
}

impl RootSource {
    pub fn find() -> RootSource {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        if set("SSL_CERT_FILE") || set("SSL_CERT_DIR") {
            return RootSource::Environment;
        }
        match openssl_probe::probe().cert_file {
            Some(file) => RootSource::Bundle(file),
            None => RootSource::Platform,
        }
    }

    fn load(&self) -> Result<Vec<reqwest::Certificate>, String> {
        let ders = match self {
            RootSource::Bundle(file) => {
                let pem = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
                return reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| format!("{}: {e}", file.display()))
                    .and_then(|certs| non_empty(certs, &file.display().to_string()));
            }
            RootSource::Environment | RootSource::Platform => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty()
                    && let Some(error) = found.errors.first()
                {
                    return Err(format!("{self}: {error}"));
                }
                found.certs
            }
        };
        let certs = ders
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect();
        non_empty(certs, &self.to_string())
    }
}

impl std::fmt::Display for RootSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootSource::Environment => f.write_str("SSL_CERT_FILE / SSL_CERT_DIR"),
            RootSource::Bundle(file) => write!(f, "{}", file.display()),
            RootSource::Platform => f.write_str("the system's certificate store"),
        }
    }
}

fn non_empty(
    certs: Vec<reqwest::Certificate>,
    place: &str,
) -> Result<Vec<reqwest::Certificate>, String> {
    if certs.is_empty() {
        Err(format!("no certificate found in {place}"))
    } else {
        Ok(certs)
    }
}

/// The roots of this process, read at the first call.
fn roots() -> Result<&'static [reqwest::Certificate], &'static String> {
    static ROOTS: OnceLock<Result<Vec<reqwest::Certificate>, String>> = OnceLock::new();
    ROOTS.get_or_init(|| RootSource::find().load()).as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_never_reads_roots() {
        let clients = Clients::new(Timeouts::default());
        let url = url::Url::parse("http://127.0.0.1:1/").unwrap();
        clients.for_url(&url).expect("an http client");
        assert!(clients.tls.get().is_none(), "no https client made");
    }

    #[test]
    fn a_bundle_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("empty.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let err = RootSource::Bundle(file).load().unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
    }
}
