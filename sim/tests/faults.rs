//! Faults and latency over real sockets: injected latency, slow acknowledgements,
//! dropped connections and stalls (open but silent); and the noise traders' public
//! trades that keep the trade feeds alive.

mod client;

use std::time::{Duration, Instant};

use client::*;
use pipeline::types::Venue;
use serde_json::json;
use sim::{Faults, Sim, SimConfig};

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
    let mut ws = client::ws(&sim.endpoints().mexc.ws_futures, None);
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

#[test]
fn scripted_outcomes_apply_to_the_next_order_on_their_instrument() {
    use pipeline::types::Market;
    use sim::Scripted;
    let sim = Sim::start(SimConfig { plain: true, ..SimConfig::default() }).unwrap();
    let ep = sim.endpoints().gateio.clone();
    let (k, s) = (ep.api_key.as_str(), ep.api_secret.expose());
    let mut h = Http::new(&ep.rest, None);
    let (_, book) = h.get("/spot/order_book?currency_pair=BTC_USDT&limit=1");
    let ask: f64 = book["asks"][0][0].as_str().unwrap().parse().unwrap();
    let ioc = |text: &str| {
        json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.004",
               "price": format!("{:.1}", ask * 1.01), "time_in_force": "ioc", "text": text})
        .to_string()
    };
    assert!(sim.script(Venue::GateIo, Market::Spot, "BTC_USDT", Scripted::Reject));
    assert!(sim.script(Venue::GateIo, Market::Spot, "BTC_USDT", Scripted::Partial { lots: 1500 }));
    assert!(sim.script(Venue::GateIo, Market::Spot, "BTC_USDT", Scripted::Silent { answer_after_ms: 400 }));
    assert!(!sim.script(Venue::GateIo, Market::Spot, "NOPE_USDT", Scripted::Reject));
    // First: a definite refusal.
    let (st, e) = h.gate(k, s, "POST", "/spot/orders", "", &ioc("t-1"));
    assert_eq!((st, e["label"].as_str()), (400, Some("BALANCE_NOT_ENOUGH")));
    // Second: 1500 lots of 0.000001 BTC fill, the rest is cancelled.
    let (st, o) = h.gate(k, s, "POST", "/spot/orders", "", &ioc("t-2"));
    assert_eq!((st, o["amount"].as_str(), o["left"].as_str()), (201, Some("0.004"), Some("0.0025")), "{o}");
    // Third: executes, but the answer is held back.
    let t = Instant::now();
    let (st, o) = h.gate(k, s, "POST", "/spot/orders", "", &ioc("t-3"));
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!((st, o["finish_as"].as_str()), (201, Some("filled")));
    // Then the market decides again.
    let (st, o) = h.gate(k, s, "POST", "/spot/orders", "", &ioc("t-4"));
    assert_eq!((st, o["finish_as"].as_str()), (201, Some("filled")));
    let orders = sim.account_orders(Venue::GateIo);
    let texts: Vec<&str> = orders.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(texts, ["t-2", "t-3", "t-4"], "the refused order never reached the book");
}
