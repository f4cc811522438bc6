//! Inputs to a validated [`Config`]: reads every source in the documented
//! order (flag, `INPUT_*`, `PACKER_VAULT_*`, config file, fallback), checks
//! every value and touches no network. Files named by inputs are read here so
//! that a missing or unreadable one is a usage error (exit 2).

mod auth;
mod resolve;

pub mod cascade;
pub mod file;
pub mod inputs;
pub mod lifecycle;
pub mod report;
mod sources;

pub use crate::cloud::azure::Settings as Azure;
pub use resolve::{check_duplicates, resolve};
pub use sources::{Sources, check_url, parse_bool};

use crate::env::Platform;
use crate::secret::Secret;
use crate::spec;
use crate::vault::Tls;
use std::path::PathBuf;

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

impl Needs {
    /// A subcommand that needs nothing more than every input checked
    /// (`exec`, `secrets`).
    pub const NONE: Needs = Needs {
        lock_write: false,
        template: false,
        lifecycle: None,
        doctor: false,
        cascade: false,
    };
}

#[cfg(test)]
mod tests;
