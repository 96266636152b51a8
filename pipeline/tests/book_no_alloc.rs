//! The book path allocates nothing per update once warm: the second half of the
//! benchmark's stream (1M level updates, deep tail, moving mid, re-centres) through
//! `Books`, counted with a counting allocator. The ladder's design note allows an
//! allocation only where a re-centre or a genuinely new far level grows a buffer past
//! its capacity; with the fallback sized for this book up front, nothing may allocate.
//!
//! This file holds one test so that nothing else allocates in the process while it
//! measures.

#[path = "../../benches/support/book_stream.rs"]
mod book_stream;

use book_stream::{SEED, TICK, UPDATES, events, stream};
use pipeline::book::{BookConfig, Books};
use pipeline::testkit::counting::{self, CountingAlloc};
use pipeline::types::{InstrumentId, Price};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn no_allocation_per_book_update_after_warm_up() {
    let events = events(&stream(UPDATES, SEED), 8);
    // Room for the deepest book this stream builds (about 1,500 levels per side outside
    // the window), so no new far level has to grow the fallback.
    let cfg = BookConfig { stale_ms: 0, initial_levels: 4096, ..BookConfig::default() };
    let mut books = Books::new(&[Price(TICK)], cfg);
    let (warm, measured) = events.split_at(events.len() / 2);
    let mut changed = 0u64;
    for e in warm {
        books.apply(e, 1, &mut |_| changed += 1);
    }
    let before = counting::allocations();
    for e in measured {
        books.apply(e, 1, &mut |_| changed += 1);
    }
    let allocs = counting::allocations() - before;
    assert!(books.get(InstrumentId(0)).unwrap().is_synced());
    assert!(changed > 0);
    assert_eq!(allocs, 0, "allocations over the last {} events", measured.len());
}
