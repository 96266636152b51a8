//! Book sync per venue, end to end from wire frames: in-order updates, duplicates,
//! out-of-order delivery (a gap), and a reconnect, for every depth feed.

use adapters::venues::gateio::md::GateMd;
use adapters::venues::mexc::md::futures::MexcFuturesMd;
use adapters::venues::mexc::md::spot::MexcSpotMd;
use pipeline::book::{BookConfig, BookEffect, Books};
use pipeline::msg::{FeedLoss, MdBody, MdEvent};
use pipeline::types::{InstrumentId, InstrumentSpec, Instruments, Market, Venue};

fn spec(venue: Venue, market: Market, symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        venue,
        market,
        symbol: symbol.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        tick: "0.1".into(),
        lot: "0.001".into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: "1".into(),
        taker_fee: None,
        maker_fee: None,
        trading_enabled: true,
    }
}

/// A venue's wire format for one instrument.
trait Wire {
    /// A full book (REST snapshot or a full push) as of `id`.
    fn snapshot(&self, id: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> (Vec<u8>, bool);
    /// A delta covering `first..=last`.
    fn delta(&self, first: u64, last: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> (Vec<u8>, bool);
    fn decode(&self, frame: &[u8], rest: bool, out: &mut Vec<MdEvent>);
}

fn pairs(l: &[(&str, &str)]) -> String {
    l.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect::<Vec<_>>().join(",")
}

struct GateSpot(GateMd);
impl Wire for GateSpot {
    fn snapshot(&self, id: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        (
            format!(r#"{{"id":{id},"current":1,"update":1,"asks":[{}],"bids":[{}]}}"#, pairs(a), pairs(b))
                .into_bytes(),
            true,
        )
    }
    fn delta(&self, f: u64, l: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        let s = format!(
            r#"{{"time":1,"channel":"spot.order_book_update","event":"update","result":{{"t":1,"e":"depthUpdate","E":1,"s":"BTC_USDT","U":{f},"u":{l},"b":[{}],"a":[{}]}}}}"#,
            pairs(b),
            pairs(a)
        );
        (s.into_bytes(), false)
    }
    fn decode(&self, frame: &[u8], rest: bool, out: &mut Vec<MdEvent>) {
        if rest {
            let sym = self.0.symbol(b"BTC_USDT").unwrap();
            self.0.decode_snapshot(sym, frame, 1, out).unwrap();
        } else {
            self.0.decode(frame, 1, out).unwrap();
        }
    }
}

struct GateObu(GateMd);
impl Wire for GateObu {
    fn snapshot(&self, id: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        let s = format!(
            r#"{{"time":1,"channel":"futures.obu","event":"update","result":{{"t":1,"full":true,"s":"ob.BTC_USDT.50","u":{id},"b":[{}],"a":[{}]}}}}"#,
            pairs(b),
            pairs(a)
        );
        (s.into_bytes(), false)
    }
    fn delta(&self, f: u64, l: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        let s = format!(
            r#"{{"time":1,"channel":"futures.obu","event":"update","result":{{"t":1,"s":"ob.BTC_USDT.50","U":{f},"u":{l},"b":[{}],"a":[{}]}}}}"#,
            pairs(b),
            pairs(a)
        );
        (s.into_bytes(), false)
    }
    fn decode(&self, frame: &[u8], _rest: bool, out: &mut Vec<MdEvent>) {
        self.0.decode(frame, 1, out).unwrap();
    }
}

/// Protobuf encoding of MEXC's PushDataV3ApiWrapper with a PublicAggreDepthsV3Api body.
fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    pb_varint(out, field << 3 | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}
fn pb_levels(out: &mut Vec<u8>, field: u64, levels: &[(&str, &str)]) {
    for (p, q) in levels {
        let mut item = Vec::new();
        pb_bytes(&mut item, 1, p.as_bytes());
        pb_bytes(&mut item, 2, q.as_bytes());
        pb_bytes(out, field, &item);
    }
}

struct MexcSpot(MexcSpotMd);
impl Wire for MexcSpot {
    fn snapshot(&self, id: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        (
            format!(r#"{{"lastUpdateId":{id},"bids":[{}],"asks":[{}],"timestamp":1}}"#, pairs(b), pairs(a))
                .into_bytes(),
            true,
        )
    }
    fn delta(&self, f: u64, l: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        let mut body = Vec::new();
        pb_levels(&mut body, 1, a);
        pb_levels(&mut body, 2, b);
        pb_bytes(&mut body, 3, b"spot@public.aggre.depth.v3.api.pb@100ms");
        pb_bytes(&mut body, 4, f.to_string().as_bytes());
        pb_bytes(&mut body, 5, l.to_string().as_bytes());
        let mut w = Vec::new();
        pb_bytes(&mut w, 1, b"spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT");
        pb_bytes(&mut w, 3, b"BTCUSDT");
        pb_varint(&mut w, 6 << 3);
        pb_varint(&mut w, 1_754_741_322_152);
        pb_bytes(&mut w, 313, &body);
        (w, false)
    }
    fn decode(&self, frame: &[u8], rest: bool, out: &mut Vec<MdEvent>) {
        if rest {
            let sym = self.0.symbol(b"BTCUSDT").unwrap();
            self.0.decode_snapshot(sym, frame, 1, out).unwrap();
        } else {
            self.0.decode(frame, true, 1, out).unwrap();
        }
    }
}

struct MexcFutures(MexcFuturesMd);
fn num_levels(l: &[(&str, &str)]) -> String {
    l.iter().map(|(p, q)| format!("[{p},{q},1]")).collect::<Vec<_>>().join(",")
}
impl Wire for MexcFutures {
    fn snapshot(&self, id: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        let s = format!(
            r#"{{"success":true,"code":0,"data":{{"asks":[{}],"bids":[{}],"version":{id},"timestamp":1}}}}"#,
            num_levels(a),
            num_levels(b)
        );
        (s.into_bytes(), true)
    }
    fn delta(&self, f: u64, l: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> (Vec<u8>, bool) {
        let s = format!(
            r#"{{"symbol":"BTC_USDT","data":{{"asks":[{}],"bids":[{}],"begin":{f},"end":{l},"version":{l}}},"channel":"push.depth","ts":1}}"#,
            num_levels(a),
            num_levels(b)
        );
        (s.into_bytes(), false)
    }
    fn decode(&self, frame: &[u8], rest: bool, out: &mut Vec<MdEvent>) {
        if rest {
            let sym = self.0.symbol(b"BTC_USDT").unwrap();
            self.0.decode_snapshot(sym, frame, 1, out).unwrap();
        } else {
            self.0.decode(frame, 1, out).unwrap();
        }
    }
}

struct Harness<'w> {
    wire: &'w dyn Wire,
    books: Books,
    inst: InstrumentId,
    resyncs: usize,
}

impl Harness<'_> {
    fn feed(&mut self, (frame, rest): (Vec<u8>, bool)) {
        let mut out = Vec::new();
        self.wire.decode(&frame, rest, &mut out);
        self.apply(&out);
    }
    fn apply(&mut self, events: &[MdEvent]) {
        let resyncs = &mut self.resyncs;
        for e in events {
            self.books.apply(e, 1, &mut |fx| {
                if matches!(fx, BookEffect::Resync(_)) {
                    *resyncs += 1;
                }
            });
        }
    }
    fn lose_feed(&mut self) {
        let ev = MdEvent {
            inst: self.inst,
            recv_ns: 1,
            exch_ms: 0,
            body: MdBody::FeedLost { reason: FeedLoss::Disconnected },
        };
        self.apply(&[ev]);
    }
    fn synced(&self) -> bool {
        self.books.get(self.inst).unwrap().is_synced()
    }
    fn last_id(&self) -> u64 {
        self.books.get(self.inst).unwrap().last_id()
    }
    fn best(&self) -> (String, String) {
        let b = self.books.get(self.inst).unwrap();
        let f =
            |l: Option<pipeline::msg::Level>| l.map(|l| l.price.display(3).to_string()).unwrap_or_default();
        (f(b.bids().best()), f(b.asks().best()))
    }
}

fn scenarios(wire: &dyn Wire, inst: InstrumentId, t: &Instruments, name: &str) {
    let new = || Harness { wire, books: Books::for_instruments(t, BookConfig::default()), inst, resyncs: 0 };

    // In order, with a delta buffered before the snapshot.
    let mut h = new();
    h.feed(wire.delta(100, 101, &[("100.5", "1")], &[]));
    h.feed(wire.snapshot(100, &[("100", "2")], &[("101", "3")]));
    h.feed(wire.delta(102, 104, &[], &[("100.9", "1")]));
    assert!(h.synced(), "{name}: in order");
    assert_eq!(h.last_id(), 104, "{name}");
    assert_eq!(h.best(), ("100.5".into(), "100.9".into()), "{name}");

    // A duplicate changes nothing.
    h.feed(wire.delta(102, 104, &[], &[("100.9", "7")]));
    assert!(h.synced(), "{name}: duplicate");
    assert_eq!(h.books.get(inst).unwrap().stats().duplicates, 1, "{name}");
    let ask = h.books.get(inst).unwrap().asks().best().unwrap();
    assert_eq!(ask.qty.display(9).to_string(), "1", "{name}: the replayed quantity was not applied");

    // Out of order: 107..108 before 105..106 is a gap.
    h.feed(wire.delta(107, 108, &[("99", "1")], &[]));
    assert!(!h.synced(), "{name}: out of order");
    assert_eq!(h.books.get(inst).unwrap().stats().gaps, 1, "{name}");
    let asked = h.resyncs;
    assert!(asked >= 2, "{name}: a resync was requested");
    // The late delta is older than the kept one; a fresh snapshot syncs again.
    h.feed(wire.delta(105, 106, &[("99.5", "1")], &[]));
    h.feed(wire.snapshot(106, &[("100", "2")], &[("101", "3")]));
    assert!(h.synced(), "{name}: resynced");
    assert_eq!(h.last_id(), 108, "{name}: the kept delta applied on top of the snapshot");

    // Reconnect: the feed is lost, the book is invalid until a new snapshot.
    h.lose_feed();
    assert!(!h.synced(), "{name}: reconnecting");
    h.feed(wire.snapshot(500, &[("98", "1")], &[("102", "1")]));
    assert!(h.synced(), "{name}: after reconnect");
    assert_eq!(h.best(), ("98".into(), "102".into()), "{name}");
}

#[test]
fn every_depth_feed_syncs_by_its_rules() {
    let t = Instruments::from_specs(&[
        spec(Venue::GateIo, Market::Spot, "BTC_USDT"),
        spec(Venue::GateIo, Market::Futures, "BTC_USDT"),
        spec(Venue::Mexc, Market::Spot, "BTCUSDT"),
        spec(Venue::Mexc, Market::Futures, "BTC_USDT"),
    ])
    .unwrap();
    scenarios(&GateSpot(GateMd::new(&t, Market::Spot)), InstrumentId(0), &t, "gate spot.order_book_update");
    scenarios(&GateObu(GateMd::new(&t, Market::Futures)), InstrumentId(1), &t, "gate futures.obu");
    scenarios(&MexcSpot(MexcSpotMd::new(&t)), InstrumentId(2), &t, "mexc spot aggre.depth");
    scenarios(&MexcFutures(MexcFuturesMd::new(&t)), InstrumentId(3), &t, "mexc futures push.depth");
}
