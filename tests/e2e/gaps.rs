//! A cancellation that arrives while no child runs (between the login and
//! Packer, between `validate` and `build`) ends the run there: the next
//! phase never starts, the exit code is 143, and the token is revoked. The
//! signal comes from a `packer` wrapper on `PATH` that runs the real Packer
//! and signals packer-vault (its parent) at the named gap. Whether the
//! signal lands just before or just after `validate` is reaped is the
//! kernel's timing; either way nothing more may start. The unit test
//! `process::tests::a_signal_before_the_spawn_never_starts_the_command`
//! pins the case where it lands in between, deterministically.

use crate::exec::{accessor, revoked};
use crate::support::{self, Fixture, gitlab_env};
use std::path::{Path, PathBuf};

/// `packer` for these tests: the real one, plus `kill -TERM $PPID` at
/// `$GAP` (`login`: while packer-vault asks for Packer's version, before any
/// phase; `validate`: right after `packer validate` exits). `build` leaves
/// a marker, so the test sees whether it started.
fn wrapper(dir: &Path) -> PathBuf {
    let real = which_packer();
    let bin = dir.join("wrapper-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let script = format!(
        r#"#!/bin/sh
case "$1" in
  version) if [ "$GAP" = login ]; then kill -TERM "$PPID"; sleep 5; fi ;;
  build) touch "$MARKERS/build-started" ;;
esac
"{real}" "$@"
rc=$?
if [ "$1" = validate ] && [ "$GAP" = validate ]; then kill -TERM "$PPID"; fi
exit $rc
"#,
        real = real.display()
    );
    let path = bin.join("packer");
    crate::support::executable(&path, script);
    bin
}

fn which_packer() -> PathBuf {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("packer"))
                .find(|p| p.is_file())
        })
        .and_then(|p| p)
        .expect("packer on PATH")
}

#[test]
fn a_signal_in_a_gap_between_phases_starts_nothing_more_and_revokes() {
    let f = Fixture::new("gaps");
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/null");
    for gap in ["login", "validate"] {
        let dir = support::scratch_dir("gaps");
        let path = format!(
            "{}:{}",
            wrapper(&dir).display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = support::bin();
        cmd.envs(gitlab_env(&f, &dir))
            .env("PATH", path)
            .env("GAP", gap)
            .env("MARKERS", &dir)
            .env("CI_PROJECT_DIR", &dir)
            .env("VAULT_AUTH_ROLE", &f.gitlab_role)
            .env("VAULT_AUTH_PATH", &f.jwt_mount)
            .env("PACKER_VAULT_COMMENT", "never")
            .env(
                "PACKER_VAULT_SECRETS",
                format!("{m}/ci/hcp client_id | HCP_CLIENT_ID", m = f.kv2_mount),
            )
            .env("PACKER_VAULT_WORKING_DIRECTORY", &dir)
            .current_dir(&dir)
            .args(["build", &example.display().to_string()]);
        let out = support::run(cmd);
        assert_eq!(out.code(), Some(143), "{gap}: {}", out.combined());
        assert!(
            !dir.join("build-started").exists(),
            "{gap}: `packer build` never started"
        );
        assert!(revoked(&accessor(&out)), "{gap}: the token is revoked");
        if gap == "login" {
            assert!(!out.stdout.contains("packer validate"), "{gap}: no phase started");
        }
    }
}
