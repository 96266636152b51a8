//! Faults and latency over real sockets: injected latency, slow acknowledgements,
//! dropped connections and stalls (open but silent); and the noise traders' public
//! trades that keep the trade feeds alive.

mod sim_common;

use std::time::{Duration, Instant};

use adapters::sim::{Faults, Sim, SimConfig};
use pipeline::types::Venue;
use serde_json::json;
use sim_common::*;

#[test]
fn latency_and_slow_acks() {
    let cfg =
        SimConfig { plain: true, faults: Faults::parse("delay_ms=300").unwrap(), ..SimConfig::default() }
            .with_latency(Venue::Mexc, 120);
    let sim = Sim::start(cfg).unwrap();
    let ep = sim.endpoints().clone();
    let mut m = Http::new(&ep.mexc.rest, None);
    let t = Instant::now();
    assert_eq!(m.get("/api/v3/ping").0, 200);
    assert!(t.elapsed() >= Duration::from_millis(120), "MEXC latency not applied");
    let mut g = Http::new(&ep.gateio.rest, None);
    assert_eq!(g.get("/spot/time").0, 200);
    // Order entry waits the slow-ack delay.
    let body =
        json!({"currency_pair": "ETH_USDT", "side": "buy", "amount": "0.01", "price": "1000"}).to_string();
    let t = Instant::now();
    let (st, _) =
        g.gate(&ep.gateio.api_key, ep.gateio.api_secret.expose(), "POST", "/spot/orders", "", &body);
    assert_eq!(st, 201);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // MEXC pushes are delayed too: the ack of a PING comes after the latency.
    let mut ws = ws(&ep.mexc.ws_spot, None);
    let t = Instant::now();
    send(&mut ws, json!({"method": "PING"}));
    next_json(&mut ws, Duration::from_secs(3), |v| v["msg"] == "PONG").unwrap();
    assert!(t.elapsed() >= Duration::from_millis(120));
}

#[test]
fn disconnects_and_stalls() {
    let sim = Sim::start(SimConfig {
        plain: true,
        faults: Faults::parse("disconnect_every_s=1").unwrap(),
        ..SimConfig::default()
    })
    .unwrap();
    let mut ws = ws(&sim.endpoints().gateio.ws_spot, None);
    send(
        &mut ws,
        json!({"time": now_ms() / 1000, "channel": "spot.book_ticker", "event": "subscribe", "payload": ["BTC_USDT"]}),
    );
    let t = Instant::now();
    while next(&mut ws, Duration::from_secs(3)).is_some() {
        assert!(t.elapsed() < Duration::from_secs(3), "still connected");
    }
    assert!(t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(3));

    let sim = Sim::start(SimConfig {
        plain: true,
        faults: Faults::parse("stall_every_s=2").unwrap(),
        ..SimConfig::default()
    })
    .unwrap();
    let mut ws = sim_common::ws(&sim.endpoints().mexc.ws_futures, None);
    send(&mut ws, json!({"method": "sub.depth", "param": {"symbol": "BTC_USDT"}}));
    // Depth pushes come every model tick (100 ms); a stall is a second with nothing.
    let t = Instant::now();
    let mut last = Instant::now();
    let mut longest = Duration::ZERO;
    while t.elapsed() < Duration::from_millis(4500) {
        if next(&mut ws, Duration::from_secs(3)).is_some() {
            longest = longest.max(last.elapsed());
            last = Instant::now();
        }
    }
    assert!(longest >= Duration::from_millis(800), "no stall seen, longest silence {longest:?}");
    // And the connection is still open after it.
    send(&mut ws, json!({"method": "ping"}));
    assert!(next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "pong").is_some());
}

#[test]
fn noise_traders_keep_the_trade_feeds_alive() {
    let sim = Sim::start(SimConfig { plain: true, ..SimConfig::default() }).unwrap();
    let mut ws = ws(&sim.endpoints().gateio.ws_spot, None);
    send(
        &mut ws,
        json!({"time": now_ms() / 1000, "channel": "spot.trades", "event": "subscribe", "payload": ["BTC_USDT", "ETH_USDT", "SOL_USDT", "ETH_BTC"]}),
    );
    let t = next_json(&mut ws, Duration::from_secs(5), |v| {
        v["channel"] == "spot.trades" && v["event"] == "update"
    })
    .unwrap();
    assert!(t["result"]["amount"].is_string() && t["result"]["side"].is_string());
    assert_eq!(sim.account(Venue::GateIo).open_orders, 0);
}
