//! `packer-vault secrets --format F`.

use super::step;
use crate::ci::Runner;
use crate::config::Config;
use crate::env::Platform;
use crate::error::{Error, Result};
use crate::export::{self, Format};
use crate::session::Session;

/// `packer-vault secrets --format F`: exports the secrets. The token is kept
/// when a secret is leased (revoking it would end the lease) or with
/// `export-env`; otherwise revoked.
pub async fn secrets(cfg: Config, ci: Runner, format: Format, output: Option<std::path::PathBuf>) -> i32 {
    let (cancel, session) = match super::start(&cfg, &ci).await {
        Ok(started) => started,
        Err(stop) => return stop.exit_code(),
    };
    let (code, leased) = match step(&cancel, secrets_in(&cfg, &ci, &session, format, output.as_deref())).await {
        Ok(leased) => (0, leased),
        Err(stop) => (stop.exit_code(), false),
    };
    if leased {
        crate::log::info("some secrets are leased: keeping the token so their leases stay valid until they expire");
    }
    session.close(&cfg, leased || cfg.export_env).await;
    code
}

async fn secrets_in(
    cfg: &Config,
    ci: &Runner,
    session: &Session,
    format: Format,
    output: Option<&std::path::Path>,
) -> Result<bool> {
    let (reads, _) = session.read(cfg, ci).await?;
    let text = export::render(format, &reads)?;
    match (format, output) {
        (Format::Github, _) => {
            if ci.platform != Platform::Github {
                return Err(Error::Usage(
                    "--format github writes GITHUB_ENV: run it in a GitHub Actions job".into(),
                ));
            }
            export::append_file(&ci.env, "GITHUB_ENV", &text)?;
            crate::log::info(&format!(
                "wrote {} variables to GITHUB_ENV",
                export::pairs(&reads).len()
            ));
        }
        (Format::Shell | Format::Json, Some(path)) => {
            crate::env::write_private(path, text.as_bytes())
                .map_err(|e| Error::input("output", format!("{}: {e}", path.display())))?;
            crate::log::info(&format!(
                "wrote {} variables to {} (0600)",
                export::pairs(&reads).len(),
                path.display()
            ));
        }
        (Format::Shell | Format::Json, None) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::failed(format!("cannot write stdout: {e}")))?;
        }
    }
    Ok(reads.iter().any(|r| r.lease_id.is_some()))
}
