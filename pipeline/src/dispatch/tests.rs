//! Dispatch tests: write-ahead journaling, command handling, the outbox, the paper venue.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use quanta::Mock;

use super::*;
use crate::journal::tests::scratch;
use crate::journal::{JournalKind, read_file};
use crate::msg::{BalanceEvent, BookTop, MAX_LEGS, OppKind, Opportunity};
use crate::testkit::{self, Universe, px, qty, top};
use crate::types::{Amount, InstrumentId, Qty, Rate, Side, Venue};

const MS: u64 = 1_000_000;

/// What a test sink saw, shared with the test.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Submit(OrderRequest),
    Cancel(ClientOrderId),
    Query(ClientOrderId),
    CancelAll,
    Balances(Venue),
}

/// A sink that records calls, checks on every submit that the journal file already holds
/// the order's intent, and answers with scripted results.
struct CheckingSink {
    journal: PathBuf,
    calls: Arc<Mutex<Vec<Call>>>,
    submit_result: Result<(), SinkError>,
    fok: bool,
    events: Vec<StateInput>,
}

impl OrderSink for CheckingSink {
    fn submit(&mut self, order: &OrderRequest) -> Result<(), SinkError> {
        let j = read_file(&self.journal).expect("the journal is readable while sending");
        let intent = j.records().any(|r| {
            matches!(r, Record::OrderIntent { client, leg, .. }
            if *client == order.client && leg.qty == order.qty && leg.price == order.price)
        });
        assert!(intent, "order {:?} was submitted before its intent reached the journal", order.client);
        self.calls.lock().unwrap().push(Call::Submit(*order));
        self.submit_result
    }
    fn cancel(&mut self, client: ClientOrderId, _inst: InstrumentId) -> Result<(), SinkError> {
        self.calls.lock().unwrap().push(Call::Cancel(client));
        Ok(())
    }
    fn cancel_all(&mut self) -> Result<(), SinkError> {
        self.calls.lock().unwrap().push(Call::CancelAll);
        Ok(())
    }
    fn query(&mut self, client: ClientOrderId, _inst: InstrumentId) -> Result<(), SinkError> {
        self.calls.lock().unwrap().push(Call::Query(client));
        Err(SinkError::NotSent(RejectReason::Disconnected))
    }
    fn query_balances(&mut self, venue: Venue) -> Result<(), SinkError> {
        self.calls.lock().unwrap().push(Call::Balances(venue));
        Ok(())
    }
    fn supports_fok(&self, _inst: InstrumentId) -> bool {
        self.fok
    }
    fn poll(&mut self, max: usize, out: &mut dyn FnMut(StateInput)) -> usize {
        let n = max.min(self.events.len());
        for e in self.events.drain(..n) {
            out(e);
        }
        n
    }
}

struct Rig {
    d: Dispatcher<CheckingSink>,
    execs: Tx<Execution>,
    commands: Tx<Command>,
    state: Rx<StateInput>,
    calls: Arc<Mutex<Vec<Call>>>,
    dir: PathBuf,
    u: Universe,
}

impl Rig {
    fn new(config: DispatchConfig, state_cap: usize, submit_result: Result<(), SinkError>) -> Self {
        let u = testkit::universe();
        let dir = scratch("dispatch");
        let (journal, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = CheckingSink {
            journal: dir.join("dispatch.journal"),
            calls: calls.clone(),
            submit_result,
            fok: true,
            events: Vec::new(),
        };
        let (execs, exec_rx) = testkit::ring(16);
        let (commands, cmd_rx) = testkit::ring(16);
        let (state_tx, state) = testkit::ring(state_cap);
        let rings = DispatchRings { executions: exec_rx, commands: cmd_rx, state: state_tx };
        let d = Dispatcher::new(
            &config,
            u.instruments.clone(),
            rings,
            sink,
            journal,
            Clock::mock().0,
            Arc::default(),
        );
        Self { d, execs, commands, state, calls, dir, u }
    }

    fn exec(&self, op: u64) -> Execution {
        let (g, m) = (self.u.instruments.get(self.u.gate_btc), self.u.instruments.get(self.u.mexc_btc));
        let mut legs = [Leg::default(); MAX_LEGS];
        legs[0] = Leg { inst: g.id, side: Side::Buy, price: px(g, "50000"), qty: qty(g, "0.01") };
        legs[1] = Leg { inst: m.id, side: Side::Sell, price: px(m, "50500"), qty: qty(m, "0.01") };
        Execution::new(
            op,
            Opportunity {
                id: 1,
                kind: OppKind::SpotSpot,
                n_legs: 2,
                legs,
                expected_profit: Amount::ONE,
                edge: Rate::from_bps(50),
                notional: Amount::from_int(505),
                slippage: Rate::ZERO,
                trigger_ns: 0,
                oldest_ns: 0,
                detected_ns: 0,
            },
            0,
            2_000 * MS,
        )
    }

    fn run(&mut self) -> Vec<StateInput> {
        while self.d.poll() > 0 {}
        testkit::drain(&mut self.state)
    }

    fn journal(&self) -> Vec<Record> {
        read_file(&self.dir.join("dispatch.journal")).unwrap().records().copied().collect()
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn updates(events: &[StateInput]) -> Vec<(ClientOrderId, OrderUpdate)> {
    events
        .iter()
        .filter_map(|e| match e {
            StateInput::Order(o) => Some((o.client, o.update)),
            _ => None,
        })
        .collect()
}

fn cid(op: u64, leg: u8, attempt: u8) -> ClientOrderId {
    ClientOrderId { op, leg, attempt }
}

#[test]
fn every_leg_is_journaled_before_any_is_sent() {
    let mut rig = Rig::new(DispatchConfig::default(), 64, Ok(()));
    let e = rig.exec(7);
    rig.execs.push(e).unwrap();
    let events = rig.run();
    // The sink asserted the journal on each submit; both legs went out, IOC, in order.
    let calls = rig.calls();
    assert_eq!(calls.len(), 2);
    for (i, c) in calls.iter().enumerate() {
        let Call::Submit(r) = c else { panic!("{c:?}") };
        assert_eq!(r.client, cid(7, i as u8, 0));
        assert_eq!(r.tif, TimeInForce::Ioc);
        assert_eq!(
            (r.price, r.qty, r.side),
            (e.opp().legs[i].price, e.opp().legs[i].qty, e.opp().legs[i].side)
        );
    }
    assert_eq!(events[0], StateInput::Executing(e));
    assert_eq!(updates(&events), vec![(cid(7, 0, 0), OrderUpdate::Sent), (cid(7, 1, 0), OrderUpdate::Sent)]);
    let j = rig.journal();
    assert!(matches!(j[0], Record::OpIntent { op: 7, n_legs: 2, .. }));
    assert!(matches!(j[1], Record::OrderIntent { client, .. } if client == cid(7, 0, 0)));
    assert!(matches!(j[2], Record::OrderIntent { client, .. } if client == cid(7, 1, 0)));
    assert_eq!(rig.d.stats().snapshot().orders_sent, 2);
}

#[test]
fn nothing_is_fsynced_on_the_dispatch_thread() {
    // Orders, recovery orders, cancels, queries and balance requests are written (the
    // sink checked each intent was in the file before it went out) and none of them is
    // made durable here: the synced length stays what open found until the journal's
    // sync thread, or the stop, syncs.
    let mut rig = Rig::new(DispatchConfig::default(), 64, Ok(()));
    let at_open = rig.d.journal.synced_len();
    let e = rig.exec(3);
    let (leg, inst) = (e.opp().legs[0], e.opp().legs[0].inst);
    rig.execs.push(e).unwrap();
    rig.commands.push(Command::Send { client: cid(3, 0, 1), leg }).unwrap();
    rig.commands.push(Command::Cancel { client: cid(3, 0, 0), inst }).unwrap();
    rig.commands.push(Command::Query { client: cid(3, 0, 0), inst }).unwrap();
    rig.commands.push(Command::QueryBalances { venue: Venue::GateIo }).unwrap();
    rig.run();
    assert_eq!(rig.journal().len(), 7, "every request journaled");
    assert!(rig.d.journal.len() > at_open);
    assert_eq!(rig.d.journal.synced_len(), at_open, "no fsync on the dispatch thread");
    rig.d.stop();
    assert_eq!(rig.d.journal.synced_len(), rig.d.journal.len(), "the stop syncs");
}

#[test]
fn fill_or_kill_is_used_where_asked_and_offered() {
    let mut rig = Rig::new(DispatchConfig { prefer_fok: true, ..Default::default() }, 64, Ok(()));
    rig.execs.push(rig.exec(1)).unwrap();
    rig.run();
    assert!(rig.calls().iter().all(|c| matches!(c, Call::Submit(r) if r.tif == TimeInForce::Fok)));
}

#[test]
fn a_broken_journal_sends_nothing() {
    let mut rig = Rig::new(DispatchConfig::default(), 64, Ok(()));
    rig.d.journal.break_for_test();
    rig.execs.push(rig.exec(3)).unwrap();
    rig.commands.push(Command::Send { client: cid(2, 0, 1), leg: rig.exec(2).opp().legs[0] }).unwrap();
    rig.commands.push(Command::CancelAll).unwrap();
    let events = rig.run();
    assert_eq!(rig.calls(), vec![Call::CancelAll], "only the cancel-all goes out");
    assert_eq!(
        updates(&events),
        vec![
            (cid(2, 0, 1), OrderUpdate::Rejected(RejectReason::Journal)),
            (cid(3, 0, 0), OrderUpdate::Rejected(RejectReason::Journal)),
            (cid(3, 1, 0), OrderUpdate::Rejected(RejectReason::Journal)),
        ]
    );
    assert_eq!(rig.d.stats().snapshot().journal_failures, 2);
}

#[test]
fn sink_refusals_and_unknown_outcomes_are_reported() {
    let mut rig =
        Rig::new(DispatchConfig::default(), 64, Err(SinkError::NotSent(RejectReason::Disconnected)));
    rig.execs.push(rig.exec(1)).unwrap();
    let ev = rig.run();
    assert_eq!(updates(&ev)[0].1, OrderUpdate::Rejected(RejectReason::Disconnected));
    let mut rig = Rig::new(DispatchConfig::default(), 64, Err(SinkError::Unknown));
    rig.execs.push(rig.exec(1)).unwrap();
    let ev = rig.run();
    assert_eq!(
        updates(&ev),
        vec![(cid(1, 0, 0), OrderUpdate::Unknown), (cid(1, 1, 0), OrderUpdate::Unknown)]
    );
}

#[test]
fn recovery_commands_are_journaled_then_sent() {
    let mut rig = Rig::new(DispatchConfig::default(), 64, Ok(()));
    let leg = rig.exec(9).opp().legs[1];
    let inst = leg.inst;
    rig.commands.push(Command::Send { client: cid(9, 1, 1), leg }).unwrap();
    rig.commands.push(Command::Cancel { client: cid(9, 0, 0), inst }).unwrap();
    rig.commands.push(Command::Query { client: cid(9, 0, 0), inst }).unwrap();
    rig.commands.push(Command::QueryBalances { venue: Venue::Mexc }).unwrap();
    let events = rig.run();
    assert_eq!(updates(&events), vec![(cid(9, 1, 1), OrderUpdate::Sent)]);
    let calls = rig.calls();
    assert!(matches!(calls[0], Call::Submit(r) if r.client == cid(9, 1, 1) && r.tif == TimeInForce::Ioc));
    assert_eq!(
        &calls[1..],
        &[Call::Cancel(cid(9, 0, 0)), Call::Query(cid(9, 0, 0)), Call::Balances(Venue::Mexc)]
    );
    let kinds: Vec<_> = rig.journal().iter().map(|r| r.kind()).collect();
    use crate::journal::RecordKind as K;
    assert_eq!(kinds, vec![K::OrderIntent, K::CancelIntent, K::QueryIntent, K::BalanceQuery]);
    // The query failed to go out: counted, so the state stage's retry is visible.
    assert_eq!(rig.d.stats().requests_failed.get(), 1);
}

#[test]
fn a_full_state_ring_loses_nothing() {
    let mut rig = Rig::new(DispatchConfig::default(), 2, Ok(()));
    for op in 1..=5 {
        rig.execs.push(rig.exec(op)).unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..50 {
        rig.d.poll();
        seen.extend(testkit::drain(&mut rig.state));
    }
    // Five operations, three events each, in order.
    assert_eq!(seen.len(), 15);
    let ops: Vec<u64> = seen
        .iter()
        .filter_map(|e| match e {
            StateInput::Executing(x) => Some(x.op()),
            _ => None,
        })
        .collect();
    assert_eq!(ops, vec![1, 2, 3, 4, 5]);
}

// ---- The paper venue ----

struct Paper {
    sink: PaperSink,
    books: Tx<BookTop>,
    mock: Arc<Mock>,
    u: Universe,
}

fn paper(latency_ms: u64) -> Paper {
    let u = testkit::universe();
    let (clock, mock) = Clock::mock();
    let (books, rx) = testkit::ring(64);
    let config = PaperConfig {
        latency_ms,
        balances: vec![
            PaperBalance {
                venue: Venue::GateIo,
                asset: "USDT".into(),
                amount: crate::units::Exact(Amount::from_int(10_000)),
            },
            PaperBalance {
                venue: Venue::GateIo,
                asset: "BTC".into(),
                amount: crate::units::Exact(Amount::from_int(1)),
            },
        ],
        ..Default::default()
    };
    let sink = PaperSink::new(&config, u.instruments.clone(), rx, clock).unwrap();
    Paper { sink, books, mock, u }
}

impl Paper {
    fn order(&self, op: u64, side: Side, price: &str, q: &str, tif: TimeInForce) -> OrderRequest {
        let g = self.u.instruments.get(self.u.gate_btc);
        OrderRequest {
            client: cid(op, 0, 0),
            inst: g.id,
            venue: g.venue,
            market: g.market,
            side,
            price: px(g, price),
            qty: qty(g, q),
            tif,
            ts_ns: 0,
        }
    }

    fn events(&mut self) -> Vec<StateInput> {
        let mut v = Vec::new();
        self.sink.poll(usize::MAX, &mut |e| v.push(e));
        v
    }

    fn book(&mut self) {
        let g = self.u.instruments.get(self.u.gate_btc).clone();
        self.books
            .push(top(&g, 0, &[("49990", "0.5")], &[("50000", "0.01"), ("50010", "0.02"), ("50050", "1")]))
            .unwrap();
    }
}

fn order_updates(events: &[StateInput]) -> Vec<OrderUpdate> {
    updates(events).into_iter().map(|(_, u)| u).collect()
}

#[test]
fn the_paper_venue_fills_against_depth_after_its_latency() {
    let mut p = paper(5);
    p.book();
    let start = p.events();
    assert_eq!(start.iter().filter(|e| matches!(e, StateInput::Balance(_))).count(), 2, "starting balances");
    let g = p.u.instruments.get(p.u.gate_btc).clone();
    // Buy 0.05 BTC up to 50010: the book has 0.03 within the limit: a partial fill.
    p.sink.submit(&p.order(1, Side::Buy, "50010", "0.05", TimeInForce::Ioc)).unwrap();
    assert!(p.events().is_empty(), "nothing before the latency passes");
    p.mock.increment(5 * MS);
    let ev = p.events();
    let u = order_updates(&ev);
    let fee1 = Amount::parse("0.5").unwrap(); // 500 USDT * 0.1%
    let fee2 = Amount::parse("1.0002").unwrap(); // 1000.2 USDT * 0.1%
    let usdt = p.u.instruments.find_asset("USDT").unwrap();
    let btc = p.u.instruments.find_asset("BTC").unwrap();
    assert_eq!(
        u,
        vec![
            OrderUpdate::Accepted,
            OrderUpdate::Fill {
                price: px(&g, "50000"),
                qty: qty(&g, "0.01"),
                cum_qty: qty(&g, "0.01"),
                fee: fee1,
                fee_asset: usdt,
                trade_id: 1
            },
            OrderUpdate::Fill {
                price: px(&g, "50010"),
                qty: qty(&g, "0.02"),
                cum_qty: qty(&g, "0.03"),
                fee: fee2,
                fee_asset: usdt,
                trade_id: 2
            },
            OrderUpdate::Done { filled: qty(&g, "0.03") },
        ]
    );
    // Balances moved: 1500.2 USDT plus fees out, 0.03 BTC in.
    assert_eq!(p.sink.balance(Venue::GateIo, usdt), Amount::parse("8498.2998").unwrap());
    assert_eq!(p.sink.balance(Venue::GateIo, btc), Amount::parse("1.03").unwrap());
    let balances: Vec<BalanceEvent> = ev
        .iter()
        .filter_map(|e| match e {
            StateInput::Balance(b) => Some(*b),
            _ => None,
        })
        .collect();
    assert_eq!(balances.len(), 2);
    // The liquidity taken is gone until the next book update: a second buy at 50010 gets nothing.
    p.sink.submit(&p.order(2, Side::Buy, "50010", "0.01", TimeInForce::Ioc)).unwrap();
    p.mock.increment(5 * MS);
    assert_eq!(
        order_updates(&p.events()),
        vec![OrderUpdate::Accepted, OrderUpdate::Done { filled: Qty::ZERO }]
    );
    // A query answers from the history.
    p.sink.query(cid(1, 0, 0), g.id).unwrap();
    let q = order_updates(&p.events());
    assert_eq!(
        q,
        vec![OrderUpdate::Status {
            filled: qty(&g, "0.03"),
            value: Amount::parse("1500.2").unwrap(),
            fee: Amount::parse("1.5002").unwrap(),
            fee_asset: usdt,
            open: false,
        }]
    );
    p.sink.query(cid(99, 0, 0), g.id).unwrap();
    assert_eq!(order_updates(&p.events()), vec![OrderUpdate::Rejected(RejectReason::NotFound)]);
}

#[test]
fn the_paper_venue_rejects_like_a_venue() {
    let mut p = paper(0);
    p.book();
    p.events();
    let orders = [
        (p.order(1, Side::Buy, "50000.05", "0.01", TimeInForce::Ioc), RejectReason::BadPrecision),
        (p.order(2, Side::Buy, "50000", "0.00005", TimeInForce::Ioc), RejectReason::BadPrecision),
        (p.order(3, Side::Buy, "100", "0.0001", TimeInForce::Ioc), RejectReason::BelowMinimum),
        (p.order(4, Side::Buy, "50010", "0.5", TimeInForce::Ioc), RejectReason::InsufficientBalance),
        (p.order(5, Side::Sell, "49990", "2", TimeInForce::Ioc), RejectReason::InsufficientBalance),
        (p.order(6, Side::Buy, "50010", "0.05", TimeInForce::Fok), RejectReason::WouldNotFill),
    ];
    for (o, why) in orders {
        p.sink.submit(&o).unwrap();
        assert_eq!(order_updates(&p.events()), vec![OrderUpdate::Rejected(why)], "{o:?}");
    }
    // A fill-or-kill the book can fill goes through completely.
    p.sink.submit(&p.order(7, Side::Buy, "50010", "0.03", TimeInForce::Fok)).unwrap();
    let u = order_updates(&p.events());
    assert_eq!(u.last(), Some(&OrderUpdate::Done { filled: qty(p.u.instruments.get(p.u.gate_btc), "0.03") }));
}

#[test]
fn orders_in_flight_can_be_cancelled_and_queried() {
    let mut p = paper(10);
    p.book();
    p.events();
    p.sink.submit(&p.order(1, Side::Buy, "50010", "0.01", TimeInForce::Ioc)).unwrap();
    p.sink.submit(&p.order(2, Side::Buy, "50010", "0.01", TimeInForce::Ioc)).unwrap();
    let g = p.u.gate_btc;
    p.sink.query(cid(1, 0, 0), g).unwrap();
    assert!(matches!(order_updates(&p.events())[..], [OrderUpdate::Status { open: true, .. }]));
    p.sink.cancel(cid(1, 0, 0), g).unwrap();
    assert_eq!(order_updates(&p.events()), vec![OrderUpdate::Done { filled: Qty::ZERO }]);
    p.sink.cancel_all().unwrap();
    assert_eq!(order_updates(&p.events()), vec![OrderUpdate::Done { filled: Qty::ZERO }]);
    assert_eq!(p.sink.pending(), 0);
    p.mock.increment(20 * MS);
    assert!(p.events().is_empty());
}

#[test]
fn the_paper_dispatcher_runs_an_operation_end_to_end() {
    // Dispatcher over the paper venue: both legs fill against the books.
    let u = testkit::universe();
    let dir = scratch("paper-e2e");
    let (clock, mock) = Clock::mock();
    let (mut books, books_rx) = testkit::ring(16);
    let config = PaperConfig {
        latency_ms: 1,
        balances: vec![
            PaperBalance {
                venue: Venue::GateIo,
                asset: "USDT".into(),
                amount: crate::units::Exact(Amount::from_int(10_000)),
            },
            PaperBalance {
                venue: Venue::Mexc,
                asset: "BTC".into(),
                amount: crate::units::Exact(Amount::from_int(1)),
            },
        ],
        ..Default::default()
    };
    let sink = PaperSink::new(&config, u.instruments.clone(), books_rx, clock.clone()).unwrap();
    let (journal, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    let (mut execs, exec_rx) = testkit::ring(4);
    let (_commands, cmd_rx) = testkit::ring(4);
    let (state_tx, mut state) = testkit::ring(256);
    let rings = DispatchRings { executions: exec_rx, commands: cmd_rx, state: state_tx };
    let mut d = Dispatcher::new(
        &DispatchConfig::default(),
        u.instruments.clone(),
        rings,
        sink,
        journal,
        clock,
        Arc::default(),
    );
    let (g, m) = (u.instruments.get(u.gate_btc).clone(), u.instruments.get(u.mexc_btc).clone());
    books.push(top(&g, 0, &[("49990", "1")], &[("50000", "1")])).unwrap();
    books.push(top(&m, 0, &[("50500", "1")], &[("50510", "1")])).unwrap();
    let rig = Rig::new(DispatchConfig::default(), 4, Ok(()));
    execs.push(rig.exec(1)).unwrap();
    d.poll();
    mock.increment(MS);
    d.poll();
    let events = testkit::drain(&mut state);
    let done: Vec<_> =
        updates(&events).into_iter().filter(|(_, u)| matches!(u, OrderUpdate::Done { .. })).collect();
    assert_eq!(
        done,
        vec![
            (cid(1, 0, 0), OrderUpdate::Done { filled: qty(&g, "0.01") }),
            (cid(1, 1, 0), OrderUpdate::Done { filled: qty(&m, "0.01") }),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_paper_venue_credits_a_configured_asset_once_an_added_instrument_brings_it() {
    use crate::types::{AssetId, Instruments, Market};
    let mut t = Instruments::from_specs(&[testkit::spec(
        Venue::GateIo,
        Market::Spot,
        "BTC_USDT",
        "BTC",
        "USDT",
        "0.1",
        "0.0001",
        "3",
        "1",
        "0.001",
    )])
    .unwrap();
    t.reserve(4, 4);
    let t = Arc::new(t);
    let (clock, _mock) = Clock::mock();
    let (_books, rx) = testkit::ring(8);
    let balance = |asset: &str, amount: i64| PaperBalance {
        venue: Venue::GateIo,
        asset: asset.into(),
        amount: crate::units::Exact(Amount::from_int(amount)),
    };
    // SOL is traded by no instrument at start: held, not refused.
    let config =
        PaperConfig { balances: vec![balance("USDT", 10_000), balance("SOL", 200)], ..Default::default() };
    let mut sink = PaperSink::new(&config, t.clone(), rx, clock).unwrap();
    let balances = |sink: &mut PaperSink| {
        sink.query_balances(Venue::GateIo).unwrap();
        let mut v = Vec::new();
        sink.poll(usize::MAX, &mut |e| v.push(e));
        v.into_iter()
            .filter_map(|e| match e {
                StateInput::Balance(b) => Some((b.asset, b.available)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    // The first poll announces every venue's balances: taken first.
    sink.poll(usize::MAX, &mut |_| {});
    let usdt = t.find_asset("USDT").unwrap();
    assert_eq!(balances(&mut sink), [(usdt, Amount::from_int(10_000))]);
    // SOL/USDT added while running: SOL takes the next asset slot and its balance.
    t.append(&testkit::spec(
        Venue::GateIo,
        Market::Spot,
        "SOL_USDT",
        "SOL",
        "USDT",
        "0.01",
        "0.001",
        "3",
        "1",
        "0.001",
    ))
    .unwrap();
    let sol = t.find_asset("SOL").unwrap();
    assert_eq!(sol, AssetId(2));
    let mut seen = balances(&mut sink);
    seen.sort_by_key(|(a, _)| a.0);
    assert_eq!(seen, [(usdt, Amount::from_int(10_000)), (sol, Amount::from_int(200))]);
    assert_eq!(sink.balance(Venue::GateIo, sol), Amount::from_int(200));
    assert_eq!(sink.balance(Venue::Mexc, sol), Amount::ZERO, "per venue");
}
