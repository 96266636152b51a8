//! The live feed: venue WebSocket connections and REST snapshots, decoded for the md
//! stage.
//!
//! One `mio::Poll` drives every connection of the md thread: WebSocket clients per venue
//! market (as many as the venue's topic limit needs), and a keep-alive HTTP client per
//! REST origin for order-book snapshots. What each market subscribes to, how it is
//! synced and how its frames decode comes from its [`VenueMarket`] (the venues' rooms);
//! each subscription goes in its own message, so one refused symbol cannot take others
//! down.
//!
//! A market whose venue limits the topics of one connection (MEXC spot) takes as many
//! connections as its instruments need, opened one after another
//! ([`VenueMarket::connection_stagger`]) so their subscriptions stay within the venue's
//! message rate.
//!
//! Resync: a REST snapshot for snapshot-synced markets (queued and sent within the
//! endpoint's rate limit by [`SnapshotQueue`], so that the hundreds of snapshots a large
//! universe asks for at start are staggered), else the venue's resubscribe messages. At
//! most one request per instrument per `snapshot_interval` (a snapshot) or
//! `resubscribe_interval` (after the last subscription, which brought a full book
//! already): one asked for sooner waits until it is due and is never dropped. A
//! lost or reopened connection marks every book it fed as lost, so the book stage
//! invalidates them before anything derived from the old session is traded on; a
//! snapshot requested before that is discarded when it arrives (the updates between it
//! and the new session are lost, so it could only sync the book on stale levels).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::{Events, Poll, Token};
use pipeline::clock::raw_to_ns;
use pipeline::md::FeedSource;
use pipeline::msg::{FeedLoss, MdBody, MdEvent};
use pipeline::types::{InstrumentId, Instruments, Market, Venue};
use quanta::Clock;
use rustls::ClientConfig;

use super::snapshots::{RateLimit, SnapshotQueue};
use super::topic::Subscription;
use crate::capture::Source;
use crate::decode::{DecodeError, DecodeStats, Frame};
use crate::json::contains;
use crate::net::http::{HttpClient, HttpConfig, Outcome, Request, RequestId};
use crate::net::ws::{AppPing, Payload, WsClient, WsConfig, WsEvent, WsHooks, WsStats};
use crate::venues::decoder::MdDecoder;
use crate::venues::endpoints::Endpoints;
use crate::venues::venue_market::{FeedOptions, VenueMarket};

/// Live feed settings.
#[derive(Clone, Debug)]
pub struct LiveFeedConfig {
    pub venues: Vec<Endpoints>,
    pub options: FeedOptions,
    /// No data for this long and a connection is presumed dead.
    pub stale_after: Duration,
    /// Levels asked of REST snapshots.
    pub snapshot_limit: u32,
    /// Least time between two snapshot requests for one instrument (a request asked
    /// for sooner is deferred until then, not dropped).
    pub snapshot_interval: Duration,
    /// Least time between two resubscriptions of one instrument (a fresh subscription
    /// already brings a full book).
    pub resubscribe_interval: Duration,
}

impl Default for LiveFeedConfig {
    fn default() -> Self {
        Self {
            venues: Vec::new(),
            options: FeedOptions::default(),
            stale_after: Duration::from_secs(30),
            snapshot_limit: 100,
            snapshot_interval: Duration::from_millis(250),
            resubscribe_interval: Duration::from_millis(250),
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

/// What a connection subscribes to, rebuilt on every session.
struct FeedHooks {
    vm: VenueMarket,
    /// One message per topic.
    subscribe: Vec<Subscription>,
    ping: AppPing,
}

impl WsHooks for FeedHooks {
    fn on_open(&mut self, now_unix_ms: u64, out: &mut Vec<String>) {
        let secs = (now_unix_ms / 1000).to_string();
        for s in &self.subscribe {
            out.push(s.message.replace("{time}", &secs));
        }
    }

    fn keepalive(&mut self, now_unix_ms: u64, out: &mut String) -> bool {
        self.ping.write_into(now_unix_ms, out);
        true
    }

    fn is_heartbeat(&self, frame: &Payload<'_>) -> bool {
        self.ping.is_pong(frame)
    }
}

impl std::fmt::Debug for FeedHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FeedHooks({}, {} topics)", self.vm, self.subscribe.len())
    }
}

struct Conn {
    vm: VenueMarket,
    client: WsClient<FeedHooks>,
    decoder: MdDecoder,
    insts: Vec<InstrumentId>,
    /// What the client subscribes to, for checking acknowledgements.
    topics: Vec<Subscription>,
    /// Topics of removed instruments unsubscribed on this session, whose
    /// acknowledgements (which echo the topic, like a subscription's) are still to come.
    ending: Vec<Subscription>,
    /// When a failed attempt or lost session was last logged.
    loss_logged: Option<quanta::Instant>,
}

/// At most one line per connection in this time about failed attempts and lost sessions;
/// the counters and the next line carry the ones in between.
const LOSS_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Per-instrument bookkeeping.
#[derive(Clone, Debug)]
struct InstState {
    vm: VenueMarket,
    symbol: String,
    conn: usize,
    /// Synced by REST snapshot (else by resubscribing).
    rest_synced: bool,
    last_request_ns: Option<u64>,
    /// A resync was asked for before its interval had passed: sent when due.
    deferred: bool,
    subscribed_ns: u64,
    /// When the instrument's connection last lost or opened a session: a snapshot
    /// requested before it is stale on arrival.
    session_ns: u64,
    snapshot_path: String,
}

struct Rest {
    vm: VenueMarket,
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
    /// Snapshot requests waiting for their endpoint's rate limit, now.
    pub snapshots_waiting: std::sync::atomic::AtomicU64,
    /// Snapshots that arrived after their connection lost or reopened its session, and
    /// were discarded.
    pub snapshots_discarded: std::sync::atomic::AtomicU64,
    /// Every connection's counters, those opened while running included.
    pub connections: ConnectionList,
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
    /// Boxed: the feed is a variant of the engine's feed enum beside a much smaller one.
    snapshots: Box<SnapshotQueue>,
    clock: Clock,
    unix_offset_ns: i128,
    stats: Arc<DecodeStats>,
    counters: Arc<LiveCounters>,
    tap: Option<Tap>,
    log: Option<pipeline::log::LogTx>,
    /// For connections opened while running.
    tls: Option<Arc<ClientConfig>>,
}

/// The market-data connections' venue, market and counters, shared with the cold readers
/// (metrics, `/health`, the dashboard). A connection opened while running (an instrument
/// added on a venue market with none, or past a connection's stream limit) joins it.
#[derive(Clone, Debug, Default)]
pub struct ConnectionList(Arc<Mutex<Vec<(Venue, Market, WsStats)>>>);

impl ConnectionList {
    /// The connections now (cold: clones the list).
    pub fn list(&self) -> Vec<(Venue, Market, WsStats)> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn push(&self, venue: Venue, market: Market, stats: WsStats) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((venue, market, stats));
    }
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed").field("connections", &self.conns.len()).finish_non_exhaustive()
    }
}

/// Tokens per REST origin (its connection pool).
const REST_CONNECTIONS: usize = 4;
/// The first REST token: WebSocket connections take the tokens below it, so that a
/// connection opened while running never takes a REST client's token.
const REST_BASE_TOKEN: usize = 1 << 24;
/// The first WebSocket token.
const WS_BASE_TOKEN: usize = 0;

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
        let n = instruments.capacity();
        let unix_offset_ns = pipeline::clock::unix_ns() as i128 - pipeline::clock::now_ns(&clock) as i128;
        let mut feed = Self {
            cfg,
            poll,
            events: Events::with_capacity(256),
            conns: Vec::new(),
            rest: Vec::new(),
            insts: vec![None; n],
            pending: HashMap::new(),
            snapshots: Box::new(SnapshotQueue::new(Vec::new(), n)),
            clock,
            unix_offset_ns,
            stats,
            counters: Arc::new(LiveCounters::default()),
            tap: None,
            log: None,
            tls,
        };
        for vm in VenueMarket::ALL {
            let members: Vec<InstrumentId> = instruments
                .iter()
                .filter(|i| VenueMarket::new(i.venue, i.market) == vm)
                .map(|i| i.id)
                .collect();
            if members.is_empty() {
                continue;
            }
            let per_connection = vm.instruments_per_connection().min(members.len());
            for (k, chunk) in members.chunks(per_connection).enumerate() {
                feed.open_ws(vm, chunk, k, instruments, 0)?;
            }
            if vm.is_snapshot_synced(&feed.cfg.options) {
                feed.open_rest(vm)?;
            }
        }
        Ok(feed)
    }

    /// Opens a WebSocket connection of `vm` for `ids` (the `k`th of its market, started
    /// after `k` staggers), the same way at start and for a market first met by an
    /// instrument added while running (cold: allocates).
    fn open_ws(
        &mut self,
        vm: VenueMarket,
        ids: &[InstrumentId],
        k: usize,
        table: &Instruments,
        now_ns: u64,
    ) -> Result<(), LiveFeedError> {
        let ep = self
            .cfg
            .venues
            .iter()
            .find(|e| e.venue == vm.venue())
            .ok_or(LiveFeedError::NoEndpoints(vm.venue()))?;
        let rest_synced = vm.is_snapshot_synced(&self.cfg.options);
        let subscribe: Vec<Subscription> = ids
            .iter()
            .map(|&id| table.get(id))
            .flat_map(|i| vm.subscriptions(&i.symbol, i.id, &self.cfg.options))
            .collect();
        let topics = subscribe.clone();
        let hooks = FeedHooks { vm, subscribe, ping: vm.ping() };
        let mut wc = WsConfig::new(ep.ws_url(vm.market()));
        wc.stale_after = self.cfg.stale_after;
        wc.keepalive_every = Duration::from_secs(15);
        wc.max_session = vm.max_session();
        let token = Token(WS_BASE_TOKEN + self.conns.len());
        let client =
            WsClient::new(wc, hooks, self.tls.clone(), self.poll.registry(), token, self.clock.clone())
                .map_err(|source| LiveFeedError::Ws { venue: vm.venue(), market: vm.market(), source })?
                .start_after(vm.connection_stagger() * k as u32);
        let conn = self.conns.len();
        for &id in ids {
            let i = table.get(id);
            if let Some(slot) = self.insts.get_mut(id.index()) {
                *slot = Some(InstState {
                    vm,
                    symbol: i.symbol.clone(),
                    conn,
                    rest_synced,
                    last_request_ns: None,
                    deferred: false,
                    subscribed_ns: now_ns,
                    session_ns: now_ns,
                    snapshot_path: vm.snapshot_path(&i.symbol, self.cfg.snapshot_limit),
                });
            }
        }
        self.counters.connections.push(vm.venue(), vm.market(), client.stats().clone());
        self.conns.push(Conn {
            vm,
            client,
            decoder: vm.decoder(table),
            insts: ids.to_vec(),
            topics,
            ending: Vec::new(),
            loss_logged: None,
        });
        Ok(())
    }

    /// Opens the keep-alive REST client that fetches `vm`'s snapshots, with its rate
    /// limit, unless it has one (cold: allocates).
    fn open_rest(&mut self, vm: VenueMarket) -> Result<(), LiveFeedError> {
        if self.rest.iter().any(|r| r.vm == vm) {
            return Ok(());
        }
        let ep = self
            .cfg
            .venues
            .iter()
            .find(|e| e.venue == vm.venue())
            .ok_or(LiveFeedError::NoEndpoints(vm.venue()))?;
        let mut hc = HttpConfig::new(ep.rest_origin(vm.market()));
        hc.max_connections = REST_CONNECTIONS;
        hc.default_headers = vec![("Accept".into(), "application/json".into())];
        let client = HttpClient::new(
            hc,
            self.tls.clone(),
            self.poll.registry(),
            Token(REST_BASE_TOKEN + self.rest.len() * REST_CONNECTIONS),
            self.clock.clone(),
        )
        .map_err(|source| LiveFeedError::Http { venue: vm.venue(), source })?;
        let (per_s, burst) = vm.snapshot_rate();
        let endpoint = self.snapshots.add_endpoint(RateLimit::new(per_s, burst));
        debug_assert_eq!(endpoint, self.rest.len());
        self.rest.push(Rest { vm, client });
        Ok(())
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

    /// Each connection's venue, market and counters, those opened later included.
    pub fn connections(&self) -> ConnectionList {
        self.counters.connections.clone()
    }

    fn unix(&self, local_ns: u64) -> u64 {
        (local_ns as i128 + self.unix_offset_ns).max(0) as u64
    }

    fn lose(insts: &[InstrumentId], recv_ns: u64, reason: FeedLoss, out: &mut Vec<MdEvent>) {
        for &inst in insts {
            out.push(MdEvent { inst, recv_ns, exch_ms: 0, body: MdBody::FeedLost { reason } });
        }
    }

    /// Queues a snapshot of `inst` (once: asking again while it waits changes nothing);
    /// within `snapshot_interval` of the last request, defers it until then.
    fn request_snapshot(&mut self, inst: InstrumentId, now_ns: u64) {
        if !self.is_due(inst, now_ns) {
            self.defer(inst);
            return;
        }
        let Some(st) = self.insts.get(inst.index()).and_then(Option::as_ref) else { return };
        let Some(ri) = self.rest.iter().position(|r| r.vm == st.vm) else {
            return;
        };
        self.snapshots.ask(ri, inst);
    }

    /// Whether a resync of `inst` may go now: its last snapshot request (or its last
    /// subscription, for markets synced by resubscribing) is older than the interval.
    fn is_due(&self, inst: InstrumentId, now_ns: u64) -> bool {
        let Some(st) = self.insts.get(inst.index()).and_then(Option::as_ref) else { return true };
        if st.rest_synced {
            let interval = self.cfg.snapshot_interval.as_nanos() as u64;
            st.last_request_ns.is_none_or(|t| now_ns.saturating_sub(t) >= interval)
        } else {
            now_ns.saturating_sub(st.subscribed_ns) >= self.cfg.resubscribe_interval.as_nanos() as u64
        }
    }

    /// Holds a resync of `inst` until it is due (once: a second ask changes nothing).
    fn defer(&mut self, inst: InstrumentId) {
        if let Some(st) = self.insts.get_mut(inst.index()).and_then(Option::as_mut) {
            if !st.deferred {
                st.deferred = true;
                self.snapshots.held.push(inst);
            }
        }
    }

    /// Sends the deferred resyncs that are due, then the queued snapshot requests each
    /// endpoint's rate limit allows now.
    fn send_snapshots(&mut self, now_ns: u64) {
        let mut k = 0;
        while k < self.snapshots.held.len() {
            let inst = self.snapshots.held[k];
            if self.is_due(inst, now_ns) {
                self.snapshots.held.swap_remove(k);
                if let Some(st) = self.insts.get_mut(inst.index()).and_then(Option::as_mut) {
                    st.deferred = false;
                }
                self.resync(inst, now_ns);
            } else {
                k += 1;
            }
        }
        for ri in 0..self.rest.len() {
            while let Some(inst) = self.snapshots.next(ri, now_ns) {
                let Some(st) = self.insts.get_mut(inst.index()).and_then(Option::as_mut) else {
                    // Removed while it waited.
                    self.snapshots.done(inst);
                    continue;
                };
                st.last_request_ns = Some(now_ns);
                let req = Request::get(&st.snapshot_path).timeout(Duration::from_secs(5));
                match self.rest[ri].client.submit(req, self.clock.now()) {
                    Ok(id) => {
                        self.pending.insert((ri, id), inst);
                        self.counters.snapshots_requested.fetch_add(1, Relaxed);
                    }
                    Err(_) => {
                        self.snapshots.done(inst);
                        self.counters.snapshots_failed.fetch_add(1, Relaxed);
                    }
                }
            }
        }
        self.counters.snapshots_waiting.store(self.snapshots.waiting() as u64, Relaxed);
    }

    fn resubscribe(&mut self, inst: InstrumentId, now_ns: u64) {
        let unix_s = self.unix(now_ns) / 1_000_000_000;
        // A fresh subscription already brings a full book: ask again only when due.
        if !self.is_due(inst, now_ns) {
            self.defer(inst);
            return;
        }
        let Some(st) = self.insts.get_mut(inst.index()).and_then(Option::as_mut) else { return };
        let Some(messages) = st.vm.resubscribe(&st.symbol, unix_s) else { return };
        st.subscribed_ns = now_ns;
        let conn = &mut self.conns[st.conn];
        if messages.iter().all(|m| conn.client.send_text(m).is_ok()) {
            self.counters.resubscriptions.fetch_add(1, Relaxed);
        }
    }

    fn on_ws(&mut self, ci: usize, now_ns_fallback: u64, out: &mut Vec<MdEvent>) -> usize {
        let now = self.clock.now();
        let Conn { vm, client, decoder, insts, topics, ending, loss_logged } = &mut self.conns[ci];
        let vm = *vm;
        let (venue, market) = (vm.venue(), vm.market());
        let (stats, counters, clock, tap) = (&self.stats, &self.counters, &self.clock, &mut self.tap);
        let log = &mut self.log;
        use pipeline::log::{Level, LogRecord};
        let offset = self.unix_offset_ns;
        let mut opened = false;
        let mut lost = false;
        let n = client.poll(now, &mut |ev| match ev {
            WsEvent::Opened => {
                opened = true;
                // A new session subscribes afresh: nothing of the old one is acknowledged.
                ending.clear();
                Self::lose(insts, now_ns_fallback, FeedLoss::Disconnected, out);
            }
            WsEvent::Lost(_) => {
                lost = true;
                Self::lose(insts, now_ns_fallback, FeedLoss::Disconnected, out);
            }
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
                let r = decoder.decode(bytes, binary, recv_ns, out);
                match r {
                    Ok(Frame::Subscribed { ok, topic }) => {
                        // An unsubscription confirmed is no subscription refused.
                        let ended = ok
                            && ending
                                .iter()
                                .position(|s| s.topic.as_bytes() == topic)
                                .map(|k| ending.swap_remove(k))
                                .is_some();
                        let refused = !ended
                            && (!ok
                                || (vm.ack_echoes_topic()
                                    && !topics.iter().any(|s| s.topic.as_bytes() == topic)));
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
        let quiet = loss_logged.is_some_and(|t| now.saturating_duration_since(t) < LOSS_LOG_EVERY);
        if lost && !quiet {
            // A failed attempt or a lost session, with its cause and the time to the next
            // attempt (rare, and rate-limited: the text is formatted in place). `a` is the
            // delay in ms, `b` the connection's failed attempts so far.
            if let (Some(l), Some(e)) = (log.as_mut(), client.last_error()) {
                *loss_logged = Some(now);
                let retry = client.next_timeout(now).unwrap_or_default();
                let event =
                    if e.kind().is_connect_failure() { "ws_connect_failed" } else { "ws_connection_lost" };
                l.log(LogRecord::formatted(
                    now_ns_fallback,
                    Level::Warn,
                    event,
                    venue.name(),
                    retry.as_millis() as u64,
                    client.stats().snapshot().connect_failures(),
                    format_args!("{market}: {e}; next attempt in {:.1} s", retry.as_secs_f64()),
                ));
            }
        }
        if opened || lost {
            let now_ns = pipeline::clock::now_ns(&self.clock);
            for &inst in &self.conns[ci].insts {
                if let Some(st) = self.insts[inst.index()].as_mut() {
                    if opened {
                        st.subscribed_ns = now_ns;
                    }
                    st.session_ns = now_ns;
                }
            }
        }
        n
    }

    fn on_rest(&mut self, ri: usize, out: &mut Vec<MdEvent>) -> usize {
        let now = self.clock.now();
        let Self {
            rest, pending, insts, conns, clock, stats, counters, tap, unix_offset_ns, snapshots, ..
        } = self;
        rest[ri].client.poll(now, &mut |c| {
            let Some(inst) = pending.remove(&(ri, c.id)) else { return };
            snapshots.done(inst);
            let Some(st) = insts.get(inst.index()).and_then(Option::as_ref) else { return };
            if st.last_request_ns.is_some_and(|t| t < st.session_ns) {
                // Requested before the session that feeds the book now: the updates
                // between it and this session are lost. The book asks again once the
                // new session's first update is buffered.
                counters.snapshots_discarded.fetch_add(1, Relaxed);
                return;
            }
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
                    venue: st.vm.venue(),
                    market: st.vm.market(),
                    source: Source::Rest,
                    path: Some(&st.snapshot_path),
                    payload: body,
                    binary: false,
                });
            }
            let symbol = st.symbol.as_bytes();
            let d = &conns[st.conn].decoder;
            let r = d.symbol(symbol).map(|s| d.decode_snapshot(s, body, recv_ns, out));
            if let Some(Err(e)) = r {
                stats.refuse(e.reason);
                counters.snapshots_failed.fetch_add(1, Relaxed);
            }
        })
    }
}

impl FeedSource for LiveFeed {
    fn poll(&mut self, now_ns: u64, out: &mut Vec<MdEvent>) -> usize {
        // Not on every idle spin pass (see `pipeline::runtime::io_due`).
        if pipeline::runtime::io_due() && self.poll.poll(&mut self.events, Some(Duration::ZERO)).is_ok() {
            for ev in self.events.iter() {
                let t = ev.token().0;
                if let Some(c) = t.checked_sub(WS_BASE_TOKEN).and_then(|i| self.conns.get_mut(i)) {
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
        self.send_snapshots(now_ns);
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

    /// Subscribes an instrument added while running on a connection of its venue market
    /// that has room (its topics go out now when the session is open, and on every
    /// session after), and lets its decoder know the symbol. Its book syncs as any other
    /// book does: the book stage asks for a snapshot once the first update is buffered
    /// (REST-synced markets), or the subscription brings a full book. A market with no
    /// connection with room (one not loaded at start, or whose connections are full)
    /// gets a new connection on this poll, opened as the ones at start are, and a REST
    /// client where its books sync by snapshot. False when a connection cannot be made
    /// (no endpoints for the venue).
    fn add(&mut self, inst: InstrumentId, table: &Instruments, now_ns: u64) -> bool {
        let Some(i) = table.try_get(inst) else { return false };
        if self.insts.get(inst.index()).is_none_or(Option::is_some) {
            // Past the table's capacity, or subscribed already.
            return self.insts.get(inst.index()).is_some_and(Option::is_some);
        }
        let vm = VenueMarket::new(i.venue, i.market);
        let rest_synced = vm.is_snapshot_synced(&self.cfg.options);
        if rest_synced && self.open_rest(vm).is_err() {
            return false;
        }
        let per_connection = vm.instruments_per_connection();
        let Some(ci) = self.conns.iter().position(|c| c.vm == vm && c.insts.len() < per_connection) else {
            // A new connection carries it from its first session.
            return self.open_ws(vm, &[inst], 0, table, now_ns).is_ok();
        };
        let subs = vm.subscriptions(&i.symbol, inst, &self.cfg.options);
        let unix_s = (self.unix(now_ns) / 1_000_000_000).to_string();
        let conn = &mut self.conns[ci];
        conn.decoder = vm.decoder(table);
        conn.insts.push(inst);
        conn.topics.extend(subs.iter().cloned());
        if conn.client.is_open() {
            for s in &subs {
                let _ = conn.client.send_text(&s.message.replace("{time}", &unix_s));
            }
        }
        conn.client.hooks_mut().subscribe.extend(subs);
        self.insts[inst.index()] = Some(InstState {
            vm,
            symbol: i.symbol.clone(),
            conn: ci,
            rest_synced,
            last_request_ns: None,
            deferred: false,
            subscribed_ns: now_ns,
            session_ns: now_ns,
            snapshot_path: vm.snapshot_path(&i.symbol, self.cfg.snapshot_limit),
        });
        true
    }

    /// Unsubscribes an instrument removed while running: its topics are ended now and
    /// left out of later sessions, and a snapshot of it still coming is dropped.
    fn remove(&mut self, inst: InstrumentId, now_ns: u64) {
        let Some(st) = self.insts.get_mut(inst.index()).and_then(Option::take) else { return };
        let unix_s = (self.unix(now_ns) / 1_000_000_000).to_string();
        let conn = &mut self.conns[st.conn];
        let vm = conn.vm;
        if conn.client.is_open() {
            for s in conn.topics.iter().filter(|s| s.inst == inst) {
                if conn.client.send_text(&vm.unsubscribe(s).replace("{time}", &unix_s)).is_ok() {
                    conn.ending.push(s.clone());
                }
            }
        }
        conn.topics.retain(|s| s.inst != inst);
        conn.client.hooks_mut().subscribe.retain(|s| s.inst != inst);
        conn.insts.retain(|&i| i != inst);
        self.snapshots.held.retain(|&i| i != inst);
    }
}
