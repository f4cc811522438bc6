//! What a wiremock stand-in saw of one request, kept for assertions.

use serde_json::Value;
use std::collections::BTreeMap;

/// One request a stand-in saw and the status it answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path, percent-encoded as sent.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Body as text.
    pub body: String,
    /// Response status given.
    pub status: u16,
}

impl Recorded {
    /// Records `request`, answered with `status`.
    pub fn new(request: &wiremock::Request, status: u16) -> Recorded {
        Recorded {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            query: request.url.query().map(str::to_owned),
            authorization: request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: String::from_utf8_lossy(&request.body).into_owned(),
            status,
        }
    }

    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The body parsed as a form.
    pub fn form(&self) -> BTreeMap<String, String> {
        reqwest::Url::parse(&format!("http://form.invalid/?{}", self.body))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }
}

/// The requests of `seen` with this method whose path passes `path`.
pub fn matching(seen: Vec<Recorded>, method: &str, path: impl Fn(&str) -> bool) -> Vec<Recorded> {
    seen.into_iter()
        .filter(|r| r.method == method && path(&r.path))
        .collect()
}
