//! GitLab as the cascade's engine: trigger a child project's pipeline,
//! follow it, cancel it.
//!
//! `POST /projects/:id/trigger/pipeline` (form `token`, `ref`,
//! `variables[K]=V`) → 201 `{id, web_url, status}`; `GET
//! /projects/:id/pipelines/:pid` → `status`; `POST .../pipelines/:pid/cancel`.
//! The trigger token is `cascade-token` or the job's `CI_JOB_TOKEN` (which
//! GitLab accepts when the child project's job-token allowlist admits this
//! one); the pipeline is read and cancelled with the project access token
//! (`gitlab-token`, `PRIVATE-TOKEN`) when there is one, else the job token.

use super::{Answer, Run, State, send};
use crate::remote::{Failure, retry};
use crate::secret::Secret;
use std::collections::BTreeMap;

/// The service name in failures.
pub const SERVICE: &str = "GitLab";

/// How the pipelines are read and cancelled.
pub enum Reader {
    /// `PRIVATE-TOKEN` (a project access token).
    Private(Secret),
    /// `JOB-TOKEN` (`CI_JOB_TOKEN`).
    Job(Secret),
}

/// A GitLab API client for the cascade.
pub struct Gitlab {
    http: reqwest::Client,
    base: String,
    trigger: Secret,
    reader: Reader,
}

fn project_id(project: &str) -> String {
    percent_encoding::utf8_percent_encode(project, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Gitlab {
    /// A client for `base` (`CI_API_V4_URL`).
    pub fn new(base: &str, trigger: Secret, reader: Reader) -> Result<Gitlab, String> {
        let base = base.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| format!("CI_API_V4_URL `{base}` is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!("CI_API_V4_URL `{base}` is not an http(s) URL"));
        }
        Ok(Gitlab {
            http: super::client(&base)?,
            base,
            trigger,
            reader,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, what: &str) -> Result<Answer, Failure> {
        retry::call(retry::Policy::default(), SERVICE, what, || async {
            let rb = self.http.request(method.clone(), format!("{}{path}", self.base));
            let rb = match &self.reader {
                Reader::Private(t) => rb.header("PRIVATE-TOKEN", t.expose()),
                Reader::Job(t) => rb.header("JOB-TOKEN", t.expose()),
            };
            send(SERVICE, what, rb).await
        })
        .await
    }

    /// Triggers a pipeline of `project` on `git_ref` with `variables`.
    pub async fn trigger(
        &self,
        project: &str,
        git_ref: &str,
        variables: &BTreeMap<String, String>,
    ) -> Result<Run, Failure> {
        let what = format!("trigger a pipeline of {project} on {git_ref}");
        let url = format!("{}/projects/{}/trigger/pipeline", self.base, project_id(project));
        let mut form: Vec<(String, String)> = vec![
            ("token".into(), self.trigger.expose().to_string()),
            ("ref".into(), git_ref.to_string()),
        ];
        form.extend(variables.iter().map(|(k, v)| (format!("variables[{k}]"), v.clone())));
        let a = retry::call(retry::Policy::default(), SERVICE, &what, || async {
            send(SERVICE, &what, self.http.post(&url).form(&form)).await
        })
        .await?;
        let id = a.body["id"]
            .as_u64()
            .ok_or_else(|| Failure::status(SERVICE, &what, a.status, vec!["the answer has no pipeline id".into()]))?;
        Ok(Run {
            id,
            url: a.body["web_url"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Where pipeline `id` of `project` is.
    pub async fn state(&self, project: &str, id: u64) -> Result<State, Failure> {
        let what = format!("read pipeline {id} of {project}");
        let a = self
            .call(
                reqwest::Method::GET,
                &format!("/projects/{}/pipelines/{id}", project_id(project)),
                &what,
            )
            .await?;
        Ok(match a.body["status"].as_str().unwrap_or_default() {
            "success" => State::Succeeded,
            s @ ("failed" | "canceled" | "skipped") => State::Failed(s.to_string()),
            _ => State::Running,
        })
    }

    /// Cancels pipeline `id` of `project`.
    pub async fn cancel(&self, project: &str, id: u64) -> Result<(), Failure> {
        let what = format!("cancel pipeline {id} of {project}");
        self.call(
            reqwest::Method::POST,
            &format!("/projects/{}/pipelines/{id}/cancel", project_id(project)),
            &what,
        )
        .await
        .map(|_| ())
    }
}
