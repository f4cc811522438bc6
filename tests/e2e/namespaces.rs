//! Namespaces as HCP Vault Dedicated and Vault Enterprise use them, on the
//! real OpenBao: namespaces `admin`, `admin/team-a` and `admin/team-b`, a
//! JWT auth mount and its roles inside `admin`, KV v2 and v1 in several
//! namespaces. A GitHub and a GitLab job log in to `admin` and read
//! `admin`'s secrets, a child namespace's by path (with and without
//! `data/`, pinned), and another by the long form's `namespace:`; token
//! mode reads `admin` with a root-namespace token; the lock pins paths of
//! two namespaces and sees drift in the child; every token is checked
//! revoked where it lives, and every output is scanned for every value.

use crate::exec::{accessor, read_env};
use crate::support::{self, Fixture, GithubOidc, Outcome, bao, block_on, gitlab_env, jwt};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

const ADMIN: &str = "admin";
const TEAM_A: &str = "admin/team-a";
const TEAM_B: &str = "admin/team-b";

/// Creates the namespaces once per server (an existing one is fine).
fn namespaces() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        for path in [
            "sys/namespaces/admin",
            "admin/sys/namespaces/team-a",
            "admin/sys/namespaces/team-b",
        ] {
            let (status, body) = bao().api("POST", path, None);
            assert!(
                status < 300 || body.to_string().contains("already exists"),
                "{path}: {status} {body}"
            );
        }
    });
}

fn random(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(len).collect()
}

/// One test's mounts, roles and values, inside the namespaces.
struct World {
    /// Root-namespace fixture: only its audiences and env helpers are used.
    f: Fixture,
    /// JWT auth mount inside `admin`.
    jwt_mount: String,
    /// The KV v2 mount's name, in `admin`, `admin/team-a` and `admin/team-b`.
    kv2: String,
    /// A KV v1 mount in `admin/team-a`.
    kv1: String,
    /// `admin`: `<kv2>/ci/a` key `key`.
    a: String,
    /// `admin/team-a`: `<kv2>/ci/b` key `key`, versions 1 and 2.
    b: [String; 2],
    /// `admin/team-b`: `<kv2>/ci/c` key `key`.
    c: String,
    /// `admin/team-a`: `<kv1>/ci/legacy` key `user`.
    legacy: String,
}

impl World {
    fn new(name: &str) -> World {
        namespaces();
        let f = Fixture::new(name);
        let w = World {
            jwt_mount: format!("jwt-ns-{}", f.id),
            kv2: format!("kv2-ns-{}", f.id),
            kv1: format!("kv1-ns-{}", f.id),
            a: format!("ns-a-{}", random(24)),
            b: [format!("ns-b1-{}", random(24)), format!("ns-b2-{}", random(24))],
            c: format!("ns-c-{}", random(24)),
            legacy: format!("ns-legacy-{}", random(24)),
            f,
        };
        block_on(w.provision());
        w
    }

    async fn provision(&self) {
        let bao = bao();
        let kv = |version: &str| json!({ "type": "kv", "options": { "version": version } });
        for ns in [ADMIN, TEAM_A, TEAM_B] {
            bao.expect_ok("POST", &format!("{ns}/sys/mounts/{}", self.kv2), Some(kv("2")))
                .await;
        }
        bao.expect_ok("POST", &format!("{TEAM_A}/sys/mounts/{}", self.kv1), Some(kv("1")))
            .await;
        bao.write_kv2_async(&format!("{ADMIN}/{}", self.kv2), "ci/a", &json!({ "key": self.a }))
            .await;
        for b in &self.b[..1] {
            bao.write_kv2_async(&format!("{TEAM_A}/{}", self.kv2), "ci/b", &json!({ "key": b }))
                .await;
        }
        bao.write_kv2_async(&format!("{TEAM_B}/{}", self.kv2), "ci/c", &json!({ "key": self.c }))
            .await;
        bao.write_kv1_async(
            &format!("{TEAM_A}/{}", self.kv1),
            "ci/legacy",
            &json!({ "user": self.legacy }),
        )
        .await;
        // One policy in `admin`, granting its children's paths by prefix.
        let policy = format!(
            "path \"{kv2}/data/*\" {{ capabilities = [\"read\"] }}\n\
             path \"{kv2}/metadata/*\" {{ capabilities = [\"read\"] }}\n\
             path \"team-a/{kv2}/data/*\" {{ capabilities = [\"read\"] }}\n\
             path \"team-a/{kv2}/metadata/*\" {{ capabilities = [\"read\"] }}\n\
             path \"team-a/{kv1}/*\" {{ capabilities = [\"read\"] }}\n\
             path \"team-b/{kv2}/data/*\" {{ capabilities = [\"read\"] }}\n",
            kv2 = self.kv2,
            kv1 = self.kv1,
        );
        bao.expect_ok(
            "PUT",
            &format!("{ADMIN}/sys/policies/acl/{}", self.policy()),
            Some(json!({ "policy": policy })),
        )
        .await;
        bao.expect_ok(
            "POST",
            &format!("{ADMIN}/sys/auth/{}", self.jwt_mount),
            Some(json!({ "type": "jwt" })),
        )
        .await;
        bao.expect_ok(
            "POST",
            &format!("{ADMIN}/auth/{}/config", self.jwt_mount),
            Some(json!({ "jwt_validation_pubkeys": [jwt::PUBLIC_KEY_PEM] })),
        )
        .await;
        for (role, aud, claims) in [
            ("github", &self.f.github_aud, json!({ "repository": jwt::REPOSITORY })),
            ("gitlab", &self.f.gitlab_aud, json!({ "project_path": jwt::REPOSITORY })),
        ] {
            let body = json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [aud],
                "bound_claims": claims,
                "token_policies": [self.policy()],
                "token_ttl": 300,
            });
            bao.expect_ok(
                "POST",
                &format!("{ADMIN}/auth/{}/role/{role}", self.jwt_mount),
                Some(body),
            )
            .await;
        }
    }

    fn policy(&self) -> String {
        format!("read-{}", self.kv2)
    }

    /// The spec of the one-line syntax: `admin`'s own path, a child
    /// namespace's without and with `data/` and pinned, and a KV v1 one.
    fn spec(&self) -> String {
        format!(
            "{kv2}/ci/a key | A ; team-a/{kv2}/ci/b key | B ; team-a/{kv2}/data/ci/b@1 key | B_PINNED ; \
             team-a/{kv1}/ci/legacy user | LEGACY",
            kv2 = self.kv2,
            kv1 = self.kv1
        )
    }

    /// A config file whose long form reads `admin/team-b` by `namespace:`.
    fn config(&self, dir: &Path) -> String {
        let path = dir.join("packer-vault.yml");
        let text = format!(
            "secrets:\n  - path: {kv2}/ci/c\n    namespace: {TEAM_B}\n    keys:\n      key: C\n",
            kv2 = self.kv2
        );
        std::fs::write(&path, text).expect("config");
        path.display().to_string()
    }

    /// What every run's child must have.
    fn expected(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("A", self.a.as_str()),
            ("B", self.b[0].as_str()),
            ("B_PINNED", self.b[0].as_str()),
            ("LEGACY", self.legacy.as_str()),
        ]
    }

    /// Every value there is, for leak scans.
    fn values(&self) -> Vec<(&str, &str)> {
        vec![
            ("a", &self.a),
            ("b1", &self.b[0]),
            ("b2", &self.b[1]),
            ("c", &self.c),
            ("legacy", &self.legacy),
        ]
    }

    /// No value in either stream, GitHub's `::add-mask::` lines (which
    /// carry values by design, for the runner only) aside.
    #[track_caller]
    fn no_leak(&self, out: &Outcome) {
        support::assert_no_labeled_secret(&crate::exec::shown(out), &self.values());
    }

    /// True when no token with `accessor` exists in namespace `ns` any more.
    fn revoked_in(&self, ns: &str, accessor: &str) -> bool {
        let path = format!("{ns}/auth/token/lookup-accessor")
            .trim_start_matches('/')
            .to_string();
        bao().api("POST", &path, Some(json!({ "accessor": accessor }))).0 >= 400
    }

    /// A GitHub job logged in to `admin` with the `github` role, reading
    /// [`World::spec`], commenting never, `OUT` set to `dir`.
    fn github_job(&self, oidc: &GithubOidc, dir: &Path) -> (Command, support::GithubEnv) {
        let gh = support::github_env(dir, &oidc.request_url(), &oidc.request_token);
        let mut cmd = support::bin();
        cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
            .env("INPUT_VAULT-ADDR", &bao().addr)
            .env("INPUT_VAULT-NAMESPACE", ADMIN)
            .env("INPUT_ROLE", "github")
            .env("INPUT_AUTH-PATH", &self.jwt_mount)
            .env("INPUT_JWT-AUDIENCE", &self.f.github_aud)
            .env("INPUT_SECRETS", self.spec())
            .env("INPUT_COMMENT", "never")
            .env("OUT", dir);
        (cmd, gh)
    }

    /// A GitLab job logged in to `admin` (GitLab's own `VAULT_NAMESPACE`)
    /// with the `gitlab` role, reading `spec`.
    fn gitlab_job(&self, dir: &Path, spec: &str) -> Command {
        let mut cmd = support::bin();
        cmd.envs(gitlab_env(&self.f, dir))
            .env("VAULT_NAMESPACE", ADMIN)
            .env("VAULT_AUTH_ROLE", "gitlab")
            .env("VAULT_AUTH_PATH", &self.jwt_mount)
            .env("PACKER_VAULT_SECRETS", spec);
        cmd
    }

    /// A fresh token of the `gitlab` role in `admin`: the positive control
    /// of [`World::revoked_in`].
    fn live_accessor(&self) -> String {
        let token = jwt::sign(&jwt::gitlab_claims(&self.f.gitlab_aud, &json!({})));
        let (status, body) = bao().api_with_token(
            "",
            "POST",
            &format!("{ADMIN}/auth/{}/login", self.jwt_mount),
            Some(json!({ "role": "gitlab", "jwt": token })),
        );
        assert_eq!(status, 200, "{body}");
        body["auth"]["accessor"].as_str().expect("accessor").to_string()
    }
}

/// `exec` recording its child's environment in `$OUT/env`.
const RECORD: [&str; 5] = ["exec", "--", "sh", "-c", r#"env -0 > "$OUT/env""#];

#[track_caller]
fn check_child(w: &World, dir: &Path, with_c: bool) {
    let env = read_env(dir);
    for (name, value) in w.expected() {
        assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
    }
    if with_c {
        assert_eq!(env.get("C").map(String::as_str), Some(w.c.as_str()), "C");
    }
}

#[test]
fn a_github_job_logged_in_to_admin_reads_admin_and_its_child_namespaces() {
    let w = World::new("ns_github");
    let oidc = GithubOidc::start("request-token-ns-github");
    let dir = support::scratch_dir("ns_github");
    let (mut cmd, gh) = w.github_job(&oidc, &dir);
    cmd.env("INPUT_CONFIG", w.config(&dir)).args(RECORD);
    let out = support::run(cmd);
    out.assert_success();
    check_child(&w, &dir, true);
    let acc = accessor(&out);
    assert!(acc.contains('.'), "a namespaced token's accessor: {acc}");
    assert!(!w.revoked_in(ADMIN, &w.live_accessor()), "the check finds live tokens");
    assert!(w.revoked_in(ADMIN, &acc), "the token is revoked where it lives");
    w.no_leak(&out);
    support::assert_no_labeled_secret(&gh.read_all_files(), &w.values());
}

#[test]
fn a_gitlab_job_with_gitlabs_own_vault_namespace_variable() {
    let w = World::new("ns_gitlab");
    let dir = support::scratch_dir("ns_gitlab");
    let mut cmd = w.gitlab_job(&dir, &w.spec());
    cmd.env("OUT", &dir).args(RECORD);
    let out = support::run(cmd);
    out.assert_success();
    check_child(&w, &dir, false);
    assert!(w.revoked_in(ADMIN, &accessor(&out)));
    w.no_leak(&out);
}

#[test]
fn token_mode_with_a_root_namespace_token_reads_admin() {
    let w = World::new("ns_token");
    let dir = support::scratch_dir("ns_token");
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", &bao().addr)
        .env("VAULT_TOKEN", &bao().root_token)
        .env("VAULT_NAMESPACE", ADMIN)
        .env("PACKER_VAULT_SECRETS", w.spec())
        .env("PACKER_VAULT_CONFIG", w.config(&dir))
        .env("OUT", &dir)
        .args(RECORD);
    let out = support::run(cmd);
    out.assert_success();
    check_child(&w, &dir, true);
    // The child token was made where the parent lives (root), not in admin.
    let acc = accessor(&out);
    assert!(!acc.contains('.'), "a root-namespace accessor: {acc}");
    assert!(w.revoked_in("", &acc), "the child token is revoked");
    assert_eq!(bao().lookup_self_status(&bao().root_token), 200, "the parent survives");
    w.no_leak(&out);
}

#[test]
fn lock_pins_two_namespaces_and_check_sees_drift_in_the_child() {
    let w = World::new("ns_lock");
    let dir = support::scratch_dir("ns_lock");
    let lock_file = dir.join("packer-vault.lock");
    let job = |args: &[&str]| -> Outcome {
        let mut cmd = w.gitlab_job(
            &dir,
            &format!("{kv2}/ci/a key | A ; team-a/{kv2}/ci/b key | B", kv2 = w.kv2),
        );
        cmd.env("PACKER_VAULT_LOCK_FILE", &lock_file)
            .env("OUT", &dir)
            .args(args);
        support::run(cmd)
    };
    let out = job(&["lock"]);
    out.assert_success();
    let text = std::fs::read_to_string(&lock_file).expect("the lock");
    assert!(text.contains(&format!("namespace: \"{ADMIN}\"")), "{text}");
    assert!(text.contains(&format!("namespace: \"{TEAM_A}\"")), "{text}");
    assert!(
        !text.contains("team-a/kv2"),
        "each mount named in its own namespace:\n{text}"
    );
    w.no_leak(&out);
    job(&["lock", "--check"]).assert_success();

    // A build with the lock reads the pinned versions.
    let out = job(&RECORD);
    out.assert_success();
    assert!(out.stderr.contains("2 secrets pinned"), "{}", out.stderr);

    // A new version in the child namespace: the check names it, and fails.
    bao().write_kv2(&format!("{TEAM_A}/{}", w.kv2), "ci/b", &json!({ "key": w.b[1] }));
    let out = job(&["lock", "--check"]);
    out.assert_code(1);
    let child = format!("{TEAM_A}/{}/ci/b", w.kv2);
    assert!(
        out.stdout.contains(&format!("{child}: locked v1, current v2")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("{ADMIN}/{}/ci/a: v1 up to date", w.kv2)),
        "{}",
        out.stdout
    );
    w.no_leak(&out);

    // The locked build still reads version 1 from the child namespace.
    let out = job(&RECORD);
    out.assert_success();
    assert_eq!(read_env(&dir).get("B").map(String::as_str), Some(w.b[0].as_str()));
}

#[test]
fn doctor_names_the_namespace_of_each_path() {
    let w = World::new("ns_doctor");
    let dir = support::scratch_dir("ns_doctor");
    let mut cmd = w.gitlab_job(&dir, &w.spec());
    cmd.env("PACKER_VAULT_CONFIG", w.config(&dir)).arg("doctor");
    let out = support::run(cmd);
    let line = |what: &str| -> String {
        out.stdout
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line with {what}:\n{}", out.stdout))
            .to_string()
    };
    assert!(line(&format!("secret `{}/ci/a`", w.kv2)).contains(&format!("in namespace `{ADMIN}`")));
    let child = line(&format!("secret `team-a/{}/ci/b`", w.kv2));
    assert!(
        child.starts_with("[ok]") && child.contains(&format!("in namespace `{TEAM_A}`")),
        "{child}"
    );
    let other = line(&format!("secret `{}/ci/c`", w.kv2));
    assert!(
        other.starts_with("[ok]") && other.contains(&format!("in namespace `{TEAM_B}`")),
        "{other}"
    );
    w.no_leak(&out);
}

#[test]
fn a_malformed_namespace_exits_2_before_any_request() {
    let dir = support::scratch_dir("ns_bad");
    for bad in ["../admin", "/admin", "ad min", "admin/../x"] {
        let mut cmd = support::bin();
        cmd.env("VAULT_ADDR", "http://127.0.0.1:9")
            .env("VAULT_TOKEN", "t")
            .env("VAULT_NAMESPACE", bad)
            .args(["exec", "--", "true"]);
        let out = support::run(cmd);
        out.assert_code(2);
        assert!(out.stderr.contains("vault-namespace"), "{bad}: {}", out.stderr);
    }
    let config = dir.join("bad.yml");
    std::fs::write(
        &config,
        "secrets:\n  - path: kv/ci/c\n    namespace: admin/../x\n    keys:\n      key: C\n",
    )
    .expect("config");
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", "http://127.0.0.1:9")
        .env("VAULT_TOKEN", "t")
        .env("PACKER_VAULT_CONFIG", &config)
        .args(["exec", "--", "true"]);
    let out = support::run(cmd);
    out.assert_code(2);
    assert!(out.stderr.contains("namespace"), "{}", out.stderr);
}

/// What the report of a namespaced run shows (the summary and the comment
/// render the same report): a namespace column.
#[test]
fn the_summary_names_the_namespace_of_each_secret() {
    let w = World::new("ns_summary");
    let dir = support::scratch_dir("ns_summary");
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates/env");
    let oidc = GithubOidc::start("request-token-ns-summary");
    let (mut cmd, gh) = w.github_job(&oidc, &dir);
    cmd.env("INPUT_WORKING-DIRECTORY", &dir)
        .args(["validate", &template.display().to_string()]);
    let out = support::run(cmd);
    out.assert_success();
    let summary = gh.read_summary();
    assert!(summary.contains("| Namespace | Path |"), "{summary}");
    assert!(
        summary.contains(&format!("| `{TEAM_A}` | `{}/ci/b`", w.kv2)),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("| `{ADMIN}` | `{}/ci/a`", w.kv2)),
        "{summary}"
    );
    w.no_leak(&out);
    support::assert_no_labeled_secret(&summary, &w.values());
    let _: Value = json!({});
}
