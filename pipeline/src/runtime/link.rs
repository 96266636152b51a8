//! A link: one SPSC ring (rtrb) of fixed-size `Copy` events between two stages.
//!
//! Every event is stamped with the raw clock when pushed; the consumer records the
//! push-to-pop time of every event, converted to nanoseconds (a multiply and a shift),
//! into its hop [`Recorder`]. Batched operations use rtrb's chunk API and read the clock
//! once per batch.
//!
//! What a full ring does is chosen per link ([`Backpressure`]):
//! - `Retry`: the push fails and hands the event back; the producing stage keeps it in a
//!   [`super::Held`] and stops taking new input until the ring drains (orders, state
//!   updates).
//! - `DropAndCount`: the event is dropped, counted, and an overflow flag is raised that
//!   the consumer sees with [`Rx::take_overflow`] (market data: the book stage resyncs).
//!
//! Shutdown is seen through abandonment: when one side is dropped the other side's
//! `is_abandoned` turns true.
//!
//! A push wakes a parked consumer: the consumer end binds the link to the
//! [`ThreadWaker`] of the runner thread it is polled on, and the producer end notifies
//! it after each push (a fence and a flag load; an unpark only when the consumer parked).

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_utils::CachePadded;
use quanta::Clock;
use rtrb::{PushError, RingBuffer};

use super::wake::ThreadWaker;
use crate::metrics::Recorder;

/// An event with the raw clock value at which it was pushed.
#[derive(Clone, Copy, Debug)]
pub struct Stamped<T> {
    pub stamp: u64,
    pub event: T,
}

/// What a link does when its ring is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backpressure {
    /// Hand the event back to the producer, which retries later.
    Retry,
    /// Drop the event, count it and raise the overflow flag.
    DropAndCount,
}

/// A push refused by a full `Retry` link; holds the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

#[derive(Debug)]
struct Shared {
    name: String,
    capacity: usize,
    dropped: CachePadded<AtomicU64>,
    overflow: CachePadded<AtomicBool>,
    /// The waker of the runner thread the consumer end is polled on.
    consumer: OnceLock<Arc<ThreadWaker>>,
}

/// Counters of a link, readable from any thread.
#[derive(Clone, Debug)]
pub struct LinkStats(Arc<Shared>);

impl LinkStats {
    pub fn name(&self) -> &str {
        &self.0.name
    }
    pub fn capacity(&self) -> usize {
        self.0.capacity
    }
    /// Events dropped because the ring was full (`DropAndCount` links only).
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

/// Creates a link of `capacity` events named `name`; the consumer records hop latency
/// into `hop`.
pub fn link<T: Copy + Send>(
    name: impl Into<String>,
    capacity: usize,
    backpressure: Backpressure,
    clock: Clock,
    hop: Recorder,
) -> (Tx<T>, Rx<T>) {
    let (producer, consumer) = RingBuffer::new(capacity);
    let shared = Arc::new(Shared {
        name: name.into(),
        capacity,
        dropped: CachePadded::new(AtomicU64::new(0)),
        overflow: CachePadded::new(AtomicBool::new(false)),
        consumer: OnceLock::new(),
    });
    (
        Tx { ring: producer, clock: clock.clone(), backpressure, shared: shared.clone(), waker: None },
        Rx { ring: consumer, clock, hop, shared, empty_polls: 0, bound: Cell::new(false) },
    )
}

/// The producing end of a link.
pub struct Tx<T> {
    ring: rtrb::Producer<Stamped<T>>,
    clock: Clock,
    backpressure: Backpressure,
    shared: Arc<Shared>,
    /// The consumer's waker, once its end is bound.
    waker: Option<Arc<ThreadWaker>>,
}

impl<T> fmt::Debug for Tx<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx").field("link", &self.shared.name).finish_non_exhaustive()
    }
}

impl<T: Copy> Tx<T> {
    /// Pushes one event. A full `Retry` link hands it back; a full `DropAndCount` link
    /// drops it, counts it and returns `Ok`.
    #[inline]
    pub fn push(&mut self, event: T) -> Result<(), Full<T>> {
        let stamp = self.clock.raw();
        match self.ring.push(Stamped { stamp, event }) {
            Ok(()) => {
                self.notify();
                Ok(())
            }
            Err(PushError::Full(s)) => match self.backpressure {
                Backpressure::Retry => Err(Full(s.event)),
                Backpressure::DropAndCount => {
                    self.note_dropped(1);
                    Ok(())
                }
            },
        }
    }

    /// Pushes as many of `events` as fit, in order, with one clock read, and returns how
    /// many were pushed. On a `DropAndCount` link the rest are dropped and counted, and
    /// the return value still says how many went in.
    #[inline]
    pub fn push_batch(&mut self, events: &[T]) -> usize {
        let n = self.ring.slots().min(events.len());
        if n > 0 {
            let stamp = self.clock.raw();
            if let Ok(chunk) = self.ring.write_chunk_uninit(n) {
                chunk.fill_from_iter(events[..n].iter().map(|&event| Stamped { stamp, event }));
            }
        }
        if n < events.len() && self.backpressure == Backpressure::DropAndCount {
            self.note_dropped((events.len() - n) as u64);
        }
        if n > 0 {
            self.notify();
        }
        n
    }

    /// Wakes the consumer's thread if it parked (see [`ThreadWaker`]).
    #[inline]
    fn notify(&mut self) {
        if self.waker.is_none() {
            self.waker = self.shared.consumer.get().cloned();
        }
        if let Some(w) = &self.waker {
            w.notify();
        }
    }

    /// Free slots the producer can see now.
    #[inline]
    pub fn slots(&self) -> usize {
        self.ring.slots()
    }

    /// True once the consumer has been dropped.
    pub fn is_abandoned(&self) -> bool {
        self.ring.is_abandoned()
    }

    pub fn stats(&self) -> LinkStats {
        LinkStats(self.shared.clone())
    }

    #[cold]
    fn note_dropped(&self, n: u64) {
        self.shared.dropped.fetch_add(n, Ordering::Relaxed);
        self.shared.overflow.store(true, Ordering::Release);
    }
}

/// The consuming end of a link; records the hop latency of every event it takes.
pub struct Rx<T> {
    ring: rtrb::Consumer<Stamped<T>>,
    clock: Clock,
    hop: Recorder,
    shared: Arc<Shared>,
    empty_polls: u32,
    /// Whether this end has looked for its thread's waker yet.
    bound: Cell<bool>,
}

impl<T> fmt::Debug for Rx<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rx").field("link", &self.shared.name).finish_non_exhaustive()
    }
}

/// How many empty polls pass between checks whether the hop histogram is due a flush.
const EMPTY_POLLS_PER_FLUSH_CHECK: u32 = 1024;

impl<T: Copy> Rx<T> {
    /// Takes one event, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        match self.ring.pop() {
            Ok(s) => {
                let now = self.clock.raw();
                self.hop.record_at(self.clock.delta_as_nanos(s.stamp, now), now);
                Some(s.event)
            }
            Err(_) => {
                self.note_empty();
                None
            }
        }
    }

    /// Takes up to `max` events in one batch, calling `f` on each in order, and returns
    /// how many were taken. One clock read serves the whole batch.
    #[inline]
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        let n = self.ring.slots().min(max);
        if n == 0 {
            self.note_empty();
            return 0;
        }
        let Ok(chunk) = self.ring.read_chunk(n) else {
            return 0;
        };
        let now = self.clock.raw();
        let (a, b) = chunk.as_slices();
        // Events pushed in one batch share a stamp: record each run of equal stamps once,
        // with its count. Every event is still measured exactly.
        let mut run_stamp = 0u64;
        let mut run_len = 0u64;
        for s in a.iter().chain(b) {
            if s.stamp != run_stamp {
                if run_len > 0 {
                    self.hop.record_n(self.clock.delta_as_nanos(run_stamp, now), run_len);
                }
                run_stamp = s.stamp;
                run_len = 0;
            }
            run_len += 1;
            f(s.event);
        }
        if run_len > 0 {
            self.hop.record_n(self.clock.delta_as_nanos(run_stamp, now), run_len);
        }
        chunk.commit_all();
        self.hop.maybe_flush(now);
        n
    }

    /// True once if events were dropped since the last call; clears the flag.
    #[inline]
    pub fn take_overflow(&self) -> bool {
        self.shared.overflow.load(Ordering::Relaxed) && self.shared.overflow.swap(false, Ordering::Acquire)
    }

    /// Events waiting in the ring.
    #[inline]
    pub fn len(&self) -> usize {
        self.bind();
        self.ring.slots()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bind();
        self.ring.is_empty()
    }

    /// True once the producer has been dropped.
    pub fn is_abandoned(&self) -> bool {
        self.ring.is_abandoned()
    }

    pub fn stats(&self) -> LinkStats {
        LinkStats(self.shared.clone())
    }

    /// Hands the hop histogram to the cold side now if it is due.
    pub fn flush_metrics(&mut self) {
        self.hop.maybe_flush(self.clock.raw());
    }

    /// Binds the link to the waker of the runner thread polling this end, on the first
    /// poll (cold: once per link).
    #[inline]
    fn bind(&self) {
        if !self.bound.get() {
            self.bind_slow();
        }
    }

    #[cold]
    fn bind_slow(&self) {
        self.bound.set(true);
        if let Some(w) = ThreadWaker::current() {
            let _ = self.shared.consumer.set(w);
        }
    }

    #[inline]
    fn note_empty(&mut self) {
        self.bind();
        self.empty_polls = self.empty_polls.wrapping_add(1);
        if self.empty_polls % EMPTY_POLLS_PER_FLUSH_CHECK == 0 {
            self.hop.maybe_flush(self.clock.raw());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{MetricsHub, SeriesKind};

    fn pair(cap: usize, bp: Backpressure) -> (Tx<u64>, Rx<u64>, MetricsHub) {
        let clock = Clock::new();
        let mut hub = MetricsHub::new(clock.clone());
        let rec = hub.recorder("t", SeriesKind::Hop);
        let (tx, rx) = link("t", cap, bp, clock, rec);
        (tx, rx, hub)
    }

    #[test]
    fn retry_link_hands_the_event_back_when_full() {
        let (mut tx, mut rx, _hub) = pair(2, Backpressure::Retry);
        assert_eq!(tx.push(1), Ok(()));
        assert_eq!(tx.push(2), Ok(()));
        assert_eq!(tx.push(3), Err(Full(3)));
        assert_eq!(rx.pop(), Some(1));
        assert_eq!(tx.push(3), Ok(()));
        assert_eq!(rx.pop(), Some(2));
        assert_eq!(rx.pop(), Some(3));
        assert_eq!(rx.pop(), None);
        assert!(!rx.take_overflow());
    }

    #[test]
    fn drop_link_counts_and_flags_once() {
        let (mut tx, mut rx, _hub) = pair(2, Backpressure::DropAndCount);
        for i in 0..5 {
            assert_eq!(tx.push(i), Ok(()));
        }
        assert_eq!(tx.stats().dropped(), 3);
        assert!(rx.take_overflow());
        assert!(!rx.take_overflow(), "the flag clears when taken");
        assert_eq!(rx.pop(), Some(0));
        assert_eq!(rx.pop(), Some(1));
        assert_eq!(tx.push_batch(&[7, 8, 9]), 2);
        assert_eq!(tx.stats().dropped(), 4);
        assert!(rx.take_overflow());
    }

    #[test]
    fn batches_keep_order_across_the_wrap() {
        let (mut tx, mut rx, _hub) = pair(8, Backpressure::Retry);
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        for round in 0..100 {
            let batch: Vec<u64> = (next_in..next_in + 5).collect();
            next_in += tx.push_batch(&batch) as u64;
            let max = 1 + round % 7;
            rx.drain(max, |v| {
                assert_eq!(v, next_out);
                next_out += 1;
            });
        }
        rx.drain(usize::MAX, |v| {
            assert_eq!(v, next_out);
            next_out += 1;
        });
        assert_eq!(next_in, next_out);
    }

    #[test]
    fn every_popped_event_is_measured() {
        let (mut tx, mut rx, mut hub) = pair(64, Backpressure::Retry);
        for i in 0..10 {
            tx.push(i).unwrap();
        }
        assert_eq!(rx.pop(), Some(0));
        assert_eq!(rx.drain(100, |_| {}), 9);
        drop(rx);
        hub.collect();
        assert_eq!(hub.summaries()[0].count, 10);
    }

    #[test]
    fn hops_are_recorded_in_nanoseconds() {
        // A hop of about 2 ms on the real clock: recorded in ns it lies between the
        // sleep and the wall time around it; in raw ticks of a GHz counter it would be
        // larger than that wall time by the tick rate.
        let (mut tx, mut rx, mut hub) = pair(4, Backpressure::Retry);
        let started = std::time::Instant::now();
        tx.push(1).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(rx.pop(), Some(1));
        let wall_ns = started.elapsed().as_nanos() as u64;
        drop(rx);
        hub.collect();
        let hop = hub.summaries()[0].max_ns;
        assert!(hop >= 2_000_000 && hop <= wall_ns + wall_ns / 1000, "hop {hop} ns, wall {wall_ns} ns");
    }

    #[test]
    fn abandonment_is_visible_on_both_sides() {
        let (tx, rx, _hub) = pair(4, Backpressure::Retry);
        assert!(!rx.is_abandoned());
        drop(tx);
        assert!(rx.is_abandoned());
    }
}
