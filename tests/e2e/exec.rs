//! `packer-vault exec` end to end, as a GitHub job and as a GitLab job,
//! against real OpenBao.

use crate::support::{self, Fixture, GithubOidc, Outcome, bao, github_env, gitlab_env};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The child script: records its environment (NUL-separated) for the test
/// and prints every secret, a multi-line one and a base64 form, which must
/// come out redacted.
const SCRIPT: &str = r#"env -0 > "$OUT/env"
printf 'hcp id=%s v1 secret=%s\n' "$HCP_CLIENT_ID" "$HCP_SECRET_V1"
printf 'legacy=%s/%s\n' "$LEGACY_USER" "$LEGACY_PASSWORD"
printf 'api=%s db=%s\n' "$API_TOKEN" "$DB_PASSWORD"
printf '%s\n' "$SSH_KEY"
printf 'b64=%s\n' "$(printf %s "$DB_PASSWORD" | base64 -w0)"
printf 'to stderr: %s\n' "$API_TOKEN" >&2
printf 'no newline at the end: %s' "$HCP_CLIENT_ID""#;

/// A spec mixing KV v1, KV v2 with and without `data/`, a version pin, `*`
/// and a multi-line value.
pub fn mixed_spec(f: &Fixture) -> String {
    format!(
        "{kv2}/data/ci/hcp client_id | HCP_CLIENT_ID ;\n\
         {kv2}/ci/hcp@1 client_secret | HCP_SECRET_V1 ;   # pinned to version 1\n\
         {kv2}/ci/packer * ;\n\
         {kv1}/ci/legacy user | LEGACY_USER\n\
         {kv1}/ci/legacy password | LEGACY_PASSWORD\n",
        kv2 = f.kv2_mount,
        kv1 = f.kv1_mount
    )
}

/// The variables the mixed spec must produce.
pub fn expected(f: &Fixture) -> Vec<(&'static str, String)> {
    vec![
        ("HCP_CLIENT_ID", f.hcp_latest().client_id.clone()),
        ("HCP_SECRET_V1", f.hcp_version(1).client_secret.clone()),
        ("SSH_KEY", f.ssh_key.clone()),
        ("API_TOKEN", f.api_token.clone()),
        ("DB_PASSWORD", f.db_password.clone()),
        ("LEGACY_USER", f.legacy_user.clone()),
        ("LEGACY_PASSWORD", f.legacy_password.clone()),
    ]
}

/// The environment the child recorded (`env -0 > "$OUT/env"`) in `dir`.
pub fn read_env(dir: &Path) -> BTreeMap<String, String> {
    let raw = std::fs::read(dir.join("env")).expect("the command recorded its environment");
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

fn check_child_env(f: &Fixture, dir: &Path) {
    let env = read_env(dir);
    for (name, want) in expected(f) {
        assert_eq!(env.get(name), Some(&want), "{name} in the command's environment");
    }
    for private in ["ACTIONS_ID_TOKEN_REQUEST_TOKEN", "VAULT_ID_TOKEN", "VAULT_TOKEN"] {
        assert!(!env.contains_key(private), "{private} must not reach the command");
    }
}

/// Output as a reader of the job log sees it: the runner consumes
/// `::add-mask::` lines, which must carry the values, except while
/// workflow commands are stopped, when it shows them as they are.
pub fn shown(out: &Outcome) -> String {
    format!("{}\n{}", support::runner_shows(&out.stdout), out.stderr)
}

fn check_redacted(f: &Fixture, out: &Outcome) {
    f.assert_no_secret(&shown(out));
    assert!(out.stdout.contains("hcp id=*** v1 secret=***"), "{}", out.stdout);
    assert!(out.stdout.contains("legacy=***/***"), "{}", out.stdout);
    assert!(out.stdout.contains("api=*** db=***"), "{}", out.stdout);
    assert!(out.stdout.contains("b64=***"), "{}", out.stdout);
    assert!(out.stdout.contains("no newline at the end: ***"), "{}", out.stdout);
    assert!(out.stderr.contains("to stderr: ***"), "{}", out.stderr);
}

/// The accessor the binary logged after login.
pub fn accessor(out: &Outcome) -> String {
    let at = out.stderr.find("accessor ").expect("the log names the token accessor") + "accessor ".len();
    out.stderr[at..]
        .split([',', ')', ' '])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// True when the token with this accessor no longer exists.
pub fn revoked(acc: &str) -> bool {
    revoked_at(bao(), acc)
}

/// [`revoked`] on the server `at`.
pub fn revoked_at(at: &crate::support::Bao, acc: &str) -> bool {
    let (status, _) = at.api(
        "POST",
        "auth/token/lookup-accessor",
        Some(serde_json::json!({"accessor": acc})),
    );
    status >= 400
}

/// A GitHub job running the binary with the step inputs of the Vault login
/// and the mixed spec, `OUT` set to `dir`.
pub fn github_command(f: &Fixture, oidc: &GithubOidc, dir: &Path) -> (Command, support::GithubEnv) {
    let gh = github_env(dir, &oidc.request_url(), &oidc.request_token);
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        // As action.yml maps inputs: INPUT_<NAME>, hyphens kept.
        .env("INPUT_VAULT-ADDR", &bao().addr)
        .env("INPUT_ROLE", &f.github_role)
        .env("INPUT_AUTH-PATH", f.auth_path())
        .env("INPUT_JWT-AUDIENCE", &f.github_aud)
        .env("INPUT_SECRETS", mixed_spec(f))
        .env("OUT", dir);
    (cmd, gh)
}

#[test]
fn exec_as_a_github_job() {
    let f = Fixture::new("exec_github");
    let oidc = GithubOidc::start("request-token-for-exec");
    let dir = support::scratch_dir("exec_github");
    let (mut cmd, gh) = github_command(&f, &oidc, &dir);
    cmd.args(["exec", "--", "sh", "-c", SCRIPT]);
    let out = support::run(cmd);
    out.assert_success();

    check_child_env(&f, &dir);
    check_redacted(&f, &out);
    f.assert_no_secret(&gh.read_all_files());

    // ::add-mask:: lines come first, for every value and every line.
    let masks = support::masks_first(&out);
    for (name, value) in expected(&f) {
        for line in value.lines().filter(|l| !l.trim().is_empty()) {
            assert!(masks.iter().any(|m| m == line), "{name}: a line is not masked");
        }
    }
    // The OIDC audience was asked for, and the JWT itself is masked.
    assert_eq!(
        oidc.requests().last().and_then(|r| r.audience.clone()).as_deref(),
        Some(f.github_aud.as_str())
    );
    let token = masks
        .iter()
        .find(|m| (m.starts_with("s.") || m.starts_with("hvs.")) && m.len() > 20)
        .expect("the Vault token is masked");
    assert_eq!(
        bao().lookup_self_status(token),
        403,
        "the token is revoked after the run"
    );
    assert!(revoked(&accessor(&out)));
    // Workflow commands are off while the command's output streams.
    assert!(out.stdout.contains("::stop-commands::"));
}

#[test]
fn exec_as_a_gitlab_job() {
    let f = Fixture::new("exec_gitlab");
    let dir = support::scratch_dir("exec_gitlab");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        // GitLab's native variables, as `secrets: vault:` users have them.
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env("PACKER_VAULT_SECRETS", mixed_spec(&f))
        .env("OUT", &dir)
        .args(["exec", "--", "sh", "-c", SCRIPT]);
    let out = support::run(cmd);
    out.assert_success();
    check_child_env(&f, &dir);
    check_redacted(&f, &out);
    assert!(
        !out.stdout.contains("::add-mask::"),
        "GitLab has no runtime masking: print none"
    );
    assert!(revoked(&accessor(&out)), "the token is revoked after the run");
}

#[test]
fn exit_code_passes_through_and_token_is_revoked() {
    let f = Fixture::new("exec_exit");
    let dir = support::scratch_dir("exec_exit");
    let mut cmd = support::gitlab_job(&f, &dir);
    cmd.env("PACKER_VAULT_SECRETS", format!("{}/ci/hcp client_id | ID", f.kv2_mount))
        .args(["exec", "--", "sh", "-c", "echo $ID; exit 7"]);
    let out = support::run(cmd);
    out.assert_code(7);
    assert!(out.stdout.contains("***"));
    assert!(revoked(&accessor(&out)));
}

#[test]
fn sigterm_is_forwarded_and_the_token_revoked() {
    let f = Fixture::new("exec_sigterm");
    let dir = support::scratch_dir("exec_sigterm");
    let mut cmd = support::gitlab_job(&f, &dir);
    cmd.env("PACKER_VAULT_SECRETS", format!("{}/ci/hcp client_id | ID", f.kv2_mount))
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            r#"trap 'echo "cleanup ran for $ID"; exit 1' TERM; echo started; while :; do sleep 0.1; done"#,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    // Wait until the command runs (its first line), then cancel.
    let out = support::cancel_after_line(child, "started", pid, libc::SIGTERM);
    assert_eq!(out.code(), Some(143), "{}", out.combined());
    assert!(
        out.stdout.contains("cleanup ran for ***"),
        "the command got SIGTERM and cleaned up:\n{}",
        out.combined()
    );
    assert!(revoked(&accessor(&out)));
    f.assert_no_secret(&out.combined());
}

#[test]
fn secrets_command_formats() {
    let f = Fixture::new("secrets_formats");
    let dir = support::scratch_dir("secrets_formats");
    let spec = format!(
        "{}/ci/packer db_password | DB ; {}/ci/packer ssh_key | KEY",
        f.kv2_mount, f.kv2_mount
    );
    let base = |format: &str| {
        let mut cmd = support::gitlab_job(&f, &dir);
        cmd.env("PACKER_VAULT_SECRETS", &spec)
            .args(["secrets", "--format", format, "--output"])
            .arg(dir.join(format!("secrets.{format}")));
        cmd
    };
    let read = |format: &str| std::fs::read_to_string(dir.join(format!("secrets.{format}"))).expect("the export file");
    let out = support::run(base("json"));
    out.assert_success();
    let v: serde_json::Value = serde_json::from_str(&read("json")).expect("json in the file");
    assert_eq!(v["DB"], f.db_password.as_str());
    assert_eq!(v["KEY"], f.ssh_key.as_str());
    assert!(revoked(&accessor(&out)), "KV only: the token is revoked");

    let out = support::run(base("shell"));
    out.assert_success();
    let script = format!("{}\nprintf %s \"$DB\" > '{}'", read("shell"), dir.join("db").display());
    let st = Command::new("sh").arg("-c").arg(&script).status().expect("sh");
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(dir.join("db")).unwrap_or_default(),
        f.db_password,
        "eval of the shell form gives the value back"
    );
}

#[test]
fn export_env_hands_the_secrets_to_later_steps_and_keeps_the_token() {
    let f = Fixture::new("exec_export");
    let oidc = GithubOidc::start("request-token-for-export");
    let dir = support::scratch_dir("exec_export");
    let (mut cmd, gh) = github_command(&f, &oidc, &dir);
    cmd.env("INPUT_EXPORT-ENV", "true").args(["exec", "--", "true"]);
    let out = support::run(cmd);
    out.assert_success();
    let env_file = gh.read_env_file();
    assert!(env_file.contains("HCP_CLIENT_ID<<ghadelimiter_"), "{}", env_file.len());
    assert!(env_file.contains(&f.hcp_latest().client_id), "the value is handed on");
    assert!(
        !revoked(&accessor(&out)),
        "exported secrets outlive the step: the token is kept"
    );
    assert!(out.stderr.contains("keeping the Vault token"), "{}", out.stderr);
}
