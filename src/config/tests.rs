use super::*;
use crate::env::Env;
use std::collections::BTreeMap;

fn flags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const NEEDS: Needs = Needs::NONE;

#[test]
fn order_is_flag_input_env_fallback() {
    let env = Env::from([
        ("VAULT_ADDR", "http://fallback:8200"),
        ("PACKER_VAULT_VAULT_ADDR", "http://pv:8200"),
        ("INPUT_VAULT-ADDR", "http://input:8200"),
        ("VAULT_TOKEN", "t"),
    ]);
    let c = resolve(&flags(&[("vault-addr", "http://flag:8200")]), &env, NEEDS).unwrap();
    assert_eq!(c.vault_addr, "http://flag:8200");
    assert_eq!(
        resolve(&flags(&[]), &env, NEEDS).unwrap().vault_addr,
        "http://input:8200"
    );
    let mut env2 = env.clone();
    env2.set("INPUT_VAULT-ADDR", "");
    assert_eq!(resolve(&flags(&[]), &env2, NEEDS).unwrap().vault_addr, "http://pv:8200");
    let env3 = Env::from([("VAULT_SERVER_URL", "http://gitlab:8200/"), ("VAULT_TOKEN", "t")]);
    assert_eq!(
        resolve(&flags(&[]), &env3, NEEDS).unwrap().vault_addr,
        "http://gitlab:8200"
    );
}

#[test]
fn local_token_auth_and_defaults() {
    let env = Env::from([("VAULT_ADDR", "http://v:8200"), ("VAULT_TOKEN", "root")]);
    let c = resolve(&flags(&[]), &env, NEEDS).unwrap();
    assert!(matches!(c.auth, Auth::Token(_)));
    assert!(c.renew && c.revoke && c.summary && !c.export_env && !c.locked);
    assert_eq!(c.comment, CommentMode::Auto);
}

#[test]
fn bad_values_name_their_input() {
    let env = Env::from([("VAULT_ADDR", "http://v:8200"), ("VAULT_TOKEN", "root")]);
    for (name, value, want) in [
        ("vault-addr", "vault:8200", "vault-addr"),
        ("vault-addr", "ftp://v", "vault-addr"),
        ("renew", "maybe", "renew"),
        ("comment", "sometimes", "comment"),
        ("auth-method", "ldap", "auth-method"),
        ("secrets", "kv/a", "secrets"),
        ("packer-vars", "no equals", "packer-vars"),
        ("packer-version", "latest", "packer-version"),
        ("hcp-channel", "prod", "hcp-channel"),
        ("hcp-bucket", "a b", "hcp-bucket"),
        ("ca-cert", "/nonexistent/ca.pem", "ca-cert"),
        ("working-directory", "/nonexistent", "working-directory"),
    ] {
        let e = resolve(&flags(&[(name, value)]), &env, NEEDS).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{name}");
        assert!(e.to_string().contains(&format!("`{want}`")), "{name}: {e}");
    }
}

#[test]
fn the_cis_settings_outrank_the_repositorys_config_file_for_protected_inputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pv.yml");
    std::fs::write(
        &file,
        "vault-addr: http://attacker:8200\nrole: attacker\nauth-path: evil\nvault-namespace: evil\n\
         hcp-bucket: from-file\n",
    )
    .unwrap();
    let config = file.display().to_string();
    // GitLab's own variables, as `secrets: vault:` users set them in the
    // CI's (protected) settings.
    let env = Env::from([
        ("GITLAB_CI", "true"),
        ("VAULT_SERVER_URL", "http://vault.corp:8200"),
        ("VAULT_AUTH_ROLE", "images"),
        ("VAULT_AUTH_PATH", "jwt-gitlab"),
        ("VAULT_NAMESPACE", "admin"),
        ("VAULT_ID_TOKEN", "x.y.z"),
    ]);
    let c = resolve(&flags(&[("config", &config)]), &env, NEEDS).unwrap();
    assert_eq!(c.vault_addr, "http://vault.corp:8200");
    assert_eq!(c.vault_namespace.as_deref(), Some("admin"));
    assert!(matches!(&c.auth, Auth::Jwt { path, role, .. } if path == "jwt-gitlab" && role == "images"));
    // What the CI leaves empty, the file may fill; unprotected inputs come
    // from the file as before.
    let env = Env::from([("GITLAB_CI", "true"), ("VAULT_ID_TOKEN", "x.y.z")]);
    let c = resolve(&flags(&[("config", &config)]), &env, NEEDS).unwrap();
    assert_eq!(c.vault_addr, "http://attacker:8200");
    assert!(matches!(&c.auth, Auth::Jwt { role, .. } if role == "attacker"));
    assert_eq!(c.hcp.bucket.as_deref(), Some("from-file"));
}

#[test]
fn duplicate_variables_are_refused() {
    let r = spec::parse("kv/a k | X; kv/b j | X").unwrap();
    assert!(check_duplicates(&r).unwrap_err().contains("`X` is set twice"));
    let r = spec::parse("aws/creds/a | aws; kv/b j | AWS_ACCESS_KEY_ID").unwrap();
    assert!(check_duplicates(&r).is_err());
    assert!(check_duplicates(&spec::parse("kv/a k | X; kv/a k | X").unwrap()).is_ok());
}
