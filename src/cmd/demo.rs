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
    pub live: LiveOptions,
}

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
        for v in Venue::ALL {
            for (asset, amount) in [("USDT", "100000"), ("BTC", "1"), ("ETH", "30")] {
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

pub fn run(args: DemoArgs) -> Result<()> {
    let cfg = Config::load_with_env(args.config.as_deref())?;
    let sim = Sim::start(SimConfig {
        seed: args.seed,
        plain: args.plain,
        faults: args.faults,
        ..SimConfig::default()
    })
    .context("starting the simulated venues")?;
    let keep = args.journal.is_some();
    let journal = args
        .journal
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("arb-demo-{}", std::process::id())));
    let cfg = config_for(&sim, cfg, journal.clone());
    eprintln!(
        "demo: simulated Gate.io and MEXC on loopback ({}, {}), seed {}, faults: {}",
        if args.plain { "plain" } else { "TLS" },
        if args.paper { "paper fills" } else { "real signed orders" },
        args.seed,
        args.faults
    );
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
