//! The order sink's hot paths after warm-up: heap allocations counted on the calling
//! thread only (the simulated venues allocate freely on theirs) in `submit` and in the
//! `poll` passes that carry the order to its end (answer, private pushes, events), over
//! TLS as against the real venues, and submit-to-ack latency on loopback against the
//! sim, polled with `yield_now` between passes.

mod orders_support;
// The sim crate's raw-socket test client (independent of both the sim and adapters).
#[path = "../../sim/tests/client/mod.rs"]
mod sim_client;

use std::time::{Duration, Instant};

use adapters::venues::gateio::ws_api::OrderEntry;
use orders_support::{Harness, quiet};
use pipeline::dispatch::OrderSink;
use pipeline::journal::TimeInForce;
use pipeline::msg::{OrderUpdate, StateInput};
use pipeline::testkit::counting::{CountingAlloc, counted};
use pipeline::types::{Market, Qty, Side, Venue};
use sim::SimConfig;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn submit_does_not_allocate_after_warm_up_and_acks_come_back_fast() {
    let tls = || SimConfig { plain: false, ..quiet("") };
    let mut rest = Harness::start(tls(), |_| {});
    // Gate.io again with its orders over the WebSocket trading API.
    let mut ws = Harness::start(tls(), |c| {
        if let Some(g) = c.gateio.as_mut() {
            g.order_entry = OrderEntry::Ws;
        }
    });
    ws.pump_until(Duration::from_millis(500), |_| false);
    let markets = [
        ("rest", Venue::GateIo, Market::Spot, "BTC_USDT", "0.001"),
        ("rest", Venue::GateIo, Market::Futures, "BTC_USDT", "10"),
        ("rest", Venue::Mexc, Market::Spot, "BTCUSDT", "0.001"),
        ("rest", Venue::Mexc, Market::Futures, "BTC_USDT", "10"),
        ("ws", Venue::GateIo, Market::Spot, "BTC_USDT", "0.001"),
        ("ws", Venue::GateIo, Market::Futures, "BTC_USDT", "10"),
    ];
    const ROUNDS: usize = 24;
    const WARM: usize = 8;
    let mut report = Vec::new();
    for (entry, venue, market, sym, q) in markets {
        let h = if entry == "ws" { &mut ws } else { &mut rest };
        let over_ws = h.sink.orders_over_ws(venue, market);
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
            "{venue} {market} over {entry}: submit-to-ack p50 {:?} p90 {:?} max {:?}; allocations per \
             submit {:?}; while polling an order to its end {:?}",
            p(0.5),
            p(0.9),
            acks[acks.len() - 1],
            allocs,
            poll_allocs
        ));
        let sent_ws = h.sink.orders_over_ws(venue, market) - over_ws;
        assert_eq!(sent_ws, if entry == "ws" { ROUNDS as u64 } else { 0 }, "{venue} {market} over {entry}");
        assert!(
            allocs.iter().all(|&n| n == 0),
            "{venue} {market} over {entry}: submit allocates: {allocs:?}"
        );
        // The answer, the private pushes and the events allocate nothing either.
        assert!(
            poll_allocs.iter().all(|&n| n == 0),
            "{venue} {market} over {entry}: poll allocates: {poll_allocs:?}"
        );
    }
    for line in report {
        eprintln!("{line}");
    }
}
