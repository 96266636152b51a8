//! Book updates: one level update on a stream of 1M, for the book's ladder and for the
//! whole book path (header, levels, end, sync checks), against an ordered map (BTreeMap)
//! doing the same work, in the same run; and reading the best bid and offer.
//!
//! The stream is generated from a seeded random walk: updates cluster near the top of
//! the book (geometric depth), 20% are deletes, the mid drifts. `cargo bench --bench
//! book`; results in perf/book.md.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pipeline::book::{BookConfig, Books, Ladder};
use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{InstrumentId, Price, Qty, Side};

const UPDATES: usize = 1_000_000;

/// xorshift64*: a fixed, dependency-free stream for benchmark input.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[derive(Clone, Copy)]
struct Update {
    side: Side,
    price: Price,
    qty: Qty,
}

fn stream() -> Vec<Update> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut mid: i64 = 10_000_000; // ticks
    let mut out = Vec::with_capacity(UPDATES);
    for _ in 0..UPDATES {
        if r.next() % 64 == 0 {
            mid += (r.next() % 5) as i64 - 2;
        }
        let side = if r.next() & 1 == 0 { Side::Buy } else { Side::Sell };
        // Geometric distance from the top: most updates within a few ticks.
        let depth = (r.next() | 1).trailing_zeros() as i64 * 3 + (r.next() % 3) as i64;
        let price = match side {
            Side::Buy => mid - 1 - depth,
            Side::Sell => mid + 1 + depth,
        };
        let qty = if r.next() % 5 == 0 { 0 } else { (r.next() % 1000 + 1) as i64 };
        out.push(Update { side, price: Price(price), qty: Qty(qty) });
    }
    out
}

fn book(c: &mut Criterion) {
    let updates = stream();
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
            || (Ladder::bids(1024), Ladder::asks(1024)),
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

    // The whole book path: updates of 8 levels each, chained sequence ids.
    let inst = InstrumentId(0);
    let mut events = Vec::with_capacity(UPDATES + UPDATES / 4 + 2);
    events.push(MdEvent { inst, recv_ns: 1, exch_ms: 0, body: MdBody::Snapshot { id: 0, partial: false } });
    events.push(MdEvent { inst, recv_ns: 1, exch_ms: 0, body: MdBody::End });
    for (i, chunk) in updates.chunks(8).enumerate() {
        let id = i as u64 + 1;
        events.push(MdEvent { inst, recv_ns: 1, exch_ms: 0, body: MdBody::Delta { first: id, last: id } });
        for u in chunk {
            events.push(MdEvent {
                inst,
                recv_ns: 1,
                exch_ms: 0,
                body: MdBody::Level { side: u.side, price: u.price, qty: u.qty },
            });
        }
        events.push(MdEvent { inst, recv_ns: 1, exch_ms: 0, body: MdBody::End });
    }
    g.bench_function("book_path_8_levels_per_update", |b| {
        b.iter_batched_ref(
            || Books::new(1, BookConfig { stale_ms: 0, ..BookConfig::default() }),
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

    let mut bids = Ladder::bids(1024);
    let mut asks = Ladder::asks(1024);
    for u in &updates[..10_000] {
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
