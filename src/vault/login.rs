//! Logging in: JWT/OIDC role login, or an existing token (looked up).

use super::{Failure, SERVICE, Vault, retry};
use crate::secret::Secret;
use reqwest::Method;
use serde_json::{Value, json};

/// A Vault token and what Vault said about it.
#[derive(Debug, Clone)]
pub struct Login {
    /// The client token.
    pub token: Secret,
    /// Its accessor (not secret: it can only look up or revoke).
    pub accessor: String,
    /// Policies attached to the token.
    pub policies: Vec<String>,
    /// TTL in seconds (0: no expiry).
    pub ttl: u64,
    /// Whether the token can be renewed.
    pub renewable: bool,
    /// When Vault answered: the TTL counts from here.
    pub issued: std::time::Instant,
}

/// `POST auth/<mount>/login {role, jwt}`, retried on transient failures
/// (honouring `Retry-After`) within [`retry::LOGIN_DEADLINE`].
pub async fn jwt(vault: &Vault, mount: &str, role: &str, jwt: &Secret) -> Result<Login, Failure> {
    let what = format!("login with role `{role}` on auth/{mount}");
    let path = format!("auth/{mount}/login");
    let body = json!({"role": role, "jwt": jwt.expose()});
    let policy = vault.policy.within(retry::LOGIN_DEADLINE);
    let v = retry::call(policy, SERVICE, &what, || {
        vault.raw(Method::POST, &path, Some(&body), &what)
    })
    .await?;
    from_answer(&v, &what)
}

/// The `auth` block of a login or `auth/token/create` answer as a [`Login`]
/// (parsed with vaultrs's typed `AuthInfo`).
pub fn from_answer(v: &Value, what: &str) -> Result<Login, Failure> {
    let auth: vaultrs::api::AuthInfo = crate::remote::decode::value(v["auth"].clone()).map_err(|e| {
        Failure::status(
            SERVICE,
            what,
            200,
            vec![format!("the answer has no usable `auth` block ({e})")],
        )
    })?;
    if auth.client_token.is_empty() {
        return Err(Failure::status(
            SERVICE,
            what,
            200,
            vec!["the answer has no auth.client_token".into()],
        ));
    }
    let mut policies = auth.token_policies.clone();
    for p in auth.policies {
        if !policies.contains(&p) {
            policies.push(p);
        }
    }
    Ok(Login {
        token: Secret::new(auth.client_token),
        accessor: auth.accessor,
        policies,
        ttl: auth.lease_duration,
        renewable: auth.renewable,
        issued: std::time::Instant::now(),
    })
}

/// Uses the token already set on `vault`: `auth/token/lookup-self`.
pub async fn lookup(vault: &Vault) -> Result<Login, Failure> {
    let what = "look up the Vault token (auth/token/lookup-self)";
    let policy = vault.policy.within(retry::LOGIN_DEADLINE);
    let vault = &vault.for_token();
    let v = retry::call(policy, SERVICE, what, || {
        vault.raw(Method::GET, "auth/token/lookup-self", None, what)
    })
    .await?;
    let data = &v["data"];
    Ok(Login {
        token: vault.token().cloned().unwrap_or_default(),
        accessor: data["accessor"].as_str().unwrap_or_default().to_string(),
        policies: strings(&data["policies"]),
        ttl: data["ttl"].as_u64().unwrap_or(0),
        renewable: data["renewable"].as_bool().unwrap_or(false),
        issued: std::time::Instant::now(),
    })
}

/// The namespace a token lives in (`None`: the root namespace), from its
/// own lookup sent without a namespace header (Vault finds a namespaced
/// token's home from the token itself); when that is refused, the lookup
/// in `vault`'s namespace says the token lives there.
pub async fn home(vault: &Vault) -> Result<Option<String>, Failure> {
    let what = "find the Vault token's namespace (auth/token/lookup-self)";
    let policy = vault.policy.within(retry::LOGIN_DEADLINE);
    let root = vault.at(None);
    let from_root = retry::call(policy, SERVICE, what, || {
        root.raw(Method::GET, "auth/token/lookup-self", None, what)
    })
    .await;
    match from_root {
        Ok(v) => Ok(v["data"]["namespace_path"]
            .as_str()
            .map(|p| p.trim_end_matches('/').to_string())
            .filter(|p| !p.is_empty())),
        Err(f) if f.status.is_some_and(|s| (400..500).contains(&s)) && vault.namespace().is_some() => {
            retry::call(policy, SERVICE, what, || {
                vault.raw(Method::GET, "auth/token/lookup-self", None, what)
            })
            .await?;
            Ok(vault.namespace().map(str::to_string))
        }
        Err(f) => Err(f),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}
