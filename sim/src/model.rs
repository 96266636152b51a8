//! The market model: seeded, reproducible prices and market-maker quotes.
//!
//! Each asset of the catalog (BTC, ETH, SOL and any generated ones) has a fair price
//! that follows a correlated geometric random walk: one common market factor plus the
//! asset's own noise. Every instrument's mid is the fair price (a cross such as ETH/BTC:
//! the ratio of the two) times small per-venue noise (mean-reverting), a drifting
//! futures basis for perpetuals, and any active dislocation. Every few seconds a
//! dislocation appears on a random asset that pays after the venues' taker fees: one
//! venue's spot away from the other's (spot-spot), one venue's perpetual away from its
//! spot (basis), or one venue's cross away from the ratio of its two USDT pairs
//! (triangular). Dislocations decay with a short half-life: the model's other
//! arbitrageurs closing them.
//!
//! The market maker requotes the majors every tick; an instrument of a long-tail asset
//! only with its asset's `activity` chance per tick (its book moves less often), and
//! every tick while a dislocation touches its asset, so that every leg of the
//! opportunity is fresh.
//!
//! The model only produces quotes; the liquidity lives in the matching engine as the
//! market maker's resting orders, so an engine's IOC orders really take it.
//!
//! Floating point is used only for the random walk itself; every quote is converted at
//! once to exact ticks and lots (bids rounded down, asks up, sizes down to the lot).
//! The model's state depends only on the seed and the number of steps, never on the
//! wall clock or on what other clients trade.

use pipeline::types::{Market, Price, Qty, Rounding, Side, Venue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{Asset, AssetInfo, Pair};
use super::engine::SimInstrument;

/// Model parameters; the defaults make a 60 s demo see several dislocations of each kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelConfig {
    /// Model time per step, in milliseconds.
    pub tick_ms: u64,
    /// Mean time between dislocations, in milliseconds.
    pub dislocation_every_ms: u64,
    /// Half-life of a dislocation, in milliseconds.
    pub dislocation_half_life_ms: u64,
    /// Book levels per side.
    pub levels: usize,
    /// Multiplies every volatility (0 freezes the walk).
    pub volatility_scale: f64,
    /// Small market orders per second per instrument from the model's noise traders
    /// (they keep the trade feeds alive; 0 turns them off).
    pub noise_trades_per_s: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            tick_ms: 100,
            dislocation_every_ms: 2_000,
            dislocation_half_life_ms: 1_500,
            levels: 10,
            volatility_scale: 1.0,
            noise_trades_per_s: 1.0,
        }
    }
}

/// The three kinds of opportunity the model creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DislocationKind {
    SpotSpot,
    Basis,
    Triangular,
}

/// An active dislocation: `offset` is the relative shift of one instrument's mid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dislocation {
    pub kind: DislocationKind,
    pub venue: Venue,
    pub market: Market,
    pub pair: Pair,
    pub offset: f64,
    pub born_step: u64,
}

/// How many dislocations of each kind the model has created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DislocationCounts {
    pub spot_spot: u64,
    pub basis: u64,
    pub triangular: u64,
}

const CORRELATION: f64 = 0.75;
const HALF_SPREAD: f64 = 0.5e-4;
const LEVEL_STEP: f64 = 0.6e-4;
const NOISE_THETA: f64 = 0.1;
const NOISE_SIGMA: f64 = 0.8e-4;
const BASIS_MEAN: f64 = 4.0e-4;
const BASIS_THETA: f64 = 0.01;
const BASIS_SIGMA: f64 = 0.3e-4;

/// The seeded market model over a fixed list of instruments.
#[derive(Debug)]
pub struct MarketModel {
    cfg: ModelConfig,
    rng: ChaCha8Rng,
    instruments: Vec<SimInstrument>,
    assets: Vec<AssetInfo>,
    log_fair: Vec<f64>,
    /// Per instrument: venue noise, log units.
    noise: Vec<f64>,
    /// Per asset and venue: perpetual basis, log units.
    basis: Vec<[f64; Venue::COUNT]>,
    /// Per instrument: whether the market maker requotes it after this step.
    due: Vec<bool>,
    /// Assets with a perpetual, and the crosses (triangles), dislocations draw from.
    with_futures: Vec<Asset>,
    crosses: Vec<Pair>,
    dislocations: Vec<Dislocation>,
    counts: DislocationCounts,
    step: u64,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller.
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl MarketModel {
    /// The model over `instruments`, whose pairs name assets of `assets` (by index).
    pub fn new(seed: u64, cfg: ModelConfig, instruments: Vec<SimInstrument>, assets: Vec<AssetInfo>) -> Self {
        let n = instruments.len();
        let mut with_futures: Vec<Asset> = instruments
            .iter()
            .filter(|i| i.listing.market == Market::Futures)
            .map(|i| i.listing.pair.base())
            .collect();
        with_futures.sort_unstable();
        with_futures.dedup();
        let mut crosses: Vec<Pair> =
            instruments.iter().map(|i| i.listing.pair).filter(|p| matches!(p, Pair::Cross { .. })).collect();
        crosses.dedup();
        crosses.sort_by_key(|p| p.base());
        crosses.dedup();
        MarketModel {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(seed),
            instruments,
            log_fair: assets.iter().map(|a| a.start_usdt.ln()).collect(),
            basis: vec![[BASIS_MEAN; Venue::COUNT]; assets.len()],
            assets,
            noise: vec![0.0; n],
            due: vec![true; n],
            with_futures,
            crosses,
            dislocations: Vec::new(),
            counts: DislocationCounts::default(),
            step: 0,
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    pub fn instruments(&self) -> &[SimInstrument] {
        &self.instruments
    }

    pub fn steps(&self) -> u64 {
        self.step
    }

    pub fn dislocations(&self) -> &[Dislocation] {
        &self.dislocations
    }

    pub fn counts(&self) -> DislocationCounts {
        self.counts
    }

    /// The fair price of an asset in USDT.
    pub fn fair(&self, a: Asset) -> f64 {
        self.log_fair[a.index()].exp()
    }

    /// Whether the market maker requotes instrument `i` after the last step.
    pub fn is_due(&self, i: usize) -> bool {
        self.due[i]
    }

    /// Advances the model by one tick.
    pub fn step(&mut self) {
        self.step += 1;
        let dt = self.cfg.tick_ms as f64 / 1000.0;
        let v = self.cfg.volatility_scale;
        let common = normal(&mut self.rng);
        for (fair, a) in self.log_fair.iter_mut().zip(&self.assets) {
            let own = normal(&mut self.rng);
            let z = CORRELATION * common + (1.0 - CORRELATION * CORRELATION).sqrt() * own;
            let sigma = a.vol * v;
            *fair += sigma * dt.sqrt() * z - 0.5 * sigma * sigma * dt;
        }
        for x in self.noise.iter_mut() {
            let z = normal(&mut self.rng);
            *x = *x * (1.0 - NOISE_THETA) + NOISE_SIGMA * v * z;
        }
        for asset in &mut self.basis {
            for b in asset.iter_mut() {
                let z = normal(&mut self.rng);
                *b += BASIS_THETA * (BASIS_MEAN - *b) + BASIS_SIGMA * v * z;
            }
        }
        // Decay, then maybe a new dislocation.
        let decay = 0.5f64.powf(self.cfg.tick_ms as f64 / self.cfg.dislocation_half_life_ms.max(1) as f64);
        for d in &mut self.dislocations {
            d.offset *= decay;
        }
        self.dislocations.retain(|d| d.offset.abs() >= 0.5e-4);
        let p = self.cfg.tick_ms as f64 / self.cfg.dislocation_every_ms.max(1) as f64;
        if self.rng.r#gen::<f64>() < p {
            self.new_dislocation();
        }
        for i in 0..self.instruments.len() {
            let pair = self.instruments[i].listing.pair;
            let activity = self.instruments[i].listing.activity;
            let dislocated = self.dislocations.iter().any(|d| match d.pair {
                Pair::Usdt(a) => pair.involves(a),
                Pair::Cross { base, quote } => pair.involves(base) || pair.involves(quote),
            });
            self.due[i] = dislocated || activity >= 1.0 || self.rng.r#gen::<f64>() < activity;
        }
    }

    fn taker(&self, venue: Venue, market: Market) -> f64 {
        self.instruments
            .iter()
            .find(|i| i.listing.venue == venue && i.listing.market == market)
            .map(|i| i.inst.taker_fee.0 as f64 / 1e9)
            .unwrap_or(0.001)
    }

    fn new_dislocation(&mut self) {
        let kind = match self.rng.gen_range(0..3) {
            0 => DislocationKind::SpotSpot,
            1 => DislocationKind::Basis,
            _ => DislocationKind::Triangular,
        };
        let venue = if self.rng.r#gen::<bool>() { Venue::GateIo } else { Venue::Mexc };
        let asset = match kind {
            DislocationKind::SpotSpot => Asset(self.rng.gen_range(0..self.assets.len()) as u16),
            DislocationKind::Basis if !self.with_futures.is_empty() => {
                self.with_futures[self.rng.gen_range(0..self.with_futures.len())]
            }
            DislocationKind::Triangular if !self.crosses.is_empty() => {
                self.crosses[self.rng.gen_range(0..self.crosses.len())].base()
            }
            _ => return,
        };
        let sign = if self.rng.r#gen::<bool>() { 1.0 } else { -1.0 };
        let extra = self.rng.gen_range(12e-4..30e-4);
        let (market, pair) = self.target(kind, asset);
        if self.dislocations.iter().any(|d| d.venue == venue && d.market == market && d.pair == pair) {
            return;
        }
        self.dislocate(kind, venue, asset, sign * extra);
    }

    /// The instrument a dislocation of `kind` on `asset` moves: its USDT spot pair, its
    /// perpetual, or (triangular) its cross (ETH/BTC when `asset` has none).
    fn target(&self, kind: DislocationKind, asset: Asset) -> (Market, Pair) {
        match kind {
            DislocationKind::SpotSpot => (Market::Spot, Pair::Usdt(asset)),
            DislocationKind::Basis => (Market::Futures, Pair::Usdt(asset)),
            DislocationKind::Triangular => {
                let eth_btc = Pair::Cross { base: Asset::ETH, quote: Asset::BTC };
                (Market::Spot, self.crosses.iter().copied().find(|p| p.base() == asset).unwrap_or(eth_btc))
            }
        }
    }

    /// Shifts one instrument's mid by the taker fees the trade against it would pay plus
    /// `extra` (a relative shift; its sign says which way): a dislocation of `kind` on
    /// `venue` (`asset` names the pair for spot-spot and basis, and the cross for
    /// triangular: see [`MarketModel::target`]). Replaces a dislocation of the same
    /// instrument.
    pub fn dislocate(&mut self, kind: DislocationKind, venue: Venue, asset: Asset, extra: f64) {
        let (sign, extra) = (extra.signum(), extra.abs());
        let (market, pair) = self.target(kind, asset);
        let fees = match kind {
            DislocationKind::SpotSpot => {
                self.taker(Venue::GateIo, Market::Spot) + self.taker(Venue::Mexc, Market::Spot)
            }
            DislocationKind::Basis => self.taker(venue, Market::Spot) + self.taker(venue, Market::Futures),
            DislocationKind::Triangular => 3.0 * self.taker(venue, Market::Spot),
        };
        self.dislocations.retain(|d| !(d.venue == venue && d.market == market && d.pair == pair));
        match kind {
            DislocationKind::SpotSpot => self.counts.spot_spot += 1,
            DislocationKind::Basis => self.counts.basis += 1,
            DislocationKind::Triangular => self.counts.triangular += 1,
        }
        self.dislocations.push(Dislocation {
            kind,
            venue,
            market,
            pair,
            offset: sign * (fees + extra),
            born_step: self.step,
        });
    }

    /// The mid price of instrument `i` (index into the model's instruments).
    pub fn mid(&self, i: usize) -> f64 {
        let l = &self.instruments[i].listing;
        let mut log = match l.pair {
            Pair::Usdt(a) => self.log_fair[a.index()],
            Pair::Cross { base, quote } => self.log_fair[base.index()] - self.log_fair[quote.index()],
        };
        log += self.noise[i];
        if let (Market::Futures, Pair::Usdt(a)) = (l.market, l.pair) {
            log += self.basis[a.index()][l.venue.index()];
        }
        for d in &self.dislocations {
            if d.venue == l.venue && d.market == l.market && d.pair == l.pair {
                log += d.offset;
            }
        }
        log.exp()
    }

    /// The market maker's quotes for instrument `i`: levels per side, best first.
    pub fn quotes(&mut self, i: usize) -> Vec<(Side, Price, Qty)> {
        let mid = self.mid(i);
        let si = &self.instruments[i];
        let inst = &si.inst;
        let scale = 10f64.powi(i32::from(inst.price_scale));
        let (smin, smax) = self.assets[si.listing.pair.base().index()].size;
        let (cm, cs) = inst.contract_size;
        let contract = cm as f64 / 10f64.powi(i32::from(cs));
        let qscale = 10f64.powi(i32::from(inst.qty_scale));
        let mut out = Vec::with_capacity(self.cfg.levels * 2);
        let mut last = [i64::MAX, i64::MIN];
        for level in 0..self.cfg.levels {
            for side in [Side::Buy, Side::Sell] {
                let off = HALF_SPREAD + LEVEL_STEP * level as f64;
                let raw = match side {
                    Side::Buy => mid * (1.0 - off),
                    Side::Sell => mid * (1.0 + off),
                };
                let m = (raw * scale) as i64;
                let mut p = match side {
                    Side::Buy => Price(m).round_to(inst.tick, Rounding::Floor),
                    Side::Sell => Price(m).round_to(inst.tick, Rounding::Ceil),
                };
                // Strictly worse than the previous level on the same side.
                let k = side as usize;
                match side {
                    Side::Buy if p.0 >= last[k] => p = Price(last[k] - inst.tick.0),
                    Side::Sell if p.0 <= last[k] => p = Price(last[k] + inst.tick.0),
                    _ => {}
                }
                last[k] = p.0;
                let u: f64 = self.rng.r#gen();
                let base = (smin * (smax / smin).powf(u)) * (1.0 + 0.3 * level as f64);
                let q = Qty((base / contract * qscale) as i64).round_to(inst.lot, Rounding::Floor);
                let q = if q < inst.min_qty { inst.min_qty } else { q };
                if p.is_positive() && q.is_positive() {
                    out.push((side, p, q));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, DEFAULT_PAIRS, Listing};
    use pipeline::types::Instruments;

    fn model(seed: u64, pairs: usize) -> MarketModel {
        let c = Catalog::new(pairs);
        let specs: Vec<_> = c.listings.iter().map(Listing::spec).collect();
        let t = Instruments::from_specs(&specs).unwrap();
        let insts = c
            .listings
            .into_iter()
            .zip(t.iter())
            .map(|(listing, i)| SimInstrument { listing, inst: i.clone() })
            .collect();
        MarketModel::new(seed, ModelConfig::default(), insts, c.assets)
    }

    type Books = Vec<Vec<(Side, Price, Qty)>>;

    fn run(seed: u64, steps: usize) -> (Books, DislocationCounts) {
        let mut m = model(seed, DEFAULT_PAIRS);
        let mut last = Vec::new();
        for _ in 0..steps {
            m.step();
            last = (0..m.instruments().len()).map(|i| m.quotes(i)).collect();
        }
        (last, m.counts())
    }

    #[test]
    fn same_seed_same_market() {
        assert_eq!(run(42, 200), run(42, 200));
        assert_ne!(run(42, 200).0, run(43, 200).0);
    }

    #[test]
    fn a_minute_sees_every_kind_of_dislocation() {
        let (_, c) = run(7, 600);
        assert!(c.spot_spot >= 3 && c.basis >= 3 && c.triangular >= 3, "{c:?}");
    }

    #[test]
    fn quotes_are_on_the_grid_and_uncrossed() {
        let mut m = model(1, DEFAULT_PAIRS);
        for _ in 0..50 {
            m.step();
        }
        for i in 0..m.instruments().len() {
            let inst = m.instruments()[i].inst.clone();
            let q = m.quotes(i);
            assert_eq!(q.len(), 20);
            for &(_, p, qty) in &q {
                assert!(p.is_multiple_of(inst.tick) && qty.is_multiple_of(inst.lot) && qty >= inst.min_qty);
            }
            let bid = q.iter().filter(|x| x.0 == Side::Buy).map(|x| x.1).max().unwrap();
            let ask = q.iter().filter(|x| x.0 == Side::Sell).map(|x| x.1).min().unwrap();
            assert!(bid < ask, "{}", inst.symbol);
        }
    }

    #[test]
    fn a_large_universe_moves_together_and_dislocates_across_it() {
        let mut m = model(5, 100);
        let assets = 100;
        let log = |m: &MarketModel| (0..assets).map(|a| m.fair(Asset(a as u16)).ln()).collect::<Vec<f64>>();
        let mut last = log(&m);
        let mut returns = vec![Vec::new(); assets];
        let mut dislocated = std::collections::BTreeSet::new();
        let (mut quiet, mut quiet_due) = (0u32, 0u32);
        for step in 0..3000 {
            m.step();
            let now = log(&m);
            for a in 0..assets {
                returns[a].push(now[a] - last[a]);
            }
            last = now;
            for d in m.dislocations() {
                dislocated.insert(d.pair);
            }
            for i in 0..m.instruments().len() {
                let l = &m.instruments()[i].listing;
                let touched = m.dislocations().iter().any(|d| l.pair.involves(d.pair.base()));
                if touched {
                    assert!(m.is_due(i), "a dislocated asset's books move every tick");
                } else if l.activity < 1.0 {
                    quiet += 1;
                    quiet_due += u32::from(m.is_due(i));
                }
            }
            if step % 500 == 0 {
                for i in 0..m.instruments().len() {
                    let inst = m.instruments()[i].inst.clone();
                    let q = m.quotes(i);
                    assert!(q.iter().all(|&(_, p, qty)| p.is_multiple_of(inst.tick) && qty >= inst.min_qty));
                }
            }
        }
        // Every pair of assets shares the market factor: returns correlate near 0.75^2.
        let corr = |a: &[f64], b: &[f64]| {
            let n = a.len() as f64;
            let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
            let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
            let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
            let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
            cov / (va * vb).sqrt()
        };
        let pairs = [(0, 1), (3, 50), (10, 99), (2, 77)];
        for (a, b) in pairs {
            let c = corr(&returns[a], &returns[b]);
            assert!((0.45..0.68).contains(&c), "assets {a} and {b}: correlation {c}");
        }
        assert!(dislocated.len() > 30, "dislocations over {} pairs", dislocated.len());
        let share = f64::from(quiet_due) / f64::from(quiet);
        assert!((0.15..0.5).contains(&share), "long-tail books requoted on {share} of ticks");
    }

    #[test]
    fn a_spot_spot_dislocation_pays_after_fees() {
        let mut m = model(3, DEFAULT_PAIRS);
        for _ in 0..2000 {
            m.step();
            let Some(d) = m
                .dislocations()
                .iter()
                .find(|d| d.kind == DislocationKind::SpotSpot && d.born_step == m.steps())
                .copied()
            else {
                continue;
            };
            let Pair::Usdt(a) = d.pair else { continue };
            let sym = |v: Venue| {
                m.instruments()
                    .iter()
                    .position(|i| {
                        i.listing.venue == v
                            && i.listing.market == Market::Spot
                            && i.listing.pair == Pair::Usdt(a)
                    })
                    .unwrap()
            };
            let (g, x) = (sym(Venue::GateIo), sym(Venue::Mexc));
            let top = |m: &mut MarketModel, i: usize, side: Side| {
                let q = m.quotes(i);
                let p = q.iter().find(|x| x.0 == side).unwrap().1;
                p.0 as f64 / 10f64.powi(i32::from(m.instruments()[i].inst.price_scale))
            };
            // Buy where cheap, sell where dear.
            let (cheap, dear) = if (d.venue == Venue::GateIo) == (d.offset > 0.0) { (x, g) } else { (g, x) };
            let ask = top(&mut m, cheap, Side::Sell);
            let bid = top(&mut m, dear, Side::Buy);
            let edge = bid / ask - 1.0;
            assert!(edge > 0.0015 + 0.0005, "edge {edge}");
            return;
        }
        panic!("no spot-spot dislocation in 2000 steps");
    }
}
