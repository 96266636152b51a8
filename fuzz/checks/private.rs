//! The venues' private-stream pushes and REST answers, read as a sequence of messages
//! by one order tracker (what the order sink does with them), on a mock clock.
//!
//! What must hold whatever the venue says: no panic, and every order's fills add up
//! exactly (each fill is positive, at a positive price, and its cumulative quantity is
//! the previous one plus its own; a status never goes back; `Done` carries the total
//! emitted and comes at most once).

use std::collections::HashMap;
use std::sync::Arc;

use adapters::venues::{gateio, mexc};
use pipeline::msg::{ClientOrderId, OrderUpdate, StateInput};
use pipeline::types::Qty;

/// What was seen of one order.
#[derive(Debug, Default)]
struct Seen {
    cum: Qty,
    done: bool,
}

/// Checks the events and tells how many there were.
fn check(events: &[StateInput], seen: &mut HashMap<ClientOrderId, Seen>) {
    for e in events {
        let StateInput::Order(o) = e else { continue };
        let s = seen.entry(o.client).or_default();
        match o.update {
            OrderUpdate::Fill { price, qty, cum_qty, .. } => {
                assert!(price.0 > 0 && qty.0 > 0, "{o:?}");
                assert_eq!(cum_qty.0, s.cum.0 + qty.0, "fill not adding up: {o:?}");
                s.cum = cum_qty;
            }
            OrderUpdate::Status { filled, .. } => {
                assert!(filled >= s.cum, "status went back from {:?}: {o:?}", s.cum);
                s.cum = filled;
            }
            OrderUpdate::Done { filled } => {
                assert!(!s.done, "Done twice: {o:?}");
                assert_eq!(filled, s.cum, "Done with another total: {o:?}");
                s.done = true;
            }
            _ => {}
        }
    }
}

/// Message kind 255 advances the clock by `arg` milliseconds (and releases every held
/// estimate when `arg` is odd); any other goes to the venue's readers.
const TICK: u8 = 255;

macro_rules! drive {
    ($reports:expr, $data:expr) => {{
        let mut r = $reports;
        let mut seen = HashMap::new();
        let mut events = Vec::new();
        let (mut n, mut total) = (0, 0);
        for (kind, arg, payload) in super::messages($data) {
            if kind == TICK {
                r.advance(u64::from(arg), arg % 2 == 1);
            } else {
                r.feed(kind, arg, payload);
            }
            r.drain(&mut events);
            check(&events, &mut seen);
            total += events.len();
            events.clear();
            n += 1;
        }
        r.advance(3_600_000, true);
        r.drain(&mut events);
        check(&events, &mut seen);
        total += events.len();
        format!("accepted: {n} messages, {total} events")
    }};
}

/// Gate: spot and futures private pushes, and the answers to every REST request the
/// order entry makes.
pub fn gate(data: &[u8]) -> String {
    drive!(gateio::fuzz::Reports::new(Arc::new(super::table())), data)
}

/// MEXC: spot protobuf pushes and JSON stream answers, futures JSON pushes, and the
/// answers (and envelopes) of every REST request of both order entries.
pub fn mexc(data: &[u8]) -> String {
    drive!(mexc::fuzz::Reports::new(Arc::new(super::table())), data)
}
