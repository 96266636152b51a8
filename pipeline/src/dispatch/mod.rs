//! Stage 5, dispatch: journal every order's intent, then send it.
//!
//! - **Input rings:** `Rx<Execution>` from the risk gate; `Rx<Command>` from the state
//!   stage (recovery orders, cancels, queries, cancel-all, balance queries).
//! - **Output ring:** `Tx<StateInput>` to the state stage: `Executing` for every
//!   operation before any event of its orders, then `Sent`, `Rejected` or `Unknown` for
//!   each order as the sink took it, then everything the sink reports (acks, fills,
//!   statuses, balances). Nothing is ever dropped: events wait in a pre-sized outbox
//!   while the ring is full, and dispatch takes no new work while the outbox is nearly
//!   full.
//! - **State owned:** the sink (the venue connections), the dispatch journal writer
//!   (the write-ahead intent log), the outbox.
//! - **Invariants:** WRITE-AHEAD: an order's intent is written to the journal (one
//!   `write`, page cache) before the order is handed to the sink; all legs of an
//!   operation are journaled in one write, then sent back to back. No fsync runs here:
//!   the journal's sync thread group-commits off this thread, and restart reconciles the
//!   orders of a lost unsynced tail with the venues by client order id. If the journal
//!   cannot be written (or its last sync failed), no order is sent: each leg is reported
//!   `Rejected(Journal)` and the state stage halts trading. Cancels, queries and balance
//!   requests are journaled the same way and go out whether or not the journal works
//!   (they cannot add risk). Client order ids name op, leg and attempt. No allocation,
//!   lock or panic in `poll`.
//! - **Latency budget:** the journal write (one `write` of a few hundred bytes, about a
//!   microsecond) dominates; encoding and handing legs to the sink is a few hundred
//!   nanoseconds per leg plus the sink's own cost.
//!
//! Orders go out immediate-or-cancel; fill-or-kill when `prefer_fok` is set and the
//! instrument's venue offers it. Paper trading (`dry_run`) is the same dispatcher over a
//! [`PaperSink`], which fills against live books like a venue.

mod config;
mod paper;
mod sink;
mod stats;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use quanta::Clock;

pub use config::DispatchConfig;
pub use paper::{PaperBalance, PaperConfig, PaperSink};
pub use sink::{OrderRequest, OrderSink, SinkError};
pub use stats::{DispatchSnapshot, DispatchStats};

use crate::journal::{JournalWriter, Record, TimeInForce};
use crate::metrics::Recorder;
use crate::msg::{
    ClientOrderId, Command, Execution, Leg, OrderEvent, OrderUpdate, RejectReason, StateInput, VenueOrderId,
};
use crate::runtime::{Held, Rx, Stage, Tx};
use crate::types::Instruments;
use crate::units::now_ns;

/// The dispatcher's rings.
#[derive(Debug)]
pub struct DispatchRings {
    pub executions: Rx<Execution>,
    pub commands: Rx<Command>,
    pub state: Tx<StateInput>,
}

/// The dispatch stage over an order sink.
pub struct Dispatcher<S: OrderSink> {
    rings: DispatchRings,
    sink: S,
    journal: JournalWriter,
    instruments: Arc<Instruments>,
    clock: Clock,
    prefer_fok: bool,
    /// Events for the state stage its ring refused: retried, never dropped.
    outbox: Held<StateInput>,
    stats: Arc<DispatchStats>,
    /// Market data receive to the last leg handed to the venue connection, in ns.
    tick_to_trade: Option<Recorder>,
    /// Executions per instrument traded, for the cold side.
    by_instrument: Option<Arc<crate::cells::InstrumentCounters>>,
    /// Market data receive to the first leg handed to the venue connection, in ns.
    first_leg: Option<Recorder>,
}

impl<S: OrderSink> fmt::Debug for Dispatcher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher").field("outbox", &self.outbox.len()).finish_non_exhaustive()
    }
}

/// Work items taken per poll from each input.
const BATCH: usize = 32;
/// Outbox room kept free before new work is taken: an execution adds up to four events.
const ROOM: usize = 8;

impl<S: OrderSink> Dispatcher<S> {
    /// Builds the dispatcher. `journal` is the dispatch journal, opened by the wiring
    /// (`JournalWriter::open(dir, JournalKind::Dispatch)`).
    pub fn new(
        config: &DispatchConfig,
        instruments: Arc<Instruments>,
        rings: DispatchRings,
        sink: S,
        journal: JournalWriter,
        clock: Clock,
        stats: Arc<DispatchStats>,
    ) -> Self {
        let capacity = config.outbox_events.max(4 * ROOM);
        Self {
            rings,
            sink,
            journal,
            instruments,
            clock,
            prefer_fok: config.prefer_fok,
            outbox: Held::new(capacity),
            stats,
            tick_to_trade: None,
            by_instrument: None,
            first_leg: None,
        }
    }

    /// Records tick-to-trade (the trigger's receive time to the last leg sent) for every
    /// execution into `rec`, a series in nanoseconds.
    pub fn with_tick_to_trade(mut self, rec: Recorder) -> Self {
        self.tick_to_trade = Some(rec);
        self
    }

    /// Counts every execution in `counters` once per instrument it trades.
    pub fn with_executions_by_instrument(mut self, counters: Arc<crate::cells::InstrumentCounters>) -> Self {
        self.by_instrument = Some(counters);
        self
    }

    /// Records tick-to-trade to the first leg sent (the trigger's receive time to the
    /// first leg handed to the sink) for every execution into `rec`, in nanoseconds.
    pub fn with_first_leg(mut self, rec: Recorder) -> Self {
        self.first_leg = Some(rec);
        self
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    pub fn stats(&self) -> &Arc<DispatchStats> {
        &self.stats
    }

    fn room(&self) -> usize {
        self.outbox.room()
    }

    fn emit(&mut self, e: StateInput) {
        // Callers check `room` first, so the reserved capacity is never exceeded.
        self.outbox.hold(e);
        let n = self.outbox.len() as i64;
        if n > self.stats.outbox_high_water.get() {
            self.stats.outbox_high_water.set(n);
        }
    }

    fn order_event(&mut self, client: ClientOrderId, leg: &Leg, update: OrderUpdate, ts_ns: u64) {
        self.emit(StateInput::Order(OrderEvent {
            client,
            inst: leg.inst,
            side: leg.side,
            update,
            venue_order: VenueOrderId::default(),
            ts_ns,
        }));
    }

    fn tif(&self, leg: &Leg) -> TimeInForce {
        if self.prefer_fok && self.sink.supports_fok(leg.inst) { TimeInForce::Fok } else { TimeInForce::Ioc }
    }

    /// Hands one journaled order to the sink and reports what became of it.
    fn send(&mut self, client: ClientOrderId, leg: &Leg, tif: TimeInForce, now: u64) -> OrderUpdate {
        let Some(inst) = self.instruments.try_get(leg.inst) else {
            self.stats.orders_not_sent.inc();
            return OrderUpdate::Rejected(RejectReason::UnknownInstrument);
        };
        let req = OrderRequest {
            client,
            inst: leg.inst,
            venue: inst.venue,
            market: inst.market,
            side: leg.side,
            price: leg.price,
            qty: leg.qty,
            tif,
            ts_ns: now,
        };
        match self.sink.submit(&req) {
            Ok(()) => {
                self.stats.orders_sent.inc();
                OrderUpdate::Sent
            }
            Err(SinkError::NotSent(r)) => {
                self.stats.orders_not_sent.inc();
                OrderUpdate::Rejected(r)
            }
            Err(SinkError::Unknown) => {
                self.stats.orders_unknown.inc();
                OrderUpdate::Unknown
            }
        }
    }

    fn execute(&mut self, e: Execution) {
        self.stats.executions.inc();
        let now = now_ns(&self.clock);
        let legs = e.opp().legs();
        if let Some(c) = &self.by_instrument {
            for leg in legs {
                c.inc(leg.inst);
            }
        }
        let mut tifs = [TimeInForce::Ioc; crate::msg::MAX_LEGS];
        // WRITE-AHEAD: every leg's intent, in one write, before any leg is sent.
        let mut journaled = self
            .journal
            .append(&Record::OpIntent {
                op: e.op(),
                kind: e.opp().kind,
                n_legs: e.opp().n_legs,
                deadline_ns: e.deadline_ns(),
                ts_ns: now,
            })
            .is_ok();
        for (i, leg) in legs.iter().enumerate() {
            tifs[i] = self.tif(leg);
            let client = ClientOrderId { op: e.op(), leg: i as u8, attempt: 0 };
            journaled &= self
                .journal
                .append(&Record::OrderIntent { client, leg: *leg, tif: tifs[i], ts_ns: now })
                .is_ok();
        }
        journaled &= self.journal.commit().is_ok();
        let mut outcome = [OrderUpdate::Rejected(RejectReason::Journal); crate::msg::MAX_LEGS];
        if journaled {
            for (i, leg) in legs.iter().enumerate() {
                outcome[i] =
                    self.send(ClientOrderId { op: e.op(), leg: i as u8, attempt: 0 }, leg, tifs[i], now);
                match self.first_leg.as_mut() {
                    Some(rec) if i == 0 => {
                        rec.record(now_ns(&self.clock).saturating_sub(e.opp().trigger_ns));
                        rec.maybe_flush(self.clock.raw());
                    }
                    _ => {}
                }
            }
            if let Some(rec) = self.tick_to_trade.as_mut() {
                let sent = now_ns(&self.clock);
                rec.record(sent.saturating_sub(e.opp().trigger_ns));
                rec.maybe_flush(self.clock.raw());
            }
        } else {
            self.stats.journal_failures.inc();
        }
        self.emit(StateInput::Executing(e));
        for (i, leg) in legs.iter().enumerate() {
            self.order_event(ClientOrderId { op: e.op(), leg: i as u8, attempt: 0 }, leg, outcome[i], now);
        }
    }

    fn command(&mut self, c: Command) {
        let now = now_ns(&self.clock);
        match c {
            Command::Send { client, leg } => {
                self.stats.recovery_orders.inc();
                let tif = TimeInForce::Ioc;
                let journaled =
                    self.journal.write(&Record::OrderIntent { client, leg, tif, ts_ns: now }).is_ok();
                let update = if journaled {
                    self.send(client, &leg, tif, now)
                } else {
                    self.stats.journal_failures.inc();
                    OrderUpdate::Rejected(RejectReason::Journal)
                };
                self.order_event(client, &leg, update, now);
            }
            Command::Cancel { client, inst } => {
                self.stats.cancels.inc();
                self.request(Record::CancelIntent { client, inst, ts_ns: now }, |sink| {
                    sink.cancel(client, inst)
                });
            }
            Command::Query { client, inst } => {
                self.stats.queries.inc();
                self.request(Record::QueryIntent { client, inst, ts_ns: now }, |sink| {
                    sink.query(client, inst)
                });
            }
            Command::CancelAll => {
                self.stats.cancel_alls.inc();
                self.request(Record::CancelAll { ts_ns: now }, |sink| sink.cancel_all());
            }
            Command::QueryBalances { venue } => {
                self.stats.balance_queries.inc();
                self.request(Record::BalanceQuery { venue, ts_ns: now }, |sink| sink.query_balances(venue));
            }
        }
    }

    /// Journals a request that cannot add risk (a cancel, a query) and sends it, whether
    /// or not the journal works; a failed send is counted and the state stage retries.
    fn request(&mut self, rec: Record, send: impl FnOnce(&mut S) -> Result<(), SinkError>) {
        if self.journal.write(&rec).is_err() {
            self.stats.unjournaled.inc();
        }
        if send(&mut self.sink).is_err() {
            self.stats.requests_failed.inc();
        }
    }

    fn flush(&mut self) -> usize {
        let n = self.outbox.flush(&mut self.rings.state);
        self.stats.events_forwarded.add(n as u64);
        n
    }
}

impl<S: OrderSink> Stage for Dispatcher<S> {
    fn poll(&mut self) -> usize {
        let mut work = self.flush();
        // Recovery first: hedges and cancels matter more than new operations.
        for _ in 0..BATCH {
            if self.room() < ROOM {
                break;
            }
            let Some(c) = self.rings.commands.pop() else { break };
            self.command(c);
            work += 1;
        }
        for _ in 0..BATCH {
            if self.room() < ROOM {
                break;
            }
            let Some(e) = self.rings.executions.pop() else { break };
            self.execute(e);
            work += 1;
        }
        let room = self.room();
        if room > 0 {
            let outbox = &mut self.outbox;
            let taken = self.sink.poll(room, &mut |e| {
                outbox.hold(e);
            });
            work += taken;
        }
        work + self.flush()
    }

    fn stop(&mut self) {
        let _ = self.journal.sync();
        self.sink.stop();
        self.flush();
    }
}
