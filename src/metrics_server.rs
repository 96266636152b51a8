//! The `--metrics ADDR` endpoint: Prometheus text on `GET /metrics`, JSON on
//! `GET /health` (200 when healthy, 503 otherwise), from the moment a start begins: while
//! it waits for instrument metadata the answers say so, then they report the engine. A plain HTTP/1.1 server on its own
//! cold thread: one request per connection, many connections at once
//! ([`crate::request_server`]), nothing shared with the hot path but the telemetry
//! handle. A request head must arrive whole within [`DEADLINE`] (else 408) and be at most
//! [`MAX_HEAD`] bytes (else 431), so a slow or hostile client never delays a probe.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::instruments::MetadataStatus;
use crate::request_server::{Limits, Listener, Protocol, RequestServer};
use crate::telemetry::{Starting, Telemetry};

/// The largest request head (request line and headers) served.
pub const MAX_HEAD: usize = 8192;
/// Time a client has to send its whole request head.
pub const DEADLINE: Duration = Duration::from_secs(2);

const LIMITS: Limits = Limits {
    max_request: MAX_HEAD,
    deadline: DEADLINE,
    max_connections: 256,
    linger: Duration::from_secs(1),
};

/// A running metrics endpoint; stops when dropped.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    source: Arc<Mutex<Source>>,
    _server: RequestServer,
}

/// `PORT` binds 127.0.0.1; `HOST:PORT` binds as given.
pub fn parse_addr(addr: &str) -> Result<SocketAddr> {
    crate::config::listen_addr(addr).with_context(|| format!("--metrics {addr:?}"))
}

/// What the endpoint reports: a start still waiting for instrument metadata, or the
/// running engine.
#[derive(Debug)]
enum Source {
    Starting(Starting),
    Running(Box<Telemetry>),
}

impl MetricsServer {
    /// Serves a running engine's telemetry.
    pub fn start(addr: &str, telemetry: Telemetry) -> Result<Self> {
        Self::bind(addr, Source::Running(Box::new(telemetry)))
    }

    /// Serves a start that waits for instrument metadata (`status`); [`serve`](Self::serve)
    /// switches to the engine once it runs.
    pub fn start_waiting(addr: &str, status: Arc<MetadataStatus>) -> Result<Self> {
        Self::bind(addr, Source::Starting(Starting { status, since: Instant::now() }))
    }

    fn bind(addr: &str, source: Source) -> Result<Self> {
        let addr = parse_addr(addr)?;
        let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let source = Arc::new(Mutex::new(source));
        let http = Http { source: source.clone() };
        let server = RequestServer::start("metrics", Listener::tcp(listener)?, LIMITS, http)
            .with_context(|| format!("cannot serve {addr}"))?;
        Ok(Self { addr, source, _server: server })
    }

    /// From now on, reports the running engine.
    pub fn serve(&self, telemetry: Telemetry) {
        if let Ok(mut s) = self.source.lock() {
            *s = Source::Running(Box::new(telemetry));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

struct Http {
    source: Arc<Mutex<Source>>,
}

impl Protocol for Http {
    fn answer(&mut self, received: &[u8], _eof: bool) -> Option<Vec<u8>> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let path = match req.parse(received) {
            Ok(httparse::Status::Complete(_)) => req.path.unwrap_or("/"),
            // Cut short: no answer.
            Ok(httparse::Status::Partial) => return None,
            Err(_) => return Some(respond(400, "text/plain", "bad request\n")),
        };
        let Ok(source) = self.source.lock() else {
            return Some(respond(503, "text/plain", "unavailable\n"));
        };
        Some(match path.split('?').next().unwrap_or("") {
            "/metrics" => {
                let text = match &*source {
                    Source::Starting(s) => s.prometheus(),
                    Source::Running(t) => t.prometheus(),
                };
                respond(200, "text/plain; version=0.0.4", &text)
            }
            "/health" => {
                let (ok, body) = match &*source {
                    Source::Starting(s) => s.health(),
                    Source::Running(t) => t.health(),
                };
                respond(if ok { 200 } else { 503 }, "application/json", &format!("{body}\n"))
            }
            _ => respond(404, "text/plain", "try /metrics or /health\n"),
        })
    }

    fn too_large(&mut self) -> Vec<u8> {
        respond(431, "text/plain", &format!("request head larger than {MAX_HEAD} bytes\n"))
    }

    fn too_slow(&mut self) -> Vec<u8> {
        respond(408, "text/plain", &format!("request head not complete within {DEADLINE:?}\n"))
    }
}

fn respond(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_addr("9100").unwrap().to_string(), "127.0.0.1:9100");
        assert_eq!(parse_addr("0.0.0.0:9100").unwrap().to_string(), "0.0.0.0:9100");
        assert!(parse_addr("localhost").is_err());
    }
}
