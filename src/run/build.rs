//! `packer-vault build` and `validate`: secrets from Vault into Packer's
//! environment, Packer's phases, HCP Packer, the report, revocation.

use super::{Stop, Stopped, fail, step};
use crate::child::workload::CredFile;
use crate::child::{self, Handoff};
use crate::ci::Runner;
use crate::config::Config;
use crate::error::{EXIT_FAILED, Error};
use crate::packer::install::{self, Options};
use crate::packer::run::{Packer, PhaseResult};
use crate::process::Cancel;
use crate::redact::Redactor;
use crate::report::{Phase, Report, Status};
use crate::session::{PackerToken, Session};
use crate::vault::lease::Renewer;
use crate::vault::read::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Which of the two commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `init`, `validate`, `build`, HCP.
    Build,
    /// `fmt -check`, `init`, `validate`.
    Validate,
}

/// Runs `build` or `validate`; publishes the report on every path that got
/// as far as a Vault answer, and revokes the token.
pub async fn build(cfg: Config, ci: Runner, mode: Mode, report_file: Option<PathBuf>) -> i32 {
    let name = if mode == Mode::Build { "build" } else { "validate" };
    let mut report = Report::new(name, &cfg.template.display().to_string());
    report.run_url = ci.run_url();
    let publish = crate::publish::Options::of(&cfg);

    let started = Instant::now();
    let (cancel, session) = match super::start(&cfg, &ci).await {
        Ok(s) => s,
        Err(Stopped::Failed(e)) => {
            report.status = Status::Failed;
            report.errors.push(e.to_string());
            report.exit_code = Some(e.exit_code());
            crate::publish::publish(ci.platform, &ci.env, &report, &publish, report_file.as_deref()).await;
            return fail(&e);
        }
        Err(stop) => return stop.exit_code(),
    };
    super::identify(&mut report, &cfg, &session);
    let packer_token = match step(&cancel, session.packer_token(&cfg, &ci)).await {
        Ok(t) => t,
        Err(stop) => {
            session.close(&cfg, false).await;
            let Stop::Failed(e) = stop else {
                return stop.exit_code();
            };
            report.status = Status::Failed;
            report.errors.push(e.to_string());
            report.exit_code = Some(e.exit_code());
            crate::publish::publish(ci.platform, &ci.env, &report, &publish, report_file.as_deref()).await;
            return fail(&e);
        }
    };
    let code = run(
        &cfg,
        &ci,
        &session,
        packer_token.as_ref(),
        &cancel,
        mode,
        &mut report,
        started,
    )
    .await;
    // Packer's child token goes whatever the outcome, even when the run's
    // token is kept (export-env).
    if let Some(t) = &packer_token {
        t.revoke().await;
    }
    session.close(&cfg, cfg.export_env).await;
    report.exit_code = Some(code);
    crate::publish::publish(ci.platform, &ci.env, &report, &publish, report_file.as_deref()).await;
    code
}

/// The run's session and where it reports: what each step of [`run`] shares.
struct Ctx<'a> {
    cfg: &'a Config,
    ci: &'a Runner,
    session: &'a Session,
    packer_token: Option<&'a PackerToken>,
    cancel: &'a Cancel,
    mode: Mode,
}

/// What the run made ready before Packer's first phase. The key files and
/// HCP's credential file (the [`Handoff`]'s) live as long as this value:
/// until Packer has ended.
struct Prepared {
    reads: Vec<Read>,
    redactor: Redactor,
    workload: Option<super::hcp::Registry>,
    fingerprint: Option<String>,
    packer: Packer,
    phases: Vec<&'static str>,
    _handoff: Handoff,
}

#[allow(clippy::too_many_arguments)]
async fn run(
    cfg: &Config,
    ci: &Runner,
    session: &Session,
    packer_token: Option<&PackerToken>,
    cancel: &Cancel,
    mode: Mode,
    report: &mut Report,
    started: Instant,
) -> i32 {
    let cx = Ctx {
        cfg,
        ci,
        session,
        packer_token,
        cancel,
        mode,
    };
    // HCP credentials from the environment: log in beside the Vault reads.
    let early_hcp = (mode == Mode::Build)
        .then(|| super::hcp::start_early(cfg, &ci.env))
        .flatten();
    let mut p = match prepare(&cx, report, started).await {
        Ok(p) => p,
        Err(Stop::Failed(e)) => return failed(report, e),
        Err(Stop::Cancelled(s)) => return cancelled(report, s),
    };
    let renewer = cfg.renew.then(|| {
        let others = packer_token.iter().map(|t| t.renewal()).collect();
        Renewer::spawn_with(session.vault.clone(), &session.login, &p.reads, others)
    });
    let code = phases(&cx, &p, report).await;
    report.warnings.extend(super::stop_renewer(renewer));
    record_hcp(&cx, &mut p, code, early_hcp, report).await;
    code
}

/// The secrets read, the files Packer needs written, HCP opened, Packer installed.
async fn prepare(cx: &Ctx<'_>, report: &mut Report, started: Instant) -> Result<Prepared, Stop> {
    let (cfg, ci, env) = (cx.cfg, cx.ci, &cx.ci.env);
    let (reads, redactor, locked) = step(cx.cancel, cx.session.read_locked(cfg, ci)).await?;
    report.set_secrets(&reads, &|r| locked.contains(&crate::report::canonical_path(r)));
    // Packer's own token is hidden in its output like every credential.
    let redactor = match cx.packer_token.and_then(PackerToken::token) {
        Some(t) => cx.session.redactor(&reads, &[t]),
        None => redactor,
    };
    report.phases.push(Phase {
        name: "vault".into(),
        duration: started.elapsed(),
        ok: true,
    });
    if cfg.export_env {
        crate::export::to_github_env(ci.platform, env, &reads)?;
    }
    let files = child::key_files(&reads, ci)?;
    step(cx.cancel, super::azure_wait(cfg, &reads, env)).await?;

    let (workload, cred_file) = open_workload(cx).await?;

    let opts = Options::from_env(env)?;
    let installed = step(
        cx.cancel,
        install::ensure(cfg.packer_version.as_deref(), &opts, &child::private::removed(ci, cfg)),
    )
    .await?;
    report.packer_version = Some(installed.version.clone());
    if cred_file.is_some() && !install::at_least(&installed.version, (1, 14, 2)) {
        crate::log::warn(&format!(
            "Packer {} does not read HCP_CRED_FILE (1.14.2 and later do): it cannot register this build in HCP Packer",
            installed.version
        ));
    }
    let fingerprint = cfg.hcp.bucket.as_ref().map(|_| {
        cfg.hcp
            .fingerprint
            .clone()
            .or_else(|| crate::hcp::default_fingerprint(ci.platform, env))
            .unwrap_or_else(local_fingerprint)
    });
    let mut phases = match cx.mode {
        Mode::Build => vec!["validate", "build"],
        Mode::Validate => vec!["fmt", "validate"],
    };
    if install::supports_init(&installed.version) {
        phases.insert(phases.len() - 1, "init");
    }
    let build = child::Build {
        fingerprint: fingerprint.as_deref(),
        secrets_digest: &report.secrets_digest,
        cred_file,
    };
    let token_vars = cx.packer_token.map_or(&[][..], |t| &t.vars[..]);
    let handoff = Handoff::build(cfg, ci, &reads, token_vars, files, build);
    let packer = packer(cx, &installed, &handoff);
    Ok(Prepared {
        reads,
        redactor,
        workload,
        fingerprint,
        packer,
        phases,
        _handoff: handoff,
    })
}

/// HCP through the workload identity provider: exchanged once, before
/// Packer starts, so a refused exchange stops the run first. Packer gets an
/// HCP_CRED_FILE of the same provider, never a secret.
async fn open_workload(cx: &Ctx<'_>) -> Result<(Option<super::hcp::Registry>, Option<CredFile>), Stop> {
    let (cfg, ci, env) = (cx.cfg, cx.ci, &cx.ci.env);
    if cx.mode != Mode::Build || cfg.hcp.bucket.is_none() || cfg.hcp.provider.is_none() {
        return Ok((None, None));
    }
    let open = async {
        let jwt = ci.hcp_identity_token(&cfg.hcp).await?;
        let registry = super::hcp::Registry::open_workload(&cfg.hcp, env, &jwt).await?;
        let file = CredFile::write(&cfg.hcp, ci, &jwt, &registry.project)?;
        Ok::<_, Error>((registry, file))
    };
    let (r, f) = step(cx.cancel, open).await?;
    Ok((Some(r), Some(f)))
}

/// Packer, run in the working directory with what [`Handoff`] gives it.
fn packer(cx: &Ctx<'_>, installed: &install::Installed, handoff: &Handoff) -> Packer {
    let cfg = cx.cfg;
    Packer {
        path: installed.path.clone(),
        version: installed.version.clone(),
        cwd: cfg.working_directory.clone(),
        template: cfg.template.display().to_string(),
        env: handoff.env.clone(),
        remove: handoff.remove.clone(),
        init_env: handoff.init_env.clone(),
        grace: cx.ci.grace(),
    }
}

/// Packer's phases in order, each in its own section with workflow commands
/// stopped; returns the exit code of the first that failed (0 when none).
async fn phases(cx: &Ctx<'_>, p: &Prepared, report: &mut Report) -> i32 {
    let (ci, cancel, packer) = (cx.ci, cx.cancel, &p.packer);
    for &phase in &p.phases {
        // A signal between two phases: the next one never starts.
        if let Some(s) = cancel.signal() {
            report.status = Status::Cancelled;
            crate::log::warn(&format!("cancelled before `packer {phase}`, which was not started"));
            return s.exit_code();
        }
        let title = format!("packer {phase}");
        ci.section_start(&format!("packer_{phase}"), &title);
        ci.stop_commands();
        let result = match phase {
            "fmt" => packer.fmt_check(&p.redactor, cancel).await,
            "init" => packer.init(&p.redactor, cancel).await,
            "validate" => packer.validate(&p.redactor, cancel).await,
            _ => packer.build(&cx.cfg.packer_args, &p.redactor, cancel).await,
        };
        ci.resume_commands();
        ci.section_end(&format!("packer_{phase}"));
        let code = match result {
            Ok(r) => record_phase(report, &r, phase),
            Err(e) => failed(
                report,
                Error::failed(format!("cannot run {}: {e}", packer.path.display())),
            ),
        };
        if code != 0 {
            return code;
        }
    }
    0
}

/// The HCP Packer version the build made: looked up (and promoted) after a
/// build that passed, only named otherwise.
async fn record_hcp(cx: &Ctx<'_>, p: &mut Prepared, code: i32, early: Option<super::hcp::Early>, report: &mut Report) {
    let (cfg, ci, env) = (cx.cfg, cx.ci, &cx.ci.env);
    let (Some(bucket), Some(fp)) = (&cfg.hcp.bucket, &p.fingerprint) else {
        return;
    };
    if code != 0 || cx.mode != Mode::Build {
        report.hcp = Some(crate::report::HcpVersion {
            bucket: bucket.clone(),
            fingerprint: fp.clone(),
            ..Default::default()
        });
        return;
    }
    ci.section_start("hcp", "HCP Packer");
    // A build longer than the exchanged token's life: exchange again.
    let workload = match p.workload.take() {
        Some(r) if r.expiring() => {
            crate::log::info("HCP: the access token expires: exchanging a new identity token");
            let fresh = async {
                let jwt = ci.hcp_identity_token(&cfg.hcp).await?;
                super::hcp::Registry::open_workload(&cfg.hcp, env, &jwt).await
            };
            match fresh.await {
                Ok(f) => Some(f),
                Err(e) => {
                    crate::log::warn(&format!("HCP: {e}"));
                    Some(r)
                }
            }
        }
        other => other,
    };
    let (hcp, warnings) = super::hcp::record(cfg, env, &p.reads, bucket, fp, true, early, workload).await;
    for w in &warnings {
        crate::log::warn(w);
    }
    report.warnings.extend(warnings);
    report.hcp = Some(hcp);
    ci.section_end("hcp");
}

/// Records one phase; returns the exit code it implies (0 to go on).
fn record_phase(report: &mut Report, r: &PhaseResult, phase: &str) -> i32 {
    report.phases.push(Phase {
        name: r.name.clone(),
        duration: r.duration,
        ok: r.ok(),
    });
    if phase == "build" {
        report.artifacts = r.outcome.artifacts.clone();
    }
    if let Some(s) = r.cancelled {
        report.tail = r.outcome.tail.clone();
        return cancelled(report, s);
    }
    if r.ok() {
        return 0;
    }
    report.status = Status::Failed;
    match phase {
        "fmt" => {
            let files: Vec<&String> = r.outcome.tail.iter().filter(|l| !l.contains(' ')).collect();
            report.findings.push(format!(
                "`packer fmt -check` found unformatted files: {} (run `packer fmt` on them)",
                files.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        "validate" => {
            report
                .findings
                .extend(r.outcome.tail.iter().filter(|l| !l.trim().is_empty()).cloned());
        }
        _ => {
            report.errors.extend(r.outcome.errors.iter().cloned());
            report.tail = r.outcome.tail.clone();
        }
    }
    crate::log::error(&format!("{} failed with exit code {}", r.name, r.code));
    EXIT_FAILED
}

fn failed(report: &mut Report, e: Error) -> i32 {
    report.status = Status::Failed;
    report.errors.push(crate::log::redact(&e.to_string()));
    fail(&e)
}

fn cancelled(report: &mut Report, s: crate::process::Signal) -> i32 {
    report.status = Status::Cancelled;
    crate::log::warn("cancelled: Packer was asked to stop and clean up");
    s.exit_code()
}

fn local_fingerprint() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    format!("local-{secs}")
}
