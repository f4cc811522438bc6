//! The upsert of one sticky comment per marker: list every page for it,
//! `PATCH` the comment that has it, else `POST` a new one.

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
pub(super) async fn upsert(crab: &Octocrab, t: &Target, marker: &str, body: &str, want: Want) -> Result<Done, Failure> {
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
pub(super) fn failure(what: &str, e: octocrab::Error) -> Failure {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
