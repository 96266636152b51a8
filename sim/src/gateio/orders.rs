//! Order entry in Gate.io's terms, shared by REST and the WebSocket trading API: order
//! bodies parsed into engine requests (spot `currency_pair`/`amount`/`time_in_force`,
//! futures signed `size` in contracts, `close` and `reduce_only`), and the engine's
//! refusals as Gate's HTTP status, label and message.

use pipeline::types::{Amount, Market, Price, Qty, Side};
use serde_json::Value;

use super::json::{futures_order_json, spot_order_json};
use crate::engine::{Exchange, OrderKind, OrderRequest, Reject, Tif, USER};
use crate::venue::{VenueCtx, json_price, json_qty, text_of};

/// A refusal in Gate terms: HTTP status, label, message.
pub(super) type GateErr = (u16, &'static str, String);

pub(super) fn reject_err(r: Reject, futures: bool) -> GateErr {
    match r {
        Reject::PriceTick => {
            (400, "INVALID_PRECISION", "price does not fit the order price precision".into())
        }
        Reject::QtyLot => (400, "INVALID_PRECISION", "amount does not fit the amount precision".into()),
        Reject::QtyTooSmall | Reject::NotionalTooSmall if futures => {
            (400, "SIZE_TOO_SMALL", "order size is below the minimum".into())
        }
        Reject::QtyTooSmall | Reject::NotionalTooSmall => {
            (400, "AMOUNT_TOO_LITTLE", "order amount is below the minimum".into())
        }
        Reject::QtyTooLarge => (400, "AMOUNT_TOO_MUCH", "order amount is above the maximum".into()),
        Reject::Balance => (400, "BALANCE_NOT_ENOUGH", "Not enough balance".into()),
        Reject::Margin => (400, "INSUFFICIENT_AVAILABLE", "Insufficient available balance".into()),
        Reject::PostOnly if futures => (400, "ORDER_POC_IMMEDIATE", "order would match immediately".into()),
        Reject::PostOnly => {
            (400, "POC_FILL_IMMEDIATELY", "Order would match and take immediately so its cancelled".into())
        }
        Reject::ReduceOnly => {
            (400, "REDUCE_ONLY_FAIL", "reduce-only order would increase the position".into())
        }
        Reject::NoLiquidity => {
            (400, "LIQUIDITY_NOT_ENOUGH", "not enough liquidity for the market order".into())
        }
        Reject::Fault => (429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded (211)".into()),
    }
}

fn parse_tif(s: &str) -> Option<Tif> {
    match s {
        "gtc" => Some(Tif::Gtc),
        "ioc" => Some(Tif::Ioc),
        "fok" => Some(Tif::Fok),
        "poc" => Some(Tif::PostOnly),
        _ => None,
    }
}

/// An invalid field, in Gate's words.
fn bad_param(field: &str, v: &Value) -> GateErr {
    (
        400,
        "INVALID_PARAM_VALUE",
        format!("Invalid parameter `{field}` with value: {}", text_of(v).unwrap_or_default()),
    )
}

/// Parses a spot order body (REST `POST /spot/orders`, WS `spot.order_place`).
fn parse_spot_order(x: &Exchange, b: &Value) -> Result<OrderRequest, GateErr> {
    let pair = b.get("currency_pair").and_then(Value::as_str).unwrap_or("");
    let inst = x
        .find(Market::Spot, pair)
        .ok_or_else(|| (400, "INVALID_CURRENCY_PAIR", format!("Invalid currency pair {pair}")))?;
    let si = &x.instruments[inst];
    let side = match b.get("side").and_then(Value::as_str) {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        _ => return Err(bad_param("side", b.get("side").unwrap_or(&Value::Null))),
    };
    let kind = match b.get("type").and_then(Value::as_str).unwrap_or("limit") {
        "limit" => OrderKind::Limit,
        "market" => OrderKind::Market,
        _ => return Err(bad_param("type", &b["type"])),
    };
    let tif_text = b.get("time_in_force").and_then(Value::as_str).unwrap_or(match kind {
        OrderKind::Limit => "gtc",
        OrderKind::Market => "ioc",
    });
    let tif = parse_tif(tif_text).ok_or_else(|| bad_param("time_in_force", &b["time_in_force"]))?;
    if kind == OrderKind::Market && !matches!(tif, Tif::Ioc | Tif::Fok) {
        return Err((400, "INVALID_ARGUMENT", "market order without IOC or FOK".into()));
    }
    let amount = b.get("amount").unwrap_or(&Value::Null);
    let (qty, quote_qty) = if kind == OrderKind::Market && side == Side::Buy {
        let q = text_of(amount)
            .and_then(|t| Amount::parse(&t).ok())
            .ok_or_else(|| bad_param("amount", amount))?;
        (Qty::ZERO, Some(q))
    } else {
        (json_qty(amount, si).ok_or_else(|| bad_param("amount", amount))?, None)
    };
    let price = match kind {
        OrderKind::Limit => {
            let p = b.get("price").unwrap_or(&Value::Null);
            json_price(p, si).ok_or_else(|| bad_param("price", p))?
        }
        OrderKind::Market => Price::ZERO,
    };
    let text = b.get("text").and_then(Value::as_str).unwrap_or("apiv4").to_owned();
    Ok(OrderRequest { inst, side, kind, tif, price, qty, quote_qty, text, reduce_only: false })
}

/// Parses a futures order body (REST `POST /futures/usdt/orders`, WS `futures.order_place`).
fn parse_futures_order(x: &Exchange, b: &Value) -> Result<OrderRequest, GateErr> {
    let c = b.get("contract").and_then(Value::as_str).unwrap_or("");
    let inst = x
        .find(Market::Futures, c)
        .ok_or_else(|| (400, "CONTRACT_NOT_FOUND", format!("contract {c} not found")))?;
    let si = &x.instruments[inst];
    let size_v = b.get("size").unwrap_or(&Value::Null);
    let mut size: i64 =
        text_of(size_v).and_then(|t| t.parse().ok()).ok_or_else(|| bad_param("size", size_v))?;
    let close = b.get("close").and_then(Value::as_bool).unwrap_or(false);
    let mut reduce_only = b.get("reduce_only").and_then(Value::as_bool).unwrap_or(false);
    if size == 0 && close {
        let pos = x.account(USER).and_then(|a| a.futures.positions.get(&inst).copied()).unwrap_or_default();
        size = -si.contracts(pos.size);
        reduce_only = true;
        if size == 0 {
            return Err((400, "POSITION_EMPTY", "position is empty".into()));
        }
    }
    if size == 0 {
        return Err(bad_param("size", size_v));
    }
    let side = if size > 0 { Side::Buy } else { Side::Sell };
    let qty = si.from_contracts(size.abs()).ok_or_else(|| bad_param("size", size_v))?;
    let p = b.get("price").unwrap_or(&Value::Null);
    let price = json_price(p, si).ok_or_else(|| bad_param("price", p))?;
    let tif_text = b.get("tif").and_then(Value::as_str).unwrap_or("gtc");
    let tif = parse_tif(tif_text).ok_or_else(|| bad_param("tif", &b["tif"]))?;
    let kind = if price.is_zero() { OrderKind::Market } else { OrderKind::Limit };
    if kind == OrderKind::Market && !matches!(tif, Tif::Ioc | Tif::Fok) {
        return Err((400, "INVALID_PARAM_VALUE", "market order must be ioc".into()));
    }
    let text = b.get("text").and_then(Value::as_str).unwrap_or("api").to_owned();
    Ok(OrderRequest { inst, side, kind, tif, price, qty, quote_qty: None, text, reduce_only })
}

/// Places an order parsed from a Gate body; returns the venue's order JSON.
pub(super) fn place(ctx: &VenueCtx, market: Market, body: &Value) -> Result<Value, GateErr> {
    let mut x = ctx.lock();
    let req = match market {
        Market::Spot => parse_spot_order(&x, body)?,
        Market::Futures => parse_futures_order(&x, body)?,
    };
    let o = x.place(USER, req).map_err(|r| reject_err(r, market == Market::Futures))?;
    let si = &x.instruments[o.inst];
    Ok(match market {
        Market::Spot => spot_order_json(si, &o),
        Market::Futures => futures_order_json(si, &o, ctx.uid, false),
    })
}
