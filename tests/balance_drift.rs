//! Reconciliation while running, against the simulated venues with real signed orders:
//! - a normal run (every kind trading, balances checked every 250 ms) raises no mismatch
//!   and halts nothing: fills in flight never alarm;
//! - money moved into a wallet behind the engine's back (a transfer the sim makes, no
//!   order explains it) shows as that wallet's drift in `/metrics`, raises an alert
//!   naming the venue, account, asset, expected and actual balances, and once it
//!   persists halts new entries on the venue (journaled);
//! - `arb ctl ack-drift gateio` over the control socket lifts the halt (journaled) and the
//!   venue trades again.

use std::time::{Duration, Instant};

use arb::cmd::demo;
use arb::config::Config;
use arb::telemetry::Telemetry;
use pipeline::risk::Veto;
use pipeline::types::{Amount, Venue};
use sim::{ModelConfig, Sim, SimConfig};

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_drift_behind_the_engines_back_is_measured_alerted_and_halts_its_venue_until_acknowledged() {
    let model = ModelConfig { dislocation_every_ms: 500, ..ModelConfig::default() };
    // No funding: MEXC's is read from its history every 5 s, longer than this test's
    // three checks; it has a test of its own (money_truth).
    let sim = Sim::start(SimConfig { seed: 11, model, funding_interval_ms: 0, ..SimConfig::default() })
        .expect("sim starts");
    let journal = std::env::temp_dir().join(format!("arb-balance-drift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let mut cfg = demo::config_for(&sim, Config::load(None).unwrap(), journal.clone());
    cfg.state.reconcile_interval_ms = 250;
    cfg.state.reconcile_halt_after_checks = 3;
    let session = demo::start_on(&sim, cfg, false).expect("engine starts on the sim with real orders");
    let log = journal.join("drift-test.log");
    session.log_output().redirect(&log).expect("log to a file");
    let t = Telemetry::of(&session);
    let drift = session.drift().clone();
    let sock = journal.join("arb.sock");
    let _ctl = arb::ctl::CtlServer::start(&sock, session.controls(), t.clone()).expect("control socket");

    // A normal run: trades on both venues, checked every 250 ms.
    wait_until("trades on both venues and every wallet reported", 40, || {
        let approved: u64 = session.stats().snapshot().risk.approved.iter().sum();
        approved >= 6 && drift.lines().iter().filter(|l| l.asset == "USDT").count() >= 2
    });
    std::thread::sleep(Duration::from_secs(2));
    for v in Venue::ALL {
        assert_eq!(drift.mismatches(v), 0, "a normal run drifts nowhere: {:?}", drift.lines());
        assert!(!drift.is_halted(v));
    }
    let metrics = t.prometheus();
    assert!(
        metrics.contains(r#"arb_balance_drift{venue="gateio",account="spot",asset="USDT"} 0"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"arb_reconcile_mismatches_total{venue="gateio"} 0"#), "{metrics}");

    // 250 USDT appear in the Gate.io spot wallet, explained by no order.
    sim.adjust_spot(Venue::GateIo, "USDT", Amount::from_int(250));
    wait_until("the drift halts Gate.io", 10, || drift.is_halted(Venue::GateIo));
    assert!(!drift.is_halted(Venue::Mexc), "only the drifting venue stops");
    let metrics = t.prometheus();
    assert!(
        metrics.contains(r#"arb_balance_drift{venue="gateio",account="spot",asset="USDT"} 250"#),
        "{metrics}"
    );
    // Seen at a first check (it could be a fill in flight), a mismatch at the second, a
    // halt at the third.
    assert!(drift.mismatches(Venue::GateIo) >= 2, "{}", drift.mismatches(Venue::GateIo));
    assert!(metrics.contains(r#"arb_drift_halted{venue="gateio"} 1"#), "{metrics}");
    let line = drift.lines().into_iter().find(|l| l.venue == Venue::GateIo && l.asset == "USDT").unwrap();
    assert_eq!(line.actual - line.expected, Amount::from_int(250));
    let journaled = pipeline::journal::replay(&journal).expect("journal reads");
    assert!(journaled.drift_halted[Venue::GateIo.index()], "the halt is journaled");
    let (text, alarm) = arb::dashboard::drift_text(&drift);
    assert!(alarm && text.starts_with("DRIFT HALT gateio"), "the dashboard shows it: {text}");
    assert!(text.contains("gateio spot USDT: expected"), "{text}");
    let (_, health) = t.health();
    assert_eq!(health["reconcile"]["drift_halted"][0], "gateio", "{health}");

    // No new entry on Gate.io while halted: its instruments are refused by the gate.
    let gate: Vec<_> =
        session.instruments().iter().filter(|i| i.venue == Venue::GateIo).map(|i| i.id).collect();
    let executed =
        |s: &arb::engine::Session| -> u64 { gate.iter().map(|&i| s.executed_by_instrument().get(i)).sum() };
    let before = executed(&session);
    wait_until("an opportunity on Gate.io refused for the halt", 15, || {
        session.stats().snapshot().risk.rejected(Veto::InstrumentHalted) > 0
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(executed(&session), before, "nothing new executed on Gate.io");

    // The operator acknowledges through the control socket.
    let answer = arb::ctl::request(&sock, "ack-drift gateio").expect("ctl answers");
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["result"]["accepted"][0]["asset"], "USDT", "{answer}");
    wait_until("the halt lifted", 5, || !drift.is_halted(Venue::GateIo));
    std::thread::sleep(Duration::from_secs(1));
    let line = drift.lines().into_iter().find(|l| l.venue == Venue::GateIo && l.asset == "USDT").unwrap();
    assert_eq!(line.actual, line.expected, "the venue's balance taken as it is");
    assert!(!drift.is_halted(Venue::GateIo), "no new halt after the acknowledgement");
    assert!(!arb::dashboard::drift_text(&drift).1, "{:?}", arb::dashboard::drift_text(&drift));

    let stopped = session.stop().expect("clean stop");
    drop(stopped);
    let journaled = pipeline::journal::replay(&journal).expect("journal reads");
    assert!(!journaled.drift_halted[Venue::GateIo.index()], "the acknowledgement is journaled");

    // The alert names the venue, account, asset, expected and actual balances.
    let text = std::fs::read_to_string(&log).unwrap();
    let alert =
        text.lines().find(|l| l.contains(r#""event":"BalanceDrift""#)).unwrap_or_else(|| panic!("{text}"));
    for part in [
        r#""venue":"gateio""#,
        r#""account":"spot""#,
        r#""asset":"USDT""#,
        r#""expected":""#,
        r#""actual":""#,
    ] {
        assert!(alert.contains(part), "{alert}");
    }
    assert!(text.contains(r#""event":"DriftHalted""#), "{text}");
    assert!(text.contains(r#""event":"DriftAcknowledged""#), "{text}");
    let _ = std::fs::remove_dir_all(&journal);
}
