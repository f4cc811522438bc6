//! A RabbitMQ management-API stand-in (wiremock), for OpenBao's real
//! `rabbitmq` secrets engine: the one dynamic engine OpenBao ships whose
//! backend speaks plain HTTP, so leases, their renewal and their revocation
//! run in the real server while only the broker is stood in.
//!
//! Answers as the management API does (what the engine's client, rabbit-hole,
//! sends): `GET /api/overview`; `GET /api/users/` (the list, which the
//! engine's connection check asks for); `PUT /api/users/{name}` (201, empty body);
//! `PUT /api/permissions/{vhost}/{user}` and `/api/topic-permissions/...`
//! (201); `DELETE /api/users/{name}` (204, or 404
//! `{"error":"Object Not Found","reason":"Not Found"}` for an unknown user).
//! It keeps the users that exist and every request it saw.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::block_on;
use super::recorded::Recorded;

#[derive(Default)]
struct State {
    /// User name to the password it was created with.
    users: BTreeMap<String, String>,
    seen: Vec<Recorded>,
}

struct Responder {
    state: Arc<Mutex<State>>,
}

fn not_found() -> (u16, ResponseTemplate) {
    let body = json!({"error": "Object Not Found", "reason": "Not Found"});
    (404, ResponseTemplate::new(404).set_body_json(body))
}

fn empty(status: u16) -> (u16, ResponseTemplate) {
    (status, ResponseTemplate::new(status))
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let user = path
            .strip_prefix("/api/users/")
            .filter(|u| !u.is_empty())
            .map(|u| percent_encoding::percent_decode_str(u).decode_utf8_lossy().into_owned());
        let mut s = self.state.lock().unwrap();
        let (status, answer) = match (request.method.as_str(), user) {
            // The engine's connection check lists the users.
            ("GET", None) if path == "/api/users/" || path == "/api/users" => {
                let list: Vec<Value> = s
                    .users
                    .keys()
                    .map(|u| json!({ "name": u, "tags": [], "limits": {} }))
                    .chain([json!({ "name": "admin", "tags": ["administrator"], "limits": {} })])
                    .collect();
                (200, ResponseTemplate::new(200).set_body_json(list))
            }
            ("GET", _) if path == "/api/overview" => (
                200,
                ResponseTemplate::new(200).set_body_json(json!({
                    "management_version": "3.13.7",
                    "rabbitmq_version": "3.13.7",
                    "cluster_name": "rabbit@stand-in",
                })),
            ),
            ("PUT", Some(name)) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let password = body["password"].as_str().unwrap_or_default().to_owned();
                s.users.insert(name, password);
                empty(201)
            }
            ("DELETE", Some(name)) => match s.users.remove(&name) {
                Some(_) => empty(204),
                None => not_found(),
            },
            ("PUT", None) if path.starts_with("/api/permissions/") || path.starts_with("/api/topic-permissions/") => {
                empty(201)
            }
            _ => not_found(),
        };
        s.seen.push(Recorded::new(request, status));
        answer
    }
}

/// A running stand-in (stops when dropped).
pub struct RabbitStandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl RabbitStandIn {
    /// Starts a stand-in with no users.
    pub fn start() -> RabbitStandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let responder = Responder { state: state.clone() };
        let server = block_on(async {
            let server = MockServer::start().await;
            Mock::given(wiremock::matchers::any())
                .respond_with(responder)
                .mount(&server)
                .await;
            server
        });
        RabbitStandIn { server, state }
    }

    /// `http://127.0.0.1:<port>`: the engine's `connection_uri`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The users that exist now, with their passwords.
    pub fn users(&self) -> BTreeMap<String, String> {
        self.state.lock().unwrap().users.clone()
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Requests with this method whose path starts with `prefix`.
    pub fn requests_to(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        super::recorded::matching(self.requests(), method, |p| p.starts_with(prefix))
    }
}
