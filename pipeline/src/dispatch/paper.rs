//! Paper trading: an [`OrderSink`] that behaves like a venue, filling against live books.
//!
//! The paper venue keeps the latest book of every instrument (its own `Rx<BookTop>`,
//! fed by the book stage like detection's), balances per venue and asset, and the
//! orders it has seen. An order arrives `latency_ms` after it was submitted; then, like
//! a venue's matching engine, the paper venue
//! - rejects what a venue would reject: an unknown or disabled instrument, a price off
//!   the tick or a quantity off the lot (`BadPrecision`), below the minimum quantity or
//!   notional (`BelowMinimum`), more than the balance allows (`InsufficientBalance`),
//!   a fill-or-kill the book cannot fill completely (`WouldNotFill`);
//! - otherwise acknowledges it and takes liquidity level by level from the book as it
//!   is *then* (send time plus latency), at each level's price and never beyond the
//!   limit, so a short book gives a partial fill and the rest is cancelled (IOC);
//! - charges the instrument's taker fee on each fill, in the quote asset;
//! - consumes what it took from its copy of the book until the next update replaces it,
//!   so two orders cannot both take the same level;
//! - updates balances (a spot buy pays quote and receives base; a futures fill pays its
//!   fee; futures margin is checked, not locked) and reports the changed balances;
//!   the paper venue keeps one wallet per venue, so the margin it reports for the
//!   venue's futures account is its balance of the futures' quote asset;
//! - answers queries from its order history (`Status`), or `Rejected(NotFound)`.
//!
//! Balances are kept per venue and per asset slot of the table (strided by
//! [`Instruments::asset_capacity`]), so an asset added while running has its balance; a
//! `paper.balances` entry naming an asset no instrument trades at start is credited the
//! first time an order meets that asset in the table (an instrument of it added while
//! running).
//!
//! Events are queued in pre-sized buffers; nothing allocates after construction.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use quanta::Clock;
use serde::{Deserialize, Serialize};

use super::sink::{OrderRequest, OrderSink, SinkError};
use crate::journal::TimeInForce;
use crate::msg::{
    BalanceEvent, BookTop, ClientOrderId, FuturesWalletEvent, OrderEvent, OrderUpdate, RejectReason,
    StateInput, VenueOrderId,
};
use crate::runtime::Rx;
use crate::types::{Amount, AssetId, InstrumentId, Instruments, Market, Qty, Rate, Rounding, Side, Venue};
use crate::units::{Bps, Exact, ms_to_ns, now_ns};

/// Paper venue configuration (`[paper]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperConfig {
    /// From submission to matching.
    pub latency_ms: u64,
    /// Margin a futures order needs, as a rate of its notional (1000 = 10x leverage).
    pub futures_margin_bps: Bps,
    /// Starting balances.
    pub balances: Vec<PaperBalance>,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self { latency_ms: 5, futures_margin_bps: Bps::new(1000), balances: Vec::new() }
    }
}

impl PaperConfig {
    /// Range checks of `[paper]`.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        if self.futures_margin_bps <= Bps::new(0) || self.futures_margin_bps > Bps::new(10_000) {
            c.fail(
                "futures_margin_bps",
                self.futures_margin_bps.rate().bps(),
                "must be more than 0 and at most 10000 basis points (10000 = 1x, the whole notional)",
            );
        }
        for (i, b) in self.balances.iter().enumerate() {
            c.item("balances", i, |c| {
                c.text("asset", &b.asset);
                if b.amount.amount() < Amount::ZERO {
                    c.fail("amount", b.amount.amount(), "must not be negative");
                }
            });
        }
    }
}

/// A starting balance of the paper venue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaperBalance {
    pub venue: Venue,
    pub asset: String,
    pub amount: Exact,
}

/// A paper configuration naming no asset (an empty name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("paper.balances names asset `{0}`, which is not an asset name")]
pub struct PaperConfigError(pub String);

#[derive(Clone, Copy, Debug, Default)]
struct PaperOrder {
    client: ClientOrderId,
    inst: InstrumentId,
    side: Side,
    filled: Qty,
    value: Amount,
    fee: Amount,
    fee_asset: AssetId,
    used: bool,
}

const PENDING: usize = 1024;
const HISTORY: usize = 4096;
const EVENTS: usize = 8192;
/// Events one matched order can produce at most (ack, fills, done, balances), with slack.
const PER_ORDER: usize = 16;

/// The paper venue.
pub struct PaperSink {
    books: Rx<BookTop>,
    latest: Vec<BookTop>,
    instruments: Arc<Instruments>,
    clock: Clock,
    latency_ns: u64,
    margin: Rate,
    pending: VecDeque<(OrderRequest, u64)>,
    history: Vec<PaperOrder>,
    next_slot: usize,
    balance: Vec<Amount>,
    known: Vec<bool>,
    /// `paper.balances` of assets no instrument traded at start, credited when the asset
    /// is added to the table.
    later: Vec<PaperBalance>,
    /// Assets of the table whose configured balances are credited.
    assets_seen: usize,
    events: VecDeque<StateInput>,
    next_trade: u64,
    next_order: u64,
    announced: bool,
}

impl fmt::Debug for PaperSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaperSink").field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

/// A venue order id `P<n>` built without allocating.
fn paper_id(n: u64) -> VenueOrderId {
    let mut buf = [0u8; 24];
    buf[0] = b'P';
    let mut digits = [0u8; 20];
    let mut k = 0;
    let mut v = n;
    loop {
        digits[k] = b'0' + (v % 10) as u8;
        k += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..k {
        buf[1 + i] = digits[k - 1 - i];
    }
    std::str::from_utf8(&buf[..1 + k]).ok().and_then(VenueOrderId::new).unwrap_or_default()
}

impl PaperSink {
    pub fn new(
        config: &PaperConfig,
        instruments: Arc<Instruments>,
        books: Rx<BookTop>,
        clock: Clock,
    ) -> Result<Self, PaperConfigError> {
        let assets = instruments.asset_capacity();
        let mut balance = vec![Amount::ZERO; Venue::COUNT * assets];
        let mut known = vec![false; Venue::COUNT * assets];
        let mut later = Vec::new();
        for b in &config.balances {
            if b.asset.trim().is_empty() {
                return Err(PaperConfigError(b.asset.clone()));
            }
            match instruments.find_asset(&b.asset) {
                Some(a) => {
                    let i = b.venue.index() * assets + a.index();
                    balance[i] = b.amount.amount();
                    known[i] = true;
                }
                None => later.push(b.clone()),
            }
        }
        let assets_seen = instruments.asset_count();
        Ok(Self {
            books,
            latest: (0..instruments.capacity())
                .map(|k| BookTop::unsynced(InstrumentId(k as u16), 0))
                .collect(),
            latency_ns: ms_to_ns(config.latency_ms),
            margin: config.futures_margin_bps.rate(),
            pending: VecDeque::with_capacity(PENDING),
            history: vec![PaperOrder::default(); HISTORY],
            next_slot: 0,
            balance,
            known,
            later,
            assets_seen,
            events: VecDeque::with_capacity(EVENTS),
            next_trade: 1,
            next_order: 1,
            announced: false,
            instruments,
            clock,
        })
    }

    /// The paper balance of `asset` on `venue`.
    pub fn balance(&self, venue: Venue, asset: AssetId) -> Amount {
        self.index(venue, asset).map_or(Amount::ZERO, |i| self.balance[i])
    }

    /// Orders waiting for their latency to pass.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn index(&self, venue: Venue, asset: AssetId) -> Option<usize> {
        let assets = self.instruments.asset_capacity();
        (asset.index() < assets).then(|| venue.index() * assets + asset.index())
    }

    /// Credits the configured balances of assets added to the table since the last
    /// look (cold: only when the table has a new asset).
    fn take_new_assets(&mut self) {
        let count = self.instruments.asset_count();
        if count == self.assets_seen {
            return;
        }
        self.assets_seen = count;
        let instruments = Arc::clone(&self.instruments);
        let mut k = 0;
        while k < self.later.len() {
            let b = &self.later[k];
            match instruments.find_asset(&b.asset).and_then(|a| self.index(b.venue, a)) {
                Some(i) => {
                    self.balance[i] = b.amount.amount();
                    self.known[i] = true;
                    self.later.swap_remove(k);
                }
                None => k += 1,
            }
        }
    }

    fn push(&mut self, e: StateInput) {
        if self.events.len() < EVENTS {
            self.events.push_back(e);
        }
    }

    fn order_event(
        &mut self,
        req: &OrderRequest,
        update: OrderUpdate,
        venue_order: VenueOrderId,
        ts_ns: u64,
    ) {
        self.push(StateInput::Order(OrderEvent {
            client: req.client,
            inst: req.inst,
            side: req.side,
            update,
            venue_order,
            ts_ns,
        }));
    }

    fn balance_event(&mut self, venue: Venue, asset: AssetId, ts_ns: u64) {
        if let Some(i) = self.index(venue, asset) {
            self.known[i] = true;
            let available = self.balance[i];
            self.push(StateInput::Balance(BalanceEvent {
                venue,
                asset,
                available,
                locked: Amount::ZERO,
                ts_ns,
            }));
            let margins_futures = self
                .instruments
                .iter()
                .any(|f| f.venue == venue && f.market == Market::Futures && f.quote == asset);
            if margins_futures {
                self.push(StateInput::FuturesWallet(FuturesWalletEvent {
                    venue,
                    balance: None,
                    available: Some(available),
                    funding: Amount::ZERO,
                    ts_ns,
                }));
            }
        }
    }

    fn adjust(&mut self, venue: Venue, asset: AssetId, delta: Amount) {
        if let Some(i) = self.index(venue, asset) {
            self.balance[i] = self.balance[i].saturating_add(delta);
        }
    }

    fn remember(&mut self, o: PaperOrder) {
        self.history[self.next_slot] = o;
        self.next_slot = (self.next_slot + 1) % HISTORY;
    }

    /// Matches one order that has reached the venue.
    fn execute(&mut self, req: OrderRequest, now: u64) {
        self.take_new_assets();
        let venue_order = paper_id(self.next_order);
        self.next_order += 1;
        let reject = |s: &mut Self, r| s.order_event(&req, OrderUpdate::Rejected(r), venue_order, now);
        // A second handle on the table (no allocation) so the instrument can be borrowed
        // while the venue's state changes.
        let instruments = Arc::clone(&self.instruments);
        let Some(inst) = instruments.try_get(req.inst) else {
            return reject(self, RejectReason::UnknownInstrument);
        };
        if !inst.trading_enabled {
            return reject(self, RejectReason::TradingDisabled);
        }
        if !req.price.is_positive()
            || !req.qty.is_positive()
            || !req.price.is_multiple_of(inst.tick)
            || !req.qty.is_multiple_of(inst.lot)
        {
            return reject(self, RejectReason::BadPrecision);
        }
        if !inst.accepts(req.price, req.qty) {
            return reject(self, RejectReason::BelowMinimum);
        }
        // Funds for the whole order at its limit.
        let Some(limit_value) = inst.notional(req.price, req.qty, Rounding::Ceil) else {
            return reject(self, RejectReason::Other);
        };
        let fee_max = limit_value.mul_rate(inst.taker_fee, Rounding::Ceil).unwrap_or(Amount(i128::MAX));
        let (asset, need) = match (inst.market, req.side) {
            (Market::Spot, Side::Buy) => (inst.quote, limit_value.saturating_add(fee_max)),
            (Market::Spot, Side::Sell) => (inst.base, inst.base_amount(req.qty).unwrap_or(Amount(i128::MAX))),
            (Market::Futures, _) => (
                inst.quote,
                limit_value
                    .mul_rate(self.margin, Rounding::Ceil)
                    .unwrap_or(Amount(i128::MAX))
                    .saturating_add(fee_max),
            ),
        };
        if self.balance(inst.venue, asset) < need {
            return reject(self, RejectReason::InsufficientBalance);
        }
        // What the book offers within the limit, as it is now.
        let book = self.latest[req.inst.index()];
        let levels = match req.side {
            Side::Buy => &book.asks[..book.n_asks as usize],
            Side::Sell => &book.bids[..book.n_bids as usize],
        };
        let crosses = |p: crate::types::Price| match req.side {
            Side::Buy => p <= req.price,
            Side::Sell => p >= req.price,
        };
        let available: i64 = if book.synced {
            levels
                .iter()
                .filter(|l| l.qty.is_positive() && crosses(l.price))
                .map(|l| l.qty.0)
                .fold(0, i64::saturating_add)
        } else {
            0
        };
        if req.tif == TimeInForce::Fok && available < req.qty.0 {
            return reject(self, RejectReason::WouldNotFill);
        }
        self.order_event(&req, OrderUpdate::Accepted, venue_order, now);
        let mut filled = Qty::ZERO;
        let mut value = Amount::ZERO;
        let mut fees = Amount::ZERO;
        if book.synced {
            let n = match req.side {
                Side::Buy => book.n_asks as usize,
                Side::Sell => book.n_bids as usize,
            };
            for k in 0..n.min(crate::msg::BOOK_DEPTH) {
                let left = req.qty.0 - filled.0;
                if left == 0 {
                    break;
                }
                let book = &mut self.latest[req.inst.index()];
                let level = match req.side {
                    Side::Buy => &mut book.asks[k],
                    Side::Sell => &mut book.bids[k],
                };
                if !level.qty.is_positive() || !crosses(level.price) {
                    continue;
                }
                let take = left.min(level.qty.0);
                level.qty.0 -= take;
                let price = level.price;
                let v = inst.notional(price, Qty(take), Rounding::Floor).unwrap_or(Amount::ZERO);
                let fee = v.mul_rate(inst.taker_fee, Rounding::Ceil).unwrap_or(Amount::ZERO);
                filled.0 += take;
                value = value.saturating_add(v);
                fees = fees.saturating_add(fee);
                let trade_id = self.next_trade;
                self.next_trade += 1;
                self.order_event(
                    &req,
                    OrderUpdate::Fill {
                        price,
                        qty: Qty(take),
                        cum_qty: filled,
                        fee,
                        fee_asset: inst.quote,
                        trade_id,
                    },
                    venue_order,
                    now,
                );
            }
        }
        self.order_event(&req, OrderUpdate::Done { filled }, venue_order, now);
        self.remember(PaperOrder {
            client: req.client,
            inst: req.inst,
            side: req.side,
            filled,
            value,
            fee: fees,
            fee_asset: inst.quote,
            used: true,
        });
        if filled.is_positive() {
            let base = inst.base_amount(filled).unwrap_or(Amount::ZERO);
            match (inst.market, req.side) {
                (Market::Spot, Side::Buy) => {
                    self.adjust(inst.venue, inst.quote, -(value.saturating_add(fees)));
                    self.adjust(inst.venue, inst.base, base);
                    self.balance_event(inst.venue, inst.base, now);
                }
                (Market::Spot, Side::Sell) => {
                    self.adjust(inst.venue, inst.base, -base);
                    self.adjust(inst.venue, inst.quote, value.saturating_sub(fees));
                    self.balance_event(inst.venue, inst.base, now);
                }
                (Market::Futures, _) => self.adjust(inst.venue, inst.quote, -fees),
            }
            self.balance_event(inst.venue, inst.quote, now);
        }
    }

    fn cancel_pending(&mut self, at: usize, now: u64) {
        if let Some((req, _)) = self.pending.remove(at) {
            self.order_event(&req, OrderUpdate::Done { filled: Qty::ZERO }, VenueOrderId::default(), now);
        }
    }
}

impl OrderSink for PaperSink {
    fn submit(&mut self, order: &OrderRequest) -> Result<(), SinkError> {
        if self.pending.len() >= PENDING {
            return Err(SinkError::NotSent(RejectReason::RateLimited));
        }
        let due = now_ns(&self.clock).saturating_add(self.latency_ns);
        self.pending.push_back((*order, due));
        Ok(())
    }

    fn cancel(&mut self, client: ClientOrderId, _inst: InstrumentId) -> Result<(), SinkError> {
        // An IOC already matched is finished; only orders still in flight can go.
        if let Some(at) = self.pending.iter().position(|(r, _)| r.client == client) {
            self.cancel_pending(at, now_ns(&self.clock));
        }
        Ok(())
    }

    fn cancel_all(&mut self) -> Result<(), SinkError> {
        let now = now_ns(&self.clock);
        while !self.pending.is_empty() {
            self.cancel_pending(0, now);
        }
        Ok(())
    }

    fn query(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError> {
        let now = now_ns(&self.clock);
        let (inst, side, update) = if let Some((r, _)) = self.pending.iter().find(|(r, _)| r.client == client)
        {
            let open = OrderUpdate::Status {
                filled: Qty::ZERO,
                value: Amount::ZERO,
                fee: Amount::ZERO,
                fee_asset: AssetId(0),
                open: true,
            };
            (r.inst, r.side, open)
        } else if let Some(o) = self.history.iter().find(|o| o.used && o.client == client) {
            let status = OrderUpdate::Status {
                filled: o.filled,
                value: o.value,
                fee: o.fee,
                fee_asset: o.fee_asset,
                open: false,
            };
            (o.inst, o.side, status)
        } else {
            (inst, Side::Buy, OrderUpdate::Rejected(RejectReason::NotFound))
        };
        self.push(StateInput::Order(OrderEvent {
            client,
            inst,
            side,
            update,
            venue_order: VenueOrderId::default(),
            ts_ns: now,
        }));
        Ok(())
    }

    fn query_balances(&mut self, venue: Venue) -> Result<(), SinkError> {
        self.take_new_assets();
        let now = now_ns(&self.clock);
        for a in 0..self.instruments.asset_count() {
            let asset = AssetId(a as u16);
            if self.index(venue, asset).is_some_and(|i| self.known[i]) {
                self.balance_event(venue, asset, now);
            }
        }
        Ok(())
    }

    fn supports_fok(&self, _inst: InstrumentId) -> bool {
        true
    }

    fn poll(&mut self, max: usize, out: &mut dyn FnMut(StateInput)) -> usize {
        let latest = &mut self.latest;
        if self.books.take_overflow() {
            // A dropped update may have been an unsynced notice: no liquidity until the
            // next update.
            for b in latest.iter_mut() {
                b.synced = false;
            }
        }
        self.books.drain(256, |top| {
            if let Some(slot) = latest.get_mut(top.inst.index()) {
                *slot = top;
            }
        });
        if !self.announced {
            self.announced = true;
            for v in Venue::ALL {
                self.query_balances(v).ok();
            }
        }
        let now = now_ns(&self.clock);
        while self.events.len() + PER_ORDER <= EVENTS {
            match self.pending.front() {
                Some(&(req, due)) if due <= now => {
                    self.pending.pop_front();
                    self.execute(req, now);
                }
                _ => break,
            }
        }
        let n = max.min(self.events.len());
        for _ in 0..n {
            if let Some(e) = self.events.pop_front() {
                out(e);
            }
        }
        n
    }
}
