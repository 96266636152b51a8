//! `journal::history`: the trade history a journal holds, for `arb journal DIR
//! --operations | --fills | --daily`.
//!
//! Built from what replay already rebuilds ([`rebuild`]) plus one pass over the state
//! log for what replay folds away: the order event behind each applied fill (its price,
//! the fee as the venue charged it, the venue's order id), each operation's last phase
//! (a *missed* operation closes successful but never `Completed`), and wall-clock times.
//!
//! **Times.** The journal stamps records with the engine's monotonic clock; only an
//! operation's close (`OpFinished`) also carries the wall clock (UTC milliseconds). Each
//! close therefore pins the monotonic clock to UTC, and every other record is dated by
//! the close nearest after it in the state log (its operation's own close, for an
//! operation's opening), or the last close when none follows. Close times are exact;
//! other times are as good as the clock did not jump between the record and that close
//! (a restart on another boot may shift the times of records written before it). With
//! no close in the journal, times are unknown.
//!
//! **Money.** P&L is each operation's realized P&L exactly as the state stage journaled
//! it (USD). Fees are the fees the engine booked (`FillApplied`), valued in each
//! instrument's quote asset and summed per asset, never converted; a fill's row also
//! carries the fee as the venue charged it, in the asset it charged.

use std::collections::BTreeMap;

use super::codec::{OpPhase, Record};
use super::reader::JournalFile;
use super::replay::rebuild;
use crate::msg::{ClientOrderId, Leg, OppKind, OrderEvent, OrderUpdate, VenueOrderId};
use crate::types::{Amount, AssetId, InstrumentId, Instruments, Price, Qty, Rounding, Side};

/// Milliseconds in a UTC day.
pub const DAY_MS: u64 = 86_400_000;

/// How an operation ended, or the phase it is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every leg filled and the operation closed hedged without unwinding.
    Completed,
    /// Closed after unwinding, abandoning, or rejections.
    Failed,
    /// Nothing filled on any leg: closed, not a failure.
    Missed,
    /// Not closed at the end of the journal.
    Open(OpPhase),
}

impl Outcome {
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Missed => "missed",
            Outcome::Open(phase) => phase.name(),
        }
    }
}

/// One operation of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryOp {
    pub op: u64,
    pub kind: Option<OppKind>,
    /// When the risk gate approved it (UTC ms), derived (see the module doc).
    pub opened_ms: Option<u64>,
    /// When it closed (UTC ms), as journaled.
    pub closed_ms: Option<u64>,
    /// The planned legs.
    pub legs: Vec<Leg>,
    pub outcome: Outcome,
    /// Hedge and unwind orders sent for it.
    pub recovery_orders: u32,
    /// Realized P&L in USD, once closed.
    pub realized_pnl: Option<Amount>,
    /// Fees booked on its fills, per asset (each instrument's quote), by asset id.
    pub fees: Vec<(AssetId, Amount)>,
}

/// Where a fill's row came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillSource {
    /// A venue trade report.
    Trade { trade_id: u64 },
    /// An order query's cumulative answer: the new quantity at its average price.
    Query,
    /// No order event precedes it (should not happen): priced from its value.
    Applied,
}

/// One fill as the engine applied it to positions (duplicates already removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryFill {
    /// UTC ms, derived (see the module doc).
    pub time_ms: Option<u64>,
    pub client: ClientOrderId,
    pub inst: InstrumentId,
    pub side: Side,
    /// The fill price; the average price for a fill learned from a query.
    pub price: Price,
    pub qty: Qty,
    /// Quote value of the fill.
    pub value: Amount,
    /// The fee as the venue charged it, in `fee_asset`.
    pub fee: Amount,
    pub fee_asset: AssetId,
    /// The fee as the engine booked it, valued in the instrument's quote asset (zero
    /// when charged in an asset that cannot be valued).
    pub fee_quote: Amount,
    pub venue_order: VenueOrderId,
    pub source: FillSource,
}

/// The trade history of a journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// By operation id.
    pub ops: Vec<HistoryOp>,
    /// In journal order.
    pub fills: Vec<HistoryFill>,
}

/// One UTC day of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Day {
    /// Days since 1970-01-01 (UTC); `None` for operations with no known time.
    pub day: Option<u64>,
    pub operations: u64,
    pub completed: u64,
    pub failed: u64,
    pub missed: u64,
    pub open: u64,
    pub realized_pnl: Amount,
    pub fees: Vec<(AssetId, Amount)>,
}

fn add_fee(fees: &mut Vec<(AssetId, Amount)>, asset: AssetId, fee: Amount) {
    match fees.iter_mut().find(|(a, _)| *a == asset) {
        Some(e) => e.1 = e.1.saturating_add(fee),
        None => {
            fees.push((asset, fee));
            fees.sort_by_key(|(a, _)| *a);
        }
    }
}

/// Maps the monotonic journal clock to UTC through the operations' closes.
struct Clock {
    /// (index in the state log, UTC ns minus monotonic ns) of every close.
    anchors: Vec<(usize, i128)>,
}

impl Clock {
    fn offset_at(&self, index: usize) -> Option<i128> {
        let after = self.anchors.partition_point(|(i, _)| *i < index);
        self.anchors.get(after).or(self.anchors.last()).map(|(_, o)| *o)
    }

    fn utc_ms(ts_ns: u64, offset: Option<i128>) -> Option<u64> {
        let ns = i128::from(ts_ns) + offset?;
        u64::try_from(ns.div_euclid(1_000_000)).ok()
    }
}

/// The history of the journals read (either may be missing), with `instruments` the
/// table the journal was written with.
pub fn history(
    dispatch: Option<&JournalFile>,
    state: Option<&JournalFile>,
    instruments: &Instruments,
) -> History {
    let replay = rebuild(dispatch, state);
    let entries = state.map_or(&[][..], |j| &j.entries[..]);
    let mut clock = Clock { anchors: Vec::new() };
    let mut closes: BTreeMap<u64, i128> = BTreeMap::new();
    let mut closed_wall: BTreeMap<u64, u64> = BTreeMap::new();
    let mut phases: BTreeMap<u64, OpPhase> = BTreeMap::new();
    let mut started_at: BTreeMap<u64, usize> = BTreeMap::new();
    let mut venue_orders: BTreeMap<ClientOrderId, VenueOrderId> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        match e.record {
            Record::OpFinished { op, wall_ms, ts_ns, .. } => {
                let offset = i128::from(wall_ms) * 1_000_000 - i128::from(ts_ns);
                clock.anchors.push((i, offset));
                closes.entry(op).or_insert(offset);
                closed_wall.entry(op).or_insert(wall_ms);
            }
            Record::OpPhase { op, phase, .. } => {
                phases.insert(op, phase);
            }
            Record::OpStarted(x) => {
                started_at.entry(x.op()).or_insert(i);
            }
            Record::OrderEvent(ev) if !ev.venue_order.as_str().is_empty() => {
                venue_orders.insert(ev.client, ev.venue_order);
            }
            _ => {}
        }
    }
    let mut intent_ns: BTreeMap<u64, u64> = BTreeMap::new();
    for e in dispatch.map_or(&[][..], |j| &j.entries[..]) {
        if let Record::OpIntent { op, ts_ns, .. } = e.record {
            intent_ns.entry(op).or_insert(ts_ns);
        }
    }

    let mut fills = Vec::new();
    let mut last_event: BTreeMap<ClientOrderId, OrderEvent> = BTreeMap::new();
    let mut charged: BTreeMap<ClientOrderId, (AssetId, Amount)> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        match e.record {
            Record::OrderEvent(ev) => {
                last_event.insert(ev.client, ev);
            }
            Record::FillApplied(f) => {
                let inst = instruments.try_get(f.inst);
                let quote = inst.map_or(AssetId(u16::MAX), |i| i.quote);
                let average = || {
                    let inst = inst?;
                    let per_base = f.value.div(inst.base_amount(f.qty)?, Rounding::Floor)?;
                    inst.price_from_amount(per_base, Rounding::Floor)
                };
                let before = charged.get(&f.client).copied();
                let (price, fee, fee_asset, source) = match last_event.get(&f.client).map(|ev| ev.update) {
                    Some(OrderUpdate::Fill { price, qty, fee, fee_asset, trade_id, .. }) => {
                        let fee = if f.qty == qty || !qty.is_positive() {
                            fee
                        } else {
                            Amount(
                                crate::types::mul_div(fee.0, i128::from(f.qty.0), i128::from(qty.0))
                                    .unwrap_or(fee.0),
                            )
                        };
                        (price, fee, fee_asset, FillSource::Trade { trade_id })
                    }
                    Some(OrderUpdate::Status { fee, fee_asset, .. }) => {
                        let paid = before.filter(|(a, _)| *a == fee_asset).map_or(Amount::ZERO, |(_, p)| p);
                        let fee = fee.saturating_sub(paid).max(Amount::ZERO);
                        (average().unwrap_or(Price::ZERO), fee, fee_asset, FillSource::Query)
                    }
                    _ => (average().unwrap_or(Price::ZERO), f.fee, quote, FillSource::Applied),
                };
                let total = match before {
                    Some((a, p)) if a == fee_asset => p.saturating_add(fee),
                    _ => fee,
                };
                charged.insert(f.client, (fee_asset, total));
                fills.push(HistoryFill {
                    time_ms: Clock::utc_ms(f.ts_ns, clock.offset_at(i)),
                    client: f.client,
                    inst: f.inst,
                    side: f.side,
                    price,
                    qty: f.qty,
                    value: f.value,
                    fee,
                    fee_asset,
                    fee_quote: f.fee,
                    venue_order: venue_orders.get(&f.client).copied().unwrap_or_default(),
                    source,
                });
            }
            _ => {}
        }
    }

    let ops = replay
        .ops
        .iter()
        .map(|o| {
            let opened_ns =
                o.exec.map(|x| x.approved_ns()).filter(|&ns| ns > 0).or(intent_ns.get(&o.op).copied());
            let offset = closes
                .get(&o.op)
                .copied()
                .or_else(|| started_at.get(&o.op).and_then(|&i| clock.offset_at(i)))
                .or_else(|| clock.anchors.last().map(|(_, off)| *off));
            let closed_ms = closed_wall.get(&o.op).copied().filter(|_| o.finished);
            let legs = match o.exec {
                Some(x) => x.opp().legs().to_vec(),
                None => replay
                    .orders
                    .iter()
                    .filter(|r| r.client.op == o.op && r.client.attempt == 0)
                    .map(|r| Leg { inst: r.inst, side: r.side, price: r.price, qty: r.qty })
                    .collect(),
            };
            let outcome = match (o.finished, o.success, phases.get(&o.op)) {
                (true, true, Some(OpPhase::Completed)) => Outcome::Completed,
                (true, true, _) => Outcome::Missed,
                (true, false, _) => Outcome::Failed,
                (false, _, _) => Outcome::Open(o.phase),
            };
            let mut fees = Vec::new();
            for f in fills.iter().filter(|f| f.client.op == o.op) {
                if let Some(inst) = instruments.try_get(f.inst) {
                    add_fee(&mut fees, inst.quote, f.fee_quote);
                }
            }
            HistoryOp {
                op: o.op,
                kind: o.kind,
                opened_ms: opened_ns.and_then(|ns| Clock::utc_ms(ns, offset)),
                closed_ms,
                legs,
                outcome,
                recovery_orders: o.orders.iter().filter(|c| c.attempt > 0).count() as u32,
                realized_pnl: o.finished.then_some(o.realized_pnl),
                fees,
            }
        })
        .collect();
    History { ops, fills }
}

/// The history summed per UTC day: an operation counts on the day it closed, an open one
/// on the day it opened; days in order, operations with no known time last.
pub fn daily(ops: &[HistoryOp]) -> Vec<Day> {
    let mut days: BTreeMap<(bool, u64), Day> = BTreeMap::new();
    for o in ops {
        let day = o.closed_ms.or(o.opened_ms).map(|ms| ms / DAY_MS);
        let d = days.entry((day.is_none(), day.unwrap_or(0))).or_insert_with(|| Day {
            day,
            operations: 0,
            completed: 0,
            failed: 0,
            missed: 0,
            open: 0,
            realized_pnl: Amount::ZERO,
            fees: Vec::new(),
        });
        d.operations += 1;
        match o.outcome {
            Outcome::Completed => d.completed += 1,
            Outcome::Failed => d.failed += 1,
            Outcome::Missed => d.missed += 1,
            Outcome::Open(_) => d.open += 1,
        }
        d.realized_pnl = d.realized_pnl.saturating_add(o.realized_pnl.unwrap_or(Amount::ZERO));
        for &(asset, fee) in &o.fees {
            add_fee(&mut d.fees, asset, fee);
        }
    }
    days.into_values().collect()
}
