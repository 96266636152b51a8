//! Book stage tests: what the stage publishes and asks for over its rings (the sync
//! protocol of one book is tested beside [`L2Book`]).

use quanta::Clock;

use super::*;
use crate::msg::{Level, MdBody};
use crate::runtime::Backpressure;
use crate::testkit;
use crate::types::{Qty, Side};

struct Rig {
    stage: BookBuilder,
    md: Tx<MdEvent>,
    tops: Rx<BookTop>,
    resyncs: Rx<Resync>,
    counters: Arc<BookCounters>,
}

impl Rig {
    fn new(instruments: usize, md_events: usize, tops: usize, resyncs: usize) -> Self {
        let ticks = vec![Price(1); instruments];
        let (md, md_rx) = testkit::ring_with(md_events, Backpressure::DropAndCount, Clock::new());
        let (top_tx, tops) = testkit::ring(tops);
        let (resync_tx, resyncs) = testkit::ring(resyncs);
        let counters = BookCounters::new(instruments);
        let stage = BookBuilder::new(
            &ticks,
            BookConfig::default(),
            md_rx,
            vec![top_tx],
            resync_tx,
            Clock::new(),
            counters.clone(),
        );
        Self { stage, md, tops, resyncs, counters }
    }

    fn send(&mut self, inst: u16, body: MdBody) {
        self.md.push(MdEvent { inst: InstrumentId(inst), recv_ns: 1, exch_ms: 0, body }).unwrap();
    }

    /// One whole update: its header, a bid and an ask, its end.
    fn update(&mut self, inst: u16, header: MdBody, bid: i64, ask: i64) {
        self.send(inst, header);
        self.send(inst, MdBody::Level { side: Side::Buy, price: Price(bid), qty: Qty(1) });
        self.send(inst, MdBody::Level { side: Side::Sell, price: Price(ask), qty: Qty(1) });
        self.send(inst, MdBody::End);
    }

    fn poll(&mut self) {
        self.stage.poll();
    }

    fn resynced(&mut self) -> Vec<u16> {
        testkit::drain(&mut self.resyncs).into_iter().map(|r| r.inst.0).collect()
    }
}

#[test]
fn a_consumer_without_room_gets_the_latest_top_once() {
    let mut r = Rig::new(1, 64, 1, 4);
    r.update(0, MdBody::Snapshot { id: 1, partial: false }, 9, 14);
    r.poll();
    // The ring is full: the next two changes wait as one.
    r.update(0, MdBody::Delta { first: 2, last: 2 }, 10, 14);
    r.poll();
    r.update(0, MdBody::Delta { first: 3, last: 3 }, 11, 14);
    r.poll();
    let first = r.tops.pop().unwrap();
    assert_eq!((first.seq, first.best_bid()), (1, Some(Level { price: Price(9), qty: Qty(1) })));
    assert!(r.tops.pop().is_none());
    r.poll();
    let latest = testkit::drain(&mut r.tops);
    assert_eq!(latest.len(), 1, "{latest:?}");
    assert_eq!((latest[0].seq, latest[0].best_bid().unwrap().price), (3, Price(11)));
    r.poll();
    assert!(r.tops.pop().is_none(), "nothing changed since");
}

#[test]
fn resync_requests_a_full_ring_refused_go_later_once_each() {
    let mut r = Rig::new(3, 64, 8, 1);
    // Deltas before any snapshot: each book buffers and asks for a snapshot.
    for inst in 0..3 {
        r.update(inst, MdBody::Delta { first: 5, last: 5 }, 9, 14);
    }
    r.poll();
    // Book 2 loses its feed while its request still waits: it is not asked twice.
    r.send(2, MdBody::FeedLost { reason: crate::msg::FeedLoss::Disconnected });
    r.poll();
    let mut asked = Vec::new();
    for _ in 0..5 {
        asked.extend(r.resynced());
        r.poll();
    }
    assert_eq!(asked, [0, 1, 2]);
}

#[test]
fn an_overflow_of_the_md_ring_resyncs_every_book() {
    let mut r = Rig::new(2, 8, 8, 8);
    r.update(0, MdBody::Snapshot { id: 1, partial: false }, 9, 14);
    r.poll();
    assert!(r.tops.pop().unwrap().synced);
    // More than the ring holds: some events are lost.
    for _ in 0..12 {
        r.send(1, MdBody::Trade { side: Side::Buy, price: Price(10), qty: Qty(1) });
    }
    r.poll();
    assert_eq!(r.counters.md_overflows(), 1);
    assert_eq!(r.resynced(), [0, 1]);
    let top = r.tops.pop().unwrap();
    assert!(!top.synced && top.bids().is_empty(), "the synced book was dropped: {top:?}");
    r.stage.stop();
    assert!(!r.counters.get(InstrumentId(0)).synced);
}

#[test]
fn a_resync_is_timed_and_published_with_the_all_synced_time() {
    let mut r = Rig::new(2, 64, 16, 8);
    r.update(0, MdBody::Snapshot { id: 1, partial: false }, 9, 14);
    r.update(1, MdBody::Snapshot { id: 1, partial: false }, 9, 14);
    r.poll();
    // A gap on book 0, then a snapshot that the buffered delta bridges.
    r.update(0, MdBody::Delta { first: 5, last: 5 }, 10, 14);
    r.poll();
    assert_eq!(r.resynced(), [0]);
    std::thread::sleep(std::time::Duration::from_millis(2));
    r.update(0, MdBody::Snapshot { id: 4, partial: false }, 9, 14);
    r.poll();
    r.stage.stop();
    let c = r.counters.get(InstrumentId(0));
    assert_eq!(c.resyncs_done, 1, "{c:?}");
    // Timed on the stage's clock across the 2 ms sleep, within the histogram's 1/16.
    assert!(c.resync_p50_ns >= 1_800_000 && c.resync_p50_ns == c.resync_p99_ns, "{c:?}");
    assert_eq!(r.counters.get(InstrumentId(1)).resyncs_done, 0, "the first sync is no resync");
    let (all, observed) = r.counters.all_synced();
    assert!(observed >= 2_000_000 && all < observed, "book 0 was out for 2 ms: {all} of {observed}");
}
