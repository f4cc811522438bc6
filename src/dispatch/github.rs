//! GitHub Actions as the cascade's engine: `workflow_dispatch` a child's
//! workflow, follow its run, cancel it.
//!
//! `POST /repos/O/R/actions/workflows/W/dispatches {ref, inputs,
//! return_run_details: true}` → 200 `{workflow_run_id, run_url, html_url}`.
//! A server that refuses the field (GitHub Enterprise Server 3.20 and older:
//! 400) gets the request again without it (→ 204), and the run is found
//! among `GET /repos/O/R/actions/runs?event=workflow_dispatch&branch=REF&
//! created=>=T` (the newest not claimed yet). `GET .../actions/runs/ID` →
//! `status`, `conclusion`; `POST .../actions/runs/ID/cancel` → 202.

use super::{Answer, Run, State, send};
use crate::remote::{Failure, retry};
use crate::secret::Secret;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The service name in failures.
pub const SERVICE: &str = "GitHub";

/// A GitHub API client with one token.
pub struct Github {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl Github {
    /// A client for `base` (`GITHUB_API_URL`) sending `token`.
    pub fn new(base: &str, token: Secret) -> Result<Github, String> {
        let base = base.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| format!("GITHUB_API_URL `{base}` is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!("GITHUB_API_URL `{base}` is not an http(s) URL"));
        }
        Ok(Github {
            http: super::client(&base)?,
            base,
            token,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Answer, Failure> {
        retry::call(retry::Policy::default(), SERVICE, what, || async {
            let mut rb = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(self.token.expose())
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
            if let Some(b) = body {
                rb = rb.json(b);
            }
            send(SERVICE, what, rb).await
        })
        .await
    }

    /// Dispatches `workflow` of `repo` on `git_ref` with `inputs`; the run
    /// it started.
    pub async fn dispatch(
        &self,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
    ) -> Result<Run, Failure> {
        let what = format!("start workflow {workflow} of {repo} on {git_ref}");
        let path = format!("/repos/{repo}/actions/workflows/{workflow}/dispatches");
        let since = crate::time::now_secs() - 5;
        let body = json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true });
        match self.call(reqwest::Method::POST, &path, Some(&body), &what).await {
            Ok(a) if a.status == 200 => {
                let id = a.body["workflow_run_id"].as_u64().or_else(|| a.body["id"].as_u64());
                let url = a.body["html_url"].as_str().unwrap_or_default().to_string();
                match id {
                    Some(id) => Ok(Run { id, url }),
                    None => self.find_run(repo, workflow, git_ref, since, &what).await,
                }
            }
            Ok(_) => self.find_run(repo, workflow, git_ref, since, &what).await,
            // A server older than the field: once more without it.
            Err(f) if f.status == Some(400) => {
                let body = json!({ "ref": git_ref, "inputs": inputs });
                self.call(reqwest::Method::POST, &path, Some(&body), &what).await?;
                self.find_run(repo, workflow, git_ref, since, &what).await
            }
            Err(f) => Err(f),
        }
    }

    /// The newest `workflow_dispatch` run of `workflow` on `git_ref` created
    /// since `since` (asked a few times: a run appears a moment after the
    /// dispatch).
    async fn find_run(
        &self,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        since: i64,
        what: &str,
    ) -> Result<Run, Failure> {
        let created = percent_encoding::utf8_percent_encode(
            &format!(">={}", crate::time::utc(since)),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        let branch = percent_encoding::utf8_percent_encode(git_ref, percent_encoding::NON_ALPHANUMERIC).to_string();
        let path =
            format!("/repos/{repo}/actions/runs?event=workflow_dispatch&branch={branch}&created={created}&per_page=20");
        for attempt in 0..10u64 {
            let a = self.call(reqwest::Method::GET, &path, None, what).await?;
            let runs = a.body["workflow_runs"].as_array().cloned().unwrap_or_default();
            let newest = runs
                .iter()
                .filter(|r| {
                    let p = r["path"].as_str().unwrap_or_default();
                    p.is_empty() || p.ends_with(&format!("/{workflow}")) || p.contains(&format!("/{workflow}@"))
                })
                .max_by_key(|r| r["id"].as_u64().unwrap_or(0));
            if let Some(r) = newest
                && let Some(id) = r["id"].as_u64()
            {
                let url = r["html_url"].as_str().unwrap_or_default().to_string();
                return Ok(Run { id, url });
            }
            tokio::time::sleep(Duration::from_millis(500 * (attempt + 1))).await;
        }
        Err(Failure::status(
            SERVICE,
            what,
            204,
            vec!["the dispatch was accepted, but no run of it showed up".into()],
        ))
    }

    /// Where run `id` of `repo` is.
    pub async fn state(&self, repo: &str, id: u64) -> Result<State, Failure> {
        let what = format!("read run {id} of {repo}");
        let a = self
            .call(
                reqwest::Method::GET,
                &format!("/repos/{repo}/actions/runs/{id}"),
                None,
                &what,
            )
            .await?;
        Ok(match (a.body["status"].as_str(), a.body["conclusion"].as_str()) {
            (Some("completed"), Some("success")) => State::Succeeded,
            (Some("completed"), c) => State::Failed(c.unwrap_or("unknown").to_string()),
            _ => State::Running,
        })
    }

    /// Cancels run `id` of `repo`.
    pub async fn cancel(&self, repo: &str, id: u64) -> Result<(), Failure> {
        let what = format!("cancel run {id} of {repo}");
        let path = format!("/repos/{repo}/actions/runs/{id}/cancel");
        match self.call(reqwest::Method::POST, &path, None, &what).await {
            Ok(_) => Ok(()),
            // Finished meanwhile: nothing to cancel.
            Err(f) if f.status == Some(409) => Ok(()),
            Err(f) => Err(f),
        }
    }
}
