//! The front door: what a newcomer copies works as written. The config
//! file's long form, environments that do not exist, usage errors found
//! before the network, `secrets` on GitLab, `exec` with Packer's token,
//! `packer init`'s GitHub token.

use crate::exec::{accessor, read_env, revoked};
use crate::github::{GITHUB_TOKEN, job};
use crate::support::github_api::GithubApi;
use crate::support::{self, Fixture, GithubOidc, bao, gitlab_env};
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// Adds `hcl` to the fixture's policy (both roles log in with it).
fn grant(f: &Fixture, hcl: &str) {
    let (status, body) = bao().api("GET", &format!("sys/policies/acl/{}", f.policy), None);
    assert_eq!(status, 200, "{body}");
    let now = body["data"]["policy"].as_str().expect("policy text").to_string();
    bao().policy(&f.policy, &format!("{now}\n{hcl}\n"));
}

/// A namespace `ns` with a KV v2 mount `kv` holding `ci/ns` `{key: value}`.
fn namespace_with_secret(ns: &str, value: &str) {
    let (status, body) = bao().api("POST", &format!("sys/namespaces/{ns}"), None);
    assert!(status < 300, "create namespace: {status} {body}");
    let (status, body) = bao().api(
        "POST",
        &format!("{ns}/sys/mounts/kv"),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    );
    assert!(status < 300, "mount kv in {ns}: {status} {body}");
    let (status, body) = bao().api(
        "POST",
        &format!("{ns}/kv/data/ci/ns"),
        Some(json!({"data": {"key": value}})),
    );
    assert!(status < 300, "write in {ns}: {status} {body}");
}

/// The long form with every field: a pinned KV v2 version, KV v1, a POST
/// with a body, and a secret in another namespace.
fn long_form(f: &Fixture, ns: &str, indent: &str) -> String {
    let entries = format!(
        "secrets:\n\
         - path: {kv2}/ci/hcp\n  version: 2\n  keys:\n    client_id: PINNED_ID\n\
         - path: {kv2}/ci/packer\n  keys:\n    api_token: API_TOKEN\n\
         - path: {kv1}/ci/legacy\n  keys:\n    user: LEGACY_USER\n\
         - path: sys/tools/random/16\n  method: POST\n  body:\n    format: hex\n  keys:\n    random_bytes: RANDOM_HEX\n\
         - path: kv/ci/ns\n  namespace: {ns}\n  keys:\n    key: NS_VALUE\n",
        kv2 = f.kv2_mount,
        kv1 = f.kv1_mount,
    );
    entries.lines().map(|l| format!("{indent}{l}\n")).collect()
}

#[track_caller]
fn check_long_form(f: &Fixture, dir: &Path, ns_value: &str) {
    let env = read_env(dir);
    assert_eq!(env.get("PINNED_ID"), Some(&f.hcp_version(2).client_id), "version: 2");
    assert_eq!(env.get("API_TOKEN"), Some(&f.api_token));
    assert_eq!(env.get("LEGACY_USER"), Some(&f.legacy_user));
    assert_eq!(env.get("NS_VALUE").map(String::as_str), Some(ns_value), "namespace:");
    let random = env.get("RANDOM_HEX").expect("method: POST with a body");
    assert_eq!(random.len(), 32, "16 random bytes in hex, as the body asked: {random}");
}

#[test]
fn the_config_files_long_form_reads_every_entry_on_github_gitlab_and_locally() {
    let f = Fixture::new("front_long_form");
    let ns = format!("fd{}", f.id.replace('-', "").chars().rev().take(10).collect::<String>());
    let ns_value = format!("ns-value-{}", fastrand::u64(..));
    namespace_with_secret(&ns, &ns_value);
    grant(
        &f,
        &format!(
            "path \"sys/tools/random/*\" {{ capabilities = [\"update\"] }}\n\
             path \"{ns}/kv/data/*\" {{ capabilities = [\"read\"] }}\n\
             path \"{ns}/kv/metadata/*\" {{ capabilities = [\"read\"] }}"
        ),
    );
    let record = ["exec", "--", "sh", "-c", r#"env -0 > "$OUT/env""#];
    let oidc = GithubOidc::start("request-token-front-long");
    for (place, how) in [
        ("github", "top"),
        ("github", "environment"),
        ("github", "--config"),
        ("gitlab", "top"),
        ("gitlab", "environment"),
        ("gitlab", "--config"),
        ("local", "top"),
        ("local", "environment"),
        ("local", "--config"),
    ] {
        let dir = support::scratch_dir("front_long_form");
        let text = match how {
            "environment" => format!("environments:\n  prod:\n{}", long_form(&f, &ns, "    ")),
            _ => long_form(&f, &ns, ""),
        };
        let file = if how == "--config" {
            "elsewhere.yml"
        } else {
            ".packer-vault.yml"
        };
        std::fs::write(dir.join(file), text).expect("config");
        let mut cmd = match place {
            "github" => {
                let (mut cmd, _) = crate::exec::github_command(&f, &oidc, &dir);
                cmd.env_remove("INPUT_SECRETS");
                if how == "environment" {
                    cmd.env("INPUT_ENVIRONMENT", "prod");
                }
                cmd
            }
            "gitlab" => {
                let mut cmd = support::gitlab_job(&f, &dir);
                if how == "environment" {
                    cmd.env("CI_ENVIRONMENT_NAME", "prod");
                }
                cmd
            }
            _ => {
                let mut cmd = support::bin();
                cmd.env("VAULT_ADDR", &bao().addr).env("VAULT_TOKEN", &bao().root_token);
                if how == "environment" {
                    cmd.env("PACKER_VAULT_ENVIRONMENT", "prod");
                }
                cmd
            }
        };
        cmd.env("OUT", &dir).current_dir(&dir);
        if how == "--config" {
            cmd.arg("--config").arg(dir.join(file));
        }
        cmd.args(record);
        let out = support::run(cmd);
        assert!(out.status.success(), "{place} {how}: {}", out.combined());
        check_long_form(&f, &dir, &ns_value);
        f.assert_no_secret(&crate::exec::shown(&out));
    }
}

#[test]
fn an_environment_the_config_file_does_not_define_exits_2_naming_those_it_does() {
    let f = Fixture::new("front_environment");
    let dir = support::scratch_dir("front_environment");
    std::fs::write(
        dir.join(".packer-vault.yml"),
        "environments:\n  dev:\n    summary: false\n  prod:\n    summary: true\n",
    )
    .expect("config");
    let run = |var: &str, value: &str| {
        let mut cmd = support::gitlab_job(&f, &dir);
        cmd.env("PACKER_VAULT_SECRETS", format!("{}/ci/packer api_token", f.kv2_mount))
            .env(var, value)
            .current_dir(&dir)
            .args(["exec", "--", "true"]);
        support::run(cmd)
    };
    for var in ["PACKER_VAULT_ENVIRONMENT", "CI_ENVIRONMENT_NAME"] {
        let out = run(var, "production");
        out.assert_code(2);
        assert!(
            out.stderr.contains("input `environment`")
                && out.stderr.contains("`production`")
                && out.stderr.contains("dev, prod"),
            "{var}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("logged in"), "nothing was sent");
    }
    run("PACKER_VAULT_ENVIRONMENT", "prod").assert_success();
    // GitLab's environment with a file that has no `environments:` at all
    // is no mistake of the user's: it is ignored.
    std::fs::write(dir.join(".packer-vault.yml"), "comment: never\n").expect("config");
    run("CI_ENVIRONMENT_NAME", "review/feature-x").assert_success();
}

/// Usage errors that need no network are found before it: no login, no
/// credential issued.
#[test]
fn usage_errors_are_found_before_the_login() {
    let f = Fixture::new("front_preflight");
    let dir = support::scratch_dir("front_preflight");
    let base = || {
        let mut cmd = support::gitlab_job(&f, &dir);
        cmd.env(
            "PACKER_VAULT_SECRETS",
            format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
        )
        .current_dir(&dir);
        cmd
    };
    // Refused with exit 2, naming both `words`, before any login.
    let refused = |mut cmd: std::process::Command, words: [&str; 2]| {
        let out = support::run(&mut cmd);
        out.assert_code(2);
        assert!(words.iter().all(|w| out.stderr.contains(w)), "{}", out.stderr);
        assert!(!out.stderr.contains("logged in"), "{}", out.stderr);
    };
    let mut cmd = base();
    cmd.args(["secrets", "--format", "github"]);
    refused(cmd, ["input `format`", "GITHUB_ENV"]);

    // No `packer` on PATH, and no `packer-version`: said before the login.
    let empty = support::scratch_dir("front_preflight_path");
    let mut cmd = base();
    cmd.env("PATH", &empty).args(["build", "."]);
    refused(cmd, ["input `packer-version`", "not on PATH"]);
}

/// `exec` honours `packer-vault-token`: the command gets `VAULT_ADDR` and a
/// child token of the run's, which is revoked at the end.
#[test]
fn exec_hands_the_command_packers_child_token_and_revokes_it() {
    let f = Fixture::new("front_exec_token");
    grant(&f, "path \"auth/token/create\" { capabilities = [\"update\"] }");
    let dir = support::scratch_dir("front_exec_token");
    let mut cmd = support::gitlab_job(&f, &dir);
    cmd.env(
        "PACKER_VAULT_SECRETS",
        format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
    )
    .env("PACKER_VAULT_PACKER_VAULT_TOKEN", "true")
    .env("OUT", &dir)
    .current_dir(&dir)
    .args([
        "exec",
        "--",
        "sh",
        "-c",
        r#"env -0 > "$OUT/env"; echo "token: $VAULT_TOKEN""#,
    ]);
    let out = support::run(cmd);
    out.assert_success();
    let env = read_env(&dir);
    let token = env.get("VAULT_TOKEN").expect("the command got a token");
    assert_eq!(env.get("VAULT_ADDR"), Some(&bao().addr));
    assert!(
        out.stdout.contains("token: ***"),
        "hidden in the output: {}",
        out.stdout
    );
    assert!(out.stderr.contains("revoked Packer's child token"), "{}", out.stderr);
    assert_ne!(bao().lookup_self_status(token), 200, "the child token is revoked");
    assert!(revoked(&accessor(&out)));
}

/// `packer init` (only) gets the job's GitHub token, so plugin downloads
/// are not held to GitHub's anonymous rate limit; `packer-init-token:
/// false` turns it off.
#[test]
fn packer_init_alone_gets_the_github_token() {
    let f = Fixture::new("front_init_token");
    let oidc = GithubOidc::start("request-token-front-init");
    let api = GithubApi::start(GITHUB_TOKEN);
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v packer"])
            .output()
            .expect("sh")
            .stdout,
    )
    .expect("utf-8");
    for on in [true, false] {
        let dir = support::scratch_dir("front_init_token");
        let wrappers = dir.join("wrappers");
        std::fs::create_dir_all(&wrappers).expect("mkdir");
        // A Packer that has `init` (1.7 and later) around the real one.
        support::executable(
            &wrappers.join("packer"),
            format!(
                "#!/bin/sh\ncase \"$1\" in\n  version) echo 'Packer v1.11.2'; exit 0;;\n  \
                 init) env -0 > \"$OUT/init-env\"; exit 0;;\n  *) env -0 > \"$OUT/$1-env\"; exec '{}' \"$@\";;\nesac\n",
                real.trim()
            ),
        );
        let path = format!("{}:{}", wrappers.display(), std::env::var("PATH").unwrap_or_default());
        let setting = if on { "true" } else { "false" };
        let (mut cmd, _) = job(
            &f,
            &oidc,
            &api,
            &dir,
            &[("comment", "never"), ("packer-init-token", setting)],
        );
        cmd.env("PATH", path).env("OUT", &dir);
        let out = support::run(cmd);
        out.assert_success();
        let read = |name: &str| {
            String::from_utf8_lossy(&std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
                .replace('\0', "\n")
        };
        let init = read("init-env");
        assert_eq!(
            init.contains(&format!("PACKER_GITHUB_API_TOKEN={GITHUB_TOKEN}")),
            on,
            "packer-init-token: {setting}"
        );
        for phase in ["validate-env", "build-env"] {
            assert!(
                !read(phase).contains("PACKER_GITHUB_API_TOKEN"),
                "{phase}: only init gets it"
            );
        }
        assert!(!out.combined().contains(GITHUB_TOKEN), "never printed");
    }
}

/// `lock` and `lock --check` never send a dynamic path: no credential is
/// issued, the path is listed as not lockable.
#[test]
fn lock_reads_kv_only_and_issues_no_credential() {
    use crate::support::clouds::CloudEngines;
    let f = Fixture::new("front_lock_kv_only");
    let engines = CloudEngines::start();
    let dir = support::scratch_dir("front_lock_kv_only");
    for args in [vec!["lock"], vec!["lock", "--check"]] {
        let mut cmd = support::bin();
        cmd.envs(gitlab_env(&f, &dir))
            .env("VAULT_SERVER_URL", engines.addr())
            .env("VAULT_AUTH_ROLE", &f.gitlab_role)
            .env("VAULT_AUTH_PATH", f.auth_path())
            .env(
                "PACKER_VAULT_SECRETS",
                format!(
                    "{}/ci/packer api_token | API_TOKEN ; aws/creds/packer | aws",
                    f.kv2_mount
                ),
            )
            .env("PACKER_VAULT_LOCK_FILE", dir.join("packer-vault.lock"))
            .current_dir(&dir)
            .args(&args);
        let out = support::run(cmd);
        out.assert_success();
        assert!(out.stdout.contains("aws/creds/packer: not lockable"), "{}", out.stdout);
    }
    assert!(
        engines.issued().is_empty(),
        "no credential issued: {:?}",
        engines.issued().len()
    );
    let lock = std::fs::read_to_string(dir.join("packer-vault.lock")).expect("the lock");
    assert!(
        lock.contains("ci/packer") && lock.contains("aws/creds/packer"),
        "{lock}"
    );
}

/// `doctor` without a Vault address prints its whole checklist, that item
/// failed, instead of stopping at the first input.
#[test]
fn doctor_without_a_vault_address_prints_its_checklist() {
    let dir = support::scratch_dir("front_doctor_no_addr");
    let mut cmd = support::bin();
    cmd.current_dir(&dir).arg("doctor");
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(out.stdout.contains("[FAIL] vault: no Vault address"), "{}", out.stdout);
    assert!(
        out.stdout.contains("packer:"),
        "the rest is checked too: {}",
        out.stdout
    );
}

/// GitLab without the `id_tokens:` entry for HCP: the hint names the whole
/// provider resource name (it used to be cut as a quote).
#[test]
fn the_hcp_id_token_hint_names_the_whole_provider() {
    let f = Fixture::new("front_hcp_hint");
    let dir = support::scratch_dir("front_hcp_hint");
    let provider =
        "iam/project/0c7d5b6f-1111-4c1b-8d2e-3f4a5b6c7d8e/service-principal/packer/workload-identity-provider/gitlab";
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env_remove("VAULT_SERVER_URL")
        .env("PACKER_VAULT_HCP_WORKLOAD_IDENTITY_PROVIDER", provider)
        .env("PACKER_VAULT_HCP_BUCKET", "golden")
        .env("PACKER_VAULT_CHANNEL", "dev")
        .env("PACKER_VAULT_VERSION_FINGERPRINT", "fp")
        .current_dir(&dir)
        .arg("promote");
    let out = support::run(cmd);
    assert!(!out.status.success());
    assert!(out.stderr.contains(provider), "{}", out.stderr);
}

/// A single-line input's surrounding white space (a YAML block's final
/// newline) is trimmed; a line break inside it is refused: what the README says.
#[test]
fn single_line_inputs_trim_their_ends_and_refuse_inner_line_breaks() {
    let readme = std::fs::read_to_string(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    assert!(
        readme.contains("white space of a single-line input is trimmed"),
        "documented"
    );
    let f = Fixture::new("front_trim");
    for (role, ok) in [(format!("{}\n", f.gitlab_role), true), ("git\nlab".to_string(), false)] {
        let dir = support::scratch_dir("front_trim");
        let mut cmd = support::bin();
        cmd.envs(gitlab_env(&f, &dir))
            .env("VAULT_AUTH_ROLE", &role)
            .env("VAULT_AUTH_PATH", f.auth_path())
            .env("PACKER_VAULT_SECRETS", format!("{}/ci/packer api_token", f.kv2_mount))
            .current_dir(&dir)
            .args(["exec", "--", "true"]);
        let out = support::run(cmd);
        if ok {
            out.assert_success();
        } else {
            out.assert_code(2);
            assert!(out.stderr.contains("single line"), "{}", out.stderr);
        }
    }
}

/// Packer's child token lives as long as the command, renewed with the
/// run's token: a command that outlives the login's TTL still reads with it.
#[test]
fn packers_child_token_is_renewed_while_the_command_runs() {
    let f = Fixture::new("front_child_renew");
    grant(
        &f,
        "path \"auth/token/create\" { capabilities = [\"update\"] }\npath \"auth/token/renew-self\" { capabilities = [\"update\"] }\npath \"auth/token/lookup-self\" { capabilities = [\"read\"] }",
    );
    let (status, body) = bao().api(
        "POST",
        &f.role_path("short"),
        Some(json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": [f.gitlab_aud],
            "token_policies": [f.policy],
            "token_ttl": 3,
            "token_max_ttl": 60,
        })),
    );
    assert!(status < 300, "{status} {body}");
    let bao_bin = crate::support::bao::bao_binary().expect("bao");
    let dir = support::scratch_dir("front_child_renew");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("VAULT_AUTH_ROLE", "short")
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env("PACKER_VAULT_SECRETS", format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount))
        .env("PACKER_VAULT_PACKER_VAULT_TOKEN", "true")
        .env("BAO", &bao_bin)
        .current_dir(&dir)
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            r#"sleep 6; "$BAO" token lookup -format=json >/dev/null 2>&1 && echo child-token-alive || echo child-token-expired"#,
        ]);
    let out = support::run(cmd);
    out.assert_success();
    assert!(
        out.stdout.contains("child-token-alive"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}
