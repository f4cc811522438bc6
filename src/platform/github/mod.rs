//! GitHub Actions: the OIDC token, `::add-mask::`, workflow-command control,
//! the `GITHUB_ENV`/`GITHUB_OUTPUT` file format, the job summary and (in
//! [`comment`]) the sticky pull-request comment.

pub mod comment;

use crate::config::{Config, Env};
use crate::error::{Error, Result};
use crate::remote::{Failure, retry};
use crate::report::Report;
use crate::secret::Secret;
use std::io::Write;

/// The service name in GitHub failures.
pub const SERVICE: &str = "GitHub";

/// GitHub's limit on one step's job summary, in bytes.
pub const MAX_SUMMARY_BYTES: usize = 1024 * 1024;

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
        let bad_name = name.is_empty() || name.contains(['\n', '\r', '=']) || name.contains("<<");
        if bad_name || name.contains(&delim) {
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
pub fn append_file(env: &Env, var: &str, text: &str) -> Result<()> {
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
pub fn write_outputs(env: &Env, report: &Report) -> Result<()> {
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
        (
            "channel",
            report
                .lifecycle
                .as_ref()
                .and_then(|l| l.channel.as_deref())
                .unwrap_or(""),
        ),
        (
            "previous-version-fingerprint",
            report
                .lifecycle
                .as_ref()
                .and_then(|l| l.previous_fingerprint.as_deref())
                .unwrap_or(""),
        ),
    ];
    append_file(env, "GITHUB_OUTPUT", &file_entries(pairs)?)
}

/// Publishes the report on GitHub: the job summary (when `summary`), the
/// step outputs, and the sticky PR comment as `comment` says. `markdown` is
/// the rendered, redacted report. Never fails the run: problems are warnings.
pub async fn publish(env: &Env, report: &Report, cfg: &Config, markdown: &str) {
    if cfg.summary
        && let Err(e) = append_file(env, "GITHUB_STEP_SUMMARY", &cap(markdown, MAX_SUMMARY_BYTES))
    {
        crate::log::warn(&e.to_string());
    }
    if let Err(e) = write_outputs(env, report) {
        crate::log::warn(&e.to_string());
    }
    comment::publish(env, report, cfg).await;
}

/// `text` cut on a character boundary so that it, with a closing note, fits
/// in `max` bytes.
pub fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const NOTE: &str = "\n\n… (report truncated)\n";
    let mut cut = max.saturating_sub(NOTE.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{NOTE}", &text[..cut])
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
        assert!(file_entries([("A<<B", "x")]).is_err());
        assert!(file_entries([("", "x")]).is_err());
    }

    #[test]
    fn a_value_with_delimiter_text_stays_one_value() {
        let evil = "a\nghadelimiter_00000000-0000-0000-0000-000000000000\nEVIL<<X\nowned\nX\nB=1";
        let text = file_entries([("A", evil), ("C", "c")]).unwrap();
        // Parse as the runner does: NAME<<DELIM, lines until DELIM.
        let mut lines = text.lines();
        let mut got = Vec::new();
        while let Some(head) = lines.next() {
            let (name, delim) = head.split_once("<<").unwrap();
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            got.push((name.to_string(), value.join("\n")));
        }
        assert_eq!(got, vec![("A".to_string(), evil.to_string()), ("C".into(), "c".into())]);
    }

    #[test]
    fn cap_keeps_small_texts_and_cuts_on_char_boundaries() {
        assert_eq!(cap("short", 100), "short");
        let long = "é".repeat(1000);
        let cut = cap(&long, 101);
        assert!(cut.len() <= 101, "{}", cut.len());
        assert!(cut.ends_with("(report truncated)\n"));
    }
}
