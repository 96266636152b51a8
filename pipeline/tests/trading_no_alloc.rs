//! The trading stages allocate nothing per event after construction, proven with a
//! counting allocator over a window of book updates that detect, approve, journal, send,
//! fill (paper venue), recover and book operations.
//!
//! This file holds one test so that nothing else allocates in the process while it
//! measures; the stages are polled on the test thread itself.

use pipeline::detect::{DetectConfig, Detector};
use pipeline::dispatch::{DispatchConfig, DispatchRings, Dispatcher, PaperBalance, PaperConfig, PaperSink};
use pipeline::journal::{JournalKind, JournalWriter};
use pipeline::msg::BookTop;
use pipeline::risk::{RiskConfig, RiskGate, RiskRings};
use pipeline::runtime::{Control, Stage, Tx};
use pipeline::state::{StateConfig, StateKeeper, StateRings};
use pipeline::stats::TradingStats;
use pipeline::testkit::counting::{self, CountingAlloc};
use pipeline::testkit::{self, top};
use pipeline::types::{Amount, Venue};
use pipeline::units::{Exact, now_ns};
use quanta::Clock;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const MS: u64 = 1_000_000;

#[test]
fn the_trading_chain_allocates_nothing_per_event() {
    let u = testkit::universe();
    let dir = std::env::temp_dir().join(format!("arb-trading-noalloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (clock, mock) = Clock::mock();
    mock.increment(1_000 * MS);
    let stats = TradingStats::new();
    let (b0, detect_books) = testkit::ring::<BookTop>(256);
    let (b1, paper_books) = testkit::ring(256);
    let (b2, state_books) = testkit::ring(256);
    let (_dc, detect_control) = testkit::ring(8);
    let (opp_tx, opp_rx) = testkit::ring(64);
    let (exec_tx, exec_rx) = testkit::ring(64);
    let (upd_tx, upd_rx) = testkit::ring(4096);
    let (_rc, risk_control) = testkit::ring(8);
    let (risk_alerts, mut ra) = testkit::ring(64);
    let (cmd_tx, cmd_rx) = testkit::ring(256);
    let (in_tx, in_rx) = testkit::ring(4096);
    let (_sc, state_control) = testkit::ring(8);
    let (state_alerts, mut sa) = testkit::ring(64);
    // Limits at the levels walked, so that the thinned books leave legs short and recovery runs.
    let cfg = DetectConfig {
        cooldown_ms: 0,
        limit_slippage_bps: pipeline::units::Bps::new(0),
        ..DetectConfig::default()
    };
    let mut detect = Detector::new(
        &cfg,
        u.instruments.clone(),
        detect_books,
        detect_control,
        opp_tx,
        clock.clone(),
        stats.detect.clone(),
    )
    .unwrap();
    let runtime = Control::new();
    let risk_cfg = RiskConfig {
        entry_share_pct: 100,
        max_position_size_usd: pipeline::units::Usd::new(1_000_000_000),
        max_total_exposure_usd: pipeline::units::Usd::new(1_000_000_000),
        ..RiskConfig::default()
    };
    let mut risk = RiskGate::new(
        &risk_cfg,
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
    let b = |venue, asset: &str| PaperBalance {
        venue,
        asset: asset.into(),
        amount: Exact(Amount::from_int(1_000_000)),
    };
    let paper = PaperSink::new(
        &PaperConfig {
            latency_ms: 1,
            balances: vec![
                b(Venue::GateIo, "USDT"),
                b(Venue::GateIo, "BTC"),
                b(Venue::Mexc, "USDT"),
                b(Venue::Mexc, "BTC"),
            ],
            ..PaperConfig::default()
        },
        u.instruments.clone(),
        paper_books,
        clock.clone(),
    )
    .unwrap();
    let (dj, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    let mut dispatch = Dispatcher::new(
        &DispatchConfig::default(),
        u.instruments.clone(),
        DispatchRings { executions: exec_rx, commands: cmd_rx, state: in_tx },
        paper,
        dj,
        clock.clone(),
        stats.dispatch.clone(),
    );
    let (sj, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
    let mut state = StateKeeper::new(
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
        clock.clone(),
        None,
        stats.state.clone(),
    )
    .unwrap();
    let mut books: [Tx<BookTop>; 3] = [b0, b1, b2];
    let (g, m) = (u.instruments.get(u.gate_btc).clone(), u.instruments.get(u.mexc_btc).clone());
    let mut step = |round: u64, books: &mut [Tx<BookTop>; 3]| {
        // Alternate a full dislocation and one where MEXC's bid is thin when the orders
        // arrive, so operations complete and recover.
        let now = now_ns(&clock);
        let gate = top(&g, now, &[("49990", "0.5")], &[("50000", "0.5")]);
        let mexc = top(&m, now, &[("50600", "0.3")], &[("50610", "0.3")]);
        let thin = top(&m, now, &[("50600", "0.005"), ("50550", "1")], &[("50610", "0.3")]);
        for tx in books.iter_mut() {
            let _ = tx.push(gate);
            let _ = tx.push(mexc);
        }
        for _ in 0..4 {
            detect.poll();
            risk.poll();
            dispatch.poll();
            state.poll();
        }
        if round % 2 == 1 {
            for tx in books.iter_mut() {
                let _ = tx.push(thin);
            }
        }
        for _ in 0..30 {
            mock.increment(MS);
            detect.poll();
            risk.poll();
            dispatch.poll();
            state.poll();
        }
        while ra.pop().is_some() {}
        while sa.pop().is_some() {}
        // Stay inside Gate's 10 orders per second per pair.
        mock.increment(100 * MS);
    };
    for round in 0..20 {
        step(round, &mut books);
    }
    let before_ops = stats.state.snapshot();
    let before = counting::allocations();
    for round in 20..220 {
        step(round, &mut books);
    }
    let after = counting::allocations();
    let s = stats.snapshot();
    let done = |x: &pipeline::state::StateSnapshot| x.ops_completed[0] + x.ops_failed[0];
    assert!(done(&s.state) - done(&before_ops) >= 100, "operations ran in the window: {s}");
    assert!(s.state.recoveries > 0, "recovery ran in the window: {s}");
    assert_eq!(after - before, 0, "allocations in the measured window\n{s}");
    let _ = std::fs::remove_dir_all(&dir);
}
