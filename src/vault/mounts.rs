//! Which mount serves a path, and whether it is KV v1, KV v2 or another
//! engine: `sys/internal/ui/mounts/<path>`, as `vault kv get` asks, cached
//! per namespace and first path segment so concurrent reads of one mount
//! ask once. A path may begin with namespaces below the one asked in
//! (`team-a/secret/ci/b` under `admin`): Vault answers the mount lookup
//! only in the namespace that holds the mount (OpenBao 2.7.2 answers the
//! parent a preflight 403), so when the lookup is refused the leading
//! segments are tried as child namespaces, asking there for the rest.

use super::{Failure, Vault, retry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The secrets engine behind a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// KV version 1.
    Kv1,
    /// KV version 2 (versioned).
    Kv2,
    /// Anything else (cloud engines, transit, ...): read as is.
    #[default]
    Other,
}

/// A mount as `sys/internal/ui/mounts` describes it.
#[derive(Debug, Clone, Default)]
pub struct Mount {
    /// Mount path with trailing `/`, e.g. `secret/`; for a mount of a child
    /// namespace, with that namespace in front (`team-a/secret/`), which is
    /// how requests in the parent address it.
    pub path: String,
    /// Its engine.
    pub engine: Engine,
    /// The child namespace, relative to the one asked in, that holds the
    /// mount (`team-a`); `None` when it is that namespace's own.
    pub child: Option<String>,
}

impl Mount {
    /// The mount path inside the namespace that holds it (`secret/`).
    pub fn own_path(&self) -> &str {
        match &self.child {
            Some(c) => self.path.strip_prefix(&format!("{c}/")).unwrap_or(&self.path),
            None => &self.path,
        }
    }
}

/// How many leading path segments are tried as child namespaces.
const MAX_CHILD_DEPTH: usize = 2;

/// Caches mount detection per first path segment; concurrent callers of the
/// same segment wait for one request.
#[derive(Default)]
pub struct Mounts {
    cells: Mutex<HashMap<String, Arc<OnceCell<Option<Mount>>>>>,
}

impl Mounts {
    /// The mount serving `path` in `vault`'s namespace.
    pub async fn find(&self, vault: &Vault, path: &str) -> Result<Option<Mount>, Failure> {
        let seg = format!(
            "{}\u{0}{}",
            vault.namespace().unwrap_or(""),
            path.split('/').next().unwrap_or(path)
        );
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            cells.entry(seg).or_default().clone()
        };
        let cached = cell.get_or_try_init(|| detect(vault, path)).await?.clone();
        match cached {
            Some(m) if path.starts_with(&m.path) => Ok(Some(m)),
            _ => detect(vault, path).await,
        }
    }
}

/// The mount of `path` in `vault`'s namespace or, when Vault will not say
/// there, in a child namespace its first segments name; `None` when Vault
/// will not say at all.
pub async fn detect(vault: &Vault, path: &str) -> Result<Option<Mount>, Failure> {
    if let Some(m) = ask(vault, path).await? {
        return Ok(Some(m));
    }
    let segs: Vec<&str> = path.split('/').collect();
    for k in 1..=MAX_CHILD_DEPTH.min(segs.len().saturating_sub(2)) {
        let child = segs[..k].join("/");
        if crate::namespace::check(&child).is_err() {
            break;
        }
        let inside = vault.at(Some(crate::namespace::join(vault.namespace(), &child)));
        if let Some(m) = ask(&inside, &segs[k..].join("/")).await? {
            return Ok(Some(Mount {
                path: format!("{child}/{}", m.path),
                engine: m.engine,
                child: Some(child),
            }));
        }
    }
    Ok(None)
}

/// `GET sys/internal/ui/mounts/<path>`; `None` when Vault will not say.
async fn ask(vault: &Vault, path: &str) -> Result<Option<Mount>, Failure> {
    let what = format!("find the mount of `{path}`");
    let api = format!("sys/internal/ui/mounts/{path}");
    let res = retry::call(vault.policy, super::SERVICE, &what, || {
        vault.raw(reqwest::Method::GET, &api, None, &what)
    })
    .await;
    let v = match res {
        Ok(v) => v,
        // Older servers or stricter policies: read the path as written.
        Err(f) if matches!(f.status, Some(400 | 403 | 404 | 405)) => return Ok(None),
        Err(f) => return Err(f),
    };
    let data = &v["data"];
    let Some(mpath) = data["path"].as_str() else {
        return Ok(None);
    };
    let version = data["options"]["version"].as_str().unwrap_or("1");
    let engine = match data["type"].as_str() {
        Some("kv" | "generic") if version == "2" => Engine::Kv2,
        Some("kv" | "generic") => Engine::Kv1,
        _ => Engine::Other,
    };
    let mut mpath = mpath.to_string();
    if !mpath.ends_with('/') {
        mpath.push('/');
    }
    // A lookup that crossed into a child namespace answers the mount's
    // path from the root namespace (`admin/team-a/secret/` for
    // `team-a/secret/x` asked in `admin`, measured on OpenBao 2.7.2): not a
    // prefix of the path asked; the caller then asks in the child.
    if !path.starts_with(&mpath) {
        return Ok(None);
    }
    Ok(Some(Mount {
        path: mpath,
        engine,
        child: None,
    }))
}
