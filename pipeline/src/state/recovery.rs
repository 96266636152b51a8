//! Recovery: what the state stage decides once an operation's orders have all settled
//! and its legs are not matched. Two plans are priced from the current books: *complete*
//! sends each lagging leg's missing quantity at a limit within `max_slippage_bps` of the
//! leg's planned price; *unwind* reverses each leg's excess over the least-filled leg at
//! the current best price moved by `unwind_slippage_bps`. Each plan is priced by walking
//! the current book up to its limits; its cost is what it takes from the operation's P&L
//! (both close the same naked exposure, so completing keeps the edge while the book still
//! pays, unwinding wins when it does not). Before the deadline the cheaper feasible plan
//! goes out (a plan is infeasible when a book is missing or stale, the hedge price is
//! beyond the slippage bound, or the venue refused the lagging leg on its merits, as for
//! insufficient balance); after the deadline only unwinding, waiting at most
//! `max_unpriced_wait_ms` for a fresh book to price it, counted from the deadline or
//! from the last time the unwind could be priced, whichever is later (feeds that keep
//! reconnecting leave a recovery books most of the time, and it goes on).
//!
//! Quantities below an instrument's minimum are dust and left alone. A round whose
//! orders the venue never saw (rate limited, order connection down), or that filled
//! part of the gap, is not counted against `max_recovery_attempts`: only futile rounds
//! are. After a round the venue never saw, the next one backs off exponentially from
//! `recovery_backoff_ms`: hammering a rate limiter only extends the block. Orders with no
//! answer within `ack_timeout_ms` have an unknown outcome and are queried every
//! `query_interval_ms`; past the deadline, orders still open are cancelled. When the
//! attempts run out the stage halts the operation's instruments for an operator.
//!
//! Recovery is bounded like any order: a recovery order only reduces the exposure its own
//! operation created. A hedge never takes a leg past the leg's own quantity, an unwind
//! never past flat nor beyond the leg's quantity; a plan asking for more (an operation
//! credited with fills that were not its own) is clamped to the bound, and the stage
//! journals and alerts it. Every recovery order's USD notional (the book walked up to
//! its limit, as an entry is sized) must be within the entries' limit
//! (`detect.max_notional_usd`) plus [`NOTIONAL_HEADROOM_PCT`]: an entry sized to the
//! limit has legs above it by its edge (a triangle's last leg) and a recovery pays its
//! slippage on top. A plan beyond that (an operation the engine did not size) is
//! refused, and when no plan is left the operation waits for an operator (journaled,
//! alerted).

use super::operations::{Op, OrderSlot};
use super::valuation::{Flows, Valuation, walk_value};
use crate::journal::OrderState;
use crate::msg::{Leg, MAX_LEGS};
use crate::types::{Amount, Instruments, Price, Qty, Rate, Rounding, Side, div_round};
use crate::units::ms_to_ns;

/// [`crate::journal::Record::RecoveryRefused`]'s `why`: more than the operation's own
/// quantities (clamped).
pub(super) const BEYOND_OPERATION: u8 = 0;
/// ... beyond the notional limit (refused).
pub(super) const OVER_NOTIONAL: u8 = 1;

/// How far above the entries' notional limit a recovery order may go, in percent.
pub(super) const NOTIONAL_HEADROOM_PCT: i128 = 5;

/// A recovery plan: the orders it sends and what it is expected to cost, in USD (the
/// negative of the value it adds to the operation's P&L).
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub(super) legs: [(usize, Leg); MAX_LEGS],
    pub(super) n: usize,
    /// Legs that need an order (priced or not): zero means the legs are matched.
    pub(super) needed: usize,
    pub(super) cost: Amount,
    pub(super) feasible: bool,
    /// A leg that needs an order has no fresh book to price it.
    pub(super) unpriced: bool,
    /// Legs whose order the bounds clamped: (leg, what the plan wanted, what it sends).
    pub(super) clamped: [(u8, Qty, Qty); MAX_LEGS],
    pub(super) n_clamped: usize,
    /// A leg whose order would be beyond the notional limit: (leg, its quantity).
    pub(super) over_limit: Option<(u8, Qty)>,
}

impl Plan {
    pub(super) fn empty() -> Self {
        Self {
            legs: [(0, Leg::default()); MAX_LEGS],
            n: 0,
            needed: 0,
            cost: Amount::ZERO,
            feasible: true,
            unpriced: false,
            clamped: [(0, Qty::ZERO, Qty::ZERO); MAX_LEGS],
            n_clamped: 0,
            over_limit: None,
        }
    }
}

/// Prices recovery plans within the configured slippage bounds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Planner {
    /// A hedge completes at most this far beyond the leg's planned price.
    pub(super) max_slippage: Rate,
    /// An unwind's limit is the current best price moved this far.
    pub(super) unwind_slippage: Rate,
    /// The most one recovery order may be worth at its limit, in USD (the entries'
    /// limit).
    pub(super) max_notional: Amount,
}

impl Planner {
    /// The recovery plan that completes the hedge (`unwind == false`) or unwinds the
    /// excess (`unwind == true`).
    pub(super) fn plan(
        &self,
        op: &Op,
        instruments: &Instruments,
        val: &Valuation,
        unwind: bool,
        now: u64,
    ) -> Plan {
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
            let Some(inst) = instruments.try_get(leg.inst) else {
                plan.feasible = false;
                return plan;
            };
            let (net, target) = (op.net(i) as i128, leg.qty.0 as i128);
            let level = if unwind {
                div_round(target * rn, rt, Rounding::Ceil)
            } else {
                div_round(target * rn, rt, Rounding::Floor)
            };
            let amount = if unwind { net - level } else { level - net };
            let Ok(amount) = i64::try_from(amount) else {
                plan.feasible = false;
                return plan;
            };
            let mut q = inst.round_qty(Qty(amount.max(0)));
            // Only what this operation created: a hedge up to the leg's own quantity, an
            // unwind down to flat and never more than the leg's quantity.
            let bound = if unwind { net.min(target) } else { target - net };
            let bound = inst.round_qty(Qty(i64::try_from(bound.max(0)).unwrap_or(0)));
            if q > bound {
                plan.clamped[plan.n_clamped] = (i as u8, q, bound);
                plan.n_clamped += 1;
                q = bound;
            }
            if !q.is_positive() || q < inst.min_qty {
                continue;
            }
            let side = if unwind { leg.side.opposite() } else { leg.side };
            let best = val.fresh_book(leg.inst, now).and_then(|book| match side {
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
                i64::try_from(div_round(p.0 as i128 * f, unit, rounding)).ok().map(Price)
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
            let levels = match (val.fresh_book(leg.inst, now), side) {
                (Some(b), Side::Buy) => b.asks(),
                (Some(b), Side::Sell) => b.bids(),
                (None, _) => &[],
            };
            let Some(value) = walk_value(inst, levels, side, q, limit) else {
                plan.feasible = false;
                continue;
            };
            // The same notional limit as an entry, on what the order is expected to trade.
            let usd = val.usd_rate(inst.quote).and_then(|rate| value.mul(rate, Rounding::Ceil));
            match usd {
                None => {
                    // Its quote has no USD price yet: it waits for one, like a book.
                    plan.feasible = false;
                    plan.unpriced = true;
                    continue;
                }
                Some(v)
                    if v > self
                        .max_notional
                        .saturating_add(Amount(self.max_notional.0 / 100 * NOTIONAL_HEADROOM_PCT)) =>
                {
                    plan.feasible = false;
                    plan.over_limit = Some((i as u8, q));
                    continue;
                }
                Some(_) => {}
            }
            let fee = value.mul_rate(inst.taker_fee, Rounding::Ceil).unwrap_or(Amount::ZERO);
            flows.trade(inst, side, q, value, fee);
            plan.legs[plan.n] = (i, Leg { inst: leg.inst, side, price: limit, qty: q });
            plan.n += 1;
        }
        // The plan's cost is what it takes away from the operation's P&L: both plans close
        // the same naked exposure, so the better one leaves more.
        plan.cost = -val.value_flows(op, &flows);
        plan
    }
}

/// Which plan goes out: `Some(true)` to unwind, `Some(false)` to complete the hedge,
/// `None` when neither can (yet).
pub(super) fn choose(complete: &Plan, unwind: &Plan, past_deadline: bool) -> Option<bool> {
    if past_deadline {
        unwind.feasible.then_some(true)
    } else {
        match (complete.feasible, unwind.feasible) {
            (true, true) => Some(unwind.cost < complete.cost),
            (true, false) => Some(false),
            (false, true) => Some(true),
            (false, false) => None,
        }
    }
}

impl OrderSlot {
    /// No answer to the order within `ack_ns`, or (cancelled past the deadline) no final
    /// answer within `ack_ns` of the deadline: its outcome is unknown.
    pub(super) fn is_silent(&self, now: u64, ack_ns: u64, deadline_ns: u64) -> bool {
        (self.state == OrderState::Sent && now.saturating_sub(self.sent_ns) > ack_ns)
            || (self.cancel_sent
                && matches!(self.state, OrderState::Accepted | OrderState::PartiallyFilled)
                && now.saturating_sub(deadline_ns) > ack_ns)
    }

    /// The order is to be queried now (again every `every_ns`).
    pub(super) fn is_query_due(&self, now: u64, every_ns: u64) -> bool {
        self.needs_query() && (self.last_query_ns == 0 || now.saturating_sub(self.last_query_ns) >= every_ns)
    }

    /// Past the deadline, an order still open is cancelled (once).
    pub(super) fn is_cancel_due(&self, past_deadline: bool) -> bool {
        past_deadline
            && !self.cancel_sent
            && matches!(self.state, OrderState::Accepted | OrderState::PartiallyFilled)
    }
}

impl Op {
    /// A leg is naked: the legs are not matched, or an order has no known outcome yet.
    pub(super) fn is_naked(&self, settled: bool) -> bool {
        (0..self.legs().len()).any(|i| self.net(i) != self.net(0)) || !settled
    }

    /// Looks once at how the latest round went. Only a futile round counts against
    /// `max_recovery_attempts`: one refused entirely in passing (rate limited,
    /// connection down) never reached the venue, and one that filled anything closed
    /// part of the gap (each such round closes at least a lot, so they cannot go on
    /// for ever). Any refusal in passing backs the next round off.
    pub(super) fn judge_round(&mut self) {
        if self.round_judged {
            return;
        }
        self.round_judged = true;
        let round = &self.orders[self.round_start..self.n_orders];
        let progressed = round.iter().any(|o| !o.applied.filled.is_zero());
        let never_reached = round.iter().all(OrderSlot::refused_in_passing);
        if self.rounds > 0 && (progressed || never_reached) {
            self.rounds -= 1;
        }
        if round.iter().any(OrderSlot::refused_in_passing) {
            self.backoff = self.backoff.saturating_add(1);
        } else {
            self.backoff = 0;
        }
    }

    /// When the next recovery round may go out, backing off from `backoff_ms`.
    pub(super) fn next_round_ns(&self, backoff_ms: u64) -> u64 {
        if self.backoff == 0 {
            return 0;
        }
        let wait = ms_to_ns(backoff_ms) << (self.backoff - 1).min(5);
        self.round_ns.saturating_add(wait)
    }

    /// Past the deadline, until when an unwind without a fresh book to price it waits:
    /// `wait_ms` after the deadline or after it was last priced, whichever is later.
    pub(super) fn unpriced_until(&self, wait_ms: u64) -> u64 {
        self.exec.deadline_ns().max(self.priced_ns).saturating_add(ms_to_ns(wait_ms))
    }
}
