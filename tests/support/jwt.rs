//! Signing fake CI OIDC tokens with the committed test-only RSA key.
//!
//! The key pair lives in `tests/support/keys/` (see the README there). Each
//! [`super::Fixture`] configures `test_rsa_public.pem` as the JWT auth
//! mount's `jwt_validation_pubkeys`, so tokens from [`sign`] are accepted and
//! tokens from [`sign_untrusted`] are not.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Test private key (PKCS#1 PEM, `BEGIN RSA PRIVATE KEY`).
pub const PRIVATE_KEY_PEM: &str = include_str!("keys/test_rsa_private.pem");
/// Test public key (SPKI PEM), trusted by every fixture's JWT mount.
pub const PUBLIC_KEY_PEM: &str = include_str!("keys/test_rsa_public.pem");
/// A second private key that no server trusts (bad-signature tests).
pub const UNTRUSTED_PRIVATE_KEY_PEM: &str = include_str!("keys/untrusted_rsa_private.pem");

/// `kid` header put on every token.
pub const KEY_ID: &str = "packer-vault-test-key";

/// GitHub Actions OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// Issuer of the fake GitLab instance.
pub const GITLAB_ISSUER: &str = "https://gitlab.example.com";
/// Repository / project path bound by the fixture roles.
pub const REPOSITORY: &str = "acme/images";

/// The trusted test key's public half as PKCS#1 DER (the PEM is SPKI:
/// a BIT STRING, `03 82 LL LL 00`, wraps the PKCS#1 key).
pub fn public_key_pkcs1_der() -> Vec<u8> {
    use base64::Engine as _;
    let body: String = PUBLIC_KEY_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("the test public key");
    let at = der.windows(2).position(|w| w == [0x03, 0x82]).expect("a BIT STRING");
    der[at + 5..].to_vec()
}

/// DER body of a PKCS#1 PEM (jsonwebtoken is built without `use_pem`, so
/// the armor is removed here and the key given as DER).
fn rsa_key(pem: &str) -> EncodingKey {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64 in test key PEM");
    EncodingKey::from_rsa_der(&der)
}

fn sign_with(key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign JWT")
}

/// Signs `claims` with RS256 and the trusted test key.
pub fn sign(claims: &Value) -> String {
    static KEY: OnceLock<EncodingKey> = OnceLock::new();
    sign_with(KEY.get_or_init(|| rsa_key(PRIVATE_KEY_PEM)), claims)
}

/// Signs `claims` with a key no server trusts.
pub fn sign_untrusted(claims: &Value) -> String {
    sign_with(&rsa_key(UNTRUSTED_PRIVATE_KEY_PEM), claims)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Applies `overrides` (a JSON object) on top of `claims`: each key replaces
/// the claim, and a `null` value removes it. Non-object overrides are ignored.
pub fn merge(mut claims: Value, overrides: &Value) -> Value {
    if let (Some(target), Some(over)) = (claims.as_object_mut(), overrides.as_object()) {
        for (key, value) in over {
            if value.is_null() {
                target.remove(key);
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    claims
}

/// GitHub Actions-shaped claims for a push to `main` of `acme/images`, valid
/// for 300 s, with audience `aud`, then `overrides` applied (see [`merge`]).
/// Use e.g. `json!({"exp": now() - 600})` for an expired token or
/// `json!({"repository": "evil/x"})` for a foreign repository.
pub fn github_claims(aud: &str, overrides: &Value) -> Value {
    let now = now();
    let claims = json!({
        "iss": GITHUB_ISSUER,
        "aud": aud,
        "sub": "repo:acme/images:ref:refs/heads/main",
        "jti": format!("jti-{}", fastrand::u64(..)),
        "repository": REPOSITORY,
        "repository_id": "123456789",
        "repository_owner": "acme",
        "repository_owner_id": "4242",
        "repository_visibility": "private",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "ref_protected": "true",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "workflow": "images",
        "workflow_ref": "acme/images/.github/workflows/images.yml@refs/heads/main",
        "workflow_sha": "0123456789abcdef0123456789abcdef01234567",
        "job_workflow_ref": "acme/images/.github/workflows/images.yml@refs/heads/main",
        "job_workflow_sha": "0123456789abcdef0123456789abcdef01234567",
        "run_id": "9876543210",
        "run_number": "17",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "actor_id": "583231",
        "event_name": "push",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    });
    merge(claims, overrides)
}

/// GitLab CI `id_tokens`-shaped claims for a protected `main` branch of
/// `acme/images`, valid for 300 s, with audience `aud`, then `overrides`.
pub fn gitlab_claims(aud: &str, overrides: &Value) -> Value {
    let now = now();
    let claims = json!({
        "iss": GITLAB_ISSUER,
        "aud": aud,
        "sub": "project_path:acme/images:ref_type:branch:ref:main",
        "jti": format!("jti-{}", fastrand::u64(..)),
        "namespace_id": "77",
        "namespace_path": "acme",
        "project_id": "1234",
        "project_path": REPOSITORY,
        "user_id": "42",
        "user_login": "gitlab-user",
        "user_email": "gitlab-user@example.com",
        "user_access_level": "maintainer",
        "pipeline_id": "555001",
        "pipeline_source": "merge_request_event",
        "job_id": "777001",
        "ref": "main",
        "ref_type": "branch",
        "ref_path": "refs/heads/main",
        "ref_protected": "true",
        "runner_id": 9,
        "runner_environment": "gitlab-hosted",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "project_visibility": "private",
        "ci_config_ref_uri": "gitlab.example.com/acme/images//.gitlab-ci.yml@refs/heads/main",
        "ci_config_sha": "0123456789abcdef0123456789abcdef01234567",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    });
    merge(claims, overrides)
}
