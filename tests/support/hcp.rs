//! HCP stand-in: one wiremock server acting as both HCP's token issuer
//! (`HCP_AUTH_URL`) and its API (`HCP_API_ADDRESS`), with the real shapes.
//!
//! * `POST /oauth2/token` (form): client-credentials grant checked against
//!   the configured id, secret and audience `https://api.hashicorp.cloud`;
//!   answers `{"access_token", "token_type": "Bearer", "expires_in": 3600}`,
//!   else 401 `{"error":"access_denied","error_description":"Unauthorized"}`.
//! * `POST /2019-12-10/{provider}/exchange-token` `{"jwt_token"}`
//!   (unauthenticated, workload identity): the JWT's RS256 signature (the
//!   test key), issuer, audience (the provider's resource name) and expiry,
//!   and the provider's conditional access on one claim
//!   ([`HcpStandIn::add_provider`]); answers the same access token, else 403
//!   `{"code":7,"message":"unable to exchange token: ..."}`.
//! * Every API path needs `Authorization: Bearer <access_token>` (else 401
//!   `{"code":16,"message":"unauthenticated",...}`).
//! * `GET /iam/2019-12-10/caller-identity`: the service principal, with its
//!   `organization_id` and `project_id`.
//! * `GET /resource-manager/2019-12-10/organizations`: one organization.
//! * `GET /resource-manager/2019-12-10/projects?scope.type=ORGANIZATION&scope.id=<org>`:
//!   three projects, the newer first ([`HcpStandIn::project_id`] is the oldest
//!   `ACTIVE` one; an even older one is `DELETING`);
//!   403 `{"code":7,"message":"permission denied","details":[]}` after
//!   [`HcpStandIn::forbid_projects`].
//! * `GET /packer/2023-01-01/organizations/{org}/projects/{proj}/buckets/{b}/versions/{fp}`:
//!   `{"version": ...}` following the version's script (see
//!   [`HcpStandIn::add_version`]), 404 `{"code":5,"message":"version not found","details":[]}`
//!   for an unknown fingerprint.
//! * `PATCH .../buckets/{b}/channels/{c}` `{"version_fingerprint", "update_mask"}`:
//!   404 `channel not found` for a missing channel; `POST .../buckets/{b}/channels`
//!   `{"name", "version_fingerprint"}` creates it (409 when it exists). Both
//!   answer 404 `version not found` for an unknown fingerprint.
//! * `GET .../buckets/{b}/channels/{c}` → `{"channel"}` with its whole
//!   version (404 `channel not found`), `GET .../channels` →
//!   `{"channels", "pagination"}` (`latest` is managed), `GET .../versions`
//!   → `{"versions", "pagination"}`; both one item per page, so callers must
//!   follow `pagination.next_page_token`.
//! * `PATCH .../buckets/{b}/versions/{fp}` (UpdateVersion): `revoke_in: "0s"`
//!   or a past `revoke_at` revokes (`VERSION_REVOKED`), a future one
//!   schedules; `restore: true` clears it; a revoked version answers 400
//!   unless restored. `revoke_in: "0s"` revokes every descendant too unless
//!   `skip_descendants_revocation`.
//! * `GET .../buckets/{b}/ancestry?type=ANCESTRY_TYPE_CHILDREN[&channel_name=]`
//!   (ListBucketAncestry) as HCP documents it: the children of every
//!   version of the bucket, or those built from `channel_name`
//!   (`version_fingerprint` lists parents and filters no child);
//!   `{"relations": [{child, parent, status}], "pagination"}`, one per page,
//!   from [`HcpStandIn::add_child`] and [`HcpStandIn::add_child_from_channel`].
//! * `GET .../buckets/{b}` (GetBucket) → `{"bucket": {"name", "labels"}}`
//!   ([`HcpStandIn::set_bucket_labels`]), 404 `bucket not found`.
//!
//! Every request is recorded ([`HcpStandIn::requests`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::bao::block_on;

/// The audience HCP's token issuer expects.
pub const AUDIENCE: &str = "https://api.hashicorp.cloud";
/// Component of the builds of scripted versions.
pub const COMPONENT: &str = "amazon-ebs.ubuntu";
/// Artifact id of the builds of scripted versions.
pub const AMI: &str = "ami-0abc123";
/// Artifact region of the builds of scripted versions.
pub const REGION: &str = "us-east-1";

const PACKER_PREFIX: &str = "/packer/2023-01-01/organizations/";

/// One request the stand-in saw.
pub type HcpRequest = super::recorded::Recorded;

/// A scripted version: the answers of successive GETs (the last repeats).
#[derive(Debug, Clone)]
struct Script {
    answers: Vec<Value>,
    served: usize,
}

impl Script {
    /// What the next GET would answer, without serving it.
    fn current(&self) -> &Value {
        &self.answers[self.served.min(self.answers.len() - 1)]
    }
}

#[derive(Debug, Default)]
struct State {
    forbid_projects: bool,
    /// (bucket, fingerprint) -> script.
    versions: BTreeMap<(String, String), Script>,
    /// (bucket, channel) -> fingerprint.
    channels: BTreeMap<(String, String), String>,
    /// Workload identity providers: resource name -> (issuer, the claim
    /// and value its conditional access requires).
    providers: BTreeMap<String, (String, String, String)>,
    /// Parent (bucket, fingerprint) -> the versions built from it.
    children: BTreeMap<(String, String), Vec<(String, String)>>,
    /// Every parent-child relation, with the channel the child took its
    /// parent from (`None`: not through a channel).
    relations: Vec<Relation>,
    /// Bucket -> its labels.
    labels: BTreeMap<String, BTreeMap<String, String>>,
    /// (bucket, channel) -> every fingerprint it was assigned, oldest first
    /// (what HCP rolls a channel back along).
    history: BTreeMap<(String, String), Vec<String>>,
    /// Seconds an exchanged access token lives (`None`: the one token,
    /// 3600 s, never checked); then each exchange issues its own, refused
    /// with 401 once expired.
    token_ttl: Option<u64>,
    /// Access tokens issued with a lifetime: token, issued, seconds.
    tokens: Vec<(String, std::time::Instant, u64)>,
    requests: Vec<HcpRequest>,
}

/// One ancestry relation, as HCP records it when a child is built.
#[derive(Clone, Debug)]
struct Relation {
    parent_bucket: String,
    parent_fp: String,
    parent_channel: Option<String>,
    child_bucket: String,
    child_fp: String,
    /// HCP no longer tracks the parent: UNDETERMINED whatever the channel holds.
    untracked: bool,
}

/// The versions of `state` built from `parent`, then theirs, all of them.
fn descendants(state: &State, parent: &(String, String)) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut todo = vec![parent.clone()];
    while let Some(p) = todo.pop() {
        for c in state.children.get(&p).into_iter().flatten() {
            if !out.contains(c) && c != parent {
                out.push(c.clone());
                todo.push(c.clone());
            }
        }
    }
    out
}

struct Responder {
    client_id: String,
    client_secret: String,
    access_token: String,
    org_id: String,
    project_id: String,
    newer_project_id: String,
    state: Arc<Mutex<State>>,
}

fn error(status: u16, code: u32, message: &str) -> (u16, Value) {
    (status, json!({ "code": code, "message": message, "details": [] }))
}

/// Decodes an `application/x-www-form-urlencoded` body.
pub fn form(body: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The test key's RSA public key.
fn public_key() -> jsonwebtoken::DecodingKey {
    jsonwebtoken::DecodingKey::from_rsa_der(&super::jwt::public_key_pkcs1_der())
}

impl Responder {
    /// `POST /2019-12-10/{resource}/exchange-token`: the JWT's signature
    /// (the test key), issuer, audience (the resource name), expiry and the
    /// provider's conditional access, as HCP checks them.
    fn exchange(&self, request: &Request, state: &mut State) -> (u16, Value) {
        let path = request.url.path();
        let resource = path
            .strip_prefix("/2019-12-10/")
            .and_then(|p| p.strip_suffix("/exchange-token"))
            .unwrap_or_default();
        let Some((issuer, claim, value)) = state.providers.get(resource) else {
            return error(404, 5, "workload identity provider not found");
        };
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let Some(jwt) = body["jwt_token"].as_str() else {
            return error(400, 3, "jwt_token is required");
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[resource]);
        validation.set_issuer(&[issuer.as_str()]);
        validation.leeway = 0;
        let claims = match jsonwebtoken::decode::<Value>(jwt, &public_key(), &validation) {
            Ok(d) => d.claims,
            Err(e) => return error(403, 7, &format!("unable to exchange token: invalid JWT: {e}")),
        };
        if claims[claim.as_str()].as_str() != Some(value.as_str()) {
            return error(
                403,
                7,
                "unable to exchange token: the token does not satisfy the provider's conditional access",
            );
        }
        match state.token_ttl {
            None => (200, json!({ "access_token": self.access_token, "expires_in": 3600 })),
            Some(ttl) => {
                let token = format!("{}-{}", self.access_token, state.tokens.len() + 1);
                state.tokens.push((token.clone(), std::time::Instant::now(), ttl));
                (200, json!({ "access_token": token, "expires_in": ttl }))
            }
        }
    }

    fn token(&self, request: &Request) -> (u16, Value) {
        if request.method.as_str() != "POST" {
            return error(405, 12, "method not allowed");
        }
        let f = form(&String::from_utf8_lossy(&request.body));
        let ok = f.get("grant_type").map(String::as_str) == Some("client_credentials")
            && f.get("client_id") == Some(&self.client_id)
            && f.get("client_secret") == Some(&self.client_secret)
            && f.get("audience").map(String::as_str) == Some(AUDIENCE);
        if ok {
            (
                200,
                json!({
                    "access_token": self.access_token,
                    "expires_in": 3600,
                    "scope": "",
                    "token_type": "Bearer",
                }),
            )
        } else {
            (
                401,
                json!({ "error": "access_denied", "error_description": "Unauthorized" }),
            )
        }
    }

    fn api(&self, request: &Request, state: &mut State) -> (u16, Value) {
        let bearer = format!("Bearer {}", self.access_token);
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        let valid = match state.token_ttl {
            None => auth == Some(bearer.as_str()),
            Some(_) => {
                auth == Some(bearer.as_str())
                    || state.tokens.iter().any(|(t, at, ttl)| {
                        auth == Some(format!("Bearer {t}").as_str()) && at.elapsed().as_secs() < *ttl
                    })
            }
        };
        if !valid {
            return error(401, 16, "unauthenticated");
        }
        let method = request.method.as_str();
        let path = request.url.path();
        match (method, path) {
            ("GET", "/iam/2019-12-10/caller-identity") => (
                200,
                json!({
                    "principal": {
                        "id": "sp-packer-0123",
                        "type": "PRINCIPAL_TYPE_SERVICE",
                        "service": {
                            "id": "sp-packer-0123",
                            "name": "packer",
                            "organization_id": self.org_id,
                            "project_id": self.project_id,
                        },
                    }
                }),
            ),
            ("GET", "/resource-manager/2019-12-10/organizations") => (
                200,
                json!({
                    "organizations": [{
                        "id": self.org_id,
                        "name": "acme",
                        "state": "ACTIVE",
                        "created_at": "2021-03-04T05:06:07.890Z",
                    }],
                    "pagination": { "next_page_token": "", "previous_page_token": "" },
                }),
            ),
            ("GET", "/resource-manager/2019-12-10/projects") => {
                if state.forbid_projects {
                    return error(403, 7, "permission denied");
                }
                let q: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
                if q.get("scope.type").map(String::as_str) != Some("ORGANIZATION")
                    || q.get("scope.id") != Some(&self.org_id)
                {
                    return error(403, 7, "permission denied");
                }
                (
                    200,
                    json!({
                        "projects": [
                            self.project(&self.newer_project_id, "images-2", "2024-05-01T10:00:00.123456Z", "ACTIVE"),
                            self.project(&self.project_id, "Default Project", "2021-03-04T05:06:08Z", "ACTIVE"),
                            // The oldest of all is being deleted: never chosen.
                            self.project("proj-deleting-0001", "old", "2020-01-01T00:00:00Z", "DELETING"),
                        ],
                        "pagination": { "next_page_token": "", "previous_page_token": "" },
                    }),
                )
            }
            _ if path.starts_with(PACKER_PREFIX) => self.packer(request, state),
            _ => error(404, 5, "Not Found"),
        }
    }

    fn project(&self, id: &str, name: &str, created_at: &str, state: &str) -> Value {
        json!({
            "id": id,
            "name": name,
            "description": "",
            "parent": { "type": "ORGANIZATION", "id": self.org_id },
            "state": state,
            "created_at": created_at,
        })
    }

    fn packer(&self, request: &Request, state: &mut State) -> (u16, Value) {
        let rest = &request.url.path()[PACKER_PREFIX.len()..];
        let seg: Vec<String> = rest.split('/').map(decode).collect();
        // {org}/projects/{proj}/buckets/{bucket}/...
        if seg.len() < 5 || seg[1] != "projects" || seg[3] != "buckets" {
            return error(404, 5, "Not Found");
        }
        if seg[0] != self.org_id || seg[2] != self.project_id {
            return error(403, 7, "permission denied");
        }
        let bucket = seg[4].clone();
        let tail: Vec<&str> = seg[5..].iter().map(String::as_str).collect();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (request.method.as_str(), tail.as_slice()) {
            ("GET", ["channels", name]) => match state.channels.get(&(bucket.clone(), name.to_string())) {
                None => error(404, 5, "channel not found"),
                Some(fp) => (
                    200,
                    json!({ "channel": full_channel(state, &bucket, name, &fp.clone()) }),
                ),
            },
            ("GET", ["channels"]) => {
                let names: Vec<(String, String)> = state
                    .channels
                    .iter()
                    .filter(|((b, _), _)| *b == bucket)
                    .map(|((_, c), fp)| (c.clone(), fp.clone()))
                    .collect();
                let channels: Vec<Value> = names
                    .iter()
                    .map(|(c, fp)| full_channel(state, &bucket, c, fp))
                    .collect();
                (200, one_per_page(request, "channels", channels))
            }
            // ListBucketAncestry, children, as HCP documents it: the
            // children of every version of the bucket, or with
            // `channel_name` those whose parent came from that channel;
            // `version_fingerprint` selects whose parents are listed and
            // filters no child. Status: UP_TO_DATE when the parent is what
            // the channel holds now, OUT_OF_DATE when not, UNDETERMINED when
            // the child took no channel or the channel is gone.
            ("GET", ["ancestry"]) => {
                let q: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
                if q.get("type").map(String::as_str) != Some("ANCESTRY_TYPE_CHILDREN") {
                    return error(400, 3, "only ANCESTRY_TYPE_CHILDREN is served here");
                }
                let channel = q.get("channel_name").filter(|c| !c.is_empty());
                let relations: Vec<Value> = state
                    .relations
                    .iter()
                    .filter(|r| r.parent_bucket == bucket)
                    .filter(|r| channel.is_none() || r.parent_channel.as_ref() == channel)
                    .map(|r| {
                        let child = state
                            .versions
                            .get(&(r.child_bucket.clone(), r.child_fp.clone()))
                            .map(|s| s.current().clone());
                        let now = r
                            .parent_channel
                            .as_ref()
                            .and_then(|c| state.channels.get(&(bucket.clone(), c.clone())));
                        let status = match now {
                            _ if r.untracked => "UNDETERMINED",
                            None => "UNDETERMINED",
                            Some(fp) if *fp == r.parent_fp => "UP_TO_DATE",
                            Some(_) => "OUT_OF_DATE",
                        };
                        let parent = state
                            .versions
                            .get(&(bucket.clone(), r.parent_fp.clone()))
                            .map(|s| s.current().clone());
                        json!({
                            "child": {
                                "bucket_name": r.child_bucket,
                                "version_fingerprint": r.child_fp,
                                "version_id": child.as_ref().map(|v| v["id"].clone()),
                                "version_name": child.as_ref().map(|v| v["name"].clone()),
                            },
                            "parent": {
                                "bucket_name": bucket,
                                "channel_name": r.parent_channel.clone().unwrap_or_default(),
                                "channel_version": now.map(|fp| json!({"fingerprint": fp})),
                                "version_fingerprint": r.parent_fp,
                                "version_id": parent.as_ref().map(|v| v["id"].clone()),
                                "version_name": parent.as_ref().map(|v| v["name"].clone()),
                            },
                            "status": status,
                        })
                    })
                    .collect();
                (200, one_per_page(request, "relations", relations))
            }
            // GetBucket: its labels.
            ("GET", []) => {
                let known = state.labels.contains_key(&bucket) || state.versions.keys().any(|(b, _)| *b == bucket);
                if !known {
                    return error(404, 5, "bucket not found");
                }
                let labels = state.labels.get(&bucket).cloned().unwrap_or_default();
                (200, json!({ "bucket": { "name": bucket, "labels": labels } }))
            }
            ("GET", ["versions"]) => {
                let versions: Vec<Value> = state
                    .versions
                    .iter()
                    .filter(|((b, _), _)| *b == bucket)
                    .map(|(_, script)| script.current().clone())
                    .collect();
                (200, one_per_page(request, "versions", versions))
            }
            // UpdateVersion: revoke (revoke_at or revoke_in), restore.
            ("PATCH", ["versions", fp]) => {
                // A revocation now reaches the descendants too, unless skipped.
                let skip = body.get("skip_descendants_revocation").and_then(Value::as_bool) == Some(true);
                let revoke_now = body.get("revoke_in").and_then(Value::as_str) == Some("0s");
                let ancestor_name = state
                    .versions
                    .get(&(bucket.clone(), fp.to_string()))
                    .map(|s| s.current()["name"].clone())
                    .unwrap_or(Value::Null);
                if revoke_now && !skip {
                    for d in descendants(state, &(bucket.clone(), fp.to_string())) {
                        if let Some(script) = state.versions.get_mut(&d) {
                            let mut v = script.current().clone();
                            v["status"] = json!("VERSION_REVOKED");
                            v["revocation_message"] = json!(format!("ancestor {bucket} {fp} revoked"));
                            v["revocation_type"] = json!("INHERITED");
                            v["revocation_inherited_from"] = json!({
                                "bucket_name": bucket, "version_fingerprint": fp, "version_name": ancestor_name,
                            });
                            script.answers = vec![v];
                            script.served = 0;
                        }
                    }
                }
                // HCP rolls the channels on a version revoked now back to
                // the last valid version they held, unless told not to.
                let keep = body.get("disable_rollback_channels").and_then(Value::as_bool) == Some(true);
                if revoke_now && !keep {
                    let on_it: Vec<(String, String)> = state
                        .channels
                        .iter()
                        .filter(|((b, c), f)| *b == bucket && c != "latest" && f.as_str() == *fp)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for key in on_it {
                        let back = state
                            .history
                            .get(&key)
                            .into_iter()
                            .flatten()
                            .rev()
                            .find(|f| {
                                f.as_str() != *fp
                                    && state
                                        .versions
                                        .get(&(bucket.clone(), f.to_string()))
                                        .is_some_and(|s| s.current()["status"] == "VERSION_ACTIVE")
                            })
                            .cloned()
                            .unwrap_or_default();
                        state.channels.insert(key, back);
                    }
                }
                let Some(script) = state.versions.get_mut(&(bucket, fp.to_string())) else {
                    return error(404, 5, "version not found");
                };
                let mut v = script.current().clone();
                let revoked = v["status"] == "VERSION_REVOKED";
                if body.get("restore").and_then(Value::as_bool) == Some(true) {
                    if v["revocation_type"] == "INHERITED" {
                        return error(
                            400,
                            9,
                            "cannot restore a version whose revocation is inherited from an ancestor",
                        );
                    }
                    v["status"] = json!("VERSION_ACTIVE");
                    v["revocation_type"] = Value::Null;
                    v["revoke_at"] = Value::Null;
                    v["revocation_message"] = json!("");
                } else if revoked {
                    return error(400, 9, "revoked versions cannot be updated unless restored");
                } else {
                    let (at, now) = match body.get("revoke_at").and_then(Value::as_str) {
                        Some(at) => (at.to_string(), at < "2026-01-01"),
                        None if body.get("revoke_in").and_then(Value::as_str) == Some("0s") => {
                            ("2025-06-01T00:00:00Z".to_string(), true)
                        }
                        None => return error(400, 3, "one of revoke_at, revoke_in or restore is required"),
                    };
                    v["revoke_at"] = json!(at);
                    v["revocation_message"] = body.get("revocation_message").cloned().unwrap_or(json!(""));
                    v["revocation_author"] = json!("sp-ci@0123456789");
                    v["revocation_type"] = json!("MANUAL");
                    if now {
                        v["status"] = json!("VERSION_REVOKED");
                    }
                }
                script.answers = vec![v.clone()];
                script.served = 0;
                (200, json!({ "version": v }))
            }
            ("GET", ["versions", fp]) => match state.versions.get_mut(&(bucket, fp.to_string())) {
                None => error(404, 5, "version not found"),
                Some(script) => {
                    let i = script.served.min(script.answers.len() - 1);
                    script.served += 1;
                    (200, json!({ "version": script.answers[i] }))
                }
            },
            ("PATCH", ["channels", name]) => {
                let Some(fp) = body.get("version_fingerprint").and_then(Value::as_str) else {
                    return error(400, 3, "version_fingerprint is required");
                };
                if body.get("update_mask").and_then(Value::as_str) != Some("versionFingerprint") {
                    return error(400, 3, "invalid update_mask");
                }
                let key = (bucket.clone(), name.to_string());
                if !state.channels.contains_key(&key) {
                    return error(404, 5, "channel not found");
                }
                if !state.versions.contains_key(&(bucket.clone(), fp.to_string())) {
                    return error(404, 5, "version not found");
                }
                state.history.entry(key.clone()).or_default().push(fp.to_string());
                state.channels.insert(key, fp.to_string());
                (200, json!({ "channel": channel_json(&bucket, name, fp) }))
            }
            ("POST", ["channels"]) => {
                let name = body.get("name").and_then(Value::as_str).unwrap_or("");
                let fp = body.get("version_fingerprint").and_then(Value::as_str).unwrap_or("");
                if name.is_empty() {
                    return error(400, 3, "name is required");
                }
                let key = (bucket.clone(), name.to_string());
                if state.channels.contains_key(&key) {
                    return error(409, 6, "channel already exists");
                }
                if !fp.is_empty() && !state.versions.contains_key(&(bucket.clone(), fp.to_string())) {
                    return error(404, 5, "version not found");
                }
                state.history.entry(key.clone()).or_default().push(fp.to_string());
                state.channels.insert(key, fp.to_string());
                (200, json!({ "channel": channel_json(&bucket, name, fp) }))
            }
            _ => error(404, 5, "Not Found"),
        }
    }
}

/// One item of `items` per page, as `{<key>: [item], pagination}`: the page
/// is `pagination.next_page_token` (an index here; opaque in HCP), so every
/// caller must follow the tokens.
fn one_per_page(request: &Request, key: &str, items: Vec<Value>) -> Value {
    let at: usize = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "pagination.next_page_token")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let next = if at + 1 < items.len() {
        (at + 1).to_string()
    } else {
        String::new()
    };
    let page: Vec<Value> = items.into_iter().skip(at).take(1).collect();
    json!({ key: page, "pagination": { "next_page_token": next, "previous_page_token": "" } })
}

/// A channel with its whole version, as GetChannel and ListChannels answer.
fn full_channel(state: &State, bucket: &str, name: &str, fp: &str) -> Value {
    let mut c = channel_json(bucket, name, fp);
    c["managed"] = json!(name == "latest");
    c["version"] = state
        .versions
        .get(&(bucket.to_string(), fp.to_string()))
        .map(|s| s.current().clone())
        .unwrap_or(Value::Null);
    c
}

fn channel_json(bucket: &str, name: &str, fp: &str) -> Value {
    json!({
        "id": format!("01HCHAN{}", name.to_uppercase()),
        "name": name,
        "bucket_name": bucket,
        "author_id": "sp-ci",
        "managed": false,
        "restricted": false,
        "version": { "fingerprint": fp },
        "created_at": "2024-06-01T00:00:00Z",
        "updated_at": "2024-06-01T00:00:00Z",
    })
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let (status, body) = if request.url.path() == "/oauth2/token" {
            self.token(request)
        } else if request.method.as_str() == "POST" && request.url.path().ends_with("/exchange-token") {
            self.exchange(request, &mut state)
        } else {
            self.api(request, &mut state)
        };
        state.requests.push(HcpRequest::new(request, status));
        ResponseTemplate::new(status).set_body_json(body)
    }
}

fn random(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(len).collect()
}

/// A running HCP stand-in (stops when dropped).
pub struct HcpStandIn {
    server: MockServer,
    /// The client id it accepts.
    pub client_id: String,
    /// The client secret it accepts.
    pub client_secret: String,
    /// The bearer token it issues and accepts.
    pub access_token: String,
    /// Its only organization.
    pub org_id: String,
    /// The oldest project of the organization (the one to resolve to).
    pub project_id: String,
    /// A newer project (listed first).
    pub newer_project_id: String,
    state: Arc<Mutex<State>>,
}

impl HcpStandIn {
    /// Starts a stand-in with random credentials.
    pub fn start() -> HcpStandIn {
        Self::start_with(&format!("hcpid{}", random(16)), &format!("hcpsecret{}", random(32)))
    }

    /// Starts a stand-in accepting `client_id` / `client_secret` (e.g. a
    /// fixture's `hcp_latest()` values).
    pub fn start_with(client_id: &str, client_secret: &str) -> HcpStandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let org_id = format!("org-{}", random(12).to_lowercase());
        let project_id = format!("proj-old-{}", random(12).to_lowercase());
        let newer_project_id = format!("proj-new-{}", random(12).to_lowercase());
        let access_token = format!("hcptoken{}", random(40));
        let responder = Responder {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            access_token: access_token.clone(),
            org_id: org_id.clone(),
            project_id: project_id.clone(),
            newer_project_id: newer_project_id.clone(),
            state: state.clone(),
        };
        let server = block_on(async {
            let server = MockServer::start().await;
            Mock::given(wiremock::matchers::any())
                .respond_with(responder)
                .mount(&server)
                .await;
            server
        });
        HcpStandIn {
            server,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            access_token,
            org_id,
            project_id,
            newer_project_id,
            state,
        }
    }

    /// Base URI (`http://127.0.0.1:<port>`), for both `HCP_AUTH_URL` and
    /// `HCP_API_ADDRESS`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// `HCP_AUTH_URL`, `HCP_API_ADDRESS`, `HCP_CLIENT_ID`, `HCP_CLIENT_SECRET`
    /// for this stand-in.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("HCP_AUTH_URL".into(), self.uri()),
            ("HCP_API_ADDRESS".into(), self.uri()),
            ("HCP_CLIENT_ID".into(), self.client_id.clone()),
            ("HCP_CLIENT_SECRET".into(), self.client_secret.clone()),
        ]
    }

    /// Makes the projects list answer 403 (a project-level service principal).
    pub fn forbid_projects(&self) {
        self.state.lock().unwrap().forbid_projects = true;
    }

    /// Adds a version of `bucket` with `fingerprint` whose first `running`
    /// GETs answer `VERSION_RUNNING` and later ones `VERSION_ACTIVE` with one
    /// `amazon-ebs.ubuntu` build (`ami-0abc123` in `us-east-1`). Returns its id.
    pub fn add_version(&self, bucket: &str, fingerprint: &str, running: usize) -> String {
        let (id, name) = {
            let state = self.state.lock().unwrap();
            let n = state.versions.keys().filter(|(b, _)| b == bucket).count() + 1;
            (format!("01HV{}", random(22).to_uppercase()), format!("v{n}"))
        };
        let mut answers = vec![version_json(&id, bucket, fingerprint, &name, "VERSION_RUNNING"); running];
        answers.push(version_json(&id, bucket, fingerprint, &name, "VERSION_ACTIVE"));
        self.add_version_answers(bucket, fingerprint, answers);
        id
    }

    /// Adds a version answering `answers` (each the `version` object) to
    /// successive GETs; the last one repeats.
    pub fn add_version_answers(&self, bucket: &str, fingerprint: &str, answers: Vec<Value>) {
        assert!(!answers.is_empty(), "a version needs at least one answer");
        self.state.lock().unwrap().versions.insert(
            (bucket.to_owned(), fingerprint.to_owned()),
            Script { answers, served: 0 },
        );
    }

    /// Changes the version of `bucket` with `fingerprint` (every later
    /// answer is the changed one): labels, status, `revoke_at`.
    pub fn edit_version(&self, bucket: &str, fingerprint: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let script = state
            .versions
            .get_mut(&(bucket.to_owned(), fingerprint.to_owned()))
            .expect("a version of the stand-in");
        let mut v = script.answers.last().cloned().expect("an answer");
        edit(&mut v);
        script.answers = vec![v];
        script.served = 0;
    }

    /// The version of `bucket` with `fingerprint` as the next GET answers it.
    pub fn version(&self, bucket: &str, fingerprint: &str) -> Value {
        let state = self.state.lock().unwrap();
        state.versions[&(bucket.to_owned(), fingerprint.to_owned())]
            .current()
            .clone()
    }

    /// Adds a workload identity provider of this project's service
    /// principal `packer` trusting `issuer`, whose conditional access
    /// requires `claim` = `value`; returns its resource name.
    pub fn add_provider(&self, name: &str, issuer: &str, claim: &str, value: &str) -> String {
        let resource = format!(
            "iam/project/{}/service-principal/packer/workload-identity-provider/{name}",
            self.project_id
        );
        self.state
            .lock()
            .unwrap()
            .providers
            .insert(resource.clone(), (issuer.into(), claim.into(), value.into()));
        resource
    }

    /// Records that version `child_fp` of `child_bucket` was built from
    /// version `parent_fp` of `parent_bucket` (HCP's ancestry).
    pub fn add_child(&self, parent_bucket: &str, parent_fp: &str, child_bucket: &str, child_fp: &str) {
        self.relate(parent_bucket, parent_fp, None, child_bucket, child_fp);
    }

    /// [`HcpStandIn::add_child`], the child having taken its parent from
    /// `channel` of the parent's bucket (Packer's `hcp-packer-version`).
    pub fn add_child_from_channel(
        &self,
        parent_bucket: &str,
        channel: &str,
        parent_fp: &str,
        child_bucket: &str,
        child_fp: &str,
    ) {
        self.relate(parent_bucket, parent_fp, Some(channel), child_bucket, child_fp);
    }

    /// [`HcpStandIn::add_child_from_channel`] for a parent HCP no longer
    /// tracks: the relation's status is UNDETERMINED.
    pub fn add_untracked_child(
        &self,
        parent_bucket: &str,
        channel: &str,
        parent_fp: &str,
        child_bucket: &str,
        child_fp: &str,
    ) {
        self.relate(parent_bucket, parent_fp, Some(channel), child_bucket, child_fp);
        if let Some(r) = self.state.lock().unwrap().relations.last_mut() {
            r.untracked = true;
        }
    }

    fn relate(&self, parent_bucket: &str, parent_fp: &str, channel: Option<&str>, child_bucket: &str, child_fp: &str) {
        let mut s = self.state.lock().unwrap();
        s.children
            .entry((parent_bucket.to_owned(), parent_fp.to_owned()))
            .or_default()
            .push((child_bucket.to_owned(), child_fp.to_owned()));
        s.relations.push(Relation {
            parent_bucket: parent_bucket.to_owned(),
            parent_fp: parent_fp.to_owned(),
            parent_channel: channel.map(str::to_owned),
            child_bucket: child_bucket.to_owned(),
            child_fp: child_fp.to_owned(),
            untracked: false,
        });
    }

    /// Exchanged access tokens live `seconds` from now on, each its own and
    /// refused once expired.
    pub fn set_token_ttl(&self, seconds: u64) {
        self.state.lock().unwrap().token_ttl = Some(seconds);
    }

    /// Sets the labels of `bucket` (`hcp_packer_registry { bucket_labels }`).
    pub fn set_bucket_labels(&self, bucket: &str, labels: &[(&str, &str)]) {
        self.state.lock().unwrap().labels.insert(
            bucket.to_owned(),
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        );
    }

    /// Creates `channel` of `bucket` pointing at `fingerprint`.
    pub fn add_channel(&self, bucket: &str, channel: &str, fingerprint: &str) {
        let mut s = self.state.lock().unwrap();
        let key = (bucket.to_owned(), channel.to_owned());
        s.history.entry(key.clone()).or_default().push(fingerprint.to_owned());
        s.channels.insert(key, fingerprint.to_owned());
    }

    /// The fingerprint `channel` of `bucket` points at, if it exists.
    pub fn channel(&self, bucket: &str, channel: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .channels
            .get(&(bucket.to_owned(), channel.to_owned()))
            .cloned()
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<HcpRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests whose method is `method` and whose path ends with `suffix`.
    pub fn requests_to(&self, method: &str, suffix: &str) -> Vec<HcpRequest> {
        super::recorded::matching(self.requests(), method, |p| p.ends_with(suffix))
    }
}

/// A `version` object as HCP Packer 2023-01-01 returns it; `VERSION_RUNNING`
/// ones have a running build without artifacts.
pub fn version_json(id: &str, bucket: &str, fingerprint: &str, name: &str, status: &str) -> Value {
    let running = status == "VERSION_RUNNING";
    let artifacts = if running {
        json!([])
    } else {
        json!([{
            "id": "01HART0000000000000000000A",
            "external_identifier": AMI,
            "region": REGION,
            "created_at": "2024-06-01T00:10:00.000Z",
        }])
    };
    json!({
        "id": id,
        "bucket_name": bucket,
        "fingerprint": fingerprint,
        "name": name,
        "status": status,
        "author_id": "sp-ci@0123456789",
        "created_at": "2024-06-01T00:00:00.000Z",
        "updated_at": "2024-06-01T00:10:00.000Z",
        "template_type": "HCL2",
        "has_descendants": false,
        "builds": [{
            "id": "01HBLD0000000000000000000A",
            "version_id": id,
            "component_type": COMPONENT,
            "packer_run_uuid": "5b7b3c4e-0000-4000-8000-000000000000",
            "platform": "aws",
            "status": if running { "BUILD_RUNNING" } else { "BUILD_DONE" },
            "labels": { "os": "ubuntu", "os_version": "24.04" },
            "artifacts": artifacts,
            "created_at": "2024-06-01T00:00:00.000Z",
            "updated_at": "2024-06-01T00:10:00.000Z",
        }],
    })
}
