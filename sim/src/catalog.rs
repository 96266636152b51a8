//! The instruments the simulated venues list: Gate.io and MEXC, spot and USDT perpetual
//! futures, for BTC, ETH and SOL against USDT plus ETH/BTC on each spot market (the third
//! leg of the triangle).
//!
//! Each listing carries the venue's own metadata in the venue's own terms (decimal
//! places, contract multipliers, minimum notional) from which both the REST metadata
//! bodies and the [`InstrumentSpec`]s are made, so the two cannot disagree.

use pipeline::types::{InstrumentSpec, Market, Venue};

/// The model's assets; `Usdt` is the quote and margin currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Asset {
    Btc,
    Eth,
    Sol,
}

impl Asset {
    pub const ALL: [Asset; 3] = [Asset::Btc, Asset::Eth, Asset::Sol];

    pub const fn name(self) -> &'static str {
        match self {
            Asset::Btc => "BTC",
            Asset::Eth => "ETH",
            Asset::Sol => "SOL",
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What an instrument's price follows in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pair {
    /// `asset` in USDT.
    Usdt(Asset),
    /// ETH in BTC.
    EthBtc,
}

/// One listing of a simulated venue.
#[derive(Clone, Debug)]
pub struct Listing {
    pub venue: Venue,
    pub market: Market,
    /// The venue's symbol (`BTC_USDT`, `BTCUSDT`).
    pub symbol: &'static str,
    pub base: &'static str,
    pub quote: &'static str,
    pub pair: Pair,
    /// Price decimal places (the tick is `10^-price_decimals`).
    pub price_decimals: u8,
    /// Quantity decimal places of the order unit (base or contracts).
    pub qty_decimals: u8,
    /// Smallest order quantity, decimal text in the order unit.
    pub min_qty: &'static str,
    /// Smallest order value in the quote currency, decimal text.
    pub min_notional: &'static str,
    /// Base units per order unit, decimal text ("1" for spot).
    pub contract_size: &'static str,
    pub maker_fee: &'static str,
    pub taker_fee: &'static str,
    /// Largest order quantity, decimal text.
    pub max_qty: &'static str,
}

impl Listing {
    /// The decimal text of `10^-n`.
    pub fn step(n: u8) -> String {
        if n == 0 { "1".to_owned() } else { format!("0.{}1", "0".repeat(n as usize - 1)) }
    }

    pub fn tick(&self) -> String {
        Self::step(self.price_decimals)
    }

    pub fn lot(&self) -> String {
        Self::step(self.qty_decimals)
    }

    pub fn spec(&self) -> InstrumentSpec {
        InstrumentSpec {
            venue: self.venue,
            market: self.market,
            symbol: self.symbol.to_owned(),
            base: self.base.to_owned(),
            quote: self.quote.to_owned(),
            tick: self.tick(),
            lot: self.lot(),
            min_qty: Some(self.min_qty.to_owned()),
            max_qty: Some(self.max_qty.to_owned()),
            min_notional: Some(self.min_notional.to_owned()),
            contract_size: self.contract_size.to_owned(),
            taker_fee: Some(self.taker_fee.to_owned()),
            maker_fee: Some(self.maker_fee.to_owned()),
            trading_enabled: true,
        }
    }
}

// Fee defaults (protocols.md H.2): Gate spot 0.1%/0.1%, Gate futures maker 0.02% taker
// 0.05%, MEXC spot 0%/0.05%, MEXC futures 0%/0.02%.
const GATE_SPOT_FEE: &str = "0.001";
const GATE_FUT_MAKER: &str = "0.0002";
const GATE_FUT_TAKER: &str = "0.0005";
const MEXC_SPOT_MAKER: &str = "0";
const MEXC_SPOT_TAKER: &str = "0.0005";
const MEXC_FUT_MAKER: &str = "0";
const MEXC_FUT_TAKER: &str = "0.0002";

#[allow(clippy::too_many_arguments)]
const fn l(
    venue: Venue,
    market: Market,
    symbol: &'static str,
    base: &'static str,
    quote: &'static str,
    pair: Pair,
    price_decimals: u8,
    qty_decimals: u8,
    min_qty: &'static str,
    min_notional: &'static str,
    contract_size: &'static str,
    fees: (&'static str, &'static str),
    max_qty: &'static str,
) -> Listing {
    Listing {
        venue,
        market,
        symbol,
        base,
        quote,
        pair,
        price_decimals,
        qty_decimals,
        min_qty,
        min_notional,
        contract_size,
        maker_fee: fees.0,
        taker_fee: fees.1,
        max_qty,
    }
}

/// Every listing, venue by venue, spot before futures.
pub fn listings() -> Vec<Listing> {
    use Asset::*;
    use Market::{Futures, Spot};
    use Venue::{GateIo, Mexc};
    let gs = (GATE_SPOT_FEE, GATE_SPOT_FEE);
    let gf = (GATE_FUT_MAKER, GATE_FUT_TAKER);
    let ms = (MEXC_SPOT_MAKER, MEXC_SPOT_TAKER);
    let mf = (MEXC_FUT_MAKER, MEXC_FUT_TAKER);
    vec![
        l(GateIo, Spot, "BTC_USDT", "BTC", "USDT", Pair::Usdt(Btc), 1, 6, "0.000001", "3", "1", gs, "100"),
        l(GateIo, Spot, "ETH_USDT", "ETH", "USDT", Pair::Usdt(Eth), 2, 4, "0.0001", "3", "1", gs, "5000"),
        l(GateIo, Spot, "SOL_USDT", "SOL", "USDT", Pair::Usdt(Sol), 2, 3, "0.001", "3", "1", gs, "100000"),
        l(GateIo, Spot, "ETH_BTC", "ETH", "BTC", Pair::EthBtc, 6, 4, "0.0001", "0.0001", "1", gs, "5000"),
        l(
            GateIo,
            Futures,
            "BTC_USDT",
            "BTC",
            "USDT",
            Pair::Usdt(Btc),
            1,
            0,
            "1",
            "0",
            "0.0001",
            gf,
            "1000000",
        ),
        l(GateIo, Futures, "ETH_USDT", "ETH", "USDT", Pair::Usdt(Eth), 2, 0, "1", "0", "0.01", gf, "1000000"),
        l(GateIo, Futures, "SOL_USDT", "SOL", "USDT", Pair::Usdt(Sol), 2, 0, "1", "0", "1", gf, "1000000"),
        l(Mexc, Spot, "BTCUSDT", "BTC", "USDT", Pair::Usdt(Btc), 2, 6, "0.000001", "1", "1", ms, "100"),
        l(Mexc, Spot, "ETHUSDT", "ETH", "USDT", Pair::Usdt(Eth), 2, 5, "0.00001", "1", "1", ms, "5000"),
        l(Mexc, Spot, "SOLUSDT", "SOL", "USDT", Pair::Usdt(Sol), 2, 3, "0.001", "1", "1", ms, "100000"),
        l(Mexc, Spot, "ETHBTC", "ETH", "BTC", Pair::EthBtc, 6, 4, "0.0001", "0.0001", "1", ms, "5000"),
        l(Mexc, Futures, "BTC_USDT", "BTC", "USDT", Pair::Usdt(Btc), 1, 0, "1", "0", "0.0001", mf, "400000"),
        l(Mexc, Futures, "ETH_USDT", "ETH", "USDT", Pair::Usdt(Eth), 2, 0, "1", "0", "0.01", mf, "400000"),
        l(Mexc, Futures, "SOL_USDT", "SOL", "USDT", Pair::Usdt(Sol), 2, 0, "1", "0", "0.1", mf, "400000"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::types::Instruments;

    #[test]
    fn every_listing_makes_a_valid_instrument() {
        let specs: Vec<_> = listings().iter().map(Listing::spec).collect();
        let t = Instruments::from_specs(&specs).unwrap();
        assert_eq!(t.len(), 14);
        for i in t.iter() {
            // Spot notionals must stay exact in an Amount.
            assert!(i.price_scale + i.qty_scale + i.contract_size.1 <= 18, "{}", i.symbol);
        }
        assert_eq!(Listing::step(0), "1");
        assert_eq!(Listing::step(3), "0.001");
    }
}
