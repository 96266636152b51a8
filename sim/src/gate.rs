//! Simulated Gate.io: REST v4 (spot and USDT futures), the spot and futures public and
//! private WebSocket channels, and the WebSocket trading API, with Gate's paths, field
//! names, JSON types and error labels (protocols.md D, E, F; adapters/test_data/gateio).
//!
//! Shapes follow the recorded messages: spot decimals as strings; futures sizes as JSON
//! integers in `order_book_update`, `book_ticker` and REST books but strings in `obu`;
//! futures order pushes with numeric prices and a string `user`; REST futures times as
//! float seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pipeline::types::{Amount, Market, Price, Qty, Rounding, Side};
use serde_json::{Value, json};
use tungstenite::Message;

use super::auth::{verify_gate_api, verify_gate_channel, verify_gate_rest};
use super::engine::{
    Event, Exchange, Finish, LevelView, Order, OrderEvent, OrderKind, OrderRequest, Reject, SimInstrument,
    Tif, USER, now_ms,
};
use super::server::{Outbox, Request, Response, Session, Stream, accept_ws, run_ws, serve_http};
use super::venue::{VenueCtx, amt, json_price, json_qty, num, secs_ms, text_of};

fn err(status: u16, label: &str, message: &str) -> Response {
    Response::json(status, json!({"label": label, "message": message}).to_string())
}

fn ok(v: Value) -> Response {
    Response::json(200, v.to_string())
}

/// A refusal in Gate terms: HTTP status, label, message.
type GateErr = (u16, &'static str, String);

fn reject_err(r: Reject, futures: bool) -> GateErr {
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

fn gate_err(e: GateErr) -> Response {
    err(e.0, e.1, &e.2)
}

fn finish_as(o: &Order, futures: bool) -> &'static str {
    match o.finish {
        Finish::Open if futures => "_new",
        Finish::Open => "open",
        Finish::Filled => "filled",
        Finish::Cancelled => "cancelled",
        Finish::Ioc => "ioc",
        Finish::Fok if futures => "ioc",
        Finish::Fok => "fok",
    }
}

fn tif_name(t: Tif) -> &'static str {
    match t {
        Tif::Gtc => "gtc",
        Tif::Ioc => "ioc",
        Tif::Fok => "fok",
        Tif::PostOnly => "poc",
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

/// A spot order in the REST / WS-API shape.
pub fn spot_order_json(si: &SimInstrument, o: &Order) -> Value {
    let avg = o.avg_price(&si.inst);
    let amount = match o.quote_qty {
        Some(q) => amt(q),
        None => si.qty_text(o.qty),
    };
    let left = match o.quote_qty {
        Some(q) => amt(q - o.filled_quote),
        None => si.qty_text(o.left),
    };
    let status = match o.finish {
        Finish::Open => "open",
        Finish::Filled => "closed",
        _ => "cancelled",
    };
    json!({
        "id": o.id.to_string(),
        "text": o.text,
        "amend_text": "-",
        "create_time": (o.create_ms / 1000).to_string(),
        "update_time": (o.update_ms / 1000).to_string(),
        "create_time_ms": o.create_ms,
        "update_time_ms": o.update_ms,
        "status": status,
        "currency_pair": si.listing.symbol,
        "type": if o.kind == OrderKind::Market { "market" } else { "limit" },
        "account": "spot",
        "side": o.side.name(),
        "amount": amount,
        "price": si.price_text(o.price),
        "time_in_force": tif_name(o.tif),
        "iceberg": "0",
        "left": left,
        "filled_amount": si.qty_text(o.filled_qty),
        "fill_price": amt(o.filled_quote),
        "filled_total": amt(o.filled_quote),
        "avg_deal_price": amt(avg),
        "fee": amt(o.fee),
        "fee_currency": o.fee_asset,
        "point_fee": "0",
        "gt_fee": "0",
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": false,
        "rebated_fee": "0",
        "rebated_fee_currency": si.listing.quote,
        "stp_id": 0,
        "stp_act": "-",
        "finish_as": finish_as(o, false),
    })
}

/// A spot order in the `spot.orders` push shape.
fn spot_order_push(si: &SimInstrument, o: &Order, uid: u64, event: OrderEvent) -> Value {
    let mut v = spot_order_json(si, o);
    if let Some(m) = v.as_object_mut() {
        m.insert("create_time_ms".into(), json!(o.create_ms.to_string()));
        m.insert("update_time_ms".into(), json!(o.update_ms.to_string()));
        m.insert("user".into(), json!(uid));
        m.insert("biz_info".into(), json!("-"));
        m.insert(
            "event".into(),
            json!(match event {
                OrderEvent::Put => "put",
                OrderEvent::Update => "update",
                OrderEvent::Finish => "finish",
            }),
        );
        m.remove("status");
        m.remove("gt_discount");
        m.remove("gt_maker_fee");
        m.remove("gt_taker_fee");
    }
    v
}

/// A futures order; `ws` selects the push's JSON types (numbers, string user).
pub fn futures_order_json(si: &SimInstrument, o: &Order, uid: u64, ws: bool) -> Value {
    let sign = o.side.sign();
    let size = si.contracts(o.qty) * sign;
    let left = si.contracts(o.left) * sign;
    let fill = si.inst.price_from_amount(o.avg_price(&si.inst), Rounding::Floor).unwrap_or(Price::ZERO);
    let price = si.price_text(o.price);
    let fill = si.price_text(fill);
    let (mk, tk) = (si.inst.maker_fee.to_string(), si.inst.taker_fee.to_string());
    let mut v = json!({
        "id": o.id,
        "contract": si.listing.symbol,
        "size": size,
        "iceberg": 0,
        "left": left,
        "tif": tif_name(o.tif),
        "refu": 0,
        "is_reduce_only": o.reduce_only,
        "is_close": false,
        "is_liq": false,
        "text": o.text,
        "status": if o.is_open() { "open" } else { "finished" },
        "finish_as": finish_as(o, true),
        "stp_id": 0,
        "stp_act": "-",
        "amend_text": "-",
        "biz_info": "-",
        "update_id": o.update_id,
    });
    if let Some(m) = v.as_object_mut() {
        if ws {
            m.insert("price".into(), num(&price));
            m.insert("fill_price".into(), num(&fill));
            m.insert("mkfr".into(), num(&mk));
            m.insert("tkfr".into(), num(&tk));
            m.insert("refr".into(), json!(0));
            m.insert("user".into(), json!(uid.to_string()));
            m.insert("create_time".into(), json!(o.create_ms / 1000));
            m.insert("create_time_ms".into(), json!(o.create_ms));
            m.insert("finish_time".into(), json!(o.update_ms / 1000));
            m.insert("finish_time_ms".into(), json!(o.update_ms));
            // The 2024 push sends stp_id as a string, REST as a number.
            m.insert("stp_id".into(), json!("0"));
            m.insert("stop_loss_price".into(), json!(""));
            m.insert("stop_profit_price".into(), json!(""));
        } else {
            m.insert("price".into(), json!(price));
            m.insert("fill_price".into(), json!(fill));
            m.insert("mkfr".into(), json!(mk));
            m.insert("tkfr".into(), json!(tk));
            m.insert("refr".into(), json!("0"));
            m.insert("user".into(), json!(uid));
            m.insert("create_time".into(), secs_ms(o.create_ms));
            m.insert("update_time".into(), secs_ms(o.update_ms));
            if !o.is_open() {
                m.insert("finish_time".into(), secs_ms(o.update_ms));
            }
            m.insert("pnl".into(), json!("0"));
            m.insert("pnl_margin".into(), json!("0"));
        }
    }
    v
}

fn spot_pair_json(si: &SimInstrument) -> Value {
    let l = &si.listing;
    let fee_pct = si.inst.taker_fee.0 as i128 * 100;
    json!({
        "id": l.symbol,
        "base": l.base,
        "base_name": l.base,
        "quote": l.quote,
        "quote_name": l.quote,
        "fee": pipeline::types::Scaled::new(fee_pct, 9).to_string(),
        "min_base_amount": l.min_qty,
        "min_quote_amount": l.min_notional,
        "max_base_amount": l.max_qty,
        "max_quote_amount": "5000000",
        "amount_precision": l.qty_decimals,
        "precision": l.price_decimals,
        "trade_status": "tradable",
        "sell_start": 0,
        "buy_start": 0,
        "delisting_time": 0,
        "type": "normal",
        "up_rate": "0.08",
        "down_rate": "0.08",
        "slippage": "0.03",
        "market_order_max_stock": l.max_qty,
        "market_order_max_money": "5000000",
        "trade_url": format!("https://www.gate.com/trade/{}", l.symbol),
        "st_tag": false,
    })
}

fn mark_price(x: &Exchange, inst: usize) -> Price {
    match x.best(inst) {
        (Some(b), Some(a)) => Price((b.price.0 + a.price.0) / 2),
        (Some(b), None) => b.price,
        (None, Some(a)) => a.price,
        (None, None) => Price::ZERO,
    }
}

fn contract_json(x: &Exchange, inst: usize) -> Value {
    let si = &x.instruments[inst];
    let l = &si.listing;
    let mark = si.price_text(mark_price(x, inst));
    let mut v = json!({
        "name": l.symbol,
        "type": "direct",
        "quanto_multiplier": l.contract_size,
        "ref_discount_rate": "0",
        "order_price_deviate": "0.5",
        "maintenance_rate": "0.005",
        "mark_type": "index",
        "last_price": mark,
        "mark_price": mark,
        "index_price": mark,
        "funding_rate_indicative": "0.0001",
        "mark_price_round": si.listing.tick(),
        "funding_offset": 0,
        "in_delisting": false,
        "risk_limit_base": "1000000",
        "interest_rate": "0.0003",
        "order_price_round": si.listing.tick(),
        "order_size_min": l.min_qty.parse::<i64>().unwrap_or(1),
        "ref_rebate_rate": "0.2",
        "funding_interval": 28800,
        "risk_limit_step": "1000000",
        "leverage_min": "1",
        "leverage_max": "100",
        "risk_limit_max": "8000000",
        "maker_fee_rate": l.maker_fee,
        "taker_fee_rate": l.taker_fee,
    });
    let more = json!({
        "funding_rate": "0.0001",
        "order_size_max": l.max_qty.parse::<i64>().unwrap_or(1_000_000),
        "funding_next_apply": (now_ms() / 1000 / 28800 + 1) * 28800,
        "short_users": 0,
        "config_change_time": 1_609_899_548,
        "trade_size": 0,
        "position_size": 0,
        "long_users": 0,
        "funding_impact_value": "60000",
        "orders_limit": 50,
        "trade_id": 0,
        "orderbook_id": 0,
        "enable_bonus": false,
        "enable_credit": true,
        "create_time": 1_669_688_556,
        "funding_cap_ratio": "0.75",
        "status": "trading",
        "launch_time": 1_609_899_548,
        "cross_leverage_default": "10",
        "voucher_leverage": "2",
    });
    if let (Some(m), Value::Object(more)) = (v.as_object_mut(), more) {
        m.extend(more);
    }
    v
}

fn position_json(x: &Exchange, inst: usize, uid: u64) -> Value {
    let si = &x.instruments[inst];
    let acct = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
    let p = acct.positions.get(&inst).copied().unwrap_or_default();
    let base = si.inst.base_amount(Qty(p.size.0.abs())).unwrap_or(Amount::ZERO);
    let entry = if base.is_zero() {
        Amount::ZERO
    } else {
        p.cost.abs().div(base, Rounding::Floor).unwrap_or(Amount::ZERO)
    };
    let mark = mark_price(x, inst);
    let value = si.inst.notional(mark, Qty(p.size.0.abs()), Rounding::Floor).unwrap_or(Amount::ZERO);
    let upnl = if p.size.0 >= 0 { value - p.cost } else { -value - p.cost };
    let open_orders = x.orders_of(USER, Some(inst), true).len();
    json!({
        "user": uid,
        "contract": si.listing.symbol,
        "size": si.contracts(p.size),
        "leverage": "10",
        "risk_limit": "1000000",
        "leverage_max": "100",
        "maintenance_rate": "0.005",
        "value": amt(value),
        "margin": amt(Amount(p.cost.0.abs() / super::engine::LEVERAGE)),
        "entry_price": amt(entry),
        "liq_price": "0",
        "mark_price": si.price_text(mark),
        "unrealised_pnl": amt(upnl),
        "realised_pnl": amt(p.realised),
        "pnl_pnl": amt(p.realised),
        "pnl_fund": "0",
        "pnl_fee": "0",
        "history_pnl": amt(p.realised),
        "last_close_pnl": "0",
        "realised_point": "0",
        "history_point": "0",
        "adl_ranking": 5,
        "pending_orders": open_orders,
        "close_order": null,
        "mode": "single",
        "update_time": now_ms() / 1000,
        "update_id": 1,
        "cross_leverage_limit": "0",
    })
}

fn futures_account_json(x: &Exchange, uid: u64) -> Value {
    let fa = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
    let fees = -x.fee_pool.get("USDT:futures").copied().unwrap_or_default();
    json!({
        "user": uid,
        "currency": "USDT",
        "total": amt(fa.balance),
        "unrealised_pnl": "0",
        "position_margin": amt(fa.position_margin()),
        "order_margin": amt(fa.order_margin),
        "available": amt(fa.available()),
        "point": "0",
        "bonus": "0",
        "in_dual_mode": false,
        "enable_evolved_classic": false,
        "cross_initial_margin": "0",
        "cross_maintenance_margin": "0",
        "cross_order_margin": "0",
        "cross_unrealised_pnl": "0",
        "cross_available": amt(fa.available()),
        "isolated_position_margin": amt(fa.position_margin()),
        "margin_mode": 0,
        "margin_mode_name": "classic",
        "enable_credit": false,
        "enable_new_dual_mode": false,
        "maintenance_margin": "0",
        "position_initial_margin": amt(fa.position_margin()),
        "update_time": now_ms() / 1000,
        "update_id": 1,
        "history": {"dnw": "0", "pnl": "0", "fee": amt(fees), "refr": "0", "fund": "0", "cross_settle": "0",
                    "point_dnw": "0", "point_fee": "0", "point_refr": "0", "bonus_dnw": "0", "bonus_offset": "0"},
    })
}

fn spot_levels(si: &SimInstrument, levels: &[LevelView]) -> Value {
    Value::Array(levels.iter().map(|l| json!([si.price_text(l.price), si.qty_text(l.qty)])).collect())
}

fn futures_levels(si: &SimInstrument, levels: &[LevelView]) -> Value {
    Value::Array(
        levels.iter().map(|l| json!({"p": si.price_text(l.price), "s": si.contracts(l.qty)})).collect(),
    )
}

/// Parses a spot order body (REST `POST /spot/orders`, WS `spot.order_place`).
fn parse_spot_order(x: &Exchange, b: &Value) -> Result<OrderRequest, GateErr> {
    let bad = |field: &str, v: &Value| {
        (
            400,
            "INVALID_PARAM_VALUE",
            format!("Invalid parameter `{field}` with value: {}", text_of(v).unwrap_or_default()),
        )
    };
    let pair = b.get("currency_pair").and_then(Value::as_str).unwrap_or("");
    let inst = x
        .find(Market::Spot, pair)
        .ok_or_else(|| (400, "INVALID_CURRENCY_PAIR", format!("Invalid currency pair {pair}")))?;
    let si = &x.instruments[inst];
    let side = match b.get("side").and_then(Value::as_str) {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        _ => return Err(bad("side", b.get("side").unwrap_or(&Value::Null))),
    };
    let kind = match b.get("type").and_then(Value::as_str).unwrap_or("limit") {
        "limit" => OrderKind::Limit,
        "market" => OrderKind::Market,
        _ => return Err(bad("type", &b["type"])),
    };
    let tif_text = b.get("time_in_force").and_then(Value::as_str).unwrap_or(match kind {
        OrderKind::Limit => "gtc",
        OrderKind::Market => "ioc",
    });
    let tif = parse_tif(tif_text).ok_or_else(|| bad("time_in_force", &b["time_in_force"]))?;
    if kind == OrderKind::Market && !matches!(tif, Tif::Ioc | Tif::Fok) {
        return Err((400, "INVALID_ARGUMENT", "market order without IOC or FOK".into()));
    }
    let amount = b.get("amount").unwrap_or(&Value::Null);
    let (qty, quote_qty) = if kind == OrderKind::Market && side == Side::Buy {
        let q = text_of(amount).and_then(|t| Amount::parse(&t).ok()).ok_or_else(|| bad("amount", amount))?;
        (Qty::ZERO, Some(q))
    } else {
        (json_qty(amount, si).ok_or_else(|| bad("amount", amount))?, None)
    };
    let price = match kind {
        OrderKind::Limit => {
            let p = b.get("price").unwrap_or(&Value::Null);
            json_price(p, si).ok_or_else(|| bad("price", p))?
        }
        OrderKind::Market => Price::ZERO,
    };
    let text = b.get("text").and_then(Value::as_str).unwrap_or("apiv4").to_owned();
    Ok(OrderRequest { inst, side, kind, tif, price, qty, quote_qty, text, reduce_only: false })
}

/// Parses a futures order body (REST `POST /futures/usdt/orders`, WS `futures.order_place`).
fn parse_futures_order(x: &Exchange, b: &Value) -> Result<OrderRequest, GateErr> {
    let bad = |field: &str, v: &Value| {
        (
            400,
            "INVALID_PARAM_VALUE",
            format!("Invalid parameter `{field}` with value: {}", text_of(v).unwrap_or_default()),
        )
    };
    let c = b.get("contract").and_then(Value::as_str).unwrap_or("");
    let inst = x
        .find(Market::Futures, c)
        .ok_or_else(|| (400, "CONTRACT_NOT_FOUND", format!("contract {c} not found")))?;
    let si = &x.instruments[inst];
    let size_v = b.get("size").unwrap_or(&Value::Null);
    let mut size: i64 = text_of(size_v).and_then(|t| t.parse().ok()).ok_or_else(|| bad("size", size_v))?;
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
        return Err(bad("size", size_v));
    }
    let side = if size > 0 { Side::Buy } else { Side::Sell };
    let qty = si.from_contracts(size.abs()).ok_or_else(|| bad("size", size_v))?;
    let p = b.get("price").unwrap_or(&Value::Null);
    let price = json_price(p, si).ok_or_else(|| bad("price", p))?;
    let tif_text = b.get("tif").and_then(Value::as_str).unwrap_or("gtc");
    let tif = parse_tif(tif_text).ok_or_else(|| bad("tif", &b["tif"]))?;
    let kind = if price.is_zero() { OrderKind::Market } else { OrderKind::Limit };
    if kind == OrderKind::Market && !matches!(tif, Tif::Ioc | Tif::Fok) {
        return Err((400, "INVALID_PARAM_VALUE", "market order must be ioc".into()));
    }
    let text = b.get("text").and_then(Value::as_str).unwrap_or("api").to_owned();
    Ok(OrderRequest { inst, side, kind, tif, price, qty, quote_qty: None, text, reduce_only })
}

/// Places an order parsed from a Gate body; returns the venue's order JSON.
fn place(ctx: &VenueCtx, market: Market, body: &Value) -> Result<Value, GateErr> {
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

fn order_not_found() -> Response {
    Response::json(404, r#"{"label":"ORDER_NOT_FOUND"}"#)
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The Gate REST server for one request, with Gate's timing and rate-limit headers.
pub fn rest(ctx: &VenueCtx, req: &Request) -> Response {
    let in_us = now_us();
    let mut r = rest_inner(ctx, req);
    let trace = format!("{:032x}", u128::from(in_us).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    r.headers.extend([
        ("X-In-Time".to_owned(), in_us.to_string()),
        ("X-Out-Time".to_owned(), now_us().to_string()),
        ("X-Gate-Trace-ID".to_owned(), trace),
        ("X-Gate-RateLimit-Requests-Remain".to_owned(), "199".to_owned()),
        ("X-Gate-RateLimit-Limit".to_owned(), "200".to_owned()),
        ("X-Gate-RateLimit-Reset-Timestamp".to_owned(), (in_us / 1000 + 1000).to_string()),
    ]);
    r
}

fn rest_inner(ctx: &VenueCtx, req: &Request) -> Response {
    ctx.delay();
    let Some(path) = req.path.strip_prefix("/api/v4") else {
        return err(404, "NOT_FOUND", "not found");
    };
    let method = req.method.as_str();
    let q = |k: &str| req.param(k);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Public endpoints.
    match (method, parts.as_slice()) {
        ("GET", ["spot", "time"]) => return ok(json!({"server_time": now_ms()})),
        ("GET", ["spot", "currency_pairs"]) => {
            let x = ctx.lock();
            let v: Vec<Value> =
                x.instruments.iter().filter(|i| !i.is_futures()).map(spot_pair_json).collect();
            return ok(Value::Array(v));
        }
        ("GET", ["spot", "currency_pairs", pair]) => {
            let x = ctx.lock();
            return match x.find(Market::Spot, pair) {
                Some(i) => ok(spot_pair_json(&x.instruments[i])),
                None => err(400, "INVALID_CURRENCY_PAIR", &format!("Invalid currency pair {pair}")),
            };
        }
        ("GET", ["spot", "order_book"]) | ("GET", ["futures", "usdt", "order_book"]) => {
            let futures = parts[0] == "futures";
            let key = if futures { "contract" } else { "currency_pair" };
            let sym = q(key).unwrap_or_default();
            let limit = q("limit").and_then(|l| l.parse().ok()).unwrap_or(10usize).clamp(1, 1000);
            let with_id = q("with_id").is_some_and(|v| v == "true");
            let x = ctx.lock();
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
                json!({"current": now, "update": now, "asks": spot_levels(si, &s.asks), "bids": spot_levels(si, &s.bids)})
            };
            if let (true, Some(m)) = (with_id, v.as_object_mut()) {
                m.insert("id".into(), json!(s.seq));
            }
            return ok(v);
        }
        ("GET", ["spot", "tickers"]) | ("GET", ["futures", "usdt", "tickers"]) => {
            let futures = parts[0] == "futures";
            let x = ctx.lock();
            let want = q(if futures { "contract" } else { "currency_pair" });
            let v: Vec<Value> = (0..x.instruments.len())
                .filter(|&i| x.instruments[i].is_futures() == futures)
                .filter(|&i| want.as_deref().is_none_or(|w| w == x.instruments[i].listing.symbol))
                .map(|i| {
                    let si = &x.instruments[i];
                    let (b, a) = x.best(i);
                    let bp = b.map(|l| si.price_text(l.price)).unwrap_or_default();
                    let ap = a.map(|l| si.price_text(l.price)).unwrap_or_default();
                    let last = si.price_text(mark_price(&x, i));
                    if futures {
                        json!({"contract": si.listing.symbol, "last": last, "lowest_ask": ap, "highest_bid": bp,
                               "change_percentage": "0", "total_size": "0", "volume_24h": "0", "volume_24h_base": "0",
                               "volume_24h_quote": "0", "volume_24h_settle": "0", "mark_price": last,
                               "funding_rate": "0.0001", "funding_rate_indicative": "0.0001", "index_price": last,
                               "low_24h": last, "high_24h": last, "quanto_multiplier": si.listing.contract_size})
                    } else {
                        json!({"currency_pair": si.listing.symbol, "last": last, "lowest_ask": ap, "highest_bid": bp,
                               "change_percentage": "0", "base_volume": "0", "quote_volume": "0",
                               "high_24h": last, "low_24h": last})
                    }
                })
                .collect();
            return ok(Value::Array(v));
        }
        ("GET", ["spot", "currencies"]) => {
            let x = ctx.lock();
            let mut names: Vec<&str> =
                x.instruments.iter().flat_map(|i| [i.listing.base, i.listing.quote]).collect();
            names.sort_unstable();
            names.dedup();
            let v: Vec<Value> = names
                .into_iter()
                .map(|c| {
                    json!({"currency": c, "name": c, "delisted": false, "withdraw_disabled": false,
                           "withdraw_delayed": false, "deposit_disabled": false, "trade_disabled": false,
                           "fixed_rate": "", "chain": "ETH", "chains": []})
                })
                .collect();
            return ok(Value::Array(v));
        }
        // Markets the sim does not list: empty, as for a venue without them.
        ("GET", ["margin", "currency_pairs"])
        | ("GET", ["futures", "btc", "contracts"])
        | ("GET", ["delivery", _, "contracts"])
        | ("GET", ["options", "underlyings"]) => return ok(json!([])),
        ("GET", ["futures", "usdt", "contracts"]) => {
            let x = ctx.lock();
            let v: Vec<Value> = (0..x.instruments.len())
                .filter(|&i| x.instruments[i].is_futures())
                .map(|i| contract_json(&x, i))
                .collect();
            return ok(Value::Array(v));
        }
        ("GET", ["futures", "usdt", "contracts", c]) => {
            let x = ctx.lock();
            return match x.find(Market::Futures, c) {
                Some(i) => ok(contract_json(&x, i)),
                None => err(400, "CONTRACT_NOT_FOUND", &format!("contract {c} not found")),
            };
        }
        _ => {}
    }
    // Everything else is private.
    if let Err(e) = verify_gate_rest(
        &ctx.creds,
        method,
        &req.path,
        &req.query,
        &req.body,
        req.header("KEY"),
        req.header("Timestamp"),
        req.header("SIGN"),
        now_ms(),
    ) {
        let (label, message) = e.label();
        return err(401, label, message);
    }
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return err(400, "INVALID_REQUEST_BODY", "request body is not valid JSON"),
        }
    };
    let uid = ctx.uid;
    match (method, parts.as_slice()) {
        ("GET", ["spot", "accounts"]) => {
            let x = ctx.lock();
            let want = q("currency");
            let a = x.account(USER).cloned().unwrap_or_default();
            let v: Vec<Value> = a
                .spot
                .iter()
                .filter(|(c, _)| want.as_deref().is_none_or(|w| w == c.as_str()))
                .map(|(c, b)| json!({"currency": c, "available": amt(b.available), "locked": amt(b.locked), "update_id": 1}))
                .collect();
            ok(Value::Array(v))
        }
        ("GET", ["account", "detail"]) => {
            ok(json!({"user_id": uid, "ip_whitelist": [], "currency_pairs": [],
                                                    "key": {"mode": 1}, "tier": 0, "tier_expire_time": "0001-01-01T00:00:00Z",
                                                    "copy_trading_role": 0}))
        }
        ("GET", ["spot", "fee"]) => {
            let x = ctx.lock();
            let s = x.instruments.iter().find(|i| !i.is_futures());
            let f = x.instruments.iter().find(|i| i.is_futures());
            let r = |o: Option<&SimInstrument>, maker: bool| {
                o.map(|i| if maker { i.inst.maker_fee } else { i.inst.taker_fee }.to_string())
                    .unwrap_or_default()
            };
            ok(
                json!({"user_id": uid, "taker_fee": r(s, false), "maker_fee": r(s, true), "gt_discount": false,
                      "gt_taker_fee": "0", "gt_maker_fee": "0", "loan_fee": "0.18", "point_type": "1",
                      "futures_taker_fee": r(f, false), "futures_maker_fee": r(f, true), "delivery_taker_fee": "0",
                      "delivery_maker_fee": "0", "debit_fee": 3}),
            )
        }
        ("POST", ["spot", "orders"]) | ("POST", ["futures", "usdt", "orders"]) => {
            let market = if parts[0] == "futures" { Market::Futures } else { Market::Spot };
            ctx.ack_delay();
            match place(ctx, market, &body) {
                Ok(v) => Response::json(201, v.to_string()),
                Err(e) => gate_err(e),
            }
        }
        ("GET", ["spot", "orders"]) | ("GET", ["futures", "usdt", "orders"]) => {
            let futures = parts[0] == "futures";
            let x = ctx.lock();
            let (key, market) =
                if futures { ("contract", Market::Futures) } else { ("currency_pair", Market::Spot) };
            let inst = match q(key) {
                Some(s) => match x.find(market, &s) {
                    Some(i) => Some(i),
                    None => return err(400, "INVALID_CURRENCY_PAIR", &format!("Invalid currency pair {s}")),
                },
                None if futures => None,
                None => {
                    return err(400, "MISSING_REQUIRED_PARAM", "Missing required parameter: currency_pair");
                }
            };
            let open = q("status").is_none_or(|s| s == "open");
            let v: Vec<Value> = x
                .orders_of(USER, inst, false)
                .iter()
                .filter(|o| x.instruments[o.inst].is_futures() == futures && o.is_open() == open)
                .map(|o| {
                    let si = &x.instruments[o.inst];
                    if futures { futures_order_json(si, o, uid, false) } else { spot_order_json(si, o) }
                })
                .collect();
            ok(Value::Array(v))
        }
        ("GET", ["spot", "open_orders"]) => {
            let x = ctx.lock();
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
        ("DELETE", ["spot", "orders"]) | ("DELETE", ["futures", "usdt", "orders"]) => {
            let futures = parts[0] == "futures";
            let mut x = ctx.lock();
            let (key, market) =
                if futures { ("contract", Market::Futures) } else { ("currency_pair", Market::Spot) };
            let inst = match q(key).and_then(|s| x.find(market, &s)) {
                Some(i) => i,
                None => return err(400, "INVALID_PARAM_VALUE", &format!("Invalid parameter `{key}`")),
            };
            let side = q("side");
            let ids: Vec<u64> = x
                .orders_of(USER, Some(inst), true)
                .iter()
                .filter(|o| side.as_deref().is_none_or(|s| s == o.side.name()))
                .map(|o| o.id)
                .collect();
            let mut v = Vec::new();
            for id in ids {
                if let Some(o) = x.cancel(USER, id) {
                    let si = &x.instruments[o.inst];
                    v.push(if futures {
                        futures_order_json(si, &o, uid, false)
                    } else {
                        spot_order_json(si, &o)
                    });
                }
            }
            ok(Value::Array(v))
        }
        (m @ ("GET" | "DELETE"), ["spot", "orders", id])
        | (m @ ("GET" | "DELETE"), ["futures", "usdt", "orders", id]) => {
            let futures = parts[0] == "futures";
            let mut x = ctx.lock();
            // The venue id, or the custom `t-` text: Gate accepts the text while the order
            // is open and for 60 s after it finished.
            let id = match id.parse::<u64>() {
                Ok(id) => id,
                Err(_) if id.starts_with("t-") => {
                    let now = now_ms();
                    let found = x.orders_of(USER, None, false).into_iter().rev().find(|o| {
                        o.text == *id
                            && x.instruments[o.inst].is_futures() == futures
                            && (o.is_open() || now.saturating_sub(o.update_ms) <= 60_000)
                    });
                    match found {
                        Some(o) => o.id,
                        None => return order_not_found(),
                    }
                }
                Err(_) => return order_not_found(),
            };
            let found = x
                .order(id)
                .filter(|o| o.account == USER && x.instruments[o.inst].is_futures() == futures)
                .cloned();
            let Some(o) = found else { return order_not_found() };
            if !futures && q("currency_pair").is_some_and(|p| p != x.instruments[o.inst].listing.symbol) {
                return order_not_found();
            }
            let o = if m == "DELETE" {
                match x.cancel(USER, id) {
                    Some(o) => o,
                    None => return order_not_found(),
                }
            } else {
                o
            };
            let si = &x.instruments[o.inst];
            ok(if futures { futures_order_json(si, &o, uid, false) } else { spot_order_json(si, &o) })
        }
        ("GET", ["futures", "usdt", "accounts"]) => ok(futures_account_json(&ctx.lock(), uid)),
        ("GET", ["futures", "usdt", "positions"]) => {
            let x = ctx.lock();
            let a = x.account(USER).cloned().unwrap_or_default();
            let v: Vec<Value> = a.futures.positions.keys().map(|&i| position_json(&x, i, uid)).collect();
            ok(Value::Array(v))
        }
        ("GET", ["futures", "usdt", "positions", c]) => {
            let x = ctx.lock();
            match x.find(Market::Futures, c) {
                Some(i) => ok(position_json(&x, i, uid)),
                None => err(400, "CONTRACT_NOT_FOUND", &format!("contract {c} not found")),
            }
        }
        ("POST", ["futures", "usdt", "positions", c, "leverage"]) => {
            let x = ctx.lock();
            match x.find(Market::Futures, c) {
                Some(i) => ok(position_json(&x, i, uid)),
                None => err(400, "CONTRACT_NOT_FOUND", &format!("contract {c} not found")),
            }
        }
        ("GET", ["futures", "usdt", "fee"]) => {
            let x = ctx.lock();
            let mut m = serde_json::Map::new();
            for si in x.instruments.iter().filter(|i| i.is_futures()) {
                m.insert(
                    si.listing.symbol.into(),
                    json!({"taker_fee": si.listing.taker_fee, "maker_fee": si.listing.maker_fee}),
                );
            }
            ok(Value::Object(m))
        }
        _ => err(404, "NOT_FOUND", &format!("{method} {} not found", req.path)),
    }
}

/// Serves Gate REST on one connection.
pub fn serve_rest(ctx: Arc<VenueCtx>, stream: Stream) {
    serve_http(stream, &ctx.stop.clone(), &|r| rest(&ctx, r));
}

/// Serves one Gate WebSocket connection (spot or futures).
pub fn serve_ws(ctx: Arc<VenueCtx>, market: Market, stream: Stream) {
    let Some((ws, _)) = accept_ws(stream, &|_| Ok(())) else { return };
    let feed = ctx.feed();
    let cfg = ctx.ws_loop();
    let mut s = GateSession::new(ctx, market, cfg.conn_no);
    run_ws(ws, feed, &mut s, &cfg);
}

/// One Gate WebSocket connection's subscriptions.
#[derive(Debug)]
struct GateSession {
    ctx: Arc<VenueCtx>,
    market: Market,
    prefix: &'static str,
    conn_id: String,
    /// Public subscriptions: (channel suffix, instrument).
    subs: BTreeSet<(&'static str, usize)>,
    /// obu subscriptions: instrument -> (levels, last update id sent).
    obu: BTreeMap<usize, (usize, u64)>,
    /// Private subscriptions: channel suffix -> instruments (None = all).
    private: BTreeMap<&'static str, Option<BTreeSet<usize>>>,
    logged_in: bool,
}

const PUBLIC: [&str; 4] = ["order_book_update", "obu", "book_ticker", "trades"];
const PRIVATE_SPOT: [&str; 3] = ["orders", "usertrades", "balances"];
const PRIVATE_FUT: [&str; 4] = ["orders", "usertrades", "positions", "balances"];

impl GateSession {
    fn new(ctx: Arc<VenueCtx>, market: Market, conn_no: u64) -> Self {
        let conn_id =
            format!("{:016x}", 0x5e74_253e_9c79_3974u64 ^ (conn_no.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        GateSession {
            ctx,
            market,
            prefix: if market == Market::Spot { "spot" } else { "futures" },
            conn_id,
            subs: BTreeSet::new(),
            obu: BTreeMap::new(),
            private: BTreeMap::new(),
            logged_in: false,
        }
    }

    fn push(&self, out: &mut Outbox, channel: &str, result: Value) {
        let now = now_ms();
        let v = json!({"time": now / 1000, "time_ms": now, "channel": format!("{}.{channel}", self.prefix),
                       "event": "update", "result": result});
        out.text(v.to_string());
    }

    fn ack(&self, out: &mut Outbox, req: &Value, error: Option<(i64, String)>) {
        let now = now_ms();
        let mut v = json!({
            "time": now / 1000,
            "time_ms": now,
            "conn_id": self.conn_id,
            "trace_id": format!("{:032x}", now as u128 * 0x1000_0001),
            "channel": req.get("channel").cloned().unwrap_or(Value::Null),
            "event": req.get("event").cloned().unwrap_or(Value::Null),
            "payload": req.get("payload").cloned().unwrap_or(json!([])),
        });
        if let Some(m) = v.as_object_mut() {
            if let Some(id) = req.get("id") {
                m.insert("id".into(), id.clone());
            }
            match error {
                None => {
                    m.insert("result".into(), json!({"status": "success"}));
                }
                Some((code, message)) => {
                    m.insert("error".into(), json!({"code": code, "message": message}));
                    m.insert("result".into(), json!({"status": "fail"}));
                }
            }
        }
        out.text(v.to_string());
    }

    fn find(&self, x: &Exchange, sym: &str) -> Option<usize> {
        x.find(self.market, sym)
    }

    fn subscribe(&mut self, req: &Value, out: &mut Outbox) {
        let channel = req.get("channel").and_then(Value::as_str).unwrap_or("");
        let event = req.get("event").and_then(Value::as_str).unwrap_or("");
        let unsub = event == "unsubscribe";
        let Some(name) = channel.strip_prefix(self.prefix).and_then(|c| c.strip_prefix('.')) else {
            return self.ack(out, req, Some((2, format!("Unknown channel {channel}"))));
        };
        let payload: Vec<String> = req
            .get("payload")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(text_of).collect())
            .unwrap_or_default();
        if let Some(&pubname) = PUBLIC.iter().find(|&&c| c == name) {
            let x = self.ctx.lock();
            let syms: Vec<String> = match pubname {
                "order_book_update" => payload.first().cloned().into_iter().collect(),
                "obu" => payload.clone(),
                _ => payload.clone(),
            };
            let mut insts = Vec::new();
            for s in &syms {
                let (sym, levels) = if pubname == "obu" {
                    let mut it = s.split('.');
                    match (it.next(), it.next(), it.next()) {
                        (Some("ob"), Some(sym), Some(l)) => {
                            (sym.to_owned(), l.parse::<usize>().unwrap_or(50))
                        }
                        _ => return self.ack(out, req, Some((2, format!("invalid payload {s}")))),
                    }
                } else {
                    (s.clone(), 0)
                };
                match self.find(&x, &sym) {
                    Some(i) => insts.push((i, levels)),
                    // Gate futures.obu answers success for an unknown contract and stays silent.
                    None if self.market == Market::Futures && pubname == "obu" => {}
                    None => {
                        let what = if self.market == Market::Spot { "currency pair" } else { "contract" };
                        return self.ack(out, req, Some((2, format!("unknown {what}: {sym}"))));
                    }
                }
            }
            if syms.is_empty() {
                return self.ack(out, req, Some((2, "invalid argument: payload".into())));
            }
            if pubname == "obu" && !unsub && insts.iter().any(|(i, _)| self.obu.contains_key(i)) {
                let s = syms.first().cloned().unwrap_or_default();
                return self.ack(out, req, Some((2, format!("Alert sub {s}"))));
            }
            self.ack(out, req, None);
            for (i, levels) in insts {
                if unsub {
                    self.subs.remove(&(pubname, i));
                    self.obu.remove(&i);
                    continue;
                }
                if pubname == "obu" {
                    // The first push is the full book; deltas continue from its id.
                    let snap = x.snapshot(i, levels);
                    let si = &x.instruments[i];
                    let lv = |ls: &[LevelView]| -> Value {
                        Value::Array(
                            ls.iter().map(|l| json!([si.price_text(l.price), si.qty_text(l.qty)])).collect(),
                        )
                    };
                    let now = now_ms();
                    self.push(
                        out,
                        "obu",
                        json!({"t": now, "full": true, "s": format!("ob.{}.{levels}", si.listing.symbol),
                               "u": snap.seq, "b": lv(&snap.bids), "a": lv(&snap.asks)}),
                    );
                    self.obu.insert(i, (levels, snap.seq));
                } else {
                    self.subs.insert((pubname, i));
                }
            }
            return;
        }
        let private: &[&'static str] = if self.market == Market::Spot { &PRIVATE_SPOT } else { &PRIVATE_FUT };
        let Some(&privname) = private.iter().find(|&&c| c == name) else {
            return self.ack(out, req, Some((2, format!("Unknown channel {channel}"))));
        };
        // Private channels need `auth` on every subscribe.
        let auth = req.get("auth");
        let key = auth.and_then(|a| a.get("KEY")).and_then(Value::as_str).unwrap_or("");
        let sign = auth.and_then(|a| a.get("SIGN")).and_then(Value::as_str).unwrap_or("");
        let time = req.get("time").and_then(Value::as_i64).unwrap_or(0);
        if !verify_gate_channel(&self.ctx.creds, channel, event, time, key, sign) {
            return self.ack(out, req, Some((4, "signature not valid".into())));
        }
        if (time - (now_ms() / 1000) as i64).abs() > 60 {
            return self.ack(out, req, Some((4, "request time expired".into())));
        }
        // Spot: [pairs..] or ["!all"]; futures: [user id, contract or "!all"]; balances: none.
        let syms: Vec<&String> = if self.market == Market::Futures {
            payload.iter().skip(1).collect()
        } else {
            payload.iter().collect()
        };
        let filter = if privname == "balances" || syms.is_empty() || syms.iter().any(|s| s.as_str() == "!all")
        {
            None
        } else {
            let x = self.ctx.lock();
            let mut set = BTreeSet::new();
            for s in syms {
                match self.find(&x, s) {
                    Some(i) => {
                        set.insert(i);
                    }
                    None => {
                        drop(x);
                        return self.ack(out, req, Some((2, format!("unknown currency pair: {s}"))));
                    }
                }
            }
            Some(set)
        };
        self.ack(out, req, None);
        if unsub {
            self.private.remove(privname);
        } else {
            self.private.insert(privname, filter);
        }
    }

    fn wants(&self, channel: &str, inst: Option<usize>) -> bool {
        match self.private.get(channel) {
            None => false,
            Some(None) => true,
            Some(Some(set)) => inst.is_some_and(|i| set.contains(&i)),
        }
    }

    /// The WebSocket trading API: login, order_place, order_cancel, order_status.
    fn api(&mut self, req: &Value, out: &mut Outbox) {
        let channel = req.get("channel").and_then(Value::as_str).unwrap_or("").to_owned();
        let payload = req.get("payload").cloned().unwrap_or(Value::Null);
        let req_id = payload.get("req_id").cloned().unwrap_or(json!(""));
        let header = |status: &str| {
            let now = now_ms();
            json!({"response_time": now.to_string(), "status": status, "channel": channel, "event": "api",
                   "client_id": format!("127.0.0.1-0x{}", self.conn_id), "conn_id": self.conn_id,
                   "trace_id": format!("{:032x}", now as u128 * 0x1000_0003),
                   "x_in_time": now * 1000, "x_out_time": now * 1000 + 90,
                   "x_gate_ratelimit_requests_remain": 99, "x_gate_ratelimit_limit": 100,
                   "x_gat_ratelimit_reset_timestamp": now + 1000})
        };
        let error = |out: &mut Outbox, status: &str, label: &str, message: &str| {
            let v = json!({"request_id": req_id, "ack": false, "header": header(status),
                           "data": {"errs": {"label": label, "message": message}}});
            out.text(v.to_string());
        };
        let Some(op) = channel.strip_prefix(self.prefix).and_then(|c| c.strip_prefix('.')) else {
            return error(out, "400", "INVALID_ARGUMENT", &format!("Unknown channel {channel}"));
        };
        let key = payload.get("api_key").and_then(Value::as_str).unwrap_or("");
        let sig = payload.get("signature").and_then(Value::as_str).unwrap_or("");
        let ts = payload.get("timestamp").and_then(text_of).unwrap_or_default();
        if op == "login" {
            // The documented form signs an empty req_param; clients that send one (`{}`,
            // `null`, `""`) sign what they send.
            let sent = payload.get("req_param").map(Value::to_string);
            let ok = verify_gate_api(&self.ctx.creds, &channel, "", &ts, key, sig)
                || sent.is_some_and(|p| verify_gate_api(&self.ctx.creds, &channel, &p, &ts, key, sig));
            let fresh = ts.parse::<i64>().is_ok_and(|t| (t - (now_ms() / 1000) as i64).abs() <= 60);
            if !ok {
                let label = if key != self.ctx.creds.api_key { "INVALID_KEY" } else { "INVALID_SIGNATURE" };
                let msg = if label == "INVALID_KEY" { "Invalid key provided" } else { "Signature mismatch" };
                return error(out, "401", label, msg);
            }
            if !fresh {
                return error(
                    out,
                    "401",
                    "REQUEST_EXPIRED",
                    "gap between request Timestamp and server time exceeds 60",
                );
            }
            self.logged_in = true;
            let v = json!({"request_id": req_id, "header": header("200"),
                           "data": {"result": {"api_key": key, "uid": self.ctx.uid.to_string()}}});
            return out.text(v.to_string());
        }
        let param = payload.get("req_param").cloned().unwrap_or(Value::Null);
        // A request may carry its own signature instead of a login.
        let signed =
            !sig.is_empty() && verify_gate_api(&self.ctx.creds, &channel, &param.to_string(), &ts, key, sig);
        if !self.logged_in && !signed {
            return error(out, "401", "INVALID_KEY", "Invalid key provided");
        }
        let futures = self.market == Market::Futures;
        let uid = self.ctx.uid;
        let order_json = |x: &Exchange, o: &Order| {
            let si = &x.instruments[o.inst];
            if futures { futures_order_json(si, o, uid, false) } else { spot_order_json(si, o) }
        };
        match op {
            "order_place" => {
                let ack = json!({"request_id": req_id, "ack": true, "header": header("200"),
                                 "data": {"result": {"req_id": req_id, "req_header": null, "req_param": param}}});
                out.text(ack.to_string());
                let delay = self.ctx.faults.delay_ms;
                match place(&self.ctx, self.market, &param) {
                    Ok(v) => {
                        let delay = delay.max(super::engine::take_answer_hold().unwrap_or(0));
                        let r = json!({"request_id": req_id, "ack": false, "header": header("200"),
                                       "data": {"result": v}});
                        out.send_after(delay, Message::text(r.to_string()));
                    }
                    Err((status, label, message)) => error(out, &status.to_string(), label, &message),
                }
            }
            "order_cancel" | "order_status" => {
                let id = param.get("order_id").and_then(text_of).and_then(|s| s.parse::<u64>().ok());
                let mut x = self.ctx.lock();
                let found = id.and_then(|id| x.order(id).cloned()).filter(|o| o.account == USER);
                let Some(o) = found else {
                    drop(x);
                    return error(out, "400", "ORDER_NOT_FOUND", "Order not found");
                };
                let o = if op == "order_cancel" {
                    match x.cancel(USER, o.id) {
                        Some(o) => o,
                        None => {
                            drop(x);
                            return error(out, "400", "ORDER_NOT_FOUND", "Order not found");
                        }
                    }
                } else {
                    o
                };
                let v = order_json(&x, &o);
                drop(x);
                let r = json!({"request_id": req_id, "header": header("200"), "data": {"result": v}});
                out.text(r.to_string());
            }
            _ => error(out, "400", "INVALID_ARGUMENT", &format!("Unknown channel {channel}")),
        }
    }
}

impl Session for GateSession {
    fn on_message(&mut self, msg: Message, out: &mut Outbox) {
        let Message::Text(t) = msg else { return };
        let Ok(req) = serde_json::from_str::<Value>(t.as_str()) else {
            let now = now_ms();
            let v = json!({"time": now / 1000, "time_ms": now, "channel": "", "event": "",
                           "error": {"code": 1, "message": "invalid request body"}, "result": null});
            return out.text(v.to_string());
        };
        let channel = req.get("channel").and_then(Value::as_str).unwrap_or("");
        if channel == format!("{}.ping", self.prefix) {
            let now = now_ms();
            let v = json!({"time": now / 1000, "time_ms": now, "conn_id": self.conn_id,
                           "channel": format!("{}.pong", self.prefix), "event": "", "result": null});
            return out.text(v.to_string());
        }
        match req.get("event").and_then(Value::as_str) {
            Some("subscribe" | "unsubscribe") => self.subscribe(&req, out),
            Some("api") => self.api(&req, out),
            _ => self.ack(out, &req, Some((1, "invalid request body".into()))),
        }
    }

    fn on_event(&mut self, ev: &Event, out: &mut Outbox) {
        let futures = self.market == Market::Futures;
        match ev {
            Event::Depth { inst, first, last, bids, asks, time_ms, .. } => {
                let inst = *inst;
                let has_obu = self.obu.contains_key(&inst);
                let has_obuu = self.subs.contains(&("order_book_update", inst));
                if !has_obu && !has_obuu {
                    return;
                }
                let x = self.ctx.lock();
                let si = x.instruments[inst].clone();
                drop(x);
                if has_obuu && !self.ctx.gap() {
                    let (b, a) = if futures {
                        (futures_levels(&si, bids), futures_levels(&si, asks))
                    } else {
                        (spot_levels(&si, bids), spot_levels(&si, asks))
                    };
                    let mut r =
                        json!({"t": time_ms, "s": si.listing.symbol, "U": first, "u": last, "b": b, "a": a});
                    if let Some(m) = r.as_object_mut() {
                        if futures {
                            m.insert("l".into(), json!("100"));
                        } else {
                            m.insert("e".into(), json!("depthUpdate"));
                            m.insert("E".into(), json!(time_ms / 1000));
                        }
                    }
                    self.push(out, "order_book_update", r);
                }
                if let Some(&(levels, last_u)) = self.obu.get(&inst) {
                    if *last <= last_u {
                        return;
                    }
                    self.obu.insert(inst, (levels, *last));
                    if self.ctx.gap() {
                        return;
                    }
                    let r = json!({"t": time_ms, "s": format!("ob.{}.{levels}", si.listing.symbol), "U": first, "u": last,
                                   "b": spot_levels(&si, bids), "a": spot_levels(&si, asks)});
                    self.push(out, "obu", r);
                }
            }
            Event::BookTicker { inst, seq, bid, ask, time_ms } => {
                if !self.subs.contains(&("book_ticker", *inst)) {
                    return;
                }
                let si = self.ctx.lock().instruments[*inst].clone();
                let p = |l: &Option<LevelView>| l.map(|l| si.price_text(l.price)).unwrap_or_default();
                let r = if futures {
                    let q = |l: &Option<LevelView>| l.map(|l| si.contracts(l.qty)).unwrap_or(0);
                    json!({"t": time_ms, "u": seq, "s": si.listing.symbol, "b": p(bid), "B": q(bid), "a": p(ask), "A": q(ask)})
                } else {
                    let q = |l: &Option<LevelView>| l.map(|l| si.qty_text(l.qty)).unwrap_or_default();
                    json!({"t": time_ms, "u": seq, "s": si.listing.symbol, "b": p(bid), "B": q(bid), "a": p(ask), "A": q(ask)})
                };
                self.push(out, "book_ticker", r);
            }
            Event::Trade { inst, id, price, qty, taker_side, time_ms } => {
                if !self.subs.contains(&("trades", *inst)) {
                    return;
                }
                let si = self.ctx.lock().instruments[*inst].clone();
                if futures {
                    let size = si.contracts(*qty) * taker_side.sign();
                    let r = json!([{"size": size, "id": id, "create_time": time_ms / 1000, "create_time_ms": time_ms,
                                    "price": si.price_text(*price), "contract": si.listing.symbol}]);
                    self.push(out, "trades", r);
                } else {
                    let r = json!({"id": id, "create_time": time_ms / 1000, "create_time_ms": format!("{time_ms}.000"),
                                   "side": taker_side.name(), "currency_pair": si.listing.symbol,
                                   "amount": si.qty_text(*qty), "price": si.price_text(*price),
                                   "range": format!("{id}-{id}")});
                    self.push(out, "trades", r);
                }
            }
            Event::OrderUpdate { account, event, order } if *account == USER => {
                if !self.wants("orders", Some(order.inst)) {
                    return;
                }
                let si = self.ctx.lock().instruments[order.inst].clone();
                if si.is_futures() != futures {
                    return;
                }
                let v = if futures {
                    futures_order_json(&si, order, self.ctx.uid, true)
                } else {
                    spot_order_push(&si, order, self.ctx.uid, *event)
                };
                self.push(out, "orders", json!([v]));
            }
            Event::UserTrade { account, fill } if *account == USER => {
                if !self.wants("usertrades", Some(fill.inst)) {
                    return;
                }
                let si = self.ctx.lock().instruments[fill.inst].clone();
                if si.is_futures() != futures {
                    return;
                }
                let role = if fill.maker { "maker" } else { "taker" };
                let v = if futures {
                    json!({"id": fill.trade_id.to_string(), "create_time": fill.time_ms / 1000,
                           "create_time_ms": fill.time_ms, "contract": si.listing.symbol,
                           "order_id": fill.order_id.to_string(), "size": si.contracts(fill.qty) * fill.side.sign(),
                           "price": si.price_text(fill.price), "role": role, "text": fill.text,
                           "fee": num(&amt(fill.fee)), "point_fee": 0})
                } else {
                    json!({"id": fill.trade_id, "user_id": self.ctx.uid, "order_id": fill.order_id.to_string(),
                           "currency_pair": si.listing.symbol, "create_time": fill.time_ms / 1000,
                           "create_time_ms": format!("{}.000", fill.time_ms), "side": fill.side.name(),
                           "amount": si.qty_text(fill.qty), "role": role, "price": si.price_text(fill.price),
                           "fee": amt(fill.fee), "fee_currency": fill.fee_asset, "point_fee": "0", "gt_fee": "0",
                           "text": fill.text, "amend_text": "-", "biz_info": "-"})
                };
                self.push(out, "usertrades", json!([v]));
            }
            Event::Balance { account, asset, available, locked, change, time_ms }
                if *account == USER && !futures =>
            {
                if !self.wants("balances", None) {
                    return;
                }
                let v = json!([{"timestamp": (time_ms / 1000).to_string(), "timestamp_ms": time_ms.to_string(),
                                "user": self.ctx.uid.to_string(), "currency": asset, "change": amt(*change),
                                "total": amt(*available + *locked), "available": amt(*available),
                                "freeze": amt(*locked), "freeze_change": "0", "change_type": "order-match"}]);
                self.push(out, "balances", v);
            }
            Event::FuturesBalance { account, balance, change, kind, text, time_ms, .. }
                if *account == USER && futures =>
            {
                if !self.wants("balances", None) {
                    return;
                }
                let v = json!([{"balance": num(&amt(*balance)), "change": num(&amt(*change)), "currency": "usdt",
                                "text": text, "time": time_ms / 1000, "time_ms": time_ms, "type": kind,
                                "user": self.ctx.uid.to_string()}]);
                self.push(out, "balances", v);
            }
            Event::Position { account, inst, size, cost, realised, time_ms }
                if *account == USER && futures =>
            {
                if !self.wants("positions", Some(*inst)) {
                    return;
                }
                let si = self.ctx.lock().instruments[*inst].clone();
                let base = si.inst.base_amount(Qty(size.0.abs())).unwrap_or(Amount::ZERO);
                let entry = if base.is_zero() {
                    Amount::ZERO
                } else {
                    cost.abs().div(base, Rounding::Floor).unwrap_or(Amount::ZERO)
                };
                let v = json!([{"contract": si.listing.symbol, "cross_leverage_limit": 0, "entry_price": num(&amt(entry)),
                                "history_pnl": num(&amt(*realised)), "history_point": 0, "last_close_pnl": 0,
                                "leverage": 10, "leverage_max": 100, "liq_price": 0, "maintenance_rate": 0.005,
                                "margin": num(&amt(Amount(cost.0.abs() / super::engine::LEVERAGE))), "mode": "single",
                                "realised_pnl": num(&amt(*realised)), "realised_point": 0, "risk_limit": 1000000,
                                "size": si.contracts(*size), "time": time_ms / 1000, "time_ms": time_ms,
                                "user": self.ctx.uid.to_string(), "update_id": 1}]);
                self.push(out, "positions", v);
            }
            _ => {}
        }
    }
}
