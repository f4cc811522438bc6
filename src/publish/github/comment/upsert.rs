//! The upsert of one sticky comment per marker: list every page for it,
//! `PATCH` our own comment that has it, else `POST` a new one. A comment is
//! ours when the token's own identity wrote it: a token with
//! `pull-requests: write` may edit anyone's comment, and a pull request's
//! author could otherwise pre-post the marker and own the verdict.

use super::super::SERVICE;
use super::{MAX_PAGES, PER_PAGE, Target, Want};
use crate::remote::Failure;
use octocrab::{Octocrab, Page};
use serde::Deserialize;

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

/// A comment's author, or the token's own identity (`GET /user`).
#[derive(Debug, Deserialize)]
pub(super) struct User {
    /// `github-actions[bot]`, `octocat`.
    #[serde(default)]
    pub(super) login: String,
}

/// What `GITHUB_TOKEN` (an installation token of GitHub's own app) posts as.
pub(super) const ACTIONS_BOT: &str = "github-actions[bot]";

impl Comment {
    /// Whether this is a sticky comment for `marker` (it comes first).
    fn is_sticky(&self, marker: &str) -> bool {
        self.body.as_deref().is_some_and(|b| b.trim_start().starts_with(marker))
    }

    fn by(&self, me: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.login.eq_ignore_ascii_case(me))
    }
}

/// The comment of a page to update: the first with the marker that `me`
/// wrote. A person's comment that holds the marker is never ours.
fn sticky(comments: &[Comment], marker: &str, me: &str) -> Option<u64> {
    comments.iter().find(|c| c.is_sticky(marker) && c.by(me)).map(|c| c.id)
}

/// The login the token writes comments as: `GET /user` answers it for a
/// person's token; an installation token (`GITHUB_TOKEN`) is refused there
/// with 403 `Resource not accessible by integration`, and comments as
/// `github-actions[bot]`.
pub(super) async fn whoami(crab: &Octocrab) -> Result<String, Failure> {
    let what = "ask GitHub whom the token belongs to";
    match crab.get::<User, _, _>("/user", None::<&()>).await {
        Ok(u) if !u.login.is_empty() => Ok(u.login),
        Ok(_) => Err(Failure::status(
            SERVICE,
            what,
            200,
            vec!["the answer has no login".into()],
        )),
        Err(e) => match failure(what, e) {
            f if matches!(f.status, Some(403)) => Ok(ACTIONS_BOT.to_string()),
            f => Err(f),
        },
    }
}

/// What the upsert did.
#[derive(Debug)]
pub(super) enum Done {
    Created(Option<String>),
    Updated(Option<String>),
    /// (update only) no comment to update.
    Nothing,
}

/// One attempt at the upsert: list (every page) for the marker, `PATCH` the
/// comment that has it, else `POST` a new one. A retry lists again, so a
/// `POST` that went through before an error is found and not duplicated.
pub(super) async fn upsert(
    crab: &Octocrab,
    t: &Target,
    me: &str,
    marker: &str,
    body: &str,
    want: Want,
) -> Result<Done, Failure> {
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
        let hit = sticky(&page.items, marker, me);
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
pub(super) fn failure(what: &str, e: octocrab::Error) -> Failure {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let message: String = source.message.lines().next().unwrap_or("").chars().take(300).collect();
            let status = source.status_code.as_u16();
            let headers = source.headers.as_ref();
            match headers.and_then(|h| rate_limited(status, h)) {
                // GitHub's primary and secondary rate limits: wait as told,
                // then try again (a 429, which the retry loop retries).
                Some(wait) => {
                    let mut f = Failure::status(SERVICE, what, 429, vec![format!("rate limited: {message}")]);
                    f.retry_after = Some(wait);
                    f
                }
                None => {
                    let mut f = Failure::status(SERVICE, what, status, vec![message]);
                    f.retry_after = headers.and_then(crate::remote::retry_after);
                    f
                }
            }
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

/// Seconds to wait when a 403 or 429 is one of GitHub's rate limits: the
/// secondary limit's `retry-after`, or the primary limit's
/// `x-ratelimit-remaining: 0` with `x-ratelimit-reset` (epoch seconds);
/// `None` for any other answer (a 403 for missing permissions).
fn rate_limited(status: u16, headers: &reqwest::header::HeaderMap) -> Option<u64> {
    if !matches!(status, 403 | 429) {
        return None;
    }
    if let Some(s) = crate::remote::retry_after(headers) {
        return Some(s);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if header("x-ratelimit-remaining") != Some("0") {
        return None;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let reset = header("x-ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(now + 60);
    Some(reset.saturating_sub(now).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_rate_limits_are_waited_for_and_other_403s_are_not() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut secondary = HeaderMap::new();
        secondary.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(rate_limited(403, &secondary), Some(7));
        let mut primary = HeaderMap::new();
        primary.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + 3;
        primary.insert("x-ratelimit-reset", HeaderValue::from_str(&reset.to_string()).unwrap());
        assert!(rate_limited(403, &primary).is_some_and(|s| (2..=3).contains(&s)));
        assert_eq!(rate_limited(403, &HeaderMap::new()), None, "a permission 403 is final");
        assert_eq!(rate_limited(404, &secondary), None);
    }

    #[test]
    fn the_sticky_comment_is_our_own_with_the_marker_first() {
        let c = |id: u64, body: &str, login: &str| Comment {
            id,
            body: Some(body.into()),
            html_url: None,
            user: Some(User { login: login.into() }),
        };
        let m = "<!-- packer-vault:t:- -->";
        let quoted = format!("> {m}");
        let list = [
            c(1, &quoted, ACTIONS_BOT),
            c(2, &format!("{m}\nthe PR author's"), "mallory"),
            c(3, &format!("{m}\nanother bot's"), "renovate[bot]"),
            c(4, &format!("{m}\nours"), ACTIONS_BOT),
        ];
        assert_eq!(sticky(&list, m, ACTIONS_BOT), Some(4));
        assert_eq!(sticky(&list[..3], m, ACTIONS_BOT), None, "nobody else's, bot or person");
        assert_eq!(sticky(&list, m, "Mallory"), Some(2), "a person's token: their own");
    }
}
