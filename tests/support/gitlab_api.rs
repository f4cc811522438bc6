//! GitLab REST API stand-in (`CI_API_V4_URL` = [`GitlabApi::api_url`]): the
//! merge-request notes API and the commit-to-MR lookup, with GitLab's shapes.
//!
//! * Every request needs `PRIVATE-TOKEN: <token>`; a missing or unknown one is
//!   401 `{"message":"401 Unauthorized"}`. After [`GitlabApi::forbid_writes`],
//!   `POST`/`PUT` are 403 `{"message":"403 Forbidden"}` (a token without the
//!   rights, e.g. `read_api` only).
//! * One project, id 1234 or path `acme/images` (`acme%2Fimages`); any other
//!   is 404 `{"message":"404 Project Not Found"}`. MRs are created with
//!   [`GitlabApi::add_merge_request`]; an unknown one is 404 `{"message":"404 Not found"}`.
//! * `GET /projects/:id/merge_requests/:iid/notes?per_page=&page=&sort=&order_by=`:
//!   note objects (`id, type, body, attachment, author, created_at, updated_at,
//!   system, noteable_id, noteable_type: "MergeRequest", project_id, resolvable,
//!   confidential, internal, noteable_iid, commands_changes`), paginated with
//!   `X-Page`, `X-Per-Page`, `X-Total`, `X-Total-Pages`, `X-Next-Page`
//!   (empty on the last page), `X-Prev-Page` (default 20 per page, at most 100).
//! * `POST .../notes` `{"body"}`: 201 with the note; `PUT .../notes/:note_id`
//!   `{"body"}`: 200 with the note (404 `{"message":"404 Note Not Found"}`).
//! * `GET /projects/:id/repository/commits/:sha/merge_requests`: the MRs
//!   registered for that commit with [`GitlabApi::link_commit`].
//! * `GET /user`: the token's user, the project access token's bot (id
//!   4711), who writes every note the binary posts; [`GitlabApi::add_note_by`]
//!   adds a person's note.
//!
//! Every request is recorded ([`GitlabApi::requests`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::bao::block_on;

/// The id of the token's user (a project access token's bot).
pub const BOT_ID: u64 = 4711;

/// A person's user object.
fn person(username: &str) -> Value {
    json!({
        "id": 1001,
        "username": username,
        "name": username,
        "state": "active",
        "locked": false,
        "avatar_url": "https://gitlab.example.com/uploads/-/system/user/avatar/1001/avatar.png",
        "web_url": format!("https://gitlab.example.com/{username}"),
    })
}

/// Numeric id of the stand-in's only project.
pub const PROJECT_ID: u64 = 1234;
/// Path of the stand-in's only project.
pub const PROJECT_PATH: &str = "acme/images";

/// One request the stand-in saw.
#[derive(Debug, Clone)]
pub struct GitlabRequest {
    pub method: String,
    /// Path, percent-encoded as sent (`/api/v4/projects/1234/...`).
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// `PRIVATE-TOKEN` header, if any.
    pub private_token: Option<String>,
    /// Body as text.
    pub body: String,
    /// Response status given.
    pub status: u16,
}

#[derive(Debug, Default)]
struct State {
    forbid_writes: bool,
    /// How long every answer takes (a slow GitLab).
    delay: Option<std::time::Duration>,
    next_note: u64,
    /// MR iid -> notes, oldest first.
    notes: BTreeMap<u64, Vec<Value>>,
    /// commit sha -> MR objects.
    commits: BTreeMap<String, Vec<Value>>,
    requests: Vec<GitlabRequest>,
}

struct Responder {
    token: String,
    base: String,
    state: Arc<Mutex<State>>,
}

fn message(status: u16, text: &str) -> (u16, Value, Vec<(String, String)>) {
    (status, json!({ "message": text }), Vec::new())
}

fn timestamp(n: u64) -> String {
    format!("2025-03-01T12:{:02}:{:02}.000Z", (n / 60) % 60, n % 60)
}

fn author() -> Value {
    json!({
        "id": BOT_ID,
        "username": "project_1234_bot_3f2a",
        "name": "packer-vault",
        "state": "active",
        "locked": false,
        "avatar_url": "https://gitlab.example.com/uploads/-/system/user/avatar/4711/avatar.png",
        "web_url": "https://gitlab.example.com/project_1234_bot_3f2a",
    })
}

fn note(id: u64, iid: u64, body: &str, system: bool) -> Value {
    json!({
        "id": id,
        "type": null,
        "body": body,
        "attachment": null,
        "author": author(),
        "created_at": timestamp(id),
        "updated_at": timestamp(id),
        "system": system,
        "noteable_id": 90000 + iid,
        "noteable_type": "MergeRequest",
        "project_id": PROJECT_ID,
        "resolvable": false,
        "confidential": false,
        "internal": false,
        "imported": false,
        "imported_from": "none",
        "noteable_iid": iid,
        "commands_changes": {},
    })
}

impl Responder {
    fn handle(&self, req: &Request, state: &mut State) -> (u16, Value, Vec<(String, String)>) {
        let token = req.headers.get("private-token").and_then(|v| v.to_str().ok());
        if token != Some(self.token.as_str()) {
            return message(401, "401 Unauthorized");
        }
        let path = req.url.path().to_string();
        if req.method.as_str() == "GET" && path == "/api/v4/user" {
            let mut me = author();
            me["bot"] = json!(true);
            return (200, me, Vec::new());
        }
        let Some(rest) = path.strip_prefix("/api/v4/projects/") else {
            return message(404, "404 Not Found");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let project = percent_encoding::percent_decode_str(parts[0])
            .decode_utf8_lossy()
            .into_owned();
        if project != PROJECT_ID.to_string() && project != PROJECT_PATH {
            return message(404, "404 Project Not Found");
        }
        let method = req.method.as_str();
        match (method, &parts[1..]) {
            ("GET", ["repository", "commits", sha, "merge_requests"]) => (
                200,
                Value::Array(state.commits.get(*sha).cloned().unwrap_or_default()),
                Vec::new(),
            ),
            (_, ["merge_requests", iid, "notes", rest @ ..]) => {
                let Some(iid) = iid.parse::<u64>().ok().filter(|i| state.notes.contains_key(i)) else {
                    return message(404, "404 Not found");
                };
                if method != "GET" && state.forbid_writes {
                    return message(403, "403 Forbidden");
                }
                let body = serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null)["body"]
                    .as_str()
                    .map(str::to_owned);
                match (method, rest) {
                    ("GET", []) => self.list(req, &state.notes[&iid]),
                    ("POST", []) => match body {
                        Some(b) => {
                            state.next_note += 1;
                            let n = note(state.next_note, iid, &b, false);
                            state.notes.entry(iid).or_default().push(n.clone());
                            (201, n, Vec::new())
                        }
                        None => (400, json!({"error": "body is missing"}), Vec::new()),
                    },
                    ("PUT", [id]) => {
                        let notes = state.notes.entry(iid).or_default();
                        let id = id.parse::<u64>().ok();
                        let found = notes.iter_mut().find(|n| id.is_some() && n["id"].as_u64() == id);
                        match (found, body) {
                            (Some(n), Some(b)) => {
                                n["body"] = json!(b);
                                n["updated_at"] = json!("2025-03-02T08:00:00.000Z");
                                (200, n.clone(), Vec::new())
                            }
                            (None, _) => message(404, "404 Note Not Found"),
                            (_, None) => (400, json!({"error": "body is missing"}), Vec::new()),
                        }
                    }
                    _ => message(405, "405 Method Not Allowed"),
                }
            }
            _ => message(404, "404 Not Found"),
        }
    }

    /// One page of `notes` with GitLab's pagination headers.
    fn list(&self, req: &Request, notes: &[Value]) -> (u16, Value, Vec<(String, String)>) {
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let per_page = q
            .get("per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20usize)
            .clamp(1, 100);
        let page = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1usize).max(1);
        let mut sorted = notes.to_vec();
        if q.get("sort").map(String::as_str) != Some("asc") {
            sorted.reverse(); // GitLab's default: newest first
        }
        let total_pages = sorted.len().div_ceil(per_page).max(1);
        let items: Vec<Value> = sorted.into_iter().skip((page - 1) * per_page).take(per_page).collect();
        let next = if page < total_pages {
            (page + 1).to_string()
        } else {
            String::new()
        };
        let prev = if page > 1 {
            (page - 1).to_string()
        } else {
            String::new()
        };
        let headers = vec![
            ("x-page".to_string(), page.to_string()),
            ("x-per-page".to_string(), per_page.to_string()),
            ("x-total".to_string(), notes.len().to_string()),
            ("x-total-pages".to_string(), total_pages.to_string()),
            ("x-next-page".to_string(), next),
            ("x-prev-page".to_string(), prev),
            (
                "link".to_string(),
                format!("<{}{}>; rel=\"first\"", self.base, req.url.path()),
            ),
        ];
        (200, Value::Array(items), headers)
    }
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let (status, body, headers) = self.handle(req, &mut state);
        state.requests.push(GitlabRequest {
            method: req.method.to_string(),
            path: req.url.path().to_string(),
            query: req.url.query_pairs().into_owned().collect(),
            private_token: req
                .headers
                .get("private-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            status,
        });
        let mut resp = ResponseTemplate::new(status).set_body_json(body);
        for (k, v) in headers {
            resp = resp.insert_header(k.as_str(), v.as_str());
        }
        if let Some(d) = state.delay {
            resp = resp.set_delay(d);
        }
        resp
    }
}

/// A running GitLab API stand-in (stops when dropped).
pub struct GitlabApi {
    server: MockServer,
    /// The project access token it accepts.
    pub token: String,
    state: Arc<Mutex<State>>,
}

impl GitlabApi {
    /// Starts a stand-in accepting `token`, with MR !42 open (no notes).
    pub fn start(token: &str) -> GitlabApi {
        let state = Arc::new(Mutex::new(State::default()));
        let server = block_on(MockServer::start());
        let responder = Responder {
            token: token.to_owned(),
            base: server.uri(),
            state: state.clone(),
        };
        block_on(
            Mock::given(wiremock::matchers::any())
                .respond_with(responder)
                .mount(&server),
        );
        let api = GitlabApi {
            server,
            token: token.to_owned(),
            state,
        };
        api.add_merge_request(42);
        api
    }

    /// `CI_API_V4_URL`: `http://127.0.0.1:<port>/api/v4`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.server.uri())
    }

    /// Opens MR `iid` (no notes yet).
    pub fn add_merge_request(&self, iid: u64) {
        self.state.lock().unwrap().notes.entry(iid).or_default();
    }

    /// Makes `sha` part of MR `iid` in `state` (`opened`, `merged`, `closed`).
    pub fn link_commit(&self, sha: &str, iid: u64, state: &str) {
        self.add_merge_request(iid);
        let mr = json!({
            "id": 90000 + iid,
            "iid": iid,
            "project_id": PROJECT_ID,
            "title": format!("MR {iid}"),
            "description": "",
            "state": state,
            "created_at": timestamp(iid),
            "updated_at": timestamp(iid),
            "target_branch": "main",
            "source_branch": format!("feature/{iid}"),
            "author": author(),
            "source_project_id": PROJECT_ID,
            "target_project_id": PROJECT_ID,
            "draft": false,
            "merge_status": "can_be_merged",
            "sha": sha,
            "web_url": format!("https://gitlab.example.com/{PROJECT_PATH}/-/merge_requests/{iid}"),
        });
        self.state
            .lock()
            .unwrap()
            .commits
            .entry(sha.to_owned())
            .or_default()
            .push(mr);
    }

    /// Adds a note to MR `iid` as the token's user (an earlier run) wrote it;
    /// returns its id.
    pub fn add_note(&self, iid: u64, body: &str, system: bool) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_note += 1;
        let id = s.next_note;
        s.notes.entry(iid).or_default().push(note(id, iid, body, system));
        id
    }

    /// Adds a note to MR `iid` written by the person `username`; returns its id.
    pub fn add_note_by(&self, iid: u64, body: &str, username: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_note += 1;
        let id = s.next_note;
        let mut n = note(id, iid, body, false);
        n["author"] = person(username);
        s.notes.entry(iid).or_default().push(n);
        id
    }

    /// Makes every answer take `delay`.
    pub fn slow_down(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().delay = Some(delay);
    }

    /// Answers 403 to every `POST`/`PUT` from now on.
    pub fn forbid_writes(&self) {
        self.state.lock().unwrap().forbid_writes = true;
    }

    /// The notes of MR `iid`, oldest first.
    pub fn notes(&self, iid: u64) -> Vec<Value> {
        self.state.lock().unwrap().notes.get(&iid).cloned().unwrap_or_default()
    }

    /// The bodies of the non-system notes of MR `iid`, oldest first.
    pub fn note_bodies(&self, iid: u64) -> Vec<String> {
        self.notes(iid)
            .iter()
            .filter(|n| n["system"] != json!(true))
            .map(|n| n["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<GitlabRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests with `method` whose path contains `fragment`.
    pub fn requests_to(&self, method: &str, fragment: &str) -> Vec<GitlabRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.contains(fragment))
            .collect()
    }
}
