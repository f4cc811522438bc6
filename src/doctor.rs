//! `packer-vault doctor`: runs the checks of a run on purpose and prints a
//! checklist (platform, identity token claims, Vault health, login, which
//! secrets are readable, Packer, HCP) without a single secret: claims and
//! names only, values are read into memory and dropped. Exit 0 when every
//! required check passes, 1 otherwise. The token it logs in with is revoked.

use crate::ci::Runner;
use crate::ci::identity::JwtSource;
use crate::config::{Auth, Config};
use crate::env::Env;
use crate::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::process::{Cancel, Signal};
use crate::secret::Secret;
use crate::vault::mounts::{Engine, Mounts};
use crate::vault::probe::{Outcome, Probe, probe};
use crate::vault::{SERVICE, Vault, lease, retry};
use std::io::Write;
use std::time::Duration;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Ok,
    Warn,
    Fail,
    Skip,
}

/// Prints each check as it completes (redacted, to stdout) and counts failures.
#[derive(Default)]
struct Checklist {
    checks: usize,
    failed: usize,
    skipped: usize,
}

impl Checklist {
    fn add(&mut self, mark: Mark, what: &str, detail: &str, hints: &[String]) {
        let tag = match mark {
            Mark::Ok => "[ok]  ",
            Mark::Warn => "[warn]",
            Mark::Fail => "[FAIL]",
            Mark::Skip => "[skip]",
        };
        match mark {
            Mark::Skip => self.skipped += 1,
            Mark::Fail => {
                self.checks += 1;
                self.failed += 1;
            }
            Mark::Ok | Mark::Warn => self.checks += 1,
        }
        let mut text = format!("{tag} {what}: {detail}\n");
        for h in hints {
            text.push_str(&format!("         {h}\n"));
        }
        say(&text);
    }
}

/// Writes `text` to stdout, redacted; a closed stdout is not an error here.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(crate::log::neutralize(&crate::log::redact(text)).as_bytes());
    let _ = out.flush();
}

/// `packer-vault doctor`: the checklist; exit 0 when every required check
/// passes. A signal ends it at once, and the token it logged in with is
/// revoked on that path too.
pub async fn doctor(cfg: Config, ci: Runner) -> i32 {
    let cancel = match Cancel::install() {
        Ok(c) => c,
        Err(e) => return crate::run::fail(&Error::failed(format!("cannot install signal handlers: {e}"))),
    };
    let env = &ci.env;
    let mut list = Checklist::default();
    say(&format!("packer-vault doctor ({})\n", env!("CARGO_PKG_VERSION")));
    list.add(Mark::Ok, "platform", ci.platform.name(), &[]);
    let mut hidden: Vec<Secret> = Vec::new();
    let before_login = async {
        let identity_ok = match (&cfg.auth, &ci.jwt) {
            (Auth::Jwt { .. }, Some(source)) => identity(&ci, source, &mut list, &mut hidden).await,
            (Auth::Jwt { .. }, None) => false,
            (Auth::None, _) if cfg.hcp.provider.is_none() || !cfg.requests.is_empty() => {
                list.add(
                    Mark::Fail,
                    "vault",
                    "no Vault address: set `vault-addr` (or VAULT_ADDR, or GitLab's VAULT_SERVER_URL)",
                    &[],
                );
                false
            }
            (Auth::None, _) => {
                list.add(
                    Mark::Skip,
                    "identity",
                    "no Vault: no secret to read, HCP through its workload identity provider",
                    &[],
                );
                false
            }
            (Auth::Token(t), _) => {
                hidden.push(t.clone());
                crate::log::hide([t.expose()]);
                list.add(
                    Mark::Ok,
                    "identity",
                    "a Vault token (VAULT_TOKEN, auth-method `token`)",
                    &[],
                );
                true
            }
        };
        if matches!(cfg.auth, Auth::None) {
            return (false, None);
        }
        (identity_ok, Some(health(&cfg, &mut list).await))
    };
    // No token exists yet: a signal simply ends the run.
    let (identity_ok, healthy) = match crate::run::unless_cancelled(&cancel, before_login).await {
        Ok(v) => v,
        Err(s) => return cancelled(s),
    };
    let session = match (healthy.unwrap_or(true), identity_ok) {
        _ if healthy.is_none() => None,
        (false, _) => {
            list.add(Mark::Skip, "login", "Vault is not available", &[]);
            None
        }
        (true, false) => {
            list.add(Mark::Skip, "login", "no usable identity token", &[]);
            None
        }
        // A login cut short by a signal is finished briefly and revoked.
        (true, true) => match login(&cfg, &ci, &cancel, &mut list).await {
            Ok(s) => s,
            Err(s) => return cancelled(s),
        },
    };
    let checks = async {
        let probes = match &session {
            Some(s) => secrets(&cfg, &s.vault, &hidden, &mut list).await,
            None => {
                let why = "not logged in";
                list.add(Mark::Skip, "secrets", why, &[]);
                Vec::new()
            }
        };
        packer(&cfg, &ci, &mut list).await;
        match cfg.hcp.provider.as_deref() {
            Some(provider) => workload(&cfg, &ci, provider, &mut list).await,
            None => hcp(&cfg, env, &probes, &mut list).await,
        }
    };
    let signalled = crate::run::unless_cancelled(&cancel, checks).await.err();
    if let Some(s) = session.filter(|s| s.owned) {
        match lease::revoke_self(&s.vault).await {
            Ok(()) => list.add(Mark::Ok, "cleanup", "the doctor's Vault token was revoked", &[]),
            Err(f) => list.add(Mark::Warn, "cleanup", &f.to_string(), &[]),
        }
    }
    if let Some(s) = signalled {
        return cancelled(s);
    }
    let skipped = match list.skipped {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    let verdict = match list.failed {
        0 => format!("all {} checks passed{skipped}", list.checks),
        n => format!("{n} of {} checks failed{skipped}", list.checks),
    };
    say(&format!("doctor: {verdict}\n"));
    if list.failed == 0 { EXIT_OK } else { EXIT_FAILED }
}

fn cancelled(s: Signal) -> i32 {
    crate::log::warn("doctor cancelled");
    s.exit_code()
}

/// The identity token and its non-secret claims (no signature check).
async fn identity(ci: &Runner, source: &JwtSource, list: &mut Checklist, hidden: &mut Vec<Secret>) -> bool {
    let origin = match source {
        JwtSource::Given { origin, .. } => origin.clone(),
        JwtSource::GithubOidc { audience, .. } => format!(
            "GitHub's OIDC endpoint (audience {})",
            audience.as_deref().unwrap_or("GitHub's default")
        ),
    };
    let jwt = match ci.identity_token(source).await {
        Ok(j) => j,
        Err(e) => {
            list.add(Mark::Fail, "identity token", &format!("from {origin}: {e}"), &[]);
            return false;
        }
    };
    crate::log::hide([jwt.expose()]);
    hidden.push(jwt.clone());
    let Some(claims) = crate::jwt::claims(jwt.expose()) else {
        list.add(
            Mark::Fail,
            "identity token",
            &format!("from {origin}: not a readable JWT"),
            &[],
        );
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let expired = claims.get("exp").and_then(|e| e.as_i64()).is_some_and(|e| e <= now);
    let shown = crate::jwt::describe(&claims);
    let mark = if expired { Mark::Fail } else { Mark::Ok };
    let detail = format!("from {origin} (claims shown unverified: the signature is Vault's to check)");
    list.add(mark, "identity token", &detail, &shown);
    !expired
}

/// `GET sys/health`, interpreted; true when a login can work.
async fn health(cfg: &Config, list: &mut Checklist) -> bool {
    let what = format!("Vault {}", cfg.vault_addr);
    // sys/health lives in the root namespace only (a namespace header
    // makes it answer 400).
    let vault = match Vault::new(&cfg.vault_addr, None, &cfg.tls) {
        Ok(v) => v,
        Err(e) => {
            list.add(Mark::Fail, &what, &e.to_string(), &[]);
            return false;
        }
    };
    let policy = retry::Policy {
        attempts: 3,
        ..Default::default()
    }
    .within(Duration::from_secs(10));
    let call = "ask sys/health";
    let res = retry::call(policy, SERVICE, call, || {
        vault.send(reqwest::Method::GET, "sys/health", None, call)
    })
    .await;
    let (status, _, body) = match res {
        Ok(r) => r,
        Err(f) => {
            list.add(Mark::Fail, &what, &format!("unreachable: {f}"), &[]);
            return false;
        }
    };
    let version = body["version"]
        .as_str()
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default();
    let (mark, text) = match status {
        200 => (Mark::Ok, "active node, initialized and unsealed"),
        429 => (
            Mark::Ok,
            "standby node, unsealed: it forwards or redirects to the active node",
        ),
        473 => (Mark::Ok, "performance standby, unsealed: serves reads, forwards writes"),
        472 => (
            Mark::Fail,
            "disaster-recovery secondary: it serves no logins; point vault-addr at the primary",
        ),
        501 => (Mark::Fail, "not initialized: run `vault operator init`"),
        503 => (Mark::Fail, "sealed: it must be unsealed before anyone can log in"),
        _ => (Mark::Fail, "unexpected answer from sys/health"),
    };
    list.add(mark, &what, &format!("{status}: {text}{version}"), &[]);
    mark == Mark::Ok
}

async fn login(
    cfg: &Config,
    ci: &Runner,
    cancel: &Cancel,
    list: &mut Checklist,
) -> Result<Option<crate::session::Session>, Signal> {
    let what = match &cfg.auth {
        Auth::Jwt { role, path, .. } => format!("login (role `{role}` on auth/{path})"),
        Auth::Token(_) => "login (VAULT_TOKEN)".into(),
        Auth::None => "login (none: no Vault)".into(),
    };
    Ok(match crate::run::login(cfg, ci, cancel).await? {
        Ok(s) => {
            let l = &s.login;
            let detail = format!(
                "policies {}; ttl {} s{}; accessor {}",
                l.policies.join(", "),
                l.ttl,
                if l.renewable { ", renewable" } else { "" },
                l.accessor
            );
            list.add(Mark::Ok, &what, &detail, &[]);
            Some(s)
        }
        Err(e) => {
            let text = e.to_string();
            let mut lines = text.lines().map(|l| l.trim().to_string());
            let head = lines.next().unwrap_or_default();
            // The label already says what was attempted.
            let head = match head.strip_prefix("login with role `") {
                Some(rest) => rest.split_once(": ").map_or(head.clone(), |(_, r)| r.to_string()),
                None => head,
            };
            list.add(Mark::Fail, &what, &head, &lines.collect::<Vec<_>>());
            None
        }
    })
}

/// Probes every path of the spec; the values read only widen the redactor.
async fn secrets(cfg: &Config, vault: &Vault, hidden: &[Secret], list: &mut Checklist) -> Vec<Probe> {
    if cfg.requests.is_empty() {
        list.add(Mark::Warn, "secrets", "the spec is empty (input `secrets`)", &[]);
        return Vec::new();
    }
    let mounts = Mounts::default();
    let probes = futures_util::future::join_all(cfg.requests.iter().map(|r| probe(vault, &mounts, r))).await;
    let mut all: Vec<&str> = probes
        .iter()
        .flat_map(|p| p.items.iter().map(|i| i.value.expose()))
        .chain(hidden.iter().map(Secret::expose))
        .collect();
    all.extend(vault.token().map(Secret::expose));
    crate::log::hide(all);
    for (p, req) in probes.iter().zip(&cfg.requests) {
        let pin = req.version.map(|v| format!("@{v}")).unwrap_or_default();
        let place = match &p.namespace {
            Some(ns) => format!(" in namespace `{ns}`"),
            None => String::new(),
        };
        let what = format!("secret `{}{pin}`{place}", p.path);
        let (mark, detail) = match &p.outcome {
            Outcome::Readable { engine, version, keys } => {
                let kind = match (engine, version) {
                    (Engine::Kv2, Some(v)) => format!("KV v2, version {v}"),
                    (Engine::Kv2, None) => "KV v2".into(),
                    _ => "KV v1".into(),
                };
                (Mark::Ok, format!("readable ({kind}); keys {}", keys.join(", ")))
            }
            Outcome::Allowed { capabilities } => (
                Mark::Ok,
                format!(
                    "allowed ({}); not read: that would issue credentials",
                    capabilities.join(", ")
                ),
            ),
            Outcome::Denied(why) => (Mark::Fail, format!("denied: {why}")),
            Outcome::NotFound(why) => (Mark::Fail, format!("not found: {why}")),
            Outcome::Failed(why) => (Mark::Fail, why.clone()),
        };
        list.add(mark, &what, &detail, &[]);
    }
    probes
}

async fn packer(cfg: &Config, ci: &Runner, list: &mut Checklist) {
    let pinned = cfg.packer_version.as_deref();
    let opts = match crate::packer::install::Options::from_env(&ci.env) {
        Ok(o) => o,
        Err(e) => return list.add(Mark::Fail, "packer", &e.to_string(), &[]),
    };
    match (
        crate::packer::install::ensure(None, &opts, &crate::child::private::removed(ci, cfg)).await,
        pinned,
    ) {
        (Ok(i), None) => list.add(
            Mark::Ok,
            "packer",
            &format!("{} at {}", i.version, i.path.display()),
            &[],
        ),
        (Ok(i), Some(v)) if i.version == v => {
            list.add(Mark::Ok, "packer", &format!("{v} at {}", i.path.display()), &[])
        }
        (_, Some(v)) => list.add(
            Mark::Ok,
            "packer",
            &format!("packer-version {v}: downloaded and verified (SHA256SUMS + signature) at run time"),
            &[],
        ),
        (Err(e), None) => list.add(
            Mark::Warn,
            "packer",
            &format!("{e} (build and validate need it; exec and secrets do not)"),
            &[],
        ),
    }
}

/// The HCP workload identity provider: an identity token with its audience,
/// the exchange, and where the principal works (never a token shown).
async fn workload(cfg: &Config, ci: &Runner, provider: &str, list: &mut Checklist) {
    let what = "HCP workload identity";
    let audience = cfg.hcp.jwt_audience.as_deref().unwrap_or(provider);
    let jwt = match ci.hcp_identity_token(&cfg.hcp).await {
        Ok(j) => j,
        Err(e) => return list.add(Mark::Fail, what, &format!("provider {provider}: {e}"), &[]),
    };
    let claims = crate::jwt::claims(jwt.expose())
        .map(|c| crate::jwt::describe(&c))
        .unwrap_or_default();
    let endpoints = match crate::hcp::Endpoints::resolve(&ci.env, cfg.hcp.geography.as_deref()) {
        Ok(e) => e,
        Err(e) => return list.add(Mark::Fail, what, &e.to_string(), &[]),
    };
    let client = match crate::hcp::workload::exchange(endpoints, provider, &jwt).await {
        Ok(c) => c,
        Err(f) => {
            let detail = format!("provider {provider}: the exchange was refused: {f}");
            return list.add(Mark::Fail, what, &detail, &claims);
        }
    };
    let location = match (&cfg.hcp.organization_id, &cfg.hcp.project_id) {
        (Some(o), Some(p)) => Ok((o.clone(), p.clone())),
        _ => client.caller_location().await,
    };
    match location {
        Ok((o, p)) => list.add(
            Mark::Ok,
            what,
            &format!(
                "provider {provider}: a token with audience {audience} was exchanged; organization {o}, project {p}"
            ),
            &[],
        ),
        Err(f) => list.add(Mark::Fail, what, &f.to_string(), &[]),
    }
}

async fn hcp(cfg: &Config, env: &Env, probes: &[Probe], list: &mut Checklist) {
    let Some(bucket) = &cfg.hcp.bucket else {
        return list.add(Mark::Skip, "HCP Packer", "not configured (no hcp-bucket)", &[]);
    };
    let what = format!("HCP Packer (bucket `{bucket}`)");
    let endpoints = match crate::hcp::Endpoints::resolve(env, cfg.hcp.geography.as_deref()) {
        Ok(e) => e,
        Err(e) => return list.add(Mark::Fail, &what, &e.to_string(), &[]),
    };
    list.add(
        Mark::Ok,
        "HCP addresses",
        &format!(
            "API {}, auth {}, portal {}",
            endpoints.api, endpoints.auth, endpoints.portal
        ),
        &[],
    );
    let Some((id, secret)) = crate::hcp::credentials(probes.iter().flat_map(|p| p.items.iter()), env) else {
        let why = "no HCP_CLIENT_ID/HCP_CLIENT_SECRET among the secrets or in the environment";
        return list.add(Mark::Fail, &what, why, &[]);
    };
    let client = match crate::hcp::Client::login(endpoints, &id, &secret).await {
        Ok(c) => c,
        Err(f) => return list.add(Mark::Fail, &what, &f.to_string(), &[]),
    };
    let org = cfg.hcp.organization_id.as_deref();
    match client.resolve_location(org, cfg.hcp.project_id.as_deref()).await {
        Ok((o, p)) => list.add(
            Mark::Ok,
            &what,
            &format!("token issued; organization {o}, project {p}"),
            &[],
        ),
        Err(f) => list.add(Mark::Fail, &what, &f.to_string(), &[]),
    }
}
