//! A burst of 200 jobs at once, as a matrix of a large fleet sends them:
//! each logs in to Vault, reads the HCP credentials and a leased Azure
//! secret, promotes its bucket's version in HCP Packer and comments on its
//! pull request, with 429s and `Retry-After` injected by Vault, HCP and
//! GitHub (GitHub's secondary limit, 403 with `retry-after`, and its primary
//! one, `x-ratelimit-remaining: 0` with `x-ratelimit-reset`). Every job
//! exits 0, every token is revoked, no lease is left, and the requests per
//! job stay what one job alone sends (each injected refusal costs exactly
//! one more). Loopback only, bounded to 200 processes.

use crate::exec::{accessor, revoked};
use crate::github::GITHUB_TOKEN;
use crate::support::clouds::CloudEngines;
use crate::support::github_api::GithubApi;
use crate::support::hcp::HcpStandIn;
use crate::support::proxy::{Fault, Proxy};
use crate::support::{self, Fixture, GithubOidc, Outcome};
use serde_json::json;
use std::time::{Duration, Instant};

const JOBS: usize = 200;
const FINGERPRINT: &str = "fp-burst";

struct Stage {
    f: Fixture,
    oidc: GithubOidc,
    vault: CloudEngines,
    hcp: HcpStandIn,
    hcp_proxy: Proxy,
    api: GithubApi,
    gh_proxy: Proxy,
}

impl Stage {
    fn job(&self, i: usize) -> std::process::Command {
        let dir = support::scratch_dir("burst");
        let mut gh = self.oidc.env(&dir);
        gh.set("GITHUB_API_URL", self.gh_proxy.addr());
        gh.set("GITHUB_EVENT_NAME", "pull_request");
        let pr = 1000 + i as u64;
        std::fs::write(
            &gh.event_file,
            json!({ "number": pr, "pull_request": { "number": pr } }).to_string(),
        )
        .expect("event");
        let mut cmd = support::bin();
        cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
            .env("INPUT_VAULT-ADDR", self.vault.addr())
            .env("INPUT_ROLE", &self.f.github_role)
            .env("INPUT_AUTH-PATH", self.f.auth_path())
            .env("INPUT_JWT-AUDIENCE", &self.f.github_aud)
            .env(
                "INPUT_SECRETS",
                format!(
                    "{m}/data/ci/hcp client_id | HCP_CLIENT_ID ; {m}/data/ci/hcp client_secret | HCP_CLIENT_SECRET ; \
                     azure/creds/burst | azure",
                    m = self.f.kv2_mount
                ),
            )
            .env("INPUT_HCP-BUCKET", format!("bucket-{i}"))
            .env("INPUT_VERSION-FINGERPRINT", FINGERPRINT)
            .env("INPUT_CHANNEL", "dev")
            .env("INPUT_CREATE-CHANNEL", "true")
            .env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
            .env("HCP_AUTH_URL", self.hcp_proxy.addr())
            .env("HCP_API_ADDRESS", self.hcp_proxy.addr())
            .current_dir(&gh.workspace)
            .arg("promote");
        cmd
    }

    /// Runs jobs `range` all at once; returns their outcomes.
    fn run(&self, range: std::ops::Range<usize>) -> Vec<Outcome> {
        std::thread::scope(|s| {
            let handles: Vec<_> = range.map(|i| s.spawn(move || support::run(self.job(i)))).collect();
            handles.into_iter().map(|h| h.join().expect("a job thread")).collect()
        })
    }

    /// Requests each stand-in saw, and how many of them were refused on purpose.
    fn counts(&self) -> [(usize, usize); 3] {
        [self.vault.proxy(), &self.hcp_proxy, &self.gh_proxy].map(|p| {
            let seen = p.requests();
            let faulted = seen
                .iter()
                .filter(|s| s.fault.as_deref().is_some_and(|f| f != "intercepted"))
                .count();
            (seen.len(), faulted)
        })
    }
}

#[test]
fn a_burst_of_200_jobs_with_rate_limits_everywhere() {
    let f = Fixture::new("burst");
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    for i in 0..=JOBS {
        hcp.add_version(&format!("bucket-{i}"), FINGERPRINT, 0);
    }
    let api = GithubApi::start(GITHUB_TOKEN);
    let stage = Stage {
        oidc: GithubOidc::start("request-token-burst"),
        vault: CloudEngines::start(),
        hcp_proxy: Proxy::start(&hcp.uri()),
        gh_proxy: Proxy::start(&api.uri()),
        f,
        hcp,
        api,
    };

    // One job alone: what a job sends.
    let alone = stage.run(JOBS..JOBS + 1);
    alone[0].assert_success();
    let one = stage.counts().map(|(n, _)| n);

    // Then 200 at once, with the three services refusing some of them.
    stage.vault.proxy().fail_next_on(
        &format!("/v1/{}/data/ci/hcp", stage.f.kv2_mount),
        60,
        Fault::rate_limited(1),
    );
    stage.hcp_proxy.fail_next_on(
        "/packer/",
        60,
        Fault::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
            body: r#"{"code":8,"message":"rate limit exceeded","details":[]}"#.into(),
        },
    );
    stage.gh_proxy.fail_next_on(
        "/repos/",
        30,
        Fault::Respond {
            status: 403,
            headers: vec![("retry-after".into(), "1".into())],
            body: json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "403"
            })
            .to_string(),
        },
    );
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 2;
    stage.gh_proxy.fail_next_on(
        "/repos/",
        30,
        Fault::Respond {
            status: 403,
            headers: vec![
                ("x-ratelimit-limit".into(), "5000".into()),
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-reset".into(), reset.to_string()),
            ],
            body: json!({
                "message": "API rate limit exceeded for installation ID 4242.",
                "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
                "status": "403"
            })
            .to_string(),
        },
    );
    let before = stage.counts();
    let started = Instant::now();
    let outs = stage.run(0..JOBS);
    let elapsed = started.elapsed();
    let failed: Vec<String> = outs
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.status.success())
        .map(|(i, o)| format!("job {i}: {}", o.stderr.lines().last().unwrap_or_default()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {JOBS} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );

    // Every token revoked, no lease left, one comment per pull request.
    for out in &outs {
        assert!(revoked(&accessor(out)), "{}", out.stderr);
        stage.f.assert_no_secret(&crate::exec::shown(out));
    }
    assert!(stage.vault.live_leases().is_empty(), "{:?}", stage.vault.live_leases());
    for i in 0..JOBS {
        let comments = stage.api.comments_on(1000 + i as u64);
        assert_eq!(comments.len(), 1, "PR {}: {comments:?}", 1000 + i);
        assert_eq!(
            stage.hcp.channel(&format!("bucket-{i}"), "dev").as_deref(),
            Some(FINGERPRINT)
        );
    }

    // Requests per job: flat. Each refusal costs one request more, nothing else.
    let after = stage.counts();
    let mut figures = Vec::new();
    for (k, name) in ["Vault", "HCP", "GitHub"].iter().enumerate() {
        let sent = after[k].0 - before[k].0;
        let refused = after[k].1 - before[k].1;
        assert!(refused > 0, "{name}: faults were injected");
        assert_eq!(
            sent - refused,
            JOBS * one[k],
            "{name}: {sent} requests, {refused} refused, {} per job alone",
            one[k]
        );
        figures.push(format!("{name} {} requests/job (+{refused} refused)", one[k]));
    }
    eprintln!(
        "burst: {JOBS} jobs in {:.1} s, all exit 0; {}",
        elapsed.as_secs_f64(),
        figures.join(", ")
    );
    assert!(elapsed < Duration::from_secs(600));
}
