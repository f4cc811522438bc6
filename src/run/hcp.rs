//! After a successful build: find the HCP Packer version by fingerprint,
//! promote it to a channel, link it. Failures here are warnings.

use crate::config::{Config, Env};
use crate::hcp::{self, ChannelAction, Client, Endpoints};
use crate::report;
use crate::vault::read::Read;
use std::time::Duration;

/// How long to wait for a version Packer is still publishing.
pub const WAIT: Duration = Duration::from_secs(60);

/// Looks the version up (and promotes it when `promote`); returns what the
/// report shows and the warnings.
pub async fn record(
    cfg: &Config,
    env: &Env,
    reads: &[Read],
    bucket: &str,
    fingerprint: &str,
    promote: bool,
) -> (report::Hcp, Vec<String>) {
    let mut out = report::Hcp {
        bucket: bucket.into(),
        fingerprint: fingerprint.into(),
        ..Default::default()
    };
    let mut warnings = Vec::new();
    if let Err(w) = lookup(cfg, env, reads, &mut out, promote).await {
        warnings.push(w);
    }
    (out, warnings)
}

async fn lookup(cfg: &Config, env: &Env, reads: &[Read], out: &mut report::Hcp, promote: bool) -> Result<(), String> {
    let (id, secret) = hcp::credentials(reads.iter().flat_map(|r| r.items.iter()), env).ok_or(
        "HCP Packer: no HCP_CLIENT_ID/HCP_CLIENT_SECRET among the secrets or in the environment: add them to the secrets spec",
    )?;
    let endpoints = Endpoints::from_env(env).map_err(|e| format!("HCP Packer: {e}"))?;
    let portal = endpoints.portal.clone();
    let client = Client::login(endpoints, &id, &secret)
        .await
        .map_err(|f| format!("HCP Packer: {f}"))?;
    let (org, project) = client
        .resolve_location(cfg.hcp.organization_id.as_deref(), cfg.hcp.project_id.as_deref())
        .await
        .map_err(|f| format!("HCP Packer: {f}"))?;
    let version = client
        .wait_version(&org, &project, &out.bucket, &out.fingerprint, WAIT, Duration::from_secs(2))
        .await
        .map_err(|f| format!("HCP Packer: {f}"))?
        .ok_or_else(|| {
            format!(
                "HCP Packer: bucket `{}` has no version with fingerprint `{}` (does the template have an `hcp_packer_registry` block, and Packer 1.7.5 or later?)",
                out.bucket, out.fingerprint
            )
        })?;
    out.version_id = Some(version.id.clone());
    out.version_name = Some(version.name.clone()).filter(|n| !n.is_empty());
    out.status = Some(version.status.clone());
    out.url = Some(hcp::version_url(&portal, &org, &project, &out.bucket, &version.id));
    out.artifacts = version
        .builds
        .iter()
        .flat_map(|b| {
            b.artifacts.iter().map(move |a| {
                (
                    b.component_type.clone(),
                    a.region.clone(),
                    a.external_identifier.clone(),
                )
            })
        })
        .collect();
    crate::log::info(&format!(
        "HCP Packer version {} ({}) in bucket `{}`",
        version.name, version.status, out.bucket
    ));
    if let Some(channel) = cfg.hcp.channel.as_deref().filter(|_| promote) {
        if !version.is_active() {
            return Err(format!(
                "HCP Packer: version is {}, not active: channel `{channel}` left as it was",
                version.status
            ));
        }
        let action = client
            .assign_channel(&org, &project, &out.bucket, channel, &out.fingerprint)
            .await
            .map_err(|f| format!("HCP Packer: {f}"))?;
        let word = match action {
            ChannelAction::Created => "created",
            ChannelAction::Updated => "updated",
        };
        crate::log::info(&format!(
            "HCP Packer channel `{channel}` {word}: now on {}",
            version.name
        ));
        out.channel = Some((channel.into(), word.into()));
    }
    Ok(())
}
