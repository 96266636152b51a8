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
//! no trace there. A lost operation whose entry legs are not every leg of its kind
//! (numbered without a gap, and as many as the kind has: a lone leg, or two spot legs on
//! one venue, may be the rest of a pair or a triangle) is put in front of an operator
//! (AWAITING_OPERATOR, its instruments halted) instead of being recovered on a guess. Orders in our format that belong to neither kind (an
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
    /// Of those, the ones handed to an operator (entry legs that may be missing).
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
            let whole = whole_operation(orders, instruments);
            dispatch
                .append(&Record::OpIntent {
                    op: *op,
                    kind: whole.unwrap_or_else(|| kind_of(orders, instruments)),
                    n_legs,
                    deadline_ns: 0,
                    ts_ns: now_ns,
                })
                .map_err(io)?;
            out.new_ops.push(*op);
            if entry.len() != usize::from(n_legs) || whole.is_none() {
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

/// The kind of a lost operation whose entry orders (attempt 0) make a whole one, or
/// `None` when legs may be missing: a leg that never reached its venue leaves no trace,
/// so the orders found must be every leg their kind has. Two legs on the spot and
/// futures markets are a basis trade; two spot legs on two venues, spot against spot;
/// three spot legs on one venue, a triangle. One leg alone (a flatten, or a pair whose
/// other leg was refused), two spot legs on one venue (two thirds of a triangle) and
/// anything else are not.
fn whole_operation(orders: &[&DiscoveredOrder], instruments: &Instruments) -> Option<OppKind> {
    let mut entry: Vec<_> = orders.iter().filter(|o| o.client.attempt == 0).collect();
    entry.sort_by_key(|o| o.client.leg);
    entry.dedup_by_key(|o| o.client.leg);
    if entry.iter().enumerate().any(|(i, o)| usize::from(o.client.leg) != i) {
        return None;
    }
    let insts: Vec<_> = entry.iter().map(|o| instruments.try_get(o.inst)).collect::<Option<_>>()?;
    let all_spot = insts.iter().all(|i| i.market == Market::Spot);
    let one_venue = insts.windows(2).all(|w| w[0].venue == w[1].venue);
    match insts.as_slice() {
        [a, b] if a.market != b.market => Some(OppKind::Basis),
        [_, _] if all_spot && !one_venue => Some(OppKind::SpotSpot),
        [_, _, _] if all_spot && one_venue => Some(OppKind::Triangular),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::journal::JournalKind;
    use pipeline::types::{InstrumentId, Price, Qty, Side, Venue};

    #[test]
    fn a_lost_operation_goes_to_an_operator_unless_its_legs_make_a_whole_one() {
        let specs: Vec<_> = sim::catalog::listings().iter().map(|l| l.spec()).collect();
        let t = Instruments::from_specs(&specs).unwrap();
        let id = |v, m, s| t.find(v, m, s).unwrap();
        let gate = id(Venue::GateIo, Market::Spot, "BTC_USDT");
        let mexc = id(Venue::Mexc, Market::Spot, "BTCUSDT");
        let perp = id(Venue::GateIo, Market::Futures, "BTC_USDT");
        let gate_eth = id(Venue::GateIo, Market::Spot, "ETH_USDT");
        let gate_eth_btc = id(Venue::GateIo, Market::Spot, "ETH_BTC");
        let order = |op, leg, inst: InstrumentId| DiscoveredOrder {
            client: ClientOrderId { op, leg, attempt: 0 },
            inst,
            side: Side::Buy,
            price: Price(1),
            qty: Qty(1),
            open: false,
        };
        let found = [
            order(1, 0, gate),
            order(1, 1, mexc),
            order(2, 0, gate),
            order(2, 1, perp),
            order(3, 0, gate),
            order(3, 1, gate_eth_btc),
            order(3, 2, gate_eth),
            // A pair whose second leg left no trace.
            order(4, 0, gate),
            // Two legs of a triangle on one venue, the third lost.
            order(5, 0, gate),
            order(5, 1, gate_eth_btc),
            // A gap.
            order(6, 0, gate),
            order(6, 2, mexc),
        ];
        let dir = std::env::temp_dir().join(format!("arb-reconcile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut dispatch, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
        let (mut state, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
        let r = adopt_lost_orders(&found, &Replay::default(), &t, &mut dispatch, &mut state, 1).unwrap();
        assert_eq!(r.new_ops, [1, 2, 3, 4, 5, 6]);
        assert_eq!(r.for_operator, [4, 5, 6]);
        assert_eq!(r.adopted.len(), found.len());
        drop((dispatch, state));
        let replay = pipeline::journal::replay(&dir).unwrap();
        let kinds: Vec<_> = replay.ops.iter().map(|o| (o.op, o.kind, o.phase)).collect();
        assert_eq!(
            kinds[..3],
            [
                (1, Some(OppKind::SpotSpot), OpPhase::Executing),
                (2, Some(OppKind::Basis), OpPhase::Executing),
                (3, Some(OppKind::Triangular), OpPhase::Executing),
            ]
        );
        assert!(kinds[3..].iter().all(|k| k.2 == OpPhase::AwaitingOperator), "{kinds:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
