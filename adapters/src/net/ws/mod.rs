//! A non-blocking WebSocket client for venue feeds and the Gate WebSocket order API.
//!
//! Built from mio (TCP), rustls (TLS, driven by hand) and tungstenite (the handshake,
//! reading frames, control frames); the texts it sends are framed without an allocation
//! by [`outgoing`], which also says how the two writers are kept apart. One
//! I/O thread owns one `mio::Poll` and drives many [`WsClient`]s, each registered under
//! its own `mio::Token`:
//!
//! ```text
//! poll.poll(&mut events, Some(Duration::ZERO))?;
//! for ev in &events { clients[ev.token().0].on_event(ev); }
//! let now = clock.now();
//! for c in &mut clients { c.poll(now, &mut |ev| decode(ev)); }
//! ```
//!
//! `poll` never blocks: it advances the connection state machine (resolve on a helper
//! thread, non-blocking connect, TLS and WebSocket handshakes resumed on readiness),
//! delivers at most `max_frames_per_poll` messages so a busy connection cannot starve the
//! others, flushes queued pongs and sends, and checks the timers: application keepalive,
//! silence (`stale_after` without a data frame) and the handshake deadline. A lost
//! connection is reported once ([`WsEvent::Lost`]) and comes back after a jittered
//! exponential backoff; every new session asks the hooks for its subscriptions again
//! (Gate requests carry the current time and private channels need a fresh signature) and
//! is announced with [`WsEvent::Opened`], so consumers know to resync what they derived
//! from the previous session (order books).
//!
//! Messages reach the consumer without a copy: [`WsFrame`] borrows tungstenite's buffer and
//! carries the raw clock of the socket read that completed it.

mod client;
mod keepalive;
mod outgoing;
mod stats;

use std::io;
use std::time::Duration;

pub use client::WsClient;
pub use keepalive::{AppPing, StaticHooks};
pub use outgoing::Outgoing;
pub use stats::{LinkState, WsStats, WsStatsSnapshot};

use super::backoff::BackoffConfig;
use super::tls::TlsFailure;

/// How one connection behaves.
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// `ws://` or `wss://` URL; [`WsHooks::url`] may replace it on each connect.
    pub url: String,
    /// Resolve + TCP connect + TLS + WebSocket handshake must finish within this.
    pub connect_timeout: Duration,
    /// No data frame for this long means the feed is dead: reconnect.
    pub stale_after: Duration,
    /// How often [`WsHooks::keepalive`] is asked for an application ping.
    pub keepalive_every: Duration,
    /// Largest message (after reassembly of fragments) and largest frame accepted;
    /// anything bigger drops the connection.
    pub max_message_bytes: usize,
    /// Messages delivered per [`WsClient::poll`] at most.
    pub max_frames_per_poll: usize,
    /// Bytes of unsent outgoing frames allowed to queue while the socket is full.
    pub max_send_buffer_bytes: usize,
    /// Reconnect a session that has lived this long (MEXC cuts connections at 24 h).
    pub max_session: Option<Duration>,
    pub backoff: BackoffConfig,
}

impl WsConfig {
    pub fn new(url: impl Into<String>) -> Self {
        WsConfig {
            url: url.into(),
            connect_timeout: Duration::from_secs(10),
            stale_after: Duration::from_secs(30),
            keepalive_every: Duration::from_secs(15),
            max_message_bytes: 8 << 20,
            max_frames_per_poll: 64,
            max_send_buffer_bytes: 1 << 20,
            max_session: None,
            backoff: BackoffConfig::default(),
        }
    }
}

/// What a venue adapter tells the client about its protocol.
pub trait WsHooks: Send {
    /// The URL for the next connection, if it differs from the configured one (a MEXC
    /// private stream's URL carries a listen key that the caller renews over REST).
    fn url(&mut self) -> Option<String> {
        None
    }

    /// Called on every new session: push the subscription / login messages to send.
    fn on_open(&mut self, now_unix_ms: u64, out: &mut Vec<String>);

    /// Called every `keepalive_every` while open: writes the application ping into `out`
    /// (a buffer the client keeps, so that a ping allocates nothing); false when the venue
    /// has none.
    fn keepalive(&mut self, now_unix_ms: u64, out: &mut String) -> bool;

    /// True for a message that proves only that the socket is up, not that data flows (a
    /// pong): it is still delivered, but it does not reset the silence timer.
    fn is_heartbeat(&self, _frame: &Payload<'_>) -> bool {
        false
    }
}

/// A message's payload, borrowed from the client's receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

impl Payload<'_> {
    pub fn len(&self) -> usize {
        match self {
            Payload::Text(s) => s.len(),
            Payload::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A received message and when its last bytes came off the socket.
#[derive(Clone, Copy, Debug)]
pub struct WsFrame<'a> {
    pub payload: Payload<'a>,
    /// Raw clock (`quanta::Clock::raw`) of the socket read that completed the message.
    pub recv_raw: u64,
}

/// What a [`WsClient::poll`] reports to the consumer.
#[derive(Debug)]
pub enum WsEvent<'a> {
    /// A new session is open and its subscriptions are sent. Anything derived from an
    /// earlier session may have missed messages.
    Opened,
    Frame(WsFrame<'a>),
    /// The session ended; the client reconnects after backoff.
    Lost(&'a WsError),
}

/// Why a session could not be opened or was lost. Every one of these is answered by a
/// reconnect after backoff; the kind is counted in [`WsStats`].
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("resolving {host} failed: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("connecting to {host}:{port} failed: {source}")]
    Connect { host: String, port: u16, source: io::Error },
    #[error("connecting to {host} did not finish within {after:?}")]
    ConnectTimeout { host: String, after: Duration },
    #[error(transparent)]
    Tls(#[from] TlsFailure),
    #[error("WebSocket handshake with {host} failed: {source}")]
    Handshake { host: String, source: tungstenite::Error },
    #[error("no data from {host} for {silent_for:?}: connection presumed dead")]
    Stale { host: String, silent_for: Duration },
    #[error("{host} sent a message over the {limit}-byte limit: {source}")]
    Oversize { host: String, limit: usize, source: tungstenite::Error },
    #[error("WebSocket protocol violation by {host}: {source}")]
    Protocol { host: String, source: tungstenite::Error },
    #[error("{host} closed the connection: {reason}")]
    Closed { host: String, reason: String },
    #[error("I/O error with {host}: {source}")]
    Io { host: String, source: io::Error },
    #[error("session with {host} reached its {after:?} lifetime")]
    SessionExpired { host: String, after: Duration },
    #[error("bad URL {url:?}: {reason}")]
    Url { url: String, reason: String },
}

/// [`WsError`] without data, for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsErrorKind {
    Resolve,
    Connect,
    ConnectTimeout,
    Tls,
    Handshake,
    Stale,
    Oversize,
    Protocol,
    Closed,
    Io,
    SessionExpired,
    Url,
}

impl WsErrorKind {
    pub const COUNT: usize = 12;
    pub const ALL: [WsErrorKind; Self::COUNT] = [
        WsErrorKind::Resolve,
        WsErrorKind::Connect,
        WsErrorKind::ConnectTimeout,
        WsErrorKind::Tls,
        WsErrorKind::Handshake,
        WsErrorKind::Stale,
        WsErrorKind::Oversize,
        WsErrorKind::Protocol,
        WsErrorKind::Closed,
        WsErrorKind::Io,
        WsErrorKind::SessionExpired,
        WsErrorKind::Url,
    ];
}

impl WsErrorKind {
    /// Whether the error ended an attempt to connect (no session was opened), rather
    /// than an open session.
    pub fn is_connect_failure(self) -> bool {
        matches!(
            self,
            WsErrorKind::Resolve
                | WsErrorKind::Connect
                | WsErrorKind::ConnectTimeout
                | WsErrorKind::Tls
                | WsErrorKind::Handshake
                | WsErrorKind::Url
        )
    }
}

impl WsError {
    pub fn kind(&self) -> WsErrorKind {
        match self {
            WsError::Resolve { .. } => WsErrorKind::Resolve,
            WsError::Connect { .. } => WsErrorKind::Connect,
            WsError::ConnectTimeout { .. } => WsErrorKind::ConnectTimeout,
            WsError::Tls(_) => WsErrorKind::Tls,
            WsError::Handshake { .. } => WsErrorKind::Handshake,
            WsError::Stale { .. } => WsErrorKind::Stale,
            WsError::Oversize { .. } => WsErrorKind::Oversize,
            WsError::Protocol { .. } => WsErrorKind::Protocol,
            WsError::Closed { .. } => WsErrorKind::Closed,
            WsError::Io { .. } => WsErrorKind::Io,
            WsError::SessionExpired { .. } => WsErrorKind::SessionExpired,
            WsError::Url { .. } => WsErrorKind::Url,
        }
    }
}

/// Why [`WsClient::send_text`] refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No session is open; nothing was queued (an order must not wait for a reconnect).
    #[error("no open session")]
    NotOpen,
    /// The outgoing queue is over `max_send_buffer_bytes`: the socket is not draining.
    #[error("send buffer full")]
    BufferFull,
    /// The session broke while sending this text, which may have been written in part;
    /// the loss is reported on the next poll (a send after that is `NotOpen`).
    #[error("session broke while sending")]
    Broken,
}
