//! The instruments the engine trades: venue metadata fetched over REST at start, kept to
//! the configured pairs, saved to a cache, and read back from it when a venue cannot be
//! reached. A venue market that can be reached neither way is retried with backoff, one
//! line per failure, until it answers or the operator stops the start. Symbol spelling and metadata routes are the venues' own
//! ([`VenueMarket`]).

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use adapters::net::backoff::{Backoff, BackoffConfig};
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

/// Why a metadata fetch failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct FetchError {
    pub(crate) text: String,
    /// The network or the venue may come back (no answer, a 5xx, 408 or 429); a refusal
    /// (another 4xx) or an answer that cannot be read will not change by waiting.
    transient: bool,
}

impl FetchError {
    fn transient(text: String) -> Self {
        Self { text, transient: true }
    }

    fn permanent(text: String) -> Self {
        Self { text, transient: false }
    }
}

/// The body of a 200 answer to `GET target`.
pub(crate) fn fetch(http: &mut BlockingHttp, target: &str) -> Result<String, FetchError> {
    let r = http.get(target).map_err(|e| FetchError::transient(format!("GET {target}: {e}")))?;
    if r.status != 200 {
        let text = format!(
            "GET {target}: HTTP {} {}",
            r.status,
            String::from_utf8_lossy(&r.body).chars().take(200).collect::<String>()
        );
        let transient = r.status >= 500 || r.status == 408 || r.status == 429;
        return Err(FetchError { text, transient });
    }
    String::from_utf8(r.body).map_err(|_| FetchError::permanent(format!("GET {target}: body is not UTF-8")))
}

/// Fetches one venue market's metadata from `origin`.
pub(crate) fn fetch_market(
    origin: &str,
    vm: VenueMarket,
    tls: Option<Arc<ClientConfig>>,
) -> Result<Vec<InstrumentSpec>, FetchError> {
    let mut http = BlockingHttp::new(HttpConfig::new(origin.to_owned()), tls)
        .map_err(|e| FetchError::permanent(format!("{origin}: {e}")))?;
    let body = fetch(&mut http, vm.metadata_route())?;
    vm.parse_metadata(&body).map_err(|e| {
        FetchError::permanent(format!("{origin}{}: unreadable metadata: {e}", vm.metadata_route()))
    })
}

/// How the metadata of one venue market stands during a start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataState {
    /// Asked for, no answer yet.
    Fetching,
    /// The last attempt failed; the next one is scheduled.
    Retrying,
    /// Fetched from the venue.
    Fetched,
    /// The venue could not be reached; the cache was used.
    Cached,
}

impl MetadataState {
    pub fn name(self) -> &'static str {
        match self {
            MetadataState::Fetching => "fetching",
            MetadataState::Retrying => "retrying",
            MetadataState::Fetched => "fetched",
            MetadataState::Cached => "cached",
        }
    }
}

/// One venue market's metadata during a start.
#[derive(Clone, Debug)]
pub struct MetadataProgress {
    pub venue: Venue,
    pub market: Market,
    pub state: MetadataState,
    /// Failed attempts so far.
    pub failures: u64,
    pub last_error: Option<String>,
    /// When the next attempt starts, while retrying.
    pub next_attempt: Option<Instant>,
}

/// Where a start waiting for instrument metadata stands, shared with the health endpoint.
#[derive(Debug, Default)]
pub struct MetadataStatus {
    markets: Mutex<Vec<MetadataProgress>>,
}

impl MetadataStatus {
    pub fn snapshot(&self) -> Vec<MetadataProgress> {
        self.markets.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn update(&self, venue: Venue, market: Market, f: impl FnOnce(&mut MetadataProgress)) {
        if let Ok(mut all) = self.markets.lock() {
            let i = match all.iter().position(|p| p.venue == venue && p.market == market) {
                Some(i) => i,
                None => {
                    all.push(MetadataProgress {
                        venue,
                        market,
                        state: MetadataState::Fetching,
                        failures: 0,
                        last_error: None,
                        next_attempt: None,
                    });
                    all.len() - 1
                }
            };
            f(&mut all[i]);
        }
    }
}

/// Delays between metadata attempts of one venue market: 0.5-1 s at first, doubling to
/// at most 15-30 s.
const RETRY: BackoffConfig = BackoffConfig {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(30),
    reset_after: Duration::from_secs(60),
};

/// `HH:MM:SS` UTC of `t` (an instant in the future or the past).
fn utc_clock(t: Instant) -> String {
    let now = Instant::now();
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let at = if t >= now { unix + (t - now) } else { unix.saturating_sub(now - t) };
    let s = at.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

/// What an operator can do about venues that cannot be reached, said once per start.
fn offline_hint(cfg: &Config) -> String {
    let cache = match &cfg.market.metadata_cache {
        Some(p) if p.exists() => format!("the cache {} does not hold this venue market", p.display()),
        Some(p) => format!(
            "market.metadata_cache = {:?} is written after a start that reaches every venue; later starts use it \
             when a venue cannot be reached",
            p.display().to_string()
        ),
        None => "set market.metadata_cache to a file, and starts after one that reached the venues use it \
                 when they cannot be reached"
            .into(),
    };
    format!(
        "hint: the engine waits for instrument metadata and retries until it comes (Ctrl-C stops); \
         check the network, DNS, proxy and firewall for the [[venues]] URLs; {cache}; \
         `arb demo` trades offline against simulated venues"
    )
}

/// One venue market being loaded.
struct Loading {
    vm: VenueMarket,
    origin: String,
    names: Vec<String>,
    backoff: Backoff,
    next_at: Instant,
    inflight: Option<mpsc::Receiver<Result<Vec<InstrumentSpec>, FetchError>>>,
    got: Option<Vec<InstrumentSpec>>,
}

/// Loads the configured instruments from the venues, retrying each venue market that
/// cannot be reached with backoff, and taking the cache for it instead when the cache
/// has it. Each failure is one line on stderr: venue, market, cause and when the next
/// attempt starts. Returns `None` when `stop` turns true before everything is loaded (an
/// operator's Ctrl-C); an attempt in flight is left to time out on its own thread.
pub fn load_waiting(
    cfg: &Config,
    tls: Option<Arc<ClientConfig>>,
    status: &MetadataStatus,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Vec<InstrumentSpec>>> {
    let wanted = wanted(cfg);
    let cached: Vec<InstrumentSpec> = match &cfg.market.metadata_cache {
        Some(p) if p.exists() => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{}: not an instrument list", p.display()))?
        }
        _ => Vec::new(),
    };
    let mut loading = Vec::new();
    for &venue in &cfg.market.venues {
        for market in Market::ALL {
            let names: Vec<String> = wanted
                .iter()
                .filter(|(v, m, _)| *v == venue && *m == market)
                .map(|(_, _, s)| s.clone())
                .collect();
            if names.is_empty() {
                continue;
            }
            let v = cfg.venue(venue).with_context(|| format!("no [[venues]] entry for {venue}"))?;
            status.update(venue, market, |_| {});
            loading.push(Loading {
                vm: VenueMarket::new(venue, market),
                origin: v.rest_origin(market).to_owned(),
                names,
                backoff: Backoff::new(RETRY),
                next_at: Instant::now(),
                inflight: None,
                got: None,
            });
        }
    }
    let mut from_cache = Vec::new();
    let mut hinted = false;
    while loading.iter().any(|l| l.got.is_none()) {
        if stop() {
            return Ok(None);
        }
        let now = Instant::now();
        for l in loading.iter_mut().filter(|l| l.got.is_none()) {
            if l.inflight.is_none() && now >= l.next_at {
                let (tx, rx) = mpsc::channel();
                let (origin, vm, tls) = (l.origin.clone(), l.vm, tls.clone());
                std::thread::Builder::new()
                    .name("arb-metadata".into())
                    .spawn(move || {
                        let _ = tx.send(fetch_market(&origin, vm, tls));
                    })
                    .context("cannot start a metadata thread")?;
                l.inflight = Some(rx);
                status.update(vm.venue(), vm.market(), |p| {
                    p.state = MetadataState::Fetching;
                    p.next_attempt = None;
                });
                continue;
            }
            let result = match l.inflight.as_ref().map(mpsc::Receiver::try_recv) {
                None | Some(Err(mpsc::TryRecvError::Empty)) => continue,
                Some(Ok(r)) => r,
                Some(Err(mpsc::TryRecvError::Disconnected)) => {
                    Err(FetchError::transient("the fetch ended without an answer".into()))
                }
            };
            l.inflight = None;
            let (venue, market) = (l.vm.venue(), l.vm.market());
            let e = match result {
                Ok(all) => {
                    l.got = Some(all);
                    status.update(venue, market, |p| {
                        p.state = MetadataState::Fetched;
                        p.last_error = None;
                    });
                    continue;
                }
                Err(e) => e,
            };
            let FetchError { text: e, transient } = e;
            let cache: Vec<InstrumentSpec> =
                cached.iter().filter(|s| s.venue == venue && s.market == market).cloned().collect();
            let cache_path = cfg.market.metadata_cache.as_ref().filter(|_| !cache.is_empty());
            if let Some(path) = cache_path {
                eprintln!(
                    "instruments: {venue} {market}: {e}; using the cached metadata in {}",
                    path.display()
                );
                from_cache.push((venue, market));
                l.got = Some(cache);
                status.update(venue, market, |p| {
                    p.state = MetadataState::Cached;
                    p.failures += 1;
                    p.last_error = Some(e);
                });
                continue;
            }
            if !transient {
                bail!(
                    "instruments: {venue} {market}: {e}; not retried: the venue answered, so the network \
                     works, but waiting will not change this answer (check the [[venues]] entry for {venue})"
                );
            }
            if !hinted {
                hinted = true;
                eprintln!("{}", offline_hint(cfg));
            }
            let delay = l.backoff.next_delay();
            l.next_at = now + delay;
            eprintln!(
                "instruments: {venue} {market}: {e}; next attempt at {} (in {:.1} s)",
                utc_clock(l.next_at),
                delay.as_secs_f64()
            );
            status.update(venue, market, |p| {
                p.state = MetadataState::Retrying;
                p.failures += 1;
                p.last_error = Some(e);
                p.next_attempt = Some(l.next_at);
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut specs = Vec::new();
    let mut missing = Vec::new();
    for l in &loading {
        let got = l.got.as_deref().unwrap_or_default();
        for name in &l.names {
            match got.iter().find(|s| &s.symbol == name) {
                Some(s) => specs.push(s.clone()),
                None => missing.push(format!("{} {} {name}", l.vm.venue(), l.vm.market())),
            }
        }
    }
    if !missing.is_empty() {
        let source =
            if from_cache.is_empty() { "the venues' metadata" } else { "the venues' metadata or the cache" };
        eprintln!("warning: instruments: not in {source}, not traded: {}", missing.join(", "));
    }
    if specs.is_empty() {
        bail!("none of the configured instruments exists on the venues ({})", missing.join(", "));
    }
    if let Some(p) = &cfg.market.metadata_cache {
        if from_cache.is_empty() {
            let text = serde_json::to_string_pretty(&specs)?;
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("warning: cannot save instrument cache {}: {e}", p.display());
            }
        }
    }
    Ok(Some(specs))
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
            "{venue} {market} {symbol} is not loaded: `arb ctl add-symbol BASE/QUOTE --venue \
             {venue} --market {market}` loads and trades it while the engine runs (or add it \
             to [market] pairs in the configuration for the next start)"
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
