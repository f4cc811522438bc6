//! The action as GitHub runs it, through a real runner emulator: nektos/act
//! (`-P ubuntu-latest=-self-hosted`: jobs run on this host, no Docker) runs
//! `tests/fixtures/act/image.yml`, whose step is `uses: ./packer-vault-action`,
//! a release checkout of this repository. No cargo is on `PATH`; the binary
//! comes from a loopback release server through the launcher. Real OpenBao,
//! real Packer, and the GitHub OIDC / REST and HCP stand-ins.

use crate::exec::revoked;
use crate::support::github_api::GithubApi;
use crate::support::hcp::HcpStandIn;
use crate::support::shipped::{Release, bare_path, copy_dir, git};
use crate::support::{self, Fixture, GithubOidc, bao};
use std::path::PathBuf;
use std::process::Command;

const GITHUB_TOKEN: &str = "ghs_act4C7e42F292c6912E7710c838347Ae1";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.venv/bin` tool `name` that `.ci/setup` installs.
pub fn venv_tool(name: &str) -> PathBuf {
    let tool = repo().join(".venv/bin").join(name);
    assert!(tool.exists(), "{} is missing: run .ci/setup", tool.display());
    tool
}

/// `name=value` from a line `output name=value` of the later step.
fn output(log: &str, name: &str) -> String {
    let key = format!("output {name}=");
    log.lines()
        .find_map(|l| l.split_once(&key).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no output {name} in the log:\n{log}"))
}

#[test]
fn act_runs_the_action_step_from_a_release_with_no_cargo() {
    let f = Fixture::new("act_build");
    let oidc = GithubOidc::start("request-token-act");
    let api = GithubApi::start(GITHUB_TOKEN);
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let release = Release::make("act_release");
    let dir = support::scratch_dir("act_build");

    // The user's repository: the workflow, a template, the action's copy.
    let project = dir.join("images");
    copy_dir(&release.checkout, &project.join("packer-vault-action"));
    copy_dir(&repo().join("examples/null"), &project.join("images/null"));
    let workflows = project.join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("mkdir");
    std::fs::copy(repo().join("tests/fixtures/act/image.yml"), workflows.join("image.yml")).expect("workflow");
    git(&project, &["init", "-q", "-b", "feature/bump"]);
    git(
        &project,
        &["remote", "add", "origin", "https://github.com/acme/images.git"],
    );
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-qm", "images"]);
    let sha = git(&project, &["rev-parse", "HEAD"]);
    // act's run id and attempt are 1: the default fingerprint is <sha 12>-1-1.
    let version = hcp.add_version("golden", &format!("{}-1-1", &sha[..12]), 1);
    let portal = "https://portal.example.test";
    let link = format!(
        "{portal}/orgs/{}/projects/{}/packer/buckets/golden/versions/{version}",
        hcp.org_id, hcp.project_id
    );

    // actionlint reads the action's metadata through this `uses: ./...`.
    let lint = support::run({
        let mut c = Command::new(venv_tool("actionlint"));
        c.arg(".github/workflows/image.yml").current_dir(&project);
        c
    });
    lint.assert_success();

    let gh = oidc.env(&dir);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let mut act = Command::new(venv_tool("act"));
    act.env_clear()
        .env("PATH", bare_path(&dir, false))
        .env("HOME", &home)
        .current_dir(&project)
        .args(["pull_request", "-W", ".github/workflows/image.yml"])
        .arg("-e")
        .arg(&gh.event_file)
        .args(["-P", "ubuntu-latest=-self-hosted", "--no-cache-server"])
        .arg("--action-cache-path")
        .arg(dir.join("act-cache"))
        .args(["-s", &format!("GITHUB_TOKEN={GITHUB_TOKEN}")]);
    for (name, value) in [
        ("VAULT_ADDR", bao().addr.clone()),
        ("VAULT_ROLE", f.github_role.clone()),
        ("VAULT_AUTH_PATH", f.auth_path()),
        ("JWT_AUDIENCE", f.github_aud.clone()),
        ("KV", f.kv2_mount.clone()),
    ] {
        act.arg("--var").arg(format!("{name}={value}"));
    }
    // What a hosted runner provides, and where the stand-ins are.
    for (name, value) in [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", oidc.request_url()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc.request_token.clone()),
        ("GITHUB_API_URL", api.uri()),
        ("PACKER_VAULT_DOWNLOAD_URL", release.download_url()),
        ("HCP_AUTH_URL", hcp.uri()),
        ("HCP_API_ADDRESS", hcp.uri()),
        ("HCP_PORTAL_URL", portal.to_string()),
        ("CHECKPOINT_DISABLE", "1".to_string()),
    ] {
        act.arg("--env").arg(format!("{name}={value}"));
    }
    let out = support::run(act);
    let log = out.combined();
    out.assert_success();
    assert!(log.contains("Job succeeded"), "{log}");

    // The step took seconds: act reports each step's time.
    let step = log
        .lines()
        .find(|l| l.contains("Success - Main ./packer-vault-action"))
        .unwrap_or_else(|| panic!("the action step succeeded:\n{log}"));
    eprintln!("act: {step} (whole act run {:.1?})", out.elapsed);

    // The launcher downloaded the release; no cargo was there to build it.
    assert!(log.contains("downloaded packer-vault-"), "{log}");
    assert_eq!(release.requests().len(), 1, "{:?}", release.requests());
    assert!(
        log.contains("building golden-base with client id ***"),
        "Packer ran:\n{log}"
    );

    // Later steps see the outputs.
    assert_eq!(output(&log, "version-url"), link);
    assert_eq!(output(&log, "version-id"), version);
    assert!(output(&log, "secrets-digest").starts_with("sha256:"));
    let accessor = output(&log, "token-accessor");
    assert!(revoked(&accessor), "the token is revoked");

    // The summary (act prints it) and the sticky comment carry the link.
    assert!(
        log.split("Summary - ").skip(1).any(|s| s.contains(&link)),
        "the job summary has the version link:\n{log}"
    );
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:?}");
    assert!(comments[0].body.contains(&link), "{}", comments[0].body);

    // No form of any secret, nor our tokens, in act's output or the comment.
    for text in [&log, &comments[0].body] {
        f.assert_no_secret(text);
        assert!(!text.contains(GITHUB_TOKEN) && !text.contains(&oidc.request_token));
    }
}
