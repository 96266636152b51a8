//! Prices, quantities, amounts and rates as integer fixed-point newtypes.
//!
//! - [`Price`] and [`Qty`] are i64 counts of `10^-scale` units where the scale belongs
//!   to the instrument (`price_scale`, `qty_scale` in [`super::Instrument`]). Within one
//!   instrument they compare and add as plain integers; a book never mixes scales.
//!   Crossing instruments goes through the instrument, which knows both scales.
//! - [`Amount`] is an i128 count of `10^-18` units of some asset: notionals, fees,
//!   balances and P&L. `price * qty` of any instrument whose scales sum to 18 or less is
//!   exact in it, and an i128 at that scale holds 1.7e20 units.
//! - [`Rate`] is an i64 count of `10^-9`: fee rates and basis-point thresholds.
//!
//! No floating point anywhere: values are parsed from venue text exactly, rounded only
//! where the caller names the direction, and formatted back exactly.

use std::fmt;

use super::decimal::{self, DecimalError, Rounding, Scaled, parse_scaled};

macro_rules! scaled_i64 {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A ", $what, " as an i64 count of `10^-scale` units of its instrument.")]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub const ZERO: Self = Self(0);
            pub const MAX: Self = Self(i64::MAX);

            /// Parses venue text exactly at `scale`.
            #[inline]
            pub fn parse(text: &str, scale: u8) -> Result<Self, DecimalError> {
                Self::parse_bytes(text.as_bytes(), scale)
            }

            /// Parses venue bytes exactly at `scale`.
            #[inline]
            pub fn parse_bytes(text: &[u8], scale: u8) -> Result<Self, DecimalError> {
                decimal::parse_i64(text, scale).map(Self)
            }

            /// Parses venue text at `scale`, rounding extra digits in the given direction.
            pub fn parse_rounded(text: &str, scale: u8, rounding: Rounding) -> Result<Self, DecimalError> {
                let v = parse_scaled(text.as_bytes(), scale, rounding)?;
                i64::try_from(v).map(Self).map_err(|_| DecimalError::Overflow)
            }

            /// The value displayed at `scale`.
            #[inline]
            pub fn display(self, scale: u8) -> Scaled {
                Scaled::new(self.0 as i128, scale)
            }

            #[inline]
            pub fn is_zero(self) -> bool {
                self.0 == 0
            }

            #[inline]
            pub fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// The largest multiple of `step` at or below (Floor) or at or above (Ceil)
            /// this value. `step` must be positive; a zero step returns the value.
            #[inline]
            pub fn round_to(self, step: Self, rounding: Rounding) -> Self {
                if step.0 <= 0 {
                    return self;
                }
                let r = self.0.rem_euclid(step.0);
                if r == 0 {
                    return self;
                }
                match rounding {
                    Rounding::Floor | Rounding::Exact => Self(self.0 - r),
                    Rounding::Ceil => Self(self.0.saturating_add(step.0 - r)),
                }
            }

            /// True when this value is a whole multiple of `step`.
            #[inline]
            pub fn is_multiple_of(self, step: Self) -> bool {
                step.0 > 0 && self.0 % step.0 == 0
            }

            /// Rescales from `from` to `to` decimal places, rounding in the given
            /// direction when digits are lost; `None` on overflow.
            pub fn rescale(self, from: u8, to: u8, rounding: Rounding) -> Option<Self> {
                let v = rescale(self.0 as i128, from, to, rounding)?;
                i64::try_from(v).ok().map(Self)
            }

            #[inline]
            pub fn checked_add(self, o: Self) -> Option<Self> {
                self.0.checked_add(o.0).map(Self)
            }

            #[inline]
            pub fn checked_sub(self, o: Self) -> Option<Self> {
                self.0.checked_sub(o.0).map(Self)
            }

            #[inline]
            pub fn saturating_sub(self, o: Self) -> Self {
                Self(self.0.saturating_sub(o.0))
            }

            #[inline]
            pub fn min(self, o: Self) -> Self {
                if self.0 <= o.0 { self } else { o }
            }
        }
    };
}

scaled_i64!(Price, "price");
scaled_i64!(Qty, "quantity");

/// Rescales a mantissa between decimal scales, rounding as asked; `None` on overflow.
pub fn rescale(v: i128, from: u8, to: u8, rounding: Rounding) -> Option<i128> {
    if to >= from {
        v.checked_mul(decimal::pow10(u32::from(to - from)))
    } else {
        let f = decimal::pow10(u32::from(from - to));
        Some(div_round(v, f, rounding))
    }
}

/// `(n.div_euclid(d), n.rem_euclid(d))` from one division, a hardware one when both
/// fit in 64 bits. An i128 division is a library call of tens of nanoseconds, and the
/// sizing search divides a few dozen times per step; `d` must not be zero.
#[inline]
pub fn div_rem_euclid(n: i128, d: i128) -> (i128, i128) {
    if let (Ok(n), Ok(d)) = (i64::try_from(n), i64::try_from(d))
        && d > 0
    {
        return (i128::from(n.div_euclid(d)), i128::from(n.rem_euclid(d)));
    }
    let q = n / d;
    let r = n - q * d;
    match (r < 0, d > 0) {
        (false, _) => (q, r),
        (true, true) => (q - 1, r + d),
        (true, false) => (q + 1, r - d),
    }
}

/// `n / d` rounded as asked (`Exact` truncates toward negative infinity like Floor);
/// `d` must be positive.
#[inline]
pub fn div_round(n: i128, d: i128, rounding: Rounding) -> i128 {
    let (q, r) = div_rem_euclid(n, d);
    match rounding {
        Rounding::Ceil if r != 0 => q + 1,
        _ => q,
    }
}

/// An amount of some asset as an i128 count of `10^-18` units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Amount(pub i128);

impl Amount {
    pub const SCALE: u8 = 18;
    pub const ZERO: Self = Self(0);
    pub const ONE: Self = Self(1_000_000_000_000_000_000);

    /// Parses venue text exactly.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        parse_scaled(text.as_bytes(), Self::SCALE, Rounding::Exact).map(Self)
    }

    /// Parses venue text, rounding digits beyond 18 places in the given direction (some
    /// venues print balances with 20 places).
    pub fn parse_rounded(text: &str, rounding: Rounding) -> Result<Self, DecimalError> {
        parse_scaled(text.as_bytes(), Self::SCALE, rounding).map(Self)
    }

    /// A whole number of units.
    pub const fn from_int(n: i64) -> Self {
        Self(n as i128 * 1_000_000_000_000_000_000)
    }

    /// A mantissa at another scale, converted exactly when possible.
    pub fn from_scaled(mantissa: i128, scale: u8, rounding: Rounding) -> Option<Self> {
        rescale(mantissa, scale, Self::SCALE, rounding).map(Self)
    }

    /// This amount at `scale` decimal places, rounded as asked.
    pub fn to_scaled(self, scale: u8, rounding: Rounding) -> Option<i128> {
        rescale(self.0, Self::SCALE, scale, rounding)
    }

    #[inline]
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The magnitude, saturating: `Amount(i128::MIN).abs()` is `Amount(i128::MAX)`, never
    /// a panic and never a negative magnitude that would slip under a limit.
    #[inline]
    pub fn abs(self) -> Self {
        Self(self.0.saturating_abs())
    }

    #[inline]
    pub fn checked_add(self, o: Self) -> Option<Self> {
        self.0.checked_add(o.0).map(Self)
    }

    #[inline]
    pub fn checked_sub(self, o: Self) -> Option<Self> {
        self.0.checked_sub(o.0).map(Self)
    }

    #[inline]
    pub fn saturating_add(self, o: Self) -> Self {
        Self(self.0.saturating_add(o.0))
    }

    #[inline]
    pub fn saturating_sub(self, o: Self) -> Self {
        Self(self.0.saturating_sub(o.0))
    }

    /// This amount times a rate, rounded as asked; `None` on overflow.
    #[inline]
    pub fn mul_rate(self, rate: Rate, rounding: Rounding) -> Option<Self> {
        let p = self.0.checked_mul(rate.0 as i128)?;
        Some(Self(div_round(p, Rate::UNIT as i128, rounding)))
    }

    /// This amount times another amount (both at scale 18), rounded as asked; `None`
    /// only when the result itself overflows.
    pub fn mul(self, o: Self, rounding: Rounding) -> Option<Self> {
        // With a = ah*1e9 + al and b = bh*1e9 + bl (0 <= al, bl < 1e9):
        // a*b/1e18 = ah*bh + X/1e9 + al*bl/1e18, X = ah*bl + al*bh; and with
        // X = xh*1e9 + xl that is ah*bh + xh + (xl*1e9 + al*bl)/1e18, every term small.
        const E9: i128 = 1_000_000_000;
        let (ah, al) = div_rem_euclid(self.0, E9);
        let (bh, bl) = div_rem_euclid(o.0, E9);
        let x = ah.checked_mul(bl)?.checked_add(al.checked_mul(bh)?)?;
        let (xh, xl) = div_rem_euclid(x, E9);
        let tail = div_round(xl * E9 + al * bl, E9 * E9, rounding);
        Some(Self(ah.checked_mul(bh)?.checked_add(xh)?.checked_add(tail)?))
    }

    /// This amount divided by another (both at scale 18), rounded as asked; `None` on
    /// a zero divisor or overflow.
    pub fn div(self, o: Self, rounding: Rounding) -> Option<Self> {
        if o.0 == 0 {
            return None;
        }
        let (n, d) = if o.0 < 0 { (self.0.checked_neg()?, -o.0) } else { (self.0, o.0) };
        // n * 1e18 / d, in two steps of 1e9 to stay inside i128 for realistic values.
        let e9 = 1_000_000_000i128;
        let step1 = n.checked_mul(e9)?;
        let (q1, r1) = div_rem_euclid(step1, d);
        let q = q1.checked_mul(e9)?;
        let r = r1.checked_mul(e9)?;
        Some(Self(q.checked_add(div_round(r, d, rounding))?))
    }

    /// This amount expressed as a rate of `of` (`self / of`), rounded as asked.
    pub fn ratio(self, of: Self, rounding: Rounding) -> Option<Rate> {
        let r = self.div(of, rounding)?;
        let v = div_round(r.0, 1_000_000_000, rounding);
        i64::try_from(v).ok().map(Rate)
    }

    pub fn display(self) -> Scaled {
        Scaled::new(self.0, Self::SCALE)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.display().fmt(f)
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, o: Amount) -> Amount {
        Amount(self.0 + o.0)
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, o: Amount) -> Amount {
        Amount(self.0 - o.0)
    }
}

impl std::ops::Neg for Amount {
    type Output = Amount;
    /// Saturating, like [`Amount::abs`].
    fn neg(self) -> Amount {
        Amount(self.0.saturating_neg())
    }
}

impl std::ops::AddAssign for Amount {
    fn add_assign(&mut self, o: Amount) {
        self.0 += o.0;
    }
}

impl std::ops::SubAssign for Amount {
    fn sub_assign(&mut self, o: Amount) {
        self.0 -= o.0;
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, |a, b| a + b)
    }
}

/// A dimensionless rate as an i64 count of `10^-9`: fee rates, margins, slippage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Rate(pub i64);

impl Rate {
    pub const SCALE: u8 = 9;
    pub const UNIT: i64 = 1_000_000_000;
    pub const ZERO: Self = Self(0);

    /// Parses venue text such as `"0.0005"` exactly.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        decimal::parse_i64(text.as_bytes(), Self::SCALE).map(Self)
    }

    /// A rate of `bps` basis points, given as decimal text (`"2.5"`), exactly.
    pub fn parse_bps(text: &str) -> Result<Self, DecimalError> {
        // One basis point is 10^-4: parse at scale 9 - 4 = 5.
        decimal::parse_i64(text.as_bytes(), Self::SCALE - 4).map(Self)
    }

    /// A whole number of basis points.
    pub const fn from_bps(bps: i64) -> Self {
        Self(bps * 100_000)
    }

    /// The rate in basis points, displayed exactly.
    pub fn bps(self) -> Scaled {
        Scaled::new(self.0 as i128, Self::SCALE - 4)
    }

    pub fn display(self) -> Scaled {
        Scaled::new(self.0 as i128, Self::SCALE)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.display().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounding_to_tick_and_lot() {
        let tick = Price(5); // 0.05 at scale 2
        assert_eq!(Price(1234).round_to(tick, Rounding::Floor), Price(1230));
        assert_eq!(Price(1234).round_to(tick, Rounding::Ceil), Price(1235));
        assert_eq!(Price(1235).round_to(tick, Rounding::Ceil), Price(1235));
        assert_eq!(Qty(999).round_to(Qty(100), Rounding::Floor), Qty(900));
        assert_eq!(Qty(7).round_to(Qty::ZERO, Rounding::Floor), Qty(7));
    }

    #[test]
    fn amounts_multiply_and_divide_exactly() {
        let a = Amount::parse("19137.74").unwrap();
        let b = Amount::parse("0.0001").unwrap();
        assert_eq!(a.mul(b, Rounding::Exact).unwrap(), Amount::parse("1.913774").unwrap());
        let fee = Amount::parse("1000").unwrap().mul_rate(Rate::parse("0.0005").unwrap(), Rounding::Ceil);
        assert_eq!(fee, Some(Amount::parse("0.5").unwrap()));
        let third = Amount::from_int(1).div(Amount::from_int(3), Rounding::Floor).unwrap();
        assert_eq!(third.to_string(), "0.333333333333333333");
        let third_up = Amount::from_int(1).div(Amount::from_int(3), Rounding::Ceil).unwrap();
        assert_eq!(third_up.to_string(), "0.333333333333333334");
        assert_eq!(
            Amount::from_int(5).ratio(Amount::from_int(10000), Rounding::Floor),
            Some(Rate::from_bps(5))
        );
    }

    #[test]
    fn rates_and_basis_points() {
        assert_eq!(Rate::parse_bps("2.5").unwrap(), Rate::parse("0.00025").unwrap());
        assert_eq!(Rate::from_bps(10).bps().to_string(), "10");
        assert_eq!(Rate::parse("0.002").unwrap().to_string(), "0.002");
    }

    #[test]
    fn balances_with_twenty_places_round_down_on_request() {
        let t = "222244.38276520000000000001";
        assert!(Amount::parse(t).is_err());
        assert_eq!(Amount::parse_rounded(t, Rounding::Floor).unwrap().to_string(), "222244.3827652");
    }

    fn decimal_text() -> impl Strategy<Value = (String, u8)> {
        // Integer part, fraction digits, scale at least as large as the fraction.
        (0u64..10_000_000, proptest::collection::vec(0u8..10, 0..8), 0u8..4, any::<bool>()).prop_map(
            |(int, frac, extra, neg)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                s.push_str(&int.to_string());
                if !frac.is_empty() {
                    s.push('.');
                    for d in &frac {
                        s.push((b'0' + d) as char);
                    }
                }
                (s, frac.len() as u8 + extra)
            },
        )
    }

    fn canonical(s: &str) -> String {
        let (neg, body) = s.strip_prefix('-').map_or((false, s), |b| (true, b));
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let mut out = String::new();
        if neg && !(int == "0" && frac.is_empty()) {
            out.push('-');
        }
        out.push_str(int);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out
    }

    /// Any i128 and any divisor but zero, with values near 64 bits more likely (where
    /// the fast path begins and ends).
    fn division_operand() -> impl Strategy<Value = i128> {
        prop_oneof![
            any::<i128>(),
            any::<i64>().prop_map(i128::from),
            (any::<i64>(), -4i128..=4).prop_map(|(v, k)| i128::from(v).signum() * (1i128 << 63) + k),
        ]
    }

    proptest! {
        #[test]
        fn one_division_gives_the_euclidean_quotient_and_remainder(n in division_operand(), d in division_operand()) {
            prop_assume!(d != 0 && !(n == i128::MIN && d == -1));
            prop_assert_eq!(div_rem_euclid(n, d), (n.div_euclid(d), n.rem_euclid(d)));
        }

        #[test]
        fn parse_then_format_gives_the_venue_value_back((text, scale) in decimal_text()) {
            let p = Price::parse(&text, scale).unwrap();
            prop_assert_eq!(p.display(scale).to_string(), canonical(&text));
        }

        #[test]
        fn format_then_parse_is_the_identity(m in any::<i64>(), scale in 0u8..=18) {
            let text = Price(m).display(scale).to_string();
            prop_assert_eq!(Price::parse(&text, scale), Ok(Price(m)));
            let a = Amount(m as i128 * 1_000_003);
            prop_assert_eq!(Amount::parse(&a.to_string()), Ok(a));
        }

        #[test]
        fn parsed_order_matches_numeric_order(a in any::<i32>(), b in any::<i32>(), scale in 0u8..6) {
            let ta = Scaled::new(a as i128, scale).to_string();
            let tb = Scaled::new(b as i128, scale).to_string();
            let (pa, pb) = (Price::parse(&ta, scale).unwrap(), Price::parse(&tb, scale).unwrap());
            prop_assert_eq!(pa.cmp(&pb), a.cmp(&b));
        }

        #[test]
        fn exponent_forms_agree_with_plain_forms(m in 1i64..1_000_000_000, e in -8i32..8) {
            let scale = 16u8;
            let plain = Price::parse(&Scaled::new(m as i128, (8 - e) as u8).to_string(), scale);
            let sci = Price::parse(&format!("{m}e{}", e - 8), scale);
            prop_assert_eq!(plain, sci);
        }

        #[test]
        fn rounding_to_a_step_brackets_the_value(v in -1_000_000_000i64..1_000_000_000, step in 1i64..100_000) {
            let lo = Price(v).round_to(Price(step), Rounding::Floor);
            let hi = Price(v).round_to(Price(step), Rounding::Ceil);
            prop_assert!(lo.0 <= v && v <= hi.0);
            prop_assert!(lo.is_multiple_of(Price(step)) && hi.is_multiple_of(Price(step)));
            let gap = if v % step == 0 { 0 } else { step };
            prop_assert_eq!(hi.0 - lo.0, gap);
        }

        #[test]
        fn rounded_parse_brackets_the_exact_value(int in 0u32..1_000_000, frac in 0u32..1_000_000, scale in 0u8..6) {
            let text = format!("{int}.{frac:06}");
            let exact = Price::parse(&text, 6).unwrap();
            let lo = Price::parse_rounded(&text, scale, Rounding::Floor).unwrap();
            let hi = Price::parse_rounded(&text, scale, Rounding::Ceil).unwrap();
            let lo6 = lo.rescale(scale, 6, Rounding::Exact).unwrap();
            let hi6 = hi.rescale(scale, 6, Rounding::Exact).unwrap();
            prop_assert!(lo6 <= exact && exact <= hi6);
            prop_assert!(hi.0 - lo.0 <= 1);
        }

        #[test]
        fn amount_multiplication_matches_wide_arithmetic(a in -1_000_000_000_000i64..1_000_000_000_000, b in -1_000_000_000_000i64..1_000_000_000_000) {
            // a, b at scale 6 -> product at scale 12, exact in Amount.
            let x = Amount::from_scaled(a as i128, 6, Rounding::Exact).unwrap();
            let y = Amount::from_scaled(b as i128, 6, Rounding::Exact).unwrap();
            let want = Amount::from_scaled(a as i128 * b as i128, 12, Rounding::Exact).unwrap();
            prop_assert_eq!(x.mul(y, Rounding::Exact), Some(want));
        }

        #[test]
        fn amount_multiplication_rounds_in_the_asked_direction(a in any::<i64>(), b in any::<i64>()) {
            // Tiny amounts whose product falls below 10^-18.
            let (x, y) = (Amount(a as i128), Amount(b as i128));
            let lo = x.mul(y, Rounding::Floor).unwrap();
            let hi = x.mul(y, Rounding::Ceil).unwrap();
            let exact = a as i128 * b as i128;
            let e18 = 1_000_000_000_000_000_000i128;
            prop_assert!(lo.0 * e18 <= exact && exact <= hi.0 * e18);
            prop_assert!(hi.0 - lo.0 <= 1);
        }
    }
}
