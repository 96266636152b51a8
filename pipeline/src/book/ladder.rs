//! One side of an L2 book: price levels kept sorted with the best level last.
//!
//! Design: a `Vec` of (key, qty) sorted ascending by key, where the key is the price for
//! bids and the negated price for asks, so the best level of either side is the last
//! element. Venue updates cluster at the top of the book, so a lookup first scans the
//! last [`SCAN`] levels linearly (one or two cache lines, no branch mispredictions to
//! speak of) and only falls back to a binary search for deeper levels. Inserting or
//! removing a top level moves a few elements; the worst case (a change at the very
//! bottom of a deep book) moves every level once: 16 bytes each.
//!
//! Every level the venue sent is kept, so the book is exact at any depth.

use crate::msg::Level;
use crate::types::{Price, Qty};

/// Levels scanned linearly from the top before falling back to binary search.
const SCAN: usize = 16;

/// Most levels a side keeps; an update beyond that is refused and the book resyncs.
pub const MAX_LEVELS: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    key: i64,
    qty: i64,
}

/// A side of the book.
#[derive(Clone, Debug)]
pub struct Ladder {
    levels: Vec<Slot>,
    /// +1 for bids, -1 for asks.
    sign: i64,
}

/// An update that would grow the side past [`MAX_LEVELS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LadderFull;

impl Ladder {
    pub fn bids(capacity: usize) -> Self {
        Self { levels: Vec::with_capacity(capacity), sign: 1 }
    }

    pub fn asks(capacity: usize) -> Self {
        Self { levels: Vec::with_capacity(capacity), sign: -1 }
    }

    #[inline]
    fn key(&self, price: Price) -> i64 {
        // Prices are positive i64s; negation cannot overflow.
        price.0.wrapping_mul(self.sign)
    }

    #[inline]
    fn price(&self, key: i64) -> Price {
        Price(key.wrapping_mul(self.sign))
    }

    /// Index of the first slot whose key is >= `key` (len if none), searching from
    /// the top.
    #[inline]
    fn position(&self, key: i64) -> usize {
        let n = self.levels.len();
        let floor = n.saturating_sub(SCAN);
        let mut i = n;
        while i > floor {
            // The slot below i: if its key is below ours, i is the position.
            if self.levels[i - 1].key < key {
                return i;
            }
            i -= 1;
        }
        if floor == 0 {
            return 0;
        }
        self.levels[..floor].partition_point(|s| s.key < key)
    }

    /// Sets the quantity at `price` (absolute); zero removes the level.
    #[inline]
    pub fn set(&mut self, price: Price, qty: Qty) -> Result<(), LadderFull> {
        let key = self.key(price);
        let i = self.position(key);
        match self.levels.get_mut(i) {
            Some(s) if s.key == key => {
                if qty.0 == 0 {
                    self.levels.remove(i);
                } else {
                    s.qty = qty.0;
                }
            }
            _ => {
                if qty.0 != 0 {
                    if self.levels.len() >= MAX_LEVELS {
                        return Err(LadderFull);
                    }
                    self.levels.insert(i, Slot { key, qty: qty.0 });
                }
            }
        }
        Ok(())
    }

    /// The best level.
    #[inline]
    pub fn best(&self) -> Option<Level> {
        self.levels.last().map(|s| Level { price: self.price(s.key), qty: Qty(s.qty) })
    }

    /// The quantity at `price`, zero when absent.
    pub fn qty_at(&self, price: Price) -> Qty {
        let key = self.key(price);
        match self.levels.get(self.position(key)) {
            Some(s) if s.key == key => Qty(s.qty),
            _ => Qty::ZERO,
        }
    }

    /// Levels best first.
    pub fn iter(&self) -> impl Iterator<Item = Level> + '_ {
        self.levels.iter().rev().map(|s| Level { price: self.price(s.key), qty: Qty(s.qty) })
    }

    /// Copies the best levels worse than `beyond` (when given) into `out`, best first,
    /// and returns how many.
    #[inline]
    pub fn top_into(&self, out: &mut [Level], beyond: Option<Price>) -> usize {
        let limit = beyond.map(|p| self.key(p));
        let mut n = 0;
        for s in self.levels.iter().rev() {
            if n == out.len() {
                break;
            }
            if limit.is_some_and(|l| s.key >= l) {
                continue;
            }
            out[n] = Level { price: self.price(s.key), qty: Qty(s.qty) };
            n += 1;
        }
        n
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn clear(&mut self) {
        self.levels.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn bids_and_asks_keep_their_best_on_top() {
        let mut b = Ladder::bids(8);
        let mut a = Ladder::asks(8);
        for (p, q) in [(100, 1), (102, 2), (101, 3)] {
            b.set(Price(p), Qty(q)).unwrap();
            a.set(Price(p + 10), Qty(q)).unwrap();
        }
        assert_eq!(b.best(), Some(Level { price: Price(102), qty: Qty(2) }));
        assert_eq!(a.best(), Some(Level { price: Price(110), qty: Qty(1) }));
        b.set(Price(102), Qty(0)).unwrap();
        assert_eq!(b.best().unwrap().price, Price(101));
        let prices: Vec<i64> = a.iter().map(|l| l.price.0).collect();
        assert_eq!(prices, [110, 111, 112]);
        let mut out = [Level::default(); 2];
        assert_eq!(a.top_into(&mut out, Some(Price(110))), 2);
        assert_eq!(out[0].price, Price(111));
        b.set(Price(55), Qty(0)).unwrap();
        assert_eq!(b.len(), 2, "deleting an absent level changes nothing");
    }

    proptest! {
        // The ladder against a straightforward ordered map, over long random update
        // streams that reach deep levels (beyond the linear scan) too.
        #[test]
        fn matches_an_ordered_map(ops in proptest::collection::vec((0i64..200, 0i64..4, any::<bool>()), 1..2000)) {
            let mut bids = Ladder::bids(4);
            let mut asks = Ladder::asks(4);
            let mut rb: BTreeMap<i64, i64> = BTreeMap::new();
            let mut ra: BTreeMap<i64, i64> = BTreeMap::new();
            for (p, q, is_bid) in ops {
                let (l, r) = if is_bid { (&mut bids, &mut rb) } else { (&mut asks, &mut ra) };
                l.set(Price(p + 1), Qty(q)).unwrap();
                if q == 0 { r.remove(&(p + 1)); } else { r.insert(p + 1, q); }
            }
            let got_b: Vec<(i64, i64)> = bids.iter().map(|l| (l.price.0, l.qty.0)).collect();
            let want_b: Vec<(i64, i64)> = rb.iter().rev().map(|(&p, &q)| (p, q)).collect();
            prop_assert_eq!(got_b, want_b);
            let got_a: Vec<(i64, i64)> = asks.iter().map(|l| (l.price.0, l.qty.0)).collect();
            let want_a: Vec<(i64, i64)> = ra.iter().map(|(&p, &q)| (p, q)).collect();
            prop_assert_eq!(got_a, want_a);
            for p in 0..202 {
                prop_assert_eq!(bids.qty_at(Price(p)).0, rb.get(&p).copied().unwrap_or(0));
            }
        }
    }
}
