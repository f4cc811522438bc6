//! A Vault session for one run: identity token, login, reads, masking, and
//! the revocation that closes it on every path.

use crate::ci::Runner;
use crate::config::{Auth, Config};
use crate::error::{Error, Result};
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::vault::login::{self, Login};
use crate::vault::mounts::Mounts;
use crate::vault::plan;
use crate::vault::read::{self, Read};
use crate::vault::{Vault, lease};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A logged-in Vault session.
pub struct Session {
    /// The client, shared with the renewer.
    pub vault: Arc<Vault>,
    /// What Vault said about the token.
    pub login: Login,
    /// Whether this run created the token (only then is it revoked).
    pub owned: bool,
    /// Credentials that are not the session's token but must never be
    /// printed either: the identity token, or the caller's `VAULT_TOKEN`.
    pub hidden: Vec<Secret>,
}

/// The child token Packer gets with `packer-vault-token` (see
/// [`Session::packer_token`]).
pub struct PackerToken {
    /// `VAULT_ADDR`, `VAULT_TOKEN` and (when set) `VAULT_NAMESPACE`.
    pub vars: Vec<(String, Secret)>,
    /// A connection holding the child token, where it lives.
    vault: Vault,
    /// Its TTL in seconds.
    ttl: u64,
}

impl PackerToken {
    /// The token itself.
    pub fn token(&self) -> Option<&Secret> {
        self.vault.token()
    }

    /// What the renewer needs to keep it alive beside the run's token.
    pub fn renewal(&self) -> crate::vault::lease::OwnToken {
        crate::vault::lease::OwnToken {
            shown: "Packer's child token".into(),
            vault: Arc::new(self.vault.clone()),
            ttl: self.ttl,
        }
    }

    /// Revokes the child token with its own `revoke-self`, whatever became
    /// of the run's token (kept with `export-env`, or already revoked).
    pub async fn revoke(&self) {
        match lease::revoke_self(&self.vault).await {
            Ok(()) => crate::log::info("revoked Packer's child token"),
            // Revoked with its parent already: nothing left to do.
            Err(f) if f.status == Some(403) => {}
            Err(f) => crate::log::warn(&format!("{f}: Packer's child token expires on its own")),
        }
    }
}

/// Gets an identity token and logs in. Masks the JWT and the Vault token.
pub async fn login(cfg: &Config, ci: &Runner) -> Result<Session> {
    let address = match cfg.auth {
        // No Vault: a placeholder that nothing sends to.
        Auth::None => "http://127.0.0.1:1",
        _ => cfg.vault_addr.as_str(),
    };
    let mut vault = Vault::new(address, cfg.vault_namespace.clone(), &cfg.tls)?;
    // The API tokens for comments are never printed either.
    let mut hidden: Vec<Secret> = [&cfg.github_token, &cfg.gitlab_token]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    hide(&hidden, &[]);
    match (&cfg.auth, &ci.jwt) {
        // No Vault at all: a session that reads nothing and revokes nothing.
        (Auth::None, _) => {
            crate::log::info("no Vault login: no secret to read, and HCP through its workload identity provider");
            Ok(Session {
                vault: Arc::new(vault),
                login: Login {
                    token: Secret::new(""),
                    accessor: String::new(),
                    policies: Vec::new(),
                    ttl: 0,
                    renewable: false,
                    issued: std::time::Instant::now(),
                },
                owned: false,
                hidden,
            })
        }
        (Auth::Jwt { .. }, None) => Err(Error::failed("no identity token source for the JWT login")),
        (Auth::Jwt { path, role, .. }, Some(source)) => {
            let jwt = ci.identity_token(source).await?;
            // From here on every log line, error chain included, hides it.
            hidden.push(jwt.clone());
            hide(&hidden, &[]);
            let login = login::jwt(&vault, path, role, &jwt)
                .await
                .map_err(|f| login_error(f, role, path, &jwt))?;
            ci.mask(&[login.token.expose()]);
            hide(&hidden, &[&login.token]);
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
                hidden,
            })
        }
        (Auth::Token(token), _) => {
            ci.mask(&[token.expose()]);
            hidden.push(token.clone());
            hide(&hidden, &[]);
            vault.set_token(token.clone());
            // The child is made where the parent lives (a root-namespace
            // token reading `admin`'s secrets makes its child in root, with
            // the parent's policies), and its own operations go there too.
            let home = login::home(&vault).await.map_err(Error::from)?;
            vault.set_token_namespace(home);
            // A child token of our own can be revoked, with its leases,
            // without touching the caller's token.
            let (owned, login) = match child_token(&vault).await? {
                // The create answer says all a lookup would: no second trip.
                Some(child) => {
                    ci.mask(&[child.token.expose()]);
                    hide(&hidden, &[&child.token]);
                    vault.set_token(child.token.clone());
                    (true, child)
                }
                None => {
                    crate::log::warn(
                        "Vault refused to create a child token: using VAULT_TOKEN as is; it will not be revoked",
                    );
                    (false, login::lookup(&vault).await?)
                }
            };
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
                hidden,
            })
        }
    }
}

/// Makes the log redactor hide `hidden` and `more` too.
fn hide(hidden: &[Secret], more: &[&Secret]) {
    crate::log::hide(hidden.iter().chain(more.iter().copied()).map(Secret::expose));
}

/// A child token of the caller's, or `None` when Vault refuses to make one
/// (a 4xx: the policy does not allow `auth/token/create`).
async fn child_token(vault: &Vault) -> Result<Option<Login>> {
    let body = serde_json::json!({"ttl": "2h", "display_name": "packer-vault", "renewable": true});
    let what = "create a child token (auth/token/create)";
    let policy = vault.policy.within(crate::remote::retry::LOGIN_DEADLINE);
    let vault = &vault.for_token();
    match crate::remote::retry::call(policy, crate::vault::SERVICE, what, || {
        vault.raw(reqwest::Method::POST, "auth/token/create", Some(&body), what)
    })
    .await
    {
        Ok(v) => Ok(Some(login::from_answer(&v, what)?)),
        Err(f) if f.status.is_some_and(|s| (400..500).contains(&s)) => Ok(None),
        Err(f) => Err(f.into()),
    }
}

/// A login failure with what helps fix a role: Vault's error, the role and
/// the token's bound-claim candidates, and what the error points at (never
/// the token).
fn login_error(f: crate::vault::Failure, role: &str, mount: &str, jwt: &Secret) -> Error {
    let mut msg = f.to_string();
    if matches!(f.status, Some(400 | 403)) {
        let claims = crate::jwt::claims(jwt.expose());
        for line in crate::jwt::login_hints(&f.errors, role, mount, claims.as_ref()) {
            msg.push_str("\n  ");
            msg.push_str(&line);
        }
    }
    Error::Failed(msg)
}

impl Session {
    /// Reads every secret of the spec in one wave and masks all values.
    pub async fn read(&self, cfg: &Config, ci: &Runner) -> Result<(Vec<Read>, Redactor)> {
        self.read_locked(cfg, ci)
            .await
            .map(|(reads, redactor, _)| (reads, redactor))
    }

    /// Like [`Session::read`], honouring the lock file: also returns the
    /// `mount/path` of every secret whose version came from the lock.
    /// Locked reads go out in the first wave: the lock says which request
    /// each becomes, and the KV v2 answer confirms it.
    pub async fn read_locked(&self, cfg: &Config, ci: &Runner) -> Result<(Vec<Read>, Redactor, BTreeSet<String>)> {
        let lock = match &cfg.lock_file {
            Some(path) => Some(crate::lockfile::LockFile::load(path)?),
            None if cfg.locked => {
                return Err(Error::input(
                    "locked",
                    format!("no lock file at {}: run `packer-vault lock`", cfg.lock_path.display()),
                ));
            }
            None => None,
        };
        let spec_guesses = plan::guess_all(&cfg.requests);
        let guesses: Vec<_> = cfg
            .requests
            .iter()
            .zip(spec_guesses)
            .map(|(r, g)| lock.as_ref().and_then(|l| l.guess(r, self.vault.namespace())).or(g))
            .collect();
        let prepared = read::prepare(&self.vault, &Mounts::default(), &cfg.requests, &guesses).await;
        let (requests, locked, pins) = match (&lock, &cfg.lock_file) {
            (Some(lock), Some(path)) => {
                let p = crate::lockfile::pin(
                    &cfg.requests,
                    prepared.mounts(),
                    lock,
                    cfg.locked,
                    self.vault.namespace(),
                )?;
                crate::log::info(&format!(
                    "{}: {} pinned",
                    path.display(),
                    crate::log::count(p.locked.len(), "secret", "secrets")
                ));
                (p.requests, p.locked, p.pins)
            }
            _ => (cfg.requests.clone(), BTreeSet::new(), Vec::new()),
        };
        let reads = match read::read_prepared(&self.vault, &requests, prepared).await {
            Ok(r) => r,
            Err(e) => return Err(crate::lockfile::diagnose(&self.vault, &pins).await.unwrap_or(e)),
        };
        let redactor = self.mask(&reads, ci);
        Ok((reads, redactor, locked))
    }

    /// Reads the KV secrets of `requests` only (for `lock`), masked; the
    /// paths of the others, which are never sent (a dynamic engine would
    /// issue a credential).
    pub async fn read_kv(&self, requests: &[crate::spec::Request], ci: &Runner) -> Result<(Vec<Read>, Vec<String>)> {
        let (reads, skipped) = read::read_kv(&self.vault, requests).await?;
        self.mask(&reads, ci);
        Ok((reads, skipped))
    }

    /// Reads `requests` as given (no lock), masks every value, sets the log
    /// redactor and logs what was read (names and versions, never values).
    pub async fn read_requests(&self, requests: &[crate::spec::Request], ci: &Runner) -> Result<(Vec<Read>, Redactor)> {
        let reads = read::read_all(&self.vault, requests).await?;
        let redactor = self.mask(&reads, ci);
        Ok((reads, redactor))
    }

    /// Masks every value read, sets the log redactor and logs what was read
    /// (names and versions, never values).
    fn mask(&self, reads: &[Read], ci: &Runner) -> Redactor {
        let values: Vec<&str> = reads
            .iter()
            .flat_map(|r| r.items.iter().map(|i| i.value.expose()))
            .collect();
        ci.mask(&values);
        let redactor = self.redactor(reads, &[]);
        let n: usize = reads
            .iter()
            .map(|r| r.items.iter().filter(|i| i.delivery != read::Delivery::Masked).count())
            .sum();
        crate::log::info(&format!(
            "read {} from {}",
            crate::log::count(n, "value", "values"),
            crate::log::count(reads.len(), "path", "paths")
        ));
        for r in reads {
            let version = r.version.map(|v| format!(" v{v}")).unwrap_or_default();
            let names: Vec<String> = r
                .items
                .iter()
                .filter(|i| i.delivery != read::Delivery::Masked)
                .map(|i| match i.delivery {
                    read::Delivery::File => format!("{}->{} (a private file)", i.key, i.env),
                    _ => format!("{}->{}", i.key, i.env),
                })
                .collect();
            crate::log::info(&format!("  {}{version}: {}", r.path, names.join(" ")));
        }
        redactor
    }

    /// The redactor of everything secret of this session: the values of
    /// `reads`, the token, the hidden credentials and `extra`; the log hides
    /// all of it too.
    pub fn redactor(&self, reads: &[Read], extra: &[&Secret]) -> Redactor {
        let mut all: Vec<&str> = reads
            .iter()
            .flat_map(|r| r.items.iter().map(|i| i.value.expose()))
            .collect();
        all.push(self.login.token.expose());
        all.extend(self.hidden.iter().map(Secret::expose));
        all.extend(extra.iter().map(|s| s.expose()));
        crate::log::hide(&all);
        Redactor::new(all.iter().filter(|v| !v.is_empty()))
    }

    /// With `packer-vault-token`: a child token of the run's for Packer's
    /// own Vault integrations (`vault()`, `vault_aws_engine`,
    /// `vault_gcp_oauth_engine`), never the run's token itself: the
    /// policies asked for (else the login's), a TTL no longer than the
    /// run's, not renewable, made where the run's token lives (so revoking
    /// the run's token revokes it too), masked before anything prints.
    pub async fn packer_token(&self, cfg: &Config, ci: &Runner) -> Result<Option<PackerToken>> {
        if !cfg.packer_vault_token {
            return Ok(None);
        }
        let policies = cfg
            .packer_vault_token_policies
            .clone()
            .unwrap_or_else(|| self.login.policies.clone());
        let ttl = match self.login.ttl {
            0 => 7200,
            t => t,
        };
        let body = serde_json::json!({
            "policies": policies,
            "no_default_policy": !policies.iter().any(|p| p == "default"),
            // Renewed with the run's token while Packer runs (a child never
            // outlives its parent), revoked at exit.
            "ttl": format!("{ttl}s"),
            "renewable": true,
            "display_name": "packer-vault-packer",
        });
        let what = "create Packer's child token (packer-vault-token)";
        let vault = self.vault.for_token();
        let answer = crate::remote::retry::call(vault.policy, crate::vault::SERVICE, what, || {
            vault.raw(reqwest::Method::POST, "auth/token/create", Some(&body), what)
        })
        .await
        .map_err(|f| match f.status {
            Some(400 | 403) => Error::failed(format!(
                "{f}: the run's token may not make that child (packer-vault-token-policies must be a subset of the login's policies, \
                 and the policies must allow auth/token/create)"
            )),
            _ => f.into(),
        })?;
        let child = login::from_answer(&answer, what)?;
        ci.mask(&[child.token.expose()]);
        crate::log::hide([child.token.expose()]);
        crate::log::info(&format!(
            "Packer gets VAULT_ADDR and a child token (accessor {}, policies {}, ttl {} s)",
            child.accessor,
            child.policies.join(","),
            child.ttl
        ));
        let mut vars = vec![
            ("VAULT_ADDR".to_string(), Secret::new(self.vault.addr())),
            ("VAULT_TOKEN".to_string(), child.token.clone()),
        ];
        if let Some(ns) = self.vault.namespace() {
            vars.push(("VAULT_NAMESPACE".to_string(), Secret::new(ns)));
        }
        let mut own = vault.clone();
        own.set_token(child.token.clone());
        Ok(Some(PackerToken {
            vars,
            vault: own,
            ttl: child.ttl,
        }))
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
