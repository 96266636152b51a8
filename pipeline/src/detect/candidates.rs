//! The candidates detection evaluates, found instrument by instrument through an index
//! of the universe, so that adding an instrument costs the candidates it takes part in,
//! not a pass over every instrument (let alone every pair or triple of them).
//!
//! A candidate is one direction of one opportunity: a spot-spot pair (same base and USD
//! quote, two venues), a basis pair (a USD-quoted spot and the perpetual of the same
//! pair, on the same venue or across venues when allowed), or a triangle inside one
//! venue (`X/Q`, `Y/X`, `Y/Q` with `Q` a USD asset; every cross `Y/X` whose two legs to
//! a USD asset are listed makes one, so ETH/BTC with ETH/USDT and BTC/USDT is found
//! without naming it). [`CandidateIndex::add`] takes instruments one at a time, in id
//! order, and returns the candidates each new one completes with those already added;
//! each candidate is therefore found exactly once, when its last instrument arrives.
//! Instrument ids only grow, so an index built at start can keep taking instruments
//! added while running.
//!
//! Cold path only: the index uses hash maps and allocates.

use std::collections::HashMap;

use super::config::{DetectConfig, DetectConfigError};
use super::sizing::{lcm, lot_base};
use crate::msg::{MAX_LEGS, OppKind};
use crate::types::{Amount, AssetId, Instrument, InstrumentId, Instruments, Market, Venue};

/// What a candidate trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// Buy `buy`, sell `sell`, the same base quantity.
    Pair { buy: InstrumentId, sell: InstrumentId, inventory: Option<Amount> },
    /// `a = X/Q`, `b = Y/X`, `c = Y/Q`.
    Triangle { a: InstrumentId, b: InstrumentId, c: InstrumentId, forward: bool },
}

/// One direction of one opportunity, with its de-duplication state.
#[derive(Clone, Copy, Debug)]
pub(super) struct Candidate {
    pub kind: OppKind,
    pub shape: Shape,
    pub insts: [InstrumentId; MAX_LEGS],
    pub n_insts: u8,
    /// The common base step (lcm of the lots in base units).
    pub lattice: Amount,
    pub last_emit_ns: u64,
    pub ever_emitted: bool,
    /// Found at the last evaluation.
    pub present: bool,
}

impl Candidate {
    fn new(kind: OppKind, shape: Shape, insts: &[InstrumentId], lattice: Amount) -> Self {
        let mut all = [insts[0]; MAX_LEGS];
        all[..insts.len()].copy_from_slice(insts);
        Self {
            kind,
            shape,
            insts: all,
            n_insts: insts.len() as u8,
            lattice,
            last_emit_ns: 0,
            ever_emitted: false,
            present: false,
        }
    }

    /// The instruments the candidate reads.
    pub fn instruments(&self) -> &[InstrumentId] {
        &self.insts[..self.n_insts as usize]
    }
}

/// A listing's place in the universe.
type Pair = (AssetId, AssetId);

/// The universe seen so far, indexed for finding the candidates of a new instrument.
#[derive(Clone, Debug)]
pub(super) struct CandidateIndex {
    spot_spot: bool,
    basis: bool,
    triangular: bool,
    basis_cross_venue: bool,
    usd_names: Vec<String>,
    /// `reverse_basis` permissions: (venue, base asset, most base units).
    inventory: Vec<(Venue, AssetId, Amount)>,
    /// Tradable instruments by market and pair, every venue.
    by_pair: HashMap<(Market, Pair), Vec<InstrumentId>>,
    /// Tradable spot instruments by venue and pair.
    spot: HashMap<(Venue, Pair), InstrumentId>,
    /// Tradable spot instruments by venue and quote asset, and by venue and base asset.
    spot_by_quote: HashMap<(Venue, AssetId), Vec<InstrumentId>>,
    spot_by_base: HashMap<(Venue, AssetId), Vec<InstrumentId>>,
}

impl CandidateIndex {
    /// An empty index for `config`, whose `reverse_basis` assets must be assets of `t`.
    pub fn new(config: &DetectConfig, t: &Instruments) -> Result<Self, DetectConfigError> {
        let mut inventory = Vec::new();
        for r in &config.reverse_basis {
            let a = t.find_asset(&r.asset).ok_or_else(|| DetectConfigError::UnknownAsset(r.asset.clone()))?;
            inventory.push((r.venue, a, r.max_base.amount()));
        }
        Ok(Self {
            spot_spot: config.spot_spot,
            basis: config.basis,
            triangular: config.triangular,
            basis_cross_venue: config.basis_cross_venue,
            usd_names: config.usd_assets.clone(),
            inventory,
            by_pair: HashMap::new(),
            spot: HashMap::new(),
            spot_by_quote: HashMap::new(),
            spot_by_base: HashMap::new(),
        })
    }

    fn is_usd(&self, t: &Instruments, a: AssetId) -> bool {
        let name = t.asset_name(a);
        self.usd_names.iter().any(|u| u == name)
    }

    /// Adds instrument `id` of `t` (every instrument added before it must be in `t`) and
    /// pushes onto `out` each candidate it completes with the instruments already added.
    pub fn add(&mut self, t: &Instruments, id: InstrumentId, out: &mut Vec<Candidate>) {
        let i = t.get(id);
        if !i.trading_enabled || lot_base(i).is_none() {
            return;
        }
        let key = (i.base, i.quote);
        match i.market {
            Market::Spot => {
                if self.is_usd(t, i.quote) {
                    if self.spot_spot {
                        for &j in self.by_pair.get(&(Market::Spot, key)).into_iter().flatten() {
                            let o = t.get(j);
                            if o.venue != i.venue {
                                out.extend(pair(OppKind::SpotSpot, i, o, None));
                                out.extend(pair(OppKind::SpotSpot, o, i, None));
                            }
                        }
                    }
                    if self.basis {
                        for &f in self.by_pair.get(&(Market::Futures, key)).into_iter().flatten() {
                            self.basis_pairs(i, t.get(f), out);
                        }
                    }
                }
                if self.triangular {
                    self.triangles(t, i, out);
                }
                self.spot.insert((i.venue, key), id);
                self.spot_by_quote.entry((i.venue, i.quote)).or_default().push(id);
                self.spot_by_base.entry((i.venue, i.base)).or_default().push(id);
            }
            Market::Futures => {
                if self.basis {
                    for &s in self.by_pair.get(&(Market::Spot, key)).into_iter().flatten() {
                        let s = t.get(s);
                        if self.is_usd(t, s.quote) {
                            self.basis_pairs(s, i, out);
                        }
                    }
                }
            }
        }
        self.by_pair.entry((i.market, key)).or_default().push(id);
    }

    /// Spot `s` against perpetual `f` of the same pair: bought spot and sold perpetual,
    /// and the reverse where `reverse_basis` allows selling the spot.
    fn basis_pairs(&self, s: &Instrument, f: &Instrument, out: &mut Vec<Candidate>) {
        if f.venue != s.venue && !self.basis_cross_venue {
            return;
        }
        out.extend(pair(OppKind::Basis, s, f, None));
        if let Some(&(_, _, max)) = self.inventory.iter().find(|(v, a, _)| *v == s.venue && *a == s.base) {
            out.extend(pair(OppKind::Basis, f, s, Some(max)));
        }
    }

    /// Every triangle of spot instrument `n`'s venue that `n` completes, in whichever
    /// role it plays: `a = X/Q`, `b = Y/X` or `c = Y/Q`.
    fn triangles(&self, t: &Instruments, n: &Instrument, out: &mut Vec<Candidate>) {
        let v = n.venue;
        let spot = |base: AssetId, quote: AssetId| self.spot.get(&(v, (base, quote))).copied();
        let mut found: Vec<(InstrumentId, InstrumentId, InstrumentId)> = Vec::new();
        if self.is_usd(t, n.quote) {
            // n as a = X/Q: each b = Y/X listed, with c = Y/Q.
            for &b in self.spot_by_quote.get(&(v, n.base)).into_iter().flatten() {
                if let Some(c) = spot(t.get(b).base, n.quote) {
                    found.push((n.id, b, c));
                }
            }
            // n as c = Y/Q: each b = Y/X listed, with a = X/Q.
            for &b in self.spot_by_base.get(&(v, n.base)).into_iter().flatten() {
                if let Some(a) = spot(t.get(b).quote, n.quote) {
                    found.push((a, b, n.id));
                }
            }
        }
        // n as b = Y/X: each USD asset Q with a = X/Q and c = Y/Q listed.
        if n.base != n.quote {
            for &a in self.spot_by_base.get(&(v, n.quote)).into_iter().flatten() {
                let q = t.get(a).quote;
                if self.is_usd(t, q) && q != n.base {
                    if let Some(c) = spot(n.base, q) {
                        found.push((a, n.id, c));
                    }
                }
            }
        }
        for (a, b, c) in found {
            let (ia, ib, ic) = (t.get(a), t.get(b), t.get(c));
            if ia.base == ia.quote || ia.base == ic.base || ia.quote != ic.quote {
                continue;
            }
            let Some(lattice) = lot_base(ib).zip(lot_base(ic)).and_then(|(x, y)| lcm(x, y)) else {
                continue;
            };
            for forward in [true, false] {
                out.push(Candidate::new(
                    OppKind::Triangular,
                    Shape::Triangle { a, b, c, forward },
                    &[a, b, c],
                    lattice,
                ));
            }
        }
    }
}

/// Buy `buy`, sell `sell`: a candidate when their lots have a common multiple.
fn pair(kind: OppKind, buy: &Instrument, sell: &Instrument, inventory: Option<Amount>) -> Option<Candidate> {
    let lattice = lcm(lot_base(buy)?, lot_base(sell)?)?;
    Some(Candidate::new(
        kind,
        Shape::Pair { buy: buy.id, sell: sell.id, inventory },
        &[buy.id, sell.id],
        lattice,
    ))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testkit::spec;
    use crate::types::InstrumentSpec;

    fn all(config: &DetectConfig, t: &Instruments) -> Vec<Candidate> {
        let mut index = CandidateIndex::new(config, t).unwrap();
        let mut out = Vec::new();
        for i in t.iter() {
            index.add(t, i.id, &mut out);
        }
        out
    }

    /// The definition, by brute force over every pair and triple of instruments.
    fn by_definition(config: &DetectConfig, t: &Instruments) -> Vec<(OppKind, Shape)> {
        let usd = |a: AssetId| config.usd_assets.iter().any(|u| u == t.asset_name(a));
        let ok = |i: &Instrument| i.trading_enabled && lot_base(i).is_some();
        let spot_usd: Vec<&Instrument> =
            t.iter().filter(|i| ok(i) && i.market == Market::Spot && usd(i.quote)).collect();
        let mut out = Vec::new();
        let mut push = |kind, shape, legs: &[&Instrument]| {
            let lots: Option<Vec<Amount>> = legs.iter().map(|i| lot_base(i)).collect();
            if lots.and_then(|l| l.into_iter().try_fold(Amount(1), lcm)).is_some() {
                out.push((kind, shape));
            }
        };
        for a in &spot_usd {
            for b in &spot_usd {
                if config.spot_spot && a.venue != b.venue && (a.base, a.quote) == (b.base, b.quote) {
                    push(OppKind::SpotSpot, Shape::Pair { buy: a.id, sell: b.id, inventory: None }, &[a, b]);
                }
            }
            for f in t.iter().filter(|f| ok(f) && f.market == Market::Futures) {
                if !config.basis || (f.base, f.quote) != (a.base, a.quote) {
                    continue;
                }
                if f.venue != a.venue && !config.basis_cross_venue {
                    continue;
                }
                push(OppKind::Basis, Shape::Pair { buy: a.id, sell: f.id, inventory: None }, &[a, f]);
                for r in &config.reverse_basis {
                    if r.venue == a.venue && t.find_asset(&r.asset) == Some(a.base) {
                        let inventory = Some(r.max_base.amount());
                        push(OppKind::Basis, Shape::Pair { buy: f.id, sell: a.id, inventory }, &[f, a]);
                    }
                }
            }
            for c in &spot_usd {
                if !config.triangular || c.venue != a.venue || c.quote != a.quote || c.base == a.base {
                    continue;
                }
                for b in t.iter().filter(|b| ok(b) && b.market == Market::Spot && b.venue == a.venue) {
                    if b.base == c.base && b.quote == a.base {
                        for forward in [true, false] {
                            // The triangle's lattice is over b and c only.
                            push(
                                OppKind::Triangular,
                                Shape::Triangle { a: a.id, b: b.id, c: c.id, forward },
                                &[b, c],
                            );
                        }
                    }
                }
            }
        }
        out
    }

    fn sorted(mut v: Vec<(OppKind, Shape)>) -> Vec<String> {
        let mut s: Vec<String> = v.drain(..).map(|x| format!("{x:?}")).collect();
        s.sort();
        s
    }

    fn universe(listings: &[(u8, bool, u8, u8, bool)]) -> Instruments {
        const ASSETS: [&str; 6] = ["BTC", "ETH", "SOL", "XRP", "USDT", "USDC"];
        let mut specs: Vec<InstrumentSpec> = Vec::new();
        for &(venue, futures, base, quote, enabled) in listings {
            let (base, quote) = (ASSETS[base as usize % 6], ASSETS[quote as usize % 6]);
            let venue = if venue % 2 == 0 { Venue::GateIo } else { Venue::Mexc };
            let market = if futures { Market::Futures } else { Market::Spot };
            let symbol = format!("{base}_{quote}");
            if base == quote
                || specs.iter().any(|s| s.venue == venue && s.market == market && s.symbol == symbol)
            {
                continue;
            }
            let size = if futures { "0.01" } else { "1" };
            let mut s = spec(venue, market, &symbol, base, quote, "0.01", "0.001", "1", size, "0.001");
            s.trading_enabled = enabled;
            specs.push(s);
        }
        Instruments::from_specs(&specs).unwrap()
    }

    #[test]
    fn triangles_through_every_cross_are_found() {
        use Market::Spot;
        use Venue::GateIo;
        let s =
            |sym: &str, b: &str, q: &str| spec(GateIo, Spot, sym, b, q, "0.01", "0.001", "1", "1", "0.001");
        let t = Instruments::from_specs(&[
            s("ETH_BTC", "ETH", "BTC"),
            s("BTC_USDT", "BTC", "USDT"),
            s("SOL_ETH", "SOL", "ETH"),
            s("ETH_USDT", "ETH", "USDT"),
            s("SOL_USDT", "SOL", "USDT"),
            s("SOL_BTC", "SOL", "BTC"),
        ])
        .unwrap();
        let c = all(&DetectConfig { spot_spot: false, basis: false, ..DetectConfig::default() }, &t);
        // ETH/BTC, SOL/ETH and SOL/BTC each close a triangle with two USDT legs.
        assert_eq!(c.len(), 6);
        let name = |id: InstrumentId| t.get(id).symbol.clone();
        let mut crosses: Vec<String> = c
            .iter()
            .filter_map(|c| match c.shape {
                Shape::Triangle { b, forward: true, .. } => Some(name(b)),
                _ => None,
            })
            .collect();
        crosses.sort();
        assert_eq!(crosses, ["ETH_BTC", "SOL_BTC", "SOL_ETH"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        // Indexed, incremental discovery finds exactly the candidates the definition
        // gives, each once, whatever order the instruments come in.
        #[test]
        fn the_index_finds_what_the_definition_does(
            listings in proptest::collection::vec((0u8..2, any::<bool>(), 0u8..6, 0u8..6, prop::bool::weighted(0.9)), 0..40),
            cross_venue in any::<bool>(),
            usdc in any::<bool>(),
            reverse in any::<bool>(),
        ) {
            let t = universe(&listings);
            let mut config = DetectConfig { basis_cross_venue: cross_venue, ..DetectConfig::default() };
            if usdc {
                config.usd_assets.push("USDC".into());
            }
            if reverse && t.find_asset("BTC").is_some() {
                config.reverse_basis.push(crate::detect::ReverseBasis {
                    venue: Venue::Mexc,
                    asset: "BTC".into(),
                    max_base: crate::units::Exact(Amount::from_int(1)),
                });
            }
            let got: Vec<(OppKind, Shape)> = all(&config, &t).iter().map(|c| (c.kind, c.shape)).collect();
            prop_assert_eq!(sorted(got.clone()), sorted(by_definition(&config, &t)));
            let mut unique = sorted(got.clone());
            unique.dedup();
            prop_assert_eq!(unique.len(), got.len(), "each candidate once");
        }
    }
}
