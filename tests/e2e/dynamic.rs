//! A dynamic secret end to end: OpenBao's real `rabbitmq` engine (its broker
//! stood in by [`RabbitStandIn`]) issues a user per read. The lease is
//! renewed while the command outlives its TTL, and revoking the token at
//! exit revokes the lease, which deletes the user.

use crate::exec::{accessor, revoked};
use crate::support::rabbitmq::RabbitStandIn;
use crate::support::{self, Fixture, assert_no_secret, bao, gitlab_env};
use serde_json::json;
use std::time::{Duration, Instant};

/// The engine's lease TTL; the command runs for longer than twice this.
const LEASE_TTL: Duration = Duration::from_secs(6);

#[track_caller]
fn ok(method: &str, path: &str, body: serde_json::Value) {
    let (status, answer) = bao().api(method, path, Some(body));
    assert!(status < 300, "{method} {path}: {status} {answer}");
}

/// Polls `cond` every 50 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

#[test]
fn a_dynamic_secret_is_renewed_while_used_and_revoked_with_the_token() {
    let f = Fixture::new("dynamic_rabbitmq");
    let broker = RabbitStandIn::start();
    let mount = format!("rmq-{}", f.id);
    ok("POST", &format!("sys/mounts/{mount}"), json!({ "type": "rabbitmq" }));
    ok(
        "POST",
        &format!("{mount}/config/connection"),
        json!({ "connection_uri": broker.uri(), "username": "admin", "password": "admin-password", "verify_connection": true }),
    );
    ok(
        "POST",
        &format!("{mount}/config/lease"),
        json!({ "ttl": LEASE_TTL.as_secs(), "max_ttl": 120 }),
    );
    ok(
        "POST",
        &format!("{mount}/roles/packer"),
        json!({ "vhosts": r#"{"/":{"configure":".*","write":".*","read":".*"}}"# }),
    );
    let policy = format!("dynamic-{}", f.id);
    bao().policy(
        &policy,
        &format!(
            "path \"{mount}/creds/packer\" {{ capabilities = [\"read\"] }}\n\
             path \"auth/token/renew-self\" {{ capabilities = [\"update\"] }}\n\
             path \"auth/token/revoke-self\" {{ capabilities = [\"update\"] }}\n\
             path \"sys/leases/renew\" {{ capabilities = [\"update\"] }}\n"
        ),
    );
    ok(
        "POST",
        &f.role_path("dynamic"),
        json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": [f.gitlab_aud],
            "token_policies": [policy],
            "token_no_default_policy": true,
            "token_ttl": 120,
        }),
    );

    let dir = support::scratch_dir("dynamic_rabbitmq");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("VAULT_AUTH_ROLE", "dynamic")
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{mount}/creds/packer username | RMQ_USER ; {mount}/creds/packer password | RMQ_PASSWORD"),
        )
        .current_dir(&dir)
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            &format!(
                "printf %s \"$RMQ_USER\" > user; sleep {}; echo \"done as $RMQ_USER with $RMQ_PASSWORD\"",
                LEASE_TTL.as_secs() * 2 - 1
            ),
        ]);
    let run = std::thread::spawn(move || support::run(cmd));

    // The user exists once read; past the lease's TTL it still does: the
    // lease was renewed (an expired one would have deleted it).
    assert!(
        wait_for(Duration::from_secs(30), || !broker.users().is_empty()),
        "no user was created"
    );
    let created = Instant::now();
    std::thread::sleep(LEASE_TTL + LEASE_TTL / 3);
    let alive = broker.users();
    let out = run.join().expect("the run thread");
    out.assert_success();
    let (user, password) = alive.into_iter().next().expect("the user outlived its lease TTL");
    assert!(created.elapsed() > LEASE_TTL);
    assert_eq!(std::fs::read_to_string(dir.join("user")).unwrap_or_default(), user);
    // Two keys, one request: one credential.
    assert_eq!(
        broker.requests_to("PUT", "/api/users/").len(),
        1,
        "{:?}",
        broker.requests()
    );
    assert!(out.stderr.contains("renewed the token and leases"), "{}", out.stderr);
    assert!(
        out.stderr.contains("revoked the Vault token and its leases"),
        "{}",
        out.stderr
    );
    assert!(revoked(&accessor(&out)));
    assert!(out.stdout.contains("done as *** with ***"), "{}", out.stdout);
    assert_no_secret(&out.combined(), &[&password, &user]);

    // Revoking the token revoked the lease: the engine deleted the user.
    assert!(
        wait_for(Duration::from_secs(10), || broker.users().is_empty()),
        "the user outlived the run: {:?}",
        broker.requests()
    );
    assert_eq!(
        broker.requests_to("DELETE", "/api/users/").len(),
        1,
        "{:?}",
        broker.requests()
    );
}
