//! Vault (or OpenBao): login, reads in one concurrent wave, renewal and
//! revocation. vaultrs does the endpoints it covers; raw requests on the same
//! reqwest client do the rest (mount detection, dynamic secrets, leases).

mod client;
pub mod lease;
pub mod login;
pub mod read;

pub use crate::remote::{Failure, retry};
pub use client::Vault;

/// The service name in Vault failures.
pub const SERVICE: &str = "Vault";
