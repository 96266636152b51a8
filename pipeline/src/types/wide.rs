//! `a * b / c` exactly, with the product formed in 256 bits.
//!
//! Shares of a lot (the cost released by closing part of a position, the value of the
//! closing part of a fill) multiply two amounts at scale 18 before dividing: 2,000 USD
//! times 500 units of an asset is already 1e42, past `i128`. The quotient itself is
//! small (never more than the larger factor when `b <= c`), so only the intermediate
//! product needs the width.

/// `a * b / c`, truncated toward zero; `None` when `c` is zero or the quotient does not
/// fit in an `i128`.
pub fn mul_div(a: i128, b: i128, c: i128) -> Option<i128> {
    if c == 0 {
        return None;
    }
    if let Some(p) = a.checked_mul(b) {
        return Some(p / c);
    }
    let negative = (a < 0) ^ (b < 0) ^ (c < 0);
    let q = mul_div_u128(a.unsigned_abs(), b.unsigned_abs(), c.unsigned_abs())?;
    if negative { 0i128.checked_sub_unsigned(q) } else { i128::try_from(q).ok() }
}

/// `a * b / c` rounded down for unsigned operands (`c` non-zero); `None` when the
/// quotient does not fit in a `u128`.
fn mul_div_u128(a: u128, b: u128, c: u128) -> Option<u128> {
    const LOW: u128 = u64::MAX as u128;
    // The product as hi * 2^128 + lo, from 64-bit halves.
    let (a1, a0) = (a >> 64, a & LOW);
    let (b1, b0) = (b >> 64, b & LOW);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & LOW) + (p10 & LOW);
    let lo = (p00 & LOW) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    if hi >= c {
        return None;
    }
    // Long division, one bit of `lo` at a time; the remainder stays below `c`.
    let (mut rem, mut q) = (hi, 0u128);
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            q |= 1;
        }
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn products_past_i128_divide_exactly() {
        // Values checked with arbitrary-precision integers (Python).
        // A lot of 743.141 units closed by a fill of 747.9 worth 135.3 USD (scale 18).
        assert_eq!(
            mul_div(1353 * 10i128.pow(17), 743141 * 10i128.pow(15), 7479 * 10i128.pow(17)),
            Some(134439065784195748094)
        );
        // The cost 1,718.84 USD of 9,513.241 units, 4,490.2 of them sold.
        assert_eq!(
            mul_div(1718843489451421408667, 4490200000000000000000, 9513241000000000000000),
            Some(811285137876226662311)
        );
        assert_eq!(
            mul_div(-(i128::MAX), 3 * 10i128.pow(30), 7 * 10i128.pow(30)),
            Some(-72917650054486813599294558735378902454)
        );
        assert_eq!(mul_div(i128::MAX, i128::MAX, i128::MAX), Some(i128::MAX));
        assert_eq!(mul_div(i128::MIN, 1, 1), Some(i128::MIN));
        assert_eq!(mul_div(i128::MAX, 2, 1), None, "the quotient does not fit");
        assert_eq!(mul_div(1, 1, 0), None);
    }

    proptest! {
        #[test]
        fn agrees_with_i128_where_the_product_fits(a in any::<i64>(), b in any::<i64>(), c in any::<i64>()) {
            prop_assume!(c != 0);
            let (a, b, c) = (i128::from(a), i128::from(b), i128::from(c));
            prop_assert_eq!(mul_div(a, b, c), Some(a * b / c));
        }

        #[test]
        fn a_whole_share_is_the_amount_and_shares_are_monotonic(
            a in any::<i128>(), b in 1i128..=i128::MAX, k in 0i128..=1_000_000,
        ) {
            prop_assert_eq!(mul_div(a, b, b), Some(a));
            let a = a.checked_abs().unwrap_or(i128::MAX);
            let (part, more) = (b / 1_000_000 * k, b / 1_000_000 * (k + 1).min(1_000_000));
            let (x, y) = (mul_div(a, part, b).unwrap(), mul_div(a, more, b).unwrap());
            prop_assert!(0 <= x && x <= y && y <= a, "{x} {y} {a}");
        }

        /// Products up to 2^192, past `i128`: the quotient leaves a remainder below `c`.
        #[test]
        fn quotient_and_remainder_rebuild_the_product(
            a in 0u128..(1u128 << 96), b in 0u128..(1u128 << 96), c in 1u128..(1u128 << 96),
        ) {
            if let Some(q) = mul_div_u128(a, b, c) {
                // a * b - q * c is the remainder, in [0, c): computed modulo 2^128, which
                // is exact for a value below c < 2^96.
                let r = a.wrapping_mul(b).wrapping_sub(q.wrapping_mul(c));
                prop_assert!(r < c, "remainder {r} not below {c}");
            }
        }
    }
}
