//! The CI clients a cascade starts, follows and cancels runs with, and the
//! tokens each uses: GitHub (`cascade-token`, a token from Vault, or the
//! job's `github-token`, which dispatches in its own repository only) and
//! GitLab (a trigger token or the job token; reads with `gitlab-token`).

use super::Parent;
use crate::ci::Runner;
use crate::config::Config;
use crate::config::cascade::{Cascade as Settings, Target};
use crate::dispatch::github::Github;
use crate::dispatch::gitlab::{Gitlab, Reader};
use crate::dispatch::{Run, State};
use crate::env::Platform;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::collections::BTreeMap;

/// The CI clients a cascade dispatches with.
pub(super) struct Engines {
    github: Option<(Github, bool)>,
    gitlab: Option<Gitlab>,
    /// This job's repository (`GITHUB_REPOSITORY`), which `GITHUB_TOKEN`
    /// may dispatch in.
    own_repo: Option<String>,
}

impl Engines {
    pub(super) fn new(cfg: &Config, ci: &Runner, s: &Settings, from_vault: Option<Secret>) -> Result<Engines> {
        let explicit = s.token.clone().or(from_vault);
        let env = &ci.env;
        let github = match explicit.clone().or_else(|| cfg.github_token.clone()) {
            Some(token) => {
                let base = env.get("GITHUB_API_URL").unwrap_or("https://api.github.com");
                Some((Github::new(base, token).map_err(Error::failed)?, explicit.is_some()))
            }
            None => None,
        };
        let gitlab = match (
            env.get("CI_API_V4_URL"),
            explicit.or_else(|| env.get("CI_JOB_TOKEN").map(Secret::new)),
        ) {
            (Some(base), Some(trigger)) => {
                let reader = match (&cfg.gitlab_token, env.get("CI_JOB_TOKEN")) {
                    (Some(t), _) => Reader::Private(t.clone()),
                    (None, Some(j)) => Reader::Job(Secret::new(j)),
                    (None, None) => Reader::Job(trigger.clone()),
                };
                Some(Gitlab::new(base, trigger, reader).map_err(Error::failed)?)
            }
            _ => None,
        };
        if ci.platform == Platform::Github
            && let Some(t) = &cfg.github_token
        {
            crate::log::hide([t.expose()]);
        }
        Ok(Engines {
            github,
            gitlab,
            own_repo: env.get("GITHUB_REPOSITORY").map(str::to_string),
        })
    }

    /// Starts the rebuild of one child.
    pub(super) async fn start(
        &self,
        target: &Target,
        s: &Settings,
        parent: &Parent,
        child: &str,
    ) -> std::result::Result<Run, String> {
        match target {
            Target::Github {
                repo,
                workflow,
                git_ref,
            } => {
                let Some((gh, explicit)) = &self.github else {
                    return Err("no GitHub token: set `cascade-token` (or `github-token`)".into());
                };
                if !explicit && self.own_repo.as_deref() != Some(repo.as_str()) {
                    return Err(format!(
                        "the job's GITHUB_TOKEN starts workflows only in its own repository: set `cascade-token` to a token that may dispatch in {repo} (a GitHub App installation token, e.g. from Vault's GitHub secrets engine)"
                    ));
                }
                let inputs: BTreeMap<String, String> = s
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), expand(v, parent, child)))
                    .collect();
                gh.dispatch(repo, workflow, git_ref, &inputs)
                    .await
                    .map_err(|f| match f.status {
                        Some(403 | 404) if !explicit => {
                            format!("{f}: set `cascade-token` to a token that may dispatch in {repo}")
                        }
                        Some(403 | 404) => format!("{f}: `cascade-token` may not dispatch {workflow} in {repo}"),
                        Some(422) => format!(
                            "{f}: the workflow must declare `on: workflow_dispatch` and every input of `cascade-inputs`"
                        ),
                        _ => f.to_string(),
                    })
            }
            Target::Gitlab { project, git_ref } => {
                let Some(gl) = &self.gitlab else {
                    return Err("no GitLab here (CI_API_V4_URL) or no trigger token: set `cascade-token`".into());
                };
                let variables: BTreeMap<String, String> = [
                    ("PACKER_VAULT_PARENT_BUCKET", parent.bucket.clone()),
                    ("PACKER_VAULT_PARENT_CHANNEL", parent.channel.clone()),
                    ("PACKER_VAULT_PARENT_FINGERPRINT", parent.fingerprint.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                gl.trigger(project, git_ref, &variables).await.map_err(|f| match f.status {
                    Some(401 | 403 | 404) => format!(
                        "{f}: the trigger token may not start pipelines of {project} (CI_JOB_TOKEN needs this project in {project}'s job token allowlist; or set `cascade-token` to a pipeline trigger token)"
                    ),
                    _ => f.to_string(),
                })
            }
        }
    }

    pub(super) async fn state(&self, target: &Target, run: &Run) -> std::result::Result<State, String> {
        match (target, &self.github, &self.gitlab) {
            (Target::Github { repo, .. }, Some((gh, _)), _) => gh.state(repo, run.id).await.map_err(|f| f.to_string()),
            (Target::Gitlab { project, .. }, _, Some(gl)) => gl.state(project, run.id).await.map_err(|f| f.to_string()),
            _ => Err("no client".into()),
        }
    }

    pub(super) async fn cancel(&self, target: &Target, run: &Run) {
        let done = match (target, &self.github, &self.gitlab) {
            (Target::Github { repo, .. }, Some((gh, _)), _) => gh.cancel(repo, run.id).await,
            (Target::Gitlab { project, .. }, _, Some(gl)) => gl.cancel(project, run.id).await,
            _ => return,
        };
        match done {
            Ok(()) => crate::log::info(&format!("cascade: cancelled {}", run.url)),
            Err(f) => crate::log::warn(&format!("cascade: {f}")),
        }
    }
}

/// `{bucket}`, `{channel}`, `{fingerprint}`, `{version_id}` of the parent.
fn expand(value: &str, parent: &Parent, _child: &str) -> String {
    value
        .replace("{bucket}", &parent.bucket)
        .replace("{channel}", &parent.channel)
        .replace("{fingerprint}", &parent.fingerprint)
        .replace("{version_id}", &parent.version_id)
}
