//! `packer-vault exec -- CMD...`.

use super::{Stop, step};
use crate::child::{self, Handoff};
use crate::ci::Runner;
use crate::config::Config;
use crate::console::{Stream, Writer};
use crate::error::Error;
use crate::export;
use crate::process::{self, Cancel};
use crate::session::{PackerToken, Session};
use crate::vault::lease::Renewer;

/// `packer-vault exec -- CMD...`: secrets in CMD's environment, its output
/// redacted, signals forwarded, the token revoked on every path.
pub async fn exec(cfg: Config, ci: Runner, argv: Vec<String>) -> i32 {
    let (cancel, session) = match super::start(&cfg, &ci).await {
        Ok(started) => started,
        Err(stop) => return stop.exit_code(),
    };
    // `packer-vault-token`: the command (often Packer) gets a child token
    // of the run's, revoked whatever the outcome, as `build` does.
    let packer_token = match step(&cancel, session.packer_token(&cfg, &ci)).await {
        Ok(t) => t,
        Err(stop) => {
            session.close(&cfg, false).await;
            return stop.exit_code();
        }
    };
    let code = exec_in(&cfg, &ci, &session, &cancel, argv, packer_token.as_ref())
        .await
        .unwrap_or_else(Stop::exit_code);
    if let Some(t) = &packer_token {
        t.revoke().await;
    }
    // Exported secrets must outlive this step: then the token is kept.
    session.close(&cfg, cfg.export_env).await;
    code
}

/// Reads the secrets, hands them to the command and runs it: its exit
/// code, or why it never ran.
async fn exec_in(
    cfg: &Config,
    ci: &Runner,
    session: &Session,
    cancel: &Cancel,
    argv: Vec<String>,
    packer_token: Option<&PackerToken>,
) -> Result<i32, Stop> {
    let (reads, redactor) = step(cancel, session.read(cfg, ci)).await?;
    // The child token is hidden in the command's output like every credential.
    let redactor = match packer_token.and_then(PackerToken::token) {
        Some(t) => session.redactor(&reads, &[t]),
        None => redactor,
    };
    if cfg.export_env {
        export::to_github_env(ci.platform, &ci.env, &reads)?;
    }
    // Key files live until the command has ended, then go with the handoff.
    let files = child::key_files(&reads, ci)?;
    step(cancel, super::azure_wait(cfg, &reads, &ci.env)).await?;
    let renewer = cfg.renew.then(|| {
        let others = packer_token.iter().map(|t| t.renewal()).collect();
        Renewer::spawn_with(session.vault.clone(), &session.login, &reads, others)
    });
    let program = argv.first().cloned().unwrap_or_default();
    let token_vars = packer_token.map_or(&[][..], |t| &t.vars[..]);
    let handoff = Handoff::exec(cfg, ci, &reads, token_vars, files);
    let spec = process::Spec {
        argv,
        env: handoff.env.clone(),
        remove: handoff.remove.clone(),
        cwd: None,
        grace: ci.grace(),
    };
    ci.stop_commands();
    let out = process::Sink::redacted(&redactor, Writer(Stream::Out));
    let err = process::Sink::redacted(&redactor, Writer(Stream::Err));
    let result = process::run(spec, cancel, out, err).await;
    ci.resume_commands();
    super::stop_renewer(renewer);
    match result {
        Ok(exit) => match exit.cancelled {
            Some(s) => {
                crate::log::warn(&format!(
                    "cancelled: the command exited with {} after the signal",
                    exit.code
                ));
                Ok(s.exit_code())
            }
            None => Ok(exit.code),
        },
        Err(e) => Err(Error::failed(format!("cannot run `{program}`: {e}")).into()),
    }
}
