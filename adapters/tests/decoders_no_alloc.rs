//! Every market-data decoder of both venues allocates nothing per frame once its output
//! buffer has grown: real recorded frames (Gate.io's 2021 spot capture, the recorded
//! Gate.io and MEXC WebSocket frames of both markets, MEXC's protobuf frames, the REST
//! depth snapshots, control frames and refusals) decoded again and again, counted with a
//! counting allocator on this thread.
//!
//! This file holds one test so that nothing else allocates in the process while it
//! measures.

use adapters::decode::DecodeError;
use adapters::venues::gateio::feed::snapshot_target;
use adapters::venues::gateio::md::GateMd;
use adapters::venues::mexc::md::futures::MexcFuturesMd;
use adapters::venues::mexc::md::spot::MexcSpotMd;
use pipeline::msg::MdEvent;
use pipeline::testkit::counting::{CountingAlloc, counted};
use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn spec(venue: Venue, market: Market, symbol: &str) -> InstrumentSpec {
    let (base, quote) = match symbol.split_once('_') {
        Some((b, q)) => (b.to_owned(), q.to_owned()),
        None => (symbol.trim_end_matches("USDT").to_owned(), "USDT".to_owned()),
    };
    InstrumentSpec {
        venue,
        market,
        symbol: symbol.into(),
        base,
        quote,
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

fn lines(venue: &str, file: &str) -> Vec<String> {
    let path = format!("{}/test_data/{venue}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A frame and the decoder it goes to.
enum Input {
    Gate { market: Market, frame: Vec<u8> },
    GateSnapshot { market: Market, symbol: String, body: Vec<u8> },
    MexcSpot { frame: Vec<u8>, binary: bool },
    MexcSpotSnapshot { body: Vec<u8> },
    MexcFutures { frame: Vec<u8> },
    MexcFuturesSnapshot { body: Vec<u8> },
}

/// The recorded frames, and the instruments they name (so that most decode to events
/// rather than stop at an unknown symbol).
fn recorded() -> (Vec<Input>, Vec<InstrumentSpec>) {
    let mut inputs = Vec::new();
    let mut specs = Vec::new();
    let mut add = |venue, market, symbol: &str| {
        if !specs
            .iter()
            .any(|s: &InstrumentSpec| s.venue == venue && s.market == market && s.symbol == symbol)
        {
            specs.push(spec(venue, market, symbol));
        }
    };
    // Gate.io's 2021 spot capture: WebSocket frames and REST snapshots as they came.
    for line in lines("gateio", "corpus-2021/capture.jsonl") {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let text = v["text"].as_str().unwrap().as_bytes().to_vec();
        match v["path"].as_str().and_then(snapshot_target) {
            Some((market, symbol)) => {
                add(Venue::GateIo, market, symbol);
                inputs.push(Input::GateSnapshot { market, symbol: symbol.to_owned(), body: text });
            }
            None => {
                let s = String::from_utf8_lossy(&text);
                if let Some(at) = s.find("\"s\":\"") {
                    let rest = &s[at + 5..];
                    add(Venue::GateIo, Market::Spot, &rest[..rest.find('"').unwrap()]);
                }
                inputs.push(Input::Gate { market: Market::Spot, frame: text });
            }
        }
    }
    for s in ["BTC_USDT", "ETH_USDT", "GT_USDT", "QTCON_USDT"] {
        add(Venue::GateIo, Market::Spot, s);
    }
    for s in ["BTC_USDT", "ETH_USDT", "CHR_USDT", "MOB_USDT", "INIT_USDT"] {
        add(Venue::GateIo, Market::Futures, s);
    }
    for (file, market) in [
        ("spot_ws_order_book_update.jsonl", Market::Spot),
        ("spot_ws_book_ticker.jsonl", Market::Spot),
        ("spot_ws_trades.jsonl", Market::Spot),
        ("spot_ws_tickers.jsonl", Market::Spot),
        ("spot_ws_order_book.jsonl", Market::Spot),
        ("spot_ws_control.jsonl", Market::Spot),
        ("futures_ws_obu.jsonl", Market::Futures),
        ("futures_ws_order_book_update.jsonl", Market::Futures),
        ("futures_ws_book_ticker.jsonl", Market::Futures),
        ("futures_ws_trades.jsonl", Market::Futures),
        ("futures_ws_tickers.jsonl", Market::Futures),
        ("futures_ws_order_book.jsonl", Market::Futures),
        ("futures_ws_control.jsonl", Market::Futures),
    ] {
        for frame in lines("gateio", file) {
            inputs.push(Input::Gate { market, frame: frame.into_bytes() });
        }
    }
    for (file, market) in
        [("spot_rest_order_book.jsonl", Market::Spot), ("futures_rest_order_book.jsonl", Market::Futures)]
    {
        for body in lines("gateio", file) {
            inputs.push(Input::GateSnapshot { market, symbol: "BTC_USDT".into(), body: body.into_bytes() });
        }
    }
    // MEXC: protobuf spot frames, JSON control, futures pushes, REST snapshots.
    add(Venue::Mexc, Market::Spot, "BTCUSDT");
    for s in ["BTC_USDT", "ETH_USDT", "DOGE_USDT", "AERO_USDT", "RIF_USDT", "PENGU_USDT", "LINK_USDT"] {
        add(Venue::Mexc, Market::Futures, s);
    }
    for file in [
        "spot_ws_aggre_book_ticker.hex",
        "spot_ws_aggre_deals.hex",
        "spot_ws_aggre_deals_synthetic_thirdparty_reencoded.hex",
        "spot_ws_kline.hex",
        "spot_ws_limit_depth.hex",
    ] {
        for frame in lines("mexc", file) {
            inputs.push(Input::MexcSpot { frame: hex(frame.trim()), binary: true });
        }
    }
    for frame in lines("mexc", "spot_ws_control.jsonl") {
        inputs.push(Input::MexcSpot { frame: frame.into_bytes(), binary: false });
    }
    for body in lines("mexc", "spot_rest_depth.jsonl") {
        inputs.push(Input::MexcSpotSnapshot { body: body.into_bytes() });
    }
    for file in [
        "futures_ws_push_depth.jsonl",
        "futures_ws_push_depth_full.jsonl",
        "futures_ws_push_deal.jsonl",
        "futures_ws_push_ticker.jsonl",
        "futures_ws_push_tickers.jsonl",
        "futures_ws_push_other.jsonl",
        "futures_ws_control.jsonl",
    ] {
        for frame in lines("mexc", file) {
            inputs.push(Input::MexcFutures { frame: frame.into_bytes() });
        }
    }
    for body in lines("mexc", "futures_rest_depth.jsonl") {
        inputs.push(Input::MexcFuturesSnapshot { body: body.into_bytes() });
    }
    // Broken input takes the refusal paths: cut frames and a flipped byte.
    let whole: Vec<Vec<u8>> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Gate { frame, .. } | Input::MexcFutures { frame } => Some(frame.clone()),
            _ => None,
        })
        .collect();
    for f in whole.iter().take(40) {
        inputs.push(Input::Gate { market: Market::Spot, frame: f[..f.len() / 2].to_vec() });
        inputs.push(Input::MexcFutures { frame: f[..f.len() * 2 / 3].to_vec() });
        let mut flipped = f.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x5a;
        inputs.push(Input::Gate { market: Market::Futures, frame: flipped });
    }
    (inputs, specs)
}

/// The decoders of one table.
struct Decoders {
    gate_spot: GateMd,
    gate_futures: GateMd,
    mexc_spot: MexcSpotMd,
    mexc_futures: MexcFuturesMd,
}

impl Decoders {
    /// Decodes `input` into `out`; true when it gave events.
    fn decode(&self, input: &Input, out: &mut Vec<MdEvent>) -> bool {
        let before = out.len();
        let r: Result<(), DecodeError> = match input {
            Input::Gate { market, frame } => {
                let md = if *market == Market::Spot { &self.gate_spot } else { &self.gate_futures };
                md.decode(frame, 1, out).map(drop)
            }
            Input::GateSnapshot { market, symbol, body } => {
                let md = if *market == Market::Spot { &self.gate_spot } else { &self.gate_futures };
                match md.symbol(symbol.as_bytes()) {
                    Some(sym) => md.decode_snapshot(sym, body, 1, out),
                    None => Ok(()),
                }
            }
            Input::MexcSpot { frame, binary } => self.mexc_spot.decode(frame, *binary, 1, out).map(drop),
            Input::MexcSpotSnapshot { body } => {
                let sym = self.mexc_spot.symbol(b"BTCUSDT").unwrap();
                self.mexc_spot.decode_snapshot(sym, body, 1, out)
            }
            Input::MexcFutures { frame } => self.mexc_futures.decode(frame, 1, out).map(drop),
            Input::MexcFuturesSnapshot { body } => {
                let sym = self.mexc_futures.symbol(b"BTC_USDT").unwrap();
                self.mexc_futures.decode_snapshot(sym, body, 1, out)
            }
        };
        r.is_ok() && out.len() > before
    }
}

#[test]
fn every_decoder_allocates_nothing_per_frame_once_warm() {
    let (inputs, specs) = recorded();
    let t = Instruments::from_specs(&specs).unwrap();
    let d = Decoders {
        gate_spot: GateMd::new(&t, Market::Spot),
        gate_futures: GateMd::new(&t, Market::Futures),
        mexc_spot: MexcSpotMd::new(&t),
        mexc_futures: MexcFuturesMd::new(&t),
    };
    // Warm-up: the output buffer grows to the largest frame's events.
    let mut out: Vec<MdEvent> = Vec::new();
    let mut with_events = 0;
    for i in &inputs {
        out.clear();
        with_events += usize::from(d.decode(i, &mut out));
    }
    assert!(with_events > 150, "only {with_events} of {} frames gave events", inputs.len());
    const PASSES: usize = 20;
    let (events, allocs) = counted(|| {
        let mut events = 0;
        for _ in 0..PASSES {
            for i in &inputs {
                out.clear();
                d.decode(i, &mut out);
                events += out.len();
            }
        }
        events
    });
    println!("{} frames x {PASSES}: {events} events, {allocs} allocations", inputs.len());
    assert!(events > 0);
    assert_eq!(allocs, 0, "allocations over {} frames", inputs.len() * PASSES);
}
