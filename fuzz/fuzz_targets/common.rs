//! Shared by the fuzz targets: an instrument table and the well-formedness check.

use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};

pub fn table() -> Instruments {
    let mut specs = Vec::new();
    for (venue, market, symbol) in [
        (Venue::GateIo, Market::Spot, "BTC_USDT"),
        (Venue::GateIo, Market::Futures, "BTC_USDT"),
        (Venue::Mexc, Market::Spot, "BTCUSDT"),
        (Venue::Mexc, Market::Futures, "BTC_USDT"),
    ] {
        specs.push(InstrumentSpec {
            venue,
            market,
            symbol: symbol.into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            tick: "0.01".into(),
            lot: "0.0001".into(),
            min_qty: None,
            max_qty: None,
            min_notional: None,
            contract_size: "1".into(),
            taker_fee: None,
            maker_fee: None,
            trading_enabled: true,
        });
    }
    Instruments::from_specs(&specs).unwrap()
}

/// Accepted output must be whole updates with sane levels; refused output must be empty.
pub fn check(ok: bool, out: &[MdEvent]) {
    if !ok {
        assert!(out.is_empty());
    }
    let mut open = false;
    for e in out {
        match e.body {
            MdBody::Delta { first, last } => {
                assert!(!open && first <= last);
                open = true;
            }
            MdBody::Snapshot { .. } => {
                assert!(!open);
                open = true;
            }
            MdBody::Level { price, qty, .. } => assert!(open && price.0 > 0 && qty.0 >= 0),
            MdBody::End => {
                assert!(open);
                open = false;
            }
            _ => {}
        }
    }
    assert!(!open);
}
