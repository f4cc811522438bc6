//! Leak scan: end-to-end scenarios (success, failure, cancellation, login
//! error, Packer errors that echo secrets, exports, GitHub and GitLab jobs,
//! doctor, a failing Vault), each followed by a scan of every byte the
//! binary wrote (stdout, stderr, report files, GITHUB_* files, PR/MR
//! comments sent to the stand-ins) for every form of every secret, the JWT
//! and the Vault token. The scan is the independent one of
//! `support::leak`, not the product's redactor.

use crate::support::github_api::GithubApi;
use crate::support::gitlab_api::GitlabApi;
use crate::support::proxy::{Fault, Proxy};
use crate::support::{self, Fixture, GithubOidc, Outcome, bao, gitlab_env_with, leak};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const GITHUB_TOKEN: &str = "ghs_leakscan0123456789abcdefghijABCDEFGH";
const GITLAB_TOKEN: &str = "glpat-leakscan-0123456789abcdef";
const REQUEST_TOKEN: &str = "oidc-request-token-leakscan-0123456789";

/// Prints every value of [`spec`] raw, base64-encoded and line by line, on
/// stdout and stderr; then exits with `$EXIT` (0 when unset).
const PRINT_ALL: &str = r#"for v in "$ID" "$SECRET" "$API" "$DB" "$KEY" "$USER_" "$PW"; do
  printf 'raw=%s\n' "$v"; printf 'b64=%s\n' "$(printf %s "$v" | base64 -w0)"; printf 'err=%s\n' "$v" >&2
done
printf 'partial=%s' "$DB"; exit "${EXIT:-0}""#;

fn repo(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

/// Every seeded kind: KV v2 (latest and pinned), multi-line, KV v1.
fn spec(f: &Fixture) -> String {
    format!(
        "{m}/ci/hcp client_id | ID ; {m}/ci/hcp@1 client_secret | SECRET ; {m}/ci/hcp client_secret | HCP_CLIENT_SECRET\n\
         {m}/ci/packer api_token | API ; {m}/ci/packer db_password | DB ; {m}/ci/packer ssh_key | KEY\n\
         {m}/ci/packer api_token | API_TOKEN ; {m}/ci/hcp client_id | HCP_CLIENT_ID\n\
         {v1}/ci/legacy user | USER_ ; {v1}/ci/legacy password | PW",
        m = f.kv2_mount,
        v1 = f.kv1_mount
    )
}

/// A GitLab MR job (notes go to `api`) running `args` in `dir`.
fn gitlab_job(f: &Fixture, dir: &Path, api: &GitlabApi, overrides: &Value, args: &[&str]) -> Command {
    let mut cmd = support::bin();
    cmd.envs(gitlab_env_with(f, dir, overrides))
        .env("CI_PROJECT_DIR", dir)
        .env("CI_API_V4_URL", api.api_url())
        .env("PACKER_VAULT_GITLAB_TOKEN", GITLAB_TOKEN)
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env("PACKER_VAULT_SECRETS", spec(f))
        .env("PACKER_VAULT_WORKING_DIRECTORY", dir)
        .current_dir(dir)
        .args(args);
    cmd
}

/// What one scenario produced, and the credentials it involved.
struct Scan {
    name: &'static str,
    texts: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
}

impl Scan {
    fn new(name: &'static str, f: &Fixture) -> Scan {
        let mut secrets: Vec<(String, String)> = f.secrets.clone();
        secrets.push(("GitHub token".into(), GITHUB_TOKEN.into()));
        secrets.push(("GitLab token".into(), GITLAB_TOKEN.into()));
        secrets.push(("OIDC request token".into(), REQUEST_TOKEN.into()));
        Scan {
            name,
            texts: Vec::new(),
            secrets,
        }
    }

    fn secret(mut self, label: &str, value: &str) -> Scan {
        self.secrets.push((label.into(), value.into()));
        self
    }

    /// The JWT the command's environment carries (`VAULT_ID_TOKEN`).
    fn jwt_of(self, cmd: &Command) -> Scan {
        let jwt = cmd
            .get_envs()
            .find(|(k, _)| *k == "VAULT_ID_TOKEN")
            .and_then(|(_, v)| v)
            .map(|v| v.to_string_lossy().into_owned())
            .expect("VAULT_ID_TOKEN set");
        self.secret("JWT", &jwt)
    }

    fn text(mut self, place: &str, text: &str) -> Scan {
        self.texts.push((place.into(), text.into()));
        self
    }

    fn output(self, out: &Outcome) -> Scan {
        self.text("stdout", &support::runner_shows(&out.stdout))
            .text("stderr", &out.stderr)
    }

    /// Every file under `dir`, except `skip` (holds values by design).
    fn files(mut self, dir: &Path, skip: &[&Path]) -> Scan {
        for entry in walk(dir) {
            if !skip.contains(&entry.as_path()) {
                let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap_or_default()).into_owned();
                self.texts.push((entry.display().to_string(), text));
            }
        }
        self
    }

    /// Panics naming the scenario, the place, the secret's label and the
    /// form found (never the value).
    #[track_caller]
    fn assert_clean(self) {
        let labeled: Vec<(&str, &str)> = self.secrets.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
        let mut found = Vec::new();
        let mut bytes = 0;
        for (place, text) in &self.texts {
            bytes += text.len();
            for line in leak::leak_report(text, &labeled) {
                found.push(format!("{place}: {line}"));
            }
            if let Some(at) = token_shape(text) {
                found.push(format!("{place}: a Vault-token-shaped string at byte {at}"));
            }
        }
        assert!(bytes > 0, "{}: nothing scanned", self.name);
        assert!(
            found.is_empty(),
            "{}: leaks in {bytes} bytes:\n  {}",
            self.name,
            found.join("\n  ")
        );
        eprintln!("{}: {bytes} bytes in {} places, clean", self.name, self.texts.len());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Byte offset of a service token shape (`s.`/`hvs.`/`b.`/`hvb.` and 24 or
/// more alphanumerics, not inside a word).
pub fn token_shape(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    for prefix in ["hvs.", "hvb.", "s.", "b."] {
        let mut from = 0;
        while let Some(i) = text[from..].find(prefix).map(|i| i + from) {
            let start_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            let run = b[i + prefix.len()..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if start_ok && run >= 24 {
                return Some(i);
            }
            from = i + 1;
        }
    }
    None
}

/// Panics when `text` holds a Vault-token-shaped string.
#[track_caller]
pub fn assert_no_token_shape(text: &str) {
    if let Some(at) = token_shape(text) {
        panic!("a Vault-token-shaped string at byte {at} of {} bytes", text.len());
    }
}

fn spawn_piped(mut cmd: Command) -> std::process::Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

#[test]
fn exec_success() {
    let f = Fixture::new("leak_exec_ok");
    let dir = support::scratch_dir("leak_exec_ok");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let cmd = gitlab_job(&f, &dir, &api, &json!({}), &["exec", "--", "sh", "-c", PRINT_ALL]);
    let scan = Scan::new("exec success", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_success();
    assert!(out.stdout.contains("raw=***"), "{out:?}");
    scan.output(&out).files(&dir, &[]).assert_clean();
}

#[test]
fn exec_failure_exit_7() {
    let f = Fixture::new("leak_exec_fail");
    let dir = support::scratch_dir("leak_exec_fail");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let mut cmd = gitlab_job(&f, &dir, &api, &json!({}), &["exec", "--", "sh", "-c", PRINT_ALL]);
    cmd.env("EXIT", "7");
    let scan = Scan::new("exec failure", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_code(7);
    scan.output(&out).files(&dir, &[]).assert_clean();
}

#[test]
fn exec_cancelled_by_sigterm() {
    let f = Fixture::new("leak_exec_term");
    let dir = support::scratch_dir("leak_exec_term");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let script = format!(
        "{}\ntrap 'echo \"bye $DB $KEY\"; exit 1' TERM; echo started; while :; do sleep 0.1; done",
        PRINT_ALL.replace("exit \"${EXIT:-0}\"", "")
    );
    let cmd = gitlab_job(&f, &dir, &api, &json!({}), &["exec", "--", "sh", "-c", &script]);
    let scan = Scan::new("exec cancelled", &f).jwt_of(&cmd);
    let child = spawn_piped(cmd);
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "started", pid, libc::SIGTERM);
    assert_eq!(out.code(), Some(143), "{out:?}");
    assert!(out.stdout.contains("bye ***"), "{out:?}");
    scan.output(&out).files(&dir, &[]).assert_clean();
}

#[test]
fn login_error_with_a_bad_bound_claim() {
    let f = Fixture::new("leak_login");
    let dir = support::scratch_dir("leak_login");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let over = json!({"project_path": "evil/x"});
    let cmd = gitlab_job(&f, &dir, &api, &over, &["build", &repo("examples/null")]);
    let scan = Scan::new("login error", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(out.stderr.contains("claim `project_path` differs"), "{out:?}");
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn build_success() {
    let f = Fixture::new("leak_build_ok");
    let dir = support::scratch_dir("leak_build_ok");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let report = dir.join("report.md").display().to_string();
    let cmd = gitlab_job(
        &f,
        &dir,
        &api,
        &json!({}),
        &["build", &repo("examples/null"), "--report", &report],
    );
    let scan = Scan::new("build success", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_success();
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn build_failure_echoing_a_secret() {
    let f = Fixture::new("leak_build_fail");
    let dir = support::scratch_dir("leak_build_fail");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let report = dir.join("report.md").display().to_string();
    let tpl = repo("tests/fixtures/templates/fail");
    let cmd = gitlab_job(&f, &dir, &api, &json!({}), &["build", &tpl, "--report", &report]);
    let scan = Scan::new("build failure", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(out.combined().contains("boom: token *** rejected"), "{out:?}");
    assert_eq!(api.note_bodies(42).len(), 1, "the MR note was posted (and is scanned)");
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn build_cancelled() {
    let f = Fixture::new("leak_build_term");
    let dir = support::scratch_dir("leak_build_term");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let mut cmd = gitlab_job(
        &f,
        &dir,
        &api,
        &json!({}),
        &["build", &repo("tests/fixtures/templates/sleep")],
    );
    cmd.env(
        "PACKER_VAULT_PACKER_VARS",
        format!("sleep_seconds=60\nmarker_dir={}", dir.display()),
    );
    let scan = Scan::new("build cancelled", &f).jwt_of(&cmd);
    let child = spawn_piped(cmd);
    let pid = child.id() as i32;
    let out = support::cancel_after_line(child, "long build started", pid, libc::SIGTERM);
    assert_eq!(out.code(), Some(143), "{out:?}");
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn validate() {
    let f = Fixture::new("leak_validate");
    let dir = support::scratch_dir("leak_validate");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let cmd = gitlab_job(&f, &dir, &api, &json!({}), &["validate", &repo("examples/null")]);
    let scan = Scan::new("validate", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_success();
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn secrets_exports_keep_values_in_their_file_only() {
    let f = Fixture::new("leak_secrets");
    let dir = support::scratch_dir("leak_secrets");
    let out_dir = support::scratch_dir("leak_secrets_out");
    let api = GitlabApi::start(GITLAB_TOKEN);
    for format in ["json", "shell"] {
        // GitLab cannot mask: printing the values into the job log is refused
        // before any request, naming the ways that keep them out of it.
        let cmd = gitlab_job(&f, &dir, &api, &json!({}), &["secrets", "--format", format]);
        let out = support::run(cmd);
        out.assert_code(2);
        assert!(
            out.stderr.contains("--output FILE") && out.stderr.contains("exec"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("logged in"), "nothing was sent: {}", out.stderr);
        f.assert_no_secret(&out.combined());

        let file = out_dir.join(format!("secrets.{format}"));
        let file_arg = file.display().to_string();
        let cmd = gitlab_job(
            &f,
            &dir,
            &api,
            &json!({}),
            &["secrets", "--format", format, "--output", &file_arg],
        );
        let scan = Scan::new("secrets export", &f).jwt_of(&cmd);
        let out = support::run(cmd);
        out.assert_success();
        let exported = std::fs::read_to_string(&file).unwrap_or_default();
        // The scan is not blind: it finds the values where they are by design.
        assert!(
            !f.leak_report(&exported).is_empty(),
            "the export holds the values by design"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).expect("stat").permissions());
        assert_eq!(mode & 0o777, 0o600, "the export file is private");
        scan.output(&out).files(&dir, &[]).assert_clean();
    }
}

/// A Packer error line carrying a secret with commas and newlines (which
/// Packer's machine-readable output escapes) and its base64 form.
#[test]
fn packer_error_echoing_a_tricky_secret() {
    let f = Fixture::new("leak_tricky");
    let tricky = format!("tr,ic,ky-{}\nsecond,line-{}\n", fastrand::u64(..), fastrand::u64(..));
    bao().write_kv2(&f.kv2_mount, "ci/tricky", &json!({ "value": tricky }));
    let dir = support::scratch_dir("leak_tricky");
    std::fs::write(
        dir.join("tricky.pkr.hcl"),
        r#"source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    inline = [
      "echo \"error: bad value $TRICKY\" >&2",
      "echo \"b64 $(printf %s \"$TRICKY\" | base64 -w0)\" >&2",
      "exit 2",
    ]
  }
}
"#,
    )
    .expect("write the template");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let report = dir.join("report.md").display().to_string();
    let mut cmd = gitlab_job(&f, &dir, &api, &json!({}), &["build", ".", "--report", &report]);
    cmd.env(
        "PACKER_VAULT_SECRETS",
        format!("{}/ci/tricky value | TRICKY", f.kv2_mount),
    );
    let scan = Scan::new("packer error with a tricky secret", &f)
        .jwt_of(&cmd)
        .secret("tricky", &tricky);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(out.combined().contains("error: bad value ***"), "{out:?}");
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn overlapping_secrets_are_masked_whole_everywhere() {
    let f = Fixture::new("leak_overlap");
    // The end of the first is the start of the second; the third contains
    // a part of both.
    let n = fastrand::u64(1_000_000..);
    let (first, second, third) = (
        format!("AAAA{n}-BBBB"),
        format!("-BBBB-{n}CCCC"),
        format!("{n}-BBBB-{n}"),
    );
    bao().write_kv2(
        &f.kv2_mount,
        "ci/overlap",
        &json!({ "one": first, "two": second, "three": third }),
    );
    let dir = support::scratch_dir("leak_overlap");
    std::fs::write(
        dir.join("overlap.pkr.hcl"),
        r#"source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    inline = [
      "echo \"chained: AAAA${var.n}-BBBB-${var.n}CCCC\"",
      "echo \"error: bad AAAA${var.n}-BBBB-${var.n}CCCC\" >&2",
      "exit 2",
    ]
  }
}

variable "n" {
  type = string
}
"#,
    )
    .expect("write the template");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let report = dir.join("report.md").display().to_string();
    let mut cmd = gitlab_job(&f, &dir, &api, &json!({}), &["build", ".", "--report", &report]);
    cmd.env(
        "PACKER_VAULT_SECRETS",
        format!(
            "{m}/ci/overlap one | ONE ; {m}/ci/overlap two | TWO ; {m}/ci/overlap three | THREE",
            m = f.kv2_mount
        ),
    )
    .env("PACKER_VAULT_PACKER_VARS", format!("n={n}"));
    let scan = Scan::new("overlapping secrets", &f)
        .jwt_of(&cmd)
        .secret("first", &first)
        .secret("second", &second)
        .secret("third", &third);
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(
        out.stdout.contains("chained: ***\n"),
        "masked whole, as one run:\n{}",
        out.stdout
    );
    scan.output(&out)
        .files(&dir, &[&dir.join("overlap.pkr.hcl")])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn a_secret_with_a_literal_backslash_n_is_never_decoded_into_the_clear() {
    let f = Fixture::new("leak_escaped");
    // A JSON-escaped PEM, as GCP keys and many stored certificates are: one
    // line, with literal `\n`. And a multi-line JSON whose lines `{` and `}`
    // are no secret of their own.
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\\nMIIEv{}QIBADANBg\\nkqhkiG9w0BAQ{}EFAASC\\n-----END PRIVATE KEY-----\\n",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let json_key = format!("{{\n  \"private_key_id\": \"k{}\"\n}}", fastrand::u64(..));
    bao().write_kv2(&f.kv2_mount, "ci/escaped", &json!({ "pem": pem, "json": json_key }));
    let dir = support::scratch_dir("leak_escaped");
    std::fs::write(
        dir.join("escaped.pkr.hcl"),
        r#"source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    inline = [
      "printf 'key: %s\\n' \"$PEM\"",
      "echo \"decoded: $PEM\"",
      "printf 'json: %s\\n' \"$JSON_KEY\"",
      "echo \"error: bad key $PEM\" >&2",
      "exit 2",
    ]
  }
}
"#,
    )
    .expect("write the template");
    let api = GitlabApi::start(GITLAB_TOKEN);
    let report = dir.join("report.md").display().to_string();
    let mut cmd = gitlab_job(&f, &dir, &api, &json!({}), &["build", ".", "--report", &report]);
    cmd.env(
        "PACKER_VAULT_SECRETS",
        format!(
            "{m}/ci/escaped pem | PEM ; {m}/ci/escaped json | JSON_KEY",
            m = f.kv2_mount
        ),
    );
    let mut scan = Scan::new("a secret with a literal \\n", &f)
        .jwt_of(&cmd)
        .secret("escaped PEM", &pem)
        .secret("JSON key", &json_key);
    // `echo` under `sh` (dash) turns each `\n` into a line break: every
    // line of the decoded value is a secret too.
    for (i, line) in pem.split("\\n").filter(|l| l.len() >= 3).enumerate() {
        scan = scan.secret(&format!("decoded PEM line {i}"), line);
    }
    let out = support::run(cmd);
    out.assert_code(1);
    assert!(
        out.stdout.contains("key: ***"),
        "the build ran and printed it, redacted:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("json: {"),
        "`{{` alone is no secret:\n{}",
        out.stdout
    );
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}

#[test]
fn github_build_with_masks_files_and_comment() {
    let f = Fixture::new("leak_github");
    let oidc = GithubOidc::start(REQUEST_TOKEN);
    let api = GithubApi::start(GITHUB_TOKEN);
    let dir = support::scratch_dir("leak_github");
    let mut gh = oidc.env(&dir);
    gh.set("GITHUB_API_URL", &api.uri());
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .env("INPUT_VAULT-ADDR", &bao().addr)
        .env("INPUT_ROLE", &f.github_role)
        .env("INPUT_AUTH-PATH", f.auth_path())
        .env("INPUT_JWT-AUDIENCE", &f.github_aud)
        .env("INPUT_SECRETS", spec(&f))
        .env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
        .env("INPUT_WORKING-DIRECTORY", &dir)
        .current_dir(&gh.workspace)
        .args(["build", &repo("tests/fixtures/templates/fail")]);
    let out = support::run(cmd);
    out.assert_code(1);
    let masks: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .map(|m| m.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%"))
        .collect();
    let token = masks
        .iter()
        .find(|m| m.starts_with("s.") && m.len() > 20)
        .expect("the Vault token is masked");
    assert_eq!(token_shape(token), Some(0), "the token-shape scan knows a real token");
    assert!(
        !api.sent_bodies().is_empty(),
        "the PR comment was sent (and is scanned)"
    );
    let jwt = masks
        .iter()
        .find(|m| m.starts_with("eyJ") && m.matches('.').count() == 2)
        .expect("the JWT is masked");
    let shown = support::runner_shows(&out.stdout);
    Scan::new("GitHub build", &f)
        .secret("Vault token", token)
        .secret("JWT", jwt)
        .text("stdout without masks", &shown)
        .text("stderr", &out.stderr)
        .text("GITHUB_* files", &gh.read_all_files())
        .text("PR comments", &api.sent_bodies().join("\n"))
        .files(&dir, &[])
        .assert_clean();
}

#[test]
fn doctor_checklist() {
    let f = Fixture::new("leak_doctor");
    let dir = support::scratch_dir("leak_doctor");
    let mut cmd = support::gitlab_job(&f, &dir);
    cmd.env("PACKER_VAULT_SECRETS", spec(&f)).arg("doctor");
    let scan = Scan::new("doctor", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_success();
    scan.output(&out).files(&dir, &[]).assert_clean();
}

#[test]
fn a_vault_failing_after_login() {
    let f = Fixture::new("leak_vault_500");
    let dir = support::scratch_dir("leak_vault_500");
    let proxy = Proxy::start(&bao().addr);
    proxy.fail_always(
        Some(&format!("/v1/{}/", f.kv1_mount)),
        Fault::Respond {
            status: 500,
            headers: Vec::new(),
            body: r#"{"errors":["1 error occurred:\n\t* internal error\n\n"]}"#.into(),
        },
    );
    proxy.fail_next_on(&format!("/v1/{}/data/ci/packer", f.kv2_mount), 1, Fault::DropMidBody);
    let api = GitlabApi::start(GITLAB_TOKEN);
    let mut cmd = gitlab_job(&f, &dir, &api, &json!({}), &["build", &repo("examples/null")]);
    cmd.env("PACKER_VAULT_VAULT_ADDR", proxy.addr());
    let scan = Scan::new("Vault failing after login", &f).jwt_of(&cmd);
    let out = support::run(cmd);
    out.assert_code(1);
    scan.output(&out)
        .files(&dir, &[])
        .text("MR notes", &api.note_bodies(42).join("\n"))
        .assert_clean();
}
