//! `packer-vault.lock`: which version of each KV v2 secret a commit builds
//! with, never the values, the way Cargo.lock pins dependencies.

use crate::error::{Error, Result};
use crate::spec::{Method, Request};
use crate::vault::mounts::{Engine, Mount};
use crate::vault::plan::Plan;
use crate::vault::read::Read;
use crate::vault::{Failure, Vault};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// The lock file's default name.
pub const FILE_NAME: &str = "packer-vault.lock";
/// The format version this binary writes and reads.
pub const FORMAT: u32 = 1;

/// One pinned KV v2 secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The namespace that holds it, absolute (`admin/team-a`); empty for the
    /// root namespace. A pin applies only to a read in that namespace.
    #[serde(default)]
    pub namespace: String,
    /// Mount path with its trailing `/` (`secret/`), inside the namespace.
    pub mount: String,
    /// Secret path inside the mount, without `data/`.
    pub path: String,
    /// The pinned version.
    pub version: u64,
    /// When that version was written (from Vault).
    #[serde(default)]
    pub created_time: String,
}

impl Entry {
    /// `mount/path` from the root namespace (`admin/team-a/secret/ci/b`), as
    /// reports and messages show it.
    pub fn key(&self) -> String {
        key(&self.namespace, &self.mount, &self.path)
    }
}

/// `mount` + `path` with the namespace in front, when not the root one.
pub fn key(namespace: &str, mount: &str, path: &str) -> String {
    if namespace.is_empty() {
        format!("{mount}{path}")
    } else {
        format!("{namespace}/{mount}{path}")
    }
}

/// A secret of the spec that cannot be pinned, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unlockable {
    /// The path as written in the spec.
    pub path: String,
    /// Why it cannot be pinned.
    pub reason: String,
}

/// The lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockFile {
    /// Format version.
    pub lock_version: u32,
    /// `secrets-digest` of a build made from this lock.
    #[serde(default)]
    pub digest: String,
    /// Pinned secrets, sorted by mount and path.
    #[serde(default)]
    pub secrets: Vec<Entry>,
    /// Secrets of the spec that cannot be pinned.
    #[serde(default)]
    pub not_lockable: Vec<Unlockable>,
}

impl LockFile {
    /// Reads and checks a lock file; a malformed one is a usage error naming
    /// the input `lock-file`.
    pub fn load(path: &Path) -> Result<LockFile> {
        let shown = path.display().to_string();
        let text = crate::env::read_text(path).map_err(|e| Error::input("lock-file", format!("{shown}: {e}")))?;
        Self::parse(&text, &shown)
    }

    /// Parses and checks lock file text; `shown` names the file in messages.
    pub fn parse(text: &str, shown: &str) -> Result<LockFile> {
        let lock: LockFile = serde_saphyr::from_str(text).map_err(|e| {
            Error::input(
                "lock-file",
                format!(
                    "{shown} is malformed: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ),
            )
        })?;
        if lock.lock_version != FORMAT {
            return Err(Error::input(
                "lock-file",
                format!("{shown}: lock-version {} is not {FORMAT}", lock.lock_version),
            ));
        }
        let mut seen = BTreeSet::new();
        for e in &lock.secrets {
            if e.version == 0 {
                return Err(Error::input(
                    "lock-file",
                    format!("{shown}: `{}` has version 0 (versions start at 1)", e.key()),
                ));
            }
            if !e.namespace.is_empty() && crate::namespace::check(&e.namespace).is_err() {
                return Err(Error::input(
                    "lock-file",
                    format!("{shown}: `{}` names no namespace path", e.namespace),
                ));
            }
            if !e.mount.ends_with('/') || e.mount.len() < 2 || e.path.is_empty() || e.path.starts_with('/') {
                return Err(Error::input(
                    "lock-file",
                    format!("{shown}: `{}` is not a mount/ and a path", e.key()),
                ));
            }
            if !seen.insert(e.key()) {
                return Err(Error::input(
                    "lock-file",
                    format!("{shown}: `{}` is listed twice", e.key()),
                ));
            }
        }
        Ok(lock)
    }

    /// The entry for `mount` + `path` in `namespace` (empty: root).
    pub fn get(&self, namespace: &str, mount: &str, path: &str) -> Option<&Entry> {
        self.secrets
            .iter()
            .find(|e| e.namespace == namespace && e.mount == mount && e.path == path)
    }

    /// The file's text: a header, then stable, sorted YAML.
    pub fn render(&self) -> String {
        let mut secrets = self.secrets.clone();
        secrets.sort_by_key(Entry::key);
        let mut out = String::from(
            "# packer-vault.lock: the version of each KV v2 secret that builds of this commit use.\n\
             # It holds no secret values, only paths and versions. Update it with `packer-vault lock`;\n\
             # check it with `packer-vault lock --check`.\n",
        );
        out.push_str(&format!("lock-version: {FORMAT}\ndigest: {}\n", self.digest));
        out.push_str(if secrets.is_empty() {
            "secrets: []\n"
        } else {
            "secrets:\n"
        });
        for e in &secrets {
            if e.namespace.is_empty() {
                out.push_str("  - ");
            } else {
                out.push_str(&format!("  - namespace: {}\n    ", quote(&e.namespace)));
            }
            out.push_str(&format!(
                "mount: {}\n    path: {}\n    version: {}\n    created_time: {}\n",
                quote(&e.mount),
                quote(&e.path),
                e.version,
                quote(&e.created_time)
            ));
        }
        if !self.not_lockable.is_empty() {
            out.push_str("not-lockable:\n");
            for u in &self.not_lockable {
                out.push_str(&format!(
                    "  - path: {}\n    reason: {}\n",
                    quote(&u.path),
                    quote(&u.reason)
                ));
            }
        }
        out
    }

    /// Builds the lock from what a read of the spec returned.
    pub fn from_reads(reads: &[Read], digest: String) -> LockFile {
        let mut lock = LockFile {
            lock_version: FORMAT,
            digest,
            ..Default::default()
        };
        for r in reads {
            let ns = r.namespace.clone().unwrap_or_default();
            match (r.engine, &r.mount, &r.name, r.version) {
                (Engine::Kv2, Some(m), Some(n), Some(v)) => {
                    if lock.get(&ns, m, n).is_none() {
                        lock.secrets.push(Entry {
                            namespace: ns,
                            mount: m.clone(),
                            path: n.clone(),
                            version: v,
                            created_time: r.created_time.clone().unwrap_or_default(),
                        });
                    }
                }
                (Engine::Kv1, ..) => lock.not_lockable.push(Unlockable {
                    path: r.path.clone(),
                    reason: "KV v1 keeps no versions".into(),
                }),
                _ => lock.not_lockable.push(Unlockable {
                    path: r.path.clone(),
                    reason: "dynamic secret: every read issues a new credential".into(),
                }),
            }
        }
        lock.secrets.sort_by_key(Entry::key);
        lock
    }

    /// The read `req` becomes if the lock is right about its mount: KV v2
    /// at the locked version. Matched on the path as written (with or
    /// without `data/`) in the namespace it is read in (`login`'s, unless
    /// the request names its own), a child namespace's path included, so it
    /// needs no request; `None` when the lock does not hold the path or an
    /// explicit `@N` disagrees with it.
    pub fn guess(&self, req: &Request, login: Option<&str>) -> Option<Plan> {
        if req.method != Method::Get {
            return None;
        }
        let base = req.namespace.as_deref().or(login).unwrap_or("");
        // How a request in `base` addresses the entry's mount, when it can.
        let prefix = |e: &Entry| -> Option<String> {
            if e.namespace == base {
                return Some(e.mount.clone());
            }
            let child = if base.is_empty() {
                e.namespace.as_str()
            } else {
                e.namespace.strip_prefix(base)?.strip_prefix('/')?
            };
            (!child.is_empty()).then(|| format!("{child}/{}", e.mount))
        };
        let (e, mount) = self.secrets.iter().find_map(|e| {
            let m = prefix(e)?;
            (req.path == format!("{m}data/{}", e.path) || req.path == format!("{m}{}", e.path)).then_some((e, m))
        })?;
        if req.version.is_some_and(|v| v != e.version) {
            return None;
        }
        Some(Plan::Kv2 {
            mount,
            name: e.path.clone(),
            version: Some(e.version),
        })
    }
}

/// YAML double-quoted string. Characters YAML does not allow unescaped (C0
/// and C1 controls, DEL, U+FFFE, U+FFFF) or may read as a line break or byte
/// order mark (U+2028, U+2029, U+FEFF) are written as `\uXXXX`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A version pinned by the lock, for diagnostics.
#[derive(Debug, Clone)]
pub struct Pin {
    /// The namespace that holds it (empty: root).
    pub namespace: String,
    /// Mount path (`secret/`), inside the namespace.
    pub mount: String,
    /// Path in the mount.
    pub path: String,
    /// Locked version.
    pub version: u64,
}

/// The spec's requests with the lock applied.
#[derive(Debug)]
pub struct Pinned {
    /// Requests, KV v2 ones carrying their locked version.
    pub requests: Vec<Request>,
    /// `mount/path` of every secret whose version came from the lock.
    pub locked: BTreeSet<String>,
    /// The pins, to explain a failed read.
    pub pins: Vec<Pin>,
}

/// Applies `lock` to `requests`, given the mount detected for each (in the
/// same order) and the login's namespace: KV v2 reads get the version
/// locked for their namespace, mount and path; an explicit `@N` must agree
/// with it; with `locked`, a KV v2 secret missing from the lock is an error.
/// Sends nothing.
pub fn pin(
    requests: &[Request],
    found: &[std::result::Result<Option<Mount>, Failure>],
    lock: &LockFile,
    locked: bool,
    login: Option<&str>,
) -> Result<Pinned> {
    let mut out = Pinned {
        requests: Vec::new(),
        locked: BTreeSet::new(),
        pins: Vec::new(),
    };
    for (req, mount) in requests.iter().zip(found) {
        let mut req = req.clone();
        let mount = mount.clone()?;
        if let Some(m) = mount.filter(|m| m.engine == Engine::Kv2 && req.method == Method::Get) {
            let rel = &req.path[m.path.len()..];
            let name = rel.strip_prefix("data/").unwrap_or(rel).to_string();
            let base = req.namespace.as_deref().or(login);
            let ns = match &m.child {
                Some(c) => crate::namespace::join(base, c),
                None => base.unwrap_or("").to_string(),
            };
            let own = m.own_path().to_string();
            let key = key(&ns, &own, &name);
            match (req.version, lock.get(&ns, &own, &name)) {
                (Some(v), Some(e)) if v != e.version => {
                    return Err(Error::input(
                        "secrets",
                        format!(
                            "`{}` pins version {v} but packer-vault.lock has version {} for `{key}`: change one of them",
                            req.path, e.version
                        ),
                    ));
                }
                (_, Some(e)) => {
                    req.version = Some(e.version);
                    out.locked.insert(key);
                    out.pins.push(Pin {
                        namespace: ns,
                        mount: own,
                        path: name,
                        version: e.version,
                    });
                }
                (None, None) if locked => {
                    return Err(Error::input(
                        "locked",
                        format!(
                            "`{key}` is not in packer-vault.lock and `locked` is on: run `packer-vault lock` and commit the lock"
                        ),
                    ));
                }
                _ => {}
            }
        }
        out.requests.push(req);
    }
    Ok(out)
}

/// Explains a failed read of locked versions: which one was deleted or
/// destroyed, and what to do. `None` when every locked version is readable.
pub async fn diagnose(vault: &Vault, pins: &[Pin]) -> Option<Error> {
    for p in pins {
        let api = format!("{}data/{}?version={}", p.mount, p.path, p.version);
        let key = key(&p.namespace, &p.mount, &p.path);
        let what = format!("check version {} of `{key}`", p.version);
        let inside = vault.at(Some(p.namespace.clone()).filter(|n| !n.is_empty()));
        let res = inside.raw_full(reqwest::Method::GET, &api, None, &what).await;
        let meta = match &res {
            Ok((404, body)) => body["data"]["metadata"].clone(),
            Err(f) if f.status == Some(404) => {
                return Some(Error::failed(format!(
                    "`{key}` has no version {} (locked in packer-vault.lock): run `packer-vault lock` to lock the current version",
                    p.version
                )));
            }
            _ => continue,
        };
        if meta["destroyed"].as_bool() == Some(true) {
            return Some(Error::failed(format!(
                "`{key}` version {} (locked in packer-vault.lock) was destroyed: run `packer-vault lock` to move to the current version",
                p.version
            )));
        }
        if meta["deletion_time"].as_str().is_some_and(|t| !t.is_empty()) {
            return Some(Error::failed(format!(
                "`{key}` version {v} (locked in packer-vault.lock) was deleted: undelete it (`vault kv undelete -mount={m} -versions={v} {path}`) or run `packer-vault lock` to move on",
                v = p.version,
                m = p.mount.trim_end_matches('/'),
                path = p.path
            )));
        }
    }
    None
}

#[cfg(test)]
mod tests;
