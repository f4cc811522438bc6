//! The template as GitLab runs it, through a real runner emulator:
//! gitlab-ci-local (`--force-shell-executor`) runs a `.gitlab-ci.yml` that
//! `include: remote:`s the template (served from loopback) and `extends:
//! .packer-vault`, as a merge-request pipeline. The template fetches the
//! release by `PACKER_VAULT_REF`; the launcher downloads its binary with
//! busybox's wget (no curl, no cargo on `PATH`, as in hashicorp/packer:light).
//! Real OpenBao, real Packer, the GitLab notes stand-in.

use super::{mr_vars, repo, token};
use crate::exec::revoked;
use crate::support::gitlab_api::GitlabApi;
use crate::support::shipped::{Release, bare_path, copy_dir, git};
use crate::support::{self, Fixture};
use std::path::PathBuf;
use std::process::Command;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn gitlab_ci_local() -> PathBuf {
    let bin = repo().join(".ci-cache/node/node_modules/.bin/gitlab-ci-local");
    assert!(bin.exists(), "{} is missing: run .ci/setup", bin.display());
    bin
}

#[test]
fn gitlab_ci_local_runs_the_included_template_on_a_merge_request() {
    let f = Fixture::new("glci_mr");
    let api = GitlabApi::start(&token());
    let dir = support::scratch_dir("glci_mr");

    // packer-vault's repository at a release tag, and the template served
    // as raw.githubusercontent.com would serve it.
    let release = Release::make("glci_release");
    git(&release.checkout, &["init", "-q"]);
    git(&release.checkout, &["add", "-A"]);
    git(&release.checkout, &["commit", "-qm", "release"]);
    let tag = format!("v{}", release.version);
    git(&release.checkout, &["tag", &tag]);
    let raw = support::block_on(MockServer::start());
    let template = std::fs::read_to_string(release.checkout.join(".gitlab-ci-template.yml")).expect("template");
    support::block_on(
        Mock::given(method("GET"))
            .and(path(format!(
                "/packer-vault/packer-vault-action/{tag}/.gitlab-ci-template.yml"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_string(template))
            .mount(&raw),
    );

    // The user's project.
    let project = dir.join("images");
    copy_dir(&repo().join("examples/null"), &project.join("images/null"));
    let ci = format!(
        "include:\n  - remote: {raw}/packer-vault/packer-vault-action/{tag}/.gitlab-ci-template.yml\n\n\
         packer:\n  extends: .packer-vault\n  variables:\n    PACKER_VAULT_TEMPLATE: images/null\n    \
         PACKER_VAULT_SECRETS: |\n      {m}/ci/hcp client_id | HCP_CLIENT_ID ;\n      \
         {m}/ci/hcp client_secret | HCP_CLIENT_SECRET ;\n      {m}/ci/packer api_token | API_TOKEN ;\n",
        raw = raw.uri(),
        m = f.kv2_mount
    );
    std::fs::write(project.join(".gitlab-ci.yml"), ci).expect("write .gitlab-ci.yml");
    git(&project, &["init", "-q", "-b", "feature/bump"]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-qm", "images"]);

    let mut glci = Command::new(gitlab_ci_local());
    glci.env_clear()
        .env("PATH", bare_path(&dir, true))
        .env("HOME", &dir)
        .current_dir(&project)
        .args(["--force-shell-executor", "--no-color"]);
    // What the runner provides to an MR pipeline (GitLab's predefined
    // variables and the `id_tokens:` JWT), the project's CI/CD variables,
    // and where the release and the notes API are.
    let mut vars = mr_vars(&f, &dir);
    vars.extend([
        ("CI_API_V4_URL".to_string(), api.api_url()),
        ("VAULT_AUTH_ROLE".to_string(), f.gitlab_role.clone()),
        ("VAULT_AUTH_PATH".to_string(), f.jwt_mount.clone()),
        ("PACKER_VAULT_GITLAB_TOKEN".to_string(), api.token.clone()),
        (
            "PACKER_VAULT_REPOSITORY".to_string(),
            release.checkout.display().to_string(),
        ),
        ("PACKER_VAULT_REF".to_string(), tag.clone()),
        ("PACKER_VAULT_DOWNLOAD_URL".to_string(), release.download_url()),
        ("CHECKPOINT_DISABLE".to_string(), "1".to_string()),
        // gitlab-ci-local gives a job with `image:` the container's paths
        // (/builds/...) even under --force-shell-executor; the job runs in
        // the project itself, as a shell runner would run it.
        ("CI_PROJECT_DIR".to_string(), project.display().to_string()),
        ("CI_BUILDS_DIR".to_string(), dir.join("builds").display().to_string()),
    ]);
    for (k, v) in &vars {
        glci.arg("--variable").arg(format!("{k}={v}"));
    }
    let out = support::run(glci);
    let job_log = std::fs::read_to_string(project.join(".gitlab-ci-local/output/packer.log")).unwrap_or_default();
    let log = format!("{}\n{job_log}", out.combined());
    assert!(
        out.status.success() && log.contains("PASS  packer"),
        "the job passes:\n{log}"
    );
    eprintln!("gitlab-ci-local: the pipeline took {:.1?}", out.elapsed);

    // The template ran validate (MR pipeline) through the downloaded binary.
    assert!(log.contains("downloaded packer-vault-"), "{log}");
    assert_eq!(release.requests().len(), 1, "{:?}", release.requests());
    assert!(log.contains("packer validate"), "{log}");
    let report = std::fs::read_to_string(project.join(".gitlab-ci-local/artifacts/packer/packer-vault-report.md"))
        .unwrap_or_else(|e| panic!("the report artifact: {e}\n{log}"));
    assert!(report.contains("images/null"), "{report}");
    let notes = api.note_bodies(42);
    assert_eq!(notes.len(), 1, "one MR note: {notes:?}");

    // The token is revoked; nothing secret in the log, the report or the note.
    let at = log.find("accessor ").expect("the log names the token accessor") + "accessor ".len();
    let accessor: String = log[at..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    assert!(revoked(&accessor), "the token is revoked");
    let id_token = vars
        .iter()
        .find(|(k, _)| k == "VAULT_ID_TOKEN")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let signature = id_token.rsplit('.').next().unwrap_or_default().to_string();
    for text in [&log, &report, &notes[0]] {
        f.assert_no_secret(text);
        assert!(!text.contains(&api.token), "the GitLab token leaked");
        assert!(
            signature.len() > 20 && !text.contains(&signature),
            "the ID token leaked"
        );
    }
}
