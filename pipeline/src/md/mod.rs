//! Stage 1, md (market-data decode): venue messages in, normalized market-data events
//! out.
//!
//! - **Input:** a [`FeedSource`] (live venue connections or a recorded capture,
//!   implemented in `adapters`), polled for decoded events; `Rx<Resync>` from the book
//!   stage, each request handed to the source, which fetches a snapshot or resubscribes.
//! - **Control ring:** `Rx<MdControl>` from the cold side: an instrument added while
//!   running is subscribed on the source's connections (a `Listed { added: true }`
//!   event goes first, so the book stage allocates its book), one removed is
//!   unsubscribed (`Listed { added: false }` after, so the book stage frees it). Cold
//!   events: the source may allocate then.
//! - **Output ring:** `Tx<MdEvent>` to the book stage, one batch per poll
//!   (`DropAndCount`: if the book stage falls behind, events are dropped and counted, and
//!   the book stage resyncs every book).
//! - **State owned:** the source, and one event buffer reused every poll.
//! - **Invariants:** events leave in the order the source decoded them; nothing
//!   allocates once the buffer is warm. The stage has no configuration or counters of
//!   its own: the decoders count what they refuse, beside them in `adapters`.
//! - **Latency budget:** one ring batch per poll on top of the source's own decoding
//!   (see perf/decode.md).

#[cfg(test)]
mod tests;

use std::fmt;

use quanta::Clock;

use std::sync::Arc;

use crate::msg::{MdBody, MdControl, MdEvent, Resync};
use crate::runtime::{Rx, Stage, Tx};
use crate::types::{InstrumentId, Instruments};

/// Where market data comes from: venue connections, or a capture.
pub trait FeedSource: Send {
    /// Reads and decodes a bounded amount of input, appending events to `out`, and
    /// returns how many messages it handled (0 when idle).
    fn poll(&mut self, now_ns: u64, out: &mut Vec<MdEvent>) -> usize;

    /// Makes one instrument's book whole again (REST snapshot or resubscription).
    fn resync(&mut self, inst: InstrumentId, now_ns: u64);

    /// Closes connections; called once when the stage stops.
    fn stop(&mut self) {}

    /// Subscribes instrument `inst` of `table`, added while running (cold: may
    /// allocate); false when this source cannot carry it (a capture, a venue market with
    /// no connection).
    fn add(&mut self, _inst: InstrumentId, _table: &Instruments, _now_ns: u64) -> bool {
        false
    }

    /// Unsubscribes instrument `inst`, removed while running.
    fn remove(&mut self, _inst: InstrumentId, _now_ns: u64) {}
}

/// The md stage.
pub struct MdStage<F> {
    feed: F,
    tx: Tx<MdEvent>,
    resync_rx: Rx<Resync>,
    buf: Vec<MdEvent>,
    clock: Clock,
    /// Instruments added and removed while running, with the shared table they are in.
    control: Option<(Rx<MdControl>, Arc<Instruments>)>,
}

impl<F> fmt::Debug for MdStage<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MdStage").finish_non_exhaustive()
    }
}

impl<F: FeedSource> MdStage<F> {
    pub fn new(feed: F, tx: Tx<MdEvent>, resync_rx: Rx<Resync>, clock: Clock) -> Self {
        Self { feed, tx, resync_rx, buf: Vec::with_capacity(8192), clock, control: None }
    }

    /// Takes instruments added and removed while running from `rx`; `table` is the shared
    /// instrument table they are appended to.
    pub fn with_control(mut self, rx: Rx<MdControl>, table: Arc<Instruments>) -> Self {
        self.control = Some((rx, table));
        self
    }

    pub fn feed(&self) -> &F {
        &self.feed
    }
}

impl<F: FeedSource> Stage for MdStage<F> {
    fn poll(&mut self) -> usize {
        let now = crate::clock::now_ns(&self.clock);
        let feed = &mut self.feed;
        let mut work = self.resync_rx.drain(64, |r| feed.resync(r.inst, now));
        self.buf.clear();
        if let Some((rx, table)) = &mut self.control {
            let buf = &mut self.buf;
            work += rx.drain(4, |c| {
                let (inst, added) = match c {
                    MdControl::Add(inst) => (inst, true),
                    MdControl::Remove(inst) => (inst, false),
                };
                let listed = MdEvent { inst, recv_ns: now, exch_ms: 0, body: MdBody::Listed { added } };
                if added {
                    // The book first, then the subscription that feeds it.
                    buf.push(listed);
                    feed.add(inst, table, now);
                } else {
                    feed.remove(inst, now);
                    buf.push(listed);
                }
            });
        }
        work += self.feed.poll(now, &mut self.buf);
        if !self.buf.is_empty() {
            // DropAndCount: whatever does not fit is counted and the book stage resyncs.
            self.tx.push_batch(&self.buf);
        }
        work
    }

    fn stop(&mut self) {
        self.feed.stop();
    }
}
