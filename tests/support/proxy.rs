//! A fault-injecting HTTP/1.1 proxy in front of OpenBao (or any stand-in).
//!
//! [`Proxy::start`] listens on `127.0.0.1:0` only and forwards each request
//! to the upstream on a fresh connection (`Connection: close` both ways), so
//! every request is seen and can be faulted on its own. Faults are rules,
//! checked in the order they were added: the next `n` requests (optionally
//! only those whose path starts with a prefix) get a [`Fault`] instead of, or
//! on top of, the upstream's answer. Added latency applies to every request.
//! The proxy stops (listener and connections) when dropped.
//!
//! Raw tokio rather than hyper: the faults (half a body, then a closed
//! socket) are about bytes on the wire, which a server framework hides.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::bao::{block_on, runtime};

/// Largest request head or upstream answer the proxy handles.
const MAX_MESSAGE: usize = 16 << 20;

/// What happens to a request a rule matches.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, extra headers and body; not forwarded.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Close the connection without answering; not forwarded.
    Drop,
    /// Forward, send the answer's head and half its body, then close.
    DropMidBody,
    /// Forward, then send the body `chunk` bytes at a time, `delay` apart.
    SlowBody { chunk: usize, delay: Duration },
    /// Answer 307 to the same path and query on `base` ("another node").
    Redirect { base: String },
    /// Never answer (until the proxy is dropped).
    Hang,
}

impl Fault {
    /// A JSON answer with `status` and body `{"errors": [message]}`.
    pub fn status(status: u16, message: &str) -> Fault {
        Fault::Respond {
            status,
            headers: Vec::new(),
            body: serde_json::json!({ "errors": [message] }).to_string(),
        }
    }

    /// What a sealed Vault answers: 503 `{"errors":["Vault is sealed"]}`.
    pub fn sealed() -> Fault {
        Fault::status(503, "Vault is sealed")
    }

    /// A rate-limit quota: 429 with `Retry-After: <seconds>`.
    pub fn rate_limited(seconds: u64) -> Fault {
        Fault::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), seconds.to_string())],
            body: r#"{"errors":["request path \"x\": rate limit quota exceeded"]}"#.into(),
        }
    }

    /// A short name for [`Seen::fault`].
    pub fn name(&self) -> String {
        match self {
            Fault::Respond { status, .. } => format!("status {status}"),
            Fault::Drop => "drop".into(),
            Fault::DropMidBody => "drop mid-body".into(),
            Fault::SlowBody { .. } => "slow body".into(),
            Fault::Redirect { .. } => "redirect".into(),
            Fault::Hang => "hang".into(),
        }
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query as sent, e.g. `/v1/sys/health`.
    pub path: String,
    /// When it arrived, since the proxy started.
    pub at: Duration,
    /// The fault applied ([`Fault::name`]), `None` when forwarded as is.
    pub fault: Option<String>,
}

#[derive(Debug)]
struct Rule {
    prefix: Option<String>,
    remaining: usize,
    fault: Fault,
}

/// A request as an [`Intercept`] sees it.
#[derive(Debug, Clone)]
pub struct Intercepted {
    pub method: String,
    /// Path and query, e.g. `/v1/gcp/roleset/x/key`.
    pub path: String,
    /// `X-Vault-Token`, when sent.
    pub token: Option<String>,
    /// `X-Vault-Namespace`, when sent.
    pub namespace: Option<String>,
    pub body: Vec<u8>,
}

/// Answers some requests itself (status, JSON body); `None` forwards the
/// request (after the intercept has seen it). Checked before the rules.
pub type Intercept = Arc<dyn Fn(&Intercepted) -> Option<(u16, String)> + Send + Sync>;

#[derive(Default)]
struct State {
    upstream: String,
    latency: Duration,
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    intercept: Option<Intercept>,
}

/// A running proxy; see the module docs.
pub struct Proxy {
    addr: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet: every connection stops.
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_end_matches('/');
        let authority = upstream
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the proxy forwards to http:// only, not {upstream}"));
        let state = Arc::new(Mutex::new(State {
            upstream: authority.to_string(),
            ..Default::default()
        }));
        let listener = block_on(TcpListener::bind("127.0.0.1:0")).expect("bind the proxy on loopback");
        let addr = format!("http://{}", listener.local_addr().expect("proxy address"));
        let task = runtime().spawn(accept(listener, state.clone(), Instant::now()));
        Proxy { addr, state, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Delays every later request by `latency` before handling it.
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// The next `n` requests get `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.add(None, n, fault);
    }

    /// The next `n` requests whose path starts with `prefix` get `fault`.
    pub fn fail_next_on(&self, prefix: &str, n: usize, fault: Fault) {
        self.add(Some(prefix), n, fault);
    }

    /// Every later request (whose path starts with `prefix`, when given) gets `fault`.
    pub fn fail_always(&self, prefix: Option<&str>, fault: Fault) {
        self.add(prefix, usize::MAX, fault);
    }

    /// Lets `intercept` see every later request and answer those it wants.
    pub fn intercept(&self, intercept: Intercept) {
        self.state.lock().unwrap().intercept = Some(intercept);
    }

    /// Removes every rule: later requests are forwarded as they are.
    pub fn clear(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    fn add(&self, prefix: Option<&str>, n: usize, fault: Fault) {
        self.state.lock().unwrap().rules.push(Rule {
            prefix: prefix.map(str::to_string),
            remaining: n,
            fault,
        });
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Requests seen so far whose path starts with `prefix`.
    pub fn requests_on(&self, prefix: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.path.starts_with(prefix))
            .collect()
    }

    /// How many requests were seen.
    pub fn count(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }
}

async fn accept(listener: TcpListener, state: Arc<Mutex<State>>, started: Instant) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve(socket, state.clone(), started));
    }
}

/// A parsed request: its head as received and its body.
struct Request {
    method: String,
    path: String,
    head_lines: Vec<String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<String> {
        self.head_lines.iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    fn intercepted(&self) -> Intercepted {
        Intercepted {
            method: self.method.clone(),
            path: self.path.clone(),
            token: self.header("x-vault-token"),
            namespace: self.header("x-vault-namespace"),
            body: self.body.clone(),
        }
    }
}

async fn serve(mut client: TcpStream, state: Arc<Mutex<State>>, started: Instant) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut client, &mut buf).await else {
            return;
        };
        let intercept = state.lock().unwrap().intercept.clone();
        if let Some(answer) = intercept.and_then(|i| i(&req.intercepted())) {
            state.lock().unwrap().seen.push(Seen {
                method: req.method.clone(),
                path: req.path.clone(),
                at: started.elapsed(),
                fault: Some("intercepted".into()),
            });
            let (status, body) = answer;
            let text = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                reason(status),
                body.len()
            );
            if client.write_all(text.as_bytes()).await.is_err() {
                return;
            }
            continue;
        }
        let (latency, fault, upstream) = {
            let mut s = state.lock().unwrap();
            let rule = s
                .rules
                .iter_mut()
                .find(|r| r.remaining > 0 && r.prefix.as_ref().is_none_or(|p| req.path.starts_with(p.as_str())));
            let fault = rule.map(|r| {
                r.remaining = r.remaining.saturating_sub(1);
                r.fault.clone()
            });
            s.seen.push(Seen {
                method: req.method.clone(),
                path: req.path.clone(),
                at: started.elapsed(),
                fault: fault.as_ref().map(Fault::name),
            });
            (s.latency, fault, s.upstream.clone())
        };
        tokio::time::sleep(latency).await;
        let keep_open = match fault {
            Some(Fault::Respond { status, headers, body }) => {
                let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
                let answer = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
                    reason(status),
                    body.len()
                );
                client.write_all(answer.as_bytes()).await.is_ok()
            }
            Some(Fault::Redirect { base }) => {
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {}{}\r\nContent-Length: 0\r\n\r\n",
                    base.trim_end_matches('/'),
                    req.path
                );
                client.write_all(answer.as_bytes()).await.is_ok()
            }
            Some(Fault::Drop) => false,
            Some(Fault::Hang) => std::future::pending().await,
            other => {
                forward(&mut client, &req, &upstream, other).await;
                false
            }
        };
        if !keep_open {
            let _ = client.shutdown().await;
            return;
        }
    }
}

/// Forwards `req` and relays the answer, faulted as `fault` says.
async fn forward(client: &mut TcpStream, req: &Request, upstream: &str, fault: Option<Fault>) {
    let Some(answer) = exchange(req, upstream).await else {
        let body = r#"{"errors":["test proxy: upstream unreachable"]}"#;
        let answer = format!(
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(answer.as_bytes()).await;
        return;
    };
    let Some(split) = find(&answer, b"\r\n\r\n") else {
        let _ = client.write_all(&answer).await;
        return;
    };
    // The client must not reuse this connection: the proxy closes it.
    let head: Vec<&str> = std::str::from_utf8(&answer[..split])
        .unwrap_or_default()
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let head = format!("{}\r\nConnection: close\r\n\r\n", head.join("\r\n"));
    let body = &answer[split + 4..];
    if client.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    match fault {
        Some(Fault::DropMidBody) => {
            let _ = client.write_all(&body[..body.len() / 2]).await;
        }
        Some(Fault::SlowBody { chunk, delay }) => {
            for piece in body.chunks(chunk.max(1)) {
                tokio::time::sleep(delay).await;
                if client.write_all(piece).await.is_err() || client.flush().await.is_err() {
                    return;
                }
            }
        }
        _ => {
            let _ = client.write_all(body).await;
        }
    }
}

/// Sends `req` to `upstream` on a fresh connection; the whole answer.
async fn exchange(req: &Request, upstream: &str) -> Option<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream).await.ok()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for line in &req.head_lines {
        let lower = line.to_ascii_lowercase();
        if !(lower.starts_with("connection:") || lower.starts_with("host:")) {
            head.push_str(line);
            head.push_str("\r\n");
        }
    }
    head.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
    conn.write_all(head.as_bytes()).await.ok()?;
    conn.write_all(&req.body).await.ok()?;
    let mut answer = Vec::new();
    (&mut conn)
        .take(MAX_MESSAGE as u64)
        .read_to_end(&mut answer)
        .await
        .ok()?;
    Some(answer)
}

/// Reads one request from `conn` (`buf` keeps bytes of the next one);
/// `None` at EOF or on a request the proxy cannot frame.
async fn read_request(conn: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<Request> {
    let split = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_MESSAGE || read_more(conn, buf).await == 0 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let head_lines: Vec<String> = lines.map(str::to_string).collect();
    let header = |name: &str| {
        head_lines.iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some() {
        return None; // chunked requests: not needed by any client under test
    }
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    buf.drain(..split + 4);
    while buf.len() < length {
        if read_more(conn, buf).await == 0 {
            return None;
        }
    }
    let body = buf.drain(..length).collect();
    Some(Request {
        method,
        path,
        head_lines,
        body,
    })
}

async fn read_more(conn: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 8192];
    match conn.read(&mut chunk).await {
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            n
        }
        Err(_) => 0,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// An address where nothing listens (a port bound, then released).
pub fn unreachable_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("port").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
