//! Gate.io private channels (`spot.orders`, `spot.usertrades`, `spot.balances`;
//! `futures.orders`, `futures.usertrades`, `futures.balances`, `futures.positions`), each
//! subscription signed on every session, and the readers of what Gate says about the
//! account: orders (pushes and REST answers alike), user trades, balances, positions.
//!
//! What is exact: a spot order's totals (`filled_total`, `fee`, `fee_currency`) and every
//! user trade. A futures order only carries an average `fill_price` and the fee rates, so
//! its totals are an estimate, held back for the stream grace while `futures.usertrades`
//! (exact) delivers the trades.

use std::fmt::Write as _;

use pipeline::msg::RejectReason;
use pipeline::types::{Amount, Market, Price, Qty, Rate, Rounding, Side, Venue};

use super::feed::ping;
use super::sign::{push_ws_channel_auth, ws_login_request};
use super::ws_api::{Answer, LOGIN_ID, WsApi, on_answer};
use crate::auth::Credentials;
use crate::json::{JsonError, Parser, contains};
use crate::net::ws::{WsClient, WsHooks};
use crate::orders::core::{Core, ForeignReport, FundingEntry};
use crate::orders::discover::DiscoveredOrder;
use crate::orders::track::{Cumulative, Trade};
use crate::orders::wire::{
    contracts_qty, fields, for_fields, for_items, parse_amount, parse_client_id, parse_price, parse_qty,
    parse_rate, scalar, trade_id,
};

/// The private channel subscriptions of one Gate WebSocket (spot or futures).
#[derive(Debug)]
pub(super) struct GateHooks {
    creds: Credentials,
    market: Market,
    uid: u64,
    /// Log in to the trading API on every session (orders go over this stream).
    login: bool,
}

impl GateHooks {
    pub(super) fn new(creds: Credentials, market: Market, uid: u64, login: bool) -> Self {
        GateHooks { creds, market, uid, login }
    }

    pub(super) fn channels(&self) -> &'static [&'static str] {
        match self.market {
            Market::Spot => &["spot.orders", "spot.usertrades", "spot.balances"],
            Market::Futures => {
                &["futures.orders", "futures.usertrades", "futures.balances", "futures.positions"]
            }
        }
    }
}

impl WsHooks for GateHooks {
    fn on_open(&mut self, now_unix_ms: u64, out: &mut Vec<String>) {
        let time = now_unix_ms / 1000;
        for (i, channel) in self.channels().iter().enumerate() {
            let mut m = String::with_capacity(320);
            let _ = write!(m, r#"{{"time":{time},"id":{},"channel":"{channel}","event":"subscribe""#, i + 1);
            match (self.market, *channel) {
                (Market::Spot, "spot.balances") => {}
                (Market::Spot, _) => m.push_str(r#","payload":["!all"]"#),
                (Market::Futures, "futures.balances") => {
                    let _ = write!(m, r#","payload":["{}"]"#, self.uid);
                }
                (Market::Futures, _) => {
                    let _ = write!(m, r#","payload":["{}","!all"]"#, self.uid);
                }
            }
            m.push_str(r#","auth":"#);
            push_ws_channel_auth(&mut m, &self.creds, channel, "subscribe", time);
            m.push('}');
            out.push(m);
        }
        if self.login {
            let channel = match self.market {
                Market::Spot => "spot.login",
                Market::Futures => "futures.login",
            };
            out.push(ws_login_request(&self.creds, channel, LOGIN_ID, time));
        }
    }

    fn keepalive(&mut self, now_unix_ms: u64, out: &mut String) -> bool {
        ping(self.market).write_into(now_unix_ms, out);
        true
    }
}

/// One private stream, whether all its subscriptions were acknowledged, and its
/// trading API session.
#[derive(Debug)]
pub(super) struct Stream {
    pub ws: WsClient<GateHooks>,
    pub acked: usize,
    pub up: bool,
    pub api: WsApi,
}

/// A Gate order as REST answers and the `*.orders` pushes show it, spot or futures.
#[derive(Debug, Default)]
pub(super) struct GateOrder<'a> {
    pub id: &'a [u8],
    pub text: &'a [u8],
    pub symbol: &'a [u8],
    pub side: &'a [u8],
    pub amount: &'a [u8],
    pub left: &'a [u8],
    pub filled_amount: &'a [u8],
    pub size: &'a [u8],
    pub filled_total: &'a [u8],
    pub fee: &'a [u8],
    pub fee_currency: &'a [u8],
    pub fill_price: &'a [u8],
    /// The limit price.
    pub price: &'a [u8],
    pub tkfr: &'a [u8],
    pub status: &'a [u8],
    pub event: &'a [u8],
    pub finish_as: &'a [u8],
    pub tif: &'a [u8],
}

pub(super) fn parse_order<'a>(p: &mut Parser<'a>) -> Result<GateOrder<'a>, JsonError> {
    let mut o = GateOrder::default();
    for_fields(p, |k, p| {
        let slot = match k {
            b"id" => &mut o.id,
            b"text" => &mut o.text,
            b"currency_pair" | b"contract" => &mut o.symbol,
            b"side" => &mut o.side,
            b"amount" => &mut o.amount,
            b"left" => &mut o.left,
            b"filled_amount" => &mut o.filled_amount,
            b"size" => &mut o.size,
            b"filled_total" => &mut o.filled_total,
            b"fee" => &mut o.fee,
            b"fee_currency" => &mut o.fee_currency,
            b"fill_price" => &mut o.fill_price,
            b"price" => &mut o.price,
            b"tkfr" => &mut o.tkfr,
            b"status" => &mut o.status,
            b"event" => &mut o.event,
            b"finish_as" => &mut o.finish_as,
            b"time_in_force" | b"tif" => &mut o.tif,
            _ => return Ok(false),
        };
        *slot = scalar(p)?;
        Ok(true)
    })?;
    Ok(o)
}

/// A user trade push, spot or futures.
#[derive(Debug, Default)]
pub(super) struct GateTrade<'a> {
    pub id: &'a [u8],
    pub order_id: &'a [u8],
    pub text: &'a [u8],
    pub symbol: &'a [u8],
    pub side: &'a [u8],
    pub amount: &'a [u8],
    pub size: &'a [u8],
    pub price: &'a [u8],
    pub fee: &'a [u8],
    pub fee_currency: &'a [u8],
    pub role: &'a [u8],
}

pub(super) fn parse_trade<'a>(p: &mut Parser<'a>) -> Result<GateTrade<'a>, JsonError> {
    let mut t = GateTrade::default();
    for_fields(p, |k, p| {
        let slot = match k {
            b"id" => &mut t.id,
            b"order_id" => &mut t.order_id,
            b"text" => &mut t.text,
            b"currency_pair" | b"contract" => &mut t.symbol,
            b"side" => &mut t.side,
            b"amount" => &mut t.amount,
            b"size" => &mut t.size,
            b"price" => &mut t.price,
            b"fee" => &mut t.fee,
            b"fee_currency" => &mut t.fee_currency,
            b"role" => &mut t.role,
            _ => return Ok(false),
        };
        *slot = scalar(p)?;
        Ok(true)
    })?;
    Ok(t)
}

/// How an order report is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Use {
    /// An order report (answer to create or cancel, a push): fills and the end.
    Report,
    /// The answer to a query the state stage asked for.
    Status,
}

pub(super) fn sym(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or("")
}

pub(super) fn position(core: &mut Core, contract: &[u8], size: &[u8]) {
    let Some(inst) = core.instruments.find(Venue::GateIo, Market::Futures, sym(contract)) else { return };
    let scale = core.instruments.get(inst).qty_scale;
    if let Some(q) = contracts_qty(size, scale) {
        core.futures_position(inst, q);
    }
}

/// One of our orders in a list answer, for a restart's discovery: `None` when its text
/// is not one of our client ids or its numbers do not read at the instrument's scale.
pub(super) fn discovered(core: &Core, market: Market, o: &GateOrder<'_>) -> Option<DiscoveredOrder> {
    let client = parse_client_id(core.prefix, o.text)?;
    let inst = core.instruments.find(Venue::GateIo, market, sym(o.symbol))?;
    let i = core.instruments.get(inst);
    let (side, qty) = match market {
        Market::Spot => {
            (if o.side == b"sell" { Side::Sell } else { Side::Buy }, parse_qty(o.amount, i.qty_scale)?)
        }
        Market::Futures => {
            let size = contracts_qty(o.size, i.qty_scale)?;
            (if size.0 < 0 { Side::Sell } else { Side::Buy }, Qty(size.0.checked_abs()?))
        }
    };
    let price = parse_price(o.price, i.price_scale)?;
    Some(DiscoveredOrder { client, inst, side, price, qty, open: o.status == b"open" })
}

/// Applies one order report (answer or push) to its slot; false when it cannot be read:
/// an instrument not traded here, or quantities that do not parse or do not add up.
pub(super) fn apply_order(
    core: &mut Core,
    market: Market,
    o: &GateOrder<'_>,
    how: Use,
    stream_up: bool,
    slot: Option<usize>,
) -> bool {
    let ts = core.now_ns();
    let Some(inst_id) = core.instruments.find(Venue::GateIo, market, sym(o.symbol)) else { return false };
    let inst = core.instruments.get(inst_id);
    let client = parse_client_id(core.prefix, o.text);
    let side = match market {
        Market::Spot if o.side == b"sell" => Side::Sell,
        Market::Spot => Side::Buy,
        Market::Futures if o.size.first() == Some(&b'-') => Side::Sell,
        Market::Futures => Side::Buy,
    };
    let k = match (slot, client) {
        (Some(k), _) => k,
        (None, Some(c)) => core.tracker.find_or_open(c, inst_id, side, ts),
        (None, None) => {
            if how == Use::Report {
                let qty = match market {
                    Market::Spot => parse_qty(o.amount, inst.qty_scale),
                    Market::Futures => {
                        contracts_qty(o.size, inst.qty_scale).and_then(|q| q.0.checked_abs()).map(Qty)
                    }
                };
                core.foreign(&ForeignReport {
                    venue: Venue::GateIo,
                    market,
                    symbol: sym(o.symbol),
                    side,
                    fill: false,
                    price: Price::ZERO,
                    qty: qty.unwrap_or(Qty::ZERO),
                    fee: Amount::ZERO,
                    fee_asset: inst.quote,
                    client: o.text,
                    order_id: o.id,
                    trade_id: 0,
                });
            }
            return true;
        }
    };
    core.tracker.set_venue_order(k, o.id);
    let finished = matches!(o.status, b"closed" | b"cancelled" | b"finished") || o.event == b"finish";
    let fok = o.tif == b"fok";
    core.tracker.set_fok(k, fok);
    let (filled, c) = match market {
        Market::Spot => {
            let scale = inst.qty_scale;
            let filled = if o.filled_amount.is_empty() {
                match (parse_qty(o.amount, scale), parse_qty(o.left, scale)) {
                    (Some(a), Some(l)) if (0..=a.0).contains(&l.0) => Qty(a.0 - l.0),
                    _ => return false,
                }
            } else {
                match parse_qty(o.filled_amount, scale) {
                    Some(f) if f.0 >= 0 => f,
                    _ => return false,
                }
            };
            let fee_asset = core.asset(o.fee_currency);
            let c = Cumulative {
                filled,
                value: parse_amount(o.filled_total).unwrap_or(Amount::ZERO),
                fee: parse_amount(o.fee).unwrap_or(Amount::ZERO),
                fee_asset,
                exact: true,
            };
            (filled, c)
        }
        Market::Futures => {
            let scale = inst.qty_scale;
            let (Some(size), Some(left)) = (contracts_qty(o.size, scale), contracts_qty(o.left, scale))
            else {
                return false;
            };
            let (Some(size_abs), Some(left_abs)) = (size.0.checked_abs(), left.0.checked_abs()) else {
                return false;
            };
            if left_abs > size_abs {
                return false;
            }
            let filled = Qty(size_abs - left_abs);
            let price = parse_price(o.fill_price, inst.price_scale).unwrap_or(Price::ZERO);
            let value = inst.notional(price, filled, Rounding::Floor).unwrap_or(Amount::ZERO);
            let rate = parse_rate(o.tkfr).unwrap_or(inst.taker_fee).max(Rate::ZERO);
            let fee = value.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
            let c = Cumulative { filled, value, fee, fee_asset: inst.quote, exact: false };
            core.tracker.set_qty(k, Qty(size_abs));
            (filled, c)
        }
    };
    match how {
        Use::Status => core.tracker.status(k, c, !finished, ts),
        Use::Report => {
            if !(finished && filled.is_zero() && fok) {
                core.tracker.accepted(k, ts);
            }
            let defer = stream_up.then_some(core.timing.grace_ns);
            core.tracker.cumulative(k, c, ts, defer);
            if finished {
                core.tracker.terminal(k, filled, ts);
            }
        }
    }
    true
}

/// Handles one text frame of a private stream.
pub(super) fn on_push(
    core: &mut Core,
    market: Market,
    text: &[u8],
    acked: &mut usize,
    stream_up: bool,
    api: &mut WsApi,
) {
    let mut channel: &[u8] = b"";
    let mut event: &[u8] = b"";
    let mut result: &[u8] = b"";
    let mut error: &[u8] = b"";
    let mut answer = Answer { request_id: b"", ack: b"", header: b"", data: b"" };
    let mut p = Parser::new(text);
    if for_fields(&mut p, |k, p| {
        match k {
            b"channel" => channel = scalar(p)?,
            b"event" => event = scalar(p)?,
            b"result" => result = p.skip()?,
            b"error" => error = p.skip()?,
            b"request_id" => answer.request_id = scalar(p)?,
            b"ack" => answer.ack = scalar(p)?,
            b"header" => answer.header = p.skip()?,
            b"data" => answer.data = p.skip()?,
            _ => return Ok(false),
        }
        Ok(true)
    })
    .is_err()
    {
        return;
    }
    if !answer.request_id.is_empty() {
        on_answer(core, market, &answer, stream_up, api);
        return;
    }
    let ts = core.now_ns();
    if event == b"subscribe" {
        if error.is_empty() || error == b"null" {
            if contains(result, b"success") {
                *acked += 1;
            }
        } else {
            core.notice_parts(Venue::GateIo, market, RejectReason::Auth, 0, channel, error);
        }
        return;
    }
    if event != b"update" && event != b"all" {
        return;
    }
    let mut p = Parser::new(result);
    let _ = match channel {
        b"spot.orders" | b"futures.orders" => for_items(&mut p, |p| {
            let o = parse_order(p)?;
            apply_order(core, market, &o, Use::Report, stream_up, None);
            Ok(())
        }),
        b"spot.usertrades" | b"futures.usertrades" => for_items(&mut p, |p| {
            let t = parse_trade(p)?;
            apply_trade(core, market, &t);
            Ok(())
        }),
        b"spot.balances" => for_items(&mut p, |p| {
            let [cur, avail, freeze] = fields(p, [b"currency", b"available", b"freeze"])?;
            core.balance(Venue::GateIo, cur, avail, freeze, ts);
            Ok(())
        }),
        b"futures.balances" => for_items(&mut p, |p| {
            let [balance, kind, change, time, time_ms] =
                fields(p, [b"balance", b"type", b"change", b"time", b"time_ms"])?;
            if kind == b"fund" {
                // Funding, as Gate books it on the futures account; the account book read
                // over REST brings the same entry (and those pushed while this stream was
                // down), so it is booked by its key once.
                match FundingEntry::parse(time, change, balance) {
                    Some(mut e) => {
                        if let Some(ms) =
                            std::str::from_utf8(time_ms).ok().and_then(|t| t.parse::<u64>().ok())
                        {
                            e.time_ms = ms;
                        }
                        core.funding_push(Venue::GateIo, e);
                    }
                    None => core.funding(Venue::GateIo, parse_amount(change), parse_amount(balance)),
                }
            } else {
                core.futures_balance(Venue::GateIo, parse_amount(balance), None);
            }
            Ok(())
        }),
        b"futures.positions" => for_items(&mut p, |p| {
            let [c, size] = fields(p, [b"contract", b"size"])?;
            position(core, c, size);
            Ok(())
        }),
        _ => Ok(()),
    };
}

/// Applies one user trade push.
pub(super) fn apply_trade(core: &mut Core, market: Market, t: &GateTrade<'_>) {
    let ts = core.now_ns();
    let client = parse_client_id(core.prefix, t.text);
    let Some(inst_id) = core.instruments.find(Venue::GateIo, market, sym(t.symbol)) else { return };
    let inst = core.instruments.get(inst_id);
    let (side, qty) = match market {
        Market::Spot => {
            let Some(q) = parse_qty(t.amount, inst.qty_scale) else { return };
            (if t.side == b"sell" { Side::Sell } else { Side::Buy }, q)
        }
        Market::Futures => {
            let Some(q) = contracts_qty(t.size, inst.qty_scale) else { return };
            (if q.0 < 0 { Side::Sell } else { Side::Buy }, Qty(q.0.abs()))
        }
    };
    let Some(price) = parse_price(t.price, inst.price_scale) else { return };
    let (fee, fee_asset) = match market {
        Market::Spot => (parse_amount(t.fee).unwrap_or(Amount::ZERO), core.asset(t.fee_currency)),
        Market::Futures => {
            // Older pushes carry no fee: the taker (or maker) rate of the instrument.
            let fee = parse_amount(t.fee).unwrap_or_else(|| {
                let rate = if t.role == b"maker" { inst.maker_fee } else { inst.taker_fee };
                inst.notional(price, qty, Rounding::Floor)
                    .and_then(|v| v.mul_rate(rate, Rounding::Ceil))
                    .unwrap_or(Amount::ZERO)
            });
            (fee, inst.quote)
        }
    };
    let trade = Trade { id: trade_id(t.id), price, qty, fee, fee_asset };
    let Some(client) = client else {
        core.foreign(&ForeignReport {
            venue: Venue::GateIo,
            market,
            symbol: sym(t.symbol),
            side,
            fill: true,
            price,
            qty,
            fee,
            fee_asset,
            client: t.text,
            order_id: t.order_id,
            trade_id: trade.id,
        });
        return;
    };
    let k = core.tracker.find_or_open(client, inst_id, side, ts);
    if !t.order_id.is_empty() {
        core.tracker.set_venue_order(k, t.order_id);
    }
    core.tracker.trade(k, trade, ts);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn events(core: &mut Core) -> Vec<pipeline::msg::StateInput> {
        core.tracker.out.drain(..).collect()
    }

    #[test]
    fn recorded_private_pushes_decode() {
        use pipeline::msg::{OrderUpdate, StateInput};
        let specs: Vec<_> = sim::catalog::listings().iter().map(|l| l.spec()).collect();
        let instruments = Arc::new(pipeline::types::Instruments::from_specs(&specs).unwrap());
        let perp = instruments.find(Venue::GateIo, Market::Futures, "BTC_USDT").unwrap();
        let mut core = crate::orders::core::test_core(instruments.clone());
        let mut acked = 0;
        // futures.orders (2024): numeric prices, an id above 2^53, kept as text.
        let line = include_str!("../../../test_data/gateio/futures_ws_orders.jsonl").lines().next().unwrap();
        let line = line.replace(r#""text":"api""#, r#""text":"t-5-0-0""#);
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false, &mut WsApi::default());
        let e = events(&mut core);
        match e.as_slice() {
            [StateInput::Order(o)] => {
                assert_eq!(o.update, OrderUpdate::Accepted);
                assert_eq!(o.venue_order.as_str(), "58828270140012048");
                assert_eq!((o.client.op, o.inst, o.side), (5, perp, Side::Buy));
            }
            other => panic!("{other:?}"),
        }
        // futures.usertrades (2022): a sell of one contract, no fee field: the taker rate.
        let line =
            include_str!("../../../test_data/gateio/futures_ws_usertrades.jsonl").lines().next().unwrap();
        let line = line.replace("t-WVG7TYUDYQ06X36ST644NPAG", "t-6-0-0");
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false, &mut WsApi::default());
        let e = events(&mut core);
        let fill = e.iter().find_map(|e| match e {
            StateInput::Order(o) => match o.update {
                OrderUpdate::Fill { price, qty, fee, trade_id, .. } => {
                    Some((o.side, price, qty, fee, trade_id))
                }
                _ => None,
            },
            _ => None,
        });
        let inst = instruments.get(perp);
        assert_eq!(
            fill,
            Some((
                Side::Sell,
                Price::parse("42500", inst.price_scale).unwrap(),
                Qty::parse("1", inst.qty_scale).unwrap(),
                Amount::parse("0.002125").unwrap(),
                3_619_351
            ))
        );
        // futures.balances and futures.positions carry floats: read exactly as text.
        let line =
            include_str!("../../../test_data/gateio/futures_ws_balances.jsonl").lines().next().unwrap();
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false, &mut WsApi::default());
        assert_eq!(
            core.futures_balance_of(Venue::GateIo).map(|b| b.0),
            Amount::parse("989.374310681771").ok()
        );
        // ... and reaches the state stage as the futures wallet's cash, no funding in it.
        match events(&mut core).as_slice() {
            [StateInput::FuturesWallet(w)] => {
                assert_eq!(w.balance, Amount::parse("989.374310681771").ok());
                assert_eq!(w.funding, Amount::ZERO);
            }
            other => panic!("{other:?}"),
        }
        let line =
            include_str!("../../../test_data/gateio/futures_ws_positions.jsonl").lines().nth(1).unwrap();
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false, &mut WsApi::default());
        assert_eq!(core.futures_position_of(perp), Qty::parse("-22", inst.qty_scale).ok());
        // ... and reaches the state stage, which reconciles it with the contracts it booked.
        match events(&mut core).as_slice() {
            [StateInput::FuturesPosition(p)] => {
                assert_eq!((p.inst, Some(p.contracts)), (perp, Qty::parse("-22", inst.qty_scale).ok()));
            }
            other => panic!("{other:?}"),
        }
        // spot.balances with 20 decimal places: rounded down to 18.
        let result = include_str!("../../../test_data/gateio/spot_ws_balances_result_only.jsonl")
            .lines()
            .next()
            .unwrap();
        let line = format!(r#"{{"channel":"spot.balances","event":"update","result":{result}}}"#);
        on_push(&mut core, Market::Spot, line.as_bytes(), &mut acked, false, &mut WsApi::default());
        match events(&mut core).as_slice() {
            [StateInput::Balance(b)] => {
                assert_eq!(b.available, Amount::parse("3081.686422729910360621").unwrap());
                assert_eq!(b.locked, Amount::parse("5.325").unwrap());
            }
            other => panic!("{other:?}"),
        }
        // A subscription refused for a bad signature is kept as a notice.
        let refused = r#"{"time":1,"channel":"spot.orders","event":"subscribe","error":{"code":4,"message":"signature not valid"},"result":{"status":"fail"}}"#;
        on_push(&mut core, Market::Spot, refused.as_bytes(), &mut acked, false, &mut WsApi::default());
        assert_eq!(acked, 0);
        assert_eq!(core.notices().count(), 1);
    }

    #[test]
    fn an_order_report_whose_quantities_do_not_add_up_is_not_applied() {
        let specs: Vec<_> = sim::catalog::listings().iter().map(|l| l.spec()).collect();
        let instruments = Arc::new(pipeline::types::Instruments::from_specs(&specs).unwrap());
        let spot = instruments.find(Venue::GateIo, Market::Spot, "BTC_USDT").unwrap();
        let perp = instruments.find(Venue::GateIo, Market::Futures, "BTC_USDT").unwrap();
        let mut core = crate::orders::core::test_core(instruments.clone());
        let mut check = |market, inst, body: &str, readable: bool| {
            let req = pipeline::dispatch::OrderRequest {
                client: pipeline::msg::ClientOrderId { op: 1, leg: 0, attempt: 0 },
                inst,
                venue: Venue::GateIo,
                market,
                side: Side::Buy,
                price: Price(1),
                qty: Qty(1),
                tif: pipeline::journal::TimeInForce::Ioc,
                ts_ns: 0,
            };
            let k = core.tracker.open(&req, 0);
            let mut p = Parser::new(body.as_bytes());
            let report = parse_order(&mut p).unwrap();
            let applied = apply_order(&mut core, market, &report, Use::Report, false, Some(k));
            assert_eq!(applied, readable, "{body}");
            core.tracker.forget(k);
            events(&mut core);
        };
        let s = r#"{"id":"1","text":"t-1-0-0","currency_pair":"BTC_USDT","side":"buy","status":"closed""#;
        check(Market::Spot, spot, &format!(r#"{s},"amount":"0.5","left":"0.2"}}"#), true);
        check(Market::Spot, spot, &format!(r#"{s},"amount":"0.5","left":"0.7"}}"#), false);
        check(Market::Spot, spot, &format!(r#"{s},"amount":"0.5","left":"-0.1"}}"#), false);
        check(Market::Spot, spot, &format!(r#"{s},"filled_amount":"-0.5"}}"#), false);
        check(Market::Spot, spot, &format!(r#"{s},"amount":"0.5"}}"#), false);
        let f = r#"{"id":"1","text":"t-1-0-0","contract":"BTC_USDT","status":"finished""#;
        check(Market::Futures, perp, &format!(r#"{f},"size":"-3","left":"-1"}}"#), true);
        check(Market::Futures, perp, &format!(r#"{f},"size":"3","left":"4"}}"#), false);
        check(Market::Futures, perp, &format!(r#"{f},"size":"-9223372036854775808","left":"0"}}"#), false);
        check(Market::Futures, perp, r#"{"contract":"NOPE_USDT","size":"1","left":"0"}"#, false);
    }

    #[test]
    fn another_instances_orders_and_fills_are_foreign_and_reported_once() {
        use pipeline::journal::ClientPrefix;
        use pipeline::msg::StateInput;
        let specs: Vec<_> = sim::catalog::listings().iter().map(|l| l.spec()).collect();
        let instruments = Arc::new(pipeline::types::Instruments::from_specs(&specs).unwrap());
        let perp = instruments.find(Venue::GateIo, Market::Futures, "BTC_USDT").unwrap();
        let mut core = crate::orders::core::test_core(instruments.clone());
        core.prefix = ClientPrefix::new("aaaaaa").unwrap();
        let mut acked = 0;
        let order = include_str!("../../../test_data/gateio/futures_ws_orders.jsonl").lines().next().unwrap();
        let trade =
            include_str!("../../../test_data/gateio/futures_ws_usertrades.jsonl").lines().next().unwrap();
        // Another engine's operation 5 and a manual order: foreign, each reported once.
        for text in ["t-bbbbbb5-0-0", "t-5-0-0", "t-manual"] {
            let o = order.replace(r#""text":"api""#, &format!(r#""text":"{text}""#));
            let t = trade.replace("t-WVG7TYUDYQ06X36ST644NPAG", text);
            for _ in 0..2 {
                on_push(&mut core, Market::Futures, o.as_bytes(), &mut acked, false, &mut WsApi::default());
                on_push(&mut core, Market::Futures, t.as_bytes(), &mut acked, false, &mut WsApi::default());
            }
        }
        let e = events(&mut core);
        let foreign: Vec<_> = e
            .iter()
            .map(|e| match e {
                StateInput::Foreign(f) => f,
                other => panic!("adopted: {other:?}"),
            })
            .collect();
        // Whatever its text, the recording is one order and one trade (the same venue
        // ids): reported once each, however often it is pushed.
        assert_eq!(foreign.iter().filter(|f| !f.fill).count(), 1, "{foreign:?}");
        let fill = foreign.iter().find(|f| f.fill).unwrap();
        assert_eq!((fill.inst, fill.side, fill.client_text.as_str()), (perp, Side::Sell, "t-bbbbbb5-0-0"));
        assert_eq!(fill.qty, Qty::parse("1", instruments.get(perp).qty_scale).unwrap());
        // This instance's own id is still its own.
        let t = trade.replace("t-WVG7TYUDYQ06X36ST644NPAG", "t-aaaaaa6-0-0");
        on_push(&mut core, Market::Futures, t.as_bytes(), &mut acked, false, &mut WsApi::default());
        assert!(events(&mut core).iter().all(|e| matches!(e, StateInput::Order(o) if o.client.op == 6)));
    }
}
