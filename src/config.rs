//! Engine configuration: TOML files that reject unknown keys, with units in key names,
//! and the demo default compiled in.
//!
//! Every section but `[market]` and `[layout]` has defaults; the trading sections are
//! the stages' own configuration types. Risk and tuning keys can be overridden by the
//! environment variables users know from the original design ([`apply_env`]). Secrets
//! never live here: API keys come from the environment.

use std::path::{Path, PathBuf};

use adapters::venues::Endpoints;
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

/// What the engine trades.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// Spot pairs as `BASE/QUOTE`, traded on every venue in `venues`.
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
#[derive(Clone, Debug, Deserialize)]
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

    /// Reads a configuration (or the demo default) and applies the `ARB_*` environment
    /// overrides, reporting each one applied on stderr.
    pub fn load_with_env(path: Option<&Path>) -> Result<Self> {
        let mut c = Self::load(path)?;
        for name in apply_env(&mut c, |k| std::env::var(k).ok())? {
            eprintln!("config: {name} overrides the file");
        }
        Ok(c)
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
        let loaded: Vec<_> =
            self.market.pairs.iter().chain(&self.market.futures).filter_map(|p| pair_parts(p)).collect();
        for p in &self.market.standby {
            if !pair_parts(p).is_some_and(|pp| loaded.contains(&pp)) {
                bail!("key `market.standby`: `{p}` is not one of `market.pairs` or `market.futures`");
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

    /// The order-entry configuration with every traded venue's endpoints filled in from
    /// [[venues]] where `[orders]` does not name them.
    pub fn order_entry(&self) -> adapters::orders::OrderEntryConfig {
        use adapters::venues::gateio::orders::GateEntryConfig;
        use adapters::venues::mexc::orders::MexcEntryConfig;
        let mut o = self.orders.clone();
        if let (None, Some(v)) = (&o.gateio, self.venue(Venue::GateIo)) {
            let rest = v.rest.trim_end_matches('/');
            let rest = if rest.ends_with("/api/v4") { rest.to_owned() } else { format!("{rest}/api/v4") };
            o.gateio = Some(GateEntryConfig {
                rest_url: rest,
                ws_spot_url: v.ws_spot.clone(),
                ws_futures_url: v.ws_futures.clone(),
                ..GateEntryConfig::default()
            });
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

/// The environment variables that override configuration keys, as users of the
/// original design know them, with what each sets.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("ARB_MAX_POSITION_SIZE_USD", "risk.max_position_size_usd"),
    ("ARB_MAX_TOTAL_EXPOSURE_USD", "risk.max_total_exposure_usd"),
    ("ARB_MIN_PROFIT_MARGIN_BPS", "risk.min_profit_margin_bps and detect.min_profit_bps"),
    ("ARB_MAX_DAILY_LOSS_USD", "risk.max_daily_loss_usd"),
    ("ARB_TARGET_EXECUTION_TIME_MS", "risk.max_execution_time_ms"),
    (
        "ARB_OPPORTUNITY_SCAN_INTERVAL_MS",
        "detect.cooldown_ms (detection is event-driven: this is the least time between two emissions of one opportunity)",
    ),
    (
        "ARB_BALANCE_REFRESH_INTERVAL_MS",
        "state.reconcile_interval_ms (balances and positions reconciled with the venues)",
    ),
    ("ARB_ENABLE_CIRCUIT_BREAKERS", "false: breakers never trip (the kill switch and limits still apply)"),
    (
        "ARB_ENABLE_RISK_CHECKS",
        "false: position, exposure, daily-loss and margin limits are lifted (balances, rate limits and the kill switch remain)",
    ),
    (
        "ARB_ENABLE_RECOVERY_MODE",
        "false: a naked leg halts its instruments for an operator instead of automatic recovery",
    ),
];

/// Applies the `ARB_*` overrides found by `get` (the process environment in
/// [`Config::load_with_env`]); returns the names applied. A bad value names the
/// variable and the key.
pub fn apply_env(cfg: &mut Config, get: impl Fn(&str) -> Option<String>) -> Result<Vec<&'static str>> {
    use pipeline::units::{Bps, Usd};
    let mut applied = Vec::new();
    let usd = |name: &str, v: &str| -> Result<Usd> {
        pipeline::types::Amount::parse(v.trim()).map(Usd).map_err(|e| {
            anyhow::anyhow!("environment variable {name} = {v:?}: {e} (expected USD, e.g. 5000)")
        })
    };
    let bps = |name: &str, v: &str| -> Result<Bps> {
        pipeline::types::Rate::parse_bps(v.trim()).map(Bps).map_err(|e| {
            anyhow::anyhow!("environment variable {name} = {v:?}: {e} (expected basis points, e.g. 5)")
        })
    };
    let ms = |name: &str, v: &str| -> Result<u64> {
        v.trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("environment variable {name} = {v:?}: expected milliseconds"))
    };
    let flag = |name: &str, v: &str| -> Result<bool> {
        match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => bail!("environment variable {name} = {v:?}: expected true or false"),
        }
    };
    for &(name, _) in ENV_OVERRIDES {
        let Some(v) = get(name) else { continue };
        match name {
            "ARB_MAX_POSITION_SIZE_USD" => cfg.risk.max_position_size_usd = usd(name, &v)?,
            "ARB_MAX_TOTAL_EXPOSURE_USD" => cfg.risk.max_total_exposure_usd = usd(name, &v)?,
            "ARB_MIN_PROFIT_MARGIN_BPS" => {
                let b = bps(name, &v)?;
                cfg.risk.min_profit_margin_bps = b;
                cfg.detect.min_profit_bps = b;
            }
            "ARB_MAX_DAILY_LOSS_USD" => cfg.risk.max_daily_loss_usd = usd(name, &v)?,
            "ARB_TARGET_EXECUTION_TIME_MS" => cfg.risk.max_execution_time_ms = ms(name, &v)?,
            "ARB_OPPORTUNITY_SCAN_INTERVAL_MS" => cfg.detect.cooldown_ms = ms(name, &v)?,
            "ARB_BALANCE_REFRESH_INTERVAL_MS" => cfg.state.reconcile_interval_ms = ms(name, &v)?,
            "ARB_ENABLE_CIRCUIT_BREAKERS" => {
                if !flag(name, &v)? {
                    let b = &mut cfg.risk.breakers;
                    b.max_consecutive_failures = u32::MAX;
                    b.max_error_rate_pct = 100;
                    b.max_order_latency_ms = u64::MAX / 2;
                    b.stale_trip_count = u32::MAX;
                }
            }
            "ARB_ENABLE_RISK_CHECKS" => {
                if !flag(name, &v)? {
                    let lifted = Usd(pipeline::types::Amount::from_int(i64::MAX / 4));
                    cfg.risk.max_position_size_usd = lifted;
                    cfg.risk.max_total_exposure_usd = lifted;
                    cfg.risk.max_daily_loss_usd = lifted;
                    cfg.risk.min_profit_margin_bps = Bps::new(0);
                }
            }
            "ARB_ENABLE_RECOVERY_MODE" => {
                if !flag(name, &v)? {
                    cfg.state.max_recovery_attempts = 0;
                }
            }
            _ => continue,
        }
        applied.push(name);
    }
    Ok(applied)
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
        let standby = |list: &str| base.replace("futures = [", &format!("standby = [{list}]\nfutures = ["));
        assert_eq!(Config::parse(&standby("\"eth/btc\""), "z.toml").unwrap().market.standby, ["eth/btc"]);
        let e = Config::parse(&standby("\"SOL/USDT\""), "z.toml").unwrap_err();
        assert!(
            format!("{e:#}").contains("market.standby") && format!("{e:#}").contains("SOL/USDT"),
            "{e:#}"
        );
    }

    #[test]
    fn environment_overrides_set_their_keys_and_name_bad_values() {
        let mut c = Config::load(None).unwrap();
        let env = |k: &str| match k {
            "ARB_MAX_POSITION_SIZE_USD" => Some("1234.5".to_owned()),
            "ARB_MIN_PROFIT_MARGIN_BPS" => Some("7.5".to_owned()),
            "ARB_ENABLE_RECOVERY_MODE" => Some("false".to_owned()),
            "ARB_BALANCE_REFRESH_INTERVAL_MS" => Some("2500".to_owned()),
            _ => None,
        };
        let applied = apply_env(&mut c, env).unwrap();
        assert_eq!(applied.len(), 4);
        assert_eq!(c.risk.max_position_size_usd.amount(), pipeline::types::Amount::parse("1234.5").unwrap());
        assert_eq!(c.detect.min_profit_bps.rate(), pipeline::types::Rate::parse_bps("7.5").unwrap());
        assert_eq!(c.state.max_recovery_attempts, 0);
        assert_eq!(c.state.reconcile_interval_ms, 2500);
        let e =
            apply_env(&mut c, |k| (k == "ARB_MAX_DAILY_LOSS_USD").then(|| "lots".to_owned())).unwrap_err();
        assert!(e.to_string().contains("ARB_MAX_DAILY_LOSS_USD = \"lots\""), "{e}");
        let e =
            apply_env(&mut c, |k| (k == "ARB_ENABLE_RISK_CHECKS").then(|| "maybe".to_owned())).unwrap_err();
        assert!(e.to_string().contains("expected true or false"), "{e}");
    }

    #[test]
    fn pairs_split_and_normalize() {
        assert_eq!(pair_parts("btc/usdt"), Some(("BTC".into(), "USDT".into())));
        assert_eq!(pair_parts("BTC"), None);
        assert_eq!(pair_parts("BTC/US-DT"), None);
    }
}
