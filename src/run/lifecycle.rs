//! `packer-vault promote`, `revoke` and `restore`: the image lifecycle after
//! the build. Log in to Vault and read the spec (it holds the HCP
//! credentials), find the version (by channel, fingerprint or id), check it,
//! change it (unless `dry-run`), report (summary, sticky comment with its
//! own marker, outputs), revoke the Vault token.

use super::{Stop, fail, step};
use crate::ci::Runner;
use crate::config::Config;
use crate::config::lifecycle::{Lifecycle, Op, Source};
use crate::error::{Error, Result};
use crate::hcp::versions::Update;
use crate::hcp::{self, Version};
use crate::report::{self, Report, Status};
use crate::session::Session;

/// Runs the lifecycle command of `cfg`.
pub async fn lifecycle(cfg: Config, ci: Runner) -> i32 {
    let Some(lc) = cfg.lifecycle.clone() else {
        return fail(&Error::Usage("no lifecycle command".into()));
    };
    let bucket = cfg.hcp.bucket.clone().unwrap_or_default();
    // The marker of the sticky comment: one per command (and channel), never
    // the build's.
    let subject = match (&lc.op, &lc.channel) {
        (Op::Promote, Some(c)) => format!("promote:{c}"),
        (op, _) => op.name().to_string(),
    };
    let mut report = Report::new(lc.op.name(), &subject);
    report.run_url = ci.run_url();
    let publish = crate::publish::Options::of(&cfg);
    let (cancel, session) = match super::start(&cfg, &ci).await {
        Ok(started) => started,
        Err(super::Stopped::Failed(e)) => {
            report.status = Status::Failed;
            report.errors.push(crate::log::redact(&e.to_string()));
            report.exit_code = Some(e.exit_code());
            crate::publish::publish(ci.platform, &ci.env, &report, &publish, None).await;
            return fail(&e);
        }
        Err(stop) => return stop.exit_code(),
    };
    super::identify(&mut report, &cfg, &session);
    let code = match step(&cancel, act(&cfg, &ci, &session, &lc, &bucket, &mut report)).await {
        Ok(()) => 0,
        Err(Stop::Failed(e)) => {
            report.status = Status::Failed;
            report.errors.push(crate::log::redact(&e.to_string()));
            fail(&e)
        }
        Err(Stop::Cancelled(s)) => {
            report.status = Status::Cancelled;
            s.exit_code()
        }
    };
    report.exit_code = Some(code);
    crate::publish::publish(ci.platform, &ci.env, &report, &publish, None).await;
    session.close(&cfg, false).await;
    code
}

/// What a lifecycle operation acts on: the version `source` named, in its
/// bucket, and the client to change it with.
struct Target<'a> {
    client: &'a hcp::Client,
    org: &'a str,
    project: &'a str,
    bucket: &'a str,
    version: Version,
    /// `version NAME (`FINGERPRINT`)`, as every message names it.
    shown: String,
}

/// A failed HCP Packer request, as the command's error.
fn failed(f: crate::remote::Failure) -> Error {
    Error::failed(format!("HCP Packer: {f}"))
}

/// Reads the spec, finds the version, and promotes, revokes or restores
/// it; the report carries the version and what happened.
async fn act(
    cfg: &Config,
    ci: &Runner,
    session: &Session,
    lc: &Lifecycle,
    bucket: &str,
    report: &mut Report,
) -> Result<()> {
    let (reads, _) = session.read(cfg, ci).await?;
    report.set_secrets(&reads, &|_| false);
    let hcp = super::hcp::Registry::for_command(cfg, ci, &reads).await?;
    let (client, org, project) = (&hcp.client, hcp.org.as_str(), hcp.project.as_str());
    let version = find(client, org, project, bucket, &lc.source).await?;
    report.hcp = Some(report::HcpVersion {
        bucket: bucket.into(),
        fingerprint: version.fingerprint.clone(),
        version_id: Some(version.id.clone()),
        version_name: Some(version.name.clone()).filter(|n| !n.is_empty()),
        status: Some(version.status.clone()),
        url: Some(hcp::version_url(&hcp.portal, org, project, bucket, &version.id)),
        channel: None,
        artifacts: Vec::new(),
        labels: version.labels(),
    });
    let shown = format!("version {} (`{}`)", name(&version), version.fingerprint);
    let target = Target {
        client,
        org,
        project,
        bucket,
        version,
        shown,
    };
    let mut note = report::Lifecycle {
        op: lc.op.name().into(),
        dry_run: lc.dry_run,
        channel: lc.channel.clone().filter(|_| lc.op == Op::Promote),
        ..Default::default()
    };
    // A failure below still shows which operation it was.
    report.lifecycle = Some(note.clone());
    // The version's status after a change, shown even when a later
    // request of the same operation fails.
    let mut status = None;
    let done = match lc.op {
        Op::Promote => promote(&target, lc, &mut note).await,
        Op::Revoke => revoke(&target, lc, &mut note, &mut status).await,
        Op::Restore => restore(&target, lc, &mut note, &mut status).await,
    };
    if let (Some(status), Some(h)) = (status, report.hcp.as_mut()) {
        h.status = Some(status);
    }
    done?;
    crate::log::info(&format!("HCP Packer: {}", note.outcome));
    report.lifecycle = Some(note);
    Ok(())
}

/// Moves (or creates) the channel onto the version, unless it is there
/// already. Promoting changes no version status.
async fn promote(t: &Target<'_>, lc: &Lifecycle, note: &mut report::Lifecycle) -> Result<()> {
    let (bucket, shown) = (t.bucket, &t.shown);
    let channel = lc.channel.clone().unwrap_or_default();
    promotable(&t.version, shown, &lc.require_labels)?;
    let current = (t.client.get_channel(t.org, t.project, bucket, &channel).await).map_err(failed)?;
    match &current {
        None if !lc.create_channel => {
            return Err(Error::failed(format!(
                "HCP Packer: bucket `{bucket}` has no channel `{channel}`: create it, or set create-channel"
            )));
        }
        Some(c) if c.managed => {
            return Err(Error::failed(format!(
                "HCP Packer: channel `{channel}` is managed by HCP Packer and cannot be assigned"
            )));
        }
        _ => {}
    }
    note.previous_fingerprint = current.as_ref().and_then(|c| c.fingerprint()).map(str::to_string);
    let before = note.previous_fingerprint.as_deref().unwrap_or("no version");
    if note.previous_fingerprint.as_deref() == Some(t.version.fingerprint.as_str()) {
        note.outcome = format!("channel `{channel}` of bucket `{bucket}` is on {shown} already: nothing to do");
        return Ok(());
    }
    let this = format!("channel `{channel}` of bucket `{bucket}`");
    note.outcome = match (current.is_some(), lc.dry_run) {
        (true, false) => format!("{this} moved from `{before}` to {shown}"),
        (true, true) => format!("{this} would move from `{before}` to {shown}"),
        (false, false) => format!("{this} created on {shown}"),
        (false, true) => format!("{this} would be created on {shown}"),
    };
    if !lc.dry_run {
        let fp = &t.version.fingerprint;
        (t.client
            .assign_channel(t.org, t.project, bucket, &channel, fp, true)
            .await)
            .map_err(failed)?;
    }
    Ok(())
}

/// Revokes the version (now or at `revoke-at`) once nothing in use points
/// at it, and reports the channels HCP rolled back; `status` is what HCP
/// answered for the version.
async fn revoke(
    t: &Target<'_>,
    lc: &Lifecycle,
    note: &mut report::Lifecycle,
    status: &mut Option<String>,
) -> Result<()> {
    let (bucket, shown) = (t.bucket, &t.shown);
    if t.version.status == hcp::versions::VERSION_REVOKED {
        note.outcome = format!("{shown} of bucket `{bucket}` is revoked already: nothing to do");
        return Ok(());
    }
    let on_it = revocable(t, lc).await?;
    let when = lc
        .revoke_at
        .as_deref()
        .map_or("now".to_string(), |at| format!("at {at}"));
    let done = match (lc.dry_run, lc.revoke_at.is_some()) {
        (true, _) => "would be revoked",
        (false, true) => "scheduled to be revoked",
        (false, false) => "revoked",
    };
    let reason = lc.reason.as_deref().unwrap_or("");
    note.outcome = format!("{shown} of bucket `{bucket}` {done} {when}: {reason}");
    if !on_it.is_empty() {
        let channels: Vec<String> = on_it.iter().map(|c| format!("`{c}`")).collect();
        let channels = channels.join(", ");
        note.outcome.push_str(&match (lc.rollback_channels, lc.dry_run) {
            (true, true) => format!("; channel {channels} would roll back to its last valid version"),
            (true, false) => String::new(),
            (false, _) => format!("; channel {channels} left on it (rollback-channels: false)"),
        });
    }
    if lc.dry_run {
        return Ok(());
    }
    let update = Update::Revoke {
        at: lc.revoke_at.clone(),
        message: lc.reason.clone().unwrap_or_default(),
        skip_descendants: lc.skip_descendants,
        keep_channels: !lc.rollback_channels,
    };
    let fp = &t.version.fingerprint;
    let after = (t.client.update_version(t.org, t.project, bucket, fp, &update).await).map_err(failed)?;
    *status = Some(after.status);
    // Which channels HCP moved, from what to what.
    if !on_it.is_empty() {
        let now = (t.client.list_channels(t.org, t.project, bucket).await).map_err(failed)?;
        for c in &on_it {
            let to = now.iter().find(|n| n.name == *c).and_then(|n| n.fingerprint());
            let to = to.unwrap_or_default().to_string();
            if to != *fp {
                note.moved.push((c.clone(), fp.clone(), to));
            }
        }
        for (c, from, to) in &note.moved {
            let to = if to.is_empty() { "no version" } else { to.as_str() };
            note.outcome
                .push_str(&format!("; channel `{c}` rolled back from `{from}` to `{to}`"));
        }
    }
    Ok(())
}

/// The guard of a revocation: the channels on the version (refused unless
/// `force`), and, unless `skip-descendants` or `force`, no channel on a
/// version built from it (revoking a version revokes those, in other
/// buckets too, and production may run on one through a channel). Returns
/// the channels on the version.
async fn revocable(t: &Target<'_>, lc: &Lifecycle) -> Result<Vec<String>> {
    let (fp, shown) = (t.version.fingerprint.as_str(), &t.shown);
    let channels = (t.client.list_channels(t.org, t.project, t.bucket).await).map_err(failed)?;
    let on_it: Vec<String> = channels
        .iter()
        .filter(|c| !c.managed && c.fingerprint() == Some(fp))
        .map(|c| c.name.clone())
        .collect();
    if !on_it.is_empty() && !lc.force {
        let pointing: Vec<String> = on_it.iter().map(|c| format!("`{c}`")).collect();
        return Err(Error::failed(format!(
            "HCP Packer: {shown} is assigned to channel {}: move {} first, or set force",
            pointing.join(", "),
            if pointing.len() == 1 { "it" } else { "them" }
        )));
    }
    if lc.skip_descendants || lc.force {
        return Ok(on_it);
    }
    let assigned = (t.client.assigned_descendants(t.org, t.project, t.bucket, fp).await).map_err(failed)?;
    if assigned.is_empty() {
        return Ok(on_it);
    }
    let named: Vec<String> = assigned
        .iter()
        .map(|a| {
            let v = &a.version;
            let id = if v.version_name.is_empty() {
                &v.version_fingerprint
            } else {
                &v.version_name
            };
            format!("`{}` {id} (channel `{}`)", v.bucket_name, a.channel)
        })
        .collect();
    Err(Error::failed(format!(
        "HCP Packer: revoking {shown} also revokes the versions built from it, and channels point at {}: \
         move those channels first, revoke with skip-descendants, or set force",
        named.join(", ")
    )))
}

/// Restores a revoked (or scheduled) version; one revoked with its ancestor
/// is refused, naming the ancestor to restore first. `status` is what HCP
/// answered for the version.
async fn restore(
    t: &Target<'_>,
    lc: &Lifecycle,
    note: &mut report::Lifecycle,
    status: &mut Option<String>,
) -> Result<()> {
    let (bucket, shown, v) = (t.bucket, &t.shown, &t.version);
    if v.status != hcp::versions::VERSION_REVOKED && v.revoke_at.is_none() {
        note.outcome = format!("{shown} of bucket `{bucket}` is not revoked: nothing to do");
        return Ok(());
    }
    if v.revocation_type.as_deref() == Some("INHERITED") {
        let from = v.revocation_inherited_from.clone().unwrap_or_default();
        let ancestor = if from.version_name.is_empty() {
            from.version_fingerprint.clone()
        } else {
            format!("{} (`{}`)", from.version_name, from.version_fingerprint)
        };
        return Err(Error::failed(format!(
            "HCP Packer: {shown} was revoked with its ancestor {ancestor} of bucket `{}`: restore that one first",
            from.bucket_name
        )));
    }
    note.outcome = format!(
        "{shown} of bucket `{bucket}` {}; HCP puts it back on no channel (promote it to)",
        if lc.dry_run { "would be restored" } else { "restored" }
    );
    if lc.dry_run {
        return Ok(());
    }
    let (fp, update) = (&v.fingerprint, &Update::Restore);
    let after = (t.client.update_version(t.org, t.project, bucket, fp, update).await).map_err(failed)?;
    *status = Some(after.status);
    Ok(())
}

fn name(v: &Version) -> &str {
    if v.name.is_empty() { &v.id } else { &v.name }
}

/// The version `source` names.
async fn find(client: &hcp::Client, org: &str, project: &str, bucket: &str, source: &Source) -> Result<Version> {
    let failed = |f: crate::remote::Failure| Error::failed(format!("HCP Packer: {f}"));
    let fingerprint = match source {
        Source::Fingerprint(fp) => fp.clone(),
        Source::Channel(c) => {
            let channel = client
                .get_channel(org, project, bucket, c)
                .await
                .map_err(failed)?
                .ok_or_else(|| Error::failed(format!("HCP Packer: bucket `{bucket}` has no channel `{c}`")))?;
            channel
                .fingerprint()
                .map(str::to_string)
                .ok_or_else(|| Error::failed(format!("HCP Packer: channel `{c}` points at no version")))?
        }
        Source::Id(id) => {
            return client
                .find_version_by_id(org, project, bucket, id)
                .await
                .map_err(failed)?
                .ok_or_else(|| Error::failed(format!("HCP Packer: bucket `{bucket}` has no version with id `{id}`")));
        }
    };
    client
        .get_version(org, project, bucket, &fingerprint)
        .await
        .map_err(failed)?
        .ok_or_else(|| {
            Error::failed(format!(
                "HCP Packer: bucket `{bucket}` has no version with fingerprint `{fingerprint}`"
            ))
        })
}

/// Refuses a version that cannot be promoted: not complete, revoked,
/// scheduled for revocation, or missing a required label.
fn promotable(v: &Version, shown: &str, required: &[(String, String)]) -> Result<()> {
    if v.status == hcp::versions::VERSION_REVOKED {
        return Err(Error::failed(format!("HCP Packer: {shown} is revoked: not promoted")));
    }
    if let Some(at) = &v.revoke_at {
        let past = crate::time::rfc3339(at).is_none_or(|(secs, _)| secs <= crate::time::now_secs());
        return Err(Error::failed(format!(
            "HCP Packer: {shown} {} at {at}: not promoted",
            if past {
                "was revoked"
            } else {
                "is scheduled for revocation"
            }
        )));
    }
    if !v.is_active() {
        return Err(Error::failed(format!(
            "HCP Packer: {shown} is {} ({}), not active: not promoted",
            hcp::versions::describe_status(&v.status, v.revoke_at.as_deref()),
            v.status
        )));
    }
    for (k, want) in required {
        for b in &v.builds {
            match b.labels.get(k) {
                Some(got) if got == want => {}
                got => {
                    return Err(Error::failed(format!(
                        "HCP Packer: {shown}: build `{}` has label `{k}` = `{}`, not the required `{want}`: not promoted",
                        b.component_type,
                        got.map(String::as_str).unwrap_or("(none)")
                    )));
                }
            }
        }
        if v.builds.is_empty() {
            return Err(Error::failed(format!(
                "HCP Packer: {shown} has no builds to carry label `{k}`"
            )));
        }
    }
    Ok(())
}
