//! Synthetic events and trivial stages, for the pipeline benchmark (`arb bench pipeline`),
//! the criterion benches and the runtime tests.
//!
//! A [`Source`] emits numbered [`Probe`]s, [`Relay`]s pass them on unchanged, and a
//! [`Sink`] checks that they arrive complete and in order and records their end-to-end
//! latency. In paced mode the source sends the next probe only once the sink has seen the
//! previous one, so every hop is measured on an idle pipeline (pure latency); the other
//! modes push as fast as the rings allow (throughput).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use quanta::Clock;

use crate::metrics::Recorder;
use crate::runtime::{Held, Rx, Stage, Tx};

/// A synthetic event: a sequence number and the raw clock when the source made it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Probe {
    pub seq: u64,
    pub origin: u64,
}

const _: () = assert!(std::mem::size_of::<Probe>() == 16);

/// How a [`Source`] emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// One probe at a time, the next once the sink has counted the previous one.
    Paced,
    /// Single pushes as fast as the ring accepts them.
    Single,
    /// Batched pushes of up to this many probes.
    Batched(usize),
}

/// Counters shared between a source and a sink, readable from any thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Probes the sink has received.
    pub received: CachePadded<AtomicU64>,
    /// Probes that arrived out of order or twice.
    pub disorder: CachePadded<AtomicU64>,
}

impl Progress {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }
    pub fn disorder(&self) -> u64 {
        self.disorder.load(Ordering::Acquire)
    }
}

/// Emits `limit` probes (or without end when `limit` is `u64::MAX`).
pub struct Source {
    tx: Tx<Probe>,
    clock: Clock,
    emit: Emit,
    next: u64,
    limit: u64,
    progress: Arc<Progress>,
    buf: Vec<Probe>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source").field("next", &self.next).field("limit", &self.limit).finish()
    }
}

impl Source {
    pub fn new(tx: Tx<Probe>, clock: Clock, emit: Emit, limit: u64, progress: Arc<Progress>) -> Self {
        let cap = match emit {
            Emit::Batched(n) => n.max(1),
            _ => 1,
        };
        Self { tx, clock, emit, next: 0, limit, progress, buf: Vec::with_capacity(cap) }
    }
}

impl Stage for Source {
    fn poll(&mut self) -> usize {
        if self.next >= self.limit {
            return 0;
        }
        match self.emit {
            Emit::Paced => {
                if self.progress.received() < self.next {
                    return 0;
                }
                let p = Probe { seq: self.next, origin: self.clock.raw() };
                match self.tx.push(p) {
                    Ok(()) => {
                        self.next += 1;
                        1
                    }
                    Err(_) => 0,
                }
            }
            Emit::Single => {
                let p = Probe { seq: self.next, origin: self.clock.raw() };
                match self.tx.push(p) {
                    Ok(()) => {
                        self.next += 1;
                        1
                    }
                    Err(_) => 0,
                }
            }
            Emit::Batched(n) => {
                let n = (n as u64).min(self.limit - self.next) as usize;
                let origin = self.clock.raw();
                self.buf.clear();
                self.buf.extend((0..n as u64).map(|i| Probe { seq: self.next + i, origin }));
                let pushed = self.tx.push_batch(&self.buf);
                self.next += pushed as u64;
                pushed
            }
        }
    }
}

/// Passes probes on unchanged, singly or in batches; holds what a full ring refused and
/// takes no new input until it is sent.
pub struct Relay {
    rx: Rx<Probe>,
    tx: Tx<Probe>,
    batch: usize,
    held: Held<Probe>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay").field("batch", &self.batch).finish()
    }
}

impl Relay {
    /// A relay moving up to `batch` probes per poll (1 = single pop and push).
    pub fn new(rx: Rx<Probe>, tx: Tx<Probe>, batch: usize) -> Self {
        let batch = batch.max(1);
        Self { rx, tx, batch, held: Held::new(batch) }
    }
}

impl Stage for Relay {
    fn poll(&mut self) -> usize {
        if !self.held.is_empty() {
            self.held.flush(&mut self.tx);
            return 1;
        }
        if self.batch == 1 {
            return match self.rx.pop() {
                Some(p) => {
                    self.held.push(&mut self.tx, p);
                    1
                }
                None => 0,
            };
        }
        // The holder is empty and takes a whole batch: nothing is dropped.
        let held = &mut self.held;
        let n = self.rx.drain(self.batch, |p| {
            held.hold(p);
        });
        if n > 0 {
            self.held.flush(&mut self.tx);
        }
        n
    }
}

/// Receives probes, checks their order and records their end-to-end latency.
pub struct Sink {
    rx: Rx<Probe>,
    clock: Clock,
    batch: usize,
    expected: u64,
    progress: Arc<Progress>,
    path: Recorder,
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink").field("expected", &self.expected).finish()
    }
}

impl Sink {
    pub fn new(rx: Rx<Probe>, clock: Clock, batch: usize, progress: Arc<Progress>, path: Recorder) -> Self {
        Self { rx, clock, batch: batch.max(1), expected: 0, progress, path }
    }
}

impl Stage for Sink {
    fn poll(&mut self) -> usize {
        let mut disorder = 0;
        let mut last_origin = 0;
        let expected = &mut self.expected;
        let n = self.rx.drain(self.batch, |p| {
            if p.seq != *expected {
                disorder += 1;
            }
            *expected = p.seq + 1;
            last_origin = p.origin;
        });
        if n > 0 {
            let now = self.clock.raw();
            self.path.record_at(self.clock.delta_as_nanos(last_origin, now), now);
            if disorder > 0 {
                self.progress.disorder.fetch_add(disorder, Ordering::Relaxed);
            }
            self.progress.received.fetch_add(n as u64, Ordering::Release);
        }
        n
    }
}
