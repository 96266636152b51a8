//! Order entry in MEXC's terms: spot orders from query or form parameters (`type`,
//! `timeInForce`, `quoteOrderQty`), futures orders from a JSON body (`side` 1 to 4 for
//! open or close, `type` 1 to 6, `vol` in contracts), lookups by id or client id, and
//! the engine's refusals as MEXC's spot and futures error codes.

use pipeline::types::{Amount, Market, Price, Qty, Side};
use serde_json::Value;

use super::json::parse_order_id;
use crate::engine::{Exchange, Order, OrderKind, OrderRequest, Reject, SimInstrument, Tif, USER};
use crate::venue::{json_price, json_qty, text_of};

pub(super) fn spot_reject(r: Reject, si: &SimInstrument) -> (i64, String) {
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

pub(super) fn futures_reject(r: Reject) -> (i64, &'static str) {
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

/// Parses a spot order from request parameters.
pub(super) fn parse_spot_order(x: &Exchange, p: &[(String, String)]) -> Result<OrderRequest, (i64, String)> {
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

/// Parses a futures order body (`order/submit`, `order/create`).
pub(super) fn parse_futures_order(x: &Exchange, body: &Value) -> Result<OrderRequest, (i64, &'static str)> {
    let symbol = body.get("symbol").and_then(Value::as_str).unwrap_or("");
    let inst = x.find(Market::Futures, symbol).ok_or((1001, "Contract does not exist"))?;
    let si = &x.instruments[inst];
    // `vol` in contracts, a JSON number (clients send 2 or 2.0).
    let vol = body.get("vol").and_then(|v| json_qty(v, si));
    let code = |k: &str| body.get(k).and_then(text_of).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let (side, reduce_only) = match code("side") {
        1 => (Side::Buy, false),
        2 => (Side::Buy, true),
        3 => (Side::Sell, false),
        4 => (Side::Sell, true),
        _ => return Err((600, "Parameter error: side")),
    };
    let (kind, tif) = match code("type") {
        1 => (OrderKind::Limit, Tif::Gtc),
        2 => (OrderKind::Limit, Tif::PostOnly),
        3 => (OrderKind::Limit, Tif::Ioc),
        4 => (OrderKind::Limit, Tif::Fok),
        5 | 6 => (OrderKind::Market, Tif::Ioc),
        _ => return Err((600, "Parameter error: type")),
    };
    let imprecise = (2015, "Price or quantity precision error");
    let qty = vol.filter(|q| q.is_positive()).ok_or(imprecise)?;
    let price = match kind {
        OrderKind::Limit => body.get("price").and_then(|p| json_price(p, si)).ok_or(imprecise)?,
        OrderKind::Market => Price::ZERO,
    };
    let text = body.get("externalOid").and_then(Value::as_str).unwrap_or("").to_owned();
    Ok(OrderRequest { inst, side, kind, tif, price, qty, quote_qty: None, text, reduce_only })
}

/// Finds an order of the account by `orderId` or `origClientOrderId`.
pub(super) fn find_order(x: &Exchange, inst: usize, p: &[(String, String)]) -> Option<Order> {
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(id) = get("orderId").and_then(parse_order_id) {
        return x.order(id).filter(|o| o.account == USER && o.inst == inst).cloned();
    }
    let cid = get("origClientOrderId")?;
    x.orders_of(USER, Some(inst), false).into_iter().rev().find(|o| o.text == cid)
}
