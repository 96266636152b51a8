//! Instruments: what each venue market trades, with its precision, limits and fees, and
//! the table that interns them to small ids.
//!
//! An instrument's prices are counted in `10^-price_scale` and its quantities in
//! `10^-qty_scale` (see [`super::Price`]). Quantities are in the venue's order unit:
//! base currency for spot, contracts for futures, where one contract is
//! `contract_size` base units. The scales give headroom beyond the tick and lot,
//! because books carry levels from before a tick or lot change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

use serde::{Deserialize, Serialize};

use super::decimal::{Rounding, pow10};
use super::money::div_round;
use super::{Amount, AssetId, DecimalError, InstrumentId, Market, Price, Qty, Rate, Venue};

/// Decimal places of headroom the price scale keeps beyond the tick.
const PRICE_HEADROOM: u8 = 2;
/// Decimal places of headroom the quantity scale keeps beyond the lot.
const QTY_HEADROOM: u8 = 6;

/// An instrument as venue metadata describes it, in decimal text: what configuration and
/// the saved metadata copy hold, and what the venue adapters produce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    pub venue: Venue,
    pub market: Market,
    /// The venue's own symbol: `BTC_USDT` (Gate spot and futures, MEXC futures),
    /// `BTCUSDT` (MEXC spot).
    pub symbol: String,
    pub base: String,
    pub quote: String,
    /// Price increment.
    pub tick: String,
    /// Quantity increment, in the order unit (base, or contracts).
    pub lot: String,
    /// Smallest order quantity, in the order unit.
    #[serde(default)]
    pub min_qty: Option<String>,
    /// Largest order quantity, in the order unit.
    #[serde(default)]
    pub max_qty: Option<String>,
    /// Smallest order value in the quote currency.
    #[serde(default)]
    pub min_notional: Option<String>,
    /// Base units per quantity unit: "1" for spot, the contract multiplier for futures.
    #[serde(default = "one")]
    pub contract_size: String,
    #[serde(default)]
    pub taker_fee: Option<String>,
    #[serde(default)]
    pub maker_fee: Option<String>,
    #[serde(default = "yes")]
    pub trading_enabled: bool,
}

fn one() -> String {
    "1".to_owned()
}

fn yes() -> bool {
    true
}

/// Why an instrument specification cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentsError {
    #[error("{venue} {market} {symbol}: field `{field}` = {value:?}: {reason}")]
    BadField {
        venue: Venue,
        market: Market,
        symbol: String,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("{venue} {market} {symbol} is listed twice")]
    Duplicate { venue: Venue, market: Market, symbol: String },
    #[error("too many instruments or assets (at most 65535)")]
    TooMany,
    #[error(
        "the instrument table is full ({0} instruments reserved at start; raise [market] max_instruments)"
    )]
    Full(usize),
    #[error("no asset slot is left for {0} ({1} assets reserved at start; raise [market] max_assets)")]
    AssetsFull(String, usize),
}

/// An instrument ready for the hot path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrument {
    pub id: InstrumentId,
    pub venue: Venue,
    pub market: Market,
    pub symbol: String,
    pub base: AssetId,
    pub quote: AssetId,
    pub price_scale: u8,
    pub qty_scale: u8,
    pub tick: Price,
    pub lot: Qty,
    pub min_qty: Qty,
    pub max_qty: Qty,
    pub min_notional: Amount,
    /// Base units per quantity unit, as a mantissa and scale.
    pub contract_size: (i64, u8),
    pub taker_fee: Rate,
    pub maker_fee: Rate,
    pub trading_enabled: bool,
}

fn decimals(text: &str) -> u8 {
    // Places after the point once trailing zeros are gone; exponent forms go through the
    // parser instead.
    let t = text.trim();
    if t.contains(['e', 'E']) {
        return (0..=18u8).find(|&s| super::decimal::parse_i64(t.as_bytes(), s).is_ok()).unwrap_or(18);
    }
    match t.split_once('.') {
        Some((_, frac)) => frac.trim_end_matches('0').len().min(18) as u8,
        None => 0,
    }
}

impl Instrument {
    /// The quote value of `qty` at `price` (quote currency, scale 18), rounded as asked
    /// when the scales sum past 18; `None` on overflow.
    pub fn notional(&self, price: Price, qty: Qty, rounding: Rounding) -> Option<Amount> {
        let (cm, cs) = self.contract_size;
        let m = (price.0 as i128).checked_mul(qty.0 as i128)?.checked_mul(cm as i128)?;
        let exp = 18 - self.price_scale as i32 - self.qty_scale as i32 - cs as i32;
        scale_by_pow10(m, exp, rounding).map(Amount)
    }

    /// Base-currency units in `qty` (contracts times the contract size), scale 18.
    pub fn base_amount(&self, qty: Qty) -> Option<Amount> {
        let (cm, cs) = self.contract_size;
        let m = (qty.0 as i128).checked_mul(cm as i128)?;
        scale_by_pow10(m, 18 - self.qty_scale as i32 - cs as i32, Rounding::Exact).map(Amount)
    }

    /// The quantity holding `base` base units, rounded as asked to this instrument's
    /// quantity scale (not to the lot: see [`Instrument::round_qty`]).
    pub fn qty_for_base(&self, base: Amount, rounding: Rounding) -> Option<Qty> {
        let (cm, cs) = self.contract_size;
        if cm <= 0 {
            return None;
        }
        // qty = base / 10^18 / (cm / 10^cs) * 10^qs
        let exp = self.qty_scale as i32 + cs as i32 - 18;
        let n = scale_by_pow10(base.0, exp, rounding)?;
        let q = div_round(n, cm as i128, rounding);
        i64::try_from(q).ok().map(Qty)
    }

    /// The price as an amount of quote per base unit, scale 18.
    #[inline]
    pub fn price_amount(&self, price: Price) -> Amount {
        Amount(price.0 as i128 * pow10(u32::from(18 - self.price_scale.min(18))))
    }

    /// The instrument price nearest `amount` (quote per base unit) in the given direction,
    /// on the price scale (not yet on the tick).
    pub fn price_from_amount(&self, amount: Amount, rounding: Rounding) -> Option<Price> {
        let p = div_round(amount.0, pow10(u32::from(18 - self.price_scale.min(18))), rounding);
        i64::try_from(p).ok().map(Price)
    }

    /// `price` moved onto the tick grid in the given direction.
    #[inline]
    pub fn round_price(&self, price: Price, rounding: Rounding) -> Price {
        price.round_to(self.tick, rounding)
    }

    /// `qty` moved down onto the lot grid (never up: an order never exceeds its intent).
    #[inline]
    pub fn round_qty(&self, qty: Qty) -> Qty {
        qty.round_to(self.lot, Rounding::Floor)
    }

    /// True when an order of `qty` at `price` respects the tick, lot, min/max quantity
    /// and minimum notional.
    pub fn accepts(&self, price: Price, qty: Qty) -> bool {
        price.is_positive()
            && qty.is_positive()
            && price.is_multiple_of(self.tick)
            && qty.is_multiple_of(self.lot)
            && qty >= self.min_qty
            && qty <= self.max_qty
            && self.notional(price, qty, Rounding::Floor).is_some_and(|n| n >= self.min_notional)
    }
}

/// `m * 10^exp`, dividing with the given rounding when `exp` is negative.
fn scale_by_pow10(m: i128, exp: i32, rounding: Rounding) -> Option<i128> {
    if exp >= 0 {
        m.checked_mul(*POW10_TABLE.get(exp as usize)?)
    } else {
        let d = *POW10_TABLE.get((-exp) as usize)?;
        Some(div_round(m, d, rounding))
    }
}

const POW10_TABLE: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Every instrument and asset the engine knows, interned to small ids.
///
/// Design note: the table is built at start (`add` through `&mut`), then given a fixed
/// capacity ([`Instruments::reserve`]) and shared by every stage behind one `Arc`. While
/// running, the cold side appends instruments into the reserved slots
/// ([`Instruments::append`], through `&self`): a slot is written once (`OnceLock`) and
/// published by raising the count with release ordering, so a stage that meets a new id
/// reads a complete instrument with no lock, and nothing a stage holds ever moves or
/// reallocates. Ids only grow; a removed instrument keeps its slot and id. Stages size
/// their per-instrument arrays by [`Instruments::capacity`] so that an id added later
/// indexes them directly. Assets grow the same way: an append interns a new asset into
/// a reserved asset slot ([`Instruments::asset_capacity`], `[market] max_assets`), and
/// stages size their per-asset arrays by that capacity (a per-venue array of assets is
/// strided by it), so a new asset id indexes them directly too; what a stage derives per
/// asset (whether it is a USD asset, the book that values it) it derives again when told
/// of an added instrument. The symbol and asset-name maps sit behind a `RwLock`: lookups by name are cold-path
/// (configuration, the control socket, private-stream symbols), and the only writer is
/// an append. Worst case: `capacity` instruments, fixed at
/// start; an append beyond it is refused.
#[derive(Debug, Default)]
pub struct Instruments {
    list: Vec<OnceLock<Instrument>>,
    /// Published instruments: slots `0..len` are set.
    len: AtomicUsize,
    assets: Vec<OnceLock<String>>,
    asset_len: AtomicUsize,
    names: RwLock<Names>,
    /// Serializes appends (cold side only).
    writer: Mutex<()>,
}

#[derive(Clone, Debug, Default)]
struct Names {
    asset_ids: HashMap<String, AssetId>,
    by_symbol: [HashMap<String, InstrumentId>; 4],
}

impl Clone for Instruments {
    /// A copy of the table as it stands, with the same capacity.
    fn clone(&self) -> Self {
        Self {
            list: self.list.clone(),
            len: AtomicUsize::new(self.len()),
            assets: self.assets.clone(),
            asset_len: AtomicUsize::new(self.asset_count()),
            names: RwLock::new(self.names.read().map(|n| n.clone()).unwrap_or_default()),
            writer: Mutex::new(()),
        }
    }
}

fn slot(venue: Venue, market: Market) -> usize {
    venue as usize * 2 + market as usize
}

/// Fresh empty slots.
fn slots<T>(n: usize) -> impl Iterator<Item = OnceLock<T>> {
    (0..n).map(|_| OnceLock::new())
}

impl Instruments {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a table from specifications, in order.
    pub fn from_specs<'a>(
        specs: impl IntoIterator<Item = &'a InstrumentSpec>,
    ) -> Result<Self, InstrumentsError> {
        let mut t = Self::new();
        for s in specs {
            t.add(s)?;
        }
        Ok(t)
    }

    /// Reserves slots so that the table holds up to `instruments` instruments and
    /// `assets` assets (never fewer than it holds now); [`Instruments::append`] fills the
    /// instrument slots while running.
    pub fn reserve(&mut self, instruments: usize, assets: usize) {
        let (n, a) = (instruments.min(usize::from(u16::MAX)), assets.min(usize::from(u16::MAX)));
        if self.list.len() < n {
            let more = n - self.list.len();
            self.list.extend(slots(more));
        }
        if self.assets.len() < a {
            let more = a - self.assets.len();
            self.assets.extend(slots(more));
        }
    }

    /// Interns an asset name (upper case) and returns its id.
    pub fn asset(&mut self, name: &str) -> Result<AssetId, InstrumentsError> {
        let (n, a) = (self.len(), self.asset_count());
        self.reserve(n, a + 1);
        self.intern(name)
    }

    /// Interns an asset; the caller holds the writer lock (or `&mut self`).
    fn intern(&self, name: &str) -> Result<AssetId, InstrumentsError> {
        let name = name.to_ascii_uppercase();
        if let Some(id) = self.find_asset(&name) {
            return Ok(id);
        }
        let n = self.asset_count();
        if n >= self.assets.len() {
            return Err(InstrumentsError::TooMany);
        }
        let id = AssetId(u16::try_from(n).map_err(|_| InstrumentsError::TooMany)?);
        let _ = self.assets[n].set(name.clone());
        if let Ok(mut names) = self.names.write() {
            names.asset_ids.insert(name, id);
        }
        self.asset_len.store(n + 1, Ordering::Release);
        Ok(id)
    }

    /// Adds an instrument from its specification (building the table at start: the
    /// table grows as needed).
    pub fn add(&mut self, s: &InstrumentSpec) -> Result<InstrumentId, InstrumentsError> {
        // Room for one more of each, beyond any reserve.
        let (n, a) = (self.len(), self.asset_count());
        self.reserve(n + 1, a + 2);
        self.insert(s)
    }

    /// Appends an instrument while the table is shared (an instrument added while
    /// running): into a reserved slot, interning an asset the table does not know yet
    /// into a reserved asset slot; refused with [`InstrumentsError::Full`] when every
    /// instrument slot is taken and [`InstrumentsError::AssetsFull`] when a new asset has
    /// no slot (nothing is published then). Cold path: hashes, allocates the
    /// instrument's strings, takes the writer lock.
    pub fn append(&self, s: &InstrumentSpec) -> Result<InstrumentId, InstrumentsError> {
        let _w = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.len() >= self.capacity() {
            return Err(InstrumentsError::Full(self.capacity()));
        }
        let mut new = Vec::new();
        for a in [&s.base, &s.quote] {
            let a = a.to_ascii_uppercase();
            if self.find_asset(&a).is_none() && !new.contains(&a) {
                new.push(a);
            }
        }
        if let Some(a) = new.last().filter(|_| self.asset_count() + new.len() > self.asset_capacity()) {
            return Err(InstrumentsError::AssetsFull(a.clone(), self.asset_capacity()));
        }
        // `insert` interns the assets only once every field is known good: a refusal
        // publishes nothing.
        self.insert(s)
    }

    /// Checks, interns and publishes `s`; the caller holds the writer lock (or `&mut`)
    /// and has made room.
    fn insert(&self, s: &InstrumentSpec) -> Result<InstrumentId, InstrumentsError> {
        let bad = |field: &'static str, value: &str, reason: String| InstrumentsError::BadField {
            venue: s.venue,
            market: s.market,
            symbol: s.symbol.clone(),
            field,
            value: value.to_owned(),
            reason,
        };
        let why = |e: DecimalError| e.to_string();
        if self.find(s.venue, s.market, &s.symbol).is_some() {
            return Err(InstrumentsError::Duplicate {
                venue: s.venue,
                market: s.market,
                symbol: s.symbol.clone(),
            });
        }
        let price_scale = (decimals(&s.tick) + PRICE_HEADROOM).min(18);
        let qty_scale = (decimals(&s.lot) + QTY_HEADROOM).min(18);
        let tick = Price::parse(&s.tick, price_scale).map_err(|e| bad("tick", &s.tick, why(e)))?;
        let lot = Qty::parse(&s.lot, qty_scale).map_err(|e| bad("lot", &s.lot, why(e)))?;
        if !tick.is_positive() {
            return Err(bad("tick", &s.tick, "must be positive".into()));
        }
        if !lot.is_positive() {
            return Err(bad("lot", &s.lot, "must be positive".into()));
        }
        let min_qty = match &s.min_qty {
            Some(v) => Qty::parse(v, qty_scale).map_err(|e| bad("min_qty", v, why(e)))?,
            None => lot,
        };
        let max_qty = match &s.max_qty {
            Some(v) => Qty::parse(v, qty_scale).map_err(|e| bad("max_qty", v, why(e)))?,
            None => Qty::MAX,
        };
        let min_notional = match &s.min_notional {
            Some(v) => Amount::parse(v).map_err(|e| bad("min_notional", v, why(e)))?,
            None => Amount::ZERO,
        };
        let cs_scale = decimals(&s.contract_size);
        let cs = super::decimal::parse_i64(s.contract_size.as_bytes(), cs_scale)
            .map_err(|e| bad("contract_size", &s.contract_size, why(e)))?;
        if cs <= 0 {
            return Err(bad("contract_size", &s.contract_size, "must be positive".into()));
        }
        let rate = |field: &'static str, v: &Option<String>| match v {
            Some(v) => Rate::parse(v).map_err(|e| bad(field, v, why(e))),
            None => Ok(Rate::ZERO),
        };
        let taker_fee = rate("taker_fee", &s.taker_fee)?;
        let maker_fee = rate("maker_fee", &s.maker_fee)?;
        let base = self.intern(&s.base)?;
        let quote = self.intern(&s.quote)?;
        let n = self.len();
        if n >= self.list.len() {
            return Err(InstrumentsError::TooMany);
        }
        let id = InstrumentId(u16::try_from(n).map_err(|_| InstrumentsError::TooMany)?);
        let _ = self.list[n].set(Instrument {
            id,
            venue: s.venue,
            market: s.market,
            symbol: s.symbol.clone(),
            base,
            quote,
            price_scale,
            qty_scale,
            tick,
            lot,
            min_qty,
            max_qty,
            min_notional,
            contract_size: (cs, cs_scale),
            taker_fee,
            maker_fee,
            trading_enabled: s.trading_enabled,
        });
        if let Ok(mut names) = self.names.write() {
            names.by_symbol[slot(s.venue, s.market)].insert(s.symbol.clone(), id);
        }
        self.len.store(n + 1, Ordering::Release);
        Ok(id)
    }

    /// The instrument `id` (published: every id a stage is given is).
    #[inline]
    pub fn get(&self, id: InstrumentId) -> &Instrument {
        match self.try_get(id) {
            Some(i) => i,
            None => panic!("instrument {} is not in the table", id.0),
        }
    }

    #[inline]
    pub fn try_get(&self, id: InstrumentId) -> Option<&Instrument> {
        self.list.get(id.index()).and_then(OnceLock::get)
    }

    /// The instrument a venue symbol names (cold path: takes the names' read lock).
    pub fn find(&self, venue: Venue, market: Market, symbol: &str) -> Option<InstrumentId> {
        self.names.read().ok()?.by_symbol[slot(venue, market)].get(symbol).copied()
    }

    pub fn asset_name(&self, id: AssetId) -> &str {
        self.assets.get(id.index()).and_then(OnceLock::get).map(String::as_str).unwrap_or("?")
    }

    /// The asset of a name (cold path: takes the names' read lock).
    pub fn find_asset(&self, name: &str) -> Option<AssetId> {
        self.names.read().ok()?.asset_ids.get(&name.to_ascii_uppercase()).copied()
    }

    /// The published instruments, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.list[..self.len()].iter().filter_map(OnceLock::get)
    }

    /// Instruments published so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Instruments the table can ever hold: every id is below it.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.list.len()
    }

    /// Assets interned so far.
    #[inline]
    pub fn asset_count(&self) -> usize {
        self.asset_len.load(Ordering::Acquire)
    }

    /// Assets the table can ever hold: every asset id is below it.
    #[inline]
    pub fn asset_capacity(&self) -> usize {
        self.assets.len()
    }

    /// Flags, for each asset interned so far, whether `names` names it (case
    /// insensitive): the per-asset flags a stage derives from configuration (USD assets),
    /// derived again when an added instrument brings a new asset. `flags` is sized by
    /// [`Instruments::asset_capacity`]; an asset past its end is left out. Cold path.
    pub fn flag_assets(&self, names: &[String], flags: &mut [bool]) {
        for (a, f) in flags.iter_mut().enumerate().take(self.asset_count()) {
            let name = self.asset_name(AssetId(a as u16));
            *f = names.iter().any(|n| n.eq_ignore_ascii_case(name));
        }
    }

    /// `BASE/QUOTE`, the canonical name shared by an asset pair across venues.
    pub fn pair_name(&self, id: InstrumentId) -> String {
        let i = self.get(id);
        format!("{}/{}", self.asset_name(i.base), self.asset_name(i.quote))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(venue: Venue, market: Market, symbol: &str, tick: &str, lot: &str, cs: &str) -> InstrumentSpec {
        InstrumentSpec {
            venue,
            market,
            symbol: symbol.into(),
            base: "btc".into(),
            quote: "USDT".into(),
            tick: tick.into(),
            lot: lot.into(),
            min_qty: None,
            max_qty: None,
            min_notional: Some("5".into()),
            contract_size: cs.into(),
            taker_fee: Some("0.0005".into()),
            maker_fee: None,
            trading_enabled: true,
        }
    }

    #[test]
    fn spot_and_futures_share_assets_and_value_quantities_in_base() {
        let mut t = Instruments::new();
        let spot = t.add(&spec(Venue::GateIo, Market::Spot, "BTC_USDT", "0.01", "0.000001", "1")).unwrap();
        let fut = t.add(&spec(Venue::GateIo, Market::Futures, "BTC_USDT", "0.1", "1", "0.0001")).unwrap();
        assert_ne!(spot, fut);
        let (s, f) = (t.get(spot), t.get(fut));
        assert_eq!(s.base, f.base);
        assert_eq!(t.pair_name(spot), "BTC/USDT");
        assert_eq!((s.price_scale, s.qty_scale), (4, 12));
        // 10 contracts of 0.0001 BTC = 0.001 BTC; at 50000 that is 50 USDT.
        let ten = Qty::parse("10", f.qty_scale).unwrap();
        let px = Price::parse("50000", f.price_scale).unwrap();
        assert_eq!(f.base_amount(ten).unwrap(), Amount::parse("0.001").unwrap());
        assert_eq!(f.notional(px, ten, Rounding::Exact).unwrap(), Amount::from_int(50));
        let ten_and_a_half = Qty::parse("10.5", f.qty_scale).unwrap();
        assert_eq!(f.qty_for_base(Amount::parse("0.00105").unwrap(), Rounding::Floor), Some(ten_and_a_half));
        assert_eq!(f.round_qty(ten_and_a_half), ten);
        let spot_qty = s.qty_for_base(Amount::parse("0.001").unwrap(), Rounding::Exact).unwrap();
        assert_eq!(
            s.notional(Price::parse("50000", s.price_scale).unwrap(), spot_qty, Rounding::Exact),
            Some(Amount::from_int(50))
        );
    }

    #[test]
    fn prices_convert_through_amounts_exactly() {
        let mut t = Instruments::new();
        let id = t.add(&spec(Venue::Mexc, Market::Spot, "BTCUSDT", "0.01", "0.000001", "1")).unwrap();
        let i = t.get(id);
        let p = Price::parse("19137.74", i.price_scale).unwrap();
        assert_eq!(i.price_amount(p), Amount::parse("19137.74").unwrap());
        assert_eq!(
            i.price_from_amount(Amount::parse("19137.745").unwrap(), Rounding::Floor),
            Some(Price::parse("19137.745", i.price_scale).unwrap())
        );
        assert_eq!(i.round_price(Price::parse("19137.745", i.price_scale).unwrap(), Rounding::Floor), p);
    }

    #[test]
    fn order_checks_cover_tick_lot_and_minimum_notional() {
        let mut t = Instruments::new();
        let id = t.add(&spec(Venue::GateIo, Market::Spot, "BTC_USDT", "0.01", "0.0001", "1")).unwrap();
        let i = t.get(id);
        let px = |s: &str| Price::parse(s, i.price_scale).unwrap();
        let q = |s: &str| Qty::parse(s, i.qty_scale).unwrap();
        assert!(i.accepts(px("50000"), q("0.0001")));
        assert!(!i.accepts(px("50000.005"), q("0.0001")), "off tick");
        assert!(!i.accepts(px("50000"), q("0.00015")), "off lot");
        assert!(!i.accepts(px("40000"), q("0.0001")), "4 USDT is under the 5 USDT minimum");
    }

    #[test]
    fn bad_specs_name_the_field() {
        let mut t = Instruments::new();
        let e = t.add(&spec(Venue::GateIo, Market::Spot, "X_USDT", "0", "1", "1")).unwrap_err();
        assert_eq!(e.to_string(), "gateio spot X_USDT: field `tick` = \"0\": must be positive");
        let e = t.add(&spec(Venue::GateIo, Market::Spot, "X_USDT", "0.01", "abc", "1")).unwrap_err();
        assert!(e.to_string().contains("field `lot` = \"abc\": not a decimal number"), "{e}");
        t.add(&spec(Venue::GateIo, Market::Spot, "X_USDT", "0.01", "1", "1")).unwrap();
        assert!(matches!(
            t.add(&spec(Venue::GateIo, Market::Spot, "X_USDT", "0.01", "1", "1")),
            Err(InstrumentsError::Duplicate { .. })
        ));
    }

    #[test]
    fn a_shared_table_takes_appends_into_its_reserved_slots_and_keeps_every_id() {
        let mut t = Instruments::new();
        let btc = t.add(&spec(Venue::GateIo, Market::Spot, "BTC_USDT", "0.01", "0.0001", "1")).unwrap();
        let mut eth = spec(Venue::GateIo, Market::Spot, "ETH_USDT", "0.01", "0.001", "1");
        eth.base = "ETH".into();
        t.add(&eth).unwrap();
        assert_eq!((t.len(), t.asset_count()), (2, 3));
        t.reserve(4, t.asset_count());
        assert_eq!(t.capacity(), 4);
        let shared = std::sync::Arc::new(t);
        let reader = shared.clone();
        // Appended through `&self`, published to every holder of the table.
        let mut cross = spec(Venue::Mexc, Market::Spot, "ETHBTC", "0.000001", "0.0001", "1");
        (cross.base, cross.quote) = ("ETH".into(), "BTC".into());
        let id = shared.append(&cross).unwrap();
        assert_eq!(id, InstrumentId(2), "the next id");
        assert_eq!(reader.len(), 3);
        assert_eq!(reader.get(id).symbol, "ETHBTC");
        assert_eq!(reader.pair_name(id), "ETH/BTC");
        assert_eq!(reader.find(Venue::Mexc, Market::Spot, "ETHBTC"), Some(id));
        assert_eq!(reader.iter().map(|i| i.id.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(reader.get(btc).symbol, "BTC_USDT", "earlier ids unchanged");
        // Refused: a listed twice, past the capacity.
        assert!(matches!(shared.append(&cross), Err(InstrumentsError::Duplicate { .. })));
        assert_eq!(shared.len(), 3, "a refusal publishes nothing");
        shared.append(&spec(Venue::Mexc, Market::Spot, "BTCUSDT", "0.01", "0.0001", "1")).unwrap();
        let e =
            shared.append(&spec(Venue::Mexc, Market::Futures, "BTC_USDT", "0.1", "1", "0.0001")).unwrap_err();
        assert_eq!(e, InstrumentsError::Full(4));
        assert!(e.to_string().contains("raise [market] max_instruments"), "{e}");
        assert!(shared.try_get(InstrumentId(3)).is_some() && shared.try_get(InstrumentId(4)).is_none());
        // A copy is the table as it stands, with the same capacity.
        let copy = (*shared).clone();
        assert_eq!((copy.len(), copy.capacity()), (4, 4));
    }

    fn e_text(r: &Result<InstrumentId, InstrumentsError>) -> String {
        r.as_ref().map_or_else(ToString::to_string, |id| format!("appended {id:?}"))
    }

    #[test]
    fn a_shared_table_interns_new_assets_into_reserved_asset_slots() {
        let mut t = Instruments::new();
        t.add(&spec(Venue::GateIo, Market::Spot, "BTC_USDT", "0.01", "0.0001", "1")).unwrap();
        t.reserve(8, 4);
        assert_eq!((t.asset_count(), t.asset_capacity()), (2, 4));
        let shared = std::sync::Arc::new(t);
        // SOL/USDT: one new asset, the next asset id, seen by every holder.
        let mut sol = spec(Venue::Mexc, Market::Spot, "SOLUSDT", "0.01", "0.01", "1");
        sol.base = "sol".into();
        let id = shared.append(&sol).unwrap();
        let a = shared.get(id).base;
        assert_eq!((a, shared.find_asset("SOL")), (AssetId(2), Some(AssetId(2))));
        assert_eq!((shared.asset_name(a), shared.asset_count()), ("SOL", 3));
        assert_eq!(shared.pair_name(id), "SOL/USDT");
        // Two new assets with one slot left: refused whole, nothing interned.
        let mut pair = spec(Venue::Mexc, Market::Spot, "DOGEXRP", "0.01", "0.01", "1");
        (pair.base, pair.quote) = ("DOGE".into(), "XRP".into());
        assert_eq!(shared.append(&pair), Err(InstrumentsError::AssetsFull("XRP".into(), 4)));
        assert!(e_text(&shared.append(&pair)).contains("raise [market] max_assets"));
        assert_eq!((shared.len(), shared.asset_count(), shared.find_asset("DOGE")), (2, 3, None));
        // A bad field interns nothing either.
        let mut bad = spec(Venue::Mexc, Market::Spot, "DOGEUSDT", "0", "0.01", "1");
        bad.base = "DOGE".into();
        assert!(matches!(shared.append(&bad), Err(InstrumentsError::BadField { .. })));
        assert_eq!(shared.find_asset("DOGE"), None);
        // One new asset fits the last slot.
        bad.tick = "0.0001".into();
        let doge = shared.append(&bad).unwrap();
        assert_eq!(shared.get(doge).base, AssetId(3));
        assert_eq!((shared.asset_count(), shared.asset_capacity()), (4, 4));
    }

    #[test]
    fn appends_from_another_thread_are_seen_complete() {
        let mut t = Instruments::new();
        t.add(&spec(Venue::GateIo, Market::Spot, "BTC_USDT", "0.01", "0.0001", "1")).unwrap();
        t.reserve(64, t.asset_count());
        let shared = std::sync::Arc::new(t);
        let writer = {
            let s = shared.clone();
            std::thread::spawn(move || {
                for k in 1..64 {
                    s.append(&spec(Venue::Mexc, Market::Spot, &format!("X{k}USDT"), "0.01", "0.0001", "1"))
                        .unwrap();
                }
            })
        };
        // Every published id reads a complete instrument, whatever the interleaving.
        while shared.len() < 64 {
            let n = shared.len();
            for k in 0..n {
                assert_eq!(shared.get(InstrumentId(k as u16)).id.index(), k);
            }
        }
        writer.join().unwrap();
        assert_eq!(shared.iter().count(), 64);
    }

    #[test]
    fn exponent_ticks_are_understood() {
        let mut t = Instruments::new();
        let id = t.add(&spec(Venue::Mexc, Market::Spot, "PEPEUSDT", "1e-10", "1", "1")).unwrap();
        assert_eq!(t.get(id).price_scale, 12);
        assert_eq!(t.get(id).tick, Price(100));
    }
}
