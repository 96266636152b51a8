//! `arb bench e2e`'s order sink: the real order bytes of each venue, built with the venue
//! clients' request builders, signed with the venues' signing rules, serialized as the
//! HTTP client does, and written through a real TLS connection over loopback to an
//! in-process TLS server whose drain thread decrypts and discards them.
//!
//! Nothing matches the orders: each is answered at once, on the sink's next poll, as
//! accepted and done with nothing filled (an IOC that missed), so operations close
//! without positions and the risk gate keeps approving. Balance queries are answered
//! with large balances in every asset.

use std::collections::VecDeque;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use adapters::auth::{Credentials, Decimal, Secret, hmac_sha256_hex};
use adapters::net::handshake::{Handshake, Progress};
use adapters::net::http::{HttpConfig, Method, Request, serialize};
use adapters::net::records::Records;
use adapters::net::ws::Outgoing;
use adapters::orders::templates::Templates;
use adapters::venues::VenueMarket;
use adapters::venues::gateio::orders::{order_body as gate_order_body, templates as gate_templates};
use adapters::venues::gateio::sign::RestAuth;
use adapters::venues::gateio::ws_api::order_message as gate_ws_order;
use adapters::venues::mexc::orders::MexcOpenType;
use adapters::venues::mexc::orders::futures::{
    ORDER_PATH as MEXC_FUTURES_PATH, order_body as mexc_futures_body, templates as mexc_futures_templates,
};
use adapters::venues::mexc::orders::spot::{
    ORDER_PATH as MEXC_SPOT_PATH, order_params as mexc_spot_params, templates as mexc_spot_templates,
};
use adapters::venues::mexc::sign::{SPOT_API_KEY_HEADER, futures_signature};
use anyhow::{Result, anyhow};
use hdrhistogram::Histogram;
use pipeline::dispatch::{OrderRequest, OrderSink, SinkError};
use pipeline::journal::ClientPrefix;
use pipeline::msg::{BalanceEvent, ClientOrderId, OrderEvent, OrderUpdate, StateInput, VenueOrderId};
use pipeline::types::{Amount, AssetId, InstrumentId, Instruments, Qty, Venue};
use quanta::Clock;
use rustls::ServerConnection;

/// The bench's API keys: not secrets, published so that anyone can check a signature.
pub const GATE_KEY: &str = "bench-gate-key";
pub const GATE_SECRET: &str = "bench-gate-secret";
pub const MEXC_KEY: &str = "mx0bench-key";
pub const MEXC_SECRET: &str = "bench-mexc-secret";

/// How long a drain thread sleeps when its socket is empty. A venue is on another host:
/// the engine's write wakes no thread of this machine, so the drain must not wait in
/// `read` either, or every order's write would pay a wake-up the real path does not.
pub const DRAIN_NAP: std::time::Duration = std::time::Duration::from_millis(1);

/// Bytes of each connection's start kept by its drain thread, for checking.
const SAMPLE_BYTES: usize = 4096;

/// What the drain threads saw, per venue market.
#[derive(Debug, Default)]
pub struct Drained {
    pub bytes: [AtomicU64; VenueMarket::COUNT],
    pub first: [Mutex<Vec<u8>>; VenueMarket::COUNT],
}

/// What the sink wrote, per venue market.
#[derive(Debug, Default)]
pub struct Written {
    pub orders: [AtomicU64; VenueMarket::COUNT],
    pub bytes: [AtomicU64; VenueMarket::COUNT],
    pub failed: AtomicU64,
    /// Where each order's time went, handed over when the sink stops.
    pub legs: Mutex<Option<LegTimes>>,
}

/// Where the time of an operation's orders went inside dispatch, in nanoseconds: for
/// the first leg, from the dispatch stage taking the operation (before its journal
/// write) to the sink's call; for every leg, building and signing its request, and
/// sealing and writing it. Recorded by the sink on the dispatch thread; read after it
/// stops.
#[derive(Debug)]
pub struct LegTimes {
    pub to_first_submit: Histogram<u64>,
    pub build_first: Histogram<u64>,
    pub write_first: Histogram<u64>,
    pub build_later: Histogram<u64>,
    pub write_later: Histogram<u64>,
}

impl LegTimes {
    fn new() -> LegTimes {
        let h = || Histogram::new_with_bounds(1, 1 << 40, 3).expect("constant bounds");
        LegTimes {
            to_first_submit: h(),
            build_first: h(),
            write_first: h(),
            build_later: h(),
            write_later: h(),
        }
    }

    /// The series, named as the bench reports them.
    pub fn series(&self) -> [(&'static str, &Histogram<u64>); 5] {
        [
            ("sink.first_leg.journal_to_submit", &self.to_first_submit),
            ("sink.first_leg.build", &self.build_first),
            ("sink.first_leg.seal_write", &self.write_first),
            ("sink.later_legs.build", &self.build_later),
            ("sink.later_legs.seal_write", &self.write_later),
        ]
    }
}

/// One TLS connection over loopback: the client end and the thread draining the server end.
/// The client end is the venue clients' own: rustls' handshake, then the in-place record
/// layer (`adapters::net::records`).
pub struct Loopback {
    pub tls: Records,
    pub sock: TcpStream,
    pub drain: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loopback").finish_non_exhaustive()
    }
}

impl Loopback {
    /// Connects, completes the TLS handshake and starts the drain thread, which counts
    /// the plaintext into `bytes` and keeps the first bytes in `first`.
    pub fn open(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
        bytes: Option<(Arc<Drained>, usize)>,
    ) -> Result<Loopback> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let drain = std::thread::Builder::new().name("bench-drain".into()).spawn(move || {
            let Ok((sock, _)) = listener.accept() else { return };
            let _ = sock.set_nodelay(true);
            let Ok(conn) = ServerConnection::new(server) else { return };
            let mut s = rustls::StreamOwned::new(conn, sock);
            while s.conn.is_handshaking() {
                if s.conn.complete_io(&mut s.sock).is_err() {
                    return;
                }
            }
            if s.sock.set_nonblocking(true).is_err() {
                return;
            }
            drain(s, |read| {
                if let Some((d, i)) = &bytes {
                    d.bytes[*i].fetch_add(read.len() as u64, Ordering::Relaxed);
                    if let Ok(mut f) = d.first[*i].lock() {
                        let take = read.len().min(SAMPLE_BYTES.saturating_sub(f.len()));
                        f.extend_from_slice(&read[..take]);
                    }
                }
            });
        })?;
        let mut sock = TcpStream::connect(addr)?;
        sock.set_nodelay(true)?;
        let name = adapters::net::tls::server_name("localhost").map_err(|e| anyhow!(e))?;
        let mut hs = Handshake::new(client, name)?;
        let tls = loop {
            match hs.advance(&mut sock, &mut 0, &mut 0) {
                Ok(Progress::Done(records)) => break *records,
                Ok(Progress::Blocked) => {}
                Err(e) => return Err(anyhow!("TLS handshake over loopback: {e:?}")),
            }
        };
        Ok(Loopback { tls, sock, drain: Some(drain) })
    }

    /// Seals `data` as TLS records and writes them to the socket.
    #[inline]
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.tls.seal(rest).map_err(std::io::Error::other)?;
            rest = &rest[n..];
            self.tls.flush(&mut self.sock, &mut 0)?;
        }
        Ok(())
    }

    /// Sends close_notify, closes the socket and joins the drain thread.
    pub fn close(&mut self) {
        if self.tls.seal_close_notify().is_ok() {
            let _ = self.tls.flush(&mut self.sock, &mut 0);
        }
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
        if let Some(h) = self.drain.take() {
            let _ = h.join();
        }
    }
}

/// Reads `src` (a non-blocking socket, or a stream over one) until it ends, handing each
/// read to `each` and sleeping [`DRAIN_NAP`] whenever it is empty.
pub fn drain(mut src: impl Read, mut each: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match src.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(DRAIN_NAP),
            Ok(0) | Err(_) => return,
            Ok(n) => each(&buf[..n]),
        }
    }
}

/// A fresh CA, a `localhost` server certificate and a client configuration that trusts it.
pub fn tls_pair() -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> {
    let id = sim::server::make_tls().map_err(|e| anyhow!(e))?;
    let client = adapters::net::tls::TlsRoots::empty().add_pem(id.ca_pem.as_bytes())?.client_config()?;
    Ok((id.config, client))
}

/// The bench's order sink.
pub struct WireSink {
    instruments: Arc<Instruments>,
    conns: Vec<Option<Loopback>>,
    gate: Credentials,
    mexc: Credentials,
    http: HttpConfig,
    body: String,
    target: String,
    hdr: String,
    wire: Vec<u8>,
    out: VecDeque<StateInput>,
    clock: Clock,
    written: Arc<Written>,
    rich: Amount,
    /// This instance's client-id prefix, as in the venue clients' orders.
    prefix: ClientPrefix,
    /// Gate.io orders as WebSocket trading API frames (`order_entry = "ws"`) instead of
    /// signed REST requests.
    gate_ws: Option<Outgoing>,
    ws_msg: String,
    /// The venue clients' order templates: Gate.io, MEXC spot, MEXC futures.
    templates: [Templates; 3],
    legs: Box<LegTimes>,
}

impl std::fmt::Debug for WireSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireSink").finish_non_exhaustive()
    }
}

fn wall() -> (u64, u64) {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (ms / 1000, ms)
}

impl WireSink {
    /// Opens one loopback TLS connection per venue market that has instruments; with
    /// `gate_ws`, Gate.io's orders are written as trading API frames.
    pub fn new(
        instruments: Arc<Instruments>,
        prefix: ClientPrefix,
        clock: Clock,
        drained: Arc<Drained>,
        written: Arc<Written>,
        gate_ws: bool,
    ) -> Result<WireSink> {
        let gate_ws = if gate_ws {
            Some(Outgoing::new().ok_or_else(|| anyhow!("no random seed for WebSocket masking keys"))?)
        } else {
            None
        };
        let (server, client) = tls_pair()?;
        let mut conns = Vec::new();
        for vm in VenueMarket::ALL {
            let used = instruments.iter().any(|i| VenueMarket::new(i.venue, i.market) == vm);
            conns.push(if used {
                Some(Loopback::open(server.clone(), client.clone(), Some((drained.clone(), vm.index())))?)
            } else {
                None
            });
        }
        let mut http = HttpConfig::new("");
        http.default_headers = vec![("Accept".into(), "application/json".into())];
        let templates = {
            let mut t =
                [gate_templates(), mexc_spot_templates(), mexc_futures_templates(1, MexcOpenType::Cross)];
            for i in instruments.iter() {
                let k = match VenueMarket::new(i.venue, i.market) {
                    VenueMarket::GateSpot | VenueMarket::GateFutures => 0,
                    VenueMarket::MexcSpot => 1,
                    VenueMarket::MexcFutures => 2,
                };
                t[k].prepare([i]);
            }
            t
        };
        Ok(WireSink {
            instruments,
            prefix,
            conns,
            gate: Credentials::new(GATE_KEY, Secret::new(GATE_SECRET)),
            mexc: Credentials::new(MEXC_KEY, Secret::new(MEXC_SECRET)),
            http,
            body: String::with_capacity(512),
            target: String::with_capacity(512),
            hdr: String::with_capacity(32),
            wire: Vec::with_capacity(2048),
            out: VecDeque::with_capacity(8192),
            clock,
            written,
            rich: Amount::parse("1000000000").expect("constant"),
            templates,
            gate_ws,
            ws_msg: String::with_capacity(768),
            legs: Box::new(LegTimes::new()),
        })
    }

    /// Builds and signs one order's request into `self.wire`.
    fn build(&mut self, req: &OrderRequest) -> Result<(), SinkError> {
        let inst = self.instruments.get(req.inst);
        let (ts_s, ts_ms) = wall();
        self.wire.clear();
        self.target.clear();
        let bad = |_| SinkError::NotSent(pipeline::msg::RejectReason::Other);
        match VenueMarket::new(req.venue, req.market) {
            VenueMarket::GateSpot | VenueMarket::GateFutures if self.gate_ws.is_some() => {
                let (m, b, t) = (&mut self.ws_msg, &mut self.body, &mut self.templates[0]);
                gate_ws_order(m, b, t, req, inst, self.prefix, ts_s, ts_ms + 5_000);
                if let Some(out) = self.gate_ws.as_mut() {
                    out.encode_text(self.ws_msg.as_bytes(), &mut self.wire);
                }
                Ok(())
            }
            VenueMarket::GateSpot | VenueMarket::GateFutures => {
                let path = gate_order_body(&mut self.body, &mut self.templates[0], req, inst, self.prefix);
                self.target.push_str("/api/v4");
                self.target.push_str(path);
                let auth = RestAuth::new(&self.gate, "POST", &self.target, "", self.body.as_bytes(), ts_s);
                self.hdr.clear();
                let _ = std::fmt::Write::write_fmt(&mut self.hdr, format_args!("{}", ts_ms + 5_000));
                let [k, t, s] = auth.headers();
                let headers = [k, t, s, ("Content-Type", "application/json"), ("X-Gate-Exptime", &self.hdr)];
                let r = Request {
                    method: Method::Post,
                    target: &self.target,
                    headers: &headers,
                    body: self.body.as_bytes(),
                    timeout: None,
                };
                serialize(&mut self.wire, &r, "api.gateio.ws", &self.http).map_err(bad)?;
                Ok(())
            }
            VenueMarket::MexcSpot => {
                self.target.push_str(MEXC_SPOT_PATH);
                self.target.push('?');
                let start = self.target.len();
                mexc_spot_params(&mut self.target, &mut self.templates[1], req, inst, self.prefix);
                let _ = std::fmt::Write::write_fmt(
                    &mut self.target,
                    format_args!("&recvWindow=5000&timestamp={ts_ms}"),
                );
                let sig = hmac_sha256_hex(&self.mexc.api_secret, &[&self.target.as_bytes()[start..]]);
                self.target.push_str("&signature=");
                self.target.push_str(sig.as_str());
                let headers =
                    [(SPOT_API_KEY_HEADER, self.mexc.api_key.as_str()), ("Content-Type", "application/json")];
                let r = Request {
                    method: Method::Post,
                    target: &self.target,
                    headers: &headers,
                    body: b"",
                    timeout: None,
                };
                serialize(&mut self.wire, &r, "api.mexc.com", &self.http).map_err(bad)?;
                Ok(())
            }
            VenueMarket::MexcFutures => {
                mexc_futures_body(&mut self.body, &mut self.templates[2], req, inst, self.prefix);
                let sig = futures_signature(&self.mexc.api_secret, &self.mexc.api_key, ts_ms, &self.body);
                let time = Decimal::new(ts_ms);
                let headers = [
                    ("ApiKey", self.mexc.api_key.as_str()),
                    ("Request-Time", time.as_str()),
                    ("Signature", sig.as_str()),
                    ("Recv-Window", "5000"),
                    ("Content-Type", "application/json"),
                ];
                let r = Request {
                    method: Method::Post,
                    target: MEXC_FUTURES_PATH,
                    headers: &headers,
                    body: self.body.as_bytes(),
                    timeout: None,
                };
                serialize(&mut self.wire, &r, "contract.mexc.com", &self.http).map_err(bad)?;
                Ok(())
            }
        }
    }

    fn answer(&mut self, client: ClientOrderId, req: &OrderRequest, update: OrderUpdate) {
        let ts_ns = pipeline::clock::now_ns(&self.clock);
        self.out.push_back(StateInput::Order(OrderEvent {
            client,
            inst: req.inst,
            side: req.side,
            update,
            venue_order: VenueOrderId::default(),
            ts_ns,
        }));
    }
}

impl OrderSink for WireSink {
    fn submit(&mut self, req: &OrderRequest) -> Result<(), SinkError> {
        let start = self.clock.raw();
        let first = req.client.leg == 0 && req.client.attempt == 0;
        if first {
            let since = pipeline::clock::now_ns(&self.clock).saturating_sub(req.ts_ns);
            self.legs.to_first_submit.saturating_record(since);
        }
        self.build(req)?;
        let built = self.clock.raw();
        let i = VenueMarket::new(req.venue, req.market).index();
        let Some(conn) = self.conns[i].as_mut() else {
            return Err(SinkError::NotSent(pipeline::msg::RejectReason::Disconnected));
        };
        let wrote = conn.write(&self.wire);
        let done = self.clock.raw();
        let (build, write) =
            (self.clock.delta_as_nanos(start, built), self.clock.delta_as_nanos(built, done));
        let l = &mut self.legs;
        let (b, w) = if first {
            (&mut l.build_first, &mut l.write_first)
        } else {
            (&mut l.build_later, &mut l.write_later)
        };
        b.saturating_record(build);
        w.saturating_record(write);
        if wrote.is_err() {
            self.written.failed.fetch_add(1, Ordering::Relaxed);
            return Err(SinkError::Unknown);
        }
        self.written.orders[i].fetch_add(1, Ordering::Relaxed);
        self.written.bytes[i].fetch_add(self.wire.len() as u64, Ordering::Relaxed);
        if self.out.len() + 2 <= self.out.capacity() {
            self.answer(req.client, req, OrderUpdate::Accepted);
            self.answer(req.client, req, OrderUpdate::Done { filled: Qty::ZERO });
        }
        Ok(())
    }

    fn cancel(&mut self, _client: ClientOrderId, _inst: InstrumentId) -> Result<(), SinkError> {
        Ok(())
    }

    fn cancel_all(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn query(&mut self, _client: ClientOrderId, _inst: InstrumentId) -> Result<(), SinkError> {
        Ok(())
    }

    fn query_balances(&mut self, venue: Venue) -> Result<(), SinkError> {
        let ts_ns = pipeline::clock::now_ns(&self.clock);
        for a in 0..self.instruments.asset_count() {
            if self.out.len() < self.out.capacity() {
                self.out.push_back(StateInput::Balance(BalanceEvent {
                    venue,
                    asset: AssetId(a as u16),
                    available: self.rich,
                    locked: Amount::ZERO,
                    ts_ns,
                }));
            }
        }
        Ok(())
    }

    fn poll(&mut self, max: usize, out: &mut dyn FnMut(StateInput)) -> usize {
        let n = max.min(self.out.len());
        for _ in 0..n {
            if let Some(e) = self.out.pop_front() {
                out(e);
            }
        }
        n
    }

    fn stop(&mut self) {
        if let Ok(mut legs) = self.written.legs.lock() {
            *legs = Some(std::mem::replace(&mut *self.legs, LegTimes::new()));
        }
        for c in self.conns.iter_mut().flatten() {
            c.close();
        }
    }
}
