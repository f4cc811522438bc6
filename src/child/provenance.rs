//! What lets an image be traced back to its commit and secret versions:
//! variables Packer's template can put in its build labels.

use crate::config::Config;
use crate::env::Env;
use crate::secret::Secret;

/// What lets an image be traced back to its commit and secret versions,
/// for `hcp_packer_registry { build_labels = { ... = env("...") } }`:
/// `PACKER_VAULT_SECRETS_DIGEST` (the report's secrets-digest),
/// `PACKER_VAULT_LOCK_FILE_DIGEST` (sha256 of `packer-vault.lock`, when one
/// is used) and `PACKER_VAULT_GIT_SHA` (the CI's commit, else the working
/// directory's `HEAD`).
pub fn variables(cfg: &Config, env: &Env, secrets_digest: &str) -> Vec<(String, Secret)> {
    let mut vars = vec![("PACKER_VAULT_SECRETS_DIGEST".to_string(), Secret::new(secrets_digest))];
    if let Some(bytes) = cfg.lock_file.as_ref().and_then(|p| std::fs::read(p).ok()) {
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        vars.push((
            "PACKER_VAULT_LOCK_FILE_DIGEST".into(),
            Secret::new(format!("sha256:{hex}")),
        ));
    }
    let sha = env
        .get("GITHUB_SHA")
        .or_else(|| env.get("CI_COMMIT_SHA"))
        .map(str::to_string)
        .or_else(|| git_head(&cfg.working_directory));
    if let Some(sha) = sha.filter(|s| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit())) {
        vars.push(("PACKER_VAULT_GIT_SHA".into(), Secret::new(sha)));
    }
    vars
}

/// `git rev-parse HEAD` in `dir`, when it is a git checkout.
fn git_head(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
