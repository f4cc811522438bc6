//! In-process work on the path from process start to the first request and
//! from the reads to the command: command-line parsing, configuration
//! resolution (secrets spec included) and building the redactor.
//!
//! * `startup/cli_version`: `cli::parse` of `--version` (what it costs before
//!   anything is printed).
//! * `startup/resolve_30`: `cli::parse` + `config::resolve` +
//!   `ci::Runner::new` of an `exec` with a 30-path spec, a JWT file and the
//!   Vault address (as `exec` runs it).
//! * `startup/redactor_login`: the redactor `session::login` sets once it has
//!   a JWT and a Vault token (every form of both: a JWT has ~10 KiB of them).
//! * `startup/redactor_3` and `startup/redactor_30`: the redactor of an exec
//!   with 3 or 30 secrets, plus the JWT and the token.
//!
//! `cargo bench --bench startup`; `-- --test` runs each once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use packer_vault::ci::Runner;
use packer_vault::config::{self, Needs};
use packer_vault::env::Env;
use packer_vault::redact::Redactor;

/// A JWT of the size CI providers issue (~900 characters: RS256, a GitHub
/// Actions claim set). Only its size and alphabet matter here.
fn jwt() -> String {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut part = |len: usize| -> String {
        const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                char::from(B64URL[(rng % 64) as usize])
            })
            .collect()
    };
    format!("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.{}.{}", part(500), part(342))
}

fn values(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("v{i:02}-Zq8#pW3!xR7@kL2%mN5&tB9-{i}")).collect()
}

fn bench_startup(c: &mut Criterion) {
    let mut group = c.benchmark_group("startup");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    group.bench_function("cli_version", |b| {
        b.iter(|| black_box(packer_vault::cli::parse(["packer-vault", "--version"]).is_err()))
    });

    let dir = std::env::temp_dir().join(format!("packer-vault-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch dir");
    let jwt_file = dir.join("jwt");
    std::fs::write(&jwt_file, jwt()).expect("write the JWT file");
    let spec: String = (1..=30).map(|i| format!("bench/p{i:02} value | P{i:02} ;\n")).collect();
    let jwt_path = jwt_file.display().to_string();
    let env = Env::from([("VAULT_ADDR", "http://127.0.0.1:8200"), ("HOME", "/nonexistent")]);
    let args = [
        "packer-vault",
        "exec",
        "--role",
        "bench",
        "--jwt-file",
        &jwt_path,
        "--secrets",
        &spec,
        "--",
        "true",
    ];
    let inv = packer_vault::cli::parse(args).expect("the bench command line parses");
    let cfg = config::resolve(&inv.flags, &env, Needs::NONE).expect("the bench configuration resolves");
    Runner::new(&cfg, env.clone()).expect("the bench runner resolves");
    group.bench_function("resolve_30", |b| {
        b.iter(|| {
            let inv = packer_vault::cli::parse(black_box(args)).expect("parses");
            let cfg = config::resolve(&inv.flags, &env, Needs::NONE).expect("resolves");
            black_box(Runner::new(&cfg, env.clone()).is_ok())
        })
    });

    let jwt = jwt();
    let token = "hvs.CAESIJ0jVqO3tnEfnmFNxgjhqIiEsL8JZyj0pPRxAPRcKsHKGh4KHGh2cy5qbHdXS0l4VlpKR2pRZ2p3aGNUNmFmNnE";
    group.bench_function("redactor_login", |b| {
        b.iter(|| black_box(Redactor::new([jwt.as_str(), token]).patterns().len()))
    });
    for n in [3, 30] {
        let mut all = values(n);
        all.push(jwt.clone());
        all.push(token.to_string());
        group.bench_function(format!("redactor_{n}"), |b| {
            b.iter(|| black_box(Redactor::new(&all).patterns().len()))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_startup);
criterion_main!(benches);
