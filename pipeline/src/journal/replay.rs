//! Replay: rebuild operations, orders, positions and realized P&L from both journals.
//!
//! The dispatch log says which orders may have reached a venue (every order is journaled
//! before it is sent); the state log says what became of them. An order the dispatch log
//! names but whose outcome the state log does not close (no rejection, no final fill
//! count) is *unresolved*: it may have filled, so the wiring must reconcile it with the
//! venue (query it) before trading resumes. Positions are the sum of `FillApplied`
//! records, which the state stage writes after removing duplicate fills, so replay needs
//! no instrument table and rebuilds them exactly.

use std::collections::BTreeMap;
use std::path::Path;

use super::codec::{BreakerRecord, FillApplied, JournalKind, OpPhase, OrderState, Record};
use super::error::JournalError;
use super::identity::ClientPrefix;
use super::reader::{JournalFile, Tail, read_file};
use crate::msg::{ClientOrderId, Execution, OppKind, OrderUpdate};
use crate::types::{Amount, InstrumentId, Price, Qty, Side, Venue};

/// An order as the journals leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayOrder {
    pub client: ClientOrderId,
    pub inst: InstrumentId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub state: OrderState,
    /// Quantity applied to positions.
    pub filled: Qty,
    /// The most the venue said had filled (a final or queried status, a fill's
    /// cumulative quantity): above `filled` while fills are still to be applied.
    pub reported: Qty,
    /// Quote value of the applied fills.
    pub value: Amount,
    pub fee: Amount,
    /// True when the dispatch log holds the intent (the order may have been sent).
    pub intent: bool,
}

/// An operation as the journals leave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayOp {
    pub op: u64,
    pub kind: Option<OppKind>,
    /// The approved execution, when the state log recorded its start.
    pub exec: Option<Execution>,
    pub phase: OpPhase,
    pub finished: bool,
    pub success: bool,
    /// Closed hedged, its last phase COMPLETED (a missed operation is a success that
    /// did not complete).
    pub completed: bool,
    /// Its place among the closes, from 1 in the order the state log holds them (0:
    /// open): a basis position is kept and released in that order.
    pub closed_seq: u64,
    /// When it closed, UTC milliseconds (0: open).
    pub closed_wall_ms: u64,
    pub realized_pnl: Amount,
    pub orders: Vec<ClientOrderId>,
}

/// An instrument's position rebuilt from applied fills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayPosition {
    pub inst: InstrumentId,
    /// Signed quantity, in the instrument's unit.
    pub qty: Qty,
    /// Signed quote value paid for it (buys add, sells subtract).
    pub cost: Amount,
    /// Fees paid, valued in the quote asset.
    pub fees: Amount,
}

/// Everything replay rebuilt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// The highest operation id either journal names: new op ids start above it.
    pub last_op_id: u64,
    pub ops: Vec<ReplayOp>,
    pub orders: Vec<ReplayOrder>,
    pub positions: Vec<ReplayPosition>,
    /// Sum of the realized P&L of finished operations.
    pub realized_pnl: Amount,
    /// Instruments halted at the end of the log, waiting for an operator.
    pub halted: Vec<InstrumentId>,
    pub dispatch_records: u64,
    pub state_records: u64,
    pub dispatch_tail: Option<Tail>,
    pub state_tail: Option<Tail>,
    /// The instance's client order id prefix, when the journal was created with one.
    pub identity: Option<ClientPrefix>,
    /// The circuit breakers as last journaled.
    pub breakers: Option<BreakerRecord>,
    /// Realized P&L of the operations that finished on each UTC day (day number since
    /// the epoch, by the wall clock of their finish).
    pub realized_by_day: BTreeMap<u64, Amount>,
    /// The kill switch as last journaled: `Some` while it is on (with whether an operator
    /// threw it), `None` when it was never thrown or an operator lifted it.
    pub kill_switch: Option<KillSwitch>,
    /// Per venue ([`Venue::index`]): new entries halted for a balance drift that no
    /// operator has acknowledged yet.
    pub drift_halted: [bool; Venue::COUNT],
    /// The day's P&L total as last journaled, with when (ms since the epoch): a restart
    /// on the same trading day goes on from it.
    pub daily_total: Option<(Amount, u64)>,
    /// Instruments added while running (`arb ctl add-symbol`), in the order of their
    /// last listing, and whether that left them added (`true`) or removed: a restart
    /// keeps their ids and does not trade the removed ones.
    pub listed: Vec<(InstrumentId, bool)>,
    /// Every fill the accounting valued (records of version 2), in journal order: the
    /// state stage replays them through its accounting, so lots, fees and wallets come
    /// back exactly as they were.
    pub fills: Vec<FillApplied>,
    /// Funding each venue booked ([`Venue::index`]), summed over the journal.
    pub funding: [Amount; Venue::COUNT],
}

/// A kill switch the journal shows on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KillSwitch {
    /// Thrown by an operator rather than by the engine on a fault.
    pub operator: bool,
    /// When it was thrown (ms since the epoch).
    pub wall_ms: u64,
}

impl Replay {
    /// Orders whose outcome is not known: reconcile each with its venue before trading.
    pub fn unresolved(&self) -> impl Iterator<Item = &ReplayOrder> {
        self.orders.iter().filter(|o| !o.state.is_terminal())
    }

    /// Instruments removed while running and not added again: loaded under their ids
    /// on a restart, neither subscribed nor traded.
    pub fn removed_instruments(&self) -> impl Iterator<Item = InstrumentId> + '_ {
        self.listed.iter().filter(|(_, added)| !added).map(|(i, _)| *i)
    }

    /// Operations that have not finished.
    pub fn open_ops(&self) -> impl Iterator<Item = &ReplayOp> {
        self.ops.iter().filter(|o| !o.finished)
    }

    /// The position of `inst` (zero if it never traded).
    pub fn position(&self, inst: InstrumentId) -> Qty {
        self.positions.iter().find(|p| p.inst == inst).map_or(Qty::ZERO, |p| p.qty)
    }

    pub fn order(&self, client: ClientOrderId) -> Option<&ReplayOrder> {
        self.orders.iter().find(|o| o.client == client)
    }

    pub fn op(&self, op: u64) -> Option<&ReplayOp> {
        self.ops.iter().find(|o| o.op == op)
    }
}

/// Reads both journals in `dir` (either may be missing) and rebuilds the engine's state.
/// A corrupt journal is an error: trading must not resume on a history with a hole.
pub fn replay(dir: &Path) -> Result<Replay, JournalError> {
    let (dispatch, state) = read_dir(dir)?;
    for j in [&dispatch, &state].into_iter().flatten() {
        if let Tail::Corrupt { offset, .. } = j.tail {
            return Err(JournalError::Corrupt { file: j.kind, offset });
        }
    }
    Ok(rebuild(dispatch.as_ref(), state.as_ref()))
}

/// Reads the journal files of `dir` that exist.
pub fn read_dir(dir: &Path) -> Result<(Option<JournalFile>, Option<JournalFile>), JournalError> {
    let read = |kind: JournalKind| -> Result<Option<JournalFile>, JournalError> {
        let path = dir.join(kind.file_name());
        if !path.exists() {
            return Ok(None);
        }
        let j = read_file(&path)?;
        if j.kind != kind {
            return Err(JournalError::WrongFile);
        }
        Ok(Some(j))
    };
    Ok((read(JournalKind::Dispatch)?, read(JournalKind::State)?))
}

/// A UTC day in milliseconds.
const DAY_MS: u64 = 86_400_000;

#[derive(Default)]
struct Builder {
    ops: BTreeMap<u64, ReplayOp>,
    orders: BTreeMap<ClientOrderId, ReplayOrder>,
    positions: BTreeMap<InstrumentId, ReplayPosition>,
    halted: BTreeMap<InstrumentId, bool>,
    last_op: u64,
    realized: Amount,
    identity: Option<ClientPrefix>,
    breakers: Option<BreakerRecord>,
    realized_by_day: BTreeMap<u64, Amount>,
    kill_switch: Option<KillSwitch>,
    drift_halted: [bool; Venue::COUNT],
    daily_total: Option<(Amount, u64)>,
    listed: Vec<(InstrumentId, bool)>,
    fills: Vec<FillApplied>,
    funding: [Amount; Venue::COUNT],
    closes: u64,
}

impl Builder {
    fn op(&mut self, op: u64) -> &mut ReplayOp {
        self.last_op = self.last_op.max(op);
        self.ops.entry(op).or_insert_with(|| ReplayOp {
            op,
            kind: None,
            exec: None,
            phase: OpPhase::Executing,
            finished: false,
            success: false,
            completed: false,
            closed_seq: 0,
            closed_wall_ms: 0,
            realized_pnl: Amount::ZERO,
            orders: Vec::new(),
        })
    }

    fn order(&mut self, client: ClientOrderId, inst: InstrumentId, side: Side) -> &mut ReplayOrder {
        let op = self.op(client.op);
        if !op.orders.contains(&client) {
            op.orders.push(client);
        }
        self.orders.entry(client).or_insert(ReplayOrder {
            client,
            inst,
            side,
            price: Price::ZERO,
            qty: Qty::ZERO,
            state: OrderState::Sent,
            filled: Qty::ZERO,
            reported: Qty::ZERO,
            value: Amount::ZERO,
            fee: Amount::ZERO,
            intent: false,
        })
    }

    fn apply(&mut self, rec: &Record) {
        match *rec {
            Record::OpIntent { op, kind, .. } => {
                self.op(op).kind = Some(kind);
            }
            Record::OrderIntent { client, leg, .. } => {
                let o = self.order(client, leg.inst, leg.side);
                o.price = leg.price;
                o.qty = leg.qty;
                o.intent = true;
            }
            Record::CancelIntent { client, .. } | Record::QueryIntent { client, .. } => {
                self.last_op = self.last_op.max(client.op);
            }
            Record::CancelAll { .. } | Record::BalanceQuery { .. } => {}
            Record::OpStarted(e) => {
                let op = self.op(e.op());
                op.kind = Some(e.opp().kind);
                op.exec = Some(e);
                // Entry orders the state saw start; their intents may be in the other log.
                for (i, leg) in e.opp().legs().iter().enumerate() {
                    let client = ClientOrderId { op: e.op(), leg: i as u8, attempt: 0 };
                    let o = self.order(client, leg.inst, leg.side);
                    if o.qty.is_zero() {
                        o.price = leg.price;
                        o.qty = leg.qty;
                    }
                }
            }
            Record::OrderEvent(e) => {
                let o = self.order(e.client, e.inst, e.side);
                let said = match e.update {
                    OrderUpdate::Done { filled } | OrderUpdate::Status { filled, .. } => filled,
                    OrderUpdate::Fill { cum_qty, .. } => cum_qty,
                    _ => Qty::ZERO,
                };
                o.reported = o.reported.max(said);
                let filled = said.max(o.filled);
                o.state = o.state.after(&e.update, filled, o.qty);
            }
            Record::FillApplied(f) => {
                let o = self.order(f.client, f.inst, f.side);
                o.filled = Qty(o.filled.0.saturating_add(f.qty.0));
                o.value = o.value.saturating_add(f.value);
                o.fee = o.fee.saturating_add(f.fee);
                let p = self
                    .positions
                    .entry(f.inst)
                    .or_insert(ReplayPosition { inst: f.inst, ..Default::default() });
                let sign = f.side.sign();
                p.qty = Qty(p.qty.0.saturating_add(sign.saturating_mul(f.qty.0)));
                p.cost = p.cost.saturating_add(Amount(f.value.0.saturating_mul(sign as i128)));
                p.fees = p.fees.saturating_add(f.fee);
                if f.valuation.is_some() {
                    self.fills.push(f);
                }
            }
            Record::OpPhase { op, phase, .. } => {
                self.op(op).phase = phase;
            }
            Record::OpFinished { op, success, realized_pnl, wall_ms, .. } => {
                self.closes += 1;
                let seq = self.closes;
                let o = self.op(op);
                if !o.finished {
                    o.finished = true;
                    o.success = success;
                    o.completed = o.phase == OpPhase::Completed;
                    (o.closed_seq, o.closed_wall_ms) = (seq, wall_ms);
                    o.realized_pnl = realized_pnl;
                    o.phase = if success { OpPhase::Completed } else { OpPhase::Failed };
                    self.realized = self.realized.saturating_add(realized_pnl);
                    let day = self.realized_by_day.entry(wall_ms / DAY_MS).or_default();
                    *day = day.saturating_add(realized_pnl);
                }
            }
            Record::InstrumentHalt { inst, halted, .. } => {
                self.halted.insert(inst, halted);
            }
            Record::Identity { prefix, .. } => {
                self.identity.get_or_insert(prefix);
            }
            Record::Breakers(b) => self.breakers = Some(b),
            Record::InstrumentListed { inst, added, .. } => {
                self.listed.retain(|(i, _)| *i != inst);
                self.listed.push((inst, added));
            }
            Record::KillSwitch { on, operator, wall_ms } => {
                self.kill_switch = on.then_some(KillSwitch { operator, wall_ms });
            }
            Record::DriftHalt { venue, .. } => self.drift_halted[venue.index()] = true,
            Record::DriftAck { venue, .. } => self.drift_halted[venue.index()] = false,
            Record::RecoveryRefused { .. } => {}
            Record::DailyTotal { total, wall_ms } => self.daily_total = Some((total, wall_ms)),
            Record::Funding { venue, amount, .. } => {
                let f = &mut self.funding[venue.index()];
                *f = f.saturating_add(amount);
            }
        }
    }
}

/// Rebuilds state from already-read journals (dispatch log first, then the state log).
pub fn rebuild(dispatch: Option<&JournalFile>, state: Option<&JournalFile>) -> Replay {
    let mut b = Builder::default();
    for j in [dispatch, state].into_iter().flatten() {
        for rec in j.records() {
            b.apply(rec);
        }
    }
    Replay {
        last_op_id: b.last_op,
        ops: b.ops.into_values().collect(),
        orders: b.orders.into_values().collect(),
        positions: b.positions.into_values().collect(),
        realized_pnl: b.realized,
        halted: b.halted.into_iter().filter(|(_, h)| *h).map(|(i, _)| i).collect(),
        dispatch_records: dispatch.map_or(0, |j| j.entries.len() as u64),
        state_records: state.map_or(0, |j| j.entries.len() as u64),
        dispatch_tail: dispatch.map(|j| j.tail),
        state_tail: state.map(|j| j.tail),
        identity: b.identity,
        breakers: b.breakers,
        realized_by_day: b.realized_by_day,
        kill_switch: b.kill_switch,
        drift_halted: b.drift_halted,
        daily_total: b.daily_total,
        listed: b.listed,
        fills: b.fills,
        funding: b.funding,
    }
}
