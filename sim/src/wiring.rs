//! How [`Sim::start`](crate::Sim::start) puts the simulated venues together: one
//! exchange per venue with its accounts funded and its keys drawn from the seed, the CA
//! file, three listeners per venue (REST, spot WebSocket, futures WebSocket), and the
//! model thread that requotes the market maker and sends the noise traders' orders.
//! Everything here runs once at start, or on the model thread; none of it is public.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipeline::types::{Amount, Market, Qty, Rounding, Side, Venue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustls::ServerConfig;

use crate::auth::{Credentials, SimSecret};
use crate::catalog::Catalog;
use crate::engine::{Exchange, MAKER, NOISE, OrderRequest, SimInstrument, USER};
use crate::model::{MarketModel, ModelConfig};
use crate::server::{Stream, listen};
use crate::venue::VenueCtx;
use crate::{SimConfig, SimError, VenueEndpoints, gateio, mexc};

/// Where a model instrument trades: (model index, venue slot, index in that venue).
pub(crate) type Route = (usize, usize, usize);

fn token(rng: &mut ChaCha8Rng, len: usize) -> String {
    const A: &[u8] = b"0123456789abcdef";
    (0..len).map(|_| A[rng.gen_range(0..16)] as char).collect()
}

/// Each model instrument's venue slot and index there.
pub(crate) fn model_route(insts: &[SimInstrument]) -> Vec<Route> {
    let mut route = Vec::new();
    for (slot, venue) in Venue::ALL.into_iter().enumerate() {
        let local: Vec<&SimInstrument> = insts.iter().filter(|i| i.listing.venue == venue).collect();
        for (g, si) in insts.iter().enumerate().filter(|(_, i)| i.listing.venue == venue) {
            let at = local
                .iter()
                .position(|x| x.listing.symbol == si.listing.symbol && x.listing.market == si.listing.market);
            if let Some(at) = at {
                route.push((g, slot, at));
            }
        }
    }
    route
}

/// One venue's exchange with the account funded as `cfg` says (and the catalog's
/// generated assets as the catalog says; the model's accounts richly), its ids, keys and
/// user id drawn from `rng`.
pub(crate) fn open_venue(
    venue: Venue,
    insts: Vec<SimInstrument>,
    catalog: &Catalog,
    cfg: &SimConfig,
    rng: &mut ChaCha8Rng,
    stop: &Arc<AtomicBool>,
) -> Result<VenueCtx, SimError> {
    let parse = |s: &str| Amount::parse(s).map_err(|_| SimError::Balance(s.to_owned()));
    let id_base = match venue {
        Venue::GateIo => 58_828_270_140_000_000,
        Venue::Mexc => 739_113_577_038_000_000,
    } + rng.gen_range(0..1_000_000u64);
    let mut x = Exchange::new(venue, insts, 3, id_base, ChaCha8Rng::seed_from_u64(rng.r#gen()));
    x.faults = cfg.faults;
    for (asset, amount) in &cfg.spot_balances {
        x.deposit_spot(USER, asset, parse(amount)?);
    }
    for a in catalog.assets.iter().filter(|a| !a.user_balance.is_empty()) {
        if !cfg.spot_balances.iter().any(|(name, _)| name == a.name) {
            x.deposit_spot(USER, a.name, parse(&a.user_balance)?);
        }
    }
    x.deposit_futures(USER, parse(&cfg.futures_usdt)?);
    x.set_funding_interval(cfg.funding_interval_ms);
    for account in [MAKER, NOISE] {
        x.deposit_spot(account, "USDT", Amount::from_int(10_000_000_000));
        for a in &catalog.assets {
            // About ten billion USDT worth of each asset (the majors as before).
            let units = match a.name {
                "BTC" => 1_000_000,
                "ETH" => 10_000_000,
                "SOL" => 100_000_000,
                _ => (1e10 / a.start_usdt).min(1e15) as i64,
            };
            x.deposit_spot(account, a.name, Amount::from_int(units));
        }
        x.deposit_futures(account, Amount::from_int(100_000_000_000));
    }
    let creds = Credentials {
        api_key: match venue {
            Venue::GateIo => token(rng, 32),
            Venue::Mexc => format!("mx0v{}", token(rng, 28)),
        },
        api_secret: SimSecret::new(token(rng, 64)),
    };
    let uid = rng.gen_range(10_000_000..20_000_000u64);
    let latency_ms = cfg.latency_ms[venue.index()];
    Ok(VenueCtx::new(x, creds, uid, cfg.faults, latency_ms, stop.clone(), rng.r#gen()))
}

/// The CA certificate's file, and the temporary folder made for it (removed on stop).
#[derive(Debug)]
pub(crate) struct CaFile {
    pub path: PathBuf,
    pub made_dir: Option<PathBuf>,
}

/// Writes the CA certificate into `dir`, or into a fresh temporary folder.
pub(crate) fn write_ca(pem: &str, dir: Option<&Path>, rng: &mut ChaCha8Rng) -> Result<CaFile, SimError> {
    let mut made_dir = None;
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            // The seed repeats across simulators in one process; the count does not.
            static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("arb-sim-{}-{n}-{}", std::process::id(), token(rng, 8));
            let d = std::env::temp_dir().join(name);
            made_dir = Some(d.clone());
            d
        }
    };
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("sim-ca.pem");
    std::fs::write(&path, pem)?;
    Ok(CaFile { path, made_dir })
}

type Handler = Arc<dyn Fn(Stream) + Send + Sync>;

/// Starts a venue's three listeners (TLS when `tls` is set); returns where they listen.
pub(crate) fn serve_venue(
    ctx: &Arc<VenueCtx>,
    tls: Option<&Arc<ServerConfig>>,
    stop: &Arc<AtomicBool>,
) -> Result<(VenueEndpoints, [JoinHandle<()>; 3]), SimError> {
    let venue = ctx.venue;
    let c = ctx.clone();
    let rest: Handler = match venue {
        Venue::GateIo => Arc::new(move |s| gateio::serve_rest(c.clone(), s)),
        Venue::Mexc => Arc::new(move |s| mexc::serve_rest(c.clone(), s)),
    };
    let c = ctx.clone();
    let spot: Handler = match venue {
        Venue::GateIo => Arc::new(move |s| gateio::serve_ws(c.clone(), Market::Spot, s)),
        Venue::Mexc => Arc::new(move |s| mexc::serve_spot_ws(c.clone(), s)),
    };
    let c = ctx.clone();
    let fut: Handler = match venue {
        Venue::GateIo => Arc::new(move |s| gateio::serve_ws(c.clone(), Market::Futures, s)),
        Venue::Mexc => Arc::new(move |s| mexc::serve_futures_ws(c.clone(), s)),
    };
    let name = venue.name();
    let (ra, rt) = listen(&format!("{name}-rest"), tls.cloned(), stop.clone(), rest)?;
    let (sa, st) = listen(&format!("{name}-ws-spot"), tls.cloned(), stop.clone(), spot)?;
    let (fa, ft) = listen(&format!("{name}-ws-fut"), tls.cloned(), stop.clone(), fut)?;
    let (http, ws) = if tls.is_none() { ("http", "ws") } else { ("https", "wss") };
    let (rest, ws_spot, ws_futures) = match venue {
        Venue::GateIo => (
            format!("{http}://{ra}/api/v4"),
            format!("{ws}://{sa}/ws/v4/"),
            format!("{ws}://{fa}/v4/ws/usdt"),
        ),
        Venue::Mexc => (format!("{http}://{ra}"), format!("{ws}://{sa}/ws"), format!("{ws}://{fa}/edge")),
    };
    let ep = VenueEndpoints {
        rest,
        ws_spot,
        ws_futures,
        api_key: ctx.creds.api_key.clone(),
        api_secret: ctx.creds.api_secret.clone(),
    };
    Ok((ep, [rt, st, ft]))
}

/// The model thread: one step per tick, on a fixed schedule, then the market maker's
/// new quotes and the noise traders' orders.
pub(crate) fn spawn_model(
    model: Arc<Mutex<MarketModel>>,
    venues: Vec<Arc<VenueCtx>>,
    stop: Arc<AtomicBool>,
    frozen: Arc<AtomicBool>,
    route: Vec<Route>,
    cfg: ModelConfig,
    seed: u64,
) -> std::io::Result<JoinHandle<()>> {
    let tick = Duration::from_millis(cfg.tick_ms.max(1));
    let mut noise_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0015_e000);
    let noise_p = cfg.noise_trades_per_s * cfg.tick_ms as f64 / 1000.0;
    std::thread::Builder::new().name("sim-model".into()).spawn(move || {
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
            for ctx in &venues {
                ctx.lock().settle_funding_if_due();
            }
            if frozen.load(Ordering::Relaxed) {
                continue;
            }
            let mut m = model.lock().unwrap_or_else(|p| p.into_inner());
            m.step();
            requote(&mut m, &venues, &route);
            drop(m);
            noise_trades(&mut noise_rng, noise_p, &venues);
        }
    })
}

/// Small market orders of the noise traders: each instrument trades with probability `p`
/// per tick, a fraction of the best level, on a random side.
fn noise_trades(rng: &mut ChaCha8Rng, p: f64, venues: &[Arc<VenueCtx>]) {
    if p <= 0.0 {
        return;
    }
    for ctx in venues {
        let mut x = ctx.lock();
        for inst in 0..x.instruments.len() {
            // The long tail trades less often, as it requotes less often.
            if rng.r#gen::<f64>() >= p * x.instruments[inst].listing.activity {
                continue;
            }
            let side = if rng.r#gen::<bool>() { Side::Buy } else { Side::Sell };
            let (bid, ask) = x.best(inst);
            let Some(top) = (if side == Side::Buy { ask } else { bid }) else { continue };
            let i = &x.instruments[inst].inst;
            let frac = rng.gen_range(0.05..0.5);
            let qty = Qty((top.qty.0 as f64 * frac) as i64).round_to(i.lot, Rounding::Floor).max(i.min_qty);
            let _ = x.place(NOISE, OrderRequest::new_market(inst, side, qty));
        }
    }
}

/// The market maker's quotes from the model, on every venue, for the instruments due.
pub(crate) fn requote(model: &mut MarketModel, venues: &[Arc<VenueCtx>], route: &[Route]) {
    for (slot, ctx) in venues.iter().enumerate() {
        let due: Vec<&Route> = route.iter().filter(|r| r.1 == slot && model.is_due(r.0)).collect();
        let quotes: Vec<(usize, Vec<_>)> =
            due.into_iter().map(|&(g, _, local)| (local, model.quotes(g))).collect();
        let mut x = ctx.lock();
        for (local, q) in quotes {
            x.requote(local, &q);
        }
    }
}
