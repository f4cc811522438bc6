//! Stand-in for other repositories' pipelines, the cascade's engine: GitHub
//! Actions `workflow_dispatch` and runs, and GitLab pipeline triggers and
//! pipelines, with the real shapes and statuses (REFERENCE.md).
//!
//! GitHub (`/repos/...`, `Authorization: Bearer`):
//! * `POST /repos/O/R/actions/workflows/W/dispatches {ref, inputs,
//!   return_run_details}` → 200 `{workflow_run_id, run_url, html_url}`, or
//!   204 without the field; 400 to the field on an old server
//!   ([`CiRuns::old_github`]); 422 `Unexpected inputs provided: [...]` for an
//!   input the workflow does not declare; 403 `Resource not accessible by
//!   integration` for the job's token outside its own repository; 404 for
//!   a workflow that does not exist.
//! * `GET /repos/O/R/actions/runs/ID` → `{id, status, conclusion, html_url}`;
//!   `GET /repos/O/R/actions/runs?event=workflow_dispatch&branch=&created=`
//!   → `{total_count, workflow_runs}`; `POST .../runs/ID/cancel` → 202.
//!
//! GitLab (`/api/v4/projects/:id/...`):
//! * `POST .../trigger/pipeline` (form `token`, `ref`, `variables[K]`) →
//!   201 `{id, web_url, status: "created"}`, 404 for a token the project
//!   does not accept; `GET .../pipelines/:pid` → `{id, status, web_url}`;
//!   `POST .../pipelines/:pid/cancel` → 200.
//!
//! A run is `in_progress` (`running`) for its workflow's duration after it
//! starts, then `completed`/`success` (or `failure` for a failing workflow);
//! a cancelled one is `completed`/`cancelled` (`canceled`). The most runs
//! unfinished at once is recorded ([`CiRuns::most_in_flight`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::bao::block_on;

/// How one child's pipeline behaves.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// How long a run takes.
    pub duration: Duration,
    /// Whether it fails.
    pub fails: bool,
    /// The inputs it declares (`None`: any).
    pub inputs: Option<Vec<String>>,
}

/// One run that was started.
#[derive(Debug, Clone)]
pub struct StartedRun {
    pub id: u64,
    /// `OWNER/REPO` or the GitLab project path.
    pub repo: String,
    /// The workflow file (GitHub), empty for GitLab.
    pub workflow: String,
    pub git_ref: String,
    /// Workflow inputs (GitHub) or pipeline variables (GitLab).
    pub inputs: BTreeMap<String, String>,
    /// The token it was started with.
    pub token: String,
    started: Instant,
    duration: Duration,
    fails: bool,
    pub cancelled: bool,
}

impl StartedRun {
    fn finished(&self) -> bool {
        self.cancelled || self.started.elapsed() >= self.duration
    }
}

#[derive(Debug, Default)]
struct State {
    /// `repo:workflow` (GitHub) or `project` (GitLab) → how it behaves.
    workflows: BTreeMap<String, Workflow>,
    runs: Vec<StartedRun>,
    most_in_flight: usize,
    old_github: bool,
    /// GitHub tokens that may dispatch anywhere.
    app_tokens: BTreeSet<String>,
    /// The job's `GITHUB_TOKEN` and its repository.
    job_token: Option<(String, String)>,
    /// GitLab trigger tokens accepted (by every project here).
    trigger_tokens: BTreeSet<String>,
    requests: Vec<(String, String, u16)>,
}

struct Responder {
    base: String,
    state: Arc<Mutex<State>>,
}

fn message(text: &str) -> Value {
    json!({ "message": text, "documentation_url": "https://docs.github.com/rest" })
}

impl Responder {
    fn github(&self, request: &Request, state: &mut State) -> (u16, Value) {
        let path = request.url.path().to_string();
        let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let token = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string();
        let repo = format!("{}/{}", seg.get(1).unwrap_or(&""), seg.get(2).unwrap_or(&""));
        let allowed = state.app_tokens.contains(&token)
            || state.job_token.as_ref().is_some_and(|(t, r)| *t == token && *r == repo);
        if !allowed {
            let known = state.app_tokens.contains(&token) || state.job_token.as_ref().is_some_and(|(t, _)| *t == token);
            return if known {
                (403, message("Resource not accessible by integration"))
            } else {
                (401, message("Bad credentials"))
            };
        }
        match (request.method.as_str(), &seg[3..]) {
            ("POST", ["actions", "workflows", workflow, "dispatches"]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let Some(git_ref) = body["ref"].as_str() else {
                    return (422, message("Invalid request.\n\n\"ref\" wasn't supplied."));
                };
                if state.old_github && body.get("return_run_details").is_some() {
                    return (
                        400,
                        message("Invalid request.\n\n\"return_run_details\" is not a permitted key."),
                    );
                }
                let Some(wf) = state.workflows.get(&format!("{repo}:{workflow}")).cloned() else {
                    return (404, message("Not Found"));
                };
                let inputs: BTreeMap<String, String> = body["inputs"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(declared) = &wf.inputs {
                    let unexpected: Vec<&String> = inputs.keys().filter(|k| !declared.contains(k)).collect();
                    if !unexpected.is_empty() {
                        return (422, message(&format!("Unexpected inputs provided: {unexpected:?}")));
                    }
                }
                let id = self.start(state, &repo, workflow, git_ref, inputs, &token, &wf);
                if body.get("return_run_details").and_then(Value::as_bool) == Some(true) {
                    (
                        200,
                        json!({
                            "workflow_run_id": id,
                            "run_url": format!("{}/repos/{repo}/actions/runs/{id}", self.base),
                            "html_url": format!("https://github.com/{repo}/actions/runs/{id}"),
                        }),
                    )
                } else {
                    (204, Value::Null)
                }
            }
            ("GET", ["actions", "runs"]) => {
                let q: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
                let runs: Vec<Value> = state
                    .runs
                    .iter()
                    .rev()
                    .filter(|r| r.repo == repo && q.get("branch").is_none_or(|b| *b == r.git_ref))
                    .map(github_run)
                    .collect();
                (200, json!({ "total_count": runs.len(), "workflow_runs": runs }))
            }
            ("GET", ["actions", "runs", id]) => {
                match state.runs.iter().find(|r| r.id.to_string() == *id && r.repo == repo) {
                    Some(r) => (200, github_run(r)),
                    None => (404, message("Not Found")),
                }
            }
            ("POST", ["actions", "runs", id, "cancel"]) => {
                match state
                    .runs
                    .iter_mut()
                    .find(|r| r.id.to_string() == *id && r.repo == repo)
                {
                    Some(r) if r.finished() => (409, message("Cannot cancel a workflow run that is completed.")),
                    Some(r) => {
                        r.cancelled = true;
                        (202, json!({}))
                    }
                    None => (404, message("Not Found")),
                }
            }
            _ => (404, message("Not Found")),
        }
    }

    fn gitlab(&self, request: &Request, state: &mut State) -> (u16, Value) {
        let path = request.url.path().trim_start_matches("/api/v4/projects/").to_string();
        let mut parts = path.splitn(2, '/');
        let project = percent_encoding::percent_decode_str(parts.next().unwrap_or_default())
            .decode_utf8_lossy()
            .into_owned();
        let rest: Vec<&str> = parts.next().unwrap_or_default().split('/').collect();
        let not_found = json!({ "message": "404 Not Found" });
        match (request.method.as_str(), rest.as_slice()) {
            ("POST", ["trigger", "pipeline"]) => {
                let form = super::hcp::form(&String::from_utf8_lossy(&request.body));
                let token = form.get("token").cloned().unwrap_or_default();
                if !state.trigger_tokens.contains(&token) {
                    return (404, not_found);
                }
                let Some(wf) = state.workflows.get(&project).cloned() else {
                    return (404, json!({ "message": "404 Project Not Found" }));
                };
                let variables: BTreeMap<String, String> = form
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.strip_prefix("variables[")?.strip_suffix(']')?.to_string(), v.clone()))
                    })
                    .collect();
                let git_ref = form.get("ref").cloned().unwrap_or_default();
                let id = self.start(state, &project, "", &git_ref, variables, &token, &wf);
                (
                    201,
                    json!({ "id": id, "status": "created", "web_url": gitlab_url(&project, id) }),
                )
            }
            ("GET", ["pipelines", id]) => {
                let Some(r) = state.runs.iter().find(|r| r.id.to_string() == *id && r.repo == project) else {
                    return (404, not_found);
                };
                let status = if r.cancelled {
                    "canceled"
                } else if !r.finished() {
                    "running"
                } else if r.fails {
                    "failed"
                } else {
                    "success"
                };
                (
                    200,
                    json!({ "id": r.id, "status": status, "web_url": gitlab_url(&project, r.id) }),
                )
            }
            ("POST", ["pipelines", id, "cancel"]) => {
                match state
                    .runs
                    .iter_mut()
                    .find(|r| r.id.to_string() == *id && r.repo == project)
                {
                    Some(r) => {
                        r.cancelled = true;
                        (200, json!({ "id": r.id, "status": "canceled" }))
                    }
                    None => (404, not_found),
                }
            }
            _ => (404, not_found),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        state: &mut State,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: BTreeMap<String, String>,
        token: &str,
        wf: &Workflow,
    ) -> u64 {
        let id = 4_000_000 + state.runs.len() as u64 + 1;
        state.runs.push(StartedRun {
            id,
            repo: repo.to_string(),
            workflow: workflow.to_string(),
            git_ref: git_ref.to_string(),
            inputs,
            token: token.to_string(),
            started: Instant::now(),
            duration: wf.duration,
            fails: wf.fails,
            cancelled: false,
        });
        let in_flight = state.runs.iter().filter(|r| !r.finished()).count();
        state.most_in_flight = state.most_in_flight.max(in_flight);
        id
    }
}

fn github_run(r: &StartedRun) -> Value {
    let (status, conclusion) = if r.cancelled {
        ("completed", Some("cancelled"))
    } else if !r.finished() {
        ("in_progress", None)
    } else if r.fails {
        ("completed", Some("failure"))
    } else {
        ("completed", Some("success"))
    };
    json!({
        "id": r.id,
        "event": "workflow_dispatch",
        "head_branch": r.git_ref,
        "path": format!(".github/workflows/{}", r.workflow),
        "status": status,
        "conclusion": conclusion,
        "html_url": format!("https://github.com/{}/actions/runs/{}", r.repo, r.id),
    })
}

fn gitlab_url(project: &str, id: u64) -> String {
    format!("https://gitlab.example.com/{project}/-/pipelines/{id}")
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let (status, body) = if request.url.path().starts_with("/api/v4/projects/") {
            self.gitlab(request, &mut state)
        } else {
            self.github(request, &mut state)
        };
        state
            .requests
            .push((request.method.to_string(), request.url.path().to_string(), status));
        if status == 204 {
            ResponseTemplate::new(204)
        } else {
            ResponseTemplate::new(status).set_body_json(body)
        }
    }
}

/// A running stand-in (stops when dropped).
pub struct CiRuns {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl CiRuns {
    /// Starts an empty stand-in.
    pub fn start() -> CiRuns {
        let state = Arc::new(Mutex::new(State::default()));
        let server = block_on(MockServer::start());
        let responder = Responder {
            base: server.uri(),
            state: state.clone(),
        };
        block_on(
            Mock::given(wiremock::matchers::any())
                .respond_with(responder)
                .mount(&server),
        );
        CiRuns { server, state }
    }

    /// `GITHUB_API_URL`.
    pub fn github_api(&self) -> String {
        self.server.uri()
    }

    /// `CI_API_V4_URL`.
    pub fn gitlab_api(&self) -> String {
        format!("{}/api/v4", self.server.uri())
    }

    /// Adds GitHub workflow `workflow` of `repo`.
    pub fn add_workflow(&self, repo: &str, workflow: &str, wf: Workflow) {
        self.state
            .lock()
            .unwrap()
            .workflows
            .insert(format!("{repo}:{workflow}"), wf);
    }

    /// Adds GitLab project `project`.
    pub fn add_project(&self, project: &str, wf: Workflow) {
        self.state.lock().unwrap().workflows.insert(project.to_string(), wf);
    }

    /// A GitHub App installation token: dispatches anywhere.
    pub fn allow_app_token(&self, token: &str) {
        self.state.lock().unwrap().app_tokens.insert(token.to_string());
    }

    /// The job's `GITHUB_TOKEN`, which dispatches in `repo` only.
    pub fn set_job_token(&self, token: &str, repo: &str) {
        self.state.lock().unwrap().job_token = Some((token.to_string(), repo.to_string()));
    }

    /// A GitLab trigger token (or job token) the projects accept.
    pub fn allow_trigger_token(&self, token: &str) {
        self.state.lock().unwrap().trigger_tokens.insert(token.to_string());
    }

    /// Answers 400 to `return_run_details` (GitHub Enterprise Server 3.20
    /// and older).
    pub fn old_github(&self) {
        self.state.lock().unwrap().old_github = true;
    }

    /// Every run started, in order.
    pub fn runs(&self) -> Vec<StartedRun> {
        self.state.lock().unwrap().runs.clone()
    }

    /// The most runs unfinished at one time.
    pub fn most_in_flight(&self) -> usize {
        self.state.lock().unwrap().most_in_flight
    }

    /// Every request: method, path, status.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.state.lock().unwrap().requests.clone()
    }
}
