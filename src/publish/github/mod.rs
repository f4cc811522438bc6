//! GitHub Actions' side of publishing: the step outputs, the job summary
//! and (in [`comment`]) the sticky pull-request comment.

pub mod comment;

use super::Options;
use crate::env::Env;
use crate::error::Result;
use crate::export::{append_file, file_entries};
use crate::report::Report;

/// The service name in GitHub failures.
pub const SERVICE: &str = "GitHub";

/// GitHub's limit on one step's job summary, in bytes.
pub const MAX_SUMMARY_BYTES: usize = 1024 * 1024;

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
    // A refused or failed promote assigned no channel: no `channel` output.
    let promoted = report
        .lifecycle
        .as_ref()
        .filter(|_| report.status == crate::report::Status::Success);
    let moved = serde_json::Value::Array(
        report
            .lifecycle
            .iter()
            .flat_map(|l| l.moved.iter())
            .map(|(c, from, to)| serde_json::json!({"channel": c, "from": from, "to": to}))
            .collect(),
    )
    .to_string();
    let pairs = [
        ("version-fingerprint", hcp.map(|h| h.fingerprint.as_str()).unwrap_or("")),
        ("version-id", hcp.and_then(|h| h.version_id.as_deref()).unwrap_or("")),
        ("version-url", hcp.and_then(|h| h.url.as_deref()).unwrap_or("")),
        ("artifacts", artifacts.as_str()),
        ("token-accessor", report.accessor.as_str()),
        ("secrets-digest", report.secrets_digest.as_str()),
        ("channel", promoted.and_then(|l| l.channel.as_deref()).unwrap_or("")),
        (
            "previous-version-fingerprint",
            promoted.and_then(|l| l.previous_fingerprint.as_deref()).unwrap_or(""),
        ),
        ("channels-moved", moved.as_str()),
    ];
    append_file(env, "GITHUB_OUTPUT", &file_entries(pairs)?)
}

/// Publishes the report on GitHub: the job summary (when `summary`), the
/// step outputs, and the sticky PR comment as `comment` says. `markdown` is
/// the rendered, redacted report. Never fails the run: problems are warnings.
pub async fn publish(env: &Env, report: &Report, opts: &Options, markdown: &str) {
    if opts.summary
        && let Err(e) = append_file(env, "GITHUB_STEP_SUMMARY", &cap(markdown, MAX_SUMMARY_BYTES))
    {
        crate::log::warn(&e.to_string());
    }
    if let Err(e) = write_outputs(env, report) {
        crate::log::warn(&e.to_string());
    }
    comment::publish(env, report, opts).await;
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
    fn cap_keeps_small_texts_and_cuts_on_char_boundaries() {
        assert_eq!(cap("short", 100), "short");
        let long = "é".repeat(1000);
        let cut = cap(&long, 101);
        assert!(cut.len() <= 101, "{}", cut.len());
        assert!(cut.ends_with("(report truncated)\n"));
    }
}
