//! Gate.io order entry: REST v4 for spot and USDT perpetual futures on one keep-alive
//! pool, and the private WebSocket channels (`spot.orders`, `spot.usertrades`,
//! `spot.balances`; `futures.orders`, `futures.usertrades`, `futures.balances`,
//! `futures.positions`), each subscription signed on every session. With
//! `order_entry = "ws"` orders go over the trading API on those same streams instead
//! ([`super::ws_api`]), REST taking them whenever a stream cannot. Order requests are
//! built from per-instrument templates ([`templates`]).
//!
//! Requests (protocols.md F): `POST /spot/orders` (limit, `time_in_force` ioc|fok, `text`
//! = `t-` + client id), `POST /futures/usdt/orders` (`size` in contracts, negative sells,
//! `tif`); cancel `DELETE /spot/orders/{id}?currency_pair=` and
//! `/futures/usdt/orders/{id}` with the venue id once known, else the `t-` text (Gate
//! accepts the custom id while the order is open and for 60 s after it finished); query
//! `GET` of the same path, falling back to the lists of finished and open orders filtered
//! by `text` when the text is no longer accepted; cancel-all `DELETE /spot/orders?
//! currency_pair=` and `/futures/usdt/orders?contract=` per instrument; balances
//! `GET /spot/accounts`, `GET /futures/usdt/accounts`, `GET /futures/usdt/positions`.
//! Every order request carries `X-Gate-Exptime` (now + the request timeout): an order
//! that reaches Gate after we gave up on it is refused there, so a later "not found"
//! is final.
//!

use std::fmt::Write as _;
use std::sync::Arc;

use mio::event::Event;
use mio::{Registry, Token};
use pipeline::dispatch::OrderRequest;
use pipeline::journal::ClientPrefix;
use pipeline::journal::TimeInForce;
use pipeline::msg::{ClientOrderId, RejectReason};
use pipeline::types::{Instrument, InstrumentId, Market, Side, Venue};
use quanta::Instant;
use rustls::ClientConfig;
use serde::{Deserialize, Serialize};

use super::private::{GateHooks, Stream, Use, apply_order, discovered, on_push, parse_order, position};
use super::sign::RestAuth;
use super::ws_api::{OrderEntry, WsApi, order_message, refused};
use crate::auth::{Credentials, push_json_str};
use crate::json::{Parser, contains};
use crate::net::http::{Completion, HttpClient, HttpConfig, Method, Outcome, Request};
use crate::net::ws::{Payload, SendError, WsClient, WsConfig, WsEvent};
use crate::orders::core::{Core, FundingEntry, OrderEntryError};
use crate::orders::pending::{Pending, PendingTable, RestTarget};
use crate::orders::templates::{Fragments, Templates};
use crate::orders::wire::{
    fields, for_fields, for_items, parse_amount, parse_client_id, push_client_id, push_contracts, scalar,
    wall_ms,
};

fn d_gate_key() -> String {
    "GATEIO_API_KEY".into()
}
fn d_gate_secret() -> String {
    "GATEIO_API_SECRET".into()
}
/// Gate.io endpoints (`[orders.gateio]`). An endpoint left out (empty) is the one of
/// `[[venues]]` (the engine's configuration fills it in).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateEntryConfig {
    /// REST base including `/api/v4` (`https://api.gateio.ws/api/v4`).
    #[serde(default)]
    pub rest_url: String,
    /// Spot WebSocket (`wss://api.gateio.ws/ws/v4/`).
    #[serde(default)]
    pub ws_spot_url: String,
    /// USDT futures WebSocket (`wss://fx-ws.gateio.ws/v4/ws/usdt`).
    #[serde(default)]
    pub ws_futures_url: String,
    /// Environment variables holding the API key and secret.
    #[serde(default = "d_gate_key")]
    pub api_key_env: String,
    #[serde(default = "d_gate_secret")]
    pub api_secret_env: String,
    /// The account's user id (futures private channels need it); read from
    /// `GET /account/detail` when absent.
    #[serde(default)]
    pub user_id: Option<u64>,
    /// How orders are placed: `"rest"`, or `"ws"` for the WebSocket trading API with REST
    /// as the fallback (see [`super::ws_api`]). Cancels and queries go over REST either way.
    #[serde(default)]
    pub order_entry: OrderEntry,
}

impl Default for GateEntryConfig {
    fn default() -> Self {
        GateEntryConfig {
            rest_url: "https://api.gateio.ws/api/v4".into(),
            ws_spot_url: "wss://api.gateio.ws/ws/v4/".into(),
            ws_futures_url: "wss://fx-ws.gateio.ws/v4/ws/usdt".into(),
            api_key_env: d_gate_key(),
            api_secret_env: d_gate_secret(),
            user_id: None,
            order_entry: OrderEntry::default(),
        }
    }
}

impl GateEntryConfig {
    /// Checks of `[orders.gateio]`: URL schemes (of those given) and key variable names.
    pub fn validate(&self, c: &mut pipeline::validate::Checks) {
        for (key, url, schemes) in [
            ("rest_url", &self.rest_url, &["http", "https"]),
            ("ws_spot_url", &self.ws_spot_url, &["ws", "wss"]),
            ("ws_futures_url", &self.ws_futures_url, &["ws", "wss"]),
        ] {
            if !url.is_empty() {
                c.url(key, url, schemes);
            }
        }
        c.env_name("api_key_env", &self.api_key_env);
        c.env_name("api_secret_env", &self.api_secret_env);
    }
}

/// Orders per page of the finished order list (Gate's largest page).
const LIST_PAGE: usize = 100;
/// Pages of finished orders looked through for an order before its outcome is left
/// unknown: an order not found there is not taken as never placed.
pub(super) const LIST_PAGES: u8 = 5;

/// What a pending Gate request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Warm,
    Uid,
    Create,
    Cancel,
    /// Query of one order; `by_text` when it went by the `t-` text.
    Query {
        external: bool,
        by_text: bool,
    },
    /// Lookup by text in the finished (`open == false`, one page of [`LIST_PAGE`],
    /// newest first, `page` from 1) or open order list.
    List {
        external: bool,
        open: bool,
        page: u8,
    },
    CancelAll,
    SpotAccounts,
    FuturesAccount,
    Positions,
    /// The futures account book's funding entries (`type=fund`, newest first).
    Funding,
    /// A restart's discovery: the open (`open`) or finished order list of one instrument.
    Discover {
        open: bool,
    },
}

/// Gate.io order entry.
pub(crate) struct GateEntry {
    creds: Credentials,
    http: HttpClient,
    /// `/api/v4`, from the REST URL.
    prefix: String,
    uid: Option<u64>,
    spot: Option<Stream>,
    futures: Option<Stream>,
    futures_ws: Option<(WsConfig, Token)>,
    tls: Option<Arc<ClientConfig>>,
    registry: Registry,
    pending: PendingTable<Kind>,
    target: RestTarget,
    body: String,
    hdr: String,
    /// A trading API request being built.
    ws_msg: String,
    templates: Templates,
    /// Orders go over the trading API when a stream is ready.
    ws_entry: bool,
    warm: usize,
    warmed: bool,
    /// Instruments of this venue, per market (cancel-all).
    instruments: [Vec<InstrumentId>; 2],
    max_connections: usize,
    last_keepalive_ns: u64,
    last_funding_poll_ns: u64,
    /// The funding history is read at the next poll (set when the futures stream is up
    /// again: what settled while it was down was pushed to nobody).
    funding_due: bool,
}

/// How often the futures account book's funding entries are read. The `futures.balances`
/// push brings funding as it settles, but not while that stream is down; the account
/// book brings what it missed within this long (or at once after a reconnect).
const FUNDING_POLL_NS: u64 = 5_000_000_000;

impl std::fmt::Debug for GateEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateEntry")
            .field("http", &self.http)
            .field("uid", &self.uid)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// Gate's error labels, as reject reasons.
pub(crate) fn reason_of(label: &[u8]) -> RejectReason {
    match label {
        b"BALANCE_NOT_ENOUGH"
        | b"INSUFFICIENT_AVAILABLE"
        | b"MARGIN_BALANCE_NOT_ENOUGH"
        | b"NOT_ENOUGH_BALANCE" => RejectReason::InsufficientBalance,
        b"AMOUNT_TOO_LITTLE" | b"SIZE_TOO_SMALL" | b"ORDER_SIZE_TOO_SMALL" | b"AMOUNT_TOO_SMALL" => {
            RejectReason::BelowMinimum
        }
        b"INVALID_PRECISION" | b"INVALID_PRICE_PRECISION" | b"INVALID_AMOUNT_PRECISION" => {
            RejectReason::BadPrecision
        }
        b"TOO_MANY_REQUESTS" => RejectReason::RateLimited,
        b"INVALID_KEY"
        | b"INVALID_SIGNATURE"
        | b"REQUEST_EXPIRED"
        | b"IP_FORBIDDEN"
        | b"READ_ONLY"
        | b"MISSING_REQUIRED_HEADER"
        | b"FORBIDDEN"
        | b"INVALID_CREDENTIALS" => RejectReason::Auth,
        b"INVALID_CURRENCY_PAIR" | b"INVALID_CURRENCY" | b"CONTRACT_NOT_FOUND" => {
            RejectReason::UnknownInstrument
        }
        b"FOK_NOT_FILL" | b"LIQUIDITY_NOT_ENOUGH" => RejectReason::WouldNotFill,
        b"ORDER_NOT_FOUND" => RejectReason::NotFound,
        l if l == b"USER_NOT_FOUND"
            || contains(l, b"RESTRICT")
            || contains(l, b"DISABLED")
            || contains(l, b"DELIST")
            || contains(l, b"LOCKED") =>
        {
            RejectReason::TradingDisabled
        }
        _ => RejectReason::Other,
    }
}

/// `{"label":…,"message":…}`.
pub(super) fn error_body(body: &[u8]) -> (&[u8], &[u8]) {
    let mut label: &[u8] = b"";
    let mut message: &[u8] = b"";
    let mut p = Parser::new(body);
    let _ = for_fields(&mut p, |k, p| match k {
        b"label" => {
            label = scalar(p)?;
            Ok(true)
        }
        b"message" => {
            message = scalar(p)?;
            Ok(true)
        }
        _ => Ok(false),
    });
    (label, message)
}

/// Gate.io's order templates: spot `","currency_pair":…,"amount":"` before the amount and
/// `","time_in_force":…}` after the price; futures `{"contract":…,"size":` before the
/// contracts and `","tif":…,"text":"t-` after the price.
pub fn templates() -> Templates {
    Templates::new(Box::new(|inst, side, tif| {
        let tif = match tif {
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
        };
        let mut head = String::with_capacity(128);
        match inst.market {
            Market::Spot => {
                head.push_str(r#"","currency_pair":"#);
                push_json_str(&mut head, &inst.symbol);
                let _ = write!(
                    head,
                    r#","type":"limit","account":"spot","side":"{}","amount":""#,
                    side_name(side)
                );
                Fragments { head, tail: format!(r#"","time_in_force":"{tif}"}}"#) }
            }
            Market::Futures => {
                head.push_str(r#"{"contract":"#);
                push_json_str(&mut head, &inst.symbol);
                head.push_str(r#","size":"#);
                Fragments { head, tail: format!(r#"","tif":"{tif}","text":"t-"#) }
            }
        }
    }))
}

/// Writes the JSON body of an order's create request into `b` (cleared first) from its
/// instrument's template, and returns its path below `/api/v4`: `POST /spot/orders` or
/// `POST /futures/usdt/orders`.
pub fn order_body(
    b: &mut String,
    templates: &mut Templates,
    req: &OrderRequest,
    inst: &Instrument,
    prefix: ClientPrefix,
) -> &'static str {
    b.clear();
    let f = templates.get(inst, req.side, req.tif);
    match req.market {
        Market::Spot => {
            b.push_str(r#"{"text":"t-"#);
            push_client_id(b, prefix, req.client);
            b.push_str(&f.head);
            req.qty.display(inst.qty_scale).push_to(b);
            b.push_str(r#"","price":""#);
            req.price.display(inst.price_scale).push_to(b);
            b.push_str(&f.tail);
            "/spot/orders"
        }
        Market::Futures => {
            b.push_str(&f.head);
            push_contracts(b, req.qty, inst.qty_scale, req.side == Side::Sell);
            b.push_str(r#","price":""#);
            req.price.display(inst.price_scale).push_to(b);
            b.push_str(&f.tail);
            push_client_id(b, prefix, req.client);
            b.push_str("\"}");
            "/futures/usdt/orders"
        }
    }
}

impl GateEntry {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: &GateEntryConfig,
        creds: Credentials,
        core: &Core,
        http_cfg: HttpConfig,
        tls: Option<Arc<ClientConfig>>,
        registry: &Registry,
        first_token: usize,
        max_connections: usize,
        // Whether spot and futures order entry are opened (their private streams).
        [open_spot, open_futures]: [bool; 2],
    ) -> Result<Self, OrderEntryError> {
        let endpoint = crate::net::endpoint::Endpoint::parse(&cfg.rest_url)
            .map_err(|e| OrderEntryError::Config(format!("gateio.rest_url: {e}")))?;
        let prefix = endpoint.target.trim_end_matches('/').to_owned();
        let http = HttpClient::new(
            HttpConfig { base_url: cfg.rest_url.clone(), ..http_cfg },
            tls.clone(),
            registry,
            Token(first_token),
            core.clock.clone(),
        )?;
        let mut instruments = [Vec::new(), Vec::new()];
        for i in core.instruments.iter().filter(|i| i.venue == Venue::GateIo) {
            instruments[i.market as usize].push(i.id);
        }
        let ws_entry = cfg.order_entry == OrderEntry::Ws;
        let ws_cfg = |url: &str| {
            let mut c = WsConfig::new(url);
            c.stale_after = std::time::Duration::from_secs(60);
            c.keepalive_every = std::time::Duration::from_secs(15);
            c
        };
        let spot = if !open_spot {
            None
        } else {
            let hooks = GateHooks::new(creds.clone(), Market::Spot, 0, ws_entry);
            let ws = WsClient::new(
                ws_cfg(&cfg.ws_spot_url),
                hooks,
                tls.clone(),
                registry,
                Token(first_token + max_connections),
                core.clock.clone(),
            )?;
            Some(Stream { ws, acked: 0, up: false, api: WsApi::new(ws_entry) })
        };
        let futures_ws =
            open_futures.then(|| (ws_cfg(&cfg.ws_futures_url), Token(first_token + max_connections + 1)));
        let mut e = GateEntry {
            creds,
            http,
            prefix,
            uid: cfg.user_id,
            spot,
            futures: None,
            futures_ws,
            tls,
            registry: registry.try_clone()?,
            pending: PendingTable::new(),
            target: RestTarget::new(),
            body: String::with_capacity(512),
            hdr: String::with_capacity(32),
            ws_msg: String::with_capacity(768),
            templates: {
                let mut t = templates();
                t.prepare(core.instruments.iter().filter(|i| i.venue == Venue::GateIo));
                t
            },
            ws_entry,
            warm: 0,
            warmed: false,
            instruments,
            max_connections,
            last_keepalive_ns: 0,
            last_funding_poll_ns: 0,
            funding_due: false,
        };
        e.start(core)?;
        Ok(e)
    }

    /// Warms the pool and learns the user id the futures channels need.
    fn start(&mut self, core: &Core) -> Result<(), OrderEntryError> {
        let now = core.clock.now();
        for _ in 0..self.max_connections {
            self.public_get("/spot/time", Kind::Warm, now);
        }
        match self.uid {
            Some(uid) => self.open_futures_stream(uid, core)?,
            None if self.futures_ws.is_some() => {
                self.signed(Method::Get, "/account/detail", "", Kind::Uid, Pending::none(), now, core);
            }
            None => {}
        }
        Ok(())
    }

    fn open_futures_stream(&mut self, uid: u64, core: &Core) -> Result<(), OrderEntryError> {
        self.uid = Some(uid);
        if let Some((cfg, token)) = self.futures_ws.take() {
            let hooks = GateHooks::new(self.creds.clone(), Market::Futures, uid, self.ws_entry);
            let ws = WsClient::new(cfg, hooks, self.tls.clone(), &self.registry, token, core.clock.clone())?;
            self.futures = Some(Stream { ws, acked: 0, up: false, api: WsApi::new(self.ws_entry) });
        }
        Ok(())
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.warmed
            && self.spot.as_ref().is_none_or(|s| s.up)
            && self.futures_ws.is_none()
            && self.futures.as_ref().is_none_or(|s| s.up)
    }

    pub(crate) fn on_event(&mut self, ev: &Event) -> bool {
        self.http.on_event(ev)
            || self.spot.as_mut().is_some_and(|s| s.ws.on_event(ev))
            || self.futures.as_mut().is_some_and(|s| s.ws.on_event(ev))
    }

    fn public_get(&mut self, path: &str, kind: Kind, now: Instant) {
        self.target.set(&self.prefix, path, "");
        self.pending.track(self.http.submit(Request::get(self.target.as_str()), now), kind, Pending::none());
    }

    /// Signs and submits a request; returns false when the client refused it.
    #[allow(clippy::too_many_arguments)]
    fn signed(
        &mut self,
        method: Method,
        path: &str,
        query: &str,
        kind: Kind,
        meta: Pending,
        now: Instant,
        core: &Core,
    ) -> bool {
        self.target.set(&self.prefix, path, query);
        self.send(method, kind, meta, now, core)
    }

    /// Submits the request in `self.target` with `self.body`.
    fn send(&mut self, method: Method, kind: Kind, meta: Pending, now: Instant, core: &Core) -> bool {
        let ts = wall_ms();
        let auth = RestAuth::new(
            &self.creds,
            method.as_str(),
            self.target.path(),
            self.target.query(),
            self.body.as_bytes(),
            ts / 1000,
        );
        self.hdr.clear();
        let _ = write!(self.hdr, "{}", ts + core.timing.request_timeout_ms);
        let [k, t, s] = auth.headers();
        let headers = [k, t, s, ("Content-Type", "application/json"), ("X-Gate-Exptime", self.hdr.as_str())];
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

    pub(crate) fn submit(
        &mut self,
        req: &OrderRequest,
        core: &mut Core,
    ) -> Result<(), pipeline::dispatch::SinkError> {
        if self.ws_entry && self.submit_ws(req, core) {
            return Ok(());
        }
        let inst = core.instruments.get(req.inst);
        let path = order_body(&mut self.body, &mut self.templates, req, inst, core.prefix);
        let now = core.clock.now();
        let k = core.tracker.open(req, core.now_ns());
        let meta = Pending { slot: k as u32, inst: req.inst, market: req.market };
        self.target.set(&self.prefix, path, "");
        if !self.send(Method::Post, Kind::Create, meta, now, core) {
            core.tracker.forget(k);
            return Err(pipeline::dispatch::SinkError::NotSent(RejectReason::RateLimited));
        }
        Ok(())
    }

    /// Places `req` over its market's trading API session if that session is ready;
    /// false when the order is to go over REST instead (nothing was sent).
    fn submit_ws(&mut self, req: &OrderRequest, core: &mut Core) -> bool {
        let stream = match req.market {
            Market::Spot => self.spot.as_mut(),
            Market::Futures => self.futures.as_mut(),
        };
        // Only when it goes out at once: an order must not age behind a stalled socket.
        let Some(s) = stream.filter(|s| s.up && s.api.ready() && s.ws.can_send_now()) else { return false };
        let ts = wall_ms();
        let inst = core.instruments.get(req.inst);
        let exptime = ts + core.timing.request_timeout_ms;
        let (m, body, t) = (&mut self.ws_msg, &mut self.body, &mut self.templates);
        order_message(m, body, t, req, inst, core.prefix, ts / 1000, exptime);
        let k = core.tracker.open(req, core.now_ns());
        match s.ws.send_text(&self.ws_msg) {
            Ok(()) => s.api.sent(req.client),
            // Nothing was queued: REST takes it.
            Err(SendError::NotOpen | SendError::BufferFull) => {
                core.tracker.forget(k);
                return false;
            }
            // Written in part, then the connection broke: it may have reached Gate.
            Err(SendError::Broken) => core.tracker.unknown(k, core.now_ns()),
        }
        core.sent_over_ws[Venue::GateIo.index()][req.market as usize] += 1;
        true
    }

    /// The path of one order: by venue id when known, else by `t-` text.
    fn order_path(
        &mut self,
        k: Option<usize>,
        client: ClientOrderId,
        inst: InstrumentId,
        core: &Core,
    ) -> bool {
        let i = core.instruments.get(inst);
        let venue_order = k.map(|k| core.tracker.view(k).venue_order).filter(|v| !v.is_empty());
        let p = &mut self.target;
        p.begin(&self.prefix);
        p.push(match i.market {
            Market::Spot => "/spot/orders/",
            Market::Futures => "/futures/usdt/orders/",
        });
        let by_text = match venue_order {
            Some(v) => {
                p.push(v.as_str());
                false
            }
            None => {
                p.push("t-");
                p.push_client_id(core.prefix, client);
                true
            }
        };
        if i.market == Market::Spot {
            p.query_start();
            p.push("currency_pair=");
            p.push(&i.symbol);
        }
        by_text
    }

    pub(crate) fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId, core: &mut Core) -> bool {
        let k = core.tracker.find(client);
        self.order_path(k, client, inst, core);
        let market = core.instruments.get(inst).market;
        let meta = Pending { slot: k.map_or(u32::MAX, |k| k as u32), inst, market };
        let now = core.clock.now();
        self.send(Method::Delete, Kind::Cancel, meta, now, core)
    }

    pub(crate) fn query(&mut self, k: usize, external: bool, core: &mut Core) -> bool {
        let v = core.tracker.view(k);
        let by_text = self.order_path(Some(k), v.client, v.inst, core);
        let market = core.instruments.get(v.inst).market;
        let meta = Pending { slot: k as u32, inst: v.inst, market };
        let now = core.clock.now();
        self.send(Method::Get, Kind::Query { external, by_text }, meta, now, core)
    }

    fn list(&mut self, k: usize, external: bool, open: bool, page: u8, core: &mut Core) -> bool {
        let v = core.tracker.view(k);
        let i = core.instruments.get(v.inst);
        let p = &mut self.target;
        p.begin(&self.prefix);
        p.push(match i.market {
            Market::Spot => "/spot/orders",
            Market::Futures => "/futures/usdt/orders",
        });
        p.query_start();
        p.push(if i.market == Market::Spot { "currency_pair=" } else { "contract=" });
        p.push(&i.symbol);
        if open {
            p.push("&status=open");
        } else {
            // Spot pages by number, futures by offset.
            let (key, at) = match i.market {
                Market::Spot => ("&page=", u64::from(page)),
                Market::Futures => ("&offset=", u64::from(page.saturating_sub(1)) * LIST_PAGE as u64),
            };
            p.push("&status=finished&limit=");
            p.push(crate::auth::Decimal::new(LIST_PAGE as u64).as_str());
            p.push(key);
            p.push(crate::auth::Decimal::new(at).as_str());
        }
        let meta = Pending { slot: k as u32, inst: v.inst, market: i.market };
        let now = core.clock.now();
        self.send(Method::Get, Kind::List { external, open, page }, meta, now, core)
    }

    /// Lists every instrument's open and finished orders for a restart's discovery; the
    /// answers land in `core.discovery`.
    pub(crate) fn discover(&mut self, core: &mut Core) {
        self.take_new_instruments(core);
        let now = core.clock.now();
        for market in [Market::Spot, Market::Futures] {
            for j in 0..self.instruments[market as usize].len() {
                let inst = self.instruments[market as usize][j];
                let symbol = core.instruments.get(inst).symbol.clone();
                for open in [true, false] {
                    let p = &mut self.target;
                    p.begin(&self.prefix);
                    p.push(if market == Market::Spot { "/spot/orders" } else { "/futures/usdt/orders" });
                    p.query_start();
                    p.push(if market == Market::Spot { "currency_pair=" } else { "contract=" });
                    p.push(&symbol);
                    p.push(if open { "&status=open" } else { "&status=finished&limit=1000" });
                    let meta = Pending { slot: u32::MAX, inst, market };
                    let sent = self.send(Method::Get, Kind::Discover { open }, meta, now, core);
                    core.discovery.requested(sent, Venue::GateIo, market, &symbol);
                }
            }
        }
    }

    /// Takes the Gate instruments appended to the shared table while running (cold: the
    /// lists may grow), so that cancelling every order covers them.
    fn take_new_instruments(&mut self, core: &Core) {
        let known = self.instruments.iter().map(Vec::len).sum::<usize>();
        let gate = core.instruments.iter().filter(|i| i.venue == Venue::GateIo).count();
        if gate == known {
            return;
        }
        for l in &mut self.instruments {
            l.clear();
        }
        for i in core.instruments.iter().filter(|i| i.venue == Venue::GateIo) {
            self.instruments[i.market as usize].push(i.id);
        }
    }

    pub(crate) fn cancel_all(&mut self, core: &mut Core) -> bool {
        self.take_new_instruments(core);
        let now = core.clock.now();
        let mut ok = true;
        for market in [Market::Spot, Market::Futures] {
            for j in 0..self.instruments[market as usize].len() {
                let inst = self.instruments[market as usize][j];
                let i = core.instruments.get(inst);
                let p = &mut self.target;
                p.begin(&self.prefix);
                p.push(if market == Market::Spot { "/spot/orders" } else { "/futures/usdt/orders" });
                p.query_start();
                p.push(if market == Market::Spot { "currency_pair=" } else { "contract=" });
                p.push(&i.symbol);
                let meta = Pending { slot: u32::MAX, inst, market };
                ok &= self.send(Method::Delete, Kind::CancelAll, meta, now, core);
            }
        }
        ok
    }

    pub(crate) fn query_balances(&mut self, core: &mut Core) -> bool {
        let now = core.clock.now();
        let mut ok =
            self.signed(Method::Get, "/spot/accounts", "", Kind::SpotAccounts, Pending::none(), now, core);
        // Futures order entry is open (its stream started, or waiting for the user id).
        if self.futures.is_some() || self.futures_ws.is_some() {
            ok &= self.signed(
                Method::Get,
                "/futures/usdt/accounts",
                "",
                Kind::FuturesAccount,
                Pending::none(),
                now,
                core,
            );
            ok &= self.signed(
                Method::Get,
                "/futures/usdt/positions",
                "",
                Kind::Positions,
                Pending::none(),
                now,
                core,
            );
        }
        ok
    }

    /// Asks for the futures account book's funding entries that settled since this
    /// engine started.
    fn read_funding(&mut self, now: Instant, core: &Core) -> bool {
        self.target.set(&self.prefix, "/futures/usdt/account_book", "");
        self.target.query_start();
        let _ = write!(self.target.buf_mut(), "type=fund&limit=100&from={}", core.started_unix_ms / 1000);
        self.send(Method::Get, Kind::Funding, Pending::none(), now, core)
    }

    /// Drives the pool and the streams; handles every answer and push.
    pub(crate) fn poll(&mut self, now: Instant, core: &mut Core) {
        let now_ns = core.now_ns();
        if self.warmed
            && self.futures.is_some()
            && (self.funding_due || now_ns.saturating_sub(self.last_funding_poll_ns) >= FUNDING_POLL_NS)
        {
            self.last_funding_poll_ns = now_ns;
            self.funding_due = !self.read_funding(now, core);
        }
        // Keep the pool's connections warm between orders.
        if self.warmed && now_ns.saturating_sub(self.last_keepalive_ns) >= core.timing.keepalive_ns {
            self.last_keepalive_ns = now_ns;
            if self.http.in_flight() == 0 {
                for _ in 0..self.max_connections {
                    self.public_get("/spot/time", Kind::Warm, now);
                }
            }
        }
        let mut follow: [(u32, Kind); 8] = [(0, Kind::Warm); 8];
        let mut n_follow = 0usize;
        let mut uid = None;
        {
            let pending = &mut self.pending;
            let warm = &mut self.warm;
            let futures_up = self.futures.as_ref().is_some_and(|s| s.up);
            let spot_up = self.spot.as_ref().is_some_and(|s| s.up);
            self.http.poll(now, &mut |c: Completion<'_>| {
                let Some((kind, meta)) = pending.take(c.id) else { return };
                let stream_up = match meta.market {
                    Market::Spot => spot_up,
                    Market::Futures => futures_up,
                };
                let next = on_completion(core, kind, meta, &c.outcome, stream_up, warm, &mut uid);
                if let Some(next) = next {
                    if n_follow < follow.len() {
                        follow[n_follow] = (meta.slot, next);
                        n_follow += 1;
                    }
                }
            });
        }
        if !self.warmed && self.warm >= self.max_connections {
            self.warmed = true;
            self.last_keepalive_ns = now_ns;
        }
        if let Some(uid) = uid {
            if let Err(e) = self.open_futures_stream(uid, core) {
                core.notice_text(Venue::GateIo, Market::Futures, RejectReason::Other, 0, &e.to_string());
            }
        }
        for &(slot, kind) in &follow[..n_follow] {
            match kind {
                Kind::List { external, open, page } => {
                    self.list(slot as usize, external, open, page, core);
                }
                Kind::Query { external, .. } => {
                    self.query(slot as usize, external, core);
                }
                _ => {}
            }
        }
        for market in [Market::Spot, Market::Futures] {
            let stream = match market {
                Market::Spot => &mut self.spot,
                Market::Futures => &mut self.futures,
            };
            let Some(s) = stream else { continue };
            let n_channels = s.ws.hooks().channels().len();
            let (ws, acked, up, api) = (&mut s.ws, &mut s.acked, &mut s.up, &mut s.api);
            let was_up = *up;
            ws.poll(now, &mut |ev| match ev {
                WsEvent::Opened => {
                    *acked = 0;
                    *up = false;
                    api.session_ended(core);
                }
                WsEvent::Lost(e) => {
                    *up = false;
                    api.session_ended(core);
                    core.notice_text(Venue::GateIo, market, RejectReason::Disconnected, 0, &e.to_string());
                }
                WsEvent::Frame(f) => {
                    if let Payload::Text(t) = f.payload {
                        on_push(core, market, t.as_bytes(), acked, *up, api);
                        if *acked >= n_channels {
                            *up = true;
                        }
                    }
                }
            });
            if market == Market::Futures && !was_up && *up {
                self.funding_due = true;
            }
        }
    }

    pub(crate) fn stop(&mut self) {
        for s in [&mut self.spot, &mut self.futures].into_iter().flatten() {
            s.ws.close();
        }
    }
}

/// Handles one finished request; returns a follow-up request to make, if any.
pub(super) fn on_completion(
    core: &mut Core,
    kind: Kind,
    meta: Pending,
    outcome: &Outcome<'_>,
    stream_up: bool,
    warm: &mut usize,
    uid: &mut Option<u64>,
) -> Option<Kind> {
    let ts = core.now_ns();
    let slot = (meta.slot != u32::MAX).then_some(meta.slot as usize);
    let market = meta.market;
    match kind {
        Kind::Warm => {
            if matches!(outcome, Outcome::Ok(_)) {
                *warm += 1;
            }
            None
        }
        Kind::Uid => {
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let mut p = Parser::new(r.body);
                    let _ = for_fields(&mut p, |k, p| {
                        if k == b"user_id" {
                            *uid = crate::json::parse_u64(scalar(p)?);
                            return Ok(true);
                        }
                        Ok(false)
                    });
                }
                _ => core.notice_text(
                    Venue::GateIo,
                    Market::Futures,
                    RejectReason::Auth,
                    0,
                    "could not read the user id (GET /account/detail); futures private channels are off",
                ),
            }
            None
        }
        Kind::Create => {
            let k = slot?;
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let mut p = Parser::new(r.body);
                    let applied = parse_order(&mut p)
                        .is_ok_and(|o| apply_order(core, market, &o, Use::Report, stream_up, Some(k)));
                    if !applied {
                        // Placed, but unreadable: the query says how it ended.
                        core.tracker.unknown(k, ts);
                    }
                }
                Outcome::Ok(r) | Outcome::RateLimited(r) => {
                    let (label, message) = error_body(r.body);
                    let limited = matches!(outcome, Outcome::RateLimited(_));
                    refused(core, market, k, r.status, label, message, limited, r.retry_after);
                }
                Outcome::ServerError(_) | Outcome::Unknown(_) => core.tracker.unknown(k, ts),
                Outcome::NotSent(_) => core.tracker.rejected(k, RejectReason::Disconnected, ts),
            }
            None
        }
        Kind::Cancel => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let mut p = Parser::new(r.body);
                    if let Ok(o) = parse_order(&mut p) {
                        apply_order(core, market, &o, Use::Report, stream_up, slot);
                    }
                }
            }
            None
        }
        Kind::CancelAll => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let mut p = Parser::new(r.body);
                    let _ = for_items(&mut p, |p| {
                        let o = parse_order(p)?;
                        apply_order(core, market, &o, Use::Report, stream_up, None);
                        Ok(())
                    });
                }
            }
            None
        }
        Kind::Query { external, by_text } => {
            let k = slot?;
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let mut p = Parser::new(r.body);
                    if let Ok(o) = parse_order(&mut p) {
                        let how = if external { Use::Status } else { Use::Report };
                        apply_order(core, market, &o, how, false, Some(k));
                    }
                    None
                }
                Outcome::Ok(r) if error_body(r.body).0 == b"ORDER_NOT_FOUND" || r.status == 404 => {
                    if by_text && core.tracker.is_unlisted(k) {
                        // Its lists were searched to their end already: not again.
                        retry_later(core, k, external);
                        None
                    } else if by_text {
                        // The text is only accepted for a while after the order ended.
                        Some(Kind::List { external, open: false, page: 1 })
                    } else {
                        not_found(core, k, external);
                        None
                    }
                }
                _ => {
                    retry_later(core, k, external);
                    None
                }
            }
        }
        Kind::List { external, open, page } => {
            let k = slot?;
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let want = core.tracker.view(k).client;
                    let (mut found, mut listed) = (false, 0);
                    let mut p = Parser::new(r.body);
                    let read = for_items(&mut p, |p| {
                        let o = parse_order(p)?;
                        listed += 1;
                        if !found && parse_client_id(core.prefix, o.text) == Some(want) {
                            found = true;
                            let how = if external { Use::Status } else { Use::Report };
                            apply_order(core, market, &o, how, false, Some(k));
                        }
                        Ok(())
                    });
                    if found {
                        return None;
                    }
                    if read.is_err() {
                        // A list that cannot be read says nothing of what is not in it.
                        retry_later(core, k, external);
                        return None;
                    }
                    match (open, listed >= LIST_PAGE) {
                        // A full page: older orders are on the next.
                        (false, true) if page < LIST_PAGES => {
                            Some(Kind::List { external, open: false, page: page + 1 })
                        }
                        (false, true) => {
                            if core.tracker.mark_unlisted(k) {
                                let symbol = &core.instruments.get(meta.inst).symbol;
                                let why = format!(
                                    "order {}-{}-{} is not among the last {} finished orders of {symbol}; its outcome stays unknown",
                                    want.op,
                                    want.leg,
                                    want.attempt,
                                    LIST_PAGE * usize::from(LIST_PAGES)
                                );
                                core.notice_text(Venue::GateIo, market, RejectReason::Other, 0, &why);
                            }
                            retry_later(core, k, external);
                            None
                        }
                        (false, false) => Some(Kind::List { external, open: true, page: 1 }),
                        (true, _) => {
                            not_found(core, k, external);
                            None
                        }
                    }
                }
                _ => {
                    retry_later(core, k, external);
                    None
                }
            }
        }
        Kind::Discover { .. } => {
            let symbol = core.instruments.get(meta.inst).symbol.clone();
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let mut found = Vec::new();
                    let mut p = Parser::new(r.body);
                    let read = for_items(&mut p, |p| {
                        let o = parse_order(p)?;
                        found.extend(discovered(core, market, &o));
                        Ok(())
                    });
                    match read {
                        Ok(()) => core.discovery.answered(found),
                        Err(_) => core.discovery.failed(Venue::GateIo, market, &symbol, "unreadable list"),
                    }
                }
                Outcome::Ok(r) | Outcome::RateLimited(r) | Outcome::ServerError(r) => {
                    let (label, _) = error_body(r.body);
                    let why = format!("HTTP {} {}", r.status, String::from_utf8_lossy(label));
                    core.discovery.failed(Venue::GateIo, market, &symbol, why);
                }
                Outcome::Unknown(_) | Outcome::NotSent(_) => {
                    core.discovery.failed(Venue::GateIo, market, &symbol, "no answer")
                }
            }
            None
        }
        Kind::SpotAccounts => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let mut p = Parser::new(r.body);
                    let _ = for_items(&mut p, |p| {
                        let [cur, avail, locked] = fields(p, [b"currency", b"available", b"locked"])?;
                        core.balance(Venue::GateIo, cur, avail, locked, ts);
                        Ok(())
                    });
                }
            }
            None
        }
        Kind::FuturesAccount => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let (mut total, mut avail): (&[u8], &[u8]) = (b"", b"");
                    let mut p = Parser::new(r.body);
                    let _ = for_fields(&mut p, |k, p| {
                        match k {
                            b"total" => total = scalar(p)?,
                            b"available" => avail = scalar(p)?,
                            _ => return Ok(false),
                        }
                        Ok(true)
                    });
                    core.futures_balance(Venue::GateIo, parse_amount(total), parse_amount(avail));
                }
            }
            None
        }
        Kind::Positions => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let mut p = Parser::new(r.body);
                    let _ = for_items(&mut p, |p| {
                        let [c, size] = fields(p, [b"contract", b"size"])?;
                        position(core, c, size);
                        Ok(())
                    });
                }
            }
            None
        }
        Kind::Funding => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let seen = core.funding_seen(Venue::GateIo);
                    let mut p = Parser::new(r.body);
                    let _ = for_items(&mut p, |p| {
                        let [id, kind, time, change, balance] =
                            fields(p, [b"id", b"type", b"time", b"change", b"balance"])?;
                        let id = std::str::from_utf8(id).ok().and_then(|t| t.parse::<u64>().ok());
                        let entry = FundingEntry::parse(time, change, balance);
                        if let (b"fund", Some(id), Some(e)) = (kind, id, entry) {
                            core.funding_history(Venue::GateIo, seen, id, e);
                        }
                        Ok(())
                    });
                }
            }
            None
        }
    }
}

fn not_found(core: &mut Core, k: usize, external: bool) {
    let (now, grace) = (core.now_ns(), core.timing.not_found_grace_ns);
    if external {
        core.tracker.not_found(k, now, grace);
    } else {
        // Our own settle query: the order finished long ago or never arrived; let the
        // state stage's reconciliation decide.
        let _ = core.tracker.not_found(k, now, grace);
    }
}

fn retry_later(core: &mut Core, k: usize, external: bool) {
    if !external {
        let at = core.now_ns().saturating_add(core.timing.settle_ns);
        core.tracker.settle_at(k, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::gateio::private::parse_trade;

    #[test]
    fn an_order_missing_from_a_full_page_of_finished_orders_is_looked_for_on_the_next() {
        use crate::net::http::Response;
        use pipeline::msg::{OrderUpdate, StateInput};
        let specs: Vec<_> = sim::catalog::listings().iter().map(|l| l.spec()).collect();
        let instruments = Arc::new(pipeline::types::Instruments::from_specs(&specs).unwrap());
        let inst = instruments.find(Venue::GateIo, Market::Spot, "BTC_USDT").unwrap();
        let mut core = crate::orders::core::test_core(instruments.clone());
        let req = pipeline::dispatch::OrderRequest {
            client: ClientOrderId { op: 7, leg: 0, attempt: 0 },
            inst,
            venue: Venue::GateIo,
            market: Market::Spot,
            side: pipeline::types::Side::Buy,
            price: pipeline::types::Price(1),
            qty: pipeline::types::Qty(1),
            tif: pipeline::journal::TimeInForce::Ioc,
            ts_ns: 0,
        };
        let k = core.tracker.open(&req, 0);
        let order = |text: &str| {
            format!(
                r#"{{"id":"1","text":"{text}","currency_pair":"BTC_USDT","side":"buy","status":"closed","amount":"0.001","left":"0","filled_total":"60","fee":"0","fee_currency":"BTC"}}"#
            )
        };
        let page = |n: usize, with_ours: bool| {
            let mut v: Vec<String> = (0..n).map(|i| order(&format!("t-{}-0-0", 100 + i))).collect();
            if with_ours {
                v[n / 2] = order("t-7-0-0");
            }
            format!("[{}]", v.join(","))
        };
        let meta = Pending { slot: k as u32, inst, market: Market::Spot };
        let answer = |core: &mut Core, kind: Kind, body: &str| {
            let outcome = Outcome::Ok(Response::for_test(200, body.as_bytes()));
            on_completion(core, kind, meta, &outcome, false, &mut 0, &mut None)
        };
        let list = |open, page| Kind::List { external: true, open, page };
        let rejected = |core: &mut Core| {
            core.tracker
                .out
                .drain(..)
                .any(|e| matches!(e, StateInput::Order(o) if matches!(o.update, OrderUpdate::Rejected(_))))
        };

        // A full page without it: the next page, never "not found".
        assert_eq!(answer(&mut core, list(false, 1), &page(LIST_PAGE, false)), Some(list(false, 2)));
        assert!(!rejected(&mut core));
        // A short page without it: the finished orders are all seen; the open ones next.
        assert_eq!(answer(&mut core, list(false, 2), &page(3, false)), Some(list(true, 1)));
        // The last page looked through, full, without it: unknown it stays, and the
        // operator is told.
        let notices = core.notices().count();
        assert_eq!(answer(&mut core, list(false, LIST_PAGES), &page(LIST_PAGE, false)), None);
        assert!(!rejected(&mut core));
        assert_eq!(core.notices().count(), notices + 1);
        // Asked again: the text is not found, and the lists are not searched again, nor
        // is the operator told twice.
        let gone = Outcome::Ok(Response::for_test(
            404,
            br#"{"label":"ORDER_NOT_FOUND","message":"Order not found"}"#,
        ));
        let by_text = Kind::Query { external: true, by_text: true };
        assert_eq!(on_completion(&mut core, by_text, meta, &gone, false, &mut 0, &mut None), None);
        assert_eq!(answer(&mut core, list(false, LIST_PAGES), &page(LIST_PAGE, false)), None);
        assert_eq!(core.notices().count(), notices + 1);
        assert!(!rejected(&mut core));
        // A list that cannot be read says nothing.
        assert_eq!(answer(&mut core, list(false, 1), "[{\"id\":"), None);
        assert!(!rejected(&mut core));
        // Found on a later page: its report applies.
        assert_eq!(answer(&mut core, list(false, 3), &page(LIST_PAGE, true)), None);
        let done = core.tracker.out.drain(..).any(|e| {
            matches!(e, StateInput::Order(o) if matches!(o.update, OrderUpdate::Status { open: false, .. }))
        });
        assert!(done, "the order's status came from the list");
    }

    #[test]
    fn labels_map_to_reasons() {
        assert_eq!(reason_of(b"BALANCE_NOT_ENOUGH"), RejectReason::InsufficientBalance);
        assert_eq!(reason_of(b"INSUFFICIENT_AVAILABLE"), RejectReason::InsufficientBalance);
        assert_eq!(reason_of(b"AMOUNT_TOO_LITTLE"), RejectReason::BelowMinimum);
        assert_eq!(reason_of(b"SIZE_TOO_SMALL"), RejectReason::BelowMinimum);
        assert_eq!(reason_of(b"INVALID_PRECISION"), RejectReason::BadPrecision);
        assert_eq!(reason_of(b"TOO_MANY_REQUESTS"), RejectReason::RateLimited);
        assert_eq!(reason_of(b"INVALID_SIGNATURE"), RejectReason::Auth);
        assert_eq!(reason_of(b"CONTRACT_NOT_FOUND"), RejectReason::UnknownInstrument);
        assert_eq!(reason_of(b"FOK_NOT_FILL"), RejectReason::WouldNotFill);
        assert_eq!(reason_of(b"TRADE_RESTRICTED"), RejectReason::TradingDisabled);
        assert_eq!(reason_of(b"PRICE_TOO_DEVIATED"), RejectReason::Other);
    }

    #[test]
    fn reads_recorded_error_bodies_and_orders() {
        let errors = include_str!("../../../test_data/gateio/rest_errors.jsonl");
        let labels: Vec<RejectReason> =
            errors.lines().map(|l| reason_of(error_body(l.as_bytes()).0)).collect();
        assert!(labels.contains(&RejectReason::NotFound), "ORDER_NOT_FOUND without a message");
        assert!(labels.contains(&RejectReason::Auth));
        let created = include_str!("../../../test_data/gateio/futures_rest_orders_create.jsonl");
        for line in created.lines() {
            let o = parse_order(&mut Parser::new(line.as_bytes())).unwrap();
            assert_eq!(o.symbol, b"BTC_USDT");
            assert_eq!(o.status, b"open");
            assert!(!o.id.is_empty() && !o.size.is_empty() && !o.tkfr.is_empty());
        }
        let trades = include_str!("../../../test_data/gateio/spot_ws_usertrades.jsonl");
        let line = trades.lines().next().unwrap();
        let mut p = Parser::new(line.as_bytes());
        let mut got = None;
        for_fields(&mut p, |k, p| {
            if k == b"result" {
                for_items(p, |p| {
                    got = Some(parse_trade(p)?.fee_currency.to_vec());
                    Ok(())
                })?;
                return Ok(true);
            }
            Ok(false)
        })
        .unwrap();
        assert_eq!(got.as_deref(), Some(&b"PEPE"[..]));
    }
}
