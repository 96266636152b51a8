//! Gate.io's private REST routes about the account rather than its orders: spot
//! balances, the account detail and fee tiers, the futures account and positions.

use pipeline::types::Market;
use serde_json::{Value, json};

use super::json::{funding_book_json, futures_account_json, position_json};
use super::rest::{Call, err, ok};
use crate::engine::{SimInstrument, USER};
use crate::server::Response;
use crate::venue::amt;

pub(super) fn spot_accounts(c: &Call) -> Response {
    let x = c.ctx.lock();
    let want = c.q("currency");
    let a = x.account(USER).cloned().unwrap_or_default();
    let v: Vec<Value> = a
        .spot
        .iter()
        .filter(|(cur, _)| want.as_deref().is_none_or(|w| w == cur.as_str()))
        .map(|(cur, b)| json!({"currency": cur, "available": amt(b.available), "locked": amt(b.locked), "update_id": 1}))
        .collect();
    ok(Value::Array(v))
}

pub(super) fn detail(c: &Call) -> Response {
    ok(json!({"user_id": c.ctx.uid, "ip_whitelist": [], "currency_pairs": [],
              "key": {"mode": 1}, "tier": 0, "tier_expire_time": "0001-01-01T00:00:00Z",
              "copy_trading_role": 0}))
}

pub(super) fn spot_fee(c: &Call) -> Response {
    let x = c.ctx.lock();
    let s = x.instruments.iter().find(|i| !i.is_futures());
    let f = x.instruments.iter().find(|i| i.is_futures());
    let r = |o: Option<&SimInstrument>, maker: bool| {
        o.map(|i| if maker { i.inst.maker_fee } else { i.inst.taker_fee }.to_string()).unwrap_or_default()
    };
    ok(json!({"user_id": c.ctx.uid, "taker_fee": r(s, false), "maker_fee": r(s, true), "gt_discount": false,
              "gt_taker_fee": "0", "gt_maker_fee": "0", "loan_fee": "0.18", "point_type": "1",
              "futures_taker_fee": r(f, false), "futures_maker_fee": r(f, true), "delivery_taker_fee": "0",
              "delivery_maker_fee": "0", "debit_fee": 3}))
}

pub(super) fn futures_account(c: &Call) -> Response {
    ok(futures_account_json(&c.ctx.lock(), c.ctx.uid))
}

pub(super) fn positions(c: &Call) -> Response {
    let x = c.ctx.lock();
    let a = x.account(USER).cloned().unwrap_or_default();
    let v: Vec<Value> = a.futures.positions.keys().map(|&i| position_json(&x, i, c.ctx.uid)).collect();
    ok(Value::Array(v))
}

/// One contract's position; also the answer to a leverage change (the sim keeps 10x).
pub(super) fn position(c: &Call) -> Response {
    let contract = c.part(3);
    let x = c.ctx.lock();
    match x.find(Market::Futures, contract) {
        Some(i) => ok(position_json(&x, i, c.ctx.uid)),
        None => err(400, "CONTRACT_NOT_FOUND", &format!("contract {contract} not found")),
    }
}

pub(super) fn futures_fee(c: &Call) -> Response {
    let x = c.ctx.lock();
    let mut m = serde_json::Map::new();
    for si in x.instruments.iter().filter(|i| i.is_futures()) {
        m.insert(
            si.listing.symbol.into(),
            json!({"taker_fee": si.listing.taker_fee, "maker_fee": si.listing.maker_fee}),
        );
    }
    ok(Value::Object(m))
}

/// The futures account book, newest first: the funding entries (`type=fund`), the only
/// kind the sim keeps; `contract`, `from`/`to` (Unix seconds) and `limit` filter.
pub(super) fn account_book(c: &Call) -> Response {
    let x = c.ctx.lock();
    let kind = c.q("type");
    if kind.as_deref().is_some_and(|k| k != "fund") {
        return ok(Value::Array(Vec::new()));
    }
    let contract = c.q("contract");
    let from = c.q("from").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let to = c.q("to").and_then(|v| v.parse::<u64>().ok()).unwrap_or(u64::MAX);
    let limit = c.q("limit").and_then(|v| v.parse::<usize>().ok()).unwrap_or(100).clamp(1, 1000);
    let v: Vec<Value> = x
        .funding_book()
        .iter()
        .rev()
        .filter(|e| contract.as_deref().is_none_or(|w| w == x.instruments[e.inst].listing.symbol))
        .filter(|e| e.time_ms / 1000 >= from && e.time_ms / 1000 <= to)
        .take(limit)
        .map(|e| funding_book_json(&x, e))
        .collect();
    ok(Value::Array(v))
}
