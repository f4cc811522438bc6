//! Which mount serves a path, and whether it is KV v1, KV v2 or another
//! engine: `sys/internal/ui/mounts/<path>`, as `vault kv get` asks, cached
//! per first path segment so concurrent reads of one mount ask once.

use super::{Failure, Vault, retry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The secrets engine behind a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// KV version 1.
    Kv1,
    /// KV version 2 (versioned).
    Kv2,
    /// Anything else (cloud engines, transit, ...): read as is.
    Other,
}

/// A mount as `sys/internal/ui/mounts` describes it.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Mount path with trailing `/`, e.g. `secret/`.
    pub path: String,
    /// Its engine.
    pub engine: Engine,
}

/// Caches mount detection per first path segment; concurrent callers of the
/// same segment wait for one request.
#[derive(Default)]
pub struct Mounts {
    cells: Mutex<HashMap<String, Arc<OnceCell<Option<Mount>>>>>,
}

impl Mounts {
    /// The mount serving `path`.
    pub async fn find(&self, vault: &Vault, path: &str) -> Result<Option<Mount>, Failure> {
        let seg = path.split('/').next().unwrap_or(path).to_string();
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

/// `GET sys/internal/ui/mounts/<path>`; `None` when Vault will not say.
pub async fn detect(vault: &Vault, path: &str) -> Result<Option<Mount>, Failure> {
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
    Ok(Some(Mount { path: mpath, engine }))
}
