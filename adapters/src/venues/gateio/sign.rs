//! Gate.io API v4 request signing: REST, WebSocket channel auth, WebSocket trading API
//! login. All three are lowercase hex HMAC-SHA512 with the API secret; they differ only in
//! the string that is signed. Timestamps are unix seconds.

use crate::auth::{Credentials, Decimal, Hex128, Secret, hmac_sha512_hex, push_json_str, sha512_hex};

/// REST signature over
/// `METHOD\n/api/v4/path\nquery\nhex(SHA512(body))\ntimestamp`.
///
/// `path` includes the `/api/v4` prefix; `query` is the raw query string exactly as sent
/// (without `?`, empty if none); `body` is the exact request body (empty for GET/DELETE).
pub fn rest_signature(
    secret: &Secret,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    timestamp_s: u64,
) -> Hex128 {
    let body_hash = sha512_hex(body);
    let ts = Decimal::new(timestamp_s);
    hmac_sha512_hex(
        secret,
        &[
            method.as_bytes(),
            b"\n",
            path.as_bytes(),
            b"\n",
            query.as_bytes(),
            b"\n",
            body_hash.as_str().as_bytes(),
            b"\n",
            ts.as_str().as_bytes(),
        ],
    )
}

/// The authentication headers of one signed REST request: `KEY`, `Timestamp`, `SIGN`.
#[derive(Clone, Copy, Debug)]
pub struct RestAuth<'a> {
    pub key: &'a str,
    pub timestamp: Decimal,
    pub sign: Hex128,
}

impl<'a> RestAuth<'a> {
    pub fn new(
        creds: &'a Credentials,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        timestamp_s: u64,
    ) -> Self {
        RestAuth {
            key: &creds.api_key,
            timestamp: Decimal::new(timestamp_s),
            sign: rest_signature(&creds.api_secret, method, path, query, body, timestamp_s),
        }
    }

    /// `(name, value)` pairs ready for an HTTP request.
    pub fn headers(&self) -> [(&'static str, &str); 3] {
        [("KEY", self.key), ("Timestamp", self.timestamp.as_str()), ("SIGN", self.sign.as_str())]
    }
}

/// Signature of a private channel (un)subscription:
/// HMAC-SHA512 over `channel=<channel>&event=<event>&time=<time>`.
pub fn ws_channel_signature(secret: &Secret, channel: &str, event: &str, time_s: u64) -> Hex128 {
    let ts = Decimal::new(time_s);
    hmac_sha512_hex(
        secret,
        &[b"channel=", channel.as_bytes(), b"&event=", event.as_bytes(), b"&time=", ts.as_str().as_bytes()],
    )
}

/// Appends the `auth` object of a private channel request,
/// `{"method":"api_key","KEY":"…","SIGN":"…"}`, to `out`.
pub fn push_ws_channel_auth(out: &mut String, creds: &Credentials, channel: &str, event: &str, time_s: u64) {
    let sign = ws_channel_signature(&creds.api_secret, channel, event, time_s);
    out.push_str(r#"{"method":"api_key","KEY":"#);
    push_json_str(out, &creds.api_key);
    out.push_str(r#","SIGN":""#);
    out.push_str(sign.as_str());
    out.push_str("\"}");
}

/// Signature of a WebSocket trading API request:
/// HMAC-SHA512 over `"api\n" + channel + "\n" + req_param + "\n" + timestamp`.
/// For `spot.login` / `futures.login`, `req_param` is the empty string.
pub fn ws_api_signature(secret: &Secret, channel: &str, req_param: &str, timestamp_s: u64) -> Hex128 {
    let ts = Decimal::new(timestamp_s);
    hmac_sha512_hex(
        secret,
        &[b"api\n", channel.as_bytes(), b"\n", req_param.as_bytes(), b"\n", ts.as_str().as_bytes()],
    )
}

/// The login request of the WebSocket trading API on `channel` (`spot.login` or
/// `futures.login`), sent once per connection before any order request.
pub fn ws_login_request(creds: &Credentials, channel: &str, req_id: &str, timestamp_s: u64) -> String {
    let ts = Decimal::new(timestamp_s);
    let sign = ws_api_signature(&creds.api_secret, channel, "", timestamp_s);
    let mut out = String::with_capacity(320);
    out.push_str(r#"{"time":"#);
    out.push_str(ts.as_str());
    out.push_str(r#","channel":"#);
    push_json_str(&mut out, channel);
    out.push_str(r#","event":"api","payload":{"api_key":"#);
    push_json_str(&mut out, &creds.api_key);
    out.push_str(r#","signature":""#);
    out.push_str(sign.as_str());
    out.push_str(r#"","timestamp":""#);
    out.push_str(ts.as_str());
    out.push_str(r#"","req_id":"#);
    push_json_str(&mut out, req_id);
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("key", Secret::new("secret"))
    }

    // Expected values below were computed independently with python3's hmac/hashlib over
    // the pre-image written next to each; the doc vectors are in tests/signature_vectors.rs.

    #[test]
    fn ws_channel_signature_known_answer() {
        // HMAC-SHA512("secret", "channel=spot.orders&event=subscribe&time=1611541000")
        let sign = ws_channel_signature(&Secret::new("secret"), "spot.orders", "subscribe", 1_611_541_000);
        assert_eq!(
            sign.as_str(),
            "833a44bb4cd083e47bc1fec22b5c12e8b98c30fc7a9f4a1e52800dcfdff9a572\
             40d7c10f1e9553dee020011fa5d02cdc7d1155a380cc4dcbd45f8fb525e41f4b"
        );
    }

    #[test]
    fn ws_login_signature_known_answer() {
        // HMAC-SHA512("secret", "api\nspot.login\n\n1681984544")
        let sign = ws_api_signature(&Secret::new("secret"), "spot.login", "", 1_681_984_544);
        assert_eq!(
            sign.as_str(),
            "3e133322aeffb544225b263d43fc10fc8e6b9b14126a09e4c945363d60afc591\
             c441f08c3eff1770c1331171386501f6843560f889840e87ba1f3d99a80daffa"
        );
    }

    #[test]
    fn rest_auth_headers_carry_key_timestamp_and_sign() {
        let creds = creds();
        let auth = RestAuth::new(&creds, "GET", "/api/v4/spot/accounts", "", b"", 1_541_993_715);
        let h = auth.headers();
        assert_eq!(h[0], ("KEY", "key"));
        assert_eq!(h[1], ("Timestamp", "1541993715"));
        assert_eq!(h[2].0, "SIGN");
        assert_eq!(h[2].1.len(), 128);
    }

    #[test]
    fn channel_auth_and_login_are_json() {
        let creds = creds();
        let mut auth = String::new();
        push_ws_channel_auth(&mut auth, &creds, "spot.orders", "subscribe", 1_611_541_000);
        let sign = ws_channel_signature(&creds.api_secret, "spot.orders", "subscribe", 1_611_541_000);
        assert_eq!(auth, format!(r#"{{"method":"api_key","KEY":"key","SIGN":"{sign}"}}"#));

        let login = ws_login_request(&creds, "futures.login", "r-1", 1_681_984_544);
        let sign = ws_api_signature(&creds.api_secret, "futures.login", "", 1_681_984_544);
        assert_eq!(
            login,
            format!(
                r#"{{"time":1681984544,"channel":"futures.login","event":"api","payload":{{"api_key":"key","signature":"{sign}","timestamp":"1681984544","req_id":"r-1"}}}}"#
            )
        );
    }
}
