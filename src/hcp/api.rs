//! HCP's API: the resource manager (organization, project) and HCP Packer
//! 2023-01-01 (versions by fingerprint, channels), with typed answers.

use super::{Endpoints, SERVICE, error_messages, http_client, retry_after};
use crate::remote::{Failure, retry};
use crate::secret::Secret;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// Status of a version whose build is still running.
pub const VERSION_RUNNING: &str = "VERSION_RUNNING";
/// Status of a complete, usable version.
pub const VERSION_ACTIVE: &str = "VERSION_ACTIVE";
/// Status of a revoked version.
pub const VERSION_REVOKED: &str = "VERSION_REVOKED";

/// Most pages read from one list.
pub(super) const MAX_PAGES: usize = 50;

/// An HCP Packer version (an "iteration" in the older API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// Version id (ULID), used in portal links.
    pub id: String,
    /// The build fingerprint that identifies it within the bucket.
    #[serde(default)]
    pub fingerprint: String,
    /// Display name, e.g. `v3`.
    #[serde(default)]
    pub name: String,
    /// `VERSION_ACTIVE`, `VERSION_RUNNING`, `VERSION_FAILED`, `VERSION_CANCELLED`, `VERSION_REVOKED`, ...
    #[serde(default)]
    pub status: String,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// Revocation time when revoked or scheduled for revocation.
    #[serde(default, deserialize_with = "opt_time")]
    pub revoke_at: Option<String>,
    /// One build per Packer source.
    #[serde(default)]
    pub builds: Vec<Build>,
}

impl Version {
    /// True while Packer is still publishing it.
    pub fn is_running(&self) -> bool {
        self.status == VERSION_RUNNING
    }

    /// True when complete and usable.
    pub fn is_active(&self) -> bool {
        self.status == VERSION_ACTIVE
    }

    /// Every build's labels, by key (the first build's value wins).
    pub fn labels(&self) -> Vec<(String, String)> {
        let mut all = BTreeMap::new();
        for b in &self.builds {
            for (k, v) in &b.labels {
                all.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        all.into_iter().collect()
    }
}

/// One build of a version (one Packer source on one platform).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// Packer component, e.g. `amazon-ebs.ubuntu`.
    #[serde(default)]
    pub component_type: String,
    /// Cloud platform, e.g. `aws`.
    #[serde(default)]
    pub platform: String,
    /// `BUILD_DONE`, `BUILD_RUNNING`, `BUILD_FAILED`, ...
    #[serde(default)]
    pub status: String,
    /// Build labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The images it produced.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
}

/// One image of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The platform's id for it, e.g. `ami-0abc123`.
    #[serde(default)]
    pub external_identifier: String,
    /// Region, e.g. `us-east-1`.
    #[serde(default)]
    pub region: String,
}

/// What [`Client::assign_channel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelAction {
    /// The channel did not exist and was created on the version.
    Created,
    /// The existing channel now points at the version.
    Updated,
}

/// Treats null, empty and the zero time as unset.
fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty() && !s.starts_with("0001-01-01")))
}

#[derive(Deserialize, Default)]
pub(super) struct Pagination {
    #[serde(default)]
    pub(super) next_page_token: String,
}

/// A page of an HCP list answer: it says where the next one starts.
pub(super) trait Page: DeserializeOwned {
    /// `pagination.next_page_token`, empty on the last page.
    fn next_token(&self) -> &str;
}

/// A page type with a `pagination` field.
macro_rules! page {
    ($t:ty) => {
        impl Page for $t {
            fn next_token(&self) -> &str {
                self.pagination
                    .as_ref()
                    .map_or("", |p| p.next_page_token.as_str())
            }
        }
    };
}
pub(super) use page;

/// `{version}`: GetVersion's and UpdateVersion's answer.
#[derive(Deserialize)]
pub(super) struct VersionAnswer {
    #[serde(default)]
    pub(super) version: Option<Version>,
}

/// A logged-in HCP API client.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
    bearer: Secret,
    /// Retry policy for every call.
    pub policy: retry::Policy,
}

impl Client {
    /// A client that sends `bearer` (from [`super::token`]); makes no request.
    pub fn new(endpoints: Endpoints, bearer: Secret) -> Result<Client, Failure> {
        Ok(Client {
            http: http_client(&endpoints)?,
            endpoints,
            bearer,
            policy: retry::Policy::default(),
        })
    }

    /// Gets a token for the service principal and returns a client using it.
    pub async fn login(endpoints: Endpoints, client_id: &Secret, client_secret: &Secret) -> Result<Client, Failure> {
        let http = http_client(&endpoints)?;
        let policy = retry::Policy::default();
        let bearer = super::auth::token_with(&http, &endpoints, client_id, client_secret, policy).await?;
        Ok(Client {
            http,
            endpoints,
            bearer,
            policy,
        })
    }

    /// The base URLs in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Reads the list at `path` page by page (at most [`MAX_PAGES`]), giving
    /// each page to `each` until it breaks or the last page was read.
    /// Returns whether more pages were left unread.
    pub(super) async fn pages<T: Page>(
        &self,
        path: &[&str],
        query: &[(&str, &str)],
        what: &str,
        mut each: impl FnMut(T) -> ControlFlow<()>,
    ) -> Result<bool, Failure> {
        let mut token = String::new();
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            if !token.is_empty() {
                q.push(("pagination.next_page_token", token.as_str()));
            }
            let page: T = parse(self.call(Method::GET, path, &q, None, what).await?, what)?;
            token = page.next_token().to_string();
            if each(page).is_break() {
                return Ok(!token.is_empty());
            }
            if token.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The version of `bucket` with `fingerprint`, `None` when there is none.
    pub async fn get_version(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        fingerprint: &str,
    ) -> Result<Option<Version>, Failure> {
        let what = format!("look up version {fingerprint} of HCP Packer bucket {bucket}");
        let path = packer_path(org, project, &["buckets", bucket, "versions", fingerprint]);
        match self.call(Method::GET, &path, &[], None, &what).await {
            Ok(v) => {
                let answer: VersionAnswer = parse(v, &what)?;
                match answer.version {
                    Some(v) => Ok(Some(v)),
                    None => Err(Failure::status(
                        SERVICE,
                        &what,
                        200,
                        vec!["the answer has no version".into()],
                    )),
                }
            }
            Err(f) if f.status == Some(404) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// [`Client::get_version`] every `interval` while the version is
    /// `VERSION_RUNNING`, for at most `timeout`; returns the last answer.
    pub async fn wait_version(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        fingerprint: &str,
        timeout: Duration,
        interval: Duration,
    ) -> Result<Option<Version>, Failure> {
        let start = Instant::now();
        let mut said = false;
        loop {
            let v = self.get_version(org, project, bucket, fingerprint).await?;
            match &v {
                Some(ver) if ver.is_running() && start.elapsed() + interval <= timeout => {
                    if !said {
                        crate::log::info(&format!(
                            "HCP Packer version {fingerprint} is still running; waiting up to {timeout:?}"
                        ));
                        said = true;
                    }
                    tokio::time::sleep(interval).await;
                }
                _ => return Ok(v),
            }
        }
    }

    /// Points `channel` of `bucket` at the version with `fingerprint`,
    /// creating the channel when it does not exist.
    pub async fn assign_channel(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        channel: &str,
        fingerprint: &str,
    ) -> Result<ChannelAction, Failure> {
        let what = format!("assign channel {channel} of HCP Packer bucket {bucket} to version {fingerprint}");
        let one = packer_path(org, project, &["buckets", bucket, "channels", channel]);
        let all = packer_path(org, project, &["buckets", bucket, "channels"]);
        let patch = json!({ "version_fingerprint": fingerprint, "update_mask": "versionFingerprint" });
        match self.call(Method::PATCH, &one, &[], Some(&patch), &what).await {
            Ok(_) => return Ok(ChannelAction::Updated),
            Err(f) if f.status == Some(404) => {}
            Err(f) => return Err(f),
        }
        let create = json!({ "name": channel, "version_fingerprint": fingerprint });
        match self.call(Method::POST, &all, &[], Some(&create), &what).await {
            Ok(_) => Ok(ChannelAction::Created),
            // Created meanwhile (by another job, or by a retried POST).
            Err(f) if f.status == Some(409) => {
                self.call(Method::PATCH, &one, &[], Some(&patch), &what).await?;
                Ok(ChannelAction::Updated)
            }
            Err(f) => Err(f),
        }
    }

    /// One API call, retried: the JSON of a 2xx answer, else a [`Failure`]
    /// with HCP's message (a 404 too: callers decide what it means).
    pub(super) async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, Failure> {
        let mut url =
            reqwest::Url::parse(&self.endpoints.api).map_err(|e| local(what, format!("bad API address: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| local(what, "bad API address".into()))?
            .pop_if_empty()
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.bearer.expose()))
            .map_err(|_| local(what, "the HCP token is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let hide = [self.bearer.expose()];
        retry::call(self.policy, SERVICE, what, || async {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, auth.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| Failure::transport(SERVICE, what, &e))?;
            let status = resp.status().as_u16();
            let after = retry_after(&resp);
            let text = resp.text().await.map_err(|e| Failure::transport(SERVICE, what, &e))?;
            if !(200..300).contains(&status) {
                let mut f = Failure::status(SERVICE, what, status, error_messages(&text, &hide));
                f.retry_after = after;
                return Err(f);
            }
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            crate::remote::decode::text(&text)
                .map_err(|e| Failure::status(SERVICE, what, status, vec![format!("unexpected answer: {e}")]))
        })
        .await
    }
}

/// Path segments `packer/2023-01-01/organizations/{org}/projects/{project}/<rest>`.
pub(super) fn packer_path<'a>(org: &'a str, project: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut p = vec!["packer", "2023-01-01", "organizations", org, "projects", project];
    p.extend_from_slice(rest);
    p
}

/// A failure before any request was sent.
fn local(what: &str, msg: String) -> Failure {
    Failure {
        service: SERVICE,
        what: what.to_string(),
        status: None,
        errors: vec![msg],
        retry_after: None,
    }
}

/// Decodes a 2xx answer.
pub(super) fn parse<T: DeserializeOwned>(v: Value, what: &str) -> Result<T, Failure> {
    crate::remote::decode::value(v)
        .map_err(|e| Failure::status(SERVICE, what, 200, vec![format!("unexpected answer: {e}")]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_json() {
        let v: VersionAnswer = serde_json::from_value(json!({"version": {
            "id": "01HABC", "fingerprint": "fp", "name": "v3", "status": "VERSION_ACTIVE",
            "created_at": "2024-01-01T00:00:00Z", "revoke_at": "0001-01-01T00:00:00Z",
            "builds": [{"component_type": "amazon-ebs.ubuntu", "platform": "aws", "status": "BUILD_DONE",
                "labels": {"os": "ubuntu"}, "artifacts": [{"external_identifier": "ami-0abc123", "region": "us-east-1"}]}],
            "bucket_name": "ignored"
        }}))
        .unwrap();
        let v = v.version.unwrap();
        assert!(v.is_active() && !v.is_running());
        assert_eq!(v.revoke_at, None);
        assert_eq!(v.builds[0].artifacts[0].external_identifier, "ami-0abc123");
        assert_eq!(v.builds[0].labels["os"], "ubuntu");
        // grpc-gateway leaves out empty fields.
        let v: Version = serde_json::from_value(json!({"id": "x"})).unwrap();
        assert!(v.builds.is_empty() && v.revoke_at.is_none());
    }
}
