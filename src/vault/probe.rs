//! Checking, one path at a time, that the secrets of a spec are readable
//! (for `doctor`): KV paths are read and their values dropped unshown;
//! other engines are asked about through `sys/capabilities-self`, because
//! reading them would issue credentials.

use super::mounts::{Engine, Mounts};
use super::read::{Item, select};
use super::{Failure, SERVICE, Vault, retry};
use crate::spec::{Method, Request};
use reqwest::Method as Http;
use serde_json::{Value, json};

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A KV secret was read and every selected key is there.
    Readable {
        /// KV v1 or v2.
        engine: Engine,
        /// KV v2 version read.
        version: Option<u64>,
        /// The keys selected (names only).
        keys: Vec<String>,
    },
    /// Not a KV path: the token's policies allow the request (not sent).
    Allowed {
        /// The capabilities Vault reports for the path.
        capabilities: Vec<String>,
    },
    /// 403, or the policies deny the path.
    Denied(String),
    /// 404: no such secret (or the version is deleted or destroyed).
    NotFound(String),
    /// Anything else (a missing key, a server error), explained.
    Failed(String),
}

/// One path of the spec and what its probe found.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The path as written in the spec.
    pub path: String,
    /// The namespace it was found in, absolute (`None`: root).
    pub namespace: Option<String>,
    /// The finding.
    pub outcome: Outcome,
    /// The values read (KV only), for checks that need them (HCP); never shown.
    pub items: Vec<Item>,
}

/// Probes `req`; never fails, the outcome says what went wrong.
pub async fn probe(vault: &Vault, mounts: &Mounts, req: &Request) -> Probe {
    let vault = &super::read::view(vault, req);
    let mut namespace = vault.namespace().map(str::to_string);
    let (outcome, items) = match mounts.find(vault, &req.path).await {
        Err(f) => (from_failure(f), Vec::new()),
        Ok(Some(m)) if m.engine != Engine::Other && req.method == Method::Get && req.path.starts_with(&m.path) => {
            if let Some(c) = &m.child {
                namespace = Some(crate::namespace::join(vault.namespace(), c));
            }
            let rel = &req.path[m.path.len()..];
            let mount = m.path.trim_end_matches('/');
            let api = match (m.engine, req.version) {
                (Engine::Kv2, Some(v)) => {
                    format!("{mount}/data/{}?version={v}", rel.strip_prefix("data/").unwrap_or(rel))
                }
                (Engine::Kv2, None) => format!("{mount}/data/{}", rel.strip_prefix("data/").unwrap_or(rel)),
                _ => format!("{mount}/{rel}"),
            };
            kv(vault, req, m.engine, &api).await
        }
        Ok(_) => (capabilities(vault, req).await, Vec::new()),
    };
    Probe {
        path: req.path.clone(),
        namespace,
        outcome,
        items,
    }
}

async fn kv(vault: &Vault, req: &Request, engine: Engine, api: &str) -> (Outcome, Vec<Item>) {
    let what = format!("read `{}`", req.path);
    let res = retry::call(vault.policy, SERVICE, &what, || {
        vault.raw_full(Http::GET, api, None, &what)
    })
    .await;
    let (status, v) = match res {
        Ok(r) => r,
        Err(f) => return (from_failure(f), Vec::new()),
    };
    let (data, version) = match engine {
        Engine::Kv2 => (&v["data"]["data"], v["data"]["metadata"]["version"].as_u64()),
        _ => (&v["data"], None),
    };
    let Value::Object(map) = data else {
        let why = if status == 404 {
            "that version is deleted or destroyed"
        } else {
            "the answer holds no data"
        };
        return (Outcome::NotFound(why.into()), Vec::new());
    };
    match select(&req.path, map, &req.selectors) {
        Ok(items) => {
            let keys = items.iter().map(|i| i.key.clone()).collect();
            (Outcome::Readable { engine, version, keys }, items)
        }
        Err(e) => (Outcome::Failed(e), Vec::new()),
    }
}

/// `POST sys/capabilities-self {paths}` (the default policy allows it).
async fn capabilities(vault: &Vault, req: &Request) -> Outcome {
    let what = format!("ask Vault what the token may do on `{}`", req.path);
    let body = json!({ "paths": [req.path] });
    let res = retry::call(vault.policy, SERVICE, &what, || {
        vault.raw(Http::POST, "sys/capabilities-self", Some(&body), &what)
    })
    .await;
    let v = match res {
        Ok(v) => v,
        Err(f) => return from_failure(f),
    };
    let caps: Vec<String> = v
        .get(&req.path)
        .or_else(|| v.get("capabilities"))
        .or_else(|| v["data"].get("capabilities"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let needed: &[&str] = match req.method {
        Method::Get => &["read", "root"],
        Method::Post => &["update", "create", "root"],
    };
    if caps.iter().any(|c| needed.contains(&c.as_str())) {
        Outcome::Allowed { capabilities: caps }
    } else {
        let verb = if req.method == Method::Get { "read" } else { "update" };
        let caps = if caps.is_empty() {
            "none".into()
        } else {
            caps.join(", ")
        };
        Outcome::Denied(format!(
            "the token's policies do not allow {verb} (capabilities: {caps})"
        ))
    }
}

fn from_failure(f: Failure) -> Outcome {
    match f.status {
        Some(403) => Outcome::Denied("403 permission denied: the role's policies do not allow reading it".into()),
        Some(404) => Outcome::NotFound("404: no such secret".into()),
        _ => Outcome::Failed(f.to_string()),
    }
}
