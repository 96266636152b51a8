//! MEXC's private REST routes about the account rather than its orders: spot balances,
//! coins and fees, the listen keys of the private spot streams, the futures assets and
//! open positions.

use pipeline::types::Market;
use serde_json::{Value, json};

use super::json::{assets_json, positions_json};
use super::rest::{Call, fut_err, fut_ok, ok, spot_err};
use crate::engine::{USER, now_ms};
use crate::server::Response;
use crate::venue::{amt, asset_names, num};

/// How long a listen key lives without a keep-alive.
const LISTEN_KEY_MS: u64 = 3_600_000;

pub(super) fn spot_account(c: &Call) -> Response {
    let x = c.ctx.lock();
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

pub(super) fn coins(c: &Call) -> Response {
    let v: Vec<Value> = asset_names(&c.ctx.lock())
        .into_iter()
        .map(|c| json!({"coin": c, "name": c, "networkList": []}))
        .collect();
    ok(Value::Array(v))
}

pub(super) fn trade_fee(c: &Call) -> Response {
    let x = c.ctx.lock();
    let Some(inst) = c.get("symbol").and_then(|s| x.find(Market::Spot, &s)) else {
        return spot_err(10007, "bad symbol");
    };
    let l = &x.instruments[inst].listing;
    ok(json!({"data": {"makerCommission": num(l.maker_fee), "takerCommission": num(l.taker_fee)},
              "code": 0, "msg": "success", "timestamp": now_ms()}))
}

/// `userDataStream`: POST makes a listen key (60 at most), GET lists them, PUT keeps one
/// alive, DELETE drops it; expired keys are forgotten first.
pub(super) fn listen_keys(c: &Call) -> Response {
    let mut keys = c.ctx.listen_keys.lock().unwrap_or_else(|p| p.into_inner());
    let now = now_ms();
    keys.retain(|_, exp| *exp > now);
    match c.req.method.as_str() {
        "POST" => {
            if keys.len() >= 60 {
                return spot_err(730001, "listenKey limit exceeded");
            }
            let k = c.ctx.token(64);
            keys.insert(k.clone(), now + LISTEN_KEY_MS);
            ok(json!({"listenKey": k}))
        }
        "GET" => ok(json!({"listenKey": keys.keys().cloned().collect::<Vec<_>>()})),
        m @ ("PUT" | "DELETE") => {
            let k = c.get("listenKey").unwrap_or_default();
            if !keys.contains_key(&k) {
                return spot_err(730002, "listenKey not exist");
            }
            if m == "PUT" {
                keys.insert(k.clone(), now + LISTEN_KEY_MS);
            } else {
                keys.remove(&k);
            }
            ok(json!({"listenKey": k}))
        }
        _ => Response::json(405, r#"{"code":405,"msg":"Method Not Allowed"}"#),
    }
}

pub(super) fn assets(c: &Call) -> Response {
    fut_ok(json!([assets_json(&c.ctx.lock())]))
}

pub(super) fn asset(c: &Call) -> Response {
    if c.part(3) != "USDT" {
        return fut_err(600, "Parameter error");
    }
    fut_ok(assets_json(&c.ctx.lock()))
}

pub(super) fn open_positions(c: &Call) -> Response {
    let x = c.ctx.lock();
    let want = c.get("symbol").and_then(|s| x.find(Market::Futures, &s));
    fut_ok(positions_json(&x, want))
}

/// `GET /api/v1/private/position/funding_records`: the account's funding payments,
/// newest first, paged (`page_num` from 1, `page_size` up to 100), `symbol` filtering.
pub(super) fn funding_records(c: &Call) -> Response {
    let x = c.ctx.lock();
    let want = c.get("symbol");
    let page = c.get("page_num").and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).max(1);
    let size = c.get("page_size").and_then(|v| v.parse::<usize>().ok()).unwrap_or(20).clamp(1, 100);
    let all: Vec<Value> = x
        .funding_book()
        .iter()
        .rev()
        .filter(|e| want.as_deref().is_none_or(|w| w == x.instruments[e.inst].listing.symbol))
        .map(|e| {
            json!({"id": e.id, "symbol": x.instruments[e.inst].listing.symbol,
                   "positionType": if e.contracts >= 0 { 1 } else { 2 },
                   "positionValue": num(&amt(e.notional)), "funding": num(&amt(e.amount)),
                   "rate": num(&e.rate.to_string()), "settleTime": e.time_ms})
        })
        .collect();
    let total = all.len();
    let list: Vec<Value> = all.into_iter().skip((page - 1) * size).take(size).collect();
    fut_ok(json!({"pageSize": size, "totalCount": total, "totalPage": total.div_ceil(size),
                  "currentPage": page, "resultList": list}))
}
