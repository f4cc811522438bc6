//! GitLab's REST API (v4), as far as the MR note needs it: typed shapes and
//! requests that keep the HTTP status and GitLab's message in a [`Failure`].

use crate::remote::Failure;
use crate::secret::Secret;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The service name in GitLab failures.
pub const SERVICE: &str = "GitLab";
/// Notes per page when listing (GitLab's maximum).
const PER_PAGE: usize = 100;
/// Pages listed at most (10 000 notes).
const MAX_PAGES: u32 = 100;

/// A note on a merge request (`GET .../merge_requests/:iid/notes`).
#[derive(Debug, Clone, Deserialize)]
pub struct Note {
    /// Note id, for `PUT .../notes/:note_id`.
    pub id: u64,
    /// Markdown body.
    #[serde(default)]
    pub body: String,
    /// True for GitLab's own notes ("added 1 commit").
    #[serde(default)]
    pub system: bool,
    /// Who wrote it.
    #[serde(default)]
    pub author: Option<User>,
}

/// A GitLab user: a note's author, or the token's own (`GET /user`).
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// Numeric id (stable across renames).
    pub id: u64,
}

/// A merge request as `repository/commits/:sha/merge_requests` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequest {
    /// Number within its project (`!42`).
    pub iid: u64,
    /// The project the MR targets.
    pub project_id: u64,
    /// `opened`, `merged`, `closed`, `locked`.
    #[serde(default)]
    pub state: String,
    /// Link to the MR.
    #[serde(default)]
    pub web_url: String,
}

#[derive(Serialize)]
struct NoteBody<'a> {
    body: &'a str,
}

/// A client for `CI_API_V4_URL` authenticated with `PRIVATE-TOKEN`.
pub struct Api {
    http: reqwest::Client,
    base: reqwest::Url,
}

impl Api {
    /// A client for `base` (`https://gitlab.example.com/api/v4`) with `token`.
    pub fn new(base: &str, token: &Secret) -> Result<Api, String> {
        let base = reqwest::Url::parse(base.trim()).map_err(|e| format!("CI_API_V4_URL is not a URL ({e})"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err("CI_API_V4_URL must be an http(s) URL".into());
        }
        let mut value = HeaderValue::from_str(token.expose().trim())
            .map_err(|_| "`gitlab-token` holds characters a header cannot carry".to_string())?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("PRIVATE-TOKEN", value);
        let http = crate::remote::client_builder(base.scheme() == "https", Vec::new())?
            .default_headers(headers)
            .user_agent(concat!("packer-vault/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // A redirect would resend PRIVATE-TOKEN elsewhere (reqwest drops only `Authorization`).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Api { http, base })
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> reqwest::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // Each segment is percent-encoded: a project path becomes `group%2Fproject`.
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Sends one request; any answer but 2xx is a [`Failure`] with GitLab's message.
    async fn send(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&str>,
        what: &str,
    ) -> Result<(HeaderMap, String), Failure> {
        let mut req = self.http.request(method, url).header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(&NoteBody { body: b });
        }
        let resp = req.send().await.map_err(|e| Failure::transport(SERVICE, what, &e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.map_err(|e| Failure::transport(SERVICE, what, &e))?;
        if !(200..300).contains(&status) {
            let mut f = Failure::status(SERVICE, what, status, vec![message(&text)]);
            f.retry_after = crate::remote::retry_after(&headers);
            return Err(f);
        }
        Ok((headers, text))
    }

    fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Failure> {
        crate::remote::decode::text(text)
            .map_err(|e| Failure::status(SERVICE, what, 200, vec![format!("unexpected answer: {e}")]))
    }

    /// `GET /user`: whom the token belongs to (a project access token's
    /// bot user, or a person).
    pub async fn current_user(&self) -> Result<User, Failure> {
        let what = "ask GitLab whom `gitlab-token` belongs to";
        let (_, text) = self
            .send(reqwest::Method::GET, self.url(&["user"], &[]), None, what)
            .await?;
        Self::parse(&text, what)
    }

    /// The id of the first (oldest) non-system note written by user `me`
    /// whose body starts with `marker`, paging through every note of the
    /// MR. Anyone else's note with the marker is never ours to edit.
    pub async fn find_note(&self, project: &str, iid: u64, marker: &str, me: u64) -> Result<Option<u64>, Failure> {
        let what = format!("list the notes of MR !{iid} in project {project}");
        let iid = iid.to_string();
        let mut page: u32 = 1;
        while page <= MAX_PAGES {
            let query = [
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
                ("sort", "asc".to_string()),
                ("order_by", "created_at".to_string()),
            ];
            let url = self.url(&["projects", project, "merge_requests", &iid, "notes"], &query);
            let (headers, text) = self.send(reqwest::Method::GET, url, None, &what).await?;
            let notes: Vec<Note> = Self::parse(&text, &what)?;
            if let Some(n) = notes.iter().find(|n| {
                !n.system && n.author.as_ref().is_some_and(|a| a.id == me) && n.body.trim_start().starts_with(marker)
            }) {
                return Ok(Some(n.id));
            }
            let next = headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .map(|v| v.parse::<u32>().ok());
            page = match next {
                // GitLab says which page is next, and an empty value on the last one.
                Some(Some(n)) if n > page => n,
                Some(_) => break,
                None if notes.len() >= PER_PAGE => page + 1,
                None => break,
            };
        }
        Ok(None)
    }

    /// `POST /projects/:id/merge_requests/:iid/notes`.
    pub async fn create_note(&self, project: &str, iid: u64, body: &str) -> Result<Note, Failure> {
        let what = format!("create the note on MR !{iid} in project {project}");
        let url = self.url(&["projects", project, "merge_requests", &iid.to_string(), "notes"], &[]);
        let (_, text) = self.send(reqwest::Method::POST, url, Some(body), &what).await?;
        Self::parse(&text, &what)
    }

    /// `PUT /projects/:id/merge_requests/:iid/notes/:note_id`.
    pub async fn update_note(&self, project: &str, iid: u64, note: u64, body: &str) -> Result<Note, Failure> {
        let what = format!("update note {note} on MR !{iid} in project {project}");
        let segments = [
            "projects",
            project,
            "merge_requests",
            &iid.to_string(),
            "notes",
            &note.to_string(),
        ];
        let url = self.url(&segments, &[]);
        let (_, text) = self.send(reqwest::Method::PUT, url, Some(body), &what).await?;
        Self::parse(&text, &what)
    }

    /// `GET /projects/:id/repository/commits/:sha/merge_requests`.
    pub async fn commit_merge_requests(&self, project: &str, sha: &str) -> Result<Vec<MergeRequest>, Failure> {
        let what = format!("find the merge requests of commit {sha} in project {project}");
        let url = self.url(
            &["projects", project, "repository", "commits", sha, "merge_requests"],
            &[],
        );
        let (_, text) = self.send(reqwest::Method::GET, url, None, &what).await?;
        Self::parse(&text, &what)
    }
}

/// GitLab's error text: `{"message": "401 Unauthorized"}`, `{"message":
/// {"note": ["is too long"]}}`, `{"error": "...", "error_description": "..."}`.
fn message(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.chars().take(200).collect();
    };
    let pick = |k: &str| match &v[k] {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    match (pick("message"), pick("error"), pick("error_description")) {
        (Some(m), _, _) => m,
        (None, Some(e), Some(d)) => format!("{e}: {d}"),
        (None, Some(e), None) => e,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_project_paths() -> Result<(), String> {
        let api = Api::new("https://gitlab.example.com/api/v4/", &Secret::new("glpat-x"))?;
        let url = api.url(
            &["projects", "acme/images", "merge_requests", "42", "notes"],
            &[("page", "2".into())],
        );
        assert_eq!(
            url.as_str(),
            "https://gitlab.example.com/api/v4/projects/acme%2Fimages/merge_requests/42/notes?page=2"
        );
        assert!(Api::new("ftp://x", &Secret::new("t")).is_err());
        assert!(Api::new("https://x", &Secret::new("bad\ntoken")).is_err());
        Ok(())
    }

    #[test]
    fn messages_of_every_shape() {
        assert_eq!(message(r#"{"message":"401 Unauthorized"}"#), "401 Unauthorized");
        assert_eq!(
            message(r#"{"message":{"note":["is too long"]}}"#),
            r#"{"note":["is too long"]}"#
        );
        assert_eq!(
            message(r#"{"error":"insufficient_scope","error_description":"needs api"}"#),
            "insufficient_scope: needs api"
        );
        assert_eq!(message("<html>"), "<html>");
    }
}
