//! The connection state machine of one WebSocket link:
//! `Waiting` (backoff) → `Dialing` (resolve, TCP connect) → `Handshaking` (TLS and
//! WebSocket upgrade, resumed on readiness) → `Open` → back to `Waiting` on any loss.
//!
//! Readiness is edge-triggered: `on_event` latches it, and it stays latched until an I/O
//! call on the socket returns `WouldBlock`, so stopping early (the per-poll frame budget)
//! never loses a wake-up.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mio::event::Event;
use mio::{Registry, Token};
use quanta::{Clock, Instant};
use rustls::ClientConfig;
use tungstenite::error::ProtocolError;
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::MidHandshake;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::outgoing::Outgoing;
use super::stats::{LinkState, WsStats};
use super::{Payload, SendError, WsConfig, WsError, WsEvent, WsFrame, WsHooks};
use crate::net::backoff::Backoff;
use crate::net::dial::{Dial, DialError};
use crate::net::endpoint::Endpoint;
use crate::net::transport::{Transport, take_tls_failure};

/// A self-healing WebSocket connection driven by the owner's `mio::Poll`.
pub struct WsClient<H: WsHooks> {
    config: WsConfig,
    hooks: H,
    tls: Option<Arc<ClientConfig>>,
    registry: Registry,
    token: Token,
    clock: Clock,
    state: State,
    readable: bool,
    writable: bool,
    backoff: Backoff,
    stats: WsStats,
    last_error: Option<WsError>,
    /// A loss noticed while sending, reported by the next poll.
    pending_loss: Option<WsError>,
    outbox: Vec<String>,
    /// The application ping, written here by the hooks (no allocation per ping).
    ping: String,
}

enum State {
    Waiting { until: Instant },
    Dialing(Box<Dialing>),
    Handshaking(Box<Handshaking>),
    Open(Box<Session>),
    Closed,
}

struct Dialing {
    dial: Dial,
    endpoint: Endpoint,
    url: String,
    deadline: Instant,
}

struct Handshaking {
    mid: MidHandshake<ClientHandshake<Transport>>,
    host: String,
    deadline: Instant,
}

struct Session {
    ws: WebSocket<Transport>,
    host: String,
    opened_at: Instant,
    last_data: Instant,
    next_keepalive: Instant,
    /// Frames queued in tungstenite or TLS records not yet on the socket.
    flush_pending: bool,
    /// The last write (tungstenite's flush or a drain of our own frames) hit
    /// `WouldBlock`: retry on the next writable event only.
    write_blocked: bool,
    wire_seen: (u64, u64),
    /// Frames encoded here rather than by tungstenite (see [`outgoing`]).
    out: Option<Outgoing>,
}

impl<H: WsHooks> std::fmt::Debug for WsClient<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("url", &self.config.url)
            .field("token", &self.token)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn is_would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

impl<H: WsHooks> WsClient<H> {
    /// A client for `config.url` that registers its sockets in `registry` under `token`.
    /// `tls` is required for `wss://`. Nothing happens until the first [`poll`](Self::poll).
    pub fn new(
        config: WsConfig,
        hooks: H,
        tls: Option<Arc<ClientConfig>>,
        registry: &Registry,
        token: Token,
        clock: Clock,
    ) -> Result<Self, WsError> {
        let endpoint =
            Endpoint::parse(&config.url).map_err(|e| WsError::Url { url: e.url, reason: e.reason.into() })?;
        if endpoint.tls && tls.is_none() {
            return Err(WsError::Url { url: config.url, reason: "wss:// needs a TLS configuration".into() });
        }
        let registry =
            registry.try_clone().map_err(|source| WsError::Io { host: endpoint.host.clone(), source })?;
        let now = clock.now();
        Ok(WsClient {
            backoff: Backoff::new(config.backoff),
            config,
            hooks,
            tls,
            registry,
            token,
            clock,
            state: State::Waiting { until: now },
            readable: false,
            writable: false,
            stats: WsStats::default(),
            last_error: None,
            pending_loss: None,
            outbox: Vec::new(),
            ping: String::with_capacity(128),
        })
    }

    /// Dials for the first time only `delay` after now (connections of one feed opened
    /// one after another, to keep within a venue's message rate).
    pub fn start_after(mut self, delay: Duration) -> Self {
        self.state = State::Waiting { until: self.clock.now() + delay };
        self
    }

    /// Replaces the backoff's random seed (reproducible tests).
    pub fn with_backoff_seed(mut self, seed: u64) -> Self {
        self.backoff = Backoff::with_seed(self.config.backoff, seed);
        self
    }

    pub fn token(&self) -> Token {
        self.token
    }

    /// A handle on this connection's counters, readable from any thread.
    pub fn stats(&self) -> &WsStats {
        &self.stats
    }

    /// Why the last session ended or the last attempt failed.
    pub fn last_error(&self) -> Option<&WsError> {
        self.last_error.as_ref()
    }

    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The hooks, to change what the next session subscribes to.
    pub fn hooks_mut(&mut self) -> &mut H {
        &mut self.hooks
    }

    pub fn state(&self) -> LinkState {
        match self.state {
            State::Waiting { .. } => LinkState::Backoff,
            State::Dialing(_) | State::Handshaking(_) => LinkState::Connecting,
            State::Open(_) => LinkState::Open,
            State::Closed => LinkState::Closed,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// A text sent now goes on the wire at once: the session is open and unbroken, and
    /// nothing earlier is waiting for the socket. An order that cannot wait (it would
    /// age behind a stalled socket) asks this first.
    pub fn can_send_now(&self) -> bool {
        match &self.state {
            State::Open(s) => {
                self.pending_loss.is_none()
                    && !s.write_blocked
                    && !s.flush_pending
                    && s.out.as_ref().is_some_and(Outgoing::is_empty)
            }
            _ => false,
        }
    }

    /// Latches the readiness of a `mio` event; returns false if it is not this client's.
    pub fn on_event(&mut self, event: &Event) -> bool {
        if event.token() != self.token {
            return false;
        }
        self.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
        self.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
        true
    }

    /// Queues a text message (subscription, order request) and tries to put it on the
    /// wire now. Under `WouldBlock` it stays queued and goes out on the next writable
    /// event; it is never sent twice and never dropped while the session lives.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        let State::Open(s) = &mut self.state else { return Err(SendError::NotOpen) };
        if self.pending_loss.is_some() {
            // The session broke on an earlier send; this one was not queued.
            return Err(SendError::NotOpen);
        }
        // Encoded here, without an allocation, unless tungstenite still holds frames of
        // its own that must go first (and then behind those of ours still waiting).
        let queued = s.out.as_ref().map_or(0, Outgoing::len);
        let own = s.out.is_some() && (queued > 0 || !s.flush_pending);
        if own {
            if queued + text.len() > self.config.max_send_buffer_bytes {
                return Err(SendError::BufferFull);
            }
            if let Some(out) = s.out.as_mut() {
                out.push_text(text.as_bytes());
            }
            self.stats.frame_out();
            if !s.write_blocked {
                if let Err(e) = drain_own(s) {
                    self.pending_loss = Some(classify(e.into(), &s.host, self.config.max_message_bytes));
                    return Err(SendError::Broken);
                }
            }
            return Ok(());
        }
        match s.ws.write(Message::text(text)) {
            Ok(()) => {}
            Err(e) if is_would_block(&e) => s.write_blocked = true,
            Err(tungstenite::Error::WriteBufferFull(_)) => return Err(SendError::BufferFull),
            Err(e) => {
                self.pending_loss = Some(classify(e, &s.host, self.config.max_message_bytes));
                return Err(SendError::Broken);
            }
        }
        self.stats.frame_out();
        s.flush_pending = true;
        if !s.write_blocked {
            if let Err(e) = flush(s) {
                self.pending_loss = Some(classify(e, &s.host, self.config.max_message_bytes));
                return Err(SendError::Broken);
            }
        }
        Ok(())
    }

    /// Ends the current session at once (no error counted) and reconnects on the next
    /// poll, e.g. after a MEXC listen key was replaced.
    pub fn reconnect(&mut self) {
        self.teardown();
        self.backoff.reset();
        self.state = State::Waiting { until: self.clock.now() };
        self.stats.set_state(LinkState::Backoff);
    }

    /// Closes the connection for good (best-effort close frame); it will not reconnect.
    pub fn close(&mut self) {
        if let State::Open(s) = &mut self.state {
            let _ = s.ws.close(None);
        }
        self.teardown();
        self.state = State::Closed;
        self.stats.set_state(LinkState::Closed);
    }

    /// Does a bounded amount of work and reports what happened through `on_event`;
    /// returns the number of events reported. Never blocks. `now` comes from the clock
    /// given to [`new`](Self::new) (one read per I/O-loop pass serves every client).
    pub fn poll(&mut self, now: Instant, on_event: &mut impl FnMut(WsEvent<'_>)) -> usize {
        if let Some(err) = self.pending_loss.take() {
            self.lose(now, err, on_event);
            return 1;
        }
        let result = match &mut self.state {
            State::Closed => return 0,
            State::Waiting { until } => {
                if now < *until {
                    return 0;
                }
                self.start_dial(now, on_event)
            }
            State::Dialing(_) => self.step_dial(now, on_event),
            State::Handshaking(_) => self.step_handshake(now, on_event),
            State::Open(_) => self.step_open(now, on_event),
        };
        match result {
            Ok(n) => n,
            Err(err) => {
                self.lose(now, err, on_event);
                1
            }
        }
    }

    fn start_dial(&mut self, now: Instant, on_event: &mut impl FnMut(WsEvent<'_>)) -> Result<usize, WsError> {
        self.stats.attempted();
        let url = self.hooks.url().unwrap_or_else(|| self.config.url.clone());
        let endpoint =
            Endpoint::parse(&url).map_err(|e| WsError::Url { url: e.url, reason: e.reason.into() })?;
        if endpoint.tls && self.tls.is_none() {
            return Err(WsError::Url { url, reason: "wss:// needs a TLS configuration".into() });
        }
        let dial = Dial::start(&endpoint.host, endpoint.port).map_err(|e| dial_error(e, &endpoint))?;
        let deadline = now + self.config.connect_timeout;
        self.state = State::Dialing(Box::new(Dialing { dial, endpoint, url, deadline }));
        self.stats.set_state(LinkState::Connecting);
        self.readable = false;
        self.writable = false;
        self.step_dial(now, on_event)
    }

    fn step_dial(&mut self, now: Instant, on_event: &mut impl FnMut(WsEvent<'_>)) -> Result<usize, WsError> {
        let State::Dialing(d) = &mut self.state else { return Ok(0) };
        let ready = std::mem::take(&mut self.readable) | std::mem::take(&mut self.writable);
        let sock = match d.dial.poll(&self.registry, self.token, ready) {
            Ok(Some(sock)) => sock,
            Ok(None) if now >= d.deadline => {
                d.dial.abort(&self.registry);
                let host = d.endpoint.host.clone();
                return Err(WsError::ConnectTimeout { host, after: self.config.connect_timeout });
            }
            Ok(None) => return Ok(0),
            Err(e) => return Err(dial_error(e, &d.endpoint)),
        };
        let host = d.endpoint.host.clone();
        let url = std::mem::take(&mut d.url);
        let deadline = d.deadline;
        let transport = match (&self.tls, d.endpoint.tls) {
            (Some(tls), true) => Transport::tls(sock, &host, tls.clone(), self.clock.clone())?,
            _ => Transport::plain(sock, &host, self.clock.clone()),
        };
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(64 << 10)
            .write_buffer_size(0)
            .max_write_buffer_size(self.config.max_send_buffer_bytes)
            .max_message_size(Some(self.config.max_message_bytes))
            .max_frame_size(Some(self.config.max_message_bytes));
        let result = tungstenite::client::client_with_config(url, transport, Some(ws_config));
        self.handshake_result(result, host, deadline, now, on_event)
    }

    fn step_handshake(
        &mut self,
        now: Instant,
        on_event: &mut impl FnMut(WsEvent<'_>),
    ) -> Result<usize, WsError> {
        let State::Handshaking(h) = &mut self.state else { return Ok(0) };
        if now >= h.deadline {
            let host = h.host.clone();
            return Err(WsError::ConnectTimeout { host, after: self.config.connect_timeout });
        }
        if !(std::mem::take(&mut self.readable) | std::mem::take(&mut self.writable)) {
            return Ok(0);
        }
        // TLS records left over from a blocked write go first.
        match h.mid.get_mut().get_mut().flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                return Err(classify(tungstenite::Error::Io(e), &h.host, self.config.max_message_bytes));
            }
            _ => {}
        }
        let State::Handshaking(h) = std::mem::replace(&mut self.state, State::Closed) else { return Ok(0) };
        let Handshaking { mid, host, deadline } = *h;
        self.handshake_result(mid.handshake(), host, deadline, now, on_event)
    }

    fn handshake_result(
        &mut self,
        result: Result<
            (WebSocket<Transport>, tungstenite::handshake::client::Response),
            HandshakeError<ClientHandshake<Transport>>,
        >,
        host: String,
        deadline: Instant,
        now: Instant,
        on_event: &mut impl FnMut(WsEvent<'_>),
    ) -> Result<usize, WsError> {
        match result {
            Ok((ws, _response)) => self.open(ws, host, now, on_event),
            Err(HandshakeError::Interrupted(mid)) => {
                self.state = State::Handshaking(Box::new(Handshaking { mid, host, deadline }));
                Ok(0)
            }
            Err(HandshakeError::Failure(e)) => Err(match classify(e, &host, self.config.max_message_bytes) {
                WsError::Protocol { host, source } | WsError::Oversize { host, source, .. } => {
                    WsError::Handshake { host, source }
                }
                other => other,
            }),
        }
    }

    fn open(
        &mut self,
        ws: WebSocket<Transport>,
        host: String,
        now: Instant,
        on_event: &mut impl FnMut(WsEvent<'_>),
    ) -> Result<usize, WsError> {
        let mut s = Box::new(Session {
            ws,
            host,
            opened_at: now,
            last_data: now,
            next_keepalive: now + self.config.keepalive_every,
            flush_pending: false,
            write_blocked: false,
            wire_seen: (0, 0),
            out: Outgoing::new(),
        });
        self.stats.opened();
        self.stats.set_state(LinkState::Open);
        // Frames that arrived together with the handshake response are already buffered
        // and will get no readiness event of their own.
        self.readable = true;
        on_event(WsEvent::Opened);
        self.outbox.clear();
        self.hooks.on_open(unix_ms(), &mut self.outbox);
        for msg in self.outbox.drain(..) {
            match s.ws.write(Message::text(msg)) {
                Ok(()) => {}
                Err(e) if is_would_block(&e) => s.write_blocked = true,
                Err(e) => return Err(classify(e, &s.host, self.config.max_message_bytes)),
            }
            self.stats.frame_out();
            s.flush_pending = true;
        }
        if s.flush_pending && !s.write_blocked {
            flush(&mut s).map_err(|e| classify(e, &s.host, self.config.max_message_bytes))?;
        }
        self.state = State::Open(s);
        Ok(1)
    }

    fn step_open(&mut self, now: Instant, on_event: &mut impl FnMut(WsEvent<'_>)) -> Result<usize, WsError> {
        let State::Open(s) = &mut self.state else { return Ok(0) };
        let limit = self.config.max_message_bytes;
        if std::mem::take(&mut self.writable) {
            s.write_blocked = false;
        }
        // Our own frames go out before tungstenite may write anything (a read flushes
        // its queued pongs); while some are left, nothing is read.
        if !s.write_blocked {
            drain_own(s).map_err(|e| classify(e.into(), &s.host, limit))?;
        }
        let own_left = s.out.as_ref().is_some_and(|o| !o.is_empty());
        let mut handled = 0;
        // A read writes what tungstenite holds first (a pong it owes): while frames of
        // ours are half written, reading stops as soon as it owes one.
        while self.readable && !(own_left && s.flush_pending) && handled < self.config.max_frames_per_poll {
            let msg = match s.ws.read() {
                Ok(msg) => msg,
                Err(e) if is_would_block(&e) => {
                    self.readable = false;
                    break;
                }
                Err(e) => return Err(classify(e, &s.host, limit)),
            };
            handled += 1;
            let payload = match &msg {
                Message::Text(text) => Payload::Text(text.as_str()),
                Message::Binary(bytes) => Payload::Binary(&bytes[..]),
                Message::Ping(_) => {
                    // tungstenite queued the pong; it must be flushed.
                    s.flush_pending = true;
                    continue;
                }
                Message::Pong(_) | Message::Frame(_) => continue,
                Message::Close(frame) => {
                    let _ = s.ws.flush();
                    let reason = match frame {
                        Some(f) => format!("close frame {} {:?}", u16::from(f.code), f.reason.as_str()),
                        None => "close frame without a code".to_owned(),
                    };
                    return Err(WsError::Closed { host: s.host.clone(), reason });
                }
            };
            let recv_raw = s.ws.get_ref().last_read_raw;
            let is_data = !self.hooks.is_heartbeat(&payload);
            if is_data {
                s.last_data = now;
            }
            self.stats.frame_in(is_data.then_some(recv_raw));
            on_event(WsEvent::Frame(WsFrame { payload, recv_raw }));
        }

        if s.ws.get_ref().has_pending_output() {
            s.flush_pending = true;
        }
        if s.flush_pending && !s.write_blocked && !own_left {
            flush(s).map_err(|e| classify(e, &s.host, limit))?;
        }

        let silent_for = now.saturating_duration_since(s.last_data);
        if silent_for >= self.config.stale_after {
            return Err(WsError::Stale { host: s.host.clone(), silent_for });
        }
        if let Some(max) = self.config.max_session {
            if now.saturating_duration_since(s.opened_at) >= max {
                return Err(WsError::SessionExpired { host: s.host.clone(), after: max });
            }
        }
        if now >= s.next_keepalive {
            s.next_keepalive = now + self.config.keepalive_every;
            let mut ping = std::mem::take(&mut self.ping);
            ping.clear();
            if self.hooks.keepalive(unix_ms(), &mut ping) {
                self.send_text(&ping).ok();
            }
            self.ping = ping;
        }
        if let State::Open(s) = &mut self.state {
            sync_wire(&self.stats, s);
        }
        Ok(handled)
    }

    /// Reports a loss, drops the connection and schedules the reconnect.
    fn lose(&mut self, now: Instant, err: WsError, on_event: &mut impl FnMut(WsEvent<'_>)) {
        self.stats.error(err.kind());
        if let State::Open(s) = &self.state {
            let served = s.last_data > s.opened_at;
            if served && now.saturating_duration_since(s.opened_at) >= self.config.backoff.reset_after {
                self.backoff.reset();
            }
        }
        self.teardown();
        let delay = self.backoff.next_delay();
        self.state = State::Waiting { until: now + delay };
        self.stats.set_state(LinkState::Backoff);
        let err = self.last_error.insert(err);
        on_event(WsEvent::Lost(err));
    }

    fn teardown(&mut self) {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Open(mut s) => {
                sync_wire(&self.stats, &mut s);
                let t = s.ws.get_mut();
                t.close();
                t.deregister(&self.registry);
            }
            State::Handshaking(mut h) => h.mid.get_mut().get_mut().deregister(&self.registry),
            State::Dialing(mut d) => d.dial.abort(&self.registry),
            State::Waiting { .. } | State::Closed => {}
        }
        self.pending_loss = None;
        self.readable = false;
        self.writable = false;
    }

    /// The clock frames are stamped with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Time until the client wants to be polled again regardless of socket events (next
    /// reconnect, keepalive or silence check); for owners that sleep in `mio::Poll::poll`.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let at = match &self.state {
            State::Waiting { until } => *until,
            State::Dialing(d) => d.deadline,
            State::Handshaking(h) => h.deadline,
            State::Open(s) => s.next_keepalive.min(s.last_data + self.config.stale_after),
            State::Closed => return None,
        };
        Some(at.saturating_duration_since(now))
    }
}

fn flush(s: &mut Session) -> Result<(), tungstenite::Error> {
    match s.ws.flush() {
        Ok(()) => {
            s.flush_pending = false;
            Ok(())
        }
        Err(e) if is_would_block(&e) => {
            s.write_blocked = true;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Writes the frames encoded by [`Outgoing`] that are waiting; marks the session
/// blocked when the socket would block with some left.
fn drain_own(s: &mut Session) -> io::Result<()> {
    let Some(out) = s.out.as_mut() else { return Ok(()) };
    if out.is_empty() {
        return Ok(());
    }
    if !out.drain(s.ws.get_mut())? {
        s.write_blocked = true;
    }
    Ok(())
}

fn sync_wire(stats: &WsStats, s: &mut Session) {
    let t = s.ws.get_ref();
    let (seen_in, seen_out) = s.wire_seen;
    if t.wire_in != seen_in || t.wire_out != seen_out {
        stats.wire(t.wire_in - seen_in, t.wire_out - seen_out);
        s.wire_seen = (t.wire_in, t.wire_out);
    }
}

fn dial_error(e: DialError, endpoint: &Endpoint) -> WsError {
    match e {
        DialError::Resolve(source) => WsError::Resolve { host: endpoint.host.clone(), source },
        DialError::Connect(source) => {
            WsError::Connect { host: endpoint.host.clone(), port: endpoint.port, source }
        }
    }
}

fn classify(e: tungstenite::Error, host: &str, limit: usize) -> WsError {
    use tungstenite::Error as E;
    let host = host.to_owned();
    match e {
        E::Io(io) => match take_tls_failure(io) {
            Ok(failure) => WsError::Tls(failure),
            Err(io) => match io.kind() {
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => WsError::Closed { host, reason: io.to_string() },
                _ => WsError::Io { host, source: io },
            },
        },
        E::Capacity(_) => WsError::Oversize { host, limit, source: e },
        E::ConnectionClosed | E::AlreadyClosed => {
            WsError::Closed { host, reason: "connection closed".to_owned() }
        }
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            WsError::Closed { host, reason: "connection dropped without a close frame".to_owned() }
        }
        E::Url(_) | E::Http(_) | E::HttpFormat(_) => WsError::Handshake { host, source: e },
        E::Protocol(_) | E::Utf8(_) | E::AttackAttempt | E::Tls(_) | E::WriteBufferFull(_) => {
            WsError::Protocol { host, source: e }
        }
    }
}
