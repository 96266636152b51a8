//! The day's loss and the circuit breakers survive a restart: an engine loses money on
//! the simulated venues (a leg refused, the other unwound), which trips the daily-loss
//! breaker; a new engine started on the same journal refuses to trade from its first
//! opportunity and carries the day's loss on, so a crash loop never gets a fresh budget.
//! An operator's reset (accepting the day's loss so far) is journaled and holds across a
//! restart as well.

use std::path::Path;
use std::time::{Duration, Instant};

use arb::cmd::demo;
use arb::config::Config;
use arb::engine::Session;
use pipeline::journal::inspect;
use pipeline::msg::RiskControl;
use pipeline::risk::{Breaker, Veto};
use pipeline::types::{Amount, Market, Venue};
use pipeline::units::Usd;
use sim::catalog::Asset;
use sim::{DislocationKind, ModelConfig, Scripted, Sim, SimConfig};

fn start(sim: &Sim, journal: &Path) -> Session {
    let mut cfg = demo::config_for(sim, Config::load(None).unwrap(), journal.to_path_buf());
    cfg.detect.basis = false;
    cfg.detect.triangular = false;
    // Any realized loss trips the daily-loss breaker.
    cfg.risk.max_daily_loss_usd = Usd(Amount::parse("0.01").unwrap());
    let s = demo::start_on(sim, cfg, false).expect("engine starts on the sim with real orders");
    wait("every book in sync", 20, || {
        let c = s.book_counters();
        s.instruments().iter().all(|i| c.get(i.id).synced)
    });
    s
}

fn wait(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_daily_loss_breaker_stays_tripped_across_a_restart() {
    let model = ModelConfig {
        dislocation_every_ms: u64::MAX / 4,
        dislocation_half_life_ms: 1_000,
        ..ModelConfig::default()
    };
    let sim = Sim::start(SimConfig { seed: 23, model, ..SimConfig::default() }).expect("sim starts");
    let journal = std::env::temp_dir().join(format!("arb-durable-risk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);

    let first = start(&sim, &journal);
    assert!(sim.script(Venue::Mexc, Market::Spot, "BTCUSDT", Scripted::Reject));
    sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, 60.0);
    wait("a losing operation trips the daily-loss breaker", 20, || {
        first.stats().snapshot().risk.breaker_open[Breaker::DailyLoss.index()]
    });
    let lost = first.stats().snapshot().state.daily_pnl;
    assert!(lost < Amount::ZERO, "the day lost money: {lost}");
    let ops = first.stats().snapshot().risk.last_op_id;
    first.stop().expect("clean stop");

    let second = start(&sim, &journal);
    let snap = second.stats().snapshot();
    assert!(snap.risk.breaker_open[Breaker::DailyLoss.index()], "still tripped after the restart\n{snap}");
    wait("the day's loss reaches the risk gate again", 5, || {
        second.stats().snapshot().risk.daily_pnl == lost
    });
    assert_eq!(second.stats().snapshot().state.daily_pnl, lost, "the day's loss is carried on");
    // A fresh dislocation is refused: no new budget.
    sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, 60.0);
    wait("the gate refuses it", 10, || second.stats().snapshot().risk.rejected(Veto::BreakerDailyLoss) > 0);
    assert_eq!(second.stats().snapshot().risk.last_op_id, ops, "nothing traded after the restart");
    let rec =
        inspect(&journal).expect("journal readable").replay.breakers.expect("the breakers are journaled");
    assert!(rec.tripped_ms[Breaker::DailyLoss.index()] > 0, "{rec:?}");

    // An operator's reset accepts the day's loss so far, and that survives a restart too.
    // Trading is halted first so that nothing trades after the reset and moves the total.
    assert!(second.risk_control(RiskControl::Halt));
    assert!(second.risk_control(RiskControl::ResetBreakers));
    wait("the reset is journaled", 5, || {
        inspect(&journal).ok().and_then(|i| i.replay.breakers).is_some_and(|b| b.tripped_ms == [0; 5])
    });
    assert_eq!(second.stats().snapshot().state.daily_pnl, lost);
    second.stop().expect("clean stop");
    let third = start(&sim, &journal);
    wait("the day's loss reaches the risk gate", 5, || !third.stats().snapshot().risk.daily_pnl.is_zero());
    let snap = third.stats().snapshot();
    // Without the journaled reset the restored loss would trip the breaker at once; with
    // it the gate trades on (the dislocation may still pay, moving the total).
    assert!(!snap.risk.breaker_open[Breaker::DailyLoss.index()], "the operator's reset holds\n{snap}");
    third.stop().expect("clean stop");
    let _ = std::fs::remove_dir_all(&journal);
}
