//! The book stage's counters: each book's own ([`BookStats`]), and the per-instrument
//! counters and best levels the stage publishes for the cold side ([`BookCounters`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::sync_time::ResyncPercentiles;
use crate::msg::Level;
use crate::types::{InstrumentId, Price, Qty};

/// Counters of one book.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookStats {
    pub updates: u64,
    pub snapshots: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub crossed: u64,
    pub stale: u64,
    pub feed_losses: u64,
    pub bad_updates: u64,
    pub buffer_overflows: u64,
    pub resyncs: u64,
    /// When the book first synced (the book stage's clock, ns); 0 until it has.
    pub first_synced_ns: u64,
}

/// Book counters readable from any thread: per instrument, updated by the book stage
/// once per maintenance pass (relaxed stores; no lock).
#[derive(Debug, Default)]
pub struct BookCounters {
    synced: Vec<AtomicU64>,
    last_id: Vec<AtomicU64>,
    gaps: Vec<AtomicU64>,
    resyncs: Vec<AtomicU64>,
    updates: Vec<AtomicU64>,
    first_synced_ns: Vec<AtomicU64>,
    bytes: Vec<AtomicU64>,
    /// Resyncs completed and their p50 and p99 (ns), per book.
    resyncs_done: Vec<AtomicU64>,
    resync_p50_ns: Vec<AtomicU64>,
    resync_p99_ns: Vec<AtomicU64>,
    /// Time every book was synced at once, and the time observed since they all first
    /// were (ns; see [`super::AllSynced`]).
    all_synced_ns: AtomicU64,
    all_observed_ns: AtomicU64,
    /// Best bid and ask price and quantity mantissas (0 when absent).
    top: Vec<[AtomicI64; 4]>,
    md_dropped: AtomicU64,
}

/// One book's counters as read from the cold side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookCounterSnapshot {
    pub synced: bool,
    pub last_id: u64,
    pub gaps: u64,
    pub resyncs: u64,
    pub updates: u64,
    /// When the book first synced (the engine clock's ns); 0 until it has.
    pub first_synced_ns: u64,
    /// Memory the book holds: its size in place plus its heap.
    pub bytes: u64,
    /// Resyncs completed (a book that had synced, lost sync, and synced again).
    pub resyncs_done: u64,
    /// Median and 99th percentile of the book's resync times, ns (0 before the first).
    pub resync_p50_ns: u64,
    pub resync_p99_ns: u64,
}

impl BookCounters {
    pub fn new(count: usize) -> Arc<Self> {
        let v = || (0..count).map(|_| AtomicU64::new(0)).collect();
        Arc::new(Self {
            synced: v(),
            last_id: v(),
            gaps: v(),
            resyncs: v(),
            updates: v(),
            first_synced_ns: v(),
            bytes: v(),
            resyncs_done: v(),
            resync_p50_ns: v(),
            resync_p99_ns: v(),
            all_synced_ns: AtomicU64::new(0),
            all_observed_ns: AtomicU64::new(0),
            top: (0..count).map(|_| std::array::from_fn(|_| AtomicI64::new(0))).collect(),
            md_dropped: AtomicU64::new(0),
        })
    }

    /// Publishes one book's counters and best levels (the stage, once per maintenance
    /// pass).
    pub(super) fn publish(&self, inst: InstrumentId, c: BookCounterSnapshot, bid: Level, ask: Level) {
        let i = inst.index();
        let set = |v: &Vec<AtomicU64>, x: u64| {
            if let Some(a) = v.get(i) {
                a.store(x, Ordering::Relaxed);
            }
        };
        set(&self.synced, u64::from(c.synced));
        set(&self.last_id, c.last_id);
        set(&self.gaps, c.gaps);
        set(&self.resyncs, c.resyncs);
        set(&self.updates, c.updates);
        set(&self.first_synced_ns, c.first_synced_ns);
        set(&self.bytes, c.bytes);
        if let Some(t) = self.top.get(i) {
            for (slot, v) in t.iter().zip([bid.price.0, bid.qty.0, ask.price.0, ask.qty.0]) {
                slot.store(v, Ordering::Relaxed);
            }
        }
    }

    /// Publishes one book's resync count and percentiles (the stage, when they change).
    pub(super) fn publish_resyncs(&self, inst: InstrumentId, p: ResyncPercentiles) {
        let i = inst.index();
        for (v, x) in
            [(&self.resyncs_done, p.count), (&self.resync_p50_ns, p.p50_ns), (&self.resync_p99_ns, p.p99_ns)]
        {
            if let Some(a) = v.get(i) {
                a.store(x, Ordering::Relaxed);
            }
        }
    }

    /// Publishes the all-synced totals (the stage, once per maintenance pass).
    pub(super) fn publish_all_synced(&self, (all_ns, observed_ns): (u64, u64)) {
        self.all_synced_ns.store(all_ns, Ordering::Relaxed);
        self.all_observed_ns.store(observed_ns, Ordering::Relaxed);
    }

    /// `(all-synced ns, observed ns)` at the last maintenance pass: the time every book
    /// was synced at once since they all first were, and that time span.
    pub fn all_synced(&self) -> (u64, u64) {
        (self.all_synced_ns.load(Ordering::Relaxed), self.all_observed_ns.load(Ordering::Relaxed))
    }

    /// Counts one overflow of the md ring (the stage).
    pub(super) fn note_md_overflow(&self) {
        self.md_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The best bid and ask (price and quantity) at the last maintenance pass; zero
    /// levels when a side is empty or the book is unsynced.
    pub fn top(&self, inst: InstrumentId) -> Option<(Level, Level)> {
        let t = self.top.get(inst.index())?;
        let v: [i64; 4] = std::array::from_fn(|k| t[k].load(Ordering::Relaxed));
        Some((Level { price: Price(v[0]), qty: Qty(v[1]) }, Level { price: Price(v[2]), qty: Qty(v[3]) }))
    }

    pub fn get(&self, inst: InstrumentId) -> BookCounterSnapshot {
        let i = inst.index();
        let get = |v: &Vec<AtomicU64>| v.get(i).map_or(0, |a| a.load(Ordering::Relaxed));
        BookCounterSnapshot {
            synced: get(&self.synced) == 1,
            last_id: get(&self.last_id),
            gaps: get(&self.gaps),
            resyncs: get(&self.resyncs),
            updates: get(&self.updates),
            first_synced_ns: get(&self.first_synced_ns),
            bytes: get(&self.bytes),
            resyncs_done: get(&self.resyncs_done),
            resync_p50_ns: get(&self.resync_p50_ns),
            resync_p99_ns: get(&self.resync_p99_ns),
        }
    }

    /// Times the md ring overflowed and every book resynced.
    pub fn md_overflows(&self) -> u64 {
        self.md_dropped.load(Ordering::Relaxed)
    }
}
