//! HCP Packer ancestry (2023-01-01): the versions built from a version
//! (its descendants in other buckets), and the channels that point at them,
//! so that revoking a base image does not silently revoke what production
//! runs on.
//!
//! Shapes are HashiCorp's published HCP Packer API 2023-01-01 (hcp-sdk-go,
//! `clients/cloud-packer-service/stable/2023-01-01`, ListBucketAncestry):
//! - `GET P/buckets/{b}/ancestry?type=ANCESTRY_TYPE_CHILDREN&version_fingerprint={fp}`
//!   → `{relations: [BucketAncestry], pagination}`;
//!   `BucketAncestry{child, parent, status}`,
//!   `Child{bucket_name, version_fingerprint, version_id, version_name}`.

use super::api::{Client, Page, Pagination, packer_path, page};
use crate::remote::Failure;
use serde::Deserialize;
use std::ops::ControlFlow;

/// How many generations below a version are looked at.
const MAX_DEPTH: usize = 4;
/// How many descendant versions are looked at in all.
const MAX_VERSIONS: usize = 200;

/// A version built from another one (`Child`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Child {
    /// Its bucket.
    #[serde(default)]
    pub bucket_name: String,
    /// Its fingerprint.
    #[serde(default)]
    pub version_fingerprint: String,
    /// Its version name (`v3`).
    #[serde(default)]
    pub version_name: String,
}

#[derive(Deserialize)]
struct Relation {
    #[serde(default)]
    child: Option<Child>,
}

#[derive(Deserialize)]
struct AncestryList {
    #[serde(default)]
    relations: Vec<Relation>,
    #[serde(default)]
    pagination: Option<Pagination>,
}
page!(AncestryList);

/// A descendant version that a channel points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// The descendant version.
    pub version: Child,
    /// The channel of its bucket that points at it.
    pub channel: String,
}

impl Client {
    /// The versions built directly from version `fingerprint` of `bucket`.
    pub async fn children(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        fingerprint: &str,
    ) -> Result<Vec<Child>, Failure> {
        let what = format!("list the versions built from {fingerprint} of HCP Packer bucket {bucket}");
        let path = packer_path(org, project, &["buckets", bucket, "ancestry"]);
        let query = [("type", "ANCESTRY_TYPE_CHILDREN"), ("version_fingerprint", fingerprint)];
        let mut out = Vec::new();
        self.pages(&path, &query, &what, |page: AncestryList| {
            out.extend(
                page.relations
                    .into_iter()
                    .filter_map(|r| r.child)
                    .filter(|c| !c.bucket_name.is_empty() && !c.version_fingerprint.is_empty()),
            );
            ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
    }

    /// Every descendant of version `fingerprint` of `bucket` (children,
    /// their children, ... up to a few generations) that a channel of its
    /// own bucket points at (managed channels such as `latest` aside).
    pub async fn assigned_descendants(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        fingerprint: &str,
    ) -> Result<Vec<Assigned>, Failure> {
        let mut seen: Vec<(String, String)> = vec![(bucket.to_string(), fingerprint.to_string())];
        let mut level = vec![(bucket.to_string(), fingerprint.to_string())];
        let mut found = Vec::new();
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for (b, fp) in &level {
                for child in self.children(org, project, b, fp).await? {
                    let key = (child.bucket_name.clone(), child.version_fingerprint.clone());
                    if seen.contains(&key) || seen.len() >= MAX_VERSIONS {
                        continue;
                    }
                    seen.push(key.clone());
                    for c in self.list_channels(org, project, &child.bucket_name).await? {
                        if !c.managed && c.fingerprint() == Some(child.version_fingerprint.as_str()) {
                            found.push(Assigned {
                                version: child.clone(),
                                channel: c.name,
                            });
                        }
                    }
                    next.push(key);
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        Ok(found)
    }
}
