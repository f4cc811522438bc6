//! HCP Packer ancestry (2023-01-01): which versions were built from which,
//! read two ways. The revoke guard descends from one version to what was
//! built from it (and what channels point at there), so that revoking a
//! base image does not silently revoke what production runs on; the
//! cascade lists the children built from a channel and whether they are
//! out of date with what it holds now.
//!
//! Shapes and semantics are hcp-sdk-go's (`clients/cloud-packer-service/
//! stable/2023-01-01`, ListBucketAncestry):
//! `GET P/buckets/{b}/ancestry?type=ANCESTRY_TYPE_CHILDREN[&channel_name=c]`
//! → `{relations: [BucketAncestry], pagination}`,
//! `BucketAncestry{child, parent, status}`,
//! `Child{bucket_name, version_fingerprint, version_id, version_name}`,
//! `Parent{bucket_name, channel_name, channel_version{fingerprint, id, name},
//! version_fingerprint, version_id, version_name}`, status `UP_TO_DATE`,
//! `OUT_OF_DATE` or `UNDETERMINED`. For children, `channel_name` selects the
//! children whose parent version was on that channel when they were built;
//! without it, the children of every version of the bucket come back.
//! `version_fingerprint` selects whose *parents* are listed: it does not
//! filter children, so the guard filters on `parent.version_fingerprint`.

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

/// The version a child was built from (`Parent`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Parent {
    /// Its bucket.
    #[serde(default)]
    pub bucket_name: String,
    /// The channel the child took it from.
    #[serde(default)]
    pub channel_name: String,
    /// Its fingerprint.
    #[serde(default)]
    pub version_fingerprint: String,
}

/// One parent-child relation and whether the child is up to date with
/// what the parent's channel holds now (`UP_TO_DATE`, `OUT_OF_DATE`,
/// `UNDETERMINED`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Relation {
    /// The child version.
    #[serde(default)]
    pub child: Option<Child>,
    /// The parent version.
    #[serde(default)]
    pub parent: Option<Parent>,
    /// The relation's status.
    #[serde(default)]
    pub status: String,
}

/// The children in `relations` built from version `fingerprint` of `bucket`.
fn built_from(relations: &[Relation], bucket: &str, fingerprint: &str) -> Vec<Child> {
    relations
        .iter()
        .filter(|r| {
            r.parent.as_ref().is_some_and(|p| {
                p.version_fingerprint == fingerprint && (p.bucket_name.is_empty() || p.bucket_name == bucket)
            })
        })
        .filter_map(|r| r.child.clone())
        .filter(|c| !c.version_fingerprint.is_empty())
        .collect()
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
    /// The child relations of `bucket`, every page: those built from
    /// `channel` when given, else from any version of the bucket.
    pub async fn child_relations(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        channel: Option<&str>,
    ) -> Result<Vec<Relation>, Failure> {
        let what = match channel {
            Some(c) => format!("list the images built from channel {c} of HCP Packer bucket {bucket}"),
            None => format!("list the images built from HCP Packer bucket {bucket}"),
        };
        let path = packer_path(org, project, &["buckets", bucket, "ancestry"]);
        let mut query = vec![("type", "ANCESTRY_TYPE_CHILDREN")];
        if let Some(c) = channel {
            query.push(("channel_name", c));
        }
        let mut out = Vec::new();
        let more = self
            .pages(&path, &query, &what, |page: AncestryList| {
                out.extend(
                    page.relations
                        .into_iter()
                        .filter(|r| r.child.as_ref().is_some_and(|c| !c.bucket_name.is_empty())),
                );
                ControlFlow::Continue(())
            })
            .await?;
        if more {
            crate::log::warn(&format!(
                "{what}: more pages than are read; {} relations taken",
                out.len()
            ));
        }
        Ok(out)
    }

    /// The versions built directly from version `fingerprint` of `bucket`:
    /// the bucket's child relations whose parent is that very version.
    pub async fn children(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
        fingerprint: &str,
    ) -> Result<Vec<Child>, Failure> {
        let relations = self.child_relations(org, project, bucket, None).await?;
        Ok(built_from(&relations, bucket, fingerprint))
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
        // One listing per bucket: it holds the children of all its versions.
        let mut listed: std::collections::HashMap<String, Vec<Relation>> = std::collections::HashMap::new();
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for (b, fp) in &level {
                if !listed.contains_key(b) {
                    let relations = self.child_relations(org, project, b, None).await?;
                    listed.insert(b.clone(), relations);
                }
                for child in built_from(&listed[b], b, fp) {
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
