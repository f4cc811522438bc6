//! HCP Packer versions (2023-01-01): the version a build produced (by
//! fingerprint, waiting while it runs), a version by id, and revoking or
//! restoring one.
//!
//! Shapes are HashiCorp's published HCP Packer API 2023-01-01 (hcp-sdk-go,
//! `clients/cloud-packer-service/stable/2023-01-01`):
//! - `GET  P/buckets/{b}/versions/{fingerprint}` → `{version}` (GetVersion).
//! - `GET  P/buckets/{b}/versions` → `{versions: [Version], pagination}`.
//! - `PATCH P/buckets/{b}/versions/{fingerprint}` (PackerService_UpdateVersion)
//!   with UpdateVersionBody `{revoke_at (RFC 3339) | revoke_in ("0s": now),
//!   revocation_message, skip_descendants_revocation, restore}` →
//!   `{version}`. Revoked versions cannot be updated unless restored.

use super::SERVICE;
use super::api::{Client, Page, Pagination, packer_path, page, parse};
use crate::remote::Failure;
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// A version's status in words, as HCP's UI names it (the enum is
/// `VERSION_UNSET`, `_RUNNING`, `_CANCELLED`, `_FAILED`, `_REVOKED`,
/// `_REVOCATION_SCHEDULED`, `_ACTIVE`, `_INCOMPLETE`); a scheduled
/// revocation with its time.
pub fn describe_status(status: &str, revoke_at: Option<&str>) -> String {
    match status {
        "VERSION_ACTIVE" => "active".into(),
        "VERSION_RUNNING" => "running: its builds are still in progress".into(),
        "VERSION_CANCELLED" => "cancelled: its build was cancelled".into(),
        "VERSION_FAILED" => "failed: a build failed".into(),
        "VERSION_REVOKED" => "revoked".into(),
        "VERSION_REVOCATION_SCHEDULED" => match revoke_at {
            Some(at) => format!("scheduled for revocation at {at}"),
            None => "scheduled for revocation".into(),
        },
        "VERSION_INCOMPLETE" => "incomplete: one or more builds did not finish".into(),
        "VERSION_UNSET" | "" => "of unknown status".into(),
        other => other.to_string(),
    }
}

/// Status of a version whose build is still running.
pub const VERSION_RUNNING: &str = "VERSION_RUNNING";
/// Status of a complete, usable version.
pub const VERSION_ACTIVE: &str = "VERSION_ACTIVE";
/// Status of a revoked version.
pub const VERSION_REVOKED: &str = "VERSION_REVOKED";

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
    /// `MANUAL` or `INHERITED` (from a revoked ancestor).
    #[serde(default)]
    pub revocation_type: Option<String>,
    /// The ancestor an inherited revocation comes from.
    #[serde(default)]
    pub revocation_inherited_from: Option<RevokedAncestor>,
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

/// Treats null, empty and the zero time as unset.
fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty() && !s.starts_with("0001-01-01")))
}

/// `{version}`: GetVersion's and UpdateVersion's answer.
#[derive(Deserialize)]
pub(super) struct VersionAnswer {
    #[serde(default)]
    pub(super) version: Option<Version>,
}

impl VersionAnswer {
    /// The version, or a failure of `what` when a 2xx answer has none.
    fn version(self, what: &str) -> Result<Version, Failure> {
        self.version
            .ok_or_else(|| Failure::status(SERVICE, what, 200, vec!["the answer has no version".into()]))
    }
}

/// The revoked ancestor of a version whose revocation is inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct RevokedAncestor {
    /// Its bucket.
    #[serde(default)]
    pub bucket_name: String,
    /// Its fingerprint.
    #[serde(default)]
    pub version_fingerprint: String,
    /// Its name (`v3`).
    #[serde(default)]
    pub version_name: String,
}

#[derive(Deserialize)]
struct VersionList {
    #[serde(default)]
    versions: Vec<Version>,
    #[serde(default)]
    pagination: Option<Pagination>,
}
page!(VersionList);

/// What to change on a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Revoke at this RFC 3339 time (`None`: now), with the message.
    Revoke {
        /// When; `None` revokes now.
        at: Option<String>,
        /// Why.
        message: String,
        /// Keep the revocation from the version's descendants.
        skip_descendants: bool,
        /// Leave the channels on the version alone (`disable_rollback_channels`);
        /// HCP's default rolls them back to their last valid version.
        keep_channels: bool,
    },
    /// Make a revoked version valid again.
    Restore,
}

impl Update {
    /// The UpdateVersionBody.
    pub fn body(&self) -> Value {
        match self {
            Update::Revoke {
                at,
                message,
                skip_descendants,
                keep_channels,
            } => {
                let mut b = json!({
                    "revocation_message": message,
                    "skip_descendants_revocation": skip_descendants,
                    "disable_rollback_channels": keep_channels,
                });
                match at {
                    Some(at) => b["revoke_at"] = json!(at),
                    None => b["revoke_in"] = json!("0s"),
                }
                b
            }
            Update::Restore => json!({ "restore": true }),
        }
    }
}

impl Client {
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
        match self.get_found::<VersionAnswer>(&path, &what).await? {
            Some(answer) => answer.version(&what).map(Some),
            None => Ok(None),
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

    /// The version of `bucket` whose id is `id`, `None` when there is none.
    pub async fn find_version_by_id(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        id: &str,
    ) -> Result<Option<Version>, Failure> {
        let what = format!("find version {id} of HCP Packer bucket {bucket}");
        let path = packer_path(org, project, &["buckets", bucket, "versions"]);
        let mut found = None;
        self.pages(&path, &[], &what, |page: VersionList| {
            found = page.versions.into_iter().find(|v| v.id == id);
            if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
        Ok(found)
    }

    /// Revokes or restores the version with `fingerprint`; returns it as HCP
    /// now has it.
    pub async fn update_version(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        fingerprint: &str,
        update: &Update,
    ) -> Result<Version, Failure> {
        let verb = match update {
            Update::Revoke { .. } => "revoke",
            Update::Restore => "restore",
        };
        let what = format!("{verb} version {fingerprint} of HCP Packer bucket {bucket}");
        let path = packer_path(org, project, &["buckets", bucket, "versions", fingerprint]);
        let v = self
            .call(Method::PATCH, &path, &[], Some(&update.body()), &what)
            .await?;
        parse::<VersionAnswer>(v, &what)?.version(&what)
    }
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
