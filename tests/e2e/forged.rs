//! Security review 3: what a pull request or a neighbour can put in our
//! way. Forged fan-in reports and hostile names render as text or are named
//! unreadable; privileged inputs never come from the repository's config
//! file; written files never follow a committed link; a slow GitLab cannot
//! hold the step.

use crate::github::GITHUB_TOKEN;
use crate::support::github_api::GithubApi;
use crate::support::gitlab_api::GitlabApi;
use crate::support::{self, Fixture, GithubOidc, gitlab_env};
use std::path::{Path, PathBuf};
use std::time::Duration;

const GITLAB_TOKEN: &str = "glpat-forged0123456789abcd";
const PORTAL: &str = "https://portal.example.test";

/// A report as a build of ours writes it, with `fields` replaced.
fn report(fields: serde_json::Value) -> String {
    let mut r = serde_json::json!({
        "format": 1, "command": "build", "template": "images/app", "bucket": "app",
        "result": "success", "exit_code": 0, "packer_version": "1.11.2",
        "hcp": {
            "bucket": "app", "fingerprint": "0123456789ab-1-1", "version_id": "01HVAPP",
            "version_name": "v4", "url": format!("{PORTAL}/services/packer/buckets/app/versions/01HVAPP"),
            "channel": "dev"
        },
        "artifacts": [], "secrets_digest": "sha256:0a1b2c", "secrets": [], "phases": [],
        "duration_seconds": 42.0, "errors": [], "warnings": [],
        "run_url": "https://github.com/acme/images/actions/runs/1"
    });
    if let (Some(r), Some(f)) = (r.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            r.insert(k.clone(), v.clone());
        }
    }
    r.to_string()
}

/// Nothing a report said renders: no mention, link, image or HTML outside
/// code, and no line that starts with a quick action.
#[track_caller]
fn inert(body: &str) {
    let free = crate::props::checks::outside_code(body);
    for bad in ["@acme", "evil.example", "<img", "<script", "##[error"] {
        assert!(!free.contains(bad), "`{bad}` renders:\n{body}");
    }
    for line in body.lines() {
        assert!(
            !line.starts_with("/approve") && !line.starts_with("/merge"),
            "a quick action: {line}\n{body}"
        );
    }
}

fn forged_reports(dir: &Path) -> PathBuf {
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).expect("mkdir");
    let hostile = "a` @acme/admins <img src=x> [x](https://evil.example) ##[error]boom --> `b";
    let files = [
        ("good.json", report(serde_json::json!({}))),
        (
            "names.json",
            report(serde_json::json!({
                "template": hostile,
                "result": "failed", "exit_code": 1,
                "errors": ["boom\n/approve\n/merge", "@acme/admins <img src=x> ```\n/approve"],
                "artifacts": [{"build": hostile, "id": "ami-1 @acme", "region": "<script>"}],
            })),
        ),
        ("duration.json", report(serde_json::json!({"duration_seconds": 1e300}))),
        (
            "link.json",
            report(serde_json::json!({"run_url": "https://evil.example/@acme"})),
        ),
        (
            "version.json",
            report(serde_json::json!({"hcp": {"bucket": "app", "fingerprint": "f",
                "version_name": "v1](https://evil.example) @acme", "url": format!("{PORTAL}/x")}})),
        ),
        (
            "digest.json",
            report(serde_json::json!({"secrets_digest": "[x](https://evil.example) @acme"})),
        ),
        (
            "version-text.json",
            report(serde_json::json!({"packer_version": "<img src=x> @acme"})),
        ),
    ];
    for (name, text) in files {
        std::fs::write(reports.join(name), text).expect("write");
    }
    reports
}

#[test]
fn forged_reports_render_as_text_or_are_named_unreadable() {
    let f = Fixture::new("forged_reports");
    let dir = support::scratch_dir("forged_reports");
    let reports = forged_reports(&dir);
    let glob = format!("{}/*.json", reports.display());

    // GitHub: one summary and one comment.
    let oidc = GithubOidc::start("request-token-forged");
    let api = GithubApi::start(GITHUB_TOKEN);
    let mut gh = oidc.env(&dir);
    gh.set("GITHUB_API_URL", &api.uri());
    gh.set("GITHUB_WORKFLOW", "images --> <img src=x>");
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
        .env("INPUT_REPORTS", &glob)
        .env("HCP_PORTAL_URL", PORTAL)
        .arg("report");
    let out = support::run(cmd);
    out.assert_success();
    let summary = gh.read_summary();
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(
        body.starts_with("<!-- packer-vault-report:h-"),
        "the workflow's name is no marker text: {body}"
    );
    for text in [&summary, body] {
        inert(text);
        assert!(text.contains("2 images, 1 failed, 5 unreadable reports"), "{text}");
        for (file, field) in [
            ("duration.json", "duration_seconds"),
            ("link.json", "run_url"),
            ("version.json", "hcp.version_name"),
            ("digest.json", "secrets_digest"),
            ("version-text.json", "packer_version"),
        ] {
            let row = text
                .lines()
                .find(|l| l.contains(file))
                .unwrap_or_else(|| panic!("{file} is named:\n{text}"));
            assert!(row.contains("unreadable") && row.contains(field), "{row}");
        }
        assert!(
            text.contains(&format!("{PORTAL}/services/packer/buckets/app/versions/01HVAPP")),
            "the good report renders"
        );
    }
    // The log line of a report carries no command for the runner.
    assert!(!out.stderr.contains("##[error"), "{}", out.stderr);

    // GitLab: the same reports in an MR note, which GitLab reads for quick actions.
    let gl = GitlabApi::start(GITLAB_TOKEN);
    let gdir = support::scratch_dir("forged_reports_gitlab");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &gdir))
        .env("CI_API_V4_URL", gl.api_url())
        .env("CI_SERVER_URL", "https://github.com")
        .env("CI_JOB_NAME", "report")
        .env("PACKER_VAULT_GITLAB_TOKEN", GITLAB_TOKEN)
        .env("PACKER_VAULT_REPORTS", &glob)
        .env("HCP_PORTAL_URL", PORTAL)
        .arg("report");
    support::run(cmd).assert_success();
    let notes = gl.note_bodies(42);
    assert_eq!(notes.len(), 1, "{notes:?}");
    inert(&notes[0]);
    assert!(notes[0].contains("5 unreadable reports"), "{}", notes[0]);
}

/// Every privileged input of INTERFACE.md, set in the repository's config
/// file (top level or under an environment), exits 2 naming it, before
/// any request.
#[test]
fn privileged_inputs_from_the_config_file_exit_2_naming_the_input() {
    let f = Fixture::new("forged_privileged");
    for (input, value) in [
        ("comment-author", "octocat"),
        ("packer-vault-token", "true"),
        ("packer-vault-token-policies", "root"),
        (
            "hcp-workload-identity-provider",
            "iam/project/p/service-principal/s/workload-identity-provider/evil",
        ),
        ("hcp-jwt-audience", "https://evil.example"),
        ("hcp-id-token-variable", "VAULT_ID_TOKEN"),
        ("export-env", "true"),
        ("revoke", "false"),
        ("github-token", "ghp_fromthefile"),
        ("gitlab-token", "glpat-fromthefile"),
    ] {
        for nested in [false, true] {
            let dir = support::scratch_dir("forged_privileged");
            let config = if nested {
                format!("environments:\n  prod:\n    {input}: \"{value}\"\n")
            } else {
                format!("{input}: \"{value}\"\n")
            };
            std::fs::write(dir.join(".packer-vault.yml"), config).expect("config");
            let mut cmd = support::bin();
            cmd.envs(gitlab_env(&f, &dir))
                .env("VAULT_SERVER_URL", "http://127.0.0.1:9")
                .env("VAULT_AUTH_ROLE", &f.gitlab_role)
                .env("PACKER_VAULT_SECRETS", format!("{}/ci/packer api_token", f.kv2_mount))
                .env("CI_ENVIRONMENT_NAME", "prod")
                .current_dir(&dir)
                .args(["exec", "--", "true"]);
            let out = support::run(cmd);
            out.assert_code(2);
            assert!(
                out.stderr.contains(&format!("{input}`")) && out.stderr.contains("privileged"),
                "{input} (nested: {nested}): {}",
                out.stderr
            );
            assert!(
                !out.stderr.contains(value) || value.len() < 6,
                "the value is not echoed"
            );
        }
    }
}

/// A committed link at a path we write (`report-json`, GitLab's
/// `packer-vault-report.md`) is refused with a warning; the file it points
/// at, anywhere the runner's user may write, is untouched.
#[test]
fn written_files_never_follow_a_committed_link() {
    let f = Fixture::new("forged_links");
    let dir = support::scratch_dir("forged_links");
    let victim = dir.join("victim");
    std::fs::write(&victim, "the runner's own file\n").expect("victim");
    for name in ["packer-vault-report.md", "report.json"] {
        std::os::unix::fs::symlink(&victim, dir.join(name)).expect("symlink");
    }
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("CI_PROJECT_DIR", &dir)
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
        )
        .env("PACKER_VAULT_REPORT_JSON", dir.join("report.json"))
        .env("PACKER_VAULT_COMMENT", "never")
        .env("PACKER_VAULT_WORKING_DIRECTORY", &dir)
        .current_dir(&dir)
        .args([
            "build",
            &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("examples/null")
                .display()
                .to_string(),
        ]);
    // The template fails (no HCP credential is read): both files are
    // written on failure too, which is all this is about.
    let out = support::run(cmd);
    out.assert_code(1);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "the runner's own file\n",
        "nothing was written through a link"
    );
    assert!(out.stderr.matches("symbolic link").count() >= 2, "{}", out.stderr);
}

/// GitLab answering every request slowly cannot hold a cancelled step: the
/// MR note has the same budget as GitHub's comment (2 s after a signal).
#[test]
fn a_slow_gitlab_cannot_hold_a_cancelled_build() {
    let f = Fixture::new("forged_slow_gitlab");
    let dir = support::scratch_dir("forged_slow_gitlab");
    let gl = GitlabApi::start(GITLAB_TOKEN);
    gl.slow_down(Duration::from_secs(20));
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates/sleep");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("CI_PROJECT_DIR", &dir)
        .env("CI_API_V4_URL", gl.api_url())
        .env("CI_MERGE_REQUEST_IID", "42")
        .env("CI_MERGE_REQUEST_PROJECT_ID", "1")
        .env("PACKER_VAULT_GITLAB_TOKEN", GITLAB_TOKEN)
        .env("PACKER_VAULT_COMMENT", "always")
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
        )
        .env("PACKER_VAULT_WORKING_DIRECTORY", &dir)
        .env(
            "PACKER_VAULT_PACKER_VARS",
            format!("sleep_seconds=60\nmarker_dir={}", dir.display()),
        )
        .current_dir(&dir)
        .args(["build", &template.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "long build started", pid, libc::SIGTERM);
    assert_eq!(out.code(), Some(143), "{}", out.combined());
    assert!(
        out.elapsed < Duration::from_secs(15),
        "the step ended {:?} after the signal, GitLab answering in 20 s",
        out.elapsed
    );
    assert!(
        out.stderr.contains("GitLab did not answer within 2 s"),
        "{}",
        out.stderr
    );
}
