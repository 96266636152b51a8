//! `arb replay FILE...`: recorded venue messages through the same decoders and stages as
//! live trading, with fills simulated against the replayed books, in recorded time.
//!
//! Every stage reads a virtual clock that the replay moves to each message's recorded
//! receive time, and all six stages run on one thread in pipeline order, so a replay of
//! the same files with the same configuration always produces the same report.
//! Latency is still measured on the real clock: it says how fast the engine processed
//! the recording.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use adapters::capture;
use adapters::decode::DecodeStats;
use adapters::feed::ReplaySource;
use anyhow::{Context, Result};
use pipeline::runtime::Layout;
use pipeline::types::{Instruments, Venue};
use quanta::Clock;

use super::live::ReportFormat;
use crate::config::Config;
use crate::engine::{self, EngineSpec, FeedSpec, Stopped};

/// What `arb replay` was asked.
#[derive(Clone, Debug)]
pub struct ReplayArgs {
    pub files: Vec<PathBuf>,
    pub config: Option<PathBuf>,
    pub instruments: Option<PathBuf>,
    pub report: ReportFormat,
    pub hgrm_dir: Option<PathBuf>,
}

/// Virtual time given to operations in flight once the recording ends.
const SETTLE: Duration = Duration::from_secs(10);

/// Replays and returns the stopped engine (report and histograms).
pub fn replay(args: &ReplayArgs) -> Result<Stopped> {
    let records = capture::read_files(&args.files)?;
    let given = super::book::given_instruments(args.instruments.as_deref(), &args.files)?;
    let specs = super::book::specs_for(&records, given)?;
    let instruments = Instruments::from_specs(&specs)?;
    let mut cfg = Config::load_with_env(args.config.as_deref())?;
    cfg.layout = Layout::single_thread(&pipeline::STAGES);
    cfg.dry_run = true;
    // Its own directory, also beside another replay in this process.
    static REPLAYS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = REPLAYS.fetch_add(1, Ordering::Relaxed);
    cfg.journal.dir = std::env::temp_dir().join(format!("arb-replay-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cfg.journal.dir);
    if cfg.paper.balances.is_empty() {
        // Paper money in every asset the recording trades, on every venue.
        for v in Venue::ALL {
            for a in 0..instruments.asset_count() {
                let asset = instruments.asset_name(pipeline::types::AssetId(a as u16)).to_owned();
                let amount = if matches!(asset.as_str(), "USDT" | "USDC" | "USD") { "100000" } else { "10" };
                cfg.paper.balances.push(pipeline::dispatch::PaperBalance {
                    venue: v,
                    asset,
                    amount: pipeline::units::Exact(pipeline::types::Amount::parse(amount).expect("constant")),
                });
            }
        }
    }
    let (clock, mock) = Clock::mock();
    mock.increment(1_000_000_000u64);
    let source = ReplaySource::new(&instruments, records, DecodeStats::new()).with_virtual_time(mock.clone());
    let done = source.done_flag();
    let journal = cfg.journal.dir.clone();
    let session = engine::start(EngineSpec {
        config: cfg,
        specs,
        feed: FeedSpec::Replay(Box::new(source)),
        sink: None,
        clock,
        metrics_clock: Some(Clock::new()),
    })?;
    while !done.load(Ordering::Acquire) && !session.control().is_stop_requested() {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let operations in flight finish in virtual time.
    let step = Duration::from_millis(10);
    let mut settled = Duration::ZERO;
    while settled < SETTLE {
        mock.increment(step);
        settled += step;
        std::thread::sleep(Duration::from_micros(200));
    }
    let stopped = session.stop();
    let _ = std::fs::remove_dir_all(&journal);
    stopped.context("replay")
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let stopped = replay(&args)?;
    if let (Some(dir), Some(hub)) = (&args.hgrm_dir, &stopped.hub) {
        engine::write_histograms(hub, dir)?;
    }
    match args.report {
        ReportFormat::Text => println!("{}", stopped.report.to_text()),
        ReportFormat::Json => println!("{}", stopped.report.to_json()),
    }
    if !stopped.faults.is_empty() {
        anyhow::bail!("trading was halted: {}", stopped.faults.join("; "));
    }
    Ok(())
}
