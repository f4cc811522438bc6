//! The table itself: every input's name, fallbacks, kind and meaning.

use super::{AUTH_METHODS, COMMENT_MODES, Input, Kind};

macro_rules! input {
    ($name:literal, [$($env:literal),*], $fallback:literal, $kind:expr, $doc:literal) => {
        Input { name: $name, fallback_env: &[$($env),*], fallback: $fallback, kind: $kind, doc: $doc }
    };
}

/// Every input, in documentation order (README.md's table is made from it).
pub const INPUTS: &[Input] = &[
    input!(
        "vault-addr",
        ["VAULT_ADDR", "VAULT_SERVER_URL"],
        "`VAULT_ADDR`, `VAULT_SERVER_URL`",
        Kind::Url,
        "Vault (or OpenBao) address"
    ),
    input!(
        "vault-namespace",
        ["VAULT_NAMESPACE"],
        "`VAULT_NAMESPACE`",
        Kind::Text,
        "namespace of the login, the reads, renewal and revocation (`admin` on HCP Vault Dedicated; `admin/team-a` nests)"
    ),
    input!(
        "auth-method",
        [],
        "`jwt` on CI, `token` locally when `VAULT_TOKEN` is set",
        Kind::Choice(AUTH_METHODS),
        "`jwt` or `token`"
    ),
    input!(
        "auth-path",
        ["VAULT_AUTH_PATH"],
        "`VAULT_AUTH_PATH`, else `jwt`",
        Kind::Text,
        "mount of the JWT auth method"
    ),
    input!(
        "role",
        ["VAULT_AUTH_ROLE"],
        "`VAULT_AUTH_ROLE`",
        Kind::Text,
        "Vault role to log in with"
    ),
    input!(
        "jwt-audience",
        [],
        "none (GitHub's default audience)",
        Kind::Text,
        "the identity token's `aud`: asked of GitHub's OIDC endpoint; on GitLab the template's `id_tokens` aud"
    ),
    input!(
        "id-token-variable",
        [],
        "`VAULT_ID_TOKEN`",
        Kind::Text,
        "GitLab: the `id_tokens:` variable that holds the JWT"
    ),
    input!("jwt-file", [], "none", Kind::Path, "local: read the JWT from this file"),
    input!(
        "ca-cert",
        ["VAULT_CACERT"],
        "`VAULT_CACERT`",
        Kind::Multiline,
        "PEM bundle (path or inline PEM) to trust"
    ),
    input!(
        "client-cert",
        ["VAULT_CLIENT_CERT"],
        "`VAULT_CLIENT_CERT`",
        Kind::Multiline,
        "mTLS client certificate (path or inline PEM)"
    ),
    input!(
        "client-key",
        ["VAULT_CLIENT_KEY"],
        "`VAULT_CLIENT_KEY`",
        Kind::Multiline,
        "mTLS client key (path or inline PEM)"
    ),
    input!(
        "tls-skip-verify",
        [],
        "`false`",
        Kind::Bool,
        "skip TLS verification (never the default; warns loudly)"
    ),
    input!("secrets", [], "none", Kind::Multiline, "the secrets spec (multi-line)"),
    input!(
        "config",
        [],
        "`.packer-vault.yml` when present",
        Kind::Path,
        "YAML config file holding any of these inputs"
    ),
    input!(
        "environment",
        ["CI_ENVIRONMENT_NAME"],
        "GitLab `CI_ENVIRONMENT_NAME`",
        Kind::Text,
        "picks `environments.<name>` overrides in the config file"
    ),
    input!("template", [], "`.`", Kind::Path, "Packer template file or directory"),
    input!("working-directory", [], "`.`", Kind::Path, "where Packer runs"),
    input!(
        "packer-version",
        [],
        "use `packer` on PATH",
        Kind::Text,
        "install exactly this Packer version, verified (SHA256SUMS + signature)"
    ),
    input!(
        "packer-args",
        [],
        "none",
        Kind::Text,
        "extra arguments for `packer build`"
    ),
    input!(
        "packer-vars",
        [],
        "none",
        Kind::Multiline,
        "`NAME=VALUE` lines passed as `PKR_VAR_NAME`"
    ),
    input!(
        "hcp-bucket",
        ["HCP_PACKER_BUCKET_NAME"],
        "`HCP_PACKER_BUCKET_NAME`",
        Kind::Text,
        "enables HCP Packer: sets the bucket for Packer and the lookup"
    ),
    input!(
        "hcp-channel",
        [],
        "none",
        Kind::Text,
        "after success, assign the new version to this channel"
    ),
    input!(
        "hcp-fingerprint",
        [],
        "`<commit sha 12>-<run id>-<attempt>`",
        Kind::Text,
        "`HCP_PACKER_BUILD_FINGERPRINT` for Packer"
    ),
    input!(
        "hcp-organization-id",
        ["HCP_ORGANIZATION_ID"],
        "`HCP_ORGANIZATION_ID`, else resolved",
        Kind::Text,
        "HCP organization"
    ),
    input!(
        "hcp-project-id",
        ["HCP_PROJECT_ID"],
        "`HCP_PROJECT_ID`, else resolved",
        Kind::Text,
        "HCP project"
    ),
    input!(
        "hcp-geography",
        ["HCP_GEOGRAPHY"],
        "`HCP_GEOGRAPHY`, else `us`",
        Kind::Choice(&["us", "eu"]),
        "HCP's geography: `eu` selects HCP's EU API, auth and portal hosts (explicit `HCP_API_ADDRESS`, `HCP_AUTH_URL`, `HCP_PORTAL_URL` still win); Packer gets it too"
    ),
    input!(
        "hcp-workload-identity-provider",
        ["HCP_WORKLOAD_IDENTITY_PROVIDER"],
        "`HCP_WORKLOAD_IDENTITY_PROVIDER`",
        Kind::Text,
        "the HCP workload identity provider (`iam/project/<project>/service-principal/<sp>/workload-identity-provider/<name>`): HCP calls and Packer use the job's identity token, no HCP secret"
    ),
    input!(
        "hcp-jwt-audience",
        [],
        "the provider's resource name",
        Kind::Text,
        "the audience of the identity token asked for the provider (GitHub); default the provider's resource name"
    ),
    input!(
        "hcp-id-token-variable",
        [],
        "`HCP_ID_TOKEN`",
        Kind::Text,
        "GitLab: the `id_tokens:` variable whose `aud` is the provider"
    ),
    input!(
        "comment",
        [],
        "`auto`",
        Kind::Choice(COMMENT_MODES),
        "`auto` (on PR/MR), `always`, `never`, `on-failure`"
    ),
    input!(
        "github-token",
        ["GITHUB_TOKEN"],
        "`GITHUB_TOKEN` (the action passes `github.token`)",
        Kind::Secret,
        "token for the PR comment"
    ),
    input!(
        "comment-author",
        [],
        "`GET /user`, else `github-actions[bot]`",
        Kind::Text,
        "GitHub: the login the token comments as, when `GET /user` cannot say (a GitHub App's installation token: `<app>[bot]`)"
    ),
    input!(
        "gitlab-token",
        [],
        "`PACKER_VAULT_GITLAB_TOKEN`",
        Kind::Secret,
        "project access token for the MR note (CI_JOB_TOKEN cannot post notes)"
    ),
    input!("summary", [], "`true`", Kind::Bool, "write the job summary"),
    input!(
        "export-env",
        [],
        "`false`",
        Kind::Bool,
        "also export secrets to later steps (GitHub `GITHUB_ENV`); then the token is not revoked"
    ),
    input!(
        "azure-tenant-id",
        ["ARM_TENANT_ID", "AZURE_TENANT_ID"],
        "`ARM_TENANT_ID`, `AZURE_TENANT_ID`",
        Kind::Text,
        "Azure tenant for the `azure` preset: `ARM_TENANT_ID` for the command, and the tenant asked whether a new client secret is accepted yet"
    ),
    input!(
        "azure-subscription-id",
        ["ARM_SUBSCRIPTION_ID"],
        "`ARM_SUBSCRIPTION_ID`",
        Kind::Text,
        "Azure subscription for the `azure` preset: `ARM_SUBSCRIPTION_ID` for the command"
    ),
    input!(
        "azure-wait",
        [],
        "`300`",
        Kind::Text,
        "seconds to wait for Azure AD to accept a new client secret before the command starts (`0`: do not wait)"
    ),
    input!(
        "packer-vault-token",
        [],
        "`false`",
        Kind::Bool,
        "give Packer VAULT_ADDR and a child token (never the run's) for templates that use `vault()`, `vault_aws_engine`, `vault_gcp_oauth_engine`; revoked at exit"
    ),
    input!(
        "packer-vault-token-policies",
        [],
        "the login's policies",
        Kind::Text,
        "policies of Packer's child token, comma-separated"
    ),
    input!(
        "packer-init-token",
        [],
        "`true` on GitHub",
        Kind::Bool,
        "give `packer init` (only) the job's GitHub token as `PACKER_GITHUB_API_TOKEN`, against GitHub's anonymous rate limit"
    ),
    input!(
        "renew",
        [],
        "`true`",
        Kind::Bool,
        "renew the token and renewable leases while the command runs"
    ),
    input!(
        "revoke",
        [],
        "`true`",
        Kind::Bool,
        "revoke the token (and so its leases) at exit"
    ),
    input!(
        "report-json",
        [],
        "none",
        Kind::Path,
        "also write the run's report as JSON to this file (for `packer-vault report`), on failure too"
    ),
    input!(
        "reports",
        [],
        "none",
        Kind::Multiline,
        "`report`: the JSON reports to fan in, one path or glob (`*`, `?` in the file name) a line"
    ),
    input!(
        "lock-file",
        [],
        "`packer-vault.lock` when present",
        Kind::Path,
        "the secret version lock to honour"
    ),
    input!(
        "locked",
        [],
        "`false`",
        Kind::Bool,
        "fail when a KV secret of the spec is not pinned by the lock"
    ),
    input!(
        "channel",
        [],
        "none",
        Kind::Text,
        "promote: the HCP Packer channel to assign; cascade: the golden image's channel that moved"
    ),
    input!(
        "from-channel",
        [],
        "none",
        Kind::Text,
        "promote, revoke, restore: the version this channel points at now"
    ),
    input!(
        "version-fingerprint",
        [],
        "none",
        Kind::Text,
        "promote, revoke, restore: the version with this fingerprint"
    ),
    input!(
        "version-id",
        [],
        "none",
        Kind::Text,
        "promote, revoke, restore: the version with this id"
    ),
    input!(
        "create-channel",
        [],
        "`false`",
        Kind::Bool,
        "promote and build: create `channel` (`hcp-channel`) when it does not exist; otherwise a missing channel is an error"
    ),
    input!(
        "require-label",
        [],
        "none",
        Kind::Multiline,
        "promote: `KEY=VALUE` lines (or repeated flags) every build of the version must carry"
    ),
    input!(
        "dry-run",
        [],
        "`false`",
        Kind::Bool,
        "promote, revoke, restore, cascade: show what would change (the cascade: its plan), change nothing"
    ),
    input!(
        "reason",
        [],
        "none",
        Kind::Text,
        "revoke: the revocation message (required)"
    ),
    input!(
        "revoke-at",
        [],
        "now",
        Kind::Text,
        "revoke: RFC 3339 time to schedule the revocation at"
    ),
    input!(
        "skip-descendants",
        [],
        "`false`",
        Kind::Bool,
        "revoke: do not revoke the version's descendants"
    ),
    input!(
        "rollback-channels",
        [],
        "`true`",
        Kind::Bool,
        "revoke: `true` (HCP's default): channels on the version roll back to their last valid version; `false`: they are left alone"
    ),
    input!(
        "force",
        [],
        "`false`",
        Kind::Bool,
        "revoke: revoke even while channels point at the version"
    ),
    input!(
        "cascade-parallel",
        [],
        "`4`",
        Kind::Text,
        "cascade: rebuilds running at once (a sliding window, 1 to 256)"
    ),
    input!(
        "cascade-max-failures",
        [],
        "`1`",
        Kind::Text,
        "cascade: after this many failed or timed-out rebuilds, start no more"
    ),
    input!(
        "cascade-timeout",
        [],
        "`21600`",
        Kind::Text,
        "cascade: seconds a rebuild may take before it counts as failed (and is cancelled)"
    ),
    input!(
        "cascade-poll",
        [],
        "`30`",
        Kind::Text,
        "cascade: seconds between two looks at the running rebuilds"
    ),
    input!(
        "cascade-targets",
        [],
        "the child bucket's label `packer-vault-rebuild`",
        Kind::Multiline,
        "cascade: `BUCKET=TARGET` lines (`github:OWNER/REPO:WORKFLOW@REF`, `gitlab:PROJECT@REF`), which win over labels"
    ),
    input!(
        "cascade-undetermined",
        [],
        "`false`",
        Kind::Bool,
        "cascade: also rebuild children whose status HCP cannot determine"
    ),
    input!(
        "cascade-inputs",
        [],
        "none",
        Kind::Multiline,
        "cascade, GitHub: `NAME=VALUE` workflow inputs; VALUE may hold `{bucket}`, `{channel}`, `{fingerprint}`, `{version_id}`"
    ),
    input!(
        "cascade-token",
        [],
        "`github-token`; GitLab `CI_JOB_TOKEN`",
        Kind::Secret,
        "cascade: a token that may start the targets' runs (GitHub: an App installation token; GitLab: a pipeline trigger token); or a spec entry named `PACKER_VAULT_CASCADE_TOKEN`"
    ),
];
