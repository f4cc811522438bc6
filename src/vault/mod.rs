//! Vault (or OpenBao): login, reads in one concurrent wave, renewal and
//! revocation. vaultrs does the endpoints it covers; raw requests on the same
//! reqwest client do the rest (mount detection, dynamic secrets, leases).

mod client;
pub mod login;
pub mod read;
pub mod lease;
pub mod retry;

pub use client::Vault;

use std::fmt;

/// A failed Vault call: what was attempted, the HTTP status when there was
/// one, and Vault's `errors` list. Never holds a secret value.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What was attempted, e.g. `read secret/ci/packer`.
    pub what: String,
    /// HTTP status, `None` for transport errors.
    pub status: Option<u16>,
    /// Vault's `errors`, or the transport error text.
    pub errors: Vec<String>,
    /// Seconds from a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl Failure {
    /// True for failures worth another try: transport errors, 412, 429, 5xx.
    pub fn is_transient(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => matches!(s, 412 | 429 | 500 | 502 | 503 | 504),
        }
    }

    /// A transport failure (no HTTP answer).
    pub fn transport(what: &str, err: &dyn std::error::Error) -> Failure {
        Failure { what: what.to_string(), status: None, errors: vec![error_chain(err)], retry_after: None }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.what)?;
        match self.status {
            Some(s) => write!(f, "Vault answered {s}")?,
            None => f.write_str("no answer from Vault")?,
        }
        let errors: Vec<&str> = self.errors.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect();
        if !errors.is_empty() {
            write!(f, ": {}", errors.join("; "))?;
        }
        Ok(())
    }
}

/// Every message of an error and its sources, joined with `: `.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(e) = src {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        src = e.source();
    }
    out
}

impl From<Failure> for crate::error::Error {
    fn from(f: Failure) -> Self {
        crate::error::Error::Failed(f.to_string())
    }
}
