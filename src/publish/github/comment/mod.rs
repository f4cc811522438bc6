//! The sticky pull-request comment: which pull request it belongs to, whom
//! the token writes as, and the upsert of one comment per template/bucket
//! marker (`PATCH` our own comment found, else `POST` a new one), with
//! octocrab against `GITHUB_API_URL`.

mod body;
mod lookup;
mod upsert;

pub use body::{body, fit};
use lookup::commit_pr;
pub use lookup::{event_pr, repository};
use upsert::{Done, upsert, whoami};

use super::super::Options;
use crate::config::CommentMode;
use crate::env::Env;
use crate::remote::{Failure, retry};
use crate::report::{Report, Status};
use crate::secret::Secret;
use octocrab::Octocrab;
use std::time::Duration;

/// GitHub's limit on a comment body, in characters.
pub const MAX_COMMENT_CHARS: usize = 65_536;
/// What a 403/404 from the comments API most likely means, and the fix.
pub const PERMISSION_HELP: &str = "the token cannot write comments on this pull request: add \
     `permissions: pull-requests: write` to the job (pull requests from forks only get a read-only \
     token; the build itself is not affected)";
/// Comments per page (GitHub's maximum).
const PER_PAGE: u32 = 100;
/// Pages searched for the marker at most (10 000 comments).
const MAX_PAGES: usize = 100;

/// Whether and how to write the comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Upsert on the pull request of a `pull_request*` event only.
    Event,
    /// Upsert on the event's pull request, or the one the commit belongs to.
    Anywhere,
    /// Only bring an existing comment up to date (`on-failure` after a success).
    UpdateOnly,
}

impl Want {
    /// `auto`: pull-request events only; `always`: also pushes whose commit
    /// belongs to a pull request; `on-failure`: a failed run posts like
    /// `always`, a successful one only updates a comment an earlier failure left.
    pub fn decide(mode: CommentMode, failed: bool) -> Option<Want> {
        match mode {
            CommentMode::Never => None,
            CommentMode::Auto => Some(Want::Event),
            CommentMode::Always => Some(Want::Anywhere),
            CommentMode::OnFailure if failed => Some(Want::Anywhere),
            CommentMode::OnFailure => Some(Want::UpdateOnly),
        }
    }
}

/// The pull request a comment goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Pull request number.
    pub number: u64,
}

/// Posts or updates the sticky comment of `report` as `comment` says.
/// Never fails the run: every problem is a warning.
pub async fn publish(env: &Env, report: &Report, opts: &Options) {
    let Some(want) = Want::decide(opts.comment, report.status != Status::Success) else {
        return;
    };
    let marker = crate::log::redact(&crate::report::marker(&report.template, opts.bucket.as_deref()));
    let body = body(report, &marker);
    let budget = crate::publish::budget(report.status);
    let who = (opts.github_token.as_ref(), opts.comment_author.as_deref());
    post(env, who, want, &marker, &body, budget).await;
}

/// Posts or updates the sticky comment `marker` with `body` (which starts
/// with the marker, redacted, within GitHub's limit), within `budget`.
/// Never fails the run: every problem is a warning.
/// `who` is the token and, when given, the login it comments as.
pub async fn post(
    env: &Env,
    who: (Option<&Secret>, Option<&str>),
    want: Want,
    marker: &str,
    body: &str,
    budget: Duration,
) {
    let (token, author) = who;
    let event = event_pr(env);
    if want == Want::Event && event.is_none() {
        return;
    }
    let Some((owner, repo)) = repository(env) else {
        crate::log::warn("no PR comment: GITHUB_REPOSITORY is not `owner/name`");
        return;
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        if want != Want::UpdateOnly {
            crate::log::warn(
                "no PR comment: `github-token` is not set (the action passes `github.token`; \
                 elsewhere set GITHUB_TOKEN)",
            );
        }
        return;
    };
    let crab = match client(env, token) {
        Ok(c) => c,
        Err(e) => {
            crate::log::warn(&format!("no PR comment: {e}"));
            return;
        }
    };
    let work = async {
        let number = match event {
            Some(n) => n,
            None => match commit_pr(&crab, &owner, &repo, env.get("GITHUB_SHA")).await {
                Ok(Some(n)) => n,
                Ok(None) => {
                    crate::log::info("no PR comment: this commit belongs to no pull request");
                    return;
                }
                Err(f) => {
                    crate::log::warn(&lookup_explain(&f));
                    return;
                }
            },
        };
        let target = Target { owner, repo, number };
        let asked = async {
            match author {
                Some(a) => Ok(a.to_string()),
                None => retry::run(retry::Policy::default(), || whoami(&crab)).await,
            }
        };
        let me = match asked.await {
            Ok(me) => me,
            Err(f) => {
                crate::log::warn(&explain(&f));
                return;
            }
        };
        let done = retry::run(retry::Policy::default(), || {
            upsert(&crab, &target, &me, marker, body, want)
        })
        .await;
        match done {
            Ok(Done::Created(url)) => crate::log::info(&format!(
                "commented on pull request #{}{}",
                target.number,
                at(url.as_deref())
            )),
            Ok(Done::Updated(url)) => crate::log::info(&format!(
                "updated the comment on pull request #{}{}",
                target.number,
                at(url.as_deref())
            )),
            Ok(Done::Nothing) => {}
            Err(f) => crate::log::warn(&explain(&f)),
        }
    };
    if tokio::time::timeout(budget, work).await.is_err() {
        crate::log::warn(&format!(
            "no PR comment: GitHub did not answer within {} s",
            budget.as_secs()
        ));
    }
}

fn at(url: Option<&str>) -> String {
    url.map(|u| format!(": {u}")).unwrap_or_default()
}

/// An octocrab client for `GITHUB_API_URL` (GitHub Enterprise included),
/// on this crate's reqwest (rustls, its own DNS resolver).
fn client(env: &Env, token: &Secret) -> Result<Octocrab, String> {
    let base = env
        .get("GITHUB_API_URL")
        .unwrap_or("https://api.github.com")
        .trim()
        .trim_end_matches('/');
    let url = reqwest::Url::parse(base).map_err(|e| format!("GITHUB_API_URL `{base}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("GITHUB_API_URL `{base}` is not an http(s) URL"));
    }
    let http = crate::remote::client_builder(url.scheme() == "https", Vec::new())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("packer-vault/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    Octocrab::builder()
        .base_uri(base)
        .map_err(|e| format!("GITHUB_API_URL `{base}`: {e}"))?
        .personal_token(token.expose().to_string())
        .build_with_reqwest(http)
        .map_err(|e| format!("cannot set up the GitHub client: {e}"))
}

/// A warning for a failed upsert that says what to fix.
fn explain(f: &Failure) -> String {
    match f.status {
        Some(403 | 404) => format!("no PR comment: {f}. {PERMISSION_HELP}"),
        Some(401) => format!("no PR comment: {f}. `github-token` is invalid or expired"),
        _ => format!("no PR comment: {f}"),
    }
}

/// A warning for a failed pull-request lookup.
fn lookup_explain(f: &Failure) -> String {
    match f.status {
        Some(403 | 404) => {
            format!("no PR comment: {f}. Add `permissions: pull-requests: read` (and `contents: read`) to the job")
        }
        _ => format!("no PR comment: {f}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::github::SERVICE;

    #[test]
    fn comment_modes() {
        assert_eq!(Want::decide(CommentMode::Never, true), None);
        assert_eq!(Want::decide(CommentMode::Auto, false), Some(Want::Event));
        assert_eq!(Want::decide(CommentMode::Always, false), Some(Want::Anywhere));
        assert_eq!(Want::decide(CommentMode::OnFailure, true), Some(Want::Anywhere));
        assert_eq!(Want::decide(CommentMode::OnFailure, false), Some(Want::UpdateOnly));
    }

    #[test]
    fn forbidden_names_the_permission() {
        let f = Failure::status(
            SERVICE,
            "comment on pull request #1",
            403,
            vec!["Resource not accessible by integration".into()],
        );
        assert!(explain(&f).contains("permissions: pull-requests: write"));
    }
}
