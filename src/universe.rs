//! The universe by rules: which pairs and perpetuals to trade, chosen from what the venues
//! list instead of named one by one (`[market.rules]`).
//!
//! Gate.io lists thousands of spot pairs and MEXC as many; the pairs worth watching are
//! the ones both list, in the quote currency the accounts hold, with enough trading to
//! fill an arbitrage. The rules say that once; [`resolve`] applies them at start to the
//! venues' metadata and 24 h tickers ([`fetch`]), and the result becomes the
//! `[market] pairs` and `futures` lists the rest of the engine reads, so nothing after
//! the start knows rules exist. Pairs named in `pairs` and `futures` are kept as well
//! (a cross such as ETH/BTC, the third leg of a triangle, is named there).
//!
//! Cold path only: HTTP with serde_json, at start and in `arb check-config`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use adapters::net::http::{BlockingHttp, HttpConfig};
use adapters::venues::{VenueMarket, Volume24h};
use anyhow::{Context, Result, anyhow};
use pipeline::types::{Amount, InstrumentSpec, Market, Venue};
use pipeline::units::Exact;
use pipeline::validate::{Checks, toml_string};
use rustls::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::config::{Config, pair_parts};

/// `[market.rules]`: which pairs the venues list are traded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UniverseRules {
    /// The quote asset of the pairs selected.
    pub quote: String,
    /// Select spot pairs.
    pub spot: bool,
    /// Select perpetuals (USDT-margined, so only with `quote = "USDT"`).
    pub futures: bool,
    /// Only pairs listed on every venue of `[market] venues` (in the same market): what
    /// cross-venue arbitrage needs. `false` also takes pairs one venue lists.
    pub all_venues: bool,
    /// The least 24 h traded value, in the quote asset, on every venue that lists the
    /// pair; 0 takes any volume (and no ticker list is fetched unless `max_pairs` ranks).
    pub min_volume_24h_quote: Exact,
    /// Pairs (`BASE/QUOTE`) or assets (`BASE`) never selected.
    pub exclude: Vec<String>,
    /// At most this many pairs per market, the largest least volume first; 0: no cap.
    pub max_pairs: usize,
}

impl Default for UniverseRules {
    fn default() -> Self {
        Self {
            quote: "USDT".into(),
            spot: true,
            futures: true,
            all_venues: true,
            min_volume_24h_quote: Exact::default(),
            exclude: Vec::new(),
            max_pairs: 0,
        }
    }
}

impl UniverseRules {
    /// Checks of `[market.rules]`.
    pub fn validate(&self, c: &mut Checks) {
        let name_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
        if !name_ok(&self.quote) {
            c.fail("quote", toml_string(&self.quote), "must be an asset name such as \"USDT\"");
        }
        if !self.spot && !self.futures {
            c.fail("spot", false, "selects nothing: set spot, futures or both to true");
        }
        if self.futures && !self.quote.eq_ignore_ascii_case("USDT") {
            c.fail("futures", true, "perpetuals are USDT-margined: set quote = \"USDT\" or futures = false");
        }
        if self.min_volume_24h_quote.amount() < Amount::ZERO {
            c.fail("min_volume_24h_quote", self.min_volume_24h_quote.amount(), "must be 0 or more");
        }
        for e in &self.exclude {
            if pair_parts(e).is_none() && !name_ok(e) {
                c.fail("exclude", toml_string(e), "is neither BASE/QUOTE nor an asset name");
            }
        }
        c.between("max_pairs", self.max_pairs as u64, 0, 10_000);
    }

    /// The markets the rules select from.
    fn markets(&self) -> Vec<Market> {
        Market::ALL
            .into_iter()
            .filter(|m| if *m == Market::Spot { self.spot } else { self.futures })
            .collect()
    }

    /// Whether ticker volumes are needed to apply the rules.
    pub fn needs_volumes(&self) -> bool {
        self.min_volume_24h_quote.amount() > Amount::ZERO || self.max_pairs > 0
    }

    fn excludes(&self, base: &str, quote: &str) -> bool {
        self.exclude.iter().any(|e| match pair_parts(e) {
            Some((b, q)) => b == base && q == quote,
            None => e.eq_ignore_ascii_case(base),
        })
    }

    /// The rules in one line, as `check-config` and the dashboard show them.
    pub fn summary(&self) -> String {
        let mut s = format!("quote {}", self.quote.to_ascii_uppercase());
        let markets: Vec<&str> = self.markets().iter().map(|m| m.name()).collect();
        let _ = write!(s, ", {}", markets.join(" and "));
        s.push_str(if self.all_venues { ", on every venue" } else { ", on any venue" });
        if self.min_volume_24h_quote.amount() > Amount::ZERO {
            let _ = write!(s, ", 24 h volume at least {}", self.min_volume_24h_quote.amount());
        }
        if !self.exclude.is_empty() {
            let _ = write!(s, ", excluding {}", self.exclude.join(" "));
        }
        if self.max_pairs > 0 {
            let _ = write!(s, ", at most {} per market", self.max_pairs);
        }
        s
    }
}

/// What one venue market lists: its instruments and, when fetched, their 24 h volumes.
#[derive(Clone, Debug)]
pub struct Listed {
    pub vm: VenueMarket,
    pub specs: Vec<InstrumentSpec>,
    pub volumes: Vec<Volume24h>,
}

/// Why a listed pair was not selected, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeftOut {
    pub excluded: usize,
    pub not_on_every_venue: usize,
    pub low_volume: usize,
    pub over_cap: usize,
}

/// The universe the rules select.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Spot pairs as `BASE/QUOTE`, largest least volume first.
    pub pairs: Vec<String>,
    /// Perpetuals as `BASE/QUOTE`, the same order.
    pub futures: Vec<String>,
    pub left_out: LeftOut,
}

impl Resolved {
    /// One line: counts, then the first pairs of each market.
    pub fn summary(&self) -> String {
        let first = |l: &[String]| {
            let mut s = l.iter().take(8).cloned().collect::<Vec<_>>().join(" ");
            if l.len() > 8 {
                let _ = write!(s, " and {} more", l.len() - 8);
            }
            s
        };
        let l = &self.left_out;
        format!(
            "{} spot pairs [{}], {} perpetuals [{}]; left out: {} excluded, {} not on every venue, \
             {} under the volume, {} over the cap",
            self.pairs.len(),
            first(&self.pairs),
            self.futures.len(),
            first(&self.futures),
            l.excluded,
            l.not_on_every_venue,
            l.low_volume,
            l.over_cap
        )
    }
}

/// Applies `rules` to what `venues` list. A pair's volume is the least over the venues
/// that list it; a venue that lists it with no volume in its tickers counts as 0.
pub fn resolve(rules: &UniverseRules, venues: &[Venue], listed: &[Listed]) -> Resolved {
    let quote = rules.quote.to_ascii_uppercase();
    let mut out = Resolved::default();
    for market in rules.markets() {
        // Pair -> (venues listing it, least volume over them).
        let mut seen: BTreeMap<(String, String), (usize, Amount)> = BTreeMap::new();
        for l in listed.iter().filter(|l| l.vm.market() == market && venues.contains(&l.vm.venue())) {
            for s in l.specs.iter().filter(|s| s.trading_enabled && s.quote.eq_ignore_ascii_case(&quote)) {
                let volume = l
                    .volumes
                    .iter()
                    .find(|v| v.symbol == s.symbol)
                    .and_then(|v| Amount::parse(&v.quote).ok())
                    .unwrap_or(Amount::ZERO);
                let e = seen.entry((s.base.to_ascii_uppercase(), quote.clone())).or_insert((0, volume));
                e.0 += 1;
                e.1 = e.1.min(volume);
            }
        }
        let mut chosen: Vec<(Amount, String)> = Vec::new();
        for ((base, q), (n, volume)) in seen {
            if rules.excludes(&base, &q) {
                out.left_out.excluded += 1;
            } else if rules.all_venues && n < venues.len() {
                out.left_out.not_on_every_venue += 1;
            } else if volume < rules.min_volume_24h_quote.amount() {
                out.left_out.low_volume += 1;
            } else {
                chosen.push((volume, format!("{base}/{q}")));
            }
        }
        chosen.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        if rules.max_pairs > 0 && chosen.len() > rules.max_pairs {
            out.left_out.over_cap += chosen.len() - rules.max_pairs;
            chosen.truncate(rules.max_pairs);
        }
        let names = chosen.into_iter().map(|(_, p)| p).collect();
        match market {
            Market::Spot => out.pairs = names,
            Market::Futures => out.futures = names,
        }
    }
    out
}

/// Fetches what every venue market the rules look at lists (and its tickers when the
/// rules need volumes), one attempt each.
pub fn fetch(cfg: &Config, rules: &UniverseRules, tls: Option<Arc<ClientConfig>>) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for &venue in &cfg.market.venues {
        let endpoints = cfg.venue(venue).with_context(|| format!("no [[venues]] entry for {venue}"))?;
        for market in rules.markets() {
            let vm = VenueMarket::new(venue, market);
            let origin = endpoints.rest_origin(market).to_owned();
            let mut http = BlockingHttp::new(HttpConfig::new(origin.clone()), tls.clone())
                .map_err(|e| anyhow!("{origin}: {e}"))?;
            let get = |http: &mut BlockingHttp, route: &str| {
                crate::instruments::fetch(http, route).map_err(|e| anyhow!("{venue} {market}: {}", e.text))
            };
            let body = get(&mut http, vm.metadata_route())?;
            let specs = vm.parse_metadata(&body).map_err(|e| anyhow!("{venue} {market}: metadata: {e}"))?;
            let volumes = if rules.needs_volumes() {
                let body = get(&mut http, vm.ticker_route())?;
                vm.parse_volumes(&body).map_err(|e| anyhow!("{venue} {market}: tickers: {e}"))?
            } else {
                Vec::new()
            };
            out.push(Listed { vm, specs, volumes });
        }
    }
    Ok(out)
}

/// The universe `cfg` trades: with rules, what they select from the venues (one attempt;
/// the caller decides about failures) joined with the pairs named in `[market]`, else
/// `None`.
pub fn resolve_config(cfg: &Config, tls: Option<Arc<ClientConfig>>) -> Result<Option<Resolved>> {
    let Some(rules) = &cfg.market.rules else { return Ok(None) };
    let listed = fetch(cfg, rules, tls)?;
    let mut r = resolve(rules, &cfg.market.venues, &listed);
    for (named, into) in [(&cfg.market.pairs, &mut r.pairs), (&cfg.market.futures, &mut r.futures)] {
        for p in named.iter().filter_map(|p| pair_parts(p)).map(|(b, q)| format!("{b}/{q}")) {
            if !into.contains(&p) {
                into.push(p);
            }
        }
    }
    Ok(Some(r))
}

/// The universe of `[market]` in one line, as the dashboard shows it: how it was chosen
/// and how many pairs and perpetuals it holds (after [`apply_waiting`], the resolved ones).
pub fn describe(m: &crate::config::MarketConfig) -> String {
    let how = match &m.rules {
        Some(r) => format!("by rules ({})", r.summary()),
        None => "named in [market]".to_owned(),
    };
    let venues: Vec<&str> = m.venues.iter().map(|v| v.name()).collect();
    format!("{} spot pairs, {} perpetuals on {}, {how}", m.pairs.len(), m.futures.len(), venues.join(" and "))
}

/// How often a start whose rules cannot be resolved tries again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// Resolves the rules of `cfg` into its `[market] pairs` and `futures` before a start,
/// retrying every [`RETRY`] while the venues cannot be reached, until `stop` (then
/// `false`). Pairs the journal already trades (`journal_pairs`) stay in the universe so
/// that their instrument ids and positions carry over. Without rules, does nothing.
pub fn apply_waiting(
    cfg: &mut Config,
    tls: Option<Arc<ClientConfig>>,
    journal_pairs: &[(Market, String)],
    stop: &dyn Fn() -> bool,
) -> Result<bool> {
    let Some(rules) = cfg.market.rules.clone() else { return Ok(true) };
    let resolved = loop {
        match resolve_config(cfg, tls.clone()) {
            Ok(r) => break r.unwrap_or_default(),
            Err(e) => {
                eprintln!(
                    "universe: cannot resolve the rules ({}): {e:#}; next attempt in {} s",
                    rules.summary(),
                    RETRY.as_secs()
                );
                let until = std::time::Instant::now() + RETRY;
                while std::time::Instant::now() < until {
                    if stop() {
                        return Ok(false);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
    };
    eprintln!("universe: {}: {}", rules.summary(), resolved.summary());
    let (mut pairs, mut futures) = (resolved.pairs, resolved.futures);
    for (market, pair) in journal_pairs {
        let into = if *market == Market::Spot { &mut pairs } else { &mut futures };
        if !into.contains(pair) {
            eprintln!("universe: {pair} {market} kept: the journal has it");
            into.push(pair.clone());
        }
    }
    if pairs.is_empty() && futures.is_empty() {
        anyhow::bail!("universe: the rules ({}) select nothing the venues list", rules.summary());
    }
    cfg.market.pairs = pairs;
    cfg.market.futures = futures;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(venue: Venue, market: Market, base: &str, quote: &str) -> InstrumentSpec {
        InstrumentSpec {
            venue,
            market,
            symbol: VenueMarket::new(venue, market).symbol(base, quote),
            base: base.into(),
            quote: quote.into(),
            tick: "0.01".into(),
            lot: "0.01".into(),
            min_qty: None,
            max_qty: None,
            min_notional: None,
            contract_size: "1".into(),
            taker_fee: None,
            maker_fee: None,
            trading_enabled: true,
        }
    }

    /// Each venue's spot market: (base, quote, 24 h quote volume).
    fn listed(market: Market, gate: &[(&str, &str, &str)], mexc: &[(&str, &str, &str)]) -> Vec<Listed> {
        [(Venue::GateIo, gate), (Venue::Mexc, mexc)]
            .into_iter()
            .map(|(venue, list)| {
                let vm = VenueMarket::new(venue, market);
                Listed {
                    vm,
                    specs: list.iter().map(|(b, q, _)| spec(venue, market, b, q)).collect(),
                    volumes: list
                        .iter()
                        .map(|(b, q, v)| Volume24h { symbol: vm.symbol(b, q), quote: (*v).into() })
                        .collect(),
                }
            })
            .collect()
    }

    #[test]
    fn rules_keep_pairs_of_the_quote_on_every_venue_with_the_volume() {
        let gate = [
            ("BTC", "USDT", "900000000"),
            ("ETH", "USDT", "500000000"),
            ("ETH", "BTC", "900000000"),
            ("ONLY", "USDT", "900000000"),
            ("THIN", "USDT", "5000"),
            ("LUNA", "USDT", "900000000"),
            ("HALF", "USDT", "2000000"),
        ];
        let mexc = [
            ("BTC", "USDT", "800000000"),
            ("ETH", "USDT", "700000000.5"),
            ("ETH", "BTC", "900000000"),
            ("THIN", "USDT", "900000000"),
            ("LUNA", "USDT", "900000000"),
            // Below the minimum on MEXC, above it on Gate.io: the least counts.
            ("HALF", "USDT", "999999.99"),
        ];
        let mut all = listed(Market::Spot, &gate, &mexc);
        all.extend(listed(Market::Futures, &[("BTC", "USDT", "3")], &[("BTC", "USDT", "4")]));
        let rules = UniverseRules {
            futures: false,
            min_volume_24h_quote: Exact(Amount::parse("1000000").unwrap()),
            exclude: vec!["LUNA".into()],
            ..UniverseRules::default()
        };
        let r = resolve(&rules, &Venue::ALL, &all);
        assert_eq!(r.pairs, ["BTC/USDT", "ETH/USDT"], "largest least volume first");
        assert!(r.futures.is_empty(), "futures = false");
        assert_eq!(r.left_out, LeftOut { excluded: 1, not_on_every_venue: 1, low_volume: 2, over_cap: 0 });

        // One venue is enough without all_venues; the cap keeps the largest.
        let rules =
            UniverseRules { all_venues: false, max_pairs: 2, exclude: vec![], ..UniverseRules::default() };
        let r = resolve(&rules, &Venue::ALL, &all);
        assert_eq!(r.pairs, ["LUNA/USDT", "ONLY/USDT"], "900 M least volume each, by name");
        assert_eq!(r.futures, ["BTC/USDT"]);
        assert_eq!(r.left_out.over_cap, 4);
        // A venue not traded does not count towards "every venue".
        let r = resolve(&UniverseRules::default(), &[Venue::GateIo], &all);
        assert!(r.pairs.contains(&"ONLY/USDT".to_owned()) && !r.pairs.contains(&"ETH/BTC".to_owned()));
    }

    #[test]
    fn a_configuration_with_rules_needs_no_pairs_and_its_rules_are_checked_at_load() {
        let layout = "[[layout.threads]]\nname = \"all\"\n\
                      stages = [\"md\", \"book\", \"detect\", \"risk\", \"dispatch\", \"state\"]\n";
        let ok = format!("[market]\n[market.rules]\nmin_volume_24h_quote = \"250000.5\"\n{layout}");
        let c = Config::parse(&ok, "rules.toml").unwrap();
        let r = c.market.rules.as_ref().unwrap();
        assert_eq!(r.min_volume_24h_quote.amount(), Amount::parse("250000.5").unwrap());
        assert!(r.spot && r.futures && r.all_venues && r.quote == "USDT");
        assert!(describe(&c.market).starts_with("0 spot pairs, 0 perpetuals on gateio and mexc, by rules"));
        let bad = format!("[market]\nstandby = [\"BTC/USDT\"]\n[market.rules]\nquote = \"EUR\"\n{layout}");
        let e = format!("{:#}", Config::parse(&bad, "bad.toml").unwrap_err());
        assert!(
            e.contains("bad.toml: key `market.rules.futures` = true: perpetuals are USDT-margined"),
            "{e}"
        );
        assert!(e.contains("key `market.standby`"), "{e}");
        let none = format!("[market]\n{layout}");
        let e = format!("{:#}", Config::parse(&none, "none.toml").unwrap_err());
        assert!(e.contains("nothing to trade"), "{e}");
        let typo = format!("[market]\n[market.rules]\nmin_volume = 1\n{layout}");
        assert!(Config::parse(&typo, "typo.toml").is_err(), "unknown keys are refused");
    }

    #[test]
    fn rules_are_checked() {
        let bad = UniverseRules {
            quote: "US-DT".into(),
            spot: false,
            futures: true,
            min_volume_24h_quote: Exact(Amount::parse("-1").unwrap()),
            exclude: vec!["A/B/C".into()],
            max_pairs: 20_000,
            ..UniverseRules::default()
        };
        let mut c = Checks::new();
        c.table("rules", |c| bad.validate(c));
        let text: Vec<String> = c.into_problems().iter().map(|p| p.to_string()).collect();
        for key in
            ["rules.quote", "rules.futures", "rules.min_volume_24h_quote", "rules.exclude", "rules.max_pairs"]
        {
            assert!(text.iter().any(|t| t.contains(&format!("`{key}`"))), "{key} not in {text:?}");
        }
        let mut c = Checks::new();
        UniverseRules { spot: false, futures: false, ..UniverseRules::default() }.validate(&mut c);
        assert!(c.into_problems()[0].to_string().contains("selects nothing"));
        let mut c = Checks::new();
        UniverseRules::default().validate(&mut c);
        assert!(c.into_problems().is_empty());
    }
}
