//! Malformed inputs: each exits 2 before any network call, with one or two
//! lines naming the input, and never panics.

use crate::support;
use std::io::Write;

/// (case name, input source as (variable, value) pairs, extra args, text the
/// message must contain).
struct Case {
    name: &'static str,
    env: Vec<(&'static str, std::ffi::OsString)>,
    args: Vec<String>,
    want: &'static str,
}

fn case(name: &'static str, env: &[(&'static str, &str)], want: &'static str) -> Case {
    Case {
        name,
        env: env.iter().map(|(k, v)| (*k, std::ffi::OsString::from(v))).collect(),
        args: vec![],
        want,
    }
}

fn with_args(mut c: Case, args: &[&str]) -> Case {
    c.args = args.iter().map(|s| s.to_string()).collect();
    c
}

fn cases(dir: &std::path::Path) -> Vec<Case> {
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::File::create(&p)
            .and_then(|mut f| f.write_all(bytes))
            .expect("write case file");
        p.display().to_string()
    };
    let bad_yaml = file("bad.yml", b"vault-addr: [unclosed\n");
    let unknown_key = file("unknown.yml", b"vault_adr: http://x\n");
    let bad_env_key = file("envs.yml", b"environments:\n  prod:\n    rolee: x\n");
    let binary = file("binary.yml", &[0xff, 0xfe, 0x00, 0x41]);
    let not_map = file("list.yml", b"- a\n- b\n");
    let long_form_bad = file("long.yml", b"secrets:\n  - path: kv/app\n    keyz: {a: A}\n");
    let long_no_keys = file("long2.yml", b"secrets:\n  - path: kv/app\n");
    let long_bad_version = file(
        "long3.yml",
        b"secrets:\n  - path: kv/app\n    version: -1\n    keys: {a: A}\n",
    );
    let config_in_config = file("cfg.yml", b"config: other.yml\n");
    let not_pem = file("ca.txt", b"hello\n");
    let empty_jwt = file("jwt.txt", b"\n");
    let huge = file("huge.yml", &vec![b'#'; 2 * 1024 * 1024]);
    let dir_path = dir.display().to_string();
    let jwt_env = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

    let local = [("VAULT_ADDR", "http://127.0.0.1:9"), ("VAULT_TOKEN", "t")];
    let mut v = vec![
        case(
            "address without scheme",
            &[("VAULT_ADDR", "vault:8200"), ("VAULT_TOKEN", "t")],
            "vault-addr",
        ),
        case(
            "address with ftp scheme",
            &[("VAULT_ADDR", "ftp://vault"), ("VAULT_TOKEN", "t")],
            "vault-addr",
        ),
        case(
            "address with credentials",
            &[("VAULT_ADDR", "https://u:p@vault"), ("VAULT_TOKEN", "t")],
            "vault-addr",
        ),
        case(
            "address with query",
            &[("VAULT_ADDR", "https://vault?x=1"), ("VAULT_TOKEN", "t")],
            "vault-addr",
        ),
        case(
            "address not a URL",
            &[("VAULT_ADDR", "http://"), ("VAULT_TOKEN", "t")],
            "vault-addr",
        ),
        case("address missing", &[("VAULT_TOKEN", "t")], "vault-addr"),
        case(
            "address on two lines",
            &[("PACKER_VAULT_VAULT_ADDR", "http://a\nhttp://b"), ("VAULT_TOKEN", "t")],
            "vault-addr",
        ),
        case(
            "jwt without role",
            &[
                ("VAULT_ADDR", "http://v"),
                ("GITLAB_CI", "true"),
                ("VAULT_ID_TOKEN", jwt_env),
            ],
            "role",
        ),
        case(
            "role with slash",
            &[
                ("VAULT_ADDR", "http://v"),
                ("GITLAB_CI", "true"),
                ("VAULT_ID_TOKEN", jwt_env),
                ("VAULT_AUTH_ROLE", "a/b"),
            ],
            "role",
        ),
        case(
            "auth path empty segment",
            &[
                ("VAULT_ADDR", "http://v"),
                ("GITLAB_CI", "true"),
                ("VAULT_ID_TOKEN", jwt_env),
                ("VAULT_AUTH_ROLE", "r"),
                ("VAULT_AUTH_PATH", "a//b"),
            ],
            "auth-path",
        ),
        case(
            "unknown auth method",
            &[("VAULT_ADDR", "http://v"), ("PACKER_VAULT_AUTH_METHOD", "ldap")],
            "auth-method",
        ),
        case(
            "token method without token",
            &[("VAULT_ADDR", "http://v"), ("PACKER_VAULT_AUTH_METHOD", "token")],
            "auth-method",
        ),
        case(
            "gitlab without id token",
            &[
                ("VAULT_ADDR", "http://v"),
                ("GITLAB_CI", "true"),
                ("VAULT_AUTH_ROLE", "r"),
            ],
            "id-token-variable",
        ),
        case(
            "gitlab id token not a JWT",
            &[
                ("VAULT_ADDR", "http://v"),
                ("GITLAB_CI", "true"),
                ("VAULT_AUTH_ROLE", "r"),
                ("VAULT_ID_TOKEN", "not-a-jwt"),
            ],
            "id-token-variable",
        ),
        case(
            "github without id-token permission",
            &[
                ("VAULT_ADDR", "http://v"),
                ("GITHUB_ACTIONS", "true"),
                ("INPUT_ROLE", "r"),
            ],
            "id-token: write",
        ),
        case(
            "local jwt without file",
            &[("VAULT_ADDR", "http://v"), ("PACKER_VAULT_ROLE", "r")],
            "jwt-file",
        ),
        case(
            "jwt file missing",
            &[
                ("VAULT_ADDR", "http://v"),
                ("PACKER_VAULT_ROLE", "r"),
                ("PACKER_VAULT_JWT_FILE", "/nonexistent/jwt"),
            ],
            "jwt-file",
        ),
        case(
            "jwt file empty",
            &[
                ("VAULT_ADDR", "http://v"),
                ("PACKER_VAULT_ROLE", "r"),
                ("PACKER_VAULT_JWT_FILE", &empty_jwt),
            ],
            "jwt-file",
        ),
        case(
            "jwt file is a directory",
            &[
                ("VAULT_ADDR", "http://v"),
                ("PACKER_VAULT_ROLE", "r"),
                ("PACKER_VAULT_JWT_FILE", &dir_path),
            ],
            "jwt-file",
        ),
        case(
            "spec line without key",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/app")],
            "secrets",
        ),
        case(
            "spec bad env name",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/app k | 1BAD")],
            "secrets",
        ),
        case(
            "spec env name with dash",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/app k | BAD-NAME")],
            "secrets",
        ),
        case(
            "spec unknown preset",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "oci/creds/x | oci")],
            "secrets",
        ),
        case(
            "spec duplicate names",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/a k | X\nkv/b j | X")],
            "secrets",
        ),
        case(
            "spec preset clashes with name",
            &[
                local[0],
                local[1],
                (
                    "PACKER_VAULT_SECRETS",
                    "aws/creds/r | aws; kv/a k | AWS_SECRET_ACCESS_KEY",
                ),
            ],
            "secrets",
        ),
        case(
            "spec version pin zero",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/app@0 k")],
            "secrets",
        ),
        case(
            "spec version pin text",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/app@latest k")],
            "secrets",
        ),
        case(
            "spec dot-dot path",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/../sys/x k")],
            "secrets",
        ),
        case(
            "spec star with name",
            &[local[0], local[1], ("PACKER_VAULT_SECRETS", "kv/app * | ALL")],
            "secrets",
        ),
        case(
            "renew not a bool",
            &[local[0], local[1], ("PACKER_VAULT_RENEW", "sometimes")],
            "renew",
        ),
        case(
            "export-env not a bool",
            &[local[0], local[1], ("INPUT_EXPORT-ENV", "yes please")],
            "export-env",
        ),
        case(
            "comment mode",
            &[local[0], local[1], ("PACKER_VAULT_COMMENT", "loud")],
            "comment",
        ),
        case(
            "packer version range",
            &[local[0], local[1], ("PACKER_VAULT_PACKER_VERSION", "~> 1.11")],
            "packer-version",
        ),
        case(
            "packer vars without =",
            &[local[0], local[1], ("PACKER_VAULT_PACKER_VARS", "region")],
            "packer-vars",
        ),
        case(
            "packer vars duplicate",
            &[local[0], local[1], ("PACKER_VAULT_PACKER_VARS", "a=1\na=2")],
            "packer-vars",
        ),
        case(
            "packer args unbalanced quote",
            &[local[0], local[1], ("PACKER_VAULT_PACKER_ARGS", "-var 'x=1")],
            "packer-args",
        ),
        case(
            "channel without bucket",
            &[local[0], local[1], ("PACKER_VAULT_HCP_CHANNEL", "prod")],
            "hcp-channel",
        ),
        case(
            "bucket with spaces",
            &[local[0], local[1], ("HCP_PACKER_BUCKET_NAME", "my bucket")],
            "hcp-bucket",
        ),
        case(
            "ca cert missing",
            &[local[0], local[1], ("VAULT_CACERT", "/nonexistent/ca.pem")],
            "ca-cert",
        ),
        case(
            "ca cert not PEM",
            &[local[0], local[1], ("VAULT_CACERT", &not_pem)],
            "ca-cert",
        ),
        case(
            "client cert without key",
            &[local[0], local[1], ("VAULT_CLIENT_CERT", &not_pem)],
            "client-cert",
        ),
        case(
            "working directory missing",
            &[
                local[0],
                local[1],
                ("PACKER_VAULT_WORKING_DIRECTORY", "/nonexistent/dir"),
            ],
            "working-directory",
        ),
        case(
            "lock file missing",
            &[local[0], local[1], ("PACKER_VAULT_LOCK_FILE", "/nonexistent/lock")],
            "lock-file",
        ),
        case(
            "config missing",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", "/nonexistent/c.yml")],
            "config",
        ),
        case(
            "config bad YAML",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &bad_yaml)],
            "config",
        ),
        case(
            "config unknown key",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &unknown_key)],
            "config",
        ),
        case(
            "config unknown key in environment",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &bad_env_key)],
            "config",
        ),
        case(
            "config not UTF-8",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &binary)],
            "config",
        ),
        case(
            "config not a map",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &not_map)],
            "config",
        ),
        case(
            "config huge",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &huge)],
            "config",
        ),
        case(
            "config sets config",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &config_in_config)],
            "config",
        ),
        case(
            "long form unknown field",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &long_form_bad)],
            "secrets",
        ),
        case(
            "long form without keys",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &long_no_keys)],
            "secrets",
        ),
        case(
            "long form negative version",
            &[local[0], local[1], ("PACKER_VAULT_CONFIG", &long_bad_version)],
            "secrets",
        ),
        case(
            "namespace with spaces",
            &[local[0], local[1], ("VAULT_NAMESPACE", "team a")],
            "vault-namespace",
        ),
    ];
    let mut non_utf8 = case("spec not UTF-8", &local, "secrets");
    non_utf8.env.push((
        "PACKER_VAULT_SECRETS",
        std::os::unix::ffi::OsStringExt::from_vec(b"kv/a k | \xff\xfe".to_vec()),
    ));
    v.push(non_utf8);
    v.push(with_args(case("unknown flag", &local, "--bogus"), &["--bogus", "x"]));
    v.push(with_args(
        case("unknown format", &local, "format"),
        &["secrets", "--format", "yaml"],
    ));
    v.push(with_args(case("exec without a command", &local, "CMD"), &["exec"]));
    // Local checks come before the login: a template that is not there.
    v.push(with_args(
        case("missing template", &local, "template"),
        &["build", "no-such-template.pkr.hcl"],
    ));
    v.push(with_args(
        case("missing template directory", &local, "template"),
        &["validate", "--template", "/nonexistent/images"],
    ));
    // promote, revoke, restore: exactly one source, a channel, a reason, a time.
    let bucket = [local[0], local[1], ("PACKER_VAULT_HCP_BUCKET", "golden")];
    v.push(with_args(
        case("promote with two sources", &bucket, "exactly one of"),
        &[
            "promote",
            "--channel",
            "prod",
            "--from-channel",
            "test",
            "--version-id",
            "01HV",
        ],
    ));
    v.push(with_args(
        case("promote with no source", &bucket, "from-channel"),
        &["promote", "--channel", "prod"],
    ));
    v.push(with_args(
        case("promote with no channel", &bucket, "channel"),
        &["promote", "--from-channel", "test"],
    ));
    v.push(with_args(
        case("promote with no bucket", &local, "hcp-bucket"),
        &["promote", "--from-channel", "test", "--channel", "prod"],
    ));
    v.push(with_args(
        case("revoke with no reason", &bucket, "reason"),
        &["revoke", "--version-fingerprint", "fp"],
    ));
    v.push(with_args(
        case("revoke at a bad time", &bucket, "revoke-at"),
        &[
            "revoke",
            "--version-fingerprint",
            "fp",
            "--reason",
            "cve",
            "--revoke-at",
            "next tuesday",
        ],
    ));
    v.push(with_args(
        case("a bad required label", &bucket, "require-label"),
        &[
            "promote",
            "--from-channel",
            "test",
            "--channel",
            "prod",
            "--require-label",
            "no-equals-sign",
        ],
    ));
    // Inputs too long to echo whole.
    let long_line = format!("kv/a {} | A | B", "x".repeat(120 * 1024));
    v.push(Case {
        name: "a 120 KiB one-line spec",
        env: vec![
            (local[0].0, local[0].1.into()),
            (local[1].0, local[1].1.into()),
            ("PACKER_VAULT_SECRETS", long_line.into()),
        ],
        args: vec![],
        want: "secrets",
    });
    let long_addr = format!("http://{} x", "a".repeat(100 * 1024));
    v.push(Case {
        name: "a 100 KiB vault-addr",
        env: vec![("VAULT_ADDR", long_addr.into()), (local[1].0, local[1].1.into())],
        args: vec![],
        want: "vault-addr",
    });
    v.push(with_args(
        case("bool flag with bad value", &local, "tls-skip-verify"),
        &["--tls-skip-verify=perhaps", "secrets"],
    ));
    v
}

#[test]
fn bad_inputs_exit_2_naming_the_input() {
    let dir = support::scratch_dir("bad_input");
    let cases = cases(&dir);
    assert!(cases.len() >= 40, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let mut cmd = support::bin();
        cmd.envs(c.env.iter().map(|(k, v)| (k, v)));
        if c.args.is_empty() {
            cmd.args(["exec", "--", "true"]);
        } else {
            cmd.args(&c.args);
        }
        let out = support::run(cmd);
        let stderr = out.stderr.trim();
        let problems = [
            (out.code() != Some(2), format!("exit {:?}", out.code())),
            (!stderr.contains(c.want), format!("message does not name `{}`", c.want)),
            (
                stderr.contains("panicked") || stderr.contains("internal error") || stderr.contains("RUST_BACKTRACE"),
                "panic".into(),
            ),
            (
                c.args.is_empty() && stderr.lines().count() > 2,
                format!("{} lines", stderr.lines().count()),
            ),
            (out.elapsed.as_secs() > 5, "slow: did it try the network?".into()),
            (
                stderr.lines().count() > 5 || stderr.len() > 1024,
                format!(
                    "{} lines, {} bytes: error text must be bounded",
                    stderr.lines().count(),
                    stderr.len()
                ),
            ),
        ];
        for (bad, what) in problems {
            if bad {
                failures.push(format!("{}: {what}\n    {}", c.name, stderr.replace('\n', "\n    ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A missing template is found before anything is sent: not even the login
/// reaches Vault (a counting proxy stands in front of it).
#[test]
fn a_missing_template_exits_2_before_any_request() {
    let f = crate::support::Fixture::new("bad_template");
    let proxy = crate::support::proxy::Proxy::start(&crate::support::bao().addr);
    let dir = support::scratch_dir("bad_template");
    let mut cmd = support::bin();
    cmd.envs(crate::support::gitlab_env(&f, &dir))
        .env("PACKER_VAULT_VAULT_ADDR", proxy.addr())
        .env("VAULT_AUTH_ROLE", &f.gitlab_role)
        .env("VAULT_AUTH_PATH", &f.jwt_mount)
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{}/ci/hcp client_id | HCP_CLIENT_ID", f.kv2_mount),
        )
        .env("PACKER_VAULT_WORKING_DIRECTORY", &dir)
        .current_dir(&dir)
        .args(["build", "images/missing"]);
    let out = support::run(cmd);
    out.assert_code(2);
    assert!(out.stderr.contains("input `template`"), "{}", out.stderr);
    assert!(out.stderr.trim().lines().count() <= 2, "{}", out.stderr);
    assert_eq!(proxy.count(), 0, "no request reached Vault: {:?}", proxy.requests());
}
