//! Pieces every venue module uses: client order ids as venue text, exact parsing of venue
//! numbers, reading JSON objects field by field, and wall-clock time for signatures.
//!
//! Client order ids travel as `{prefix}{op}-{leg}-{attempt}`: the instance's prefix (six
//! letters fixed when its journal was created, see [`ClientPrefix`]), then decimals; at
//! most 28 bytes, which is what Gate allows after its required `t-` prefix. Gate's text
//! is `t-` followed by that, MEXC's `newClientOrderId` / `externalOid` is that alone.
//! Anything else in those fields (another engine's prefix, another client of the
//! account) is foreign: reported, never taken for one of ours.

use std::fmt::Write as _;

use pipeline::journal::ClientPrefix;
use pipeline::msg::ClientOrderId;
use pipeline::types::decimal::parse_scaled;
use pipeline::types::{Amount, Price, Qty, Rate, Rounding};

use crate::json::{JsonError, Parser};

/// Longest client id text (without Gate's `t-`).
pub(crate) const CLIENT_ID_MAX: usize = 28;

/// Appends the client id text (`{prefix}{op}-{leg}-{attempt}`).
pub(crate) fn push_client_id(out: &mut String, prefix: ClientPrefix, c: ClientOrderId) {
    let _ = write!(out, "{prefix}{}-{}-{}", c.op, c.leg, c.attempt);
}

/// Reads one of this instance's client ids (`prefix`) from venue text, with or without
/// Gate's `t-` prefix; `None` for anything else, another instance's ids included.
pub(crate) fn parse_client_id(prefix: ClientPrefix, text: &[u8]) -> Option<ClientOrderId> {
    let t = text.strip_prefix(b"t-").unwrap_or(text);
    if t.is_empty() || t.len() > CLIENT_ID_MAX {
        return None;
    }
    let t = t.strip_prefix(prefix.as_bytes())?;
    if !t.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut parts = t.split(|&b| b == b'-');
    let op = crate::json::parse_u64(parts.next()?)?;
    let leg = u8::try_from(crate::json::parse_u64(parts.next()?)?).ok()?;
    let attempt = u8::try_from(crate::json::parse_u64(parts.next()?)?).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(ClientOrderId { op, leg, attempt })
}

/// A venue quantity at `scale`, exactly (trailing zeros allowed); negative allowed.
pub(crate) fn parse_qty(text: &[u8], scale: u8) -> Option<Qty> {
    pipeline::types::decimal::parse_i64(text, scale).ok().map(Qty)
}

/// A venue price at `scale`, rounded down if it carries more places (average prices).
pub(crate) fn parse_price(text: &[u8], scale: u8) -> Option<Price> {
    pipeline::types::decimal::parse_i64_rounded(text, scale, Rounding::Floor).ok().map(Price)
}

/// A venue amount (balances, fees, values), rounded down past 18 places.
pub(crate) fn parse_amount(text: &[u8]) -> Option<Amount> {
    parse_scaled(text, Amount::SCALE, Rounding::Floor).ok().map(Amount)
}

/// A fee rate (`0.0005`).
pub(crate) fn parse_rate(text: &[u8]) -> Option<Rate> {
    pipeline::types::decimal::parse_i64_rounded(text, Rate::SCALE, Rounding::Ceil).ok().map(Rate)
}

/// A trade id: its leading decimal digits (MEXC spot sends `123X1`), or a hash of the
/// text when it has none.
pub(crate) fn trade_id(text: &[u8]) -> u64 {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if let Some(v) = crate::json::parse_u64(&text[..digits]) {
        return v;
    }
    text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)) | 1
}

/// Now, in milliseconds since the Unix epoch (request timestamps).
pub(crate) fn wall_ms() -> u64 {
    pipeline::clock::unix_ns() / 1_000_000
}

/// The raw text of any JSON scalar: a string's contents, a number's digits, `true` or
/// `false`; empty for `null`; the raw bytes of an object or array.
pub(crate) fn scalar<'a>(p: &mut Parser<'a>) -> Result<&'a [u8], JsonError> {
    match p.peek() {
        Some(b'"') => p.string_raw(),
        Some(b'-' | b'0'..=b'9') => p.number_raw(),
        Some(b'n') => p.null().map(|_| &b""[..]),
        Some(_) => p.skip(),
        None => Err(JsonError::Truncated),
    }
}

/// Calls `f(key, parser)` for every member of the object at the parser; `f` returns true
/// when it read the value, false to have it skipped.
pub(crate) fn for_fields<'a>(
    p: &mut Parser<'a>,
    mut f: impl FnMut(&'a [u8], &mut Parser<'a>) -> Result<bool, JsonError>,
) -> Result<(), JsonError> {
    let mut o = p.object()?;
    while let Some(k) = p.key(&mut o)? {
        if !f(k, p)? {
            p.skip()?;
        }
    }
    Ok(())
}

/// The scalar text of each of `keys` in the object at the parser (empty where absent);
/// other members are skipped.
pub(crate) fn fields<'a, const N: usize>(
    p: &mut Parser<'a>,
    keys: [&[u8]; N],
) -> Result<[&'a [u8]; N], JsonError> {
    let mut out: [&'a [u8]; N] = [b""; N];
    for_fields(p, |k, p| match keys.iter().position(|&want| want == k) {
        Some(i) => {
            out[i] = scalar(p)?;
            Ok(true)
        }
        None => Ok(false),
    })?;
    Ok(out)
}

/// Calls `f(parser)` for every element of the array at the parser (or once, for the
/// object at the parser: some pushes send one object where others send a list).
pub(crate) fn for_items<'a>(
    p: &mut Parser<'a>,
    mut f: impl FnMut(&mut Parser<'a>) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    if p.peek() == Some(b'{') {
        return f(p);
    }
    let mut a = p.array()?;
    while p.element(&mut a)? {
        f(p)?;
    }
    Ok(())
}

/// Writes a quantity in whole contracts when it is one (Gate and MEXC futures sizes),
/// else as a decimal.
pub(crate) fn push_contracts(out: &mut String, qty: Qty, qty_scale: u8, negative: bool) {
    let unit = 10i64.pow(u32::from(qty_scale.min(18)));
    if negative {
        out.push('-');
    }
    if qty.0 % unit == 0 {
        let _ = write!(out, "{}", qty.0 / unit);
    } else {
        qty.display(qty_scale).push_to(out);
    }
}

/// `qty` from whole (or decimal) contracts text.
pub(crate) fn contracts_qty(text: &[u8], qty_scale: u8) -> Option<Qty> {
    parse_qty(text, qty_scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_round_trip_and_fit_gate_text() {
        let c = ClientOrderId { op: u64::MAX >> 8, leg: 2, attempt: ClientOrderId::MAX_ATTEMPT };
        for prefix in [ClientPrefix::new("kqzvme").unwrap(), ClientPrefix::LEGACY] {
            let mut s = String::from("t-");
            push_client_id(&mut s, prefix, c);
            assert!(s.len() - 2 <= CLIENT_ID_MAX, "{s}");
            assert_eq!(parse_client_id(prefix, s.as_bytes()), Some(c));
            assert_eq!(parse_client_id(prefix, &s.as_bytes()[2..]), Some(c));
        }
        let legacy = ClientPrefix::LEGACY;
        for bad in [&b"apiv4"[..], b"t-1-2", b"1-2-3-4", b"", b"t-1-x-3", b"1-300-1"] {
            assert_eq!(parse_client_id(legacy, bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn another_instances_ids_are_never_ours() {
        let (a, b) = (ClientPrefix::new("aaaaaa").unwrap(), ClientPrefix::new("bbbbbb").unwrap());
        let c = ClientOrderId { op: 7, leg: 1, attempt: 0 };
        let mut text = String::new();
        push_client_id(&mut text, a, c);
        assert_eq!(text, "aaaaaa7-1-0");
        assert_eq!(parse_client_id(a, text.as_bytes()), Some(c));
        assert_eq!(parse_client_id(b, text.as_bytes()), None, "the same op under another prefix");
        assert_eq!(parse_client_id(ClientPrefix::LEGACY, text.as_bytes()), None);
        assert_eq!(parse_client_id(a, b"7-1-0"), None, "an unprefixed id is not this instance's");
        assert_eq!(parse_client_id(a, b"manual"), None);
    }

    #[test]
    fn numbers_and_ids() {
        assert_eq!(parse_qty(b"0.001000", 6), Some(Qty(1000)));
        assert_eq!(parse_qty(b"0.0000001", 6), None);
        assert_eq!(parse_qty(b"-3", 0), Some(Qty(-3)));
        assert_eq!(parse_price(b"50000.123456", 2), Some(Price(5_000_012)));
        assert_eq!(parse_amount(b"3087.01142272991036062136"), Amount::parse("3087.011422729910360621").ok());
        assert_eq!(trade_id(b"505979017439002624X1"), 505_979_017_439_002_624);
        assert_ne!(trade_id(b"abc"), 0);
        let mut s = String::new();
        push_contracts(&mut s, Qty(3_000), 3, true);
        assert_eq!(s, "-3");
        s.clear();
        push_contracts(&mut s, Qty(3_500), 3, false);
        assert_eq!(s, "3.5");
    }

    #[test]
    fn named_fields_are_picked_in_key_order_and_missing_ones_are_empty() {
        let text = br#"{"locked":"0.5","x":{"y":1},"currency":"BTC","available":2}"#;
        let [cur, avail, locked, absent] =
            fields(&mut Parser::new(text), [b"currency", b"available", b"locked", b"nope"]).unwrap();
        assert_eq!((cur, avail, locked, absent), (&b"BTC"[..], &b"2"[..], &b"0.5"[..], &b""[..]));
        assert!(fields(&mut Parser::new(b"[1]"), [b"a"]).is_err());
    }

    #[test]
    fn reads_fields_of_either_type() {
        let text = br#"{"a":"1.5","b":2,"c":null,"d":{"x":[1]},"e":true}"#;
        let mut p = Parser::new(text);
        let mut got = Vec::new();
        for_fields(&mut p, |k, p| {
            got.push((k.to_vec(), scalar(p)?.to_vec()));
            Ok(true)
        })
        .unwrap();
        let got: Vec<(String, String)> = got
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(got[0], ("a".into(), "1.5".into()));
        assert_eq!(got[1], ("b".into(), "2".into()));
        assert_eq!(got[2], ("c".into(), "".into()));
        assert_eq!(got[3], ("d".into(), r#"{"x":[1]}"#.into()));
        assert_eq!(got[4], ("e".into(), "true".into()));
    }
}
