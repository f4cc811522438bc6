//! The subcommands, each reading like the data flow in ARCHITECTURE.md:
//! the CI, identity, login, reads, masks, command, revocation.

mod build;
mod cascade;
mod exec;
mod hcp;
mod lifecycle;
mod lock;
mod report;
mod secrets;

pub use build::{Mode, build};
pub use cascade::cascade;
pub use exec::exec;
pub use lifecycle::lifecycle;
pub use lock::lock;
pub use report::report;
pub use secrets::secrets;

use crate::ci::Runner;
use crate::config::Config;
use crate::error::Error;
use crate::process::{Cancel, Signal};
use crate::session::Session;
use std::future::Future;
use std::time::Duration;

/// How long a login that a signal interrupted may still take: Vault may
/// have issued the token already, and it must be revoked, within the time
/// the runner leaves (GitHub kills the step 10 s after its first signal).
const LOGIN_SETTLE: Duration = Duration::from_secs(3);

/// Runs `fut` unless a signal comes first.
pub(crate) async fn unless_cancelled<T>(
    cancel: &Cancel,
    fut: impl Future<Output = T>,
) -> std::result::Result<T, Signal> {
    tokio::select! {
        v = fut => Ok(v),
        s = cancel.cancelled() => Err(s),
    }
}

/// Why a step of a run ended it: a failure, or a signal that came first.
/// Each step is then one `?` ([`step`]).
pub(crate) enum Stop {
    /// The step failed.
    Failed(Error),
    /// A signal came before the step finished.
    Cancelled(Signal),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

impl From<Signal> for Stop {
    fn from(s: Signal) -> Stop {
        Stop::Cancelled(s)
    }
}

impl Stop {
    /// Prints a failure and returns the exit code (a signal's own code).
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Stop::Failed(e) => fail(&e),
            Stop::Cancelled(s) => s.exit_code(),
        }
    }
}

/// Runs the step `fut` unless a signal comes first.
pub(crate) async fn step<T>(
    cancel: &Cancel,
    fut: impl Future<Output = crate::error::Result<T>>,
) -> std::result::Result<T, Stop> {
    Ok(unless_cancelled(cancel, fut).await??)
}

/// Why a run ended before it got a session.
pub(crate) enum Stopped {
    /// The login failed (not yet printed).
    Failed(Error),
    /// A signal, or the signal handlers could not be installed: the exit
    /// code, already explained.
    Code(i32),
}

impl Stopped {
    /// Prints a failure and returns the exit code.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Stopped::Failed(e) => fail(&e),
            Stopped::Code(c) => c,
        }
    }
}

/// Starts a run on `ci`: the signal handlers, then the Vault login. Every
/// command that logs in starts here.
pub(crate) async fn start(cfg: &Config, ci: &Runner) -> Result<(Cancel, Session), Stopped> {
    let cancel = Cancel::install()
        .map_err(|e| Stopped::Code(fail(&Error::failed(format!("cannot install signal handlers: {e}")))))?;
    match login(cfg, ci, &cancel).await {
        Ok(Ok(session)) => Ok((cancel, session)),
        Ok(Err(e)) => Err(Stopped::Failed(e)),
        Err(s) => Err(Stopped::Code(s.exit_code())),
    }
}

/// The Vault login, unless a signal comes first. Dropping a login that a
/// signal interrupts could orphan a token Vault has already issued: it gets
/// [`LOGIN_SETTLE`] to finish, and what it returns is revoked.
pub(crate) async fn login(
    cfg: &Config,
    ci: &Runner,
    cancel: &Cancel,
) -> std::result::Result<crate::error::Result<Session>, Signal> {
    let login = crate::session::login(cfg, ci);
    tokio::pin!(login);
    tokio::select! {
        r = &mut login => Ok(r),
        s = cancel.cancelled() => {
            if let Ok(Ok(session)) = tokio::time::timeout(LOGIN_SETTLE, &mut login).await {
                crate::log::warn("cancelled during the login");
                session.close(cfg, false).await;
            }
            Err(s)
        }
    }
}

/// Waits until Azure AD accepts every client secret the `azure` preset
/// read (`reads[i]` answers `cfg.requests[i]`).
pub(crate) async fn azure_wait(
    cfg: &Config,
    reads: &[crate::vault::read::Read],
    env: &crate::env::Env,
) -> Result<(), Error> {
    let credentials: Vec<crate::cloud::azure::Credential> = (cfg.requests.iter().zip(reads))
        .filter(|(r, _)| crate::cloud::azure::is_azure(r))
        .filter_map(|(_, read)| {
            let value = |key: &str| read.items.iter().find(|i| i.key == key).map(|i| i.value.clone());
            let (id, secret) = (value("client_id")?, value("client_secret")?);
            Some(crate::cloud::azure::Credential {
                path: read.path.clone(),
                id,
                secret,
            })
        })
        .collect();
    crate::cloud::azure::wait_accepted(&credentials, &cfg.azure, env).await
}

/// Stops the renewer (when there is one), logs how often it renewed, and
/// returns its warnings (already logged as they came).
pub(crate) fn stop_renewer(renewer: Option<crate::vault::lease::Renewer>) -> Vec<String> {
    let Some(r) = renewer else { return Vec::new() };
    let (warnings, renewals) = r.stop();
    if renewals > 0 {
        crate::log::info(&format!(
            "renewed the token and leases {} during the run",
            crate::log::count(renewals as usize, "time", "times")
        ));
    }
    warnings
}

/// What `cmd` needs that can be checked before any request, so that a
/// usage error costs no login and issues no credential: exit 2.
pub fn preflight(cmd: &crate::cli::Cmd, cfg: &Config, ci: &Runner) -> Result<(), Error> {
    use crate::cli::Cmd;
    use crate::env::Platform;
    match cmd {
        Cmd::Secrets { format, output } => {
            if format == "github" && ci.platform != Platform::Github {
                return Err(Error::input(
                    "format",
                    "github writes GITHUB_ENV: run it in a GitHub Actions job, or use shell or json",
                ));
            }
            if format != "github" && output.is_none() && ci.platform == Platform::Gitlab {
                return Err(Error::input(
                    "format",
                    format!(
                        "{format} would print the values into the job log, and GitLab cannot mask them: write them to a \
                         file with `--output FILE` (0600), or give them to the command that needs them with \
                         `packer-vault exec -- CMD` (or `build`)"
                    ),
                ));
            }
            if let Some(p) = output.as_deref().filter(|_| format == "github") {
                return Err(Error::input(
                    "output",
                    format!("{}: the github format writes GITHUB_ENV, not a file", p.display()),
                ));
            }
        }
        Cmd::Build | Cmd::Validate if cfg.packer_version.is_none() && crate::packer::install::on_path().is_none() => {
            return Err(Error::input(
                "packer-version",
                "`packer` is not on PATH: install it in an earlier step (e.g. hashicorp/setup-packer), or set \
                 `packer-version` to have packer-vault download and verify it",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Records who the run was in Vault in `report`: the role (or token mode,
/// or no Vault at all), the token's accessor and its policies.
fn identify(report: &mut crate::report::Report, cfg: &Config, session: &Session) {
    report.role = match &cfg.auth {
        crate::config::Auth::Jwt { role, .. } => role.clone(),
        crate::config::Auth::Token(_) => "token".into(),
        crate::config::Auth::None => "none (no Vault)".into(),
    };
    report.accessor = session.login.accessor.clone();
    report.policies = session.login.policies.clone();
}

/// Prints a failure (redacted) and returns its exit code.
pub fn fail(e: &Error) -> i32 {
    let text: Vec<String> = e.to_string().lines().map(crate::error::bounded).collect();
    crate::log::error(&text.join("\n"));
    e.exit_code()
}
