//! The engine instance's identity: a short prefix fixed when its journal is created and
//! written into it, which every client order id the instance sends carries.
//!
//! Operation numbers start again in every new journal, so `{op}-{leg}-{attempt}` alone
//! names the same orders for two engines trading one account, or for one engine that
//! lost its journal: each would take the other's fills for its own. With the prefix a
//! client id reads `{prefix}{op}-{leg}-{attempt}` (`kqzvme17-1-0`), and an order or fill
//! whose id does not start with this instance's prefix is foreign: counted and reported,
//! never adopted.
//!
//! The prefix is six lower-case letters (26^6, about 3 * 10^8 of them, drawn at random):
//! letters, so the decimal operation number that follows can never be read as part of
//! it. With an operation number of up to 17 digits (below 2^56, beyond any journal's
//! life), the leg and a two-digit attempt, an id is at most 28 bytes, what Gate.io
//! allows after its `t-`; MEXC takes the same text in `newClientOrderId` and
//! `externalOid`. A journal written before identities existed keeps the empty prefix,
//! so its orders are still recognised.

use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// The letters of a prefix.
pub const PREFIX_LEN: usize = 6;

/// An instance's client order id prefix: [`PREFIX_LEN`] lower-case ASCII letters, or
/// empty for a journal older than identities.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClientPrefix {
    len: u8,
    bytes: [u8; PREFIX_LEN],
}

impl ClientPrefix {
    /// The empty prefix of a journal written before identities.
    pub const LEGACY: ClientPrefix = ClientPrefix { len: 0, bytes: [0; PREFIX_LEN] };

    /// `text` as a prefix: empty, or exactly [`PREFIX_LEN`] lower-case ASCII letters.
    pub fn new(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if !(b.is_empty() || b.len() == PREFIX_LEN) || !b.iter().all(u8::is_ascii_lowercase) {
            return None;
        }
        let mut bytes = [0; PREFIX_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self { len: b.len() as u8, bytes })
    }

    /// A fresh random prefix (from the process's randomly keyed hasher, the time and the
    /// process id).
    pub fn generate() -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        let mut v = h.finish();
        let mut bytes = [0; PREFIX_LEN];
        for b in &mut bytes {
            *b = b'a' + (v % 26) as u8;
            v /= 26;
        }
        Self { len: PREFIX_LEN as u8, bytes }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len).min(PREFIX_LEN)]).unwrap_or("")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(PREFIX_LEN)]
    }

    pub fn is_legacy(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for ClientPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientPrefix({:?})", self.as_str())
    }
}

impl fmt::Display for ClientPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_six_letters_or_empty_and_differ_between_draws() {
        let a = ClientPrefix::generate();
        assert_eq!(a.as_str().len(), PREFIX_LEN);
        assert!(a.as_bytes().iter().all(u8::is_ascii_lowercase), "{a}");
        assert_eq!(ClientPrefix::new(a.as_str()), Some(a));
        let draws: std::collections::HashSet<_> = (0..64).map(|_| ClientPrefix::generate()).collect();
        assert!(draws.len() > 60, "random draws rarely collide");
        assert_eq!(ClientPrefix::new(""), Some(ClientPrefix::LEGACY));
        for bad in ["abc", "abcdefg", "abcde1", "ABCDEF", "abc-de"] {
            assert_eq!(ClientPrefix::new(bad), None, "{bad}");
        }
    }
}
