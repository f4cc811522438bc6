//! GitHub REST API stand-in: the issue-comment and commit-pulls endpoints a
//! sticky PR comment needs, with GitHub's shapes, statuses and pagination.
//!
//! * Every request needs `Authorization: Bearer <token>` or `token <token>`
//!   (else 401 `{"message":"Bad credentials",...}`).
//! * `GET /repos/{o}/{r}/issues/{n}/comments?per_page=&page=`: the PR's
//!   comments, oldest first, `per_page` 30 by default and 100 at most, with a
//!   `Link: <...>; rel="next", <...>; rel="last"` header while more pages follow.
//! * `POST /repos/{o}/{r}/issues/{n}/comments` `{"body"}`: 201 and the comment.
//! * `PATCH /repos/{o}/{r}/issues/comments/{id}` `{"body"}`: 200 and the
//!   comment; 404 for an unknown id.
//! * `GET /repos/{o}/{r}/commits/{sha}/pulls`: the pull requests added with
//!   [`GithubApi::add_commit_pull`].
//! * [`GithubApi::forbid_writes`]: `POST`/`PATCH` answer 403 `Resource not
//!   accessible by integration`, as for a fork PR or a token without
//!   `pull-requests: write` (listing still works, as it does on GitHub).
//! * `GET /user`: the token's user for a person's token
//!   ([`GithubApi::start_as_user`]); 403 `Resource not accessible by
//!   integration` for an installation token (`GITHUB_TOKEN`, the default),
//!   whose comments are `github-actions[bot]`'s.
//! * A body without `body` is 422; any other path is 404 `Not Found`.
//!
//! Only the repository [`REPOSITORY`] exists. Every request is recorded
//! ([`GithubApi::requests`]); comments live in [`GithubApi::comments`].
//! [`GithubApi::start_enterprise`] serves the same under `/api/v3`, as
//! GitHub Enterprise Server does (`GITHUB_API_URL=https://HOST/api/v3`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::bao::block_on;

/// The only repository the stand-in knows.
pub const REPOSITORY: &str = "acme/images";
/// The user comments are made as (what `GITHUB_TOKEN` posts as).
pub const BOT_LOGIN: &str = "github-actions[bot]";

/// One request the stand-in saw.
pub type ApiRequest = super::recorded::Recorded;

/// A comment held by the stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComment {
    pub id: u64,
    /// Pull request (issue) number.
    pub issue: u64,
    pub body: String,
    /// Login of the author.
    pub user: String,
    /// How many times it was edited.
    pub edits: u32,
}

#[derive(Debug, Default)]
struct State {
    forbid_writes: bool,
    next_id: u64,
    comments: Vec<StoredComment>,
    /// sha -> (number, state) of pull requests.
    pulls: BTreeMap<String, Vec<(u64, String)>>,
    requests: Vec<ApiRequest>,
}

struct Responder {
    token: String,
    /// The login of a person's token; `None` for an installation token.
    user: Option<String>,
    /// Who an installation token comments as (`github-actions[bot]`, or a
    /// GitHub App's `<slug>[bot]`).
    installation: String,
    /// Path prefix of every route: `` or `/api/v3`.
    prefix: String,
    /// `http://127.0.0.1:<port><prefix>`.
    base: String,
    state: Arc<Mutex<State>>,
}

fn message(status: u16, text: &str, doc: &str) -> (u16, Value, Vec<(String, String)>) {
    (
        status,
        json!({ "message": text, "documentation_url": doc, "status": status.to_string() }),
        Vec::new(),
    )
}

fn not_found() -> (u16, Value, Vec<(String, String)>) {
    message(404, "Not Found", "https://docs.github.com/rest")
}

/// A user object as GitHub returns it.
pub fn user_json(login: &str) -> Value {
    let (id, kind, avatar) = if login == BOT_LOGIN {
        (41898282, "Bot", "https://avatars.githubusercontent.com/in/15368?v=4")
    } else {
        (583231, "User", "https://avatars.githubusercontent.com/u/583231?v=4")
    };
    let api = format!(
        "https://api.github.com/users/{}",
        login.replace('[', "%5B").replace(']', "%5D")
    );
    json!({
        "login": login,
        "id": id,
        "node_id": if kind == "Bot" { "MDM6Qm90NDE4OTgyODI=" } else { "MDQ6VXNlcjU4MzIzMQ==" },
        "avatar_url": avatar,
        "gravatar_id": "",
        "url": api,
        "html_url": format!("https://github.com/apps/{}", login.trim_end_matches("[bot]")),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

impl Responder {
    fn comment_json(&self, c: &StoredComment) -> Value {
        let created = format!("2024-06-01T12:{:02}:{:02}Z", (c.id / 60) % 60, c.id % 60);
        json!({
            "url": format!("{}/repos/{REPOSITORY}/issues/comments/{}", self.base, c.id),
            "html_url": format!("https://github.com/{REPOSITORY}/pull/{}#issuecomment-{}", c.issue, c.id),
            "issue_url": format!("{}/repos/{REPOSITORY}/issues/{}", self.base, c.issue),
            "id": c.id,
            "node_id": format!("IC_kwDOAbCdEf{:08}", c.id),
            "user": user_json(&c.user),
            "created_at": created,
            "updated_at": if c.edits > 0 { "2024-06-02T08:00:00Z".to_string() } else { created.clone() },
            "author_association": "NONE",
            "body": c.body,
            "reactions": {
                "url": format!("{}/repos/{REPOSITORY}/issues/comments/{}/reactions", self.base, c.id),
                "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
            },
            "performed_via_github_app": null,
        })
    }

    fn pull_json(&self, number: u64, state: &str, sha: &str) -> Value {
        json!({
            "url": format!("{}/repos/{REPOSITORY}/pulls/{number}", self.base),
            "id": 1_900_000_000u64 + number,
            "node_id": format!("PR_kwDOAbCdEf{number:08}"),
            "html_url": format!("https://github.com/{REPOSITORY}/pull/{number}"),
            "number": number,
            "state": state,
            "locked": false,
            "title": format!("Change #{number}"),
            "user": user_json("octocat"),
            "body": null,
            "created_at": "2024-05-30T09:00:00Z",
            "updated_at": "2024-06-01T09:00:00Z",
            "closed_at": if state == "closed" { json!("2024-06-01T09:00:00Z") } else { Value::Null },
            "merged_at": if state == "closed" { json!("2024-06-01T09:00:00Z") } else { Value::Null },
            "merge_commit_sha": sha,
            "draft": false,
            "head": { "label": "acme:feature", "ref": "feature", "sha": sha, "user": user_json("octocat") },
            "base": { "label": "acme:main", "ref": "main", "sha": "0123456789abcdef0123456789abcdef01234567", "user": user_json("octocat") },
            "author_association": "MEMBER",
        })
    }

    fn handle(&self, request: &Request, state: &mut State) -> (u16, Value, Vec<(String, String)>) {
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        let ok = [format!("Bearer {}", self.token), format!("token {}", self.token)];
        if !auth.is_some_and(|a| ok.iter().any(|o| o == a)) {
            return message(401, "Bad credentials", "https://docs.github.com/rest");
        }
        let path = request.url.path().to_string();
        if request.method.as_str() == "GET" && path == format!("{}/user", self.prefix) {
            return match &self.user {
                Some(login) => (200, user_json(login), Vec::new()),
                None => message(
                    403,
                    "Resource not accessible by integration",
                    "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                ),
            };
        }
        let Some(rest) = path.strip_prefix(&format!("{}/repos/{REPOSITORY}/", self.prefix)) else {
            return not_found();
        };
        let seg: Vec<&str> = rest.split('/').collect();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (request.method.as_str(), seg.as_slice()) {
            ("GET", ["issues", n, "comments"]) => {
                let Ok(n) = n.parse::<u64>() else { return not_found() };
                let q: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
                let per_page = q
                    .get("per_page")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30usize)
                    .clamp(1, 100);
                let page = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1usize).max(1);
                let all: Vec<&StoredComment> = state.comments.iter().filter(|c| c.issue == n).collect();
                let last = all.len().div_ceil(per_page).max(1);
                let items: Vec<Value> = all
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|c| self.comment_json(c))
                    .collect();
                let mut headers = Vec::new();
                if page < last {
                    let link = |p: usize, rel: &str| {
                        format!(
                            "<{}/repos/{REPOSITORY}/issues/{n}/comments?per_page={per_page}&page={p}>; rel=\"{rel}\"",
                            self.base
                        )
                    };
                    headers.push((
                        "link".into(),
                        format!("{}, {}", link(page + 1, "next"), link(last, "last")),
                    ));
                }
                (200, Value::Array(items), headers)
            }
            ("POST", ["issues", n, "comments"]) => {
                let Ok(n) = n.parse::<u64>() else { return not_found() };
                if state.forbid_writes {
                    return forbidden("create-an-issue-comment");
                }
                let Some(text) = body["body"].as_str() else {
                    return unprocessable();
                };
                state.next_id += 1;
                let c = StoredComment {
                    id: 2_000_000_000 + state.next_id,
                    issue: n,
                    body: text.to_string(),
                    user: self.user.clone().unwrap_or_else(|| self.installation.clone()),
                    edits: 0,
                };
                state.comments.push(c.clone());
                let mut headers = vec![(
                    "location".to_string(),
                    format!("{}/repos/{REPOSITORY}/issues/comments/{}", self.base, c.id),
                )];
                headers.push(("x-ratelimit-remaining".into(), "999".into()));
                (201, self.comment_json(&c), headers)
            }
            ("PATCH", ["issues", "comments", id]) => {
                let Ok(id) = id.parse::<u64>() else { return not_found() };
                if state.forbid_writes {
                    return forbidden("update-an-issue-comment");
                }
                let Some(text) = body["body"].as_str() else {
                    return unprocessable();
                };
                let Some(c) = state.comments.iter_mut().find(|c| c.id == id) else {
                    return not_found();
                };
                c.body = text.to_string();
                c.edits += 1;
                let c = c.clone();
                (200, self.comment_json(&c), Vec::new())
            }
            ("GET", ["commits", sha, "pulls"]) => {
                let pulls: Vec<Value> = state
                    .pulls
                    .get(*sha)
                    .map(|v| v.iter().map(|(n, s)| self.pull_json(*n, s, sha)).collect())
                    .unwrap_or_default();
                (200, Value::Array(pulls), Vec::new())
            }
            _ => not_found(),
        }
    }
}

fn forbidden(anchor: &str) -> (u16, Value, Vec<(String, String)>) {
    message(
        403,
        "Resource not accessible by integration",
        &format!("https://docs.github.com/rest/issues/comments#{anchor}"),
    )
}

fn unprocessable() -> (u16, Value, Vec<(String, String)>) {
    (
        422,
        json!({
            "message": "Invalid request.\n\n\"body\" wasn't supplied.",
            "documentation_url": "https://docs.github.com/rest/issues/comments",
            "status": "422",
        }),
        Vec::new(),
    )
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let (status, body, headers) = self.handle(request, &mut state);
        state.requests.push(ApiRequest::new(request, status));
        let mut response = ResponseTemplate::new(status)
            .insert_header("content-type", "application/json; charset=utf-8")
            .insert_header("x-github-api-version-selected", "2022-11-28")
            .set_body_string(body.to_string());
        for (k, v) in headers {
            response = response.insert_header(k.as_str(), v.as_str());
        }
        response
    }
}

/// A running GitHub REST API stand-in (stops when dropped).
pub struct GithubApi {
    server: MockServer,
    /// The token it accepts (`github-token`).
    pub token: String,
    prefix: String,
    state: Arc<Mutex<State>>,
}

impl GithubApi {
    /// Starts a stand-in accepting `token`, as api.github.com.
    pub fn start(token: &str) -> GithubApi {
        Self::start_at(token, "", None)
    }

    /// Starts a stand-in accepting a GitHub App's installation `token`:
    /// `GET /user` answers 403, and comments are posted as `login`
    /// (`<slug>[bot]`).
    pub fn start_as_app(token: &str, login: &str) -> GithubApi {
        Self::start_full(token, "", None, login)
    }

    /// Starts a stand-in accepting a person's `token` (a PAT) of `login`:
    /// `GET /user` answers `login`, and comments are posted as `login`.
    pub fn start_as_user(token: &str, login: &str) -> GithubApi {
        Self::start_at(token, "", Some(login.to_string()))
    }

    /// Starts a stand-in accepting `token`, as GitHub Enterprise Server
    /// (every route under `/api/v3`).
    pub fn start_enterprise(token: &str) -> GithubApi {
        Self::start_at(token, "/api/v3", None)
    }

    fn start_at(token: &str, prefix: &str, user: Option<String>) -> GithubApi {
        Self::start_full(token, prefix, user, BOT_LOGIN)
    }

    fn start_full(token: &str, prefix: &str, user: Option<String>, installation: &str) -> GithubApi {
        let state = Arc::new(Mutex::new(State::default()));
        let server = block_on(async {
            let server = MockServer::start().await;
            let responder = Responder {
                token: token.to_owned(),
                user,
                installation: installation.to_owned(),
                prefix: prefix.to_owned(),
                base: format!("{}{prefix}", server.uri()),
                state: state.clone(),
            };
            Mock::given(wiremock::matchers::any())
                .respond_with(responder)
                .mount(&server)
                .await;
            server
        });
        GithubApi {
            server,
            token: token.to_owned(),
            prefix: prefix.to_owned(),
            state,
        }
    }

    /// Base URI (`http://127.0.0.1:<port>`, plus `/api/v3` for Enterprise),
    /// for `GITHUB_API_URL`.
    pub fn uri(&self) -> String {
        format!("{}{}", self.server.uri(), self.prefix)
    }

    /// Makes creating and editing comments answer 403.
    pub fn forbid_writes(&self) {
        self.state.lock().unwrap().forbid_writes = true;
    }

    /// Adds a comment by `user` on pull request `issue`; returns its id.
    pub fn add_comment(&self, issue: u64, user: &str, body: &str) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        let id = 2_000_000_000 + state.next_id;
        state.comments.push(StoredComment {
            id,
            issue,
            body: body.to_owned(),
            user: user.to_owned(),
            edits: 0,
        });
        id
    }

    /// Makes `commits/{sha}/pulls` list pull request `number` in `state`
    /// (`open` or `closed`).
    pub fn add_commit_pull(&self, sha: &str, number: u64, state: &str) {
        self.state
            .lock()
            .unwrap()
            .pulls
            .entry(sha.to_owned())
            .or_default()
            .push((number, state.to_owned()));
    }

    /// Every comment, oldest first.
    pub fn comments(&self) -> Vec<StoredComment> {
        self.state.lock().unwrap().comments.clone()
    }

    /// Comments on pull request `issue`.
    pub fn comments_on(&self, issue: u64) -> Vec<StoredComment> {
        self.comments().into_iter().filter(|c| c.issue == issue).collect()
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests with `method` whose path ends with `suffix`.
    pub fn requests_to(&self, method: &str, suffix: &str) -> Vec<ApiRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    /// Every body the binary sent (comments created or edited).
    pub fn sent_bodies(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" || r.method == "PATCH")
            .map(|r| r.body)
            .collect()
    }
}
