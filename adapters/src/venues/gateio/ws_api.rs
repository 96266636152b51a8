//! Gate.io order entry over the WebSocket trading API (protocols.md D.4, E.2), on the
//! private stream's own connection: one signed `spot.login` / `futures.login` per session,
//! then `*.order_place` requests that carry no signature, each answered twice (an ack,
//! then the order as REST would return it, or an error).
//!
//! Against REST an order skips the SHA-512 of its body, the HMAC, the HTTP head and the
//! connection pool: one WebSocket frame on a connection that is already up. The REST
//! path stays the fallback: an order goes over REST whenever the stream is down, not yet
//! logged in, or has [`MAX_IN_FLIGHT`] orders unanswered.
//!
//! An order that was sent and not answered when the session ends has an unknown outcome:
//! it is marked so, and the order tracker's queries (REST, by its `t-` text) find out
//! what became of it. The request carries `x-gate-exptime` like REST's header, so an
//! order that reaches Gate after we gave up on it is refused there.

use pipeline::dispatch::OrderRequest;
use pipeline::journal::ClientPrefix;
use pipeline::msg::RejectReason;
use pipeline::types::{Instrument, Market, Venue};

use super::orders::{error_body, order_body, reason_of};
use super::private::{Use, apply_order, parse_order};
use crate::json::Parser;
use crate::orders::core::Core;
use crate::orders::wire::{for_fields, parse_client_id, push_client_id, scalar};

/// Orders one session may have sent and not seen answered; more go over REST.
pub(super) const MAX_IN_FLIGHT: usize = 64;

/// The `req_id` of the login request.
pub(super) const LOGIN_ID: &str = "login";

/// How orders reach Gate.io (`[orders.gateio] order_entry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderEntry {
    /// `POST /spot/orders` and `/futures/usdt/orders`, signed per request.
    #[default]
    Rest,
    /// `spot.order_place` and `futures.order_place` on the private streams after a
    /// login, with REST as the fallback.
    Ws,
}

/// The trading API's state on one private stream.
#[derive(Debug)]
pub(super) struct WsApi {
    /// Order entry over this stream is configured.
    pub enabled: bool,
    /// The session's login was answered with success.
    pub logged_in: bool,
    /// Tracker slots of the orders sent on this session and not answered yet.
    in_flight: [u32; MAX_IN_FLIGHT],
    n: usize,
}

impl Default for WsApi {
    fn default() -> Self {
        WsApi { enabled: false, logged_in: false, in_flight: [0; MAX_IN_FLIGHT], n: 0 }
    }
}

impl WsApi {
    pub(super) fn new(enabled: bool) -> Self {
        WsApi { enabled, ..WsApi::default() }
    }

    /// An order can go out on this stream now (it must also be up).
    pub(super) fn ready(&self) -> bool {
        self.enabled && self.logged_in && self.n < MAX_IN_FLIGHT
    }

    /// Order slot `k` went out on this session.
    pub(super) fn sent(&mut self, k: usize) {
        if self.n < MAX_IN_FLIGHT {
            self.in_flight[self.n] = k as u32;
            self.n += 1;
        }
    }

    /// Takes slot `k` off the unanswered list; false when it was not on it.
    fn answered(&mut self, k: usize) -> bool {
        let Some(i) = self.in_flight[..self.n].iter().position(|&s| s as usize == k) else { return false };
        self.n -= 1;
        self.in_flight[i] = self.in_flight[self.n];
        true
    }

    /// The session ended (or a new one opened): no login, and every order still
    /// unanswered has an unknown outcome.
    pub(super) fn session_ended(&mut self, core: &mut Core) {
        self.logged_in = false;
        let ts = core.now_ns();
        for &k in &self.in_flight[..self.n] {
            core.tracker.unknown(k as usize, ts);
        }
        self.n = 0;
    }
}

/// Writes the request placing `req` into `m` (cleared first), with the REST body built
/// in `body` as its `req_param` and the client id as its `req_id`.
pub fn order_message(
    m: &mut String,
    body: &mut String,
    req: &OrderRequest,
    inst: &Instrument,
    prefix: ClientPrefix,
    time_s: u64,
    exptime_ms: u64,
) {
    order_body(body, req, inst, prefix);
    m.clear();
    let channel = match req.market {
        Market::Spot => "spot.order_place",
        Market::Futures => "futures.order_place",
    };
    let _ = std::fmt::Write::write_fmt(
        m,
        format_args!(r#"{{"time":{time_s},"channel":"{channel}","event":"api","payload":{{"req_id":""#),
    );
    push_client_id(m, prefix, req.client);
    let _ = std::fmt::Write::write_fmt(
        m,
        format_args!(r#"","req_header":{{"x-gate-exptime":"{exptime_ms}"}},"req_param":"#),
    );
    m.push_str(body);
    m.push_str("}}");
}

/// An answer of the trading API: `request_id`, whether it is the ack, its header and its
/// data (the order, or `errs`).
#[derive(Debug)]
pub(super) struct Answer<'a> {
    pub request_id: &'a [u8],
    pub ack: &'a [u8],
    pub header: &'a [u8],
    pub data: &'a [u8],
}

/// Handles one answer on `market`'s private stream.
pub(super) fn on_answer(core: &mut Core, market: Market, a: &Answer<'_>, stream_up: bool, api: &mut WsApi) {
    let mut status: &[u8] = b"";
    let mut p = Parser::new(a.header);
    let _ = for_fields(&mut p, |k, p| {
        if k == b"status" {
            status = scalar(p)?;
            return Ok(true);
        }
        Ok(false)
    });
    let (mut result, mut errs): (&[u8], &[u8]) = (b"", b"");
    let mut p = Parser::new(a.data);
    let _ = for_fields(&mut p, |k, p| {
        match k {
            b"result" => result = p.skip()?,
            b"errs" => errs = p.skip()?,
            _ => return Ok(false),
        }
        Ok(true)
    });
    let ok = status == b"200" && errs.is_empty();
    if a.request_id == LOGIN_ID.as_bytes() {
        api.logged_in = ok;
        if !ok {
            let (label, message) = error_body(errs);
            core.notice_parts(Venue::GateIo, market, RejectReason::Auth, 0, label, message);
        }
        return;
    }
    if a.ack == b"true" {
        return;
    }
    let Some(client) = parse_client_id(core.prefix, a.request_id) else { return };
    let Some(k) = core.tracker.find(client) else { return };
    if !api.answered(k) {
        return;
    }
    if ok {
        let mut p = Parser::new(result);
        if let Ok(o) = parse_order(&mut p) {
            apply_order(core, market, &o, Use::Report, stream_up, Some(k));
        }
        return;
    }
    let (label, message) = error_body(errs);
    let code = std::str::from_utf8(status).ok().and_then(|s| s.parse::<u16>().ok()).unwrap_or(0);
    refused(core, market, k, code, label, message, code == 429, None);
}

/// An order Gate refused, over REST or the trading API alike: the reason from its label
/// (or the rate limit), the venue market blocked or disabled where that is the reason,
/// a notice, and the order rejected.
#[allow(clippy::too_many_arguments)]
pub(super) fn refused(
    core: &mut Core,
    market: Market,
    k: usize,
    status: u16,
    label: &[u8],
    message: &[u8],
    rate_limited: bool,
    retry_after: Option<std::time::Duration>,
) {
    let reason = if rate_limited { RejectReason::RateLimited } else { reason_of(label) };
    if reason == RejectReason::RateLimited {
        core.block(Venue::GateIo, market, retry_after);
    }
    if reason == RejectReason::TradingDisabled {
        core.disable(Venue::GateIo, market);
    }
    core.notice_parts(Venue::GateIo, market, reason, i64::from(status), label, message);
    core.tracker.rejected(k, reason, core.now_ns());
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::dispatch::OrderRequest;
    use pipeline::journal::TimeInForce;
    use pipeline::msg::ClientOrderId;
    use pipeline::types::{InstrumentSpec, Instruments, Price, Qty, Side, Venue};

    #[test]
    fn an_order_place_request_wraps_the_rest_body() {
        let spec = InstrumentSpec {
            venue: Venue::GateIo,
            market: Market::Spot,
            symbol: "BTC_USDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            tick: "0.1".into(),
            lot: "0.0001".into(),
            min_qty: None,
            max_qty: None,
            min_notional: None,
            contract_size: "1".into(),
            taker_fee: None,
            maker_fee: None,
            trading_enabled: true,
        };
        let t = Instruments::from_specs(&[spec]).unwrap();
        let inst = t.get(pipeline::types::InstrumentId(0));
        let req = OrderRequest {
            client: ClientOrderId { op: 7, leg: 1, attempt: 2 },
            venue: Venue::GateIo,
            market: Market::Spot,
            inst: inst.id,
            side: Side::Buy,
            price: Price::parse("65000.1", inst.price_scale).unwrap(),
            qty: Qty::parse("0.0012", inst.qty_scale).unwrap(),
            tif: TimeInForce::Ioc,
            ts_ns: 0,
        };
        let prefix = ClientPrefix::new("kqzvme").unwrap();
        let (mut m, mut body) = (String::new(), String::new());
        order_message(&mut m, &mut body, &req, inst, prefix, 1_681_986_203, 1_681_986_208_000);
        assert_eq!(
            m,
            r#"{"time":1681986203,"channel":"spot.order_place","event":"api","payload":{"req_id":"kqzvme7-1-2","req_header":{"x-gate-exptime":"1681986208000"},"req_param":{"text":"t-kqzvme7-1-2","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy","amount":"0.0012","price":"65000.1","time_in_force":"ioc"}}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["payload"]["req_param"]["text"], "t-kqzvme7-1-2");
    }
}
