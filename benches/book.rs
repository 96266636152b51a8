//! Book updates: one level update on a stream of 1M, for the book's ladder and for the
//! whole book path (header, levels, end, sync checks), against an ordered map (BTreeMap)
//! doing the same work, in the same run, beside the floor of merely reading the book
//! path's events; and reading the best bid and offer.
//!
//! The stream (`support/book_stream.rs`) is a seeded simulation of a venue's book:
//! updates cluster near the top with a deep tail, the mid walks and sweeps, and the
//! levels a move crosses are deleted, so the book stays synced throughout (asserted
//! before measuring). `cargo bench --bench book`; results in perf/book.md.

#[path = "support/book_stream.rs"]
mod book_stream;

use std::collections::BTreeMap;
use std::hint::black_box;

use book_stream::{SEED, TICK, UPDATES, events, stream};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pipeline::book::{BookConfig, Books, Ladder};
use pipeline::msg::MdBody;
use pipeline::types::{InstrumentId, Price, Side};

fn config() -> BookConfig {
    BookConfig { stale_ms: 0, ..BookConfig::default() }
}

fn book(c: &mut Criterion) {
    let updates = stream(UPDATES, SEED);
    // The whole book path: updates of 8 levels each, chained sequence ids. The stream
    // must keep the book synced, or the path measured would be the buffering one.
    let events = events(&updates, 8);
    {
        let mut books = Books::new(&[Price(TICK)], config());
        for e in &events {
            books.apply(e, 1, &mut |_| {});
        }
        let b = books.get(InstrumentId(0)).unwrap();
        assert!(b.is_synced() && b.stats().crossed == 0 && b.stats().gaps == 0, "{:?}", b.stats());
        assert_eq!(b.last_id(), UPDATES.div_ceil(8) as u64);
    }

    let mut g = c.benchmark_group("book_update");
    g.throughput(Throughput::Elements(UPDATES as u64));
    g.sample_size(20);

    g.bench_function("baseline_btreemap", |b| {
        b.iter_batched_ref(
            || (BTreeMap::<i64, i64>::new(), BTreeMap::<i64, i64>::new()),
            |(bids, asks)| {
                for u in &updates {
                    let side = if u.side == Side::Buy { &mut *bids } else { &mut *asks };
                    if u.qty.0 == 0 {
                        side.remove(&u.price.0);
                    } else {
                        side.insert(u.price.0, u.qty.0);
                    }
                }
                black_box((bids.last_key_value().map(|(k, _)| *k), asks.first_key_value().map(|(k, _)| *k)));
            },
            BatchSize::LargeInput,
        )
    });

    g.bench_function("ladder", |b| {
        b.iter_batched_ref(
            || (Ladder::bids(Price(TICK), 1024), Ladder::asks(Price(TICK), 1024)),
            |(bids, asks)| {
                for u in &updates {
                    let side = if u.side == Side::Buy { &mut *bids } else { &mut *asks };
                    let _ = side.set(u.price, u.qty);
                }
                black_box((bids.best(), asks.best()));
            },
            BatchSize::LargeInput,
        )
    });

    // The floor under the book path: only reading the events it reads (1.25M of 72
    // bytes, from memory rather than from a ring in cache as in the engine).
    g.bench_function("floor_read_events", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for e in black_box(&events) {
                if let MdBody::Level { price, .. } = e.body {
                    sum = sum.wrapping_add(price.0);
                }
            }
            black_box(sum)
        })
    });

    g.bench_function("book_path_8_levels_per_update", |b| {
        b.iter_batched_ref(
            || Books::new(&[Price(TICK)], config()),
            |books| {
                let mut changed = 0u64;
                for e in &events {
                    books.apply(e, 1, &mut |_| changed += 1);
                }
                black_box(changed);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // The best bid and offer of the book the whole stream built.
    let mut bids = Ladder::bids(Price(TICK), 1024);
    let mut asks = Ladder::asks(Price(TICK), 1024);
    for u in &updates {
        let _ = if u.side == Side::Buy { bids.set(u.price, u.qty) } else { asks.set(u.price, u.qty) };
    }
    let mut g = c.benchmark_group("book_read");
    g.bench_function("best_bid_and_ask", |b| {
        b.iter(|| black_box((black_box(&bids).best(), black_box(&asks).best())))
    });
    g.finish();
}

criterion_group!(benches, book);
criterion_main!(benches);
