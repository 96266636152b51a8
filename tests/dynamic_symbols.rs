//! Instruments added and removed while the engine runs, over real loopback sockets: an
//! engine started on the simulated venues without ETH/BTC gets it through
//! `arb ctl add-symbol ETH/BTC` on its control socket; the venues' metadata is fetched,
//! its books are subscribed and synced, detection finds the triangles it completes, and
//! an operation is traded on it (the sim shifts ETH/BTC away from its USDT legs) while the
//! instruments loaded at start keep trading. `arb ctl remove-symbol ETH/BTC` stops it,
//! unsubscribes and frees its books. A restart on the same journal loads every
//! instrument under the same id, ETH/BTC included, and trades ETH/BTC no more.

#[path = "support/listing.rs"]
mod listing;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use listing::{ctl, start, table, wait};
use pipeline::journal::inspect;
use pipeline::types::{InstrumentId, Market, Venue};
use sim::catalog::Asset;
use sim::{DislocationKind, ModelConfig, Sim, SimConfig};

#[test]
fn a_symbol_added_while_running_is_synced_traded_removed_and_keeps_its_id() {
    // No dislocations of the model's own: the test makes the one it trades.
    let model = ModelConfig { dislocation_every_ms: u64::MAX / 4, ..ModelConfig::default() };
    let sim = Sim::start(SimConfig { seed: 41, plain: true, model, ..SimConfig::default() }).unwrap();
    assert!(
        sim.catalog().listings.iter().any(|l| l.base == "ETH" && l.quote == "BTC"),
        "the sim lists ETH/BTC"
    );
    let dir = std::env::temp_dir().join(format!("arb-dynamic-symbols-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let text = arb::cmd::sim::engine_config_toml(&sim).replace("dry_run = false", "dry_run = true");
    let pairs = "pairs = [\"BTC/USDT\", \"ETH/USDT\", \"ETH/BTC\"]";
    assert!(text.contains(pairs), "the demo's [market] changed:\n{text}");
    let mut text = text.replace(pairs, "pairs = [\"BTC/USDT\", \"ETH/USDT\"]\nmax_instruments = 16");
    // Paper money on both venues, in every asset a triangle's legs draw on.
    for venue in ["gateio", "mexc"] {
        for (asset, amount) in [("USDT", "100000"), ("BTC", "2"), ("ETH", "40")] {
            text.push_str(&format!(
                "\n[[paper.balances]]\nvenue = \"{venue}\"\nasset = \"{asset}\"\namount = \"{amount}\"\n"
            ));
        }
    }
    let config = dir.join("engine.toml");
    std::fs::write(&config, text).unwrap();

    let first = start(&config, &journal);
    let at_start = table(&first);
    assert_eq!(at_start.len(), 8, "BTC/USDT and ETH/USDT spot and futures on both venues: {at_start:?}");
    assert!(!at_start.iter().any(|(_, _, s)| s.contains("ETH_BTC") || s == "ETHBTC"));
    assert_eq!(first.instruments().capacity(), 16);
    let server = arb::ctl::CtlServer::start(
        &journal.join("arb.sock"),
        first.controls(),
        arb::telemetry::Telemetry::of(&first),
    )
    .unwrap();
    wait("the books loaded at start sync", 60, || {
        let p = first.sync_progress();
        p.books_total == 8 && p.books_synced == 8
    });
    let came_up_in = first.sync_progress().time_to_all_synced_ms.expect("every book synced once");

    // Added while running: both venues' ETH/BTC, after every id loaded at start.
    let answer = ctl(&server, "add-symbol ETH/BTC");
    let added: Vec<InstrumentId> = answer["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| InstrumentId(a["id"].as_u64().unwrap() as u16))
        .collect();
    assert_eq!(added, [InstrumentId(8), InstrumentId(9)], "{answer}");
    let now = table(&first);
    assert_eq!(now[..8], at_start[..]);
    let gate_eth_btc = InstrumentId(
        now.iter().position(|(v, m, s)| *v == Venue::GateIo && *m == Market::Spot && s == "ETH_BTC").unwrap()
            as u16,
    );
    assert!(added.contains(&gate_eth_btc));
    wait("the added books sync", 60, || {
        let p = first.sync_progress();
        p.books_total == 10 && p.books_synced == 10
    });
    // The engine came up when it did: a book added since has its own first sync.
    assert_eq!(first.sync_progress().time_to_all_synced_ms, Some(came_up_in));
    for &id in &added {
        assert!(first.book_counters().get(id).bytes > 0, "the book of {id:?} is allocated");
    }

    // Traded: ETH/BTC on Gate away from BTC/USDT and ETH/USDT makes a triangle.
    let traded = first.executed_by_instrument().clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while traded.get(gate_eth_btc) == 0 {
        sim.dislocate(DislocationKind::Triangular, Venue::GateIo, Asset::ETH, 40.0);
        assert!(
            Instant::now() < deadline,
            "no operation on the added ETH/BTC within 60 s: {}\n{:?}",
            first.stats().snapshot(),
            first.view().outcomes
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Removed: no new operations, then unsubscribed and its books freed.
    let answer = ctl(&server, "remove-symbol ETH/BTC");
    assert_eq!(answer["removed"].as_array().unwrap().len(), 2, "{answer}");
    wait("the removed books are freed", 30, || {
        added.iter().all(|&id| first.book_counters().get(id).bytes == 0)
            && first.sync_progress().books_total == 8
    });
    // MEXC acknowledges an unsubscription as it does a subscription, echoing the topic:
    // that is no refused subscription.
    let refused = || first.feed_counters().unwrap().subscriptions_refused.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(refused(), 0, "unsubscribing is not a refusal");
    let before = traded.get(gate_eth_btc);
    for _ in 0..20 {
        sim.dislocate(DislocationKind::Triangular, Venue::GateIo, Asset::ETH, 40.0);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(traded.get(gate_eth_btc), before, "nothing traded on a removed instrument");
    drop(server);
    first.stop().unwrap();
    let listed = inspect(&journal).unwrap().replay.listed;
    assert_eq!(
        listed,
        added.iter().map(|&id| (id, false)).collect::<Vec<_>>(),
        "journaled: added, then removed"
    );

    // Restart on the same journal: every id as before, ETH/BTC's included.
    let second = start(&config, &journal);
    assert_eq!(table(&second), now, "every instrument keeps its id");
    wait("the books sync after the restart", 60, || {
        let p = second.sync_progress();
        p.books_total == 8 && p.books_synced == 8
    });
    for &id in &added {
        assert_eq!(second.book_counters().get(id).bytes, 0, "{id:?} stays removed: no book");
    }
    // Added again, under the same ids.
    let server = arb::ctl::CtlServer::start(
        &journal.join("arb.sock"),
        second.controls(),
        arb::telemetry::Telemetry::of(&second),
    )
    .unwrap();
    let answer = ctl(&server, "add-symbol ETH/BTC --market spot");
    assert_eq!(answer["added"].as_array().unwrap().len(), 0, "{answer}");
    assert_eq!(answer["trading"].as_array().unwrap().len(), 2, "{answer}");
    wait("the books of ETH/BTC sync again", 60, || {
        let p = second.sync_progress();
        p.books_total == 10 && p.books_synced == 10
    });
    assert_eq!(table(&second), now);
    drop(server);
    second.stop().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
