//! The sticky pull-request comment: which pull request it belongs to, and
//! the upsert of one comment per template/bucket marker (`PATCH` the comment
//! found, else `POST` a new one), with octocrab against `GITHUB_API_URL`.

use super::super::Options;
use super::SERVICE;
use crate::config::CommentMode;
use crate::env::Env;
use crate::remote::{Failure, retry};
use crate::report::{Report, Status};
use crate::secret::Secret;
use octocrab::{Octocrab, Page};
use serde::Deserialize;
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
/// Time the whole comment step may take.
const BUDGET: Duration = Duration::from_secs(60);
/// ... after a cancellation: the runner kills the step 10 s after its first
/// signal, and Packer's cleanup and the revocation came first.
const CANCELLED_BUDGET: Duration = Duration::from_secs(2);

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

/// A comment as listed; only what the upsert needs.
#[derive(Debug, Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

/// A comment's author.
#[derive(Debug, Deserialize)]
struct User {
    /// `Bot` for `github-actions[bot]` and apps, `User` for a PAT.
    #[serde(rename = "type", default)]
    kind: String,
}

impl Comment {
    /// Whether this is a sticky comment for `marker` (it comes first).
    fn is_sticky(&self, marker: &str) -> bool {
        self.body.as_deref().is_some_and(|b| b.trim_start().starts_with(marker))
    }

    fn by_bot(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.kind == "Bot")
    }
}

/// The comment of a page to update: one with the marker, a bot's first (a
/// person may have pasted the marker into a comment of their own).
fn sticky(comments: &[Comment], marker: &str) -> Option<u64> {
    let mut candidates = comments.iter().filter(|c| c.is_sticky(marker));
    let first = candidates.next()?;
    if first.by_bot() {
        return Some(first.id);
    }
    Some(candidates.find(|c| c.by_bot()).unwrap_or(first).id)
}

/// A pull request as `commits/{sha}/pulls` lists it.
#[derive(Debug, Deserialize)]
struct Pull {
    number: u64,
    #[serde(default)]
    state: String,
}

/// What the upsert did.
#[derive(Debug)]
enum Done {
    Created(Option<String>),
    Updated(Option<String>),
    /// (update only) no comment to update.
    Nothing,
}

/// Posts or updates the sticky comment as `comment` says. Never fails the
/// run: every problem is a warning.
pub async fn publish(env: &Env, report: &Report, opts: &Options) {
    let Some(want) = Want::decide(opts.comment, report.status != Status::Success) else {
        return;
    };
    let event = event_pr(env);
    if want == Want::Event && event.is_none() {
        return;
    }
    let Some((owner, repo)) = repository(env) else {
        crate::log::warn("no PR comment: GITHUB_REPOSITORY is not `owner/name`");
        return;
    };
    let Some(token) = opts.github_token.as_ref().filter(|t| !t.is_empty()) else {
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
    let marker = crate::log::redact(&crate::report::marker(&report.template, opts.bucket.as_deref()));
    let body = body(report, &marker);
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
        let done = retry::run(retry::Policy::default(), || {
            upsert(&crab, &target, &marker, &body, want)
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
    let budget = if report.status == Status::Cancelled {
        CANCELLED_BUDGET
    } else {
        BUDGET
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

/// The pull request of a `pull_request*` event (or a comment on one), from
/// `GITHUB_EVENT_PATH`.
pub fn event_pr(env: &Env) -> Option<u64> {
    let name = env.get("GITHUB_EVENT_NAME")?;
    if !name.starts_with("pull_request") && name != "issue_comment" {
        return None;
    }
    let text = std::fs::read(env.get("GITHUB_EVENT_PATH")?).ok()?;
    let event: serde_json::Value = serde_json::from_slice(&text).ok()?;
    if name == "issue_comment" {
        event["issue"].get("pull_request")?;
        return event["issue"]["number"].as_u64();
    }
    event["pull_request"]["number"].as_u64().or(event["number"].as_u64())
}

/// `GITHUB_REPOSITORY` as (owner, name), when both are plain path segments.
pub fn repository(env: &Env) -> Option<(String, String)> {
    let (owner, repo) = env.get("GITHUB_REPOSITORY")?.trim().split_once('/')?;
    let segment = |s: &str| {
        !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    (segment(owner) && segment(repo)).then(|| (owner.to_string(), repo.to_string()))
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

/// The pull request a pushed commit belongs to (`commits/{sha}/pulls`): an
/// open one first, else the most recent.
async fn commit_pr(crab: &Octocrab, owner: &str, repo: &str, sha: Option<&str>) -> Result<Option<u64>, Failure> {
    let Some(sha) = sha.filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit())) else {
        return Ok(None);
    };
    let route = format!("/repos/{owner}/{repo}/commits/{sha}/pulls");
    let what = format!("list the pull requests of commit {sha}");
    let pulls: Vec<Pull> = retry::run(retry::Policy::default(), || async {
        crab.get::<Vec<Pull>, _, _>(&route, Some(&[("per_page", PER_PAGE)]))
            .await
            .map_err(|e| failure(&what, e))
    })
    .await?;
    Ok(pulls
        .iter()
        .find(|p| p.state == "open")
        .or(pulls.first())
        .map(|p| p.number))
}

/// One attempt at the upsert: list (every page) for the marker, `PATCH` the
/// comment that has it, else `POST` a new one. A retry lists again, so a
/// `POST` that went through before an error is found and not duplicated.
async fn upsert(crab: &Octocrab, t: &Target, marker: &str, body: &str, want: Want) -> Result<Done, Failure> {
    let (o, r, n) = (&t.owner, &t.repo, t.number);
    let what = format!("list the comments of pull request #{n}");
    let mut page: Page<Comment> = crab
        .get(
            format!("/repos/{o}/{r}/issues/{n}/comments"),
            Some(&[("per_page", PER_PAGE)]),
        )
        .await
        .map_err(|e| failure(&what, e))?;
    let mut pages = 1;
    let found = loop {
        let hit = sticky(&page.items, marker);
        if hit.is_some() || pages >= MAX_PAGES {
            break hit;
        }
        match crab
            .get_page::<Comment>(&page.next)
            .await
            .map_err(|e| failure(&what, e))?
        {
            Some(next) => {
                page = next;
                pages += 1;
            }
            None => break None,
        }
    };
    let payload = serde_json::json!({ "body": body });
    match found {
        Some(id) => {
            let what = format!("update comment {id} on pull request #{n}");
            let c: Comment = crab
                .patch(format!("/repos/{o}/{r}/issues/comments/{id}"), Some(&payload))
                .await
                .map_err(|e| failure(&what, e))?;
            Ok(Done::Updated(c.html_url))
        }
        None if want == Want::UpdateOnly => Ok(Done::Nothing),
        None => {
            let what = format!("comment on pull request #{n}");
            let c: Comment = crab
                .post(format!("/repos/{o}/{r}/issues/{n}/comments"), Some(&payload))
                .await
                .map_err(|e| failure(&what, e))?;
            Ok(Done::Created(c.html_url))
        }
    }
}

/// An octocrab error as a [`Failure`]: GitHub's status and message (first
/// line, shortened), `Retry-After`; a body that does not parse is final.
fn failure(what: &str, e: octocrab::Error) -> Failure {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let message: String = source.message.lines().next().unwrap_or("").chars().take(300).collect();
            let mut f = Failure::status(SERVICE, what, source.status_code.as_u16(), vec![message]);
            f.retry_after = source.headers.as_ref().and_then(crate::remote::retry_after);
            f
        }
        octocrab::Error::Serde { .. } | octocrab::Error::Json { .. } => Failure::status(
            SERVICE,
            what,
            200,
            vec![format!("the answer is not what the API documents ({e})")],
        ),
        other => Failure::transport(SERVICE, what, &other),
    }
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

/// The comment body: the marker, the report, redacted, within GitHub's
/// limit (a slimmer report first, then a hard cut).
pub fn body(report: &Report, marker: &str) -> String {
    let full = crate::log::redact(&crate::report::render(report, Some(marker)));
    if full.chars().count() <= MAX_COMMENT_CHARS {
        return full;
    }
    let mut slim = report.clone();
    let drop = slim.tail.len().saturating_sub(40);
    slim.tail.drain(..drop);
    for l in &mut slim.tail {
        *l = l.chars().take(300).collect();
    }
    slim.errors.truncate(20);
    slim.findings.truncate(30);
    slim.warnings.truncate(20);
    let text = crate::log::redact(&crate::report::render(&slim, Some(marker)));
    if text.chars().count() <= MAX_COMMENT_CHARS {
        return text;
    }
    const NOTE: &str = "\n\n… (report truncated: the job summary has all of it)\n";
    let mut out: String = text.chars().take(MAX_COMMENT_CHARS - NOTE.chars().count()).collect();
    out.push_str(NOTE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_modes() {
        assert_eq!(Want::decide(CommentMode::Never, true), None);
        assert_eq!(Want::decide(CommentMode::Auto, false), Some(Want::Event));
        assert_eq!(Want::decide(CommentMode::Always, false), Some(Want::Anywhere));
        assert_eq!(Want::decide(CommentMode::OnFailure, true), Some(Want::Anywhere));
        assert_eq!(Want::decide(CommentMode::OnFailure, false), Some(Want::UpdateOnly));
    }

    #[test]
    fn the_pull_request_comes_from_the_event() {
        let dir = std::env::temp_dir().join(format!("pv-event-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("event.json");
        std::fs::write(&path, r#"{"number": 7, "pull_request": {"number": 42}}"#).unwrap();
        let p = path.display().to_string();
        let env = Env::from([
            ("GITHUB_EVENT_NAME", "pull_request_target"),
            ("GITHUB_EVENT_PATH", p.as_str()),
        ]);
        assert_eq!(event_pr(&env), Some(42));
        let env = Env::from([("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", p.as_str())]);
        assert_eq!(event_pr(&env), None);
        std::fs::write(&path, r#"{"issue": {"number": 9}}"#).unwrap();
        let env = Env::from([
            ("GITHUB_EVENT_NAME", "issue_comment"),
            ("GITHUB_EVENT_PATH", p.as_str()),
        ]);
        assert_eq!(event_pr(&env), None, "a comment on an issue, not a PR");
        std::fs::write(&path, r#"{"issue": {"number": 9, "pull_request": {}}}"#).unwrap();
        assert_eq!(event_pr(&env), Some(9));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn repository_segments_are_checked() {
        let repo = |v: &str| repository(&Env::from([("GITHUB_REPOSITORY", v)]));
        assert_eq!(repo("acme/images"), Some(("acme".into(), "images".into())));
        assert_eq!(repo("acme/../x"), None);
        assert_eq!(repo("acme"), None);
        assert_eq!(repo("acme/im?ages"), None);
    }

    #[test]
    fn long_bodies_fit_githubs_limit() {
        let mut r = Report::new("build", "t");
        r.tail = vec!["y".repeat(5000); 400];
        let b = body(&r, "<!-- m -->");
        assert!(b.chars().count() <= MAX_COMMENT_CHARS);
        assert!(b.starts_with("<!-- m -->"));
        r.errors = vec!["e".repeat(60_000); 3];
        r.tail.clear();
        let b = body(&r, "<!-- m -->");
        assert!(b.chars().count() <= MAX_COMMENT_CHARS && b.ends_with("has all of it)\n"));
    }

    #[test]
    fn the_sticky_comment_is_a_bots_with_the_marker_first() {
        let c = |id: u64, body: &str, kind: &str| Comment {
            id,
            body: Some(body.into()),
            html_url: None,
            user: Some(User { kind: kind.into() }),
        };
        let m = "<!-- packer-vault:t:- -->";
        let quoted = format!("> {m}");
        let list = [
            c(1, &quoted, "Bot"),
            c(2, &format!("{m}\nmine"), "User"),
            c(3, &format!("{m}\nours"), "Bot"),
        ];
        assert_eq!(sticky(&list, m), Some(3));
        assert_eq!(sticky(&list[..2], m), Some(2), "a token of a person posts as a User");
        assert_eq!(sticky(&list[..1], m), None);
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
