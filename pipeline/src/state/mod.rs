//! The state stage: operations, orders, positions, P&L, balances, and recovery.
//!
//! - **Input rings:** `Rx<StateInput>` from dispatch (operation starts, every order
//!   event, balances); `Rx<BookTop>` (current prices, for recovery cost estimates,
//!   hedge and unwind prices, exposure and unrealized P&L); `Rx<StateControl>` from an
//!   operator (approve, retry, abandon, kill switch). The runtime `Control` halt flag is
//!   read every poll.
//! - **Output rings:** `Tx<Command>` to dispatch (recovery orders, cancels, queries,
//!   cancel-all, balance queries); `Tx<RiskUpdate>` to the risk gate; `Tx<Alert>` to a
//!   cold thread. Commands and risk updates wait in pre-sized outboxes while a ring is
//!   full (never dropped); alerts are dropped and counted.
//! - **State owned:** the operations table (pre-sized; a slot holds an operation, its
//!   legs and every order sent for it), positions, costs and fees per instrument,
//!   balances per venue and asset, the latest book per instrument, realized P&L (total
//!   and of the day), the state journal writer (the event log).
//! - **Invariants:** every fill is applied exactly once (cumulative quantities) and
//!   journaled (`FillApplied`) before the positions it changed are published; recovery
//!   is decided on fills, never on submissions, and only once every order of the
//!   operation has a known outcome; an order with an unknown outcome is queried, never
//!   re-sent; recovery orders are bounded (`max_recovery_attempts` rounds, the attempt
//!   number in each client order id); after the operation's deadline a naked leg is
//!   unwound, not hedged; an operation recovery gives up on halts its instruments until
//!   an operator acts. No allocation, lock or panic in `poll`.
//! - **Latency budget:** an order event is a lookup in the operations in flight, a few
//!   i128 operations and a journal append (committed once per poll, one `write`); a
//!   recovery decision a few microseconds.
//!
//! The operation state machine: IDLE, DETECTING and OPPORTUNITY_FOUND belong to
//! detection (its `evaluations`, `found` and `emitted` counters); the risk gate decides
//! approval; this stage observes EXECUTING (entry orders out), RECOVERING (hedge or
//! unwind orders out, or waiting for a book to price them), AWAITING_OPERATOR (recovery
//! gave up), and the final COMPLETED (balanced with fills, possibly after completing the
//! hedge) or FAILED (unwound, abandoned, or nothing traded because of rejections). An
//! operation whose IOC legs simply filled nothing is *missed*: final, counted apart, not
//! a failure. Beneath each operation every order is SENT, ACCEPTED, PARTIALLY_FILLED,
//! FILLED, CANCELLED, REJECTED or UNKNOWN ([`OrderState`]).
//!
//! **Recovery.** When every order of an operation has settled and its legs are not
//! matched (within one lot), two plans are priced from the current books: *complete*
//! sends each lagging leg's missing quantity at a limit within `max_slippage_bps` of the
//! leg's planned price; *unwind* reverses each leg's excess over the least-filled leg at
//! the current best price moved by `unwind_slippage_bps`. Each plan is priced by walking
//! the current book up to its limits; its cost is what it takes from the operation's P&L
//! (both close the same naked exposure, so completing keeps the edge while the book still
//! pays, unwinding wins when it does not). Before the deadline the cheaper feasible plan
//! goes out (a plan is infeasible when a book is missing or stale, the hedge price is
//! beyond the slippage bound, or the venue refused the lagging leg on its merits, as for
//! insufficient balance); after the deadline only unwinding.
//! Quantities below an instrument's minimum are dust and left alone. A round whose
//! orders the venue never saw (rate limited, order connection down) is not counted
//! against `max_recovery_attempts`, and the next round backs off exponentially from
//! `recovery_backoff_ms`: hammering a rate limiter only extends the block.
//!
//! **P&L.** An operation's realized P&L is its net flow of every asset over all its
//! fills, fees deducted, with non-USD assets valued at the operation's own planned price
//! for that asset (so replay rebuilds it exactly from the journal). Positions keep any
//! residual; unrealized P&L is marked from the books.

mod config;
mod ledger;
mod stats;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use quanta::Clock;

pub use crate::journal::{OpPhase, OrderState};
pub use config::{StateConfig, StateConfigError};
pub use ledger::{Applied, Delta, Positions};
pub use stats::{StateSnapshot, StateStats};

use crate::journal::{JournalWriter, Record, Replay};
use crate::msg::{
    Alert, AlertKind, BookTop, ClientOrderId, Command, Execution, Leg, MAX_LEGS, OpOutcome, OppKind,
    Opportunity, OrderEvent, OrderUpdate, RejectReason, RiskUpdate, StateControl, StateInput,
};
use crate::runtime::{Control, Held, Rx, Stage, Tx};
use crate::types::{
    Amount, AssetId, Instrument, InstrumentId, Instruments, Price, Qty, Rate, Rounding, Side, Venue,
};
use crate::units::{ms_to_ns, now_ns};

/// The state stage's rings.
#[derive(Debug)]
pub struct StateRings {
    pub inputs: Rx<StateInput>,
    pub books: Rx<BookTop>,
    pub control: Rx<StateControl>,
    pub commands: Tx<Command>,
    pub risk: Tx<RiskUpdate>,
    pub alerts: Tx<Alert>,
}

/// Why an order of an operation was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Entry,
    Hedge,
    Unwind,
}

/// Orders one operation can hold: the entries plus two per leg per recovery round.
const MAX_OP_ORDERS: usize = 24;

#[derive(Clone, Copy, Debug)]
struct OrderSlot {
    client: ClientOrderId,
    inst: InstrumentId,
    side: Side,
    qty: Qty,
    state: OrderState,
    applied: Applied,
    /// The venue's final filled count (from `Done`); more than applied means fills are
    /// missing and the order is queried.
    reported: Qty,
    sent_ns: u64,
    last_query_ns: u64,
    answered: bool,
    cancel_sent: bool,
    purpose: Purpose,
    /// Why the order was refused, if it was.
    refused: Option<RejectReason>,
}

impl OrderSlot {
    const EMPTY: OrderSlot = OrderSlot {
        client: ClientOrderId { op: 0, leg: 0, attempt: 0 },
        inst: InstrumentId(0),
        side: Side::Buy,
        qty: Qty::ZERO,
        state: OrderState::Sent,
        applied: Applied { filled: Qty::ZERO, value: Amount::ZERO, fee: Amount::ZERO },
        reported: Qty::ZERO,
        sent_ns: 0,
        last_query_ns: 0,
        answered: false,
        cancel_sent: false,
        purpose: Purpose::Entry,
        refused: None,
    };

    /// Refused by the venue for a reason the same order would meet again.
    fn refused_for_good(&self) -> bool {
        self.refused.is_some_and(|r| {
            !matches!(
                r,
                RejectReason::RateLimited
                    | RejectReason::Disconnected
                    | RejectReason::WouldNotFill
                    | RejectReason::NotFound
                    | RejectReason::Journal
            )
        })
    }

    /// Refused before it reached the venue, for a reason that passes: worth retrying
    /// later, not a verdict on the order.
    fn refused_in_passing(&self) -> bool {
        matches!(self.refused, Some(RejectReason::RateLimited | RejectReason::Disconnected))
    }

    /// The outcome is known and every fill of it is applied.
    fn is_settled(&self) -> bool {
        self.state.is_terminal() && self.applied.filled >= self.reported
    }

    fn needs_query(&self) -> bool {
        self.state == OrderState::Unknown || (self.state.is_terminal() && self.applied.filled < self.reported)
    }
}

#[derive(Clone, Copy, Debug)]
struct Op {
    used: bool,
    closed: bool,
    exec: Execution,
    phase: OpPhase,
    orders: [OrderSlot; MAX_OP_ORDERS],
    n_orders: usize,
    next_attempt: [u8; MAX_LEGS],
    rounds: u8,
    /// The latest round (the entries, then each recovery round): its first order, when
    /// it was sent, and whether its refusals have been looked at.
    round_start: usize,
    round_ns: u64,
    round_judged: bool,
    /// Rounds in a row with an order refused in passing (see `recovery_backoff_ms`).
    backoff: u8,
    rejected: bool,
    deadline_alerted: bool,
    halted: bool,
    /// Restored from the journal on start: its instruments stay halted until it closes,
    /// since the risk gate knows nothing of it.
    restored: bool,
}

impl Op {
    fn legs(&self) -> &[Leg] {
        self.exec.opp.legs()
    }

    fn orders(&self) -> &[OrderSlot] {
        &self.orders[..self.n_orders]
    }

    fn find(&self, client: ClientOrderId) -> Option<usize> {
        self.orders().iter().position(|o| o.client == client)
    }

    /// Net quantity of leg `i` in the leg's own direction.
    fn net(&self, i: usize) -> i64 {
        let Some(leg) = self.legs().get(i) else { return 0 };
        self.orders()
            .iter()
            .filter(|o| o.client.leg as usize == i)
            .map(|o| if o.side == leg.side { o.applied.filled.0 } else { -o.applied.filled.0 })
            .fold(0i64, i64::saturating_add)
    }

    fn filled_anything(&self) -> bool {
        self.orders().iter().any(|o| o.applied.filled.is_positive())
    }

    /// An unwind order filled: the operation gave back what it had traded.
    fn unwound(&self) -> bool {
        self.orders().iter().any(|o| o.purpose == Purpose::Unwind && o.applied.filled.is_positive())
    }
}

/// A recovery plan: the orders it sends and what it is expected to cost, in USD (the
/// negative of the value it adds to the operation's P&L).
#[derive(Clone, Copy, Debug)]
struct Plan {
    legs: [(usize, Leg); MAX_LEGS],
    n: usize,
    /// Legs that need an order (priced or not): zero means the legs are matched.
    needed: usize,
    cost: Amount,
    feasible: bool,
    /// A leg that needs an order has no fresh book to price it.
    unpriced: bool,
}

impl Plan {
    fn empty() -> Self {
        Self {
            legs: [(0, Leg::default()); MAX_LEGS],
            n: 0,
            needed: 0,
            cost: Amount::ZERO,
            feasible: true,
            unpriced: false,
        }
    }
}

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
}

const OUTBOX: usize = 4096;
/// Outbox room kept before new inputs are taken.
const ROOM: usize = 256;
const BATCH: usize = 64;
const DAY_MS: u64 = 86_400_000;

fn system_wall_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The quote value of taking `qty` from `levels` (best first) no further than `limit`;
/// what the levels do not hold is valued at the limit.
fn walk_value(
    inst: &Instrument,
    levels: &[crate::msg::Level],
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
struct Flows {
    assets: [(AssetId, Amount); 2 * MAX_LEGS],
    n: usize,
}

impl Flows {
    fn add(&mut self, asset: AssetId, v: Amount) {
        if let Some(e) = self.assets[..self.n].iter_mut().find(|(a, _)| *a == asset) {
            e.1 = e.1.saturating_add(v);
        } else if self.n < self.assets.len() {
            self.assets[self.n] = (asset, v);
            self.n += 1;
        }
    }

    /// A trade of `qty` worth `value` (quote) with `fee` (quote-valued).
    fn trade(&mut self, inst: &Instrument, side: Side, qty: Qty, value: Amount, fee: Amount) {
        let base = inst.base_amount(qty).unwrap_or(Amount::ZERO);
        let (quote_flow, base_flow) = match side {
            Side::Buy => (-value, base),
            Side::Sell => (value, -base),
        };
        self.add(inst.quote, quote_flow.saturating_sub(fee));
        self.add(inst.base, base_flow);
    }

    fn iter(&self) -> impl Iterator<Item = &(AssetId, Amount)> {
        self.assets[..self.n].iter()
    }
}

/// The state stage.
pub struct StateKeeper {
    rings: StateRings,
    journal: JournalWriter,
    runtime: Arc<Control>,
    clock: Clock,
    wall_ms: fn() -> u64,
    instruments: Arc<Instruments>,
    stats: Arc<StateStats>,
    cfg: StateConfig,
    max_slippage: Rate,
    unwind_slippage: Rate,
    usd: Vec<bool>,
    /// For each asset, the spot instrument that marks it in USD (the first in the table
    /// quoted in a USD asset).
    usd_inst: Vec<Option<InstrumentId>>,
    ops: Vec<Op>,
    books: Vec<BookSlot>,
    positions: Positions,
    halt_refs: Vec<u16>,
    balances: Vec<Amount>,
    realized: Amount,
    daily: Amount,
    day: u64,
    /// Commands and risk updates their rings refused: retried, never dropped.
    commands: Held<Command>,
    risk: Held<RiskUpdate>,
    killed: bool,
    journal_broken: bool,
    journal_dirty: bool,
    pending_reconcile: u32,
    next_tick_ns: u64,
    next_mark_ns: u64,
    next_reconcile_ns: u64,
    started: bool,
    outcomes: Option<Tx<OpOutcome>>,
    board: Option<Arc<crate::cells::PositionBoard>>,
}

impl fmt::Debug for StateKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKeeper").field("killed", &self.killed).finish_non_exhaustive()
    }
}

fn empty_exec(op: u64) -> Execution {
    Execution {
        op,
        opp: Opportunity {
            id: 0,
            kind: OppKind::SpotSpot,
            n_legs: 0,
            legs: [Leg::default(); MAX_LEGS],
            expected_profit: Amount::ZERO,
            edge: Rate::ZERO,
            notional: Amount::ZERO,
            slippage: Rate::ZERO,
            trigger_ns: 0,
            oldest_ns: 0,
            detected_ns: 0,
        },
        approved_ns: 0,
        deadline_ns: 0,
    }
}

impl StateKeeper {
    /// Builds the state stage. `journal` is the state journal (`JournalKind::State`),
    /// opened by the wiring; `replay` is what `journal::replay` rebuilt from the journal
    /// directory on start (positions, realized P&L, open operations, unresolved orders,
    /// halted instruments), or `None` for a fresh start.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &StateConfig,
        instruments: Arc<Instruments>,
        rings: StateRings,
        journal: JournalWriter,
        runtime: Arc<Control>,
        clock: Clock,
        replay: Option<&Replay>,
        stats: Arc<StateStats>,
    ) -> Result<Self, StateConfigError> {
        if config.max_ops == 0 || config.max_ops > 65_536 {
            return Err(StateConfigError::Ops);
        }
        if config.max_recovery_attempts > 7 {
            return Err(StateConfigError::Attempts);
        }
        let n = instruments.len();
        let assets = instruments.asset_count();
        let mut usd = vec![false; assets];
        for a in config.usd_assets.iter().filter_map(|a| instruments.find_asset(a)) {
            usd[a.index()] = true;
        }
        let mut usd_inst = vec![None; assets];
        for i in instruments.iter() {
            if i.market == crate::types::Market::Spot
                && usd[i.quote.index()]
                && usd_inst[i.base.index()].is_none()
            {
                usd_inst[i.base.index()] = Some(i.id);
            }
        }
        let blank = Op {
            used: false,
            closed: false,
            exec: empty_exec(0),
            phase: OpPhase::Executing,
            orders: [OrderSlot::EMPTY; MAX_OP_ORDERS],
            n_orders: 0,
            next_attempt: [1; MAX_LEGS],
            rounds: 0,
            round_start: 0,
            round_ns: 0,
            round_judged: false,
            backoff: 0,
            rejected: false,
            deadline_alerted: false,
            halted: false,
            restored: false,
        };
        let wall_ms: fn() -> u64 = system_wall_ms;
        let mut s = Self {
            rings,
            journal,
            runtime,
            wall_ms,
            instruments,
            cfg: config.clone(),
            max_slippage: config.max_slippage_bps.rate(),
            unwind_slippage: config.unwind_slippage_bps.rate(),
            usd,
            usd_inst,
            ops: vec![blank; config.max_ops],
            books: Vec::with_capacity(n),
            positions: Positions::new(n),
            halt_refs: vec![0; n],
            balances: vec![Amount::ZERO; Venue::COUNT * assets],
            realized: Amount::ZERO,
            daily: Amount::ZERO,
            day: wall_ms() / DAY_MS,
            commands: Held::new(OUTBOX),
            risk: Held::new(OUTBOX),
            killed: false,
            journal_broken: false,
            journal_dirty: false,
            pending_reconcile: 0,
            next_tick_ns: 0,
            next_mark_ns: 0,
            next_reconcile_ns: 0,
            started: false,
            outcomes: None,
            board: None,
            stats,
            clock,
        };
        for i in s.instruments.iter() {
            s.books.push(BookSlot { top: BookTop::unsynced(i.id, 0), valid: false, mark: Price(0) });
        }
        if let Some(r) = replay {
            s.restore(r);
        }
        Ok(s)
    }

    /// Reports every finished operation on `tx` (a dropping link: the cold side reads it
    /// for reports; a full ring loses an outcome, never the operation).
    pub fn with_outcomes(mut self, tx: Tx<OpOutcome>) -> Self {
        self.outcomes = Some(tx);
        self
    }

    /// Publishes every position change on `board` for the cold side.
    pub fn with_positions(mut self, board: Arc<crate::cells::PositionBoard>) -> Self {
        for k in 0..self.instruments.len() {
            board.set(InstrumentId(k as u16), self.positions.qty[k]);
        }
        self.board = Some(board);
        self
    }

    /// Replaces the wall clock used for the day boundary of the daily P&L (tests).
    pub fn with_wall_clock(mut self, wall_ms: fn() -> u64) -> Self {
        self.wall_ms = wall_ms;
        self.day = wall_ms() / DAY_MS;
        self
    }

    pub fn stats(&self) -> &Arc<StateStats> {
        &self.stats
    }

    /// The position of `inst`, in its quantity unit.
    pub fn position(&self, inst: InstrumentId) -> Qty {
        self.positions.qty.get(inst.index()).copied().unwrap_or(Qty::ZERO)
    }

    /// Positions, costs and fees of every instrument.
    pub fn positions(&self) -> &Positions {
        &self.positions
    }

    pub fn realized_pnl(&self) -> Amount {
        self.realized
    }

    /// The last balance `venue` reported for `asset`.
    pub fn balance(&self, venue: Venue, asset: AssetId) -> Amount {
        let assets = self.instruments.asset_count();
        if asset.index() >= assets {
            return Amount::ZERO;
        }
        self.balances[venue.index() * assets + asset.index()]
    }

    /// The phase of operation `op`, if it is in the table.
    pub fn phase(&self, op: u64) -> Option<OpPhase> {
        self.ops.iter().find(|o| o.used && o.exec.op == op).map(|o| o.phase)
    }

    /// The state of an order, if its operation is in the table.
    pub fn order_state(&self, client: ClientOrderId) -> Option<OrderState> {
        let op = self.ops.iter().find(|o| o.used && o.exec.op == client.op)?;
        op.find(client).map(|k| op.orders[k].state)
    }

    // ---- Restart ----

    fn restore(&mut self, r: &Replay) {
        for p in &r.positions {
            if p.inst.index() < self.positions.qty.len() {
                self.positions.qty[p.inst.index()] = p.qty;
                self.positions.cost[p.inst.index()] = p.cost;
                self.positions.fees[p.inst.index()] = p.fees;
            }
        }
        self.realized = r.realized_pnl;
        self.stats.realized_pnl.set(self.realized);
        for inst in &r.halted {
            if let Some(h) = self.halt_refs.get_mut(inst.index()) {
                *h = 1;
            }
        }
        for ro in r.open_ops() {
            let Some(k) = self.free_slot() else {
                self.stats.op_table_full.inc();
                continue;
            };
            let mut exec = ro.exec.unwrap_or_else(|| empty_exec(ro.op));
            if ro.exec.is_none() {
                // Only the dispatch log knew this operation: its entry intents are its legs.
                exec.opp.kind = ro.kind.unwrap_or(OppKind::SpotSpot);
                for o in r.orders.iter().filter(|o| o.client.op == ro.op && o.client.attempt == 0) {
                    let i = o.client.leg as usize;
                    if i < MAX_LEGS && o.intent {
                        exec.opp.legs[i] = Leg { inst: o.inst, side: o.side, price: o.price, qty: o.qty };
                        exec.opp.n_legs = exec.opp.n_legs.max(o.client.leg + 1);
                    }
                }
            }
            let op = &mut self.ops[k];
            op.used = true;
            op.closed = false;
            op.exec = exec;
            op.phase = if ro.phase == OpPhase::AwaitingOperator {
                OpPhase::AwaitingOperator
            } else {
                OpPhase::Recovering
            };
            op.halted = ro.phase == OpPhase::AwaitingOperator;
            op.restored = !op.halted;
            op.n_orders = 0;
            op.next_attempt = [1; MAX_LEGS];
            op.rounds = 0;
            op.rejected = false;
            op.deadline_alerted = true;
            for o in r.orders.iter().filter(|o| o.client.op == ro.op) {
                if op.n_orders >= MAX_OP_ORDERS {
                    break;
                }
                let leg = (o.client.leg as usize).min(MAX_LEGS - 1);
                op.next_attempt[leg] = op.next_attempt[leg].max(o.client.attempt.saturating_add(1));
                let purpose = if o.client.attempt == 0 {
                    Purpose::Entry
                } else if exec.opp.legs[leg].side == o.side {
                    Purpose::Hedge
                } else {
                    Purpose::Unwind
                };
                let state = if o.state.is_terminal() { o.state } else { OrderState::Unknown };
                op.orders[op.n_orders] = OrderSlot {
                    client: o.client,
                    inst: o.inst,
                    side: o.side,
                    qty: o.qty,
                    state,
                    applied: Applied { filled: o.filled, value: o.value, fee: o.fee },
                    reported: o.filled,
                    purpose,
                    ..OrderSlot::EMPTY
                };
                op.n_orders += 1;
            }
            // Restored orders are history: recovery starts afresh from them.
            op.round_start = op.n_orders;
            op.round_ns = 0;
            op.round_judged = true;
            op.backoff = 0;
        }
    }

    // ---- Helpers ----

    fn alert(&mut self, kind: AlertKind, op: u64, value: i64) {
        let a = Alert { kind, op, value, ts_ns: now_ns(&self.clock) };
        if self.rings.alerts.push(a).is_err() {
            self.stats.alerts_dropped.inc();
        }
    }

    fn journal(&mut self, rec: Record) {
        if self.journal_broken {
            return;
        }
        if self.journal.append(&rec).is_err() {
            self.journal_failed();
        } else {
            self.journal_dirty = true;
        }
    }

    #[cold]
    fn journal_failed(&mut self) {
        self.journal_broken = true;
        self.stats.journal_failures.inc();
        self.alert(AlertKind::JournalFailed, 0, 0);
        self.kill();
    }

    fn send(&mut self, c: Command) {
        if !self.commands.hold(c) {
            // The outbox is sized so this cannot happen while inputs pause at ROOM.
            self.stats.op_table_full.inc();
        }
    }

    fn tell_risk(&mut self, u: RiskUpdate) {
        self.risk.hold(u);
    }

    /// Kill switch: cancel everything, stop trading, recover no further.
    fn kill(&mut self) {
        if self.killed {
            return;
        }
        self.killed = true;
        self.stats.killed.set(1);
        self.send(Command::CancelAll);
        self.tell_risk(RiskUpdate::Halt);
        self.alert(AlertKind::Halted, 0, 0);
    }

    fn find_op(&self, op: u64) -> Option<usize> {
        self.ops.iter().position(|o| o.used && o.exec.op == op)
    }

    /// A never-used slot, or the oldest closed one.
    fn free_slot(&self) -> Option<usize> {
        if let Some(k) = self.ops.iter().position(|o| !o.used) {
            return Some(k);
        }
        self.ops.iter().enumerate().filter(|(_, o)| o.closed).min_by_key(|(_, o)| o.exec.op).map(|(k, _)| k)
    }

    fn fresh_book(&self, inst: InstrumentId, now: u64) -> Option<&BookTop> {
        let b = self.books.get(inst.index())?;
        (b.valid && now.saturating_sub(b.top.recv_ns) <= ms_to_ns(self.cfg.max_data_age_ms)).then_some(&b.top)
    }

    /// The price `inst` is marked at: the mid of its last synced top, however old.
    fn mark_price(&self, inst: InstrumentId) -> Option<Price> {
        self.books.get(inst.index()).map(|b| b.mark).filter(|p| p.is_positive())
    }

    /// USD per unit of `asset` (1 for USD assets, else the mark of its USD pair).
    fn usd_rate(&self, asset: AssetId) -> Option<Amount> {
        if self.usd.get(asset.index()).copied().unwrap_or(false) {
            return Some(Amount::ONE);
        }
        let inst = (*self.usd_inst.get(asset.index())?)?;
        Some(self.instruments.get(inst).price_amount(self.mark_price(inst)?))
    }

    fn to_usd(&self, amount: Amount, quote: AssetId) -> Option<Amount> {
        amount.mul(self.usd_rate(quote)?, Rounding::Floor)
    }

    /// The signed USD value of `inst`'s position: its base units at the asset's one USD
    /// mark. One price per asset, whatever the venue: BTC held on one venue and owed on
    /// another net to nothing, as they do in the risk gate's exposure.
    fn exposure(&self, inst: &Instrument) -> Amount {
        let q = self.positions.qty[inst.id.index()];
        if q.is_zero() {
            return Amount::ZERO;
        }
        inst.base_amount(q)
            .zip(self.usd_rate(inst.base))
            .and_then(|(b, rate)| b.mul(rate, Rounding::Floor))
            .unwrap_or(Amount::ZERO)
    }

    /// The USD value of the quote asset the position moved (spent on buys, received on
    /// sells, fees included), when the quote is not a USD asset.
    fn quote_exposure(&self, inst: &Instrument) -> Amount {
        let k = inst.id.index();
        if self.usd.get(inst.quote.index()).copied().unwrap_or(true) {
            return Amount::ZERO;
        }
        let flow = Amount::ZERO.saturating_sub(self.positions.cost[k].saturating_add(self.positions.fees[k]));
        self.usd_rate(inst.quote).and_then(|rate| flow.mul(rate, Rounding::Floor)).unwrap_or(Amount::ZERO)
    }

    fn publish_position(&mut self, inst: InstrumentId) {
        if let Some(b) = &self.board {
            b.set(inst, self.positions.qty[inst.index()]);
        }
        let i = self.instruments.get(inst);
        let u = RiskUpdate::Position {
            inst,
            qty: self.positions.qty[inst.index()],
            exposure: self.exposure(i),
            quote_exposure: self.quote_exposure(i),
        };
        self.tell_risk(u);
    }

    // ---- Inputs ----

    fn on_input(&mut self, input: StateInput, now: u64) {
        match input {
            StateInput::Executing(e) => self.on_executing(e, now),
            StateInput::Order(e) => self.on_order(e),
            StateInput::Balance(b) => {
                let assets = self.instruments.asset_count();
                if b.asset.index() < assets {
                    self.balances[b.venue.index() * assets + b.asset.index()] = b.available;
                    self.tell_risk(RiskUpdate::Balance {
                        venue: b.venue,
                        asset: b.asset,
                        available: b.available,
                    });
                }
            }
        }
    }

    fn on_executing(&mut self, e: Execution, now: u64) {
        if self.find_op(e.op).is_some() {
            return;
        }
        let Some(k) = self.free_slot() else {
            // Untracked orders are a risk nobody watches: stop trading.
            self.stats.op_table_full.inc();
            self.kill();
            return;
        };
        self.journal(Record::OpStarted(e));
        self.stats.ops_started[e.opp.kind.index()].inc();
        let op = &mut self.ops[k];
        op.used = true;
        op.closed = false;
        op.exec = e;
        op.phase = OpPhase::Executing;
        op.next_attempt = [1; MAX_LEGS];
        op.rounds = 0;
        op.round_start = 0;
        op.round_ns = now;
        op.round_judged = false;
        op.backoff = 0;
        op.rejected = false;
        op.deadline_alerted = false;
        op.halted = false;
        op.restored = false;
        op.n_orders = 0;
        for (i, leg) in e.opp.legs().iter().enumerate() {
            op.orders[i] = OrderSlot {
                client: ClientOrderId { op: e.op, leg: i as u8, attempt: 0 },
                inst: leg.inst,
                side: leg.side,
                qty: leg.qty,
                sent_ns: now,
                purpose: Purpose::Entry,
                ..OrderSlot::EMPTY
            };
            op.n_orders += 1;
        }
    }

    fn on_order(&mut self, e: OrderEvent) {
        self.journal(Record::OrderEvent(e));
        let instruments = Arc::clone(&self.instruments);
        let Some(inst) = instruments.try_get(e.inst) else {
            self.stats.orphan_events.inc();
            return;
        };
        let found = self.find_op(e.client.op).and_then(|k| self.ops[k].find(e.client).map(|j| (k, j)));
        let Some((k, j)) = found else {
            // An order this stage does not know (a table overflow, another process):
            // its fills still move positions, the venue being the truth.
            self.stats.orphan_events.inc();
            if let Some(d) = ledger::delta(inst, &Applied::default(), &e.update) {
                self.apply_fill(e.client, inst, e.side, &d, e.ts_ns);
            }
            return;
        };
        if e.update == OrderUpdate::Rejected(RejectReason::Journal) {
            self.journal_failed();
        }
        let slot = self.ops[k].orders[j];
        // Acknowledgement latency, once per order.
        if !slot.answered
            && matches!(e.update, OrderUpdate::Accepted | OrderUpdate::Rejected(_) | OrderUpdate::Fill { .. })
        {
            self.ops[k].orders[j].answered = true;
            let ns = e.ts_ns.saturating_sub(slot.sent_ns);
            self.tell_risk(RiskUpdate::OrderLatency { venue: inst.venue, ns });
        }
        if let OrderUpdate::Sent = e.update {
            self.ops[k].orders[j].sent_ns = e.ts_ns.max(slot.sent_ns);
        }
        let mut applied = slot.applied;
        match ledger::delta(inst, &applied, &e.update) {
            Some(d) => {
                self.apply_fill(e.client, inst, slot.side, &d, e.ts_ns);
                applied.filled = Qty(applied.filled.0.saturating_add(d.qty.0));
                applied.value = applied.value.saturating_add(d.value);
                applied.fee = applied.fee.saturating_add(d.fee);
                if self.ops[k].closed {
                    self.stats.late_fills.inc();
                }
            }
            None => {
                if matches!(e.update, OrderUpdate::Fill { .. }) {
                    self.stats.duplicate_fills.inc();
                }
            }
        }
        let reported = match e.update {
            OrderUpdate::Done { filled } | OrderUpdate::Status { filled, .. } => slot.reported.max(filled),
            _ => slot.reported,
        };
        let state = slot.state.after(&e.update, applied.filled.max(reported), slot.qty);
        let o = &mut self.ops[k].orders[j];
        o.applied = applied;
        o.reported = reported;
        if state == OrderState::Unknown && o.state != OrderState::Unknown {
            self.stats.unknown_orders.inc();
            o.last_query_ns = 0;
            o.state = state;
            self.alert(AlertKind::UnknownOrder, e.client.op, i64::from(e.client.leg));
        } else {
            o.state = state;
        }
        if let OrderUpdate::Rejected(r) = e.update {
            self.ops[k].orders[j].refused = Some(r);
            if r != RejectReason::WouldNotFill && r != RejectReason::NotFound {
                self.ops[k].rejected = true;
            }
        }
    }

    fn apply_fill(&mut self, client: ClientOrderId, inst: &Instrument, side: Side, d: &Delta, ts_ns: u64) {
        self.journal(Record::FillApplied(ledger::record(client, inst.id, side, d, ts_ns)));
        self.positions.apply(inst.id, side, d.qty, d.value, d.fee);
        self.stats.fills_applied.inc();
        if d.unvalued_fee {
            self.stats.unvalued_fees.inc();
        }
        self.publish_position(inst.id);
    }

    fn on_control(&mut self, c: StateControl, now: u64) {
        match c {
            StateControl::KillSwitch => self.kill(),
            StateControl::Retry { op } => {
                if let Some(k) = self.find_op(op) {
                    if !self.ops[k].closed && self.ops[k].phase == OpPhase::AwaitingOperator {
                        self.unhalt(k);
                        self.ops[k].rounds = 0;
                        self.ops[k].backoff = 0;
                        self.set_phase(k, OpPhase::Recovering, now);
                    }
                }
            }
            StateControl::Abandon { op } => {
                if let Some(k) = self.find_op(op) {
                    if !self.ops[k].closed {
                        self.close(k, false, now);
                    }
                }
            }
            StateControl::Approve { op } => {
                if let Some(k) = self.find_op(op) {
                    self.unhalt(k);
                    if !self.ops[k].closed && self.ops[k].orders().iter().all(|o| o.is_settled()) {
                        self.close(k, false, now);
                    }
                }
            }
        }
    }

    // ---- Operations ----

    fn set_phase(&mut self, k: usize, phase: OpPhase, now: u64) {
        if self.ops[k].phase != phase {
            self.ops[k].phase = phase;
            let op = self.ops[k].exec.op;
            self.journal(Record::OpPhase { op, phase, ts_ns: now });
        }
    }

    fn halt(&mut self, k: usize, now: u64) {
        if self.ops[k].halted {
            return;
        }
        self.ops[k].halted = true;
        let legs = self.ops[k].exec.opp;
        for leg in legs.legs() {
            let Some(h) = self.halt_refs.get_mut(leg.inst.index()) else { continue };
            *h = h.saturating_add(1);
            if *h == 1 {
                self.journal(Record::InstrumentHalt { inst: leg.inst, halted: true, ts_ns: now });
                self.tell_risk(RiskUpdate::InstrumentHalt { inst: leg.inst, halted: true });
                self.alert(AlertKind::InstrumentHalted, self.ops[k].exec.op, i64::from(leg.inst.0));
            }
        }
    }

    fn unhalt(&mut self, k: usize) {
        if !self.ops[k].halted {
            return;
        }
        self.ops[k].halted = false;
        let now = now_ns(&self.clock);
        let legs = self.ops[k].exec.opp;
        for leg in legs.legs() {
            let Some(h) = self.halt_refs.get_mut(leg.inst.index()) else { continue };
            if *h > 0 {
                *h -= 1;
                if *h == 0 {
                    self.journal(Record::InstrumentHalt { inst: leg.inst, halted: false, ts_ns: now });
                    self.tell_risk(RiskUpdate::InstrumentHalt { inst: leg.inst, halted: false });
                }
            }
        }
    }

    /// Realized P&L of an operation: the net flow of every asset, valued in USD.
    fn op_pnl(&self, op: &Op) -> Amount {
        let mut flows = Flows::default();
        for o in op.orders() {
            if let Some(inst) = self.instruments.try_get(o.inst) {
                flows.trade(inst, o.side, o.applied.filled, o.applied.value, o.applied.fee);
            }
        }
        self.value_flows(op, &flows)
    }

    /// Asset flows valued in USD: USD assets at par, any other asset at the operation's
    /// own planned price for it (the price of a leg trading it against a USD asset), so
    /// the value depends on the journal alone.
    fn value_flows(&self, op: &Op, flows: &Flows) -> Amount {
        let mut total = Amount::ZERO;
        for &(asset, flow) in flows.iter() {
            if flow.is_zero() {
                continue;
            }
            if self.usd.get(asset.index()).copied().unwrap_or(false) {
                total = total.saturating_add(flow);
                continue;
            }
            let price = op.legs().iter().find_map(|l| {
                let i = self.instruments.try_get(l.inst)?;
                (i.base == asset && self.usd.get(i.quote.index()).copied().unwrap_or(false))
                    .then(|| i.price_amount(l.price))
            });
            if let Some(p) = price {
                total = total.saturating_add(flow.mul(p, Rounding::Floor).unwrap_or(Amount::ZERO));
            }
        }
        total
    }

    fn close(&mut self, k: usize, balanced: bool, now: u64) {
        let op = self.ops[k];
        let kind = op.exec.opp.kind.index();
        let filled = op.filled_anything();
        let missed = balanced && !filled && !op.rejected;
        let completed = balanced && filled && !op.unwound();
        let success = completed || missed;
        let pnl = self.op_pnl(&op);
        let phase = if completed { OpPhase::Completed } else { OpPhase::Failed };
        self.set_phase(k, phase, now);
        let wall = (self.wall_ms)();
        self.journal(Record::OpFinished {
            op: op.exec.op,
            success,
            realized_pnl: pnl,
            wall_ms: wall,
            ts_ns: now,
        });
        self.ops[k].closed = true;
        if op.restored {
            self.ops[k].restored = false;
            self.unhalt(k);
        }
        if completed {
            self.stats.ops_completed[kind].inc();
        } else if missed {
            self.stats.ops_missed[kind].inc();
        } else {
            self.stats.ops_failed[kind].inc();
        }
        self.realized = self.realized.saturating_add(pnl);
        self.roll_day(wall);
        self.daily = self.daily.saturating_add(pnl);
        self.stats.realized_pnl.set(self.realized);
        self.stats.daily_pnl.set(self.daily);
        self.tell_risk(RiskUpdate::OperationDone { op: op.exec.op, success, realized_pnl: pnl });
        self.tell_risk(RiskUpdate::DailyPnl { realized: self.daily });
        if let Some(tx) = self.outcomes.as_mut() {
            let _ = tx.push(OpOutcome {
                op: op.exec.op,
                opp_id: op.exec.opp.id,
                kind: op.exec.opp.kind,
                completed,
                success,
                realized_pnl: pnl,
                trigger_ns: op.exec.opp.trigger_ns,
                approved_ns: op.exec.approved_ns,
                finished_ns: now,
            });
        }
    }

    fn roll_day(&mut self, wall_ms: u64) {
        let day = wall_ms / DAY_MS;
        if day != self.day {
            self.day = day;
            self.daily = Amount::ZERO;
            self.stats.daily_pnl.set(self.daily);
            self.tell_risk(RiskUpdate::DailyPnl { realized: self.daily });
        }
    }

    /// Past the deadline, how long an unwind without a fresh book to price it waits.
    fn unpriced_until(&self, k: usize) -> u64 {
        self.ops[k].exec.deadline_ns.saturating_add(ms_to_ns(self.cfg.max_unpriced_wait_ms))
    }

    fn give_up(&mut self, k: usize, now: u64) {
        // From here on only an operator lifts the halt.
        self.ops[k].restored = false;
        self.set_phase(k, OpPhase::AwaitingOperator, now);
        self.stats.escalations.inc();
        self.alert(AlertKind::RecoveryExhausted, self.ops[k].exec.op, i64::from(self.ops[k].rounds));
        self.halt(k, now);
    }

    /// The recovery plan that completes the hedge (`unwind == false`) or unwinds the
    /// excess (`unwind == true`).
    fn plan(&self, k: usize, unwind: bool, now: u64) -> Plan {
        let op = &self.ops[k];
        let legs = op.legs();
        let mut plan = Plan::empty();
        let mut flows = Flows::default();
        // The reference leg: the most filled (complete) or least filled (unwind), by
        // fraction of its target.
        let mut r: Option<(i128, i128)> = None;
        for (i, leg) in legs.iter().enumerate() {
            let (net, target) = (op.net(i) as i128, leg.qty.0 as i128);
            if target <= 0 {
                plan.feasible = false;
                return plan;
            }
            r = Some(match r {
                None => (net, target),
                Some((rn, rt)) => {
                    let more = net * rt > rn * target;
                    if more != unwind { (net, target) } else { (rn, rt) }
                }
            });
        }
        let Some((rn, rt)) = r else { return plan };
        for (i, leg) in legs.iter().enumerate() {
            let Some(inst) = self.instruments.try_get(leg.inst) else {
                plan.feasible = false;
                return plan;
            };
            let (net, target) = (op.net(i) as i128, leg.qty.0 as i128);
            let level = if unwind {
                crate::types::div_round(target * rn, rt, Rounding::Ceil)
            } else {
                crate::types::div_round(target * rn, rt, Rounding::Floor)
            };
            let amount = if unwind { net - level } else { level - net };
            let Ok(amount) = i64::try_from(amount) else {
                plan.feasible = false;
                return plan;
            };
            let q = inst.round_qty(Qty(amount.max(0)));
            if !q.is_positive() || q < inst.min_qty {
                continue;
            }
            let side = if unwind { leg.side.opposite() } else { leg.side };
            let best = self.fresh_book(leg.inst, now).and_then(|book| match side {
                Side::Buy => book.best_ask(),
                Side::Sell => book.best_bid(),
            });
            let Some(best) = best.map(|l| l.price).filter(|p| p.is_positive()) else {
                plan.needed += 1;
                plan.feasible = false;
                plan.unpriced = true;
                continue;
            };
            if inst.notional(best, q, Rounding::Floor).is_none_or(|v| v < inst.min_notional) {
                // Dust: below what the venue accepts.
                continue;
            }
            plan.needed += 1;
            if !unwind
                && op
                    .orders()
                    .iter()
                    .rev()
                    .find(|o| o.client.leg as usize == i)
                    .is_some_and(OrderSlot::refused_for_good)
            {
                // The venue refused this leg on its merits (balance, precision, trading
                // off...): sending it again would meet the same answer.
                plan.feasible = false;
                continue;
            }
            let unit = Rate::UNIT as i128;
            let moved = |p: Price, rate: Rate, up: bool, rounding| {
                let f = if up { unit + rate.0 as i128 } else { unit - rate.0 as i128 };
                i64::try_from(crate::types::div_round(p.0 as i128 * f, unit, rounding)).ok().map(Price)
            };
            let limit = if unwind {
                match side {
                    Side::Buy => moved(best, self.unwind_slippage, true, Rounding::Floor)
                        .map(|p| inst.round_price(p, Rounding::Floor)),
                    Side::Sell => moved(best, self.unwind_slippage, false, Rounding::Ceil)
                        .map(|p| inst.round_price(p, Rounding::Ceil)),
                }
            } else {
                match side {
                    Side::Buy => moved(leg.price, self.max_slippage, true, Rounding::Floor)
                        .map(|p| inst.round_price(p, Rounding::Floor))
                        .filter(|l| best <= *l),
                    Side::Sell => moved(leg.price, self.max_slippage, false, Rounding::Ceil)
                        .map(|p| inst.round_price(p, Rounding::Ceil))
                        .filter(|l| best >= *l),
                }
            };
            let Some(limit) = limit.filter(|l| inst.accepts(*l, q)) else {
                plan.feasible = false;
                continue;
            };
            // What the order is expected to trade: the book walked for `q` up to the limit,
            // the rest at the limit.
            let levels = match (self.fresh_book(leg.inst, now), side) {
                (Some(b), Side::Buy) => b.asks(),
                (Some(b), Side::Sell) => b.bids(),
                (None, _) => &[],
            };
            let Some(value) = walk_value(inst, levels, side, q, limit) else {
                plan.feasible = false;
                continue;
            };
            let fee = value.mul_rate(inst.taker_fee, Rounding::Ceil).unwrap_or(Amount::ZERO);
            flows.trade(inst, side, q, value, fee);
            plan.legs[plan.n] = (i, Leg { inst: leg.inst, side, price: limit, qty: q });
            plan.n += 1;
        }
        // The plan's cost is what it takes away from the operation's P&L: both plans close
        // the same naked exposure, so the better one leaves more.
        plan.cost = -self.value_flows(op, &flows);
        plan
    }

    fn execute_plan(&mut self, k: usize, plan: &Plan, unwind: bool, now: u64) -> bool {
        // Every order needs an attempt number and a slot, or none goes out.
        for &(i, _) in &plan.legs[..plan.n] {
            if self.ops[k].next_attempt[i] > ClientOrderId::MAX_ATTEMPT
                || self.ops[k].n_orders + plan.n > MAX_OP_ORDERS
            {
                return false;
            }
        }
        if self.ops[k].orders().iter().all(|o| o.purpose == Purpose::Entry) {
            self.stats.recoveries.inc();
        }
        let op = &mut self.ops[k];
        op.rounds += 1;
        op.round_start = op.n_orders;
        op.round_ns = now;
        op.round_judged = false;
        self.set_phase(k, OpPhase::Recovering, now);
        for &(i, leg) in &plan.legs[..plan.n] {
            let op = &mut self.ops[k];
            let client = ClientOrderId { op: op.exec.op, leg: i as u8, attempt: op.next_attempt[i] };
            op.next_attempt[i] += 1;
            op.orders[op.n_orders] = OrderSlot {
                client,
                inst: leg.inst,
                side: leg.side,
                qty: leg.qty,
                sent_ns: now,
                purpose: if unwind { Purpose::Unwind } else { Purpose::Hedge },
                ..OrderSlot::EMPTY
            };
            op.n_orders += 1;
            if unwind {
                self.stats.unwind_orders.inc();
            } else {
                self.stats.hedge_orders.inc();
            }
            self.send(Command::Send { client, leg });
        }
        true
    }

    /// Looks once at how the latest round's orders were refused: a round refused
    /// entirely in passing (rate limited, connection down) never reached the venue and
    /// is not counted; any refusal in passing backs the next round off.
    fn judge_round(&mut self, k: usize) {
        let op = &mut self.ops[k];
        if op.round_judged {
            return;
        }
        op.round_judged = true;
        let round = &op.orders[op.round_start..op.n_orders];
        if round.iter().any(OrderSlot::refused_in_passing) {
            if op.rounds > 0 && round.iter().all(OrderSlot::refused_in_passing) {
                op.rounds -= 1;
            }
            op.backoff = op.backoff.saturating_add(1);
        } else {
            op.backoff = 0;
        }
    }

    /// When the next recovery round of operation `k` may go out.
    fn next_round_ns(&self, k: usize) -> u64 {
        let op = &self.ops[k];
        if op.backoff == 0 {
            return 0;
        }
        let wait = ms_to_ns(self.cfg.recovery_backoff_ms) << (op.backoff - 1).min(5);
        op.round_ns.saturating_add(wait)
    }

    /// Timeouts, queries, the deadline, and the recovery decision for one operation.
    fn evaluate(&mut self, k: usize, now: u64) {
        let op = self.ops[k].exec;
        if !self.ops[k].used || self.ops[k].closed {
            return;
        }
        let ack = ms_to_ns(self.cfg.ack_timeout_ms);
        let every = ms_to_ns(self.cfg.query_interval_ms);
        let past_deadline = op.deadline_ns > 0 && now > op.deadline_ns;
        let mut settled = true;
        for j in 0..self.ops[k].n_orders {
            let o = self.ops[k].orders[j];
            // No answer to the order, or (past the deadline, cancelled) no final answer.
            let silent = (o.state == OrderState::Sent && now.saturating_sub(o.sent_ns) > ack)
                || (o.cancel_sent
                    && matches!(o.state, OrderState::Accepted | OrderState::PartiallyFilled)
                    && now.saturating_sub(op.deadline_ns) > ack);
            if silent {
                self.stats.unknown_orders.inc();
                self.ops[k].orders[j].state = OrderState::Unknown;
                self.alert(AlertKind::UnknownOrder, o.client.op, i64::from(o.client.leg));
            }
            let o = self.ops[k].orders[j];
            if o.needs_query() && (o.last_query_ns == 0 || now.saturating_sub(o.last_query_ns) >= every) {
                self.ops[k].orders[j].last_query_ns = now.max(1);
                self.stats.queries.inc();
                self.send(Command::Query { client: o.client, inst: o.inst });
            }
            if past_deadline
                && !o.cancel_sent
                && matches!(o.state, OrderState::Accepted | OrderState::PartiallyFilled)
            {
                self.ops[k].orders[j].cancel_sent = true;
                self.send(Command::Cancel { client: o.client, inst: o.inst });
            }
            settled &= o.is_settled();
        }
        if past_deadline && !self.ops[k].deadline_alerted && self.ops[k].phase != OpPhase::Completed {
            let naked =
                (0..self.ops[k].legs().len()).any(|i| self.ops[k].net(i) != self.ops[k].net(0)) || !settled;
            if naked {
                self.ops[k].deadline_alerted = true;
                self.stats.deadlines_missed.inc();
                self.alert(AlertKind::DeadlineMissed, self.ops[k].exec.op, 0);
            }
        }
        if !settled || self.ops[k].phase == OpPhase::AwaitingOperator {
            return;
        }
        let complete = self.plan(k, false, now);
        let unwind = self.plan(k, true, now);
        if complete.needed == 0 || unwind.needed == 0 {
            // Matched within a lot (or nothing traded): the operation is over.
            self.close(k, true, now);
            return;
        }
        self.judge_round(k);
        if self.killed || self.ops[k].rounds >= self.cfg.max_recovery_attempts {
            self.give_up(k, now);
            return;
        }
        if now < self.next_round_ns(k) {
            self.set_phase(k, OpPhase::Recovering, now);
            return;
        }
        let choice = if past_deadline {
            unwind.feasible.then_some(true)
        } else {
            match (complete.feasible, unwind.feasible) {
                (true, true) => Some(unwind.cost < complete.cost),
                (true, false) => Some(false),
                (false, true) => Some(true),
                (false, false) => None,
            }
        };
        match choice {
            Some(u) => {
                let plan = if u { unwind } else { complete };
                if !self.execute_plan(k, &plan, u, now) {
                    self.give_up(k, now);
                }
            }
            None if past_deadline && !(unwind.unpriced && now < self.unpriced_until(k)) => {
                self.give_up(k, now)
            }
            None => {
                // No book to price a plan yet: wait (re-evaluated every tick).
                self.set_phase(k, OpPhase::Recovering, now);
            }
        }
    }

    fn tick(&mut self, now: u64) {
        if self.runtime.is_halted() && !self.killed {
            self.kill();
        }
        let wall = (self.wall_ms)();
        self.roll_day(wall);
        for k in 0..self.ops.len() {
            if self.ops[k].used && !self.ops[k].closed {
                self.evaluate(k, now);
            }
        }
        // Visible state.
        let mut open = [0i64; 3];
        let mut pending = 0u32;
        for op in self.ops.iter().filter(|o| o.used && !o.closed) {
            match op.phase {
                OpPhase::Executing => open[0] += 1,
                OpPhase::Recovering => open[1] += 1,
                OpPhase::AwaitingOperator => open[2] += 1,
                _ => {}
            }
            pending += op.orders().iter().filter(|o| o.needs_query()).count() as u32;
        }
        self.stats.open_executing.set(open[0]);
        self.stats.open_recovering.set(open[1]);
        self.stats.open_awaiting_operator.set(open[2]);
        if pending != self.pending_reconcile {
            self.pending_reconcile = pending;
            self.stats.pending_reconcile.set(i64::from(pending));
            self.tell_risk(RiskUpdate::Reconciling { pending });
        }
        if now >= self.next_mark_ns {
            self.next_mark_ns = now.saturating_add(ms_to_ns(self.cfg.mark_interval_ms));
            self.mark();
        }
        if now >= self.next_reconcile_ns {
            self.next_reconcile_ns = now.saturating_add(ms_to_ns(self.cfg.reconcile_interval_ms));
            for v in Venue::ALL {
                if self.instruments.iter().any(|i| i.venue == v) {
                    self.send(Command::QueryBalances { venue: v });
                }
            }
        }
    }

    /// Marks every position to its book: exposure to risk, unrealized P&L to the stats.
    fn mark(&mut self) {
        let mut mtm = Amount::ZERO;
        for k in 0..self.instruments.len() {
            let id = InstrumentId(k as u16);
            let q = self.positions.qty[k];
            let inst = self.instruments.get(id);
            let cost = self.to_usd(self.positions.cost[k].saturating_add(self.positions.fees[k]), inst.quote);
            if q.is_zero() && self.positions.cost[k].is_zero() {
                continue;
            }
            mtm = mtm.saturating_add(self.exposure(inst)).saturating_sub(cost.unwrap_or(Amount::ZERO));
            if !q.is_zero() && self.risk.room() > ROOM {
                self.publish_position(id);
            }
        }
        self.stats.unrealized_pnl.set(mtm.saturating_sub(self.realized));
    }

    fn start(&mut self, now: u64) {
        self.started = true;
        for k in 0..self.instruments.len() {
            let id = InstrumentId(k as u16);
            if !self.positions.qty[k].is_zero() {
                self.publish_position(id);
            }
            if self.halt_refs[k] > 0 {
                self.tell_risk(RiskUpdate::InstrumentHalt { inst: id, halted: true });
            }
        }
        // Operations restored open keep their instruments out of new operations until
        // they close.
        for k in 0..self.ops.len() {
            if self.ops[k].used && !self.ops[k].closed && self.ops[k].restored {
                self.halt(k, now);
            }
        }
        // Orders restored with unknown outcomes are queried at once; risk waits.
        self.tick(now);
    }
}

impl Stage for StateKeeper {
    fn poll(&mut self) -> usize {
        let now = now_ns(&self.clock);
        if !self.started {
            self.start(now);
        }
        let books = &mut self.books;
        if self.rings.books.take_overflow() {
            // A dropped update may have been an unsynced notice.
            for b in books.iter_mut() {
                b.valid = false;
            }
        }
        let mut work = self.rings.books.drain(256, |top| {
            if let Some(b) = books.get_mut(top.inst.index()) {
                if let Some(m) = mid(&top).filter(|_| top.synced) {
                    b.mark = m;
                }
                b.top = top;
                b.valid = top.synced;
            }
        });
        let mut touched = false;
        while let Some(c) = self.rings.control.pop() {
            self.on_control(c, now);
            touched = true;
            work += 1;
        }
        for _ in 0..BATCH {
            if self.commands.room() < ROOM || self.risk.room() < ROOM {
                break;
            }
            let Some(input) = self.rings.inputs.pop() else { break };
            self.on_input(input, now);
            touched = true;
            work += 1;
        }
        if touched || now >= self.next_tick_ns {
            self.next_tick_ns = now.saturating_add(1_000_000);
            self.tick(now);
        }
        if self.journal_dirty {
            self.journal_dirty = false;
            if self.journal.commit().is_err() {
                self.journal_failed();
            }
        }
        work += self.commands.flush(&mut self.rings.commands);
        work += self.risk.flush(&mut self.rings.risk);
        work
    }

    fn stop(&mut self) {
        let _ = self.journal.sync();
        self.commands.flush(&mut self.rings.commands);
        self.risk.flush(&mut self.rings.risk);
    }
}
