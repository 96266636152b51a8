//! Engine configuration: TOML files that reject unknown keys, with units in key names,
//! and the demo default compiled in.
//!
//! Every section but `[market]` and `[layout]` has defaults; the trading sections are
//! the stages' own configuration types. Risk and tuning keys can be overridden by the
//! environment variables users know from the original design ([`apply_env`]). Secrets
//! never live here: API keys come from the environment.

use std::path::{Path, PathBuf};

use adapters::venues::Endpoints;
use anyhow::{Context, Result};
use pipeline::book::BookConfig;
use pipeline::detect::DetectConfig;
use pipeline::dispatch::{DispatchConfig, PaperConfig};
use pipeline::journal::JournalConfig;
use pipeline::risk::RiskConfig;
use pipeline::runtime::Layout;
use pipeline::state::StateConfig;
use pipeline::types::Venue;
use pipeline::validate::{Checks, Invalid, toml_string};
use serde::{Deserialize, Serialize};

mod env;
pub use env::{ENV_OVERRIDES, EnvOverride, apply_env};

/// The demo configuration shipped in `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// What the engine trades.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// Spot pairs as `BASE/QUOTE`, traded on every venue in `venues` (with `rules`,
    /// traded as well as the pairs the rules select).
    #[serde(default)]
    pub pairs: Vec<String>,
    /// USDT perpetuals as `BASE/QUOTE`.
    #[serde(default)]
    pub futures: Vec<String>,
    /// Pairs of `pairs` or `futures` that are loaded and watched (books kept in sync)
    /// but not traded until `arb ctl add-symbol PAIR`.
    #[serde(default)]
    pub standby: Vec<String>,
    #[serde(default = "all_venues")]
    pub venues: Vec<Venue>,
    /// Instrument metadata saved after each successful fetch, used when the venues
    /// cannot be reached at start.
    #[serde(default)]
    pub metadata_cache: Option<PathBuf>,
    /// The universe by rules, resolved at start from the venues' metadata
    /// ([`crate::universe`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::universe::UniverseRules>,
    /// Instrument slots reserved at start (the ones loaded included): the most the
    /// table can hold once `arb ctl add-symbol` adds instruments while running. The
    /// stages size their per-instrument state by it, so nothing on the hot path grows
    /// when an instrument is added.
    #[serde(default = "default_max_instruments")]
    pub max_instruments: usize,
    /// Asset slots reserved at start (the loaded assets included, never fewer): the
    /// most assets the table can hold once `arb ctl add-symbol` adds pairs of assets
    /// not loaded at start. The stages size their per-asset state (wallets, balances,
    /// exposure, reconciliation) by it, so nothing on the hot path grows when an asset
    /// is added.
    #[serde(default = "default_max_assets")]
    pub max_assets: usize,
}

/// Asset slots reserved by default: room for every base asset of a few hundred pairs.
pub const DEFAULT_MAX_ASSETS: usize = 256;

fn default_max_assets() -> usize {
    DEFAULT_MAX_ASSETS
}

/// Instrument slots reserved by default: room for the demo's universe and a few dozen
/// more pairs.
pub const DEFAULT_MAX_INSTRUMENTS: usize = 64;

fn default_max_instruments() -> usize {
    DEFAULT_MAX_INSTRUMENTS
}

fn all_venues() -> Vec<Venue> {
    Venue::ALL.to_vec()
}

/// How market data is subscribed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// `obu` (self-syncing order book v2) or `order_book_update` (REST-synced).
    pub gate_depth: adapters::venues::GateDepth,
    /// MEXC spot push interval: 10 or 100.
    pub mexc_interval_ms: u32,
    /// No data for this long and a connection is reconnected.
    pub stale_after_ms: u64,
    /// Levels requested in REST snapshots.
    pub snapshot_limit: u32,
}

impl FeedConfig {
    /// The subscription choices the venues' feeds take.
    pub fn options(&self) -> adapters::venues::FeedOptions {
        adapters::venues::FeedOptions {
            gate_depth: self.gate_depth,
            mexc_interval: if self.mexc_interval_ms == 100 { "100ms" } else { "10ms" },
        }
    }
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            gate_depth: Default::default(),
            mexc_interval_ms: 10,
            stale_after_ms: 30_000,
            snapshot_limit: 100,
        }
    }
}

/// Which certificate authorities are trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub webpki_roots: bool,
    /// An extra CA certificate file (PEM): private endpoints, the simulated venues.
    pub ca_file: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self { webpki_roots: true, ca_file: None }
    }
}

/// Ring capacities, in events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RingConfig {
    pub md_events: usize,
    pub book_tops: usize,
    pub resyncs: usize,
    pub opportunities: usize,
    pub executions: usize,
    pub commands: usize,
    pub state_inputs: usize,
    pub risk_updates: usize,
    pub alerts: usize,
    pub outcomes: usize,
    pub control: usize,
}

impl Default for RingConfig {
    fn default() -> Self {
        Self {
            md_events: 65_536,
            book_tops: 4096,
            resyncs: 1024,
            opportunities: 1024,
            executions: 256,
            commands: 1024,
            state_inputs: 8192,
            risk_updates: 8192,
            alerts: 1024,
            outcomes: 4096,
            control: 64,
        }
    }
}

/// Prometheus metrics and health endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `HOST:PORT` or `PORT` (bound to 127.0.0.1); off when absent.
    pub addr: Option<String>,
}

/// The engine configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Paper trading: fill against the live books instead of sending orders.
    #[serde(default = "yes")]
    pub dry_run: bool,
    #[serde(default)]
    pub venues: Vec<Endpoints>,
    pub market: MarketConfig,
    /// Which stages run on which thread.
    pub layout: Layout,
    #[serde(default)]
    pub feed: FeedConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub book: BookConfig,
    #[serde(default)]
    pub detect: DetectConfig,
    #[serde(default)]
    pub risk: RiskConfig,
    #[serde(default)]
    pub dispatch: DispatchConfig,
    #[serde(default)]
    pub paper: PaperConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default = "default_journal")]
    pub journal: JournalConfig,
    #[serde(default)]
    pub rings: RingConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Live order entry (dry_run = false): timings, and per-venue endpoints and key
    /// variable names when they differ from [[venues]] and the defaults.
    #[serde(default)]
    pub orders: adapters::orders::OrderEntryConfig,
    /// Checks the environment switched off (`ARB_ENABLE_*=false`); never in a file.
    #[serde(skip)]
    pub off: SwitchedOff,
}

/// The checks `ARB_ENABLE_RISK_CHECKS`, `ARB_ENABLE_CIRCUIT_BREAKERS` and
/// `ARB_ENABLE_RECOVERY_MODE` switched off. Their keys hold values that lift the check
/// (a limit no trade reaches), which `arb check-config` shows as "off".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchedOff {
    pub risk_checks: bool,
    pub circuit_breakers: bool,
    pub recovery: bool,
}

impl SwitchedOff {
    /// Each key that holds a lifted value, with the variable that lifted it.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.risk_checks {
            for k in [
                "risk.max_position_size_usd",
                "risk.max_total_exposure_usd",
                "risk.max_daily_loss_usd",
                "risk.min_profit_margin_bps",
            ] {
                out.push((k, "ARB_ENABLE_RISK_CHECKS"));
            }
        }
        if self.circuit_breakers {
            for k in [
                "risk.breakers.max_consecutive_failures",
                "risk.breakers.max_error_rate_pct",
                "risk.breakers.max_order_latency_ms",
                "risk.breakers.stale_trip_count",
            ] {
                out.push((k, "ARB_ENABLE_CIRCUIT_BREAKERS"));
            }
        }
        if self.recovery {
            out.push(("state.max_recovery_attempts", "ARB_ENABLE_RECOVERY_MODE"));
        }
        out
    }

    /// The variable that switched `key` off, if one did.
    pub fn by(&self, key: &str) -> Option<&'static str> {
        self.keys().into_iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

fn yes() -> bool {
    true
}

fn default_journal() -> JournalConfig {
    JournalConfig { dir: PathBuf::from("journal"), fsync: Default::default() }
}

/// Problems found in a configuration, one line each naming where it came from.
pub(crate) fn report(problems: &[Invalid], origin: impl Fn(&Invalid) -> String) -> anyhow::Error {
    let lines: Vec<String> = problems.iter().map(|p| format!("{}: {p}", origin(p))).collect();
    anyhow::anyhow!("{}", lines.join("\n"))
}

impl Config {
    /// Parses configuration text and checks every value's range and meaning; `origin`
    /// names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let c: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        let problems = c.validate();
        if !problems.is_empty() {
            return Err(report(&problems, |_| origin.to_owned()));
        }
        Ok(c)
    }

    /// Reads a configuration file, or the compiled-in demo default when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        match path {
            None => Self::parse(DEFAULT_TOML, "config/default.toml (built in)"),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                Self::parse(&text, &p.display().to_string())
            }
        }
    }

    /// Reads a configuration (or the demo default) and applies the `ARB_*` environment
    /// overrides, reporting each one applied on stderr.
    pub fn load_with_env(path: Option<&Path>) -> Result<Self> {
        let mut c = Self::load(path)?;
        for name in apply_env(&mut c, |k| std::env::var_os(k))? {
            eprintln!("config: {name} overrides the file");
        }
        Ok(c)
    }

    /// Every value checked for range and meaning, each problem with its full key path.
    /// Keys the environment switched off are not checked.
    pub fn validate(&self) -> Vec<Invalid> {
        let mut c = Checks::new();
        let mut seen = Vec::new();
        for (i, v) in self.venues.iter().enumerate() {
            c.item("venues", i, |c| {
                v.validate(c);
                if seen.contains(&v.venue) {
                    c.fail("venue", toml_string(v.venue.name()), "is listed twice in [[venues]]");
                }
            });
            seen.push(v.venue);
        }
        c.table("market", |c| self.market.validate(c, &self.venues));
        // Which cores this host has is `arb doctor`'s and the start's question; here only
        // whether a core id can name a CPU at all (Linux's largest is 4095).
        let all_cores: Vec<usize> = (0..MAX_CPUS).collect();
        let mut in_range = true;
        for (i, t) in self.layout.threads.iter().enumerate() {
            if let Some(core) = t.core.filter(|&core| core >= MAX_CPUS) {
                c.item("layout.threads", i, |c| {
                    c.fail("core", core, format!("is not a CPU id (0 to {})", MAX_CPUS - 1));
                });
                in_range = false;
            }
        }
        if in_range && let Err(e) = self.layout.validate(&pipeline::STAGES, &all_cores) {
            let names: Vec<String> = self.layout.threads.iter().map(|t| toml_string(&t.name)).collect();
            c.fail("layout.threads", format!("[{}]", names.join(", ")), e.to_string());
        }
        c.table("feed", |c| self.feed.validate(c));
        c.table("tls", |c| self.tls.validate(c, self.needs_tls()));
        c.table("book", |c| self.book.validate(c));
        c.table("detect", |c| self.detect.validate(c));
        c.table("risk", |c| self.risk.validate(c));
        c.table("dispatch", |c| self.dispatch.validate(c));
        c.table("paper", |c| self.paper.validate(c));
        c.table("state", |c| self.state.validate(c));
        c.table("journal", |c| self.journal.validate(c));
        c.table("rings", |c| self.rings.validate(c));
        c.table("metrics", |c| self.metrics.validate(c));
        c.table("orders", |c| self.orders.validate(c));
        let off = self.off.keys();
        c.into_problems().into_iter().filter(|p| !off.iter().any(|(k, _)| *k == p.key)).collect()
    }

    /// Whether any endpoint the engine connects to is `https://` or `wss://`.
    pub fn needs_tls(&self) -> bool {
        let orders = [
            self.orders.gateio.as_ref().map(|g| [&g.rest_url, &g.ws_spot_url, &g.ws_futures_url]),
            self.orders.mexc.as_ref().map(|m| [&m.rest_url, &m.ws_spot_url, &m.ws_futures_url]),
        ];
        self.venues.iter().any(Endpoints::needs_tls)
            || orders.iter().flatten().flatten().any(|u| {
                let u = u.to_ascii_lowercase();
                u.starts_with("https://") || u.starts_with("wss://")
            })
    }

    /// The order-entry configuration with every traded venue's endpoints filled in from
    /// [[venues]] where `[orders]` does not name them.
    pub fn order_entry(&self) -> adapters::orders::OrderEntryConfig {
        use adapters::venues::gateio::orders::GateEntryConfig;
        use adapters::venues::mexc::orders::MexcEntryConfig;
        let mut o = self.orders.clone();
        if let Some(v) = self.venue(Venue::GateIo) {
            let rest = v.rest.trim_end_matches('/');
            let rest = if rest.ends_with("/api/v4") { rest.to_owned() } else { format!("{rest}/api/v4") };
            let g = o.gateio.get_or_insert_with(|| GateEntryConfig {
                rest_url: String::new(),
                ws_spot_url: String::new(),
                ws_futures_url: String::new(),
                ..GateEntryConfig::default()
            });
            for (url, from) in [
                (&mut g.rest_url, rest),
                (&mut g.ws_spot_url, v.ws_spot.clone()),
                (&mut g.ws_futures_url, v.ws_futures.clone()),
            ] {
                if url.is_empty() {
                    *url = from;
                }
            }
        }
        if let (None, Some(v)) = (&o.mexc, self.venue(Venue::Mexc)) {
            o.mexc = Some(MexcEntryConfig {
                rest_url: v.rest.clone(),
                futures_rest_url: v.rest_futures.clone(),
                ws_spot_url: v.ws_spot.clone(),
                ws_futures_url: v.ws_futures.clone(),
                ..MexcEntryConfig::default()
            });
        }
        if !self.market.venues.contains(&Venue::GateIo) {
            o.gateio = None;
        }
        if !self.market.venues.contains(&Venue::Mexc) {
            o.mexc = None;
        }
        o
    }

    /// The endpoints of `venue`.
    pub fn venue(&self, venue: Venue) -> Option<&Endpoints> {
        self.venues.iter().find(|v| v.venue == venue)
    }
}

impl MarketConfig {
    /// Checks of `[market]`: something to trade, pairs spelled `BASE/QUOTE`, standby
    /// pairs among the loaded ones, and endpoints for every venue when [[venues]] is
    /// given (the demo fills them in itself).
    fn validate(&self, c: &mut Checks, endpoints: &[Endpoints]) {
        if self.pairs.is_empty() && self.futures.is_empty() && self.rules.is_none() {
            c.fail("pairs", "[]", "nothing to trade: name pairs or futures, or give [market.rules]");
        }
        if let Some(r) = &self.rules {
            c.table("rules", |c| r.validate(c));
            if !self.standby.is_empty() {
                c.fail("standby", format!("{:?}", self.standby), "cannot be used with [market.rules]");
            }
        }
        for (key, list) in [("pairs", &self.pairs), ("futures", &self.futures)] {
            let mut seen = Vec::new();
            for p in list {
                match pair_parts(p) {
                    None => c.fail(key, toml_string(p), "is not BASE/QUOTE (e.g. \"BTC/USDT\")"),
                    Some((b, q)) if b == q => c.fail(key, toml_string(p), "trades an asset against itself"),
                    Some(pq) if seen.contains(&pq) => {
                        c.fail(key, toml_string(p), format!("is listed twice (as {}/{})", pq.0, pq.1));
                    }
                    Some(pq) => seen.push(pq),
                }
            }
        }
        let loaded: Vec<_> = self.pairs.iter().chain(&self.futures).filter_map(|p| pair_parts(p)).collect();
        for p in &self.standby {
            if !pair_parts(p).is_some_and(|pp| loaded.contains(&pp)) {
                c.fail("standby", toml_string(p), "is not one of `market.pairs` or `market.futures`");
            }
        }
        if self.venues.is_empty() {
            c.fail("venues", "[]", "must name at least one venue");
        }
        if self.max_instruments == 0 || self.max_instruments > usize::from(u16::MAX) {
            c.fail("max_instruments", self.max_instruments.to_string(), "must be between 1 and 65535");
        }
        if self.max_assets == 0 || self.max_assets > usize::from(u16::MAX) {
            c.fail("max_assets", self.max_assets.to_string(), "must be between 1 and 65535");
        }
        if !endpoints.is_empty() {
            for v in &self.venues {
                if !endpoints.iter().any(|e| e.venue == *v) {
                    c.fail("venues", toml_string(v.name()), "has no [[venues]] entry with its endpoints");
                }
            }
        }
        if let Some(p) = &self.metadata_cache {
            c.text("metadata_cache", &p.to_string_lossy());
        }
    }
}

impl FeedConfig {
    /// Checks of `[feed]`.
    fn validate(&self, c: &mut Checks) {
        if !matches!(self.mexc_interval_ms, 10 | 100) {
            c.fail("mexc_interval_ms", self.mexc_interval_ms, "MEXC pushes every 10 or 100 ms");
        }
        if self.stale_after_ms < 1_000 {
            c.fail(
                "stale_after_ms",
                self.stale_after_ms,
                "must be at least 1000 (shorter than a quiet market's pause reconnects all the time)",
            );
        }
        c.between("snapshot_limit", u64::from(self.snapshot_limit), 1, 5_000);
    }
}

impl TlsConfig {
    /// Checks of `[tls]`: something to trust when an endpoint needs TLS.
    fn validate(&self, c: &mut Checks, needed: bool) {
        if needed && !self.webpki_roots && self.ca_file.is_none() {
            c.fail(
                "webpki_roots",
                false,
                "no certificate would be trusted for the https:// and wss:// endpoints: \
                 set webpki_roots = true or name a ca_file",
            );
        }
        if let Some(p) = &self.ca_file {
            c.text("ca_file", &p.to_string_lossy());
        }
    }
}

/// CPU ids a layout may name: Linux's limit (`NR_CPUS` at most 4096).
const MAX_CPUS: usize = 4096;

/// The most events one ring may hold: 64 times the largest default. Far past it the
/// allocation fails at start, or overflows the capacity's arithmetic.
pub const MAX_RING_EVENTS: u64 = 1 << 22;

impl RingConfig {
    /// Checks of `[rings]`: every ring holds at least one event and at most
    /// [`MAX_RING_EVENTS`].
    fn validate(&self, c: &mut Checks) {
        for (key, v) in [
            ("md_events", self.md_events),
            ("book_tops", self.book_tops),
            ("resyncs", self.resyncs),
            ("opportunities", self.opportunities),
            ("executions", self.executions),
            ("commands", self.commands),
            ("state_inputs", self.state_inputs),
            ("risk_updates", self.risk_updates),
            ("alerts", self.alerts),
            ("outcomes", self.outcomes),
            ("control", self.control),
        ] {
            c.between(key, v as u64, 1, MAX_RING_EVENTS);
        }
    }
}

impl MetricsConfig {
    /// Checks of `[metrics]`: an address one can listen on.
    fn validate(&self, c: &mut Checks) {
        if let Some(a) = &self.addr {
            if let Err(e) = listen_addr(a) {
                c.fail("addr", toml_string(a), e.to_string());
            }
        }
    }
}

/// `PORT` (bound to 127.0.0.1) or `HOST:PORT`, as `[metrics] addr` and `--metrics` take.
pub fn listen_addr(addr: &str) -> Result<std::net::SocketAddr> {
    let full =
        if addr.chars().all(|c| c.is_ascii_digit()) { format!("127.0.0.1:{addr}") } else { addr.to_owned() };
    full.parse().map_err(|_| anyhow::anyhow!("expected PORT or IP:PORT"))
}

/// `BTC/USDT` -> (`BTC`, `USDT`), upper case.
pub fn pair_parts(p: &str) -> Option<(String, String)> {
    let (b, q) = p.split_once('/')?;
    let (b, q) = (b.trim(), q.trim());
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    (ok(b) && ok(q)).then(|| (b.to_ascii_uppercase(), q.to_ascii_uppercase()))
}

/// Where the shipped example configurations live in a checkout.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

#[cfg(test)]
mod tests;
