//! `packer-vault-token`: templates that use Packer's own Vault integrations
//! (the HCL `vault()` function here, with a real Packer 1.6.6 and the real
//! OpenBao) get `VAULT_ADDR` and a child token of the run's, never the
//! run's token itself, which is revoked when the run ends.

use crate::exec::accessor;
use crate::support::{self, Fixture, bao, gitlab_env};
use serde_json::json;

/// A template whose local comes from `vault()`, checked against the value
/// the spec hands Packer, and a provisioner that records what the token is.
fn template(dir: &std::path::Path, kv2: &str) {
    let hcl = format!(
        r#"locals {{
  from_vault = vault("{kv2}/data/ci/packer", "api_token")
}}

source "null" "x" {{
  communicator = "none"
}}

build {{
  sources = ["source.null.x"]

  provisioner "shell-local" {{
    inline = [
      "test \"${{local.from_vault}}\" = \"$API_TOKEN\" && echo vault-function-ok",
      "env -0 > \"$OUT/env\"",
      "curl -sf -H \"X-Vault-Token: $VAULT_TOKEN\" \"$VAULT_ADDR/v1/auth/token/lookup-self\" > \"$OUT/lookup.json\"",
    ]
  }}
}}
"#
    );
    std::fs::write(dir.join("vault.pkr.hcl"), hcl).expect("template");
}

fn job(f: &Fixture, dir: &std::path::Path, on: bool) -> std::process::Command {
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(f, dir))
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
        )
        .env("PACKER_VAULT_WORKING_DIRECTORY", dir)
        .env("PACKER_VAULT_COMMENT", "never")
        .env("OUT", dir)
        .args(["build", "."]);
    if on {
        cmd.env("PACKER_VAULT_PACKER_VAULT_TOKEN", "true");
    }
    cmd
}

#[test]
fn a_template_calling_vault_builds_with_a_child_token_revoked_after() {
    let f = Fixture::new("vault_in_packer");
    // What the README tells a role to grant for packer-vault-token.
    bao().policy(
        &f.policy,
        &format!(
            "path \"{kv2}/data/*\" {{ capabilities = [\"read\"] }}\n\
             path \"auth/token/create\" {{ capabilities = [\"update\"] }}\n",
            kv2 = f.kv2_mount
        ),
    );
    let dir = support::scratch_dir("vault_in_packer");
    template(&dir, &f.kv2_mount);
    let out = support::run(job(&f, &dir, true));
    out.assert_success();
    assert!(out.stdout.contains("vault-function-ok"), "{}", out.stdout);
    let env = crate::exec::read_env(&dir);
    assert_eq!(env.get("VAULT_ADDR").map(String::as_str), Some(bao().addr.as_str()));
    let token = env.get("VAULT_TOKEN").expect("Packer got a token").clone();
    let lookup: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lookup.json")).expect("the lookup ran"))
            .expect("lookup JSON");
    let data = &lookup["data"];
    assert_ne!(
        data["accessor"].as_str(),
        Some(accessor(&out).as_str()),
        "never the run's own token"
    );
    // Renewable: the run renews it with its own token while Packer runs
    // (front_door.rs), and it never outlives the run's.
    assert_eq!(data["renewable"], json!(true));
    assert!(
        data["ttl"].as_u64().is_some_and(|t| t <= 300),
        "no longer than the run's: {data}"
    );
    assert!(
        data["display_name"]
            .as_str()
            .is_some_and(|d| d.contains("packer-vault-packer"))
    );
    // Revoked with the run: its lookup fails now.
    let (status, _) = bao().api("POST", "auth/token/lookup", Some(json!({ "token": token })));
    assert!(status >= 400, "Packer's child token is revoked ({status})");
    assert!(out.stderr.contains("revoked Packer's child token"), "{}", out.stderr);
    // Masked and hidden like every credential.
    support::assert_no_labeled_secret(&out.combined(), &[("packer token", token.as_str())]);
    f.assert_no_secret(&out.combined());
}

#[test]
fn without_the_input_packer_gets_no_vault_token() {
    let f = Fixture::new("vault_in_packer_off");
    let dir = support::scratch_dir("vault_in_packer_off");
    template(&dir, &f.kv2_mount);
    let out = support::run(job(&f, &dir, false));
    out.assert_code(1);
    assert!(!out.stdout.contains("vault-function-ok"));
    f.assert_no_secret(&out.combined());
}
