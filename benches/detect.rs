//! Detection's cost per book update as the universe grows: 10, 100 and 1000 pairs per
//! venue on both venues (spot everywhere, perpetuals on every third pair, a cross to BTC
//! on every fourth, so every pair takes part in the same few candidates whatever the
//! size of the universe), against a floor in the same run: the same updates through the
//! same detector with every kind of opportunity turned off (the ring and the book slot,
//! no candidate). The books are synced and priced so that nothing pays: the common case,
//! an update that evaluates its candidates and finds nothing.
//!
//! `cargo bench --bench detect`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pipeline::detect::{DetectConfig, DetectStats, Detector};
use pipeline::metrics::{MetricsHub, SeriesKind};
use pipeline::msg::{BOOK_DEPTH, BookTop, DetectControl, Level, Opportunity};
use pipeline::runtime::{Backpressure, Rx, Stage, Tx, link};
use pipeline::types::{Amount, Instrument, InstrumentSpec, Instruments, Market, Price, Qty, Rounding, Venue};
use quanta::Clock;

/// Updates per measured batch (one poll per [`POLL`] updates, as the stage drains).
const UPDATES: usize = 4096;
const POLL: usize = 64;

fn spec(venue: Venue, market: Market, base: &str, quote: &str, tick: &str, size: &str) -> InstrumentSpec {
    let lot = if market == Market::Futures { "1" } else { "0.001" };
    spec_lot(venue, market, base, quote, tick, lot, size)
}

fn spec_lot(
    venue: Venue,
    market: Market,
    base: &str,
    quote: &str,
    tick: &str,
    lot: &str,
    size: &str,
) -> InstrumentSpec {
    let symbol = match (venue, market) {
        (Venue::Mexc, Market::Spot) => format!("{base}{quote}"),
        _ => format!("{base}_{quote}"),
    };
    InstrumentSpec {
        venue,
        market,
        symbol,
        base: base.into(),
        quote: quote.into(),
        tick: tick.into(),
        lot: lot.into(),
        min_qty: None,
        max_qty: None,
        min_notional: Some("1".into()),
        contract_size: size.into(),
        taker_fee: Some("0.001".into()),
        maker_fee: None,
        trading_enabled: true,
    }
}

/// `n` pairs per venue: `P<k>/USDT` spot on both, perpetuals on every third, `P<k>/BTC`
/// on every fourth, with BTC/USDT listed.
fn universe(n: usize) -> Instruments {
    let mut specs = Vec::new();
    for venue in Venue::ALL {
        specs.push(spec(venue, Market::Spot, "BTC", "USDT", "0.01", "1"));
        for k in 0..n {
            let base = format!("P{k}");
            specs.push(spec(venue, Market::Spot, &base, "USDT", "0.01", "1"));
            if k % 3 == 0 {
                specs.push(spec(venue, Market::Futures, &base, "USDT", "0.01", "0.1"));
            }
            if k % 4 == 0 {
                specs.push(spec(venue, Market::Spot, &base, "BTC", "0.0000001", "1"));
            }
        }
    }
    Instruments::from_specs(&specs).expect("a valid universe")
}

/// A synced top of `inst` around `mid` (in the instrument's price units), a few ticks
/// wide on each side, with quantity `q` lots at each level.
fn top(inst: &Instrument, mid: i64, q: i64, recv_ns: u64) -> BookTop {
    // Two ticks off the mid for the best level, one tick more for each next one.
    let mut t = top_with(inst, mid, inst.tick.0, Qty(inst.lot.0 * q), recv_ns);
    for k in 0..BOOK_DEPTH {
        t.bids[k].price.0 -= inst.tick.0;
        t.asks[k].price.0 += inst.tick.0;
    }
    t
}

/// A synced top around `mid`, levels `step` apart from `step` off the mid, `qty` each.
fn top_with(inst: &Instrument, mid: i64, step: i64, qty: Qty, recv_ns: u64) -> BookTop {
    let mut t = BookTop::unsynced(inst.id, recv_ns);
    t.synced = true;
    for k in 0..BOOK_DEPTH {
        let off = step * (1 + k as i64);
        t.bids[k] = Level { price: Price(mid - off), qty };
        t.asks[k] = Level { price: Price(mid + off), qty };
    }
    t.n_bids = BOOK_DEPTH as u8;
    t.n_asks = BOOK_DEPTH as u8;
    t
}

/// The mid of `inst` in its price units: every USDT pair at 100, BTC at 50 000, crosses
/// at their ratio, so nothing pays after fees.
fn mid(t: &Instruments, inst: &Instrument) -> i64 {
    let scale = 10i64.pow(u32::from(inst.price_scale));
    match (t.asset_name(inst.base), t.asset_name(inst.quote)) {
        ("BTC", _) => 50_000 * scale,
        (_, "BTC") => scale / 500,
        _ => 100 * scale,
    }
}

fn ring<T: Copy + Send>(capacity: usize) -> (Tx<T>, Rx<T>) {
    let mut hub = MetricsHub::new(Clock::new());
    let rec = hub.recorder("bench", SeriesKind::Hop);
    link("bench", capacity, Backpressure::Retry, Clock::new(), rec)
}

struct Rig {
    det: Detector,
    tx: Tx<BookTop>,
    _control: Tx<DetectControl>,
    _out: Rx<Opportunity>,
    updates: Vec<BookTop>,
    stats: Arc<DetectStats>,
    instruments: usize,
}

fn rig(n: usize, find: bool) -> Rig {
    let t = Arc::new(universe(n));
    let cfg = DetectConfig { spot_spot: find, basis: find, triangular: find, ..DetectConfig::default() };
    let (tx, input) = ring(UPDATES * 2);
    let (control, control_rx) = ring(16);
    let (out_tx, out) = ring(1024);
    let stats = Arc::new(DetectStats::default());
    let mut det = Detector::new(&cfg, t.clone(), input, control_rx, out_tx, Clock::new(), stats.clone())
        .expect("the detector builds");
    let mut tx = tx;
    // Every book synced first.
    for chunk in t.iter().collect::<Vec<_>>().chunks(POLL) {
        for i in chunk {
            tx.push(top(i, mid(&t, i), 10, 1)).expect("room");
        }
        while det.poll() > 0 {}
    }
    while det.poll() > 0 {}
    // Then updates of instruments drawn evenly over the universe (a fixed stride).
    let stride = 7919 % t.len().max(1);
    let updates = (0..UPDATES)
        .map(|k| {
            let i = t.get(pipeline::types::InstrumentId(((k * stride.max(1)) % t.len()) as u16));
            top(i, mid(&t, i), 10 + (k % 5) as i64, 1)
        })
        .collect();
    Rig { det, tx, _control: control, _out: out, updates, stats, instruments: t.len() }
}

fn run(r: &mut Rig) {
    for chunk in r.updates.chunks(POLL) {
        for &u in chunk {
            let _ = r.tx.push(u);
        }
        black_box(r.det.poll());
    }
}

fn detect(c: &mut Criterion) {
    let mut g = c.benchmark_group("detect_update");
    g.throughput(Throughput::Elements(UPDATES as u64));
    g.sample_size(30);
    for n in [10, 100, 1000] {
        for (name, find) in [("floor_no_candidates", false), ("evaluate", true)] {
            let mut r = rig(n, find);
            let before = r.stats.snapshot();
            run(&mut r);
            let after = r.stats.snapshot();
            let per_update = (after.evaluations - before.evaluations) as f64 / UPDATES as f64;
            let found: u64 = after.found.iter().sum();
            eprintln!(
                "detect {n} pairs/venue, {} instruments, {name}: {:?} candidates (spot-spot, basis, triangular), \
                 {per_update:.2} evaluations per update, {found} found",
                r.instruments,
                r.det.candidate_counts()
            );
            g.bench_function(format!("{name}/{n}_pairs_per_venue"), |b| b.iter(|| run(&mut r)));
        }
    }
    g.finish();
}

/// One pair on the four venue markets, and the books the crossing case plays on it.
struct Case {
    name: &'static str,
    markets: Instruments,
    /// Mid, distance between two levels and the 1% move, in millionths of a USD.
    mid: i64,
    level_step: i64,
    shift: i64,
    /// Base units on each level.
    level_base: Amount,
}

fn four_markets(base: &str, ticks: [&str; 4], lots: [&str; 4], contracts: [&str; 4]) -> Instruments {
    let m = [
        (Venue::GateIo, Market::Spot),
        (Venue::GateIo, Market::Futures),
        (Venue::Mexc, Market::Spot),
        (Venue::Mexc, Market::Futures),
    ];
    let specs: Vec<_> =
        (0..4).map(|k| spec_lot(m[k].0, m[k].1, base, "USDT", ticks[k], lots[k], contracts[k])).collect();
    Instruments::from_specs(&specs).expect("a valid universe")
}

/// BTC/USDT as `arb bench e2e` lists it: five levels of 0.5 BTC a side, a dollar apart.
/// A step of the sizing is 0.0001 BTC, 6 USD: the levels spread less than a step.
fn btc() -> Case {
    Case {
        name: "btc_four_markets",
        markets: four_markets(
            "BTC",
            ["0.1", "0.1", "0.01", "0.1"],
            ["0.0001", "1", "0.000001", "1"],
            ["1", "0.0001", "1", "0.0001"],
        ),
        mid: 60_000_000_000,
        level_step: 1_000_000,
        shift: 600_000_000,
        level_base: Amount(Amount::ONE.0 / 2),
    }
}

/// A 0.1 USD coin: five levels of 50,000 coins a side, 0.1% apart. A step is one coin,
/// 0.1 USD, and the notional cap (1,000 USD) falls inside the first level.
fn alt() -> Case {
    Case {
        name: "alt_wide_levels",
        markets: four_markets("ALT", ["0.00001"; 4], ["1"; 4], ["1", "10", "1", "10"]),
        mid: 100_000,
        level_step: 100,
        shift: 1_000,
        level_base: Amount(Amount::ONE.0 * 50_000),
    }
}

/// A synced top of `inst` with levels `c.level_step` apart around `mid` (millionths of
/// a USD), `c.level_base` on each.
fn case_top(c: &Case, inst: &Instrument, mid: i64) -> BookTop {
    let units = |micro: i64| micro * 10i64.pow(u32::from(inst.price_scale)) / 1_000_000;
    let qty = inst.qty_for_base(c.level_base, Rounding::Floor).expect("a level in lots");
    top_with(inst, units(mid), units(c.level_step), qty, 1)
}

fn crossing(c: &mut Criterion) {
    let mut g = c.benchmark_group("detect_crossing");
    g.throughput(Throughput::Elements(UPDATES as u64));
    g.sample_size(30);
    for case in [btc(), alt()] {
        let t = Arc::new(case.markets.clone());
        let cfg = DetectConfig { cooldown_ms: 0, ..DetectConfig::default() };
        let (mut tx, input) = ring(UPDATES * 2);
        let (_control, control_rx) = ring(16);
        let (out_tx, mut out) = ring(UPDATES * 8);
        let stats = Arc::new(DetectStats::default());
        let mut det = Detector::new(&cfg, t.clone(), input, control_rx, out_tx, Clock::new(), stats.clone())
            .expect("the detector builds");
        for i in t.iter() {
            tx.push(case_top(&case, i, case.mid)).expect("room");
        }
        while det.poll() > 0 {}
        // As the e2e bench's frames: each market in turn moved 1% (down for spot, up for
        // the perpetuals) and back.
        let mut updates = Vec::new();
        for k in 0..UPDATES / 2 {
            let i = t.get(pipeline::types::InstrumentId((k % t.len()) as u16));
            let shift = if i.market == Market::Spot { -case.shift } else { case.shift };
            updates.push(case_top(&case, i, case.mid + shift));
            updates.push(case_top(&case, i, case.mid));
        }
        let mut run = |det: &mut Detector| {
            for chunk in updates.chunks(POLL) {
                for &u in chunk {
                    let _ = tx.push(u);
                }
                black_box(det.poll());
                while out.pop().is_some() {}
            }
        };
        let before = stats.snapshot();
        run(&mut det);
        let after = stats.snapshot();
        let emitted: u64 = after.emitted.iter().sum::<u64>() - before.emitted.iter().sum::<u64>();
        eprintln!(
            "detect crossing {}: {:?} candidates, {:.2} evaluations and {:.2} opportunities per update",
            case.name,
            det.candidate_counts(),
            (after.evaluations - before.evaluations) as f64 / UPDATES as f64,
            emitted as f64 / UPDATES as f64,
        );
        assert!(emitted as usize >= UPDATES / 2, "every crossing update emits");
        g.bench_function(case.name, |b| b.iter(|| run(&mut det)));
    }
    g.finish();
}

criterion_group!(benches, detect, crossing);
criterion_main!(benches);
