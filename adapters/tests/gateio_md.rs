//! Gate.io public market data: golden tests on recorded frames.

use adapters::decode::{BadInput, Frame};
use adapters::venues::gateio::feed::snapshot_target;
use adapters::venues::gateio::md::{GateMd, frame_symbol};
use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{InstrumentSpec, Instruments, Market, Price, Qty, Side, Venue};

fn spec(market: Market, symbol: &str) -> InstrumentSpec {
    let (base, quote) = symbol.split_once('_').unwrap();
    InstrumentSpec {
        venue: Venue::GateIo,
        market,
        symbol: symbol.into(),
        base: base.into(),
        quote: quote.into(),
        tick: "0.00000001".into(),
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
    let mut specs = Vec::new();
    for s in ["BTC_USDT", "ETH_USDT", "GT_USDT", "QTCON_USDT"] {
        specs.push(spec(Market::Spot, s));
    }
    for s in ["BTC_USDT", "ETH_USDT", "CHR_USDT", "MOB_USDT", "INIT_USDT"] {
        specs.push(spec(Market::Futures, s));
    }
    Instruments::from_specs(&specs).unwrap()
}

fn lines(file: &str) -> Vec<String> {
    let path = format!("{}/test_data/gateio/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn decode(md: &GateMd, frame: &str) -> (Result<Frame<'static>, BadInput>, Vec<MdEvent>) {
    let mut out = Vec::new();
    let r = md.decode(frame.as_bytes(), 7, &mut out).map(|f| match f {
        Frame::Data => Frame::Data,
        Frame::Ignored => Frame::Ignored,
        Frame::Pong => Frame::Pong,
        Frame::Subscribed { ok, .. } => Frame::Subscribed { ok, topic: b"" },
        Frame::VenueError { code, .. } => Frame::VenueError { code, message: b"" },
    });
    (r.map_err(|e| e.reason), out)
}

#[test]
fn spot_order_book_update_golden() {
    let t = table();
    let md = GateMd::new(&t, Market::Spot);
    let btc = t.find(Venue::GateIo, Market::Spot, "BTC_USDT").unwrap();
    let i = t.get(btc);
    let (r, ev) = decode(&md, &lines("spot_ws_order_book_update.jsonl")[0]);
    assert_eq!(r, Ok(Frame::Data));
    let p = |s: &str| Price::parse(s, i.price_scale).unwrap();
    let q = |s: &str| Qty::parse(s, i.qty_scale).unwrap();
    let bodies: Vec<MdBody> = ev.iter().map(|e| e.body).collect();
    assert_eq!(
        bodies,
        vec![
            MdBody::Delta { first: 4622074361, last: 4622074364 },
            MdBody::Level { side: Side::Buy, price: p("47737.89"), qty: q("0.002") },
            MdBody::Level { side: Side::Buy, price: p("47741.35"), qty: q("0") },
            MdBody::Level { side: Side::Sell, price: p("47813.04"), qty: q("0.0355") },
            MdBody::Level { side: Side::Sell, price: p("47978.86"), qty: q("0") },
            MdBody::End,
        ]
    );
    assert!(ev.iter().all(|e| e.inst == btc && e.exch_ms == 1631836142325 && e.recv_ns == 7));
}

#[test]
fn futures_obu_full_then_delta_and_id_only_delta() {
    let t = table();
    let md = GateMd::new(&t, Market::Futures);
    let frames = lines("futures_ws_obu.jsonl");
    let (r, ev) = decode(&md, &frames[0]);
    assert_eq!(r, Ok(Frame::Data));
    assert_eq!(ev[0].body, MdBody::Snapshot { id: 108552472643, partial: false });
    let eth = t.get(t.find(Venue::GateIo, Market::Futures, "ETH_USDT").unwrap());
    // Futures obu sizes are strings with fractions of a contract.
    assert_eq!(
        ev[1].body,
        MdBody::Level {
            side: Side::Buy,
            price: Price::parse("2480.27", eth.price_scale).unwrap(),
            qty: Qty::parse("2781.6", eth.qty_scale).unwrap()
        }
    );
    let (_, ev) = decode(&md, &frames[2]);
    assert_eq!(ev[0].body, MdBody::Delta { first: 125033675975, last: 125033676003 });
    let (r, ev) = decode(&md, &frames[3]);
    assert_eq!(r, Ok(Frame::Data), "an id-only delta still moves the sequence");
    assert_eq!(
        ev.iter().map(|e| e.body).collect::<Vec<_>>(),
        vec![MdBody::Delta { first: 125033676004, last: 125033676011 }, MdBody::End]
    );
}

#[test]
fn futures_order_book_update_sizes_are_contracts() {
    let t = table();
    let md = GateMd::new(&t, Market::Futures);
    let (r, ev) = decode(&md, &lines("futures_ws_order_book_update.jsonl")[0]);
    assert_eq!(r, Ok(Frame::Data));
    let btc = t.get(t.find(Venue::GateIo, Market::Futures, "BTC_USDT").unwrap());
    assert!(ev.contains(&MdEvent {
        inst: btc.id,
        recv_ns: 7,
        exch_ms: 1789455569062,
        body: MdBody::Level {
            side: Side::Sell,
            price: Price::parse("77232.2", btc.price_scale).unwrap(),
            qty: Qty::parse("2100", btc.qty_scale).unwrap()
        }
    }));
}

#[test]
fn book_tickers_and_trades() {
    let t = table();
    let spot = GateMd::new(&t, Market::Spot);
    let fut = GateMd::new(&t, Market::Futures);
    let (r, ev) = decode(&spot, &lines("spot_ws_book_ticker.jsonl")[0]);
    assert_eq!(r, Ok(Frame::Data));
    assert!(matches!(ev[0].body, MdBody::Bbo { seq: 6765708346, .. }));
    let (r, ev) = decode(&fut, &lines("futures_ws_book_ticker.jsonl")[0]);
    assert_eq!(r, Ok(Frame::Data));
    assert!(matches!(ev[0].body, MdBody::Bbo { seq: 125034507671, .. }));
    let (r, ev) = decode(&spot, &lines("spot_ws_trades.jsonl")[0]);
    assert_eq!(r, Ok(Frame::Data));
    assert!(matches!(ev[0].body, MdBody::Trade { side: Side::Buy, .. }));
    assert_eq!(ev[0].exch_ms, 1631824310261);
    for frame in lines("futures_ws_trades.jsonl") {
        let (r, ev) = decode(&fut, &frame);
        assert_eq!(r, Ok(Frame::Data), "{frame}");
        assert!(!ev.is_empty());
    }
    let (_, ev) = decode(&fut, &lines("futures_ws_trades.jsonl")[1]);
    assert!(matches!(ev[0].body, MdBody::Trade { side: Side::Sell, .. }), "a negative size is a taker sell");
}

#[test]
fn control_frames_are_recognized_not_treated_as_data() {
    let t = table();
    let fut = GateMd::new(&t, Market::Futures);
    let frames = lines("futures_ws_control.jsonl");
    assert_eq!(decode(&fut, &frames[0]).0, Ok(Frame::Subscribed { ok: true, topic: b"" }));
    assert_eq!(decode(&fut, &frames[1]).0, Ok(Frame::Pong));
    assert_eq!(decode(&fut, &frames[2]).0, Ok(Frame::Subscribed { ok: false, topic: b"" }));
    let spot = GateMd::new(&t, Market::Spot);
    for f in lines("spot_ws_control.jsonl") {
        let (r, ev) = decode(&spot, &f);
        assert!(
            matches!(r, Ok(Frame::Subscribed { .. } | Frame::Pong | Frame::VenueError { .. })),
            "{f}: {r:?}"
        );
        assert!(ev.is_empty());
    }
}

#[test]
fn every_recorded_public_frame_decodes_or_is_ignored() {
    let t = table();
    for (file, market) in [
        ("spot_ws_order_book_update.jsonl", Market::Spot),
        ("spot_ws_book_ticker.jsonl", Market::Spot),
        ("spot_ws_trades.jsonl", Market::Spot),
        ("spot_ws_tickers.jsonl", Market::Spot),
        ("spot_ws_order_book.jsonl", Market::Spot),
        ("futures_ws_obu.jsonl", Market::Futures),
        ("futures_ws_order_book_update.jsonl", Market::Futures),
        ("futures_ws_book_ticker.jsonl", Market::Futures),
        ("futures_ws_trades.jsonl", Market::Futures),
        ("futures_ws_tickers.jsonl", Market::Futures),
        ("futures_ws_order_book.jsonl", Market::Futures),
        ("futures_ws_control.jsonl", Market::Futures),
    ] {
        let md = GateMd::new(&t, market);
        for frame in lines(file) {
            let (r, _) = decode(&md, &frame);
            assert!(r.is_ok() || r == Err(BadInput::UnknownSymbol), "{file}: {r:?}: {frame}");
        }
    }
}

#[test]
fn rest_snapshots_spot_and_futures() {
    let t = table();
    let fut = GateMd::new(&t, Market::Futures);
    let btc = fut.symbol(b"BTC_USDT").unwrap();
    let body = &lines("futures_rest_order_book.jsonl")[1];
    let mut out = Vec::new();
    fut.decode_snapshot(btc, body.as_bytes(), 9, &mut out).unwrap();
    assert_eq!(out[0].body, MdBody::Snapshot { id: 71425995585, partial: false });
    assert_eq!(out[0].exch_ms, 1733387830914);
    assert_eq!(out.last().unwrap().body, MdBody::End);
    // Without `id` a snapshot cannot be synced against: refused, buffer untouched.
    let no_id = &lines("futures_rest_order_book.jsonl")[0];
    let err = fut.decode_snapshot(btc, no_id.as_bytes(), 9, &mut out).unwrap_err();
    assert_eq!(err.reason, BadInput::MissingField);
    assert_eq!(out.last().unwrap().body, MdBody::End);
    assert_eq!(
        snapshot_target("/api/v4/spot/order_book?currency_pair=HAI_ETH&limit=100&with_id=true"),
        Some((Market::Spot, "HAI_ETH"))
    );
    assert_eq!(
        snapshot_target("/api/v4/futures/usdt/order_book?contract=BTC_USDT&with_id=true"),
        Some((Market::Futures, "BTC_USDT"))
    );
}

#[test]
fn symbols_are_found_for_discovery() {
    assert_eq!(
        frame_symbol(lines("spot_ws_order_book_update.jsonl")[0].as_bytes()).as_deref(),
        Some("BTC_USDT")
    );
    assert_eq!(frame_symbol(lines("futures_ws_obu.jsonl")[1].as_bytes()).as_deref(), Some("CHR_USDT"));
    assert_eq!(frame_symbol(lines("futures_ws_trades.jsonl")[1].as_bytes()).as_deref(), Some("MOB_USDT"));
}

#[test]
fn bad_input_is_refused_by_reason_and_leaves_no_events() {
    let t = table();
    let md = GateMd::new(&t, Market::Spot);
    let good = lines("spot_ws_order_book_update.jsonl")[0].clone();
    let cases: Vec<(String, BadInput)> = vec![
        (good[..good.len() - 5].to_owned(), BadInput::Truncated),
        (good.replace("\"47737.89\"", "\"47x37.89\""), BadInput::BadNumber),
        (good.replace("\"47737.89\"", "\"-47737.89\""), BadInput::NegativeOrZero),
        (good.replace("\"0.002\"", "\"-0.002\""), BadInput::NegativeOrZero),
        (good.replace("\"0.002\"", "\"1e40\""), BadInput::NumberOutOfRange),
        (good.replace("\"47737.89\"", "\"47737.891234567891\""), BadInput::TooPrecise),
        (good.replace("BTC_USDT", "NOPE_USDT"), BadInput::UnknownSymbol),
        (good.replace("\"U\":4622074361,", ""), BadInput::MissingField),
        (good.replace("\"U\":4622074361", "\"U\":\"x\""), BadInput::WrongType),
        (good.replace("\"b\":[[", "\"b\":[{"), BadInput::MalformedJson),
        (good.replace("\"b\":[", "\"b\":7,\"x\":["), BadInput::WrongType),
        ("[]".into(), BadInput::WrongType),
        (good.replace("\"U\":4622074361", "\"U\":4622074365"), BadInput::BadNumber),
    ];
    for (frame, want) in cases {
        let mut out = vec![MdEvent { inst: Default::default(), recv_ns: 0, exch_ms: 0, body: MdBody::End }];
        let r = md.decode(frame.as_bytes(), 1, &mut out);
        assert_eq!(r.map_err(|e| e.reason), Err(want), "{frame}");
        assert_eq!(out.len(), 1, "a refused frame leaves the buffer as it was");
    }
}

#[test]
fn a_troll_price_beyond_the_scale_is_skipped_not_fatal() {
    let t = table();
    let md = GateMd::new(&t, Market::Spot);
    let frame = lines("spot_ws_order_book_update.jsonl")[0].replace("\"47737.89\"", "\"1e40\"");
    let before = adapters::decode::unrepresentable_levels();
    let (r, ev) = decode(&md, &frame);
    assert_eq!(r, Ok(Frame::Data));
    assert_eq!(ev.len(), 5, "header, three levels, end");
    assert!(adapters::decode::unrepresentable_levels() > before);
}
