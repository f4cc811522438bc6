use super::*;

fn flags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const NEEDS: Needs = Needs {
    lock_write: false,
    template: false,
    lifecycle: None,
};

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
