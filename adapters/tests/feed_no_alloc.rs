//! The live market-data chain allocates nothing once warm: the live feed's WebSocket
//! clients (both venues, both markets, over TLS on loopback) reading what the simulated
//! venues stream, the venues' decoders, and the books the events build, driven on this
//! thread the way the md and book stages drive them, with the counting allocator
//! counting this thread only (the simulated venues allocate freely on theirs).
//!
//! This file holds one test so that nothing else allocates in the process while it
//! measures.

use std::time::{Duration, Instant};

use adapters::decode::DecodeStats;
use adapters::feed::{LiveFeed, LiveFeedConfig};
use adapters::net::tls::TlsRoots;
use adapters::venues::Endpoints;
use pipeline::book::{BookConfig, BookEffect, Books};
use pipeline::md::FeedSource;
use pipeline::msg::{MdBody, MdEvent};
use pipeline::testkit::counting::{CountingAlloc, counted};
use pipeline::types::{InstrumentId, Instruments, Market, Venue};
use quanta::Clock;
use sim::{Sim, SimConfig};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// One pass of the md and book stages: read, decode, apply; resyncs asked of the feed.
fn pass(
    feed: &mut LiveFeed,
    books: &mut Books,
    clock: &Clock,
    out: &mut Vec<MdEvent>,
    resync: &mut Vec<InstrumentId>,
) -> (usize, usize) {
    let now = pipeline::clock::now_ns(clock);
    out.clear();
    feed.poll(now, out);
    let mut changed = 0;
    for e in out.iter() {
        books.apply(e, now, &mut |fx| match fx {
            BookEffect::Changed(_) => changed += 1,
            BookEffect::Resync(i) => resync.push(i),
        });
    }
    for i in resync.drain(..) {
        feed.resync(i, now);
    }
    (out.len(), changed)
}

#[test]
fn the_live_feed_decoders_and_books_allocate_nothing_once_warm() {
    let sim = Sim::start(SimConfig { seed: 3, ..SimConfig::default() }).unwrap();
    let tls = TlsRoots::empty().add_pem_file(sim.ca_pem_path().unwrap()).unwrap().client_config().unwrap();
    let t = Instruments::from_specs(&sim.instrument_specs()).unwrap();
    let e = sim.endpoints();
    let venue = |v: Venue| Endpoints {
        venue: v,
        rest: e.get(v).rest.clone(),
        rest_futures: None,
        ws_spot: e.get(v).ws_spot.clone(),
        ws_futures: e.get(v).ws_futures.clone(),
    };
    let cfg = LiveFeedConfig {
        venues: vec![venue(Venue::GateIo), venue(Venue::Mexc)],
        ..LiveFeedConfig::default()
    };
    let clock = Clock::new();
    let mut feed = LiveFeed::new(cfg, &t, Some(tls), clock.clone(), DecodeStats::new()).unwrap();
    // Room for every book's depth up front, as the engine sizes them.
    let mut books = Books::for_instruments(&t, BookConfig { initial_levels: 4096, ..BookConfig::default() });
    let mut out: Vec<MdEvent> = Vec::with_capacity(4096);
    let mut resync = Vec::with_capacity(t.len());

    // Warm-up: every book synced, then a few more seconds of flow.
    let deadline = Instant::now() + Duration::from_secs(60);
    let synced = |books: &Books| t.iter().all(|i| books.get(i.id).is_some_and(|b| b.is_synced()));
    while !synced(&books) {
        assert!(Instant::now() < deadline, "books never synced");
        pass(&mut feed, &mut books, &clock, &mut out, &mut resync);
        std::thread::sleep(Duration::from_micros(200));
    }
    let warm_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < warm_until {
        pass(&mut feed, &mut books, &clock, &mut out, &mut resync);
        std::thread::sleep(Duration::from_micros(200));
    }

    // Measured: five seconds of live data, every pass counted.
    let (mut events, mut changed, mut allocs, mut passes) = (0, 0, 0, 0u64);
    let mut kinds = [0usize; 3];
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let ((n, c), a) = counted(|| pass(&mut feed, &mut books, &clock, &mut out, &mut resync));
        for ev in &out {
            match ev.body {
                MdBody::Level { .. } => kinds[0] += 1,
                MdBody::Bbo { .. } => kinds[1] += 1,
                MdBody::Trade { .. } => kinds[2] += 1,
                _ => {}
            }
        }
        events += n;
        changed += c;
        allocs += a;
        passes += 1;
        std::thread::sleep(Duration::from_micros(200));
    }
    println!(
        "{passes} passes: {events} events (levels {}, tops {}, trades {}), {changed} book changes, \
         {allocs} allocations",
        kinds[0], kinds[1], kinds[2]
    );
    assert!(events > 1_000 && changed > 100, "too little flow to judge: {events} events, {changed} changes");
    assert!(kinds[0] > 0, "depth updates flowed");
    for m in [Market::Spot, Market::Futures] {
        assert!(t.iter().any(|i| i.market == m), "{m:?} instruments are in the table");
    }
    assert_eq!(allocs, 0, "allocations over {passes} passes and {events} events");
    feed.stop();
}
