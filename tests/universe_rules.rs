//! The universe by rules against the simulated venues, which list 24 pairs per venue with
//! a 24 h volume each in their ticker lists: `arb check-config` prints the universe the
//! rules select (the same set this test works out from the sim's own listings), an
//! engine started with the rules loads exactly those instruments and syncs their books,
//! and restarts on the same journal with looser and then stricter rules keep every id
//! the journal wrote (new instruments after them; instruments the rules drop kept).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arb::config::Config;
use pipeline::types::{Market, Venue};
use sim::{Sim, SimConfig};

/// The pairs the sim lists in `market` whose USDT volume is at least `min` on both venues,
/// leaving out `excluded` (an asset), by the sim's own listings.
fn expected(sim: &Sim, market: Market, min: u128, excluded: &str) -> BTreeSet<String> {
    let listings = &sim.catalog().listings;
    let of = |venue: Venue| -> Vec<(String, u128)> {
        listings
            .iter()
            .filter(|l| l.venue == venue && l.market == market && l.quote == "USDT" && l.base != excluded)
            .map(|l| (format!("{}/USDT", l.base), l.volume_24h_quote().parse::<u128>().unwrap()))
            .collect()
    };
    let mexc = of(Venue::Mexc);
    of(Venue::GateIo)
        .into_iter()
        .filter(|(p, v)| *v >= min && mexc.iter().any(|(q, w)| q == p && *w >= min))
        .map(|(p, _)| p)
        .collect()
}

/// The sim's engine configuration (paper) with `[market.rules]` instead of the pair lists.
fn config(sim: &Sim, dir: &Path, min_volume: &str, excluded: &str) -> PathBuf {
    let text = arb::cmd::sim::engine_config_toml(sim).replace("dry_run = false", "dry_run = true");
    let lists = "pairs = [\"BTC/USDT\", \"ETH/USDT\", \"ETH/BTC\"]\nfutures = [\"BTC/USDT\", \"ETH/USDT\"]\n";
    assert!(text.contains(lists), "the demo's [market] changed:\n{text}");
    let rules = format!(
        "pairs = [\"ETH/BTC\"]\n\n[market.rules]\nquote = \"USDT\"\nmin_volume_24h_quote = \"{min_volume}\"\n\
         exclude = [\"{excluded}\"]\n"
    );
    let path = dir.join(format!("rules-{min_volume}.toml"));
    std::fs::write(&path, text.replace(lists, &rules)).unwrap();
    path
}

/// The list after `label` in check-config's output.
fn listed(out: &str, label: &str) -> BTreeSet<String> {
    let line =
        out.lines().find_map(|l| l.trim_start().strip_prefix(label)).unwrap_or_else(|| panic!("{out}"));
    line.split_whitespace().filter(|w| *w != "none").map(str::to_owned).collect()
}

/// (venue, market, symbol) of each instrument of a running engine, in id order.
type Table = Vec<(Venue, Market, String)>;

fn start(path: &Path, journal: &Path) -> arb::engine::Session {
    let mut cfg = Config::load(Some(path)).unwrap();
    cfg.journal.dir = journal.to_owned();
    arb::cmd::live::start(cfg, None).unwrap()
}

fn table(s: &arb::engine::Session) -> Table {
    s.instruments().iter().map(|i| (i.venue, i.market, i.symbol.clone())).collect()
}

fn pairs_of(s: &arb::engine::Session, market: Market) -> BTreeSet<String> {
    let t = s.instruments();
    t.iter().filter(|i| i.market == market).map(|i| t.pair_name(i.id)).collect()
}

#[test]
fn rules_select_the_universe_from_the_venues_and_restarts_keep_its_ids() {
    let sim = Sim::start(SimConfig { seed: 5, plain: true, ..SimConfig::default() }.with_pairs(24)).unwrap();
    let dir = std::env::temp_dir().join(format!("arb-universe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    // The generated asset with the most volume, so that excluding it changes the result.
    let least = |name: &str| {
        let v = sim
            .catalog()
            .listings
            .iter()
            .filter(|l| l.base == name && l.market == Market::Spot && l.quote == "USDT");
        v.map(|l| l.volume_24h_quote().parse::<u128>().unwrap()).min().unwrap_or(0)
    };
    let excluded = sim.catalog().assets[3..].iter().map(|a| a.name).max_by_key(|n| least(n)).unwrap();
    assert!(least(excluded) >= 10_000_000, "{excluded} would pass the volume rule");

    // check-config resolves the rules from the venues and prints the universe.
    let strict = config(&sim, &dir, "10000000", excluded);
    let out = arb::cmd::check_config::run(&strict, false).unwrap();
    assert!(out.contains("universe rules: quote USDT, spot and futures, on every venue"), "{out}");
    let mut spot = expected(&sim, Market::Spot, 10_000_000, excluded);
    let futures = expected(&sim, Market::Futures, 10_000_000, excluded);
    let all_usdt = expected(&sim, Market::Spot, 0, "");
    assert!(
        spot.len() >= 3 && spot.len() + 3 < all_usdt.len(),
        "the volume rule keeps some and drops some: {spot:?} of {all_usdt:?}"
    );
    assert!(!futures.is_empty());
    spot.insert("ETH/BTC".into());
    assert_eq!(listed(&out, "spot pairs:"), spot, "{out}");
    assert_eq!(listed(&out, "perpetuals:"), futures, "{out}");
    assert!(!out.contains(&format!("{excluded}/USDT")), "{excluded} is excluded: {out}");

    // An engine on the rules loads exactly that universe and syncs every book.
    let first = start(&strict, &journal);
    assert_eq!(pairs_of(&first, Market::Spot), spot);
    assert_eq!(pairs_of(&first, Market::Futures), futures);
    assert_eq!(first.instruments().len(), 2 * (spot.len() + futures.len()), "on both venues");
    assert!(first.universe().contains("by rules (quote USDT"), "{}", first.universe());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = first.sync_progress();
        if p.books_total > 0 && p.books_synced == p.books_total {
            break;
        }
        assert!(Instant::now() < deadline, "books not synced in 60 s: {}/{}", p.books_synced, p.books_total);
        std::thread::sleep(Duration::from_millis(100));
    }
    let ids_first = table(&first);
    first.stop().unwrap();

    // Looser rules select more: the journal's instruments keep their ids, new ones follow.
    let loose = config(&sim, &dir, "1000000", excluded);
    let second = start(&loose, &journal);
    let ids_second = table(&second);
    assert!(ids_second.len() > ids_first.len(), "the looser rules select more");
    assert_eq!(ids_second[..ids_first.len()], ids_first[..], "the journal's ids stay");
    assert_eq!(pairs_of(&second, Market::Futures), expected(&sim, Market::Futures, 1_000_000, excluded));
    second.stop().unwrap();

    // Stricter rules would drop pairs the journal has: they stay, under the same ids.
    let strictest = config(&sim, &dir, "500000000", excluded);
    let third = start(&strictest, &journal);
    assert_eq!(table(&third), ids_second, "every journaled instrument is kept under its id");
    third.stop().unwrap();

    // Without network, check-config shows the rules and says the universe needs the venues.
    drop(sim);
    let out = arb::cmd::check_config::run(&strict, false).unwrap();
    assert!(out.contains("universe rules: quote USDT"), "{out}");
    assert!(out.contains("universe not resolved now"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
