//! Server-side signature checks of the simulated venues, written from the venues'
//! documentation independently of the engine's client-side signer (two independent
//! implementations catch each other's bugs).
//!
//! - Gate REST: `SIGN = hex(HMAC-SHA512(secret, METHOD\nPATH\nQUERY\nhex(SHA512(body))\nTIMESTAMP))`,
//!   headers `KEY`, `Timestamp` (seconds, may carry a fraction), `SIGN`; |skew| <= 60 s.
//! - Gate WebSocket channels: `hex(HMAC-SHA512(secret, "channel=C&event=E&time=T"))`.
//! - Gate WebSocket API login: `hex(HMAC-SHA512(secret, "api\nCHANNEL\nREQ_PARAM\nTIMESTAMP"))`
//!   with REQ_PARAM empty for login.
//! - MEXC spot: `hex(HMAC-SHA256(secret, query_without_signature + body))`, header
//!   `X-MEXC-APIKEY`, `timestamp` ms with `recvWindow` (default 5000, at most 60000).
//! - MEXC futures: `hex(HMAC-SHA256(secret, ApiKey + Request-Time + params))`, params the
//!   sorted query for GET/DELETE or the raw body for POST; |skew| <= Recv-Window (10 s).

use ring::{digest, hmac};

/// An API secret; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SimSecret(String);

impl SimSecret {
    pub fn new(s: impl Into<String>) -> Self {
        SimSecret(s.into())
    }

    /// The secret text, for the places that must show it (the `arb sim` handshake line).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SimSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimSecret(<redacted>)")
    }
}

/// An account's API key and secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub api_key: String,
    pub api_secret: SimSecret,
}

pub fn sha512_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA512, data).as_ref())
}

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Hex HMAC, for tests and for the sim's own clients.
pub fn hmac_hex(alg: hmac::Algorithm, secret: &str, msg: &[u8]) -> String {
    let key = hmac::Key::new(alg, secret.as_bytes());
    hex(hmac::sign(&key, msg).as_ref())
}

/// Constant-time check of a hex signature (either case).
fn verify(alg: hmac::Algorithm, secret: &str, msg: &[u8], sig_hex: &str) -> bool {
    let Some(sig) = unhex(&sig_hex.to_ascii_lowercase()) else { return false };
    hmac::verify(&hmac::Key::new(alg, secret.as_bytes()), msg, &sig).is_ok()
}

/// Why a Gate request is not authenticated (each maps to the venue's label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateAuthError {
    MissingHeader,
    InvalidKey,
    Expired,
    BadSignature,
}

impl GateAuthError {
    /// The venue's label and message.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            GateAuthError::MissingHeader => {
                ("MISSING_REQUIRED_HEADER", "Missing required header: KEY, Timestamp, SIGN")
            }
            GateAuthError::InvalidKey => ("INVALID_KEY", "Invalid key provided"),
            GateAuthError::Expired => {
                ("REQUEST_EXPIRED", "gap between request Timestamp and server time exceeds 60")
            }
            GateAuthError::BadSignature => ("INVALID_SIGNATURE", "Signature mismatch"),
        }
    }
}

/// Checks a Gate REST request. `path` includes `/api/v4`; `query` is raw as sent.
#[allow(clippy::too_many_arguments)]
pub fn verify_gate_rest(
    creds: &Credentials,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    key: Option<&str>,
    timestamp: Option<&str>,
    sign: Option<&str>,
    now_ms: u64,
) -> Result<(), GateAuthError> {
    let (Some(key), Some(ts), Some(sign)) = (key, timestamp, sign) else {
        return Err(GateAuthError::MissingHeader);
    };
    if key != creds.api_key {
        return Err(GateAuthError::InvalidKey);
    }
    let ts_ms = pipeline::types::decimal::parse_scaled(ts.as_bytes(), 3, pipeline::types::Rounding::Floor)
        .map_err(|_| GateAuthError::Expired)?;
    if (ts_ms - now_ms as i128).abs() > 60_000 {
        return Err(GateAuthError::Expired);
    }
    let body_hash = sha512_hex(body);
    let signed = |q: &str| {
        let msg = format!("{method}\n{path}\n{q}\n{body_hash}\n{ts}");
        verify(hmac::HMAC_SHA512, creds.api_secret.expose(), msg.as_bytes(), sign)
    };
    // The query as sent, or percent-decoded (clients sign the raw values and send them encoded).
    let decoded = || {
        let pairs = super::server::parse_pairs(query);
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    };
    if signed(query) || (query.contains('%') && signed(&decoded())) {
        Ok(())
    } else {
        Err(GateAuthError::BadSignature)
    }
}

/// Checks the `auth` of a Gate private channel subscription.
pub fn verify_gate_channel(
    creds: &Credentials,
    channel: &str,
    event: &str,
    time: i64,
    key: &str,
    sign: &str,
) -> bool {
    key == creds.api_key
        && verify(
            hmac::HMAC_SHA512,
            creds.api_secret.expose(),
            format!("channel={channel}&event={event}&time={time}").as_bytes(),
            sign,
        )
}

/// Checks a Gate WebSocket API signature over `req_param` (empty for login).
pub fn verify_gate_api(
    creds: &Credentials,
    channel: &str,
    req_param: &str,
    timestamp: &str,
    key: &str,
    sign: &str,
) -> bool {
    key == creds.api_key
        && verify(
            hmac::HMAC_SHA512,
            creds.api_secret.expose(),
            format!("api\n{channel}\n{req_param}\n{timestamp}").as_bytes(),
            sign,
        )
}

/// Why a MEXC request is not authenticated: the venue's code and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MexcAuthError {
    MissingSignature,
    InvalidKey,
    Expired,
    RecvWindow,
    BadSignature,
}

impl MexcAuthError {
    /// Spot code and message.
    pub fn spot(self) -> (i64, &'static str) {
        match self {
            MexcAuthError::MissingSignature => {
                (700004, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
            }
            MexcAuthError::InvalidKey => (10072, "Api key info invalid"),
            MexcAuthError::Expired => (700003, "Timestamp for this request is outside of the recvWindow."),
            MexcAuthError::RecvWindow => (700005, "recvWindow must less than 60000"),
            MexcAuthError::BadSignature => (700002, "Signature for this request is not valid."),
        }
    }

    /// Futures code and message.
    pub fn futures(self) -> (i64, &'static str) {
        match self {
            MexcAuthError::MissingSignature | MexcAuthError::InvalidKey => (401, "Not logged in!"),
            MexcAuthError::Expired | MexcAuthError::RecvWindow => (513, "Invalid request!"),
            MexcAuthError::BadSignature => (602, "Signature verification failed!"),
        }
    }
}

/// Checks a MEXC spot signed request: `query` raw as sent, `body` raw.
pub fn verify_mexc_spot(
    creds: &Credentials,
    query: &str,
    body: &str,
    api_key: Option<&str>,
    now_ms: u64,
) -> Result<(), MexcAuthError> {
    let Some(key) = api_key else { return Err(MexcAuthError::InvalidKey) };
    if key != creds.api_key {
        return Err(MexcAuthError::InvalidKey);
    }
    // The signature is the `signature` parameter, in the query or in a form body; the
    // signed text is everything else as sent.
    let strip = |s: &str| -> (String, Option<String>) {
        let mut kept = Vec::new();
        let mut sig = None;
        for part in s.split('&') {
            match part.strip_prefix("signature=") {
                Some(v) => sig = Some(v.to_owned()),
                None => kept.push(part),
            }
        }
        (kept.join("&"), sig)
    };
    let (q, sig_q) = strip(query);
    let (b, sig_b) = if body.contains("signature=") { strip(body) } else { (body.to_owned(), None) };
    let Some(sig) = sig_q.or(sig_b).filter(|s| !s.is_empty()) else {
        return Err(MexcAuthError::MissingSignature);
    };
    let total = format!("{q}{b}");
    let params = super::server::parse_pairs(&total.replace('?', "&"));
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let ts: i64 = get("timestamp").and_then(|t| t.parse().ok()).ok_or(MexcAuthError::Expired)?;
    let window: i64 = match get("recvWindow") {
        Some(w) => w.parse().map_err(|_| MexcAuthError::RecvWindow)?,
        None => 5_000,
    };
    if window > 60_000 {
        return Err(MexcAuthError::RecvWindow);
    }
    let now = now_ms as i64;
    if !(ts < now + 1_000 && now - ts <= window) {
        return Err(MexcAuthError::Expired);
    }
    if verify(hmac::HMAC_SHA256, creds.api_secret.expose(), total.as_bytes(), &sig) {
        Ok(())
    } else {
        Err(MexcAuthError::BadSignature)
    }
}

/// Checks a MEXC futures signed request.
#[allow(clippy::too_many_arguments)]
pub fn verify_mexc_futures(
    creds: &Credentials,
    method: &str,
    query: &str,
    body: &str,
    api_key: Option<&str>,
    request_time: Option<&str>,
    signature: Option<&str>,
    recv_window: Option<&str>,
    now_ms: u64,
) -> Result<(), MexcAuthError> {
    let (Some(key), Some(rt), Some(sig)) = (api_key, request_time, signature) else {
        return Err(MexcAuthError::MissingSignature);
    };
    if key != creds.api_key {
        return Err(MexcAuthError::InvalidKey);
    }
    let t: i64 = rt.parse().map_err(|_| MexcAuthError::Expired)?;
    let window: i64 = match recv_window {
        Some(w) => w.parse::<i64>().map_err(|_| MexcAuthError::RecvWindow)? * 1000,
        None => 10_000,
    };
    if (now_ms as i64 - t).abs() > window.min(60_000) {
        return Err(MexcAuthError::Expired);
    }
    let params = if method == "POST" {
        body.to_owned()
    } else {
        let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        pairs.sort_by(|a, b| a.split('=').next().cmp(&b.split('=').next()));
        pairs.join("&")
    };
    let msg = format!("{key}{rt}{params}");
    if verify(hmac::HMAC_SHA256, creds.api_secret.expose(), msg.as_bytes(), sig) {
        Ok(())
    } else {
        Err(MexcAuthError::BadSignature)
    }
}

/// Checks a MEXC futures WebSocket login: `hex(HMAC-SHA256(secret, apiKey + reqTime))`.
pub fn verify_mexc_login(creds: &Credentials, api_key: &str, req_time: &str, signature: &str) -> bool {
    api_key == creds.api_key
        && verify(
            hmac::HMAC_SHA256,
            creds.api_secret.expose(),
            format!("{api_key}{req_time}").as_bytes(),
            signature,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(key: &str, secret: &str) -> Credentials {
        Credentials { api_key: key.into(), api_secret: SimSecret::new(secret) }
    }

    #[test]
    fn gate_doc_vectors_verify() {
        // protocols.md G / signature_vectors.json: Gate REST GET and POST examples.
        let c = creds("key", "secret");
        let now = 1_541_993_715_000;
        let sig = "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a";
        let ok = verify_gate_rest(
            &c,
            "GET",
            "/api/v4/futures/orders",
            "contract=BTC_USD&status=finished&limit=50",
            b"",
            Some("key"),
            Some("1541993715"),
            Some(sig),
            now,
        );
        assert_eq!(ok, Ok(()));
        let body = br#"{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}"#;
        let sig = "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541fc4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0";
        let ok = verify_gate_rest(
            &c,
            "POST",
            "/api/v4/futures/orders",
            "",
            body,
            Some("key"),
            Some("1541993715"),
            Some(sig),
            now,
        );
        assert_eq!(ok, Ok(()));
        let bad = verify_gate_rest(
            &c,
            "POST",
            "/api/v4/futures/orders",
            "",
            b"{}",
            Some("key"),
            Some("1541993715"),
            Some(sig),
            now,
        );
        assert_eq!(bad, Err(GateAuthError::BadSignature));
        let late = verify_gate_rest(
            &c,
            "POST",
            "/api/v4/futures/orders",
            "",
            body,
            Some("key"),
            Some("1541993715"),
            Some(sig),
            now + 61_000,
        );
        assert_eq!(late, Err(GateAuthError::Expired));
        assert_eq!(
            sha512_hex(b""),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
    }

    #[test]
    fn mexc_doc_vector_verifies() {
        // MEXC spot doc Example 2.
        let c = creds("k", "45d0b3c26f2644f19bfb98b07741b2f5");
        let q =
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087";
        let sig = "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a";
        let full = format!("{q}&signature={sig}");
        assert_eq!(verify_mexc_spot(&c, &full, "", Some("k"), 1_644_489_390_087 + 100), Ok(()));
        assert_eq!(
            verify_mexc_spot(&c, &full, "", Some("k"), 1_644_489_390_087 + 6_000),
            Err(MexcAuthError::Expired)
        );
        assert_eq!(
            verify_mexc_spot(&c, q, "", Some("k"), 1_644_489_390_087),
            Err(MexcAuthError::MissingSignature)
        );
        let tampered = full.replace("price=11", "price=12");
        assert_eq!(
            verify_mexc_spot(&c, &tampered, "", Some("k"), 1_644_489_390_087),
            Err(MexcAuthError::BadSignature)
        );
        // Example 3: query and body concatenated without '&'.
        let q3 = "symbol=BTCUSDT&side=BUY&type=LIMIT";
        let b3 = "quantity=1&price=11&recvWindow=5000&timestamp=1644489390087";
        let sig3 = "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592";
        let q3s = format!("{q3}&signature={sig3}");
        // The signature sits in the query here, so the signed text is q3 + body.
        assert_eq!(verify_mexc_spot(&c, &q3s, b3, Some("k"), 1_644_489_390_087), Ok(()));
    }

    #[test]
    fn secrets_never_print() {
        let c = creds("k", "very-secret");
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
