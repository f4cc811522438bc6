//! Every cloud a golden image is built for, in one run: the `gcp`, `azure`
//! and `aws` presets against Vault's engine shapes (stand-ins in front of
//! the real OpenBao, which does the login and the revocation) and Azure
//! AD's token endpoint (a stand-in that refuses a new secret at first).

use crate::exec::{accessor, read_env, revoked};
use crate::support::clouds::{AzureAd, CloudEngines};
use crate::support::{self, Fixture, Outcome, gitlab_env};
use std::path::Path;
use std::process::Command;

const TENANT: &str = "8f3c1a52-7d4e-4b6a-9c2d-1e5f7a9b0c3d";
const SUBSCRIPTION: &str = "2b7e9f10-3c4d-4e5f-8a6b-7c8d9e0f1a2b";

/// Records the environment, the key file's mode and text, and that the
/// command started.
const RECORD: &str = r#"env -0 > "$OUT/env"; stat -c %a "$GOOGLE_APPLICATION_CREDENTIALS" > "$OUT/mode"; cp "$GOOGLE_APPLICATION_CREDENTIALS" "$OUT/key.json"; touch "$OUT/started""#;

/// A GitLab job with `spec`, the stand-ins' addresses, the Azure tenant and
/// subscription, `OUT` set to `dir`; the caller adds the subcommand.
fn job(f: &Fixture, engines: &CloudEngines, ad: &AzureAd, dir: &Path, spec: &str) -> Command {
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(f, dir))
        .env("VAULT_SERVER_URL", engines.addr())
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env("PACKER_VAULT_SECRETS", spec)
        .env("ARM_TENANT_ID", TENANT)
        .env("PACKER_VAULT_AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
        .env("AZURE_AUTHORITY_HOST", ad.uri())
        .env("OUT", dir);
    cmd
}

/// [`job`] running `exec -- sh -c script`.
fn exec(f: &Fixture, engines: &CloudEngines, ad: &AzureAd, dir: &Path, spec: &str, script: &str) -> Command {
    let mut cmd = job(f, engines, ad, dir, spec);
    cmd.args(["exec", "--", "sh", "-c", script]);
    cmd
}

/// Starts a job holding a GCP key, its output piped: the command writes
/// the key file's path to `$OUT/path`, prints `started`, then runs `rest`.
fn hold_a_key(f: &Fixture, engines: &CloudEngines, ad: &AzureAd, dir: &Path, rest: &str) -> std::process::Child {
    let script = format!(r#"echo "$GOOGLE_APPLICATION_CREDENTIALS" > "$OUT/path"; echo started; {rest}"#);
    let mut cmd = exec(f, engines, ad, dir, "gcp/static-account/packer/key | gcp", &script);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().expect("spawn")
}

const ALL_THREE: &str = "gcp/roleset/packer/key | gcp ; azure/creds/packer | azure ; aws/sts/packer | aws";

#[track_caller]
fn no_leak(f: &Fixture, engines: &CloudEngines, out: &Outcome) {
    let labelled = engines.secrets();
    let pairs: Vec<(&str, &str)> = labelled.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
    support::assert_no_labeled_secret(&out.combined(), &pairs);
    f.assert_no_secret(&out.combined());
}

#[test]
fn one_run_hands_the_command_all_three_clouds_after_azure_ad_accepts() {
    let f = Fixture::new("clouds_all");
    let engines = CloudEngines::start();
    let ad = AzureAd::start(2);
    let dir = support::scratch_dir("clouds_all");
    let out = support::run(exec(&f, &engines, &ad, &dir, ALL_THREE, RECORD));
    out.assert_success();
    let env = read_env(&dir);
    // GCP: a 0600 key file, its path in GOOGLE_APPLICATION_CREDENTIALS.
    let key_path = env
        .get("GOOGLE_APPLICATION_CREDENTIALS")
        .expect("the key file's path")
        .clone();
    assert_eq!(std::fs::read_to_string(dir.join("mode")).expect("mode").trim(), "600");
    let key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("key.json")).expect("key")).expect("a JSON key file");
    assert_eq!(key["type"], "service_account");
    assert!(!Path::new(&key_path).exists(), "the key file is gone after the run");
    assert!(
        !Path::new(&key_path).parent().expect("its directory").exists(),
        "and its private directory"
    );
    // Azure: the four ARM_* variables.
    let issued = engines.issued();
    let azure = issued.iter().find(|i| i.kind == "azure").expect("an Azure credential");
    let client_id = &azure.secrets[0].1;
    assert_eq!(env.get("ARM_CLIENT_ID"), Some(client_id));
    assert_eq!(env.get("ARM_CLIENT_SECRET"), Some(&azure.secrets[1].1));
    assert_eq!(env.get("ARM_TENANT_ID").map(String::as_str), Some(TENANT));
    assert_eq!(env.get("ARM_SUBSCRIPTION_ID").map(String::as_str), Some(SUBSCRIPTION));
    // AWS STS: a session token.
    let aws = issued
        .iter()
        .find(|i| i.kind == "aws-sts")
        .expect("AWS STS credentials");
    assert_eq!(env.get("AWS_SESSION_TOKEN"), Some(&aws.secrets[2].1));
    // The command started only after Azure AD accepted the new secret.
    assert_eq!(ad.attempts().get(client_id), Some(&3), "two refusals, then accepted");
    assert!(
        out.stderr.contains("waiting up to 300 s for Azure AD"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("AADSTS700016"), "{}", out.stderr);
    // Nothing left alive: the token is revoked, and the leases with it.
    assert!(revoked(&accessor(&out)));
    assert!(engines.live_leases().is_empty(), "{:?}", engines.live_leases());
    no_leak(&f, &engines, &out);
}

#[test]
fn a_secret_azure_ad_never_accepts_stops_before_the_command() {
    let f = Fixture::new("clouds_azure_never");
    let engines = CloudEngines::start();
    let ad = AzureAd::start(1000);
    let dir = support::scratch_dir("clouds_azure_never");
    let mut cmd = exec(
        &f,
        &engines,
        &ad,
        &dir,
        "azure/creds/packer | azure",
        r#"touch "$OUT/started""#,
    );
    cmd.env("PACKER_VAULT_AZURE_WAIT", "2");
    let out = support::run(cmd);
    out.assert_code(1);
    let error = out.stderr.lines().find(|l| l.contains("error:")).unwrap_or_default();
    assert!(
        error.contains("Azure AD did not accept the new client secret of `azure/creds/packer` within 2 s")
            && error.contains("AADSTS700016"),
        "{}",
        out.stderr
    );
    assert!(!dir.join("started").exists(), "the command never started");
    assert!(engines.live_leases().is_empty(), "the credentials are revoked");
    no_leak(&f, &engines, &out);
}

#[test]
fn a_gcp_token_path_gives_an_access_token_and_no_file() {
    let f = Fixture::new("clouds_gcp_token");
    let engines = CloudEngines::start();
    let ad = AzureAd::start(0);
    let dir = support::scratch_dir("clouds_gcp_token");
    let out = support::run(exec(
        &f,
        &engines,
        &ad,
        &dir,
        "gcp/impersonated-account/packer/token | gcp",
        r#"env -0 > "$OUT/env""#,
    ));
    out.assert_success();
    let env = read_env(&dir);
    let token = &engines.issued()[0].secrets[0].1;
    assert_eq!(env.get("GOOGLE_OAUTH_ACCESS_TOKEN"), Some(token));
    assert!(!env.contains_key("GOOGLE_APPLICATION_CREDENTIALS"));
    no_leak(&f, &engines, &out);
}

#[test]
fn sigterm_removes_the_key_file_and_revokes_its_lease() {
    let f = Fixture::new("clouds_sigterm");
    let engines = CloudEngines::start();
    let ad = AzureAd::start(0);
    let dir = support::scratch_dir("clouds_sigterm");
    let child = hold_a_key(&f, &engines, &ad, &dir, "while :; do sleep 0.1; done");
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "started", pid, libc::SIGTERM);
    assert_eq!(out.code(), Some(143), "{}", out.combined());
    let path = std::fs::read_to_string(dir.join("path")).expect("the path");
    assert!(!Path::new(path.trim()).exists(), "the key file is gone after SIGTERM");
    assert!(engines.live_leases().is_empty(), "{:?}", engines.live_leases());
    no_leak(&f, &engines, &out);
}

/// The example template of each cloud parses (`packer validate
/// -syntax-only` of the real Packer), pins its plugin, and reads exactly
/// what that cloud's preset sets.
#[test]
fn each_clouds_example_template_parses_and_reads_its_presets_variables() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/clouds");
    for (cloud, plugin, reads) in [
        ("aws", "github.com/hashicorp/amazon", vec![]),
        (
            "gcp",
            "github.com/hashicorp/googlecompute",
            vec!["GOOGLE_OAUTH_ACCESS_TOKEN"],
        ),
        (
            "azure",
            "github.com/hashicorp/azure",
            vec![
                "ARM_CLIENT_ID",
                "ARM_CLIENT_SECRET",
                "ARM_TENANT_ID",
                "ARM_SUBSCRIPTION_ID",
            ],
        ),
    ] {
        let dir = root.join(cloud);
        let template = dir.join("image.pkr.hcl");
        let out = Command::new("packer")
            .args(["validate", "-syntax-only"])
            .arg(&template)
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("packer");
        assert!(
            out.status.success(),
            "{cloud}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let plugins = std::fs::read_to_string(dir.join("plugins.pkr.hcl")).expect("plugins.pkr.hcl");
        assert!(plugins.contains(plugin), "{cloud} pins {plugin}");
        let text = std::fs::read_to_string(&template).expect("template");
        for var in reads {
            assert!(text.contains(&format!("env(\"{var}\")")), "{cloud} reads {var}");
        }
    }
}

#[test]
fn a_key_file_is_never_exported() {
    let f = Fixture::new("clouds_export");
    let engines = CloudEngines::start();
    let ad = AzureAd::start(0);
    let dir = support::scratch_dir("clouds_export");
    let mut cmd = job(&f, &engines, &ad, &dir, "gcp/roleset/packer/key | gcp");
    let file = dir.join("secrets.json");
    cmd.args(["secrets", "--format", "json", "--output"]).arg(&file);
    let out = support::run(cmd);
    out.assert_success();
    assert!(
        out.stderr
            .contains("not exported: the key file of `gcp/roleset/packer/key`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("the export").trim(),
        "{}",
        "nothing else to export"
    );
    no_leak(&f, &engines, &out);
}

/// A GitLab job killed outright (SIGKILL: no chance to clean up) leaves its
/// GCP key only in the job's own temporary directory, which the runner
/// removes after the job (`${CI_PROJECT_DIR}.tmp`), never in the shared
/// `/tmp`; and the next run of this user there sweeps it at once.
#[test]
fn sigkill_on_gitlab_leaves_the_key_only_in_the_jobs_own_directory_and_the_next_run_sweeps_it() {
    let f = Fixture::new("clouds_sigkill");
    let engines = CloudEngines::start();
    let ad = AzureAd::start(0);
    let dir = support::scratch_dir("clouds_sigkill");
    let project = gitlab_env(&f, &dir)
        .into_iter()
        .find(|(k, _)| k == "CI_PROJECT_DIR")
        .map(|(_, v)| v)
        .expect("CI_PROJECT_DIR");
    let child = hold_a_key(&f, &engines, &ad, &dir, "sleep 2");
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "started", pid, libc::SIGKILL);
    assert_eq!(out.code(), None, "killed by the signal");
    let path = std::fs::read_to_string(dir.join("path")).expect("the path");
    let key = Path::new(path.trim());
    let job_tmp = Path::new(&format!("{project}.tmp")).to_path_buf();
    assert!(
        key.starts_with(&job_tmp),
        "{} is under {}",
        key.display(),
        job_tmp.display()
    );
    assert!(key.exists(), "SIGKILL left the key file behind");

    // The next run in the same job directory removes what the killed one left.
    let out = support::run(exec(
        &f,
        &engines,
        &ad,
        &dir,
        "gcp/static-account/packer/key | gcp",
        "true",
    ));
    out.assert_success();
    assert!(!key.exists(), "the next run swept the killed run's key");
    assert!(
        !key.parent().expect("its directory").exists(),
        "and its private directory"
    );
    no_leak(&f, &engines, &out);
}
