//! The error type of a run, and the exit code each kind maps to.

use std::fmt;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the run failed (login, secrets, Packer, HCP).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: cancelled by SIGINT.
pub const EXIT_SIGINT: i32 = 130;
/// Exit code: cancelled by SIGTERM.
pub const EXIT_SIGTERM: i32 = 143;

/// An error that ends a run. Messages never contain secret values: they name
/// inputs, paths and keys instead.
#[derive(Debug)]
pub enum Error {
    /// A bad input: exit 2, before any network call.
    Usage(String),
    /// The run failed: exit 1.
    Failed(String),
}

impl Error {
    /// A usage error naming `input` and what is wrong with it.
    pub fn input(input: &str, what: impl fmt::Display) -> Self {
        Error::Usage(format!("input `{input}`: {what}"))
    }

    /// A run failure.
    pub fn failed(what: impl fmt::Display) -> Self {
        Error::Failed(what.to_string())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Failed(_) => EXIT_FAILED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// Result of a fallible step of a run.
pub type Result<T, E = Error> = std::result::Result<T, E>;
