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
//! Instruments ([`catalog`]): Gate spot `BTC_USDT ETH_USDT SOL_USDT ETH_BTC`, Gate USDT
//! perpetuals `BTC_USDT ETH_USDT SOL_USDT` (contracts of 0.0001 BTC, 0.01 ETH, 1 SOL);
//! MEXC spot `BTCUSDT ETHUSDT SOLUSDT ETHBTC`, MEXC perpetuals `BTC_USDT ETH_USDT SOL_USDT`
//! (0.0001 BTC, 0.01 ETH, 0.1 SOL). Fees: Gate spot 0.1%/0.1%, Gate futures 0.02%/0.05%,
//! MEXC spot 0%/0.05%, MEXC futures 0%/0.02% (maker/taker).
//!
//! Accounts per venue: [`USER`] (the API key's; by default 100 000 USDT, 1 BTC, 30 ETH,
//! 500 SOL spot and 100 000 USDT futures margin at 10x, one-way positions), [`MAKER`] (the
//! model's market maker) and [`NOISE`] (small market orders so trades print).
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipeline::types::{
    Amount, InstrumentSpec, Instruments, InstrumentsError, Market, Price, Qty, Rounding, Side, Venue,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use auth::{Credentials, SimSecret};
pub use engine::{MAKER, NOISE, Scripted, USER};
pub use faults::{Faults, FaultsError};
pub use model::{Dislocation, DislocationCounts, DislocationKind, ModelConfig};

use catalog::{Listing, listings};
use engine::{Exchange, SimInstrument};
use model::MarketModel;
use server::{Stream, listen};
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
}

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
        }
    }
}

impl SimConfig {
    /// Sets one venue's latency.
    pub fn with_latency(mut self, venue: Venue, ms: u64) -> Self {
        self.latency_ms[venue.index()] = ms;
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
    venues: Vec<Arc<VenueCtx>>,
    stop: Arc<AtomicBool>,
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

fn token(rng: &mut ChaCha8Rng, len: usize) -> String {
    const A: &[u8] = b"0123456789abcdef";
    (0..len).map(|_| A[rng.gen_range(0..16)] as char).collect()
}

impl Sim {
    /// Builds the venues, seeds their books and starts serving.
    pub fn start(cfg: SimConfig) -> Result<Sim, SimError> {
        let all = listings();
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
        let parse = |s: &str| Amount::parse(s).map_err(|_| SimError::Balance(s.to_owned()));
        let mut venues = Vec::new();
        // Global model index -> (venue slot, local instrument index).
        let mut route = Vec::new();
        for (slot, venue) in Venue::ALL.into_iter().enumerate() {
            let insts: Vec<SimInstrument> =
                sim_insts.iter().filter(|i| i.listing.venue == venue).cloned().collect();
            for (g, si) in sim_insts.iter().enumerate() {
                if si.listing.venue == venue {
                    let local = insts.iter().position(|x| {
                        x.listing.symbol == si.listing.symbol && x.listing.market == si.listing.market
                    });
                    if let Some(local) = local {
                        route.push((g, slot, local));
                    }
                }
            }
            let id_base = match venue {
                Venue::GateIo => 58_828_270_140_000_000,
                Venue::Mexc => 739_113_577_038_000_000,
            } + rng.gen_range(0..1_000_000u64);
            let mut x = Exchange::new(venue, insts, 3, id_base, ChaCha8Rng::seed_from_u64(rng.r#gen()));
            x.faults = cfg.faults;
            for (asset, amount) in &cfg.spot_balances {
                x.deposit_spot(USER, asset, parse(amount)?);
            }
            x.deposit_futures(USER, parse(&cfg.futures_usdt)?);
            for account in [MAKER, NOISE] {
                for (asset, n) in [
                    ("USDT", 10_000_000_000i64),
                    ("BTC", 1_000_000),
                    ("ETH", 10_000_000),
                    ("SOL", 100_000_000),
                ] {
                    x.deposit_spot(account, asset, Amount::from_int(n));
                }
                x.deposit_futures(account, Amount::from_int(100_000_000_000));
            }
            let creds = Credentials {
                api_key: match venue {
                    Venue::GateIo => token(&mut rng, 32),
                    Venue::Mexc => format!("mx0v{}", token(&mut rng, 28)),
                },
                api_secret: SimSecret::new(token(&mut rng, 64)),
            };
            let uid = rng.gen_range(10_000_000..20_000_000u64);
            venues.push(Arc::new(VenueCtx::new(
                x,
                creds,
                uid,
                cfg.faults,
                cfg.latency_ms[venue.index()],
                stop.clone(),
                rng.r#gen(),
            )));
        }
        let mut model = MarketModel::new(cfg.seed, cfg.model, sim_insts);
        model.step();
        requote(&mut model, &venues, &route);
        let model = Arc::new(std::sync::Mutex::new(model));

        let tls = if cfg.plain { None } else { Some(server::make_tls().map_err(SimError::Tls)?) };
        let mut made_dir = None;
        let ca_path = match &tls {
            None => None,
            Some(t) => {
                let dir = match &cfg.ca_dir {
                    Some(d) => d.clone(),
                    None => {
                        let name = format!("arb-sim-{}-{}", std::process::id(), token(&mut rng, 8));
                        let d = std::env::temp_dir().join(name);
                        made_dir = Some(d.clone());
                        d
                    }
                };
                std::fs::create_dir_all(&dir)?;
                let path = dir.join("sim-ca.pem");
                std::fs::write(&path, &t.ca_pem)?;
                Some(path)
            }
        };
        let tls_cfg = tls.as_ref().map(|t| t.config.clone());
        let (http, ws) = if cfg.plain { ("http", "ws") } else { ("https", "wss") };
        let mut threads = Vec::new();
        let mut eps = Vec::new();
        for ctx in &venues {
            let venue = ctx.venue;
            let c = ctx.clone();
            let rest: Arc<dyn Fn(Stream) + Send + Sync> = match venue {
                Venue::GateIo => Arc::new(move |s| gateio::serve_rest(c.clone(), s)),
                Venue::Mexc => Arc::new(move |s| mexc::serve_rest(c.clone(), s)),
            };
            let c = ctx.clone();
            let spot: Arc<dyn Fn(Stream) + Send + Sync> = match venue {
                Venue::GateIo => Arc::new(move |s| gateio::serve_ws(c.clone(), Market::Spot, s)),
                Venue::Mexc => Arc::new(move |s| mexc::serve_spot_ws(c.clone(), s)),
            };
            let c = ctx.clone();
            let fut: Arc<dyn Fn(Stream) + Send + Sync> = match venue {
                Venue::GateIo => Arc::new(move |s| gateio::serve_ws(c.clone(), Market::Futures, s)),
                Venue::Mexc => Arc::new(move |s| mexc::serve_futures_ws(c.clone(), s)),
            };
            let (ra, rt) = listen(&format!("{}-rest", venue.name()), tls_cfg.clone(), stop.clone(), rest)?;
            let (sa, st) = listen(&format!("{}-ws-spot", venue.name()), tls_cfg.clone(), stop.clone(), spot)?;
            let (fa, ft) = listen(&format!("{}-ws-fut", venue.name()), tls_cfg.clone(), stop.clone(), fut)?;
            threads.extend([rt, st, ft]);
            let (rest, ws_spot, ws_futures) = match venue {
                Venue::GateIo => (
                    format!("{http}://{ra}/api/v4"),
                    format!("{ws}://{sa}/ws/v4/"),
                    format!("{ws}://{fa}/v4/ws/usdt"),
                ),
                Venue::Mexc => {
                    (format!("{http}://{ra}"), format!("{ws}://{sa}/ws"), format!("{ws}://{fa}/edge"))
                }
            };
            eps.push(VenueEndpoints {
                rest,
                ws_spot,
                ws_futures,
                api_key: ctx.creds.api_key.clone(),
                api_secret: ctx.creds.api_secret.clone(),
            });
        }
        let mexc = eps.pop().ok_or_else(|| SimError::Tls("no venues".into()))?;
        let gateio = eps.pop().ok_or_else(|| SimError::Tls("no venues".into()))?;

        // The model thread: one step per tick, on a fixed schedule.
        {
            let model = model.clone();
            let venues = venues.clone();
            let stop = stop.clone();
            let tick = Duration::from_millis(cfg.model.tick_ms.max(1));
            let mut noise_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0015_e000);
            let noise_p = cfg.model.noise_trades_per_s * cfg.model.tick_ms as f64 / 1000.0;
            threads.push(std::thread::Builder::new().name("sim-model".into()).spawn(move || {
                let mut next = Instant::now() + tick;
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep((next - now).min(Duration::from_millis(20)));
                        continue;
                    }
                    next += tick;
                    if next < now {
                        next = now + tick;
                    }
                    let mut m = model.lock().unwrap_or_else(|p| p.into_inner());
                    m.step();
                    requote(&mut m, &venues, &route);
                    drop(m);
                    noise_trades(&mut noise_rng, noise_p, &venues);
                }
            })?);
        }
        Ok(Sim {
            endpoints: Endpoints { gateio, mexc },
            ca_path,
            made_dir,
            specs,
            venues,
            stop,
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
        use engine::{OrderKind, OrderRequest, Tif};
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
            inst,
            side,
            kind: OrderKind::Limit,
            tif: Tif::Gtc,
            price,
            qty,
            quote_qty: None,
            text: "manual".to_owned(),
            reduce_only: false,
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

/// Small market orders of the noise traders: each instrument trades with probability `p`
/// per tick, a fraction of the best level, on a random side.
fn noise_trades(rng: &mut ChaCha8Rng, p: f64, venues: &[Arc<VenueCtx>]) {
    use engine::{OrderKind, OrderRequest, Tif};
    use pipeline::types::{Rounding, Side};
    if p <= 0.0 {
        return;
    }
    for ctx in venues {
        let mut x = ctx.lock();
        for inst in 0..x.instruments.len() {
            if rng.r#gen::<f64>() >= p {
                continue;
            }
            let side = if rng.r#gen::<bool>() { Side::Buy } else { Side::Sell };
            let (bid, ask) = x.best(inst);
            let Some(top) = (if side == Side::Buy { ask } else { bid }) else { continue };
            let i = &x.instruments[inst].inst;
            let frac = rng.gen_range(0.05..0.5);
            let qty = Qty((top.qty.0 as f64 * frac) as i64).round_to(i.lot, Rounding::Floor).max(i.min_qty);
            let req = OrderRequest {
                inst,
                side,
                kind: OrderKind::Market,
                tif: Tif::Ioc,
                price: pipeline::types::Price::ZERO,
                qty,
                quote_qty: None,
                text: String::new(),
                reduce_only: false,
            };
            let _ = x.place(NOISE, req);
        }
    }
}

fn requote(model: &mut MarketModel, venues: &[Arc<VenueCtx>], route: &[(usize, usize, usize)]) {
    for (slot, ctx) in venues.iter().enumerate() {
        let quotes: Vec<(usize, Vec<_>)> =
            route.iter().filter(|r| r.1 == slot).map(|&(g, _, local)| (local, model.quotes(g))).collect();
        let mut x = ctx.lock();
        for (local, q) in quotes {
            x.requote(local, &q);
        }
    }
}
