//! MEXC's JSON shapes and codes: order ids (`C02__` spot prefix), spot status, type and
//! side names, futures side, type and state codes; spot orders and symbols, contracts,
//! futures orders, assets, positions, tickers and book levels as the recorded messages
//! have them (futures numbers as JSON numbers, spot decimals as strings).

use pipeline::types::{Amount, Price, Rounding, Side};
use serde_json::{Value, json};

use crate::engine::{Exchange, Finish, LevelView, Order, OrderKind, SimInstrument, Tif, USER, now_ms};
use crate::venue::{amt, num};

pub(super) fn order_id(id: u64) -> String {
    format!("C02__{id}")
}

pub(super) fn parse_order_id(s: &str) -> Option<u64> {
    s.strip_prefix("C02__").unwrap_or(s).parse().ok()
}

pub(super) fn spot_status(o: &Order) -> &'static str {
    match o.finish {
        Finish::Open if o.filled_qty.is_zero() => "NEW",
        Finish::Open => "PARTIALLY_FILLED",
        Finish::Filled => "FILLED",
        _ if o.filled_qty.is_zero() => "CANCELED",
        _ => "PARTIALLY_CANCELED",
    }
}

pub(super) fn spot_type(o: &Order) -> &'static str {
    match (o.kind, o.tif) {
        (OrderKind::Market, _) => "MARKET",
        (_, Tif::Gtc) => "LIMIT",
        (_, Tif::PostOnly) => "LIMIT_MAKER",
        (_, Tif::Ioc) => "IMMEDIATE_OR_CANCEL",
        (_, Tif::Fok) => "FILL_OR_KILL",
    }
}

pub(super) fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// MEXC's numeric order type, the same in futures orders and in spot protobuf pushes:
/// 1 limit, 2 post-only, 3 IOC, 4 FOK, 5 market.
pub(super) fn order_type_code(o: &Order) -> i64 {
    match (o.kind, o.tif) {
        (OrderKind::Market, _) => 5,
        (_, Tif::Gtc) => 1,
        (_, Tif::PostOnly) => 2,
        (_, Tif::Ioc) => 3,
        (_, Tif::Fok) => 4,
    }
}

/// MEXC futures side code: 1 open long, 2 close short, 3 open short, 4 close long.
fn fut_side(o: &Order) -> i64 {
    match (o.side, o.reduce_only) {
        (Side::Buy, false) => 1,
        (Side::Buy, true) => 2,
        (Side::Sell, false) => 3,
        (Side::Sell, true) => 4,
    }
}

fn fut_state(o: &Order) -> i64 {
    match o.finish {
        Finish::Open => 2,
        Finish::Filled => 3,
        _ => 4,
    }
}

/// A spot order in the `GET /api/v3/order` shape.
pub(super) fn spot_order_json(si: &SimInstrument, o: &Order) -> Value {
    json!({
        "symbol": si.listing.symbol,
        "orderId": order_id(o.id),
        "orderListId": -1,
        "clientOrderId": o.text,
        "price": si.price_text(o.price),
        "origQty": si.qty_text(o.qty),
        "executedQty": si.qty_text(o.filled_qty),
        "cummulativeQuoteQty": amt(o.filled_quote),
        "status": spot_status(o),
        "timeInForce": null,
        "type": spot_type(o),
        "side": side_name(o.side),
        "stopPrice": null,
        "icebergQty": null,
        "time": o.create_ms,
        "updateTime": o.update_ms,
        "isWorking": true,
        "stpMode": "",
        "origQuoteOrderQty": o.quote_qty.map(amt).unwrap_or_else(|| "0".into()),
    })
}

pub(super) fn spot_symbol_json(si: &SimInstrument) -> Value {
    let l = &si.listing;
    json!({
        "symbol": l.symbol,
        "status": "1",
        "baseAsset": l.base,
        "baseAssetPrecision": l.qty_decimals,
        "quoteAsset": l.quote,
        "quotePrecision": l.price_decimals,
        "quoteAssetPrecision": l.price_decimals,
        "baseCommissionPrecision": l.qty_decimals,
        "quoteCommissionPrecision": l.price_decimals,
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
        "isSpotTradingAllowed": true,
        "isMarginTradingAllowed": false,
        "quoteAmountPrecision": l.min_notional,
        "baseSizePrecision": l.min_qty,
        "permissions": ["SPOT"],
        "filters": [{"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "0.005", "askMultiplierDown": "0.005"}],
        "maxQuoteAmount": "4000000",
        "makerCommission": l.maker_fee,
        "takerCommission": l.taker_fee,
        "quoteAmountPrecisionMarket": l.min_notional,
        "maxQuoteAmountMarket": "4000000",
        "fullName": l.base,
        "tradeSideType": 1,
        "contractAddress": "",
        "st": false,
    })
}

pub(super) fn contract_json(si: &SimInstrument) -> Value {
    let l = &si.listing;
    json!({
        "symbol": l.symbol,
        "displayName": format!("{}永续", l.symbol),
        "displayNameEn": format!("{} PERPETUAL", l.symbol),
        "positionOpenType": 3,
        "baseCoin": l.base,
        "quoteCoin": l.quote,
        "baseCoinName": l.base,
        "quoteCoinName": l.quote,
        "futureType": 1,
        "settleCoin": l.quote,
        "contractSize": num(l.contract_size),
        "minLeverage": 1,
        "maxLeverage": 200,
        "priceScale": l.price_decimals,
        "volScale": l.qty_decimals,
        "amountScale": 4,
        "priceUnit": num(&l.tick()),
        "volUnit": num(&l.lot()),
        "minVol": num(l.min_qty),
        "maxVol": num(l.max_qty),
        "bidLimitPriceRate": 0.1,
        "askLimitPriceRate": 0.1,
        "takerFeeRate": num(l.taker_fee),
        "makerFeeRate": num(l.maker_fee),
        "maintenanceMarginRate": 0.004,
        "initialMarginRate": 0.005,
        "state": 0,
        "isNew": false,
        "isHot": false,
        "isHidden": false,
        "apiAllowed": true,
        "type": 1,
        "depthStepList": [l.tick()],
        "limitMaxVol": num(l.max_qty),
        "triggerProtect": 0.1,
        "riskLimitType": "BY_VOLUME",
    })
}

pub(super) fn fut_levels(si: &SimInstrument, levels: &[LevelView]) -> Value {
    Value::Array(
        levels.iter().map(|l| json!([num(&si.price_text(l.price)), si.contracts(l.qty), l.orders])).collect(),
    )
}

/// A futures order in the `order/get` shape.
pub(super) fn futures_order_json(si: &SimInstrument, o: &Order) -> Value {
    let avg = si.inst.price_from_amount(o.avg_price(&si.inst), Rounding::Floor).unwrap_or(Price::ZERO);
    let (maker_fee, taker_fee) =
        if o.last_role_maker { (o.fee, Amount::ZERO) } else { (Amount::ZERO, o.fee) };
    json!({
        "orderId": o.id.to_string(),
        "symbol": si.listing.symbol,
        "positionId": 0,
        "price": num(&si.price_text(o.price)),
        "vol": si.contracts(o.qty),
        "leverage": 10,
        "side": fut_side(o),
        "category": 1,
        "orderType": order_type_code(o),
        "dealAvgPrice": num(&si.price_text(avg)),
        "dealVol": si.contracts(o.filled_qty),
        "orderMargin": num(&amt(o.locked)),
        "takerFee": num(&amt(taker_fee)),
        "makerFee": num(&amt(maker_fee)),
        "profit": 0,
        "feeCurrency": "USDT",
        "openType": 2,
        "state": fut_state(o),
        "externalOid": o.text,
        "errorCode": 0,
        "usedMargin": 0,
        "createTime": o.create_ms,
        "updateTime": o.update_ms,
        "positionMode": 2,
        "remainVol": if o.is_open() { si.contracts(o.left) } else { 0 },
        "version": o.update_id,
    })
}

pub(super) fn assets_json(x: &Exchange) -> Value {
    let fa = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
    json!({
        "currency": "USDT",
        "positionMargin": num(&amt(fa.position_margin())),
        "availableBalance": num(&amt(fa.available())),
        "cashBalance": num(&amt(fa.balance)),
        "frozenBalance": num(&amt(fa.order_margin)),
        "equity": num(&amt(fa.balance)),
        "unrealized": 0,
        "bonus": 0,
        "availableCash": num(&amt(fa.available())),
        "availableOpen": num(&amt(fa.available())),
    })
}

pub(super) fn positions_json(x: &Exchange, want: Option<usize>) -> Value {
    let fa = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
    let now = now_ms();
    let v: Vec<Value> = fa
        .positions
        .iter()
        .filter(|(i, p)| !p.size.is_zero() && want.is_none_or(|w| w == **i))
        .map(|(&i, p)| {
            let si = &x.instruments[i];
            let entry = si.entry_price(p.size, p.cost);
            let im = p.margin();
            json!({
                "positionId": 1_000_000 + i as u64,
                "symbol": si.listing.symbol,
                "positionType": if p.size.0 > 0 { 1 } else { 2 },
                "openType": 2,
                "state": 1,
                "holdVol": si.contracts(p.size).abs(),
                "frozenVol": 0,
                "closeVol": 0,
                "holdAvgPrice": num(&amt(entry)),
                "openAvgPrice": num(&amt(entry)),
                "closeAvgPrice": 0,
                "liquidatePrice": 0,
                "oim": num(&amt(im)),
                "im": num(&amt(im)),
                "holdFee": 0,
                "realised": num(&amt(p.realised)),
                "leverage": 10,
                "createTime": now,
                "updateTime": now,
                "autoAddIm": false,
            })
        })
        .collect();
    Value::Array(v)
}

pub(super) fn ticker_json(x: &Exchange, i: usize) -> Value {
    let si = &x.instruments[i];
    let (b, a) = x.best(i);
    let p = |l: Option<LevelView>| l.map(|l| num(&si.price_text(l.price))).unwrap_or(json!(0));
    let mid = match (b, a) {
        (Some(b), Some(a)) => Price((b.price.0 + a.price.0) / 2),
        _ => Price::ZERO,
    };
    let m = num(&si.price_text(mid));
    json!({"symbol": si.listing.symbol, "lastPrice": m, "bid1": p(b), "ask1": p(a), "volume24": 0,
           "amount24": num(&si.listing.volume_24h_quote()),
           "holdVol": 0, "lower24Price": m, "high24Price": m, "riseFallRate": 0, "riseFallValue": 0,
           "indexPrice": m, "fairPrice": m, "fundingRate": num(&x.funding_rate(i).to_string()), "maxBidPrice": m, "minAskPrice": m,
           "timestamp": now_ms()})
}
