//! The instruments the simulated venues list: Gate.io and MEXC, spot and USDT perpetual
//! futures, over a universe of any size.
//!
//! The default universe ([`DEFAULT_PAIRS`]) is BTC, ETH and SOL against USDT on both
//! venues' spot and perpetual markets, plus ETH/BTC on each spot market (the third leg
//! of the triangle). [`Catalog::new`] with more pairs adds generated assets after those
//! three, each with metadata of its own, as real venues list them: a price anywhere from
//! a fraction of a cent to hundreds of dollars, a tick of four or five significant
//! digits, a lot and minimum notional that differ per venue, a perpetual on every third
//! asset (with a contract size worth a few dollars, different per venue) and a cross to
//! BTC or ETH on some (triangles). Asset `k`'s parameters depend on `k` alone, so a
//! larger universe only adds to a smaller one.
//!
//! Each listing carries the venue's own metadata in the venue's own terms (decimal
//! places, contract multipliers, minimum notional) from which both the REST metadata
//! bodies and the [`InstrumentSpec`]s are made, so the two cannot disagree.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use pipeline::types::{InstrumentSpec, Market, Venue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pairs per venue of the default universe (BTC, ETH, SOL).
pub const DEFAULT_PAIRS: usize = 3;
/// The most pairs per venue a catalog generates.
pub const MAX_PAIRS: usize = 2000;

/// One of the model's assets, by index: BTC, ETH and SOL first, then generated ones.
/// USDT, the quote and margin currency, is not one: its price is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asset(pub u16);

impl Asset {
    pub const BTC: Asset = Asset(0);
    pub const ETH: Asset = Asset(1);
    pub const SOL: Asset = Asset(2);

    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// What an instrument's price follows in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pair {
    /// `asset` in USDT.
    Usdt(Asset),
    /// `base` in `quote` (ETH/BTC): the ratio of their USDT prices.
    Cross { base: Asset, quote: Asset },
}

impl Pair {
    /// The asset whose price sets the pair's sizes: the base.
    pub fn base(self) -> Asset {
        match self {
            Pair::Usdt(a) | Pair::Cross { base: a, .. } => a,
        }
    }

    /// Whether the pair moves with `a`'s price.
    pub fn involves(self, a: Asset) -> bool {
        match self {
            Pair::Usdt(x) => x == a,
            Pair::Cross { base, quote } => base == a || quote == a,
        }
    }
}

/// One asset of the simulated market and the model's parameters for it.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetInfo {
    pub name: &'static str,
    /// Starting fair price in USDT.
    pub start_usdt: f64,
    /// Volatility per square-root second.
    pub vol: f64,
    /// Top-of-book level sizes in base units: (smallest, largest).
    pub size: (f64, f64),
    /// Chance per model tick that the market maker requotes an instrument of this asset
    /// with no dislocation on it (1 for the majors: every tick; less in the long tail,
    /// whose books move less often).
    pub activity: f64,
    /// The trading account's starting spot balance, decimal text (generated assets; the
    /// majors' come from the sim's configuration).
    pub user_balance: String,
}

/// One listing of a simulated venue.
#[derive(Clone, Debug)]
pub struct Listing {
    pub venue: Venue,
    pub market: Market,
    /// The venue's symbol (`BTC_USDT`, `BTCUSDT`).
    pub symbol: &'static str,
    pub base: &'static str,
    pub quote: &'static str,
    pub pair: Pair,
    /// Price decimal places (the tick is `10^-price_decimals`).
    pub price_decimals: u8,
    /// Quantity decimal places of the order unit (base or contracts).
    pub qty_decimals: u8,
    /// Smallest order quantity, decimal text in the order unit.
    pub min_qty: &'static str,
    /// Smallest order value in the quote currency, decimal text.
    pub min_notional: &'static str,
    /// Base units per order unit, decimal text ("1" for spot).
    pub contract_size: &'static str,
    pub maker_fee: &'static str,
    pub taker_fee: &'static str,
    /// Largest order quantity, decimal text.
    pub max_qty: &'static str,
    /// See [`AssetInfo::activity`].
    pub activity: f64,
}

impl Listing {
    /// The 24 h traded value in the quote currency, decimal text, as the venues' tickers
    /// give it. Deterministic from the asset, venue and market: the majors trade
    /// hundreds of millions to billions of USDT a day; generated asset `k` from 10,000
    /// to 900 million USDT, differing per venue (so that a minimum volume keeps a pair
    /// on one venue and not the other); a perpetual three times its spot pair; a cross
    /// a tenth of the USDT pair, in BTC or ETH.
    pub fn volume_24h_quote(&self) -> String {
        let k = self.pair.base().index() as u64;
        let venue = self.venue as u64;
        let usdt: u64 = match k {
            0 => 2_000_000_000,
            1 => 1_000_000_000,
            2 => 300_000_000,
            _ => (1 + (k * 37 + venue * 5) % 9) * 10u64.pow(4 + ((k * 7919) % 5) as u32),
        };
        let usdt = if self.market == Market::Futures { usdt * 3 } else { usdt };
        match self.pair {
            Pair::Usdt(_) => usdt.to_string(),
            // A tenth of the USDT pair's value, in the quote asset at its starting price.
            Pair::Cross { quote, .. } => {
                let quote_usdt: u64 = if quote == Asset::BTC { 87_000 } else { 2_900 };
                (usdt / 10 / quote_usdt).to_string()
            }
        }
    }

    /// The decimal text of `10^-n`.
    pub fn step(n: u8) -> String {
        if n == 0 { "1".to_owned() } else { format!("0.{}1", "0".repeat(n as usize - 1)) }
    }

    pub fn tick(&self) -> String {
        Self::step(self.price_decimals)
    }

    pub fn lot(&self) -> String {
        Self::step(self.qty_decimals)
    }

    pub fn spec(&self) -> InstrumentSpec {
        InstrumentSpec {
            venue: self.venue,
            market: self.market,
            symbol: self.symbol.to_owned(),
            base: self.base.to_owned(),
            quote: self.quote.to_owned(),
            tick: self.tick(),
            lot: self.lot(),
            min_qty: Some(self.min_qty.to_owned()),
            max_qty: Some(self.max_qty.to_owned()),
            min_notional: Some(self.min_notional.to_owned()),
            contract_size: self.contract_size.to_owned(),
            taker_fee: Some(self.taker_fee.to_owned()),
            maker_fee: Some(self.maker_fee.to_owned()),
            trading_enabled: true,
        }
    }
}

/// A name that lives for the process: generated symbols and asset names are made once
/// per distinct text, however many times the sim starts.
pub fn intern(text: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = names.get(text) {
        return n;
    }
    let n: &'static str = Box::leak(text.to_owned().into_boxed_str());
    names.insert(n);
    n
}

// Fee defaults (protocols.md H.2): Gate spot 0.1%/0.1%, Gate futures maker 0.02% taker
// 0.05%, MEXC spot 0%/0.05%, MEXC futures 0%/0.02%.
const GATE_SPOT_FEE: &str = "0.001";
const GATE_FUT_MAKER: &str = "0.0002";
const GATE_FUT_TAKER: &str = "0.0005";
const MEXC_SPOT_MAKER: &str = "0";
const MEXC_SPOT_TAKER: &str = "0.0005";
const MEXC_FUT_MAKER: &str = "0";
const MEXC_FUT_TAKER: &str = "0.0002";

fn fees(venue: Venue, market: Market) -> (&'static str, &'static str) {
    match (venue, market) {
        (Venue::GateIo, Market::Spot) => (GATE_SPOT_FEE, GATE_SPOT_FEE),
        (Venue::GateIo, Market::Futures) => (GATE_FUT_MAKER, GATE_FUT_TAKER),
        (Venue::Mexc, Market::Spot) => (MEXC_SPOT_MAKER, MEXC_SPOT_TAKER),
        (Venue::Mexc, Market::Futures) => (MEXC_FUT_MAKER, MEXC_FUT_TAKER),
    }
}

/// The venue's spelling of `base`/`quote` in `market`.
fn symbol(venue: Venue, market: Market, base: &str, quote: &str) -> &'static str {
    match (venue, market) {
        (Venue::Mexc, Market::Spot) => intern(&format!("{base}{quote}")),
        _ => intern(&format!("{base}_{quote}")),
    }
}

/// The majors' listings as the venues list them.
#[allow(clippy::too_many_arguments)]
fn major(
    venue: Venue,
    market: Market,
    pair: Pair,
    base: &'static str,
    quote: &'static str,
    price_decimals: u8,
    qty_decimals: u8,
    min_qty: &'static str,
    min_notional: &'static str,
    contract_size: &'static str,
    max_qty: &'static str,
) -> Listing {
    let (maker_fee, taker_fee) = fees(venue, market);
    Listing {
        venue,
        market,
        symbol: symbol(venue, market, base, quote),
        base,
        quote,
        pair,
        price_decimals,
        qty_decimals,
        min_qty,
        min_notional,
        contract_size,
        maker_fee,
        taker_fee,
        max_qty,
        activity: 1.0,
    }
}

/// BTC, ETH and SOL spot and perpetuals, and ETH/BTC, on both venues.
fn majors() -> Vec<Listing> {
    use Market::{Futures, Spot};
    use Venue::{GateIo, Mexc};
    let (btc, eth, sol) = (Pair::Usdt(Asset::BTC), Pair::Usdt(Asset::ETH), Pair::Usdt(Asset::SOL));
    let eth_btc = Pair::Cross { base: Asset::ETH, quote: Asset::BTC };
    vec![
        major(GateIo, Spot, btc, "BTC", "USDT", 1, 6, "0.000001", "3", "1", "100"),
        major(GateIo, Spot, eth, "ETH", "USDT", 2, 4, "0.0001", "3", "1", "5000"),
        major(GateIo, Spot, sol, "SOL", "USDT", 2, 3, "0.001", "3", "1", "100000"),
        major(GateIo, Spot, eth_btc, "ETH", "BTC", 6, 4, "0.0001", "0.0001", "1", "5000"),
        major(GateIo, Futures, btc, "BTC", "USDT", 1, 0, "1", "0", "0.0001", "1000000"),
        major(GateIo, Futures, eth, "ETH", "USDT", 2, 0, "1", "0", "0.01", "1000000"),
        major(GateIo, Futures, sol, "SOL", "USDT", 2, 0, "1", "0", "1", "1000000"),
        major(Mexc, Spot, btc, "BTC", "USDT", 2, 6, "0.000001", "1", "1", "100"),
        major(Mexc, Spot, eth, "ETH", "USDT", 2, 5, "0.00001", "1", "1", "5000"),
        major(Mexc, Spot, sol, "SOL", "USDT", 2, 3, "0.001", "1", "1", "100000"),
        major(Mexc, Spot, eth_btc, "ETH", "BTC", 6, 4, "0.0001", "0.0001", "1", "5000"),
        major(Mexc, Futures, btc, "BTC", "USDT", 1, 0, "1", "0", "0.0001", "400000"),
        major(Mexc, Futures, eth, "ETH", "USDT", 2, 0, "1", "0", "0.01", "400000"),
        major(Mexc, Futures, sol, "SOL", "USDT", 2, 0, "1", "0", "0.1", "400000"),
    ]
}

/// The majors' model parameters (boosted from real markets so a demo moves).
fn major_assets() -> Vec<AssetInfo> {
    let a = |name, start_usdt, vol, size| AssetInfo {
        name,
        start_usdt,
        vol,
        size,
        activity: 1.0,
        user_balance: String::new(),
    };
    vec![
        a("BTC", 87_000.0, 2.0e-4, (0.02, 0.6)),
        a("ETH", 2_900.0, 2.5e-4, (0.3, 8.0)),
        a("SOL", 140.0, 3.5e-4, (5.0, 120.0)),
    ]
}

/// A ticker for generated asset `k`: consonant, vowel, consonant (and a digit past the
/// 2,000 such names), never one of the majors' or USDT.
fn ticker(k: usize) -> String {
    const C: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
    const V: &[u8; 5] = b"AEIOU";
    let mut s: String = [C[k % 20], V[(k / 20) % 5], C[(k / 100) % 20]].iter().map(|&b| b as char).collect();
    if ["BTC", "ETH", "SOL"].contains(&s.as_str()) {
        s.push('X');
    }
    if k >= 2000 {
        s.push_str(&(k / 2000).to_string());
    }
    s
}

/// Decimal places that give `price` about `digits` significant digits.
fn decimals_for(price: f64, digits: i32, most: i32) -> u8 {
    (digits - 1 - price.log10().floor() as i32).clamp(0, most) as u8
}

/// The decimal text of `10^e` (`e` may be negative).
fn pow10_text(e: i32) -> String {
    if e >= 0 { format!("1{}", "0".repeat(e as usize)) } else { Listing::step((-e) as u8) }
}

/// Generated asset `k` (3 and up): its parameters and listings, from `k` alone.
fn generated(k: usize) -> (AssetInfo, Vec<Listing>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0xa55e_7000 + k as u64);
    let name = intern(&ticker(k));
    let start_usdt = 10f64.powf(rng.gen_range(-3.0..2.5));
    let top_usdt = rng.gen_range(150.0..500.0);
    let info = AssetInfo {
        name,
        start_usdt,
        vol: rng.gen_range(3.0e-4..6.0e-4),
        size: (top_usdt / start_usdt, top_usdt * rng.gen_range(10.0..30.0) / start_usdt),
        activity: rng.gen_range(0.15..0.5),
        user_balance: {
            // About 3,000 USDT worth, on a whole number of the coarsest lot.
            let units = (3000.0 / start_usdt).max(1.0);
            format!("{}", units.round() as u64)
        },
    };
    let asset = Asset(k as u16);
    let mut out = Vec::new();
    let log = start_usdt.log10().floor() as i32;
    for (vi, venue) in Venue::ALL.into_iter().enumerate() {
        let (maker_fee, taker_fee) = fees(venue, Market::Spot);
        // Ticks of four or five significant digits and lots of a cent or less, each
        // venue its own.
        let price_decimals = decimals_for(start_usdt, 5 - ((k + vi) % 2) as i32, 10);
        let qty_decimals = (log + 3 + ((k / 2 + vi) % 2) as i32).clamp(0, 8) as u8;
        let min_notional = match venue {
            Venue::GateIo => ["1", "3", "5"][k % 3],
            Venue::Mexc => ["1", "5"][(k / 3) % 2],
        };
        let max_qty = intern(&pow10_text((7 - log).clamp(2, 12)));
        out.push(Listing {
            venue,
            market: Market::Spot,
            symbol: symbol(venue, Market::Spot, name, "USDT"),
            base: name,
            quote: "USDT",
            pair: Pair::Usdt(asset),
            price_decimals,
            qty_decimals,
            min_qty: intern(&Listing::step(qty_decimals)),
            min_notional,
            contract_size: "1",
            maker_fee,
            taker_fee,
            max_qty,
            activity: info.activity,
        });
        if k % 3 == 0 {
            let (maker_fee, taker_fee) = fees(venue, Market::Futures);
            // A contract worth about 1 to 30 USDT, in a power of ten that differs per venue.
            let size_exp = (1 - log - vi as i32 % 2).clamp(-6, 6);
            out.push(Listing {
                venue,
                market: Market::Futures,
                symbol: symbol(venue, Market::Futures, name, "USDT"),
                base: name,
                quote: "USDT",
                pair: Pair::Usdt(asset),
                price_decimals: decimals_for(start_usdt, 5, 10),
                qty_decimals: 0,
                min_qty: "1",
                min_notional: "0",
                contract_size: intern(&pow10_text(size_exp)),
                maker_fee,
                taker_fee,
                max_qty: "1000000",
                activity: info.activity,
            });
        }
        // Crosses to BTC (every fourth asset) or ETH (every eighth), for assets priced
        // high enough that the cross keeps a sane tick.
        let cross = match k % 8 {
            3 | 7 => Some((Asset::BTC, "BTC", 87_000.0, "0.00005")),
            1 => Some((Asset::ETH, "ETH", 2_900.0, "0.001")),
            _ => None,
        };
        // The instrument table keeps price and quantity decimals (plus its headroom)
        // within the 18 digits of a notional: a cross whose tick needs many decimals
        // takes a coarser lot than its USDT pair.
        let cross = cross.filter(|_| start_usdt >= 0.05).map(|(q, n, usdt, mn)| {
            let price_decimals = decimals_for(start_usdt / usdt, 5, 10);
            (q, n, mn, price_decimals, qty_decimals.min(10 - price_decimals))
        });
        if let Some((quote, qname, min_notional, price_decimals, qty_decimals)) = cross {
            out.push(Listing {
                venue,
                market: Market::Spot,
                symbol: symbol(venue, Market::Spot, name, qname),
                base: name,
                quote: qname,
                pair: Pair::Cross { base: asset, quote },
                price_decimals,
                qty_decimals,
                min_qty: intern(&Listing::step(qty_decimals)),
                min_notional,
                contract_size: "1",
                maker_fee,
                taker_fee,
                max_qty,
                activity: info.activity,
            });
        }
    }
    (info, out)
}

/// The universe of the simulated venues: its assets and every listing.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub assets: Vec<AssetInfo>,
    /// Venue by venue (Gate.io, then MEXC), spot before futures for the majors.
    pub listings: Vec<Listing>,
}

impl Catalog {
    /// `pairs` USDT pairs on each venue (at least the three majors, at most
    /// [`MAX_PAIRS`]).
    pub fn new(pairs: usize) -> Self {
        let pairs = pairs.clamp(DEFAULT_PAIRS, MAX_PAIRS);
        let mut assets = major_assets();
        let mut gen_listings = Vec::new();
        for k in DEFAULT_PAIRS..pairs {
            let (info, ls) = generated(k);
            assets.push(info);
            gen_listings.extend(ls);
        }
        let mut listings = Vec::new();
        for venue in Venue::ALL {
            listings.extend(majors().into_iter().filter(|l| l.venue == venue));
            listings.extend(gen_listings.iter().filter(|l| l.venue == venue).cloned());
        }
        Self { assets, listings }
    }

    /// The asset named `name`.
    pub fn asset(&self, name: &str) -> Option<Asset> {
        self.assets.iter().position(|a| a.name == name).map(|i| Asset(i as u16))
    }

    /// The spot pairs listed on every venue, as `BASE/QUOTE`, in listing order.
    pub fn spot_pairs(&self) -> Vec<String> {
        self.pairs(Market::Spot)
    }

    /// The perpetuals listed on every venue, as `BASE/QUOTE`.
    pub fn futures_pairs(&self) -> Vec<String> {
        self.pairs(Market::Futures)
    }

    fn pairs(&self, market: Market) -> Vec<String> {
        let listed = |v: Venue, l: &Listing| {
            self.listings.iter().any(|o| o.venue == v && o.market == market && o.pair == l.pair)
        };
        self.listings
            .iter()
            .filter(|l| l.venue == Venue::ALL[0] && l.market == market)
            .filter(|l| Venue::ALL.iter().all(|&v| listed(v, l)))
            .map(|l| format!("{}/{}", l.base, l.quote))
            .collect()
    }
}

/// Every listing of the default universe, venue by venue, spot before futures.
pub fn listings() -> Vec<Listing> {
    Catalog::new(DEFAULT_PAIRS).listings
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::types::Instruments;

    #[test]
    fn every_listing_makes_a_valid_instrument() {
        let specs: Vec<_> = listings().iter().map(Listing::spec).collect();
        let t = Instruments::from_specs(&specs).unwrap();
        assert_eq!(t.len(), 14);
        for i in t.iter() {
            // Spot notionals must stay exact in an Amount.
            assert!(i.price_scale + i.qty_scale + i.contract_size.1 <= 18, "{}", i.symbol);
        }
        assert_eq!(Listing::step(0), "1");
        assert_eq!(Listing::step(3), "0.001");
        assert_eq!(pow10_text(2), "100");
        assert_eq!(pow10_text(-2), "0.01");
    }

    #[test]
    fn a_large_universe_is_valid_varied_and_grows_by_appending() {
        let big = Catalog::new(500);
        let specs: Vec<_> = big.listings.iter().map(Listing::spec).collect();
        let t = Instruments::from_specs(&specs).unwrap();
        for i in t.iter() {
            assert!(i.price_scale + i.qty_scale + i.contract_size.1 <= 18, "{}", i.symbol);
            assert!(i.tick.0 > 0 && i.lot.0 > 0 && i.min_qty >= i.lot, "{}", i.symbol);
        }
        let spot = big.spot_pairs();
        let usdt = spot.iter().filter(|p| p.ends_with("/USDT")).count();
        assert_eq!(usdt, 500, "every pair on both venues");
        let crosses = spot.len() - usdt;
        assert!(crosses > 50, "{crosses} crosses");
        let perps = big.futures_pairs().len();
        assert!((150..200).contains(&perps), "{perps} perpetuals");
        // Metadata differs from pair to pair and from venue to venue.
        let gate: Vec<&Listing> = big
            .listings
            .iter()
            .filter(|l| l.venue == Venue::GateIo && l.market == Market::Spot && l.quote == "USDT")
            .collect();
        let ticks: BTreeSet<u8> = gate.iter().map(|l| l.price_decimals).collect();
        let lots: BTreeSet<u8> = gate.iter().map(|l| l.qty_decimals).collect();
        let notionals: BTreeSet<&str> = gate.iter().map(|l| l.min_notional).collect();
        assert!(
            ticks.len() >= 6 && lots.len() >= 5 && notionals.len() == 3,
            "{ticks:?} {lots:?} {notionals:?}"
        );
        let differ = gate
            .iter()
            .filter(|g| {
                big.listings.iter().any(|m| {
                    m.venue == Venue::Mexc
                        && m.market == g.market
                        && m.pair == g.pair
                        && (m.price_decimals, m.qty_decimals, m.min_notional)
                            != (g.price_decimals, g.qty_decimals, g.min_notional)
                })
            })
            .count();
        assert!(differ > gate.len() / 2, "{differ} of {} differ between venues", gate.len());
        let sizes: BTreeSet<&str> =
            big.listings.iter().filter(|l| l.market == Market::Futures).map(|l| l.contract_size).collect();
        assert!(sizes.len() >= 5, "{sizes:?}");
        // A smaller universe is a prefix of a larger one, asset by asset.
        let small = Catalog::new(50);
        assert_eq!(small.assets[..], big.assets[..50]);
        let names: BTreeSet<&str> = big.assets.iter().map(|a| a.name).collect();
        assert_eq!(names.len(), 500, "asset names are unique");
        assert!(!names.contains("USDT"));
    }
}
