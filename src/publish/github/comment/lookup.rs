//! Which pull request the comment goes to: the event's, else the one the
//! pushed commit belongs to; and the repository it lives in.

use super::PER_PAGE;
use super::upsert::failure;
use crate::env::Env;
use crate::remote::{Failure, retry};
use octocrab::Octocrab;
use serde::Deserialize;

/// A pull request as `commits/{sha}/pulls` lists it.
#[derive(Debug, Deserialize)]
struct Pull {
    number: u64,
    #[serde(default)]
    state: String,
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

/// The pull request a pushed commit belongs to (`commits/{sha}/pulls`): an
/// open one first, else the most recent.
pub(super) async fn commit_pr(
    crab: &Octocrab,
    owner: &str,
    repo: &str,
    sha: Option<&str>,
) -> Result<Option<u64>, Failure> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
