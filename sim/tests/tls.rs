//! The simulated venues over TLS with the certificate made at start, the handshake
//! JSON line, redacted secrets, and a clean stop.

mod client;

use std::time::Duration;

use client::*;
use pipeline::types::{Market, Venue};
use serde_json::{Value, json};
use sim::{Sim, SimConfig, endpoints_json};

#[test]
fn tls_rest_and_websocket_with_the_generated_ca() {
    let mut sim = Sim::start(SimConfig { seed: 3, ..SimConfig::default() }).unwrap();
    let ca = sim.ca_pem_path().unwrap().to_owned();
    assert!(std::fs::read_to_string(&ca).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    let ep = sim.endpoints().clone();
    assert!(ep.gateio.rest.starts_with("https://127.0.0.1:") && ep.gateio.rest.ends_with("/api/v4"));
    assert!(ep.mexc.ws_spot.starts_with("wss://127.0.0.1:") && ep.mexc.ws_futures.ends_with("/edge"));
    let mut h = Http::new(&ep.gateio.rest, Some(&ca));
    let (st, pairs) = h.get("/spot/currency_pairs");
    assert_eq!(st, 200);
    assert_eq!(pairs.as_array().unwrap().len(), 4);
    // Keep-alive: a second request on the same connection.
    let (st, _) = h.gate(&ep.gateio.api_key, ep.gateio.api_secret.expose(), "GET", "/spot/accounts", "", "");
    assert_eq!(st, 200);
    let mut ws = ws(&ep.mexc.ws_futures, Some(&ca));
    send(&mut ws, json!({"method": "sub.deal", "param": {"symbol": "ETH_USDT"}}));
    assert!(next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "rs.sub.deal").is_some());
    let mut ws = client::ws(&ep.gateio.ws_spot, Some(&ca));
    send(
        &mut ws,
        json!({"time": now_ms() / 1000, "channel": "spot.book_ticker", "event": "subscribe", "payload": ["ETH_BTC"]}),
    );
    let t = next_json(&mut ws, Duration::from_secs(3), |v| {
        v["channel"] == "spot.book_ticker" && v["event"] == "update"
    })
    .unwrap();
    assert_eq!(t["result"]["s"], "ETH_BTC");

    // The handshake line, and secrets that never show in Debug.
    let line: Value = serde_json::from_str(&endpoints_json(&ep)).unwrap();
    for v in ["gateio", "mexc"] {
        for key in ["rest", "ws_spot", "ws_futures", "api_key", "api_secret"] {
            assert!(line[v][key].is_string(), "{v}.{key}");
        }
    }
    assert_eq!(line["mexc"]["api_secret"], ep.mexc.api_secret.expose());
    assert!(!format!("{ep:?}").contains(ep.mexc.api_secret.expose()));
    assert!(!format!("{sim:?}").contains(ep.gateio.api_secret.expose()));

    let specs = sim.instrument_specs();
    assert_eq!(specs.len(), 14);
    assert!(
        specs.iter().any(|s| s.venue == Venue::Mexc && s.market == Market::Futures && s.symbol == "SOL_USDT")
    );
    sim.stop();
    let port = ep.gateio.rest.trim_start_matches("https://").split('/').next().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(50));
    assert!(std::net::TcpStream::connect(port).is_err(), "listener still open after stop");
    assert!(!ca.exists(), "the CA file is removed with the sim");
}
