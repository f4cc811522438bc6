//! The cascade: when the golden image's channel moves, the images built on
//! it are rebuilt through their own repositories' pipelines, at most
//! `cascade-parallel` at once, stopping after `cascade-max-failures`, and
//! a signal cancels what it started. HCP's ancestry and labels, GitHub's
//! dispatches and runs, GitLab's triggers and pipelines are stand-ins with
//! the real shapes; Vault is the real OpenBao.

use crate::exec::{accessor, revoked};
use crate::lifecycle::outputs;
use crate::support::ci_runs::{CiRuns, Workflow};
use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, GithubEnv, GithubOidc, Outcome, bao, gitlab_env};
use serde_json::{Value, json};
use std::time::Duration;

const APP_TOKEN: &str = "ghs_cascadeAppInstallation0123456789abcdef";
const JOB_TOKEN: &str = "ghs_cascadeJobToken0123456789abcdefABCD";

/// The golden image: `production` moved from fp-old to fp-new.
struct Golden {
    f: Fixture,
    hcp: HcpStandIn,
    runs: CiRuns,
}

impl Golden {
    fn new(name: &str) -> Golden {
        let f = Fixture::new(name);
        let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
        hcp.add_version("golden", "fp-old", 0);
        hcp.add_version("golden", "fp-new", 0);
        hcp.add_channel("golden", "production", "fp-new");
        Golden {
            f,
            hcp,
            runs: CiRuns::start(),
        }
    }

    /// A child image of `production`, built from fp-old (out of date),
    /// rebuilt by `target` (its bucket label) with `wf`.
    fn child(&self, bucket: &str, target: Option<&str>, wf: Workflow) {
        let fp = format!("{bucket}-fp-1");
        self.hcp.add_version(bucket, &fp, 0);
        self.hcp
            .add_child_from_channel("golden", "production", "fp-old", bucket, &fp);
        if let Some(t) = target {
            self.hcp
                .set_bucket_labels(bucket, &[("packer-vault-rebuild", t), ("team", "apps")]);
            if let Some(rest) = t.strip_prefix("github:") {
                let (what, _) = rest.split_once('@').expect("@");
                let (repo, workflow) = what.split_once(':').expect(":");
                self.runs.add_workflow(repo, workflow, wf);
            } else if let Some(rest) = t.strip_prefix("gitlab:") {
                self.runs.add_project(rest.split_once('@').expect("@").0, wf);
            }
        }
    }

    /// `packer-vault cascade` as a GitHub job of acme/images, the HCP
    /// credentials (and `extra` spec lines) read from Vault.
    fn github(
        &self,
        dir: &std::path::Path,
        extra_spec: &str,
        with: &[(&str, &str)],
    ) -> (std::process::Command, GithubEnv) {
        let oidc = GithubOidc::start("request-token-cascade");
        let mut gh = oidc.env(dir);
        gh.set("GITHUB_API_URL", &self.runs.github_api());
        let m = &self.f.kv2_mount;
        let mut cmd = support::bin();
        cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
            .env("INPUT_VAULT-ADDR", &bao().addr)
            .env("INPUT_ROLE", &self.f.github_role)
            .env("INPUT_AUTH-PATH", self.f.auth_path())
            .env("INPUT_JWT-AUDIENCE", &self.f.github_aud)
            .env(
                "INPUT_SECRETS",
                format!("{m}/data/ci/hcp client_id | HCP_CLIENT_ID ; {m}/data/ci/hcp client_secret | HCP_CLIENT_SECRET ; {extra_spec}"),
            )
            .env("INPUT_HCP-BUCKET", "golden")
            .env("INPUT_CHANNEL", "production")
            .env("INPUT_CASCADE-POLL", "1")
            .env("INPUT_GITHUB-TOKEN", JOB_TOKEN)
            .env("HCP_AUTH_URL", self.hcp.uri())
            .env("HCP_API_ADDRESS", self.hcp.uri())
            .env("HCP_PORTAL_URL", "https://portal.example.test")
            .current_dir(&gh.workspace)
            .arg("cascade");
        for (k, v) in with {
            cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
        }
        // Keep the OIDC stand-in alive for the run.
        std::mem::forget(oidc);
        (cmd, gh)
    }

    /// No token, secret or credential in any output.
    #[track_caller]
    fn clean(&self, out: &Outcome, gh: Option<&GithubEnv>) {
        let mut text = crate::exec::shown(out);
        if let Some(gh) = gh {
            text.push_str(&gh.read_all_files());
        }
        self.f.assert_no_secret(&text);
        for token in [APP_TOKEN, JOB_TOKEN] {
            support::assert_no_labeled_secret(&text, &[("a dispatch token", token)]);
        }
        assert!(revoked(&accessor(out)), "the Vault token is revoked");
    }
}

fn quick(fails: bool) -> Workflow {
    Workflow {
        duration: Duration::from_millis(1200),
        fails,
        inputs: None,
    }
}

#[test]
fn a_dozen_out_of_date_children_are_planned_then_rebuilt_within_the_window() {
    let g = Golden::new("cascade_dozen");
    for i in 1..=12 {
        let r#ref = if i == 3 { "release/v2" } else { "main" };
        g.child(
            &format!("app-{i:02}"),
            Some(&format!("github:acme/app-{i:02}:image.yml@{ref}")),
            Workflow {
                inputs: Some(vec!["parent".into()]),
                ..quick(false)
            },
        );
    }
    // Rebuilt already from what production holds now: up to date.
    g.child("app-up", Some("github:acme/app-up:image.yml@main"), quick(false));
    g.hcp.add_version("app-up", "app-up-fp-2", 0);
    g.hcp
        .add_child_from_channel("golden", "production", "fp-new", "app-up", "app-up-fp-2");
    // HCP cannot say: left alone.
    g.hcp.add_version("app-und", "app-und-fp-1", 0);
    g.hcp
        .add_untracked_child("golden", "production", "fp-old", "app-und", "app-und-fp-1");
    g.runs.allow_app_token(APP_TOKEN);
    bao().write_kv2(&g.f.kv2_mount, "ci/cascade", &json!({"token": APP_TOKEN}));
    let token_spec = format!("{}/data/ci/cascade token | PACKER_VAULT_CASCADE_TOKEN", g.f.kv2_mount);

    // The plan: the twelve, nothing started.
    let dir = support::scratch_dir("cascade_dozen_plan");
    let (mut cmd, gh) = g.github(&dir, &token_spec, &[("dry-run", "true"), ("cascade-parallel", "3")]);
    let out = support::run(&mut cmd);
    out.assert_success();
    assert!(g.runs.runs().is_empty(), "a dry run starts nothing");
    let o = outputs(&gh);
    let matrix: Value = serde_json::from_str(&o["matrix"]).expect("matrix JSON");
    let planned: Vec<&str> = matrix["include"]
        .as_array()
        .expect("include")
        .iter()
        .map(|e| e["bucket"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(planned, (1..=12).map(|i| format!("app-{i:02}")).collect::<Vec<_>>());
    let summary = gh.read_summary();
    assert!(
        summary.contains("12 out of date, 1 up to date, 1 undetermined"),
        "{summary}"
    );
    assert!(
        g.hcp.requests_to("GET", "/buckets/golden/ancestry").len() >= 2,
        "every page of the ancestry was read"
    );
    g.clean(&out, Some(&gh));

    // The cascade: each child once, to its label's target, three at a time.
    let dir = support::scratch_dir("cascade_dozen_run");
    let (mut cmd, gh) = g.github(
        &dir,
        &token_spec,
        &[
            ("cascade-parallel", "3"),
            ("cascade-inputs", "parent={bucket}@{fingerprint}"),
        ],
    );
    let out = support::run(&mut cmd);
    out.assert_success();
    let runs = g.runs.runs();
    assert_eq!(runs.len(), 12, "each child once");
    for i in 1..=12 {
        let repo = format!("acme/app-{i:02}");
        let r = runs
            .iter()
            .find(|r| r.repo == repo)
            .unwrap_or_else(|| panic!("{repo} was rebuilt"));
        assert_eq!(r.git_ref, if i == 3 { "release/v2" } else { "main" });
        assert_eq!(r.inputs.get("parent").map(String::as_str), Some("golden@fp-new"));
        assert_eq!(r.token, APP_TOKEN, "the token read from Vault");
    }
    assert!(!runs.iter().any(|r| r.repo == "acme/app-up"), "up to date: not rebuilt");
    let most = g.runs.most_in_flight();
    assert!(most <= 3, "never more than cascade-parallel at once ({most})");
    assert!(most >= 2, "the window is used ({most})");
    let summary = gh.read_summary();
    for r in &runs {
        assert!(summary.contains(&format!("actions/runs/{})", r.id)), "{summary}");
    }
    assert!(summary.contains("12 rebuilt"), "{summary}");
    let rows: Value = serde_json::from_str(&outputs(&gh)["cascade"]).expect("cascade JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(12));
    g.clean(&out, Some(&gh));
}

#[test]
fn after_max_failures_no_more_start_and_the_rest_are_listed() {
    let g = Golden::new("cascade_failures");
    for i in 1..=5 {
        g.child(
            &format!("app-{i}"),
            Some(&format!("github:acme/app-{i}:image.yml@main")),
            quick(true),
        );
    }
    g.runs.allow_app_token(APP_TOKEN);
    let dir = support::scratch_dir("cascade_failures");
    let (mut cmd, gh) = g.github(
        &dir,
        "",
        &[
            ("cascade-parallel", "1"),
            ("cascade-max-failures", "2"),
            ("cascade-token", APP_TOKEN),
        ],
    );
    let out = support::run(&mut cmd);
    out.assert_code(1);
    assert_eq!(g.runs.runs().len(), 2, "exactly two started");
    let summary = gh.read_summary();
    assert_eq!(
        summary.matches("not started").count(),
        3 + 1,
        "three rows and the totals: {summary}"
    );
    assert!(summary.contains("2 failed"), "{summary}");
    g.clean(&out, Some(&gh));
}

#[test]
fn sigterm_cancels_the_runs_it_started_and_exits_143() {
    let g = Golden::new("cascade_sigterm");
    for i in 1..=4 {
        g.child(
            &format!("app-{i}"),
            Some(&format!("github:acme/app-{i}:image.yml@main")),
            Workflow {
                duration: Duration::from_secs(120),
                fails: false,
                inputs: None,
            },
        );
    }
    g.runs.allow_app_token(APP_TOKEN);
    let dir = support::scratch_dir("cascade_sigterm");
    let (mut cmd, _) = g.github(&dir, "", &[("cascade-parallel", "2"), ("cascade-token", APP_TOKEN)]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    // Both slots are taken before the signal.
    let started = std::time::Instant::now();
    while g.runs.runs().len() < 2 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = support::cancel_after_line(child, "", pid, 0);
    assert_eq!(out.code(), Some(143), "{}", out.combined());
    let runs = g.runs.runs();
    assert_eq!(runs.len(), 2, "nothing more started");
    assert!(runs.iter().all(|r| r.cancelled), "every run it started is cancelled");
    assert!(out.elapsed < Duration::from_secs(15), "{:?}", out.elapsed);
    assert!(revoked(&accessor(&out)));
}

#[test]
fn the_jobs_own_token_cannot_dispatch_elsewhere_and_the_error_names_cascade_token() {
    let g = Golden::new("cascade_job_token");
    g.child("app-x", Some("github:acme/app-x:image.yml@main"), quick(false));
    g.runs.set_job_token(JOB_TOKEN, "acme/images");
    let dir = support::scratch_dir("cascade_job_token");
    let (mut cmd, _) = g.github(&dir, "", &[]);
    let out = support::run(&mut cmd);
    out.assert_code(1);
    assert!(out.stderr.contains("cascade-token"), "{}", out.stderr);
    assert!(g.runs.runs().is_empty(), "nothing dispatched");
    g.clean(&out, None);
}

#[test]
fn an_old_github_without_run_details_is_asked_again_and_the_run_found() {
    let g = Golden::new("cascade_ghes");
    g.child("app-e", Some("github:acme/app-e:image.yml@main"), quick(false));
    g.runs.allow_app_token(APP_TOKEN);
    g.runs.old_github();
    let dir = support::scratch_dir("cascade_ghes");
    let (mut cmd, gh) = g.github(&dir, "", &[("cascade-token", APP_TOKEN)]);
    let out = support::run(&mut cmd);
    out.assert_success();
    let reqs = g.runs.requests();
    let dispatches: Vec<u16> = reqs
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/dispatches"))
        .map(|(_, _, s)| *s)
        .collect();
    assert_eq!(dispatches, vec![400, 204], "refused with the field, accepted without");
    let id = g.runs.runs()[0].id;
    assert!(
        gh.read_summary().contains(&format!("actions/runs/{id})")),
        "the run was found"
    );
    g.clean(&out, Some(&gh));
}

#[test]
fn a_child_without_a_target_is_named_and_the_others_still_run() {
    let g = Golden::new("cascade_no_target");
    g.child("app-a", Some("github:acme/app-a:image.yml@main"), quick(false));
    g.child("app-b", None, quick(false));
    g.child("app-c", Some("svn:acme/app-c"), quick(false));
    g.runs.allow_app_token(APP_TOKEN);
    let dir = support::scratch_dir("cascade_no_target");
    let (mut cmd, gh) = g.github(&dir, "", &[("cascade-token", APP_TOKEN)]);
    let out = support::run(&mut cmd);
    out.assert_code(1);
    assert_eq!(g.runs.runs().len(), 1, "app-a still ran");
    let summary = gh.read_summary();
    assert!(
        summary.contains("`app-b`") && summary.contains("no target"),
        "{summary}"
    );
    assert!(
        summary.contains("`app-c`") && summary.contains("neither github: nor gitlab:"),
        "{summary}"
    );
    g.clean(&out, Some(&gh));
}

#[test]
fn on_gitlab_pipelines_are_triggered_with_the_job_token_and_the_parents_variables() {
    let g = Golden::new("cascade_gitlab");
    for i in 1..=4 {
        g.child(
            &format!("app-{i}"),
            Some(&format!("gitlab:acme/apps/app-{i}@main")),
            quick(false),
        );
    }
    let job_token = "glcbt-cascadeJobToken0123";
    g.runs.allow_trigger_token(job_token);
    let dir = support::scratch_dir("cascade_gitlab");
    let m = &g.f.kv2_mount;
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&g.f, &dir))
        .env("CI_API_V4_URL", g.runs.gitlab_api())
        .env("CI_JOB_TOKEN", job_token)
        .env("VAULT_AUTH_ROLE", &g.f.gitlab_role)
        .env("VAULT_AUTH_PATH", g.f.auth_path())
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{m}/data/ci/hcp client_id | HCP_CLIENT_ID ; {m}/data/ci/hcp client_secret | HCP_CLIENT_SECRET"),
        )
        .env("PACKER_VAULT_HCP_BUCKET", "golden")
        .env("PACKER_VAULT_CHANNEL", "production")
        .env("PACKER_VAULT_CASCADE_POLL", "1")
        .env("PACKER_VAULT_CASCADE_PARALLEL", "2")
        .env("HCP_AUTH_URL", g.hcp.uri())
        .env("HCP_API_ADDRESS", g.hcp.uri())
        .arg("cascade");
    let out = support::run(&mut cmd);
    out.assert_success();
    let runs = g.runs.runs();
    assert_eq!(runs.len(), 4);
    for r in &runs {
        assert_eq!(r.token, job_token, "CI_JOB_TOKEN triggers");
        assert_eq!(
            r.inputs.get("PACKER_VAULT_PARENT_BUCKET").map(String::as_str),
            Some("golden")
        );
        assert_eq!(
            r.inputs.get("PACKER_VAULT_PARENT_CHANNEL").map(String::as_str),
            Some("production")
        );
        assert_eq!(
            r.inputs.get("PACKER_VAULT_PARENT_FINGERPRINT").map(String::as_str),
            Some("fp-new")
        );
    }
    assert!(g.runs.most_in_flight() <= 2, "{}", g.runs.most_in_flight());
    let report = std::fs::read_to_string(dir.join("project/packer-vault-report.md")).expect("the report file");
    assert!(
        report.contains("4 rebuilt") && report.contains("/-/pipelines/"),
        "{report}"
    );
    support::assert_no_labeled_secret(&out.combined(), &[("job token", job_token)]);
    g.clean(&out, None);
}

/// A hundred and twenty children, ten at a time: each dispatched once, the
/// window kept, and the requests per child flat (one dispatch, a few polls).
#[test]
fn a_cascade_of_120_children_keeps_its_window() {
    let g = Golden::new("cascade_120");
    for i in 1..=120 {
        g.child(
            &format!("app-{i:03}"),
            Some(&format!("github:acme/app-{i:03}:image.yml@main")),
            Workflow {
                duration: Duration::from_millis(300),
                fails: false,
                inputs: None,
            },
        );
    }
    g.runs.allow_app_token(APP_TOKEN);
    let dir = support::scratch_dir("cascade_120");
    let (mut cmd, gh) = g.github(&dir, "", &[("cascade-parallel", "10"), ("cascade-token", APP_TOKEN)]);
    let out = support::run_with_timeout(&mut cmd, Duration::from_secs(120));
    out.assert_success();
    let runs = g.runs.runs();
    assert_eq!(runs.len(), 120);
    assert!(g.runs.most_in_flight() <= 10, "{}", g.runs.most_in_flight());
    let requests = g.runs.requests().len();
    assert!(requests <= 120 * 3, "requests per child stay flat: {requests} for 120");
    eprintln!("cascade of 120: {requests} requests to the CI, {:?}", out.elapsed);
    g.clean(&out, Some(&gh));
}

/// A child workflow that does not declare an input of `cascade-inputs`:
/// GitHub answers 422, and the row says what the workflow must declare.
#[test]
fn an_undeclared_input_is_refused_and_the_row_says_what_to_declare() {
    let g = Golden::new("cascade_422");
    g.child(
        "app-z",
        Some("github:acme/app-z:image.yml@main"),
        Workflow {
            inputs: Some(vec![]),
            ..quick(false)
        },
    );
    g.runs.allow_app_token(APP_TOKEN);
    let dir = support::scratch_dir("cascade_422");
    let (mut cmd, gh) = g.github(
        &dir,
        "",
        &[("cascade-token", APP_TOKEN), ("cascade-inputs", "parent={fingerprint}")],
    );
    let out = support::run(&mut cmd);
    out.assert_code(1);
    assert!(g.runs.runs().is_empty());
    let summary = gh.read_summary();
    assert!(
        summary.contains("Unexpected inputs provided") && summary.contains("workflow_dispatch"),
        "{summary}"
    );
    g.clean(&out, Some(&gh));
}
