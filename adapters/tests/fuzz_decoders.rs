//! Bounded fuzzing of every decoder, seeded from the recorded frames: random byte
//! mutations must never panic, and whatever a decoder accepts must be well formed (every
//! update opened is closed, every level has a positive price and a non-negative
//! quantity, nothing is half-written on refusal). CI runs this bounded pass; the
//! cargo-fuzz targets under fuzz/ run the same checks open-ended.

use adapters::venues::gateio::md::GateMd;
use adapters::venues::mexc::md::futures::MexcFuturesMd;
use adapters::venues::mexc::md::spot::MexcSpotMd;
use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};
use proptest::prelude::*;

fn spec(venue: Venue, market: Market, symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        venue,
        market,
        symbol: symbol.into(),
        base: symbol.get(..3).unwrap_or("X").into(),
        quote: "USDT".into(),
        tick: "0.000001".into(),
        lot: "0.0001".into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: "1".into(),
        taker_fee: None,
        maker_fee: None,
        trading_enabled: true,
    }
}

fn table() -> Instruments {
    let mut s = Vec::new();
    for sym in ["BTC_USDT", "ETH_USDT", "GT_USDT"] {
        s.push(spec(Venue::GateIo, Market::Spot, sym));
        s.push(spec(Venue::GateIo, Market::Futures, sym));
        s.push(spec(Venue::Mexc, Market::Futures, sym));
    }
    s.push(spec(Venue::Mexc, Market::Spot, "BTCUSDT"));
    Instruments::from_specs(&s).unwrap()
}

fn read(venue: &str, file: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/test_data/{venue}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    if file.ends_with(".hex") {
        text.lines()
            .map(|l| (0..l.len()).step_by(2).map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap()).collect())
            .collect()
    } else {
        text.lines().map(|l| l.as_bytes().to_vec()).collect()
    }
}

fn seeds(kind: Kind) -> Vec<Vec<u8>> {
    match kind {
        Kind::GateSpot => [
            "spot_ws_order_book_update.jsonl",
            "spot_ws_book_ticker.jsonl",
            "spot_ws_trades.jsonl",
            "spot_ws_control.jsonl",
        ]
        .iter()
        .flat_map(|f| read("gateio", f))
        .collect(),
        Kind::GateFutures => [
            "futures_ws_obu.jsonl",
            "futures_ws_order_book_update.jsonl",
            "futures_ws_book_ticker.jsonl",
            "futures_ws_trades.jsonl",
        ]
        .iter()
        .flat_map(|f| read("gateio", f))
        .collect(),
        Kind::MexcSpot => {
            ["spot_ws_aggre_book_ticker.hex", "spot_ws_limit_depth.hex", "spot_ws_aggre_deals.hex"]
                .iter()
                .flat_map(|f| read("mexc", f))
                .collect()
        }
        Kind::MexcFutures => [
            "futures_ws_push_depth.jsonl",
            "futures_ws_push_depth_full.jsonl",
            "futures_ws_push_deal.jsonl",
            "futures_ws_control.jsonl",
        ]
        .iter()
        .flat_map(|f| read("mexc", f))
        .collect(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    GateSpot,
    GateFutures,
    MexcSpot,
    MexcFutures,
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
    Digit(usize, u8),
}

fn mutate(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = b.len().max(1);
        match *m {
            Mutation::Flip(i, x) => {
                if !b.is_empty() {
                    b[i % n] ^= x;
                }
            }
            Mutation::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            Mutation::Delete(i, len) => {
                let s = i % n;
                let e = (s + len).min(b.len());
                b.drain(s.min(b.len())..e);
            }
            Mutation::Truncate(i) => b.truncate(i % n),
            Mutation::Duplicate(i, len) => {
                let s = (i % n).min(b.len());
                let e = (s + len).min(b.len());
                let span: Vec<u8> = b[s..e].to_vec();
                b.splice(s..s, span);
            }
            Mutation::Digit(i, d) => {
                if !b.is_empty() {
                    let at = i % n;
                    if b[at].is_ascii_digit() {
                        b[at] = b'0' + d % 10;
                    }
                }
            }
        }
    }
    b
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        (any::<usize>(), 1usize..16).prop_map(|(i, l)| Mutation::Delete(i, l)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, l)| Mutation::Duplicate(i, l)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, d)| Mutation::Digit(i, d)),
    ]
}

/// Every accepted output is a sequence of whole updates with sane levels.
fn well_formed(events: &[MdEvent]) -> Result<(), String> {
    let mut open = false;
    for e in events {
        match e.body {
            MdBody::Delta { first, last } => {
                if open || first > last {
                    return Err(format!("bad header {:?}", e.body));
                }
                open = true;
            }
            MdBody::Snapshot { .. } => {
                if open {
                    return Err("nested header".into());
                }
                open = true;
            }
            MdBody::Level { price, qty, .. } => {
                if !open || price.0 <= 0 || qty.0 < 0 {
                    return Err(format!("bad level {:?}", e.body));
                }
            }
            MdBody::End => {
                if !open {
                    return Err("end without header".into());
                }
                open = false;
            }
            MdBody::Trade { price, qty, .. } => {
                if price.0 <= 0 || qty.0 < 0 {
                    return Err(format!("bad trade {:?}", e.body));
                }
            }
            MdBody::Bbo { .. } | MdBody::FeedLost { .. } | MdBody::Listed { .. } => {}
        }
    }
    if open { Err("update never closed".into()) } else { Ok(()) }
}

fn check(kind: Kind, seed: usize, muts: &[Mutation]) -> Result<(), TestCaseError> {
    thread_local! {
        static T: Instruments = table();
        static SEEDS: Vec<Vec<Vec<u8>>> =
            [Kind::GateSpot, Kind::GateFutures, Kind::MexcSpot, Kind::MexcFutures].map(seeds).to_vec();
    }
    let input = SEEDS.with(|s| {
        let s = &s[kind as usize];
        mutate(s[seed % s.len()].clone(), muts)
    });
    T.with(|t| {
        let mut out = Vec::new();
        let ok = match kind {
            Kind::GateSpot => GateMd::new(t, Market::Spot).decode(&input, 1, &mut out).is_ok(),
            Kind::GateFutures => GateMd::new(t, Market::Futures).decode(&input, 1, &mut out).is_ok(),
            Kind::MexcSpot => MexcSpotMd::new(t).decode(&input, true, 1, &mut out).is_ok(),
            Kind::MexcFutures => MexcFuturesMd::new(t).decode(&input, 1, &mut out).is_ok(),
        };
        if !ok {
            prop_assert!(out.is_empty(), "a refused frame left events behind");
        }
        prop_assert!(well_formed(&out).is_ok(), "{:?}", well_formed(&out));
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn gate_spot_survives_mutation(seed in any::<usize>(), muts in proptest::collection::vec(mutation(), 1..6)) {
        check(Kind::GateSpot, seed, &muts)?;
    }

    #[test]
    fn gate_futures_survives_mutation(seed in any::<usize>(), muts in proptest::collection::vec(mutation(), 1..6)) {
        check(Kind::GateFutures, seed, &muts)?;
    }

    #[test]
    fn mexc_spot_protobuf_survives_mutation(seed in any::<usize>(), muts in proptest::collection::vec(mutation(), 1..6)) {
        check(Kind::MexcSpot, seed, &muts)?;
    }

    #[test]
    fn mexc_futures_survives_mutation(seed in any::<usize>(), muts in proptest::collection::vec(mutation(), 1..6)) {
        check(Kind::MexcFutures, seed, &muts)?;
    }

    #[test]
    fn random_bytes_never_panic_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        thread_local! { static T: Instruments = table(); }
        T.with(|t| {
            let mut out = Vec::new();
            let _ = GateMd::new(t, Market::Spot).decode(&bytes, 1, &mut out);
            let _ = MexcSpotMd::new(t).decode(&bytes, true, 1, &mut out);
            let _ = MexcSpotMd::new(t).decode(&bytes, false, 1, &mut out);
            let _ = MexcFuturesMd::new(t).decode(&bytes, 1, &mut out);
            well_formed(&out).map_err(TestCaseError::fail)
        })?;
    }
}
