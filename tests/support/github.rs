//! GitHub Actions stand-ins: the OIDC token endpoint and the job environment.
//!
//! [`GithubOidc`] mimics the runner's token service: `GET
//! <ACTIONS_ID_TOKEN_REQUEST_URL>&audience=<aud>` with `Authorization: Bearer
//! <ACTIONS_ID_TOKEN_REQUEST_TOKEN>` returns `{"value": "<jwt>"}` where the
//! JWT carries [`super::jwt::github_claims`] with `aud` = the requested
//! audience (`https://github.com/acme` when none is requested, as GitHub does
//! with the repository owner). Missing bearer: 401; wrong bearer: 403;
//! non-GET: 405; all with a `{"message": "..."}` body.
//!
//! [`github_env`] builds every variable the runner sets for a job, with the
//! file-command files created empty in a temp dir.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::bao::block_on;
use super::jwt;

/// Path part of the stand-in's request URL.
pub const IDTOKEN_PATH: &str =
    "/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/1f2e3d4c/jobs/5a6b7c8d/idtoken";
/// Audience GitHub uses when the request has no `audience` parameter.
pub const DEFAULT_AUDIENCE: &str = "https://github.com/acme";

/// What the stand-in saw: one entry per request to the token path.
#[derive(Debug, Clone)]
pub struct OidcRequest {
    pub method: String,
    /// `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Decoded `audience` query parameter, if any.
    pub audience: Option<String>,
    /// Response status given.
    pub status: u16,
}

struct Responder {
    request_token: String,
    overrides: Value,
    /// Seconds each token lives (GitHub: 300).
    ttl: u64,
    seen: Arc<Mutex<Vec<OidcRequest>>>,
}

fn message(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": text }))
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let audience = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "audience")
            .map(|(_, v)| v.into_owned());
        let (status, response) = if request.method.as_str() != "GET" {
            (405, message(405, "Method not allowed"))
        } else {
            match authorization.as_deref() {
                None => (401, message(401, "Requires authentication")),
                Some(auth) if auth != format!("Bearer {}", self.request_token) => {
                    (403, message(403, "Bad credentials"))
                }
                Some(_) => {
                    let aud = audience.as_deref().unwrap_or(DEFAULT_AUDIENCE);
                    let mut claims = jwt::github_claims(aud, &self.overrides);
                    if self.overrides.get("exp").is_none() {
                        claims["exp"] = json!(jwt::now() + self.ttl);
                    }
                    let token = jwt::sign(&claims);
                    (200, ResponseTemplate::new(200).set_body_json(json!({ "value": token })))
                }
            }
        };
        self.seen.lock().unwrap().push(OidcRequest {
            method: request.method.to_string(),
            authorization,
            audience,
            status,
        });
        response
    }
}

/// A running GitHub OIDC token endpoint stand-in (stops when dropped).
pub struct GithubOidc {
    server: MockServer,
    /// The bearer it accepts (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
    pub request_token: String,
    seen: Arc<Mutex<Vec<OidcRequest>>>,
}

impl GithubOidc {
    /// Starts a stand-in issuing default GitHub claims.
    pub fn start(request_token: &str) -> GithubOidc {
        Self::start_with(request_token, json!({}))
    }

    /// Starts a stand-in whose tokens get `overrides` applied on top of
    /// [`jwt::github_claims`] (e.g. `json!({"repository": "evil/x"})`).
    pub fn start_with(request_token: &str, overrides: Value) -> GithubOidc {
        Self::start_full(request_token, overrides, 300)
    }

    /// Starts a stand-in whose tokens live `ttl` seconds.
    pub fn start_with_ttl(request_token: &str, ttl: u64) -> GithubOidc {
        Self::start_full(request_token, json!({}), ttl)
    }

    fn start_full(request_token: &str, overrides: Value, ttl: u64) -> GithubOidc {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let responder = Responder {
            request_token: request_token.to_owned(),
            overrides,
            ttl,
            seen: seen.clone(),
        };
        let server = block_on(async {
            let server = MockServer::start().await;
            Mock::given(path(IDTOKEN_PATH))
                .respond_with(responder)
                .mount(&server)
                .await;
            server
        });
        GithubOidc {
            server,
            request_token: request_token.to_owned(),
            seen,
        }
    }

    /// Base URI of the mock server (`http://127.0.0.1:<port>`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Value for `ACTIONS_ID_TOKEN_REQUEST_URL`; already has a query string
    /// (`?api-version=2.0`), so clients append `&audience=...`.
    pub fn request_url(&self) -> String {
        format!("{}{IDTOKEN_PATH}?api-version=2.0", self.server.uri())
    }

    /// Every request seen on the token path so far.
    pub fn requests(&self) -> Vec<OidcRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// [`github_env`] wired to this stand-in.
    pub fn env(&self, tmp: &Path) -> GithubEnv {
        github_env(tmp, &self.request_url(), &self.request_token)
    }
}

/// A GitHub job environment and the files behind it.
#[derive(Debug, Clone)]
pub struct GithubEnv {
    /// The variables, to pass with `Command::envs`.
    pub vars: Vec<(String, String)>,
    /// `GITHUB_WORKSPACE` (created).
    pub workspace: PathBuf,
    /// `RUNNER_TEMP` (created).
    pub runner_temp: PathBuf,
    /// `GITHUB_ENV` file (empty).
    pub env_file: PathBuf,
    /// `GITHUB_OUTPUT` file (empty).
    pub output_file: PathBuf,
    /// `GITHUB_STEP_SUMMARY` file (empty).
    pub summary_file: PathBuf,
    /// `GITHUB_PATH` file (empty).
    pub path_file: PathBuf,
    /// `GITHUB_STATE` file (empty).
    pub state_file: PathBuf,
    /// `GITHUB_EVENT_PATH`: a `pull_request` event for PR #42.
    pub event_file: PathBuf,
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

impl GithubEnv {
    /// Sets (or replaces) a variable.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.remove(name);
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a variable (e.g. `ACTIONS_ID_TOKEN_REQUEST_URL` to simulate a
    /// workflow without `id-token: write`).
    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.vars.retain(|(k, _)| k != name);
        self
    }

    /// Value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Contents of `GITHUB_ENV`.
    pub fn read_env_file(&self) -> String {
        read(&self.env_file)
    }

    /// Contents of `GITHUB_OUTPUT`.
    pub fn read_output(&self) -> String {
        read(&self.output_file)
    }

    /// Contents of `GITHUB_STEP_SUMMARY`.
    pub fn read_summary(&self) -> String {
        read(&self.summary_file)
    }

    /// Contents of `GITHUB_STATE`.
    pub fn read_state(&self) -> String {
        read(&self.state_file)
    }

    /// Contents of `GITHUB_PATH`.
    pub fn read_path_file(&self) -> String {
        read(&self.path_file)
    }

    /// All file-command files and the summary concatenated (leak checks).
    pub fn read_all_files(&self) -> String {
        [
            &self.env_file,
            &self.output_file,
            &self.summary_file,
            &self.path_file,
            &self.state_file,
        ]
        .iter()
        .map(|p| read(p))
        .collect::<Vec<_>>()
        .join("\n")
    }
}

/// Every variable the GitHub runner sets for a `pull_request` job of
/// `acme/images` (PR #42), with files under `tmp`. `request_url` and
/// `request_token` become `ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN`.
/// `GITHUB_API_URL` is the real `https://api.github.com`: override it (and
/// point it at a mock) in tests that exercise the API.
pub fn github_env(tmp: &Path, request_url: &str, request_token: &str) -> GithubEnv {
    let mkdir = |p: PathBuf| {
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        p
    };
    let workspace = mkdir(tmp.join("work/images/images"));
    let runner_temp = mkdir(tmp.join("runner_temp"));
    let tool_cache = mkdir(tmp.join("hostedtoolcache"));
    let commands = mkdir(runner_temp.join("_runner_file_commands"));
    let file = |name: &str| {
        let p = commands.join(format!("{name}_6f1c9a52-0d4e-4b8a-9a43-5c1e2f3a4b5c"));
        std::fs::write(&p, "").unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        p
    };
    let env_file = file("set_env");
    let output_file = file("set_output");
    let summary_file = file("step_summary");
    let path_file = file("add_path");
    let state_file = file("save_state");
    let event_file = tmp.join("event.json");
    let head_sha = "89abcdef0123456789abcdef0123456789abcdef";
    let merge_sha = "fedcba9876543210fedcba9876543210fedcba98";
    let event = json!({
        "action": "synchronize",
        "number": 42,
        "pull_request": {
            "number": 42,
            "title": "Bump base image",
            "html_url": "https://github.com/acme/images/pull/42",
            "head": { "ref": "feature/bump", "sha": head_sha },
            "base": { "ref": "main", "sha": "0123456789abcdef0123456789abcdef01234567" },
            "user": { "login": "octocat" },
        },
        "repository": {
            "full_name": "acme/images",
            "name": "images",
            "owner": { "login": "acme" },
        },
        "sender": { "login": "octocat" },
    });
    std::fs::write(&event_file, serde_json::to_vec_pretty(&event).unwrap()).expect("write event.json");

    let p = |p: &Path| p.display().to_string();
    let vars: Vec<(&str, String)> = vec![
        ("CI", "true".into()),
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_REPOSITORY", "acme/images".into()),
        ("GITHUB_REPOSITORY_ID", "123456789".into()),
        ("GITHUB_REPOSITORY_OWNER", "acme".into()),
        ("GITHUB_REPOSITORY_OWNER_ID", "4242".into()),
        ("GITHUB_SHA", merge_sha.into()),
        ("GITHUB_REF", "refs/pull/42/merge".into()),
        ("GITHUB_REF_NAME", "42/merge".into()),
        ("GITHUB_REF_TYPE", "branch".into()),
        ("GITHUB_REF_PROTECTED", "false".into()),
        ("GITHUB_HEAD_REF", "feature/bump".into()),
        ("GITHUB_BASE_REF", "main".into()),
        ("GITHUB_RUN_ID", "9876543210".into()),
        ("GITHUB_RUN_ATTEMPT", "1".into()),
        ("GITHUB_RUN_NUMBER", "17".into()),
        ("GITHUB_JOB", "build".into()),
        ("GITHUB_WORKFLOW", "images".into()),
        (
            "GITHUB_WORKFLOW_REF",
            "acme/images/.github/workflows/images.yml@refs/pull/42/merge".into(),
        ),
        ("GITHUB_WORKFLOW_SHA", merge_sha.into()),
        ("GITHUB_EVENT_NAME", "pull_request".into()),
        ("GITHUB_EVENT_PATH", p(&event_file)),
        ("GITHUB_WORKSPACE", p(&workspace)),
        ("GITHUB_ENV", p(&env_file)),
        ("GITHUB_OUTPUT", p(&output_file)),
        ("GITHUB_STEP_SUMMARY", p(&summary_file)),
        ("GITHUB_PATH", p(&path_file)),
        ("GITHUB_STATE", p(&state_file)),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_API_URL", "https://api.github.com".into()),
        ("GITHUB_GRAPHQL_URL", "https://api.github.com/graphql".into()),
        ("GITHUB_ACTION", "__packer-vault_packer-vault-action".into()),
        ("GITHUB_ACTION_REPOSITORY", "packer-vault/packer-vault-action".into()),
        ("GITHUB_ACTION_REF", "v1".into()),
        ("GITHUB_ACTOR", "octocat".into()),
        ("GITHUB_ACTOR_ID", "583231".into()),
        ("GITHUB_TRIGGERING_ACTOR", "octocat".into()),
        ("GITHUB_RETENTION_DAYS", "90".into()),
        ("RUNNER_OS", "Linux".into()),
        ("RUNNER_ARCH", "X64".into()),
        ("RUNNER_NAME", "GitHub Actions 1".into()),
        ("RUNNER_ENVIRONMENT", "github-hosted".into()),
        ("RUNNER_TEMP", p(&runner_temp)),
        ("RUNNER_TOOL_CACHE", p(&tool_cache)),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.into()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token.into()),
    ];
    GithubEnv {
        vars: vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        workspace,
        runner_temp,
        env_file,
        output_file,
        summary_file,
        path_file,
        state_file,
        event_file,
    }
}
