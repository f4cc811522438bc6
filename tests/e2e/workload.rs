//! HCP workload identity federation: no HCP secret anywhere. The job's
//! identity token (a second GitHub OIDC token with the provider's audience,
//! or GitLab's `id_tokens:` variable) is exchanged at the provider for the
//! product's HCP calls; a refused exchange stops the run before Packer; the
//! lifecycle commands need no Vault at all.

use crate::exec::{accessor, revoked, shown};
use crate::github::{GITHUB_TOKEN, job};
use crate::support::github_api::GithubApi;
use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, GithubOidc, Outcome, jwt};
use serde_json::json;

const PORTAL: &str = "https://portal.example.test";

/// What no output may hold: the HCP access token, and every identity token
/// the OIDC stand-in could have issued is masked (checked by `shown`).
#[track_caller]
fn clean(f: &Fixture, hcp: &HcpStandIn, out: &Outcome) {
    let text = shown(out);
    f.assert_no_secret(&text);
    support::assert_no_labeled_secret(&text, &[("HCP access token", hcp.access_token.as_str())]);
    assert!(!text.contains("eyJ"), "no JWT in the output");
}

/// A GitHub build with bucket `golden` through `provider`, reading only
/// `API_TOKEN` from Vault (no HCP credential in the spec), plus `with`.
fn wif_build(
    f: &Fixture,
    oidc: &GithubOidc,
    api: &GithubApi,
    hcp: &HcpStandIn,
    provider: &str,
    with: &[(&str, &str)],
) -> (std::process::Command, support::GithubEnv, std::path::PathBuf) {
    let dir = support::scratch_dir("wif_build");
    let spec = format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount);
    let mut inputs = vec![
        ("secrets", spec.as_str()),
        ("hcp-bucket", "golden"),
        ("hcp-workload-identity-provider", provider),
    ];
    inputs.extend_from_slice(with);
    let (mut cmd, gh) = job(f, oidc, api, &dir, &inputs);
    hcp_env(&mut cmd, hcp);
    (cmd, gh, dir)
}

fn hcp_env(cmd: &mut std::process::Command, hcp: &HcpStandIn) {
    cmd.env("HCP_AUTH_URL", hcp.uri())
        .env("HCP_API_ADDRESS", hcp.uri())
        .env("HCP_PORTAL_URL", PORTAL)
        .env_remove("HCP_CLIENT_ID")
        .env_remove("HCP_CLIENT_SECRET");
}

#[test]
fn a_github_build_finds_and_promotes_its_version_with_no_hcp_secret() {
    let f = Fixture::new("wif_github");
    let oidc = GithubOidc::start("request-token-wif");
    let api = GithubApi::start(GITHUB_TOKEN);
    // HCP knows the job by its token only: no client id or secret accepted.
    let hcp = HcpStandIn::start_with("nobody", "nothing");
    let provider = hcp.add_provider("github", jwt::GITHUB_ISSUER, "repository", jwt::REPOSITORY);
    let id = hcp.add_version("golden", "fedcba987654-9876543210-1", 0);
    let (mut cmd, gh, dir) = wif_build(
        &f,
        &oidc,
        &api,
        &hcp,
        &provider,
        &[("hcp-channel", "dev"), ("create-channel", "true")],
    );
    // A template that needs no HCP credential of its own (Packer 1.6.6 has
    // no HCP Packer registry; the stand-in holds the version).
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates/env");
    cmd.arg(&template).env("OUT", &dir);
    let out = support::run(cmd);
    out.assert_success();
    assert_eq!(
        hcp.channel("golden", "dev").as_deref(),
        Some("fedcba987654-9876543210-1")
    );
    assert!(
        gh.read_summary().contains(&format!("/versions/{id})")),
        "{}",
        gh.read_summary()
    );
    assert!(
        hcp.requests_to("POST", "/oauth2/token").is_empty(),
        "no client-credentials request"
    );
    assert_eq!(hcp.requests_to("POST", "/exchange-token").len(), 1, "exchanged once");
    let audiences: Vec<Option<String>> = oidc.requests().into_iter().map(|r| r.audience).collect();
    assert!(
        audiences.contains(&Some(provider.clone())),
        "the provider's audience was asked: {audiences:?}"
    );
    assert!(revoked(&accessor(&out)));
    clean(&f, &hcp, &out);
    // The runner was told to mask the access token; no file or comment holds it.
    assert!(
        out.stdout.contains(&format!("::add-mask::{}", hcp.access_token)),
        "masked"
    );
    for text in [gh.read_all_files(), api.sent_bodies().join("\n")] {
        support::assert_no_labeled_secret(&text, &[("HCP access token", hcp.access_token.as_str())]);
        assert!(!text.contains("eyJ"), "no JWT in the summary, outputs or comment");
    }
}

#[test]
fn a_refused_exchange_stops_before_packer_naming_the_claims() {
    let f = Fixture::new("wif_refused");
    let oidc = GithubOidc::start("request-token-wif-refused");
    let api = GithubApi::start(GITHUB_TOKEN);
    let hcp = HcpStandIn::start_with("nobody", "nothing");
    let provider = hcp.add_provider("github", jwt::GITHUB_ISSUER, "repository", "acme/other");
    let (cmd, _, _) = wif_build(&f, &oidc, &api, &hcp, &provider, &[]);
    let out = support::run(cmd);
    out.assert_code(1);
    let error = out.line_starting("::error");
    assert!(
        error.contains("conditional access") && error.contains("repository=acme/images") && error.contains("iss="),
        "{}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("packer build"),
        "Packer never started:\n{}",
        out.stdout
    );
    assert!(revoked(&accessor(&out)));
    clean(&f, &hcp, &out);
}

#[test]
fn promote_with_the_provider_needs_no_vault() {
    let f = Fixture::new("wif_promote");
    let oidc = GithubOidc::start("request-token-wif-promote");
    let api = GithubApi::start(GITHUB_TOKEN);
    let hcp = HcpStandIn::start_with("nobody", "nothing");
    let provider = hcp.add_provider("github", jwt::GITHUB_ISSUER, "repository", jwt::REPOSITORY);
    hcp.add_version("golden", "fp-one", 0);
    hcp.add_version("golden", "fp-two", 0);
    hcp.add_channel("golden", "staging", "fp-two");
    hcp.add_channel("golden", "production", "fp-one");
    let dir = support::scratch_dir("wif_promote");
    let gh = oidc.env(&dir);
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .env("GITHUB_API_URL", api.uri())
        .env("INPUT_HCP-BUCKET", "golden")
        .env("INPUT_HCP-WORKLOAD-IDENTITY-PROVIDER", &provider)
        .env("INPUT_FROM-CHANNEL", "staging")
        .env("INPUT_CHANNEL", "production")
        .env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
        .env_remove("VAULT_ADDR")
        .arg("promote");
    hcp_env(&mut cmd, &hcp);
    let out = support::run(cmd);
    out.assert_success();
    assert_eq!(hcp.channel("golden", "production").as_deref(), Some("fp-two"));
    assert!(out.stderr.contains("no Vault login"), "{}", out.stderr);
    assert!(!out.stderr.contains("logged in to"), "nothing was sent to Vault");
    clean(&f, &hcp, &out);
}

#[test]
fn a_gitlab_build_exchanges_its_id_token() {
    let f = Fixture::new("wif_gitlab");
    let hcp = HcpStandIn::start_with("nobody", "nothing");
    let provider = hcp.add_provider("gitlab", jwt::GITLAB_ISSUER, "project_path", jwt::REPOSITORY);
    hcp.add_version("golden", "0123456789ab-555001-777001", 0);
    let dir = support::scratch_dir("wif_gitlab");
    let id_token = jwt::sign(&jwt::gitlab_claims(&provider, &json!({})));
    let example = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/templates/env")
        .display()
        .to_string();
    let mut cmd = support::gitlab_job(&f, &dir);
    cmd.env(
        "PACKER_VAULT_SECRETS",
        format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
    )
    .env("PACKER_VAULT_HCP_BUCKET", "golden")
    .env("PACKER_VAULT_HCP_FINGERPRINT", "0123456789ab-555001-777001")
    .env("PACKER_VAULT_HCP_WORKLOAD_IDENTITY_PROVIDER", &provider)
    .env("PACKER_VAULT_COMMENT", "never")
    .env("HCP_ID_TOKEN", &id_token)
    .env("OUT", &dir)
    .args(["build", &example]);
    hcp_env(&mut cmd, &hcp);
    let out = support::run(cmd);
    out.assert_success();
    assert_eq!(hcp.requests_to("POST", "/exchange-token").len(), 1);
    assert!(hcp.requests_to("POST", "/oauth2/token").is_empty());
    assert!(out.stderr.contains("HCP Packer version"), "{}", out.stderr);
    support::assert_no_labeled_secret(&out.combined(), &[("id token", id_token.as_str())]);
    clean(&f, &hcp, &out);
}

#[test]
fn a_malformed_provider_exits_2_before_any_request() {
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", "http://127.0.0.1:9")
        .env("VAULT_TOKEN", "t")
        .env("HCP_WORKLOAD_IDENTITY_PROVIDER", "iam/project/p/service-principal/sp")
        .args(["exec", "--", "true"]);
    let out = support::run(cmd);
    out.assert_code(2);
    assert!(out.stderr.contains("hcp-workload-identity-provider"), "{}", out.stderr);
    assert!(out.elapsed < std::time::Duration::from_secs(5));
}

/// Packer's `HCP_CRED_FILE`: 0600, `scheme: workload`, this provider, a
/// token the provider accepts even at the end of a build that outlives
/// the identity tokens (12 s here, 30 s of build), none of our own
/// credentials beside it, and gone after the run.
#[test]
fn packer_gets_a_credential_file_whose_token_outlives_the_identity_tokens() {
    let f = Fixture::new("wif_cred_file");
    let oidc = GithubOidc::start_with_ttl("request-token-wif-cred", 12);
    let api = GithubApi::start(GITHUB_TOKEN);
    let hcp = HcpStandIn::start_with("nobody", "nothing");
    let provider = hcp.add_provider("github", jwt::GITHUB_ISSUER, "repository", jwt::REPOSITORY);
    hcp.add_version("golden", "fedcba987654-9876543210-1", 0);
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/templates/hcp-cred")
        .display()
        .to_string();
    let (mut cmd, _, dir) = wif_build(&f, &oidc, &api, &hcp, &provider, &[("comment", "never")]);
    cmd.arg(&template)
        .env("OUT", &dir)
        .env("WAIT", "30")
        .env("PROVIDER", &provider)
        .env("HCP_CLIENT_ID", "runner-hcp-id-must-not-reach-packer")
        .env("HCP_CLIENT_SECRET", "runner-hcp-secret-must-not-reach-packer");
    let out = support::run(cmd);
    out.assert_success();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(read("cred_mode").trim(), "600");
    assert_eq!(read("token_mode").trim(), "600");
    let cred: serde_json::Value = serde_json::from_str(&read("cred.json")).expect("JSON");
    assert_eq!(cred["scheme"], "workload");
    assert_eq!(cred["workload"]["provider_resource_name"], provider.as_str());
    assert_eq!(
        read("exchange_status").trim(),
        "200",
        "the token is still accepted after 30 s"
    );
    let env = crate::exec::read_env(&dir);
    let cred_path = env.get("HCP_CRED_FILE").expect("HCP_CRED_FILE").clone();
    for name in [
        "HCP_CLIENT_ID",
        "HCP_CLIENT_SECRET",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GITHUB_TOKEN",
        "VAULT_TOKEN",
    ] {
        assert!(!env.contains_key(name), "{name} reached Packer");
    }
    let all: String = env.values().cloned().collect::<Vec<_>>().join("\n");
    assert!(
        !all.contains(&oidc.request_token),
        "the OIDC request token reached Packer"
    );
    assert!(
        !std::path::Path::new(&cred_path).exists(),
        "the credential file is gone"
    );
    let oidc_calls = oidc
        .requests()
        .iter()
        .filter(|r| r.audience.as_deref() == Some(provider.as_str()))
        .count();
    assert!(
        oidc_calls >= 3,
        "the token was renewed while Packer ran ({oidc_calls} requests)"
    );
    // Each renewed token is masked while Packer runs, in a window where the
    // runner acts on commands again, never inside a stopped one.
    assert_eq!(
        support::masks_while_stopped(&out.stdout),
        0,
        "a mask was printed while commands were stopped:\n{}",
        support::runner_shows(&out.stdout)
    );
    let resumed = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("::stop-commands::"))
        .count();
    assert!(
        resumed >= oidc_calls,
        "commands were stopped again after each renewal's masks ({resumed} stops, {oidc_calls} tokens)"
    );
    clean(&f, &hcp, &out);
}

#[test]
fn doctor_tries_the_exchange_and_shows_no_token() {
    let f = Fixture::new("wif_doctor");
    let oidc = GithubOidc::start("request-token-wif-doctor");
    let hcp = HcpStandIn::start_with("nobody", "nothing");
    let provider = hcp.add_provider("github", jwt::GITHUB_ISSUER, "repository", jwt::REPOSITORY);
    let refusing = hcp.add_provider("other", jwt::GITHUB_ISSUER, "repository", "acme/other");
    for (p, ok) in [(&provider, true), (&refusing, false)] {
        let dir = support::scratch_dir("wif_doctor");
        let gh = oidc.env(&dir);
        let mut cmd = support::bin();
        cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
            .env("INPUT_HCP-BUCKET", "golden")
            .env("INPUT_HCP-WORKLOAD-IDENTITY-PROVIDER", p)
            .arg("doctor");
        hcp_env(&mut cmd, &hcp);
        let out = support::run(cmd);
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains("HCP workload identity"))
            .unwrap_or_else(|| panic!("{}", out.stdout))
            .to_string();
        if ok {
            assert!(line.starts_with("[ok]") && line.contains(&hcp.org_id), "{line}");
            out.assert_success();
        } else {
            assert!(
                line.starts_with("[FAIL]") && line.contains("conditional access"),
                "{line}"
            );
            assert!(
                out.stdout.contains("repository=acme/images"),
                "the claims are shown:\n{}",
                out.stdout
            );
        }
        clean(&f, &hcp, &out);
    }
}

/// A build that outlives the access token the exchange gave (HCP's last an
/// hour; 6 s here, 10 s of build): the version is still found and its
/// channel assigned, with a fresh exchange after Packer, not a 401.
#[test]
fn a_build_longer_than_the_hcp_token_still_records_its_version() {
    let f = Fixture::new("wif_token_expiry");
    let oidc = GithubOidc::start("request-token-wif-expiry");
    let api = GithubApi::start(GITHUB_TOKEN);
    let hcp = HcpStandIn::start_with("nobody", "nothing");
    hcp.set_token_ttl(6);
    let provider = hcp.add_provider("github", jwt::GITHUB_ISSUER, "repository", jwt::REPOSITORY);
    hcp.add_version("golden", "fedcba987654-9876543210-1", 0);
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/templates/hcp-cred")
        .display()
        .to_string();
    let (mut cmd, _, dir) = wif_build(
        &f,
        &oidc,
        &api,
        &hcp,
        &provider,
        &[("comment", "never"), ("hcp-channel", "dev"), ("create-channel", "true")],
    );
    cmd.arg(&template)
        .env("OUT", &dir)
        .env("WAIT", "10")
        .env("PROVIDER", &provider);
    let out = support::run(cmd);
    out.assert_success();
    assert!(
        out.stderr
            .contains("the access token expires: exchanging a new identity token"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("401"),
        "no call with an expired token: {}",
        out.stderr
    );
    assert_eq!(
        hcp.channel("golden", "dev").as_deref(),
        Some("fedcba987654-9876543210-1"),
        "the channel was assigned after the build"
    );
    clean(&f, &hcp, &out);
}
