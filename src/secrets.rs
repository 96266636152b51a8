//! API credentials from the environment, plain or Fernet-encrypted.
//!
//! Secrets never live in config files or flags (see `config/production.toml`). Each venue
//! reads two variables, each either plain or encrypted:
//!
//! | plain | encrypted |
//! |---|---|
//! | `GATEIO_API_KEY`, `GATEIO_API_SECRET` | `GATEIO_API_KEY_ENCRYPTED`, `GATEIO_API_SECRET_ENCRYPTED` |
//! | `MEXC_API_KEY`, `MEXC_API_SECRET` | `MEXC_API_KEY_ENCRYPTED`, `MEXC_API_SECRET_ENCRYPTED` |
//!
//! Where a configuration names other variables (order entry's `api_key_env` and
//! `api_secret_env`), [`require_from_env`] reads those and their `_ENCRYPTED` forms.
//!
//! An encrypted value is a Fernet token made with the key in `ENCRYPTION_KEY`
//! (`arb keys generate`, `arb keys encrypt`), so an operator can keep the tokens in a
//! deployment manifest and the one key in a secret store.
//!
//! # Fernet
//!
//! The [Fernet spec](https://github.com/fernet/spec/blob/master/Spec.md), byte for byte
//! what Python's `cryptography.fernet` makes and reads (`tests/data/fernet_vectors.json`
//! holds tokens it made). The key is url-safe base64 of 32 bytes: a 16-byte HMAC-SHA256
//! signing key, then a 16-byte AES-128 key. A token is url-safe base64 of
//!
//! ```text
//! 0x80 | timestamp (u64 BE, seconds) | IV (16) | AES-128-CBC(PKCS7(plaintext)) | HMAC (32)
//! ```
//!
//! with the HMAC-SHA256 over everything before it. Decryption checks the HMAC first, in
//! constant time, so nothing about an unauthenticated token (padding, age) is ever
//! reported. AES-CBC comes from RustCrypto's `aes` and `cbc`; HMAC and the random IVs and
//! keys from `ring`, which the TLS stack already compiles in.
//!
//! # Hygiene
//!
//! Key material and plaintexts sit in `Zeroizing` buffers that are wiped on drop, and no
//! error carries any of it: errors name variables, never values. [`FernetKey`] and the
//! resulting [`Credentials`] print masks in `Debug`. Surrounding whitespace (a trailing
//! newline from a file-backed Kubernetes Secret) is not part of any key and is trimmed.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adapters::auth::{Credentials, Secret};
use aes::Aes128;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use pipeline::types::Venue;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// The environment variable holding the Fernet key.
pub const ENCRYPTION_KEY_VAR: &str = "ENCRYPTION_KEY";

const VERSION: u8 = 0x80;
const HEADER_LEN: usize = 1 + 8 + 16;
const MAC_LEN: usize = 32;
const BLOCK: usize = 16;
/// How far in the future a token's timestamp may be when a TTL is checked (the same
/// allowance as Python's implementation).
const MAX_CLOCK_SKEW_S: u64 = 60;

/// Url-safe base64 with `=` padding when encoding; padding optional when decoding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a key or token was refused. Carries no key, token or plaintext material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FernetError {
    #[error("not a Fernet key: expected url-safe base64 of 32 bytes (`arb keys generate` makes one)")]
    InvalidKey,
    #[error("not a Fernet token (bad base64, version or length)")]
    Malformed,
    #[error("the token does not verify: wrong key, or the token was altered")]
    BadSignature,
    #[error("the token is {age_s} s old, older than the allowed {ttl_s} s")]
    Expired { age_s: u64, ttl_s: u64 },
    #[error("the token's timestamp is {ahead_s} s in the future")]
    FromTheFuture { ahead_s: u64 },
    #[error("the system random number generator failed")]
    Random,
}

/// A Fernet key: the HMAC-SHA256 signing half and the AES-128 encryption half.
#[derive(Clone)]
pub struct FernetKey {
    signing: Zeroizing<[u8; 16]>,
    encryption: Zeroizing<[u8; 16]>,
}

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FernetKey(***)")
    }
}

impl FernetKey {
    /// A new key from the system's random number generator.
    pub fn generate() -> Result<Self, FernetError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new().fill(&mut bytes[..]).map_err(|_| FernetError::Random)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Parses the url-safe base64 form (what `Fernet.generate_key()` prints), ignoring
    /// surrounding whitespace.
    pub fn parse(text: &str) -> Result<Self, FernetError> {
        let bytes = Zeroizing::new(B64.decode(text.trim()).map_err(|_| FernetError::InvalidKey)?);
        let bytes: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| FernetError::InvalidKey)?;
        Ok(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut signing = Zeroizing::new([0u8; 16]);
        let mut encryption = Zeroizing::new([0u8; 16]);
        signing.copy_from_slice(&bytes[..16]);
        encryption.copy_from_slice(&bytes[16..]);
        FernetKey { signing, encryption }
    }

    /// The url-safe base64 form, for `ENCRYPTION_KEY`.
    pub fn to_base64(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes[..16].copy_from_slice(&*self.signing);
        bytes[16..].copy_from_slice(&*self.encryption);
        Zeroizing::new(B64.encode(&bytes[..]))
    }

    fn mac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.signing[..])
    }

    /// Encrypts `plaintext` now, with a random IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, FernetError> {
        let mut iv = [0u8; 16];
        SystemRandom::new().fill(&mut iv).map_err(|_| FernetError::Random)?;
        Ok(self.encrypt_with(plaintext, unix_now_s(), iv))
    }

    /// Encrypts with a given timestamp and IV. Deterministic: for tests against other
    /// implementations. Never reuse an IV in production; use [`FernetKey::encrypt`].
    pub fn encrypt_with(&self, plaintext: &[u8], timestamp_s: u64, iv: [u8; 16]) -> String {
        let padded = (plaintext.len() / BLOCK + 1) * BLOCK;
        let mut token = Zeroizing::new(vec![0u8; HEADER_LEN + padded + MAC_LEN]);
        token[0] = VERSION;
        token[1..9].copy_from_slice(&timestamp_s.to_be_bytes());
        token[9..HEADER_LEN].copy_from_slice(&iv);
        let body = &mut token[HEADER_LEN..HEADER_LEN + padded];
        body[..plaintext.len()].copy_from_slice(plaintext);
        let encrypted = cbc::Encryptor::<Aes128>::new(&(*self.encryption).into(), &iv.into())
            .encrypt_padded_mut::<Pkcs7>(body, plaintext.len())
            .expect("the body has room for the plaintext and its padding")
            .len();
        debug_assert_eq!(encrypted, padded);
        let signed_len = HEADER_LEN + padded;
        let tag = hmac::sign(&self.mac_key(), &token[..signed_len]);
        token[signed_len..].copy_from_slice(tag.as_ref());
        B64.encode(&token[..])
    }

    /// Verifies and decrypts `token` (surrounding whitespace ignored). With a `ttl`, a
    /// token older than it, or more than a minute in the future, is refused.
    pub fn decrypt(&self, token: &str, ttl: Option<Duration>) -> Result<Zeroizing<Vec<u8>>, FernetError> {
        self.decrypt_at(token, ttl, unix_now_s())
    }

    /// [`FernetKey::decrypt`] with the current time given, in seconds since the epoch.
    pub fn decrypt_at(
        &self,
        token: &str,
        ttl: Option<Duration>,
        now_s: u64,
    ) -> Result<Zeroizing<Vec<u8>>, FernetError> {
        let data = B64.decode(token.trim()).map_err(|_| FernetError::Malformed)?;
        if data.len() < HEADER_LEN + BLOCK + MAC_LEN
            || (data.len() - HEADER_LEN - MAC_LEN) % BLOCK != 0
            || data[0] != VERSION
        {
            return Err(FernetError::Malformed);
        }
        let (signed, tag) = data.split_at(data.len() - MAC_LEN);
        hmac::verify(&self.mac_key(), signed, tag).map_err(|_| FernetError::BadSignature)?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&data[1..9]);
        let timestamp_s = u64::from_be_bytes(ts);
        if let Some(ttl) = ttl {
            let ttl_s = ttl.as_secs();
            if timestamp_s.saturating_add(ttl_s) < now_s {
                return Err(FernetError::Expired { age_s: now_s - timestamp_s, ttl_s });
            }
            if now_s.saturating_add(MAX_CLOCK_SKEW_S) < timestamp_s {
                return Err(FernetError::FromTheFuture { ahead_s: timestamp_s - now_s });
            }
        }
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&data[9..HEADER_LEN]);
        let mut plain = Zeroizing::new(signed[HEADER_LEN..].to_vec());
        let len = cbc::Decryptor::<Aes128>::new(&(*self.encryption).into(), &iv.into())
            .decrypt_padded_mut::<Pkcs7>(&mut plain)
            .map_err(|_| FernetError::Malformed)?
            .len();
        plain.truncate(len);
        Ok(plain)
    }
}

fn unix_now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The environment variables one venue's credentials are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvNames {
    pub api_key: String,
    pub api_secret: String,
    pub api_key_encrypted: String,
    pub api_secret_encrypted: String,
}

impl EnvNames {
    /// The default names: `GATEIO_API_KEY`, ..., `MEXC_API_SECRET_ENCRYPTED`.
    pub fn of(venue: Venue) -> Self {
        match venue {
            Venue::GateIo => Self::named("GATEIO_API_KEY", "GATEIO_API_SECRET"),
            Venue::Mexc => Self::named("MEXC_API_KEY", "MEXC_API_SECRET"),
        }
    }

    /// Other names (a configuration's `api_key_env`/`api_secret_env`); the encrypted
    /// forms add `_ENCRYPTED`.
    pub fn named(api_key: &str, api_secret: &str) -> Self {
        EnvNames {
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            api_key_encrypted: format!("{api_key}_ENCRYPTED"),
            api_secret_encrypted: format!("{api_secret}_ENCRYPTED"),
        }
    }
}

/// Why a venue's credentials could not be read. Names variables, never values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "{present} is set but neither {missing} nor {missing}_ENCRYPTED is: set both the key and the secret, or neither"
    )]
    Incomplete { present: String, missing: String },
    #[error("both {plain} and {encrypted} are set: keep one")]
    Ambiguous { plain: String, encrypted: String },
    #[error("{var} is empty (or not UTF-8)")]
    Empty { var: String },
    #[error("{var} is set but {ENCRYPTION_KEY_VAR} is not")]
    NoEncryptionKey { var: String },
    #[error("{ENCRYPTION_KEY_VAR}: {source}")]
    Key { source: FernetError },
    #[error("{var}: {source}")]
    Decrypt { var: String, source: FernetError },
    #[error("{var} decrypts to bytes that are not UTF-8")]
    NotUtf8 { var: String },
    #[error("none of {key}, {key}_ENCRYPTED, {secret}, {secret}_ENCRYPTED is set")]
    Missing { key: String, secret: String },
}

/// Where a credential came from, for `arb keys check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Plain,
    Encrypted,
}

impl Source {
    pub const fn name(self) -> &'static str {
        match self {
            Source::Plain => "plain",
            Source::Encrypted => "encrypted",
        }
    }
}

/// One venue's credentials with where each half came from.
#[derive(Clone, Debug)]
pub struct LoadedCredentials {
    pub credentials: Credentials,
    pub key_source: Source,
    pub secret_source: Source,
}

/// Reads `venue`'s credentials through `lookup` (the environment in production, a map
/// in tests). `Ok(None)` when none of its variables is set: the venue has no account.
pub fn credentials(
    venue: Venue,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<LoadedCredentials>, CredentialsError> {
    credentials_named(EnvNames::of(venue), lookup)
}

/// [`credentials`] under other variable names.
pub fn credentials_named(
    names: EnvNames,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<LoadedCredentials>, CredentialsError> {
    let key = read_one(&lookup, &names.api_key, &names.api_key_encrypted)?;
    let secret = read_one(&lookup, &names.api_secret, &names.api_secret_encrypted)?;
    // The variable that is set, in the form it is set in.
    let set = |raw: &Raw, plain: &str, encrypted: &str| match raw {
        Raw::Plain(_) => plain.to_owned(),
        Raw::Encrypted(_) => encrypted.to_owned(),
    };
    let (key, secret) = match (key, secret) {
        (None, None) => return Ok(None),
        (Some(k), None) => {
            let present = set(&k, &names.api_key, &names.api_key_encrypted);
            return Err(CredentialsError::Incomplete { present, missing: names.api_secret });
        }
        (None, Some(s)) => {
            let present = set(&s, &names.api_secret, &names.api_secret_encrypted);
            return Err(CredentialsError::Incomplete { present, missing: names.api_key });
        }
        (Some(k), Some(s)) => (k, s),
    };
    let mut encryption_key = None;
    let mut reveal = |raw: Raw, plain_var: &str, encrypted_var: &str| -> Result<Vec<u8>, CredentialsError> {
        match raw {
            Raw::Plain(mut v) => {
                trim_in_place(&mut v);
                if v.is_empty() {
                    return Err(CredentialsError::Empty { var: plain_var.to_owned() });
                }
                Ok(std::mem::take(&mut *v))
            }
            Raw::Encrypted(token) => {
                if encryption_key.is_none() {
                    let text = Zeroizing::new(lookup(ENCRYPTION_KEY_VAR).ok_or_else(|| {
                        CredentialsError::NoEncryptionKey { var: encrypted_var.to_owned() }
                    })?);
                    encryption_key =
                        Some(FernetKey::parse(&text).map_err(|source| CredentialsError::Key { source })?);
                }
                let key = encryption_key.as_ref().expect("set just above");
                let mut v = key
                    .decrypt(&token, None)
                    .map_err(|source| CredentialsError::Decrypt { var: encrypted_var.to_owned(), source })?;
                trim_in_place(&mut v);
                if v.is_empty() {
                    return Err(CredentialsError::Empty { var: encrypted_var.to_owned() });
                }
                Ok(std::mem::take(&mut *v))
            }
        }
    };
    let key_source = key.source();
    let secret_source = secret.source();
    let api_key = reveal(key, &names.api_key, &names.api_key_encrypted)?;
    let api_key = String::from_utf8(api_key).map_err(|e| {
        // Wipe the bytes inside the error before dropping it.
        drop(Zeroizing::new(e.into_bytes()));
        CredentialsError::NotUtf8 { var: names.api_key_encrypted.clone() }
    })?;
    let api_secret = Secret::new(reveal(secret, &names.api_secret, &names.api_secret_encrypted)?);
    Ok(Some(LoadedCredentials {
        credentials: Credentials::new(api_key, api_secret),
        key_source,
        secret_source,
    }))
}

/// [`credentials`] from the process environment.
pub fn credentials_from_env(venue: Venue) -> Result<Option<LoadedCredentials>, CredentialsError> {
    credentials(venue, env_lookup)
}

/// The credentials under `api_key_var`/`api_secret_var` (plain or `_ENCRYPTED`) in the
/// process environment, which must be there: for a venue the engine sends orders to.
pub fn require_from_env(api_key_var: &str, api_secret_var: &str) -> Result<Credentials, CredentialsError> {
    require_with(api_key_var, api_secret_var, env_lookup)
}

/// [`require_from_env`] through `lookup`.
pub fn require_with(
    api_key_var: &str,
    api_secret_var: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, CredentialsError> {
    credentials_named(EnvNames::named(api_key_var, api_secret_var), lookup)?
        .map(|c| c.credentials)
        .ok_or_else(|| CredentialsError::Missing {
            key: api_key_var.to_owned(),
            secret: api_secret_var.to_owned(),
        })
}

/// Reads a variable from the process environment; a value that is not UTF-8 reads as
/// empty (and is then refused as such).
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.into_string().unwrap_or_default())
}

enum Raw {
    Plain(Zeroizing<Vec<u8>>),
    Encrypted(String),
}

impl Raw {
    fn source(&self) -> Source {
        match self {
            Raw::Plain(_) => Source::Plain,
            Raw::Encrypted(_) => Source::Encrypted,
        }
    }
}

fn read_one(
    lookup: &impl Fn(&str) -> Option<String>,
    plain: &str,
    encrypted: &str,
) -> Result<Option<Raw>, CredentialsError> {
    match (lookup(plain), lookup(encrypted)) {
        (Some(p), Some(_)) => {
            drop(Zeroizing::new(p));
            Err(CredentialsError::Ambiguous { plain: plain.to_owned(), encrypted: encrypted.to_owned() })
        }
        (Some(p), None) => Ok(Some(Raw::Plain(Zeroizing::new(p.into_bytes())))),
        (None, Some(t)) => Ok(Some(Raw::Encrypted(t))),
        (None, None) => Ok(None),
    }
}

/// Removes surrounding ASCII whitespace without copying the bytes elsewhere.
pub(crate) fn trim_in_place(v: &mut Vec<u8>) {
    while v.last().is_some_and(u8::is_ascii_whitespace) {
        v.pop();
    }
    let start = v.iter().take_while(|b| b.is_ascii_whitespace()).count();
    if start > 0 {
        v.copy_within(start.., 0);
        let len = v.len() - start;
        // Zero the tail before shortening so the moved bytes leave no copy behind.
        v[len..].fill(0);
        v.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn round_trip_every_length_around_the_block_size() {
        let key = FernetKey::generate().unwrap();
        for len in 0..50 {
            let plain: Vec<u8> = (0..len as u8).collect();
            let token = key.encrypt(&plain).unwrap();
            assert_eq!(*key.decrypt(&token, None).unwrap(), plain, "len {len}");
        }
    }

    #[test]
    fn key_text_round_trips_and_bad_keys_are_refused() {
        let key = FernetKey::parse(KEY).unwrap();
        assert_eq!(key.to_base64().as_str(), KEY);
        assert!(FernetKey::parse(&format!("  {KEY}\n")).is_ok());
        assert_eq!(FernetKey::parse(&KEY[..40]).unwrap_err(), FernetError::InvalidKey);
        assert_eq!(FernetKey::parse("not base64 at all!").unwrap_err(), FernetError::InvalidKey);
        let short = B64.encode([7u8; 31]);
        assert_eq!(FernetKey::parse(&short).unwrap_err(), FernetError::InvalidKey);
    }

    #[test]
    fn ttl_is_optional_and_checked_after_the_signature() {
        let key = FernetKey::parse(KEY).unwrap();
        let token = key.encrypt_with(b"s", 1_000, [1; 16]);
        let ttl = Some(Duration::from_secs(100));
        assert!(key.decrypt_at(&token, None, 1_000_000).is_ok());
        assert!(key.decrypt_at(&token, ttl, 1_100).is_ok());
        assert_eq!(
            key.decrypt_at(&token, ttl, 1_101).unwrap_err(),
            FernetError::Expired { age_s: 101, ttl_s: 100 }
        );
        assert!(key.decrypt_at(&token, ttl, 940).is_ok());
        assert_eq!(key.decrypt_at(&token, ttl, 939).unwrap_err(), FernetError::FromTheFuture { ahead_s: 61 });
        let other = FernetKey::generate().unwrap();
        assert_eq!(other.decrypt_at(&token, ttl, 5_000).unwrap_err(), FernetError::BadSignature);
    }

    #[test]
    fn key_debug_is_masked() {
        let key = FernetKey::parse(KEY).unwrap();
        assert_eq!(format!("{key:?}"), "FernetKey(***)");
    }

    #[test]
    fn trims_in_place() {
        for (input, want) in [("  ab c\n", "ab c"), ("abc", "abc"), (" \t\r\n", ""), ("", ""), ("\nx", "x")] {
            let mut v = input.as_bytes().to_vec();
            trim_in_place(&mut v);
            assert_eq!(v, want.as_bytes(), "{input:?}");
        }
    }

    #[test]
    fn plain_credentials_are_trimmed_and_masked() {
        let got =
            credentials(Venue::GateIo, env(&[("GATEIO_API_KEY", "k1"), ("GATEIO_API_SECRET", "s3cr3t\n")]))
                .unwrap()
                .unwrap();
        assert_eq!(got.credentials.api_key, "k1");
        assert_eq!((got.key_source, got.secret_source), (Source::Plain, Source::Plain));
        assert!(!format!("{got:?}").contains("s3cr3t"));
        assert!(credentials(Venue::Mexc, env(&[("GATEIO_API_KEY", "k1")])).unwrap().is_none());
    }

    #[test]
    fn encrypted_credentials_decrypt_with_the_key() {
        let key = FernetKey::parse(KEY).unwrap();
        let k = key.encrypt(b"mx0key").unwrap();
        let s = key.encrypt(b"the-secret").unwrap();
        let vars = [("MEXC_API_KEY_ENCRYPTED", k.as_str()), ("MEXC_API_SECRET_ENCRYPTED", s.as_str())];
        let mut with_key = vars.to_vec();
        with_key.push(("ENCRYPTION_KEY", KEY));
        let got = credentials(Venue::Mexc, env(&with_key)).unwrap().unwrap();
        assert_eq!(got.credentials.api_key, "mx0key");
        assert_eq!(got.secret_source, Source::Encrypted);
        assert_eq!(
            credentials(Venue::Mexc, env(&vars)).unwrap_err(),
            CredentialsError::NoEncryptionKey { var: "MEXC_API_KEY_ENCRYPTED".into() }
        );
    }

    #[test]
    fn configured_names_and_required_credentials() {
        let key = FernetKey::parse(KEY).unwrap();
        let s = key.encrypt(b"sub-secret").unwrap();
        let vars = [("SUB_KEY", "k2"), ("SUB_SECRET_ENCRYPTED", s.as_str()), ("ENCRYPTION_KEY", KEY)];
        let c = require_with("SUB_KEY", "SUB_SECRET", env(&vars)).unwrap();
        assert_eq!(c.api_key, "k2");
        assert_eq!(
            require_with("GATEIO_API_KEY", "GATEIO_API_SECRET", env(&vars)).unwrap_err(),
            CredentialsError::Missing { key: "GATEIO_API_KEY".into(), secret: "GATEIO_API_SECRET".into() }
        );
    }

    #[test]
    fn mixed_incomplete_and_ambiguous_settings() {
        let key = FernetKey::parse(KEY).unwrap();
        let s = key.encrypt(b"the-secret").unwrap();
        let mixed =
            [("GATEIO_API_KEY", "k"), ("GATEIO_API_SECRET_ENCRYPTED", s.as_str()), ("ENCRYPTION_KEY", KEY)];
        let got = credentials(Venue::GateIo, env(&mixed)).unwrap().unwrap();
        assert_eq!((got.key_source, got.secret_source), (Source::Plain, Source::Encrypted));

        let err = credentials(Venue::GateIo, env(&[("GATEIO_API_KEY", "k")])).unwrap_err();
        assert!(matches!(err, CredentialsError::Incomplete { .. }), "{err}");
        // The variable named is the one set, in its form.
        let err = credentials(Venue::Mexc, env(&[("MEXC_API_KEY_ENCRYPTED", "garbage")])).unwrap_err();
        assert!(
            err.to_string().starts_with("MEXC_API_KEY_ENCRYPTED is set but neither MEXC_API_SECRET"),
            "{err}"
        );
        let err = credentials(
            Venue::GateIo,
            env(&[("GATEIO_API_KEY", "k"), ("GATEIO_API_SECRET", "x"), ("GATEIO_API_SECRET_ENCRYPTED", &s)]),
        )
        .unwrap_err();
        assert!(matches!(err, CredentialsError::Ambiguous { .. }), "{err}");
        let err = credentials(Venue::GateIo, env(&[("GATEIO_API_KEY", "k"), ("GATEIO_API_SECRET", " \n")]))
            .unwrap_err();
        assert_eq!(err, CredentialsError::Empty { var: "GATEIO_API_SECRET".into() });
    }

    #[test]
    fn errors_never_show_secret_material() {
        let key = FernetKey::parse(KEY).unwrap();
        let token = key.encrypt(b"topsecretvalue").unwrap();
        let wrong = FernetKey::generate().unwrap().to_base64();
        let cases = [
            env(&[
                ("GATEIO_API_KEY", "k"),
                ("GATEIO_API_SECRET_ENCRYPTED", &token),
                ("ENCRYPTION_KEY", &wrong),
            ]),
            env(&[
                ("GATEIO_API_KEY", "k"),
                ("GATEIO_API_SECRET_ENCRYPTED", &token),
                ("ENCRYPTION_KEY", "bad-key"),
            ]),
            env(&[
                ("GATEIO_API_KEY", "k"),
                ("GATEIO_API_SECRET_ENCRYPTED", &token[..40]),
                ("ENCRYPTION_KEY", KEY),
            ]),
            env(&[
                ("GATEIO_API_KEY", "k"),
                ("GATEIO_API_SECRET", "topsecretvalue"),
                ("GATEIO_API_SECRET_ENCRYPTED", &token),
            ]),
        ];
        for lookup in cases {
            let err = credentials(Venue::GateIo, lookup).unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                for material in ["topsecretvalue", KEY, wrong.as_str(), &token[..20], "bad-key"] {
                    assert!(!shown.contains(material), "{shown} shows {material}");
                }
            }
        }
    }
}
