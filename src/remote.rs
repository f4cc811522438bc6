//! What every remote call shares (Vault, GitHub, GitLab, HCP): a typed
//! failure that keeps the status and the server's message, and retries.

pub mod decode;
pub mod retry;

use std::fmt;

/// The start of every HTTP client of the binary (Vault, GitHub, GitLab,
/// HCP, Packer's releases). TLS is rustls with the ring provider, installed
/// here once as the process default: aws-lc-rs, reqwest's own default,
/// seeds its RNG from CPU jitter on first use, about 30 ms of CPU at the
/// first handshake of every run.
///
/// Trust: a client that talks only plain http (`https` false) loads no
/// roots at all, so it works in a minimal image without a trust store. An
/// https client trusts the system's roots (read once per process, only
/// when first needed) plus `extra_roots` (`ca-cert`); when there are
/// neither, the error says so.
pub fn client_builder(https: bool, extra_roots: Vec<reqwest::Certificate>) -> Result<reqwest::ClientBuilder, String> {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Err: a provider is already installed (by whoever embeds us): keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let mut roots = if https { system_roots().to_vec() } else { Vec::new() };
    if https && roots.is_empty() && extra_roots.is_empty() {
        return Err(NO_ROOTS.to_string());
    }
    roots.extend(extra_roots);
    Ok(reqwest::Client::builder().tls_certs_only(roots))
}

/// What [`client_builder`] says when an https client has nothing to trust.
pub const NO_ROOTS: &str = "no trusted root certificates were found on this machine (SSL_CERT_FILE, SSL_CERT_DIR \
     and /etc/ssl/certs hold none): install the ca-certificates package, or set `ca-cert` (VAULT_CACERT) to the CA \
     that signed the server's certificate";

/// The system's trusted roots (`SSL_CERT_FILE`, `SSL_CERT_DIR`, or the
/// distribution's bundle), read on first use; empty when there are none.
fn system_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: std::sync::OnceLock<Vec<reqwest::Certificate>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect()
    })
}

/// Seconds from a `Retry-After` header (the delta-seconds form; an HTTP
/// date is not honoured, the backoff applies instead).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// True when `url` is an https URL (case-insensitive scheme).
pub fn is_https(url: &str) -> bool {
    url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// A failed remote call: what was attempted, the HTTP status when there was
/// one, and the server's messages. Never holds a secret value.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Who answered (`Vault`, `GitHub`, `HCP`, ...).
    pub service: &'static str,
    /// What was attempted, e.g. `read secret/ci/packer`.
    pub what: String,
    /// HTTP status, `None` for transport errors.
    pub status: Option<u16>,
    /// The server's messages (Vault's `errors`), or the transport error text.
    pub errors: Vec<String>,
    /// Seconds from a `Retry-After` header.
    pub retry_after: Option<u64>,
}

/// Transport errors that another attempt cannot fix.
const PERMANENT: &[&str] = &[
    "certificate",
    "redirect to another scheme refused",
    "redirect to another origin refused",
    "more than 3 redirects",
    "UnknownIssuer",
    "NotValidForName",
];

impl Failure {
    /// True for failures worth another try: transport errors (no answer,
    /// a timeout, a connection dropped mid-body), 412 (Enterprise
    /// consistency), 429 (rate limit) and 5xx except 501 (not implemented,
    /// or an uninitialized Vault). Other 4xx are final.
    pub fn is_transient(&self) -> bool {
        match self.status {
            // No answer: worth another try, unless the cause cannot change
            // by itself (a certificate that does not verify, a refused redirect).
            None => !self.errors.iter().any(|e| PERMANENT.iter().any(|p| e.contains(p))),
            Some(s) => matches!(s, 412 | 429) || ((500..600).contains(&s) && s != 501),
        }
    }

    /// A transport failure (no HTTP answer).
    pub fn transport(service: &'static str, what: &str, err: &dyn std::error::Error) -> Failure {
        Failure {
            service,
            what: what.to_string(),
            status: None,
            errors: vec![error_chain(err)],
            retry_after: None,
        }
    }

    /// An HTTP error answer.
    pub fn status(service: &'static str, what: &str, status: u16, errors: Vec<String>) -> Failure {
        Failure {
            service,
            what: what.to_string(),
            status: Some(status),
            errors,
            retry_after: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.what)?;
        match self.status {
            Some(s) => write!(f, "{} answered {s}", self.service)?,
            None => write!(f, "no answer from {}", self.service)?,
        }
        let errors: Vec<&str> = self.errors.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect();
        if !errors.is_empty() {
            // A server's message is quoted, shortened: never a whole page.
            write!(f, ": {}", crate::error::bounded(&errors.join("; ")))?;
        }
        Ok(())
    }
}

/// An error's message for a log line: the request it was about (a message
/// naming the URL, when one does) and its root cause, without the layers of
/// wrapping in between.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut messages = vec![err.to_string()];
    let mut src = err.source();
    while let Some(e) = src {
        messages.push(e.to_string());
        src = e.source();
    }
    let root = messages.last().cloned().unwrap_or_default();
    let head = messages
        .iter()
        .find(|m| m.contains("url ("))
        .unwrap_or(&messages[0])
        .clone();
    if head == root || head.contains(&root) {
        head
    } else {
        format!("{head}: {root}")
    }
}

impl From<Failure> for crate::error::Error {
    fn from(f: Failure) -> Self {
        crate::error::Error::Failed(f.to_string())
    }
}

#[cfg(test)]
mod transient_tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&h), Some(7));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    fn transport(msg: &str) -> Failure {
        Failure {
            service: "Vault",
            what: "x".into(),
            status: None,
            errors: vec![msg.into()],
            retry_after: None,
        }
    }

    #[test]
    fn permanent_transport_errors_are_not_retried() {
        assert!(transport("Connection refused (os error 111)").is_transient());
        assert!(!transport("invalid peer certificate: UnknownIssuer").is_transient());
        assert!(!transport("error following redirect: redirect to another scheme refused").is_transient());
        assert!(Failure::status("Vault", "x", 503, vec![]).is_transient());
        assert!(Failure::status("Vault", "x", 429, vec![]).is_transient());
        assert!(!Failure::status("Vault", "x", 403, vec![]).is_transient());
        assert!(!Failure::status("Vault", "x", 501, vec![]).is_transient());
    }
}
