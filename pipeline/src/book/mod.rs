//! Stage 2, book: one L2 book per instrument, kept in sync with its venue.
//!
//! Input: `Rx<MdEvent>` from the md stage (DropAndCount: an overflow resyncs every book).
//! Output: `BookTop` to each consumer (detection, the state stage, the paper-trading
//! sink), coalesced: a book that changes twice before a consumer has room is published
//! once, with its latest state, so a slow consumer never sees stale tops and the book
//! never blocks. `Resync` requests go back to the md stage.
//!
//! State: the books ([`Books`]), indexed by instrument id. Invariant: a book that is not
//! synced publishes no levels, so detection can never trade on it.
//! Budget: well under a microsecond per update; see perf/book.md.

#[allow(clippy::module_inception)]
mod book;
mod ladder;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use book::{BookConfig, BookEffect, BookStats, L2Book};
pub use ladder::{Ladder, LadderFull, MAX_LEVELS, WINDOW_TICKS};

use crate::msg::{BookTop, MdEvent, Resync};
use crate::runtime::{Held, Rx, Stage, Tx};
use crate::types::{InstrumentId, Instruments, Price};

/// Every instrument's book.
#[derive(Clone, Debug)]
pub struct Books {
    books: Vec<L2Book>,
}

impl Books {
    /// Books for instruments `0..ticks.len()`, instrument `i` moving in steps of
    /// `ticks[i]` (its tick in its own price units).
    pub fn new(ticks: &[Price], cfg: BookConfig) -> Self {
        Self {
            books: ticks
                .iter()
                .enumerate()
                .map(|(i, &tick)| L2Book::new(InstrumentId(i as u16), tick, cfg))
                .collect(),
        }
    }

    /// A book for every instrument of the table, on its tick.
    pub fn for_instruments(instruments: &Instruments, cfg: BookConfig) -> Self {
        let ticks: Vec<Price> = instruments.iter().map(|i| i.tick).collect();
        Self::new(&ticks, cfg)
    }

    /// Applies one event; events for unknown instruments are ignored.
    #[inline]
    pub fn apply(&mut self, ev: &MdEvent, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        if let Some(b) = self.books.get_mut(ev.inst.index()) {
            b.apply(ev, now_ns, fx);
        }
    }

    /// Marks every book unsynced (the md ring overflowed: updates were lost).
    pub fn lose_all(&mut self, now_ns: u64, fx: &mut impl FnMut(BookEffect)) {
        for b in &mut self.books {
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
        for b in &mut self.books {
            b.maintain(now_ns, fx);
        }
    }

    pub fn get(&self, inst: InstrumentId) -> Option<&L2Book> {
        self.books.get(inst.index())
    }

    pub fn iter(&self) -> impl Iterator<Item = &L2Book> {
        self.books.iter()
    }

    pub fn len(&self) -> usize {
        self.books.len()
    }

    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }
}

/// Book counters readable from any thread: per instrument, updated by the book stage
/// once per maintenance pass (relaxed stores; no lock).
#[derive(Debug, Default)]
pub struct BookCounters {
    synced: Vec<AtomicU64>,
    last_id: Vec<AtomicU64>,
    gaps: Vec<AtomicU64>,
    resyncs: Vec<AtomicU64>,
    updates: Vec<AtomicU64>,
    /// Best bid and ask price and quantity mantissas (0 when absent).
    top: Vec<[std::sync::atomic::AtomicI64; 4]>,
    md_dropped: AtomicU64,
}

/// One book's counters as read from the cold side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookCounterSnapshot {
    pub synced: bool,
    pub last_id: u64,
    pub gaps: u64,
    pub resyncs: u64,
    pub updates: u64,
}

impl BookCounters {
    pub fn new(count: usize) -> Arc<Self> {
        let v = || (0..count).map(|_| AtomicU64::new(0)).collect();
        Arc::new(Self {
            synced: v(),
            last_id: v(),
            gaps: v(),
            resyncs: v(),
            updates: v(),
            top: (0..count).map(|_| std::array::from_fn(|_| std::sync::atomic::AtomicI64::new(0))).collect(),
            md_dropped: AtomicU64::new(0),
        })
    }

    fn publish(&self, b: &L2Book) {
        let i = b.inst().index();
        let s = b.stats();
        let set = |v: &Vec<AtomicU64>, x: u64| {
            if let Some(a) = v.get(i) {
                a.store(x, Ordering::Relaxed);
            }
        };
        set(&self.synced, u64::from(b.is_synced()));
        set(&self.last_id, b.last_id());
        set(&self.gaps, s.gaps);
        set(&self.resyncs, s.resyncs);
        set(&self.updates, s.updates + s.snapshots);
        if let Some(t) = self.top.get(i) {
            let (bid, ask) = (b.bids().best().unwrap_or_default(), b.asks().best().unwrap_or_default());
            for (slot, v) in t.iter().zip([bid.price.0, bid.qty.0, ask.price.0, ask.qty.0]) {
                slot.store(v, Ordering::Relaxed);
            }
        }
    }

    /// The best bid and ask (price and quantity) at the last maintenance pass; zero
    /// levels when a side is empty or the book is unsynced.
    pub fn top(&self, inst: InstrumentId) -> Option<(crate::msg::Level, crate::msg::Level)> {
        use crate::types::{Price, Qty};
        let t = self.top.get(inst.index())?;
        let v: [i64; 4] = std::array::from_fn(|k| t[k].load(Ordering::Relaxed));
        Some((
            crate::msg::Level { price: Price(v[0]), qty: Qty(v[1]) },
            crate::msg::Level { price: Price(v[2]), qty: Qty(v[3]) },
        ))
    }

    pub fn get(&self, inst: InstrumentId) -> BookCounterSnapshot {
        let i = inst.index();
        let get = |v: &Vec<AtomicU64>| v.get(i).map_or(0, |a| a.load(Ordering::Relaxed));
        BookCounterSnapshot {
            synced: get(&self.synced) == 1,
            last_id: get(&self.last_id),
            gaps: get(&self.gaps),
            resyncs: get(&self.resyncs),
            updates: get(&self.updates),
        }
    }

    /// Times the md ring overflowed and every book resynced.
    pub fn md_overflows(&self) -> u64 {
        self.md_dropped.load(Ordering::Relaxed)
    }
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
        }
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
        let mut fx = |e| Self::effect(outputs, resync, e);
        if self.rx.take_overflow() {
            self.counters.md_dropped.fetch_add(1, Ordering::Relaxed);
            books.lose_all(now, &mut fx);
        }
        let n = self.rx.drain(self.batch, |ev| books.apply(&ev, now, &mut fx));
        self.polls = self.polls.wrapping_add(1);
        if self.polls % POLLS_PER_MAINTENANCE == 0 {
            books.maintain(now, &mut fx);
            for b in books.iter() {
                self.counters.publish(b);
            }
        }
        n + self.publish()
    }

    fn stop(&mut self) {
        for b in self.books.iter() {
            self.counters.publish(b);
        }
    }
}
