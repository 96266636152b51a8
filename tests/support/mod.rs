//! What the end-to-end tests check against the simulated venues after trading: the
//! journal's positions against the venues' own order records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pipeline::journal::{Verdict, inspect};
use pipeline::types::{Amount, Instruments, Market, Qty, Side, Venue};
use sim::Sim;

/// Positions in base units per (venue, market, symbol), without zeros.
type Book = BTreeMap<(Venue, Market, String), Amount>;

fn signed(side: Side, a: Amount) -> Amount {
    if side == Side::Buy { a } else { -a }
}

/// What the venues' order records add up to.
fn venue_positions(sim: &Sim) -> Book {
    let mut b = Book::new();
    for v in Venue::ALL {
        for o in sim.account_orders(v).into_iter().filter(|o| o.text != "manual") {
            *b.entry((v, o.market, o.symbol)).or_insert(Amount::ZERO) += signed(o.side, o.filled_base);
        }
    }
    b.retain(|_, a| !a.is_zero());
    b
}

/// The journal in `journal` is intact, knows every order's outcome, holds exactly the
/// positions the venues' order records add up to, and names every order the venues have
/// (none twice). Orders texted `manual` are the test's own.
pub fn assert_books_agree(sim: &Sim, journal: &Path) {
    let ins = inspect(journal).expect("journal readable");
    assert_eq!(ins.verdict, Verdict::Intact);
    assert_eq!(ins.replay.unresolved().count(), 0, "every order's outcome is known");
    let specs = arb::journal_meta::read(journal).expect("instrument table beside the journal");
    let table = Instruments::from_specs(&specs).unwrap();
    let mut engine = Book::new();
    for p in &ins.replay.positions {
        let i = table.get(p.inst);
        let base = i.base_amount(Qty(p.qty.0.abs())).expect("position in range");
        let side = if p.qty.0 < 0 { Side::Sell } else { Side::Buy };
        *engine.entry((i.venue, i.market, i.symbol.clone())).or_insert(Amount::ZERO) += signed(side, base);
    }
    engine.retain(|_, a| !a.is_zero());
    assert_eq!(engine, venue_positions(sim), "the journal's positions are the venues' positions");

    let prefix = ins.replay.identity.expect("a new journal records the instance's identity");
    assert!(!prefix.is_legacy(), "every client order id carries the instance's prefix");
    let journaled: BTreeSet<String> = ins
        .replay
        .orders
        .iter()
        .filter(|o| o.intent)
        .map(|o| format!("{prefix}{}-{}-{}", o.client.op, o.client.leg, o.client.attempt))
        .collect();
    let mut seen = BTreeSet::new();
    for v in Venue::ALL {
        for o in sim.account_orders(v).into_iter().filter(|o| o.text != "manual") {
            let id = o.text.strip_prefix("t-").unwrap_or(&o.text).to_owned();
            assert!(journaled.contains(&id), "venue order {id} on {v} is not in the journal");
            assert!(seen.insert(id.clone()), "client order id {id} reached a venue twice");
        }
    }
}
