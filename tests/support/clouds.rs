//! Stand-ins for what OpenBao does not ship: Vault's GCP, Azure and AWS
//! secrets engines (mounted on a [`Proxy`] in front of the real OpenBao,
//! which still does the login, the KV reads, the renewal and the token's
//! revocation), and Azure AD's token endpoint.
//!
//! Engine shapes, as Vault answers them (vault-plugin-secrets-gcp, -azure,
//! Vault's AWS engine):
//! * `GET gcp/roleset/<n>/key`, `gcp/static-account/<n>/key`: leased and
//!   revocable; `data.private_key_data` is the base64 of a JSON key file
//!   (`type: service_account`, `project_id`, `private_key_id`,
//!   `private_key` a PEM, `client_email`, ...), `key_algorithm`, `key_type`.
//! * `GET gcp/{roleset,static-account,impersonated-account}/<n>/token`: no
//!   lease; `data.token`, `token_ttl`, `expires_at_seconds`.
//! * `GET azure/creds/<role>`: leased; `data.client_id`, `data.client_secret`.
//! * `GET|POST aws/sts/<role>`: `data.access_key`, `secret_key`,
//!   `security_token`, `arn`; a lease that is neither renewable nor
//!   revocable in effect.
//!
//! Every lease is recorded with the token that read it; the token's
//! `auth/token/revoke-self` (forwarded to OpenBao) revokes them, as Vault's
//! expiration manager does, so a test can ask which are still alive.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::bao::{bao, block_on};
use super::proxy::{Intercepted, Proxy};

fn random(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(len).collect()
}

/// One credential the engines issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// `gcp-key`, `gcp-token`, `azure`, `aws-sts`.
    pub kind: &'static str,
    /// The lease id (empty: none).
    pub lease_id: String,
    /// The token that read it.
    pub token: String,
    /// Whether its lease is revoked.
    pub revoked: bool,
    /// Every secret value in the answer, labelled.
    pub secrets: Vec<(String, String)>,
}

#[derive(Default)]
struct EngineState {
    issued: Vec<Issued>,
}

/// OpenBao behind a proxy that also serves the cloud engines.
pub struct CloudEngines {
    proxy: Proxy,
    state: Arc<Mutex<EngineState>>,
}

/// A GCP JSON key file as Vault's engine encodes it (pretty-printed, the
/// private key a PEM with `\n` escapes inside the JSON string).
fn gcp_key_file() -> (String, Vec<(String, String)>) {
    let key_id = format!("{:040x}", fastrand::u128(..));
    let body: Vec<String> = (0..6).map(|_| random(64)).collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.join("\n")
    );
    let file = serde_json::to_string_pretty(&json!({
        "type": "service_account",
        "project_id": "acme-images",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": "packer@acme-images.iam.gserviceaccount.com",
        "client_id": "104578832910437218811",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }))
    .expect("JSON");
    let mut secrets = vec![("gcp private_key_id".to_string(), key_id)];
    for (i, line) in body.iter().enumerate() {
        secrets.push((format!("gcp private_key line {i}"), line.clone()));
    }
    secrets.push(("gcp key file".into(), file.clone()));
    (file, secrets)
}

impl CloudEngines {
    /// Starts the proxy in front of the shared OpenBao.
    pub fn start() -> CloudEngines {
        let proxy = Proxy::start(&bao().addr);
        let state = Arc::new(Mutex::new(EngineState::default()));
        let s = state.clone();
        proxy.intercept(Arc::new(move |r: &Intercepted| answer(&s, r)));
        CloudEngines { proxy, state }
    }

    /// The proxy in front of OpenBao, for faults and request counts.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// The address to use as `vault-addr`.
    pub fn addr(&self) -> &str {
        self.proxy.addr()
    }

    /// Everything issued so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.lock().unwrap().issued.clone()
    }

    /// Leases issued and not revoked (AWS STS ones aside: Vault cannot
    /// revoke an assumed role's or federation token's credentials).
    pub fn live_leases(&self) -> Vec<Issued> {
        self.issued()
            .into_iter()
            .filter(|i| !i.lease_id.is_empty() && !i.revoked && i.kind != "aws-sts")
            .collect()
    }

    /// Every secret value issued, labelled, for leak scans.
    pub fn secrets(&self) -> Vec<(String, String)> {
        self.issued().into_iter().flat_map(|i| i.secrets).collect()
    }
}

fn answer(state: &Mutex<EngineState>, r: &Intercepted) -> Option<(u16, String)> {
    let path = r.path.split('?').next().unwrap_or("");
    let rest = path.strip_prefix("/v1/")?;
    let token = r.token.clone().unwrap_or_default();
    if rest == "auth/token/revoke-self" {
        // Forwarded to OpenBao; its leases go with it, as in Vault.
        for i in state.lock().unwrap().issued.iter_mut().filter(|i| i.token == token) {
            i.revoked = true;
        }
        return None;
    }
    let seg: Vec<&str> = rest.split('/').collect();
    let lease = || format!("{}/{}", rest, random(24));
    let (kind, lease_id, renewable, ttl, data, secrets): (
        &'static str,
        String,
        bool,
        u64,
        Value,
        Vec<(String, String)>,
    ) = match (r.method.as_str(), seg.as_slice()) {
        ("GET", ["gcp", "roleset" | "static-account", _, "key"]) => {
            let (file, secrets) = gcp_key_file();
            let data = json!({
                "private_key_data": base64::engine::general_purpose::STANDARD.encode(&file),
                "key_algorithm": "KEY_ALG_RSA_2048",
                "key_type": "TYPE_GOOGLE_CREDENTIALS_FILE",
            });
            ("gcp-key", lease(), true, 3600, data, secrets)
        }
        ("GET" | "POST", ["gcp", "roleset" | "static-account" | "impersonated-account", _, "token"]) => {
            let token = format!("ya29.{}", random(120));
            let data = json!({
                "token": token,
                "token_ttl": 3599,
                "expires_at_seconds": 1_900_000_000u64,
            });
            (
                "gcp-token",
                String::new(),
                false,
                0,
                data,
                vec![("gcp access token".into(), token)],
            )
        }
        ("GET", ["azure", "creds", _]) => {
            let (id, secret) = (
                format!(
                    "{:08x}-4b1e-4c7a-9d2f-{:012x}",
                    fastrand::u32(..),
                    fastrand::u64(..) >> 16
                ),
                format!("Qx8Q~{}", random(34)),
            );
            let data = json!({ "client_id": id, "client_secret": secret });
            let secrets = vec![("azure client_id".into(), id), ("azure client_secret".into(), secret)];
            ("azure", lease(), true, 3600, data, secrets)
        }
        ("GET" | "POST", ["aws", "sts", role]) => {
            let (access, secret, session) = (
                format!("ASIA{}", random(16).to_uppercase()),
                random(40),
                format!("FwoGZXIvYXdzE{}", random(200)),
            );
            let data = json!({
                "access_key": access,
                "secret_key": secret,
                "security_token": session,
                "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/vault-{}", random(8)),
            });
            let secrets = vec![
                ("aws access_key".into(), access),
                ("aws secret_key".into(), secret),
                ("aws session token".into(), session),
            ];
            ("aws-sts", lease(), false, 3599, data, secrets)
        }
        ("PUT" | "POST", ["sys", "leases", "renew"]) => {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let id = body["lease_id"].as_str().unwrap_or_default().to_string();
            let s = state.lock().unwrap();
            let known = s.issued.iter().find(|i| i.lease_id == id)?;
            if known.revoked {
                return Some((400, json!({ "errors": ["lease not found"] }).to_string()));
            }
            return Some((
                200,
                json!({ "lease_id": id, "renewable": true, "lease_duration": 3600 }).to_string(),
            ));
        }
        _ => return None,
    };
    state.lock().unwrap().issued.push(Issued {
        kind,
        lease_id: lease_id.clone(),
        token,
        revoked: false,
        secrets,
    });
    Some((
        200,
        json!({
            "request_id": format!("{:032x}", fastrand::u128(..)),
            "lease_id": lease_id,
            "renewable": renewable,
            "lease_duration": ttl,
            "data": data,
            "wrap_info": null,
            "warnings": null,
            "auth": null,
        })
        .to_string(),
    ))
}

/// Azure AD's token endpoint (`/<tenant>/oauth2/v2.0/token`, client
/// credentials): a new application secret is refused with AADSTS700016 for
/// its first `refusals` requests, as while Azure AD replicates it, then
/// accepted with a token.
pub struct AzureAd {
    server: MockServer,
    state: Arc<Mutex<BTreeMap<String, usize>>>,
}

struct AdResponder {
    refusals: usize,
    state: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Respond for AdResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form = super::hcp::form(&String::from_utf8_lossy(&request.body));
        let id = form.get("client_id").cloned().unwrap_or_default();
        let grant = form.get("grant_type").map(String::as_str) == Some("client_credentials")
            && form.get("scope").map(String::as_str) == Some("https://management.azure.com/.default")
            && form.get("client_secret").is_some_and(|s| !s.is_empty());
        if !grant {
            return ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_request",
                "error_description": "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
                "error_codes": [900144],
            }));
        }
        let seen = {
            let mut s = self.state.lock().unwrap();
            let n = s.entry(id.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if seen <= self.refusals {
            return ResponseTemplate::new(400).set_body_json(json!({
                "error": "unauthorized_client",
                "error_description": format!(
                    "AADSTS700016: Application with identifier '{id}' was not found in the directory 'acme'. \
                     This can happen if the application has not been installed by the administrator of the tenant. \
                     Trace ID: 8c1f2a3b Correlation ID: 4d5e6f70 Timestamp: 2026-12-05 00:00:00Z"
                ),
                "error_codes": [700016],
                "timestamp": "2026-12-05 00:00:00Z",
                "trace_id": "8c1f2a3b",
                "correlation_id": "4d5e6f70",
            }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": format!("eyJ0eXAiOiJKV1Qi.{}", random(80)),
        }))
    }
}

impl AzureAd {
    /// Refuses each new client's first `refusals` requests.
    pub fn start(refusals: usize) -> AzureAd {
        let state = Arc::new(Mutex::new(BTreeMap::new()));
        let server = block_on(async {
            let server = MockServer::start().await;
            Mock::given(wiremock::matchers::method("POST"))
                .and(wiremock::matchers::path_regex(r"^/[^/]+/oauth2/v2\.0/token$"))
                .respond_with(AdResponder {
                    refusals,
                    state: state.clone(),
                })
                .mount(&server)
                .await;
            server
        });
        AzureAd { server, state }
    }

    /// `AZURE_AUTHORITY_HOST`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Requests seen per client id.
    pub fn attempts(&self) -> BTreeMap<String, usize> {
        self.state.lock().unwrap().clone()
    }
}
