//! HCP Packer channels (2023-01-01): pointing a channel at a version
//! (created when missing), reading one, listing them.
//!
//! Shapes are HashiCorp's published HCP Packer API 2023-01-01 (hcp-sdk-go,
//! `clients/cloud-packer-service/stable/2023-01-01`):
//! - `GET  P/buckets/{b}/channels/{c}` → `{channel}` (GetChannelResponse);
//!   `Channel{id, name, bucket_name, managed, restricted, version: Version}`.
//! - `GET  P/buckets/{b}/channels` → `{channels: [Channel], pagination}`.
//! - `PATCH P/buckets/{b}/channels/{c}` `{version_fingerprint, update_mask}`;
//!   `POST P/buckets/{b}/channels` `{name, version_fingerprint}`.

use super::api::{Client, Page, Pagination, packer_path, page};
use super::versions::Version;
use crate::remote::Failure;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use std::ops::ControlFlow;

/// What [`Client::assign_channel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelAction {
    /// The channel did not exist and was created on the version.
    Created,
    /// The existing channel now points at the version.
    Updated,
    /// The channel does not exist and was not to be created: nothing changed.
    Missing,
}

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

impl Client {
    /// Points `channel` of `bucket` at the version with `fingerprint`,
    /// creating the channel when it does not exist and `create` says so.
    pub async fn assign_channel(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        channel: &str,
        fingerprint: &str,
        create: bool,
    ) -> Result<ChannelAction, Failure> {
        let what = format!("assign channel {channel} of HCP Packer bucket {bucket} to version {fingerprint}");
        let one = packer_path(org, project, &["buckets", bucket, "channels", channel]);
        let all = packer_path(org, project, &["buckets", bucket, "channels"]);
        let patch = json!({ "version_fingerprint": fingerprint, "update_mask": "versionFingerprint" });
        match self.call(Method::PATCH, &one, &[], Some(&patch), &what).await {
            Ok(_) => return Ok(ChannelAction::Updated),
            // A 404 is the channel's or the version's: ask which.
            Err(f) if f.status == Some(404) && !create => {
                return match self.get_channel(org, project, bucket, channel).await? {
                    None => Ok(ChannelAction::Missing),
                    Some(_) => Err(f),
                };
            }
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
        Ok(self
            .get_found::<ChannelAnswer>(&path, &what)
            .await?
            .and_then(|a| a.channel))
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
}
