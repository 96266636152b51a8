//! Order tracking: the orders this sink sent (or heard of), what each has reported so far,
//! and the rule that turns venue reports into [`OrderUpdate`]s, each fill exactly once.
//!
//! One order is reported by several sources, in any order, some of them more than once:
//! the HTTP answer to the create request, the private stream's order and trade pushes, the
//! answer to a query. They come in two shapes:
//! - a *trade* (one execution: its id, price, quantity, fee and fee asset), exact;
//! - a *cumulative* report (the order's total filled quantity, its quote value and its
//!   total fee), exact when the venue gives totals (Gate spot orders) or an *estimate*
//!   when it only gives an average price rounded to the tick or no fee at all (Gate
//!   futures orders, MEXC order queries and order pushes).
//!
//! The tracker keeps, per order, what it has already reported as filled (`cum`, with its
//! value and fee). A source only ever adds what lies beyond that:
//! - trades are deduplicated by trade id, and their quantities summed (`trade_qty`); the
//!   part of the sum beyond `cum` is emitted as a [`OrderUpdate::Fill`] at the trade's price;
//! - an exact cumulative report beyond `cum` is emitted at once: a `Fill` at the average
//!   price of the new part when that price is exact at the instrument's scale, otherwise an
//!   [`OrderUpdate::Status`] carrying the exact cumulative value;
//! - an estimate is held back for the stream grace (the private stream usually delivers
//!   the exact trades within it) and emitted only for what the trades have not covered
//!   when the grace ends, or at once while the private stream is down.
//!
//! `Done` is emitted once, when the venue said the order is finished *and* every fill up
//! to the venue's final quantity has been emitted; a fill-or-kill that finished with
//! nothing filled is `Rejected(WouldNotFill)` instead. Since each emitted fill carries the
//! order's cumulative quantity, the state stage's own dedup by `cum_qty` agrees with ours.
//!
//! Capacity: [`SLOTS`] orders in a ring; the oldest finished order's slot is reused (a
//! report about a forgotten order of ours opens a new slot). Nothing allocates after
//! construction unless the event queue overflows its reserved capacity.

use std::collections::VecDeque;
use std::sync::Arc;

use pipeline::dispatch::OrderRequest;
use pipeline::journal::TimeInForce;
use pipeline::msg::{ClientOrderId, OrderEvent, OrderUpdate, RejectReason, StateInput, VenueOrderId};
use pipeline::types::{Amount, AssetId, InstrumentId, Instruments, Price, Qty, Rounding, Side};
use rustc_hash::FxHashMap;

/// Orders tracked at once.
pub(crate) const SLOTS: usize = 1024;
/// Trade ids remembered per order for deduplication.
const TRADE_IDS: usize = 16;
/// Events queued for `poll` before the queue would have to grow.
pub(crate) const EVENTS: usize = 8192;

/// One execution of an order, as a trade push reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trade {
    pub id: u64,
    pub price: Price,
    pub qty: Qty,
    pub fee: Amount,
    pub fee_asset: AssetId,
}

/// An order's totals as a venue reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cumulative {
    pub filled: Qty,
    /// Quote value of `filled`.
    pub value: Amount,
    /// Total fee, in `fee_asset`.
    pub fee: Amount,
    pub fee_asset: AssetId,
    /// The venue's own totals (not an average price or a fee estimate).
    pub exact: bool,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    used: bool,
    client: ClientOrderId,
    inst: InstrumentId,
    side: Side,
    /// Ordered quantity (zero when unknown: an order heard of, not sent here).
    qty: Qty,
    fok: bool,
    venue_order: VenueOrderId,
    sent_ns: u64,
    /// Reported so far: cumulative quantity, its value and fee.
    cum: Qty,
    value: Amount,
    fee: Amount,
    fee_asset: AssetId,
    /// Sum of the distinct trades seen.
    trade_qty: Qty,
    trade_ids: [u64; TRADE_IDS],
    n_ids: u8,
    accepted: bool,
    /// `Done`, `Rejected` or a final `Status` has been emitted.
    finished: bool,
    unknown: bool,
    /// The venue's order lists were searched to their end without it: a lookup that
    /// falls back to them finds nothing more there.
    unlisted: bool,
    /// The venue said the order is finished with this much filled.
    terminal: Option<Qty>,
    /// An estimate held back until `due` (ns).
    deferred: Option<(Cumulative, u64)>,
    /// When to query the order ourselves if it is still not finished (0: never).
    settle_at: u64,
    /// When to ask the venue again on the caller's behalf (a premature "not found").
    requery_at: u64,
}

impl Slot {
    fn empty() -> Slot {
        Slot {
            used: false,
            client: ClientOrderId { op: 0, leg: 0, attempt: 0 },
            inst: InstrumentId(0),
            side: Side::Buy,
            qty: Qty::ZERO,
            fok: false,
            venue_order: VenueOrderId::default(),
            sent_ns: 0,
            cum: Qty::ZERO,
            value: Amount::ZERO,
            fee: Amount::ZERO,
            fee_asset: AssetId(0),
            trade_qty: Qty::ZERO,
            trade_ids: [0; TRADE_IDS],
            n_ids: 0,
            accepted: false,
            finished: false,
            unknown: false,
            unlisted: false,
            terminal: None,
            deferred: None,
            settle_at: 0,
            requery_at: 0,
        }
    }
}

/// What a slot knows about its order, for the venue modules.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SlotView {
    pub client: ClientOrderId,
    pub inst: InstrumentId,
    pub side: Side,
    pub venue_order: VenueOrderId,
}

/// How often our own queries of an order the venue still shows unfinished repeat, unless
/// the sink sets it from its timings.
const REQUERY_OWN_NS: u64 = 1_000_000_000;

/// Every order the sink knows, and the events waiting for `poll`.
pub(crate) struct Tracker {
    instruments: Arc<Instruments>,
    slots: Vec<Slot>,
    index: FxHashMap<ClientOrderId, u32>,
    next: usize,
    /// Slots with something pending (not finished, or a timer set).
    active: Vec<u32>,
    pub out: VecDeque<StateInput>,
    /// After our own query of an order, the next one this much later while the order
    /// is not finished: an end the private stream missed is found all the same.
    requery_own_ns: u64,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("active", &self.active.len())
            .field("queued", &self.out.len())
            .finish()
    }
}

impl Tracker {
    pub fn new(instruments: Arc<Instruments>) -> Self {
        let mut index = FxHashMap::default();
        index.reserve(SLOTS * 2);
        Tracker {
            instruments,
            slots: vec![Slot::empty(); SLOTS],
            index,
            next: 0,
            active: Vec::with_capacity(SLOTS),
            out: VecDeque::with_capacity(EVENTS),
            requery_own_ns: REQUERY_OWN_NS,
        }
    }

    /// Our own queries of an unfinished order repeat every `ns` (at least 1 ms).
    pub fn requery_own_every(&mut self, ns: u64) {
        self.requery_own_ns = ns.max(1_000_000);
    }

    pub fn find(&self, client: ClientOrderId) -> Option<usize> {
        self.index.get(&client).map(|&k| k as usize)
    }

    pub fn view(&self, k: usize) -> SlotView {
        let s = &self.slots[k];
        SlotView { client: s.client, inst: s.inst, side: s.side, venue_order: s.venue_order }
    }

    /// A fresh slot for `client`, replacing any earlier one of the same id.
    fn alloc(&mut self, client: ClientOrderId, inst: InstrumentId, side: Side, now: u64) -> usize {
        if let Some(k) = self.find(client) {
            self.slots[k] = Slot { used: true, client, inst, side, sent_ns: now, ..Slot::empty() };
            self.activate(k);
            return k;
        }
        // The next slot in the ring, skipping (once round) orders still in play.
        let mut k = self.next;
        for _ in 0..SLOTS {
            let s = &self.slots[k];
            if !s.used || (s.finished && s.deferred.is_none() && s.requery_at == 0) {
                break;
            }
            k = (k + 1) % SLOTS;
        }
        self.next = (k + 1) % SLOTS;
        if self.slots[k].used {
            let old = self.slots[k].client;
            self.index.remove(&old);
            self.active.retain(|&a| a as usize != k);
        }
        self.slots[k] = Slot { used: true, client, inst, side, sent_ns: now, ..Slot::empty() };
        self.index.insert(client, k as u32);
        self.activate(k);
        k
    }

    fn activate(&mut self, k: usize) {
        if !self.active.contains(&(k as u32)) && self.active.len() < self.active.capacity() {
            self.active.push(k as u32);
        }
    }

    /// Starts tracking an order about to be sent.
    pub fn open(&mut self, req: &OrderRequest, now: u64) -> usize {
        let k = self.alloc(req.client, req.inst, req.side, now);
        let s = &mut self.slots[k];
        s.qty = req.qty;
        s.fok = req.tif == TimeInForce::Fok;
        k
    }

    /// The slot of `client`, opening one for an order heard of but not sent here.
    pub fn find_or_open(&mut self, client: ClientOrderId, inst: InstrumentId, side: Side, now: u64) -> usize {
        match self.find(client) {
            Some(k) => k,
            None => self.alloc(client, inst, side, now),
        }
    }

    /// Marks a slot as a fill-or-kill order (learnt from a report).
    pub fn set_fok(&mut self, k: usize, fok: bool) {
        self.slots[k].fok |= fok;
    }

    pub fn set_qty(&mut self, k: usize, qty: Qty) {
        if self.slots[k].qty.is_zero() {
            self.slots[k].qty = qty;
        }
    }

    pub fn set_venue_order(&mut self, k: usize, id: &[u8]) {
        if id.is_empty() {
            return;
        }
        if let Some(v) = std::str::from_utf8(id).ok().and_then(VenueOrderId::new) {
            self.slots[k].venue_order = v;
        }
    }

    fn push(&mut self, k: usize, update: OrderUpdate, ts: u64) {
        let s = &self.slots[k];
        self.out.push_back(StateInput::Order(OrderEvent {
            client: s.client,
            inst: s.inst,
            side: s.side,
            update,
            venue_order: s.venue_order,
            ts_ns: ts,
        }));
    }

    /// Stops tracking an order that was never sent.
    pub fn forget(&mut self, k: usize) {
        let s = &mut self.slots[k];
        s.finished = true;
        s.settle_at = 0;
        s.requery_at = 0;
        s.deferred = None;
    }

    /// The slot whose order has this venue id (cold: scans the orders in play).
    pub fn find_by_venue_order(&self, id: &[u8]) -> Option<usize> {
        if id.is_empty() {
            return None;
        }
        self.active
            .iter()
            .map(|&k| k as usize)
            .find(|&k| self.slots[k].used && self.slots[k].venue_order.as_str().as_bytes() == id)
    }

    /// Corrects the side of an order heard of (a query opened it before its side was
    /// known).
    pub fn set_side(&mut self, k: usize, side: Side) {
        let s = &mut self.slots[k];
        if s.qty.is_zero() {
            s.side = side;
        }
    }

    /// The venue took the order.
    pub fn accepted(&mut self, k: usize, ts: u64) {
        let s = &mut self.slots[k];
        if s.accepted || s.finished {
            return;
        }
        s.accepted = true;
        s.unknown = false;
        self.push(k, OrderUpdate::Accepted, ts);
    }

    /// The venue refused the order (or it never left, `Disconnected`).
    pub fn rejected(&mut self, k: usize, reason: RejectReason, ts: u64) {
        let s = &mut self.slots[k];
        if s.finished || s.cum.is_positive() {
            return;
        }
        s.finished = true;
        s.deferred = None;
        s.settle_at = 0;
        s.requery_at = 0;
        self.push(k, OrderUpdate::Rejected(reason), ts);
    }

    /// The create request's outcome cannot be known from its answer.
    pub fn unknown(&mut self, k: usize, ts: u64) {
        let s = &mut self.slots[k];
        if s.accepted || s.finished || s.unknown {
            return;
        }
        s.unknown = true;
        self.push(k, OrderUpdate::Unknown, ts);
    }

    /// Marks order `k` as not found in the venue's order lists, searched to their end;
    /// false when it was marked already.
    pub fn mark_unlisted(&mut self, k: usize) -> bool {
        !std::mem::replace(&mut self.slots[k].unlisted, true)
    }

    /// Whether order `k`'s lookup in the venue's order lists came to nothing.
    pub fn is_unlisted(&self, k: usize) -> bool {
        self.slots[k].unlisted
    }

    /// Asks for a query of order `k` again at `at` (ns): one that could not be sent.
    pub fn query_later(&mut self, k: usize, external: bool, at: u64) {
        let s = &mut self.slots[k];
        if external {
            s.requery_at = at;
        } else if !s.finished {
            s.settle_at = at;
        }
        self.activate(k);
    }

    /// Queries the order ourselves at `at` (ns) unless it finishes first.
    pub fn settle_at(&mut self, k: usize, at: u64) {
        let s = &mut self.slots[k];
        if !s.finished && (s.settle_at == 0 || at < s.settle_at) {
            s.settle_at = at;
        }
    }

    /// One execution.
    pub fn trade(&mut self, k: usize, t: Trade, ts: u64) {
        let s = &mut self.slots[k];
        if !t.qty.is_positive() {
            return;
        }
        let n = usize::from(s.n_ids).min(TRADE_IDS);
        if t.id != 0 && s.trade_ids[..n].contains(&t.id) {
            return;
        }
        // A trade that would take the order past its size was seen before.
        if s.qty.is_positive() && s.trade_qty.0.saturating_add(t.qty.0) > s.qty.0 {
            return;
        }
        if t.id != 0 {
            s.trade_ids[usize::from(s.n_ids) % TRADE_IDS] = t.id;
            s.n_ids = s.n_ids.saturating_add(1).min(TRADE_IDS as u8 * 2);
        }
        // A total past what an i64 holds cannot be true: dropped, as above.
        let Some(total) = s.trade_qty.0.checked_add(t.qty.0) else { return };
        s.trade_qty = Qty(total);
        let new = s.trade_qty.0 - s.cum.0;
        if new > 0 {
            let new = new.min(t.qty.0);
            // The share of the trade's fee; its whole fee where the share would overflow.
            let share = t.fee.0.checked_mul(i128::from(new)).map(|f| f / i128::from(t.qty.0));
            let fee = if new == t.qty.0 { t.fee } else { Amount(share.unwrap_or(t.fee.0)) };
            self.accepted(k, ts);
            let inst = self.instruments.get(self.slots[k].inst);
            let value = inst.notional(t.price, Qty(new), Rounding::Floor).unwrap_or(Amount::ZERO);
            let s = &mut self.slots[k];
            s.cum = Qty(s.cum.0 + new);
            s.value = s.value.saturating_add(value);
            s.fee =
                if s.fee_asset == t.fee_asset || s.fee.is_zero() { s.fee.saturating_add(fee) } else { fee };
            s.fee_asset = t.fee_asset;
            let cum_qty = s.cum;
            self.push(
                k,
                OrderUpdate::Fill {
                    price: t.price,
                    qty: Qty(new),
                    cum_qty,
                    fee,
                    fee_asset: t.fee_asset,
                    trade_id: t.id,
                },
                ts,
            );
        }
        self.try_done(k, ts);
    }

    /// Whether a report's totals can be true of order `k`: more filled than reported so
    /// far needs a positive value, and never more than the order's size (when known). A
    /// venue never fills for nothing; a field that did not parse reads as zero.
    fn plausible(&self, k: usize, c: &Cumulative) -> bool {
        let s = &self.slots[k];
        c.filled <= s.cum || (c.value.0 > 0 && (!s.qty.is_positive() || c.filled <= s.qty))
    }

    /// Totals from an order report. An estimate is held back `defer_ns` when given. A
    /// report that cannot be true ([`Self::plausible`]) is dropped.
    pub fn cumulative(&mut self, k: usize, c: Cumulative, now: u64, defer_ns: Option<u64>) {
        if !self.plausible(k, &c) {
            return;
        }
        let s = &mut self.slots[k];
        if c.filled <= s.cum {
            self.try_done(k, now);
            return;
        }
        match defer_ns {
            Some(d) if !c.exact => {
                let due = match s.deferred {
                    Some((_, due)) => due,
                    None => now.saturating_add(d),
                };
                let keep = s.deferred.is_some_and(|(old, _)| old.filled > c.filled);
                if !keep {
                    s.deferred = Some((c, due));
                }
                self.activate(k);
            }
            _ => {
                self.emit_cumulative(k, c, now);
                self.try_done(k, now);
            }
        }
    }

    /// Emits what `c` reports beyond what was reported already.
    fn emit_cumulative(&mut self, k: usize, c: Cumulative, ts: u64) {
        let s = self.slots[k];
        if c.filled <= s.cum {
            return;
        }
        self.accepted(k, ts);
        let inst = self.instruments.get(s.inst);
        let new = Qty(c.filled.0 - s.cum.0);
        // An estimate's total may value the part already reported below what the exact
        // trades did; the new part then takes its share of the estimate at its average.
        let dv = match c.value.saturating_sub(s.value) {
            dv if dv.0 > 0 => dv,
            _ => Amount(c.value.0.checked_mul(i128::from(new.0)).map_or(0, |v| v / i128::from(c.filled.0))),
        };
        let same_asset = c.fee_asset == s.fee_asset || s.fee.is_zero();
        let df = if same_asset { c.fee.saturating_sub(s.fee).max(Amount::ZERO) } else { c.fee };
        let base = inst.base_amount(new).filter(|b| b.0 > 0);
        let price = base
            .and_then(|b| dv.div(b, Rounding::Floor))
            .and_then(|a| inst.price_from_amount(a, Rounding::Floor))
            .filter(|&p| p.is_positive() && inst.notional(p, new, Rounding::Floor) == Some(dv));
        let st = &mut self.slots[k];
        st.cum = c.filled;
        st.value = st.value.saturating_add(dv);
        st.fee = if same_asset { st.fee.saturating_add(df) } else { df };
        st.fee_asset = c.fee_asset;
        let (cum, value, fee, open) = (st.cum, st.value, st.fee, st.terminal.is_none());
        let update = match price {
            Some(price) => OrderUpdate::Fill {
                price,
                qty: new,
                cum_qty: cum,
                fee: df,
                fee_asset: c.fee_asset,
                trade_id: 0,
            },
            None => OrderUpdate::Status { filled: cum, value, fee, fee_asset: c.fee_asset, open },
        };
        self.push(k, update, ts);
    }

    /// The venue says the order is finished with `filled` in total.
    pub fn terminal(&mut self, k: usize, filled: Qty, ts: u64) {
        let s = &mut self.slots[k];
        s.terminal = Some(s.terminal.map_or(filled, |t| t.max(filled)));
        self.activate(k);
        self.try_done(k, ts);
    }

    fn try_done(&mut self, k: usize, ts: u64) {
        let s = &mut self.slots[k];
        if let Some((d, _)) = s.deferred {
            if d.filled <= s.cum {
                s.deferred = None;
            }
        }
        let Some(f) = s.terminal else { return };
        if s.finished || s.cum < f {
            return;
        }
        s.finished = true;
        s.settle_at = 0;
        s.deferred = None;
        let (fok, cum, accepted) = (s.fok, s.cum, s.accepted);
        if fok && cum.is_zero() {
            let _ = accepted;
            self.push(k, OrderUpdate::Rejected(RejectReason::WouldNotFill), ts);
        } else {
            self.accepted(k, ts);
            self.slots[k].finished = true;
            self.push(k, OrderUpdate::Done { filled: cum }, ts);
        }
    }

    /// A query's answer, for the caller that asked.
    pub fn status(&mut self, k: usize, c: Cumulative, open: bool, ts: u64) {
        let plausible = self.plausible(k, &c);
        let s = &mut self.slots[k];
        if c.filled > s.cum && plausible {
            s.cum = c.filled;
            s.value = c.value;
            s.fee = c.fee;
            s.fee_asset = c.fee_asset;
        }
        s.requery_at = 0;
        if !open {
            s.terminal = Some(c.filled.max(s.cum));
            s.finished = true;
            s.deferred = None;
            s.settle_at = 0;
        } else if !s.finished && s.settle_at == 0 {
            // Still open (a restored order the state stage asked about, say): asked again
            // by us until it finishes, in case the stream misses its end.
            s.settle_at = ts.saturating_add(self.requery_own_ns);
        }
        let (cum, value, fee, fee_asset) = (s.cum, s.value, s.fee, s.fee_asset);
        self.activate(k);
        self.push(k, OrderUpdate::Status { filled: cum, value, fee, fee_asset, open }, ts);
    }

    /// The venue does not know the order. Before `sent + grace` the order may still be on
    /// its way (a slow request): the answer is held back and the order asked about again
    /// then. Returns true when the answer went out.
    pub fn not_found(&mut self, k: usize, now: u64, grace_ns: u64) -> bool {
        let s = &mut self.slots[k];
        let ripe = s.sent_ns.saturating_add(grace_ns);
        if now < ripe {
            s.requery_at = ripe;
            self.activate(k);
            return false;
        }
        s.requery_at = 0;
        if s.accepted || s.cum.is_positive() {
            // It reached the venue once; the venue forgot it. Nothing can be said, and
            // asking again will not change that.
            s.settle_at = 0;
            return false;
        }
        s.finished = true;
        s.settle_at = 0;
        self.push(k, OrderUpdate::Rejected(RejectReason::NotFound), now);
        true
    }

    /// Releases estimates whose grace ended (all of them with `force`), and hands over the
    /// orders due for a query: `settle` for our own, `requery` on the caller's behalf.
    /// `on_query` says whether it took the query; one it did not take stays due.
    pub fn tick(&mut self, now: u64, force: bool, on_query: &mut impl FnMut(usize, bool) -> bool) {
        let mut i = 0;
        while i < self.active.len() {
            let k = self.active[i] as usize;
            if let Some((c, due)) = self.slots[k].deferred {
                if force || now >= due {
                    self.slots[k].deferred = None;
                    self.emit_cumulative(k, c, now);
                    self.try_done(k, now);
                }
            }
            // A query the caller does not take now stays due for the next tick.
            let s = &self.slots[k];
            if s.settle_at != 0 && now >= s.settle_at && !s.finished && on_query(k, false) {
                // Again later unless the answer (or the stream) finishes the order first.
                self.slots[k].settle_at = now.saturating_add(self.requery_own_ns);
            }
            let s = &self.slots[k];
            if s.requery_at != 0 && now >= s.requery_at && on_query(k, true) {
                self.slots[k].requery_at = 0;
            }
            let s = &self.slots[k];
            let idle = s.finished && s.deferred.is_none() && s.requery_at == 0 && s.settle_at == 0;
            if idle || !s.used {
                self.active.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Orders not finished yet (in flight, or waiting for fills).
    pub fn open_count(&self) -> usize {
        self.active.iter().filter(|&&k| !self.slots[k as usize].finished).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::testkit::{self, px, qty};
    use pipeline::types::Market;
    use pipeline::types::Venue;

    fn setup() -> (Tracker, OrderRequest, AssetId, AssetId) {
        let u = testkit::universe();
        let g = u.instruments.get(u.gate_btc).clone();
        let t = Tracker::new(u.instruments.clone());
        let req = OrderRequest {
            client: ClientOrderId { op: 7, leg: 1, attempt: 0 },
            inst: u.gate_btc,
            venue: Venue::GateIo,
            market: Market::Spot,
            side: Side::Buy,
            price: px(&g, "50010"),
            qty: qty(&g, "0.03"),
            tif: TimeInForce::Ioc,
            ts_ns: 0,
        };
        (t, req, g.base, g.quote)
    }

    fn updates(t: &mut Tracker) -> Vec<OrderUpdate> {
        t.out
            .drain(..)
            .filter_map(|e| match e {
                StateInput::Order(o) => Some(o.update),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_fill_seen_in_the_answer_and_the_stream_is_emitted_once() {
        let (mut t, req, base, quote) = setup();
        let inst = t.instruments.get(req.inst).clone();
        let k = t.open(&req, 0);
        // Two trades on the stream, then the HTTP answer with exact totals, then the
        // first trade again.
        let t1 = Trade {
            id: 11,
            price: px(&inst, "50000"),
            qty: qty(&inst, "0.01"),
            fee: Amount::parse("0.00001").unwrap(),
            fee_asset: base,
        };
        let t2 = Trade {
            id: 12,
            price: px(&inst, "50005"),
            qty: qty(&inst, "0.02"),
            fee: Amount::parse("0.00002").unwrap(),
            fee_asset: base,
        };
        t.trade(k, t1, 1);
        t.trade(k, t2, 2);
        let total = Cumulative {
            filled: qty(&inst, "0.03"),
            value: Amount::parse("1500.1").unwrap(),
            fee: Amount::parse("0.00003").unwrap(),
            fee_asset: base,
            exact: true,
        };
        t.cumulative(k, total, 3, None);
        t.terminal(k, qty(&inst, "0.03"), 3);
        t.trade(k, t1, 4);
        let u = updates(&mut t);
        assert_eq!(u.len(), 4, "{u:?}");
        assert_eq!(u[0], OrderUpdate::Accepted);
        assert!(
            matches!(u[1], OrderUpdate::Fill { trade_id: 11, cum_qty, .. } if cum_qty == qty(&inst, "0.01"))
        );
        assert!(
            matches!(u[2], OrderUpdate::Fill { trade_id: 12, cum_qty, .. } if cum_qty == qty(&inst, "0.03"))
        );
        assert_eq!(u[3], OrderUpdate::Done { filled: qty(&inst, "0.03") });
        let _ = quote;
    }

    #[test]
    fn a_query_the_caller_cannot_take_now_stays_due() {
        let (mut t, mut req, _, _) = setup();
        let slots: Vec<usize> = (0..40)
            .map(|op| {
                req.client.op = op;
                let k = t.open(&req, 0);
                t.settle_at(k, 10);
                k
            })
            .collect();
        let mut asked = Vec::new();
        // Room for 32 a tick, as the sink has.
        for now in [10, 11] {
            let mut room = 32;
            t.tick(now, false, &mut |k, _| {
                let take = room > 0;
                if take {
                    room -= 1;
                    asked.push(k);
                }
                take
            });
        }
        asked.sort_unstable();
        assert_eq!(asked, slots, "every order queried once, none lost");
        // One the caller could not send is asked for again when told.
        t.query_later(slots[0], false, 20);
        let mut again = Vec::new();
        t.tick(20, false, &mut |k, _| {
            again.push(k);
            true
        });
        assert_eq!(again, [slots[0]]);
    }

    #[test]
    fn our_own_query_repeats_until_the_order_is_finished() {
        let (mut t, req, _, _) = setup();
        t.requery_own_every(5_000_000);
        let k = t.open(&req, 0);
        t.accepted(k, 1);
        t.settle_at(k, 10);
        let mut asked = Vec::new();
        let mut tick = |t: &mut Tracker, now| {
            t.tick(now, false, &mut |k, external| {
                asked.push((now, k, external));
                true
            })
        };
        // The venue still shows it open (the stream missed its end): asked again later.
        tick(&mut t, 10);
        tick(&mut t, 1_000_000);
        tick(&mut t, 5_000_010);
        // Now it is finished: no more queries.
        t.terminal(k, Qty::ZERO, 5_000_020);
        tick(&mut t, 20_000_000);
        assert_eq!(asked, [(10, k, false), (5_000_010, k, false)]);

        // An order known only from the state stage's query (restored after a restart):
        // open in the answer, so we ask again ourselves until it finishes.
        let (mut t, req, _, _) = setup();
        t.requery_own_every(5_000_000);
        let k = t.open(&req, 0);
        let c = Cumulative {
            filled: Qty::ZERO,
            value: Amount::ZERO,
            fee: Amount::ZERO,
            fee_asset: AssetId(0),
            exact: true,
        };
        t.status(k, c, true, 100);
        let mut asked = Vec::new();
        t.tick(5_000_100, false, &mut |k, external| {
            asked.push((k, external));
            true
        });
        assert_eq!(asked, [(k, false)]);
    }

    #[test]
    fn absurd_trade_quantities_and_fees_neither_panic_nor_wrap() {
        let (mut t, mut req, base, _) = setup();
        let inst = t.instruments.get(req.inst).clone();
        // An order of unknown size (as a query opens one): no size bounds its trades.
        req.qty = Qty::ZERO;
        let k = t.open(&req, 0);
        let trade = |id, q: i64, fee: i128| Trade {
            id,
            price: px(&inst, "50000"),
            qty: Qty(q),
            fee: Amount(fee),
            fee_asset: base,
        };
        t.trade(k, trade(1, 10, 5), 1);
        // Past i64 in total: dropped.
        t.trade(k, trade(2, i64::MAX, 1), 2);
        // A fee whose share would overflow i128: the trade's whole fee.
        t.cumulative(
            k,
            Cumulative { filled: Qty(20), value: Amount(1), fee: Amount::ZERO, fee_asset: base, exact: true },
            3,
            None,
        );
        t.trade(k, trade(3, 15, i128::MAX), 4);
        let u = updates(&mut t);
        let fills: Vec<_> = u
            .iter()
            .filter_map(|u| match u {
                OrderUpdate::Fill { qty, cum_qty, fee, .. } => Some((qty.0, cum_qty.0, fee.0)),
                _ => None,
            })
            .collect();
        assert_eq!(fills[0], (10, 10, 5), "{u:?}");
        assert_eq!(*fills.last().unwrap(), (5, 25, i128::MAX), "{u:?}");
    }

    #[test]
    fn totals_first_then_trades_add_nothing() {
        let (mut t, req, base, _) = setup();
        let inst = t.instruments.get(req.inst).clone();
        let k = t.open(&req, 0);
        // Two levels: the average price is not on the price scale, so a Status carries
        // the exact value.
        let total = Cumulative {
            filled: qty(&inst, "0.03"),
            value: Amount::parse("1500.1").unwrap(),
            fee: Amount::parse("0.00003").unwrap(),
            fee_asset: base,
            exact: true,
        };
        t.cumulative(k, total, 1, None);
        t.terminal(k, qty(&inst, "0.03"), 1);
        t.trade(
            k,
            Trade {
                id: 11,
                price: px(&inst, "50000"),
                qty: qty(&inst, "0.01"),
                fee: Amount::ZERO,
                fee_asset: base,
            },
            2,
        );
        let u = updates(&mut t);
        assert_eq!(u.len(), 3, "{u:?}");
        assert!(
            matches!(u[1], OrderUpdate::Status { value, open: true, .. } if value == Amount::parse("1500.1").unwrap())
        );
        assert_eq!(u[2], OrderUpdate::Done { filled: qty(&inst, "0.03") });
    }

    #[test]
    fn an_estimate_waits_for_the_trades_and_fills_in_what_they_miss() {
        let (mut t, req, _, quote) = setup();
        let inst = t.instruments.get(req.inst).clone();
        let k = t.open(&req, 0);
        t.accepted(k, 0);
        let est = Cumulative {
            filled: qty(&inst, "0.03"),
            value: Amount::from_int(1500),
            fee: Amount::parse("1.5").unwrap(),
            fee_asset: quote,
            exact: false,
        };
        t.cumulative(k, est, 10, Some(100));
        t.terminal(k, qty(&inst, "0.03"), 10);
        t.trade(
            k,
            Trade {
                id: 1,
                price: px(&inst, "50000"),
                qty: qty(&inst, "0.01"),
                fee: Amount::parse("0.5").unwrap(),
                fee_asset: quote,
            },
            20,
        );
        let mut queried = Vec::new();
        t.tick(50, false, &mut |k, ext| {
            queried.push((k, ext));
            true
        });
        assert_eq!(updates(&mut t).len(), 2, "Accepted and the trade; the estimate waits");
        t.tick(111, false, &mut |k, ext| {
            queried.push((k, ext));
            true
        });
        let u = updates(&mut t);
        assert_eq!(
            u,
            vec![
                OrderUpdate::Fill {
                    price: px(&inst, "50000"),
                    qty: qty(&inst, "0.02"),
                    cum_qty: qty(&inst, "0.03"),
                    fee: Amount::from_int(1),
                    fee_asset: quote,
                    trade_id: 0
                },
                OrderUpdate::Done { filled: qty(&inst, "0.03") },
            ]
        );
        assert!(queried.is_empty());
    }

    #[test]
    fn fok_that_did_not_fill_is_a_reject_and_premature_not_found_is_held() {
        let (mut t, mut req, _, _) = setup();
        req.tif = TimeInForce::Fok;
        let k = t.open(&req, 0);
        t.terminal(k, Qty::ZERO, 5);
        assert_eq!(updates(&mut t), vec![OrderUpdate::Rejected(RejectReason::WouldNotFill)]);

        req.client.attempt = 1;
        req.tif = TimeInForce::Ioc;
        let k = t.open(&req, 1_000);
        t.unknown(k, 2_000);
        assert!(!t.not_found(k, 3_000, 10_000));
        let mut due = Vec::new();
        t.tick(5_000, false, &mut |k, ext| {
            due.push((k, ext));
            true
        });
        assert!(due.is_empty());
        t.tick(11_000, false, &mut |k, ext| {
            due.push((k, ext));
            true
        });
        assert_eq!(due, vec![(k, true)]);
        assert!(t.not_found(k, 11_500, 10_000));
        assert_eq!(
            updates(&mut t),
            vec![OrderUpdate::Unknown, OrderUpdate::Rejected(RejectReason::NotFound)]
        );
    }

    #[test]
    fn a_report_that_cannot_be_true_is_dropped_and_no_fill_is_at_price_zero() {
        let (mut t, req, _, quote) = setup();
        let inst = t.instruments.get(req.inst).clone();
        let k = t.open(&req, 0);
        t.accepted(k, 0);
        updates(&mut t);
        let report = |filled: &str, value: Amount| Cumulative {
            filled: qty(&inst, filled),
            value,
            fee: Amount::ZERO,
            fee_asset: quote,
            exact: true,
        };
        // A value that did not parse (read as zero), and more than the order's 0.03.
        t.cumulative(k, report("0.01", Amount::ZERO), 1, None);
        t.cumulative(k, report("0.5", Amount::from_int(25_000)), 2, None);
        t.status(k, report("0.02", Amount::ZERO), true, 3);
        assert_eq!(
            updates(&mut t),
            vec![OrderUpdate::Status {
                filled: Qty::ZERO,
                value: Amount::ZERO,
                fee: Amount::ZERO,
                fee_asset: AssetId(0),
                open: true
            }]
        );
        // Exact trades worth more than an estimate of the whole order: the part the
        // estimate adds takes the estimate's average price, not zero.
        let trade = Trade {
            id: 1,
            price: px(&inst, "50000"),
            qty: qty(&inst, "0.02"),
            fee: Amount::ZERO,
            fee_asset: quote,
        };
        t.trade(k, trade, 4);
        t.cumulative(k, Cumulative { exact: false, ..report("0.03", Amount::from_int(900)) }, 5, None);
        let u = updates(&mut t);
        assert_eq!(u.len(), 2, "{u:?}");
        assert!(
            matches!(u[1], OrderUpdate::Fill { price, qty: q, .. } if price == px(&inst, "30000") && q == qty(&inst, "0.01")),
            "{u:?}"
        );
    }
}
