//! Vault over TLS, as production runs it: an OpenBao dev server with
//! `-dev-tls` (its own CA, a certificate for 127.0.0.1). The CA comes from
//! `ca-cert` as a file or inline PEM; an unknown issuer is refused at once,
//! not retried; `tls-skip-verify` connects and says so.

use crate::support::{self, Outcome, assert_no_secret, bao_tls};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A local `exec` with a root token against the TLS server, reading one KV
/// v2 value into `value` in `dir`.
fn run(dir: &Path, name: &str, extra: &[(&str, &str)]) -> Outcome {
    let bao = bao_tls();
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", &bao.addr)
        .env("VAULT_TOKEN", &bao.root_token)
        .env("PACKER_VAULT_SECRETS", format!("secret/data/{name} value | TLS_VALUE"))
        .envs(extra.iter().copied())
        .current_dir(dir)
        .args(["exec", "--", "sh", "-c", "printf %s \"$TLS_VALUE\" > value"]);
    support::run(cmd)
}

fn secret(name: &str) -> String {
    let value = format!("tls-value-{name}-{}", fastrand::u64(..));
    bao_tls().write_kv2("secret", name, &serde_json::json!({ "value": value }));
    value
}

fn ca() -> PathBuf {
    bao_tls().ca_pem.clone().expect("a -dev-tls server has a CA")
}

#[test]
fn the_ca_from_ca_cert_file_or_inline_pem_is_trusted() {
    let value = secret("tls-ca");
    let ca = ca();
    let pem = std::fs::read_to_string(&ca).expect("the CA");
    for (how, input) in [("a file", ca.display().to_string()), ("inline PEM", pem.clone())] {
        let dir = support::scratch_dir("tls_ca");
        let out = run(&dir, "tls-ca", &[("PACKER_VAULT_CA_CERT", &input)]);
        out.assert_success();
        assert_eq!(
            std::fs::read_to_string(dir.join("value")).unwrap_or_default(),
            value,
            "{how}"
        );
        assert!(out.stderr.contains("revoked the Vault token"), "{how}: {}", out.stderr);
        assert_no_secret(&out.combined(), &[&value]);
    }
}

#[test]
fn an_unknown_issuer_is_refused_at_once() {
    let value = secret("tls-unknown");
    let dir = support::scratch_dir("tls_unknown");
    let out = run(&dir, "tls-unknown", &[]);
    out.assert_code(1);
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
    assert!(out.stderr.contains("set ca-cert (VAULT_CACERT)"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("retrying"),
        "a certificate error is final: {}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    assert!(!dir.join("value").exists());
    assert_no_secret(&out.combined(), &[&value, &bao_tls().root_token]);
}

#[test]
fn tls_skip_verify_connects_and_warns() {
    let value = secret("tls-skip");
    let dir = support::scratch_dir("tls_skip");
    let out = run(&dir, "tls-skip", &[("PACKER_VAULT_TLS_SKIP_VERIFY", "true")]);
    out.assert_success();
    assert_eq!(std::fs::read_to_string(dir.join("value")).unwrap_or_default(), value);
    assert!(out.stderr.contains("tls-skip-verify is on"), "{}", out.stderr);
}

/// A minimal image with no trust store at all: `SSL_CERT_FILE` names an
/// empty file and there is no certificate directory.
const NO_TRUST_STORE: [(&str, &str); 2] = [("SSL_CERT_FILE", "/dev/null"), ("SSL_CERT_DIR", "/nonexistent")];

#[test]
fn without_a_trust_store_http_works_https_needs_ca_cert_and_says_so() {
    // An http Vault needs no roots at all.
    let dir = support::scratch_dir("tls_no_store_http");
    let bao = crate::support::bao();
    let name = format!("no-store-{}", fastrand::u64(..));
    let value = format!("plain-{name}");
    bao.write_kv2("secret", &name, &serde_json::json!({ "value": value }));
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", &bao.addr)
        .env("VAULT_TOKEN", &bao.root_token)
        .env("PACKER_VAULT_SECRETS", format!("secret/data/{name} value | TLS_VALUE"))
        .envs(NO_TRUST_STORE)
        .current_dir(&dir)
        .args(["exec", "--", "sh", "-c", "printf %s \"$TLS_VALUE\" > value"]);
    let out = support::run(cmd);
    out.assert_success();
    assert_eq!(std::fs::read_to_string(dir.join("value")).unwrap_or_default(), value);

    // https with ca-cert: the CA alone is enough.
    let value = secret("tls-no-store");
    let dir = support::scratch_dir("tls_no_store_ca");
    let ca = ca().display().to_string();
    let mut env: Vec<(&str, &str)> = NO_TRUST_STORE.to_vec();
    env.push(("PACKER_VAULT_CA_CERT", &ca));
    run(&dir, "tls-no-store", &env).assert_success();
    assert_eq!(std::fs::read_to_string(dir.join("value")).unwrap_or_default(), value);

    // https without it: exit 2 before any request, saying what to do.
    let dir = support::scratch_dir("tls_no_store");
    let out = run(&dir, "tls-no-store", &NO_TRUST_STORE);
    out.assert_code(2);
    assert!(
        out.stderr.contains("no trusted root certificates") && out.stderr.contains("ca-cert"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.trim().lines().count() <= 2, "{}", out.stderr);
}
