//! MEXC request signing: spot v3 REST (including the listen-key calls of the private
//! stream) and futures (contract) REST and WebSocket login. All are lowercase hex
//! HMAC-SHA256 with the API secret; timestamps are unix milliseconds.

use crate::auth::{Credentials, Decimal, Hex64, Secret, hmac_sha256_hex, push_json_str};

/// Header that carries the access key on signed spot requests.
pub const SPOT_API_KEY_HEADER: &str = "X-MEXC-APIKEY";
/// Path of the spot user-data-stream (listen key) calls: `POST` creates a key, `PUT`
/// keeps it alive (at most every 30 min), `DELETE` closes it.
pub const USER_DATA_STREAM_PATH: &str = "/api/v3/userDataStream";

/// Spot signature over totalParams = `query` immediately followed by `body` (no `&`
/// between them), both exactly as sent.
pub fn spot_signature(secret: &Secret, query: &str, body: &str) -> Hex64 {
    hmac_sha256_hex(secret, &[query.as_bytes(), body.as_bytes()])
}

/// The complete signed spot query string for the practical form where every parameter
/// travels in the URL and the body is empty:
/// `params&recvWindow=<w>&timestamp=<t>&signature=<hex>`.
///
/// `params` is already URL-encoded, without `?`, possibly empty.
pub fn spot_signed_query(
    secret: &Secret,
    params: &str,
    recv_window_ms: Option<u32>,
    timestamp_ms: u64,
) -> String {
    let mut query = String::with_capacity(params.len() + 112);
    query.push_str(params);
    if let Some(window) = recv_window_ms {
        push_param(&mut query, "recvWindow", Decimal::new(u64::from(window)).as_str());
    }
    push_param(&mut query, "timestamp", Decimal::new(timestamp_ms).as_str());
    let signature = spot_signature(secret, &query, "");
    push_param(&mut query, "signature", signature.as_str());
    query
}

/// The signed query of a user-data-stream call: no listen key to create one, the key to
/// keep it alive (`PUT`) or close it (`DELETE`).
pub fn user_data_stream_query(
    secret: &Secret,
    listen_key: Option<&str>,
    recv_window_ms: Option<u32>,
    timestamp_ms: u64,
) -> String {
    let params = listen_key.map(|key| format!("listenKey={key}")).unwrap_or_default();
    spot_signed_query(secret, &params, recv_window_ms, timestamp_ms)
}

fn push_param(query: &mut String, name: &str, value: &str) {
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(name);
    query.push('=');
    query.push_str(value);
}

/// Futures signature: HMAC-SHA256 over `access_key + req_time + param_string`, where
/// `param_string` is [`futures_param_string`] for GET/DELETE and the raw JSON body, exactly
/// as sent, for POST.
pub fn futures_signature(secret: &Secret, access_key: &str, req_time_ms: u64, param_string: &str) -> Hex64 {
    let ts = Decimal::new(req_time_ms);
    hmac_sha256_hex(secret, &[access_key.as_bytes(), ts.as_str().as_bytes(), param_string.as_bytes()])
}

/// The GET/DELETE parameter string of a futures request: `k=v` pairs sorted by key and
/// joined with `&` (leave out parameters whose value is null).
pub fn futures_param_string(params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (name, value) in sorted {
        push_param(&mut out, name, value);
    }
    out
}

/// The authentication headers of a futures request: `ApiKey`, `Request-Time`,
/// `Signature` (plus `Content-Type: application/json`, which the caller adds).
#[derive(Clone, Copy, Debug)]
pub struct FuturesAuth<'a> {
    pub api_key: &'a str,
    pub request_time: Decimal,
    pub signature: Hex64,
}

impl<'a> FuturesAuth<'a> {
    pub fn new(creds: &'a Credentials, req_time_ms: u64, param_string: &str) -> Self {
        FuturesAuth {
            api_key: &creds.api_key,
            request_time: Decimal::new(req_time_ms),
            signature: futures_signature(&creds.api_secret, &creds.api_key, req_time_ms, param_string),
        }
    }

    /// `(name, value)` pairs ready for an HTTP request.
    pub fn headers(&self) -> [(&'static str, &str); 3] {
        [
            ("ApiKey", self.api_key),
            ("Request-Time", self.request_time.as_str()),
            ("Signature", self.signature.as_str()),
        ]
    }
}

/// The futures WebSocket login request,
/// `{"method":"login","param":{"apiKey":…,"reqTime":…,"signature":…}}`, signed like a
/// request with an empty parameter string.
pub fn futures_ws_login(creds: &Credentials, req_time_ms: u64) -> String {
    let ts = Decimal::new(req_time_ms);
    let signature = futures_signature(&creds.api_secret, &creds.api_key, req_time_ms, "");
    let mut out = String::with_capacity(192);
    out.push_str(r#"{"method":"login","param":{"apiKey":"#);
    push_json_str(&mut out, &creds.api_key);
    out.push_str(r#","reqTime":""#);
    out.push_str(ts.as_str());
    out.push_str(r#"","signature":""#);
    out.push_str(signature.as_str());
    out.push_str("\"}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values below were computed independently with python3's hmac/hashlib over
    // the pre-image written next to each; the doc vectors are in tests/signature_vectors.rs.

    const DOC_SECRET: &str = "45d0b3c26f2644f19bfb98b07741b2f5";

    #[test]
    fn signed_query_matches_doc_example() {
        let query = spot_signed_query(
            &Secret::new(DOC_SECRET),
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11",
            Some(5000),
            1_644_489_390_087,
        );
        assert_eq!(
            query,
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087\
             &signature=fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"
        );
    }

    #[test]
    fn listen_key_queries() {
        let secret = Secret::new(DOC_SECRET);
        // HMAC-SHA256(secret, "recvWindow=5000&timestamp=1644489390087")
        assert_eq!(
            user_data_stream_query(&secret, None, Some(5000), 1_644_489_390_087),
            "recvWindow=5000&timestamp=1644489390087\
             &signature=1103ce19f47c037fc03b8b9d674e10ee76e53272851eb2a3b10321cd353fb9bf"
        );
        // HMAC-SHA256(secret, "listenKey=pqia…a1&recvWindow=5000&timestamp=1644489390087")
        assert_eq!(
            user_data_stream_query(
                &secret,
                Some("pqia91ma19a5s61cv6a81va65sdf19v8a65a1"),
                Some(5000),
                1_644_489_390_087
            ),
            "listenKey=pqia91ma19a5s61cv6a81va65sdf19v8a65a1&recvWindow=5000&timestamp=1644489390087\
             &signature=0ce319adfe0b2666926285b8172c9e45751366edb256c2c8199965ac0ee798bf"
        );
    }

    #[test]
    fn futures_get_signs_sorted_params() {
        let creds = Credentials::new("mx0key", Secret::new("secret"));
        let params = futures_param_string(&[("symbol", "BTC_USDT"), ("category", "1")]);
        assert_eq!(params, "category=1&symbol=BTC_USDT");
        // HMAC-SHA256("secret", "mx0key" + "1611038237237" + "category=1&symbol=BTC_USDT")
        let auth = FuturesAuth::new(&creds, 1_611_038_237_237, &params);
        assert_eq!(
            auth.headers(),
            [
                ("ApiKey", "mx0key"),
                ("Request-Time", "1611038237237"),
                ("Signature", "5863332543a48b69ae9916874895b55116ebbec66270cfacf54cdbd26cf719d5"),
            ]
        );
    }

    #[test]
    fn futures_post_signs_raw_body() {
        let body = r#"{"symbol":"BTC_USDT","price":"60000","vol":1,"side":1,"type":1,"openType":2}"#;
        let sign = futures_signature(&Secret::new("secret"), "mx0key", 1_611_038_237_237, body);
        assert_eq!(sign.as_str(), "c2785055f309fbde7aec32e17b25aabf650a3fe5200644e5cbe26f3dd941d788");
    }

    #[test]
    fn futures_ws_login_request() {
        let creds = Credentials::new("mx0key", Secret::new("secret"));
        // HMAC-SHA256("secret", "mx0key" + "1611038237237")
        assert_eq!(
            futures_ws_login(&creds, 1_611_038_237_237),
            r#"{"method":"login","param":{"apiKey":"mx0key","reqTime":"1611038237237","signature":"cc240337c4f162489540e56c7c1ae49926a45e44ff10d12182821b41ff9975b1"}}"#
        );
    }
}
