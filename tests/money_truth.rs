//! Money truth: what the engine reports is what happened at the venues. The engine trades
//! the simulated venues with real signed orders (spot-spot, triangular and basis entries)
//! while the perpetuals settle funding every few seconds; then the market is frozen and
//! funding stopped, the engine stops, and its report is held against the venues' own
//! accounts, read before and after through the venues' signed REST API as any client
//! would read them (`support/venue_rest.rs`):
//! - every wallet's change (spot per asset and venue, futures cash, contracts) in the
//!   report's `balances` equals the venue's exactly;
//! - `equity_change_usd` equals the venues' equity change valued at the same executable
//!   prices (bid for longs, ask for shorts) within 0.01 USD;
//! - `funding_usd` equals the funding the venues booked, exactly.

#[path = "support/venue_rest.rs"]
mod venue_rest;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arb::cmd::demo;
use arb::config::Config;
use pipeline::types::{Amount, Market, Qty, Rounding, Venue};
use serde_json::Value;
use sim::{ModelConfig, Sim, SimConfig};
use venue_rest::{Accounts, VenueRest};

fn amount(v: &Value) -> Amount {
    Amount::parse(v.as_str().unwrap_or_else(|| panic!("a decimal string: {v}"))).unwrap()
}

#[test]
fn the_engines_books_equal_the_venues_accounts() {
    let model = ModelConfig { dislocation_every_ms: 600, ..ModelConfig::default() };
    let sim = Sim::start(SimConfig { seed: 5, model, funding_interval_ms: 3_000, ..SimConfig::default() })
        .expect("sim starts");
    books_equal_accounts(&sim, false);
}

/// The same over generated assets priced well under a dollar, so one operation trades
/// thousands of units: a lot's share of its cost (`cost * closed / held`) is then past
/// `i128` before the division, which once booked a profitable triangle at -1,718 USD.
#[test]
fn over_cheap_generated_assets_the_books_still_equal_the_venues_accounts() {
    let model = ModelConfig { dislocation_every_ms: 400, ..ModelConfig::default() };
    let sim = SimConfig { seed: 6, model, funding_interval_ms: 3_000, ..SimConfig::default() }.with_pairs(12);
    let sim = Sim::start(sim).expect("sim starts");
    books_equal_accounts(&sim, true);
}

/// Trades `sim` with real signed orders until every kind traded and funding settled,
/// then holds the engine's report against the venues' accounts read over REST.
fn books_equal_accounts(sim: &Sim, everything: bool) {
    let mut rest: Vec<VenueRest> = Venue::ALL
        .iter()
        .map(|&v| {
            let e = sim.endpoints().get(v);
            VenueRest::new(v, &e.rest, &e.api_key, e.api_secret.expose(), sim.ca_pem_path())
        })
        .collect();
    let before: Vec<Accounts> = rest.iter_mut().map(VenueRest::accounts).collect();
    let journal = std::env::temp_dir().join(format!("arb-money-truth-{}-{everything}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let mut cfg = demo::config_for(sim, Config::load(None).unwrap(), journal.clone());
    if everything {
        cfg = demo::trade_everything(sim, cfg);
    }
    // Basis positions are closed after 2 s, so the run sees exits as well as entries.
    cfg.state.basis.max_hold_ms = 2_000;
    let session = demo::start_on(sim, cfg, false).expect("engine starts on the sim with real orders");
    let instruments = session.instruments().clone();
    // Until every kind traded and funding settled on both venues (at most 40 s).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let approved = session.stats().snapshot().risk.approved;
        let funded = Venue::ALL.iter().all(|&v| sim.account(v).funding_payments > 0);
        let exits = session.stats().state.basis_exits.get();
        if approved.iter().all(|&n| n > 0) && funded && exits > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "not every kind traded with funding in 40 s: {approved:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Freeze the market, stop funding, and give the engine time to see the last of it
    // (MEXC funding is read every 5 s; marks every second).
    sim.freeze(true);
    for v in Venue::ALL {
        sim.set_funding_interval(v, 0);
    }
    std::thread::sleep(Duration::from_secs(7));
    let stopped = session.stop().expect("clean stop");
    let after: Vec<Accounts> = rest.iter_mut().map(VenueRest::accounts).collect();
    let report = stopped.report.to_json();
    eprintln!("{}", stopped.report.to_text());

    // Every wallet's change, exactly.
    let mut mismatches = Vec::new();
    let mut pooled: BTreeMap<String, Amount> = BTreeMap::new();
    for line in report["balances"].as_array().expect("balances") {
        let venue = match line["venue"].as_str() {
            Some("gateio") => Venue::GateIo,
            Some("mexc") => Venue::Mexc,
            other => panic!("venue {other:?}"),
        };
        let (b, a) = (&before[venue.index()], &after[venue.index()]);
        let asset = line["asset"].as_str().unwrap().to_owned();
        let engine = amount(&line["end"]) - amount(&line["start"]);
        let venue_change = match (line["account"].as_str().unwrap(), asset.strip_suffix(" contracts")) {
            ("spot", _) => {
                *pooled.entry(asset.clone()).or_default() += a.spot(&asset) - b.spot(&asset);
                a.spot(&asset) - b.spot(&asset)
            }
            ("futures", None) => a.futures_cash - b.futures_cash,
            ("futures", Some(symbol)) => {
                let contracts = |x: &Accounts| x.positions.get(symbol).map_or(Amount::ZERO, |p| p.contracts);
                contracts(a) - contracts(b)
            }
            other => panic!("account {other:?}"),
        };
        if engine != venue_change {
            mismatches
                .push(format!("{venue} {} {asset}: engine {engine}, venue {venue_change}", line["account"]));
        }
    }
    assert!(
        mismatches.is_empty(),
        "the engine's wallets differ from the venues':\n{}",
        mismatches.join("\n")
    );
    // What was compared: spot, futures cash and contracts on both venues, with basis
    // positions open and fees charged in the base assets (which move the positions).
    let lines = report["balances"].as_array().unwrap();
    assert!(lines.iter().filter(|l| l["account"] == "spot").count() >= 6, "{lines:?}");
    assert!(after.iter().any(|a| !a.positions.is_empty()), "a basis position is open");
    assert!(report["fees"]["BTC"].is_string() || report["fees"]["ETH"].is_string(), "{}", report["fees"]);

    // Funding, exactly.
    let funding: Amount =
        Venue::ALL.iter().map(|&v| after[v.index()].funding - before[v.index()].funding).sum();
    assert!(
        Venue::ALL.iter().all(|&v| after[v.index()].funding_payments > before[v.index()].funding_payments)
    );
    assert_eq!(amount(&report["funding_usd"]), funding, "funding as the venues booked it");

    // Equity at the executable prices: spot assets pooled over venues at the bid (long)
    // or ask (short) of the pair the engine marks them with (the first USDT pair in its
    // table), futures cash, and each position at its bid/ask less its cost.
    let mut equity = Amount::ZERO;
    for (asset, d) in &pooled {
        if asset == "USDT" {
            equity += *d;
            continue;
        }
        if d.is_zero() {
            continue;
        }
        let pair = instruments
            .iter()
            .find(|i| {
                i.market == Market::Spot
                    && instruments.asset_name(i.base) == asset
                    && instruments.asset_name(i.quote) == "USDT"
            })
            .expect("a USDT pair");
        let (bid, ask) = sim.top(pair.venue, Market::Spot, &pair.symbol).expect("a two-sided book");
        let p = pair.price_amount(if d.0 > 0 { bid } else { ask });
        equity += d.mul(p, Rounding::Floor).unwrap();
    }
    // Positions: the venue's contracts at their executable price less their entry cost
    // (none was open before the run).
    for v in Venue::ALL {
        let (b, a) = (&before[v.index()], &after[v.index()]);
        assert!(b.positions.is_empty(), "{v}: {:?}", b.positions);
        equity += a.futures_cash - b.futures_cash;
        for (symbol, p) in &a.positions {
            let inst = instruments.get(instruments.find(v, Market::Futures, symbol).expect("listed"));
            let (bid, ask) = sim.top(v, Market::Futures, symbol).expect("a two-sided book");
            let contracts = p.contracts.abs().to_scaled(inst.qty_scale, Rounding::Exact).expect("whole lots");
            let base = inst.base_amount(Qty(contracts as i64)).unwrap();
            let long = p.contracts > Amount::ZERO;
            let value = base.mul(inst.price_amount(if long { bid } else { ask }), Rounding::Floor).unwrap();
            let cost = base.mul(p.entry_price, Rounding::Floor).unwrap();
            equity += if long { value - cost } else { cost - value };
        }
    }
    let reported = amount(&report["equity_change_usd"]);
    assert!(
        (reported - equity).abs() <= Amount::parse("0.01").unwrap(),
        "equity change: engine {reported}, venues {equity}"
    );
    let _ = std::fs::remove_dir_all(&journal);
}
