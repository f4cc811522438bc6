//! Per-test isolation on the shared server.
//!
//! [`Fixture::new`] creates, through the HTTP API and for one test only:
//!
//! * KV v2 mount `kv2-<id>` with `ci/hcp` (three versions of `client_id` /
//!   `client_secret`) and `ci/packer` (`ssh_key` multi-line, `api_token`,
//!   `db_password` with URL/JSON-sensitive characters);
//! * KV v1 mount `kv1-<id>` with `ci/legacy` (`user`, `password`);
//! * policy `read-<id>` (read on both mounts);
//! * JWT auth mount `jwt-<id>` trusting the test public key (no
//!   `bound_issuer`), with roles `github` (aud [`Fixture::github_aud`], bound
//!   `repository=acme/images`) and `gitlab` (aud [`Fixture::gitlab_aud`],
//!   bound `project_path=acme/images`, `ref_protected=true`), both granting
//!   `read-<id>` with `token_ttl` 300 s.
//!
//! Every seeded value is random per fixture and listed in
//! [`Fixture::secrets`] for leak assertions.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::bao::{Bao, bao, block_on};
use super::jwt;

/// One version of `kv2-<id>/ci/hcp`.
#[derive(Debug, Clone)]
pub struct HcpVersion {
    /// KV v2 version number (1, 2, 3).
    pub version: u64,
    pub client_id: String,
    pub client_secret: String,
}

/// Mounts, roles and seeded secrets of one test. See the module docs.
#[derive(Debug)]
pub struct Fixture {
    /// Unique id: sanitized test name, counter and a per-process tag.
    pub id: String,
    /// KV v2 mount path, `kv2-<id>`.
    pub kv2_mount: String,
    /// KV v1 mount path, `kv1-<id>`.
    pub kv1_mount: String,
    /// JWT auth mount path (without `auth/`), `jwt-<id>`.
    pub jwt_mount: String,
    /// Policy granting read on both KV mounts, `read-<id>`.
    pub policy: String,
    /// Role for GitHub tokens: `github`.
    pub github_role: String,
    /// Role for GitLab tokens: `gitlab`.
    pub gitlab_role: String,
    /// `bound_audiences` of the `github` role: `https://github.com/acme`
    /// (what GitHub uses when no audience is requested).
    pub github_aud: String,
    /// `bound_audiences` of the `gitlab` role: `https://vault.example.com`.
    pub gitlab_aud: String,
    /// `kv2-<id>/ci/hcp`, index 0 = version 1 ... index 2 = version 3 (latest).
    pub hcp: Vec<HcpVersion>,
    /// `kv2-<id>/ci/packer` key `ssh_key` (5 lines, PEM-like, trailing newline).
    pub ssh_key: String,
    /// `kv2-<id>/ci/packer` key `api_token`.
    pub api_token: String,
    /// `kv2-<id>/ci/packer` key `db_password` (contains `@ /"\&+=%`).
    pub db_password: String,
    /// `kv1-<id>/ci/legacy` key `user`.
    pub legacy_user: String,
    /// `kv1-<id>/ci/legacy` key `password`.
    pub legacy_password: String,
    /// Every seeded value with a label like `kv2/ci/hcp#client_secret@v3`.
    pub secrets: Vec<(String, String)>,
    /// Wall time of the provisioning (server start excluded).
    pub setup: Duration,
}

/// Path of the `ci/hcp` secret inside the KV v2 mount.
pub const HCP_PATH: &str = "ci/hcp";
/// Path of the `ci/packer` secret inside the KV v2 mount.
pub const PACKER_PATH: &str = "ci/packer";
/// Path of the `ci/legacy` secret inside the KV v1 mount.
pub const LEGACY_PATH: &str = "ci/legacy";

fn run_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| std::iter::repeat_with(fastrand::lowercase).take(4).collect())
}

fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(40);
    out.trim_matches('-').to_owned()
}

fn random(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(len).collect()
}

impl Fixture {
    /// Creates the fixture for test `name` (any string; it is sanitized).
    /// Panics on any API failure.
    pub fn new(name: &str) -> Fixture {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let bao = bao(); // starts the server on first use (not counted below)
        let started = Instant::now();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}-{}", sanitize(name), run_tag());

        let hcp: Vec<HcpVersion> = (1..=3)
            .map(|version| HcpVersion {
                version,
                client_id: format!("hcpid{version}{}", random(16)),
                client_secret: format!("hcpsecret{version}{}", random(32)),
            })
            .collect();
        let ssh_key = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n{}\n{}==\n-----END OPENSSH PRIVATE KEY-----\n",
            random(64),
            random(64),
            random(22)
        );
        let api_token = format!("pvtok_{}", random(32));
        let db_password = format!("{}:p@ss w/\"quote\"\\&+=%41", random(10));
        let legacy_user = format!("legacy-user-{}", random(8));
        let legacy_password = format!("legacy-pw-{}", random(20));

        let mut secrets = Vec::new();
        for v in &hcp {
            let n = v.version;
            secrets.push((format!("kv2/ci/hcp#client_id@v{n}"), v.client_id.clone()));
            secrets.push((format!("kv2/ci/hcp#client_secret@v{n}"), v.client_secret.clone()));
        }
        secrets.push(("kv2/ci/packer#ssh_key".into(), ssh_key.clone()));
        secrets.push(("kv2/ci/packer#api_token".into(), api_token.clone()));
        secrets.push(("kv2/ci/packer#db_password".into(), db_password.clone()));
        secrets.push(("kv1/ci/legacy#user".into(), legacy_user.clone()));
        secrets.push(("kv1/ci/legacy#password".into(), legacy_password.clone()));

        let mut fixture = Fixture {
            kv2_mount: format!("kv2-{id}"),
            kv1_mount: format!("kv1-{id}"),
            jwt_mount: format!("jwt-{id}"),
            policy: format!("read-{id}"),
            github_role: "github".into(),
            gitlab_role: "gitlab".into(),
            github_aud: "https://github.com/acme".into(),
            gitlab_aud: "https://vault.example.com".into(),
            id,
            hcp,
            ssh_key,
            api_token,
            db_password,
            legacy_user,
            legacy_password,
            secrets,
            setup: Duration::ZERO,
        };
        block_on(fixture.provision(bao));
        fixture.setup = started.elapsed();
        fixture
    }

    async fn provision(&self, bao: &Bao) {
        let policy = format!(
            "path \"{kv2}/data/*\" {{ capabilities = [\"read\"] }}\n\
             path \"{kv2}/metadata/*\" {{ capabilities = [\"read\"] }}\n\
             path \"{kv1}/*\" {{ capabilities = [\"read\"] }}\n",
            kv2 = self.kv2_mount,
            kv1 = self.kv1_mount,
        );
        let jwt_mount = async {
            bao.expect_ok(
                "POST",
                &format!("sys/auth/{}", self.jwt_mount),
                Some(json!({ "type": "jwt" })),
            )
            .await;
            bao.expect_ok(
                "POST",
                &format!("{}/config", self.auth_path()),
                Some(json!({ "jwt_validation_pubkeys": [jwt::PUBLIC_KEY_PEM] })),
            )
            .await;
            let github = json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [self.github_aud],
                "bound_claims": { "repository": jwt::REPOSITORY },
                "token_policies": [self.policy],
                "token_ttl": 300,
            });
            let gitlab = json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [self.gitlab_aud],
                "bound_claims": { "project_path": jwt::REPOSITORY, "ref_protected": "true" },
                "token_policies": [self.policy],
                "token_ttl": 300,
            });
            let (github_path, gitlab_path) = (self.role_path(&self.github_role), self.role_path(&self.gitlab_role));
            tokio::join!(
                bao.expect_ok("POST", &github_path, Some(github)),
                bao.expect_ok("POST", &gitlab_path, Some(gitlab)),
            );
        };
        let kv2 = async {
            bao.enable_kv_async(&self.kv2_mount, 2).await;
            let hcp = async {
                for v in &self.hcp {
                    let data = json!({ "client_id": v.client_id, "client_secret": v.client_secret });
                    let got = bao.write_kv2_async(&self.kv2_mount, HCP_PATH, &data).await;
                    assert_eq!(got, v.version, "unexpected KV v2 version for ci/hcp");
                }
            };
            let packer = json!({
                "ssh_key": self.ssh_key,
                "api_token": self.api_token,
                "db_password": self.db_password,
            });
            tokio::join!(hcp, bao.write_kv2_async(&self.kv2_mount, PACKER_PATH, &packer));
        };
        let kv1 = async {
            bao.enable_kv_async(&self.kv1_mount, 1).await;
            let legacy = json!({ "user": self.legacy_user, "password": self.legacy_password });
            bao.write_kv1_async(&self.kv1_mount, LEGACY_PATH, &legacy).await;
        };
        tokio::join!(jwt_mount, kv2, kv1, bao.policy_async(&self.policy, &policy));
    }

    /// `auth/jwt-<id>`.
    pub fn auth_path(&self) -> String {
        format!("auth/{}", self.jwt_mount)
    }

    /// `auth/jwt-<id>/login`.
    pub fn login_path(&self) -> String {
        format!("auth/{}/login", self.jwt_mount)
    }

    /// `auth/jwt-<id>/role/<role>`.
    pub fn role_path(&self, role: &str) -> String {
        format!("auth/{}/role/{role}", self.jwt_mount)
    }

    /// Latest (v3) `ci/hcp` values.
    pub fn hcp_latest(&self) -> &HcpVersion {
        self.hcp.last().expect("hcp versions")
    }

    /// `ci/hcp` values of `version` (1-based).
    pub fn hcp_version(&self, version: u64) -> &HcpVersion {
        &self.hcp[(version - 1) as usize]
    }

    /// A signed GitHub token accepted by the `github` role, with overrides.
    pub fn github_jwt(&self, overrides: &Value) -> String {
        jwt::sign(&jwt::github_claims(&self.github_aud, overrides))
    }

    /// A signed GitLab token accepted by the `gitlab` role, with overrides.
    pub fn gitlab_jwt(&self, overrides: &Value) -> String {
        jwt::sign(&jwt::gitlab_claims(&self.gitlab_aud, overrides))
    }

    /// Logs in on this fixture's JWT mount; returns status and body.
    pub fn login(&self, role: &str, jwt: &str) -> (u16, Value) {
        bao().jwt_login(&self.jwt_mount, role, jwt)
    }

    /// Logs in with a valid GitHub token and returns the client token.
    pub fn github_token(&self) -> String {
        let (status, body) = self.login(&self.github_role, &self.github_jwt(&json!({})));
        assert_eq!(status, 200, "github login failed: {body}");
        body["auth"]["client_token"].as_str().expect("client_token").to_owned()
    }

    /// Just the seeded values.
    pub fn secret_values(&self) -> Vec<&str> {
        self.secrets.iter().map(|(_, v)| v.as_str()).collect()
    }

    /// `(label, value)` pairs of every seeded value.
    pub fn labeled_secrets(&self) -> Vec<(&str, &str)> {
        self.secrets.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect()
    }

    /// [`super::leak::leak_report`] over every seeded value.
    pub fn leak_report(&self, haystack: &str) -> Vec<String> {
        super::leak::leak_report(haystack, &self.labeled_secrets())
    }

    /// [`super::assert_no_labeled_secret`] over every seeded value.
    #[track_caller]
    pub fn assert_no_secret(&self, haystack: &str) {
        super::leak::assert_no_labeled_secret(haystack, &self.labeled_secrets());
    }
}

impl Drop for Fixture {
    /// On an external server, removes what the fixture created (best
    /// effort). The throw-away dev server is left alone: it dies with us.
    fn drop(&mut self) {
        let bao = bao();
        if !bao.external {
            return;
        }
        for path in [
            format!("sys/mounts/{}", self.kv2_mount),
            format!("sys/mounts/{}", self.kv1_mount),
            format!("sys/auth/{}", self.jwt_mount),
            format!("sys/policies/acl/{}", self.policy),
        ] {
            let _ = bao.api("DELETE", &path, None);
        }
    }
}
