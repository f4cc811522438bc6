//! The demo behind `./demo`: one end-to-end run as a GitHub job would do it,
//! printed for a person to read. Ignored in the test suite (the other tests
//! assert the same things); run with `./demo`.

use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, GithubOidc, bao};
use std::path::PathBuf;

#[test]
#[ignore = "run through ./demo"]
fn demo() {
    let say = |s: &str| println!("\n\x1b[1m### {s}\x1b[0m");
    say("Starting OpenBao (real server) and seeding it");
    let f = Fixture::new("demo");
    println!(
        "OpenBao {} — KV v2 mount `{}`, KV v1 mount `{}`, JWT auth at `auth/{}`, role `github` bound to repository acme/images",
        bao().addr,
        f.kv2_mount,
        f.kv1_mount,
        f.jwt_mount
    );
    say("Starting stand-ins: GitHub's OIDC endpoint and HCP Packer");
    let oidc = GithubOidc::start("demo-request-token");
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let version_id = hcp.add_version("golden-base", "demo-fingerprint", 1);
    println!(
        "GitHub OIDC: {}\nHCP Packer:  {} (bucket golden-base, version {version_id})",
        oidc.uri(),
        hcp.uri()
    );

    let dir = support::scratch_dir("demo");
    let gh = oidc.env(&dir);
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/null");
    let secrets = format!(
        "{m}/data/ci/hcp client_id | HCP_CLIENT_ID ;\n{m}/data/ci/hcp client_secret | HCP_CLIENT_SECRET ;\n{m}/ci/packer * ;\n{l}/ci/legacy password | LEGACY_PASSWORD",
        m = f.kv2_mount,
        l = f.kv1_mount
    );
    say(
        "Running `packer-vault build examples/null` as the action's step would (INPUT_* variables, GitHub runner environment)",
    );
    println!("secrets:\n{secrets}\n");
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .env("INPUT_VAULT-ADDR", &bao().addr)
        .env("INPUT_ROLE", &f.github_role)
        .env("INPUT_AUTH-PATH", &f.jwt_mount)
        .env("INPUT_JWT-AUDIENCE", &f.github_aud)
        .env("INPUT_SECRETS", &secrets)
        .env("INPUT_HCP-BUCKET", "golden-base")
        .env("INPUT_HCP-CHANNEL", "dev")
        .env("INPUT_HCP-FINGERPRINT", "demo-fingerprint")
        .env("INPUT_WORKING-DIRECTORY", &dir)
        .env("INPUT_COMMENT", "never")
        .env("HCP_AUTH_URL", hcp.uri())
        .env("HCP_API_ADDRESS", hcp.uri())
        .args(["build", &example.display().to_string()]);
    let out = support::run(cmd);
    say("What the job log shows (stdout, then stderr)");
    println!("{}\n{}", out.stdout, out.stderr);
    say("The job summary (GITHUB_STEP_SUMMARY)");
    println!("{}", gh.read_summary());
    say("The step outputs (GITHUB_OUTPUT)");
    println!("{}", gh.read_output());
    say("Checks");
    let shown: String = out
        .combined()
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    let leaks = f.leak_report(&format!("{shown}\n{}\n{}", gh.read_summary(), gh.read_output()));
    println!("exit code: {:?}", out.code());
    println!(
        "secret forms found in the log, summary and outputs: {}",
        if leaks.is_empty() {
            "none".to_string()
        } else {
            leaks.join("; ")
        }
    );
    let revoked = crate::exec::revoked(&crate::exec::accessor(&out));
    println!("token revoked after the run: {revoked}");
    println!(
        "HCP channel `dev` now points at: {:?}",
        hcp.channel("golden-base", "dev")
    );
    assert!(out.status.success() && leaks.is_empty() && revoked);
}
