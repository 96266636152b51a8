//! Stage 2, book: one L2 book per instrument, kept in sync with its venue.
//!
//! - **Input ring:** `Rx<MdEvent>` from the md stage (`DropAndCount`: an overflow means
//!   updates were lost, so every book resyncs).
//! - **Output rings:** `Tx<BookTop>` to each consumer (detection, the state stage, the
//!   paper-trading sink), coalesced: a book that changes twice before a consumer has room
//!   is published once, with its latest state, so a slow consumer never sees stale tops
//!   and the book never blocks. `Tx<Resync>` back to the md stage (`Retry`: a refused
//!   request is held, one per instrument at most, and sent again first).
//! - **State owned:** the books ([`Books`]), indexed by instrument id, each with its
//!   sync state ([`L2Book`]) and ladders ([`Ladder`]); per consumer, the books changed
//!   since it last took one; the held resync requests; the counters the cold side reads
//!   ([`BookCounters`]).
//! - **Invariants:** a book that is not synced publishes no levels, so detection can
//!   never trade on it; an update is applied whole or not at all; nothing allocates per
//!   update once the ladders are warm (`tests/book_no_alloc.rs`).
//! - **Latency budget:** well under a microsecond per update; see perf/book.md.

#[allow(clippy::module_inception)]
mod book;
mod config;
mod ladder;
mod stats;
mod sync_time;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

pub use book::{BookEffect, L2Book};
pub use config::BookConfig;
pub use ladder::{Ladder, LadderFull, MAX_LEVELS, WINDOW_TICKS};
pub use stats::{BookCounterSnapshot, BookCounters, BookStats};
pub use sync_time::{AllSynced, ResyncPercentiles, SyncTimes, share as all_synced_share};

use crate::metrics::Recorder;
use crate::msg::{BookTop, Level, MdBody, MdEvent, Resync};
use crate::runtime::{Held, Rx, Stage, Tx};
use crate::types::{InstrumentId, Instruments, Price};

/// Every instrument's book, by id; a slot is empty once its instrument was removed
/// while running.
#[derive(Clone, Debug)]
pub struct Books {
    books: Vec<Option<L2Book>>,
    cfg: BookConfig,
}

impl Books {
    /// Books for instruments `0..ticks.len()`, instrument `i` moving in steps of
    /// `ticks[i]` (its tick in its own price units).
    pub fn new(ticks: &[Price], cfg: BookConfig) -> Self {
        Self {
            books: ticks
                .iter()
                .enumerate()
                .map(|(i, &tick)| Some(L2Book::new(InstrumentId(i as u16), tick, cfg)))
                .collect(),
            cfg,
        }
    }

    /// Allocates the book of `inst` (an instrument added while running; cold: this
    /// allocates), unless it has one.
    pub fn add(&mut self, inst: InstrumentId, tick: Price) {
        let i = inst.index();
        if self.books.len() <= i {
            self.books.resize_with(i + 1, || None);
        }
        if self.books[i].is_none() {
            self.books[i] = Some(L2Book::new(inst, tick, self.cfg));
        }
    }

    /// Frees the book of `inst` (removed while running): later events for it are
    /// ignored.
    pub fn remove(&mut self, inst: InstrumentId) {
        if let Some(b) = self.books.get_mut(inst.index()) {
            *b = None;
        }
    }

    /// Whether `inst` has a slot, allocated or freed (an id past them is new).
    pub fn knows(&self, inst: InstrumentId) -> bool {
        inst.index() < self.books.len()
    }

    /// A book for every instrument of the table, on its tick.
    pub fn for_instruments(instruments: &Instruments, cfg: BookConfig) -> Self {
        let ticks: Vec<Price> = instruments.iter().map(|i| i.tick).collect();
        Self::new(&ticks, cfg)
    }

    /// Applies one event; events for unknown instruments are ignored.
    #[inline]
    pub fn apply(&mut self, ev: &MdEvent, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        if let Some(Some(b)) = self.books.get_mut(ev.inst.index()) {
            b.apply(ev, now_ns, fx);
        }
    }

    /// Marks every book unsynced (the md ring overflowed: updates were lost).
    pub fn lose_all(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        for b in self.books.iter_mut().flatten() {
            let ev = MdEvent {
                inst: b.inst(),
                recv_ns: now_ns,
                exch_ms: 0,
                body: crate::msg::MdBody::FeedLost { reason: crate::msg::FeedLoss::Overflow },
            };
            b.apply(&ev, now_ns, fx);
        }
    }

    pub fn maintain(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        for b in self.books.iter_mut().flatten() {
            b.maintain(now_ns, fx);
        }
    }

    pub fn get(&self, inst: InstrumentId) -> Option<&L2Book> {
        self.books.get(inst.index()).and_then(Option::as_ref)
    }

    /// The allocated books, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &L2Book> {
        self.books.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.books.len()
    }

    /// Memory the books hold: their size in place plus their heaps.
    pub fn memory_bytes(&self) -> usize {
        self.books.capacity() * std::mem::size_of::<Option<L2Book>>()
            + self.iter().map(L2Book::heap_bytes).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }
}

/// Publishes one book's counters and best levels for the cold side.
fn publish(counters: &BookCounters, b: &L2Book) {
    let s = b.stats();
    let c = BookCounterSnapshot {
        synced: b.is_synced(),
        last_id: b.last_id(),
        gaps: s.gaps,
        resyncs: s.resyncs,
        updates: s.updates + s.snapshots,
        first_synced_ns: s.first_synced_ns,
        bytes: (std::mem::size_of::<L2Book>() + b.heap_bytes()) as u64,
        ..BookCounterSnapshot::default()
    };
    counters.publish(b.inst(), c, b.bids().best().unwrap_or_default(), b.asks().best().unwrap_or_default());
}

/// A consumer of book tops with its own coalescing queue.
struct Output {
    tx: Tx<BookTop>,
    dirty: Vec<bool>,
    queue: Vec<InstrumentId>,
}

/// The book stage.
pub struct BookBuilder {
    books: Books,
    rx: Rx<MdEvent>,
    outputs: Vec<Output>,
    resync_tx: Tx<Resync>,
    /// Resync requests the md ring refused, one per instrument at most (retried).
    resync_held: Held<Resync>,
    clock: quanta::Clock,
    counters: Arc<BookCounters>,
    top: BookTop,
    batch: usize,
    polls: u32,
    /// Resync times and the all-synced time.
    times: SyncTimes,
    /// Every resync time, for the metrics hub (`book.resync`); none in tests and tools.
    resync_rec: Option<Recorder>,
    /// The shared instrument table, for the tick of an instrument added while running.
    table: Option<Arc<Instruments>>,
}

impl fmt::Debug for BookBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BookBuilder").field("books", &self.books.len()).finish_non_exhaustive()
    }
}

/// Polls between maintenance passes (staleness, resync retries, counters).
const POLLS_PER_MAINTENANCE: u32 = 1024;

impl BookBuilder {
    /// The stage for instruments `0..ticks.len()`, each on its tick (see [`Books::new`]).
    pub fn new(
        ticks: &[Price],
        cfg: BookConfig,
        rx: Rx<MdEvent>,
        outputs: Vec<Tx<BookTop>>,
        resync_tx: Tx<Resync>,
        clock: quanta::Clock,
        counters: Arc<BookCounters>,
    ) -> Self {
        let instruments = ticks.len();
        let outputs = outputs
            .into_iter()
            .map(|tx| Output { tx, dirty: vec![false; instruments], queue: Vec::with_capacity(instruments) })
            .collect();
        Self {
            books: Books::new(ticks, cfg),
            rx,
            outputs,
            resync_tx,
            resync_held: Held::new(instruments),
            clock,
            counters,
            top: BookTop::unsynced(InstrumentId(0), 0),
            batch: 256,
            polls: 0,
            times: SyncTimes::new(instruments),
            resync_rec: None,
            table: None,
        }
    }

    /// Records every resync time into `rec` as well (the hub's `book.resync` series).
    pub fn with_resync_recorder(mut self, rec: Recorder) -> Self {
        self.resync_rec = Some(rec);
        self
    }

    /// Takes instruments added while running from `table` (the shared table the ids
    /// index), sizing the per-instrument queues for its capacity now so that an addition
    /// reallocates nothing but the new book and its timing.
    pub fn with_instruments(mut self, table: Arc<Instruments>) -> Self {
        let cap = table.capacity().max(self.books.len());
        for o in &mut self.outputs {
            o.dirty.resize(cap, false);
            o.queue.reserve(cap.saturating_sub(o.queue.capacity()));
        }
        self.resync_held = Held::new(cap);
        self.table = Some(table);
        self
    }

    /// An instrument added (`added`) or removed while running: allocates or frees its
    /// book (cold). An added one without a table, or past the table, is ignored.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn on_listed(
        books: &mut Books,
        times: &mut SyncTimes,
        counters: &BookCounters,
        table: &Option<Arc<Instruments>>,
        outputs: &mut [Output],
        inst: InstrumentId,
        added: bool,
        now_ns: u64,
    ) {
        if added {
            let Some(tick) = table.as_ref().and_then(|t| t.try_get(inst)).map(|i| i.tick) else { return };
            if outputs.iter().any(|o| o.dirty.len() <= inst.index()) {
                return;
            }
            books.add(inst, tick);
            times.add(inst.index(), now_ns);
        } else {
            books.remove(inst);
            times.remove(inst.index(), now_ns);
            // The cold side sees it gone: not synced, no memory.
            counters.publish(inst, BookCounterSnapshot::default(), Level::default(), Level::default());
        }
        // Detection and the state stage see an unsynced top for it either way.
        let top = BookTop::unsynced(inst, now_ns);
        for o in outputs.iter_mut() {
            let _ = o.tx.push(top);
        }
    }

    /// Resync times and the all-synced time so far.
    pub fn sync_times(&self) -> &SyncTimes {
        &self.times
    }

    /// Notes book `i`'s sync state after it may have changed.
    #[inline]
    fn note_sync(times: &mut SyncTimes, rec: &mut Option<Recorder>, b: &L2Book, now_ns: u64) {
        if let Some(ns) = times.note(b.inst().index(), b.is_synced(), now_ns) {
            if let Some(r) = rec {
                r.record(ns);
            }
        }
    }

    /// Notes every book's sync state (after a pass that may have changed many).
    fn note_all(&mut self, now_ns: u64) {
        for b in self.books.iter() {
            Self::note_sync(&mut self.times, &mut self.resync_rec, b, now_ns);
        }
    }

    /// Publishes every book's counters, resync percentiles and the all-synced totals.
    fn publish_counters(&mut self, now_ns: u64) {
        for b in self.books.iter() {
            publish(&self.counters, b);
            if let Some(p) = self.times.percentiles_if_changed(b.inst().index()) {
                self.counters.publish_resyncs(b.inst(), p);
            }
        }
        self.counters.publish_all_synced(self.times.all().totals(now_ns));
    }

    pub fn books(&self) -> &Books {
        &self.books
    }

    fn effect(outputs: &mut [Output], resync: &mut Held<Resync>, fx: BookEffect) {
        match fx {
            BookEffect::Changed(inst) => {
                for o in outputs.iter_mut() {
                    if let Some(d) = o.dirty.get_mut(inst.index()) {
                        if !*d {
                            *d = true;
                            o.queue.push(inst);
                        }
                    }
                }
            }
            BookEffect::Resync(inst) => {
                let r = Resync { inst };
                if !resync.contains(&r) {
                    // One per instrument: the holder is sized for every instrument.
                    resync.hold(r);
                }
            }
        }
    }

    fn publish(&mut self) -> usize {
        let mut sent = 0;
        for o in &mut self.outputs {
            let mut done = 0;
            for &inst in &o.queue {
                let Some(b) = self.books.get(inst) else {
                    done += 1;
                    continue;
                };
                b.top(&mut self.top);
                if o.tx.push(self.top).is_err() {
                    break;
                }
                o.dirty[inst.index()] = false;
                done += 1;
            }
            o.queue.drain(..done);
            sent += done;
        }
        sent + self.resync_held.flush(&mut self.resync_tx)
    }
}

impl Stage for BookBuilder {
    fn poll(&mut self) -> usize {
        let now = crate::clock::now_ns(&self.clock);
        let (books, outputs, resync) = (&mut self.books, &mut self.outputs, &mut self.resync_held);
        let (times, rec) = (&mut self.times, &mut self.resync_rec);
        let (counters, table) = (&self.counters, &self.table);
        let overflow = self.rx.take_overflow();
        if overflow {
            self.counters.note_md_overflow();
            books.lose_all(now, &mut |e| Self::effect(outputs, resync, e));
        }
        let n = self.rx.drain(self.batch, |ev| {
            if let MdBody::Listed { added } = ev.body {
                Self::on_listed(books, times, counters, table, outputs, ev.inst, added, now);
                return;
            }
            if !books.knows(ev.inst) {
                // Added while running, its listing lost to an overflow.
                Self::on_listed(books, times, counters, table, outputs, ev.inst, true, now);
            }
            books.apply(&ev, now, &mut |e| Self::effect(outputs, resync, e));
            if let Some(b) = books.get(ev.inst) {
                Self::note_sync(times, rec, b, now);
            }
        });
        let mut fx = |e| Self::effect(&mut self.outputs, &mut self.resync_held, e);
        let books = &mut self.books;
        self.polls = self.polls.wrapping_add(1);
        let maintain = self.polls % POLLS_PER_MAINTENANCE == 0;
        if maintain {
            books.maintain(now, &mut fx);
        }
        if overflow || maintain {
            self.note_all(now);
        }
        if maintain {
            self.publish_counters(now);
            if let Some(r) = &mut self.resync_rec {
                r.maybe_flush(self.clock.raw());
            }
        }
        n + self.publish()
    }

    fn stop(&mut self) {
        let now = crate::clock::now_ns(&self.clock);
        self.publish_counters(now);
    }
}
