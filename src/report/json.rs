//! The report as JSON (`--report-json FILE`, input `report-json`): the same
//! data as the Markdown report, versioned, for `packer-vault report` to fan
//! the images of a matrix back in. Never a secret value: secrets appear by
//! path, key, variable and version, as in the Markdown.

use super::{Report, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The format this binary writes and reads.
pub const FORMAT: u32 = 1;

/// One run, as `packer-vault report` reads it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonReport {
    /// [`FORMAT`].
    pub format: u32,
    /// `build`, `validate`, `promote`, `revoke`, `restore`.
    pub command: String,
    /// Template file or directory.
    pub template: String,
    /// HCP Packer bucket, when HCP Packer is on.
    #[serde(default)]
    pub bucket: Option<String>,
    /// `success`, `failed` or `cancelled`.
    pub result: String,
    /// The run's exit code.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Packer's version.
    #[serde(default)]
    pub packer_version: Option<String>,
    /// The HCP Packer version.
    #[serde(default)]
    pub hcp: Option<JsonHcp>,
    /// Artifacts Packer reported (build, id, description).
    #[serde(default)]
    pub artifacts: Vec<JsonArtifact>,
    /// Digest over the secrets' paths, keys and versions.
    #[serde(default)]
    pub secrets_digest: String,
    /// The secrets read, without values.
    #[serde(default)]
    pub secrets: Vec<JsonSecret>,
    /// Phases and their durations.
    #[serde(default)]
    pub phases: Vec<JsonPhase>,
    /// Seconds from start to end of the phases.
    #[serde(default)]
    pub duration_seconds: f64,
    /// Errors (redacted).
    #[serde(default)]
    pub errors: Vec<String>,
    /// Warnings (redacted).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Link to the CI run.
    #[serde(default)]
    pub run_url: Option<String>,
    /// The CI job's name (`GITHUB_JOB`, `CI_JOB_NAME`).
    #[serde(default)]
    pub job: Option<String>,
    /// What a lifecycle command did, in one line.
    #[serde(default)]
    pub lifecycle: Option<String>,
}

/// The HCP Packer part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonHcp {
    /// Bucket.
    pub bucket: String,
    /// Build fingerprint.
    pub fingerprint: String,
    /// Version id.
    #[serde(default)]
    pub version_id: Option<String>,
    /// Version name (`v3`).
    #[serde(default)]
    pub version_name: Option<String>,
    /// Version status.
    #[serde(default)]
    pub status: Option<String>,
    /// Portal link.
    #[serde(default)]
    pub url: Option<String>,
    /// Channel assigned.
    #[serde(default)]
    pub channel: Option<String>,
    /// Labels of its builds.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonArtifact {
    /// Build (or HCP component).
    pub build: String,
    /// Artifact id (`us-east-1:ami-0abc`).
    pub id: String,
    /// Region, when HCP says.
    #[serde(default)]
    pub region: Option<String>,
}

/// One secret, without its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSecret {
    /// `mount/name` (or the path as written).
    pub path: String,
    /// Its namespace, when not the root one.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Key.
    pub key: String,
    /// Variable.
    pub env: String,
    /// `kv2`, `kv1`, `dynamic`.
    pub engine: String,
    /// KV v2 version.
    #[serde(default)]
    pub version: Option<u64>,
    /// Whether the lock pinned it.
    #[serde(default)]
    pub locked: bool,
}

/// One phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonPhase {
    /// Name.
    pub name: String,
    /// Seconds.
    pub seconds: f64,
    /// Whether it succeeded.
    pub ok: bool,
}

impl JsonReport {
    /// The JSON form of `r`; `bucket` and `job` from the run's settings.
    pub fn of(r: &Report, bucket: Option<&str>, job: Option<&str>) -> JsonReport {
        let phases: Vec<JsonPhase> = r
            .phases
            .iter()
            .map(|p| JsonPhase {
                name: p.name.clone(),
                seconds: p.duration.as_secs_f64(),
                ok: p.ok,
            })
            .collect();
        JsonReport {
            format: FORMAT,
            command: r.command.clone(),
            template: r.template.clone(),
            bucket: bucket
                .map(str::to_string)
                .or_else(|| r.hcp.as_ref().map(|h| h.bucket.clone())),
            result: match r.status {
                Status::Success => "success",
                Status::Failed => "failed",
                Status::Cancelled => "cancelled",
            }
            .into(),
            exit_code: r.exit_code,
            packer_version: r.packer_version.clone(),
            hcp: r.hcp.as_ref().map(|h| JsonHcp {
                bucket: h.bucket.clone(),
                fingerprint: h.fingerprint.clone(),
                version_id: h.version_id.clone(),
                version_name: h.version_name.clone(),
                status: h.status.clone(),
                url: h.url.clone(),
                channel: h.channel.as_ref().map(|(c, _)| c.clone()),
                labels: h.labels.iter().cloned().collect(),
            }),
            artifacts: match r.hcp.as_ref().filter(|h| !h.artifacts.is_empty()) {
                Some(h) => h
                    .artifacts
                    .iter()
                    .map(|(build, region, id)| JsonArtifact {
                        build: build.clone(),
                        id: id.clone(),
                        region: Some(region.clone()),
                    })
                    .collect(),
                None => r
                    .artifacts
                    .iter()
                    .map(|a| JsonArtifact {
                        build: a.build.clone(),
                        id: a.id.clone(),
                        region: None,
                    })
                    .collect(),
            },
            secrets_digest: r.secrets_digest.clone(),
            secrets: r
                .secrets
                .iter()
                .map(|s| JsonSecret {
                    path: s.path.clone(),
                    namespace: s.namespace.clone(),
                    key: s.key.clone(),
                    env: s.env.clone(),
                    engine: s.engine.to_string(),
                    version: s.version,
                    locked: s.locked,
                })
                .collect(),
            duration_seconds: phases.iter().map(|p| p.seconds).sum(),
            phases,
            errors: r.errors.clone(),
            warnings: r.warnings.clone(),
            run_url: r.run_url.clone(),
            job: job.map(str::to_string),
            lifecycle: r.lifecycle.as_ref().map(|l| l.outcome.clone()),
        }
    }

    /// Reads one report; the reason when it is none of ours.
    pub fn parse(text: &str) -> Result<JsonReport, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
        match v.get("format").and_then(serde_json::Value::as_u64) {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => return Err(format!("format {f}, not {FORMAT}")),
            None => return Err("not a packer-vault report (no `format`)".into()),
        }
        crate::remote::decode::value(v).map_err(|e| format!("not a packer-vault report ({e})"))
    }
}
