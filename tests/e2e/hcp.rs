//! The HCP Packer client (`packer_vault::hcp`) against the HCP stand-in:
//! token exchange, location resolution, version polling, channels, links,
//! base URLs and default fingerprints.

use std::time::Duration;

use packer_vault::env::Env;
use packer_vault::hcp::{self, ChannelAction, Client, Endpoints};
use packer_vault::remote::Failure;
use packer_vault::secret::Secret;
use serde_json::json;

use crate::support::block_on;
use crate::support::hcp::{AMI, COMPONENT, HcpStandIn, REGION, version_json};

fn endpoints(s: &HcpStandIn) -> Endpoints {
    let env = Env::from([
        ("HCP_AUTH_URL", s.uri().as_str()),
        ("HCP_API_ADDRESS", s.uri().as_str()),
        ("HCP_PORTAL_URL", "https://portal.example.test/"),
    ]);
    Endpoints::from_env(&env).expect("stand-in endpoints")
}

fn client(s: &HcpStandIn) -> Client {
    block_on(Client::login(
        endpoints(s),
        &Secret::new(&s.client_id),
        &Secret::new(&s.client_secret),
    ))
    .unwrap_or_else(|f| panic!("login: {f}"))
}

/// A client whose retries are quick (tests of failures).
fn quick(mut c: Client) -> Client {
    c.policy.attempts = 2;
    c.policy.base = Duration::from_millis(10);
    c
}

#[test]
fn hcp_token_exchange() {
    let s = HcpStandIn::start();
    let ep = endpoints(&s);
    let token = block_on(hcp::token(
        &ep,
        &Secret::new(&s.client_id),
        &Secret::new(&s.client_secret),
    ))
    .unwrap_or_else(|f| panic!("token: {f}"));
    assert_eq!(token.expose(), s.access_token);
    let reqs = s.requests_to("POST", "/oauth2/token");
    assert_eq!(reqs.len(), 1);
    let form = reqs[0].form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], s.client_id);
    assert_eq!(form["client_secret"], s.client_secret);
    assert_eq!(form["audience"], "https://api.hashicorp.cloud");
}

#[test]
fn hcp_token_refused() {
    let s = HcpStandIn::start();
    let ep = endpoints(&s);
    let (id, secret) = ("hcpid-WRONG-0123456789", "hcpsecret-WRONG-abcdefghijklmnop");
    let f: Failure = block_on(hcp::token(&ep, &Secret::new(id), &Secret::new(secret)))
        .expect_err("wrong credentials must be refused");
    assert_eq!(f.status, Some(401));
    assert_eq!(f.service, "HCP");
    let msg = f.to_string();
    assert!(msg.contains("refused"), "{msg}");
    assert!(msg.contains("access_denied"), "{msg}");
    for leak in [id, secret, &s.client_id, &s.client_secret] {
        assert!(!msg.contains(leak), "{msg}");
        assert!(!format!("{f:?}").contains(leak));
    }
    // Not transient: one attempt only.
    assert_eq!(s.requests_to("POST", "/oauth2/token").len(), 1);
}

#[test]
fn hcp_resolve_location() {
    let s = HcpStandIn::start();
    let c = client(&s);
    let (org, proj) = block_on(c.resolve_location(None, None)).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(org, s.org_id);
    assert_eq!(proj, s.project_id, "the oldest project, not the first listed");
    let bearer = format!("Bearer {}", s.access_token);
    let orgs = s.requests_to("GET", "/resource-manager/2019-12-10/organizations");
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].authorization.as_deref(), Some(bearer.as_str()));
    let projects = s.requests_to("GET", "/resource-manager/2019-12-10/projects");
    assert_eq!(projects.len(), 1);
    let q = projects[0].query.clone().unwrap_or_default();
    assert!(q.contains("scope.type=ORGANIZATION"), "{q}");
    assert!(q.contains(&format!("scope.id={}", s.org_id)), "{q}");

    // Given values are used as they are, without a request.
    let before = s.requests().len();
    let got = block_on(c.resolve_location(Some("o-given"), Some("p-given"))).unwrap();
    assert_eq!(got, ("o-given".to_string(), "p-given".to_string()));
    let (org, proj) = block_on(c.resolve_location(Some(&s.org_id), None)).unwrap();
    assert_eq!((org, proj), (s.org_id.clone(), s.project_id.clone()));
    let after = s.requests();
    assert_eq!(after.len(), before + 1, "only the projects list: {after:?}");
}

#[test]
fn hcp_project_principal_needs_project_id() {
    let s = HcpStandIn::start();
    s.forbid_projects();
    let c = quick(client(&s));
    let f = block_on(c.resolve_location(None, None)).expect_err("403 must fail");
    assert_eq!(f.status, Some(403));
    let msg = f.to_string();
    assert!(msg.contains("hcp-project-id"), "{msg}");
    assert!(msg.contains("HCP_PROJECT_ID"), "{msg}");
    assert!(msg.contains("permission denied"), "{msg}");
    assert!(!msg.contains(&s.access_token), "{msg}");
    // With the project given, nothing is listed.
    let got = block_on(c.resolve_location(None, Some("p-given"))).unwrap();
    assert_eq!(got, (s.org_id.clone(), "p-given".to_string()));
}

#[test]
fn hcp_version_polled_until_active() {
    let s = HcpStandIn::start();
    let id = s.add_version("ubuntu", "abc123def456-1-1", 3);
    let c = client(&s);
    let v = block_on(c.wait_version(
        &s.org_id,
        &s.project_id,
        "ubuntu",
        "abc123def456-1-1",
        Duration::from_secs(10),
        Duration::from_millis(10),
    ))
    .unwrap_or_else(|f| panic!("{f}"))
    .expect("the version exists");
    assert!(v.is_active(), "{v:?}");
    assert_eq!(v.status, "VERSION_ACTIVE");
    assert_eq!(v.id, id);
    assert_eq!(v.fingerprint, "abc123def456-1-1");
    assert_eq!(v.name, "v1");
    assert_eq!(v.revoke_at, None);
    assert_eq!(v.builds.len(), 1);
    assert_eq!(v.builds[0].component_type, COMPONENT);
    assert_eq!(v.builds[0].platform, "aws");
    assert_eq!(v.builds[0].labels["os"], "ubuntu");
    assert_eq!(v.builds[0].artifacts[0].external_identifier, AMI);
    assert_eq!(v.builds[0].artifacts[0].region, REGION);
    let path = format!(
        "/packer/2023-01-01/organizations/{}/projects/{}/buckets/ubuntu/versions/abc123def456-1-1",
        s.org_id, s.project_id
    );
    let gets = s.requests_to("GET", &path);
    assert_eq!(gets.len(), 4, "3 running answers then the active one");
    let bearer = format!("Bearer {}", s.access_token);
    assert!(gets.iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())));
}

#[test]
fn hcp_version_wait_times_out_running() {
    let s = HcpStandIn::start();
    let running = version_json("01HVRUN", "ubuntu", "still-running", "v1", "VERSION_RUNNING");
    s.add_version_answers("ubuntu", "still-running", vec![running]);
    let c = client(&s);
    let v = block_on(c.wait_version(
        &s.org_id,
        &s.project_id,
        "ubuntu",
        "still-running",
        Duration::from_millis(150),
        Duration::from_millis(20),
    ))
    .unwrap_or_else(|f| panic!("{f}"))
    .expect("the version exists");
    assert!(v.is_running(), "the last answer seen: {v:?}");
    assert!(v.builds[0].artifacts.is_empty());
}

#[test]
fn hcp_version_unknown_is_none() {
    let s = HcpStandIn::start();
    let c = client(&s);
    let v = block_on(c.get_version(&s.org_id, &s.project_id, "ubuntu", "nope-0-0")).unwrap();
    assert!(v.is_none());
    let v = block_on(c.wait_version(
        &s.org_id,
        &s.project_id,
        "ubuntu",
        "nope-0-0",
        Duration::from_secs(5),
        Duration::from_millis(10),
    ))
    .unwrap();
    assert!(v.is_none());
}

#[test]
fn hcp_channel_created_then_updated() {
    let s = HcpStandIn::start();
    s.add_version("ubuntu", "fp-1", 0);
    s.add_version("ubuntu", "fp-2", 0);
    let c = client(&s);
    let (org, proj) = (s.org_id.as_str(), s.project_id.as_str());

    // Without `create-channel`, a missing channel is left missing.
    let a =
        block_on(c.assign_channel(org, proj, "ubuntu", "production", "fp-1", false)).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(a, ChannelAction::Missing);
    assert_eq!(s.channel("ubuntu", "production"), None);
    assert!(
        s.requests_to("POST", "/buckets/ubuntu/channels").is_empty(),
        "nothing created"
    );
    let a =
        block_on(c.assign_channel(org, proj, "ubuntu", "production", "fp-1", true)).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(a, ChannelAction::Created);
    assert_eq!(s.channel("ubuntu", "production").as_deref(), Some("fp-1"));
    let patches = s.requests_to("PATCH", "/buckets/ubuntu/channels/production");
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[0].status, 404);
    assert_eq!(
        patches[0].json(),
        json!({"version_fingerprint": "fp-1", "update_mask": "versionFingerprint"})
    );
    let posts = s.requests_to("POST", "/buckets/ubuntu/channels");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].json(),
        json!({"name": "production", "version_fingerprint": "fp-1"})
    );

    let a =
        block_on(c.assign_channel(org, proj, "ubuntu", "production", "fp-2", false)).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(a, ChannelAction::Updated);
    assert_eq!(s.channel("ubuntu", "production").as_deref(), Some("fp-2"));
    assert_eq!(
        s.requests_to("POST", "/buckets/ubuntu/channels").len(),
        1,
        "no second create"
    );

    // An unknown version is an error with HCP's message.
    let c = quick(c);
    let f = block_on(c.assign_channel(org, proj, "ubuntu", "production", "fp-missing", false))
        .expect_err("unknown version");
    assert_eq!(f.status, Some(404));
    assert!(f.to_string().contains("version not found"), "{f}");
}

#[test]
fn hcp_wrong_bearer_never_echoed() {
    let s = HcpStandIn::start();
    let bad = "hcptoken-not-the-right-one-0123456789";
    let c = quick(Client::new(endpoints(&s), Secret::new(bad)).unwrap());
    assert!(!format!("{c:?}").contains(bad));
    let f = block_on(c.get_version(&s.org_id, &s.project_id, "ubuntu", "fp")).expect_err("401");
    assert_eq!(f.status, Some(401));
    let msg = f.to_string();
    assert!(msg.contains("unauthenticated"), "{msg}");
    assert!(!msg.contains(bad) && !format!("{f:?}").contains(bad), "{msg}");
}

#[test]
fn hcp_endpoints_from_env() {
    let ep = Endpoints::from_env(&Env::default()).unwrap();
    assert_eq!(ep.api, "https://api.cloud.hashicorp.com");
    assert_eq!(ep.auth, "https://auth.idp.hashicorp.com");
    assert_eq!(ep.portal, "https://portal.cloud.hashicorp.com");
    let env = Env::from([
        ("HCP_API_ADDRESS", "api.cloud.hashicorp.com"),
        ("HCP_AUTH_URL", "auth.idp.hashicorp.com:443/"),
        ("HCP_PORTAL_URL", "http://127.0.0.1:8080/"),
    ]);
    let ep = Endpoints::from_env(&env).unwrap();
    assert_eq!(ep.api, "https://api.cloud.hashicorp.com");
    assert_eq!(ep.auth, "https://auth.idp.hashicorp.com:443");
    assert_eq!(ep.portal, "http://127.0.0.1:8080");
    let err = Endpoints::from_env(&Env::from([("HCP_API_ADDRESS", "ftp://x")])).unwrap_err();
    assert!(err.to_string().contains("HCP_API_ADDRESS"), "{err}");
}

#[test]
fn hcp_links() {
    let s = HcpStandIn::start();
    let ep = endpoints(&s);
    assert_eq!(
        hcp::bucket_url(&ep.portal, "o-1", "p-2", "ubuntu"),
        "https://portal.example.test/orgs/o-1/projects/p-2/packer/buckets/ubuntu"
    );
    assert_eq!(
        hcp::version_url(&ep.portal, "o-1", "p-2", "ubuntu", "01HVABC"),
        "https://portal.example.test/orgs/o-1/projects/p-2/packer/buckets/ubuntu/versions/01HVABC"
    );
}

#[test]
fn hcp_default_fingerprint_github_and_gitlab() {
    let mut gh = Env::default();
    let tmp = crate::support::scratch_dir("hcp-gh");
    let vars = crate::support::github_env(&tmp, "http://127.0.0.1:1/token?x=1", "rt").vars;
    for (k, v) in &vars {
        gh.set(k, v);
    }
    let sha = vars
        .iter()
        .find(|(k, _)| k == "GITHUB_SHA")
        .map(|(_, v)| v.clone())
        .unwrap();
    let run = vars
        .iter()
        .find(|(k, _)| k == "GITHUB_RUN_ID")
        .map(|(_, v)| v.clone())
        .unwrap();
    let attempt = vars
        .iter()
        .find(|(k, _)| k == "GITHUB_RUN_ATTEMPT")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(
        hcp::default_fingerprint(packer_vault::env::Platform::detect(&gh), &gh),
        Some(format!("{}-{run}-{attempt}", &sha[..12]))
    );

    let gl = Env::from([
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("CI_PIPELINE_ID", "555001"),
        ("CI_JOB_ID", "777001"),
    ]);
    assert_eq!(
        hcp::default_fingerprint(packer_vault::env::Platform::detect(&gl), &gl).as_deref(),
        Some("0123456789ab-555001-777001")
    );

    assert_eq!(
        hcp::default_fingerprint(
            packer_vault::env::Platform::Local,
            &Env::from([("CI_COMMIT_SHA", "0123456789abcdef")])
        ),
        None
    );
}
