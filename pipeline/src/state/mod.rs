//! Stage 6, state: operations, orders, positions, P&L, balances, and recovery.
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
//! The stage is cut along those lines: [`operations`] holds the per-operation state
//! machine, [`recovery`] the decisions once an operation's legs are left unmatched
//! (complete the hedge or unwind, deadlines, retries, halts), [`valuation`] what
//! positions and operations are worth (marks, exposure, P&L), [`restore`] what the
//! journal puts back on restart, and [`ledger`] the exact bookkeeping of fills. This
//! module is the stage itself: it owns the tables, and journals, publishes and counts
//! every transition.
mod accounting;
mod basis;
mod config;
mod drift;
mod flatten;
mod foreign;
mod ledger;
mod operations;
mod quality;
mod recovery;
mod restore;
mod stats;
mod valuation;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use quanta::Clock;

pub use crate::journal::{OpPhase, OrderState};
pub use accounting::{Accounting, Lot, MoneyBoard};
pub use basis::{BasisExitConfig, BasisPosition, EXIT_ID, ExitTrigger, MAX_BASIS};
pub use config::{StateConfig, StateConfigError};
pub use drift::{Account, DriftBoard, DriftLine};
pub use flatten::FLATTEN_ID;
pub use foreign::{ForeignSnapshot, ForeignStats};
pub use ledger::{Applied, Delta, Positions};
pub use quality::{QualitySnapshot, QualityStats};
pub use stats::{AWAITING_LISTED, OPEN_LISTED, StateSnapshot, StateStats};

use crate::journal::{JournalWriter, Record, Replay};
use crate::msg::{
    Alert, AlertKind, BookTop, ClientOrderId, Command, Execution, OpOutcome, OrderEvent, OrderUpdate,
    RejectReason, RiskUpdate, StateControl, StateInput,
};
use crate::runtime::{Control, Held, Rx, Stage, Tx};
use crate::types::{Amount, AssetId, Instrument, InstrumentId, Instruments, Qty, Side, Venue};
use crate::units::{DAY_MS, ms_to_ns, now_ns, trading_day};
use operations::{Op, Purpose};
use recovery::{Plan, Planner};
use valuation::Valuation;

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

const OUTBOX: usize = 4096;
/// A basis exit that did not become an operation (the gate refused it, or it was lost)
/// is sent again after this long.
const EXIT_RETRY_MS: u64 = 10_000;
/// The risk gate answers an exit within microseconds: past this, a stop takes an exit
/// that did not become an operation as not coming, and flattens the asset's leftover.
const EXIT_ANSWERED_MS: u64 = 1_000;
/// Outbox room kept before new inputs are taken.
const ROOM: usize = 256;
const BATCH: usize = 64;

fn system_wall_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
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
    planner: Planner,
    /// The books and USD rates positions and plans are valued at.
    val: Valuation,
    /// Wallets, lots, realized P&L, fees and funding since the start.
    acct: accounting::Accounting,
    money: Option<Arc<MoneyBoard>>,
    /// Open basis positions and when each exit was sent.
    basis: [basis::BasisPosition; basis::MAX_BASIS],
    exit_sent_ns: [u64; basis::MAX_BASIS],
    /// Per venue: since when funding has been paid rather than received (0: it is not).
    adverse_since_ns: [u64; Venue::COUNT],
    /// Per asset: when a flatten was last asked for (0: none pending).
    flatten_sent_ns: Vec<u64>,
    /// Every wallet's balance at its venue against the engine's books.
    drift: drift::Reconciler,
    ops: Vec<Op>,
    positions: Positions,
    halt_refs: Vec<u16>,
    balances: Vec<Amount>,
    realized: Amount,
    /// The day's total (realized less fees plus funding) the daily-loss limit reads, the
    /// trading day it counts (rolling at `roll_hour` UTC), and what the journal showed at
    /// start: the last total journaled with its wall time, and (older journals) the
    /// realized P&L per UTC day.
    daily: Amount,
    day: u64,
    roll_hour: u8,
    journaled_daily: Option<(Amount, u64)>,
    journaled_by_day: std::collections::BTreeMap<u64, Amount>,
    /// Commands and risk updates their rings refused: retried, never dropped.
    commands: Held<Command>,
    risk: Held<RiskUpdate>,
    killed: bool,
    /// An orderly stop has begun ([`StateControl::Drain`]): no basis exits.
    draining: bool,
    /// The kill switch the journal showed on at start, reported once trading starts.
    restored_kill: Option<crate::journal::KillSwitch>,
    journal_broken: bool,
    journal_dirty: bool,
    pending_reconcile: u32,
    next_tick_ns: u64,
    next_mark_ns: u64,
    next_reconcile_ns: u64,
    started: bool,
    outcomes: Option<Tx<OpOutcome>>,
    board: Option<Arc<crate::cells::PositionBoard>>,
    /// Foreign activity for the cold side.
    foreign_out: Option<Tx<crate::msg::Foreign>>,
    /// The risk gate's breaker changes, journaled here.
    breaker_log: Option<Rx<crate::journal::BreakerRecord>>,
}

impl fmt::Debug for StateKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKeeper").field("killed", &self.killed).finish_non_exhaustive()
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
        // Sized by the table's capacity: an instrument added while running has its slots.
        let n = instruments.capacity();
        // Per asset by the asset capacity, per (venue, asset) strided by it: an asset
        // added while running has its slots.
        let assets = instruments.asset_capacity();
        let wall_ms: fn() -> u64 = system_wall_ms;
        let val = Valuation::new(instruments.clone(), &config.usd_assets, config.max_data_age_ms);
        let acct = accounting::Accounting::new(&instruments, val.usd_flags());
        let drift = drift::Reconciler::new(&instruments);
        let mut s = Self {
            rings,
            journal,
            runtime,
            wall_ms,
            val,
            acct,
            money: None,
            basis: [basis::BasisPosition::default(); basis::MAX_BASIS],
            exit_sent_ns: [0; basis::MAX_BASIS],
            adverse_since_ns: [0; Venue::COUNT],
            flatten_sent_ns: vec![0; assets],
            drift,
            instruments,
            cfg: config.clone(),
            planner: Planner {
                max_slippage: config.max_slippage_bps.rate(),
                unwind_slippage: config.unwind_slippage_bps.rate(),
                max_notional: Amount(i128::MAX),
            },
            ops: vec![Op::blank(); config.max_ops],
            positions: Positions::new(n),
            halt_refs: vec![0; n],
            balances: vec![Amount::ZERO; Venue::COUNT * assets],
            realized: Amount::ZERO,
            daily: Amount::ZERO,
            day: trading_day(wall_ms(), 0),
            roll_hour: 0,
            journaled_daily: None,
            journaled_by_day: std::collections::BTreeMap::new(),
            commands: Held::new(OUTBOX),
            risk: Held::new(OUTBOX),
            killed: false,
            draining: false,
            restored_kill: None,
            journal_broken: false,
            journal_dirty: false,
            pending_reconcile: 0,
            next_tick_ns: 0,
            next_mark_ns: 0,
            next_reconcile_ns: 0,
            started: false,
            outcomes: None,
            board: None,
            foreign_out: None,
            breaker_log: None,
            stats,
            clock,
        };
        if let Some(r) = replay {
            let charged = restore::fees_charged(r, &s.instruments);
            let back = restore::restore(r, &charged, &mut s.positions, &mut s.halt_refs, &mut s.ops);
            let by_op = s.acct.replay(&s.instruments, &r.fills, &r.funding);
            // An operation open across the restart closes with the P&L and fees of all its
            // fills, those before the restart included.
            for op in s.ops.iter_mut().filter(|o| o.used && !o.closed) {
                let m = by_op.get(&op.exec.op()).copied().unwrap_or_default();
                (op.realized, op.fees) = (m.realized, m.fees);
            }
            let now = now_ns(&s.clock);
            restore::restore_basis(r, &s.instruments, &charged, &mut s.basis, now, (s.wall_ms)());
            for (k, p) in s.basis.iter().enumerate() {
                if p.exiting {
                    s.exit_sent_ns[k] = now;
                }
            }
            s.realized = back.realized;
            s.stats.realized_pnl.set(s.realized);
            // The day's loss so far counts on: a restart (a crash loop) gets no fresh budget.
            s.journaled_daily = r.daily_total;
            s.journaled_by_day.clone_from(&r.realized_by_day);
            s.restore_daily();
            s.stats.op_table_full.add(back.lost);
            // A drift halt stays on until an operator acknowledges it.
            s.drift.halted = r.drift_halted;
            s.stats.drift_halted.set(r.drift_halted.iter().filter(|h| **h).count() as i64);
            // A kill switch stays on across restarts until an operator lifts it.
            if let Some(k) = r.kill_switch {
                s.killed = true;
                s.restored_kill = Some(k);
                s.stats.killed.set(1);
            }
        }
        Ok(s)
    }

    /// Reports every finished operation on `tx` (a dropping link: the cold side reads it
    /// for reports; a full ring loses an outcome, never the operation).
    pub fn with_outcomes(mut self, tx: Tx<OpOutcome>) -> Self {
        self.outcomes = Some(tx);
        self
    }

    /// Reports every foreign order and fill on `tx` (a dropping link for the cold side).
    pub fn with_foreign(mut self, tx: Tx<crate::msg::Foreign>) -> Self {
        self.foreign_out = Some(tx);
        self
    }

    /// Journals the circuit breakers the risk gate sends on `rx` after each change, so
    /// that they survive a restart (the wiring hands the last record back to the gate).
    pub fn with_breaker_log(mut self, rx: Rx<crate::journal::BreakerRecord>) -> Self {
        self.breaker_log = Some(rx);
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

    /// Publishes the money figures (wallet changes, fees, P&L, funding) on `board`.
    pub fn with_money(mut self, board: Arc<MoneyBoard>) -> Self {
        board.publish_all(&self.acct, &self.instruments);
        self.money = Some(board);
        self
    }

    /// Wallets, lots, realized P&L, fees and funding since the start.
    pub fn accounting(&self) -> &accounting::Accounting {
        &self.acct
    }

    /// Bounds every recovery order's USD notional at its limit by the entries' limit
    /// (`detect.max_notional_usd`).
    pub fn with_recovery_notional_limit(mut self, max_usd: Amount) -> Self {
        self.planner.max_notional = max_usd;
        self
    }

    /// Replaces the wall clock used for the day boundary of the daily P&L (tests).
    pub fn with_wall_clock(mut self, wall_ms: fn() -> u64) -> Self {
        self.wall_ms = wall_ms;
        self.restore_daily();
        self
    }

    /// Rolls the daily-loss day at `hour` o'clock UTC (`risk.day_roll_utc_hour`).
    pub fn with_day_roll_hour(mut self, hour: u8) -> Self {
        self.roll_hour = hour.min(23);
        self.restore_daily();
        self
    }

    /// The day's total as the journal left it, if it is still that trading day: a
    /// restart within the day goes on from it. A journal from before the total was
    /// journaled gives the realized P&L of the operations that finished this UTC day.
    fn restore_daily(&mut self) {
        let wall = (self.wall_ms)();
        self.day = trading_day(wall, self.roll_hour);
        self.daily = match self.journaled_daily {
            Some((total, at)) if trading_day(at, self.roll_hour) == self.day => total,
            Some(_) => Amount::ZERO,
            None => self.journaled_by_day.get(&(wall / DAY_MS)).copied().unwrap_or(Amount::ZERO),
        };
        self.stats.daily_pnl.set(self.daily);
    }

    /// The day's total: realized less fees plus funding since the day rolled.
    pub fn daily_pnl(&self) -> Amount {
        self.daily
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
        let assets = self.instruments.asset_capacity();
        if asset.index() >= assets {
            return Amount::ZERO;
        }
        self.balances[venue.index() * assets + asset.index()]
    }

    /// The phase of operation `op`, if it is in the table.
    pub fn phase(&self, op: u64) -> Option<OpPhase> {
        self.ops.iter().find(|o| o.used && o.exec.op() == op).map(|o| o.phase)
    }

    /// The state of an order, if its operation is in the table.
    pub fn order_state(&self, client: ClientOrderId) -> Option<OrderState> {
        let op = self.ops.iter().find(|o| o.used && o.exec.op() == client.op)?;
        op.find(client).map(|k| op.orders[k].state)
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
        self.kill(false);
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

    /// Kill switch: cancel everything, stop trading, recover no further. Journaled, so a
    /// restart finds it on; only an operator lifts it ([`StateControl::Resume`]).
    fn kill(&mut self, operator: bool) {
        if self.killed {
            return;
        }
        self.killed = true;
        self.stats.killed.set(1);
        self.journal(Record::KillSwitch { on: true, operator, wall_ms: (self.wall_ms)() });
        self.send(Command::CancelAll);
        self.tell_risk(RiskUpdate::Halt);
        self.alert(AlertKind::Halted, 0, 0);
    }

    /// An operator lifts the kill switch: journaled, recovery may send orders again. A
    /// broken journal keeps it on (nothing could be journaled), and so does a runtime
    /// halt that remains (the next tick throws it again).
    fn resume(&mut self) {
        if !self.killed || self.journal_broken {
            return;
        }
        self.killed = false;
        self.restored_kill = None;
        self.stats.killed.set(0);
        self.journal(Record::KillSwitch { on: false, operator: true, wall_ms: (self.wall_ms)() });
    }

    fn find_op(&self, op: u64) -> Option<usize> {
        operations::find(&self.ops, op)
    }

    fn publish_position(&mut self, inst: InstrumentId) {
        if let Some(b) = &self.board {
            b.set(inst, self.positions.qty[inst.index()]);
        }
        let i = self.instruments.get(inst);
        let u = RiskUpdate::Position {
            inst,
            qty: self.positions.qty[inst.index()],
            exposure: self.val.exposure(i, &self.positions, self.acct.base_fees(i)),
            quote_exposure: self.val.quote_exposure(i, &self.positions, self.acct.quote_fees(i)),
        };
        self.tell_risk(u);
    }

    // ---- Inputs ----

    fn on_input(&mut self, input: StateInput, now: u64) {
        match input {
            StateInput::Executing(e) => self.on_executing(e, now),
            StateInput::Order(e) => self.on_order(e),
            StateInput::Foreign(f) => self.on_foreign(f),
            StateInput::FuturesWallet(w) => self.on_futures_wallet(w),
            StateInput::FuturesPosition(p) => self.drift_contracts_report(p.inst, p.contracts),
            StateInput::Balance(b) => {
                if let Some(m) = &self.money {
                    m.report_spot(&self.acct, b.venue, b.asset, b.available.saturating_add(b.locked));
                }
                self.drift_spot_report(b.venue, b.asset, b.available.saturating_add(b.locked));
                let assets = self.instruments.asset_capacity();
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

    /// A futures wallet report: funding the venue booked counts as money earned or paid
    /// (the daily-loss total reads it) the moment the venue books it.
    fn on_futures_wallet(&mut self, w: crate::msg::FuturesWalletEvent) {
        if !w.funding.is_zero() {
            let since = &mut self.adverse_since_ns[w.venue.index()];
            if w.funding.0 < 0 {
                if *since == 0 {
                    *since = now_ns(&self.clock).max(1);
                }
            } else {
                *since = 0;
            }
            let wall = (self.wall_ms)();
            self.journal(Record::Funding { venue: w.venue, amount: w.funding, wall_ms: wall });
            self.acct.apply_funding(w.venue, w.funding);
            self.stats.funding_payments.inc();
            self.roll_day(wall);
            self.daily = self.daily.saturating_add(w.funding);
            self.journal(Record::DailyTotal { total: self.daily, wall_ms: wall });
            self.stats.daily_pnl.set(self.daily);
            self.tell_risk(RiskUpdate::DailyPnl { realized: self.daily });
        }
        if let Some(b) = w.balance {
            self.drift_futures_report(w.venue, b);
        }
        if let Some(available) = w.available {
            self.tell_risk(RiskUpdate::FuturesMargin { venue: w.venue, available });
        }
        if let Some(m) = &self.money {
            if let Some(b) = w.balance {
                m.report_futures(&self.acct, w.venue, b);
            }
            m.publish_totals(&self.acct, w.venue);
        }
    }

    fn on_executing(&mut self, e: Execution, now: u64) {
        if self.find_op(e.op()).is_some() {
            return;
        }
        let Some(k) = operations::free_slot(&self.ops) else {
            // Untracked orders are a risk nobody watches: stop trading.
            self.stats.op_table_full.inc();
            self.kill(false);
            return;
        };
        self.journal(Record::OpStarted(e));
        self.stats.ops_started[e.opp().kind.index()].inc();
        self.ops[k].begin(e, now);
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
                self.apply_fill(None, e.client, inst, e.side, &d, e.ts_ns);
            }
            return;
        };
        if e.update == OrderUpdate::Rejected(RejectReason::Journal) {
            self.journal_failed();
        }
        // Acknowledgement latency, once per order.
        if let Some(ns) = self.ops[k].orders[j].acknowledge(&e.update, e.ts_ns) {
            self.tell_risk(RiskUpdate::OrderLatency { venue: inst.venue, ns });
        }
        let slot = self.ops[k].orders[j];
        let mut applied = slot.applied;
        match ledger::delta(inst, &applied, &e.update) {
            Some(d) => {
                self.apply_fill(Some(k), e.client, inst, slot.side, &d, e.ts_ns);
                applied.filled = Qty(applied.filled.0.saturating_add(d.qty.0));
                applied.value = applied.value.saturating_add(d.value);
                applied.fee = applied.fee.saturating_add(d.fee);
                applied.fee_native = applied.fee_native.saturating_add(d.fee_native);
                if d.fee_asset == inst.base {
                    applied.fee_base = applied.fee_base.saturating_add(d.fee_native);
                }
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
        if self.ops[k].record(j, &e.update, applied) {
            self.stats.unknown_orders.inc();
            self.alert(AlertKind::UnknownOrder, e.client.op, i64::from(e.client.leg));
        }
    }

    fn apply_fill(
        &mut self,
        k: Option<usize>,
        client: ClientOrderId,
        inst: &Instrument,
        side: Side,
        d: &Delta,
        ts_ns: u64,
    ) {
        let op = k.map(|k| &self.ops[k]);
        let fill = accounting::FillInput {
            side,
            qty: d.qty,
            value: d.value,
            fee: d.fee_native,
            fee_asset: d.fee_asset,
            quote_usd: self.val.usd_rate_for(op, inst.quote).unwrap_or(Amount::ZERO),
            other_fee_usd: self.val.usd_rate_for(op, d.fee_asset).unwrap_or(Amount::ZERO),
        };
        self.journal(Record::FillApplied(ledger::record(client, inst.id, side, d, &fill, ts_ns)));
        self.positions.apply(inst.id, side, d.qty, d.value, d.fee);
        let m = self.acct.apply(inst, &fill);
        if let Some(k) = k {
            self.ops[k].realized = self.ops[k].realized.saturating_add(m.realized);
            self.ops[k].fees = self.ops[k].fees.saturating_add(m.fees);
        }
        if let Some(b) = &self.money {
            b.publish_fill(&self.acct, inst, d.fee_asset);
        }
        self.stats.fills_applied.inc();
        if d.unvalued_fee {
            self.stats.unvalued_fees.inc();
        }
        self.publish_position(inst.id);
    }

    fn on_control(&mut self, c: StateControl, now: u64) {
        match c {
            StateControl::KillSwitch => self.kill(true),
            StateControl::Resume => self.resume(),
            StateControl::AckDrift { venue } => self.ack_drift(venue),
            StateControl::Drain => self.draining = true,
            StateControl::Listed { inst, added } => {
                // The table's slots (instruments and assets) were sized at start: what is
                // derived per asset is derived again for a new asset or pair (USD flags,
                // the book that marks an asset, a venue's futures cash asset), and the
                // venue is asked for its balances, which now name the new asset. The
                // record lets a restart keep the id and know whether to trade it.
                self.journal(Record::InstrumentListed { inst, added, wall_ms: (self.wall_ms)() });
                if added {
                    self.val.on_listed();
                    self.acct.set_usd(self.val.usd_flags());
                    self.drift.on_listed(&self.instruments);
                    if let Some(i) = self.instruments.try_get(inst) {
                        self.send(Command::QueryBalances { venue: i.venue });
                    }
                }
            }
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
                        // The operator takes the position as it is: nothing is left to
                        // approve, so its instruments trade again.
                        self.unhalt(k);
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
            let op = self.ops[k].exec.op();
            self.journal(Record::OpPhase { op, phase, ts_ns: now });
        }
    }

    fn halt(&mut self, k: usize, now: u64) {
        if self.ops[k].halted {
            return;
        }
        self.ops[k].halted = true;
        let legs = *self.ops[k].exec.opp();
        for leg in legs.legs() {
            let Some(h) = self.halt_refs.get_mut(leg.inst.index()) else { continue };
            *h = h.saturating_add(1);
            if *h == 1 {
                self.journal(Record::InstrumentHalt { inst: leg.inst, halted: true, ts_ns: now });
                // A venue halted for a drift has told the gate already.
                if !self.drift.halted[self.instruments.get(leg.inst).venue.index()] {
                    self.tell_risk(RiskUpdate::InstrumentHalt { inst: leg.inst, halted: true });
                }
                self.alert(AlertKind::InstrumentHalted, self.ops[k].exec.op(), i64::from(leg.inst.0));
            }
        }
    }

    fn unhalt(&mut self, k: usize) {
        if !self.ops[k].halted {
            return;
        }
        self.ops[k].halted = false;
        let now = now_ns(&self.clock);
        let legs = *self.ops[k].exec.opp();
        for leg in legs.legs() {
            let Some(h) = self.halt_refs.get_mut(leg.inst.index()) else { continue };
            if *h > 0 {
                *h -= 1;
                if *h == 0 {
                    self.journal(Record::InstrumentHalt { inst: leg.inst, halted: false, ts_ns: now });
                    // A venue halted for a drift stays halted until acknowledged.
                    if !self.drift.halted[self.instruments.get(leg.inst).venue.index()] {
                        self.tell_risk(RiskUpdate::InstrumentHalt { inst: leg.inst, halted: false });
                    }
                }
            }
        }
    }

    /// The basis positions open now.
    pub fn basis_positions(&self) -> impl Iterator<Item = &basis::BasisPosition> {
        self.basis.iter().filter(|p| p.used)
    }

    /// Keeps the position a completed basis entry left open, or releases the one an exit
    /// closed.
    fn basis_closed(&mut self, op: &Op, completed: bool, now: u64) {
        let orders = op.orders().iter().map(|o| basis::Filled {
            inst: o.inst,
            side: o.side,
            qty: o.applied.filled,
            fee_base: o.applied.fee_base,
        });
        if basis::on_close(&mut self.basis, &self.instruments, &op.exec, completed, orders, now) {
            self.stats.basis_exits.inc();
        }
    }

    /// Sends an exit for every basis position whose exit rule fires.
    /// While draining, only forgets exits that never became operations.
    fn check_basis_exits(&mut self, now: u64) {
        // An exit the gate refused, or lost on its way, is tried again after a while; a
        // stop tries none, and the exiting mark would keep the asset from flatten.
        let retry_ns = ms_to_ns(if self.draining { EXIT_ANSWERED_MS } else { EXIT_RETRY_MS });
        for k in 0..self.basis.len() {
            let p = self.basis[k];
            if !p.used {
                continue;
            }
            if p.exiting {
                if now.saturating_sub(self.exit_sent_ns[k]) > retry_ns
                    && !self
                        .ops
                        .iter()
                        .any(|o| o.used && !o.closed && o.exec.opp().id == basis::EXIT_ID + k as u64)
                {
                    self.basis[k].exiting = false;
                }
                continue;
            }
            if self.draining {
                continue;
            }
            let (si, pi) = (self.instruments.get(p.spot), self.instruments.get(p.perp));
            let (Some(st), Some(pt)) = (self.val.fresh_book(p.spot, now), self.val.fresh_book(p.perp, now))
            else {
                continue;
            };
            let px = |t: &BookTop, side: Side| match side {
                Side::Sell => t.best_bid().map(|l| l.price),
                Side::Buy => t.best_ask().map(|l| l.price),
            };
            let (ss, ps) =
                (basis::BasisPosition::exit_side(p.spot_qty), basis::BasisPosition::exit_side(p.perp_qty));
            let (Some(sp), Some(pp)) = (px(st, ss), px(pt, ps)) else { continue };
            let (sa, pa) = (si.price_amount(sp), pi.price_amount(pp));
            let b =
                if ss == Side::Sell { basis::exit_basis_bps(pa, sa) } else { basis::exit_basis_bps(sa, pa) };
            let adverse = self.adverse_since_ns[pi.venue.index()];
            let Some(_why) = basis::exit_due(&self.cfg.basis, &p, b, adverse, now) else { continue };
            // Limits: the best price moved by the unwind slippage, on the tick.
            let slip = self.cfg.unwind_slippage_bps.rate();
            let limit = |i: &Instrument, price, side| flatten::through(i, price, side, slip);
            let legs = basis::exit_legs(&p, limit(si, sp, ss), limit(pi, pp, ps));
            self.basis[k].exiting = true;
            self.exit_sent_ns[k] = now;
            self.tell_risk(RiskUpdate::BasisExit { legs, slot: k as u16 });
        }
    }

    /// Asks the risk gate to take each asset's leftover back to flat (`flatten`): one
    /// asset at a time, none while an operation or a basis exit trades the asset.
    fn flatten(&mut self, now: u64) {
        let mut pending = 0;
        let mut dust = Amount::ZERO;
        // The assets interned so far (the slots beyond are for assets added later).
        for a in 0..self.instruments.asset_count().min(self.flatten_sent_ns.len()) {
            let asset = AssetId(a as u16);
            if self.val.is_usd(asset) {
                continue;
            }
            let trades =
                |id: InstrumentId| self.instruments.try_get(id).is_some_and(|i| flatten::touches(i, asset));
            let busy = |o: &Op| o.used && !o.closed && o.legs().iter().any(|l| trades(l.inst));
            // An operation an operator must decide about holds the asset until then; one
            // still trading counts as a flatten to come (a stop waits for both).
            if self.ops.iter().any(|o| busy(o) && o.phase != OpPhase::AwaitingOperator)
                || self.basis.iter().any(|p| p.used && p.exiting && trades(p.spot))
            {
                pending += 1;
                continue;
            }
            if self.ops.iter().any(busy) {
                continue;
            }
            // What the engine's trading left of the asset: every venue's spot wallet and
            // every perpetual's contracts, in base units.
            let acct = &self.acct;
            let spot: Amount =
                Venue::ALL.iter().map(|&v| acct.wallet(v, asset)).fold(Amount::ZERO, Amount::saturating_add);
            let net = self
                .instruments
                .iter()
                .filter(|i| i.base == asset && i.market == crate::types::Market::Futures)
                .filter_map(|i| i.base_amount(acct.contracts(i)))
                .fold(spot, Amount::saturating_add);
            let val = &self.val;
            let candidates = || {
                self.instruments.iter().filter(|i| i.base == asset && val.is_usd(i.quote)).filter_map(|i| {
                    let top = val.fresh_book(i.id, now)?;
                    Some((
                        i,
                        acct.wallet(i.venue, asset),
                        top.best_bid().map(|l| l.price),
                        top.best_ask().map(|l| l.price),
                    ))
                })
            };
            let slip = self.cfg.unwind_slippage_bps.rate();
            let Some(leg) = flatten::order(net, candidates(), slip) else {
                // Below every venue's minimum order: left open, counted apart.
                if flatten::is_dust(net, candidates(), slip)
                    && let Some(v) =
                        val.usd_rate(asset).and_then(|r| net.abs().mul(r, crate::types::Rounding::Floor))
                {
                    dust = dust.saturating_add(v);
                }
                continue;
            };
            pending += 1;
            let sent = self.flatten_sent_ns[a];
            if sent != 0 && now.saturating_sub(sent) < ms_to_ns(flatten::RETRY_MS) {
                continue;
            }
            self.flatten_sent_ns[a] = now.max(1);
            self.stats.flattens.inc();
            self.tell_risk(RiskUpdate::Flatten { leg });
        }
        self.stats.flatten_pending.set(pending);
        self.stats.dust_usd.set(dust);
    }

    fn close(&mut self, k: usize, balanced: bool, now: u64) {
        let op = self.ops[k];
        let kind = op.exec.opp().kind.index();
        let outcome = op.outcome(balanced);
        // Closed quantity only, fees deducted: an entry whose legs stay open (a basis
        // position) books its fees and nothing else.
        let pnl = op.realized.saturating_sub(op.fees);
        let phase = if outcome.completed { OpPhase::Completed } else { OpPhase::Failed };
        self.basis_closed(&op, outcome.completed, now);
        if op.exec.opp().kind == crate::msg::OppKind::Flatten
            && let Some(i) = op.legs().first().and_then(|l| self.instruments.try_get(l.inst))
            && let Some(t) = self.flatten_sent_ns.get_mut(i.base.index())
        {
            *t = 0;
        }
        self.set_phase(k, phase, now);
        let wall = (self.wall_ms)();
        self.journal(Record::OpFinished {
            op: op.exec.op(),
            success: outcome.success,
            realized_pnl: pnl,
            wall_ms: wall,
            ts_ns: now,
        });
        self.ops[k].closed = true;
        if op.restored {
            self.ops[k].restored = false;
            self.unhalt(k);
        }
        if outcome.completed {
            self.stats.ops_completed[kind].inc();
        } else if outcome.missed {
            self.stats.ops_missed[kind].inc();
        } else {
            self.stats.ops_failed[kind].inc();
        }
        self.stats.quality.record(&self.ops[k], balanced, outcome.success, pnl, now);
        if op.needed_recovery && self.drift.enabled {
            // What recovery did is compared with the venues at once, not at the next
            // interval: the balances are asked for now.
            let mut asked = [false; Venue::COUNT];
            for leg in op.legs() {
                let v = self.instruments.get(leg.inst).venue;
                if !std::mem::replace(&mut asked[v.index()], true) {
                    self.send(Command::QueryBalances { venue: v });
                }
            }
        }
        self.realized = self.realized.saturating_add(pnl);
        self.roll_day(wall);
        self.daily = self.daily.saturating_add(pnl);
        self.journal(Record::DailyTotal { total: self.daily, wall_ms: wall });
        self.stats.realized_pnl.set(self.realized);
        self.stats.daily_pnl.set(self.daily);
        self.tell_risk(RiskUpdate::OperationDone {
            op: op.exec.op(),
            success: outcome.success,
            realized_pnl: pnl,
        });
        self.tell_risk(RiskUpdate::DailyPnl { realized: self.daily });
        if let Some(tx) = self.outcomes.as_mut() {
            let _ = tx.push(OpOutcome {
                op: op.exec.op(),
                opp_id: op.exec.opp().id,
                kind: op.exec.opp().kind,
                completed: outcome.completed,
                success: outcome.success,
                realized_pnl: pnl,
                trigger_ns: op.exec.opp().trigger_ns,
                approved_ns: op.exec.approved_ns(),
                finished_ns: now,
            });
        }
    }

    fn roll_day(&mut self, wall_ms: u64) {
        let day = trading_day(wall_ms, self.roll_hour);
        if day != self.day {
            self.day = day;
            self.daily = Amount::ZERO;
            self.stats.daily_pnl.set(self.daily);
            self.tell_risk(RiskUpdate::DailyPnl { realized: self.daily });
        }
    }

    // ---- Recovery ----

    fn give_up(&mut self, k: usize, now: u64) {
        // From here on only an operator lifts the halt.
        self.ops[k].restored = false;
        self.set_phase(k, OpPhase::AwaitingOperator, now);
        self.stats.escalations.inc();
        self.alert(AlertKind::RecoveryExhausted, self.ops[k].exec.op(), i64::from(self.ops[k].rounds));
        self.halt(k, now);
    }

    fn plan(&self, k: usize, unwind: bool, now: u64) -> Plan {
        self.planner.plan(&self.ops[k], &self.instruments, &self.val, unwind, now)
    }

    fn execute_plan(&mut self, k: usize, plan: &Plan, unwind: bool, now: u64) -> bool {
        let legs = &plan.legs[..plan.n];
        // Every order needs an attempt number and a slot, or none goes out.
        if !self.ops[k].has_room_for(legs.iter().map(|&(i, _)| i), plan.n) {
            return false;
        }
        if self.ops[k].entries_only() {
            self.stats.recoveries.inc();
        }
        self.ops[k].open_round(now);
        self.set_phase(k, OpPhase::Recovering, now);
        let purpose = if unwind { Purpose::Unwind } else { Purpose::Hedge };
        for &(i, leg) in legs {
            let client = self.ops[k].add_order(i, leg, purpose, now);
            if unwind {
                self.stats.unwind_orders.inc();
            } else {
                self.stats.hedge_orders.inc();
            }
            self.send(Command::Send { client, leg });
        }
        true
    }

    /// Journals and alerts every order of `plan` its operation's bounds clamped.
    fn journal_clamps(&mut self, k: usize, plan: &Plan, now: u64) {
        for &(leg, wanted, allowed) in &plan.clamped[..plan.n_clamped] {
            let op = self.ops[k].exec.op();
            let inst = self.ops[k].legs()[leg as usize].inst;
            self.journal(Record::RecoveryRefused {
                op,
                leg,
                inst,
                wanted,
                allowed,
                why: recovery::BEYOND_OPERATION,
                ts_ns: now,
            });
            self.stats.recovery_clamped.inc();
            self.alert(AlertKind::RecoveryBounded, op, i64::from(leg));
        }
    }

    /// Timeouts, queries, the deadline, and the recovery decision for one operation.
    fn evaluate(&mut self, k: usize, now: u64) {
        let op = self.ops[k].exec;
        if !self.ops[k].is_open() {
            return;
        }
        let ack = ms_to_ns(self.cfg.ack_timeout_ms);
        let every = ms_to_ns(self.cfg.query_interval_ms);
        let past_deadline = op.deadline_ns() > 0 && now > op.deadline_ns();
        let mut settled = true;
        for j in 0..self.ops[k].n_orders {
            let o = self.ops[k].orders[j];
            if o.is_silent(now, ack, op.deadline_ns()) {
                self.stats.unknown_orders.inc();
                self.ops[k].orders[j].state = OrderState::Unknown;
                self.alert(AlertKind::UnknownOrder, o.client.op, i64::from(o.client.leg));
            }
            let o = self.ops[k].orders[j];
            if o.is_query_due(now, every) {
                self.ops[k].orders[j].last_query_ns = now.max(1);
                self.stats.queries.inc();
                self.send(Command::Query { client: o.client, inst: o.inst });
            }
            if o.is_cancel_due(past_deadline) {
                self.ops[k].orders[j].cancel_sent = true;
                self.send(Command::Cancel { client: o.client, inst: o.inst });
            }
            settled &= o.is_settled();
        }
        if past_deadline
            && !self.ops[k].deadline_alerted
            && self.ops[k].phase != OpPhase::Completed
            && self.ops[k].is_naked(settled)
        {
            self.ops[k].deadline_alerted = true;
            self.stats.deadlines_missed.inc();
            self.alert(AlertKind::DeadlineMissed, self.ops[k].exec.op(), 0);
        }
        if !settled || self.ops[k].phase == OpPhase::AwaitingOperator {
            return;
        }
        let complete = self.plan(k, false, now);
        let unwind = self.plan(k, true, now);
        if !unwind.unpriced {
            self.ops[k].priced_ns = now;
        }
        if complete.needed == 0 || unwind.needed == 0 {
            // Matched within a lot (or nothing traded): the operation is over.
            self.close(k, true, now);
            return;
        }
        self.ops[k].needed_recovery = true;
        self.ops[k].judge_round();
        if self.killed || self.ops[k].rounds >= self.cfg.max_recovery_attempts {
            self.give_up(k, now);
            return;
        }
        if now < self.ops[k].next_round_ns(self.cfg.recovery_backoff_ms) {
            self.set_phase(k, OpPhase::Recovering, now);
            return;
        }
        match recovery::choose(&complete, &unwind, past_deadline) {
            Some(u) => {
                let plan = if u { unwind } else { complete };
                self.journal_clamps(k, &plan, now);
                if !self.execute_plan(k, &plan, u, now) {
                    self.give_up(k, now);
                }
            }
            None if (complete.over_limit.is_some() || unwind.over_limit.is_some())
                && !complete.unpriced
                && !unwind.unpriced =>
            {
                // Every plan left is beyond the notional limit: refused, for an operator.
                for p in [&complete, &unwind] {
                    if let Some((leg, q)) = p.over_limit {
                        let inst = self.ops[k].legs()[leg as usize].inst;
                        self.journal(Record::RecoveryRefused {
                            op: self.ops[k].exec.op(),
                            leg,
                            inst,
                            wanted: q,
                            allowed: Qty::ZERO,
                            why: recovery::OVER_NOTIONAL,
                            ts_ns: now,
                        });
                        self.stats.recovery_refused.inc();
                        self.alert(AlertKind::RecoveryBounded, self.ops[k].exec.op(), i64::from(leg));
                    }
                }
                self.give_up(k, now);
            }
            None if past_deadline
                && !(unwind.unpriced && now < self.ops[k].unpriced_until(self.cfg.max_unpriced_wait_ms)) =>
            {
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
            self.kill(false);
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
        let mut reserved = 0i64;
        let mut pending = 0u32;
        let (mut listed, mut open_listed) = (0, 0);
        for op in self.ops.iter().filter(|o| o.used && !o.closed) {
            if let Some(g) = self.stats.open_ids.get(open_listed) {
                g.set(i64::try_from(op.exec.op()).unwrap_or(i64::MAX - 1) + 1);
                open_listed += 1;
            }
            reserved += i64::from(!op.resumed);
            match op.phase {
                OpPhase::Executing => open[0] += 1,
                OpPhase::Recovering => open[1] += 1,
                OpPhase::AwaitingOperator => {
                    open[2] += 1;
                    if let Some(g) = self.stats.awaiting_ids.get(listed) {
                        g.set(i64::try_from(op.exec.op()).unwrap_or(i64::MAX - 1) + 1);
                        listed += 1;
                    }
                }
                _ => {}
            }
            pending += op.orders().iter().filter(|o| o.needs_query()).count() as u32;
        }
        for g in self.stats.awaiting_ids[listed..].iter().chain(&self.stats.open_ids[open_listed..]) {
            g.set(0);
        }
        self.stats.open_executing.set(open[0]);
        self.stats.open_recovering.set(open[1]);
        self.stats.open_awaiting_operator.set(open[2]);
        self.stats.open_reserved.set(reserved);
        if pending != self.pending_reconcile {
            self.pending_reconcile = pending;
            self.stats.pending_reconcile.set(i64::from(pending));
            self.tell_risk(RiskUpdate::Reconciling { pending });
        }
        if now >= self.next_mark_ns {
            self.next_mark_ns = now.saturating_add(ms_to_ns(self.cfg.mark_interval_ms));
            self.mark();
            if !self.killed {
                self.check_basis_exits(now);
            }
            if !self.killed && self.cfg.flatten {
                self.flatten(now);
            } else {
                self.stats.flatten_pending.set(0);
            }
        }
        if now >= self.next_reconcile_ns {
            self.next_reconcile_ns = now.saturating_add(ms_to_ns(self.cfg.reconcile_interval_ms));
            // The balances reported since the last check, against the books; then fresh
            // reports for the next.
            self.check_drift();
            for v in Venue::ALL {
                if self.instruments.iter().any(|i| i.venue == v) {
                    self.send(Command::QueryBalances { venue: v });
                }
            }
        }
    }

    /// Marks every position to its book: exposure to risk, unrealized P&L to the stats.
    fn mark(&mut self) {
        for k in 0..self.instruments.len() {
            let held = !self.positions.qty[k].is_zero()
                || !self.acct.base_fees(self.instruments.get(InstrumentId(k as u16))).is_zero();
            if held && self.risk.room() > ROOM {
                self.publish_position(InstrumentId(k as u16));
            }
        }
        let unrealized = self.unrealized();
        self.stats.unrealized_pnl.set(unrealized);
        if let Some(b) = &self.money {
            b.publish_marks(&self.acct, unrealized);
        }
    }

    /// Every open lot at its executable price (bid for longs, ask for shorts), less its
    /// cost.
    fn unrealized(&self) -> Amount {
        let val = &self.val;
        self.acct.unrealized(
            &self.instruments,
            |a, long| val.exec_usd(a, long),
            |i, long| val.exec_price(i, long),
        )
    }

    fn start(&mut self, now: u64) {
        self.started = true;
        if let Some(k) = self.restored_kill {
            // Still on from before the restart: nothing trades, nothing is left open.
            self.send(Command::CancelAll);
            self.tell_risk(RiskUpdate::Halt);
            let why =
                if k.operator { crate::msg::HALT_RESTORED_OPERATOR } else { crate::msg::HALT_RESTORED_FAULT };
            self.alert(AlertKind::Halted, 0, why);
        }
        if !self.daily.is_zero() {
            self.tell_risk(RiskUpdate::DailyPnl { realized: self.daily });
        }
        for k in 0..self.instruments.len() {
            let id = InstrumentId(k as u16);
            if !self.positions.qty[k].is_zero() {
                self.publish_position(id);
            }
            if self.halt_refs[k] > 0 {
                self.tell_risk(RiskUpdate::InstrumentHalt { inst: id, halted: true });
            }
        }
        // A drift halt journaled before the restart: its venue stays out of new entries.
        for v in Venue::ALL {
            if self.drift.halted[v.index()] {
                self.tell_venue_halt(v, true);
                self.alert(AlertKind::DriftHalted, 0, -1 - v.index() as i64);
            }
        }
        // Operations restored open keep their instruments out of new operations until
        // they close. Their wait for a fresh book to price an unwind runs from now: the
        // books of the run before are gone, and the new ones need time to sync.
        for k in 0..self.ops.len() {
            if self.ops[k].used && !self.ops[k].closed && self.ops[k].restored {
                self.ops[k].priced_ns = now;
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
        let val = &mut self.val;
        if self.rings.books.take_overflow() {
            // A dropped update may have been an unsynced notice.
            val.invalidate_all();
        }
        let mut work = self.rings.books.drain(256, |top| val.on_top(&top));
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
        while let Some(b) = self.breaker_log.as_mut().and_then(Rx::pop) {
            self.journal(Record::Breakers(b));
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
        // What the operator asked before the stop and the journal keeps (an instrument
        // listed or removed, the kill switch, a drift acknowledged) is journaled now; a
        // decision about an operation waits for the next start, which has it as it was.
        let now = now_ns(&self.clock);
        while let Some(c) = self.rings.control.pop() {
            if matches!(
                c,
                StateControl::Listed { .. }
                    | StateControl::KillSwitch
                    | StateControl::Resume
                    | StateControl::AckDrift { .. }
            ) {
                self.on_control(c, now);
            }
        }
        let _ = self.journal.sync();
        self.commands.flush(&mut self.rings.commands);
        self.risk.flush(&mut self.rings.risk);
    }
}
