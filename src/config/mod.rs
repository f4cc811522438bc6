//! Inputs to a validated [`Config`]: reads every source in the documented
//! order (flag, `INPUT_*`, `PACKER_VAULT_*`, config file, fallback), checks
//! every value and touches no network. Files named by inputs are read here so
//! that a missing or unreadable one is a usage error (exit 2).

mod auth;

pub mod cascade;
pub mod file;
pub mod inputs;
pub mod lifecycle;
pub mod report;
mod sources;

use crate::env::Env;
use auth::resolve_auth;
pub use sources::{Sources, check_url, parse_bool};
use sources::{identity, name_input, pem_input, policies};

use crate::env::Platform;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::spec;
use crate::vault::Tls;
use inputs::INPUTS;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How the binary authenticates to Vault.
#[derive(Debug)]
pub enum Auth {
    /// JWT/OIDC login on the auth mount `path` with `role`.
    Jwt {
        /// Auth mount path (`jwt`).
        path: String,
        /// Role name.
        role: String,
        /// What the inputs say about the JWT.
        identity: IdentityInputs,
    },
    /// A Vault token given in `VAULT_TOKEN` (local use).
    Token(Secret),
    /// No Vault at all: no secret to read, and HCP through a workload
    /// identity provider.
    None,
}

/// What the inputs say about the identity token of a JWT login. Which
/// token that is on this CI ([`crate::ci::identity::JwtSource`]) is decided
/// by `ci`, from these and the platform's variables.
#[derive(Debug, Default)]
pub struct IdentityInputs {
    /// `jwt-file`: its name and the JWT it holds (checked for shape).
    pub file: Option<(String, Secret)>,
    /// `jwt-audience` (GitHub's OIDC endpoint).
    pub audience: Option<String>,
    /// `id-token-variable` (GitLab's `id_tokens:` variable), when set.
    pub variable: Option<String>,
}

/// When to post the PR/MR comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentMode {
    /// On a PR/MR only.
    Auto,
    /// Whenever a PR/MR can be found.
    Always,
    /// Never.
    Never,
    /// Only when the run failed.
    OnFailure,
}

/// HCP Packer settings.
#[derive(Debug, Default, Clone)]
pub struct HcpSettings {
    /// Bucket name; `None` disables HCP Packer.
    pub bucket: Option<String>,
    /// Channel to promote to after success.
    pub channel: Option<String>,
    /// Build fingerprint (computed from the platform when not given).
    pub fingerprint: Option<String>,
    /// Organization id.
    pub organization_id: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
    /// `hcp-workload-identity-provider`: HCP through the job's identity
    /// token instead of a service principal's secret.
    pub provider: Option<String>,
    /// `hcp-jwt-audience`: the audience asked for the provider's token
    /// (GitHub); `None`: the provider's resource name.
    pub jwt_audience: Option<String>,
    /// `hcp-id-token-variable`: GitLab's `id_tokens:` variable for it.
    pub id_token_variable: String,
    /// `hcp-geography`: `us` or `eu` (`None`: HCP's default, the US).
    pub geography: Option<String>,
    /// `create-channel`: a missing `hcp-channel` (or promote's `channel`)
    /// is created; otherwise it is an error. One rule for build and promote.
    pub create_channel: bool,
}

/// What the `azure` preset needs besides the secret.
#[derive(Debug, Clone, Default)]
pub struct Azure {
    /// `azure-tenant-id`: `ARM_TENANT_ID`, and the tenant of the wait.
    pub tenant: Option<String>,
    /// `azure-subscription-id`: `ARM_SUBSCRIPTION_ID`.
    pub subscription: Option<String>,
    /// `azure-wait`: how long to wait for a new secret to be accepted.
    pub wait: std::time::Duration,
}

/// A tenant or subscription id: a GUID or a domain name, safe in a URL path.
fn azure_id(src: &Sources, name: &str) -> Result<Option<String>> {
    let v = src.text(name)?;
    if let Some(v) = &v
        && !(v.len() <= 128 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)))
    {
        return Err(Error::input(
            name,
            format!(
                "`{}` is not a tenant or subscription id (a GUID or a domain)",
                v.escape_debug()
            ),
        ));
    }
    Ok(v)
}

/// The validated configuration of one run.
#[derive(Debug)]
pub struct Config {
    /// Which CI this is.
    pub platform: Platform,
    /// Vault address, without trailing slash.
    pub vault_addr: String,
    /// Enterprise namespace.
    pub vault_namespace: Option<String>,
    /// Login method.
    pub auth: Auth,
    /// TLS settings.
    pub tls: Tls,
    /// Vault reads, one per distinct path.
    pub requests: Vec<spec::Request>,
    /// Template file or directory.
    pub template: PathBuf,
    /// Where Packer runs.
    pub working_directory: PathBuf,
    /// Exact Packer version to install.
    pub packer_version: Option<String>,
    /// Extra `packer build` arguments.
    pub packer_args: Vec<String>,
    /// `PKR_VAR_*` variables.
    pub packer_vars: Vec<(String, String)>,
    /// HCP Packer.
    pub hcp: HcpSettings,
    /// Comment mode.
    pub comment: CommentMode,
    /// `comment-author`: the login the GitHub token comments as.
    pub comment_author: Option<String>,
    /// Token for the GitHub PR comment.
    pub github_token: Option<Secret>,
    /// Token for the GitLab MR note.
    pub gitlab_token: Option<Secret>,
    /// Write the job summary.
    pub summary: bool,
    /// Export secrets to later steps (then the token is kept).
    pub export_env: bool,
    /// The `azure` preset's tenant, subscription and how long to wait for
    /// Azure AD to accept a new secret.
    pub azure: Azure,
    /// `packer-vault-token`: Packer gets `VAULT_ADDR` and a child token.
    pub packer_vault_token: bool,
    /// `packer-init-token`: `packer init` gets the GitHub token as
    /// `PACKER_GITHUB_API_TOKEN` (never the other phases).
    pub packer_init_token: bool,
    /// `packer-vault-token-policies`: that token's policies (`None`: the login's).
    pub packer_vault_token_policies: Option<Vec<String>>,
    /// Renew while the command runs.
    pub renew: bool,
    /// Revoke the token at exit.
    pub revoke: bool,
    /// Lock file to honour.
    pub lock_file: Option<PathBuf>,
    /// `report-json`: where to write the JSON report.
    pub report_json: Option<PathBuf>,
    /// `reports`: the JSON reports `report` fans in (paths or globs).
    pub reports: Vec<String>,
    /// Where `packer-vault lock` reads and writes the lock.
    pub lock_path: PathBuf,
    /// Fail on KV secrets missing from the lock.
    pub locked: bool,
    /// Selected environment.
    pub environment: Option<String>,
    /// The inputs of `promote`, `revoke` and `restore`.
    pub lifecycle: Option<lifecycle::Lifecycle>,
    /// The cascade's inputs, for `cascade`.
    pub cascade: Option<cascade::Cascade>,
}

/// What the subcommand needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The subcommand writes the lock file (so it may not exist yet).
    pub lock_write: bool,
    /// The subcommand runs Packer on `template` (build, validate): it must
    /// exist before anything is sent.
    pub template: bool,
    /// The lifecycle command (promote, revoke, restore), whose inputs are
    /// checked too.
    pub lifecycle: Option<lifecycle::Op>,
    /// `doctor`: a missing Vault address is an item of its checklist, not a
    /// usage error.
    pub doctor: bool,
    /// `cascade`: its inputs are checked too.
    pub cascade: bool,
}

/// Resolves and validates every input. `flags` holds the inputs given as CLI
/// flags (by name); `env` the process environment.
pub fn resolve(flags: &BTreeMap<String, String>, env: &Env, needs: Needs) -> Result<Config> {
    for input in INPUTS {
        let vars = [input.input_var(), input.env_var()];
        if let Some(var) = vars
            .iter()
            .map(String::as_str)
            .chain(input.fallback_env.iter().copied())
            .find(|v| env.is_invalid(v))
        {
            return Err(Error::input(input.name, format!("{var} is not valid UTF-8")));
        }
    }
    let src = Sources::new(flags, env)?;
    // Check every input that is set, even ones this subcommand ignores.
    for input in INPUTS {
        src.text(input.name)?;
    }
    let platform = Platform::detect(env);

    let vault_addr = src.text("vault-addr")?.map(|a| a.trim_end_matches('/').to_string());
    let vault_namespace = match src.text("vault-namespace")? {
        Some(ns) => Some(crate::namespace::check(&ns).map_err(|e| Error::input("vault-namespace", e))?),
        None => None,
    };

    let mut requests = match src.text("secrets")? {
        Some(text) => spec::parse(&text).map_err(|e| Error::input("secrets", e))?,
        None => Vec::new(),
    };
    if let Some(list) = src.file.as_ref().and_then(|f| f.secrets_list()) {
        let path = src.file.as_ref().map(|f| f.path.clone()).unwrap_or_default();
        let entries: Vec<spec::LongEntry> =
            serde_json::from_value(list.clone()).map_err(|e| Error::input("secrets", format!("{path}: {e}")))?;
        requests.extend(spec::from_long(&entries).map_err(|e| Error::input("secrets", format!("{path}: {e}")))?);
    }
    spec::check_duplicates(&requests).map_err(|e| Error::input("secrets", e))?;
    // Vault is needed unless there is nothing to read from it and HCP comes
    // through a workload identity provider: then nothing logs in to Vault.
    let no_vault = vault_addr.is_none()
        && requests.is_empty()
        && src.text("hcp-workload-identity-provider")?.is_some()
        && !needs.lock_write;
    let (vault_addr, auth) = match vault_addr {
        None if no_vault || needs.doctor => (String::new(), Auth::None),
        None => return Err(Error::input("vault-addr", "not set (set it, or VAULT_ADDR)")),
        Some(addr) => (addr, resolve_auth(&src, env, platform)?),
    };

    let tls = Tls {
        ca_pem: pem_input(&src, "ca-cert")?.map(|p| p.into_bytes()),
        identity_pem: identity(&src)?,
        skip_verify: src.flag("tls-skip-verify", false)?,
    };
    if let Some(ca) = &tls.ca_pem {
        reqwest::Certificate::from_pem_bundle(ca)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::input("ca-cert", "holds no PEM certificate"))?;
    }

    let packer_args = match src.text("packer-args")? {
        Some(a) => shell_words::split(&a)
            .map_err(|e| Error::input("packer-args", format!("cannot split into arguments: {e}")))?,
        None => Vec::new(),
    };
    let packer_vars = match src.text("packer-vars")? {
        Some(v) => parse_vars(&v).map_err(|e| Error::input("packer-vars", e))?,
        None => Vec::new(),
    };
    if let Some(v) = src.text("packer-version")? {
        let ok = v.split('.').count() == 3
            && v.split(['.', '-'])
                .take(3)
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(Error::input(
                "packer-version",
                format!("`{v}` is not an exact version like 1.11.2"),
            ));
        }
    }

    let comment = match src.text("comment")?.as_deref() {
        Some("always") => CommentMode::Always,
        Some("never") => CommentMode::Never,
        Some("on-failure") => CommentMode::OnFailure,
        _ => CommentMode::Auto,
    };
    let hcp = HcpSettings {
        bucket: name_input(&src, "hcp-bucket")?,
        channel: name_input(&src, "hcp-channel")?,
        create_channel: src.flag("create-channel", false)?,
        geography: src.text("hcp-geography")?,
        fingerprint: match name_input(&src, "hcp-fingerprint")? {
            Some(fp) => match crate::hcp::check_fingerprint(&fp) {
                Ok(()) => Some(fp),
                Err(why) => return Err(Error::input("hcp-fingerprint", format!("`{fp}` {why}"))),
            },
            None => None,
        },
        organization_id: name_input(&src, "hcp-organization-id")?,
        project_id: name_input(&src, "hcp-project-id")?,
        provider: match src.text("hcp-workload-identity-provider")? {
            Some(p) => Some(
                crate::hcp::workload::check_provider(&p)
                    .map_err(|e| Error::input("hcp-workload-identity-provider", e))?,
            ),
            None => None,
        },
        jwt_audience: src.text("hcp-jwt-audience")?,
        id_token_variable: match src.text("hcp-id-token-variable")? {
            Some(v) if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => v,
            Some(v) => {
                return Err(Error::input(
                    "hcp-id-token-variable",
                    format!("`{}` is not a variable name", v.escape_debug()),
                ));
            }
            None => "HCP_ID_TOKEN".into(),
        },
    };
    if hcp.channel.is_some() && hcp.bucket.is_none() {
        return Err(Error::input("hcp-channel", "needs `hcp-bucket`"));
    }

    // The lock lives beside the config file (or in the working directory of
    // the run when there is none), unless `lock-file` names it.
    let explicit_lock = src.text("lock-file")?.map(PathBuf::from);
    let lock_path = explicit_lock.clone().unwrap_or_else(|| {
        let dir = src
            .file
            .as_ref()
            .and_then(|f| Path::new(&f.path).parent().map(Path::to_path_buf))
            .unwrap_or_default();
        dir.join(crate::lockfile::FILE_NAME)
    });
    let lock_file = match explicit_lock {
        Some(p) if !p.is_file() && !needs.lock_write => {
            return Err(Error::input("lock-file", format!("{}: no such file", p.display())));
        }
        _ => Some(lock_path.clone()).filter(|p| p.is_file()),
    };
    let working_directory = PathBuf::from(src.text("working-directory")?.unwrap_or_else(|| ".".into()));
    if !working_directory.is_dir() {
        return Err(Error::input(
            "working-directory",
            format!("{}: no such directory", working_directory.display()),
        ));
    }

    let cascade = match needs.cascade {
        true => Some(cascade::resolve(&src, hcp.bucket.as_deref())?),
        false => None,
    };
    let lifecycle = needs
        .lifecycle
        .map(|op| lifecycle::resolve(&src, op, hcp.bucket.as_deref()))
        .transpose()?;
    let template = PathBuf::from(src.text("template")?.unwrap_or_else(|| ".".into()));
    // Packer runs in the working directory, so a relative template is there.
    let template_at = working_directory.join(&template);
    if needs.template && !template_at.exists() {
        return Err(Error::input(
            "template",
            format!(
                "`{}`: no such file or directory (in the working directory `{}`)",
                template.display(),
                working_directory.display()
            ),
        ));
    }

    Ok(Config {
        platform,
        vault_addr,
        vault_namespace,
        auth,
        tls,
        requests,
        template,
        working_directory,
        packer_version: src.text("packer-version")?,
        packer_args,
        packer_vars,
        hcp,
        comment,
        github_token: src.text("github-token")?.map(Secret::new),
        comment_author: src.text("comment-author")?,
        gitlab_token: src.text("gitlab-token")?.map(Secret::new),
        summary: src.flag("summary", true)?,
        export_env: src.flag("export-env", false)?,
        azure: Azure {
            tenant: azure_id(&src, "azure-tenant-id")?,
            subscription: azure_id(&src, "azure-subscription-id")?,
            wait: match src.text("azure-wait")? {
                None => std::time::Duration::from_secs(300),
                Some(v) => {
                    std::time::Duration::from_secs(v.parse::<u64>().ok().filter(|s| *s <= 3600).ok_or_else(|| {
                        Error::input("azure-wait", format!("`{v}` is not a number of seconds from 0 to 3600"))
                    })?)
                }
            },
        },
        packer_vault_token: src.flag("packer-vault-token", false)?,
        packer_init_token: src.flag("packer-init-token", platform == Platform::Github)?,
        report_json: src.text("report-json")?.map(PathBuf::from),
        reports: src
            .text("reports")?
            .map(|t| {
                t.lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        packer_vault_token_policies: policies(&src)?,
        renew: src.flag("renew", true)?,
        revoke: src.flag("revoke", true)?,
        lock_file,
        lock_path,
        locked: src.flag("locked", false)?,
        environment: src.text("environment")?,
        lifecycle,
        cascade,
    })
}

fn parse_vars(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected NAME=VALUE", i + 1))?;
        let name = name.trim();
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "line {}: `{}` is not a Packer variable name",
                i + 1,
                name.escape_debug()
            ));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("line {}: `{name}` is given twice", i + 1));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
