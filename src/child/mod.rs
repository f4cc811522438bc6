//! Everything a child process gets from packer-vault (Packer's phases in
//! `build` and `validate`, the command of `exec`), built in one place so
//! that one file says it all:
//!
//! | variables set | from | for |
//! |---|---|---|
//! | the spec's (`path key \| NAME`, presets) | the reads | both |
//! | `PKR_VAR_<name>` | `packer-vars` | build |
//! | `HCP_PACKER_BUCKET_NAME`, `HCP_PACKER_BUILD_FINGERPRINT`, `HCP_GEOGRAPHY` | `hcp-*` | build, with a bucket |
//! | `PACKER_VAULT_SECRETS_DIGEST`, `PACKER_VAULT_LOCK_FILE_DIGEST`, `PACKER_VAULT_GIT_SHA` | [`provenance`] | build |
//! | `VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_NAMESPACE` | `packer-vault-token`: a child token | both |
//! | the key files' paths (`GOOGLE_APPLICATION_CREDENTIALS`) | the `gcp` preset, [`key_files`] | both |
//! | `HCP_CRED_FILE` | `hcp-workload-identity-provider`, [`workload`] | build |
//! | `ARM_TENANT_ID`, `ARM_SUBSCRIPTION_ID` | the `azure` preset's inputs | both |
//! | `PACKER_GITHUB_API_TOKEN` | `packer-init-token` | `packer init` only |
//! | `CHECKPOINT_DISABLE=1`, `PACKER_NO_COLOR=1` (unless set already) | plain output, no telemetry | build |
//!
//! and removed from what it inherits: [`private::removed`], every variable
//! that can carry a credential of ours or a GitHub file command. The
//! invariant the tests hold it to: nothing of ours, no file command, and
//! nothing set that the spec did not ask for or this table does not name.

pub mod private;
pub mod provenance;
pub mod workload;

#[cfg(test)]
mod tests;

use crate::ci::Runner;
use crate::cloud::gcp::KeyFiles;
use crate::config::Config;
use crate::error::Result;
use crate::secret::Secret;
use crate::vault::read::{Delivery, Read};
use workload::CredFile;

/// What a child process receives; the files it names live as long as this.
pub struct Handoff {
    /// Set in the child's environment, in this order (a later one of the
    /// same name wins).
    pub env: Vec<(String, Secret)>,
    /// Set for `packer init` only.
    pub init_env: Vec<(String, Secret)>,
    /// Removed from the inherited environment before `env` is set.
    pub remove: Vec<String>,
    _files: KeyFiles,
    _cred_file: Option<CredFile>,
}

/// What a build hands Packer besides what `exec` hands its command.
pub struct Build<'a> {
    /// The HCP Packer fingerprint (with a bucket).
    pub fingerprint: Option<&'a str>,
    /// The report's secrets digest, for [`provenance`].
    pub secrets_digest: &'a str,
    /// The HCP credential file of a workload identity provider.
    pub cred_file: Option<CredFile>,
}

/// Writes the key files the reads deliver as files (the `gcp` preset's
/// key), in a private directory removed when the value is dropped.
pub fn key_files(reads: &[Read], ci: &Runner) -> Result<KeyFiles> {
    let files = (reads.iter().flat_map(|r| r.items.iter()))
        .filter(|i| i.delivery == Delivery::File)
        .map(|i| (i.env.as_str(), &i.value));
    KeyFiles::write(files, &ci.env)
}

impl Handoff {
    /// For `exec`'s command: the spec's variables, the child token's
    /// (`token_vars`, empty without `packer-vault-token`), the key files'
    /// and Azure's.
    pub fn exec(
        cfg: &Config,
        ci: &Runner,
        reads: &[Read],
        token_vars: &[(String, Secret)],
        files: KeyFiles,
    ) -> Handoff {
        Handoff::new(cfg, ci, reads, Vec::new(), token_vars, files, None)
    }

    /// For Packer's phases: what [`Handoff::exec`] hands over, plus
    /// `packer-vars`, HCP Packer's variables, [`provenance`], the HCP
    /// credential file, and the GitHub token for `packer init`.
    pub fn build(
        cfg: &Config,
        ci: &Runner,
        reads: &[Read],
        token_vars: &[(String, Secret)],
        files: KeyFiles,
        build: Build<'_>,
    ) -> Handoff {
        let mut vars: Vec<(String, Secret)> = (cfg.packer_vars.iter())
            .map(|(k, v)| (format!("PKR_VAR_{k}"), Secret::new(v.clone())))
            .collect();
        if let (Some(bucket), Some(fp)) = (&cfg.hcp.bucket, build.fingerprint) {
            vars.push(("HCP_PACKER_BUCKET_NAME".into(), Secret::new(bucket.clone())));
            vars.push(("HCP_PACKER_BUILD_FINGERPRINT".into(), Secret::new(fp)));
            // Packer's hcp-sdk-go publishes where we look the version up.
            if let Some(g) = &cfg.hcp.geography {
                vars.push(("HCP_GEOGRAPHY".into(), Secret::new(g.clone())));
            }
        }
        vars.extend(provenance::variables(cfg, &ci.env, build.secrets_digest));
        let mut handoff = Handoff::new(cfg, ci, reads, vars, token_vars, files, build.cred_file);
        // Plain output, and no call to HashiCorp's checkpoint service.
        for (k, v) in [("CHECKPOINT_DISABLE", "1"), ("PACKER_NO_COLOR", "1")] {
            if !handoff.env.iter().any(|(n, _)| n == k) {
                handoff.env.push((k.into(), Secret::new(v)));
            }
        }
        handoff.init_env = (cfg.github_token.iter())
            .filter(|_| cfg.packer_init_token)
            .map(|t| ("PACKER_GITHUB_API_TOKEN".to_string(), t.clone()))
            .collect();
        handoff
    }

    fn new(
        cfg: &Config,
        ci: &Runner,
        reads: &[Read],
        build_vars: Vec<(String, Secret)>,
        token_vars: &[(String, Secret)],
        files: KeyFiles,
        cred_file: Option<CredFile>,
    ) -> Handoff {
        let mut env = crate::vault::read::environment(reads);
        env.extend(build_vars);
        env.extend(token_vars.iter().cloned());
        env.extend(files.vars.iter().cloned());
        env.extend(cred_file.iter().map(|c| c.var.clone()));
        env.extend(crate::cloud::azure::variables(&cfg.requests, &cfg.azure));
        Handoff {
            env,
            init_env: Vec::new(),
            remove: private::removed(ci, cfg),
            _files: files,
            _cred_file: cred_file,
        }
    }
}
