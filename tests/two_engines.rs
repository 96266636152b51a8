//! Two engines on one account: each with its own fresh journal, so both number their
//! operations from 1 and, without an instance prefix, would send the same client order
//! ids and take each other's fills for their own (the reproduction in issue 12: engine B
//! ended with operations it never started and recovery orders far beyond its limits).
//!
//! Both trade the same simulated account at once. Each must see the other's fills as
//! foreign (counted, never adopted), hold in its journal exactly the positions its own
//! orders made at the venues, never journal an order it did not intend, and stay within
//! its limits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use arb::cmd::demo;
use arb::config::Config;
use arb::engine::Session;
use pipeline::journal::{ClientPrefix, Verdict, inspect};
use pipeline::types::{Amount, Market, Side, Venue};
use pipeline::units::Usd;
use sim::{ModelConfig, Sim, SimConfig};

/// Per engine: the net base quantity its own orders filled, per (venue, market, symbol).
type Filled = BTreeMap<(Venue, Market, String), Amount>;

/// What `prefix`'s orders filled at the venues: net per instrument, how many orders, how
/// many of them filled at all.
fn filled_by(sim: &Sim, prefix: ClientPrefix) -> (Filled, usize, usize) {
    let mut net = Filled::new();
    let (mut orders, mut filled) = (0, 0);
    for v in Venue::ALL {
        for o in sim.account_orders(v) {
            let text = o.text.strip_prefix("t-").unwrap_or(&o.text);
            if text.strip_prefix(prefix.as_str()).is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            {
                orders += 1;
                filled += usize::from(!o.filled_base.is_zero());
                let signed = if o.side == Side::Buy { o.filled_base } else { -o.filled_base };
                *net.entry((v, o.market, o.symbol)).or_insert(Amount::ZERO) += signed;
            }
        }
    }
    net.retain(|_, a| !a.is_zero());
    (net, orders, filled)
}

fn start(sim: &Sim, name: &str) -> (Session, PathBuf, Config) {
    let journal = std::env::temp_dir().join(format!("arb-two-engines-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let mut cfg = demo::config_for(sim, Config::load(None).unwrap(), journal.clone());
    cfg.risk.max_position_size_usd = Usd::new(2_000);
    cfg.risk.max_total_exposure_usd = Usd::new(8_000);
    let session = demo::start_on(sim, cfg.clone(), false).expect("engine starts on the sim with real orders");
    (session, journal, cfg)
}

#[test]
fn two_engines_on_one_account_never_adopt_each_others_orders() {
    let model = ModelConfig { dislocation_every_ms: 400, ..ModelConfig::default() };
    let sim = Sim::start(SimConfig { seed: 5, model, ..SimConfig::default() }).expect("sim starts");
    let (a, ja, cfg) = start(&sim, "a");
    let (b, jb, _) = start(&sim, "b");
    assert_ne!(a.identity(), b.identity(), "each instance draws its own prefix");
    assert!(!a.identity().is_legacy() && !b.identity().is_legacy());

    let prefixes = [a.identity(), b.identity()];
    let run = std::thread::spawn(move || {
        a.run_for(Some(Duration::from_secs(12)), |_| {});
        a.stop().expect("engine A stops cleanly")
    });
    b.run_for(Some(Duration::from_secs(12)), |_| {});
    let stopped_b = b.stop().expect("engine B stops cleanly");
    let stopped_a = run.join().expect("engine A's thread");

    let engines = [("A", &stopped_a, &ja, prefixes[1]), ("B", &stopped_b, &jb, prefixes[0])];
    for (name, me, journal, other) in engines {
        let ins = inspect(journal).expect("journal readable");
        assert_eq!(ins.verdict, Verdict::Intact, "{name}");
        let prefix = ins.replay.identity.expect("the journal records the instance's identity");
        assert_eq!(prefix.to_string(), me.report.client_order_id_prefix, "{name}");
        let (venue_net, own_orders, _) = filled_by(&sim, prefix);
        assert!(own_orders > 0, "engine {name} traded ({})", me.report.to_text());

        // Every order in the journal is one this engine meant to send: nothing adopted.
        let adopted: Vec<_> = ins.replay.orders.iter().filter(|o| !o.intent).collect();
        assert!(adopted.is_empty(), "engine {name} journaled orders it never sent: {adopted:?}");
        let journaled = ins.replay.orders.iter().filter(|o| o.intent).count();
        assert_eq!(
            journaled, own_orders,
            "engine {name}: its journal names exactly its orders at the venues"
        );

        // Its positions are exactly what its own orders filled at the venues.
        let specs = arb::journal_meta::read(journal).expect("instrument table beside the journal");
        let table = pipeline::types::Instruments::from_specs(&specs).unwrap();
        let mut engine_net = Filled::new();
        for p in &ins.replay.positions {
            let i = table.get(p.inst);
            let base = i.base_amount(pipeline::types::Qty(p.qty.0.abs())).expect("position in range");
            let signed = if p.qty.0 < 0 { -base } else { base };
            *engine_net.entry((i.venue, i.market, i.symbol.clone())).or_insert(Amount::ZERO) += signed;
        }
        engine_net.retain(|_, a| !a.is_zero());
        assert_eq!(engine_net, venue_net, "engine {name}'s positions are its own orders' fills");

        // The other engine's fills were seen and counted as foreign, never adopted.
        let (_, _, other_filled) = filled_by(&sim, other);
        if other_filled > 0 {
            assert!(
                me.report.foreign_fill_count > 0,
                "engine {name} saw none of the other's fills as foreign: {}",
                me.report.to_text()
            );
        }

        // Within its limits.
        assert!(
            me.report.open_exposure_usd <= cfg.risk.max_total_exposure_usd.amount(),
            "engine {name} reports {} USD of exposure",
            me.report.open_exposure_usd
        );
    }
    let _ = std::fs::remove_dir_all(&ja);
    let _ = std::fs::remove_dir_all(&jb);
}
