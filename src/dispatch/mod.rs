//! Starting and following runs of other repositories' pipelines: the engine
//! of the cascade is the CI itself. GitHub `workflow_dispatch` (with the run
//! it started, or found among the workflow's runs when the server cannot
//! say), GitLab pipeline triggers; the state of a run, and its cancellation.
//! Every call is retried on transient failures and rate limits, as the
//! other GitHub and GitLab calls are.

pub mod github;
pub mod gitlab;

use crate::remote::Failure;

/// A run that was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Its id (GitHub workflow run, GitLab pipeline).
    pub id: u64,
    /// Its page.
    pub url: String,
}

/// Where a run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Queued or running.
    Running,
    /// Finished and succeeded.
    Succeeded,
    /// Finished otherwise: the CI's word (`failure`, `cancelled`, `failed`, ...).
    Failed(String),
}

/// One HTTP answer: status, rate-limit wait, JSON body (`Null` when none).
pub(crate) struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Sends `request`, reading a JSON body; a rate-limited answer (429, or
/// 403 with `retry-after` or `x-ratelimit-remaining: 0`) becomes a
/// transient failure that waits as the server says.
pub(crate) async fn send(
    service: &'static str,
    what: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, Failure> {
    let resp = request
        .send()
        .await
        .map_err(|e| Failure::transport(service, what, &e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.map_err(|e| Failure::transport(service, what, &e))?;
    let body: serde_json::Value = if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    };
    if status < 400 {
        return Ok(Answer { status, body });
    }
    let message = body["message"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    let limited = status == 429
        || (status == 403
            && (headers.contains_key("retry-after")
                || headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()) == Some("0")));
    let mut f = Failure::status(service, what, if limited { 429 } else { status }, vec![message]);
    if limited {
        f.retry_after = crate::remote::retry_after(&headers).or_else(|| {
            let reset = headers.get("x-ratelimit-reset")?.to_str().ok()?.parse::<u64>().ok()?;
            Some(reset.saturating_sub(crate::time::now_secs().max(0) as u64).max(1))
        });
    }
    Err(f)
}

/// An HTTP client for `base` (http or https), with bounded timeouts.
pub(crate) fn client(base: &str) -> Result<reqwest::Client, String> {
    crate::remote::client_builder(crate::remote::is_https(base), Vec::new())?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("packer-vault/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}
