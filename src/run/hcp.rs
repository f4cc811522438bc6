//! HCP Packer around a build: log in early when the credentials are in the
//! environment (beside the Vault reads, so the build does not wait and bad
//! credentials show before it); after a successful build, find the version
//! by fingerprint, promote it to a channel, link it. Failures are warnings.

use crate::config::Config;
use crate::env::Env;
use crate::hcp::{self, ChannelAction, Client, Endpoints};
use crate::report;
use crate::secret::Secret;
use crate::vault::read::Read;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long to wait for a version Packer is still publishing.
pub const WAIT: Duration = Duration::from_secs(60);

/// HCP access tokens last an hour: an early login older than this logs
/// in again.
const REUSE_FOR: Duration = Duration::from_secs(45 * 60);

/// The HCP Packer registry of one run: a logged-in HCP client, where it
/// works (portal, organization, project), and with which credentials.
pub struct Registry {
    pub(super) client: Client,
    pub(super) portal: String,
    pub(super) org: String,
    pub(super) project: String,
    /// The service principal's credentials; `None` through a workload
    /// identity provider.
    credentials: Option<(Secret, Secret)>,
    since: Instant,
}

impl Registry {
    pub(super) async fn open(
        cfg: &crate::config::HcpSettings,
        env: &Env,
        client_id: Secret,
        client_secret: Secret,
    ) -> Result<Registry, String> {
        let endpoints = Endpoints::resolve(env, cfg.geography.as_deref()).map_err(|e| format!("HCP Packer: {e}"))?;
        let portal = endpoints.portal.clone();
        let since = Instant::now();
        let client = Client::login(endpoints, &client_id, &client_secret)
            .await
            .map_err(|f| format!("HCP Packer: {f}"))?;
        let (org, project) = client
            .resolve_location(cfg.organization_id.as_deref(), cfg.project_id.as_deref())
            .await
            .map_err(|f| format!("HCP Packer: {f}"))?;
        Ok(Registry {
            client,
            portal,
            org,
            project,
            credentials: Some((client_id, client_secret)),
            since,
        })
    }

    /// The registry through the workload identity provider: `jwt` (the
    /// job's identity token for it) exchanged once for an access token;
    /// organization and project from the inputs, else `caller-identity`. A
    /// refused exchange names HCP's message and the claims that usually
    /// explain it.
    /// The registry of a command that runs no Packer (promote, revoke,
    /// restore, cascade): through the workload identity provider, else with
    /// the HCP credentials among `reads` (or the runner's).
    pub(super) async fn for_command(
        cfg: &crate::config::Config,
        ci: &crate::ci::Runner,
        reads: &[crate::vault::read::Read],
    ) -> crate::error::Result<Registry> {
        use crate::error::Error;
        if cfg.hcp.provider.is_some() {
            let jwt = ci.hcp_identity_token(&cfg.hcp).await?;
            return Registry::open_workload(&cfg.hcp, &ci.env, &jwt).await;
        }
        let (id, secret) = hcp::credentials(reads.iter().flat_map(|r| r.items.iter()), &ci.env).ok_or_else(|| {
            Error::failed(
                "HCP Packer: no HCP_CLIENT_ID/HCP_CLIENT_SECRET among the secrets or in the environment: add them to the secrets spec",
            )
        })?;
        Registry::open(&cfg.hcp, &ci.env, id, secret)
            .await
            .map_err(Error::failed)
    }

    pub(super) async fn open_workload(
        cfg: &crate::config::HcpSettings,
        env: &Env,
        jwt: &Secret,
    ) -> Result<Registry, crate::error::Error> {
        use crate::error::Error;
        let provider = cfg
            .provider
            .as_deref()
            .ok_or_else(|| Error::input("hcp-workload-identity-provider", "not set"))?;
        let endpoints = Endpoints::resolve(env, cfg.geography.as_deref())?;
        let portal = endpoints.portal.clone();
        let since = Instant::now();
        let client = hcp::workload::exchange(endpoints, provider, jwt).await.map_err(|f| {
            let claims = crate::jwt::claims(jwt.expose()).unwrap_or_default();
            let shown: Vec<String> = ["iss", "aud", "sub", "repository", "project_path"]
                .iter()
                .filter_map(|k| claims.get(*k).map(|v| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string))))
                .collect();
            Error::failed(format!(
                "HCP Packer: {f}; the identity token's claims: {} (the provider's issuer, audience and conditional access must accept them)",
                shown.join(", ")
            ))
        })?;
        // The runner masks the access token too, before anything could print it.
        if crate::env::Platform::detect(env) == crate::env::Platform::Github {
            let patterns = crate::redact::mask_patterns([client.bearer().expose()]);
            crate::ci::github::add_masks(patterns.iter().map(String::as_str));
        }
        crate::log::info(&format!("HCP: exchanged the job's identity token at {provider}"));
        let (org, project) = match (&cfg.organization_id, &cfg.project_id) {
            (Some(o), Some(p)) => (o.clone(), p.clone()),
            _ => {
                let (o, p) = client
                    .caller_location()
                    .await
                    .map_err(|f| Error::failed(format!("HCP Packer: {f}")))?;
                (
                    cfg.organization_id.clone().unwrap_or(o),
                    cfg.project_id.clone().unwrap_or(p),
                )
            }
        };
        Ok(Registry {
            client,
            portal,
            org,
            project,
            credentials: None,
            since,
        })
    }

    /// Whether its access token is about to expire (a long build): a call
    /// after it needs a fresh one.
    pub(super) fn expiring(&self) -> bool {
        self.client.bearer_expiring()
    }

    fn usable_with(&self, id: &Secret, secret: &Secret) -> bool {
        self.credentials
            .as_ref()
            .is_some_and(|(i, s)| i.expose() == id.expose() && s.expose() == secret.expose())
            && self.since.elapsed() < REUSE_FOR
    }
}

/// An HCP login started before the build; stopped if never collected.
pub struct Early(JoinHandle<Result<Registry, String>>);

impl Drop for Early {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts logging in to HCP in the background when HCP Packer is on and
/// `HCP_CLIENT_ID`/`HCP_CLIENT_SECRET` are in the environment. The login is
/// used after the build only if the secrets did not bring other credentials.
pub fn start_early(cfg: &Config, env: &Env) -> Option<Early> {
    cfg.hcp.bucket.as_ref()?;
    if cfg.hcp.provider.is_some() {
        return None;
    }
    let (id, secret) = hcp::credentials(std::iter::empty(), env)?;
    let (hcp_cfg, env) = (cfg.hcp.clone(), env.clone());
    Some(Early(tokio::spawn(async move {
        let registry = Registry::open(&hcp_cfg, &env, id, secret).await;
        match &registry {
            Ok(s) => crate::log::info(&format!(
                "HCP Packer: logged in (organization {}, project {})",
                s.org, s.project
            )),
            Err(e) => crate::log::warn(&format!("{e}; trying again after the build")),
        }
        registry
    })))
}

/// Looks the version up (and promotes it when `promote`); returns what the
/// report shows and the warnings. `ready` is a registry opened before the
/// build (through the workload identity provider), used as it is.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    cfg: &Config,
    env: &Env,
    reads: &[Read],
    bucket: &str,
    fingerprint: &str,
    promote: bool,
    early: Option<Early>,
    ready: Option<Registry>,
) -> (report::HcpVersion, Vec<String>) {
    let mut out = report::HcpVersion {
        bucket: bucket.into(),
        fingerprint: fingerprint.into(),
        ..Default::default()
    };
    let mut warnings = Vec::new();
    if let Err(w) = lookup(cfg, env, reads, &mut out, promote, early, ready).await {
        warnings.push(w);
    }
    (out, warnings)
}

/// Finds the version the build produced (recording it in `out`) and,
/// when `promote`, moves the channel onto it.
async fn lookup(
    cfg: &Config,
    env: &Env,
    reads: &[Read],
    out: &mut report::HcpVersion,
    promote: bool,
    early: Option<Early>,
    ready: Option<Registry>,
) -> Result<(), String> {
    let registry = match ready {
        Some(r) => r,
        None => registry(cfg, env, reads, early).await?,
    };
    let Registry {
        client,
        portal,
        org,
        project,
        ..
    } = registry;
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
    out.artifacts = (version.builds.iter())
        .flat_map(|b| {
            (b.artifacts.iter()).map(move |a| {
                (
                    b.component_type.clone(),
                    a.region.clone(),
                    a.external_identifier.clone(),
                )
            })
        })
        .collect();
    out.labels = version.labels();
    let status = crate::hcp::versions::describe_status(&version.status, version.revoke_at.as_deref());
    crate::log::info(&format!(
        "HCP Packer version {} ({status}) in bucket `{}`",
        version.name, out.bucket
    ));
    match cfg.hcp.channel.as_deref().filter(|_| promote) {
        Some(channel) => assign(cfg, &client, (&org, &project), out, channel, &version, &status).await,
        None => Ok(()),
    }
}

/// The registry from the HCP credentials among the reads (or in the
/// environment): the one opened early when it holds the same ones.
async fn registry(cfg: &Config, env: &Env, reads: &[Read], early: Option<Early>) -> Result<Registry, String> {
    let (id, secret) = hcp::credentials(reads.iter().flat_map(|r| r.items.iter()), env).ok_or(
        "HCP Packer: no HCP_CLIENT_ID/HCP_CLIENT_SECRET among the secrets or in the environment: add them to the secrets spec",
    )?;
    let early = match early {
        Some(mut e) => (&mut e.0).await.ok().and_then(Result::ok),
        None => None,
    };
    match early.filter(|s| s.usable_with(&id, &secret)) {
        Some(s) => Ok(s),
        None => Registry::open(&cfg.hcp, env, id, secret).await,
    }
}

/// Moves `channel` onto the version (an active one only), creating it
/// when `create-channel` says so.
async fn assign(
    cfg: &Config,
    client: &hcp::Client,
    (org, project): (&str, &str),
    out: &mut report::HcpVersion,
    channel: &str,
    version: &hcp::Version,
    status: &str,
) -> Result<(), String> {
    if !version.is_active() {
        return Err(format!(
            "HCP Packer: version {} is {status}, not active: channel `{channel}` left as it was",
            version.name
        ));
    }
    let action = client
        .assign_channel(
            org,
            project,
            &out.bucket,
            channel,
            &out.fingerprint,
            cfg.hcp.create_channel,
        )
        .await
        .map_err(|f| format!("HCP Packer: {f}"))?;
    let word = match action {
        ChannelAction::Created => "created",
        ChannelAction::Updated => "updated",
        ChannelAction::Missing => {
            return Err(format!(
                "HCP Packer: channel `{channel}` does not exist in bucket `{}`: create it in HCP Packer, or set \
                 `create-channel: true` to have the build create it (the version itself is recorded)",
                out.bucket
            ));
        }
    };
    crate::log::info(&format!(
        "HCP Packer channel `{channel}` {word}: now on {}",
        version.name
    ));
    out.channel = Some((channel.into(), word.into()));
    Ok(())
}
