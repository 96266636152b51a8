//! One pass of the book benchmark's stream, for deterministic instruction counts under
//! callgrind (wall-clock benches on a shared machine are noisy; counts are not):
//!
//! ```text
//! cargo build --profile bench --example book_profile
//! valgrind --tool=callgrind --branch-sim=yes target/release/examples/book_profile ladder
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | grep run_
//! ```
//!
//! `ladder`, `btreemap` or `book` picks what runs over the 1M updates; each runs in its
//! own `#[inline(never)]` function so its inclusive count excludes generating the stream.

#[path = "book_stream.rs"]
mod book_stream;

use std::collections::BTreeMap;
use std::hint::black_box;

use book_stream::{SEED, TICK, UPDATES, Update, events, stream};
use pipeline::book::{BookConfig, Books, Ladder};
use pipeline::msg::MdEvent;
use pipeline::types::{Price, Side};

#[inline(never)]
fn run_ladder(updates: &[Update]) {
    let mut sides = [Ladder::bids(Price(TICK), 1024), Ladder::asks(Price(TICK), 1024)];
    for u in updates {
        let _ = sides[u.side as usize].set(u.price, u.qty);
    }
    black_box((sides[0].best(), sides[1].best()));
}

#[inline(never)]
fn run_btreemap(updates: &[Update]) {
    let (mut bids, mut asks) = (BTreeMap::<i64, i64>::new(), BTreeMap::<i64, i64>::new());
    for u in updates {
        let side = if u.side == Side::Buy { &mut bids } else { &mut asks };
        if u.qty.0 == 0 {
            side.remove(&u.price.0);
        } else {
            side.insert(u.price.0, u.qty.0);
        }
    }
    black_box((bids.last_key_value().map(|(k, _)| *k), asks.first_key_value().map(|(k, _)| *k)));
}

#[inline(never)]
fn run_book(events: &[MdEvent]) {
    let mut books = Books::new(&[Price(TICK)], BookConfig { stale_ms: 0, ..BookConfig::default() });
    let mut changed = 0u64;
    for e in events {
        books.apply(e, 1, &mut |_| changed += 1);
    }
    black_box(changed);
}

fn main() {
    let updates = stream(UPDATES, SEED);
    match std::env::args().nth(1).as_deref() {
        Some("btreemap") => run_btreemap(&updates),
        Some("book") => run_book(&events(&updates, 8)),
        _ => run_ladder(&updates),
    }
}
