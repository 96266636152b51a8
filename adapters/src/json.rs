//! A zero-copy JSON pull parser for venue frames on the hot path.
//!
//! Why not a general parser: venue prices arrive both as strings and as JSON numbers
//! (`[6859.5,3251,1]`), and a general parser turns numbers into f64 before we can see
//! their text. This parser hands out the raw bytes of every string and number, so the
//! decoders parse decimals exactly; it borrows the frame as received (no copy, no
//! mutation) and never allocates. simd-json remains the yardstick in the benches.
//!
//! The parser is strict about structure (brackets, commas, colons, string and number
//! lexemes, nesting depth) and lazy about meaning: string escapes are validated but not
//! decoded (venue keys and symbols never contain them), and number text is handed to
//! the decimal parser. Every method returns an error instead of panicking, whatever the
//! input.

/// Why a frame is not the JSON we expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsonError {
    /// The input ended inside a value.
    Truncated,
    /// A byte that cannot start or continue the expected token.
    Unexpected,
    /// Objects or arrays nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A value of another type than the decoder expects.
    WrongType,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonError::Truncated => "truncated JSON",
            JsonError::Unexpected => "malformed JSON",
            JsonError::TooDeep => "JSON nested too deep",
            JsonError::WrongType => "unexpected JSON type",
        })
    }
}

impl std::error::Error for JsonError {}

/// Bytes that end the fast scan of a string: the closing quote, a backslash, controls.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Deepest nesting [`Parser::skip`] accepts.
pub const MAX_DEPTH: u32 = 64;

/// Position inside one object or array: whether the next member is the first.
#[derive(Clone, Copy, Debug)]
pub struct Seq {
    first: bool,
}

/// A cursor over one JSON text.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, JsonError>;

impl<'a> Parser<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn expect(&mut self, b: u8) -> R<()> {
        match self.peek() {
            Some(c) if c == b => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(JsonError::Unexpected),
            None => Err(JsonError::Truncated),
        }
    }

    /// True when only whitespace remains.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Enters an object.
    #[inline]
    pub fn object(&mut self) -> R<Seq> {
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                Ok(Seq { first: true })
            }
            Some(_) => Err(JsonError::WrongType),
            None => Err(JsonError::Truncated),
        }
    }

    /// The next key of the object (raw bytes, escapes undecoded), with its colon
    /// consumed; `None` once the closing brace is consumed.
    #[inline]
    pub fn key(&mut self, s: &mut Seq) -> R<Option<&'a [u8]>> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                return Ok(None);
            }
            Some(b',') if !s.first => self.pos += 1,
            Some(_) if s.first => {}
            Some(_) => return Err(JsonError::Unexpected),
            None => return Err(JsonError::Truncated),
        }
        s.first = false;
        let k = self.string_raw()?;
        self.expect(b':')?;
        Ok(Some(k))
    }

    /// Enters an array.
    #[inline]
    pub fn array(&mut self) -> R<Seq> {
        match self.peek() {
            Some(b'[') => {
                self.pos += 1;
                Ok(Seq { first: true })
            }
            Some(_) => Err(JsonError::WrongType),
            None => Err(JsonError::Truncated),
        }
    }

    /// True when another element follows (its comma consumed); false once the closing
    /// bracket is consumed.
    #[inline]
    pub fn element(&mut self, s: &mut Seq) -> R<bool> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b',') if !s.first => {
                self.pos += 1;
                s.first = false;
                if self.peek().is_none() {
                    return Err(JsonError::Truncated);
                }
                Ok(true)
            }
            Some(_) if s.first => {
                s.first = false;
                Ok(true)
            }
            Some(_) => Err(JsonError::Unexpected),
            None => Err(JsonError::Truncated),
        }
    }

    /// A string's raw contents (between the quotes, escapes undecoded).
    #[inline]
    pub fn string_raw(&mut self) -> R<&'a [u8]> {
        match self.peek() {
            Some(b'"') => self.string_at_quote(),
            Some(_) => Err(JsonError::WrongType),
            None => Err(JsonError::Truncated),
        }
    }

    /// The string starting at the opening quote under the cursor.
    #[inline]
    fn string_at_quote(&mut self) -> R<&'a [u8]> {
        let start = self.pos + 1;
        let rest = self.buf.get(start..).unwrap_or(&[]);
        // Venue strings are short and plain: find the closing quote in one pass and only
        // look closer when a backslash or a control byte shows up.
        for (i, &b) in rest.iter().enumerate() {
            if SPECIAL[b as usize] {
                if b == b'"' {
                    self.pos = start + i + 1;
                    return Ok(&rest[..i]);
                }
                return self.string_slow(start);
            }
        }
        Err(JsonError::Truncated)
    }

    #[cold]
    fn string_slow(&mut self, start: usize) -> R<&'a [u8]> {
        self.pos = start;
        loop {
            match self.buf.get(self.pos) {
                Some(b'"') => {
                    let s = &self.buf[start..self.pos];
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => match self.buf.get(self.pos + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
                    Some(b'u') => {
                        let hex = self.buf.get(self.pos + 2..self.pos + 6).ok_or(JsonError::Truncated)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(JsonError::Unexpected);
                        }
                        self.pos += 6;
                    }
                    Some(_) => return Err(JsonError::Unexpected),
                    None => return Err(JsonError::Truncated),
                },
                Some(&b) if b < 0x20 => return Err(JsonError::Unexpected),
                Some(_) => self.pos += 1,
                None => return Err(JsonError::Truncated),
            }
        }
    }

    /// A number's raw text.
    #[inline]
    pub fn number_raw(&mut self) -> R<&'a [u8]> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            Some(_) => return Err(JsonError::WrongType),
            None => return Err(JsonError::Truncated),
        }
        let start = self.pos;
        while let Some(&b) = self.buf.get(self.pos) {
            if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(&self.buf[start..self.pos])
    }

    /// A decimal that the venue sends either as a string or as a number: its text.
    #[inline]
    pub fn decimal_raw(&mut self) -> R<&'a [u8]> {
        match self.peek() {
            Some(b'"') => self.string_at_quote(),
            _ => self.number_raw(),
        }
    }

    /// Fast path for a book level written compactly as `["1.5","2"]` or `[1.5,2,3]`:
    /// both numbers lexed and accumulated in one pass. `None` (cursor unmoved) for any
    /// other shape (whitespace, signs, exponents, long numbers, extra values that are not
    /// plain numbers); the caller then takes the general path.
    #[inline]
    pub fn plain_pair(&mut self) -> Option<(PlainDecimal<'a>, PlainDecimal<'a>)> {
        let b = self.buf;
        let mut at = self.pos;
        while matches!(b.get(at), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            at += 1;
        }
        if b.get(at) != Some(&b'[') {
            return None;
        }
        let (first, at) = plain_at(b, at + 1)?;
        if b.get(at) != Some(&b',') {
            return None;
        }
        let (second, mut at) = plain_at(b, at + 1)?;
        // MEXC futures levels carry an order count as a third number.
        while b.get(at) == Some(&b',') {
            at = plain_at(b, at + 1)?.1;
        }
        if b.get(at) != Some(&b']') {
            return None;
        }
        self.pos = at + 1;
        Some((first, second))
    }

    /// An unsigned integer given as a number or a string of digits.
    pub fn u64(&mut self) -> R<u64> {
        let t = self.decimal_raw()?;
        parse_u64(t).ok_or(JsonError::WrongType)
    }

    /// An integer given as a number or a string of digits.
    pub fn i64(&mut self) -> R<i64> {
        let t = self.decimal_raw()?;
        parse_i64(t).ok_or(JsonError::WrongType)
    }

    /// `true` or `false`.
    pub fn bool(&mut self) -> R<bool> {
        if self.literal(b"true")? {
            Ok(true)
        } else if self.literal(b"false")? {
            Ok(false)
        } else {
            Err(JsonError::WrongType)
        }
    }

    /// Consumes `null` if it is next.
    pub fn null(&mut self) -> R<bool> {
        self.literal(b"null")
    }

    fn literal(&mut self, word: &[u8]) -> R<bool> {
        self.ws();
        let rest = self.rest();
        if rest.starts_with(word) {
            self.pos += word.len();
            Ok(true)
        } else if word.starts_with(rest) && !rest.is_empty() {
            Err(JsonError::Truncated)
        } else {
            Ok(false)
        }
    }

    /// Skips one value of any type and returns its raw text.
    pub fn skip(&mut self) -> R<&'a [u8]> {
        self.ws();
        let start = self.pos;
        self.skip_at(0)?;
        Ok(&self.buf[start..self.pos])
    }

    fn skip_at(&mut self, depth: u32) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        match self.peek() {
            Some(b'{') => {
                let mut s = self.object()?;
                while self.key(&mut s)?.is_some() {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            Some(b'[') => {
                let mut s = self.array()?;
                while self.element(&mut s)? {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            Some(b'"') => self.string_raw().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number_raw().map(|_| ()),
            Some(b't' | b'f') => self.bool().map(|_| ()),
            Some(b'n') => {
                if self.null()? {
                    Ok(())
                } else {
                    Err(JsonError::Unexpected)
                }
            }
            Some(_) => Err(JsonError::Unexpected),
            None => Err(JsonError::Truncated),
        }
    }
}

/// A non-negative decimal lexed as plain digits with at most one point: its digits as
/// an integer, the count after the point, and the raw text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainDecimal<'a> {
    pub mantissa: u64,
    pub fraction_digits: u32,
    pub raw: &'a [u8],
}

/// `text` as a plain decimal when it is one, whole.
#[inline]
pub fn plain_decimal(text: &[u8]) -> Option<PlainDecimal<'_>> {
    match plain_at(text, 0) {
        Some((d, end)) if end == text.len() => Some(d),
        _ => None,
    }
}

/// A plain decimal at `at`, quoted or not; the position after it.
#[inline(always)]
fn plain_at(b: &[u8], at: usize) -> Option<(PlainDecimal<'_>, usize)> {
    let quoted = b.get(at) == Some(&b'"');
    let start = at + usize::from(quoted);
    let text = b.get(start..)?;
    let mut m: u64 = 0;
    let mut point = usize::MAX;
    let mut len = text.len();
    for (i, &c) in text.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            m = m.wrapping_mul(10).wrapping_add(u64::from(d));
        } else if c == b'.' && point == usize::MAX {
            point = i;
        } else {
            len = i;
            break;
        }
    }
    let has_point = point != usize::MAX;
    let digits = len - usize::from(has_point);
    // 19 digits always fit a u64; anything longer takes the general path.
    if digits == 0 || digits > 19 {
        return None;
    }
    let fraction_digits = if has_point { (len - point - 1) as u32 } else { 0 };
    let raw = &text[..len];
    let mut next = start + len;
    if quoted {
        if b.get(next) != Some(&b'"') {
            return None;
        }
        next += 1;
    }
    Some((PlainDecimal { mantissa: m, fraction_digits, raw }, next))
}

/// Digits only, no sign, at most u64.
pub fn parse_u64(t: &[u8]) -> Option<u64> {
    if t.is_empty() || t.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in t {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// An optional minus sign and digits, at most i64.
pub fn parse_i64(t: &[u8]) -> Option<i64> {
    match t.split_first() {
        Some((b'-', rest)) => {
            let v = parse_u64(rest)?;
            if v <= i64::MAX as u64 + 1 { Some((v as i64).wrapping_neg()) } else { None }
        }
        _ => i64::try_from(parse_u64(t)?).ok(),
    }
}

/// A whole-second or fractional timestamp's integer part (`"1606292218213.4578"`).
pub fn parse_u64_floor(t: &[u8]) -> Option<u64> {
    let int = t.split(|&b| b == b'.').next()?;
    parse_u64(int)
}

/// Whether `needle` (non-empty) occurs in `hay`: a plain byte search for the few places
/// that look for a marker in a frame or an error text without parsing it.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn walk(p: &mut Parser<'_>) -> R<()> {
        p.skip().map(|_| ())
    }

    #[test]
    fn reads_a_gate_frame_in_any_key_order() {
        let text = br#" {"time":1606294781,"channel":"spot.order_book_update","event":"update",
          "result":{"t":1606294781123,"s":"BTC_USDT","U":48776301,"u":48776306,
          "b":[["19137.74","0.0001"],["19088.37","0"]],"a":[["19137.75","0.6135"]]}} "#;
        let mut p = Parser::new(text);
        let mut o = p.object().unwrap();
        let mut seen = Vec::new();
        while let Some(k) = p.key(&mut o).unwrap() {
            match k {
                b"result" => {
                    let mut r = p.object().unwrap();
                    while let Some(k) = p.key(&mut r).unwrap() {
                        match k {
                            b"b" => {
                                let mut levels = p.array().unwrap();
                                while p.element(&mut levels).unwrap() {
                                    let mut lv = p.array().unwrap();
                                    assert!(p.element(&mut lv).unwrap());
                                    seen.push(p.decimal_raw().unwrap().to_vec());
                                    assert!(p.element(&mut lv).unwrap());
                                    seen.push(p.decimal_raw().unwrap().to_vec());
                                    assert!(!p.element(&mut lv).unwrap());
                                }
                            }
                            b"U" => assert_eq!(p.u64().unwrap(), 48776301),
                            _ => {
                                p.skip().unwrap();
                            }
                        }
                    }
                }
                _ => {
                    p.skip().unwrap();
                }
            }
        }
        assert!(p.at_end());
        assert_eq!(seen, vec![b"19137.74".to_vec(), b"0.0001".to_vec(), b"19088.37".to_vec(), b"0".to_vec()]);
    }

    #[test]
    fn plain_pairs_take_the_fast_path_and_odd_shapes_do_not() {
        let mut p = Parser::new(br#"[["19137.74","0.0001"],[6859.5,3251,1]]"#);
        let mut a = p.array().unwrap();
        assert!(p.element(&mut a).unwrap());
        let (x, y) = p.plain_pair().unwrap();
        assert_eq!((x.mantissa, x.fraction_digits, x.raw), (1913774, 2, &b"19137.74"[..]));
        assert_eq!((y.mantissa, y.fraction_digits), (1, 4));
        assert!(p.element(&mut a).unwrap());
        let (x, y) = p.plain_pair().unwrap();
        assert_eq!((x.mantissa, x.fraction_digits, y.mantissa), (68595, 1, 3251));
        assert!(!p.element(&mut a).unwrap());
        for odd in [
            &br#"[ "1", "2"]"#[..],
            br#"["-1","2"]"#,
            br#"["1e5","2"]"#,
            br#"["1","2""#,
            br#"["1",2,"x"]"#,
            b"[1.2.3,4]",
            br#"["12345678901234567890","1"]"#,
        ] {
            let mut p = Parser::new(odd);
            assert_eq!(p.plain_pair(), None, "{}", String::from_utf8_lossy(odd));
            assert_eq!(p.rest(), odd, "the cursor stays put");
        }
    }

    #[test]
    fn numbers_keep_their_text() {
        let mut p = Parser::new(b"[6859.5,3251,1,-0.5e-3]");
        let mut a = p.array().unwrap();
        let mut out = Vec::new();
        while p.element(&mut a).unwrap() {
            out.push(std::str::from_utf8(p.decimal_raw().unwrap()).unwrap().to_owned());
        }
        assert_eq!(out, ["6859.5", "3251", "1", "-0.5e-3"]);
    }

    #[test]
    fn malformed_structure_is_refused() {
        for bad in [
            &b"{"[..],
            b"{\"a\"",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":1 \"b\":2}",
            b"[1,]",
            b"[1 2]",
            b"[,1]",
            b"\"abc",
            b"\"a\\x\"",
            b"\"a\\u12g4\"",
            b"tru",
            b"nul",
            b"}",
            b"",
            b"@",
        ] {
            assert!(walk(&mut Parser::new(bad)).is_err(), "{:?} accepted", std::str::from_utf8(bad));
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(walk(&mut Parser::new(deep.as_bytes())), Err(JsonError::TooDeep));
    }

    #[test]
    fn integers_parse_with_bounds() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_u64_floor(b"1606292218213.4578"), Some(1606292218213));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = walk(&mut Parser::new(&bytes));
        }

        #[test]
        fn valid_json_from_serde_is_accepted(v in json_value()) {
            let text = serde_json::to_string(&v).unwrap();
            let mut p = Parser::new(text.as_bytes());
            prop_assert_eq!(p.skip().map(|s| s.len()), Ok(text.len()));
            prop_assert!(p.at_end());
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            "[a-zA-Z0-9_ .\"\\\\/\u{e9}\u{1F600}-]{0,12}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[a-z]{1,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
