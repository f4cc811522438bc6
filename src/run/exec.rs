//! `packer-vault exec -- CMD...`.

use super::{fail, unless_cancelled};
use crate::ci::Runner;
use crate::config::Config;
use crate::console::{Stream, Writer};
use crate::error::Error;
use crate::export;
use crate::keyfile::KeyFiles;
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
    let packer_token = match unless_cancelled(&cancel, session.packer_token(&cfg, &ci)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            session.close(&cfg, false).await;
            return fail(&e);
        }
        Err(s) => {
            session.close(&cfg, false).await;
            return s.exit_code();
        }
    };
    let code = exec_in(&cfg, &ci, &session, &cancel, argv, packer_token.as_ref()).await;
    if let Some(t) = &packer_token {
        t.revoke().await;
    }
    // Exported secrets must outlive this step: then the token is kept.
    session.close(&cfg, cfg.export_env).await;
    code
}

async fn exec_in(
    cfg: &Config,
    ci: &Runner,
    session: &Session,
    cancel: &Cancel,
    argv: Vec<String>,
    packer_token: Option<&PackerToken>,
) -> i32 {
    let (reads, redactor) = match unless_cancelled(cancel, session.read(cfg, ci)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(&e),
        Err(s) => return s.exit_code(),
    };
    // The child token is hidden in the command's output like every credential.
    let redactor = match packer_token.and_then(PackerToken::token) {
        Some(t) => session.redactor(&reads, &[t]),
        None => redactor,
    };
    if cfg.export_env
        && let Err(e) = export::to_github_env(ci.platform, &ci.env, &reads)
    {
        return fail(&e);
    }
    // Key files live until the command has ended, then go with this value.
    let files = match KeyFiles::write(&reads, &ci.env) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    match unless_cancelled(
        cancel,
        crate::azure::wait_accepted(&cfg.requests, &reads, &cfg.azure, &ci.env),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail(&e),
        Err(s) => return s.exit_code(),
    }
    let renewer = cfg.renew.then(|| {
        let others = packer_token.iter().map(|t| t.renewal()).collect();
        Renewer::spawn_with(session.vault.clone(), &session.login, &reads, others)
    });
    let program = argv.first().cloned().unwrap_or_default();
    let mut env = crate::vault::read::environment(&reads);
    env.extend(files.vars.iter().cloned());
    env.extend(crate::azure::variables(&cfg.requests, &cfg.azure));
    env.extend(packer_token.iter().flat_map(|t| t.vars.iter().cloned()));
    let spec = process::Spec {
        argv,
        env,
        remove: ci.private_vars(cfg),
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
                s.exit_code()
            }
            None => exit.code,
        },
        Err(e) => fail(&Error::failed(format!("cannot run `{program}`: {e}"))),
    }
}
