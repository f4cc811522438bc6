//! Running a child process: environment, output through the redactor,
//! signal forwarding with a grace period, and its exit code. Knows nothing
//! of Vault, Packer or CI.

use crate::redact::Redactor;
use crate::secret::Secret;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// A cancellation request: the signal the binary received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C, GitHub's first cancel signal).
    Int,
    /// SIGTERM (GitHub's second, GitLab's cancel).
    Term,
}

impl Signal {
    /// The exit code for a run cancelled by this signal.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Int => crate::error::EXIT_SIGINT,
            Signal::Term => crate::error::EXIT_SIGTERM,
        }
    }

    fn raw(self) -> libc::c_int {
        match self {
            Signal::Int => libc::SIGINT,
            Signal::Term => libc::SIGTERM,
        }
    }
}

/// Receives SIGINT/SIGTERM for the whole run; the first one decides the exit code.
#[derive(Clone)]
pub struct Cancel {
    rx: watch::Receiver<Option<Signal>>,
    all: watch::Receiver<u32>,
}

impl Cancel {
    /// Installs the handlers. Call once, early, on the runtime.
    pub fn install() -> std::io::Result<Cancel> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(None);
        let (all_tx, all) = watch::channel(0u32);
        tokio::spawn(async move {
            loop {
                let s = tokio::select! {
                    _ = int.recv() => Signal::Int,
                    _ = term.recv() => Signal::Term,
                };
                // Keep the first signal; count every one so each is forwarded.
                tx.send_if_modified(|v| {
                    if v.is_none() {
                        *v = Some(s);
                        true
                    } else {
                        false
                    }
                });
                LAST.store(s.raw(), std::sync::atomic::Ordering::SeqCst);
                all_tx.send_modify(|n| *n += 1);
            }
        });
        Ok(Cancel { rx, all })
    }

    /// The first signal received, if any.
    pub fn signal(&self) -> Option<Signal> {
        *self.rx.borrow()
    }

    /// Resolves when the first signal arrives.
    pub async fn cancelled(&self) -> Signal {
        let mut rx = self.rx.clone();
        loop {
            if let Some(s) = *rx.borrow_and_update() {
                return s;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

static LAST: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// What to run.
pub struct Spec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, Secret)>,
    /// Variables removed from the inherited environment.
    pub remove: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// How long to wait after forwarding a signal before killing the child.
    pub grace: Duration,
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Exit code (128+N when killed by signal N).
    pub code: i32,
    /// The cancellation that ended it, if any.
    pub cancelled: Option<Signal>,
}

/// Turns a child's output into what we print (redaction, rendering).
pub trait Filter: Send + 'static {
    /// Consumes `input`, appends what may be printed now to `out`.
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>);
    /// Appends whatever is still held back.
    fn finish(&mut self, out: &mut Vec<u8>);
}

impl Filter for crate::redact::StreamRedactor {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        crate::redact::StreamRedactor::push(self, input, out)
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        crate::redact::StreamRedactor::finish(self, out)
    }
}

/// Where one output stream of the child goes: a filter and a writer.
pub struct Sink {
    filter: Box<dyn Filter>,
    writer: Box<dyn AsyncWrite + Unpin + Send>,
}

impl Sink {
    /// Output through `filter` into `writer`.
    pub fn new(filter: impl Filter, writer: impl AsyncWrite + Unpin + Send + 'static) -> Sink {
        Sink {
            filter: Box::new(filter),
            writer: Box::new(writer),
        }
    }

    /// Output redacted by `redactor` into `writer`.
    pub fn redacted(redactor: &Redactor, writer: impl AsyncWrite + Unpin + Send + 'static) -> Sink {
        Sink::new(redactor.stream(), writer)
    }
}

/// Runs the child to completion, streaming stdout/stderr through their
/// sinks. On a signal, forwards it (and any later one) to the child's
/// process group and waits up to `grace` before killing it.
pub async fn run(spec: Spec, cancel: &Cancel, out: Sink, err: Sink) -> std::io::Result<Exit> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command to run"))?;
    // A signal that came before the spawn (between two phases, or between
    // the login and the command) cancels it: the command never starts.
    if let Some(s) = cancel.signal() {
        return Ok(Exit {
            code: 128 + s.raw(),
            cancelled: Some(s),
        });
    }
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for v in &spec.remove {
        cmd.env_remove(v);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v.expose());
    }
    if let Some(d) = &spec.cwd {
        cmd.current_dir(d);
    }
    // Own process group: a terminal's Ctrl-C reaches only us, and we decide
    // what the command gets. Signals go to the command itself (Packer
    // coordinates its plugins' shutdown; signalling them too can kill them
    // before Packer cleans up); the group is swept once the command is gone.
    cmd.process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id().map(|p| p as libc::pid_t);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_task = stdout.map(|s| tokio::spawn(pump(s, out)));
    let err_task = stderr.map(|s| tokio::spawn(pump(s, err)));

    let mut all = cancel.all.clone();
    all.borrow_and_update();
    // A signal that came between the check above and the spawn is
    // forwarded at once; any later one as it comes.
    let mut signalled = cancel.signal().is_some();
    let mut exited = None;
    while exited.is_none() && !signalled {
        tokio::select! {
            st = child.wait() => exited = Some(st?),
            changed = all.changed() => signalled = changed.is_ok(),
        }
    }
    let mut cancelled = None;
    let status = match exited {
        Some(st) => st,
        None => {
            let s = cancel.signal().unwrap_or(Signal::Term);
            cancelled = Some(s);
            let raw = LAST.load(std::sync::atomic::Ordering::SeqCst);
            if let Some(pid) = pid {
                // SAFETY: kill(2) on the child we spawned (not yet reaped).
                unsafe { libc::kill(pid, if raw == 0 { s.raw() } else { raw }) };
            }
            let grace = spec.grace;
            match tokio::time::timeout(grace, wait_or_signal(&mut child, &mut all, pid)).await {
                Ok(st) => st?,
                Err(_) => {
                    crate::log::warn(&format!(
                        "the command did not stop within {} s of the signal: killing it",
                        grace.as_secs()
                    ));
                    sweep(pid);
                    child.wait().await?
                }
            }
        }
    };
    // Whatever the command started goes with it, on every path (success
    // too): nothing it left behind keeps the secrets after the step.
    end_tree(pid).await;
    drain([out_task, err_task]).await;
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Exit { code, cancelled })
}

/// How long the output may still take once the command and everything it
/// started are gone: one deadline for both streams, after which nothing
/// more is relayed (a pipe held open by a process that is no descendant).
const DRAIN: Duration = Duration::from_secs(2);

/// True when this process adopts orphaned descendants ([`adopt_orphans`]).
static ADOPTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes this process the reaper of its orphaned descendants (Linux's
/// `PR_SET_CHILD_SUBREAPER`): a grandchild that daemonizes or `setsid`s is
/// re-parented to us rather than to init, so [`run`] can find and end it.
/// For the binary's `main` only: in a test process it would adopt other
/// tests' orphans.
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(2) with PR_SET_CHILD_SUBREAPER only sets a flag on
        // this process.
        let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
        ADOPTING.store(ok, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Ends everything the child started: SIGKILL to its process group, then,
/// where this process adopts orphans, to every live descendant of ours
/// (re-parented here when their parents exited), reaping the adopted ones.
async fn end_tree(pid: Option<libc::pid_t>) {
    sweep(pid);
    if !ADOPTING.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let me = std::process::id() as libc::pid_t;
    // A process may fork while we look: a few rounds until none is left.
    for _ in 0..50 {
        let found = tokio::task::spawn_blocking(move || descendants(me))
            .await
            .unwrap_or_default();
        for &(p, parent, zombie) in &found {
            if !zombie {
                // SAFETY: kill(2) on a descendant of this process.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            if parent == me {
                // SAFETY: waitpid(2) on an adopted child, never one tokio
                // waits for (the command itself was reaped above).
                unsafe { libc::waitpid(p, std::ptr::null_mut(), libc::WNOHANG) };
            }
        }
        if found.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    crate::log::warn("some processes the command started could not be ended");
}

/// Every descendant of `root` as (pid, parent, is a zombie), from `/proc`.
fn descendants(root: libc::pid_t) -> Vec<(libc::pid_t, libc::pid_t, bool)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<libc::pid_t>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (Some(state), Some(ppid)) = (fields.next(), fields.next().and_then(|p| p.parse().ok())) else {
            continue;
        };
        all.push((pid, ppid, state == "Z"));
    }
    let mut out = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for &(pid, ppid, zombie) in &all {
            if ppid == parent && !out.iter().any(|&(p, _, _)| p == pid) {
                out.push((pid, ppid, zombie));
                parents.push(pid);
            }
        }
    }
    out
}

/// Waits for the output tasks with one deadline for all of them, then
/// stops them: after this returns nothing more of the child is relayed.
async fn drain<const N: usize>(tasks: [Option<tokio::task::JoinHandle<()>>; N]) {
    let deadline = tokio::time::Instant::now() + DRAIN;
    for t in tasks.into_iter().flatten() {
        let mut t = t;
        if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// SIGKILL to the child's process group (stragglers after a cancel).
fn sweep(pid: Option<libc::pid_t>) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) on the process group we created for the child;
        // ESRCH when it is already empty is fine.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

/// Waits for the child while forwarding any further signal.
async fn wait_or_signal(
    child: &mut tokio::process::Child,
    all: &mut watch::Receiver<u32>,
    pid: Option<libc::pid_t>,
) -> std::io::Result<std::process::ExitStatus> {
    loop {
        tokio::select! {
            st = child.wait() => return st,
            changed = all.changed() => {
                if changed.is_err() { return child.wait().await; }
                let raw = LAST.load(std::sync::atomic::Ordering::SeqCst);
                if let (Some(pid), true) = (pid, raw != 0) {
                    // SAFETY: kill(2) on the child we spawned (not yet reaped).
                    unsafe { libc::kill(pid, raw) };
                }
            }
        }
    }
}

/// Copies `src` into a sink through its filter, flushing each chunk.
pub async fn pump<R: AsyncRead + Unpin>(mut src: R, sink: Sink) {
    let Sink {
        filter: mut stream,
        writer: mut dst,
    } = sink;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let n = match src.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        out.clear();
        stream.push(&buf[..n], &mut out);
        if !out.is_empty() && (dst.write_all(&out).await.is_err() || dst.flush().await.is_err()) {
            // Nobody reads our output any more; keep draining the child.
            continue;
        }
    }
    out.clear();
    stream.finish(&mut out);
    let _ = dst.write_all(&out).await;
    let _ = dst.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run on which `s` was already received.
    fn signalled(s: Signal) -> Cancel {
        let (_tx, rx) = watch::channel(Some(s));
        let (_all_tx, all) = watch::channel(1u32);
        Cancel { rx, all }
    }

    fn discard() -> Sink {
        Sink::new(Redactor::new(Vec::<String>::new()).stream(), tokio::io::sink())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_signal_before_the_spawn_never_starts_the_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("ran");
        for s in [Signal::Int, Signal::Term] {
            let spec = Spec {
                argv: vec!["sh".into(), "-c".into(), format!("touch '{}'", marker.display())],
                env: Vec::new(),
                remove: Vec::new(),
                cwd: None,
                grace: Duration::from_secs(1),
            };
            let exit = run(spec, &signalled(s), discard(), discard()).await.expect("run");
            assert_eq!(exit.cancelled, Some(s));
            assert_eq!(exit.code, 128 + s.raw());
            assert!(!marker.exists(), "the command never started");
        }
    }
}
