//! Smoke tests of the test bed itself (no product binary): the real OpenBao
//! server, fixtures, JWT roles, the GitHub OIDC stand-in and the leak check.

use serde_json::{Value, json};

use crate::support::{self, Fixture, GithubOidc, bao, block_on, jwt};

fn client_token(body: &Value) -> String {
    body["auth"]["client_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no client_token in {body}"))
        .to_owned()
}

fn errors(body: &Value) -> String {
    body["errors"].to_string()
}

#[test]
fn support_github_login_and_versioned_read() {
    let fx = Fixture::new("support_github_login_and_versioned_read");
    eprintln!("server startup {:?}, fixture setup {:?}", bao().startup, fx.setup);

    let (status, body) = fx.login(&fx.github_role, &fx.github_jwt(&json!({})));
    assert_eq!(status, 200, "{body}");
    let token = client_token(&body);
    let policies = body["auth"]["policies"].to_string();
    assert!(policies.contains(&fx.policy), "{policies}");

    let path = format!("{}/data/ci/hcp?version=1", fx.kv2_mount);
    let (status, body) = bao().api_with_token(&token, "GET", &path, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["metadata"]["version"], 1);
    assert_eq!(
        body["data"]["data"]["client_secret"],
        fx.hcp_version(1).client_secret.as_str()
    );

    let path = format!("{}/data/ci/hcp", fx.kv2_mount);
    let (_, body) = bao().api_with_token(&token, "GET", &path, None);
    assert_eq!(body["data"]["data"]["client_id"], fx.hcp_latest().client_id.as_str());

    let path = format!("{}/data/ci/packer", fx.kv2_mount);
    let (_, body) = bao().api_with_token(&token, "GET", &path, None);
    assert_eq!(body["data"]["data"]["ssh_key"], fx.ssh_key.as_str());
    assert_eq!(body["data"]["data"]["db_password"], fx.db_password.as_str());

    let path = format!("{}/ci/legacy", fx.kv1_mount);
    let (status, body) = bao().api_with_token(&token, "GET", &path, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["password"], fx.legacy_password.as_str());

    // The token is confined to this fixture's mounts.
    let (status, _) = bao().api_with_token(&token, "GET", "secret/data/anything", None);
    assert_eq!(status, 403);

    // Revocation: lookup-self works before and is refused after.
    assert_eq!(bao().lookup_self_status(&token), 200);
    let (status, _) = bao().api_with_token(&token, "POST", "auth/token/revoke-self", None);
    assert_eq!(status, 204);
    assert_eq!(bao().lookup_self_status(&token), 403);
    let (_, body) = bao().api_with_token(&token, "GET", "auth/token/lookup-self", None);
    eprintln!("lookup-self after revoke-self: {body}");
}

#[test]
fn support_jwt_refusals() {
    let fx = Fixture::new("support_jwt_refusals");

    let (status, body) = fx.login(&fx.github_role, &fx.github_jwt(&json!({"repository": "evil/x"})));
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body).contains("bound claim"), "{body}");
    eprintln!("foreign repository: {status} {}", errors(&body));

    let bad_aud = jwt::sign(&jwt::github_claims("https://github.com/evil", &json!({})));
    let (status, body) = fx.login(&fx.github_role, &bad_aud);
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body).contains("audience claim does not match"), "{body}");

    let now = jwt::now();
    let expired = fx.github_jwt(&json!({"iat": now - 900, "nbf": now - 900, "exp": now - 600}));
    let (status, body) = fx.login(&fx.github_role, &expired);
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body).contains("token is expired"), "{body}");

    let untrusted = jwt::sign_untrusted(&jwt::github_claims(&fx.github_aud, &json!({})));
    let (status, body) = fx.login(&fx.github_role, &untrusted);
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body).contains("no known key"), "{body}");

    let (status, body) = fx.login("nope", &fx.github_jwt(&json!({})));
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body).contains("could not be found"), "{body}");

    // A GitHub token on the GitLab role: the audience is checked first.
    let (status, body) = fx.login(&fx.gitlab_role, &fx.github_jwt(&json!({})));
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body).contains("audience"), "{body}");
}

#[test]
fn support_gitlab_login() {
    let fx = Fixture::new("support_gitlab_login");
    let (status, body) = fx.login(&fx.gitlab_role, &fx.gitlab_jwt(&json!({})));
    assert_eq!(status, 200, "{body}");
    let token = client_token(&body);
    let path = format!("{}/ci/legacy", fx.kv1_mount);
    let (status, body) = bao().api_with_token(&token, "GET", &path, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"], fx.legacy_user.as_str());

    let unprotected = fx.gitlab_jwt(&json!({"ref_protected": "false"}));
    let (status, body) = fx.login(&fx.gitlab_role, &unprotected);
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body).contains("bound claim"), "{body}");

    let tmp = support::scratch_dir("gitlab");
    let env = support::gitlab_env(&fx, &tmp);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("VAULT_SERVER_URL"), bao().addr);
    let (status, body) = fx.login(&fx.gitlab_role, &get("VAULT_ID_TOKEN"));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn support_github_oidc_stand_in() {
    let fx = Fixture::new("support_github_oidc_stand_in");
    let oidc = GithubOidc::start("request-token-123");
    let url = oidc.request_url();
    assert!(url.contains("?api-version=2.0"), "{url}");
    let client = packer_vault::remote::client_builder(false, Vec::new())
        .expect("builder")
        .build()
        .expect("client");

    let audience = "https://github.com/acme";
    let with_aud = format!("{url}&audience={}", "https%3A%2F%2Fgithub.com%2Facme");
    let (status, body) = block_on(async {
        let resp = client
            .get(&with_aud)
            .bearer_auth("request-token-123")
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 200, "{body}");
    let token = body["value"].as_str().expect("value").to_owned();
    let (status, body) = fx.login(&fx.github_role, &token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(oidc.requests()[0].audience.as_deref(), Some(audience));

    let status = block_on(async { client.get(&with_aud).send().await.unwrap().status().as_u16() });
    assert_eq!(status, 401);
    let status = block_on(async {
        let resp = client.get(&with_aud).bearer_auth("wrong").send().await.unwrap();
        resp.status().as_u16()
    });
    assert_eq!(status, 403);

    // Claim overrides: a foreign repository is refused by the role.
    let evil = GithubOidc::start_with("t", json!({"repository": "evil/x"}));
    let body: Value = block_on(async {
        let resp = client
            .get(format!(
                "{}&audience=https%3A%2F%2Fgithub.com%2Facme",
                evil.request_url()
            ))
            .bearer_auth("t")
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap()
    });
    let (status, _) = fx.login(&fx.github_role, body["value"].as_str().unwrap());
    assert_eq!(status, 400);

    let tmp = support::scratch_dir("github");
    let env = oidc.env(&tmp);
    assert_eq!(env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), Some(url.as_str()));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(&env.event_file).unwrap()).unwrap();
    assert_eq!(event["pull_request"]["number"], 42);
    assert_eq!(env.read_output(), "");
}

#[test]
fn support_kv_helpers_and_leak_check() {
    let fx = Fixture::new("support_kv_helpers_and_leak_check");
    let b = bao();
    let v = b.write_kv2(&fx.kv2_mount, "extra", &json!({"k": "v4"}));
    assert_eq!(v, 1);
    b.delete_kv2_version(&fx.kv2_mount, "ci/hcp", 2);
    let (status, body) = b.api("GET", &format!("{}/data/ci/hcp?version=2", fx.kv2_mount), None);
    eprintln!("deleted version read: {status} {body}");
    assert_eq!(status, 404);
    b.destroy_kv2_version(&fx.kv2_mount, "ci/hcp", 1);
    let (status, body) = b.api("GET", &format!("{}/data/ci/hcp?version=1", fx.kv2_mount), None);
    eprintln!("destroyed version read: {status} {body}");
    assert_eq!(status, 404);

    // Leak check: clean text passes, each encoded form is caught by label.
    fx.assert_no_secret("nothing to see here ***");
    let value = fx.db_password.as_str();
    let cases = [
        (format!("x {value} y"), "raw"),
        (serde_json::to_string(value).unwrap(), "json-escaped"),
        (format!("b64:{}", base64_std(value)), "base64 std"),
        (shifted(value), "base64 std (offset 1)"),
        (
            value
                .bytes()
                .map(|b| match b {
                    b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect(),
            "url-encoded",
        ),
        (
            fx.ssh_key.lines().nth(1).unwrap().to_owned(),
            "kv2/ci/packer#ssh_key\" leaked as line 2",
        ),
    ];
    for (haystack, form) in cases {
        let report = fx.leak_report(&haystack).join("\n");
        assert!(report.contains("kv2/ci/packer#"), "{form}: {report}");
        assert!(report.contains(form), "{form}: {report}");
        assert!(!report.contains(value), "leak report must not print the value");
    }
}

fn base64_std(value: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(value)
}

/// Base64 of the value embedded after one other byte.
fn shifted(value: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("Z{value}"))
}

#[test]
fn support_bin_and_run() {
    let names: Vec<String> = support::bin()
        .get_envs()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"PATH".to_owned()) && names.contains(&"HOME".to_owned()));

    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", "echo out; echo err >&2; exit 3"]);
    let outcome = support::run(&mut sh);
    assert_eq!(outcome.code(), Some(3));
    assert_eq!(outcome.stdout, "out\n");
    assert_eq!(outcome.stderr, "err\n");

    // A grandchild keeping the pipes open is killed with the group.
    let started = std::time::Instant::now();
    let timed_out = std::panic::catch_unwind(|| {
        let mut sh = std::process::Command::new("sh");
        sh.args(["-c", "sleep 60 & sleep 60"]);
        support::run_with_timeout(sh, std::time::Duration::from_millis(500))
    });
    assert!(timed_out.is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
