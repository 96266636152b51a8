//! Gate.io instrument metadata: `GET /api/v4/spot/currency_pairs` and
//! `GET /api/v4/futures/usdt/contracts`; 24 h volumes from `GET /api/v4/spot/tickers`
//! and `GET /api/v4/futures/usdt/tickers`.

use pipeline::types::{InstrumentSpec, Market, Venue};
use serde_json::Value;

use crate::venues::meta_json::{
    MetaError, Volume24h, dec, err, int, items, parse, percent_to_rate, pow10_neg, text, volumes,
};

const SPOT: &str = "gateio /spot/currency_pairs";
const FUTURES: &str = "gateio /futures/usdt/contracts";
const SPOT_TICKERS: &str = "gateio /spot/tickers";
const FUTURES_TICKERS: &str = "gateio /futures/usdt/tickers";

/// The metadata request of a market (path after the REST origin; MEXC futures are served
/// from the futures origin).
pub fn route(market: Market) -> &'static str {
    match market {
        Market::Spot => "/api/v4/spot/currency_pairs",
        Market::Futures => "/api/v4/futures/usdt/contracts",
    }
}

/// The 24 h ticker list of a market.
pub fn ticker_route(market: Market) -> &'static str {
    match market {
        Market::Spot => "/api/v4/spot/tickers",
        Market::Futures => "/api/v4/futures/usdt/tickers",
    }
}

/// The 24 h volume of every market in a ticker list: spot `quote_volume`, futures
/// `volume_24h_quote` (USDT).
pub fn ticker_volumes(market: Market, body: &str) -> Result<Vec<Volume24h>, MetaError> {
    match market {
        Market::Spot => volumes(SPOT_TICKERS, &parse(SPOT_TICKERS, body)?, "currency_pair", "quote_volume"),
        Market::Futures => {
            volumes(FUTURES_TICKERS, &parse(FUTURES_TICKERS, body)?, "contract", "volume_24h_quote")
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

/// Spot pairs: tick `10^-precision`, lot `10^-amount_precision`, minimums from
/// `min_base_amount` / `min_quote_amount`, `fee` in percent.
pub fn spot_instruments(body: &str) -> Result<Vec<InstrumentSpec>, MetaError> {
    let v = parse(SPOT, body)?;
    items(&v).into_iter().map(spot_pair).collect()
}

fn spot_pair(p: &Value) -> Result<InstrumentSpec, MetaError> {
    let id = text(p, "id").ok_or_else(|| err(SPOT, "a pair without `id`"))?;
    let need = |k: &str| err(SPOT, format!("{id}: missing `{k}`"));
    let fee = dec(p, "fee").and_then(|f| percent_to_rate(&f));
    Ok(InstrumentSpec {
        venue: Venue::GateIo,
        market: Market::Spot,
        base: text(p, "base").ok_or_else(|| need("base"))?,
        quote: text(p, "quote").ok_or_else(|| need("quote"))?,
        tick: pow10_neg(int(p, "precision").ok_or_else(|| need("precision"))?),
        lot: pow10_neg(int(p, "amount_precision").ok_or_else(|| need("amount_precision"))?),
        min_qty: dec(p, "min_base_amount"),
        max_qty: dec(p, "max_base_amount"),
        min_notional: dec(p, "min_quote_amount"),
        contract_size: "1".into(),
        taker_fee: fee.clone(),
        maker_fee: fee,
        trading_enabled: text(p, "trade_status").is_none_or(|s| s == "tradable"),
        symbol: id,
    })
}

/// USDT perpetual contracts: quantities in contracts of `quanto_multiplier` base
/// units, tick `order_price_round`, sizes between `order_size_min` and `order_size_max`.
pub fn futures_instruments(body: &str) -> Result<Vec<InstrumentSpec>, MetaError> {
    let v = parse(FUTURES, body)?;
    items(&v).into_iter().map(contract).collect()
}

fn contract(c: &Value) -> Result<InstrumentSpec, MetaError> {
    let name = text(c, "name").ok_or_else(|| err(FUTURES, "a contract without `name`"))?;
    let need = |k: &str| err(FUTURES, format!("{name}: missing `{k}`"));
    let (base, quote) =
        name.split_once('_').ok_or_else(|| err(FUTURES, format!("{name}: not BASE_QUOTE")))?;
    let delisting = c.get("in_delisting").and_then(Value::as_bool).unwrap_or(false);
    let active = text(c, "status").is_none_or(|s| s == "trading");
    Ok(InstrumentSpec {
        venue: Venue::GateIo,
        market: Market::Futures,
        base: base.to_owned(),
        quote: quote.to_owned(),
        tick: dec(c, "order_price_round").ok_or_else(|| need("order_price_round"))?,
        lot: "1".into(),
        min_qty: dec(c, "order_size_min"),
        max_qty: dec(c, "order_size_max"),
        min_notional: None,
        contract_size: dec(c, "quanto_multiplier").ok_or_else(|| need("quanto_multiplier"))?,
        taker_fee: dec(c, "taker_fee_rate"),
        maker_fee: dec(c, "maker_fee_rate"),
        trading_enabled: !delisting && active,
        symbol: name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::types::Instruments;

    #[test]
    fn recorded_metadata_becomes_instruments() {
        let body = include_str!("../../../test_data/gateio/spot_rest_currency_pair.jsonl");
        let spot = spot_instruments(body.trim()).unwrap();
        assert_eq!(spot.len(), 1);
        let s = &spot[0];
        assert_eq!((s.symbol.as_str(), s.tick.as_str(), s.lot.as_str()), ("BTC_USDT", "0.1", "0.000001"));
        assert_eq!(s.min_notional.as_deref(), Some("3"));
        assert_eq!(s.taker_fee.as_deref(), Some("0.002"));

        let body = include_str!("../../../test_data/gateio/futures_rest_contracts_item.jsonl");
        let fut = futures_instruments(body.trim()).unwrap();
        let f = &fut[0];
        assert_eq!(
            (f.symbol.as_str(), f.tick.as_str(), f.contract_size.as_str()),
            ("KNC_USDT", "0.0001", "1")
        );
        assert_eq!(f.maker_fee.as_deref(), Some("-0.0001"));
        let t = Instruments::from_specs(spot.iter().chain(fut.iter())).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn ticker_lists_give_each_markets_quote_volume() {
        let body = include_str!("../../../test_data/gateio/futures_rest_tickers.jsonl");
        let v = ticker_volumes(Market::Futures, body.trim()).unwrap();
        assert_eq!(v, [Volume24h { symbol: "BTC_USDT".into(), quote: "4017682988".into() }]);
        // The documented spot shape; a pair with no volume is left out.
        let spot = r#"[{"currency_pair":"BTC_USDT","last":"48600","base_volume":"7.2","quote_volume":"350000.5"},
                       {"currency_pair":"NEW_USDT","last":"1"}]"#;
        let v = ticker_volumes(Market::Spot, spot).unwrap();
        assert_eq!(v, [Volume24h { symbol: "BTC_USDT".into(), quote: "350000.5".into() }]);
        assert!(ticker_volumes(Market::Spot, r#"{"label":"INVALID"}"#).is_err());
    }

    #[test]
    fn the_2021_corpus_lists_every_pair() {
        let text = include_str!("../../../test_data/gateio/corpus-2021/GATEIO.0");
        let body = text.lines().next().unwrap().split_once(": ").unwrap().1;
        let pairs = spot_instruments(body).unwrap();
        assert_eq!(pairs.len(), 1458);
        Instruments::from_specs(&pairs).unwrap();
    }
}
