//! The benchmark's synthetic depth stream is one a venue could send: applied whole to
//! the book stage's books it never crosses, never gaps, and leaves the book synced and
//! equal, level for level, to a plain ordered map fed the same updates.

#[path = "../benches/support/book_stream.rs"]
mod book_stream;

use std::collections::BTreeMap;

use book_stream::{SEED, TICK, UPDATES, events, stream};
use pipeline::book::{BookConfig, Books};
use pipeline::types::{InstrumentId, Price, Side};

#[test]
fn the_bench_stream_keeps_the_book_synced() {
    let updates = stream(UPDATES, SEED);
    assert_eq!(updates, stream(UPDATES, SEED), "seeded: the same stream every run");
    let mut books = Books::new(&[Price(TICK)], BookConfig { stale_ms: 0, ..BookConfig::default() });
    for e in &events(&updates, 8) {
        books.apply(e, 1, &mut |_| {});
    }
    let b = books.get(InstrumentId(0)).unwrap();
    let s = b.stats();
    assert!(b.is_synced(), "{s:?}");
    assert_eq!((s.crossed, s.gaps, s.bad_updates, s.resyncs), (0, 0, 0, 0), "{s:?}");
    assert_eq!(s.updates, UPDATES.div_ceil(8) as u64);

    let (mut bids, mut asks) = (BTreeMap::new(), BTreeMap::new());
    let mut deletes = 0;
    for u in &updates {
        let side = if u.side == Side::Buy { &mut bids } else { &mut asks };
        if u.qty.0 == 0 {
            assert!(side.remove(&u.price.0).is_some(), "a delete for a level that exists");
            deletes += 1;
        } else {
            side.insert(u.price.0, u.qty.0);
        }
    }
    assert!((150_000..400_000).contains(&deletes), "{deletes} deletes");
    let want_b: Vec<(i64, i64)> = bids.iter().rev().map(|(&p, &q)| (p, q)).collect();
    let want_a: Vec<(i64, i64)> = asks.iter().map(|(&p, &q)| (p, q)).collect();
    assert_eq!(b.bids().iter().map(|l| (l.price.0, l.qty.0)).collect::<Vec<_>>(), want_b);
    assert_eq!(b.asks().iter().map(|l| (l.price.0, l.qty.0)).collect::<Vec<_>>(), want_a);
}
