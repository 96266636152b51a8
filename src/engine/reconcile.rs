//! Restart after a host crash: orders the venues have that the journal lost.
//!
//! A record is written before its order is sent, but made durable by the journal's sync
//! thread a little later, so a power loss can take the journal's last records while
//! their orders reached the venues. Before any stage starts, the engine lists our
//! orders on the venues ([`adapters::orders::VenueSink::discover`]) and compares them,
//! by client order id, with the journal it replayed. An order the venues have and the
//! journal does not is ours when its operation is one the journal knows (a lost recovery
//! attempt) or comes after the last one it knows (a lost operation). Each such order's
//! intent is written back to the dispatch journal as it was sent (instrument, side,
//! price, quantity, from the venue's own record), with an operation intent for an
//! operation the journal never saw, and synced. The replay then sees orders whose
//! outcome it does not know, and the state stage reconciles them with the venues the
//! usual way (query by client order id, fills booked once) before trading resumes.
//! Since operation ids continue above every id the venues showed, none is used twice.
//!
//! What cannot be rebuilt: a leg of a lost operation that never reached its venue leaves
//! no trace there. A lost operation whose entry legs are not numbered without a gap is
//! put in front of an operator (AWAITING_OPERATOR, its instruments halted) instead of
//! being recovered on a guess. Orders in our format that belong to neither kind (an
//! older journal's, another engine's) are left alone and counted.

use std::collections::{BTreeMap, BTreeSet};

use adapters::orders::DiscoveredOrder;
use anyhow::{Result, anyhow};
use pipeline::journal::{JournalWriter, OpPhase, Record, Replay, TimeInForce};
use pipeline::msg::{ClientOrderId, Leg, OppKind};
use pipeline::types::{Instruments, Market};

/// What the comparison found.
#[derive(Debug, Default)]
pub(crate) struct Reconciled {
    /// Orders written back to the journal.
    pub adopted: Vec<ClientOrderId>,
    /// Operations the journal had lost entirely.
    pub new_ops: Vec<u64>,
    /// Of those, the ones handed to an operator (a gap in their entry legs).
    pub for_operator: Vec<u64>,
    /// Orders in our format that are neither ours to adopt nor in the journal.
    pub foreign: usize,
}

/// Writes back the intents of the orders in `found` that `replay` does not hold, and
/// syncs both journals.
pub(crate) fn adopt_lost_orders(
    found: &[DiscoveredOrder],
    replay: &Replay,
    instruments: &Instruments,
    dispatch: &mut JournalWriter,
    state: &mut JournalWriter,
    now_ns: u64,
) -> Result<Reconciled> {
    let journaled: BTreeSet<ClientOrderId> =
        replay.orders.iter().filter(|o| o.intent).map(|o| o.client).collect();
    let known_ops: BTreeSet<u64> = replay.ops.iter().map(|o| o.op).collect();
    let mut out = Reconciled::default();
    let mut lost: BTreeMap<u64, Vec<&DiscoveredOrder>> = BTreeMap::new();
    for o in found.iter().filter(|o| !journaled.contains(&o.client)) {
        if o.client.op > replay.last_op_id || known_ops.contains(&o.client.op) {
            lost.entry(o.client.op).or_default().push(o);
        } else {
            out.foreign += 1;
        }
    }
    let io = |e| anyhow!("journal: {e}");
    for (op, orders) in &lost {
        if !known_ops.contains(op) {
            let entry: BTreeSet<u8> =
                orders.iter().filter(|o| o.client.attempt == 0).map(|o| o.client.leg).collect();
            let n_legs = entry.iter().max().map_or(0, |&l| l + 1);
            dispatch
                .append(&Record::OpIntent {
                    op: *op,
                    kind: kind_of(orders, instruments),
                    n_legs,
                    deadline_ns: 0,
                    ts_ns: now_ns,
                })
                .map_err(io)?;
            out.new_ops.push(*op);
            if entry.len() != usize::from(n_legs) {
                state
                    .append(&Record::OpPhase { op: *op, phase: OpPhase::AwaitingOperator, ts_ns: now_ns })
                    .map_err(io)?;
                out.for_operator.push(*op);
            }
        }
        for o in orders {
            let leg = Leg { inst: o.inst, side: o.side, price: o.price, qty: o.qty };
            dispatch
                .append(&Record::OrderIntent { client: o.client, leg, tif: TimeInForce::Ioc, ts_ns: now_ns })
                .map_err(io)?;
            out.adopted.push(o.client);
        }
    }
    dispatch.sync().map_err(io)?;
    state.sync().map_err(io)?;
    Ok(out)
}

/// An operation's kind from the instruments of its orders: spot and futures legs make a
/// basis trade, three legs on one venue a triangle, anything else spot against spot.
fn kind_of(orders: &[&DiscoveredOrder], instruments: &Instruments) -> OppKind {
    let insts: Vec<_> = orders.iter().filter_map(|o| instruments.try_get(o.inst)).collect();
    let markets: BTreeSet<Market> = insts.iter().map(|i| i.market).collect();
    let venues: BTreeSet<_> = insts.iter().map(|i| i.venue).collect();
    let legs: BTreeSet<u8> = orders.iter().map(|o| o.client.leg).collect();
    if markets.len() > 1 {
        OppKind::Basis
    } else if venues.len() == 1 && legs.len() == 3 {
        OppKind::Triangular
    } else {
        OppKind::SpotSpot
    }
}
