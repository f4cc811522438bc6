//! HCP Packer buckets (2023-01-01, GetBucket): what the cascade reads of a
//! child bucket, its labels (`bucket.labels`, set by a template's
//! `hcp_packer_registry { bucket_labels = {...} }`).
//! `GET P/buckets/{b}` → `{bucket: {name, labels, ...}}`.

use super::api::{Client, packer_path};
use crate::remote::Failure;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct BucketAnswer {
    #[serde(default)]
    bucket: Option<Bucket>,
}

#[derive(Deserialize)]
struct Bucket {
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

impl Client {
    /// The labels of `bucket`; `None` when there is no such bucket.
    pub async fn bucket_labels(
        &self,
        org: &str,
        project: &str,
        bucket: &str,
    ) -> Result<Option<BTreeMap<String, String>>, Failure> {
        let what = format!("read HCP Packer bucket {bucket}");
        let path = packer_path(org, project, &["buckets", bucket]);
        Ok(self
            .get_found::<BucketAnswer>(&path, &what)
            .await?
            .map(|a| a.bucket.map(|b| b.labels).unwrap_or_default()))
    }
}
