//! With real order entry, a perpetual added while running on a venue market that had no
//! pair at start is traded with real signed orders, because `[orders] open_markets`
//! named that market: its order-entry client and private stream were opened at start.
//! The engine starts on the simulated venues with BTC/USDT spot only; `arb ctl
//! add-symbol BTC/USDT --venue gateio --market futures` adds Gate's perpetual, the basis
//! the sim opens between Gate's spot and perpetual is traded, and the contracts the
//! engine books are the contracts the venue holds. MEXC's futures market, not named,
//! is refused with the reason and the key that would allow it.

use std::time::{Duration, Instant};

use adapters::orders::OpenMarket;
use arb::cmd::demo;
use arb::config::Config;
use pipeline::types::{InstrumentId, Market, Qty, Venue};
use sim::catalog::Asset;
use sim::{DislocationKind, ModelConfig, Sim, SimConfig};

fn wait(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_perpetual_added_while_running_on_an_opened_market_is_traded_with_real_orders() {
    // No dislocations of the model's own: the test makes the one it trades.
    let model = ModelConfig { dislocation_every_ms: u64::MAX / 4, ..ModelConfig::default() };
    let sim = Sim::start(SimConfig { seed: 47, model, funding_interval_ms: 0, ..SimConfig::default() })
        .expect("sim starts");
    let journal = std::env::temp_dir().join(format!("arb-live-new-market-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let mut cfg = demo::config_for(&sim, Config::load(None).unwrap(), journal.clone());
    cfg.market.pairs = vec!["BTC/USDT".into()];
    cfg.market.futures = Vec::new();
    cfg.orders.open_markets = vec![OpenMarket { venue: Venue::GateIo, market: Market::Futures }];
    let session = demo::start_on(&sim, cfg, false).expect("engine starts on the sim with real orders");
    assert!(session.instruments().iter().all(|i| i.market == Market::Spot), "no perpetual at start");
    let sock = journal.join("arb.sock");
    let telemetry = arb::telemetry::Telemetry::of(&session);
    let _ctl = arb::ctl::CtlServer::start(&sock, session.controls(), telemetry).expect("control socket");
    let synced = |n: usize| {
        let p = session.sync_progress();
        p.books_total == n && p.books_synced == n
    };
    wait("the spot books sync", 60, || synced(2));

    // MEXC's futures market has no order entry in this run: refused, saying why.
    let answer = arb::ctl::request(&sock, "add-symbol BTC/USDT --venue mexc --market futures").unwrap();
    assert_eq!(answer["ok"], false, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("open_markets")), "{answer}");

    // Gate's was opened at start: the perpetual is added, synced and traded.
    let answer = arb::ctl::request(&sock, "add-symbol BTC/USDT --venue gateio --market futures").unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    let added = &answer["result"]["added"];
    assert_eq!(added.as_array().map(Vec::len), Some(1), "{answer}");
    let perp = InstrumentId(added[0]["id"].as_u64().unwrap() as u16);
    wait("the perpetual's book syncs", 60, || synced(3));
    let executed = session.executed_by_instrument().clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    while executed.get(perp) == 0 {
        sim.dislocate(DislocationKind::Basis, Venue::GateIo, Asset::BTC, 40.0);
        assert!(
            Instant::now() < deadline,
            "no operation on Gate's perpetual within 90 s: {}\n{:?}",
            session.stats().snapshot(),
            session.view().outcomes
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The contracts the engine booked are those the venue holds, and some are held.
    let inst = session.instruments().get(perp).clone();
    let venue_contracts = || {
        let held = sim.account(Venue::GateIo).positions.get(&inst.symbol).map_or(0, |p| p.contracts);
        Qty::parse(&held.to_string(), inst.qty_scale).unwrap()
    };
    wait("the engine's contracts equal the venue's", 30, || {
        let ops = session.stats().operations_in_progress();
        ops == 0 && session.positions().get(perp) == venue_contracts()
    });
    assert_ne!(venue_contracts(), Qty(0), "the basis entry holds a position");
    let snap = session.stats().snapshot();
    assert_eq!(snap.state.ops_failed.iter().sum::<u64>(), 0, "{snap}");
    session.stop().expect("clean stop");
    let _ = std::fs::remove_dir_all(&journal);
}
