//! Test bed for the end-to-end suite (`tests/e2e`): a real OpenBao server,
//! per-test fixtures, fake CI identities and a leak checker.
//!
//! * [`bao`]: the shared OpenBao/Vault server and sync API helpers.
//! * [`fixture`]: per-test mounts, roles, policy and seeded secrets.
//! * [`jwt`]: RS256 signing with the committed test key, CI claim shapes.
//! * [`github`] / [`gitlab`]: CI environments and the GitHub OIDC stand-in.
//! * [`leak`]: independent "no secret in this output" assertions.
//! * [`rabbitmq`]: the broker behind OpenBao's real `rabbitmq` engine (dynamic secrets).
//!
//! This module: the binary under test ([`bin`], [`run`]) and scratch dirs.
#![allow(dead_code, unused_imports)]

pub mod bao;
pub mod ci_runs;
pub mod clouds;
pub mod fixture;
pub mod github;
pub mod github_api;
pub mod gitlab;
pub mod gitlab_api;
pub mod hcp;
pub mod issuer;
pub mod jwt;
pub mod leak;
pub mod proxy;
pub mod rabbitmq;
pub mod recorded;
pub mod releases;
pub mod shipped;

use std::borrow::BorrowMut;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use bao::{Bao, bao, bao_tls, block_on};
pub use fixture::{Fixture, HcpVersion};
pub use github::{GithubEnv, GithubOidc, github_env};
pub use gitlab::{gitlab_env, gitlab_env_with, gitlab_job};
pub use leak::{assert_no_labeled_secret, assert_no_secret};

/// Default limit for [`run`].
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Per-process scratch root `<CARGO_TARGET_TMPDIR>/packer-vault-e2e/run-<pid>`.
/// Roots of earlier runs whose process is gone are removed on first use.
fn scratch_root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("packer-vault-e2e");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix("run-").and_then(|p| p.parse::<i32>().ok()) else {
                    continue;
                };
                // SAFETY: kill with signal 0 only checks for existence.
                let gone = unsafe { libc::kill(pid, 0) } != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
                if gone {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let root = base.join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("create scratch root");
        root
    })
}

/// Writes `contents` to `path` as an executable (0755): a script a test
/// puts on `PATH` or plants where the product might run it.
pub fn executable(path: &std::path::Path, contents: impl AsRef<[u8]>) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A fresh, empty directory `<scratch root>/<kind>-<n>` that outlives the
/// test (inspect it after a failure; it is removed by a later run).
pub fn scratch_dir(kind: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = scratch_root().join(format!("{kind}-{n}"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    dir
}

/// The `packer-vault` binary with an empty environment except `PATH` (the
/// test process's) and `HOME` (a fresh scratch dir), so nothing from the
/// developer's shell (VAULT_TOKEN, GITHUB_*, ...) leaks into a test.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_packer-vault"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch_dir("home"));
    cmd
}

/// Result of [`run`].
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Outcome {
    /// The first stderr line starting with `prefix` (an annotation such as
    /// `::error`); panics, showing stderr, when there is none.
    #[track_caller]
    pub fn line_starting(&self, prefix: &str) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no stderr line starting with {prefix}:\n{}", self.stderr))
    }

    /// Exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// stdout followed by stderr (for leak checks).
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics with both streams unless the exit code is 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "expected success, got {self:?}");
        self
    }

    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "unexpected exit code: {self:?}");
        self
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// [`run_with_timeout`] with [`RUN_TIMEOUT`] (120 s).
#[track_caller]
pub fn run(cmd: impl BorrowMut<Command>) -> Outcome {
    run_with_timeout(cmd, RUN_TIMEOUT)
}

/// Runs `cmd` (stdin null, stdout/stderr captured) in its own process group;
/// on timeout the whole group gets SIGKILL and the test panics with the
/// output so far.
#[track_caller]
pub fn run_with_timeout(mut cmd: impl BorrowMut<Command>, timeout: Duration) -> Outcome {
    use std::os::unix::process::CommandExt;

    let cmd = cmd.borrow_mut();
    let started = Instant::now();
    let deadline = started + timeout;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    let pgid = child.id() as libc::pid_t;
    let kill_group = || {
        // SAFETY: plain kill(2) on the child's own process group.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    };
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        let _ = tx.send((true, buf));
    });
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        let _ = tx2.send((false, buf));
    });

    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            kill_group();
            break child.wait().expect("wait for killed child");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Grandchildren may still hold the pipes: give them until the deadline
    // (at least 5 s), then kill the group and collect what is there.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let pipes_deadline = deadline.max(Instant::now() + Duration::from_secs(5));
    for _ in 0..2 {
        let wait = pipes_deadline.saturating_duration_since(Instant::now());
        let received = rx.recv_timeout(wait).or_else(|_| {
            timed_out = true;
            kill_group();
            rx.recv_timeout(Duration::from_secs(5))
        });
        match received {
            Ok((true, buf)) => out = buf,
            Ok((false, buf)) => err = buf,
            Err(_) => break,
        }
    }
    let outcome = Outcome {
        status,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        elapsed: started.elapsed(),
    };
    assert!(!timed_out, "timed out after {timeout:?}: {outcome:?}");
    outcome
}

/// Waits until the child (spawned with piped stdout/stderr) prints a stdout
/// line containing `marker`, sends `signal` to `pid`, then collects the rest
/// of its output; `elapsed` is the time from the signal to the exit. Panics
/// after [`RUN_TIMEOUT`].
#[track_caller]
pub fn cancel_after_line(mut child: std::process::Child, marker: &str, pid: i32, signal: i32) -> Outcome {
    use std::io::BufRead;
    let started = Instant::now();
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let (tx, rx) = mpsc::channel::<()>();
    let marker = marker.to_string();
    let out_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if !sent && line.contains(&marker) {
                let _ = tx.send(());
                sent = true;
            }
            text.push_str(&line);
            line.clear();
        }
        text
    });
    if rx.recv_timeout(RUN_TIMEOUT).is_err() {
        let _ = child.kill();
        panic!("the command never printed the marker line");
    }
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(pid, signal) };
    let signalled = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            panic!("the command did not exit after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let exited = signalled.elapsed();
    Outcome {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned(),
        elapsed: exited,
    }
}

/// Every `::add-mask::` line comes before any other stdout line; returns the
/// masked values (unescaped as the runner does).
pub fn masks_first(out: &Outcome) -> Vec<String> {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let first_other = lines
        .iter()
        .position(|l| !l.starts_with("::add-mask::"))
        .unwrap_or(lines.len());
    assert!(first_other > 0, "no mask printed:\n{}", out.stdout);
    assert!(
        lines[first_other..].iter().all(|l| !l.contains("::add-mask::")),
        "a mask came after other output:\n{}",
        out.stdout
    );
    lines[..first_other]
        .iter()
        .map(|l| {
            l["::add-mask::".len()..]
                .replace("%0D", "\r")
                .replace("%0A", "\n")
                .replace("%25", "%")
        })
        .collect()
}

/// Stdout as the GitHub runner shows it in the job log: it consumes the
/// `::add-mask::` lines it acts on, but between `::stop-commands::T` and
/// `::T::` it acts on nothing and prints every line verbatim, a mask
/// included (which then is a leak, and the scans find it).
pub fn runner_shows(stdout: &str) -> String {
    let mut stopped: Option<String> = None;
    let mut shown = Vec::new();
    for line in stdout.lines() {
        match &stopped {
            Some(token) => {
                if line.trim() == format!("::{token}::") {
                    stopped = None;
                } else {
                    shown.push(line);
                }
            }
            None => {
                if let Some(token) = line.trim().strip_prefix("::stop-commands::") {
                    stopped = Some(token.to_string());
                } else if !line.starts_with("::add-mask::") {
                    shown.push(line);
                }
            }
        }
    }
    shown.join("\n")
}

/// The lines printed while workflow commands were stopped that the
/// runner would have had to act on: a mask printed there shows in clear.
pub fn masks_while_stopped(stdout: &str) -> usize {
    runner_shows(stdout)
        .lines()
        .filter(|l| l.contains("::add-mask::"))
        .count()
}
