//! Gate.io's JSON shapes: orders (REST, WebSocket API and pushes), currency pairs,
//! contracts, positions, the futures account and book levels, with the field names and
//! JSON types of the recorded messages (spot decimals as strings; futures sizes as
//! integers; REST futures times as float seconds).

use pipeline::types::{Amount, Price, Qty, Rounding};
use serde_json::{Value, json};

use crate::engine::{
    Exchange, Finish, LevelView, Order, OrderEvent, OrderKind, SimInstrument, Tif, USER, now_ms,
};
use crate::venue::{amt, num, secs_ms};

pub(super) fn finish_as(o: &Order, futures: bool) -> &'static str {
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

pub(super) fn tif_name(t: Tif) -> &'static str {
    match t {
        Tif::Gtc => "gtc",
        Tif::Ioc => "ioc",
        Tif::Fok => "fok",
        Tif::PostOnly => "poc",
    }
}

/// A spot order in the REST / WS-API shape.
pub(super) fn spot_order_json(si: &SimInstrument, o: &Order) -> Value {
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
pub(super) fn spot_order_push(si: &SimInstrument, o: &Order, uid: u64, event: OrderEvent) -> Value {
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
pub(super) fn futures_order_json(si: &SimInstrument, o: &Order, uid: u64, ws: bool) -> Value {
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

pub(super) fn spot_pair_json(si: &SimInstrument) -> Value {
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

pub(super) fn mark_price(x: &Exchange, inst: usize) -> Price {
    match x.best(inst) {
        (Some(b), Some(a)) => Price((b.price.0 + a.price.0) / 2),
        (Some(b), None) => b.price,
        (None, Some(a)) => a.price,
        (None, None) => Price::ZERO,
    }
}

/// The funding interval in whole seconds, at least 1 (Gate's `funding_interval`).
pub(super) fn funding_interval_s(x: &Exchange) -> u64 {
    (x.funding_interval_ms() / 1000).max(1)
}

/// When funding next settles, in Unix seconds (0 when funding is off).
pub(super) fn funding_next_apply_s(x: &Exchange) -> u64 {
    match x.next_funding_ms() {
        u64::MAX => 0,
        ms => ms.div_ceil(1000),
    }
}

/// One funding entry of the futures account book (`GET /futures/usdt/account_book`).
pub(super) fn funding_book_json(x: &Exchange, e: &crate::engine::FundingEntry) -> Value {
    let symbol = x.instruments[e.inst].listing.symbol;
    json!({"time": e.time_ms as f64 / 1000.0, "change": amt(e.amount), "balance": amt(e.balance),
           "type": "fund", "text": format!("{symbol}:funding"), "contract": symbol, "trade_id": "",
           "id": e.id.to_string()})
}

pub(super) fn contract_json(x: &Exchange, inst: usize) -> Value {
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
        "funding_rate_indicative": x.funding_rate(inst).to_string(),
        "mark_price_round": si.listing.tick(),
        "funding_offset": 0,
        "in_delisting": false,
        "risk_limit_base": "1000000",
        "interest_rate": "0.0003",
        "order_price_round": si.listing.tick(),
        "order_size_min": l.min_qty.parse::<i64>().unwrap_or(1),
        "ref_rebate_rate": "0.2",
        "funding_interval": funding_interval_s(x),
        "risk_limit_step": "1000000",
        "leverage_min": "1",
        "leverage_max": "100",
        "risk_limit_max": "8000000",
        "maker_fee_rate": l.maker_fee,
        "taker_fee_rate": l.taker_fee,
    });
    let more = json!({
        "funding_rate": x.funding_rate(inst).to_string(),
        "order_size_max": l.max_qty.parse::<i64>().unwrap_or(1_000_000),
        "funding_next_apply": funding_next_apply_s(x),
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

pub(super) fn position_json(x: &Exchange, inst: usize, uid: u64) -> Value {
    let si = &x.instruments[inst];
    let acct = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
    let p = acct.positions.get(&inst).copied().unwrap_or_default();
    let entry = si.entry_price(p.size, p.cost);
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
        "margin": amt(p.margin()),
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

pub(super) fn futures_account_json(x: &Exchange, uid: u64) -> Value {
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

pub(super) fn futures_levels(si: &SimInstrument, levels: &[LevelView]) -> Value {
    Value::Array(
        levels.iter().map(|l| json!({"p": si.price_text(l.price), "s": si.contracts(l.qty)})).collect(),
    )
}
