//! Restart: the operations, positions, realized P&L and instrument halts the journal
//! replay rebuilt, put back into the state stage before it trades.
//!
//! An operation the journals leave open comes back RECOVERING (or AWAITING_OPERATOR if it
//! was), its orders as history: an order whose outcome the journal does not know is
//! UNKNOWN, and is queried as soon as the stage starts; recovery starts afresh from what
//! filled. Its instruments stay halted until it closes, since the risk gate knows nothing
//! of it. The venue is the truth: the risk gate approves nothing while orders are being
//! reconciled.

use super::ledger::{Applied, Positions};
use super::operations::{MAX_OP_ORDERS, NO_OPPORTUNITY, Op, OrderSlot, Purpose, free_slot};
use crate::journal::{OpPhase, OrderState, Replay, ReplayOp, ReplayOrder};
use crate::msg::{Execution, Leg, MAX_LEGS, OppKind};
use crate::types::{Amount, AssetId, Instruments};

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
    instruments: &Instruments,
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
            let (fee_native, fee_base) = fees_charged(r, instruments, o);
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

/// The fees of `o`'s applied fills as the venue charged them (summed in the asset of
/// its last valued fill, as the venue's cumulative fee counts them), and the part
/// charged in the instrument's base asset.
fn fees_charged(r: &Replay, instruments: &Instruments, o: &ReplayOrder) -> (Amount, Amount) {
    let base = instruments.try_get(o.inst).map(|i| i.base);
    let mut native: Option<(AssetId, Amount)> = None;
    let mut in_base = Amount::ZERO;
    for v in r.fills.iter().filter(|f| f.client == o.client).filter_map(|f| f.valuation) {
        let sum = match native {
            Some((asset, sum)) if asset == v.fee_asset => sum,
            _ => Amount::ZERO,
        };
        native = Some((v.fee_asset, sum.saturating_add(v.fee_native)));
        if Some(v.fee_asset) == base {
            in_base = in_base.saturating_add(v.fee_native);
        }
    }
    (native.map_or(o.fee, |(_, sum)| sum), in_base)
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
