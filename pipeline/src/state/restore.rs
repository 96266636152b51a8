//! Restart: the operations, positions, basis positions, realized P&L and instrument
//! halts the journal replay rebuilt, put back into the state stage before it trades.
//!
//! An operation the journals leave open comes back RECOVERING (or AWAITING_OPERATOR if it
//! was), its orders as history: an order whose outcome the journal does not know is
//! UNKNOWN, and is queried as soon as the stage starts; recovery starts afresh from what
//! filled. Its instruments stay halted until it closes, since the risk gate knows nothing
//! of it. The venue is the truth: the risk gate approves nothing while orders are being
//! reconciled.

use std::collections::BTreeMap;

use super::basis::{self, BasisPosition};
use super::ledger::{Applied, Positions};
use super::operations::{MAX_OP_ORDERS, NO_OPPORTUNITY, Op, OrderSlot, Purpose, free_slot};
use crate::journal::{OpPhase, OrderState, Replay, ReplayOp};
use crate::msg::{ClientOrderId, Execution, Leg, MAX_LEGS, OppKind};
use crate::types::{Amount, Instruments};
use crate::units::ms_to_ns;

/// What a restore put back, besides the tables it filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Restored {
    /// Realized P&L of every finished operation.
    pub(super) realized: Amount,
    /// Open operations the table had no slot for.
    pub(super) lost: u64,
}

/// Puts `r` back: positions, the instruments halted for an operator (`halt_refs`), and
/// every open operation into a free slot of `ops`.
pub(super) fn restore(
    r: &Replay,
    charged: &BTreeMap<ClientOrderId, Charged>,
    positions: &mut Positions,
    halt_refs: &mut [u16],
    ops: &mut [Op],
) -> Restored {
    for p in &r.positions {
        if p.inst.index() < positions.qty.len() {
            positions.qty[p.inst.index()] = p.qty;
            positions.cost[p.inst.index()] = p.cost;
            positions.fees[p.inst.index()] = p.fees;
        }
    }
    for inst in &r.halted {
        if let Some(h) = halt_refs.get_mut(inst.index()) {
            *h = 1;
        }
    }
    let mut lost = 0;
    for ro in r.open_ops() {
        let Some(k) = free_slot(ops) else {
            lost += 1;
            continue;
        };
        let exec = ro.exec.unwrap_or_else(|| from_intents(r, ro));
        let op = &mut ops[k];
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
        op.resumed = true;
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
            } else if exec.opp().legs[leg].side == o.side {
                Purpose::Hedge
            } else {
                Purpose::Unwind
            };
            let state = if o.state.is_terminal() { o.state } else { OrderState::Unknown };
            let c = charged.get(&o.client).copied();
            // Without valued fills (a journal older than them), the fee as booked.
            let (fee_native, fee_base) = c.map_or((o.fee, Amount::ZERO), |c| (c.native, c.base));
            op.orders[op.n_orders] = OrderSlot {
                client: o.client,
                inst: o.inst,
                side: o.side,
                qty: o.qty,
                state,
                applied: Applied { filled: o.filled, value: o.value, fee: o.fee, fee_native, fee_base },
                // What the venue said filled, when fills were still to be applied: the
                // order is not settled, and is queried, until they are.
                reported: o.reported.max(o.filled),
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
    Restored { realized: r.realized_pnl, lost }
}

/// Each order's fees as the venue charged them, from one pass over the valued fills:
/// summed in whatever asset each was charged in, as the live order slot sums them, and
/// the part charged in the instrument's base asset.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Charged {
    native: Amount,
    base: Amount,
}

pub(super) fn fees_charged(r: &Replay, instruments: &Instruments) -> BTreeMap<ClientOrderId, Charged> {
    let mut out: BTreeMap<ClientOrderId, Charged> = BTreeMap::new();
    for f in &r.fills {
        let Some(v) = f.valuation else { continue };
        let c = out.entry(f.client).or_default();
        c.native = c.native.saturating_add(v.fee_native);
        if instruments.try_get(f.inst).is_some_and(|i| i.base == v.fee_asset) {
            c.base = c.base.saturating_add(v.fee_native);
        }
    }
    out
}

/// Rebuilds the basis table: every operation the journal closed, in the order it
/// closed, through the same rule as when it closed ([`basis::on_close`]); a position's
/// age runs from its entry's close (UTC) to `wall_ms`, set back from `now`. Exits still
/// open are marked exiting, so their position waits for them.
pub(super) fn restore_basis(
    r: &Replay,
    instruments: &Instruments,
    charged: &BTreeMap<ClientOrderId, Charged>,
    table: &mut [BasisPosition],
    now: u64,
    wall_ms: u64,
) {
    let mut closed: Vec<&ReplayOp> = r.ops.iter().filter(|o| o.finished).collect();
    closed.sort_by_key(|o| o.closed_seq);
    for o in closed {
        // An operation only the dispatch log knew closed with the execution its intents
        // rebuilt, as it is rebuilt here.
        let exec = o.exec.unwrap_or_else(|| from_intents(r, o));
        // The orders come sorted by client order id, the operation's first.
        let first = r.orders.partition_point(|x| x.client.op < o.op);
        let orders = r.orders[first..].iter().take_while(|x| x.client.op == o.op).map(|x| basis::Filled {
            inst: x.inst,
            side: x.side,
            qty: x.filled,
            fee_base: charged.get(&x.client).map_or(Amount::ZERO, |c| c.base),
        });
        let age = ms_to_ns(wall_ms.saturating_sub(o.closed_wall_ms));
        basis::on_close(table, instruments, &exec, o.completed, orders, now.saturating_sub(age));
    }
    for o in r.open_ops() {
        let id = o.exec.map_or(0, |e| e.opp().id);
        if let Some(p) = id.checked_sub(basis::EXIT_ID).and_then(|k| table.get_mut(k as usize)) {
            p.exiting = p.used;
        }
    }
}

/// An operation only the dispatch log knew: its entry intents are its legs.
fn from_intents(r: &Replay, ro: &ReplayOp) -> Execution {
    let mut opp = NO_OPPORTUNITY;
    opp.kind = ro.kind.unwrap_or(OppKind::SpotSpot);
    for o in r.orders.iter().filter(|o| o.client.op == ro.op && o.client.attempt == 0) {
        let i = o.client.leg as usize;
        if i < MAX_LEGS && o.intent {
            opp.legs[i] = Leg { inst: o.inst, side: o.side, price: o.price, qty: o.qty };
            opp.n_legs = opp.n_legs.max(o.client.leg + 1);
        }
    }
    Execution::new(ro.op, opp, 0, 0)
}
