//! The engine: the six stages wired with rings in the configured thread layout, and the
//! cold side that watches them.
//!
//! ```text
//!  md ──MdEvent──▶ book ──BookTop──▶ detect ──Opportunity──▶ risk ──Execution──▶ dispatch
//!   ▲               │  └──BookTop──▶ state ◀──StateInput────────────────────────┘  │  ▲
//!   └────Resync─────┘  └──BookTop──▶ (paper venue, dry run)   │ └─Command─────────┘  │
//!                                    risk ◀──RiskUpdate──────┘                       │
//! ```
//!
//! [`start`] builds every stage from the configuration, replays the journal so the state
//! stage resumes where the last run stopped, starts the runner and a cold monitor
//! thread, and returns a [`Session`]. The session stops the engine when dropped.

mod clean_stop;
mod drain;
mod journal_dir;
pub mod listing;
mod log_out;
mod monitor;
mod reconcile;
mod report;
mod sinks;
mod sync;
pub mod wire;

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::decode::DecodeStats;
use adapters::feed::{LiveFeed, LiveFeedConfig, ReplaySource};
use anyhow::{Context, Result, anyhow};
use pipeline::book::{BookBuilder, BookCounters};
use pipeline::detect::Detector;
use pipeline::dispatch::{DispatchRings, Dispatcher, PaperSink};
use pipeline::journal::{self, JournalKind, JournalSync, JournalWriter};
use pipeline::md::{FeedSource, MdStage};
use pipeline::metrics::{MetricsHub, SeriesKind};
use pipeline::msg::{DetectControl, MdEvent, OpOutcome, Opportunity, RiskControl, StateControl};
use pipeline::risk::{RiskGate, RiskRings};
use pipeline::runtime::{Backpressure, Control, Runner, Running, Rx, Tx, link};
use pipeline::state::{StateKeeper, StateRings};
use pipeline::stats::TradingStats;
use pipeline::types::{InstrumentId, Instruments};
use quanta::Clock;
use rustls::ClientConfig;

pub use log_out::LogOut;
pub use monitor::{BUCKETS_NS, Buckets, ForeignView, MonitorView, OUTCOMES_KEPT};
pub use report::{BookResyncs, LatencyEntry, Report, write_histograms};
pub use sinks::EngineSink;
pub use sync::{SyncProgress, resync_summary, resync_text};

use crate::config::Config;

/// Where market data comes from.
pub enum FeedSpec {
    /// The venues in the configuration, over the network.
    Live { tls: Option<Arc<ClientConfig>> },
    /// Recorded captures.
    Replay(Box<ReplaySource>),
}

impl std::fmt::Debug for FeedSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedSpec::Live { .. } => f.write_str("FeedSpec::Live"),
            FeedSpec::Replay(r) => write!(f, "FeedSpec::Replay({} records)", r.remaining()),
        }
    }
}

/// The md stage's source: live connections or a capture, statically dispatched.
#[derive(Debug)]
pub enum EngineFeed {
    Live(LiveFeed),
    Replay(ReplaySource),
}

impl FeedSource for EngineFeed {
    fn poll(&mut self, now_ns: u64, out: &mut Vec<MdEvent>) -> usize {
        match self {
            EngineFeed::Live(f) => f.poll(now_ns, out),
            EngineFeed::Replay(f) => f.poll(now_ns, out),
        }
    }

    fn resync(&mut self, inst: InstrumentId, now_ns: u64) {
        match self {
            EngineFeed::Live(f) => f.resync(inst, now_ns),
            EngineFeed::Replay(f) => f.resync(inst, now_ns),
        }
    }

    fn stop(&mut self) {
        match self {
            EngineFeed::Live(f) => f.stop(),
            EngineFeed::Replay(f) => f.stop(),
        }
    }

    fn add(&mut self, inst: InstrumentId, table: &Instruments, now_ns: u64) -> bool {
        match self {
            EngineFeed::Live(f) => f.add(inst, table, now_ns),
            EngineFeed::Replay(f) => f.add(inst, table, now_ns),
        }
    }

    fn remove(&mut self, inst: InstrumentId, now_ns: u64) {
        match self {
            EngineFeed::Live(f) => f.remove(inst, now_ns),
            EngineFeed::Replay(f) => f.remove(inst, now_ns),
        }
    }
}

/// What the engine is started with.
pub struct EngineSpec {
    pub config: Config,
    /// The instruments, in table order (their ids), as specified.
    pub specs: Vec<pipeline::types::InstrumentSpec>,
    pub feed: FeedSpec,
    /// The order sink; `None` builds the paper venue from `[paper]` (dry run).
    pub sink: Option<Box<dyn FnOnce(SinkContext) -> Result<EngineSink> + Send>>,
    /// The clock every stage reads (a mock one drives a replay in recorded time).
    pub clock: Clock,
    /// The clock latency is measured with, when it differs from `clock`.
    pub metrics_clock: Option<Clock>,
}

impl std::fmt::Debug for EngineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSpec").field("feed", &self.feed).finish_non_exhaustive()
    }
}

/// What a sink builder may use.
#[derive(Debug)]
pub struct SinkContext {
    pub instruments: Arc<Instruments>,
    pub clock: Clock,
    /// Book tops, for a sink that needs prices (the paper venue).
    pub books: Rx<pipeline::msg::BookTop>,
    /// This instance's client order id prefix, fixed when its journal was created.
    pub client_prefix: pipeline::journal::ClientPrefix,
}

/// Cold-side handles of a running engine.
pub(crate) struct ColdRings {
    pub risk_alerts: Rx<pipeline::msg::Alert>,
    pub state_alerts: Rx<pipeline::msg::Alert>,
    pub outcomes: Rx<OpOutcome>,
    /// Orders and fills on the account this instance did not send.
    pub foreign: Rx<pipeline::msg::Foreign>,
    /// Log rings of the hot stages, by source name.
    pub logs: Vec<(&'static str, Rx<pipeline::log::LogRecord>)>,
    /// The clock the hot stages stamp records with.
    pub clock: Clock,
    /// Where the monitor writes log lines.
    pub log: Arc<LogOut>,
    /// The I/O errors that broke the journal writers, once they do (dispatch, state).
    pub journal_causes: Vec<Arc<std::sync::OnceLock<std::io::Error>>>,
    /// The control rings' cold ends: whether an operator threw the kill switch.
    pub controls: Arc<Controls>,
    /// Reconciliation of the venues' balances: the details of a drift alert.
    pub drift: Arc<pipeline::state::DriftBoard>,
}

/// A running engine. Dropping it stops the engine.
pub struct Session {
    running: Option<Running>,
    /// The journal's sync thread (none under `fsync = "never"`).
    journal_sync: Option<JournalSync>,
    control: Arc<Control>,
    monitor: Option<monitor::Monitor>,
    view: Arc<Mutex<MonitorView>>,
    stats: TradingStats,
    books: Arc<BookCounters>,
    decode: Arc<DecodeStats>,
    instruments: Arc<Instruments>,
    positions: Arc<pipeline::cells::PositionBoard>,
    /// Wallet changes, fees, P&L and funding as the state stage books them.
    money: Arc<pipeline::state::MoneyBoard>,
    drift: Arc<pipeline::state::DriftBoard>,
    controls: Arc<Controls>,
    started: Instant,
    /// The start on the engine's clock (ns), for the books' time to sync.
    started_ns: u64,
    /// Instruments listed at start (those `arb ctl add-symbol` adds come after them):
    /// the start-up sync time is theirs.
    listed_at_start: usize,
    /// Executions per instrument traded.
    executed: Arc<pipeline::cells::InstrumentCounters>,
    feed_counters: Option<Arc<adapters::feed::live::LiveCounters>>,
    connections: adapters::feed::live::ConnectionList,
    journal_dir: PathBuf,
    /// The journal directory is this engine's while it runs.
    _dir_lock: journal_dir::DirLock,
    /// The client order id prefix of this instance (its journal's identity).
    identity: pipeline::journal::ClientPrefix,
    dry_run: bool,
    next_manual_id: std::sync::atomic::AtomicU64,
    clock: Clock,
    /// Where cold-side log lines go.
    log: Arc<LogOut>,
    /// The universe traded, in one line ([`crate::universe::describe`]).
    universe: String,
    /// How long an orderly stop waits for open operations (`state.drain_timeout_ms`).
    drain_timeout: Duration,
}

/// How long a restart waits for the venues to list our orders.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(15);

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("control", &self.control).finish_non_exhaustive()
    }
}

/// The hub series of every book's resync times (gap to synced again), ns.
pub const RESYNC_SERIES: &str = "book.resync";

/// Ids of injected opportunities: high bit set, apart from detection's own numbering.
const MANUAL_ID_BASE: u64 = 1 << 63;

fn ring<T: Copy + Send>(
    hub: &mut MetricsHub,
    clock: &Clock,
    name: &str,
    cap: usize,
    bp: Backpressure,
) -> (Tx<T>, Rx<T>) {
    let rec = hub.recorder(format!("hop.{name}"), SeriesKind::Hop);
    link(name, cap.max(2), bp, clock.clone(), rec)
}

/// Builds every stage and starts the engine.
pub fn start(spec: EngineSpec) -> Result<Session> {
    let EngineSpec { config: cfg, specs, feed, sink, clock, metrics_clock } = spec;
    let started_ns = pipeline::clock::now_ns(&clock);
    let mut table = Instruments::from_specs(&specs)?;
    let listed_at_start = table.len();
    // Slots for the instruments and assets `arb ctl add-symbol` adds while running:
    // every stage sizes its per-instrument and per-asset state by the capacities, fixed
    // here.
    let assets = cfg.market.max_assets.max(table.asset_count());
    table.reserve(cfg.market.max_instruments.max(specs.len()), assets);
    let instruments = Arc::new(table);
    let n = instruments.capacity();
    let mclock = metrics_clock.unwrap_or_else(|| clock.clone());
    let mut hub = MetricsHub::new(mclock.clone());
    let control = Control::new();
    let stats = TradingStats::new();
    let r = &cfg.rings;
    use Backpressure::{DropAndCount as Drop, Retry};

    // Market data.
    let (md_tx, md_rx) = ring::<MdEvent>(&mut hub, &mclock, "md->book", r.md_events, Drop);
    let (resync_tx, resync_rx) = ring(&mut hub, &mclock, "book->md", r.resyncs, Retry);
    let (top_detect_tx, top_detect_rx) = ring(&mut hub, &mclock, "book->detect", r.book_tops, Drop);
    let (top_state_tx, top_state_rx) = ring(&mut hub, &mclock, "book->state", r.book_tops, Drop);
    let mut book_outputs = vec![top_detect_tx, top_state_tx];
    let paper_books = if sink.is_none() || cfg.dry_run {
        let (tx, rx) = ring(&mut hub, &mclock, "book->paper", r.book_tops, Drop);
        book_outputs.push(tx);
        Some(rx)
    } else {
        None
    };
    // Trading.
    let (opp_tx, opp_rx) = ring::<Opportunity>(&mut hub, &mclock, "detect->risk", r.opportunities, Drop);
    let (exec_tx, exec_rx) = ring(&mut hub, &mclock, "risk->dispatch", r.executions, Retry);
    let (input_tx, input_rx) = ring(&mut hub, &mclock, "dispatch->state", r.state_inputs, Retry);
    let (cmd_tx, cmd_rx) = ring(&mut hub, &mclock, "state->dispatch", r.commands, Retry);
    let (upd_tx, upd_rx) = ring(&mut hub, &mclock, "state->risk", r.risk_updates, Retry);
    // Cold side.
    let (detect_ctl, detect_ctl_rx) = ring(&mut hub, &mclock, "ctl->detect", r.control, Retry);
    let (mut md_ctl, md_ctl_rx) = ring(&mut hub, &mclock, "ctl->md", r.control, Retry);
    let (risk_ctl, risk_ctl_rx) = ring(&mut hub, &mclock, "ctl->risk", r.control, Retry);
    let (state_ctl, state_ctl_rx) = ring(&mut hub, &mclock, "ctl->state", r.control, Retry);
    let (risk_alerts_tx, risk_alerts) = ring(&mut hub, &mclock, "risk->alerts", r.alerts, Drop);
    let (state_alerts_tx, state_alerts) = ring(&mut hub, &mclock, "state->alerts", r.alerts, Drop);
    let (outcomes_tx, outcomes) = ring(&mut hub, &mclock, "state->outcomes", r.outcomes, Drop);
    let (foreign_tx, foreign) = ring(&mut hub, &mclock, "state->foreign", r.outcomes, Drop);
    // The gate keeps its latest breakers until this ring takes them: never lost.
    let (breakers_tx, breakers_rx) = ring(&mut hub, &mclock, "risk->breakers", 16, Drop);
    let tick_to_trade = hub.recorder("tick_to_trade", SeriesKind::Path);
    let first_leg = hub.recorder("tick_to_trade.first_leg", SeriesKind::Path);
    let resync_rec = hub.recorder(RESYNC_SERIES, SeriesKind::Resync);
    let (md_log_tx, md_log) = ring(&mut hub, &mclock, "md->log", r.alerts, Drop);
    let (dispatch_log_tx, dispatch_log) = ring(&mut hub, &mclock, "dispatch->log", r.alerts, Drop);

    // The journal: resume where the last run stopped.
    // Created for the operator alone: it holds the positions and the control socket.
    let dir = cfg.journal.dir.clone();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create journal directory {}", dir.display()))?;
    let dir_lock = journal_dir::lock(&dir)?;
    crate::journal_meta::bind(&dir, &specs)?;
    let mut replay = journal::replay(&dir).map_err(|e| anyhow!("journal {}: {e}", dir.display()))?;
    journal_dir::check_whole(&dir, &replay)?;
    // A journal that existed before this start may have lost its unsynced tail.
    let resumed = dir.join(JournalKind::Dispatch.file_name()).exists();
    // Whether the last run stopped in order (nothing in flight); this run, until it
    // stops in order itself, leaves no such mark.
    let stopped_in_order = clean_stop::take(&dir)
        .with_context(|| format!("journal {}: the orderly-stop mark", dir.display()))?;
    let start_instant = Instant::now();
    let (mut dispatch_journal, _) = JournalWriter::open(&dir, JournalKind::Dispatch)
        .map_err(|e| anyhow!("journal {}: {e}", dir.display()))?;
    let identity = identity_of(&replay, &mut dispatch_journal)
        .map_err(|e| anyhow!("journal {}: cannot write the instance's identity: {e}", dir.display()))?;
    let (mut state_journal, _) = JournalWriter::open(&dir, JournalKind::State)
        .map_err(|e| anyhow!("journal {}: {e}", dir.display()))?;
    let journal_causes = vec![dispatch_journal.failure_cause(), state_journal.failure_cause()];
    let sync_handles = vec![
        dispatch_journal.sync_handle().map_err(|e| anyhow!("journal {}: {e}", dir.display()))?,
        state_journal.sync_handle().map_err(|e| anyhow!("journal {}: {e}", dir.display()))?,
    ];

    // The feed, built here so that connection errors surface before any thread starts.
    let decode = match &feed {
        FeedSpec::Replay(source) => source.stats(),
        FeedSpec::Live { .. } => DecodeStats::new(),
    };
    let mut feed_counters = None;
    let mut connections = adapters::feed::live::ConnectionList::default();
    let mut live_tls = None;
    let feed = match feed {
        FeedSpec::Live { tls } => {
            live_tls = Some(tls.clone());
            let lc = LiveFeedConfig {
                venues: cfg.venues.clone(),
                options: cfg.feed.options(),
                stale_after: Duration::from_millis(cfg.feed.stale_after_ms),
                snapshot_limit: cfg.feed.snapshot_limit,
                ..LiveFeedConfig::default()
            };
            let live = LiveFeed::new(lc, &instruments, tls, clock.clone(), decode.clone())?
                .with_log(pipeline::log::LogTx::new(md_log_tx));
            feed_counters = Some(live.counters());
            connections = live.connections();
            EngineFeed::Live(live)
        }
        FeedSpec::Replay(source) => EngineFeed::Replay(*source),
    };

    // The order sink.
    let sink = match (sink, paper_books) {
        (Some(build), None) => {
            // Live sinks do not read books.
            let (_, books) = ring(&mut hub, &mclock, "unused", 2, Drop);
            build(SinkContext {
                instruments: instruments.clone(),
                clock: clock.clone(),
                books,
                client_prefix: identity,
            })?
        }
        (_, Some(books)) => EngineSink::Paper(Box::new(
            PaperSink::new(&cfg.paper, instruments.clone(), books, clock.clone())
                .map_err(|e| anyhow!("[paper]: {e}"))?,
        )),
        (None, None) => unreachable!("a paper ring exists whenever no sink is given"),
    };
    let mut sink = sink;
    if let EngineSink::Venue(venue) = &mut sink {
        // The venues' refusals and order-entry failures, with their reasons, in the log.
        venue.set_log(pipeline::log::LogTx::new(dispatch_log_tx));
    }
    // Before trading: the orders the venues have that the journal lost (a host crash
    // between a write and its sync) are written back, and the replay sees them.
    if let (EngineSink::Venue(venue), true) = (&mut sink, resumed) {
        // After a run that died, a request it had in flight may still land: list the
        // venues' orders only once every such request has been placed or has expired.
        let not_before = if stopped_in_order {
            start_instant
        } else {
            let settle = Duration::from_millis(cfg.orders.restart_settle_ms);
            eprintln!(
                "journal: the last run did not stop in order; listing the venues' orders after {settle:?}, when any request it had in flight has reached its venue or expired (orders.restart_settle_ms)"
            );
            start_instant + settle
        };
        let found = venue.discover(DISCOVERY_TIMEOUT, not_before)?;
        let now = pipeline::clock::now_ns(&clock);
        let r = reconcile::adopt_lost_orders(
            &found,
            &replay,
            &instruments,
            &mut dispatch_journal,
            &mut state_journal,
            now,
        )?;
        if !r.adopted.is_empty() {
            let ids: Vec<String> =
                r.adopted.iter().map(|c| format!("t-{}-{}-{}", c.op, c.leg, c.attempt)).collect();
            eprintln!(
                "journal: {} orders on the venues were missing from the journal (its unsynced tail was lost), written back to be reconciled: {}; {} lost operations rebuilt{}",
                ids.len(),
                ids.join(", "),
                r.new_ops.len(),
                if r.for_operator.is_empty() {
                    String::new()
                } else {
                    format!(", {:?} waiting for an operator (a leg is missing)", r.for_operator)
                }
            );
            replay = journal::replay(&dir).map_err(|e| anyhow!("journal {}: {e}", dir.display()))?;
        }
        if r.foreign > 0 {
            eprintln!(
                "journal: {} orders in our client id format on the venues belong to no operation of this journal; left alone",
                r.foreign
            );
        }
    }
    let last_op_id = replay.last_op_id;

    let book_counters = BookCounters::new(n);
    let positions = pipeline::cells::PositionBoard::new(n);
    let money = pipeline::state::MoneyBoard::new(&instruments);
    let drift = pipeline::state::DriftBoard::new(&instruments);
    // Behind the paper venue there are no venue accounts to compare with.
    let paper = matches!(sink, EngineSink::Paper(_));
    // With real order entry, the venue markets that have an order-entry client: an
    // instrument added while running needs one.
    let order_markets = match &sink {
        EngineSink::Venue(v) => Some(
            adapters::venues::VenueMarket::ALL
                .iter()
                .filter(|vm| v.readiness(**vm).is_some())
                .map(|vm| (vm.venue(), vm.market()))
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let executed = pipeline::cells::InstrumentCounters::new(n);
    let mut runner = Runner::new(mclock.clone());
    // Instruments a previous run removed keep their ids, but are neither subscribed nor
    // traded: the md stage drops them before its first poll (their books are freed).
    let removed: std::collections::BTreeSet<InstrumentId> =
        replay.removed_instruments().filter(|id| id.index() < instruments.len()).collect();
    for &id in &removed {
        md_ctl
            .push(pipeline::msg::MdControl::Remove(id))
            .map_err(|_| anyhow!("the md control ring is too small"))?;
    }
    {
        let (c, t) = (clock.clone(), instruments.clone());
        runner.stage("md", move || MdStage::new(feed, md_tx, resync_rx, c).with_control(md_ctl_rx, t));
    }
    {
        let (c, bc, bcfg, t) = (clock.clone(), book_counters.clone(), cfg.book, instruments.clone());
        let ticks: Vec<pipeline::types::Price> = instruments.iter().map(|i| i.tick).collect();
        runner.stage("book", move || {
            BookBuilder::new(&ticks, bcfg, md_rx, book_outputs, resync_tx, c, bc)
                .with_resync_recorder(resync_rec)
                .with_instruments(t)
        });
    }
    let mut detector = Detector::new(
        &cfg.detect,
        instruments.clone(),
        top_detect_rx,
        detect_ctl_rx,
        opp_tx,
        clock.clone(),
        stats.detect.clone(),
    )
    .map_err(|e| anyhow!("[detect]: {e}"))?;
    for pair in &cfg.market.standby {
        for id in crate::instruments::resolve(&instruments, pair)
            .with_context(|| format!("[market] standby {pair}"))?
        {
            detector.disable(id);
        }
    }
    for &id in &removed {
        detector.disable(id);
    }
    runner.stage("detect", move || detector);
    let risk = RiskGate::new(
        &cfg.risk,
        instruments.clone(),
        RiskRings {
            opportunities: opp_rx,
            updates: upd_rx,
            control: risk_ctl_rx,
            executions: exec_tx,
            alerts: risk_alerts_tx,
        },
        control.clone(),
        clock.clone(),
        last_op_id,
        stats.risk.clone(),
    )
    .map(|g| {
        g.with_breakers(replay.breakers.as_ref())
            .with_kill_switch(replay.kill_switch.is_some())
            .with_breaker_log(breakers_tx)
    })
    .map_err(|e| anyhow!("[risk]: {e}"))?;
    runner.stage("risk", move || risk);
    let dispatcher = Dispatcher::new(
        &cfg.dispatch,
        instruments.clone(),
        DispatchRings { executions: exec_rx, commands: cmd_rx, state: input_tx },
        sink,
        dispatch_journal,
        clock.clone(),
        stats.dispatch.clone(),
    )
    .with_tick_to_trade(tick_to_trade)
    .with_executions_by_instrument(executed.clone())
    .with_first_leg(first_leg);
    runner.stage("dispatch", move || dispatcher);
    let state = StateKeeper::new(
        &cfg.state,
        instruments.clone(),
        StateRings {
            inputs: input_rx,
            books: top_state_rx,
            control: state_ctl_rx,
            commands: cmd_tx,
            risk: upd_tx,
            alerts: state_alerts_tx,
        },
        state_journal,
        control.clone(),
        clock.clone(),
        Some(&replay),
        stats.state.clone(),
    )
    .map_err(|e| anyhow!("[state]: {e}"))?
    .with_outcomes(outcomes_tx)
    .with_foreign(foreign_tx)
    .with_breaker_log(breakers_rx)
    .with_positions(positions.clone())
    .with_money(money.clone())
    .with_drift_board(drift.clone())
    .with_recovery_notional_limit(cfg.detect.max_notional_usd.amount())
    .with_day_roll_hour(cfg.risk.day_roll_utc_hour);
    let state = if paper { state.without_drift_check() } else { state };
    runner.stage("state", move || state);

    let running = runner.start(&cfg.layout, &mut hub, control.clone())?;
    // Durability off the hot path: started after the runner, so it inherits (and moves
    // to) the housekeeping cores.
    let journal_sync = match JournalSync::start(cfg.journal.fsync, &dir, sync_handles) {
        Ok(sync) => sync,
        Err(e) => {
            drop(running);
            return Err(anyhow!("journal {}: cannot start the sync thread: {e}", dir.display()));
        }
    };
    let view = Arc::new(Mutex::new(MonitorView::default()));
    let log = Arc::new(LogOut::default());
    let listing = listing::Listing {
        instruments: instruments.clone(),
        endpoints: cfg.venues.clone(),
        venues: cfg.market.venues.clone(),
        tls: live_tls.clone().flatten(),
        journal_dir: dir.clone(),
        order_markets,
        live: live_tls.is_some(),
        stats: stats.clone(),
        removed: Arc::new(Mutex::new(removed)),
        busy: Mutex::new(()),
    };
    let controls = Arc::new(Controls {
        md: Mutex::new(md_ctl),
        listing,
        detect: Mutex::new(detect_ctl),
        risk: Mutex::new(risk_ctl),
        state: Mutex::new(state_ctl),
        shutdown: AtomicBool::new(false),
        operator_kill: AtomicBool::new(false),
        runtime: control.clone(),
    });
    let monitor = monitor::Monitor::start(
        hub,
        ColdRings {
            risk_alerts,
            state_alerts,
            outcomes,
            foreign,
            logs: vec![("md", md_log), ("dispatch", dispatch_log)],
            clock: clock.clone(),
            log: log.clone(),
            journal_causes,
            controls: controls.clone(),
            drift: drift.clone(),
        },
        control.clone(),
        view.clone(),
    );
    Ok(Session {
        running: Some(running),
        journal_sync,
        control,
        monitor: Some(monitor),
        view,
        stats,
        books: book_counters,
        decode,
        instruments,
        positions,
        money,
        drift,
        controls,
        started: Instant::now(),
        started_ns,
        listed_at_start,
        executed,
        feed_counters,
        connections,
        journal_dir: dir,
        _dir_lock: dir_lock,
        universe: crate::universe::describe(&cfg.market),
        drain_timeout: Duration::from_millis(cfg.state.drain_timeout_ms),
        identity,
        dry_run: cfg.dry_run,
        next_manual_id: std::sync::atomic::AtomicU64::new(MANUAL_ID_BASE),
        clock,
        log,
    })
}

/// The instance's client order id prefix: the one its journal was created with; a
/// fresh one, written as the journal's first record, for a new journal; empty for a
/// journal written before identities (its orders carry no prefix).
fn identity_of(
    replay: &journal::Replay,
    dispatch: &mut JournalWriter,
) -> Result<pipeline::journal::ClientPrefix, pipeline::journal::JournalError> {
    use pipeline::journal::{ClientPrefix, Record};
    if let Some(p) = replay.identity {
        return Ok(p);
    }
    if replay.dispatch_records > 0 || replay.state_records > 0 {
        return Ok(ClientPrefix::LEGACY);
    }
    let prefix = ClientPrefix::generate();
    dispatch.write(&Record::Identity { prefix, wall_ms: pipeline::clock::unix_ns() / 1_000_000 })?;
    dispatch.sync()?;
    Ok(prefix)
}

/// How every kill-switch halt reason begins: the ones an operator's resume lifts.
pub const KILL_SWITCH_CAUSE: &str = "kill switch";

/// How often an orderly stop says what it is still waiting for.
const DRAIN_NOTE_EVERY: Duration = Duration::from_secs(2);

/// The cold side's ends of the control rings. Each ring has one producer, so each sits
/// behind a mutex that only cold threads take.
#[derive(Debug)]
pub struct Controls {
    md: Mutex<Tx<pipeline::msg::MdControl>>,
    /// Instruments added and removed while running.
    pub listing: listing::Listing,
    detect: Mutex<Tx<DetectControl>>,
    risk: Mutex<Tx<RiskControl>>,
    state: Mutex<Tx<StateControl>>,
    /// An orderly stop was asked for (a first Ctrl-C, `arb ctl stop`): the supervisor
    /// stops the engine, draining first.
    shutdown: AtomicBool,
    /// An operator threw the kill switch (`arb ctl kill`, the dashboard's `k`): a halt
    /// that follows is asked for, not a fault.
    operator_kill: AtomicBool,
    /// The runtime's halt, which an operator's kill switch raises and an operator's
    /// resume lifts (a fault's halt stays).
    runtime: Arc<Control>,
}

impl Controls {
    pub fn md(&self, c: pipeline::msg::MdControl) -> bool {
        self.md.lock().map(|mut tx| tx.push(c).is_ok()).unwrap_or(false)
    }

    pub fn detect(&self, c: DetectControl) -> bool {
        self.detect.lock().map(|mut tx| tx.push(c).is_ok()).unwrap_or(false)
    }

    pub fn risk(&self, c: RiskControl) -> bool {
        self.risk.lock().map(|mut tx| tx.push(c).is_ok()).unwrap_or(false)
    }

    pub fn state(&self, c: StateControl) -> bool {
        self.state.lock().map(|mut tx| tx.push(c).is_ok()).unwrap_or(false)
    }

    /// The kill switch: the risk gate refuses everything, the state stage cancels every
    /// open order and stops recovering.
    pub fn kill_switch(&self) {
        self.operator_kill.store(true, Ordering::Release);
        self.risk(RiskControl::Halt);
        self.state(StateControl::KillSwitch);
    }

    /// An operator lifts the kill switch (`arb ctl resume-trading`), thrown in this run
    /// or journaled before a restart: the state stage journals the lift, then the risk
    /// gate trades again. A halt from a fault (a panic, a journal failure) stays.
    /// Returns whether both stages were told.
    pub fn resume_trading(&self) -> bool {
        self.operator_kill.store(false, Ordering::Release);
        self.runtime.lift(|reason| reason.starts_with(KILL_SWITCH_CAUSE));
        self.state(StateControl::Resume) & self.risk(RiskControl::Resume)
    }

    /// An operator threw the kill switch.
    pub fn operator_killed(&self) -> bool {
        self.operator_kill.load(Ordering::Acquire)
    }

    /// Asks for an orderly stop: no new operations, open ones finish, then the engine
    /// stops and reports.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

/// A stopped engine's report and histograms.
#[derive(Debug)]
pub struct Stopped {
    pub report: Report,
    pub hub: Option<MetricsHub>,
    /// Why trading was halted without an operator asking (a journal write failure with
    /// its cause, the engine's own kill switch), most specific first; empty when it was
    /// not, or only by an operator. `arb run` and `arb demo` exit non-zero on any.
    pub faults: Vec<String>,
    /// What each stage thread did (passes, parks, wake-ups by a push).
    pub threads: Vec<pipeline::runtime::ThreadReport>,
}

/// The result of a manual operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManualResult {
    pub outcome: OpOutcome,
    /// Approval to close.
    pub execution_time: Duration,
}

impl Session {
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    pub fn instruments(&self) -> &Arc<Instruments> {
        &self.instruments
    }

    pub fn stats(&self) -> &TradingStats {
        &self.stats
    }

    pub fn book_counters(&self) -> &Arc<BookCounters> {
        &self.books
    }

    pub fn decode_stats(&self) -> &Arc<DecodeStats> {
        &self.decode
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The books' sync progress since start.
    pub fn sync_progress(&self) -> SyncProgress {
        let removed = self.controls.listing.removed();
        SyncProgress::read(&self.books, &self.instruments, &removed, self.started_ns, self.listed_at_start)
    }

    /// The start on the engine's clock, ns.
    pub fn started_ns(&self) -> u64 {
        self.started_ns
    }

    /// How many instruments were listed at start.
    pub fn listed_at_start(&self) -> usize {
        self.listed_at_start
    }

    /// Executions per instrument traded.
    pub fn executed_by_instrument(&self) -> &Arc<pipeline::cells::InstrumentCounters> {
        &self.executed
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The cold side's latest view (latency windows, recent operations, alerts).
    pub fn view(&self) -> MonitorView {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Each market-data connection with its counters (those opened while running join).
    pub fn connections(&self) -> &adapters::feed::live::ConnectionList {
        &self.connections
    }

    pub fn feed_counters(&self) -> Option<&Arc<adapters::feed::live::LiveCounters>> {
        self.feed_counters.as_ref()
    }

    /// Waits until `duration` passes or a stop is requested (signal, panic, kill).
    pub fn run_for(&self, duration: Option<Duration>, mut tick: impl FnMut(&Session)) {
        let deadline = duration.map(|d| Instant::now() + d);
        loop {
            if self.should_stop() {
                return;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return;
            }
            tick(self);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The kill switch: the risk gate refuses everything, the state stage cancels every
    /// open order and stops recovering.
    pub fn kill_switch(&self) {
        self.controls.kill_switch();
    }

    pub fn risk_control(&self, c: RiskControl) -> bool {
        self.controls.risk(c)
    }

    pub fn state_control(&self, c: StateControl) -> bool {
        self.controls.state(c)
    }

    pub fn detect_control(&self, c: DetectControl) -> bool {
        self.controls.detect(c)
    }

    /// The cold side's control rings, shareable with other threads (the ctl socket).
    pub fn controls(&self) -> Arc<Controls> {
        self.controls.clone()
    }

    /// Sends a caller's opportunity through the risk gate and waits for its operation to
    /// finish (or `timeout`). The risk gate applies every limit; a refusal ends the wait
    /// at the timeout with an error naming the refusal counters.
    pub fn execute_opportunity(&self, mut opp: Opportunity, timeout: Duration) -> Result<ManualResult> {
        let id = self.next_manual_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        opp.id = id;
        let now = pipeline::clock::now_ns(&quanta::Clock::new());
        if opp.trigger_ns == 0 {
            opp.trigger_ns = now;
            opp.oldest_ns = now;
            opp.detected_ns = now;
        }
        if !self.detect_control(DetectControl::Inject(opp)) {
            anyhow::bail!("the detection control ring is full");
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(o) = self.view.lock().ok().and_then(|v| v.outcome_of(id)) {
                let execution_time = Duration::from_nanos(o.finished_ns.saturating_sub(o.approved_ns));
                return Ok(ManualResult { outcome: o, execution_time });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let refused: Vec<String> = self
            .stats
            .risk
            .snapshot()
            .rejected_by_reason()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        anyhow::bail!("no outcome within {timeout:?} (risk refusals so far: {})", refused.join(", "))
    }

    /// Asks for an orderly stop (what a first Ctrl-C does).
    pub fn request_shutdown(&self) {
        self.controls.request_shutdown();
    }

    /// An orderly stop was asked for, or the engine is stopping already.
    pub fn should_stop(&self) -> bool {
        self.controls.shutdown_requested() || self.control.is_stop_requested()
    }

    /// Ctrl-C (SIGINT/SIGTERM): the first asks for an orderly stop, a second stops at
    /// once.
    pub fn stop_on_signal(&self) {
        let (controls, control) = (self.controls.clone(), self.control.clone());
        crate::signals::signals().listen(move |_| {
            if controls.shutdown_requested() {
                control.request_stop();
            }
            controls.request_shutdown();
        });
    }

    /// Stops opening operations and waits up to `timeout` for the open ones to finish
    /// (recovery included) and for what they left in any asset to be flattened; true
    /// when none is left executing, recovering or waiting to be flattened. Operations
    /// waiting for an operator stay as they are: the journal keeps them for the next start.
    pub fn drain(&self, timeout: Duration) -> bool {
        // From here a Ctrl-C stops at once, and the control socket opens nothing.
        self.controls.request_shutdown();
        for i in self.instruments.iter() {
            let _ = self.detect_control(DetectControl::Disable(i.id));
        }
        // The state stage drains its control ring every pass.
        for _ in 0..100 {
            if self.controls.state(StateControl::Drain) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let started = Instant::now();
        let deadline = started + timeout;
        let mut next_note = started + DRAIN_NOTE_EVERY;
        loop {
            let waiting = drain::Waiting::of(&self.stats);
            if waiting.is_done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || self.control.is_stop_requested() {
                return false;
            }
            if now >= next_note {
                next_note = now + DRAIN_NOTE_EVERY;
                eprintln!(
                    "stopping: waiting for {}; {} s left (Ctrl-C stops at once)",
                    waiting.describe(),
                    deadline.saturating_duration_since(now).as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// No operation open (one waiting for an operator included), none in the risk gate.
    fn quiet(&self) -> bool {
        self.stats.operations_in_progress() == 0 && self.stats.state.snapshot().open[2] == 0
    }

    /// Stops every stage, joins the threads and returns the final report with the
    /// latency histograms. Unless the engine is stopping already, it drains first
    /// (up to `state.drain_timeout_ms`), so a planned stop leaves no operation half done.
    pub fn stop(mut self) -> Result<Stopped> {
        self.finish()
    }

    fn finish(&mut self) -> Result<Stopped> {
        let drain_started = Instant::now();
        if !self.control.is_stop_requested() && self.running.is_some() && !self.drain(self.drain_timeout) {
            eprintln!(
                "warning: stopping after {} s with {} left; the journal keeps them, and the next start \
                 reconciles them with the venues",
                drain_started.elapsed().as_secs(),
                drain::Waiting::of(&self.stats).describe()
            );
        }
        self.control.request_stop();
        let run = self.running.take().map(|r| r.join());
        // The stages have stopped writing: a last sync of whatever is pending.
        if let Some(sync) = self.journal_sync.take() {
            sync.stop();
        }
        // Nothing in flight after an orderly stop with no operation open: the next
        // start need not wait for this run's requests to land.
        if matches!(run, Some(Ok(_))) && self.quiet() {
            if let Err(e) = clean_stop::mark(&self.journal_dir) {
                eprintln!(
                    "warning: journal {}: cannot mark the orderly stop: {e}",
                    self.journal_dir.display()
                );
            }
        }
        let hub = self.monitor.take().map(|m| m.finish());
        let report = Report::build(self, hub.as_ref());
        match run {
            Some(Err(e)) => Err(anyhow!(e).context(report.to_text())),
            Some(Ok(r)) => Ok(Stopped { report, hub, faults: self.view().faults, threads: r.threads }),
            None => Ok(Stopped { report, hub, faults: self.view().faults, threads: Vec::new() }),
        }
    }

    /// Each instrument's position, as the state stage last published it.
    pub fn positions(&self) -> &Arc<pipeline::cells::PositionBoard> {
        &self.positions
    }

    /// Wallet changes, fees, P&L and funding as the state stage books them.
    pub fn money(&self) -> &Arc<pipeline::state::MoneyBoard> {
        &self.money
    }

    /// Reconciliation of every wallet with its venue while running.
    pub fn drift(&self) -> &Arc<pipeline::state::DriftBoard> {
        &self.drift
    }

    /// The cold side's view, shared (latency windows, recent operations, alerts).
    pub fn shared_view(&self) -> &Arc<Mutex<MonitorView>> {
        &self.view
    }

    /// When the engine started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The universe traded, in one line: how it was chosen and its size.
    pub fn universe(&self) -> &str {
        &self.universe
    }

    /// The journal directory.
    pub fn journal_dir(&self) -> &PathBuf {
        &self.journal_dir
    }

    /// This instance's client order id prefix (empty for a journal older than
    /// identities).
    pub fn identity(&self) -> pipeline::journal::ClientPrefix {
        self.identity
    }

    /// Where the engine's log lines go (stderr unless redirected).
    pub fn log_output(&self) -> &LogOut {
        &self.log
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.running.is_some() {
            let _ = self.finish();
        }
    }
}
