//! The venue frames `arb bench e2e` plays: real recorded frames of both venues and both
//! markets (the Gate.io 2021 corpus and the recorded samples in `adapters/test_data`),
//! then generated full-book frames for BTC/USDT on all four venue markets that cross
//! one market against the others every other frame, so detection fires and orders leave.
//!
//! With more instruments (`arb bench e2e --instruments N`), N - 1 more pairs per venue
//! market (`X0001/USDT`, ...) get a full book each in the warm-up and one book update
//! between crossings in the timed part, in turn, so the book and detect stages work over
//! N books per venue market while the crossings and their orders stay the same.
//!
//! Generated books are the venues' own full-book messages (Gate `order_book_update` with
//! `full`, MEXC spot `limit.depth` protobuf, MEXC futures `push.depth.full`), so every
//! frame resynchronises its book and no sequence can break; recorded trade frames are
//! interleaved with them.

use adapters::capture::{Line, Record, Source};
use adapters::feed::metadata_specs;
use anyhow::{Context, Result};
use pipeline::types::{InstrumentSpec, Market, Venue};

/// Mid price of the generated books.
const MID: i64 = 60_000;
/// How far a crossed market's book is moved, in USD (1%: past fees and margins).
const SHIFT: i64 = 600;
/// Levels per side of a generated book.
const LEVELS: i64 = 5;

/// What the bench plays.
#[derive(Debug)]
pub struct Frames {
    pub specs: Vec<InstrumentSpec>,
    /// Recorded frames, played first as fast as the md stage takes them.
    pub warmup: Vec<Record>,
    /// Generated and recorded frames, played one per interval.
    pub timed: Vec<Record>,
    /// Generated frames that cross a book (each should become one operation).
    pub crossing: usize,
    /// One generated crossing frame per venue market (the parse floors use them).
    pub samples: Vec<Record>,
}

fn spec_of(
    base: &str,
    venue: Venue,
    market: Market,
    symbol: &str,
    tick: &str,
    lot: &str,
    contract: &str,
) -> InstrumentSpec {
    InstrumentSpec {
        venue,
        market,
        symbol: symbol.into(),
        base: base.into(),
        quote: "USDT".into(),
        tick: tick.into(),
        lot: lot.into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: contract.into(),
        taker_fee: None,
        maker_fee: None,
        trading_enabled: true,
    }
}

/// BTC/USDT on Gate.io and MEXC, spot and USDT perpetual.
pub fn btc_specs() -> Vec<InstrumentSpec> {
    pair_specs("BTC")
}

/// `base`/USDT on Gate.io and MEXC, spot and USDT perpetual, with BTC's metadata.
fn pair_specs(base: &str) -> Vec<InstrumentSpec> {
    vec![
        spec_of(base, Venue::GateIo, Market::Spot, &format!("{base}_USDT"), "0.1", "0.0001", "1"),
        spec_of(base, Venue::GateIo, Market::Futures, &format!("{base}_USDT"), "0.1", "1", "0.0001"),
        spec_of(base, Venue::Mexc, Market::Spot, &format!("{base}USDT"), "0.01", "0.000001", "1"),
        spec_of(base, Venue::Mexc, Market::Futures, &format!("{base}_USDT"), "0.1", "1", "0.0001"),
    ]
}

/// The base asset of the `k`th added pair (from 1).
fn filler(k: usize) -> String {
    format!("X{k:04}")
}

fn ws(venue: Venue, market: Market, payload: Vec<u8>, binary: bool) -> Record {
    Record { recv_ns: 0, venue, market, source: Source::Ws, path: None, payload, binary }
}

fn text_lines(venue: Venue, market: Market, text: &str) -> Vec<Record> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| ws(venue, market, l.as_bytes().to_vec(), false))
        .collect()
}

fn hex(venue: Venue, market: Market, text: &str) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let l = l.trim();
        let bytes = (0..l.len() / 2)
            .map(|i| u8::from_str_radix(&l[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .context("recorded MEXC frame: bad hex")?;
        out.push(ws(venue, market, bytes, true));
    }
    Ok(out)
}

macro_rules! data {
    ($p:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/adapters/test_data/", $p))
    };
}

/// The recorded depth frames (warm-up) and trade frames (interleaved), with the
/// instruments of the 2021 corpus.
fn recorded() -> Result<(Vec<Record>, Vec<Record>, Vec<InstrumentSpec>)> {
    let mut depth = Vec::new();
    for (n, line) in data!("gateio/corpus-2021/capture.jsonl").lines().enumerate() {
        let l: Line = serde_json::from_str(line).with_context(|| format!("corpus line {}", n + 1))?;
        depth.push(Record::try_from(l).map_err(anyhow::Error::msg)?);
    }
    let corpus_specs = metadata_specs(&depth);
    use Market::{Futures, Spot};
    use Venue::{GateIo, Mexc};
    // Gate's recorded BTC_USDT deltas are left out: against the generated books they
    // are sequence gaps, and a Gate book waits for a REST snapshot after a gap.
    depth.extend(text_lines(Mexc, Futures, data!("mexc/futures_ws_push_depth.jsonl")));
    depth.extend(hex(Mexc, Spot, data!("mexc/spot_ws_limit_depth.hex"))?);
    let mut trades = text_lines(GateIo, Spot, data!("gateio/spot_ws_trades.jsonl"));
    trades.extend(text_lines(GateIo, Futures, data!("gateio/futures_ws_trades.jsonl")));
    trades.extend(text_lines(Mexc, Futures, data!("mexc/futures_ws_push_deal.jsonl")));
    trades.extend(hex(Mexc, Spot, data!("mexc/spot_ws_aggre_deals.hex"))?);
    Ok((depth, trades, corpus_specs))
}

/// Prices of one generated book side, best first, in the instrument's tick units of 0.1.
fn side(best: i64, step: i64) -> Vec<String> {
    (0..LEVELS).map(|i| format!("{}", best + i * step)).collect()
}

fn gate_book(base: &str, market: Market, seq: u64, ms: u64, bids: &[String], asks: &[String]) -> Vec<u8> {
    let (chan, lv): (&str, fn(&str) -> String) = match market {
        Market::Spot => ("spot.order_book_update", |p| format!(r#"["{p}","0.5"]"#)),
        Market::Futures => ("futures.order_book_update", |p| format!(r#"{{"p":"{p}","s":5000}}"#)),
    };
    let join = |l: &[String]| l.iter().map(|p| lv(p)).collect::<Vec<_>>().join(",");
    format!(
        r#"{{"time":{},"time_ms":{ms},"channel":"{chan}","event":"update","result":{{"t":{ms},"full":true,"s":"{base}_USDT","U":{seq},"u":{seq},"b":[{}],"a":[{}],"l":"5"}}}}"#,
        ms / 1000,
        join(bids),
        join(asks)
    )
    .into_bytes()
}

fn mexc_futures_book(base: &str, seq: u64, ms: u64, bids: &[String], asks: &[String]) -> Vec<u8> {
    let join = |l: &[String]| l.iter().map(|p| format!("[{p},5000,1]")).collect::<Vec<_>>().join(",");
    format!(
        r#"{{"symbol":"{base}_USDT","data":{{"asks":[{}],"bids":[{}],"version":{seq}}},"channel":"push.depth.full","ts":{ms}}}"#,
        join(asks),
        join(bids)
    )
    .into_bytes()
}

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    pb_varint(out, (field << 3) | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A MEXC spot `limit.depth` frame (wrapper field 303), as the recorded one is laid out.
fn mexc_spot_book(base: &str, seq: u64, ms: u64, bids: &[String], asks: &[String]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, side) in [(1, asks), (2, bids)] {
        for p in side {
            let mut item = Vec::new();
            pb_bytes(&mut item, 1, p.as_bytes());
            pb_bytes(&mut item, 2, b"0.5");
            pb_bytes(&mut body, field, &item);
        }
    }
    pb_bytes(&mut body, 3, b"spot@public.limit.depth.v3.api.pb");
    pb_bytes(&mut body, 4, seq.to_string().as_bytes());
    let mut w = Vec::new();
    pb_bytes(&mut w, 1, format!("spot@public.limit.depth.v3.api.pb@{base}USDT@5").as_bytes());
    pb_bytes(&mut w, 3, format!("{base}USDT").as_bytes());
    pb_varint(&mut w, 6 << 3);
    pb_varint(&mut w, ms);
    pb_bytes(&mut w, 303, &body);
    w
}

/// One venue market's BTC/USDT full book around `mid` (in USD).
fn book(venue: Venue, market: Market, seq: u64, ms: u64, mid: i64) -> Record {
    book_of("BTC", venue, market, seq, ms, mid)
}

/// One venue market's `base`/USDT full book around `mid` (in USD).
fn book_of(base: &str, venue: Venue, market: Market, seq: u64, ms: u64, mid: i64) -> Record {
    let bids = side(mid - 1, -1);
    let asks = side(mid + 1, 1);
    let (payload, binary) = match (venue, market) {
        (Venue::GateIo, m) => (gate_book(base, m, seq, ms, &bids, &asks), false),
        (Venue::Mexc, Market::Spot) => (mexc_spot_book(base, seq, ms, &bids, &asks), true),
        (Venue::Mexc, Market::Futures) => (mexc_futures_book(base, seq, ms, &bids, &asks), false),
    };
    ws(venue, market, payload, binary)
}

/// The frames of a run with `cycles` crossings (at least one per venue market) over
/// `instruments` pairs per venue market (BTC/USDT and `instruments - 1` added ones).
pub fn frames(cycles: usize, instruments: usize) -> Result<Frames> {
    let (warm_depth, trades, corpus_specs) = recorded()?;
    let mut specs = btc_specs();
    let added = instruments.saturating_sub(1);
    for k in 1..=added {
        specs.extend(pair_specs(&filler(k)));
    }
    specs.extend(corpus_specs);
    let markets = [
        (Venue::GateIo, Market::Spot, -SHIFT),
        (Venue::Mexc, Market::Futures, SHIFT),
        (Venue::Mexc, Market::Spot, -SHIFT),
        (Venue::GateIo, Market::Futures, SHIFT),
    ];
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut seq = 1_000u64;
    let mut warmup = warm_depth;
    for &(v, m, _) in &markets {
        seq += 1;
        warmup.push(book(v, m, seq, ms, MID));
        for k in 1..=added {
            seq += 1;
            warmup.push(book_of(&filler(k), v, m, seq, ms, MID));
        }
    }
    let mut timed = Vec::new();
    let mut samples = Vec::new();
    let cycles = cycles.max(markets.len());
    for c in 0..cycles {
        let (v, m, shift) = markets[c % markets.len()];
        seq += 1;
        let cross = book(v, m, seq, ms, MID + shift);
        if samples.len() < markets.len() {
            samples.push(cross.clone());
        }
        timed.push(cross);
        timed.push(trades[c % trades.len()].clone());
        seq += 1;
        timed.push(book(v, m, seq, ms, MID));
        // An added pair's book moves, without crossing, in turn over all of them.
        if added > 0 {
            seq += 1;
            timed.push(book_of(&filler(1 + c % added), v, m, seq, ms, MID + 1 + (c % 3) as i64));
        }
    }
    Ok(Frames { specs, warmup, timed, crossing: cycles, samples })
}
