//! A book that is not synced is never traded: the book stage and detection wired by
//! their rings, one venue's BTC book synced and the other's receiving deltas with no
//! snapshot yet, priced far enough apart that a spot-spot trade would pay well. Nothing
//! is detected until the second book's snapshot arrives; once it does the opportunity
//! is found at once, and after a gap invalidates the book it is not found again, however
//! the synced book moves.

use std::sync::Arc;

use pipeline::book::{BookBuilder, BookConfig, BookCounters};
use pipeline::detect::{DetectConfig, DetectStats, Detector};
use pipeline::msg::{BookTop, DetectControl, MdBody, MdEvent, Opportunity, Resync};
use pipeline::runtime::{Rx, Stage, Tx};
use pipeline::testkit::{self, px, qty};
use pipeline::types::{Instrument, Side};
use quanta::Clock;

struct Rig {
    md: Tx<MdEvent>,
    book: BookBuilder,
    det: Detector,
    _control: Tx<DetectControl>,
    _resync: Rx<Resync>,
    out: Rx<Opportunity>,
    stats: Arc<DetectStats>,
}

impl Rig {
    fn update(&mut self, inst: &Instrument, header: MdBody, bid: &str, ask: &str) {
        let recv_ns = pipeline::clock::now_ns(&Clock::new());
        let ev = |body| MdEvent { inst: inst.id, recv_ns, exch_ms: 0, body };
        let level = |side, p| MdBody::Level { side, price: px(inst, p), qty: qty(inst, "0.5") };
        for body in [header, level(Side::Buy, bid), level(Side::Sell, ask), MdBody::End] {
            self.md.push(ev(body)).expect("room");
        }
        while self.book.poll() + self.det.poll() > 0 {}
    }

    fn found(&mut self) -> usize {
        testkit::drain(&mut self.out).len()
    }
}

#[test]
fn a_book_waiting_for_its_snapshot_or_resyncing_is_never_traded() {
    let u = testkit::universe();
    let t = u.instruments.clone();
    let (gate, mexc) = (t.get(u.gate_btc).clone(), t.get(u.mexc_btc).clone());
    let (md, md_rx) = testkit::ring(1024);
    let (tops, tops_rx) = testkit::ring::<BookTop>(1024);
    let (resync, resync_rx) = testkit::ring(64);
    let (control, control_rx) = testkit::ring(16);
    let (opps, out) = testkit::ring(64);
    let ticks: Vec<_> = t.iter().map(|i| i.tick).collect();
    let counters = BookCounters::new(t.len());
    let book =
        BookBuilder::new(&ticks, BookConfig::default(), md_rx, vec![tops], resync, Clock::new(), counters);
    let only_spot_spot = DetectConfig { basis: false, triangular: false, ..DetectConfig::default() };
    let stats = Arc::new(DetectStats::default());
    let det =
        Detector::new(&only_spot_spot, t.clone(), tops_rx, control_rx, opps, Clock::new(), stats.clone())
            .unwrap();
    let mut rig = Rig { md, book, det, _control: control, _resync: resync_rx, out, stats };

    // Gate synced; MEXC's deltas buffered while it waits for a snapshot, bidding 2% over
    // Gate's ask.
    rig.update(&gate, MdBody::Snapshot { id: 100, partial: false }, "49990", "50000");
    rig.update(&mexc, MdBody::Delta { first: 11, last: 11 }, "51000", "51010");
    rig.update(&mexc, MdBody::Delta { first: 12, last: 12 }, "51000", "51020");
    rig.update(&gate, MdBody::Delta { first: 101, last: 101 }, "49990", "50001");
    assert_eq!(rig.found(), 0, "nothing from a book waiting for its snapshot");
    assert_eq!(rig.stats.snapshot().evaluations, 0, "its candidates are not even evaluated");

    // The snapshot comes: the buffered deltas apply on top, the book syncs, and the same
    // prices are an opportunity at once.
    rig.update(&mexc, MdBody::Snapshot { id: 10, partial: false }, "51000", "51010");
    assert_eq!(rig.found(), 1, "the synced book trades");

    // A gap: MEXC's book goes unsynced, and Gate moving changes nothing.
    rig.update(&mexc, MdBody::Delta { first: 20, last: 20 }, "51000", "51030");
    let before = rig.stats.snapshot().evaluations;
    rig.update(&gate, MdBody::Delta { first: 102, last: 102 }, "49985", "50002");
    rig.update(&gate, MdBody::Delta { first: 103, last: 103 }, "49980", "50003");
    assert_eq!(rig.found(), 0, "nothing from a book resyncing after a gap");
    assert_eq!(rig.stats.snapshot().evaluations, before);
}
