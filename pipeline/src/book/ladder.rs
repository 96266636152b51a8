//! One side of an L2 book: a tick-indexed window around the best level, paged so that
//! it costs memory only where levels are, with an exact sorted fallback for every other
//! level.
//!
//! # Design
//!
//! Prices become keys (`price` for bids, `-price` for asks), so the best level of either
//! side is the one with the largest key and "deeper" always means "smaller key".
//!
//! - **Window.** [`WINDOW_TICKS`] slots of quantity, slot `i` holding the level at key
//!   `lo + i * tick`, where `lo` is a multiple of the instrument's tick. Zero means no
//!   level. Finding the slot of a price costs no division: the offset `key - lo` is
//!   below `2^32` once range-checked, so one 64x64->128 multiply by a per-book constant
//!   `M = ceil(2^64 / tick)` gives both the quotient (high half) and whether the price
//!   sits on the tick grid (low half below `M`; Lemire, Kaser and Kurz, "Faster
//!   remainder by direct computation", 2019). Ticks of one price unit or ticks so large
//!   that the window spans `2^32` units use a hardware division instead.
//! - **Pages.** The window's slots live in pages of [`PAGE_TICKS`] slots (128 bytes),
//!   taken from a per-side pool only for the parts of the window that hold levels: a
//!   table maps each window page to its pool page. A side with ten levels spread over
//!   500 ticks holds at most ten pages, not the whole window, so a book's memory follows
//!   its levels, not the price range its window spans. A page left empty goes back to
//!   the pool at the next [`Ladder::compact`] (the book stage's maintenance pass) or
//!   re-centre, never on the update path, which would branch on every delete.
//! - **Bitmap.** One bit per slot in 64 words, and a summary word with one bit per
//!   non-empty word, so the best level in the window is two `lzcnt`s away whatever the
//!   gaps between levels.
//! - **Fallback.** Levels off the tick grid (books keep levels from before a tick
//!   change) and levels outside the window sit in a `Vec` sorted by key, best last,
//!   searched by a linear scan of its top [`SCAN`] entries and then a binary search.
//!   Every level the venue sent is kept, so the book is exact at any depth.
//! - **Best.** Not tracked: reading it takes the larger of the window's highest bit
//!   (two `lzcnt`s) and the fallback's last level, a few ns. Tracking it would put a
//!   branch on every update ("does this touch the best?") that is as random as the
//!   feed; as it is, an update in a mapped page branches on nothing about the update
//!   (insert, modify or delete are all the same arithmetic on the slot and bitmap).
//!   The level count is not tracked either: [`Ladder::len`] counts bits.
//! - **Re-centring.** Checked only when an update lands outside the window, the only
//!   time the window's position costs anything: if the best level is not in the band
//!   `[WINDOW_TICKS/4, 7*WINDOW_TICKS/8]` of the window, the window moves so the best
//!   sits at `3*WINDOW_TICKS/4` (room above for the best to improve, most of the window
//!   below where the book's levels are). Re-centring merges the window and the
//!   fallback in one pass and routes every level to its new home.
//!
//! # Cost and worst case
//!
//! An update inside the window is a range check, one multiply, a page-table load, a
//! slot write and two bitmap-word writes: no allocation, and no branch that depends on
//! the update once its page is mapped (a level in a page that holds none yet maps one,
//! out of line). The worst cases are:
//!
//! - A re-centre: `O(levels on the side)` time, and it may grow the fallback's
//!   allocation (and its two scratch buffers) to the number of levels on the side. It
//!   is amortized: a side re-centres at most once per quarter of its level count in
//!   updates outside the window, so a level flickering far away (or a tick that does
//!   not match the venue's grid) costs at most about four level moves per such update
//!   on average, never `O(levels)` on every update. Between re-centres the levels the
//!   window cannot hold are served, exactly, by the fallback.
//! - A level in the fallback: `O(log n)` to find, and inserting or removing one moves
//!   the fallback levels better than it (16 bytes each): cheap just below the window,
//!   `O(n)` at the very bottom of a deep book. A genuinely new level may grow the
//!   fallback's `Vec`.
//! - A level in a page the pool has never had to provide: the pool grows by a page.
//!   The pool never shrinks, so it holds as many pages as the side ever had mapped at
//!   once (at most the whole window, 32 KiB).
//! - A side whose every level is off the grid (a tick that does not divide the venue's
//!   prices, e.g. after the venue refines its tick and before the instrument table
//!   follows): everything lives in the fallback, which is exact and as fast as the
//!   sorted `Vec` this ladder replaced.
//!
//! Memory per side: 1.1 KiB in place (the bitmap, the page table), plus 128 bytes per
//! page the pool holds and 16 bytes per level of the fallback and of each of its two
//! re-centring buffers, reserved up front for the capacity asked and grown only when a
//! page, a re-centre or a new far level needs more ([`Ladder::heap_bytes`]). The
//! fallback holds at most [`MAX_LEVELS`] levels.

use std::fmt;

use crate::msg::Level;
use crate::types::{Price, Qty};

/// Ticks covered by the dense window: 64 bitmap words of 64 bits.
pub const WINDOW_TICKS: usize = 4096;
const WORDS: usize = WINDOW_TICKS / 64;
const MASK: usize = WINDOW_TICKS - 1;
/// Slots per page of the window (a power of two that divides 64: pages never straddle a
/// bitmap word).
pub const PAGE_TICKS: usize = 16;
const PAGES: usize = WINDOW_TICKS / PAGE_TICKS;
/// The page-table entry of a window page that has no pool page.
const UNMAPPED: u16 = u16::MAX;
const PAGE_MASK: u64 = (1 << PAGE_TICKS) - 1;
/// Where a re-centre puts the best level, and the band it may wander in before the next.
const TARGET: usize = WINDOW_TICKS * 3 / 4;
const LOW: usize = WINDOW_TICKS / 4;
const HIGH: usize = WINDOW_TICKS - WINDOW_TICKS / 8;
/// Ticks larger than this get no window (every level lives in the fallback), so window
/// arithmetic never comes near `i64` overflow.
const MAX_TICK: i64 = 1 << 40;

/// Fallback levels scanned linearly from the top before falling back to binary search.
const SCAN: usize = 16;

/// Most levels a side keeps outside its window (so at most `MAX_LEVELS + WINDOW_TICKS`
/// in all); an update beyond that is refused and the book resyncs.
pub const MAX_LEVELS: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    key: i64,
    qty: i64,
}

/// The tick grid and the division-free slot lookup.
#[derive(Clone, Copy, Debug)]
struct Grid {
    tick: i64,
    /// Price units the window spans (`WINDOW_TICKS * tick`); zero for no window.
    span: u64,
    /// `ceil(2^64 / tick)`, or zero to divide in hardware.
    magic: u64,
}

impl Grid {
    fn new(tick: i64) -> Self {
        let tick = tick.max(1);
        if tick > MAX_TICK {
            return Self { tick, span: 0, magic: 0 };
        }
        let span = WINDOW_TICKS as u64 * tick as u64;
        let magic = if tick >= 2 && span <= 1 << 32 { u64::MAX / tick as u64 + 1 } else { 0 };
        Self { tick, span, magic }
    }

    /// The slot of the key at offset `x` from the window's base, if it is in the window
    /// and on the grid.
    #[inline(always)]
    fn slot(&self, x: u64) -> Option<usize> {
        if x >= self.span {
            return None;
        }
        if self.magic != 0 {
            // x < 2^32 and tick < 2^32: the high half is x / tick, and the low half is
            // below the magic exactly when tick divides x.
            let p = u128::from(self.magic) * u128::from(x);
            if (p as u64) < self.magic { Some((p >> 64) as usize) } else { None }
        } else {
            let t = self.tick as u64;
            if x % t == 0 { Some((x / t) as usize) } else { None }
        }
    }
}

/// A side of the book.
#[derive(Clone)]
pub struct Ladder {
    /// 0 for bids, -1 (all ones) for asks: key = (price ^ neg) - neg.
    neg: i64,
    /// Key of slot 0, a multiple of the tick.
    lo: i64,
    grid: Grid,
    /// Fallback updates since the last re-centre (the re-centre budget).
    since: usize,
    /// Bit `w` set when `words[w]` has a bit set.
    summary: u64,
    words: [u64; WORDS],
    /// The pool page of each window page, [`UNMAPPED`] when it has none.
    table: [u16; PAGES],
    /// One bit per mapped window page.
    mapped: [u64; PAGES / 64],
    /// The slots of the mapped pages; a page on the free list is all zeros.
    pool: Vec<[i64; PAGE_TICKS]>,
    /// Pool pages not mapped (capacity kept at the pool's size, so freeing never
    /// allocates).
    free: Vec<u16>,
    /// Levels off the grid or outside the window, ascending by key (best last).
    far: Vec<Slot>,
    /// Scratch for re-centring, kept to reuse the allocations.
    moved: Vec<Slot>,
    spare: Vec<Slot>,
}

impl fmt::Debug for Ladder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ladder")
            .field("side", &if self.neg == 0 { "bids" } else { "asks" })
            .field("tick", &self.grid.tick)
            .field("len", &self.len())
            .field("best", &self.best())
            .field("window_from", &self.price(self.lo))
            .field("fallback_len", &self.far.len())
            .field("pages", &(self.pool.len() - self.free.len()))
            .finish_non_exhaustive()
    }
}

/// An update that would grow the side's fallback past [`MAX_LEVELS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LadderFull;

impl Ladder {
    /// The bid side of a book whose prices move in steps of `tick` (a non-positive tick
    /// counts as one price unit). `capacity` levels are reserved up front: in the
    /// fallback and each of the re-centring buffers, and as pool pages for that many
    /// levels on consecutive ticks.
    pub fn bids(tick: Price, capacity: usize) -> Self {
        Self::new(0, tick, capacity)
    }

    /// The ask side; see [`Ladder::bids`].
    pub fn asks(tick: Price, capacity: usize) -> Self {
        Self::new(-1, tick, capacity)
    }

    fn new(neg: i64, tick: Price, capacity: usize) -> Self {
        let pages = (capacity / PAGE_TICKS).min(PAGES);
        Self {
            neg,
            lo: 0,
            grid: Grid::new(tick.0),
            since: 0,
            summary: 0,
            words: [0; WORDS],
            table: [UNMAPPED; PAGES],
            mapped: [0; PAGES / 64],
            pool: Vec::with_capacity(pages),
            free: Vec::with_capacity(pages),
            far: Vec::with_capacity(capacity),
            moved: Vec::with_capacity(capacity.min(WINDOW_TICKS)),
            spare: Vec::with_capacity(capacity),
        }
    }

    /// The tick the window is laid out on.
    pub fn tick(&self) -> Price {
        Price(self.grid.tick)
    }

    #[inline(always)]
    fn key(&self, price: Price) -> i64 {
        // Prices are positive i64s; negation cannot overflow.
        (price.0 ^ self.neg).wrapping_sub(self.neg)
    }

    #[inline(always)]
    fn price(&self, key: i64) -> Price {
        Price((key ^ self.neg).wrapping_sub(self.neg))
    }

    /// The window slot of `key`, if it has one.
    #[inline(always)]
    fn slot_of(&self, key: i64) -> Option<usize> {
        // Keys and `lo` share a sign up to the window's span, so the wrapping difference
        // is the true one whenever it is below the span.
        self.grid.slot(key.wrapping_sub(self.lo) as u64)
    }

    /// The key of window slot `i`.
    #[inline(always)]
    fn slot_key(&self, i: usize) -> i64 {
        self.lo.wrapping_add(i as i64 * self.grid.tick)
    }

    /// Empties the dense window, handing each level it held to `f`, ascending.
    #[inline]
    fn empty_window(&mut self, mut f: impl FnMut(Slot)) {
        let mut s = self.summary;
        while s != 0 {
            let w = s.trailing_zeros() as usize;
            s &= s - 1;
            let mut bits = self.words[w];
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let slot = self.slot_mut(i);
                let qty = std::mem::take(slot);
                f(Slot { key: self.slot_key(i), qty });
            }
            self.words[w] = 0;
        }
        self.summary = 0;
        self.unmap_empty();
    }

    /// The quantity slot of window slot `i`, whose page must be mapped.
    #[inline(always)]
    fn slot_mut(&mut self, i: usize) -> &mut i64 {
        let p = self.table[(i & MASK) / PAGE_TICKS];
        &mut self.pool[usize::from(p)][i % PAGE_TICKS]
    }

    /// The quantity at window slot `i` (zero in an unmapped page).
    #[inline(always)]
    fn slot_qty(&self, i: usize) -> i64 {
        match self.table[(i & MASK) / PAGE_TICKS] {
            UNMAPPED => 0,
            p => self.pool[usize::from(p)][i % PAGE_TICKS],
        }
    }

    /// Gives window page `page` a pool page, growing the pool if none is free.
    fn map(&mut self, page: usize) {
        let p = match self.free.pop() {
            Some(p) => p,
            None => {
                self.pool.push([0; PAGE_TICKS]);
                // At most PAGES pages are ever mapped at once, so the pool stays below
                // UNMAPPED.
                self.free.reserve_exact(self.pool.len() - self.free.len());
                (self.pool.len() - 1) as u16
            }
        };
        self.table[page] = p;
        self.mapped[page / 64] |= 1 << (page % 64);
    }

    /// Returns every mapped page that holds no level to the pool.
    fn unmap_empty(&mut self) {
        for k in 0..self.mapped.len() {
            let mut m = self.mapped[k];
            while m != 0 {
                let page = k * 64 + m.trailing_zeros() as usize;
                m &= m - 1;
                let bits = (self.words[page * PAGE_TICKS / 64] >> (page * PAGE_TICKS % 64)) & PAGE_MASK;
                if bits == 0 {
                    self.free.push(self.table[page]);
                    self.table[page] = UNMAPPED;
                    self.mapped[k] &= !(1 << (page % 64));
                }
            }
        }
    }

    /// Returns the pages that hold no level to the pool (off the update path: the book
    /// stage calls it on its maintenance pass). Frees no memory; the pool keeps them.
    pub fn compact(&mut self) {
        self.unmap_empty();
    }

    /// Heap bytes the side holds: the page pool and the fallback's buffers (capacity,
    /// not use).
    pub fn heap_bytes(&self) -> usize {
        self.pool.capacity() * std::mem::size_of::<[i64; PAGE_TICKS]>()
            + self.free.capacity() * std::mem::size_of::<u16>()
            + (self.far.capacity() + self.moved.capacity() + self.spare.capacity())
                * std::mem::size_of::<Slot>()
    }

    /// Window pages holding a pool page now.
    pub fn pages_mapped(&self) -> usize {
        self.mapped.iter().map(|m| m.count_ones() as usize).sum()
    }

    /// Sets the quantity at `price` (absolute); zero removes the level.
    #[inline(always)]
    pub fn set(&mut self, price: Price, qty: Qty) -> Result<(), LadderFull> {
        let key = self.key(price);
        match self.slot_of(key) {
            Some(i) => self.set_near(i & MASK, qty.0),
            None => self.set_far(key, qty.0),
        }
    }

    /// Sets window slot `i`. Whether the update inserts, modifies or deletes a level is
    /// as random as the feed, so nothing here branches on it: the slot and the bitmap are
    /// updated arithmetically, and neither the best level nor the count is tracked (each
    /// is a few bit operations away when read).
    #[inline(always)]
    fn set_near(&mut self, i: usize, qty: i64) -> Result<(), LadderFull> {
        let p = self.table[i / PAGE_TICKS];
        if p == UNMAPPED {
            return self.set_unmapped(i, qty);
        }
        self.pool[usize::from(p)][i % PAGE_TICKS] = qty;
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        let word = (self.words[w] & !bit) | (bit & u64::from(qty != 0).wrapping_neg());
        self.words[w] = word;
        self.summary = (self.summary & !(1 << w)) | (u64::from(word != 0) << w);
        Ok(())
    }

    /// Sets window slot `i` of a page that has no pool page: a delete there has nothing
    /// to delete, a new level maps the page first.
    #[cold]
    #[inline(never)]
    fn set_unmapped(&mut self, i: usize, qty: i64) -> Result<(), LadderFull> {
        if qty == 0 {
            return Ok(());
        }
        self.map(i / PAGE_TICKS);
        self.set_near(i, qty)
    }

    /// Sets a level that has no window slot; then, since the feed has reached past the
    /// window, checks whether the window should follow the best level.
    #[inline(never)]
    fn set_far(&mut self, key: i64, qty: i64) -> Result<(), LadderFull> {
        self.since += 1;
        let i = self.position(key);
        match self.far.get_mut(i) {
            Some(s) if s.key == key => {
                if qty == 0 {
                    self.far.remove(i);
                } else {
                    s.qty = qty;
                }
            }
            _ => {
                if qty != 0 {
                    if self.far.len() >= MAX_LEVELS {
                        return Err(LadderFull);
                    }
                    self.far.insert(i, Slot { key, qty });
                }
            }
        }
        if !self.best_in_band() {
            self.drift();
        }
        Ok(())
    }

    /// Index of the first fallback level whose key is >= `key` (len if none), searching
    /// from the top.
    #[inline]
    fn position(&self, key: i64) -> usize {
        let n = self.far.len();
        let floor = n.saturating_sub(SCAN);
        let mut i = n;
        while i > floor {
            // The level below i: if its key is below ours, i is the position.
            if self.far[i - 1].key < key {
                return i;
            }
            i -= 1;
        }
        if floor == 0 {
            return 0;
        }
        self.far[..floor].partition_point(|s| s.key < key)
    }

    /// The highest occupied window slot.
    #[inline(always)]
    fn window_top(&self) -> Option<usize> {
        if self.summary == 0 {
            return None;
        }
        let w = 63 - self.summary.leading_zeros() as usize;
        Some(w * 64 + 63 - self.words[w].leading_zeros() as usize)
    }

    /// The best level's key and quantity: the larger of the window's highest bit and
    /// the fallback's last level.
    #[inline(always)]
    fn best_slot(&self) -> Option<Slot> {
        let far = self.far.last().copied();
        if let Some(i) = self.window_top() {
            let key = self.slot_key(i);
            if far.is_none_or(|f| key > f.key) {
                return Some(Slot { key, qty: self.slot_qty(i) });
            }
        }
        far
    }

    /// True when the best level is in the window, within `[LOW, HIGH]` (or the side is
    /// empty): no re-centre is due.
    #[inline]
    fn best_in_band(&self) -> bool {
        match self.window_top() {
            Some(i) => (LOW..=HIGH).contains(&i) && self.far.last().is_none_or(|f| self.slot_key(i) > f.key),
            None => self.far.is_empty(),
        }
    }

    /// The best level may have left its band: re-centres the window if it has and the
    /// re-centre budget allows.
    #[cold]
    #[inline(never)]
    fn drift(&mut self) {
        let Some(best) = self.best_slot() else { return };
        if self.grid.span == 0 {
            return;
        }
        // In the band when LOW <= floor((best - lo) / tick) <= HIGH; no division.
        let t = i128::from(self.grid.tick);
        let off = i128::from(best.key) - i128::from(self.lo);
        if LOW as i128 * t <= off && off < (HIGH as i128 + 1) * t {
            return;
        }
        if self.since < self.len() / 4 {
            return;
        }
        self.recentre(best.key);
    }

    /// Moves the window so the best level sits at slot `TARGET`, moving every level to
    /// the window or the fallback accordingly.
    fn recentre(&mut self, best: i64) {
        self.since = 0;
        let t = i128::from(self.grid.tick);
        let lowest = -(i128::from(i64::MAX).div_euclid(t) * t);
        let lo = ((i128::from(best).div_euclid(t) - TARGET as i128) * t).max(lowest);
        let lo = lo as i64;
        if lo == self.lo {
            return;
        }
        // Empty the window into `moved`, ascending.
        let mut moved = std::mem::take(&mut self.moved);
        moved.clear();
        self.empty_window(|slot| moved.push(slot));
        self.lo = lo;
        // Merge it with the fallback, both ascending and disjoint, routing each level.
        let far = std::mem::take(&mut self.far);
        let mut spare = std::mem::take(&mut self.spare);
        spare.clear();
        let (mut a, mut b) = (0, 0);
        while a < moved.len() || b < far.len() {
            let take_moved = b == far.len() || (a < moved.len() && moved[a].key < far[b].key);
            let l = if take_moved {
                a += 1;
                moved[a - 1]
            } else {
                b += 1;
                far[b - 1]
            };
            match self.slot_of(l.key) {
                Some(i) => {
                    let i = i & MASK;
                    if self.table[i / PAGE_TICKS] == UNMAPPED {
                        self.map(i / PAGE_TICKS);
                    }
                    *self.slot_mut(i) = l.qty;
                    self.words[i / 64] |= 1 << (i % 64);
                    self.summary |= 1 << (i / 64);
                }
                None => spare.push(l),
            }
        }
        self.far = spare;
        self.spare = far;
        self.moved = moved;
    }

    /// The best level.
    #[inline]
    pub fn best(&self) -> Option<Level> {
        self.best_slot().map(|s| Level { price: self.price(s.key), qty: Qty(s.qty) })
    }

    /// The quantity at `price`, zero when absent.
    pub fn qty_at(&self, price: Price) -> Qty {
        let key = self.key(price);
        if let Some(i) = self.slot_of(key) {
            return Qty(self.slot_qty(i));
        }
        match self.far.get(self.position(key)) {
            Some(s) if s.key == key => Qty(s.qty),
            _ => Qty::ZERO,
        }
    }

    /// Levels best first.
    pub fn iter(&self) -> impl Iterator<Item = Level> + '_ {
        Levels { ladder: self, words: self.summary, word: 0, bits: 0, far: self.far.len() }
    }

    /// Copies the best levels worse than `beyond` (when given) into `out`, best first,
    /// and returns how many.
    #[inline]
    pub fn top_into(&self, out: &mut [Level], beyond: Option<Price>) -> usize {
        let limit = beyond.map(|p| self.key(p));
        let mut n = 0;
        for l in self.iter() {
            if n == out.len() {
                break;
            }
            if limit.is_some_and(|limit| self.key(l.price) >= limit) {
                continue;
            }
            out[n] = l;
            n += 1;
        }
        n
    }

    /// Levels on the side (counts the window's bits: not for the hot path).
    pub fn len(&self) -> usize {
        let window: u32 = self.words.iter().map(|w| w.count_ones()).sum();
        window as usize + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.summary == 0 && self.far.is_empty()
    }

    /// Removes every level; the window stays where it is (the next snapshot is most
    /// likely near the last price) and no allocation is freed.
    pub fn clear(&mut self) {
        self.empty_window(|_| {});
        self.far.clear();
        self.since = 0;
    }
}

/// Best-first iteration: the window's bits from the top, merged with the fallback from
/// its end.
#[derive(Debug)]
struct Levels<'a> {
    ladder: &'a Ladder,
    /// Window words not visited yet, as summary bits.
    words: u64,
    /// The word being visited and its bits not yielded yet.
    word: usize,
    bits: u64,
    /// Fallback levels not yielded yet (the next is `far[far - 1]`).
    far: usize,
}

impl Iterator for Levels<'_> {
    type Item = Level;

    #[inline]
    fn next(&mut self) -> Option<Level> {
        let l = self.ladder;
        while self.bits == 0 && self.words != 0 {
            self.word = 63 - self.words.leading_zeros() as usize;
            self.words &= !(1 << self.word);
            self.bits = l.words[self.word];
        }
        let far = if self.far > 0 { Some(l.far[self.far - 1]) } else { None };
        if self.bits != 0 {
            let b = 63 - self.bits.leading_zeros() as usize;
            let i = self.word * 64 + b;
            let key = l.slot_key(i);
            if far.is_none_or(|f| key > f.key) {
                self.bits &= !(1 << b);
                return Some(Level { price: l.price(key), qty: Qty(l.slot_qty(i)) });
            }
        }
        let f = far?;
        self.far -= 1;
        Some(Level { price: l.price(f.key), qty: Qty(f.qty) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn levels(l: &Ladder) -> Vec<(i64, i64)> {
        l.iter().map(|l| (l.price.0, l.qty.0)).collect()
    }

    #[test]
    fn bids_and_asks_keep_their_best_on_top() {
        for tick in [1, 100] {
            let mut b = Ladder::bids(Price(tick), 8);
            let mut a = Ladder::asks(Price(tick), 8);
            for (p, q) in [(100, 1), (102, 2), (101, 3)] {
                b.set(Price(p * tick), Qty(q)).unwrap();
                a.set(Price((p + 10) * tick), Qty(q)).unwrap();
            }
            assert_eq!(b.best(), Some(Level { price: Price(102 * tick), qty: Qty(2) }));
            assert_eq!(a.best(), Some(Level { price: Price(110 * tick), qty: Qty(1) }));
            b.set(Price(102 * tick), Qty(0)).unwrap();
            assert_eq!(b.best().unwrap().price, Price(101 * tick));
            let prices: Vec<i64> = a.iter().map(|l| l.price.0 / tick).collect();
            assert_eq!(prices, [110, 111, 112]);
            let mut out = [Level::default(); 2];
            assert_eq!(a.top_into(&mut out, Some(Price(110 * tick))), 2);
            assert_eq!(out[0].price, Price(111 * tick));
            b.set(Price(55 * tick), Qty(0)).unwrap();
            assert_eq!(b.len(), 2, "deleting an absent level changes nothing");
        }
    }

    #[test]
    fn the_grid_lookup_matches_division() {
        for tick in [2u64, 3, 7, 10, 100, 250, 500, 1000, 2500, 65_536, 99_991, 1 << 20] {
            let g = Grid::new(tick as i64);
            assert_ne!(g.magic, 0, "tick {tick} uses the multiply");
            let xs = (0..20_000u64)
                .chain((0..20_000).map(|k| g.span.saturating_sub(1 + k)))
                .chain((0..WINDOW_TICKS as u64).flat_map(|i| [i * tick, i * tick + 1, (i * tick).max(1) - 1]))
                .chain([g.span, g.span + 1, u64::MAX]);
            for x in xs {
                let want = (x < g.span && x % tick == 0).then(|| (x / tick) as usize);
                assert_eq!(g.slot(x), want, "tick {tick} x {x}");
            }
        }
        assert_eq!(Grid::new(1).magic, 0);
        assert_eq!(Grid::new(1 << 21).magic, 0, "a window past 2^32 units divides in hardware");
        assert_eq!(Grid::new(1 << 21).slot(3 << 21), Some(3));
        assert_eq!(Grid::new(1 << 41).span, 0, "no window at all");
    }

    #[test]
    fn off_grid_and_far_levels_are_kept_in_order() {
        let mut b = Ladder::bids(Price(100), 8);
        b.set(Price(1_000_000), Qty(1)).unwrap(); // the best, centres the window
        b.set(Price(999_950), Qty(2)).unwrap(); // off the grid
        b.set(Price(999_900), Qty(3)).unwrap();
        b.set(Price(1_000_050), Qty(4)).unwrap(); // off the grid, the new best
        b.set(Price(1_000), Qty(5)).unwrap(); // far below the window
        assert_eq!(levels(&b), [(1_000_050, 4), (1_000_000, 1), (999_950, 2), (999_900, 3), (1_000, 5)]);
        assert_eq!(b.qty_at(Price(999_950)), Qty(2));
        assert_eq!(b.qty_at(Price(1_000)), Qty(5));
        b.set(Price(1_000_050), Qty(0)).unwrap();
        assert_eq!(b.best(), Some(Level { price: Price(1_000_000), qty: Qty(1) }));
        for p in [1_000_000, 999_950, 999_900] {
            b.set(Price(p), Qty(0)).unwrap();
        }
        assert_eq!(b.best(), Some(Level { price: Price(1_000), qty: Qty(5) }), "the far level is next");
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn the_window_follows_the_best() {
        let tick = 100;
        let mut a = Ladder::asks(Price(tick), 8);
        // A deep ask book, then the price runs up far beyond the window and back.
        for k in 0..10_000 {
            a.set(Price((1_000_000 + k) * tick), Qty(k + 1)).unwrap();
        }
        let lo_before = a.lo;
        for k in 0..10_000 {
            a.set(Price((1_000_000 + k) * tick), Qty(0)).unwrap();
            a.set(Price((1_000_000 + k + 10_000) * tick), Qty(1)).unwrap();
        }
        assert_ne!(a.lo, lo_before, "the window moved");
        assert_eq!(a.len(), 10_000);
        assert_eq!(a.best().unwrap().price, Price(1_010_000 * tick));
        let top = a.best().unwrap().price.0;
        assert!(a.slot_of(a.key(Price(top))).is_some(), "the best is in the window");
        let want: Vec<i64> = (0..10_000).map(|k| (1_010_000 + k) * tick).collect();
        assert_eq!(a.iter().map(|l| l.price.0).collect::<Vec<_>>(), want);
        a.clear();
        assert!(a.is_empty() && a.best().is_none() && a.iter().next().is_none());
        assert_eq!(a.qty_at(Price(top)), Qty::ZERO);
    }

    #[test]
    fn extreme_prices_stay_exact() {
        for tick in [1, 100, 1 << 20, 1 << 41] {
            let mut b = Ladder::bids(Price(tick), 8);
            let mut a = Ladder::asks(Price(tick), 8);
            let ps = [1, 2, tick, i64::MAX / 2, i64::MAX - 1, i64::MAX, i64::MAX / tick * tick];
            for (n, &p) in ps.iter().enumerate() {
                b.set(Price(p), Qty(n as i64 + 1)).unwrap();
                a.set(Price(p), Qty(n as i64 + 1)).unwrap();
            }
            let mut want: Vec<i64> = ps.to_vec();
            want.sort_unstable();
            want.dedup();
            assert_eq!(a.iter().map(|l| l.price.0).collect::<Vec<_>>(), want, "tick {tick}");
            want.reverse();
            assert_eq!(b.iter().map(|l| l.price.0).collect::<Vec<_>>(), want, "tick {tick}");
            let mut out = [Level::default(); 2];
            assert_eq!(b.top_into(&mut out, None), 2);
            assert_eq!((out[0].price.0, out[1].price.0), (want[0], want[1]), "tick {tick}");
            for &p in &ps {
                b.set(Price(p), Qty(0)).unwrap();
                a.set(Price(p), Qty(0)).unwrap();
            }
            assert!(a.is_empty() && b.is_empty() && a.best().is_none() && b.best().is_none());
        }
    }

    #[test]
    fn a_full_side_refuses_new_levels_only_outside_its_window() {
        let mut b = Ladder::bids(Price(1), 8);
        let mut n = 0;
        while b.set(Price((n + 1) * 3), Qty(1)).is_ok() {
            n += 1;
        }
        let len = b.len();
        assert_eq!(len, n as usize);
        assert!((MAX_LEVELS..=MAX_LEVELS + WINDOW_TICKS).contains(&len), "{len}");
        assert_eq!(b.far.len(), MAX_LEVELS);
        assert_eq!(b.set(Price(1), Qty(1)), Err(LadderFull), "far below the window");
        let top = b.best().unwrap().price;
        b.set(top, Qty(7)).unwrap();
        assert_eq!(b.best().unwrap().qty, Qty(7), "existing levels still update");
        let free = (0..WINDOW_TICKS).find(|&i| b.slot_qty(i) == 0).unwrap();
        b.set(b.price(b.slot_key(free)), Qty(1)).unwrap();
        assert_eq!(b.len(), len + 1, "the window still takes levels");
    }

    #[test]
    fn memory_follows_the_levels_not_the_window() {
        let tick = 100;
        let mut b = Ladder::bids(Price(tick), 0);
        assert_eq!(b.heap_bytes(), 0, "an empty side holds no heap");
        // Ten levels 50 ticks apart: 500 ticks of price range, ten pages.
        for k in 0..10 {
            b.set(Price((1_000_000 - 50 * k) * tick), Qty(1)).unwrap();
        }
        assert_eq!(b.pages_mapped(), 10);
        let ten_pages = b.heap_bytes();
        // Ten pages (the pool rounds up to sixteen) and the first level's stay in the
        // fallback before the window moved to it: not the 32 KiB of a whole window.
        assert!(ten_pages < 3 * 1024, "{ten_pages} bytes");
        // A level moving inside its page, then to a fresh page and back: the emptied page
        // stays mapped until the maintenance pass, and is reused after it.
        b.set(Price(1_000_000 * tick), Qty(0)).unwrap();
        b.set(Price((1_000_000 + 3) * tick), Qty(2)).unwrap();
        assert_eq!(b.pages_mapped(), 10);
        b.set(Price((1_000_000 + 3) * tick), Qty(0)).unwrap();
        b.set(Price((1_000_000 - 500) * tick), Qty(2)).unwrap();
        assert_eq!(b.pages_mapped(), 11);
        b.compact();
        assert_eq!(b.pages_mapped(), 10, "the emptied top page went back to the pool");
        b.set(Price((1_000_000 - 700) * tick), Qty(2)).unwrap();
        assert_eq!(b.pages_mapped(), 11);
        let pool = b.pool.len();
        assert_eq!(pool, 11, "the freed page was reused");
        assert_eq!(b.best().unwrap().price, Price((1_000_000 - 50) * tick));
        assert_eq!(b.qty_at(Price((1_000_000 - 700) * tick)), Qty(2));
        assert_eq!(b.qty_at(Price((1_000_000 - 701) * tick)), Qty::ZERO, "an unmapped slot reads zero");
        // Deleting a level that was never there maps nothing.
        b.set(Price((1_000_000 - 1_000) * tick), Qty(0)).unwrap();
        assert_eq!(b.pages_mapped(), 11);
        b.clear();
        assert_eq!((b.pages_mapped(), b.pool.len()), (0, pool), "clearing keeps the pool");
    }

    /// One step of a random update stream, interpreted against a moving centre.
    #[derive(Clone, Copy, Debug)]
    enum Op {
        /// A level a few ticks from the centre (on the grid).
        Near { ticks: i64, qty: i64, bid: bool },
        /// A price anywhere within a few hundred ticks, usually off the grid.
        OffGrid { units: i64, qty: i64, bid: bool },
        /// A level up to 200,000 ticks away: outside the window.
        Far { ticks: i64, qty: i64, bid: bool },
        /// The centre jumps by up to 20,000 ticks (then levels land around it).
        Jump { ticks: i64 },
        /// The best level of a side goes.
        DeleteBest { bid: bool },
        /// The maintenance pass returns empty pages to the pool.
        Compact,
    }

    fn op() -> impl Strategy<Value = Op> {
        let qty = prop_oneof![1 => Just(0i64), 3 => 1i64..4];
        prop_oneof![
            8 => (-40i64..40, qty.clone(), any::<bool>()).prop_map(|(ticks, qty, bid)| Op::Near { ticks, qty, bid }),
            2 => (-300i64..300, qty.clone(), any::<bool>()).prop_map(|(units, qty, bid)| Op::OffGrid { units, qty, bid }),
            2 => (-200_000i64..200_000, qty, any::<bool>()).prop_map(|(ticks, qty, bid)| Op::Far { ticks, qty, bid }),
            1 => (-20_000i64..20_000).prop_map(|ticks| Op::Jump { ticks }),
            2 => any::<bool>().prop_map(|bid| Op::DeleteBest { bid }),
            1 => Just(Op::Compact),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        // The ladder against a straightforward ordered map, over long random update
        // streams: dense updates near the top, off-grid prices, levels far outside the
        // window, large jumps of the price (re-centring both ways), best levels deleted,
        // for ticks that take the multiply, the hardware division, and no window.
        #[test]
        fn matches_an_ordered_map(
            tick in prop_oneof![Just(1i64), Just(7), Just(100), Just(500), Just(1 << 21), Just(1 << 41)],
            ops in proptest::collection::vec(op(), 1..2000),
        ) {
            let mut bids = Ladder::bids(Price(tick), 4);
            let mut asks = Ladder::asks(Price(tick), 4);
            let mut rb: BTreeMap<i64, i64> = BTreeMap::new();
            let mut ra: BTreeMap<i64, i64> = BTreeMap::new();
            let mut centre: i64 = 1_000_000; // ticks
            let mut touched = Vec::new();
            for op in ops {
                let (price, qty, bid) = match op {
                    Op::Near { ticks, qty, bid } => ((centre + ticks) * tick, qty, bid),
                    Op::OffGrid { units, qty, bid } => (centre * tick + units, qty, bid),
                    Op::Far { ticks, qty, bid } => ((centre + ticks) * tick, qty, bid),
                    Op::Jump { ticks } => {
                        centre += ticks;
                        continue;
                    }
                    Op::Compact => {
                        bids.compact();
                        asks.compact();
                        continue;
                    }
                    Op::DeleteBest { bid } => {
                        let best = if bid { rb.last_key_value() } else { ra.first_key_value() };
                        match best {
                            Some((&p, _)) => (p, 0, bid),
                            None => continue,
                        }
                    }
                };
                if price <= 0 {
                    continue;
                }
                let (l, r) = if bid { (&mut bids, &mut rb) } else { (&mut asks, &mut ra) };
                l.set(Price(price), Qty(qty)).unwrap();
                if qty == 0 { r.remove(&price); } else { r.insert(price, qty); }
                touched.push(price);
                let want_bid = rb.last_key_value().map(|(&p, &q)| Level { price: Price(p), qty: Qty(q) });
                let want_ask = ra.first_key_value().map(|(&p, &q)| Level { price: Price(p), qty: Qty(q) });
                prop_assert_eq!(bids.best(), want_bid);
                prop_assert_eq!(asks.best(), want_ask);
                prop_assert_eq!((bids.len(), asks.len()), (rb.len(), ra.len()));
            }
            let want_b: Vec<(i64, i64)> = rb.iter().rev().map(|(&p, &q)| (p, q)).collect();
            prop_assert_eq!(levels(&bids), want_b.clone());
            let want_a: Vec<(i64, i64)> = ra.iter().map(|(&p, &q)| (p, q)).collect();
            prop_assert_eq!(levels(&asks), want_a.clone());
            for p in touched {
                prop_assert_eq!(bids.qty_at(Price(p)).0, rb.get(&p).copied().unwrap_or(0));
                prop_assert_eq!(asks.qty_at(Price(p)).0, ra.get(&p).copied().unwrap_or(0));
            }
            // The published top, with and without a BBO overlay to skip.
            let mut out = [Level::default(); 5];
            let n = bids.top_into(&mut out, None);
            prop_assert_eq!(out[..n].iter().map(|l| (l.price.0, l.qty.0)).collect::<Vec<_>>(), want_b.iter().take(5).copied().collect::<Vec<_>>());
            if let Some(&(p, _)) = want_a.get(1) {
                let n = asks.top_into(&mut out, Some(Price(p)));
                let want: Vec<(i64, i64)> = want_a.iter().filter(|l| l.0 > p).take(5).copied().collect();
                prop_assert_eq!(out[..n].iter().map(|l| (l.price.0, l.qty.0)).collect::<Vec<_>>(), want);
            }
        }
    }
}
