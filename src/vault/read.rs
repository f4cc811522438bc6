//! Reading the secrets of a spec: one request per distinct path, all at
//! once. Reads whose request is certain without asking Vault (a `data/`
//! path, a lock entry, a preset; see [`plan::guess`]) go out in the first
//! wave, beside mount detection (KV v1 or v2) for the others, which are
//! read in a second wave.

use super::mounts::{Engine, Mount, Mounts};
use super::plan::{self, Plan};
use super::{Failure, Vault, retry};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::spec::{Method, Request};
use futures_util::future::join_all;
use serde_json::{Map, Value};
use std::collections::HashMap;

mod select;
pub use select::select;

/// One value taken from a secret, bound for one environment variable.
#[derive(Debug, Clone)]
pub struct Item {
    /// Variable name.
    pub env: String,
    /// Key in the secret's data.
    pub key: String,
    /// The value.
    pub value: Secret,
    /// How it reaches the command.
    pub delivery: Delivery,
}

pub use crate::cloud::Delivery;

impl Item {
    fn value(env: &str, key: &str, value: String) -> Item {
        Item {
            env: env.to_string(),
            key: key.to_string(),
            value: Secret::new(value),
            delivery: Delivery::Value,
        }
    }
}

/// The outcome of one request.
#[derive(Debug, Clone)]
pub struct Read {
    /// The path as written in the spec.
    pub path: String,
    /// The engine.
    pub engine: Engine,
    /// Mount path inside its namespace (`secret/`), when known.
    pub mount: Option<String>,
    /// The namespace that holds the secret, absolute (`admin/team-a`);
    /// `None` for the root namespace.
    pub namespace: Option<String>,
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

impl Read {
    /// A read of `path` in `namespace` before its answer: nothing else
    /// known yet, nothing taken.
    pub fn new(path: &str, namespace: Option<String>) -> Read {
        Read {
            path: path.to_string(),
            engine: Engine::Other,
            mount: None,
            namespace,
            name: None,
            version: None,
            created_time: None,
            lease_id: None,
            lease_duration: 0,
            renewable: false,
            items: Vec::new(),
        }
    }
}

/// What the detection wave found: each request's mount (in the order of
/// the requests) and the answers to the reads sent alongside on a guess.
pub struct Prepared {
    mounts: Vec<Result<Option<Mount>, Failure>>,
    /// Answers by namespace and API path ([`sent_key`]); only GETs are ever
    /// sent on a guess.
    fetched: HashMap<String, Result<(u16, Value), Failure>>,
}

/// The connection a request is read through: in the long form's
/// `namespace:` when it has one, else in the login's.
pub fn view(vault: &Vault, req: &Request) -> Vault {
    match &req.namespace {
        Some(ns) => vault.at(Some(ns.clone())),
        None => vault.clone(),
    }
}

/// What identifies one request on the wire: its namespace and API path.
fn sent_key(req: &Request, api: &str) -> String {
    format!("{}\u{0}{api}", req.namespace.as_deref().unwrap_or(""))
}

impl Prepared {
    /// The mount found for each request, in the order of the requests.
    pub fn mounts(&self) -> &[Result<Option<Mount>, Failure>] {
        &self.mounts
    }
}

/// The first wave after login: every read whose request is already known
/// (`guesses[i]` is the plan assumed for `requests[i]`, see [`plan::guess`])
/// and, at the same time, mount detection for the others (once per first
/// path segment). A KV v2 guess whose answer is a KV v2 secret needs no
/// detection: the answer is the confirmation. Any other guess is used only
/// when detection agrees; an unconfirmed KV v2 guess is detected after.
pub async fn prepare(vault: &Vault, mounts: &Mounts, requests: &[Request], guesses: &[Option<Plan>]) -> Prepared {
    let mut calls: Vec<(&Request, &Plan, String)> = Vec::new();
    for (req, plan) in requests.iter().zip(guesses) {
        if let Some(plan) = plan {
            let key = sent_key(req, &plan.api(req));
            if !calls.iter().any(|(_, _, k)| *k == key) {
                calls.push((req, plan, key));
            }
        }
    }
    // A KV v2 guess confirms itself, but only on a one-segment mount: a
    // longer one (`team-a/secret/`) may be a child namespace's, which only
    // detection tells.
    let kv2_guess =
        |i: usize| matches!(guesses.get(i), Some(Some(Plan::Kv2 { mount, .. })) if mount.matches('/').count() == 1);
    let found = join_all(requests.iter().enumerate().map(|(i, r)| async move {
        if kv2_guess(i) {
            None
        } else {
            Some(mounts.find(&view(vault, r), &r.path).await)
        }
    }));
    let sent = join_all(calls.iter().map(|(req, plan, _)| send(vault, req, plan)));
    let (found, sent) = futures_util::future::join(found, sent).await;
    let fetched: HashMap<String, Result<(u16, Value), Failure>> =
        calls.into_iter().map(|(_, _, api)| api).zip(sent).collect();
    let confirm = |i: usize, r: &Request| -> Option<Mount> {
        let Some(Some(plan @ Plan::Kv2 { mount, .. })) = guesses.get(i) else {
            return None;
        };
        let Some(Ok((_, v))) = fetched.get(&sent_key(r, &plan.api(r))) else {
            return None;
        };
        is_kv2_secret(v).then(|| Mount {
            path: mount.clone(),
            engine: Engine::Kv2,
            child: None,
        })
    };
    let found = join_all(requests.iter().zip(found).enumerate().map(|(i, (r, f))| async move {
        match (f, confirm(i, r)) {
            (Some(f), _) => f,
            (None, Some(m)) => Ok(Some(m)),
            (None, None) => mounts.find(&view(vault, r), &r.path).await,
        }
    }))
    .await;
    Prepared { mounts: found, fetched }
}

/// Whether `answer` is what a KV v2 read returns: `data` (null for a deleted
/// version) beside `metadata` with a version.
fn is_kv2_secret(answer: &Value) -> bool {
    let data = &answer["data"];
    data.get("data").is_some() && data["metadata"]["version"].is_u64()
}

/// Reads every request concurrently. All failures are reported together,
/// each naming its path (and key), never a value.
pub async fn read_all(vault: &Vault, requests: &[Request]) -> Result<Vec<Read>> {
    let guesses: Vec<Option<Plan>> = plan::guess_all(requests);
    let prepared = prepare(vault, &Mounts::default(), requests, &guesses).await;
    read_prepared(vault, requests, prepared).await
}

/// The KV reads of `requests` alone, for `lock`: mounts are detected first
/// (nothing is read on a guess), and a request whose mount is no KV mount
/// (a dynamic engine, which would issue a credential) is never sent; its
/// path is returned instead. A mount that could not be detected is an error.
pub async fn read_kv(vault: &Vault, requests: &[Request]) -> Result<(Vec<Read>, Vec<String>)> {
    let prepared = prepare(vault, &Mounts::default(), requests, &vec![None; requests.len()]).await;
    let mut kv = Vec::new();
    let mut mounts = Vec::new();
    let mut skipped = Vec::new();
    for (req, m) in requests.iter().zip(prepared.mounts) {
        match m {
            Ok(Some(mount)) if matches!(mount.engine, Engine::Kv1 | Engine::Kv2) => {
                kv.push(req.clone());
                mounts.push(Ok(Some(mount)));
            }
            Ok(_) => skipped.push(req.path.clone()),
            Err(f) => {
                kv.push(req.clone());
                mounts.push(Err(f));
            }
        }
    }
    let prepared = Prepared {
        mounts,
        fetched: HashMap::new(),
    };
    Ok((read_prepared(vault, &kv, prepared).await?, skipped))
}

/// Finishes the reads after [`prepare`]: `requests` are those prepared (in
/// the same order, versions possibly pinned since); a read whose request
/// went out on a guess is not sent again.
pub async fn read_prepared(vault: &Vault, requests: &[Request], prepared: Prepared) -> Result<Vec<Read>> {
    let Prepared { mounts, fetched } = prepared;
    let fetched = &fetched;
    let results = join_all(requests.iter().zip(mounts).map(|(r, m)| read_one(vault, r, m, fetched))).await;
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

async fn read_one(
    vault: &Vault,
    req: &Request,
    mount: Result<Option<Mount>, Failure>,
    fetched: &HashMap<String, Result<(u16, Value), Failure>>,
) -> Result<Read, String> {
    let mount = mount.map_err(|f| f.to_string())?;
    let plan = Plan::new(req, mount.as_ref())?;
    let api = plan.api(req);
    let answer = match fetched.get(&sent_key(req, &api)).filter(|_| is_get(req, &plan)) {
        Some(Ok(a)) => Ok(a.clone()),
        // The same failure, named as this plan names the secret.
        Some(Err(f)) => Err(Failure {
            what: what(req, &plan),
            ..f.clone()
        }),
        None => send(vault, req, &plan).await,
    };
    let base = view(vault, req);
    let child = mount.as_ref().and_then(|m| m.child.as_deref());
    let namespace = match child {
        Some(c) => Some(crate::namespace::join(base.namespace(), c)),
        None => base.namespace().map(str::to_string),
    };
    let mut read = Read::new(&req.path, namespace);
    let data = interpret(req, &plan, answer, &mut read)?;
    // The mount as its own namespace names it (`secret/`, not `team-a/secret/`).
    if let (Some(m), Some(c)) = (read.mount.as_mut(), child)
        && let Some(own) = m.strip_prefix(&format!("{c}/"))
    {
        *m = own.to_string();
    }
    read.items = select(&req.path, &data, &req.selectors)?;
    Ok(read)
}

fn is_get(req: &Request, plan: &Plan) -> bool {
    !matches!(plan, Plan::Other) || req.method == Method::Get
}

fn what(req: &Request, plan: &Plan) -> String {
    format!("read {}", plan.shown(req))
}

/// Sends the request of `plan` (retried): the status and JSON of a 2xx, or
/// of a 404 that carries data (KV v2's deleted versions).
async fn send(vault: &Vault, req: &Request, plan: &Plan) -> Result<(u16, Value), Failure> {
    let what = what(req, plan);
    let api = plan.api(req);
    let (method, body) = match (plan, req.method) {
        (Plan::Other, Method::Post) => (
            reqwest::Method::POST,
            Some(req.body.clone().unwrap_or_else(|| Value::Object(Map::new()))),
        ),
        _ => (reqwest::Method::GET, None),
    };
    let vault = &view(vault, req);
    retry::call(vault.policy, super::SERVICE, &what, || {
        vault.raw_full(method.clone(), &api, body.as_ref(), &what)
    })
    .await
}

/// Takes the data map out of an answer, filling in what the answer says
/// about the secret (engine, version, lease).
fn interpret(
    req: &Request,
    plan: &Plan,
    answer: Result<(u16, Value), Failure>,
    read: &mut Read,
) -> Result<Map<String, Value>, String> {
    let shown = plan.shown(req);
    let mut policy_path = format!("`{}`", plan.api(req).split('?').next().unwrap_or_default());
    // A mount the token may not look up gives no engine: name the KV v2
    // form too, which is what a policy for a KV v2 secret must allow.
    if matches!(plan, Plan::Other)
        && let Some((mount, rest)) = req.path.split_once('/')
        && !rest.starts_with("data/")
    {
        policy_path.push_str(&format!(" (on a KV v2 mount: `{mount}/data/{rest}`)"));
    }
    let capability = if req.method == Method::Post { "update" } else { "read" };
    let (status, v) = answer.map_err(|f| explain(f, &shown, &policy_path, capability))?;
    match plan {
        Plan::Kv2 { mount, name, .. } => {
            read.engine = Engine::Kv2;
            read.mount = Some(mount.clone());
            read.name = Some(name.clone());
            // A deleted or destroyed version is a 404 that still carries
            // metadata. vaultrs's typed KV v2 answer: data and metadata.
            let answer: vaultrs::api::kv2::responses::ReadSecretResponse =
                crate::remote::decode::value(v["data"].clone())
                    .map_err(|e| format!("{shown}: Vault's answer is not a KV v2 secret (data: {e})"))?;
            let meta = answer.metadata;
            read.version = Some(meta.version);
            read.created_time = Some(meta.created_time);
            return match answer.data {
                Value::Object(m) => Ok(m),
                _ if meta.destroyed => Err(format!("{shown}: version {} was destroyed", meta.version)),
                _ if !meta.deletion_time.is_empty() => Err(format!("{shown}: version {} was deleted", meta.version)),
                _ => Err(format!("{shown}: the answer holds no data map")),
            };
        }
        _ if status == 404 => return Err(explain_404(&shown)),
        Plan::Kv1 { mount, name } => {
            read.engine = Engine::Kv1;
            read.mount = Some(mount.clone());
            read.name = Some(name.clone());
            // KV v1's lease_duration is a refresh hint, not a lease: not reported.
        }
        Plan::Other => {
            read.lease_id = v["lease_id"].as_str().filter(|s| !s.is_empty()).map(str::to_string);
            read.lease_duration = v["lease_duration"].as_u64().unwrap_or(0);
            read.renewable = v["renewable"].as_bool().unwrap_or(false);
        }
    }
    match v.get("data") {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(format!("{shown}: the answer holds no data map")),
    }
}

fn explain_404(shown: &str) -> String {
    format!("{shown}: not found (no such secret, or that version was deleted or destroyed)")
}

fn explain(f: Failure, shown: &str, policy_path: &str, capability: &str) -> String {
    match f.status {
        Some(404) => explain_404(shown),
        Some(403) => format!(
            "{shown}: permission denied: the role's policies must allow `{capability}` on {policy_path} \
             (Vault answered 403)"
        ),
        _ => f.to_string(),
    }
}

/// Every value read, with the variable the spec puts it in, in spec order:
/// the one mapping from reads to names that `exec`, `build` and `export` use.
pub fn variables(reads: &[Read]) -> impl Iterator<Item = (&str, &Secret)> {
    reads.iter().flat_map(|r| {
        r.items
            .iter()
            .filter(|i| i.delivery == Delivery::Value)
            .map(|i| (i.env.as_str(), &i.value))
    })
}

/// [`variables`] as the child's environment (`exec`, `build`).
pub fn environment(reads: &[Read]) -> Vec<(String, Secret)> {
    variables(reads).map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn check_unique_envs(reads: &[Read]) -> Result<()> {
    let mut seen: HashMap<&str, (&str, &str)> = HashMap::new();
    for r in reads {
        for i in r.items.iter().filter(|i| i.delivery != Delivery::Masked) {
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
