//! How MEXC spells a pair: `BTCUSDT` on spot, `BTC_USDT` on USDT perpetuals.

use pipeline::types::Market;

/// The venue symbol of `base`/`quote` in `market`.
pub fn symbol(market: Market, base: &str, quote: &str) -> String {
    match market {
        Market::Spot => format!("{base}{quote}"),
        Market::Futures => format!("{base}_{quote}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_joins_futures_underscores() {
        assert_eq!(symbol(Market::Spot, "ETH", "BTC"), "ETHBTC");
        assert_eq!(symbol(Market::Futures, "BTC", "USDT"), "BTC_USDT");
    }
}
