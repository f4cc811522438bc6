//! What goes back to the CI once the run has a result: the report file,
//! stdout locally, the job summary and step outputs on GitHub with the
//! sticky PR comment, the report file and the sticky MR note on GitLab.
//! It takes the [`Report`] and a few [`Options`], never the configuration
//! or a Vault session: everything it writes is in the report, redacted.

pub mod github;
pub mod gitlab;

use crate::config::{CommentMode, Config};
use crate::env::{Env, Platform};
use crate::report::Report;
use crate::secret::Secret;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The inputs publishing honours.
#[derive(Debug, Clone)]
pub struct Options {
    /// `summary`: write the job summary (GitHub) or the report file (GitLab).
    pub summary: bool,
    /// `comment`: when to post the sticky PR/MR comment.
    pub comment: CommentMode,
    /// `github-token`, for the PR comment.
    pub github_token: Option<Secret>,
    /// `comment-author`: the login the GitHub token comments as.
    pub comment_author: Option<String>,
    /// `gitlab-token`, for the MR note.
    pub gitlab_token: Option<Secret>,
    /// `hcp-bucket`, part of the sticky comment's marker.
    pub bucket: Option<String>,
    /// `report-json`: where the JSON report goes.
    pub report_json: Option<std::path::PathBuf>,
}

impl Options {
    /// The publishing inputs of `cfg`.
    pub fn of(cfg: &Config) -> Options {
        Options {
            summary: cfg.summary,
            comment: cfg.comment,
            github_token: cfg.github_token.clone(),
            comment_author: cfg.comment_author.clone(),
            gitlab_token: cfg.gitlab_token.clone(),
            bucket: cfg.hcp.bucket.clone(),
            report_json: cfg.report_json.clone(),
        }
    }
}

/// Writes the JSON report to `path` (redacted once more, like every output).
/// Writes `report` as JSON to `path` (`--report-json`); a warning when it cannot.
pub fn write_json(platform: Platform, env: &Env, report: &Report, opts: &Options, path: &Path) {
    let job = match platform {
        Platform::Github => env.get("GITHUB_JOB"),
        Platform::Gitlab => env.get("CI_JOB_NAME"),
        Platform::Local => None,
    };
    let json = crate::report::json::JsonReport::of(report, opts.bucket.as_deref(), job);
    let text = match serde_json::to_string_pretty(&json) {
        Ok(t) => crate::log::redact(&t),
        Err(e) => return crate::log::warn(&format!("cannot write the JSON report: {e}")),
    };
    match crate::env::write_file(path, format!("{text}\n").as_bytes()) {
        Ok(()) => crate::log::info(&format!("JSON report written to {}", path.display())),
        Err(e) => crate::log::warn(&format!("cannot write the JSON report to {}: {e}", path.display())),
    }
}

/// Time a whole comment or note step may take: every publisher keeps to
/// it, whatever the service does (slow answers, many pages, retries).
pub const BUDGET: Duration = Duration::from_secs(60);
/// ... after a cancellation: the runner kills the step 10 s after its first
/// signal, and Packer's cleanup and the revocation came first.
pub const CANCELLED_BUDGET: Duration = Duration::from_secs(2);

/// The budget of a run that ended with `status`.
pub fn budget(status: crate::report::Status) -> Duration {
    if status == crate::report::Status::Cancelled {
        CANCELLED_BUDGET
    } else {
        BUDGET
    }
}

/// Publishes the report: `--report FILE`, stdout locally, the job summary
/// and outputs on GitHub, a report file and the MR note on GitLab. Never
/// fails the run: problems are warnings.
pub async fn publish(platform: Platform, env: &Env, report: &Report, opts: &Options, file: Option<&Path>) {
    // Everything in the report is redacted already; once more, to be sure.
    let markdown = crate::log::redact(&crate::report::render(report, None));
    if let Some(f) = file
        && let Err(e) = crate::env::write_file(f, markdown.as_bytes())
    {
        crate::log::warn(&format!("cannot write the report to {}: {e}", f.display()));
    }
    if let Some(f) = &opts.report_json {
        write_json(platform, env, report, opts, f);
    }
    match platform {
        Platform::Local => {
            if file.is_none() {
                let mut out = std::io::stdout().lock();
                // A terminal reads text: the Markdown goes to the summary file.
                let text = crate::report::terminal::render(&markdown);
                let _ = writeln!(out, "\n{}", crate::log::neutralize(&text));
            }
        }
        Platform::Github => github::publish(env, report, opts, &markdown).await,
        Platform::Gitlab => gitlab::publish(env, report, opts, &markdown).await,
    }
}
