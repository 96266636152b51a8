//! The order book of each instrument: price levels with their resting order ids in time
//! priority, the book's update id and version, and the levels changed since the last
//! publication. It knows quantities and order ids, not accounts or balances; the
//! matching engine drives it and the publisher reads its changes.
//!
//! Update ids: every change of a level's total increments the book's update id; the
//! first id since the last publication is kept, so a published depth event covers
//! `[first, last]` and a snapshot's id always equals the last published one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use pipeline::types::{Amount, Price, Qty, Rounding, Side};

use super::Exchange;

/// One level as published: price, total quantity, number of orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelView {
    pub price: Price,
    pub qty: Qty,
    pub orders: u32,
}

/// A book snapshot with the update id and version it reflects.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub seq: u64,
    pub version: u64,
    pub bids: Vec<LevelView>,
    pub asks: Vec<LevelView>,
}

/// What changed in a book since its last publication.
#[derive(Debug)]
pub(super) struct BookChanges {
    /// The update ids the changes cover, `first..=last`.
    pub first: u64,
    pub last: u64,
    pub version: u64,
    /// Changed levels with their new totals (zero = gone), bids best first.
    pub bids: Vec<LevelView>,
    pub asks: Vec<LevelView>,
    /// The new best bid and ask, when they changed.
    pub top: Option<(Option<LevelView>, Option<LevelView>)>,
}

#[derive(Debug, Default)]
struct Level {
    total: Qty,
    orders: VecDeque<u64>,
}

#[derive(Debug, Default)]
pub(super) struct Book {
    bids: BTreeMap<i64, Level>,
    asks: BTreeMap<i64, Level>,
    seq: u64,
    version: u64,
    first_dirty: Option<u64>,
    dirty: BTreeSet<(u8, i64)>,
    last_top: (Option<LevelView>, Option<LevelView>),
    maker_orders: Vec<u64>,
}

impl Book {
    /// An empty book whose update id and version start at the given values.
    pub(super) fn starting_at(seq: u64, version: u64) -> Book {
        Book { seq, version, ..Book::default() }
    }

    fn side(&self, side: Side) -> &BTreeMap<i64, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<i64, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn touch(&mut self, side: Side, price: i64) {
        self.seq += 1;
        if self.first_dirty.is_none() {
            self.first_dirty = Some(self.seq);
        }
        self.dirty.insert((side as u8, price));
    }

    pub(super) fn best(&self, side: Side) -> Option<LevelView> {
        let level = match side {
            Side::Buy => self.bids.iter().next_back(),
            Side::Sell => self.asks.iter().next(),
        };
        level.map(|(&p, l)| LevelView { price: Price(p), qty: l.total, orders: l.orders.len() as u32 })
    }

    fn view(&self, side: Side, price: i64) -> LevelView {
        match self.side(side).get(&price) {
            Some(l) => LevelView { price: Price(price), qty: l.total, orders: l.orders.len() as u32 },
            None => LevelView { price: Price(price), qty: Qty::ZERO, orders: 0 },
        }
    }

    /// Levels best first, at most `depth` per side.
    fn levels(&self, side: Side, depth: usize) -> Vec<LevelView> {
        let map = self.side(side);
        let f = |(&p, l): (&i64, &Level)| LevelView {
            price: Price(p),
            qty: l.total,
            orders: l.orders.len() as u32,
        };
        match side {
            Side::Buy => map.iter().rev().take(depth).map(f).collect(),
            Side::Sell => map.iter().take(depth).map(f).collect(),
        }
    }

    /// The order first in time at a level.
    pub(super) fn first_order(&self, side: Side, price: Price) -> Option<u64> {
        self.side(side).get(&price.0).and_then(|l| l.orders.front()).copied()
    }

    /// Rests `qty` of order `id` at the back of its level; a market maker's order is
    /// also remembered for its next requote.
    pub(super) fn add(&mut self, side: Side, price: Price, qty: Qty, id: u64, maker: bool) {
        let level = self.side_mut(side).entry(price.0).or_default();
        level.total = Qty(level.total.0 + qty.0);
        level.orders.push_back(id);
        self.touch(side, price.0);
        if maker {
            self.maker_orders.push(id);
        }
    }

    /// Takes `q` from the first order at a level, which leaves the level when `done`.
    pub(super) fn take(&mut self, side: Side, price: Price, q: Qty, done: bool) {
        let levels = self.side_mut(side);
        let mut remove = false;
        if let Some(l) = levels.get_mut(&price.0) {
            l.total = Qty(l.total.0 - q.0);
            if done {
                l.orders.pop_front();
            }
            remove = l.orders.is_empty();
        }
        if remove {
            levels.remove(&price.0);
        }
        self.touch(side, price.0);
    }

    /// Removes order `id` with `left` resting at a level; false when it was not there.
    pub(super) fn remove(&mut self, side: Side, price: Price, id: u64, left: Qty) -> bool {
        let levels = self.side_mut(side);
        let mut touched = false;
        if let Some(l) = levels.get_mut(&price.0) {
            if let Some(pos) = l.orders.iter().position(|&x| x == id) {
                l.orders.remove(pos);
                l.total = Qty(l.total.0 - left.0);
                touched = true;
            }
            if l.orders.is_empty() {
                levels.remove(&price.0);
            }
        }
        if touched {
            self.touch(side, price.0);
        }
        touched
    }

    /// The market maker's orders, forgotten here (the caller cancels them).
    pub(super) fn take_maker_orders(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.maker_orders)
    }

    /// Keeps the market maker's orders for which `open` holds.
    pub(super) fn retain_maker_orders(&mut self, open: impl Fn(u64) -> bool) {
        self.maker_orders.retain(|&id| open(id));
    }

    /// The changes since the last call, with a new version; `None` when nothing changed.
    pub(super) fn take_changes(&mut self) -> Option<BookChanges> {
        let first = self.first_dirty.take()?;
        self.version += 1;
        let dirty = std::mem::take(&mut self.dirty);
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        for (side, p) in dirty {
            if side == Side::Buy as u8 {
                bids.push(self.view(Side::Buy, p));
            } else {
                asks.push(self.view(Side::Sell, p));
            }
        }
        bids.reverse();
        let top = (self.best(Side::Buy), self.best(Side::Sell));
        let top_changed = top != self.last_top;
        self.last_top = top;
        Some(BookChanges {
            first,
            last: self.seq,
            version: self.version,
            bids,
            asks,
            top: top_changed.then_some(top),
        })
    }
}

impl Exchange {
    /// The top `depth` levels per side with the update id they reflect.
    pub fn snapshot(&self, inst: usize, depth: usize) -> Snapshot {
        let b = &self.books[inst];
        Snapshot {
            seq: b.seq,
            version: b.version,
            bids: b.levels(Side::Buy, depth),
            asks: b.levels(Side::Sell, depth),
        }
    }

    pub fn best(&self, inst: usize) -> (Option<LevelView>, Option<LevelView>) {
        let b = &self.books[inst];
        (b.best(Side::Buy), b.best(Side::Sell))
    }

    /// True when a price crosses the opposite side's best level.
    pub(super) fn crosses(&self, inst: usize, side: Side, price: Price) -> bool {
        match self.books[inst].best(side.opposite()) {
            None => false,
            Some(l) => match side {
                Side::Buy => price >= l.price,
                Side::Sell => price <= l.price,
            },
        }
    }

    /// Quantity available at or better than `limit` (`None`: any price) on the side a
    /// `side` order takes from.
    pub(super) fn liquidity(&self, inst: usize, side: Side, limit: Option<Price>) -> Qty {
        let book = &self.books[inst];
        let mut sum = 0i64;
        let ok = |p: i64| match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => p <= l.0,
            (Side::Sell, Some(l)) => p >= l.0,
        };
        let (mut asks, mut bids) = (book.asks.iter(), book.bids.iter().rev());
        let levels: &mut dyn Iterator<Item = (&i64, &Level)> = match side {
            Side::Buy => &mut asks,
            Side::Sell => &mut bids,
        };
        for (&p, l) in levels {
            if !ok(p) {
                break;
            }
            sum = sum.saturating_add(l.total.0);
        }
        Qty(sum)
    }

    /// The quote cost of buying `qty` from the asks at any price (None when the book is short).
    pub(super) fn market_buy_cost(&self, inst: usize, qty: Qty) -> Option<Amount> {
        let i = &self.instruments[inst].inst;
        let mut left = qty.0;
        let mut cost = Amount::ZERO;
        for (&p, l) in self.books[inst].asks.iter() {
            let q = left.min(l.total.0);
            cost += i.notional(Price(p), Qty(q), Rounding::Ceil)?;
            left -= q;
            if left == 0 {
                return Some(cost);
            }
        }
        None
    }
}
