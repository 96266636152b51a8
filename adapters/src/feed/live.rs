//! The live feed: venue WebSocket connections and REST snapshots, decoded for the md
//! stage.
//!
//! One `mio::Poll` drives every connection of the md thread: a WebSocket client per
//! (venue, market) (MEXC spot splits its symbols so no connection carries more than 30
//! topics), and a keep-alive HTTP client per REST origin for order-book snapshots.
//!
//! Subscriptions: Gate `*.obu` (self-syncing: a full book first, then chained deltas) or
//! `*.order_book_update` (deltas synced against a REST snapshot), plus `*.book_ticker`;
//! MEXC spot `aggre.depth` and `aggre.bookTicker` (protobuf) with a REST `/api/v3/depth`
//! snapshot; MEXC futures `sub.depth` (merged pushes) with a REST snapshot. Each
//! subscription goes in its own message, so one refused symbol cannot take others down;
//! a MEXC acknowledgement whose `msg` is not the requested topic is a refusal.
//!
//! Resync: a REST snapshot for snapshot-synced feeds (at most one request per
//! instrument per `snapshot_interval`), an unsubscribe/subscribe pair for Gate obu. A
//! lost or reopened connection marks every book it fed as lost, so the book stage
//! invalidates them before anything derived from the old session is traded on.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use mio::{Events, Poll, Token};
use pipeline::clock::raw_to_ns;
use pipeline::md::FeedSource;
use pipeline::msg::{FeedLoss, MdBody, MdEvent};
use pipeline::types::{InstrumentId, Instruments, Market, Venue};
use quanta::Clock;
use rustls::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::capture::Source;
use crate::decode::{DecodeError, DecodeStats, Frame};
use crate::net::http::{HttpClient, HttpConfig, Outcome, Request, RequestId};
use crate::net::ws::{Payload, VenuePing, WsClient, WsConfig, WsEvent, WsHooks, WsStats};
use crate::venues::gateio::md::GateMd;
use crate::venues::mexc::futures_md::MexcFuturesMd;
use crate::venues::mexc::spot_md::MexcSpotMd;

/// How Gate.io books are kept in sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDepth {
    /// `*.obu`, 50 levels every 20 ms: a full book on subscribe, resync by resubscribing.
    #[default]
    Obu,
    /// `*.order_book_update` every 100 ms, synced against REST snapshots.
    OrderBookUpdate,
}

/// Where one venue serves public market data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueEndpoints {
    pub venue: Venue,
    /// REST origin, e.g. `https://api.gateio.ws` or `https://api.mexc.com`.
    pub rest: String,
    /// REST origin of the futures API when it differs (MEXC: `https://contract.mexc.com`).
    #[serde(default)]
    pub rest_futures: Option<String>,
    pub ws_spot: String,
    pub ws_futures: String,
}

/// Live feed settings.
#[derive(Clone, Debug)]
pub struct LiveFeedConfig {
    pub venues: Vec<VenueEndpoints>,
    pub gate_depth: GateDepth,
    /// MEXC spot push interval: `10ms` or `100ms`.
    pub mexc_interval: &'static str,
    /// No data for this long and a connection is presumed dead.
    pub stale_after: Duration,
    /// Levels asked of REST snapshots.
    pub snapshot_limit: u32,
    /// Least time between two snapshot requests for one instrument.
    pub snapshot_interval: Duration,
}

impl Default for LiveFeedConfig {
    fn default() -> Self {
        Self {
            venues: Vec::new(),
            gate_depth: GateDepth::Obu,
            mexc_interval: "10ms",
            stale_after: Duration::from_secs(30),
            snapshot_limit: 100,
            snapshot_interval: Duration::from_secs(1),
        }
    }
}

/// A raw venue message as received, for recording.
#[derive(Debug)]
pub struct RawMessage<'a> {
    /// Receive time in ns since the Unix epoch.
    pub recv_unix_ns: u64,
    pub venue: Venue,
    pub market: Market,
    pub source: Source,
    pub path: Option<&'a str>,
    pub payload: &'a [u8],
    pub binary: bool,
}

/// Receives every raw message (for `arb record`).
pub type Tap = Box<dyn FnMut(&RawMessage<'_>) + Send>;

/// Why a live feed could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LiveFeedError {
    #[error("no endpoints configured for {0}")]
    NoEndpoints(Venue),
    #[error("{venue} {market}: {source}")]
    Ws { venue: Venue, market: Market, source: crate::net::ws::WsError },
    #[error("{venue} REST: {source}")]
    Http { venue: Venue, source: crate::net::http::HttpSetupError },
    #[error("cannot create the poller: {0}")]
    Poll(std::io::Error),
}

#[derive(Debug)]
enum Decoder {
    Gate(GateMd),
    MexcSpot(MexcSpotMd),
    MexcFutures(MexcFuturesMd),
}

/// What a connection subscribes to, rebuilt on every session.
struct FeedHooks {
    venue: Venue,
    market: Market,
    /// One message per topic.
    subscribe: Vec<Subscription>,
    ping: VenuePing,
}

#[derive(Clone, Debug)]
struct Subscription {
    inst: InstrumentId,
    /// The topic as the venue echoes it (MEXC spot) or names it.
    topic: String,
    /// The JSON template with `{time}` for Gate's request time.
    message: String,
}

impl WsHooks for FeedHooks {
    fn on_open(&mut self, now_unix_ms: u64, out: &mut Vec<String>) {
        let secs = (now_unix_ms / 1000).to_string();
        for s in &self.subscribe {
            out.push(s.message.replace("{time}", &secs));
        }
    }

    fn keepalive(&mut self, now_unix_ms: u64) -> Option<String> {
        Some(self.ping.message(now_unix_ms))
    }

    fn is_heartbeat(&self, frame: &Payload<'_>) -> bool {
        self.ping.is_pong(frame)
    }
}

impl std::fmt::Debug for FeedHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FeedHooks({} {}, {} topics)", self.venue, self.market, self.subscribe.len())
    }
}

struct Conn {
    venue: Venue,
    market: Market,
    client: WsClient<FeedHooks>,
    decoder: Decoder,
    insts: Vec<InstrumentId>,
    /// What the client subscribes to, for checking acknowledgements.
    topics: Vec<Subscription>,
}

/// Per-instrument bookkeeping.
#[derive(Clone, Debug)]
struct InstState {
    venue: Venue,
    market: Market,
    symbol: String,
    conn: usize,
    /// Synced by REST snapshot (else by resubscribing).
    rest_synced: bool,
    last_request_ns: Option<u64>,
    subscribed_ns: u64,
    snapshot_path: String,
}

struct Rest {
    venue: Venue,
    futures: bool,
    client: HttpClient,
}

/// Counters of a live feed, readable from any thread.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub snapshots_requested: std::sync::atomic::AtomicU64,
    pub snapshots_failed: std::sync::atomic::AtomicU64,
    pub subscriptions_refused: std::sync::atomic::AtomicU64,
    pub resubscriptions: std::sync::atomic::AtomicU64,
    pub venue_errors: std::sync::atomic::AtomicU64,
}

/// Market data from live venue connections.
pub struct LiveFeed {
    cfg: LiveFeedConfig,
    poll: Poll,
    events: Events,
    conns: Vec<Conn>,
    rest: Vec<Rest>,
    insts: Vec<Option<InstState>>,
    pending: HashMap<(usize, RequestId), InstrumentId>,
    clock: Clock,
    unix_offset_ns: i128,
    stats: Arc<DecodeStats>,
    counters: Arc<LiveCounters>,
    tap: Option<Tap>,
    log: Option<pipeline::log::LogTx>,
    ws_base_token: usize,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed").field("connections", &self.conns.len()).finish_non_exhaustive()
    }
}

/// Most topics MEXC allows on one spot connection.
const MEXC_TOPICS_PER_CONN: usize = 30;
/// Tokens per REST origin (its connection pool).
const REST_CONNECTIONS: usize = 4;

fn pair_obu(symbol: &str) -> String {
    format!("ob.{symbol}.50")
}

impl LiveFeed {
    /// Connects (lazily, on the first polls) to every venue market that `instruments`
    /// has instruments of.
    pub fn new(
        cfg: LiveFeedConfig,
        instruments: &Instruments,
        tls: Option<Arc<ClientConfig>>,
        clock: Clock,
        stats: Arc<DecodeStats>,
    ) -> Result<Self, LiveFeedError> {
        let poll = Poll::new().map_err(LiveFeedError::Poll)?;
        let mut conns: Vec<Conn> = Vec::new();
        let mut insts: Vec<Option<InstState>> = vec![None; instruments.len()];
        let ws_base_token = 0usize;
        for venue in Venue::ALL {
            for market in Market::ALL {
                let members: Vec<_> =
                    instruments.iter().filter(|i| i.venue == venue && i.market == market).collect();
                if members.is_empty() {
                    continue;
                }
                let ep =
                    cfg.venues.iter().find(|e| e.venue == venue).ok_or(LiveFeedError::NoEndpoints(venue))?;
                let url = if market == Market::Spot { &ep.ws_spot } else { &ep.ws_futures };
                let per_conn = match (venue, market) {
                    (Venue::Mexc, Market::Spot) => MEXC_TOPICS_PER_CONN / 2,
                    _ => usize::MAX,
                };
                for chunk in members.chunks(per_conn.min(members.len())) {
                    let mut subscribe = Vec::new();
                    for i in chunk {
                        subscribe.extend(subscriptions(&cfg, venue, market, &i.symbol, i.id));
                    }
                    let ping = match (venue, market) {
                        (Venue::GateIo, Market::Spot) => VenuePing::GateSpot,
                        (Venue::GateIo, Market::Futures) => VenuePing::GateFutures,
                        (Venue::Mexc, Market::Spot) => VenuePing::MexcSpot,
                        (Venue::Mexc, Market::Futures) => VenuePing::MexcFutures,
                    };
                    let topics = subscribe.clone();
                    let hooks = FeedHooks { venue, market, subscribe, ping };
                    let mut wc = WsConfig::new(url.clone());
                    wc.stale_after = cfg.stale_after;
                    wc.keepalive_every = Duration::from_secs(15);
                    if venue == Venue::Mexc {
                        wc.max_session = Some(Duration::from_secs(23 * 3600));
                    }
                    let token = Token(ws_base_token + conns.len());
                    let client = WsClient::new(wc, hooks, tls.clone(), poll.registry(), token, clock.clone())
                        .map_err(|source| LiveFeedError::Ws { venue, market, source })?;
                    let decoder = match (venue, market) {
                        (Venue::GateIo, m) => Decoder::Gate(GateMd::new(instruments, m)),
                        (Venue::Mexc, Market::Spot) => Decoder::MexcSpot(MexcSpotMd::new(instruments)),
                        (Venue::Mexc, Market::Futures) => {
                            Decoder::MexcFutures(MexcFuturesMd::new(instruments))
                        }
                    };
                    let conn_index = conns.len();
                    for i in chunk {
                        let rest_synced = !(venue == Venue::GateIo && cfg.gate_depth == GateDepth::Obu);
                        insts[i.id.index()] = Some(InstState {
                            venue,
                            market,
                            symbol: i.symbol.clone(),
                            conn: conn_index,
                            rest_synced,
                            last_request_ns: None,
                            subscribed_ns: 0,
                            snapshot_path: snapshot_path(venue, market, &i.symbol, cfg.snapshot_limit),
                        });
                    }
                    conns.push(Conn {
                        venue,
                        market,
                        client,
                        decoder,
                        insts: chunk.iter().map(|i| i.id).collect(),
                        topics,
                    });
                }
            }
        }
        let mut rest = Vec::new();
        let mut next_token = ws_base_token + conns.len();
        for ep in &cfg.venues {
            for futures in [false, true] {
                let needed = insts.iter().flatten().any(|s| {
                    s.venue == ep.venue && s.rest_synced && (s.market == Market::Futures) == futures
                });
                if !needed {
                    continue;
                }
                let base = if futures {
                    ep.rest_futures.clone().unwrap_or_else(|| ep.rest.clone())
                } else {
                    ep.rest.clone()
                };
                let mut hc = HttpConfig::new(base);
                hc.max_connections = REST_CONNECTIONS;
                hc.default_headers = vec![("Accept".into(), "application/json".into())];
                let client =
                    HttpClient::new(hc, tls.clone(), poll.registry(), Token(next_token), clock.clone())
                        .map_err(|source| LiveFeedError::Http { venue: ep.venue, source })?;
                next_token += REST_CONNECTIONS;
                rest.push(Rest { venue: ep.venue, futures, client });
            }
        }
        let unix_offset_ns = pipeline::clock::unix_ns() as i128 - pipeline::clock::now_ns(&clock) as i128;
        Ok(Self {
            cfg,
            poll,
            events: Events::with_capacity(256),
            conns,
            rest,
            insts,
            pending: HashMap::new(),
            clock,
            unix_offset_ns,
            stats,
            counters: Arc::new(LiveCounters::default()),
            tap: None,
            log: None,
            ws_base_token,
        })
    }

    /// Sends every raw message to `tap` as well (recording).
    pub fn with_tap(mut self, tap: Tap) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Reports refused frames, refused subscriptions and venue errors on `log`, with the
    /// start of the offending frame, for a cold thread to write.
    pub fn with_log(mut self, log: pipeline::log::LogTx) -> Self {
        self.log = Some(log);
        self
    }

    pub fn counters(&self) -> Arc<LiveCounters> {
        self.counters.clone()
    }

    /// Each connection's venue, market and counters.
    pub fn connections(&self) -> Vec<(Venue, Market, WsStats)> {
        self.conns.iter().map(|c| (c.venue, c.market, c.client.stats().clone())).collect()
    }

    fn unix(&self, local_ns: u64) -> u64 {
        (local_ns as i128 + self.unix_offset_ns).max(0) as u64
    }

    fn lose(insts: &[InstrumentId], recv_ns: u64, reason: FeedLoss, out: &mut Vec<MdEvent>) {
        for &inst in insts {
            out.push(MdEvent { inst, recv_ns, exch_ms: 0, body: MdBody::FeedLost { reason } });
        }
    }

    fn request_snapshot(&mut self, inst: InstrumentId, now_ns: u64) {
        let Some(st) = self.insts.get_mut(inst.index()).and_then(Option::as_mut) else { return };
        let interval = self.cfg.snapshot_interval.as_nanos() as u64;
        if st.last_request_ns.is_some_and(|t| now_ns.saturating_sub(t) < interval) {
            return;
        }
        let futures = st.market == Market::Futures;
        let Some(ri) = self.rest.iter().position(|r| r.venue == st.venue && r.futures == futures) else {
            return;
        };
        let path = st.snapshot_path.clone();
        st.last_request_ns = Some(now_ns);
        let req = Request::get(&path).timeout(Duration::from_secs(5));
        match self.rest[ri].client.submit(req, self.clock.now()) {
            Ok(id) => {
                self.pending.insert((ri, id), inst);
                self.counters.snapshots_requested.fetch_add(1, Relaxed);
            }
            Err(_) => {
                self.counters.snapshots_failed.fetch_add(1, Relaxed);
            }
        }
    }

    fn resubscribe(&mut self, inst: InstrumentId, now_ns: u64) {
        let secs = (self.unix(now_ns) / 1_000_000_000).to_string();
        let Some(st) = self.insts.get_mut(inst.index()).and_then(Option::as_mut) else { return };
        // A fresh subscription already brings a full book.
        if now_ns.saturating_sub(st.subscribed_ns) < self.cfg.snapshot_interval.as_nanos() as u64 {
            return;
        }
        st.subscribed_ns = now_ns;
        let conn = &mut self.conns[st.conn];
        let channel = if st.market == Market::Spot { "spot.obu" } else { "futures.obu" };
        let topic = pair_obu(&st.symbol);
        let unsub =
            format!(r#"{{"time":{secs},"channel":"{channel}","event":"unsubscribe","payload":["{topic}"]}}"#);
        let sub =
            format!(r#"{{"time":{secs},"channel":"{channel}","event":"subscribe","payload":["{topic}"]}}"#);
        if conn.client.send_text(&unsub).is_ok() && conn.client.send_text(&sub).is_ok() {
            self.counters.resubscriptions.fetch_add(1, Relaxed);
        }
    }

    fn on_ws(&mut self, ci: usize, now_ns_fallback: u64, out: &mut Vec<MdEvent>) -> usize {
        let now = self.clock.now();
        let Conn { venue, market, client, decoder, insts, topics } = &mut self.conns[ci];
        let (venue, market) = (*venue, *market);
        let (stats, counters, clock, tap) = (&self.stats, &self.counters, &self.clock, &mut self.tap);
        let log = &mut self.log;
        use pipeline::log::{Level, LogRecord};
        let offset = self.unix_offset_ns;
        let mut opened = false;
        let n = client.poll(now, &mut |ev| match ev {
            WsEvent::Opened => {
                opened = true;
                Self::lose(insts, now_ns_fallback, FeedLoss::Disconnected, out);
            }
            WsEvent::Lost(_) => Self::lose(insts, now_ns_fallback, FeedLoss::Disconnected, out),
            WsEvent::Frame(f) => {
                let recv_ns = raw_to_ns(clock, f.recv_raw);
                let (bytes, binary) = match f.payload {
                    Payload::Text(t) => (t.as_bytes(), false),
                    Payload::Binary(b) => (b, true),
                };
                if let Some(tap) = tap.as_mut() {
                    let recv_unix_ns = (recv_ns as i128 + offset).max(0) as u64;
                    tap(&RawMessage {
                        recv_unix_ns,
                        venue,
                        market,
                        source: Source::Ws,
                        path: None,
                        payload: bytes,
                        binary,
                    });
                }
                stats.frame();
                let r = match decoder {
                    Decoder::Gate(d) => d.decode(bytes, recv_ns, out),
                    Decoder::MexcSpot(d) => d.decode(bytes, binary, recv_ns, out),
                    Decoder::MexcFutures(d) => d.decode(bytes, recv_ns, out),
                };
                match r {
                    Ok(Frame::Subscribed { ok, topic }) => {
                        let refused = match (venue, market) {
                            // A MEXC spot ack is a success only when it echoes the topic.
                            (Venue::Mexc, Market::Spot) => {
                                !ok || !topics.iter().any(|s| s.topic.as_bytes() == topic)
                            }
                            _ => !ok,
                        };
                        if refused {
                            counters.subscriptions_refused.fetch_add(1, Relaxed);
                            if let Some(l) = log.as_mut() {
                                l.log(LogRecord::new(
                                    recv_ns,
                                    Level::Error,
                                    "subscription_refused",
                                    venue.name(),
                                    0,
                                    0,
                                    topic,
                                ));
                            }
                            for s in topics.iter().filter(|s| contains(topic, s.topic.as_bytes())) {
                                out.push(MdEvent {
                                    inst: s.inst,
                                    recv_ns,
                                    exch_ms: 0,
                                    body: MdBody::FeedLost { reason: FeedLoss::SubscriptionFailed },
                                });
                            }
                        }
                    }
                    Ok(Frame::VenueError { code, message }) => {
                        counters.venue_errors.fetch_add(1, Relaxed);
                        if let Some(l) = log.as_mut() {
                            l.log(LogRecord::new(
                                recv_ns,
                                Level::Warn,
                                "venue_error",
                                venue.name(),
                                code as u64,
                                0,
                                message,
                            ));
                        }
                    }
                    Ok(_) => {}
                    Err(DecodeError { reason, inst }) => {
                        stats.refuse(reason);
                        if let Some(l) = log.as_mut() {
                            let i = inst.map_or(u64::MAX, |i| u64::from(i.0));
                            l.log(LogRecord::new(
                                recv_ns,
                                Level::Warn,
                                "bad_input",
                                reason.name(),
                                i,
                                bytes.len() as u64,
                                bytes,
                            ));
                        }
                        if let Some(inst) = inst {
                            out.push(MdEvent {
                                inst,
                                recv_ns,
                                exch_ms: 0,
                                body: MdBody::FeedLost { reason: FeedLoss::BadUpdate },
                            });
                        }
                    }
                }
            }
        });
        if opened {
            let now_ns = pipeline::clock::now_ns(&self.clock);
            for &inst in &self.conns[ci].insts {
                if let Some(st) = self.insts[inst.index()].as_mut() {
                    st.subscribed_ns = now_ns;
                }
            }
        }
        n
    }

    fn on_rest(&mut self, ri: usize, out: &mut Vec<MdEvent>) -> usize {
        let now = self.clock.now();
        let Self { rest, pending, insts, conns, clock, stats, counters, tap, unix_offset_ns, .. } = self;
        rest[ri].client.poll(now, &mut |c| {
            let Some(inst) = pending.remove(&(ri, c.id)) else { return };
            let Some(st) = insts.get(inst.index()).and_then(Option::as_ref) else { return };
            let body = match &c.outcome {
                Outcome::Ok(r) if r.status == 200 => r.body,
                _ => {
                    counters.snapshots_failed.fetch_add(1, Relaxed);
                    return;
                }
            };
            let recv_ns = pipeline::clock::now_ns(clock);
            if let Some(tap) = tap.as_mut() {
                tap(&RawMessage {
                    recv_unix_ns: (recv_ns as i128 + *unix_offset_ns).max(0) as u64,
                    venue: st.venue,
                    market: st.market,
                    source: Source::Rest,
                    path: Some(&st.snapshot_path),
                    payload: body,
                    binary: false,
                });
            }
            let symbol = st.symbol.as_bytes();
            let r = match &conns[st.conn].decoder {
                Decoder::Gate(d) => d.symbol(symbol).map(|s| d.decode_snapshot(s, body, recv_ns, out)),
                Decoder::MexcSpot(d) => d.symbol(symbol).map(|s| d.decode_snapshot(s, body, recv_ns, out)),
                Decoder::MexcFutures(d) => d.symbol(symbol).map(|s| d.decode_snapshot(s, body, recv_ns, out)),
            };
            if let Some(Err(e)) = r {
                stats.refuse(e.reason);
                counters.snapshots_failed.fetch_add(1, Relaxed);
            }
        })
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn snapshot_path(venue: Venue, market: Market, symbol: &str, limit: u32) -> String {
    match (venue, market) {
        (Venue::GateIo, Market::Spot) => {
            format!("/api/v4/spot/order_book?currency_pair={symbol}&limit={limit}&with_id=true")
        }
        (Venue::GateIo, Market::Futures) => {
            format!("/api/v4/futures/usdt/order_book?contract={symbol}&limit={limit}&with_id=true")
        }
        (Venue::Mexc, Market::Spot) => format!("/api/v3/depth?symbol={symbol}&limit={limit}"),
        (Venue::Mexc, Market::Futures) => format!("/api/v1/contract/depth/{symbol}"),
    }
}

fn subscriptions(
    cfg: &LiveFeedConfig,
    venue: Venue,
    market: Market,
    symbol: &str,
    inst: InstrumentId,
) -> Vec<Subscription> {
    let gate = |channel: &str, payload: String| Subscription {
        inst,
        topic: payload.trim_matches('"').split('"').next().unwrap_or(symbol).to_owned(),
        message: format!(
            r#"{{"time":{{time}},"channel":"{channel}","event":"subscribe","payload":[{payload}]}}"#
        ),
    };
    match (venue, market) {
        (Venue::GateIo, m) => {
            let prefix = if m == Market::Spot { "spot" } else { "futures" };
            let depth = match cfg.gate_depth {
                GateDepth::Obu => gate(&format!("{prefix}.obu"), format!("\"{}\"", pair_obu(symbol))),
                GateDepth::OrderBookUpdate => {
                    let payload = if m == Market::Spot {
                        format!("\"{symbol}\",\"100ms\"")
                    } else {
                        format!("\"{symbol}\",\"100ms\",\"100\"")
                    };
                    gate(&format!("{prefix}.order_book_update"), payload)
                }
            };
            vec![depth, gate(&format!("{prefix}.book_ticker"), format!("\"{symbol}\""))]
        }
        (Venue::Mexc, Market::Spot) => {
            let iv = cfg.mexc_interval;
            [
                format!("spot@public.aggre.depth.v3.api.pb@{iv}@{symbol}"),
                format!("spot@public.aggre.bookTicker.v3.api.pb@{iv}@{symbol}"),
            ]
            .into_iter()
            .map(|topic| Subscription {
                inst,
                message: format!(r#"{{"method":"SUBSCRIPTION","params":["{topic}"]}}"#),
                topic,
            })
            .collect()
        }
        (Venue::Mexc, Market::Futures) => vec![Subscription {
            inst,
            topic: symbol.to_owned(),
            message: format!(r#"{{"method":"sub.depth","param":{{"symbol":"{symbol}","compress":true}}}}"#),
        }],
    }
}

impl FeedSource for LiveFeed {
    fn poll(&mut self, now_ns: u64, out: &mut Vec<MdEvent>) -> usize {
        if self.poll.poll(&mut self.events, Some(Duration::ZERO)).is_ok() {
            for ev in self.events.iter() {
                let t = ev.token().0;
                if let Some(c) = t.checked_sub(self.ws_base_token).and_then(|i| self.conns.get_mut(i)) {
                    c.client.on_event(ev);
                } else {
                    for r in &mut self.rest {
                        if r.client.on_event(ev) {
                            break;
                        }
                    }
                }
            }
        }
        let mut work = 0;
        for ci in 0..self.conns.len() {
            work += self.on_ws(ci, now_ns, out);
        }
        for ri in 0..self.rest.len() {
            work += self.on_rest(ri, out);
        }
        work
    }

    fn resync(&mut self, inst: InstrumentId, now_ns: u64) {
        let Some(st) = self.insts.get(inst.index()).and_then(Option::as_ref) else { return };
        if st.rest_synced {
            self.request_snapshot(inst, now_ns);
        } else {
            self.resubscribe(inst, now_ns);
        }
    }

    fn stop(&mut self) {
        for c in &mut self.conns {
            c.client.close();
        }
    }
}
