//! The trading chain end to end on crafted books: detection, the risk gate, dispatch
//! over the paper venue, and the state stage, wired with rings as the engine wires them.
//! Book tops fan out to three consumers (detection, the paper venue, the state stage).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pipeline::detect::{DetectConfig, Detector};
use pipeline::dispatch::{DispatchConfig, DispatchRings, Dispatcher, PaperBalance, PaperConfig, PaperSink};
use pipeline::journal::{JournalKind, JournalWriter, Verdict, inspect, replay};
use pipeline::metrics::MetricsHub;
use pipeline::msg::{BookTop, OppKind};
use pipeline::risk::{RiskConfig, RiskGate, RiskRings};
use pipeline::runtime::{Control, Layout, Runner, Stage, Tx};
use pipeline::state::{OpPhase, StateConfig, StateKeeper, StateRings};
use pipeline::stats::TradingStats;
use pipeline::testkit::{self, Universe, top};
use pipeline::types::{Amount, Venue};
use pipeline::units::Exact;
use quanta::Clock;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("arb-trading-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn balances() -> Vec<PaperBalance> {
    let b = |venue, asset: &str, amount: i64| PaperBalance {
        venue,
        asset: asset.into(),
        amount: Exact(Amount::from_int(amount)),
    };
    vec![
        b(Venue::GateIo, "USDT", 10_000),
        b(Venue::GateIo, "BTC", 1),
        b(Venue::Mexc, "USDT", 10_000),
        b(Venue::Mexc, "BTC", 1),
    ]
}

/// Every stage of the trading chain and the ends of the rings a test drives.
struct Chain {
    detect: Detector,
    risk: RiskGate,
    dispatch: Dispatcher<PaperSink>,
    state: StateKeeper,
    /// Book tops to detection, the paper venue and the state stage.
    books: [Tx<BookTop>; 3],
    stats: TradingStats,
    dir: DirGuard,
    u: Universe,
}

fn main_chain(tag: &str, clock: Clock, paper_latency_ms: u64) -> Chain {
    let u = testkit::universe();
    let dir = scratch(tag);
    let stats = TradingStats::new();
    let (b0, detect_books) = testkit::ring(256);
    let (b1, paper_books) = testkit::ring(256);
    let (b2, state_books) = testkit::ring(256);
    let (dc, detect_control) = testkit::ring(8);
    let (opp_tx, opp_rx) = testkit::ring(64);
    let (exec_tx, exec_rx) = testkit::ring(64);
    let (upd_tx, upd_rx) = testkit::ring(1024);
    let (rc, risk_control) = testkit::ring(8);
    let (risk_alerts, ra) = testkit::ring(64);
    let (cmd_tx, cmd_rx) = testkit::ring(256);
    let (in_tx, in_rx) = testkit::ring(1024);
    let (sc, state_control) = testkit::ring(8);
    let (state_alerts, sa) = testkit::ring(64);
    // The cold ends stay alive for the whole test.
    std::mem::forget((dc, rc, sc, ra, sa));
    // Limits at the levels walked, so that a book thinning out before the orders arrive
    // leaves a leg short (the scenarios below depend on it).
    let detect_cfg =
        DetectConfig { limit_slippage_bps: pipeline::units::Bps::new(0), ..DetectConfig::default() };
    let detect = Detector::new(
        &detect_cfg,
        u.instruments.clone(),
        detect_books,
        detect_control,
        opp_tx,
        clock.clone(),
        stats.detect.clone(),
    )
    .unwrap();
    let runtime = Control::new();
    let risk = RiskGate::new(
        &RiskConfig::default(),
        u.instruments.clone(),
        RiskRings {
            opportunities: opp_rx,
            updates: upd_rx,
            control: risk_control,
            executions: exec_tx,
            alerts: risk_alerts,
        },
        runtime.clone(),
        clock.clone(),
        0,
        stats.risk.clone(),
    )
    .unwrap();
    let paper = PaperSink::new(
        &PaperConfig { latency_ms: paper_latency_ms, balances: balances(), ..PaperConfig::default() },
        u.instruments.clone(),
        paper_books,
        clock.clone(),
    )
    .unwrap();
    let (dj, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    let dispatch = Dispatcher::new(
        &DispatchConfig::default(),
        u.instruments.clone(),
        DispatchRings { executions: exec_rx, commands: cmd_rx, state: in_tx },
        paper,
        dj,
        clock.clone(),
        stats.dispatch.clone(),
    );
    let (sj, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
    let state = StateKeeper::new(
        &StateConfig::default(),
        u.instruments.clone(),
        StateRings {
            inputs: in_rx,
            books: state_books,
            control: state_control,
            commands: cmd_tx,
            risk: upd_tx,
            alerts: state_alerts,
        },
        sj,
        runtime,
        clock,
        None,
        stats.state.clone(),
    )
    .unwrap();
    Chain { detect, risk, dispatch, state, books: [b0, b1, b2], stats, dir: DirGuard(dir), u }
}

impl Chain {
    fn poll(&mut self) -> usize {
        self.detect.poll() + self.risk.poll() + self.dispatch.poll() + self.state.poll()
    }

    fn settle(&mut self) {
        for _ in 0..20 {
            self.poll();
        }
    }

    fn book(&mut self, t: BookTop) {
        for tx in &mut self.books {
            tx.push(t).unwrap();
        }
    }
}

const MS: u64 = 1_000_000;

#[test]
fn a_dislocation_is_detected_approved_sent_filled_and_booked() {
    let (clock, mock) = Clock::mock();
    mock.increment(1_000 * MS);
    let mut c = main_chain("e2e", clock.clone(), 5);
    c.settle(); // The paper venue announces balances; they reach the risk gate.
    let (g, m) = (c.u.instruments.get(c.u.gate_btc).clone(), c.u.instruments.get(c.u.mexc_btc).clone());
    let now = pipeline::units::now_ns(&clock);
    c.book(top(&g, now, &[("49990", "0.5")], &[("50000", "0.5")]));
    c.book(top(&m, now, &[("50600", "0.3")], &[("50610", "0.3")]));
    c.settle();
    for _ in 0..10 {
        mock.increment(MS);
        c.settle();
    }
    let s = c.stats.snapshot();
    assert_eq!(s.detect.emitted[OppKind::SpotSpot.index()], 1, "{s}");
    assert_eq!(s.risk.approved[OppKind::SpotSpot.index()], 1, "{s}");
    assert_eq!(s.dispatch.orders_sent, 2, "{s}");
    assert_eq!(s.state.ops_completed[OppKind::SpotSpot.index()], 1, "{s}");
    assert_eq!(c.state.phase(1), Some(OpPhase::Completed));
    assert_eq!(s.risk.in_flight, 0, "reservations released");
    // 0.0197 BTC bought at 50000, sold at 50600, 0.1% fees on each side.
    assert_eq!(s.state.realized_pnl, Amount::parse("9.83818").unwrap());
    assert!(s.to_string().contains("spot_spot"), "{s}");
    // The journals replay to the same positions and P&L, and verify.
    let r = replay(&c.dir.0).unwrap();
    assert_eq!(r.last_op_id, 1);
    assert_eq!(r.position(g.id), c.state.position(g.id));
    assert_eq!(r.position(m.id), c.state.position(m.id));
    assert_eq!(r.realized_pnl, c.state.realized_pnl());
    assert_eq!(r.unresolved().count(), 0);
    assert_eq!(inspect(&c.dir.0).unwrap().verdict, Verdict::Intact);
}

#[test]
fn a_leg_the_book_cannot_fill_is_recovered_to_matched_positions() {
    let (clock, mock) = Clock::mock();
    mock.increment(1_000 * MS);
    let mut c = main_chain("e2e-partial", clock.clone(), 5);
    c.settle();
    let (g, m) = (c.u.instruments.get(c.u.gate_btc).clone(), c.u.instruments.get(c.u.mexc_btc).clone());
    let now = pipeline::units::now_ns(&clock);
    c.book(top(&g, now, &[("49990", "0.5")], &[("50000", "0.5")]));
    c.book(top(&m, now, &[("50600", "0.3")], &[("50610", "0.3")]));
    c.settle();
    // Before the orders reach the venues, MEXC's bid thins out to 0.005 BTC.
    mock.increment(2 * MS);
    let now = pipeline::units::now_ns(&clock);
    c.book(top(&m, now, &[("50600", "0.005"), ("50550", "1")], &[("50610", "0.3")]));
    for _ in 0..50 {
        mock.increment(MS);
        c.settle();
    }
    let s = c.stats.snapshot();
    assert_eq!(s.state.recoveries, 1, "{s}");
    // MEXC still bids 50550, within the slippage bound: completing the hedge keeps most
    // of the edge, where unwinding on Gate would lose a little.
    assert_eq!(s.state.hedge_orders, 1, "{s}");
    assert!(s.state.realized_pnl > Amount::from_int(9), "{s}");
    let phase = c.state.phase(1);
    assert!(matches!(phase, Some(OpPhase::Completed | OpPhase::Failed)), "{phase:?} {s}");
    // Whatever recovery chose, the BTC bought and sold match within a lot.
    let bought = g.base_amount(c.state.position(g.id)).unwrap();
    let sold = m.base_amount(c.state.position(m.id)).unwrap();
    let lot = g.base_amount(g.lot).unwrap();
    assert!((bought.0 + sold.0).abs() < lot.0, "gate {bought} mexc {sold}");
    let r = replay(&c.dir.0).unwrap();
    assert_eq!(r.position(g.id), c.state.position(g.id));
    assert_eq!(r.position(m.id), c.state.position(m.id));
    assert_eq!(r.realized_pnl, c.state.realized_pnl());
}

#[test]
fn the_stages_run_on_the_runtime_threads() {
    let clock = Clock::new();
    let c = main_chain("e2e-runner", clock.clone(), 1);
    let (g, m) = (c.u.instruments.get(c.u.gate_btc).clone(), c.u.instruments.get(c.u.mexc_btc).clone());
    let Chain { detect, risk, dispatch, state, books, stats, dir: _dir, .. } = c;
    let [mut b0, mut b1, mut b2] = books;
    let mut runner = Runner::new(clock.clone());
    runner.stage("detect", move || detect);
    runner.stage("risk", move || risk);
    runner.stage("dispatch", move || dispatch);
    runner.stage("state", move || state);
    let mut hub = MetricsHub::new(clock.clone());
    let running = runner
        .start(&Layout::single_thread(&["detect", "risk", "dispatch", "state"]), &mut hub, Control::new())
        .unwrap();
    // Let the balances reach the gate, then offer the dislocation until it trades.
    std::thread::sleep(Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.state.snapshot().ops_completed[0] == 0 {
        assert!(Instant::now() < deadline, "nothing traded: {}", stats.snapshot());
        let now = pipeline::units::now_ns(&clock);
        for t in [
            top(&g, now, &[("49990", "0.5")], &[("50000", "0.5")]),
            top(&m, now, &[("50600", "0.3")], &[("50610", "0.3")]),
        ] {
            for tx in [&mut b0, &mut b1, &mut b2] {
                let _ = tx.push(t);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    running.join().unwrap();
    assert!(stats.state.snapshot().realized_pnl > Amount::ZERO);
}

struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
