//! The state stage's counters and visible state, written by the stage and read by the
//! cold side, and the copy the report prints.

use std::fmt;

use crate::cells::{self, AmountCell, Counter, Gauge};
use crate::msg::OppKind;
use crate::types::Amount;

use super::foreign::{ForeignSnapshot, ForeignStats};
use super::quality::{QualitySnapshot, QualityStats};

/// Operations awaiting an operator listed by id in [`StateStats::awaiting_ids`].
pub const AWAITING_LISTED: usize = 16;
/// Open operations listed by id in [`StateStats::open_ids`].
pub const OPEN_LISTED: usize = 32;

/// The state stage's counters and visible state.
#[derive(Debug, Default)]
pub struct StateStats {
    pub ops_started: [Counter; OppKind::COUNT],
    pub ops_completed: [Counter; OppKind::COUNT],
    pub ops_failed: [Counter; OppKind::COUNT],
    /// Nothing filled on any leg (IOC missed the book): final, not a failure.
    pub ops_missed: [Counter; OppKind::COUNT],
    /// Operations that needed recovery.
    pub recoveries: Counter,
    pub hedge_orders: Counter,
    pub unwind_orders: Counter,
    pub deadlines_missed: Counter,
    pub escalations: Counter,
    pub unknown_orders: Counter,
    pub queries: Counter,
    pub fills_applied: Counter,
    pub duplicate_fills: Counter,
    pub late_fills: Counter,
    pub orphan_events: Counter,
    pub unvalued_fees: Counter,
    /// Funding payments the venues booked on the futures wallets.
    pub funding_payments: Counter,
    /// Basis positions closed by their exit rule.
    pub basis_exits: Counter,
    /// Flattens asked of the risk gate (`state::flatten`).
    pub flattens: Counter,
    pub journal_failures: Counter,
    pub alerts_dropped: Counter,
    pub op_table_full: Counter,
    /// Recovery orders clamped to their operation's own quantities.
    pub recovery_clamped: Counter,
    /// Recovery plans refused beyond the notional limit.
    pub recovery_refused: Counter,
    /// Checks that found a wallet's balance drifted beyond the tolerance.
    pub drift_mismatches: Counter,
    /// Venues whose new entries are halted for a drift.
    pub drift_halted: Gauge,
    /// Open operations by phase (executing, recovering, awaiting operator).
    pub open_executing: Gauge,
    pub open_recovering: Gauge,
    pub open_awaiting_operator: Gauge,
    /// Open operations the risk gate approved in this run (each holds a reservation
    /// there until it closes); those restored from the journal hold none.
    pub open_reserved: Gauge,
    /// The ids of the first [`AWAITING_LISTED`] operations awaiting an operator, each
    /// plus one (zero: none), for the operator's list (`arb ctl recoveries`).
    pub awaiting_ids: [Gauge; AWAITING_LISTED],
    /// The ids of the first [`OPEN_LISTED`] open operations, in any phase, each plus one.
    pub open_ids: [Gauge; OPEN_LISTED],
    pub pending_reconcile: Gauge,
    /// Assets whose leftover clears a venue's minimum order, waiting to be flattened.
    pub flatten_pending: Gauge,
    /// What the engine's trading left below every venue's minimum order, in USD (the
    /// flattener cannot trade it; it is part of the open exposure).
    pub dust_usd: AmountCell,
    pub killed: Gauge,
    pub realized_pnl: AmountCell,
    pub daily_pnl: AmountCell,
    pub unrealized_pnl: AmountCell,
    /// How finished operations went against their plans.
    pub quality: QualityStats,
    /// Orders and fills on the account this instance did not send.
    pub foreign: ForeignStats,
}

impl StateStats {
    pub fn snapshot(&self) -> StateSnapshot {
        StateSnapshot {
            ops_started: cells::read(&self.ops_started),
            ops_completed: cells::read(&self.ops_completed),
            ops_failed: cells::read(&self.ops_failed),
            ops_missed: cells::read(&self.ops_missed),
            recoveries: self.recoveries.get(),
            hedge_orders: self.hedge_orders.get(),
            unwind_orders: self.unwind_orders.get(),
            deadlines_missed: self.deadlines_missed.get(),
            escalations: self.escalations.get(),
            unknown_orders: self.unknown_orders.get(),
            queries: self.queries.get(),
            fills_applied: self.fills_applied.get(),
            duplicate_fills: self.duplicate_fills.get(),
            open: [self.open_executing.get(), self.open_recovering.get(), self.open_awaiting_operator.get()],
            open_reserved: self.open_reserved.get(),
            awaiting_operator: self
                .awaiting_ids
                .iter()
                .filter_map(|g| u64::try_from(g.get()).ok()?.checked_sub(1))
                .collect(),
            open_ops: self
                .open_ids
                .iter()
                .filter_map(|g| u64::try_from(g.get()).ok()?.checked_sub(1))
                .collect(),
            pending_reconcile: self.pending_reconcile.get(),
            flatten_pending: self.flatten_pending.get(),
            dust_usd: self.dust_usd.get(),
            killed: self.killed.get() != 0,
            realized_pnl: self.realized_pnl.get(),
            daily_pnl: self.daily_pnl.get(),
            unrealized_pnl: self.unrealized_pnl.get(),
            quality: self.quality.snapshot(),
            foreign: self.foreign.snapshot(),
        }
    }
}

/// A copy of [`StateStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateSnapshot {
    pub ops_started: [u64; OppKind::COUNT],
    pub ops_completed: [u64; OppKind::COUNT],
    pub ops_failed: [u64; OppKind::COUNT],
    pub ops_missed: [u64; OppKind::COUNT],
    pub recoveries: u64,
    pub hedge_orders: u64,
    pub unwind_orders: u64,
    pub deadlines_missed: u64,
    pub escalations: u64,
    pub unknown_orders: u64,
    pub queries: u64,
    pub fills_applied: u64,
    pub duplicate_fills: u64,
    /// Open operations: executing, recovering, awaiting an operator.
    pub open: [i64; 3],
    /// Of those, the ones holding a reservation in the risk gate.
    pub open_reserved: i64,
    /// Ids of operations awaiting an operator: every one while `open[2]` is at most
    /// [`AWAITING_LISTED`], the first ones past it.
    pub awaiting_operator: Vec<u64>,
    /// Ids of open operations in any phase: every one while there are at most
    /// [`OPEN_LISTED`], the first ones past it.
    pub open_ops: Vec<u64>,
    pub pending_reconcile: i64,
    /// Assets waiting to be flattened.
    pub flatten_pending: i64,
    /// Leftovers below every venue's minimum order, in USD.
    pub dust_usd: Amount,
    pub killed: bool,
    pub realized_pnl: Amount,
    pub daily_pnl: Amount,
    pub unrealized_pnl: Amount,
    pub quality: QualitySnapshot,
    pub foreign: ForeignSnapshot,
}

impl fmt::Display for StateSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "operations:")?;
        for k in OppKind::ALL {
            let i = k.index();
            writeln!(
                f,
                "  {:<11} started {:>6}  completed {:>6}  failed {:>6}  missed {:>6}",
                k.name(),
                self.ops_started[i],
                self.ops_completed[i],
                self.ops_failed[i],
                self.ops_missed[i]
            )?;
        }
        writeln!(
            f,
            "  recoveries {} ({} hedge orders, {} unwind orders), {} deadlines missed, {} escalated to an operator",
            self.recoveries, self.hedge_orders, self.unwind_orders, self.deadlines_missed, self.escalations
        )?;
        writeln!(
            f,
            "  open: {} executing, {} recovering, {} awaiting operator; {} orders to reconcile; {} unknown outcomes queried",
            self.open[0], self.open[1], self.open[2], self.pending_reconcile, self.unknown_orders
        )?;
        writeln!(f, "  {}", self.quality)?;
        writeln!(
            f,
            "  foreign activity on the account (not this engine's, never adopted): {} fills, {} orders",
            self.foreign.total_fills(),
            self.foreign.total_orders()
        )?;
        writeln!(
            f,
            "P&L of the operations: realized less fees {} USD (the trading day's total, funding \
             included: {} USD), unrealized {} USD{}",
            self.realized_pnl,
            self.daily_pnl,
            self.unrealized_pnl,
            if self.killed { "; KILL SWITCH ON" } else { "" }
        )
    }
}
