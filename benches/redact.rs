//! Throughput of streaming Packer-like log output through the redactor.
//!
//! 8 MiB of log text is pushed in 64 KiB chunks through a `StreamRedactor`
//! built from 1, 50 and 500 random secrets (with all their derived forms).
//! Run `cargo bench --bench redact`; CI runs `cargo bench --bench redact -- --test`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use packer_vault::redact::{Redactor, forms};

const LOG_BYTES: usize = 8 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// Small deterministic PRNG so every run measures the same input.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

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

/// About 8 MiB of Packer-style output; roughly one line in 200 leaks a secret
/// (in a random one of its forms).
fn packer_log(rng: &mut Lcg, secrets: &[String]) -> Vec<u8> {
    let leak_forms: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
    let mut log = Vec::with_capacity(LOG_BYTES + 256);
    let mut line = 0u64;
    while log.len() < LOG_BYTES {
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
        log.extend_from_slice(text.as_bytes());
        if !leak_forms.is_empty() && rng.below(200) == 0 {
            let f = &leak_forms[rng.below(leak_forms.len())];
            log.extend_from_slice(format!("{ts}     amazon-ebs.ubuntu: token={f}\n").as_bytes());
        }
    }
    log
}

fn bench_stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream_redact_8MiB_64KiB_pushes");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [1usize, 50, 500] {
        let mut rng = Lcg(n as u64);
        let secrets = secrets(&mut rng, n);
        let redactor = Redactor::new(&secrets);
        let log = packer_log(&mut rng, &secrets);
        group.throughput(Throughput::Bytes(log.len() as u64));
        let mut out = Vec::with_capacity(log.len());
        group.bench_with_input(
            BenchmarkId::new("secrets", format!("{n} ({} patterns)", redactor.patterns().len())),
            &log,
            |b, log| {
                b.iter(|| {
                    out.clear();
                    let mut stream = redactor.stream();
                    for chunk in log.chunks(CHUNK) {
                        stream.push(black_box(chunk), &mut out);
                    }
                    stream.finish(&mut out);
                    black_box(out.len())
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_stream);
criterion_main!(benches);
