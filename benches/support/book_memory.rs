//! What a thousand books cost in memory: the book stage's `Books` for 1,000 instruments,
//! each synced from a snapshot and then fed deltas, measured three ways: the size of a
//! book in place, the heap each book says it holds (`L2Book::heap_bytes`), and the
//! process's resident memory before and after (`VmRSS`, which also counts what the
//! allocator keeps).
//!
//! ```text
//! cargo run --profile bench --example book_memory -- sparse   # or dense, deep
//! ```
//!
//! - `sparse`: the simulated venues' books, 20 levels a side spread a few to a few dozen
//!   ticks apart (a long-tail pair with a fine tick), deltas near the top.
//! - `dense`: a 100-level REST snapshot with a level on nearly every tick near the top,
//!   deltas near the top (a liquid pair).
//! - `deep`: the book benchmark's stream, 20,000 updates per book with its deep tail to
//!   8,192 ticks (full-depth feeds; the worst case for the window).
//!
//! Every book ends synced (asserted). Events are generated into one buffer allocated
//! before the first measurement, so the resident memory that grows is the books'.

#[path = "book_stream.rs"]
#[allow(dead_code)]
mod book_stream;

use pipeline::book::{BookConfig, Books, L2Book};
use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{InstrumentId, Price, Qty, Side};

const BOOKS: usize = 1000;
const TICK: i64 = book_stream::TICK;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

fn ev(inst: InstrumentId, body: MdBody) -> MdEvent {
    MdEvent { inst, recv_ns: 1, exch_ms: 0, body }
}

/// A snapshot of `levels` per side `spacing` ticks apart at most, then `deltas` single-
/// level updates within `near` ticks of the touch, into `out`.
fn ladder_book(
    out: &mut Vec<MdEvent>,
    inst: InstrumentId,
    rng: &mut Rng,
    levels: usize,
    spacing: u64,
    deltas: usize,
    near: u64,
) {
    let mid = 1_000_000 + rng.below(1_000_000) as i64;
    out.push(ev(inst, MdBody::Snapshot { id: 1, partial: false }));
    for side in [Side::Buy, Side::Sell] {
        let mut off = 1 + rng.below(3) as i64;
        for _ in 0..levels {
            let ticks = if side == Side::Buy { mid - off } else { mid + off };
            out.push(ev(
                inst,
                MdBody::Level { side, price: Price(ticks * TICK), qty: Qty(1 + rng.below(100) as i64) },
            ));
            off += 1 + rng.below(spacing) as i64;
        }
    }
    out.push(ev(inst, MdBody::End));
    for k in 0..deltas {
        let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
        let off = 1 + rng.below(near) as i64;
        let ticks = if side == Side::Buy { mid - off } else { mid + off };
        let qty = if rng.below(4) == 0 { 0 } else { 1 + rng.below(100) as i64 };
        out.push(ev(inst, MdBody::Delta { first: 2 + k as u64, last: 2 + k as u64 }));
        out.push(ev(inst, MdBody::Level { side, price: Price(ticks * TICK), qty: Qty(qty) }));
        out.push(ev(inst, MdBody::End));
    }
}

fn main() {
    let profile = std::env::args().nth(1).unwrap_or_else(|| "sparse".into());
    let mut buf: Vec<MdEvent> = Vec::with_capacity(200_000);
    // Touch the buffer so its pages count in the baseline.
    buf.resize(buf.capacity(), ev(InstrumentId(0), MdBody::End));
    buf.clear();
    let cfg = BookConfig { stale_ms: 0, ..BookConfig::default() };
    let ticks = vec![Price(TICK); BOOKS];
    let before = rss_kib();
    let mut books = Books::new(&ticks, cfg);
    let mut rng = Rng(0x5eed_b00c);
    for b in 0..BOOKS {
        let inst = InstrumentId(b as u16);
        buf.clear();
        match profile.as_str() {
            "dense" => ladder_book(&mut buf, inst, &mut rng, 100, 2, 2000, 60),
            "deep" => {
                let updates = book_stream::stream(20_000, 0x9e37 + b as u64);
                buf.extend(book_stream::events(&updates, 8).into_iter().map(|mut e| {
                    e.inst = inst;
                    e
                }));
            }
            _ => ladder_book(&mut buf, inst, &mut rng, 20, 40, 500, 30),
        }
        for e in &buf {
            books.apply(e, 1, &mut |_| {});
        }
        // The book stage's maintenance pass.
        books.maintain(2, &mut |_| {});
    }
    let after = rss_kib();
    assert!(books.iter().all(L2Book::is_synced), "every book synced");
    let levels: usize = books.iter().map(|b| b.bids().len() + b.asks().len()).sum();
    let heap: usize = books.iter().map(L2Book::heap_bytes).sum();
    let pages: usize = books.iter().map(|b| b.bids().pages_mapped() + b.asks().pages_mapped()).sum();
    println!(
        "{profile}: {BOOKS} books, {:.1} levels a book, {:.1} pages a book; in place {} B a book; \
         heap {:.1} KiB a book; Books::memory_bytes {:.1} KiB a book, {:.2} MiB per thousand; \
         resident {:.1} KiB a book ({} KiB -> {} KiB)",
        levels as f64 / BOOKS as f64,
        pages as f64 / BOOKS as f64,
        std::mem::size_of::<L2Book>(),
        heap as f64 / BOOKS as f64 / 1024.0,
        books.memory_bytes() as f64 / BOOKS as f64 / 1024.0,
        books.memory_bytes() as f64 / 1024.0 / 1024.0 * 1000.0 / BOOKS as f64,
        (after - before) as f64 / BOOKS as f64,
        before,
        after
    );
}
