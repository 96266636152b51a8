//! Instruments added and removed while the engine runs (`arb ctl add-symbol`,
//! `arb ctl remove-symbol`): the cold side of dynamic symbol management.
//!
//! Adding a pair not loaded at start, on each venue asked for:
//! 1. its venue metadata is fetched over REST (the whole market's list, as at start) on
//!    the control socket's thread;
//! 2. its specification is appended to the journal's `instruments.json` before anything
//!    else sees it (write-ahead: a restart loads it under the same id);
//! 3. it is appended to the shared instrument table ([`Instruments::append`]), into a
//!    slot reserved at start (`[market] max_instruments`), which publishes its id; a
//!    base or quote asset the run did not load takes the next asset id, in an asset
//!    slot reserved at start (`[market] max_assets`);
//! 4. the stages are told through their control rings, in this order: the state stage
//!    journals the addition (`InstrumentListed`), derives again what it keeps per asset
//!    (USD flags, the book that values an asset, a venue's futures cash asset) and asks
//!    the venue for its balances, which now name a new asset; the risk gate gives it an
//!    order-rate bucket and derives its per-asset flags; the md stage subscribes it on
//!    a connection of its market with room, or opens a new connection for it (a venue
//!    market with no connection yet, or whose connections are full; the same code path
//!    as the connections opened at start, on the md thread's poll); the book stage
//!    allocates its book when the md stage's `Listed` event reaches it, and syncs it as
//!    any other; detection indexes it last, taking every spot-spot, basis and triangle
//!    candidate it completes. No stage pauses; instruments already trading are
//!    untouched.
//!
//! Removing stops new operations on it at once (detection drops it), then, once no
//! operation is open (at most [`super::DRAIN_TIMEOUT`]), unsubscribes it, frees its book
//! and journals the removal. Its id is never reused: it stays in the table and in
//! `instruments.json`, and a restart loads it without subscribing or trading it.
//!
//! Allocation: the hot path allocates nothing after warm-up except at these cold events
//! (the new book, the detection candidates, the feed's subscription strings and any new
//! connection, a rate bucket); per-instrument arrays were sized for the table's
//! instrument capacity at start and per-asset arrays for its asset capacity (each
//! per-(venue, asset) array strided by it), so a new id indexes them directly.
//!
//! Limits: the table holds at most `max_instruments` instruments and `max_assets`
//! assets. Paper trading (`dry_run`, the demo) trades any venue market; with real
//! order entry, a venue market needs an order-entry client, and those are opened at
//! start for the markets loaded then and those named in `[orders] open_markets`, so an
//! addition on another market is refused (see [`Listing::order_markets`]).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::venues::VenueMarket;
use adapters::venues::endpoints::Endpoints;
use anyhow::{Context, Result, bail};
use pipeline::msg::{DetectControl, MdControl, RiskControl, StateControl};
use pipeline::stats::TradingStats;
use pipeline::types::{InstrumentId, Instruments, Market, Venue};
use rustls::ClientConfig;
use serde_json::{Value, json};

use super::Controls;

/// How long a removal waits for open operations to finish before it unsubscribes.
const REMOVE_WAIT: Duration = Duration::from_secs(10);

/// What `add-symbol` and `remove-symbol` name: a pair, on some venues and markets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolArgs {
    /// `BASE/QUOTE`.
    pub pair: String,
    /// Every venue of `[market] venues` when `None`.
    pub venue: Option<Venue>,
    /// When `None`: spot for a pair not loaded, else every market it is loaded on.
    pub market: Option<Market>,
}

impl SymbolArgs {
    /// Reads `PAIR [--venue V] [--market spot|futures]`.
    pub fn parse<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<Self> {
        let pair = words.next().context("a pair BASE/QUOTE is required")?.to_owned();
        let (mut venue, mut market) = (None, None);
        while let Some(w) = words.next() {
            let (key, value) = match w.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (w, None),
            };
            let mut value = || value.or_else(|| words.next()).with_context(|| format!("{key} needs a value"));
            match key {
                "--venue" => venue = Some(value()?.parse().map_err(anyhow::Error::msg)?),
                "--market" => market = Some(value()?.parse().map_err(anyhow::Error::msg)?),
                other => bail!("unknown option `{other}` (--venue V, --market spot|futures)"),
            }
        }
        Ok(Self { pair, venue, market })
    }
}

/// The cold side's instrument listing: what adding and removing need.
#[derive(Debug)]
pub struct Listing {
    pub(super) instruments: Arc<Instruments>,
    pub(super) endpoints: Vec<Endpoints>,
    pub(super) venues: Vec<Venue>,
    pub(super) tls: Option<Arc<ClientConfig>>,
    pub(super) journal_dir: PathBuf,
    /// Venue markets with real order entry (clients opened at start), `None` when
    /// orders are paper-filled: with real order entry, an added instrument needs one.
    pub(super) order_markets: Option<Vec<(Venue, Market)>>,
    /// Whether metadata can be fetched (a live feed; a replay cannot add).
    pub(super) live: bool,
    pub(super) stats: TradingStats,
    /// Instruments removed and not added again: neither subscribed nor traded.
    pub(super) removed: Arc<Mutex<BTreeSet<InstrumentId>>>,
    /// One addition or removal at a time.
    pub(super) busy: Mutex<()>,
}

/// One instrument as an answer names it.
fn name(t: &Instruments, id: InstrumentId) -> String {
    let i = t.get(id);
    format!("{}:{}:{}", i.venue, i.market, i.symbol)
}

impl Listing {
    /// Instruments removed while running (this run or a journaled earlier one).
    pub fn removed(&self) -> BTreeSet<InstrumentId> {
        self.removed.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The removed instruments, shared (telemetry reads them).
    pub fn removed_handle(&self) -> Arc<Mutex<BTreeSet<InstrumentId>>> {
        self.removed.clone()
    }

    /// `add-symbol`: trades the pair on each venue and market asked for, loading the
    /// instruments not in the table (see the module notes). Cold: blocks on REST.
    pub fn add(&self, controls: &Controls, args: &SymbolArgs) -> Result<Value> {
        let _one = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (base, quote) = crate::config::pair_parts(&args.pair)
            .with_context(|| format!("`{}` is not BASE/QUOTE (e.g. ETH/BTC)", args.pair))?;
        let t = &self.instruments;
        let venues = args.venue.map_or_else(|| self.venues.clone(), |v| vec![v]);
        let markets = match args.market {
            Some(m) => vec![m],
            None => {
                let mut m = vec![Market::Spot];
                for i in t.iter() {
                    if t.asset_name(i.base) == base
                        && t.asset_name(i.quote) == quote
                        && !m.contains(&i.market)
                    {
                        m.push(i.market);
                    }
                }
                m
            }
        };
        // Every target is checked before anything changes.
        let mut existing = Vec::new();
        let mut wanted = Vec::new();
        for &venue in &venues {
            for &market in &markets {
                let symbol = VenueMarket::new(venue, market).symbol(&base, &quote);
                match t.find(venue, market, &symbol) {
                    Some(id) => existing.push(id),
                    None => wanted.push((venue, market, symbol)),
                }
            }
        }
        if !wanted.is_empty() {
            if !self.live {
                bail!("instruments are added from the venues' metadata: not while replaying a capture");
            }
            let new_assets = [&base, &quote].iter().filter(|a| t.find_asset(a).is_none()).count();
            if t.asset_count() + new_assets > t.asset_capacity() {
                bail!(
                    "the asset table is full ({} of {} slots; raise [market] max_assets and restart)",
                    t.asset_count(),
                    t.asset_capacity()
                );
            }
            if t.len() + wanted.len() > t.capacity() {
                bail!(
                    "the instrument table is full ({} of {} slots; raise [market] max_instruments and restart)",
                    t.len(),
                    t.capacity()
                );
            }
            if let Some(markets) = &self.order_markets {
                for (venue, market, _) in &wanted {
                    if !markets.contains(&(*venue, *market)) {
                        bail!(
                            "{venue} {market} has no order-entry client in this run (order entry and \
                             private streams are opened at start, for the markets loaded then and \
                             those in [orders] open_markets): name it in open_markets, or add a pair \
                             of it to [market], and restart"
                        );
                    }
                }
            }
        }
        // Metadata first: nothing changes unless every instrument is listed.
        let mut specs = Vec::new();
        for (venue, market, symbol) in &wanted {
            let vm = VenueMarket::new(*venue, *market);
            let ep = self
                .endpoints
                .iter()
                .find(|e| e.venue == *venue)
                .with_context(|| format!("no [[venues]] entry for {venue}"))?;
            let all = crate::instruments::fetch_market(ep.rest_origin(*market), vm, self.tls.clone())
                .map_err(|e| anyhow::anyhow!("{venue} {market} metadata: {}", e.text))?;
            let spec = all
                .into_iter()
                .find(|s| &s.symbol == symbol)
                .with_context(|| format!("{venue} {market} does not list {symbol}"))?;
            if !spec.trading_enabled {
                bail!("{venue} {market} {symbol} is listed with trading disabled");
            }
            specs.push(spec);
        }
        // Every spec is tried on a copy of the table first, so that a bad field cannot
        // leave a half-made addition.
        if !specs.is_empty() {
            let probe = Instruments::clone(t);
            for spec in &specs {
                probe.append(spec).map_err(anyhow::Error::new)?;
            }
        }
        let mut added = Vec::new();
        for spec in &specs {
            // Write-ahead: the journal's table knows the id before any stage does.
            crate::journal_meta::append(&self.journal_dir, spec)?;
            let id = t.append(spec).map_err(anyhow::Error::new)?;
            added.push(id);
        }
        let mut sent = true;
        for &id in &added {
            sent &= controls.state(StateControl::Listed { inst: id, added: true });
        }
        if !added.is_empty() {
            sent &= controls.risk(RiskControl::Added);
        }
        for &id in &added {
            sent &= controls.md(MdControl::Add(id));
        }
        if !added.is_empty() {
            sent &= controls.detect(DetectControl::Added);
        }
        // Loaded already: traded again (a removed one is subscribed again first).
        let mut removed = self.removed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for &id in &existing {
            if removed.remove(&id) {
                sent &= controls.state(StateControl::Listed { inst: id, added: true });
                sent &= controls.md(MdControl::Add(id));
            }
            sent &= controls.detect(DetectControl::Enable(id));
        }
        drop(removed);
        if !sent {
            bail!("a control ring is full: the request went in part; check `arb ctl status` and try again");
        }
        let named = |ids: &[InstrumentId]| {
            ids.iter().map(|&id| json!({"instrument": name(t, id), "id": id.0})).collect::<Vec<_>>()
        };
        Ok(json!({"added": named(&added), "trading": named(&existing)}))
    }

    /// `remove-symbol`: stops opening operations on the pair's instruments at once,
    /// then, on a cold thread of its own once no operation is open (or after
    /// [`super::DRAIN_TIMEOUT`]), unsubscribes them, frees their books and journals the
    /// removal.
    pub fn remove(&self, controls: &Arc<Controls>, args: &SymbolArgs) -> Result<Value> {
        let _one = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (base, quote) = crate::config::pair_parts(&args.pair)
            .with_context(|| format!("`{}` is not BASE/QUOTE (e.g. ETH/BTC)", args.pair))?;
        let t = &self.instruments;
        let removed = self.removed();
        let ids: Vec<InstrumentId> = t
            .iter()
            .filter(|i| t.asset_name(i.base) == base && t.asset_name(i.quote) == quote)
            .filter(|i| args.venue.is_none_or(|v| v == i.venue) && args.market.is_none_or(|m| m == i.market))
            .map(|i| i.id)
            .filter(|id| !removed.contains(id))
            .collect();
        if ids.is_empty() {
            bail!("no instrument of {} is loaded (or it was removed already)", args.pair);
        }
        let mut sent = true;
        for &id in &ids {
            sent &= controls.detect(DetectControl::Removed(id));
        }
        if !sent {
            bail!("the detection control ring is full; nothing was removed; try again");
        }
        if let Ok(mut r) = self.removed.lock() {
            r.extend(ids.iter().copied());
        }
        let (controls, stats, list) = (controls.clone(), self.stats.clone(), ids.clone());
        std::thread::Builder::new()
            .name("arb-remove-symbol".into())
            .spawn(move || {
                // Open operations finish on their books first.
                let deadline = Instant::now() + REMOVE_WAIT;
                while Instant::now() < deadline {
                    if stats.operations_in_progress() == 0 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                for id in list {
                    // Retried: a full ring only delays the removal.
                    while !controls.md(MdControl::Remove(id)) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    while !controls.state(StateControl::Listed { inst: id, added: false }) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            })
            .context("cannot start the removal thread")?;
        let names: Vec<String> = ids.iter().map(|&id| name(t, id)).collect();
        Ok(json!({
            "removed": names,
            "note": "no new operations; unsubscribed and its book freed once open operations finish"
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_arguments_are_read_or_refused() {
        let p = |s: &str| SymbolArgs::parse(s.split_whitespace()).map_err(|e| format!("{e:#}"));
        assert_eq!(p("ETH/BTC"), Ok(SymbolArgs { pair: "ETH/BTC".into(), venue: None, market: None }));
        assert_eq!(
            p("ETH/BTC --venue gateio --market=futures"),
            Ok(SymbolArgs {
                pair: "ETH/BTC".into(),
                venue: Some(Venue::GateIo),
                market: Some(Market::Futures)
            })
        );
        assert!(p("").unwrap_err().contains("a pair BASE/QUOTE is required"));
        assert!(p("ETH/BTC --venue").unwrap_err().contains("--venue needs a value"));
        assert!(p("ETH/BTC --fast").unwrap_err().contains("unknown option `--fast`"));
    }
}
