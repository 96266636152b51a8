//! The trading core end to end: the engine against the simulated venues with real signed
//! orders over loopback TLS, one acceptance scenario after another on one account.
//!
//! The market model makes no dislocations of its own here; each scenario makes one (MEXC's
//! BTC spot rich against Gate's) and scripts what the venue does with the next order
//! (refuse it, fill part of it, or execute it and lose the answer), then checks how the
//! operation ended. At the end the engine's journal must hold exactly the positions the
//! venues' own order records add up to, every venue order must be one the journal knows,
//! and no client order id may have reached a venue twice.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arb::cmd::demo;
use arb::config::Config;
use arb::ctl::CtlServer;
use arb::engine::Session;
use pipeline::msg::{Leg, MAX_LEGS, OpOutcome, OppKind, Opportunity, RiskControl};
use pipeline::risk::{Breaker, Veto};
use pipeline::stats::TradingSnapshot;
use pipeline::types::{Amount, Market, Price, Qty, Rate, Rounding, Side, Venue};
use pipeline::units::Usd;
use sim::catalog::Asset;
use sim::{DislocationKind, ModelConfig, Scripted, Sim, SimConfig};

/// MEXC's BTC spot is dislocated this far beyond both venues' taker fees.
const EDGE_BPS: f64 = 60.0;

struct Rig {
    sim: Sim,
    session: Session,
    journal: PathBuf,
}

impl Rig {
    fn start() -> Rig {
        let model = ModelConfig {
            dislocation_every_ms: u64::MAX / 4,
            dislocation_half_life_ms: 1_000,
            ..ModelConfig::default()
        };
        let sim = Sim::start(SimConfig { seed: 23, model, ..SimConfig::default() }).expect("sim starts");
        let journal = std::env::temp_dir().join(format!("arb-trading-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&journal);
        let mut cfg = demo::config_for(&sim, Config::load(None).unwrap(), journal.clone());
        // Spot-spot only, so each dislocation makes exactly one kind of operation.
        cfg.detect.basis = false;
        cfg.detect.triangular = false;
        // Limits a little beyond the levels walked, so a book that moves on by a tick
        // between detection and the venue does not turn a clean operation into a recovery.
        cfg.detect.limit_slippage_bps = pipeline::units::Bps::new(10);
        // Any realized loss trips the daily-loss breaker.
        cfg.risk.max_daily_loss_usd = Usd(Amount::parse("0.01").unwrap());
        // Each scenario scripts the venue's answer to the next order: no flatten of an
        // earlier scenario's leftover may take it.
        cfg.state.flatten = false;
        let session = demo::start_on(&sim, cfg, false).expect("engine starts on the sim with real orders");
        let rig = Rig { sim, session, journal };
        rig.wait("every book in sync", 20, Rig::all_synced);
        rig
    }

    fn all_synced(&self) -> bool {
        let c = self.session.book_counters();
        self.session.instruments().iter().all(|i| c.get(i.id).synced)
    }

    fn snap(&self) -> TradingSnapshot {
        self.session.stats().snapshot()
    }

    fn wait(&self, what: &str, secs: u64, mut done: impl FnMut(&Rig) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {secs} s\n{}\nfinished: {:?}",
                self.snap(),
                self.session.view().outcomes
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the market to be quiet: no operation open and nothing detected for a
    /// while (what is left of a dislocation no longer pays).
    fn settle(&self) {
        let emitted = |r: &Rig| r.snap().detect.emitted.iter().sum::<u64>();
        let mut last = emitted(self);
        let mut quiet_since = Instant::now();
        self.wait("the market settles", 30, |r| {
            let now = emitted(r);
            if now != last || r.snap().state.open.iter().sum::<i64>() != 0 {
                last = now;
                quiet_since = Instant::now();
            }
            quiet_since.elapsed() > Duration::from_millis(800)
        });
    }

    /// Buys `qty` BTC on Gate and sells it on MEXC at limits 10 bps through the current
    /// touch, declaring the edge the risk gate wants to see.
    fn manual_spot_spot(&self, qty: &str) -> Opportunity {
        let t = self.session.instruments();
        let g = t.find(Venue::GateIo, Market::Spot, "BTC_USDT").unwrap();
        let m = t.find(Venue::Mexc, Market::Spot, "BTCUSDT").unwrap();
        let (gi, mi) = (t.get(g), t.get(m));
        let c = self.session.book_counters();
        let (_, ask) = c.top(g).expect("Gate book");
        let (bid, _) = c.top(m).expect("MEXC book");
        let buy = gi.round_price(Price(ask.price.0 + ask.price.0 / 1_000), Rounding::Floor);
        let sell = mi.round_price(Price(bid.price.0 - bid.price.0 / 1_000), Rounding::Ceil);
        let mut legs = [Leg::default(); MAX_LEGS];
        legs[0] = Leg { inst: g, side: Side::Buy, price: buy, qty: Qty::parse(qty, gi.qty_scale).unwrap() };
        legs[1] = Leg { inst: m, side: Side::Sell, price: sell, qty: Qty::parse(qty, mi.qty_scale).unwrap() };
        Opportunity {
            id: 0,
            kind: OppKind::SpotSpot,
            n_legs: 2,
            legs,
            expected_profit: Amount::parse("0.1").unwrap(),
            edge: Rate::from_bps(10),
            notional: gi.notional(buy, legs[0].qty, Rounding::Ceil).unwrap(),
            slippage: Rate::from_bps(10),
            trigger_ns: 0,
            oldest_ns: 0,
            detected_ns: 0,
        }
    }

    fn script(&self, outcome: Scripted) {
        assert!(self.sim.script(Venue::Mexc, Market::Spot, "BTCUSDT", outcome));
    }

    /// Makes MEXC's BTC rich and returns the first operation it caused, once finished.
    /// A dislocation decays in about a second: one that passes before the engine has
    /// fresh books on both sides (a loaded host) is made again, up to three times.
    fn trade_dislocation(&self) -> OpOutcome {
        self.settle();
        let first = self.snap().risk.last_op_id + 1;
        for _ in 0..3 {
            self.sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, EDGE_BPS);
            let until = Instant::now() + Duration::from_secs(6);
            while self.snap().risk.last_op_id < first && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.snap().risk.last_op_id >= first {
                break;
            }
        }
        self.wait(&format!("operation {first} on the dislocation finishes"), 20, |r| {
            r.session.view().outcomes.iter().any(|o| o.op == first)
        });
        let outcome = self.session.view().outcomes.iter().find(|o| o.op == first).copied().unwrap();
        self.settle();
        outcome
    }
}

#[test]
fn acceptance_scenarios_against_the_simulated_venues() {
    let rig = Rig::start();

    // 1. MEXC refuses the sell on its merits: sending it again would be refused again, so
    //    the Gate buy is unwound. The operation fails at a small loss, which trips the
    //    daily-loss breaker (set at 0.01 USD here).
    let before = rig.snap();
    rig.script(Scripted::Reject);
    let o = rig.trade_dislocation();
    let after = rig.snap();
    assert!(!o.completed && !o.success, "one leg rejected then unwound: {o:?}\n{after}");
    assert!(after.state.unwind_orders > before.state.unwind_orders, "{after}");
    assert!(o.realized_pnl < Amount::ZERO, "unwinding costs the spread and fees: {o:?}");
    assert!(after.risk.breaker_open[Breaker::DailyLoss as usize], "daily-loss breaker trips\n{after}");

    // 2. With the breaker open a fresh dislocation is refused by the risk gate; an
    //    operator resets it.
    let before = rig.snap();
    rig.sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, EDGE_BPS);
    rig.wait("the gate refuses it", 10, |r| {
        r.snap().risk.rejected(Veto::BreakerDailyLoss) > before.risk.rejected(Veto::BreakerDailyLoss)
    });
    rig.settle();
    assert_eq!(
        rig.snap().risk.last_op_id,
        before.risk.last_op_id,
        "nothing traded while the breaker is open"
    );
    assert!(rig.session.risk_control(RiskControl::ResetBreakers));

    // 3. A clean two-leg operation: both legs fill, no recovery. The operator's reset
    //    accepted the day's loss so far, so the breaker stays closed.
    let before = rig.snap();
    let o = rig.trade_dislocation();
    let after = rig.snap();
    assert!(o.completed && o.success, "clean operation: {o:?}\n{after}");
    assert!(o.realized_pnl > Amount::ZERO, "the dislocation paid: {o:?}");
    assert_eq!(after.state.recoveries, before.state.recoveries, "no recovery needed\n{after}");
    assert!(!after.risk.breaker_open[Breaker::DailyLoss as usize], "{after}");

    // 4. The MEXC sell fills partly: the rest is hedged on MEXC (completing beats
    //    unwinding while MEXC is still rich) and the operation completes.
    let before = rig.snap();
    rig.script(Scripted::Partial { lots: 4_000 });
    let o = rig.trade_dislocation();
    let after = rig.snap();
    assert!(o.completed, "partial fill then hedge: {o:?}\n{after}");
    assert!(after.state.recoveries > before.state.recoveries, "{after}");
    assert!(after.state.hedge_orders > before.state.hedge_orders, "the hedge completed\n{after}");
    assert_eq!(after.state.unwind_orders, before.state.unwind_orders, "nothing unwound\n{after}");

    // 5. The MEXC sell executes but its answer never comes and the private streams are
    //    silent about it: the order times out into an unknown outcome, is queried (never
    //    re-sent), found filled, and the operation completes.
    let before = rig.snap();
    rig.script(Scripted::Silent { answer_after_ms: 5_000 });
    let o = rig.trade_dislocation();
    let after = rig.snap();
    assert!(o.completed, "a leg timing out: {o:?}\n{after}");
    assert!(after.state.unknown_orders > before.state.unknown_orders, "the leg timed out\n{after}");
    assert!(after.state.queries > before.state.queries, "and was queried\n{after}");
    assert_eq!(after.state.hedge_orders, before.state.hedge_orders, "never re-sent\n{after}");

    // 6. The library API: a caller's own opportunity passes the risk gate, executes, and
    //    `execute_opportunity` returns how it ended.
    rig.settle();
    let before = rig.snap();
    let r = rig.session.execute_opportunity(rig.manual_spot_spot("0.002"), Duration::from_secs(10)).unwrap();
    assert!(r.outcome.completed && r.outcome.success, "manual operation: {r:?}\n{}", rig.snap());
    assert!(r.execution_time > Duration::ZERO && r.execution_time < Duration::from_secs(5), "{r:?}");
    assert_eq!(rig.snap().risk.last_op_id, before.risk.last_op_id + 1);
    // The risk gate still applies every limit to it: one beyond max_slippage_bps is refused.
    let mut wild = rig.manual_spot_spot("0.002");
    wild.slippage = Rate::from_bps(500);
    let refused = rig.session.execute_opportunity(wild, Duration::from_millis(500)).unwrap_err();
    assert!(refused.to_string().contains("max_slippage=1"), "{refused}");

    // 7. Stale data: MEXC's feed goes silent while its market moves on. Detection never
    //    prices an opportunity against the stale MEXC book.
    rig.settle();
    let before = rig.snap();
    rig.sim.pause_market_data(Venue::Mexc, true);
    std::thread::sleep(Duration::from_millis(500));
    rig.sim.dislocate(DislocationKind::SpotSpot, Venue::GateIo, Asset::BTC, -EDGE_BPS);
    rig.wait("detection refuses the stale book", 10, |r| {
        r.snap().detect.refused_stale > before.detect.refused_stale + 5
    });
    assert_eq!(rig.snap().risk.last_op_id, before.risk.last_op_id, "nothing traded on stale data");
    rig.sim.pause_market_data(Venue::Mexc, false);
    rig.wait("MEXC books back in sync", 20, Rig::all_synced);

    // 8. Operator control over the socket (`arb ctl`): a paused instrument is not traded,
    //    a resumed one is; requests that name nothing loaded are refused with a reason.
    let socket = rig.journal.join("arb.sock");
    let ctl = CtlServer::start(&socket, rig.session.controls(), arb::telemetry::Telemetry::of(&rig.session))
        .expect("control socket");
    let ask = |line: &str| arb::ctl::request(ctl.path(), line).expect("an answer");
    let status = ask("status");
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(status["result"]["health"]["status"], "ok", "{status}");
    let paused = ask("pause mexc:spot:BTCUSDT");
    assert_eq!(paused["result"]["instruments"][0], "mexc:spot:BTCUSDT", "{paused}");
    // No operation waits for an operator, and none is open: retrying one is refused as
    // not awaiting an operator, approving or abandoning one as not open.
    let recoveries = ask("recoveries");
    assert_eq!(recoveries["result"]["awaiting_operator"], serde_json::json!([]), "{recoveries}");
    for (op_request, why) in [
        ("approve 999999", "is not open"),
        ("retry 1", "is not awaiting an operator"),
        ("abandon 1", "is not open"),
    ] {
        let answer = ask(op_request);
        assert_eq!(answer["ok"], false, "{op_request}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{op_request}: {answer}");
    }
    for bad in ["pause DOGE/USDT", "pause mexc:spot:DOGEUSDT", "approve x", "frobnicate"] {
        let answer = ask(bad);
        assert_eq!(answer["ok"], false, "{bad}: {answer}");
        assert!(!answer["error"].as_str().unwrap().is_empty());
    }
    rig.settle();
    let before = rig.snap();
    rig.sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, EDGE_BPS);
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(rig.snap().risk.last_op_id, before.risk.last_op_id, "nothing traded on a paused instrument");
    assert_eq!(ask("resume mexc:spot:BTCUSDT")["result"]["trading"], true);
    rig.sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, EDGE_BPS);
    rig.wait("the resumed instrument trades", 15, |r| r.snap().risk.last_op_id > before.risk.last_op_id);

    // 9. The kill switch, thrown from the socket: an order resting on the account is
    //    cancelled, and nothing is traded afterwards.
    rig.settle();
    let resting = rig
        .sim
        .place_resting(Venue::GateIo, Market::Spot, "BTC_USDT", Side::Buy, "0.001", 200)
        .expect("a resting order");
    assert_eq!(rig.sim.account(Venue::GateIo).open_orders, 1, "order {resting} rests");
    // Another client's order on the account: reported as foreign activity, never adopted.
    rig.wait("the resting order is reported as foreign", 10, |r| r.snap().state.foreign.orders[0] > 0);
    assert_eq!(rig.snap().state.foreign.total_fills(), 0, "it rests, nothing filled");
    let before = rig.snap();
    assert_eq!(ask("kill")["ok"], true);
    rig.wait("the kill switch cancels every open order", 10, |r| {
        r.sim.account(Venue::GateIo).open_orders == 0 && r.sim.account(Venue::Mexc).open_orders == 0
    });
    assert!(rig.snap().dispatch.cancel_alls > before.dispatch.cancel_alls);
    rig.sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, EDGE_BPS);
    rig.wait("the gate refuses everything", 10, |r| {
        r.snap().risk.rejected(Veto::KillSwitch) > before.risk.rejected(Veto::KillSwitch)
    });
    assert_eq!(rig.snap().risk.last_op_id, before.risk.last_op_id, "nothing traded after the kill switch");

    // 10. `arb ctl stop` asks for an orderly stop, which the supervisor acts on.
    assert!(!rig.session.should_stop());
    assert_eq!(ask("stop")["ok"], true);
    assert!(rig.session.should_stop(), "the stop request reaches the session");
    drop(ctl);
    assert!(!socket.exists(), "the control socket is removed with its server");

    // The books: what the journal says the engine holds is what the venues' own records
    // add up to, exactly; every venue order is in the journal and none was sent twice.
    let Rig { sim, session, journal } = rig;
    let stopped = session.stop().expect("clean stop");
    assert!(stopped.report.halted, "the report shows the kill switch");
    support::assert_books_agree(&sim, &journal);
    let _ = std::fs::remove_dir_all(&journal);
}
