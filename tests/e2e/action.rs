//! `action.yml` against the binary: its inputs are exactly the inputs table,
//! each reaches the binary as the `INPUT_*` variable it reads, the outputs
//! are the six the binary writes, the step `exec`s the launcher; and every
//! example workflow uses only inputs that exist.

use packer_vault::config::inputs::INPUTS;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the action's `command` input accepts.
pub const COMMANDS: [&str; 10] = [
    "build",
    "validate",
    "lock",
    "lock --check",
    "doctor",
    "promote",
    "revoke",
    "restore",
    "report",
    "cascade",
];

/// The outputs the binary writes to `GITHUB_OUTPUT`.
pub const OUTPUTS: [&str; 11] = [
    "version-fingerprint",
    "version-id",
    "version-url",
    "artifacts",
    "token-accessor",
    "secrets-digest",
    "channel",
    "previous-version-fingerprint",
    "channels-moved",
    "cascade",
    "matrix",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// `action.yml`, parsed.
pub fn action() -> Value {
    yaml(&repo().join("action.yml"))
}

fn the_step(action: &Value) -> &Value {
    let steps = action["runs"]["steps"].as_array().expect("runs.steps");
    assert_eq!(steps.len(), 1, "one step, so that nothing runs after a cancelled build");
    &steps[0]
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not a map: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// Positions of `  <name>:` lines in action.yml's text (the parsed map
/// loses the order), to check that `names` appear in this order.
fn in_order(section: &str, names: &[&str]) {
    let whole = std::fs::read_to_string(repo().join("action.yml")).expect("action.yml");
    let from = whole
        .find(&format!("\n{section}:\n"))
        .unwrap_or_else(|| panic!("`{section}:` in action.yml"));
    let text = &whole[from..];
    let at: Vec<usize> = names
        .iter()
        .map(|n| {
            text.find(&format!("\n  {n}:\n"))
                .unwrap_or_else(|| panic!("`{n}` in action.yml"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "action.yml lists {names:?} in this order"
    );
}

/// The step environment the runner builds from `action.yml` for a `uses:`
/// step with these `with:` values: every input of the step's `env:` map, as
/// given or else its default (`${{ github.token }}` being `github_token`),
/// else empty, exactly as the runner evaluates `${{ inputs.<name> }}`.
pub fn step_env(with: &[(&str, &str)], github_token: &str) -> Vec<(String, String)> {
    let action = action();
    let env = the_step(&action)["env"].as_object().expect("step env").clone();
    env.into_iter()
        .map(|(var, expr)| {
            let expr = expr.as_str().unwrap_or_default();
            let name = expr
                .trim()
                .strip_prefix("${{ inputs.")
                .and_then(|e| e.strip_suffix(" }}"))
                .unwrap_or_else(|| panic!("{var}: `{expr}` is not an input expression"));
            // The last one wins: a caller may override a default it was given.
            let value = match with.iter().rev().find(|(k, _)| *k == name) {
                Some((_, v)) => v.to_string(),
                None => match action["inputs"][name]["default"].as_str() {
                    Some("${{ github.token }}") => github_token.to_string(),
                    Some(d) => d.to_string(),
                    None => String::new(),
                },
            };
            (var, value)
        })
        .collect()
}

#[test]
fn action_inputs_are_the_inputs_table_plus_command() {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    let got = keys(&action["inputs"]);
    let mut want: BTreeSet<String> = INPUTS.iter().map(|i| i.name.to_string()).collect();
    want.insert("command".into());
    assert_eq!(got, want, "action.yml inputs = the inputs table + command");
    let mut order = vec!["command"];
    order.extend(INPUTS.iter().map(|i| i.name));
    in_order("inputs", &order);
    for input in INPUTS {
        let spec = &action["inputs"][input.name];
        let description = spec["description"].as_str().unwrap_or_default();
        assert!(
            description.to_lowercase().starts_with(&input.doc.to_lowercase()),
            "{}: the description starts with the table's doc ({:?})",
            input.name,
            input.doc
        );
        assert_eq!(
            spec["required"], false,
            "{}: nothing is required by the runner",
            input.name
        );
        // A default would shadow the config file and PACKER_VAULT_* (an input
        // comes first): only the token, which nothing else can give, has one.
        match input.name {
            "github-token" => assert_eq!(spec["default"], "${{ github.token }}"),
            other => assert!(spec.get("default").is_none(), "{other} must not have a default"),
        }
    }
    assert_eq!(action["inputs"]["command"]["default"], "build");
    let doc = action["inputs"]["command"]["description"].as_str().unwrap_or_default();
    for c in COMMANDS {
        assert!(doc.contains(&format!("`{c}`")), "command's description names `{c}`");
    }
}

#[test]
fn every_input_reaches_the_binary_as_its_input_variable() {
    let action = action();
    let step = the_step(&action);
    assert_eq!(step["shell"], "bash");
    let env = step["env"].as_object().expect("step env");
    let mut want: BTreeSet<String> = INPUTS.iter().map(|i| i.input_var()).collect();
    want.insert("INPUT_COMMAND".into());
    assert_eq!(env.keys().cloned().collect::<BTreeSet<_>>(), want);
    for input in INPUTS {
        assert_eq!(
            env[&input.input_var()],
            format!("${{{{ inputs.{} }}}}", input.name),
            "{} maps to {}",
            input.name,
            input.input_var()
        );
    }
    assert_eq!(env["INPUT_COMMAND"], "${{ inputs.command }}");

    let script = step["run"].as_str().expect("run");
    assert!(
        !script.contains("${{"),
        "no expression inside the script (script injection): {script}"
    );
    let last = script.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    assert_eq!(
        last.trim(),
        r#"exec "$GITHUB_ACTION_PATH/dist/packer-vault" "$@""#,
        "the step execs the launcher, so the runner's signals reach the binary"
    );
    let launcher = repo().join("dist/packer-vault");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&launcher).expect("dist/packer-vault").permissions(),
    );
    assert!(mode & 0o111 != 0, "dist/packer-vault is executable");
}

#[test]
fn outputs_are_the_ones_the_binary_writes() {
    let action = action();
    let id = the_step(&action)["id"]
        .as_str()
        .expect("the step has an id")
        .to_string();
    assert_eq!(
        keys(&action["outputs"]),
        OUTPUTS.iter().map(|o| o.to_string()).collect()
    );
    in_order("outputs", &OUTPUTS);
    for name in OUTPUTS {
        let out = &action["outputs"][name];
        assert_eq!(out["value"], format!("${{{{ steps.{id}.outputs.{name} }}}}"));
        assert!(out["description"].as_str().is_some_and(|d| !d.is_empty()), "{name}");
    }
}

/// Runs the step's script as the runner does (`bash -e {0}` with the step's
/// environment) against a stand-in launcher that records its pid and args.
fn run_script(command: &str) -> (std::process::Output, u32, PathBuf) {
    let action = action();
    let script = the_step(&action)["run"].as_str().expect("run").to_string();
    let dir = crate::support::scratch_dir("action_script");
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    let launcher = dir.join("dist/packer-vault");
    std::fs::write(&launcher, "#!/bin/sh\necho \"$$ $*\" > \"$(dirname \"$0\")/ran\"\n").unwrap();
    std::fs::set_permissions(&launcher, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = dir.join("step.sh");
    std::fs::write(&file, script).unwrap();
    let child = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_ACTION_PATH", &dir)
        .env("INPUT_COMMAND", command)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bash");
    let pid = child.id();
    (child.wait_with_output().expect("wait"), pid, dir.join("dist/ran"))
}

#[test]
fn the_step_execs_the_launcher_with_the_command() {
    for command in COMMANDS {
        let (out, pid, ran) = run_script(command);
        assert!(out.status.success(), "{out:?}");
        let ran = std::fs::read_to_string(ran).expect("the launcher ran");
        assert_eq!(
            ran.trim(),
            format!("{pid} {command}"),
            "bash was replaced by the launcher (same pid), so signals reach it"
        );
    }
    for bad in [
        "secrets",
        "exec",
        "secrets --format shell",
        "build; id",
        "$(id)",
        "lock  --check",
        "",
    ] {
        let (out, _, ran) = run_script(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("must be build, validate"));
        assert!(!ran.exists(), "{bad:?} never reaches the binary");
    }
}

fn examples() -> Vec<PathBuf> {
    let dir = repo().join("examples/github");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn example_workflows_use_only_existing_inputs() {
    let action = action();
    let inputs = keys(&action["inputs"]);
    let files = examples();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned())
        .collect();
    for want in ["validate-pr.yml", "build-main.yml", "environments.yml", "matrix.yml"] {
        assert!(names.iter().any(|n| n == want), "examples/github/{want} exists");
    }
    for path in &files {
        let wf = yaml(path);
        let shown = path.display();
        assert!(
            wf.get("on").is_some() || wf.get("true").is_some(),
            "{shown}: has triggers"
        );
        let jobs = wf["jobs"].as_object().unwrap_or_else(|| panic!("{shown}: jobs"));
        let mut uses = 0;
        for (job_name, job) in jobs {
            let perms = if job.get("permissions").is_some() {
                &job["permissions"]
            } else {
                &wf["permissions"]
            };
            for step in job["steps"]
                .as_array()
                .unwrap_or_else(|| panic!("{shown}: {job_name}: steps"))
            {
                let Some(target) = step["uses"].as_str() else { continue };
                if !target.starts_with("packer-vault/packer-vault-action@") {
                    continue;
                }
                uses += 1;
                let with = step["with"].as_object().cloned().unwrap_or_default();
                // `report` logs in nowhere; a job with `comment: never`
                // writes no comment.
                let command = with.get("command").and_then(|c| c.as_str()).unwrap_or("build");
                if command != "report" {
                    assert_eq!(perms["id-token"], "write", "{shown}: {job_name}: id-token: write");
                }
                let comments = with.get("comment").and_then(|c| c.as_str()) != Some("never");
                // The lifecycle commands and the cascade comment on no pull request; a job
                // without a checkout needs no `contents`; lock-check.yml
                // pushes a branch: it needs `contents: write`.
                let lifecycle = ["promote", "revoke", "restore", "cascade"].contains(&command);
                let checkout = job["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout@")));
                if !path.ends_with("lock-check.yml") {
                    if checkout {
                        assert_eq!(perms["contents"], "read", "{shown}: {job_name}: contents: read");
                    }
                    if !lifecycle && comments {
                        assert_eq!(
                            perms["pull-requests"], "write",
                            "{shown}: {job_name}: pull-requests: write"
                        );
                    }
                }
                for key in with.keys() {
                    assert!(inputs.contains(key), "{shown}: {job_name}: unknown input `{key}`");
                }
                if let Some(cmd) = with.get("command") {
                    assert!(
                        cmd.as_str().is_some_and(|c| COMMANDS.contains(&c)),
                        "{shown}: command {cmd}"
                    );
                }
            }
        }
        assert!(uses > 0, "{shown}: uses the action");
    }
    let matrix = yaml(&repo().join("examples/github/matrix.yml"));
    let strategy = &matrix["jobs"]["images"]["strategy"];
    assert!(
        strategy["max-parallel"].as_u64().is_some_and(|n| n > 0),
        "matrix.yml batches with max-parallel"
    );
    let validate = yaml(&repo().join("examples/github/validate-pr.yml"));
    assert!(
        validate["on"].get("pull_request").is_some(),
        "validate-pr.yml runs on pull_request"
    );
}

/// The release workflow as issue 20 asks: publishing only through a
/// protected environment, provenance attested by the job that built each
/// asset, the draft with its assets before any tag moves, then the tags,
/// then publication, and a major tag that never moves backwards.
#[test]
fn the_release_workflow_publishes_through_a_protected_environment_in_a_safe_order() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/release.yml");
    let wf = yaml(&path);
    let jobs = &wf["jobs"];
    assert_eq!(
        jobs["publish"]["environment"].as_str(),
        Some("release"),
        "{:?}",
        jobs["publish"]
    );
    let uses = |job: &str| -> Vec<String> {
        jobs[job]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["uses"].as_str().map(str::to_string))
            .collect()
    };
    assert!(
        uses("build")
            .iter()
            .any(|u| u.starts_with("actions/attest-build-provenance@"))
    );
    assert!(
        !uses("publish")
            .iter()
            .any(|u| u.starts_with("actions/attest-build-provenance@"))
    );
    assert_eq!(jobs["build"]["permissions"]["attestations"].as_str(), Some("write"));
    assert!(
        jobs["publish"]["permissions"]["id-token"].is_null(),
        "publish signs nothing"
    );
    let script: String = jobs["publish"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["run"].as_str())
        .collect();
    let at = |needle: &str| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("the publish script has no `{needle}`"))
    };
    assert!(at("gh release create \"$TAG\" --draft") < at("git push --force origin"));
    assert!(at("git push --force origin") < at("gh release edit \"$TAG\" --draft=false"));
    assert!(
        at("sort -V") < at("git tag -f \"$major\""),
        "the major tag is compared first"
    );
    assert!(
        script.contains("--signer-workflow"),
        "the verify line names the workflow"
    );
}
