//! `packer-vault doctor` end to end against real OpenBao: the checklist of a
//! healthy setup, a bound-claims mismatch, an unreadable path, a sealed
//! Vault; never a secret in its output.

use crate::exec::{accessor, revoked};
use crate::support::hcp::HcpStandIn;
use crate::support::proxy::{Fault, Proxy};
use crate::support::{self, Fixture, GithubOidc, Outcome, bao, gitlab_env_with};
use serde_json::{Value, json};
use std::process::Command;

/// A GitLab job running `packer-vault doctor` with `spec`, its token
/// carrying `overrides` on top of the claims the `gitlab` role accepts.
fn doctor(f: &Fixture, spec: &str, overrides: &Value) -> Command {
    let dir = support::scratch_dir("doctor");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env_with(f, &dir, overrides))
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env("PACKER_VAULT_SECRETS", spec)
        .arg("doctor");
    cmd
}

fn line<'a>(out: &'a Outcome, prefix: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{}", out.stdout))
}

/// Nothing secret anywhere: seeded values, the JWT, the Vault token.
#[track_caller]
fn no_secret(f: &Fixture, out: &Outcome, jwt: &str) {
    f.assert_no_secret(&out.combined());
    support::assert_no_labeled_secret(&out.combined(), &[("jwt", jwt)]);
    crate::leaks::assert_no_token_shape(&out.combined());
}

fn jwt_of(cmd: &Command) -> String {
    cmd.get_envs()
        .find(|(k, _)| *k == "VAULT_ID_TOKEN")
        .and_then(|(_, v)| v)
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn a_healthy_setup_passes_every_check() {
    let f = Fixture::new("doctor_ok");
    let spec = format!(
        "{m}/ci/hcp client_id | HCP_CLIENT_ID ; {m}/ci/packer@1 db_password | DB ; {v1}/ci/legacy *",
        m = f.kv2_mount,
        v1 = f.kv1_mount
    );
    let cmd = doctor(&f, &spec, &json!({}));
    let jwt = jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_success();
    assert!(line(&out, "[ok]   platform").contains("GitLab CI"));
    let identity = out.stdout.split("identity token").nth(1).unwrap_or_default();
    for claim in [
        "iss=https://gitlab.example.com",
        "project_path=acme/images",
        "ref=main",
        "ref_protected=true",
    ] {
        assert!(identity.contains(claim), "claim {claim} shown:\n{}", out.stdout);
    }
    assert!(identity.contains("expires in"), "{}", out.stdout);
    assert!(line(&out, &format!("[ok]   Vault {}", bao().addr)).contains("200: active node"));
    let login = line(&out, "[ok]   login (role `gitlab`");
    assert!(login.contains(&f.policy) && login.contains("ttl 300 s"), "{login}");
    let hcp = line(&out, &format!("[ok]   secret `{}/ci/hcp`", f.kv2_mount));
    assert!(hcp.contains("KV v2, version 3") && hcp.contains("client_id"), "{hcp}");
    assert!(line(&out, &format!("[ok]   secret `{}/ci/packer@1`", f.kv2_mount)).contains("version 1"));
    let legacy = line(&out, &format!("[ok]   secret `{}/ci/legacy`", f.kv1_mount));
    assert!(legacy.contains("KV v1") && legacy.contains("password"), "{legacy}");
    assert!(line(&out, "[ok]   packer").contains("1.6.6"), "{}", out.stdout);
    assert!(line(&out, "[skip] HCP Packer").contains("not configured"));
    assert!(
        out.stdout.contains("doctor: all 9 checks passed, 1 skipped"),
        "{}",
        out.stdout
    );
    assert!(revoked(&accessor(&out)), "the doctor's token is revoked");
    no_secret(&f, &out, &jwt);
}

#[test]
fn a_bound_claims_mismatch_names_the_claim() {
    let f = Fixture::new("doctor_claims");
    let spec = format!("{}/ci/hcp client_id | ID", f.kv2_mount);
    let cmd = doctor(&f, &spec, &json!({"project_path": "evil/x"}));
    let jwt = jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_code(1);
    let login = line(&out, "[FAIL] login (role `gitlab`");
    assert!(login.contains("Vault answered 400"), "{login}");
    assert!(
        out.stdout
            .contains("claim `project_path` differs: the token has project_path=evil/x"),
        "the claim that differs is named:\n{}",
        out.stdout
    );
    assert!(line(&out, "[skip] secrets").contains("not logged in"));
    assert!(out.stdout.contains("doctor: 1 of"), "{}", out.stdout);
    no_secret(&f, &out, &jwt);
}

#[test]
fn a_wrong_audience_says_which_aud_the_token_had() {
    let f = Fixture::new("doctor_aud");
    let cmd = doctor(&f, "", &json!({"aud": "https://wrong.example.com"}));
    let jwt = jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(
        out.stdout.contains("aud is https://wrong.example.com")
            && out.stdout.contains("bound_audiences")
            && out.stdout.contains("id_tokens"),
        "{}",
        out.stdout
    );
    no_secret(&f, &out, &jwt);
}

#[test]
fn an_unreadable_path_is_listed_as_denied() {
    let f = Fixture::new("doctor_denied");
    let (status, body) = bao().api(
        "POST",
        &format!("sys/mounts/other-{}", f.id),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    );
    assert!(status < 300, "{status} {body}");
    bao().write_kv2(
        &format!("other-{}", f.id),
        "ci/x",
        &json!({"k": "unreadable-value-0123456789"}),
    );
    let spec = format!(
        "{m}/ci/hcp client_id | ID ; other-{id}/ci/x k | K ; {m}/ci/missing k | M ; {m}/ci/packer nokey | N",
        m = f.kv2_mount,
        id = f.id
    );
    let cmd = doctor(&f, &spec, &json!({}));
    let jwt = jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(line(&out, &format!("[ok]   secret `{}/ci/hcp`", f.kv2_mount)).contains("readable"));
    let denied = line(&out, &format!("[FAIL] secret `other-{}/ci/x`", f.id));
    assert!(
        denied.contains("denied: the token's policies do not allow read"),
        "{denied}"
    );
    assert!(line(&out, &format!("[FAIL] secret `{}/ci/missing`", f.kv2_mount)).contains("not found"));
    assert!(line(&out, &format!("[FAIL] secret `{}/ci/packer`", f.kv2_mount)).contains("no key `nokey`"));
    assert!(out.stdout.contains("doctor: 3 of"), "{}", out.stdout);
    assert!(revoked(&accessor(&out)));
    no_secret(&f, &out, &jwt);
    assert!(!out.combined().contains("unreadable-value"));
}

#[test]
fn a_sealed_vault_is_explained_and_login_skipped() {
    let f = Fixture::new("doctor_sealed");
    let proxy = Proxy::start(&bao().addr);
    proxy.fail_always(
        Some("/v1/sys/health"),
        Fault::Respond {
            status: 503,
            headers: Vec::new(),
            body: r#"{"initialized":true,"sealed":true,"standby":true,"version":"2.7.2"}"#.into(),
        },
    );
    let mut cmd = doctor(&f, "", &json!({}));
    cmd.env("PACKER_VAULT_VAULT_ADDR", proxy.addr());
    let out = support::run(cmd);
    out.assert_code(1);
    let vault = line(&out, &format!("[FAIL] Vault {}", proxy.addr()));
    assert!(vault.contains("503: sealed"), "{vault}");
    assert!(line(&out, "[skip] login").contains("not available"));
    assert_eq!(proxy.count(), 1, "health only: {:?}", proxy.requests());
}

#[test]
fn doctor_on_a_healthy_standby_is_fine() {
    let f = Fixture::new("doctor_standby");
    let proxy = Proxy::start(&bao().addr);
    proxy.fail_next_on(
        "/v1/sys/health",
        1,
        Fault::Respond {
            status: 429,
            headers: Vec::new(),
            body: r#"{"initialized":true,"sealed":false,"standby":true,"version":"2.7.2"}"#.into(),
        },
    );
    let mut cmd = doctor(&f, &format!("{}/ci/hcp client_id | ID", f.kv2_mount), &json!({}));
    cmd.env("PACKER_VAULT_VAULT_ADDR", proxy.addr());
    let out = support::run(cmd);
    out.assert_success();
    assert!(line(&out, &format!("[ok]   Vault {}", proxy.addr())).contains("429: standby node"));
}

#[test]
fn hcp_reachability_uses_the_credentials_from_vault() {
    let f = Fixture::new("doctor_hcp");
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let spec = format!(
        "{m}/ci/hcp client_id | HCP_CLIENT_ID ; {m}/ci/hcp client_secret | HCP_CLIENT_SECRET",
        m = f.kv2_mount
    );
    let with_bucket = |cmd: &mut Command| {
        cmd.env("HCP_AUTH_URL", hcp.uri())
            .env("HCP_API_ADDRESS", hcp.uri())
            .env("PACKER_VAULT_HCP_BUCKET", "golden");
    };
    let mut cmd = doctor(&f, &spec, &json!({}));
    with_bucket(&mut cmd);
    let jwt = jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_success();
    let line_hcp = line(&out, "[ok]   HCP Packer (bucket `golden`)");
    assert!(
        line_hcp.contains(&hcp.org_id) && line_hcp.contains(&hcp.project_id),
        "{line_hcp}"
    );
    assert_eq!(hcp.requests_to("POST", "/oauth2/token").len(), 1);
    no_secret(&f, &out, &jwt);

    // Version 1 of the credentials: refused by HCP.
    let spec_v1 = format!(
        "{m}/ci/hcp@1 client_id | HCP_CLIENT_ID ; {m}/ci/hcp@1 client_secret | HCP_CLIENT_SECRET",
        m = f.kv2_mount
    );
    let mut cmd = doctor(&f, &spec_v1, &json!({}));
    with_bucket(&mut cmd);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(line(&out, "[FAIL] HCP Packer").contains("refused"), "{}", out.stdout);
    no_secret(&f, &out, &jwt);
}

#[test]
fn doctor_in_a_github_job_shows_the_oidc_claims() {
    let f = Fixture::new("doctor_github");
    let oidc = GithubOidc::start_with("doctor-request-token", json!({"repository": "evil/x"}));
    let dir = support::scratch_dir("doctor_github");
    let gh = oidc.env(&dir);
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .env("INPUT_VAULT-ADDR", &bao().addr)
        .env("INPUT_ROLE", &f.github_role)
        .env("INPUT_AUTH-PATH", f.auth_path())
        .env("INPUT_JWT-AUDIENCE", &f.github_aud)
        .env("INPUT_SECRETS", format!("{}/ci/hcp client_id | ID", f.kv2_mount))
        .arg("doctor");
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(line(&out, "[ok]   platform").contains("GitHub Actions"));
    let identity = line(&out, "[ok]   identity token");
    assert!(identity.contains("GitHub's OIDC endpoint"), "{identity}");
    assert!(
        out.stdout
            .contains("claim `repository` differs: the token has repository=evil/x"),
        "{}",
        out.stdout
    );
    let shown: String = out.stdout.lines().filter(|l| !l.starts_with("::add-mask::")).collect();
    crate::leaks::assert_no_token_shape(&shown);
    f.assert_no_secret(&shown);
    let jwt = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .find(|m| m.starts_with("eyJ") && m.matches('.').count() == 2)
        .expect("the JWT is masked");
    support::assert_no_labeled_secret(&format!("{shown}\n{}", out.stderr), &[("jwt", jwt)]);
}

#[test]
fn a_cancelled_doctor_revokes_its_token() {
    let f = Fixture::new("doctor_cancel");
    let proxy = Proxy::start(&bao().addr);
    // The secret probe never gets an answer: the doctor is mid-check.
    proxy.fail_always(Some(&format!("/v1/{}/", f.kv2_mount)), Fault::Hang);
    let mut cmd = doctor(&f, &format!("{}/ci/hcp client_id | ID", f.kv2_mount), &json!({}));
    cmd.env("PACKER_VAULT_VAULT_ADDR", proxy.addr())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "[ok]   login", pid, libc::SIGTERM);
    assert_eq!(out.code(), Some(143), "{}", out.combined());
    let login = line(&out, "[ok]   login");
    let acc = login
        .split("accessor ")
        .nth(1)
        .expect("the login line names the accessor")
        .trim();
    assert!(revoked(acc), "the doctor's token was revoked:\n{}", out.combined());
    assert!(out.stderr.contains("doctor cancelled"), "{}", out.stderr);
    f.assert_no_secret(&out.combined());
}
