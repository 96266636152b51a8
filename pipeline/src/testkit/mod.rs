//! Fixtures for tests and benches of the trading stages: a small instrument universe on
//! both venues, book tops written as decimal text, and rings with a private metrics hub.
//!
//! Not for production wiring (it is compiled for this crate's tests and with the
//! `testkit` feature, which only dev-dependencies enable); it exists so unit tests,
//! integration tests and end-to-end tests build the same realistic instruments the same
//! way, and count allocations with the same allocator ([`counting`]).

pub mod counting;

use std::sync::Arc;

use quanta::Clock;

use crate::metrics::{MetricsHub, SeriesKind};
use crate::msg::{BOOK_DEPTH, BookTop, Level};
use crate::runtime::{Backpressure, Rx, Tx, link};
use crate::types::{Instrument, InstrumentId, InstrumentSpec, Instruments, Market, Price, Qty, Venue};

/// An instrument specification from decimal text.
#[allow(clippy::too_many_arguments)]
pub fn spec(
    venue: Venue,
    market: Market,
    symbol: &str,
    base: &str,
    quote: &str,
    tick: &str,
    lot: &str,
    min_notional: &str,
    contract_size: &str,
    taker_fee: &str,
) -> InstrumentSpec {
    InstrumentSpec {
        venue,
        market,
        symbol: symbol.into(),
        base: base.into(),
        quote: quote.into(),
        tick: tick.into(),
        lot: lot.into(),
        min_qty: None,
        max_qty: None,
        min_notional: Some(min_notional.into()),
        contract_size: contract_size.into(),
        taker_fee: Some(taker_fee.into()),
        maker_fee: None,
        trading_enabled: true,
    }
}

/// A small universe: BTC and ETH spot on both venues, ETH/BTC on Gate, and the BTC
/// perpetual on both venues.
#[derive(Clone, Debug)]
pub struct Universe {
    pub instruments: Arc<Instruments>,
    pub gate_btc: InstrumentId,
    pub mexc_btc: InstrumentId,
    pub gate_eth: InstrumentId,
    pub gate_eth_btc: InstrumentId,
    pub gate_btc_perp: InstrumentId,
    pub mexc_btc_perp: InstrumentId,
    pub mexc_eth: InstrumentId,
}

/// The standard test universe (fees 0.1% spot, 0.05% futures).
pub fn universe() -> Universe {
    use Market::{Futures, Spot};
    use Venue::{GateIo, Mexc};
    let specs = [
        spec(GateIo, Spot, "BTC_USDT", "BTC", "USDT", "0.1", "0.0001", "3", "1", "0.001"),
        spec(Mexc, Spot, "BTCUSDT", "BTC", "USDT", "0.01", "0.000001", "1", "1", "0.001"),
        spec(GateIo, Spot, "ETH_USDT", "ETH", "USDT", "0.01", "0.001", "3", "1", "0.001"),
        spec(GateIo, Spot, "ETH_BTC", "ETH", "BTC", "0.00001", "0.001", "0.0001", "1", "0.001"),
        spec(GateIo, Futures, "BTC_USDT", "BTC", "USDT", "0.1", "1", "1", "0.0001", "0.0005"),
        spec(Mexc, Futures, "BTC_USDT", "BTC", "USDT", "0.1", "1", "1", "0.0001", "0.0005"),
        spec(Mexc, Spot, "ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "1", "1", "0.001"),
    ];
    let t = Instruments::from_specs(&specs).expect("the test universe is valid");
    let id = |v, m, s| t.find(v, m, s).expect("listed");
    Universe {
        gate_btc: id(GateIo, Spot, "BTC_USDT"),
        mexc_btc: id(Mexc, Spot, "BTCUSDT"),
        gate_eth: id(GateIo, Spot, "ETH_USDT"),
        gate_eth_btc: id(GateIo, Spot, "ETH_BTC"),
        gate_btc_perp: id(GateIo, Futures, "BTC_USDT"),
        mexc_btc_perp: id(Mexc, Futures, "BTC_USDT"),
        mexc_eth: id(Mexc, Spot, "ETHUSDT"),
        instruments: Arc::new(t),
    }
}

/// A price of `inst` from text.
pub fn px(inst: &Instrument, text: &str) -> Price {
    Price::parse(text, inst.price_scale).expect("a valid price")
}

/// A quantity of `inst` from text.
pub fn qty(inst: &Instrument, text: &str) -> Qty {
    Qty::parse(text, inst.qty_scale).expect("a valid quantity")
}

/// A synced book top of `inst` received at `recv_ns`, levels as (price, quantity) text,
/// best first; at most `BOOK_DEPTH` per side are kept.
pub fn top(inst: &Instrument, recv_ns: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> BookTop {
    let mut t = BookTop::unsynced(inst.id, recv_ns);
    t.synced = true;
    let fill = |side: &mut [Level; BOOK_DEPTH], levels: &[(&str, &str)]| {
        let n = levels.len().min(BOOK_DEPTH);
        for (slot, (p, q)) in side.iter_mut().zip(levels.iter().take(n)) {
            *slot = Level { price: px(inst, p), qty: qty(inst, q) };
        }
        n as u8
    };
    t.n_bids = fill(&mut t.bids, bids);
    t.n_asks = fill(&mut t.asks, asks);
    t
}

/// A `Retry` ring of `capacity` events whose hop histogram goes to a private hub.
pub fn ring<T: Copy + Send>(capacity: usize) -> (Tx<T>, Rx<T>) {
    ring_with(capacity, Backpressure::Retry, Clock::new())
}

/// A ring with the given backpressure and clock.
pub fn ring_with<T: Copy + Send>(capacity: usize, bp: Backpressure, clock: Clock) -> (Tx<T>, Rx<T>) {
    let mut hub = MetricsHub::new(clock.clone());
    let rec = hub.recorder("test", SeriesKind::Hop);
    link("test", capacity, bp, clock, rec)
}

/// Everything waiting on `rx`.
pub fn drain<T: Copy>(rx: &mut Rx<T>) -> Vec<T> {
    let mut v = Vec::new();
    while let Some(x) = rx.pop() {
        v.push(x);
    }
    v
}
