//! Per-connection counters: written by the polling thread with plain relaxed stores (one
//! writer, no read-modify-write), read from any thread (metrics export, dashboard) through
//! a cloned [`WsStats`] handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use quanta::Clock;

use super::WsErrorKind;

/// Connection state as shown in counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Resolving, connecting or handshaking.
    Connecting = 0,
    Open = 1,
    /// Lost; waiting out the backoff delay before reconnecting.
    Backoff = 2,
    /// Closed by the owner; will not reconnect.
    Closed = 3,
}

#[derive(Debug, Default)]
struct Counters {
    frames_in: AtomicU64,
    bytes_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_out: AtomicU64,
    opens: AtomicU64,
    attempts: AtomicU64,
    last_data_raw: AtomicU64,
    state: AtomicU8,
    errors: [AtomicU64; WsErrorKind::COUNT],
}

/// A handle on one connection's counters; clone it to read them from another thread.
#[derive(Clone, Debug, Default)]
pub struct WsStats(Arc<CachePadded<Counters>>);

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsStatsSnapshot {
    /// Data frames (text and binary messages) received.
    pub frames_in: u64,
    /// Bytes read from the socket (TLS records included), over all sessions.
    pub bytes_in: u64,
    /// Text messages sent.
    pub frames_out: u64,
    /// Bytes written to the socket, over all sessions.
    pub bytes_out: u64,
    /// Sessions opened (handshake completed).
    pub opens: u64,
    /// Connection attempts started, failed ones included.
    pub attempts: u64,
    /// Raw clock of the last data frame (0 = none yet).
    pub last_data_raw: u64,
    pub state: LinkState,
    /// Sessions lost, by reason ([`WsErrorKind`] as index).
    pub errors: [u64; WsErrorKind::COUNT],
}

impl WsStatsSnapshot {
    /// Connection attempts after the first, failed ones included: how often the link
    /// had to be tried again (a venue that cannot be reached counts every attempt).
    pub fn reconnects(&self) -> u64 {
        self.attempts.saturating_sub(1)
    }

    pub fn errors_of(&self, kind: WsErrorKind) -> u64 {
        self.errors[kind as usize]
    }

    /// Connection attempts that failed before a session opened (resolve, connect,
    /// timeout, TLS, handshake, URL).
    pub fn connect_failures(&self) -> u64 {
        WsErrorKind::ALL.iter().filter(|k| k.is_connect_failure()).map(|&k| self.errors_of(k)).sum()
    }

    /// Time since the last data frame, by `clock` (the clock the client stamps with).
    pub fn last_data_age(&self, clock: &Clock) -> Option<Duration> {
        (self.last_data_raw != 0).then(|| clock.delta(self.last_data_raw, clock.raw()))
    }
}

#[inline]
fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

impl WsStats {
    pub fn snapshot(&self) -> WsStatsSnapshot {
        let c = &self.0;
        WsStatsSnapshot {
            frames_in: c.frames_in.load(Relaxed),
            bytes_in: c.bytes_in.load(Relaxed),
            frames_out: c.frames_out.load(Relaxed),
            bytes_out: c.bytes_out.load(Relaxed),
            opens: c.opens.load(Relaxed),
            attempts: c.attempts.load(Relaxed),
            last_data_raw: c.last_data_raw.load(Relaxed),
            state: match c.state.load(Relaxed) {
                1 => LinkState::Open,
                2 => LinkState::Backoff,
                3 => LinkState::Closed,
                _ => LinkState::Connecting,
            },
            errors: std::array::from_fn(|i| c.errors[i].load(Relaxed)),
        }
    }

    #[inline]
    pub(super) fn frame_in(&self, last_data_raw: Option<u64>) {
        add(&self.0.frames_in, 1);
        if let Some(raw) = last_data_raw {
            self.0.last_data_raw.store(raw, Relaxed);
        }
    }

    pub(super) fn frame_out(&self) {
        add(&self.0.frames_out, 1);
    }

    /// Adds the wire bytes a session moved since the last call.
    pub(super) fn wire(&self, bytes_in: u64, bytes_out: u64) {
        add(&self.0.bytes_in, bytes_in);
        add(&self.0.bytes_out, bytes_out);
    }

    pub(super) fn attempted(&self) {
        add(&self.0.attempts, 1);
    }

    pub(super) fn opened(&self) {
        add(&self.0.opens, 1);
    }

    pub(super) fn error(&self, kind: WsErrorKind) {
        add(&self.0.errors[kind as usize], 1);
    }

    pub(super) fn set_state(&self, state: LinkState) {
        self.0.state.store(state as u8, Relaxed);
    }
}
