//! `packer-vault build` and `validate`: secrets from Vault into Packer's
//! environment, Packer's phases, HCP Packer, the report, revocation.

use super::{Stopped, fail, unless_cancelled};
use crate::ci::Runner;
use crate::config::Config;
use crate::env::Env;
use crate::error::{EXIT_FAILED, Error};
use crate::keyfile::KeyFiles;
use crate::packer::install::{self, Options};
use crate::packer::run::{Packer, PhaseResult};
use crate::process::Cancel;
use crate::report::{Phase, Report, Status};
use crate::secret::Secret;
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
    let packer_token = match unless_cancelled(&cancel, session.packer_token(&cfg, &ci)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            report.status = Status::Failed;
            report.errors.push(e.to_string());
            report.exit_code = Some(e.exit_code());
            session.close(&cfg, false).await;
            crate::publish::publish(ci.platform, &ci.env, &report, &publish, report_file.as_deref()).await;
            return fail(&e);
        }
        Err(s) => {
            session.close(&cfg, false).await;
            return s.exit_code();
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
    let env = &ci.env;
    // HCP credentials from the environment: log in beside the Vault reads.
    let early_hcp = (mode == Mode::Build)
        .then(|| super::hcp::start_early(cfg, env))
        .flatten();
    let (reads, redactor, locked) = match unless_cancelled(cancel, session.read_locked(cfg, ci)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return failed(report, e),
        Err(s) => return cancelled(report, s),
    };
    report.set_secrets(&reads, &|r| locked.contains(&crate::report::canonical_path(r)));
    // Packer's own token is hidden in its output like every credential.
    let redactor = match packer_token.and_then(PackerToken::token) {
        Some(t) => session.redactor(&reads, &[t]),
        None => redactor,
    };
    report.phases.push(Phase {
        name: "vault".into(),
        duration: started.elapsed(),
        ok: true,
    });
    if cfg.export_env
        && let Err(e) = crate::export::to_github_env(ci.platform, env, &reads)
    {
        return failed(report, e);
    }

    // Key files live until Packer has ended, then go with this value.
    let files = match KeyFiles::write(&reads, env) {
        Ok(f) => f,
        Err(e) => return failed(report, e),
    };
    match unless_cancelled(
        cancel,
        crate::azure::wait_accepted(&cfg.requests, &reads, &cfg.azure, env),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return failed(report, e),
        Err(s) => return cancelled(report, s),
    }

    // HCP through the workload identity provider: exchanged once, before
    // Packer starts, so a refused exchange stops the run first.
    // Packer gets an HCP_CRED_FILE of the same provider, never a secret.
    let (workload, cred_file) = if mode == Mode::Build && cfg.hcp.bucket.is_some() && cfg.hcp.provider.is_some() {
        let open = async {
            let jwt = ci.hcp_identity_token(&cfg.hcp).await?;
            let registry = super::hcp::Registry::open_workload(&cfg.hcp, env, &jwt).await?;
            let file = super::workload::CredFile::write(&cfg.hcp, ci, &jwt, &registry.project)?;
            Ok::<_, Error>((registry, file))
        };
        match unless_cancelled(cancel, open).await {
            Ok(Ok((r, f))) => (Some(r), Some(f)),
            Ok(Err(e)) => return failed(report, e),
            Err(s) => return cancelled(report, s),
        }
    } else {
        (None, None)
    };

    let opts = match Options::from_env(env) {
        Ok(o) => o,
        Err(e) => return failed(report, e),
    };
    let installed = match unless_cancelled(
        cancel,
        install::ensure(cfg.packer_version.as_deref(), &opts, &ci.private_vars(cfg)),
    )
    .await
    {
        Ok(Ok(i)) => i,
        Ok(Err(e)) => return failed(report, e),
        Err(s) => return cancelled(report, s),
    };
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
    let packer = Packer {
        path: installed.path.clone(),
        version: installed.version.clone(),
        cwd: cfg.working_directory.clone(),
        template: cfg.template.display().to_string(),
        env: Packer::environment({
            let mut vars = packer_env(cfg, &reads, fingerprint.as_deref());
            vars.extend(provenance(cfg, env, &report.secrets_digest));
            vars.extend(packer_token.iter().flat_map(|t| t.vars.iter().cloned()));
            vars.extend(files.vars.iter().cloned());
            vars.extend(cred_file.iter().map(|c| c.var.clone()));
            vars.extend(crate::azure::variables(&cfg.requests, &cfg.azure));
            vars
        }),
        remove: ci.private_vars(cfg),
        init_env: cfg
            .github_token
            .iter()
            .filter(|_| cfg.packer_init_token)
            .map(|t| ("PACKER_GITHUB_API_TOKEN".to_string(), t.clone()))
            .collect(),
        grace: ci.grace(),
    };

    let renewer = cfg.renew.then(|| {
        let others = packer_token.iter().map(|t| t.renewal()).collect();
        Renewer::spawn_with(session.vault.clone(), &session.login, &reads, others)
    });
    let mut phases: Vec<&str> = match mode {
        Mode::Build => vec!["validate", "build"],
        Mode::Validate => vec!["fmt", "validate"],
    };
    if install::supports_init(&installed.version) {
        phases.insert(phases.len() - 1, "init");
    }
    let mut code = 0;
    for phase in phases {
        // A signal between two phases: the next one never starts.
        if let Some(s) = cancel.signal() {
            report.status = Status::Cancelled;
            crate::log::warn(&format!("cancelled before `packer {phase}`, which was not started"));
            code = s.exit_code();
            break;
        }
        let title = format!("packer {phase}");
        ci.section_start(&format!("packer_{phase}"), &title);
        ci.stop_commands();
        let result = match phase {
            "fmt" => packer.fmt_check(&redactor, cancel).await,
            "init" => packer.init(&redactor, cancel).await,
            "validate" => packer.validate(&redactor, cancel).await,
            _ => packer.build(&cfg.packer_args, &redactor, cancel).await,
        };
        ci.resume_commands();
        ci.section_end(&format!("packer_{phase}"));
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                code = failed(
                    report,
                    Error::failed(format!("cannot run {}: {e}", packer.path.display())),
                );
                break;
            }
        };
        code = record_phase(report, &result, phase);
        if code != 0 {
            break;
        }
    }
    report.warnings.extend(super::stop_renewer(renewer));

    if code == 0
        && mode == Mode::Build
        && let (Some(bucket), Some(fp)) = (&cfg.hcp.bucket, &fingerprint)
    {
        ci.section_start("hcp", "HCP Packer");
        // A build longer than the exchanged token's life: exchange again.
        let workload = match workload {
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
        let (hcp, warnings) = super::hcp::record(cfg, env, &reads, bucket, fp, true, early_hcp, workload).await;
        for w in &warnings {
            crate::log::warn(w);
        }
        report.warnings.extend(warnings);
        report.hcp = Some(hcp);
        ci.section_end("hcp");
    } else if let (Some(bucket), Some(fp)) = (&cfg.hcp.bucket, &fingerprint) {
        report.hcp = Some(crate::report::HcpVersion {
            bucket: bucket.clone(),
            fingerprint: fp.clone(),
            ..Default::default()
        });
    }
    code
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

/// Packer's variables: the secrets, `PKR_VAR_*` from `packer-vars`, and HCP's.
fn packer_env(cfg: &Config, reads: &[Read], fingerprint: Option<&str>) -> Vec<(String, Secret)> {
    let mut env = crate::vault::read::environment(reads);
    env.extend(
        cfg.packer_vars
            .iter()
            .map(|(k, v)| (format!("PKR_VAR_{k}"), Secret::new(v.clone()))),
    );
    if let (Some(bucket), Some(fp)) = (&cfg.hcp.bucket, fingerprint) {
        env.push(("HCP_PACKER_BUCKET_NAME".into(), Secret::new(bucket.clone())));
        env.push(("HCP_PACKER_BUILD_FINGERPRINT".into(), Secret::new(fp)));
        // Packer's hcp-sdk-go publishes where we look the version up.
        if let Some(g) = &cfg.hcp.geography {
            env.push(("HCP_GEOGRAPHY".into(), Secret::new(g.clone())));
        }
    }
    env
}

/// What lets an image be traced back to its commit and secret versions,
/// for `hcp_packer_registry { build_labels = { ... = env("...") } }`:
/// `PACKER_VAULT_SECRETS_DIGEST` (the report's secrets-digest),
/// `PACKER_VAULT_LOCK_FILE_DIGEST` (sha256 of `packer-vault.lock`, when one
/// is used) and `PACKER_VAULT_GIT_SHA` (the CI's commit, else the working
/// directory's `HEAD`).
fn provenance(cfg: &Config, env: &Env, secrets_digest: &str) -> Vec<(String, Secret)> {
    let mut vars = vec![("PACKER_VAULT_SECRETS_DIGEST".to_string(), Secret::new(secrets_digest))];
    if let Some(bytes) = cfg.lock_file.as_ref().and_then(|p| std::fs::read(p).ok()) {
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        vars.push((
            "PACKER_VAULT_LOCK_FILE_DIGEST".into(),
            Secret::new(format!("sha256:{hex}")),
        ));
    }
    let sha = env
        .get("GITHUB_SHA")
        .or_else(|| env.get("CI_COMMIT_SHA"))
        .map(str::to_string)
        .or_else(|| git_head(&cfg.working_directory));
    if let Some(sha) = sha.filter(|s| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit())) {
        vars.push(("PACKER_VAULT_GIT_SHA".into(), Secret::new(sha)));
    }
    vars
}

/// `git rev-parse HEAD` in `dir`, when it is a git checkout.
fn git_head(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn local_fingerprint() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    format!("local-{secs}")
}
