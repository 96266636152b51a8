//! What the state stage's positions and plans are worth: the books it marks them at,
//! USD rates, exposure, the executable prices open lots are marked at, and the value of
//! a recovery plan's asset flows.
//!
//! Exposure is marked at the mid of an instrument's last synced top, however old (a
//! position does not stop being worth something while its feed resyncs); unrealized
//! P&L ([`super::accounting`]) at the last synced best bid (longs) or ask (shorts);
//! recovery is priced only from fresh books (`max_data_age_ms`). Non-USD assets of an
//! operation are valued at the operation's own planned price for them.

use std::sync::Arc;

use super::ledger::Positions;
use super::operations::Op;
use crate::msg::{BookTop, Level, MAX_LEGS};
use crate::types::{Amount, AssetId, Instrument, InstrumentId, Instruments, Price, Qty, Rounding, Side};
use crate::units::ms_to_ns;

/// The mid of a top of book (the one side it has, when it has one).
fn mid(top: &BookTop) -> Option<Price> {
    match (top.best_bid(), top.best_ask()) {
        (Some(bid), Some(ask)) => Some(Price(
            (bid.price.0 / 2)
                .saturating_add(ask.price.0 / 2)
                .saturating_add((bid.price.0 % 2 + ask.price.0 % 2) / 2),
        )),
        (Some(l), None) | (None, Some(l)) => Some(l.price),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
struct BookSlot {
    top: BookTop,
    valid: bool,
    /// The mid of the last synced top: what positions are marked at while the book
    /// resyncs (a position does not stop being worth something when its feed drops).
    mark: Price,
    /// The best bid and ask of the last synced top (zero when it had none): the
    /// executable prices open positions are marked at.
    bid: Price,
    ask: Price,
}

/// The quote value of taking `qty` from `levels` (best first) no further than `limit`;
/// what the levels do not hold is valued at the limit.
pub(super) fn walk_value(
    inst: &Instrument,
    levels: &[Level],
    side: Side,
    qty: Qty,
    limit: Price,
) -> Option<Amount> {
    let rounding = if side == Side::Buy { Rounding::Ceil } else { Rounding::Floor };
    let mut left = qty.0;
    let mut value = Amount::ZERO;
    for l in levels {
        let within = match side {
            Side::Buy => l.price <= limit,
            Side::Sell => l.price >= limit,
        };
        if left == 0 || !within {
            break;
        }
        if !l.qty.is_positive() || !l.price.is_positive() {
            continue;
        }
        let take = left.min(l.qty.0);
        value = value.checked_add(inst.notional(l.price, Qty(take), rounding)?)?;
        left -= take;
    }
    if left > 0 {
        value = value.checked_add(inst.notional(limit, Qty(left), rounding)?)?;
    }
    Some(value)
}

/// Net flows of a few assets (an operation touches at most two per leg).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Flows {
    assets: [(AssetId, Amount); 2 * MAX_LEGS],
    n: usize,
}

impl Flows {
    pub(super) fn add(&mut self, asset: AssetId, v: Amount) {
        if let Some(e) = self.assets[..self.n].iter_mut().find(|(a, _)| *a == asset) {
            e.1 = e.1.saturating_add(v);
        } else if self.n < self.assets.len() {
            self.assets[self.n] = (asset, v);
            self.n += 1;
        }
    }

    /// A trade of `qty` worth `value` (quote) with `fee` (quote-valued).
    pub(super) fn trade(&mut self, inst: &Instrument, side: Side, qty: Qty, value: Amount, fee: Amount) {
        let base = inst.base_amount(qty).unwrap_or(Amount::ZERO);
        let (quote_flow, base_flow) = match side {
            Side::Buy => (-value, base),
            Side::Sell => (value, -base),
        };
        self.add(inst.quote, quote_flow.saturating_sub(fee));
        self.add(inst.base, base_flow);
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &(AssetId, Amount)> {
        self.assets[..self.n].iter()
    }
}

/// The books and USD rates the state stage values things at.
#[derive(Debug)]
pub(super) struct Valuation {
    instruments: Arc<Instruments>,
    usd: Vec<bool>,
    /// `usd_assets`: the flags are derived again when an instrument is added.
    usd_names: Vec<String>,
    /// For each asset, the spot instrument that marks it in USD (the first in the table
    /// quoted in a USD asset).
    usd_inst: Vec<Option<InstrumentId>>,
    books: Vec<BookSlot>,
    max_age_ns: u64,
}

impl Valuation {
    /// `usd_assets` are worth one US dollar each; books older than `max_data_age_ms` do
    /// not price recovery.
    pub(super) fn new(instruments: Arc<Instruments>, usd_assets: &[String], max_data_age_ms: u64) -> Self {
        // By the asset capacity: an asset added while running has its slots.
        let assets = instruments.asset_capacity();
        // Every slot of the table: an instrument added while running has its own.
        let books = (0..instruments.capacity())
            .map(|k| BookSlot {
                top: BookTop::unsynced(InstrumentId(k as u16), 0),
                valid: false,
                mark: Price(0),
                bid: Price(0),
                ask: Price(0),
            })
            .collect();
        let mut v = Self {
            instruments,
            usd: vec![false; assets],
            usd_names: usd_assets.to_vec(),
            usd_inst: vec![None; assets],
            books,
            max_age_ns: ms_to_ns(max_data_age_ms),
        };
        v.on_listed();
        v
    }

    /// Derives the USD flags and the instruments that mark each asset in USD, for the
    /// table as it stands: at start, and again when an instrument is added while running
    /// (a new asset, or a new USD-quoted spot pair of one). Cold; allocates nothing.
    pub(super) fn on_listed(&mut self) {
        self.instruments.flag_assets(&self.usd_names, &mut self.usd);
        for i in self.instruments.iter() {
            if i.market == crate::types::Market::Spot
                && self.usd.get(i.quote.index()).copied().unwrap_or(false)
                && self.usd_inst.get(i.base.index()).is_some_and(Option::is_none)
            {
                self.usd_inst[i.base.index()] = Some(i.id);
            }
        }
    }

    /// Takes a top from the book stage.
    #[inline]
    pub(super) fn on_top(&mut self, top: &BookTop) {
        if let Some(b) = self.books.get_mut(top.inst.index()) {
            if let Some(m) = mid(top).filter(|_| top.synced) {
                b.mark = m;
            }
            if top.synced {
                if let Some(l) = top.best_bid() {
                    b.bid = l.price;
                }
                if let Some(l) = top.best_ask() {
                    b.ask = l.price;
                }
            }
            b.top = *top;
            b.valid = top.synced;
        }
    }

    /// Trusts no book until its next top (the book ring dropped one, which may have been
    /// an unsynced notice).
    pub(super) fn invalidate_all(&mut self) {
        for b in &mut self.books {
            b.valid = false;
        }
    }

    pub(super) fn is_usd(&self, asset: AssetId) -> bool {
        self.usd.get(asset.index()).copied().unwrap_or(false)
    }

    /// The top of `inst` if it is synced and fresh enough to price an order at `now`.
    pub(super) fn fresh_book(&self, inst: InstrumentId, now: u64) -> Option<&BookTop> {
        let b = self.books.get(inst.index())?;
        (b.valid && now.saturating_sub(b.top.recv_ns) <= self.max_age_ns).then_some(&b.top)
    }

    /// The price `inst` is marked at: the mid of its last synced top, however old.
    fn mark_price(&self, inst: InstrumentId) -> Option<Price> {
        self.books.get(inst.index()).map(|b| b.mark).filter(|p| p.is_positive())
    }

    /// The executable price of `inst` for a position: its last synced best bid for a
    /// long (what selling it gets), its best ask for a short; in quote per base unit.
    pub(super) fn exec_price(&self, inst: &Instrument, long: bool) -> Option<Amount> {
        let b = self.books.get(inst.id.index())?;
        let p = if long { b.bid } else { b.ask };
        p.is_positive().then(|| inst.price_amount(p))
    }

    /// USD per unit of `asset` at its executable price (1 for USD assets): the bid (for
    /// a long) or ask of its USD pair.
    pub(super) fn exec_usd(&self, asset: AssetId, long: bool) -> Option<Amount> {
        if self.is_usd(asset) {
            return Some(Amount::ONE);
        }
        let inst = (*self.usd_inst.get(asset.index())?)?;
        self.exec_price(self.instruments.get(inst), long)
    }

    /// The usd flags per asset.
    pub(super) fn usd_flags(&self) -> &[bool] {
        &self.usd
    }

    /// USD per unit of `asset` at the operation's planned price for it (a leg trading
    /// it against a USD asset), else at its mark.
    pub(super) fn usd_rate_for(&self, op: Option<&Op>, asset: AssetId) -> Option<Amount> {
        if self.is_usd(asset) {
            return Some(Amount::ONE);
        }
        let planned = op.and_then(|op| {
            op.legs().iter().find_map(|l| {
                let i = self.instruments.try_get(l.inst)?;
                (i.base == asset && i.market == crate::types::Market::Spot && self.is_usd(i.quote))
                    .then(|| i.price_amount(l.price))
            })
        });
        planned.or_else(|| self.usd_rate(asset))
    }

    /// USD per unit of `asset` (1 for USD assets, else the mark of its USD pair).
    pub(super) fn usd_rate(&self, asset: AssetId) -> Option<Amount> {
        if self.is_usd(asset) {
            return Some(Amount::ONE);
        }
        let inst = (*self.usd_inst.get(asset.index())?)?;
        Some(self.instruments.get(inst).price_amount(self.mark_price(inst)?))
    }

    /// The signed USD value of `inst`'s position: its base units at the asset's one USD
    /// mark. One price per asset, whatever the venue: BTC held on one venue and owed on
    /// another net to nothing, as they do in the risk gate's exposure.
    ///
    /// `base_fees` are fees the position's fills paid in the base asset: they left the
    /// wallet, so they leave the exposure.
    pub(super) fn exposure(&self, inst: &Instrument, positions: &Positions, base_fees: Amount) -> Amount {
        let q = positions.qty[inst.id.index()];
        if q.is_zero() && base_fees.is_zero() {
            return Amount::ZERO;
        }
        inst.base_amount(q)
            .map(|b| b.saturating_sub(base_fees))
            .zip(self.usd_rate(inst.base))
            .and_then(|(b, rate)| b.mul(rate, Rounding::Floor))
            .unwrap_or(Amount::ZERO)
    }

    /// The USD value of the quote asset the position moved (spent on buys, received on
    /// sells, `quote_fees` paid in it included), when the quote is not a USD asset.
    pub(super) fn quote_exposure(
        &self,
        inst: &Instrument,
        positions: &Positions,
        quote_fees: Amount,
    ) -> Amount {
        let k = inst.id.index();
        if self.usd.get(inst.quote.index()).copied().unwrap_or(true) {
            return Amount::ZERO;
        }
        let flow = Amount::ZERO.saturating_sub(positions.cost[k].saturating_add(quote_fees));
        self.usd_rate(inst.quote).and_then(|rate| flow.mul(rate, Rounding::Floor)).unwrap_or(Amount::ZERO)
    }

    /// Asset flows valued in USD: USD assets at par, any other asset at the operation's
    /// own planned price for it (the price of a leg trading it against a USD asset), so
    /// the value depends on the journal alone.
    pub(super) fn value_flows(&self, op: &Op, flows: &Flows) -> Amount {
        let mut total = Amount::ZERO;
        for &(asset, flow) in flows.iter() {
            if flow.is_zero() {
                continue;
            }
            if self.is_usd(asset) {
                total = total.saturating_add(flow);
                continue;
            }
            let price = op.legs().iter().find_map(|l| {
                let i = self.instruments.try_get(l.inst)?;
                (i.base == asset && self.is_usd(i.quote)).then(|| i.price_amount(l.price))
            });
            if let Some(p) = price {
                total = total.saturating_add(flow.mul(p, Rounding::Floor).unwrap_or(Amount::ZERO));
            }
        }
        total
    }
}
