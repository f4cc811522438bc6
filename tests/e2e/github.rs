//! The binary as the action runs it in a GitHub job: every variable the
//! runner sets, the step environment `action.yml` maps, real OpenBao, real
//! Packer, and stand-ins of GitHub's OIDC endpoint, GitHub's REST API and HCP.

use crate::action::step_env;
use crate::exec::{accessor, revoked, shown};
use crate::support::github_api::GithubApi;
use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, GithubEnv, GithubOidc, bao, masks_first};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) const GITHUB_TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
/// `GITHUB_SHA` of [`support::github_env`]'s pull-request job.
const MERGE_SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";

fn example() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/null")
        .display()
        .to_string()
}

/// HCP credentials (v3), app secrets, and a multi-line key.
fn spec(f: &Fixture) -> String {
    format!(
        "{m}/data/ci/hcp client_id | HCP_CLIENT_ID ; {m}/ci/hcp client_secret | HCP_CLIENT_SECRET\n\
         {m}/ci/packer api_token | API_TOKEN ; {m}/ci/packer db_password | DB_PASSWORD\n\
         {m}/ci/packer ssh_key | SSH_KEY",
        m = f.kv2_mount
    )
}

/// Values the spec reads, by variable.
fn values(f: &Fixture) -> Vec<(&'static str, String)> {
    vec![
        ("HCP_CLIENT_ID", f.hcp_latest().client_id.clone()),
        ("HCP_CLIENT_SECRET", f.hcp_latest().client_secret.clone()),
        ("API_TOKEN", f.api_token.clone()),
        ("DB_PASSWORD", f.db_password.clone()),
        ("SSH_KEY", f.ssh_key.clone()),
    ]
}

/// A `pull_request` job (PR #42 of acme/images) whose step is
/// `uses: packer-vault/packer-vault-action` `with:` these inputs (besides the Vault
/// login and the spec), against the API stand-in; Packer runs in `dir`.
pub(crate) fn job(
    f: &Fixture,
    oidc: &GithubOidc,
    api: &GithubApi,
    dir: &Path,
    with: &[(&str, &str)],
) -> (Command, GithubEnv) {
    let mut gh = oidc.env(dir);
    gh.set("GITHUB_API_URL", &api.uri());
    let (addr, path, spec, wd, tpl) = (
        bao().addr.clone(),
        f.auth_path(),
        spec(f),
        dir.display().to_string(),
        example(),
    );
    let mut inputs: Vec<(&str, &str)> = vec![
        ("vault-addr", &addr),
        ("role", &f.github_role),
        ("auth-path", &path),
        ("jwt-audience", &f.github_aud),
        ("secrets", &spec),
        ("template", &tpl),
        ("working-directory", &wd),
    ];
    inputs.extend_from_slice(with);
    let mut cmd = support::bin();
    cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
        .envs(step_env(&inputs, GITHUB_TOKEN))
        .current_dir(&gh.workspace)
        .arg(with.iter().find(|(k, _)| *k == "command").map_or("build", |(_, v)| *v));
    (cmd, gh)
}

/// `NAME -> value` from a `GITHUB_ENV`/`GITHUB_OUTPUT` file, parsed as the
/// runner does (FileCommandManager): `NAME=VALUE` lines and `NAME<<DELIM`
/// heredocs whose value runs to the first line equal to DELIM. Returns the
/// delimiters too.
fn parse_file_commands(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    fn read_line<'a>(text: &'a str, index: &mut usize) -> Option<(&'a str, usize)> {
        if *index >= text.len() {
            return None;
        }
        let rest = &text[*index..];
        match rest.find('\n') {
            Some(at) => {
                let (line, nl) = match rest[..at].strip_suffix('\r') {
                    Some(l) => (l, 2),
                    None => (&rest[..at], 1),
                };
                *index += at + 1;
                Some((line, nl))
            }
            None => {
                *index = text.len();
                Some((rest, 0))
            }
        }
    }
    let (mut vars, mut delims) = (Vec::new(), Vec::new());
    let mut index = 0;
    while let Some((line, _)) = read_line(text, &mut index) {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                vars.push((line[..e].to_string(), line[e + 1..].to_string()));
            }
            (_, Some(h)) => {
                let (name, delim) = (line[..h].to_string(), line[h + 2..].to_string());
                assert!(!name.is_empty() && !delim.is_empty(), "invalid heredoc line {line:?}");
                let start = index;
                let mut end = index;
                loop {
                    let (l, nl) = read_line(text, &mut index).expect("matching delimiter not found");
                    if l == delim {
                        break;
                    }
                    assert!(nl > 0, "EOF marker missing new line");
                    end = index - nl;
                }
                vars.push((name, text[start..end.max(start)].to_string()));
                delims.push(delim);
            }
            _ => panic!("invalid format {line:?}"),
        }
    }
    (vars, delims)
}

fn outputs(gh: &GithubEnv) -> BTreeMap<String, String> {
    parse_file_commands(&gh.read_output()).0.into_iter().collect()
}

#[test]
fn a_pull_request_build_masks_first_comments_once_and_revokes() {
    let f = Fixture::new("github_pr_build");
    let oidc = GithubOidc::start("request-token-github-pr");
    let api = GithubApi::start(GITHUB_TOKEN);
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    // The default fingerprint: <GITHUB_SHA 12>-<run id>-<attempt>.
    let first = hcp.add_version("golden", "fedcba987654-9876543210-1", 1);
    let second = hcp.add_version("golden", "fedcba987654-9876543210-2", 0);
    let portal = "https://portal.example.test";
    let link = |id: &str| {
        format!(
            "{portal}/orgs/{}/projects/{}/packer/buckets/golden/versions/{id}",
            hcp.org_id, hcp.project_id
        )
    };

    let run = |attempt: &str| {
        let dir = support::scratch_dir("github_pr_build");
        let (mut cmd, mut gh) = job(&f, &oidc, &api, &dir, &[("hcp-bucket", "golden")]);
        gh.set("GITHUB_RUN_ATTEMPT", attempt);
        cmd.env("GITHUB_RUN_ATTEMPT", attempt)
            .env("HCP_AUTH_URL", hcp.uri())
            .env("HCP_API_ADDRESS", hcp.uri())
            .env("HCP_PORTAL_URL", portal);
        let out = support::run(cmd);
        (out, gh)
    };

    let (out, gh) = run("1");
    out.assert_success();
    assert!(
        out.stdout.contains("building golden-base with client id ***"),
        "Packer got the credentials, redacted in the log:\n{}",
        out.stdout
    );
    // Masks: every value, every line of the multi-line one, the Vault token
    // and the OIDC JWT, before anything else.
    let masks = masks_first(&out);
    for (name, value) in values(&f) {
        for line in value.lines().filter(|l| !l.trim().is_empty()) {
            assert!(masks.iter().any(|m| m == line), "{name}: a line is not masked");
        }
        if !value.contains('\n') {
            assert!(masks.contains(&value), "{name} is not masked");
        }
    }
    let vault_token = masks
        .iter()
        .find(|m| m.starts_with("s.") && m.len() > 20)
        .expect("the Vault token is masked")
        .clone();
    assert!(
        masks
            .iter()
            .any(|m| m.starts_with("eyJ") && m.matches('.').count() == 2),
        "the JWT is masked"
    );
    let (stop, resume) = (
        out.stdout.find("::stop-commands::"),
        out.stdout.find("building golden-base"),
    );
    assert!(
        stop.is_some_and(|s| resume.is_some_and(|r| s < r)),
        "Packer's output runs with commands stopped"
    );

    // No secret anywhere a user or the API sees.
    let visible = shown(&out);
    f.assert_no_secret(&visible);
    f.assert_no_secret(&gh.read_all_files());
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:?}");
    let body = &comments[0].body;
    for text in api.sent_bodies().iter().chain([body, &gh.read_all_files(), &visible]) {
        f.assert_no_secret(text);
        for token in [GITHUB_TOKEN, vault_token.as_str(), oidc.request_token.as_str()] {
            assert!(!text.contains(token), "a credential leaked");
        }
    }

    // The comment and the summary: version link, artifacts, secrets by name.
    let marker = packer_vault::report::marker(&example(), Some("golden"));
    assert!(body.starts_with(&marker), "the hidden marker comes first:\n{body}");
    assert!(body.contains(&link(&first)), "the HCP version link:\n{body}");
    assert!(
        body.contains(support::hcp::AMI) && body.contains(support::hcp::REGION),
        "artifacts:\n{body}"
    );
    assert!(body.contains("`HCP_CLIENT_SECRET`"), "{body}");
    let summary = gh.read_summary();
    assert!(
        summary.contains(&link(&first)) && !summary.contains(&marker),
        "{summary}"
    );
    assert!(summary.len() < packer_vault::publish::github::MAX_SUMMARY_BYTES);
    assert!(out.stderr.contains("commented on pull request #42"), "{}", out.stderr);

    // Step outputs.
    let o = outputs(&gh);
    assert_eq!(o["version-id"], first);
    assert_eq!(o["version-url"], link(&first));
    assert_eq!(o["version-fingerprint"], "fedcba987654-9876543210-1");
    let artifacts: serde_json::Value = serde_json::from_str(&o["artifacts"]).expect("artifacts is JSON");
    assert_eq!(artifacts[0]["id"], support::hcp::AMI);
    assert_eq!(o["token-accessor"], accessor(&out));
    assert!(o["secrets-digest"].starts_with("sha256:"));
    assert!(revoked(&accessor(&out)), "the token is revoked");
    assert_eq!(bao().lookup_self_status(&vault_token), 403);

    // A re-run edits the same comment.
    let (out2, _) = run("2");
    out2.assert_success();
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1, "still one comment: {comments:?}");
    assert_eq!(comments[0].edits, 1);
    assert!(comments[0].body.contains(&link(&second)), "{}", comments[0].body);
    assert!(!comments[0].body.contains(&link(&first)));
    assert_eq!(api.requests_to("POST", "/comments").len(), 1);
    assert_eq!(
        api.requests_to("PATCH", &format!("/comments/{}", comments[0].id)).len(),
        1
    );
    assert!(
        out2.stderr.contains("updated the comment on pull request #42"),
        "{}",
        out2.stderr
    );
    f.assert_no_secret(&comments[0].body);
    assert!(revoked(&accessor(&out2)));
    // Every API call carried the token.
    assert!(
        api.requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {GITHUB_TOKEN}")))
    );
}

#[test]
fn a_forbidden_comment_is_a_warning_naming_the_permission() {
    let f = Fixture::new("github_pr_403");
    let oidc = GithubOidc::start("request-token-github-403");
    let api = GithubApi::start(GITHUB_TOKEN);
    api.forbid_writes();
    let dir = support::scratch_dir("github_pr_403");
    let (cmd, gh) = job(&f, &oidc, &api, &dir, &[]);
    let out = support::run(cmd);
    out.assert_success();
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("::warning") && l.contains("no PR comment"))
        .unwrap_or_else(|| panic!("a warning annotation:\n{}", out.stderr));
    assert!(warning.contains("403"), "{warning}");
    assert!(warning.contains("Resource not accessible by integration"), "{warning}");
    assert!(warning.contains("permissions: pull-requests: write"), "{warning}");
    assert!(api.comments().is_empty());
    assert_eq!(
        api.requests_to("POST", "/issues/42/comments").len(),
        1,
        "403 is not retried"
    );
    assert!(!gh.read_summary().is_empty(), "the summary is still written");
    f.assert_no_secret(&shown(&out));
    assert!(revoked(&accessor(&out)));
}

#[test]
fn export_env_cannot_be_injected_through_a_value() {
    let f = Fixture::new("github_export_env");
    let evil = "first line\nghadelimiter_00000000-0000-0000-0000-000000000000\nINJECTED<<EOF\npwned\nEOF\n\
                ALSO_INJECTED=1\nghadelimiter_\nNODE_OPTIONS=--require /tmp/x.js";
    bao().write_kv2(&f.kv2_mount, "ci/inject", &json!({ "evil": evil }));
    let oidc = GithubOidc::start("request-token-github-export");
    let api = GithubApi::start(GITHUB_TOKEN);
    let dir = support::scratch_dir("github_export_env");
    let (mut cmd, gh) = job(
        &f,
        &oidc,
        &api,
        &dir,
        &[("export-env", "true"), ("command", "validate"), ("comment", "never")],
    );
    cmd.env(
        "INPUT_SECRETS",
        format!(
            "{}\n{m}/ci/inject evil | EVIL ; {m}/ci/hcp@1 client_id | HCP_ID_V1",
            spec(&f),
            m = f.kv2_mount
        ),
    );
    let out = support::run(cmd);
    out.assert_success();
    let (vars, delims) = parse_file_commands(&gh.read_env_file());
    let mut want = values(&f);
    want.push(("EVIL", evil.to_string()));
    want.push(("HCP_ID_V1", f.hcp_version(1).client_id.clone()));
    let mut got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut want: Vec<(&str, &str)> = want.iter().map(|(k, v)| (*k, v.as_str())).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "exactly the spec's variables, values intact");
    assert_eq!(delims.len(), want.len());
    for d in &delims {
        let uuid = d.strip_prefix("ghadelimiter_").expect("a ghadelimiter_ delimiter");
        assert_eq!(uuid.len(), 36, "a random uuid: {d}");
        assert!(
            vars.iter().all(|(_, v)| !v.contains(d.as_str())),
            "no value holds its delimiter"
        );
    }
    f.assert_no_secret(&shown(&out));
    assert!(api.requests().is_empty(), "comment: never");
    // export-env keeps the token for later steps.
    assert!(out.stderr.contains("keeping the Vault token"), "{}", out.stderr);
    assert!(!revoked(&accessor(&out)));
}

#[test]
fn a_push_comments_on_its_pull_request_only_with_always() {
    let f = Fixture::new("github_push");
    let oidc = GithubOidc::start("request-token-github-push");
    // GitHub Enterprise Server: the API, and its pagination links, under /api/v3.
    let api = GithubApi::start_enterprise(GITHUB_TOKEN);
    let sha = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    api.add_commit_pull(sha, 41, "closed");
    api.add_commit_pull(sha, 42, "open");
    for i in 0..130 {
        api.add_comment(42, "octocat", &format!("review note {i}"));
    }
    let marker = packer_vault::report::marker(&example(), None);
    let stale = api.add_comment(42, "github-actions[bot]", &format!("{marker}\nan old result"));
    let push = |comment: &str| {
        let dir = support::scratch_dir("github_push");
        let (mut cmd, gh) = job(&f, &oidc, &api, &dir, &[("command", "validate"), ("comment", comment)]);
        let event = json!({
            "ref": "refs/heads/main",
            "before": MERGE_SHA,
            "after": sha,
            "repository": { "full_name": "acme/images", "name": "images", "owner": { "login": "acme" } },
            "head_commit": { "id": sha, "message": "Merge pull request #42" },
        });
        std::fs::write(&gh.event_file, event.to_string()).unwrap();
        cmd.env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_SHA", sha)
            .env("GITHUB_REF", "refs/heads/main")
            .env("GITHUB_REF_NAME", "main")
            .env_remove("GITHUB_HEAD_REF")
            .env_remove("GITHUB_BASE_REF");
        support::run(cmd)
    };

    let out = push("auto");
    out.assert_success();
    assert!(api.requests().is_empty(), "auto: no comment outside a pull request");

    let out = push("always");
    out.assert_success();
    assert_eq!(api.requests_to("GET", &format!("/commits/{sha}/pulls")).len(), 1);
    let lists = api.requests_to("GET", "/issues/42/comments");
    assert_eq!(lists.len(), 2, "the marker is on page 2: {lists:?}");
    assert!(lists[1].query.as_deref().is_some_and(|q| q.contains("page=2")));
    assert!(
        api.requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v3/repos/acme/images/") || r.path == "/api/v3/user")
    );
    assert!(api.requests_to("POST", "/comments").is_empty(), "no new comment");
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 131);
    let sticky = comments.iter().find(|c| c.id == stale).expect("the sticky comment");
    assert_eq!(sticky.edits, 1);
    assert!(
        sticky.body.starts_with(&marker) && sticky.body.contains("validate"),
        "{}",
        sticky.body
    );
    assert!(!sticky.body.contains("an old result"));
    f.assert_no_secret(&sticky.body);
    assert!(
        api.comments_on(41).is_empty(),
        "the open pull request, not the closed one"
    );
}

#[test]
fn a_job_without_id_token_write_fails_saying_so_and_the_pr_hears_of_it() {
    let f = Fixture::new("github_oidc_403");
    let oidc = GithubOidc::start("the-current-request-token");
    let api = GithubApi::start(GITHUB_TOKEN);
    let dir = support::scratch_dir("github_oidc_403");
    let (mut cmd, _) = job(&f, &oidc, &api, &dir, &[("command", "validate")]);
    // What the token service answers a request token it does not accept.
    cmd.env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "a-stale-request-token");
    let out = support::run(cmd);
    out.assert_code(1);
    let error = out.line_starting("::error");
    assert!(error.contains("permissions: id-token: write"), "{error}");
    assert!(error.contains("fork"), "{error}");
    assert_eq!(oidc.requests().len(), 1, "a 403 is not retried");
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1, "the pull request hears of the failure");
    assert!(
        comments[0].body.contains("failed") && comments[0].body.contains("id-token: write"),
        "{}",
        comments[0].body
    );
}

#[test]
fn the_oidc_request_is_retried_on_5xx() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let f = Fixture::new("github_oidc_502");
    let jwt = support::jwt::sign(&support::jwt::github_claims(&f.github_aud, &json!({})));
    let server = support::block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(502).set_body_string("<html><body>502 Bad Gateway</body></html>"))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": jwt })))
            .with_priority(2)
            .mount(&server)
            .await;
        server
    });
    let oidc = GithubOidc::start("unused");
    let api = GithubApi::start(GITHUB_TOKEN);
    let dir = support::scratch_dir("github_oidc_502");
    let (mut cmd, _) = job(&f, &oidc, &api, &dir, &[("command", "validate"), ("comment", "never")]);
    cmd.env(
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        format!("{}/idtoken?api-version=2.0", server.uri()),
    );
    let out = support::run(cmd);
    out.assert_success();
    let requests = support::block_on(server.received_requests()).unwrap_or_default();
    assert_eq!(requests.len(), 3, "two 502s, then the token");
    assert_eq!(out.stderr.matches("retrying").count(), 2, "{}", out.stderr);
    assert!(oidc.requests().is_empty());
    f.assert_no_secret(&shown(&out));
    assert!(revoked(&accessor(&out)));
}

#[test]
fn a_comment_of_the_pr_authors_with_the_marker_is_never_edited() {
    let f = Fixture::new("github_takeover");
    let oidc = GithubOidc::start("request-token-github-takeover");
    let api = GithubApi::start(GITHUB_TOKEN);
    let marker = packer_vault::report::marker(&example(), None);
    // The pull request's author pre-posts the marker, hoping the verdict
    // lands in a comment they own and can rewrite; another bot does too.
    let planted = api.add_comment(42, "mallory", &format!("{marker}\n✅ all good, merge me"));
    let other_bot = api.add_comment(42, "renovate[bot]", &format!("{marker}\nnot ours either"));
    let run = || {
        let dir = support::scratch_dir("github_takeover");
        let (cmd, _) = job(&f, &oidc, &api, &dir, &[("command", "validate")]);
        let out = support::run(cmd);
        out.assert_success();
        out.stderr
    };
    run();
    let second = run();
    let comments = api.comments_on(42);
    for id in [planted, other_bot] {
        let c = comments.iter().find(|c| c.id == id).expect("still there");
        assert_eq!(c.edits, 0, "{}'s comment was edited", c.user);
    }
    let ours: Vec<_> = comments.iter().filter(|c| c.user == "github-actions[bot]").collect();
    assert_eq!(
        ours.len(),
        1,
        "one comment of our own, posted then edited: {comments:?}"
    );
    assert_eq!(ours[0].edits, 1, "{second}");
    assert!(ours[0].body.starts_with(&marker));
    let patches: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        patches,
        [format!("/repos/acme/images/issues/comments/{}", ours[0].id)],
        "only our own comment is patched"
    );
}

#[test]
fn a_persons_token_keeps_to_that_persons_comments() {
    let f = Fixture::new("github_pat");
    let oidc = GithubOidc::start("request-token-github-pat");
    let api = GithubApi::start_as_user(GITHUB_TOKEN, "images-bot");
    let marker = packer_vault::report::marker(&example(), None);
    let planted = api.add_comment(42, "mallory", &format!("{marker}\nplanted"));
    let own = api.add_comment(42, "images-bot", &format!("{marker}\nan old result"));
    let dir = support::scratch_dir("github_pat");
    let (cmd, _) = job(&f, &oidc, &api, &dir, &[("command", "validate")]);
    support::run(cmd).assert_success();
    assert_eq!(
        api.requests_to("GET", "/user").len(),
        1,
        "the token's identity was asked"
    );
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 2, "no new comment: {comments:?}");
    assert_eq!(comments.iter().find(|c| c.id == planted).map(|c| c.edits), Some(0));
    assert_eq!(comments.iter().find(|c| c.id == own).map(|c| c.edits), Some(1));
}

#[test]
fn a_github_apps_token_finds_its_own_comment_with_comment_author() {
    let f = Fixture::new("github_app");
    let oidc = GithubOidc::start("request-token-github-app");
    let api = GithubApi::start_as_app(GITHUB_TOKEN, "images-app[bot]");
    let marker = packer_vault::report::marker(&example(), None);
    let own = api.add_comment(42, "images-app[bot]", &format!("{marker}\nan earlier run"));
    let dir = support::scratch_dir("github_app");
    let (cmd, _) = job(
        &f,
        &oidc,
        &api,
        &dir,
        &[("command", "validate"), ("comment-author", "images-app[bot]")],
    );
    support::run(cmd).assert_success();
    let comments = api.comments_on(42);
    assert_eq!(comments.len(), 1, "its own comment was found and updated: {comments:?}");
    assert_eq!(comments.iter().find(|c| c.id == own).map(|c| c.edits), Some(1));
    assert!(
        api.requests_to("GET", "/user").is_empty(),
        "the author was given: no need to ask"
    );
}
