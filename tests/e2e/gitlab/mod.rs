//! GitLab CI end to end: the binary as a merge-request job against real
//! OpenBao, real Packer and the stand-ins of GitLab's notes API and HCP.
//! [`ci_files`]: the template, the component and the examples.

mod ci_files;
mod ci_local;

use crate::exec::{accessor, revoked};
use crate::support::gitlab_api::GitlabApi;
use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, Outcome, gitlab_env, jwt};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example() -> String {
    repo().join("examples/null").display().to_string()
}

fn token() -> String {
    format!(
        "glpat-{}",
        std::iter::repeat_with(fastrand::alphanumeric)
            .take(20)
            .collect::<String>()
    )
}

/// A GitLab MR job (MR !42) in `dir` that names Vault only through GitLab's
/// native variables (`VAULT_SERVER_URL` from `gitlab_env`, `VAULT_AUTH_ROLE`,
/// `VAULT_AUTH_PATH`), with the notes API at `api` and, when given, its token.
fn mr_job(f: &Fixture, dir: &Path, api: &GitlabApi, token: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(f, dir))
        .env("CI_PROJECT_DIR", dir)
        .env("CI_API_V4_URL", api.api_url())
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", &f.jwt_mount)
        .env(
            "PACKER_VAULT_SECRETS",
            format!(
                "{m}/ci/hcp client_id | HCP_CLIENT_ID ; {m}/ci/hcp client_secret | HCP_CLIENT_SECRET\n\
                 {m}/ci/packer api_token | API_TOKEN",
                m = f.kv2_mount
            ),
        )
        .env("PACKER_VAULT_WORKING_DIRECTORY", dir)
        .current_dir(dir)
        .args(args);
    if let Some(t) = token {
        cmd.env("PACKER_VAULT_GITLAB_TOKEN", t);
    }
    cmd
}

/// The variables of an MR job that a runner emulator is given (it sets the
/// job's own paths itself): GitLab's predefined ones and the ID token.
fn mr_vars(f: &Fixture, dir: &Path) -> Vec<(String, String)> {
    gitlab_env(f, dir)
        .into_iter()
        .filter(|(k, _)| k != "CI_PROJECT_DIR" && k != "CI_BUILDS_DIR")
        .collect()
}

/// No seeded secret, GitLab token or ID token in the output, the report
/// file or any note.
fn no_leak(f: &Fixture, out: &Outcome, dir: &Path, api: &GitlabApi) {
    let report = std::fs::read_to_string(dir.join("packer-vault-report.md")).unwrap_or_default();
    let notes = api.note_bodies(42).join("\n");
    let id_token = gitlab_env(f, dir)
        .into_iter()
        .find(|(k, _)| k == "VAULT_ID_TOKEN")
        .map(|(_, v)| v)
        .unwrap_or_default();
    for text in [out.combined(), report, notes] {
        f.assert_no_secret(&text);
        assert!(!text.contains(&api.token), "the GitLab token leaked:\n{text}");
        // The JWT's signature part is unique to each token.
        let sig = id_token.rsplit('.').next().unwrap_or_default();
        assert!(sig.len() > 20 && !text.contains(sig), "the ID token leaked");
    }
}

#[test]
fn mr_build_posts_one_note_with_the_hcp_link_and_edits_it_on_the_next_run() {
    let f = Fixture::new("gitlab_note");
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let api = GitlabApi::start(&token());
    let dir = support::scratch_dir("gitlab_note");
    let run = |fingerprint: &str| {
        let mut cmd = mr_job(&f, &dir, &api, Some(&api.token), &["build", &example()]);
        cmd.env("HCP_AUTH_URL", hcp.uri())
            .env("HCP_API_ADDRESS", hcp.uri())
            .env("HCP_PORTAL_URL", "https://portal.example.test")
            .env("PACKER_VAULT_HCP_BUCKET", "golden")
            .env("PACKER_VAULT_HCP_CHANNEL", "dev")
            .env("PACKER_VAULT_HCP_FINGERPRINT", fingerprint);
        support::run(cmd)
    };
    let link = |version: &str| {
        format!(
            "https://portal.example.test/orgs/{}/projects/{}/packer/buckets/golden/versions/{version}",
            hcp.org_id, hcp.project_id
        )
    };
    let marker = packer_vault::report::marker(&example(), Some("golden"));

    let v1 = hcp.add_version("golden", "fp-gitlab-1", 1);
    let out = run("fp-gitlab-1");
    out.assert_success();
    assert!(
        out.stdout.contains("building golden-base with client id ***"),
        "Packer got the credentials:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\x1b[0Ksection_start:") && out.stdout.contains(":packer_build[collapsed=true]\r\x1b[0K"),
        "collapsible sections:\n{}",
        out.stdout
    );
    let notes = api.note_bodies(42);
    assert_eq!(notes.len(), 1, "one note: {notes:#?}");
    assert!(
        notes[0].starts_with(&marker),
        "the note starts with its marker:\n{}",
        notes[0]
    );
    assert!(notes[0].contains(&link(&v1)), "the HCP version link:\n{}", notes[0]);
    let report = std::fs::read_to_string(dir.join("packer-vault-report.md")).expect("the report file");
    assert!(report.contains(&link(&v1)), "{report}");
    assert!(out.stderr.contains("posted the MR note on !42"), "{}", out.stderr);
    assert!(
        api.requests()
            .iter()
            .all(|r| r.private_token.as_deref() == Some(api.token.as_str()))
    );
    no_leak(&f, &out, &dir, &api);
    assert!(revoked(&accessor(&out)));

    let v2 = hcp.add_version("golden", "fp-gitlab-2", 1);
    let out = run("fp-gitlab-2");
    out.assert_success();
    let notes = api.note_bodies(42);
    assert_eq!(notes.len(), 1, "still one note: {notes:#?}");
    assert!(
        notes[0].contains(&link(&v2)) && !notes[0].contains(&link(&v1)),
        "{}",
        notes[0]
    );
    assert_eq!(api.requests_to("POST", "/notes").len(), 1, "{:#?}", api.requests());
    assert_eq!(api.requests_to("PUT", "/notes/").len(), 1, "{:#?}", api.requests());
    assert!(out.stderr.contains("updated the MR note on !42"), "{}", out.stderr);
    no_leak(&f, &out, &dir, &api);
    assert!(revoked(&accessor(&out)));
}

#[test]
fn without_a_gitlab_token_the_build_succeeds_and_says_how_to_enable_the_note() {
    let f = Fixture::new("gitlab_no_token");
    let api = GitlabApi::start(&token());
    let dir = support::scratch_dir("gitlab_no_token");
    let out = support::run(mr_job(&f, &dir, &api, None, &["build", &example()]));
    out.assert_success();
    for hint in [
        "`gitlab-token` is not set",
        "`api` scope",
        "Reporter role",
        "PACKER_VAULT_GITLAB_TOKEN",
    ] {
        assert!(out.stderr.contains(hint), "{hint}:\n{}", out.stderr);
    }
    assert!(api.requests().is_empty(), "{:#?}", api.requests());
    assert!(dir.join("packer-vault-report.md").exists());
    no_leak(&f, &out, &dir, &api);
    assert!(revoked(&accessor(&out)));
}

#[test]
fn a_rejected_gitlab_token_is_a_warning_not_a_failure() {
    let f = Fixture::new("gitlab_rejected");
    let api = GitlabApi::start(&token());
    let dir = support::scratch_dir("gitlab_rejected");
    let out = support::run(mr_job(&f, &dir, &api, Some("glpat-revoked"), &["validate", &example()]));
    out.assert_success();
    assert!(
        out.stderr.contains("GitLab answered 401: 401 Unauthorized"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Reporter role"), "{}", out.stderr);

    api.forbid_writes();
    let out = support::run(mr_job(&f, &dir, &api, Some(&api.token), &["validate", &example()]));
    out.assert_success();
    assert!(
        out.stderr.contains("GitLab answered 403: 403 Forbidden"),
        "{}",
        out.stderr
    );
    assert!(api.note_bodies(42).is_empty());
    assert_eq!(api.requests_to("POST", "/notes").len(), 1, "no retry of a 403");
    no_leak(&f, &out, &dir, &api);
}

#[test]
fn a_branch_pipeline_finds_the_mr_of_its_commit_and_pages_through_its_notes() {
    let f = Fixture::new("gitlab_branch");
    let api = GitlabApi::start(&token());
    let dir = support::scratch_dir("gitlab_branch");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    api.link_commit(sha, 7, "merged");
    let marker = packer_vault::report::marker(&example(), None);
    for i in 0..150 {
        let body = match i {
            10 => format!("> {marker}\nquoted by a reviewer"),
            120 => format!("{marker}\nan earlier run"),
            _ => format!("review comment {i}"),
        };
        api.add_note(7, &body, i % 7 == 0);
    }
    let sticky = api.notes(7)[120]["id"].as_u64().expect("note id");
    let branch_job = |comment: &str| {
        let mut cmd = mr_job(&f, &dir, &api, Some(&api.token), &["validate", &example()]);
        for var in [
            "CI_MERGE_REQUEST_IID",
            "CI_MERGE_REQUEST_PROJECT_ID",
            "CI_MERGE_REQUEST_ID",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("CI_PIPELINE_SOURCE", "push")
            .env("CI_COMMIT_BRANCH", "main")
            .env("PACKER_VAULT_COMMENT", comment);
        support::run(cmd)
    };

    let out = branch_job("auto");
    out.assert_success();
    assert!(
        api.requests().is_empty(),
        "auto: MR pipelines only: {:#?}",
        api.requests()
    );

    let out = branch_job("always");
    out.assert_success();
    assert_eq!(
        api.requests_to("GET", &format!("/commits/{sha}/merge_requests")).len(),
        1
    );
    let pages: Vec<String> = api
        .requests_to("GET", "/merge_requests/7/notes")
        .iter()
        .map(|r| format!("{}/{}", r.query["page"], r.query["per_page"]))
        .collect();
    assert_eq!(pages, ["1/100", "2/100"], "paged until the marker");
    let puts = api.requests_to("PUT", "/notes/");
    assert_eq!(puts.len(), 1, "{:#?}", api.requests());
    assert!(puts[0].path.ends_with(&format!("/notes/{sticky}")), "{}", puts[0].path);
    assert!(api.requests_to("POST", "/notes").is_empty());
    assert_eq!(api.notes(7).len(), 150);
    assert!(
        api.notes(7)[10]["body"]
            .as_str()
            .is_some_and(|b| b.contains("quoted by a reviewer"))
    );
    assert!(out.stderr.contains("updated the MR note on !7"), "{}", out.stderr);
    f.assert_no_secret(&api.note_bodies(7).join("\n"));
}

#[test]
fn gitlab_native_vault_variables_are_fallbacks() {
    let dir = support::scratch_dir("gitlab_native");
    let config = dir.join("empty.yml");
    std::fs::write(&config, "").expect("write config");
    let id_token = jwt::sign(&jwt::gitlab_claims("https://vault.example.com", &json!({})));
    let base = |extra: &[(&str, &str)]| {
        let mut env = packer_vault::env::Env::from([
            ("GITLAB_CI", "true"),
            ("VAULT_ID_TOKEN", id_token.as_str()),
            ("VAULT_SERVER_URL", "https://vault.example.com:8200"),
            ("VAULT_AUTH_ROLE", "packer"),
            ("VAULT_AUTH_PATH", "gitlab"),
            ("VAULT_NAMESPACE", "team-a"),
            ("PACKER_VAULT_CONFIG", config.to_str().unwrap_or_default()),
        ]);
        for (k, v) in extra {
            env.set(k, v);
        }
        packer_vault::config::resolve(&Default::default(), &env, packer_vault::config::Needs::NONE)
            .expect("the config resolves")
    };
    let login = |cfg: &packer_vault::config::Config| match &cfg.auth {
        packer_vault::config::Auth::Jwt { path, role, .. } => (path.clone(), role.clone()),
        other => panic!("not a JWT login: {other:?}"),
    };

    let cfg = base(&[]);
    assert_eq!(cfg.vault_addr, "https://vault.example.com:8200");
    assert_eq!(cfg.vault_namespace.as_deref(), Some("team-a"));
    assert_eq!(login(&cfg), ("gitlab".to_string(), "packer".to_string()));

    let cfg = base(&[("VAULT_ADDR", "https://a.example.com")]);
    assert_eq!(
        cfg.vault_addr, "https://a.example.com",
        "VAULT_ADDR before VAULT_SERVER_URL"
    );
    let cfg = base(&[
        ("PACKER_VAULT_VAULT_ADDR", "https://b.example.com"),
        ("PACKER_VAULT_ROLE", "images"),
        ("PACKER_VAULT_AUTH_PATH", "jwt-gitlab"),
        ("PACKER_VAULT_VAULT_NAMESPACE", "team-b"),
    ]);
    assert_eq!(cfg.vault_addr, "https://b.example.com");
    assert_eq!(cfg.vault_namespace.as_deref(), Some("team-b"));
    assert_eq!(login(&cfg), ("jwt-gitlab".to_string(), "images".to_string()));
}

#[test]
fn a_persons_note_with_the_marker_is_never_edited() {
    let f = Fixture::new("gitlab_takeover");
    let api = GitlabApi::start(&token());
    let dir = support::scratch_dir("gitlab_takeover");
    api.add_merge_request(42);
    let marker = packer_vault::report::marker(&example(), None);
    // The MR's author pre-posts the marker; the verdict must not land there.
    let planted = api.add_note_by(42, &format!("{marker}\n✅ all good, merge me"), "mallory");
    for _ in 0..2 {
        let out = support::run(mr_job(&f, &dir, &api, Some(&api.token), &["validate", &example()]));
        out.assert_success();
        no_leak(&f, &out, &dir, &api);
    }
    assert_eq!(
        api.requests_to("GET", "/user").len(),
        2,
        "the token's identity was asked"
    );
    let notes = api.notes(42);
    let theirs = notes
        .iter()
        .find(|n| n["id"].as_u64() == Some(planted))
        .expect("still there");
    assert!(
        theirs["body"].as_str().is_some_and(|b| b.contains("merge me")),
        "untouched"
    );
    let ours: Vec<_> = notes
        .iter()
        .filter(|n| n["author"]["id"].as_u64() == Some(support::gitlab_api::BOT_ID))
        .collect();
    assert_eq!(ours.len(), 1, "one note of our own, posted then updated: {notes:#?}");
    let puts = api.requests_to("PUT", "/notes/");
    assert_eq!(puts.len(), 1);
    assert!(
        puts[0].path.ends_with(&format!("/notes/{}", ours[0]["id"])),
        "{}",
        puts[0].path
    );
}
