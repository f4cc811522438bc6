//! `packer-vault lock [--check]`: pin the spec's KV v2 secrets to their
//! current versions, or report how far Vault has moved past the lock.

use super::{Stop, step};
use crate::ci::Runner;
use crate::config::Config;
use crate::error::{EXIT_FAILED, EXIT_OK, Error, Result};
use crate::lockfile::{LockFile, Pin};
use crate::session::Session;
use std::io::Write;

/// Runs `lock` (writes the lock) or `lock --check` (writes nothing; exit 1
/// when stale). The token is revoked either way.
pub async fn lock(cfg: Config, ci: Runner, check: bool) -> i32 {
    let (cancel, session) = match super::start(&cfg, &ci).await {
        Ok(started) => started,
        Err(stop) => return stop.exit_code(),
    };
    let code = step(&cancel, lock_in(&cfg, &ci, &session, check))
        .await
        .unwrap_or_else(Stop::exit_code);
    session.close(&cfg, false).await;
    code
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", crate::log::neutralize(&crate::log::redact(line)));
}

async fn lock_in(cfg: &Config, ci: &Runner, session: &Session, check: bool) -> Result<i32> {
    let old = match &cfg.lock_file {
        Some(p) => Some(LockFile::load(p)?),
        None => None,
    };
    // The spec's KV secrets as written: the latest versions (or explicit
    // @N pins). Dynamic engines are never asked: a read would issue a
    // credential (every week, for a scheduled `lock --check`).
    let (reads, skipped) = session.read_kv(&cfg.requests, ci).await?;
    let rows = crate::report::rows(&reads, &|_| true);
    let mut new = LockFile::from_reads(&reads, crate::report::digest(&rows));
    new.not_lockable
        .extend(skipped.into_iter().map(|path| crate::lockfile::Unlockable {
            path,
            reason: "dynamic secret: every read issues a new credential (not read)".into(),
        }));
    for u in &new.not_lockable {
        say(&format!("{}: not lockable ({})", u.path, u.reason));
    }
    if check {
        check_lock(cfg, session, old, &new).await
    } else {
        write_lock(cfg, old.as_ref(), &new)
    }
}

/// `lock`: writes the lock file, saying what changed against the old one.
fn write_lock(cfg: &Config, old: Option<&LockFile>, new: &LockFile) -> Result<i32> {
    let path = cfg.lock_path.display();
    for e in &new.secrets {
        let was = match old.and_then(|o| o.get(&e.namespace, &e.mount, &e.path)) {
            Some(o) if o.version != e.version => format!(" (was v{})", o.version),
            Some(_) => String::new(),
            None => " (new)".into(),
        };
        say(&format!("{}: v{}{was}", e.key(), e.version));
    }
    for o in old
        .iter()
        .flat_map(|o| o.secrets.iter())
        .filter(|o| new.get(&o.namespace, &o.mount, &o.path).is_none())
    {
        say(&format!("{}: dropped (no longer in the spec)", o.key()));
    }
    crate::env::write_file(&cfg.lock_path, new.render().as_bytes())
        .map_err(|e| Error::failed(format!("cannot write {path}: {e}")))?;
    say(&format!(
        "wrote {path}: {} pinned, secrets-digest {}",
        crate::log::count(new.secrets.len(), "secret", "secrets"),
        new.digest
    ));
    Ok(EXIT_OK)
}

/// `lock --check`: compares Vault's current versions with the lock file's;
/// exit 1 when any differs, saying whether the locked one is still readable.
async fn check_lock(cfg: &Config, session: &Session, old: Option<LockFile>, new: &LockFile) -> Result<i32> {
    let path = cfg.lock_path.display();
    let old = old.ok_or_else(|| {
        Error::input(
            "lock-file",
            format!("no lock file at {path}: run `packer-vault lock` first"),
        )
    })?;
    let mut stale = 0;
    for e in &new.secrets {
        match old.get(&e.namespace, &e.mount, &e.path) {
            None => {
                stale += 1;
                say(&format!("{}: not in the lock (current v{})", e.key(), e.version));
            }
            Some(o) if o.version != e.version => {
                stale += 1;
                let pin = Pin {
                    namespace: o.namespace.clone(),
                    mount: o.mount.clone(),
                    path: o.path.clone(),
                    version: o.version,
                };
                let still = match crate::lockfile::diagnose(&session.vault, &[pin]).await {
                    None => format!("v{} still readable", o.version),
                    Some(err) => err.to_string(),
                };
                say(&format!(
                    "{}: locked v{}, current v{} ({still})",
                    e.key(),
                    o.version,
                    e.version
                ));
            }
            Some(_) => say(&format!("{}: v{} up to date", e.key(), e.version)),
        }
    }
    for o in old
        .secrets
        .iter()
        .filter(|o| new.get(&o.namespace, &o.mount, &o.path).is_none())
    {
        stale += 1;
        say(&format!("{}: in the lock but no longer in the spec", o.key()));
    }
    if stale > 0 {
        say(&format!(
            "{path} is stale: {stale} secrets differ; run `packer-vault lock` to update it"
        ));
        Ok(EXIT_FAILED)
    } else {
        say(&format!(
            "{path} is up to date ({}, secrets-digest {})",
            crate::log::count(old.secrets.len(), "secret", "secrets"),
            old.digest
        ));
        Ok(EXIT_OK)
    }
}
