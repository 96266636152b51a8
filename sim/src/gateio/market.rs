//! Gate.io's public REST routes: server time, currency pairs and contracts, order books,
//! tickers and currencies. Markets the sim does not list answer empty, as a venue
//! without them would.

use pipeline::types::Market;
use serde_json::{Value, json};

use super::json::{contract_json, futures_levels, mark_price, spot_pair_json};
use super::rest::{Call, err, ok};
use crate::engine::now_ms;
use crate::server::Response;
use crate::venue::{asset_names, secs_ms, text_levels};

pub(super) fn server_time(_: &Call) -> Response {
    ok(json!({"server_time": now_ms()}))
}

pub(super) fn currency_pairs(c: &Call) -> Response {
    let x = c.ctx.lock();
    let v: Vec<Value> = x.instruments.iter().filter(|i| !i.is_futures()).map(spot_pair_json).collect();
    ok(Value::Array(v))
}

pub(super) fn currency_pair(c: &Call) -> Response {
    let pair = c.part(2);
    let x = c.ctx.lock();
    match x.find(Market::Spot, pair) {
        Some(i) => ok(spot_pair_json(&x.instruments[i])),
        None => err(400, "INVALID_CURRENCY_PAIR", &format!("Invalid currency pair {pair}")),
    }
}

pub(super) fn order_book(c: &Call) -> Response {
    let futures = c.futures();
    let key = if futures { "contract" } else { "currency_pair" };
    let sym = c.q(key).unwrap_or_default();
    let limit = c.q("limit").and_then(|l| l.parse().ok()).unwrap_or(10usize).clamp(1, 1000);
    let with_id = c.q("with_id").is_some_and(|v| v == "true");
    let x = c.ctx.lock();
    let market = if futures { Market::Futures } else { Market::Spot };
    let Some(inst) = x.find(market, &sym) else {
        return if futures {
            err(400, "CONTRACT_NOT_FOUND", &format!("contract {sym} not found"))
        } else {
            err(400, "INVALID_CURRENCY_PAIR", &format!("Invalid currency pair {sym}"))
        };
    };
    let si = &x.instruments[inst];
    let s = x.snapshot(inst, limit);
    let now = now_ms();
    let mut v = if futures {
        json!({"current": secs_ms(now), "update": secs_ms(now),
               "asks": futures_levels(si, &s.asks), "bids": futures_levels(si, &s.bids)})
    } else {
        json!({"current": now, "update": now, "asks": text_levels(si, &s.asks), "bids": text_levels(si, &s.bids)})
    };
    if let (true, Some(m)) = (with_id, v.as_object_mut()) {
        m.insert("id".into(), json!(s.seq));
    }
    ok(v)
}

pub(super) fn tickers(c: &Call) -> Response {
    let futures = c.futures();
    let x = c.ctx.lock();
    let want = c.q(if futures { "contract" } else { "currency_pair" });
    let v: Vec<Value> = (0..x.instruments.len())
        .filter(|&i| x.instruments[i].is_futures() == futures)
        .filter(|&i| want.as_deref().is_none_or(|w| w == x.instruments[i].listing.symbol))
        .map(|i| {
            let si = &x.instruments[i];
            let (b, a) = x.best(i);
            let bp = b.map(|l| si.price_text(l.price)).unwrap_or_default();
            let ap = a.map(|l| si.price_text(l.price)).unwrap_or_default();
            let last = si.price_text(mark_price(&x, i));
            let volume = si.listing.volume_24h_quote();
            if futures {
                json!({"contract": si.listing.symbol, "last": last, "lowest_ask": ap, "highest_bid": bp,
                       "change_percentage": "0", "total_size": "0", "volume_24h": "0", "volume_24h_base": "0",
                       "volume_24h_quote": volume, "volume_24h_settle": volume, "mark_price": last,
                       "funding_rate": x.funding_rate(i).to_string(),
                       "funding_rate_indicative": x.funding_rate(i).to_string(), "index_price": last,
                       "low_24h": last, "high_24h": last, "quanto_multiplier": si.listing.contract_size})
            } else {
                json!({"currency_pair": si.listing.symbol, "last": last, "lowest_ask": ap, "highest_bid": bp,
                       "change_percentage": "0", "base_volume": "0", "quote_volume": volume,
                       "high_24h": last, "low_24h": last})
            }
        })
        .collect();
    ok(Value::Array(v))
}

pub(super) fn currencies(c: &Call) -> Response {
    let v: Vec<Value> = asset_names(&c.ctx.lock())
        .into_iter()
        .map(|c| {
            json!({"currency": c, "name": c, "delisted": false, "withdraw_disabled": false,
                   "withdraw_delayed": false, "deposit_disabled": false, "trade_disabled": false,
                   "fixed_rate": "", "chain": "ETH", "chains": []})
        })
        .collect();
    ok(Value::Array(v))
}

/// Markets the sim does not list: empty, as for a venue without them.
pub(super) fn unlisted(_: &Call) -> Response {
    ok(json!([]))
}

pub(super) fn contracts(c: &Call) -> Response {
    let x = c.ctx.lock();
    let v: Vec<Value> = (0..x.instruments.len())
        .filter(|&i| x.instruments[i].is_futures())
        .map(|i| contract_json(&x, i))
        .collect();
    ok(Value::Array(v))
}

pub(super) fn contract(c: &Call) -> Response {
    let name = c.part(3);
    let x = c.ctx.lock();
    match x.find(Market::Futures, name) {
        Some(i) => ok(contract_json(&x, i)),
        None => err(400, "CONTRACT_NOT_FOUND", &format!("contract {name} not found")),
    }
}
