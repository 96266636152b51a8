//! MEXC public market data: golden tests on recorded binary and JSON frames.

use adapters::decode::{BadInput, Frame};
use adapters::venues::mexc::md::futures::MexcFuturesMd;
use adapters::venues::mexc::md::spot::MexcSpotMd;
use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{InstrumentSpec, Instruments, Market, Price, Qty, Side, Venue};

fn spec(market: Market, symbol: &str, base: &str) -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::Mexc,
        market,
        symbol: symbol.into(),
        base: base.into(),
        quote: "USDT".into(),
        tick: "0.000001".into(),
        lot: if market == Market::Spot { "0.00000001".into() } else { "1".into() },
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: if market == Market::Spot { "1".into() } else { "0.0001".into() },
        taker_fee: None,
        maker_fee: None,
        trading_enabled: true,
    }
}

fn table() -> Instruments {
    let mut specs = vec![spec(Market::Spot, "BTCUSDT", "BTC")];
    for (s, b) in [
        ("BTC_USDT", "BTC"),
        ("ETH_USDT", "ETH"),
        ("DOGE_USDT", "DOGE"),
        ("AERO_USDT", "AERO"),
        ("RIF_USDT", "RIF"),
        ("PENGU_USDT", "PENGU"),
        ("LINK_USDT", "LINK"),
    ] {
        specs.push(spec(Market::Futures, s, b));
    }
    Instruments::from_specs(&specs).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn lines(file: &str) -> Vec<String> {
    let path = format!("{}/test_data/mexc/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn bodies(ev: &[MdEvent]) -> Vec<MdBody> {
    ev.iter().map(|e| e.body).collect()
}

// Bytes re-encoded from MEXC's decoded depth example with the official .proto files
// (shared/venues/protocols.md, "synthetic golden bytes"): not a capture, a schema check.
const SYNTHETIC_DEPTH: &str = "0a2f73706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d7340425443555344541a074254435553445430a8e3eef58833ca136c0a0e0a093131373134352e343912013012170a093131373035332e3431120a312e38363833373237311a2773706f74407075626c69632e61676772652e64657074682e76332e6170692e7062403130306d73220b34333239363336333233362a0b3433323936333633323535";

#[test]
fn aggre_depth_protobuf_golden() {
    let t = table();
    let md = MexcSpotMd::new(&t);
    let sym = md.symbol(b"BTCUSDT").unwrap();
    let mut out = Vec::new();
    let bytes = hex(SYNTHETIC_DEPTH);
    assert_eq!(md.decode(&bytes, true, 3, &mut out), Ok(Frame::Data));
    let p = |s: &str| Price::parse(s, sym.price_scale).unwrap();
    let q = |s: &str| Qty::parse(s, sym.qty_scale).unwrap();
    assert_eq!(
        bodies(&out),
        vec![
            MdBody::Delta { first: 43296363236, last: 43296363255 },
            MdBody::Level { side: Side::Sell, price: p("117145.49"), qty: q("0") },
            MdBody::Level { side: Side::Buy, price: p("117053.41"), qty: q("1.86837271") },
            MdBody::End,
        ]
    );
    assert_eq!(out[0].exch_ms, 1754741322152);
}

#[test]
fn recorded_binary_frames_decode() {
    let t = table();
    let md = MexcSpotMd::new(&t);
    let sym = md.symbol(b"BTCUSDT").unwrap();
    let mut out = Vec::new();
    let frame = hex(&lines("spot_ws_aggre_book_ticker.hex")[0]);
    assert_eq!(md.decode(&frame, true, 1, &mut out), Ok(Frame::Data));
    assert_eq!(
        out[0].body,
        MdBody::Bbo {
            seq: 82164153436,
            bid: Price::parse("84270", sym.price_scale).unwrap(),
            bid_qty: Qty::parse("0.006387", sym.qty_scale).unwrap(),
            ask: Price::parse("84270.01", sym.price_scale).unwrap(),
            ask_qty: Qty::parse("5.42169969", sym.qty_scale).unwrap(),
        }
    );
    out.clear();
    let frame = hex(&lines("spot_ws_limit_depth.hex")[0]);
    assert_eq!(md.decode(&frame, true, 1, &mut out), Ok(Frame::Data));
    assert_eq!(out[0].body, MdBody::Snapshot { id: 82164155643, partial: true });
    assert_eq!(out.len(), 12, "5 asks, 5 bids, header and end");
    // "84270.00" and "84270" are the same price.
    assert!(out.contains(&MdEvent {
        inst: sym.inst,
        recv_ns: 1,
        exch_ms: 1790281247251,
        body: MdBody::Level {
            side: Side::Buy,
            price: Price::parse("84270", sym.price_scale).unwrap(),
            qty: Qty::parse("0.006387", sym.qty_scale).unwrap()
        }
    }));
    out.clear();
    let frame = hex(&lines("spot_ws_aggre_deals.hex")[0]);
    assert_eq!(md.decode(&frame, true, 1, &mut out), Ok(Frame::Data));
    assert_eq!(out.len(), 2);
    assert!(matches!(out[0].body, MdBody::Trade { side: Side::Sell, .. }));
    assert_eq!(out[0].exch_ms, 1790281246176);
    out.clear();
    let frame = hex(&lines("spot_ws_kline.hex")[0]);
    assert_eq!(md.decode(&frame, true, 1, &mut out), Ok(Frame::Ignored));
    assert!(out.is_empty());
}

#[test]
fn acks_pongs_and_refusals() {
    let t = table();
    let md = MexcSpotMd::new(&t);
    let mut out = Vec::new();
    let l = lines("spot_ws_control.jsonl");
    assert_eq!(
        md.decode(l[0].as_bytes(), false, 0, &mut out),
        Ok(Frame::Subscribed { ok: true, topic: b"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT" })
    );
    assert_eq!(md.decode(l[2].as_bytes(), false, 0, &mut out), Ok(Frame::Pong));
    // Code 0, but the msg is not the topic: the caller sees the mismatch.
    match md.decode(l[3].as_bytes(), false, 0, &mut out) {
        Ok(Frame::Subscribed { topic, .. }) => assert!(topic.starts_with(b"Not Subscribed successfully!")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rest_depth_snapshot() {
    let t = table();
    let md = MexcSpotMd::new(&t);
    let sym = md.symbol(b"BTCUSDT").unwrap();
    let mut out = Vec::new();
    md.decode_snapshot(sym, lines("spot_rest_depth.jsonl")[0].as_bytes(), 1, &mut out).unwrap();
    assert_eq!(out[0].body, MdBody::Snapshot { id: 56217769552, partial: false });
    assert_eq!(out.len(), 12);
}

#[test]
fn futures_depth_merged_single_and_full() {
    let t = table();
    let md = MexcFuturesMd::new(&t);
    let mut out = Vec::new();
    let l = lines("futures_ws_push_depth.jsonl");
    assert_eq!(md.decode(l[0].as_bytes(), 1, &mut out), Ok(Frame::Data));
    assert_eq!(out[0].body, MdBody::Delta { first: 4895965271, last: 4895965272 });
    let btc = md.symbol(b"BTC_USDT").unwrap();
    assert_eq!(
        out[1].body,
        MdBody::Level {
            side: Side::Buy,
            price: Price::parse("39144", btc.price_scale).unwrap(),
            qty: Qty::parse("35460", btc.qty_scale).unwrap()
        }
    );
    out.clear();
    // The symbol comes before data here, and prices as JSON numbers keep trailing zeros.
    assert_eq!(md.decode(l[1].as_bytes(), 1, &mut out), Ok(Frame::Data));
    assert_eq!(out[0].body, MdBody::Delta { first: 8752807948, last: 8752808003 });
    out.clear();
    assert_eq!(md.decode(l[3].as_bytes(), 1, &mut out), Ok(Frame::Data));
    assert_eq!(out[0].body, MdBody::Delta { first: 37723308980, last: 37723308980 });
    out.clear();
    let full = lines("futures_ws_push_depth_full.jsonl");
    assert_eq!(md.decode(full[1].as_bytes(), 1, &mut out), Ok(Frame::Data));
    assert_eq!(out[0].body, MdBody::Snapshot { id: 42029847745, partial: true });
}

#[test]
fn futures_deals_ticker_control_and_rest() {
    let t = table();
    let md = MexcFuturesMd::new(&t);
    let mut out = Vec::new();
    for f in lines("futures_ws_push_deal.jsonl") {
        assert_eq!(md.decode(f.as_bytes(), 1, &mut out), Ok(Frame::Data), "{f}");
    }
    assert!(matches!(out[0].body, MdBody::Trade { side: Side::Buy, .. }));
    assert!(matches!(out[1].body, MdBody::Trade { side: Side::Sell, .. }));
    out.clear();
    assert_eq!(md.decode(lines("futures_ws_push_ticker.jsonl")[0].as_bytes(), 1, &mut out), Ok(Frame::Data));
    assert!(matches!(out[0].body, MdBody::Bbo { seq: 0, .. }));
    let c = lines("futures_ws_control.jsonl");
    assert!(matches!(md.decode(c[0].as_bytes(), 1, &mut out), Ok(Frame::Subscribed { ok: true, .. })));
    assert_eq!(md.decode(c[1].as_bytes(), 1, &mut out), Ok(Frame::Pong));
    assert_eq!(
        md.decode(c[3].as_bytes(), 1, &mut out),
        Ok(Frame::VenueError { code: 0, message: b"Contract [NOPE_USDT] not exists" })
    );
    let btc = md.symbol(b"BTC_USDT").unwrap();
    out.clear();
    let rest = lines("futures_rest_depth.jsonl");
    md.decode_snapshot(btc, rest[0].as_bytes(), 1, &mut out).unwrap();
    assert_eq!(out[0].body, MdBody::Snapshot { id: 30094456680, partial: false });
    assert!(
        md.decode_snapshot(btc, rest[1].as_bytes(), 1, &mut out).is_err(),
        "an error envelope is not a book"
    );
}

#[test]
fn broken_protobuf_is_refused_cleanly() {
    let t = table();
    let md = MexcSpotMd::new(&t);
    let good = hex(SYNTHETIC_DEPTH);
    let mut out = Vec::new();
    for cut in 1..good.len() {
        let r = md.decode(&good[..cut], true, 0, &mut out);
        assert!(r.is_err() || r == Ok(Frame::Ignored), "prefix {cut}: {r:?}");
        assert!(out.is_empty());
    }
    let mut wrong = good.clone();
    // The symbol field (3, length 7), not the channel string that also names it.
    let at = wrong.windows(9).position(|w| w == b"\x1a\x07BTCUSDT").unwrap() + 2;
    wrong[at..at + 7].copy_from_slice(b"XXXUSDT");
    assert_eq!(md.decode(&wrong, true, 0, &mut out).map_err(|e| e.reason), Err(BadInput::UnknownSymbol));
}
