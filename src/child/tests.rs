//! What the child receives, listed for `build` and `exec` on GitHub and
//! GitLab, and held to the invariant of the module: nothing of ours, no
//! file command, nothing the spec did not ask for or the table does not name.

use super::*;
use crate::config::{Needs, resolve};
use crate::env::Env;
use crate::vault::read::Item;

const NEEDS: Needs = Needs::NONE;

/// A KV value, a GCP key (a file, and a part masked only) and an Azure
/// client secret: one of each way a value reaches the child.
const SPEC: &str = "kv/data/ci api_token | API_TOKEN ; gcp/roleset/packer/key | gcp ; azure/creds/packer | azure";

fn item(env: &str, key: &str, value: &str, delivery: Delivery) -> Item {
    Item {
        env: env.into(),
        key: key.into(),
        value: Secret::new(value),
        delivery,
    }
}

fn read(path: &str, items: Vec<Item>) -> Read {
    Read {
        items,
        ..Read::new(path, None)
    }
}

/// The reads of [`SPEC`], in its order.
fn reads() -> Vec<Read> {
    vec![
        read(
            "kv/data/ci",
            vec![item("API_TOKEN", "api_token", "t0ken", Delivery::Value)],
        ),
        read(
            "gcp/roleset/packer/key",
            vec![
                item(
                    "GOOGLE_APPLICATION_CREDENTIALS",
                    "private_key_data",
                    "{\"type\":\"service_account\"}",
                    Delivery::File,
                ),
                item("", "private_key", "-----BEGIN PRIVATE KEY-----", Delivery::Masked),
            ],
        ),
        read(
            "azure/creds/packer",
            vec![
                item("ARM_CLIENT_ID", "client_id", "1d", Delivery::Value),
                item("ARM_CLIENT_SECRET", "client_secret", "s3cret", Delivery::Value),
            ],
        ),
    ]
}

/// A job on `platform` with every source of a credential of ours set.
fn job(platform: &str, tmp: &std::path::Path) -> (Config, Runner) {
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    let tmp = tmp.display().to_string();
    let mut pairs = vec![
        ("PACKER_VAULT_SECRETS", SPEC),
        ("PACKER_VAULT_HCP_BUCKET", "images"),
        ("PACKER_VAULT_PACKER_VARS", "region=eu-west-1"),
        ("PACKER_VAULT_AZURE_TENANT_ID", "tenant.example.com"),
        (
            "PACKER_VAULT_AZURE_SUBSCRIPTION_ID",
            "2b7e9f10-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
        ),
        ("PACKER_VAULT_GITHUB_TOKEN", "ghs_token"),
        ("HCP_CLIENT_ID", "hcp-id"),
        ("HCP_CLIENT_SECRET", "hcp-secret"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
    ];
    match platform {
        "github" => pairs.extend([
            ("GITHUB_ACTIONS", "true"),
            ("INPUT_VAULT-ADDR", "https://vault.example.com"),
            ("INPUT_ROLE", "images"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.actions.example/x"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request"),
            ("GITHUB_ENV", "/tmp/env"),
            ("RUNNER_TEMP", tmp.as_str()),
        ]),
        _ => pairs.extend([
            ("GITLAB_CI", "true"),
            ("VAULT_SERVER_URL", "https://vault.example.com"),
            ("VAULT_AUTH_ROLE", "images"),
            ("VAULT_ID_TOKEN", jwt),
            ("CI_PROJECT_DIR", tmp.as_str()),
        ]),
    }
    let mut env = Env::from([]);
    for (k, v) in pairs {
        env.set(k, v);
    }
    let cfg = resolve(&Default::default(), &env, NEEDS).unwrap();
    let ci = Runner::new(&cfg, env).unwrap();
    (cfg, ci)
}

fn names(vars: &[(String, Secret)]) -> Vec<&str> {
    vars.iter().map(|(k, _)| k.as_str()).collect()
}

/// The child token's variables, as `packer-vault-token` makes them.
fn token_vars() -> Vec<(String, Secret)> {
    ["VAULT_ADDR", "VAULT_TOKEN"]
        .map(|k| (k.to_string(), Secret::new("child")))
        .to_vec()
}

const EXEC: &[&str] = &[
    "API_TOKEN",
    "ARM_CLIENT_ID",
    "ARM_CLIENT_SECRET",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "ARM_TENANT_ID",
    "ARM_SUBSCRIPTION_ID",
];
const BUILD: &[&str] = &[
    "API_TOKEN",
    "ARM_CLIENT_ID",
    "ARM_CLIENT_SECRET",
    "PKR_VAR_region",
    "HCP_PACKER_BUCKET_NAME",
    "HCP_PACKER_BUILD_FINGERPRINT",
    "PACKER_VAULT_SECRETS_DIGEST",
    "PACKER_VAULT_GIT_SHA",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "ARM_TENANT_ID",
    "ARM_SUBSCRIPTION_ID",
    "CHECKPOINT_DISABLE",
    "PACKER_NO_COLOR",
];

#[test]
fn what_the_child_receives_for_build_and_exec_on_github_and_gitlab() {
    for platform in ["github", "gitlab"] {
        let tmp = tempfile::tempdir().unwrap();
        let (cfg, ci) = job(platform, tmp.path());
        let reads = reads();
        let exec = Handoff::exec(&cfg, &ci, &reads, &token_vars(), key_files(&reads, &ci).unwrap());
        let build = Build {
            fingerprint: Some("fp"),
            secrets_digest: "sha256:00",
            cred_file: None,
        };
        let built = Handoff::build(&cfg, &ci, &reads, &token_vars(), key_files(&reads, &ci).unwrap(), build);
        assert_eq!(names(&exec.env), EXEC, "{platform} exec");
        assert_eq!(names(&built.env), BUILD, "{platform} build");
        assert!(exec.init_env.is_empty());
        // `packer-init-token` defaults to on for GitHub only.
        let init: &[&str] = if platform == "github" {
            &["PACKER_GITHUB_API_TOKEN"]
        } else {
            &[]
        };
        assert_eq!(names(&built.init_env), init, "{platform} init");

        // The key file: a 0600 file in a private directory, its path the
        // variable's value; the masked part goes nowhere.
        let (_, path) = exec
            .env
            .iter()
            .find(|(k, _)| k == "GOOGLE_APPLICATION_CREDENTIALS")
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(path.expose()).unwrap(),
            "{\"type\":\"service_account\"}"
        );
        assert!(
            path.expose().starts_with(&tmp.path().display().to_string()),
            "{platform}: {}",
            path.expose()
        );
        let values: Vec<&str> = exec.env.iter().map(|(_, v)| v.expose()).collect();
        assert!(!values.iter().any(|v| v.contains("PRIVATE KEY")), "{values:?}");

        // Nothing of ours: every credential input's variables, the identity
        // sources and the file commands are removed, and none is set again
        // (HCP Packer is on with a service principal: Packer keeps HCP's).
        for handoff in [&exec, &built] {
            for var in [
                "PACKER_VAULT_GITHUB_TOKEN",
                "INPUT_GITHUB-TOKEN",
                "GITHUB_TOKEN",
                "VAULT_ID_TOKEN",
            ]
            .into_iter()
            .chain(["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
            .chain(crate::env::FILE_COMMANDS)
            {
                assert!(handoff.remove.iter().any(|r| r == var), "{platform}: {var} removed");
                assert!(!handoff.env.iter().any(|(k, _)| k == var), "{platform}: {var} not set");
            }
            assert!(!handoff.remove.iter().any(|r| r == "HCP_CLIENT_ID"), "{platform}");
        }
    }
}

#[test]
fn without_hcp_packer_the_runners_hcp_credentials_are_removed_too() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut cfg, ci) = job("gitlab", tmp.path());
    cfg.hcp.bucket = None;
    let exec = Handoff::exec(&cfg, &ci, &[], &[], KeyFiles::default());
    assert!(exec.remove.iter().any(|r| r == "HCP_CLIENT_SECRET"));
    assert!(exec.env.is_empty() || names(&exec.env) == ["ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID"]);
}
