//! Configuration values with units, read exactly, and the clock the trading stages share.
//!
//! Limits and thresholds in configuration carry their unit in the key name
//! (`min_profit_bps`, `max_notional_usd`). Their values may be written as TOML integers,
//! decimal strings (`"2.5"`) or floats (`2.5`); a float is read through its shortest
//! decimal text, so `0.1` means exactly one tenth, never the binary float nearest it.
//! No float is kept: basis points become a [`Rate`], dollars an [`Amount`].

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::types::{Amount, Rate};

/// Local time in nanoseconds in the timebase of every event's `recv_ns`.
pub use crate::clock::now_ns;

/// Nanoseconds in `ms` milliseconds, saturating.
#[inline]
pub const fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

/// A day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;

/// The trading day (days since the epoch) that `wall_ms` (ms since the epoch, UTC) falls
/// in, when days roll at `roll_utc_hour` o'clock UTC (`risk.day_roll_utc_hour`): the
/// daily-loss total counts one such day.
#[inline]
pub const fn trading_day(wall_ms: u64, roll_utc_hour: u8) -> u64 {
    wall_ms.saturating_sub(roll_utc_hour as u64 * 3_600_000) / DAY_MS
}

struct DecimalText;

impl Visitor<'_> for DecimalText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number (integer, float or string)")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        if !v.is_finite() {
            return Err(E::custom("not a finite number"));
        }
        // Display prints the shortest text that reads back as the same float.
        Ok(format!("{v}"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.trim().to_owned())
    }
}

/// Writes decimal text as one would type it in TOML: an integer when it is whole, a
/// float when the float reads back as exactly the same decimal, else a string.
fn serialize_decimal<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    if let Ok(i) = text.parse::<i64>() {
        return s.serialize_i64(i);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && format!("{f}") == text => s.serialize_f64(f),
        _ => s.serialize_str(text),
    }
}

/// Basis points, read exactly into a [`Rate`] (1 bp = 10^-4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bps(pub Rate);

impl Bps {
    pub const fn new(bps: i64) -> Self {
        Self(Rate::from_bps(bps))
    }
    #[inline]
    pub fn rate(self) -> Rate {
        self.0
    }
}

impl From<Bps> for String {
    fn from(b: Bps) -> String {
        b.0.bps().to_string()
    }
}

impl Serialize for Bps {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_decimal(&self.0.bps().to_string(), s)
    }
}

impl<'de> Deserialize<'de> for Bps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        Rate::parse_bps(&text).map(Bps).map_err(|e| de::Error::custom(format!("{text:?} basis points: {e}")))
    }
}

/// An amount of US dollars (or of any asset, for inventory), read exactly into an
/// [`Amount`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Usd(pub Amount);

impl Usd {
    pub const fn new(units: i64) -> Self {
        Self(Amount::from_int(units))
    }
    #[inline]
    pub fn amount(self) -> Amount {
        self.0
    }
}

impl From<Usd> for String {
    fn from(u: Usd) -> String {
        u.0.to_string()
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_decimal(&self.0.to_string(), s)
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        Amount::parse(&text).map(Usd).map_err(|e| de::Error::custom(format!("{text:?}: {e}")))
    }
}

/// An exact amount of some asset (an inventory bound, a balance), read like [`Usd`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Exact(pub Amount);

impl Exact {
    #[inline]
    pub fn amount(self) -> Amount {
        self.0
    }
}

impl From<Exact> for String {
    fn from(u: Exact) -> String {
        u.0.to_string()
    }
}

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_decimal(&self.0.to_string(), s)
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        Amount::parse(&text).map(Exact).map_err(|e| de::Error::custom(format!("{text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct C {
        a_bps: Bps,
        b_usd: Usd,
    }

    #[test]
    fn integers_floats_and_strings_read_exactly() {
        let c: C = toml::from_str("a_bps = 5\nb_usd = 1000").unwrap();
        assert_eq!(c.a_bps.rate(), Rate::from_bps(5));
        assert_eq!(c.b_usd.amount(), Amount::from_int(1000));
        let c: C = toml::from_str("a_bps = 0.1\nb_usd = \"0.3\"").unwrap();
        assert_eq!(c.a_bps.rate(), Rate::parse_bps("0.1").unwrap());
        assert_eq!(c.b_usd.amount(), Amount::parse("0.3").unwrap());
        let c: C = toml::from_str("a_bps = \"2.5\"\nb_usd = 12.75").unwrap();
        assert_eq!(c.a_bps.rate(), Rate(250_000));
        assert_eq!(c.b_usd.amount(), Amount::parse("12.75").unwrap());
    }

    #[test]
    fn values_serialize_as_typed_and_read_back_the_same() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct D {
            a_bps: Bps,
            b_usd: Usd,
            c_usd: Usd,
            d_usd: Usd,
        }
        let d = D {
            a_bps: Bps(Rate::parse_bps("2.5").unwrap()),
            b_usd: Usd::new(-500),
            c_usd: Usd(Amount::parse("0.1").unwrap()),
            d_usd: Usd(Amount::parse("12345678901234567890.123456789").unwrap()),
        };
        let text = toml::to_string(&d).unwrap();
        assert_eq!(
            text,
            "a_bps = 2.5\nb_usd = -500\nc_usd = 0.1\nd_usd = \"12345678901234567890.123456789\"\n"
        );
        assert_eq!(toml::from_str::<D>(&text).unwrap(), d);
    }

    #[test]
    fn bad_values_are_named() {
        let e = toml::from_str::<C>("a_bps = \"x\"\nb_usd = 1").unwrap_err();
        assert!(e.to_string().contains("basis points"), "{e}");
        let e = toml::from_str::<C>("a_bps = 1\nb_usd = 1\nc = 2").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn a_mocked_clock_reads_in_nanoseconds() {
        let (clock, mock) = quanta::Clock::mock();
        mock.increment(1_500);
        assert_eq!(now_ns(&clock), 1_500);
        assert_eq!(ms_to_ns(100), 100_000_000);
    }
}
