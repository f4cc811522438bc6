//! The subcommands, each reading like INTERFACE.md's "What one run does":
//! platform, identity, login, reads, masks, command, revocation.

mod build;
mod exec;
mod hcp;
mod lock;
mod secrets;

pub use build::{Mode, build};
pub use exec::exec;
pub use lock::lock;
pub use secrets::secrets;

use crate::config::{Config, Env};
use crate::error::Error;
use crate::platform::Platform;
use crate::process::{Cancel, Signal};
use crate::session::Session;
use std::future::Future;
use std::time::Duration;

/// How long a cancelled command gets to clean up before it is killed
/// (GitHub kills 10 s after its first signal).
pub const GRACE: Duration = Duration::from_secs(9);

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

/// Starts a run: the platform, the signal handlers, the Vault login.
/// `Err` holds the exit code of a run that ends here.
pub(crate) async fn start(cfg: &Config, env: Env) -> Result<(Platform, Cancel, Session), i32> {
    let platform = Platform::new(cfg.platform, env);
    let cancel = Cancel::install().map_err(|e| fail(&Error::failed(format!("cannot install signal handlers: {e}"))))?;
    match unless_cancelled(&cancel, crate::session::login(cfg, &platform)).await {
        Ok(Ok(session)) => Ok((platform, cancel, session)),
        Ok(Err(e)) => Err(fail(&e)),
        Err(s) => Err(s.exit_code()),
    }
}

/// Prints a failure (redacted) and returns its exit code.
pub fn fail(e: &Error) -> i32 {
    crate::log::error(&e.to_string());
    e.exit_code()
}
