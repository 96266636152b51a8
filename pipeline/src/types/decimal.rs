//! Exact decimal parsing and formatting over integer mantissas.
//!
//! A decimal value is an integer count of `10^-scale` units. Venue text such as
//! `"19137.74"`, `"0.0001000"`, `"1e-5"` or `"-3"` parses exactly into a mantissa at a
//! requested scale; digits beyond the scale are accepted only when they are zeros
//! (or when the caller asks for an explicit rounding direction). Formatting is
//! canonical: no exponent, no trailing fractional zeros, `"0"` for zero, so parsing
//! then formatting gives the venue's value back and formatting then parsing is the
//! identity.
//!
//! Parsing never allocates and never panics: every byte sequence either parses or
//! returns a [`DecimalError`].

use std::fmt;

/// The largest scale any decimal here uses (18: the [`super::Amount`] scale).
pub const MAX_SCALE: u8 = 18;

/// Powers of ten representable in an i128.
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// 10^n as an i128, for n <= 38.
#[inline]
pub const fn pow10(n: u32) -> i128 {
    POW10[n as usize]
}

/// Why text is not a decimal at the requested scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecimalError {
    #[error("empty number")]
    Empty,
    #[error("not a decimal number")]
    Invalid,
    #[error("more decimal places than the scale allows")]
    TooPrecise,
    #[error("number out of range")]
    Overflow,
}

/// What to do with non-zero digits beyond the scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Refuse them ([`DecimalError::TooPrecise`]).
    Exact,
    /// Round toward negative infinity.
    Floor,
    /// Round toward positive infinity.
    Ceil,
}

/// Parses decimal text into a mantissa at `scale` (at most 38), exactly or rounded.
///
/// Grammar: `[+-]digits[.digits][(e|E)[+-]digits]`, or `[+-].digits`; at least one digit.
pub fn parse_scaled(text: &[u8], scale: u8, rounding: Rounding) -> Result<i128, DecimalError> {
    if text.is_empty() {
        return Err(DecimalError::Empty);
    }
    let mut i = 0;
    let negative = match text[0] {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    // Mantissa digits with trailing zeros held back in `zeros`, so that long zero tails
    // never overflow. The value is mantissa * 10^(zeros - fraction_digits + exponent).
    let mut mantissa: i128 = 0;
    let mut zeros: i32 = 0;
    let mut digits = 0u32;
    let mut fraction_digits: i32 = 0;
    let mut seen_point = false;
    while i < text.len() {
        let b = text[i];
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if seen_point {
                    fraction_digits += 1;
                }
                if b == b'0' {
                    if mantissa != 0 {
                        zeros += 1;
                    }
                } else {
                    let shift = pow10_checked(zeros + 1)?;
                    mantissa = mantissa
                        .checked_mul(shift)
                        .and_then(|m| m.checked_add((b - b'0') as i128))
                        .ok_or(DecimalError::Overflow)?;
                    zeros = 0;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return Err(DecimalError::Invalid),
        }
        i += 1;
        if fraction_digits > 4096 {
            return Err(DecimalError::Overflow);
        }
    }
    if digits == 0 {
        return Err(DecimalError::Invalid);
    }
    let mut exponent: i32 = 0;
    if i < text.len() {
        // text[i] is 'e' or 'E'.
        i += 1;
        let exp_negative = match text.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < text.len() {
            let b = text[i];
            if !b.is_ascii_digit() {
                return Err(DecimalError::Invalid);
            }
            exponent = exponent.saturating_mul(10).saturating_add((b - b'0') as i32);
            i += 1;
        }
        if i == start {
            return Err(DecimalError::Invalid);
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if mantissa == 0 {
        return Ok(0);
    }
    let shift = zeros as i64 - fraction_digits as i64 + exponent as i64 + scale as i64;
    let value = if shift >= 0 {
        let f = pow10_checked(i32::try_from(shift).map_err(|_| DecimalError::Overflow)?)?;
        mantissa.checked_mul(f).ok_or(DecimalError::Overflow)?
    } else {
        let drop = -shift;
        if drop > 38 {
            // Every digit is below the scale.
            return round_tiny(negative, rounding);
        }
        let f = pow10(drop as u32);
        let (q, r) = (mantissa / f, mantissa % f);
        if r == 0 {
            q
        } else {
            match (rounding, negative) {
                (Rounding::Exact, _) => return Err(DecimalError::TooPrecise),
                // The magnitude is truncated; the sign decides which way that rounds.
                (Rounding::Floor, false) | (Rounding::Ceil, true) => q,
                (Rounding::Floor, true) | (Rounding::Ceil, false) => q + 1,
            }
        }
    };
    Ok(if negative { -value } else { value })
}

fn round_tiny(negative: bool, rounding: Rounding) -> Result<i128, DecimalError> {
    match (rounding, negative) {
        (Rounding::Exact, _) => Err(DecimalError::TooPrecise),
        (Rounding::Floor, false) | (Rounding::Ceil, true) => Ok(0),
        (Rounding::Floor, true) => Ok(-1),
        (Rounding::Ceil, false) => Ok(1),
    }
}

#[inline]
fn pow10_checked(n: i32) -> Result<i128, DecimalError> {
    if (0..=38).contains(&n) { Ok(pow10(n as u32)) } else { Err(DecimalError::Overflow) }
}

/// Powers of ten in a u64 (10^0 to 10^19).
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The exact-decimal fast path every decoder shares: a plain decimal already lexed as
/// its digits (`mantissa`, at most 19 digits, so it fits a u64) with `fraction_digits`
/// of them after the point, as an i64 mantissa at `scale`.
///
/// `None` when it has more fractional digits than the scale (the general parser
/// decides whether they are zeros); `Some(Err(Overflow))` when the value does not fit
/// an i64 at that scale. Checked arithmetic throughout: never a panic, never a wrap.
#[inline(always)]
pub fn scale_plain(mantissa: u64, fraction_digits: u32, scale: u8) -> Option<Result<i64, DecimalError>> {
    let shift = u32::from(scale).checked_sub(fraction_digits)?;
    Some(
        POW10_U64
            .get(shift as usize)
            .and_then(|&f| mantissa.checked_mul(f))
            .and_then(|v| i64::try_from(v).ok())
            .ok_or(DecimalError::Overflow),
    )
}

/// [`scale_plain`] rounding digits beyond the scale down (toward zero: the value is not
/// negative), for quantities where dust below the scale cannot be traded.
#[inline(always)]
pub fn scale_plain_floor(mantissa: u64, fraction_digits: u32, scale: u8) -> Result<i64, DecimalError> {
    match scale_plain(mantissa, fraction_digits, scale) {
        Some(v) => v,
        None => {
            let drop = (fraction_digits - u32::from(scale)) as usize;
            let v = POW10_U64.get(drop).map_or(0, |&f| mantissa / f);
            i64::try_from(v).map_err(|_| DecimalError::Overflow)
        }
    }
}

/// The common case of venue text, `digits[.digits]` with at most 18 digits and no more
/// fractional digits than `scale`, in one pass of u64 arithmetic. `None` sends the
/// caller to the general parser (signs, exponents, long or over-precise text); a digit
/// past the eighteenth stops the pass before it could overflow.
#[inline(always)]
fn fast_unsigned(text: &[u8], scale: u8) -> Option<i64> {
    let mut m: u64 = 0;
    let mut digits = 0u32;
    let mut frac: u32 = 0;
    let mut point = false;
    for &b in text {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            digits += 1;
            if digits > 18 {
                return None;
            }
            m = m * 10 + u64::from(d);
            frac += u32::from(point);
        } else if b == b'.' && !point {
            point = true;
        } else {
            return None;
        }
    }
    if digits == 0 || frac > u32::from(scale) {
        return None;
    }
    scale_plain(m, frac, scale)?.ok()
}

/// Parses into an i64 mantissa at `scale`, exactly.
#[inline]
pub fn parse_i64(text: &[u8], scale: u8) -> Result<i64, DecimalError> {
    if let Some(v) = fast_unsigned(text, scale) {
        return Ok(v);
    }
    let v = parse_scaled(text, scale, Rounding::Exact)?;
    i64::try_from(v).map_err(|_| DecimalError::Overflow)
}

/// Parses into an i64 mantissa at `scale`, rounding extra digits as asked.
#[inline]
pub fn parse_i64_rounded(text: &[u8], scale: u8, rounding: Rounding) -> Result<i64, DecimalError> {
    if let Some(v) = fast_unsigned(text, scale) {
        return Ok(v);
    }
    let v = parse_scaled(text, scale, rounding)?;
    i64::try_from(v).map_err(|_| DecimalError::Overflow)
}

/// A mantissa and its scale, displayed canonically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scaled {
    pub mantissa: i128,
    pub scale: u8,
}

impl Scaled {
    pub fn new(mantissa: i128, scale: u8) -> Self {
        Self { mantissa, scale }
    }
}

impl Scaled {
    /// Appends the canonical text to `out` without going through `core::fmt` (an
    /// order's price and quantity are written this way on the order path).
    #[inline]
    pub fn push_to(self, out: &mut String) {
        let mut buf = [0u8; 48];
        out.push_str(format_into(&mut buf, self.mantissa, self.scale));
    }
}

impl fmt::Display for Scaled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 48];
        f.write_str(format_into(&mut buf, self.mantissa, self.scale))
    }
}

/// Formats `mantissa * 10^-scale` canonically into `buf`, returning the text. `buf` of
/// 48 bytes holds any i128 at any scale up to 38.
pub fn format_into(buf: &mut [u8; 48], mantissa: i128, scale: u8) -> &str {
    let m = mantissa.unsigned_abs();
    // Prices, quantities and most amounts fit in 64 bits, where a division by ten is a
    // multiplication; in 128 bits it is a library call per digit (an order's price and
    // quantity are a dozen digits).
    let mut end = match u64::try_from(m) {
        Ok(m) => write_digits(buf, m, scale),
        Err(_) => write_digits(buf, m, scale),
    };
    if mantissa < 0 {
        end -= 1;
        buf[end] = b'-';
    }
    // Only ASCII digits, '.' and '-' were written.
    std::str::from_utf8(&buf[end..]).unwrap_or("")
}

/// An unsigned integer whose decimal digits [`write_digits`] writes.
trait Digits: Copy + PartialEq {
    const ZERO: Self;
    /// `(self / 10, self % 10)`.
    fn split_digit(self) -> (Self, u8);
}

impl Digits for u64 {
    const ZERO: Self = 0;
    #[inline]
    fn split_digit(self) -> (Self, u8) {
        (self / 10, (self % 10) as u8)
    }
}

impl Digits for u128 {
    const ZERO: Self = 0;
    #[inline]
    fn split_digit(self) -> (Self, u8) {
        (self / 10, (self % 10) as u8)
    }
}

/// Writes `m * 10^-scale` canonically (no trailing zeros after the point) at the end of
/// `buf`, returning where the text starts.
fn write_digits<T: Digits>(buf: &mut [u8; 48], mut m: T, scale: u8) -> usize {
    let mut scale = scale.min(38) as usize;
    while scale > 0 && m != T::ZERO {
        let (q, d) = m.split_digit();
        if d != 0 {
            break;
        }
        m = q;
        scale -= 1;
    }
    if m == T::ZERO {
        scale = 0;
    }
    // Digits right to left.
    let mut end = buf.len();
    let mut written = 0usize;
    loop {
        if written == scale && scale > 0 {
            end -= 1;
            buf[end] = b'.';
        }
        let (q, d) = m.split_digit();
        end -= 1;
        buf[end] = b'0' + d;
        m = q;
        written += 1;
        if m == T::ZERO && written > scale {
            break;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    fn p(s: &str, scale: u8) -> Result<i128, DecimalError> {
        parse_scaled(s.as_bytes(), scale, Rounding::Exact)
    }

    fn f(m: i128, scale: u8) -> String {
        Scaled::new(m, scale).to_string()
    }

    #[test]
    fn venue_strings_parse_exactly() {
        assert_eq!(p("19137.74", 2), Ok(1913774));
        assert_eq!(p("19137.74", 8), Ok(1913774000000));
        assert_eq!(p("0.0001", 8), Ok(10000));
        assert_eq!(p("0.0001000", 4), Ok(1));
        assert_eq!(p("1e-5", 8), Ok(1000));
        assert_eq!(p("1E-5", 5), Ok(1));
        assert_eq!(p("2.5e3", 0), Ok(2500));
        assert_eq!(p("-3", 2), Ok(-300));
        assert_eq!(p("+.5", 1), Ok(5));
        assert_eq!(p("5.", 1), Ok(50));
        assert_eq!(p("0", 18), Ok(0));
        assert_eq!(p("-0.000", 3), Ok(0));
        assert_eq!(p("16.4700000000", 2), Ok(1647));
        assert_eq!(p("0.4705000000", 4), Ok(4705));
        assert_eq!(p("100000000000000000000000000000000000000000000000e-40", 0), Ok(10_000_000));
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "", "-", "+", ".", "1.2.3", "1e", "1e+", "abc", "1,5", " 1", "1 ", "0x10", "NaN", "inf", "1e5.5",
            "--1",
        ] {
            assert!(p(bad, 8).is_err(), "{bad:?} parsed");
        }
        assert_eq!(p("", 2), Err(DecimalError::Empty));
        assert_eq!(p("1.23", 1), Err(DecimalError::TooPrecise));
        assert_eq!(p("1e-30", 18), Err(DecimalError::TooPrecise));
        assert_eq!(p("1e40", 0), Err(DecimalError::Overflow));
        assert_eq!(p("99999999999999999999999999999999999999999", 0), Err(DecimalError::Overflow));
        assert_eq!(p("1e99999999999", 0), Err(DecimalError::Overflow));
    }

    #[test]
    fn rounding_directions_are_exact() {
        let r = |s: &str, mode| parse_scaled(s.as_bytes(), 2, mode);
        assert_eq!(r("1.239", Rounding::Floor), Ok(123));
        assert_eq!(r("1.231", Rounding::Ceil), Ok(124));
        assert_eq!(r("-1.239", Rounding::Floor), Ok(-124));
        assert_eq!(r("-1.239", Rounding::Ceil), Ok(-123));
        assert_eq!(r("1.230000", Rounding::Ceil), Ok(123));
        assert_eq!(r("1e-50", Rounding::Ceil), Ok(1));
        assert_eq!(r("1e-50", Rounding::Floor), Ok(0));
        assert_eq!(r("-1e-50", Rounding::Floor), Ok(-1));
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_parser() {
        for (t, scale) in [
            ("0", 0),
            ("12.5", 1),
            ("0.0001", 8),
            ("999999999999999999", 0),
            ("1.", 3),
            (".5", 2),
            ("9223372036.85477580", 8),
        ] {
            let fast = fast_unsigned(t.as_bytes(), scale).map(|v| v as i128);
            let slow = parse_scaled(t.as_bytes(), scale, Rounding::Exact).ok();
            assert_eq!(fast, slow, "{t} at {scale}");
        }
        // Cases the fast path declines: the general parser decides.
        for (t, scale) in
            [("1.25", 1), ("-1", 0), ("1e3", 0), ("1234567890123456789", 0), ("92233720368.54775808", 8)]
        {
            assert_eq!(fast_unsigned(t.as_bytes(), scale), None, "{t}");
        }
    }

    #[test]
    fn twenty_digits_and_more_are_refused_never_wrapped() {
        for t in [
            "123456789012345678901234",
            "99999999999999999999",
            "18446744073709551616",
            "12345678901234567890.0",
        ] {
            assert_eq!(fast_unsigned(t.as_bytes(), 0), None, "{t}");
            assert_eq!(parse_i64(t.as_bytes(), 0), Err(DecimalError::Overflow), "{t}");
            assert_eq!(
                parse_i64_rounded(t.as_bytes(), 0, Rounding::Floor),
                Err(DecimalError::Overflow),
                "{t}"
            );
        }
        // Long text whose value fits still parses exactly: leading zeros, trailing zeros.
        assert_eq!(parse_i64(b"000000000000000000000042", 2), Ok(4200));
        assert_eq!(parse_i64(b"1.000000000000000000000000", 3), Ok(1000));
    }

    #[test]
    fn the_plain_scaling_matches_the_general_parser_at_its_edges() {
        assert_eq!(scale_plain(9_223_372_036_854_775_807, 0, 0), Some(Ok(i64::MAX)));
        assert_eq!(scale_plain(9_223_372_036_854_775_808, 0, 0), Some(Err(DecimalError::Overflow)));
        assert_eq!(scale_plain(u64::MAX, 0, 0), Some(Err(DecimalError::Overflow)));
        assert_eq!(scale_plain(1, 0, 20), Some(Err(DecimalError::Overflow)));
        assert_eq!(scale_plain(125, 2, 1), None);
        assert_eq!(scale_plain_floor(125, 2, 1), Ok(12));
        assert_eq!(scale_plain_floor(9_999_999_999_999_999_999, 19, 0), Ok(0));
        assert_eq!(scale_plain_floor(1, 40, 0), Ok(0));
    }

    proptest::proptest! {
        /// Any run of digits, long or short, with or without a point: the fast paths and
        /// the general parser agree, and nothing panics.
        #[test]
        fn digit_strings_of_any_length_parse_alike(
            digits in "[0-9]{1,40}",
            point in proptest::option::of(0usize..40),
            scale in 0u8..=18,
        ) {
            let mut text = digits.clone();
            if let Some(p) = point {
                text.insert(p.min(text.len()), '.');
            }
            let b = text.as_bytes();
            let general = parse_scaled(b, scale, Rounding::Exact)
                .and_then(|v| i64::try_from(v).map_err(|_| DecimalError::Overflow));
            proptest::prop_assert_eq!(parse_i64(b, scale), general);
            if let Some(v) = fast_unsigned(b, scale) {
                proptest::prop_assert_eq!(Ok(v), general);
            }
            let frac = text.find('.').map_or(0, |p| (text.len() - p - 1) as u32);
            if digits.len() <= 19 {
                let m: u64 = digits.parse().unwrap();
                if let Some(v) = scale_plain(m, frac, scale) {
                    proptest::prop_assert_eq!(v, general);
                }
                let floor = parse_scaled(b, scale, Rounding::Floor)
                    .and_then(|v| i64::try_from(v).map_err(|_| DecimalError::Overflow));
                proptest::prop_assert_eq!(scale_plain_floor(m, frac, scale), floor);
            }
        }
    }

    /// `m * 10^-scale` written out from the integer's own digits.
    fn plain_text(m: i128, scale: u8) -> String {
        let scale = usize::from(scale.min(38));
        let padded = format!("{:0>width$}", m.unsigned_abs(), width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let frac = frac.trim_end_matches('0');
        let sign = if m < 0 { "-" } else { "" };
        if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
    }

    proptest::proptest! {
        /// Both widths of the digit loop (64 bits and 128) give the integer's own digits,
        /// the point in its place and no trailing zero.
        #[test]
        fn formatting_writes_the_digits_of_any_mantissa(
            m in proptest::prop_oneof![
                proptest::arbitrary::any::<i128>(),
                proptest::arbitrary::any::<i64>().prop_map(i128::from),
                (0u32..4).prop_map(|k| i128::from(u64::MAX) - 1 + i128::from(k)),
            ],
            scale in 0u8..=40,
        ) {
            let mut buf = [0u8; 48];
            proptest::prop_assert_eq!(format_into(&mut buf, m, scale), plain_text(m, scale));
        }
    }

    #[test]
    fn pushing_the_text_appends_what_display_prints() {
        for (m, scale) in [(0i128, 2u8), (-5, 1), (594000, 1), (333, 6), (i128::MIN, 18)] {
            let mut out = String::from("x=");
            Scaled::new(m, scale).push_to(&mut out);
            assert_eq!(out, format!("x={}", Scaled::new(m, scale)));
        }
    }

    #[test]
    fn formatting_is_canonical() {
        assert_eq!(f(1913774, 2), "19137.74");
        assert_eq!(f(10000, 8), "0.0001");
        assert_eq!(f(0, 8), "0");
        assert_eq!(f(-300, 2), "-3");
        assert_eq!(f(5, 0), "5");
        assert_eq!(f(-5, 3), "-0.005");
        assert_eq!(f(i128::MAX, 18), "170141183460469231731.687303715884105727");
        assert_eq!(f(i128::MIN, 38), "-1.70141183460469231731687303715884105728");
    }
}
