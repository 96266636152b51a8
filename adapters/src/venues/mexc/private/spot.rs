//! The MEXC spot private stream and the readers of what MEXC says about the account.
//!
//! A listen key from `POST /api/v3/userDataStream` (kept alive and renewed by the order
//! entry), a WebSocket on `ws_spot_url?listenKey=…` subscribed to
//! `spot@private.orders.v3.api.pb`, `spot@private.deals.v3.api.pb` and
//! `spot@private.account.v3.api.pb`, whose pushes are protobuf `PushDataV3ApiWrapper`
//! frames (bodies 304, 306, 307); and the JSON order answers of queries and cancels.
//!
//! Exact: the deals push (price, quantity, `feeAmount`, `feeCurrency`). Estimates: order
//! pushes and query answers carry the cumulative quantity and quote amount but no fee;
//! the fee is then the instrument's taker rate on the received asset (base for a buy,
//! quote for a sell), held back for the stream grace while the deals arrive.

use std::fmt::Write as _;
use std::sync::Arc;

use pipeline::msg::RejectReason;
use pipeline::types::{Amount, Instrument, Market, Price, Qty, Rounding, Side, Venue};

use super::super::feed::SPOT_PING;
use crate::json::{JsonError, Parser, contains};
use crate::net::ws::{WsClient, WsHooks};
use crate::orders::core::{Core, ForeignReport};
use crate::orders::track::{Cumulative, Trade};
use crate::orders::wire::{
    for_fields, parse_amount, parse_client_id, parse_price, parse_qty, scalar, trade_id,
};
use crate::proto::{ProtoError, Reader};

pub(crate) const TOPICS: [&str; 3] =
    ["spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb", "spot@private.account.v3.api.pb"];

/// The private stream's subscriptions; the URL carries the current listen key (which
/// grants reading the account's stream, so `Debug` leaves it out).
pub(crate) struct MexcSpotHooks {
    pub url: String,
}

impl std::fmt::Debug for MexcSpotHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = self.url.split('?').next().unwrap_or("");
        f.debug_struct("MexcSpotHooks").field("url", &format_args!("{base}?listenKey=***")).finish()
    }
}

impl WsHooks for MexcSpotHooks {
    fn url(&mut self) -> Option<String> {
        Some(self.url.clone())
    }

    fn on_open(&mut self, _now_unix_ms: u64, out: &mut Vec<String>) {
        let mut m = String::from(r#"{"method":"SUBSCRIPTION","params":["#);
        for (i, t) in TOPICS.iter().enumerate() {
            if i > 0 {
                m.push(',');
            }
            let _ = write!(m, "\"{t}\"");
        }
        m.push_str("]}");
        out.push(m);
    }

    fn keepalive(&mut self, now_unix_ms: u64, out: &mut String) -> bool {
        SPOT_PING.write_into(now_unix_ms, out);
        true
    }
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub ws: WsClient<MexcSpotHooks>,
    pub topics: [bool; 3],
    pub up: bool,
}

/// `{"code":…,"msg":…}`.
pub(crate) fn error_body(body: &[u8]) -> (i64, &[u8]) {
    let (mut code, mut msg): (i64, &[u8]) = (0, b"");
    let mut p = Parser::new(body);
    let _ = for_fields(&mut p, |k, p| {
        match k {
            b"code" => code = crate::json::parse_i64(scalar(p)?).unwrap_or(0),
            b"msg" => msg = scalar(p)?,
            _ => return Ok(false),
        }
        Ok(true)
    });
    (code, msg)
}

/// A spot order as the query and cancel answers show it.
#[derive(Debug, Default)]
pub(crate) struct MexcOrder<'a> {
    pub symbol: &'a [u8],
    pub order_id: &'a [u8],
    pub client: &'a [u8],
    pub orig_qty: &'a [u8],
    pub executed: &'a [u8],
    pub quote: &'a [u8],
    pub status: &'a [u8],
    pub kind: &'a [u8],
    pub side: &'a [u8],
    /// The limit price.
    pub price: &'a [u8],
}

pub(crate) fn parse_order<'a>(p: &mut Parser<'a>) -> Result<MexcOrder<'a>, JsonError> {
    let mut o = MexcOrder::default();
    for_fields(p, |k, p| {
        let slot = match k {
            b"symbol" => &mut o.symbol,
            b"orderId" => &mut o.order_id,
            b"clientOrderId" | b"origClientOrderId" => &mut o.client,
            b"origQty" => &mut o.orig_qty,
            b"executedQty" => &mut o.executed,
            b"cummulativeQuoteQty" => &mut o.quote,
            b"status" => &mut o.status,
            b"type" => &mut o.kind,
            b"side" => &mut o.side,
            b"price" => &mut o.price,
            _ => return Ok(false),
        };
        *slot = scalar(p)?;
        Ok(true)
    })?;
    Ok(o)
}

/// The taker fee on the asset a spot order receives: an estimate for reports that carry
/// none.
pub(crate) fn estimate(inst: &Instrument, side: Side, filled: Qty, value: Amount) -> Cumulative {
    let (fee, fee_asset) = match side {
        Side::Buy => (
            inst.base_amount(filled)
                .and_then(|b| b.mul_rate(inst.taker_fee, Rounding::Ceil))
                .unwrap_or(Amount::ZERO),
            inst.base,
        ),
        Side::Sell => (value.mul_rate(inst.taker_fee, Rounding::Ceil).unwrap_or(Amount::ZERO), inst.quote),
    };
    Cumulative { filled, value, fee, fee_asset, exact: false }
}

pub(crate) fn sym(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or("")
}

/// A query or cancel answer.
pub(crate) fn apply_order(
    core: &mut Core,
    o: &MexcOrder<'_>,
    slot: Option<usize>,
    external: bool,
    defer: bool,
) {
    let ts = core.now_ns();
    let instruments = Arc::clone(&core.instruments);
    let Some(inst_id) = instruments.find(Venue::Mexc, Market::Spot, sym(o.symbol)) else { return };
    let inst = instruments.get(inst_id);
    let side = if o.side == b"SELL" { Side::Sell } else { Side::Buy };
    let k = match (slot, parse_client_id(core.prefix, o.client)) {
        (Some(k), _) => k,
        (None, Some(c)) => core.tracker.find_or_open(c, inst_id, side, ts),
        (None, None) => return,
    };
    core.tracker.set_venue_order(k, o.order_id);
    let Some(filled) = parse_qty(o.executed, inst.qty_scale) else { return };
    let value = parse_amount(o.quote).unwrap_or(Amount::ZERO);
    let c = estimate(inst, side, filled, value);
    let open = matches!(o.status, b"NEW" | b"PARTIALLY_FILLED");
    core.tracker.set_fok(k, o.kind == b"FILL_OR_KILL");
    if external {
        core.tracker.status(k, c, open, ts);
    } else {
        let defer = defer.then_some(core.timing.grace_ns);
        core.tracker.cumulative(k, c, ts, defer);
        if !open {
            core.tracker.terminal(k, filled, ts);
        }
    }
}

/// An order the cancel-all answer listed.
pub(crate) fn apply_cancelled(core: &mut Core, o: &MexcOrder<'_>) {
    let ts = core.now_ns();
    let instruments = Arc::clone(&core.instruments);
    let Some(inst_id) = instruments.find(Venue::Mexc, Market::Spot, sym(o.symbol)) else { return };
    let inst = instruments.get(inst_id);
    let k = match parse_client_id(core.prefix, o.client) {
        Some(c) => core.tracker.find(c),
        None => core.tracker.find_by_venue_order(o.order_id),
    };
    let Some(k) = k else { return };
    let side = core.tracker.view(k).side;
    let Some(filled) = parse_qty(o.executed, inst.qty_scale) else { return };
    let value = parse_amount(o.quote).unwrap_or(Amount::ZERO);
    core.tracker.cumulative(k, estimate(inst, side, filled, value), ts, None);
    core.tracker.terminal(k, filled, ts);
}

/// Subscription acknowledgements: `{"id":0,"code":0,"msg":"<topics>"}`.
pub(crate) fn on_text(core: &mut Core, text: &[u8], topics: &mut [bool; 3]) {
    let (_, msg) = error_body(text);
    if contains(msg, b"Not Subscribed") || contains(msg, b"Blocked") {
        core.notice_parts(Venue::Mexc, Market::Spot, RejectReason::Other, 0, b"subscription", msg);
        return;
    }
    for (i, t) in TOPICS.iter().enumerate() {
        if contains(msg, t.as_bytes()) {
            topics[i] = true;
        }
    }
}

/// One protobuf push (`PushDataV3ApiWrapper`).
pub(crate) fn on_binary(core: &mut Core, bytes: &[u8], stream_up: bool) -> Result<(), ProtoError> {
    let mut r = Reader::new(bytes);
    let mut symbol: &[u8] = b"";
    let mut body: Option<(u32, &[u8])> = None;
    while let Some((f, w)) = r.field()? {
        match f {
            3 => symbol = r.len_field(w)?,
            304 | 306 | 307 => body = Some((f, r.len_field(w)?)),
            _ => r.skip(w)?,
        }
    }
    match body {
        Some((304, b)) => private_order(core, symbol, b, stream_up),
        Some((306, b)) => private_deal(core, symbol, b),
        Some((307, b)) => private_account(core, b),
        _ => Ok(()),
    }
}

/// `PrivateDealsV3Api`: one execution, exact.
fn private_deal(core: &mut Core, symbol: &[u8], b: &[u8]) -> Result<(), ProtoError> {
    let mut r = Reader::new(b);
    let mut f: [&[u8]; 7] = [b""; 7];
    let mut side = Side::Buy;
    // price, quantity, tradeId, clientOrderId, orderId, feeAmount, feeCurrency
    while let Some((n, w)) = r.field()? {
        let at = match n {
            1 => 0,
            2 => 1,
            7 => 2,
            8 => 3,
            9 => 4,
            10 => 5,
            11 => 6,
            4 => {
                side = if r.varint_field(w)? == 2 { Side::Sell } else { Side::Buy };
                continue;
            }
            _ => {
                r.skip(w)?;
                continue;
            }
        };
        f[at] = r.len_field(w)?;
    }
    let [price, qty, tid, client, oid, fee, fee_ccy] = f;
    let ts = core.now_ns();
    let instruments = Arc::clone(&core.instruments);
    let Some(inst_id) = instruments.find(Venue::Mexc, Market::Spot, sym(symbol)) else { return Ok(()) };
    let inst = instruments.get(inst_id);
    let (Some(price), Some(qty)) = (parse_price(price, inst.price_scale), parse_qty(qty, inst.qty_scale))
    else {
        return Ok(());
    };
    let trade = Trade {
        id: trade_id(tid),
        price,
        qty,
        fee: parse_amount(fee).unwrap_or(Amount::ZERO),
        fee_asset: core.asset(fee_ccy),
    };
    let Some(c) = parse_client_id(core.prefix, client) else {
        core.foreign(&ForeignReport {
            venue: Venue::Mexc,
            market: Market::Spot,
            symbol: sym(symbol),
            side,
            fill: true,
            price,
            qty,
            fee: trade.fee,
            fee_asset: trade.fee_asset,
            client,
            order_id: oid,
            trade_id: trade.id,
        });
        return Ok(());
    };
    let k = core.tracker.find_or_open(c, inst_id, side, ts);
    core.tracker.set_venue_order(k, oid);
    core.tracker.trade(k, trade, ts);
    Ok(())
}

/// `PrivateOrdersV3Api`: cumulative quantity and amount, status.
fn private_order(core: &mut Core, symbol: &[u8], b: &[u8], stream_up: bool) -> Result<(), ProtoError> {
    let mut r = Reader::new(b);
    let (mut id, mut client, mut cum_qty, mut cum_amount): (&[u8], &[u8], &[u8], &[u8]) =
        (b"", b"", b"", b"");
    let (mut order_type, mut trade_type, mut status) = (0u64, 0u64, 0u64);
    while let Some((f, w)) = r.field()? {
        match f {
            1 => id = r.len_field(w)?,
            2 => client = r.len_field(w)?,
            7 => order_type = r.varint_field(w)?,
            8 => trade_type = r.varint_field(w)?,
            13 => cum_qty = r.len_field(w)?,
            14 => cum_amount = r.len_field(w)?,
            15 => status = r.varint_field(w)?,
            _ => r.skip(w)?,
        }
    }
    let ts = core.now_ns();
    let instruments = Arc::clone(&core.instruments);
    let Some(inst_id) = instruments.find(Venue::Mexc, Market::Spot, sym(symbol)) else { return Ok(()) };
    let inst = instruments.get(inst_id);
    let side = if trade_type == 2 { Side::Sell } else { Side::Buy };
    let Some(c) = parse_client_id(core.prefix, client) else {
        core.foreign(&ForeignReport {
            venue: Venue::Mexc,
            market: Market::Spot,
            symbol: sym(symbol),
            side,
            fill: false,
            price: Price::ZERO,
            qty: Qty::ZERO,
            fee: Amount::ZERO,
            fee_asset: inst.quote,
            client,
            order_id: id,
            trade_id: 0,
        });
        return Ok(());
    };
    let k = core.tracker.find_or_open(c, inst_id, side, ts);
    core.tracker.set_venue_order(k, id);
    core.tracker.set_fok(k, order_type == 4);
    let filled = parse_qty(cum_qty, inst.qty_scale).unwrap_or(Qty::ZERO);
    let value = parse_amount(cum_amount).unwrap_or(Amount::ZERO);
    let finished = matches!(status, 2 | 4 | 5);
    if !(finished && filled.is_zero() && order_type == 4) {
        core.tracker.accepted(k, ts);
    }
    let defer = stream_up.then_some(core.timing.grace_ns);
    core.tracker.cumulative(k, estimate(inst, side, filled, value), ts, defer);
    if finished {
        core.tracker.terminal(k, filled, ts);
    }
    Ok(())
}

/// `PrivateAccountV3Api`: one asset's balance after a change.
fn private_account(core: &mut Core, b: &[u8]) -> Result<(), ProtoError> {
    let mut r = Reader::new(b);
    let (mut asset, mut avail, mut frozen): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
    while let Some((f, w)) = r.field()? {
        match f {
            1 => asset = r.len_field(w)?,
            3 => avail = r.len_field(w)?,
            5 => frozen = r.len_field(w)?,
            _ => r.skip(w)?,
        }
    }
    let ts = core.now_ns();
    core.balance(Venue::Mexc, asset, avail, frozen, ts);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_recorded_order_answers() {
        let q = include_str!("../../../../test_data/mexc/spot_rest_order_query.jsonl");
        let o = parse_order(&mut Parser::new(q.lines().next().unwrap().as_bytes())).unwrap();
        assert_eq!(
            (o.status, o.executed, o.quote, o.client),
            (&b"FILLED"[..], &b"0.11"[..], &b"1.90751"[..], &b"11"[..])
        );
        let n = include_str!("../../../../test_data/mexc/spot_rest_order_new.jsonl");
        let o = parse_order(&mut Parser::new(n.lines().next().unwrap().as_bytes())).unwrap();
        assert_eq!(o.order_id, b"C02__426060921085927424065");
    }
}
