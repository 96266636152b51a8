//! MEXC USDT perpetual futures (contract API) order entry and private stream.
//!
//! Requests (protocols.md C.2), signed with `ApiKey`, `Request-Time`, `Signature` over
//! `key + time + params` (the raw JSON body of a POST, the sorted query of a GET):
//! `POST /api/v1/private/order/submit` (`vol` in contracts, `type` 3 IOC or 4 FOK,
//! `externalOid` = client id), `POST /api/v1/private/order/cancel_with_external`,
//! `GET /api/v1/private/order/external/{symbol}/{externalOid}`,
//! `POST /api/v1/private/order/cancel_all`, `GET /api/v1/private/account/assets`,
//! `GET /api/v1/private/position/open_positions`,
//! `GET /api/v1/private/position/funding_records`. Answers are `{"success","code","data"}`
//! envelopes with HTTP 200 even for refusals.
//!
//! Funding and balances: MEXC pushes no funding entry, so funding is booked from the
//! history, read every 5 s. A balance query reads that history first and the account
//! after it, so that no balance reported leads the funding booked; the balance push
//! (`push.personal.asset`) reports only the margin and asks for such a query.
//!
//! Sides: the engine's orders are plain buys and sells of contracts, so a buy is sent as
//! side 1 (open long) and a sell as side 3 (open short), with `positionMode` 2
//! (one-way). In one-way mode the venue nets an order against the opposite position: a
//! sell while long reduces the long, a sell of more than the long flips to short, and a
//! "sell of a net short of nothing" simply opens a short. The close codes (2 close
//! short, 4 close long) are never used: they are reduce-only, and a position view that
//! is a moment stale would make them fail or, in hedge mode, leave both legs open. The
//! account must therefore be in one-way mode; the sink sends `positionMode` on every
//! order to say so.
//!
//! Availability: MEXC has marked futures order entry "under maintenance" for most
//! accounts since 2022 and answers `{"success":false,"code":1002,"message":"Contract not
//! allow place order!"}` (or 6001, or a message saying trading is not allowed). Such an
//! answer rejects the order with `TradingDisabled`, keeps a notice with the venue's text,
//! and makes the sink refuse further futures orders there (`NotSent(TradingDisabled)`)
//! for `trading_disabled_retry_ms`.
//!
//! The private stream is read in [`super::super::private::futures`].

use std::fmt::Write as _;
use std::sync::Arc;

use mio::event::Event;
use mio::{Registry, Token};
use pipeline::dispatch::{OrderRequest, SinkError};
use pipeline::journal::ClientPrefix;
use pipeline::journal::TimeInForce;
use pipeline::msg::{ClientOrderId, RejectReason};
use pipeline::types::{Instrument, InstrumentId, Market, Qty, Side, Venue};
use quanta::Instant;
use rustls::ClientConfig;

use super::config::{MexcEntryConfig, MexcOpenType};
use crate::auth::{Credentials, Decimal};
use crate::json::{Parser, contains};
use crate::net::http::{Completion, HttpClient, HttpConfig, Method, Outcome, Request};
use crate::net::ws::{Payload, WsClient, WsConfig, WsEvent};
use crate::orders::core::{Core, OrderEntryError};
use crate::orders::discover::DiscoveredOrder;
use crate::orders::pending::{Pending, PendingTable, RestTarget};
use crate::orders::templates::{Fragments, Templates};
use crate::orders::wire::{
    contracts_qty, fields, for_fields, for_items, parse_amount, parse_client_id, parse_price, push_client_id,
    push_contracts, scalar, wall_ms,
};
use crate::venues::mexc::private::futures::{
    FutOrder, MexcFuturesHooks, Pushed, Stream, apply_order, asset, envelope, on_push, parse_order, position,
};
use crate::venues::mexc::sign::futures_signature;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Warm,
    Create,
    Cancel,
    Query {
        external: bool,
    },
    CancelAll,
    Assets,
    Positions,
    /// The account's funding history (newest first); with `then_balances`, the first
    /// read of a balance query, after which the account and positions are read.
    Funding {
        then_balances: bool,
    },
    /// A restart's discovery: one contract's order history.
    Discover,
}

/// MEXC futures order entry.
pub(crate) struct MexcFuturesEntry {
    creds: Credentials,
    http: HttpClient,
    recv_window: Decimal,
    /// Request text per instrument, with the account's leverage and margin mode.
    templates: Templates,
    stream: Stream,
    pending: PendingTable<Kind>,
    target: RestTarget,
    body: String,
    warm: usize,
    warmed: bool,
    max_connections: usize,
    last_keepalive_ns: u64,
    last_funding_poll_ns: u64,
    /// A balance query is wanted: asked for by the state stage, or the venue pushed a
    /// new balance (after a funding settlement, say).
    balances_due: bool,
    /// A balance query's funding read is in flight, and when the last one went out.
    balances_in_flight: bool,
    last_balances_ns: u64,
}

/// How often the funding history is read: MEXC pushes no funding entry on the private
/// stream, so funding reaches the books within this long of its settlement.
const FUNDING_POLL_NS: u64 = 5_000_000_000;

/// The least time between two balance queries, so that a burst of balance pushes (one
/// per fill) costs one query.
const BALANCES_SPACING_NS: u64 = 1_000_000_000;

/// A balance query's funding read unanswered this long is taken as lost.
const BALANCES_LOST_NS: u64 = 30_000_000_000;

impl std::fmt::Debug for MexcFuturesEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MexcFuturesEntry")
            .field("http", &self.http)
            .field("stream_up", &self.stream.up)
            .finish_non_exhaustive()
    }
}

/// MEXC futures codes (and messages) as reject reasons.
pub(crate) fn reason_of(code: i64, msg: &[u8]) -> RejectReason {
    match code {
        2005 | 2009 => RejectReason::InsufficientBalance,
        2015 if contains(msg, b"minimum") || contains(msg, b"Minimum") => RejectReason::BelowMinimum,
        2015 => RejectReason::BadPrecision,
        1001 => RejectReason::UnknownInstrument,
        1002 | 6001 => RejectReason::TradingDisabled,
        401 | 402 | 406 | 513 | 602 => RejectReason::Auth,
        510 | 2037 => RejectReason::RateLimited,
        2040 => RejectReason::NotFound,
        _ if contains(msg, b"maintenance") || contains(msg, b"not allow") || contains(msg, b"forbidden") => {
            RejectReason::TradingDisabled
        }
        _ => RejectReason::Other,
    }
}

/// What a create answer that is not a success says of the order: the reason it was
/// refused, or `None` when the order may have been placed all the same. The contract API
/// answers everything with HTTP 200 and a code; an answer without one could not be read,
/// and 500 (internal error), 501 (system busy) and 9999 (public abnormal) are the
/// server's failures, unless 9999 says the API is under maintenance.
pub(crate) fn create_refused(code: i64, msg: &[u8]) -> Option<RejectReason> {
    let reason = reason_of(code, msg);
    match code {
        0 | 500 | 501 => None,
        9999 if reason != RejectReason::TradingDisabled => None,
        _ => Some(reason),
    }
}

/// Path of the futures order-create call.
pub const ORDER_PATH: &str = "/api/v1/private/order/submit";

/// MEXC futures' order templates for an account's `leverage` and `open_type`:
/// `{"symbol":…,"price":` before the price and `,"leverage":…,"externalOid":"` after the
/// contracts.
pub fn templates(leverage: u32, open_type: MexcOpenType) -> Templates {
    Templates::new(Box::new(move |inst, side, tif| Fragments {
        head: format!(r#"{{"symbol":"{}","price":"#, inst.symbol),
        tail: format!(
            r#","leverage":{},"side":{},"type":{},"openType":{},"positionMode":2,"externalOid":""#,
            leverage,
            if side == Side::Buy { 1 } else { 3 },
            if tif == TimeInForce::Fok { 4 } else { 3 },
            if open_type == MexcOpenType::Isolated { 1 } else { 2 },
        ),
    }))
}

/// Writes the JSON body of an order's create request (`POST` [`ORDER_PATH`]) into `b`
/// (cleared first) from its instrument's template (see [`templates`]); the body is also
/// the string its signature covers.
pub fn order_body(
    b: &mut String,
    templates: &mut Templates,
    req: &OrderRequest,
    inst: &Instrument,
    prefix: ClientPrefix,
) {
    b.clear();
    let f = templates.get(inst, req.side, req.tif);
    b.push_str(&f.head);
    req.price.display(inst.price_scale).push_to(b);
    b.push_str(r#","vol":"#);
    push_contracts(b, req.qty, inst.qty_scale, false);
    b.push_str(&f.tail);
    push_client_id(b, prefix, req.client);
    b.push_str("\"}");
}

impl MexcFuturesEntry {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: &MexcEntryConfig,
        creds: Credentials,
        core: &Core,
        http_cfg: HttpConfig,
        tls: Option<Arc<ClientConfig>>,
        registry: &Registry,
        first_token: usize,
        max_connections: usize,
    ) -> Result<Self, OrderEntryError> {
        let http = HttpClient::new(http_cfg, tls.clone(), registry, Token(first_token), core.clock.clone())?;
        let mut ws_cfg = WsConfig::new(&cfg.ws_futures_url);
        ws_cfg.stale_after = std::time::Duration::from_secs(60);
        ws_cfg.keepalive_every = std::time::Duration::from_secs(15);
        let ws = WsClient::new(
            ws_cfg,
            MexcFuturesHooks { creds: creds.clone() },
            tls,
            registry,
            Token(first_token + max_connections),
            core.clock.clone(),
        )?;
        let mut e = MexcFuturesEntry {
            creds,
            http,
            recv_window: Decimal::new((cfg.recv_window_ms / 1000).clamp(1, 60)),
            templates: {
                let mut t = templates(cfg.futures_leverage.max(1), cfg.futures_open_type);
                t.prepare(
                    core.instruments.iter().filter(|i| i.venue == Venue::Mexc && i.market == Market::Futures),
                );
                t
            },
            stream: Stream { ws, up: false },
            pending: PendingTable::new(),
            target: RestTarget::new(),
            body: String::with_capacity(512),
            warm: 0,
            warmed: false,
            max_connections,
            last_keepalive_ns: 0,
            last_funding_poll_ns: 0,
            balances_due: false,
            balances_in_flight: false,
            last_balances_ns: 0,
        };
        let now = core.clock.now();
        for _ in 0..max_connections {
            e.public_get(now);
        }
        Ok(e)
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.warmed && self.stream.up
    }

    pub(crate) fn on_event(&mut self, ev: &Event) -> bool {
        self.http.on_event(ev) || self.stream.ws.on_event(ev)
    }

    fn public_get(&mut self, now: Instant) {
        self.pending.track(
            self.http.submit(Request::get("/api/v1/contract/ping"), now),
            Kind::Warm,
            Pending::none(),
        );
    }

    /// Signs and submits `self.target` (GET/DELETE: its query is the parameter string)
    /// or `self.body` (POST).
    fn send(&mut self, method: Method, kind: Kind, meta: Pending, now: Instant) -> bool {
        let ts = wall_ms();
        let params = if method == Method::Post { self.body.as_str() } else { self.target.query() };
        let sig = futures_signature(&self.creds.api_secret, &self.creds.api_key, ts, params);
        let time = Decimal::new(ts);
        let headers = [
            ("ApiKey", self.creds.api_key.as_str()),
            ("Request-Time", time.as_str()),
            ("Signature", sig.as_str()),
            ("Recv-Window", self.recv_window.as_str()),
            ("Content-Type", "application/json"),
        ];
        let req = Request {
            method,
            target: self.target.as_str(),
            headers: &headers,
            body: self.body.as_bytes(),
            timeout: None,
        };
        let ok = self.pending.track(self.http.submit(req, now), kind, meta);
        self.body.clear();
        ok
    }

    pub(crate) fn submit(&mut self, req: &OrderRequest, core: &mut Core) -> Result<(), SinkError> {
        let instruments = Arc::clone(&core.instruments);
        let inst = instruments.get(req.inst);
        order_body(&mut self.body, &mut self.templates, req, inst, core.prefix);
        self.target.set("", ORDER_PATH, "");
        let k = core.tracker.open(req, core.now_ns());
        let meta = Pending { slot: k as u32, inst: req.inst, market: Market::Futures };
        if !self.send(Method::Post, Kind::Create, meta, core.clock.now()) {
            core.tracker.forget(k);
            return Err(SinkError::NotSent(RejectReason::RateLimited));
        }
        Ok(())
    }

    pub(crate) fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId, core: &mut Core) -> bool {
        let i = core.instruments.get(inst);
        let b = &mut self.body;
        b.clear();
        b.push_str(r#"{"symbol":""#);
        b.push_str(&i.symbol);
        b.push_str(r#"","externalOid":""#);
        push_client_id(b, core.prefix, client);
        b.push_str("\"}");
        self.target.set("", "/api/v1/private/order/cancel_with_external", "");
        let slot = core.tracker.find(client).map_or(u32::MAX, |k| k as u32);
        self.send(
            Method::Post,
            Kind::Cancel,
            Pending { slot, inst, market: Market::Futures },
            core.clock.now(),
        )
    }

    pub(crate) fn query(&mut self, k: usize, external: bool, core: &mut Core) -> bool {
        let v = core.tracker.view(k);
        let i = core.instruments.get(v.inst);
        self.target.begin("/api/v1/private/order/external/");
        self.target.push(&i.symbol);
        self.target.push("/");
        self.target.push_client_id(core.prefix, v.client);
        let meta = Pending { slot: k as u32, inst: v.inst, market: Market::Futures };
        self.send(Method::Get, Kind::Query { external }, meta, core.clock.now())
    }

    pub(crate) fn cancel_all(&mut self, core: &mut Core) -> bool {
        self.body.clear();
        self.body.push_str("{}");
        self.target.set("", "/api/v1/private/order/cancel_all", "");
        self.send(Method::Post, Kind::CancelAll, Pending::none(), core.clock.now())
    }

    /// Lists every contract's recent orders (`history_orders`, open and finished) for a
    /// restart's discovery; the answers land in `core.discovery`.
    pub(crate) fn discover(&mut self, core: &mut Core) {
        let now = core.clock.now();
        let instruments = Arc::clone(&core.instruments);
        for i in instruments.iter().filter(|i| i.venue == Venue::Mexc && i.market == Market::Futures) {
            self.target.set("", "/api/v1/private/order/list/history_orders", "");
            self.target.query_start();
            let _ = write!(self.target.buf_mut(), "page_num=1&page_size=100&symbol={}", i.symbol);
            let meta = Pending { slot: u32::MAX, inst: i.id, market: Market::Futures };
            let sent = self.send(Method::Get, Kind::Discover, meta, now);
            core.discovery.requested(sent, Venue::Mexc, Market::Futures, &i.symbol);
        }
    }

    /// Reads the futures account and positions, after the funding history. MEXC's
    /// account balance includes every funding settled, but the engine books funding
    /// only from the history: read in the other order (or on the balance push a
    /// settlement sends), a balance would lead the books by the latest settlement, and
    /// with funding intervals that divide the reconcile interval every check would find
    /// that difference again and halt the venue for a drift that is not there.
    pub(crate) fn query_balances(&mut self, core: &mut Core) -> bool {
        self.balances_due = true;
        self.start_balances(core.clock.now(), core.now_ns())
    }

    /// Sends a due balance query's funding read unless one is in flight or went out
    /// within the last [`BALANCES_SPACING_NS`]; true when it is on its way (or was).
    fn start_balances(&mut self, now: Instant, now_ns: u64) -> bool {
        let since = now_ns.saturating_sub(self.last_balances_ns);
        if !self.balances_due || (self.balances_in_flight && since < BALANCES_LOST_NS) {
            return true;
        }
        if self.last_balances_ns != 0 && since < BALANCES_SPACING_NS {
            return true;
        }
        self.funding_target();
        let sent = self.send(Method::Get, Kind::Funding { then_balances: true }, Pending::none(), now);
        if sent {
            self.balances_due = false;
            self.balances_in_flight = true;
            self.last_balances_ns = now_ns.max(1);
        }
        sent
    }

    /// The balance query's second half: the account and the open positions.
    fn read_balances(&mut self, now: Instant) -> bool {
        self.target.set("", "/api/v1/private/account/assets", "");
        let a = self.send(Method::Get, Kind::Assets, Pending::none(), now);
        self.target.set("", "/api/v1/private/position/open_positions", "");
        a && self.send(Method::Get, Kind::Positions, Pending::none(), now)
    }

    fn funding_target(&mut self) {
        self.target.set("", "/api/v1/private/position/funding_records", "");
        self.target.query_start();
        let _ = write!(self.target.buf_mut(), "page_num=1&page_size=100");
    }

    pub(crate) fn poll(&mut self, now: Instant, core: &mut Core) {
        let now_ns = core.now_ns();
        if self.warmed && now_ns.saturating_sub(self.last_keepalive_ns) >= core.timing.keepalive_ns {
            self.last_keepalive_ns = now_ns;
            if self.http.in_flight() == 0 {
                for _ in 0..self.max_connections {
                    self.public_get(now);
                }
            }
        }
        if self.warmed && now_ns.saturating_sub(self.last_funding_poll_ns) >= FUNDING_POLL_NS {
            self.last_funding_poll_ns = now_ns;
            self.funding_target();
            let _ = self.send(Method::Get, Kind::Funding { then_balances: false }, Pending::none(), now);
        }
        let stream_up = self.stream.up;
        let mut funding_read = false;
        {
            let pending = &mut self.pending;
            let warm = &mut self.warm;
            self.http.poll(now, &mut |c: Completion<'_>| {
                let Some((kind, meta)) = pending.take(c.id) else { return };
                funding_read |= kind == Kind::Funding { then_balances: true };
                on_completion(core, kind, meta, &c.outcome, stream_up, warm);
            });
        }
        if funding_read {
            // Answered or failed: the account is read now either way (a failed history
            // read leaves one report ahead of the books; the next query catches up).
            self.balances_in_flight = false;
            if !self.read_balances(now) {
                self.balances_due = true;
            }
        }
        if !self.warmed && self.warm >= self.max_connections {
            self.warmed = true;
            self.last_keepalive_ns = now_ns;
        }
        let up = &mut self.stream.up;
        let due = &mut self.balances_due;
        self.stream.ws.poll(now, &mut |ev| match ev {
            WsEvent::Opened => *up = false,
            WsEvent::Lost(e) => {
                *up = false;
                core.notice_text(Venue::Mexc, Market::Futures, RejectReason::Disconnected, 0, &e.to_string());
            }
            WsEvent::Frame(f) => {
                if let Payload::Text(t) = f.payload {
                    *due |= on_push(core, t.as_bytes(), up) == Pushed::Balance;
                }
            }
        });
        let _ = self.start_balances(now, now_ns);
    }

    pub(crate) fn stop(&mut self) {
        self.stream.ws.close();
    }
}

pub(crate) fn on_completion(
    core: &mut Core,
    kind: Kind,
    meta: Pending,
    outcome: &Outcome<'_>,
    stream_up: bool,
    warm: &mut usize,
) {
    let ts = core.now_ns();
    let slot = (meta.slot != u32::MAX).then_some(meta.slot as usize);
    let ok_body = match outcome {
        Outcome::Ok(r) if r.status < 300 => Some(envelope(r.body)),
        _ => None,
    };
    match kind {
        Kind::Warm => {
            if ok_body.is_some() {
                *warm += 1;
            }
        }
        Kind::Discover => {
            let instruments = Arc::clone(&core.instruments);
            let inst = instruments.get(meta.inst);
            match ok_body {
                Some(e) if e.success => {
                    let (mut found, prefix) = (Vec::new(), core.prefix);
                    let mut p = Parser::new(e.data);
                    let read = for_items(&mut p, |p| {
                        let o = parse_order(p)?;
                        found.extend(discovered(prefix, inst, meta.inst, &o));
                        Ok(())
                    });
                    match read {
                        Ok(()) => core.discovery.answered(found),
                        Err(_) => core.discovery.failed(
                            Venue::Mexc,
                            Market::Futures,
                            &inst.symbol,
                            "unreadable list",
                        ),
                    }
                }
                Some(e) => {
                    let why = format!("code {} {}", e.code, String::from_utf8_lossy(e.message));
                    core.discovery.failed(Venue::Mexc, Market::Futures, &inst.symbol, why);
                }
                None => {
                    let why = match outcome.response() {
                        Some(r) => format!("HTTP {}", r.status),
                        None => "no answer".to_owned(),
                    };
                    core.discovery.failed(Venue::Mexc, Market::Futures, &inst.symbol, why);
                }
            }
        }
        Kind::Create => {
            let Some(k) = slot else { return };
            match (outcome, ok_body) {
                (_, Some(e)) if e.success => {
                    // `data` is the order id (a number), or `{"orderId":"…"}`.
                    let mut id = e.data;
                    if e.data.first() == Some(&b'{') {
                        let mut p = Parser::new(e.data);
                        let _ = for_fields(&mut p, |k, p| {
                            if k == b"orderId" {
                                id = scalar(p)?;
                                return Ok(true);
                            }
                            Ok(false)
                        });
                    }
                    core.tracker.set_venue_order(k, id);
                    core.tracker.accepted(k, ts);
                    core.tracker.settle_at(k, ts.saturating_add(core.timing.settle_ns));
                }
                (_, Some(e)) => {
                    let Some(reason) = create_refused(e.code, e.message) else {
                        core.tracker.unknown(k, ts);
                        return;
                    };
                    match reason {
                        RejectReason::RateLimited => core.block(Venue::Mexc, Market::Futures, None),
                        RejectReason::TradingDisabled => core.disable(Venue::Mexc, Market::Futures),
                        _ => {}
                    }
                    core.notice_parts(Venue::Mexc, Market::Futures, reason, e.code, b"", e.message);
                    core.tracker.rejected(k, reason, ts);
                }
                (Outcome::RateLimited(r), _) => {
                    core.block(Venue::Mexc, Market::Futures, r.retry_after);
                    core.tracker.rejected(k, RejectReason::RateLimited, ts);
                }
                (Outcome::Ok(r), _) => {
                    let e = envelope(r.body);
                    core.notice_parts(
                        Venue::Mexc,
                        Market::Futures,
                        RejectReason::Other,
                        i64::from(r.status),
                        b"",
                        e.message,
                    );
                    core.tracker.rejected(k, reason_of(e.code, e.message), ts);
                }
                (Outcome::ServerError(_) | Outcome::Unknown(_), _) => core.tracker.unknown(k, ts),
                (Outcome::NotSent(_), _) => core.tracker.rejected(k, RejectReason::Disconnected, ts),
            }
        }
        Kind::Query { external } => {
            let Some(k) = slot else { return };
            match ok_body {
                Some(e) if e.success => {
                    let mut p = Parser::new(e.data);
                    if let Ok(o) = parse_order(&mut p) {
                        apply_order(core, &o, Some(k), external, false);
                    }
                }
                Some(e) if e.code == 2040 || contains(e.message, b"not exist") => {
                    let (now, grace) = (core.now_ns(), core.timing.not_found_grace_ns);
                    core.tracker.not_found(k, now, grace);
                }
                _ => {
                    if !external {
                        core.tracker.settle_at(k, ts.saturating_add(core.timing.settle_ns));
                    }
                }
            }
        }
        Kind::Cancel => {
            // The answer names the order only; its end arrives by push or settle query.
            if let (Some(k), Some(e)) = (slot, ok_body) {
                if e.success {
                    core.tracker.settle_at(k, ts.saturating_add(core.timing.grace_ns));
                }
            }
        }
        Kind::CancelAll => {}
        Kind::Assets => {
            if let Some(e) = ok_body.filter(|e| e.success) {
                let mut p = Parser::new(e.data);
                let _ = for_items(&mut p, |p| asset(core, p));
            }
        }
        Kind::Funding { .. } => {
            if let Some(e) = ok_body.filter(|e| e.success) {
                let seen = core.funding_seen(Venue::Mexc);
                let mut p = Parser::new(e.data);
                let _ = for_fields(&mut p, |k, p| {
                    if k != b"resultList" {
                        return Ok(false);
                    }
                    for_items(p, |p| {
                        let [id, funding, settle] = fields(p, [b"id", b"funding", b"settleTime"])?;
                        let parse_u64 =
                            |b: &[u8]| std::str::from_utf8(b).ok().and_then(|s| s.parse::<u64>().ok());
                        if let (Some(id), Some(at)) = (parse_u64(id), parse_u64(settle)) {
                            core.funding_record(Venue::Mexc, seen, id, at, parse_amount(funding));
                        }
                        Ok(())
                    })?;
                    Ok(true)
                });
            }
        }
        Kind::Positions => {
            if let Some(e) = ok_body.filter(|e| e.success) {
                // Only open positions are listed: the others are flat.
                let instruments = Arc::clone(&core.instruments);
                for i in instruments.iter().filter(|i| i.venue == Venue::Mexc && i.market == Market::Futures)
                {
                    core.futures_position(i.id, Qty::ZERO);
                }
                let mut p = Parser::new(e.data);
                let _ = for_items(&mut p, |p| position(core, p));
            }
        }
    }
    let _ = stream_up;
}

/// One of our orders in a `history_orders` answer: `None` when its external id is not
/// one of ours or its numbers do not read at the instrument's scale. Sides 1 and 2 (open
/// long, close short) buy; 3 and 4 sell. States 1 and 2 can still fill.
fn discovered(
    prefix: ClientPrefix,
    inst: &Instrument,
    id: InstrumentId,
    o: &FutOrder<'_>,
) -> Option<DiscoveredOrder> {
    let client = parse_client_id(prefix, o.external)?;
    let side = match o.side {
        b"1" | b"2" => Side::Buy,
        b"3" | b"4" => Side::Sell,
        _ => return None,
    };
    let price = parse_price(o.price, inst.price_scale)?;
    let qty = contracts_qty(o.vol, inst.qty_scale)?;
    Some(DiscoveredOrder { client, inst: id, side, price, qty, open: matches!(o.state, b"1" | b"2") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::mexc::private::futures::envelope;

    #[test]
    fn trading_disabled_answers_are_recognised() {
        let e = envelope(br#"{"success":false,"code":1002,"message":"Contract not allow place order!"}"#);
        assert!(!e.success);
        assert_eq!(reason_of(e.code, e.message), RejectReason::TradingDisabled);
        assert_eq!(
            reason_of(9999, b"The API order function is under maintenance"),
            RejectReason::TradingDisabled
        );
        assert_eq!(reason_of(2005, b"Balance insufficient"), RejectReason::InsufficientBalance);
        assert_eq!(reason_of(2015, b"Price or quantity precision error"), RejectReason::BadPrecision);
        assert_eq!(reason_of(510, b"Requests are too frequent!"), RejectReason::RateLimited);
        // What the venue refused, against what it may have placed all the same.
        assert_eq!(create_refused(2005, b"Balance insufficient"), Some(RejectReason::InsufficientBalance));
        assert_eq!(create_refused(1002, b"Contract not activated"), Some(RejectReason::TradingDisabled));
        assert_eq!(create_refused(9999, b"under maintenance"), Some(RejectReason::TradingDisabled));
        for (code, msg) in [(500, &b"Internal error"[..]), (501, b"System busy"), (9999, b"Public abnormal")]
        {
            assert_eq!(create_refused(code, msg), None, "{code}");
        }
        for body in [&br#"{"success":false,"message":"?"}"#[..], b"", b"<html>502</html>", br#"{"succ"#] {
            let e = envelope(body);
            assert!(!e.success && create_refused(e.code, e.message).is_none(), "{body:?}");
        }
        let recorded = include_str!("../../../../test_data/mexc/futures_rest_errors.jsonl");
        let codes: Vec<i64> = recorded.lines().map(|l| envelope(l.as_bytes()).code).collect();
        assert_eq!(codes, vec![2009, 1001]);
        let created = include_str!("../../../../test_data/mexc/futures_rest_order_create.jsonl");
        let e = envelope(created.lines().next().unwrap().as_bytes());
        assert!(e.success && e.data.starts_with(b"{\"orderId\""));
    }
}
