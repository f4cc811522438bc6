//! The `azure` preset's other half: Azure AD refuses a client secret that
//! Vault's Azure engine has just created for seconds to minutes while it
//! replicates (AADSTS700016 "application not found", AADSTS7000215
//! "invalid client secret"; vault issue 27593, vault-plugin-secrets-azure
//! issues 23 and 57). Before the command starts, the client-credentials
//! grant is tried at `${AZURE_AUTHORITY_HOST:-https://login.microsoftonline.com}/<tenant>/oauth2/v2.0/token`
//! (scope `https://management.azure.com/.default`) with backoff until Azure
//! AD accepts, up to `azure-wait`. The access token it answers is never
//! read: only the status counts.

use crate::config::Azure;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::spec::{Preset, Request, Selector};
use crate::vault::read::Read;
use std::time::Duration;
use tokio::time::Instant;

/// Where Azure AD answers unless `AZURE_AUTHORITY_HOST` says otherwise.
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The longest pause between two tries.
const MAX_DELAY: Duration = Duration::from_secs(10);
/// Azure AD's codes for a secret it does not know yet.
const NOT_YET: &[&str] = &["AADSTS700016", "AADSTS7000215", "AADSTS7000222", "AADSTS7000216"];

fn is_azure(req: &Request) -> bool {
    req.selectors
        .iter()
        .any(|s| matches!(s, Selector::Preset(Preset::Azure)))
}

/// `ARM_TENANT_ID` and `ARM_SUBSCRIPTION_ID` for the command, when the
/// spec uses the `azure` preset and the inputs name them.
pub fn variables(requests: &[Request], cfg: &Azure) -> Vec<(String, Secret)> {
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

/// Waits until Azure AD accepts every client secret the `azure` preset
/// read (`reads[i]` answers `requests[i]`), all at once; returns at once
/// without a tenant or with `azure-wait: 0`.
pub async fn wait_accepted(requests: &[Request], reads: &[Read], cfg: &Azure, env: &Env) -> Result<()> {
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
    let waits = requests
        .iter()
        .zip(reads)
        .filter(|(r, _)| is_azure(r))
        .map(|(_, read)| {
            let value = |key: &str| read.items.iter().find(|i| i.key == key).map(|i| i.value.clone());
            let (http, url) = (&http, &url);
            async move {
                match (value("client_id"), value("client_secret")) {
                    (Some(id), Some(secret)) => wait_one(http, url, &read.path, &id, &secret, cfg.wait).await,
                    _ => Ok(()),
                }
            }
        });
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
