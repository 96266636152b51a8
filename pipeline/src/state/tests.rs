//! State stage tests: the operation state machine, recovery, reconciliation, the kill
//! switch, and replay of the journal it writes.

use std::path::PathBuf;

use proptest::prelude::*;
use quanta::Mock;

use super::operations::NO_OPPORTUNITY;
use super::*;
use crate::journal::tests::scratch;
use crate::journal::{JournalKind, replay};
use crate::msg::{BalanceEvent, Leg, VenueOrderId};
use crate::testkit::{self, Universe, px, qty, top};
use crate::types::{Price, Rounding};

const MS: u64 = 1_000_000;

fn wall() -> u64 {
    1_700_000_000_000
}

struct Rig {
    s: StateKeeper,
    inputs: Tx<StateInput>,
    books: Tx<BookTop>,
    control: Tx<StateControl>,
    commands: Rx<Command>,
    risk: Rx<RiskUpdate>,
    alerts: Rx<Alert>,
    runtime: Arc<Control>,
    mock: Arc<Mock>,
    dir: PathBuf,
    u: Universe,
    sent: Vec<Command>,
    updates: Vec<RiskUpdate>,
    keep: bool,
}

impl Rig {
    fn new() -> Self {
        let mut r = Self::open(scratch("state"), None);
        r.sent.clear();
        r
    }

    fn open(dir: PathBuf, replay: Option<&Replay>) -> Self {
        Self::open_with(dir, replay, &StateConfig::default())
    }

    fn open_with(dir: PathBuf, replay: Option<&Replay>, cfg: &StateConfig) -> Self {
        Self::open_full(dir, replay, cfg, wall, 0)
    }

    /// A rig started `later_ms` after the others (a restart on the same monotonic clock).
    fn open_later(dir: PathBuf, replay: Option<&Replay>, later_ms: u64) -> Self {
        Self::start_at(dir, replay, &StateConfig::default(), wall, 0, 10_000 + later_ms)
    }

    /// A rig whose wall clock is `wall_ms` and whose trading day rolls at `roll_hour` UTC.
    fn open_full(
        dir: PathBuf,
        replay: Option<&Replay>,
        cfg: &StateConfig,
        wall_ms: fn() -> u64,
        roll_hour: u8,
    ) -> Self {
        Self::start_at(dir, replay, cfg, wall_ms, roll_hour, 10_000)
    }

    fn start_at(
        dir: PathBuf,
        replay: Option<&Replay>,
        cfg: &StateConfig,
        wall_ms: fn() -> u64,
        roll_hour: u8,
        start_ms: u64,
    ) -> Self {
        let u = testkit::universe();
        let (clock, mock) = Clock::mock();
        mock.increment(start_ms * MS);
        let (inputs, in_rx) = testkit::ring(256);
        let (books, books_rx) = testkit::ring(64);
        let (control, ctl_rx) = testkit::ring(8);
        let (cmd_tx, commands) = testkit::ring(256);
        let (risk_tx, risk) = testkit::ring(1024);
        let (alert_tx, alerts) = testkit::ring(64);
        let runtime = Control::new();
        let (journal, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
        let rings = StateRings {
            inputs: in_rx,
            books: books_rx,
            control: ctl_rx,
            commands: cmd_tx,
            risk: risk_tx,
            alerts: alert_tx,
        };
        let s = StateKeeper::new(
            cfg,
            u.instruments.clone(),
            rings,
            journal,
            runtime.clone(),
            clock,
            replay,
            Arc::default(),
        )
        .unwrap()
        .with_wall_clock(wall_ms)
        .with_day_roll_hour(roll_hour);
        let mut rig = Self {
            s,
            inputs,
            books,
            control,
            commands,
            risk,
            alerts,
            runtime,
            mock,
            dir,
            u,
            sent: Vec::new(),
            updates: Vec::new(),
            keep: false,
        };
        rig.run();
        rig
    }

    fn now(&self) -> u64 {
        now_ns(&self.s.clock)
    }

    fn inst(&self, id: InstrumentId) -> Instrument {
        self.u.instruments.get(id).clone()
    }

    /// Books: Gate BTC 49990/50000, MEXC BTC `mexc_bid`/50510.
    fn books(&mut self, gate_bid: &str, mexc_bid: &str) {
        let (g, m) = (self.inst(self.u.gate_btc), self.inst(self.u.mexc_btc));
        let now = self.now();
        self.books.push(top(&g, now, &[(gate_bid, "1")], &[("50000", "1")])).unwrap();
        self.books.push(top(&m, now, &[(mexc_bid, "1")], &[("50510", "1")])).unwrap();
        self.run();
    }

    fn run(&mut self) {
        for _ in 0..4 {
            self.s.poll();
        }
        self.sent.extend(testkit::drain(&mut self.commands));
        self.updates.extend(testkit::drain(&mut self.risk));
    }

    fn advance(&mut self, ms: u64) {
        self.mock.increment(ms * MS);
        self.run();
    }

    /// Spot-spot: buy 0.01 BTC on Gate at 50000, sell 0.01 on MEXC at 50500.
    fn exec(&self, op: u64) -> Execution {
        let (g, m) = (self.inst(self.u.gate_btc), self.inst(self.u.mexc_btc));
        let mut opp = NO_OPPORTUNITY;
        opp.n_legs = 2;
        opp.legs[0] = Leg { inst: g.id, side: Side::Buy, price: px(&g, "50000"), qty: qty(&g, "0.01") };
        opp.legs[1] = Leg { inst: m.id, side: Side::Sell, price: px(&m, "50500"), qty: qty(&m, "0.01") };
        opp.notional = Amount::from_int(505);
        Execution::new(op, opp, self.now(), self.now() + 2_000 * MS)
    }

    fn push(&mut self, i: StateInput) {
        self.inputs.push(i).unwrap();
    }

    fn start(&mut self, op: u64) -> Execution {
        let e = self.exec(op);
        self.push(StateInput::Executing(e));
        for leg in 0..2 {
            self.order(op, leg, 0, OrderUpdate::Sent);
        }
        self.run();
        e
    }

    fn order(&mut self, op: u64, leg: u8, attempt: u8, update: OrderUpdate) {
        let e = self.exec(op);
        let l = e.opp().legs[leg as usize];
        let side = if attempt > 0 && self.is_unwind(op, leg, attempt) { l.side.opposite() } else { l.side };
        let ts_ns = self.now();
        self.push(StateInput::Order(OrderEvent {
            client: ClientOrderId { op, leg, attempt },
            inst: l.inst,
            side,
            update,
            venue_order: VenueOrderId::new("v1").unwrap(),
            ts_ns,
        }));
    }

    fn is_unwind(&self, op: u64, leg: u8, attempt: u8) -> bool {
        self.sent.iter().any(|c| matches!(c, Command::Send { client, leg: l }
            if *client == (ClientOrderId { op, leg, attempt }) && l.side != self.exec(op).opp().legs[leg as usize].side))
    }

    fn fill(&self, inst: InstrumentId, price: &str, q: &str, cum: &str) -> OrderUpdate {
        let i = self.inst(inst);
        let value = i.notional(px(&i, price), qty(&i, q), Rounding::Floor).unwrap();
        OrderUpdate::Fill {
            price: px(&i, price),
            qty: qty(&i, q),
            cum_qty: qty(&i, cum),
            fee: value.mul_rate(i.taker_fee, Rounding::Ceil).unwrap(),
            fee_asset: i.quote,
            trade_id: 1,
        }
    }

    fn done(&self, inst: InstrumentId, q: &str) -> OrderUpdate {
        OrderUpdate::Done { filled: qty(&self.inst(inst), q) }
    }

    /// One fill of the order's whole quantity `q` at `price`, then its end.
    fn fill_whole(&mut self, op: u64, leg: u8, attempt: u8, inst: InstrumentId, price: &str, q: &str) {
        let f = self.fill(inst, price, q, q);
        self.order(op, leg, attempt, f);
        let d = self.done(inst, q);
        self.order(op, leg, attempt, d);
    }

    fn recovery_orders(&self) -> Vec<(ClientOrderId, Leg)> {
        self.sent
            .iter()
            .filter_map(|c| match c {
                Command::Send { client, leg } => Some((*client, *leg)),
                _ => None,
            })
            .collect()
    }

    fn done_updates(&self) -> Vec<(u64, bool, Amount)> {
        self.updates
            .iter()
            .filter_map(|u| match u {
                RiskUpdate::OperationDone { op, success, realized_pnl } => {
                    Some((*op, *success, *realized_pnl))
                }
                _ => None,
            })
            .collect()
    }

    fn journal(&mut self) -> Vec<Record> {
        self.s.journal.sync().unwrap();
        crate::journal::read_file(&self.dir.join("state.journal")).unwrap().records().copied().collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn cid(op: u64, leg: u8, attempt: u8) -> ClientOrderId {
    ClientOrderId { op, leg, attempt }
}

#[test]
fn a_clean_two_leg_operation_completes() {
    let mut r = Rig::new();
    r.books("49990", "50500");
    let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
    r.start(1);
    assert_eq!(r.s.phase(1), Some(OpPhase::Executing));
    r.order(1, 0, 0, OrderUpdate::Accepted);
    r.order(1, 1, 0, OrderUpdate::Accepted);
    r.run();
    assert_eq!(r.s.order_state(cid(1, 0, 0)), Some(OrderState::Accepted));
    let f0 = r.fill(g, "50000", "0.004", "0.004");
    r.order(1, 0, 0, f0);
    r.run();
    assert_eq!(r.s.order_state(cid(1, 0, 0)), Some(OrderState::PartiallyFilled));
    let f0 = r.fill(g, "50000", "0.006", "0.01");
    r.order(1, 0, 0, f0);
    let d0 = r.done(g, "0.01");
    r.order(1, 0, 0, d0);
    let f1 = r.fill(m, "50500", "0.01", "0.01");
    r.order(1, 1, 0, f1);
    let d1 = r.done(m, "0.01");
    r.order(1, 1, 0, d1);
    r.run();
    assert_eq!(r.s.order_state(cid(1, 0, 0)), Some(OrderState::Filled));
    assert_eq!(r.s.phase(1), Some(OpPhase::Completed));
    // 505 - 500 - fees (0.505 + 0.5).
    let pnl = Amount::parse("3.995").unwrap();
    assert_eq!(r.done_updates(), vec![(1, true, pnl)]);
    assert_eq!(r.s.realized_pnl(), pnl);
    assert!(r.updates.contains(&RiskUpdate::DailyPnl { realized: pnl }));
    assert_eq!(r.s.position(g), qty(&r.inst(g), "0.01"));
    assert_eq!(r.s.position(m), Qty(-qty(&r.inst(m), "0.01").0));
    assert!(r.recovery_orders().is_empty());
    // Both orders acknowledged: latency went to risk.
    assert_eq!(r.updates.iter().filter(|u| matches!(u, RiskUpdate::OrderLatency { .. })).count(), 2);
    let s = r.s.stats().snapshot();
    assert_eq!(s.ops_completed, [1, 0, 0, 0]);
    assert_eq!(s.fills_applied, 3);
    let q = s.quality;
    assert_eq!((q.finished, q.as_planned, q.needed_recovery, q.profitable), (1, 1, 0, 1));
    assert_eq!((q.execution_success(), q.recovery_success()), (Some(1.0), None));
    assert_eq!(q.timed, 1, "approval to close is timed");
    assert_eq!((q.round_trips, q.round_trips_flat), (1, 1), "a spot-spot round trip ends flat");
    let kinds: Vec<_> = r.journal().iter().map(|x| x.kind()).collect();
    use crate::journal::RecordKind as K;
    assert_eq!(kinds.iter().filter(|k| **k == K::FillApplied).count(), 3);
    assert_eq!(kinds[0], K::OpStarted);
    assert!(kinds.contains(&K::OpFinished));
}

#[test]
fn a_rejected_leg_is_unwound_when_the_hedge_is_beyond_the_slippage_bound() {
    let mut r = Rig::new();
    // MEXC's bid fell to 50000: completing the sell there is 1% worse than planned.
    r.books("49990", "50000");
    let g = r.u.gate_btc;
    r.start(2);
    r.fill_whole(2, 0, 0, g, "50000", "0.01");
    r.order(2, 1, 0, OrderUpdate::Rejected(RejectReason::InsufficientBalance));
    r.run();
    let gi = r.inst(g);
    // Unwind: sell the 0.01 BTC back on Gate at 49990 * (1 - 0.5%) rounded up to the tick.
    assert_eq!(
        r.recovery_orders(),
        vec![(
            cid(2, 0, 1),
            Leg { inst: g, side: Side::Sell, price: px(&gi, "49740.1"), qty: qty(&gi, "0.01") }
        )]
    );
    assert_eq!(r.s.phase(2), Some(OpPhase::Recovering));
    r.order(2, 0, 1, OrderUpdate::Sent);
    r.fill_whole(2, 0, 1, g, "49990", "0.01");
    r.run();
    assert_eq!(r.s.phase(2), Some(OpPhase::Failed));
    assert_eq!(r.s.position(g), Qty::ZERO);
    // Bought at 50000, sold at 49990, two fees: -0.1 - 0.5 - 0.4999.
    assert_eq!(r.done_updates(), vec![(2, false, Amount::parse("-1.0999").unwrap())]);
    let s = r.s.stats().snapshot();
    assert_eq!((s.recoveries, s.unwind_orders, s.ops_failed[0]), (1, 1, 1));
    // Not as planned, but recovery left it balanced (unwound, at a loss).
    let q = s.quality;
    assert_eq!((q.finished, q.as_planned, q.needed_recovery, q.recovered_balanced), (1, 0, 1, 1));
    assert_eq!((q.succeeded, q.profitable), (0, 0));
    assert_eq!((q.round_trips, q.round_trips_flat), (1, 1), "unwound: flat");
}

#[test]
fn a_partial_fill_is_hedged_when_completing_is_cheaper() {
    let mut r = Rig::new();
    // Unwinding on Gate would sell at 49900, 20 bps below the buy; completing on MEXC
    // sells 0.006 at 50480, 4 bps below plan: cheaper.
    r.books("49900", "50480");
    let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
    r.start(3);
    r.fill_whole(3, 0, 0, g, "50000", "0.01");
    r.fill_whole(3, 1, 0, m, "50500", "0.004");
    r.run();
    let mi = r.inst(m);
    // Sell the missing 0.006 on MEXC with a limit 20 bps under the planned 50500.
    assert_eq!(
        r.recovery_orders(),
        vec![(
            cid(3, 1, 1),
            Leg { inst: m, side: Side::Sell, price: px(&mi, "50399"), qty: qty(&mi, "0.006") }
        )]
    );
    r.fill_whole(3, 1, 1, m, "50480", "0.006");
    r.run();
    assert_eq!(r.s.phase(3), Some(OpPhase::Completed));
    assert_eq!(r.s.position(m), Qty(-qty(&mi, "0.01").0));
    let s = r.s.stats().snapshot();
    assert_eq!((s.recoveries, s.hedge_orders, s.ops_completed[0]), (1, 1, 1));
    // 0.004*50500 + 0.006*50480 - 500 - fees(0.5 + 0.202 + 0.30288)
    assert_eq!(r.done_updates(), vec![(3, true, Amount::parse("3.87512").unwrap())]);
}

#[test]
fn recovery_picks_the_plan_that_leaves_the_operation_more() {
    // The buy filled on Gate at 50000; the MEXC sell was rejected. MEXC now bids 50420
    // (completing is within the 20 bps bound), but Gate's own bid rose to 50450: selling
    // back there pays more than completing, so the leg is unwound.
    let mut r = Rig::new();
    let (g, m) = (r.inst(r.u.gate_btc), r.inst(r.u.mexc_btc));
    let now = r.now();
    r.books.push(top(&g, now, &[("50450", "1")], &[("50460", "1")])).unwrap();
    r.books.push(top(&m, now, &[("50420", "1")], &[("50430", "1")])).unwrap();
    r.run();
    r.start(11);
    r.fill_whole(11, 0, 0, g.id, "50000", "0.01");
    r.order(11, 1, 0, OrderUpdate::Rejected(RejectReason::Other));
    r.run();
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 1);
    assert_eq!((rec[0].1.inst, rec[0].1.side), (g.id, Side::Sell), "unwound on Gate");

    // With Gate's bid back at 49990, completing on MEXC at 50420 is better.
    let mut r = Rig::new();
    r.books("49990", "50420");
    r.start(12);
    r.fill_whole(12, 0, 0, g.id, "50000", "0.01");
    r.order(12, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.run();
    let rec = r.recovery_orders();
    assert_eq!((rec[0].1.inst, rec[0].1.side), (m.id, Side::Sell), "hedge completed on MEXC");

    // The same books, but MEXC refused the sell on its merits (say, no balance): sending
    // it again would be refused again, so the leg is unwound on Gate.
    let mut r = Rig::new();
    r.books("49990", "50420");
    r.start(13);
    r.fill_whole(13, 0, 0, g.id, "50000", "0.01");
    r.order(13, 1, 0, OrderUpdate::Rejected(RejectReason::InsufficientBalance));
    r.run();
    let rec = r.recovery_orders();
    assert_eq!((rec[0].1.inst, rec[0].1.side), (g.id, Side::Sell), "unwound on Gate");
}

#[test]
fn a_leg_that_times_out_is_queried_then_unwound_after_the_deadline() {
    let mut r = Rig::new();
    r.books("49990", "50500");
    let g = r.u.gate_btc;
    r.start(4);
    r.fill_whole(4, 0, 0, g, "50000", "0.01");
    r.run();
    assert!(r.recovery_orders().is_empty(), "the other leg's outcome is not known yet");
    // No answer for the MEXC leg within the ack timeout: unknown, queried, never resent.
    r.advance(2_001);
    assert_eq!(r.s.order_state(cid(4, 1, 0)), Some(OrderState::Unknown));
    assert!(r.sent.contains(&Command::Query { client: cid(4, 1, 0), inst: r.u.mexc_btc }));
    assert!(r.updates.contains(&RiskUpdate::Reconciling { pending: 1 }));
    let kinds: Vec<_> = testkit::drain(&mut r.alerts).into_iter().map(|a| a.kind).collect();
    assert!(kinds.contains(&AlertKind::UnknownOrder), "{kinds:?}");
    assert!(kinds.contains(&AlertKind::DeadlineMissed), "{kinds:?}");
    // Queried again a second later while unanswered.
    r.advance(1_000);
    assert_eq!(r.sent.iter().filter(|c| matches!(c, Command::Query { .. })).count(), 2);
    // The venue never saw it. Past the deadline, the filled leg is unwound.
    r.books("49990", "50500");
    r.order(4, 1, 0, OrderUpdate::Rejected(RejectReason::NotFound));
    r.run();
    assert!(r.updates.contains(&RiskUpdate::Reconciling { pending: 0 }));
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 1);
    assert_eq!((rec[0].0, rec[0].1.side), (cid(4, 0, 1), Side::Sell));
    assert_eq!(r.s.stats().snapshot().deadlines_missed, 1);
}

#[test]
fn past_the_deadline_an_unwind_waits_a_bounded_time_for_a_fresh_book() {
    // Gate's leg filled, MEXC's did not, and both feeds went quiet (a reconnect): the
    // unwind cannot be priced. The operation waits for a book instead of escalating...
    let mut r = Rig::new();
    r.books("49990", "50500");
    let g = r.u.gate_btc;
    r.start(8);
    r.fill_whole(8, 0, 0, g, "50000", "0.01");
    r.order(8, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.advance(5_000);
    assert!(r.recovery_orders().is_empty(), "nothing to price an unwind with");
    assert_eq!(r.s.phase(8), Some(OpPhase::Recovering));
    assert_eq!(r.s.stats().snapshot().escalations, 0);
    // ...and unwinds as soon as the feed is back.
    r.books("49990", "50500");
    r.advance(100);
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 1);
    assert_eq!((rec[0].0, rec[0].1.side), (cid(8, 0, 1), Side::Sell));

    // A book that never comes back: an operator is called once the wait is over.
    let mut r = Rig::new();
    r.books("49990", "50500");
    r.start(9);
    r.fill_whole(9, 0, 0, g, "50000", "0.01");
    r.order(9, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.advance(20_000);
    assert_eq!(r.s.phase(9), Some(OpPhase::Recovering));
    r.advance(StateConfig::default().max_unpriced_wait_ms);
    assert_eq!(r.s.phase(9), Some(OpPhase::AwaitingOperator));
    assert!(r.recovery_orders().is_empty());
    assert!(
        testkit::drain(&mut r.alerts).iter().any(|a| a.kind == AlertKind::RecoveryExhausted && a.op == 9)
    );
}

#[test]
fn past_the_deadline_feeds_that_keep_coming_back_keep_the_unwind_going() {
    // The soak's feeds drop every few seconds. An unwind refused by the rate limiter is
    // priced again and again while the books come and go; the wait for a fresh book runs
    // from the last time one priced it, not from the deadline.
    let mut r = Rig::new();
    r.books("49990", "50500");
    let g = r.u.gate_btc;
    r.start(11);
    r.fill_whole(11, 0, 0, g, "50000", "0.01");
    r.order(11, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    // No book until 20 s after the deadline, then one: the unwind goes out, is refused in
    // passing, and the books go quiet again.
    r.advance(25_000);
    r.books("49990", "50500");
    r.advance(100);
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 1);
    r.order(11, 0, 1, OrderUpdate::Rejected(RejectReason::RateLimited));
    r.run();
    // 35 s after the deadline and no fresh book: more than the 30 s wait since the
    // deadline, but not since the unwind was last priced.
    r.advance(15_000);
    assert_eq!(r.s.phase(11), Some(OpPhase::Recovering));
    assert_eq!(r.s.stats().snapshot().escalations, 0);
    // The books come back: the unwind goes out again and fills.
    r.books("49990", "50500");
    r.advance(100);
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 2, "{rec:?}");
    r.fill_whole(11, 0, 2, g, "49990", "0.01");
    r.run();
    assert_eq!(r.s.phase(11), Some(OpPhase::Failed), "unwound, not handed to an operator");
    assert_eq!(r.s.position(g), Qty::ZERO);
}

#[test]
fn positions_stay_marked_while_a_book_resyncs() {
    // Gate's leg fills with every book synced; then Gate's book (the one BTC is marked
    // by) drops out of sync, and MEXC's leg fills. Both positions are still valued at
    // the last known BTC price, so the hedged pair nets to nothing in the risk gate.
    let mut r = Rig::new();
    r.books("49990", "50500");
    let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
    r.start(10);
    let f = r.fill(g, "50000", "0.01", "0.01");
    r.order(10, 0, 0, f);
    r.run();
    r.books.push(BookTop::unsynced(g, r.now())).unwrap();
    r.run();
    let f = r.fill(m, "50500", "0.01", "0.01");
    r.order(10, 1, 0, f);
    r.advance(1_100);
    let exposure = |id| {
        r.updates
            .iter()
            .rev()
            .find_map(|u| match u {
                RiskUpdate::Position { inst, exposure, .. } if *inst == id => Some(*exposure),
                _ => None,
            })
            .unwrap()
    };
    let (eg, em) = (exposure(g), exposure(m));
    assert!(eg > Amount::from_int(400) && em < Amount::from_int(-400), "{eg} {em}");
    assert_eq!(eg.saturating_add(em), Amount::ZERO, "one mark per asset");
}

#[test]
fn an_unknown_outcome_is_reconciled_by_query_never_resent() {
    let mut r = Rig::new();
    r.books("49990", "50500");
    let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
    r.start(5);
    r.fill_whole(5, 0, 0, g, "50000", "0.01");
    r.order(5, 1, 0, OrderUpdate::Unknown);
    r.run();
    assert_eq!(r.sent, vec![Command::Query { client: cid(5, 1, 0), inst: m }]);
    // The query says it filled completely.
    let mi = r.inst(m);
    let status = OrderUpdate::Status {
        filled: qty(&mi, "0.01"),
        value: Amount::from_int(505),
        fee: Amount::parse("0.505").unwrap(),
        fee_asset: mi.quote,
        open: false,
    };
    r.order(5, 1, 0, status);
    // The private stream's copy of the same fill arrives late: applied once.
    let f = r.fill(m, "50500", "0.01", "0.01");
    r.order(5, 1, 0, f);
    r.run();
    assert_eq!(r.s.phase(5), Some(OpPhase::Completed));
    assert!(r.recovery_orders().is_empty());
    assert_eq!(r.s.position(m), Qty(-qty(&mi, "0.01").0));
    assert_eq!(r.done_updates(), vec![(5, true, Amount::parse("3.995").unwrap())]);
    assert_eq!(r.s.stats().snapshot().duplicate_fills, 1);
}

#[test]
fn the_kill_switch_cancels_everything_and_stops_recovery() {
    let mut r = Rig::new();
    r.books("49990", "50000");
    let g = r.u.gate_btc;
    r.start(6);
    r.control.push(StateControl::KillSwitch).unwrap();
    r.run();
    assert!(r.sent.contains(&Command::CancelAll));
    assert!(r.updates.contains(&RiskUpdate::Halt));
    assert!(r.s.stats().snapshot().killed);
    // A naked leg under the kill switch waits for an operator instead of trading.
    r.fill_whole(6, 0, 0, g, "50000", "0.01");
    r.order(6, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.run();
    assert!(r.recovery_orders().is_empty());
    assert_eq!(r.s.phase(6), Some(OpPhase::AwaitingOperator));
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: g, halted: true }));
    assert_eq!(r.s.stats().snapshot().awaiting_operator, [6], "listed for the operator");
    assert_eq!(r.s.stats().snapshot().open_ops, [6]);
    // The operator abandons it: the operation ends, and its instruments are no longer
    // halted (nothing is left to approve), in the journal too.
    r.control.push(StateControl::Abandon { op: 6 }).unwrap();
    r.run();
    assert_eq!(r.s.phase(6), Some(OpPhase::Failed));
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: g, halted: false }));
    assert!(
        r.journal()
            .iter()
            .any(|rec| matches!(rec, Record::InstrumentHalt { inst, halted: false, .. } if *inst == g))
    );
    assert_eq!(r.s.stats().snapshot().awaiting_operator, Vec::<u64>::new());
    assert_eq!(r.s.stats().snapshot().open_ops, Vec::<u64>::new());

    // The runtime's halt flag does the same.
    let mut r = Rig::new();
    r.runtime.halt("test");
    r.advance(2);
    assert!(r.sent.contains(&Command::CancelAll));
    assert!(r.updates.contains(&RiskUpdate::Halt));
}

#[test]
fn the_kill_switch_is_journaled_survives_a_restart_and_only_an_operator_lifts_it() {
    let dir = scratch("state-kill");
    let g;
    {
        let mut r = Rig::open(dir.clone(), None);
        r.books("49990", "50000");
        g = r.u.gate_btc;
        // An operation with a naked leg is open when the operator throws the switch.
        r.start(3);
        let f = r.fill(g, "50000", "0.01", "0.01");
        r.order(3, 0, 0, f);
        r.control.push(StateControl::KillSwitch).unwrap();
        r.run();
        assert!(r.journal().contains(&Record::KillSwitch { on: true, operator: true, wall_ms: wall() }));
        r.keep = true;
        // A crash: no orderly stop.
    }
    let rep = replay(&dir).unwrap();
    assert_eq!(rep.kill_switch, Some(crate::journal::KillSwitch { operator: true, wall_ms: wall() }));
    let mut r = Rig::open(dir.clone(), Some(&rep));
    r.keep = true;
    assert!(r.s.stats().snapshot().killed, "still killed after the restart");
    assert!(r.sent.contains(&Command::CancelAll));
    assert!(r.updates.contains(&RiskUpdate::Halt));
    let alerts = testkit::drain(&mut r.alerts);
    assert!(
        alerts.iter().any(|a| a.kind == AlertKind::Halted && a.value == crate::msg::HALT_RESTORED_OPERATOR),
        "{alerts:?}"
    );
    // The open operation's naked leg waits for an operator instead of being traded.
    r.books("49990", "50000");
    r.order(3, 0, 0, OrderUpdate::Done { filled: qty(&r.inst(g), "0.01") });
    r.order(3, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.advance(5);
    assert!(r.recovery_orders().is_empty(), "no order under a restored kill switch: {:?}", r.sent);
    assert_eq!(r.s.phase(3), Some(OpPhase::AwaitingOperator));

    // The operator lifts it: journaled, and a restart then finds it off.
    r.control.push(StateControl::Resume).unwrap();
    r.run();
    assert!(!r.s.stats().snapshot().killed);
    assert!(r.journal().contains(&Record::KillSwitch { on: false, operator: true, wall_ms: wall() }));
    drop(r);
    let rep = replay(&dir).unwrap();
    assert_eq!(rep.kill_switch, None);
    let mut r = Rig::open(dir, Some(&rep));
    assert!(!r.s.stats().snapshot().killed);
    assert!(!r.updates.contains(&RiskUpdate::Halt));
    // Retried, the operation recovers again.
    r.books("49990", "50000");
    r.control.push(StateControl::Retry { op: 3 }).unwrap();
    r.advance(5);
    assert_eq!(r.recovery_orders().len(), 1, "recovery trades again after the resume");
}

#[test]
fn the_engines_own_kill_switch_is_journaled_as_a_fault() {
    let dir = scratch("state-kill-fault");
    {
        let mut r = Rig::open(dir.clone(), None);
        r.runtime.halt("test");
        r.advance(2);
        assert!(r.journal().contains(&Record::KillSwitch { on: true, operator: false, wall_ms: wall() }));
        // Lifting it while the runtime's fault remains: it is thrown again at once.
        r.control.push(StateControl::Resume).unwrap();
        r.advance(2);
        assert!(r.s.stats().snapshot().killed);
        r.keep = true;
    }
    let rep = replay(&dir).unwrap();
    assert_eq!(rep.kill_switch.map(|k| k.operator), Some(false));
    let mut r = Rig::open(dir, Some(&rep));
    let alerts = testkit::drain(&mut r.alerts);
    assert!(alerts.iter().any(|a| a.kind == AlertKind::Halted && a.value == crate::msg::HALT_RESTORED_FAULT));
}

#[test]
fn exhausted_recovery_halts_the_instruments_until_an_operator_acts() {
    let mut r = Rig::new();
    r.books("49990", "50000");
    let g = r.u.gate_btc;
    r.start(7);
    r.fill_whole(7, 0, 0, g, "50000", "0.01");
    r.order(7, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.run();
    // Three rounds of unwinds that fill nothing.
    for attempt in 1..=3u8 {
        assert_eq!(r.recovery_orders().len(), attempt as usize, "round {attempt}");
        r.order(7, 0, attempt, OrderUpdate::Done { filled: Qty::ZERO });
        r.run();
    }
    assert_eq!(r.recovery_orders().len(), 3);
    assert_eq!(r.s.phase(7), Some(OpPhase::AwaitingOperator));
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: g, halted: true }));
    assert!(
        testkit::drain(&mut r.alerts).iter().any(|a| a.kind == AlertKind::RecoveryExhausted && a.op == 7)
    );
    // Retry: a fresh budget; this time the unwind fills.
    r.control.push(StateControl::Retry { op: 7 }).unwrap();
    r.run();
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: g, halted: false }));
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 4);
    assert_eq!(rec[3].0, cid(7, 0, 4), "attempt numbers never repeat");
    r.fill_whole(7, 0, 4, g, "49990", "0.01");
    r.run();
    assert_eq!(r.s.phase(7), Some(OpPhase::Failed));
    assert_eq!(r.s.position(g), Qty::ZERO);
}

/// Operation `op`: Gate's buy of 0.01 BTC filled, MEXC's leg ended with nothing filled,
/// on books that make unwinding the cheaper plan. Returns Gate's instrument.
fn gate_filled_mexc_missed(r: &mut Rig, op: u64) -> InstrumentId {
    r.books("49990", "50000");
    let g = r.u.gate_btc;
    r.start(op);
    r.fill_whole(op, 0, 0, g, "50000", "0.01");
    r.order(op, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.run();
    g
}

#[test]
fn rounds_that_close_part_of_the_gap_do_not_use_up_recovery() {
    let mut r = Rig::new();
    let g = gate_filled_mexc_missed(&mut r, 12);
    // Five unwind rounds, two more than max_recovery_attempts, each filling a fifth of
    // the 0.01 BTC to undo (a venue filling IOC orders in part).
    let gi = r.inst(g);
    for attempt in 1..=5u8 {
        let rec = r.recovery_orders();
        assert_eq!(rec.len(), attempt as usize, "round {attempt} goes out");
        let (client, leg) = *rec.last().unwrap();
        assert_eq!(
            (client.leg, client.attempt, leg.side),
            (0, attempt, Side::Sell),
            "the Gate buy is unwound"
        );
        let left = if attempt == 1 { "0.01".to_owned() } else { format!("0.00{}", 10 - 2 * (attempt - 1)) };
        assert_eq!(leg.qty, qty(&gi, &left), "round {attempt} sells what is left");
        r.fill_whole(12, 0, attempt, g, "49990", "0.002");
        r.run();
    }
    assert_eq!(r.recovery_orders().len(), 5);
    assert_eq!(r.s.phase(12), Some(OpPhase::Failed), "unwound in full, not handed to an operator");
    assert_eq!(r.s.position(g), Qty::ZERO);
}

#[test]
fn a_recovery_under_rejects_and_partial_fills_is_not_cut_short_by_its_order_slots() {
    // The soak's fault mix on one leg: every other unwind is refused by the rate limiter,
    // the others fill a twentieth of the 0.01 BTC to undo. Forty recovery orders on one
    // leg: more than an operation once had slots (24) or attempt numbers (15) for.
    let mut r = Rig::new();
    let g = gate_filled_mexc_missed(&mut r, 17);
    let gi = r.inst(g);
    for attempt in 1..=40u8 {
        let rec = r.recovery_orders();
        assert_eq!(rec.len(), attempt as usize, "order {attempt} goes out");
        let (client, leg) = *rec.last().unwrap();
        assert_eq!((client.leg, client.attempt, leg.side), (0, attempt, Side::Sell));
        let done = u32::from(attempt - 1) / 2;
        let left = format!("0.{:04}", 100 - 5 * done);
        assert_eq!(leg.qty, qty(&gi, &left), "order {attempt} sells what is left");
        if attempt % 2 == 1 {
            r.order(17, 0, attempt, OrderUpdate::Rejected(RejectReason::RateLimited));
            r.run();
            r.advance(250);
            r.books("49990", "50000");
        } else {
            r.fill_whole(17, 0, attempt, g, "49990", "0.0005");
            r.run();
        }
        assert_ne!(r.s.phase(17), Some(OpPhase::AwaitingOperator), "order {attempt}");
    }
    assert_eq!(r.recovery_orders().len(), 40);
    assert_eq!(r.s.phase(17), Some(OpPhase::Failed), "unwound in full, not handed to an operator");
    assert_eq!(r.s.position(g), Qty::ZERO);
    assert!(!testkit::drain(&mut r.alerts).iter().any(|a| a.kind == AlertKind::RecoveryExhausted));
}

fn flattens(r: &Rig) -> Vec<Leg> {
    r.updates
        .iter()
        .filter_map(|u| match u {
            RiskUpdate::Flatten { leg } => Some(*leg),
            _ => None,
        })
        .collect()
}

/// A completed spot-spot operation whose Gate buy of 0.01 BTC paid its fee in BTC:
/// 0.0002 leaves Gate's position, so it holds 0.0098 on Gate against 0.01 sold on MEXC.
fn fee_in_the_base_asset(r: &mut Rig, op: u64) {
    fee_of_in_the_base_asset(r, op, "0.0002");
}

/// The same with a fee of `fee` BTC.
fn fee_of_in_the_base_asset(r: &mut Rig, op: u64, fee: &str) {
    r.books("49990", "50000");
    let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
    let gi = r.inst(g);
    r.start(op);
    let fill = OrderUpdate::Fill {
        price: px(&gi, "50000"),
        qty: qty(&gi, "0.01"),
        cum_qty: qty(&gi, "0.01"),
        fee: Amount::parse(fee).unwrap(),
        fee_asset: gi.base,
        trade_id: 1,
    };
    r.order(op, 0, 0, fill);
    let d = r.done(g, "0.01");
    r.order(op, 0, 0, d);
    r.fill_whole(op, 1, 0, m, "50500", "0.01");
    r.run();
    assert_eq!(r.s.phase(op), Some(OpPhase::Completed));
    r.advance(1_000);
    r.books("49990", "50000");
}

#[test]
fn a_fee_taken_in_the_base_asset_is_bought_back_where_least_is_held() {
    let mut r = Rig::new();
    fee_in_the_base_asset(&mut r, 13);
    let mi = r.inst(r.u.mexc_btc);
    // One buy of the 0.0002 BTC short, on MEXC (where the engine sold), at MEXC's ask
    // 50510 moved by the unwind slippage (50 bps), on the tick.
    assert_eq!(
        flattens(&r),
        vec![Leg { inst: mi.id, side: Side::Buy, price: px(&mi, "50762.55"), qty: qty(&mi, "0.0002") }]
    );
    // Asked once: until the risk gate's operation closes or the retry time passes.
    r.advance(1_000);
    r.books("49990", "50000");
    assert_eq!(flattens(&r).len(), 1);
    r.advance(1_000);
    r.books("49990", "50000");
    assert_eq!(flattens(&r).len(), 2, "asked again: the risk gate started nothing");
}

#[test]
fn a_leftover_below_every_venues_minimum_is_counted_as_dust_not_flattened() {
    let mut r = Rig::new();
    // 0.00001 BTC (about 0.5 USD): below Gate's lot and MEXC's 1 USDT minimum.
    fee_of_in_the_base_asset(&mut r, 16, "0.00001");
    r.advance(1_000);
    r.books("49990", "50000");
    assert!(flattens(&r).is_empty());
    let dust = r.s.stats().snapshot().dust_usd;
    assert!(dust > Amount::parse("0.4").unwrap() && dust < Amount::parse("0.6").unwrap(), "{dust}");

    // A leftover a venue can trade is flattened, not dust.
    let mut r = Rig::new();
    fee_in_the_base_asset(&mut r, 13);
    assert_eq!(flattens(&r).len(), 1);
    assert_eq!(r.s.stats().snapshot().dust_usd, Amount::ZERO);
}

#[test]
fn with_the_flattener_off_the_leftover_stays() {
    let cfg = StateConfig { flatten: false, ..StateConfig::default() };
    let mut r = Rig::open_with(scratch("state-flatten-off"), None, &cfg);
    fee_in_the_base_asset(&mut r, 15);
    r.advance(5_000);
    assert!(flattens(&r).is_empty());
}

#[test]
fn nothing_is_flattened_while_an_operation_trades_the_asset() {
    let mut r = Rig::new();
    r.books("49990", "50000");
    let g = r.u.gate_btc;
    r.start(14);
    // Gate filled, MEXC has not answered: 0.01 BTC long, and the operation owns it.
    let f = r.fill(g, "50000", "0.01", "0.01");
    r.order(14, 0, 0, f);
    r.advance(1_000);
    r.books("49990", "50000");
    assert_eq!(r.s.phase(14), Some(OpPhase::Executing));
    assert!(flattens(&r).is_empty());
}

/// Gate filled the entry, MEXC's leg was refused by the rate limiter.
fn naked_after_a_rate_limit(r: &mut Rig, op: u64) {
    r.books("49990", "50000");
    let g = r.u.gate_btc;
    r.start(op);
    r.fill_whole(op, 0, 0, g, "50000", "0.01");
    r.order(op, 1, 0, OrderUpdate::Rejected(RejectReason::RateLimited));
    r.run();
}

#[test]
fn rounds_refused_by_the_rate_limiter_back_off_and_do_not_use_up_recovery() {
    let mut r = Rig::new();
    naked_after_a_rate_limit(&mut r, 9);
    let g = r.u.gate_btc;
    assert!(r.recovery_orders().is_empty(), "the entry's refusal backs the first round off");
    assert_eq!(r.s.phase(9), Some(OpPhase::Recovering));
    // Four rounds refused in passing (one more than max_recovery_attempts), each waiting
    // twice as long as the one before: 250, 500, 1000, 2000 ms.
    for (round, wait_ms) in [(1u8, 250u64), (2, 500), (3, 1_000), (4, 2_000)] {
        r.advance(wait_ms - 20);
        r.books("49990", "50000");
        assert_eq!(r.recovery_orders().len(), round as usize - 1, "round {round} waits {wait_ms} ms");
        r.advance(20);
        r.books("49990", "50000");
        let rec = r.recovery_orders();
        assert_eq!(rec.len(), round as usize, "round {round} goes out after {wait_ms} ms");
        let (client, leg) = *rec.last().unwrap();
        assert_eq!((client.leg, leg.side), (0, Side::Sell), "the Gate buy is unwound");
        r.order(9, 0, client.attempt, OrderUpdate::Rejected(RejectReason::RateLimited));
        r.run();
        assert_eq!(r.s.phase(9), Some(OpPhase::Recovering), "round {round} is not held against recovery");
    }
    // The venue takes orders again: the unwind fills and the operation ends flat.
    r.advance(3_990);
    r.books("49990", "50000");
    r.advance(10);
    let (client, _) = *r.recovery_orders().last().unwrap();
    assert_eq!(client.attempt, 5);
    r.fill_whole(9, 0, 5, g, "49990", "0.01");
    r.run();
    assert_eq!(r.s.phase(9), Some(OpPhase::Failed));
    assert_eq!(r.s.position(g), Qty::ZERO);
}

#[test]
fn a_round_the_venue_refused_on_its_merits_counts_and_resets_the_backoff() {
    let mut r = Rig::new();
    naked_after_a_rate_limit(&mut r, 10);
    r.advance(250);
    r.books("49990", "50000");
    assert_eq!(r.recovery_orders().len(), 1);
    // Refused for a reason that will not pass: the next round goes out at once, and
    // counts.
    r.order(10, 0, 1, OrderUpdate::Rejected(RejectReason::Other));
    r.run();
    assert_eq!(r.recovery_orders().len(), 2);
    for attempt in 2..=3u8 {
        r.order(10, 0, attempt, OrderUpdate::Done { filled: Qty::ZERO });
        r.run();
    }
    assert_eq!(r.recovery_orders().len(), 3);
    assert_eq!(r.s.phase(10), Some(OpPhase::AwaitingOperator));
}

#[test]
fn with_recovery_off_a_naked_leg_waits_for_an_operator_at_once() {
    let cfg = StateConfig { max_recovery_attempts: 0, ..StateConfig::default() };
    let mut r = Rig::open_with(scratch("state"), None, &cfg);
    r.books("49990", "50000");
    let g = r.u.gate_btc;
    r.start(11);
    r.fill_whole(11, 0, 0, g, "50000", "0.01");
    r.order(11, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.run();
    assert!(r.recovery_orders().is_empty());
    assert_eq!(r.s.phase(11), Some(OpPhase::AwaitingOperator));
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: g, halted: true }));
}

#[test]
fn an_operation_that_filled_nothing_is_missed_not_failed() {
    let mut r = Rig::new();
    r.books("49990", "50500");
    r.start(8);
    r.order(8, 0, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.order(8, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.run();
    assert_eq!(r.done_updates(), vec![(8, true, Amount::ZERO)]);
    assert_eq!(r.s.stats().snapshot().ops_missed, [1, 0, 0, 0]);
    // Missed is a success but not an execution as planned.
    let q = r.s.stats().snapshot().quality;
    assert_eq!((q.finished, q.succeeded, q.as_planned, q.needed_recovery), (1, 1, 0, 0));
}

#[test]
fn balances_reach_risk_and_are_reconciled_periodically() {
    let mut r = Rig::new();
    let usdt = r.u.instruments.find_asset("USDT").unwrap();
    let b = BalanceEvent {
        venue: Venue::Mexc,
        asset: usdt,
        available: Amount::from_int(77),
        locked: Amount::ZERO,
        ts_ns: 0,
    };
    r.push(StateInput::Balance(b));
    r.run();
    assert_eq!(r.s.balance(Venue::Mexc, usdt), Amount::from_int(77));
    assert!(r.updates.contains(&RiskUpdate::Balance {
        venue: Venue::Mexc,
        asset: usdt,
        available: Amount::from_int(77)
    }));
    // The futures account is its own: its available margin reaches the gate as such,
    // and a report without one (a funding push) tells the gate nothing.
    let wallet = |available| crate::msg::FuturesWalletEvent {
        venue: Venue::GateIo,
        balance: Some(Amount::from_int(500)),
        available,
        funding: Amount::ZERO,
        ts_ns: 0,
    };
    r.push(StateInput::FuturesWallet(wallet(Some(Amount::from_int(420)))));
    r.push(StateInput::FuturesWallet(wallet(None)));
    r.run();
    let margins: Vec<_> =
        r.updates.iter().filter(|u| matches!(u, RiskUpdate::FuturesMargin { .. })).collect();
    assert_eq!(
        margins,
        [&RiskUpdate::FuturesMargin { venue: Venue::GateIo, available: Amount::from_int(420) }]
    );
    r.advance(60_001);
    let q: Vec<_> = r.sent.iter().filter(|c| matches!(c, Command::QueryBalances { .. })).collect();
    assert_eq!(q.len(), 2, "both venues");
}

#[test]
fn no_order_event_makes_the_state_stage_panic() {
    let mut r = Rig::new();
    r.books("49990", "50500");
    r.start(9);
    let weird = [
        OrderUpdate::Fill {
            price: Price(i64::MAX),
            qty: Qty(i64::MAX),
            cum_qty: Qty(-5),
            fee: Amount(i128::MAX),
            fee_asset: AssetId(999),
            trade_id: 0,
        },
        OrderUpdate::Status {
            filled: Qty(i64::MIN),
            value: Amount(i128::MIN),
            fee: Amount(-1),
            fee_asset: AssetId(0),
            open: true,
        },
        OrderUpdate::Done { filled: Qty(i64::MAX) },
        OrderUpdate::Rejected(RejectReason::Other),
    ];
    for (i, u) in weird.into_iter().enumerate() {
        r.push(StateInput::Order(OrderEvent {
            client: cid(9, (i % 5) as u8, (i * 7 % 16) as u8),
            inst: InstrumentId((i * 3) as u16),
            side: Side::Sell,
            update: u,
            venue_order: VenueOrderId::default(),
            ts_ns: u64::MAX,
        }));
        r.order(9, (i % 2) as u8, 0, u);
    }
    // An execution no risk gate would approve: unknown instruments, empty quantities.
    let e = r.exec(13);
    let mut opp = *e.opp();
    opp.n_legs = 3;
    opp.legs[0].inst = InstrumentId(9999);
    opp.legs[1].qty = Qty::ZERO;
    opp.legs[2].qty = Qty(-5);
    let bad = Execution::new(e.op(), opp, e.approved_ns(), e.deadline_ns());
    r.push(StateInput::Executing(bad));
    r.order(13, 0, 0, OrderUpdate::Done { filled: Qty::ZERO });
    r.control.push(StateControl::Approve { op: 13 }).unwrap();
    r.control.push(StateControl::Retry { op: 13 }).unwrap();
    r.control.push(StateControl::Abandon { op: 9 }).unwrap();
    r.push(StateInput::Order(OrderEvent {
        client: cid(12345, 0, 0),
        inst: InstrumentId(9999),
        side: Side::Buy,
        update: OrderUpdate::Accepted,
        venue_order: VenueOrderId::default(),
        ts_ns: 0,
    }));
    r.run();
    r.advance(5_000);
}

#[test]
fn a_fill_the_venue_reported_but_not_yet_applied_is_still_awaited_after_a_restart() {
    let dir = scratch("state-restart-reported");
    let (g, m);
    {
        let mut r = Rig::open(dir.clone(), None);
        r.books("49990", "50500");
        (g, m) = (r.u.gate_btc, r.u.mexc_btc);
        r.start(3);
        // The Gate leg: 0.004 of 0.01 applied, then the venue's final word, 0.01 filled;
        // the rest of its fills had not come when the host went down.
        let f = r.fill(g, "50000", "0.004", "0.004");
        r.order(3, 0, 0, f);
        let d = r.done(g, "0.01");
        r.order(3, 0, 0, d);
        r.fill_whole(3, 1, 0, m, "50500", "0.01");
        r.run();
        r.s.stop();
        r.keep = true;
    }
    {
        let (mut w, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
        let e = Rig::new().exec(3);
        for (i, leg) in e.opp().legs().iter().enumerate() {
            let tif = crate::journal::TimeInForce::Ioc;
            w.append(&Record::OrderIntent { client: cid(3, i as u8, 0), leg: *leg, tif, ts_ns: 0 }).unwrap();
        }
        w.commit().unwrap();
    }
    let rep = replay(&dir).unwrap();
    let o = rep.orders.iter().find(|o| o.client == cid(3, 0, 0)).unwrap();
    let gi = Rig::new().inst(g);
    assert_eq!((o.filled, o.reported), (qty(&gi, "0.004"), qty(&gi, "0.01")));
    // After the restart the order is not settled: it is queried, and recovery waits
    // for the rest of its fills instead of working from a net short of them.
    let r = Rig::open(dir.clone(), Some(&rep));
    assert!(r.sent.contains(&Command::Query { client: cid(3, 0, 0), inst: g }), "{:?}", r.sent);
    assert!(r.recovery_orders().is_empty());
}

#[test]
fn replay_after_a_restart_restores_positions_and_reconciles_unknown_orders() {
    let dir = scratch("state-restart");
    let (g, m);
    let positions;
    let realized;
    let acct;
    {
        let mut r = Rig::open(dir.clone(), None);
        r.books("49990", "50500");
        (g, m) = (r.u.gate_btc, r.u.mexc_btc);
        // Op 1 completes; op 2 has a filled leg and a leg with no answer.
        r.start(1);
        for (leg, inst, price) in [(0u8, g, "50000"), (1, m, "50500")] {
            let f = r.fill(inst, price, "0.01", "0.01");
            r.order(1, leg, 0, f);
            let d = r.done(inst, "0.01");
            r.order(1, leg, 0, d);
        }
        r.start(2);
        let f = r.fill(g, "50000", "0.01", "0.01");
        r.order(2, 0, 0, f);
        let ts_ns = r.now();
        r.push(StateInput::FuturesWallet(crate::msg::FuturesWalletEvent {
            venue: Venue::Mexc,
            balance: None,
            available: None,
            funding: Amount::parse("-1.25").unwrap(),
            ts_ns,
        }));
        r.run();
        positions = r.s.positions().clone();
        realized = r.s.realized_pnl();
        acct = r.s.accounting().clone();
        r.s.stop();
        r.keep = true;
    }
    // The dispatch log of those orders, as dispatch would have written it.
    {
        let (mut w, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
        let tmp = Rig::new();
        for op in [1u64, 2] {
            let e = tmp.exec(op);
            for (i, leg) in e.opp().legs().iter().enumerate() {
                let client = cid(op, i as u8, 0);
                w.append(&Record::OrderIntent {
                    client,
                    leg: *leg,
                    tif: crate::journal::TimeInForce::Ioc,
                    ts_ns: 0,
                })
                .unwrap();
            }
        }
        w.commit().unwrap();
    }
    let rep = replay(&dir).unwrap();
    assert_eq!(rep.last_op_id, 2);
    assert_eq!(rep.realized_pnl, realized);
    let unresolved: Vec<_> = rep.unresolved().map(|o| o.client).collect();
    // The Gate leg filled completely (its outcome is known); the MEXC leg's is not.
    assert_eq!(unresolved, vec![cid(2, 1, 0)]);
    let mut r = Rig::open(dir.clone(), Some(&rep));
    assert_eq!(r.s.positions(), &positions);
    assert_eq!(r.s.realized_pnl(), realized);
    // The money books come back as they were: lots, wallets, fees and funding.
    let back = r.s.accounting();
    assert_eq!(
        (back.realized_usd, back.fees_usd, back.funding_usd),
        (acct.realized_usd, acct.fees_usd, acct.funding_usd)
    );
    assert_eq!(back.funding_usd, Amount::parse("-1.25").unwrap());
    assert!(acct.fees_usd > Amount::ZERO);
    let btc = r.inst(g).base;
    assert_eq!(back.spot_lot(btc), acct.spot_lot(btc));
    assert!(back.spot_lot(btc).qty > 0, "op 2's BTC is still held, at its cost");
    for venue in Venue::ALL {
        assert_eq!(back.futures_cash(venue), acct.futures_cash(venue));
        for asset in [btc, r.inst(g).quote] {
            assert_eq!(back.wallet(venue, asset), acct.wallet(venue, asset), "{venue:?}");
        }
    }
    // On start: both unresolved orders are queried and risk waits for them.
    let queries: Vec<_> = r.sent.iter().filter(|c| matches!(c, Command::Query { .. })).copied().collect();
    assert_eq!(queries, vec![Command::Query { client: cid(2, 1, 0), inst: m }]);
    assert!(r.updates.contains(&RiskUpdate::Reconciling { pending: 1 }));
    // The risk gate knows nothing of op 2: its instruments stay out of new operations.
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: g, halted: true }));
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: m, halted: true }));
    // The venue answers: the Gate leg filled (already applied), the MEXC leg never arrived.
    let gi = r.inst(g);
    let status = OrderUpdate::Status {
        filled: qty(&gi, "0.01"),
        value: Amount::from_int(500),
        fee: Amount::parse("0.5").unwrap(),
        fee_asset: gi.quote,
        open: false,
    };
    r.order(2, 0, 0, status);
    r.order(2, 1, 0, OrderUpdate::Rejected(RejectReason::NotFound));
    r.books("49990", "50500");
    r.run();
    assert_eq!(r.s.positions(), &positions, "nothing applied twice");
    assert!(r.updates.contains(&RiskUpdate::Reconciling { pending: 0 }));
    // Then recovery proceeds: op 2 hedges or unwinds its naked leg ...
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 1);
    let (client, leg) = rec[0];
    fill_leg_whole(&mut r, client, &leg, 5);
    r.run();
    // ... and once it is over its instruments trade again.
    assert!(matches!(r.s.phase(2), Some(OpPhase::Completed | OpPhase::Failed)));
    // Op 2 closed with its fills from both sides of the restart: the operations' P&L
    // (realized less fees) is what the money books realized less the fees they paid.
    let books = r.s.accounting();
    assert!(books.fees_usd > acct.fees_usd, "op 2 paid fees after the restart too");
    assert_eq!(r.s.realized_pnl(), books.realized_usd.saturating_sub(books.fees_usd));
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: g, halted: false }));
    assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: m, halted: false }));
}

#[test]
fn an_operation_restored_past_its_deadline_waits_for_fresh_books_from_the_restart() {
    // The engine stops with a naked leg and starts again two minutes later, long past the
    // operation's deadline. Its books are not synced yet: the unwind waits for them the
    // whole unpriced wait from the restart, not from a deadline of the run before.
    let dir = scratch("state-restart-unpriced");
    let g;
    {
        let mut r = Rig::open(dir.clone(), None);
        r.books("49990", "50500");
        g = r.u.gate_btc;
        r.start(3);
        r.fill_whole(3, 0, 0, g, "50000", "0.01");
        r.order(3, 1, 0, OrderUpdate::Done { filled: Qty::ZERO });
        r.s.stop();
        r.keep = true;
    }
    let rep = replay(&dir).unwrap();
    let mut r = Rig::open_later(dir.clone(), Some(&rep), 120_000);
    // The venue answers the restart's queries: Gate's leg filled, MEXC's never arrived.
    let gi = r.inst(g);
    let status = OrderUpdate::Status {
        filled: qty(&gi, "0.01"),
        value: Amount::from_int(500),
        fee: Amount::parse("0.5").unwrap(),
        fee_asset: gi.quote,
        open: false,
    };
    r.order(3, 0, 0, status);
    r.order(3, 1, 0, OrderUpdate::Rejected(RejectReason::NotFound));
    r.run();
    assert_eq!(r.s.phase(3), Some(OpPhase::Recovering));
    r.advance(29_000);
    assert_eq!(r.s.phase(3), Some(OpPhase::Recovering), "still within the wait");
    assert_eq!(r.s.stats().snapshot().escalations, 0);
    // The books sync: the unwind goes out.
    r.books("49990", "50500");
    r.advance(100);
    let rec = r.recovery_orders();
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(rec[0].1.inst, g);
}

fn arb_history() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
    // (event kind, leg, size step, duplicate?)
    proptest::collection::vec((0u8..6, 0u8..2, 1u8..10, 0u8..3), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever happens to a run of operations (partial fills, duplicates, query answers,
    /// rejects, recovery), replaying the journal rebuilds the same positions, costs, fees
    /// and realized P&L the live stage had.
    #[test]
    fn replay_rebuilds_positions_exactly(history in arb_history(), ops in 1u64..5) {
        let dir = scratch("state-prop");
        let mut r = Rig::open(dir.clone(), None);
        r.books("49990", "50500");
        let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
        let mut cum = [[0u32; 2]; 8];
        for op in 1..=ops {
            r.start(op);
        }
        for (i, (kind, leg, step, dup)) in history.into_iter().enumerate() {
            let op = 1 + (i as u64 % ops);
            let inst = if leg == 0 { g } else { m };
            let price = if leg == 0 { "50000" } else { "50500" };
            let c = &mut cum[op as usize][leg as usize];
            match kind {
                0 | 1 => {
                    let add = u32::from(step).min(100 - *c);
                    if add == 0 { continue; }
                    *c += add;
                    let q = format!("0.{:04}", add);
                    let cq = format!("0.{:04}", *c);
                    let f = r.fill(inst, price, &q, &cq);
                    r.order(op, leg, 0, f);
                    if dup > 0 {
                        r.order(op, leg, 0, f);
                    }
                }
                2 => {
                    let ii = r.inst(inst);
                    let filled = qty(&ii, &format!("0.{:04}", *c));
                    let value = ii.notional(px(&ii, price), filled, Rounding::Floor).unwrap();
                    let st = OrderUpdate::Status { filled, value, fee: value.mul_rate(ii.taker_fee, Rounding::Ceil).unwrap(), fee_asset: ii.quote, open: false };
                    r.order(op, leg, 0, st);
                }
                3 => {
                    let d = r.done(inst, &format!("0.{:04}", *c));
                    r.order(op, leg, 0, d);
                }
                4 => r.order(op, leg, 0, OrderUpdate::Accepted),
                _ => r.advance(700),
            }
            r.run();
            // Answer recovery orders with full fills at the limit.
            let pending: Vec<_> = r.recovery_orders();
            for (client, l) in pending {
                if r.s.order_state(client).is_some_and(|s| !s.is_terminal()) {
                    let li = r.inst(l.inst);
                    let value = li.notional(l.price, l.qty, Rounding::Floor).unwrap();
                    r.push(StateInput::Order(OrderEvent { client, inst: l.inst, side: l.side, update: OrderUpdate::Fill { price: l.price, qty: l.qty, cum_qty: l.qty, fee: value.mul_rate(li.taker_fee, Rounding::Ceil).unwrap(), fee_asset: li.quote, trade_id: 9 }, venue_order: VenueOrderId::default(), ts_ns: 0 }));
                    r.push(StateInput::Order(OrderEvent { client, inst: l.inst, side: l.side, update: OrderUpdate::Done { filled: l.qty }, venue_order: VenueOrderId::default(), ts_ns: 0 }));
                    r.run();
                }
            }
        }
        r.s.journal.sync().unwrap();
        let rep = replay(&dir).unwrap();
        for (k, inst) in r.u.instruments.iter().enumerate() {
            let p = rep.positions.iter().find(|p| p.inst == inst.id).copied().unwrap_or_default();
            prop_assert_eq!(p.qty, r.s.positions().qty[k], "qty of {}", inst.symbol);
            prop_assert_eq!(p.cost, r.s.positions().cost[k]);
            prop_assert_eq!(p.fees, r.s.positions().fees[k]);
        }
        prop_assert_eq!(rep.realized_pnl, r.s.realized_pnl());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn arb_update() -> impl Strategy<Value = OrderUpdate> {
    prop_oneof![
        Just(OrderUpdate::Sent),
        Just(OrderUpdate::Accepted),
        Just(OrderUpdate::Unknown),
        (0u8..12)
            .prop_map(|r| OrderUpdate::Rejected(RejectReason::from_u8(r).unwrap_or(RejectReason::Other))),
        (any::<i64>(), -5i64..2_000_000, -5i64..2_000_000, any::<i64>(), 0u16..6).prop_map(
            |(p, q, c, f, a)| {
                OrderUpdate::Fill {
                    price: Price(p),
                    qty: Qty(q),
                    cum_qty: Qty(c),
                    fee: Amount(f as i128),
                    fee_asset: AssetId(a),
                    trade_id: 1,
                }
            }
        ),
        (-5i64..2_000_000).prop_map(|q| OrderUpdate::Done { filled: Qty(q) }),
        (-5i64..2_000_000, any::<i64>(), any::<i64>(), any::<bool>()).prop_map(|(q, v, f, open)| {
            OrderUpdate::Status {
                filled: Qty(q),
                value: Amount(v as i128),
                fee: Amount(f as i128),
                fee_asset: AssetId(0),
                open,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// No sequence of order events (known or unknown orders, absurd values), operator
    /// controls and time makes the state stage panic.
    #[test]
    fn no_sequence_of_inputs_makes_the_state_stage_panic(
        steps in proptest::collection::vec((0u8..10, 1u64..4, 0u8..4, 0u8..6, 0u16..9, arb_update(), 0u64..3000), 1..80),
    ) {
        let mut r = Rig::new();
        r.books("49990", "50500");
        for op in 1..4 {
            r.start(op);
        }
        for (what, op, leg, attempt, inst, update, ms) in steps {
            match what {
                0 => {
                    let _ = r.control.push(StateControl::Retry { op });
                }
                1 => {
                    let _ = r.control.push(StateControl::Approve { op });
                }
                2 => r.advance(ms),
                3 => r.push(StateInput::Order(OrderEvent {
                    client: cid(op, leg, attempt),
                    inst: InstrumentId(inst),
                    side: if leg % 2 == 0 { Side::Buy } else { Side::Sell },
                    update,
                    venue_order: VenueOrderId::default(),
                    ts_ns: ms,
                })),
                _ => r.order(op, leg % 2, 0, update),
            }
            r.run();
        }
        r.advance(10_000);
    }
}

/// A spot-futures basis entry: long 0.01 BTC spot on Gate at 50000, short 100 contracts
/// (0.01 BTC) of Gate's perpetual at 50100.
fn basis_entry(r: &Rig) -> crate::msg::Opportunity {
    let (g, p) = (r.inst(r.u.gate_btc), r.inst(r.u.gate_btc_perp));
    let mut opp = NO_OPPORTUNITY;
    opp.kind = crate::msg::OppKind::Basis;
    opp.n_legs = 2;
    opp.legs[0] = Leg { inst: g.id, side: Side::Buy, price: px(&g, "50000"), qty: qty(&g, "0.01") };
    opp.legs[1] = Leg { inst: p.id, side: Side::Sell, price: px(&p, "50100"), qty: qty(&p, "100") };
    opp.notional = Amount::from_int(500);
    opp
}

/// [`basis_entry`]: both legs fill and stay open.
#[test]
fn a_basis_entry_books_its_fees_not_its_spread_and_marks_at_executable_prices() {
    let mut r = Rig::new();
    let board = MoneyBoard::new(&r.u.instruments);
    r.s.money = Some(board.clone());
    let (g, p) = (r.inst(r.u.gate_btc), r.inst(r.u.gate_btc_perp));
    let e = Execution::new(7, basis_entry(&r), r.now(), r.now() + 2_000 * MS);
    r.push(StateInput::Executing(e));
    let ev = |leg: u8, inst: &Instrument, side, update| {
        StateInput::Order(OrderEvent {
            client: ClientOrderId { op: 7, leg, attempt: 0 },
            inst: inst.id,
            side,
            update,
            venue_order: VenueOrderId::new("v1").unwrap(),
            ts_ns: 0,
        })
    };
    // Spot: 0.1% fee in BTC; perpetual: 0.05% in USDT.
    let spot_fill = OrderUpdate::Fill {
        price: px(&g, "50000"),
        qty: qty(&g, "0.01"),
        cum_qty: qty(&g, "0.01"),
        fee: Amount::parse("0.00001").unwrap(),
        fee_asset: g.base,
        trade_id: 1,
    };
    let perp_fill = OrderUpdate::Fill {
        price: px(&p, "50100"),
        qty: qty(&p, "100"),
        cum_qty: qty(&p, "100"),
        fee: Amount::parse("0.2505").unwrap(),
        fee_asset: p.quote,
        trade_id: 2,
    };
    r.push(ev(0, &g, Side::Buy, spot_fill));
    r.push(ev(0, &g, Side::Buy, OrderUpdate::Done { filled: qty(&g, "0.01") }));
    r.push(ev(1, &p, Side::Sell, perp_fill));
    r.push(ev(1, &p, Side::Sell, OrderUpdate::Done { filled: qty(&p, "100") }));
    r.run();
    assert_eq!(r.s.phase(7), Some(OpPhase::Completed));
    // Fees 0.5 (0.00001 BTC at 50000) + 0.2505; the 1 USD entry spread is not profit.
    let fees = Amount::parse("0.7505").unwrap();
    assert_eq!(r.s.realized_pnl(), -fees);
    assert!(r.updates.contains(&RiskUpdate::DailyPnl { realized: -fees }));
    let acc = r.s.accounting();
    assert_eq!(acc.realized_usd, Amount::ZERO);
    assert_eq!(acc.fees_usd, fees);
    assert_eq!(board.fees(g.base), Amount::parse("0.00001").unwrap());
    assert_eq!(board.fees(p.quote), Amount::parse("0.2505").unwrap());
    assert_eq!(board.wallet(Venue::GateIo, g.base), Amount::parse("0.00999").unwrap());
    assert_eq!(board.wallet(Venue::GateIo, g.quote), Amount::from_int(-500));
    assert_eq!(board.futures_cash(Venue::GateIo), -Amount::parse("0.2505").unwrap());
    assert_eq!(board.contracts(&p), Qty(-qty(&p, "100").0));
    // Marked: spot bid 49900 (long), perpetual ask 50000 (short).
    let now = r.now();
    r.books.push(top(&g, now, &[("49900", "1")], &[("49910", "1")])).unwrap();
    r.books.push(top(&p, now, &[("49990", "1")], &[("50000", "1")])).unwrap();
    r.advance(2_000);
    // Spot 0.00999 * 49900 - 499.5 = -0.999; perpetual 501 - 500 = 1.
    let unrealized = Amount::parse("0.001").unwrap();
    assert_eq!(board.unrealized_usd.get(), unrealized);
    assert_eq!(r.s.stats().snapshot().unrealized_pnl, unrealized);
    assert_eq!(board.equity_change_usd.get(), unrealized - fees);
}

/// The order `client` for `leg` fills whole at its price, the fee charged in the quote
/// (as a venue may charge even a spot buy's fee), and is done.
fn fill_leg_whole(r: &mut Rig, client: ClientOrderId, leg: &Leg, trade_id: u64) {
    let i = r.inst(leg.inst);
    let value = i.notional(leg.price, leg.qty, Rounding::Floor).unwrap();
    let fee = value.mul_rate(i.taker_fee, Rounding::Ceil).unwrap();
    let fill = OrderUpdate::Fill {
        price: leg.price,
        qty: leg.qty,
        cum_qty: leg.qty,
        fee,
        fee_asset: i.quote,
        trade_id,
    };
    for update in [fill, OrderUpdate::Done { filled: leg.qty }] {
        let venue_order = VenueOrderId::default();
        r.push(StateInput::Order(OrderEvent {
            client,
            inst: leg.inst,
            side: leg.side,
            update,
            venue_order,
            ts_ns: 0,
        }));
    }
}

/// Executes `opp` as operation `op`: every leg fills whole at its price
/// ([`fill_leg_whole`]).
fn execute_whole(r: &mut Rig, op: u64, opp: crate::msg::Opportunity) {
    r.push(StateInput::Executing(Execution::new(op, opp, r.now(), r.now() + 2_000 * MS)));
    for (leg, l) in opp.legs().iter().enumerate() {
        fill_leg_whole(r, ClientOrderId { op, leg: leg as u8, attempt: 0 }, l, op);
    }
    r.run();
}

/// Shows books where the position of [`basis_entry`] has converged (2 bps, under the
/// 5 bps exit) once a mark interval has passed.
fn converge(r: &mut Rig) {
    let (g, p) = (r.inst(r.u.gate_btc), r.inst(r.u.gate_btc_perp));
    r.advance(900);
    let now = r.now();
    r.books.push(top(&g, now, &[("50000", "1")], &[("50001", "1")])).unwrap();
    r.books.push(top(&p, now, &[("50005", "1")], &[("50010", "1")])).unwrap();
    r.advance(1_000);
}

fn basis_exits(r: &Rig) -> Vec<[Leg; 2]> {
    r.updates
        .iter()
        .filter_map(|u| match u {
            RiskUpdate::BasisExit { legs, .. } => Some(*legs),
            _ => None,
        })
        .collect()
}

#[test]
fn an_orderly_stop_opens_no_basis_exit_and_a_running_engine_does() {
    let mut running = Rig::new();
    let entry = basis_entry(&running);
    execute_whole(&mut running, 7, entry);
    assert_eq!(running.s.phase(7), Some(OpPhase::Completed));
    // The spot leg's fee was charged in USDT: all 0.01 BTC bought is held, and it is
    // what the exit sells.
    let g = running.inst(running.u.gate_btc);
    let held: Vec<_> = running.s.basis_positions().map(|p| p.spot_qty).collect();
    assert_eq!(held, vec![qty(&g, "0.01")]);
    converge(&mut running);
    assert_eq!(basis_exits(&running).len(), 1, "the converged position is closed: {:?}", running.updates);
    assert!(running.s.basis_positions().all(|p| p.exiting));
    // The gate refused that exit (it never became an operation) and a stop begins: the
    // position is no longer taken as exiting, which would keep its asset from flatten
    // for the whole drain, and no exit is sent again.
    running.control.push(StateControl::Drain).unwrap();
    running.advance(1_000);
    running.advance(1_000);
    assert!(running.s.basis_positions().all(|p| !p.exiting));
    assert_eq!(basis_exits(&running).len(), 1);
    // Draining: the position is held over the restart rather than exited in a two-leg
    // operation the stop could cut off half done.
    let mut draining = Rig::new();
    let entry = basis_entry(&draining);
    execute_whole(&mut draining, 7, entry);
    draining.control.push(StateControl::Drain).unwrap();
    converge(&mut draining);
    assert!(basis_exits(&draining).is_empty());
    assert_eq!(draining.s.basis_positions().count(), 1, "and still held");
}

#[test]
fn a_basis_position_is_held_over_a_restart_and_its_exit_releases_it_for_good() {
    let dir = scratch("state-restart-basis");
    let shape = |r: &Rig| -> Vec<_> {
        r.s.basis_positions().map(|p| (p.spot, p.perp, p.spot_qty, p.perp_qty)).collect()
    };
    let held;
    {
        let mut r = Rig::open(dir.clone(), None);
        let entry = basis_entry(&r);
        execute_whole(&mut r, 7, entry);
        r.control.push(StateControl::Drain).unwrap();
        converge(&mut r);
        held = shape(&r);
        assert_eq!(held.len(), 1);
        r.s.stop();
        r.keep = true;
    }
    {
        let mut r = Rig::open(dir.clone(), Some(&replay(&dir).unwrap()));
        assert_eq!(shape(&r), held, "the position is back with its quantities");
        // Its exit rule runs on it: converged, it is exited, and the exit releases it.
        converge(&mut r);
        let exits = basis_exits(&r);
        assert_eq!(exits.len(), 1, "{:?}", r.updates);
        let mut exit = NO_OPPORTUNITY;
        exit.id = crate::state::EXIT_ID;
        exit.kind = crate::msg::OppKind::Basis;
        exit.n_legs = 2;
        exit.legs[..2].copy_from_slice(&exits[0]);
        execute_whole(&mut r, 8, exit);
        assert_eq!(r.s.phase(8), Some(OpPhase::Completed));
        assert!(shape(&r).is_empty());
        r.s.stop();
        r.keep = true;
    }
    let r = Rig::open(dir.clone(), Some(&replay(&dir).unwrap()));
    assert!(shape(&r).is_empty(), "an exited position does not come back");
}

#[test]
fn a_basis_entry_only_the_dispatch_log_knew_keeps_its_position_over_a_second_restart() {
    let dir = scratch("state-restart-basis-intents");
    let entry = basis_entry(&Rig::new());
    {
        // The host died after the intents were written, before the state log heard of it.
        let (mut w, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
        let kind = crate::msg::OppKind::Basis;
        w.append(&Record::OpIntent { op: 7, kind, n_legs: 2, deadline_ns: 0, ts_ns: 0 }).unwrap();
        for (i, leg) in entry.legs().iter().enumerate() {
            let tif = crate::journal::TimeInForce::Ioc;
            w.append(&Record::OrderIntent { client: cid(7, i as u8, 0), leg: *leg, tif, ts_ns: 0 }).unwrap();
        }
        w.commit().unwrap();
    }
    let shape = |r: &Rig| -> Vec<_> { r.s.basis_positions().map(|p| (p.spot, p.perp, p.spot_qty)).collect() };
    let held;
    {
        // Both orders filled whole, as the venues tell the restarted engine.
        let mut r = Rig::open(dir.clone(), Some(&replay(&dir).unwrap()));
        for (leg, l) in entry.legs().iter().enumerate() {
            let i = r.inst(l.inst);
            let value = i.notional(l.price, l.qty, Rounding::Floor).unwrap();
            let fee = value.mul_rate(i.taker_fee, Rounding::Ceil).unwrap();
            let status = OrderUpdate::Status { filled: l.qty, value, fee, fee_asset: i.quote, open: false };
            let client = cid(7, leg as u8, 0);
            let venue_order = VenueOrderId::default();
            r.push(StateInput::Order(OrderEvent {
                client,
                inst: l.inst,
                side: l.side,
                update: status,
                venue_order,
                ts_ns: 0,
            }));
        }
        r.run();
        assert!(matches!(r.s.phase(7), Some(OpPhase::Completed)), "{:?}", r.s.phase(7));
        held = shape(&r);
        assert_eq!(held.len(), 1, "the entry holds its position");
        r.s.stop();
        r.keep = true;
    }
    let r = Rig::open(dir.clone(), Some(&replay(&dir).unwrap()));
    assert_eq!(shape(&r), held, "rebuilt from the same intents the close used");
}

#[test]
fn what_the_journal_keeps_is_journaled_when_the_stage_stops_before_taking_it() {
    // An operator removes an instrument and throws the kill switch; the engine stops
    // before the state stage's next pass.
    let mut r = Rig::new();
    let g = r.u.gate_btc;
    r.control.push(StateControl::Listed { inst: g, added: false }).unwrap();
    r.control.push(StateControl::KillSwitch).unwrap();
    r.s.stop();
    let j = r.journal();
    assert!(
        j.iter().any(|x| matches!(x, Record::InstrumentListed { inst, added: false, .. } if *inst == g)),
        "{j:?}"
    );
    assert!(j.iter().any(|x| matches!(x, Record::KillSwitch { on: true, .. })), "{j:?}");
}

#[test]
fn recovery_never_exceeds_the_operations_own_quantities() {
    let mut r = Rig::new();
    r.books("49900", "50480");
    let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
    let (gi, mi) = (r.inst(g), r.inst(m));
    r.start(4);
    // The Gate leg is credited 0.05 BTC, five times its own 0.01 (fills that were not
    // its own), and the MEXC leg filled nothing: completing would sell 0.05 on MEXC,
    // unwinding 0.05 on Gate.
    r.fill_whole(4, 0, 0, g, "50000", "0.05");
    let d = r.done(m, "0");
    r.order(4, 1, 0, d);
    r.run();
    let orders = r.recovery_orders();
    assert_eq!(orders.len(), 1, "{orders:?}");
    let (client, leg) = orders[0];
    let (own, credited) = if leg.inst == g {
        (qty(&gi, "0.01"), qty(&gi, "0.05"))
    } else {
        (qty(&mi, "0.01"), qty(&mi, "0.05"))
    };
    assert_eq!(leg.qty, own, "bounded by the leg's own quantity, not what it was credited");
    let j = r.journal();
    assert!(
        j.contains(&Record::RecoveryRefused {
            op: 4,
            leg: client.leg,
            inst: leg.inst,
            wanted: credited,
            allowed: own,
            why: recovery::BEYOND_OPERATION,
            ts_ns: r.now(),
        }),
        "{j:?}"
    );
    let alerts = testkit::drain(&mut r.alerts);
    assert!(alerts.iter().any(|a| a.kind == AlertKind::RecoveryBounded && a.op == 4), "{alerts:?}");
    assert_eq!(r.s.stats().recovery_clamped.get(), 1);
}

#[test]
fn a_recovery_order_beyond_the_notional_limit_is_refused_for_an_operator() {
    let mut r = Rig::new();
    // Entries are limited to 100 USD: the 0.006 BTC either plan needs (about 300 USD)
    // is beyond it.
    r.s.planner.max_notional = Amount::from_int(100);
    r.books("49900", "50480");
    let (g, m) = (r.u.gate_btc, r.u.mexc_btc);
    r.start(3);
    r.fill_whole(3, 0, 0, g, "50000", "0.01");
    r.fill_whole(3, 1, 0, m, "50500", "0.004");
    r.run();
    assert!(r.recovery_orders().is_empty(), "nothing beyond the limit goes out: {:?}", r.recovery_orders());
    assert_eq!(r.s.phase(3), Some(OpPhase::AwaitingOperator));
    let j = r.journal();
    let refused: Vec<_> =
        j.iter().filter(|rec| matches!(rec, Record::RecoveryRefused { op: 3, why: 1, .. })).collect();
    assert_eq!(refused.len(), 2, "both plans refused: {refused:?}");
    assert!(
        r.updates.iter().any(|u| matches!(u, RiskUpdate::InstrumentHalt { halted: true, .. })),
        "its instruments wait for an operator"
    );
    let alerts = testkit::drain(&mut r.alerts);
    assert!(alerts.iter().any(|a| a.kind == AlertKind::RecoveryBounded && a.op == 3), "{alerts:?}");
    assert!(alerts.iter().any(|a| a.kind == AlertKind::RecoveryExhausted && a.op == 3), "{alerts:?}");
    // Within the limit, the same operation recovers.
    let mut r = Rig::new();
    r.s.planner.max_notional = Amount::from_int(1_000);
    r.books("49900", "50480");
    r.start(3);
    r.fill_whole(3, 0, 0, g, "50000", "0.01");
    r.fill_whole(3, 1, 0, m, "50500", "0.004");
    r.run();
    assert_eq!(r.recovery_orders().len(), 1);
}

static DAY_CLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn day_clock() -> u64 {
    DAY_CLOCK.load(std::sync::atomic::Ordering::Relaxed)
}

fn set_day_clock(ms: u64) {
    DAY_CLOCK.store(ms, std::sync::atomic::Ordering::Relaxed);
}

#[test]
fn the_daily_total_rolls_at_the_configured_hour_and_survives_a_restart_within_the_day() {
    const HOUR: u64 = 3_600_000;
    let day = 20_000 * DAY_MS;
    let funding = |r: &mut Rig, usd: i64| {
        let ts_ns = r.now();
        r.push(StateInput::FuturesWallet(crate::msg::FuturesWalletEvent {
            venue: Venue::GateIo,
            balance: None,
            available: None,
            funding: Amount::from_int(usd),
            ts_ns,
        }));
        r.run();
    };
    let dir = scratch("state-day-roll");
    // Days roll at 08:00 UTC. At 23:30 the day began at 08:00: 40 USD of funding paid.
    set_day_clock(day + 23 * HOUR + 30 * 60_000);
    {
        let mut r = Rig::open_full(dir.clone(), None, &StateConfig::default(), day_clock, 8);
        r.keep = true;
        funding(&mut r, -40);
        assert_eq!(r.s.daily_pnl(), Amount::from_int(-40));
        assert!(r.updates.contains(&RiskUpdate::DailyPnl { realized: Amount::from_int(-40) }));
        // Past midnight UTC it is still the same trading day: 10 more.
        set_day_clock(day + DAY_MS + 30 * 60_000);
        r.advance(1);
        funding(&mut r, -10);
        assert_eq!(r.s.daily_pnl(), Amount::from_int(-50), "midnight UTC is not the roll");
        // A crash.
    }
    // Restarted at 07:59 the next morning: the same trading day, the total goes on.
    set_day_clock(day + DAY_MS + 8 * HOUR - 60_000);
    let rep = replay(&dir).unwrap();
    assert_eq!(rep.daily_total, Some((Amount::from_int(-50), day + DAY_MS + 30 * 60_000)));
    {
        let mut r = Rig::open_full(dir.clone(), Some(&rep), &StateConfig::default(), day_clock, 8);
        r.keep = true;
        assert_eq!(r.s.daily_pnl(), Amount::from_int(-50), "a restart gets no fresh loss budget");
        assert!(
            r.updates.contains(&RiskUpdate::DailyPnl { realized: Amount::from_int(-50) }),
            "the risk gate hears the day's total at start"
        );
        // 08:00: the day rolls, the total starts from zero, and the risk gate hears it.
        set_day_clock(day + DAY_MS + 8 * HOUR);
        r.updates.clear();
        r.advance(1);
        assert_eq!(r.s.daily_pnl(), Amount::ZERO);
        assert!(r.updates.contains(&RiskUpdate::DailyPnl { realized: Amount::ZERO }), "{:?}", r.updates);
    }
    // Restarted after the roll: yesterday's total is not today's.
    set_day_clock(day + DAY_MS + 9 * HOUR);
    let rep = replay(&dir).unwrap();
    let r = Rig::open_full(dir, Some(&rep), &StateConfig::default(), day_clock, 8);
    assert_eq!(r.s.daily_pnl(), Amount::ZERO);
}

#[test]
fn trading_days_roll_at_the_configured_utc_hour() {
    use crate::units::trading_day;
    const HOUR: u64 = 3_600_000;
    let day = 20_000 * DAY_MS;
    assert_eq!(trading_day(day, 0), 20_000);
    assert_eq!(trading_day(day - 1, 0), 19_999);
    assert_eq!(trading_day(day + 8 * HOUR - 1, 8), 19_999);
    assert_eq!(trading_day(day + 8 * HOUR, 8), 20_000);
    assert_eq!(trading_day(day + DAY_MS + 7 * HOUR, 8), 20_000);
}

#[test]
fn contracts_held_are_reconciled_with_the_venues_position_report() {
    let mut r = Rig::new();
    r.books("49990", "50500");
    let perp = r.u.gate_btc_perp;
    let report = |r: &mut Rig, contracts: &str| {
        let contracts = qty(&r.inst(perp), contracts);
        let p = crate::msg::FuturesPositionEvent { inst: perp, contracts, ts_ns: 0 };
        r.push(StateInput::FuturesPosition(p));
        r.run();
        r.advance(60_001);
    };
    // Flat, as booked.
    report(&mut r, "0");
    report(&mut r, "0");
    assert_eq!(r.s.stats().drift_mismatches.get(), 0);
    // A short of 100 contracts (0.01 BTC, about 500 USD) the engine never filled: one
    // check may be a fill on its way, two are a mismatch.
    report(&mut r, "-100");
    assert_eq!(r.s.stats().drift_mismatches.get(), 0);
    report(&mut r, "-100");
    assert_eq!(r.s.stats().drift_mismatches.get(), 1);
    let alerts = testkit::drain(&mut r.alerts);
    assert!(alerts.iter().any(|a| a.kind == AlertKind::BalanceDrift), "{alerts:?}");
    // Back to what the engine booked: the streak ends, nothing more is counted.
    report(&mut r, "0");
    report(&mut r, "0");
    assert_eq!(r.s.stats().drift_mismatches.get(), 1);
}

/// The venue's position push can come before the fill that made it: a first report taken
/// while the engine's order is in flight is not where the comparison starts.
#[test]
fn a_position_reported_before_its_fill_is_booked_is_not_counted_twice() {
    let mut r = Rig::new();
    r.books("49990", "50500");
    let p = r.inst(r.u.gate_btc_perp);
    let mut opp = NO_OPPORTUNITY;
    opp.kind = crate::msg::OppKind::Basis;
    opp.n_legs = 1;
    opp.legs[0] = Leg { inst: p.id, side: Side::Sell, price: px(&p, "50100"), qty: qty(&p, "100") };
    opp.notional = Amount::from_int(500);
    r.push(StateInput::Executing(Execution::new(7, opp, r.now(), r.now() + 2_000 * MS)));
    let ev = |update| {
        StateInput::Order(OrderEvent {
            client: ClientOrderId { op: 7, leg: 0, attempt: 0 },
            inst: p.id,
            side: Side::Sell,
            update,
            venue_order: VenueOrderId::new("v1").unwrap(),
            ts_ns: 0,
        })
    };
    r.push(ev(OrderUpdate::Sent));
    let position = |r: &mut Rig| {
        let p = crate::msg::FuturesPositionEvent { inst: p.id, contracts: Qty(-qty(&p, "100").0), ts_ns: 0 };
        r.push(StateInput::FuturesPosition(p));
        r.run();
    };
    // The venue already holds the short; the engine has not seen the fill yet.
    position(&mut r);
    let fill = OrderUpdate::Fill {
        price: px(&p, "50100"),
        qty: qty(&p, "100"),
        cum_qty: qty(&p, "100"),
        fee: Amount::parse("0.2505").unwrap(),
        fee_asset: p.quote,
        trade_id: 2,
    };
    r.push(ev(fill));
    r.push(ev(OrderUpdate::Done { filled: qty(&p, "100") }));
    r.run();
    for _ in 0..3 {
        r.advance(60_001);
        position(&mut r);
    }
    r.advance(60_001);
    assert_eq!(r.s.stats().drift_mismatches.get(), 0, "the short is the engine's own");
}

#[test]
fn a_persistent_drift_halts_its_venue_over_a_restart_until_acknowledged() {
    let dir = scratch("state-drift");
    let usdt;
    let gate: Vec<InstrumentId>;
    {
        let mut r = Rig::open(dir.clone(), None);
        r.keep = true;
        usdt = r.u.instruments.find_asset("USDT").unwrap();
        gate = r.u.instruments.iter().filter(|i| i.venue == Venue::GateIo).map(|i| i.id).collect();
        let report = |r: &mut Rig, usd: i64| {
            let b = BalanceEvent {
                venue: Venue::GateIo,
                asset: usdt,
                available: Amount::from_int(usd),
                locked: Amount::ZERO,
                ts_ns: 0,
            };
            r.push(StateInput::Balance(b));
            r.run();
        };
        // The start: 1000 USDT; the next report agrees.
        report(&mut r, 1000);
        r.advance(60_001);
        report(&mut r, 1000);
        r.advance(60_001);
        // 100 USDT more while an order of ours on Gate is in flight: not judged.
        r.books("49990", "50500");
        r.start(5);
        report(&mut r, 1100);
        r.advance(60_001);
        report(&mut r, 1100);
        r.advance(60_001);
        assert_eq!(r.s.stats().drift_mismatches.get(), 0, "a fill may be on its way");
        let d = r.done(r.u.gate_btc, "0");
        r.order(5, 0, 0, d);
        let d = r.done(r.u.mexc_btc, "0");
        r.order(5, 1, 0, d);
        r.run();
        // Calm now: one check is not yet a mismatch, two are, three halt Gate.io.
        report(&mut r, 1100);
        r.advance(60_001);
        assert_eq!(r.s.stats().drift_mismatches.get(), 0);
        report(&mut r, 1100);
        r.advance(60_001);
        assert_eq!(r.s.stats().drift_mismatches.get(), 1);
        assert!(!r.s.is_drift_halted(Venue::GateIo));
        let alerts = testkit::drain(&mut r.alerts);
        assert!(alerts.iter().any(|a| a.kind == AlertKind::BalanceDrift), "{alerts:?}");
        report(&mut r, 1100);
        r.advance(60_001);
        assert!(r.s.is_drift_halted(Venue::GateIo));
        assert!(!r.s.is_drift_halted(Venue::Mexc));
        for &i in &gate {
            assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: i, halted: true }), "{i:?}");
        }
        assert!(r.journal().iter().any(|rec| matches!(rec, Record::DriftHalt { venue: Venue::GateIo, account: 0, asset, expected, actual, .. }
            if *asset == usdt && *expected == Amount::from_int(1000) && *actual == Amount::from_int(1100))));
        // A crash.
    }
    let rep = replay(&dir).unwrap();
    assert!(rep.drift_halted[Venue::GateIo.index()]);
    let mut r = Rig::open(dir.clone(), Some(&rep));
    r.keep = true;
    assert!(r.s.is_drift_halted(Venue::GateIo), "the halt survives the restart");
    for &i in &gate {
        assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: i, halted: true }), "{i:?}");
    }
    let alerts = testkit::drain(&mut r.alerts);
    assert!(alerts.iter().any(|a| a.kind == AlertKind::DriftHalted && a.value == -1), "{alerts:?}");
    // The operator acknowledges: journaled, the gate hears the instruments are free.
    r.updates.clear();
    r.control.push(StateControl::AckDrift { venue: Some(Venue::GateIo) }).unwrap();
    r.run();
    assert!(!r.s.is_drift_halted(Venue::GateIo));
    for &i in &gate {
        assert!(r.updates.contains(&RiskUpdate::InstrumentHalt { inst: i, halted: false }), "{i:?}");
    }
    assert!(r.journal().iter().any(|rec| matches!(rec, Record::DriftAck { venue: Venue::GateIo, .. })));
    drop(r);
    let rep = replay(&dir).unwrap();
    assert!(!rep.drift_halted[Venue::GateIo.index()]);
    let _ = std::fs::remove_dir_all(&dir);
}
