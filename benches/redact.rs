//! The redactor over Packer-like log output: throughput, and the latency it
//! adds to each line.
//!
//! * `redact_stream/secrets/N`: 8 MiB of log text pushed in 64 KiB chunks
//!   (what `process::pump` reads from a pipe) through a `StreamRedactor` for
//!   1, 50 and 500 random secrets with all their derived forms; reported in
//!   MB/s (10^6 bytes). Every sample streams at least 64 MiB.
//! * `redact_line/secrets/N`: one Packer line ending in `\n` pushed into a
//!   stream, with its redacted output appended on return: the latency the
//!   redactor adds to a line (the line is checked to come out whole, not
//!   held back).
//!
//! `cargo bench --bench redact`; CI and `bench/run --quick` use
//! `cargo bench --bench redact -- --test` (each benchmark once, no timing).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use packer_vault::redact::{Redactor, forms};

#[path = "../src/redact/tests/reference.rs"]
mod reference;
use reference::Lcg;

const LOG_BYTES: usize = 8 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const SECRET_COUNTS: [usize; 3] = [1, 50, 500];

/// Random 24–40 character secrets, like Vault-generated passwords and tokens.
fn secrets(rng: &mut Lcg, n: usize) -> Vec<String> {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&+-./:=?@_";
    (0..n)
        .map(|_| {
            let len = 24 + rng.below(17);
            (0..len)
                .map(|_| char::from(CHARSET[rng.below(CHARSET.len())]))
                .collect()
        })
        .collect()
}

/// Packer-style output lines; roughly one line in 200 leaks a secret (in a
/// random one of its forms).
fn packer_lines(rng: &mut Lcg, secrets: &[String], bytes: usize) -> Vec<String> {
    let leak_forms: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
    let mut lines = Vec::new();
    let mut total = 0;
    let mut line = 0u64;
    while total < bytes {
        line += 1;
        let (h, m, s) = (10 + line / 3600 % 10, line / 60 % 60, line % 60);
        let ts = format!("2025-06-01T{h:02}:{m:02}:{s:02}Z");
        let text = match rng.below(8) {
            0 => format!(
                "{ts} ==> amazon-ebs.ubuntu: Waiting for instance i-0abc{:05x} to become ready...\n",
                rng.below(1 << 20)
            ),
            1 => format!(
                "{ts} ==> amazon-ebs.ubuntu: Provisioning with shell script: /tmp/packer-shell{}\n",
                rng.below(100_000)
            ),
            2 => format!(
                "{ts}     amazon-ebs.ubuntu: Get:{} http://archive.ubuntu.com/ubuntu jammy-updates/main amd64 libssl3 amd64 3.0.2-0ubuntu1.{} [1,903 kB]\n",
                rng.below(300),
                rng.below(20)
            ),
            3 => format!(
                "{ts}     amazon-ebs.ubuntu: Setting up openssh-server (1:8.9p1-3ubuntu0.{}) ...\n",
                rng.below(10)
            ),
            4 => format!(
                "{ts} ==> amazon-ebs.ubuntu: Creating temporary keypair: packer_{:08x}\n",
                rng.next()
            ),
            5 => format!(
                "{ts}     amazon-ebs.ubuntu: Reading package lists... {}%\n",
                rng.below(101)
            ),
            6 => format!("{ts} ==> amazon-ebs.ubuntu: Connected to SSH!\n"),
            _ => format!(
                "{ts}     amazon-ebs.ubuntu: + curl -fsSL https://example.com/install.sh -o /tmp/i{}.sh\n",
                rng.below(1000)
            ),
        };
        total += text.len();
        lines.push(text);
        if !leak_forms.is_empty() && rng.below(200) == 0 {
            let f = &leak_forms[rng.below(leak_forms.len())];
            let leak = format!("{ts}     amazon-ebs.ubuntu: token={f}\n");
            total += leak.len();
            lines.push(leak);
        }
    }
    lines
}

fn bench_stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("redact_stream");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in SECRET_COUNTS {
        let mut rng = Lcg(n as u64);
        let secrets = secrets(&mut rng, n);
        let redactor = Redactor::new(&secrets);
        let log: Vec<u8> = packer_lines(&mut rng, &secrets, LOG_BYTES).concat().into_bytes();
        group.throughput(Throughput::BytesDecimal(log.len() as u64));
        let mut out = Vec::with_capacity(log.len());
        group.bench_with_input(BenchmarkId::new("secrets", n), &log, |b, log| {
            b.iter(|| {
                out.clear();
                let mut stream = redactor.stream();
                for chunk in log.chunks(CHUNK) {
                    stream.push(black_box(chunk), &mut out);
                }
                stream.finish(&mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn bench_line(c: &mut Criterion) {
    let mut group = c.benchmark_group("redact_line");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in SECRET_COUNTS {
        let mut rng = Lcg(n as u64);
        let secrets = secrets(&mut rng, n);
        let redactor = Redactor::new(&secrets);
        let lines = packer_lines(&mut rng, &secrets, 256 * 1024);
        // A line ending in `\n` comes out whole, on the same push.
        let mut stream = redactor.stream();
        let mut out = Vec::new();
        for line in &lines {
            out.clear();
            stream.push(line.as_bytes(), &mut out);
            assert_eq!(out, redactor.redact(line).as_bytes(), "a complete line was held back");
        }
        let mut i = 0;
        group.bench_function(BenchmarkId::new("secrets", n), |b| {
            b.iter(|| {
                i = (i + 1) % lines.len();
                out.clear();
                stream.push(black_box(lines[i].as_bytes()), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_stream, bench_line);
criterion_main!(benches);
