//! HCP as it behaves: the EU geography (hcp-sdk-go's `config/geography`),
//! HCP's fingerprint rule, and a build that outlives the exchanged token.

use crate::support::{self, Fixture, gitlab_env};

/// `HCP_GEOGRAPHY=eu` alone: every HCP address resolved is the EU one
/// (doctor says which); the explicit address variables still win.
#[test]
fn eu_geography_resolves_every_hcp_address_to_the_eu() {
    let f = Fixture::new("hcp_eu");
    let run = |extra: &[(&str, &str)]| {
        let dir = support::scratch_dir("hcp_eu");
        let mut cmd = support::gitlab_job(&f, &dir);
        cmd.env("PACKER_VAULT_HCP_BUCKET", "golden")
            // No HCP credential: doctor names the addresses and stops there,
            // so nothing is sent to HCP's real hosts.
            .current_dir(&dir)
            .arg("doctor");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        support::run(cmd)
    };
    let out = run(&[("HCP_GEOGRAPHY", "eu")]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("HCP addresses"))
        .unwrap_or_else(|| panic!("doctor names the addresses:\n{}", out.stdout))
        .to_string();
    assert!(
        line.contains("API https://api.cloud.eu.hashicorp.com")
            && line.contains("auth https://auth.idp.eu.hashicorp.com")
            && line.contains("portal https://portal.cloud.eu.hashicorp.com"),
        "{line}"
    );
    // The input does the same, and an explicit address still wins.
    let out = run(&[
        ("PACKER_VAULT_HCP_GEOGRAPHY", "eu"),
        ("HCP_API_ADDRESS", "http://127.0.0.1:9"),
    ]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("HCP addresses"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("API http://127.0.0.1:9") && line.contains("auth https://auth.idp.eu.hashicorp.com"),
        "{line}"
    );
    // A geography HCP does not have is refused before any request.
    let dir = support::scratch_dir("hcp_eu_bad");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("PACKER_VAULT_HCP_GEOGRAPHY", "ap")
        .current_dir(&dir)
        .args(["exec", "--", "true"]);
    let out = support::run(cmd);
    out.assert_code(2);
    assert!(out.stderr.contains("input `hcp-geography`"), "{}", out.stderr);
}

/// HCP takes fingerprints of 1 to 40 characters: a 41-character one exits 2
/// before any request.
#[test]
fn a_41_character_fingerprint_exits_2_before_any_request() {
    let f = Fixture::new("hcp_fingerprint");
    let dir = support::scratch_dir("hcp_fingerprint");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("VAULT_SERVER_URL", "http://127.0.0.1:9")
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("PACKER_VAULT_HCP_BUCKET", "golden")
        .env("PACKER_VAULT_HCP_FINGERPRINT", "a".repeat(41))
        .current_dir(&dir)
        .args(["exec", "--", "true"]);
    let out = support::run(cmd);
    out.assert_code(2);
    assert!(
        out.stderr.contains("input `hcp-fingerprint`") && out.stderr.contains("1 to 40"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("logged in"), "{}", out.stderr);
}

/// With `hcp-geography: eu`, Packer gets `HCP_GEOGRAPHY=eu` too, so its
/// hcp-sdk-go publishes where packer-vault looks the version up.
#[test]
fn packer_gets_the_same_geography() {
    use crate::support::hcp::HcpStandIn;
    let f = Fixture::new("hcp_eu_packer");
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let dir = support::scratch_dir("hcp_eu_packer");
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates/env");
    let m = &f.kv2_mount;
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("CI_PROJECT_DIR", &dir)
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{m}/data/ci/hcp client_id | HCP_CLIENT_ID ; {m}/data/ci/hcp client_secret | HCP_CLIENT_SECRET"),
        )
        .env("PACKER_VAULT_HCP_BUCKET", "golden")
        .env("PACKER_VAULT_HCP_FINGERPRINT", "fp-eu-1")
        .env("PACKER_VAULT_HCP_GEOGRAPHY", "eu")
        .env("PACKER_VAULT_WORKING_DIRECTORY", &dir)
        .env("HCP_AUTH_URL", hcp.uri())
        .env("HCP_API_ADDRESS", hcp.uri())
        .env("HCP_PORTAL_URL", "https://portal.example.test")
        .env("OUT", &dir)
        .current_dir(&dir)
        .args(["build", &template.display().to_string()]);
    let out = support::run(cmd);
    out.assert_success();
    let env = crate::exec::read_env(&dir);
    assert_eq!(
        env.get("HCP_GEOGRAPHY").map(String::as_str),
        Some("eu"),
        "Packer's environment"
    );
    assert_eq!(env.get("HCP_PACKER_BUCKET_NAME").map(String::as_str), Some("golden"));
}
