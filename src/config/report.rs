//! The inputs of `packer-vault report`, which logs in nowhere: only what
//! publishing needs, and the reports to fan in.

use super::CommentMode;
use super::sources::Sources;
use crate::env::Env;
use crate::env::Platform;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::collections::BTreeMap;

/// What `report` runs with.
#[derive(Debug)]
pub struct ReportConfig {
    /// Which CI.
    pub platform: Platform,
    /// The JSON reports, as paths or globs.
    pub reports: Vec<String>,
    /// `comment`.
    pub comment: CommentMode,
    /// `summary`.
    pub summary: bool,
    /// `github-token`.
    pub github_token: Option<Secret>,
    /// `comment-author`.
    pub comment_author: Option<String>,
    /// `gitlab-token`.
    pub gitlab_token: Option<Secret>,
}

/// Resolves the inputs `report` uses; `files` are the command line's.
pub fn resolve(flags: &BTreeMap<String, String>, env: &Env, files: &[String]) -> Result<ReportConfig> {
    let src = Sources::new(flags, env)?;
    let mut reports: Vec<String> = files.to_vec();
    if let Some(text) = src.text("reports")? {
        reports.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    if reports.is_empty() {
        return Err(Error::input(
            "reports",
            "no report to fan in: name the JSON files (paths or globs)",
        ));
    }
    let comment = match src.text("comment")?.as_deref() {
        Some("always") => CommentMode::Always,
        Some("never") => CommentMode::Never,
        Some("on-failure") => CommentMode::OnFailure,
        _ => CommentMode::Auto,
    };
    Ok(ReportConfig {
        platform: Platform::detect(env),
        reports,
        comment,
        summary: src.flag("summary", true)?,
        github_token: src.text("github-token")?.map(Secret::new),
        comment_author: src.text("comment-author")?,
        gitlab_token: src.text("gitlab-token")?.map(Secret::new),
    })
}
