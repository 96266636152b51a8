//! API credentials and the keyed hashes both venues sign requests with.
//!
//! A [`Secret`] never shows its value: `Debug` and `Display` print a fixed mask, and the
//! bytes are zeroed on drop. Signing goes through `ring` (already compiled in for
//! rustls' `ring` provider, so it costs no extra dependency) and writes lowercase hex into
//! fixed-size stack buffers ([`Hex`]): signing an order allocates nothing.
//!
//! The HMAC key schedule (the hash states of the padded key, two compression rounds) is
//! the same for every request of an account, so each secret prepares it once per
//! algorithm, on first use, and every signature starts from it. Those states are as
//! sensitive as the secret and, unlike its bytes, `ring` does not zero them on drop;
//! they live in the secret itself, as long as it does.

use std::fmt;
use std::sync::OnceLock;

use ring::{digest, hmac};
use zeroize::Zeroizing;

/// An API secret. Its value is only reachable by the signing functions in this crate.
#[derive(Clone)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
    /// The prepared HMAC keys: SHA-256, SHA-512.
    keys: [OnceLock<hmac::Key>; 2],
}

impl Secret {
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Secret { bytes: Zeroizing::new(value.into()), keys: [OnceLock::new(), OnceLock::new()] }
    }

    /// Reads a secret from the environment variable `name` (secrets never come from
    /// config files or flags).
    pub fn from_env(name: &str) -> Result<Self, MissingSecret> {
        std::env::var(name).map(Secret::new).map_err(|_| MissingSecret(name.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The HMAC key for `algorithm` (SHA-256 or SHA-512), prepared on first use.
    fn key(&self, algorithm: hmac::Algorithm) -> &hmac::Key {
        debug_assert!(algorithm == hmac::HMAC_SHA256 || algorithm == hmac::HMAC_SHA512);
        let slot = usize::from(algorithm == hmac::HMAC_SHA512);
        self.keys[slot].get_or_init(|| hmac::Key::new(algorithm, &self.bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An environment variable that should hold a secret is not set (or not UTF-8).
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingSecret(pub String);

/// One venue account's API key pair.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub api_key: String,
    pub api_secret: Secret,
}

impl Credentials {
    pub fn new(api_key: impl Into<String>, api_secret: Secret) -> Self {
        Credentials { api_key: api_key.into(), api_secret }
    }
}

/// Lowercase hex of a digest, `N` characters, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex<const N: usize>([u8; N]);

/// Hex of a SHA-256 digest or HMAC-SHA256 tag.
pub type Hex64 = Hex<64>;
/// Hex of a SHA-512 digest or HMAC-SHA512 tag.
pub type Hex128 = Hex<128>;

impl<const N: usize> Hex<N> {
    fn encode(bytes: &[u8]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        debug_assert_eq!(bytes.len() * 2, N);
        let mut out = [b'0'; N];
        for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        Hex(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Display for Hex<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for Hex<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hex({})", self.as_str())
    }
}

impl<const N: usize> AsRef<str> for Hex<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// HMAC-SHA256 over the concatenation of `parts`, as lowercase hex.
pub fn hmac_sha256_hex(secret: &Secret, parts: &[&[u8]]) -> Hex64 {
    Hex::encode(hmac_parts(secret.key(hmac::HMAC_SHA256), parts).as_ref())
}

/// HMAC-SHA512 over the concatenation of `parts`, as lowercase hex.
pub fn hmac_sha512_hex(secret: &Secret, parts: &[&[u8]]) -> Hex128 {
    Hex::encode(hmac_parts(secret.key(hmac::HMAC_SHA512), parts).as_ref())
}

/// SHA-512 of `data`, as lowercase hex.
pub fn sha512_hex(data: &[u8]) -> Hex128 {
    Hex::encode(digest::digest(&digest::SHA512, data).as_ref())
}

fn hmac_parts(key: &hmac::Key, parts: &[&[u8]]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    for part in parts {
        ctx.update(part);
    }
    ctx.sign()
}

/// A `u64` in decimal, on the stack (timestamps in headers and signed strings).
#[derive(Clone, Copy)]
pub struct Decimal {
    buf: [u8; 20],
    start: u8,
}

impl Decimal {
    pub fn new(mut value: u64) -> Self {
        let mut buf = [b'0'; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        Decimal { buf, start: i as u8 }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[usize::from(self.start)..]).unwrap_or_default()
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Appends `s` to `out` as a JSON string literal (quotes included).
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let v = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(DIGITS[v >> 4]));
                out.push(char::from(DIGITS[v & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let secret = Secret::new("hunter2-super-secret");
        let creds = Credentials::new("key-1", secret.clone());
        for shown in [format!("{secret}"), format!("{secret:?}"), format!("{creds:?}"), format!("{creds:#?}")]
        {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert!(format!("{creds:?}").contains("key-1"));
    }

    #[test]
    fn decimal_formats_like_display() {
        for v in [0u64, 7, 10, 1_541_993_715, 1_644_489_390_087, u64::MAX] {
            assert_eq!(Decimal::new(v).as_str(), v.to_string());
        }
    }

    #[test]
    fn hmac_over_parts_equals_hmac_over_concatenation() {
        let secret = Secret::new("k");
        assert_eq!(hmac_sha256_hex(&secret, &[b"ab", b"", b"cd"]), hmac_sha256_hex(&secret, &[b"abcd"]));
        assert_eq!(hmac_sha512_hex(&secret, &[b"a", b"bcd"]), hmac_sha512_hex(&secret, &[b"abcd"]));
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\n");
        assert_eq!(out, r#""a\"b\\c\u000a""#);
    }
}
