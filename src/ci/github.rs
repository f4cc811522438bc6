//! GitHub Actions while the job runs: the OIDC token, `::add-mask::` and
//! workflow-command control.

use crate::error::{Error, Result};
use crate::remote::{Failure, retry};
use crate::secret::Secret;

/// The service name in GitHub failures.
pub const SERVICE: &str = "GitHub";

/// Requests an OIDC token from GitHub (`&audience=` when given), retried on
/// 5xx and network errors.
pub async fn oidc_token(url: &str, request_token: &Secret, audience: Option<&str>) -> Result<Secret> {
    let mut full = url.to_string();
    if let Some(aud) = audience {
        full.push(if url.contains('?') { '&' } else { '?' });
        full.push_str("audience=");
        full.push_str(&percent_encoding::utf8_percent_encode(aud, percent_encoding::NON_ALPHANUMERIC).to_string());
    }
    let http = crate::remote::client_builder(crate::remote::is_https(&full), Vec::new())
        .map_err(|e| Error::failed(format!("GitHub's OIDC endpoint: {e}")))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Error::failed(format!("cannot set up the HTTP client: {e}")))?;
    let what = "request the OIDC token from GitHub";
    let body: serde_json::Value = retry::call(retry::Policy::default(), SERVICE, what, || async {
        let resp = http
            .get(&full)
            .bearer_auth(request_token.expose())
            .header("Accept", "application/json; api-version=2.0")
            .send()
            .await
            .map_err(|e| Failure::transport(SERVICE, what, &e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| Failure::transport(SERVICE, what, &e))?;
        if status >= 400 {
            let msg = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(Failure::status(SERVICE, what, status, vec![msg]));
        }
        // A 200 that is not JSON (a proxy's page) will not get better.
        crate::remote::decode::text(&text)
            .map_err(|e| Failure::status(SERVICE, what, status, vec![format!("unexpected answer: {e}")]))
    })
    .await
    .map_err(|f| match f.status {
        Some(status @ (401 | 403)) => {
            let said: Vec<&str> = f.errors.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect();
            let said = if said.is_empty() {
                String::new()
            } else {
                format!(" ({})", said.join("; "))
            };
            Error::failed(format!(
                "{what}: GitHub answered {status}{said}: the job needs `permissions: id-token: write` \
                 (pull requests from forks get no token)"
            ))
        }
        _ => Error::failed(f.to_string()),
    })?;
    match body["value"].as_str() {
        Some(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(Error::failed(format!("{what}: the answer has no `value`"))),
    }
}

/// Prints `::add-mask::` for each value (on stdout, where the runner reads
/// it), also while workflow commands are stopped ([`crate::console::commands`]).
pub fn add_masks<'a>(values: impl Iterator<Item = &'a str>) {
    let lines: Vec<String> = values
        .filter(|v| !v.trim().is_empty())
        .map(|v| format!("::add-mask::{}", crate::log::escape_data(v)))
        .collect();
    if !lines.is_empty() {
        crate::console::commands(lines.iter().map(String::as_str));
    }
}
