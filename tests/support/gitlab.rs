//! GitLab CI stand-in: the variables of a merge-request pipeline job.
//!
//! GitLab hands the OIDC token to the job directly as a variable (here
//! `VAULT_ID_TOKEN`, as declared by `id_tokens:` in `.gitlab-ci.yml`), so no
//! server is needed: the token is signed with the test key and the
//! fixture's GitLab audience.

use std::path::Path;

use serde_json::{Value, json};

use super::bao::bao;
use super::fixture::Fixture;
use super::jwt;

/// The binary run as a GitLab merge-request job of `fixture`'s
/// ([`gitlab_env`]), logging in with its role on its auth mount.
pub fn gitlab_job(fixture: &Fixture, tmp: &Path) -> std::process::Command {
    let mut cmd = super::bin();
    cmd.envs(gitlab_env(fixture, tmp))
        .env("VAULT_AUTH_ROLE", &fixture.gitlab_role)
        .env("VAULT_AUTH_PATH", fixture.auth_path());
    cmd
}

/// [`gitlab_env_with`] without claim overrides.
pub fn gitlab_env(fixture: &Fixture, tmp: &Path) -> Vec<(String, String)> {
    gitlab_env_with(fixture, tmp, &json!({}))
}

/// Every variable a GitLab merge-request job for `acme/images` (MR !42)
/// has; `CI_PROJECT_DIR` is `<tmp>/project` (created), `VAULT_SERVER_URL`
/// is the test server and `VAULT_ID_TOKEN` a signed token with
/// [`jwt::gitlab_claims`] (audience `fixture.gitlab_aud`) plus `overrides`.
pub fn gitlab_env_with(fixture: &Fixture, tmp: &Path, overrides: &Value) -> Vec<(String, String)> {
    let project_dir = tmp.join("project");
    std::fs::create_dir_all(&project_dir).expect("create CI_PROJECT_DIR");
    let token = jwt::sign(&jwt::gitlab_claims(&fixture.gitlab_aud, overrides));
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let vars: Vec<(&str, String)> = vec![
        ("CI", "true".into()),
        ("GITLAB_CI", "true".into()),
        ("CI_SERVER", "yes".into()),
        ("CI_SERVER_URL", jwt::GITLAB_ISSUER.into()),
        ("CI_SERVER_HOST", "gitlab.example.com".into()),
        ("CI_API_V4_URL", format!("{}/api/v4", jwt::GITLAB_ISSUER)),
        ("CI_PROJECT_ID", "1234".into()),
        ("CI_PROJECT_NAME", "images".into()),
        ("CI_PROJECT_NAMESPACE", "acme".into()),
        ("CI_PROJECT_PATH", jwt::REPOSITORY.into()),
        ("CI_PROJECT_URL", format!("{}/acme/images", jwt::GITLAB_ISSUER)),
        ("CI_PROJECT_DIR", project_dir.display().to_string()),
        ("CI_BUILDS_DIR", tmp.display().to_string()),
        ("CI_COMMIT_SHA", sha.into()),
        ("CI_COMMIT_SHORT_SHA", sha[..8].into()),
        ("CI_COMMIT_REF_NAME", "feature/bump".into()),
        ("CI_COMMIT_REF_SLUG", "feature-bump".into()),
        ("CI_PIPELINE_ID", "555001".into()),
        ("CI_PIPELINE_IID", "88".into()),
        ("CI_PIPELINE_SOURCE", "merge_request_event".into()),
        (
            "CI_PIPELINE_URL",
            format!("{}/acme/images/-/pipelines/555001", jwt::GITLAB_ISSUER),
        ),
        ("CI_JOB_ID", "777001".into()),
        ("CI_JOB_NAME", "build".into()),
        ("CI_JOB_STAGE", "build".into()),
        (
            "CI_JOB_URL",
            format!("{}/acme/images/-/jobs/777001", jwt::GITLAB_ISSUER),
        ),
        ("CI_MERGE_REQUEST_IID", "42".into()),
        ("CI_MERGE_REQUEST_ID", "90042".into()),
        ("CI_MERGE_REQUEST_PROJECT_ID", "1234".into()),
        ("CI_MERGE_REQUEST_PROJECT_PATH", jwt::REPOSITORY.into()),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/bump".into()),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".into()),
        ("CI_MERGE_REQUEST_TITLE", "Bump base image".into()),
        ("GITLAB_USER_LOGIN", "gitlab-user".into()),
        ("VAULT_ID_TOKEN", token),
        ("VAULT_SERVER_URL", bao().addr.clone()),
    ];
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
