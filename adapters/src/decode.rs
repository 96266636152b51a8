//! What every venue decoder shares: the outcome of decoding one frame, the reasons
//! input is refused, per-reason counters, and the symbol table decoders resolve
//! instruments with.
//!
//! A decoder appends normalized [`MdEvent`]s to a caller-owned buffer. On any error it
//! leaves the buffer as it found it, so a frame is either decoded whole or not at all,
//! and the caller counts the reason and drops the frame.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::decimal;
use pipeline::types::{DecimalError, InstrumentId, Instruments, Market, Price, Qty, Rounding, Side, Venue};
use rustc_hash::FxHashMap;

use crate::json::{JsonError, PlainDecimal};

/// Why a frame was refused. Every reason has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BadInput {
    MalformedJson,
    Truncated,
    TooDeep,
    WrongType,
    MissingField,
    UnknownChannel,
    UnknownSymbol,
    BadNumber,
    NumberOutOfRange,
    TooPrecise,
    NegativeOrZero,
    BadProtobuf,
    TooLarge,
    TooManyLevels,
}

impl BadInput {
    pub const ALL: [BadInput; 14] = [
        BadInput::MalformedJson,
        BadInput::Truncated,
        BadInput::TooDeep,
        BadInput::WrongType,
        BadInput::MissingField,
        BadInput::UnknownChannel,
        BadInput::UnknownSymbol,
        BadInput::BadNumber,
        BadInput::NumberOutOfRange,
        BadInput::TooPrecise,
        BadInput::NegativeOrZero,
        BadInput::BadProtobuf,
        BadInput::TooLarge,
        BadInput::TooManyLevels,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            BadInput::MalformedJson => "malformed_json",
            BadInput::Truncated => "truncated",
            BadInput::TooDeep => "too_deep",
            BadInput::WrongType => "wrong_type",
            BadInput::MissingField => "missing_field",
            BadInput::UnknownChannel => "unknown_channel",
            BadInput::UnknownSymbol => "unknown_symbol",
            BadInput::BadNumber => "bad_number",
            BadInput::NumberOutOfRange => "number_out_of_range",
            BadInput::TooPrecise => "too_precise",
            BadInput::NegativeOrZero => "negative_or_zero",
            BadInput::BadProtobuf => "bad_protobuf",
            BadInput::TooLarge => "too_large",
            BadInput::TooManyLevels => "too_many_levels",
        }
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<JsonError> for BadInput {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::Truncated => BadInput::Truncated,
            JsonError::Unexpected => BadInput::MalformedJson,
            JsonError::TooDeep => BadInput::TooDeep,
            JsonError::WrongType => BadInput::WrongType,
        }
    }
}

impl From<DecimalError> for BadInput {
    fn from(e: DecimalError) -> Self {
        match e {
            DecimalError::Empty | DecimalError::Invalid => BadInput::BadNumber,
            DecimalError::TooPrecise => BadInput::TooPrecise,
            DecimalError::Overflow => BadInput::NumberOutOfRange,
        }
    }
}

/// A refused frame: why, and the instrument it was about when that was known (the
/// book of that instrument can no longer be trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub reason: BadInput,
    pub inst: Option<InstrumentId>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inst {
            Some(i) => write!(f, "{} (instrument #{})", self.reason, i.0),
            None => write!(f, "{}", self.reason),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<JsonError> for DecodeError {
    fn from(e: JsonError) -> Self {
        Self { reason: e.into(), inst: None }
    }
}

impl From<BadInput> for DecodeError {
    fn from(reason: BadInput) -> Self {
        Self { reason, inst: None }
    }
}

/// What a frame turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Market data; events were appended.
    Data,
    /// A channel the engine does not use (tickers, candles), or data with nothing in it.
    Ignored,
    /// A (un)subscription answer. `ok` is the venue's verdict; `topic` what it echoed,
    /// to be checked against what was asked (a MEXC ack with code 0 whose msg is not
    /// the topic is a refusal).
    Subscribed { ok: bool, topic: &'a [u8] },
    /// An application-level pong.
    Pong,
    /// An error the venue sent.
    VenueError { code: i64, message: &'a [u8] },
}

/// Frames refused per reason, readable from any thread.
#[derive(Debug, Default)]
pub struct DecodeStats {
    counts: [AtomicU64; BadInput::ALL.len()],
    frames: AtomicU64,
}

impl DecodeStats {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    #[inline]
    pub fn frame(&self) {
        self.frames.fetch_add(1, Ordering::Relaxed);
    }

    #[cold]
    pub fn refuse(&self, reason: BadInput) {
        self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    pub fn refused(&self, reason: BadInput) -> u64 {
        self.counts[reason as usize].load(Ordering::Relaxed)
    }

    /// Every reason with a non-zero count.
    pub fn nonzero(&self) -> Vec<(BadInput, u64)> {
        BadInput::ALL.iter().map(|&r| (r, self.refused(r))).filter(|&(_, n)| n > 0).collect()
    }

    pub fn total_refused(&self) -> u64 {
        BadInput::ALL.iter().map(|&r| self.refused(r)).sum()
    }
}

/// What a decoder needs about an instrument to turn text into events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sym {
    pub inst: InstrumentId,
    pub price_scale: u8,
    pub qty_scale: u8,
}

impl Sym {
    #[inline]
    pub fn price(&self, text: &[u8]) -> Result<Price, DecodeError> {
        let p = Price::parse_bytes(text, self.price_scale).map_err(|e| self.err(e.into()))?;
        if p.0 <= 0 {
            return Err(self.err(BadInput::NegativeOrZero));
        }
        Ok(p)
    }

    /// A book quantity: non-negative (zero deletes), digits beyond the scale rounded
    /// down (dust below the scale cannot be traded).
    #[inline]
    pub fn qty(&self, text: &[u8]) -> Result<Qty, DecodeError> {
        let q = decimal::parse_i64_rounded(text, self.qty_scale, Rounding::Floor)
            .map_err(|e| self.err(e.into()))?;
        if q < 0 {
            return Err(self.err(BadInput::NegativeOrZero));
        }
        Ok(Qty(q))
    }

    /// A book level. A price beyond what the instrument's scale can hold (a troll
    /// order many orders of magnitude from the market) cannot matter to trading: it is
    /// skipped and counted ([`unrepresentable_levels`]) instead of failing the update.
    #[inline]
    pub fn level(&self, side: Side, price: &[u8], qty: &[u8]) -> Result<Option<MdBody>, DecodeError> {
        if let (Some(p), Some(q)) = (crate::json::plain_decimal(price), crate::json::plain_decimal(qty)) {
            return self.level_plain(side, p, q);
        }
        self.level_general(side, price, qty)
    }

    #[cold]
    fn level_general(&self, side: Side, price: &[u8], qty: &[u8]) -> Result<Option<MdBody>, DecodeError> {
        let price = match self.price(price) {
            Ok(p) => p,
            Err(DecodeError { reason: BadInput::NumberOutOfRange, .. }) if !price.starts_with(b"-") => {
                UNREPRESENTABLE_LEVELS.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(MdBody::Level { side, price, qty: self.qty(qty)? }))
    }

    /// A book level from the lexer's fast path: the same results as [`Sym::level`]
    /// without a second pass over the text.
    #[inline]
    pub fn level_plain(
        &self,
        side: Side,
        price: PlainDecimal<'_>,
        qty: PlainDecimal<'_>,
    ) -> Result<Option<MdBody>, DecodeError> {
        let p = match decimal::scale_plain(price.mantissa, price.fraction_digits, self.price_scale) {
            Some(Ok(v)) => v,
            Some(Err(_)) => {
                UNREPRESENTABLE_LEVELS.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            // More places than the scale: the general parser says whether they are zeros.
            None => return self.level_general(side, price.raw, qty.raw),
        };
        if p <= 0 {
            return Err(self.err(BadInput::NegativeOrZero));
        }
        // Dust below the scale is rounded down, as in `qty`.
        let q = decimal::scale_plain_floor(qty.mantissa, qty.fraction_digits, self.qty_scale)
            .map_err(|_| self.err(BadInput::NumberOutOfRange))?;
        Ok(Some(MdBody::Level { side, price: Price(p), qty: Qty(q) }))
    }

    #[inline]
    pub fn err(&self, reason: BadInput) -> DecodeError {
        DecodeError { reason, inst: Some(self.inst) }
    }
}

static UNREPRESENTABLE_LEVELS: AtomicU64 = AtomicU64::new(0);

/// Book levels skipped because their price was beyond the instrument's range, since
/// the process started.
pub fn unrepresentable_levels() -> u64 {
    UNREPRESENTABLE_LEVELS.load(Ordering::Relaxed)
}

/// Venue symbols of one venue and market, resolved to instruments without allocating.
#[derive(Clone, Debug, Default)]
pub struct SymbolMap {
    map: FxHashMap<Box<[u8]>, Sym>,
}

impl SymbolMap {
    /// The symbols of every instrument of `venue` and `market` in the table.
    pub fn for_market(instruments: &Instruments, venue: Venue, market: Market) -> Self {
        let mut map = FxHashMap::default();
        for i in instruments.iter().filter(|i| i.venue == venue && i.market == market) {
            let sym = Sym { inst: i.id, price_scale: i.price_scale, qty_scale: i.qty_scale };
            map.insert(i.symbol.as_bytes().into(), sym);
        }
        Self { map }
    }

    #[inline]
    pub fn get(&self, symbol: &[u8]) -> Option<Sym> {
        self.map.get(symbol).copied()
    }

    #[inline]
    pub fn resolve(&self, symbol: &[u8]) -> Result<Sym, DecodeError> {
        self.get(symbol).ok_or(DecodeError { reason: BadInput::UnknownSymbol, inst: None })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Most levels one frame may carry (both sides); more is refused as absurd.
pub const MAX_LEVELS_PER_FRAME: usize = 20_000;

/// Runs `f` and restores `out` to its length before the call if `f` fails.
#[inline]
pub fn atomically<T>(
    out: &mut Vec<MdEvent>,
    f: impl FnOnce(&mut Vec<MdEvent>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let start = out.len();
    let r = f(out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYM: Sym = Sym { inst: InstrumentId(3), price_scale: 2, qty_scale: 6 };

    #[test]
    fn numbers_of_twenty_digits_and_more_are_refused_not_wrapped() {
        let long = b"123456789012345678901234";
        assert_eq!(SYM.qty(long).map_err(|e| e.reason), Err(BadInput::NumberOutOfRange));
        assert_eq!(SYM.price(long).map_err(|e| e.reason), Err(BadInput::NumberOutOfRange));
        assert_eq!(
            SYM.level(Side::Buy, b"100.5", long).map_err(|e| e.reason),
            Err(BadInput::NumberOutOfRange)
        );
        // A price beyond the instrument's range is a level skipped, not a failed update.
        let skipped = unrepresentable_levels();
        assert_eq!(SYM.level(Side::Sell, long, b"1"), Ok(None));
        assert_eq!(SYM.level(Side::Sell, b"99999999999999999999", b"1"), Ok(None));
        assert!(unrepresentable_levels() >= skipped + 2);
    }

    #[test]
    fn plain_levels_scale_exactly_and_round_dust_down() {
        let level = |p: &[u8], q: &[u8]| SYM.level(Side::Buy, p, q).unwrap();
        assert_eq!(
            level(b"100.5", b"0.00000123"),
            Some(MdBody::Level { side: Side::Buy, price: Price(10050), qty: Qty(1) })
        );
        assert_eq!(
            level(b"9999999999999999.99", b"1"),
            Some(MdBody::Level {
                side: Side::Buy,
                price: Price(999_999_999_999_999_999),
                qty: Qty(1_000_000)
            })
        );
        assert_eq!(SYM.level(Side::Buy, b"100.555", b"1").map_err(|e| e.reason), Err(BadInput::TooPrecise));
        assert_eq!(SYM.level(Side::Buy, b"0", b"1").map_err(|e| e.reason), Err(BadInput::NegativeOrZero));
    }
}
