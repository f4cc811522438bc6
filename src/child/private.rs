//! The variables a child (Packer, or `exec`'s command) must not inherit:
//! packer-vault's own credentials. Derived from the input table and the
//! resolved configuration, so a new secret input or JWT source cannot be
//! forgotten in a hand-kept list.

use crate::ci::Runner;
use crate::ci::identity::JwtSource;
use crate::config::inputs::{INPUTS, Input, Kind};
use crate::config::{Auth, Config};

/// Inputs that hold a credential of ours: every `Secret` input, and the mTLS
/// client key (a path or an inline PEM).
fn is_credential(input: &Input) -> bool {
    input.kind == Kind::Secret || input.name == "client-key"
}

/// Every variable that can carry one of our credentials, to remove from
/// the child's environment: each credential input's `INPUT_*`,
/// `PACKER_VAULT_*` and fallback variables; the identity-token sources
/// (GitHub's OIDC request URL and token, GitLab's `id_tokens:` variable
/// actually used, `VAULT_ID_TOKEN`); the parent `VAULT_TOKEN` in token
/// mode; GitHub's file commands ([`crate::env::FILE_COMMANDS`]); and the runner's
/// `HCP_CLIENT_ID` / `HCP_CLIENT_SECRET` unless
/// HCP Packer is on (Packer itself then needs them to publish). Values
/// the secrets spec maps to these names are set again afterwards: what
/// the spec asks for always reaches the child.
pub fn removed(ci: &Runner, cfg: &Config) -> Vec<String> {
    let mut vars: Vec<String> = INPUTS
        .iter()
        .filter(|i| is_credential(i))
        .flat_map(|i| {
            [i.input_var(), i.env_var()]
                .into_iter()
                .chain(i.fallback_env.iter().map(|v| v.to_string()))
        })
        .collect();
    vars.extend(
        [
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "VAULT_ID_TOKEN",
        ]
        .map(String::from),
    );
    // GitHub's file commands: a child that could write them would set
    // `BASH_ENV` or `LD_PRELOAD` for every later step of the job, add
    // to its PATH, or forge the step's outputs and summary. Neither
    // Packer nor `exec`'s command gets them; what the step reports is
    // written by packer-vault itself.
    vars.extend(crate::env::FILE_COMMANDS.map(String::from));
    // The launcher's private directory (already removed by `main`).
    vars.push(crate::env::LAUNCH_DIR.into());
    if let Some(JwtSource::Given { var: Some(var), .. }) = &ci.jwt {
        vars.push(var.clone());
    }
    if let Auth::Token(_) = cfg.auth {
        vars.push("VAULT_TOKEN".into());
    }
    // Packer publishes with the runner's HCP credentials only when HCP
    // Packer is on and no workload identity provider replaces them.
    if cfg.hcp.bucket.is_none() || cfg.hcp.provider.is_some() {
        vars.extend(["HCP_CLIENT_ID", "HCP_CLIENT_SECRET"].map(String::from));
    }
    if cfg.hcp.provider.is_some() {
        vars.push(cfg.hcp.id_token_variable.clone());
    }
    vars.sort();
    vars.dedup();
    vars
}
