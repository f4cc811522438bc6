//! Our own credentials never reach the child (Packer and its plugins, or
//! `exec`'s command), whichever source gave them: flag, step input,
//! `PACKER_VAULT_*`, the config file or a fallback; while every secret of
//! the spec does. The recorded environment is leak-scanned too.

use crate::exec::read_env;
use crate::support::{self, Fixture, GithubOidc, bao, github_env, gitlab_env};
use std::path::{Path, PathBuf};
use std::process::Command;

const GITHUB_TOKEN: &str = "ghs_childenv4C7e42F292c6912E7710c83834";
const GITLAB_TOKEN: &str = "glpat-childenvXy12Zz34Ww56";
const HCP_ID: &str = "hcp-runner-client-id-7d1c9a";
const HCP_SECRET: &str = "hcp-runner-client-secret-5e2b7f";

fn spec(f: &Fixture) -> String {
    format!(
        "{m}/data/ci/packer api_token | API_TOKEN ; {m}/ci/packer db_password | DB_PASSWORD",
        m = f.kv2_mount
    )
}

/// The child's environment holds the spec's secrets and none of `names`,
/// nor any of `credentials` under any name.
#[track_caller]
fn check(f: &Fixture, dir: &Path, names: &[&str], credentials: &[&str]) {
    let env = read_env(dir);
    assert_eq!(
        env.get("API_TOKEN"),
        Some(&f.api_token),
        "the spec's secrets reach the child"
    );
    assert_eq!(env.get("DB_PASSWORD"), Some(&f.db_password));
    for name in names {
        assert!(!env.contains_key(*name), "{name} reached the child");
    }
    let all: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    for c in credentials {
        assert!(!all.contains(c), "a credential reached the child's environment");
    }
    // What the spec did not read is no secret of the child's either.
    let without_spec: String = env
        .iter()
        .filter(|(k, _)| !["API_TOKEN", "DB_PASSWORD"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    f.assert_no_secret(&without_spec);
}

fn github_exec(f: &Fixture, oidc: &GithubOidc, dir: &Path) -> Command {
    let (mut cmd, _) = crate::exec::github_command(f, oidc, dir);
    cmd.env("INPUT_SECRETS", spec(f))
        .env("INPUT_COMMENT", "never")
        .env("HCP_CLIENT_ID", HCP_ID)
        .env("HCP_CLIENT_SECRET", HCP_SECRET);
    cmd
}

/// `exec` records its child's environment into `$OUT/env`.
const RECORD: [&str; 4] = ["exec", "--", "sh", "-c"];

#[test]
fn a_github_job_hands_neither_the_github_token_nor_the_oidc_request_to_the_child() {
    let f = Fixture::new("child_github");
    let oidc = GithubOidc::start("request-token-child-env");
    // The token from each of its sources: the step input, PACKER_VAULT_*,
    // and the GITHUB_TOKEN fallback.
    for var in ["INPUT_GITHUB-TOKEN", "PACKER_VAULT_GITHUB_TOKEN", "GITHUB_TOKEN"] {
        let dir = support::scratch_dir("child_github");
        let mut cmd = github_exec(&f, &oidc, &dir);
        cmd.env(var, GITHUB_TOKEN).args(RECORD).arg(r#"env -0 > "$OUT/env""#);
        support::run(cmd).assert_success();
        check(
            &f,
            &dir,
            &[
                var,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "HCP_CLIENT_ID",
                "HCP_CLIENT_SECRET",
            ],
            &[GITHUB_TOKEN, &oidc.request_token, HCP_ID, HCP_SECRET],
        );
    }
}

#[test]
fn the_gitlab_id_token_variable_is_removed_whichever_source_names_it() {
    let f = Fixture::new("child_gitlab");
    let jwt = gitlab_env(&f, &support::scratch_dir("child_gitlab_jwt"))
        .into_iter()
        .find(|(k, _)| k == "VAULT_ID_TOKEN")
        .map(|(_, v)| v)
        .expect("the job's ID token");
    let signature = jwt.rsplit('.').next().unwrap_or_default().to_string();
    for source in ["flag", "env", "config"] {
        let dir = support::scratch_dir("child_gitlab");
        let mut cmd = support::bin();
        cmd.envs(gitlab_env(&f, &dir))
            .env_remove("VAULT_ID_TOKEN")
            .env("MY_VAULT_JWT", &jwt)
            .env("CI_PROJECT_DIR", &dir)
            .env("VAULT_AUTH_ROLE", &f.gitlab_role)
            .env("VAULT_AUTH_PATH", &f.jwt_mount)
            .env("PACKER_VAULT_SECRETS", spec(&f))
            .env("PACKER_VAULT_GITLAB_TOKEN", GITLAB_TOKEN)
            .env("PACKER_VAULT_COMMENT", "never")
            .env("OUT", &dir)
            .current_dir(&dir);
        match source {
            "flag" => {
                cmd.args(["--id-token-variable", "MY_VAULT_JWT"]);
            }
            "env" => {
                cmd.env("PACKER_VAULT_ID_TOKEN_VARIABLE", "MY_VAULT_JWT");
            }
            _ => {
                std::fs::write(dir.join(".packer-vault.yml"), "id-token-variable: MY_VAULT_JWT\n").expect("config");
            }
        }
        cmd.args(RECORD).arg(r#"env -0 > "$OUT/env""#);
        support::run(cmd).assert_success();
        check(
            &f,
            &dir,
            &["MY_VAULT_JWT", "PACKER_VAULT_GITLAB_TOKEN", "VAULT_ID_TOKEN"],
            &[&signature, GITLAB_TOKEN],
        );
    }
}

#[test]
fn token_mode_keeps_the_parent_token_from_the_child() {
    let f = Fixture::new("child_token");
    let dir = support::scratch_dir("child_token");
    // A parent token that may read the spec and create the child token.
    let create = format!("{}-create-child", f.policy);
    bao().policy(&create, r#"path "auth/token/create" { capabilities = ["update"] }"#);
    let (status, body) = bao().api(
        "POST",
        "auth/token/create",
        Some(serde_json::json!({"policies": [f.policy.clone(), create], "ttl": "5m"})),
    );
    assert_eq!(status, 200, "{body}");
    let parent = body["auth"]["client_token"].as_str().expect("token").to_string();
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", &bao().addr)
        .env("VAULT_TOKEN", &parent)
        .env("PACKER_VAULT_SECRETS", spec(&f))
        .env("OUT", &dir)
        .current_dir(&dir)
        .args(RECORD)
        .arg(r#"env -0 > "$OUT/env""#);
    support::run(cmd).assert_success();
    check(&f, &dir, &["VAULT_TOKEN"], &[&parent]);
    assert_eq!(bao().lookup_self_status(&parent), 200, "our own token survives");
}

#[test]
fn packer_and_its_plugins_get_the_spec_but_none_of_our_credentials() {
    let f = Fixture::new("child_build");
    let oidc = GithubOidc::start("request-token-child-build");
    let dir = support::scratch_dir("child_build");
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates/env");
    // The `packer version` probe runs a `packer` found on PATH: it too gets
    // nothing of ours (a wrapper records what it was given).
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v packer"])
            .output()
            .expect("sh")
            .stdout,
    )
    .expect("utf-8");
    let wrappers = dir.join("wrappers");
    std::fs::create_dir_all(&wrappers).expect("mkdir");
    let wrapper = wrappers.join("packer");
    support::executable(
        &wrapper,
        format!(
            "#!/bin/sh\n[ \"$1\" = version ] && env -0 > \"$OUT/version-env\"\nexec '{}' \"$@\"\n",
            real.trim()
        ),
    );
    let path = format!("{}:{}", wrappers.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = github_exec(&f, &oidc, &dir);
    cmd.env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
        .env("INPUT_WORKING-DIRECTORY", &dir)
        .env("PATH", path)
        .args(["build", &template.display().to_string()]);
    support::run(cmd).assert_success();
    let probed = std::fs::read(dir.join("version-env")).expect("the probe ran through the wrapper");
    let probed = String::from_utf8_lossy(&probed).replace('\0', "\n");
    for secret in [GITHUB_TOKEN, oidc.request_token.as_str(), HCP_SECRET] {
        assert!(!probed.contains(secret), "a credential reached `packer version`");
    }
    assert!(!probed.contains("GITHUB_ENV="), "the file commands too");
    check(
        &f,
        &dir,
        &[
            "INPUT_GITHUB-TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "HCP_CLIENT_SECRET",
            // GitHub's file commands: a template could set BASH_ENV or
            // LD_PRELOAD for every later step through them.
            "GITHUB_ENV",
            "GITHUB_PATH",
            "GITHUB_OUTPUT",
            "GITHUB_STATE",
            "GITHUB_STEP_SUMMARY",
        ],
        &[GITHUB_TOKEN, &oidc.request_token, HCP_SECRET],
    );
    // Provenance for `build_labels`: the commit and the secret versions.
    let env = read_env(&dir);
    let gh = github_env(&dir, &oidc.request_url(), &oidc.request_token);
    assert_eq!(
        env.get("PACKER_VAULT_GIT_SHA").map(String::as_str),
        gh.get("GITHUB_SHA")
    );
    let digest = env.get("PACKER_VAULT_SECRETS_DIGEST").expect("the secrets digest");
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert!(
        !env.contains_key("PACKER_VAULT_LOCK_FILE_DIGEST"),
        "no lock, no lock digest"
    );
}

/// `cmd` (a `support::bin()` command) run as `nobody` through `setpriv`,
/// its environment and directory kept.
fn as_nobody(cmd: &Command) -> Command {
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    if let Some(d) = cmd.get_current_dir() {
        wrapped.current_dir(d);
    }
    wrapped
}

/// The child reads its parent's `/proc/<pid>/environ`: our credentials
/// removed from its own environment must not come back that way. Run as
/// root, the child may read the file (root reads any process's), and
/// finds every removed value blanked; run as an ordinary user, the file
/// of a non-dumpable parent is root's and cannot be read at all.
#[test]
fn the_child_cannot_read_our_credentials_from_its_parents_environment() {
    let f = Fixture::new("child_parent_env");
    let oidc = GithubOidc::start("request-token-parent-env");
    let read_parent = r#"cat /proc/$PPID/environ > "$OUT/parent-env" 2> "$OUT/parent-env.err"; echo "rc=$?" > "$OUT/parent-env.rc"; true"#;
    let credentials = [GITHUB_TOKEN, oidc.request_token.as_str(), HCP_SECRET];

    let dir = support::scratch_dir("child_parent_env");
    let mut cmd = github_exec(&f, &oidc, &dir);
    cmd.env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
        .args(RECORD)
        .arg(read_parent);
    support::run(cmd).assert_success();
    let parent = std::fs::read(dir.join("parent-env")).expect("the child ran");
    let parent = String::from_utf8_lossy(&parent).replace('\0', "\n");
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            parent.contains("INPUT_ROLE="),
            "root reads the parent's block:\n{parent}"
        );
    }
    for c in credentials {
        assert!(
            !parent.contains(c),
            "a credential is readable in the parent's environment"
        );
    }
    for name in ["GITHUB_ENV", "GITHUB_OUTPUT", "ACTIONS_ID_TOKEN_REQUEST_URL"] {
        let blank = parent
            .lines()
            .all(|l| !l.starts_with(&format!("{name}=")) || l == format!("{name}="));
        assert!(blank, "{name} is readable in the parent's environment");
    }

    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the run as `nobody` is left out");
        return;
    }
    let dir = support::scratch_dir("child_parent_env_nobody");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let mut cmd = github_exec(&f, &oidc, &dir);
    cmd.env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
        .env("HOME", &dir)
        .current_dir(&dir)
        .args(RECORD)
        .arg(read_parent);
    // The GitHub files the run writes must be writable by nobody too.
    for (k, v) in cmd.get_envs() {
        if k.to_string_lossy().starts_with("GITHUB_")
            && let Some(p) = v.map(std::path::Path::new).filter(|p| p.is_file())
        {
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o666)).expect("chmod");
        }
    }
    support::run(as_nobody(&cmd)).assert_success();
    let rc = std::fs::read_to_string(dir.join("parent-env.rc")).expect("the child ran as nobody");
    assert_ne!(
        rc.trim(),
        "rc=0",
        "an ordinary user read a non-dumpable parent's environment"
    );
    let parent = std::fs::read(dir.join("parent-env")).unwrap_or_default();
    assert!(parent.is_empty(), "nothing of the parent's environment was read");
}
