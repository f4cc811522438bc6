//! The second security review (issue 20): what a neighbour on the runner,
//! the pull request's author, or a child of the step could do, each shown
//! not to work. The tool cache and the launcher have theirs in `install`
//! and `launcher`; the comment takeover in `github` and `gitlab`.

use crate::exec::{accessor, revoked};
use crate::support::{self, Fixture, GithubOidc, bao, gitlab_env};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A GitLab job running `exec` with one secret (`ID`), `OUT` set to `dir`.
fn gitlab_exec(f: &Fixture, dir: &Path) -> Command {
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(f, dir))
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env("PACKER_VAULT_SECRETS", format!("{}/ci/hcp client_id | ID", f.kv2_mount))
        .env("OUT", dir);
    cmd
}

/// True while a process with this pid exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .expect("a pid")
}

#[test]
fn what_the_command_leaves_running_ends_with_the_step() {
    let f = Fixture::new("tree_background");
    let dir = support::scratch_dir("tree_background");
    let mut cmd = gitlab_exec(&f, &dir);
    // A background job holding the secret, and one in a session of its own
    // that closed its output (so nothing waits on a pipe for it).
    cmd.args([
        "exec",
        "--",
        "sh",
        "-c",
        r#"sleep 300 & echo $! > "$OUT/bg"; setsid sh -c 'echo $$ > "$OUT/daemon"; exec sleep 301' </dev/null >/dev/null 2>&1 & sleep 0.3"#,
    ]);
    let out = support::run(cmd);
    out.assert_success();
    let (bg, daemon) = (read_pid(&dir.join("bg")), read_pid(&dir.join("daemon")));
    for (what, pid) in [("sleep 300 &", bg), ("a setsid daemon", daemon)] {
        if alive(pid) {
            // SAFETY: kill(2) on the process the test made the step start.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{what} ({pid}) outlived the step");
        }
    }
    assert!(revoked(&accessor(&out)));
}

#[test]
fn sigint_with_a_setsid_grandchild_holding_the_output_revokes_within_5_s() {
    let f = Fixture::new("tree_sigint");
    let dir = support::scratch_dir("tree_sigint");
    let mut cmd = gitlab_exec(&f, &dir);
    cmd.env("PACKER_VAULT_GRACE_SECONDS", "7")
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            r#"setsid sh -c 'echo $$ > "$OUT/holder"; exec sleep 302' & sleep 0.2; echo started; exec sleep 303"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "started", pid, libc::SIGINT);
    assert_eq!(out.code(), Some(130), "{}", out.combined());
    let holder = read_pid(&dir.join("holder"));
    assert!(!alive(holder), "the grandchild holding the pipe was ended");
    assert!(revoked(&accessor(&out)), "{}", out.combined());
    eprintln!("SIGINT to exit, the revocation included: {:.2?}", out.elapsed);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "revoked and gone {:?} after the signal (GitHub kills the step at about 10 s)",
        out.elapsed
    );
}

#[test]
fn the_child_gets_none_of_githubs_file_commands() {
    let f = Fixture::new("file_commands");
    let oidc = GithubOidc::start("request-token-file-commands");
    let dir = support::scratch_dir("file_commands");
    let (mut cmd, gh) = crate::exec::github_command(&f, &oidc, &dir);
    // The command tries every file command it can name.
    cmd.env("INPUT_COMMENT", "never").args([
        "exec",
        "--",
        "sh",
        "-c",
        r#"env -0 > "$OUT/env"; for v in GITHUB_ENV GITHUB_PATH GITHUB_OUTPUT GITHUB_STATE GITHUB_STEP_SUMMARY; do eval "f=\${$v:-}"; [ -n "$f" ] && echo 'BASH_ENV=/tmp/evil' >> "$f"; done; true"#,
    ]);
    support::run(cmd).assert_success();
    let env = crate::exec::read_env(&dir);
    for name in packer_vault::env::FILE_COMMANDS {
        assert!(gh.get(name).is_some(), "the job sets {name}");
        assert!(!env.contains_key(name), "{name} reached the child");
    }
    assert!(
        !gh.read_all_files().contains("BASH_ENV"),
        "nothing reached a later step"
    );
    let _ = bao();
}

/// Every line of both streams, split as the runner splits them (CR and LF).
fn runner_lines(out: &support::Outcome) -> Vec<String> {
    [&out.stdout, &out.stderr]
        .iter()
        .flat_map(|s| s.split(['\r', '\n']))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_carriage_return_in_an_input_starts_no_workflow_command() {
    let dir = support::scratch_dir("carriage_return");
    let gh = support::github_env(&dir, "http://127.0.0.1:9/oidc", "request-token-cr");
    let evil = "cve\r::warning::injected";
    let spec_evil = "kv/app\r::warning::injected k | A";
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            "reason",
            vec![
                "revoke",
                "--hcp-bucket",
                "b",
                "--version-fingerprint",
                "f",
                "--reason",
                evil,
            ],
            vec![],
        ),
        ("role", vec!["exec", "--", "true"], vec![("INPUT_ROLE", evil)]),
        ("template", vec!["validate"], vec![("INPUT_TEMPLATE", evil)]),
        (
            "secrets",
            vec!["exec", "--", "true"],
            vec![("INPUT_SECRETS", spec_evil)],
        ),
        ("hcp-bucket", vec!["validate", "."], vec![("INPUT_HCP-BUCKET", evil)]),
    ];
    for (name, args, env) in cases {
        let mut cmd = support::bin();
        cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
            .env("INPUT_VAULT-ADDR", "http://127.0.0.1:9")
            .env("INPUT_ROLE", "r")
            .envs(env)
            .args(&args);
        let out = support::run(cmd);
        assert_eq!(out.code(), Some(2), "{name}: {}", out.combined());
        assert!(
            out.stderr.contains(name),
            "{name}: the message names the input: {}",
            out.stderr
        );
        for line in runner_lines(&out) {
            assert!(
                !line.trim_start().starts_with("::warning::injected"),
                "{name}: a workflow command started: {line:?}"
            );
        }
    }
}
