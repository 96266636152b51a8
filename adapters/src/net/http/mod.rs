//! A non-blocking HTTP/1.1 keep-alive client for one origin: REST order entry on the hot
//! path, metadata and book snapshots on cold paths ([`BlockingHttp`]).
//!
//! `submit` serialises a request and puts it on an idle pooled connection at once (or
//! queues it); `poll` drives the connections and reports each finished request exactly
//! once as a [`Completion`]. Connections are kept alive and reused, one request at a
//! time each; a connection the server closed while idle is noticed and replaced without
//! the request ever touching it.
//!
//! The outcome of an order request must be honest ([`Outcome`]):
//! - a request that never reached the socket is [`Outcome::NotSent`]: safe to retry;
//! - a request that may have reached the server but got no complete answer (timeout,
//!   connection lost, unreadable response) is [`Outcome::Unknown`], and so is, to the
//!   caller, a 5xx ([`Outcome::ServerError`]): the order must be reconciled by query or
//!   stream, never re-sent blindly. Nothing here retries such a request.
//! - 429 / 418 come back as [`Outcome::RateLimited`] with `Retry-After` parsed; callers
//!   wait [`retry_delay`](crate::net::backoff::retry_delay) before the next attempt.

mod blocking;
mod client;
mod conn;
mod parse;

use std::fmt;
use std::io;
use std::time::Duration;

pub use blocking::{BlockingHttp, OwnedOutcome, OwnedResponse};
pub use client::{HttpClient, HttpStats, serialize};
pub use parse::ParseError;
#[cfg(feature = "fuzzing")]
pub use parse::{ParsedResponse, parse_response};

use self::parse::HeaderSpan;
use super::tls::TlsFailure;

/// How one origin's client behaves.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `http://` or `https://` origin; a path here is ignored (requests carry theirs).
    pub base_url: String,
    /// Keep-alive connections at most (requests in flight at once).
    pub max_connections: usize,
    /// Resolve + connect + TLS handshake must finish within this.
    pub connect_timeout: Duration,
    /// Default for requests that set no timeout: submit to complete response.
    pub request_timeout: Duration,
    /// Largest response accepted (head, framing and body).
    pub max_response_bytes: usize,
    /// Idle connections older than this are closed before the server's own keep-alive
    /// timeout can race with a new request.
    pub idle_timeout: Duration,
    /// Requests waiting for a connection at most.
    pub max_queued: usize,
    /// Sent on every request (e.g. `Accept`, `User-Agent`).
    pub default_headers: Vec<(String, String)>,
}

impl HttpConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        HttpConfig {
            base_url: base_url.into(),
            max_connections: 4,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 16 << 20,
            idle_timeout: Duration::from_secs(30),
            max_queued: 256,
            default_headers: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }
}

/// A request to submit; borrowed, serialised at submit.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: Method,
    /// Path and query, starting with `/`.
    pub target: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Overrides the configured request timeout.
    pub timeout: Option<Duration>,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, target: &'a str) -> Self {
        Request { method, target, headers: &[], body: &[], timeout: None }
    }

    pub fn get(target: &'a str) -> Self {
        Request::new(Method::Get, target)
    }

    pub fn post(target: &'a str, body: &'a [u8]) -> Self {
        Request { body, ..Request::new(Method::Post, target) }
    }

    pub fn headers(self, headers: &'a [(&'a str, &'a str)]) -> Self {
        Request { headers, ..self }
    }

    pub fn timeout(self, timeout: Duration) -> Self {
        Request { timeout: Some(timeout), ..self }
    }
}

/// Identifies a submitted request in its [`Completion`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A complete response, borrowed from the connection's buffers.
#[derive(Clone, Copy)]
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// `Retry-After` in delta-seconds form, if present.
    pub retry_after: Option<Duration>,
    head: &'a [u8],
    headers: &'a [HeaderSpan],
}

impl<'a> Response<'a> {
    /// A response of `status` and `body` with no headers, for the venues' answer tests.
    #[cfg(test)]
    pub(crate) fn for_test(status: u16, body: &'a [u8]) -> Self {
        Response { status, body, retry_after: None, head: b"", headers: &[] }
    }

    /// The first header called `name` (case-insensitive), if its value is text.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let head = self.head;
        self.headers
            .iter()
            .find(|h| h.name(head).eq_ignore_ascii_case(name.as_bytes()))
            .and_then(|h| std::str::from_utf8(h.value(head)).ok())
    }

    /// A header holding an unsigned integer (rate-limit counters and reset times).
    pub fn header_u64(&self, name: &str) -> Option<u64> {
        self.header(name)?.trim().parse().ok()
    }

    /// All headers, as received.
    pub fn headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + '_ {
        let head = self.head;
        self.headers.iter().map(move |h| (h.name(head), h.value(head)))
    }

    pub fn to_owned(&self) -> OwnedResponse {
        OwnedResponse {
            status: self.status,
            body: self.body.to_vec(),
            retry_after: self.retry_after,
            headers: self
                .headers()
                .map(|(n, v)| {
                    (String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned())
                })
                .collect(),
        }
    }
}

impl fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

/// How a request ended.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// A response below 500 other than 429 / 418 (4xx included: a rejected order).
    Ok(Response<'a>),
    /// 429 Too Many Requests or 418 (MEXC's ban): back off for at least `retry_after`.
    RateLimited(Response<'a>),
    /// 5xx: the server saw the request; for an order its state is unknown.
    ServerError(Response<'a>),
    /// The request may have reached the server, but no complete response came back.
    Unknown(HttpError),
    /// The request never reached the socket; it is safe to send again.
    NotSent(HttpError),
}

impl<'a> Outcome<'a> {
    pub fn response(&self) -> Option<&Response<'a>> {
        match self {
            Outcome::Ok(r) | Outcome::RateLimited(r) | Outcome::ServerError(r) => Some(r),
            Outcome::Unknown(_) | Outcome::NotSent(_) => None,
        }
    }

    fn of(response: Response<'a>) -> Self {
        match response.status {
            429 | 418 => Outcome::RateLimited(response),
            500.. => Outcome::ServerError(response),
            _ => Outcome::Ok(response),
        }
    }
}

#[cfg(feature = "fuzzing")]
impl<'a> Outcome<'a> {
    /// For fuzzing and tests: how a request ended, picked by `class` (modulo 10): an
    /// answer with `body` and status 200, 201, 400, 401, 404, 418, 429 or 500 (each
    /// classed as the client classes it), no answer (`Unknown`), or never sent.
    pub(crate) fn for_fuzzing(class: u8, body: &'a [u8]) -> Self {
        const STATUS: [u16; 8] = [200, 201, 400, 401, 404, 418, 429, 500];
        let host = "fuzz".to_owned();
        match usize::from(class) % 10 {
            8 => Outcome::Unknown(HttpError::Timeout { host, after: Duration::from_secs(1) }),
            9 => Outcome::NotSent(HttpError::Closed { host, when: "before the request was written" }),
            i => Outcome::of(Response {
                status: STATUS[i],
                body,
                retry_after: Some(Duration::from_secs(1)),
                head: &[],
                headers: &[],
            }),
        }
    }
}

/// One finished request.
#[derive(Debug)]
pub struct Completion<'a> {
    pub id: RequestId,
    pub outcome: Outcome<'a>,
    /// The request went out on a connection that had served an earlier one.
    pub reused_connection: bool,
}

/// Why a request failed without a response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("resolving {host} failed: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("connecting to {host}:{port} failed: {source}")]
    Connect { host: String, port: u16, source: io::Error },
    #[error("connecting to {host} did not finish within {after:?}")]
    ConnectTimeout { host: String, after: Duration },
    #[error(transparent)]
    Tls(#[from] TlsFailure),
    #[error("no response from {host} within {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("{host} closed the connection {when}")]
    Closed { host: String, when: &'static str },
    #[error("bad response from {host}: {source}")]
    Response { host: String, source: ParseError },
    #[error("I/O error with {host}: {source}")]
    Io { host: String, source: io::Error },
    #[error("HTTP {status} from {host}: {body}")]
    Status { host: String, status: u16, body: String },
}

/// Why `submit` refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("{0} requests already waiting")]
    QueueFull(usize),
    #[error("invalid request: {0}")]
    Invalid(&'static str),
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("bad URL {url:?}: {reason}")]
    Url { url: String, reason: &'static str },
    #[error("https:// needs a TLS configuration")]
    NoTls,
    #[error("I/O setup: {0}")]
    Io(#[from] io::Error),
}
