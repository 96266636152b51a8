//! Detection tests on crafted book tops.

use proptest::prelude::*;

use super::*;
use crate::msg::{BOOK_DEPTH, Leg, Level};
use crate::testkit::{self, Universe, px, qty, top};
use crate::types::{Amount, Price, Qty, Rate, Rounding, Side, Venue};
use crate::units::{Bps, Exact, Usd};

const MS: u64 = 1_000_000;

struct Rig {
    det: Detector,
    books: Tx<BookTop>,
    control: Tx<DetectControl>,
    out: Rx<Opportunity>,
    u: Universe,
}

impl Rig {
    fn new(config: DetectConfig) -> Self {
        let u = testkit::universe();
        let (books, input) = testkit::ring(256);
        let (control, control_rx) = testkit::ring(16);
        let (tx, out) = testkit::ring(256);
        let det = Detector::new(
            &config,
            u.instruments.clone(),
            input,
            control_rx,
            tx,
            Clock::mock().0,
            Arc::new(DetectStats::default()),
        )
        .unwrap();
        Self { det, books, control, out, u }
    }

    fn feed(&mut self, tops: &[BookTop]) -> Vec<Opportunity> {
        for t in tops {
            self.books.push(*t).unwrap();
        }
        while self.det.poll() > 0 {}
        testkit::drain(&mut self.out)
    }

    fn inst(&self, id: InstrumentId) -> &crate::types::Instrument {
        self.u.instruments.get(id)
    }

    fn stats(&self) -> DetectSnapshot {
        self.det.stats().snapshot()
    }
}

fn only(kinds: &[OppKind]) -> DetectConfig {
    DetectConfig {
        spot_spot: kinds.contains(&OppKind::SpotSpot),
        basis: kinds.contains(&OppKind::Basis),
        triangular: kinds.contains(&OppKind::Triangular),
        // Limits exactly at the levels walked, unless a test gives an allowance.
        limit_slippage_bps: Bps::new(0),
        ..DetectConfig::default()
    }
}

fn assert_legal(rig: &Rig, opp: &Opportunity) {
    for leg in opp.legs() {
        let i = rig.inst(leg.inst);
        assert!(i.accepts(leg.price, leg.qty), "leg {leg:?} breaks {}", i.symbol);
    }
}

#[test]
fn candidates_cover_each_kind_in_the_universe() {
    let rig = Rig::new(DetectConfig::default());
    // Spot-spot: BTC and ETH across the two venues, both directions.
    // Basis: BTC spot x2 venues x perp x2 venues (cross venue allowed), forward only.
    // Triangles: Gate BTC/ETH both directions.
    assert_eq!(rig.det.candidate_counts(), [4, 4, 2, 0]);
}

#[test]
fn spot_spot_is_found_and_sized_to_the_notional_cap() {
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    let opps = rig.feed(&[
        top(&g, MS, &[("49990", "0.5")], &[("50000", "0.5")]),
        top(&m, 2 * MS, &[("50600", "0.3")], &[("50610", "0.3")]),
    ]);
    assert_eq!(opps.len(), 1, "{:?}", rig.stats());
    let o = opps[0];
    assert_eq!(o.kind, OppKind::SpotSpot);
    assert_eq!(
        o.legs()[0],
        Leg { inst: g.id, side: Side::Buy, price: px(&g, "50000"), qty: qty(&g, "0.0197") }
    );
    assert_eq!(
        o.legs()[1],
        Leg { inst: m.id, side: Side::Sell, price: px(&m, "50600"), qty: qty(&m, "0.0197") }
    );
    // 0.0197 * 50600 = 996.82 <= 1000; one more lattice step (0.0001) would pass 1000.
    assert_eq!(o.notional, Amount::parse("996.82").unwrap());
    // 996.82 * 0.999 - 985 * 1.001 = 995.82318 - 985.985
    assert_eq!(o.expected_profit, Amount::parse("9.83818").unwrap());
    assert!(o.edge >= Rate::from_bps(98) && o.edge < Rate::from_bps(99), "{:?}", o.edge);
    assert_eq!(o.trigger_ns, 2 * MS);
    assert_eq!(o.oldest_ns, MS);
    assert_eq!(o.slippage, Rate::ZERO);
    assert_legal(&rig, &o);
}

#[test]
fn sizing_walks_depth_to_the_largest_size_that_keeps_the_edge() {
    let mut cfg = only(&[OppKind::SpotSpot]);
    cfg.min_profit_bps = Bps::new(10);
    cfg.max_notional_usd = Usd::new(1_000_000);
    let mut rig = Rig::new(cfg);
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    let opps = rig.feed(&[
        top(
            &g,
            MS,
            &[("49000", "1")],
            &[("50000", "0.01"), ("50100", "0.01"), ("50400", "0.05"), ("50700", "1")],
        ),
        top(&m, MS, &[("50600", "1")], &[("51000", "1")]),
    ]);
    assert_eq!(opps.len(), 1);
    let o = opps[0];
    // Three levels (0.07 BTC) pay well; the fourth loses 201.3 USDT per BTC, so the walk
    // stops where the average edge reaches 10 bps: 0.07 + 0.0412 BTC.
    assert_eq!(o.legs[0].qty, qty(&g, "0.1112"));
    assert_eq!(o.legs[0].price, px(&g, "50700"));
    assert_eq!(o.legs[1].qty, qty(&m, "0.1112"));
    assert!(o.edge >= Rate::from_bps(10), "{:?}", o.edge);
    // The worst level is 1.4% above the best ask.
    assert_eq!(o.slippage, Rate(14_000_000));
    // One more lattice step would fall below 10 bps.
    let p = Params {
        min_edge: Rate::from_bps(10),
        max_notional: Amount::from_int(1_000_000),
        slippage: Rate::ZERO,
        edge_share_pct: 50,
    };
    let (bt, st) = (
        top(
            &g,
            MS,
            &[("49000", "1")],
            &[("50000", "0.01"), ("50100", "0.01"), ("50400", "0.05"), ("50700", "1")],
        ),
        top(&m, MS, &[("50600", "1")], &[("51000", "1")]),
    );
    let lattice = Amount::parse("0.0001").unwrap();
    let at = |inv: &str| {
        size_pair(
            Quote { inst: &g, top: &bt },
            Quote { inst: &m, top: &st },
            lattice,
            Some(Amount::parse(inv).unwrap()),
            &p,
        )
    };
    assert_eq!(at("0.1112").unwrap().legs[0].qty, qty(&g, "0.1112"));
    assert_eq!(at("0.2").unwrap().legs[0].qty, qty(&g, "0.1112"), "larger sizes do not pay");
    assert_legal(&rig, &o);
}

#[test]
fn a_slippage_allowance_moves_limits_outward_on_the_tick() {
    let mut cfg = only(&[OppKind::SpotSpot]);
    cfg.limit_slippage_bps = Bps::new(3);
    let mut rig = Rig::new(cfg);
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    let opps = rig.feed(&[
        top(&g, MS, &[("49990", "0.5")], &[("50000", "0.5")]),
        top(&m, MS, &[("50600", "0.3")], &[("50610", "0.3")]),
    ]);
    let o = opps[0];
    // 50000 * 1.0003 = 50015 (on Gate's 0.1 tick); 50600 * 0.9997 = 50584.82 (MEXC 0.01).
    assert_eq!(o.legs[0].price, px(&g, "50015"));
    assert_eq!(o.legs[1].price, px(&m, "50584.82"));
    assert_eq!(o.slippage, Rate::from_bps(3));
}

#[test]
fn the_allowance_never_gives_away_more_than_its_share_of_the_edge() {
    let books = |rig: &Rig| {
        let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
        [
            top(&g, MS, &[("49990", "0.5")], &[("50000", "0.5")]),
            top(&m, MS, &[("50600", "0.3")], &[("50610", "0.3")]),
        ]
    };
    // A wide cap and half the edge shared: the edge (about 98.7 bps) bounds each of the
    // two legs to a quarter of it.
    let mut cfg = only(&[OppKind::SpotSpot]);
    cfg.limit_slippage_bps = Bps::new(100);
    cfg.limit_edge_share_pct = 50;
    let mut rig = Rig::new(cfg);
    let tops = books(&rig);
    let o = rig.feed(&tops)[0];
    assert!(
        o.slippage > Rate::from_bps(24) && o.slippage <= Rate(o.edge.0 / 4),
        "{:?} {:?}",
        o.slippage,
        o.edge
    );
    // Both legs at their limits still keep half the edge, fees included.
    let (g, m) = (rig.inst(o.legs[0].inst), rig.inst(o.legs[1].inst));
    let paid = g.notional(o.legs[0].price, o.legs[0].qty, Rounding::Ceil).unwrap();
    let got = m.notional(o.legs[1].price, o.legs[1].qty, Rounding::Floor).unwrap();
    let fees = paid.mul_rate(g.taker_fee, Rounding::Ceil).unwrap()
        + got.mul_rate(m.taker_fee, Rounding::Ceil).unwrap();
    let worst = got - paid - fees;
    assert!(
        worst.0 * 2 >= o.expected_profit.0 - o.expected_profit.0 / 50,
        "{worst} of {}",
        o.expected_profit
    );
    // No share of the edge: limits at the levels walked.
    let mut cfg = only(&[OppKind::SpotSpot]);
    cfg.limit_slippage_bps = Bps::new(100);
    cfg.limit_edge_share_pct = 0;
    let mut rig = Rig::new(cfg);
    let tops = books(&rig);
    assert_eq!(rig.feed(&tops)[0].slippage, Rate::ZERO);
}

#[test]
fn basis_is_found_with_the_futures_leg_in_contracts() {
    let mut rig = Rig::new(only(&[OppKind::Basis]));
    let (s, f) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.gate_btc_perp).clone());
    let opps = rig.feed(&[
        top(&s, MS, &[("49990", "1")], &[("50000", "1")]),
        top(&f, MS, &[("50500", "10000")], &[("50510", "10000")]),
    ]);
    assert_eq!(opps.len(), 1, "{:?}", rig.stats());
    let o = opps[0];
    assert_eq!(o.kind, OppKind::Basis);
    assert_eq!(
        o.legs[0],
        Leg { inst: s.id, side: Side::Buy, price: px(&s, "50000"), qty: qty(&s, "0.0198") }
    );
    // 0.0198 BTC is 198 contracts of 0.0001 BTC.
    assert_eq!(o.legs[1], Leg { inst: f.id, side: Side::Sell, price: px(&f, "50500"), qty: qty(&f, "198") });
    assert_legal(&rig, &o);
}

#[test]
fn reverse_basis_needs_permission_and_stays_within_inventory() {
    let books = |rig: &Rig| {
        let (s, f) = (rig.inst(rig.u.gate_btc), rig.inst(rig.u.gate_btc_perp));
        [
            top(s, MS, &[("50500", "1")], &[("50510", "1")]),
            top(f, MS, &[("49990", "10000")], &[("50000", "10000")]),
        ]
    };
    let mut rig = Rig::new(only(&[OppKind::Basis]));
    let b = books(&rig);
    assert!(rig.feed(&b).is_empty(), "short spot is not allowed by default");

    let mut cfg = only(&[OppKind::Basis]);
    cfg.reverse_basis = vec![ReverseBasis {
        venue: Venue::GateIo,
        asset: "btc".into(),
        max_base: Exact(Amount::parse("0.01").unwrap()),
    }];
    let mut rig = Rig::new(cfg);
    let b = books(&rig);
    let opps = rig.feed(&b);
    assert_eq!(opps.len(), 1);
    let (s, f) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.gate_btc_perp).clone());
    assert_eq!(
        opps[0].legs[0],
        Leg { inst: f.id, side: Side::Buy, price: px(&f, "50000"), qty: qty(&f, "100") }
    );
    assert_eq!(
        opps[0].legs[1],
        Leg { inst: s.id, side: Side::Sell, price: px(&s, "50500"), qty: qty(&s, "0.01") }
    );
    assert_legal(&rig, &opps[0]);
}

#[test]
fn triangles_are_found_in_both_directions() {
    let mut rig = Rig::new(only(&[OppKind::Triangular]));
    let (a, b, c) = (
        rig.inst(rig.u.gate_btc).clone(),
        rig.inst(rig.u.gate_eth_btc).clone(),
        rig.inst(rig.u.gate_eth).clone(),
    );
    // Forward: USDT -> BTC at 50000 -> ETH at 0.05 BTC -> USDT at 2600: +4% before fees.
    let opps = rig.feed(&[
        top(&a, MS, &[("49990", "1")], &[("50000", "1")]),
        top(&b, MS, &[("0.0499", "10")], &[("0.05", "10")]),
        top(&c, MS, &[("2600", "10")], &[("2601", "10")]),
    ]);
    assert_eq!(opps.len(), 1, "{:?}", rig.stats());
    let o = opps[0];
    assert_eq!(o.kind, OppKind::Triangular);
    assert_eq!(
        o.legs().iter().map(|l| (l.inst, l.side)).collect::<Vec<_>>(),
        vec![(a.id, Side::Buy), (b.id, Side::Buy), (c.id, Side::Sell)]
    );
    // The Y legs trade the same ETH; the BTC leg buys what the ETH costs (with its fee),
    // rounded down to the BTC lot.
    assert_eq!(o.legs[1].qty, o.legs[2].qty);
    let eth = b.base_amount(o.legs[1].qty).unwrap();
    let btc_needed = eth.mul(Amount::parse("0.05").unwrap(), Rounding::Ceil).unwrap();
    let btc_needed = btc_needed.mul_rate(Rate(Rate::UNIT + 1_000_000), Rounding::Ceil).unwrap();
    let btc = a.base_amount(o.legs[0].qty).unwrap();
    assert!(btc <= btc_needed && btc_needed.0 - btc.0 < Amount::parse("0.0001").unwrap().0);
    assert!(o.notional <= Amount::from_int(1000));
    assert!(o.edge > Rate::from_bps(300), "{:?}", o.edge);
    assert_legal(&rig, &o);

    // Reverse: USDT -> ETH at 2400 -> BTC at 0.05 -> USDT at 50000.
    let mut rig = Rig::new(only(&[OppKind::Triangular]));
    let opps = rig.feed(&[
        top(&a, MS, &[("50000", "1")], &[("50010", "1")]),
        top(&b, MS, &[("0.05", "10")], &[("0.0501", "10")]),
        top(&c, MS, &[("2399", "10")], &[("2400", "10")]),
    ]);
    assert_eq!(opps.len(), 1, "{:?}", rig.stats());
    let o = opps[0];
    assert_eq!(
        o.legs().iter().map(|l| (l.inst, l.side)).collect::<Vec<_>>(),
        vec![(c.id, Side::Buy), (b.id, Side::Sell), (a.id, Side::Sell)]
    );
    assert_eq!(o.legs[0].qty, o.legs[1].qty);
    assert_legal(&rig, &o);
}

#[test]
fn an_update_hands_its_first_opportunity_on_before_sizing_the_others() {
    let mut rig = Rig::new(DetectConfig {
        triangular: false,
        limit_slippage_bps: Bps::new(0),
        cooldown_ms: 0,
        ..DetectConfig::default()
    });
    let u = &rig.u;
    let (g, m, gp, mp) = (
        rig.inst(u.gate_btc).clone(),
        rig.inst(u.mexc_btc).clone(),
        rig.inst(u.gate_btc_perp).clone(),
        rig.inst(u.mexc_btc_perp).clone(),
    );
    let quiet = rig.feed(&[
        top(&m, MS, &[("50600", "1")], &[("50610", "1")]),
        top(&gp, MS, &[("50600", "1000")], &[("50610", "1000")]),
        top(&mp, MS, &[("50600", "1000")], &[("50610", "1000")]),
    ]);
    assert!(quiet.is_empty(), "{quiet:?}");
    // Gate.io's spot offered 1.2% below the others: a spot-spot and two basis
    // candidates pay on this one update.
    rig.books.push(top(&g, MS, &[("49990", "1")], &[("50000", "1")])).unwrap();
    assert!(rig.det.poll() > 0);
    let first = testkit::drain(&mut rig.out);
    assert_eq!(first.len(), 1, "the first opportunity leaves before the others are sized");
    let rest = rig.feed(&[]);
    assert_eq!(rest.len(), 2, "the next polls take up the update's other candidates: {rest:?}");
    assert!(rest.iter().all(|o| o.trigger_ns == first[0].trigger_ns && o.id > first[0].id));
    assert!(rig.feed(&[]).is_empty(), "each candidate once");
}

#[test]
fn stale_and_unsynced_books_are_never_used() {
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    let gate = top(&g, MS, &[("49990", "0.5")], &[("50000", "0.5")]);
    let mexc = |t| top(&m, t, &[("50600", "0.3")], &[("50610", "0.3")]);
    // The Gate quote is 101 ms old when the MEXC update arrives.
    assert!(rig.feed(&[gate, mexc(102 * MS)]).is_empty());
    assert!(rig.stats().refused_stale > 0);
    // Exactly at the bound it is used.
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    assert_eq!(rig.feed(&[gate, mexc(101 * MS)]).len(), 1);

    // An unsynced update invalidates the book until a synced one follows.
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    let opps = rig.feed(&[gate, BookTop::unsynced(g.id, 2 * MS), mexc(3 * MS)]);
    assert!(opps.is_empty());
    assert_eq!(rig.stats().unsynced_updates, 1);
    let mut synced_but_flagged = mexc(4 * MS);
    synced_but_flagged.synced = false;
    assert!(rig.feed(&[synced_but_flagged]).is_empty());
    assert_eq!(rig.feed(&[top(&g, 5 * MS, &[("49990", "0.5")], &[("50000", "0.5")]), mexc(5 * MS)]).len(), 1);
}

#[test]
fn unprofitable_and_too_small_opportunities_are_refused() {
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    // 0.08% apart: less than the 0.2% of fees.
    let opps = rig.feed(&[
        top(&g, MS, &[("49990", "0.5")], &[("50000", "0.5")]),
        top(&m, MS, &[("50040", "0.3")], &[("50050", "0.3")]),
    ]);
    assert!(opps.is_empty());
    assert!(rig.stats().refused_unprofitable >= 1);
    // Profitable, but the MEXC bid holds less than one Gate lot.
    let opps = rig.feed(&[top(&m, 2 * MS, &[("50600", "0.00005")], &[("50610", "0.3")])]);
    assert!(opps.is_empty());
    assert!(rig.stats().refused_no_depth >= 1, "{:?}", rig.stats());
}

#[test]
fn a_persisting_opportunity_is_emitted_once_per_cooldown() {
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    let gate = |t| top(&g, t, &[("49990", "0.5")], &[("50000", "0.5")]);
    let mexc = |t| top(&m, t, &[("50600", "0.3")], &[("50610", "0.3")]);
    let flat = |t| top(&m, t, &[("50000", "0.3")], &[("50010", "0.3")]);
    assert_eq!(rig.feed(&[gate(MS), mexc(MS)]).len(), 1);
    // Still there 50 ms later: a duplicate.
    assert!(rig.feed(&[gate(50 * MS), mexc(50 * MS)]).is_empty());
    assert_eq!(rig.stats().suppressed_duplicate, 2);
    // Gone, then back inside the cooldown: suppressed.
    assert!(rig.feed(&[flat(60 * MS)]).is_empty());
    assert!(rig.feed(&[mexc(70 * MS)]).is_empty());
    assert_eq!(rig.stats().suppressed_cooldown, 1);
    // After the cooldown (1 s) it goes out again.
    assert_eq!(rig.feed(&[gate(1002 * MS), mexc(1002 * MS)]).len(), 1);
    let s = rig.stats();
    assert_eq!(s.emitted[OppKind::SpotSpot.index()], 2);
    assert!(s.found[OppKind::SpotSpot.index()] >= 5);
}

#[test]
fn instruments_are_enabled_and_disabled_at_run_time() {
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    rig.control.push(DetectControl::Disable(m.id)).unwrap();
    let gate = |t| top(&g, t, &[("49990", "0.5")], &[("50000", "0.5")]);
    let mexc = |t| top(&m, t, &[("50600", "0.3")], &[("50610", "0.3")]);
    assert!(rig.feed(&[gate(MS), mexc(MS)]).is_empty());
    rig.control.push(DetectControl::Enable(m.id)).unwrap();
    rig.control.push(DetectControl::Enable(InstrumentId(999))).unwrap();
    assert_eq!(rig.feed(&[gate(2 * MS)]).len(), 1);
}

#[test]
fn a_standby_instrument_is_watched_but_not_traded_until_enabled() {
    let mut rig = Rig::new(only(&[OppKind::SpotSpot]));
    let (g, m) = (rig.inst(rig.u.gate_btc).clone(), rig.inst(rig.u.mexc_btc).clone());
    rig.det.disable(m.id);
    rig.det.disable(InstrumentId(999));
    let gate = |t| top(&g, t, &[("49990", "0.5")], &[("50000", "0.5")]);
    let mexc = |t| top(&m, t, &[("50600", "0.3")], &[("50610", "0.3")]);
    assert!(rig.feed(&[gate(MS), mexc(MS)]).is_empty());
    // Its book was followed while on standby: enabling it trades on the quotes it has.
    rig.control.push(DetectControl::Enable(m.id)).unwrap();
    assert_eq!(rig.feed(&[gate(2 * MS)]).len(), 1);
}

#[test]
fn unknown_instruments_and_a_full_output_ring_are_counted() {
    let u = testkit::universe();
    let (mut books, input) = testkit::ring(16);
    let (_control, control_rx) = testkit::ring(4);
    let (tx, _out) = testkit::ring(1);
    let mut det = Detector::new(
        &only(&[OppKind::SpotSpot]),
        u.instruments.clone(),
        input,
        control_rx,
        tx,
        Clock::mock().0,
        Arc::new(DetectStats::default()),
    )
    .unwrap();
    let (g, m, e) =
        (u.instruments.get(u.gate_btc), u.instruments.get(u.mexc_btc), u.instruments.get(u.gate_eth));
    let (me,) = (u.instruments.get(u.mexc_eth),);
    books.push(BookTop::unsynced(InstrumentId(500), 0)).unwrap();
    books.push(top(g, MS, &[("49990", "0.5")], &[("50000", "0.5")])).unwrap();
    books.push(top(m, MS, &[("50600", "0.3")], &[("50610", "0.3")])).unwrap();
    books.push(top(e, MS, &[("2499", "5")], &[("2500", "5")])).unwrap();
    books.push(top(me, MS, &[("2600", "5")], &[("2601", "5")])).unwrap();
    while det.poll() > 0 {}
    let s = det.stats().snapshot();
    assert_eq!(det.stats().unknown_instrument.get(), 1);
    assert_eq!(s.emitted[0], 1);
    assert_eq!(s.dropped_full, 1);
}

#[test]
fn config_reads_with_units_and_refuses_unknown_keys() {
    let c: DetectConfig = toml::from_str(
        r#"
        min_profit_bps = 7.5
        max_notional_usd = 2500
        max_data_age_ms = 50
        triangular = false
        [[reverse_basis]]
        venue = "mexc"
        asset = "BTC"
        max_base = "0.25"
        "#,
    )
    .unwrap();
    assert_eq!(c.min_profit_bps.rate(), Rate(750_000));
    assert_eq!(c.max_notional_usd.amount(), Amount::from_int(2500));
    assert_eq!(c.cooldown_ms, 1000);
    assert!(!c.triangular);
    assert_eq!(c.reverse_basis[0].max_base.amount(), Amount::parse("0.25").unwrap());
    assert!(toml::from_str::<DetectConfig>("min_profit = 5").is_err());
    let bad = DetectConfig {
        reverse_basis: vec![ReverseBasis {
            venue: Venue::Mexc,
            asset: "DOGE".into(),
            max_base: Exact(Amount::ONE),
        }],
        ..DetectConfig::default()
    };
    let u = testkit::universe();
    let err = Detector::new(
        &bad,
        u.instruments,
        testkit::ring(1).1,
        testkit::ring(1).1,
        testkit::ring(1).0,
        Clock::mock().0,
        Arc::default(),
    )
    .unwrap_err();
    assert_eq!(err, DetectConfigError::UnknownAsset("DOGE".into()));
}

fn arb_level(inst: crate::types::Instrument) -> impl Strategy<Value = Level> {
    // Mostly realistic prices around 50000 (or 0.05, 2500) on and off the tick, and
    // quantities from dust to large, with a few absurd values.
    let base = match inst.symbol.as_str() {
        "ETH_BTC" => 5 * 10i64.pow(inst.price_scale as u32 - 2),
        s if s.contains("ETH") => 2_500 * 10i64.pow(inst.price_scale as u32),
        _ => 50_000 * 10i64.pow(inst.price_scale as u32),
    };
    let price = prop_oneof![
        8 => base - base / 20..base + base / 20,
        1 => any::<i64>(),
        1 => Just(0i64),
    ];
    let scale = 10i64.pow(inst.qty_scale as u32);
    let q = prop_oneof![
        8 => 1i64..scale * 2,
        1 => 1i64..scale / 1000 + 2,
        1 => any::<i64>(),
    ];
    (price, q).prop_map(|(p, q)| Level { price: Price(p), qty: Qty(q) })
}

fn arb_top(inst: crate::types::Instrument) -> BoxedStrategy<BookTop> {
    let id = inst.id;
    (
        proptest::collection::vec(arb_level(inst.clone()), BOOK_DEPTH),
        proptest::collection::vec(arb_level(inst), BOOK_DEPTH),
        0u8..=7,
        0u8..=7,
        0u64..200 * MS,
        prop::bool::weighted(0.9),
        any::<bool>(),
    )
        .prop_map(move |(mut bids, mut asks, nb, na, t, synced, sorted)| {
            if sorted {
                bids.sort_by_key(|l| std::cmp::Reverse(l.price));
                asks.sort_by_key(|l| l.price);
            }
            let mut top = BookTop::unsynced(id, t);
            top.synced = synced;
            top.n_bids = nb;
            top.n_asks = na;
            top.bids.copy_from_slice(&bids);
            top.asks.copy_from_slice(&asks);
            top
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the books say, detection never panics, and every leg it emits respects
    /// its instrument, the edge and the notional cap.
    #[test]
    fn no_emitted_leg_ever_violates_its_instrument(
        tops in {
            let u = testkit::universe();
            let insts: Vec<_> = u.instruments.iter().cloned().collect();
            let strategies: Vec<_> = insts.into_iter().map(arb_top).collect();
            proptest::collection::vec(proptest::sample::select((0..7usize).collect::<Vec<_>>()), 1..40)
                .prop_flat_map(move |order| {
                    order.into_iter().map(|i| strategies[i].clone()).collect::<Vec<_>>()
                })
        },
        slip in 0i64..20,
    ) {
        let mut cfg = DetectConfig { cooldown_ms: 0, ..DetectConfig::default() };
        cfg.limit_slippage_bps = Bps::new(slip);
        let mut rig = Rig::new(cfg);
        let mut tops = tops;
        // Receive times only grow, as from one book stage.
        tops.sort_by_key(|t| t.recv_ns);
        for chunk in tops.chunks(8) {
            for o in rig.feed(chunk) {
                for leg in o.legs() {
                    let i = rig.inst(leg.inst);
                    prop_assert!(i.accepts(leg.price, leg.qty), "{leg:?} breaks {}", i.symbol);
                }
                prop_assert!(o.edge >= Rate::from_bps(5));
                prop_assert!(o.expected_profit.0 > 0);
                prop_assert!(o.notional <= Amount::from_int(1000));
                prop_assert!(o.trigger_ns - o.oldest_ns <= 100 * MS);
                if o.kind != OppKind::Triangular {
                    let (a, b) = (rig.inst(o.legs[0].inst), rig.inst(o.legs[1].inst));
                    prop_assert_eq!(a.base_amount(o.legs[0].qty), b.base_amount(o.legs[1].qty));
                }
            }
        }
    }
}

/// A buy book and a sell book that cross: asks rising from 50,000 and bids falling from
/// `top_bid`, each level a few dollars on and holding a few lattice steps.
fn crossing_books(
    g: &crate::types::Instrument,
    m: &crate::types::Instrument,
) -> impl Strategy<Value = (BookTop, BookTop)> + use<> {
    let (g, m) = (g.clone(), m.clone());
    let side = || proptest::collection::vec((1i64..40, 1i64..60), BOOK_DEPTH);
    (side(), side(), 49_800i64..50_600).prop_map(move |(asks, bids, top_bid)| {
        let levels = |inst: &crate::types::Instrument, from: i64, dir: i64, l: &[(i64, i64)]| {
            let mut price = from;
            l.iter()
                .map(|&(step, lots)| {
                    price += dir * step;
                    Level {
                        price: Price(price * 10i64.pow(u32::from(inst.price_scale))),
                        qty: Qty(lots * 10i64.pow(u32::from(inst.qty_scale)) / 10_000),
                    }
                })
                .collect::<Vec<_>>()
        };
        let (mut buy, mut sell) = (BookTop::unsynced(g.id, MS), BookTop::unsynced(m.id, MS));
        buy.synced = true;
        sell.synced = true;
        buy.asks.copy_from_slice(&levels(&g, 49_990, 1, &asks));
        sell.bids.copy_from_slice(&levels(&m, top_bid + 10, -1, &bids));
        (buy.n_asks, sell.n_bids) = (BOOK_DEPTH as u8, BOOK_DEPTH as u8);
        (buy, sell)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The size found is the largest that pays, by a plain evaluation of every larger
    /// size up to the book's depth.
    #[test]
    fn sizing_finds_the_largest_paying_size(
        (buy, sell) in {
            let u = testkit::universe();
            crossing_books(u.instruments.get(u.gate_btc), u.instruments.get(u.mexc_btc))
        },
        edge_bps in 1i64..40,
        cap_usd in 20i64..2_000,
    ) {
        let u = testkit::universe();
        let (g, m) = (u.instruments.get(u.gate_btc), u.instruments.get(u.mexc_btc));
        let p = Params {
            min_edge: Rate::from_bps(edge_bps),
            max_notional: Amount::from_int(cap_usd),
            slippage: Rate::ZERO,
            edge_share_pct: 50,
        };
        let lattice = Amount::parse("0.0001").unwrap();
        let sized = size_pair(Quote { inst: g, top: &buy }, Quote { inst: m, top: &sell }, lattice, None, &p);
        let Ok(sized) = sized else { return Ok(()) };
        let n = g.base_amount(sized.legs[0].qty).unwrap().0 / lattice.0;
        prop_assert!(pays_at(g, m, &buy, &sell, n * lattice.0, &p));
        let depth = g.base_amount(Qty(buy.asks.iter().map(|l| l.qty.0).sum())).unwrap().0 / lattice.0;
        for k in n + 1..=depth {
            prop_assert!(!pays_at(g, m, &buy, &sell, k * lattice.0, &p), "{} steps pay, {} found", k, n);
        }
    }
}

/// Whether buying `base` units from `buy`'s asks and selling them into `sell`'s bids
/// pays under `p`: the sizing rule written out plainly, level by level.
fn pays_at(
    g: &crate::types::Instrument,
    m: &crate::types::Instrument,
    buy: &BookTop,
    sell: &BookTop,
    base: i128,
    p: &Params,
) -> bool {
    let walk = |inst: &crate::types::Instrument, levels: &[Level], rounding: Rounding| {
        let mut left = inst.qty_for_base(Amount(base), Rounding::Floor)?.0;
        let mut value = Amount::ZERO;
        for l in levels {
            let take = left.min(l.qty.0);
            value = value.checked_add(inst.notional(l.price, Qty(take), rounding)?)?;
            left -= take;
        }
        (left == 0).then_some(value)
    };
    let (Some(cost), Some(proceeds)) =
        (walk(g, buy.asks(), Rounding::Ceil), walk(m, sell.bids(), Rounding::Floor))
    else {
        return false;
    };
    let fee = |v: Amount, rate: Rate| v.mul_rate(rate, Rounding::Ceil).unwrap();
    let profit = Amount(proceeds.0 - fee(proceeds, m.taker_fee).0 - cost.0 - fee(cost, g.taker_fee).0);
    let notional = cost.max(proceeds);
    profit.0 > 0
        && notional <= p.max_notional
        && profit.ratio(notional, Rounding::Floor).unwrap() >= p.min_edge
}

#[test]
fn an_overflowing_book_ring_invalidates_every_book() {
    let u = testkit::universe();
    let (mut books, input) = testkit::ring_with(2, crate::runtime::Backpressure::DropAndCount, Clock::new());
    let (_control, control_rx) = testkit::ring(4);
    let (tx, mut out) = testkit::ring(16);
    let mut det = Detector::new(
        &only(&[OppKind::SpotSpot]),
        u.instruments.clone(),
        input,
        control_rx,
        tx,
        Clock::mock().0,
        Arc::new(DetectStats::default()),
    )
    .unwrap();
    let (g, m) = (u.instruments.get(u.gate_btc), u.instruments.get(u.mexc_btc));
    books.push(top(g, MS, &[("49990", "0.5")], &[("50000", "0.5")])).unwrap();
    det.poll();
    // Three updates into a ring of two: the third (Gate going unsynced) is dropped.
    books.push(top(m, 2 * MS, &[("50000", "0.3")], &[("50010", "0.3")])).unwrap();
    books.push(top(m, 3 * MS, &[("50000", "0.3")], &[("50010", "0.3")])).unwrap();
    books.push(BookTop::unsynced(g.id, 4 * MS)).unwrap();
    det.poll();
    assert_eq!(det.stats().input_overflows.get(), 1);
    // A profitable MEXC update must not use Gate's last synced top.
    books.push(top(m, 5 * MS, &[("50600", "0.3")], &[("50610", "0.3")])).unwrap();
    det.poll();
    assert!(testkit::drain(&mut out).is_empty());
}

#[test]
fn instruments_added_while_running_bring_their_candidates_and_removed_ones_stop() {
    use crate::types::Market::Spot;
    use crate::types::Venue::{GateIo, Mexc};
    let spec = testkit::spec;
    let mut t = Instruments::from_specs(&[
        spec(GateIo, Spot, "BTC_USDT", "BTC", "USDT", "0.1", "0.0001", "3", "1", "0.001"),
        spec(Mexc, Spot, "BTCUSDT", "BTC", "USDT", "0.01", "0.000001", "1", "1", "0.001"),
        spec(GateIo, Spot, "ETH_USDT", "ETH", "USDT", "0.01", "0.001", "3", "1", "0.001"),
    ])
    .unwrap();
    t.reserve(8, t.asset_count());
    let t = Arc::new(t);
    let (_books, input) = testkit::ring(16);
    let (mut control, control_rx) = testkit::ring(16);
    let (tx, _out) = testkit::ring(16);
    let mut det = Detector::new(
        &DetectConfig::default(),
        t.clone(),
        input,
        control_rx,
        tx,
        Clock::mock().0,
        Arc::new(DetectStats::default()),
    )
    .unwrap();
    assert_eq!(det.candidate_counts(), [2, 0, 0, 0], "BTC spot-spot both ways");
    // ETH/BTC on Gate, appended to the shared table while running: two triangles.
    let eth_btc = t
        .append(&spec(GateIo, Spot, "ETH_BTC", "ETH", "BTC", "0.00001", "0.001", "0.0001", "1", "0.001"))
        .unwrap();
    control.push(DetectControl::Added).unwrap();
    while det.poll() > 0 {}
    assert_eq!(det.candidate_counts(), [2, 0, 2, 0]);
    assert!(det.core.enabled[eth_btc.index()], "traded once added");
    assert_eq!(det.core.by_inst[eth_btc.index()].len(), 2, "indexed by the new instrument");
    // Told again: nothing taken twice.
    control.push(DetectControl::Added).unwrap();
    while det.poll() > 0 {}
    assert_eq!(det.candidate_counts(), [2, 0, 2, 0]);
    control.push(DetectControl::Removed(eth_btc)).unwrap();
    while det.poll() > 0 {}
    assert!(!det.core.enabled[eth_btc.index()], "never traded once removed");
}
