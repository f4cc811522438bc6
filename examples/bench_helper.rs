//! Helper for `bench/run` (whole-process benchmarks); not part of the product.
//!
//! * `setup ADDR ROOT_TOKEN DIR [CA_PEM]`: provisions a dev OpenBao (over
//!   TLS when CA_PEM, the server's CA, is given) for the runs: KV v2
//!   mount `bench/` with `s1..s3` and `p01..p30` (key `value`), policy
//!   `bench-read`, JWT auth on `auth/jwt` trusting the test key of
//!   `tests/support/keys`, role `bench` (set up as README.md recommends:
//!   that policy only, no `default`); writes `DIR/jwt` (a signed GitLab-
//!   shaped token valid for a day), `DIR/spec3`, `DIR/spec30` and
//!   `DIR/spec30data` (the same 30 paths written with `data/`).
//! * `latency UPSTREAM MS RUNS -- CMD...`: runs CMD RUNS times with
//!   `VAULT_ADDR` pointing at the latency proxy of `tests/support/proxy.rs`
//!   (every request delayed by MS), and reports the median wall time, the
//!   requests per run and how many waves of requests they came in.
//! * `first-request RUNS -- CMD...`: time from spawning CMD (with
//!   `VAULT_ADDR` on a local listener) to its first request's bytes, side by
//!   side with spawning `/bin/true` to its exit.
//!
//! * `emit LINES INTERVAL_MS`: prints LINES Packer-like lines, each starting
//!   with the `CLOCK_MONOTONIC` time it was written at (ns), flushed one by
//!   one, INTERVAL_MS apart.
//! * `rss -- CMD...`: runs CMD once and prints its peak RSS in KiB.
//! * `line-latency -- CMD...`: runs CMD (which runs `emit`, directly or
//!   under `packer-vault exec`) and reports how long its lines took to
//!   arrive: the latency a redacting `exec` adds to each line.
//!
//! Output is `key=value` lines for the script; times in milliseconds.

#[allow(dead_code, unused_imports)]
#[path = "../tests/support/jwt.rs"]
mod jwt;
#[allow(dead_code, unused_imports)]
#[path = "../tests/support/proxy.rs"]
mod proxy;

/// What `proxy.rs` expects of `tests/support/bao.rs`: a shared runtime.
mod bao {
    use std::future::Future;
    use std::sync::OnceLock;

    pub fn runtime() -> &'static tokio::runtime::Runtime {
        static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build the helper runtime")
        })
    }

    pub fn block_on<F: Future>(fut: F) -> F::Output {
        runtime().block_on(fut)
    }
}

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The `bench` role's only policy, as README.md's "Vault setup" writes it:
/// the secrets, and what packer-vault does with its own token.
const POLICY: &str = r#"
path "bench/data/*"           { capabilities = ["read"] }
path "auth/token/renew-self"  { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/leases/renew"       { capabilities = ["update"] }
"#;

/// Audience bound by the `bench` role.
const AUD: &str = "https://vault.example.com";
/// Number of paths of the latency run.
const MANY: usize = 30;
/// The read matrix of `bench/run`: how many secrets, on how many paths.
/// Every pair with at least as many secrets as paths is measured.
const MATRIX_SECRETS: [usize; 4] = [1, 10, 30, 100];
const MATRIX_PATHS: [usize; 3] = [1, 10, 30];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (head, cmd) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let arg = |i: usize| head.get(i).map(String::as_str).unwrap_or_else(|| usage());
    match arg(0) {
        "setup" => setup(
            arg(1),
            arg(2),
            std::path::Path::new(arg(3)),
            head.get(4).map(String::as_str),
        ),
        "latency" => latency(arg(1), arg(2).parse().unwrap_or_else(|_| usage()), number(arg(3)), cmd),
        "first-request" => first_request(number(arg(1)), cmd),
        "rss" => rss(cmd),
        "emit" => emit(number(arg(1)), arg(2).parse().unwrap_or_else(|_| usage())),
        "line-latency" => line_latency(cmd),
        _ => usage(),
    }
}

fn number(s: &str) -> usize {
    s.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage())
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_helper setup ADDR ROOT_TOKEN DIR [CA_PEM]\n       bench_helper latency UPSTREAM MS RUNS -- CMD...\n       bench_helper first-request RUNS -- CMD...\n       bench_helper rss -- CMD...\n       bench_helper emit LINES INTERVAL_MS\n       bench_helper line-latency -- CMD..."
    );
    std::process::exit(2)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn random(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(len).collect()
}

// ---------------------------------------------------------------- setup

fn setup(addr: &str, token: &str, dir: &std::path::Path, ca: Option<&str>) {
    let addr = addr.trim_end_matches('/').to_string();
    let certs = match ca {
        Some(ca) => {
            let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("read {ca}: {e}"));
            reqwest::Certificate::from_pem_bundle(&pem).expect("a PEM CA")
        }
        None => Vec::new(),
    };
    let builder = packer_vault::remote::client_builder(ca.is_some(), certs).expect("builder");
    let client = builder.build().expect("client");
    let call = |method: &'static str, path: String, body: Value| {
        let req = client
            .request(method.parse().expect("method"), format!("{addr}/v1/{path}"))
            .header("X-Vault-Token", token)
            .json(&body);
        async move {
            let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            // Mounts left by an earlier setup on the same server are fine.
            if !status.is_success() && !text.contains("already in use") {
                panic!("{method} {path}: {status} {text}");
            }
        }
    };
    bao::block_on(async {
        tokio::join!(
            call(
                "POST",
                "sys/mounts/bench".into(),
                json!({"type": "kv", "options": {"version": "2"}})
            ),
            call("POST", "sys/auth/jwt".into(), json!({"type": "jwt"})),
            call("PUT", "sys/policies/acl/bench-read".into(), json!({ "policy": POLICY })),
        );
        let paths = (1..=3)
            .map(|i| format!("s{i}"))
            .chain((1..=MANY).map(|i| format!("p{i:02}")));
        let writes = paths.map(|p| {
            call(
                "POST",
                format!("bench/data/{p}"),
                json!({"data": {"value": random(32)}}),
            )
        });
        futures_util::future::join_all(writes).await;
        futures_util::future::join_all(matrix_paths().map(|(path, keys)| {
            let data: serde_json::Map<String, Value> = keys.map(|k| (k, Value::String(random(32)))).collect();
            call("POST", format!("bench/data/{path}"), json!({ "data": data }))
        }))
        .await;
        call(
            "POST",
            "auth/jwt/config".into(),
            json!({"jwt_validation_pubkeys": [jwt::PUBLIC_KEY_PEM]}),
        )
        .await;
        call(
            "POST",
            "auth/jwt/role/bench".into(),
            json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [AUD],
                "token_policies": ["bench-read"],
                "token_no_default_policy": true,
                "token_ttl": 600,
            }),
        )
        .await;
    });
    let exp = jwt::now() + 86_400;
    let token = jwt::sign(&jwt::gitlab_claims(AUD, &json!({"exp": exp})));
    std::fs::create_dir_all(dir).expect("create the bench dir");
    std::fs::write(dir.join("jwt"), token).expect("write jwt");
    // `prefix` goes between the mount and the name: "" or "data/".
    let spec = |names: Vec<String>, prefix: &str| {
        names
            .iter()
            .map(|n| format!("bench/{prefix}{n} value | {} ;", n.to_uppercase()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    std::fs::write(dir.join("spec3"), spec((1..=3).map(|i| format!("s{i}")).collect(), "")).expect("write spec3");
    let many: Vec<String> = (1..=MANY).map(|i| format!("p{i:02}")).collect();
    std::fs::write(dir.join("spec30"), spec(many.clone(), "")).expect("write spec30");
    // The same secrets as vault-action's users write KV v2 paths.
    std::fs::write(dir.join("spec30data"), spec(many, "data/")).expect("write spec30data");
    for (secrets, paths) in matrix() {
        std::fs::write(
            dir.join(format!("matrix-{secrets}-{paths}")),
            matrix_spec(secrets, paths),
        )
        .expect("write a matrix spec");
    }
}

/// The (secrets, paths) pairs of the read matrix.
fn matrix() -> impl Iterator<Item = (usize, usize)> {
    MATRIX_SECRETS
        .into_iter()
        .flat_map(|s| MATRIX_PATHS.into_iter().filter(move |&p| p <= s).map(move |p| (s, p)))
}

/// The matrix's entries: for each path count P, P paths `mP-NN`, each with
/// enough keys `kNNN` for the largest secret count spread over P paths.
fn matrix_paths() -> impl Iterator<Item = (String, impl Iterator<Item = String>)> {
    let most = MATRIX_SECRETS[MATRIX_SECRETS.len() - 1];
    MATRIX_PATHS.into_iter().flat_map(move |p| {
        (1..=p).map(move |i| {
            (
                format!("m{p}-{i:02}"),
                (1..=most.div_ceil(p)).map(|k| format!("k{k:03}")),
            )
        })
    })
}

/// `secrets` secrets spread round-robin over `paths` paths, written with
/// `data/` (the form vault-action's users write, so both tools read the same
/// spec): one line per secret, `bench/data/mP-NN kNNN | MNNN`.
fn matrix_spec(secrets: usize, paths: usize) -> String {
    (0..secrets)
        .map(|j| {
            format!(
                "bench/data/m{paths}-{:02} k{:03} | M{j:03}",
                j % paths + 1,
                j / paths + 1
            )
        })
        .collect::<Vec<_>>()
        .join(" ;\n")
}

// ---------------------------------------------------------------- running

/// Spawns `cmd` with `env` added and waits: wall time, exit code, peak RSS (KiB).
#[allow(clippy::zombie_processes, reason = "reaped by wait4 in wait_rusage")]
fn run_once(cmd: &[String], env: &[(&str, &str)]) -> (Duration, i32, i64) {
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let started = Instant::now();
    let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {}: {e}", cmd[0]));
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let (status, rss) = wait_rusage(child.id() as libc::pid_t);
    let took = started.elapsed();
    if status != 0 {
        eprint!("{stderr}");
        eprintln!("bench_helper: `{}` exited with {status}", cmd.join(" "));
    }
    (took, status, rss)
}

/// `wait4`: exit code (128+N for signal N) and the child's peak RSS in KiB.
fn wait_rusage(pid: libc::pid_t) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for a child we spawned and have not reaped.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    (code, usage.ru_maxrss)
}

/// Runs `cmd` once; prints its peak RSS in KiB (what GNU time calls the
/// "Maximum resident set size": `ru_maxrss` of `wait4`).
fn rss(cmd: &[String]) {
    if cmd.is_empty() {
        usage();
    }
    let (_, code, kib) = run_once(cmd, &[]);
    if code != 0 {
        std::process::exit(1);
    }
    println!("{kib}");
}

// ---------------------------------------------------------------- latency

fn latency(upstream: &str, latency_ms: u64, runs: usize, cmd: &[String]) {
    if cmd.is_empty() {
        usage();
    }
    let rtt = Duration::from_millis(latency_ms);
    let proxy = proxy::Proxy::start(upstream);
    proxy.set_latency(rtt);
    // The proxy's clock started just before this one.
    let origin = Instant::now();
    // vault-action (a node process, run beside us) reads its address from
    // its `url` input.
    let env = [("VAULT_ADDR", proxy.addr()), ("INPUT_URL", proxy.addr())];
    // One unmeasured run warms the server (and the page cache).
    run_once(cmd, &env);
    let mut timelines = Vec::new();
    // Side by side: every run at `latency_ms` is followed by one without
    // added delay, through the same proxy. The difference of the medians is
    // what the delays cost: about one per round trip on the critical path.
    let mut times0 = Vec::new();
    let mut times = Vec::new();
    let mut rss = Vec::new();
    let mut requests = Vec::new();
    let mut waves = Vec::new();
    let mut detail = String::new();
    let mut failed = 0;
    for _ in 0..runs {
        proxy.set_latency(Duration::ZERO);
        let (took0, code0, _) = run_once(cmd, &env);
        failed += usize::from(code0 != 0);
        times0.push(ms(took0));
        proxy.set_latency(rtt);
        let before = proxy.count();
        let spawned = origin.elapsed();
        let (took, code, kib) = run_once(cmd, &env);
        failed += usize::from(code != 0);
        times.push(ms(took));
        rss.push(kib as f64);
        let seen = &proxy.requests()[before..];
        requests.push(seen.len() as f64);
        let grouped = group_waves(seen, rtt / 2);
        waves.push(grouped.len() as f64);
        // When each wave started and how long its requests took to arrive,
        // from the spawn: where the time between the delays goes.
        let since = |d: Duration| ms(d.saturating_sub(spawned));
        let starts: Vec<String> = grouped.iter().map(|w| format!("{:.1}", since(w[0].at))).collect();
        let spreads: Vec<String> = grouped
            .iter()
            .map(|w| format!("{:.1}", ms(w[w.len() - 1].at.saturating_sub(w[0].at))))
            .collect();
        timelines.push((
            ms(took),
            format!("{} exit={:.1}", starts.join(" "), ms(took)),
            spreads.join(" "),
        ));
        detail = grouped
            .iter()
            .map(|w| {
                let mut kinds: Vec<(String, usize)> = Vec::new();
                for s in w {
                    let k = kind(&s.path);
                    match kinds.iter_mut().find(|(n, _)| *n == k) {
                        Some((_, c)) => *c += 1,
                        None => kinds.push((k, 1)),
                    }
                }
                kinds
                    .iter()
                    .map(|(k, c)| if *c == 1 { k.clone() } else { format!("{c}x {k}") })
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .collect::<Vec<_>>()
            .join(" → ");
    }
    let median_ms = median(times);
    timelines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (_, timeline, spreads) = &timelines[timelines.len() / 2];
    println!("rtt_ms={latency_ms}");
    println!("runs={runs}");
    println!("failed={failed}");
    println!("median_ms={median_ms:.1}");
    println!("rtts={:.2}", median_ms / latency_ms.max(1) as f64);
    let median0 = median(times0);
    println!("median0_ms={median0:.1}");
    println!("delay_rtts={:.2}", (median_ms - median0) / latency_ms.max(1) as f64);
    println!("requests={}", median(requests));
    println!("waves={}", median(waves));
    println!("waves_detail={detail}");
    println!("wave_starts_ms={timeline}");
    println!("wave_spreads_ms={spreads}");
    println!("maxrss_kib={}", median(rss));
}

/// Splits requests (in arrival order) into waves: a request more than `gap`
/// after the first of the current wave starts a new one. A request that
/// depends on an answer arrives at least one delay after its predecessor.
fn group_waves(seen: &[proxy::Seen], gap: Duration) -> Vec<Vec<&proxy::Seen>> {
    let mut sorted: Vec<&proxy::Seen> = seen.iter().collect();
    sorted.sort_by_key(|s| s.at);
    let mut waves: Vec<Vec<&proxy::Seen>> = Vec::new();
    for s in sorted {
        match waves.last_mut() {
            Some(w) if s.at.saturating_sub(w[0].at) <= gap => w.push(s),
            _ => waves.push(vec![s]),
        }
    }
    waves
}

/// A short name for a request path.
fn kind(path: &str) -> String {
    let p = path.trim_start_matches("/v1/");
    let p = p.split('?').next().unwrap_or(p);
    if p.starts_with("sys/internal/ui/mounts/") {
        "mount".into()
    } else if p.starts_with("auth/") {
        p.rsplit('/').next().unwrap_or(p).to_string()
    } else {
        "read".into()
    }
}

// ---------------------------------------------------------------- first request

fn first_request(runs: usize, cmd: &[String]) {
    if cmd.is_empty() {
        usage();
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let addr = format!("http://{}", listener.local_addr().expect("listener address"));
    let truth = vec!["/bin/true".to_string()];
    let mut first = Vec::new();
    let mut baseline = Vec::new();
    for i in 0..=runs {
        // Alternate with a bare process start, so both see the same machine.
        let (t, _, _) = run_once(&truth, &[]);
        let started = Instant::now();
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .env("VAULT_ADDR", &addr)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", cmd[0]));
        let got = wait_readable(listener.as_raw_fd(), Duration::from_secs(10)).then(|| {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).unwrap_or(0);
            (
                started.elapsed(),
                String::from_utf8_lossy(&buf[..n]).lines().next().map(str::to_string),
            )
        });
        let _ = child.kill();
        let _ = child.wait();
        let Some((took, line)) = got else {
            eprintln!("bench_helper: `{}` made no request within 10 s", cmd.join(" "));
            std::process::exit(1);
        };
        if i == 0 {
            // Warm-up; say what the first request was.
            println!("first_line={}", line.unwrap_or_default());
            continue;
        }
        first.push(ms(took));
        baseline.push(ms(t));
    }
    println!("runs={runs}");
    println!("first_request_ms={:.2}", median(first));
    println!("true_ms={:.2}", median(baseline));
}

fn wait_readable(fd: i32, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) == 1 }
}

// ---------------------------------------------------------------- line latency

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: one valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn emit(lines: usize, interval_ms: u64) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for i in 0..lines {
        let line = format!(
            "{} ==> amazon-ebs.ubuntu: Provisioning with shell script: /tmp/packer-shell{i:05} (step {i} of {lines})\n",
            monotonic_ns()
        );
        if out.write_all(line.as_bytes()).and_then(|()| out.flush()).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(interval_ms));
    }
}

fn line_latency(cmd: &[String]) {
    use std::io::BufRead;
    if cmd.is_empty() {
        usage();
    }
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", cmd[0]));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut delays = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let now = monotonic_ns();
        let Ok(line) = line else { break };
        if let Some(sent) = line.split(' ').next().and_then(|t| t.parse::<u64>().ok()) {
            delays.push(now.saturating_sub(sent) as f64 / 1e6);
        }
    }
    let status = child.wait().expect("wait for the command");
    if delays.is_empty() || !status.success() {
        eprintln!("bench_helper: `{}` printed no timed line ({status})", cmd.join(" "));
        std::process::exit(1);
    }
    let max = delays.iter().copied().fold(0.0, f64::max);
    println!("lines={}", delays.len());
    println!("line_median_ms={:.3}", median(delays));
    println!("line_max_ms={max:.3}");
}
