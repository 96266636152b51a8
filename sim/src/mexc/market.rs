//! MEXC's public REST routes: spot ping, time, symbols, exchange info, depth and the
//! three tickers; futures ping, contract details, depth and tickers.

use pipeline::types::Market;
use serde_json::{Value, json};

use super::json::{contract_json, fut_levels, spot_symbol_json, ticker_json};
use super::rest::{Call, fut_err, fut_ok, ok, spot_err};
use crate::engine::{LevelView, now_ms};
use crate::server::Response;
use crate::venue::{num, text_levels};

pub(super) fn ping(_: &Call) -> Response {
    ok(json!({}))
}

pub(super) fn time(_: &Call) -> Response {
    ok(json!({"serverTime": now_ms()}))
}

pub(super) fn default_symbols(c: &Call) -> Response {
    let x = c.ctx.lock();
    let v: Vec<&str> = x.instruments.iter().filter(|i| !i.is_futures()).map(|i| i.listing.symbol).collect();
    ok(json!({"code": 0, "data": v, "msg": "success"}))
}

pub(super) fn exchange_info(c: &Call) -> Response {
    let x = c.ctx.lock();
    let mut want: Vec<String> = Vec::new();
    if let Some(s) = c.get("symbol") {
        want.push(s);
    }
    if let Some(s) = c.get("symbols") {
        want.extend(s.split(',').map(str::to_owned));
    }
    let v: Vec<Value> = x
        .instruments
        .iter()
        .filter(|i| !i.is_futures() && (want.is_empty() || want.iter().any(|w| w == i.listing.symbol)))
        .map(spot_symbol_json)
        .collect();
    if v.is_empty() && !want.is_empty() {
        return spot_err(-1121, "Invalid symbol.");
    }
    ok(
        json!({"timezone": "CST", "serverTime": now_ms(), "rateLimits": [], "exchangeFilters": [], "symbols": v}),
    )
}

pub(super) fn depth(c: &Call) -> Response {
    let x = c.ctx.lock();
    let Some(inst) = c.get("symbol").and_then(|s| x.find(Market::Spot, &s)) else {
        return spot_err(-1121, "Invalid symbol.");
    };
    let limit = c.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).clamp(1, 5000);
    let si = &x.instruments[inst];
    let s = x.snapshot(inst, limit);
    ok(json!({"lastUpdateId": s.seq, "bids": text_levels(si, &s.bids), "asks": text_levels(si, &s.asks),
              "timestamp": now_ms()}))
}

/// `ticker/price`, `ticker/bookTicker` and `ticker/24hr`: one object for a `symbol`,
/// else an array of every spot symbol.
pub(super) fn tickers(c: &Call) -> Response {
    let x = c.ctx.lock();
    let want = c.get("symbol");
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
        v.push(match c.req.path.as_str() {
            "/api/v3/ticker/price" => json!({"symbol": si.listing.symbol, "price": last}),
            "/api/v3/ticker/bookTicker" => json!({"symbol": si.listing.symbol, "bidPrice": p(b), "bidQty": q(b),
                                                  "askPrice": p(a), "askQty": q(a)}),
            _ => json!({"symbol": si.listing.symbol, "priceChange": "0", "priceChangePercent": "0",
                        "prevClosePrice": last, "lastPrice": last, "bidPrice": p(b), "bidQty": q(b),
                        "askPrice": p(a), "askQty": q(a), "openPrice": last, "highPrice": last,
                        "lowPrice": last, "volume": "0", "quoteVolume": si.listing.volume_24h_quote(), "openTime": now_ms() - 86_400_000,
                        "closeTime": now_ms(), "count": null}),
        });
    }
    match (want, v.len()) {
        (Some(_), 0) => spot_err(-1121, "Invalid symbol."),
        (Some(_), _) => ok(v.swap_remove(0)),
        _ => ok(Value::Array(v)),
    }
}

pub(super) fn futures_ping(_: &Call) -> Response {
    fut_ok(json!(now_ms()))
}

/// One contract for a `symbol`, else every contract.
pub(super) fn contract_detail(c: &Call) -> Response {
    let x = c.ctx.lock();
    let want = c.get("symbol");
    let v: Vec<Value> = x
        .instruments
        .iter()
        .filter(|i| i.is_futures() && want.as_deref().is_none_or(|w| w == i.listing.symbol))
        .map(contract_json)
        .collect();
    match (want, v.len()) {
        (Some(_), 0) => fut_err(1001, "Contract does not exist"),
        (Some(_), _) => fut_ok(v.into_iter().next().unwrap_or(Value::Null)),
        _ => fut_ok(Value::Array(v)),
    }
}

pub(super) fn futures_depth(c: &Call) -> Response {
    let x = c.ctx.lock();
    let Some(inst) = x.find(Market::Futures, c.part(2)) else {
        return fut_err(1001, "Contract does not exist");
    };
    let limit = c.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).clamp(1, 2000);
    let si = &x.instruments[inst];
    let s = x.snapshot(inst, limit);
    fut_ok(json!({"asks": fut_levels(si, &s.asks), "bids": fut_levels(si, &s.bids),
                  "version": s.version, "timestamp": now_ms()}))
}

/// One contract's ticker for a `symbol`, else every contract's.
pub(super) fn futures_tickers(c: &Call) -> Response {
    let x = c.ctx.lock();
    let want = c.get("symbol");
    let mut v = Vec::new();
    for i in 0..x.instruments.len() {
        let si = &x.instruments[i];
        if !si.is_futures() || want.as_deref().is_some_and(|w| w != si.listing.symbol) {
            continue;
        }
        v.push(ticker_json(&x, i));
    }
    match (want, v.len()) {
        (Some(_), 0) => fut_err(1001, "Contract does not exist"),
        (Some(_), _) => fut_ok(v.swap_remove(0)),
        _ => fut_ok(Value::Array(v)),
    }
}

/// `GET /api/v1/contract/funding_rate/{symbol}`: the rate the next settlement would apply.
pub(super) fn funding_rate(c: &Call) -> Response {
    let x = c.ctx.lock();
    let Some(i) = x.find(Market::Futures, c.part(3)) else {
        return fut_err(1001, "Contract does not exist");
    };
    let cycle_h = x.funding_interval_ms() as f64 / 3_600_000.0;
    let next = match x.next_funding_ms() {
        u64::MAX => 0,
        ms => ms,
    };
    fut_ok(
        json!({"symbol": x.instruments[i].listing.symbol, "fundingRate": num(&x.funding_rate(i).to_string()),
                  "maxFundingRate": 0.003, "minFundingRate": -0.003, "collectCycle": cycle_h,
                  "nextSettleTime": next, "timestamp": now_ms()}),
    )
}
