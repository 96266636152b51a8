//! [`VenueSink`]: the real venues' order entry as one [`OrderSink`], routing each order
//! to the client of its [`VenueMarket`] and polling every client on the dispatch thread.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll};
use pipeline::dispatch::{OrderRequest, OrderSink, SinkError};
use pipeline::msg::{ClientOrderId, RejectReason, StateInput};
use pipeline::types::{Amount, InstrumentId, Instruments, Qty, Side, Venue};
use quanta::Clock;
use rustls::ClientConfig;

use super::config::{OrderEntryConfig, OrderEntryCredentials};
use super::core::{Core, OrderEntryError, Timing, VenueNotice};
use super::discover::{DiscoveredOrder, Discovery};
use crate::net::http::HttpConfig;
use crate::venues::order_client::{ClientSetup, OrderClient};
use crate::venues::venue_market::VenueMarket;

/// Tokens of one client's range in the sink's `mio::Poll`.
const TOKENS_PER_CLIENT: usize = 1_000;
/// Queries the tracker asks for in one pass at most.
const QUERIES_PER_POLL: usize = 32;

/// The real venues' order entry.
pub struct VenueSink {
    poll: Poll,
    events: Events,
    core: Core,
    clients: Vec<OrderClient>,
    /// The client of each venue market, by [`VenueMarket::index`].
    route: [Option<usize>; VenueMarket::COUNT],
    validate: bool,
    stopped: bool,
    /// Where the venues' notices (refusals with their reasons, failures of order entry)
    /// go while the engine runs; kept for [`VenueSink::drain_notices`] without one.
    log: Option<pipeline::log::LogTx>,
}

impl std::fmt::Debug for VenueSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueSink")
            .field("clients", &self.clients)
            .field("tracker", &self.core.tracker)
            .finish_non_exhaustive()
    }
}

impl VenueSink {
    /// Builds the clients of every configured venue market that has instruments or is
    /// named in `open_markets`, opens the keep-alive pools (warm-up requests) and starts
    /// the private streams. Nothing waits here; [`wait_ready`](Self::wait_ready) does.
    pub fn new(
        config: &OrderEntryConfig,
        creds: OrderEntryCredentials,
        instruments: Arc<Instruments>,
        tls: Option<Arc<ClientConfig>>,
        clock: Clock,
    ) -> Result<VenueSink, OrderEntryError> {
        let poll = Poll::new()?;
        let ms = |v: u64| v.saturating_mul(1_000_000);
        let timing = Timing {
            request_timeout_ms: config.request_timeout_ms,
            grace_ns: ms(config.stream_grace_ms),
            settle_ns: ms(config.settle_query_ms),
            not_found_grace_ns: ms(config.not_found_grace_ms),
            keepalive_ns: ms(config.rest_keepalive_ms),
            backoff_ns: ms(config.rate_limit_backoff_ms),
            disabled_ns: ms(config.trading_disabled_retry_ms),
        };
        let core = Core::new(instruments, clock, timing);
        let conns = config.max_connections.clamp(1, 64);
        let mut http = HttpConfig::new("");
        http.max_connections = conns;
        http.connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        http.request_timeout = Duration::from_millis(config.request_timeout_ms);
        http.max_response_bytes = 4 << 20;
        http.idle_timeout = Duration::from_millis(config.rest_keepalive_ms.saturating_mul(3) / 2 + 1_000);
        http.default_headers = vec![("Accept".into(), "application/json".into())];
        let mut clients: Vec<OrderClient> = Vec::new();
        let mut route = [None; VenueMarket::COUNT];
        // A market is opened if a pair of it is loaded or the configuration names it.
        let mut wanted = [false; VenueMarket::COUNT];
        for i in core.instruments.iter() {
            wanted[VenueMarket::new(i.venue, i.market).index()] = true;
        }
        for m in &config.open_markets {
            wanted[VenueMarket::new(m.venue, m.market).index()] = true;
        }
        for vm in VenueMarket::ALL {
            if !wanted[vm.index()] {
                continue;
            }
            if let Some(c) = clients.iter().position(|c| c.serves(vm)) {
                route[vm.index()] = Some(c);
                continue;
            }
            let setup = ClientSetup {
                config,
                creds: &creds,
                core: &core,
                http: http.clone(),
                tls: tls.clone(),
                registry: poll.registry(),
                first_token: clients.len() * TOKENS_PER_CLIENT,
                max_connections: conns,
                wanted,
            };
            if let Some(client) = vm.order_client(setup)? {
                route[vm.index()] = Some(clients.len());
                clients.push(client);
            }
        }
        Ok(VenueSink {
            poll,
            events: Events::with_capacity(256),
            core,
            clients,
            route,
            validate: config.validate_locally,
            stopped: false,
            log: None,
        })
    }

    /// Sets this instance's client order id prefix (fixed when its journal was created):
    /// every order goes out with it, and orders and fills on the account without it are
    /// reported as foreign ([`pipeline::msg::Foreign`]), never taken for ours. Call it
    /// before the first order.
    pub fn set_client_prefix(&mut self, prefix: pipeline::journal::ClientPrefix) {
        self.core.prefix = prefix;
    }

    /// Whether every client's pools are warm and private streams subscribed.
    pub fn is_ready(&self) -> bool {
        self.clients.iter().all(OrderClient::is_ready)
    }

    /// Whether the client of `vm` is ready; `None` when no client serves it.
    pub fn readiness(&self, vm: VenueMarket) -> Option<bool> {
        self.route[vm.index()].map(|c| self.clients[c].is_ready())
    }

    /// Drives the connections until every pool is warm and every private stream is
    /// subscribed (cold path: sleeps a millisecond between passes). Events that arrive
    /// meanwhile stay queued for `poll`.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), OrderEntryError> {
        let start = std::time::Instant::now();
        loop {
            self.drive();
            if self.is_ready() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                let mut what = String::new();
                for c in &self.clients {
                    let _ = write!(
                        what,
                        "{}{} ready: {}",
                        if what.is_empty() { "" } else { ", " },
                        c.venue(),
                        c.is_ready()
                    );
                }
                for n in self.core.notices() {
                    let _ = write!(what, "; {n:?}");
                }
                return Err(OrderEntryError::NotReady { after: timeout, what });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Our orders as the venues list them (every instrument, open and finished, whose
    /// client text is one of ours), for reconciling a journal that may have lost its
    /// unsynced tail. Cold path: call after [`VenueSink::wait_ready`], before trading;
    /// drives the connections until every list answered or `timeout` passes. A list
    /// that could not be read is an error naming it: the journal cannot be trusted to
    /// be complete without it.
    ///
    /// The lists are asked for no earlier than `not_before` (the connections are driven
    /// until then): after a run that did not stop in order, a request it still had in
    /// flight can reach its venue after the restart started, and an order listed too
    /// early would be missed and its client id used again.
    pub fn discover(
        &mut self,
        timeout: Duration,
        not_before: std::time::Instant,
    ) -> Result<Vec<DiscoveredOrder>, OrderEntryError> {
        while std::time::Instant::now() < not_before {
            self.drive();
            std::thread::sleep(Duration::from_millis(1));
        }
        self.core.discovery = Discovery::default();
        for c in &mut self.clients {
            c.discover(&mut self.core);
        }
        let start = std::time::Instant::now();
        while self.core.discovery.pending > 0 && start.elapsed() < timeout {
            self.drive();
            std::thread::sleep(Duration::from_millis(1));
        }
        let d = std::mem::take(&mut self.core.discovery);
        if d.pending > 0 || !d.failures.is_empty() {
            let mut what = d.failures.join("; ");
            if d.pending > 0 {
                let _ =
                    write!(what, "{}{} lists unanswered", if what.is_empty() { "" } else { "; " }, d.pending);
            }
            return Err(OrderEntryError::Discovery { after: timeout, what });
        }
        Ok(d.found)
    }

    /// Sends the venues' notices to `log` from now on, one warning line each, as the
    /// engine's running sink: an operator reads why orders are refused there.
    pub fn set_log(&mut self, log: pipeline::log::LogTx) {
        self.log = Some(log);
    }

    /// Writes the notices kept since the last call to the log, if there is one.
    fn log_notices(&mut self) {
        let Some(log) = self.log.as_mut() else { return };
        while let Some(n) = self.core.pop_notice() {
            log.log(pipeline::log::LogRecord::formatted(
                self.core.now_ns(),
                pipeline::log::Level::Warn,
                "venue_notice",
                n.reason.name(),
                u64::try_from(n.code).unwrap_or(0),
                0,
                format_args!("{} {} ({}): {}", n.venue, n.market.name(), n.code, n.text()),
            ));
        }
    }

    /// Hands every kept notice to `f`, oldest first.
    pub fn drain_notices(&mut self, mut f: impl FnMut(&VenueNotice)) {
        while let Some(n) = self.core.pop_notice() {
            f(&n);
        }
    }

    /// The futures account's balance on `venue` (total, and available when the venue
    /// said), as last reported.
    pub fn futures_balance(&self, venue: Venue) -> Option<(Amount, Option<Amount>)> {
        self.core.futures_balance_of(venue)
    }

    /// The futures position of `inst` in contracts (signed), as last reported.
    pub fn futures_position(&self, inst: InstrumentId) -> Option<Qty> {
        self.core.futures_position_of(inst)
    }

    /// Orders placed on `venue`'s `market` over its WebSocket trading API so far (the
    /// others went over REST).
    pub fn orders_over_ws(&self, venue: Venue, market: pipeline::types::Market) -> u64 {
        self.core.sent_over_ws[venue.index()][market as usize]
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
        // Not on every idle spin pass (see `pipeline::runtime::io_due`).
        if pipeline::runtime::io_due() && self.poll.poll(&mut self.events, Some(Duration::ZERO)).is_ok() {
            for ev in self.events.iter() {
                let _ = self.clients.iter_mut().any(|c| c.on_event(ev));
            }
        }
        let now = self.core.clock.now();
        for c in &mut self.clients {
            c.poll(now, &mut self.core);
        }
        let mut due = [(0u32, false); QUERIES_PER_POLL];
        let mut n = 0;
        let now_ns = self.core.now_ns();
        // At most QUERIES_PER_POLL a pass: the rest stay due for the next.
        self.core.tracker.tick(now_ns, false, &mut |k, external| {
            let room = n < due.len();
            if room {
                due[n] = (k as u32, external);
                n += 1;
            }
            room
        });
        for &(k, external) in &due[..n] {
            let inst = self.core.tracker.view(k as usize).inst;
            if !self.query_slot(k as usize, inst, external) {
                // Not sent (the client's queue is full, its connection down): again later.
                let at = now_ns.saturating_add(self.core.timing.settle_ns);
                self.core.tracker.query_later(k as usize, external, at);
            }
        }
    }

    /// The client of `inst`'s venue market.
    fn client_of(&self, inst: InstrumentId) -> Option<usize> {
        let i = self.core.instruments.try_get(inst)?;
        self.route[VenueMarket::new(i.venue, i.market).index()]
    }

    fn query_slot(&mut self, k: usize, inst: InstrumentId, external: bool) -> bool {
        let Some(c) = self.client_of(inst) else { return false };
        self.clients[c].query(k, external, &mut self.core)
    }

    /// The client that sends `inst`'s orders, or why none can now.
    fn route(&self, inst: InstrumentId) -> Result<usize, SinkError> {
        if self.core.instruments.try_get(inst).is_none() {
            return Err(SinkError::NotSent(RejectReason::UnknownInstrument));
        }
        match self.client_of(inst) {
            Some(c) if !self.stopped => Ok(c),
            _ => Err(SinkError::NotSent(RejectReason::Disconnected)),
        }
    }
}

impl OrderSink for VenueSink {
    fn submit(&mut self, order: &OrderRequest) -> Result<(), SinkError> {
        let c = self.route(order.inst)?;
        let inst = self.core.instruments.get(order.inst);
        let (venue, market) = (inst.venue, inst.market);
        if let Some(reason) = self.core.refusal(venue, market) {
            return Err(SinkError::NotSent(reason));
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
        self.clients[c].submit(order, &mut self.core)
    }

    fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError> {
        let c = self.route(inst)?;
        if self.clients[c].cancel(client, inst, &mut self.core) {
            Ok(())
        } else {
            Err(SinkError::NotSent(RejectReason::RateLimited))
        }
    }

    fn cancel_all(&mut self) -> Result<(), SinkError> {
        let mut ok = true;
        for c in &mut self.clients {
            ok &= c.cancel_all(&mut self.core);
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
        let mut asked = false;
        let mut ok = true;
        for c in self.clients.iter_mut().filter(|c| c.venue() == venue) {
            asked = true;
            ok &= c.query_balances(&mut self.core);
        }
        match (asked, ok) {
            (false, _) => Err(SinkError::NotSent(RejectReason::Disconnected)),
            (true, true) => Ok(()),
            (true, false) => Err(SinkError::NotSent(RejectReason::RateLimited)),
        }
    }

    fn supports_fok(&self, inst: InstrumentId) -> bool {
        self.route(inst).is_ok()
    }

    fn poll(&mut self, max: usize, out: &mut dyn FnMut(StateInput)) -> usize {
        self.drive();
        self.log_notices();
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
        for c in &mut self.clients {
            c.stop(&mut self.core);
        }
        self.stopped = true;
    }
}
