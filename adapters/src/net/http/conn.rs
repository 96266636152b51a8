//! One pooled keep-alive connection: `Empty` → `Dialing` → `Handshaking` (TLS finished
//! before any request touches it) → `Idle` ⇄ `Busy` → `Empty` when closed.
//!
//! A request's fate on failure depends on whether any of its bytes reached the socket:
//! none (and the connection was a reused one) → handed back for a fresh connection;
//! none (fresh connection) → `NotSent`; some → `Unknown`.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use mio::{Registry, Token};
use quanta::{Clock, Instant};
use rustls::ClientConfig;

use super::parse::{Progress, ResponseParser};
use super::{Completion, HttpConfig, HttpError, Outcome, RequestId, Response};
use crate::net::dial::{Dial, DialError};
use crate::net::endpoint::Endpoint;
use crate::net::transport::{Transport, take_tls_failure};

/// Bytes read from the socket per read call.
const READ_CHUNK: usize = 16 << 10;

/// A serialised request waiting for, or on, a connection.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: RequestId,
    pub(crate) bytes: Vec<u8>,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    pub(crate) head: bool,
    /// Already handed back once by a reused connection that turned out dead.
    pub(crate) retried: bool,
}

#[derive(Debug)]
struct InFlight {
    req: Pending,
    written: usize,
    wire_out_start: u64,
    reused: bool,
}

#[derive(Debug)]
enum Phase {
    Empty,
    Dialing { dial: Dial, deadline: Instant },
    Handshaking { deadline: Instant },
    Idle { since: Instant },
    Busy,
}

/// What the pool needs to know after driving a connection.
#[derive(Debug)]
pub(crate) enum Step {
    Quiet,
    /// Ready for a request.
    Idle,
    /// Could not be opened; the connection is empty again.
    OpenFailed(HttpError),
    /// This request never reached the server over a reused connection that turned out
    /// dead: send it on another.
    Requeue(Pending),
}

/// Everything a connection borrows from its pool.
pub(crate) struct Ctx<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) tls: Option<&'a Arc<ClientConfig>>,
    pub(crate) clock: &'a Clock,
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) config: &'a HttpConfig,
}

#[derive(Debug)]
pub(crate) struct Conn {
    token: Token,
    phase: Phase,
    t: Option<Transport>,
    readable: bool,
    writable: bool,
    /// Requests completed on this TCP connection.
    served: u64,
    req: Option<InFlight>,
    /// An error met while writing in `assign`, reported by the next `poll`.
    write_error: Option<io::Error>,
    rbuf: Vec<u8>,
    body: Vec<u8>,
    parser: ResponseParser,
    /// The buffer of the last finished request, for the pool to reuse.
    spare: Option<Vec<u8>>,
}

impl Conn {
    pub(crate) fn new(token: Token, max_response_bytes: usize) -> Self {
        Conn {
            token,
            phase: Phase::Empty,
            t: None,
            readable: false,
            writable: false,
            served: 0,
            req: None,
            write_error: None,
            rbuf: Vec::new(),
            body: Vec::new(),
            parser: ResponseParser::new(max_response_bytes),
            spare: None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self.phase, Phase::Empty)
    }

    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Idle { .. })
    }

    pub(crate) fn is_opening(&self) -> bool {
        matches!(self.phase, Phase::Dialing { .. } | Phase::Handshaking { .. })
    }

    pub(crate) fn is_busy(&self) -> bool {
        matches!(self.phase, Phase::Busy)
    }

    pub(crate) fn on_event(&mut self, event: &mio::event::Event) {
        self.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
        self.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
    }

    /// The earliest time this connection needs a poll without any socket event.
    pub(crate) fn deadline(&self, idle_timeout: Duration) -> Option<Instant> {
        match &self.phase {
            Phase::Empty => None,
            Phase::Dialing { deadline, .. } | Phase::Handshaking { deadline } => Some(*deadline),
            Phase::Idle { since } => Some(*since + idle_timeout),
            Phase::Busy => self.req.as_ref().map(|r| r.req.deadline),
        }
    }

    /// Starts opening a connection.
    pub(crate) fn open(&mut self, ctx: &Ctx<'_>, now: Instant) -> Result<(), HttpError> {
        let dial = Dial::start(&ctx.endpoint.host, ctx.endpoint.port).map_err(|e| dial_error(e, ctx))?;
        self.phase = Phase::Dialing { dial, deadline: now + ctx.config.connect_timeout };
        self.served = 0;
        self.readable = false;
        self.writable = false;
        Ok(())
    }

    /// Puts `req` on this idle connection and starts writing it. Returns it if the
    /// connection turned out to be closed (nothing was written).
    pub(crate) fn assign(&mut self, ctx: &Ctx<'_>, req: Pending) -> Result<(), Pending> {
        let Some(t) = &mut self.t else { return Err(req) };
        if !matches!(self.phase, Phase::Idle { .. }) || !probe_alive(t) {
            self.close(ctx.registry);
            return Err(req);
        }
        self.rbuf.clear();
        self.body.clear();
        self.parser.reset(req.head);
        self.req = Some(InFlight { wire_out_start: t.wire_out, written: 0, reused: self.served > 0, req });
        self.phase = Phase::Busy;
        if let Err(e) = self.write_some() {
            self.write_error = Some(e);
        }
        Ok(())
    }

    /// Drives the connection; reports a finished request through `on_done`.
    pub(crate) fn poll(
        &mut self,
        ctx: &Ctx<'_>,
        now: Instant,
        on_done: &mut impl FnMut(Completion<'_>),
    ) -> Step {
        match &mut self.phase {
            Phase::Empty => Step::Quiet,
            Phase::Dialing { dial, deadline } => {
                let ready = std::mem::take(&mut self.readable) | std::mem::take(&mut self.writable);
                match dial.poll(ctx.registry, self.token, ready) {
                    Ok(Some(sock)) => {
                        let deadline = *deadline;
                        let t = match (ctx.tls, ctx.endpoint.tls) {
                            (Some(tls), true) => {
                                match Transport::tls(sock, &ctx.endpoint.host, tls.clone(), ctx.clock.clone())
                                {
                                    Ok(t) => t,
                                    Err(e) => {
                                        self.phase = Phase::Empty;
                                        return Step::OpenFailed(HttpError::Tls(e));
                                    }
                                }
                            }
                            _ => Transport::plain(sock, &ctx.endpoint.host, ctx.clock.clone()),
                        };
                        self.t = Some(t);
                        self.phase = Phase::Handshaking { deadline };
                        self.handshake(ctx, now)
                    }
                    Ok(None) if now >= *deadline => {
                        dial.abort(ctx.registry);
                        self.phase = Phase::Empty;
                        let after = ctx.config.connect_timeout;
                        Step::OpenFailed(HttpError::ConnectTimeout { host: ctx.endpoint.host.clone(), after })
                    }
                    Ok(None) => Step::Quiet,
                    Err(e) => {
                        self.phase = Phase::Empty;
                        Step::OpenFailed(dial_error(e, ctx))
                    }
                }
            }
            Phase::Handshaking { .. } => {
                if !(std::mem::take(&mut self.readable) | std::mem::take(&mut self.writable)) {
                    return self.handshake_deadline(ctx, now);
                }
                self.handshake(ctx, now)
            }
            Phase::Idle { since } => {
                let expired = now.saturating_duration_since(*since) >= ctx.config.idle_timeout;
                let closed =
                    std::mem::take(&mut self.readable) && self.t.as_mut().is_none_or(|t| !probe_alive(t));
                if expired || closed {
                    self.close(ctx.registry);
                }
                Step::Quiet
            }
            Phase::Busy => self.poll_busy(ctx, now, on_done),
        }
    }

    fn handshake(&mut self, ctx: &Ctx<'_>, now: Instant) -> Step {
        let Some(t) = &mut self.t else { return Step::Quiet };
        match t.drive_handshake() {
            Ok(true) => {
                self.phase = Phase::Idle { since: now };
                Step::Idle
            }
            Ok(false) => self.handshake_deadline(ctx, now),
            Err(e) => {
                self.close(ctx.registry);
                Step::OpenFailed(io_error(e, ctx, "during the TLS handshake"))
            }
        }
    }

    fn handshake_deadline(&mut self, ctx: &Ctx<'_>, now: Instant) -> Step {
        match self.phase {
            Phase::Handshaking { deadline } if now >= deadline => {
                self.close(ctx.registry);
                let after = ctx.config.connect_timeout;
                Step::OpenFailed(HttpError::ConnectTimeout { host: ctx.endpoint.host.clone(), after })
            }
            _ => Step::Quiet,
        }
    }

    fn poll_busy(&mut self, ctx: &Ctx<'_>, now: Instant, on_done: &mut impl FnMut(Completion<'_>)) -> Step {
        if let Some(e) = self.write_error.take() {
            return self.fail(ctx, io_error(e, ctx, "while the request was written"), on_done);
        }
        if std::mem::take(&mut self.writable) {
            if let Err(e) = self.write_some() {
                return self.fail(ctx, io_error(e, ctx, "while the request was written"), on_done);
            }
        }
        // A response already waiting in the socket wins over a deadline that just passed.
        if self.readable {
            if let Some(step) = self.read_response(ctx, now, on_done) {
                return step;
            }
        }
        if let Some(r) = self.req.as_ref().filter(|r| now >= r.req.deadline) {
            let err = HttpError::Timeout { host: ctx.endpoint.host.clone(), after: r.req.timeout };
            return self.fail(ctx, err, on_done);
        }
        Step::Quiet
    }

    /// Reads until the response is complete (`Some`) or the socket is drained (`None`).
    fn read_response(
        &mut self,
        ctx: &Ctx<'_>,
        now: Instant,
        on_done: &mut impl FnMut(Completion<'_>),
    ) -> Option<Step> {
        let limit = ctx.config.max_response_bytes;
        loop {
            let t = self.t.as_mut()?;
            let start = self.rbuf.len();
            // One byte past the limit is enough to know the response is too large.
            let room = READ_CHUNK.min(limit + 1 - start.min(limit));
            self.rbuf.resize(start + room.max(1), 0);
            let read = t.read(&mut self.rbuf[start..]);
            self.rbuf.truncate(start + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => {
                    if self.parser.at_eof() {
                        return Some(self.complete(ctx, now, false, on_done));
                    }
                    let when = if self.parser.started(&self.rbuf) {
                        "in the middle of the response"
                    } else {
                        "before responding"
                    };
                    let err = HttpError::Closed { host: ctx.endpoint.host.clone(), when };
                    return Some(self.fail(ctx, err, on_done));
                }
                Ok(_) => match self.parser.advance(&mut self.rbuf, &mut self.body) {
                    Ok(Progress::Done) => return Some(self.complete(ctx, now, true, on_done)),
                    Ok(Progress::NeedMore) => {}
                    Err(source) => {
                        let err = HttpError::Response { host: ctx.endpoint.host.clone(), source };
                        return Some(self.fail(ctx, err, on_done));
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return None;
                }
                Err(e) => {
                    let err = io_error(e, ctx, "in the middle of the response");
                    return Some(self.fail(ctx, err, on_done));
                }
            }
        }
    }

    /// Writes as much of the request as the socket takes.
    fn write_some(&mut self) -> io::Result<()> {
        let (Some(t), Some(r)) = (&mut self.t, &mut self.req) else { return Ok(()) };
        while r.written < r.req.bytes.len() {
            match t.write(&r.req.bytes[r.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => r.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        match t.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }

    fn complete(
        &mut self,
        ctx: &Ctx<'_>,
        now: Instant,
        reusable: bool,
        on_done: &mut impl FnMut(Completion<'_>),
    ) -> Step {
        let Some(r) = self.req.take() else { return Step::Quiet };
        let Some(head) = self.parser.head() else { return Step::Quiet };
        let keep = reusable && head.keep_alive && !self.parser.has_trailing_bytes(&self.rbuf);
        let response = Response {
            status: head.status,
            body: self.parser.body(&self.rbuf, &self.body),
            retry_after: head.retry_after,
            head: &self.rbuf,
            headers: &head.headers,
        };
        on_done(Completion { id: r.req.id, outcome: Outcome::of(response), reused_connection: r.reused });
        self.spare = Some(r.req.bytes);
        self.served += 1;
        if keep {
            self.phase = Phase::Idle { since: now };
            // Bytes that arrived after the response would have been caught above; any
            // readiness left is for the next response or a close.
            Step::Idle
        } else {
            self.close(ctx.registry);
            Step::Quiet
        }
    }

    fn fail(&mut self, ctx: &Ctx<'_>, err: HttpError, on_done: &mut impl FnMut(Completion<'_>)) -> Step {
        let maybe_sent = match (&self.t, &self.req) {
            (Some(t), Some(r)) => t.wire_out > r.wire_out_start,
            _ => false,
        };
        self.close(ctx.registry);
        let Some(r) = self.req.take() else { return Step::Quiet };
        if !maybe_sent && r.reused && !r.req.retried {
            return Step::Requeue(Pending { retried: true, ..r.req });
        }
        let outcome = if maybe_sent { Outcome::Unknown(err) } else { Outcome::NotSent(err) };
        on_done(Completion { id: r.req.id, outcome, reused_connection: r.reused });
        self.spare = Some(r.req.bytes);
        Step::Quiet
    }

    pub(crate) fn close(&mut self, registry: &Registry) {
        if let Phase::Dialing { dial, .. } = &mut self.phase {
            dial.abort(registry);
        }
        if let Some(mut t) = self.t.take() {
            t.close();
            t.deregister(registry);
        }
        self.phase = Phase::Empty;
        self.readable = false;
        self.writable = false;
    }

    pub(crate) fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.spare.take()
    }
}

/// A non-blocking read on an idle connection: `WouldBlock` means it is still open.
/// Anything else (EOF, TLS close_notify, unsolicited bytes, an error) means it is not
/// fit for a request.
fn probe_alive(t: &mut Transport) -> bool {
    let mut byte = [0u8; 1];
    matches!(t.read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

fn dial_error(e: DialError, ctx: &Ctx<'_>) -> HttpError {
    let host = ctx.endpoint.host.clone();
    match e {
        DialError::Resolve(source) => HttpError::Resolve { host, source },
        DialError::Connect(source) => HttpError::Connect { host, port: ctx.endpoint.port, source },
    }
}

fn io_error(e: io::Error, ctx: &Ctx<'_>, when: &'static str) -> HttpError {
    let host = ctx.endpoint.host.clone();
    match take_tls_failure(e) {
        Ok(failure) => HttpError::Tls(failure),
        Err(e) => match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => HttpError::Closed { host, when },
            _ => HttpError::Io { host, source: e },
        },
    }
}
