//! md stage tests over a scripted source: batches out, resync requests in, overflow.

use quanta::Clock;

use super::*;
use crate::msg::MdBody;
use crate::runtime::Backpressure;
use crate::testkit;
use crate::types::{Price, Qty, Side};

/// A source that hands out what the test scripted and remembers what it was asked.
#[derive(Default)]
struct Script {
    frames: Vec<Vec<MdEvent>>,
    resyncs: Vec<InstrumentId>,
    stopped: bool,
}

impl FeedSource for Script {
    fn poll(&mut self, _now_ns: u64, out: &mut Vec<MdEvent>) -> usize {
        if self.frames.is_empty() {
            return 0;
        }
        out.extend(self.frames.remove(0));
        1
    }

    fn resync(&mut self, inst: InstrumentId, _now_ns: u64) {
        self.resyncs.push(inst);
    }

    fn stop(&mut self) {
        self.stopped = true;
    }
}

fn trade(inst: u16, price: i64) -> MdEvent {
    MdEvent {
        inst: InstrumentId(inst),
        recv_ns: 1,
        exch_ms: 0,
        body: MdBody::Trade { side: Side::Buy, price: Price(price), qty: Qty(1) },
    }
}

fn stage(frames: Vec<Vec<MdEvent>>, capacity: usize) -> (MdStage<Script>, Rx<MdEvent>, Tx<Resync>) {
    let (tx, rx) = testkit::ring_with(capacity, Backpressure::DropAndCount, Clock::new());
    let (resync_tx, resync_rx) = testkit::ring(8);
    let source = Script { frames, ..Script::default() };
    (MdStage::new(source, tx, resync_rx, Clock::new()), rx, resync_tx)
}

#[test]
fn decoded_events_go_to_the_book_ring_in_order() {
    let (mut md, mut rx, _resync) = stage(vec![vec![trade(0, 1), trade(1, 2)], vec![trade(0, 3)]], 16);
    assert_eq!(md.poll(), 1);
    assert_eq!(md.poll(), 1);
    assert_eq!(md.poll(), 0, "an idle source is no work");
    let prices: Vec<i64> = testkit::drain(&mut rx)
        .into_iter()
        .map(|e| match e.body {
            MdBody::Trade { price, .. } => price.0,
            _ => 0,
        })
        .collect();
    assert_eq!(prices, [1, 2, 3]);
}

#[test]
fn resync_requests_reach_the_source_and_stop_closes_it() {
    let (mut md, _rx, mut resync) = stage(Vec::new(), 16);
    resync.push(Resync { inst: InstrumentId(2) }).unwrap();
    resync.push(Resync { inst: InstrumentId(0) }).unwrap();
    assert_eq!(md.poll(), 2);
    assert_eq!(md.feed().resyncs, [InstrumentId(2), InstrumentId(0)]);
    md.stop();
    assert!(md.feed().stopped);
}

#[test]
fn what_the_book_ring_cannot_take_is_dropped_counted_and_flagged() {
    let (mut md, mut rx, _resync) = stage(vec![(0..6).map(|p| trade(0, p)).collect()], 4);
    md.poll();
    assert_eq!(rx.stats().dropped(), 2);
    assert!(rx.take_overflow(), "the book stage learns that updates were lost");
    assert_eq!(testkit::drain(&mut rx).len(), 4);
}
