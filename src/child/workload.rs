//! Packer's side of HCP workload identity: an `HCP_CRED_FILE` in hcp-sdk-go's
//! format (`{"scheme": "workload", "workload": {"provider_resource_name",
//! "file": {"path", "format_type": "value"}}}`, `auth/cred_file.go`) whose
//! token file holds an identity token with the provider's audience, never
//! the runner's OIDC request token, the GitHub token or the Vault token.
//! Both files live in a private directory (0700, files 0600) removed when
//! the run ends. On GitHub, whose identity tokens expire five minutes after
//! they are issued, the token file is replaced before its token expires for
//! as long as Packer runs; GitLab's `id_tokens:` live as long as the job.

use crate::ci::Runner;
use crate::config::HcpSettings;
use crate::env::Platform;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The credential file of one run; removed (and its refresher stopped)
/// when dropped.
pub struct CredFile {
    _dir: tempfile::TempDir,
    /// `HCP_CRED_FILE` = its path.
    pub var: (String, Secret),
    refresher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for CredFile {
    fn drop(&mut self) {
        if let Some(t) = self.refresher.take() {
            t.abort();
        }
    }
}

impl CredFile {
    /// Writes the token file (`jwt`) and the credential file for
    /// `project`, and on GitHub starts replacing the token before it expires.
    pub fn write(hcp: &HcpSettings, ci: &Runner, jwt: &Secret, project: &str) -> Result<CredFile> {
        let provider = hcp
            .provider
            .as_deref()
            .ok_or_else(|| Error::input("hcp-workload-identity-provider", "not set"))?;
        let root = crate::env::private_root(&ci.env);
        let dir = crate::env::private_dir(&root, "packer-vault-hcp-")
            .map_err(|e| Error::failed(format!("cannot create a private directory in {}: {e}", root.display())))?;
        let token_path = dir.path().join("token");
        write_private(&token_path, jwt.expose().as_bytes())?;
        let cred = serde_json::json!({
            "scheme": "workload",
            "project_id": project,
            "workload": {
                "provider_resource_name": provider,
                "file": { "path": token_path.display().to_string(), "format_type": "value" },
            },
        });
        let cred_path = dir.path().join("cred_file.json");
        let text = serde_json::to_string_pretty(&cred).map_err(|e| Error::failed(e.to_string()))?;
        write_private(&cred_path, text.as_bytes())?;
        let refresher = match (
            ci.platform,
            ci.env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
            ci.env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) {
            (Platform::Github, Some(url), Some(request)) => {
                let audience = hcp.jwt_audience.clone().unwrap_or_else(|| provider.to_string());
                Some(tokio::spawn(refresh(
                    url.to_string(),
                    Secret::new(request),
                    audience,
                    token_path,
                    expiry(jwt),
                )))
            }
            _ => None,
        };
        Ok(CredFile {
            var: ("HCP_CRED_FILE".into(), Secret::new(cred_path.display().to_string())),
            _dir: dir,
            refresher,
        })
    }
}

/// Seconds from now until `jwt` expires (its `exp`), 300 when unknown.
fn expiry(jwt: &Secret) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::jwt::claims(jwt.expose())
        .and_then(|c| c.get("exp").and_then(serde_json::Value::as_u64))
        .map_or(300, |exp| exp.saturating_sub(now))
}

/// Replaces the token file at half of each token's remaining life.
async fn refresh(url: String, request: Secret, audience: String, path: PathBuf, mut left: u64) {
    loop {
        tokio::time::sleep(Duration::from_secs((left / 2).max(1))).await;
        match crate::ci::github::oidc_token(&url, &request, Some(&audience)).await {
            Ok(jwt) => {
                crate::log::hide([jwt.expose()]);
                crate::ci::github::add_masks(crate::redact::mask_patterns([jwt.expose()]).iter().map(String::as_str));
                if let Err(e) = replace(&path, jwt.expose().as_bytes()) {
                    crate::log::warn(&format!("cannot replace HCP's identity token file: {e}"));
                }
                left = expiry(&jwt);
            }
            Err(e) => {
                crate::log::warn(&format!("cannot renew HCP's identity token: {e}"));
                left = 10;
            }
        }
    }
}

/// Replaces `path` atomically with a 0600 file holding `bytes`.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    write_file(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes).map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))
}

use crate::env::write_private as write_file;
