//! `promote`, `revoke` and `restore` end to end: a GitHub job (step inputs,
//! summary, outputs, the sticky PR comment), real OpenBao holding the HCP
//! credentials in KV, and the HCP stand-in with versions that are active,
//! revoked or scheduled for revocation, and channels that exist or not.

use crate::exec::{accessor, revoked, shown};
use crate::support::github_api::GithubApi;
use crate::support::hcp::HcpStandIn;
use crate::support::{self, Fixture, GithubEnv, GithubOidc, Outcome, bao};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const GITHUB_TOKEN: &str = "ghs_lifecycle42e7710c838347Ae178B4a0123";
const PORTAL: &str = "https://portal.example.test";

/// The stand-ins and the bucket `golden`: v1 on `production`, v2 on `test`.
struct World {
    f: Fixture,
    oidc: GithubOidc,
    api: GithubApi,
    hcp: HcpStandIn,
    v1: String,
    v2: String,
}

fn world(name: &str) -> World {
    let f = Fixture::new(name);
    let hcp = HcpStandIn::start_with(&f.hcp_latest().client_id, &f.hcp_latest().client_secret);
    let v1 = hcp.add_version("golden", "fp-one", 0);
    let v2 = hcp.add_version("golden", "fp-two", 0);
    hcp.add_channel("golden", "production", "fp-one");
    hcp.add_channel("golden", "test", "fp-two");
    World {
        oidc: GithubOidc::start(&format!("request-token-{name}")),
        api: GithubApi::start(GITHUB_TOKEN),
        f,
        hcp,
        v1,
        v2,
    }
}

impl World {
    /// `packer-vault <command>` as the action's step runs it, `with:` these
    /// inputs, the HCP credentials read from Vault.
    fn run(&self, command: &str, with: &[(&str, &str)]) -> (Outcome, GithubEnv) {
        self.run_in(&support::scratch_dir("lifecycle"), &[command], with)
    }

    /// [`World::run`] of `args` with the job's files under `dir` (and `OUT`
    /// set to it, for the templates that record their environment).
    fn run_in(&self, dir: &std::path::Path, args: &[&str], with: &[(&str, &str)]) -> (Outcome, GithubEnv) {
        let mut gh = self.oidc.env(dir);
        gh.set("GITHUB_API_URL", &self.api.uri());
        let mut cmd = support::bin();
        cmd.envs(gh.vars.iter().map(|(k, v)| (k, v)))
            .env("INPUT_VAULT-ADDR", &bao().addr)
            .env("INPUT_ROLE", &self.f.github_role)
            .env("INPUT_AUTH-PATH", self.f.auth_path())
            .env("INPUT_JWT-AUDIENCE", &self.f.github_aud)
            .env(
                "INPUT_SECRETS",
                format!(
                    "{m}/data/ci/hcp client_id | HCP_CLIENT_ID ; {m}/data/ci/hcp client_secret | HCP_CLIENT_SECRET",
                    m = self.f.kv2_mount
                ),
            )
            .env("INPUT_HCP-BUCKET", "golden")
            .env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
            .env("HCP_AUTH_URL", self.hcp.uri())
            .env("HCP_API_ADDRESS", self.hcp.uri())
            .env("HCP_PORTAL_URL", PORTAL)
            .env("OUT", dir)
            .current_dir(&gh.workspace)
            .args(args);
        for (k, v) in with {
            cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
        }
        (support::run(cmd), gh)
    }

    fn link(&self, id: &str) -> String {
        format!(
            "{PORTAL}/orgs/{}/projects/{}/packer/buckets/golden/versions/{id}",
            self.hcp.org_id, self.hcp.project_id
        )
    }

    /// No credential or secret in the output, the files or the comments.
    fn clean(&self, out: &Outcome, gh: &GithubEnv) {
        for text in [shown(out), gh.read_all_files(), self.api.sent_bodies().join("\n")] {
            self.f.assert_no_secret(&text);
            assert!(!text.contains(GITHUB_TOKEN));
        }
        assert!(revoked(&accessor(out)), "the Vault token is revoked");
    }
}

/// The step outputs `GITHUB_OUTPUT` holds, by name.
pub(crate) fn outputs(gh: &GithubEnv) -> BTreeMap<String, String> {
    let text = gh.read_output();
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            out.insert(name.to_string(), value.join("\n"));
        }
    }
    out
}

#[test]
fn promote_moves_production_to_the_version_on_test_and_reports_old_and_new() {
    let w = world("promote");
    let (out, gh) = w.run("promote", &[("from-channel", "test"), ("channel", "production")]);
    out.assert_success();
    assert_eq!(w.hcp.channel("golden", "production").as_deref(), Some("fp-two"));
    let o = outputs(&gh);
    assert_eq!(o["version-id"], w.v2);
    assert_eq!(o["version-fingerprint"], "fp-two");
    assert_eq!(o["version-url"], w.link(&w.v2));
    assert_eq!(o["channel"], "production");
    assert_eq!(o["previous-version-fingerprint"], "fp-one");
    let summary = gh.read_summary();
    for part in [
        "production",
        "`fp-one`",
        "fp-two",
        &w.link(&w.v2),
        "- label `os` = `ubuntu`",
    ] {
        assert!(summary.contains(part), "the summary shows {part}:\n{summary}");
    }
    // Its own sticky comment: never the build's.
    let comments = w.api.comments_on(42);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let marker = packer_vault::report::marker("promote:production", Some("golden"));
    assert!(comments[0].body.starts_with(&marker), "{}", comments[0].body);
    assert_ne!(marker, packer_vault::report::marker(".", Some("golden")));
    assert!(comments[0].body.contains(&w.link(&w.v2)));
    // Who it was in Vault: the summary names the role and the policies.
    assert!(
        summary.contains(&format!("Vault role `{}`", w.f.github_role)) && summary.contains(&w.f.policy),
        "{summary}"
    );
    assert!(
        out.stderr
            .contains("channel `production` of bucket `golden` moved from `fp-one` to"),
        "done, not \"would\": {}",
        out.stderr
    );
    w.clean(&out, &gh);
    let _ = &w.v1;
}

/// Lifecycle wording: a dry run to the version the channel is on already
/// says there is nothing to do; a refused promote sets no `channel` output.
#[test]
fn a_promote_to_the_current_version_or_a_refused_one_says_so_and_sets_no_channel() {
    let w = world("promote_words");
    let (out, gh) = w.run(
        "promote",
        &[
            ("from-channel", "production"),
            ("channel", "production"),
            ("dry-run", "true"),
        ],
    );
    out.assert_success();
    assert!(out.stderr.contains("is on version"), "{}", out.stderr);
    assert!(out.stderr.contains("already: nothing to do"), "{}", out.stderr);
    assert!(!out.stderr.contains("would move"), "{}", out.stderr);
    let _ = gh;
    // A channel that does not exist, without create-channel: refused.
    let (out, gh) = w.run("promote", &[("from-channel", "test"), ("channel", "staging")]);
    out.assert_code(1);
    let o = outputs(&gh);
    assert_eq!(
        o.get("channel").map(String::as_str),
        Some(""),
        "no channel output: {o:?}"
    );
    assert_eq!(w.hcp.channel("golden", "staging"), None);
    // Revoke and restore say what they did, not what they would do.
    let (out, _) = w.run(
        "revoke",
        &[("from-channel", "test"), ("reason", "cve-2026-1"), ("force", "true")],
    );
    out.assert_success();
    assert!(
        out.stderr.contains("of bucket `golden` revoked now: cve-2026-1"),
        "{}",
        out.stderr
    );
    let (out, _) = w.run("restore", &[("version-fingerprint", "fp-two")]);
    out.assert_success();
    assert!(out.stderr.contains("of bucket `golden` restored"), "{}", out.stderr);
    assert!(!out.stderr.contains("be restored"), "{}", out.stderr);
}

#[test]
fn a_revoked_or_scheduled_or_unlabelled_source_is_refused_and_nothing_moves() {
    let w = world("promote_refused");
    w.hcp.edit_version("golden", "fp-two", |v| {
        v["status"] = json!("VERSION_REVOKED");
        v["revoke_at"] = json!("2025-01-01T00:00:00Z");
    });
    let (out, gh) = w.run("promote", &[("from-channel", "test"), ("channel", "production")]);
    out.assert_code(1);
    assert!(out.stderr.contains("is revoked"), "{}", out.stderr);
    w.clean(&out, &gh);

    w.hcp.edit_version("golden", "fp-two", |v| {
        v["status"] = json!("VERSION_ACTIVE");
        v["revoke_at"] = json!("2099-01-01T00:00:00Z");
    });
    let (out, _) = w.run(
        "promote",
        &[("version-fingerprint", "fp-two"), ("channel", "production")],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("scheduled for revocation at 2099-01-01"),
        "{}",
        out.stderr
    );

    w.hcp.edit_version("golden", "fp-two", |v| v["revoke_at"] = json!(null));
    let (out, _) = w.run(
        "promote",
        &[
            ("version-id", w.v2.as_str()),
            ("channel", "production"),
            ("require-label", "os=debian"),
        ],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("label `os` = `ubuntu`, not the required `debian`"),
        "{}",
        out.stderr
    );

    // A channel that does not exist is created only when asked to.
    let (out, _) = w.run("promote", &[("version-fingerprint", "fp-two"), ("channel", "staging")]);
    out.assert_code(1);
    assert!(out.stderr.contains("create-channel"), "{}", out.stderr);
    // And a dry run changes nothing.
    let (out, gh) = w.run(
        "promote",
        &[
            ("version-fingerprint", "fp-two"),
            ("channel", "production"),
            ("dry-run", "true"),
        ],
    );
    out.assert_success();
    assert!(gh.read_summary().contains("would move"), "{}", gh.read_summary());
    assert_eq!(
        w.hcp.channel("golden", "production").as_deref(),
        Some("fp-one"),
        "nothing moved"
    );
    assert!(w.hcp.requests_to("PATCH", "/channels/production").is_empty());
    assert!(w.hcp.requests_to("POST", "/channels").is_empty());
    let (out, _) = w.run(
        "promote",
        &[
            ("version-fingerprint", "fp-two"),
            ("channel", "staging"),
            ("create-channel", "true"),
        ],
    );
    out.assert_success();
    assert_eq!(w.hcp.channel("golden", "staging").as_deref(), Some("fp-two"));
}

#[test]
fn revoke_needs_force_while_a_channel_points_at_it_and_restore_clears_it() {
    let w = world("revoke");
    let (out, _) = w.run(
        "revoke",
        &[("from-channel", "production"), ("reason", "CVE-2026-0001 in openssl")],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("assigned to channel `production`") && out.stderr.contains("force"),
        "{}",
        out.stderr
    );
    assert!(
        w.hcp.requests_to("PATCH", "/versions/fp-one").is_empty(),
        "nothing was revoked"
    );

    let (out, gh) = w.run(
        "revoke",
        &[
            ("version-fingerprint", "fp-one"),
            ("reason", "CVE-2026-0001 in openssl"),
            ("force", "true"),
            ("skip-descendants", "true"),
        ],
    );
    out.assert_success();
    let v = w.hcp.version("golden", "fp-one");
    assert_eq!(v["status"], "VERSION_REVOKED");
    assert_eq!(v["revocation_message"], "CVE-2026-0001 in openssl");
    let sent = &w.hcp.requests_to("PATCH", "/versions/fp-one")[0];
    assert_eq!(sent.json()["revoke_in"], "0s");
    assert_eq!(sent.json()["skip_descendants_revocation"], true);
    assert!(gh.read_summary().contains("revoked now"), "{}", gh.read_summary());
    w.clean(&out, &gh);

    // A scheduled revocation sends its time.
    let (out, _) = w.run(
        "revoke",
        &[
            ("version-id", w.v2.as_str()),
            ("reason", "end of life"),
            ("revoke-at", "2099-06-01T00:00:00Z"),
            ("force", "true"),
        ],
    );
    out.assert_success();
    assert_eq!(w.hcp.version("golden", "fp-two")["revoke_at"], "2099-06-01T00:00:00Z");

    let (out, _) = w.run("restore", &[("version-fingerprint", "fp-one")]);
    out.assert_success();
    let v = w.hcp.version("golden", "fp-one");
    assert_eq!(v["status"], "VERSION_ACTIVE");
    assert!(v["revoke_at"].is_null(), "{v}");
    assert_eq!(
        w.hcp
            .requests_to("PATCH", "/versions/fp-one")
            .last()
            .map(|r| r.json()["restore"].clone()),
        Some(json!(true))
    );
}

#[test]
fn revoke_refuses_while_a_channel_points_at_a_descendant_in_another_bucket() {
    let w = world("revoke_descendants");
    // An application image built on a golden version no channel points at,
    // and production runs the application's next version.
    w.hcp.add_version("golden", "fp-three", 0);
    w.hcp.add_version("app", "app-fp-1", 0);
    w.hcp.add_version("app", "app-fp-2", 0);
    w.hcp.add_child("golden", "fp-three", "app", "app-fp-1");
    w.hcp.add_child("app", "app-fp-1", "app", "app-fp-2");
    w.hcp.add_channel("app", "production", "app-fp-2");
    let (out, _) = w.run(
        "revoke",
        &[("version-fingerprint", "fp-three"), ("reason", "CVE-2026-0002")],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("`app` v2 (channel `production`)") && out.stderr.contains("skip-descendants"),
        "the descendant and its channel are named:\n{}",
        out.stderr
    );
    assert!(
        w.hcp.requests_to("PATCH", "/versions/").is_empty(),
        "nothing was revoked"
    );
    assert_eq!(w.hcp.version("app", "app-fp-2")["status"], "VERSION_ACTIVE");

    // A version nothing was built from is revoked while another version of
    // the bucket has a child on a channel: HCP lists the children of every
    // version, and only fp-three's count.
    w.hcp.add_version("golden", "fp-four", 0);
    let (out, _) = w.run("revoke", &[("version-fingerprint", "fp-four"), ("reason", "unused")]);
    out.assert_success();
    assert_eq!(w.hcp.version("golden", "fp-four")["status"], "VERSION_REVOKED");
    let asked = w.hcp.requests_to("GET", "/buckets/golden/ancestry");
    assert!(
        !asked.is_empty()
            && asked
                .iter()
                .all(|r| !r.query.as_deref().unwrap_or("").contains("version_fingerprint")),
        "children are never asked by version_fingerprint (it selects parents)"
    );

    // Keeping the descendants out of it is fine.
    let (out, _) = w.run(
        "revoke",
        &[
            ("version-fingerprint", "fp-three"),
            ("reason", "CVE-2026-0002"),
            ("skip-descendants", "true"),
        ],
    );
    out.assert_success();
    assert_eq!(w.hcp.version("golden", "fp-three")["status"], "VERSION_REVOKED");
    assert_eq!(w.hcp.version("app", "app-fp-2")["status"], "VERSION_ACTIVE");
    w.hcp.edit_version("golden", "fp-three", |v| {
        v["status"] = json!("VERSION_ACTIVE");
    });

    // force: the operator knows; the descendants go too.
    let (out, _) = w.run(
        "revoke",
        &[
            ("version-fingerprint", "fp-three"),
            ("reason", "CVE-2026-0002"),
            ("force", "true"),
        ],
    );
    out.assert_success();
    assert_eq!(w.hcp.version("app", "app-fp-2")["status"], "VERSION_REVOKED");
}

#[test]
fn a_build_s_secrets_digest_label_gates_its_promotion() {
    let w = world("promote_digest");
    // The digest the build put into Packer's environment, which the template
    // records with `build_labels = { "secrets-digest" = env("PACKER_VAULT_SECRETS_DIGEST") }`.
    // Packer 1.6.6 has no HCP Packer registry, so the stand-in's version
    // carries the label as HCP would.
    let dir = support::scratch_dir("promote_digest");
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates/env");
    let dir_s = dir.display().to_string();
    let (build, gh) = w.run_in(
        &dir,
        &["build", &template.display().to_string()],
        &[("comment", "never"), ("working-directory", &dir_s)],
    );
    build.assert_success();
    let digest = outputs(&gh)["secrets-digest"].clone();
    let env = std::fs::read(dir.join("env")).expect("the build's environment");
    assert!(
        String::from_utf8_lossy(&env).contains(&format!("PACKER_VAULT_SECRETS_DIGEST={digest}")),
        "Packer got the digest the step outputs"
    );
    w.hcp.edit_version("golden", "fp-two", |v| {
        v["builds"][0]["labels"]["secrets-digest"] = json!(digest);
    });
    let label = format!("secrets-digest={digest}");
    let (out, _) = w.run(
        "promote",
        &[
            ("from-channel", "test"),
            ("channel", "production"),
            ("require-label", &label),
        ],
    );
    out.assert_success();
    assert_eq!(w.hcp.channel("golden", "production").as_deref(), Some("fp-two"));

    w.hcp.add_channel("golden", "production", "fp-one");
    let other = "secrets-digest=sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let (out, _) = w.run(
        "promote",
        &[
            ("from-channel", "test"),
            ("channel", "production"),
            ("require-label", other),
        ],
    );
    out.assert_code(1);
    assert_eq!(
        w.hcp.channel("golden", "production").as_deref(),
        Some("fp-one"),
        "refused: nothing moved"
    );
}

#[test]
fn hcp_s_403_and_404_answers_end_in_a_clear_exit_1() {
    let w = world("lifecycle_errors");
    // A project the service principal may not touch: 403.
    let (out, _) = w.run(
        "promote",
        &[
            ("from-channel", "test"),
            ("channel", "production"),
            ("hcp-organization-id", w.hcp.org_id.as_str()),
            ("hcp-project-id", "proj-of-someone-else"),
        ],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("HCP answered 403") && out.stderr.contains("permission denied"),
        "{}",
        out.stderr
    );
    // A version or a channel that is not there: 404, said plainly.
    let (out, _) = w.run("revoke", &[("version-fingerprint", "fp-missing"), ("reason", "gone")]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("no version with fingerprint `fp-missing`"),
        "{}",
        out.stderr
    );
    let (out, _) = w.run("restore", &[("from-channel", "no-such-channel")]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("has no channel `no-such-channel`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        w.hcp.channel("golden", "production").as_deref(),
        Some("fp-one"),
        "nothing moved"
    );
}

/// A forced revoke of a version a channel points at: HCP rolls the channel
/// back to the last valid version it held, and the run says from what to
/// what (summary, outputs); `rollback-channels: false` keeps it where it is;
/// a dry run says it would roll back. A restore puts it back on no channel
/// and says so; one whose revocation came from an ancestor names it.
#[test]
fn a_forced_revoke_reports_the_channels_hcp_rolled_back() {
    let w = world("revoke_rollback");
    // `production` held fp-one, then fp-two.
    w.hcp.add_channel("golden", "production", "fp-two");
    let (out, _) = w.run(
        "revoke",
        &[
            ("version-fingerprint", "fp-two"),
            ("reason", "cve"),
            ("force", "true"),
            ("dry-run", "true"),
        ],
    );
    out.assert_success();
    assert!(
        out.stderr.contains("would roll back to its last valid version"),
        "{}",
        out.stderr
    );
    assert_eq!(
        w.hcp.channel("golden", "production").as_deref(),
        Some("fp-two"),
        "a dry run moves nothing"
    );

    let (out, gh) = w.run(
        "revoke",
        &[("version-fingerprint", "fp-two"), ("reason", "cve"), ("force", "true")],
    );
    out.assert_success();
    assert_eq!(
        w.hcp.channel("golden", "production").as_deref(),
        Some("fp-one"),
        "HCP rolled it back"
    );
    let moved: Value = serde_json::from_str(&outputs(&gh)["channels-moved"]).expect("JSON");
    assert!(
        moved
            .as_array()
            .is_some_and(|m| m.contains(&json!({"channel": "production", "from": "fp-two", "to": "fp-one"}))),
        "{moved}"
    );
    let summary = gh.read_summary();
    assert!(
        summary.contains("rolled back from") && summary.contains("fp-one"),
        "{summary}"
    );
    let sent = w.hcp.requests_to("PATCH", "/versions/fp-two");
    assert_eq!(
        sent.last().map(|r| r.json()["disable_rollback_channels"].clone()),
        Some(json!(false))
    );

    // Restored: HCP puts it back on no channel, and the run says so.
    let (out, _) = w.run("restore", &[("version-fingerprint", "fp-two")]);
    out.assert_success();
    assert!(out.stderr.contains("puts it back on no channel"), "{}", out.stderr);

    // rollback-channels: false leaves the channel on the revoked version.
    w.hcp.add_channel("golden", "production", "fp-two");
    let (out, gh) = w.run(
        "revoke",
        &[
            ("version-fingerprint", "fp-two"),
            ("reason", "cve"),
            ("force", "true"),
            ("rollback-channels", "false"),
        ],
    );
    out.assert_success();
    assert_eq!(w.hcp.channel("golden", "production").as_deref(), Some("fp-two"));
    assert_eq!(outputs(&gh)["channels-moved"], "[]");
    assert!(
        out.stderr.contains("left on it (rollback-channels: false)"),
        "{}",
        out.stderr
    );

    // A version revoked with its ancestor: restore names the ancestor.
    w.hcp.add_version("app", "app-fp", 0);
    w.hcp.add_child("golden", "fp-one", "app", "app-fp");
    let (out, _) = w.run(
        "revoke",
        &[("version-fingerprint", "fp-one"), ("reason", "cve"), ("force", "true")],
    );
    out.assert_success();
    let mut cmd_with = vec![("version-fingerprint", "app-fp")];
    cmd_with.push(("hcp-bucket", "app"));
    let (out, _) = w.run("restore", &cmd_with);
    out.assert_code(1);
    assert!(
        out.stderr.contains("was revoked with its ancestor")
            && out.stderr.contains("fp-one")
            && out.stderr.contains("`golden`"),
        "{}",
        out.stderr
    );
}
