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
use pipeline::msg::{ClientOrderId, RejectReason};
use pipeline::types::{Instrument, Market, Venue};

use super::orders::{error_body, order_body, reason_of};
use super::private::{Use, apply_order, parse_order};
use crate::json::Parser;
use crate::orders::core::Core;
use crate::orders::templates::Templates;
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
    /// The orders sent on this session and not answered yet.
    in_flight: [ClientOrderId; MAX_IN_FLIGHT],
    n: usize,
}

impl Default for WsApi {
    fn default() -> Self {
        WsApi { enabled: false, logged_in: false, in_flight: [ClientOrderId::default(); MAX_IN_FLIGHT], n: 0 }
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

    /// Order `client` went out on this session.
    pub(super) fn sent(&mut self, client: ClientOrderId) {
        if self.n < MAX_IN_FLIGHT {
            self.in_flight[self.n] = client;
            self.n += 1;
        }
    }

    /// Takes `client` off the unanswered list; false when it was not on it.
    fn answered(&mut self, client: ClientOrderId) -> bool {
        let Some(i) = self.in_flight[..self.n].iter().position(|&c| c == client) else { return false };
        self.n -= 1;
        self.in_flight[i] = self.in_flight[self.n];
        true
    }

    /// The session ended (or a new one opened): no login, and every order still
    /// unanswered (and still tracked) has an unknown outcome.
    pub(super) fn session_ended(&mut self, core: &mut Core) {
        self.logged_in = false;
        let ts = core.now_ns();
        for &client in &self.in_flight[..self.n] {
            if let Some(k) = core.tracker.find(client) {
                core.tracker.unknown(k, ts);
            }
        }
        self.n = 0;
    }
}

/// Writes the request placing `req` into `m` (cleared first), with the REST body built
/// in `body` as its `req_param` and the client id as its `req_id`.
#[allow(clippy::too_many_arguments)]
pub fn order_message(
    m: &mut String,
    body: &mut String,
    templates: &mut Templates,
    req: &OrderRequest,
    inst: &Instrument,
    prefix: ClientPrefix,
    time_s: u64,
    exptime_ms: u64,
) {
    order_body(body, templates, req, inst, prefix);
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
    if !api.answered(client) {
        return;
    }
    let Some(k) = core.tracker.find(client) else { return };
    let code = std::str::from_utf8(status).ok().and_then(|s| s.parse::<u16>().ok()).unwrap_or(0);
    if ok {
        let mut p = Parser::new(result);
        let applied =
            parse_order(&mut p).is_ok_and(|o| apply_order(core, market, &o, Use::Report, stream_up, Some(k)));
        if !applied {
            // Placed, but unreadable: the query says how it ended.
            core.tracker.unknown(k, core.now_ns());
        }
        return;
    }
    // Only a 4xx refuses the order. A server error, or an answer that cannot be read, may
    // come from an order that was placed, as over REST.
    if !(400..500).contains(&code) {
        core.tracker.unknown(k, core.now_ns());
        return;
    }
    let (label, message) = error_body(errs);
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
    use std::sync::Arc;

    use super::*;
    use crate::orders::core::Timing;
    use crate::venues::gateio::private::on_push;
    use pipeline::dispatch::OrderRequest;
    use pipeline::journal::TimeInForce;
    use pipeline::msg::{OrderUpdate, StateInput};
    use pipeline::types::{InstrumentSpec, Instruments, Price, Qty, Side, Venue};

    fn table() -> Instruments {
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
        Instruments::from_specs(&[spec]).unwrap()
    }

    fn request(inst: &Instrument, op: u64) -> OrderRequest {
        OrderRequest {
            client: ClientOrderId { op, leg: 1, attempt: 2 },
            venue: Venue::GateIo,
            market: Market::Spot,
            inst: inst.id,
            side: Side::Buy,
            price: Price::parse("65000.1", inst.price_scale).unwrap(),
            qty: Qty::parse("0.0012", inst.qty_scale).unwrap(),
            tif: TimeInForce::Ioc,
            ts_ns: 0,
        }
    }

    #[test]
    fn an_order_place_request_wraps_the_rest_body() {
        let t = table();
        let inst = t.get(pipeline::types::InstrumentId(0));
        let req = request(inst, 7);
        let prefix = ClientPrefix::new("kqzvme").unwrap();
        let (mut m, mut body) = (String::new(), String::new());
        let mut t = super::super::orders::templates();
        order_message(&mut m, &mut body, &mut t, &req, inst, prefix, 1_681_986_203, 1_681_986_208_000);
        assert_eq!(
            m,
            r#"{"time":1681986203,"channel":"spot.order_place","event":"api","payload":{"req_id":"kqzvme7-1-2","req_header":{"x-gate-exptime":"1681986208000"},"req_param":{"text":"t-kqzvme7-1-2","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy","amount":"0.0012","price":"65000.1","time_in_force":"ioc"}}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["payload"]["req_param"]["text"], "t-kqzvme7-1-2");
    }

    fn updates(core: &mut Core) -> Vec<OrderUpdate> {
        core.tracker
            .out
            .drain(..)
            .filter_map(|e| match e {
                StateInput::Order(o) => Some(o.update),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn answers_reach_the_orders_sent_on_the_session_and_the_ack_is_not_one() {
        let t = Arc::new(table());
        let timing = Timing {
            request_timeout_ms: 5_000,
            grace_ns: 1_000_000,
            settle_ns: 1_000_000,
            not_found_grace_ns: 1_000_000,
            keepalive_ns: 1_000_000_000,
            backoff_ns: 1_000_000,
            disabled_ns: 1_000_000,
        };
        let mut core = Core::new(t.clone(), quanta::Clock::mock().0, timing);
        core.prefix = ClientPrefix::new("kqzvme").unwrap();
        let inst = t.get(pipeline::types::InstrumentId(0));
        let mut api = WsApi::new(true);
        let mut acked = 0;
        let mut push = |core: &mut Core, api: &mut WsApi, text: &str| {
            on_push(core, Market::Spot, text.as_bytes(), &mut acked, true, api);
        };
        let header =
            r#""header":{"response_time":"1","status":"200","channel":"spot.order_place","event":"api"}"#;

        // The login: refused, then accepted.
        push(
            &mut core,
            &mut api,
            r#"{"request_id":"login","header":{"status":"401"},"data":{"errs":{"label":"INVALID_KEY","message":"Invalid key provided"}}}"#,
        );
        assert!(!api.ready());
        push(
            &mut core,
            &mut api,
            r#"{"request_id":"login","header":{"status":"200"},"data":{"result":{"api_key":"k","uid":"1"}}}"#,
        );
        assert!(api.ready());

        let filled = request(inst, 7);
        core.tracker.open(&filled, 0);
        api.sent(filled.client);
        let _ = updates(&mut core);
        // The ack echoes the request: nothing happens to the order.
        let ack = format!(
            r#"{{"request_id":"kqzvme7-1-2","ack":true,{header},"data":{{"result":{{"req_id":"kqzvme7-1-2","req_header":null,"req_param":{{"text":"t-kqzvme7-1-2","currency_pair":"BTC_USDT","side":"buy","amount":"0.0012","price":"65000.1"}}}}}}}}"#
        );
        push(&mut core, &mut api, &ack);
        assert_eq!(updates(&mut core), vec![]);
        assert_eq!(api.n, 1, "still unanswered");
        // The result: the order as REST returns it.
        let result = format!(
            r#"{{"request_id":"kqzvme7-1-2","ack":false,{header},"data":{{"result":{{"id":"1852","text":"t-kqzvme7-1-2","status":"closed","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy","amount":"0.0012","price":"65000.1","time_in_force":"ioc","left":"0","filled_amount":"0.0012","filled_total":"78.00012","fee":"0.0000024","fee_currency":"BTC","finish_as":"filled"}}}}}}"#
        );
        push(&mut core, &mut api, &result);
        let got = updates(&mut core);
        assert!(got.contains(&OrderUpdate::Accepted), "{got:?}");
        assert!(
            got.iter().any(|u| matches!(u, OrderUpdate::Done { filled } if *filled == filled_qty(inst))),
            "{got:?}"
        );
        assert_eq!(api.n, 0);
        // A second copy of the result is not an answer to anything sent.
        push(&mut core, &mut api, &result);
        assert_eq!(updates(&mut core), vec![]);

        // A refusal: the order is rejected with the label's reason.
        let refused_req = request(inst, 8);
        core.tracker.open(&refused_req, 0);
        api.sent(refused_req.client);
        let _ = updates(&mut core);
        push(
            &mut core,
            &mut api,
            r#"{"request_id":"kqzvme8-1-2","ack":false,"header":{"status":"400","channel":"spot.order_place"},"data":{"errs":{"label":"BALANCE_NOT_ENOUGH","message":"Not enough balance"}}}"#,
        );
        assert_eq!(updates(&mut core), vec![OrderUpdate::Rejected(RejectReason::InsufficientBalance)]);

        // A server error, a header without a status, a 200 whose order cannot be read: the
        // order may have been placed, so its outcome is unknown (to be queried), never a
        // reject.
        for (op, answer) in [
            (
                10,
                r#""header":{"status":"500"},"data":{"errs":{"label":"SERVER_ERROR","message":"Internal error"}}"#,
            ),
            (11, r#""header":{"channel":"spot.order_place"},"data":{"errs":{"label":"X","message":"?"}}"#),
            (12, r#""header":{"status":"200"},"data":{"result":{"id":7}}"#),
            (13, r#""header":{"status":"200"},"data":{"result":{"id":"1"},"errs":{"label":"X"}}"#),
        ] {
            let req = request(inst, op);
            core.tracker.open(&req, 0);
            api.sent(req.client);
            let _ = updates(&mut core);
            push(&mut core, &mut api, &format!(r#"{{"request_id":"kqzvme{op}-1-2","ack":false,{answer}}}"#));
            assert_eq!(updates(&mut core), vec![OrderUpdate::Unknown], "{answer}");
        }

        // Sent, then the session ended before an answer: unknown, to be queried.
        let lost = request(inst, 9);
        core.tracker.open(&lost, 0);
        api.sent(lost.client);
        let _ = updates(&mut core);
        api.session_ended(&mut core);
        assert!(!api.ready() && api.n == 0);
        assert_eq!(updates(&mut core), vec![OrderUpdate::Unknown]);
    }

    fn filled_qty(inst: &Instrument) -> Qty {
        Qty::parse("0.0012", inst.qty_scale).unwrap()
    }
}
