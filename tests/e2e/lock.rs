//! `packer-vault.lock` end to end: lock, change the secret, rebuild from the
//! lock; `--check`; deleted/destroyed versions; `locked: true`; bad files.

use crate::exec::{accessor, revoked};
use crate::support::{self, Fixture, Outcome, bao, gitlab_env};
use std::path::{Path, PathBuf};
use std::process::Command;

fn template() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/templates/record")
        .display()
        .to_string()
}

fn job(f: &Fixture, dir: &Path, spec: &str, args: &[&str]) -> Command {
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(f, dir))
        .env("CI_PROJECT_DIR", dir)
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", &f.jwt_mount)
        .env("PACKER_VAULT_SECRETS", spec)
        .env("PACKER_VAULT_PACKER_VARS", format!("out_dir={}", dir.display()))
        .current_dir(dir)
        .args(args);
    cmd
}

fn hcp_spec(f: &Fixture) -> String {
    format!(
        "{m}/data/ci/hcp client_id | HCP_CLIENT_ID ; {m}/ci/hcp client_secret | HCP_CLIENT_SECRET",
        m = f.kv2_mount
    )
}

fn digest_in(text: &str) -> String {
    let at = text.find("sha256:").expect("a secrets-digest");
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect()
}

fn lock(f: &Fixture, dir: &Path, spec: &str) -> Outcome {
    let out = support::run(job(f, dir, spec, &["lock"]));
    out.assert_success();
    out
}

#[test]
fn a_build_from_the_lock_uses_the_locked_version() {
    let f = Fixture::new("lock_build");
    let dir = support::scratch_dir("lock_build");
    let spec = hcp_spec(&f);
    let locked = lock(&f, &dir, &spec);
    let text = std::fs::read_to_string(dir.join("packer-vault.lock")).expect("lock written");
    assert!(
        text.contains("no secret values") && text.contains("version: 3"),
        "{text}"
    );
    f.assert_no_secret(&text);
    f.assert_no_secret(&locked.combined());
    let lock_digest = digest_in(&locked.stdout);

    // The secret moves on to version 4.
    let v4 = bao().write_kv2(
        &f.kv2_mount,
        "ci/hcp",
        &serde_json::json!({"client_id": "moved-on-id-0000", "client_secret": "moved-on-secret-0000"}),
    );
    assert_eq!(v4, 4);

    let report = dir.join("report.md");
    let out = support::run(job(
        &f,
        &dir,
        &spec,
        &["build", &template(), "--report", &report.display().to_string()],
    ));
    out.assert_success();
    let got = std::fs::read_to_string(dir.join("hcp_client_id")).expect("Packer recorded the value");
    assert_eq!(
        got,
        f.hcp_version(3).client_id,
        "Packer received the locked (old) value"
    );
    let md = std::fs::read_to_string(&report).expect("report");
    assert!(
        md.contains(&format!(
            "| `{}/ci/hcp` | `client_id` | `HCP_CLIENT_ID` | kv2 | 3 (locked) |",
            f.kv2_mount
        )),
        "{md}"
    );
    assert_eq!(
        digest_in(&md),
        lock_digest,
        "the build's digest equals the one `lock` printed"
    );
    f.assert_no_secret(&out.combined());
    assert!(revoked(&accessor(&out)));

    // --check: stale now, naming the path and both versions.
    let out = support::run(job(&f, &dir, &spec, &["lock", "--check"]));
    out.assert_code(1);
    assert!(
        out.stdout.contains(&format!(
            "{}/ci/hcp: locked v3, current v4 (v3 still readable)",
            f.kv2_mount
        )),
        "{}",
        out.stdout
    );
    assert!(
        !std::fs::read_to_string(dir.join("packer-vault.lock"))
            .unwrap_or_default()
            .contains("version: 4"),
        "--check writes nothing"
    );

    // After `lock`, up to date again.
    let relocked = lock(&f, &dir, &spec);
    assert!(relocked.stdout.contains("v4 (was v3)"), "{}", relocked.stdout);
    support::run(job(&f, &dir, &spec, &["lock", "--check"])).assert_success();
}

#[test]
fn deleted_and_destroyed_locked_versions_fail_before_packer() {
    let f = Fixture::new("lock_deleted");
    let dir = support::scratch_dir("lock_deleted");
    let spec = hcp_spec(&f);
    lock(&f, &dir, &spec);

    bao().delete_kv2_version(&f.kv2_mount, "ci/hcp", 3);
    let out = support::run(job(&f, &dir, &spec, &["build", &template()]));
    out.assert_code(1);
    assert!(
        out.stderr.contains(&format!(
            "`{}/ci/hcp` version 3 (locked in packer-vault.lock) was deleted",
            f.kv2_mount
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("undelete"), "{}", out.stderr);
    assert!(
        !dir.join("hcp_client_id").exists() && !out.stdout.contains("packer build"),
        "Packer never started:\n{out:?}"
    );
    assert!(revoked(&accessor(&out)));

    bao().destroy_kv2_version(&f.kv2_mount, "ci/hcp", 3);
    let out = support::run(job(&f, &dir, &spec, &["build", &template()]));
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("version 3 (locked in packer-vault.lock) was destroyed"),
        "{}",
        out.stderr
    );

    // v3 was also the latest version: reading the spec itself now fails.
    let out = support::run(job(&f, &dir, &spec, &["lock", "--check"]));
    out.assert_code(1);
    assert!(
        out.stderr.contains(&format!("{}/ci/hcp", f.kv2_mount)) && out.stderr.contains("version 3 was destroyed"),
        "{}",
        out.stderr
    );
}

#[test]
fn locked_true_refuses_secrets_missing_from_the_lock() {
    let f = Fixture::new("lock_locked");
    let dir = support::scratch_dir("lock_locked");
    lock(&f, &dir, &hcp_spec(&f));
    let more = format!("{}\n{}/ci/packer api_token | API_TOKEN", hcp_spec(&f), f.kv2_mount);
    let mut cmd = job(&f, &dir, &more, &["build", &template()]);
    cmd.env("PACKER_VAULT_LOCKED", "true");
    let out = support::run(cmd);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains(&format!("`{}/ci/packer` is not in packer-vault.lock", f.kv2_mount)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("locked"), "{}", out.stderr);
    assert!(!dir.join("hcp_client_id").exists());

    // An explicit pin that disagrees with the lock names both versions.
    let pinned = format!("{}/ci/hcp@2 client_id | HCP_CLIENT_ID", f.kv2_mount);
    let out = support::run(job(&f, &dir, &pinned, &["build", &template()]));
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("pins version 2 but packer-vault.lock has version 3"),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_or_hand_edited_locks_are_usage_errors() {
    let f = Fixture::new("lock_bad");
    let dir = support::scratch_dir("lock_bad");
    for (text, want) in [
        (
            "lock-version: 1\nsecrets:\n  - mount: kv/\n    path: ci/hcp\n    version: -2\n",
            "malformed",
        ),
        (
            "lock-version: 1\nsecrets:\n  - mount: kv/\n    path: ci/hcp\n    version: 0\n",
            "version 0",
        ),
        ("lock-version: 1\nsecrets: [unclosed\n", "malformed"),
        (
            "lock-version: 1\nsecrets:\n  - mount: kv/\n    path: ci/hcp\n    version: 1\n    value: oops\n",
            "malformed",
        ),
    ] {
        std::fs::write(dir.join("packer-vault.lock"), text).unwrap();
        let out = support::run(job(&f, &dir, &hcp_spec(&f), &["build", &template()]));
        out.assert_code(2);
        assert!(
            out.stderr.contains("lock-file") && out.stderr.contains(want),
            "{text}: {}",
            out.stderr
        );
    }
    // A locked version that never existed.
    let text = format!(
        "lock-version: 1\nsecrets:\n  - mount: {}/\n    path: ci/hcp\n    version: 99\n",
        f.kv2_mount
    );
    std::fs::write(dir.join("packer-vault.lock"), text).unwrap();
    let out = support::run(job(&f, &dir, &hcp_spec(&f), &["build", &template()]));
    out.assert_code(1);
    assert!(out.stderr.contains("has no version 99"), "{}", out.stderr);
}
