//! The pool: a queue of serialised requests and up to `max_connections` keep-alive
//! connections, each under its own `mio::Token` (`first_token + slot`).

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use mio::event::Event;
use mio::{Registry, Token};
use quanta::{Clock, Instant};
use rustls::ClientConfig;

use super::conn::{Conn, Ctx, Pending, Step};
use super::{
    Completion, HttpConfig, HttpError, HttpSetupError, Method, Outcome, Request, RequestId, SubmitError,
};
use crate::net::endpoint::Endpoint;

/// Counters of one client (read by its owner).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpStats {
    pub submitted: u64,
    /// Completions with a response (any status).
    pub responses: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub unknown: u64,
    pub not_sent: u64,
    /// TCP (and TLS) connections opened.
    pub connections_opened: u64,
    /// Requests that went out on a connection that had served an earlier one.
    pub reused: u64,
    /// Requests moved to a fresh connection because their reused one was found closed
    /// before any byte was sent.
    pub resent_unsent: u64,
}

/// A non-blocking HTTP/1.1 client for one origin.
pub struct HttpClient {
    config: HttpConfig,
    endpoint: Endpoint,
    /// The `Host` header value, computed once.
    authority: String,
    tls: Option<Arc<ClientConfig>>,
    registry: Registry,
    clock: Clock,
    first_token: Token,
    conns: Vec<Conn>,
    queue: VecDeque<Pending>,
    next_id: u64,
    stats: HttpStats,
    /// Request buffers of finished requests, reused by `submit`.
    spare: Vec<Vec<u8>>,
    /// Failures found in `submit` / dispatch, reported by the next `poll`.
    failed: Vec<(RequestId, HttpError)>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("origin", &self.endpoint.authority())
            .field("queued", &self.queue.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `config.base_url`; its connections use the tokens
    /// `first_token .. first_token + max_connections` in `registry`.
    pub fn new(
        config: HttpConfig,
        tls: Option<Arc<ClientConfig>>,
        registry: &Registry,
        first_token: Token,
        clock: Clock,
    ) -> Result<Self, HttpSetupError> {
        let endpoint = Endpoint::parse(&config.base_url)
            .map_err(|e| HttpSetupError::Url { url: e.url, reason: e.reason })?;
        if !config.base_url.starts_with("http") {
            return Err(HttpSetupError::Url { url: config.base_url, reason: "scheme must be http or https" });
        }
        if endpoint.tls && tls.is_none() {
            return Err(HttpSetupError::NoTls);
        }
        let conns = (0..config.max_connections.max(1))
            .map(|i| Conn::new(Token(first_token.0 + i), config.max_response_bytes))
            .collect();
        Ok(HttpClient {
            registry: registry.try_clone()?,
            authority: endpoint.authority(),
            endpoint,
            tls,
            clock,
            first_token,
            conns,
            queue: VecDeque::new(),
            next_id: 0,
            stats: HttpStats::default(),
            spare: Vec::new(),
            failed: Vec::new(),
            config,
        })
    }

    /// The tokens this client's connections are registered under.
    pub fn tokens(&self) -> Range<usize> {
        self.first_token.0..self.first_token.0 + self.conns.len()
    }

    pub fn stats(&self) -> HttpStats {
        self.stats
    }

    /// Requests submitted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.queue.len() + self.conns.iter().filter(|c| c.is_busy()).count() + self.failed.len()
    }

    /// Latches a `mio` event; false if it is not for one of this client's connections.
    pub fn on_event(&mut self, event: &Event) -> bool {
        let i = event.token().0.wrapping_sub(self.first_token.0);
        match self.conns.get_mut(i) {
            Some(conn) => {
                conn.on_event(event);
                true
            }
            None => false,
        }
    }

    /// Serialises `req` and starts it at once on an idle connection, or queues it. `now`
    /// comes from the clock given to [`new`](Self::new); the request's deadline runs
    /// from here.
    pub fn submit(&mut self, req: Request<'_>, now: Instant) -> Result<RequestId, SubmitError> {
        if self.queue.len() >= self.config.max_queued {
            return Err(SubmitError::QueueFull(self.queue.len()));
        }
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.clear();
        serialize(&mut bytes, &req, &self.authority, &self.config)?;
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.stats.submitted += 1;
        let timeout = req.timeout.unwrap_or(self.config.request_timeout);
        self.queue.push_back(Pending {
            id,
            bytes,
            deadline: now + timeout,
            timeout,
            head: req.method == Method::Head,
            retried: false,
        });
        self.dispatch(now);
        Ok(id)
    }

    /// Drives every connection and reports finished requests; returns how many.
    pub fn poll(&mut self, now: Instant, on_done: &mut impl FnMut(Completion<'_>)) -> usize {
        let mut done = 0;
        let stats = &mut self.stats;
        let mut count = |c: Completion<'_>| {
            done += 1;
            match &c.outcome {
                Outcome::Ok(_) => stats.responses += 1,
                Outcome::RateLimited(_) => {
                    stats.responses += 1;
                    stats.rate_limited += 1;
                }
                Outcome::ServerError(_) => {
                    stats.responses += 1;
                    stats.server_errors += 1;
                }
                Outcome::Unknown(_) => stats.unknown += 1,
                Outcome::NotSent(_) => stats.not_sent += 1,
            }
            if c.reused_connection {
                stats.reused += 1;
            }
            on_done(c)
        };
        for (id, err) in self.failed.drain(..) {
            count(Completion { id, outcome: Outcome::NotSent(err), reused_connection: false });
        }
        let ctx = Ctx {
            registry: &self.registry,
            tls: self.tls.as_ref(),
            clock: &self.clock,
            endpoint: &self.endpoint,
            config: &self.config,
        };
        let mut open_failures = Vec::new();
        let mut requeued = 0;
        for conn in &mut self.conns {
            match conn.poll(&ctx, now, &mut count) {
                Step::Quiet | Step::Idle => {}
                Step::OpenFailed(err) => open_failures.push(err),
                Step::Requeue(req) => {
                    requeued += 1;
                    self.queue.push_front(req);
                }
            }
            if let Some(bytes) = conn.take_spare() {
                self.spare.push(bytes);
            }
        }
        // A failed connection attempt fails the oldest waiting request with the reason,
        // so a rejected certificate or a refused port is reported, not timed out.
        for err in open_failures {
            if let Some(req) = self.queue.pop_front() {
                count(Completion { id: req.id, outcome: Outcome::NotSent(err), reused_connection: false });
                self.spare.push(req.bytes);
            }
        }
        while self.queue.front().is_some_and(|r| now >= r.deadline) {
            if let Some(req) = self.queue.pop_front() {
                let err = HttpError::Timeout { host: self.endpoint.host.clone(), after: req.timeout };
                count(Completion { id: req.id, outcome: Outcome::NotSent(err), reused_connection: false });
                self.spare.push(req.bytes);
            }
        }
        self.stats.resent_unsent += requeued;
        self.spare.truncate(self.conns.len() + 8);
        self.dispatch(now);
        done
    }

    /// Puts queued requests on idle connections and opens connections for the rest.
    fn dispatch(&mut self, now: Instant) {
        let ctx = Ctx {
            registry: &self.registry,
            tls: self.tls.as_ref(),
            clock: &self.clock,
            endpoint: &self.endpoint,
            config: &self.config,
        };
        while let Some(req) = self.queue.pop_front() {
            let Some(conn) = self.conns.iter_mut().find(|c| c.is_idle()) else {
                self.queue.push_front(req);
                break;
            };
            if let Err(req) = conn.assign(&ctx, req) {
                // That idle connection had been closed by the server: try the next one.
                self.queue.push_front(req);
            }
        }
        let opening = self.conns.iter().filter(|c| c.is_opening()).count();
        let mut wanted = self.queue.len().saturating_sub(opening);
        for conn in self.conns.iter_mut().filter(|c| c.is_empty()) {
            if wanted == 0 {
                break;
            }
            wanted -= 1;
            match conn.open(&ctx, now) {
                Ok(()) => self.stats.connections_opened += 1,
                Err(err) => {
                    if let Some(req) = self.queue.pop_front() {
                        self.failed.push((req.id, err));
                        self.spare.push(req.bytes);
                    }
                }
            }
        }
    }

    /// Time until the client needs a poll regardless of socket events.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let conns = self.conns.iter().filter_map(|c| c.deadline(self.config.idle_timeout));
        let queued = self.queue.iter().map(|r| r.deadline);
        let soonest = conns.chain(queued).min()?;
        Some(if self.failed.is_empty() { soonest.saturating_duration_since(now) } else { Duration::ZERO })
    }
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Writes `req` as HTTP/1.1 bytes (request line, `Host`, the config's default headers, the
/// request's headers, `Content-Length`, body) into `out`.
pub fn serialize(
    out: &mut Vec<u8>,
    req: &Request<'_>,
    authority: &str,
    config: &HttpConfig,
) -> Result<(), SubmitError> {
    if !req.target.starts_with('/') || req.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(SubmitError::Invalid("target must start with / and hold no spaces or control bytes"));
    }
    let defaults = config.default_headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let headers = defaults.chain(req.headers.iter().copied());
    for (name, value) in headers.clone() {
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(SubmitError::Invalid("bad header name"));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(SubmitError::Invalid("header value holds CR, LF or NUL"));
        }
        for framing in ["host", "content-length", "transfer-encoding", "connection"] {
            if name.eq_ignore_ascii_case(framing) {
                return Err(SubmitError::Invalid(
                    "Host, Content-Length, Transfer-Encoding and Connection are set by the client",
                ));
            }
        }
    }
    // Piece by piece rather than through `core::fmt`: this is on the order path.
    let mut put = |parts: &[&[u8]]| parts.iter().for_each(|p| out.extend_from_slice(p));
    put(&[req.method.as_str().as_bytes(), b" ", req.target.as_bytes(), b" HTTP/1.1\r\nHost: "]);
    put(&[authority.as_bytes(), b"\r\n"]);
    for (name, value) in headers {
        put(&[name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
    }
    if !req.body.is_empty() || matches!(req.method, Method::Post | Method::Put | Method::Patch) {
        let len = crate::auth::Decimal::new(req.body.len() as u64);
        put(&[b"Content-Length: ", len.as_str().as_bytes(), b"\r\n"]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser(req: Request<'_>) -> Result<String, SubmitError> {
        let mut config = HttpConfig::new("https://api.gateio.ws");
        config.default_headers = vec![("Accept".into(), "application/json".into())];
        let endpoint = Endpoint::parse(&config.base_url).unwrap();
        let mut out = Vec::new();
        serialize(&mut out, &req, &endpoint.authority(), &config).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn serializes_requests() {
        let get = ser(Request::get("/api/v4/spot/accounts?currency=BTC").headers(&[("KEY", "k")])).unwrap();
        assert_eq!(
            get,
            "GET /api/v4/spot/accounts?currency=BTC HTTP/1.1\r\nHost: api.gateio.ws\r\n\
             Accept: application/json\r\nKEY: k\r\n\r\n"
        );
        let post = ser(Request::post("/api/v4/spot/orders", b"{}")).unwrap();
        assert!(post.ends_with("Content-Length: 2\r\n\r\n{}"), "{post}");
        let empty_post = ser(Request::post("/x", b"")).unwrap();
        assert!(empty_post.ends_with("Content-Length: 0\r\n\r\n"), "{empty_post}");
    }

    #[test]
    fn refuses_injection_and_framing_headers() {
        assert!(ser(Request::get("/a b")).is_err());
        assert!(ser(Request::get("/a\r\nX: y")).is_err());
        assert!(ser(Request::get("no-slash")).is_err());
        assert!(ser(Request::get("/").headers(&[("X", "a\r\nEvil: 1")])).is_err());
        assert!(ser(Request::get("/").headers(&[("Bad Name", "v")])).is_err());
        assert!(ser(Request::get("/").headers(&[("content-length", "5")])).is_err());
        assert!(ser(Request::get("/").headers(&[("Host", "evil")])).is_err());
    }
}
