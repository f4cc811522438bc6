//! `packer-vault exec -- CMD...`.

use super::{fail, unless_cancelled};
use crate::ci::Runner;
use crate::config::Config;
use crate::console::{Stream, Writer};
use crate::error::Error;
use crate::export;
use crate::keyfile::KeyFiles;
use crate::process::{self, Cancel};
use crate::session::Session;
use crate::vault::lease::Renewer;

/// `packer-vault exec -- CMD...`: secrets in CMD's environment, its output
/// redacted, signals forwarded, the token revoked on every path.
pub async fn exec(cfg: Config, ci: Runner, argv: Vec<String>) -> i32 {
    let (cancel, session) = match super::start(&cfg, &ci).await {
        Ok(started) => started,
        Err(stop) => return stop.exit_code(),
    };
    let code = exec_in(&cfg, &ci, &session, &cancel, argv).await;
    // Exported secrets must outlive this step: then the token is kept.
    session.close(&cfg, cfg.export_env).await;
    code
}

async fn exec_in(cfg: &Config, ci: &Runner, session: &Session, cancel: &Cancel, argv: Vec<String>) -> i32 {
    let (reads, redactor) = match unless_cancelled(cancel, session.read(cfg, ci)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(&e),
        Err(s) => return s.exit_code(),
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
    let renewer = cfg
        .renew
        .then(|| Renewer::spawn(session.vault.clone(), &session.login, &reads));
    let program = argv.first().cloned().unwrap_or_default();
    let mut env = crate::vault::read::environment(&reads);
    env.extend(files.vars.iter().cloned());
    env.extend(crate::azure::variables(&cfg.requests, &cfg.azure));
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
