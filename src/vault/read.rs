//! Reading the secrets of a spec: one concurrent wave, one request per
//! distinct path, KV version detected per mount (cached, concurrent).

use super::{Failure, Vault, retry};
use crate::config::spec::{Method, Request, Selector, default_env_name};
use crate::error::{Error, Result};
use crate::secret::Secret;
use futures_util::future::join_all;
use serde_json::{Map, Value};
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

/// One value taken from a secret, bound for one environment variable.
#[derive(Debug, Clone)]
pub struct Item {
    /// Variable name.
    pub env: String,
    /// Key in the secret's data.
    pub key: String,
    /// The value.
    pub value: Secret,
}

/// The outcome of one request.
#[derive(Debug, Clone)]
pub struct Read {
    /// The path as written in the spec.
    pub path: String,
    /// The engine.
    pub engine: Engine,
    /// Mount path (`secret/`), when known.
    pub mount: Option<String>,
    /// Path inside the mount (KV), without `data/`.
    pub name: Option<String>,
    /// KV v2 version read.
    pub version: Option<u64>,
    /// KV v2 creation time of that version.
    pub created_time: Option<String>,
    /// Lease id of a dynamic secret.
    pub lease_id: Option<String>,
    /// Lease duration in seconds (0: none).
    pub lease_duration: u64,
    /// Whether the lease can be renewed.
    pub renewable: bool,
    /// The values taken.
    pub items: Vec<Item>,
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

/// Reads every request concurrently. All failures are reported together,
/// each naming its path (and key), never a value.
pub async fn read_all(vault: &Vault, requests: &[Request]) -> Result<Vec<Read>> {
    read_all_with(vault, &Mounts::default(), requests).await
}

/// [`read_all`] reusing a mount cache filled earlier (e.g. by the lock).
pub async fn read_all_with(vault: &Vault, mounts: &Mounts, requests: &[Request]) -> Result<Vec<Read>> {
    let results = join_all(requests.iter().map(|r| read_one(vault, mounts, r))).await;
    let mut reads = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(read) => reads.push(read),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        let head = if n == 1 {
            String::new()
        } else {
            format!("{n} secrets could not be read:\n  ")
        };
        return Err(Error::Failed(format!("{head}{}", errors.join("\n  "))));
    }
    check_unique_envs(&reads)?;
    Ok(reads)
}

async fn read_one(vault: &Vault, mounts: &Mounts, req: &Request) -> Result<Read, String> {
    let mount = mounts.find(vault, &req.path).await.map_err(|f| f.to_string())?;
    let mut read = Read {
        path: req.path.clone(),
        engine: Engine::Other,
        mount: None,
        name: None,
        version: None,
        created_time: None,
        lease_id: None,
        lease_duration: 0,
        renewable: false,
        items: Vec::new(),
    };
    let data = match mount {
        // The mount path comes from the server: slice only under a prefix.
        Some(m) if m.engine != Engine::Other && req.method == Method::Get && req.path.starts_with(&m.path) => {
            let rel = &req.path[m.path.len()..];
            let mname = m.path.trim_end_matches('/');
            read.engine = m.engine;
            read.mount = Some(m.path.clone());
            if m.engine == Engine::Kv1 {
                if req.version.is_some() {
                    return Err(format!(
                        "`{}`: version pins need KV v2, but `{}` is KV v1",
                        req.path, m.path
                    ));
                }
                read.name = Some(rel.to_string());
                read_kv1(vault, mname, rel).await?
            } else {
                let rel = rel.strip_prefix("data/").unwrap_or(rel);
                if rel.starts_with("metadata/") || rel.is_empty() {
                    return Err(format!("`{}`: name a secret, not KV v2 metadata", req.path));
                }
                read.name = Some(rel.to_string());
                read_kv2(vault, mname, rel, req.version, &mut read).await?
            }
        }
        _ => {
            if req.version.is_some() {
                return Err(format!("`{}`: version pins need a KV v2 mount", req.path));
            }
            read_other(vault, req, &mut read).await?
        }
    };
    read.items = select(&req.path, &data, &req.selectors)?;
    Ok(read)
}

async fn read_kv2(
    vault: &Vault,
    mount: &str,
    name: &str,
    version: Option<u64>,
    read: &mut Read,
) -> Result<Map<String, Value>, String> {
    let shown = match version {
        Some(v) => format!("`{mount}/{name}` version {v}"),
        None => format!("`{mount}/{name}`"),
    };
    let what = format!("read {shown}");
    let api = match version {
        Some(v) => format!("{mount}/data/{name}?version={v}"),
        None => format!("{mount}/data/{name}"),
    };
    // A deleted or destroyed version is a 404 that still carries metadata.
    let (_, v) = retry::call(vault.policy, super::SERVICE, &what, || {
        vault.raw_full(reqwest::Method::GET, &api, None, &what)
    })
    .await
    .map_err(|f| explain(f, &shown))?;
    // vaultrs's typed KV v2 answer: the data and the version's metadata.
    let answer: vaultrs::api::kv2::responses::ReadSecretResponse = serde_json::from_value(v["data"].clone())
        .map_err(|e| format!("{shown}: Vault's answer is not a KV v2 secret ({e})"))?;
    let meta = answer.metadata;
    read.version = Some(meta.version);
    read.created_time = Some(meta.created_time);
    match answer.data {
        Value::Object(m) => Ok(m),
        _ if meta.destroyed => Err(format!("{shown}: version {} was destroyed", meta.version)),
        _ if !meta.deletion_time.is_empty() => Err(format!("{shown}: version {} was deleted", meta.version)),
        _ => Err(format!("{shown}: the answer holds no data map")),
    }
}

async fn read_kv1(vault: &Vault, mount: &str, name: &str) -> Result<Map<String, Value>, String> {
    let shown = format!("`{mount}/{name}`");
    let what = format!("read {shown}");
    let api = format!("{mount}/{name}");
    let v = retry::call(vault.policy, super::SERVICE, &what, || {
        vault.raw(reqwest::Method::GET, &api, None, &what)
    })
    .await
    .map_err(|f| explain(f, &shown))?;
    // KV v1's lease_duration is a refresh hint, not a lease: not reported.
    match v.get("data") {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(format!("{shown}: the answer holds no data map")),
    }
}

async fn read_other(vault: &Vault, req: &Request, read: &mut Read) -> Result<Map<String, Value>, String> {
    let shown = format!("`{}`", req.path);
    let what = format!("read {shown}");
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
    };
    let body = req
        .body
        .clone()
        .or_else(|| (req.method == Method::Post).then(|| Value::Object(Map::new())));
    let v = retry::call(vault.policy, super::SERVICE, &what, || {
        vault.raw(method.clone(), &req.path, body.as_ref(), &what)
    })
    .await
    .map_err(|f| explain(f, &shown))?;
    read.lease_id = v["lease_id"].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    read.lease_duration = v["lease_duration"].as_u64().unwrap_or(0);
    read.renewable = v["renewable"].as_bool().unwrap_or(false);
    match v.get("data") {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(format!("{shown}: the answer holds no data map")),
    }
}

fn explain(f: Failure, shown: &str) -> String {
    match f.status {
        Some(404) => format!("{shown}: not found (no such secret, or that version was deleted or destroyed)"),
        Some(403) => format!("{shown}: permission denied (the role's policies do not allow reading it)"),
        _ => f.to_string(),
    }
}

/// Applies the selectors of one request to the secret's data.
pub fn select(path: &str, data: &Map<String, Value>, selectors: &[Selector]) -> Result<Vec<Item>, String> {
    let string = |key: &str| -> Result<Option<String>, String> {
        match data.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "`{path}` key `{key}`: the value is a {}, not a string",
                match other {
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    Value::Array(_) => "list",
                    _ => "map",
                }
            )),
        }
    };
    let mut items = Vec::new();
    for s in selectors {
        match s {
            Selector::Key { key, env } => {
                let v = string(key)?.ok_or_else(|| {
                    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
                    keys.sort();
                    format!("`{path}` has no key `{key}` (keys: {})", keys.join(", "))
                })?;
                items.push(Item {
                    env: env.clone(),
                    key: key.clone(),
                    value: Secret::new(v),
                });
            }
            Selector::All => {
                for key in data.keys() {
                    let v = string(key)?.unwrap_or_default();
                    items.push(Item {
                        env: default_env_name(key),
                        key: key.clone(),
                        value: Secret::new(v),
                    });
                }
            }
            Selector::Preset(p) => {
                for (key, env, required) in p.keys() {
                    match string(key)? {
                        Some(v) => items.push(Item {
                            env: env.to_string(),
                            key: key.to_string(),
                            value: Secret::new(v),
                        }),
                        None if *required => return Err(format!("`{path}` has no key `{key}` that the preset needs")),
                        None => {}
                    }
                }
            }
        }
    }
    Ok(items)
}

fn check_unique_envs(reads: &[Read]) -> Result<()> {
    let mut seen: HashMap<&str, (&str, &str)> = HashMap::new();
    for r in reads {
        for i in &r.items {
            if let Some((p, k)) = seen.insert(&i.env, (&r.path, &i.key)) {
                if p == r.path && k == i.key {
                    continue;
                }
                return Err(Error::Failed(format!(
                    "variable `{}` would be set by `{p}` key `{k}` and by `{}` key `{}`",
                    i.env, r.path, i.key
                )));
            }
        }
    }
    Ok(())
}
