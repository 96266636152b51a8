//! MEXC instrument metadata: spot `GET /api/v3/exchangeInfo` and futures
//! `GET /api/v1/contract/detail`; 24 h volumes from spot `GET /api/v3/ticker/24hr` and
//! futures `GET /api/v1/contract/ticker`.

use pipeline::types::{InstrumentSpec, Market, Venue};
use serde_json::Value;

use crate::venues::meta_json::{MetaError, Volume24h, dec, err, int, items, parse, pow10_neg, text, volumes};

const SPOT: &str = "mexc /api/v3/exchangeInfo";
const FUTURES: &str = "mexc /api/v1/contract/detail";
const SPOT_TICKERS: &str = "mexc /api/v3/ticker/24hr";
const FUTURES_TICKERS: &str = "mexc /api/v1/contract/ticker";

/// The metadata request of a market (path after the REST origin; MEXC futures are served
/// from the futures origin).
pub fn route(market: Market) -> &'static str {
    match market {
        Market::Spot => "/api/v3/exchangeInfo",
        Market::Futures => "/api/v1/contract/detail",
    }
}

/// The 24 h ticker list of a market.
pub fn ticker_route(market: Market) -> &'static str {
    match market {
        Market::Spot => "/api/v3/ticker/24hr",
        Market::Futures => "/api/v1/contract/ticker",
    }
}

/// The 24 h volume of every market in a ticker list: spot `quoteVolume`, futures
/// `amount24` (USDT) under `data`.
pub fn ticker_volumes(market: Market, body: &str) -> Result<Vec<Volume24h>, MetaError> {
    match market {
        Market::Spot => volumes(SPOT_TICKERS, &parse(SPOT_TICKERS, body)?, "symbol", "quoteVolume"),
        Market::Futures => {
            let v = parse(FUTURES_TICKERS, body)?;
            let data = v.get("data").ok_or_else(|| err(FUTURES_TICKERS, "no `data`"))?;
            volumes(FUTURES_TICKERS, data, "symbol", "amount24")
        }
    }
}

/// Every instrument of a market's metadata response.
pub fn instruments(market: Market, body: &str) -> Result<Vec<InstrumentSpec>, MetaError> {
    match market {
        Market::Spot => spot_instruments(body),
        Market::Futures => futures_instruments(body),
    }
}

/// Spot symbols: tick `10^-quoteAssetPrecision`, lot `10^-baseAssetPrecision`, minimum
/// quantity `baseSizePrecision`, minimum notional `quoteAmountPrecision`. Trading is
/// enabled only for online symbols that allow API trading (`isSpotTradingAllowed`).
pub fn spot_instruments(body: &str) -> Result<Vec<InstrumentSpec>, MetaError> {
    let v = parse(SPOT, body)?;
    let symbols = v.get("symbols").ok_or_else(|| err(SPOT, "no `symbols`"))?;
    items(symbols).into_iter().map(spot_symbol).collect()
}

fn spot_symbol(s: &Value) -> Result<InstrumentSpec, MetaError> {
    let symbol = text(s, "symbol").ok_or_else(|| err(SPOT, "a symbol without `symbol`"))?;
    let need = |k: &str| err(SPOT, format!("{symbol}: missing `{k}`"));
    let price_places = int(s, "quoteAssetPrecision")
        .or_else(|| int(s, "quotePrecision"))
        .ok_or_else(|| need("quoteAssetPrecision"))?;
    let qty_places = int(s, "baseAssetPrecision").ok_or_else(|| need("baseAssetPrecision"))?;
    let online = text(s, "status").is_none_or(|st| st == "1" || st == "ENABLED");
    let api = s.get("isSpotTradingAllowed").and_then(Value::as_bool).unwrap_or(true);
    let nonzero =
        |v: Option<String>| v.filter(|t| pipeline::types::Amount::parse(t).is_ok_and(|a| !a.is_zero()));
    Ok(InstrumentSpec {
        venue: Venue::Mexc,
        market: Market::Spot,
        base: text(s, "baseAsset").ok_or_else(|| need("baseAsset"))?,
        quote: text(s, "quoteAsset").ok_or_else(|| need("quoteAsset"))?,
        tick: pow10_neg(price_places),
        lot: pow10_neg(qty_places),
        min_qty: nonzero(dec(s, "baseSizePrecision")),
        max_qty: None,
        min_notional: nonzero(dec(s, "quoteAmountPrecision")),
        contract_size: "1".into(),
        taker_fee: dec(s, "takerCommission"),
        maker_fee: dec(s, "makerCommission"),
        trading_enabled: online && api,
        symbol,
    })
}

/// Futures contracts from `{"success":true,"code":0,"data":[...]}`: tick `priceUnit`,
/// lot `volUnit` contracts of `contractSize` base units.
pub fn futures_instruments(body: &str) -> Result<Vec<InstrumentSpec>, MetaError> {
    let v = parse(FUTURES, body)?;
    let data = v.get("data").unwrap_or(&v);
    items(data).into_iter().map(contract).collect()
}

fn contract(c: &Value) -> Result<InstrumentSpec, MetaError> {
    let symbol = text(c, "symbol").ok_or_else(|| err(FUTURES, "a contract without `symbol`"))?;
    let need = |k: &str| err(FUTURES, format!("{symbol}: missing `{k}`"));
    let enabled = int(c, "state").is_none_or(|s| s == 0);
    let api = c.get("apiAllowed").and_then(Value::as_bool).unwrap_or(true);
    Ok(InstrumentSpec {
        venue: Venue::Mexc,
        market: Market::Futures,
        base: text(c, "baseCoin").ok_or_else(|| need("baseCoin"))?,
        quote: text(c, "quoteCoin").ok_or_else(|| need("quoteCoin"))?,
        tick: dec(c, "priceUnit").ok_or_else(|| need("priceUnit"))?,
        lot: dec(c, "volUnit").unwrap_or_else(|| "1".into()),
        min_qty: dec(c, "minVol"),
        max_qty: dec(c, "maxVol"),
        min_notional: None,
        contract_size: dec(c, "contractSize").ok_or_else(|| need("contractSize"))?,
        taker_fee: dec(c, "takerFeeRate"),
        maker_fee: dec(c, "makerFeeRate"),
        trading_enabled: enabled && api,
        symbol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::types::Instruments;

    #[test]
    fn recorded_metadata_becomes_instruments() {
        let body = include_str!("../../../test_data/mexc/spot_rest_exchange_info.jsonl");
        let spot = spot_instruments(body.lines().next().unwrap()).unwrap();
        let btc = spot.iter().find(|s| s.symbol == "BTCUSDT").unwrap();
        assert_eq!((btc.tick.as_str(), btc.lot.as_str()), ("0.01", "0.00000001"));
        assert_eq!(btc.min_qty.as_deref(), Some("0.000001"));
        assert_eq!(btc.min_notional.as_deref(), Some("1"));
        assert_eq!(btc.taker_fee.as_deref(), Some("0.0005"));
        assert!(!btc.trading_enabled, "the recorded BTCUSDT did not allow API trading");

        let body = include_str!("../../../test_data/mexc/futures_rest_contract_detail.jsonl");
        let fut = futures_instruments(body.lines().next().unwrap()).unwrap();
        assert!(!fut.is_empty());
        Instruments::from_specs(spot.iter().chain(fut.iter())).unwrap();
        for line in include_str!("../../../test_data/mexc/futures_rest_contract_detail_items.jsonl").lines() {
            let c = futures_instruments(line).unwrap();
            assert_eq!(c[0].contract_size, "0.01");
        }
    }

    #[test]
    fn ticker_lists_give_each_markets_quote_volume() {
        // The documented shapes: spot volumes as strings, futures as JSON numbers.
        let spot = r#"[{"symbol":"BTCUSDT","lastPrice":"46263.71","volume":"1.5","quoteVolume":"69395.565"},
                       {"symbol":"NEWUSDT","lastPrice":"1","quoteVolume":null}]"#;
        let v = ticker_volumes(Market::Spot, spot).unwrap();
        assert_eq!(v, [Volume24h { symbol: "BTCUSDT".into(), quote: "69395.565".into() }]);
        let fut = r#"{"success":true,"code":0,"data":[{"symbol":"BTC_USDT","lastPrice":46000.5,
                      "volume24":2841090,"amount24":130734102.2831}]}"#;
        let v = ticker_volumes(Market::Futures, fut).unwrap();
        assert_eq!(v, [Volume24h { symbol: "BTC_USDT".into(), quote: "130734102.2831".into() }]);
        assert!(ticker_volumes(Market::Futures, r#"{"success":false,"code":1001}"#).is_err());
    }
}
