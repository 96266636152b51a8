//! `arb demo`: the simulated venues and the engine in one process, over real sockets.

use std::path::PathBuf;

use anyhow::{Context, Result};
use pipeline::types::Venue;
use sim::{Faults, Sim, SimConfig};

use super::live::{self, LiveOptions};
use adapters::venues::Endpoints;

use crate::config::Config;

/// What `arb demo` was asked.
#[derive(Clone, Debug)]
pub struct DemoArgs {
    pub config: Option<PathBuf>,
    pub seed: u64,
    pub faults: Faults,
    pub plain: bool,
    /// Keep the journal here instead of a temporary directory removed at the end.
    pub journal: Option<PathBuf>,
    /// Fill on paper instead of sending real orders to the simulated venues.
    pub paper: bool,
    /// USDT pairs per simulated venue, every one traded; `None`: the sim's default
    /// universe and the configuration's own lists.
    pub pairs: Option<usize>,
    pub live: LiveOptions,
}

/// How often the demo's simulated perpetuals settle funding: short, so that a demo of a
/// minute sees several settlements (the real venues settle every 8 hours).
pub const DEMO_FUNDING_INTERVAL_MS: u64 = 20_000;

/// The simulated accounts' keys, for real signed orders.
pub fn sim_credentials(sim: &Sim) -> adapters::orders::OrderEntryCredentials {
    let c = |v: Venue| {
        let e = sim.endpoints().get(v);
        adapters::auth::Credentials::new(
            e.api_key.clone(),
            adapters::auth::Secret::new(e.api_secret.expose()),
        )
    };
    adapters::orders::OrderEntryCredentials { gateio: Some(c(Venue::GateIo)), mexc: Some(c(Venue::Mexc)) }
}

/// The engine configuration and order sink for `sim`: real signed orders, or paper
/// fills when `paper`.
fn engine_on(sim: &Sim, mut cfg: Config, paper: bool) -> Result<(Config, Option<live::SinkBuilder>)> {
    cfg.dry_run = paper;
    if paper {
        return Ok((cfg, None));
    }
    // The simulated venues' own certificate, and nothing else, is trusted (none with --plain).
    let tls = live::tls_for(&cfg, false)?;
    let sink = live::venue_sink(&cfg, sim_credentials(sim), tls);
    Ok((cfg, Some(sink)))
}

/// Starts the engine on `sim`: real signed orders, or paper fills when `paper`.
pub fn start_on(sim: &Sim, cfg: Config, paper: bool) -> Result<crate::engine::Session> {
    let (cfg, sink) = engine_on(sim, cfg, paper)?;
    live::start(cfg, sink)
}

/// The engine configuration pointed at running simulated venues.
pub fn config_for(sim: &Sim, mut cfg: Config, journal: PathBuf) -> Config {
    let e = sim.endpoints();
    cfg.venues = Venue::ALL
        .iter()
        .map(|&v| {
            let x = e.get(v);
            Endpoints {
                venue: v,
                rest: x.rest.clone(),
                rest_futures: None,
                ws_spot: x.ws_spot.clone(),
                ws_futures: x.ws_futures.clone(),
            }
        })
        .collect();
    cfg.tls.ca_file = sim.ca_pem_path().map(PathBuf::from);
    cfg.journal.dir = journal;
    cfg.market.metadata_cache = None;
    if cfg.paper.balances.is_empty() {
        // Paper money mirroring the simulated accounts.
        let generated = sim.catalog().assets.iter().filter(|a| !a.user_balance.is_empty());
        let balances: Vec<(&str, &str)> = [("USDT", "100000"), ("BTC", "1"), ("ETH", "30")]
            .into_iter()
            .chain(generated.map(|a| (a.name, a.user_balance.as_str())))
            .collect();
        for v in Venue::ALL {
            for &(asset, amount) in &balances {
                cfg.paper.balances.push(pipeline::dispatch::PaperBalance {
                    venue: v,
                    asset: asset.into(),
                    amount: pipeline::units::Exact(pipeline::types::Amount::parse(amount).expect("constant")),
                });
            }
        }
    }
    cfg
}

/// Points the configuration's `[market]` at everything the simulated venues list: every
/// spot pair (USDT pairs and crosses), every perpetual listed on both venues.
pub fn trade_everything(sim: &Sim, mut cfg: Config) -> Config {
    cfg.market.pairs = sim.catalog().spot_pairs();
    cfg.market.futures = sim.catalog().futures_pairs();
    cfg.market.standby.clear();
    cfg
}

pub fn run(args: DemoArgs) -> Result<()> {
    let cfg = Config::load_with_env(args.config.as_deref())?;
    let mut sim_cfg = SimConfig {
        seed: args.seed,
        plain: args.plain,
        faults: args.faults,
        funding_interval_ms: DEMO_FUNDING_INTERVAL_MS,
        ..SimConfig::default()
    };
    if let Some(n) = args.pairs {
        sim_cfg = sim_cfg.with_pairs(n);
    }
    let sim = Sim::start(sim_cfg).context("starting the simulated venues")?;
    let cfg = match args.pairs {
        Some(_) => trade_everything(&sim, cfg),
        None => cfg,
    };
    let keep = args.journal.is_some();
    let journal = args
        .journal
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("arb-demo-{}", std::process::id())));
    let cfg = config_for(&sim, cfg, journal.clone());
    eprintln!(
        "demo: simulated Gate.io and MEXC on loopback ({}, {}), seed {}, {} spot pairs and {} perpetuals per venue, faults: {}",
        if args.plain { "plain" } else { "TLS" },
        if args.paper { "paper fills" } else { "real signed orders" },
        args.seed,
        cfg.market.pairs.len(),
        cfg.market.futures.len(),
        args.faults
    );
    let f = &args.faults;
    if args.paper && (f.reject > 0.0 || f.partial > 0.0 || f.delay_ms > 0) {
        // Paper fills are made in the process against the books: the venues' order
        // entry, where these faults happen, is not used.
        eprintln!(
            "demo: --paper fills orders in the process: reject, partial and delay_ms act on the \
             venues' order entry and do not apply (gap, disconnect_every_s and stall_every_s do)"
        );
    }
    let (cfg, sink) = engine_on(&sim, cfg, args.paper)?;
    let result = live::run(cfg, sink, &args.live);
    if !keep {
        // The journal goes; the log lines the dashboard diverted stay readable.
        let log = journal.join("arb.log");
        if std::fs::metadata(&log).is_ok_and(|m| m.len() > 0) {
            let kept = std::env::temp_dir().join(format!("arb-demo-{}.log", std::process::id()));
            if std::fs::rename(&log, &kept).is_ok() {
                eprintln!("the demo's journal is removed; its log lines are kept in {}", kept.display());
            }
        }
        let _ = std::fs::remove_dir_all(&journal);
    }
    result
}
