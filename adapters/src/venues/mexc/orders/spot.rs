//! MEXC spot v3 order entry.
//!
//! Requests (protocols.md C.1) put every parameter in the signed query string and send
//! an empty body, as ccxt does: `POST /api/v3/order` (`type` IMMEDIATE_OR_CANCEL or
//! FILL_OR_KILL, `newClientOrderId` = client id), `DELETE /api/v3/order` and
//! `GET /api/v3/order` by `origClientOrderId`, `DELETE /api/v3/openOrders` (five symbols
//! per call), `GET /api/v3/account`. The create answer only acknowledges: fills and the
//! end come from the private stream ([`super::super::private::spot`]), or from the sink's
//! own query `settle_query_ms` after the acknowledgement when the stream has not finished
//! the order by then. This client also keeps the stream's listen key: it asks for one,
//! renews it every 30 minutes (a new key and a reconnect when the venue forgot it) and
//! closes it on stop.

use std::fmt::Write as _;
use std::sync::Arc;

use mio::event::Event;
use mio::{Registry, Token};
use pipeline::dispatch::{OrderRequest, SinkError};
use pipeline::journal::ClientPrefix;
use pipeline::journal::TimeInForce;
use pipeline::msg::{ClientOrderId, RejectReason};
use pipeline::types::{Instrument, InstrumentId, Market, Side, Venue};
use quanta::Instant;
use rustls::ClientConfig;

use super::config::MexcEntryConfig;
use crate::auth::{Credentials, hmac_sha256_hex};
use crate::json::{Parser, contains};
use crate::net::http::{Completion, HttpClient, HttpConfig, Method, Outcome, Request};
use crate::net::ws::{Payload, WsClient, WsConfig, WsEvent};
use crate::orders::core::{Core, OrderEntryError};
use crate::orders::discover::DiscoveredOrder;
use crate::orders::pending::{Pending, PendingTable, RestTarget};
use crate::orders::templates::{Fragments, Templates};
use crate::orders::wire::{
    fields, for_fields, for_items, parse_client_id, parse_price, parse_qty, push_client_id, scalar, wall_ms,
};
use crate::venues::mexc::private::spot::{
    MexcOrder, MexcSpotHooks, Stream, apply_cancelled, apply_order, error_body, on_binary, on_text,
    parse_order,
};
use crate::venues::mexc::sign::{SPOT_API_KEY_HEADER, USER_DATA_STREAM_PATH};

/// The listen key is renewed this often (it lives 60 minutes).
const LISTEN_KEY_KEEPALIVE_NS: u64 = 30 * 60 * 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Warm,
    ListenKey,
    KeepKey,
    Create,
    Cancel,
    Query {
        external: bool,
    },
    CancelAll,
    Account,
    CloseKey,
    /// A restart's discovery: one symbol's `allOrders`.
    Discover,
}

/// MEXC spot order entry.
pub(crate) struct MexcSpotEntry {
    creds: Credentials,
    http: HttpClient,
    recv_window_ms: u64,
    ws_url: String,
    ws_cfg: WsConfig,
    ws_token: Token,
    tls: Option<Arc<ClientConfig>>,
    registry: Registry,
    stream: Option<Stream>,
    listen_key: Option<String>,
    key_requested: bool,
    key_renewed_ns: u64,
    pending: PendingTable<Kind>,
    target: RestTarget,
    warm: usize,
    warmed: bool,
    max_connections: usize,
    symbols: Vec<InstrumentId>,
    last_keepalive_ns: u64,
    templates: Templates,
}

impl std::fmt::Debug for MexcSpotEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MexcSpotEntry")
            .field("http", &self.http)
            .field("stream_up", &self.stream.as_ref().map(|s| s.up))
            .finish_non_exhaustive()
    }
}

/// MEXC spot error codes as reject reasons (protocols.md C.1, test_data/mexc).
pub(crate) fn reason_of(code: i64, msg: &[u8]) -> RejectReason {
    match code {
        10101 | 30004 | 30005 => RejectReason::InsufficientBalance,
        30002 if contains(msg, b"precision") => RejectReason::BadPrecision,
        30002 | 88013 => RejectReason::BelowMinimum,
        10007 | 30014 | 30021 => RejectReason::UnknownInstrument,
        30016 | 30018 | 30019 | 30020 | 70011 | 700007 => RejectReason::TradingDisabled,
        602 | 700001 | 700002 | 700003 | 700005 | 700006 | 10072 => RejectReason::Auth,
        429 | -1003 => RejectReason::RateLimited,
        // Binance's codes, which MEXC spot keeps: a cancel -2011, a query -2013.
        -2011 | -2013 => RejectReason::NotFound,
        _ => RejectReason::Other,
    }
}

/// Path of the spot order calls.
pub const ORDER_PATH: &str = "/api/v3/order";

/// MEXC spot's order templates: `symbol=…&side=…&type=…&quantity=` before the quantity and
/// `&newClientOrderId=` after the price.
pub fn templates() -> Templates {
    Templates::new(Box::new(|inst, side, tif| Fragments {
        head: format!(
            "symbol={}&side={}&type={}&quantity=",
            inst.symbol,
            if side == Side::Buy { "BUY" } else { "SELL" },
            if tif == TimeInForce::Fok { "FILL_OR_KILL" } else { "IMMEDIATE_OR_CANCEL" },
        ),
        tail: "&newClientOrderId=".to_owned(),
    }))
}

/// Appends the parameters of an order's create request (`POST /api/v3/order`, all in the
/// query, before `recvWindow`, `timestamp` and `signature`) to `q`, from its instrument's
/// template.
pub fn order_params(
    q: &mut String,
    templates: &mut Templates,
    req: &OrderRequest,
    inst: &Instrument,
    prefix: ClientPrefix,
) {
    let f = templates.get(inst, req.side, req.tif);
    q.push_str(&f.head);
    req.qty.display(inst.qty_scale).push_to(q);
    q.push_str("&price=");
    req.price.display(inst.price_scale).push_to(q);
    q.push_str(&f.tail);
    push_client_id(q, prefix, req.client);
}

impl MexcSpotEntry {
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
        let mut ws_cfg = WsConfig::new(&cfg.ws_spot_url);
        ws_cfg.stale_after = std::time::Duration::from_secs(60);
        ws_cfg.keepalive_every = std::time::Duration::from_secs(20);
        ws_cfg.max_session = Some(std::time::Duration::from_secs(23 * 3600));
        let symbols = core
            .instruments
            .iter()
            .filter(|i| i.venue == Venue::Mexc && i.market == Market::Spot)
            .map(|i| i.id)
            .collect();
        let mut e = MexcSpotEntry {
            creds,
            http,
            recv_window_ms: cfg.recv_window_ms,
            ws_url: cfg.ws_spot_url.clone(),
            ws_cfg,
            ws_token: Token(first_token + max_connections),
            tls,
            registry: registry.try_clone()?,
            stream: None,
            listen_key: None,
            key_requested: false,
            key_renewed_ns: 0,
            pending: PendingTable::new(),
            target: RestTarget::new(),
            warm: 0,
            warmed: false,
            max_connections,
            symbols,
            last_keepalive_ns: 0,
            templates: {
                let mut t = templates();
                t.prepare(
                    core.instruments.iter().filter(|i| i.venue == Venue::Mexc && i.market == Market::Spot),
                );
                t
            },
        };
        let now = core.clock.now();
        for _ in 0..max_connections {
            e.public_get(now);
        }
        e.request_listen_key(core);
        Ok(e)
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.warmed && self.stream.as_ref().is_some_and(|s| s.up)
    }

    pub(crate) fn on_event(&mut self, ev: &Event) -> bool {
        self.http.on_event(ev) || self.stream.as_mut().is_some_and(|s| s.ws.on_event(ev))
    }

    fn public_get(&mut self, now: Instant) {
        self.pending.track(self.http.submit(Request::get("/api/v3/time"), now), Kind::Warm, Pending::none());
    }

    /// Opens a signed request: `path?` (parameters follow, then [`send`](Self::send)).
    fn begin(&mut self, path: &str) {
        self.target.set("", path, "");
        self.target.query_start();
    }

    /// Appends `recvWindow`, `timestamp` and `signature` and submits.
    fn send(&mut self, method: Method, kind: Kind, meta: Pending, now: Instant) -> bool {
        let ts = wall_ms();
        let q = self.target.buf_mut();
        if !q.ends_with('?') {
            q.push('&');
        }
        let _ = write!(q, "recvWindow={}&timestamp={ts}", self.recv_window_ms);
        let sig = hmac_sha256_hex(&self.creds.api_secret, &[self.target.query().as_bytes()]);
        let q = self.target.buf_mut();
        q.push_str("&signature=");
        q.push_str(sig.as_str());
        let headers =
            [(SPOT_API_KEY_HEADER, self.creds.api_key.as_str()), ("Content-Type", "application/json")];
        let req =
            Request { method, target: self.target.as_str(), headers: &headers, body: b"", timeout: None };
        self.pending.track(self.http.submit(req, now), kind, meta)
    }

    fn request_listen_key(&mut self, core: &Core) {
        self.key_requested = true;
        self.begin(USER_DATA_STREAM_PATH);
        self.send(Method::Post, Kind::ListenKey, Pending::none(), core.clock.now());
    }

    pub(crate) fn submit(&mut self, req: &OrderRequest, core: &mut Core) -> Result<(), SinkError> {
        let instruments = Arc::clone(&core.instruments);
        let inst = instruments.get(req.inst);
        self.begin(ORDER_PATH);
        order_params(self.target.buf_mut(), &mut self.templates, req, inst, core.prefix);
        let k = core.tracker.open(req, core.now_ns());
        let meta = Pending { slot: k as u32, inst: req.inst, market: Market::Spot };
        if !self.send(Method::Post, Kind::Create, meta, core.clock.now()) {
            core.tracker.forget(k);
            return Err(SinkError::NotSent(RejectReason::RateLimited));
        }
        Ok(())
    }

    fn order_request(
        &mut self,
        method: Method,
        prefix: ClientPrefix,
        client: ClientOrderId,
        inst: &Instrument,
    ) {
        self.begin("/api/v3/order");
        let q = self.target.buf_mut();
        let _ = write!(q, "symbol={}&origClientOrderId=", inst.symbol);
        push_client_id(q, prefix, client);
        let _ = method;
    }

    pub(crate) fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId, core: &mut Core) -> bool {
        let instruments = Arc::clone(&core.instruments);
        self.order_request(Method::Delete, core.prefix, client, instruments.get(inst));
        let slot = core.tracker.find(client).map_or(u32::MAX, |k| k as u32);
        self.send(
            Method::Delete,
            Kind::Cancel,
            Pending { slot, inst, market: Market::Spot },
            core.clock.now(),
        )
    }

    pub(crate) fn query(&mut self, k: usize, external: bool, core: &mut Core) -> bool {
        let v = core.tracker.view(k);
        let instruments = Arc::clone(&core.instruments);
        self.order_request(Method::Get, core.prefix, v.client, instruments.get(v.inst));
        let meta = Pending { slot: k as u32, inst: v.inst, market: Market::Spot };
        self.send(Method::Get, Kind::Query { external }, meta, core.clock.now())
    }

    pub(crate) fn cancel_all(&mut self, core: &mut Core) -> bool {
        let instruments = Arc::clone(&core.instruments);
        let now = core.clock.now();
        let mut ok = true;
        for chunk in 0..self.symbols.len().div_ceil(5) {
            self.begin("/api/v3/openOrders");
            let q = self.target.buf_mut();
            q.push_str("symbol=");
            for (j, id) in self.symbols.iter().skip(chunk * 5).take(5).enumerate() {
                if j > 0 {
                    q.push(',');
                }
                q.push_str(&instruments.get(*id).symbol);
            }
            ok &= self.send(Method::Delete, Kind::CancelAll, Pending::none(), now);
        }
        ok
    }

    /// Lists every symbol's orders (`allOrders`) for a restart's discovery; the answers
    /// land in `core.discovery`.
    pub(crate) fn discover(&mut self, core: &mut Core) {
        let now = core.clock.now();
        for j in 0..self.symbols.len() {
            let inst = self.symbols[j];
            let symbol = core.instruments.get(inst).symbol.clone();
            self.begin("/api/v3/allOrders");
            let _ = write!(self.target.buf_mut(), "symbol={symbol}&limit=1000");
            let sent = self.send(
                Method::Get,
                Kind::Discover,
                Pending { slot: u32::MAX, inst, market: Market::Spot },
                now,
            );
            core.discovery.requested(sent, Venue::Mexc, Market::Spot, &symbol);
        }
    }

    pub(crate) fn query_balances(&mut self, core: &mut Core) -> bool {
        self.begin("/api/v3/account");
        self.send(Method::Get, Kind::Account, Pending::none(), core.clock.now())
    }

    fn open_stream(&mut self, key: &str, core: &mut Core) {
        let url = format!("{}?listenKey={key}", self.ws_url);
        match &mut self.stream {
            Some(s) => {
                s.ws.hooks_mut().url = url;
                s.ws.reconnect();
            }
            None => {
                // The configured URL stays the bare one; the hooks add the key on
                // every connect.
                let cfg = self.ws_cfg.clone();
                match WsClient::new(
                    cfg,
                    MexcSpotHooks { url },
                    self.tls.clone(),
                    &self.registry,
                    self.ws_token,
                    core.clock.clone(),
                ) {
                    Ok(ws) => self.stream = Some(Stream { ws, topics: [false; 3], up: false }),
                    Err(e) => {
                        core.notice_text(Venue::Mexc, Market::Spot, RejectReason::Other, 0, &e.to_string())
                    }
                }
            }
        }
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
        if let Some(key) = &self.listen_key {
            if now_ns.saturating_sub(self.key_renewed_ns) >= LISTEN_KEY_KEEPALIVE_NS {
                self.key_renewed_ns = now_ns;
                let key = key.clone();
                self.begin(USER_DATA_STREAM_PATH);
                let _ = write!(self.target.buf_mut(), "listenKey={key}");
                self.send(Method::Put, Kind::KeepKey, Pending::none(), now);
            }
        }
        let stream_up = self.stream.as_ref().is_some_and(|s| s.up);
        let mut new_key: Option<Option<String>> = None;
        {
            let pending = &mut self.pending;
            let warm = &mut self.warm;
            self.http.poll(now, &mut |c: Completion<'_>| {
                let Some((kind, meta)) = pending.take(c.id) else { return };
                match on_completion(core, kind, meta, &c.outcome, stream_up, warm) {
                    Followup::None => {}
                    Followup::Key(k) => new_key = Some(k),
                }
            });
        }
        if !self.warmed && self.warm >= self.max_connections {
            self.warmed = true;
            self.last_keepalive_ns = now_ns;
        }
        match new_key {
            Some(Some(key)) => {
                self.key_renewed_ns = now_ns;
                self.key_requested = false;
                self.open_stream(&key, core);
                self.listen_key = Some(key);
            }
            Some(None) => {
                // The venue forgot the key (or refused to make one): a new one.
                self.listen_key = None;
                self.request_listen_key(core);
            }
            None => {}
        }
        let Some(s) = &mut self.stream else { return };
        let (ws, topics, up) = (&mut s.ws, &mut s.topics, &mut s.up);
        let mut lost_handshake = false;
        ws.poll(now, &mut |ev| match ev {
            WsEvent::Opened => {
                *topics = [false; 3];
                *up = false;
            }
            WsEvent::Lost(e) => {
                *up = false;
                lost_handshake |= matches!(e, crate::net::ws::WsError::Handshake { .. });
                core.notice_text(Venue::Mexc, Market::Spot, RejectReason::Disconnected, 0, &e.to_string());
            }
            WsEvent::Frame(f) => match f.payload {
                Payload::Binary(b) => {
                    let _ = on_binary(core, b, *up);
                }
                Payload::Text(t) => {
                    on_text(core, t.as_bytes(), topics);
                    *up = topics.iter().all(|&t| t);
                }
            },
        });
        if lost_handshake && !self.key_requested {
            // A refused upgrade is most likely an expired listen key.
            self.request_listen_key(core);
        }
    }

    pub(crate) fn stop(&mut self, core: &mut Core) {
        if let Some(s) = &mut self.stream {
            s.ws.close();
        }
        if let Some(key) = self.listen_key.take() {
            self.begin(USER_DATA_STREAM_PATH);
            let _ = write!(self.target.buf_mut(), "listenKey={key}");
            self.send(Method::Delete, Kind::CloseKey, Pending::none(), core.clock.now());
        }
    }
}

pub(crate) enum Followup {
    None,
    /// A listen key arrived (`Some`), or a new one is needed (`None`).
    Key(Option<String>),
}

pub(crate) fn on_completion(
    core: &mut Core,
    kind: Kind,
    meta: Pending,
    outcome: &Outcome<'_>,
    stream_up: bool,
    warm: &mut usize,
) -> Followup {
    let ts = core.now_ns();
    let slot = (meta.slot != u32::MAX).then_some(meta.slot as usize);
    match kind {
        Kind::Warm => {
            if matches!(outcome, Outcome::Ok(_)) {
                *warm += 1;
            }
        }
        Kind::CloseKey => {}
        Kind::ListenKey | Kind::KeepKey => match outcome {
            Outcome::Ok(r) if r.status < 300 => {
                if kind == Kind::ListenKey {
                    let mut key = None;
                    let mut p = Parser::new(r.body);
                    let _ = for_fields(&mut p, |k, p| {
                        if k == b"listenKey" {
                            key = std::str::from_utf8(scalar(p)?).ok().map(str::to_owned);
                            return Ok(true);
                        }
                        Ok(false)
                    });
                    return Followup::Key(key);
                }
            }
            Outcome::Ok(r) => {
                let (code, msg) = error_body(r.body);
                core.notice_parts(Venue::Mexc, Market::Spot, reason_of(code, msg), code, b"listen key", msg);
                if kind == Kind::KeepKey {
                    return Followup::Key(None);
                }
            }
            _ => {
                if kind == Kind::ListenKey {
                    return Followup::Key(None);
                }
            }
        },
        Kind::Create => {
            let Some(k) = slot else { return Followup::None };
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let mut p = Parser::new(r.body);
                    if let Ok(o) = parse_order(&mut p) {
                        core.tracker.set_venue_order(k, o.order_id);
                    }
                    core.tracker.accepted(k, ts);
                    core.tracker.settle_at(k, ts.saturating_add(core.timing.settle_ns));
                }
                Outcome::Ok(r) | Outcome::RateLimited(r) => {
                    let (code, msg) = error_body(r.body);
                    let reason = if matches!(outcome, Outcome::RateLimited(_)) {
                        RejectReason::RateLimited
                    } else {
                        reason_of(code, msg)
                    };
                    match reason {
                        RejectReason::RateLimited => core.block(Venue::Mexc, Market::Spot, r.retry_after),
                        RejectReason::TradingDisabled => core.disable(Venue::Mexc, Market::Spot),
                        _ => {}
                    }
                    core.notice_parts(Venue::Mexc, Market::Spot, reason, code, b"", msg);
                    core.tracker.rejected(k, reason, ts);
                }
                Outcome::ServerError(_) | Outcome::Unknown(_) => core.tracker.unknown(k, ts),
                Outcome::NotSent(_) => core.tracker.rejected(k, RejectReason::Disconnected, ts),
            }
        }
        Kind::Discover => {
            let instruments = Arc::clone(&core.instruments);
            let inst = instruments.get(meta.inst);
            let symbol = inst.symbol.clone();
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let (mut found, prefix) = (Vec::new(), core.prefix);
                    let mut p = Parser::new(r.body);
                    let read = for_items(&mut p, |p| {
                        let o = parse_order(p)?;
                        found.extend(discovered(prefix, inst, meta.inst, &o));
                        Ok(())
                    });
                    match read {
                        Ok(()) => core.discovery.answered(found),
                        Err(_) => {
                            core.discovery.failed(Venue::Mexc, Market::Spot, &symbol, "unreadable list")
                        }
                    }
                }
                Outcome::Ok(r) | Outcome::RateLimited(r) | Outcome::ServerError(r) => {
                    let (code, msg) = error_body(r.body);
                    let why = format!("HTTP {} code {code} {}", r.status, String::from_utf8_lossy(msg));
                    core.discovery.failed(Venue::Mexc, Market::Spot, &symbol, why);
                }
                Outcome::Unknown(_) | Outcome::NotSent(_) => {
                    core.discovery.failed(Venue::Mexc, Market::Spot, &symbol, "no answer")
                }
            }
        }
        Kind::Cancel | Kind::Query { .. } => {
            let external = matches!(kind, Kind::Query { external: true });
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let mut p = Parser::new(r.body);
                    if let Ok(o) = parse_order(&mut p) {
                        apply_order(core, &o, slot, external, stream_up && kind == Kind::Cancel);
                    }
                }
                Outcome::Ok(r) if kind != Kind::Cancel => {
                    let (code, _) = error_body(r.body);
                    if let (-2011 | -2013, Some(k)) = (code, slot) {
                        let (now, grace) = (core.now_ns(), core.timing.not_found_grace_ns);
                        core.tracker.not_found(k, now, grace);
                    }
                }
                _ => {
                    if let (Kind::Query { external: false }, Some(k)) = (kind, slot) {
                        let at = ts.saturating_add(core.timing.settle_ns);
                        core.tracker.settle_at(k, at);
                    }
                }
            }
        }
        Kind::CancelAll => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let mut p = Parser::new(r.body);
                    let _ = for_items(&mut p, |p| {
                        let o = parse_order(p)?;
                        // The answer shows the orders as they were; they are cancelled now.
                        apply_cancelled(core, &o);
                        Ok(())
                    });
                }
            }
        }
        Kind::Account => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let mut p = Parser::new(r.body);
                    let _ = for_fields(&mut p, |k, p| {
                        if k != b"balances" {
                            return Ok(false);
                        }
                        for_items(p, |p| {
                            let [a, free, locked] = fields(p, [b"asset", b"free", b"locked"])?;
                            core.balance(Venue::Mexc, a, free, locked, ts);
                            Ok(())
                        })?;
                        Ok(true)
                    });
                }
            }
        }
    }
    Followup::None
}

/// One of our orders in an `allOrders` answer: `None` when its client id is not one of
/// ours or its numbers do not read at the instrument's scale.
fn discovered(
    prefix: ClientPrefix,
    inst: &Instrument,
    id: InstrumentId,
    o: &MexcOrder<'_>,
) -> Option<DiscoveredOrder> {
    let client = parse_client_id(prefix, o.client)?;
    let side = if o.side == b"SELL" { Side::Sell } else { Side::Buy };
    let price = parse_price(o.price, inst.price_scale)?;
    let qty = parse_qty(o.orig_qty, inst.qty_scale)?;
    let open = matches!(o.status, b"NEW" | b"PARTIALLY_FILLED");
    Some(DiscoveredOrder { client, inst: id, side, price, qty, open })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::mexc::private::spot::error_body;

    #[test]
    fn codes_map_to_reasons() {
        let errors = include_str!("../../../../test_data/mexc/spot_rest_errors.jsonl");
        let got: Vec<RejectReason> = errors
            .lines()
            .map(|l| {
                let (c, m) = error_body(l.as_bytes());
                reason_of(c, m)
            })
            .collect();
        assert_eq!(got[0], RejectReason::Auth, "700003 recvWindow");
        assert_eq!(got[1], RejectReason::InsufficientBalance, "10101 in Chinese");
        assert_eq!(got[2], RejectReason::TradingDisabled, "70011 pair banned for the key");
        assert_eq!(got[3], RejectReason::BelowMinimum, "88013");
        assert_eq!(got[4], RejectReason::TradingDisabled, "30018 account cannot order");
        assert_eq!(got[5], RejectReason::UnknownInstrument);
        assert_eq!(got[7], RejectReason::Auth, "700002 signature");
        assert_eq!(reason_of(30002, b"quantity precision is 6 decimals"), RejectReason::BadPrecision);
        assert_eq!(reason_of(30002, b"Minimum order quantity is 1"), RejectReason::BelowMinimum);
    }
}
