//! Running Packer's phases (`fmt -check`, `init`, `validate`, `build`) with
//! the secrets in its environment only, its output redacted (and rendered
//! from `-machine-readable` for `build`), and what it reported collected.

use super::machine::{Collector, MachineFilter, Outcome};
use crate::console::{Stream, Writer};
use crate::process::{self, Cancel, Filter, Sink};
use crate::redact::{Redactor, StreamRedactor};
use crate::secret::Secret;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where and how Packer runs.
pub struct Packer {
    /// The packer binary.
    pub path: PathBuf,
    /// Its version, e.g. `1.6.6`.
    pub version: String,
    /// Working directory.
    pub cwd: PathBuf,
    /// Template file or directory (relative to `cwd`).
    pub template: String,
    /// Variables added to Packer's environment (secrets, PKR_VAR_*, HCP).
    pub env: Vec<(String, Secret)>,
    /// Variables removed from the inherited environment.
    pub remove: Vec<String>,
    /// Added for `packer init` only: `PACKER_GITHUB_API_TOKEN`, so plugin
    /// downloads are not held to GitHub's anonymous rate limit.
    pub init_env: Vec<(String, Secret)>,
    /// How long Packer gets to clean up after a signal.
    pub grace: Duration,
}

/// The result of one phase.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// `packer build`, ...
    pub name: String,
    /// Exit code of Packer.
    pub code: i32,
    /// Set when a signal ended it.
    pub cancelled: Option<process::Signal>,
    /// Wall time.
    pub duration: Duration,
    /// What the stream reported (build), or its redacted lines (others).
    pub outcome: Outcome,
}

impl PhaseResult {
    /// True on exit 0 without cancellation.
    pub fn ok(&self) -> bool {
        self.code == 0 && self.cancelled.is_none()
    }
}

/// Redacts and keeps the last lines (for findings and the report).
struct Recorder {
    stream: StreamRedactor,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Filter for Recorder {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        self.stream.push(input, out);
        self.keep(&out[start..]);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        self.stream.finish(out);
        self.keep(&out[start..]);
    }
}

impl Recorder {
    fn keep(&self, bytes: &[u8]) {
        if let Ok(mut lines) = self.lines.lock() {
            for l in String::from_utf8_lossy(bytes).lines().filter(|l| !l.trim().is_empty()) {
                lines.push(l.to_string());
            }
            let excess = lines.len().saturating_sub(super::machine::TAIL_LINES);
            lines.drain(..excess);
        }
    }
}

impl Packer {
    /// Runs `packer <args>`; `build` output is read as `-machine-readable`.
    pub async fn phase(
        &self,
        name: &str,
        args: &[String],
        machine: bool,
        redactor: &Redactor,
        cancel: &Cancel,
    ) -> std::io::Result<PhaseResult> {
        self.run_phase(name, args, machine, &[], redactor, cancel).await
    }

    /// [`Packer::phase`] with `extra` variables for this phase only.
    async fn run_phase(
        &self,
        name: &str,
        args: &[String],
        machine: bool,
        extra: &[(String, Secret)],
        redactor: &Redactor,
        cancel: &Cancel,
    ) -> std::io::Result<PhaseResult> {
        let mut argv = vec![self.path.display().to_string()];
        argv.extend(args.iter().cloned());
        let mut env = self.env.clone();
        env.extend(extra.iter().cloned());
        let spec = process::Spec {
            argv,
            env,
            remove: self.remove.clone(),
            cwd: Some(self.cwd.clone()),
            grace: self.grace,
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collector = Collector::default();
        let out = if machine {
            Sink::new(MachineFilter::new(redactor, collector.clone()), Writer(Stream::Out))
        } else {
            Sink::new(
                Recorder {
                    stream: redactor.stream(),
                    lines: lines.clone(),
                },
                Writer(Stream::Out),
            )
        };
        let err = Sink::new(
            Recorder {
                stream: redactor.stream(),
                lines: lines.clone(),
            },
            Writer(Stream::Err),
        );
        let started = Instant::now();
        let exit = process::run(spec, cancel, out, err).await?;
        let mut outcome = collector.outcome();
        let extra = lines.lock().map(|l| l.clone()).unwrap_or_default();
        outcome.tail.extend(extra);
        let excess = outcome.tail.len().saturating_sub(super::machine::TAIL_LINES);
        outcome.tail.drain(..excess);
        Ok(PhaseResult {
            name: name.into(),
            code: exit.code,
            cancelled: exit.cancelled,
            duration: started.elapsed(),
            outcome,
        })
    }

    /// `packer fmt -check <template>` (exit 3 lists unformatted files).
    pub async fn fmt_check(&self, redactor: &Redactor, cancel: &Cancel) -> std::io::Result<PhaseResult> {
        self.phase(
            "packer fmt -check",
            &["fmt".into(), "-check".into(), self.template.clone()],
            false,
            redactor,
            cancel,
        )
        .await
    }

    /// `packer init <template>` (Packer 1.7.0 and later).
    pub async fn init(&self, redactor: &Redactor, cancel: &Cancel) -> std::io::Result<PhaseResult> {
        self.run_phase(
            "packer init",
            &["init".into(), self.template.clone()],
            false,
            &self.init_env,
            redactor,
            cancel,
        )
        .await
    }

    /// `packer validate <template>`.
    pub async fn validate(&self, redactor: &Redactor, cancel: &Cancel) -> std::io::Result<PhaseResult> {
        self.phase(
            "packer validate",
            &["validate".into(), self.template.clone()],
            false,
            redactor,
            cancel,
        )
        .await
    }

    /// `packer build -color=false -machine-readable <extra> <template>`.
    pub async fn build(&self, extra: &[String], redactor: &Redactor, cancel: &Cancel) -> std::io::Result<PhaseResult> {
        let mut args: Vec<String> = vec!["build".into(), "-color=false".into(), "-machine-readable".into()];
        args.extend(extra.iter().cloned());
        args.push(self.template.clone());
        self.phase("packer build", &args, true, redactor, cancel).await
    }
}
