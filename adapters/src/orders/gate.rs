//! Gate.io order entry: REST v4 for spot and USDT perpetual futures on one keep-alive
//! pool, and the private WebSocket channels (`spot.orders`, `spot.usertrades`,
//! `spot.balances`; `futures.orders`, `futures.usertrades`, `futures.balances`,
//! `futures.positions`), each subscription signed on every session.
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
//! What is exact: a spot order's totals (`filled_total`, `fee`, `fee_currency`) and every
//! user trade. A futures order only carries an average `fill_price` and the fee rates, so
//! its totals are an estimate, held back for the stream grace while `futures.usertrades`
//! (exact) delivers the trades.

use std::fmt::Write as _;
use std::sync::Arc;

use mio::event::Event;
use mio::{Registry, Token};
use pipeline::dispatch::OrderRequest;
use pipeline::journal::TimeInForce;
use pipeline::msg::{ClientOrderId, RejectReason};
use pipeline::types::{Amount, AssetId, InstrumentId, Market, Price, Qty, Rate, Rounding, Side, Venue};
use quanta::Instant;
use rustls::ClientConfig;

use super::track::{Cumulative, Trade};
use super::wire::{
    contracts_qty, for_fields, for_items, parse_amount, parse_client_id, parse_price, parse_qty, parse_rate,
    push_client_id, push_contracts, scalar, trade_id, wall_ms,
};
use super::{Core, OrderEntryError, Pending, PendingTable, RestTarget};
use crate::auth::{Credentials, push_json_str};
use crate::json::{JsonError, Parser};
use crate::net::http::{Completion, HttpClient, HttpConfig, Method, Outcome, Request};
use crate::net::ws::{Payload, VenuePing, WsClient, WsConfig, WsEvent, WsHooks};
use crate::venues::gateio::sign::{RestAuth, push_ws_channel_auth};

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
    /// Lookup by text in the finished (`open == false`) or open order list.
    List {
        external: bool,
        open: bool,
    },
    CancelAll,
    SpotAccounts,
    FuturesAccount,
    Positions,
}

/// The private channel subscriptions of one Gate WebSocket (spot or futures).
#[derive(Debug)]
pub(crate) struct GateHooks {
    creds: Credentials,
    market: Market,
    uid: u64,
}

impl GateHooks {
    fn channels(&self) -> &'static [&'static str] {
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
    }

    fn keepalive(&mut self, now_unix_ms: u64) -> Option<String> {
        let ping = if self.market == Market::Spot { VenuePing::GateSpot } else { VenuePing::GateFutures };
        Some(ping.message(now_unix_ms))
    }
}

/// One private stream and whether all its subscriptions were acknowledged.
#[derive(Debug)]
struct Stream {
    ws: WsClient<GateHooks>,
    acked: usize,
    up: bool,
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
    warm: usize,
    warmed: bool,
    /// Instruments of this venue, per market (cancel-all).
    instruments: [Vec<InstrumentId>; 2],
    max_connections: usize,
    last_keepalive_ns: u64,
}

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

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `{"label":…,"message":…}`.
fn error_body(body: &[u8]) -> (&[u8], &[u8]) {
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

/// A Gate order as REST answers and the `*.orders` pushes show it, spot or futures.
#[derive(Debug, Default)]
struct GateOrder<'a> {
    id: &'a [u8],
    text: &'a [u8],
    symbol: &'a [u8],
    side: &'a [u8],
    amount: &'a [u8],
    left: &'a [u8],
    filled_amount: &'a [u8],
    size: &'a [u8],
    filled_total: &'a [u8],
    fee: &'a [u8],
    fee_currency: &'a [u8],
    fill_price: &'a [u8],
    tkfr: &'a [u8],
    status: &'a [u8],
    event: &'a [u8],
    finish_as: &'a [u8],
    tif: &'a [u8],
}

fn parse_order<'a>(p: &mut Parser<'a>) -> Result<GateOrder<'a>, JsonError> {
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
struct GateTrade<'a> {
    id: &'a [u8],
    order_id: &'a [u8],
    text: &'a [u8],
    symbol: &'a [u8],
    side: &'a [u8],
    amount: &'a [u8],
    size: &'a [u8],
    price: &'a [u8],
    fee: &'a [u8],
    fee_currency: &'a [u8],
    role: &'a [u8],
}

fn parse_trade<'a>(p: &mut Parser<'a>) -> Result<GateTrade<'a>, JsonError> {
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
enum Use {
    /// An order report (answer to create or cancel, a push): fills and the end.
    Report,
    /// The answer to a query the state stage asked for.
    Status,
}

fn sym(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or("")
}

impl GateEntry {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: &super::GateEntryConfig,
        creds: Credentials,
        core: &Core,
        http_cfg: HttpConfig,
        tls: Option<Arc<ClientConfig>>,
        registry: &Registry,
        first_token: usize,
        max_connections: usize,
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
        let ws_cfg = |url: &str| {
            let mut c = WsConfig::new(url);
            c.stale_after = std::time::Duration::from_secs(60);
            c.keepalive_every = std::time::Duration::from_secs(15);
            c
        };
        let spot = if instruments[Market::Spot as usize].is_empty() {
            None
        } else {
            let hooks = GateHooks { creds: creds.clone(), market: Market::Spot, uid: 0 };
            let ws = WsClient::new(
                ws_cfg(&cfg.ws_spot_url),
                hooks,
                tls.clone(),
                registry,
                Token(first_token + max_connections),
                core.clock.clone(),
            )?;
            Some(Stream { ws, acked: 0, up: false })
        };
        let futures_ws = (!instruments[Market::Futures as usize].is_empty())
            .then(|| (ws_cfg(&cfg.ws_futures_url), Token(first_token + max_connections + 1)));
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
            warm: 0,
            warmed: false,
            instruments,
            max_connections,
            last_keepalive_ns: 0,
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
            let hooks = GateHooks { creds: self.creds.clone(), market: Market::Futures, uid };
            let ws = WsClient::new(cfg, hooks, self.tls.clone(), &self.registry, token, core.clock.clone())?;
            self.futures = Some(Stream { ws, acked: 0, up: false });
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
        let inst = core.instruments.get(req.inst);
        self.body.clear();
        let b = &mut self.body;
        let tif = match req.tif {
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
        };
        let path = match req.market {
            Market::Spot => {
                b.push_str(r#"{"text":"t-"#);
                push_client_id(b, req.client);
                b.push_str(r#"","currency_pair":"#);
                push_json_str(b, &inst.symbol);
                let _ = write!(
                    b,
                    r#","type":"limit","account":"spot","side":"{}","amount":"{}","price":"{}","time_in_force":"{tif}"}}"#,
                    side_name(req.side),
                    req.qty.display(inst.qty_scale),
                    req.price.display(inst.price_scale),
                );
                "/spot/orders"
            }
            Market::Futures => {
                b.push_str(r#"{"contract":"#);
                push_json_str(b, &inst.symbol);
                b.push_str(r#","size":"#);
                push_contracts(b, req.qty, inst.qty_scale, req.side == Side::Sell);
                let _ = write!(
                    b,
                    r#","price":"{}","tif":"{tif}","text":"t-"#,
                    req.price.display(inst.price_scale)
                );
                push_client_id(b, req.client);
                b.push_str("\"}");
                "/futures/usdt/orders"
            }
        };
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
                p.push_client_id(client);
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

    fn list(&mut self, k: usize, external: bool, open: bool, core: &mut Core) -> bool {
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
        p.push(if open { "&status=open" } else { "&status=finished&limit=100" });
        let meta = Pending { slot: k as u32, inst: v.inst, market: i.market };
        let now = core.clock.now();
        self.send(Method::Get, Kind::List { external, open }, meta, now, core)
    }

    pub(crate) fn cancel_all(&mut self, core: &mut Core) -> bool {
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
        if !self.instruments[Market::Futures as usize].is_empty() {
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

    /// Drives the pool and the streams; handles every answer and push.
    pub(crate) fn poll(&mut self, now: Instant, core: &mut Core) {
        let now_ns = core.now_ns();
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
                Kind::List { external, open } => {
                    self.list(slot as usize, external, open, core);
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
            let (ws, acked, up) = (&mut s.ws, &mut s.acked, &mut s.up);
            ws.poll(now, &mut |ev| match ev {
                WsEvent::Opened => {
                    *acked = 0;
                    *up = false;
                }
                WsEvent::Lost(e) => {
                    *up = false;
                    core.notice_text(Venue::GateIo, market, RejectReason::Disconnected, 0, &e.to_string());
                }
                WsEvent::Frame(f) => {
                    if let Payload::Text(t) = f.payload {
                        on_push(core, market, t.as_bytes(), acked, *up);
                        if *acked >= n_channels {
                            *up = true;
                        }
                    }
                }
            });
        }
    }

    pub(crate) fn stop(&mut self) {
        for s in [&mut self.spot, &mut self.futures].into_iter().flatten() {
            s.ws.close();
        }
    }
}

/// Handles one finished request; returns a follow-up request to make, if any.
fn on_completion(
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
                    if let Ok(o) = parse_order(&mut p) {
                        apply_order(core, market, &o, Use::Report, stream_up, Some(k));
                    }
                }
                Outcome::Ok(r) | Outcome::RateLimited(r) => {
                    let (label, message) = error_body(r.body);
                    let reason = if matches!(outcome, Outcome::RateLimited(_)) {
                        RejectReason::RateLimited
                    } else {
                        reason_of(label)
                    };
                    if reason == RejectReason::RateLimited {
                        core.block(Venue::GateIo, market, r.retry_after);
                    }
                    if reason == RejectReason::TradingDisabled {
                        core.disable(Venue::GateIo, market);
                    }
                    core.notice_parts(Venue::GateIo, market, reason, i64::from(r.status), label, message);
                    core.tracker.rejected(k, reason, ts);
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
                    if by_text {
                        // The text is only accepted for a while after the order ended.
                        Some(Kind::List { external, open: false })
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
        Kind::List { external, open } => {
            let k = slot?;
            match outcome {
                Outcome::Ok(r) if r.status < 300 => {
                    let want = core.tracker.view(k).client;
                    let mut found = false;
                    let mut p = Parser::new(r.body);
                    let _ = for_items(&mut p, |p| {
                        let o = parse_order(p)?;
                        if !found && parse_client_id(o.text) == Some(want) {
                            found = true;
                            let how = if external { Use::Status } else { Use::Report };
                            apply_order(core, market, &o, how, false, Some(k));
                        }
                        Ok(())
                    });
                    match (found, open) {
                        (true, _) => None,
                        (false, false) => Some(Kind::List { external, open: true }),
                        (false, true) => {
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
        Kind::SpotAccounts => {
            if let Outcome::Ok(r) = outcome {
                if r.status < 300 {
                    let mut p = Parser::new(r.body);
                    let _ = for_items(&mut p, |p| {
                        let (mut cur, mut avail, mut locked): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
                        for_fields(p, |k, p| {
                            match k {
                                b"currency" => cur = scalar(p)?,
                                b"available" => avail = scalar(p)?,
                                b"locked" => locked = scalar(p)?,
                                _ => return Ok(false),
                            }
                            Ok(true)
                        })?;
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
                        let (mut c, mut size): (&[u8], &[u8]) = (b"", b"");
                        for_fields(p, |k, p| {
                            match k {
                                b"contract" => c = scalar(p)?,
                                b"size" => size = scalar(p)?,
                                _ => return Ok(false),
                            }
                            Ok(true)
                        })?;
                        position(core, c, size);
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

fn position(core: &mut Core, contract: &[u8], size: &[u8]) {
    let Some(inst) = core.instruments.find(Venue::GateIo, Market::Futures, sym(contract)) else { return };
    let scale = core.instruments.get(inst).qty_scale;
    if let Some(q) = contracts_qty(size, scale) {
        core.futures_position(inst, q);
    }
}

/// Applies one order report (answer or push) to its slot.
fn apply_order(
    core: &mut Core,
    market: Market,
    o: &GateOrder<'_>,
    how: Use,
    stream_up: bool,
    slot: Option<usize>,
) {
    let ts = core.now_ns();
    let Some(inst_id) = core.instruments.find(Venue::GateIo, market, sym(o.symbol)) else { return };
    let inst = core.instruments.get(inst_id);
    let client = parse_client_id(o.text);
    let k = match (slot, client) {
        (Some(k), _) => k,
        (None, Some(c)) => {
            let side = match market {
                Market::Spot if o.side == b"sell" => Side::Sell,
                Market::Spot => Side::Buy,
                Market::Futures if o.size.first() == Some(&b'-') => Side::Sell,
                Market::Futures => Side::Buy,
            };
            core.tracker.find_or_open(c, inst_id, side, ts)
        }
        (None, None) => return,
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
                    (Some(a), Some(l)) => Qty(a.0 - l.0),
                    _ => return,
                }
            } else {
                let Some(f) = parse_qty(o.filled_amount, scale) else { return };
                f
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
                return;
            };
            let filled = Qty(size.0.abs() - left.0.abs());
            let price = parse_price(o.fill_price, inst.price_scale).unwrap_or(Price::ZERO);
            let value = inst.notional(price, filled, Rounding::Floor).unwrap_or(Amount::ZERO);
            let rate = parse_rate(o.tkfr).unwrap_or(inst.taker_fee).max(Rate::ZERO);
            let fee = value.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
            let c = Cumulative { filled, value, fee, fee_asset: inst.quote, exact: false };
            core.tracker.set_qty(k, Qty(size.0.abs()));
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
}

/// Handles one text frame of a private stream.
fn on_push(core: &mut Core, market: Market, text: &[u8], acked: &mut usize, stream_up: bool) {
    let mut channel: &[u8] = b"";
    let mut event: &[u8] = b"";
    let mut result: &[u8] = b"";
    let mut error: &[u8] = b"";
    let mut p = Parser::new(text);
    if for_fields(&mut p, |k, p| {
        match k {
            b"channel" => channel = scalar(p)?,
            b"event" => event = scalar(p)?,
            b"result" => result = p.skip()?,
            b"error" => error = p.skip()?,
            _ => return Ok(false),
        }
        Ok(true)
    })
    .is_err()
    {
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
            let (mut cur, mut avail, mut freeze): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
            for_fields(p, |k, p| {
                match k {
                    b"currency" => cur = scalar(p)?,
                    b"available" => avail = scalar(p)?,
                    b"freeze" => freeze = scalar(p)?,
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            core.balance(Venue::GateIo, cur, avail, freeze, ts);
            Ok(())
        }),
        b"futures.balances" => for_items(&mut p, |p| {
            let mut balance: &[u8] = b"";
            for_fields(p, |k, p| {
                if k == b"balance" {
                    balance = scalar(p)?;
                    return Ok(true);
                }
                Ok(false)
            })?;
            core.futures_balance(Venue::GateIo, parse_amount(balance), None);
            Ok(())
        }),
        b"futures.positions" => for_items(&mut p, |p| {
            let (mut c, mut size): (&[u8], &[u8]) = (b"", b"");
            for_fields(p, |k, p| {
                match k {
                    b"contract" => c = scalar(p)?,
                    b"size" => size = scalar(p)?,
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            position(core, c, size);
            Ok(())
        }),
        _ => Ok(()),
    };
}

/// Applies one user trade push.
fn apply_trade(core: &mut Core, market: Market, t: &GateTrade<'_>) {
    let ts = core.now_ns();
    let Some(client) = parse_client_id(t.text) else { return };
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
    let k = core.tracker.find_or_open(client, inst_id, side, ts);
    if !t.order_id.is_empty() {
        core.tracker.set_venue_order(k, t.order_id);
    }
    let trade = Trade { id: trade_id(t.id), price, qty, fee, fee_asset };
    core.tracker.trade(k, trade, ts);
    let _: AssetId = fee_asset;
}

#[cfg(test)]
mod tests {
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
        let mut core = super::super::test_core(instruments.clone());
        let mut acked = 0;
        // futures.orders (2024): numeric prices, an id above 2^53, kept as text.
        let line = include_str!("../../test_data/gateio/futures_ws_orders.jsonl").lines().next().unwrap();
        let line = line.replace(r#""text":"api""#, r#""text":"t-5-0-0""#);
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false);
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
        let line = include_str!("../../test_data/gateio/futures_ws_usertrades.jsonl").lines().next().unwrap();
        let line = line.replace("t-WVG7TYUDYQ06X36ST644NPAG", "t-6-0-0");
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false);
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
        let line = include_str!("../../test_data/gateio/futures_ws_balances.jsonl").lines().next().unwrap();
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false);
        assert_eq!(
            core.futures_balances[Venue::GateIo.index()].map(|b| b.0),
            Amount::parse("989.374310681771").ok()
        );
        let line = include_str!("../../test_data/gateio/futures_ws_positions.jsonl").lines().nth(1).unwrap();
        on_push(&mut core, Market::Futures, line.as_bytes(), &mut acked, false);
        assert_eq!(core.positions[perp.index()], Qty::parse("-22", inst.qty_scale).ok());
        // spot.balances with 20 decimal places: rounded down to 18.
        let result =
            include_str!("../../test_data/gateio/spot_ws_balances_result_only.jsonl").lines().next().unwrap();
        let line = format!(r#"{{"channel":"spot.balances","event":"update","result":{result}}}"#);
        on_push(&mut core, Market::Spot, line.as_bytes(), &mut acked, false);
        match events(&mut core).as_slice() {
            [StateInput::Balance(b)] => {
                assert_eq!(b.available, Amount::parse("3081.686422729910360621").unwrap());
                assert_eq!(b.locked, Amount::parse("5.325").unwrap());
            }
            other => panic!("{other:?}"),
        }
        // A subscription refused for a bad signature is kept as a notice.
        let refused = r#"{"time":1,"channel":"spot.orders","event":"subscribe","error":{"code":4,"message":"signature not valid"},"result":{"status":"fail"}}"#;
        on_push(&mut core, Market::Spot, refused.as_bytes(), &mut acked, false);
        assert_eq!(acked, 0);
        assert_eq!(core.notices.len(), 1);
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
        let errors = include_str!("../../test_data/gateio/rest_errors.jsonl");
        let labels: Vec<RejectReason> =
            errors.lines().map(|l| reason_of(error_body(l.as_bytes()).0)).collect();
        assert!(labels.contains(&RejectReason::NotFound), "ORDER_NOT_FOUND without a message");
        assert!(labels.contains(&RejectReason::Auth));
        let created = include_str!("../../test_data/gateio/futures_rest_orders_create.jsonl");
        for line in created.lines() {
            let o = parse_order(&mut Parser::new(line.as_bytes())).unwrap();
            assert_eq!(o.symbol, b"BTC_USDT");
            assert_eq!(o.status, b"open");
            assert!(!o.id.is_empty() && !o.size.is_empty() && !o.tkfr.is_empty());
        }
        let trades = include_str!("../../test_data/gateio/spot_ws_usertrades.jsonl");
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
