//! Simulated venues: Gate.io and MEXC, spot and USDT perpetual futures, served on
//! loopback with the venues' real wire protocols, so the engine (and the venues' own
//! client libraries) connect to them exactly as to the real ones, through real sockets.
//!
//! - [`Sim::start`] builds the venues, seeds the books from the [`model`], and serves, per
//!   venue, REST (HTTP/1.1 keep-alive), a spot WebSocket and a futures WebSocket on
//!   ephemeral `127.0.0.1` ports, with TLS from a certificate made at start (its CA is
//!   written to [`Sim::ca_pem_path`]) or plain.
//! - One account per venue trades with the API key and secret in [`Sim::endpoints`];
//!   the market model's market maker provides the liquidity as resting orders in the
//!   same matching engine ([`engine`]).
//! - [`Faults`] inject rejects, partial fills, depth gaps, slow acks, disconnects and
//!   stalls; `latency_ms` delays every response and push per venue.
//!
//! URLs: Gate `rest` includes `/api/v4` (as Gate documents its base URL), `ws_spot` ends
//! in `/ws/v4/`, `ws_futures` in `/v4/ws/usdt`; MEXC `rest` is the bare origin (spot paths
//! `/api/v3/...`, futures `/api/v1/contract/...` and `/api/v1/private/...` on the same
//! server), `ws_spot` ends in `/ws`, `ws_futures` in `/edge`.
//!
//! Instruments ([`catalog`]), by default: Gate spot `BTC_USDT ETH_USDT SOL_USDT ETH_BTC`,
//! Gate USDT perpetuals `BTC_USDT ETH_USDT SOL_USDT` (contracts of 0.0001 BTC, 0.01 ETH,
//! 1 SOL); MEXC spot `BTCUSDT ETHUSDT SOLUSDT ETHBTC`, MEXC perpetuals `BTC_USDT ETH_USDT
//! SOL_USDT` (0.0001 BTC, 0.01 ETH, 0.1 SOL). [`SimConfig::pairs`] adds generated assets
//! up to that many USDT pairs on each venue, with perpetuals and crosses of their own.
//! Fees: Gate spot 0.1%/0.1%, Gate futures 0.02%/0.05%, MEXC spot 0%/0.05%, MEXC futures
//! 0%/0.02% (maker/taker).
//!
//! Accounts per venue: [`USER`] (the API key's; by default 100 000 USDT, 1 BTC, 30 ETH,
//! 500 SOL spot, about 3 000 USDT worth of each generated asset, and 100 000 USDT futures
//! margin at 10x, one-way positions), [`MAKER`] (the model's market maker) and [`NOISE`]
//! (small market orders so trades print).
//!
//! Each venue has a folder of its own ([`gateio`], [`mexc`]) with the same rooms: a REST
//! router with one function per route, order entry in the venue's terms, its JSON shapes
//! and its WebSocket servers. `wiring` puts them together in [`Sim::start`].
//!
//! Threads: a listener per port, a thread per connection, one model thread. Not the
//! engine's hot path; everything stops on [`Sim::stop`] or drop.
//!
//! A crate of its own that depends on `pipeline` only: it checks the venue clients in
//! `adapters`, so it shares no code with them.
#![forbid(unsafe_code)]

pub mod auth;
pub mod catalog;
pub mod engine;
pub mod faults;
pub mod gateio;
pub mod mexc;
pub mod model;
pub mod proto;
pub mod server;
pub mod venue;
mod wiring;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use pipeline::types::{
    Amount, InstrumentSpec, Instruments, InstrumentsError, Market, Price, Qty, Rounding, Side, Venue,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use auth::{Credentials, SimSecret};
pub use engine::{MAKER, NOISE, Scripted, USER};
pub use faults::{Faults, FaultsError};
pub use model::{Dislocation, DislocationCounts, DislocationKind, ModelConfig};

use catalog::{Catalog, Listing};
use engine::SimInstrument;
use model::MarketModel;
use venue::VenueCtx;

/// How to start the simulated venues.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seeds the market model, the keys and the fault dice.
    pub seed: u64,
    /// Plain `http://` and `ws://` instead of TLS.
    pub plain: bool,
    pub faults: Faults,
    /// Added to every response and push, per venue ([`Venue::index`]).
    pub latency_ms: [u64; Venue::COUNT],
    pub model: ModelConfig,
    /// The account's starting spot balances on each venue: (asset, decimal text).
    pub spot_balances: Vec<(String, String)>,
    /// The account's starting futures USDT balance on each venue, decimal text.
    pub futures_usdt: String,
    /// Where the CA certificate is written (a fresh temporary folder when `None`).
    pub ca_dir: Option<PathBuf>,
    /// USDT pairs listed on each venue ([`catalog::DEFAULT_PAIRS`] to
    /// [`catalog::MAX_PAIRS`]).
    pub pairs: usize,
    /// How often the perpetuals settle funding, in milliseconds (the real venues: 8 h;
    /// 0 turns funding off).
    pub funding_interval_ms: u64,
}

/// The real venues' funding interval: 8 hours.
pub const FUNDING_INTERVAL_MS: u64 = 8 * 3_600_000;

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            plain: false,
            faults: Faults::NONE,
            latency_ms: [0; Venue::COUNT],
            model: ModelConfig::default(),
            spot_balances: vec![
                ("USDT".into(), "100000".into()),
                ("BTC".into(), "1".into()),
                ("ETH".into(), "30".into()),
                ("SOL".into(), "500".into()),
            ],
            futures_usdt: "100000".into(),
            ca_dir: None,
            pairs: catalog::DEFAULT_PAIRS,
            funding_interval_ms: FUNDING_INTERVAL_MS,
        }
    }
}

impl SimConfig {
    /// Sets one venue's latency.
    pub fn with_latency(mut self, venue: Venue, ms: u64) -> Self {
        self.latency_ms[venue.index()] = ms;
        self
    }

    /// `pairs` USDT pairs on each venue, with a market model scaled to them: dislocations
    /// come more often over a larger universe (the default period times the square root
    /// of 3 / `pairs`, at least every 250 ms: 2 s over the three majors, 490 ms over 50
    /// pairs), so that a short run trades across many pairs.
    pub fn with_pairs(mut self, pairs: usize) -> Self {
        self.pairs = pairs.clamp(catalog::DEFAULT_PAIRS, catalog::MAX_PAIRS);
        let scale = (catalog::DEFAULT_PAIRS as f64 / self.pairs as f64).sqrt();
        let every = (self.model.dislocation_every_ms as f64 * scale) as u64;
        self.model.dislocation_every_ms = every.max(250);
        self
    }
}

/// Why the simulated venues did not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("sim: {0}")]
    Tls(String),
    #[error("sim: {0}")]
    Io(#[from] std::io::Error),
    #[error("sim: {0}")]
    Instruments(#[from] InstrumentsError),
    #[error("sim: bad starting balance {0:?}")]
    Balance(String),
}

/// Where one simulated venue listens, and the account's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueEndpoints {
    pub rest: String,
    pub ws_spot: String,
    pub ws_futures: String,
    pub api_key: String,
    pub api_secret: SimSecret,
}

/// Both venues' endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub gateio: VenueEndpoints,
    pub mexc: VenueEndpoints,
}

impl Endpoints {
    pub fn get(&self, venue: Venue) -> &VenueEndpoints {
        match venue {
            Venue::GateIo => &self.gateio,
            Venue::Mexc => &self.mexc,
        }
    }
}

/// The one-line JSON object `arb sim` prints first on stdout:
/// `{"gateio": {"rest", "ws_spot", "ws_futures", "api_key", "api_secret"}, "mexc": {...}}`.
/// It contains the secrets: print it only where the CLI contract asks for it.
pub fn endpoints_json(e: &Endpoints) -> String {
    let v = |x: &VenueEndpoints| {
        serde_json::json!({"rest": x.rest, "ws_spot": x.ws_spot, "ws_futures": x.ws_futures,
                           "api_key": x.api_key, "api_secret": x.api_secret.expose()})
    };
    serde_json::json!({"gateio": v(&e.gateio), "mexc": v(&e.mexc)}).to_string()
}

/// A spot balance of the sim's account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpotBalance {
    pub available: Amount,
    pub locked: Amount,
}

impl SpotBalance {
    pub fn total(&self) -> Amount {
        self.available + self.locked
    }
}

/// A futures position of the sim's account: `qty` in the instrument's order unit
/// (contracts), signed; `cost` the signed cost basis in USDT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuturesPosition {
    pub contracts: i64,
    pub qty: Qty,
    pub cost: Amount,
    pub realised: Amount,
}

/// The sim's account on one venue, as the venue holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub spot: BTreeMap<String, SpotBalance>,
    pub futures_balance: Amount,
    /// Keyed by the venue's futures symbol.
    pub positions: BTreeMap<String, FuturesPosition>,
    pub open_orders: usize,
    /// The funding the account received (positive) or paid, in total.
    pub funding: Amount,
    /// Funding rounds that paid or charged the account.
    pub funding_payments: usize,
}

/// One order of the sim's account as the venue keeps it: `filled` in the instrument's
/// quantity unit (base, or base per contract times contracts for futures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountOrder {
    pub id: u64,
    pub market: Market,
    pub symbol: String,
    pub side: Side,
    /// The client's order text (Gate `text`, MEXC `newClientOrderId` / `externalOid`).
    pub text: String,
    pub filled: Qty,
    /// `filled` in base units.
    pub filled_base: Amount,
    pub open: bool,
}

/// Running simulated venues.
pub struct Sim {
    endpoints: Endpoints,
    ca_path: Option<PathBuf>,
    /// The temporary folder holding the CA, when the sim made it.
    made_dir: Option<PathBuf>,
    specs: Vec<InstrumentSpec>,
    catalog: Catalog,
    venues: Vec<Arc<VenueCtx>>,
    stop: Arc<AtomicBool>,
    /// The model skips its steps while set ([`Sim::freeze`]).
    frozen: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    model: Arc<std::sync::Mutex<MarketModel>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("endpoints", &self.endpoints)
            .field("ca_path", &self.ca_path)
            .field("venues", &self.venues)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Builds the venues, seeds their books and starts serving.
    pub fn start(cfg: SimConfig) -> Result<Sim, SimError> {
        let catalog = Catalog::new(cfg.pairs);
        let all = &catalog.listings;
        let specs: Vec<InstrumentSpec> = all.iter().map(Listing::spec).collect();
        let table = Instruments::from_specs(&specs)?;
        let sim_insts: Vec<SimInstrument> = all
            .iter()
            .cloned()
            .zip(table.iter())
            .map(|(listing, i)| SimInstrument { listing, inst: i.clone() })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_5eed);
        let stop = Arc::new(AtomicBool::new(false));
        let route = wiring::model_route(&sim_insts);
        let mut venues = Vec::new();
        for venue in Venue::ALL {
            let insts = sim_insts.iter().filter(|i| i.listing.venue == venue).cloned().collect();
            venues.push(Arc::new(wiring::open_venue(venue, insts, &catalog, &cfg, &mut rng, &stop)?));
        }
        let mut model = MarketModel::new(cfg.seed, cfg.model, sim_insts, catalog.assets.clone());
        model.step();
        wiring::requote(&mut model, &venues, &route);
        let model = Arc::new(std::sync::Mutex::new(model));

        let tls = if cfg.plain { None } else { Some(server::make_tls().map_err(SimError::Tls)?) };
        let ca = match &tls {
            None => None,
            Some(t) => Some(wiring::write_ca(&t.ca_pem, cfg.ca_dir.as_deref(), &mut rng)?),
        };
        let tls_cfg = tls.as_ref().map(|t| t.config.clone());
        let mut threads = Vec::new();
        let mut eps = Vec::new();
        for ctx in &venues {
            let (ep, listeners) = wiring::serve_venue(ctx, tls_cfg.as_ref(), &stop)?;
            threads.extend(listeners);
            eps.push(ep);
        }
        let mexc = eps.pop().ok_or_else(|| SimError::Tls("no venues".into()))?;
        let gateio = eps.pop().ok_or_else(|| SimError::Tls("no venues".into()))?;
        let frozen = Arc::new(AtomicBool::new(false));
        threads.push(wiring::spawn_model(
            model.clone(),
            venues.clone(),
            stop.clone(),
            frozen.clone(),
            route,
            cfg.model,
            cfg.seed,
        )?);
        let (ca_path, made_dir) = match ca {
            Some(ca) => (Some(ca.path), ca.made_dir),
            None => (None, None),
        };
        Ok(Sim {
            endpoints: Endpoints { gateio, mexc },
            ca_path,
            made_dir,
            specs,
            catalog,
            venues,
            stop,
            frozen,
            threads,
            model,
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The CA certificate (PEM) clients must trust; `None` in plain mode.
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// The instruments the venues list, as the engine's configuration describes them.
    pub fn instrument_specs(&self) -> Vec<InstrumentSpec> {
        self.specs.clone()
    }

    /// What the venues list: assets and listings.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn ctx(&self, venue: Venue) -> &VenueCtx {
        &self.venues[venue.index()]
    }

    /// The sim account on `venue`: spot balances, futures balance and positions.
    pub fn account(&self, venue: Venue) -> AccountSnapshot {
        let x = self.ctx(venue).lock();
        let Some(a) = x.account(USER) else { return AccountSnapshot::default() };
        let spot = a
            .spot
            .iter()
            .map(|(k, b)| (k.clone(), SpotBalance { available: b.available, locked: b.locked }))
            .collect();
        let positions = a
            .futures
            .positions
            .iter()
            .map(|(&i, p)| {
                let si = &x.instruments[i];
                (
                    si.listing.symbol.to_owned(),
                    FuturesPosition {
                        contracts: si.contracts(p.size),
                        qty: p.size,
                        cost: p.cost,
                        realised: p.realised,
                    },
                )
            })
            .collect();
        AccountSnapshot {
            spot,
            futures_balance: a.futures.balance,
            positions,
            open_orders: x.orders_of(USER, None, true).len(),
            funding: x.funding_book().iter().map(|e| e.amount).sum(),
            funding_payments: x.funding_book().len(),
        }
    }

    /// One spot balance of the sim account.
    pub fn spot_balance(&self, venue: Venue, asset: &str) -> SpotBalance {
        self.account(venue).spot.get(asset).copied().unwrap_or_default()
    }

    /// The sim account's futures position on a venue symbol (zero when flat).
    pub fn futures_position(&self, venue: Venue, symbol: &str) -> FuturesPosition {
        self.account(venue).positions.get(symbol).copied().unwrap_or_default()
    }

    /// Rests a limit order for the account `away_bps` outside the best price on its
    /// side (a buy below the best bid, a sell above the best ask), as another client of
    /// the account would (its text is `manual`); returns the venue's order id.
    pub fn place_resting(
        &self,
        venue: Venue,
        market: Market,
        symbol: &str,
        side: Side,
        qty: &str,
        away_bps: i64,
    ) -> Result<u64, String> {
        use engine::{OrderRequest, Tif};
        let mut x = self.ctx(venue).lock();
        let inst = x.find(market, symbol).ok_or_else(|| format!("no {market} {symbol} on {venue}"))?;
        let snap = x.snapshot(inst, 1);
        let best = match side {
            Side::Buy => snap.bids.first(),
            Side::Sell => snap.asks.first(),
        }
        .map(|l| l.price)
        .ok_or("empty book")?;
        let i = &x.instruments[inst].inst;
        let qty = Qty::parse(qty, i.qty_scale).map_err(|e| format!("quantity {qty}: {e}"))?;
        let shift = best.0 / 10_000 * away_bps;
        let (raw, rounding) = match side {
            Side::Buy => (Price(best.0 - shift), Rounding::Floor),
            Side::Sell => (Price(best.0 + shift), Rounding::Ceil),
        };
        let price = i.round_price(raw, rounding);
        let req = OrderRequest {
            text: "manual".to_owned(),
            ..OrderRequest::new_limit(inst, side, Tif::Gtc, price, qty)
        };
        x.place(USER, req).map(|o| o.id).map_err(|e| e.to_string())
    }

    /// Stops (or resumes) publishing `venue`'s public market data on every WebSocket
    /// connection, as a venue whose feed stalls while its market moves on; order entry
    /// and private streams carry on. Clients see a sequence gap when it resumes.
    pub fn pause_market_data(&self, venue: Venue, paused: bool) {
        self.ctx(venue).md_paused.store(paused, Ordering::Relaxed);
    }

    /// Makes a dislocation now (see [`MarketModel::dislocate`]): `extra_bps` beyond the
    /// taker fees, positive raising the dislocated instrument's price. The model publishes
    /// it on its next step.
    pub fn dislocate(&self, kind: DislocationKind, venue: Venue, asset: catalog::Asset, extra_bps: f64) {
        let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
        m.dislocate(kind, venue, asset, extra_bps * 1e-4);
    }

    /// Moves `amount` into (or, negative, out of) the account's spot `asset` on `venue`
    /// behind every client's back (a deposit, a withdrawal, a correction by the venue):
    /// the balance push and the REST balances show it; no order or fill explains it.
    pub fn adjust_spot(&self, venue: Venue, asset: &str, amount: Amount) {
        self.ctx(venue).lock().adjust_spot(USER, asset, amount);
    }

    /// Sets how often `venue`'s perpetuals settle funding from now on (0: never).
    pub fn set_funding_interval(&self, venue: Venue, interval_ms: u64) {
        self.ctx(venue).lock().set_funding_interval(interval_ms);
    }

    /// Freezes (or thaws) the market: the model stops stepping, so the market maker's
    /// quotes stay where they are and the noise traders stop; order entry carries on.
    pub fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Relaxed);
    }

    /// The best bid and ask of an instrument, as prices of its listing.
    pub fn top(&self, venue: Venue, market: Market, symbol: &str) -> Option<(Price, Price)> {
        let x = self.ctx(venue).lock();
        let i = x.find(market, symbol)?;
        let (b, a) = x.best(i);
        Some((b?.price, a?.price))
    }

    /// Settles one funding round on `venue`'s perpetuals now (tests, demos).
    pub fn settle_funding(&self, venue: Venue) -> Vec<engine::FundingEntry> {
        self.ctx(venue).lock().settle_funding()
    }

    /// Scripts the outcome of the account's next order on `symbol` (the venue's symbol
    /// in `market`); false when the venue lists no such instrument.
    pub fn script(&self, venue: Venue, market: Market, symbol: &str, outcome: Scripted) -> bool {
        let mut x = self.ctx(venue).lock();
        let Some(inst) = x.find(market, symbol) else { return false };
        x.script(inst, outcome);
        true
    }

    /// Every order the account placed on `venue`, oldest first: what the venue knows,
    /// for checking a client's books against it.
    pub fn account_orders(&self, venue: Venue) -> Vec<AccountOrder> {
        let x = self.ctx(venue).lock();
        x.orders_of(USER, None, false)
            .into_iter()
            .map(|o| {
                let l = &x.instruments[o.inst].listing;
                AccountOrder {
                    id: o.id,
                    market: l.market,
                    symbol: l.symbol.to_owned(),
                    side: o.side,
                    text: o.text.clone(),
                    filled: o.filled_qty,
                    filled_base: x.instruments[o.inst].inst.base_amount(o.filled_qty).unwrap_or(Amount::ZERO),
                    open: o.is_open(),
                }
            })
            .collect()
    }

    /// How many dislocations the model has made so far.
    pub fn dislocations(&self) -> DislocationCounts {
        self.model.lock().unwrap_or_else(|p| p.into_inner()).counts()
    }

    /// The dislocations open right now (for a dashboard or a report).
    pub fn active_dislocations(&self) -> Vec<Dislocation> {
        self.model.lock().unwrap_or_else(|p| p.into_inner()).dislocations().to_vec()
    }

    /// Stops serving and joins the listener and model threads (connection threads end
    /// within a few milliseconds on their own); removes the CA folder the sim made.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(dir) = self.made_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}
