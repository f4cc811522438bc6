//! The subcommands, each reading like INTERFACE.md's "What one run does":
//! platform, identity, login, reads, masks, command, revocation.

use crate::config::{Config, Env};
use crate::error::{Error, Result};
use crate::export::{self, Format};
use crate::platform::{Kind, Platform};
use crate::process::{self, Cancel, Signal};
use crate::session::Session;
use crate::vault::lease::Renewer;
use std::future::Future;
use std::time::Duration;

/// How long a cancelled command gets to clean up before it is killed
/// (GitHub kills 10 s after its first signal).
pub const GRACE: Duration = Duration::from_secs(9);

/// Runs `fut` unless a signal comes first.
async fn unless_cancelled<T>(cancel: &Cancel, fut: impl Future<Output = T>) -> std::result::Result<T, Signal> {
    tokio::select! {
        v = fut => Ok(v),
        s = cancel.cancelled() => Err(s),
    }
}

/// Prints a failure (redacted) and returns its exit code.
pub fn fail(e: &Error) -> i32 {
    crate::log::error(&e.to_string());
    e.exit_code()
}

/// `packer-vault exec -- CMD...`: secrets in CMD's environment, its output
/// redacted, signals forwarded, the token revoked on every path.
pub async fn exec(cfg: Config, env: Env, argv: Vec<String>) -> i32 {
    let platform = Platform::new(cfg.platform, env);
    let cancel = match Cancel::install() {
        Ok(c) => c,
        Err(e) => return fail(&Error::failed(format!("cannot install signal handlers: {e}"))),
    };
    let session = match unless_cancelled(&cancel, crate::session::login(&cfg, &platform)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail(&e),
        Err(s) => return s.exit_code(),
    };
    let code = exec_in(&cfg, &platform, &session, &cancel, argv).await;
    session.close(&cfg, false).await;
    code
}

async fn exec_in(cfg: &Config, platform: &Platform, session: &Session, cancel: &Cancel, argv: Vec<String>) -> i32 {
    let (reads, redactor) = match unless_cancelled(cancel, session.read(cfg, platform)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(&e),
        Err(s) => return s.exit_code(),
    };
    let renewer = cfg
        .renew
        .then(|| Renewer::spawn(session.vault.clone(), &session.login, &reads));
    let program = argv.first().cloned().unwrap_or_default();
    let spec = process::Spec {
        argv,
        env: reads
            .iter()
            .flat_map(|r| r.items.iter().map(|i| (i.env.clone(), i.value.clone())))
            .collect(),
        remove: platform.private_vars(),
        cwd: None,
        grace: GRACE,
    };
    let stop = platform.stop_commands();
    let out = process::Sink::redacted(&redactor, tokio::io::stdout());
    let err = process::Sink::redacted(&redactor, tokio::io::stderr());
    let result = process::run(spec, cancel, out, err).await;
    platform.resume_commands(stop);
    if let Some(r) = renewer {
        r.stop();
    }
    match result {
        Ok(exit) => match exit.cancelled {
            Some(s) => {
                crate::log::warn(&format!(
                    "cancelled: the command exited with {} after the signal",
                    exit.code
                ));
                s.exit_code()
            }
            None => exit.code,
        },
        Err(e) => fail(&Error::failed(format!("cannot run `{program}`: {e}"))),
    }
}

/// `packer-vault secrets --format F`: exports the secrets. The token is kept
/// when a secret is leased (revoking it would end the lease) or with
/// `export-env`; otherwise revoked.
pub async fn secrets(cfg: Config, env: Env, format: Format) -> i32 {
    let platform = Platform::new(cfg.platform, env);
    let cancel = match Cancel::install() {
        Ok(c) => c,
        Err(e) => return fail(&Error::failed(format!("cannot install signal handlers: {e}"))),
    };
    let session = match unless_cancelled(&cancel, crate::session::login(&cfg, &platform)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail(&e),
        Err(s) => return s.exit_code(),
    };
    let (code, leased) = match unless_cancelled(&cancel, secrets_in(&cfg, &platform, &session, format)).await {
        Ok(Ok(leased)) => (0, leased),
        Ok(Err(e)) => (fail(&e), false),
        Err(s) => (s.exit_code(), false),
    };
    if leased {
        crate::log::info("some secrets are leased: keeping the token so their leases stay valid until they expire");
    }
    session.close(&cfg, leased || cfg.export_env).await;
    code
}

async fn secrets_in(cfg: &Config, platform: &Platform, session: &Session, format: Format) -> Result<bool> {
    let (reads, _) = session.read(cfg, platform).await?;
    let text = export::render(format, &reads)?;
    match format {
        Format::Github => {
            if platform.kind != Kind::Github {
                return Err(Error::Usage(
                    "--format github writes GITHUB_ENV: run it in a GitHub Actions job".into(),
                ));
            }
            crate::platform::github::append_file(&platform.env, "GITHUB_ENV", &text)?;
            crate::log::info(&format!(
                "wrote {} variables to GITHUB_ENV",
                export::pairs(&reads).len()
            ));
        }
        Format::Shell | Format::Json => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::failed(format!("cannot write stdout: {e}")))?;
        }
    }
    Ok(reads.iter().any(|r| r.lease_id.is_some()))
}
