//! The sticky MR note: which merge request it belongs to, and the upsert of
//! one note per template/bucket marker (`PUT` the note found, else `POST`).

use super::Want;
use super::api::{Api, MergeRequest};
use crate::env::Env;
use crate::remote::{Failure, retry};
use crate::secret::Secret;

/// GitLab's limit on a note body, in characters.
const MAX_NOTE_CHARS: usize = 1_000_000;

/// The merge request a note goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Project id (or path) of the MR's target project.
    pub project: String,
    /// MR number within that project.
    pub iid: u64,
    /// Link to the MR, for the log.
    pub url: Option<String>,
}

/// The MR of a merge-request pipeline (`CI_MERGE_REQUEST_IID`,
/// `CI_MERGE_REQUEST_PROJECT_ID`), or `None` in any other pipeline.
pub(crate) fn mr_pipeline(env: &Env) -> Option<Target> {
    let iid = env.get("CI_MERGE_REQUEST_IID")?.trim().parse().ok()?;
    let project = env
        .get("CI_MERGE_REQUEST_PROJECT_ID")
        .or(env.get("CI_PROJECT_ID"))?
        .trim()
        .to_string();
    let url = env
        .get("CI_MERGE_REQUEST_PROJECT_URL")
        .map(|u| format!("{}/-/merge_requests/{iid}", u.trim_end_matches('/')));
    Some(Target { project, iid, url })
}

/// The MR a branch pipeline's commit belongs to: an open one first, else
/// the one that merged it.
fn pick(mrs: &[MergeRequest]) -> Option<Target> {
    let mr = mrs
        .iter()
        .find(|m| m.state == "opened")
        .or_else(|| mrs.iter().find(|m| m.state == "merged"))?;
    Some(Target {
        project: mr.project_id.to_string(),
        iid: mr.iid,
        url: Some(mr.web_url.clone()).filter(|u| !u.is_empty()),
    })
}

/// What the upsert did.
#[derive(Debug)]
enum Done {
    Created(Target, u64),
    Updated(Target, u64),
    /// No MR for this pipeline, or (update only) no note to update.
    Nothing(&'static str),
}

/// Upserts the note within `budget`; logs what happened. Never fails the run.
pub(crate) async fn publish(
    env: &Env,
    token: &Secret,
    marker: &str,
    body: &str,
    want: Want,
    budget: std::time::Duration,
) {
    let Some(base) = env.get("CI_API_V4_URL") else {
        crate::log::warn("no MR note: CI_API_V4_URL is not set");
        return;
    };
    let api = match Api::new(base, token) {
        Ok(a) => a,
        Err(e) => return crate::log::warn(&format!("no MR note: {e}")),
    };
    let body = truncate(body);
    let work = retry::run(retry::Policy::default(), || upsert(&api, env, marker, &body, want));
    let Ok(result) = tokio::time::timeout(budget, work).await else {
        return crate::log::warn(&format!(
            "no MR note: GitLab did not answer within {} s",
            budget.as_secs()
        ));
    };
    match result {
        Ok(Done::Created(t, id)) => crate::log::info(&format!("posted the MR note on !{}{}", t.iid, link(&t, id))),
        Ok(Done::Updated(t, id)) => crate::log::info(&format!("updated the MR note on !{}{}", t.iid, link(&t, id))),
        Ok(Done::Nothing(why)) => crate::log::info(&format!("no MR note: {why}")),
        Err(f) => crate::log::warn(&explain(&f)),
    }
}

fn link(t: &Target, note: u64) -> String {
    t.url
        .as_ref()
        .map(|u| format!(" ({u}#note_{note})"))
        .unwrap_or_default()
}

/// One attempt: find the MR, find the marker's note, `PUT` or `POST`. A
/// retry starts over, so a `POST` whose answer was lost is found, not repeated.
async fn upsert(api: &Api, env: &Env, marker: &str, body: &str, want: Want) -> Result<Done, Failure> {
    let target = match (mr_pipeline(env), want) {
        (Some(t), _) => t,
        (None, Want::MrPipeline) => return Ok(Done::Nothing("not a merge-request pipeline")),
        (None, _) => {
            let (Some(project), Some(sha)) = (env.get("CI_PROJECT_ID"), env.get("CI_COMMIT_SHA")) else {
                return Ok(Done::Nothing("CI_PROJECT_ID or CI_COMMIT_SHA is not set"));
            };
            match pick(&api.commit_merge_requests(project.trim(), sha.trim()).await?) {
                Some(t) => t,
                None => return Ok(Done::Nothing("the commit belongs to no open or merged merge request")),
            }
        }
    };
    let me = api.current_user().await?;
    match api.find_note(&target.project, target.iid, marker, me.id).await? {
        Some(id) => {
            let note = api.update_note(&target.project, target.iid, id, body).await?;
            Ok(Done::Updated(target, note.id))
        }
        None if want == Want::UpdateOnly => Ok(Done::Nothing("the run succeeded and no earlier note needs updating")),
        None => {
            let note = api.create_note(&target.project, target.iid, body).await?;
            Ok(Done::Created(target, note.id))
        }
    }
}

/// A warning that says what to fix.
fn explain(f: &Failure) -> String {
    match f.status {
        Some(401 | 403) => format!(
            "no MR note: {f}. `gitlab-token` is missing rights, expired or revoked: {}",
            super::TOKEN_HELP
        ),
        Some(404) => format!(
            "no MR note: {f}. The token cannot see that project or merge request \
             (a project access token works only in its own project)"
        ),
        _ => format!("no MR note: {f}"),
    }
}

/// The body cut to GitLab's limit, on a character boundary.
fn truncate(body: &str) -> String {
    if body.chars().count() <= MAX_NOTE_CHARS {
        return body.to_string();
    }
    let mut out: String = body.chars().take(MAX_NOTE_CHARS - 64).collect();
    out.push_str("\n\n… (report truncated)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mr(iid: u64, state: &str) -> MergeRequest {
        MergeRequest {
            iid,
            project_id: 7,
            state: state.into(),
            web_url: format!("https://gitlab.example.com/acme/images/-/merge_requests/{iid}"),
        }
    }

    #[test]
    fn targets() {
        let env = Env::from([
            ("CI_MERGE_REQUEST_IID", "42"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "1234"),
            ("CI_PROJECT_ID", "99"),
            ("CI_MERGE_REQUEST_PROJECT_URL", "https://gitlab.example.com/acme/images"),
        ]);
        let t = mr_pipeline(&env).expect("an MR pipeline");
        assert_eq!((t.project.as_str(), t.iid), ("1234", 42));
        assert_eq!(
            t.url.as_deref(),
            Some("https://gitlab.example.com/acme/images/-/merge_requests/42")
        );
        assert_eq!(mr_pipeline(&Env::from([("CI_PROJECT_ID", "99")])), None);
        assert_eq!(
            mr_pipeline(&Env::from([("CI_MERGE_REQUEST_IID", "x"), ("CI_PROJECT_ID", "9")])),
            None
        );

        assert_eq!(
            pick(&[mr(1, "closed"), mr(2, "merged"), mr(3, "opened")]).map(|t| t.iid),
            Some(3)
        );
        assert_eq!(pick(&[mr(1, "closed"), mr(2, "merged")]).map(|t| t.iid), Some(2));
        assert_eq!(pick(&[mr(1, "closed")]), None);
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "é".repeat(MAX_NOTE_CHARS + 10);
        let cut = truncate(&body);
        assert!(cut.chars().count() <= MAX_NOTE_CHARS);
        assert!(cut.ends_with("(report truncated)\n"));
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn auth_failures_say_what_to_create() {
        let f = Failure::status(
            super::super::api::SERVICE,
            "create the note",
            403,
            vec!["403 Forbidden".into()],
        );
        let msg = explain(&f);
        assert!(
            msg.contains("403 Forbidden") && msg.contains("PACKER_VAULT_GITLAB_TOKEN"),
            "{msg}"
        );
    }
}
