//! A Vault session for one run: identity token, login, reads, masking, and
//! the revocation that closes it on every path.

use crate::config::{Auth, Config};
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::vault::login::{self, Login};
use crate::vault::read::{self, Read};
use crate::vault::{Vault, lease};
use std::sync::Arc;

/// A logged-in Vault session.
pub struct Session {
    /// The client, shared with the renewer.
    pub vault: Arc<Vault>,
    /// What Vault said about the token.
    pub login: Login,
    /// Whether this run created the token (only then is it revoked).
    pub owned: bool,
}

/// Gets an identity token and logs in. Masks the JWT and the Vault token.
pub async fn login(cfg: &Config, platform: &Platform) -> Result<Session> {
    let mut vault = Vault::new(cfg)?;
    match &cfg.auth {
        Auth::Jwt { path, role, source } => {
            let jwt = platform.identity_token(source).await?;
            let login = login::jwt(&vault, path, role, &jwt)
                .await
                .map_err(|f| login_error(f, role, &jwt))?;
            platform.mask(&[login.token.expose()]);
            vault.set_token(login.token.clone());
            crate::log::info(&format!(
                "logged in to {} with role `{role}` (accessor {}, policies {}, ttl {} s)",
                vault.addr(),
                login.accessor,
                login.policies.join(","),
                login.ttl
            ));
            Ok(Session {
                vault: Arc::new(vault),
                login,
                owned: true,
            })
        }
        Auth::Token(token) => {
            platform.mask(&[token.expose()]);
            vault.set_token(token.clone());
            // A child token of our own can be revoked, with its leases,
            // without touching the caller's token.
            let (owned, vault) = match child_token(&vault).await? {
                Some(child) => {
                    platform.mask(&[child.expose()]);
                    vault.set_token(child);
                    (true, vault)
                }
                None => {
                    crate::log::warn(
                        "Vault refused to create a child token: using VAULT_TOKEN as is; it will not be revoked",
                    );
                    (false, vault)
                }
            };
            let login = login::lookup(&vault).await?;
            crate::log::info(&format!(
                "using a Vault token on {} (accessor {}, ttl {} s)",
                vault.addr(),
                login.accessor,
                login.ttl
            ));
            Ok(Session {
                vault: Arc::new(vault),
                login,
                owned,
            })
        }
    }
}

/// A child token of the caller's, or `None` when Vault refuses to make one
/// (a 4xx: the policy does not allow `auth/token/create`).
async fn child_token(vault: &Vault) -> Result<Option<Secret>> {
    let body = serde_json::json!({"ttl": "2h", "display_name": "packer-vault", "renewable": true});
    let what = "create a child token (auth/token/create)";
    match crate::remote::retry::run(vault.policy, || {
        vault.raw(reqwest::Method::POST, "auth/token/create", Some(&body), what)
    })
    .await
    {
        Ok(v) => Ok(v["auth"]["client_token"].as_str().map(Secret::new)),
        Err(f) if f.status.is_some_and(|s| (400..500).contains(&s)) => Ok(None),
        Err(f) => Err(f.into()),
    }
}

/// A login failure with what helps fix a role: Vault's error, the role and
/// the token's bound-claim candidates (never the token).
fn login_error(f: crate::vault::Failure, role: &str, jwt: &Secret) -> Error {
    let mut msg = f.to_string();
    if matches!(f.status, Some(400 | 403))
        && let Some(claims) = crate::jwt::claims(jwt.expose())
    {
        msg.push_str(&format!(
            "\n  role `{role}`; the token's claims: {}",
            crate::jwt::describe(&claims).join(", ")
        ));
        if let Some(claim) = f
            .errors
            .iter()
            .find_map(|e| e.split("claim \"").nth(1)?.split('"').next())
        {
            msg.push_str(&format!("\n  the role's bound_claims do not accept claim `{claim}`"));
        }
    }
    Error::Failed(msg)
}

impl Session {
    /// Reads every secret of the spec in one wave and masks all values.
    pub async fn read(&self, cfg: &Config, platform: &Platform) -> Result<(Vec<Read>, Redactor)> {
        let reads = read::read_all(&self.vault, &cfg.requests).await?;
        let values: Vec<&str> = reads
            .iter()
            .flat_map(|r| r.items.iter().map(|i| i.value.expose()))
            .collect();
        platform.mask(&values);
        let mut all: Vec<&str> = values.clone();
        all.push(self.login.token.expose());
        let redactor = Redactor::new(all.iter().filter(|v| !v.is_empty()));
        crate::log::set_redactor(redactor.clone());
        let n: usize = reads.iter().map(|r| r.items.len()).sum();
        crate::log::info(&format!("read {n} values from {} paths", reads.len()));
        for r in &reads {
            let version = r.version.map(|v| format!(" v{v}")).unwrap_or_default();
            let names: Vec<String> = r.items.iter().map(|i| format!("{}->{}", i.key, i.env)).collect();
            crate::log::info(&format!("  {}{version}: {}", r.path, names.join(" ")));
        }
        Ok((reads, redactor))
    }

    /// Revokes the token (and its leases) unless kept; never fails the run.
    pub async fn close(&self, cfg: &Config, keep: bool) {
        if !self.owned {
            return;
        }
        if !cfg.revoke || keep {
            crate::log::info(&format!(
                "keeping the Vault token (accessor {}): it expires in {} s",
                self.login.accessor, self.login.ttl
            ));
            return;
        }
        match lease::revoke_self(&self.vault).await {
            Ok(()) => crate::log::info("revoked the Vault token and its leases"),
            Err(f) => crate::log::warn(&format!("{f}: the token expires on its own in {} s", self.login.ttl)),
        }
    }
}
