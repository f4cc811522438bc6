//! Azure: the `azure` preset. Azure AD refuses a client secret that
//! Vault's Azure engine has just created for seconds to minutes while it
//! replicates (AADSTS700016 "application not found", AADSTS7000215
//! "invalid client secret"; vault issue 27593, vault-plugin-secrets-azure
//! issues 23 and 57). Before the command starts, the client-credentials
//! grant is tried at `${AZURE_AUTHORITY_HOST:-https://login.microsoftonline.com}/<tenant>/oauth2/v2.0/token`
//! (scope `https://management.azure.com/.default`) with backoff until Azure
//! AD accepts, up to `azure-wait`. The access token it answers is never
//! read: only the status counts. The tenant and subscription come from
//! inputs ([`Settings`]), and the command gets them as `ARM_TENANT_ID` and
//! `ARM_SUBSCRIPTION_ID` beside the engine's `client_id` and
//! `client_secret`.

use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::spec::{Preset, Request, Selector};
use std::time::Duration;
use tokio::time::Instant;

/// The `azure` preset: (response key, variable, required).
pub const KEYS: &[(&str, &str, bool)] = &[
    ("client_id", "ARM_CLIENT_ID", true),
    ("client_secret", "ARM_CLIENT_SECRET", true),
];

/// What the `azure` preset needs besides the secret.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `azure-tenant-id`: `ARM_TENANT_ID`, and the tenant of the wait.
    pub tenant: Option<String>,
    /// `azure-subscription-id`: `ARM_SUBSCRIPTION_ID`.
    pub subscription: Option<String>,
    /// `azure-wait`: how long to wait for a new secret to be accepted.
    pub wait: std::time::Duration,
}

/// A client secret the `azure` preset read: the path it came from, the
/// client id and the secret.
pub struct Credential {
    /// The spec's path.
    pub path: String,
    /// `client_id`.
    pub id: Secret,
    /// `client_secret`.
    pub secret: Secret,
}

/// Where Azure AD answers unless `AZURE_AUTHORITY_HOST` says otherwise.
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The longest pause between two tries.
const MAX_DELAY: Duration = Duration::from_secs(10);
/// Azure AD's codes for a secret it does not know yet.
const NOT_YET: &[&str] = &["AADSTS700016", "AADSTS7000215", "AADSTS7000222", "AADSTS7000216"];

/// Whether `req` is read with the `azure` preset.
pub fn is_azure(req: &Request) -> bool {
    req.selectors
        .iter()
        .any(|s| matches!(s, Selector::Preset(Preset::Azure)))
}

/// `ARM_TENANT_ID` and `ARM_SUBSCRIPTION_ID` for the command, when the
/// spec uses the `azure` preset and the inputs name them.
pub fn variables(requests: &[Request], cfg: &Settings) -> Vec<(String, Secret)> {
    if !requests.iter().any(is_azure) {
        return Vec::new();
    }
    [
        ("ARM_TENANT_ID", &cfg.tenant),
        ("ARM_SUBSCRIPTION_ID", &cfg.subscription),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_string(), Secret::new(v.clone()?))))
    .collect()
}

/// Waits until Azure AD accepts every client secret of `credentials`, all
/// at once; returns at once without a tenant or with `azure-wait: 0`.
pub async fn wait_accepted(credentials: &[Credential], cfg: &Settings, env: &Env) -> Result<()> {
    let Some(tenant) = cfg.tenant.as_deref() else {
        return Ok(());
    };
    if cfg.wait.is_zero() {
        return Ok(());
    }
    let authority = env
        .get("AZURE_AUTHORITY_HOST")
        .unwrap_or(DEFAULT_AUTHORITY)
        .trim_end_matches('/');
    let url = format!("{authority}/{tenant}/oauth2/v2.0/token");
    let http = crate::remote::client_builder(crate::remote::is_https(&url), Vec::new())
        .map_err(Error::failed)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::failed(format!("cannot set up the HTTP client for Azure AD: {e}")))?;
    let waits = (credentials.iter()).map(|c| wait_one(&http, &url, &c.path, &c.id, &c.secret, cfg.wait));
    for r in futures_util::future::join_all(waits).await {
        r?;
    }
    Ok(())
}

/// What one try came to.
enum Try {
    Accepted,
    /// Not yet (a replication code, a 5xx, no answer): Azure AD's words.
    NotYet(String),
    /// Refused for another reason: waiting will not help.
    Refused(String),
}

async fn wait_one(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    id: &Secret,
    secret: &Secret,
    wait: Duration,
) -> Result<()> {
    let deadline = Instant::now() + wait;
    let mut delay = Duration::from_secs(1);
    let mut announced = false;
    loop {
        let why = match attempt(http, url, id, secret).await {
            Try::Accepted => {
                if announced {
                    crate::log::info(&format!("Azure AD accepts the new client secret of `{path}`"));
                }
                return Ok(());
            }
            Try::Refused(why) => {
                return Err(Error::failed(format!(
                    "Azure AD refused the client secret of `{path}`: {why}"
                )));
            }
            Try::NotYet(why) => why,
        };
        if Instant::now() + delay > deadline {
            return Err(Error::failed(format!(
                "Azure AD did not accept the new client secret of `{path}` within {} s: {why}",
                wait.as_secs()
            )));
        }
        if !announced {
            crate::log::info(&format!(
                "waiting up to {} s for Azure AD to accept the new client secret of `{path}` (it answered: {})",
                wait.as_secs(),
                why.split(':').next().unwrap_or("not yet")
            ));
            announced = true;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

async fn attempt(http: &reqwest::Client, url: &str, id: &Secret, secret: &Secret) -> Try {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.expose()),
        ("client_secret", secret.expose()),
        ("scope", "https://management.azure.com/.default"),
    ];
    let resp = match http.post(url).form(&form).send().await {
        Ok(r) => r,
        Err(e) => return Try::NotYet(format!("no answer from Azure AD: {}", crate::remote::error_chain(&e))),
    };
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Try::Accepted;
    }
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    // `AADSTS700016: Application with identifier ... was not found ...`:
    // the first sentence says it; trace ids and timestamps are noise.
    let text = body["error_description"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or("no error text")
        .lines()
        .next()
        .unwrap_or_default();
    let text = crate::error::bounded(text.split(" Trace ID:").next().unwrap_or(text));
    let why = format!("{status} {text}");
    if status == 429 || status >= 500 || NOT_YET.iter().any(|c| text.starts_with(c)) {
        Try::NotYet(why)
    } else {
        Try::Refused(why)
    }
}
