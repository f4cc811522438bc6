//! The Vault client: one reqwest client (timeouts, TLS, same-origin redirects,
//! DNS without the system resolver). Requests are sent here rather than
//! through vaultrs's client because the retries need `Retry-After`, 404
//! bodies (deleted KV versions) and a deadline per attempt, which vaultrs's
//! errors drop; vaultrs's typed answers (`AuthInfo`, KV v2's
//! `ReadSecretResponse`) still parse what comes back.

use super::Failure;
use crate::error::{Error, Result};
use crate::secret::Secret;
use reqwest::header::HeaderValue;
use serde_json::Value;
use std::time::Duration;

/// What a refused cross-origin redirect says (a permanent failure).
pub const REDIRECT_REFUSED: &str = "redirect to another origin refused";

/// Connect timeout for every Vault request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout for every Vault request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A Vault connection and, after login, its token.
#[derive(Clone)]
pub struct Vault {
    http: reqwest::Client,
    addr: String,
    namespace: Option<String>,
    /// Where the token lives, for its own operations (renew, revoke,
    /// lookup, children): the login's namespace, or in token mode the
    /// parent token's, which may differ from the one secrets are read in.
    token_namespace: Option<String>,
    token: Option<Secret>,
    /// Retry policy for every call.
    pub policy: super::retry::Policy,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("addr", &self.addr)
            .field("token", &self.token)
            .finish()
    }
}

/// TLS settings for Vault.
#[derive(Debug, Default, Clone)]
pub struct Tls {
    /// Extra PEM bundle to trust.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key, concatenated PEM.
    pub identity_pem: Option<Secret>,
    /// Skip verification (loud warning).
    pub skip_verify: bool,
}

impl Vault {
    /// Builds the client for `addr` (and the Enterprise `namespace`) from
    /// validated settings; makes no request.
    pub fn new(addr: &str, namespace: Option<String>, tls: &Tls) -> Result<Vault> {
        let addr = addr.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&addr).map_err(|e| Error::input("vault-addr", e))?;
        let http = http_client(url, tls)?;
        Ok(Vault {
            http,
            addr,
            token_namespace: namespace.clone(),
            namespace,
            token: None,
            policy: Default::default(),
        })
    }

    /// The Vault address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The namespace requests are sent in (`None`: the root namespace).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The same connection and token, sending requests in namespace `ns`
    /// (absolute; `None` for the root namespace).
    pub fn at(&self, ns: Option<String>) -> Vault {
        Vault {
            namespace: ns,
            ..self.clone()
        }
    }

    /// The same connection and token, sending requests where the token
    /// lives: for its own operations (renew-self, revoke-self, lookup-self,
    /// creating a child).
    pub fn for_token(&self) -> Vault {
        self.at(self.token_namespace.clone())
    }

    /// Says where the token lives (see [`Vault::for_token`]).
    pub fn set_token_namespace(&mut self, ns: Option<String>) {
        self.token_namespace = ns;
    }

    /// Uses `token` for every later request.
    pub fn set_token(&mut self, token: Secret) {
        self.token = Some(token);
    }

    /// The current token, if logged in.
    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// One raw request to `/v1/<path>`: the JSON answer of a 2xx (Null for
    /// 204), or a [`Failure`] with Vault's errors. Not retried here.
    pub(crate) async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, Failure> {
        Ok(self.raw_full(method, path, body, what).await?.1)
    }

    /// Like [`Vault::raw`], and also returns 404 bodies (KV v2 answers a
    /// deleted version with 404 and its metadata).
    pub(crate) async fn raw_full(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<(u16, Value), Failure> {
        let (status, retry_after, json) = self.send(method, path, body, what).await?;
        if status < 400 || (status == 404 && json.get("data").is_some_and(|d| !d.is_null())) {
            return Ok((status, json));
        }
        let errors = json
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        Err(Failure {
            service: super::SERVICE,
            what: what.into(),
            status: Some(status),
            errors,
            retry_after,
        })
    }

    /// One request to `/v1/<path>`: status, `Retry-After` seconds and the
    /// JSON body (Null when empty or not JSON), whatever the status. Fails
    /// only when no answer came. Redirects are followed by the client, to
    /// the same origin only.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<(u16, Option<u64>, Value), Failure> {
        let mut req = self
            .http
            .request(method, format!("{}/v1/{}", self.addr, path))
            .header("X-Vault-Request", "true");
        if let Some(t) = &self.token {
            let mut v = HeaderValue::from_str(t.expose()).map_err(|_| Failure {
                service: super::SERVICE,
                what: what.into(),
                status: None,
                errors: vec!["the Vault token is not a valid header value".into()],
                retry_after: None,
            })?;
            v.set_sensitive(true);
            req = req.header("X-Vault-Token", v);
        }
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| with_tls_hint(Failure::transport(super::SERVICE, what, &e)))?;
        let status = resp.status().as_u16();
        let retry_after = crate::remote::retry_after(resp.headers());
        let text = resp
            .text()
            .await
            .map_err(|e| Failure::transport(super::SERVICE, what, &e))?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        Ok((status, retry_after, json))
    }
}

/// Adds what to do about a certificate the client refused.
fn with_tls_hint(mut f: Failure) -> Failure {
    let text = f.errors.join(" ");
    let hint = if text.contains("UnknownIssuer") {
        "Vault's certificate is signed by a CA this runner does not trust: set ca-cert (VAULT_CACERT) to that CA's PEM"
    } else if text.contains("NotValidForName") {
        "Vault's certificate does not name the host of vault-addr: use the name the certificate was issued for"
    } else if text.contains("Expired") {
        "Vault's certificate has expired"
    } else {
        return f;
    };
    f.errors.push(hint.into());
    f
}

fn http_client(origin: reqwest::Url, settings: &Tls) -> Result<reqwest::Client> {
    let https = origin.scheme() == "https";
    let scheme = origin.scheme().to_string();
    let origin = origin.origin();
    // With tls-skip-verify nothing is checked, so no roots are needed.
    let extra = match (&settings.ca_pem, https) {
        (Some(ca), true) => {
            reqwest::Certificate::from_pem_bundle(ca).map_err(|_| Error::input("ca-cert", "not a PEM bundle"))?
        }
        _ => Vec::new(),
    };
    let mut b = crate::remote::client_builder(https && !settings.skip_verify, extra)
        .map_err(|e| Error::input("ca-cert", e))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("packer-vault/", env!("CARGO_PKG_VERSION")))
        // A redirect is followed only to the same origin (scheme, host,
        // port): reqwest drops `Authorization` on a cross-host redirect but
        // not `X-Vault-Token`, nor the JWT in a login's body. A standby that
        // redirects to the active node by its own address is refused with
        // a message that says what to do.
        .redirect(reqwest::redirect::Policy::custom(move |a| {
            if a.previous().len() >= 3 {
                a.error("more than 3 redirects")
            } else if a.url().scheme() != scheme {
                a.error("redirect to another scheme refused")
            } else if a.url().origin() != origin {
                let to = a.url().origin().ascii_serialization();
                a.error(format!(
                    "{REDIRECT_REFUSED} ({to}): set vault-addr to the active node or to the \
                     cluster's load balancer, which forwards requests itself"
                ))
            } else {
                a.follow()
            }
        }));
    if https {
        if let Some(id) = &settings.identity_pem {
            let id = reqwest::Identity::from_pem(id.expose().as_bytes())
                .map_err(|_| Error::input("client-key", "the certificate and key do not form a PEM identity"))?;
            b = b.identity(id);
        }
        if settings.skip_verify {
            crate::log::warn(
                "tls-skip-verify is on: the Vault server's certificate is NOT checked; anyone on the path can read your secrets",
            );
            b = b.tls_danger_accept_invalid_certs(true);
        }
    }
    b.build().map_err(|e| {
        Error::Failed(format!(
            "cannot set up the HTTP client: {}",
            crate::remote::error_chain(&e)
        ))
    })
}
