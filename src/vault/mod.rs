//! Vault (or OpenBao): login, reads in one concurrent wave, renewal and
//! revocation. Every call is a raw request on one reqwest client (timeouts,
//! same-origin redirects), retried by [`retry::call`]: transport errors, 412,
//! 429 and 5xx again (honouring `Retry-After`), other 4xx never.

mod client;
pub mod lease;
pub mod login;
pub mod mounts;
pub mod plan;
pub mod probe;
pub mod read;

pub use crate::remote::{Failure, retry};
pub use client::{Tls, Vault};

/// The service name in Vault failures.
pub const SERVICE: &str = "Vault";
