//! Logging in: JWT/OIDC role login, or an existing token (looked up).

use super::client::from_vaultrs;
use super::{Failure, Vault, retry};
use crate::secret::Secret;

/// A Vault token and what Vault said about it.
#[derive(Debug, Clone)]
pub struct Login {
    /// The client token.
    pub token: Secret,
    /// Its accessor (not secret: it can only look up or revoke).
    pub accessor: String,
    /// Policies attached to the token.
    pub policies: Vec<String>,
    /// TTL in seconds (0: no expiry).
    pub ttl: u64,
    /// Whether the token can be renewed.
    pub renewable: bool,
}

/// `POST auth/<mount>/login {role, jwt}`, retried on transient failures.
pub async fn jwt(vault: &Vault, mount: &str, role: &str, jwt: &Secret) -> Result<Login, Failure> {
    let what = format!("login with role `{role}` on auth/{mount}");
    let auth = retry::run(vault.policy, || async {
        vaultrs::auth::oidc::login(vault.rs(), mount, jwt.expose(), Some(role.to_string()))
            .await
            .map_err(|e| from_vaultrs(&what, e))
    })
    .await?;
    let mut policies = auth.token_policies.clone();
    for p in auth.policies {
        if !policies.contains(&p) {
            policies.push(p);
        }
    }
    Ok(Login {
        token: Secret::new(auth.client_token),
        accessor: auth.accessor,
        policies,
        ttl: auth.lease_duration,
        renewable: auth.renewable,
    })
}

/// Uses the token already set on `vault`: `auth/token/lookup-self`.
pub async fn lookup(vault: &Vault) -> Result<Login, Failure> {
    let what = "look up the Vault token (auth/token/lookup-self)";
    let info = retry::run(vault.policy, || async {
        vaultrs::token::lookup_self(vault.rs())
            .await
            .map_err(|e| from_vaultrs(what, e))
    })
    .await?;
    Ok(Login {
        token: vault.token().cloned().unwrap_or_default(),
        accessor: info.accessor,
        policies: info.policies,
        ttl: info.ttl,
        renewable: info.renewable.unwrap_or(false),
    })
}
