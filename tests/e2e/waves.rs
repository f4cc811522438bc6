//! Which requests go out together, seen by the proxy in front of real
//! OpenBao with a delay on every request: a read that waits for an answer
//! cannot reach the proxy sooner than one delay after the request it waits
//! for, so "same wave" and "later wave" are facts about order, not timing
//! targets. Also: every path is read exactly once, guessed or not, and
//! nothing is sent that the spec did not ask for.

use crate::exec::{accessor, revoked};
use crate::support::clouds::CloudEngines;
use crate::support::proxy::{Proxy, Seen};
use crate::support::{self, Fixture, Outcome, bao, gitlab_env};
use std::path::Path;
use std::time::Duration;

/// Added to every request; a dependent request comes at least this late.
const DELAY: Duration = Duration::from_millis(200);

/// A GitLab job running `exec` through `proxy`; the command writes each
/// variable of `vars` to a file of that name in `dir`.
fn run(f: &Fixture, proxy: &Proxy, dir: &Path, spec: &str, vars: &[&str], extra: &[(&str, &str)]) -> Outcome {
    let out = attempt(f, proxy, dir, spec, vars, extra);
    out.assert_success();
    assert!(revoked(&accessor(&out)), "the token is revoked: {out:?}");
    f.assert_no_secret(&out.combined());
    out
}

/// [`run`], whatever the outcome.
fn attempt(f: &Fixture, proxy: &Proxy, dir: &Path, spec: &str, vars: &[&str], extra: &[(&str, &str)]) -> Outcome {
    let script: String = vars.iter().map(|v| format!("printf %s \"${v}\" > {v};")).collect();
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(f, dir))
        .env("PACKER_VAULT_VAULT_ADDR", proxy.addr())
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env("PACKER_VAULT_SECRETS", spec)
        .envs(extra.iter().copied())
        .current_dir(dir)
        .args(["exec", "--", "sh", "-c", &script]);
    support::run(cmd)
}

fn value(dir: &Path, var: &str) -> String {
    std::fs::read_to_string(dir.join(var)).unwrap_or_else(|e| panic!("{var} was not written: {e}"))
}

/// The one request to `path` (as the proxy saw it, query included).
#[track_caller]
fn once<'a>(seen: &'a [Seen], path: &str) -> &'a Seen {
    let hits: Vec<&Seen> = seen.iter().filter(|s| s.path == path).collect();
    assert_eq!(hits.len(), 1, "{path} requested once: {seen:#?}");
    hits[0]
}

/// The first mount-detection request.
#[track_caller]
fn detection(seen: &[Seen]) -> &Seen {
    seen.iter()
        .find(|s| s.path.starts_with("/v1/sys/internal/ui/mounts/"))
        .unwrap_or_else(|| panic!("mount detection: {seen:#?}"))
}

#[track_caller]
fn same_wave(a: &Seen, b: &Seen) {
    let gap = a.at.abs_diff(b.at);
    assert!(
        gap < DELAY / 2,
        "{} and {} {gap:?} apart: not sent together",
        a.path,
        b.path
    );
}

#[track_caller]
fn after(later: &Seen, first: &Seen) {
    assert!(
        later.at >= first.at + DELAY,
        "{} waited for the answer to {}",
        later.path,
        first.path
    );
}

#[test]
fn certain_reads_go_out_with_mount_detection_and_bare_ones_after_it() {
    // `kv2/data/ci/hcp` is read at once, beside the detection the bare
    // paths need; its KV v2 answer is its own confirmation.
    let f = Fixture::new("waves_guess");
    let dir = support::scratch_dir("waves_guess");
    let proxy = Proxy::start(&bao().addr);
    proxy.set_latency(DELAY);
    let (kv2, kv1) = (&f.kv2_mount, &f.kv1_mount);
    let spec = format!(
        "{kv2}/data/ci/hcp client_id | HCP_ID ; {kv2}/ci/packer api_token | API_TOKEN ; {kv1}/ci/legacy user | LEGACY_USER"
    );
    let out = run(&f, &proxy, &dir, &spec, &["HCP_ID", "API_TOKEN", "LEGACY_USER"], &[]);
    assert_eq!(value(&dir, "HCP_ID"), f.hcp_latest().client_id);
    assert_eq!(value(&dir, "API_TOKEN"), f.api_token);
    assert_eq!(value(&dir, "LEGACY_USER"), f.legacy_user);
    assert!(
        out.stderr.contains(&format!("{kv2}/data/ci/hcp v3: client_id->HCP_ID")),
        "{}",
        out.stderr
    );

    let seen = proxy.requests();
    let detect = detection(&seen);
    let hcp = once(&seen, &format!("/v1/{kv2}/data/ci/hcp"));
    same_wave(hcp, detect);
    // `{kv2}/ci/packer` is bare, but the spec writes its sibling with
    // `data/`: the mount is KV v2, and it goes out at once too (its KV v2
    // answer confirms it). Nothing says what `{kv1}/` is: it waits.
    same_wave(once(&seen, &format!("/v1/{kv2}/data/ci/packer")), detect);
    after(once(&seen, &format!("/v1/{kv1}/ci/legacy")), detect);
    // Login, the one detection left, three reads, the revocation: nothing
    // the spec did not ask for.
    let detections: Vec<&str> = seen
        .iter()
        .filter(|s| s.path.starts_with("/v1/sys/internal/ui/mounts/"))
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(detections.len(), 1, "{kv1}/ci/legacy only: {seen:#?}");
    assert!(!detections.iter().any(|d| d.contains("data/ci/hcp")), "{seen:#?}");
    assert_eq!(seen.len(), 6, "{seen:#?}");
}

#[test]
fn a_pinned_bare_path_is_read_at_once_as_kv2() {
    // `@3` is a KV v2 version: the read goes out with the login's wave,
    // no detection first.
    let f = Fixture::new("waves_pin");
    let dir = support::scratch_dir("waves_pin");
    let proxy = Proxy::start(&bao().addr);
    proxy.set_latency(DELAY);
    let spec = format!("{}/ci/hcp@2 client_id | HCP_ID", f.kv2_mount);
    let _ = run(&f, &proxy, &dir, &spec, &["HCP_ID"], &[]);
    assert_eq!(
        value(&dir, "HCP_ID"),
        f.hcp_version(2).client_id,
        "version 2, as pinned"
    );
    let seen = proxy.requests();
    assert!(
        !seen.iter().any(|s| s.path.starts_with("/v1/sys/internal/ui/mounts/")),
        "no detection wave: {seen:#?}"
    );
    once(&seen, &format!("/v1/{}/data/ci/hcp?version=2", f.kv2_mount));
}

#[test]
fn a_guess_that_detection_corrects_is_read_as_the_engine_says() {
    // `data/` in a KV v1 path is part of the secret's name: the request is
    // the same, but the answer is no KV v2 secret, so the mount is detected
    // after it; the answer is read as KV v1's (no version), sent once.
    let f = Fixture::new("waves_kv1_data");
    let dir = support::scratch_dir("waves_kv1_data");
    let user = format!("kv1-data-user-{}", f.id);
    bao().write_kv1(&f.kv1_mount, "data/ci", &serde_json::json!({ "user": user }));
    let proxy = Proxy::start(&bao().addr);
    proxy.set_latency(DELAY);
    let spec = format!("{}/data/ci user | KV1_USER", f.kv1_mount);
    let out = run(&f, &proxy, &dir, &spec, &["KV1_USER"], &[]);
    assert_eq!(value(&dir, "KV1_USER"), user);
    assert!(
        out.stderr.contains(&format!("{}/data/ci: user->KV1_USER", f.kv1_mount)),
        "read as KV v1, no version: {}",
        out.stderr
    );
    let seen = proxy.requests();
    after(detection(&seen), once(&seen, &format!("/v1/{}/data/ci", f.kv1_mount)));
    assert_eq!(seen.len(), 4, "login, read, detection, revocation: {seen:#?}");
}

#[test]
fn locked_reads_go_out_at_once_without_detection() {
    let f = Fixture::new("waves_locked");
    let dir = support::scratch_dir("waves_locked");
    let kv2 = &f.kv2_mount;
    let spec = format!("{kv2}/ci/hcp client_id | HCP_ID ; {kv2}/ci/packer api_token | API_TOKEN");
    let lock_file = dir.join("packer-vault.lock");
    let lock_env = [("PACKER_VAULT_LOCK_FILE", lock_file.to_str().expect("utf-8 path"))];
    let mut cmd = support::gitlab_job(&f, &dir);
    cmd.env("PACKER_VAULT_SECRETS", &spec)
        .env("PACKER_VAULT_LOCK_FILE", &lock_file)
        .current_dir(&dir)
        .arg("lock");
    support::run(cmd).assert_success();
    // A newer version after the lock: the locked one is still what is read.
    bao().write_kv2(
        kv2,
        "ci/hcp",
        &serde_json::json!({ "client_id": "newer", "client_secret": "newer" }),
    );

    let proxy = Proxy::start(&bao().addr);
    proxy.set_latency(DELAY);
    let out = run(&f, &proxy, &dir, &spec, &["HCP_ID", "API_TOKEN"], &lock_env);
    assert_eq!(value(&dir, "HCP_ID"), f.hcp_latest().client_id);
    assert_eq!(value(&dir, "API_TOKEN"), f.api_token);
    assert!(out.stderr.contains("2 secrets pinned"), "{}", out.stderr);
    // The lock names each mount; the KV v2 answers confirm it.
    let seen = proxy.requests();
    same_wave(
        once(&seen, &format!("/v1/{kv2}/data/ci/hcp?version=3")),
        once(&seen, &format!("/v1/{kv2}/data/ci/packer?version=1")),
    );
    assert_eq!(seen.len(), 4, "login, two reads, revocation: {seen:#?}");
}

#[test]
fn dynamic_paths_are_read_once_a_preset_at_once_a_bare_one_after_detection() {
    // Beside KV reads that go out at once (a pin, and a bare path whose
    // sibling is written with `data/`): a path read with a preset is an
    // engine's, read as written at once; an engine path nothing calls
    // dynamic or KV waits for the detection. Each is read once: a second
    // read would issue a second credential. The stand-in counts them.
    let f = Fixture::new("waves_dynamic");
    let dir = support::scratch_dir("waves_dynamic");
    let engines = CloudEngines::start();
    engines.proxy().set_latency(DELAY);
    let kv2 = &f.kv2_mount;
    let spec = format!(
        "aws/sts/packer | aws ; aws/sts/audit access_key | AUDIT_KEY ; {kv2}/ci/hcp@2 client_id | HCP_ID ; \
         {kv2}/data/ci/packer api_token | API_TOKEN ; {kv2}/ci/packer api_token | API_TOKEN_BARE"
    );
    let vars = [
        "AWS_ACCESS_KEY_ID",
        "AUDIT_KEY",
        "HCP_ID",
        "API_TOKEN",
        "API_TOKEN_BARE",
    ];
    let _ = run(&f, engines.proxy(), &dir, &spec, &vars, &[]);
    let issued = engines.issued();
    assert_eq!(issued.len(), 2, "one credential per dynamic path: {issued:#?}");
    let keys: Vec<&str> = issued.iter().map(|i| i.secrets[0].1.as_str()).collect();
    let (preset, bare) = (value(&dir, "AWS_ACCESS_KEY_ID"), value(&dir, "AUDIT_KEY"));
    assert!(keys.contains(&preset.as_str()) && keys.contains(&bare.as_str()) && preset != bare);
    assert_eq!(value(&dir, "HCP_ID"), f.hcp_version(2).client_id);
    assert_eq!(value(&dir, "API_TOKEN"), f.api_token);
    assert_eq!(value(&dir, "API_TOKEN_BARE"), f.api_token);

    let seen = engines.proxy().requests();
    let detect = detection(&seen);
    same_wave(once(&seen, "/v1/aws/sts/packer"), detect);
    after(once(&seen, "/v1/aws/sts/audit"), detect);
    same_wave(once(&seen, &format!("/v1/{kv2}/data/ci/hcp?version=2")), detect);
    // The bare path and its `data/` sibling are one read of one secret.
    same_wave(once(&seen, &format!("/v1/{kv2}/data/ci/packer")), detect);
}

#[test]
fn a_guessed_read_that_fails_is_reported_as_an_unguessed_one() {
    // `{kv2}/ci/absent` goes out at once as KV v2 (its sibling is written
    // with `data/`) and answers 404: the run says what it says when the
    // path waits for detection, and only once detection has answered.
    let f = Fixture::new("waves_absent");
    let kv2 = &f.kv2_mount;
    let failure = |spec: String| {
        let dir = support::scratch_dir("waves_absent");
        let proxy = Proxy::start(&bao().addr);
        proxy.set_latency(DELAY);
        let out = attempt(&f, &proxy, &dir, &spec, &[], &[]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(revoked(&accessor(&out)), "the token is revoked: {out:?}");
        let lines: Vec<String> = (out.stderr.lines())
            .filter(|l| l.contains("error"))
            .map(str::to_string)
            .collect();
        assert!(!lines.is_empty(), "{out:?}");
        (lines, proxy.requests())
    };
    let (guessed, seen) = failure(format!("{kv2}/data/ci/hcp client_id | HCP_ID ; {kv2}/ci/absent x | X"));
    let (plain, _) = failure(format!("{kv2}/ci/absent x | X"));
    assert_eq!(guessed, plain);
    // The 404 is not taken for an answer until detection says the mount
    // is KV v2, asked after it.
    after(detection(&seen), once(&seen, &format!("/v1/{kv2}/data/ci/absent")));
}
