//! The MEXC futures private stream and the readers of what MEXC says about the futures
//! account.
//!
//! The private stream logs in (`{"method":"login",…}`) and then receives every personal
//! push: `push.personal.order.deal` (exact trades with `fee`), `push.personal.order`
//! (cumulative `dealVol`, average `dealAvgPrice`, fees: an estimate of the value),
//! `push.personal.asset`, `push.personal.position`.
//! The same order and asset shapes come back in REST answers, read here too.

use std::sync::Arc;

use pipeline::msg::RejectReason;
use pipeline::types::{Amount, Market, Price, Qty, Rounding, Side, Venue};

use super::super::feed::FUTURES_PING;
use super::super::sign::futures_ws_login;
use crate::auth::Credentials;
use crate::json::{JsonError, Parser, contains};
use crate::net::ws::{WsClient, WsHooks};
use crate::orders::core::{Core, ForeignReport};
use crate::orders::track::{Cumulative, Trade};
use crate::orders::wire::{
    contracts_qty, fields, for_fields, for_items, parse_amount, parse_client_id, parse_price, scalar,
    trade_id,
};

/// The private stream: log in on every session.
#[derive(Debug)]
pub(crate) struct MexcFuturesHooks {
    pub creds: Credentials,
}

impl WsHooks for MexcFuturesHooks {
    fn on_open(&mut self, now_unix_ms: u64, out: &mut Vec<String>) {
        out.push(futures_ws_login(&self.creds, now_unix_ms));
    }

    fn keepalive(&mut self, now_unix_ms: u64, out: &mut String) -> bool {
        FUTURES_PING.write_into(now_unix_ms, out);
        true
    }
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub ws: WsClient<MexcFuturesHooks>,
    pub up: bool,
}

/// The `{"success","code","message","data"}` envelope; `data` as raw JSON.
#[derive(Debug, Default)]
pub(crate) struct Envelope<'a> {
    pub success: bool,
    pub code: i64,
    pub message: &'a [u8],
    pub data: &'a [u8],
}

pub(crate) fn envelope(body: &[u8]) -> Envelope<'_> {
    let mut e = Envelope::default();
    let mut p = Parser::new(body);
    let _ = for_fields(&mut p, |k, p| {
        match k {
            b"success" => e.success = scalar(p)? == b"true",
            b"code" => e.code = crate::json::parse_i64(scalar(p)?).unwrap_or(0),
            b"message" => e.message = scalar(p)?,
            b"data" => e.data = p.skip()?,
            _ => return Ok(false),
        }
        Ok(true)
    });
    e
}

/// A futures order (query answer, `push.personal.order`).
#[derive(Debug, Default)]
pub(crate) struct FutOrder<'a> {
    pub order_id: &'a [u8],
    pub symbol: &'a [u8],
    pub external: &'a [u8],
    pub vol: &'a [u8],
    pub side: &'a [u8],
    pub order_type: &'a [u8],
    pub deal_avg: &'a [u8],
    pub deal_vol: &'a [u8],
    pub taker_fee: &'a [u8],
    pub maker_fee: &'a [u8],
    pub state: &'a [u8],
    /// The limit price.
    pub price: &'a [u8],
}

pub(crate) fn parse_order<'a>(p: &mut Parser<'a>) -> Result<FutOrder<'a>, JsonError> {
    let mut o = FutOrder::default();
    for_fields(p, |k, p| {
        let slot = match k {
            b"orderId" => &mut o.order_id,
            b"symbol" => &mut o.symbol,
            b"externalOid" => &mut o.external,
            b"vol" => &mut o.vol,
            b"side" => &mut o.side,
            b"orderType" => &mut o.order_type,
            b"dealAvgPrice" => &mut o.deal_avg,
            b"dealVol" => &mut o.deal_vol,
            b"takerFee" => &mut o.taker_fee,
            b"makerFee" => &mut o.maker_fee,
            b"state" => &mut o.state,
            b"price" => &mut o.price,
            _ => return Ok(false),
        };
        *slot = scalar(p)?;
        Ok(true)
    })?;
    Ok(o)
}

pub(crate) fn sym(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or("")
}

/// Side codes 1 (open long) and 2 (close short) buy; 3 and 4 sell.
pub(crate) fn side_of(code: &[u8]) -> Side {
    if matches!(code, b"3" | b"4") { Side::Sell } else { Side::Buy }
}

/// `{"currency","availableBalance","cashBalance",…}`, read over REST: the balance is
/// reported for reconciliation.
pub(crate) fn asset<'a>(core: &mut Core, p: &mut Parser<'a>) -> Result<(), JsonError> {
    let [cur, avail, cash] = fields(p, [b"currency", b"availableBalance", b"cashBalance"])?;
    if cur == b"USDT" {
        core.futures_balance(Venue::Mexc, parse_amount(cash), parse_amount(avail));
    }
    Ok(())
}

/// The same pushed on the private stream: only the margin is taken. A push follows a
/// funding settlement at once, while the engine books funding from the history it reads
/// (MEXC pushes no funding entry), so its balance would lead the books by that
/// settlement; the order entry reads the history and then the balance instead.
fn pushed_asset<'a>(core: &mut Core, p: &mut Parser<'a>) -> Result<(), JsonError> {
    let [cur, avail] = fields(p, [b"currency", b"availableBalance"])?;
    if cur == b"USDT" {
        core.futures_margin(Venue::Mexc, parse_amount(avail));
    }
    Ok(())
}

/// `{"symbol","holdVol","positionType"(1 long, 2 short),"state"}`.
pub(crate) fn position<'a>(core: &mut Core, p: &mut Parser<'a>) -> Result<(), JsonError> {
    let [s, vol, ty, state] = fields(p, [b"symbol", b"holdVol", b"positionType", b"state"])?;
    let instruments = Arc::clone(&core.instruments);
    let Some(inst) = instruments.find(Venue::Mexc, Market::Futures, sym(s)) else { return Ok(()) };
    let Some(q) = contracts_qty(vol, instruments.get(inst).qty_scale) else { return Ok(()) };
    let q = if state == b"3" {
        Qty::ZERO
    } else if ty == b"2" {
        Qty(-q.0)
    } else {
        q
    };
    core.futures_position(inst, q);
    Ok(())
}

/// An order report (query answer or push).
pub(crate) fn apply_order(
    core: &mut Core,
    o: &FutOrder<'_>,
    slot: Option<usize>,
    external: bool,
    stream_up: bool,
) {
    let ts = core.now_ns();
    let instruments = Arc::clone(&core.instruments);
    let Some(inst_id) = instruments.find(Venue::Mexc, Market::Futures, sym(o.symbol)) else { return };
    let inst = instruments.get(inst_id);
    let side = side_of(o.side);
    let k = match (slot, parse_client_id(core.prefix, o.external)) {
        (Some(k), _) => k,
        (None, Some(c)) => core.tracker.find_or_open(c, inst_id, side, ts),
        (None, None) => {
            if !external {
                core.foreign(&ForeignReport {
                    venue: Venue::Mexc,
                    market: Market::Futures,
                    symbol: sym(o.symbol),
                    side,
                    fill: false,
                    price: Price::ZERO,
                    qty: contracts_qty(o.vol, inst.qty_scale).unwrap_or(Qty::ZERO),
                    fee: Amount::ZERO,
                    fee_asset: inst.quote,
                    client: o.external,
                    order_id: o.order_id,
                    trade_id: 0,
                });
            }
            return;
        }
    };
    core.tracker.set_side(k, side);
    core.tracker.set_venue_order(k, o.order_id);
    let fok = o.order_type == b"4";
    core.tracker.set_fok(k, fok);
    if let Some(v) = contracts_qty(o.vol, inst.qty_scale) {
        core.tracker.set_qty(k, v);
    }
    let filled = contracts_qty(o.deal_vol, inst.qty_scale).unwrap_or(Qty::ZERO);
    let price = parse_price(o.deal_avg, inst.price_scale).unwrap_or(Price::ZERO);
    let value = inst.notional(price, filled, Rounding::Floor).unwrap_or(Amount::ZERO);
    let fee = parse_amount(o.taker_fee)
        .unwrap_or(Amount::ZERO)
        .saturating_add(parse_amount(o.maker_fee).unwrap_or(Amount::ZERO));
    let c = Cumulative { filled, value, fee, fee_asset: inst.quote, exact: false };
    // States: 1 uninformed, 2 uncompleted, 3 completed, 4 cancelled, 5 invalid.
    let finished = matches!(o.state, b"3" | b"4" | b"5");
    if external {
        core.tracker.status(k, c, !finished, ts);
        return;
    }
    if !(finished && filled.is_zero() && fok) {
        core.tracker.accepted(k, ts);
    }
    core.tracker.cumulative(k, c, ts, stream_up.then_some(core.timing.grace_ns));
    if finished {
        core.tracker.terminal(k, filled, ts);
    }
}

/// `push.personal.order.deal`: one execution, exact.
pub(crate) fn apply_deal<'a>(core: &mut Core, p: &mut Parser<'a>) -> Result<(), JsonError> {
    #[derive(Default)]
    struct Deal<'a> {
        symbol: &'a [u8],
        ext: &'a [u8],
        id: &'a [u8],
        oid: &'a [u8],
        price: &'a [u8],
        vol: &'a [u8],
        fee: &'a [u8],
        side: &'a [u8],
    }
    let mut d = Deal::default();
    for_fields(p, |k, p| {
        let slot = match k {
            b"symbol" => &mut d.symbol,
            b"externalOid" => &mut d.ext,
            b"id" => &mut d.id,
            b"orderId" => &mut d.oid,
            b"price" => &mut d.price,
            b"vol" => &mut d.vol,
            b"fee" => &mut d.fee,
            b"side" => &mut d.side,
            _ => return Ok(false),
        };
        *slot = scalar(p)?;
        Ok(true)
    })?;
    let Deal { symbol: s, ext, id, oid, price, vol, fee, side } = d;
    let ts = core.now_ns();
    let instruments = Arc::clone(&core.instruments);
    let Some(inst_id) = instruments.find(Venue::Mexc, Market::Futures, sym(s)) else { return Ok(()) };
    let inst = instruments.get(inst_id);
    let (Some(price), Some(qty)) = (parse_price(price, inst.price_scale), contracts_qty(vol, inst.qty_scale))
    else {
        return Ok(());
    };
    let trade = Trade {
        id: trade_id(id),
        price,
        qty,
        fee: parse_amount(fee).unwrap_or(Amount::ZERO),
        fee_asset: inst.quote,
    };
    let Some(c) = parse_client_id(core.prefix, ext) else {
        core.foreign(&ForeignReport {
            venue: Venue::Mexc,
            market: Market::Futures,
            symbol: sym(s),
            side: side_of(side),
            fill: true,
            price,
            qty,
            fee: trade.fee,
            fee_asset: trade.fee_asset,
            client: ext,
            order_id: oid,
            trade_id: trade.id,
        });
        return Ok(());
    };
    let k = core.tracker.find_or_open(c, inst_id, side_of(side), ts);
    core.tracker.set_venue_order(k, oid);
    core.tracker.trade(k, trade, ts);
    Ok(())
}

/// What a push was, as far as the order entry acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The futures account's balance.
    Balance,
    Other,
}

/// Applies one frame of the private stream; says whether it was a balance push.
pub(crate) fn on_push(core: &mut Core, text: &[u8], up: &mut bool) -> Pushed {
    let mut channel: &[u8] = b"";
    let mut data: &[u8] = b"";
    let mut p = Parser::new(text);
    if for_fields(&mut p, |k, p| {
        match k {
            b"channel" => channel = scalar(p)?,
            b"data" => data = p.skip()?,
            _ => return Ok(false),
        }
        Ok(true)
    })
    .is_err()
    {
        return Pushed::Other;
    }
    let mut p = Parser::new(data);
    let pushed = if channel == b"push.personal.asset" { Pushed::Balance } else { Pushed::Other };
    let _ = match channel {
        b"rs.login" => {
            *up = contains(data, b"success");
            Ok(())
        }
        b"rs.error" => {
            core.notice_parts(Venue::Mexc, Market::Futures, RejectReason::Auth, 0, b"stream", data);
            Ok(())
        }
        b"push.personal.order.deal" => for_items(&mut p, |p| apply_deal(core, p)),
        b"push.personal.order" => {
            let stream_up = *up;
            for_items(&mut p, |p| {
                let o = parse_order(p)?;
                apply_order(core, &o, None, false, stream_up);
                Ok(())
            })
        }
        b"push.personal.asset" => for_items(&mut p, |p| pushed_asset(core, p)),
        b"push.personal.position" => for_items(&mut p, |p| position(core, p)),
        _ => Ok(()),
    };
    pushed
}
