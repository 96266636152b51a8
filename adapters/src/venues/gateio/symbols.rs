//! How Gate.io spells a pair: `BTC_USDT`, on spot and on USDT perpetuals alike.

use pipeline::types::Market;

/// The venue symbol of `base`/`quote` in `market`.
pub fn symbol(_market: Market, base: &str, quote: &str) -> String {
    format!("{base}_{quote}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_joined_by_an_underscore() {
        assert_eq!(symbol(Market::Spot, "BTC", "USDT"), "BTC_USDT");
        assert_eq!(symbol(Market::Futures, "ETH", "USDT"), "ETH_USDT");
    }
}
