//! Standard output and error as the CI runner reads them, shared by the
//! binary's own lines and the child's redacted output.
//!
//! One lock orders every write, and behind it sits GitHub's workflow-command
//! state. While a child runs, commands are stopped (`::stop-commands::`) so
//! that nothing it prints is acted on; a command line of ours that must be
//! acted on in that time (`::add-mask::` for an identity token replaced
//! while Packer runs) is printed by resuming commands, printing it, and
//! stopping them again with a new token, all under the lock, at a line
//! boundary of stdout: no line of the child is written in between, and no
//! mask is ever printed while the runner would show it verbatim.

use std::io::Write;
use std::sync::Mutex;

/// Which of our output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (where the runner reads workflow commands).
    Out,
    /// Standard error.
    Err,
}

struct State {
    /// The token that resumes workflow commands, while they are stopped.
    stopped: Option<String>,
    /// Whether the last byte written to stdout ended a line.
    out_mid_line: bool,
    /// Whether the last byte written to stderr ended a line.
    err_mid_line: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    stopped: None,
    out_mid_line: false,
    err_mid_line: false,
});

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes `bytes` (already filtered) to `stream` under the lock.
pub fn write(stream: Stream, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let mut s = lock();
    let mid = bytes.last() != Some(&b'\n');
    match stream {
        Stream::Out => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(bytes);
            let _ = out.flush();
            s.out_mid_line = mid;
        }
        Stream::Err => {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(bytes);
            let _ = err.flush();
            s.err_mid_line = mid;
        }
    }
}

/// Prints one line of ours to stderr, on a line of its own.
pub fn err_line(text: &str) {
    let mut s = lock();
    let mut err = std::io::stderr().lock();
    let lead = if s.err_mid_line { "\n" } else { "" };
    let _ = writeln!(err, "{lead}{text}");
    let _ = err.flush();
    s.err_mid_line = false;
}

/// Prints lines of ours to stdout, each on a line of its own.
pub fn out_lines<'a>(lines: impl IntoIterator<Item = &'a str>) {
    let mut s = lock();
    let mut out = std::io::stdout().lock();
    if s.out_mid_line {
        let _ = writeln!(out);
    }
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
    s.out_mid_line = false;
}

/// Prints workflow-command lines that the runner must act on. While
/// commands are stopped they are resumed first and stopped again after,
/// under one lock with every other write: no child line passes between.
pub fn commands<'a>(lines: impl IntoIterator<Item = &'a str>) {
    let mut s = lock();
    let mut out = std::io::stdout().lock();
    if s.out_mid_line {
        let _ = writeln!(out);
    }
    if let Some(token) = &s.stopped {
        let _ = writeln!(out, "::{token}::");
    }
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    if s.stopped.is_some() {
        let token = new_token();
        let _ = writeln!(out, "::stop-commands::{token}");
        s.stopped = Some(token);
    }
    let _ = out.flush();
    s.out_mid_line = false;
}

/// Stops the runner from acting on workflow commands (`::stop-commands::`).
/// Stopping twice is stopping once.
pub fn stop_commands() {
    let mut s = lock();
    if s.stopped.is_some() {
        return;
    }
    let token = new_token();
    let mut out = std::io::stdout().lock();
    if s.out_mid_line {
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "::stop-commands::{token}");
    let _ = out.flush();
    s.out_mid_line = false;
    s.stopped = Some(token);
}

/// Resumes workflow commands after [`stop_commands`], with the token in
/// force now (a mask printed meanwhile replaced it).
pub fn resume_commands() {
    let mut s = lock();
    let Some(token) = s.stopped.take() else { return };
    let mut out = std::io::stdout().lock();
    if s.out_mid_line {
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "::{token}::");
    let _ = out.flush();
    s.out_mid_line = false;
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A child's stream as an async writer: each chunk is written under the
/// lock (the chunk is small and stdout is a pipe the runner drains).
#[derive(Debug, Clone, Copy)]
pub struct Writer(pub Stream);

impl tokio::io::AsyncWrite for Writer {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        write(self.0, buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
