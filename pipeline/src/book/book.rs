//! One instrument's L2 book and the protocol that keeps it in sync with the venue.
//!
//! Sync is the same rule for every depth feed once sequence ids are normalized to an
//! inclusive range `first..=last` per update (Gate `U..u`, MEXC `fromVersion..toVersion`,
//! MEXC futures `begin..end` or one `version`):
//!
//! - While unsynced, deltas are buffered (bounded). A snapshot with id `S` replaces the
//!   book; buffered deltas with `last <= S` are dropped, the first one applied must
//!   satisfy `first <= S + 1`, and each later one must chain. A buffered delta that
//!   starts after `S + 1` means the snapshot is too old: ask for another one.
//! - While synced, a delta with `last <= id` is a duplicate and ignored; one with
//!   `first > id + 1` is a gap; otherwise it applies (quantities are absolute, so an
//!   overlap re-applies the same values).
//! - A gap, a crossed book, a feed loss, an undecodable update or a stale book marks
//!   the book unsynced: it is cleared, it stops feeding detection, and a resync is
//!   requested (again after `resync_retry_ms` if nothing comes).
//!
//! An update is staged until its `End` event and applied whole, so an update cut short
//! (another instrument's header, a feed loss) never leaves half its levels in the book.

use super::config::BookConfig;
use super::ladder::{Ladder, LadderFull};
use super::stats::BookStats;
use crate::msg::{BOOK_DEPTH, BookTop, Level, MdBody, MdEvent};
use crate::types::{InstrumentId, Price, Qty, Side};

/// What applying an event asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookEffect {
    /// The book's published state changed (levels, or synced to unsynced).
    Changed(InstrumentId),
    /// The book needs a snapshot or a resubscription.
    Resync(InstrumentId),
}

/// Buffered events whose allocation a book keeps once synced (72 bytes each).
const PENDING_KEPT: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Header {
    Delta { first: u64, last: u64 },
    Snapshot { id: u64, partial: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bbo {
    seq: u64,
    bid: Level,
    ask: Level,
    recv_ns: u64,
}

/// An L2 book with its sync state.
#[derive(Clone, Debug)]
pub struct L2Book {
    inst: InstrumentId,
    cfg: BookConfig,
    /// The bids and the asks, indexed by `Side` (a random side then costs an address
    /// computation, not a branch).
    sides: [Ladder; 2],
    synced: bool,
    last_id: u64,
    /// The update being staged, its levels, and its receive times.
    header: Option<Header>,
    staged: Vec<(Side, Price, Qty)>,
    staged_recv_ns: u64,
    staged_exch_ms: u64,
    /// Buffered deltas (header, levels, End) while unsynced.
    pending: Vec<MdEvent>,
    bbo: Option<Bbo>,
    recv_ns: u64,
    exch_ms: u64,
    /// When the outstanding resync was requested; `None` if none is.
    resync_at: Option<u64>,
    /// When the feed was lost, while the book waits for the new session's first delta
    /// before asking for a snapshot; `None` otherwise.
    feed_lost_at: Option<u64>,
    stats: BookStats,
}

impl L2Book {
    /// An empty, unsynced book for `inst`, whose prices move in steps of `tick` (the
    /// instrument's tick in its price units; the ladders lay their windows out on it).
    pub fn new(inst: InstrumentId, tick: Price, cfg: BookConfig) -> Self {
        Self {
            inst,
            cfg,
            sides: [Ladder::bids(tick, cfg.initial_levels), Ladder::asks(tick, cfg.initial_levels)],
            synced: false,
            last_id: 0,
            header: None,
            staged: Vec::with_capacity(cfg.initial_levels),
            staged_recv_ns: 0,
            staged_exch_ms: 0,
            pending: Vec::new(),
            bbo: None,
            recv_ns: 0,
            exch_ms: 0,
            resync_at: None,
            feed_lost_at: None,
            stats: BookStats::default(),
        }
    }

    pub fn inst(&self) -> InstrumentId {
        self.inst
    }

    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The venue sequence id the book is at.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    pub fn stats(&self) -> &BookStats {
        &self.stats
    }

    pub fn bids(&self) -> &Ladder {
        &self.sides[Side::Buy as usize]
    }

    pub fn asks(&self) -> &Ladder {
        &self.sides[Side::Sell as usize]
    }

    /// Heap bytes the book holds (capacities: ladders, staged levels, buffered events).
    pub fn heap_bytes(&self) -> usize {
        self.sides.iter().map(Ladder::heap_bytes).sum::<usize>()
            + self.staged.capacity() * std::mem::size_of::<(Side, Price, Qty)>()
            + self.pending.capacity() * std::mem::size_of::<MdEvent>()
    }

    /// Receive time of the newest data applied.
    pub fn recv_ns(&self) -> u64 {
        self.recv_ns
    }

    /// Applies one market-data event. `now_ns` is the local time, used for resync
    /// bookkeeping.
    #[inline]
    pub fn apply(&mut self, ev: &MdEvent, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        // Levels are most events: staged inline; everything else out of line.
        if let MdBody::Level { side, price, qty } = ev.body {
            if self.header.is_some() {
                if price.0 > 0 && qty.0 >= 0 {
                    self.staged.push((side, price, qty));
                } else {
                    self.bad_level(now_ns, fx);
                }
            }
            return;
        }
        self.apply_other(ev, now_ns, fx);
    }

    #[cold]
    #[inline(never)]
    fn bad_level(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        self.header = None;
        self.stats.bad_updates += 1;
        self.unsync(now_ns, fx);
    }

    #[inline(never)]
    fn apply_other(&mut self, ev: &MdEvent, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        match ev.body {
            MdBody::Delta { first, last } => self.begin(Header::Delta { first, last }, ev, now_ns, fx),
            MdBody::Snapshot { id, partial } => self.begin(Header::Snapshot { id, partial }, ev, now_ns, fx),
            MdBody::Level { .. } => {}
            MdBody::End => {
                if let Some(h) = self.header.take() {
                    self.finish(h, now_ns, fx);
                }
            }
            MdBody::Bbo { seq, bid, bid_qty, ask, ask_qty } => {
                self.bbo_update(seq, bid, bid_qty, ask, ask_qty, ev.recv_ns, fx);
            }
            MdBody::Trade { .. } | MdBody::Listed { .. } => {}
            MdBody::FeedLost { reason } => {
                self.header = None;
                self.stats.feed_losses += 1;
                self.pending.clear();
                if reason == crate::msg::FeedLoss::Disconnected {
                    self.lose_session(now_ns, fx);
                } else {
                    // The session goes on: a snapshot now is bridged by what follows.
                    self.unsync(now_ns, fx);
                }
            }
        }
    }

    fn begin(&mut self, h: Header, ev: &MdEvent, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        if self.header.is_some() {
            // The previous update never ended: it was cut short.
            self.stats.bad_updates += 1;
            self.unsync(now_ns, fx);
        }
        self.header = Some(h);
        self.staged.clear();
        self.staged_recv_ns = ev.recv_ns;
        self.staged_exch_ms = ev.exch_ms;
    }

    fn finish(&mut self, h: Header, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        match h {
            Header::Snapshot { id, partial } => self.snapshot(id, partial, now_ns, fx),
            Header::Delta { first, last } => {
                if self.synced {
                    self.delta(first, last, now_ns, fx);
                } else {
                    self.buffer(first, last, now_ns, fx);
                }
            }
        }
    }

    fn snapshot(&mut self, id: u64, partial: bool, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        if self.synced && !partial && id <= self.last_id {
            // Older than the book we have: nothing to learn from it.
            return;
        }
        self.stats.snapshots += 1;
        self.sides.iter_mut().for_each(Ladder::clear);
        self.bbo = None;
        if self.apply_staged().is_err() {
            self.stats.bad_updates += 1;
            self.unsync(now_ns, fx);
            return;
        }
        self.last_id = id;
        self.recv_ns = self.staged_recv_ns;
        self.exch_ms = self.staged_exch_ms;
        self.synced = true;
        if !partial && !self.replay_pending() {
            self.stats.gaps += 1;
            self.unsync_keep_pending(now_ns, fx);
            return;
        }
        self.pending.clear();
        if self.pending.capacity() > PENDING_KEPT {
            // A long wait for this snapshot buffered many deltas: do not hold that memory
            // for the book's lifetime.
            self.pending.shrink_to(PENDING_KEPT);
        }
        self.resync_at = None;
        self.feed_lost_at = None;
        self.after_change(now_ns, fx);
        if self.synced && self.stats.first_synced_ns == 0 {
            self.stats.first_synced_ns = now_ns.max(1);
        }
    }

    /// Applies buffered deltas on top of a fresh snapshot; false on a gap.
    fn replay_pending(&mut self) -> bool {
        let pending = std::mem::take(&mut self.pending);
        let mut ok = true;
        let mut i = 0;
        while i < pending.len() {
            let (first, last) = match pending[i].body {
                MdBody::Delta { first, last } => (first, last),
                _ => {
                    i += 1;
                    continue;
                }
            };
            let start = i + 1;
            let mut end = start;
            while end < pending.len() && !matches!(pending[end].body, MdBody::End) {
                end += 1;
            }
            if ok && last > self.last_id {
                if first > self.last_id + 1 {
                    ok = false;
                } else {
                    for ev in &pending[start..end] {
                        if let MdBody::Level { side, price, qty } = ev.body {
                            if self.set(side, price, qty).is_err() {
                                ok = false;
                            }
                        }
                    }
                    self.last_id = last;
                    self.recv_ns = pending[i].recv_ns;
                    self.exch_ms = pending[i].exch_ms;
                }
            }
            i = end + 1;
        }
        if ok {
            // Keep the allocation for the next time the book buffers.
            self.pending = pending;
            self.pending.clear();
        } else {
            // The snapshot is older than what we buffered: keep the newer deltas for the
            // next snapshot.
            self.pending = pending;
            let keep_from = self.last_id;
            self.retain_pending_after(keep_from);
        }
        ok
    }

    /// Drops buffered deltas that end at or before `id`.
    fn retain_pending_after(&mut self, id: u64) {
        let mut out = Vec::with_capacity(self.pending.len());
        let mut keep = false;
        for ev in self.pending.drain(..) {
            if let MdBody::Delta { last, .. } = ev.body {
                keep = last > id;
            }
            if keep {
                out.push(ev);
            }
        }
        self.pending = out;
    }

    fn delta(&mut self, first: u64, last: u64, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        if last <= self.last_id {
            self.stats.duplicates += 1;
            return;
        }
        if first > self.last_id + 1 {
            self.stats.gaps += 1;
            self.unsync(now_ns, fx);
            self.buffer(first, last, now_ns, fx);
            return;
        }
        if self.apply_staged().is_err() {
            self.stats.bad_updates += 1;
            self.unsync(now_ns, fx);
            return;
        }
        self.stats.updates += 1;
        self.last_id = last;
        self.recv_ns = self.staged_recv_ns;
        self.exch_ms = self.staged_exch_ms;
        if self.bbo.is_some_and(|b| b.seq <= last) {
            self.bbo = None;
        }
        self.after_change(now_ns, fx);
    }

    fn buffer(&mut self, first: u64, last: u64, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        if self.pending.len() + self.staged.len() + 2 > self.cfg.buffer_events {
            self.stats.buffer_overflows += 1;
            self.pending.clear();
            self.request_resync(now_ns, fx);
        }
        let mk = |body| MdEvent {
            inst: self.inst,
            recv_ns: self.staged_recv_ns,
            exch_ms: self.staged_exch_ms,
            body,
        };
        self.pending.push(mk(MdBody::Delta { first, last }));
        for &(side, price, qty) in &self.staged {
            self.pending.push(mk(MdBody::Level { side, price, qty }));
        }
        self.pending.push(mk(MdBody::End));
        if self.resync_at.is_none() {
            self.request_resync(now_ns, fx);
        }
    }

    fn apply_staged(&mut self) -> Result<(), LadderFull> {
        for &(side, price, qty) in &self.staged {
            // By index, not by `match`: the side is as random as the feed.
            self.sides[side as usize].set(price, qty)?;
        }
        Ok(())
    }

    #[inline]
    fn set(&mut self, side: Side, price: Price, qty: Qty) -> Result<(), LadderFull> {
        // By index, not by `match`: the side is as random as the feed.
        self.sides[side as usize].set(price, qty)
    }

    fn after_change(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        if let (Some(b), Some(a)) = (self.bids().best(), self.asks().best()) {
            if b.price >= a.price {
                self.stats.crossed += 1;
                self.unsync(now_ns, fx);
                return;
            }
        }
        fx(BookEffect::Changed(self.inst));
    }

    #[allow(clippy::too_many_arguments)]
    fn bbo_update(
        &mut self,
        seq: u64,
        bid: Price,
        bid_qty: Qty,
        ask: Price,
        ask_qty: Qty,
        recv_ns: u64,
        fx: &mut impl FnMut(BookEffect),
    ) {
        let sane = bid.0 > 0 && ask.0 > 0 && bid < ask && bid_qty.0 > 0 && ask_qty.0 > 0;
        if !self.synced || !sane || seq == 0 || seq <= self.last_id {
            return;
        }
        if self.bbo.is_some_and(|b| b.seq >= seq) {
            return;
        }
        self.bbo = Some(Bbo {
            seq,
            bid: Level { price: bid, qty: bid_qty },
            ask: Level { price: ask, qty: ask_qty },
            recv_ns,
        });
        fx(BookEffect::Changed(self.inst));
    }

    fn unsync(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        self.pending.clear();
        self.unsync_keep_pending(now_ns, fx);
    }

    fn unsync_keep_pending(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        let was = self.synced;
        self.synced = false;
        self.sides.iter_mut().for_each(Ladder::clear);
        self.bbo = None;
        if was {
            fx(BookEffect::Changed(self.inst));
        }
        self.request_resync(now_ns, fx);
    }

    /// The connection was dropped or reopened: the book unsyncs but asks for nothing
    /// yet. A snapshot fetched now would predate the new session's first delta and could
    /// never be bridged (the updates in between are lost), so the first delta buffered
    /// asks for it instead, exactly as at start; a feed that stays silent asks after
    /// `resync_retry_ms`.
    fn lose_session(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        let was = self.synced;
        self.synced = false;
        self.sides.iter_mut().for_each(Ladder::clear);
        self.bbo = None;
        if was {
            fx(BookEffect::Changed(self.inst));
        }
        self.resync_at = None;
        self.feed_lost_at = Some(now_ns);
    }

    fn request_resync(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        self.feed_lost_at = None;
        // The snapshots of the first sync are start-up, not resyncs.
        if self.stats.first_synced_ns != 0 {
            self.stats.resyncs += 1;
        }
        self.resync_at = Some(now_ns);
        fx(BookEffect::Resync(self.inst));
    }

    /// Periodic upkeep: the ladders return their empty pages to their pools, a synced
    /// book silent for `stale_ms` resyncs, and an unsynced one whose resync went
    /// unanswered asks again.
    pub fn maintain(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        const MS: u64 = 1_000_000;
        self.sides.iter_mut().for_each(Ladder::compact);
        if self.synced {
            if self.cfg.stale_ms > 0 && now_ns.saturating_sub(self.recv_ns) > self.cfg.stale_ms * MS {
                self.stats.stale += 1;
                self.unsync(now_ns, fx);
            }
        } else if let Some(at) = self.resync_at.or(self.feed_lost_at) {
            if now_ns.saturating_sub(at) > self.cfg.resync_retry_ms * MS {
                self.request_resync(now_ns, fx);
            }
        }
    }

    /// The published top of the book: the BBO overlay when it is newer than the depth,
    /// then the depth levels beyond it.
    pub fn top(&self, out: &mut BookTop) {
        out.inst = self.inst;
        out.synced = self.synced;
        out.seq = self.last_id;
        out.recv_ns = self.recv_ns;
        out.exch_ms = self.exch_ms;
        if !self.synced {
            out.n_bids = 0;
            out.n_asks = 0;
            return;
        }
        match self.bbo {
            Some(b) => {
                out.recv_ns = out.recv_ns.max(b.recv_ns);
                out.seq = b.seq;
                out.bids[0] = b.bid;
                out.asks[0] = b.ask;
                out.n_bids = 1 + self.bids().top_into(&mut out.bids[1..], Some(b.bid.price)) as u8;
                out.n_asks = 1 + self.asks().top_into(&mut out.asks[1..], Some(b.ask.price)) as u8;
            }
            None => {
                out.n_bids = self.bids().top_into(&mut out.bids, None) as u8;
                out.n_asks = self.asks().top_into(&mut out.asks, None) as u8;
            }
        }
        debug_assert!(out.n_bids as usize <= BOOK_DEPTH && out.n_asks as usize <= BOOK_DEPTH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::FeedLoss;

    const I: InstrumentId = InstrumentId(0);

    struct T {
        book: L2Book,
        fx: Vec<BookEffect>,
        now: u64,
    }

    impl T {
        fn new() -> Self {
            Self {
                book: L2Book::new(I, Price(1), BookConfig { buffer_events: 64, ..BookConfig::default() }),
                fx: vec![],
                now: 1,
            }
        }
        fn ev(&mut self, body: MdBody) {
            let ev = MdEvent { inst: I, recv_ns: self.now, exch_ms: 0, body };
            let fx = &mut self.fx;
            self.book.apply(&ev, self.now, &mut |e| fx.push(e));
        }
        fn update(&mut self, header: MdBody, levels: &[(Side, i64, i64)]) {
            self.ev(header);
            for &(side, p, q) in levels {
                self.ev(MdBody::Level { side, price: Price(p), qty: Qty(q) });
            }
            self.ev(MdBody::End);
        }
        fn snapshot(&mut self, id: u64, levels: &[(Side, i64, i64)]) {
            self.update(MdBody::Snapshot { id, partial: false }, levels);
        }
        fn delta(&mut self, first: u64, last: u64, levels: &[(Side, i64, i64)]) {
            self.update(MdBody::Delta { first, last }, levels);
        }
        fn top(&self) -> (Levels, Levels) {
            let mut t = BookTop::unsynced(I, 0);
            self.book.top(&mut t);
            let f = |l: &[Level]| l.iter().map(|l| (l.price.0, l.qty.0)).collect();
            (f(t.bids()), f(t.asks()))
        }
        fn resyncs(&self) -> usize {
            self.fx.iter().filter(|e| matches!(e, BookEffect::Resync(_))).count()
        }
    }

    use Side::{Buy as B, Sell as S};

    type Levels = Vec<(i64, i64)>;

    #[test]
    fn deltas_before_the_snapshot_are_buffered_then_chained() {
        let mut t = T::new();
        t.delta(99, 100, &[(B, 10, 1)]); // older than the snapshot: dropped
        t.delta(101, 102, &[(B, 11, 2)]); // straddles S+1 = 101: applied
        t.delta(103, 103, &[(S, 13, 5)]);
        assert!(!t.book.is_synced());
        assert_eq!(t.resyncs(), 1, "the first buffered delta asks for a snapshot");
        t.snapshot(100, &[(B, 9, 1), (S, 14, 1)]);
        assert!(t.book.is_synced());
        assert_eq!(t.book.stats().resyncs, 0, "the first sync's snapshot is no resync");
        assert_eq!(t.book.last_id(), 103);
        assert_eq!(t.top(), (vec![(11, 2), (9, 1)], vec![(13, 5), (14, 1)]));
    }

    #[test]
    fn a_snapshot_older_than_the_buffer_asks_for_another() {
        let mut t = T::new();
        t.delta(110, 112, &[(B, 11, 2)]);
        t.snapshot(100, &[(B, 9, 1), (S, 14, 1)]);
        assert!(!t.book.is_synced());
        assert_eq!(t.book.stats().gaps, 1);
        assert_eq!(t.resyncs(), 2);
        // A newer snapshot syncs using the delta that was kept.
        t.snapshot(109, &[(B, 9, 1), (S, 14, 1)]);
        assert!(t.book.is_synced());
        assert_eq!(t.book.last_id(), 112);
        assert_eq!(t.top().0, vec![(11, 2), (9, 1)]);
    }

    #[test]
    fn duplicates_are_ignored_and_gaps_resync() {
        let mut t = T::new();
        t.snapshot(10, &[(B, 9, 1), (S, 14, 1)]);
        t.delta(11, 12, &[(B, 10, 1)]);
        t.delta(11, 12, &[(B, 10, 7)]); // a replay of the same update
        assert_eq!(t.book.stats().duplicates, 1);
        assert_eq!(t.top().0, vec![(10, 1), (9, 1)]);
        t.delta(12, 13, &[(B, 10, 3)]); // overlaps by one id: quantities are absolute
        assert_eq!(t.top().0[0], (10, 3));
        t.delta(15, 16, &[(B, 8, 1)]); // 14 is missing
        assert!(!t.book.is_synced());
        assert_eq!(t.book.stats().gaps, 1);
        assert_eq!(t.top(), (vec![], vec![]), "an unsynced book publishes nothing");
        assert!(t.fx.contains(&BookEffect::Changed(I)));
        t.snapshot(15, &[(B, 9, 1), (S, 14, 1)]);
        assert_eq!(t.book.last_id(), 16, "the delta after the gap was kept and applied");
    }

    #[test]
    fn a_crossed_book_resyncs() {
        let mut t = T::new();
        t.snapshot(1, &[(B, 9, 1), (S, 14, 1)]);
        t.delta(2, 2, &[(B, 15, 1)]);
        assert!(!t.book.is_synced());
        assert_eq!(t.book.stats().crossed, 1);
    }

    #[test]
    fn an_update_cut_short_never_reaches_the_book() {
        let mut t = T::new();
        t.snapshot(1, &[(B, 9, 1), (S, 14, 1)]);
        t.ev(MdBody::Delta { first: 2, last: 2 });
        t.ev(MdBody::Level { side: B, price: Price(10), qty: Qty(4) });
        t.ev(MdBody::FeedLost { reason: FeedLoss::BadUpdate });
        assert!(!t.book.is_synced());
        t.ev(MdBody::End);
        assert_eq!(t.book.bids().len(), 0);
        // Header after header: the first update never ended.
        t.snapshot(5, &[(B, 9, 1), (S, 14, 1)]);
        t.ev(MdBody::Delta { first: 6, last: 6 });
        t.ev(MdBody::Level { side: B, price: Price(10), qty: Qty(4) });
        t.delta(6, 6, &[(B, 11, 1)]);
        assert!(!t.book.is_synced());
        assert_eq!(t.book.stats().bad_updates, 1);
    }

    #[test]
    fn nonsense_levels_invalidate_the_update() {
        let mut t = T::new();
        t.snapshot(1, &[(B, 9, 1), (S, 14, 1)]);
        t.delta(2, 2, &[(B, -5, 1)]);
        assert!(!t.book.is_synced());
        t.snapshot(3, &[(B, 9, 1), (S, 14, 1)]);
        t.delta(4, 4, &[(B, 5, -1)]);
        assert!(!t.book.is_synced());
    }

    #[test]
    fn a_newer_bbo_overlays_the_depth() {
        let mut t = T::new();
        t.snapshot(10, &[(B, 9, 1), (B, 8, 1), (S, 14, 1), (S, 15, 1)]);
        t.ev(MdBody::Bbo { seq: 11, bid: Price(10), bid_qty: Qty(2), ask: Price(14), ask_qty: Qty(3) });
        assert_eq!(t.top(), (vec![(10, 2), (9, 1), (8, 1)], vec![(14, 3), (15, 1)]));
        // An older BBO is ignored; a depth update past the BBO retires it.
        t.ev(MdBody::Bbo { seq: 9, bid: Price(12), bid_qty: Qty(2), ask: Price(13), ask_qty: Qty(3) });
        assert_eq!(t.top().0[0], (10, 2));
        t.delta(11, 12, &[(B, 9, 5)]);
        assert_eq!(t.top(), (vec![(9, 5), (8, 1)], vec![(14, 1), (15, 1)]));
    }

    #[test]
    fn partial_snapshots_replace_the_book_each_time() {
        let mut t = T::new();
        t.update(MdBody::Snapshot { id: 5, partial: true }, &[(B, 9, 1), (S, 14, 1)]);
        t.update(MdBody::Snapshot { id: 7, partial: true }, &[(B, 10, 1), (S, 13, 1)]);
        assert!(t.book.is_synced());
        assert_eq!(t.top(), (vec![(10, 1)], vec![(13, 1)]));
    }

    #[test]
    fn silence_makes_a_book_stale_and_unanswered_resyncs_repeat() {
        let mut t = T::new();
        t.snapshot(1, &[(B, 9, 1), (S, 14, 1)]);
        let now = t.now;
        let mut fx = Vec::new();
        t.book.maintain(now + 29_000_000_000, &mut |e| fx.push(e));
        assert!(t.book.is_synced());
        t.book.maintain(now + 31_000_000_000, &mut |e| fx.push(e));
        assert!(!t.book.is_synced());
        assert_eq!(t.book.stats().stale, 1);
        t.fx.append(&mut fx);
        let before = t.resyncs();
        t.book.maintain(now + 35_000_000_000, &mut |e| fx.push(e));
        t.fx.append(&mut fx);
        assert_eq!(t.fx.iter().filter(|e| matches!(e, BookEffect::Resync(_))).count(), before + 1);
    }

    #[test]
    fn after_a_disconnect_the_first_delta_of_the_new_session_asks_for_the_snapshot() {
        let mut t = T::new();
        t.snapshot(1, &[(B, 9, 1), (S, 14, 1)]);
        t.ev(MdBody::FeedLost { reason: FeedLoss::Disconnected });
        assert!(!t.book.is_synced());
        assert_eq!(t.resyncs(), 0, "a snapshot now could not be bridged by the next session");
        // The new session starts past what was lost; its first delta asks, once.
        t.delta(40, 41, &[(B, 10, 1)]);
        t.delta(42, 42, &[(S, 13, 1)]);
        assert_eq!(t.resyncs(), 1);
        // The snapshot, taken after that delta was sent, is bridged by it: one request.
        t.snapshot(40, &[(B, 9, 1), (S, 14, 1)]);
        assert!(t.book.is_synced());
        assert_eq!(t.book.last_id(), 42);
        assert_eq!(t.resyncs(), 1);
    }

    #[test]
    fn a_silent_session_after_a_disconnect_asks_after_the_retry_time() {
        let mut t = T::new();
        t.snapshot(1, &[(B, 9, 1), (S, 14, 1)]);
        t.ev(MdBody::FeedLost { reason: FeedLoss::Disconnected });
        let (now, retry) = (t.now, BookConfig::default().resync_retry_ms * 1_000_000);
        let mut fx = Vec::new();
        t.book.maintain(now + retry - 1, &mut |e| fx.push(e));
        assert!(fx.is_empty(), "{fx:?}");
        t.book.maintain(now + retry + 1, &mut |e| fx.push(e));
        assert_eq!(fx, [BookEffect::Resync(I)]);
    }

    #[test]
    fn other_feed_losses_ask_at_once() {
        for reason in [FeedLoss::BadUpdate, FeedLoss::Overflow, FeedLoss::SubscriptionFailed] {
            let mut t = T::new();
            t.snapshot(1, &[(B, 9, 1), (S, 14, 1)]);
            t.ev(MdBody::FeedLost { reason });
            assert!(!t.book.is_synced());
            assert_eq!(t.resyncs(), 1, "{reason:?}");
            assert_eq!(t.book.stats().resyncs, 1, "{reason:?}");
        }
    }

    #[test]
    fn buffer_overflow_restarts_buffering() {
        let mut t = T::new();
        for i in 0..30 {
            t.delta(100 + i, 100 + i, &[(B, 10, 1), (S, 20, 1)]);
        }
        assert!(t.book.stats().buffer_overflows > 0);
        assert!(t.book.pending.len() <= 64);
    }
}
