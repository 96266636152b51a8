//! The simulated venues' network side: loopback listeners, optional TLS with a
//! certificate made at start, a small HTTP/1.1 server with keep-alive, and a WebSocket
//! connection loop that interleaves client requests with venue events.
//!
//! A thread per connection: this is a test harness, not the engine's hot path. Every
//! socket has a short read timeout so a connection thread notices new venue events and
//! the stop flag within a couple of milliseconds without any async runtime.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ServerConnection;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tungstenite::handshake::server::{ErrorResponse, Request as WsRequest, Response as WsResponse};
use tungstenite::{HandshakeError, Message, WebSocket};

use super::engine::{Event, now_ms};
use super::faults::Faults;

/// How long a blocked read waits before the loop looks at events and the stop flag.
const POLL: Duration = Duration::from_millis(2);

/// A TLS identity made at start: a CA certificate (what clients trust) and a server
/// certificate for `localhost` and `127.0.0.1` signed by it.
#[derive(Clone)]
pub struct TlsIdentity {
    pub config: Arc<rustls::ServerConfig>,
    pub ca_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

/// Makes a fresh CA and server certificate and the rustls server configuration (ring).
pub fn make_tls() -> Result<TlsIdentity, String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let e = |x: rcgen::Error| format!("certificate: {x}");
    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.distinguished_name.push(DnType::CommonName, "arb sim CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(e)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().map_err(e)?;
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).map_err(e)?;
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(e)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![leaf.der().clone(), CertificateDer::from(ca_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|x| format!("tls: {x}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|x| format!("tls: {x}"))?;
    Ok(TlsIdentity { config: Arc::new(config), ca_pem: ca_cert.pem() })
}

/// A server-side connection, plain or TLS.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    pub fn peer(&self) -> Option<SocketAddr> {
        match self {
            Stream::Plain(s) => s.peer_addr().ok(),
            Stream::Tls(s) => s.sock.peer_addr().ok(),
        }
    }

    /// Closes the socket at once, without a TLS close or WebSocket close frame.
    pub fn drop_now(&self) {
        let s = match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        };
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// Binds a loopback listener on an ephemeral port and serves each connection on its own
/// thread with `serve`, until `stop` is set.
pub fn listen(
    name: &str,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: Arc<AtomicBool>,
    serve: Arc<dyn Fn(Stream) + Send + Sync>,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let thread_name = format!("sim-{name}");
    let handle = std::thread::Builder::new().name(thread_name.clone()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((sock, _)) => {
                    let tls = tls.clone();
                    let serve = serve.clone();
                    let _ =
                        std::thread::Builder::new().name(format!("{thread_name}-conn")).spawn(move || {
                            let _ = sock.set_nonblocking(false);
                            let _ = sock.set_nodelay(true);
                            let _ = sock.set_read_timeout(Some(POLL));
                            let stream = match tls {
                                None => Stream::Plain(sock),
                                Some(cfg) => match ServerConnection::new(cfg) {
                                    Ok(conn) => Stream::Tls(Box::new(rustls::StreamOwned::new(conn, sock))),
                                    Err(_) => return,
                                },
                            };
                            serve(stream);
                        });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })?;
    Ok((addr, handle))
}

/// One HTTP request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The raw query string as sent (no leading `?`).
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Decodes `%XX` and `+` in a query component.
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `k=v&k=v` pairs, decoded.
pub fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }

    /// Query parameters, then form-encoded body parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut v = parse_pairs(&self.query);
        let ct = self.header("content-type").unwrap_or("");
        if ct.contains("x-www-form-urlencoded") {
            v.extend(parse_pairs(self.body_text()));
        }
        v
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// One HTTP response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn json(status: u16, body: impl Into<String>) -> Response {
        Response { status, body: body.into(), headers: Vec::new() }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

const MAX_REQUEST: usize = 1 << 20;

/// Serves HTTP/1.1 requests on one connection (keep-alive) until the client closes, asks
/// to close, or `stop` is set.
pub fn serve_http(mut stream: Stream, stop: &AtomicBool, handler: &dyn Fn(&Request) -> Response) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let mut idle_since = now_ms();
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // Parse what is buffered.
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = match req.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => Some(n),
            Ok(httparse::Status::Partial) => None,
            Err(_) => return refuse(&mut stream, 400, "bad request"),
        };
        if let Some(head_len) = parsed {
            let hs: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_owned()))
                .collect();
            let len: usize =
                hs.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            if hs.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
                return refuse(&mut stream, 411, "length required");
            }
            if len > MAX_REQUEST {
                return refuse(&mut stream, 413, "too large");
            }
            if buf.len() >= head_len + len {
                let version = req.version.unwrap_or(1);
                let request = to_request(&req, hs, buf[head_len..head_len + len].to_vec());
                buf.drain(..head_len + len);
                let conn = request.header("connection").unwrap_or("").to_ascii_lowercase();
                let keep = if version == 0 { conn.contains("keep-alive") } else { !conn.contains("close") };
                let resp = handler(&request);
                if let Some(ms) = super::engine::take_answer_hold() {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                }
                if write_response(&mut stream, &resp, keep).is_err() || !keep {
                    let _ = stream.flush();
                    return;
                }
                idle_since = now_ms();
                continue;
            }
        }
        if buf.len() > MAX_REQUEST + 65536 {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {
                // Idle keep-alive connections are closed after two minutes.
                if now_ms().saturating_sub(idle_since) > 120_000 {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Answers a request the server will not read, and closes.
fn refuse(stream: &mut Stream, status: u16, message: &str) {
    let body = format!(r#"{{"message":"{message}"}}"#);
    let _ = write_response(stream, &Response::json(status, body), false);
}

/// A parsed request head with its headers (names in lower case) and body.
fn to_request(req: &httparse::Request, headers: Vec<(String, String)>, body: Vec<u8>) -> Request {
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Request {
        method: req.method.unwrap_or("GET").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body,
    }
}

fn write_response(stream: &mut Stream, r: &Response, keep: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n",
        r.status,
        reason(r.status),
        r.body.len(),
        if keep { "keep-alive" } else { "close" }
    );
    for (k, v) in &r.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(r.body.as_bytes());
    stream.write_all(&out)?;
    stream.flush()
}

/// The request line of a WebSocket upgrade.
#[derive(Clone, Debug, Default)]
pub struct Upgrade {
    pub path: String,
    pub query: String,
}

/// A refused WebSocket upgrade: HTTP status and body.
pub type Refusal = (u16, String);

/// Completes a WebSocket handshake; `check` may refuse it with a status and body.
#[allow(clippy::result_large_err)]
pub fn accept_ws(
    stream: Stream,
    check: &dyn Fn(&Upgrade) -> Result<(), Refusal>,
) -> Option<(WebSocket<Stream>, Upgrade)> {
    let mut seen = Upgrade::default();
    let callback = |req: &WsRequest, resp: WsResponse| -> Result<WsResponse, ErrorResponse> {
        let uri = req.uri();
        seen = Upgrade { path: uri.path().to_owned(), query: uri.query().unwrap_or("").to_owned() };
        match check(&seen) {
            Ok(()) => Ok(resp),
            Err((status, body)) => {
                let mut r = ErrorResponse::new(Some(body));
                *r.status_mut() = tungstenite::http::StatusCode::from_u16(status)
                    .unwrap_or(tungstenite::http::StatusCode::UNAUTHORIZED);
                Err(r)
            }
        }
    };
    let deadline = now_ms() + 5_000;
    let mut result = tungstenite::accept_hdr(stream, callback);
    loop {
        match result {
            Ok(ws) => return Some((ws, seen)),
            Err(HandshakeError::Interrupted(mid)) => {
                if now_ms() > deadline {
                    return None;
                }
                result = mid.handshake();
            }
            Err(HandshakeError::Failure(_)) => return None,
        }
    }
}

/// Messages a session queues for the client, each due at a time (latency, delays), on
/// the monotonic clock.
#[derive(Debug)]
pub struct Outbox {
    pub now: Instant,
    pub latency: Duration,
    queue: Vec<(Instant, Message)>,
    close: bool,
}

impl Outbox {
    fn new(latency: Duration) -> Self {
        Outbox { now: Instant::now(), latency, queue: Vec::new(), close: false }
    }

    /// Queues a message after the venue's latency.
    pub fn send(&mut self, m: Message) {
        self.queue.push((self.now + self.latency, m));
    }

    /// Queues a message after the venue's latency plus `extra_ms`.
    pub fn send_after(&mut self, extra_ms: u64, m: Message) {
        self.queue.push((self.now + self.latency + Duration::from_millis(extra_ms), m));
    }

    pub fn text(&mut self, s: String) {
        self.send(Message::text(s));
    }

    /// Ends the connection after what is queued.
    pub fn close(&mut self) {
        self.close = true;
    }
}

/// A WebSocket session's venue logic.
pub trait Session {
    /// A text or binary message from the client.
    fn on_message(&mut self, msg: Message, out: &mut Outbox);
    /// A venue event (public or private).
    fn on_event(&mut self, ev: &Event, out: &mut Outbox);
}

/// Connection-level settings of the WebSocket loop.
#[derive(Clone, Debug)]
pub struct WsLoop {
    pub stop: Arc<AtomicBool>,
    pub faults: Faults,
    pub latency_ms: u64,
    /// Varies stall phase per connection.
    pub conn_no: u64,
    /// While set, public market data (depth, tickers, trades) is not published.
    pub md_paused: Arc<AtomicBool>,
}

/// Runs a WebSocket connection: client messages, venue events and due sends, with the
/// disconnect and stall faults, until either side closes or `stop` is set.
pub fn run_ws(
    mut ws: WebSocket<Stream>,
    events: Receiver<Arc<Event>>,
    session: &mut dyn Session,
    cfg: &WsLoop,
) {
    let start = now_ms();
    let mut out = Outbox::new(Duration::from_millis(cfg.latency_ms));
    let disconnect_ms = cfg.faults.disconnect_every_s * 1000;
    let stall_period = cfg.faults.stall_every_s * 1000;
    let stall_len = (stall_period / 2).min(5_000);
    let stall_phase = (cfg.conn_no * 977) % stall_period.max(1);
    loop {
        if cfg.stop.load(Ordering::Relaxed) {
            let _ = ws.close(None);
            let _ = ws.flush();
            return;
        }
        let age = now_ms().saturating_sub(start);
        if disconnect_ms > 0 && age >= disconnect_ms {
            ws.get_ref().drop_now();
            return;
        }
        if stall_period > 0 && (age + stall_phase) % stall_period >= stall_period - stall_len {
            // Open but silent: read nothing, send nothing (not even pongs).
            std::thread::sleep(POLL);
            continue;
        }
        match ws.read() {
            Ok(Message::Close(_)) => {
                let _ = ws.flush();
                return;
            }
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                // Latency counts from when the message was read, not from the loop's start.
                out.now = Instant::now();
                session.on_message(m, &mut out);
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(_) => return,
        }
        out.now = Instant::now();
        let md_paused = cfg.md_paused.load(Ordering::Relaxed);
        for ev in events.try_iter() {
            if md_paused && ev.account().is_none() {
                continue;
            }
            session.on_event(&ev, &mut out);
        }
        if send_due(&mut ws, &mut out).is_err() {
            return;
        }
        if out.close && out.queue.is_empty() {
            let _ = ws.close(None);
            let _ = ws.flush();
            return;
        }
    }
}

/// Writes the queued messages that are due, in order; an error ends the connection.
fn send_due(ws: &mut WebSocket<Stream>, out: &mut Outbox) -> tungstenite::Result<()> {
    if out.queue.is_empty() {
        return Ok(());
    }
    let now = Instant::now();
    let mut i = 0;
    let mut wrote = false;
    while i < out.queue.len() {
        if out.queue[i].0 <= now {
            let (_, m) = out.queue.remove(i);
            ws.write(m)?;
            wrote = true;
        } else {
            i += 1;
        }
    }
    if wrote {
        ws.flush()?;
    }
    Ok(())
}
