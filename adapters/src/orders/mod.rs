//! The real venues' order entry and private streams as one [`OrderSink`]: [`VenueSink`].
//!
//! One module per venue market, and a router:
//! - [`gate`]: Gate.io spot and USDT perpetuals (REST v4 on one keep-alive pool, private
//!   WebSocket channels signed per subscription);
//! - [`mexc_spot`]: MEXC spot v3 (signed query strings, a listen-key private stream in
//!   protobuf);
//! - [`mexc_futures`]: MEXC USDT perpetuals (contract API, WebSocket login);
//! - [`track`]: what each order has reported, and the exactly-once rule for fills;
//! - this module: configuration, the shared core, routing and the poll loop.
//!
//! Everything runs on the thread that calls [`OrderSink::poll`] (the dispatch thread): the
//! sink owns a `mio::Poll` polled with a zero timeout, so `submit` writes the request to
//! a warm keep-alive connection at once and `poll` hands over whatever came back. Request
//! bodies, targets and header values are formatted into buffers the sink keeps; decimals
//! are written exactly at each instrument's scale. Nothing on the submit path allocates
//! after warm-up beyond what the net clients do (see `tests/orders_alloc.rs`).
//!
//! Outcomes (DESIGN.md, "Lessons"): an order's create request answers `Accepted` (plus
//! fills and `Done` when the answer carries them), `Rejected(reason)` for a definite
//! refusal, or `Unknown` when it may have reached the venue without an answer we can
//! trust (timeout, 5xx, connection lost after writing). Nothing is ever re-sent: an
//! unknown order is resolved by [`OrderSink::query`], whose answer is a `Status` or
//! `Rejected(NotFound)`; "not found" is only said once the order could no longer arrive
//! (`not_found_grace_ms` after it was sent). A request that never left the process is
//! `Err(NotSent(_))` from `submit`, or `Rejected(Disconnected)` when the connection
//! failed before a byte of it was written.
//!
//! Refusals the sink makes itself, before sending: `RateLimited` while a venue's
//! `Retry-After` (or `rate_limit_backoff_ms`) runs after a 429/418 or a rate-limit error;
//! `TradingDisabled` for `trading_disabled_retry_ms` after a venue said API trading is
//! not allowed (MEXC futures answers so for most accounts), then one order is let
//! through to probe again; and, with `validate_locally`, `BadPrecision` / `BelowMinimum`
//! for prices off the tick, quantities off the lot or under the instrument's minimums.
//! Each venue refusal is also kept as a [`VenueNotice`] with the venue's code and text,
//! for a cold thread to log ([`VenueSink::drain_notices`]).
//!
//! Balances: spot balances become [`BalanceEvent`]s (on [`OrderSink::query_balances`] and
//! on every private balance push). Futures margin and positions have no place in the
//! pipeline's balance events (a venue's spot USDT and its futures USDT would collide);
//! the sink keeps them for a cold reader ([`VenueSink::futures_balance`],
//! [`VenueSink::futures_position`]).
//!
//! Wiring: build the credentials from the environment with
//! [`OrderEntryCredentials::from_env`], then
//! `VenueSink::new(&config, creds, instruments, tls, clock)` and, before trading,
//! [`VenueSink::wait_ready`] (pools warm, private streams subscribed).

mod gate;
mod mexc_futures;
mod mexc_spot;
mod track;
mod wire;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll};
use pipeline::dispatch::{OrderRequest, OrderSink, SinkError};
use pipeline::msg::{BalanceEvent, ClientOrderId, RejectReason, StateInput};
use pipeline::types::{Amount, AssetId, InstrumentId, Instruments, Market, Qty, Side, Venue};
use quanta::Clock;
use rustls::ClientConfig;
use serde::Deserialize;

use crate::auth::{Credentials, MissingSecret, Secret};
use crate::net::http::{HttpConfig, HttpSetupError, RequestId};
use crate::net::ws::WsError;

use gate::GateEntry;
use mexc_futures::MexcFuturesEntry;
use mexc_spot::MexcSpotEntry;
use track::Tracker;

pub use mexc_futures::MexcOpenType;

fn d_request_timeout() -> u64 {
    3_000
}
fn d_connect_timeout() -> u64 {
    5_000
}
fn d_connections() -> usize {
    4
}
fn d_grace() -> u64 {
    200
}
fn d_settle() -> u64 {
    1_000
}
fn d_not_found() -> u64 {
    10_000
}
fn d_keepalive() -> u64 {
    20_000
}
fn d_backoff() -> u64 {
    1_000
}
fn d_disabled() -> u64 {
    300_000
}
fn yes() -> bool {
    true
}

/// Order entry configuration (`[orders]`): which venues, where, and the timings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderEntryConfig {
    #[serde(default)]
    pub gateio: Option<GateEntryConfig>,
    #[serde(default)]
    pub mexc: Option<MexcEntryConfig>,
    /// An order request with no complete answer after this is `Unknown`.
    #[serde(default = "d_request_timeout")]
    pub request_timeout_ms: u64,
    #[serde(default = "d_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Keep-alive connections per REST origin (orders in flight at once per origin).
    #[serde(default = "d_connections")]
    pub max_connections: usize,
    /// How long an order total that is only an estimate (average price, no fee) waits
    /// for the private stream's exact trades before it is reported as it is.
    #[serde(default = "d_grace")]
    pub stream_grace_ms: u64,
    /// An accepted order not finished after this is queried by the sink itself.
    #[serde(default = "d_settle")]
    pub settle_query_ms: u64,
    /// A query answering "no such order" earlier than this after the order was sent is
    /// held back (the order may still arrive) and asked again then.
    #[serde(default = "d_not_found")]
    pub not_found_grace_ms: u64,
    /// Idle keep-alive connections are refreshed this often.
    #[serde(default = "d_keepalive")]
    pub rest_keepalive_ms: u64,
    /// Refuse new orders this long after a rate-limit answer without `Retry-After`.
    #[serde(default = "d_backoff")]
    pub rate_limit_backoff_ms: u64,
    /// After a venue said trading is not allowed, refuse orders there this long.
    #[serde(default = "d_disabled")]
    pub trading_disabled_retry_ms: u64,
    /// Refuse orders off the tick or lot or under the minimums before sending them.
    #[serde(default = "yes")]
    pub validate_locally: bool,
}

impl Default for OrderEntryConfig {
    fn default() -> Self {
        OrderEntryConfig {
            gateio: None,
            mexc: None,
            request_timeout_ms: d_request_timeout(),
            connect_timeout_ms: d_connect_timeout(),
            max_connections: d_connections(),
            stream_grace_ms: d_grace(),
            settle_query_ms: d_settle(),
            not_found_grace_ms: d_not_found(),
            rest_keepalive_ms: d_keepalive(),
            rate_limit_backoff_ms: d_backoff(),
            trading_disabled_retry_ms: d_disabled(),
            validate_locally: true,
        }
    }
}

fn d_gate_key() -> String {
    "GATEIO_API_KEY".into()
}
fn d_gate_secret() -> String {
    "GATEIO_API_SECRET".into()
}
fn d_mexc_key() -> String {
    "MEXC_API_KEY".into()
}
fn d_mexc_secret() -> String {
    "MEXC_API_SECRET".into()
}
fn d_recv_window() -> u64 {
    5_000
}
fn d_leverage() -> u32 {
    10
}

/// Gate.io endpoints (`[orders.gateio]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateEntryConfig {
    /// REST base including `/api/v4` (`https://api.gateio.ws/api/v4`).
    pub rest_url: String,
    /// Spot WebSocket (`wss://api.gateio.ws/ws/v4/`).
    pub ws_spot_url: String,
    /// USDT futures WebSocket (`wss://fx-ws.gateio.ws/v4/ws/usdt`).
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
        }
    }
}

/// MEXC endpoints (`[orders.mexc]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MexcEntryConfig {
    /// Spot REST origin (`https://api.mexc.com`).
    pub rest_url: String,
    /// Futures REST origin (`https://contract.mexc.com`); the spot origin when absent.
    #[serde(default)]
    pub futures_rest_url: Option<String>,
    /// Spot WebSocket (`wss://wbs-api.mexc.com/ws`); the listen key is appended.
    pub ws_spot_url: String,
    /// Futures WebSocket (`wss://contract.mexc.com/edge`).
    pub ws_futures_url: String,
    #[serde(default = "d_mexc_key")]
    pub api_key_env: String,
    #[serde(default = "d_mexc_secret")]
    pub api_secret_env: String,
    /// `recvWindow` of signed spot requests and `Recv-Window` of futures requests.
    #[serde(default = "d_recv_window")]
    pub recv_window_ms: u64,
    /// Leverage sent with futures orders.
    #[serde(default = "d_leverage")]
    pub futures_leverage: u32,
    /// Futures margin mode: `cross` or `isolated`.
    #[serde(default)]
    pub futures_open_type: MexcOpenType,
}

impl Default for MexcEntryConfig {
    fn default() -> Self {
        MexcEntryConfig {
            rest_url: "https://api.mexc.com".into(),
            futures_rest_url: Some("https://contract.mexc.com".into()),
            ws_spot_url: "wss://wbs-api.mexc.com/ws".into(),
            ws_futures_url: "wss://contract.mexc.com/edge".into(),
            api_key_env: d_mexc_key(),
            api_secret_env: d_mexc_secret(),
            recv_window_ms: d_recv_window(),
            futures_leverage: d_leverage(),
            futures_open_type: MexcOpenType::Cross,
        }
    }
}

/// Each configured venue's API key pair (from the environment, never from files).
#[derive(Clone, Debug, Default)]
pub struct OrderEntryCredentials {
    pub gateio: Option<Credentials>,
    pub mexc: Option<Credentials>,
}

impl OrderEntryCredentials {
    /// Reads the key and secret of every configured venue from the environment
    /// variables the configuration names.
    pub fn from_env(config: &OrderEntryConfig) -> Result<Self, MissingSecret> {
        let read = |key: &str, secret: &str| -> Result<Credentials, MissingSecret> {
            let k = std::env::var(key).map_err(|_| MissingSecret(key.to_owned()))?;
            Ok(Credentials::new(k, Secret::from_env(secret)?))
        };
        Ok(OrderEntryCredentials {
            gateio: config.gateio.as_ref().map(|g| read(&g.api_key_env, &g.api_secret_env)).transpose()?,
            mexc: config.mexc.as_ref().map(|m| read(&m.api_key_env, &m.api_secret_env)).transpose()?,
        })
    }
}

/// Why the sink could not be built or made ready.
#[derive(Debug, thiserror::Error)]
pub enum OrderEntryError {
    #[error("order entry: {0}")]
    Config(String),
    #[error("order entry: no credentials for {0}")]
    MissingCredentials(Venue),
    #[error("order entry: {0}")]
    Http(#[from] HttpSetupError),
    #[error("order entry: {0}")]
    Ws(#[from] WsError),
    #[error("order entry: {0}")]
    Io(#[from] std::io::Error),
    #[error("order entry not ready after {after:?}: {what}")]
    NotReady { after: Duration, what: String },
}

/// A venue's refusal or a private stream's trouble, kept for a cold thread to log.
#[derive(Clone, Copy)]
pub struct VenueNotice {
    pub venue: Venue,
    pub market: Market,
    pub reason: RejectReason,
    /// The venue's numeric code or HTTP status (0 when none).
    pub code: i64,
    text: [u8; 120],
    len: u8,
}

impl VenueNotice {
    /// The venue's label and message (cut at 120 bytes).
    pub fn text(&self) -> &str {
        let b = &self.text[..usize::from(self.len)];
        match std::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl std::fmt::Debug for VenueNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} ({}): {}", self.venue, self.market, self.reason.name(), self.code, self.text())
    }
}

const NOTICES: usize = 64;

/// Timings in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub request_timeout_ms: u64,
    pub grace_ns: u64,
    pub settle_ns: u64,
    pub not_found_grace_ns: u64,
    pub keepalive_ns: u64,
    pub backoff_ns: u64,
    pub disabled_ns: u64,
}

/// What every venue module shares: instruments, clock, order tracker, notices, the
/// refusal windows and the futures account view.
pub(crate) struct Core {
    pub instruments: Arc<Instruments>,
    pub clock: Clock,
    pub tracker: Tracker,
    pub timing: Timing,
    notices: VecDeque<VenueNotice>,
    /// Per venue and market: refuse orders until (ns).
    blocked_until: [[u64; 2]; Venue::COUNT],
    disabled_until: [[u64; 2]; Venue::COUNT],
    futures_balances: [Option<(Amount, Option<Amount>)>; Venue::COUNT],
    positions: Vec<Option<Qty>>,
}

/// The asset id of fees in an asset no instrument trades (exchange points).
pub(crate) const OTHER_ASSET: AssetId = AssetId(u16::MAX);

impl Core {
    pub fn now_ns(&self) -> u64 {
        pipeline::clock::now_ns(&self.clock)
    }

    /// The asset called `name` (any case), without allocating (`Instruments::find_asset`
    /// upper-cases into a new string).
    pub fn asset(&self, name: &[u8]) -> AssetId {
        (0..self.instruments.asset_count())
            .map(|i| AssetId(i as u16))
            .find(|&a| self.instruments.asset_name(a).as_bytes().eq_ignore_ascii_case(name))
            .unwrap_or(OTHER_ASSET)
    }

    /// A spot balance report; assets no instrument trades are left out.
    pub fn balance(&mut self, venue: Venue, asset: &[u8], available: &[u8], locked: &[u8], ts: u64) {
        let a = self.asset(asset);
        if a == OTHER_ASSET {
            return;
        }
        let (Some(available), locked) = (wire::parse_amount(available), wire::parse_amount(locked)) else {
            return;
        };
        self.tracker.out.push_back(StateInput::Balance(BalanceEvent {
            venue,
            asset: a,
            available,
            locked: locked.unwrap_or(Amount::ZERO),
            ts_ns: ts,
        }));
    }

    pub fn futures_balance(&mut self, venue: Venue, total: Option<Amount>, available: Option<Amount>) {
        if let Some(t) = total {
            let prev = self.futures_balances[venue.index()].and_then(|b| b.1);
            self.futures_balances[venue.index()] = Some((t, available.or(prev)));
        }
    }

    pub fn futures_position(&mut self, inst: InstrumentId, qty: Qty) {
        if let Some(p) = self.positions.get_mut(inst.index()) {
            *p = Some(qty);
        }
    }

    /// Refuses new orders on `venue`/`market` for `retry_after` (or the default backoff).
    pub fn block(&mut self, venue: Venue, market: Market, retry_after: Option<Duration>) {
        let d = retry_after.map_or(self.timing.backoff_ns, |d| d.as_nanos() as u64);
        let until = self.now_ns().saturating_add(d);
        let b = &mut self.blocked_until[venue.index()][market as usize];
        *b = (*b).max(until);
    }

    pub fn disable(&mut self, venue: Venue, market: Market) {
        self.disabled_until[venue.index()][market as usize] =
            self.now_ns().saturating_add(self.timing.disabled_ns);
    }

    /// Keeps a notice; the oldest goes when the ring is full.
    pub fn notice_parts(
        &mut self,
        venue: Venue,
        market: Market,
        reason: RejectReason,
        code: i64,
        label: &[u8],
        message: &[u8],
    ) {
        let mut n = VenueNotice { venue, market, reason, code, text: [0; 120], len: 0 };
        let mut at = 0;
        for part in [label, if label.is_empty() || message.is_empty() { b"" } else { b": " }, message] {
            let take = part.len().min(n.text.len() - at);
            n.text[at..at + take].copy_from_slice(&part[..take]);
            at += take;
        }
        n.len = at as u8;
        if self.notices.len() == NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(n);
    }

    pub fn notice_text(&mut self, venue: Venue, market: Market, reason: RejectReason, code: i64, text: &str) {
        self.notice_parts(venue, market, reason, code, b"", text.as_bytes());
    }
}

/// What a pending request is about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    /// The tracker slot, or `u32::MAX`.
    pub slot: u32,
    /// The instrument (for requests about one), for diagnostics.
    #[allow(dead_code)]
    pub inst: InstrumentId,
    pub market: Market,
}

impl Pending {
    pub fn none() -> Self {
        Pending { slot: u32::MAX, inst: InstrumentId(0), market: Market::Spot }
    }
}

/// Requests in flight on one client: id, purpose and what they are about.
#[derive(Debug)]
pub(crate) struct PendingTable<K> {
    items: Vec<(RequestId, K, Pending)>,
}

impl<K: Copy> PendingTable<K> {
    pub fn new() -> Self {
        PendingTable { items: Vec::with_capacity(512) }
    }

    /// Keeps a request the client accepted; false when it refused to send it.
    pub fn track<E>(&mut self, submitted: Result<RequestId, E>, kind: K, meta: Pending) -> bool {
        submitted.map(|id| self.items.push((id, kind, meta))).is_ok()
    }

    pub fn take(&mut self, id: RequestId) -> Option<(K, Pending)> {
        let i = self.items.iter().position(|e| e.0 == id)?;
        let (_, k, m) = self.items.swap_remove(i);
        Some((k, m))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// A request target (`/path?query`) built in a reusable buffer, remembering where the
/// query starts (signatures need path and query apart).
#[derive(Debug)]
pub(crate) struct RestTarget {
    buf: String,
    query_at: Option<usize>,
}

impl RestTarget {
    pub fn new() -> Self {
        RestTarget { buf: String::with_capacity(1024), query_at: None }
    }

    pub fn begin(&mut self, prefix: &str) {
        self.buf.clear();
        self.buf.push_str(prefix);
        self.query_at = None;
    }

    pub fn set(&mut self, prefix: &str, path: &str, query: &str) {
        self.begin(prefix);
        self.buf.push_str(path);
        if !query.is_empty() {
            self.query_start();
            self.buf.push_str(query);
        }
    }

    pub fn push(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    pub fn push_client_id(&mut self, c: ClientOrderId) {
        wire::push_client_id(&mut self.buf, c);
    }

    pub fn buf_mut(&mut self) -> &mut String {
        &mut self.buf
    }

    /// Starts the query (`?`), if not started.
    pub fn query_start(&mut self) {
        if self.query_at.is_none() {
            self.buf.push('?');
            self.query_at = Some(self.buf.len());
        }
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }

    pub fn path(&self) -> &str {
        match self.query_at {
            Some(q) => &self.buf[..q - 1],
            None => &self.buf,
        }
    }

    pub fn query(&self) -> &str {
        match self.query_at {
            Some(q) => &self.buf[q..],
            None => "",
        }
    }
}

/// Whether each venue's connections are ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    pub gateio: Option<bool>,
    pub mexc_spot: Option<bool>,
    pub mexc_futures: Option<bool>,
}

impl Readiness {
    pub fn all(&self) -> bool {
        [self.gateio, self.mexc_spot, self.mexc_futures].iter().all(|r| r.is_none_or(|r| r))
    }
}

/// Token ranges of the clients in the sink's `mio::Poll`.
const GATE_TOKENS: usize = 0;
const MEXC_SPOT_TOKENS: usize = 1_000;
const MEXC_FUTURES_TOKENS: usize = 2_000;
/// Queries the tracker asks for in one pass at most.
const QUERIES_PER_POLL: usize = 32;

/// The real venues' order entry.
pub struct VenueSink {
    poll: Poll,
    events: Events,
    core: Core,
    gate: Option<GateEntry>,
    mexc_spot: Option<MexcSpotEntry>,
    mexc_futures: Option<MexcFuturesEntry>,
    validate: bool,
    stopped: bool,
}

impl std::fmt::Debug for VenueSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueSink")
            .field("gate", &self.gate)
            .field("mexc_spot", &self.mexc_spot)
            .field("mexc_futures", &self.mexc_futures)
            .field("tracker", &self.core.tracker)
            .finish_non_exhaustive()
    }
}

impl VenueSink {
    /// Builds the clients of every configured venue that has instruments, opens the
    /// keep-alive pools (warm-up requests) and starts the private streams. Nothing waits
    /// here; [`wait_ready`](Self::wait_ready) does.
    pub fn new(
        config: &OrderEntryConfig,
        creds: OrderEntryCredentials,
        instruments: Arc<Instruments>,
        tls: Option<Arc<ClientConfig>>,
        clock: Clock,
    ) -> Result<VenueSink, OrderEntryError> {
        let poll = Poll::new()?;
        let ms = |v: u64| v.saturating_mul(1_000_000);
        let core = Core {
            tracker: Tracker::new(instruments.clone()),
            timing: Timing {
                request_timeout_ms: config.request_timeout_ms,
                grace_ns: ms(config.stream_grace_ms),
                settle_ns: ms(config.settle_query_ms),
                not_found_grace_ns: ms(config.not_found_grace_ms),
                keepalive_ns: ms(config.rest_keepalive_ms),
                backoff_ns: ms(config.rate_limit_backoff_ms),
                disabled_ns: ms(config.trading_disabled_retry_ms),
            },
            notices: VecDeque::with_capacity(NOTICES),
            blocked_until: [[0; 2]; Venue::COUNT],
            disabled_until: [[0; 2]; Venue::COUNT],
            futures_balances: [None; Venue::COUNT],
            positions: vec![None; instruments.len()],
            instruments,
            clock,
        };
        let conns = config.max_connections.clamp(1, 64);
        let http = |url: &str| {
            let mut h = HttpConfig::new(url);
            h.max_connections = conns;
            h.connect_timeout = Duration::from_millis(config.connect_timeout_ms);
            h.request_timeout = Duration::from_millis(config.request_timeout_ms);
            h.max_response_bytes = 4 << 20;
            h.idle_timeout = Duration::from_millis(config.rest_keepalive_ms.saturating_mul(3) / 2 + 1_000);
            h.default_headers = vec![("Accept".into(), "application/json".into())];
            h
        };
        let has = |v: Venue, m: Option<Market>| {
            core.instruments.iter().any(|i| i.venue == v && m.is_none_or(|m| i.market == m))
        };
        let registry = poll.registry();
        let gate = match &config.gateio {
            Some(g) if has(Venue::GateIo, None) => {
                let c = creds.gateio.clone().ok_or(OrderEntryError::MissingCredentials(Venue::GateIo))?;
                Some(GateEntry::new(
                    g,
                    c,
                    &core,
                    http(&g.rest_url),
                    tls.clone(),
                    registry,
                    GATE_TOKENS,
                    conns,
                )?)
            }
            _ => None,
        };
        let (mexc_spot, mexc_futures) = match &config.mexc {
            Some(m) => {
                let c = || creds.mexc.clone().ok_or(OrderEntryError::MissingCredentials(Venue::Mexc));
                let spot = if has(Venue::Mexc, Some(Market::Spot)) {
                    Some(MexcSpotEntry::new(
                        m,
                        c()?,
                        &core,
                        http(&m.rest_url),
                        tls.clone(),
                        registry,
                        MEXC_SPOT_TOKENS,
                        conns,
                    )?)
                } else {
                    None
                };
                let futures = if has(Venue::Mexc, Some(Market::Futures)) {
                    let url = m.futures_rest_url.as_deref().unwrap_or(&m.rest_url);
                    Some(MexcFuturesEntry::new(
                        m,
                        c()?,
                        &core,
                        http(url),
                        tls.clone(),
                        registry,
                        MEXC_FUTURES_TOKENS,
                        conns,
                    )?)
                } else {
                    None
                };
                (spot, futures)
            }
            None => (None, None),
        };
        Ok(VenueSink {
            poll,
            events: Events::with_capacity(256),
            core,
            gate,
            mexc_spot,
            mexc_futures,
            validate: config.validate_locally,
            stopped: false,
        })
    }

    /// Whether each venue's pools are warm and private streams subscribed.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            gateio: self.gate.as_ref().map(GateEntry::is_ready),
            mexc_spot: self.mexc_spot.as_ref().map(MexcSpotEntry::is_ready),
            mexc_futures: self.mexc_futures.as_ref().map(MexcFuturesEntry::is_ready),
        }
    }

    /// Drives the connections until every pool is warm and every private stream is
    /// subscribed (cold path: sleeps a millisecond between passes). Events that arrive
    /// meanwhile stay queued for `poll`.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), OrderEntryError> {
        let start = std::time::Instant::now();
        loop {
            self.drive();
            let r = self.readiness();
            if r.all() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                let mut what = format!("{r:?}");
                for n in &self.core.notices {
                    let _ = write!(what, "; {n:?}");
                }
                return Err(OrderEntryError::NotReady { after: timeout, what });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Hands every kept notice to `f`, oldest first.
    pub fn drain_notices(&mut self, mut f: impl FnMut(&VenueNotice)) {
        while let Some(n) = self.core.notices.pop_front() {
            f(&n);
        }
    }

    /// The futures account's balance on `venue` (total, and available when the venue
    /// said), as last reported.
    pub fn futures_balance(&self, venue: Venue) -> Option<(Amount, Option<Amount>)> {
        self.core.futures_balances[venue.index()]
    }

    /// The futures position of `inst` in contracts (signed), as last reported.
    pub fn futures_position(&self, inst: InstrumentId) -> Option<Qty> {
        self.core.positions.get(inst.index()).copied().flatten()
    }

    /// Orders sent or heard of that have not finished yet.
    pub fn open_orders(&self) -> usize {
        self.core.tracker.open_count()
    }

    /// One pass over the sockets and timers.
    fn drive(&mut self) {
        if self.stopped {
            return;
        }
        if self.poll.poll(&mut self.events, Some(Duration::ZERO)).is_ok() {
            for ev in self.events.iter() {
                let _ = self.gate.as_mut().is_some_and(|g| g.on_event(ev))
                    || self.mexc_spot.as_mut().is_some_and(|m| m.on_event(ev))
                    || self.mexc_futures.as_mut().is_some_and(|m| m.on_event(ev));
            }
        }
        let now = self.core.clock.now();
        if let Some(g) = &mut self.gate {
            g.poll(now, &mut self.core);
        }
        if let Some(m) = &mut self.mexc_spot {
            m.poll(now, &mut self.core);
        }
        if let Some(m) = &mut self.mexc_futures {
            m.poll(now, &mut self.core);
        }
        let mut due = [(0u32, false); QUERIES_PER_POLL];
        let mut n = 0;
        let now_ns = self.core.now_ns();
        self.core.tracker.tick(now_ns, false, &mut |k, external| {
            if n < due.len() {
                due[n] = (k as u32, external);
                n += 1;
            }
        });
        for &(k, external) in &due[..n] {
            let inst = self.core.tracker.view(k as usize).inst;
            self.query_slot(k as usize, inst, external);
        }
    }

    fn query_slot(&mut self, k: usize, inst: InstrumentId, external: bool) -> bool {
        let Some(i) = self.core.instruments.try_get(inst) else { return false };
        match (i.venue, i.market) {
            (Venue::GateIo, _) => self.gate.as_mut().is_some_and(|g| g.query(k, external, &mut self.core)),
            (Venue::Mexc, Market::Spot) => {
                self.mexc_spot.as_mut().is_some_and(|m| m.query(k, external, &mut self.core))
            }
            (Venue::Mexc, Market::Futures) => {
                self.mexc_futures.as_mut().is_some_and(|m| m.query(k, external, &mut self.core))
            }
        }
    }

    fn route(&self, inst: InstrumentId) -> Result<(Venue, Market), SinkError> {
        let i =
            self.core.instruments.try_get(inst).ok_or(SinkError::NotSent(RejectReason::UnknownInstrument))?;
        let up = match (i.venue, i.market) {
            (Venue::GateIo, _) => self.gate.is_some(),
            (Venue::Mexc, Market::Spot) => self.mexc_spot.is_some(),
            (Venue::Mexc, Market::Futures) => self.mexc_futures.is_some(),
        };
        if !up || self.stopped {
            return Err(SinkError::NotSent(RejectReason::Disconnected));
        }
        Ok((i.venue, i.market))
    }
}

impl OrderSink for VenueSink {
    fn submit(&mut self, order: &OrderRequest) -> Result<(), SinkError> {
        let (venue, market) = self.route(order.inst)?;
        let now = self.core.now_ns();
        if now < self.core.blocked_until[venue.index()][market as usize] {
            return Err(SinkError::NotSent(RejectReason::RateLimited));
        }
        let disabled = &mut self.core.disabled_until[venue.index()][market as usize];
        if now < *disabled {
            return Err(SinkError::NotSent(RejectReason::TradingDisabled));
        }
        if *disabled != 0 {
            // The window ended: this order probes whether trading is back.
            *disabled = 0;
        }
        let inst = self.core.instruments.get(order.inst);
        if inst.market != order.market || inst.venue != order.venue {
            return Err(SinkError::NotSent(RejectReason::Other));
        }
        if self.validate {
            if !order.price.is_positive()
                || !order.qty.is_positive()
                || !order.price.is_multiple_of(inst.tick)
                || !order.qty.is_multiple_of(inst.lot)
            {
                return Err(SinkError::NotSent(RejectReason::BadPrecision));
            }
            if !inst.accepts(order.price, order.qty) {
                return Err(SinkError::NotSent(RejectReason::BelowMinimum));
            }
        }
        match (venue, market) {
            (Venue::GateIo, _) => {
                self.gate.as_mut().map_or(Err(SinkError::NotSent(RejectReason::Disconnected)), |g| {
                    g.submit(order, &mut self.core)
                })
            }
            (Venue::Mexc, Market::Spot) => {
                self.mexc_spot.as_mut().map_or(Err(SinkError::NotSent(RejectReason::Disconnected)), |m| {
                    m.submit(order, &mut self.core)
                })
            }
            (Venue::Mexc, Market::Futures) => {
                self.mexc_futures.as_mut().map_or(Err(SinkError::NotSent(RejectReason::Disconnected)), |m| {
                    m.submit(order, &mut self.core)
                })
            }
        }
    }

    fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError> {
        let (venue, market) = self.route(inst)?;
        let ok = match (venue, market) {
            (Venue::GateIo, _) => self.gate.as_mut().is_some_and(|g| g.cancel(client, inst, &mut self.core)),
            (Venue::Mexc, Market::Spot) => {
                self.mexc_spot.as_mut().is_some_and(|m| m.cancel(client, inst, &mut self.core))
            }
            (Venue::Mexc, Market::Futures) => {
                self.mexc_futures.as_mut().is_some_and(|m| m.cancel(client, inst, &mut self.core))
            }
        };
        if ok { Ok(()) } else { Err(SinkError::NotSent(RejectReason::RateLimited)) }
    }

    fn cancel_all(&mut self) -> Result<(), SinkError> {
        let mut ok = true;
        if let Some(g) = &mut self.gate {
            ok &= g.cancel_all(&mut self.core);
        }
        if let Some(m) = &mut self.mexc_spot {
            ok &= m.cancel_all(&mut self.core);
        }
        if let Some(m) = &mut self.mexc_futures {
            ok &= m.cancel_all(&mut self.core);
        }
        if ok { Ok(()) } else { Err(SinkError::NotSent(RejectReason::RateLimited)) }
    }

    fn query(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError> {
        self.route(inst)?;
        let now = self.core.now_ns();
        let k = self.core.tracker.find_or_open(client, inst, Side::Buy, now);
        if self.query_slot(k, inst, true) {
            Ok(())
        } else {
            Err(SinkError::NotSent(RejectReason::RateLimited))
        }
    }

    fn query_balances(&mut self, venue: Venue) -> Result<(), SinkError> {
        let ok = match venue {
            Venue::GateIo => self.gate.as_mut().map(|g| g.query_balances(&mut self.core)),
            Venue::Mexc => {
                let s = self.mexc_spot.as_mut().map(|m| m.query_balances(&mut self.core));
                let f = self.mexc_futures.as_mut().map(|m| m.query_balances(&mut self.core));
                match (s, f) {
                    (None, None) => None,
                    (s, f) => Some(s.unwrap_or(true) && f.unwrap_or(true)),
                }
            }
        };
        match ok {
            None => Err(SinkError::NotSent(RejectReason::Disconnected)),
            Some(true) => Ok(()),
            Some(false) => Err(SinkError::NotSent(RejectReason::RateLimited)),
        }
    }

    fn supports_fok(&self, inst: InstrumentId) -> bool {
        self.route(inst).is_ok()
    }

    fn poll(&mut self, max: usize, out: &mut dyn FnMut(StateInput)) -> usize {
        self.drive();
        let n = max.min(self.core.tracker.out.len());
        for _ in 0..n {
            if let Some(e) = self.core.tracker.out.pop_front() {
                out(e);
            }
        }
        n
    }

    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        if let Some(g) = &mut self.gate {
            g.stop();
        }
        if let Some(m) = &mut self.mexc_spot {
            m.stop(&mut self.core);
        }
        if let Some(m) = &mut self.mexc_futures {
            m.stop();
        }
        self.stopped = true;
    }
}

/// A core for the venue modules' unit tests (no grace, no windows).
#[cfg(test)]
pub(crate) fn test_core(instruments: Arc<Instruments>) -> Core {
    Core {
        tracker: Tracker::new(instruments.clone()),
        timing: Timing {
            request_timeout_ms: 1,
            grace_ns: 0,
            settle_ns: 0,
            not_found_grace_ns: 0,
            keepalive_ns: 0,
            backoff_ns: 0,
            disabled_ns: 0,
        },
        notices: VecDeque::new(),
        blocked_until: [[0; 2]; Venue::COUNT],
        disabled_until: [[0; 2]; Venue::COUNT],
        futures_balances: [None; Venue::COUNT],
        positions: vec![None; instruments.len()],
        instruments,
        clock: Clock::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_unknown_keys_and_fills_defaults() {
        let c: OrderEntryConfig = toml::from_str(
            r#"
            request_timeout_ms = 1500
            [gateio]
            rest_url = "https://api.gateio.ws/api/v4"
            ws_spot_url = "wss://api.gateio.ws/ws/v4/"
            ws_futures_url = "wss://fx-ws.gateio.ws/v4/ws/usdt"
            [mexc]
            rest_url = "https://api.mexc.com"
            futures_rest_url = "https://contract.mexc.com"
            ws_spot_url = "wss://wbs-api.mexc.com/ws"
            ws_futures_url = "wss://contract.mexc.com/edge"
            futures_open_type = "isolated"
            "#,
        )
        .unwrap();
        assert_eq!(c.request_timeout_ms, 1500);
        assert_eq!(c.stream_grace_ms, 200);
        assert_eq!(c.gateio.as_ref().unwrap().api_key_env, "GATEIO_API_KEY");
        assert_eq!(c.mexc.as_ref().unwrap().futures_open_type, MexcOpenType::Isolated);
        assert!(toml::from_str::<OrderEntryConfig>("request_timeout = 1").is_err());
        assert!(
            toml::from_str::<OrderEntryConfig>(
                "[gateio]\nrest_url = \"x\"\nws_spot_url = \"x\"\nws_futures_url = \"x\"\napi_secret = \"s\""
            )
            .is_err()
        );
    }

    #[test]
    fn targets_keep_path_and_query_apart() {
        let mut t = RestTarget::new();
        t.set("/api/v4", "/spot/orders", "currency_pair=BTC_USDT");
        assert_eq!(t.as_str(), "/api/v4/spot/orders?currency_pair=BTC_USDT");
        assert_eq!(t.path(), "/api/v4/spot/orders");
        assert_eq!(t.query(), "currency_pair=BTC_USDT");
        t.set("", "/api/v3/order", "");
        assert_eq!((t.path(), t.query()), ("/api/v3/order", ""));
    }

    #[test]
    fn notices_keep_label_and_message() {
        let u = pipeline::testkit::universe();
        let mut core = test_core(u.instruments.clone());
        core.notice_parts(
            Venue::Mexc,
            Market::Futures,
            RejectReason::TradingDisabled,
            1002,
            b"",
            b"Contract not allow place order!",
        );
        core.notice_parts(
            Venue::GateIo,
            Market::Spot,
            RejectReason::Auth,
            401,
            b"INVALID_KEY",
            b"Invalid key provided",
        );
        let n: Vec<String> = core.notices.iter().map(|n| format!("{n:?}")).collect();
        assert_eq!(n[0], "mexc futures trading_disabled (1002): Contract not allow place order!");
        assert_eq!(n[1], "gateio spot auth (401): INVALID_KEY: Invalid key provided");
    }
}
