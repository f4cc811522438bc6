//! `packer-vault cascade`: when a golden image's channel moves, rebuild the
//! images built on it, each through its own repository's CI, at most
//! `cascade-parallel` at once. The steps:
//!
//! 1. log in and read the spec (HCP credentials, maybe the dispatch token);
//! 2. plan: HCP's children of the channel, out of date ones by target;
//! 3. run the plan in a sliding window, stopping after `cascade-max-failures`;
//! 4. report (summary, outputs, JSON) and revoke the token.
//!
//! A signal cancels every run this cascade started and exits 130/143.

mod engines;

use super::hcp::Registry;
use super::{fail, unless_cancelled};
use crate::ci::Runner;
use crate::config::Config;
use crate::config::cascade::{Cascade as Settings, Target};
use crate::dispatch::{Run, State};
use crate::env::Platform;
use crate::error::{EXIT_FAILED, EXIT_OK, Error, Result};
use crate::process::{Cancel, Signal};
use crate::report::cascade::{Cascade, Outcome, Row};
use engines::Engines;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

/// The label of a child bucket that names where it is rebuilt.
pub const LABEL: &str = "packer-vault-rebuild";
/// The spec's variable that supplies `cascade-token` from Vault.
pub const TOKEN_VAR: &str = "PACKER_VAULT_CASCADE_TOKEN";

/// Runs `cascade`; exit 0 when every child is rebuilt or none is out of
/// date, 1 when one failed, timed out, was not started or has no target.
pub async fn cascade(cfg: Config, ci: Runner) -> i32 {
    let Some(settings) = cfg.cascade.clone() else {
        return fail(&Error::Usage("cascade: no settings".into()));
    };
    let (cancel, session) = match super::start(&cfg, &ci).await {
        Ok(started) => started,
        Err(stop) => return stop.exit_code(),
    };
    let mut report = Cascade {
        bucket: cfg.hcp.bucket.clone().unwrap_or_default(),
        channel: settings.channel.clone(),
        dry_run: settings.dry_run,
        ..Default::default()
    };
    let code = match run(&cfg, &ci, &session, &cancel, &settings, &mut report).await {
        Ok(code) => code,
        Err(Stop::Failed(e)) => fail(&e),
        Err(Stop::Cancelled(s)) => s.exit_code(),
    };
    publish(&cfg, &ci, &report);
    session.close(&cfg, false).await;
    code
}

/// Why the cascade ended early.
enum Stop {
    Failed(Error),
    Cancelled(Signal),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

async fn run(
    cfg: &Config,
    ci: &Runner,
    session: &crate::session::Session,
    cancel: &Cancel,
    s: &Settings,
    report: &mut Cascade,
) -> std::result::Result<i32, Stop> {
    let (reads, _) = unless_cancelled(cancel, session.read(cfg, ci))
        .await
        .map_err(Stop::Cancelled)??;
    let hcp = unless_cancelled(cancel, Registry::for_command(cfg, ci, &reads))
        .await
        .map_err(Stop::Cancelled)??;
    let parent = unless_cancelled(cancel, plan(&hcp, s, report))
        .await
        .map_err(Stop::Cancelled)??;
    if s.dry_run || report.rows.iter().all(|r| r.outcome != Outcome::Planned) {
        crate::log::info(&format!(
            "cascade plan: {} to rebuild, {} up to date, {} undetermined",
            report.rows.len(),
            report.up_to_date.len(),
            report.undetermined.len()
        ));
        return Ok(if report.failed() { EXIT_FAILED } else { EXIT_OK });
    }
    let token = reads
        .iter()
        .flat_map(|r| r.items.iter())
        .find(|i| i.env == TOKEN_VAR)
        .map(|i| i.value.clone());
    let engines = Engines::new(cfg, ci, s, token)?;
    window(&engines, cancel, s, &parent, report).await?;
    Ok(if report.failed() { EXIT_FAILED } else { EXIT_OK })
}

/// What the parent's channel holds now: for `{fingerprint}`, `{version_id}`
/// and the GitLab variables.
pub(super) struct Parent {
    bucket: String,
    channel: String,
    fingerprint: String,
    version_id: String,
}

/// Step 2: which children are out of date, and where each is rebuilt.
async fn plan(hcp: &Registry, s: &Settings, report: &mut Cascade) -> Result<Parent> {
    let (client, org, project) = (&hcp.client, hcp.org.as_str(), hcp.project.as_str());
    let failed = |f: crate::remote::Failure| Error::failed(format!("HCP Packer: {f}"));
    let bucket = report.bucket.clone();
    let now = client
        .get_channel(org, project, &bucket, &s.channel)
        .await
        .map_err(failed)?
        .ok_or_else(|| Error::failed(format!("HCP Packer: bucket `{bucket}` has no channel `{}`", s.channel)))?;
    let fingerprint = now.fingerprint().unwrap_or_default().to_string();
    let version_id = now.version.as_ref().map(|v| v.id.clone()).unwrap_or_default();
    report.fingerprint = Some(fingerprint.clone()).filter(|f| !f.is_empty());
    let relations = client
        .child_relations(org, project, &bucket, Some(&s.channel))
        .await
        .map_err(failed)?;
    let mut statuses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &relations {
        if let Some(c) = &r.child {
            statuses
                .entry(c.bucket_name.clone())
                .or_default()
                .insert(r.status.clone());
        }
    }
    for (child, seen) in &statuses {
        let up = seen.contains("UP_TO_DATE");
        let out = seen.contains("OUT_OF_DATE");
        let undetermined = seen.contains("UNDETERMINED");
        if up {
            report.up_to_date.push(child.clone());
        } else if out || (undetermined && s.undetermined) {
            let outcome = Outcome::Planned;
            report.rows.push(Row {
                bucket: child.clone(),
                target: None,
                run_url: None,
                outcome,
                seconds: None,
            });
        } else if undetermined {
            report.undetermined.push(child.clone());
        }
    }
    for row in &mut report.rows {
        let text = match s.targets.get(&row.bucket) {
            Some(t) => Some(t.clone()),
            None => client
                .bucket_labels(org, project, &row.bucket)
                .await
                .map_err(failed)?
                .and_then(|l| l.get(LABEL).cloned()),
        };
        match text {
            None => {
                row.outcome = Outcome::NoTarget(format!("no `{LABEL}` label on the bucket and no cascade-targets line"))
            }
            Some(t) => {
                if let Err(why) = Target::parse(&t) {
                    row.outcome = Outcome::NoTarget(why);
                }
                row.target = Some(t);
            }
        }
        crate::log::info(&format!(
            "cascade: `{}` is out of date: {}",
            row.bucket,
            row.target.as_deref().unwrap_or("no target")
        ));
    }
    Ok(Parent {
        bucket,
        channel: s.channel.clone(),
        fingerprint,
        version_id,
    })
}

/// One rebuild in flight: its row, target, run and start.
struct Flight {
    row: usize,
    target: Target,
    run: Run,
    started: Instant,
}

/// Step 3: a sliding window of `parallel` rebuilds; after `max_failures`
/// failed (or timed-out, or refused) ones, none more starts.
async fn window(
    engines: &Engines,
    cancel: &Cancel,
    s: &Settings,
    parent: &Parent,
    report: &mut Cascade,
) -> std::result::Result<(), Stop> {
    let mut queue: VecDeque<usize> = (0..report.rows.len())
        .filter(|&i| report.rows[i].outcome == Outcome::Planned)
        .collect();
    let mut flying: Vec<Flight> = Vec::new();
    let mut failures = 0;
    loop {
        while flying.len() < s.parallel && failures < s.max_failures && cancel.signal().is_none() {
            let Some(i) = queue.pop_front() else { break };
            let row = &mut report.rows[i];
            let Some(Ok(target)) = row.target.as_deref().map(Target::parse) else {
                continue;
            };
            match engines.start(&target, s, parent, &row.bucket).await {
                Ok(run) => {
                    crate::log::info(&format!("cascade: started `{}`: {}", row.bucket, run.url));
                    row.run_url = Some(run.url.clone()).filter(|u| !u.is_empty());
                    flying.push(Flight {
                        row: i,
                        target,
                        run,
                        started: Instant::now(),
                    });
                }
                Err(why) => {
                    crate::log::error(&format!("cascade: `{}` not started: {why}", row.bucket));
                    row.outcome = Outcome::NotDispatched(why);
                    failures += 1;
                }
            }
        }
        if let Some(sig) = cancel.signal() {
            return Err(cancel_all(engines, flying, report, sig).await);
        }
        if flying.is_empty() {
            break;
        }
        if let Err(sig) = unless_cancelled(cancel, tokio::time::sleep(s.poll)).await {
            return Err(cancel_all(engines, flying, report, sig).await);
        }
        let (still, failed) = poll(engines, s, flying, report).await;
        failures += failed;
        flying = still;
        if failures >= s.max_failures && !queue.is_empty() {
            crate::log::warn(&format!(
                "cascade: {failures} rebuilds failed (cascade-max-failures {}): starting no more",
                s.max_failures
            ));
            for i in queue.drain(..) {
                report.rows[i].outcome = Outcome::NotStarted;
            }
        }
    }
    for i in queue {
        report.rows[i].outcome = Outcome::NotStarted;
    }
    Ok(())
}

/// Looks at every run in flight once: each that ended gets its row's
/// outcome (one past `cascade-timeout` is cancelled first); returns the runs
/// still going and how many of the ended ones failed.
async fn poll(engines: &Engines, s: &Settings, flying: Vec<Flight>, report: &mut Cascade) -> (Vec<Flight>, usize) {
    let mut failed = 0;
    let states = futures_util::future::join_all(flying.iter().map(|f| engines.state(&f.target, &f.run))).await;
    let mut still = Vec::new();
    for (f, state) in flying.into_iter().zip(states) {
        let row = &mut report.rows[f.row];
        let took = f.started.elapsed();
        let done = match state {
            Ok(State::Running) if took > s.timeout => {
                engines.cancel(&f.target, &f.run).await;
                Some(Outcome::TimedOut)
            }
            Ok(State::Running) => None,
            Ok(State::Succeeded) => Some(Outcome::Succeeded),
            Ok(State::Failed(word)) => Some(Outcome::Failed(word)),
            // A look that failed is tried again at the next poll.
            Err(why) => {
                crate::log::warn(&format!("cascade: `{}`: {why}", row.bucket));
                None
            }
        };
        match done {
            None => still.push(f),
            Some(outcome) => {
                if outcome.is_failure() {
                    failed += 1;
                    crate::log::error(&format!("cascade: `{}` {:?}: {}", row.bucket, outcome, f.run.url));
                } else {
                    crate::log::info(&format!("cascade: `{}` rebuilt: {}", row.bucket, f.run.url));
                }
                row.outcome = outcome;
                row.seconds = Some(took.as_secs_f64());
            }
        }
    }
    (still, failed)
}

/// Cancels every run in flight, marks the rest not started.
async fn cancel_all(engines: &Engines, flying: Vec<Flight>, report: &mut Cascade, sig: Signal) -> Stop {
    crate::log::warn(&format!(
        "cascade cancelled: cancelling {} runs it started",
        flying.len()
    ));
    let cancels = flying.iter().map(|f| engines.cancel(&f.target, &f.run));
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        futures_util::future::join_all(cancels),
    )
    .await;
    for f in &flying {
        report.rows[f.row].outcome = Outcome::Cancelled;
        report.rows[f.row].seconds = Some(f.started.elapsed().as_secs_f64());
    }
    for row in report.rows.iter_mut().filter(|r| r.outcome == Outcome::Planned) {
        row.outcome = Outcome::NotStarted;
    }
    Stop::Cancelled(sig)
}

/// Step 4: the summary (GitHub) or report file (GitLab) or the terminal,
/// the `cascade` and `matrix` outputs, and `--report-json`.
fn publish(cfg: &Config, ci: &Runner, report: &Cascade) {
    let markdown = crate::log::redact(&report.render());
    match ci.platform {
        Platform::Github => {
            if cfg.summary
                && let Err(e) = crate::export::append_file(&ci.env, "GITHUB_STEP_SUMMARY", &markdown)
            {
                crate::log::warn(&e.to_string());
            }
            let pairs = [("cascade", report.rows_json()), ("matrix", report.matrix_json())];
            let text = crate::export::file_entries(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            if let Err(e) = text.and_then(|t| crate::export::append_file(&ci.env, "GITHUB_OUTPUT", &t)) {
                crate::log::warn(&e.to_string());
            }
        }
        Platform::Gitlab => {
            if cfg.summary {
                crate::publish::gitlab::write_report(&ci.env, &markdown);
            }
        }
        Platform::Local => println!(
            "{}",
            crate::log::neutralize(&crate::report::terminal::render(&markdown))
        ),
    }
    if let Some(path) = &cfg.report_json {
        let mut r = crate::report::Report::new("cascade", &report.bucket);
        r.status = if report.failed() {
            crate::report::Status::Failed
        } else {
            crate::report::Status::Success
        };
        r.lifecycle = Some(crate::report::Lifecycle {
            op: "cascade".into(),
            dry_run: report.dry_run,
            outcome: format!(
                "{} of {} children rebuilt",
                report.rows.iter().filter(|r| r.outcome == Outcome::Succeeded).count(),
                report.rows.len()
            ),
            ..Default::default()
        });
        let opts = crate::publish::Options::of(cfg);
        crate::publish::write_json(ci.platform, &ci.env, &r, &opts, path);
    }
}
