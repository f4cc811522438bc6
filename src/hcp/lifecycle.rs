//! HCP Packer calls of the image lifecycle: channels (read, list), a
//! version by id, and revoking or restoring a version.
//!
//! Shapes are HashiCorp's published HCP Packer API 2023-01-01 (hcp-sdk-go,
//! `clients/cloud-packer-service/stable/2023-01-01`):
//! - `GET  P/buckets/{b}/channels/{c}` → `{channel}` (GetChannelResponse);
//!   `Channel{id, name, bucket_name, managed, restricted, version: Version}`.
//! - `GET  P/buckets/{b}/channels` → `{channels: [Channel], pagination}`.
//! - `GET  P/buckets/{b}/versions` → `{versions: [Version], pagination}`.
//! - `PATCH P/buckets/{b}/versions/{fingerprint}` (PackerService_UpdateVersion)
//!   with UpdateVersionBody `{revoke_at (RFC 3339) | revoke_in ("0s": now),
//!   revocation_message, skip_descendants_revocation, restore}` →
//!   `{version}`. Revoked versions cannot be updated unless restored.

use super::api::{Client, Page, Pagination, Version, VersionAnswer, packer_path, page, parse};
use crate::remote::Failure;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::ops::ControlFlow;

/// An HCP Packer channel and the version it points at.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Channel {
    /// Channel name.
    #[serde(default)]
    pub name: String,
    /// Managed by HCP Packer (`latest`): not the user's to assign.
    #[serde(default)]
    pub managed: bool,
    /// The version it points at (none for an empty channel).
    #[serde(default)]
    pub version: Option<Version>,
}

impl Channel {
    /// The fingerprint of the version it points at, when any.
    pub fn fingerprint(&self) -> Option<&str> {
        self.version
            .as_ref()
            .map(|v| v.fingerprint.as_str())
            .filter(|f| !f.is_empty())
    }
}

#[derive(Deserialize)]
struct ChannelAnswer {
    #[serde(default)]
    channel: Option<Channel>,
}

#[derive(Deserialize)]
struct ChannelList {
    #[serde(default)]
    channels: Vec<Channel>,
    #[serde(default)]
    pagination: Option<Pagination>,
}
page!(ChannelList);

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
            } => {
                let mut b = json!({ "revocation_message": message, "skip_descendants_revocation": skip_descendants });
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
    /// Channel `channel` of `bucket`, `None` when there is none.
    pub async fn get_channel(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        channel: &str,
    ) -> Result<Option<Channel>, Failure> {
        let what = format!("read channel {channel} of HCP Packer bucket {bucket}");
        let path = packer_path(org, project, &["buckets", bucket, "channels", channel]);
        match self.call(Method::GET, &path, &[], None, &what).await {
            Ok(v) => Ok(parse::<ChannelAnswer>(v, &what)?.channel),
            Err(f) if f.status == Some(404) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// Every channel of `bucket`.
    pub async fn list_channels(&self, org: &str, project: &str, bucket: &str) -> Result<Vec<Channel>, Failure> {
        let what = format!("list the channels of HCP Packer bucket {bucket}");
        let path = packer_path(org, project, &["buckets", bucket, "channels"]);
        let mut out = Vec::new();
        self.pages(&path, &[], &what, |page: ChannelList| {
            out.extend(page.channels);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
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
        parse::<VersionAnswer>(v, &what)?
            .version
            .ok_or_else(|| Failure::status(super::SERVICE, &what, 200, vec!["the answer has no version".into()]))
    }
}
