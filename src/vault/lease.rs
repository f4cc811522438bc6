//! Keeping the token and leases alive while a command runs, and revoking
//! the token (and with it every lease it created) at the end.

use super::{Failure, SERVICE, Vault, retry};
use crate::vault::login::Login;
use crate::vault::read::Read;
use reqwest::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// `auth/token/revoke-self`: revokes the token, its children and its leases.
/// Retried within [`retry::CLEANUP_DEADLINE`]: it runs last, also when the
/// job is being cancelled.
pub async fn revoke_self(vault: &Vault) -> Result<(), Failure> {
    let what = "revoke the Vault token (auth/token/revoke-self)";
    let policy = vault.policy.within(retry::CLEANUP_DEADLINE);
    let vault = vault.for_token();
    retry::call(policy, SERVICE, what, || {
        vault.raw(Method::POST, "auth/token/revoke-self", None, what)
    })
    .await
    .map(|_| ())
}

/// `auth/token/renew-self` asking for `increment` seconds; returns the new TTL.
pub async fn renew_self(vault: &Vault, increment: u64) -> Result<u64, Failure> {
    let what = "renew the Vault token (auth/token/renew-self)";
    let body = serde_json::json!({"increment": format!("{increment}s")});
    let vault = vault.for_token();
    let v = retry::call(vault.policy, SERVICE, what, || {
        vault.raw(Method::POST, "auth/token/renew-self", Some(&body), what)
    })
    .await?;
    Ok(v["auth"]["lease_duration"].as_u64().unwrap_or(0))
}

/// `PUT sys/leases/renew`; returns the new lease duration.
pub async fn renew_lease(vault: &Vault, lease_id: &str, increment: u64, shown: &str) -> Result<u64, Failure> {
    let what = format!("renew the lease of `{shown}`");
    let body = serde_json::json!({"lease_id": lease_id, "increment": increment});
    let v = retry::call(vault.policy, SERVICE, &what, || {
        vault.raw(Method::PUT, "sys/leases/renew", Some(&body), &what)
    })
    .await?;
    Ok(v["lease_duration"].as_u64().unwrap_or(0))
}

/// One thing with a TTL that the renewer looks after.
#[derive(Debug, Clone)]
struct Tracked {
    shown: String,
    /// Another token to renew with its own `renew-self` (Packer's child).
    own: Option<Arc<Vault>>,
    lease_id: Option<String>,
    /// The namespace the lease was issued in (leases: the read's).
    namespace: Option<String>,
    want: u64,
    ttl: u64,
    renewable: bool,
    next: Instant,
}

/// A token the command got besides the run's, renewed with the run's.
pub struct OwnToken {
    /// How it is named in warnings.
    pub shown: String,
    /// A connection holding it, where it lives.
    pub vault: Arc<Vault>,
    /// Its TTL in seconds.
    pub ttl: u64,
}

/// A background task renewing at about two thirds of each TTL; it collects
/// warnings (not renewable, max TTL reached) for the log and the report.
pub struct Renewer {
    task: tokio::task::JoinHandle<()>,
    warnings: Arc<Mutex<Vec<String>>>,
    renewals: Arc<Mutex<u32>>,
}

impl Renewer {
    /// Starts renewing the token of `login` and the leases of `reads`.
    pub fn spawn(vault: Arc<Vault>, login: &Login, reads: &[Read]) -> Renewer {
        Renewer::spawn_with(vault, login, reads, Vec::new())
    }

    /// [`Renewer::spawn`], and `others`: tokens made for the command
    /// (Packer's child token), each renewed with its own `renew-self`.
    pub fn spawn_with(vault: Arc<Vault>, login: &Login, reads: &[Read], others: Vec<OwnToken>) -> Renewer {
        let now = Instant::now();
        let mut tracked = vec![Tracked {
            own: None,
            shown: "Vault token".into(),
            lease_id: None,
            namespace: None,
            want: login.ttl,
            ttl: login.ttl,
            renewable: login.renewable,
            // The TTL runs from the login, not from now (reads and Packer's
            // lookup came in between).
            next: Instant::from_std(login.issued) + two_thirds(login.ttl),
        }];
        for r in reads.iter().filter(|r| r.lease_id.is_some() && r.lease_duration > 0) {
            tracked.push(Tracked {
                own: None,
                shown: r.path.clone(),
                lease_id: r.lease_id.clone(),
                namespace: r.namespace.clone(),
                want: r.lease_duration,
                ttl: r.lease_duration,
                renewable: r.renewable,
                next: now + two_thirds(r.lease_duration),
            });
        }
        for o in others.into_iter().filter(|o| o.ttl > 0) {
            tracked.push(Tracked {
                own: Some(o.vault),
                shown: o.shown,
                lease_id: None,
                namespace: None,
                want: o.ttl,
                ttl: o.ttl,
                renewable: true,
                next: now + two_thirds(o.ttl),
            });
        }
        let warnings = Arc::new(Mutex::new(Vec::new()));
        for t in tracked.iter().filter(|t| !t.renewable && t.ttl > 0) {
            push(
                &warnings,
                format!(
                    "{} is not renewable: it expires {} s after it was issued",
                    t.shown, t.ttl
                ),
            );
        }
        tracked.retain(|t| t.renewable && t.ttl > 0);
        let renewals = Arc::new(Mutex::new(0));
        let task = tokio::spawn(run(vault, tracked, warnings.clone(), renewals.clone()));
        Renewer {
            task,
            warnings,
            renewals,
        }
    }

    /// Stops renewing; returns the warnings gathered and how many renewals succeeded.
    pub fn stop(self) -> (Vec<String>, u32) {
        self.task.abort();
        let w = self.warnings.lock().map(|w| w.clone()).unwrap_or_default();
        let n = self.renewals.lock().map(|n| *n).unwrap_or(0);
        (w, n)
    }
}

fn two_thirds(ttl: u64) -> Duration {
    Duration::from_millis(ttl.saturating_mul(2000) / 3)
}

fn push(warnings: &Mutex<Vec<String>>, w: String) {
    crate::log::warn(&w);
    if let Ok(mut ws) = warnings.lock() {
        ws.push(w);
    }
}

async fn run(
    vault: Arc<Vault>,
    mut tracked: Vec<Tracked>,
    warnings: Arc<Mutex<Vec<String>>>,
    renewals: Arc<Mutex<u32>>,
) {
    loop {
        let Some(i) = (0..tracked.len()).min_by_key(|&i| tracked[i].next) else {
            return;
        };
        tokio::time::sleep_until(tracked[i].next).await;
        let t = &mut tracked[i];
        let res = match (&t.lease_id, &t.own) {
            (None, Some(own)) => renew_self(own, t.want).await,
            (None, None) => renew_self(&vault, t.want).await,
            (Some(id), _) => renew_lease(&vault.at(t.namespace.clone()), id, t.want, &t.shown).await,
        };
        match res {
            Ok(ttl) => {
                if let Ok(mut n) = renewals.lock() {
                    *n += 1;
                }
                if ttl < t.want {
                    push(
                        &warnings,
                        format!(
                            "{} reached its max TTL: it expires in {ttl} s and cannot be renewed further",
                            t.shown
                        ),
                    );
                }
                t.ttl = ttl;
                if ttl < t.want || ttl == 0 {
                    tracked.remove(i);
                } else {
                    t.next = Instant::now() + two_thirds(ttl);
                }
            }
            Err(f) if !f.is_transient() => {
                // Refused (expired, revoked, or no longer allowed): it will not
                // get better by asking again.
                push(&warnings, format!("{f}: {} can no longer be renewed", t.shown));
                tracked.remove(i);
            }
            Err(f) => {
                push(&warnings, format!("{f} (will try again)"));
                // Try again before it runs out, but not in a tight loop.
                t.next = Instant::now() + Duration::from_secs((t.ttl / 10).clamp(1, 30));
            }
        }
    }
}
