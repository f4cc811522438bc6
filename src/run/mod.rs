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

use crate::error::Error;
use crate::process::{Cancel, Signal};
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

/// Prints a failure (redacted) and returns its exit code.
pub fn fail(e: &Error) -> i32 {
    crate::log::error(&e.to_string());
    e.exit_code()
}
