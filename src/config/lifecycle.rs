//! The inputs of `promote`, `revoke` and `restore`, validated before any
//! request: exactly one source version, the channel, the reason, the time.

use super::Sources;
use super::sources::name_input;
use crate::error::{Error, Result};

/// Which lifecycle command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Assign a version to a channel.
    Promote,
    /// Revoke a version (now or at a time).
    Revoke,
    /// Undo a revocation.
    Restore,
}

impl Op {
    /// The subcommand's name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Promote => "promote",
            Op::Revoke => "revoke",
            Op::Restore => "restore",
        }
    }
}

/// Which version the command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The version this channel points at now (`from-channel`).
    Channel(String),
    /// `version-fingerprint`.
    Fingerprint(String),
    /// `version-id`.
    Id(String),
}

/// The validated inputs of a lifecycle command.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// The command.
    pub op: Op,
    /// The version it acts on.
    pub source: Source,
    /// `promote`: the channel to assign.
    pub channel: Option<String>,
    /// `promote`: create the channel when missing.
    pub create_channel: bool,
    /// `promote`: labels every build of the version must carry.
    pub require_labels: Vec<(String, String)>,
    /// Show what would change, change nothing.
    pub dry_run: bool,
    /// `revoke`: the revocation message.
    pub reason: Option<String>,
    /// `revoke`: RFC 3339 time (`None`: now).
    pub revoke_at: Option<String>,
    /// `revoke`: leave descendants alone.
    pub skip_descendants: bool,
    /// `revoke`: let HCP roll back the channels on the version (its default).
    pub rollback_channels: bool,
    /// `revoke`: even while channels point at the version.
    pub force: bool,
}

/// Reads and checks the lifecycle inputs for `op`; `bucket` is `hcp-bucket`.
pub(super) fn resolve(src: &Sources, op: Op, bucket: Option<&str>) -> Result<Lifecycle> {
    if bucket.is_none() {
        return Err(Error::input(
            "hcp-bucket",
            format!("`{}` needs the HCP Packer bucket the version is in", op.name()),
        ));
    }
    let sources = [
        name_input(src, "from-channel")?.map(Source::Channel),
        name_input(src, "version-fingerprint")?.map(Source::Fingerprint),
        name_input(src, "version-id")?.map(Source::Id),
    ];
    let mut given = sources.into_iter().flatten();
    let source = given.next().ok_or_else(|| {
        Error::input(
            "from-channel",
            "no version given: set exactly one of `from-channel`, `version-fingerprint`, `version-id`",
        )
    })?;
    if given.next().is_some() {
        return Err(Error::input(
            "from-channel",
            "more than one version given: set exactly one of `from-channel`, `version-fingerprint`, `version-id`",
        ));
    }
    let channel = name_input(src, "channel")?;
    if op == Op::Promote && channel.is_none() {
        return Err(Error::input("channel", "`promote` needs the channel to assign"));
    }
    let reason = src
        .text("reason")?
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if op == Op::Revoke && reason.is_none() {
        return Err(Error::input(
            "reason",
            "`revoke` needs a reason (the revocation message)",
        ));
    }
    let revoke_at = src.text("revoke-at")?;
    if let Some(at) = &revoke_at
        && crate::time::rfc3339(at).is_none()
    {
        return Err(Error::input(
            "revoke-at",
            format!("`{at}` is not an RFC 3339 time like 2026-12-24T18:00:00Z"),
        ));
    }
    let mut require_labels = Vec::new();
    for line in src.text("require-label")?.unwrap_or_default().lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => require_labels.push((k.trim().to_string(), v.trim().to_string())),
            _ => {
                return Err(Error::input("require-label", format!("`{line}` is not KEY=VALUE")));
            }
        }
    }
    Ok(Lifecycle {
        op,
        source,
        channel,
        create_channel: src.flag("create-channel", false)?,
        require_labels,
        dry_run: src.flag("dry-run", false)?,
        reason,
        revoke_at,
        skip_descendants: src.flag("skip-descendants", false)?,
        rollback_channels: src.flag("rollback-channels", true)?,
        force: src.flag("force", false)?,
    })
}
