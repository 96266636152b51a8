//! A harness for the order-entry tests: the simulated venues, a `VenueSink` connected to
//! them, and a small ledger that applies the sink's events the way the state stage does
//! (each fill once, by cumulative quantity) so the result can be held against the
//! venue's own account, exactly.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::auth::{Credentials, Secret};
use adapters::net::tls::TlsRoots;
use adapters::orders::{OrderEntryConfig, OrderEntryCredentials, VenueSink};
use adapters::venues::gateio::orders::GateEntryConfig;
use adapters::venues::mexc::orders::MexcEntryConfig;
use pipeline::dispatch::{OrderRequest, OrderSink};
use pipeline::journal::TimeInForce;
use pipeline::msg::{BalanceEvent, ClientOrderId, FuturesWalletEvent, OrderUpdate, RejectReason, StateInput};
use pipeline::types::{
    Amount, AssetId, Instrument, InstrumentId, Instruments, Market, Price, Qty, Rounding, Side, Venue,
};
use quanta::Clock;
use serde_json::Value;
use sim::{Faults, ModelConfig, Sim, SimConfig};

use crate::sim_client::Http;

/// A quiet market: prices frozen, no noise trades, so a marketable order fills as planned.
pub fn quiet(faults: &str) -> SimConfig {
    SimConfig {
        plain: true,
        seed: 5,
        faults: Faults::parse(faults).unwrap(),
        model: ModelConfig {
            volatility_scale: 0.0,
            noise_trades_per_s: 0.0,
            dislocation_every_ms: 1_000_000,
            ..ModelConfig::default()
        },
        ..SimConfig::default()
    }
}

pub fn config_for(sim: &Sim) -> OrderEntryConfig {
    let e = sim.endpoints();
    OrderEntryConfig {
        gateio: Some(GateEntryConfig {
            rest_url: e.gateio.rest.clone(),
            ws_spot_url: e.gateio.ws_spot.clone(),
            ws_futures_url: e.gateio.ws_futures.clone(),
            ..GateEntryConfig::default()
        }),
        mexc: Some(MexcEntryConfig {
            rest_url: e.mexc.rest.clone(),
            futures_rest_url: None,
            ws_spot_url: e.mexc.ws_spot.clone(),
            ws_futures_url: e.mexc.ws_futures.clone(),
            ..MexcEntryConfig::default()
        }),
        request_timeout_ms: 1_000,
        max_connections: 2,
        not_found_grace_ms: 1_500,
        settle_query_ms: 500,
        ..OrderEntryConfig::default()
    }
}

pub fn creds_for(sim: &Sim) -> OrderEntryCredentials {
    let e = sim.endpoints();
    let c = |v: &sim::VenueEndpoints| Credentials::new(v.api_key.clone(), Secret::new(v.api_secret.expose()));
    OrderEntryCredentials { gateio: Some(c(&e.gateio)), mexc: Some(c(&e.mexc)) }
}

/// One order's events, as the state stage would see them.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub updates: Vec<OrderUpdate>,
    pub filled: Qty,
    pub value: Amount,
    pub fees: BTreeMap<u16, Amount>,
    pub rejected: Option<RejectReason>,
    pub done: Option<Qty>,
    pub unknown: bool,
    pub accepted_in: Option<Duration>,
}

impl Outcome {
    pub fn fee(&self, asset: AssetId) -> Amount {
        self.fees.get(&asset.0).copied().unwrap_or(Amount::ZERO)
    }

    pub fn is_final(&self) -> bool {
        self.rejected.is_some()
            || self.done.is_some()
            || self.updates.iter().any(|u| matches!(u, OrderUpdate::Status { open: false, .. }))
    }

    /// Applies one update like the state stage's ledger, asserting that a fill never
    /// carries quantity reported before.
    fn apply(&mut self, inst: &Instrument, u: OrderUpdate) {
        self.updates.push(u);
        match u {
            OrderUpdate::Fill { price, qty, cum_qty, fee, fee_asset, .. } => {
                assert_eq!(cum_qty.0, self.filled.0 + qty.0, "a fill repeats quantity: {:?}", self.updates);
                self.filled = cum_qty;
                self.value += inst.notional(price, qty, Rounding::Floor).unwrap();
                *self.fees.entry(fee_asset.0).or_default() += fee;
            }
            // Cumulative, in one fee asset per order.
            OrderUpdate::Status { filled, value, fee, fee_asset, .. } if filled > self.filled => {
                self.filled = filled;
                self.value = value;
                self.fees.insert(fee_asset.0, fee);
            }
            OrderUpdate::Done { filled } => {
                assert!(self.done.is_none(), "Done twice");
                self.done = Some(filled);
            }
            OrderUpdate::Rejected(r) => self.rejected = Some(r),
            OrderUpdate::Unknown => self.unknown = true,
            _ => {}
        }
    }
}

pub struct Harness {
    pub sim: Sim,
    pub sink: VenueSink,
    pub instruments: Arc<Instruments>,
    pub clock: Clock,
    pub balances: Vec<BalanceEvent>,
    /// The futures wallet reports (balances and funding), in order.
    pub wallets: Vec<FuturesWalletEvent>,
    orders: BTreeMap<ClientOrderId, (InstrumentId, Outcome, Instant)>,
    next_op: u64,
    http: BTreeMap<(Venue, bool), Http>,
}

impl Harness {
    pub fn start(sim: SimConfig, tweak: impl FnOnce(&mut OrderEntryConfig)) -> Harness {
        let mut h = Harness::start_unready(sim, tweak);
        h.sink.wait_ready(Duration::from_secs(10)).unwrap();
        h
    }

    /// Connects without waiting for the private streams.
    pub fn start_unready(sim: SimConfig, tweak: impl FnOnce(&mut OrderEntryConfig)) -> Harness {
        let sim = Sim::start(sim).unwrap();
        let instruments = Arc::new(Instruments::from_specs(&sim.instrument_specs()).unwrap());
        let mut cfg = config_for(&sim);
        tweak(&mut cfg);
        let clock = Clock::new();
        // The venues' own CA when they speak TLS.
        let tls =
            sim.ca_pem_path().map(|p| TlsRoots::empty().add_pem_file(p).unwrap().client_config().unwrap());
        let sink = VenueSink::new(&cfg, creds_for(&sim), instruments.clone(), tls, clock.clone()).unwrap();
        Harness {
            sim,
            sink,
            instruments,
            clock,
            balances: Vec::new(),
            wallets: Vec::new(),
            orders: BTreeMap::new(),
            next_op: 1,
            http: BTreeMap::new(),
        }
    }

    pub fn inst(&self, venue: Venue, market: Market, symbol: &str) -> &Instrument {
        self.instruments.get(self.instruments.find(venue, market, symbol).unwrap())
    }

    pub fn client(&mut self) -> ClientOrderId {
        self.next_op += 1;
        ClientOrderId { op: self.next_op, leg: 0, attempt: 0 }
    }

    pub fn request(
        &mut self,
        inst: &Instrument,
        side: Side,
        price: Price,
        qty: Qty,
        tif: TimeInForce,
    ) -> OrderRequest {
        OrderRequest {
            client: self.client(),
            inst: inst.id,
            venue: inst.venue,
            market: inst.market,
            side,
            price,
            qty,
            tif,
            ts_ns: 0,
        }
    }

    pub fn submit(&mut self, req: OrderRequest) -> Result<(), pipeline::dispatch::SinkError> {
        let r = self.sink.submit(&req);
        if r.is_ok() {
            self.orders.insert(req.client, (req.inst, Outcome::default(), Instant::now()));
        }
        r
    }

    pub fn track(&mut self, client: ClientOrderId, inst: InstrumentId) {
        self.orders.entry(client).or_insert((inst, Outcome::default(), Instant::now()));
    }

    /// Polls the sink (sleeping a millisecond between passes) until `done` or `timeout`.
    pub fn pump_until(&mut self, timeout: Duration, mut done: impl FnMut(&Harness) -> bool) -> bool {
        let start = Instant::now();
        loop {
            let mut got = Vec::new();
            self.sink.poll(256, &mut |e| got.push(e));
            for e in got {
                match e {
                    StateInput::Order(o) => {
                        let inst = self.instruments.get(o.inst).clone();
                        let entry = self.orders.entry(o.client).or_insert((
                            o.inst,
                            Outcome::default(),
                            Instant::now(),
                        ));
                        if entry.1.accepted_in.is_none()
                            && matches!(o.update, OrderUpdate::Accepted | OrderUpdate::Fill { .. })
                        {
                            entry.1.accepted_in = Some(entry.2.elapsed());
                        }
                        entry.1.apply(&inst, o.update);
                    }
                    StateInput::Balance(b) => self.balances.push(b),
                    StateInput::FuturesWallet(w) => self.wallets.push(w),
                    StateInput::Executing(_) | StateInput::Foreign(_) | StateInput::FuturesPosition(_) => {}
                }
            }
            if done(self) {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The funding booked on `venue` so far, from the wallet reports.
    pub fn funding_booked(&self, venue: Venue) -> Amount {
        self.wallets.iter().filter(|w| w.venue == venue).map(|w| w.funding).sum()
    }

    /// A fresh sink in place of this one (an engine's restart): the old one's
    /// connections close.
    pub fn restart_sink(&mut self) {
        let cfg = config_for(&self.sim);
        self.sink =
            VenueSink::new(&cfg, creds_for(&self.sim), self.instruments.clone(), None, self.clock.clone())
                .unwrap();
    }

    pub fn outcome(&self, client: ClientOrderId) -> Outcome {
        self.orders.get(&client).map(|o| o.1.clone()).unwrap_or_default()
    }

    /// Sends and waits for the order's final event.
    pub fn run(&mut self, req: OrderRequest) -> Outcome {
        let client = req.client;
        self.submit(req).unwrap();
        let ok = self.pump_until(Duration::from_secs(5), |h| h.outcome(client).is_final());
        assert!(ok, "no final event for {client:?}: {:?}", self.outcome(client));
        // Let late duplicates (stream after answer, or the reverse) arrive too.
        self.pump_until(Duration::from_millis(300), |_| false);
        self.outcome(client)
    }

    fn http(&mut self, venue: Venue, futures: bool) -> &mut Http {
        let rest = self.sim.endpoints().get(venue).rest.clone();
        let ca = self.sim.ca_pem_path().map(|p| p.to_path_buf());
        self.http.entry((venue, futures)).or_insert_with(|| Http::new(&rest, ca.as_deref()))
    }

    /// The best bid and ask of an instrument, from the venue's public REST book.
    pub fn best(&mut self, inst: &Instrument) -> (Price, Price) {
        let (venue, market, sym, ps) = (inst.venue, inst.market, inst.symbol.clone(), inst.price_scale);
        let h = self.http(venue, market == Market::Futures);
        let (bid, ask): (Value, Value) = match (venue, market) {
            (Venue::GateIo, Market::Spot) => {
                let (_, b) = h.get(&format!("/spot/order_book?currency_pair={sym}&limit=1"));
                (b["bids"][0][0].clone(), b["asks"][0][0].clone())
            }
            (Venue::GateIo, Market::Futures) => {
                let (_, b) = h.get(&format!("/futures/usdt/order_book?contract={sym}&limit=1"));
                (b["bids"][0]["p"].clone(), b["asks"][0]["p"].clone())
            }
            (Venue::Mexc, Market::Spot) => {
                let (_, b) = h.get(&format!("/api/v3/depth?symbol={sym}&limit=1"));
                (b["bids"][0][0].clone(), b["asks"][0][0].clone())
            }
            (Venue::Mexc, Market::Futures) => {
                let (_, b) = h.get(&format!("/api/v1/contract/depth/{sym}?limit=1"));
                (b["data"]["bids"][0][0].clone(), b["data"]["asks"][0][0].clone())
            }
        };
        let p = |v: &Value| {
            let t = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Price::parse(&t, ps).unwrap_or_else(|_| panic!("price {t}"))
        };
        (p(&bid), p(&ask))
    }

    /// A price `bps` beyond the best on the side the order takes, on the tick.
    pub fn through(&mut self, inst: &Instrument, side: Side, bps: i64) -> Price {
        let (bid, ask) = self.best(inst);
        match side {
            Side::Buy => Price(ask.0 + ask.0 * bps / 10_000).round_to(inst.tick, Rounding::Floor),
            Side::Sell => Price(bid.0 - bid.0 * bps / 10_000).round_to(inst.tick, Rounding::Ceil),
        }
    }

    /// Signed REST call as a second client of the account (orders the sink did not send).
    pub fn gate_raw(&mut self, method: &str, path: &str, query: &str, body: &str) -> (u16, Value) {
        let ep = self.sim.endpoints().gateio.clone();
        self.http(Venue::GateIo, false).gate(&ep.api_key, ep.api_secret.expose(), method, path, query, body)
    }

    pub fn mexc_raw(&mut self, method: &str, path: &str, params: &str) -> (u16, Value) {
        let ep = self.sim.endpoints().mexc.clone();
        self.http(Venue::Mexc, false).mexc(&ep.api_key, ep.api_secret.expose(), method, path, params)
    }

    pub fn mexc_fut_raw(&mut self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let ep = self.sim.endpoints().mexc.clone();
        self.http(Venue::Mexc, true).mexc_fut(&ep.api_key, ep.api_secret.expose(), method, path, "", body)
    }

    /// The latest balance event of an asset on a venue.
    pub fn last_balance(&self, venue: Venue, asset: AssetId) -> Option<BalanceEvent> {
        self.balances.iter().rev().find(|b| b.venue == venue && b.asset == asset).copied()
    }
}
