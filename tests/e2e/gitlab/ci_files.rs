//! The template, the CI/CD component and the examples: they parse, set only
//! inputs of the binary (and the template's own knobs), offer every input,
//! and the template's script fetches, verifies and execs the binary.

use super::{example, mr_job, no_leak, repo, token};
use crate::exec::{accessor, revoked};
use crate::support::gitlab_api::GitlabApi;
use crate::support::shipped::{Release, bare_path, git};
use crate::support::{self, Fixture};
use packer_vault::config::inputs::{INPUTS, Input, Kind};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Variables of the template's own, not inputs of the binary.
const KNOBS: &[&str] = &[
    "PACKER_VAULT_REPOSITORY",
    "PACKER_VAULT_REF",
    "PACKER_VAULT_DOWNLOAD_URL",
    "PACKER_VAULT_COMMAND",
];
/// Inputs the template and component leave out: `export-env` works on GitHub only.
const NOT_ON_GITLAB: &[&str] = &["export-env", "comment-author"];

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// Every `PACKER_VAULT_*` key of every `variables:` map in `v`.
fn set_vars(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if let (true, Value::Object(vars)) = (k == "variables", child) {
                    out.extend(vars.keys().filter(|k| k.starts_with("PACKER_VAULT_")).cloned());
                }
                set_vars(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| set_vars(i, out)),
        _ => {}
    }
}

/// Panics unless every `PACKER_VAULT_*` variable `v` sets is an input or a knob.
#[track_caller]
fn only_inputs(v: &Value, what: &str) {
    let inputs: BTreeSet<String> = INPUTS.iter().map(Input::env_var).collect();
    let mut vars = BTreeSet::new();
    set_vars(v, &mut vars);
    for var in vars {
        assert!(
            inputs.contains(&var) || KNOBS.contains(&var.as_str()),
            "{what} sets {var}, which is no input of packer-vault"
        );
    }
}

/// The inputs the template and component offer: all but secrets (a token in
/// YAML is in clear) and GitHub-only ones.
fn offered() -> impl Iterator<Item = &'static Input> {
    INPUTS
        .iter()
        .filter(|i| i.kind != Kind::Secret && !NOT_ON_GITLAB.contains(&i.name))
}

fn script(job: &Value) -> Vec<String> {
    let items = job["script"].as_array().expect("a script list");
    items
        .iter()
        .map(|s| s.as_str().expect("script lines are text").to_string())
        .collect()
}

#[test]
fn the_template_offers_every_input_and_nothing_else() {
    let doc = yaml(&repo().join(".gitlab-ci-template.yml"));
    let job = &doc[".packer-vault"];
    assert_eq!(job["id_tokens"]["VAULT_ID_TOKEN"]["aud"], "$PACKER_VAULT_JWT_AUDIENCE");
    assert_eq!(job["variables"]["PACKER_VAULT_JWT_AUDIENCE"], "$VAULT_SERVER_URL");
    assert_eq!(job["artifacts"]["when"], "always");
    assert_eq!(job["artifacts"]["paths"], json!(["packer-vault-report.md"]));
    let rules = &job["rules"];
    assert_eq!(rules[0]["if"], "$CI_PIPELINE_SOURCE == \"merge_request_event\"");
    assert_eq!(rules[0]["variables"]["PACKER_VAULT_COMMAND"], "validate");
    assert_eq!(rules[1]["if"], "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH");
    assert_eq!(rules[1]["variables"]["PACKER_VAULT_COMMAND"], "build");
    let lines = script(job);
    assert!(
        lines.last().is_some_and(|l| l.starts_with("exec ")),
        "exec, so signals reach the binary"
    );
    only_inputs(&doc, "the template");
    for i in offered() {
        assert!(
            job["variables"].get(i.env_var()).is_some(),
            "the template lacks {}",
            i.env_var()
        );
    }
    for i in INPUTS.iter().filter(|i| i.kind == Kind::Secret) {
        assert!(
            job["variables"].get(i.env_var()).is_none(),
            "{} belongs in a masked variable",
            i.env_var()
        );
    }
    for k in KNOBS {
        assert!(INPUTS.iter().all(|i| i.env_var() != *k), "{k} is an input, not a knob");
    }
}

#[test]
fn the_component_maps_each_input_to_its_variable() {
    let path = repo().join("templates/packer-vault.yml");
    let text = std::fs::read_to_string(&path).expect("the component");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("the component parses");
    assert_eq!(docs.len(), 2, "a spec header and the jobs");
    let spec = docs[0]["spec"]["inputs"].as_object().expect("spec: inputs:");
    for (name, def) in spec {
        assert!(def["default"].is_string(), "input {name} needs a default");
        assert!(
            def["description"].as_str().is_some_and(|d| !d.is_empty()),
            "input {name} needs a description"
        );
    }
    let job = &docs[1]["$[[ inputs.job-name ]]"];
    for i in offered() {
        assert!(spec.contains_key(i.name), "the component lacks input {}", i.name);
        assert_eq!(
            job["variables"][i.env_var()],
            format!("$[[ inputs.{} ]]", i.name),
            "{}",
            i.name
        );
    }
    assert!(!spec.contains_key("gitlab-token") && !spec.contains_key("github-token"));
    for used in text.split("$[[ inputs.").skip(1) {
        let name = used.split(" ]]").next().unwrap_or_default();
        assert!(spec.contains_key(name), "the component uses undeclared input {name}");
    }
    assert_eq!(job["id_tokens"]["VAULT_ID_TOKEN"]["aud"], "$[[ inputs.jwt-audience ]]");
    assert_eq!(job["artifacts"]["paths"], json!(["packer-vault-report.md"]));
    only_inputs(&docs[1], "the component");
    let template = yaml(&repo().join(".gitlab-ci-template.yml"));
    assert_eq!(script(job), script(&template[".packer-vault"]), "one script for both");
}

#[test]
fn every_gitlab_example_parses_and_sets_only_inputs() {
    let dir = repo().join("examples/gitlab");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/gitlab") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.ends_with(".packer-vault.yml") {
            let text = std::fs::read_to_string(&path).expect("read");
            for env in [None, Some("dev"), Some("production")] {
                packer_vault::config::file::ConfigFile::parse(&text, &name, env)
                    .unwrap_or_else(|e| panic!("{name} ({env:?}): {e}"));
            }
        } else if name.ends_with(".yml") {
            only_inputs(&yaml(&path), &name);
        } else if name.ends_with(".sh") {
            let st = Command::new("bash").arg("-n").arg(&path).status().expect("bash");
            assert!(st.success(), "{name} is not valid bash");
        }
        seen += 1;
    }
    assert!(seen >= 6, "the examples are there");
}

#[test]
fn the_template_script_fetches_the_pinned_ref_verifies_and_execs_the_binary() {
    let f = Fixture::new("gitlab_script");
    let api = GitlabApi::start(&token());
    let dir = support::scratch_dir("gitlab_script");
    // The project the template fetches: a release checkout, as a tag of it.
    let release = Release::make("gitlab_script_release");
    let origin = release.checkout.clone();
    let git = |args: &[&str]| git(&origin, args);
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "release"]);
    git(&["tag", "v9.9.9"]);
    let commit = git(&["rev-parse", "HEAD"]);

    let template = yaml(&repo().join(".gitlab-ci-template.yml"));
    let script = script(&template[".packer-vault"]).join("\n");
    // The job's variables, as the runner exports them to the script, in an
    // image like hashicorp/packer:light: no cargo, no curl, busybox wget.
    let job = mr_job(&f, &dir, &api, Some(&api.token), &[]);
    let vars: Vec<(String, String)> = job
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .filter(|(k, _)| k != "PATH")
        .collect();
    let path = bare_path(&dir, true);
    let run = |reference: &str| {
        let mut cmd = Command::new("bash");
        cmd.env_clear()
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .env("PATH", &path)
            .env("HOME", &dir)
            .env("PACKER_VAULT_REPOSITORY", &origin)
            .env("PACKER_VAULT_REF", reference)
            .env("PACKER_VAULT_DOWNLOAD_URL", release.download_url())
            .env("PACKER_VAULT_COMMAND", "validate")
            .env("PACKER_VAULT_TEMPLATE", example())
            .current_dir(&dir)
            .args(["-c", &format!("set -eo pipefail\n{script}")]);
        support::run(cmd)
    };

    let out = run("v9.9.9");
    out.assert_success();
    assert!(out.stdout.contains(&format!("v9.9.9 ({commit})")), "{}", out.stdout);
    assert!(
        out.stderr.contains("downloaded"),
        "the launcher fetched the release:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("logged in to"), "the binary ran:\n{}", out.stderr);
    assert_eq!(api.note_bodies(42).len(), 1, "and posted its note");
    no_leak(&f, &out, &dir, &api);
    assert!(revoked(&accessor(&out)));
    run(&commit).assert_success();

    // A ref whose checksums do not match what the release server has.
    let sums = origin.join("dist/SHA256SUMS");
    let text = std::fs::read_to_string(&sums).expect("sums");
    let flipped = if text.starts_with('0') { "1" } else { "0" };
    std::fs::write(&sums, format!("{flipped}{}", &text[1..])).expect("tamper");
    git(&["commit", "-qam", "tampered"]);
    git(&["tag", "v9.9.10"]);
    let cache = dir.join(".cache");
    let _ = std::fs::remove_dir_all(&cache);
    let out = run("v9.9.10");
    out.assert_code(2);
    assert!(out.stderr.contains("does not match dist/SHA256SUMS"), "{}", out.stderr);
    assert!(!out.stderr.contains("logged in to"), "nothing ran");
}

/// The template and the component fetch the release they belong to: on main
/// that is the version Cargo.toml is at (the release workflow writes the tag
/// into the release commit).
#[test]
fn the_template_and_the_component_pin_this_version() {
    let want = format!("v{}", env!("CARGO_PKG_VERSION"));
    let template = yaml(&repo().join(".gitlab-ci-template.yml"));
    assert_eq!(
        template[".packer-vault"]["variables"]["PACKER_VAULT_REF"],
        want.as_str()
    );
    let text = std::fs::read_to_string(repo().join("templates/packer-vault.yml")).expect("the component");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("the component parses");
    assert_eq!(docs[0]["spec"]["inputs"]["ref"]["default"], want.as_str());
}
