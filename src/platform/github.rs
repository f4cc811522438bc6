//! GitHub Actions: the OIDC token, `::add-mask::`, workflow-command control,
//! and the `GITHUB_ENV`/`GITHUB_OUTPUT` file format.

use crate::error::{Error, Result};
use crate::remote::{Failure, retry};
use crate::secret::Secret;

/// The service name in GitHub failures.
pub const SERVICE: &str = "GitHub";
use std::io::Write;

/// Requests an OIDC token from GitHub (`&audience=` when given), retried on
/// 5xx and network errors.
pub async fn oidc_token(url: &str, request_token: &Secret, audience: Option<&str>) -> Result<Secret> {
    let mut full = url.to_string();
    if let Some(aud) = audience {
        full.push(if url.contains('?') { '&' } else { '?' });
        full.push_str("audience=");
        full.push_str(&percent_encoding::utf8_percent_encode(aud, percent_encoding::NON_ALPHANUMERIC).to_string());
    }
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Error::failed(format!("cannot set up the HTTP client: {e}")))?;
    let what = "request the OIDC token from GitHub";
    let body: serde_json::Value = retry::run(retry::Policy::default(), || async {
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
        serde_json::from_str(&text).map_err(|e| Failure::transport(SERVICE, what, &e))
    })
    .await
    .map_err(|f| match f.status {
        Some(401 | 403) => Error::failed(format!(
            "{what}: GitHub answered {}: the job needs `permissions: id-token: write` (fork pull requests get no token)",
            f.status.unwrap_or(0)
        )),
        _ => Error::failed(f.to_string()),
    })?;
    match body["value"].as_str() {
        Some(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(Error::failed(format!("{what}: the answer has no `value`"))),
    }
}

/// Prints `::add-mask::` for each value (on stdout, where the runner reads it).
pub fn add_masks<'a>(values: impl Iterator<Item = &'a str>) {
    let mut out = std::io::stdout().lock();
    for v in values {
        if !v.trim().is_empty() {
            let _ = writeln!(out, "::add-mask::{}", crate::log::escape_data(v));
        }
    }
    let _ = out.flush();
}

/// Prints `::stop-commands::<token>` and returns the token.
pub fn stop_commands() -> String {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "::stop-commands::{token}");
    let _ = out.flush();
    token
}

/// Prints `::<token>::` to resume workflow commands.
pub fn resume_commands(token: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "::{token}::");
    let _ = out.flush();
}

/// Renders `NAME<<DELIM` entries for `GITHUB_ENV` / `GITHUB_OUTPUT` with a
/// random `ghadelimiter_<uuid>` delimiter; refuses a name or value that
/// contains the delimiter (CVE-2022-35954).
pub fn file_entries<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<String> {
    let delim = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
    let mut out = String::new();
    for (name, value) in entries {
        if name.contains(&delim) || name.contains('\n') || name.contains('=') || name.is_empty() {
            return Err(Error::failed(format!(
                "refusing to write the variable name `{}`",
                name.escape_debug()
            )));
        }
        if value.contains(&delim) {
            return Err(Error::failed(format!(
                "refusing to write `{name}`: its value contains the delimiter"
            )));
        }
        out.push_str(&format!("{name}<<{delim}\n{value}\n{delim}\n"));
    }
    Ok(out)
}

/// Appends `text` to the file named by the variable `var` (GITHUB_ENV, ...).
pub fn append_file(env: &crate::config::Env, var: &str, text: &str) -> Result<()> {
    let path = env.get(var).ok_or_else(|| Error::failed(format!("{var} is not set")))?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::failed(format!("cannot open {var} ({path}): {e}")))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::failed(format!("cannot write {var} ({path}): {e}")))
}

/// Writes the step outputs: `version-fingerprint`, `version-id`,
/// `version-url`, `artifacts` (JSON), `token-accessor`, `secrets-digest`.
pub fn write_outputs(env: &crate::config::Env, report: &crate::report::Report) -> Result<()> {
    let hcp = report.hcp.as_ref();
    let artifacts: Vec<serde_json::Value> = match hcp.filter(|h| !h.artifacts.is_empty()) {
        Some(h) => h
            .artifacts
            .iter()
            .map(|(component, region, id)| serde_json::json!({"build": component, "region": region, "id": id, "source": "hcp"}))
            .collect(),
        None => report
            .artifacts
            .iter()
            .map(|a| serde_json::json!({"build": a.build, "builder_id": a.builder_id, "id": a.id, "description": a.description}))
            .collect(),
    };
    let artifacts = serde_json::Value::Array(artifacts).to_string();
    let pairs = [
        ("version-fingerprint", hcp.map(|h| h.fingerprint.as_str()).unwrap_or("")),
        ("version-id", hcp.and_then(|h| h.version_id.as_deref()).unwrap_or("")),
        ("version-url", hcp.and_then(|h| h.url.as_deref()).unwrap_or("")),
        ("artifacts", artifacts.as_str()),
        ("token-accessor", report.accessor.as_str()),
        ("secrets-digest", report.secrets_digest.as_str()),
    ];
    append_file(env, "GITHUB_OUTPUT", &file_entries(pairs)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_entries_use_a_random_delimiter() {
        let a = file_entries([("A", "one\ntwo")]).unwrap();
        let b = file_entries([("A", "one\ntwo")]).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("A<<ghadelimiter_"));
        assert!(a.contains("\none\ntwo\nghadelimiter_"));
        assert!(file_entries([("A=B", "x")]).is_err());
    }
}
