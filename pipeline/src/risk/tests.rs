//! Risk gate tests: every limit refuses with its reason; reservations, breakers, the kill
//! switch and op ids.

use std::sync::Arc;

use proptest::prelude::*;
use quanta::Mock;

use super::*;
use crate::msg::Leg;
use crate::msg::OppKind;
use crate::testkit::{self, Universe, px, qty};
use crate::types::Price;
use crate::units::Usd;

const MS: u64 = 1_000_000;

struct Rig {
    gate: RiskGate,
    opps: Tx<Opportunity>,
    updates: Tx<RiskUpdate>,
    control: Tx<RiskControl>,
    out: Rx<Execution>,
    alerts: Rx<Alert>,
    runtime: Arc<Control>,
    mock: Arc<Mock>,
    u: Universe,
}

impl Rig {
    fn new(config: RiskConfig) -> Self {
        Self::with(config, 64, 41)
    }

    fn with(config: RiskConfig, out_cap: usize, last_op: u64) -> Self {
        let u = testkit::universe();
        let (clock, mock) = Clock::mock();
        mock.increment(1_000 * MS);
        let (opps, opp_rx) = testkit::ring(64);
        let (updates, upd_rx) = testkit::ring(256);
        let (control, ctl_rx) = testkit::ring(8);
        let (exec_tx, out) = testkit::ring(out_cap);
        let (alert_tx, alerts) = testkit::ring(64);
        let runtime = Control::new();
        let rings = RiskRings {
            opportunities: opp_rx,
            updates: upd_rx,
            control: ctl_rx,
            executions: exec_tx,
            alerts: alert_tx,
        };
        let gate = RiskGate::new(
            &config,
            u.instruments.clone(),
            rings,
            runtime.clone(),
            clock,
            last_op,
            Arc::new(RiskStats::default()),
        )
        .unwrap();
        let mut rig = Self { gate, opps, updates, control, out, alerts, runtime, mock, u };
        rig.fund();
        rig
    }

    fn now(&self) -> u64 {
        now_ns(&self.gate.clock)
    }

    fn fund(&mut self) {
        let t = self.u.instruments.clone();
        let usdt = t.find_asset("USDT").unwrap();
        let btc = t.find_asset("BTC").unwrap();
        let eth = t.find_asset("ETH").unwrap();
        for venue in Venue::ALL {
            for (asset, amount) in [(usdt, 100_000), (btc, 10), (eth, 100)] {
                self.update(RiskUpdate::Balance { venue, asset, available: Amount::from_int(amount) });
            }
            self.update(RiskUpdate::FuturesMargin { venue, available: Amount::from_int(100_000) });
        }
    }

    fn update(&mut self, u: RiskUpdate) {
        self.updates.push(u).unwrap();
        self.gate.poll();
    }

    /// Offers opportunities and returns what was approved.
    fn offer(&mut self, opps: &[Opportunity]) -> Vec<Execution> {
        for o in opps {
            self.opps.push(*o).unwrap();
        }
        self.gate.poll();
        testkit::drain(&mut self.out)
    }

    /// Offers one opportunity and returns the reason it was refused (None if approved).
    fn refusal(&mut self, o: Opportunity) -> Option<Veto> {
        let before = self.gate.stats().snapshot().rejected;
        let approved = self.offer(&[o]);
        let after = self.gate.stats().snapshot().rejected;
        let reason = Veto::ALL.into_iter().find(|r| after[*r as usize] > before[*r as usize]);
        assert_eq!(approved.is_empty(), reason.is_some());
        reason
    }

    /// A spot-spot opportunity: buy 0.01 BTC on Gate at 50000, sell on MEXC at 50500.
    fn spot_spot(&self) -> Opportunity {
        let (g, m) = (self.u.instruments.get(self.u.gate_btc), self.u.instruments.get(self.u.mexc_btc));
        let mut legs = [Leg::default(); MAX_LEGS];
        legs[0] = Leg { inst: g.id, side: Side::Buy, price: px(g, "50000"), qty: qty(g, "0.01") };
        legs[1] = Leg { inst: m.id, side: Side::Sell, price: px(m, "50500"), qty: qty(m, "0.01") };
        Opportunity {
            id: 1,
            kind: OppKind::SpotSpot,
            n_legs: 2,
            legs,
            expected_profit: Amount::parse("3.995").unwrap(),
            edge: Rate::from_bps(79),
            notional: Amount::from_int(505),
            slippage: Rate::ZERO,
            trigger_ns: self.now(),
            oldest_ns: self.now(),
            detected_ns: self.now(),
        }
    }

    /// A basis entry on Gate: buy 0.01 BTC spot at 50000, sell 100 contracts (0.01 BTC)
    /// of the perpetual at 50100.
    fn basis(&self) -> Opportunity {
        let mut o = self.spot_spot();
        let (g, p) = (self.u.instruments.get(self.u.gate_btc), self.u.instruments.get(self.u.gate_btc_perp));
        o.kind = OppKind::Basis;
        o.legs[0] = Leg { inst: g.id, side: Side::Buy, price: px(g, "50000"), qty: qty(g, "0.01") };
        o.legs[1] = Leg { inst: p.id, side: Side::Sell, price: px(p, "50100"), qty: qty(p, "100") };
        o.notional = Amount::from_int(501);
        o
    }

    fn eth_buy(&self) -> Opportunity {
        let mut o = self.spot_spot();
        let (g, m) = (self.u.instruments.get(self.u.gate_eth), self.u.instruments.get(self.u.mexc_eth));
        o.legs[0] = Leg { inst: g.id, side: Side::Buy, price: px(g, "2500"), qty: qty(g, "0.12") };
        o.legs[1] = Leg { inst: m.id, side: Side::Sell, price: px(m, "2520"), qty: qty(m, "0.12") };
        o.notional = Amount::parse("302.4").unwrap();
        o
    }

    fn done(&mut self, op: u64, success: bool) {
        self.update(RiskUpdate::OperationDone { op, success, realized_pnl: Amount::ZERO });
    }

    fn snapshot(&self) -> RiskSnapshot {
        self.gate.stats().snapshot()
    }
}

#[test]
fn op_ids_continue_from_the_journal_and_never_repeat() {
    let mut rig = Rig::new(RiskConfig::default());
    let o = rig.spot_spot();
    let e = rig.offer(&[o]);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].op(), 42);
    assert_eq!(*e[0].opp(), o);
    assert_eq!(e[0].deadline_ns(), e[0].approved_ns() + 2_000 * MS);
    rig.done(42, true);
    let e = rig.offer(&[rig.spot_spot()]);
    assert_eq!(e[0].op(), 43);
    assert_eq!(rig.snapshot().last_op_id, 43);
    assert_eq!(rig.snapshot().approved, [2, 0, 0, 0]);
}

#[test]
fn every_leg_is_reserved_until_the_operation_is_done() {
    let mut rig = Rig::new(RiskConfig::default());
    let t = rig.u.instruments.clone();
    let (usdt, btc) = (t.find_asset("USDT").unwrap(), t.find_asset("BTC").unwrap());
    let e = rig.offer(&[rig.spot_spot()]);
    assert_eq!(e.len(), 1);
    // Buy: 500 USDT notional + 0.1% fee. Sell: 0.01 BTC.
    assert_eq!(rig.gate.reserved(Venue::GateIo, usdt), Amount::parse("500.5").unwrap());
    assert_eq!(rig.gate.reserved(Venue::Mexc, btc), Amount::parse("0.01").unwrap());
    assert_eq!(rig.snapshot().in_flight, 1);
    rig.done(e[0].op(), true);
    assert_eq!(rig.gate.reserved(Venue::GateIo, usdt), Amount::ZERO);
    assert_eq!(rig.gate.reserved(Venue::Mexc, btc), Amount::ZERO);
    assert_eq!(rig.snapshot().in_flight, 0);

    // Reserved balance is not available to the next operation.
    rig.update(RiskUpdate::Balance { venue: Venue::GateIo, asset: usdt, available: Amount::from_int(800) });
    assert_eq!(rig.offer(&[rig.spot_spot()]).len(), 1);
    assert_eq!(rig.refusal(rig.eth_buy()), Some(Veto::InsufficientBalance));
}

#[test]
fn a_futures_leg_draws_on_the_futures_account_and_a_spot_leg_on_the_spot_account() {
    let mut rig = Rig::new(RiskConfig::default());
    let usdt = rig.u.instruments.find_asset("USDT").unwrap();
    let margin = |available: &str| RiskUpdate::FuturesMargin {
        venue: Venue::GateIo,
        available: Amount::parse(available).unwrap(),
    };
    // Spot USDT is plenty (100,000); the futures account cannot carry 501 USDT of
    // margin (1x) plus 0.2505 fee.
    rig.update(margin("501.25"));
    assert_eq!(rig.refusal(rig.basis()), Some(Veto::InsufficientMargin));
    rig.update(margin("501.2505"));
    let e = rig.offer(&[rig.basis()]);
    assert_eq!(e.len(), 1);
    assert_eq!(rig.gate.reserved(Venue::GateIo, usdt), Amount::parse("500.5").unwrap(), "the spot buy only");
    assert_eq!(rig.gate.futures_margin_used(Venue::GateIo), Amount::parse("501.2505").unwrap());

    // A futures account short of margin does not stop a spot-only operation.
    rig.update(margin("0"));
    assert_eq!(rig.refusal(rig.eth_buy()), None);

    // Done: the position it opened holds its margin at the venue until the venue
    // reports the account again.
    rig.done(e[0].op(), true);
    rig.update(RiskUpdate::Balance {
        venue: Venue::GateIo,
        asset: usdt,
        available: Amount::from_int(100_000),
    });
    rig.done(43, true);
    rig.update(RiskUpdate::FuturesMargin { venue: Venue::GateIo, available: Amount::from_int(1_000) });
    assert_eq!(rig.gate.futures_margin_used(Venue::GateIo), Amount::ZERO, "the report counts it");
    let e = rig.offer(&[rig.basis()]);
    assert_eq!(e.len(), 1);
    rig.done(e[0].op(), true);
    assert_eq!(rig.gate.futures_margin_used(Venue::GateIo), Amount::parse("501.2505").unwrap());
    assert_eq!(
        rig.refusal(rig.basis()),
        Some(Veto::InsufficientMargin),
        "498.75 left until the venue reports"
    );
    rig.update(RiskUpdate::FuturesMargin { venue: Venue::GateIo, available: Amount::from_int(1_000) });
    assert_eq!(rig.refusal(rig.basis()), None);
}

#[test]
fn closing_a_futures_position_needs_only_its_fee_in_the_futures_account() {
    let mut rig = Rig::new(RiskConfig::default());
    rig.update(RiskUpdate::FuturesMargin { venue: Venue::GateIo, available: Amount::parse("0.26").unwrap() });
    let (g, perp) =
        (rig.u.instruments.get(rig.u.gate_btc).clone(), rig.u.instruments.get(rig.u.gate_btc_perp).clone());
    let legs = [
        Leg { inst: g.id, side: Side::Sell, price: px(&g, "49990"), qty: qty(&g, "0.01") },
        Leg { inst: perp.id, side: Side::Buy, price: px(&perp, "50010"), qty: qty(&perp, "100") },
    ];
    rig.update(RiskUpdate::BasisExit { legs, slot: 1 });
    assert_eq!(testkit::drain(&mut rig.out).len(), 1, "0.25005 USDT of fee fits in 0.26");
    assert_eq!(rig.gate.futures_margin_used(Venue::GateIo), Amount::parse("0.25005").unwrap());
}

#[test]
fn each_limit_refuses_with_its_reason() {
    let cfg = RiskConfig::default();
    let mut rig = Rig::new(cfg.clone());

    let mut o = rig.spot_spot();
    o.n_legs = 0;
    assert_eq!(rig.refusal(o), Some(Veto::Invalid));
    let mut o = rig.spot_spot();
    o.legs[1].inst = InstrumentId(999);
    assert_eq!(rig.refusal(o), Some(Veto::Invalid));
    let mut o = rig.spot_spot();
    o.legs[0].qty = Qty::ZERO;
    assert_eq!(rig.refusal(o), Some(Veto::Invalid));

    let mut o = rig.spot_spot();
    o.oldest_ns = rig.now() - 101 * MS;
    assert_eq!(rig.refusal(o), Some(Veto::StaleData));

    let mut o = rig.spot_spot();
    o.edge = Rate::from_bps(4);
    assert_eq!(rig.refusal(o), Some(Veto::MinProfitMargin));

    let mut o = rig.spot_spot();
    o.slippage = Rate::from_bps(21);
    assert_eq!(rig.refusal(o), Some(Veto::Slippage));

    rig.update(RiskUpdate::InstrumentHalt { inst: rig.u.mexc_btc, halted: true });
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::InstrumentHalted));
    rig.update(RiskUpdate::InstrumentHalt { inst: rig.u.mexc_btc, halted: false });

    // The gate's own position limit: 4800 USD long BTC on Gate, plus 500 more.
    rig.update(RiskUpdate::Position {
        inst: rig.u.gate_btc,
        qty: Qty(1),
        exposure: Amount::from_int(4_800),
        quote_exposure: Amount::ZERO,
    });
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::PositionLimit));
    // A short position the buy reduces is fine.
    rig.update(RiskUpdate::Position {
        inst: rig.u.gate_btc,
        qty: Qty(-1),
        exposure: Amount::from_int(-4_800),
        quote_exposure: Amount::ZERO,
    });
    assert_eq!(rig.refusal(rig.spot_spot()), None);
    rig.done(42, true);
    rig.update(RiskUpdate::Position {
        inst: rig.u.gate_btc,
        qty: Qty::ZERO,
        exposure: Amount::ZERO,
        quote_exposure: Amount::ZERO,
    });

    // Operations in flight count toward total exposure.
    let mut rig = Rig::new(RiskConfig { max_total_exposure_usd: Usd::new(700), ..cfg.clone() });
    assert_eq!(rig.refusal(rig.spot_spot()), None);
    assert_eq!(rig.refusal(rig.eth_buy()), Some(Veto::ExposureLimit));
    rig.done(42, true);
    assert_eq!(rig.refusal(rig.eth_buy()), None);
    // Net exposure per asset: long BTC on one venue and short on the other nets out.
    rig.done(43, true);
    rig.update(RiskUpdate::Position {
        inst: rig.u.gate_btc,
        qty: Qty(1),
        exposure: Amount::from_int(600),
        quote_exposure: Amount::ZERO,
    });
    rig.update(RiskUpdate::Position {
        inst: rig.u.mexc_btc,
        qty: Qty(-1),
        exposure: Amount::from_int(-600),
        quote_exposure: Amount::ZERO,
    });
    assert_eq!(rig.snapshot().exposure, Amount::ZERO);
    rig.update(RiskUpdate::Position {
        inst: rig.u.gate_eth,
        qty: Qty(1),
        exposure: Amount::from_int(300),
        quote_exposure: Amount::ZERO,
    });
    assert_eq!(rig.snapshot().exposure, Amount::from_int(300));
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::ExposureLimit));

    // A triangle leaves no open exposure: the BTC bought is spent on ETH/BTC, the ETH
    // bought with BTC is sold for USDT.
    let mut rig = Rig::new(cfg.clone());
    let pos = |inst, exposure: i64, quote_exposure: i64| RiskUpdate::Position {
        inst,
        qty: Qty(1),
        exposure: Amount::from_int(exposure),
        quote_exposure: Amount::from_int(quote_exposure),
    };
    rig.update(pos(rig.u.gate_btc, 600, 0));
    rig.update(pos(rig.u.gate_eth_btc, 600, -600));
    assert_eq!(rig.snapshot().exposure, Amount::from_int(600), "ETH is still held");
    rig.update(pos(rig.u.gate_eth, -600, 0));
    assert_eq!(rig.snapshot().exposure, Amount::ZERO, "the cycle is closed");

    // Busy instruments and operations in flight.
    let mut rig = Rig::new(RiskConfig { max_ops_in_flight: 1, ..cfg.clone() });
    assert_eq!(rig.refusal(rig.spot_spot()), None);
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::InstrumentBusy));
    assert_eq!(rig.refusal(rig.eth_buy()), Some(Veto::TooManyInFlight));
    rig.done(42, true);
    assert_eq!(rig.refusal(rig.eth_buy()), None);

    // Balances.
    let mut rig = Rig::new(cfg.clone());
    let btc = rig.u.instruments.find_asset("BTC").unwrap();
    rig.update(RiskUpdate::Balance {
        venue: Venue::Mexc,
        asset: btc,
        available: Amount::parse("0.009").unwrap(),
    });
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::InsufficientBalance));

    // Reconciliation blocks trading until nothing is pending.
    let mut rig = Rig::new(cfg);
    rig.update(RiskUpdate::Reconciling { pending: 2 });
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::Reconciling));
    rig.update(RiskUpdate::Reconciling { pending: 0 });
    assert_eq!(rig.refusal(rig.spot_spot()), None);
}

#[test]
fn rate_limits_keep_headroom_and_refill() {
    let mut rig = Rig::new(RiskConfig::default());
    // Gate spot BTC_USDT allows 10/s; entries get 5.
    for op in 42..47 {
        assert_eq!(rig.refusal(rig.spot_spot()), None);
        rig.done(op, true);
    }
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::RateLimited));
    rig.mock.increment(200 * MS);
    let mut o = rig.spot_spot();
    o.oldest_ns = rig.now();
    assert_eq!(rig.refusal(o), None, "one token back every 200 ms");
}

#[test]
fn a_flatten_or_a_basis_exit_is_checked_like_an_entry_but_for_margin_limits_and_breakers() {
    // Limits a reducing order would break: every position and all exposure at 1 USD.
    let config = RiskConfig {
        max_position_size_usd: Usd::new(1),
        max_total_exposure_usd: Usd::new(1),
        ..RiskConfig::default()
    };
    let mut rig = Rig::new(config);
    let (g, m) =
        (rig.u.instruments.get(rig.u.gate_btc).clone(), rig.u.instruments.get(rig.u.mexc_btc).clone());
    let leg = Leg { inst: m.id, side: Side::Buy, price: px(&m, "50000"), qty: qty(&m, "0.0002") };
    rig.update(RiskUpdate::Flatten { leg });
    let e = testkit::drain(&mut rig.out);
    assert_eq!(e.len(), 1, "no profit, over the limits, and approved");
    assert_eq!((e[0].opp().kind, e[0].opp().legs()), (OppKind::Flatten, &[leg][..]));
    assert_eq!(e[0].opp().id, crate::state::FLATTEN_ID + u64::from(m.id.0));
    // Its instrument is busy until it is done, as an entry's would be.
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::InstrumentBusy));
    rig.done(e[0].op(), true);
    // A basis exit: both legs, the same checks.
    let perp = rig.u.instruments.get(rig.u.gate_btc_perp).clone();
    let legs = [
        Leg { inst: g.id, side: Side::Sell, price: px(&g, "49990"), qty: qty(&g, "0.01") },
        Leg { inst: perp.id, side: Side::Buy, price: px(&perp, "50010"), qty: qty(&perp, "100") },
    ];
    rig.update(RiskUpdate::BasisExit { legs, slot: 3 });
    let e = testkit::drain(&mut rig.out);
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].opp().kind, e[0].opp().id), (OppKind::Basis, crate::state::EXIT_ID + 3));
    rig.done(e[0].op(), true);
    // The kill switch stops both.
    rig.update(RiskUpdate::Halt);
    rig.update(RiskUpdate::Flatten { leg });
    rig.update(RiskUpdate::BasisExit { legs, slot: 3 });
    assert!(testkit::drain(&mut rig.out).is_empty());
    assert_eq!(rig.snapshot().rejected[Veto::KillSwitch as usize], 2);
}

#[test]
fn the_kill_switch_refuses_everything_from_each_source() {
    let mut rig = Rig::new(RiskConfig::default());
    rig.update(RiskUpdate::Halt);
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::KillSwitch));
    assert!(rig.snapshot().halted);
    rig.control.push(RiskControl::Resume).unwrap();
    rig.gate.poll();
    assert_eq!(rig.refusal(rig.spot_spot()), None);

    rig.control.push(RiskControl::Halt).unwrap();
    rig.gate.poll();
    assert_eq!(rig.refusal(rig.eth_buy()), Some(Veto::KillSwitch));
    rig.control.push(RiskControl::Resume).unwrap();
    rig.gate.poll();

    rig.runtime.halt("operator");
    assert_eq!(rig.refusal(rig.eth_buy()), Some(Veto::KillSwitch));
    let kinds: Vec<_> = testkit::drain(&mut rig.alerts).into_iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        vec![AlertKind::Halted, AlertKind::Resumed, AlertKind::Halted, AlertKind::Resumed, AlertKind::Halted]
    );
}

#[test]
fn breakers_trip_refuse_and_are_visible() {
    let mut rig = Rig::new(RiskConfig::default());
    // Three failed operations in a row.
    for op in 42..45 {
        assert_eq!(rig.refusal(rig.spot_spot()), None);
        rig.done(op, false);
    }
    let s = rig.snapshot();
    assert!(s.breaker_open[Breaker::ConsecutiveFailures.index()]);
    assert_eq!(s.breaker_trips[Breaker::ConsecutiveFailures.index()], 1);
    assert!(s.to_string().contains("consecutive_failures   OPEN"), "{s}");
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::BreakerConsecutiveFailures));
    // An order that only reduces a position still goes.
    let m = rig.u.instruments.get(rig.u.mexc_btc).clone();
    let leg = Leg { inst: m.id, side: Side::Buy, price: px(&m, "50000"), qty: qty(&m, "0.0002") };
    rig.update(RiskUpdate::Flatten { leg });
    let e = testkit::drain(&mut rig.out);
    assert_eq!(e.len(), 1, "a flatten passes an open breaker");
    rig.done(e[0].op(), true);
    let alerts = testkit::drain(&mut rig.alerts);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::BreakerTripped);
    assert_eq!(alerts[0].value, Breaker::ConsecutiveFailures.index() as i64);
    rig.control.push(RiskControl::ResetBreakers).unwrap();
    rig.gate.poll();
    assert!(!rig.snapshot().breaker_open[Breaker::ConsecutiveFailures.index()]);
    assert_eq!(rig.refusal(rig.spot_spot()), None);

    // Daily loss.
    rig.update(RiskUpdate::DailyPnl { realized: Amount::from_int(-500) });
    assert_eq!(rig.refusal(rig.eth_buy()), Some(Veto::BreakerDailyLoss));
    assert_eq!(rig.snapshot().daily_pnl, Amount::from_int(-500));
    rig.update(RiskUpdate::DailyPnl { realized: Amount::ZERO });

    // Latency degradation, closing by itself after the pause.
    for _ in 0..4 {
        rig.update(RiskUpdate::OrderLatency { venue: Venue::GateIo, ns: 900 * MS });
    }
    assert_eq!(rig.refusal(rig.eth_buy()), Some(Veto::BreakerLatency));
    rig.mock.increment(30_001 * MS);
    rig.gate.poll();
    let mut o = rig.eth_buy();
    o.oldest_ns = rig.now();
    assert_eq!(rig.refusal(o), None);
}

#[test]
fn stale_data_trips_its_breaker() {
    let mut rig = Rig::new(RiskConfig::default());
    let mut o = rig.spot_spot();
    o.oldest_ns = rig.now() - 500 * MS;
    for _ in 0..20 {
        assert_eq!(rig.refusal(o), Some(Veto::StaleData));
    }
    assert_eq!(rig.refusal(rig.spot_spot()), Some(Veto::BreakerStaleData));
    assert!(rig.snapshot().breaker_open[Breaker::StaleData.index()]);
}

#[test]
fn a_full_output_ring_holds_the_execution_and_stops_reading() {
    let mut rig = Rig::with(RiskConfig::default(), 1, 0);
    rig.opps.push(rig.spot_spot()).unwrap();
    rig.opps.push(rig.eth_buy()).unwrap();
    rig.gate.poll();
    // Both approved (different instruments), the second waits inside the gate.
    assert_eq!(rig.out.pop().map(|e| e.op()), Some(1));
    assert_eq!(rig.out.pop(), None);
    rig.gate.poll();
    assert_eq!(rig.out.pop().map(|e| e.op()), Some(2));
}

#[test]
fn the_config_reads_with_units() {
    let c: RiskConfig = toml::from_str(
        r#"
        max_position_size_usd = 2500
        max_daily_loss_usd = "150.5"
        max_slippage_bps = 15
        entry_share_pct = 60
        [breakers]
        max_consecutive_failures = 5
        [[rate_limits]]
        venue = "gateio"
        market = "spot"
        requests = 8
        per_ms = 1000
        per_instrument = true
        "#,
    )
    .unwrap();
    assert_eq!(c.max_daily_loss_usd.amount(), Amount::parse("150.5").unwrap());
    assert_eq!(c.breakers.max_consecutive_failures, 5);
    assert_eq!(c.breakers.reset_after_ms, 30_000);
    assert_eq!(c.rate_limits.len(), 1);
    assert!(toml::from_str::<RiskConfig>("max_position_usd = 1").is_err());
    assert!(toml::from_str::<RiskConfig>("[breakers]\nmax_failures = 1").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No opportunity, however malformed, makes the gate panic, and whatever it approves
    /// is well formed.
    #[test]
    fn no_input_makes_the_gate_panic(
        n_legs in 0u8..6,
        insts in proptest::array::uniform3(0u16..12),
        prices in proptest::array::uniform3(any::<i64>()),
        qtys in proptest::array::uniform3(any::<i64>()),
        profit in any::<i128>(),
        notional in any::<i128>(),
        edge in any::<i64>(),
        slip in any::<i64>(),
        oldest in any::<u64>(),
        update_kind in 0u8..4,
        big in any::<i128>(),
    ) {
        let mut rig = Rig::new(RiskConfig::default());
        let u = match update_kind {
            0 => RiskUpdate::Position { inst: InstrumentId(insts[0]), qty: Qty(prices[0]), exposure: Amount(big), quote_exposure: Amount::ZERO },
            1 => RiskUpdate::Balance { venue: Venue::Mexc, asset: AssetId(insts[1]), available: Amount(big) },
            2 => RiskUpdate::DailyPnl { realized: Amount(big) },
            _ => RiskUpdate::OperationDone { op: oldest, success: false, realized_pnl: Amount(big) },
        };
        rig.update(u);
        let mut legs = [Leg::default(); MAX_LEGS];
        for i in 0..MAX_LEGS {
            legs[i] = Leg { inst: InstrumentId(insts[i]), side: if i % 2 == 0 { Side::Buy } else { Side::Sell }, price: Price(prices[i]), qty: Qty(qtys[i]) };
        }
        let o = Opportunity { id: 1, kind: OppKind::Basis, n_legs, legs, expected_profit: Amount(profit), edge: Rate(edge), notional: Amount(notional), slippage: Rate(slip), trigger_ns: oldest, oldest_ns: oldest, detected_ns: oldest };
        for e in rig.offer(&[o]) {
            prop_assert!(e.opp().n_legs >= 1 && e.opp().n_legs as usize <= MAX_LEGS);
            for leg in e.opp().legs() {
                prop_assert!(leg.price.is_positive() && leg.qty.is_positive());
            }
        }
    }
}
