//! Simulated MEXC: spot REST v3 and futures (contract) REST on one origin, the spot
//! WebSocket in protobuf (`PushDataV3ApiWrapper` binary frames, JSON text acks, listen
//! keys for the private channels) and the futures WebSocket in JSON (protocols.md A, B,
//! C; adapters/test_data/mexc).
//!
//! Futures positions are one-way (net), not MEXC's default hedge mode: `positionType`
//! follows the sign of the net position.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pipeline::types::{Amount, Market, Price, Qty, Rounding, Side};
use prost::Message as _;
use serde_json::{Value, json};
use tungstenite::Message;

use super::auth::{verify_mexc_futures, verify_mexc_login, verify_mexc_spot};
use super::engine::{
    Event, Exchange, Finish, LevelView, Order, OrderKind, OrderRequest, Reject, SimInstrument, Tif, USER,
    now_ms,
};
use super::proto::{self, Body, PushDataV3ApiWrapper};
use super::server::{Outbox, Request, Response, Session, Stream, accept_ws, parse_pairs, run_ws, serve_http};
use super::venue::{VenueCtx, amt, json_price, num, text_of};

fn spot_err(code: i64, msg: &str) -> Response {
    Response::json(400, json!({"code": code, "msg": msg}).to_string())
}

fn ok(v: Value) -> Response {
    Response::json(200, v.to_string())
}

fn fut_ok(data: Value) -> Response {
    ok(json!({"success": true, "code": 0, "data": data}))
}

fn fut_err(code: i64, message: &str) -> Response {
    ok(json!({"success": false, "code": code, "message": message}))
}

fn spot_reject(r: Reject, si: &SimInstrument) -> (i64, String) {
    match r {
        Reject::PriceTick => (30002, format!("price precision is {} decimals", si.listing.price_decimals)),
        Reject::QtyLot => (30002, format!("quantity precision is {} decimals", si.listing.qty_decimals)),
        Reject::QtyTooSmall => (30002, format!("Minimum order quantity is {}", si.listing.min_qty)),
        Reject::NotionalTooSmall => (
            30002,
            format!(
                "Minimum transaction volume cannot be less than: {}{}",
                si.listing.min_notional, si.listing.quote
            ),
        ),
        Reject::QtyTooLarge => (30002, "quantity exceeds the maximum".into()),
        Reject::Balance | Reject::Margin => (10101, "Insufficient balance".into()),
        Reject::PostOnly => (30005, "Post-only order would trade immediately".into()),
        Reject::ReduceOnly => (30004, "Insufficient position".into()),
        Reject::NoLiquidity => (30010, "no valid trade price".into()),
        Reject::Fault => (429, "Too many requests".into()),
    }
}

fn futures_reject(r: Reject) -> (i64, &'static str) {
    match r {
        Reject::PriceTick
        | Reject::QtyLot
        | Reject::QtyTooSmall
        | Reject::QtyTooLarge
        | Reject::NotionalTooSmall => (2015, "Price or quantity precision error"),
        Reject::Balance | Reject::Margin => (2005, "Balance insufficient"),
        Reject::PostOnly => (2021, "Post-only order would trade immediately"),
        Reject::ReduceOnly => (2009, "Position is not exists or closed."),
        Reject::NoLiquidity => (2011, "No valid price for the market order"),
        Reject::Fault => (510, "Requests are too frequent!"),
    }
}

fn order_id(id: u64) -> String {
    format!("C02__{id}")
}

fn parse_order_id(s: &str) -> Option<u64> {
    s.strip_prefix("C02__").unwrap_or(s).parse().ok()
}

fn spot_status(o: &Order) -> &'static str {
    match o.finish {
        Finish::Open if o.filled_qty.is_zero() => "NEW",
        Finish::Open => "PARTIALLY_FILLED",
        Finish::Filled => "FILLED",
        _ if o.filled_qty.is_zero() => "CANCELED",
        _ => "PARTIALLY_CANCELED",
    }
}

fn spot_type(o: &Order) -> &'static str {
    match (o.kind, o.tif) {
        (OrderKind::Market, _) => "MARKET",
        (_, Tif::Gtc) => "LIMIT",
        (_, Tif::PostOnly) => "LIMIT_MAKER",
        (_, Tif::Ioc) => "IMMEDIATE_OR_CANCEL",
        (_, Tif::Fok) => "FILL_OR_KILL",
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// A spot order in the `GET /api/v3/order` shape.
fn spot_order_json(si: &SimInstrument, o: &Order) -> Value {
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

fn spot_symbol_json(si: &SimInstrument) -> Value {
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

fn contract_json(si: &SimInstrument) -> Value {
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

fn fut_levels(si: &SimInstrument, levels: &[LevelView]) -> Value {
    Value::Array(
        levels.iter().map(|l| json!([num(&si.price_text(l.price)), si.contracts(l.qty), l.orders])).collect(),
    )
}

fn spot_levels(si: &SimInstrument, levels: &[LevelView]) -> Value {
    Value::Array(levels.iter().map(|l| json!([si.price_text(l.price), si.qty_text(l.qty)])).collect())
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

fn fut_type(o: &Order) -> i64 {
    match (o.kind, o.tif) {
        (OrderKind::Market, _) => 5,
        (_, Tif::Gtc) => 1,
        (_, Tif::PostOnly) => 2,
        (_, Tif::Ioc) => 3,
        (_, Tif::Fok) => 4,
    }
}

fn fut_state(o: &Order) -> i64 {
    match o.finish {
        Finish::Open => 2,
        Finish::Filled => 3,
        _ => 4,
    }
}

/// A futures order in the `order/get` shape.
fn futures_order_json(si: &SimInstrument, o: &Order) -> Value {
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
        "orderType": fut_type(o),
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

fn assets_json(x: &Exchange) -> Value {
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

fn positions_json(x: &Exchange, want: Option<usize>) -> Value {
    let fa = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
    let now = now_ms();
    let v: Vec<Value> = fa
        .positions
        .iter()
        .filter(|(i, p)| !p.size.is_zero() && want.is_none_or(|w| w == **i))
        .map(|(&i, p)| {
            let si = &x.instruments[i];
            let base = si.inst.base_amount(Qty(p.size.0.abs())).unwrap_or(Amount::ZERO);
            let entry = p.cost.abs().div(base, Rounding::Floor).unwrap_or(Amount::ZERO);
            let im = Amount(p.cost.0.abs() / super::engine::LEVERAGE);
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

/// Parses a spot order from request parameters.
fn parse_spot_order(x: &Exchange, p: &[(String, String)]) -> Result<OrderRequest, (i64, String)> {
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let symbol = get("symbol").unwrap_or("");
    let inst = x.find(Market::Spot, symbol).ok_or((10007, "bad symbol".to_owned()))?;
    let si = &x.instruments[inst];
    let side = match get("side") {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        _ => {
            return Err((
                700004,
                "Mandatory parameter 'side' was not sent, was empty/null, or malformed.".into(),
            ));
        }
    };
    let (kind, mut tif) = match get("type") {
        Some("LIMIT") => (OrderKind::Limit, Tif::Gtc),
        Some("LIMIT_MAKER") => (OrderKind::Limit, Tif::PostOnly),
        Some("IMMEDIATE_OR_CANCEL") => (OrderKind::Limit, Tif::Ioc),
        Some("FILL_OR_KILL") => (OrderKind::Limit, Tif::Fok),
        Some("MARKET") => (OrderKind::Market, Tif::Ioc),
        _ => {
            return Err((
                700004,
                "Mandatory parameter 'type' was not sent, was empty/null, or malformed.".into(),
            ));
        }
    };
    match get("timeInForce") {
        Some("IOC") if kind == OrderKind::Limit => tif = Tif::Ioc,
        Some("FOK") if kind == OrderKind::Limit => tif = Tif::Fok,
        _ => {}
    }
    let bad =
        |k: &str| (700004, format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."));
    let quote_qty = match (kind, side, get("quoteOrderQty")) {
        (OrderKind::Market, Side::Buy, Some(q)) => Some(Amount::parse(q).map_err(|_| bad("quoteOrderQty"))?),
        _ => None,
    };
    let qty = match (quote_qty, get("quantity")) {
        (Some(_), _) => Qty::ZERO,
        (None, Some(q)) => {
            Qty::parse(q, si.inst.qty_scale).map_err(|_| (30002, "quantity precision error".into()))?
        }
        (None, None) => return Err(bad("quantity")),
    };
    let price = match kind {
        OrderKind::Limit => {
            let t = get("price").ok_or_else(|| bad("price"))?;
            Price::parse(t, si.inst.price_scale).map_err(|_| (30002, "price precision error".to_owned()))?
        }
        OrderKind::Market => Price::ZERO,
    };
    let text = get("newClientOrderId").unwrap_or("").to_owned();
    Ok(OrderRequest { inst, side, kind, tif, price, qty, quote_qty, text, reduce_only: false })
}

/// Finds an order of the account by `orderId` or `origClientOrderId`.
fn find_order(x: &Exchange, inst: usize, p: &[(String, String)]) -> Option<Order> {
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(id) = get("orderId").and_then(parse_order_id) {
        return x.order(id).filter(|o| o.account == USER && o.inst == inst).cloned();
    }
    let cid = get("origClientOrderId")?;
    x.orders_of(USER, Some(inst), false).into_iter().rev().find(|o| o.text == cid)
}

/// The MEXC REST server (spot `/api/v3`, futures `/api/v1`) for one request.
pub fn rest(ctx: &VenueCtx, req: &Request) -> Response {
    ctx.delay();
    if req.path.starts_with("/api/v1/") {
        return futures_rest(ctx, req);
    }
    let method = req.method.as_str();
    let params = req.params();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method, req.path.as_str()) {
        ("GET", "/api/v3/ping") => return ok(json!({})),
        ("GET", "/api/v3/time") => return ok(json!({"serverTime": now_ms()})),
        ("GET", "/api/v3/defaultSymbols") => {
            let x = ctx.lock();
            let v: Vec<&str> =
                x.instruments.iter().filter(|i| !i.is_futures()).map(|i| i.listing.symbol).collect();
            return ok(json!({"code": 0, "data": v, "msg": "success"}));
        }
        ("GET", "/api/v3/exchangeInfo") => {
            let x = ctx.lock();
            let mut want: Vec<String> = Vec::new();
            if let Some(s) = get("symbol") {
                want.push(s);
            }
            if let Some(s) = get("symbols") {
                want.extend(s.split(',').map(str::to_owned));
            }
            let v: Vec<Value> = x
                .instruments
                .iter()
                .filter(|i| {
                    !i.is_futures() && (want.is_empty() || want.iter().any(|w| w == i.listing.symbol))
                })
                .map(spot_symbol_json)
                .collect();
            if v.is_empty() && !want.is_empty() {
                return spot_err(-1121, "Invalid symbol.");
            }
            return ok(
                json!({"timezone": "CST", "serverTime": now_ms(), "rateLimits": [], "exchangeFilters": [], "symbols": v}),
            );
        }
        ("GET", "/api/v3/depth") => {
            let x = ctx.lock();
            let Some(inst) = get("symbol").and_then(|s| x.find(Market::Spot, &s)) else {
                return spot_err(-1121, "Invalid symbol.");
            };
            let limit = get("limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).clamp(1, 5000);
            let si = &x.instruments[inst];
            let s = x.snapshot(inst, limit);
            return ok(
                json!({"lastUpdateId": s.seq, "bids": spot_levels(si, &s.bids), "asks": spot_levels(si, &s.asks),
                             "timestamp": now_ms()}),
            );
        }
        ("GET", "/api/v3/ticker/bookTicker")
        | ("GET", "/api/v3/ticker/24hr")
        | ("GET", "/api/v3/ticker/price") => {
            let x = ctx.lock();
            let want = get("symbol");
            let mut v = Vec::new();
            for i in 0..x.instruments.len() {
                let si = &x.instruments[i];
                if si.is_futures() || want.as_deref().is_some_and(|w| w != si.listing.symbol) {
                    continue;
                }
                let (b, a) = x.best(i);
                let p = |l: Option<LevelView>| l.map(|l| si.price_text(l.price)).unwrap_or_default();
                let q = |l: Option<LevelView>| l.map(|l| si.qty_text(l.qty)).unwrap_or_default();
                let last = p(b);
                v.push(match req.path.as_str() {
                    "/api/v3/ticker/price" => json!({"symbol": si.listing.symbol, "price": last}),
                    "/api/v3/ticker/bookTicker" => json!({"symbol": si.listing.symbol, "bidPrice": p(b), "bidQty": q(b),
                                                          "askPrice": p(a), "askQty": q(a)}),
                    _ => json!({"symbol": si.listing.symbol, "priceChange": "0", "priceChangePercent": "0",
                                "prevClosePrice": last, "lastPrice": last, "bidPrice": p(b), "bidQty": q(b),
                                "askPrice": p(a), "askQty": q(a), "openPrice": last, "highPrice": last,
                                "lowPrice": last, "volume": "0", "quoteVolume": "0", "openTime": now_ms() - 86_400_000,
                                "closeTime": now_ms(), "count": null}),
                });
            }
            return match (want, v.len()) {
                (Some(_), 0) => spot_err(-1121, "Invalid symbol."),
                (Some(_), _) => ok(v.swap_remove(0)),
                _ => ok(Value::Array(v)),
            };
        }
        _ => {}
    }
    if !req.path.starts_with("/api/v3/") {
        return Response::json(404, r#"{"code":404,"msg":"Not Found"}"#);
    }
    if let Err(e) =
        verify_mexc_spot(&ctx.creds, &req.query, req.body_text(), req.header("X-MEXC-APIKEY"), now_ms())
    {
        let (code, msg) = e.spot();
        return spot_err(code, msg);
    }
    match (method, req.path.as_str()) {
        ("GET", "/api/v3/account") => {
            let x = ctx.lock();
            let a = x.account(USER).cloned().unwrap_or_default();
            let balances: Vec<Value> = a
                .spot
                .iter()
                .map(|(k, b)| json!({"asset": k, "free": amt(b.available), "locked": amt(b.locked)}))
                .collect();
            ok(json!({"makerCommission": null, "takerCommission": null, "buyerCommission": null,
                      "sellerCommission": null, "canTrade": true, "canWithdraw": true, "canDeposit": true,
                      "updateTime": null, "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"]}))
        }
        ("GET", "/api/v3/capital/config/getall") => {
            let x = ctx.lock();
            let mut names: Vec<&str> =
                x.instruments.iter().flat_map(|i| [i.listing.base, i.listing.quote]).collect();
            names.sort_unstable();
            names.dedup();
            let v: Vec<Value> =
                names.into_iter().map(|c| json!({"coin": c, "name": c, "networkList": []})).collect();
            ok(Value::Array(v))
        }
        ("GET", "/api/v3/tradeFee") => {
            let x = ctx.lock();
            let Some(inst) = get("symbol").and_then(|s| x.find(Market::Spot, &s)) else {
                return spot_err(10007, "bad symbol");
            };
            let l = &x.instruments[inst].listing;
            ok(json!({"data": {"makerCommission": num(l.maker_fee), "takerCommission": num(l.taker_fee)},
                      "code": 0, "msg": "success", "timestamp": now_ms()}))
        }
        ("POST", "/api/v3/order") | ("POST", "/api/v3/order/test") => {
            ctx.ack_delay();
            let mut x = ctx.lock();
            let r = match parse_spot_order(&x, &params) {
                Ok(r) => r,
                Err((c, m)) => return spot_err(c, &m),
            };
            if req.path.ends_with("/test") {
                return ok(json!({}));
            }
            let si = x.instruments[r.inst].clone();
            match x.place(USER, r) {
                Ok(o) => {
                    let orig = match o.quote_qty {
                        Some(_) => si.qty_text(o.filled_qty),
                        None => si.qty_text(o.qty),
                    };
                    ok(json!({"symbol": si.listing.symbol, "orderId": order_id(o.id), "orderListId": -1,
                              "price": si.price_text(o.price), "origQty": orig, "type": spot_type(&o),
                              "side": side_name(o.side), "transactTime": o.create_ms}))
                }
                Err(e) => {
                    let (c, m) = spot_reject(e, &si);
                    let status = if e == Reject::Fault { 429 } else { 400 };
                    Response::json(status, json!({"code": c, "msg": m}).to_string())
                }
            }
        }
        (m @ ("GET" | "DELETE"), "/api/v3/order") => {
            let mut x = ctx.lock();
            let Some(inst) = get("symbol").and_then(|s| x.find(Market::Spot, &s)) else {
                return spot_err(10007, "bad symbol");
            };
            if get("orderId").is_none() && get("origClientOrderId").is_none() {
                return spot_err(
                    700004,
                    "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
                );
            }
            let Some(o) = find_order(&x, inst, &params) else {
                return spot_err(-2011, "Unknown order sent.");
            };
            if m == "GET" {
                return ok(spot_order_json(&x.instruments[inst], &o));
            }
            let Some(c) = x.cancel(USER, o.id) else { return spot_err(-2011, "Unknown order sent.") };
            let si = &x.instruments[inst];
            ok(json!({"symbol": si.listing.symbol, "origClientOrderId": c.text, "orderId": order_id(c.id),
                      "clientOrderId": c.text, "price": si.price_text(c.price), "origQty": si.qty_text(c.qty),
                      "executedQty": si.qty_text(c.filled_qty), "cummulativeQuoteQty": amt(c.filled_quote),
                      "status": spot_status(&c), "timeInForce": null, "type": spot_type(&c), "side": side_name(c.side)}))
        }
        (m @ ("GET" | "DELETE"), "/api/v3/openOrders") | (m @ "GET", "/api/v3/allOrders") => {
            let mut x = ctx.lock();
            let mut insts = Vec::new();
            for s in get("symbol").unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
                match x.find(Market::Spot, s) {
                    Some(i) => insts.push(i),
                    None => return spot_err(10007, "bad symbol"),
                }
            }
            if insts.is_empty() {
                if m == "DELETE" || req.path.ends_with("allOrders") {
                    return spot_err(
                        700004,
                        "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                    );
                }
                insts = (0..x.instruments.len()).filter(|&i| !x.instruments[i].is_futures()).collect();
            }
            let open_only = !req.path.ends_with("allOrders");
            let mut v = Vec::new();
            for inst in insts {
                for o in x.orders_of(USER, Some(inst), open_only) {
                    if m == "DELETE" {
                        x.cancel(USER, o.id);
                        // The venue answers with the orders as they were: status NEW.
                        let si = &x.instruments[inst];
                        v.push(json!({"symbol": si.listing.symbol, "orderId": order_id(o.id),
                                      "price": si.price_text(o.price), "origQty": si.qty_text(o.qty), "type": spot_type(&o),
                                      "side": side_name(o.side), "executedQty": si.qty_text(o.filled_qty),
                                      "cummulativeQuoteQty": amt(o.filled_quote), "status": "NEW"}));
                    } else {
                        v.push(spot_order_json(&x.instruments[inst], &o));
                    }
                }
            }
            ok(Value::Array(v))
        }
        (m, "/api/v3/userDataStream") => {
            let mut keys = ctx.listen_keys.lock().unwrap_or_else(|p| p.into_inner());
            let now = now_ms();
            keys.retain(|_, exp| *exp > now);
            match m {
                "POST" => {
                    if keys.len() >= 60 {
                        return spot_err(730001, "listenKey limit exceeded");
                    }
                    let k = ctx.token(64);
                    keys.insert(k.clone(), now + 3_600_000);
                    ok(json!({"listenKey": k}))
                }
                "GET" => ok(json!({"listenKey": keys.keys().cloned().collect::<Vec<_>>()})),
                "PUT" | "DELETE" => {
                    let k = get("listenKey").unwrap_or_default();
                    if !keys.contains_key(&k) {
                        return spot_err(730002, "listenKey not exist");
                    }
                    if m == "PUT" {
                        keys.insert(k.clone(), now + 3_600_000);
                    } else {
                        keys.remove(&k);
                    }
                    ok(json!({"listenKey": k}))
                }
                _ => Response::json(405, r#"{"code":405,"msg":"Method Not Allowed"}"#),
            }
        }
        _ => Response::json(404, r#"{"code":404,"msg":"Not Found"}"#),
    }
}

/// MEXC futures REST (`/api/v1/contract/...` public, `/api/v1/private/...` signed).
fn futures_rest(ctx: &VenueCtx, req: &Request) -> Response {
    let method = req.method.as_str();
    let params = parse_pairs(&req.query);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').skip(2).collect();
    match (method, parts.as_slice()) {
        ("GET", ["contract", "ping"]) => return fut_ok(json!(now_ms())),
        ("GET", ["contract", "detail"]) => {
            let x = ctx.lock();
            let want = get("symbol");
            let v: Vec<Value> = x
                .instruments
                .iter()
                .filter(|i| i.is_futures() && want.as_deref().is_none_or(|w| w == i.listing.symbol))
                .map(contract_json)
                .collect();
            return match (want, v.len()) {
                (Some(_), 0) => fut_err(1001, "Contract does not exist"),
                (Some(_), _) => fut_ok(v.into_iter().next().unwrap_or(Value::Null)),
                _ => fut_ok(Value::Array(v)),
            };
        }
        ("GET", ["contract", "depth", symbol]) => {
            let x = ctx.lock();
            let Some(inst) = x.find(Market::Futures, symbol) else {
                return fut_err(1001, "Contract does not exist");
            };
            let limit = get("limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).clamp(1, 2000);
            let si = &x.instruments[inst];
            let s = x.snapshot(inst, limit);
            return fut_ok(json!({"asks": fut_levels(si, &s.asks), "bids": fut_levels(si, &s.bids),
                                 "version": s.version, "timestamp": now_ms()}));
        }
        ("GET", ["contract", "ticker"]) => {
            let x = ctx.lock();
            let want = get("symbol");
            let mut v = Vec::new();
            for i in 0..x.instruments.len() {
                let si = &x.instruments[i];
                if !si.is_futures() || want.as_deref().is_some_and(|w| w != si.listing.symbol) {
                    continue;
                }
                v.push(ticker_json(&x, i));
            }
            return match (want, v.len()) {
                (Some(_), 0) => fut_err(1001, "Contract does not exist"),
                (Some(_), _) => fut_ok(v.swap_remove(0)),
                _ => fut_ok(Value::Array(v)),
            };
        }
        _ => {}
    }
    if parts.first() != Some(&"private") {
        return fut_err(404, "Not Found");
    }
    if let Err(e) = verify_mexc_futures(
        &ctx.creds,
        method,
        &req.query,
        req.body_text(),
        req.header("ApiKey"),
        req.header("Request-Time"),
        req.header("Signature"),
        req.header("Recv-Window"),
        now_ms(),
    ) {
        let (code, message) = e.futures();
        return fut_err(code, message);
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match (method, &parts[1..]) {
        ("GET", ["account", "assets"]) => fut_ok(json!([assets_json(&ctx.lock())])),
        ("GET", ["account", "asset", c]) => {
            if *c != "USDT" {
                return fut_err(600, "Parameter error");
            }
            fut_ok(assets_json(&ctx.lock()))
        }
        ("GET", ["position", "open_positions"]) => {
            let x = ctx.lock();
            let want = get("symbol").and_then(|s| x.find(Market::Futures, &s));
            fut_ok(positions_json(&x, want))
        }
        ("POST", ["order", op @ ("submit" | "create")]) => {
            ctx.ack_delay();
            let mut x = ctx.lock();
            let symbol = body.get("symbol").and_then(Value::as_str).unwrap_or("");
            let Some(inst) = x.find(Market::Futures, symbol) else {
                return fut_err(1001, "Contract does not exist");
            };
            let si = x.instruments[inst].clone();
            // `vol` in contracts, a JSON number (clients send 2 or 2.0).
            let vol = body.get("vol").and_then(|v| super::venue::json_qty(v, &si));
            let side = body.get("side").and_then(text_of).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            let ty = body.get("type").and_then(text_of).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            let (side, reduce_only) = match side {
                1 => (Side::Buy, false),
                2 => (Side::Buy, true),
                3 => (Side::Sell, false),
                4 => (Side::Sell, true),
                _ => return fut_err(600, "Parameter error: side"),
            };
            let (kind, tif) = match ty {
                1 => (OrderKind::Limit, Tif::Gtc),
                2 => (OrderKind::Limit, Tif::PostOnly),
                3 => (OrderKind::Limit, Tif::Ioc),
                4 => (OrderKind::Limit, Tif::Fok),
                5 | 6 => (OrderKind::Market, Tif::Ioc),
                _ => return fut_err(600, "Parameter error: type"),
            };
            let Some(qty) = vol.filter(|q| q.is_positive()) else {
                return fut_err(2015, "Price or quantity precision error");
            };
            let price = match kind {
                OrderKind::Limit => match body.get("price").and_then(|p| json_price(p, &si)) {
                    Some(p) => p,
                    None => return fut_err(2015, "Price or quantity precision error"),
                },
                OrderKind::Market => Price::ZERO,
            };
            let text = body.get("externalOid").and_then(Value::as_str).unwrap_or("").to_owned();
            let r = OrderRequest { inst, side, kind, tif, price, qty, quote_qty: None, text, reduce_only };
            match x.place(USER, r) {
                Ok(o) if *op == "create" => fut_ok(json!({"orderId": o.id.to_string(), "ts": o.create_ms})),
                Ok(o) => fut_ok(json!(o.id)),
                Err(e) => {
                    let (c, m) = futures_reject(e);
                    fut_err(c, m)
                }
            }
        }
        ("POST", ["order", "cancel"]) => {
            let ids: Vec<u64> = match &body {
                Value::Array(a) => a.iter().filter_map(|v| text_of(v).and_then(|t| t.parse().ok())).collect(),
                _ => return fut_err(600, "Parameter error"),
            };
            let mut x = ctx.lock();
            let v: Vec<Value> = ids
                .into_iter()
                .map(|id| {
                    let futures = x.order(id).is_some_and(|o| x.instruments[o.inst].is_futures());
                    match futures.then(|| x.cancel(USER, id)).flatten() {
                        Some(_) => json!({"orderId": id, "errorCode": 0, "errorMsg": "success"}),
                        None if x.order(id).is_some() => {
                            json!({"orderId": id, "errorCode": 2041, "errorMsg": "order state cannot be cancelled"})
                        }
                        None => json!({"orderId": id, "errorCode": 2040, "errorMsg": "order not exist"}),
                    }
                })
                .collect();
            fut_ok(Value::Array(v))
        }
        ("POST", ["order", "cancel_all"]) => {
            let mut x = ctx.lock();
            let want = body.get("symbol").and_then(Value::as_str).map(str::to_owned);
            let insts: Vec<usize> = (0..x.instruments.len())
                .filter(|&i| {
                    x.instruments[i].is_futures()
                        && want.as_deref().is_none_or(|w| w == x.instruments[i].listing.symbol)
                })
                .collect();
            for i in insts {
                x.cancel_all(USER, Some(i));
            }
            fut_ok(Value::Null)
        }
        ("GET", ["order", "get", id]) => {
            let x = ctx.lock();
            match id.parse::<u64>().ok().and_then(|id| x.order(id)).filter(|o| o.account == USER) {
                Some(o) if x.instruments[o.inst].is_futures() => {
                    fut_ok(futures_order_json(&x.instruments[o.inst], o))
                }
                _ => fut_err(2040, "order not exist"),
            }
        }
        ("GET", ["order", "external", symbol, ext]) => {
            let x = ctx.lock();
            let Some(inst) = x.find(Market::Futures, symbol) else {
                return fut_err(1001, "Contract does not exist");
            };
            match x.orders_of(USER, Some(inst), false).into_iter().rev().find(|o| o.text == *ext) {
                Some(o) => fut_ok(futures_order_json(&x.instruments[inst], &o)),
                None => fut_err(2040, "order not exist"),
            }
        }
        ("POST", ["order", "cancel_with_external"]) => {
            let symbol = body.get("symbol").and_then(Value::as_str).unwrap_or("");
            let ext = body.get("externalOid").and_then(Value::as_str).unwrap_or("");
            let mut x = ctx.lock();
            let Some(inst) = x.find(Market::Futures, symbol) else {
                return fut_err(1001, "Contract does not exist");
            };
            let Some(o) = x.orders_of(USER, Some(inst), false).into_iter().rev().find(|o| o.text == ext)
            else {
                return fut_err(2040, "order not exist");
            };
            match x.cancel(USER, o.id) {
                Some(_) => fut_ok(
                    json!({"symbol": symbol, "externalOid": ext, "errorCode": 0, "errorMsg": "success"}),
                ),
                None => fut_err(2041, "order state cannot be cancelled"),
            }
        }
        ("GET", ["order", "list", "open_orders", rest @ ..]) => {
            let x = ctx.lock();
            let want = match rest.first() {
                Some(s) => match x.find(Market::Futures, s) {
                    Some(i) => Some(i),
                    None => return fut_err(1001, "Contract does not exist"),
                },
                None => None,
            };
            let v: Vec<Value> = x
                .orders_of(USER, want, true)
                .iter()
                .filter(|o| x.instruments[o.inst].is_futures())
                .map(|o| futures_order_json(&x.instruments[o.inst], o))
                .collect();
            fut_ok(Value::Array(v))
        }
        _ => fut_err(404, "Not Found"),
    }
}

fn ticker_json(x: &Exchange, i: usize) -> Value {
    let si = &x.instruments[i];
    let (b, a) = x.best(i);
    let p = |l: Option<LevelView>| l.map(|l| num(&si.price_text(l.price))).unwrap_or(json!(0));
    let mid = match (b, a) {
        (Some(b), Some(a)) => Price((b.price.0 + a.price.0) / 2),
        _ => Price::ZERO,
    };
    let m = num(&si.price_text(mid));
    json!({"symbol": si.listing.symbol, "lastPrice": m, "bid1": p(b), "ask1": p(a), "volume24": 0, "amount24": 0,
           "holdVol": 0, "lower24Price": m, "high24Price": m, "riseFallRate": 0, "riseFallValue": 0,
           "indexPrice": m, "fairPrice": m, "fundingRate": 0.0001, "maxBidPrice": m, "minAskPrice": m,
           "timestamp": now_ms()})
}

/// Serves MEXC REST on one connection.
pub fn serve_rest(ctx: Arc<VenueCtx>, stream: Stream) {
    serve_http(stream, &ctx.stop.clone(), &|r| rest(&ctx, r));
}

/// Serves one MEXC spot WebSocket connection; a `listenKey` query makes it private.
pub fn serve_spot_ws(ctx: Arc<VenueCtx>, stream: Stream) {
    let check = |u: &super::server::Upgrade| {
        let key = parse_pairs(&u.query).into_iter().find(|(k, _)| k == "listenKey").map(|(_, v)| v);
        match key {
            None => Ok(()),
            Some(k) => {
                let keys = ctx.listen_keys.lock().unwrap_or_else(|p| p.into_inner());
                if keys.get(&k).is_some_and(|&exp| exp > now_ms()) {
                    Ok(())
                } else {
                    Err((401, "listenKey not exist".into()))
                }
            }
        }
    };
    let Some((ws, up)) = accept_ws(stream, &check) else { return };
    let private = parse_pairs(&up.query).iter().any(|(k, _)| k == "listenKey");
    let feed = ctx.feed();
    let cfg = ctx.ws_loop();
    let mut s = SpotSession { ctx, private, subs: BTreeMap::new() };
    run_ws(ws, feed, &mut s, &cfg);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SpotTopic {
    Depth,
    BookTicker,
    Deals,
    LimitDepth(usize),
    Orders,
    PrivateDeals,
    Account,
}

/// One MEXC spot WebSocket connection: topic -> (kind, instrument).
#[derive(Debug)]
struct SpotSession {
    ctx: Arc<VenueCtx>,
    private: bool,
    subs: BTreeMap<String, (SpotTopic, Option<usize>)>,
}

impl SpotSession {
    fn parse_topic(&self, x: &Exchange, topic: &str) -> Option<(SpotTopic, Option<usize>)> {
        let parts: Vec<&str> = topic.split('@').collect();
        let inst = |s: &str| x.find(Market::Spot, s);
        match parts.as_slice() {
            ["spot", "public.aggre.depth.v3.api.pb", "100ms" | "10ms", sym] => {
                Some((SpotTopic::Depth, Some(inst(sym)?)))
            }
            ["spot", "public.aggre.bookTicker.v3.api.pb", "100ms" | "10ms", sym] => {
                Some((SpotTopic::BookTicker, Some(inst(sym)?)))
            }
            ["spot", "public.aggre.deals.v3.api.pb", "100ms" | "10ms", sym] => {
                Some((SpotTopic::Deals, Some(inst(sym)?)))
            }
            ["spot", "public.limit.depth.v3.api.pb", sym, n @ ("5" | "10" | "20")] => {
                Some((SpotTopic::LimitDepth(n.parse().ok()?), Some(inst(sym)?)))
            }
            ["spot", "private.orders.v3.api.pb"] if self.private => Some((SpotTopic::Orders, None)),
            ["spot", "private.deals.v3.api.pb"] if self.private => Some((SpotTopic::PrivateDeals, None)),
            ["spot", "private.account.v3.api.pb"] if self.private => Some((SpotTopic::Account, None)),
            _ => None,
        }
    }

    fn send(&self, out: &mut Outbox, topic: &str, symbol: Option<&str>, body: Body) {
        let w = PushDataV3ApiWrapper {
            channel: topic.to_owned(),
            body: Some(body),
            symbol: symbol.map(str::to_owned),
            symbol_id: None,
            create_time: None,
            send_time: Some(now_ms() as i64),
        };
        out.send(Message::binary(w.encode_to_vec()));
    }

    fn topics(&self, kind: fn(&SpotTopic) -> bool, inst: Option<usize>) -> Vec<(String, SpotTopic)> {
        self.subs
            .iter()
            .filter(|(_, (k, i))| kind(k) && (i.is_none() || *i == inst))
            .map(|(t, (k, _))| (t.clone(), *k))
            .collect()
    }
}

fn items(si: &SimInstrument, levels: &[LevelView]) -> Vec<proto::PublicAggreDepthV3ApiItem> {
    levels
        .iter()
        .map(|l| proto::PublicAggreDepthV3ApiItem {
            price: si.price_text(l.price),
            quantity: si.qty_text(l.qty),
        })
        .collect()
}

fn spot_order_proto(si: &SimInstrument, o: &Order, last: Option<Qty>) -> proto::PrivateOrdersV3Api {
    let status = match spot_status(o) {
        "NEW" => 1,
        "FILLED" => 2,
        "PARTIALLY_FILLED" => 3,
        "CANCELED" => 4,
        _ => 5,
    };
    let order_type = match (o.kind, o.tif) {
        (OrderKind::Market, _) => 5,
        (_, Tif::Gtc) => 1,
        (_, Tif::PostOnly) => 2,
        (_, Tif::Ioc) => 3,
        (_, Tif::Fok) => 4,
    };
    let amount = si.inst.notional(o.price, o.qty, Rounding::Floor).unwrap_or(Amount::ZERO);
    proto::PrivateOrdersV3Api {
        id: order_id(o.id),
        client_id: o.text.clone(),
        price: si.price_text(o.price),
        quantity: si.qty_text(o.qty),
        amount: amt(o.quote_qty.unwrap_or(amount)),
        avg_price: amt(o.avg_price(&si.inst)),
        order_type,
        trade_type: if o.side == Side::Buy { 1 } else { 2 },
        is_maker: o.last_role_maker,
        remain_amount: amt(o
            .quote_qty
            .map(|q| q - o.filled_quote)
            .unwrap_or(amount - o.filled_quote)
            .max(Amount::ZERO)),
        remain_quantity: si.qty_text(if o.quote_qty.is_some() { Qty::ZERO } else { o.left }),
        last_deal_quantity: last.map(|q| si.qty_text(q)),
        cumulative_quantity: si.qty_text(o.filled_qty),
        cumulative_amount: amt(o.filled_quote),
        status,
        create_time: o.create_ms as i64,
    }
}

fn spot_ack(out: &mut Outbox, id: &Value, msg: &str) {
    out.text(json!({"id": id, "code": 0, "msg": msg}).to_string());
}

impl Session for SpotSession {
    fn on_message(&mut self, msg: Message, out: &mut Outbox) {
        let Message::Text(t) = msg else { return };
        let Ok(req) = serde_json::from_str::<Value>(t.as_str()) else {
            return out.text(json!({"id": 0, "code": 0, "msg": "Wrong request format"}).to_string());
        };
        let id = req.get("id").cloned().unwrap_or(json!(0));
        // Method names are matched without regard to case (clients send `ping` as well as `PING`).
        let method = req.get("method").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
        let params: Vec<String> = req
            .get("params")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        match method.as_str() {
            "PING" => spot_ack(out, &id, "PONG"),
            "SUBSCRIPTION" => {
                let x = self.ctx.lock();
                let mut okd = Vec::new();
                for topic in &params {
                    match self.parse_topic(&x, topic) {
                        Some(k) if self.subs.len() < 30 => {
                            self.subs.insert(topic.clone(), k);
                            okd.push(topic.clone());
                        }
                        _ => {
                            let msg = format!("Not Subscribed successfully! [{topic}].  Reason： Blocked! ");
                            spot_ack(out, &id, &msg);
                        }
                    }
                }
                drop(x);
                if !okd.is_empty() {
                    spot_ack(out, &id, &okd.join(","));
                }
            }
            "UNSUBSCRIPTION" => {
                for topic in &params {
                    self.subs.remove(topic);
                }
                spot_ack(out, &id, &params.join(","));
            }
            _ => spot_ack(out, &id, "Wrong request format"),
        }
    }

    fn on_event(&mut self, ev: &Event, out: &mut Outbox) {
        if self.subs.is_empty() {
            return;
        }
        match ev {
            Event::Depth { inst, first, last, bids, asks, .. } => {
                let depth = self.topics(|k| *k == SpotTopic::Depth, Some(*inst));
                let limit = self.topics(|k| matches!(k, SpotTopic::LimitDepth(_)), Some(*inst));
                if depth.is_empty() && limit.is_empty() {
                    return;
                }
                let x = self.ctx.lock();
                let si = x.instruments[*inst].clone();
                let snaps: Vec<_> = limit
                    .iter()
                    .map(|(t, k)| {
                        let n = if let SpotTopic::LimitDepth(n) = k { *n } else { 5 };
                        (t.clone(), x.snapshot(*inst, n))
                    })
                    .collect();
                drop(x);
                for (topic, _) in depth {
                    if self.ctx.gap() {
                        continue;
                    }
                    let event_type = topic.rsplit_once('@').map(|(a, _)| a.to_owned()).unwrap_or_default();
                    let body = proto::PublicAggreDepthsV3Api {
                        asks: items(&si, asks),
                        bids: items(&si, bids),
                        event_type,
                        from_version: first.to_string(),
                        to_version: last.to_string(),
                        last_order_create_time: now_ms() as i64,
                    };
                    self.send(out, &topic, Some(si.listing.symbol), Body::PublicAggreDepths(body));
                }
                for (topic, s) in snaps {
                    let body = proto::PublicLimitDepthsV3Api {
                        asks: items(&si, &s.asks),
                        bids: items(&si, &s.bids),
                        event_type: "spot@public.limit.depth.v3.api.pb".into(),
                        version: s.seq.to_string(),
                        last_order_create_time: now_ms() as i64,
                    };
                    self.send(out, &topic, Some(si.listing.symbol), Body::PublicLimitDepths(body));
                }
            }
            Event::BookTicker { inst, seq, bid, ask, .. } => {
                let topics = self.topics(|k| *k == SpotTopic::BookTicker, Some(*inst));
                if topics.is_empty() {
                    return;
                }
                let si = self.ctx.lock().instruments[*inst].clone();
                let p = |l: &Option<LevelView>| l.map(|l| si.price_text(l.price)).unwrap_or_default();
                let q = |l: &Option<LevelView>| l.map(|l| si.qty_text(l.qty)).unwrap_or_default();
                for (topic, _) in topics {
                    let body = proto::PublicAggreBookTickerV3Api {
                        bid_price: p(bid),
                        bid_quantity: q(bid),
                        ask_price: p(ask),
                        ask_quantity: q(ask),
                        version: seq.to_string(),
                        last_order_create_time: now_ms() as i64,
                    };
                    self.send(out, &topic, Some(si.listing.symbol), Body::PublicAggreBookTicker(body));
                }
            }
            Event::Trade { inst, id, price, qty, taker_side, time_ms } => {
                let topics = self.topics(|k| *k == SpotTopic::Deals, Some(*inst));
                if topics.is_empty() {
                    return;
                }
                let si = self.ctx.lock().instruments[*inst].clone();
                for (topic, _) in topics {
                    let event_type = topic.rsplit_once('@').map(|(a, _)| a.to_owned()).unwrap_or_default();
                    let body = proto::PublicAggreDealsV3Api {
                        deals: vec![proto::PublicAggreDealsV3ApiItem {
                            price: si.price_text(*price),
                            quantity: si.qty_text(*qty),
                            trade_type: if *taker_side == Side::Buy { 1 } else { 2 },
                            time: *time_ms as i64,
                            trade_id: format!("{id}X0_{id}X0"),
                        }],
                        event_type,
                    };
                    self.send(out, &topic, Some(si.listing.symbol), Body::PublicAggreDeals(body));
                }
            }
            Event::OrderUpdate { account, order, .. } if *account == USER => {
                let topics = self.topics(|k| *k == SpotTopic::Orders, None);
                let si = self.ctx.lock().instruments[order.inst].clone();
                if topics.is_empty() || si.is_futures() {
                    return;
                }
                for (topic, _) in topics {
                    let body = spot_order_proto(&si, order, None);
                    self.send(out, &topic, Some(si.listing.symbol), Body::PrivateOrders(body));
                }
            }
            Event::UserTrade { account, fill } if *account == USER => {
                let topics = self.topics(|k| *k == SpotTopic::PrivateDeals, None);
                let si = self.ctx.lock().instruments[fill.inst].clone();
                if topics.is_empty() || si.is_futures() {
                    return;
                }
                for (topic, _) in topics {
                    let body = proto::PrivateDealsV3Api {
                        price: si.price_text(fill.price),
                        quantity: si.qty_text(fill.qty),
                        amount: amt(fill.notional),
                        trade_type: if fill.side == Side::Buy { 1 } else { 2 },
                        is_maker: fill.maker,
                        is_self_trade: false,
                        trade_id: format!("{}X1", fill.trade_id),
                        client_order_id: fill.text.clone(),
                        order_id: order_id(fill.order_id),
                        fee_amount: amt(fill.fee),
                        fee_currency: fill.fee_asset.clone(),
                        time: fill.time_ms as i64,
                    };
                    self.send(out, &topic, Some(si.listing.symbol), Body::PrivateDeals(body));
                }
            }
            Event::Balance { account, asset, available, locked, change, time_ms } if *account == USER => {
                for (topic, _) in self.topics(|k| *k == SpotTopic::Account, None) {
                    let body = proto::PrivateAccountV3Api {
                        vcoin_name: asset.clone(),
                        coin_id: format!("{:032x}", asset.bytes().fold(0u128, |a, b| a * 131 + b as u128)),
                        balance_amount: amt(*available),
                        balance_amount_change: amt(*change),
                        frozen_amount: amt(*locked),
                        frozen_amount_change: "0".into(),
                        r#type: "ENTRUST".into(),
                        time: *time_ms as i64,
                    };
                    let w = PushDataV3ApiWrapper {
                        channel: topic.clone(),
                        body: Some(Body::PrivateAccount(body)),
                        symbol: None,
                        symbol_id: None,
                        create_time: Some(*time_ms as i64),
                        send_time: Some(now_ms() as i64),
                    };
                    out.send(Message::binary(w.encode_to_vec()));
                }
            }
            _ => {}
        }
    }
}

/// Serves one MEXC futures WebSocket connection.
pub fn serve_futures_ws(ctx: Arc<VenueCtx>, stream: Stream) {
    let Some((ws, _)) = accept_ws(stream, &|_| Ok(())) else { return };
    let feed = ctx.feed();
    let cfg = ctx.ws_loop();
    let mut s = FuturesSession {
        ctx,
        subs: BTreeSet::new(),
        full: BTreeMap::new(),
        logged_in: false,
        ticker_ms: BTreeMap::new(),
    };
    run_ws(ws, feed, &mut s, &cfg);
}

/// One MEXC futures WebSocket connection.
#[derive(Debug)]
struct FuturesSession {
    ctx: Arc<VenueCtx>,
    /// (channel, instrument, compressed) for depth, deal, ticker.
    subs: BTreeSet<(&'static str, usize, bool)>,
    /// depth.full subscriptions: instrument -> levels.
    full: BTreeMap<usize, usize>,
    logged_in: bool,
    ticker_ms: BTreeMap<usize, u64>,
}

impl FuturesSession {
    fn reply(&self, out: &mut Outbox, channel: &str, data: Value) {
        let now = now_ms();
        out.text(json!({"channel": channel, "data": data, "ts": now}).to_string());
    }

    fn push(&self, out: &mut Outbox, channel: &str, symbol: Option<&str>, data: Value) {
        let now = now_ms();
        let mut v = json!({"channel": channel, "data": data, "ts": now});
        if let (Some(s), Some(m)) = (symbol, v.as_object_mut()) {
            m.insert("symbol".into(), json!(s));
        }
        out.text(v.to_string());
    }
}

impl Session for FuturesSession {
    fn on_message(&mut self, msg: Message, out: &mut Outbox) {
        let Message::Text(t) = msg else { return };
        let Ok(req) = serde_json::from_str::<Value>(t.as_str()) else {
            return self.reply(out, "rs.error", json!("Request format error!"));
        };
        let method = req.get("method").and_then(Value::as_str).unwrap_or("");
        let param = req.get("param").cloned().unwrap_or(Value::Null);
        if method == "ping" {
            let now = now_ms();
            return out.text(json!({"channel": "pong", "data": now, "ts": now}).to_string());
        }
        if method == "login" {
            let key = param.get("apiKey").and_then(Value::as_str).unwrap_or("");
            let rt = param.get("reqTime").and_then(text_of).unwrap_or_default();
            let sig = param.get("signature").and_then(Value::as_str).unwrap_or("");
            let fresh = rt.parse::<i64>().is_ok_and(|t| (t - now_ms() as i64).abs() <= 60_000);
            if fresh && verify_mexc_login(&self.ctx.creds, key, &rt, sig) {
                self.logged_in = true;
                return self.reply(out, "rs.login", json!("success"));
            }
            return self.reply(out, "rs.error", json!("Signature verification failed!"));
        }
        if method == "personal.filter" {
            return self.reply(out, "rs.personal.filter", json!("success"));
        }
        let (unsub, name) = match method.strip_prefix("sub.") {
            Some(n) => (false, n),
            None => match method.strip_prefix("unsub.") {
                Some(n) => (true, n),
                None => return self.reply(out, "rs.error", json!(format!("Unknown method {method}"))),
            },
        };
        let chan: &'static str = match name {
            "depth" => "depth",
            "depth.full" => "depth.full",
            "deal" => "deal",
            "ticker" => "ticker",
            _ => return self.reply(out, "rs.error", json!(format!("Unknown method {method}"))),
        };
        let symbol = param.get("symbol").and_then(Value::as_str).unwrap_or("");
        let Some(inst) = self.ctx.lock().find(Market::Futures, symbol) else {
            return self.reply(out, "rs.error", json!(format!("Contract [{symbol}] not exists")));
        };
        let ack = format!("rs.{}{}", if unsub { "unsub." } else { "sub." }, name);
        self.reply(out, &ack, json!("success"));
        if unsub {
            self.subs.retain(|s| !(s.0 == chan && s.1 == inst));
            if chan == "depth.full" {
                self.full.remove(&inst);
            }
            return;
        }
        if chan == "depth.full" {
            let limit = param.get("limit").and_then(text_of).and_then(|l| l.parse().ok()).unwrap_or(20usize);
            self.full.insert(inst, limit);
        } else {
            let compress = param.get("compress").and_then(Value::as_bool).unwrap_or(true);
            self.subs.insert((chan, inst, compress));
        }
    }

    fn on_event(&mut self, ev: &Event, out: &mut Outbox) {
        match ev {
            Event::Depth { inst, version, bids, asks, time_ms, .. } => {
                let depth: Vec<bool> =
                    self.subs.iter().filter(|s| s.0 == "depth" && s.1 == *inst).map(|s| s.2).collect();
                let full = self.full.get(inst).copied();
                if depth.is_empty() && full.is_none() {
                    return;
                }
                let x = self.ctx.lock();
                let si = x.instruments[*inst].clone();
                let snap = full.map(|n| x.snapshot(*inst, n));
                drop(x);
                let sym = si.listing.symbol;
                for compress in depth {
                    if self.ctx.gap() {
                        continue;
                    }
                    let mut d = json!({"cts": time_ms, "asks": fut_levels(&si, asks), "bids": fut_levels(&si, bids),
                                       "version": version});
                    if let (true, Some(m)) = (compress, d.as_object_mut()) {
                        m.insert("begin".into(), json!(version));
                        m.insert("end".into(), json!(version));
                    }
                    self.push(out, "push.depth", Some(sym), d);
                }
                if let Some(s) = snap {
                    let d = json!({"cts": time_ms, "asks": fut_levels(&si, &s.asks), "bids": fut_levels(&si, &s.bids),
                                   "version": s.version});
                    self.push(out, "push.depth.full", Some(sym), d);
                }
            }
            Event::BookTicker { inst, time_ms, .. } => {
                if !self.subs.iter().any(|s| s.0 == "ticker" && s.1 == *inst) {
                    return;
                }
                // About once a second, as the venue does.
                if self.ticker_ms.get(inst).is_some_and(|&t| time_ms.saturating_sub(t) < 1000) {
                    return;
                }
                self.ticker_ms.insert(*inst, *time_ms);
                let x = self.ctx.lock();
                let t = ticker_json(&x, *inst);
                let sym = x.instruments[*inst].listing.symbol;
                drop(x);
                self.push(out, "push.ticker", Some(sym), t);
            }
            Event::Trade { inst, price, qty, taker_side, time_ms, .. } => {
                if !self.subs.iter().any(|s| s.0 == "deal" && s.1 == *inst) {
                    return;
                }
                let si = self.ctx.lock().instruments[*inst].clone();
                let d = json!([{"p": num(&si.price_text(*price)), "v": si.contracts(*qty),
                                "T": if *taker_side == Side::Buy { 1 } else { 2 }, "O": 3, "M": 2, "t": time_ms}]);
                self.push(out, "push.deal", Some(si.listing.symbol), d);
            }
            Event::OrderUpdate { account, order, .. } if *account == USER && self.logged_in => {
                let si = self.ctx.lock().instruments[order.inst].clone();
                if si.is_futures() {
                    self.push(out, "push.personal.order", None, futures_order_json(&si, order));
                }
            }
            Event::UserTrade { account, fill } if *account == USER && self.logged_in => {
                let si = self.ctx.lock().instruments[fill.inst].clone();
                if !si.is_futures() {
                    return;
                }
                let side = if fill.side == Side::Buy { 1 } else { 3 };
                let d = json!({"category": 1, "externalOid": fill.text, "fee": num(&amt(fill.fee)),
                               "feeCurrency": "USDT", "id": fill.trade_id.to_string(), "isSelf": false,
                               "orderId": fill.order_id.to_string(), "positionMode": 2,
                               "price": num(&si.price_text(fill.price)), "profit": 0, "side": side,
                               "symbol": si.listing.symbol, "taker": !fill.maker, "timestamp": fill.time_ms,
                               "vol": si.contracts(fill.qty)});
                self.push(out, "push.personal.order.deal", None, d);
            }
            Event::Position { account, inst, size, cost, realised, .. }
                if *account == USER && self.logged_in =>
            {
                let si = self.ctx.lock().instruments[*inst].clone();
                let base = si.inst.base_amount(Qty(size.0.abs())).unwrap_or(Amount::ZERO);
                let entry = cost.abs().div(base, Rounding::Floor).unwrap_or(Amount::ZERO);
                let im = Amount(cost.0.abs() / super::engine::LEVERAGE);
                let d = json!({"autoAddIm": false, "closeAvgPrice": 0, "closeVol": 0, "frozenVol": 0,
                               "holdAvgPrice": num(&amt(entry)), "holdFee": 0, "holdVol": si.contracts(*size).abs(),
                               "im": num(&amt(im)), "leverage": 10, "liquidatePrice": 0, "oim": num(&amt(im)),
                               "openAvgPrice": num(&amt(entry)), "openType": 2, "positionId": 1_000_000 + *inst as u64,
                               "positionType": if size.0 >= 0 { 1 } else { 2 }, "realised": num(&amt(*realised)),
                               "state": if size.is_zero() { 3 } else { 1 }, "symbol": si.listing.symbol});
                self.push(out, "push.personal.position", None, d);
            }
            Event::FuturesBalance { account, balance, available, .. }
                if *account == USER && self.logged_in =>
            {
                let x = self.ctx.lock();
                let fa = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
                drop(x);
                let d = json!({"availableBalance": num(&amt(*available)), "bonus": 0, "currency": "USDT",
                               "frozenBalance": num(&amt(fa.order_margin)), "positionMargin": num(&amt(fa.position_margin())),
                               "cashBalance": num(&amt(*balance))});
                self.push(out, "push.personal.asset", None, d);
            }
            _ => {}
        }
    }
}
