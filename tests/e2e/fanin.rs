//! Many images, one pull request: three matrix builds write JSON reports
//! (`report-json`, `comment: never`), and `packer-vault report` fans them
//! back in: one summary and one sticky comment (and the MR note on GitLab)
//! with a row per image, failed first; a re-run edits the same comment; a
//! corrupt report is named and the rest still published.

use crate::github::{GITHUB_TOKEN, job};
use crate::support::github_api::GithubApi;
use crate::support::gitlab_api::GitlabApi;
use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, GithubOidc, Outcome, gitlab_env};
use std::path::{Path, PathBuf};

const MARKER: &str = "<!-- packer-vault-report:images -->";

fn template(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(name)
        .display()
        .to_string()
}

/// The three jobs of the matrix; returns the folder of their JSON reports.
fn matrix(f: &Fixture, oidc: &GithubOidc, api: &GithubApi, hcp: &HcpStandIn) -> PathBuf {
    let reports = support::scratch_dir("fanin_reports");
    for (bucket, tpl, ok) in [
        ("base", "examples/null", true),
        ("app", "examples/null", true),
        ("broken", "tests/fixtures/templates/fail", false),
    ] {
        let dir = support::scratch_dir("fanin_job");
        let json = reports.join(format!("{bucket}.json")).display().to_string();
        let tpl = template(tpl);
        let (mut cmd, _) = job(
            f,
            oidc,
            api,
            &dir,
            &[("hcp-bucket", bucket), ("comment", "never"), ("report-json", &json)],
        );
        // The positional template outranks the step input.
        cmd.arg(&tpl)
            .env("HCP_AUTH_URL", hcp.uri())
            .env("HCP_API_ADDRESS", hcp.uri())
            .env("HCP_PORTAL_URL", "https://portal.example.test");
        let out = support::run(cmd);
        assert_eq!(out.status.success(), ok, "{bucket}: {}", out.stderr);
        assert!(
            Path::new(&json).is_file(),
            "{bucket} wrote its JSON report, on failure too"
        );
    }
    reports
}

fn report_job(oidc: &GithubOidc, api: &GithubApi, reports: &Path) -> (Outcome, String) {
    let dir = support::scratch_dir("fanin_report");
    let mut gh = oidc.env(&dir);
    gh.set("GITHUB_API_URL", &api.uri());
    gh.set("GITHUB_WORKFLOW", "images");
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
        .env("INPUT_REPORTS", format!("{}/*.json", reports.display()))
        // The workflow's HCP settings, as in its build jobs: version links
        // in the reports must point at this portal.
        .env("HCP_PORTAL_URL", "https://portal.example.test")
        .arg("report");
    let out = support::run(cmd);
    (out, gh.read_summary())
}

#[test]
fn three_matrix_jobs_fan_in_to_one_comment_and_one_summary() {
    let f = Fixture::new("fanin");
    let oidc = GithubOidc::start("request-token-fanin");
    let api = GithubApi::start(GITHUB_TOKEN);
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    // The default fingerprint: <GITHUB_SHA 12>-<run id>-<attempt>, one per bucket.
    let base = hcp.add_version("base", "fedcba987654-9876543210-1", 0);
    let app = hcp.add_version("app", "fedcba987654-9876543210-1", 0);
    let reports = matrix(&f, &oidc, &api, &hcp);
    assert!(api.comments_on(42).is_empty(), "comment: never in the matrix");

    let (out, summary) = report_job(&oidc, &api, &reports);
    out.assert_success();
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1, "one comment for the whole matrix: {comments:?}");
    let body = &comments[0].body;
    assert!(body.starts_with(MARKER), "{body}");
    for id in [&base, &app] {
        assert!(
            body.contains(&format!("/versions/{id})")),
            "the version link of {id}:\n{body}"
        );
        assert!(summary.contains(&format!("/versions/{id})")), "{summary}");
    }
    assert!(body.contains("3 images, 1 failed"), "{body}");
    let (broken, first_ok) = (
        body.find("`broken`").expect("the failed row"),
        body.find("`base`").expect("a row"),
    );
    assert!(broken < first_ok, "failed images first:\n{body}");
    assert!(body.contains("❌ failed (exit 1)"), "{body}");
    assert!(summary.contains("| Image | Result | Version |"), "{summary}");

    // A re-run edits the same comment.
    report_job(&oidc, &api, &reports).0.assert_success();
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].edits, 1);

    // A corrupt report is named; the others still appear.
    std::fs::write(reports.join("zzz-corrupt.json"), "{\"format\": 1, truncated").expect("corrupt");
    std::fs::write(reports.join("foreign.json"), "{\"name\": \"not ours\"}").expect("foreign");
    let (out, summary) = report_job(&oidc, &api, &reports);
    out.assert_success();
    assert!(
        summary.contains("zzz-corrupt.json`") && summary.contains("unreadable"),
        "{summary}"
    );
    assert!(
        summary.contains("foreign.json`") && summary.contains("no `format`"),
        "{summary}"
    );
    assert!(summary.contains(&format!("/versions/{base})")), "{summary}");
    assert!(
        out.stderr.contains("zzz-corrupt.json: not a packer-vault report"),
        "{}",
        out.stderr
    );

    // No secret in any JSON report, summary or comment.
    for entry in std::fs::read_dir(&reports).expect("reports").flatten() {
        f.assert_no_secret(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    f.assert_no_secret(&summary);
    f.assert_no_secret(&api.comments_on(42)[0].body);

    // GitLab: the same reports, one MR note of its own, updated on a re-run.
    let gl = GitlabApi::start("glpat-fanin0123456789abcd");
    gl.add_merge_request(42);
    let note = || {
        let dir = support::scratch_dir("fanin_gitlab");
        let mut cmd = support::bin();
        cmd.envs(gitlab_env(&f, &dir))
            .env("CI_API_V4_URL", gl.api_url())
            .env("CI_JOB_NAME", "images-report")
            .env("HCP_PORTAL_URL", "https://portal.example.test")
            // These reports came from the GitHub jobs above: their run links
            // point at that server (a report's links must point at the CI's).
            .env("CI_SERVER_URL", "https://github.com")
            .env("PACKER_VAULT_GITLAB_TOKEN", &gl.token)
            .env(
                "PACKER_VAULT_REPORTS",
                format!("{}/base.json\n{}/broken.json", reports.display(), reports.display()),
            )
            .arg("report");
        let out = support::run(cmd);
        out.assert_success();
        (
            out,
            std::fs::read_to_string(dir.join("project/packer-vault-report.md")).unwrap_or_default(),
        )
    };
    let (_, file) = note();
    assert!(file.contains("2 images, 1 failed"), "{file}");
    note();
    let bodies = gl.note_bodies(42);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0].starts_with("<!-- packer-vault-report:images-report -->"),
        "{}",
        bodies[0]
    );
    assert_eq!(gl.requests_to("PUT", "/notes/").len(), 1, "the re-run updated it");
    f.assert_no_secret(&bodies[0]);
}
