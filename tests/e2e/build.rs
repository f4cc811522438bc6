//! `packer-vault build` / `validate` end to end: real OpenBao, real Packer,
//! the HCP stand-in.

use crate::exec::{accessor, revoked};
use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, Outcome, bao, gitlab_env};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template(name: &str) -> String {
    repo().join("tests/fixtures/templates").join(name).display().to_string()
}

/// The spec every build test uses: HCP credentials (v3), two app secrets.
fn spec(f: &Fixture) -> String {
    format!(
        "{m}/ci/hcp client_id | HCP_CLIENT_ID ; {m}/ci/hcp client_secret | HCP_CLIENT_SECRET\n\
         {m}/data/ci/packer api_token | API_TOKEN ; {m}/ci/packer db_password | DB_PASSWORD",
        m = f.kv2_mount
    )
}

/// A GitLab MR job running `packer-vault <args>` in `dir` (the working
/// directory, so Packer's files stay out of the repository).
fn gitlab_job(f: &Fixture, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(f, dir))
        .env("CI_PROJECT_DIR", dir)
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", &f.jwt_mount)
        .env("PACKER_VAULT_SECRETS", spec(f))
        .env("PACKER_VAULT_WORKING_DIRECTORY", dir)
        .current_dir(dir)
        .args(args);
    cmd
}

fn no_leak(f: &Fixture, out: &Outcome, files: &[&Path]) {
    f.assert_no_secret(&out.combined());
    for p in files {
        f.assert_no_secret(&std::fs::read_to_string(p).unwrap_or_default());
    }
}

#[test]
fn build_example_records_the_hcp_version_and_promotes_it() {
    let f = Fixture::new("build_hcp");
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let version_id = hcp.add_version("golden", "fp-build-hcp", 1);
    let dir = support::scratch_dir("build_hcp");
    let report = dir.join("report.md");
    let example = repo().join("examples/null").display().to_string();
    let mut cmd = gitlab_job(
        &f,
        &dir,
        &["build", &example, "--report", &report.display().to_string()],
    );
    cmd.env("HCP_AUTH_URL", hcp.uri())
        .env("HCP_API_ADDRESS", hcp.uri())
        .env("HCP_PORTAL_URL", "https://portal.example.test")
        .env("PACKER_VAULT_HCP_BUCKET", "golden")
        .env("PACKER_VAULT_HCP_CHANNEL", "dev")
        .env("PACKER_VAULT_CREATE_CHANNEL", "true")
        .env("PACKER_VAULT_HCP_FINGERPRINT", "fp-build-hcp");
    let rerun = (
        cmd.get_program().to_owned(),
        cmd.get_args().map(|a| a.to_owned()).collect::<Vec<_>>(),
        cmd.get_envs()
            .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
            .collect::<Vec<_>>(),
        cmd.get_current_dir().map(Path::to_path_buf),
    );
    let out = support::run(cmd);
    out.assert_success();

    let md = std::fs::read_to_string(&report).expect("report written");
    assert!(
        out.stdout.contains("building golden-base with client id ***"),
        "Packer got the credentials:\n{}",
        out.stdout
    );
    assert!(md.contains(&version_id), "version id in the report:\n{md}");
    let link = format!(
        "https://portal.example.test/orgs/{}/projects/{}/packer/buckets/golden/versions/{version_id}",
        hcp.org_id, hcp.project_id
    );
    assert!(md.contains(&link), "version link in the report:\n{md}");
    assert!(md.contains("channel: `dev` (created)"), "{md}");
    assert_eq!(hcp.channel("golden", "dev").as_deref(), Some("fp-build-hcp"));
    // One rule with promote: without `create-channel`, a missing channel is
    // not created; the build says so (the version itself is recorded).
    let (program, args, envs, cwd) = rerun;
    let mut again = Command::new(program);
    again.env_clear().envs(envs).args(args);
    if let Some(d) = cwd {
        again.current_dir(d);
    }
    again
        .env("PACKER_VAULT_HCP_CHANNEL", "prod")
        .env_remove("PACKER_VAULT_CREATE_CHANNEL");
    let out2 = support::run(again);
    out2.assert_success();
    assert!(
        out2.stderr.contains("channel `prod` does not exist") && out2.stderr.contains("create-channel: true"),
        "{}",
        out2.stderr
    );
    assert_eq!(hcp.channel("golden", "prod"), None, "not created");
    assert!(md.contains("ami-0abc123"), "artifacts from HCP:\n{md}");
    for (path, key, version) in [
        ("ci/hcp", "client_id", "3"),
        ("ci/hcp", "client_secret", "3"),
        ("ci/packer", "api_token", "1"),
        ("ci/packer", "db_password", "1"),
    ] {
        let row = format!("| `{}/{path}` | `{key}` |", f.kv2_mount);
        let line = md
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("no row for {path} {key}:\n{md}"));
        assert!(line.contains(&format!("| kv2 | {version} |")), "{line}");
    }
    let gitlab_report = dir.join("packer-vault-report.md");
    assert!(gitlab_report.exists(), "GitLab: the report file for artifacts");
    no_leak(&f, &out, &[&report, &gitlab_report, &dir.join("packer-manifest.json")]);
    assert!(revoked(&accessor(&out)));
    // Packer ran with the HCP variables.
    assert!(hcp.requests_to("PATCH", "/channels/dev").len() == 1);
}

#[test]
fn failing_template_exits_1_with_redacted_errors_in_the_report() {
    let f = Fixture::new("build_fail");
    let dir = support::scratch_dir("build_fail");
    let report = dir.join("report.md");
    let out = support::run(gitlab_job(
        &f,
        &dir,
        &["build", &template("fail"), "--report", &report.display().to_string()],
    ));
    out.assert_code(1);
    let md = std::fs::read_to_string(&report).expect("report written");
    assert!(md.contains("failed"), "{md}");
    assert!(
        md.contains("Script exited with non-zero exit status: 3"),
        "Packer's error in the report:\n{md}"
    );
    assert!(
        md.contains("boom: token *** rejected"),
        "redacted error lines in the report:\n{md}"
    );
    no_leak(&f, &out, &[&report]);
    assert!(revoked(&accessor(&out)));
}

#[test]
fn sigterm_during_a_build_reaches_packer_and_revokes() {
    let f = Fixture::new("build_sigterm");
    let dir = support::scratch_dir("build_sigterm");
    let mut cmd = gitlab_job(&f, &dir, &["build", &template("sleep")]);
    cmd.env(
        "PACKER_VAULT_PACKER_VARS",
        format!("sleep_seconds=60\nmarker_dir={}", dir.display()),
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "long build started", pid, libc::SIGTERM);
    assert_eq!(out.code(), Some(143), "{}", out.combined());
    // Packer got the signal, ran its cleanup and said so before we exited.
    // (Whether its provisioner's own trap runs first is Packer's timing: the
    // template's trap is for people watching, not asserted.)
    assert!(
        out.stdout.contains("Cancelling build after receiving terminated"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Cleanly cancelled builds"), "{}", out.stdout);
    let md = std::fs::read_to_string(dir.join("packer-vault-report.md")).unwrap_or_default();
    assert!(md.contains("was cancelled"), "the report says so:\n{md}");
    assert!(out.elapsed.as_secs() < 30, "it did not wait for the whole build");
    no_leak(&f, &out, &[&dir.join("packer-vault-report.md")]);
    assert!(revoked(&accessor(&out)));
}

#[test]
fn a_build_longer_than_the_token_ttl_succeeds_by_renewal() {
    let f = Fixture::new("build_renew");
    let role = "short";
    let (status, body) = bao().api(
        "POST",
        &format!("auth/{}/role/{role}", f.jwt_mount),
        Some(serde_json::json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": [f.gitlab_aud],
            "bound_claims": {"project_path": "acme/images"},
            "token_policies": [f.policy],
            "token_ttl": 4,
            "token_max_ttl": 120,
        })),
    );
    assert!(status < 300, "create role: {status} {body}");
    let dir = support::scratch_dir("build_renew");
    let mut cmd = gitlab_job(&f, &dir, &["build", &template("sleep")]);
    cmd.env("VAULT_AUTH_ROLE", role).env(
        "PACKER_VAULT_PACKER_VARS",
        format!("sleep_seconds=9\nmarker_dir={}", dir.display()),
    );
    let out = support::run(cmd);
    out.assert_success();
    assert!(
        out.stderr.contains("ttl 4 s"),
        "the role's short TTL applied:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("renewed the token"), "{}", out.stderr);
    // Revocation works only on a live token: it outlived its first TTL.
    assert!(out.stderr.contains("revoked the Vault token"), "{}", out.stderr);
    assert!(revoked(&accessor(&out)));
}

#[test]
fn json_templates_work_too() {
    let f = Fixture::new("build_json");
    let dir = support::scratch_dir("build_json");
    let tpl = repo()
        .join("tests/fixtures/templates/json/template.json")
        .display()
        .to_string();
    let out = support::run(gitlab_job(&f, &dir, &["build", &tpl]));
    out.assert_success();
    assert!(out.stdout.contains("json template sees *** and ***"), "{}", out.stdout);
    no_leak(&f, &out, &[]);
}

#[test]
fn validate_reports_unformatted_templates() {
    let f = Fixture::new("validate_fmt");
    let dir = support::scratch_dir("validate_fmt");
    std::fs::write(
        dir.join("ugly.pkr.hcl"),
        "source \"null\" \"x\" {\ncommunicator=\"none\"\n}\nbuild {\nsources=[\"source.null.x\"]\n}\n",
    )
    .unwrap();
    let report = dir.join("report.md");
    let out = support::run(gitlab_job(
        &f,
        &dir,
        &["validate", ".", "--report", &report.display().to_string()],
    ));
    out.assert_code(1);
    let md = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(md.contains("unformatted") && md.contains("ugly.pkr.hcl"), "{md}");

    let example = repo().join("examples/null").display().to_string();
    let out = support::run(gitlab_job(&f, &dir, &["validate", &example]));
    out.assert_success();
    assert!(revoked(&accessor(&out)));
}

/// A build job whose HCP credentials are in the environment (as a CI
/// variable would put them), not in the secrets spec.
fn hcp_env_job(f: &Fixture, hcp: &HcpStandIn, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = gitlab_job(f, dir, args);
    cmd.env(
        "PACKER_VAULT_SECRETS",
        format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
    )
    .env("HCP_CLIENT_ID", &hcp.client_id)
    .env("HCP_CLIENT_SECRET", &hcp.client_secret)
    .env("HCP_AUTH_URL", hcp.uri())
    .env("HCP_API_ADDRESS", hcp.uri())
    .env("HCP_PORTAL_URL", "https://portal.example.test")
    .env("PACKER_VAULT_HCP_BUCKET", "golden")
    .env("PACKER_VAULT_HCP_FINGERPRINT", "fp-early");
    cmd
}

#[test]
fn hcp_credentials_from_the_environment_log_in_before_the_build() {
    let f = Fixture::new("build_hcp_early");
    let hcp = HcpStandIn::start_with("hcp-env-id-0123456789", "hcp-env-secret-abcdefghijklmnop");
    let dir = support::scratch_dir("build_hcp_early");

    // A build that fails never gets to the version lookup, yet HCP was
    // logged in to while Vault was read: no wait after a good build.
    let out = support::run(hcp_env_job(&f, &hcp, &dir, &["build", &template("fail")]));
    out.assert_code(1);
    assert!(
        out.stderr.contains(&format!(
            "HCP Packer: logged in (organization {}, project {})",
            hcp.org_id, hcp.project_id
        )),
        "{}",
        out.stderr
    );
    assert_eq!(hcp.requests_to("POST", "/oauth2/token").len(), 1);

    // A good build uses that session: one token for the whole run.
    let version_id = hcp.add_version("golden", "fp-early", 0);
    let report = dir.join("report.md");
    let example = repo().join("examples/null").display().to_string();
    let out = support::run(hcp_env_job(
        &f,
        &hcp,
        &dir,
        &["build", &example, "--report", &report.display().to_string()],
    ));
    out.assert_success();
    let md = std::fs::read_to_string(&report).expect("report written");
    assert!(md.contains(&version_id), "{md}");
    assert_eq!(hcp.requests_to("POST", "/oauth2/token").len(), 2, "one per run");
    no_leak(&f, &out, &[&report]);
    assert!(!out.combined().contains(&hcp.client_secret));
}

#[test]
fn hcp_credentials_from_vault_wait_for_the_reads() {
    // The spec brings them: nothing goes to HCP before Vault answers, and a
    // failed build never contacts HCP.
    let f = Fixture::new("build_hcp_vault_creds");
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let dir = support::scratch_dir("build_hcp_vault_creds");
    let mut cmd = gitlab_job(&f, &dir, &["build", &template("fail")]);
    cmd.env("HCP_AUTH_URL", hcp.uri())
        .env("HCP_API_ADDRESS", hcp.uri())
        .env("PACKER_VAULT_HCP_BUCKET", "golden");
    support::run(cmd).assert_code(1);
    assert!(hcp.requests().is_empty(), "{:?}", hcp.requests());
}
