//! A blocking wrapper for cold paths (start-up metadata, book snapshots, tests): its own
//! `mio::Poll` and one [`HttpClient`], one request at a time, owned results.

use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Token};
use quanta::Clock;
use rustls::ClientConfig;

use super::{HttpClient, HttpConfig, HttpError, HttpSetupError, Outcome, Request, SubmitError};

/// A response with its own buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
    pub headers: Vec<(String, String)>,
}

impl OwnedResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// [`Outcome`] with owned data.
#[derive(Debug)]
pub enum OwnedOutcome {
    Ok(OwnedResponse),
    RateLimited(OwnedResponse),
    ServerError(OwnedResponse),
    Unknown(HttpError),
    NotSent(HttpError),
}

impl OwnedOutcome {
    fn of(outcome: Outcome<'_>) -> Self {
        match outcome {
            Outcome::Ok(r) => OwnedOutcome::Ok(r.to_owned()),
            Outcome::RateLimited(r) => OwnedOutcome::RateLimited(r.to_owned()),
            Outcome::ServerError(r) => OwnedOutcome::ServerError(r.to_owned()),
            Outcome::Unknown(e) => OwnedOutcome::Unknown(e),
            Outcome::NotSent(e) => OwnedOutcome::NotSent(e),
        }
    }

    /// The response if its status is 2xx; anything else as an error.
    pub fn success(self, host: &str) -> Result<OwnedResponse, HttpError> {
        match self {
            OwnedOutcome::Ok(r) if (200..300).contains(&r.status) => Ok(r),
            OwnedOutcome::Ok(r) | OwnedOutcome::RateLimited(r) | OwnedOutcome::ServerError(r) => {
                let body = String::from_utf8_lossy(&r.body[..r.body.len().min(512)]).into_owned();
                Err(HttpError::Status { host: host.to_owned(), status: r.status, body })
            }
            OwnedOutcome::Unknown(e) | OwnedOutcome::NotSent(e) => Err(e),
        }
    }
}

/// One origin, blocking calls.
#[derive(Debug)]
pub struct BlockingHttp {
    poll: Poll,
    events: Events,
    client: HttpClient,
    clock: Clock,
    host: String,
}

impl BlockingHttp {
    pub fn new(config: HttpConfig, tls: Option<Arc<ClientConfig>>) -> Result<Self, HttpSetupError> {
        let poll = Poll::new()?;
        let clock = Clock::new();
        let host =
            super::super::endpoint::Endpoint::parse(&config.base_url).map(|e| e.host).unwrap_or_default();
        let client = HttpClient::new(config, tls, poll.registry(), Token(0), clock.clone())?;
        Ok(BlockingHttp { poll, events: Events::with_capacity(16), client, clock, host })
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Sends `req` and waits for its outcome (bounded by the request timeout).
    pub fn request(&mut self, req: Request<'_>) -> Result<OwnedOutcome, SubmitError> {
        let id = self.client.submit(req, self.clock.now())?;
        let mut result = None;
        loop {
            let now = self.clock.now();
            self.client.poll(now, &mut |c| {
                if c.id == id {
                    result = Some(OwnedOutcome::of(c.outcome));
                }
            });
            if let Some(outcome) = result.take() {
                return Ok(outcome);
            }
            let wait = self.client.next_timeout(now).unwrap_or(Duration::from_millis(50));
            // An I/O error of the poll itself only shortens the wait.
            let _ = self.poll.poll(&mut self.events, Some(wait.min(Duration::from_millis(50))));
            for event in &self.events {
                self.client.on_event(event);
            }
        }
    }

    /// `GET target`, 2xx only.
    pub fn get(&mut self, target: &str) -> Result<OwnedResponse, HttpError> {
        match self.request(Request::get(target)) {
            Ok(outcome) => outcome.success(&self.host),
            Err(e) => Err(HttpError::Io { host: self.host.clone(), source: std::io::Error::other(e) }),
        }
    }
}
