//! The body of every fuzz target, as plain functions over bytes.
//!
//! The cargo-fuzz binaries (`fuzz/fuzz_targets/*.rs`, nightly) each call one of these,
//! and `tests/fuzz_regressions.rs` (stable, in the test command) runs every kept crash
//! input under `fuzz/regressions/<target>/` through the same function. A function panics
//! when the code under test breaks a rule (a panic of its own, or an output that breaks
//! the reader's documented promise) and otherwise returns a short verdict, "refused: …"
//! or "accepted: …", that the regression test compares with the one documented for the
//! input.
//!
//! Stateful readers (the venues' private streams and REST answers) read the input as a
//! sequence of messages, each `[kind][arg][length: u16 LE][payload]` (a short last
//! message takes what is left), see [`messages`].
#![allow(dead_code)]

mod md;
mod private;
mod readers;
mod user;

use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};

/// A fuzz target: its name (the cargo-fuzz binary and the regressions folder) and body.
pub type Target = (&'static str, fn(&[u8]) -> String);

/// Every target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: &[Target] = &[
    ("decimal", md::decimal),
    ("gate_md", md::gate_md),
    ("mexc_spot_md", md::mexc_spot_md),
    ("mexc_futures_md", md::mexc_futures_md),
    ("gate_private", private::gate),
    ("mexc_private", private::mexc),
    ("venue_meta", readers::venue_meta),
    ("http_response", readers::http_response),
    ("tls_records", readers::tls_records),
    ("journal", readers::journal),
    ("capture", readers::capture),
    ("proto", readers::proto),
    ("config", user::config),
    ("ctl_request", user::ctl_request),
];

/// The body of the target called `name`.
pub fn target(name: &str) -> Option<fn(&[u8]) -> String> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// An instrument table with every venue market, real tick and lot shapes, futures
/// contract sizes below one and fees, so that the readers reach their arithmetic.
pub fn table() -> Instruments {
    let mut specs = Vec::new();
    let spec = |venue, market, symbol: &str, base: &str, tick: &str, lot: &str, size: &str| InstrumentSpec {
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
        contract_size: size.into(),
        taker_fee: Some("0.002".into()),
        maker_fee: Some("-0.0001".into()),
        trading_enabled: true,
    };
    for (base, tick, lot) in [("BTC", "0.01", "0.0001"), ("ETH", "0.01", "0.001")] {
        specs.push(spec(Venue::GateIo, Market::Spot, &format!("{base}_USDT"), base, tick, lot, "1"));
        specs.push(spec(Venue::GateIo, Market::Futures, &format!("{base}_USDT"), base, "0.1", "1", "0.0001"));
        specs.push(spec(Venue::Mexc, Market::Spot, &format!("{base}USDT"), base, tick, lot, "1"));
        specs.push(spec(Venue::Mexc, Market::Futures, &format!("{base}_USDT"), base, "0.1", "1", "0.0001"));
    }
    Instruments::from_specs(&specs).expect("the fuzz instrument table")
}

/// The messages of a stateful target's input: `(kind, arg, payload)`.
pub fn messages(mut data: &[u8]) -> impl Iterator<Item = (u8, u8, &[u8])> {
    std::iter::from_fn(move || {
        let [kind, arg, rest @ ..] = data else { return None };
        let (len, body) = match rest {
            [lo, hi, body @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), body),
            _ => (0, &[][..]),
        };
        let take = len.min(body.len());
        let msg = (*kind, *arg, &body[..take]);
        data = &body[take..];
        Some(msg)
    })
}

/// Writes messages in the format [`messages`] reads (for seeds and tests).
pub fn encode_messages<'a>(msgs: impl IntoIterator<Item = (u8, u8, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, arg, payload) in msgs {
        let len = u16::try_from(payload.len()).expect("a message under 64 KiB");
        out.extend_from_slice(&[kind, arg]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(payload);
    }
    out
}
