//! Test clients for the simulated venues: a blocking HTTP/1.1 keep-alive client, a
//! WebSocket client, plain or TLS (trusting the sim's CA), and request signing written
//! here from the venues' documentation, independently of the sim's verifier.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ring::{digest, hmac};
use serde_json::Value;
use tungstenite::{Message, WebSocket};

pub trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn hmac512(secret: &str, msg: &str) -> String {
    hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, secret.as_bytes()), msg.as_bytes()).as_ref())
}

pub fn hmac256(secret: &str, msg: &str) -> String {
    hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), msg.as_bytes()).as_ref())
}

pub fn sha512(s: &str) -> String {
    hex(digest::digest(&digest::SHA512, s.as_bytes()).as_ref())
}

/// Splits `scheme://host:port/prefix` into (tls, host:port, prefix).
pub fn split_url(url: &str) -> (bool, String, String) {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://").or_else(|| url.strip_prefix("wss://")) {
        (true, r)
    } else {
        (false, url.strip_prefix("http://").or_else(|| url.strip_prefix("ws://")).unwrap())
    };
    match rest.split_once('/') {
        Some((h, p)) => (tls, h.to_owned(), format!("/{p}")),
        None => (tls, rest.to_owned(), String::new()),
    }
}

fn connect(url: &str, ca: Option<&Path>) -> Box<dyn Io> {
    let (tls, host, _) = split_url(url);
    let sock = TcpStream::connect(&host).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sock.set_nodelay(true).unwrap();
    if !tls {
        return Box::new(sock);
    }
    let pem = std::fs::read(ca.expect("TLS needs the CA file")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    Box::new(rustls::StreamOwned::new(conn, sock))
}

/// Certificates from PEM text (base64 between the markers).
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).map(|c| c.unwrap()).collect()
}

/// A keep-alive HTTP/1.1 client for one origin.
pub struct Http {
    io: Box<dyn Io>,
    host: String,
    prefix: String,
    buf: Vec<u8>,
    /// The last response's headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Http {
    pub fn new(base: &str, ca: Option<&Path>) -> Http {
        let (_, host, prefix) = split_url(base);
        Http { io: connect(base, ca), host, prefix, buf: Vec::new(), headers: Vec::new() }
    }

    /// The path prefix of the base URL (`/api/v4` for Gate).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Sends a request to `prefix + path_query`; returns the status and JSON body.
    pub fn call(
        &mut self,
        method: &str,
        path_query: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> (u16, Value) {
        let mut req = format!(
            "{method} {}{path_query} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.prefix,
            self.host,
            body.len()
        );
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        self.io.write_all(req.as_bytes()).unwrap();
        self.io.flush().unwrap();
        loop {
            let mut hs = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut hs);
            if let httparse::Status::Complete(n) = resp.parse(&self.buf).unwrap() {
                let len: usize = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                    .unwrap_or(0);
                if self.buf.len() >= n + len {
                    let status = resp.code.unwrap();
                    self.headers = resp
                        .headers
                        .iter()
                        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                        .collect();
                    let body: Value = serde_json::from_slice(&self.buf[n..n + len]).unwrap_or(Value::Null);
                    self.buf.drain(..n + len);
                    return (status, body);
                }
            }
            let mut chunk = [0u8; 65536];
            let k = self.io.read(&mut chunk).unwrap();
            assert!(k > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..k]);
        }
    }

    pub fn get(&mut self, path_query: &str) -> (u16, Value) {
        self.call("GET", path_query, &[], "")
    }

    /// A Gate APIv4 signed request (`KEY`, `Timestamp`, `SIGN`).
    pub fn gate(
        &mut self,
        key: &str,
        secret: &str,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
    ) -> (u16, Value) {
        let ts = (now_ms() / 1000).to_string();
        let full_path = format!("{}{path}", self.prefix);
        let sig = hmac512(secret, &format!("{method}\n{full_path}\n{query}\n{}\n{ts}", sha512(body)));
        let pq = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
        self.call(method, &pq, &[("KEY", key.to_owned()), ("Timestamp", ts), ("SIGN", sig)], body)
    }

    /// A MEXC spot signed request: parameters, `timestamp` and `signature` in the query.
    pub fn mexc(&mut self, key: &str, secret: &str, method: &str, path: &str, params: &str) -> (u16, Value) {
        let q = if params.is_empty() {
            format!("timestamp={}", now_ms())
        } else {
            format!("{params}&timestamp={}", now_ms())
        };
        let sig = hmac256(secret, &q);
        self.call(method, &format!("{path}?{q}&signature={sig}"), &[("X-MEXC-APIKEY", key.to_owned())], "")
    }

    /// A MEXC futures signed request (`ApiKey`, `Request-Time`, `Signature`).
    pub fn mexc_fut(
        &mut self,
        key: &str,
        secret: &str,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
    ) -> (u16, Value) {
        let t = now_ms().to_string();
        let param = if method == "POST" { body.to_owned() } else { query.to_owned() };
        let sig = hmac256(secret, &format!("{key}{t}{param}"));
        let pq = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
        self.call(method, &pq, &[("ApiKey", key.to_owned()), ("Request-Time", t), ("Signature", sig)], body)
    }
}

pub type Ws = WebSocket<Box<dyn Io>>;

pub fn ws(url: &str, ca: Option<&Path>) -> Ws {
    let io = connect(url, ca);
    let u = url.replacen("wss://", "ws://", 1);
    let (ws, _) = tungstenite::client(u.as_str(), io).unwrap();
    ws
}

pub fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).unwrap();
}

/// The next text or binary frame within `timeout` (None on timeout or close).
pub fn next(ws: &mut Ws, timeout: Duration) -> Option<Message> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => return Some(m),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
    None
}

/// The next text frame parsed as JSON that satisfies `pred`, skipping others.
pub fn next_json(ws: &mut Ws, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(Message::Text(t)) = next(ws, deadline - Instant::now()) {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if pred(&v) {
                return Some(v);
            }
        }
    }
    None
}

/// Decimal text of a JSON string or number.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a decimal: {other}"),
    }
}
