//! Single-writer cells readable from the cold side without a lock: the primitives every
//! stage's statistics are made of.
//!
//! Each cell has exactly one writer (the stage that owns it), so an increment is a
//! relaxed load and store, not a locked read-modify-write; readers on any thread see a
//! value that is at most a few events old. Exact amounts (P&L, in [`Amount`]'s i128) are
//! published through an [`AmountCell`], a seqlock built from atomics only: the writer
//! makes the sequence odd, writes both halves, and makes it even again; a reader retries
//! until it sees the same even sequence before and after. The writer never waits.
//!
//! The stages import these; the report that gathers every stage's statistics
//! ([`crate::stats`]) sits above the stages.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering, fence};

use crate::types::{Amount, InstrumentId, Qty};

/// A single-writer event counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds one. Only the owning stage's thread calls this.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`. Only the owning stage's thread calls this.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The values of a set of counters, in order (a snapshot of per-kind counters).
pub fn read<const N: usize>(counters: &[Counter; N]) -> [u64; N] {
    std::array::from_fn(|i| counters[i].get())
}

/// A single-writer signed gauge.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub const fn new() -> Self {
        Self(AtomicI64::new(0))
    }
    #[inline]
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    #[inline]
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A single-writer exact [`Amount`] readable from any thread (a seqlock of atomics).
#[derive(Debug, Default)]
pub struct AmountCell {
    seq: AtomicU64,
    hi: AtomicU64,
    lo: AtomicU64,
}

impl AmountCell {
    pub const fn new() -> Self {
        Self { seq: AtomicU64::new(0), hi: AtomicU64::new(0), lo: AtomicU64::new(0) }
    }

    /// Publishes `a`. Only the owning stage's thread calls this.
    #[inline]
    pub fn set(&self, a: Amount) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let bits = a.0 as u128;
        self.hi.store((bits >> 64) as u64, Ordering::Relaxed);
        self.lo.store(bits as u64, Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// The last published amount. Retries while a write is in progress.
    pub fn get(&self) -> Amount {
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let hi = self.hi.load(Ordering::Relaxed);
            let lo = self.lo.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return Amount((((hi as u128) << 64) | lo as u128) as i128);
            }
        }
    }
}

/// The position of every instrument, as the state stage last published it, for the
/// cold side (dashboards). Relaxed single-writer stores; readers may see one instrument
/// a fill ahead of another.
#[derive(Debug, Default)]
pub struct PositionBoard {
    qty: Vec<AtomicI64>,
}

impl PositionBoard {
    pub fn new(instruments: usize) -> Arc<Self> {
        Arc::new(Self { qty: (0..instruments).map(|_| AtomicI64::new(0)).collect() })
    }

    #[inline]
    pub fn set(&self, inst: InstrumentId, qty: Qty) {
        if let Some(q) = self.qty.get(inst.index()) {
            q.store(qty.0, Ordering::Relaxed);
        }
    }

    pub fn get(&self, inst: InstrumentId) -> Qty {
        Qty(self.qty.get(inst.index()).map_or(0, |q| q.load(Ordering::Relaxed)))
    }
}

/// A counter per instrument (the executions that traded each one), single writer.
#[derive(Debug, Default)]
pub struct InstrumentCounters {
    counts: Vec<Counter>,
}

impl InstrumentCounters {
    pub fn new(instruments: usize) -> Arc<Self> {
        Arc::new(Self { counts: (0..instruments).map(|_| Counter::new()).collect() })
    }

    /// Adds one to `inst`'s count (an unknown instrument counts nowhere).
    #[inline]
    pub fn inc(&self, inst: InstrumentId) {
        if let Some(c) = self.counts.get(inst.index()) {
            c.inc();
        }
    }

    pub fn get(&self, inst: InstrumentId) -> u64 {
        self.counts.get(inst.index()).map_or(0, Counter::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_count() {
        let c = Counter::new();
        c.inc();
        c.add(4);
        assert_eq!(c.get(), 5);
        let g = Gauge::new();
        g.set(-3);
        assert_eq!(g.get(), -3);
    }

    #[test]
    fn amount_cells_publish_whole_values_across_threads() {
        let cell = Arc::new(AmountCell::new());
        let w = Arc::clone(&cell);
        let writer = std::thread::spawn(move || {
            for i in 0..20_000i128 {
                // Both halves change together: a torn read would break the pattern.
                let v = if i % 2 == 0 { i * (1 << 64) + i } else { -(i * (1 << 64) + i) };
                w.set(Amount(v));
            }
        });
        for _ in 0..20_000 {
            let v = cell.get().0;
            let m = v.abs();
            assert_eq!(m >> 64, m & 0xffff_ffff_ffff_ffff, "torn read {v}");
        }
        writer.join().unwrap();
        cell.set(Amount(-5));
        assert_eq!(cell.get(), Amount(-5));
    }
}
