//! The per-operation state machine: an operation's legs and every order sent for it
//! (entries, then each recovery round), what each order's events do to it, and how the
//! operation ends.
//!
//! An operation is EXECUTING from its start, RECOVERING while hedge or unwind orders are
//! out (or waiting for a book to price them), AWAITING_OPERATOR once recovery gave up,
//! and finally COMPLETED or FAILED ([`OpPhase`]); each of its orders is SENT, ACCEPTED,
//! PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED or UNKNOWN ([`OrderState`]). The state
//! stage keeps the operations in a pre-sized table of [`Op`] slots; what it journals,
//! publishes and counts on each transition is the stage's.

use super::ledger::Applied;
use crate::journal::{OpPhase, OrderState};
use crate::msg::{ClientOrderId, Execution, Leg, MAX_LEGS, OppKind, Opportunity, OrderUpdate, RejectReason};
use crate::types::{Amount, InstrumentId, Price, Qty, Rate, Side};

/// Why an order of an operation was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    Entry,
    Hedge,
    Unwind,
}

/// Orders one operation can hold: the entries plus every recovery order. A venue that
/// rejects a third of the orders and fills half of the rest in part needs about three
/// orders per leg to close a gap on average, and a tail of a dozen or more: 24 slots
/// left three operations of a 30-minute soak to an operator; 64 make that improbable
/// (below one in a million per recovery) for about 8 KiB per operation.
pub(super) const MAX_OP_ORDERS: usize = 64;

#[derive(Clone, Copy, Debug)]
pub(super) struct OrderSlot {
    pub(super) client: ClientOrderId,
    pub(super) inst: InstrumentId,
    pub(super) side: Side,
    pub(super) qty: Qty,
    pub(super) state: OrderState,
    pub(super) applied: Applied,
    /// The venue's final filled count (from `Done`); more than applied means fills are
    /// missing and the order is queried.
    pub(super) reported: Qty,
    pub(super) sent_ns: u64,
    pub(super) last_query_ns: u64,
    pub(super) answered: bool,
    pub(super) cancel_sent: bool,
    pub(super) purpose: Purpose,
    /// Why the order was refused, if it was.
    pub(super) refused: Option<RejectReason>,
}

impl OrderSlot {
    pub(super) const EMPTY: OrderSlot = OrderSlot {
        client: ClientOrderId { op: 0, leg: 0, attempt: 0 },
        inst: InstrumentId(0),
        side: Side::Buy,
        qty: Qty::ZERO,
        state: OrderState::Sent,
        applied: Applied {
            filled: Qty::ZERO,
            value: Amount::ZERO,
            fee: Amount::ZERO,
            fee_native: Amount::ZERO,
            fee_base: Amount::ZERO,
        },
        reported: Qty::ZERO,
        sent_ns: 0,
        last_query_ns: 0,
        answered: false,
        cancel_sent: false,
        purpose: Purpose::Entry,
        refused: None,
    };

    /// Refused by the venue for a reason the same order would meet again.
    pub(super) fn refused_for_good(&self) -> bool {
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
    pub(super) fn refused_in_passing(&self) -> bool {
        matches!(self.refused, Some(RejectReason::RateLimited | RejectReason::Disconnected))
    }

    /// The outcome is known and every fill of it is applied.
    pub(super) fn is_settled(&self) -> bool {
        self.state.is_terminal() && self.applied.filled >= self.reported
    }

    pub(super) fn needs_query(&self) -> bool {
        self.state == OrderState::Unknown || (self.state.is_terminal() && self.applied.filled < self.reported)
    }

    /// Takes what an event says about the order's hand-over: when it was sent, and the
    /// first answer to it (accepted, rejected or a fill). Returns the acknowledgement
    /// latency the first time the order is answered.
    pub(super) fn acknowledge(&mut self, update: &OrderUpdate, ts_ns: u64) -> Option<u64> {
        let mut latency = None;
        if !self.answered
            && matches!(update, OrderUpdate::Accepted | OrderUpdate::Rejected(_) | OrderUpdate::Fill { .. })
        {
            self.answered = true;
            latency = Some(ts_ns.saturating_sub(self.sent_ns));
        }
        if let OrderUpdate::Sent = update {
            self.sent_ns = ts_ns.max(self.sent_ns);
        }
        latency
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Op {
    pub(super) used: bool,
    pub(super) closed: bool,
    pub(super) exec: Execution,
    pub(super) phase: OpPhase,
    pub(super) orders: [OrderSlot; MAX_OP_ORDERS],
    pub(super) n_orders: usize,
    pub(super) next_attempt: [u8; MAX_LEGS],
    pub(super) rounds: u8,
    /// The latest round (the entries, then each recovery round): its first order, when
    /// it was sent, and whether its refusals have been looked at.
    pub(super) round_start: usize,
    pub(super) round_ns: u64,
    pub(super) round_judged: bool,
    /// Rounds in a row with an order refused in passing (see `recovery_backoff_ms`).
    pub(super) backoff: u8,
    pub(super) rejected: bool,
    pub(super) deadline_alerted: bool,
    pub(super) halted: bool,
    /// Restored from the journal on start: its instruments stay halted until it closes,
    /// since the risk gate knows nothing of it.
    pub(super) restored: bool,
    /// Its legs were left unmatched once the entries settled.
    pub(super) needed_recovery: bool,
    /// When its unwind could last be priced from fresh books (0: not yet).
    pub(super) priced_ns: u64,
    /// Started by an earlier run of the engine (restored from the journal); unlike
    /// `restored`, never cleared.
    pub(super) resumed: bool,
    /// What its fills realized (closed quantity only) and the fees they paid, in USD.
    pub(super) realized: Amount,
    pub(super) fees: Amount,
}

impl Op {
    /// A slot that never held an operation.
    pub(super) fn blank() -> Self {
        Op {
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
            needed_recovery: false,
            priced_ns: 0,
            resumed: false,
            realized: Amount::ZERO,
            fees: Amount::ZERO,
        }
    }

    /// Starts operation `e` in this slot, its entry orders sent at `now`.
    pub(super) fn begin(&mut self, e: Execution, now: u64) {
        self.used = true;
        self.closed = false;
        self.exec = e;
        self.phase = OpPhase::Executing;
        self.next_attempt = [1; MAX_LEGS];
        self.rounds = 0;
        self.round_start = 0;
        self.round_ns = now;
        self.round_judged = false;
        self.backoff = 0;
        self.rejected = false;
        self.deadline_alerted = false;
        self.halted = false;
        self.restored = false;
        self.needed_recovery = false;
        self.priced_ns = 0;
        self.resumed = false;
        self.realized = Amount::ZERO;
        self.fees = Amount::ZERO;
        self.n_orders = 0;
        for (i, leg) in e.legs().iter().enumerate() {
            self.orders[i] = OrderSlot {
                client: ClientOrderId { op: e.op(), leg: i as u8, attempt: 0 },
                inst: leg.inst,
                side: leg.side,
                qty: leg.qty,
                sent_ns: now,
                purpose: Purpose::Entry,
                ..OrderSlot::EMPTY
            };
            self.n_orders += 1;
        }
    }

    /// Open: started and not closed.
    pub(super) fn is_open(&self) -> bool {
        self.used && !self.closed
    }

    /// Takes an event of order `j` whose fills up to `applied` are applied: what the venue
    /// reports as filled, the order's state, and a refusal. True when the order's outcome
    /// has just become unknown (it is to be queried).
    pub(super) fn record(&mut self, j: usize, update: &OrderUpdate, applied: Applied) -> bool {
        let slot = self.orders[j];
        let reported = match *update {
            OrderUpdate::Done { filled } | OrderUpdate::Status { filled, .. } => slot.reported.max(filled),
            _ => slot.reported,
        };
        let state = slot.state.after(update, applied.filled.max(reported), slot.qty);
        let o = &mut self.orders[j];
        o.applied = applied;
        o.reported = reported;
        let unknown = state == OrderState::Unknown && o.state != OrderState::Unknown;
        if unknown {
            o.last_query_ns = 0;
        }
        o.state = state;
        if let OrderUpdate::Rejected(r) = *update {
            o.refused = Some(r);
            if r != RejectReason::WouldNotFill && r != RejectReason::NotFound {
                self.rejected = true;
            }
        }
        unknown
    }

    /// How the operation ends if it closes now; `balanced` when its legs are matched.
    pub(super) fn outcome(&self, balanced: bool) -> Outcome {
        let filled = self.filled_anything();
        let missed = balanced && !filled && !self.rejected;
        let completed = balanced && filled && !self.unwound();
        Outcome { completed, missed, success: completed || missed }
    }

    /// Whether a round of `n` orders on `legs` fits: an attempt number for each order and
    /// a slot in the operation.
    pub(super) fn has_room_for(&self, mut legs: impl Iterator<Item = usize>, n: usize) -> bool {
        legs.all(|i| self.next_attempt[i] <= ClientOrderId::MAX_ATTEMPT) && self.n_orders + n <= MAX_OP_ORDERS
    }

    /// Nothing but the entry orders went out so far.
    pub(super) fn entries_only(&self) -> bool {
        self.orders().iter().all(|o| o.purpose == Purpose::Entry)
    }

    /// Opens a recovery round at `now`.
    pub(super) fn open_round(&mut self, now: u64) {
        self.rounds += 1;
        self.round_start = self.n_orders;
        self.round_ns = now;
        self.round_judged = false;
    }

    /// Adds an order of the round on leg `i`, sent at `now`; returns its client order id.
    pub(super) fn add_order(&mut self, i: usize, leg: Leg, purpose: Purpose, now: u64) -> ClientOrderId {
        let client = ClientOrderId { op: self.exec.op(), leg: i as u8, attempt: self.next_attempt[i] };
        self.next_attempt[i] += 1;
        self.orders[self.n_orders] = OrderSlot {
            client,
            inst: leg.inst,
            side: leg.side,
            qty: leg.qty,
            sent_ns: now,
            purpose,
            ..OrderSlot::EMPTY
        };
        self.n_orders += 1;
        client
    }

    pub(super) fn legs(&self) -> &[Leg] {
        self.exec.legs()
    }

    pub(super) fn orders(&self) -> &[OrderSlot] {
        &self.orders[..self.n_orders]
    }

    pub(super) fn find(&self, client: ClientOrderId) -> Option<usize> {
        self.orders().iter().position(|o| o.client == client)
    }

    /// Net quantity of leg `i` in the leg's own direction.
    pub(super) fn net(&self, i: usize) -> i64 {
        let Some(leg) = self.legs().get(i) else { return 0 };
        self.orders()
            .iter()
            .filter(|o| o.client.leg as usize == i)
            .map(|o| if o.side == leg.side { o.applied.filled.0 } else { -o.applied.filled.0 })
            .fold(0i64, i64::saturating_add)
    }

    pub(super) fn filled_anything(&self) -> bool {
        self.orders().iter().any(|o| o.applied.filled.is_positive())
    }

    /// An unwind order filled: the operation gave back what it had traded.
    pub(super) fn unwound(&self) -> bool {
        self.orders().iter().any(|o| o.purpose == Purpose::Unwind && o.applied.filled.is_positive())
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Every leg filled and the operation closed hedged without unwinding.
    pub(super) completed: bool,
    /// Nothing filled and nothing was refused: final, not a failure.
    pub(super) missed: bool,
    pub(super) success: bool,
}

/// The slot of operation `op` in the table.
pub(super) fn find(ops: &[Op], op: u64) -> Option<usize> {
    ops.iter().position(|o| o.used && o.exec.op() == op)
}

/// A never-used slot, or the oldest closed one.
pub(super) fn free_slot(ops: &[Op]) -> Option<usize> {
    if let Some(k) = ops.iter().position(|o| !o.used) {
        return Some(k);
    }
    ops.iter().enumerate().filter(|(_, o)| o.closed).min_by_key(|(_, o)| o.exec.op()).map(|(k, _)| k)
}

/// An opportunity with no legs.
pub(super) const NO_OPPORTUNITY: Opportunity = Opportunity {
    id: 0,
    kind: OppKind::SpotSpot,
    n_legs: 0,
    legs: [Leg { inst: InstrumentId(0), side: Side::Buy, price: Price::ZERO, qty: Qty::ZERO }; MAX_LEGS],
    expected_profit: Amount::ZERO,
    edge: Rate::ZERO,
    notional: Amount::ZERO,
    slippage: Rate::ZERO,
    trigger_ns: 0,
    oldest_ns: 0,
    detected_ns: 0,
};

/// An execution with no legs: what a slot holds before its first operation.
pub(super) fn empty_exec(op: u64) -> Execution {
    Execution::new(op, NO_OPPORTUNITY, 0, 0)
}
