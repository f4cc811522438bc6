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
        Error::Usage(format!("input `{input}`: {}", bounded(&what.to_string())))
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

/// At most this many characters of a value are quoted in a message.
pub const QUOTE_MAX_CHARS: usize = 80;
/// At most this many bytes of one message (a log line).
pub const MESSAGE_MAX_BYTES: usize = 800;

/// `s` itself when short, else its first [`QUOTE_MAX_CHARS`] characters
/// (cut on a character boundary) marked as cut, with the length left out.
pub fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX_CHARS) {
        None => s.to_string(),
        Some((at, _)) => format!("{}… ({} more bytes)", &s[..at], s.len() - at),
    }
}

/// A message with every `` `quoted` `` span shortened by [`quote`], and the
/// whole cut to [`MESSAGE_MAX_BYTES`]: an input or a server's answer that is
/// 120 KiB on one line is not echoed whole into the log.
pub fn bounded(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(MESSAGE_MAX_BYTES + 16));
    let mut parts = msg.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('`');
        // Odd parts (0, 2, ... here) are inside a pair of backticks.
        if i % 2 == 0 {
            out.push_str(&quote(part))
        } else {
            out.push_str(part)
        }
    }
    if out.len() > MESSAGE_MAX_BYTES {
        let mut at = MESSAGE_MAX_BYTES;
        while !out.is_char_boundary(at) {
            at -= 1;
        }
        let cut = out.len() - at;
        out.truncate(at);
        out.push_str(&format!("… ({cut} more bytes)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quotes_and_messages_are_cut_on_character_boundaries() {
        assert_eq!(quote("short"), "short");
        let long = "é".repeat(200);
        let q = quote(&long);
        assert!(q.starts_with(&"é".repeat(80)) && q.ends_with("(240 more bytes)"), "{q}");
        let msg = format!("line 1: `{}`: more than one `|`", "x".repeat(120 * 1024));
        let b = bounded(&msg);
        assert!(b.len() < 200 && b.ends_with(": more than one `|`"), "{b}");
        let b = bounded(&"y".repeat(5000));
        assert!(
            b.len() < MESSAGE_MAX_BYTES + 30 && b.ends_with("(4200 more bytes)"),
            "{b}"
        );
    }
}
