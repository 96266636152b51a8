//! Pairs of an asset the run did not load, on a venue market it had no connection to,
//! added while the engine runs, over real loopback sockets. The engine starts on the
//! simulated venues with BTC/USDT and ETH/USDT spot only: no SOL, and no futures
//! connection on either venue. `arb ctl add-symbol SOL/USDT` brings the asset SOL (the
//! next asset id, in a slot reserved by `[market] max_assets`) with its spot books on
//! both venues; `add-symbol SOL/USDT --venue gateio --market futures` adds Gate's SOL
//! perpetual, for which the md stage opens Gate's first futures connection. Every added
//! book syncs, and the basis the sim opens between Gate's SOL spot and perpetual is
//! traded (paper fills, the paper SOL balance credited once SOL is in the table).
//! `remove-symbol` frees the books; a restart on the same journal loads every
//! instrument and SOL under the same ids, and SOL's books sync again when it is added
//! again.

#[path = "support/listing.rs"]
mod listing;

use std::path::Path;
use std::time::{Duration, Instant};

use listing::{ctl, ids, start, table, wait};
use pipeline::journal::inspect;
use pipeline::types::{AssetId, InstrumentId, Market, Venue};
use sim::catalog::Asset;
use sim::{DislocationKind, ModelConfig, Sim, SimConfig};

fn synced(s: &arb::engine::Session, n: usize) -> bool {
    let p = s.sync_progress();
    p.books_total == n && p.books_synced == n
}

fn server(s: &arb::engine::Session, journal: &Path) -> arb::ctl::CtlServer {
    arb::ctl::CtlServer::start(&journal.join("arb.sock"), s.controls(), arb::telemetry::Telemetry::of(s))
        .unwrap()
}

#[test]
fn a_pair_of_a_new_asset_on_a_market_without_a_connection_is_added_synced_traded_and_keeps_its_ids() {
    // No dislocations of the model's own: the test makes the one it trades.
    let model = ModelConfig { dislocation_every_ms: u64::MAX / 4, ..ModelConfig::default() };
    let sim = Sim::start(SimConfig { seed: 43, plain: true, model, ..SimConfig::default() }).unwrap();
    assert!(sim.catalog().listings.iter().any(|l| l.base == "SOL" && l.market == Market::Futures));
    let dir = std::env::temp_dir().join(format!("arb-dynamic-assets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let text = arb::cmd::sim::engine_config_toml(&sim).replace("dry_run = false", "dry_run = true");
    let market = "pairs = [\"BTC/USDT\", \"ETH/USDT\", \"ETH/BTC\"]\nfutures = [\"BTC/USDT\", \"ETH/USDT\"]";
    assert!(text.contains(market), "the demo's [market] changed:\n{text}");
    let mut text = text.replace(
        market,
        "pairs = [\"BTC/USDT\", \"ETH/USDT\"]\nfutures = []\nmax_instruments = 16\nmax_assets = 6",
    );
    // Paper money on both venues; SOL's is credited once SOL is in the table.
    for venue in ["gateio", "mexc"] {
        for (asset, amount) in [("USDT", "100000"), ("BTC", "2"), ("ETH", "40"), ("SOL", "200")] {
            text.push_str(&format!(
                "\n[[paper.balances]]\nvenue = \"{venue}\"\nasset = \"{asset}\"\namount = \"{amount}\"\n"
            ));
        }
    }
    let config = dir.join("engine.toml");
    std::fs::write(&config, text).unwrap();

    let first = start(&config, &journal);
    let at_start = table(&first);
    assert_eq!(at_start.len(), 4, "BTC/USDT and ETH/USDT spot on both venues: {at_start:?}");
    assert!(at_start.iter().all(|(_, m, _)| *m == Market::Spot), "no futures market at start");
    let t = first.instruments();
    assert_eq!((t.asset_count(), t.asset_capacity()), (3, 6), "BTC, USDT, ETH; slots for 3 more");
    assert_eq!(t.find_asset("SOL"), None);
    let srv = server(&first, &journal);
    wait("the books loaded at start sync", 90, || synced(&first, 4));

    // A new asset: SOL/USDT spot on both venues.
    let answer = ctl(&srv, "add-symbol SOL/USDT");
    let spot = ids(&answer, "added");
    assert_eq!(spot, [InstrumentId(4), InstrumentId(5)], "{answer}");
    let sol = first.instruments().find_asset("SOL");
    assert_eq!(sol, Some(AssetId(3)), "SOL takes the next asset id");
    assert_eq!(first.instruments().get(spot[0]).base, AssetId(3));
    // A market without a connection at start: Gate's SOL perpetual.
    let answer = ctl(&srv, "add-symbol SOL/USDT --venue gateio --market futures");
    let fut = ids(&answer, "added");
    assert_eq!(fut, [InstrumentId(6)], "{answer}");
    let now = table(&first);
    assert_eq!(now[..4], at_start[..]);
    assert_eq!(now[6], (Venue::GateIo, Market::Futures, "SOL_USDT".to_owned()));
    wait("the added books sync, the perpetual's on its new connection", 90, || synced(&first, 7));
    let added: Vec<InstrumentId> = spot.iter().chain(&fut).copied().collect();
    for &id in &added {
        assert!(first.book_counters().get(id).bytes > 0, "the book of {id:?} is allocated");
    }
    // The new connection is watched like those of the start: metrics, health, dashboard.
    let links = first.connections().list();
    assert!(links.iter().any(|(v, m, _)| (*v, *m) == (Venue::GateIo, Market::Futures)), "{links:?}");
    let telemetry = arb::telemetry::Telemetry::of(&first);
    let metrics = telemetry.prometheus();
    assert!(metrics.contains(r#"arb_ws_reconnects_total{venue="gateio",market="futures"}"#), "{metrics}");
    let (_, health) = telemetry.health();
    let feed = &health["feed"];
    assert_eq!(feed["connections"].as_array().map(Vec::len), Some(links.len()), "{health}");

    // Traded: Gate's SOL perpetual above its spot is a basis entry.
    let executed = first.executed_by_instrument().clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    while executed.get(fut[0]) == 0 {
        sim.dislocate(DislocationKind::Basis, Venue::GateIo, Asset::SOL, 40.0);
        assert!(
            Instant::now() < deadline,
            "no operation on Gate's SOL perpetual within 120 s: {}\n{:?}",
            first.stats().snapshot(),
            first.view().outcomes
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Removed: unsubscribed and its books freed.
    let answer = ctl(&srv, "remove-symbol SOL/USDT");
    assert_eq!(answer["removed"].as_array().unwrap().len(), 3, "{answer}");
    wait("the removed books are freed", 60, || {
        added.iter().all(|&id| first.book_counters().get(id).bytes == 0)
            && first.sync_progress().books_total == 4
    });
    drop(srv);
    first.stop().unwrap();
    let listed = inspect(&journal).unwrap().replay.listed;
    assert_eq!(
        listed,
        added.iter().map(|&id| (id, false)).collect::<Vec<_>>(),
        "journaled: added, then removed"
    );

    // Restart on the same journal: every instrument and asset id as before.
    let second = start(&config, &journal);
    assert_eq!(table(&second), now, "every instrument keeps its id");
    assert_eq!(second.instruments().find_asset("SOL"), Some(AssetId(3)), "SOL keeps its asset id");
    wait("the books sync after the restart", 90, || synced(&second, 4));
    for &id in &added {
        assert_eq!(second.book_counters().get(id).bytes, 0, "{id:?} stays removed: no book");
    }
    // Added again: the same ids, synced and traded again.
    let srv = server(&second, &journal);
    let mut trading = Vec::new();
    for line in ["add-symbol SOL/USDT --market spot", "add-symbol SOL/USDT --venue gateio --market futures"] {
        let answer = ctl(&srv, line);
        assert_eq!(ids(&answer, "added"), [], "{line}: {answer}");
        trading.extend(ids(&answer, "trading"));
    }
    trading.sort();
    assert_eq!(trading, added, "spot on both venues and Gate's perpetual");
    wait("SOL's books sync again", 90, || synced(&second, 7));
    assert_eq!(table(&second), now);
    drop(srv);
    second.stop().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
