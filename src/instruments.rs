//! The instruments the engine trades: venue metadata fetched over REST at start, kept to
//! the configured pairs, saved to a cache, and read back from it when a venue cannot be
//! reached. Symbol spelling and metadata routes are the venues' own
//! ([`VenueMarket`]).

use std::sync::Arc;

use adapters::net::http::{BlockingHttp, HttpConfig};
use adapters::venues::VenueMarket;
use anyhow::{Context, Result, bail};
use pipeline::types::{InstrumentId, InstrumentSpec, Instruments, Market, Venue};
use rustls::ClientConfig;

use crate::config::{Config, pair_parts};

/// Every (venue, market, symbol) the configuration asks for.
pub fn wanted(cfg: &Config) -> Vec<(Venue, Market, String)> {
    let mut out = Vec::new();
    for &v in &cfg.market.venues {
        for (market, pairs) in [(Market::Spot, &cfg.market.pairs), (Market::Futures, &cfg.market.futures)] {
            for p in pairs {
                if let Some((b, q)) = pair_parts(p) {
                    out.push((v, market, VenueMarket::new(v, market).symbol(&b, &q)));
                }
            }
        }
    }
    out
}

fn fetch(http: &mut BlockingHttp, target: &str) -> Result<String> {
    let r = http.get(target).map_err(|e| anyhow::anyhow!("GET {target}: {e}"))?;
    if r.status != 200 {
        bail!(
            "GET {target}: HTTP {} {}",
            r.status,
            String::from_utf8_lossy(&r.body).chars().take(200).collect::<String>()
        );
    }
    String::from_utf8(r.body).with_context(|| format!("GET {target}: body is not UTF-8"))
}

/// Fetches one venue market's metadata.
fn fetch_market(
    cfg: &Config,
    vm: VenueMarket,
    tls: Option<Arc<ClientConfig>>,
) -> Result<Vec<InstrumentSpec>> {
    let v = cfg.venue(vm.venue()).with_context(|| format!("no [[venues]] entry for {}", vm.venue()))?;
    let origin = v.rest_origin(vm.market()).to_owned();
    let mut http = BlockingHttp::new(HttpConfig::new(origin.clone()), tls)
        .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    Ok(vm.parse_metadata(&fetch(&mut http, vm.metadata_route())?)?)
}

/// Loads the configured instruments: from the venues, else from the cache.
pub fn load(cfg: &Config, tls: Option<Arc<ClientConfig>>) -> Result<Vec<InstrumentSpec>> {
    let wanted = wanted(cfg);
    let cached: Vec<InstrumentSpec> = match &cfg.market.metadata_cache {
        Some(p) if p.exists() => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{}: not an instrument list", p.display()))?
        }
        _ => Vec::new(),
    };
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for &venue in &cfg.market.venues {
        for market in Market::ALL {
            let names: Vec<&str> = wanted
                .iter()
                .filter(|(v, m, _)| *v == venue && *m == market)
                .map(|(_, _, s)| s.as_str())
                .collect();
            if names.is_empty() {
                continue;
            }
            let got = match fetch_market(cfg, VenueMarket::new(venue, market), tls.clone()) {
                Ok(all) => all,
                Err(e) => {
                    errors.push(format!("{venue} {market}: {e:#}"));
                    cached.iter().filter(|s| s.venue == venue && s.market == market).cloned().collect()
                }
            };
            for name in names {
                match got.iter().find(|s| s.symbol == name) {
                    Some(s) => specs.push(s.clone()),
                    None => errors
                        .push(format!("{venue} {market}: no instrument `{name}` in the venue's metadata")),
                }
            }
        }
    }
    if specs.is_empty() {
        bail!("no instrument could be loaded: {}", errors.join("; "));
    }
    for e in &errors {
        eprintln!("warning: instruments: {e}");
    }
    if let Some(p) = &cfg.market.metadata_cache {
        if errors.is_empty() {
            let text = serde_json::to_string_pretty(&specs)?;
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("warning: cannot save instrument cache {}: {e}", p.display());
            }
        }
    }
    Ok(specs)
}

/// The instrument table for `specs`.
pub fn table(specs: &[InstrumentSpec]) -> Result<Instruments> {
    Ok(Instruments::from_specs(specs)?)
}

/// The instruments an argument names.
pub fn resolve(instruments: &Instruments, arg: &str) -> Result<Vec<InstrumentId>> {
    if let Some((b, q)) = pair_parts(arg) {
        let ids: Vec<InstrumentId> = instruments
            .iter()
            .filter(|i| instruments.asset_name(i.base) == b && instruments.asset_name(i.quote) == q)
            .map(|i| i.id)
            .collect();
        if ids.is_empty() {
            bail!("no instrument of {arg} is loaded");
        }
        return Ok(ids);
    }
    let parts: Vec<&str> = arg.split(':').collect();
    let [venue, market, symbol] = parts[..] else {
        bail!("`{arg}`: name an instrument as venue:market:SYMBOL or a pair as BASE/QUOTE");
    };
    let venue = venue.parse().map_err(anyhow::Error::msg)?;
    let market = market.parse().map_err(anyhow::Error::msg)?;
    match instruments.find(venue, market, symbol) {
        Some(id) => Ok(vec![id]),
        None => bail!(
            "{venue} {market} {symbol} is not loaded: instruments are fixed at start \
             (their ids are in the journal); add it to [market] pairs (and standby, to load \
             it without trading it) and restart"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_pairs_are_spelled_per_venue() {
        let cfg = Config::load(None).unwrap();
        let w = wanted(&cfg);
        assert!(w.contains(&(Venue::Mexc, Market::Spot, "ETHBTC".into())));
        assert!(w.contains(&(Venue::GateIo, Market::Futures, "ETH_USDT".into())));
        assert_eq!(w.len(), 2 * (3 + 2));
    }
}
