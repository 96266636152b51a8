//! A seeded, deterministic depth-update stream shaped like a venue's, shared by
//! `benches/book.rs` and `tests/book_stream.rs` (which checks the whole stream keeps a
//! book synced).
//!
//! The venue's book is simulated level by level, and every update is one the venue
//! could send about it:
//!
//! - The mid walks: a tick or two now and then, and now and then a sweep of 5 to 100
//!   ticks. When it moves, every level the new mid crosses is deleted (the asks a rally
//!   lifted, the bids a sell-off hit), best first, so the book never crosses.
//! - Otherwise one level changes: a side at random, at a distance from the top that is
//!   geometric (most within a few ticks) and, one update in 16, log-uniform out to
//!   8192 ticks (the deep tail a full-depth feed also sends). A level that exists is
//!   deleted one time in three and otherwise gets a new quantity; one that does not
//!   exist is inserted. No delete is ever sent for an absent level.
//!
//! Prices are in price units with [`TICK`] units per tick (an instrument's
//! `price_scale` is its tick's decimals plus 2, so its tick is 100 units).

use std::collections::BTreeSet;

use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{InstrumentId, Price, Qty, Side};

/// Price units per tick.
pub const TICK: i64 = 100;

/// The stream the bench, its test and the profiling example all use: `stream(UPDATES,
/// SEED)`.
pub const UPDATES: usize = 1_000_000;
pub const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// The mid the stream starts at, in ticks (60,000.00 at a 0.01 tick).
const MID0: i64 = 6_000_000;

/// One level update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Update {
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
}

/// xorshift64*: a fixed, dependency-free stream for benchmark input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` updates from `seed`.
pub fn stream(n: usize, seed: u64) -> Vec<Update> {
    let mut r = Rng(seed | 1);
    let mut mid: i64 = MID0; // ticks; bids sit below it, asks above
    let mut bids: BTreeSet<i64> = BTreeSet::new(); // ticks
    let mut asks: BTreeSet<i64> = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    let update = |side, ticks: i64, qty: i64| Update { side, price: Price(ticks * TICK), qty: Qty(qty) };
    while out.len() < n {
        let moved = match r.below(4096) {
            0..=63 => (r.below(5) as i64 - 2) * (1 + (r.below(2) as i64)),
            64..=71 => (5 + r.below(96) as i64) * if r.next() & 1 == 0 { 1 } else { -1 },
            _ => 0,
        };
        if moved != 0 {
            mid += moved;
            // Levels the new mid crosses are gone, best first.
            let lifted: Vec<i64> = asks.range(..=mid).copied().collect();
            for t in lifted {
                asks.remove(&t);
                out.push(update(Side::Sell, t, 0));
            }
            let hit: Vec<i64> = bids.range(mid..).rev().copied().collect();
            for t in hit {
                bids.remove(&t);
                out.push(update(Side::Buy, t, 0));
            }
            continue;
        }
        let side = if r.next() & 1 == 0 { Side::Buy } else { Side::Sell };
        let depth = if r.below(16) == 0 {
            let bits = 1 + r.below(13);
            r.below(1 << bits) as i64
        } else {
            (r.next() | 1 << 63).trailing_zeros() as i64 * 3 + r.below(3) as i64
        };
        let (book, t) = match side {
            Side::Buy => (&mut bids, mid - 1 - depth),
            Side::Sell => (&mut asks, mid + 1 + depth),
        };
        let qty = if book.contains(&t) {
            if r.below(3) == 0 {
                book.remove(&t);
                0
            } else {
                1 + r.below(1000) as i64
            }
        } else {
            book.insert(t);
            1 + r.below(1000) as i64
        };
        out.push(update(side, t, qty));
    }
    out.truncate(n);
    out
}

/// The stream as the book stage sees it: an empty snapshot (id 0), then deltas of
/// `per_update` levels each with chained sequence ids.
pub fn events(updates: &[Update], per_update: usize) -> Vec<MdEvent> {
    let inst = InstrumentId(0);
    let ev = |body| MdEvent { inst, recv_ns: 1, exch_ms: 0, body };
    let mut out = Vec::with_capacity(updates.len() + 2 * updates.len().div_ceil(per_update) + 2);
    out.push(ev(MdBody::Snapshot { id: 0, partial: false }));
    out.push(ev(MdBody::End));
    for (i, chunk) in updates.chunks(per_update).enumerate() {
        let id = i as u64 + 1;
        out.push(ev(MdBody::Delta { first: id, last: id }));
        for u in chunk {
            out.push(ev(MdBody::Level { side: u.side, price: u.price, qty: u.qty }));
        }
        out.push(ev(MdBody::End));
    }
    out
}
