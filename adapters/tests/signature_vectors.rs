//! Every known-answer vector in `test_data/signature_vectors.json` (see
//! `test_data/SOURCES.md`) checked against the signing functions. A vector of a kind this
//! test does not know fails the test, so a new vector cannot be skipped silently.

use adapters::auth::{Secret, hmac_sha256_hex, hmac_sha512_hex, sha512_hex};
use adapters::venues::{gateio, mexc};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/signature_vectors.json");
    let text = std::fs::read_to_string(path).expect("read signature vectors");
    serde_json::from_str(&text).expect("parse signature vectors")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn secret_of(v: &Value) -> Secret {
    match (v["secret"].as_str(), v["secret_hex"].as_str()) {
        (Some(s), _) => Secret::new(s),
        (None, Some(h)) => Secret::new(unhex(h)),
        (None, None) => panic!("vector without a secret: {v}"),
    }
}

fn str_field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("vector without {name}: {v}"))
}

#[test]
fn every_vector_in_the_file_reproduces() {
    let all = vectors();
    assert!(all.len() >= 10, "expected the full vector file, got {} entries", all.len());
    // Request bodies whose SHA-512 the Gate REST vectors reference.
    let bodies: Vec<&str> =
        all.iter().filter(|v| v["algorithm"] == "SHA512 (no key)").map(|v| str_field(v, "payload")).collect();

    let mut checked = 0;
    for v in &all {
        let venue = str_field(v, "venue");
        let algorithm = str_field(v, "algorithm");
        let payload = str_field(v, "payload");
        let expected = str_field(v, "expected_hex");
        match (venue, algorithm) {
            ("mexc-spot-v3", "HMAC-SHA256") => {
                let secret = secret_of(v);
                assert_eq!(mexc::sign::spot_signature(&secret, payload, "").as_str(), expected, "{v}");
                // totalParams is query then body with nothing between: any split signs the same.
                let (query, body) = payload.split_at(payload.len() / 2);
                assert_eq!(mexc::sign::spot_signature(&secret, query, body).as_str(), expected, "{v}");
            }
            ("gate-v4-rest", "HMAC-SHA512") => {
                let secret = secret_of(v);
                assert_eq!(hmac_sha512_hex(&secret, &[payload.as_bytes()]).as_str(), expected, "{v}");
                let lines: Vec<&str> = payload.split('\n').collect();
                let [method, path, query, body_hash, ts] = lines[..] else { panic!("bad Gate payload {v}") };
                let body = bodies
                    .iter()
                    .chain(std::iter::once(&""))
                    .find(|b| sha512_hex(b.as_bytes()).as_str() == body_hash)
                    .unwrap_or_else(|| panic!("no body in the file hashes to {body_hash}"));
                let ts: u64 = ts.parse().expect("timestamp");
                let sign = gateio::sign::rest_signature(&secret, method, path, query, body.as_bytes(), ts);
                assert_eq!(sign.as_str(), expected, "{v}");
            }
            ("gate-v4-rest", "SHA512 (no key)") => {
                assert_eq!(sha512_hex(payload.as_bytes()).as_str(), expected, "{v}");
            }
            ("rfc4231", "HMAC-SHA256") => {
                assert_eq!(hmac_sha256_hex(&secret_of(v), &[payload.as_bytes()]).as_str(), expected, "{v}");
            }
            ("rfc4231", "HMAC-SHA512") => {
                assert_eq!(hmac_sha512_hex(&secret_of(v), &[payload.as_bytes()]).as_str(), expected, "{v}");
            }
            other => panic!("no test for vector kind {other:?}: {v}"),
        }
        checked += 1;
    }
    assert_eq!(checked, all.len());
}
