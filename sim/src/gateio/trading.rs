//! Gate.io's private REST order routes, spot and USDT futures alike: place, list, cancel
//! by filter, and fetch or cancel one order by id or by its `t-` text.

use std::collections::BTreeMap;

use pipeline::types::Market;
use serde_json::{Value, json};

use super::json::{futures_order_json, spot_order_json};
use super::orders::place;
use super::rest::{Call, err, gate_err, ok};
use crate::engine::{Exchange, Order, USER, now_ms};
use crate::server::Response;

fn order_not_found() -> Response {
    Response::json(404, r#"{"label":"ORDER_NOT_FOUND"}"#)
}

/// An order in the shape of its market's routes.
fn order_json(c: &Call, x: &Exchange, o: &Order) -> Value {
    let si = &x.instruments[o.inst];
    if c.futures() { futures_order_json(si, o, c.ctx.uid, false) } else { spot_order_json(si, o) }
}

fn symbol_key(c: &Call) -> (&'static str, Market) {
    if c.futures() { ("contract", Market::Futures) } else { ("currency_pair", Market::Spot) }
}

pub(super) fn place_order(c: &Call) -> Response {
    let market = if c.futures() { Market::Futures } else { Market::Spot };
    c.ctx.ack_delay();
    match place(c.ctx, market, &c.body) {
        Ok(v) => Response::json(201, v.to_string()),
        Err(e) => gate_err(e),
    }
}

pub(super) fn list_orders(c: &Call) -> Response {
    let futures = c.futures();
    let x = c.ctx.lock();
    let (key, market) = symbol_key(c);
    let inst = match c.q(key) {
        Some(s) => match x.find(market, &s) {
            Some(i) => Some(i),
            None => return err(400, "INVALID_CURRENCY_PAIR", &format!("Invalid currency pair {s}")),
        },
        None if futures => None,
        None => return err(400, "MISSING_REQUIRED_PARAM", "Missing required parameter: currency_pair"),
    };
    let open = c.q("status").is_none_or(|s| s == "open");
    let mut orders: Vec<_> = x
        .orders_of(USER, inst, false)
        .into_iter()
        .filter(|o| x.instruments[o.inst].is_futures() == futures && o.is_open() == open)
        .collect();
    // Finished orders come a page at a time, newest first: spot by page number, futures
    // by offset; 100 a page unless `limit` says fewer.
    let (mut skip, mut take) = (0, usize::MAX);
    if !open {
        orders.sort_by_key(|o| std::cmp::Reverse(o.id));
        let number = |k: &str| c.q(k).and_then(|v| v.parse::<usize>().ok());
        take = number("limit").unwrap_or(100).clamp(1, 100);
        skip = if futures {
            number("offset").unwrap_or(0)
        } else {
            (number("page").unwrap_or(1).max(1) - 1) * take
        };
    }
    let v: Vec<Value> = orders.iter().skip(skip).take(take).map(|o| order_json(c, &x, o)).collect();
    ok(Value::Array(v))
}

pub(super) fn open_orders(c: &Call) -> Response {
    let x = c.ctx.lock();
    let mut by: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for o in x.orders_of(USER, None, true) {
        if !x.instruments[o.inst].is_futures() {
            by.entry(o.inst).or_default().push(spot_order_json(&x.instruments[o.inst], &o));
        }
    }
    let v: Vec<Value> = by
        .into_iter()
        .map(|(i, os)| json!({"currency_pair": x.instruments[i].listing.symbol, "total": os.len(), "orders": os}))
        .collect();
    ok(Value::Array(v))
}

pub(super) fn cancel_orders(c: &Call) -> Response {
    let mut x = c.ctx.lock();
    let (key, market) = symbol_key(c);
    let Some(inst) = c.q(key).and_then(|s| x.find(market, &s)) else {
        return err(400, "INVALID_PARAM_VALUE", &format!("Invalid parameter `{key}`"));
    };
    let side = c.q("side");
    let ids: Vec<u64> = x
        .orders_of(USER, Some(inst), true)
        .iter()
        .filter(|o| side.as_deref().is_none_or(|s| s == o.side.name()))
        .map(|o| o.id)
        .collect();
    let mut v = Vec::new();
    for id in ids {
        if let Some(o) = x.cancel(USER, id) {
            v.push(order_json(c, &x, &o));
        }
    }
    ok(Value::Array(v))
}

/// The venue id of the order a path names: the id itself, or the custom `t-` text,
/// which Gate accepts while the order is open and for 60 s after it finished.
fn order_id(c: &Call, x: &Exchange, id: &str) -> Option<u64> {
    if let Ok(id) = id.parse::<u64>() {
        return Some(id);
    }
    if !id.starts_with("t-") {
        return None;
    }
    let now = now_ms();
    let futures = c.futures();
    x.orders_of(USER, None, false)
        .into_iter()
        .rev()
        .find(|o| {
            o.text == id
                && x.instruments[o.inst].is_futures() == futures
                && (o.is_open() || now.saturating_sub(o.update_ms) <= 60_000)
        })
        .map(|o| o.id)
}

/// `GET` or `DELETE` one order.
pub(super) fn order(c: &Call) -> Response {
    let futures = c.futures();
    let mut x = c.ctx.lock();
    let Some(id) = order_id(c, &x, c.parts.last().copied().unwrap_or("")) else { return order_not_found() };
    let found =
        x.order(id).filter(|o| o.account == USER && x.instruments[o.inst].is_futures() == futures).cloned();
    let Some(o) = found else { return order_not_found() };
    if !futures && c.q("currency_pair").is_some_and(|p| p != x.instruments[o.inst].listing.symbol) {
        return order_not_found();
    }
    let o = if c.req.method == "DELETE" {
        match x.cancel(USER, id) {
            Some(o) => o,
            None => return order_not_found(),
        }
    } else {
        o
    };
    ok(order_json(c, &x, &o))
}
