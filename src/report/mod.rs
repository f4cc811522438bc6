//! One model of a run, rendered as Markdown for the job summary, the PR/MR
//! comment and `--report FILE`. It names secrets by path, key and version,
//! never by value.

pub mod cascade;
pub mod check;
pub mod fanin;
pub mod json;
mod markdown;
pub mod terminal;

pub use markdown::{marker, marker_key, render};

use crate::packer::machine::Artifact;
use crate::vault::mounts::Engine;
use crate::vault::read::Read;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything succeeded.
    Success,
    /// Something failed.
    Failed,
    /// Cancelled by a signal.
    Cancelled,
}

/// One phase of the run and how long it took.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Name, e.g. `packer build`.
    pub name: String,
    /// Wall-clock duration.
    pub duration: Duration,
    /// Whether it succeeded.
    pub ok: bool,
}

/// One secret value, described without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    /// The secret's `mount/name` inside its namespace (the path as written
    /// for other engines).
    pub path: String,
    /// The namespace that holds it, absolute; `None` for the root namespace.
    pub namespace: Option<String>,
    /// Key in the secret.
    pub key: String,
    /// Variable it was put in.
    pub env: String,
    /// `kv2`, `kv1` or `dynamic`.
    pub engine: &'static str,
    /// KV v2 version read.
    pub version: Option<u64>,
    /// Whether the version came from the lock file.
    pub locked: bool,
    /// Lease TTL in seconds, for leased secrets.
    pub lease_ttl: Option<u64>,
}

/// The HCP Packer side of the run.
#[derive(Debug, Clone, Default)]
pub struct HcpVersion {
    /// Bucket.
    pub bucket: String,
    /// Build fingerprint.
    pub fingerprint: String,
    /// Version id, once found.
    pub version_id: Option<String>,
    /// Version name (`v3`).
    pub version_name: Option<String>,
    /// Version status (`VERSION_ACTIVE`).
    pub status: Option<String>,
    /// Portal link of the version.
    pub url: Option<String>,
    /// Channel promoted to, and whether it was created.
    pub channel: Option<(String, String)>,
    /// Artifacts HCP recorded: (component, region, id).
    pub artifacts: Vec<(String, String, String)>,
    /// Labels of the version's builds (`build_labels`: the provenance).
    pub labels: Vec<(String, String)>,
}

/// What a `promote`, `revoke` or `restore` did.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// `promote`, `revoke` or `restore`.
    pub op: String,
    /// The channel assigned (`promote`).
    pub channel: Option<String>,
    /// The fingerprint the channel pointed at before (`promote`).
    pub previous_fingerprint: Option<String>,
    /// Only shown what would change.
    pub dry_run: bool,
    /// What happened, or would, in one line.
    pub outcome: String,
    /// Channels a revocation moved (HCP rolls them back): name, from, to
    /// (`to` empty when the channel was left without a version).
    pub moved: Vec<(String, String, String)>,
}

/// Everything the summary and comment show.
#[derive(Debug, Clone)]
pub struct Report {
    /// `build`, `validate` or `exec`.
    pub command: String,
    /// Outcome.
    pub status: Status,
    /// Template file or directory.
    pub template: String,
    /// Packer version used.
    pub packer_version: Option<String>,
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// Artifacts Packer reported.
    pub artifacts: Vec<Artifact>,
    /// HCP Packer, when enabled.
    pub hcp: Option<HcpVersion>,
    /// Vault role (or `token`).
    pub role: String,
    /// Token accessor.
    pub accessor: String,
    /// Token policies.
    pub policies: Vec<String>,
    /// Secrets read.
    pub secrets: Vec<SecretRow>,
    /// Digest over (path, key, version).
    pub secrets_digest: String,
    /// Findings of `validate` (fmt, validate errors).
    pub findings: Vec<String>,
    /// Warnings (leases, HCP, comments).
    pub warnings: Vec<String>,
    /// Errors (redacted).
    pub errors: Vec<String>,
    /// Last lines of Packer's output on failure (redacted).
    pub tail: Vec<String>,
    /// A link to the CI run, when known.
    pub run_url: Option<String>,
    /// The lifecycle command's result (none for build and validate).
    pub lifecycle: Option<Lifecycle>,
    /// The run's exit code, once known.
    pub exit_code: Option<i32>,
}

impl Report {
    /// An empty report for `command` on `template`.
    pub fn new(command: &str, template: &str) -> Report {
        Report {
            command: command.into(),
            status: Status::Success,
            template: template.into(),
            packer_version: None,
            phases: Vec::new(),
            artifacts: Vec::new(),
            hcp: None,
            role: String::new(),
            accessor: String::new(),
            policies: Vec::new(),
            secrets: Vec::new(),
            secrets_digest: String::new(),
            findings: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
            tail: Vec::new(),
            run_url: None,
            lifecycle: None,
            exit_code: None,
        }
    }

    /// Records the secrets read (names, versions, TTLs) and their digest.
    pub fn set_secrets(&mut self, reads: &[Read], locked: &dyn Fn(&Read) -> bool) {
        self.secrets = rows(reads, locked);
        self.secrets_digest = digest(&self.secrets);
    }
}

/// The rows describing `reads`.
pub fn rows(reads: &[Read], locked: &dyn Fn(&Read) -> bool) -> Vec<SecretRow> {
    reads
        .iter()
        .flat_map(|r| {
            let engine = match r.engine {
                Engine::Kv2 => "kv2",
                Engine::Kv1 => "kv1",
                Engine::Other => "dynamic",
            };
            let path = match (&r.mount, &r.name) {
                (Some(m), Some(n)) => format!("{m}{n}"),
                _ => r.path.clone(),
            };
            r.items
                .iter()
                .filter(|i| i.delivery != crate::vault::read::Delivery::Masked)
                .map(move |i| SecretRow {
                    path: path.clone(),
                    namespace: r.namespace.clone(),
                    key: i.key.clone(),
                    env: i.env.clone(),
                    engine,
                    version: r.version,
                    locked: locked(r),
                    lease_ttl: (r.lease_duration > 0).then_some(r.lease_duration),
                })
        })
        .collect()
}

/// The path of a read as `mount/name` (KV v2 without `data/`) from the
/// root namespace (`admin/team-a/secret/ci/b`), so that `secret/data/x` and
/// `secret/x` describe the same secret, and a child namespace's path
/// written `team-a/secret/x` under `admin` is the one the lock names.
pub fn canonical_path(r: &Read) -> String {
    match (&r.mount, &r.name) {
        (Some(m), Some(n)) => crate::lockfile::key(r.namespace.as_deref().unwrap_or(""), m, n),
        _ => r.path.clone(),
    }
}

/// SHA-256 over sorted, distinct `path\tkey\tversion` lines (`-` when
/// unversioned): equal digests mean the same secret versions were used.
pub fn digest(rows: &[SecretRow]) -> String {
    let mut lines: Vec<String> = rows
        .iter()
        .map(|r| {
            // The root namespace adds nothing: digests from before
            // namespaces were reported stay the same.
            let path = match &r.namespace {
                Some(ns) => format!("{ns}/{}", r.path),
                None => r.path.clone(),
            };
            format!(
                "{}\t{}\t{}\n",
                path,
                r.key,
                r.version.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
            )
        })
        .collect();
    lines.sort();
    lines.dedup();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    format!("sha256:{:x}", h.finalize())
}
