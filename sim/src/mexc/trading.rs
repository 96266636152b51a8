//! MEXC's private REST order routes: spot place (and `order/test`), query or cancel one
//! order, list or cancel open orders and list all orders; futures submit or create,
//! cancel by ids, by external id or all, and query by id, external id or open.

use pipeline::types::Market;
use serde_json::{Value, json};

use super::json::{futures_order_json, order_id, side_name, spot_order_json, spot_status, spot_type};
use super::orders::{find_order, futures_reject, parse_futures_order, parse_spot_order, spot_reject};
use super::rest::{Call, fut_err, fut_ok, ok, spot_err};
use crate::engine::{Exchange, Order, Reject, USER};
use crate::server::Response;
use crate::venue::amt;

pub(super) fn spot_place(c: &Call) -> Response {
    c.ctx.ack_delay();
    let mut x = c.ctx.lock();
    let r = match parse_spot_order(&x, &c.params) {
        Ok(r) => r,
        Err((code, m)) => return spot_err(code, &m),
    };
    if c.req.path.ends_with("/test") {
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
            let (code, m) = spot_reject(e, &si);
            let status = if e == Reject::Fault { 429 } else { 400 };
            Response::json(status, json!({"code": code, "msg": m}).to_string())
        }
    }
}

/// `GET` or `DELETE` one spot order, by `orderId` or `origClientOrderId`.
pub(super) fn spot_order(c: &Call) -> Response {
    let mut x = c.ctx.lock();
    let Some(inst) = c.get("symbol").and_then(|s| x.find(Market::Spot, &s)) else {
        return spot_err(10007, "bad symbol");
    };
    if c.get("orderId").is_none() && c.get("origClientOrderId").is_none() {
        return spot_err(
            700004,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
        );
    }
    let Some(o) = find_order(&x, inst, &c.params) else {
        // As MEXC answers (Binance's codes): a query -2013, a cancel -2011.
        return match c.req.method.as_str() {
            "GET" => spot_err(-2013, "Order does not exist."),
            _ => spot_err(-2011, "Unknown order sent."),
        };
    };
    if c.req.method == "GET" {
        return ok(spot_order_json(&x.instruments[inst], &o));
    }
    let Some(o) = x.cancel(USER, o.id) else { return spot_err(-2011, "Unknown order sent.") };
    let si = &x.instruments[inst];
    ok(json!({"symbol": si.listing.symbol, "origClientOrderId": o.text, "orderId": order_id(o.id),
              "clientOrderId": o.text, "price": si.price_text(o.price), "origQty": si.qty_text(o.qty),
              "executedQty": si.qty_text(o.filled_qty), "cummulativeQuoteQty": amt(o.filled_quote),
              "status": spot_status(&o), "timeInForce": null, "type": spot_type(&o), "side": side_name(o.side)}))
}

/// `GET openOrders` (all symbols without `symbol`), `DELETE openOrders` and
/// `GET allOrders` (both need `symbol`, one or several).
pub(super) fn spot_orders(c: &Call) -> Response {
    let mut x = c.ctx.lock();
    let cancel = c.req.method == "DELETE";
    let all = c.req.path.ends_with("allOrders");
    let mut insts = Vec::new();
    for s in c.get("symbol").unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
        match x.find(Market::Spot, s) {
            Some(i) => insts.push(i),
            None => return spot_err(10007, "bad symbol"),
        }
    }
    if insts.is_empty() {
        if cancel || all {
            return spot_err(
                700004,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            );
        }
        insts = (0..x.instruments.len()).filter(|&i| !x.instruments[i].is_futures()).collect();
    }
    let mut v = Vec::new();
    for inst in insts {
        for o in x.orders_of(USER, Some(inst), !all) {
            if cancel {
                x.cancel(USER, o.id);
                v.push(cancelled_json(&x, &o));
            } else {
                v.push(spot_order_json(&x.instruments[inst], &o));
            }
        }
    }
    ok(Value::Array(v))
}

/// A cancelled order as `DELETE openOrders` answers: as it was, status NEW.
fn cancelled_json(x: &Exchange, o: &Order) -> Value {
    let si = &x.instruments[o.inst];
    json!({"symbol": si.listing.symbol, "orderId": order_id(o.id),
           "price": si.price_text(o.price), "origQty": si.qty_text(o.qty), "type": spot_type(o),
           "side": side_name(o.side), "executedQty": si.qty_text(o.filled_qty),
           "cummulativeQuoteQty": amt(o.filled_quote), "status": "NEW"})
}

/// `order/submit` answers the id, `order/create` the id and time.
pub(super) fn futures_place(c: &Call) -> Response {
    c.ctx.ack_delay();
    let mut x = c.ctx.lock();
    let r = match parse_futures_order(&x, &c.body) {
        Ok(r) => r,
        Err((code, m)) => return fut_err(code, m),
    };
    match x.place(USER, r) {
        Ok(o) if c.part(2) == "create" => fut_ok(json!({"orderId": o.id.to_string(), "ts": o.create_ms})),
        Ok(o) => fut_ok(json!(o.id)),
        Err(e) => {
            let (code, m) = futures_reject(e);
            fut_err(code, m)
        }
    }
}

/// Cancels the orders whose ids the body lists; answers per id.
pub(super) fn futures_cancel(c: &Call) -> Response {
    let ids: Vec<u64> = match &c.body {
        Value::Array(a) => {
            a.iter().filter_map(|v| crate::venue::text_of(v).and_then(|t| t.parse().ok())).collect()
        }
        _ => return fut_err(600, "Parameter error"),
    };
    let mut x = c.ctx.lock();
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

/// Cancels every open futures order, on one `symbol` when the body names it.
pub(super) fn futures_cancel_all(c: &Call) -> Response {
    let mut x = c.ctx.lock();
    let want = c.body.get("symbol").and_then(Value::as_str).map(str::to_owned);
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

pub(super) fn futures_order(c: &Call) -> Response {
    let x = c.ctx.lock();
    match c.part(3).parse::<u64>().ok().and_then(|id| x.order(id)).filter(|o| o.account == USER) {
        Some(o) if x.instruments[o.inst].is_futures() => {
            fut_ok(futures_order_json(&x.instruments[o.inst], o))
        }
        _ => fut_err(2040, "order not exist"),
    }
}

/// The account's latest order on `symbol` with this external id.
fn by_external(x: &Exchange, inst: usize, ext: &str) -> Option<Order> {
    x.orders_of(USER, Some(inst), false).into_iter().rev().find(|o| o.text == ext)
}

pub(super) fn futures_order_by_external(c: &Call) -> Response {
    let x = c.ctx.lock();
    let Some(inst) = x.find(Market::Futures, c.part(3)) else {
        return fut_err(1001, "Contract does not exist");
    };
    match by_external(&x, inst, c.part(4)) {
        Some(o) => fut_ok(futures_order_json(&x.instruments[inst], &o)),
        None => fut_err(2040, "order not exist"),
    }
}

pub(super) fn futures_cancel_by_external(c: &Call) -> Response {
    let symbol = c.body.get("symbol").and_then(Value::as_str).unwrap_or("");
    let ext = c.body.get("externalOid").and_then(Value::as_str).unwrap_or("");
    let mut x = c.ctx.lock();
    let Some(inst) = x.find(Market::Futures, symbol) else {
        return fut_err(1001, "Contract does not exist");
    };
    let Some(o) = by_external(&x, inst, ext) else {
        return fut_err(2040, "order not exist");
    };
    match x.cancel(USER, o.id) {
        Some(_) => {
            fut_ok(json!({"symbol": symbol, "externalOid": ext, "errorCode": 0, "errorMsg": "success"}))
        }
        None => fut_err(2041, "order state cannot be cancelled"),
    }
}

/// Open futures orders, on one contract when the path names it.
pub(super) fn futures_open_orders(c: &Call) -> Response {
    let x = c.ctx.lock();
    let want = match c.parts.get(4) {
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

/// `GET order/list/history_orders?symbol=&page_num=&page_size=`: the account's orders on
/// one contract (open and finished, newest last), `states` (comma-separated codes)
/// filtering when given; a page of at most `page_size` (default 20, at most 100).
pub(super) fn futures_history_orders(c: &Call) -> Response {
    let x = c.ctx.lock();
    let Some(symbol) = c.get("symbol") else {
        return fut_err(600, "Parameter symbol is required");
    };
    let Some(inst) = x.find(Market::Futures, &symbol) else {
        return fut_err(1001, "Contract does not exist");
    };
    let states: Vec<i64> = c
        .get("states")
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let size = c.get("page_size").and_then(|s| s.parse::<usize>().ok()).unwrap_or(20).clamp(1, 100);
    let page = c.get("page_num").and_then(|s| s.parse::<usize>().ok()).unwrap_or(1).max(1);
    let all: Vec<Value> = x
        .orders_of(USER, Some(inst), false)
        .iter()
        .map(|o| futures_order_json(&x.instruments[o.inst], o))
        .filter(|v| states.is_empty() || states.iter().any(|s| v["state"].as_i64() == Some(*s)))
        .collect();
    // Newest first, as the venue pages them.
    let v: Vec<Value> = all.into_iter().rev().skip((page - 1) * size).take(size).collect();
    fut_ok(Value::Array(v))
}
