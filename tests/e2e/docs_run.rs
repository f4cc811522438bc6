//! README.md runs as written. Every fenced block carries a marker on the
//! line before it: `<!-- doc-test: NAME -->`, run by a test below, or
//! `<!-- doc-test: skip: REASON -->`, which says why it cannot run here.
//! The Vault setup blocks run through `bao` against an OpenBao of their own
//! (the only substitutions: the CI's issuer becomes a loopback issuer with
//! the test key, and the Vault address of the quick starts the server's);
//! then the quick starts' jobs run with exactly the inputs they show.

use crate::exec::accessor;
use crate::github::GITHUB_TOKEN;
use crate::support::bao::{Bao, bao_binary, bao_new};
use crate::support::issuer::OidcIssuer;
use crate::support::{self, Fixture, GithubOidc, gitlab_env_with};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Blocks run by the tests of this file, by marker.
const RUN: &[&str] = &[
    "quickstart-github",
    "quickstart-gitlab",
    "vault-setup-github",
    "vault-setup-gitlab",
    "spec",
    "config-file",
];

/// The address the README's examples use for Vault.
const README_VAULT: &str = "https://vault.example.com:8200";

struct Block {
    marker: String,
    text: String,
    line: usize,
}

fn readme() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

/// Every fenced block of the README with the marker before it ("" if none).
fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        // A fence may be indented (a block inside a list item).
        if lines[i].trim_start().starts_with("```") {
            let marker = i
                .checked_sub(1)
                .and_then(|p| lines[p].trim().strip_prefix("<!-- doc-test: "))
                .and_then(|m| m.strip_suffix(" -->"))
                .unwrap_or("")
                .to_string();
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].trim_start().starts_with("```") {
                end += 1;
            }
            out.push(Block {
                marker,
                text: lines[start..end].join("\n") + "\n",
                line: i + 1,
            });
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The text of the block marked `name`.
fn block(name: &str) -> String {
    let all = blocks(&readme());
    let found: Vec<&Block> = all.iter().filter(|b| b.marker == name).collect();
    assert_eq!(found.len(), 1, "one README block is marked `{name}`");
    found[0].text.clone()
}

#[test]
fn every_readme_block_is_run_or_says_why_not() {
    let all = blocks(&readme());
    assert!(all.len() >= 15, "the README's blocks were found ({})", all.len());
    for b in &all {
        assert!(
            !b.marker.is_empty(),
            "README.md line {}: a block without `<!-- doc-test: NAME -->` or `<!-- doc-test: skip: REASON -->` before it",
            b.line
        );
        match b.marker.strip_prefix("skip:") {
            Some(reason) => assert!(reason.trim().len() >= 10, "line {}: say why it cannot run", b.line),
            None => assert!(
                RUN.contains(&b.marker.as_str()),
                "line {}: no test runs `{}`",
                b.line,
                b.marker
            ),
        }
    }
    for name in RUN {
        assert_eq!(
            all.iter().filter(|b| b.marker == *name).count(),
            1,
            "`{name}` marks one block"
        );
    }
}

/// Runs a shell block of the README with `vault` as the `bao` CLI against
/// `bao`, after `subst`; panics with its output when it fails.
fn run_sh(name: &str, text: &str, bao: &Bao, subst: &[(&str, &str)]) {
    let mut body = text.to_string();
    for (from, to) in subst {
        assert!(body.contains(from), "{name} holds {from}");
        body = body.replace(from, to);
    }
    let bin = bao_binary().expect("bao");
    let script = format!("set -euo pipefail\nvault() {{ '{}' \"$@\"; }}\n{body}", bin.display());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("VAULT_ADDR", &bao.addr)
        .env("VAULT_TOKEN", &bao.root_token)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What "The first hour" writes into Vault, as it says it.
fn first_hour_secrets(bao: &Bao) {
    let text = readme();
    for line in [
        "vault kv put secret/ci/packer ssh_username=ubuntu",
        "vault kv put secret/ci/hcp client_id=... client_secret=...",
    ] {
        assert!(text.contains(&format!("`{line}`")), "the first hour says `{line}`");
        run_sh("the first hour", &line.replace("...", "from-the-first-hour"), bao, &[]);
    }
}

/// The user's template in `images/ubuntu`: what the quick starts point at.
fn user_template(workspace: &Path) {
    let dir = workspace.join("images/ubuntu");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("ubuntu.pkr.hcl"),
        "variable \"ssh_username\" {\n  type = string\n}\n\n\
         source \"null\" \"ubuntu\" {\n  communicator = \"none\"\n}\n\n\
         build {\n  sources = [\"source.null.ubuntu\"]\n\
         \x20 provisioner \"shell-local\" {\n    inline = [\"echo user ${var.ssh_username}\"]\n  }\n}\n",
    )
    .expect("template");
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}"))
}

/// The `with:` of the job's packer-vault step, as strings.
fn step_inputs(workflow: &Value, job: &str) -> Vec<(String, String)> {
    let steps = workflow["jobs"][job]["steps"].as_array().expect("steps");
    let step = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("packer-vault/packer-vault-action@"))
        })
        .expect("the packer-vault step");
    step["with"]
        .as_object()
        .expect("with")
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// An OpenBao of its own set up by the README's block `name` (the CI's
/// issuer `ci_issuer` replaced by a loopback one), with the first hour's
/// secrets.
fn set_up(name: &str, ci_issuer: &str) -> (Bao, OidcIssuer) {
    let bao = bao_new();
    let issuer = OidcIssuer::start();
    run_sh(name, &block(name), &bao, &[(ci_issuer, &issuer.uri())]);
    first_hour_secrets(&bao);
    (bao, issuer)
}

/// `doctor`'s lines for the build job's paths: each named, none denied.
#[track_caller]
fn readable(out: &support::Outcome) {
    for path in [
        "secret/data/ci/packer",
        "secret/data/ci/hcp",
        "aws/creds/packer-builder",
    ] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(path))
            .unwrap_or_else(|| panic!("doctor names {path}:\n{}", out.combined()));
        assert!(!line.contains("denied"), "{line}");
    }
}

#[test]
fn the_github_setup_and_quick_start_run_as_written() {
    let (bao, issuer) = set_up("vault-setup-github", "https://token.actions.githubusercontent.com");
    let workflow = yaml(&block("quickstart-github"));

    // The pull request job, with the pull request role.
    let oidc = GithubOidc::start_with(
        "request-token-docs-pr",
        json!({
            "iss": issuer.uri(), "sub": "repo:acme/images:pull_request",
            "ref": "refs/pull/42/merge", "event_name": "pull_request", "ref_protected": "false",
        }),
    );
    let dir = support::scratch_dir("docs_github_pr");
    let out = github_step(&oidc, &dir, &step_inputs(&workflow, "validate"), &bao);
    out.assert_success();
    assert!(out.stderr.contains("with role `packer-images-pr`"), "{}", out.stderr);
    assert!(out.stderr.contains("read 1 value"), "{}", out.stderr);
    assert!(
        out.stdout.contains("validate") || out.stderr.contains("validate"),
        "{}",
        out.combined()
    );
    assert!(crate::exec::revoked_at(&bao, &accessor(&out)), "the token is revoked");

    // The same job cannot log in with the build role: only main builds.
    let mut build_role = step_inputs(&workflow, "validate");
    for (k, v) in build_role.iter_mut() {
        if k == "role" {
            *v = "packer-images".into();
        }
    }
    let out = github_step(
        &oidc,
        &support::scratch_dir("docs_github_pr_build_role"),
        &build_role,
        &bao,
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("claim `ref`") || out.stderr.contains("\"ref\""),
        "{}",
        out.stderr
    );

    // The main job's role logs in on a push to main and may read all it
    // names (doctor: the AWS engine does not exist here, its grant does).
    let oidc = GithubOidc::start_with("request-token-docs-main", json!({"iss": issuer.uri()}));
    let mut inputs = step_inputs(&workflow, "build");
    inputs.push(("command".into(), "doctor".into()));
    let out = github_step(&oidc, &support::scratch_dir("docs_github_main"), &inputs, &bao);
    assert!(out.stdout.contains("packer-images"), "{}", out.combined());
    readable(&out);
}

/// Runs the action's step with `inputs` (the README's), the Vault address
/// pointed at `bao`, as a GitHub job of acme/images.
fn github_step(oidc: &GithubOidc, dir: &Path, inputs: &[(String, String)], bao: &Bao) -> support::Outcome {
    let gh = oidc.env(dir);
    user_template(&gh.workspace);
    let mut with: Vec<(String, String)> = inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.replace(README_VAULT, &bao.addr)))
        .collect();
    with.push(("comment".into(), "never".into()));
    let borrowed: Vec<(&str, &str)> = with.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let command = with
        .iter()
        .find(|(k, _)| k == "command")
        .map_or("build".to_string(), |(_, v)| v.clone());
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .envs(crate::action::step_env(&borrowed, GITHUB_TOKEN))
        .current_dir(&gh.workspace)
        .arg(command);
    support::run(cmd)
}

#[test]
fn the_gitlab_setup_and_quick_start_run_as_written() {
    let (bao, issuer) = set_up("vault-setup-gitlab", "https://gitlab.example.com");
    let pipeline = yaml(&block("quickstart-gitlab"));
    let template = yaml(
        &std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".gitlab-ci-template.yml"))
            .expect("the template"),
    );
    let f = Fixture::new("docs_gitlab");
    // An MR pipeline of an unprotected branch; the ID token's aud is
    // VAULT_SERVER_URL as the user set it.
    let claims = json!({"iss": issuer.uri(), "aud": README_VAULT, "ref_protected": "false", "ref": "feature/bump"});
    let dir = support::scratch_dir("docs_gitlab_mr");
    let out = gitlab_job(&f, &dir, &template, &pipeline, "image:validate", &claims, &bao);
    out.assert_success();
    assert!(out.stderr.contains("with role `packer-images-mr`"), "{}", out.stderr);
    assert!(out.stderr.contains("read 1 value"), "{}", out.stderr);
    assert!(crate::exec::revoked_at(&bao, &accessor(&out)), "the token is revoked");

    // The default branch's job: its role logs in on a protected branch and
    // may read all it names.
    let claims = json!({"iss": issuer.uri(), "aud": README_VAULT, "pipeline_source": "push"});
    let dir = support::scratch_dir("docs_gitlab_main");
    let mut pipeline = pipeline;
    pipeline["image:build"]["variables"]["PACKER_VAULT_COMMAND"] = json!("doctor");
    let out = gitlab_job(&f, &dir, &template, &pipeline, "image:build", &claims, &bao);
    readable(&out);
}

/// Runs `job` of the README's pipeline as the template's script does:
/// the template's variables, then the job's, `VAULT_SERVER_URL` as the
/// user's CI/CD variable (the server's address here), the ID token signed
/// with `claims`, and `packer-vault $PACKER_VAULT_COMMAND`.
fn gitlab_job(
    f: &Fixture,
    dir: &Path,
    template: &Value,
    pipeline: &Value,
    job: &str,
    claims: &Value,
    bao: &Bao,
) -> support::Outcome {
    let mut env: BTreeMap<String, String> = gitlab_env_with(f, dir, claims).into_iter().collect();
    env.insert("VAULT_SERVER_URL".into(), bao.addr.clone());
    env.remove("VAULT_AUTH_ROLE");
    env.remove("VAULT_AUTH_PATH");
    for vars in [&template[".packer-vault"]["variables"], &pipeline[job]["variables"]] {
        for (k, v) in vars.as_object().expect("variables") {
            let v = v.as_str().map_or(v.to_string(), str::to_string);
            // GitLab expands `$NAME` in a variable's value.
            let v = match v.strip_prefix('$') {
                Some(name) => env.get(name).cloned().unwrap_or_default(),
                None => v,
            };
            env.insert(k.clone(), v);
        }
    }
    let project = PathBuf::from(&env["CI_PROJECT_DIR"]);
    user_template(&project);
    let command = env["PACKER_VAULT_COMMAND"].clone();
    let mut cmd = support::bin();
    cmd.envs(&env).current_dir(&project).arg(command);
    support::run(cmd)
}

/// The spec block parses as written: the binary gets past every input
/// check to the (unreachable) Vault, exit 1 and not 2.
#[test]
fn the_spec_and_the_config_file_examples_are_accepted_as_written() {
    let dir = support::scratch_dir("docs_spec");
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", "http://127.0.0.1:9")
        .env("VAULT_TOKEN", "s.docs")
        .env("PACKER_VAULT_SECRETS", block("spec"))
        .current_dir(&dir)
        .args(["exec", "--", "true"]);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(!out.stderr.contains("input `"), "no input error: {}", out.stderr);

    let dir = support::scratch_dir("docs_config");
    std::fs::write(dir.join(".packer-vault.yml"), block("config-file")).expect("config");
    std::fs::create_dir_all(dir.join("images/ubuntu")).expect("template dir");
    let mut cmd = support::bin();
    cmd.env("VAULT_ADDR", "http://127.0.0.1:9")
        .env("VAULT_TOKEN", "s.docs")
        .env("PACKER_VAULT_ENVIRONMENT", "prod")
        .current_dir(&dir)
        .args(["exec", "--", "true"]);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(!out.stderr.contains("input `"), "no input error: {}", out.stderr);
}

/// The first cell of each row of the README's Troubleshooting table.
fn troubleshooting_messages() -> Vec<String> {
    let text = readme();
    let at = text.find("## Troubleshooting").expect("the section");
    let section = &text[at..at + text[at..].find("\n## Fuzzing").expect("its end")];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |").map(|(m, _)| m.to_string()))
        .collect()
}

/// Whether `said` holds the fragments of `row` (split at `...`), in order;
/// backticks aside, which a row (itself a code span) cannot hold.
fn matches_row(row: &str, said: &str) -> bool {
    let said = said.replace('`', "");
    let mut rest = said.as_str();
    for part in row.split("...").map(str::trim).filter(|p| !p.is_empty()) {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Each common error, produced for real: the README's Troubleshooting table
/// has a row whose message matches what the binary printed.
#[test]
fn troubleshooting_rows_match_the_real_messages() {
    let f = Fixture::new("docs_troubles");
    let denied_mount = format!("denied-{}", f.id);
    crate::support::bao().enable_kv(&denied_mount, 2);
    crate::support::bao().write_kv2(&denied_mount, "ci/x", &json!({"k": "v"}));
    let rows = troubleshooting_messages();
    assert!(rows.len() >= 15, "{rows:?}");
    let kv = f.kv2_mount.clone();
    // (what, a phrase of the message, the variables that cause it)
    type Scenario<'a> = (&'a str, &'a str, Vec<(&'a str, String)>);
    let scenarios: Vec<Scenario> = vec![
        (
            "a policy-denied read",
            "permission denied: the role's policies must allow",
            vec![("PACKER_VAULT_SECRETS", format!("{denied_mount}/ci/x k"))],
        ),
        (
            "a wrong auth-path",
            "is a JWT auth method mounted at",
            vec![("VAULT_AUTH_PATH", "jwt-missing".into())],
        ),
        (
            "a wrong role",
            "could not be found",
            vec![("VAULT_AUTH_ROLE", "nope".into())],
        ),
        (
            "a missing secret",
            "not found",
            vec![("PACKER_VAULT_SECRETS", format!("{kv}/ci/none k"))],
        ),
        ("no ID token", "is not set", vec![("VAULT_ID_TOKEN", String::new())]),
        (
            "an unreachable Vault",
            "Connection refused",
            vec![("VAULT_SERVER_URL", "http://127.0.0.1:9".into())],
        ),
        (
            "a claim the role does not accept",
            "does not match",
            vec![(
                "VAULT_ID_TOKEN",
                crate::support::jwt::sign(&crate::support::jwt::gitlab_claims(
                    &f.gitlab_aud,
                    &json!({"ref_protected": "false"}),
                )),
            )],
        ),
        (
            "an audience the role does not accept",
            "aud",
            vec![(
                "VAULT_ID_TOKEN",
                crate::support::jwt::sign(&crate::support::jwt::gitlab_claims(
                    "https://elsewhere.example",
                    &json!({}),
                )),
            )],
        ),
        (
            "no packer on PATH",
            "not on PATH",
            vec![("PATH", "/nonexistent".into()), ("ARGS", "build .".into())],
        ),
        (
            "a template that is not there",
            "no such file",
            vec![("ARGS", "build images/x".into())],
        ),
    ];
    for (what, expect, vars) in scenarios {
        let dir = support::scratch_dir("docs_troubles");
        let mut cmd = support::bin();
        cmd.envs(crate::support::gitlab_env(&f, &dir))
            .env("VAULT_AUTH_ROLE", &f.gitlab_role)
            .env("VAULT_AUTH_PATH", f.auth_path())
            .env("PACKER_VAULT_SECRETS", format!("{kv}/ci/packer api_token"))
            .env("PACKER_VAULT_GRACE_SECONDS", "1")
            .current_dir(&dir);
        let mut args = vec!["exec".to_string(), "--".into(), "true".into()];
        for (k, v) in &vars {
            match *k {
                "ARGS" => args = v.split(' ').map(String::from).collect(),
                _ => {
                    cmd.env(k, v);
                }
            }
        }
        cmd.args(&args);
        let out = support::run(cmd);
        assert!(!out.status.success(), "{what}: it failed");
        let said = out.stderr.clone();
        assert!(said.contains(expect), "{what}: {said}");
        assert!(
            rows.iter().any(|r| matches_row(r, &said)),
            "{what}: no Troubleshooting row matches what was printed:\n{said}\nrows:\n{}",
            rows.join("\n")
        );
        if what == "a policy-denied read" {
            assert!(
                said.contains(&format!("`{denied_mount}/data/ci/x`")),
                "the path the policy needs, with data/: {said}"
            );
        }
    }
}

/// Every file of `examples/`, and how the suite runs it, or why it cannot.
const EXAMPLES: &[(&str, &str)] = &[
    ("bench_helper.rs", "run: compiled by `cargo test`; bench/run runs it"),
    ("clouds/README.md", "prose"),
    (
        "clouds/aws/image.pkr.hcl",
        "run: tests/e2e/clouds.rs (packer validate -syntax-only)",
    ),
    ("clouds/aws/plugins.pkr.hcl", "run: tests/e2e/clouds.rs"),
    (
        "clouds/azure/image.pkr.hcl",
        "run: tests/e2e/clouds.rs (packer validate -syntax-only)",
    ),
    ("clouds/azure/plugins.pkr.hcl", "run: tests/e2e/clouds.rs"),
    (
        "clouds/gcp/image.pkr.hcl",
        "run: tests/e2e/clouds.rs (packer validate -syntax-only)",
    ),
    ("clouds/gcp/plugins.pkr.hcl", "run: tests/e2e/clouds.rs"),
    ("gitlab/README.md", "prose"),
    (
        "gitlab/per-environment.packer-vault.yml",
        "run: here, through the binary, for each environment",
    ),
    (
        "gitlab/vault-setup.sh",
        "run: here, against an OpenBao of its own, then its roles log in",
    ),
    (
        "null/null.pkr.hcl",
        "run: tests/e2e/build.rs and the demo build it with real Packer",
    ),
];

/// Why the workflow files run here only in part: they `uses:` or `include:`
/// what this machine cannot fetch.
const GITHUB_WORKFLOWS: &str = "uses remote actions (actions/checkout, this action by tag) that cannot be fetched here: \
     actionlint and zizmor check it in .ci/run, tests/e2e/action.rs checks every input and pin, act runs the action in tests/e2e/act.rs";
const GITLAB_PIPELINES: &str = "includes the template from GitHub by URL: tests/e2e/gitlab/ci_files.rs checks its inputs, \
     tests/e2e/gitlab/ci_local.rs runs the template through gitlab-ci-local";

#[test]
fn every_example_runs_or_says_why_not() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("examples").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path().strip_prefix(&root).expect("inside").display().to_string());
            }
        }
    }
    files.sort();
    for f in &files {
        let known = EXAMPLES.iter().any(|(p, _)| p == f)
            || (f.starts_with("github/") && f.ends_with(".yml"))
            || (f.starts_with("gitlab/") && f.ends_with(".yml") && !f.ends_with(".packer-vault.yml"));
        assert!(
            known,
            "examples/{f}: say how the suite runs it, or why it cannot ({GITHUB_WORKFLOWS}; {GITLAB_PIPELINES})"
        );
    }
    for (p, _) in EXAMPLES {
        assert!(files.iter().any(|f| f == p), "examples/{p} is listed but not there");
    }
}

#[test]
fn the_per_environment_config_example_is_accepted_for_each_environment() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/gitlab/per-environment.packer-vault.yml"),
    )
    .expect("the example");
    for env in ["dev", "production"] {
        let dir = support::scratch_dir("docs_per_env");
        std::fs::write(dir.join(".packer-vault.yml"), &text).expect("config");
        let mut cmd = support::bin();
        cmd.env("VAULT_ADDR", "http://127.0.0.1:9")
            .env("VAULT_TOKEN", "s.docs")
            .env("PACKER_VAULT_ENVIRONMENT", env)
            .current_dir(&dir)
            .args(["exec", "--", "true"]);
        let out = support::run(cmd);
        out.assert_code(1);
        assert!(!out.stderr.contains("input `"), "{env}: {}", out.stderr);
    }
}

#[test]
fn the_gitlab_vault_setup_example_runs_and_its_roles_log_in() {
    let bao = bao_new();
    let issuer = OidcIssuer::start();
    let script =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/gitlab/vault-setup.sh"))
            .expect("the example");
    run_sh(
        "examples/gitlab/vault-setup.sh",
        &script,
        &bao,
        &[("GITLAB=https://gitlab.example.com", &format!("GITLAB={}", issuer.uri()))],
    );
    run_sh(
        "a secret",
        "vault kv put secret/ci/hcp client_id=id client_secret=secret",
        &bao,
        &[],
    );
    // An MR pipeline of an unprotected branch logs in with packer-validate;
    // it is refused packer-build.
    let f = Fixture::new("docs_vault_setup_sh");
    for (role, ok) in [("packer-validate", true), ("packer-build", false)] {
        let dir = support::scratch_dir("docs_vault_setup_sh");
        let claims = json!({"iss": issuer.uri(), "aud": "https://vault.example.com", "ref_protected": "false"});
        let mut cmd = support::bin();
        cmd.envs(gitlab_env_with(&f, &dir, &claims))
            .env("VAULT_SERVER_URL", &bao.addr)
            .env("VAULT_AUTH_PATH", "gitlab")
            .env("VAULT_AUTH_ROLE", role)
            .env("PACKER_VAULT_SECRETS", "secret/data/ci/hcp client_id | HCP_CLIENT_ID")
            .current_dir(&dir)
            .args(["exec", "--", "true"]);
        let out = support::run(cmd);
        assert_eq!(out.status.success(), ok, "{role}: {}", out.stderr);
    }
}
