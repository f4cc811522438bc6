//! GitLab CI's side of publishing: the report file the job keeps as an
//! artifact, and the sticky merge-request note. GitLab cannot mask a value
//! at runtime, so nothing here ever prints one.

mod api;
mod note;

use super::Options;
use crate::config::CommentMode;
use crate::env::Env;
use crate::report::{Report, Status};
use std::path::Path;

/// The report file written into `CI_PROJECT_DIR` (keep it with `artifacts: paths:`).
pub const REPORT_FILE: &str = "packer-vault-report.md";

/// What to create when the MR note cannot be posted.
pub const TOKEN_HELP: &str = "create a project access token with the `api` scope and the Reporter role, \
     store it as a masked CI/CD variable PACKER_VAULT_GITLAB_TOKEN";

/// Publishes the report: `packer-vault-report.md` in `CI_PROJECT_DIR`
/// (unless `summary` is off) and, as `comment` says, the sticky MR note.
/// `markdown` is the rendered, redacted report. Never fails the run:
/// problems are warnings.
pub async fn publish(env: &Env, report: &Report, opts: &Options, markdown: &str) {
    if opts.summary {
        write_report(env, markdown);
    }
    let failed = report.status != Status::Success;
    let Some(want) = Want::decide(opts.comment, failed, note::mr_pipeline(env).is_some()) else {
        return;
    };
    let Some(token) = opts.gitlab_token.as_ref().filter(|t| !t.is_empty()) else {
        if want != Want::UpdateOnly {
            crate::log::warn(&format!(
                "no MR note: `gitlab-token` is not set (CI_JOB_TOKEN cannot post notes); to enable it, {TOKEN_HELP} \
                 (or set `comment: never` to silence this)"
            ));
        }
        return;
    };
    let marker = crate::report::marker(&project_relative(env, &report.template), opts.bucket.as_deref());
    let body = crate::log::redact(&crate::report::render(report, Some(&marker)));
    note::publish(env, token, &marker, &body, want, crate::publish::budget(report.status)).await;
}

/// `template` relative to `CI_PROJECT_DIR` when it lies inside: the
/// checkout's absolute path differs between runners, the marker must not.
fn project_relative(env: &Env, template: &str) -> String {
    let Some(dir) = env.get("CI_PROJECT_DIR") else {
        return template.to_string();
    };
    match Path::new(template).strip_prefix(dir) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => template.to_string(),
    }
}

/// Whether this is a merge-request pipeline.
pub fn in_merge_request(env: &Env) -> bool {
    note::mr_pipeline(env).is_some()
}

/// Upserts the sticky MR note `marker` with `body` (which starts with the
/// marker, redacted) as `want` says. Never fails the run.
pub async fn note(env: &Env, token: &crate::secret::Secret, marker: &str, body: &str, want: Want) {
    note::publish(env, token, marker, body, want, crate::publish::BUDGET).await;
}

/// Writes `packer-vault-report.md` into `CI_PROJECT_DIR`.
pub fn write_report(env: &Env, markdown: &str) {
    let dir = env.get("CI_PROJECT_DIR").unwrap_or(".");
    let path = Path::new(dir).join(REPORT_FILE);
    match crate::env::write_file(&path, markdown.as_bytes()) {
        Ok(()) => crate::log::info(&format!(
            "report written to {} (keep it with `artifacts: paths: [{REPORT_FILE}]`)",
            path.display()
        )),
        Err(e) => crate::log::warn(&format!("cannot write {}: {e}", path.display())),
    }
}

/// Whether and how to write the note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Upsert on the MR of this MR pipeline only.
    MrPipeline,
    /// Upsert on this pipeline's MR, or the MR the commit belongs to.
    Anywhere,
    /// Only bring an existing note up to date (`on-failure` after a success).
    UpdateOnly,
}

impl Want {
    /// `auto`: MR pipelines only; `always`: also branch pipelines whose commit
    /// belongs to an MR; `on-failure`: a failed run posts like `always`, a
    /// successful one only updates a note an earlier failure left.
    pub fn decide(mode: CommentMode, failed: bool, in_mr_pipeline: bool) -> Option<Want> {
        match mode {
            CommentMode::Never => None,
            CommentMode::Auto => in_mr_pipeline.then_some(Want::MrPipeline),
            CommentMode::Always => Some(Want::Anywhere),
            CommentMode::OnFailure if failed => Some(Want::Anywhere),
            CommentMode::OnFailure => Some(Want::UpdateOnly),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_do_not_depend_on_the_checkout_path() {
        let env = Env::from([("CI_PROJECT_DIR", "/builds/x/0/acme/images")]);
        assert_eq!(
            project_relative(&env, "/builds/x/0/acme/images/images/base"),
            "images/base"
        );
        assert_eq!(project_relative(&env, "/builds/x/0/acme/images"), ".");
        assert_eq!(project_relative(&env, "images/base"), "images/base");
        assert_eq!(project_relative(&env, "/elsewhere/t.pkr.hcl"), "/elsewhere/t.pkr.hcl");
    }

    #[test]
    fn comment_modes() {
        use CommentMode::*;
        assert_eq!(Want::decide(Auto, false, true), Some(Want::MrPipeline));
        assert_eq!(Want::decide(Auto, true, false), None);
        assert_eq!(Want::decide(Never, true, true), None);
        assert_eq!(Want::decide(Always, false, false), Some(Want::Anywhere));
        assert_eq!(Want::decide(OnFailure, true, false), Some(Want::Anywhere));
        assert_eq!(Want::decide(OnFailure, false, true), Some(Want::UpdateOnly));
    }
}
