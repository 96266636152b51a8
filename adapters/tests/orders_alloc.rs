//! The order sink's hot paths after warm-up: heap allocations counted on the calling
//! thread only (the simulated venues allocate freely on theirs) in `submit` and in the
//! `poll` passes that carry the order to its end (answer, private pushes, events), and
//! submit-to-ack latency on loopback against the sim (plain TCP), polled with
//! `yield_now` between passes. Over TLS, rustls' buffered API adds about one allocation
//! per record each way (see `tests/no_alloc.rs`).

mod orders_support;
// The sim crate's raw-socket test client (independent of both the sim and adapters).
#[path = "../../sim/tests/client/mod.rs"]
mod sim_client;

use std::time::{Duration, Instant};

use orders_support::{Harness, quiet};
use pipeline::dispatch::OrderSink;
use pipeline::journal::TimeInForce;
use pipeline::msg::{OrderUpdate, StateInput};
use pipeline::testkit::counting::{CountingAlloc, counted};
use pipeline::types::{Market, Qty, Side, Venue};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn submit_does_not_allocate_after_warm_up_and_acks_come_back_fast() {
    let mut h = Harness::start(quiet(""), |_| {});
    let markets = [
        (Venue::GateIo, Market::Spot, "BTC_USDT", "0.001"),
        (Venue::GateIo, Market::Futures, "BTC_USDT", "10"),
        (Venue::Mexc, Market::Spot, "BTCUSDT", "0.001"),
        (Venue::Mexc, Market::Futures, "BTC_USDT", "10"),
    ];
    const ROUNDS: usize = 24;
    const WARM: usize = 8;
    let mut report = Vec::new();
    for (venue, market, sym, q) in markets {
        let inst = h.inst(venue, market, sym).clone();
        let qty = Qty::parse(q, inst.qty_scale).unwrap();
        let buy = h.through(&inst, Side::Buy, 30);
        let sell = h.through(&inst, Side::Sell, 30);
        let mut allocs = Vec::new();
        let mut poll_allocs = Vec::new();
        let mut acks = Vec::new();
        for round in 0..ROUNDS {
            let side = if round % 2 == 0 { Side::Buy } else { Side::Sell };
            let price = if side == Side::Buy { buy } else { sell };
            let req = h.request(&inst, side, price, qty, TimeInForce::Ioc);
            let t0 = Instant::now();
            let (r, n) = counted(|| h.sink.submit(&req));
            r.unwrap();
            let mut acked = None;
            let mut done = false;
            let mut polled = 0;
            while !done && t0.elapsed() < Duration::from_secs(5) {
                let sink = &mut h.sink;
                let (_, n) = counted(|| {
                    sink.poll(64, &mut |e| {
                        if let StateInput::Order(o) = e {
                            if o.client == req.client {
                                if acked.is_none() && matches!(o.update, OrderUpdate::Accepted) {
                                    acked = Some(t0.elapsed());
                                }
                                done |= matches!(o.update, OrderUpdate::Done { .. });
                            }
                        }
                    })
                });
                polled += n;
                std::thread::yield_now();
            }
            assert!(done, "{venue} {market} round {round}");
            if round >= WARM {
                poll_allocs.push(polled);
                allocs.push(n);
                acks.push(acked.unwrap());
            }
        }
        acks.sort();
        let p = |q: f64| acks[((acks.len() - 1) as f64 * q) as usize];
        report.push(format!(
            "{venue} {market}: submit-to-ack p50 {:?} p90 {:?} max {:?}; allocations per submit {:?}; \
             while polling an order to its end {:?}",
            p(0.5),
            p(0.9),
            acks[acks.len() - 1],
            allocs,
            poll_allocs
        ));
        assert!(allocs.iter().all(|&n| n == 0), "{venue} {market} submit allocates: {allocs:?}");
        // Plain TCP: the answer, the private pushes and the events allocate nothing either.
        assert!(poll_allocs.iter().all(|&n| n == 0), "{venue} {market} poll allocates: {poll_allocs:?}");
    }
    for line in report {
        eprintln!("{line}");
    }
}
