//! Decoding one venue frame into normalized events, against a bare simd-json parse of
//! the same bytes (tape only, reused buffers) measured in the same run; and MEXC
//! protobuf against Gate JSON for the same book content.
//!
//! simd-json parses in place, so each of its iterations first copies the frame into a
//! reused buffer (a venue frame arrives immutable); our decoder reads the frame where
//! it lies. `cargo bench --bench decode`; results in perf/decode.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use adapters::venues::gateio::md::GateMd;
use adapters::venues::mexc::md::spot::MexcSpotMd;
use pipeline::msg::MdEvent;
use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};

fn table() -> Instruments {
    let spec = |venue, market, symbol: &str| InstrumentSpec {
        venue,
        market,
        symbol: symbol.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        tick: "0.01".into(),
        lot: "0.000001".into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: "1".into(),
        taker_fee: None,
        maker_fee: None,
        trading_enabled: true,
    };
    Instruments::from_specs(&[
        spec(Venue::GateIo, Market::Spot, "BTC_USDT"),
        spec(Venue::Mexc, Market::Spot, "BTCUSDT"),
    ])
    .unwrap()
}

type Levels = Vec<(String, String)>;

/// Real price levels: the NANO_USDT snapshot of the 2021 corpus (100 per side).
fn corpus_levels() -> (Levels, Levels) {
    let text = include_str!("../adapters/test_data/gateio/corpus-2021/capture.jsonl");
    let line = text.lines().find(|l| l.contains("currency_pair=NANO_USDT")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let snap: serde_json::Value = serde_json::from_str(v["text"].as_str().unwrap()).unwrap();
    let side = |k: &str| {
        snap[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_str().unwrap().to_owned(), l[1].as_str().unwrap().to_owned()))
            .collect()
    };
    (side("bids"), side("asks"))
}

/// A Gate order_book_update frame carrying `n` real levels per side.
fn gate_frame(n: usize) -> Vec<u8> {
    let (b, a) = corpus_levels();
    let pairs = |l: &[(String, String)]| {
        l.iter().take(n).map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect::<Vec<_>>().join(",")
    };
    format!(
        r#"{{"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update","event":"update","result":{{"t":1606294781123,"e":"depthUpdate","E":1606294781,"s":"BTC_USDT","U":48776301,"u":48776306,"b":[{}],"a":[{}]}}}}"#,
        pairs(&b),
        pairs(&a)
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
    pb_varint(out, field << 3 | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// The same levels as a MEXC aggre.depth protobuf frame.
fn mexc_frame(n: usize) -> Vec<u8> {
    let (b, a) = corpus_levels();
    let mut body = Vec::new();
    for (field, side) in [(1, &a), (2, &b)] {
        for (p, q) in side.iter().take(n) {
            let mut item = Vec::new();
            pb_bytes(&mut item, 1, p.as_bytes());
            pb_bytes(&mut item, 2, q.as_bytes());
            pb_bytes(&mut body, field, &item);
        }
    }
    pb_bytes(&mut body, 3, b"spot@public.aggre.depth.v3.api.pb@100ms");
    pb_bytes(&mut body, 4, b"48776301");
    pb_bytes(&mut body, 5, b"48776306");
    let mut w = Vec::new();
    pb_bytes(&mut w, 1, b"spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT");
    pb_bytes(&mut w, 3, b"BTCUSDT");
    pb_varint(&mut w, 6 << 3);
    pb_varint(&mut w, 1_754_741_322_152);
    pb_bytes(&mut w, 313, &body);
    w
}

fn decode(c: &mut Criterion) {
    let t = table();
    let gate = GateMd::new(&t, Market::Spot);
    let mexc = MexcSpotMd::new(&t);
    let recorded = include_str!("../adapters/test_data/gateio/spot_ws_order_book_update.jsonl")
        .trim()
        .as_bytes()
        .to_vec();
    let mut g = c.benchmark_group("decode");
    for (name, frame) in
        [("recorded_4_levels", recorded), ("20_levels", gate_frame(10)), ("100_levels", gate_frame(50))]
    {
        g.throughput(Throughput::Bytes(frame.len() as u64));
        let mut buf = Vec::with_capacity(frame.len() + 64);
        let mut buffers = simd_json::Buffers::new(frame.len());
        let mut tape = Some(simd_json::Tape::null().reset());
        g.bench_with_input(BenchmarkId::new("baseline_simd_json_tape", name), &frame, |b, frame| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(frame);
                let mut t = tape.take().unwrap_or_else(|| simd_json::Tape::null().reset());
                let ok = simd_json::fill_tape(&mut buf, &mut buffers, &mut t).is_ok();
                black_box((ok, t.0.len()));
                tape = Some(t.reset());
            })
        });
        let mut out: Vec<MdEvent> = Vec::with_capacity(256);
        g.bench_with_input(BenchmarkId::new("gate_json", name), &frame, |b, frame| {
            b.iter(|| {
                out.clear();
                black_box(gate.decode(black_box(frame), 1, &mut out).is_ok());
            })
        });
    }
    for (name, n) in [("20_levels", 10), ("100_levels", 50)] {
        let frame = mexc_frame(n);
        let mut out: Vec<MdEvent> = Vec::with_capacity(256);
        g.bench_with_input(BenchmarkId::new("mexc_protobuf", name), &frame, |b, frame| {
            b.iter(|| {
                out.clear();
                black_box(mexc.decode(black_box(frame), true, 1, &mut out).is_ok());
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
