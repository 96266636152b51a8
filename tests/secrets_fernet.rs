//! Fernet compatibility with Python's `cryptography.fernet`: tokens it made decrypt,
//! tokens we make with its timestamp and IV are identical to its own, and altered
//! tokens or the wrong key are refused. The vectors and how they were made are in
//! `tests/data/fernet_vectors.json` (generator: `tests/data/fernet_vectors.py`).

use std::time::Duration;

use arb::secrets::{self, FernetError, FernetKey};
use base64::Engine as _;
use pipeline::types::Venue;
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fernet_vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"))
}

#[test]
fn decrypts_tokens_made_by_python() {
    let doc = vectors();
    let all: Vec<&Value> =
        doc["valid"].as_array().unwrap().iter().chain(doc["exact"].as_array().unwrap()).collect();
    assert!(all.len() >= 10);
    for v in all {
        let key = FernetKey::parse(field(v, "key")).unwrap();
        let plain = key.decrypt(field(v, "token"), None).unwrap_or_else(|e| panic!("{e}: {v}"));
        assert_eq!(*plain, hex(field(v, "plaintext_hex")), "{v}");
        // Padding is optional on the way in.
        let unpadded = field(v, "token").trim_end_matches('=');
        assert_eq!(*key.decrypt(unpadded, None).unwrap(), hex(field(v, "plaintext_hex")));
    }
}

#[test]
fn encrypts_byte_for_byte_like_python() {
    for v in vectors()["exact"].as_array().unwrap() {
        let key = FernetKey::parse(field(v, "key")).unwrap();
        let iv: [u8; 16] = hex(field(v, "iv_hex")).try_into().unwrap();
        let token = key.encrypt_with(&hex(field(v, "plaintext_hex")), v["timestamp"].as_u64().unwrap(), iv);
        assert_eq!(token, field(v, "token"));
    }
}

#[test]
fn ttl_uses_the_token_timestamp() {
    for v in vectors()["valid"].as_array().unwrap() {
        let key = FernetKey::parse(field(v, "key")).unwrap();
        let ts = v["timestamp"].as_u64().unwrap();
        let ttl = Some(Duration::from_secs(30));
        assert!(key.decrypt_at(field(v, "token"), ttl, ts + 30).is_ok());
        assert_eq!(
            key.decrypt_at(field(v, "token"), ttl, ts + 31).unwrap_err(),
            FernetError::Expired { age_s: 31, ttl_s: 30 }
        );
    }
}

#[test]
fn altered_tokens_are_refused() {
    let doc = vectors();
    let v = &doc["valid"][3];
    let key = FernetKey::parse(field(v, "key")).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE;
    let raw = b64.decode(field(v, "token")).unwrap();
    // Every byte: version, timestamp, IV, ciphertext and the MAC itself.
    for i in 0..raw.len() {
        let mut t = raw.clone();
        t[i] ^= 0x01;
        let err = key.decrypt(&b64.encode(&t), None).unwrap_err();
        let want = if i == 0 { FernetError::Malformed } else { FernetError::BadSignature };
        assert_eq!(err, want, "byte {i}");
    }
    for cut in [1, 16, 32, raw.len() - 1] {
        assert!(key.decrypt(&b64.encode(&raw[..raw.len() - cut]), None).is_err(), "cut {cut}");
    }
    let mut longer = raw.clone();
    longer.extend_from_slice(&[0; 16]);
    assert!(key.decrypt(&b64.encode(&longer), None).is_err());
    assert_eq!(key.decrypt("", None).unwrap_err(), FernetError::Malformed);
    assert_eq!(key.decrypt("gAAAAA!!", None).unwrap_err(), FernetError::Malformed);
}

#[test]
fn the_wrong_key_is_refused() {
    let doc = vectors();
    let valid = doc["valid"].as_array().unwrap();
    let (a, b) = (&valid[0], &valid[1]);
    assert_ne!(field(a, "key"), field(b, "key"));
    let key_b = FernetKey::parse(field(b, "key")).unwrap();
    assert_eq!(key_b.decrypt(field(a, "token"), None).unwrap_err(), FernetError::BadSignature);
    // Right signing half, wrong encryption half: still refused, by the MAC.
    let good = b64_key_bytes(field(a, "key"));
    let mut mixed = good.clone();
    mixed[16..].copy_from_slice(&b64_key_bytes(field(b, "key"))[16..]);
    let mixed = FernetKey::parse(&base64::engine::general_purpose::URL_SAFE.encode(&mixed)).unwrap();
    assert!(mixed.decrypt(field(a, "token"), None).is_err());
}

fn b64_key_bytes(key: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE.decode(key).unwrap()
}

#[test]
fn credentials_from_python_tokens_never_show_in_debug() {
    let doc = vectors();
    let v = &doc["exact"][3];
    let secret = String::from_utf8(hex(field(v, "plaintext_hex"))).unwrap();
    let env = [
        ("ENCRYPTION_KEY", field(v, "key").to_owned()),
        ("MEXC_API_KEY", "mx0public".to_owned()),
        ("MEXC_API_SECRET_ENCRYPTED", field(v, "token").to_owned()),
    ];
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let loaded = secrets::credentials(Venue::Mexc, lookup).unwrap().expect("credentials");
    assert_eq!(loaded.credentials.api_key, "mx0public");
    // The secret is really there: it signs like a plain one.
    let plain = adapters::auth::Secret::new(secret.clone());
    assert_eq!(
        adapters::auth::hmac_sha256_hex(&loaded.credentials.api_secret, &[b"msg"]),
        adapters::auth::hmac_sha256_hex(&plain, &[b"msg"])
    );
    for shown in [
        format!("{loaded:?}"),
        format!("{loaded:#?}"),
        format!("{:?}", loaded.credentials),
        format!("{}", loaded.credentials.api_secret),
        format!("{:?}", FernetKey::parse(field(v, "key")).unwrap()),
    ] {
        assert!(!shown.contains(&secret), "{shown}");
        assert!(!shown.contains(field(v, "key")), "{shown}");
    }
}
