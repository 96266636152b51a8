//! Engine configuration: TOML files that reject unknown keys, with units in key names,
//! and the demo default compiled in.
//!
//! Every section but `[market]` and `[layout]` has defaults; the trading sections are
//! the stages' own configuration types. Risk and tuning keys can be overridden by the
//! environment variables users know from the original design ([`apply_env`]). Secrets
//! never live here: API keys come from the environment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pipeline::book::BookConfig;
use pipeline::detect::DetectConfig;
use pipeline::dispatch::{DispatchConfig, PaperConfig};
use pipeline::journal::JournalConfig;
use pipeline::risk::RiskConfig;
use pipeline::runtime::Layout;
use pipeline::state::StateConfig;
use pipeline::types::Venue;
use serde::{Deserialize, Serialize};

/// The demo configuration shipped in `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Where one venue is reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    pub venue: Venue,
    /// REST origin (`https://api.gateio.ws`, `https://api.mexc.com`).
    pub rest: String,
    /// REST origin of the futures API when it differs (MEXC: `https://contract.mexc.com`).
    #[serde(default)]
    pub rest_futures: Option<String>,
    pub ws_spot: String,
    pub ws_futures: String,
}

/// What the engine trades.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// Spot pairs as `BASE/QUOTE`, traded on every venue in `venues`.
    pub pairs: Vec<String>,
    /// USDT perpetuals as `BASE/QUOTE`.
    #[serde(default)]
    pub futures: Vec<String>,
    #[serde(default = "all_venues")]
    pub venues: Vec<Venue>,
    /// Instrument metadata saved after each successful fetch, used when the venues
    /// cannot be reached at start.
    #[serde(default)]
    pub metadata_cache: Option<PathBuf>,
}

fn all_venues() -> Vec<Venue> {
    Venue::ALL.to_vec()
}

/// How market data is subscribed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// `obu` (self-syncing order book v2) or `order_book_update` (REST-synced).
    pub gate_depth: adapters::feed::GateDepth,
    /// MEXC spot push interval: 10 or 100.
    pub mexc_interval_ms: u32,
    /// No data for this long and a connection is reconnected.
    pub stale_after_ms: u64,
    /// Levels requested in REST snapshots.
    pub snapshot_limit: u32,
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
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Paper trading: fill against the live books instead of sending orders.
    #[serde(default = "yes")]
    pub dry_run: bool,
    #[serde(default)]
    pub venues: Vec<VenueConfig>,
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
}

fn yes() -> bool {
    true
}

fn default_journal() -> JournalConfig {
    JournalConfig { dir: PathBuf::from("journal"), fsync: Default::default() }
}

impl Config {
    /// Parses configuration text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let c: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        c.check().with_context(|| format!("{origin}: invalid configuration"))?;
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

    /// Checks what the types alone cannot.
    pub fn check(&self) -> Result<()> {
        if self.market.pairs.is_empty() && self.market.futures.is_empty() {
            bail!("key `market.pairs`: nothing to trade");
        }
        for p in self.market.pairs.iter().chain(&self.market.futures) {
            if pair_parts(p).is_none() {
                bail!("key `market.pairs`/`market.futures`: `{p}` is not BASE/QUOTE");
            }
        }
        if self.market.venues.is_empty() {
            bail!("key `market.venues`: no venue");
        }
        if !matches!(self.feed.mexc_interval_ms, 10 | 100) {
            bail!(
                "key `feed.mexc_interval_ms` = {}: MEXC pushes every 10 or 100 ms",
                self.feed.mexc_interval_ms
            );
        }
        let mut seen = Vec::new();
        for v in &self.venues {
            if seen.contains(&v.venue) {
                bail!("key `venues`: {} is listed twice", v.venue);
            }
            seen.push(v.venue);
        }
        Ok(())
    }

    /// The endpoints of `venue`.
    pub fn venue(&self, venue: Venue) -> Option<&VenueConfig> {
        self.venues.iter().find(|v| v.venue == venue)
    }
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
mod tests {
    use super::*;

    #[test]
    fn every_shipped_config_parses_and_its_layout_places_every_stage() {
        for entry in std::fs::read_dir(examples_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let c = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                let all: Vec<usize> = (0..1024).collect();
                c.layout
                    .validate(&pipeline::STAGES, &all)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }

    #[test]
    fn the_built_in_default_is_the_shipped_file() {
        let shipped = std::fs::read_to_string(examples_dir().join("default.toml")).unwrap();
        assert_eq!(shipped, DEFAULT_TOML);
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let base = DEFAULT_TOML.to_owned();
        let e = Config::parse(&base.replace("max_daily_loss_usd", "max_position_usd"), "x.toml").unwrap_err();
        assert!(
            format!("{e:#}").contains("x.toml") && format!("{e:#}").contains("max_position_usd"),
            "{e:#}"
        );
        let bad_pair = base.replace("\"BTC/USDT\"", "\"BTCUSDT\"");
        let e = Config::parse(&bad_pair, "y.toml").unwrap_err();
        assert!(format!("{e:#}").contains("`BTCUSDT` is not BASE/QUOTE"), "{e:#}");
    }

    #[test]
    fn pairs_split_and_normalize() {
        assert_eq!(pair_parts("btc/usdt"), Some(("BTC".into(), "USDT".into())));
        assert_eq!(pair_parts("BTC"), None);
        assert_eq!(pair_parts("BTC/US-DT"), None);
    }
}
